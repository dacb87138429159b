"""Golden tests of the generated intel_vtd reference (VT-d legacy-mode DMA remapping and
interrupt remapping), expected values worked out by hand from the VT-d specification:

- 3.4.2 / 9.1 / 9.3: root table indexed by bus (16-byte entries: P bit 0, CTP 63:12,
  bits 11:1 and 127:64 reserved), context table indexed by devfn (16-byte entries: P 0,
  FPD 1, TT 3:2, bits 11:4 reserved, SLPTPTR 63:12, AW 66:64, bits 70:67 available, 71
  reserved, DID 87:72, 127:88 reserved); bits of a pointer above the host address width
  (48 here) are reserved;
- 3.7 / 9.8: second-level tables, 9-bit indexes from bit 12, 3/4/5 levels for AW 1/2/3;
  R bit 0, W bit 1, PS bit 7 (2-MByte at level 2, 1-GByte at level 3), bit 7 reserved at
  levels 4 and 5, bit 11 and bit 62 reserved in entries that reference a table, the
  frame bits of large pages reserved; permission is checked entry by entry before the
  reserved bits (7.1.3);
- appendix "Non-Recoverable Fault Reason Encodings": 1h, 2h, 3h, 4h, 5h, 6h, Ah, Bh, Ch,
  Dh, 20h, 21h, 22h, 24h, 25h, 26h;
- 9.9 / 10.4.14: FRCD_REG: FI 63:12, SID 79:64, FR 103:96, AT 125:124, T 126 (0 write,
  1 read), F 127; for interrupt faults FI bits 63:48 hold the interrupt_index;
- 5.1.2 / 5.1.4 / 9.10: remappable MSI (address bit 4 = 1, handle[14:0] in 19:5,
  handle[15] in bit 2, SHV bit 3, subhandle in data 15:0, data 31:16 reserved), IRTE
  (P 0, FPD 1, DM 2, RH 3, TM 4, DLM 7:5, bits 14:12 and 31:24 reserved, IM 15, V 23:16,
  DST 63:32 (xAPIC: 47:40, with 39:32 and 63:48 reserved), SID 79:64, SQ 81:80, SVT 83:82,
  127:84 reserved), table of 2^(S+1) entries.
"""
import pytest

from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

# requests (enum vtd_request / vtd_addr_type)
DMA_READ, DMA_WRITE, INTERRUPT = 1, 2, 3
UNTRANSLATED, TRANSLATED = 0, 2
# outcomes (enum vtd_outcome)
TRANSLATED_OUT, PASS_THROUGH, NOT_REMAPPED, BLOCKED, REMAPPED, FORWARDED = 1, 2, 3, 4, 5, 6

# GSTS_REG bits (10.4.5)
TES, IRES, CFIS = 1 << 31, 1 << 25, 1 << 23

RTA = 0x0000_0000_0010_0000          # root table
CTX_TABLE = 0x0000_0000_0020_0000    # context table of bus 3
BUS, DEVFN = 0x03, 0x42              # device 8, function 2
SID = BUS << 8 | DEVFN               # 0x0342
ROOT_E = RTA + BUS * 16              # 0x100030
CTX_E = CTX_TABLE + DEVFN * 16       # 0x200420
DID = 0x0055

R, W = 1, 2
PS = 1 << 7

IRT = 0x0000_0000_0040_0000          # interrupt-remapping table
MSI_BASE = 0xFEE0_0000


def frcd_hi(fr, t, at=UNTRANSLATED, sid=SID):
    return sid | fr << 32 | at << 60 | t << 62 | 1 << 63


def request(kind=DMA_READ, addr=0, at=UNTRANSLATED, sid=SID, msi_addr=0, msi_data=0,
            gsts=TES | IRES | CFIS, rtaddr=RTA, irta=IRT | 7, pmr=None):
    """A request with protected memory regions off (PMEN_REG = 0) unless `pmr` gives the
    PMR registers (tests/specs/test_vtd_pmr.py)."""
    pmr = pmr or {"PMEN_REG": 0, "PLMBASE_REG": 0, "PLMLIMIT_REG": 0, "PHMBASE_REG": 0, "PHMLIMIT_REG": 0}
    return {"kind": kind, "sid": sid, "at": at, "addr": addr, "msi_addr": msi_addr, "msi_data": msi_data, "nw": 0, "pv": 0, "pasid": 0,
            "GSTS_REG": gsts, "RTADDR_REG": rtaddr, "IRTA_REG": irta, **pmr}


