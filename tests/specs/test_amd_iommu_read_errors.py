"""Golden tests of reads that answer with an error in the generated amd_iommu reference
(issue 17), worked out by hand from AMD pub. 48882 2.5 (event log) as the fact sheet
(notes/iommu-facts.md 2, 3.3 (7), 5.3) and the VirtualBox event layouts it was confirmed
against give them:

- DEV_TAB_HARDWARE_ERROR, code 3: the DTE could not be read. First quadword: DeviceID
  15:0, I 51 (an interrupt request), RW 53 (a write), TR 56 (a translation request), Type
  58:57 (10b, target abort: the choice the spec marks UNCONFIRMED), EventCode 63:60;
  second quadword: the address of the DTE (DevTabBase + DeviceID * 32). The request is
  aborted (target abort);
- PAGE_TAB_HARDWARE_ERROR, code 4: an I/O page table entry (or, I = 1, the interrupt
  remapping table entry) could not be read: as code 3 plus DomainID 47:32; the second
  quadword the address of the entry read;
- a hardware error is logged whenever Control.EventLogEn = 1 (DTE.SA suppresses I/O page
  faults only), at the tail, which then advances.

A failed read returns no data (it reads as 0, traced with op 3): the DTE read as 0 has
V = 0, which would forward the request untranslated, so the error is checked first.
"""
import pytest

from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

from tests.specs.test_amd_iommu_reference import (
    DEVTAB, DMA_READ, DMA_WRITE, DOMAIN, DTE, EVENT_LOG_EN, INTERRUPT, IOMMU_EN, IR, IW, LOG_ENTRY, MSI, MSI_TABLE,
    PAGE, PR, R, REMAP_Q2, RW_OK, SA, TAIL, TV, V, T1, T2, T3, dte, int_mem, irte, iova, mode, nl, walk_mem,
)

ABORTED = 3
DEV_TAB_HW, PAGE_TAB_HW = 3, 4
TARGET_ABORT = 2 << 57   # Type 58:57 = 10b
F_I, F_RW, F_TR = 1 << 51, 1 << 53, 1 << 56
ERR = 3                  # trace op: a read that answered with an error


def run(ref, mem, errors, kind=DMA_READ, address=0, data=0, control=IOMMU_EN | EVENT_LOG_EN, at=0):
    request = {
        "kind": kind, "device_id": 0x0123, "address": address, "data": data, "at": at, "nw": 0,
        "pv": 0, "pasid": 0, "pmr": 0, "er": 0,
        "DEV_TAB_BAR": DEVTAB | 0x1FF, "CONTROL": control,
        "EVT_LOG_BAR": 0x0040_0000 | 8 << 56, "EVT_LOG_TAIL": TAIL << 4,
    }
    trace: list = []
    out = ref.decide(dict(mem), request, trace, errors=frozenset(errors))
    return out, trace, request


@pytest.fixture(scope="module")
def ref(generated):
    return generated["amd_iommu"][0]


# ---- DEV_TAB_HARDWARE_ERROR ---------------------------------------------------------------
def test_dte_read_error_aborts_and_logs_code_3(ref):
    # DTE = 0x100000 + 0x123 * 32 = 0x102460; its second quadword errs, the rest are read
    assert DTE == 0x102460
    mem = dte(q0=V | TV | mode(4) | R | IR | IW)
    out, trace, _ = run(ref, mem, {DTE + 8}, DMA_WRITE, address=0x1234_5000)
    assert out["rule"] == "dte_hw_error", out
    f = out["fields"]
    lo = 0x0123 | F_RW | TARGET_ABORT | DEV_TAB_HW << 60
    assert lo == 0x3420_0000_0000_0123  # code 3 at 63:60, bit 58 (Type 10b at 58:57), bit 53 (RW)
    assert (f["outcome"], f["code"], f["logged"], f["entry_lo"], f["entry_hi"]) == (ABORTED, DEV_TAB_HW, 1, lo, DTE)
    assert f["tail"] == (TAIL + 1) << 4
    assert trace == [(0, DTE, 8, mem[DTE]), (ERR, DTE + 8, 8, 0), (0, DTE + 16, 8, 0), (0, DTE + 24, 8, 0),
                     (1, LOG_ENTRY, 8, lo), (1, LOG_ENTRY + 8, 8, DTE)]  # no walk


def test_dte_read_error_of_an_interrupt_sets_i_and_is_logged_despite_sa(ref):
    mem = dte(q0=V, q1=DOMAIN | SA, q2=REMAP_Q2)
    out, trace, _ = run(ref, mem, {DTE}, INTERRUPT, address=MSI, data=5)
    f = out["fields"]
    assert out["rule"] == "dte_hw_error"
    assert (f["outcome"], f["logged"], f["entry_lo"]) == (ABORTED, 1, 0x0123 | F_I | TARGET_ABORT | DEV_TAB_HW << 60)
    assert trace[0] == (ERR, DTE, 8, 0) and len(trace) == 6  # 4 DTE reads, no IRTE, 2 log writes


def test_dte_read_error_without_the_event_log(ref):
    out, trace, _ = run(ref, dte(q0=V), {DTE + 24}, DMA_READ, control=IOMMU_EN)
    f = out["fields"]
    assert (out["rule"], f["code"], f["logged"], f["tail"]) == ("dte_hw_error", DEV_TAB_HW, 0, TAIL << 4)
    assert [op for op, *_ in trace] == [0, 0, 0, ERR]  # nothing written


