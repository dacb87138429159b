"""Golden tests of specs/vf_ats.vspec: a DMA from an SR-IOV VF through its ATS address
translation cache (ATC), the ATC's invalidation by the IOMMU's command words, and the
Invalidate Request / Completion exchange, worked out by hand from the manuals (not from the
spec):

- PCIe r5.0 9.2.1.2, 9.3.3 (the VF's Routing ID; set up as in test_vf_dma_golden.py: PF
  03:00.0, First VF Offset 100h, VF Stride 1, so VF 2 is 0401h, bus 4, devfn 01h);
- PCIe r5.0 ch. 10: 10.2.2 (a Translation Request is a read with AT = 01b for a page; No
  Write asks for a read-only translation), 10.2.3 (completion entry: R bit 0, W 1, U 2, S 11,
  address 63:12; status SC 000b, UR 001b, CA 100b), 10.2.3.2 (S = 1: the lowest clear address
  bit from 12 up gives the size), 10.2.3.4 (U = 1: the translation may not be used with AT =
  Translated), 10.2.3.5 (R = W = 0: no translation, not cached; a translated request needs R
  for a read, W for a write), 10.1.2 (AT = 10b: translated), 10.3.1 (Invalidate
  Request: ITag, untranslated address, S), 10.3.2 (Invalidate Completion: Requester ID of the
  Function with the ATC, ITag Vector bit i for ITag i, CC completions due, 0 meaning 8),
  10.3.8 (a request with a PASID drops no entry requested without one);
- AMD 48882 2.2.2.1 (DTE: V 0, TV 1, Mode 11:9, root 51:12, IR 61, IW 62, DomainID 79:64,
  I bit 96 admits ATS), 2.2.3 (1-level table: index bits 20:12; PTE PR 0, address 51:12, IR 61,
  IW 62, U 59), 2.4.3.4 (INVALIDATE_IOTLB_PAGES: DeviceID 15:0, Maxpend 31:24, QueueId 47:32, opcode
  63:60 = 4, S bit 64, GN bit 66, Address 127:76), 2.5 (INVALID_DEVICE_REQUEST code 8;
  disposition ABORTED 3 in amd_iommu's enum);
- APM Vol. 2 15.24 (DEV, as in test_vf_dma_golden.py);
- VT-d 9.1 / 9.3 (root entry per bus, context entry per devfn: P 0, TT 3:2 with 01b
  device-TLB, SLPTPTR 63:12; AW 66:64 = 001b, 3 levels: indexes 38:30, 29:21, 20:12; SL entry
  R 0, W 1, ADDR 51:12, TM 62 answered as U), 6.5.2.5 (Device-TLB Invalidate Descriptor: type 3:0 = 3, PFSID[3:0]
  15:12, MIP 20:16, SID 47:32, PFSID[15:4] 63:52; S bit 64, ADDR 127:76), appendix fault
  reasons (Dh: TT blocks the request; Bh: reserved context bits), 10.4.16-10.4.20 (a
  translated request to a protected region is blocked).
"""
from pathlib import Path

import pytest

from codegen.verify import harness
from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

ROOT = Path(__file__).resolve().parents[2]

DELIVERED, NOT_ISSUED, ATS_REFUSED, NOT_PERMITTED, IOMMU_REFUSED, GUARD_BLOCKED, UNTRANSLATED_ONLY = 1, 2, 3, 4, 5, 6, 7
NOT_THIS_COMMAND, UNEXPECTED, PENDING, COMPLETE = 1, 2, 3, 4
CPL_SC, CPL_UR, CPL_CA = 0, 1, 4
CPL_R, CPL_W, CPL_U, CPL_S = 1 << 0, 1 << 1, 1 << 2, 1 << 11

# ---- the VF (PCIe r5.0 ch. 9) -------------------------------------------------------------
ECAM = 0xE000_0000
PF_RID, CAP, SUB_BUS = 0x0300, 0x40, 0x05
CAP_AT = ECAM + (PF_RID << 12) + CAP * 4
VF, VF_RID = 2, 0x0401
VF_CFG = ECAM + (VF_RID << 12)


