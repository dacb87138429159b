"""Golden tests of guest translation in the generated amd_iommu reference: the GCR3 table
and the guest (x86-64 long-mode) page tables, each guest-physical address translated by
the host I/O page tables. Expected values worked out by hand, not from the spec:

- AMD IOMMU spec 48882: 2.2.2.1 DTE (V 0, TV 1, Mode 11:9, host root 51:12, GIoV 54,
  GV 55, GLX 57:56, GCR3 Table Root Pointer bits 14:12 at 60:58, 30:15 at 95:80, 51:31 at
  127:107, IR 61, IW 62, DomainID 79:64, GuestPagingMode 183:182); 2.2.6 the GCR3 table:
  GLX + 1 levels, level n indexed by PASID bits 9n+8:9n, an entry's bit 0 valid and bits
  51:12 the next table or the guest CR3, all guest-physical; 2.2.3 host I/O page table
  entries (PR 0, Next Level 11:9, address 51:12, IR 61, IW 62); 2.5 IO_PAGE_FAULT (code
  2: DeviceID 15:0, PASID 19:16, PASID 15:0 in 47:32 with GN 48, NX 49, US 50, PR 52,
  RW 53, PE 54, RZ 55; address 127:64) and ILLEGAL_DEV_TABLE_ENTRY (code 1); 3.4 Control
  (IommuEn 0, EventLogEn 2, GTEn 16);
- AMD64 APM Vol. 2 5.3 (4-level long mode: PML4 index 47:39, PDPT 38:30, PD 29:21, PT
  20:12; P 0, R/W 1, U/S 2, A 5, D 6, address 51:12) and 5.6 (a user access needs U/S = 1
  at every level);
- notes/iommu-facts.md section 23 for the UNCONFIRMED choices (an invalid GCR3 entry and a
  host fault in guest translation give IO_PAGE_FAULT with GN = 1 and the PASID).

Every request reads the 32-byte DTE first (four quadwords).
"""
import pytest

DEVTAB = 0x0010_0000
LOG = 0x0040_0000
TAIL = 5
LOG_ENTRY = LOG + TAIL * 16
IOMMU_EN, EVENT_LOG_EN, GT_EN = 1 << 0, 1 << 2, 1 << 16
CONTROL = IOMMU_EN | EVENT_LOG_EN | GT_EN
DMA_READ, DMA_WRITE = 0, 1
UNTRANSLATED, TRANSLATED, ABORTED = 0, 1, 3
NONE, ILLEGAL_DTE, IO_PAGE_FAULT = 0, 1, 2
DEV = 0x0123
DTE = DEVTAB + DEV * 32
DOMAIN = 0x0ABC

# DTE quadword 0
V, TV, IR, IW = 1 << 0, 1 << 1, 1 << 61, 1 << 62
GIOV, GV = 1 << 54, 1 << 55


def glx(n: int) -> int:
    return n << 56


def mode(m: int) -> int:
    return m << 9


GCR3 = 0x0030_0000  # GCR3 table root: bits 30:15 = 0x60, the other pieces 0
Q1_GCR3 = (GCR3 >> 15) << 16  # DTE bits 95:80 hold root bits 30:15

# guest long-mode entries (APM 5.4)
P, RW, US, A, D = 1 << 0, 1 << 1, 1 << 2, 1 << 5, 1 << 6
TABLE = P | RW | US | A  # a table entry already accessed: no A write

# host I/O page table entry (2.2.3)
PR, E_IR, E_IW = 1 << 0, 1 << 61, 1 << 62

# event log flags (first quadword)
F_GN, F_NX, F_US, F_PR, F_RW, F_PE, F_RZ = 1 << 48, 1 << 49, 1 << 50, 1 << 52, 1 << 53, 1 << 54, 1 << 55


@pytest.fixture(scope="module")
def ref(generated):
    return generated["amd_iommu"][0]


def dte(q0, q1=DOMAIN | Q1_GCR3, q2=0, q3=0) -> dict:
    return {DTE: q0, DTE + 8: q1, DTE + 16: q2, DTE + 24: q3}


def dte_reads(mem: dict) -> list:
    return [(0, DTE + o, 8, mem.get(DTE + o, 0)) for o in (0, 8, 16, 24)]