def root(ctp=CTX_TABLE, p=1, hi=0):
    return {ROOT_E: ctp | p, ROOT_E + 8: hi}


def context(slpt, aw, tt=0, fpd=0, p=1, did=DID, lo_extra=0, hi_extra=0):
    return {CTX_E: slpt | tt << 2 | fpd << 1 | p | lo_extra, CTX_E + 8: aw | did << 8 | hi_extra}


def decide(ref, mem, req):
    trace = []
    out = ref.decide(dict(mem), req, trace)
    return out, trace


def reads(trace):
    assert all(op == 0 for op, _, _, _ in trace), "the unit never writes memory"
    return [addr for _, addr, _, _ in trace]


def blocked(out, rule, fr, t, recorded=1, at=UNTRANSLATED, addr=None, fi_lo=None):
    """Check a blocked DMA request's rule, reason and fault record."""
    assert out["exit"] and out["rule"] == rule, out
    f = out["fields"]
    assert f["outcome"] == BLOCKED
    assert f["fault_reason"] == fr
    assert f["recorded"] == recorded
    assert f["frcd_hi"] == frcd_hi(fr, t, at)
    if addr is not None:
        assert f["frcd_lo"] == addr & ~0xFFF & (1 << 64) - 1
    if fi_lo is not None:
        assert f["frcd_lo"] == fi_lo
    assert f["address"] == 0


@pytest.fixture(scope="module")
def ref(generated):
    return generated["intel_vtd"][0]


# ==========================================================================================
# DMA remapping: root and context entries
# ==========================================================================================
def test_remapping_disabled_reads_nothing(ref):
    out, trace = decide(ref, {}, request(DMA_WRITE, addr=0x1234_5678_9ABC, gsts=IRES))
    assert out == {"exit": True, "rule": "dma_not_remapped",
                   "fields": {**{k: 0 for k in ref.RECORD_FIELDS}, "outcome": NOT_REMAPPED, "address": 0x1234_5678_9ABC}}
    assert trace == []


def test_root_not_present_reads_both_words_of_the_entry(ref):
    addr = 0x0000_7F12_3456_7ABC
    out, trace = decide(ref, {ROOT_E: CTX_TABLE}, request(DMA_READ, addr=addr))
    assert reads(trace) == [0x100030, 0x100038]
    blocked(out, "root_not_present", 0x01, t=1, addr=addr)
    assert out["fields"]["frcd_lo"] == 0x0000_7F12_3456_7000


def test_root_not_present_write_request_has_type_0(ref):
    out, _ = decide(ref, {}, request(DMA_WRITE, addr=0xABC))
    blocked(out, "root_not_present", 0x01, t=0, fi_lo=0)
    assert out["fields"]["frcd_hi"] == 0x8000_0001_0000_0342


@pytest.mark.parametrize("lo, hi", [
    (CTX_TABLE | 1 | 1 << 1, 0),          # bit 1 (reserved 11:1)
    (CTX_TABLE | 1 | 1 << 11, 0),         # bit 11
    (CTX_TABLE | 1 | 1 << 48, 0),         # CTP above HAW = 48
    (CTX_TABLE | 1, 1 << 0),              # bit 64 (reserved 127:64)
    (CTX_TABLE | 1, 1 << 63),             # bit 127
])
def test_root_reserved_bits(ref, lo, hi):
    out, trace = decide(ref, {ROOT_E: lo, ROOT_E + 8: hi}, request(DMA_READ, addr=0x5000))
    assert reads(trace) == [ROOT_E, ROOT_E + 8]
    blocked(out, "root_reserved", 0x0A, t=1, fi_lo=0x5000)


def test_context_not_present_is_recorded_unless_fpd(ref):
    mem = {**root(), **context(0x30_0000, aw=2, p=0)}
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=0x0000_0001_2345_6789))
    assert reads(trace) == [ROOT_E, ROOT_E + 8, CTX_E, CTX_E + 8] == [0x100030, 0x100038, 0x200420, 0x200428]
    blocked(out, "context_not_present", 0x02, t=0, fi_lo=0x0000_0001_2345_6000)
    # FPD = 1 in the (not present) context entry: still blocked, not recorded
    mem = {**root(), **context(0x30_0000, aw=2, p=0, fpd=1)}
    out, _ = decide(ref, mem, request(DMA_WRITE, addr=0x0000_0001_2345_6789))
    blocked(out, "context_not_present", 0x02, t=0, recorded=0)


