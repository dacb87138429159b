"""Golden tests of intel_vtd's scalable mode (RTADDR_REG.TTM = 01b), expected values worked
out by hand from the VT-d specification (D51397) and the layouts it gives:

- 10.4.6: RTADDR_REG.TTM, bits 11:10; 01b is scalable mode;
- 9.2: a scalable-mode root entry (16 bytes, one per bus): lower half LP bit 0, LCTP 63:12
  (device-functions 0-127), upper half UP bit 64, UCTP 127:76 (128-255); bits 11:1 of a
  half and the pointer bits above the host address width (48) reserved;
- 9.4: a scalable-mode context entry (32 bytes, indexed by devfn bits 6:0): P 0, FPD 1,
  DTE 2, PASIDE 3, PRE 4, bits 8:5 reserved, PDTS 11:9 (2^(PDTS+7) directory entries),
  PASIDDIRPTR 63:12; RID_PASID 83:64, RID_PRIV 84, 127:85 reserved, 255:128 reserved;
- 3.4.3 / 9.5: the PASID's bits 19:6 index the PASID directory (8-byte entries: P 0,
  FPD 1, 11:2 reserved, SMPTBLPTR 63:12), bits 5:0 the PASID table (64-byte entries);
- 9.6: the PASID table entry: P 0, FPD 1, AW 4:2, PGTT 8:6 (010b second-level, 100b
  pass-through; 101b reserved), bits 11:10 reserved,
  SLPTPTR 63:12; DID 79:64, bits 86:80 reserved; bits 139:136 reserved;
- 3.7 / 9.8: the second-level tables, as in legacy mode;
- 9.9: FRCD_REG: FI 63:12, SID 79:64, PP 95, FR 103:96, PV 123:104, AT 125:124, T 126
  (0 write, 1 read), F 127;
- the appendix's SM fault reasons (Linux dmar.c gives the text at each code): 31h, 39h,
  3Ah, 41h, 42h, 44h, 45h, 46h, 51h, 52h, 59h, 5Ah, 5Bh, 7Ah, 83h, 85h, 86h.
"""
import pytest

from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

DMA_READ, DMA_WRITE = 1, 2
UNTRANSLATED, TRANSLATED = 0, 2
TRANSLATED_OUT, PASS_THROUGH, BLOCKED = 1, 2, 4
TES = 1 << 31

RTA = 0x10_0000
SM_RTADDR = RTA | 1 << 10            # TTM = 01b
BUS, DEVFN = 0x03, 0x42
SID = BUS << 8 | DEVFN               # 0x0342: lower half (devfn bit 7 = 0)
SID_UP = BUS << 8 | 0xC2             # upper half
ROOT_E = RTA + BUS * 16              # 0x100030
LCT, UCT = 0x20_0000, 0x28_0000      # lower and upper context tables
CTX_E = LCT + (DEVFN & 0x7F) * 32    # 0x200840
CTX_UP = UCT + (0xC2 & 0x7F) * 32    # 0x280840
PDIR = 0x30_0000
PTBL = 0x40_0000
SLPT = 0x50_0000
DID = 0x77
RID_PASID = 0x41                     # directory index 1, table index 1
PDIR_E = PDIR + 1 * 8                # 0x300008
PE_E = PTBL + 1 * 64                 # 0x400040
R, W = 1, 2
SL, PT_GTT, PGTT_RSVD = 2, 4, 5      # PGTT (101b reserved; first-level and nested: tests/specs/test_vtd_first_level.py)


def request(kind=DMA_READ, addr=0, at=UNTRANSLATED, sid=SID, pv=0, pasid=0, rtaddr=SM_RTADDR):
    return {"kind": kind, "sid": sid, "at": at, "addr": addr, "msi_addr": 0, "msi_data": 0, "nw": 0,
            "pv": pv, "pasid": pasid, "GSTS_REG": TES, "RTADDR_REG": rtaddr, "IRTA_REG": 0,
            "PMEN_REG": 0, "PLMBASE_REG": 0, "PLMLIMIT_REG": 0, "PHMBASE_REG": 0, "PHMLIMIT_REG": 0}


def root(lo=LCT | 1, hi=UCT | 1):
    return {ROOT_E: lo, ROOT_E + 8: hi}


