"""Golden tests of the generated amd_iommu reference (AMD-Vi DMA and interrupt remapping),
expected values worked out by hand from the manual, not from the spec:

- AMD I/O Virtualization Technology (IOMMU) Specification, pub. 48882: 2.2.2.1 device
  table entry (V 0, TV 1, Mode 11:9, root 51:12, IR 61, IW 62, DomainID 79:64, SA 98,
  IV 128, IntTabLen 132:129, IG 133, interrupt table root 179:134, InitPass 184,
  EIntPass 185, NMIPass 186, IntCtl 189:188; reserved 6:2, 63, 181:180, 206:192,
  245:240); 2.2.3 I/O page tables (PR 0, Next Level 11:9, address 51:12, IR 61, IW 62,
  reserved 60:52 in a PDE and 58:52 in a PTE; level n indexes bits 12+9n-1 : 12+9(n-1),
  level 6 bits 63:57; Next Level 0 a page of the level's size, 7 a page of 2^(13+k)
  bytes for k ones from address bit 12); 2.2.5.1 32-bit IRTE (RemapEn 0, SupIOPF 1,
  IntType 4:2, RqEoi 5, DM 6, GuestMode 7, Destination 15:8, Vector 23:16), index = MSI
  data 10:0; 2.5 event log entries (IO_PAGE_FAULT code 2: DeviceID 15:0, DomainID 47:32,
  I 51, PR 52, RW 53, PE 54, RZ 55, code 63:60, address 127:64; ILLEGAL_DEV_TABLE_ENTRY
  code 1: DeviceID, I, RW, RZ, address bits 63:2); 3.4 MMIO registers (device table base
  51:12, event log base 51:12 and EventLen 59:56, tail pointer 18:4, Control IommuEn 0
  and EventLogEn 2);
- notes/iommu-facts.md, for the choices the spec marks UNCONFIRMED (TV = 0 and index
  beyond the interrupt table give IO_PAGE_FAULT; Mode 7 and IntTabLen >= 12 give
  ILLEGAL_DEV_TABLE_ENTRY with RZ = 0; the Next Level 7 size range; skipped levels).

Every request reads the whole 32-byte DTE (the unit uses a field of each quadword).
"""
import pytest

DEVTAB = 0x0010_0000                 # device table base (4-Kbyte aligned)
LOG = 0x0040_0000                    # event log base
EVENT_LEN = 8                        # 2^8 = 256 entries
TAIL = 5                             # next entry the IOMMU writes
LOG_ENTRY = LOG + TAIL * 16
IOMMU_EN, EVENT_LOG_EN = 1 << 0, 1 << 2
DMA_READ, DMA_WRITE, INTERRUPT = 0, 1, 2
UNTRANSLATED, TRANSLATED, REMAPPED, ABORTED = 0, 1, 2, 3
NONE, ILLEGAL_DTE, IO_PAGE_FAULT = 0, 1, 2
DEV = 0x0123                          # bus 1, device 4, function 3
DTE = DEVTAB + DEV * 32
DOMAIN = 0x0ABC

# DTE bits (quadword 0 .. 3)
V, TV, IR, IW = 1 << 0, 1 << 1, 1 << 61, 1 << 62
SA = 1 << (98 - 64)
IV, IG = 1 << 0, 1 << 5
INIT_PASS, EINT_PASS, NMI_PASS = 1 << 56, 1 << 57, 1 << 58
ABORT, FORWARD, REMAP, RSVD_CTL = 0, 1, 2, 3

# I/O page table entry bits
PR, E_IR, E_IW = 1 << 0, 1 << 61, 1 << 62
RW_OK = E_IR | E_IW

# event log flag bits (first quadword)
F_I, F_PR, F_RW, F_PE, F_RZ = 1 << 51, 1 << 52, 1 << 53, 1 << 54, 1 << 55

MSI = 0xFEE0_0000
MSI_TABLE = 0x0050_0000              # interrupt remapping table (SPA 51:6)


@pytest.fixture(scope="module")
def ref(generated):
    return generated["amd_iommu"][0]


def mode(m: int) -> int:
    return m << 9


def nl(n: int) -> int:
    return n << 9


def int_ctl(c: int) -> int:
    return c << 60


def tab_len(n: int) -> int:
    return n << 1


def dte(q0=0, q1=DOMAIN, q2=0, q3=0, dev=DEV) -> dict:
    base = DEVTAB + dev * 32
    return {base: q0, base + 8: q1, base + 16: q2, base + 24: q3}


def dte_reads(mem: dict, dev=DEV) -> list:
    base = DEVTAB + dev * 32
    return [(0, base + o, 8, mem.get(base + o, 0)) for o in (0, 8, 16, 24)]