@pytest.mark.parametrize("lo_extra, hi_extra", [
    (1 << 4, 0),          # bit 4 (reserved 11:4)
    (1 << 11, 0),         # bit 11
    (1 << 50, 0),         # SLPTPTR above HAW
    (0, 1 << 7),          # bit 71
    (0, 1 << 24),         # bit 88 (reserved 127:88)
    (0, 1 << 63),         # bit 127
])
def test_context_reserved_bits(ref, lo_extra, hi_extra):
    mem = {**root(), **context(0x30_0000, aw=2, lo_extra=lo_extra, hi_extra=hi_extra, fpd=1)}
    out, trace = decide(ref, mem, request(DMA_READ, addr=0x7000))
    assert reads(trace) == [ROOT_E, ROOT_E + 8, CTX_E, CTX_E + 8]
    # Bh is not a qualified fault: FPD does not suppress it
    blocked(out, "context_reserved", 0x0B, t=1, fi_lo=0x7000)


def test_available_context_bits_are_ignored(ref):
    mem = {**root(), **context(0x30_0000, aw=2, tt=2, hi_extra=0xF << 3)}
    out, _ = decide(ref, mem, request(DMA_READ, addr=0x7000))
    assert out["rule"] == "pass_through"


@pytest.mark.parametrize("tt, aw, rule", [
    (3, 2, "context_tt_invalid"),
    (0, 0, "context_aw_invalid"),
    (0, 4, "context_aw_invalid"),
    (1, 7, "context_aw_invalid"),
    (2, 0, "context_aw_invalid"),   # pass-through needs a supported AW too
])
def test_invalid_context_programming(ref, tt, aw, rule):
    mem = {**root(), **context(0x30_0000, aw=aw, tt=tt)}
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=0x8000))
    assert len(trace) == 4
    blocked(out, rule, 0x03, t=0, fi_lo=0x8000)


def test_translated_request_blocked_by_tt_00(ref):
    mem = {**root(), **context(0x30_0000, aw=2, tt=0)}
    out, trace = decide(ref, mem, request(DMA_READ, addr=0x0000_0040_0000_1000, at=TRANSLATED))
    assert len(trace) == 4
    blocked(out, "translation_type_blocked", 0x0D, t=1, at=TRANSLATED, fi_lo=0x0000_0040_0000_1000)
    assert out["fields"]["frcd_hi"] == 0xE000_000D_0000_0342   # F, T = read, AT = 10b


def test_translated_request_blocked_by_pass_through(ref):
    mem = {**root(), **context(0, aw=3, tt=2, fpd=1)}
    out, _ = decide(ref, mem, request(DMA_WRITE, addr=0x9000, at=TRANSLATED))
    blocked(out, "translation_type_blocked", 0x0D, t=0, at=TRANSLATED, recorded=0)


def test_translated_request_with_device_tlb_is_not_translated_again(ref):
    mem = {**root(), **context(0x30_0000, aw=1, tt=1, did=0xBEEF)}
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=0x0000_0123_4567_8ABC, at=TRANSLATED))
    assert len(trace) == 4
    assert out["rule"] == "translated_request"
    assert out["fields"]["outcome"] == PASS_THROUGH
    assert out["fields"]["address"] == 0x0000_0123_4567_8ABC
    assert out["fields"]["domain"] == 0xBEEF


def test_pass_through_keeps_the_address_without_a_width_check(ref):
    mem = {**root(), **context(0x30_0000, aw=1, tt=2, did=0x1234)}
    addr = 0xFFFF_0000_1234_5678   # far above 2^39
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr))
    assert reads(trace) == [ROOT_E, ROOT_E + 8, CTX_E, CTX_E + 8]
    assert out["rule"] == "pass_through"
    assert out["fields"]["outcome"] == PASS_THROUGH
    assert out["fields"]["address"] == addr
    assert out["fields"]["domain"] == 0x1234
    assert out["fields"]["fault_reason"] == 0


@pytest.mark.parametrize("aw, addr", [
    (1, 1 << 39),
    (1, 0x0000_8000_0000_0000),
    (2, 1 << 48),
    (3, 1 << 57),
    (3, 1 << 63),
])
def test_address_beyond_the_guest_address_width(ref, aw, addr):
    mem = {**root(), **context(0x30_0000, aw=aw, tt=0)}
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr | 0x123))
    assert len(trace) == 4, "decided before the walk"
    blocked(out, "address_beyond_width", 0x04, t=1, fi_lo=addr)


# ==========================================================================================
# DMA remapping: second-level walks
# ==========================================================================================
T5, T4, T3, T2, T1 = 0x0030_0000, 0x0031_0000, 0x0032_0000, 0x0033_0000, 0x0034_0000


