"""`cache` and `invalidate`: what elaboration makes of the shipped specs' declarations
(tag values and drop conditions evaluated on cases worked out from the manuals), the
toy spec, and the checks that refuse what the cache models cannot do."""
from __future__ import annotations

from pathlib import Path

import pytest

from codegen import ir
from codegen.frontend.pipeline import compile_spec
from codegen.ir.expr import Expr, evaluate
from tests.snippets import WALK, compile_text, edit, loc, where

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tops():
    return {name: compile_spec(ROOT / "specs" / f"{name}.vspec").top
            for name in ("x86_64_paging", "amd_npt", "intel_ept")}


def _eval(e: Expr, regs: dict | None = None, operands: dict | None = None, tags: dict | None = None,
          entry: dict | None = None, covered=(), leaf: dict | None = None) -> int:
    """`e` on named values: registers (whole, by name), operands, the request's tags, the
    entry's stored tags (and `global`), `leaf.F` fields; covers(X) is 1 for X in `covered`."""
    regs, operands, tags, entry, leaf = regs or {}, operands or {}, tags or {}, entry or {}, leaf or {}

    def lookup(x: Expr) -> int:
        if x.kind == "ctx":
            return (regs.get(x.name, 0) >> x.lo) & ((1 << x.width) - 1)
        table = {"operand": operands, "tag": tags, "entry": entry, "leaf": leaf, "covers": {}}[x.kind]
        if x.kind == "covers":
            return int(evaluate(x.args[0], lookup) in covered)
        return table[x.name]

    def strip(x: Expr) -> Expr:  # covers(X) -> a leaf the lookup answers
        if x.op == "call" and x.name == "covers":
            return Expr(op="ref", kind="covers", name="covers", args=(strip(x.args[0]),), width=1)
        return x.model_copy(update={"args": tuple(strip(a) for a in x.args)}) if x.args and x.op != "ref" else x

    return evaluate(strip(e), lookup)


def _event(top, name: str) -> ir.Invalidation:
    return next(v for v in top.invalidations if v.name == name)


def _drops(top, name: str, cache: str = "tlb", **kw) -> bool:
    (drop,) = [d for d in _event(top, name).drops if d.cache == cache]
    return True if drop.when is None else bool(_eval(drop.when, **kw))


# ---- x86_64_paging: SDM Vol. 3A 4.10.1, 4.10.2.4, 4.10.4.1, INVPCID
def test_x86_tlb_is_tagged_by_pcid_with_global_pages(tops):
    top = tops["x86_64_paging"]
    assert top.name == "long_mode"
    (tlb,) = [c for c in top.caches if c.holds == "translations"]
    assert (tlb.name, tlb.holds, tlb.entries, tlb.ways, tlb.sets, tlb.replace, tlb.pages) == \
        ("tlb", "translations", 64, 4, 16, "lru", "split")
    (pcid,) = tlb.tags
    # SDM 4.10.1: CR3[11:0] is the current PCID when CR4.PCIDE (bit 17) = 1, else 000H
    assert pcid.value.width == 12
    assert _eval(pcid.value, regs={"CR4": 1 << 17, "CR3": 0x12345ABC}) == 0xABC
    assert _eval(pcid.value, regs={"CR4": 0, "CR3": 0x12345ABC}) == 0
    # SDM 4.10.2.4: a global page is one whose leaf has G = 1 while CR4.PGE (bit 7) = 1
    assert tlb.global_ignores == ("pcid",)
    assert {(r.kind, r.name) for r in tlb.global_when.refs()} == {("leaf", "G"), ("ctx", "CR4")}
    assert _eval(tlb.global_when, regs={"CR4": 1 << 7}, leaf={"G": 1}) == 1
    assert _eval(tlb.global_when, regs={"CR4": 0}, leaf={"G": 1}) == 0
    assert [v.name for v in top.invalidations] == ["invlpg", "individual_address", "single_context",
                                                   "all_including_global", "all_non_global", "mov_cr3"]