def context(at=CTX_E, p=1, fpd=0, dte=0, paside=0, pdts=0, rid_pasid=RID_PASID, w0_extra=0, w2=0):
    return {at: PDIR | pdts << 9 | paside << 3 | dte << 2 | fpd << 1 | p | w0_extra,
            at + 8: rid_pasid, at + 16: w2, at + 24: 0}


def pasid_entry(pgtt=SL, aw=2, p=1, fpd=0, did=DID, at=PE_E, w0_extra=0):
    return {at: SLPT | pgtt << 6 | aw << 2 | fpd << 1 | p | w0_extra, at + 8: did, at + 16: 0}


def structures(pdir_e=PDIR_E, pe_e=PE_E, **ctx):
    return {**root(), **context(**ctx), pdir_e: PTBL | 1, **pasid_entry(at=pe_e)}


# A 4-level second-level walk of 0x0000_0040_0020_3ABC: indexes 47:39 = 0, 38:30 = 100h,
# 29:21 = 1, 20:12 = 3; PML4E at 500000h, PDPE at 600000h + 800h, PDE at 700000h + 8,
# PTE at 800000h + 18h mapping the 4-KByte page 9000_0000h.
ADDR = 0x0000_0040_0020_3ABC
WALK = [0x50_0000, 0x60_0800, 0x70_0008, 0x80_0018]


def sl_tables(pte=0x9000_0000 | R | W, pde=0x80_0000 | R | W):
    return {0x50_0000: 0x60_0000 | R | W, 0x60_0800: 0x70_0000 | R | W, 0x70_0008: pde, 0x80_0018: pte}


def frcd_hi(fr, t, at=UNTRANSLATED, sid=SID, pasid=None):
    pp = pasid is not None
    return sid | pp << 31 | fr << 32 | (pasid or 0) << 40 | at << 60 | t << 62 | 1 << 63


@pytest.fixture(scope="module")
def ref(generated):
    return generated["intel_vtd"][0]


def decide(ref, mem, req):
    trace = []
    out = ref.decide(dict(mem), req, trace)
    assert all(op == 0 for op, _, _, _ in trace), "the unit never writes memory"
    return out, [a for _, a, _, _ in trace]


def blocked(out, rule, fr, t, recorded=1, **kw):
    assert out["exit"] and out["rule"] == rule, out
    f = out["fields"]
    assert (f["outcome"], f["fault_reason"], f["recorded"]) == (BLOCKED, fr, recorded)
    assert f["frcd_hi"] == frcd_hi(fr, t, **kw)


CTX_WORDS = [CTX_E, CTX_E + 8, CTX_E + 16, CTX_E + 24]
UP_TO_PE = [ROOT_E, ROOT_E + 8, *CTX_WORDS, PDIR_E, PE_E, PE_E + 8, PE_E + 16]


def test_second_level_translation_without_pasid_uses_rid_pasid(ref):
    out, trace = decide(ref, {**structures(), **sl_tables()}, request(DMA_WRITE, addr=ADDR))
    assert out["rule"] == "sm_translated"
    f = out["fields"]
    assert (f["outcome"], f["address"], f["domain"]) == (TRANSLATED_OUT, 0x9000_0ABC, DID)
    # root (both halves), the 32-byte context entry, directory entry 1, PASID entry 1
    # (words 0-2), then the four second-level entries
    assert trace == UP_TO_PE + WALK


def test_second_level_translation_of_a_request_with_pasid(ref):
    # PASID 12345h: directory index 48Dh (needs PDTS >= 4: 2^11 entries), table index 5
    pasid = 0x12345
    pdir_e, pe_e = PDIR + 0x48D * 8, PTBL + 5 * 64
    mem = {**root(), **context(paside=1, pdts=4), pdir_e: PTBL | 1, **pasid_entry(at=pe_e), **sl_tables()}
    out, trace = decide(ref, mem, request(DMA_READ, addr=ADDR, pv=1, pasid=pasid))
    assert out["rule"] == "sm_translated" and out["fields"]["address"] == 0x9000_0ABC
    assert trace[6:10] == [0x30_2468, 0x40_0140, 0x40_0148, 0x40_0150]