def entry_addr(table, addr, level):
    return table + ((addr >> (12 + 9 * (level - 1))) & 0x1FF) * 8


def test_three_level_walk_4k(ref):
    addr = 0x0000_0045_6789_ABCD                     # < 2^39
    # indexes: L3 = addr[38:30] = 0x115, L2 = addr[29:21] = 0x13C, L1 = addr[20:12] = 0x09A
    e3, e2, e1 = T3 + 0x115 * 8, T2 + 0x13C * 8, T1 + 0x09A * 8
    assert (e3, e2, e1) == (0x3208A8, 0x3309E0, 0x3404D0)
    page = 0x0000_0ABC_DEF1_2000
    mem = {**root(), **context(T3, aw=1, did=7), e3: T2 | R | W, e2: T1 | R | W, e1: page | R | W}
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=addr))
    assert reads(trace) == [ROOT_E, ROOT_E + 8, CTX_E, CTX_E + 8, e3, e2, e1]
    assert out["rule"] == "translated"
    f = out["fields"]
    assert (f["outcome"], f["address"], f["domain"], f["fault_reason"]) == (TRANSLATED_OUT, 0x0000_0ABC_DEF1_2BCD, 7, 0)


def test_four_level_walk_4k(ref):
    addr = 0x0000_1234_5678_9ABC
    # L4 = 0x024, L3 = 0x0D1, L2 = 0x0B3, L1 = 0x189
    e4, e3, e2, e1 = T4 + 0x024 * 8, T3 + 0x0D1 * 8, T2 + 0x0B3 * 8, T1 + 0x189 * 8
    assert [entry_addr(t, addr, lv) for t, lv in ((T4, 4), (T3, 3), (T2, 2), (T1, 1))] == [e4, e3, e2, e1]
    mem = {**root(), **context(T4, aw=2), e4: T3 | R, e3: T2 | R, e2: T1 | R, e1: 0x0000_0000_7777_7000 | R}
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr))
    assert reads(trace)[4:] == [e4, e3, e2, e1]
    assert out["rule"] == "translated"
    assert out["fields"]["address"] == 0x0000_0000_7777_7ABC


def test_five_level_walk_4k(ref):
    addr = 0x01AB_CDEF_0123_4567                      # < 2^57
    # L5 = addr[56:48] = 0x1AB, L4 = 0x19B, L3 = 0x1BC, L2 = 0x009, L1 = 0x034
    idx = [(addr >> s) & 0x1FF for s in (48, 39, 30, 21, 12)]
    assert idx == [0x1AB, 0x19B, 0x1BC, 0x009, 0x034]
    tables = [T5, T4, T3, T2, T1]
    ents = [t + i * 8 for t, i in zip(tables, idx)]
    page = 0x0000_00FF_FFFF_F000
    mem = {**root(), **context(T5, aw=3)}
    for e, nxt in zip(ents, tables[1:] + [page]):
        mem[e] = nxt | R | W
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=addr))
    assert reads(trace)[4:] == ents
    assert out["rule"] == "translated"
    assert out["fields"]["address"] == 0x0000_00FF_FFFF_F567


def test_2m_page(ref):
    addr = 0x0000_0000_4020_1234                     # L4 0, L3 1, L2 0x001, offset 0x001234 in 2M
    e4, e3, e2 = T4, T3 + 1 * 8, T2 + 1 * 8
    mem = {**root(), **context(T4, aw=2), e4: T3 | R | W, e3: T2 | R | W, e2: 0x0000_0001_2340_0000 | PS | R | W}
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr))
    assert reads(trace)[4:] == [e4, e3, e2]
    assert out["rule"] == "translated"
    assert out["fields"]["address"] == 0x0000_0001_2340_0000 + 0x00_1234


def test_1g_page(ref):
    addr = 0x0000_0040_1234_5678                     # 3 levels: L3 = 0x100, offset 0x12345678
    e3 = T3 + 0x100 * 8
    mem = {**root(), **context(T3, aw=1), e3: 0x0000_00C0_0000_0000 | PS | R}
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr))
    assert reads(trace)[4:] == [e3]
    assert out["fields"]["address"] == 0x0000_00C0_1234_5678