def test_x86_invlpg_drops_the_page_for_the_current_pcid_and_global_entries(tops):
    top = tops["x86_64_paging"]
    page = 0x7000
    # SDM 4.10.4.1: entries for the page, of the current PCID; global ones whatever their PCID
    assert _drops(top, "invlpg", operands={"addr": page}, tags={"pcid": 5},
                  entry={"pcid": 5, "global": 0}, covered=(page,))
    assert _drops(top, "invlpg", operands={"addr": page}, tags={"pcid": 5},
                  entry={"pcid": 9, "global": 1}, covered=(page,))
    assert not _drops(top, "invlpg", operands={"addr": page}, tags={"pcid": 5},
                      entry={"pcid": 9, "global": 0}, covered=(page,))
    assert not _drops(top, "invlpg", operands={"addr": page}, tags={"pcid": 5},
                      entry={"pcid": 5, "global": 0}, covered=())


def test_x86_invpcid_types(tops):
    top = tops["x86_64_paging"]
    assert [(o.name, o.width) for o in _event(top, "individual_address").operands] == [("pcid_op", 12), ("addr", 64)]
    # type 0: that address and PCID, global translations kept
    kw = {"operands": {"pcid_op": 3, "addr": 0x5000}, "covered": (0x5000,)}
    assert _drops(top, "individual_address", entry={"pcid": 3, "global": 0}, **kw)
    assert not _drops(top, "individual_address", entry={"pcid": 3, "global": 1}, **kw)
    assert not _drops(top, "individual_address", entry={"pcid": 4, "global": 0}, **kw)
    # type 1: every non-global entry of the PCID
    assert _drops(top, "single_context", operands={"pcid_op": 3}, entry={"pcid": 3, "global": 0})
    assert not _drops(top, "single_context", operands={"pcid_op": 3}, entry={"pcid": 3, "global": 1})
    # type 2: everything; type 3: everything but global entries
    assert _event(top, "all_including_global").drops[0].when is None
    assert _drops(top, "all_non_global", entry={"pcid": 7, "global": 0})
    assert not _drops(top, "all_non_global", entry={"pcid": 7, "global": 1})


def test_x86_mov_cr3(tops):
    top = tops["x86_64_paging"]
    pcide = {"CR4": 1 << 17}
    # CR4.PCIDE = 1, bit 63 = 0: the non-global entries of the new PCID (bits 11:0) go
    assert _drops(top, "mov_cr3", regs=pcide, operands={"value": 0x9000 | 0x005}, entry={"pcid": 5, "global": 0})
    assert not _drops(top, "mov_cr3", regs=pcide, operands={"value": 0x9005}, entry={"pcid": 5, "global": 1})
    assert not _drops(top, "mov_cr3", regs=pcide, operands={"value": 0x9005}, entry={"pcid": 6, "global": 0})
    # bit 63 = 1: nothing need be invalidated
    assert not _drops(top, "mov_cr3", regs=pcide, operands={"value": 1 << 63 | 0x9005},
                      entry={"pcid": 5, "global": 0})
    # CR4.PCIDE = 0: PCID 000H whatever bits 11:0 hold (PWT, PCD), and bit 63 is not a no-flush bit
    assert _drops(top, "mov_cr3", operands={"value": 1 << 63 | 0x9018}, entry={"pcid": 0, "global": 0})
    assert not _drops(top, "mov_cr3", operands={"value": 0x9018}, entry={"pcid": 0x18, "global": 0})
    (cr3,) = _event(top, "mov_cr3").sets
    assert cr3.name == "CR3"
    assert _eval(cr3.value, operands={"value": 1 << 63 | 0x9005}) == 0x9005


# ---- amd_npt: APM 15.16
def test_npt_tlb_is_tagged_by_asid_and_pcid(tops):
    top = tops["amd_npt"]
    assert isinstance(top, ir.Nested) and top.name == "npt"
    assert "ASID" in top.context  # read by no walk: the request carries it for the tag
    (tlb,) = [c for c in top.caches if c.holds == "translations"]
    assert [t.name for t in tlb.tags] == ["asid", "pcid"]
    assert (tlb.global_ignores, tlb.replace, tlb.entries, tlb.ways) == (("pcid",), "plru", 64, 4)
    assert _eval(tlb.tags[0].value, regs={"ASID": 0x2A}) == 0x2A
    assert [v.name for v in top.invalidations] == ["invlpga", "invlpg", "mov_cr3", "vmrun"]