def sriov() -> dict:
    return {
        CAP_AT: 0x0001_0010,                              # SR-IOV capability ID 0010h, version 1
        CAP_AT + 0x08: 0x9 | 8 << 32 | 8 << 48,           # VF Enable | VF MSE; InitialVFs 8, TotalVFs 8
        CAP_AT + 0x10: 4 | 0x100 << 32 | 1 << 48,         # NumVFs 4; First VF Offset 100h; VF Stride 1
        VF_CFG: 0x4 << 32,                                # the VF's Command register: Bus Master Enable
    }


def vf_context() -> dict:
    return {"ECAM": ECAM, "PF": PF_RID | CAP << 16 | SUB_BUS << 32, "VF_BAR_SIZE": 0}


def load(unit):
    """(reference, model) of a unit; the spec's default model (its last unit) is generated/vf_ats/."""
    folder = ROOT / "generated" / "vf_ats"
    return harness.load_generated(folder if unit == "vf_inv_intel" else folder / unit)


@pytest.fixture(scope="module")
def amd():
    return load("vf_ats_amd")


@pytest.fixture(scope="module")
def intel():
    return load("vf_ats_intel")


@pytest.fixture(scope="module")
def inv():
    return load("vf_inv_amd")[0], load("vf_inv_intel")[0]


def reads(trace) -> list:
    return [addr for op, addr, _, _ in trace if op == 0]


# ===================================================================================
# AMD: the IOMMU with a 1-level I/O page table (Mode 1), then the DEV
# ===================================================================================
DEVTAB, LOG, TAIL = 0x0010_0000, 0x0040_0000, 5
DTE = DEVTAB + VF_RID * 32                   # 10_8020h
IO_TABLE = 0x0020_0000
DVA = 0x0003_5678                            # index bits 20:12 = 35h
PTE = IO_TABLE + 0x35 * 8                    # 20_01A8h
SPA_PAGE = 0x0007_7000
DEV_TABLE = 0x0030_0000
DEV_WORD = DEV_TABLE + 8                     # page 77h: byte 0Eh bit 7, bit 55 of the word at +8
DTE_I = 1 << 32                              # DTE bit 96, in the quadword at +8


def amd_memory(i=True, pte_iw=True, dev_bit=False, dte_q0=None) -> dict:
    mem = sriov()
    mem[DTE] = dte_q0 if dte_q0 is not None else 1 | 1 << 1 | 1 << 9 | IO_TABLE | 1 << 61 | 1 << 62
    mem[DTE + 8] = 0x0ABC | (DTE_I if i else 0)                       # DomainID, I
    mem[PTE] = 1 | SPA_PAGE | 1 << 61 | (1 << 62 if pte_iw else 0)     # PR, Next Level 0, page 77h, IR, IW
    mem[DEV_WORD] = 1 << 55 if dev_bit else 0
    return mem


def amd_request(addr=DVA, write=0) -> dict:
    return {"vf": VF, "addr": addr, "write": write, **vf_context(),
            "DEV_TAB_BAR": DEVTAB, "CONTROL": 1 | 1 << 2, "EVT_LOG_BAR": LOG | 8 << 56, "EVT_LOG_TAIL": TAIL << 4,
            "DEV_CR": 1, "DEV_CAP": 4 << 8 | 3 << 16, "DEV_MAP0": 0, "DEV_MAP1": 0, "DEV_MAP2": 0,
            "DEV_BASE_LO0": DEV_TABLE | 1, "DEV_BASE_HI0": 0, "DEV_BASE_LO1": 0, "DEV_BASE_HI1": 0,
            "DEV_BASE_LO2": 0, "DEV_BASE_HI2": 0, "DEV_BASE_LO3": 0, "DEV_BASE_HI3": 0, "SL_DEV_BASE": 0,
            "HT_LINK": 0}


def inv_iotlb_pages(device_id, address, s=0, gn=0):
    """INVALIDATE_IOTLB_PAGES as software writes it: opcode 4 in bits 63:60, DeviceID 15:0,
    Maxpend 31:24 (here 20h), QueueId 47:32 (the DeviceID, as Linux writes it); S bit 64,
    GN bit 66, Address[63:12] in bits 127:76."""
    w0 = 4 << 60 | device_id << 32 | 0x20 << 24 | device_id
    w1 = (address >> 12 << 12) | s | gn << 2
    return {"w0": w0, "w1": w1}