def run(ref, mem, kind=DMA_READ, address=0, data=0, dev=DEV, control=IOMMU_EN | EVENT_LOG_EN, tail=TAIL,
        event_len=EVENT_LEN):
    request = {
        "kind": kind, "device_id": dev, "address": address, "data": data, "at": 0, "nw": 0,
        "pv": 0, "pasid": 0, "pmr": 0, "er": 0,
        "DEV_TAB_BAR": DEVTAB | 0x1FF, "CONTROL": control,
        "EVT_LOG_BAR": LOG | event_len << 56, "EVT_LOG_TAIL": tail << 4,
    }
    trace: list = []
    out = ref.decide(mem, request, trace)
    return out, trace


def fields(out) -> dict:
    assert out["exit"] is True
    return out["fields"]


def iopf(flags=0, dev=DEV, domain=DOMAIN) -> int:
    """First quadword of an IO_PAGE_FAULT entry (2.5)."""
    return dev | domain << 32 | flags | IO_PAGE_FAULT << 60


def illegal(flags=0, dev=DEV) -> int:
    """First quadword of an ILLEGAL_DEV_TABLE_ENTRY entry (2.5)."""
    return dev | flags | ILLEGAL_DTE << 60


def logged_writes(lo: int, hi: int) -> list:
    return [(1, LOG_ENTRY, 8, lo), (1, LOG_ENTRY + 8, 8, hi)]


def iova(i6=0, i5=0, i4=0, i3=0, i2=0, i1=0, off=0) -> int:
    return i6 << 57 | i5 << 48 | i4 << 39 | i3 << 30 | i2 << 21 | i1 << 12 | off


# ---- the device table entry: V, TV, Mode --------------------------------------------------

def test_v_clear_forwards_untranslated_without_checks(ref):
    mem = dte(q0=0)  # V = 0, and no permission at all
    out, trace = run(ref, dict(mem), DMA_WRITE, address=0x1234_5678_9ABC)
    f = fields(out)
    assert out["rule"] == "dte_invalid"
    assert f["outcome"] == UNTRANSLATED and f["address"] == 0x1234_5678_9ABC
    assert f["code"] == NONE and f["logged"] == 0 and f["tail"] == TAIL << 4
    assert trace == dte_reads(mem)


@pytest.mark.parametrize("bad", [1 << 2, 1 << 6, 1 << 63])
def test_reserved_dte_bits_give_illegal_dte_with_rz(ref, bad):
    mem = dte(q0=V | TV | mode(3) | bad)
    out, trace = run(ref, dict(mem), DMA_READ, address=0x7007)
    f = fields(out)
    assert out["rule"] == "illegal_dte"
    assert f["outcome"] == ABORTED and f["code"] == ILLEGAL_DTE and f["logged"] == 1
    assert f["entry_lo"] == illegal(F_RZ)
    assert f["entry_hi"] == 0x7004  # address bits 1:0 are reserved in this entry
    assert f["tail"] == (TAIL + 1) << 4
    assert trace == dte_reads(mem) + logged_writes(illegal(F_RZ), 0x7004)


def test_mode_7_is_an_illegal_dte_without_rz(ref):
    mem = dte(q0=V | TV | mode(7) | IR | IW)
    out, trace = run(ref, dict(mem), DMA_WRITE, address=0x5000)
    f = fields(out)
    assert out["rule"] == "illegal_dte"
    assert f["entry_lo"] == illegal(F_RW)  # RZ = 0: an invalid level encoding
    assert trace == dte_reads(mem) + logged_writes(illegal(F_RW), 0x5000)


def test_tv_clear_aborts_with_a_not_present_page_fault(ref):
    mem = dte(q0=V | mode(4) | 0x0100_0000 | IR | IW)
    out, trace = run(ref, dict(mem), DMA_READ, address=0xDEAD_B000)
    f = fields(out)
    assert out["rule"] == "dma_page_fault"
    assert f["outcome"] == ABORTED and f["code"] == IO_PAGE_FAULT
    assert f["entry_lo"] == iopf(0) and f["entry_hi"] == 0xDEAD_B000
    assert trace == dte_reads(mem) + logged_writes(iopf(0), 0xDEAD_B000)  # no table read


def test_mode_0_forwards_untranslated_when_the_dte_allows_it(ref):
    mem = dte(q0=V | TV | mode(0) | IR)
    out, trace = run(ref, dict(mem), DMA_READ, address=0x0000_0042_0000_1008)
    f = fields(out)
    assert out["rule"] == "untranslated"
    assert f["outcome"] == UNTRANSLATED and f["address"] == 0x0000_0042_0000_1008
    assert trace == dte_reads(mem)


def test_mode_0_write_without_iw_is_a_permission_fault(ref):
    mem = dte(q0=V | TV | mode(0) | IR)
    out, trace = run(ref, dict(mem), DMA_WRITE, address=0x9000)
    f = fields(out)
    assert out["rule"] == "dma_page_fault"
    assert f["entry_lo"] == iopf(F_PR | F_RW | F_PE)
    assert trace == dte_reads(mem) + logged_writes(iopf(F_PR | F_RW | F_PE), 0x9000)


# ---- the event log -------------------------------------------------------------------------

