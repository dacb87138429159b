"""Golden tests of ATS Translation Requests through guest translation in the generated
amd_iommu reference (issue 17, notes/iommu-facts.md 23.3 item 3). Expected values worked
out by hand, not from the spec:

- PCIe r5.0 10.2.2 (a Translation Request: a read with AT = 01b, here with a PASID prefix,
  6.20: Execute Requested, Privileged Mode Requested) and 10.2.3 (the completion data
  entry: R 0, W 1, U 2, Exe 3, Priv 4, S 11, translated address 63:12; a request that may
  not be translated is answered with R = W = 0);
- AMD IOMMU 48882 2.2.2.1 (DTE: V 0, TV 1, Mode 11:9, host root 51:12, GV 55, GLX 57:56,
  GCR3 root bits 14:12 at 60:58, IR 61, IW 62, DomainID 79:64, I 96), 2.2.6 (GCR3 table:
  PASID bits 8:0 index level 0, bit 0 valid, 51:12 the guest CR3, guest-physical), 2.2.3
  (host PTE: PR 0, Next Level 11:9 = 0 a 4-KiB page at level 1, address 51:12, U 59, IR
  61, IW 62), 2.5 (IO_PAGE_FAULT: GN 48, NX 49, US 50, PR 52, TR 56, code 2 in 63:60);
- AMD64 APM Vol. 2 5.3 (long-mode indexes) and 5.6 (a user access needs U/S = 1 at every
  level, a write R/W = 1 at every level with CR0.WP = 1, NX at any level denies execute).

The combination of the guest's and the host's rights is the choice of the spec
(UNCONFIRMED, notes 23.3): R = host R and (PMR or guest U/S); W = R and host W and guest
R/W and no no-write hint; Exe = R and PV and ER and no guest NX; Priv = PV and PMR; the
page is always reported as 4 KiB (S = 0).

Layout used by every test: host Mode 1 (one host level indexed by GPA bits 20:12) rooted at
SPA 0x800000; the GCR3 table root is GPA 0x1000 (DTE bits 60:58 = 1), GLX = 0, PASID 5:
its entry at GPA 0x1028 holds the guest CR3 GPA 0x2000. Guest tables: PML4 at GPA 0x2000,
PDPT 0x4000, PD 0x5000, PT 0x6000, the page at GPA 0x7000; host entry k (at 0x800000 + 8k)
maps GPA page k: 1 -> 0x300000, 2 -> 0x310000, 4 -> 0x320000, 5 -> 0x330000,
6 -> 0x340000, 7 -> 0x350000.
"""
import pytest

DEVTAB = 0x0010_0000
LOG = 0x0040_0000
TAIL = 5
LOG_ENTRY = LOG + TAIL * 16
CONTROL = 1 << 0 | 1 << 2 | 1 << 16  # IommuEn, EventLogEn, GTEn
DMA_READ, UNTRANSLATED_AT, TRANSLATION_REQUEST = 0, 0, 1
COMPLETED, NONE, IO_PAGE_FAULT = 4, 0, 2
SC = 0
DEV = 0x0123
DTE = DEVTAB + DEV * 32
DOMAIN = 0x0ABC
HROOT = 0x0080_0000

V, TV, IR, IW, GV = 1 << 0, 1 << 1, 1 << 61, 1 << 62, 1 << 55
I_BIT = 1 << 32  # DTE bit 96: quadword 1 bit 32
Q0 = V | TV | 1 << 9 | HROOT | IR | IW | GV | 1 << 58  # Mode 1, GLX 0, GCR3 root bits 14:12 = 1

P, RW, US, A, D, XD = 1 << 0, 1 << 1, 1 << 2, 1 << 5, 1 << 6, 1 << 63
TABLE = P | RW | US | A
PR, HU, E_IR, E_IW = 1 << 0, 1 << 59, 1 << 61, 1 << 62
F_GN, F_NX, F_US, F_TR = 1 << 48, 1 << 49, 1 << 50, 1 << 56

VA = 1 << 39 | 2 << 30 | 3 << 21 | 4 << 12 | 0xABC  # PML4 1, PDPT 2, PD 3, PT 4


def host(spa: int, rights: int = E_IR | E_IW) -> int:
    return spa | PR | rights  # Next Level 0 at level 1: a 4-KiB page


