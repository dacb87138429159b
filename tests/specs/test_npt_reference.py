"""Directed tests of the generated amd_npt (nested paging) reference, tables built by hand.

AMD64 APM Vol. 2 15.25: every guest page-table access and the final guest-physical
address are translated through the nested tables rooted at nCR3 (15.25.5); a nested
fault is #VMEXIT(NPF), exit code 400h, with EXITINFO1 = page-fault error code in bits
31:0, bit 32 set for a fault on the final guest-physical address and bit 33 set for a
fault on a guest page-table access, and EXITINFO2 = the faulting guest-physical address
(15.25.6, appendix C). As the spec says, nested accesses are user accesses and guest
table accesses are writes (U = 1, W = 1 in EXITINFO1).
"""
import random

import pytest

from codegen.verify import harness
from codegen.verify.stimulus.translation import Draw, Plan, ScenarioFactory

P, RW, US, A, D, PS = 1, 2, 4, 0x20, 0x40, 0x80
XD = 1 << 63
ADDR = 0xFFFF_FFFF_F000
CR0_PE, CR0_PG = 1, 1 << 31
LA57 = 1 << 12
NXE = 1 << 11
E_P, E_W, E_U, E_RSVD, E_ID = 1, 2, 4, 8, 0x10
NPF = 0x400
FINAL, TABLE = 1 << 32, 1 << 33
NP_ENABLE = 1  # VMCB offset 090h bit 0 (APM 15.25.3)
NOT_PRESENT, RESERVED, USER_SUPERVISOR, USER_WRITE, EXECUTE_DISABLE = 1, 2, 3, 4, 7

# guest-physical layout: guest tables and the guest page
G_TABLES = {5: 0x5000, 4: 0x4000, 3: 0x3000, 2: 0x2000, 1: 0x1000}
G_PAGE = 0x0012_3456_7000
GPA_TO_SPA = 0x40_0000_0000  # guest table pages live at gpa + this in system-physical memory
S_PAGE = 0x0ABC_DEF0_1000
VA4 = (0x0A5 << 39) | (0x1C3 << 30) | (0x0F0 << 21) | (0x12D << 12) | 0xABC
VA5 = VA4 | (0x07E << 48)


def idx(va, level):
    return (va >> (9 * level + 3)) & 0x1FF


class Nested:
    """A two-dimensional set of tables: nested (host) tables at nCR3 mapping 4 KiB guest
    pages, and guest tables (4 KiB pages) stored through that mapping."""

    def __init__(self, guest_levels=4, host_levels=4, guest_flags=P | RW | US | A | D):
        self.mem = {}
        self.host_levels = host_levels
        self.next = 0x100_0000
        self.ncr3 = self._alloc()
        self.paths = {}  # guest page -> host entry addresses, root first
        va = VA5 if guest_levels == 5 else VA4
        self.va, self.guest_levels = va, guest_levels
        self.guest_entry = {}  # guest level -> (gpa, spa) of the entry used
        for lv in range(guest_levels, 0, -1):
            page = G_TABLES[lv]
            self.map(page, page + GPA_TO_SPA)
            gpa = page + 8 * idx(va, lv)
            spa = gpa + GPA_TO_SPA
            target = G_TABLES[lv - 1] if lv > 1 else G_PAGE
            self.mem[spa] = target | guest_flags
            self.guest_entry[lv] = (gpa, spa)
        self.map(G_PAGE, S_PAGE)
        self.final_gpa = G_PAGE | (va & 0xFFF)

    def _alloc(self):
        a = self.next
        self.next += 0x1000
        return a

    def map(self, gpa, spa, leaf_flags=P | RW | US | A | D):
        table, path = self.ncr3, []
        for lv in range(self.host_levels, 1, -1):
            ea = table + 8 * idx(gpa, lv)
            if ea not in self.mem:
                self.mem[ea] = self._alloc() | P | RW | US | A
            path.append(ea)
            table = self.mem[ea] & ADDR
        ea = table + 8 * idx(gpa, 1)
        self.mem[ea] = spa | leaf_flags
        path.append(ea)
        self.paths[gpa & ~0xFFF] = path

    def host_leaf(self, gpa):
        return self.paths[gpa & ~0xFFF][-1]

    def regs(self, CR4=0, EFER=NXE, HCR4=None, HEFER=NXE, CR0=CR0_PE | CR0_PG, RFLAGS=0, PKRU=0, NP_CTL=NP_ENABLE,
             ASID=1):
        if HCR4 is None:
            HCR4 = LA57 if self.host_levels == 5 else 0
        if self.guest_levels == 5:
            CR4 |= LA57
        # ASID: read by the TLB's tag only (APM 15.16), a context register all the same
        return (CR0, G_TABLES[self.guest_levels], CR4, EFER, RFLAGS, PKRU, self.ncr3, HCR4, HEFER, NP_CTL, ASID)

    def walk(self, ref, write=0, user=0, fetch=0, **regs):
        mem = dict(self.mem)
        trace = []
        r = ref.walk_guest(mem, trace, self.va, write, user, fetch, *self.regs(**regs))[:4]  # 5th: for the TLB
        return r, trace, mem

    def host_reads(self, gpa):
        return [(0, a, 8, self.mem[a]) for a in self.paths[gpa & ~0xFFF]]

    def expected_trace(self, upto_guest_level=1, final=True):
        out = []
        for lv in range(self.guest_levels, upto_guest_level - 1, -1):
            gpa, spa = self.guest_entry[lv]
            out += self.host_reads(gpa) + [(0, spa, 8, self.mem[spa])]
        if final:
            out += self.host_reads(G_PAGE)
        return out