def test_event_log_disabled_raises_but_writes_nothing(ref):
    mem = dte(q0=V | TV | mode(0))
    out, trace = run(ref, dict(mem), DMA_READ, address=0x9000, control=IOMMU_EN)
    f = fields(out)
    assert f["code"] == IO_PAGE_FAULT and f["logged"] == 0
    assert f["entry_lo"] == iopf(F_PR | F_PE)  # the entry it would have written
    assert f["tail"] == TAIL << 4
    assert trace == dte_reads(mem)


def test_sa_suppresses_page_faults_but_not_illegal_dte(ref):
    mem = dte(q0=V | TV | mode(0), q1=DOMAIN | SA)
    out, trace = run(ref, dict(mem), DMA_READ, address=0x9000)
    assert fields(out)["logged"] == 0 and trace == dte_reads(mem)
    mem = dte(q0=V | TV | mode(7), q1=DOMAIN | SA)
    out, trace = run(ref, dict(mem), DMA_READ, address=0x9000)
    assert fields(out)["logged"] == 1 and trace[-2:] == logged_writes(illegal(0), 0x9000)


def test_the_tail_wraps_at_the_end_of_the_log(ref):
    mem = dte(q0=V | TV | mode(7))
    out, trace = run(ref, dict(mem), DMA_READ, address=0x100, tail=255)
    assert fields(out)["tail"] == 0
    assert trace[-2:] == [(1, LOG + 255 * 16, 8, illegal(0)), (1, LOG + 255 * 16 + 8, 8, 0x100)]


# ---- the I/O page table walk ---------------------------------------------------------------
R, T5, T4, T3, T2, T1 = 0x0100_0000, 0x0200_0000, 0x0300_0000, 0x0400_0000, 0x0500_0000, 0x0600_0000
PAGE = 0x0ABC_D000


def walk_mem(q0: int, entries: dict) -> dict:
    mem = dte(q0=q0)
    mem.update(entries)
    return mem


def reads(mem: dict, *addrs: int) -> list:
    return [(0, a, 8, mem.get(a, 0)) for a in addrs]


def test_four_level_walk_translates_with_the_exact_trace(ref):
    va = iova(i4=0x012, i3=0x034, i2=0x056, i1=0x078, off=0xABC)
    entries = {
        R + 0x012 * 8: T3 | nl(3) | PR | RW_OK,
        T3 + 0x034 * 8: T2 | nl(2) | PR | RW_OK,
        T2 + 0x056 * 8: T1 | nl(1) | PR | RW_OK,
        T1 + 0x078 * 8: PAGE | nl(0) | PR | RW_OK,
    }
    mem = walk_mem(V | TV | mode(4) | R | IR | IW, entries)
    out, trace = run(ref, dict(mem), DMA_WRITE, address=va)
    f = fields(out)
    assert out["rule"] == "translated"
    assert f["outcome"] == TRANSLATED and f["address"] == PAGE | 0xABC and f["code"] == NONE
    assert trace == dte_reads(mem) + reads(mem, R + 0x012 * 8, T3 + 0x034 * 8, T2 + 0x056 * 8, T1 + 0x078 * 8)


def test_three_level_walk_starts_at_level_3(ref):
    va = iova(i3=0x1FF, i2=0x001, i1=0x002, off=0x10)
    entries = {
        R + 0x1FF * 8: T2 | nl(2) | PR | RW_OK,
        T2 + 0x001 * 8: T1 | nl(1) | PR | RW_OK,
        T1 + 0x002 * 8: PAGE | PR | E_IR,
    }
    mem = walk_mem(V | TV | mode(3) | R | IR, entries)
    out, trace = run(ref, dict(mem), DMA_READ, address=va)
    assert fields(out)["address"] == PAGE | 0x10
    assert trace == dte_reads(mem) + reads(mem, R + 0x1FF * 8, T2 + 8, T1 + 16)


def test_six_level_walk_indexes_bits_63_57_at_the_root(ref):
    va = iova(i6=0x7F, i5=1, i4=2, i3=3, i2=4, i1=5, off=0x123)
    entries = {
        R + 0x7F * 8: T5 | nl(5) | PR | RW_OK,
        T5 + 1 * 8: T4 | nl(4) | PR | RW_OK,
        T4 + 2 * 8: T3 | nl(3) | PR | RW_OK,
        T3 + 3 * 8: T2 | nl(2) | PR | RW_OK,
        T2 + 4 * 8: T1 | nl(1) | PR | RW_OK,
        T1 + 5 * 8: PAGE | PR | RW_OK,
    }
    mem = walk_mem(V | TV | mode(6) | R | IR | IW, entries)
    out, trace = run(ref, dict(mem), DMA_READ, address=va)
    assert fields(out)["address"] == PAGE | 0x123
    assert [a for _, a, _, _ in trace[4:]] == [R + 0x3F8, T5 + 8, T4 + 16, T3 + 24, T2 + 32, T1 + 40]


def skip_mem():
    """Mode 4; the level-4 PDE names level 2, so level 3 is skipped (2.2.3)."""
    return walk_mem(V | TV | mode(4) | R | IR | IW, {
        R + 0x001 * 8: T2 | nl(2) | PR | RW_OK,
        T2 + 0x003 * 8: T1 | nl(1) | PR | RW_OK,
        T1 + 0x004 * 8: PAGE | PR | RW_OK,
    })


