"""The walk caches of amd_npt (issue 15): a 2D page-walk cache of guest non-leaf entries
holding the next guest table's system-physical address, and a nested TLB of
guest-physical to system-physical translations (Bhargava et al., ASPLOS 2008; APM
15.25.5), on tables built by hand (test_npt_reference.Nested: 4-level guest over 4-level
nested tables, 4-KiB pages, A/D preset so that no walk writes).

Counted by hand. A cold 4+4 walk reads 4 guest entries, each after a 4-reference nested
walk of its guest-physical address, then 4 for the final address: 4 x 5 + 4 = 24. It
fills the page-walk cache at guest levels 4, 3, 2 and the nested TLB with the 5 guest
pages it translated (the 4 guest tables and the final page).
- va + 4 KiB (PT index + 1, mapped to the same guest frame): the page-walk cache hits at
  level 2 (its key, va >> 21, is the same) and gives the PT's system-physical address:
  the walk reads the PTE only (no nested walk for the PT), and the final guest page hits
  the nested TLB: exactly 1 reference.
- va + 2 MiB (PD index + 1, a PDE that points to the same PT, and its PTE to the same
  frame): the cache misses at level 2 and hits at level 3 (va >> 30): the walk reads the
  PDE, then the PT's guest-physical address hits the nested TLB (filled by the cold walk),
  the PTE, and the final page hits the nested TLB: exactly 2 references.
Without the walk caches (the TLB only), each of them is a 24-reference walk. These counts
leave out npwc, the page-walk cache of the nested walk (`Caches(enabled=NO_NPWC)`), which
makes the cold walk 14 references (test_npt_host_walk_cache.py).
"""
import sys
from pathlib import Path

import pytest

from codegen.verify import oracle
from codegen.verify.sequence import Sequence, Step, run_reference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_npt_reference import A, D, G_PAGE, G_TABLES, GPA_TO_SPA, P, RW, S_PAGE, US, VA4, Nested, idx  # noqa: E402

FLAGS = P | RW | US | A | D
REGS = ("CR0", "CR3", "CR4", "EFER", "RFLAGS", "PKRU", "nCR3", "HCR4", "HEFER", "NP_CTL")
NO_NPWC = ("tlb", "pwc", "ntlb")  # every cache but the nested walk's page-walk cache


@pytest.fixture
def ref(generated):
    return generated["amd_npt"][0]


def tables():
    """The hand-built 2D tables with va + 4 KiB and va + 2 MiB mapped to the same frame."""
    n = Nested()
    pt = G_TABLES[1] + GPA_TO_SPA
    n.mem[pt + 8 * (idx(VA4, 1) + 1)] = G_PAGE | FLAGS  # va + 4 KiB
    pd = G_TABLES[2] + GPA_TO_SPA
    n.mem[pd + 8 * (idx(VA4, 2) + 1)] = G_TABLES[1] | FLAGS  # va + 2 MiB: the same PT
    return n


def request(n, va, asid=1):
    return dict(zip(REGS, n.regs()), va=va, write=0, user=0, fetch=0, ASID=asid)


def test_a_page_walk_cache_hit_at_level_2_and_nested_tlb_hits(ref):
    n = tables()
    mem, caches = dict(n.mem), ref.Caches(enabled=NO_NPWC)
    cold: list = []
    out, hit = ref.translate_cached(caches, mem, request(n, VA4), cold)
    assert (out, hit) == ({"ok": True, "pa": S_PAGE | 0xABC, "level": 1, "host_level": 1}, False)
    assert cold == n.expected_trace() and len(cold) == 24

    near: list = []
    detail: dict = {}
    out, hit = ref.translate_cached(caches, mem, request(n, VA4 + 0x1000), near, detail)
    assert (out, hit) == ({"ok": True, "pa": S_PAGE | 0xABC, "level": 1, "host_level": 1}, False)
    pte = G_TABLES[1] + GPA_TO_SPA + 8 * (idx(VA4, 1) + 1)
    assert near == [(0, pte, 8, G_PAGE | FLAGS)]  # the PTE at its system-physical address: 1 reference
    assert detail["resumed"] == 2 and ("ntlb", True) in detail["lookups"]

    far: list = []
    detail = {}
    out, hit = ref.translate_cached(caches, mem, request(n, VA4 + (1 << 21)), far, detail)
    assert out["ok"] and out["pa"] == S_PAGE | 0xABC and not hit
    pde = G_TABLES[2] + GPA_TO_SPA + 8 * (idx(VA4, 2) + 1)
    pte = G_TABLES[1] + GPA_TO_SPA + 8 * idx(VA4, 1)
    assert far == [(0, pde, 8, G_TABLES[1] | FLAGS), (0, pte, 8, G_PAGE | FLAGS)]  # 2 references
    assert detail["resumed"] == 3
    assert [h for c, h in detail["lookups"] if c == "ntlb"] == [True, True]  # the PT, the final page
    assert mem == n.mem  # nothing written