def test_ignored_bits_of_entries(ref):
    # bits 61:52 and 63, A (8), D (9), EMT (5:3), IPAT (6), X (2) are ignored in legacy mode
    ign = 0xBFF0_0000_0000_0000 | 1 << 8 | 0b111 << 2
    addr = 0x0000_0000_0020_3000
    e3, e2, e1 = T3, T2 + 1 * 8, T1 + 3 * 8
    mem = {**root(), **context(T3, aw=1), e3: T2 | R | W | ign, e2: T1 | R | W | ign,
           e1: 0x5000 | R | W | ign | 1 << 9 | 1 << 6}
    out, _ = decide(ref, mem, request(DMA_WRITE, addr=addr))
    assert out["rule"] == "translated"
    assert out["fields"]["address"] == 0x5000


def walk_mem(addr, aw, leaf_level=1, perms=None, extra=None, page=0x0000_00C0_0000_0000):
    """Tables for `addr` with entries at the listed levels having permissions `perms`
    (level -> bits) and extra bits `extra` (level -> bits); returns (mem, entry addresses)."""
    top = {1: 3, 2: 4, 3: 5}[aw]
    tables = {5: T5, 4: T4, 3: T3, 2: T2, 1: T1}
    perms, extra = perms or {}, extra or {}
    mem = {**root(), **context(tables[top], aw=aw)}
    ents = []
    for lv in range(top, leaf_level - 1, -1):
        e = entry_addr(tables[lv], addr, lv)
        target = tables[lv - 1] if lv > leaf_level else page | (PS if lv > 1 else 0)
        mem[e] = target | perms.get(lv, R | W) | extra.get(lv, 0)
        ents.append(e)
    return mem, ents


def test_write_to_read_only_page(ref):
    addr = 0x0000_0000_1234_5678
    mem, ents = walk_mem(addr, aw=2, perms={1: R})
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=addr))
    assert reads(trace)[4:] == ents
    blocked(out, "write_denied", 0x05, t=0, fi_lo=0x0000_0000_1234_5000)
    assert out["fields"]["frcd_hi"] == 0x8000_0005_0000_0342


def test_write_denied_not_recorded_with_fpd(ref):
    addr = 0x0000_0000_1234_5678
    mem, _ = walk_mem(addr, aw=2, perms={1: R})
    mem[CTX_E] |= 1 << 1
    out, _ = decide(ref, mem, request(DMA_WRITE, addr=addr))
    blocked(out, "write_denied", 0x05, t=0, recorded=0)


def test_read_of_write_only_page(ref):
    addr = 0x0000_0000_0000_1000
    mem, ents = walk_mem(addr, aw=1, perms={1: W})
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr))
    assert reads(trace)[4:] == ents
    blocked(out, "read_denied", 0x06, t=1, fi_lo=0x1000)


@pytest.mark.parametrize("kind, fr, rule, t", [(DMA_READ, 0x06, "read_denied", 1), (DMA_WRITE, 0x05, "write_denied", 0)])
def test_not_present_entry_stops_the_walk(ref, kind, fr, rule, t):
    addr = 0x0000_1234_5678_9ABC
    mem, ents = walk_mem(addr, aw=2, perms={3: 0})      # R = W = 0 at level 3
    out, trace = decide(ref, mem, request(kind, addr=addr))
    assert reads(trace)[4:] == ents[:2]
    blocked(out, rule, fr, t=t, fi_lo=0x0000_1234_5678_9000)


def test_write_denied_at_a_table_level(ref):
    addr = 0x00FF_0000_0000_0000
    mem, ents = walk_mem(addr, aw=3, perms={4: R})       # the PML4E grants only read
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=addr))
    assert reads(trace)[4:] == ents[:2]
    blocked(out, "write_denied", 0x05, t=0, fi_lo=addr)


def test_permission_is_checked_before_reserved_bits(ref):
    addr = 0x0000_0000_0040_0000
    mem, ents = walk_mem(addr, aw=1, perms={2: W}, extra={2: 1 << 62})
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr))
    assert reads(trace)[4:] == ents[:2]
    blocked(out, "read_denied", 0x06, t=1)
    # the same entry for a write: the write is permitted there, then the reserved bit counts
    out, _ = decide(ref, mem, request(DMA_WRITE, addr=addr))
    blocked(out, "paging_reserved", 0x0C, t=0, fi_lo=addr)