def memory(leaf: int = 0x7000 | P | RW | US | A | D, final: int = host(0x0035_0000)) -> dict:
    return {
        DTE: Q0, DTE + 8: DOMAIN | I_BIT, DTE + 16: 0, DTE + 24: 0,
        HROOT + 1 * 8: host(0x0030_0000), 0x0030_0000 + 5 * 8: 0x2000 | 1,
        HROOT + 2 * 8: host(0x0031_0000), 0x0031_0000 + 1 * 8: 0x4000 | TABLE,
        HROOT + 4 * 8: host(0x0032_0000), 0x0032_0000 + 2 * 8: 0x5000 | TABLE,
        HROOT + 5 * 8: host(0x0033_0000), 0x0033_0000 + 3 * 8: 0x6000 | TABLE,
        HROOT + 6 * 8: host(0x0034_0000), 0x0034_0000 + 4 * 8: leaf,
        HROOT + 7 * 8: final,
    }


# The reads of a walk that reaches the final address: the DTE; the GCR3 walk (the host
# entry of GPA 0x1000, the GCR3 entry, then the host entry of the guest CR3 0x2000, which
# gcr3_walk translates as its final address); the guest walk (each guest table's GPA
# translated, then the guest entry read); the host entry of the final GPA 0x7ABC.
READS = ([DTE, DTE + 8, DTE + 16, DTE + 24, HROOT + 8, 0x300028, HROOT + 16]
         + [HROOT + 16, 0x310008, HROOT + 32, 0x320010, HROOT + 40, 0x330018, HROOT + 48, 0x340020]
         + [HROOT + 56])


@pytest.fixture(scope="module")
def ref(generated):
    return generated["amd_iommu"][0]


def run(ref, mem, pmr=0, er=0, nw=0, pv=1):
    request = {
        "kind": DMA_READ, "device_id": DEV, "address": VA, "data": 0, "at": TRANSLATION_REQUEST,
        "nw": nw, "pv": pv, "pasid": 5, "pmr": pmr, "er": er,
        "DEV_TAB_BAR": DEVTAB, "CONTROL": CONTROL,
        "EVT_LOG_BAR": LOG | 8 << 56, "EVT_LOG_TAIL": TAIL << 4,
    }
    trace: list = []
    out = ref.decide(mem, request, trace)
    assert out["exit"] is True
    return out["fields"], trace


def test_user_translation_request_gets_every_right(ref):
    # every guest level has U/S = R/W = 1 and no NX, the host grants R and W and its leaf
    # has U = 1: R, W, U, and Exe (ER asked, PV) = 0b1111; Priv 0 (PMR = 0); the address is
    # the 4-KiB page of SPA 0x350000 (host entry 7); nothing is written (the guest A bits are
    # set; the walk ends at the host leaf: no leaf A/D update, no event)
    mem = memory(final=host(0x0035_0000, E_IR | E_IW | HU))
    f, trace = run(ref, dict(mem), er=1)
    assert (f["outcome"], f["cpl_status"], f["code"], f["logged"]) == (COMPLETED, SC, NONE, 0)
    assert f["cpl"] == 0x0035_0000 | 0b1111
    assert trace == [(0, a, 8, mem.get(a, 0)) for a in READS]


def test_supervisor_request_read_only_no_execute_page(ref):
    # the guest leaf has R/W = 0 and NX (bit 63), PMR = 1, ER = 1: R = 1 (supervisor), W = 0
    # (guest R/W), Exe = 0 (NX), Priv = 1 (bit 4); U = 0 (host leaf U clear)
    mem = memory(leaf=0x7000 | P | US | A | XD)
    f, _ = run(ref, dict(mem), pmr=1, er=1)
    assert (f["outcome"], f["cpl"]) == (COMPLETED, 0x0035_0000 | 1 << 0 | 1 << 4)


def test_user_request_to_a_supervisor_page_is_granted_nothing(ref):
    # the guest leaf has U/S = 0 and the request is a user's (PMR = 0): R = W = Exe = 0; not a
    # fault: no event, and the walk is the same as a granted one
    mem = memory(leaf=0x7000 | P | RW | A | D)
    f, trace = run(ref, dict(mem), er=1)
    assert (f["outcome"], f["cpl"], f["code"], f["logged"]) == (COMPLETED, 0x0035_0000, NONE, 0)
    assert [t[1] for t in trace] == READS


def test_host_rights_and_the_no_write_hint(ref):
    # the final GPA's host entry grants no write (IW = 0): W = 0, R = 1
    f, _ = run(ref, memory(final=host(0x0035_0000, E_IR)), pmr=1)
    assert f["cpl"] == 0x0035_0000 | 1 << 0 | 1 << 4
    # the host grants everything but the device asks for read-only (No-Write hint): W = 0
    f, _ = run(ref, memory(), pmr=1, nw=1)
    assert f["cpl"] == 0x0035_0000 | 1 << 0 | 1 << 4
    # the host grants no read (IR = 0): R = W = 0 even though the guest grants both
    f, _ = run(ref, memory(final=host(0x0035_0000, E_IW)), pmr=1)
    assert f["cpl"] == 0x0035_0000 | 1 << 4


