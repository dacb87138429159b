"""The generated x86_64_paging reference against the manuals, and against a hand-written walker.

(a) Directed golden tests: page tables built by hand in a dict, exact outcomes and exact
    memory traces from Intel SDM Vol. 3A ch. 4 (4.5 paging structures, 4.6 access rights,
    4.7 page-fault error code, 4.8 accessed and dirty flags). Every directed test runs on
    both the generated reference and the hand-written walker of the benchmark's workloads
    (workloads/x86_64_paging_handwalk.py).
(b) Random scenarios from the stimulus generator through both walkers: identical outcome
    tuples, traces and final memory.
"""
import random
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from codegen.bench import workloads
from codegen.verify import harness
from codegen.verify.stimulus.translation import Draw, ScenarioFactory

handwalk = workloads.hand_walker()

# ---- architectural constants (SDM 2.5, 2.2.1, 4.5) ----------------------------------
P, RW, US, PWT, PCD, A, D, PS, G = 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100
PAT_LARGE = 1 << 12
XD = 1 << 63
CR0_PE, CR0_WP, CR0_PG = 1, 1 << 16, 1 << 31
CR4_LA57, CR4_SMEP, CR4_SMAP, CR4_PKE = 1 << 12, 1 << 20, 1 << 21, 1 << 22
EFER_LME, EFER_LMA, EFER_NXE = 1 << 8, 1 << 10, 1 << 11
RFLAGS_AC = 1 << 18
# #PF error code bits (SDM 4.7, Figure 4-12)
E_P, E_W, E_U, E_RSVD, E_ID, E_PK = 1, 2, 4, 8, 0x10, 0x20
# fault indices: 1 + index in FAULTS
NOT_PRESENT, RESERVED, USER_SUPERVISOR, USER_WRITE, SUPERVISOR_WRITE, SMAP, EXECUTE_DISABLE, SMEP, PKEY = range(1, 10)

# ---- one hand-built translation ------------------------------------------------------
TABLES = {5: 0x10000, 4: 0x21000, 3: 0x32000, 2: 0x43000, 1: 0x54000}
FRAMES = {1: 0x9876_5432_1000, 2: 0x8765_4320_0000, 3: 0x8765_4000_0000}  # bit 47 set in each
# linear address: PML5 index 0x7E (5-level only), PML4 0xA5, PDPT 0x1C3, PD 0xF0, PT 0x12D, offset 0xABC
VA4 = (0x0A5 << 39) | (0x1C3 << 30) | (0x0F0 << 21) | (0x12D << 12) | 0xABC
VA5 = VA4 | (0x07E << 48)
# entry addresses worked out by hand: table base + 8 * index
EA = {5: 0x10000 + 0x3F0, 4: 0x21000 + 0x528, 3: 0x32000 + 0xE18, 2: 0x43000 + 0x780, 1: 0x54000 + 0x968}
assert EA == {lv: TABLES[lv] + 8 * ((VA5 >> (9 * lv + 3)) & 0x1FF) for lv in TABLES}

TABLE_FLAGS = P | RW | US | A
LEAF_FLAGS = P | RW | US | A | D


def build(top=4, leaf=1, table_flags=TABLE_FLAGS, leaf_flags=LEAF_FLAGS):
    """Entries for the walk of VA4/VA5 from level `top` down to a leaf at `leaf`."""
    mem = {}
    for lv in range(top, leaf - 1, -1):
        if lv == leaf:
            mem[EA[lv]] = FRAMES[lv] | leaf_flags | (PS if lv > 1 else 0)
        else:
            mem[EA[lv]] = TABLES[lv - 1] | table_flags
    return mem


WALKERS = ["generated", "handwalk"]


@pytest.fixture(params=WALKERS)
def walk_top(request, generated):
    if request.param == "generated":
        return generated["x86_64_paging"][0].walk_top
    return handwalk.walk_top


