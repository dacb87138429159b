"""Golden tests of specs/vf_dma.vspec: a DMA from an SR-IOV VF, end to end, through each
IOMMU and the memory guard behind it, worked out by hand from the manuals (not from the
specs):

- PCIe r5.0 9.3.3 (SR-IOV capability: header 00h ID 0010h version 1, Control 08h with VF
  Enable bit 0 and VF MSE bit 3, TotalVFs 0Eh, NumVFs 10h, First VF Offset 14h, VF Stride
  16h), 9.2.1.2 (RID(VF n) = PF RID + First VF Offset + (n - 1) x VF Stride), 7.2.2 (ECAM:
  a function's space at base + RID << 12), 9.3.4.1.3 (a VF's Bus Master Enable, Command
  bit 2 at 04h);
- AMD IOMMU 48882 2.2.2.1 (the DTE at DevTabBase + DeviceID x 32: V 0, TV 1, Mode 11:9,
  root 51:12, IR 61, IW 62, DomainID 79:64), 2.2.3 (a 1-level table indexes address bits
  20:12; PTE PR 0, Next Level 11:9 = 0 for a page, address 51:12, IR 61, IW 62);
- APM Vol. 2 15.24.2-15.24.6 (DEV: bit k of the table is page k's, bit k % 8 of byte
  base + k / 8; domain 0 when no DEV_MAP matches; DEV_BASE_LO V 0, P 1, SIZE 6:2, base
  31:12; DEV_CR EN 0; DEV_CAP N_DOMAINS 15:8, N_MAPS 23:16);
- VT-d 3.4.3 (root entry per bus at RTA + bus x 16, P 0, CTP 63:12; context entry per devfn,
  P 0, TT 3:2 with 10b pass-through), 10.4.16-10.4.20 (PMEN EPM 31; a region is
  [base, limit | FFFFFh]; pass-through DMA into a region is blocked, nothing recorded).

The VF: PF 03:00.0, SR-IOV capability at DWORD 40h (byte 100h), VF Enable, NumVFs 4,
First VF Offset 100h, VF Stride 1, so VF 2's Routing ID is 0300h + 100h + 1 x 1 = 0401h
(bus 4, device 0, function 1).
"""
from pathlib import Path

import pytest

from codegen.verify import harness
from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

ROOT = Path(__file__).resolve().parents[2]

DELIVERED, NOT_ISSUED, IOMMU_REFUSED, GUARD_BLOCKED = 1, 2, 3, 4

# ---- the VF (PCIe r5.0 ch. 9) -------------------------------------------------------------
ECAM = 0xE000_0000                       # ECAM.BASE (bits 51:28) = Eh
PF_RID, CAP, SUB_BUS = 0x0300, 0x40, 0x05
CAP_AT = ECAM + (PF_RID << 12) + CAP * 4  # E030_0100h
VF, VF_RID = 2, 0x0401
VF_CFG = ECAM + (VF_RID << 12)           # E040_1000h


def sriov(num_vfs=4, bus_master=True) -> dict:
    return {
        CAP_AT: 0x0001_0010,                              # ID 0010h, version 1
        CAP_AT + 0x08: 0x9 | 8 << 32 | 8 << 48,           # VF Enable | VF MSE; InitialVFs 8, TotalVFs 8
        CAP_AT + 0x10: num_vfs | 0x100 << 32 | 1 << 48,   # NumVFs; First VF Offset 100h; VF Stride 1
        VF_CFG: (0x4 if bus_master else 0) << 32,          # the VF's Command register (04h): Bus Master Enable
    }


def vf_context() -> dict:
    return {"ECAM": ECAM, "PF": PF_RID | CAP << 16 | SUB_BUS << 32, "VF_BAR_SIZE": 0}


