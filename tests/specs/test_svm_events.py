"""Golden tests of amd_svm: events during event delivery (EXITINTINFO), event injection
(EVENTINJ), the #DF / shutdown combination and the VINTR intercept. Expected values by hand.

Facts (AMD64 APM Vol. 2; notes/exits-facts.md section 8):
- 15.7.2 Figure 15-1: EXITINTINFO (VMCB 088h) = VECTOR 7:0, TYPE 10:8 (0 INTR, 2 NMI,
  3 exception, 4 INTn), EV 11, V 31, ERRORCODE 63:32; "all intercepts indicate ... whether
  they occurred during exception or interrupt delivery through the IDT";
- 15.20: EVENTINJ (0A8h) has the same format; an injected event is treated as if it had
  occurred normally and is recorded in EXITINTINFO; VMRUN injects only when V = 1; the
  VECTOR of an injected NMI is ignored;
- 15.7.3 pseudo-code and 15.12: an exception raised during a delivery is checked against
  its own intercept first, then combined with the prior event; a resulting #DF or shutdown
  is checked before delivery, and EXITINTINFO still holds the prior event; example: #NP
  being delivered, #GP raised: with #GP and #DF intercepted the exit is #GP with
  EXITINTINFO = #NP; with only #DF intercepted the exit is #DF;
- APM 8.2.9 / SDM Vol. 3A Table 6-5: contributory (0, 10-13) on contributory -> #DF; #PF or
  contributory on #PF -> #DF; #PF or contributory on #DF -> shutdown; benign ones, and
  anything during an interrupt's delivery, are handled serially;
- 15.21.4, 15.21.5, 15.13.5: a virtual interrupt is taken when V_IRQ = 1 and V_INTR_PRIO >
  V_TPR (not compared with V_IGN_TPR), RFLAGS.IF = 1, virtual GIF on, no interrupt shadow;
  the VINTR intercept (64h) is taken immediately before; nRIP = 0 for it (15.7.1).
VMCB 060h bits (Table B-1, Linux asm/svm.h): V_TPR 3:0, V_IRQ 8, V_GIF 9, V_INTR_PRIO 19:16,
V_IGN_TPR 20, V_GIF_ENABLE 25; 068h bit 0 INTERRUPT_SHADOW; guest RFLAGS at 570h (save
area 400h + 170h, Table B-2), IF = bit 9.
"""
import pytest

from tests.specs.test_svm_reference import (EVENT, EXITINTINFO, NEXT_RIP, READ_WORDS, SHUTDOWN, STORE_WORDS, VMCB,
                                            bit, exits, run, vmcb)

EXCEPTION, TASK_SWITCH, CPUID, BOUNDARY = 0x40, 0x7D, 0x72, 0x64
M1_VINTR, M1_CPUID, M1_TASK_SWITCH, M1_SHUTDOWN = 4, 18, 29, 31
V_INTR, INT_STATE, EVENTINJ, RFLAGS = 0x060, 0x068, 0x0A8, 0x570
T_INTR, T_NMI, T_EXC, T_SOFT = 0, 2, 3, 4
V = 1 << 31
RFLAGS_IF = 0x202                      # IF (bit 9) and the always-1 bit 1

assert set(EVENT) >= {"delivering", "injected", "dlv_type", "dlv_vector", "dlv_ev", "dlv_error_code"}


@pytest.fixture(scope="module")
def ref(generated):
    return generated["amd_svm"][0]


def info(vector, typ, ev=0, code=0, valid=1):
    """An EXITINTINFO / EVENTINJ value, Figure 15-1 bit by bit."""
    return vector | typ << 8 | ev << 11 | valid << 31 | code << 32


def with_(mem, **words):
    out = dict(mem)
    for off, value in words.items():
        out[VMCB + {"v_intr": V_INTR, "int_state": INT_STATE, "eventinj": EVENTINJ, "rflags": RFLAGS}[off]] = value
    return out