def test_amd_miss_then_hit_delivers_without_a_translation(amd):
    ref = amd[0]
    mem, c = amd_memory(), ref.Caches()
    # Miss: VF 2 -> 0401h; Translation Request for page 35000h (a read: No Write = 1) -> the
    # DTE (V, TV, I), the PTE -> SC, R = 1, W = 0 (the hint), page 77000h; kept in the ATC.
    # Then the translated request (AT = 10b) at 77000h | 678h: I = 1 forwards it; DEV bit 77h clear.
    trace: list = []
    out, hits = ref.decide_cached(c, mem, amd_request(), trace)
    assert out["rule"] == "delivered" and hits == ()
    assert out["fields"] == {"outcome": DELIVERED, "rid": VF_RID, "address": SPA_PAGE | 0x678, "cpl_status": CPL_SC,
                             "cpl": SPA_PAGE | CPL_R, "iommu": 0, "code": 0}
    assert PTE in reads(trace) and reads(trace).count(DTE) == 2       # the DTE twice: Translation Request, translated request
    # Hit: another offset in the same page; the IOMMU translates nothing: no PTE read, the DTE
    # read once (by the translated request), the answer the same page.
    trace = []
    out, hits = ref.decide_cached(c, mem, amd_request(addr=0x0003_5FF0), trace)
    assert out["rule"] == "delivered" and hits == ("atc",)
    assert out["fields"]["address"] == SPA_PAGE | 0xFF0
    assert PTE not in reads(trace) and reads(trace).count(DTE) == 1 and reads(trace)[-1] == DEV_WORD


def test_amd_a_write_does_not_use_a_read_only_entry(amd):
    # the read's entry was asked with No Write = 1 (tag nw = 1): a write asks again, with No
    # Write = 0, and gets R = W = 1 (DTE and PTE grant IR and IW)
    ref = amd[0]
    mem, c = amd_memory(), ref.Caches()
    ref.decide_cached(c, mem, amd_request(), [])
    trace: list = []
    out, hits = ref.decide_cached(c, mem, amd_request(write=1), trace)
    assert hits == () and PTE in reads(trace)
    assert out["rule"] == "delivered" and out["fields"]["cpl"] == SPA_PAGE | CPL_R | CPL_W


def test_amd_translation_request_refused_ur(amd):
    # DTE.I = 0: the IOMMU answers UR and logs INVALID_DEVICE_REQUEST (code 8); nothing kept
    ref = amd[0]
    mem, c = amd_memory(i=False), ref.Caches()
    out, hits = ref.decide_cached(c, mem, amd_request(), [])
    assert out["rule"] == "ats_refused"
    assert out["fields"] == {"outcome": ATS_REFUSED, "rid": VF_RID, "address": 0, "cpl_status": CPL_UR, "cpl": 0,
                             "iommu": 0, "code": 8}
    assert ref.decide_cached(c, mem, amd_request(), [])[1] == ()       # not cached: asked again


def test_amd_translation_request_refused_ca(amd):
    # a reserved DTE bit (bit 2): ILLEGAL_DEV_TABLE_ENTRY (code 1), Completer Abort
    mem = amd_memory(dte_q0=1 | 1 << 1 | 1 << 2 | 1 << 9 | IO_TABLE | 1 << 61 | 1 << 62)
    out = amd[0].decide(mem, amd_request(), [])
    assert out["rule"] == "ats_refused"
    assert (out["fields"]["cpl_status"], out["fields"]["code"]) == (CPL_CA, 1)


def test_amd_write_not_permitted(amd):
    # the PTE grants IR only: a write's completion is SC with R = 1, W = 0; the VF must not
    # send a translated write (PCIe 10.2.3.5): no second DTE read, no DEV check
    trace: list = []
    out = amd[0].decide(amd_memory(pte_iw=False), amd_request(write=1), trace)
    assert out["rule"] == "not_permitted"
    assert out["fields"]["outcome"] == NOT_PERMITTED and out["fields"]["cpl"] == SPA_PAGE | CPL_R
    assert reads(trace).count(DTE) == 1 and DEV_WORD not in reads(trace)