def test_npt_invlpga_and_vmrun_tlb_control(tops):
    top = tops["amd_npt"]
    # INVLPGA: the page in rAX, the ASID in ECX, global entries too
    kw = {"operands": {"rax": 0x3000, "ecx": 4}, "covered": (0x3000,)}
    assert _drops(top, "invlpga", entry={"asid": 4, "pcid": 1, "global": 1}, **kw)
    assert not _drops(top, "invlpga", entry={"asid": 5, "pcid": 1, "global": 0}, **kw)
    # TLB_CONTROL (APM 15.16.1): 00h nothing, 01h all ASIDs, 03h the guest's, 07h its non-global
    other, mine, mine_global = ({"asid": 8, "pcid": 0, "global": 0}, {"asid": 4, "pcid": 0, "global": 0},
                                {"asid": 4, "pcid": 0, "global": 1})
    table = {0x00: (False, False, False), 0x01: (True, True, True), 0x03: (False, True, True),
             0x07: (False, True, False)}
    for control, expected in table.items():
        ops = {"guest_asid": 4, "tlb_control": control}
        got = tuple(_drops(top, "vmrun", operands=ops, entry=e) for e in (other, mine, mine_global))
        assert got == expected, hex(control)
    (asid,) = _event(top, "vmrun").sets
    assert asid.name == "ASID"


def test_npt_guest_invalidations_stay_in_the_current_asid(tops):
    top = tops["amd_npt"]
    kw = {"operands": {"addr": 0x1000}, "covered": (0x1000,), "tags": {"asid": 2, "pcid": 0}}
    assert _drops(top, "invlpg", entry={"asid": 2, "pcid": 0, "global": 0}, **kw)
    assert not _drops(top, "invlpg", entry={"asid": 3, "pcid": 0, "global": 1}, **kw)
    assert not _drops(top, "mov_cr3", operands={"value": 0x5000}, tags={"asid": 2, "pcid": 0},
                      entry={"asid": 3, "pcid": 0, "global": 0})


# ---- intel_ept: SDM 29.4, INVEPT, INVVPID
def test_ept_tlb_tags(tops):
    top = tops["intel_ept"]
    assert top.name == "ept_2d" and "VPID" in top.context
    (tlb,) = [c for c in top.caches if c.holds == "translations"]
    tags = {t.name: t.value for t in tlb.tags}
    assert list(tags) == ["vpid", "ept", "eptrta", "pcid"]
    proc2 = 1 << 1 | 1 << 5  # enable EPT, enable VPID (SDM Table 25-7)
    eptp = 0x000F_EDCB_A987_6000 | 0x5E
    assert _eval(tags["eptrta"], regs={"PROC2": proc2, "EPTP": eptp}) == (eptp >> 12) & ((1 << 40) - 1)
    assert _eval(tags["eptrta"], regs={"PROC2": 1 << 5, "EPTP": eptp}) == 0
    # SDM 29.1: the current VPID is 0000H when "enable VPID" is 0
    assert _eval(tags["vpid"], regs={"PROC2": proc2, "VPID": 0x77}) == 0x77
    assert _eval(tags["vpid"], regs={"PROC2": 1 << 1, "VPID": 0x77}) == 0


def test_ept_invept_and_invvpid(tops):
    top = tops["intel_ept"]
    eptp = 0x1234_5000 | 0x1E
    combined = {"vpid": 1, "ept": 1, "eptrta": 0x12345, "pcid": 0, "global": 0}
    linear = dict(combined, ept=0)
    # INVEPT single-context: guest-physical and combined mappings of that EPTRTA, not linear ones
    assert _drops(top, "invept_single_context", operands={"eptp": eptp}, entry=combined)
    assert not _drops(top, "invept_single_context", operands={"eptp": eptp}, entry=linear)
    assert not _drops(top, "invept_single_context", operands={"eptp": eptp}, entry=dict(combined, eptrta=7))
    assert _drops(top, "invept_global", entry=combined) and not _drops(top, "invept_global", entry=linear)
    # INVVPID: every EPTRTA and PCID of the VPID; all-context spares VPID 0000H
    assert _drops(top, "invvpid_single_context", operands={"vpid_op": 1}, entry=dict(combined, global_=0))
    assert _drops(top, "invvpid_single_context", operands={"vpid_op": 1}, entry=linear)
    assert not _drops(top, "invvpid_all_context", entry=dict(combined, vpid=0))
    assert _drops(top, "invvpid_all_context", entry=combined)
    assert not _drops(top, "invvpid_single_context_retaining_globals", operands={"vpid_op": 1},
                      entry=dict(combined, **{"global": 1}))
    assert _drops(top, "invvpid_individual_address", operands={"vpid_op": 1, "addr": 0x8000},
                  entry=dict(combined, **{"global": 1}), covered=(0x8000,))