def test_pass_through(ref):
    mem = {**root(), **context(), PDIR_E: PTBL | 1, **pasid_entry(pgtt=PT_GTT)}
    out, trace = decide(ref, mem, request(DMA_READ, addr=0x1234_5678))
    assert out["rule"] == "sm_pass_through"
    assert (out["fields"]["outcome"], out["fields"]["address"], out["fields"]["domain"]) == (PASS_THROUGH, 0x1234_5678, DID)
    assert trace == UP_TO_PE


def test_upper_half_of_the_root_entry(ref):
    # devfn C2h: the upper context table, entry 42h (28_0840h)
    mem = {**root(), **context(at=CTX_UP), PDIR_E: PTBL | 1, **pasid_entry(pgtt=PT_GTT)}
    out, trace = decide(ref, mem, request(DMA_READ, addr=0x5000, sid=SID_UP))
    assert out["rule"] == "sm_pass_through"
    assert trace[2:6] == [CTX_UP, CTX_UP + 8, CTX_UP + 16, CTX_UP + 24]
    out, trace = decide(ref, {**root(hi=UCT)}, request(DMA_READ, addr=0x5000, sid=SID_UP))
    blocked(out, "sm_root_not_present", 0x39, t=1, sid=SID_UP)
    assert trace == [ROOT_E, ROOT_E + 8]


def test_legacy_mode_request_with_pasid(ref):
    out, trace = decide(ref, {}, request(DMA_WRITE, addr=0x7000, pv=1, pasid=0xABCDE, rtaddr=RTA))
    blocked(out, "legacy_pasid", 0x31, t=0, pasid=0xABCDE)
    assert out["fields"]["frcd_hi"] == 0x8ABC_DE31_8000_0342
    assert out["fields"]["frcd_lo"] == 0x7000 and trace == []


@pytest.mark.parametrize("mem, rule, fr, recorded", [
    (root(lo=LCT | 1 | 1 << 1), "sm_root_reserved", 0x3A, 1),
    (root(lo=LCT | 1 | 1 << 48), "sm_root_reserved", 0x3A, 1),
    ({**root(), **context(p=0)}, "sm_context_not_present", 0x41, 1),
    ({**root(), **context(p=0, fpd=1)}, "sm_context_not_present", 0x41, 0),
    ({**root(), **context(w0_extra=1 << 5, fpd=1)}, "sm_context_reserved", 0x42, 1),   # bit 5, not qualified
    ({**root(), **context(w2=1)}, "sm_context_reserved", 0x42, 1),                      # bit 128
    ({**root(), **context(rid_pasid=RID_PASID | 1 << 21)}, "sm_context_reserved", 0x42, 1),  # bit 85
    ({**root(), **context(rid_pasid=0x2000)}, "sm_pasid_beyond_table", 0x46, 1),         # index 80h >= 2^7
    ({**root(), **context()}, "sm_pasid_dir_not_present", 0x51, 1),
    ({**root(), **context(), PDIR_E: PTBL | 1 | 1 << 2}, "sm_pasid_dir_reserved", 0x52, 1),
    ({**root(), **context(), PDIR_E: PTBL | 1}, "sm_pasid_entry_not_present", 0x59, 1),
    ({**root(), **context(), PDIR_E: PTBL | 3}, "sm_pasid_entry_not_present", 0x59, 0),  # directory FPD
    ({**structures(), PE_E: SLPT | SL << 6 | 2 << 2 | 1 | 1 << 10}, "sm_pasid_entry_reserved", 0x5A, 1),
    ({**structures(), PE_E + 8: DID | 1 << 16}, "sm_pasid_entry_reserved", 0x5A, 1),
    ({**structures(), PE_E: SLPT | PGTT_RSVD << 6 | 2 << 2 | 1}, "sm_pasid_entry_invalid", 0x5B, 1),
    ({**structures(), PE_E: SLPT | SL << 6 | 0 << 2 | 1}, "sm_pasid_entry_invalid", 0x5B, 1),
    ({**structures(), PE_E: SLPT | 7 << 6 | 2 << 2 | 1 | 2}, "sm_pasid_entry_invalid", 0x5B, 0),
])
def test_structure_faults(ref, mem, rule, fr, recorded):
    out, _ = decide(ref, mem, request(DMA_READ, addr=ADDR))
    blocked(out, rule, fr, t=1, recorded=recorded)
    assert out["fields"]["frcd_lo"] == 0x0000_0040_0020_3000