def test_a_skipped_level_is_not_read(ref):
    mem = skip_mem()
    va = iova(i4=1, i3=0, i2=3, i1=4, off=0x5)
    out, trace = run(ref, dict(mem), DMA_READ, address=va)
    assert out["rule"] == "translated" and fields(out)["address"] == PAGE | 0x5
    assert trace == dte_reads(mem) + reads(mem, R + 8, T2 + 24, T1 + 32)


def test_nonzero_index_bits_of_a_skipped_level_fault(ref):
    mem = skip_mem()
    va = iova(i4=1, i3=0x100, i2=3, i1=4)  # bit 38 indexes the skipped level 3
    out, trace = run(ref, dict(mem), DMA_READ, address=va)
    f = fields(out)
    assert out["rule"] == "dma_page_fault"
    assert f["entry_lo"] == iopf(F_PR) and f["entry_hi"] == va
    assert trace == dte_reads(mem) + reads(mem, R + 8) + logged_writes(iopf(F_PR), va)


def test_a_pointer_to_its_own_level_is_an_invalid_level(ref):
    mem = walk_mem(V | TV | mode(3) | R | IR | IW, {R: T2 | nl(3) | PR | RW_OK})
    out, trace = run(ref, dict(mem), DMA_READ, address=0)
    assert fields(out)["entry_lo"] == iopf(F_PR)
    assert trace == dte_reads(mem) + reads(mem, R) + logged_writes(iopf(F_PR), 0)


def test_level_6_holds_no_pages(ref):
    mem = walk_mem(V | TV | mode(6) | R | IR | IW, {R: PAGE | nl(0) | PR | RW_OK})
    out, _ = run(ref, dict(mem), DMA_READ, address=0x42)
    assert out["rule"] == "dma_page_fault" and fields(out)["entry_lo"] == iopf(F_PR)


def test_a_level_1_entry_must_be_a_pte(ref):
    mem = walk_mem(V | TV | mode(1) | R | IR | IW, {R: PAGE | nl(1) | PR | RW_OK})
    out, _ = run(ref, dict(mem), DMA_READ, address=0x42)
    assert out["rule"] == "dma_page_fault" and fields(out)["entry_lo"] == iopf(F_PR)


# ---- page sizes ----------------------------------------------------------------------------

def test_next_level_0_at_level_2_maps_a_2m_page(ref):
    frame = 0x0000_0012_3460_0000 | 0x5000  # bits 20:12 of the frame are not used
    mem = walk_mem(V | TV | mode(3) | R | IR | IW, {
        R + 8: T2 | nl(2) | PR | RW_OK,
        T2 + 0x10 * 8: frame | nl(0) | PR | RW_OK,
    })
    va = iova(i3=1, i2=0x10, off=0) | 0x1A_BCDE
    out, trace = run(ref, dict(mem), DMA_READ, address=va)
    assert fields(out)["address"] == 0x0000_0012_3460_0000 | 0x1A_BCDE
    assert len(trace) == 4 + 2


def test_next_level_0_at_level_3_maps_a_1g_page(ref):
    mem = walk_mem(V | TV | mode(4) | R | IR | IW, {
        R + 8: T3 | nl(3) | PR | RW_OK,
        T3 + 2 * 8: 0x0000_00C0_0000_0000 | PR | RW_OK,
    })
    va = iova(i4=1, i3=2) | 0x2345_6789
    out, _ = run(ref, dict(mem), DMA_READ, address=va)
    assert fields(out)["address"] == 0x0000_00C0_0000_0000 | 0x2345_6789


@pytest.mark.parametrize("encoding, size", [
    (0x0, 0x2000),          # bit 12 = 0: 8 Kbytes
    (0x1000, 0x4000),       # one 1: 16 Kbytes
    (0x7000, 0x1_0000),     # bits 14:12 ones, bit 15 zero: 64 Kbytes
    (0x7_F000, 0x10_0000),  # seven ones: 1 Mbyte, the largest at level 1
])
def test_next_level_7_at_level_1_takes_its_size_from_the_address(ref, encoding, size):
    base = 0x0000_0007_0000_0000
    mem = walk_mem(V | TV | mode(1) | R | IR | IW, {R + 0x1FF * 8: base | encoding | nl(7) | PR | RW_OK})
    va = iova(i1=0x1FF) | 0xABC
    out, _ = run(ref, dict(mem), DMA_READ, address=va)
    assert out["rule"] == "translated"
    assert fields(out)["address"] == base | (va & (size - 1))


def test_next_level_7_at_level_2_maps_a_4m_page(ref):
    frame = 0x0000_0009_0000_0000 | 0x1F_F000  # bits 20:12 ones, bit 21 zero: 2^22
    mem = walk_mem(V | TV | mode(2) | R | IR | IW, {R + 3 * 8: frame | nl(7) | PR | RW_OK})
    va = iova(i2=3) | 0x1F_FFFF
    out, _ = run(ref, dict(mem), DMA_READ, address=va)
    assert fields(out)["address"] == 0x0000_0009_0000_0000 | (va & 0x3F_FFFF)