def run(walk_top, mem, va=VA4, write=0, user=0, fetch=0, CR0=CR0_PE | CR0_PG, CR3=None, CR4=0,
        EFER=EFER_LME | EFER_LMA | EFER_NXE, RFLAGS=0, PKRU=0):
    if CR3 is None:
        CR3 = TABLES[5 if CR4 & CR4_LA57 else 4]
    before = dict(mem)
    trace = []
    # a success's fifth value tells the TLB whether the leaf is global (issue 15): not the walk's
    r = walk_top(mem, trace, va, write, user, fetch, CR0, CR3, CR4, EFER, RFLAGS, PKRU)[:4]
    return r, trace, before


def reads(mem, levels):
    return [(0, EA[lv], 8, mem[EA[lv]]) for lv in levels]


def pf(kind, level, err, va=VA4):
    return (kind, level, 0, (14, err, va))


# ---- successful walks (SDM 4.5.4, Figures 4-8 .. 4-10) ----------------------------------
def test_4k_walk_four_levels_exact_trace(walk_top):
    mem = build()
    r, trace, before = run(walk_top, mem, CR3=TABLES[4] | PWT | PCD)  # CR3 flags do not move the table
    assert r == (0, 0x9876_5432_1ABC, 1, 0)
    assert [t[1] for t in trace] == [0x21528, 0x32E18, 0x43780, 0x54968]
    assert trace == reads(before, [4, 3, 2, 1])
    assert mem == before  # A and D already set: no writes


def test_pcid_does_not_move_the_table(walk_top):
    """With CR4.PCIDE = 1, CR3 bits 11:0 are the PCID (SDM Table 4-13); bits M-1:12 still
    locate the PML4 table, so a PCID of FFFh reads the same entries."""
    mem = build()
    r, trace, before = run(walk_top, mem, CR3=TABLES[4] | 0xFFF, CR4=1 << 17)
    assert r == (0, 0x9876_5432_1ABC, 1, 0)
    assert trace == reads(before, [4, 3, 2, 1])


def test_5_level_walk_with_la57(walk_top):
    mem = build(top=5)
    r, trace, before = run(walk_top, mem, va=VA5, CR4=CR4_LA57)
    assert r == (0, 0x9876_5432_1ABC, 1, 0)
    assert [t[1] for t in trace] == [0x103F0, 0x21528, 0x32E18, 0x43780, 0x54968]
    assert trace == reads(before, [5, 4, 3, 2, 1])


def test_la57_clear_ignores_bits_56_48(walk_top):
    """With 4-level paging, linear-address bits 56:48 select nothing (SDM 4.5.4)."""
    mem = build()
    r, trace, _ = run(walk_top, mem, va=VA5)
    assert r == (0, 0x9876_5432_1ABC, 1, 0) and len(trace) == 4


def test_2m_page(walk_top):
    mem = build(leaf=2)
    r, trace, before = run(walk_top, mem)
    assert r == (0, 0x8765_4320_0000 | 0x12DABC, 2, 0)
    assert trace == reads(before, [4, 3, 2])


def test_1g_page(walk_top):
    mem = build(leaf=3)
    r, trace, before = run(walk_top, mem)
    assert r == (0, 0x8765_4000_0000 | 0x1E12DABC, 3, 0)
    assert trace == reads(before, [4, 3])


@pytest.mark.parametrize("leaf", [2, 3])
def test_large_page_pat_bit_12_is_not_address(walk_top, leaf):
    """Bit 12 of a PDE/PDPTE that maps a page is PAT, not an address bit (Tables 4-16, 4-18)."""
    mem = build(leaf=leaf, leaf_flags=LEAF_FLAGS | PAT_LARGE)
    r, _, _ = run(walk_top, mem)
    mask = (1 << (9 * leaf + 3)) - 1
    assert r == (0, FRAMES[leaf] | (VA4 & mask), leaf, 0)


def test_ignored_bits_do_not_fault(walk_top):
    """Bits 11:9 and 58:52 are ignored everywhere; in non-leaf entries bits 6, 8 and 62:59 too."""
    ign = (0x7 << 9) | (0x7F << 52)
    mem = build(top=5, table_flags=TABLE_FLAGS | ign | D | G | (0xF << 59), leaf_flags=LEAF_FLAGS | ign)
    r, trace, _ = run(walk_top, mem, va=VA5, CR4=CR4_LA57 | CR4_PKE, PKRU=0xFFFFFFFC)  # key 0 allows
    assert r == (0, 0x9876_5432_1ABC, 1, 0) and len(trace) == 5