def test_pasid_faults_record_the_pasid(ref):
    # PASIDE = 0 for a request with PASID: 45h, PP = 1 and PV = the PASID
    out, trace = decide(ref, {**root(), **context()}, request(DMA_READ, addr=ADDR, pv=1, pasid=0x12345))
    blocked(out, "sm_pasid_disabled", 0x45, t=1, pasid=0x12345)
    assert trace == [ROOT_E, ROOT_E + 8, *CTX_WORDS]
    # PDTS = 3: 2^10 directory entries, the index 48Dh is beyond
    out, _ = decide(ref, {**root(), **context(paside=1, pdts=3)}, request(DMA_WRITE, addr=ADDR, pv=1, pasid=0x12345))
    blocked(out, "sm_pasid_beyond_table", 0x46, t=0, pasid=0x12345)


def test_translated_requests_need_dte(ref):
    out, trace = decide(ref, {**root(), **context()}, request(DMA_READ, addr=0x9000, at=TRANSLATED))
    blocked(out, "sm_dte_clear", 0x44, t=1, at=TRANSLATED)
    # DTE = 1: forwarded after the context entry, the PASID structures are not read
    out, trace = decide(ref, {**root(), **context(dte=1)}, request(DMA_READ, addr=0x9000, at=TRANSLATED))
    assert out["rule"] == "sm_translated_request"
    assert (out["fields"]["outcome"], out["fields"]["address"]) == (PASS_THROUGH, 0x9000)
    assert trace == [ROOT_E, ROOT_E + 8, *CTX_WORDS]


def test_second_level_faults(ref):
    mem = {**structures(), **sl_tables(pte=0x9000_0000 | R)}
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=ADDR))
    blocked(out, "sm_write_denied", 0x85, t=0)
    assert trace == UP_TO_PE + WALK
    mem = {**structures(), **sl_tables(pte=0x9000_0000 | W)}
    out, _ = decide(ref, mem, request(DMA_READ, addr=ADDR))
    blocked(out, "sm_read_denied", 0x86, t=1)
    # the PASID entry's FPD suppresses the record (qualified)
    mem = {**structures(), **pasid_entry(fpd=1), **sl_tables(pte=0x9000_0000 | W)}
    out, _ = decide(ref, mem, request(DMA_READ, addr=ADDR))
    blocked(out, "sm_read_denied", 0x86, t=1, recorded=0)
    # bit 11 of a second-level entry that references a table is reserved (9.8): 7Ah, at the PDE
    mem = {**structures(), **sl_tables(pde=0x80_0000 | R | W | 1 << 11)}
    out, trace = decide(ref, mem, request(DMA_READ, addr=ADDR))
    blocked(out, "sm_paging_reserved", 0x7A, t=1)
    assert trace == UP_TO_PE + WALK[:3]


TRANSLATION_REQUEST, COMPLETED = 1, 7


def test_translation_request_is_answered_from_the_second_level_walk(ref):
    # DTE = 1 admits a Translation Request (AT = 01b); the walk of the 4-KByte page grants
    # R and W at every level: completion SC, data entry 9000_0000h | W | R ([PCIe] 10.2.3)
    mem = {**structures(dte=1), **sl_tables()}
    out, trace = decide(ref, mem, request(DMA_READ, addr=ADDR & ~0xFFF, at=TRANSLATION_REQUEST))
    assert out["rule"] == "sm_ats_translation"
    f = out["fields"]
    assert (f["outcome"], f["cpl_status"], f["cpl"], f["domain"], f["recorded"]) == (COMPLETED, 0, 0x9000_0003, DID, 0)
    assert trace == UP_TO_PE + WALK
    # the same request with DTE = 0: 44h, answered UR (1) and recorded with AT = 01b
    out, _ = decide(ref, {**structures(), **sl_tables()}, request(DMA_READ, addr=ADDR & ~0xFFF, at=TRANSLATION_REQUEST))
    assert out["rule"] == "sm_dte_clear"
    assert (out["fields"]["outcome"], out["fields"]["cpl_status"]) == (COMPLETED, 1)
    assert out["fields"]["frcd_hi"] == frcd_hi(0x44, 1, at=TRANSLATION_REQUEST)


