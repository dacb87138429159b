"""Golden tests of reads that answer with an error in the generated intel_vtd reference
(issue 17), worked out by hand from the VT-d specification's appendix "Non-Recoverable
Fault Reason Encodings" (section numbers of the 3.x editions; codes confirmed by Linux
drivers/iommu/intel/dmar.c and QEMU intel_iommu_internal.h):

- 8h (LRT.1): the access to the root-entry table (RTADDR_REG) resulted in an error; not
  qualified (recorded whatever FPD says: the entry holding FPD is not known);
- 9h (LCT.1): the access to a context-entry table (CTP of the root entry) resulted in an
  error; not qualified;
- 3h (LCT.4): among its conditions, "hardware attempt to access the second-level paging
  entry referenced through the SLPTPTR field resulted in an error": the top-level entry
  (QEMU vtd_iova_to_slpte reports the top level so); qualified;
- 7h (LSL.1): the access to a second-level paging entry referenced through the ADDR field
  of a preceding entry resulted in an error; qualified (the context entry's FPD);
- 23h: the access to the interrupt-remapping table (IRTA_REG) resulted in an error; not
  qualified;
- scalable mode (RTADDR_REG.TTM = 01b): 40h (SCT.1), the access to the scalable-mode
  context table resulted in an error; 50h (SPD.1), the PASID directory; 58h (SPT.1), the
  PASID table (VirtualBox iommu-intel.h VTDADDRFAULT_SCT_1/SPD_1/SPT_1; Linux dmar.c "SM:
  Error attempting to access Context Entry / the PASID Directory Entry / PASID Table
  Entry"; QEMU VTD_FR_PASID_DIR_ACCESS_ERR, VTD_FR_PASID_TABLE_ACCESS_ERR); none
  qualified (QEMU vtd_qualified_faults lists 50h and 58h as not qualified; 40h as 9h);
  a Translation Request gets Completer Abort, as for 38h; FRCD_REG with PP 95 and PV
  123:104 for a request with PASID;
- FRCD_REG (9.9): FI 63:12 (interrupts: 63:48 the interrupt_index), SID 79:64, FR
  103:96, AT 125:124, T 126 (0 write, 1 read), F 127.

A read that answers with an error returns no data: the entry reads as 0 and the trace
shows it with op 3 (docs/language.md section 10). Each fault is checked before every rule
that reads the entry's bits (a root entry read as 0 is not "not present", 1h).
"""
import pytest

from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

from tests.specs import test_vtd_scalable_mode as sm
from tests.specs.test_intel_vtd_reference import (
    CTX_E, CTX_TABLE, DMA_READ, DMA_WRITE, INTERRUPT, IRT, R, ROOT_E, SID, T1, T2, T3, T4, W, context, entry_addr,
    irt_mem, irte, msi, request, root, walk_mem,
)

BLOCKED, COMPLETED = 4, 7
TRANSLATION_REQUEST = 1
CA = 4  # completion status Completer Abort ([PCIe] 2.2.9)
ERR = 3  # trace op: a read that answered with an error


def decide(ref, mem, req, errors):
    trace = []
    out = ref.decide(dict(mem), req, trace, errors=frozenset(errors))
    return out, trace


def fault(out, rule, fr, recorded=1):
    assert out["exit"] and out["rule"] == rule, out
    f = out["fields"]
    assert (f["outcome"], f["fault_reason"], f["recorded"]) == (BLOCKED, fr, recorded)
    return f


@pytest.fixture(scope="module")
def ref(generated):
    return generated["intel_vtd"][0]


# ---- 8h: the root entry ----------------------------------------------------------------
def test_root_table_read_error_is_8h_before_not_present(ref):
    addr = 0x0000_7F12_3456_7ABC
    # the low word of the root entry (0x100030) answers with an error: it reads as 0, which
    # would be "not present" (1h) if 8h were not checked first; the high word is read too
    out, trace = decide(ref, {**root(), **context(T4, aw=2)}, request(DMA_READ, addr=addr), {ROOT_E})
    assert trace == [(ERR, 0x100030, 8, 0), (0, 0x100038, 8, 0)]  # no context entry read
    f = fault(out, "root_access_error", 0x08)
    assert f["frcd_lo"] == 0x0000_7F12_3456_7000
    # SID 0342h, FR 08h at 103:96, AT 0, T = 1 (read) at 126, F at 127
    assert f["frcd_hi"] == 0xC000_0008_0000_0342