# ---- not present (SDM 4.7: P = 0 in the error code) ------------------------------------
@pytest.mark.parametrize("level", [5, 4, 3, 2, 1])
@pytest.mark.parametrize("write,user", [(0, 0), (1, 1)])
def test_not_present_at_each_level(walk_top, level, write, user):
    mem = build(top=5)
    mem[EA[level]] = (mem[EA[level]] & ~P) | (0xF << 48) | XD  # other bits are don't-care when P = 0
    r, trace, before = run(walk_top, mem, va=VA5, CR4=CR4_LA57, EFER=0, write=write, user=user)
    assert r == pf(NOT_PRESENT, level, (E_W if write else 0) | (E_U if user else 0), VA5)
    assert trace == reads(before, range(5, level - 1, -1))
    assert mem == before


def test_missing_entry_reads_as_zero(walk_top):
    mem = build()
    del mem[EA[2]]
    r, trace, _ = run(walk_top, mem)
    assert r == pf(NOT_PRESENT, 2, 0)
    assert trace[-1] == (0, EA[2], 8, 0)


# ---- reserved bits (SDM 4.5.4 tables, 4.7: RSVD = 1 and P = 1) ---------------------------
@pytest.mark.parametrize("level", [5, 4, 3, 2, 1])
@pytest.mark.parametrize("bit", [48, 51])
def test_reserved_above_maxphyaddr(walk_top, level, bit):
    mem = build(top=5)
    mem[EA[level]] |= 1 << bit
    r, trace, before = run(walk_top, mem, va=VA5, CR4=CR4_LA57, write=1)
    assert r == pf(RESERVED, level, E_P | E_W | E_RSVD, VA5)
    assert len(trace) == 6 - level and mem == before


@pytest.mark.parametrize("leaf,bit", [(2, 13), (2, 20), (3, 13), (3, 29)])
def test_reserved_inside_large_page_frame(walk_top, leaf, bit):
    mem = build(leaf=leaf)
    mem[EA[leaf]] |= 1 << bit
    r, _, _ = run(walk_top, mem, user=1)
    assert r == pf(RESERVED, leaf, E_P | E_U | E_RSVD)


def test_bit_13_is_address_in_a_4k_pte(walk_top):
    mem = build()
    mem[EA[1]] |= 1 << 13
    r, _, _ = run(walk_top, mem)
    assert r == (0, 0x9876_5432_3ABC, 1, 0)


@pytest.mark.parametrize("level", [5, 4])
def test_ps_in_pml4e_and_pml5e_is_reserved(walk_top, level):
    mem = build(top=5)
    mem[EA[level]] |= PS
    r, _, _ = run(walk_top, mem, va=VA5, CR4=CR4_LA57)
    assert r == pf(RESERVED, level, E_P | E_RSVD, VA5)


@pytest.mark.parametrize("level", [4, 3, 2, 1])
def test_xd_is_reserved_without_nxe(walk_top, level):
    mem = build()
    mem[EA[level]] |= XD
    r, _, _ = run(walk_top, mem, EFER=EFER_LME | EFER_LMA)
    assert r == pf(RESERVED, level, E_P | E_RSVD)
    r, _, _ = run(walk_top, mem, EFER=EFER_LME | EFER_LMA | EFER_NXE)  # a read is fine with NXE
    assert r[0] == 0


def test_not_present_wins_over_a_reserved_bit_one_level_down(walk_top):
    mem = build()
    mem[EA[3]] &= ~P
    mem[EA[2]] |= 1 << 50
    assert run(walk_top, mem)[0] == pf(NOT_PRESENT, 3, 0)


# ---- access rights (SDM 4.6.1) ------------------------------------------------------------
@pytest.mark.parametrize("level", [4, 3, 2, 1])
def test_user_access_to_supervisor_page(walk_top, level):
    mem = build()
    mem[EA[level]] &= ~US
    r, trace, before = run(walk_top, mem, user=1)
    assert r == pf(USER_SUPERVISOR, 1, E_P | E_U)
    assert len(trace) == 4 and mem == before
    assert run(walk_top, mem, user=0)[0][0] == 0  # supervisor may read it


