"""Golden tests of intel_vmx: exits during event delivery (IDT-vectoring information), event
injection, the #DF / triple-fault combination, and the interrupt and NMI windows. Expected
values by hand; every decision also runs on the MyHDL model (the model queue of
test_vmx_reference, checked at the end of this module).

Facts (Intel SDM Vol. 3C; notes/exits-facts.md section 8):
- 28.2.4 (2008 ed. 23.2.3): the IDT-vectoring fields are valid for a fault during event
  delivery that exits through the exception bitmap and for a task switch through a task
  gate in the IDT, including for events injected by VM entry; not when the original event
  causes the exit directly, when it results in a #DF that causes the exit directly, nor for
  a triple fault. Format (Table 25-19): vector 7:0, type 10:8, error code valid 11, bit 12
  undefined (0 in the model), valid 31; the error code goes to 440Ah when bits 31 and 11 are 1;
- 25.8.3: VM-entry interruption information (4016h) has the same layout; VM entry injects
  only when bit 31 is 1; error code 4018h; instruction length 401Ah;
- 28.2.5 (2008 ed. 23.2.4): the VM-exit instruction length is also used for exits during the
  delivery of a software interrupt or software exception (types 4-6); for an injected one,
  the VM-entry instruction length (the model's choice, UNCONFIRMED);
- SDM Vol. 3A Table 6-5: contributory (0, 10-13) on contributory -> #DF; #PF or contributory
  on #PF -> #DF; #PF or contributory on #DF -> triple fault;
- 26.7.5-6 / 27.7.5-6 (2008 ed. 21.3, 22.6.5-6): interrupt-window exiting exits at a
  boundary with RFLAGS.IF = 1 and no blocking by STI or MOV SS (reason 7); NMI-window exiting
  (with "virtual NMIs") exits with no virtual-NMI blocking and no blocking by MOV SS, and a
  processor may also hold it off on blocking by STI (the model does) (reason 8); NMI-window
  exits have priority over interrupt-window exits. Interruptibility state 4824h: STI 0,
  MOV SS 1, SMI 2, NMI 3; guest RFLAGS 6820h, IF = bit 9.
"""
import pytest

from tests.specs.test_vmx_reference import SLOT, VMCS, model_queue, vmcs, vmx  # noqa: F401 (fixtures)

R_EXC_NMI, R_TRIPLE, R_INTR_WINDOW, R_NMI_WINDOW, R_TASK, R_CPUID = 0, 2, 7, 8, 9, 10
P_INTR_WINDOW, P_NMI_WINDOW = 1 << 2, 1 << 22
PIN_NMI, PIN_VIRTUAL_NMIS = 1 << 3, 1 << 5
T_EXT, T_NMI, T_HW, T_SW_INT, T_SW_EXC, T_OTHER = 0, 2, 3, 4, 6, 7
VALID = 1 << 31
STI, MOV_SS, NMI_BLOCK = 1 << 0, 1 << 1, 1 << 3
IF = 1 << 9
IDT_GATE, CALL = 3, 0


def intr_info(vector, typ, ev=0, valid=1, nmi_unblocking=0):
    """Table 25-17 / 25-18 / 25-19, bit by bit."""
    return vector | typ << 8 | ev << 11 | nmi_unblocking << 12 | valid << 31


# VM-exit interruption information (4404h, SDM 28.2.2) of the exits below: a #PF, a #GP and a
# #DF, each a hardware exception that delivers an error code.
PF_INTR, GP_INTR, DF_INTR = intr_info(14, T_HW, ev=1), intr_info(13, T_HW, ev=1), intr_info(8, T_HW, ev=1)
assert (PF_INTR, GP_INTR, DF_INTR) == (0x8000_0B0E, 0x8000_0B0D, 0x8000_0B08)


# ---- an intercepted #PF during delivery of an injected #GP ----------------------------------
def test_pf_during_injected_gp_records_the_injected_event(vmx):
    # VM entry injected #GP: vector 13, type 3, deliver error code, valid = 8000_0B0Dh, error
    # code 0010h. Its delivery raises a #PF (PFEC 2) exiting through bit 14 (mask = match =
    # 0: bit 14 = 1 exits): reason 0, qualification = the address; IDT-vectoring information
    # = 8000_0B0Dh, IDT-vectoring error code = 10h; no instruction length (hardware type)
    assert intr_info(13, T_HW, ev=1) == 0x8000_0B0D
    mem = vmcs(exception_bitmap=1 << 14, entry_intr_info=0x8000_0B0D, entry_error_code=0x10)
    vmx.exits(mem, "EXCEPTION", "exception_pf_match", R_EXC_NMI, qual=0x7FFF_F000, idt=0x8000_0B0D, idt_error=0x10,
              vector=14, error_code=2, address=0x7FFF_F000, delivering=1, injected=1, intr=PF_INTR, intr_error=2)