@pytest.mark.parametrize("aw, level, bit, leaf_level", [
    (3, 5, 7, 1),      # PS is reserved in an SL-PML5E
    (2, 4, 7, 1),      # ... and in an SL-PML4E
    (2, 4, 11, 1),     # bit 11 of an entry that references a table
    (1, 3, 62, 1),     # bit 62 of an entry that references a table
    (1, 2, 48, 1),     # address bit above HAW (48)
    (1, 1, 51, 1),     # ... in a leaf
    (1, 2, 12, 2),     # 2-MByte frame bits 20:12
    (1, 2, 20, 2),
    (1, 3, 29, 3),     # 1-GByte frame bits 29:12
])
def test_reserved_bits_in_second_level_entries(ref, aw, level, bit, leaf_level):
    addr = 0x0000_0000_0000_0000
    mem, ents = walk_mem(addr, aw=aw, leaf_level=leaf_level, extra={level: 1 << bit})
    top = {1: 3, 2: 4, 3: 5}[aw]
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr))
    assert reads(trace)[4:] == ents[:top - level + 1]
    blocked(out, "paging_reserved", 0x0C, t=1, fi_lo=0)


def test_snp_and_tm_are_leaf_fields(ref):
    # with snoop control and device-TLB support, SNP (11) and TM (62) are defined in leaves
    addr = 0x3000
    mem, _ = walk_mem(addr, aw=1, extra={1: 1 << 11 | 1 << 62})
    out, _ = decide(ref, mem, request(DMA_READ, addr=addr))
    assert out["rule"] == "translated"
    assert out["fields"]["address"] == 0x0000_00C0_0000_0000


# ==========================================================================================
# Interrupt remapping
# ==========================================================================================
def msi(handle, shv=0, remappable=1):
    """A remappable-format MSI address: handle[14:0] in 19:5, handle[15] in 2, SHV 3, bit 4."""
    return MSI_BASE | (handle & 0x7FFF) << 5 | (handle >> 15) << 2 | shv << 3 | remappable << 4


def irte(p=1, fpd=0, dm=0, rh=0, tm=0, dlm=0, im=0, v=0, dst=0, sid=0, sq=0, svt=0, lo_extra=0, hi_extra=0):
    lo = p | fpd << 1 | dm << 2 | rh << 3 | tm << 4 | dlm << 5 | im << 15 | v << 16 | dst << 32 | lo_extra
    hi = sid | sq << 16 | svt << 18 | hi_extra
    return lo, hi


def irt_mem(index, entry):
    return {IRT + index * 16: entry[0], IRT + index * 16 + 8: entry[1]}


def ir_blocked(out, rule, fr, index, recorded=1):
    assert out["exit"] and out["rule"] == rule, out
    f = out["fields"]
    assert (f["outcome"], f["fault_reason"], f["recorded"]) == (BLOCKED, fr, recorded)
    assert f["frcd_lo"] == index << 48
    assert f["frcd_hi"] == SID | fr << 32 | 1 << 63
    assert f["vector"] == f["destination"] == 0


def test_interrupt_remapping_disabled(ref):
    out, trace = decide(ref, {}, request(INTERRUPT, msi_addr=msi(5), gsts=TES))
    assert out["rule"] == "interrupt_not_remapped" and out["fields"]["outcome"] == FORWARDED
    assert trace == []


def test_compatibility_format_forwarded(ref):
    out, trace = decide(ref, {}, request(INTERRUPT, msi_addr=MSI_BASE | 0x0010_0000, msi_data=0x41,
                                         gsts=IRES | CFIS))
    assert out["rule"] == "compat_forwarded" and out["fields"]["outcome"] == FORWARDED
    assert trace == []


@pytest.mark.parametrize("gsts, irta", [(IRES, IRT | 7), (IRES | CFIS, IRT | 7 | 1 << 11)])
def test_compatibility_format_blocked(ref, gsts, irta):
    out, trace = decide(ref, {}, request(INTERRUPT, msi_addr=MSI_BASE, gsts=gsts, irta=irta))
    assert trace == []
    ir_blocked(out, "compat_blocked", 0x25, 0)


def test_remappable_request_with_reserved_data_bits(ref):
    out, trace = decide(ref, {}, request(INTERRUPT, msi_addr=msi(3), msi_data=0x0001_0000))
    assert trace == []
    ir_blocked(out, "interrupt_request_reserved", 0x20, 3)


def test_index_beyond_table_size(ref):
    # S = 0: 2 entries; handle 2 is outside
    out, trace = decide(ref, {}, request(INTERRUPT, msi_addr=msi(2), irta=IRT | 0))
    assert trace == []
    ir_blocked(out, "interrupt_index_beyond_table", 0x21, 2)
    # handle 1 is inside: the IRTE is read (and is not present)
    out, trace = decide(ref, {}, request(INTERRUPT, msi_addr=msi(1), irta=IRT | 0))
    assert reads(trace) == [IRT + 16, IRT + 24]