@pytest.mark.parametrize("level, encoding", [
    (2, 0x0),        # 8 Kbytes is not larger than a level-2 page (2 Mbytes)
    (1, 0xFF000),    # eight ones: 2 Mbytes is not smaller than a level-2 page
])
def test_next_level_7_size_out_of_the_level_range_faults(ref, level, encoding):
    mem = walk_mem(V | TV | mode(level) | R | IR | IW, {R: 0x0000_0009_0000_0000 | encoding | nl(7) | PR | RW_OK})
    out, trace = run(ref, dict(mem), DMA_READ, address=0x77)
    assert out["rule"] == "dma_page_fault" and fields(out)["entry_lo"] == iopf(F_PR)
    assert trace == dte_reads(mem) + reads(mem, R) + logged_writes(iopf(F_PR), 0x77)


# ---- walk faults ---------------------------------------------------------------------------

def test_not_present_entry_at_level_3(ref):
    mem = walk_mem(V | TV | mode(4) | R | IR | IW, {R: T3 | nl(3) | PR | RW_OK, T3: RW_OK})
    out, trace = run(ref, dict(mem), DMA_WRITE, address=0xF00)
    assert fields(out)["entry_lo"] == iopf(F_RW)  # PR = 0
    assert trace == dte_reads(mem) + reads(mem, R, T3) + logged_writes(iopf(F_RW), 0xF00)


@pytest.mark.parametrize("entry", [
    T2 | nl(2) | PR | RW_OK | 1 << 60,   # bit 60 of a PDE is reserved
    PAGE | nl(0) | PR | RW_OK | 1 << 52,  # bit 52 of a PTE is reserved
])
def test_reserved_bits_of_an_entry_fault_with_rz(ref, entry):
    mem = walk_mem(V | TV | mode(3) | R | IR | IW, {R: entry})
    out, trace = run(ref, dict(mem), DMA_READ, address=0)
    assert fields(out)["entry_lo"] == iopf(F_PR | F_RZ)
    assert trace == dte_reads(mem) + reads(mem, R) + logged_writes(iopf(F_PR | F_RZ), 0)


def test_pte_bits_59_and_60_are_u_and_fc_not_reserved(ref):
    mem = walk_mem(V | TV | mode(1) | R | IR | IW, {R: PAGE | PR | RW_OK | 1 << 59 | 1 << 60})
    out, _ = run(ref, dict(mem), DMA_READ, address=0x8)
    assert out["rule"] == "translated" and fields(out)["address"] == PAGE | 0x8


def write_protected_pde():
    return walk_mem(V | TV | mode(2) | R | IR | IW, {R: T1 | nl(1) | PR | E_IR, T1: PAGE | PR | RW_OK})


def test_a_pde_without_iw_denies_writes(ref):
    mem = write_protected_pde()
    out, trace = run(ref, dict(mem), DMA_WRITE, address=0x10)
    assert fields(out)["entry_lo"] == iopf(F_PR | F_RW | F_PE)
    assert trace == dte_reads(mem) + reads(mem, R, T1) + logged_writes(iopf(F_PR | F_RW | F_PE), 0x10)


def test_a_pde_without_iw_still_allows_reads(ref):
    out, _ = run(ref, dict(write_protected_pde()), DMA_READ, address=0x10)
    assert out["rule"] == "translated" and fields(out)["address"] == PAGE | 0x10


def test_the_dte_permissions_join_the_walk(ref):
    mem = walk_mem(V | TV | mode(2) | R | IW, {R: T1 | nl(1) | PR | RW_OK, T1: PAGE | PR | RW_OK})
    out, trace = run(ref, dict(mem), DMA_READ, address=0x10)
    assert fields(out)["entry_lo"] == iopf(F_PR | F_PE)
    assert len(trace) == 4 + 2 + 2  # the walk is done before the permission is checked


# ---- interrupt remapping -------------------------------------------------------------------

def irte(vector=0, dest=0, dm=0, int_type=0, remap_en=1, sup_iopf=0, guest=0, rq_eoi=0) -> int:
    return remap_en | sup_iopf << 1 | int_type << 2 | rq_eoi << 5 | dm << 6 | guest << 7 | dest << 8 | vector << 16