def test_imported_regime_keeps_its_caches_but_the_composition_has_its_own(tops):
    """The guest regime long_mode declares the x86 TLB; in the composition only the
    nested declaration's caches count (design section 1)."""
    spec = compile_spec(ROOT / "specs" / "amd_npt.vspec")
    guest = spec.regime(spec.top.guest)
    assert [c.name for c in guest.caches] == ["tlb", "psc"] and [t.name for t in guest.caches[0].tags] == ["pcid"]
    assert [t.name for t in spec.top.caches[0].tags] == ["asid", "pcid"]


# ---- the toy: not x86-shaped
def test_toy_cache_elaborates():
    top = compile_spec(ROOT / "tests" / "data" / "toy_cache.vspec").top
    (tlb,) = [c for c in top.caches if c.holds == "translations"]
    assert (tlb.entries, tlb.ways, tlb.sets, tlb.replace, tlb.pages) == (8, 8, 1, "fifo", "whole")
    assert tlb.global_ignores == ("space",)
    assert _eval(tlb.tags[0].value, regs={"SPACE": 0xAB12_3456_7801}) == 0x01
    flush_page, flush_all, switch = top.invalidations
    assert [(o.name, o.width) for o in flush_page.operands] == [("addr", 32), ("num", 8)]
    assert flush_all.operands == () and flush_all.drops[0].when is None
    refs = {(r.kind, r.name) for r in switch.drops[0].when.refs()}
    assert refs == {("entry", "global"), ("entry", "space"), ("operand", "value")}
    assert [b.name for b in switch.sets] == ["SPACE"]


# ---- checks
CACHE = """
    cache tlb holds translations {
        tag asn = CR3[3:0];
        global when leaf.RW ignores asn;
        entries 16 ways 4;
        replace lru;
    }
    invalidate flush (addr : 48) {
        drop tlb when covers(addr) && entry.asn == asn;
    }
}
"""


def _with_cache(*pairs: str) -> str:
    text = WALK[:WALK.rindex("}")] + CACHE.lstrip("\n")
    return edit(text, *pairs) if pairs else text


def test_the_snippet_compiles(tmp_path):
    path = tmp_path / "ok.vspec"
    path.write_text(_with_cache())
    top = compile_spec(path).top
    assert [c.name for c in top.caches] == ["tlb"] and [v.name for v in top.invalidations] == ["flush"]