def run(ref, mem, address, kind=DMA_READ, pv=1, pasid=5, pmr=0, er=0, control=CONTROL):
    request = {
        "kind": kind, "device_id": DEV, "address": address, "data": 0, "at": 0, "nw": 0,
        "pv": pv, "pasid": pasid, "pmr": pmr, "er": er,
        "DEV_TAB_BAR": DEVTAB, "CONTROL": control,
        "EVT_LOG_BAR": LOG | 8 << 56, "EVT_LOG_TAIL": TAIL << 4,
    }
    trace: list = []
    out = ref.decide(mem, request, trace)
    assert out["exit"] is True
    return out["fields"], trace


def va(i4, i3, i2, i1, off) -> int:
    return i4 << 39 | i3 << 30 | i2 << 21 | i1 << 12 | off


# A 4-level guest walk with no host translation (Mode 0), PASID 5, GLX = 0: the GCR3
# entry is at the root + PASID[8:0] * 8 = 0x300028 and holds the guest CR3 0x600000.
# VA indexes: PML4 1, PDPT 2, PD 3, PT 4, offset ABCh.
VA = va(1, 2, 3, 4, 0xABC)
GUEST = {
    GCR3 + 5 * 8: 0x0060_0000 | 1,
    0x0060_0000 + 1 * 8: 0x0060_1000 | TABLE,
    0x0060_1000 + 2 * 8: 0x0060_2000 | TABLE,
    0x0060_2000 + 3 * 8: 0x0060_3000 | TABLE,
    0x0060_3000 + 4 * 8: 0x0077_7000 | P | RW | US | A | D,
}
GUEST_READS = [GCR3 + 5 * 8, 0x600008, 0x601010, 0x602018, 0x603020]


def test_guest_translation_without_host_tables(ref):
    mem = {**dte(V | TV | mode(0) | GV | glx(0)), **GUEST}
    f, trace = run(ref, dict(mem), VA)
    # the PTE's frame 0x777000 with the VA's offset; every entry's A (and the PTE's D)
    # already set: nothing written
    assert (f["outcome"], f["address"], f["code"]) == (TRANSLATED, 0x0077_7ABC, NONE)
    assert trace == dte_reads(mem) + [(0, a, 8, mem[a]) for a in GUEST_READS]


def test_guest_write_sets_accessed_and_dirty_in_the_leaf(ref):
    # the PTE without A and D: a permitted write sets both after the walk (APM 5.4.2)
    pte = 0x0077_7000 | P | RW | US
    mem = {**dte(V | TV | mode(0) | GV | glx(0)), **GUEST, 0x603020: pte}
    f, trace = run(ref, dict(mem), VA, kind=DMA_WRITE)
    assert (f["outcome"], f["address"]) == (TRANSLATED, 0x0077_7ABC)
    assert trace[-1] == (1, 0x603020, 8, pte | A | D)
    assert trace[:-1] == dte_reads(mem) + [(0, a, 8, mem[a]) for a in GUEST_READS]


def test_user_request_to_a_supervisor_page_is_a_guest_page_fault(ref):
    # U/S = 0 in the PTE, a user request (PMR = 0): IO_PAGE_FAULT, GN = 1, PASID 5 in bits
    # 47:32, PR = 1 (present), PE = 1, US = 1, and the VA as address
    mem = {**dte(V | TV | mode(0) | GV | glx(0)), **GUEST, 0x603020: 0x0077_7000 | P | RW | A | D}
    f, trace = run(ref, dict(mem), VA)
    lo = DEV | 5 << 32 | F_GN | F_US | F_PR | F_PE | IO_PAGE_FAULT << 60
    assert (f["outcome"], f["code"], f["logged"]) == (ABORTED, IO_PAGE_FAULT, 1)
    assert (f["entry_lo"], f["entry_hi"]) == (lo, VA)
    assert trace[-2:] == [(1, LOG_ENTRY, 8, lo), (1, LOG_ENTRY + 8, 8, VA)]
    # the same request with PMR = 1 (supervisor) is allowed
    f, _ = run(ref, dict(mem), VA, pmr=1)
    assert (f["outcome"], f["address"]) == (TRANSLATED, 0x0077_7ABC)


def test_invalid_gcr3_entry_faults_with_the_pasid(ref):
    # PASID 12345h, GLX = 0: the entry at root + 145h * 8 is absent (V = 0): IO_PAGE_FAULT
    # with PR = 0, PASID[19:16] = 1 in bits 19:16 and PASID[15:0] = 2345h in 47:32
    mem = dte(V | TV | mode(0) | GV | glx(0))
    f, trace = run(ref, dict(mem), VA, kind=DMA_WRITE, pasid=0x12345)
    lo = DEV | 1 << 16 | 0x2345 << 32 | F_GN | F_US | F_RW | IO_PAGE_FAULT << 60
    assert (f["outcome"], f["entry_lo"], f["entry_hi"]) == (ABORTED, lo, VA)
    assert trace == dte_reads(mem) + [(0, GCR3 + 0x145 * 8, 8, 0), (1, LOG_ENTRY, 8, lo), (1, LOG_ENTRY + 8, 8, VA)]


