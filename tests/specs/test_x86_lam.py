"""Golden tests of specs/x86_lam.vspec: linear-address masking, then paging, worked out by
hand from the SDM (not from the spec):

- SDM Vol. 3A 4.4.1 (LAM): a user pointer (bit 63 = 0) is masked with LAM57 under CR3[61]
  LAM_U57, else LAM48 under CR3[62] LAM_U48; a supervisor pointer (bit 63 = 1) under CR4[28]
  LAM_SUP, LAM57 with CR4.LA57 = 1 else LAM48. LAM57 replaces bits 62:57 with copies of bit
  56, LAM48 bits 62:48 with copies of bit 47; bit 63 stays. Only data accesses in 64-bit mode
  are masked. The masked address must be canonical (bit 63 equal to bit 56 / 47 then).
- SDM 4.5 (4- and 5-level paging: indexes 56:48, 47:39, 38:30, 29:21, 20:12; entry address =
  table + 8 x index; P 0, R/W 1, U/S 2, A 5, D 6, address 51:12), 4.7 (#PF error code), 6.15
  (#GP(0)), 4.10 (TLB), Vol. 2A INVLPG (a non-canonical operand invalidates nothing).

The tables map the linear address LIN = 40_0040_1ABCh (indexes: PML5 0, PML4 0, PDPT 100h,
PD 2, PT 1; offset ABCh) to the 4-KByte frame 5_0000h, for 4-level (CR3 = the PML4) and
5-level paging (CR3 = the PML5).
"""
from pathlib import Path

import pytest

from codegen.verify import harness
from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

ROOT = Path(__file__).resolve().parents[2]

TRANSLATED, PAGE_FAULT, GENERAL_PROTECTION = 1, 2, 3
NONE, LAM48, LAM57 = 0, 1, 2
P, RW, US, A, D = 1, 2, 4, 0x20, 0x40
CR0 = 1 | 1 << 31                              # PE, PG
CR3_LAM_U57, CR3_LAM_U48 = 1 << 61, 1 << 62
CR4_PAE, CR4_LA57, CR4_LAM_SUP = 1 << 5, 1 << 12, 1 << 28
EFER = 1 << 8 | 1 << 10 | 1 << 11              # LME, LMA, NXE

PML5, PML4, PDPT, PD, PT, FRAME = 0x10000, 0x11000, 0x12000, 0x13000, 0x14000, 0x50000
LIN = 0x40_0040_1ABC                            # bit 38 (PDPT index 100h), bit 22 (PD 2), bit 12 (PT 1)
PA = FRAME + 0xABC
MEM = {
    PML5 + 8 * 0: PML4 | P | RW | US | A,
    PML4 + 8 * 0: PDPT | P | RW | US | A,
    PDPT + 8 * 0x100: PD | P | RW | US | A,    # 1_2800h
    PD + 8 * 2: PT | P | RW | US | A,          # 1_3010h
    PT + 8 * 1: FRAME | P | RW | US | A | D,   # 1_4008h
}


@pytest.fixture(scope="module")
def lam():
    return harness.load_generated(ROOT / "generated" / "x86_lam")


def request(pointer, cr3=0, cr4=CR4_PAE | CR4_LA57, write=0, user=1, fetch=0, mode64=1):
    root = PML5 if cr4 & CR4_LA57 else PML4
    return {"pointer": pointer, "write": write, "user": user, "fetch": fetch, "mode64": mode64,
            "CR0": CR0, "CR3": root | cr3, "CR4": cr4, "EFER": EFER, "RFLAGS": 0, "PKRU": 0}


def decide(ref, req, mem=MEM):
    trace = []
    out = ref.decide(dict(mem), req, trace)
    return out["rule"], out["fields"], trace


def translated(masking, linear=LIN):
    return {"outcome": TRANSLATED, "masking": masking, "linear": linear, "pa": PA, "error_code": 0, "cr2": 0}


def gp(pointer, masking=NONE, linear=None):
    return {"outcome": GENERAL_PROTECTION, "masking": masking, "linear": pointer if linear is None else linear,
            "pa": 0, "error_code": 0, "cr2": 0}


# metadata 3Fh in bits 62:57 of a user pointer whose bit 56 is 0
TAGGED57 = LIN | 0x3F << 57                      # 7E00_0040_0040_1ABCh


def test_lam57_user_pointer_masks_bits_62_57(lam):
    rule, fields, trace = decide(lam[0], request(TAGGED57, cr3=CR3_LAM_U57))
    assert (rule, fields) == ("translated", translated(LAM57))
    # the walk reads the entries of LIN, not of the tagged pointer: PML5 index 0
    assert [a for op, a, _s, _v in trace if op == 0] == [0x10000, 0x11000, 0x12800, 0x13010, 0x14008]


