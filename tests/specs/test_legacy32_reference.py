"""The legacy 32-bit paging regime of specs/x86_64_paging.vspec (`legacy32`) against the
manuals, through its generated reference: page tables built by hand, outcomes worked
out by hand from Intel SDM Vol. 3A 4.3 (32-bit paging; Table 4-3 CR3, Table 4-4 the
4-MByte PDE with PSE-36, Table 4-5 the PDE that references a page table, Table 4-6 the
PTE), 4.6 (access rights), 4.7 (page-fault error code, CR2) and 4.8 (accessed and dirty
flags). 4-byte entries do not co-simulate on this branch yet, so the reference is the
model under test here."""
import importlib.util
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "x86_64_paging.vspec"

# ---- architectural constants (SDM 2.5, 4.3) -------------------------------------------
P, RW, US, A, D, PS = 1, 2, 4, 0x20, 0x40, 0x80
CR0_WP, CR0_PG = 1 << 16, 1 << 31
CR4_PSE, CR4_SMEP, CR4_SMAP = 1 << 4, 1 << 20, 1 << 21
RFLAGS_AC = 1 << 18
# #PF error code bits (SDM 4.7, Figure 4-12)
E_P, E_W, E_U, E_RSVD, E_ID = 1, 2, 4, 8, 0x10