@pytest.fixture
def ref(generated):
    return generated["amd_npt"][0]


# ---- successful two-dimensional walks ---------------------------------------------------
@pytest.mark.parametrize("levels,refs", [(4, 24), (5, 35)])
def test_2d_walk_reference_count(ref, levels, refs):
    """g guest levels x (h host + 1) + h for the final address: 4x5+4 = 24, 5x6+5 = 35."""
    n = Nested(guest_levels=levels, host_levels=levels)
    r, trace, mem = n.walk(ref)
    assert r == (0, S_PAGE | 0xABC, 1, 1)
    assert len(trace) == refs
    assert trace == n.expected_trace()
    assert mem == n.mem  # all A/D preset: no writes


@pytest.mark.parametrize("gl,hl", [(4, 5), (5, 4)])
def test_2d_walk_mixed_depths(ref, gl, hl):
    n = Nested(guest_levels=gl, host_levels=hl)
    r, trace, _ = n.walk(ref, write=1, user=1)
    assert r == (0, S_PAGE | 0xABC, 1, 1)
    assert len(trace) == gl * (hl + 1) + hl and trace == n.expected_trace()


def test_guest_accessed_dirty_written_at_system_physical_addresses(ref):
    """APM 15.25.5 and 5.4.2 (SDM 4.8): the guest A of each guest table entry is written at its
    system-physical address as soon as the entry is used, before the next guest entry's
    nested walk; the PTE's A and D after the final address is translated."""
    n = Nested(guest_flags=P | RW | US)
    r, trace, mem = n.walk(ref, write=1)
    assert r[0] == 0
    expect = []
    for lv in (4, 3, 2, 1):
        gpa, spa = n.guest_entry[lv]
        expect += n.host_reads(gpa) + [(0, spa, 8, n.mem[spa])]
        if lv > 1:
            expect.append((1, spa, 8, n.mem[spa] | A))
    pte = n.guest_entry[1][1]
    expect += n.host_reads(G_PAGE) + [(1, pte, 8, n.mem[pte] | A | D)]
    assert trace == expect
    assert all(mem[a] == v for op, a, _, v in trace if op)