def test_amd_untranslated_only(amd):
    # PTE U (bit 59) = 1: the completion has U = 1 (R = 1, W = 0 for a read); the VF may not
    # use it in a translated request (PCIe 10.2.3.4): no second DTE read, no DEV check.
    # R is set, so the answer is cached: the next request hits and again sends nothing.
    ref = amd[0]
    mem, c = amd_memory(), ref.Caches()
    mem[PTE] |= 1 << 59
    trace: list = []
    out, hits = ref.decide_cached(c, mem, amd_request(), trace)
    assert out["rule"] == "untranslated_only" and hits == ()
    assert (out["fields"]["outcome"], out["fields"]["cpl"]) == (UNTRANSLATED_ONLY, SPA_PAGE | CPL_U | CPL_R)
    assert reads(trace).count(DTE) == 1 and DEV_WORD not in reads(trace)
    out, hits = ref.decide_cached(c, mem, amd_request(), [])
    assert out["rule"] == "untranslated_only" and hits == ("atc",)


def test_amd_translated_request_refused_after_i_is_cleared(amd):
    # Sequence: the ATC holds page 35000h; software clears DTE.I (no invalidation); the next
    # read hits the ATC, the translated request is refused (INVALID_DEVICE_REQUEST, TR = 0):
    # disposition ABORTED (3), code 8
    ref = amd[0]
    mem, c = amd_memory(), ref.Caches()
    ref.decide_cached(c, mem, amd_request(), [])
    mem[DTE + 8] = 0x0ABC
    out, hits = ref.decide_cached(c, mem, amd_request(), [])
    assert hits == ("atc",) and out["rule"] == "iommu_refused"
    assert (out["fields"]["outcome"], out["fields"]["iommu"], out["fields"]["code"]) == (IOMMU_REFUSED, 3, 8)


def test_amd_dev_blocks_the_translated_address(amd):
    out = amd[0].decide(amd_memory(dev_bit=True), amd_request(write=1), [])
    assert out["rule"] == "dev_blocked"
    assert (out["fields"]["outcome"], out["fields"]["address"]) == (GUARD_BLOCKED, SPA_PAGE | 0x678)


def test_amd_vf_beyond_num_vfs_issues_nothing(amd):
    mem = {**amd_memory(), CAP_AT + 0x10: 1 | 0x100 << 32 | 1 << 48}   # NumVFs 1: no VF 2
    trace: list = []
    out = amd[0].decide(mem, amd_request(), trace)
    assert out["rule"] == "not_issued" and DTE not in reads(trace)


@pytest.mark.parametrize("command, dropped", [
    (inv_iotlb_pages(VF_RID, 0x35000), True),               # S = 0: the 4-KiB page 35000h
    (inv_iotlb_pages(VF_RID, 0x34000, s=1), True),          # S = 1, bit 12 clear: 8 KiB at 34000h
    (inv_iotlb_pages(VF_RID, 0x36000), False),              # another page
    (inv_iotlb_pages(0x0402, 0x35000), False),              # another Function's entries
    (inv_iotlb_pages(VF_RID, 0x35000, gn=1), False),        # GN = 1: a PASID request, drops no non-PASID entry
    ({"w0": 3 << 60 | VF_RID, "w1": 0x35000}, False),       # opcode 3 (INVALIDATE_IOMMU_PAGES) is not this command
])
def test_amd_invalidate_iotlb_pages(amd, command, dropped):
    ref = amd[0]
    mem, c = amd_memory(), ref.Caches()
    ref.decide_cached(c, mem, amd_request(), [])
    ref.invalidate(c, "inv_iotlb_pages", command, amd_request())
    trace: list = []
    _, hits = ref.decide_cached(c, mem, amd_request(), trace)
    assert (hits == ()) is dropped and (PTE in reads(trace)) is dropped


def test_amd_s_range_sizes(amd):
    # S = 1, the lowest clear bit of Address[63:12] at 12 + k: 2^(13 + k) bytes, aligned.
    # 37000h: bits 12-14 set, 15 clear: 64 KiB at 30000h, which holds 35000h.
    # 3B000h: bits 12-13 set, 14 clear: 32 KiB at 38000h, which does not.
    # 7FFF_FFFF_FFFF_F000h: bits 62:12 set: 2^64 bytes, everything.
    ref = amd[0]
    for address, dropped in ((0x37000, True), (0x3B000, False), (0x7FFF_FFFF_FFFF_F000, True)):
        mem, c = amd_memory(), ref.Caches()
        ref.decide_cached(c, mem, amd_request(), [])
        ref.invalidate(c, "inv_iotlb_pages", inv_iotlb_pages(VF_RID, address, s=1), amd_request())
        assert (ref.decide_cached(c, mem, amd_request(), [])[1] == ()) is dropped, hex(address)