@pytest.mark.parametrize("why", ["lam off", "fetch", "not 64-bit mode"])
def test_the_same_pointer_unmasked_is_not_canonical(lam, why):
    req = {"lam off": request(TAGGED57), "fetch": request(TAGGED57, cr3=CR3_LAM_U57, fetch=1),
           "not 64-bit mode": request(TAGGED57, cr3=CR3_LAM_U57, mode64=0)}[why]
    rule, fields, trace = decide(lam[0], req)
    assert (rule, fields, trace) == ("general_protection", gp(TAGGED57), [])


def test_lam57_modified_canonicality_bit_63_must_equal_bit_56(lam):
    # bit 56 = 1, bit 63 = 0: the masked address 7F00_0000_0000_0000h is not canonical
    pointer = 1 << 56
    rule, fields, _ = decide(lam[0], request(pointer, cr3=CR3_LAM_U57))
    assert (rule, fields) == ("general_protection", gp(pointer, LAM57, 0x7F00_0000_0000_0000))


def test_lam48_user_pointer_under_4_level_paging(lam):
    pointer = LIN | 0x7FFF << 48                 # bits 62:48 set, bit 47 clear
    rule, fields, _ = decide(lam[0], request(pointer, cr3=CR3_LAM_U48, cr4=CR4_PAE))
    assert (rule, fields) == ("translated", translated(LAM48))


def test_lam48_under_5_level_paging_masks_a_pml5_index_bit(lam):
    # bit 52 would be PML5 index bit 4; LAM48 makes it a copy of bit 47 (0): PML5 entry 0
    pointer = LIN | 1 << 52
    rule, fields, trace = decide(lam[0], request(pointer, cr3=CR3_LAM_U48))
    assert (rule, fields) == ("translated", translated(LAM48))
    assert trace[0][1] == PML5


def test_lam_u57_wins_over_lam_u48(lam):
    rule, fields, _ = decide(lam[0], request(TAGGED57, cr3=CR3_LAM_U57 | CR3_LAM_U48))
    assert fields["masking"] == LAM57 and rule == "translated"


def test_supervisor_pointer_follows_lam_sup_and_the_paging_mode(lam):
    # bit 63 = 1, bit 56 = 1, bits 62:57 = 0: not canonical unmasked; LAM_SUP with 5-level
    # paging makes it FF00_0000_0000_0000h, canonical; PML5 index 100h is not present: #PF,
    # error code 0 (supervisor read of a not-present page), CR2 = the masked address
    pointer = 1 << 63 | 1 << 56
    assert decide(lam[0], request(pointer, user=0))[1] == gp(pointer)
    rule, fields, trace = decide(lam[0], request(pointer, user=0, cr4=CR4_PAE | CR4_LA57 | CR4_LAM_SUP))
    linear = 0xFF00_0000_0000_0000
    assert rule == "page_fault"
    assert fields == {"outcome": PAGE_FAULT, "masking": LAM57, "linear": linear, "pa": 0, "error_code": 0,
                      "cr2": linear}
    assert [a for op, a, _s, _v in trace if op == 0] == [PML5 + 8 * 0x100]
    # CR3.LAM_U57 is for user pointers only
    assert decide(lam[0], request(pointer, user=0, cr3=CR3_LAM_U57))[1] == gp(pointer)


def test_pointers_that_differ_in_metadata_share_a_tlb_entry(lam):
    ref = lam[0]
    caches = ref.Caches()
    first, second = [], []
    ref.decide_cached(caches, dict(MEM), request(TAGGED57, cr3=CR3_LAM_U57), first)
    out, hits = ref.decide_cached(caches, dict(MEM), request(LIN | 0x15 << 57, cr3=CR3_LAM_U57), second)
    assert len(first) == 5 and second == [] and hits
    assert out["fields"] == translated(LAM57)


def test_invlpg_of_a_tagged_operand_drops_nothing(lam):
    ref = lam[0]
    req = request(TAGGED57, cr3=CR3_LAM_U57)
    caches = ref.Caches()
    ref.decide_cached(caches, dict(MEM), req, [])
    ref.invalidate(caches, "invlpg", {"addr": TAGGED57}, req)   # not canonical: no invalidation
    trace = []
    ref.decide_cached(caches, dict(MEM), req, trace)
    assert trace == []
    ref.invalidate(caches, "invlpg", {"addr": LIN}, req)        # the linear address: dropped
    ref.decide_cached(caches, dict(MEM), req, trace)
    assert len(trace) == 5


def test_models_agree_with_the_reference_on_the_golden_images(lam):
    ref, model = lam
    reqs = [request(TAGGED57, cr3=CR3_LAM_U57), request(TAGGED57), request(LIN | 1 << 52, cr3=CR3_LAM_U48),
            request(1 << 63 | 1 << 56, user=0, cr4=CR4_PAE | CR4_LA57 | CR4_LAM_SUP)]
    scenarios = [Scenario(r, dict(MEM), latency_seed=i) for i, r in enumerate(reqs)]
    for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
        trace, mem = [], dict(sc.memory)
        assert compare(Run(ref.decide(mem, sc.request, trace), trace, mem), model_run) == [], sc.request