# ---- one hand-built translation ---------------------------------------------------------
# CR3 bits 31:12 locate the page directory; bits 63:32 are ignored (Table 4-3, note 1)
CR3 = (1 << 40) | 0x0012_3000
PD, PT, FRAME = 0x0012_3000, 0x0045_6000, 0x789A_B000
VA = 0xC0A5_3ABC  # PD index 0x302 (bits 31:22), PT index 0x253 (bits 21:12), offset 0xABC
PDE_AT = PD + 4 * 0x302  # 0x123C08: 4-byte entries
PTE_AT = PT + 4 * 0x253  # 0x45694C
assert (PDE_AT, PTE_AT) == (0x123C08, 0x45694C)
assert (VA >> 22, (VA >> 12) & 0x3FF, VA & 0xFFF) == (0x302, 0x253, 0xABC)
# a 4-MByte page at physical 0xA5_FF00_0000: bits 31:22 in PDE bits 31:22, bits 39:32
# (PSE-36, M = min(MAXPHYADDR, 40) = 40) in PDE bits 20:13 (Table 4-4)
BIG = 0xA5_FF00_0000
PDE_4M = 0xFF00_0000 | (0xA5 << 13) | PS
assert PDE_4M == 0xFF14_A080


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    spec = compile_spec(SPEC)
    path = tmp_path_factory.mktemp("legacy32") / "reference.py"
    path.write_text(emit.render(spec.for_model("legacy32"))["reference.py"])
    loader = importlib.util.spec_from_file_location("legacy32_reference", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def walk(ref, mem, va=VA, write=0, user=0, fetch=0, cr0=CR0_PG, cr4=CR4_PSE, rflags=0):
    trace: list = []
    req = {"va": va, "write": write, "user": user, "fetch": fetch, "CR0": cr0, "CR3": CR3, "CR4": cr4,
           "RFLAGS": rflags}
    return ref.translate(mem, req, trace), trace


def fault(kind, level, code, va=VA):
    return {"ok": False, "fault": kind, "stage": "top", "level": level, "record": "page_fault32",
            "fields": {"vector": 14, "error_code": code, "cr2": va}}


def tables(pde=P | RW | US | A, pte=P | RW | US | A | D):
    return {PDE_AT: PT | pde, PTE_AT: FRAME | pte}


def test_the_spec_ships_both_models_long_mode_first():
    """long_mode stays the default model: amd_npt and intel_ept import the spec for it."""
    assert compile_spec(SPEC).models == ("long_mode", "legacy32")


def test_a_4k_page_reads_one_pde_and_one_pte(ref):
    mem = tables()
    out, trace = walk(ref, mem)
    assert out == {"ok": True, "pa": 0x789A_BABC, "level": 1}
    assert trace == [(0, PDE_AT, 4, PT | P | RW | US | A), (0, PTE_AT, 4, FRAME | P | RW | US | A | D)]


def test_a_4m_page_takes_address_bits_39_32_from_pde_bits_20_13(ref):
    mem = {PDE_AT: PDE_4M | P | RW | US | A | D}
    out, trace = walk(ref, mem)
    assert out == {"ok": True, "pa": BIG | (VA & 0x3F_FFFF), "level": 2}
    assert out["pa"] == 0xA5_FF25_3ABC
    assert trace == [(0, PDE_AT, 4, mem[PDE_AT])]


def test_ps_is_ignored_with_cr4_pse_0(ref):
    """SDM 4.3: with CR4.PSE = 0 the PDE references a page table whatever its PS bit."""
    mem = tables(pde=P | RW | US | A | PS)
    out, trace = walk(ref, mem, cr4=0)
    assert out == {"ok": True, "pa": 0x789A_BABC, "level": 1}
    assert [t[1] for t in trace] == [PDE_AT, PTE_AT]
    # the same PDE with CR4.PSE = 1 maps a 4-MByte page: address bits 31:22 from its bits
    # 31:22 (0x456000 has 0x400000 there), bits 39:32 from its bits 20:13 (0x2B)
    out, _ = walk(ref, dict(mem), cr4=CR4_PSE)
    assert out == {"ok": True, "pa": (PT & 0xFFC0_0000) | ((PT >> 13 & 0xFF) << 32) | (VA & 0x3F_FFFF), "level": 2}


def test_bit_21_of_a_4m_pde_is_reserved(ref):
    """SDM 4.3: bits 21:(M-19) of a 4-MByte PDE are reserved; M = 40 leaves bit 21."""
    mem = {PDE_AT: PDE_4M | (1 << 21) | P | RW | US | A | D}
    out, trace = walk(ref, mem, write=1)
    assert out == fault("reserved", 2, E_P | E_W | E_RSVD)
    assert trace == [(0, PDE_AT, 4, mem[PDE_AT])]  # no A/D update on a fault
    # the same bit in a PDE that references a page table is an address bit
    out, _ = walk(ref, {PDE_AT: (1 << 21) | PT | P | RW | US | A, PTE_AT | (1 << 21): FRAME | P | RW | US | A | D})
    assert out == {"ok": True, "pa": FRAME | 0xABC, "level": 1}


def test_not_present_at_each_level(ref):
    out, _ = walk(ref, {}, user=1, write=1)
    assert out == fault("not_present", 2, E_W | E_U)
    out, trace = walk(ref, tables(pte=RW | US | A), fetch=1, cr4=CR4_PSE | CR4_SMEP)
    assert out == fault("not_present", 1, E_ID)
    assert len(trace) == 2


def test_user_supervisor(ref):
    out, _ = walk(ref, tables(pde=P | RW | A), user=1)
    assert out == fault("user_supervisor", 1, E_P | E_U)  # U/S combines across levels
    out, _ = walk(ref, {PDE_AT: PDE_4M | P | RW | A}, user=1)
    assert out == fault("user_supervisor", 2, E_P | E_U)


def test_read_write_with_and_without_cr0_wp(ref):
    mem = tables(pte=P | US | A | D)
    out, _ = walk(ref, dict(mem), user=1, write=1)
    assert out == fault("user_write", 1, E_P | E_W | E_U)
    out, _ = walk(ref, dict(mem), write=1)  # a supervisor write ignores R/W with CR0.WP = 0
    assert out == {"ok": True, "pa": 0x789A_BABC, "level": 1}
    out, _ = walk(ref, dict(mem), write=1, cr0=CR0_PG | CR0_WP)
    assert out == fault("supervisor_write", 1, E_P | E_W)
    out, _ = walk(ref, dict(mem), user=1)  # reads are fine
    assert out["ok"]


def test_smep_and_smap(ref):
    mem = tables()  # a user page
    out, _ = walk(ref, dict(mem), fetch=1)
    assert out["ok"]  # no SMEP: a supervisor fetch from a user page is allowed
    out, _ = walk(ref, dict(mem), fetch=1, cr4=CR4_PSE | CR4_SMEP)
    assert out == fault("smep", 1, E_P | E_ID)
    out, _ = walk(ref, dict(mem), cr4=CR4_PSE | CR4_SMAP)
    assert out == fault("smap", 1, E_P)
    out, _ = walk(ref, dict(mem), cr4=CR4_PSE | CR4_SMAP, rflags=RFLAGS_AC)
    assert out["ok"]  # RFLAGS.AC = 1 allows explicit supervisor data accesses
    # no execute-disable with 32-bit paging: a fetch without SMEP never sets I/D
    out, _ = walk(ref, tables(pte=RW | US | A), fetch=1)
    assert out == fault("not_present", 1, 0)


def test_accessed_and_dirty_updates(ref):
    """SDM 4.8: the PDE that references the page table is used, so its A is written before
    the PTE is read; the PTE's A and D follow once the access is permitted."""
    mem = tables(pde=P | RW | US, pte=P | RW | US)
    out, trace = walk(ref, mem, write=1)
    assert out["ok"]
    assert trace == [(0, PDE_AT, 4, PT | P | RW | US), (1, PDE_AT, 4, PT | P | RW | US | A),
                     (0, PTE_AT, 4, FRAME | P | RW | US), (1, PTE_AT, 4, FRAME | P | RW | US | A | D)]
    assert mem == {PDE_AT: PT | P | RW | US | A, PTE_AT: FRAME | P | RW | US | A | D}
    mem = tables(pde=P | RW | US, pte=P | RW | US)
    out, trace = walk(ref, mem)  # a read sets A only
    assert [t for t in trace if t[0]] == [(1, PDE_AT, 4, PT | P | RW | US | A), (1, PTE_AT, 4, FRAME | P | RW | US | A)]
    mem = {PDE_AT: PDE_4M | P | RW | US}
    out, trace = walk(ref, mem, write=1)  # a 4-MByte page's PDE gets A and D
    assert out["ok"] and trace[1:] == [(1, PDE_AT, 4, PDE_4M | P | RW | US | A | D)]


def test_pde_accessed_survives_a_fault_of_the_pte(ref):
    """SDM 4.8: A is set in the PDE the walk used even though the PTE then faults (not
    present); a protection fault at the PTE sets A in the PDE but no A/D in the PTE."""
    mem = tables(pde=P | RW | US, pte=RW | US)
    out, trace = walk(ref, mem, write=1)
    assert out == fault("not_present", 1, E_W)
    assert trace == [(0, PDE_AT, 4, PT | P | RW | US), (1, PDE_AT, 4, PT | P | RW | US | A),
                     (0, PTE_AT, 4, FRAME | RW | US)]
    mem = tables(pde=P | RW | US, pte=P | US)
    out, trace = walk(ref, mem, write=1, user=1)
    assert out == fault("user_write", 1, E_P | E_W | E_U)
    assert [t for t in trace if t[0]] == [(1, PDE_AT, 4, PT | P | RW | US | A)]
    assert mem[PTE_AT] == FRAME | P | US


def test_cr2_is_the_32_bit_linear_address(ref):
    out, _ = walk(ref, {}, va=0xFFFF_F123)
    assert out == fault("not_present", 2, 0, va=0xFFFF_F123)


# ---- random scenarios against a hand-written 32-bit paging walker -----------------------
def handwalk(mem: dict, q: dict):
    """SDM 4.3, 4.6, 4.7, 4.8, written out for this test: (outcome, trace)."""
    va, cr4 = q["va"], q["CR4"]
    write, user, fetch = q["write"], q["user"], q["fetch"]
    trace = []
    if not q["CR0"] & CR0_PG:  # SDM 4.1.1: paging off, the linear address is the physical one
        return {"ok": True, "pa": va, "level": None}, trace

    def fault(kind, level):
        code = (kind != "not_present") | write << 1 | user << 2 | (kind == "reserved") << 3
        code |= (fetch and bool(cr4 & CR4_SMEP)) << 4
        return fault_record(kind, level, code, va), trace

    pde_at = (q["CR3"] & 0xFFFF_F000) + 4 * (va >> 22)
    pde = mem.get(pde_at, 0)
    trace.append((0, pde_at, 4, pde))
    if not pde & P:
        return fault("not_present", 2)
    big = bool(pde & PS and cr4 & CR4_PSE)
    if big and pde & (1 << 21):
        return fault("reserved", 2)
    rw, us = pde & RW, pde & US
    if big:
        level, leaf_at, leaf = 2, pde_at, pde
        pa = (pde & 0xFFC0_0000) | ((pde >> 13 & 0xFF) << 32) | (va & 0x3F_FFFF)
    else:
        if not pde & A:  # SDM 4.8: the PDE is used; A is set before the PTE is read
            pde |= A
            mem[pde_at] = pde
            trace.append((1, pde_at, 4, pde))
        pte_at = (pde & 0xFFFF_F000) + 4 * (va >> 12 & 0x3FF)
        pte = mem.get(pte_at, 0)
        trace.append((0, pte_at, 4, pte))
        if not pte & P:
            return fault("not_present", 1)
        rw, us = rw and pte & RW, us and pte & US
        level, leaf_at, leaf = 1, pte_at, pte
        pa = (pte & 0xFFFF_F000) | (va & 0xFFF)
    if user and not us:
        return fault("user_supervisor", level)
    if user and write and not rw:
        return fault("user_write", level)
    if not user and write and not rw and q["CR0"] & CR0_WP:
        return fault("supervisor_write", level)
    if not user and not fetch and us and cr4 & CR4_SMAP and not q["RFLAGS"] & RFLAGS_AC:
        return fault("smap", level)
    if not user and fetch and us and cr4 & CR4_SMEP:
        return fault("smep", level)
    new = leaf | A | (D if write else 0)
    if new != leaf:  # the leaf's A/D only once the access is permitted
        mem[leaf_at] = new
        trace.append((1, leaf_at, 4, new))
    return {"ok": True, "pa": pa, "level": level}, trace


def fault_record(kind, level, code, va):
    return fault(kind, level, code, va)


def test_random_scenarios_match_a_hand_walker(ref):
    """Stimulus from the spec (entries built through the frame maps, 4-MByte leaves only
    where CR4.PSE allows them) through the reference and the hand walker: same outcome,
    trace and final memory, and every fault kind and both leaf levels are seen."""
    import random
    from collections import Counter

    from codegen.verify.stimulus.translation import Draw, ScenarioFactory

    factory = ScenarioFactory(compile_spec(SPEC).for_model("legacy32"))
    seen = Counter()
    for seed in range(600):
        sc = factory.make(Draw(random.Random(seed)))
        m1, m2, t1 = dict(sc.memory), dict(sc.memory), []
        a = ref.translate(m1, sc.request, t1)
        b, t2 = handwalk(m2, sc.request)
        assert (a, t1, m1) == (b, t2, m2), f"seed {seed}"
        assert not (sc.request["write"] and sc.request["fetch"]), "a fetch is never a write (SDM 4.7)"
        seen[a.get("fault", "ok"), a["level"]] += 1
    assert {k for k, _ in seen} == {"ok", "not_present", "reserved", "user_supervisor", "user_write",
                                    "supervisor_write", "smap", "smep"}
    assert {n for k, n in seen if k == "ok"} == {1, 2, None}


# ---- paging off (SDM 4.1.1; APM 5.1): `bypass when !CR0.PG` ------------------------------
def test_paging_off_passes_the_linear_address_through_with_no_reference(ref):
    """SDM 4.1.1: "If CR0.PG = 0, paging is not used. The logical processor treats all
    linear addresses as if they were physical addresses." Whatever the tables hold, and
    whatever the access (a user write to a supervisor read-only page), the outcome is the
    linear address, level None, and no memory is read or written."""
    mem = tables(pde=P | A, pte=P | A)  # supervisor, read-only: a user write would fault
    before = dict(mem)
    out, trace = walk(ref, mem, write=1, user=1, cr0=CR0_WP)  # CR0.PG = 0
    assert (out, trace, mem) == ({"ok": True, "pa": VA, "level": None}, [], before)
    # the same request with CR0.PG = 1 walks and faults (SDM 4.6.1: user write, R/W = 0)
    out, _ = walk(ref, dict(mem), write=1, user=1, cr0=CR0_PG | CR0_WP)
    assert out["fault"] == "user_supervisor"