def test_guest_accessed_survives_a_nested_fault_below(ref):
    """APM 5.4.2 / SDM 4.8: a guest table entry used before a nested page fault keeps the A
    written when it was used; the nested fault on the next guest table stops the walk."""
    n = Nested(guest_flags=P | RW | US)
    gpa = n.guest_entry[2][0]
    n.mem[n.paths[gpa & ~0xFFF][-1]] &= ~P  # the nested PTE of the guest page directory
    r, trace, mem = n.walk(ref)
    assert r[0] > 64 and r[2] == 2  # a nested fault on the guest level-2 table
    written = {a for op, a, _, v in trace if op}
    assert written == {n.guest_entry[4][1], n.guest_entry[3][1]}
    assert all(mem[n.guest_entry[lv][1]] & A for lv in (4, 3))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("la57,refs", [(0, 24), (LA57, 35)])
def test_factory_4k_walks_reference_count(ref, specs, seed, la57, refs):
    factory = ScenarioFactory(specs["amd_npt"])
    draw = Draw(random.Random(seed))
    for _ in range(200):
        sc = factory.make(draw, guest_plan=Plan(1), host_leaf=1, preset_updates=True, fault_percent=0, legal=True,
                          ctx_override={"CR4": la57, "HCR4": la57, "NP_CTL": NP_ENABLE})
        run = harness.run_reference(ref, sc)
        if run.outcome["ok"]:
            break
    assert run.outcome["ok"] and (run.outcome["level"], run.outcome["host_level"]) == (1, 1)
    assert len(run.trace) == refs and all(op == 0 for op, *_ in run.trace)


# ---- nested paging disabled (APM 15.25.3: VMCB offset 090h bit 0 NP_ENABLE = 0) -------------
def test_nested_paging_off_makes_guest_physical_system_physical(ref):
    """APM 15.25.3: with NP_ENABLE = 0 there is no nested walk. The guest's tables are read
    at their guest-physical addresses as system-physical ones, the final address is the
    guest-physical address, and the outcome has no host level (`host bypass when`)."""
    n = Nested()
    mem = {gpa: n.mem[spa] for gpa, spa in n.guest_entry.values()}  # guest tables at gpa
    trace: list = []
    r = ref.walk_guest(mem, trace, n.va, 0, 0, 0, *n.regs(NP_CTL=0))[:4]  # 5th: for the TLB
    assert r == (0, G_PAGE | 0xABC, 1, None)
    assert ref.outcome(r) == {"ok": True, "pa": G_PAGE | 0xABC, "level": 1, "host_level": None}
    assert trace == [(0, gpa, 8, mem[gpa]) for gpa, _ in (n.guest_entry[lv] for lv in (4, 3, 2, 1))]
    # the same tables with nested paging on: every guest-physical address is walked (24 reads)
    r, trace, _ = n.walk(ref)
    assert r == (0, S_PAGE | 0xABC, 1, 1) and len(trace) == 24


# ---- nested faults on guest page-table accesses ---------------------------------------------
@pytest.mark.parametrize("guest_levels", [4, 5])
@pytest.mark.parametrize("write,user,fetch", [(0, 0, 0), (1, 1, 0), (0, 0, 1)])
def test_npf_on_guest_table_access_at_each_level(ref, guest_levels, write, user, fetch):
    for lv in range(guest_levels, 0, -1):
        n = Nested(guest_levels=guest_levels)
        leaf = n.host_leaf(G_TABLES[lv])
        n.mem[leaf] &= ~P
        r, trace, mem = n.walk(ref, write=write, user=user, fetch=fetch)
        gpa = n.guest_entry[lv][0]
        # error code of the nested access: not present, a user write whatever the guest access was
        assert r == (64 + NOT_PRESENT, 1, lv, (NPF, TABLE | E_W | E_U, gpa))
        assert r[3][1] >> 33 & 1 and not r[3][1] >> 32 & 1
        assert trace == n.expected_trace(upto_guest_level=lv + 1, final=False) + n.host_reads(gpa)
        assert mem == n.mem


@pytest.mark.parametrize("change,kind,err", [
    (lambda e: e | (1 << 50), RESERVED, E_P | E_W | E_U | E_RSVD),
    (lambda e: e & ~US, USER_SUPERVISOR, E_P | E_W | E_U),
    (lambda e: e & ~RW, USER_WRITE, E_P | E_W | E_U),   # a read-only guest table: its A/D could not be set
])
def test_npf_on_guest_table_kinds(ref, change, kind, err):
    n = Nested()
    leaf = n.host_leaf(G_TABLES[2])
    n.mem[leaf] = change(n.mem[leaf])
    r, _, _ = n.walk(ref)  # a guest supervisor read
    assert r == (64 + kind, 1, 2, (NPF, TABLE | err, n.guest_entry[2][0]))