def test_root_error_on_the_high_word_too(ref):
    out, trace = decide(ref, root(), request(DMA_WRITE, addr=0x1000), {ROOT_E + 8})
    assert trace == [(0, ROOT_E, 8, CTX_TABLE | 1), (ERR, ROOT_E + 8, 8, 0)]
    f = fault(out, "root_access_error", 0x08)
    assert f["frcd_hi"] == 0x8000_0008_0000_0342  # T = 0: a write


def test_translation_request_with_a_root_error_gets_completer_abort(ref):
    out, _ = decide(ref, root(), request(DMA_READ, addr=0x5000, at=TRANSLATION_REQUEST), {ROOT_E})
    f = out["fields"]
    assert (out["rule"], f["outcome"], f["cpl_status"], f["fault_reason"], f["recorded"]) == \
        ("root_access_error", COMPLETED, CA, 0x08, 1)
    assert f["frcd_hi"] == 0xD000_0008_0000_0342  # AT = 01b at 125:124, T = 1


# ---- 9h: the context entry -------------------------------------------------------------
def test_context_table_read_error_is_9h_and_not_qualified(ref):
    # the context entry's low word reads fine with FPD = 1, its high word errs: 9h is not a
    # qualified fault, so it is recorded all the same
    mem = {**root(), **context(T4, aw=2, fpd=1)}
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=0x1234_5678), {CTX_E + 8})
    assert trace == [(0, ROOT_E, 8, CTX_TABLE | 1), (0, ROOT_E + 8, 8, 0), (0, CTX_E, 8, T4 | 2 | 1),
                     (ERR, CTX_E + 8, 8, 0)]  # no walk
    f = fault(out, "context_access_error", 0x09, recorded=1)
    assert (f["frcd_lo"], f["frcd_hi"]) == (0x1234_5000, 0x8000_0009_0000_0342)


# ---- 7h and 3h: the second-level paging entries ------------------------------------------
def test_paging_entry_read_error_below_the_top_is_7h(ref):
    addr = 0x0000_1234_5678_9ABC
    mem, ents = walk_mem(addr, aw=2)                      # 4 levels: T4, T3, T2, T1
    e4, e3 = entry_addr(T4, addr, 4), entry_addr(T3, addr, 3)
    assert ents[:2] == [e4, e3] == [0x310120, 0x320688]  # L4 = 0x024, L3 = 0x0D1
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr), {e3})
    assert trace[4:] == [(0, e4, 8, T3 | R | W), (ERR, e3, 8, 0)]  # the walk stops there
    f = fault(out, "paging_access_error", 0x07)
    assert (f["frcd_lo"], f["frcd_hi"]) == (0x0000_1234_5678_9000, 0xC000_0007_0000_0342)


def test_paging_entry_read_error_at_the_leaf_is_7h(ref):
    addr = 0x0000_0000_0000_1000
    mem, ents = walk_mem(addr, aw=1)                      # 3 levels: T3, T2, T1
    out, trace = decide(ref, mem, request(DMA_WRITE, addr=addr), {ents[-1]})
    assert ents[-1] == T1 + 8 and trace[-1] == (ERR, T1 + 8, 8, 0)
    f = fault(out, "paging_access_error", 0x07)
    assert f["frcd_hi"] == 0x8000_0007_0000_0342


@pytest.mark.parametrize("aw, top", [(1, T3), (2, T4)])
def test_top_level_entry_read_error_is_3h(ref, aw, top):
    addr = 0x0000_0000_4020_1234
    mem, ents = walk_mem(addr, aw=aw)
    assert ents[0] == entry_addr(top, addr, {1: 3, 2: 4}[aw])
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr), {ents[0]})
    assert trace[4:] == [(ERR, ents[0], 8, 0)]
    fault(out, "paging_access_error", 0x03)


def test_paging_errors_are_qualified_by_fpd(ref):
    addr = 0x0000_1234_5678_9ABC
    mem, ents = walk_mem(addr, aw=2)
    mem[CTX_E] |= 1 << 1                                  # FPD = 1
    out, _ = decide(ref, mem, request(DMA_READ, addr=addr), {ents[1]})
    fault(out, "paging_access_error", 0x07, recorded=0)
    out, _ = decide(ref, mem, request(DMA_READ, addr=addr), {ents[0]})
    fault(out, "paging_access_error", 0x03, recorded=0)