# ===================================================================================
# Intel: VT-d with TT = 01b (device-TLB), 3-level second-level tables, protected high memory
# ===================================================================================
RTA, CTX_TABLE = 0x0060_0000, 0x0070_0000
ROOT_E = RTA + 0x04 * 16                     # bus 4
CTX_E = CTX_TABLE + 0x01 * 16                # devfn 01h
T3, T2, T1 = 0x0080_0000, 0x0081_0000, 0x0082_0000
D3, D2, D1 = T3, T2, T1 + 0x35 * 8           # DVA 35678h: indexes 0, 0, 35h
TES = 1 << 31
HIGH = (0x1_0000_0000, 0x1_3FF0_0000)        # protected high memory 1_0000_0000h-1_3FFF_FFFFh
HPA_OUT, HPA_IN = 0x1_4000_0000, 0x1_2345_6000


def intel_memory(page=HPA_OUT, w=True, tt=1, ctx_extra=0) -> dict:
    return {**sriov(), ROOT_E: CTX_TABLE | 1, ROOT_E + 8: 0,
            CTX_E: T3 | tt << 2 | 1 | ctx_extra, CTX_E + 8: 1 | 0x55 << 8,   # AW 001b (3 levels), DID 55h
            D3: T2 | 3, D2: T1 | 3, D1: page | 1 | (2 if w else 0)}


def intel_request(addr=DVA, write=0, pmen=1 << 31) -> dict:
    return {"vf": VF, "addr": addr, "write": write, **vf_context(),
            "GSTS_REG": TES, "RTADDR_REG": RTA, "IRTA_REG": 0, "PMEN_REG": pmen,
            "PLMBASE_REG": 0, "PLMLIMIT_REG": 0, "PHMBASE_REG": HIGH[0], "PHMLIMIT_REG": HIGH[1]}


def dev_tlb_inv(sid, address, s=0, itype=3):
    """Device-TLB Invalidate Descriptor: type 3:0, PFSID 0300h (the PF: bits 3:0 at 15:12 = 0,
    bits 15:4 at 63:52 = 030h), MIP 20:16 = 0, SID 47:32; S bit 64, ADDR 127:76."""
    return {"qw0": itype | sid << 32 | 0x030 << 52, "qw1": (address >> 12 << 12) | s}


def test_intel_miss_then_hit_delivers_without_a_translation(intel):
    ref = intel[0]
    mem, c = intel_memory(), ref.Caches()
    # Miss: root entry of bus 4, context entry of devfn 01h (TT = 01b), D3, D2, D1 -> SC,
    # R = 1 (W cleared by No Write: a read), page 1_4000_0000h; translated request: TT = 01b
    # passes it through (PASS_THROUGH), outside the protected region.
    trace: list = []
    out, hits = ref.decide_cached(c, mem, intel_request(), trace)
    assert out["rule"] == "delivered" and hits == ()
    assert out["fields"] == {"outcome": DELIVERED, "rid": VF_RID, "address": HPA_OUT | 0x678, "cpl_status": CPL_SC,
                             "cpl": HPA_OUT | CPL_R, "iommu": 0, "fault_reason": 0}
    assert D1 in reads(trace) and reads(trace).count(CTX_E) == 2
    trace = []
    out, hits = ref.decide_cached(c, mem, intel_request(addr=0x0003_5001), trace)
    assert hits == ("atc",) and out["fields"]["address"] == HPA_OUT | 0x001
    assert not {D3, D2, D1} & set(reads(trace)) and reads(trace).count(CTX_E) == 1


def test_intel_translation_request_refused(intel):
    # TT = 00b: the context entry admits no translation request: UR, fault reason Dh
    out = intel[0].decide(intel_memory(tt=0), intel_request(), [])
    assert out["rule"] == "ats_refused"
    assert (out["fields"]["outcome"], out["fields"]["cpl_status"], out["fields"]["fault_reason"]) == (ATS_REFUSED, CPL_UR, 0x0D)
    # a reserved context bit (bit 4): Bh, Completer Abort
    out = intel[0].decide(intel_memory(ctx_extra=1 << 4), intel_request(), [])
    assert (out["rule"], out["fields"]["cpl_status"], out["fields"]["fault_reason"]) == ("ats_refused", CPL_CA, 0x0B)