# ---- AMD: the IOMMU with a 1-level I/O page table, then the DEV ---------------------------
DEVTAB, LOG, TAIL = 0x0010_0000, 0x0040_0000, 5
DTE = DEVTAB + VF_RID * 32               # 10_8020h
IO_TABLE = 0x0020_0000
DVA = 0x0003_5678                        # index bits 20:12 = 35h: the PTE at 20_01A8h
SPA_PAGE = 0x0007_7000
SPA = SPA_PAGE | 0x678                    # 7_7678h: page 77h
DEV_TABLE = 0x0030_0000
DEV_WORD = DEV_TABLE + 8                 # page 77h: byte 0Eh, bit 7: bit 55 of the word at +8
DEV_BIT = 1 << 55


def amd_memory(dev_bit=False) -> dict:
    mem = sriov()
    mem[DTE] = 1 | 1 << 1 | 1 << 9 | IO_TABLE | 1 << 61 | 1 << 62   # V, TV, Mode 1, root, IR, IW
    mem[DTE + 8] = 0x0ABC                                           # DomainID
    mem[IO_TABLE + 0x35 * 8] = 1 | SPA_PAGE | 1 << 61 | 1 << 62     # PR, Next Level 0, the page, IR, IW
    mem[DEV_WORD] = DEV_BIT if dev_bit else 0
    return mem


def amd_request(write=0) -> dict:
    return {"vf": VF, "addr": DVA, "write": write, **vf_context(),
            "DEV_TAB_BAR": DEVTAB, "CONTROL": 1 | 1 << 2, "EVT_LOG_BAR": LOG | 8 << 56, "EVT_LOG_TAIL": TAIL << 4,
            "DEV_CR": 1, "DEV_CAP": 4 << 8 | 3 << 16, "DEV_MAP0": 0, "DEV_MAP1": 0, "DEV_MAP2": 0,
            "DEV_BASE_LO0": DEV_TABLE | 1, "DEV_BASE_HI0": 0, "DEV_BASE_LO1": 0, "DEV_BASE_HI1": 0,
            "DEV_BASE_LO2": 0, "DEV_BASE_HI2": 0, "DEV_BASE_LO3": 0, "DEV_BASE_HI3": 0, "SL_DEV_BASE": 0,
            "HT_LINK": 0}


# ---- Intel: VT-d pass-through for the VF's source-id, a protected high-memory region ------
RTA, CTX_TABLE = 0x0060_0000, 0x0070_0000
ROOT_E = RTA + 0x04 * 16                 # bus 4
CTX_E = CTX_TABLE + 0x01 * 16            # devfn 01h
TES = 1 << 31
HIGH = (0x1_0000_0000, 0x1_3FF0_0000)    # protected high memory 1_0000_0000h-1_3FFF_FFFFh


def intel_memory() -> dict:
    return {**sriov(), ROOT_E: CTX_TABLE | 1, CTX_E: 2 << 2 | 1, CTX_E + 8: 2 | 0x55 << 8}  # TT = 10b


def intel_request(addr, pmen=1 << 31) -> dict:
    return {"vf": VF, "addr": addr, "write": 1, **vf_context(),
            "GSTS_REG": TES, "RTADDR_REG": RTA, "IRTA_REG": 0, "PMEN_REG": pmen,
            "PLMBASE_REG": 0, "PLMLIMIT_REG": 0, "PHMBASE_REG": HIGH[0], "PHMLIMIT_REG": HIGH[1]}


@pytest.fixture(scope="module")
def amd():
    return harness.load_generated(ROOT / "generated" / "vf_dma" / "vf_dma_amd")


@pytest.fixture(scope="module")
def intel(generated):
    return generated["vf_dma"]


def decide(ref, mem, request):
    trace = []
    out = ref.decide(dict(mem), request, trace)
    return out, trace