@pytest.mark.parametrize("level", [4, 3, 2, 1])
def test_user_write_to_read_only(walk_top, level):
    mem = build()
    mem[EA[level]] &= ~RW
    assert run(walk_top, mem, user=1, write=1)[0] == pf(USER_WRITE, 1, E_P | E_W | E_U)
    assert run(walk_top, mem, user=1, write=0)[0][0] == 0


@pytest.mark.parametrize("page_us", [0, US])
def test_supervisor_write_to_read_only_and_cr0_wp(walk_top, page_us):
    mem = build(leaf_flags=P | page_us | A | D)
    r, _, _ = run(walk_top, dict(mem), write=1, CR0=CR0_PE | CR0_PG)  # WP = 0: allowed
    assert r == (0, 0x9876_5432_1ABC, 1, 0)
    r, _, _ = run(walk_top, dict(mem), write=1, CR0=CR0_PE | CR0_PG | CR0_WP)
    assert r == pf(SUPERVISOR_WRITE, 1, E_P | E_W)


def test_smep(walk_top):
    mem = build()  # user page
    assert run(walk_top, mem, fetch=1, CR4=CR4_SMEP)[0] == pf(SMEP, 1, E_P | E_ID)
    assert run(walk_top, mem, fetch=1, CR4=0)[0][0] == 0
    assert run(walk_top, mem, fetch=1, user=1, CR4=CR4_SMEP)[0][0] == 0  # user fetch of a user page
    assert run(walk_top, mem, fetch=0, CR4=CR4_SMEP)[0][0] == 0  # SMEP is about fetches only
    mem[EA[3]] &= ~US  # now a supervisor page
    assert run(walk_top, mem, fetch=1, CR4=CR4_SMEP)[0][0] == 0


@pytest.mark.parametrize("write", [0, 1])
def test_smap_with_and_without_ac(walk_top, write):
    mem = build()  # user page, writable
    err = E_P | (E_W if write else 0)
    assert run(walk_top, dict(mem), write=write, CR4=CR4_SMAP)[0] == pf(SMAP, 1, err)
    assert run(walk_top, dict(mem), write=write, CR4=CR4_SMAP, RFLAGS=RFLAGS_AC)[0][0] == 0
    assert run(walk_top, dict(mem), write=write, CR4=0)[0][0] == 0
    assert run(walk_top, dict(mem), write=write, user=1, CR4=CR4_SMAP)[0][0] == 0  # user access
    mem[EA[1]] &= ~US  # supervisor page: SMAP does not apply
    assert run(walk_top, dict(mem), write=write, CR4=CR4_SMAP)[0][0] == 0


def test_smap_does_not_apply_to_fetches(walk_top):
    assert run(walk_top, build(), fetch=1, CR4=CR4_SMAP)[0][0] == 0


@pytest.mark.parametrize("level", [4, 3, 2, 1])
@pytest.mark.parametrize("user", [0, 1])
def test_execute_disable(walk_top, level, user):
    mem = build()
    mem[EA[level]] |= XD
    assert run(walk_top, mem, fetch=1, user=user)[0] == pf(EXECUTE_DISABLE, 1, E_P | E_ID | (E_U if user else 0))
    assert run(walk_top, mem, fetch=0, user=user)[0][0] == 0


def test_id_bit_needs_nxe_or_smep(walk_top):
    """I/D is 1 for a fetch only if CR4.SMEP = 1 or EFER.NXE = 1 (SDM 4.7)."""
    mem = build()
    mem[EA[1]] &= ~P
    assert run(walk_top, mem, fetch=1, EFER=EFER_LME | EFER_LMA)[0] == pf(NOT_PRESENT, 1, 0)
    assert run(walk_top, mem, fetch=1, EFER=EFER_LME | EFER_LMA, CR4=CR4_SMEP)[0] == pf(NOT_PRESENT, 1, E_ID)
    assert run(walk_top, mem, fetch=1)[0] == pf(NOT_PRESENT, 1, E_ID)


# ---- protection keys (SDM 4.6.2) -----------------------------------------------------------
KEY = 5
AD5, WD5 = 1 << (2 * KEY), 1 << (2 * KEY + 1)