def test_intel_write_not_permitted_and_r_w_0_not_cached(intel):
    # SL-PTE R only: a write's completion has R = 1, W = 0: no translated write
    out = intel[0].decide(intel_memory(w=False), intel_request(write=1), [])
    assert out["rule"] == "not_permitted" and out["fields"]["cpl"] == HPA_OUT | CPL_R
    # a not-present leaf: SC with R = W = 0 (no translation), not kept in the ATC
    ref = intel[0]
    mem, c = {**intel_memory(), D1: 0}, ref.Caches()
    out, _ = ref.decide_cached(c, mem, intel_request(), [])
    assert out["rule"] == "not_permitted" and out["fields"]["cpl"] == 0
    assert ref.decide_cached(c, mem, intel_request(), [])[1] == ()


def test_intel_untranslated_only(intel):
    # the leaf's TM (bit 62) is answered as U = 1: no translated request
    out = intel[0].decide({**intel_memory(), D1: HPA_OUT | 3 | 1 << 62}, intel_request(write=1), [])
    assert out["rule"] == "untranslated_only"
    assert (out["fields"]["outcome"], out["fields"]["cpl"]) == (UNTRANSLATED_ONLY, HPA_OUT | CPL_U | CPL_W | CPL_R)


def test_intel_translated_request_refused_after_tt_changes(intel):
    # Sequence: filled with TT = 01b; software sets TT = 00b; the hit's translated request is
    # blocked with Dh (BLOCKED = 4 in vtd_outcome)
    ref = intel[0]
    mem, c = intel_memory(), ref.Caches()
    ref.decide_cached(c, mem, intel_request(), [])
    mem[CTX_E] = T3 | 1
    out, hits = ref.decide_cached(c, mem, intel_request(), [])
    assert hits == ("atc",) and out["rule"] == "iommu_refused"
    assert (out["fields"]["outcome"], out["fields"]["iommu"], out["fields"]["fault_reason"]) == (IOMMU_REFUSED, 4, 0x0D)


def test_intel_protected_region_blocks_the_translated_address(intel):
    # the page is 1_2345_6000h, inside [1_0000_0000h, 1_3FFF_FFFFh]: a translated request
    # there is blocked (VT-d 10.4.16); with EPM clear it is delivered
    out = intel[0].decide(intel_memory(page=HPA_IN), intel_request(write=1), [])
    assert out["rule"] == "pmr_blocked"
    assert (out["fields"]["outcome"], out["fields"]["address"]) == (GUARD_BLOCKED, HPA_IN | 0x678)
    out = intel[0].decide(intel_memory(page=HPA_IN), intel_request(write=1, pmen=0), [])
    assert out["rule"] == "delivered" and out["fields"]["address"] == HPA_IN | 0x678


def test_intel_2m_completion_keeps_the_offset_below_2m(intel):
    # D2 a 2-MiB leaf (PS, bit 7) at 1_4020_0000h: the completion is 1_402F_F000h | S | R
    # (bits 19:12 set, bit 20 clear: 2 MiB, PCIe 10.2.3.2); the translated address keeps
    # bits 20:0 of 35678h: 1_4023_5678h
    mem = {**intel_memory(), D2: 0x1_4020_0000 | 1 << 7 | 3}
    out = intel[0].decide(mem, intel_request(), [])
    assert out["rule"] == "delivered"
    assert out["fields"]["cpl"] == 0x1_402F_F000 | CPL_S | CPL_R
    assert out["fields"]["address"] == 0x1_4023_5678