def test_two_level_gcr3_table_through_the_host_tables(ref):
    # Host Mode 1 (one host level, indexed by GPA bits 20:12) rooted at 0x800000; GCR3 table
    # root GPA 0x1000 (DTE bits 60:58 = 1), GLX = 1, PASID 203h: level-1 index PASID[17:9]
    # = 1, level-0 index PASID[8:0] = 3.
    hroot = 0x0080_0000
    q0 = V | TV | mode(1) | hroot | IR | IW | GV | glx(1) | 1 << 58
    host = lambda spa: spa | PR | E_IR | E_IW  # noqa: E731  (Next Level 0: a 4-KiB page)
    mem = {
        **dte(q0, q1=DOMAIN),
        hroot + 1 * 8: host(0x0030_0000),   # GPA 0x1000 (the root GCR3 table) -> SPA 0x300000
        0x0030_0000 + 1 * 8: 0x2000 | 1,    # level 1, index 1: the level-0 table at GPA 0x2000
        hroot + 2 * 8: host(0x0031_0000),   # GPA 0x2000 -> SPA 0x310000
        0x0031_0000 + 3 * 8: 0x3000 | 1,    # level 0, index 3: guest CR3 at GPA 0x3000
    }                                       # GPA 0x3000 has no host entry (hroot + 3 * 8)
    f, trace = run(ref, dict(mem), VA, pasid=0x203)
    # each GCR3 entry's GPA is translated first (one host read), then read; the guest CR3
    # GPA's host entry is not present: a host fault, IO_PAGE_FAULT with PR = 0, GN = 1
    assert trace[:-2] == dte_reads(mem) + [
        (0, hroot + 8, 8, mem[hroot + 8]), (0, 0x300008, 8, 0x2001),
        (0, hroot + 16, 8, mem[hroot + 16]), (0, 0x310018, 8, 0x3001),
        (0, hroot + 24, 8, 0)]
    lo = DEV | 0x203 << 32 | F_GN | F_US | IO_PAGE_FAULT << 60
    assert (f["outcome"], f["entry_lo"], f["entry_hi"]) == (ABORTED, lo, VA)


def test_reserved_glx_is_an_illegal_device_table_entry(ref):
    # GLX = 3 is reserved: ILLEGAL_DEV_TABLE_ENTRY, RZ = 0, the address with bits 1:0 clear
    mem = dte(V | TV | mode(0) | GV | glx(3))
    f, trace = run(ref, dict(mem), VA | 3)
    lo = DEV | ILLEGAL_DTE << 60
    assert (f["outcome"], f["code"], f["entry_lo"], f["entry_hi"]) == (ABORTED, ILLEGAL_DTE, lo, VA)
    assert trace == dte_reads(mem) + [(1, LOG_ENTRY, 8, lo), (1, LOG_ENTRY + 8, 8, VA)]


def test_no_guest_translation_without_pasid_gv_or_gten(ref):
    # Mode 0 with IR: the host path forwards the address unchanged, reading only the DTE,
    # when the request has no PASID (and GIoV = 0), when GV = 0, or when Control.GTEn = 0
    for q0, pv, control in ((V | TV | IR | IW | GV, 0, CONTROL), (V | TV | IR | IW, 1, CONTROL),
                            (V | TV | IR | IW | GV, 1, IOMMU_EN | EVENT_LOG_EN)):
        mem = {**dte(q0), **GUEST}
        f, trace = run(ref, dict(mem), VA, pv=pv, control=control)
        assert (f["outcome"], f["address"]) == (UNTRANSLATED, VA)
        assert trace == dte_reads(mem)
    # GIoV = 1: a request without a PASID takes the guest tables of PASID 0 (entry at root + 0)
    mem = {**dte(V | TV | GV | GIOV), **GUEST, GCR3: GUEST[GCR3 + 5 * 8]}
    f, trace = run(ref, dict(mem), VA, pv=0)
    assert (f["outcome"], f["address"]) == (TRANSLATED, 0x0077_7ABC)
    assert trace[4][1] == GCR3