# ---- exits during the delivery of an injected event ----------------------------------------
def test_pf_during_delivery_of_injected_gp_records_the_injected_event(ref):
    # EVENTINJ: #GP (vector 13, TYPE 3) with error code 0010h, EV = 1, V = 1
    #   = 0000_0010_8000_0B0Dh. Delivery of it raises a #PF (error code 2: write, not
    #   present) that is intercepted (008h bit 14): EXITCODE 4Eh, EXITINFO1 = 2, EXITINFO2 =
    #   the address; EXITINTINFO = the injected #GP with V = 1: the same value.
    inj = info(13, T_EXC, ev=1, code=0x10)
    assert inj == 0x0000_0010_8000_0B0D
    mem = with_(vmcb(exc=bit(14)), eventinj=inj)
    before = dict(mem)
    out, trace = run(ref, mem, kind=EXCEPTION, vector=14, has_error_code=1, error_code=2,
                     fault_address=0x7FFF_F000, delivering=1, injected=1)
    # EVENTINJ is written back with V cleared (15.20): 0000_0010_0000_0B0Dh
    exits(out, 0x4E, info1=2, info2=0x7FFF_F000, nrip=0, intinfo=0x0000_0010_8000_0B0D, eventinj=0x10_0000_0B0D)
    assert out["rule"] == "exception"
    # the VMCB words are read once each, ascending; the six stores in offset order
    assert trace[:len(READ_WORDS)] == [(0, VMCB + o, 8, before.get(VMCB + o, 0)) for o in READ_WORDS]
    assert mem[VMCB + EVENTINJ] == 0x10_0000_0B0D
    assert [(op, a) for op, a, *_ in trace[len(READ_WORDS):]] == [(1, VMCB + o) for o in STORE_WORDS]
    assert (1, VMCB + EXITINTINFO, 8, 0x0000_0010_8000_0B0D) in trace


def test_injected_event_without_v_is_not_being_delivered(ref):
    # VMRUN injects only when EVENTINJ.V = 1 (15.20): same #PF, EXITINTINFO = 0
    mem = with_(vmcb(exc=bit(14)), eventinj=info(13, T_EXC, ev=1, code=0x10, valid=0))
    out, _ = run(ref, mem, kind=EXCEPTION, vector=14, has_error_code=1, error_code=2,
                 fault_address=0x1000, delivering=1, injected=1)
    exits(out, 0x4E, info1=2, info2=0x1000, nrip=0, intinfo=0, eventinj=0x10_0000_0B0D)  # V already 0: unchanged


def test_injected_nmi_records_vector_2(ref):
    # 15.20: the VECTOR of an injected NMI (TYPE 2) is ignored; the NMI is vector 2, so the
    # spec's EXITINTINFO reads 8000_0202h (UNCONFIRMED choice, notes 8).
    mem = with_(vmcb(exc=bit(14)), eventinj=info(0x55, T_NMI))
    out, _ = run(ref, mem, kind=EXCEPTION, vector=14, has_error_code=1, error_code=0,
                 fault_address=0x2000, delivering=1, injected=1)
    exits(out, 0x4E, info2=0x2000, nrip=0, intinfo=0x8000_0202, eventinj=0x255)  # V cleared, VECTOR 55h kept


# ---- exits during the delivery of the guest's own event ------------------------------------
def test_pf_during_delivery_of_an_external_interrupt(ref):
    # INTR vector 30h being delivered (TYPE 0, no error code): EXITINTINFO = 8000_0030h;
    # EVENTINJ is not used (injected = 0)
    mem = with_(vmcb(exc=bit(14)), eventinj=info(13, T_EXC, ev=1, code=0x10))
    out, _ = run(ref, mem, kind=EXCEPTION, vector=14, has_error_code=1, error_code=0,
                 fault_address=0x3000, delivering=1, dlv_type=T_INTR, dlv_vector=0x30)
    exits(out, 0x4E, info2=0x3000, nrip=0, intinfo=0x8000_0030, eventinj=0x10_0000_0B0D)


def test_task_switch_through_idt_gate_during_nmi_delivery(ref):
    # TASK_SWITCH intercept (00Ch bit 29, code 7Dh) during NMI delivery: EXITINTINFO =
    # vector 2, TYPE 2, V = 8000_0202h; nRIP = 0 (not an instruction intercept)
    out, _ = run(ref, vmcb(misc1=bit(M1_TASK_SWITCH)), kind=TASK_SWITCH, delivering=1, dlv_type=T_NMI,
                 dlv_vector=2)
    exits(out, 0x7D, nrip=0, intinfo=0x8000_0202)