def int_mem(q2: int, irtes: dict | None = None, q3: int = 0) -> dict:
    mem = dte(q0=V | TV | mode(0), q2=q2, q3=q3)
    for index, value in (irtes or {}).items():
        word = MSI_TABLE + (index // 2) * 8
        mem[word] = mem.get(word, 0) | value << (32 * (index % 2))
    return mem


REMAP_Q2 = IV | tab_len(8) | MSI_TABLE | int_ctl(REMAP)


def test_iv_clear_forwards_the_interrupt_unmapped(ref):
    mem = dte(q0=V, q2=0)
    msi_addr, msi_data = MSI | 0x03 << 12 | 1 << 2, 0x0000_0141  # vector 41h, arbitrated
    out, trace = run(ref, dict(mem), INTERRUPT, address=msi_addr, data=msi_data)
    f = fields(out)
    assert out["rule"] == "int_unmapped"
    assert f["outcome"] == UNTRANSLATED and f["address"] == msi_addr and f["data"] == msi_data
    assert (f["vector"], f["destination"], f["dest_mode"], f["int_type"]) == (0x41, 0x03, 1, 1)
    assert trace == dte_reads(mem)


@pytest.mark.parametrize("index, word", [(5, MSI_TABLE + 16), (4, MSI_TABLE + 16), (0xFF, MSI_TABLE + 0x7F * 8)])
def test_remapping_reads_the_irte_at_root_plus_index_times_4(ref, index, word):
    other = index ^ 1  # the other half of the quadword holds another IRTE
    mem = int_mem(REMAP_Q2, {index: irte(vector=0x64, dest=0x2A, dm=1, int_type=1, rq_eoi=1),
                             other: irte(vector=0x99, dest=0x77)})
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI, data=index)
    f = fields(out)
    assert out["rule"] == "int_remapped" and f["outcome"] == REMAPPED
    assert (f["vector"], f["destination"], f["dest_mode"], f["int_type"], f["rq_eoi"]) == (0x64, 0x2A, 1, 1, 1)
    assert trace == dte_reads(mem) + reads(mem, word)


def test_index_beyond_the_table_is_an_interrupt_page_fault(ref):
    mem = int_mem(IV | tab_len(4) | MSI_TABLE | int_ctl(REMAP))  # 16 entries
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI | 0x1000, data=16)
    f = fields(out)
    assert out["rule"] == "int_page_fault" and f["code"] == IO_PAGE_FAULT
    assert f["entry_lo"] == iopf(F_I) and f["entry_hi"] == MSI | 0x1000
    assert trace == dte_reads(mem) + logged_writes(iopf(F_I), MSI | 0x1000)  # no IRTE read


@pytest.mark.parametrize("entry, flags", [
    (irte(remap_en=0), F_I),                      # RemapEn = 0: PR = 0
    (irte(guest=1), F_I | F_PR | F_RZ),           # GuestMode = 1 in the 32-bit format
    (irte(int_type=2), F_I | F_PR | F_RZ),        # a reserved interrupt type
])
def test_bad_irte_is_an_interrupt_page_fault(ref, entry, flags):
    mem = int_mem(REMAP_Q2, {3: entry})
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI, data=3)
    f = fields(out)
    assert out["rule"] == "int_page_fault" and f["entry_lo"] == iopf(flags)
    assert trace == dte_reads(mem) + reads(mem, MSI_TABLE + 8) + logged_writes(iopf(flags), MSI)


def test_supiopf_and_ig_suppress_the_interrupt_fault_event(ref):
    mem = int_mem(REMAP_Q2, {3: irte(remap_en=0, sup_iopf=1)})
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI, data=3)
    assert fields(out)["logged"] == 0 and len(trace) == 5
    mem = int_mem(REMAP_Q2 | IG, {3: irte(remap_en=0)})
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI, data=3)
    assert fields(out)["logged"] == 0 and fields(out)["tail"] == TAIL << 4 and len(trace) == 5


@pytest.mark.parametrize("ctl, rule", [(ABORT, "int_aborted"), (FORWARD, "int_forwarded")])
def test_intctl_abort_and_forward(ref, ctl, rule):
    mem = int_mem(IV | tab_len(8) | MSI_TABLE | int_ctl(ctl))
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI, data=0x30)
    assert out["rule"] == rule
    assert fields(out)["code"] == NONE and trace == dte_reads(mem)


@pytest.mark.parametrize("q2, q3, flags", [
    (IV | tab_len(8) | MSI_TABLE | int_ctl(RSVD_CTL), 0, F_I | F_RZ),   # IntCtl = 11b
    (IV | tab_len(12) | MSI_TABLE | int_ctl(REMAP), 0, F_I),            # IntTabLen 12: invalid length
    (REMAP_Q2 | 1 << (180 - 128), 0, F_I | F_RZ),                       # reserved DTE bit 180
    (REMAP_Q2, 1 << (200 - 192), F_I | F_RZ),                          # reserved DTE bit 200
])
def test_interrupt_illegal_dte(ref, q2, q3, flags):
    mem = int_mem(q2, q3=q3)
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI | 0xFF, data=0x30)
    f = fields(out)
    assert out["rule"] == "illegal_dte" and f["entry_lo"] == illegal(flags)
    assert f["entry_hi"] == MSI | 0xFC
    assert trace == dte_reads(mem) + logged_writes(illegal(flags), MSI | 0xFC)