# ---- PAGE_TAB_HARDWARE_ERROR: the I/O page tables ------------------------------------------
@pytest.mark.parametrize("level, entry", [(4, R + 0x012 * 8), (2, T2 + 0x056 * 8), (1, 0x0600_0000 + 0x078 * 8)])
def test_page_table_read_error_logs_code_4_with_the_entry_address(ref, level, entry):
    va = iova(i4=0x012, i3=0x034, i2=0x056, i1=0x078, off=0xABC)
    entries = {R + 0x012 * 8: T3 | nl(3) | PR | RW_OK, T3 + 0x034 * 8: T2 | nl(2) | PR | RW_OK,
               T2 + 0x056 * 8: T1 | nl(1) | PR | RW_OK, T1 + 0x078 * 8: PAGE | nl(0) | PR | RW_OK}
    mem = walk_mem(V | TV | mode(4) | R | IR | IW, entries)
    out, trace, _ = run(ref, mem, {entry}, DMA_READ, address=va)
    assert out["rule"] == "page_tab_hw_error", out
    f = out["fields"]
    lo = 0x0123 | DOMAIN << 32 | TARGET_ABORT | PAGE_TAB_HW << 60
    assert lo == 0x4400_0ABC_0000_0123  # code 4, bit 58 (Type 10b), DomainID ABCh at 47:32
    assert (f["outcome"], f["code"], f["logged"], f["entry_lo"], f["entry_hi"]) == (ABORTED, PAGE_TAB_HW, 1, lo, entry)
    walked = [a for op, a, _, _ in trace[4:] if op != 1]
    order = [R + 0x012 * 8, T3 + 0x034 * 8, T2 + 0x056 * 8, T1 + 0x078 * 8]
    assert walked == order[:order.index(entry) + 1]  # the walk stops at the failed read
    assert trace[4 + order.index(entry)] == (ERR, entry, 8, 0)


def test_translation_request_page_table_error_gets_completer_abort_and_tr(ref):
    mem = walk_mem(V | TV | mode(1) | R | IR | IW, {R + 8: PAGE | nl(0) | PR | RW_OK})
    mem[DTE + 8] |= 1 << (96 - 64)  # DTE.I (bit 96) = 1: the device may send ATS requests
    out, _, _ = run(ref, mem, {R + 8}, DMA_READ, address=0x1000, at=1)
    f = out["fields"]
    assert out["rule"] == "page_tab_hw_error"
    assert (f["outcome"], f["cpl_status"], f["entry_hi"]) == (4, 4, R + 8)  # COMPLETED, CA
    assert f["entry_lo"] == 0x0123 | DOMAIN << 32 | F_TR | TARGET_ABORT | PAGE_TAB_HW << 60


# ---- PAGE_TAB_HARDWARE_ERROR: the interrupt remapping table ---------------------------------
def test_irte_read_error_logs_code_4_with_i(ref):
    # index 5: the IRTE at MSI_TABLE + 5 * 4 = 0x500014, read as its quadword 0x500010
    mem = int_mem(REMAP_Q2, {5: irte(vector=0x64)})
    out, trace, _ = run(ref, mem, {MSI_TABLE + 16}, INTERRUPT, address=MSI, data=5)
    assert out["rule"] == "irt_hw_error", out
    f = out["fields"]
    lo = 0x0123 | DOMAIN << 32 | F_I | TARGET_ABORT | PAGE_TAB_HW << 60
    assert (f["outcome"], f["code"], f["vector"], f["entry_lo"], f["entry_hi"]) == \
        (ABORTED, PAGE_TAB_HW, 0, lo, MSI_TABLE + 0x14)
    assert trace[4] == (ERR, MSI_TABLE + 16, 8, 0)


# ---- the cycle-level model takes the same errors (m_rerr) -----------------------------------
def test_model_takes_the_read_errors(generated):
    ref, model = generated["amd_iommu"]
    assert "m_rerr" in model.PORT_ORDER
    va = iova(i2=0x056, i1=0x078)
    walk = walk_mem(V | TV | mode(2) | R | IR | IW, {R + 0x056 * 8: T1 | nl(1) | PR | RW_OK,
                                                     T1 + 0x078 * 8: PAGE | nl(0) | PR | RW_OK})
    cases = [(dte(q0=V), DMA_READ, 0, 0, {DTE + 16}),
             (walk, DMA_WRITE, va, 0, {R + 0x056 * 8}),
             (walk, DMA_READ, va, 0, {T1 + 0x078 * 8}),
             (int_mem(REMAP_Q2, {4: irte(vector=0x33)}), INTERRUPT, MSI, 4, {MSI_TABLE + 16}),
             (walk, DMA_READ, va, 0, set())]
    scenarios = []
    for i, (mem, kind, address, data, errors) in enumerate(cases):
        _, _, request = run(ref, mem, errors, kind, address, data)
        scenarios.append(Scenario(request, mem, i, errors=frozenset(errors)))
    for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
        trace = []
        mem = dict(sc.memory)
        ref_run = Run(ref.decide(mem, sc.request, trace, errors=sc.errors), trace, mem)
        assert compare(ref_run, model_run) == [], sc.request
        assert [op for op, *_ in model_run.trace].count(ERR) == len(sc.errors)
