"""Golden tests of the generated pcie_sriov reference (SR-IOV), expected values by hand.

Every Routing ID, address and memory reference below is worked out from the PCI Express
Base Specification r5.0, not from the spec file:

- 9.3.3 Figure 9-9 (the SR-IOV Extended Capability): header 00h (ID 0010h, version 1h),
  SR-IOV Capabilities 04h, Control 08h (VF Enable bit 0, VF MSE bit 3, ARI Capable
  Hierarchy bit 4), Status 0Ah, InitialVFs 0Ch, TotalVFs 0Eh, NumVFs 10h, Function
  Dependency Link 12h, First VF Offset 14h, VF Stride 16h, VF Device ID 1Ah, Supported
  Page Sizes 1Ch, System Page Size 20h, VF BAR0-5 24h-38h, VF Migration State Array
  Offset 3Ch (the same offsets as Linux pci_regs.h PCI_SRIOV_*);
- 9.2.1.2, 9.3.3.9, 9.3.3.10: RID(VF n) = PF RID + First VF Offset + (n - 1) x VF Stride,
  in 16-bit arithmetic (bus 15:8, devfn 7:0);
- 9.3.3.13, 9.3.3.14: System Page Size bit k means 2^(k+12) bytes; each VF's aperture in
  a VF BAR is a multiple of it; VF n's aperture starts at VF BARx + (n - 1) x aperture;
  a 64-bit VF BAR takes the next register as bits 63:32;
- 7.2.2 Table 7-1 (ECAM): a function's configuration space is at base + (RID << 12);
- 9.3.4.1.3: a VF's Command register (04h) has Bus Master Enable at bit 2.

Memory is little-endian 64-bit words: the capability at a multiple of 8 puts the header in
bits 31:0 of word 00h and SR-IOV Capabilities in bits 63:32, and so on.
"""
import pytest

ECAM = 0xE000_0000            # ECAM.BASE = 0xE (bits 51:28)
PF_RID = 0x0300               # PF 03:00.0
CAP = 0x160                   # the SR-IOV capability's offset in the PF's configuration space

# request kinds (enum sriov_request)
DMA_READ, DMA_WRITE, MMIO_READ, MMIO_WRITE, CFG_READ, CFG_WRITE = range(6)

VFE, MSE, ARI = 1 << 0, 1 << 3, 1 << 4      # SR-IOV Control bits (9.3.3.3)
BAR32, BAR64, PREF = 0x0, 0x4, 0x8          # VF BAR type (bits 2:1 = 00b, 10b) and prefetchable
SUPPORTED = 0x553                           # 4K, 8K, 64K, 256K, 1M, 4M (bits 0, 1, 4, 6, 8, 10)
PAGE_4K, PAGE_64K = 1 << 0, 1 << 4


@pytest.fixture(scope="module")
def ref(generated):
    return generated["pcie_sriov"][0]


def capability(ctrl=VFE | MSE | ARI, total=64, num=64, first=0x80, stride=2, sup=SUPPORTED, sys=PAGE_4K,
               bars=(0, 0, 0, 0, 0, 0), cap_id=0x0010, version=1, at=CAP, pf_rid=PF_RID):
    """The capability's registers as 64-bit memory words, at byte offset `at` (a multiple of
    4) of the PF's configuration space: each dword placed by its offset."""
    dwords = {
        0x00: cap_id | version << 16,
        0x04: 0,                              # SR-IOV Capabilities
        0x08: ctrl,                           # Control (15:0), Status (31:16) = 0
        0x0C: 1 | total << 16,                # InitialVFs = 1, TotalVFs
        0x10: num,                            # NumVFs, Function Dependency Link = 0
        0x14: first | stride << 16,           # First VF Offset, VF Stride
        0x18: 0x10CA << 16,                   # VF Device ID
        0x1C: sup,
        0x20: sys,
        **{0x24 + 4 * i: b for i, b in enumerate(bars)},
        0x3C: 0,                              # VF Migration State Array Offset
    }
    base = ECAM + (pf_rid << 12) + at
    mem: dict[int, int] = {}
    for off, v in dwords.items():
        a = base + off
        mem[a & ~7] = mem.get(a & ~7, 0) | (v << (8 * (a & 7)))
    return mem