def test_amd_vf_dma_is_translated_and_passes_a_clear_dev_bit(amd):
    # VF 2 -> Routing ID 0401h -> DTE at 10_8020h -> PTE at 20_01A8h -> 7_7678h; DEV bit 77h clear
    out, trace = decide(amd[0], amd_memory(), amd_request())
    assert out["rule"] == "delivered"
    assert out["fields"] == {"outcome": DELIVERED, "rid": VF_RID, "address": SPA, "iommu": 0, "code": 0}
    reads = [addr for op, addr, _, _ in trace if op == 0]
    # the capability's words, the VF's Command register, the whole DTE, the PTE, then the DEV word
    assert reads[-1] == DEV_WORD and IO_TABLE + 0x35 * 8 in reads and VF_CFG in reads
    assert all(op == 0 for op, *_ in trace)    # nothing logged, nothing written


def test_amd_vf_dma_to_a_page_the_dev_excludes_is_blocked(amd):
    out, _ = decide(amd[0], amd_memory(dev_bit=True), amd_request(write=1))
    assert out["rule"] == "dev_blocked"
    assert out["fields"]["outcome"] == GUARD_BLOCKED and out["fields"]["address"] == SPA


def test_amd_vf_beyond_num_vfs_issues_nothing(amd):
    # NumVFs = 1: VF 2 does not exist (PCIe 9.3.3.7); the IOMMU sees no request
    mem = {**amd_memory(), CAP_AT + 0x10: 1 | 0x100 << 32 | 1 << 48}
    out, trace = decide(amd[0], mem, amd_request())
    assert out["rule"] == "not_issued" and out["fields"]["outcome"] == NOT_ISSUED
    assert DTE not in [addr for _, addr, _, _ in trace]


def test_amd_iommu_fault_is_logged_and_refused(amd):
    # the PTE not present: IO_PAGE_FAULT (code 2) logged at the tail, the DMA aborted (3)
    mem = amd_memory()
    mem[IO_TABLE + 0x35 * 8] = 0
    out, trace = decide(amd[0], mem, amd_request())
    assert out["rule"] == "iommu_refused" and out["fields"]["iommu"] == 3 and out["fields"]["code"] == 2
    assert [addr for op, addr, _, _ in trace if op == 1] == [LOG + TAIL * 16, LOG + TAIL * 16 + 8]


def test_intel_vf_dma_passes_through_outside_the_regions(intel):
    # source-id 0401h -> root entry of bus 4 -> context entry of devfn 01h: TT = 10b
    out, _ = decide(intel[0], intel_memory(), intel_request(0x1_4000_0000))
    assert out["rule"] == "delivered"
    assert out["fields"] == {"outcome": DELIVERED, "rid": VF_RID, "address": 0x1_4000_0000, "iommu": 0,
                             "fault_reason": 0}


def test_intel_vf_dma_into_a_protected_region_is_blocked(intel):
    # 1_2345_6000h lies in [1_0000_0000h, 1_3FFF_FFFFh]: pass-through DMA there is blocked
    out, _ = decide(intel[0], intel_memory(), intel_request(0x1_2345_6000))
    assert out["rule"] == "pmr_blocked" and out["fields"]["outcome"] == GUARD_BLOCKED
    # with EPM clear the same DMA goes through
    out, _ = decide(intel[0], intel_memory(), intel_request(0x1_2345_6000, pmen=0))
    assert out["rule"] == "delivered" and out["fields"]["address"] == 0x1_2345_6000


def test_models_agree_with_the_references_on_the_golden_images(amd, intel):
    for (ref, model), cases in (
            (amd, [(amd_memory(), amd_request()), (amd_memory(dev_bit=True), amd_request(write=1))]),
            (intel, [(intel_memory(), intel_request(0x1_4000_0000)), (intel_memory(), intel_request(0x1_2345_6000))])):
        scenarios = [Scenario(req, mem, latency_seed=i) for i, (mem, req) in enumerate(cases)]
        for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
            trace, mem = [], dict(sc.memory)
            assert compare(Run(ref.decide(mem, sc.request, trace), trace, mem), model_run) == [], sc.request