def test_instruction_exit_does_not_record_a_delivery(ref):
    # an instruction runs at an instruction boundary, never inside a delivery: CPUID's
    # exit writes EXITINTINFO = 0 whatever the event says
    mem = vmcb(misc1=bit(M1_CPUID))
    mem[VMCB + EXITINTINFO] = 0xDEAD
    out, trace = run(ref, mem, kind=CPUID, delivering=1, dlv_type=T_EXC, dlv_vector=13, dlv_ev=1)
    exits(out, 0x72, intinfo=0)
    assert (1, VMCB + EXITINTINFO, 8, 0) in trace and mem[VMCB + EXITINTINFO] == 0


# ---- the #DF and shutdown combination (15.7.3, 15.12; APM 8.2.9) ----------------------------
NP_BEING_DELIVERED = dict(delivering=1, dlv_type=T_EXC, dlv_vector=11, dlv_ev=1, dlv_error_code=0x28)
NP_INFO = info(11, T_EXC, ev=1, code=0x28)          # 0000_0028_8000_0B0Bh


def test_gp_during_np_with_gp_and_df_intercepted_exits_gp(ref):
    # 15.12 example: the #GP's own intercept is checked first -> 4Dh, EXITINFO1 = #GP's error
    # code, EXITINTINFO = the #NP
    assert NP_INFO == 0x0000_0028_8000_0B0B
    out, _ = run(ref, vmcb(exc=bit(13, 8)), kind=EXCEPTION, vector=13, has_error_code=1, error_code=0x30,
                 **NP_BEING_DELIVERED)
    exits(out, 0x4D, info1=0x30, nrip=0, intinfo=NP_INFO)
    assert out["rule"] == "exception"


def test_gp_during_np_with_only_df_intercepted_exits_df(ref):
    # contributory on contributory -> #DF, intercepted (bit 8) -> 48h; EXITINFO1/2 of #DF
    # are undefined (written 0); EXITINTINFO still the #NP (set after the #DF check)
    out, _ = run(ref, vmcb(exc=bit(8)), kind=EXCEPTION, vector=13, has_error_code=1, error_code=0x30,
                 **NP_BEING_DELIVERED)
    exits(out, 0x48, nrip=0, intinfo=NP_INFO)
    assert out["rule"] == "double_fault"


@pytest.mark.parametrize("prior,new,df", [
    (14, 14, True),     # #PF on #PF
    (14, 0, True),      # contributory on #PF
    (0, 12, True),      # #SS on #DE
    (13, 14, False),    # #PF on contributory: serially
    (13, 6, False),     # benign #UD on #GP: serially
    (6, 13, False),     # contributory on benign: serially
    (14, 6, False),     # benign on #PF
])
def test_double_fault_table(ref, prior, new, df):
    out, _ = run(ref, vmcb(exc=bit(8)), kind=EXCEPTION, vector=new, delivering=1, dlv_type=T_EXC,
                 dlv_vector=prior)
    if df:
        exits(out, 0x48, nrip=0, intinfo=info(prior, T_EXC))
    else:
        assert out == {"exit": False}


def test_exception_during_interrupt_delivery_is_not_combined(ref):
    # the prior event is INT 80h (TYPE 4), not an exception: a #GP during it does not make
    # a #DF; only #DF is intercepted -> no exit
    out, _ = run(ref, vmcb(exc=bit(8)), kind=EXCEPTION, vector=13, has_error_code=1, delivering=1,
                 dlv_type=T_SOFT, dlv_vector=0x80)
    assert out == {"exit": False}