@pytest.mark.parametrize("pairs, code, needle", [
    # a second cache, invalidation or operand of one name; a tag called `global`; an operand
    # with a tag's name
    (("}\n    invalidate", "}\n    cache tlb holds translations { entries 4 ways 4; replace lru; }\n    invalidate"),
     "E0440", "cache tlb holds translations { entries"),
    (("    invalidate flush", "    invalidate x () { drop tlb; }\n    invalidate x () { drop tlb; }\n    invalidate flush"),
     "E0440", "invalidate x () { drop tlb; }\n    invalidate flush"),
    (("(addr : 48)", "(addr : 48, addr : 8)"), "E0440", "addr : 8"),
    (("(addr : 48)", "(addr : 48, asn : 4)"), "E0440", "asn : 4"),
    (("tag asn = CR3[3:0];", "tag asn = CR3[3:0];\n        tag global = CR3[4];"), "E0440", "tag global"),
    (("tag asn = CR3[3:0];", "tag CR3 = CR3[3:0];"), "E0440", "tag CR3"),
    (("(addr : 48)", "(addr : 48, CR3 : 64)"), "E0440", "CR3 : 64)"),
    (("entries 16 ways 4", "entries 18 ways 4"), "E0442", "entries 18"),
    (("replace lru", "replace random"), "E0443", "random"),
    (("replace lru;", "replace lru;\n        pages halves;"), "E0444", "halves"),
    (("entry.asn == asn", "entry.asn == entry.pcid"), "E0446", "entry.pcid"),
    (("tag asn = CR3[3:0];", "tag asn = entry.asn;"), "E0447", "entry.asn;"),
    (("global when leaf.RW", "global when covers(CR3)"), "E0447", "covers(CR3)"),
    (("covers(addr)", "covers(addr, addr)"), "E0313", "covers(addr, addr)"),
    (("drop tlb when", "set CR9 = addr;\n        drop tlb when"), "E0448", "set CR9"),
    (("holds translations", "holds entries"), "E0441", "entries {"),
    (("        replace lru;\n", ""), "E0306", "cache tlb"),
    (("global when leaf.RW", "global when leaf.RW\n"), None, None),
])
def test_cache_checks(tmp_path, pairs, code, needle):
    text = _with_cache(*pairs)
    if code is None:
        (tmp_path / "t.vspec").write_text(text)
        compile_spec(tmp_path / "t.vspec")
        return
    bag = compile_text(tmp_path, text)
    assert bag.errors[0].code == code, bag.render()
    if needle is not None:
        assert loc(bag.errors[0]) == where(text, needle)


def test_set_of_a_register_the_translation_does_not_read(tmp_path):
    text = _with_cache("register CR3 : 64 { BASE [47:12]; }",
                       "register CR3 : 64 { BASE [47:12]; }\nregister SPARE : 64 { }",
                       "drop tlb when", "set SPARE = addr;\n        drop tlb when")
    bag = compile_text(tmp_path, text)
    assert [d.code for d in bag.errors] == ["E0448"]
    assert "not 'SPARE', which nothing of the translation reads" in bag.errors[0].message


def test_registers_a_cache_reads_join_the_context(tmp_path):
    text = _with_cache("register CR3 : 64 { BASE [47:12]; }",
                       "register CR3 : 64 { BASE [47:12]; }\nregister ASN : 64 { ID [7:0]; }",
                       "tag asn = CR3[3:0];", "tag asn = ASN.ID;", "(addr : 48)", "(addr : 48, id : 8)",
                       "drop tlb when", "set ASN = id;\n        drop tlb when")
    path = tmp_path / "t.vspec"
    path.write_text(text)
    top = compile_spec(path).top
    assert top.context == ("CR3", "ASN")
    assert top.caches[0].tags[0].value.width == 8


def test_global_when_reads_a_field_every_leaf_format_has(tmp_path):
    """The rule of a check's `leaf.F` (E0301): `big` is a leaf here and has no D."""
    text = _with_cache("regime walk {", "format big : 64 { P [0]; RW [1]; A [5]; PS [7]; ADDR [47:21]; }\nregime walk {",
                       "level 2 pd { index va[29:21]; table pde; }",
                       "level 2 pd { index va[29:21]; table pde; leaf big when PS page 2M; }",
                       "global when leaf.RW", "global when leaf.D")
    bag = compile_text(tmp_path, text)
    assert [d.code for d in bag.errors] == ["E0301"]
    assert "`global when` of cache 'tlb'" in bag.errors[0].message
    assert loc(bag.errors[0]) == where(text, "leaf.D")


def test_an_instance_reads_and_writes_its_own_registers(tmp_path):
    """`regime B = A with { CR3 = PT2; }`: its tags, drops and `set`s use PT2."""
    text = _with_cache("drop tlb when", "drop tlb when CR3[0] && ") + (
        "register PT2 : 64 { BASE [47:12]; }\n"
        "regime other = walk with { CR3 = PT2; };\n")
    text = edit(text, "    invalidate flush (addr : 48) {", "    invalidate flush (addr : 48) {\n        set CR3 = addr;")
    path = tmp_path / "t.vspec"
    path.write_text(text)
    spec = compile_spec(path)
    other = spec.regime("other")
    assert other.context == ("PT2",)
    (flush,) = other.invalidations
    assert [b.name for b in flush.sets] == ["PT2"]
    assert {r.name for r in flush.drops[0].when.refs() if r.kind == "ctx"} == {"PT2"}
    assert {r.name for r in other.caches[0].tags[0].value.refs()} == {"PT2"}