@pytest.mark.parametrize("mt, q2_pass, address, rule", [
    (2, 0, MSI, "int_forwarded"),                     # SMI passes through
    (4, NMI_PASS, MSI, "int_forwarded"),              # NMI with NMIPass
    (4, 0, MSI, "int_aborted"),                       # NMI without NMIPass
    (5, INIT_PASS, MSI, "int_forwarded"),             # INIT with InitPass
    (7, EINT_PASS, MSI, "int_forwarded"),             # ExtINT with EIntPass
    (4, NMI_PASS, MSI | 1 << 2, "int_aborted"),       # logical destination mode
    (3, NMI_PASS | INIT_PASS | EINT_PASS, MSI, "int_aborted"),  # reserved message type
])
def test_non_fixed_interrupts_take_the_pass_bits(ref, mt, q2_pass, address, rule):
    mem = int_mem(IV | tab_len(8) | MSI_TABLE | int_ctl(REMAP) | q2_pass)
    out, trace = run(ref, dict(mem), INTERRUPT, address=address, data=mt << 8 | 0x02)
    assert out["rule"] == rule
    assert trace == dte_reads(mem)  # no IRTE read: only fixed and arbitrated interrupts are remapped


# ---- host access / dirty updates (DTE.HAD, bits 8:7; 2.2.3 A bit 5, D bit 6) -------------
HAD_A, HAD_AD = 1 << 7, 3 << 7          # HAD = 01b: A only; 11b: A and D
A_BIT, D_BIT = 1 << 5, 1 << 6


def four_level(had: int, leaf_extra: int = 0):
    va = iova(i4=0x012, i3=0x034, i2=0x056, i1=0x078, off=0xABC)
    entries = {
        R + 0x012 * 8: T3 | nl(3) | PR | RW_OK,
        T3 + 0x034 * 8: T2 | nl(2) | PR | RW_OK,
        T2 + 0x056 * 8: T1 | nl(1) | PR | RW_OK,
        T1 + 0x078 * 8: PAGE | nl(0) | PR | RW_OK | leaf_extra,
    }
    return va, entries, walk_mem(V | TV | mode(4) | R | IR | IW | had, entries)


@pytest.mark.parametrize("kind, had, leaf_bits", [
    (DMA_WRITE, HAD_AD, A_BIT | D_BIT),   # 11b and a write: A everywhere, D in the PTE
    (DMA_READ, HAD_AD, A_BIT),            # 11b and a read: A only
    (DMA_WRITE, HAD_A, A_BIT),            # 01b: A only, even on a write
])
def test_had_sets_accessed_at_every_level_and_dirty_on_writes(ref, kind, had, leaf_bits):
    # After the four reads of the walk (root first), each entry is written back with A
    # (bit 5) set, root first; the PTE also gets D (bit 6) when HAD = 11b and the request
    # writes. The translation is unchanged.
    va, entries, mem = four_level(had)
    out, trace = run(ref, dict(mem), kind, address=va)
    f = fields(out)
    assert out["rule"] == "translated" and f["address"] == PAGE | 0xABC
    addrs = [R + 0x012 * 8, T3 + 0x034 * 8, T2 + 0x056 * 8, T1 + 0x078 * 8]
    writes = [(1, a, 8, entries[a] | A_BIT) for a in addrs[:3]] + [(1, addrs[3], 8, entries[addrs[3]] | leaf_bits)]
    assert trace == dte_reads(mem) + reads(mem, *addrs) + writes


@pytest.mark.parametrize("had", [0, 2 << 7])
def test_had_00b_and_reserved_10b_update_nothing(ref, had):
    va, entries, mem = four_level(had)
    out, trace = run(ref, dict(mem), DMA_WRITE, address=va)
    assert out["rule"] == "translated" and len(trace) == 4 + 4  # the DTE and the walk, no write


def test_had_writes_only_entries_that_change(ref):
    # The PTE already has A and D: only the three PDEs are written.
    va, entries, mem = four_level(HAD_AD, leaf_extra=A_BIT | D_BIT)
    out, trace = run(ref, dict(mem), DMA_WRITE, address=va)
    assert [t[1] for t in trace if t[0] == 1] == [R + 0x012 * 8, T3 + 0x034 * 8, T2 + 0x056 * 8]


def test_had_writes_nothing_when_the_walk_faults(ref):
    # The PTE denies writes (IW = 0): IO_PAGE_FAULT with PE, and no A/D update anywhere.
    va, entries, mem = four_level(HAD_AD)
    mem[T1 + 0x078 * 8] &= ~E_IW
    out, trace = run(ref, dict(mem), DMA_WRITE, address=va)
    f = fields(out)
    assert out["rule"] == "dma_page_fault" and f["entry_lo"] == iopf(F_PR | F_RW | F_PE)
    assert [t for t in trace if t[0] == 1] == logged_writes(iopf(F_PR | F_RW | F_PE), va)


