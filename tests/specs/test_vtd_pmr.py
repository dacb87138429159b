"""Golden tests of VT-d protected memory regions in the generated intel_vtd reference,
worked out by hand from the register descriptions (VT-d 10.4.16-10.4.20, as reproduced in
the 2nd Generation Intel Core Datasheet Vol. 2 2.21.14-2.21.18):

- PMEN_REG: EPM bit 31 enables the check, PRS bit 0 is status only;
- PLMBASE/PLMLIMIT (32-bit) and PHMBASE/PHMLIMIT (64-bit): bits N:0 (19:0 here) of a base
  decode as 0s and of a limit as 1s, so a region is [base, limit | FFFFFh], both ends
  inclusive; a limit below the base disables the region;
- EPM = 1: with remapping off (GSTS.TES = 0) every DMA request to a region is blocked;
  with remapping on, pass-through requests (context TT = 10b) and translated requests
  (AT = 10b) to a region are blocked; a blocked request is not recorded or reported as a
  fault;
- remapped requests: the datasheets' text lets hardware choose, but the current VT-d
  specification (PMEN_REG, 11.4.8.1 in its rev. 4+ numbering, as quoted by Intel's VT-d
  maintainer on qemu-devel in May 2024) says hardware with VER_REG Major Version 2 or
  higher blocks all DMA requests accessing protected memory regions whether or not
  remapping is enabled: the host physical address a remapped request translates to is
  checked (param PMR_REMAPPED = 1).
"""
import pytest

from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

DMA_READ, DMA_WRITE, INTERRUPT = 1, 2, 3
UNTRANSLATED, TRANSLATION_REQUEST, TRANSLATED = 0, 1, 2
PASS_THROUGH, NOT_REMAPPED, BLOCKED = 2, 3, 4
TES, IRES = 1 << 31, 1 << 25
EPM, PRS = 1 << 31, 1 << 0

RTA, CTX_TABLE = 0x10_0000, 0x20_0000
BUS, DEVFN = 0x03, 0x42
SID = BUS << 8 | DEVFN
ROOT_E, CTX_E = RTA + BUS * 16, CTX_TABLE + DEVFN * 16
DID = 0x55

LOW = (0x0100_0000, 0x01F0_0000)            # protected low memory 0100_0000h-01FF_FFFFh
HIGH = (0x1_0000_0000, 0x1_3FF0_0000)       # protected high memory 1_0000_0000h-1_3FFF_FFFFh


def request(kind=DMA_READ, addr=0, at=UNTRANSLATED, gsts=IRES, pmen=EPM | PRS, low=LOW, high=HIGH):
    return {"kind": kind, "sid": SID, "at": at, "addr": addr, "msi_addr": 0, "msi_data": 0, "nw": 0, "pv": 0, "pasid": 0,
            "GSTS_REG": gsts, "RTADDR_REG": RTA, "IRTA_REG": 0,
            "PMEN_REG": pmen, "PLMBASE_REG": low[0], "PLMLIMIT_REG": low[1],
            "PHMBASE_REG": high[0], "PHMLIMIT_REG": high[1]}


def tables(tt, aw=2):
    """A present root entry and context entry (TT, AW = 4 levels, SLPTPTR 30_0000h)."""
    return {ROOT_E: CTX_TABLE | 1, ROOT_E + 8: 0, CTX_E: 0x30_0000 | tt << 2 | 1, CTX_E + 8: aw | DID << 8}


@pytest.fixture(scope="module")
def ref(generated):
    return generated["intel_vtd"][0]


def decide(ref, mem, req):
    trace = []
    out = ref.decide(dict(mem), req, trace)
    return out, [addr for _, addr, _, _ in trace]


def pmr_blocked(ref, out, rule):
    """Blocked with no fault reason and nothing recorded: every other field 0."""
    assert out == {"exit": True, "rule": rule, "fields": {**{k: 0 for k in ref.RECORD_FIELDS}, "outcome": BLOCKED}}