# ---- walk caches: paging-structure caches and nested TLBs (issue 15, sections 1-2)
def test_walk_caches_of_the_three_specs(tops):
    """x86: PML5E/PML4E/PDPTE/PDE caches by PCID (SDM 4.10.3.1); amd_npt: a page-walk cache
    of guest levels by ASID and PCID, a nested TLB and a page-walk cache of nested levels by
    ASID (APM 15.16, 15.25.5); intel_ept: combined paging-structure caches by VPID, EPTRTA and
    PCID, guest-physical mappings (translations and EPT paging-structure entries) by EPTRTA
    (SDM 29.4.1)."""
    def kinds(top):
        return {c.name: (c.holds, c.stage, c.levels, tuple(t.name for t in c.tags))
                for c in top.caches if c.holds != "translations"}
    assert kinds(tops["x86_64_paging"]) == {"psc": ("tables", "guest", (5, 4, 3, 2), ("pcid",))}
    assert kinds(tops["amd_npt"]) == {"pwc": ("tables", "guest", (5, 4, 3, 2), ("asid", "pcid")),
                                      "ntlb": ("host translations", "guest", (), ("asid",)),
                                      "npwc": ("tables", "host", (5, 4, 3, 2), ("asid",))}
    assert kinds(tops["intel_ept"]) == {"psc": ("tables", "guest", (5, 4, 3, 2), ("vpid", "ept", "eptrta", "pcid")),
                                        "gpm": ("host translations", "guest", (), ("eptrta",)),
                                        "epsc": ("tables", "host", (5, 4, 3, 2), ("eptrta",))}


def test_x86_psc_drops_follow_sdm_4_10_4_1(tops):
    """INVLPG and INVPCID types 0 and 1 drop the PCID's entries whatever the address; types 2
    and 3 drop them all (no global entries); MOV to CR3 those of the new PCID unless bit 63."""
    top = tops["x86_64_paging"]
    kw = {"tags": {"pcid": 3}, "regs": {"CR4": 1 << 17}}
    assert _drops(top, "invlpg", cache="psc", operands={"addr": 0x1234_5000}, entry={"pcid": 3}, **kw)
    assert not _drops(top, "invlpg", cache="psc", operands={"addr": 0x1234_5000}, entry={"pcid": 4}, **kw)
    assert _drops(top, "individual_address", cache="psc", operands={"pcid_op": 4, "addr": 0}, entry={"pcid": 4})
    assert _drops(top, "all_non_global", cache="psc", entry={"pcid": 9})
    assert _drops(top, "mov_cr3", cache="psc", operands={"value": 0x5007}, entry={"pcid": 7}, **kw)
    assert not _drops(top, "mov_cr3", cache="psc", operands={"value": 1 << 63 | 0x5007}, entry={"pcid": 7}, **kw)


def test_a_call_cache_keeps_its_key_page_and_fill_condition():
    """tests/data/toy_call_cache.vspec: `cache answers holds call io { key event.addr page 12;
    ... fill when io.translated || io.passthrough || io.page_fault; }` in front of call io."""
    unit = compile_spec(ROOT / "tests" / "data" / "toy_call_cache.vspec").top
    c = unit.cache_of("call", "io")
    assert (c.name, c.holds, c.source, c.of, c.page, c.sets) == ("answers", "call", "call", "io", 12, 4)
    assert (c.key.op, c.key.kind, c.key.name) == ("ref", "event", "addr")
    assert [t.name for t in c.tags] == ["rid", "write", "kind"]
    assert sorted({r.name for r in c.fill_when.refs()}) == ["io.page_fault", "io.passthrough", "io.translated"]
    assert c.key in unit.expressions() and c.fill_when in unit.expressions()