def test_gp_during_df_delivery_is_shutdown(ref):
    # #DF (vector 8, error code 0 pushed: EV = 1) being delivered, #GP raised and not
    # intercepted: shutdown; SHUTDOWN intercepted (00Ch bit 31) -> 7Fh, nRIP 0,
    # EXITINTINFO = the #DF = 0000_0000_8000_0B08h
    out, _ = run(ref, vmcb(misc1=bit(M1_SHUTDOWN), exc=bit(8)), kind=EXCEPTION, vector=13, has_error_code=1,
                 delivering=1, dlv_type=T_EXC, dlv_vector=8, dlv_ev=1)
    exits(out, 0x7F, nrip=0, intinfo=0x0000_0000_8000_0B08)
    assert out["rule"] == "triple_fault_shutdown"


def test_shutdown_event_during_delivery_records_it(ref):
    out, _ = run(ref, vmcb(misc1=bit(M1_SHUTDOWN)), kind=SHUTDOWN, delivering=1, dlv_type=T_EXC, dlv_vector=8,
                 dlv_ev=1)
    exits(out, 0x7F, nrip=0, intinfo=0x0000_0000_8000_0B08)


# ---- the VINTR intercept (15.13.5, 15.21.4, 15.21.5) ------------------------------------------
def v_intr(tpr=0, irq=1, prio=0, ign_tpr=0, vgif=0, vgif_enable=0, vector=0x41):
    return tpr | irq << 8 | vgif << 9 | prio << 16 | ign_tpr << 20 | vgif_enable << 25 | vector << 32


READY = dict(v_intr=v_intr(tpr=3, prio=5), int_state=0, rflags=RFLAGS_IF)


def test_vintr_exit_when_the_guest_would_take_it(ref):
    # V_IRQ = 1, priority 5 > V_TPR 3, IF = 1, no shadow, VINTR intercepted -> 64h; EXITINFO1/2
    # 0, nRIP 0, EXITINTINFO 0
    mem = with_(vmcb(misc1=bit(M1_VINTR)), **READY)
    out, _ = run(ref, mem, kind=BOUNDARY)
    exits(out, 0x64, nrip=0)
    assert out["rule"] == "vintr"


@pytest.mark.parametrize("change", [
    dict(int_state=1),                                   # interrupt shadow (after STI)
    dict(rflags=0x002),                                  # RFLAGS.IF = 0
    dict(v_intr=v_intr(tpr=5, prio=5)),                  # V_TPR masks it: 5 is not > 5
    dict(v_intr=v_intr(tpr=9, prio=5)),
    dict(v_intr=v_intr(tpr=3, prio=5, irq=0)),           # nothing pending
    dict(v_intr=v_intr(tpr=3, prio=5, vgif_enable=1)),   # virtual GIF = 0
    dict(eventinj=info(13, T_EXC)),                      # VMRUN injected an event: delivered first
])
def test_vintr_blocked(ref, change):
    mem = with_(vmcb(misc1=bit(M1_VINTR)), **{**READY, **change})
    out, trace = run(ref, mem, kind=BOUNDARY)
    assert out == {"exit": False}
    assert all(op == 0 for op, *_ in trace)


@pytest.mark.parametrize("change", [
    dict(v_intr=v_intr(tpr=15, prio=0, ign_tpr=1)),      # V_IGN_TPR: no priority comparison
    dict(v_intr=v_intr(tpr=3, prio=5, vgif_enable=1, vgif=1)),
    dict(v_intr=v_intr(tpr=0xE, prio=0xF)),
])
def test_vintr_open(ref, change):
    mem = with_(vmcb(misc1=bit(M1_VINTR)), **{**READY, **change})
    out, _ = run(ref, mem, kind=BOUNDARY)
    exits(out, 0x64, nrip=0)


def test_vintr_not_intercepted(ref):
    # the guest takes the virtual interrupt through its IDT: no exit
    out, _ = run(ref, with_(vmcb(misc1=0xFFFF_FFFF & ~bit(M1_VINTR)), **READY), kind=BOUNDARY)
    assert out == {"exit": False}


def test_vintr_exit_with_next_rip(ref):
    # nRIP is reset to 0 for the VINTR intercept whatever event.next_rip holds (15.7.1)
    mem = with_(vmcb(misc1=bit(M1_VINTR)), **READY)
    out, trace = run(ref, mem, kind=BOUNDARY, next_rip=NEXT_RIP)
    assert trace[-1] == (1, VMCB + 0x0C8, 8, 0)