def test_handle_bit_15_and_subhandle(ref):
    # handle = 0x8003 (bit 15 from address bit 2), SHV = 1, subhandle 0x10: index 0x8013
    index = 0x8013
    mem = irt_mem(index, irte(v=0x31, dst=0x0200))
    out, trace = decide(ref, mem, request(INTERRUPT, msi_addr=msi(0x8003, shv=1), msi_data=0x0010, irta=IRT | 15))
    assert reads(trace) == [IRT + index * 16, IRT + index * 16 + 8] == [0x480130, 0x480138]
    assert out["rule"] == "interrupt_remapped"
    assert (out["fields"]["int_index"], out["fields"]["vector"], out["fields"]["destination"]) == (index, 0x31, 0x02)


def test_subhandle_ignored_without_shv(ref):
    mem = irt_mem(4, irte(v=0x20))
    out, trace = decide(ref, mem, request(INTERRUPT, msi_addr=msi(4), msi_data=0x00FF))
    assert reads(trace) == [IRT + 64, IRT + 72]
    assert out["fields"]["int_index"] == 4


def test_irte_not_present(ref):
    mem = irt_mem(6, irte(p=0, v=0x99))
    out, trace = decide(ref, mem, request(INTERRUPT, msi_addr=msi(6)))
    assert reads(trace) == [IRT + 96, IRT + 104]
    ir_blocked(out, "irte_not_present", 0x22, 6)
    mem = irt_mem(6, irte(p=0, fpd=1))
    out, _ = decide(ref, mem, request(INTERRUPT, msi_addr=msi(6)))
    ir_blocked(out, "irte_not_present", 0x22, 6, recorded=0)


@pytest.mark.parametrize("lo_extra, hi_extra, eime", [
    (1 << 12, 0, 0),          # bits 14:12
    (1 << 31, 0, 0),          # bits 31:24
    (1 << 15 | 1 << 2, 0, 0),  # IM = 1 (posted format, CAP_REG.PI = 1): bits 7:2 reserved
    (1 << 32, 0, 0),          # xAPIC mode: bits 39:32 reserved
    (1 << 48, 0, 0),          # xAPIC mode: bits 63:48 reserved
    (0, 1 << 20, 0),          # bits 127:84
    (0, 1 << 63, 1),
])
def test_irte_reserved_bits(ref, lo_extra, hi_extra, eime):
    mem = irt_mem(1, irte(lo_extra=lo_extra, hi_extra=hi_extra))
    out, _ = decide(ref, mem, request(INTERRUPT, msi_addr=msi(1), irta=IRT | 7 | eime << 11))
    ir_blocked(out, "irte_reserved", 0x24, 1)


def test_irte_reserved_suppressed_by_fpd(ref):
    mem = irt_mem(1, irte(fpd=1, lo_extra=1 << 13))
    out, _ = decide(ref, mem, request(INTERRUPT, msi_addr=msi(1)))
    ir_blocked(out, "irte_reserved", 0x24, 1, recorded=0)


@pytest.mark.parametrize("svt, sq, irte_sid, ok", [
    (0, 0, 0xFFFF, True),            # no verification
    (1, 0, SID, True),
    (1, 0, SID ^ 0x0004, False),     # all 16 bits compared
    (1, 1, SID ^ 0x0004, True),      # SQ = 01b: bit 2 ignored
    (1, 1, SID ^ 0x0002, False),
    (1, 2, SID ^ 0x0006, True),      # SQ = 10b: bits 2:1 ignored
    (1, 3, SID ^ 0x0007, True),      # SQ = 11b: bits 2:0 ignored
    (1, 3, SID ^ 0x0008, False),
    (2, 0, 0x0203, True),            # bus range 02..03 holds bus 03
    (2, 0, 0x0303, True),
    (2, 0, 0x0410, False),
    (2, 0, 0x0002, False),
    (3, 0, SID, False),              # SVT = 11b reserved: verification fails
])
def test_source_id_verification(ref, svt, sq, irte_sid, ok):
    mem = irt_mem(2, irte(v=0x40, sid=irte_sid, sq=sq, svt=svt))
    out, _ = decide(ref, mem, request(INTERRUPT, msi_addr=msi(2)))
    if ok:
        assert out["rule"] == "interrupt_remapped"
    else:
        ir_blocked(out, "source_id_invalid", 0x26, 2)