def test_translation_request_of_a_pass_through_pasid(ref):
    mem = {**root(), **context(dte=1), PDIR_E: PTBL | 1, **pasid_entry(pgtt=PT_GTT)}
    out, _ = decide(ref, mem, request(DMA_READ, addr=0x1234_5000, at=TRANSLATION_REQUEST))
    assert out["rule"] == "sm_ats_pass_through"
    assert (out["fields"]["outcome"], out["fields"]["cpl_status"], out["fields"]["cpl"]) == (COMPLETED, 0, 0x1234_5003)


def test_address_beyond_the_pasid_entry_width(ref):
    # AW = 001b: 39 bits; bit 40 of the address set
    mem = {**structures(), **pasid_entry(aw=1)}
    out, trace = decide(ref, mem, request(DMA_READ, addr=1 << 40))
    blocked(out, "sm_address_beyond_width", 0x83, t=1)
    assert trace == UP_TO_PE


def test_model_agrees_with_reference_on_golden_images(generated):
    ref, model = generated["intel_vtd"]
    images = [({**structures(), **sl_tables()}, request(DMA_WRITE, addr=ADDR)),
              ({**root(), **context(paside=1, pdts=4), PDIR + 0x48D * 8: PTBL | 1,
                **pasid_entry(at=PTBL + 5 * 64), **sl_tables()}, request(DMA_READ, addr=ADDR, pv=1, pasid=0x12345)),
              ({**structures(), **sl_tables(pte=0x9000_0000 | R)}, request(DMA_WRITE, addr=ADDR)),
              ({**root(), **context()}, request(DMA_READ, addr=ADDR, pv=1, pasid=0x12345)),
              ({**root(hi=UCT)}, request(DMA_READ, addr=0x5000, sid=SID_UP)),
              ({**structures(), PE_E: SLPT | PGTT_RSVD << 6 | 2 << 2 | 1}, request(DMA_READ, addr=ADDR)),
              ({**structures(dte=1), **sl_tables()}, request(DMA_READ, addr=ADDR & ~0xFFF, at=1))]
    scenarios = [Scenario(req, mem, latency_seed=i) for i, (mem, req) in enumerate(images)]
    for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
        trace, mem = [], dict(sc.memory)
        assert compare(Run(ref.decide(mem, sc.request, trace), trace, mem), model_run) == [], sc.request


# ---- reads that fail (the memory answers with an error) in scalable mode -------------------
# Linux dmar.c's SM reasons: 38h "Error attempting to access Root Entry", 78h "Error
# attempting to access second-level paging entry"; as 8h, 38h is not qualified, and as 7h,
# 78h is qualified by FPD (UNCONFIRMED, notes/iommu-facts.md 20). FR 38h / 78h, T = 1 (read).
def decide_err(ref, mem, req, errors):
    trace = []
    out = ref.decide(dict(mem), req, trace, errors=frozenset(errors))
    return out, trace


def test_root_entry_read_error_in_scalable_mode_is_38h(ref):
    out, trace = decide_err(ref, {**structures(), **sl_tables()}, request(DMA_READ, addr=ADDR), {ROOT_E})
    blocked(out, "sm_root_access_error", 0x38, 1)
    # the failed read (op 3), the root's second word, then nothing: no context entry is read
    assert [(op, a) for op, a, _s, _v in trace] == [(3, ROOT_E), (0, ROOT_E + 8)]


@pytest.mark.parametrize("level", range(4))
def test_second_level_entry_read_error_in_scalable_mode_is_78h(ref, level):
    mem = {**structures(), **sl_tables()}
    out, trace = decide_err(ref, mem, request(DMA_READ, addr=ADDR), {WALK[level]})
    blocked(out, "sm_paging_access_error", 0x78, 1, pasid=None)
    # the walk stops at the entry that failed
    assert [a for _op, a, _s, _v in trace] == UP_TO_PE + WALK[:level + 1]
    # qualified: FPD in the PASID entry suppresses the record
    mem = {**mem, **pasid_entry(fpd=1)}
    out, _ = decide_err(ref, mem, request(DMA_READ, addr=ADDR), {WALK[level]})
    assert out["rule"] == "sm_paging_access_error" and out["fields"]["recorded"] == 0