def pk_mem(us=US):
    return build(leaf_flags=P | RW | us | A | D | (KEY << 59))


def test_pkey_access_disable(walk_top):
    mem = pk_mem()
    ctx = dict(CR4=CR4_PKE, PKRU=AD5)
    assert run(walk_top, mem, user=1, **ctx)[0] == pf(PKEY, 1, E_P | E_U | E_PK)
    assert run(walk_top, mem, user=1, write=1, **ctx)[0] == pf(PKEY, 1, E_P | E_W | E_U | E_PK)
    # supervisor data access to a user-mode address is also subject to the key
    assert run(walk_top, mem, user=0, RFLAGS=RFLAGS_AC, **ctx)[0] == pf(PKEY, 1, E_P | E_PK)
    assert run(walk_top, mem, user=1, fetch=1, **ctx)[0][0] == 0  # keys do not apply to fetches
    assert run(walk_top, mem, user=1, CR4=0, PKRU=AD5)[0][0] == 0  # CR4.PKE = 0
    assert run(walk_top, mem, user=1, CR4=CR4_PKE, PKRU=AD5 >> 2)[0][0] == 0  # another key's bit
    assert run(walk_top, pk_mem(us=0), user=0, **ctx)[0][0] == 0  # supervisor page


def test_pkey_write_disable(walk_top):
    mem = pk_mem()
    ctx = dict(CR4=CR4_PKE, PKRU=WD5)
    assert run(walk_top, dict(mem), user=1, **ctx)[0][0] == 0  # reads allowed
    assert run(walk_top, dict(mem), user=1, write=1, **ctx)[0] == pf(PKEY, 1, E_P | E_W | E_U | E_PK)
    # supervisor writes: WD applies only when CR0.WP = 1
    assert run(walk_top, dict(mem), write=1, RFLAGS=RFLAGS_AC, **ctx)[0][0] == 0
    assert run(walk_top, dict(mem), write=1, RFLAGS=RFLAGS_AC, CR0=CR0_PE | CR0_PG | CR0_WP, **ctx)[0] == \
        pf(PKEY, 1, E_P | E_W | E_PK)


def test_pkey_comes_from_the_leaf_only(walk_top):
    mem = build(table_flags=TABLE_FLAGS | (KEY << 59))  # key bits in non-leaf entries are ignored
    assert run(walk_top, mem, user=1, CR4=CR4_PKE, PKRU=AD5)[0][0] == 0


@pytest.mark.parametrize("leaf", [2, 3])
def test_pkey_on_large_pages(walk_top, leaf):
    mem = build(leaf=leaf, leaf_flags=LEAF_FLAGS | (KEY << 59))
    assert run(walk_top, mem, user=1, CR4=CR4_PKE, PKRU=AD5)[0] == pf(PKEY, leaf, E_P | E_U | E_PK)


# ---- accessed and dirty flags (SDM 4.8) ----------------------------------------------------
def test_accessed_at_every_level_dirty_at_leaf_on_write(walk_top):
    """SDM 4.8: each paging-structure entry the walk uses gets A as it is used (written
    before the next entry is read); the PTE gets A and D once the write is permitted."""
    mem = build(table_flags=P | RW | US, leaf_flags=P | RW | US)
    r, trace, before = run(walk_top, mem, write=1)
    assert r == (0, 0x9876_5432_1ABC, 1, 0)
    assert trace == [(0, EA[4], 8, before[EA[4]]), (1, EA[4], 8, before[EA[4]] | A),
                     (0, EA[3], 8, before[EA[3]]), (1, EA[3], 8, before[EA[3]] | A),
                     (0, EA[2], 8, before[EA[2]]), (1, EA[2], 8, before[EA[2]] | A),
                     (0, EA[1], 8, before[EA[1]]), (1, EA[1], 8, before[EA[1]] | A | D)]
    assert mem == {a: v for op, a, _, v in trace if op}