def test_npf_at_a_higher_host_level(ref):
    n = Nested()
    host_pml4e = n.paths[G_TABLES[4]][0]
    n.mem[host_pml4e] &= ~P
    r, trace, _ = n.walk(ref)
    assert r == (64 + NOT_PRESENT, 4, 4, (NPF, TABLE | E_W | E_U, n.guest_entry[4][0]))
    assert trace == [(0, host_pml4e, 8, n.mem[host_pml4e])]


# ---- nested faults on the final guest-physical address --------------------------------------
@pytest.mark.parametrize("write,user,fetch,err", [
    (0, 0, 0, E_U), (1, 0, 0, E_W | E_U), (0, 1, 0, E_U), (0, 0, 1, E_U | E_ID)])
def test_npf_on_final_address(ref, write, user, fetch, err):
    n = Nested()
    n.mem[n.host_leaf(G_PAGE)] &= ~P
    r, trace, mem = n.walk(ref, write=write, user=user, fetch=fetch)
    assert r == (64 + NOT_PRESENT, 1, None, (NPF, FINAL | err, n.final_gpa))
    assert r[3][1] >> 32 & 1 and not r[3][1] >> 33 & 1
    assert trace == n.expected_trace()
    assert mem == n.mem


def test_npf_final_write_to_read_only_nested_page(ref):
    n = Nested()
    n.map(G_PAGE, S_PAGE, leaf_flags=P | US | A | D)
    assert n.walk(ref, write=0)[0][0] == 0
    r, _, _ = n.walk(ref, write=1)
    assert r == (64 + USER_WRITE, 1, None, (NPF, FINAL | E_P | E_W | E_U, n.final_gpa))


def test_npf_final_fetch_from_nested_no_execute_page(ref):
    n = Nested()
    n.map(G_PAGE, S_PAGE, leaf_flags=P | RW | US | A | D | XD)
    assert n.walk(ref, fetch=0)[0][0] == 0
    r, _, _ = n.walk(ref, fetch=1)
    assert r == (64 + EXECUTE_DISABLE, 1, None, (NPF, FINAL | E_P | E_U | E_ID, n.final_gpa))
    # with HEFER.NXE = 0 the same XD bit is a reserved bit of the nested entry
    r, _, _ = n.walk(ref, fetch=1, HEFER=0)
    assert r == (64 + RESERVED, 1, None, (NPF, FINAL | E_P | E_U | E_RSVD, n.final_gpa))


# ---- guest faults: the guest #PF record --------------------------------------------------
def test_guest_not_present(ref):
    n = Nested()
    spa = n.guest_entry[1][1]
    n.mem[spa] &= ~P
    r, trace, mem = n.walk(ref, write=1, user=1)
    assert r == (NOT_PRESENT, 1, 0, (14, E_W | E_U, VA4))
    assert trace == n.expected_trace(final=False) and len(trace) == 20
    assert mem == n.mem


def test_guest_protection_fault_is_found_before_the_final_nested_walk(ref):
    n = Nested()
    spa = n.guest_entry[3][1]
    n.mem[spa] &= ~US
    n.mem[n.host_leaf(G_PAGE)] &= ~P  # would be an NPF, but the guest check comes first
    r, trace, _ = n.walk(ref, user=1)
    assert r == (USER_SUPERVISOR, 1, 0, (14, E_P | E_U, VA4))
    assert len(trace) == 20


def test_guest_reserved_bit(ref):
    n = Nested(guest_levels=5, host_levels=5)
    spa = n.guest_entry[4][1]
    n.mem[spa] |= PS
    r, trace, _ = n.walk(ref)
    assert r == (RESERVED, 4, 0, (14, E_P | E_RSVD, VA5))
    assert len(trace) == 2 * 6