def test_an_error_on_a_word_the_walk_does_not_read_changes_nothing(ref):
    addr = 0x0000_1234_5678_9ABC
    mem, ents = walk_mem(addr, aw=2)
    clean, trace0 = decide(ref, mem, request(DMA_READ, addr=addr), set())
    out, trace = decide(ref, mem, request(DMA_READ, addr=addr), {T2})  # not the L2 entry read
    assert (out, trace) == (clean, trace0) and out["rule"] == "translated"


# ---- 23h: the interrupt-remapping table ----------------------------------------------------
def test_irte_read_error_is_23h(ref):
    # handle 5, IRTA S = 7 (256 entries): the IRTE at IRT + 5 * 16 = 0x400050
    mem = irt_mem(5, irte(v=0x40, fpd=1))
    out, trace = decide(ref, mem, request(INTERRUPT, msi_addr=msi(5)), {IRT + 0x50})
    assert trace == [(ERR, 0x400050, 8, 0), (0, 0x400058, 8, 0)]
    assert out["rule"] == "irte_access_error", out
    f = out["fields"]
    assert (f["outcome"], f["fault_reason"], f["recorded"]) == (BLOCKED, 0x23, 1)
    assert (f["frcd_lo"], f["frcd_hi"]) == (5 << 48, 0x8000_0023_0000_0342)
    assert f["vector"] == 0


# ---- 40h, 50h, 58h: the scalable-mode context entry, PASID directory and PASID table --------
def _sm_fault(out, rule, fr, at=0, t=1, recorded=1, status=BLOCKED):
    assert out["exit"] and out["rule"] == rule, out
    f = out["fields"]
    assert (f["outcome"], f["fault_reason"], f["recorded"]) == (status, fr, recorded)
    # SID 0342h at 79:64, FR at 103:96, AT at 125:124, T at 126, F at 127; no PASID: PP = 0
    assert f["frcd_hi"] == sm.SID | fr << 32 | at << 60 | t << 62 | 1 << 63
    return f


def test_sm_context_table_read_error_is_40h_and_not_qualified(ref):
    # the context entry's word 1 errs (word 0 has P = 1 and FPD = 1): 40h, recorded anyway;
    # the four words are read, then nothing (no PASID directory entry)
    mem = sm.structures(fpd=1)
    out, trace = decide(ref, mem, sm.request(sm.DMA_WRITE, addr=0x1234_5678), {sm.CTX_E + 8})
    assert [(op, a) for op, a, _, _ in trace] == [(0, sm.ROOT_E), (0, sm.ROOT_E + 8), (0, sm.CTX_E),
                                                   (ERR, sm.CTX_E + 8), (0, sm.CTX_E + 16), (0, sm.CTX_E + 24)]
    f = _sm_fault(out, "sm_context_access_error", 0x40, t=0)
    assert f["frcd_lo"] == 0x1234_5000


def test_sm_context_error_comes_before_not_present(ref):
    # word 0 errs: it reads as 0 (P = 0), but 40h is checked before 41h
    out, _ = decide(ref, sm.structures(), sm.request(addr=0x5000), {sm.CTX_E})
    _sm_fault(out, "sm_context_access_error", 0x40)


def test_sm_pasid_directory_read_error_is_50h(ref):
    mem = sm.structures(fpd=1)                       # the context entry's FPD does not qualify 50h
    out, trace = decide(ref, mem, sm.request(addr=0x7000), {sm.PDIR_E})
    assert [(op, a) for op, a, _, _ in trace] == [(0, a) for a in sm.UP_TO_PE[:6]] + [(ERR, sm.PDIR_E)]
    _sm_fault(out, "sm_pasid_dir_access_error", 0x50)


@pytest.mark.parametrize("word", [0, 8, 16])
def test_sm_pasid_table_read_error_is_58h(ref, word):
    # the PASID entry with FPD = 1 (so its word 0 would qualify a later fault); an error on
    # any of the three words read is 58h, recorded, and no second-level walk follows
    mem = {**sm.structures(), **sm.pasid_entry(fpd=1)}
    out, trace = decide(ref, mem, sm.request(addr=0x0000_0040_0020_3ABC), {sm.PE_E + word})
    assert [a for _, a, _, _ in trace] == sm.UP_TO_PE
    assert [op for op, *_ in trace].count(ERR) == 1
    _sm_fault(out, "sm_pasid_entry_access_error", 0x58)