# ---- the 128-bit IRTE (Control.GAEn = 1, 2.2.5.2) -----------------------------------------
# First quadword: RemapEn 0, SupIOPF 1, IntType 4:2 (GuestMode 0) / GALogIntr 2 (GuestMode 1),
# RqEoi 5, DM 6 (GuestMode 0) / IsRun 6 (GuestMode 1), GuestMode 7, Destination[23:0] 31:8,
# GATag 63:32; second quadword: Vector 7:0 (IRTE 71:64), GA root pointer 51:12 (IRTE 115:76),
# Destination[31:24] 63:56 (IRTE 127:120). The entry is at the table + index * 16.
GA_EN = 1 << 17
POSTED = 5
IRR_WORD = 0x7_7777_7000 + 0x210


def irte_ga(index: int, lo: int, hi: int, q2=REMAP_Q2) -> dict:
    mem = int_mem(q2)
    mem[MSI_TABLE + index * 16] = lo
    mem[MSI_TABLE + index * 16 + 8] = hi
    return mem


def test_ga_remapped_irte_is_16_bytes_with_a_32_bit_destination(ref):
    # Index 5: the entry at MSI_TABLE + 50h. Destination 0x12_345678: bits 23:0 from the
    # first quadword (345678h), bits 31:24 (12h) from IRTE bits 127:120.
    lo = 1 | 1 << 2 | 1 << 5 | 1 << 6 | 0x345678 << 8       # arbitrated, RqEoi, logical
    hi = 0x64 | 0x12 << 56
    mem = irte_ga(5, lo, hi)
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI, data=5, control=IOMMU_EN | EVENT_LOG_EN | GA_EN)
    f = fields(out)
    assert out["rule"] == "int_remapped" and f["outcome"] == REMAPPED
    assert (f["vector"], f["destination"], f["dest_mode"], f["int_type"], f["rq_eoi"]) == (0x64, 0x1234_5678, 1, 1, 1)
    assert trace == dte_reads(mem) + reads(mem, MSI_TABLE + 0x50, MSI_TABLE + 0x58)


@pytest.mark.parametrize("is_run, ga_log_intr, ga_log", [(1, 1, 0), (0, 1, 1), (0, 0, 0)])
def test_ga_guest_mode_posts_to_the_guest_vapic(ref, is_run, ga_log_intr, ga_log):
    # GuestMode = 1: posted with the IRTE's vector 0x3C, GATag 0xCAFE_F00D, backing page
    # 0x7_7777_7000 (GA root pointer bits 51:12 = 77_7777h) and destination 0x0000_0201; a
    # GA log entry is due when the vCPU does not run and GALogIntr = 1.
    lo = 1 | ga_log_intr << 2 | is_run << 6 | 1 << 7 | 0x000201 << 8 | 0xCAFE_F00D << 32
    hi = 0x3C | 0x77_7777 << 12
    # Index 0xFF (MSI data bits 10:8 = 000b, a fixed interrupt): the entry at + 0xFF0.
    mem = irte_ga(0xFF, lo, hi)
    mem[IRR_WORD] = 0x0000_0001
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI, data=0xFF, control=IOMMU_EN | EVENT_LOG_EN | GA_EN)
    f = fields(out)
    assert out["rule"] == "int_posted" and f["outcome"] == POSTED and f["code"] == NONE
    assert (f["vector"], f["destination"], f["ga_tag"], f["ga_root"]) == (0x3C, 0x201, 0xCAFE_F00D, 0x7_7777_7000)
    assert (f["is_run"], f["ga_log"], f["logged"]) == (is_run, ga_log, 0)
    # The vector's IRR bit in the backing page (APM 15.29.3.1: IRR at 200h, one 32-bit
    # register per 32 vectors, 16 bytes apart): vector 3Ch is register 1 (at + 210h), bit
    # 28; the word (holding bit 0 already) is read, then written back with bit 28 set.
    assert trace == dte_reads(mem) + reads(mem, MSI_TABLE + 0xFF0, MSI_TABLE + 0xFF8, IRR_WORD) + [
        (1, IRR_WORD, 8, 0x1000_0001)]


def test_ga_remap_disabled_is_a_page_fault_whatever_guest_mode(ref):
    lo = 0 | 1 << 7                                          # RemapEn = 0, GuestMode = 1
    mem = irte_ga(3, lo, 0x3C)
    out, trace = run(ref, dict(mem), INTERRUPT, address=MSI, data=3, control=IOMMU_EN | EVENT_LOG_EN | GA_EN)
    f = fields(out)
    assert out["rule"] == "int_page_fault" and f["entry_lo"] == iopf(F_I)
    assert trace == dte_reads(mem) + reads(mem, MSI_TABLE + 0x30, MSI_TABLE + 0x38) + logged_writes(iopf(F_I), MSI)


def test_guest_mode_in_the_32_bit_format_still_faults(ref):
    # GAEn = 0: GuestMode = 1 in a 4-byte IRTE is reserved (IO_PAGE_FAULT with RZ), not posted.
    mem = int_mem(REMAP_Q2, {3: irte(guest=1)})
    out, _ = run(ref, dict(mem), INTERRUPT, address=MSI, data=3)
    assert out["rule"] == "int_page_fault" and fields(out)["entry_lo"] == iopf(F_I | F_PR | F_RZ)