@pytest.mark.parametrize("descriptor, dropped", [
    (dev_tlb_inv(VF_RID, 0x35000), True),                   # S = 0: the page
    (dev_tlb_inv(VF_RID, 0x34000, s=1), True),              # 8 KiB at 34000h
    (dev_tlb_inv(VF_RID, 0x3B000, s=1), False),             # 32 KiB at 38000h
    (dev_tlb_inv(0x0402, 0x35000), False),                  # another SID
    (dev_tlb_inv(VF_RID, 0x35000, itype=2), False),         # type 2: an IOTLB descriptor
])
def test_intel_device_tlb_invalidate(intel, descriptor, dropped):
    ref = intel[0]
    mem, c = intel_memory(), ref.Caches()
    ref.decide_cached(c, mem, intel_request(), [])
    ref.invalidate(c, "dev_tlb_inv", descriptor, intel_request())
    trace: list = []
    _, hits = ref.decide_cached(c, mem, intel_request(), trace)
    assert (hits == ()) is dropped and (D1 in reads(trace)) is dropped


# ===================================================================================
# The Invalidate Request / Completion exchange
# ===================================================================================
def completion(**kw) -> dict:
    # ITag 3, the completion from 0401h with ITag Vector bit 3 and CC = 2, none received yet
    return {"itag": 3, "requester": VF_RID, "itag_vector": 1 << 3, "cc": 2, "received": 0, **kw}


@pytest.mark.parametrize("kw, outcome", [
    ({}, PENDING),                                          # first of CC = 2
    ({"received": 1}, COMPLETE),                            # the second: complete
    ({"received": 2}, UNEXPECTED),                          # a third of CC = 2
    ({"requester": 0x0402}, UNEXPECTED),                    # another Function's completion
    ({"itag_vector": 1 << 4}, UNEXPECTED),                  # another ITag's
    ({"itag_vector": 1 << 3 | 1 << 9, "cc": 1}, COMPLETE),  # coalesced ITags 3 and 9, CC = 1
    ({"cc": 0, "received": 6}, PENDING),                    # CC = 0: eight due, this is the 7th
    ({"cc": 0, "received": 7}, COMPLETE),                   # ... the 8th
])
def test_invalidate_completion(inv, kw, outcome):
    amd_inv, intel_inv = inv
    cmd = inv_iotlb_pages(VF_RID, 0x34000, s=1)
    out = amd_inv.decide({}, {**cmd, **completion(**kw)}, [])
    assert out["fields"]["outcome"] == outcome
    desc = dev_tlb_inv(VF_RID, 0x34000, s=1)
    out = intel_inv.decide({}, {**desc, **completion(**kw)}, [])
    assert out["fields"]["outcome"] == outcome


def test_invalidate_request_message_fields(inv):
    # AMD: the Invalidate Request goes to DeviceID 0401h with the command's address and S;
    # GN = 1 carries the PASID: PASID[15:8] in w0 23:16 (12h), PASID[7:0] in w0 55:48 (34h)
    amd_inv, intel_inv = inv
    cmd = inv_iotlb_pages(VF_RID, 0x34000, s=1, gn=1)
    cmd["w0"] |= 0x12 << 16 | 0x34 << 48
    f = amd_inv.decide({}, {**cmd, **completion()}, [])["fields"]
    assert (f["destination"], f["itag"], f["address"], f["s"]) == (VF_RID, 3, 0x34000, 1)
    assert (f["pasid_valid"], f["pasid"], f["queue_id"], f["maxpend"], f["count"]) == (1, 0x1234, VF_RID, 0x20, 2)
    # VT-d: SID 0401h, PFSID 0300h
    f = intel_inv.decide({}, {**dev_tlb_inv(VF_RID, 0x35000), **completion()}, [])["fields"]
    assert (f["destination"], f["address"], f["s"], f["pfsid"], f["mip"]) == (VF_RID, 0x35000, 0, 0x0300, 0)
    # a descriptor of another type sends nothing
    out = intel_inv.decide({}, {**dev_tlb_inv(VF_RID, 0x35000, itype=2), **completion()}, [])
    assert out["fields"]["outcome"] == NOT_THIS_COMMAND


def test_models_agree_with_the_references_on_the_golden_images(amd, intel):
    # one image per vendor (each model runs ~10 s on one): the whole path, to the guard
    for (ref, model), cases in (
            (amd, [(amd_memory(dev_bit=True), amd_request(write=1))]),
            (intel, [(intel_memory(page=HPA_IN), intel_request(write=1))])):
        scenarios = [Scenario(req, mem, latency_seed=i) for i, (mem, req) in enumerate(cases)]
        for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
            trace, mem = [], dict(sc.memory)
            assert compare(Run(ref.decide(mem, sc.request, trace), trace, mem), model_run) == [], sc.request