# ---- remapping off (TES = 0) ------------------------------------------------------------
@pytest.mark.parametrize("addr, blocked", [
    (0x0100_0000, True),        # the low base: inclusive
    (0x01FF_FFFF, True),        # the low limit with bits 19:0 as 1s: inclusive
    (0x0200_0000, False),       # just above the low region
    (0x00FF_FFFF, False),       # just below it
    (0x1_0000_0000, True),      # the high base
    (0x1_3FFF_FFFF, True),      # the high limit
    (0x1_4000_0000, False),     # just above the high region
])
def test_unremapped_dma_to_a_region_is_blocked(ref, addr, blocked):
    for kind in (DMA_READ, DMA_WRITE):
        out, reads = decide(ref, {}, request(kind, addr=addr))
        assert reads == []
        if blocked:
            pmr_blocked(ref, out, "protected_memory_unremapped")
        else:
            assert out["rule"] == "dma_not_remapped" and out["fields"]["address"] == addr


def test_epm_off_blocks_nothing(ref):
    out, _ = decide(ref, {}, request(addr=0x0100_0000, pmen=PRS))
    assert out["rule"] == "dma_not_remapped"


def test_low_bits_of_the_registers_are_not_implemented(ref):
    # base bits 19:0 read as 0s and limit bits 19:0 as 1s whatever is written there
    low = (0x0100_0000 | 0xF_FFFF, 0x01F0_0000)
    out, _ = decide(ref, {}, request(addr=0x0100_0000, low=low))
    assert out["rule"] == "protected_memory_unremapped"


def test_limit_below_base_disables_the_region(ref):
    out, _ = decide(ref, {}, request(addr=0x0100_0000, low=(0x0100_0000, 0x00F0_0000), high=(0, 0)))
    assert out["rule"] == "dma_not_remapped"


def test_interrupt_requests_are_not_checked(ref):
    out, _ = decide(ref, {}, request(INTERRUPT, addr=0x0100_0000, gsts=0))
    assert out["rule"] == "interrupt_not_remapped"


# ---- remapping on (TES = 1) ---------------------------------------------------------------
def test_pass_through_request_to_a_region_is_blocked_after_the_context_checks(ref):
    out, reads = decide(ref, tables(tt=2), request(DMA_WRITE, addr=0x01FF_F000, gsts=TES))
    assert reads == [ROOT_E, ROOT_E + 8, CTX_E, CTX_E + 8]
    pmr_blocked(ref, out, "protected_memory")


def test_pass_through_request_just_outside_goes_through(ref):
    out, _ = decide(ref, tables(tt=2), request(DMA_WRITE, addr=0x0200_0000, gsts=TES))
    assert out["rule"] == "pass_through" and out["fields"]["outcome"] == PASS_THROUGH


def test_translated_request_to_a_region_is_blocked(ref):
    out, _ = decide(ref, tables(tt=1), request(DMA_READ, addr=0x1_2345_6000, at=TRANSLATED, gsts=TES))
    pmr_blocked(ref, out, "protected_memory")


def test_translation_request_in_a_region_is_answered_by_the_ats_rules(ref):
    # An ATS Translation Request (AT = 01b) reads nothing at its address (PCIe r5.0 10.2.2),
    # so the regions do not block it: with remapping off it gets Unsupported Request
    # (ats_not_remapped, nothing recorded), not protected_memory_unremapped.
    out, reads = decide(ref, {}, request(DMA_READ, addr=0x0100_0000, at=TRANSLATION_REQUEST, gsts=IRES))
    assert out["rule"] == "ats_not_remapped" and out["fields"]["cpl_status"] == 1 and reads == []