def test_read_sets_accessed_only(walk_top):
    mem = build(top=5, table_flags=P | RW | US, leaf_flags=P | RW | US)
    r, trace, before = run(walk_top, mem, va=VA5, CR4=CR4_LA57)
    assert r[0] == 0
    assert [t for t in trace if t[0]] == [(1, EA[lv], 8, before[EA[lv]] | A) for lv in (5, 4, 3, 2, 1)]
    assert not any(v & D for v in mem.values())


def test_only_changed_entries_are_written(walk_top):
    mem = build(table_flags=P | RW | US, leaf_flags=P | RW | US | A)
    mem[EA[3]] |= A
    r, trace, before = run(walk_top, mem, write=1)
    assert r[0] == 0
    assert [t for t in trace if t[0]] == [(1, EA[4], 8, before[EA[4]] | A), (1, EA[2], 8, before[EA[2]] | A),
                                          (1, EA[1], 8, before[EA[1]] | D)]


@pytest.mark.parametrize("leaf", [2, 3])
def test_dirty_on_large_page_leaf(walk_top, leaf):
    mem = build(leaf=leaf, table_flags=P | RW | US, leaf_flags=P | RW | US)
    r, trace, before = run(walk_top, mem, write=1)
    assert r[0] == 0 and r[2] == leaf
    assert trace[-1] == (1, EA[leaf], 8, before[EA[leaf]] | A | D)
    assert len(trace) == 2 * (5 - leaf)


def test_protection_fault_sets_no_leaf_accessed_or_dirty(walk_top):
    """SDM 4.8 with 4.6: a user write to a read-only page faults at the leaf after every
    table entry was used: A is set in the PML4E, PDPTE and PDE, none in the PTE."""
    mem = build(table_flags=P | RW | US, leaf_flags=P | US)
    r, trace, before = run(walk_top, mem, write=1, user=1)
    assert r == pf(USER_WRITE, 1, E_P | E_W | E_U)
    assert [t for t in trace if t[0]] == [(1, EA[lv], 8, before[EA[lv]] | A) for lv in (4, 3, 2)]
    assert mem[EA[1]] == before[EA[1]]


def test_fault_at_level_2_leaves_accessed_at_levels_4_and_3_only(walk_top):
    """SDM 4.8: A is set on each entry the walk used, even when a lower level then faults.
    A 4-level walk whose PDE is not present: the PML4E and PDPTE got A, in walk order,
    each written before the next read; the faulting PDE gets none."""
    mem = build(table_flags=P | RW | US, leaf_flags=P | RW | US)
    mem[EA[2]] &= ~P
    r, trace, before = run(walk_top, mem, write=1)
    assert r == pf(NOT_PRESENT, 2, E_W)
    assert trace == [(0, EA[4], 8, before[EA[4]]), (1, EA[4], 8, before[EA[4]] | A),
                     (0, EA[3], 8, before[EA[3]]), (1, EA[3], 8, before[EA[3]] | A),
                     (0, EA[2], 8, before[EA[2]])]
    assert mem == {**before, EA[4]: before[EA[4]] | A, EA[3]: before[EA[3]] | A}


def test_the_cycle_level_model_writes_accessed_flags_as_used_too(generated):
    """The MyHDL model of the same 4-level walk that faults at level 2 (SDM 4.8): A written
    into the PML4E and the PDPTE, each before the next read, then the fault; its trace and
    final memory are the reference's."""
    from codegen.verify.stimulus.translation import Scenario
    ref, model = generated["x86_64_paging"]
    mem = build(table_flags=P | RW | US, leaf_flags=P | RW | US)
    mem[EA[2]] &= ~P
    request = {"va": VA4, "write": 1, "user": 0, "fetch": 0, "CR0": CR0_PE | CR0_PG, "CR3": TABLES[4], "CR4": 0,
               "EFER": EFER_LME | EFER_LMA | EFER_NXE, "RFLAGS": 0, "PKRU": 0}
    sc = Scenario(request=request, memory=dict(mem), latency_seed=7)
    a = harness.run_reference(ref, sc)
    b = harness.run_model(model, ref, [sc])[0]
    assert not harness.compare(a, b), harness.compare(a, b)
    assert [(op, addr) for op, addr, *_ in b.trace] == [(0, EA[4]), (1, EA[4]), (0, EA[3]), (1, EA[3]), (0, EA[2])]
    assert b.outcome["fault"] == "not_present" and b.outcome["level"] == 2