def test_guest_fault_of_a_translation_request(ref):
    # the guest PT entry is not present: a successful completion that grants nothing
    # (cpl 0) and IO_PAGE_FAULT with GN = 1, the PASID in bits 47:32, US (PMR = 0), NX (ER),
    # PR = 0, TR = 1, written at the log tail after the reads up to the PT entry
    mem = memory(leaf=0)
    f, trace = run(ref, dict(mem), er=1)
    lo = DEV | 5 << 32 | F_GN | F_NX | F_US | F_TR | IO_PAGE_FAULT << 60
    assert (f["outcome"], f["cpl_status"], f["cpl"], f["code"], f["logged"]) == (COMPLETED, SC, 0, IO_PAGE_FAULT, 1)
    assert (f["entry_lo"], f["entry_hi"]) == (lo, VA)
    assert trace == [(0, a, 8, mem.get(a, 0)) for a in READS[:-1]] + [(1, LOG_ENTRY, 8, lo), (1, LOG_ENTRY + 8, 8, VA)]


def test_without_pasid_or_host_tables_the_host_answers(ref):
    # PV = 0 and GIoV = 0: no guest translation; the host walk of the VA itself (Mode 1 indexes
    # VA bits 20:12 = 4: host entry 4, SPA 0x320000 with IR and IW) answers R = W = 1, U = 0,
    # the 4-KiB page 0x320000, without an event
    mem = memory()
    f, trace = run(ref, dict(mem), pv=0)
    assert (f["outcome"], f["cpl"], f["code"]) == (COMPLETED, 0x0032_0000 | 0b11, NONE)
    assert [t[1] for t in trace] == [DTE, DTE + 8, DTE + 16, DTE + 24, HROOT + 32]
    # Mode 0 (no host tables) and no PASID (PV = 0, GIoV = 0): the identity answer with the
    # DTE's IR and IW, reading only the DTE
    mem[DTE] = Q0 & ~(7 << 9)
    f, trace = run(ref, dict(mem), pv=0)
    assert (f["outcome"], f["cpl"]) == (COMPLETED, (VA & ~0xFFF) | 0b11)
    assert len(trace) == 4


# ---- Mode 0 with a PASID (notes 23.4): the guest walk succeeds with no host stage, and the
# completion carries the guest's rights, read from the guest walk's accumulators (R/W, U/S and
# NX of every guest level). With Mode 0 the GCR3 table and the guest tables are
# system-physical ([AMD] 2.2.2.1 Mode 0: no host translation; notes 23.2 item 1): the GCR3
# entry of PASID 5 at 0x1000 + 5 * 8, the guest CR3 0x2000, PML4 entry 1 at 0x2008, PDPT
# entry 2 at 0x4010, PD entry 3 at 0x5018, PT entry 4 at 0x6020, the page at 0x7000. The rule
# (UNCONFIRMED, the spec's choice, as with host tables without the host's part): R = PMR or
# U/S = 1 at every level; W = R and R/W = 1 at every level and no no-write hint; Exe = R and
# PV and ER and no NX at any level; Priv = PV and PMR; U = 0 (no host leaf); S = 0; the
# address the guest walk's output, here 0x7000.
Q0_MODE0 = Q0 & ~(7 << 9)
READS_MODE0 = [DTE, DTE + 8, DTE + 16, DTE + 24, 0x1028, 0x2008, 0x4010, 0x5018, 0x6020]


def memory_mode0(leaf: int = 0x7000 | P | RW | US | A | D, pdpte: int = 0x5000 | TABLE) -> dict:
    return {
        DTE: Q0_MODE0, DTE + 8: DOMAIN | I_BIT, DTE + 16: 0, DTE + 24: 0,
        0x1028: 0x2000 | 1, 0x2008: 0x4000 | TABLE, 0x4010: pdpte, 0x5018: 0x6000 | TABLE, 0x6020: leaf,
    }