def test_injection_field_not_valid_is_no_delivery(vmx):
    mem = vmcs(exception_bitmap=1 << 14, entry_intr_info=intr_info(13, T_HW, ev=1, valid=0), entry_error_code=0x10)
    vmx.exits(mem, "EXCEPTION", "exception_pf_match", R_EXC_NMI, qual=0x1000, vector=14, error_code=2,
              address=0x1000, delivering=1, injected=1, intr=PF_INTR, intr_error=2)


def test_injected_other_event_is_not_delivered_through_the_idt(vmx):
    # type 7 (other event, a pending MTF exit) is not delivered through the IDT
    mem = vmcs(exception_bitmap=1 << 13, entry_intr_info=intr_info(0, T_OTHER))
    vmx.exits(mem, "EXCEPTION", "exception", R_EXC_NMI, vector=13, delivering=1, injected=1, intr=GP_INTR)


def test_gp_during_injected_software_interrupt_gives_entry_instruction_length(vmx):
    # injected INT 80h: type 4, vector 80h = 8000_0480h, VM-entry instruction length 2;
    # a #GP in its delivery exits (bit 13): IDT-vectoring 8000_0480h, error code field 0
    # (no error code valid), VM-exit instruction length 2
    mem = vmcs(exception_bitmap=1 << 13, entry_intr_info=intr_info(0x80, T_SW_INT), entry_instr_len=2)
    vmx.exits(mem, "EXCEPTION", "exception", R_EXC_NMI, idt=0x8000_0480, length=2, vector=13, error_code=0x402,
              delivering=1, injected=1, ilen=7, intr=GP_INTR, intr_error=0x402)


def test_pf_during_guest_int3_delivery_gives_its_length(vmx):
    # the guest's own INT3 (software exception, type 6, vector 3, length 1) being delivered
    vmx.exits(vmcs(exception_bitmap=1 << 14), "EXCEPTION", "exception_pf_match", R_EXC_NMI, qual=0x5000,
              idt=0x8000_0603, length=1, vector=14, address=0x5000, delivering=1, dlv_type=T_SW_EXC,
              dlv_vector=3, ilen=1, intr=PF_INTR)


# ---- exits that do not record the event -----------------------------------------------------
def test_instruction_exit_does_not_record(vmx):
    vmx.exits(vmcs(), "CPUID", "cpuid", R_CPUID, length=2, ilen=2, delivering=1, dlv_type=T_HW, dlv_vector=13,
              dlv_ev=1)


def test_nmi_exit_is_caused_by_the_original_event_directly(vmx):
    vmx.exits(vmcs(pin=PIN_NMI), "NMI", "nmi", R_EXC_NMI, delivering=1, dlv_type=T_EXT, dlv_vector=0x30,
              intr=intr_info(2, T_NMI))


def test_df_raised_during_delivery_exits_directly(vmx):
    # a #DF exit (vector 8, bit 8) is not "during event delivery"
    vmx.exits(vmcs(exception_bitmap=1 << 8), "EXCEPTION", "exception", R_EXC_NMI, vector=8, delivering=1,
              dlv_type=T_HW, dlv_vector=13, intr=DF_INTR)


def test_gp_during_np_becomes_df_without_vectoring_information(vmx):
    # #NP (11) being delivered, #GP (13) raised, bit 13 = 0, bit 8 = 1: contributory on
    # contributory -> #DF -> reason 0; IDT-vectoring not valid (0)
    vmx.exits(vmcs(exception_bitmap=1 << 8), "EXCEPTION", "exception_double_fault", R_EXC_NMI, vector=13,
              error_code=0x30, delivering=1, dlv_type=T_HW, dlv_vector=11, dlv_ev=1, dlv_error_code=0x28,
              intr=DF_INTR)


def test_gp_during_np_with_gp_bit_exits_gp_with_vectoring(vmx):
    # the #GP's own bit decides first: vectoring = #NP = 8000_0B0Bh, error code 28h
    vmx.exits(vmcs(exception_bitmap=(1 << 8) | (1 << 13)), "EXCEPTION", "exception", R_EXC_NMI, idt=0x8000_0B0B,
              idt_error=0x28, vector=13, error_code=0x30, delivering=1, dlv_type=T_HW, dlv_vector=11, dlv_ev=1,
              dlv_error_code=0x28, intr=GP_INTR, intr_error=0x30)