def test_sm_pasid_table_read_error_of_a_request_with_pasid(ref):
    # PASID 41h (directory index 1, table index 1) carried by the request: PP and PV recorded
    mem = sm.structures(paside=1)
    out, _ = decide(ref, mem, sm.request(addr=0x3000, pv=1, pasid=0x41), {sm.PE_E})
    f = out["fields"]
    assert out["rule"] == "sm_pasid_entry_access_error"
    assert f["frcd_hi"] == sm.SID | 1 << 31 | 0x58 << 32 | 0x41 << 40 | 1 << 62 | 1 << 63


def test_sm_translation_request_with_a_read_error_gets_completer_abort(ref):
    mem = sm.structures(dte=1)                       # DTE = 1: Translation Requests allowed
    for err, fr, rule in [(sm.CTX_E + 16, 0x40, "sm_context_access_error"),
                          (sm.PDIR_E, 0x50, "sm_pasid_dir_access_error"),
                          (sm.PE_E + 8, 0x58, "sm_pasid_entry_access_error")]:
        out, _ = decide(ref, mem, sm.request(addr=0x5000, at=TRANSLATION_REQUEST), {err})
        f = _sm_fault(out, rule, fr, at=TRANSLATION_REQUEST, status=COMPLETED)
        assert f["cpl_status"] == CA


# ---- the cycle-level model takes the same errors (m_rerr) -----------------------------------
def _scenarios():
    addr = 0x0000_1234_5678_9ABC
    mem4, ents4 = walk_mem(addr, aw=2)
    mem3, ents3 = walk_mem(0x1000, aw=1)
    ats = {**mem3, CTX_E: mem3[CTX_E] | 1 << 2}  # TT = 01b: Translation Requests are walked
    return [
        (root(), request(DMA_READ, addr=0x7000), {ROOT_E}),
        ({**root(), **context(T4, aw=2)}, request(DMA_WRITE, addr=0x9000), {CTX_E}),
        (mem4, request(DMA_READ, addr=addr), {ents4[0]}),
        (mem4, request(DMA_WRITE, addr=addr), {ents4[2]}),
        (mem3, request(DMA_READ, addr=0x1000), {ents3[-1]}),
        (ats, request(DMA_READ, addr=0x1000, at=TRANSLATION_REQUEST), {ents3[0]}),
        (irt_mem(5, irte()), request(INTERRUPT, msi_addr=msi(5)), {IRT + 0x58}),
        (mem4, request(DMA_READ, addr=addr), set()),
        (sm.structures(), sm.request(addr=0x5000), {sm.PE_E + 16}),   # 58h after the whole chain
    ]


def test_model_takes_the_read_errors(generated):
    ref, model = generated["intel_vtd"]
    assert "m_rerr" in model.PORT_ORDER
    scenarios = [Scenario(req, mem, i, errors=frozenset(err)) for i, (mem, req, err) in enumerate(_scenarios())]
    for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
        trace = []
        mem = dict(sc.memory)
        ref_run = Run(ref.decide(mem, sc.request, trace, errors=sc.errors), trace, mem)
        assert compare(ref_run, model_run) == [], sc.request
        assert [op for op, *_ in model_run.trace].count(ERR) == len(sc.errors)


@pytest.mark.xdist_group("hdl-intel_vtd-None")
@pytest.mark.parametrize("backend", ["icarus", "ghdl"])
def test_the_converted_hdl_takes_the_read_errors(generated, backend):
    """The batch testbenches mark an erring word by an image entry at its address + 1 and
    drive m_rerr: the converted model answers the golden scenarios as the reference."""
    import shutil
    from pathlib import Path

    from codegen.frontend.pipeline import compile_spec
    from codegen.verify import harness
    from codegen.verify.backends import runner

    if shutil.which({"icarus": "iverilog", "ghdl": "ghdl"}[backend]) is None:
        pytest.skip(f"{backend} is not installed")
    root = Path(__file__).resolve().parents[2]
    ref, model = generated["intel_vtd"]
    spec = compile_spec(root / "specs" / "intel_vtd.vspec")
    hdl = runner.make(backend, spec, root / "generated" / "intel_vtd", ref, model)
    scenarios = [Scenario(req, mem, i, errors=frozenset(err)) for i, (mem, req, err) in enumerate(_scenarios())]
    runs = hdl.run(scenarios, harness.Timing())
    for sc, model_run in zip(scenarios, runs):
        assert compare(harness.run_reference(ref, sc), model_run) == [], sc.request
        assert [op for op, *_ in model_run.trace].count(ERR) == len(sc.errors)