def test_remapped_interrupt_xapic(ref):
    entry = irte(dm=1, rh=1, tm=1, dlm=0b001, v=0xEC, dst=0x5A00, sid=SID, svt=1)
    mem = irt_mem(9, entry)
    assert mem[IRT + 9 * 16] == 0x0000_5A00_00EC_003D
    out, trace = decide(ref, mem, request(INTERRUPT, msi_addr=msi(9), msi_data=0))
    assert reads(trace) == [IRT + 0x90, IRT + 0x98]
    assert out == {"exit": True, "rule": "interrupt_remapped", "fields": {
        **{k: 0 for k in ref.RECORD_FIELDS}, "outcome": REMAPPED, "int_index": 9, "vector": 0xEC,
        "destination": 0x5A, "dest_mode": 1, "redir_hint": 1, "trigger_mode": 1, "delivery_mode": 1}}


def test_remapped_interrupt_x2apic(ref):
    mem = irt_mem(0x100, irte(dlm=0b100, v=0x02, dst=0x1234_5678, lo_extra=0xF << 8))   # AVL bits ignored
    out, _ = decide(ref, mem, request(INTERRUPT, msi_addr=msi(0x100), irta=IRT | 8 | 1 << 11))
    assert out["rule"] == "interrupt_remapped"
    f = out["fields"]
    assert (f["destination"], f["vector"], f["delivery_mode"], f["dest_mode"]) == (0x1234_5678, 0x02, 4, 0)


# ==========================================================================================
# The MyHDL model agrees with the reference on the hand-built images above
# ==========================================================================================
def _golden_scenarios():
    out = []
    addr = 0x01AB_CDEF_0123_4567
    mem, _ = walk_mem(addr, aw=3)
    out.append((mem, request(DMA_WRITE, addr=addr)))
    mem, _ = walk_mem(0x0000_0000_4020_1234, aw=2, leaf_level=2)
    out.append((mem, request(DMA_READ, addr=0x0000_0000_4020_1234)))
    mem, _ = walk_mem(0x0000_0040_1234_5678, aw=1, leaf_level=3)
    out.append((mem, request(DMA_READ, addr=0x0000_0040_1234_5678)))
    mem, _ = walk_mem(0x1234_5000, aw=2, perms={1: R})
    out.append((mem, request(DMA_WRITE, addr=0x1234_5000)))
    mem, _ = walk_mem(0x40_0000, aw=1, perms={2: W}, extra={2: 1 << 62})
    out.append((mem, request(DMA_READ, addr=0x40_0000)))
    out.append((mem, request(DMA_WRITE, addr=0x40_0000)))
    mem, _ = walk_mem(0, aw=3, extra={5: 1 << 7})
    out.append((mem, request(DMA_READ, addr=0)))
    out.append(({**root(), **context(0x30_0000, aw=1, tt=2)}, request(DMA_READ, addr=1 << 60)))
    out.append(({**root(), **context(0x30_0000, aw=1)}, request(DMA_READ, addr=1 << 40)))
    out.append(({**root(), **context(0x30_0000, aw=5)}, request(DMA_READ, addr=0)))
    out.append(({**root(), **context(0x30_0000, aw=2, tt=0)}, request(DMA_READ, addr=0, at=TRANSLATED)))
    out.append(({**root(), **context(0x30_0000, aw=2, p=0, fpd=1)}, request(DMA_READ, addr=0)))
    out.append(({ROOT_E: CTX_TABLE | 1 | 2}, request(DMA_READ, addr=0)))
    out.append(({}, request(DMA_READ, addr=0x1000)))
    out.append((irt_mem(0x8013, irte(v=0x31, dst=0x0200)),
                request(INTERRUPT, msi_addr=msi(0x8003, shv=1), msi_data=0x10, irta=IRT | 15)))
    out.append((irt_mem(2, irte(sid=SID ^ 8, sq=3, svt=1)), request(INTERRUPT, msi_addr=msi(2))))
    out.append((irt_mem(1, irte(lo_extra=1 << 32)), request(INTERRUPT, msi_addr=msi(1))))
    out.append(({}, request(INTERRUPT, msi_addr=MSI_BASE, gsts=IRES)))
    return out


def test_model_agrees_with_reference_on_golden_images(generated):
    ref, model = generated["intel_vtd"]
    scenarios = [Scenario(req, mem, latency_seed=i) for i, (mem, req) in enumerate(_golden_scenarios())]
    runs = run_model(model, ref, scenarios)
    for sc, model_run in zip(scenarios, runs):
        trace = []
        mem = dict(sc.memory)
        ref_run = Run(ref.decide(mem, sc.request, trace), trace, mem)
        assert compare(ref_run, model_run) == [], sc.request
