"""Golden tests of reads that answer with an error in guest translation (issue 17, notes/
iommu-facts.md 23.3 item 1) in the generated amd_iommu reference, worked out by hand:

- AMD pub. 48882 2.5: a table the IOMMU walks that cannot be read is PAGE_TAB_HARDWARE_ERROR,
  code 4: DeviceID 15:0, DomainID-or-PASID[15:0] 47:32, GN 48, RW 53, Type 58:57 (10b, target
  abort: UNCONFIRMED, as for the host walk), EventCode 63:60; the second quadword the
  address of the entry read; logged whenever Control.EventLogEn = 1, at the tail, which
  advances; the request is aborted;
- the choices of notes/iommu-facts.md 23.3: GN = 1 and PASID[15:0] as the IO_PAGE_FAULT of
  guest translation has them (UNCONFIRMED; bits 19:16 are reserved in this event's format,
  VirtualBox EVT_PAGE_TAB_HW_ERR_T); the address of a host entry, and of a GCR3 table entry
  (read at the system-physical address its host walk gave), is system-physical;
- the GCR3 table and host I/O page table layouts as tests/specs/test_amd_iommu_gcr3.py
  gives them (2.2.2.1, 2.2.3, 2.2.6);
- a guest (x86 long-mode) table entry whose read fails is PAGE_TAB_HARDWARE_ERROR too (a
  table the IOMMU walks; guest_long_mode's hw_error, checked before the entry's bits), with
  the system-physical address it was read at.

A read that answers with an error returns no data: traced with op 3 and value 0.
"""
import pytest

from tests.specs.test_amd_iommu_gcr3 import (
    CONTROL, DEV, DEVTAB, DMA_READ, DMA_WRITE, DOMAIN, E_IR, E_IW, GCR3, GUEST, GUEST_READS, GV, IR, IW, LOG,
    LOG_ENTRY, PR, TABLE, TAIL, TV, V, VA, dte, dte_reads, glx, mode,
)

ABORTED = 3
PAGE_TAB_HW = 4
ERR = 3  # trace op: a read that answered with an error
TARGET_ABORT = 2 << 57
F_GN, F_RW = 1 << 48, 1 << 53
HROOT = 0x0080_0000  # host Mode 1: one level, indexed by GPA bits 20:12


def host(spa: int) -> int:
    return spa | PR | E_IR | E_IW  # Next Level 0: a 4-KiB page, readable and writable


def run(ref, mem, errors, kind=DMA_READ, pasid=5):
    request = {
        "kind": kind, "device_id": DEV, "address": VA, "data": 0, "at": 0, "nw": 0,
        "pv": 1, "pasid": pasid, "pmr": 0, "er": 0,
        "DEV_TAB_BAR": DEVTAB, "CONTROL": CONTROL,
        "EVT_LOG_BAR": LOG | 8 << 56, "EVT_LOG_TAIL": TAIL << 4,
    }
    trace: list = []
    detail: dict = {}
    out = ref.decide(dict(mem), request, trace, detail, errors=frozenset(errors))
    return out, trace, detail


@pytest.fixture(scope="module")
def ref(generated):
    return generated["amd_iommu"][0]


def event(lo: int, hi: int) -> list:
    return [(1, LOG_ENTRY, 8, lo), (1, LOG_ENTRY + 8, 8, hi)]


@pytest.mark.parametrize("kind, rw", [(DMA_READ, 0), (DMA_WRITE, F_RW)])
def test_a_gcr3_entry_read_error_without_host_tables(ref, kind, rw):
    """Mode 0, GLX = 0, PASID 5: the GCR3 entry at the root 0x300000 + 5 * 8 cannot be read:
    the GCR3 walk's hw_error at level 0; PAGE_TAB_HARDWARE_ERROR with PASID 5 in bits 47:32,
    GN = 1, RW for a write, and the entry's address (guest-physical = system-physical)."""
    mem = dte(V | TV | mode(0) | GV | glx(0))
    out, trace, d = run(ref, mem, {GCR3 + 5 * 8}, kind)
    lo = DEV | 5 << 32 | F_GN | rw | TARGET_ABORT | PAGE_TAB_HW << 60
    assert lo & ~rw == 0x4401_0005_0000_0123  # code 4, Type 10b (bit 58), GN (48), PASID 5, DeviceID
    assert out == {"exit": True, "rule": "guest_page_tab_hw_error", "fields": {
        **out["fields"], "outcome": ABORTED, "code": PAGE_TAB_HW, "logged": 1, "entry_lo": lo,
        "entry_hi": GCR3 + 5 * 8, "tail": (TAIL + 1) << 4}}
    assert trace == dte_reads(mem) + [(ERR, GCR3 + 0x28, 8, 0)] + event(lo, GCR3 + 0x28)
    assert (d["g"]["fault"], d["g"]["level"], d["t"]["walked"]) == ("hw_error", 0, 0)