# ---- manual facts first reported as differences, now in the specs ----------------------------
# AMD APM Vol. 2 Figure 5-20: bits 8:7 of a long-mode PML4E are MBZ on AMD (amd_npt sets PML4E_PML5E_BIT8_MBZ).
def test_amd_pml4e_bit_8_is_reserved_in_the_nested_walk(ref):
    n = Nested()
    host_pml4e = n.paths[G_TABLES[4]][0]
    n.mem[host_pml4e] |= 1 << 8
    r, _, _ = n.walk(ref)
    assert r == (64 + RESERVED, 4, 4, (NPF, TABLE | E_P | E_W | E_U | E_RSVD, n.guest_entry[4][0]))


# AMD APM Vol. 2 5.3.3: a PML5E has the PML4E's format, bits 8:7 MBZ (issue 17: the spec had
# bit 8 of a PML5E ignored, accepting an entry AMD hardware faults on). Both stages import
# x86.long_mode with PML4E_PML5E_BIT8_MBZ = 1, so both check it.
def test_amd_pml5e_bit_8_is_reserved_in_the_nested_walk(ref):
    """A nested PML5E with bit 8 set, met while translating the guest's PML5 table page:
    #VMEXIT(NPF) for a guest table access (EXITINFO1 bit 33, W and U as every nested
    access, RSVD, P), at nested level 5, EXITINFO2 the guest PML5E's guest-physical address."""
    n = Nested(guest_levels=5, host_levels=5)
    host_pml5e = n.paths[G_TABLES[5]][0]
    n.mem[host_pml5e] |= 1 << 8
    r, trace, _ = n.walk(ref)
    assert r == (64 + RESERVED, 5, 5, (NPF, TABLE | E_P | E_W | E_U | E_RSVD, n.guest_entry[5][0]))
    assert len(trace) == 1  # the nested PML5E, nothing after it


def test_amd_pml5e_bit_8_is_reserved_in_the_guest_walk(ref):
    """A guest PML5E with bit 8 set: #PF with P and RSVD at guest level 5, after the nested
    walk of its table page (5 reads) and the entry itself."""
    n = Nested(guest_levels=5, host_levels=5)
    n.mem[n.guest_entry[5][1]] |= 1 << 8
    r, trace, _ = n.walk(ref)
    assert r == (RESERVED, 5, 0, (14, E_P | E_RSVD, VA5))
    assert len(trace) == 6


# ---- canonical addresses (SDM Vol. 1 3.3.7.1; APM Vol. 2 5.3.1): the guest stage only ------
PAE = 1 << 5  # IA-32e paging has CR4.PAE = 1 (APM 5.3; SDM 4.1.1); long_mode's check is gated on it


def test_a_non_canonical_guest_address_is_gp0_before_any_reference(ref):
    """The guest stage (x86.long_mode) checks canonical form before its first table read,
    nested or not: #GP(0), no nested walk, no memory reference."""
    n = Nested()
    n.va = VA4 | 1 << 52  # bit 52 differs from bit 47 (0)
    r, trace, mem = n.walk(ref, CR4=PAE)
    assert r[0] == 10 and r[3] == (13, 0) and trace == [] and mem == n.mem  # non_canonical: code 10
    assert ref.outcome(r)["level"] is None and ref.outcome(r)["record"] == "general_protection"


def test_the_nested_stage_does_not_check_canonical_form(ref):
    """The nested walk's input is a guest-physical address (APM 15.25.5): the host
    binding's CR4 holds LA57 alone, so PAE = 0 there and no #GP; a guest page at gpa bit
    47 (bits 63:48 are 0: not canonical as a linear address) is translated like any other."""
    n = Nested()
    far = 1 << 47 | G_PAGE
    n.mem[n.guest_entry[1][1]] = far | P | RW | US | A | D
    n.map(far, S_PAGE)
    r, trace, _ = n.walk(ref, CR4=PAE)
    assert r == (0, S_PAGE | 0xABC, 1, 1)
    assert trace[-4:] == n.host_reads(far)  # the final translation, 4 nested reads