def test_pf_during_pf_with_bitmap_saying_no(vmx):
    # #PF on #PF: bit 14 = 0 with mask = match = 0 (match: bit 14 = 0 means no exit) -> #DF
    vmx.exits(vmcs(exception_bitmap=1 << 8), "EXCEPTION", "exception_double_fault", R_EXC_NMI, vector=14,
              delivering=1, dlv_type=T_HW, dlv_vector=14, dlv_ev=1, intr=DF_INTR)


def test_ud_during_gp_is_handled_serially(vmx):
    vmx.passes(vmcs(exception_bitmap=1 << 8), "EXCEPTION", vector=6, delivering=1, dlv_type=T_HW, dlv_vector=13)


def test_gp_during_df_is_a_triple_fault(vmx):
    # #DF being delivered, #GP raised and not selected: triple fault, reason 2 always, no
    # IDT-vectoring information
    vmx.exits(vmcs(), "EXCEPTION", "exception_triple_fault", R_TRIPLE, vector=13, delivering=1, dlv_type=T_HW,
              dlv_vector=8, dlv_ev=1)


def test_task_switch_through_idt_gate_during_nmi_delivery(vmx):
    # NMI (type 2, vector 2) being delivered through a task gate: 8000_0202h
    vmx.exits(vmcs(), "TASK_SWITCH", "task_switch", R_TASK, qual=(3 << 30) | 0x28, idt=0x8000_0202,
              ts_selector=0x28, ts_from=IDT_GATE, delivering=1, dlv_type=T_NMI, dlv_vector=2, ilen=5)


def test_task_switch_by_call_does_not_record(vmx):
    vmx.exits(vmcs(), "TASK_SWITCH", "task_switch", R_TASK, qual=0x28, length=5, ts_selector=0x28, ts_from=CALL,
              delivering=1, dlv_type=T_NMI, dlv_vector=2, ilen=5)


# ---- interrupt window and NMI window --------------------------------------------------------
def test_interrupt_window_open(vmx):
    vmx.exits(vmcs(primary=P_INTR_WINDOW, guest_rflags=IF | 2), "BOUNDARY", "interrupt_window", R_INTR_WINDOW)


@pytest.mark.parametrize("fields", [
    dict(guest_rflags=IF | 2, interruptibility=STI),        # STI shadow
    dict(guest_rflags=IF | 2, interruptibility=MOV_SS),     # MOV SS shadow
    dict(guest_rflags=2),                                   # RFLAGS.IF = 0
    dict(guest_rflags=IF | 2, entry_intr_info=intr_info(0x30, T_EXT)),   # vectoring entry: after delivery
])
def test_interrupt_window_blocked(vmx, fields):
    vmx.passes(vmcs(primary=P_INTR_WINDOW, **fields), "BOUNDARY")


def test_interrupt_window_ignores_nmi_and_smi_blocking(vmx):
    vmx.exits(vmcs(primary=P_INTR_WINDOW, guest_rflags=IF, interruptibility=NMI_BLOCK | (1 << 2)), "BOUNDARY",
              "interrupt_window", R_INTR_WINDOW)


def test_nmi_window_open(vmx):
    vmx.exits(vmcs(primary=P_NMI_WINDOW, pin=PIN_VIRTUAL_NMIS), "BOUNDARY", "nmi_window", R_NMI_WINDOW)


@pytest.mark.parametrize("pin,state", [
    (PIN_VIRTUAL_NMIS, NMI_BLOCK),      # virtual-NMI blocking
    (PIN_VIRTUAL_NMIS, MOV_SS),
    (PIN_VIRTUAL_NMIS, STI),            # the model's choice: STI blocking holds it off
    (0, 0),                             # "virtual NMIs" = 0: NMI-window exiting cannot be on
])
def test_nmi_window_blocked(vmx, pin, state):
    vmx.passes(vmcs(primary=P_NMI_WINDOW, pin=pin, interruptibility=state), "BOUNDARY")


def test_nmi_window_has_priority_over_interrupt_window(vmx):
    vmx.exits(vmcs(primary=P_NMI_WINDOW | P_INTR_WINDOW, pin=PIN_VIRTUAL_NMIS, guest_rflags=IF), "BOUNDARY",
              "nmi_window", R_NMI_WINDOW)
    # with virtual-NMI blocking the interrupt window is next
    vmx.exits(vmcs(primary=P_NMI_WINDOW | P_INTR_WINDOW, pin=PIN_VIRTUAL_NMIS, guest_rflags=IF,
                   interruptibility=NMI_BLOCK), "BOUNDARY", "interrupt_window", R_INTR_WINDOW)