# Host Mode 1 at HROOT, GLX = 1 (two GCR3 levels), GCR3 root at GPA 0x1000 (DTE bits 60:58 =
# 1), PASID 203h: level-1 index PASID[17:9] = 1, level-0 index PASID[8:0] = 3. GPA 0x1000 ->
# SPA 0x300000, GPA 0x2000 -> SPA 0x310000 (the host entries at HROOT + 8 and + 16).
TWO_LEVEL = {
    **dte(V | TV | mode(1) | HROOT | IR | IW | GV | glx(1) | 1 << 58, q1=DOMAIN),
    HROOT + 1 * 8: host(0x0030_0000),
    0x0030_0000 + 1 * 8: 0x2000 | 1,
    HROOT + 2 * 8: host(0x0031_0000),
    0x0031_0000 + 3 * 8: 0x3000 | 1,
}


def test_a_host_entry_read_error_in_the_gcr3_walk_reports_the_host_entry(ref):
    """The host entry that translates the level-0 GCR3 table's GPA 0x2000 (HROOT + 2 * 8)
    cannot be read: the host's hw_error at host level 1, a host fault of the GCR3 walk while
    translating the address of its level-0 table; the event's address is that host entry's
    (system-physical)."""
    out, trace, d = run(ref, TWO_LEVEL, {HROOT + 16}, pasid=0x203)
    lo = DEV | 0x203 << 32 | F_GN | TARGET_ABORT | PAGE_TAB_HW << 60
    assert out["rule"] == "guest_page_tab_hw_error"
    assert (out["fields"]["entry_lo"], out["fields"]["entry_hi"]) == (lo, HROOT + 16)
    assert trace == dte_reads(TWO_LEVEL) + [(0, HROOT + 8, 8, TWO_LEVEL[HROOT + 8]), (0, 0x300008, 8, 0x2001),
                                            (ERR, HROOT + 16, 8, 0)] + event(lo, HROOT + 16)
    assert (d["g"]["host_fault"], d["g"]["host_level"], d["g"]["level"]) == ("hw_error", 1, 0)


def test_a_gcr3_entry_read_error_through_the_host_tables(ref):
    """The level-0 GCR3 entry, GPA 0x2000 + 3 * 8, read at SPA 0x310018 after its host walk,
    cannot be read: the GCR3 walk's hw_error at level 0. The event's address is "the system
    physical address of the page table entry" ([AMD] 2.5): the one the entry was read at,
    SPA 0x310000 (host entry HROOT + 2 * 8 maps GPA 0x2000 there) + 3 * 8 = 0x310018, not its
    guest-physical 0x2018 (`read_address`, notes/iommu-facts.md 23.3)."""
    out, trace, d = run(ref, TWO_LEVEL, {0x310018}, pasid=0x203)
    lo = DEV | 0x203 << 32 | F_GN | TARGET_ABORT | PAGE_TAB_HW << 60
    f = out["fields"]
    assert (out["rule"], f["entry_lo"], f["entry_hi"]) == ("guest_page_tab_hw_error", lo, 0x310018)
    assert trace[-4:] == [(0, HROOT + 16, 8, TWO_LEVEL[HROOT + 16]), (ERR, 0x310018, 8, 0)] + event(lo, 0x310018)
    assert (d["g"]["fault"], d["g"]["level"]) == ("hw_error", 0)