def test_without_the_walk_caches_each_miss_is_a_24_reference_walk(ref):
    n = tables()
    mem, caches = dict(n.mem), ref.Caches(walk=False)
    counts = []
    for va in (VA4, VA4 + 0x1000, VA4 + (1 << 21)):
        trace: list = []
        out, hit = ref.translate_cached(caches, mem, request(n, va), trace)
        assert out["ok"] and not hit
        counts.append(len(trace))
    assert counts == [24, 24, 24]


def test_a_walk_cache_entry_is_per_asid(ref):
    """Tagged by the ASID (APM 15.16): another guest's walk of the same address misses."""
    n = tables()
    mem, caches = dict(n.mem), ref.Caches(enabled=NO_NPWC)
    ref.translate_cached(caches, mem, request(n, VA4, asid=1), [])
    trace: list = []
    ref.translate_cached(caches, mem, request(n, VA4 + 0x1000, asid=2), trace)
    assert len(trace) == 24


def _step(n, va, asid=1):
    return Step("translate", request(n, va, asid))


def test_a_stale_page_walk_cache_entry_until_invlpg(ref):
    """A store that remaps the PD's pointer: the cached PDE still leads to the old PT (a
    stale partial translation the architecture permits) until the guest's INVLPG, which
    drops every page-walk-cache entry of the current ASID and PCID (SDM Vol. 3A 4.10.4.1)."""
    n = tables()
    other_pt = 0x6000  # a second PT, mapping va + 4 KiB to nothing
    n.map(other_pt, other_pt + GPA_TO_SPA)
    pde = G_TABLES[2] + GPA_TO_SPA + 8 * idx(VA4, 2)
    ctx = request(n, 0)
    seq = Sequence(dict(n.mem), (
        _step(n, VA4),
        Step("store", address=pde, value=other_pt | FLAGS),
        _step(n, VA4 + 0x1000),  # resumes at the PT the cache holds: the old frame
        Step("invalidate", ctx, "invlpg", (("addr", VA4 + 0x1000),)),
        _step(n, VA4 + 0x1000),  # a walk from the root: the new PT has no entry there
    ))
    run = run_reference(ref, seq)
    stale, after = run.steps[2], run.steps[4]
    assert stale.outcome["ok"] and stale.outcome["pa"] == S_PAGE | 0xABC and len(stale.trace) == 1
    assert not after.outcome["ok"] and after.outcome["fault"] == "not_present"
    verdict = oracle.check(ref, seq, run)
    assert verdict.problems == [] and verdict.stale_hits == 1


SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_the_oracle_catches_a_walk_cache_invalidation_that_forgets_the_asid(ref, tmp_path):
    """The planted bug: INVLPGA's page-walk-cache drop compares the entry's ASID with the
    current one, not with ECX's. The host (ASID 0) invalidating guest ASID 1 then keeps
    that guest's cached PDE, and its next walk resumes at a PT the tables no longer point
    to. Two runs of the buggy design agree (the exact cross-check passes); the oracle,
    with the spec's INVLPGA (APM 15.16.2, as INVLPG: SDM Vol. 3A 4.10.4.1), refuses the answer."""
    from codegen.frontend.pipeline import compile_spec
    from codegen.generate import emit
    from codegen.verify.harness import load_generated
    text = (SPECS / "amd_npt.vspec").read_text()
    good = "drop pwc when entry.asid == ecx;"
    assert good in text
    (tmp_path / "x86_64_paging.vspec").write_text((SPECS / "x86_64_paging.vspec").read_text())
    (tmp_path / "amd_npt.vspec").write_text(text.replace(good, "drop pwc when entry.asid == asid;"))
    emit.write(emit.render(compile_spec(tmp_path / "amd_npt.vspec")), tmp_path / "gen")
    bad = load_generated(tmp_path / "gen")[0]

    n = tables()
    other_pt = 0x6000
    n.map(other_pt, other_pt + GPA_TO_SPA)
    pde = G_TABLES[2] + GPA_TO_SPA + 8 * idx(VA4, 2)
    seq = Sequence(dict(n.mem), (
        _step(n, VA4),
        Step("store", address=pde, value=other_pt | FLAGS),
        Step("invalidate", request(n, 0, asid=0), "invlpga", (("rax", VA4 + 0x1000), ("ecx", 1))),
        _step(n, VA4 + 0x1000),
    ))
    run = run_reference(bad, seq)
    assert run.steps[3].outcome["ok"] and len(run.steps[3].trace) == 1  # resumed from the stale PDE
    assert run_reference(bad, seq).steps[3] == run.steps[3]
    verdict = oracle.check(ref, seq, run)
    assert verdict.problems and "step 3" in verdict.problems[0]
    good_run = run_reference(ref, seq)
    assert not good_run.steps[3].outcome["ok"]  # the spec's design walks from the root: no PT entry
    assert oracle.check(ref, seq, good_run).problems == []


def test_a_stale_nested_translation_until_vmrun_flushes_the_asid(ref):
    """The hypervisor remaps the guest page in the nested tables: the nested TLB keeps the
    old system-physical frame (permitted: no flush yet) until VMRUN with TLB_CONTROL 03h
    flushes the guest's ASID (APM 15.16.1), after which the walk reads the new mapping."""
    n = tables()
    new_frame = 0x0DEF_0000_0000
    host_pte = n.host_leaf(G_PAGE)
    seq = Sequence(dict(n.mem), (
        _step(n, VA4),
        Step("store", address=host_pte, value=new_frame | FLAGS),
        _step(n, VA4 + 0x1000),  # PWC hit at level 2, the final page from the nested TLB: the old frame
        Step("invalidate", request(n, 0, asid=0), "vmrun", (("guest_asid", 1), ("tlb_control", 3))),
        _step(n, VA4 + 0x1000),
    ))
    run = run_reference(ref, seq)
    stale, after = run.steps[2], run.steps[4]
    assert stale.outcome["pa"] == S_PAGE | 0xABC and len(stale.trace) == 1
    # a cold walk (every cache of ASID 1 flushed): 14 references with npwc (test_npt_host_walk_cache.py)
    assert after.outcome["pa"] == new_frame | 0xABC and len(after.trace) == 14
    verdict = oracle.check(ref, seq, run)
    assert verdict.problems == [] and verdict.stale_hits == 1


def test_covers_of_a_paging_structure_entry_is_its_input_bits_from_its_level_up(generated):
    """intel_ept's INVVPID individual-address drops the combined paging-structure-cache
    entries of the VPID that would be used to translate the address (SDM 29.4.3.1): a PDE
    entry (walk level 2, key va >> 21) for that 2-MiB region, not the neighbour's; a PML4E
    entry (key va >> 39) for any address under it."""
    ept = generated["intel_ept"][0]
    va = VA4
    tags = (7, 1, 0x1234, 0)  # vpid, ept, eptrta, pcid
    pde = ept.Partial(va >> ept.INDEX_LO[2], 2, tags, 1, 0x1000, 0x9000, ())
    pml4e = ept.Partial(va >> ept.INDEX_LO[4], 4, tags, 3, 0x3000, 0xB000, ())
    ops = {"vpid_op": 7, "addr": va + 0x1000}

    def drops(en, **o):
        return ept.drop_holds("psc", "invvpid_individual_address", en, dict(ops, **o), dict.fromkeys(ept.CONTEXT, 0))
    assert drops(pde) and drops(pml4e)
    assert not drops(pde, addr=va + (1 << 21)) and drops(pml4e, addr=va + (1 << 21))
    assert not drops(pde, vpid_op=8)