def test_boundary_without_window_controls(vmx):
    vmx.passes(vmcs(pin=PIN_VIRTUAL_NMIS, guest_rflags=IF), "BOUNDARY")
    assert SLOT["interruptibility"] == 0xA8 and SLOT["guest_rflags"] == 0x100 and VMCS % 4096 == 0


# ---- the VM-exit interruption information of an exception exit (SDM 28.2.2) ------------------
# Type (Table 25-18 and 28.2.2): INT1 is a privileged software exception (5), INT3 and INTO
# software exceptions (6), any other exception a hardware exception (3). Error code valid:
# a hardware exception that pushes one (8, 10-14, 17 in 64-bit mode). The VM-exit instruction
# length of an INT1, INT3 or INTO exit is the instruction's (28.2.5). Bit 12, NMI unblocking
# due to IRET: a fault on IRET begun with blocking by NMI (virtual-NMI blocking with "virtual
# NMIs"), undefined (0) with NMI exiting and no virtual NMIs, with valid IDT-vectoring
# information, and for a #DF.
T_PRIV_SW_EXC = 5


@pytest.mark.parametrize("vector,sw_exc,error_code,intr,intr_error,length", [
    (3, 1, 0, 0x8000_0603, 0, 1),           # INT3: #BP, software exception, its length 1
    (4, 1, 0, 0x8000_0604, 0, 1),           # INTO: #OF, software exception
    (1, 1, 0, 0x8000_0501, 0, 1),           # INT1: #DB, privileged software exception
    (1, 0, 0, 0x8000_0301, 0, 0),           # a #DB from a debug condition: hardware exception
    (13, 1, 0x18, 0x8000_0B0D, 0x18, 0),    # sw_exc means nothing for vector 13
    (6, 0, 0x77, 0x8000_0306, 0, 0),        # #UD pushes no error code: bit 11 = 0, 4406h = 0
    (17, 0, 0, 0x8000_0B11, 0, 0),          # #AC pushes one (0)
    (10, 0, 0x1234, 0x8000_0B0A, 0x1234, 0),  # #TS with its error code
])
def test_exception_exit_interruption_information(vmx, vector, sw_exc, error_code, intr, intr_error, length):
    assert intr == intr_info(vector, (T_PRIV_SW_EXC if vector == 1 else T_SW_EXC) if sw_exc and vector in (1, 3, 4)
                             else T_HW, ev=int(vector in (10, 13, 17)))
    vmx.exits(vmcs(exception_bitmap=1 << vector), "EXCEPTION", "exception", R_EXC_NMI, vector=vector,
              sw_exc=sw_exc, error_code=error_code, ilen=1, intr=intr, intr_error=intr_error, length=length)


def test_an_int3_is_not_raised_by_a_delivery(vmx):
    # delivering = 1 on an INT3: the instruction's exception is taken at its boundary, no
    # IDT-vectoring information, the instruction length is INT3's (1), not the NMI's
    vmx.exits(vmcs(exception_bitmap=1 << 3), "EXCEPTION", "exception", R_EXC_NMI, vector=3, sw_exc=1, ilen=1,
              delivering=1, dlv_type=T_NMI, dlv_vector=2, intr=0x8000_0603, length=1)


PIN_NMI_EXITING, PIN_VIRTUAL = 1 << 3, 1 << 5


@pytest.mark.parametrize("pin,iret,blocked,vector,delivering,bit12", [
    (0, 1, 1, 13, 0, 1),                        # a #GP on IRET with NMIs blocked: set
    (PIN_NMI_EXITING | PIN_VIRTUAL, 1, 1, 13, 0, 1),  # virtual NMIs: virtual-NMI blocking
    (PIN_NMI_EXITING, 1, 1, 13, 0, 0),          # NMI exiting without virtual NMIs: undefined, 0
    (0, 1, 0, 13, 0, 0),                        # nothing blocked before the IRET
    (0, 0, 1, 13, 0, 0),                        # not IRET
    (0, 1, 1, 8, 0, 0),                         # a #DF: undefined, 0
    (0, 1, 1, 13, 1, 0),                        # IDT-vectoring information valid: undefined, 0
])
def test_nmi_unblocking_due_to_iret_in_the_interruption_information(vmx, pin, iret, blocked, vector, delivering,
                                                                   bit12):
    idt = intr_info(14, T_HW, ev=1) if delivering else 0
    vmx.exits(vmcs(pin=pin, exception_bitmap=1 << vector), "EXCEPTION", "exception", R_EXC_NMI, vector=vector,
              iret=iret, nmi_blocked=blocked, delivering=delivering, dlv_type=T_HW, dlv_vector=14, dlv_ev=1,
              idt=idt, intr=intr_info(vector, T_HW, ev=1, nmi_unblocking=bit12))