def test_a_host_entry_read_error_in_the_guest_walk(ref):
    """GLX = 0, PASID 5: the GCR3 entry (GPA 0x1028, SPA 0x300028) gives guest CR3 GPA
    0x4000, whose host entry (HROOT + 4 * 8) maps it to SPA 0x340000; the GCR3 walk
    translates it (its final address), then the guest walk translates it again for the PML4
    read (index 1: SPA 0x340008, pointing to the PDPT at GPA 0x5000). The host entry of GPA
    0x5000 (HROOT + 5 * 8) cannot be read: the guest walk's host hw_error at host level 1,
    on its guest level-3 (PDPT) table read."""
    q0 = V | TV | mode(1) | HROOT | IR | IW | GV | glx(0) | 1 << 58
    mem = {**dte(q0, q1=DOMAIN), HROOT + 8: host(0x0030_0000), 0x0030_0028: 0x4000 | 1,
           HROOT + 32: host(0x0034_0000), 0x0034_0008: 0x5000 | TABLE}
    out, trace, d = run(ref, mem, {HROOT + 40})
    lo = DEV | 5 << 32 | F_GN | TARGET_ABORT | PAGE_TAB_HW << 60
    f = out["fields"]
    assert (out["rule"], f["entry_lo"], f["entry_hi"]) == ("guest_page_tab_hw_error", lo, HROOT + 40)
    assert trace == dte_reads(mem) + [
        (0, HROOT + 8, 8, mem[HROOT + 8]), (0, 0x300028, 8, 0x4001), (0, HROOT + 32, 8, mem[HROOT + 32]),
        (0, HROOT + 32, 8, mem[HROOT + 32]), (0, 0x340008, 8, mem[0x340008]),
        (ERR, HROOT + 40, 8, 0)] + event(lo, HROOT + 40)
    assert (d["t"]["host_fault"], d["t"]["host_level"], d["t"]["level"]) == ("hw_error", 1, 3)


@pytest.mark.parametrize("kind, rw", [(DMA_READ, 0), (DMA_WRITE, F_RW)])
@pytest.mark.parametrize("failed, level", [(0x600008, 4), (0x603020, 1)])
def test_a_guest_table_entry_read_error_without_host_tables(ref, kind, rw, failed, level):
    """Mode 0, GLX = 0, PASID 5, the 4-level guest tables of test_amd_iommu_gcr3 (PML4E at
    0x600008, PDPTE 0x601010, PDE 0x602018, PTE 0x603020): the PML4E's (or the PTE's) read
    fails: guest_long_mode's hw_error at that level, before anything the entry holds is
    judged; PAGE_TAB_HARDWARE_ERROR as for the GCR3 entry (GN = 1, PASID 5, RW), the address
    the entry was read at (guest-physical = system-physical with Mode 0). Nothing is
    written: no A or D update of the entries above."""
    mem = {**dte(V | TV | mode(0) | GV | glx(0)), **GUEST}
    out, trace, d = run(ref, mem, {failed}, kind)
    lo = DEV | 5 << 32 | F_GN | rw | TARGET_ABORT | PAGE_TAB_HW << 60
    assert out == {"exit": True, "rule": "guest_page_tab_hw_error", "fields": {
        **out["fields"], "outcome": ABORTED, "code": PAGE_TAB_HW, "logged": 1, "entry_lo": lo,
        "entry_hi": failed, "tail": (TAIL + 1) << 4}}
    before = GUEST_READS[:GUEST_READS.index(failed)]
    assert trace == dte_reads(mem) + [(0, a, 8, mem[a]) for a in before] + [(ERR, failed, 8, 0)] + event(lo, failed)
    assert (d["t"]["fault"], d["t"]["level"], d["t"]["host_fault"]) == ("hw_error", level, None)


def test_a_guest_table_entry_read_error_through_the_host_tables(ref):
    """As test_a_host_entry_read_error_in_the_guest_walk's tables: the guest CR3 is GPA
    0x4000, mapped by host entry HROOT + 4 * 8 to SPA 0x340000; the PML4E (index 1) is
    GPA 0x4008, read at SPA 0x340008 after its host walk, and that read fails: the guest
    walk's hw_error at level 4. The event's address is the system-physical 0x340008 the entry
    was read at, not its guest-physical 0x4008 ([AMD] 2.5: "the system physical address of
    the page table entry")."""
    q0 = V | TV | mode(1) | HROOT | IR | IW | GV | glx(0) | 1 << 58
    mem = {**dte(q0, q1=DOMAIN), HROOT + 8: host(0x0030_0000), 0x0030_0028: 0x4000 | 1,
           HROOT + 32: host(0x0034_0000), 0x0034_0008: 0x5000 | TABLE}
    out, trace, d = run(ref, mem, {0x340008})
    lo = DEV | 5 << 32 | F_GN | TARGET_ABORT | PAGE_TAB_HW << 60
    f = out["fields"]
    assert (out["rule"], f["entry_lo"], f["entry_hi"]) == ("guest_page_tab_hw_error", lo, 0x340008)
    assert trace == dte_reads(mem) + [
        (0, HROOT + 8, 8, mem[HROOT + 8]), (0, 0x300028, 8, 0x4001), (0, HROOT + 32, 8, mem[HROOT + 32]),
        (0, HROOT + 32, 8, mem[HROOT + 32]), (ERR, 0x340008, 8, 0)] + event(lo, 0x340008)
    assert (d["t"]["fault"], d["t"]["level"], d["t"]["host_fault"]) == ("hw_error", 4, None)