def test_reserved_bit_entry_gets_no_accessed_flag(walk_top):
    """SDM 4.8 with 4.7: an entry with a reserved bit set faults itself and is not marked
    accessed; the entries above it are."""
    mem = build(table_flags=P | RW | US, leaf_flags=P | RW | US)
    mem[EA[3]] |= 1 << 51
    r, trace, before = run(walk_top, mem)
    assert r == pf(RESERVED, 3, E_P | E_RSVD)
    assert [t for t in trace if t[0]] == [(1, EA[4], 8, before[EA[4]] | A)]


# ---- CR2 (SDM 4.7) ---------------------------------------------------------------------------
@pytest.mark.parametrize("va", [VA4, VA4 | 0xFFF, 0xFFFF_8000_0000_0000 | VA4])
def test_cr2_is_the_linear_address(walk_top, va):
    mem = {}
    r, trace, _ = run(walk_top, mem, va=va, write=1)
    assert r == pf(NOT_PRESENT, 4, E_W, va)
    assert trace == [(0, TABLES[4] + 8 * ((va >> 39) & 0x1FF), 8, 0)]


# ---- (b) random scenarios: generated reference == hand-written walker ---------------------
def _args(sc):
    q = sc.request
    return (q["va"], q["write"], q["user"], q["fetch"], q["CR0"], q["CR3"], q["CR4"], q["EFER"], q["RFLAGS"], q["PKRU"])


@pytest.mark.parametrize("chunk", range(4))
def test_random_scenarios_match_handwalk(specs, generated, chunk):
    ref = generated["x86_64_paging"][0]
    factory = ScenarioFactory(specs["x86_64_paging"])
    oracle = lambda sc: harness.run_reference(ref, sc).outcome  # noqa: E731
    seen = Counter()
    n = 1000
    for seed in range(chunk * n, (chunk + 1) * n):
        sc = factory.draw_scenario(Draw(random.Random(seed)), oracle)
        m1, t1 = dict(sc.memory), []
        m2, t2 = dict(sc.memory), []
        a = ref.walk_top(m1, t1, *_args(sc))[:4]  # the fifth value is for the TLB
        b = handwalk.walk_top(m2, t2, *_args(sc))
        assert a == b, f"seed {seed}: outcome {a} != {b}\n" + harness.describe(sc)
        assert t1 == t2, f"seed {seed}: trace differs\n" + harness.describe(sc)
        assert m1 == m2, f"seed {seed}: final memory differs\n" + harness.describe(sc)
        seen[("ok", a[2]) if a[0] == 0 else (ref.FAULTS[a[0] - 1], a[1])] += 1
        seen["writes"] += any(op for op, *_ in t1)
    # the comparison is only as good as what it exercised
    assert {k for k in seen if k[0] == "ok"} == {("ok", 1), ("ok", 2), ("ok", 3)}
    assert {k[0] for k in seen if k != "writes"} >= set(ref.FAULTS)
    assert seen["writes"] > n // 20  # walks that set accessed/dirty flags


def test_hypothesis_scenarios_match_handwalk(specs, generated):
    from hypothesis import HealthCheck, given, settings

    from codegen.verify.stimulus.translation import scenarios

    ref = generated["x86_64_paging"][0]

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(scenarios(specs["x86_64_paging"]))
    def check(sc):
        m1, t1, m2, t2 = dict(sc.memory), [], dict(sc.memory), []
        assert ref.walk_top(m1, t1, *_args(sc))[:4] == handwalk.walk_top(m2, t2, *_args(sc))
        assert (t1, m1) == (t2, m2)

    check()


def test_translate_outcome_dicts_match(specs, generated):
    ref = generated["x86_64_paging"][0]
    factory = ScenarioFactory(specs["x86_64_paging"])
    for seed in range(200):
        sc = factory.make(Draw(random.Random(10_000 + seed)))
        assert ref.translate(dict(sc.memory), sc.request, []) == handwalk.translate(dict(sc.memory), sc.request, [])