def test_mode0_user_request_gets_the_guest_rights(ref):
    # every guest level U/S = R/W = 1, no NX; a user request (PMR = 0) asking to execute:
    # R = 1 (U/S), W = 1 (R/W), Exe = 1 (PV, ER, no NX), Priv = 0, U = 0 -> 0b1011 at
    # 0x7000; no event; the reads are the DTE, the GCR3 entry and the four guest entries,
    # nothing written (every A and D already set)
    mem = memory_mode0()
    f, trace = run(ref, dict(mem), er=1)
    assert (f["outcome"], f["cpl_status"], f["code"], f["logged"]) == (COMPLETED, SC, NONE, 0)
    assert f["cpl"] == 0x7000 | 0b1011
    assert trace == [(0, a, 8, mem.get(a, 0)) for a in READS_MODE0]


def test_mode0_supervisor_request_read_only_no_execute_page(ref):
    # the guest leaf has R/W = 0, U/S = 0 and NX; PMR = 1, ER = 1: R = 1 (a supervisor),
    # W = 0 (R/W), Exe = 0 (NX), Priv = 1 -> bits 0 and 4
    f, _ = run(ref, memory_mode0(leaf=0x7000 | P | A | XD), pmr=1, er=1)
    assert (f["outcome"], f["cpl"], f["code"]) == (COMPLETED, 0x7000 | 1 << 0 | 1 << 4, NONE)


def test_mode0_rights_accumulate_over_every_guest_level(ref):
    # the leaf grants everything, the PDPT entry (level 3) has U/S = 0: a user request is
    # granted nothing (R = W = Exe = 0), not a fault
    f, _ = run(ref, memory_mode0(pdpte=0x5000 | P | RW | A), er=1)
    assert (f["outcome"], f["cpl"], f["code"], f["logged"]) == (COMPLETED, 0x7000, NONE, 0)
    # the PDPT entry has NX (bit 63) and R/W = 0: R = 1, W = 0, Exe = 0 for a user request
    f, _ = run(ref, memory_mode0(pdpte=0x5000 | P | US | A | XD), er=1)
    assert f["cpl"] == 0x7000 | 1 << 0
    # the no-write hint clears W alone: R and Exe stay
    f, _ = run(ref, memory_mode0(), er=1, nw=1)
    assert f["cpl"] == 0x7000 | 1 << 0 | 1 << 3
    # no Execute Requested: Exe = 0
    f, _ = run(ref, memory_mode0())
    assert f["cpl"] == 0x7000 | 0b11


def test_mode0_without_a_pasid_prefix_but_giov(ref):
    # PV = 0 and DTE.GIoV = 1 (bit 54): PASID 0, whose GCR3 entry is at 0x1000 and points to
    # the same guest CR3; Priv = Exe = 0 without a PASID prefix (PV = 0), R = 1 with PMR = 1
    mem = memory_mode0()
    mem[DTE] |= 1 << 54
    mem[0x1000] = 0x2000 | 1
    f, trace = run(ref, dict(mem), pmr=1, er=1, pv=0)
    assert (f["outcome"], f["cpl"]) == (COMPLETED, 0x7000 | 0b11)
    assert [t[1] for t in trace] == READS_MODE0[:4] + [0x1000] + READS_MODE0[5:]


def test_mode0_guest_leaf_accessed_bit_is_written(ref):
    # with no host stage the guest walk succeeds as a read, and sets the leaf's A after it
    # (APM 5.4.2; UNCONFIRMED for a Translation Request, notes 23.4): one write of the PT
    # entry with A set, after the reads
    leaf = 0x7000 | P | RW | US
    f, trace = run(ref, memory_mode0(leaf=leaf), er=1)
    assert f["cpl"] == 0x7000 | 0b1011
    assert trace[-1] == (1, 0x6020, 8, leaf | A)
    assert [t[1] for t in trace[:-1]] == READS_MODE0


def test_mode0_guest_fault_of_a_translation_request(ref):
    # the guest PT entry is not present: R = W = 0 (cpl 0) and IO_PAGE_FAULT with GN = 1, the
    # PASID, US (PMR = 0), NX (ER), PR = 0, TR = 1, as with host tables
    mem = memory_mode0(leaf=0)
    f, trace = run(ref, dict(mem), er=1)
    lo = DEV | 5 << 32 | F_GN | F_NX | F_US | F_TR | IO_PAGE_FAULT << 60
    assert (f["outcome"], f["cpl_status"], f["cpl"], f["code"], f["logged"]) == (COMPLETED, SC, 0, IO_PAGE_FAULT, 1)
    assert (f["entry_lo"], f["entry_hi"]) == (lo, VA)
    assert trace == [(0, a, 8, mem.get(a, 0)) for a in READS_MODE0] + [(1, LOG_ENTRY, 8, lo), (1, LOG_ENTRY + 8, 8, VA)]