def run(ref, mem, kind=DMA_READ, vf=1, addr=0x1234_5000, bar=0, offset=0, pf_rid=PF_RID, cap=CAP,
        sub_bus=5, sizes=(0, 0, 0, 0, 0, 0)):
    request = {
        "kind": kind, "vf": vf, "addr": addr, "bar": bar, "offset": offset,
        "ECAM": ECAM,                                             # BASE [51:28]
        "PF": pf_rid | (cap // 4) << 16 | sub_bus << 32,         # RID, CAP (DWORD index), SUB_BUS
        "VF_BAR_SIZE": sum(s << (6 * i) for i, s in enumerate(sizes)),
    }
    trace = []
    out = ref.decide(mem, request, trace)
    return out, trace


def bus_master(rid, on=True):
    """A VF's Command register (Bus Master Enable = bit 2) at ECAM + (RID << 12) + 4: bits
    47:32 of the word at ECAM + (RID << 12)."""
    return {ECAM + (rid << 12): (0x4 if on else 0) << 32}


# ---- Routing IDs ------------------------------------------------------------------------

@pytest.mark.parametrize("vf, rid", [
    (1, 0x0380),      # 0x0300 + 0x80 + 0 x 2 = 0x0380: bus 03, devfn 80h (device 16, function 0)
    (3, 0x0384),      # 0x0300 + 0x80 + 2 x 2 = 0x0384: bus 03, devfn 84h (device 16, function 4)
    (64, 0x03FE),     # 0x0300 + 0x80 + 63 x 2 = 0x03FE: the last devfn pair on bus 03
    (65, 0x0400),     # 0x0300 + 0x80 + 64 x 2 = 0x0400: bus 04, devfn 00 (spills onto the next bus)
])
def test_dma_gives_the_vf_routing_id(ref, vf, rid):
    """The record's rid is bus [15:8], devfn [7:0]: what an IOMMU indexes its root and
    context tables with (VT-d source-id) or its device table with (AMD DeviceID)."""
    mem = {**capability(total=128, num=128), **bus_master(rid)}
    out, trace = run(ref, mem, kind=DMA_WRITE, vf=vf, addr=0xFEED_F000)
    assert out == {"exit": True, "rule": "dma", "fields": {
        "rid": rid, "vf": vf, "addr": 0xFEED_F000, "write": 1}}
    # the capability's eight words (00h-38h) in order, then the VF's Command word
    cap = ECAM + (PF_RID << 12) + CAP    # 0xE030_0160
    assert [(op, a) for op, a, _, _ in trace] == [(0, cap + 8 * i) for i in range(8)] + [(0, ECAM + (rid << 12))]


def test_stride_one_and_pf_on_a_device_number(ref):
    # PF 02:04.0 (RID 0x0220), First VF Offset 4, Stride 1: VF 7 = 0x0220 + 4 + 6 = 0x022A, i.e. 02:05.2
    rid = 0x0220 + 4 + 6
    mem = {**capability(first=4, stride=1, total=8, num=8, pf_rid=0x0220), **bus_master(rid)}
    out, _ = run(ref, mem, vf=7, pf_rid=0x0220, sub_bus=2)
    assert out["rule"] == "dma" and out["fields"]["rid"] == 0x022A    # devfn 2Ah: device 5, function 2


def test_bus_past_the_subordinate_bus_is_an_invalid_rid(ref):
    # VF 65 is at 04:00.0 (above); with the port routing only bus 03 (SUB_BUS = 3) it is unreachable
    out, trace = run(ref, capability(total=128, num=128), vf=65, sub_bus=3)
    assert out == {"exit": True, "rule": "invalid_rid", "fields": {
        "rid": 0x0400, "vf": 65, "addr": 0, "write": 0}}
    assert len(trace) == 8    # the capability only: no VF configuration space is read


def test_rid_past_ffff_is_an_invalid_rid(ref):
    # PF FF:00.0: VF 65 = 0xFF00 + 0x80 + 64 x 2 = 0x1_0000, past FFFFh; 16-bit arithmetic gives 0000h
    mem = capability(total=128, num=128, pf_rid=0xFF00)
    out, _ = run(ref, mem, vf=65, pf_rid=0xFF00, sub_bus=0xFF)
    assert out["rule"] == "invalid_rid" and out["fields"]["rid"] == 0x0000
    # VF 64 = 0xFF00 + 0x80 + 63 x 2 = 0xFFFE: valid
    mem.update(bus_master(0xFFFE))
    out, _ = run(ref, mem, vf=64, pf_rid=0xFF00, sub_bus=0xFF)
    assert out["rule"] == "dma" and out["fields"]["rid"] == 0xFFFE


@pytest.mark.parametrize("ctrl, vf, rule", [
    (VFE, 7, "dma"),            # 0x0300 + 1 + 6 x 1 = 0x0307: 03:00.7, function 7 of the PF's device
    (VFE, 8, "invalid_rid"),    # 0x0300 + 1 + 7 = 0x0308: 03:01.0, a device number a non-ARI hierarchy does not give the device
    (VFE | ARI, 8, "dma"),      # with ARI Capable Hierarchy: function 8 of the captured bus is allowed
])
def test_ari_capable_hierarchy(ref, ctrl, vf, rule):
    rid = 0x0300 + 1 + (vf - 1)
    mem = {**capability(ctrl=ctrl, first=1, stride=1, total=16, num=16), **bus_master(rid)}
    out, _ = run(ref, mem, vf=vf)
    assert out["rule"] == rule


@pytest.mark.parametrize("first, stride, vf, rule", [
    (0, 2, 1, "invalid_rid"),     # First VF Offset 0: VF 1 would be the PF itself
    (0x80, 0, 1, "dma"),          # Stride 0 with one VF: VF 1 = 0x0380
    (0x80, 0, 2, "invalid_rid"),  # Stride 0: VF 2 would be VF 1 again
])
def test_offset_and_stride_zero(ref, first, stride, vf, rule):
    mem = {**capability(first=first, stride=stride), **bus_master(0x0380)}
    out, _ = run(ref, mem, vf=vf)
    assert out["rule"] == rule


# ---- which VFs exist --------------------------------------------------------------------

@pytest.mark.parametrize("ctrl, total, num, vf, rule", [
    (VFE | ARI, 16, 8, 8, "dma"),           # n = NumVFs: VF 8 = 0x0300 + 0x80 + 7 x 2 = 0x038E
    (VFE | ARI, 16, 8, 9, "vf_absent"),     # n = NumVFs + 1
    (VFE | ARI, 16, 8, 0, "vf_absent"),     # n = 0: VFs are numbered from 1
    (VFE | ARI, 16, 20, 17, "vf_absent"),   # NumVFs above TotalVFs: VF 17 is past TotalVFs
    (ARI, 16, 8, 1, "vf_absent"),           # VF Enable clear: no VF exists
])
def test_numvfs_boundary_and_vf_enable(ref, ctrl, total, num, vf, rule):
    mem = {**capability(ctrl=ctrl, total=total, num=num), **bus_master(0x038E)}
    out, _ = run(ref, mem, vf=vf)
    assert out["rule"] == rule
    if rule == "vf_absent":
        assert out["fields"] == {"rid": 0, "vf": vf, "addr": 0, "write": 0}


def test_bus_master_enable_clear_blocks_the_dma(ref):
    mem = {**capability(), **bus_master(0x0380, on=False)}
    out, trace = run(ref, mem, kind=DMA_READ, vf=1, addr=0x42_0000)
    assert out["rule"] == "dma_disabled" and out["fields"]["rid"] == 0x0380
    assert trace[-1][:2] == (0, 0xE038_0000)    # ECAM + (0x0380 << 12)


@pytest.mark.parametrize("cap_id, version, cap, why", [
    (0x000F, 1, CAP, "ID 000Fh is ATS, not SR-IOV"),
    (0x0010, 2, CAP, "version 2h"),
])
def test_no_sriov_capability(ref, cap_id, version, cap, why):
    out, trace = run(ref, capability(cap_id=cap_id, version=version), cap=cap)
    assert out == {"exit": True, "rule": "no_sriov", "fields": {
        "rid": 0, "vf": 1, "addr": 0, "write": 0}}, why


@pytest.mark.parametrize("cap", [0xFC, 0xFC4])
def test_capability_offset_outside_extended_space_reads_nothing(ref, cap):
    # below 100h is the PCI-compatible space; at FC4h the 64-byte capability would pass 1000h
    out, trace = run(ref, capability(at=cap), cap=cap)
    assert out["rule"] == "no_sriov" and trace == []


# ---- a capability 4 bytes past a multiple of 8 (r5.0 7.6.3: any DWORD offset from 100h) ----
# The PF's space is at ECAM + (0x0300 << 12) = E030_0000h. Each 8-byte word of the capability
# then straddles two aligned words: it is the high half of the one it starts in and the low
# half of the next, and the nine aligned words from the one at or below the capability are
# read once each, in ascending order.

def test_capability_at_104h(ref):
    """At 104h (DWORD index 41h) the header (cap + 00h) is bits 63:32 of aligned word
    E030_0100h; Control (cap + 08h = 10Ch) bits 63:32 of word 108h; TotalVFs (cap + 0Eh
    = 112h) bits 31:16 and NumVFs (cap + 10h = 114h) bits 47:32 of word 110h; First VF
    Offset and VF Stride (cap + 14h = 118h) bits 15:0 and 31:16 of word 118h: the
    capability's word 10h (NumVFs .. VF Stride) straddles aligned words 110h and 118h.
    VF 3 = 0x0300 + 0x80 + 2 x 2 = 0x0384."""
    mem = {**capability(at=0x104), **bus_master(0x0384)}
    assert mem[0xE030_0100] == (0x0010 | 1 << 16) << 32              # ID 0010h, version 1h
    assert mem[0xE030_0108] == (VFE | MSE | ARI) << 32               # Control; 104h-107h Capabilities 0
    assert mem[0xE030_0110] == 64 << 16 | 1 | 64 << 32               # InitialVFs 1, TotalVFs 64, NumVFs 64
    assert mem[0xE030_0118] == 0x80 | 2 << 16 | 0x10CA << 48          # First VF Offset 80h, Stride 2; VF Device ID
    out, trace = run(ref, mem, kind=DMA_READ, vf=3, addr=0xABC0_0000, cap=0x104)
    assert out == {"exit": True, "rule": "dma", "fields": {"rid": 0x0384, "vf": 3, "addr": 0xABC0_0000, "write": 0}}
    assert [(op, a) for op, a, _, _ in trace] == \
        [(0, 0xE030_0100 + 8 * i) for i in range(9)] + [(0, ECAM + (0x0384 << 12))]


def test_capability_at_14ch_with_a_64_bit_bar_across_two_words(ref):
    """At 14Ch (DWORD index 53h): Supported Page Sizes (cap + 1Ch = 168h) is bits 31:0 and
    System Page Size (cap + 20h = 16Ch) bits 63:32 of aligned word 168h; a 64-bit VF BAR1
    (cap + 28h = 174h, bits 63:32 of word 170h) takes VF BAR2 (cap + 2Ch = 178h, bits 31:0
    of word 178h) as bits 63:32. BAR1 = 40_0000_0000h, device size 16K (S1 = 14) below the
    64K System Page Size: aperture 64K, so VF 9 at offset 1234h is 40_0000_0000h + 8 x
    1_0000h + 1234h = 40_0008_1234h."""
    mem = capability(at=0x14C, bars=(0, BAR64 | PREF, 0x40, 0, 0, 0), sys=PAGE_64K)
    assert mem[0xE030_0168] == SUPPORTED | PAGE_64K << 32
    assert mem[0xE030_0170] >> 32 == BAR64 | PREF and mem[0xE030_0178] & 0xFFFF_FFFF == 0x40
    out, trace = run(ref, mem, kind=MMIO_WRITE, vf=9, bar=1, offset=0x1234, cap=0x14C, sizes=(0, 14, 0, 0, 0, 0))
    assert out == {"exit": True, "rule": "mmio", "fields": {"rid": 0x0300 + 0x80 + 8 * 2, "vf": 9,
                                                              "addr": 0x40_0008_1234, "write": 1}}
    assert [a for _, a, _, _ in trace] == [0xE030_0148 + 8 * i for i in range(9)]


def test_last_capability_offset_4_bytes_past_a_multiple_of_8(ref):
    # FBCh (DWORD index 3EFh): the 64 bytes end at FFBh, inside the 4-KByte space; the nine
    # aligned words FB8h-FF8h hold it. VF 1 = 0x0380; a configuration read of its 00h.
    out, trace = run(ref, capability(at=0xFBC), kind=CFG_READ, vf=1, cap=0xFBC)
    assert out["rule"] == "cfg" and out["fields"]["addr"] == ECAM + (0x0380 << 12)
    assert [a for _, a, _, _ in trace] == [0xE030_0FB8 + 8 * i for i in range(9)]


# ---- configuration space ----------------------------------------------------------------

def test_config_access_gives_the_ecam_address(ref):
    # VF 3 = 0x0384; ECAM + (0x0384 << 12) + 10h = 0xE000_0000 + 0x38_4000 + 0x10 = 0xE038_4010
    out, trace = run(ref, capability(), kind=CFG_WRITE, vf=3, offset=0x10)
    assert out["rule"] == "cfg"
    assert out["fields"] == {"rid": 0x0384, "vf": 3, "addr": 0xE038_4010, "write": 1}
    assert len(trace) == 8    # no Command register read for a configuration access


def test_config_offset_past_4k_is_outside(ref):
    out, _ = run(ref, capability(), kind=CFG_READ, vf=3, offset=0x1000)
    assert out["rule"] == "outside"


# ---- VF BAR apertures -------------------------------------------------------------------

BAR0_32 = 0xC000_0000 | BAR32               # a 32-bit VF BAR0 at C000_0000h


@pytest.mark.parametrize("vf, offset, addr", [
    (1, 0x10, 0xC000_0010),      # VF 1: BAR0 + 0 x 16K + 10h
    (5, 0x3FFC, 0xC001_3FFC),    # VF 5: C000_0000h + 4 x 4000h + 3FFCh
])
def test_32_bit_vf_bar_address(ref, vf, offset, addr):
    # device size 16 KBytes (S0 = 14), System Page Size 4K: aperture max(16K, 4K) = 16K
    mem = capability(bars=(BAR0_32, 0, 0, 0, 0, 0))
    out, _ = run(ref, mem, kind=MMIO_READ, vf=vf, bar=0, offset=offset, sizes=(14, 0, 0, 0, 0, 0))
    assert out["rule"] == "mmio"
    assert out["fields"] == {"rid": 0x0300 + 0x80 + (vf - 1) * 2, "vf": vf, "addr": addr, "write": 0}


def test_offset_past_the_aperture_is_outside(ref):
    mem = capability(bars=(BAR0_32, 0, 0, 0, 0, 0))
    out, _ = run(ref, mem, kind=MMIO_READ, vf=1, bar=0, offset=0x4000, sizes=(14, 0, 0, 0, 0, 0))
    assert out["rule"] == "outside"


# a 64-bit prefetchable VF BAR2 (BAR3 holds bits 63:32) at 40_0000_0000h
BARS_64 = (0, 0, 0x0000_0000 | BAR64 | PREF, 0x40, 0, 0)


@pytest.mark.parametrize("size, vf, offset, addr", [
    # device size 16K (S2 = 14), System Page Size 64K: the aperture rounds up to 64K (10000h)
    (14, 1, 0, 0x40_0000_0000),             # VF 1: the BAR itself
    (14, 9, 0x1234, 0x40_0008_1234),        # VF 9: 40_0000_0000h + 8 x 1_0000h + 1234h
    # device size 1M (S2 = 20) above the page size: aperture 1M (10_0000h)
    (20, 3, 0xABC, 0x40_0020_0ABC),         # VF 3: 40_0000_0000h + 2 x 10_0000h + ABCh
])
def test_64_bit_vf_bar_address(ref, size, vf, offset, addr):
    mem = capability(bars=BARS_64, sys=PAGE_64K)
    out, _ = run(ref, mem, kind=MMIO_WRITE, vf=vf, bar=2, offset=offset, sizes=(0, 0, size, 0, 0, 0))
    assert out["rule"] == "mmio" and out["fields"]["addr"] == addr and out["fields"]["write"] == 1


def test_low_bar_bits_below_the_aperture_read_as_zero(ref):
    # BAR0 = C000_1230h with a 16K aperture: bits 13:4 are read-only 0, the base is C000_0000h
    mem = capability(bars=(0xC000_1230, 0, 0, 0, 0, 0))
    out, _ = run(ref, mem, kind=MMIO_READ, vf=2, bar=0, offset=8, sizes=(14, 0, 0, 0, 0, 0))
    assert out["fields"]["addr"] == 0xC000_4008    # C000_0000h + 1 x 4000h + 8


@pytest.mark.parametrize("bars, bar, sizes, why", [
    (BARS_64, 3, (0, 0, 14, 14, 0, 0), "BAR3 is the upper half of 64-bit BAR2"),
    ((0, 0, 0, 0, 0, BAR64), 5, (0, 0, 0, 0, 0, 14), "a 64-bit BAR5 has no upper half"),
    ((BAR0_32, 0, 0, 0, 0, 0), 1, (14, 0, 0, 0, 0, 0), "BAR1 not implemented (size 0)"),
    ((0x2, 0, 0, 0, 0, 0), 0, (14, 0, 0, 0, 0, 0), "type 01b is reserved"),
    ((BAR0_32, 0, 0, 0, 0, 0), 6, (14, 0, 0, 0, 0, 0), "there is no BAR6"),
])
def test_bar_absent(ref, bars, bar, sizes, why):
    out, _ = run(ref, capability(bars=bars), kind=MMIO_READ, vf=1, bar=bar, sizes=sizes)
    assert out["rule"] == "bar_absent", why


def test_vf_mse_clear(ref):
    mem = capability(ctrl=VFE | ARI, bars=(BAR0_32, 0, 0, 0, 0, 0))
    out, _ = run(ref, mem, kind=MMIO_READ, vf=1, bar=0, sizes=(14, 0, 0, 0, 0, 0))
    assert out["rule"] == "mmio_disabled" and out["fields"] == {"rid": 0, "vf": 1, "addr": 0, "write": 0}


@pytest.mark.parametrize("sys", [0, PAGE_4K | PAGE_64K, 1 << 2])   # none, two sizes, 16K (not supported)
def test_system_page_size_must_be_one_supported_size(ref, sys):
    mem = capability(sys=sys, bars=(BAR0_32, 0, 0, 0, 0, 0))
    out, _ = run(ref, mem, kind=MMIO_READ, vf=1, bar=0, sizes=(14, 0, 0, 0, 0, 0))
    assert out["rule"] == "page_size_invalid"


def test_32_bit_bar_past_4g_is_outside(ref):
    # BAR0 at FFFF_0000h, aperture 16K: VF 5 would be at FFFF_0000h + 4 x 4000h = 1_0000_0000h
    mem = capability(bars=(0xFFFF_0000, 0, 0, 0, 0, 0))
    out, _ = run(ref, mem, kind=MMIO_READ, vf=5, bar=0, sizes=(14, 0, 0, 0, 0, 0))
    assert out["rule"] == "outside"
    out, _ = run(ref, mem, kind=MMIO_READ, vf=4, bar=0, offset=0x3FFF, sizes=(14, 0, 0, 0, 0, 0))
    assert out["rule"] == "mmio" and out["fields"]["addr"] == 0xFFFF_FFFF   # FFFF_0000h + 3 x 4000h + 3FFFh