# ---- manual facts first reported as differences, now in the specs ----------------------------
# SDM 4.7: the PK error-code bit follows the access, the page's key and PKRU, whichever check fires.
def test_pk_bit_when_another_protection_violation_is_reported(generated):
    ref = generated["x86_64_paging"][0]
    mem = build(leaf_flags=P | US | A | D | (KEY << 59))  # read-only user page with key 5
    r, _, _ = run(ref.walk_top, mem, user=1, write=1, CR4=CR4_PKE, PKRU=WD5)
    assert r[0] == USER_WRITE  # one #PF; which check fires first is the spec's choice
    assert r[3][1] == E_P | E_W | E_U | E_PK  # SDM 4.7 PK-flag conditions (1)-(4) all hold


# ---- canonical addresses: checked before the walk (SDM Vol. 1 3.3.7.1; Vol. 3A 6.15; APM Vol. 2 5.3.1)
CR4_PAE = 1 << 5  # every IA-32e mode has PAE = 1 (SDM 4.1.1); the check is gated on it
NON_CANONICAL = 10  # 1 + index in FAULTS: input faults take the codes after the walk's
GP0 = (13, 0)  # #GP(0): vector 13, error code 0 (SDM Vol. 3A 6.15, "Interrupt 13")


@pytest.mark.parametrize("va, cr4", [
    (VA4 | 1 << 48, CR4_PAE),                   # bit 48 differs from bit 47 (0): 4-level
    (VA4 | 0xFFFF << 48, CR4_PAE),              # 63:48 all ones, bit 47 zero
    (VA5, CR4_PAE),                             # bits 54:49 set with 4-level paging
    (VA5 | 1 << 57, CR4_PAE | CR4_LA57),        # bit 57 differs from bit 56 (0): 5-level
])
def test_non_canonical_address_is_gp0_with_no_memory_reference(walk_top, va, cr4):
    mem = build(top=5 if cr4 & CR4_LA57 else 4)
    r, trace, before = run(walk_top, mem, va=va, CR4=cr4)
    assert r == (NON_CANONICAL, 0, 0, GP0)
    assert trace == [] and mem == before


@pytest.mark.parametrize("va, cr4, top", [
    (VA4, CR4_PAE, 4),
    (VA5, CR4_PAE | CR4_LA57, 5),               # canonical at 57 bits: 56:48 index the PML5
    (VA4 | 0xFFFF_8000_0000_0000 | 0x100 << 39, CR4_PAE, None),  # negative: bits 63:47 all ones
])
def test_canonical_addresses_walk(walk_top, va, cr4, top):
    mem = build(top=top or 4)
    r, trace, _ = run(walk_top, mem, va=va, CR4=cr4)
    assert r[0] != NON_CANONICAL and trace  # the walk reads its first entry
    if top:
        assert r == (0, 0x9876_5432_1ABC, 1, 0)


def test_non_canonical_in_both_models(generated):
    """The MyHDL model agrees: status non_canonical, no level, the general_protection
    record, no memory reference."""
    from codegen.verify.stimulus.translation import Scenario
    ref, model = generated["x86_64_paging"]
    req = {"va": VA4 | 1 << 48, "write": 1, "user": 0, "fetch": 0, "CR0": CR0_PE | CR0_PG, "CR3": TABLES[4],
           "CR4": CR4_PAE, "EFER": EFER_LME | EFER_LMA | EFER_NXE, "RFLAGS": 0, "PKRU": 0}
    sc = Scenario(req, build(), 1)
    a, b = harness.run_reference(ref, sc), harness.run_model(model, ref, [sc])[0]
    assert a.outcome == {"ok": False, "fault": "non_canonical", "stage": "top", "level": None,
                         "record": "general_protection", "fields": {"vector": 13, "error_code": 0}}
    assert harness.compare(a, b) == [] and a.trace == [] and b.trace == []


def test_without_pae_no_canonical_check(walk_top):
    """CR4.PAE = 0 is no IA-32e mode; the check is off (so a nested stage that binds
    CR4.PAE to 0, amd_npt's guest-physical walk, is never checked)."""
    mem = build()
    r, trace, _ = run(walk_top, mem, va=VA4 | 1 << 48, CR4=0)
    assert r == (0, 0x9876_5432_1ABC, 1, 0) and len(trace) == 4