def test_context_faults_come_first(ref):
    # a translated request the context entry does not admit (TT = 00b) is fault Dh
    out, _ = decide(ref, tables(tt=0), request(DMA_READ, addr=0x0100_0000, at=TRANSLATED, gsts=TES))
    assert out["rule"] == "translation_type_blocked" and out["fields"]["fault_reason"] == 0x0D
    # no context entry at all: fault 2h
    out, _ = decide(ref, {ROOT_E: CTX_TABLE | 1}, request(DMA_READ, addr=0x0100_0000, gsts=TES))
    assert out["rule"] == "context_not_present"


def test_remapped_requests_are_walked_first(ref):
    # TT = 00b: the request is walked (its top entry at 30_0000h is not present: fault 6h);
    # the regions apply to the host physical address it would go to, so the input address
    # 0100_0000h, inside the low region, decides nothing
    out, reads = decide(ref, tables(tt=0), request(DMA_READ, addr=0x0100_0000, gsts=TES))
    assert reads[-1] == 0x30_0000 and out["rule"] == "read_denied"


def walk_to(frame):
    """Four levels (AW = 2) mapping IOVA 5000h to `frame`: SL-PML4E at 30_0000h, SL-PDPE at
    31_0000h, SL-PDE at 32_0000h, SL-PTE at 33_0000h + 5 * 8; every entry R = W = 1."""
    return {**tables(tt=0), 0x30_0000: 0x31_0000 | 3, 0x31_0000: 0x32_0000 | 3,
            0x32_0000: 0x33_0000 | 3, 0x33_0000 + 5 * 8: frame | 3}


def test_remapped_request_into_a_region_is_blocked(ref):
    # IOVA 5123h translates to 0100_0123h, inside the low region 0100_0000h-01FF_FFFFh:
    # blocked after the walk (VER_REG major >= 2), nothing recorded
    out, reads = decide(ref, walk_to(0x0100_0000), request(DMA_READ, addr=0x5123, gsts=TES))
    assert reads[-4:] == [0x30_0000, 0x31_0000, 0x32_0000, 0x33_0028]
    pmr_blocked(ref, out, "protected_memory_remapped")
    # the same page in the high region 1_0000_0000h-1_3FFF_FFFFh
    out, _ = decide(ref, walk_to(0x1_3FFF_F000), request(DMA_WRITE, addr=0x5FFF, gsts=TES))
    pmr_blocked(ref, out, "protected_memory_remapped")


def test_remapped_request_outside_the_regions_is_translated(ref):
    out, _ = decide(ref, walk_to(0x0200_0000), request(DMA_READ, addr=0x5123, gsts=TES))
    assert out["rule"] == "translated" and out["fields"]["address"] == 0x0200_0123
    # EPM = 0: the region check is off
    out, _ = decide(ref, walk_to(0x0100_0000), request(DMA_READ, addr=0x5123, gsts=TES, pmen=0))
    assert out["rule"] == "translated" and out["fields"]["address"] == 0x0100_0123


def test_model_agrees_with_reference_on_golden_images(generated):
    ref, model = generated["intel_vtd"]
    cases = [
        ({}, request(DMA_READ, addr=0x01FF_FFFF)),
        ({}, request(DMA_WRITE, addr=0x1_4000_0000)),
        ({}, request(DMA_WRITE, addr=0x1_0000_0000)),
        (tables(tt=2), request(DMA_WRITE, addr=0x01FF_F000, gsts=TES)),
        (tables(tt=1), request(DMA_READ, addr=0x1_2345_6000, at=TRANSLATED, gsts=TES)),
        (tables(tt=0), request(DMA_READ, addr=0x0100_0000, gsts=TES)),
        (walk_to(0x0100_0000), request(DMA_READ, addr=0x5123, gsts=TES)),
        (walk_to(0x0200_0000), request(DMA_WRITE, addr=0x5123, gsts=TES)),
    ]
    scenarios = [Scenario(req, mem, latency_seed=i) for i, (mem, req) in enumerate(cases)]
    for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
        trace = []
        mem = dict(sc.memory)
        assert compare(Run(ref.decide(mem, sc.request, trace), trace, mem), model_run) == [], sc.request
