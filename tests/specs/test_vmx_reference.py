"""Directed tests of the generated intel_vmx reference (and its MyHDL model): VM exits, by hand.

Intel SDM Vol. 3C (current numbering; notes/exits-facts.md sections 4-7): the
VM-execution controls (25.6.1 pin-based, 25.6.2 primary and secondary processor-based,
25.6.3 exception bitmap and #PF error-code mask/match, 25.6.4 I/O bitmaps, 25.6.6 CR0/CR4
guest/host masks and read shadows, 25.6.7 CR3-target controls, 25.6.9 MSR bitmaps,
25.6.15 VMREAD/VMWRITE bitmaps, 25.6.19 XSS-exiting bitmap), which instructions exit
unconditionally (26.1.2) or under a control (26.1.3), other causes (26.2), the exit
qualifications of 28.2.1 (Tables 28-2 task switch, 28-3 control-register accesses, 28-4
MOV DR, 28-5 I/O) and the basic exit reasons of appendix C.

Every expected value below is written down from those facts, never computed from the
spec. The VMCS layout is the spec's documented model (the real in-memory format is
implementation-specific, SDM 25.2): one 8-byte slot per field, in ascending order of the
field's VMCS encoding, at VMCS_PA. Each decision reads every VMCS slot the unit uses
(27 words, ascending), then the bitmap words it needs, and on an exit writes, in offset
order, the VM-entry interruption information with its valid bit cleared (25.8.3), the exit
reason, the IDT-vectoring information and error code, the instruction length, the exit
qualification, the guest-linear address and the VM-exit interruption information and
error code.

Every decision made here also runs on the generated MyHDL model (batched at the end of
the module, see model_queue): outcome, ordered memory trace and final memory must agree.
"""
import pytest

from codegen.verify import harness
from codegen.verify.stimulus.translation import Scenario

# ---- the spec's event kinds (enum vmx_event: its own encoding, 1 ..) ------------------------
KINDS = """EXTINT NMI EXCEPTION TRIPLE_FAULT INIT SIPI TASK_SWITCH CPUID GETSEC HLT INVD INVLPG RDPMC
RDTSC RDTSCP VMCALL VMCLEAR VMLAUNCH VMPTRLD VMPTRST VMREAD VMRESUME VMWRITE VMXOFF VMXON INVEPT
INVVPID MOV_TO_CR MOV_FROM_CR CLTS LMSW MOV_DR IO RDMSR WRMSR MWAIT MONITOR PAUSE WBINVD XSETBV RDRAND
RDSEED INVPCID LGDT LIDT SGDT SIDT LLDT LTR SLDT STR XSAVES XRSTORS VMFUNC BOUNDARY""".split()
K = {name: i + 1 for i, name in enumerate(KINDS)}

# ---- basic exit reasons (SDM appendix C) -----------------------------------------------------
R_EXC_NMI, R_EXTINT, R_TRIPLE, R_INIT, R_SIPI, R_TASK = 0, 1, 2, 3, 4, 9
R_CPUID, R_GETSEC, R_HLT, R_INVD, R_INVLPG, R_RDPMC, R_RDTSC = 10, 11, 12, 13, 14, 15, 16
R_VMCALL, R_VMCLEAR, R_VMLAUNCH, R_VMPTRLD, R_VMPTRST, R_VMREAD = 18, 19, 20, 21, 22, 23
R_VMRESUME, R_VMWRITE, R_VMXOFF, R_VMXON = 24, 25, 26, 27
R_CR, R_DR, R_IO, R_RDMSR, R_WRMSR = 28, 29, 30, 31, 32
R_MWAIT, R_MONITOR, R_PAUSE, R_GDTR_IDTR, R_LDTR_TR = 36, 39, 40, 46, 47
R_INVEPT, R_RDTSCP, R_INVVPID, R_WBINVD, R_XSETBV = 50, 51, 53, 54, 55
R_RDRAND, R_INVPCID, R_VMFUNC, R_RDSEED, R_XSAVES, R_XRSTORS = 57, 58, 59, 61, 63, 64

# ---- VM-execution controls (SDM Tables 25-5, 25-6, 25-7) -------------------------------------
PIN_EXTINT, PIN_NMI = 1 << 0, 1 << 3
P_HLT, P_INVLPG, P_MWAIT, P_RDPMC, P_RDTSC = 1 << 7, 1 << 9, 1 << 10, 1 << 11, 1 << 12
P_CR3_LOAD, P_CR3_STORE, P_CR8_LOAD, P_CR8_STORE = 1 << 15, 1 << 16, 1 << 19, 1 << 20
P_MOV_DR, P_UNCOND_IO, P_USE_IO, P_USE_MSR = 1 << 23, 1 << 24, 1 << 25, 1 << 28
P_MONITOR, P_PAUSE, P_SECONDARY = 1 << 29, 1 << 30, 1 << 31
S_DT, S_RDTSCP, S_WBINVD, S_RDRAND, S_INVPCID = 1 << 2, 1 << 3, 1 << 6, 1 << 11, 1 << 12
S_VMFUNC, S_SHADOW, S_RDSEED, S_XSAVES = 1 << 13, 1 << 14, 1 << 16, 1 << 20

# ---- the model VMCS: slot offsets, ascending VMCS encoding ------------------------------------
VMCS = 0x0012_3000
SLOT = {
    "io_bitmap_a": 0x00,          # 2000h
    "io_bitmap_b": 0x08,          # 2002h
    "msr_bitmap": 0x10,           # 2004h
    "vmfunc_controls": 0x18,      # 2018h
    "vmread_bitmap": 0x20,        # 2026h
    "vmwrite_bitmap": 0x28,       # 2028h
    "xss_exiting_bitmap": 0x30,   # 202Ch
    "pin": 0x38,                  # 4000h
    "primary": 0x40,              # 4002h
    "exception_bitmap": 0x48,     # 4004h
    "pfec_mask": 0x50,            # 4006h
    "pfec_match": 0x58,           # 4008h
    "cr3_target_count": 0x60,     # 400Ah
    "entry_intr_info": 0x68,      # 4016h
    "entry_error_code": 0x70,     # 4018h
    "entry_instr_len": 0x78,      # 401Ah
    "secondary": 0x80,            # 401Eh
    "exit_reason": 0x88,          # 4402h (written only)
    "idt_vectoring_info": 0x90,   # 4408h (written only)
    "idt_vectoring_error": 0x98,  # 440Ah (written only)
    "exit_instr_len": 0xA0,       # 440Ch (written only)
    "interruptibility": 0xA8,     # 4824h
    "cr0_mask": 0xB0,             # 6000h
    "cr4_mask": 0xB8,             # 6002h
    "cr0_shadow": 0xC0,           # 6004h
    "cr4_shadow": 0xC8,           # 6006h
    "cr3_target0": 0xD0,          # 6008h
    "cr3_target1": 0xD8,          # 600Ah
    "cr3_target2": 0xE0,          # 600Ch
    "cr3_target3": 0xE8,          # 600Eh
    "exit_qualification": 0xF0,   # 6400h (written only)
    "guest_linear": 0xF8,         # 640Ah (written only)
    "guest_rflags": 0x100,        # 6820h
    # 108h: 2400h, the guest-physical address, written by vmx_ept_exit only
    "exit_intr_info": 0x110,      # 4404h (written only; a slot added after the others)
    "exit_intr_error": 0x118,     # 4406h (written only; a slot added after the others)
}
WRITTEN = ("exit_reason", "idt_vectoring_info", "idt_vectoring_error", "exit_instr_len", "exit_qualification",
           "guest_linear", "exit_intr_info", "exit_intr_error")
READ_OFFSETS = sorted(off for name, off in SLOT.items() if name not in WRITTEN)
assert len(READ_OFFSETS) == 27 and READ_OFFSETS[-1] == 0x100

# bitmap pages (4-KByte aligned)
IOA, IOB, MSRB, VMRB, VMWB = 0x0040_0000, 0x0040_1000, 0x0040_2000, 0x0040_3000, 0x0040_4000


def vmcs(**fields):
    """A memory image: the VMCS with its bitmap addresses and the given fields."""
    mem = {VMCS + SLOT["io_bitmap_a"]: IOA, VMCS + SLOT["io_bitmap_b"]: IOB, VMCS + SLOT["msr_bitmap"]: MSRB,
           VMCS + SLOT["vmread_bitmap"]: VMRB, VMCS + SLOT["vmwrite_bitmap"]: VMWB}
    for name, value in fields.items():
        mem[VMCS + SLOT[name]] = value
    return mem


def set_bit(mem, word, bit):
    mem[word] = mem.get(word, 0) | (1 << bit)


def vmcs_reads(mem):
    return [(0, VMCS + off, 8, mem.get(VMCS + off, 0)) for off in READ_OFFSETS]


def reads(mem, *words):
    return [(0, w, 8, mem.get(w, 0)) for w in words]


def entry_after_exit(mem) -> int:
    """The VM-entry interruption information (4016h) a VM exit leaves: every VM exit clears
    its valid bit, bit 31, and keeps the other bits (SDM 25.8.3, 2008 ed. 20.8.3); the field
    is 32 bits, in the low half of its slot, and the exit writes the slot's high half 0."""
    return mem.get(VMCS + SLOT["entry_intr_info"], 0) & 0xFFFF_FFFF & ~(1 << 31)


def stores(reason, ilen=0, qual=0, gla=0, idt=0, idt_error=0, intr=0, intr_error=0, entry=0):
    """The exit's writes in offset order: 4016h (68h, `entry`: entry_after_exit) first."""
    return [(1, VMCS + SLOT["entry_intr_info"], 8, entry), (1, VMCS + SLOT["exit_reason"], 8, reason), (1, VMCS + SLOT["idt_vectoring_info"], 8, idt),
            (1, VMCS + SLOT["idt_vectoring_error"], 8, idt_error), (1, VMCS + SLOT["exit_instr_len"], 8, ilen),
            (1, VMCS + SLOT["exit_qualification"], 8, qual), (1, VMCS + SLOT["guest_linear"], 8, gla),
            (1, VMCS + SLOT["exit_intr_info"], 8, intr), (1, VMCS + SLOT["exit_intr_error"], 8, intr_error)]


class Vmx:
    """Runs decisions on the reference; each is also queued for the MyHDL model."""

    def __init__(self, ref, queue, test):
        self.ref, self.queue, self.test = ref, queue, test

    def decide(self, mem, kind, vmcs_pa=VMCS, **event):
        request = {f: 0 for f in self.ref.EVENT}
        request.update(event, kind=K[kind], VMCS_PA=vmcs_pa)
        after, trace = dict(mem), []
        out = self.ref.decide(after, request, trace)
        sc = Scenario(request, dict(mem), len(self.queue), {"test": self.test})
        self.queue.append((sc, harness.Run(out, list(trace), dict(after))))
        return out, trace, after

    def exits(self, mem, kind, rule, reason, qual=0, length=0, gla=0, bitmap_words=(), idt=0, idt_error=0,
              intr=0, intr_error=0, **event):
        """The decision is an exit by `rule` with these fields (`length`: the instruction
        length recorded); the trace is the VMCS reads, the bitmap words, then the eight
        stores in offset order; the final memory holds the stored values (`idt`, `idt_error`:
        the IDT-vectoring information and error code; `intr`, `intr_error`: the VM-exit
        interruption information and error code, 0 for an exit that is not an exception's
        or an NMI's)."""
        out, trace, after = self.decide(mem, kind, **event)
        assert out == {"exit": True, "rule": rule,
                       "fields": {"reason": reason, "idt_vectoring_info": idt, "idt_vectoring_error": idt_error,
                                  "instr_len": length, "qualification": qual, "guest_linear": gla,
                                  "exit_intr_info": intr, "exit_intr_error": intr_error,
                                  "entry_intr_info": entry_after_exit(mem)}}
        written = stores(reason, length, qual, gla, idt, idt_error, intr, intr_error, entry_after_exit(mem))
        assert trace == vmcs_reads(mem) + reads(mem, *bitmap_words) + written
        expect = dict(mem)
        expect.update({addr: value for _, addr, _, value in written})
        assert after == expect
        return out

    def passes(self, mem, kind, bitmap_words=(), **event):
        """No exit: only reads (the VMCS, then the bitmap words), nothing written."""
        out, trace, after = self.decide(mem, kind, **event)
        assert out == {"exit": False}
        assert trace == vmcs_reads(mem) + reads(mem, *bitmap_words)
        assert after == mem
        return out


@pytest.fixture(scope="module")
def model_queue(generated):
    """Decisions made by this module's tests, co-simulated on the MyHDL model at the end
    of the module in one simulation; each must agree with its reference run exactly."""
    ref, model = generated["intel_vmx"]
    queue = []
    yield queue
    if queue:
        runs = harness.run_model(model, ref, [sc for sc, _ in queue])
        assert len(runs) == len(queue)
        bad = []
        for (sc, expect), got in zip(queue, runs):
            diff = harness.compare(expect, got)
            if diff:
                bad.append(f"{sc.intent['test']}:\n  " + "\n  ".join(diff) + "\n" + harness.describe(sc))
        assert not bad, f"the model disagrees with the reference on {len(bad)} decisions:\n" + "\n".join(bad[:5])


@pytest.fixture
def vmx(generated, model_queue, request):
    return Vmx(generated["intel_vmx"][0], model_queue, request.node.nodeid)


# ---- module constants -----------------------------------------------------------------------
def test_request_and_record_names(generated):
    ref = generated["intel_vmx"][0]
    assert ref.CONTEXT == ["VMCS_PA"]
    assert ref.RECORD == "vmexit"
    assert ref.RECORD_FIELDS == ["reason", "idt_vectoring_info", "idt_vectoring_error", "instr_len", "qualification",
                                 "guest_linear", "exit_intr_info", "exit_intr_error", "entry_intr_info"]
    for f in ("kind", "vector", "error_code", "port", "size", "io_in", "io_str", "io_rep", "io_imm", "msr",
              "cr", "gpr", "value", "lmsw_mem", "dr", "dr_from"):
        assert f in ref.EVENT
    assert dict(zip(ref.EVENT, ref.EVENT_WIDTHS))["port"] == 16



# ---- unconditional exits (SDM 26.1.2, 26.2) -------------------------------------------------
@pytest.mark.parametrize("kind,rule,reason", [
    ("CPUID", "cpuid", R_CPUID), ("GETSEC", "getsec", R_GETSEC), ("INVD", "invd", R_INVD),
    ("XSETBV", "xsetbv", R_XSETBV), ("VMCALL", "vmcall", R_VMCALL), ("VMLAUNCH", "vmlaunch", R_VMLAUNCH),
    ("VMRESUME", "vmresume", R_VMRESUME), ("VMXOFF", "vmxoff", R_VMXOFF),
])
def test_unconditional_instructions_exit_with_every_control_clear(vmx, kind, rule, reason):
    """CPUID is reason 10, INVD 13, XSETBV 55, VMCALL 18 ...; the instruction length is
    recorded and these instructions have no exit qualification."""
    vmx.exits(vmcs(), kind, rule, reason, length=3, ilen=3, displacement=0x40, address=0x1234)


@pytest.mark.parametrize("kind,rule,reason", [("TRIPLE_FAULT", "triple_fault", R_TRIPLE),
                                              ("INIT", "init_signal", R_INIT)])
def test_triple_fault_and_init_always_exit_without_instruction_length(vmx, kind, rule, reason):
    vmx.exits(vmcs(), kind, rule, reason, length=0, ilen=5)


@pytest.mark.parametrize("kind,rule,reason", [
    ("VMCLEAR", "vmclear", R_VMCLEAR), ("VMPTRLD", "vmptrld", R_VMPTRLD), ("VMPTRST", "vmptrst", R_VMPTRST),
    ("VMXON", "vmxon", R_VMXON), ("INVEPT", "invept", R_INVEPT), ("INVVPID", "invvpid", R_INVVPID),
])
def test_vmx_instructions_with_a_memory_operand_record_the_displacement(vmx, kind, rule, reason):
    """SDM 28.2.1: the qualification is the displacement, sign-extended to 64 bits."""
    disp = 0xFFFF_FFFF_FFFF_FFF8  # [rbx - 8]
    vmx.exits(vmcs(), kind, rule, reason, qual=disp, length=4, ilen=4, displacement=disp)


@pytest.mark.parametrize("source,length", [(0, 5), (1, 1), (2, 5), (3, 0)])
def test_task_switch_qualification(vmx, source, length):
    """Table 28-2: bits 15:0 the TSS selector, bits 31:30 the source (0 CALL, 1 IRET, 2 JMP,
    3 IDT task gate). The instruction length is recorded for CALL/IRET/JMP; through an IDT
    task gate this model records 0 (the SDM defines it only for software interrupts)."""
    qual = 0x0028 | (source << 30)
    vmx.exits(vmcs(), "TASK_SWITCH", "task_switch", R_TASK, qual=qual, length=length,
              ts_selector=0x28, ts_from=source, ilen=length or 7)


def test_sipi_qualification_is_the_vector(vmx):
    vmx.exits(vmcs(), "SIPI", "sipi", R_SIPI, qual=0x9A, sipi_vector=0x9A)


# ---- VMREAD / VMWRITE and VMCS shadowing (SDM 25.6.15, 26.1.3) ------------------------------
FIELD_EXIT_REASON, FIELD_GUEST_CR0 = 0x4402, 0x6800
VMREAD_WORD = VMRB + 0x880    # bit 4402h: byte 880h, bit 2
VMWRITE_WORD = VMWB + 0xD00   # bit 6800h: byte D00h, bit 0


def test_vmread_exits_without_vmcs_shadowing(vmx):
    vmx.exits(vmcs(), "VMREAD", "vmread", R_VMREAD, qual=0x10, length=4, ilen=4, displacement=0x10,
              field=FIELD_EXIT_REASON)


def test_vmread_with_shadowing_follows_the_vmread_bitmap(vmx):
    mem = vmcs(primary=P_SECONDARY, secondary=S_SHADOW)
    vmx.passes(mem, "VMREAD", bitmap_words=[VMREAD_WORD], field=FIELD_EXIT_REASON)
    set_bit(mem, VMREAD_WORD, 2)
    vmx.exits(mem, "VMREAD", "vmread", R_VMREAD, length=3, ilen=3, field=FIELD_EXIT_REASON,
              bitmap_words=[VMREAD_WORD])
    # the VMWRITE bitmap is a different one: its bit for 6800h is clear
    vmx.passes(mem, "VMWRITE", bitmap_words=[VMWRITE_WORD], field=FIELD_GUEST_CR0)
    set_bit(mem, VMWRITE_WORD, 0)
    vmx.exits(mem, "VMWRITE", "vmwrite", R_VMWRITE, length=3, ilen=3, field=FIELD_GUEST_CR0,
              bitmap_words=[VMWRITE_WORD])


def test_vmread_of_an_encoding_above_7fff_always_exits_and_reads_no_bitmap(vmx):
    mem = vmcs(primary=P_SECONDARY, secondary=S_SHADOW)
    vmx.exits(mem, "VMREAD", "vmread", R_VMREAD, length=3, ilen=3, field=0x1_0000 | FIELD_EXIT_REASON)


def test_vmcs_shadowing_without_activate_secondary_controls_acts_as_0(vmx):
    vmx.exits(vmcs(secondary=S_SHADOW), "VMWRITE", "vmwrite", R_VMWRITE, length=3, ilen=3, field=FIELD_GUEST_CR0)


# ---- primary controls -----------------------------------------------------------------------
def test_hlt_exiting_on_and_off(vmx):
    vmx.passes(vmcs(primary=0), "HLT", ilen=1)
    vmx.passes(vmcs(primary=~P_HLT & 0xFFFF_FFFF), "HLT", ilen=1)
    vmx.exits(vmcs(primary=P_HLT), "HLT", "hlt", R_HLT, length=1, ilen=1)


@pytest.mark.parametrize("kind,control,rule,reason", [
    ("RDPMC", P_RDPMC, "rdpmc", R_RDPMC), ("RDTSC", P_RDTSC, "rdtsc", R_RDTSC),
    ("MONITOR", P_MONITOR, "monitor", R_MONITOR), ("PAUSE", P_PAUSE, "pause", R_PAUSE),
])
def test_instruction_exiting_controls(vmx, kind, control, rule, reason):
    vmx.passes(vmcs(primary=0xFFFF_FFFF & ~control), kind, ilen=2)
    vmx.exits(vmcs(primary=control), kind, rule, reason, length=2, ilen=2)


def test_mwait_qualification_says_whether_the_monitor_is_armed(vmx):
    mem = vmcs(primary=P_MWAIT)
    vmx.exits(mem, "MWAIT", "mwait", R_MWAIT, qual=1, length=3, ilen=3, monitor_armed=1)
    vmx.exits(mem, "MWAIT", "mwait", R_MWAIT, qual=0, length=3, ilen=3, monitor_armed=0)


def test_invlpg_qualification_is_the_linear_address(vmx):
    vmx.passes(vmcs(), "INVLPG", address=0x7FFF_1234_5000)
    vmx.exits(vmcs(primary=P_INVLPG), "INVLPG", "invlpg", R_INVLPG, qual=0x7FFF_1234_5000, length=3,
              ilen=3, address=0x7FFF_1234_5000)


def test_rdtscp_needs_rdtsc_exiting_and_enable_rdtscp(vmx):
    vmx.passes(vmcs(primary=P_RDTSC), "RDTSCP", ilen=3)                                  # #UD, not an exit
    vmx.passes(vmcs(primary=P_SECONDARY, secondary=S_RDTSCP), "RDTSCP", ilen=3)          # runs normally
    vmx.passes(vmcs(primary=P_RDTSC, secondary=S_RDTSCP), "RDTSCP", ilen=3)              # secondary not active
    vmx.exits(vmcs(primary=P_RDTSC | P_SECONDARY, secondary=S_RDTSCP), "RDTSCP", "rdtscp", R_RDTSCP,
              length=3, ilen=3)
    # RDTSC exiting alone does not make RDTSCP exit with reason 16
    vmx.exits(vmcs(primary=P_RDTSC | P_SECONDARY, secondary=S_RDTSCP), "RDTSC", "rdtsc", R_RDTSC,
              length=2, ilen=2)


@pytest.mark.parametrize("kind,control,rule,reason,qual", [
    ("WBINVD", S_WBINVD, "wbinvd", R_WBINVD, 0), ("RDRAND", S_RDRAND, "rdrand", R_RDRAND, 0),
    ("RDSEED", S_RDSEED, "rdseed", R_RDSEED, 0),
    ("LGDT", S_DT, "gdtr_idtr", R_GDTR_IDTR, 0x20), ("SIDT", S_DT, "gdtr_idtr", R_GDTR_IDTR, 0x20),
    ("LTR", S_DT, "ldtr_tr", R_LDTR_TR, 0x20), ("SLDT", S_DT, "ldtr_tr", R_LDTR_TR, 0x20),
])
def test_secondary_controls_act_only_with_activate_secondary_controls(vmx, kind, control, rule, reason, qual):
    """Primary bit 31 = 0: every secondary control acts as 0 (SDM 25.6.2). Descriptor-table
    exits record the displacement (SDM 28.2.1)."""
    vmx.passes(vmcs(primary=0x7FFF_FFFF, secondary=0xFFFF_FFFF), kind, ilen=4, displacement=0x20)
    vmx.passes(vmcs(primary=P_SECONDARY, secondary=0xFFFF_FFFF & ~control), kind, ilen=4, displacement=0x20)
    vmx.exits(vmcs(primary=P_SECONDARY, secondary=control), kind, rule, reason, qual=qual, length=4, ilen=4,
              displacement=0x20)


def test_invpcid_needs_enable_invpcid_and_invlpg_exiting(vmx):
    vmx.passes(vmcs(primary=P_INVLPG), "INVPCID", ilen=5)
    vmx.passes(vmcs(primary=P_SECONDARY, secondary=S_INVPCID), "INVPCID", ilen=5)
    vmx.passes(vmcs(primary=P_INVLPG, secondary=S_INVPCID), "INVPCID", ilen=5)
    vmx.exits(vmcs(primary=P_INVLPG | P_SECONDARY, secondary=S_INVPCID), "INVPCID", "invpcid", R_INVPCID,
              qual=0x18, length=5, ilen=5, displacement=0x18)


def test_xsaves_and_xrstors_exit_on_edx_eax_and_xss_and_the_xss_exiting_bitmap(vmx):
    on = dict(primary=P_SECONDARY, secondary=S_XSAVES)
    # the three values share no bit: no exit
    vmx.passes(vmcs(xss_exiting_bitmap=1 << 8, **on), "XSAVES", edx_eax=0xFF, xss=0x100)
    vmx.exits(vmcs(xss_exiting_bitmap=1 << 8, **on), "XSAVES", "xsaves", R_XSAVES, length=4, ilen=4,
              edx_eax=0x1FF, xss=0x100)
    vmx.exits(vmcs(xss_exiting_bitmap=1 << 8, **on), "XRSTORS", "xrstors", R_XRSTORS, qual=8, length=5, ilen=5,
              edx_eax=0x1FF, xss=0x100, displacement=8)
    # "enable XSAVES/XRSTORS" = 0: #UD, not an exit
    vmx.passes(vmcs(xss_exiting_bitmap=1 << 8, primary=P_SECONDARY), "XSAVES", edx_eax=0x1FF, xss=0x100)


def test_vmfunc_exits_for_a_function_that_is_not_enabled(vmx):
    on = dict(primary=P_SECONDARY, secondary=S_VMFUNC)
    vmx.exits(vmcs(**on), "VMFUNC", "vmfunc", R_VMFUNC, length=3, ilen=3, func=0)
    vmx.passes(vmcs(vmfunc_controls=1, **on), "VMFUNC", ilen=3, func=0)      # EPTP switching enabled
    vmx.passes(vmcs(**on), "VMFUNC", ilen=3, func=64)                         # EAX >= 64: #UD
    vmx.passes(vmcs(secondary=S_VMFUNC), "VMFUNC", ilen=3, func=0)           # not enabled: #UD


# ---- exceptions, NMIs, external interrupts (SDM 26.2, 25.6.3) -------------------------------
# VM-exit interruption information (SDM 28.2.2, Table 25-18): vector 7:0, type 10:8 (2 NMI, 3
# hardware exception), error code valid 11, valid 31. #GP(10h): 8000_0B0Dh with error code
# 10h; vector 31 (no error code): 8000_031Fh; a #BP not raised by INT3: a hardware exception,
# 8000_0303h.
def test_exception_bitmap_bit_per_vector(vmx):
    vmx.exits(vmcs(exception_bitmap=1 << 13), "EXCEPTION", "exception", R_EXC_NMI, vector=13, error_code=0x10,
              intr=0x8000_0B0D, intr_error=0x10)
    vmx.passes(vmcs(exception_bitmap=~(1 << 13) & 0xFFFF_FFFF), "EXCEPTION", vector=13)
    vmx.exits(vmcs(exception_bitmap=1 << 31), "EXCEPTION", "exception", R_EXC_NMI, vector=31, intr=0x8000_031F)
    vmx.exits(vmcs(exception_bitmap=1 << 3), "EXCEPTION", "exception", R_EXC_NMI, vector=3, intr=0x8000_0303)


PF_ADDR = 0xFFFF_8000_DEAD_B000
PFEC_P, PFEC_W, PFEC_U = 1, 2, 4


@pytest.mark.parametrize("bit14,pfec,expect", [
    (1, PFEC_U | PFEC_W, "exception_pf_match"),     # match, bit 14 = 1: exit
    (1, PFEC_W, None),                               # no match, bit 14 = 1: reversed, no exit
    (0, PFEC_U | PFEC_P, None),                      # match, bit 14 = 0: no exit
    (0, PFEC_P, "exception_pf_mismatch"),           # no match, bit 14 = 0: reversed, exit
])
def test_page_fault_error_code_mask_and_match(vmx, bit14, pfec, expect):
    """(PFEC & MASK) == MATCH follows bit 14; otherwise its meaning is reversed. Here
    MASK = U (bit 2) and MATCH = U: user-mode page faults 'match'. The qualification of a
    #PF exit is the faulting linear address; its VM-exit interruption information 8000_0B0Eh
    (vector 14, hardware exception, error code valid), the error code the PFEC."""
    mem = vmcs(exception_bitmap=bit14 << 14, pfec_mask=PFEC_U, pfec_match=PFEC_U)
    if expect:
        vmx.exits(mem, "EXCEPTION", expect, R_EXC_NMI, qual=PF_ADDR, vector=14, error_code=pfec, address=PF_ADDR,
                  intr=0x8000_0B0E, intr_error=pfec)
    else:
        vmx.passes(mem, "EXCEPTION", vector=14, error_code=pfec, address=PF_ADDR)


def test_page_fault_with_mask_and_match_zero_follows_bit_14(vmx):
    for pfec in (0, PFEC_P | PFEC_W | PFEC_U, 0xFFFF_FFFF):
        vmx.exits(vmcs(exception_bitmap=1 << 14), "EXCEPTION", "exception_pf_match", R_EXC_NMI, qual=PF_ADDR,
                  vector=14, error_code=pfec, address=PF_ADDR, intr=0x8000_0B0E, intr_error=pfec)
        vmx.passes(vmcs(exception_bitmap=~(1 << 14) & 0xFFFF_FFFF), "EXCEPTION", vector=14, error_code=pfec,
                   address=PF_ADDR)
    # a MATCH that no masked PFEC can equal: every #PF exits when bit 14 = 0
    vmx.exits(vmcs(pfec_mask=PFEC_P, pfec_match=PFEC_W), "EXCEPTION", "exception_pf_mismatch", R_EXC_NMI,
              qual=PF_ADDR, vector=14, error_code=PFEC_P | PFEC_W, address=PF_ADDR, intr=0x8000_0B0E,
              intr_error=PFEC_P | PFEC_W)


def test_nmi_exiting_and_external_interrupt_exiting(vmx):
    vmx.passes(vmcs(pin=PIN_EXTINT, exception_bitmap=1 << 2), "NMI")
    # an NMI exit: vector 2, type 2 (NMI), valid = 8000_0202h (SDM 28.2.2)
    vmx.exits(vmcs(pin=PIN_NMI), "NMI", "nmi", R_EXC_NMI, intr=0x8000_0202)
    vmx.passes(vmcs(pin=PIN_NMI), "EXTINT")
    # without "acknowledge interrupt on exit" (not modelled: 0) the field is not valid
    vmx.exits(vmcs(pin=PIN_EXTINT), "EXTINT", "external_interrupt", R_EXTINT)


# ---- control-register accesses (SDM 25.6.6, 25.6.7, 26.1.3; Table 28-3) ----------------------
CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_NE, CR0_PG = 1, 2, 4, 8, 1 << 5, 1 << 31


def test_mov_to_cr0_exits_only_when_a_host_owned_bit_differs_from_the_shadow(vmx):
    mem = vmcs(cr0_mask=CR0_PG | CR0_NE, cr0_shadow=CR0_PG | CR0_NE)
    shadowed = CR0_PG | CR0_NE | CR0_PE
    # guest-owned bits (PE, TS, MP) change freely
    vmx.passes(mem, "MOV_TO_CR", cr=0, gpr=5, value=shadowed | CR0_TS | CR0_MP)
    # PG (host-owned) cleared: differs from the shadow -> exit; GPR 5 (RBP) in bits 11:8
    vmx.exits(mem, "MOV_TO_CR", "mov_to_cr0", R_CR, qual=0x500, length=3, ilen=3, cr=0, gpr=5,
              value=CR0_NE | CR0_PE)
    # a mask of 0 never exits
    vmx.passes(vmcs(cr0_shadow=0xFFFF_FFFF), "MOV_TO_CR", cr=0, value=0)


def test_mov_to_cr4_uses_the_cr4_mask_and_shadow(vmx):
    CR4_VMXE, CR4_PAE = 1 << 13, 1 << 5
    mem = vmcs(cr4_mask=CR4_VMXE, cr4_shadow=0, cr0_mask=0xFFFF_FFFF)
    vmx.passes(mem, "MOV_TO_CR", cr=4, gpr=1, value=CR4_PAE)
    vmx.exits(mem, "MOV_TO_CR", "mov_to_cr4", R_CR, qual=0x104, length=3, ilen=3, cr=4, gpr=1,
              value=CR4_PAE | CR4_VMXE)


def test_mov_from_cr0_and_cr4_never_exit(vmx):
    mem = vmcs(cr0_mask=0xFFFF_FFFF, cr4_mask=0xFFFF_FFFF, primary=0xFFFF_FFFF)
    vmx.passes(mem, "MOV_FROM_CR", cr=0, gpr=2)
    vmx.passes(mem, "MOV_FROM_CR", cr=4, gpr=2)


def test_mov_to_cr3_and_the_cr3_target_values(vmx):
    t = [0x1000, 0x2000, 0x3000, 0x4000]
    targets = dict(cr3_target0=t[0], cr3_target1=t[1], cr3_target2=t[2], cr3_target3=t[3])
    # CR3-load exiting = 0: never
    vmx.passes(vmcs(cr3_target_count=0, **targets), "MOV_TO_CR", cr=3, value=0x9000)
    # count 0: every MOV to CR3 exits, even to a target value; GPR 15 (R15)
    vmx.exits(vmcs(primary=P_CR3_LOAD, cr3_target_count=0, **targets), "MOV_TO_CR", "mov_to_cr3", R_CR,
              qual=0xF03, length=3, ilen=3, cr=3, gpr=15, value=t[0])
    # count 2: the first two targets pass, the third and fourth do not
    mem = vmcs(primary=P_CR3_LOAD, cr3_target_count=2, **targets)
    vmx.passes(mem, "MOV_TO_CR", cr=3, value=t[0])
    vmx.passes(mem, "MOV_TO_CR", cr=3, value=t[1])
    vmx.exits(mem, "MOV_TO_CR", "mov_to_cr3", R_CR, qual=0x003, length=3, ilen=3, cr=3, gpr=0, value=t[2])
    vmx.exits(mem, "MOV_TO_CR", "mov_to_cr3", R_CR, qual=0x003, length=3, ilen=3, cr=3, gpr=0, value=t[3])
    # count 4: all four
    mem = vmcs(primary=P_CR3_LOAD, cr3_target_count=4, **targets)
    vmx.passes(mem, "MOV_TO_CR", cr=3, value=t[3])


def test_mov_from_cr3_needs_cr3_store_exiting(vmx):
    vmx.passes(vmcs(primary=P_CR3_LOAD), "MOV_FROM_CR", cr=3, gpr=2)
    # bits 3:0 = 3, bits 5:4 = 1 (MOV from CR), bits 11:8 = 2 (RDX)
    vmx.exits(vmcs(primary=P_CR3_STORE), "MOV_FROM_CR", "mov_from_cr3", R_CR, qual=0x213, length=3, ilen=3,
              cr=3, gpr=2)


def test_cr8_load_and_store_exiting(vmx):
    vmx.passes(vmcs(primary=P_CR8_STORE), "MOV_TO_CR", cr=8, gpr=4, value=0xF)
    vmx.exits(vmcs(primary=P_CR8_LOAD), "MOV_TO_CR", "mov_to_cr8", R_CR, qual=0x408, length=4, ilen=4,
              cr=8, gpr=4, value=0xF)
    vmx.passes(vmcs(primary=P_CR8_LOAD), "MOV_FROM_CR", cr=8, gpr=6)
    vmx.exits(vmcs(primary=P_CR8_STORE), "MOV_FROM_CR", "mov_from_cr8", R_CR, qual=0x618, length=4, ilen=4,
              cr=8, gpr=6)


def test_clts_exits_only_when_ts_is_set_in_both_the_mask_and_the_shadow(vmx):
    vmx.passes(vmcs(cr0_mask=CR0_TS, cr0_shadow=0), "CLTS")
    vmx.passes(vmcs(cr0_mask=0xFFFF_FFF7, cr0_shadow=CR0_TS), "CLTS")
    # bits 5:4 = 2 (CLTS), CR number 0, no register
    vmx.exits(vmcs(cr0_mask=CR0_TS, cr0_shadow=CR0_TS), "CLTS", "clts", R_CR, qual=0x20, length=2, ilen=2, gpr=7)


def test_lmsw_cannot_clear_pe(vmx):
    """PE host-owned and set in the shadow: LMSW with PE = 0 leaves PE set, so no exit."""
    mem = vmcs(cr0_mask=CR0_PE, cr0_shadow=CR0_PE)
    vmx.passes(mem, "LMSW", value=0x0000)
    vmx.passes(mem, "LMSW", value=0x0001)


def test_lmsw_setting_a_host_owned_pe_that_is_clear_in_the_shadow_exits(vmx):
    mem = vmcs(cr0_mask=CR0_PE, cr0_shadow=0)
    vmx.passes(mem, "LMSW", value=0xFFFE)     # PE stays 0; bits 15:4 are not loaded
    # register operand: bits 5:4 = 3, bit 6 = 0, bits 31:16 = the source data
    vmx.exits(mem, "LMSW", "lmsw", R_CR, qual=0x0001_0030, length=3, ilen=3, value=0x0001, gpr=9)


def test_lmsw_bits_3_to_1_compare_with_the_shadow(vmx):
    mem = vmcs(cr0_mask=CR0_TS | CR0_MP, cr0_shadow=CR0_TS)
    vmx.passes(mem, "LMSW", value=CR0_TS | CR0_EM | 0xFFF0)     # EM guest-owned, high bits ignored
    vmx.exits(mem, "LMSW", "lmsw", R_CR, qual=0x000E_0030, length=3, ilen=3, value=CR0_TS | CR0_EM | CR0_MP)
    # TS cleared by LMSW (host-owned, shadow 1): exit; memory operand: bit 6, and the
    # guest-linear address of the operand
    vmx.exits(mem, "LMSW", "lmsw", R_CR, qual=0x0000_0070, length=7, gla=0x7000_0010, ilen=7, value=0,
              lmsw_mem=1, address=0x7000_0010)


def test_mov_dr(vmx):
    vmx.passes(vmcs(primary=~P_MOV_DR & 0xFFFF_FFFF), "MOV_DR", dr=7, dr_from=1, gpr=3)
    # bits 2:0 = 7, bit 4 = 1 (MOV from DR), bits 11:8 = 3 (RBX)
    vmx.exits(vmcs(primary=P_MOV_DR), "MOV_DR", "mov_dr", R_DR, qual=0x317, length=3, ilen=3, dr=7, dr_from=1,
              gpr=3)
    # MOV to DR0 from R8
    vmx.exits(vmcs(primary=P_MOV_DR), "MOV_DR", "mov_dr", R_DR, qual=0x800, length=4, ilen=4, dr=0, dr_from=0,
              gpr=8)


# ---- I/O instructions (SDM 25.6.4, 26.1.3; Table 28-5) ---------------------------------------
A_60 = IOA + 0x08        # port 60h: byte Ch, bit 0 -> word 8, bit 32
A_7FFF = IOA + 0xFF8     # port 7FFFh: byte FFFh, bit 7 -> word FF8h, bit 63
B_8000 = IOB + 0x000     # port 8000h: bit 0 of B; 8001h: bit 1


def test_io_without_controls_runs_normally(vmx):
    vmx.passes(vmcs(), "IO", port=0x60, size=1, io_in=1, io_imm=1)


def test_io_unconditional_exiting_and_the_qualification_of_in_al_imm8(vmx):
    """IN AL, 60h: size 0 (1 byte), bit 3 IN, bit 6 immediate, port in bits 31:16."""
    vmx.exits(vmcs(primary=P_UNCOND_IO), "IO", "io_unconditional", R_IO, qual=0x0060_0048, length=2, ilen=2,
              port=0x60, size=1, io_in=1, io_imm=1)


def test_use_io_bitmaps_ignores_unconditional_io_exiting(vmx):
    vmx.passes(vmcs(primary=P_UNCOND_IO | P_USE_IO), "IO", bitmap_words=[A_60], port=0x60, size=1, io_in=1,
               io_imm=1)


def test_io_bitmap_a_bit(vmx):
    mem = vmcs(primary=P_USE_IO)
    set_bit(mem, A_60, 32)
    vmx.exits(mem, "IO", "io_bitmap", R_IO, qual=0x0060_0048, length=2, ilen=2, bitmap_words=[A_60],
              port=0x60, size=1, io_in=1, io_imm=1)
    vmx.passes(mem, "IO", bitmap_words=[A_60], port=0x61, size=1, io_in=1)


def test_io_bitmap_b_for_ports_from_8000h(vmx):
    mem = vmcs(primary=P_USE_IO)
    set_bit(mem, B_8000, 1)     # port 8001h
    vmx.passes(mem, "IO", bitmap_words=[B_8000], port=0x8000, size=1)
    # REP INSB at 8001h: bits 3, 4, 5; the guest-linear address of the memory operand
    vmx.exits(mem, "IO", "io_bitmap", R_IO, qual=0x8001_0038, length=2, gla=0x5000, ilen=2,
              bitmap_words=[B_8000], port=0x8001, size=1, io_in=1, io_str=1, io_rep=1, address=0x5000)
    # bitmap A's bit 1 (port 1) is not port 8001h
    mem = vmcs(primary=P_USE_IO)
    set_bit(mem, IOA, 1)
    vmx.passes(mem, "IO", bitmap_words=[B_8000], port=0x8001, size=1)


def test_two_byte_access_at_7fffh_checks_both_bitmaps(vmx):
    """Ports 7FFFh (A bit 7FFFh) and 8000h (B bit 0)."""
    mem = vmcs(primary=P_USE_IO)
    vmx.passes(mem, "IO", bitmap_words=[A_7FFF, B_8000], port=0x7FFF, size=2)
    set_bit(mem, B_8000, 0)
    # OUT DX, AX: size 1 (2 bytes), OUT, DX
    vmx.exits(mem, "IO", "io_bitmap", R_IO, qual=0x7FFF_0001, length=2, ilen=2, bitmap_words=[A_7FFF, B_8000],
              port=0x7FFF, size=2)
    mem = vmcs(primary=P_USE_IO)
    set_bit(mem, A_7FFF, 63)
    vmx.exits(mem, "IO", "io_bitmap", R_IO, qual=0x7FFF_0001, length=2, ilen=2, bitmap_words=[A_7FFF, B_8000],
              port=0x7FFF, size=2)


def test_four_byte_access_checks_every_port_and_may_read_two_words(vmx):
    """Ports 3Fh..42h: bit 3Fh is bit 63 of word 0, bits 40h..42h are bits 0..2 of word 8."""
    mem = vmcs(primary=P_USE_IO)
    vmx.passes(mem, "IO", bitmap_words=[IOA, IOA + 8], port=0x3F, size=4)
    set_bit(mem, IOA + 8, 2)    # port 42h, the last one
    vmx.exits(mem, "IO", "io_bitmap", R_IO, qual=0x003F_000B, length=1, ilen=1, bitmap_words=[IOA, IOA + 8],
              port=0x3F, size=4, io_in=1)
    mem = vmcs(primary=P_USE_IO)
    set_bit(mem, IOA + 8, 3)    # port 43h: not accessed
    vmx.passes(mem, "IO", bitmap_words=[IOA, IOA + 8], port=0x3F, size=4)


def test_access_wrapping_past_ffffh_always_exits_with_io_bitmaps(vmx):
    mem = vmcs(primary=P_USE_IO)
    # OUT DX, AX at FFFFh touches FFFFh and 0000h: exit, with every bitmap bit clear
    vmx.exits(mem, "IO", "io_wrap", R_IO, qual=0xFFFF_0001, length=2, ilen=2, port=0xFFFF, size=2)
    # IN EAX, DX at FFFEh: size 3 (4 bytes), IN
    vmx.exits(mem, "IO", "io_wrap", R_IO, qual=0xFFFE_000B, length=1, ilen=1, port=0xFFFE, size=4, io_in=1)
    # one byte at FFFFh does not wrap: bit 7FFFh of B (word FF8h, bit 63)
    vmx.passes(mem, "IO", bitmap_words=[IOB + 0xFF8], port=0xFFFF, size=1)
    # without I/O bitmaps the wrap does not matter
    vmx.passes(vmcs(), "IO", port=0xFFFF, size=2)


def test_string_io_qualification_and_guest_linear_address(vmx):
    """REP OUTSW at port 3F8h in DX: size 1, OUT, string, REP: bits 0, 4, 5."""
    vmx.exits(vmcs(primary=P_UNCOND_IO), "IO", "io_unconditional", R_IO, qual=0x03F8_0031, length=3,
              gla=0xFFFF_8000_0000_1000, ilen=3, port=0x3F8, size=2, io_str=1, io_rep=1,
              address=0xFFFF_8000_0000_1000)


# ---- RDMSR and WRMSR (SDM 25.6.9, 26.1.3) -----------------------------------------------------
def test_without_msr_bitmaps_every_rdmsr_and_wrmsr_exits(vmx):
    vmx.exits(vmcs(), "RDMSR", "msr_unconditional", R_RDMSR, length=2, ilen=2, msr=0x10)
    vmx.exits(vmcs(), "WRMSR", "msr_unconditional", R_WRMSR, length=2, ilen=2, msr=0xC000_0080)


@pytest.mark.parametrize("msr,word,bit", [
    (0x0000_0000, MSRB + 0x000, 0),
    (0x0000_1FFF, MSRB + 0x3F8, 63),      # read-low byte 3FFh, bit 7
    (0xC000_0000, MSRB + 0x400, 0),       # read-high starts at 400h
    (0xC000_1FFF, MSRB + 0x7F8, 63),      # read-high byte 7FFh, bit 7
])
def test_rdmsr_bitmap_bits_at_the_range_ends(vmx, msr, word, bit):
    mem = vmcs(primary=P_USE_MSR)
    vmx.passes(mem, "RDMSR", bitmap_words=[word], msr=msr)
    set_bit(mem, word, bit)
    vmx.exits(mem, "RDMSR", "msr_bitmap", R_RDMSR, length=2, ilen=2, bitmap_words=[word], msr=msr)


@pytest.mark.parametrize("msr", [0x2000, 0xC000_2000, 0xC001_0000, 0xC000_0000 - 1, 0xFFFF_FFFF])
def test_msrs_outside_both_ranges_always_exit_and_read_no_bitmap(vmx, msr):
    """Intel has no bitmap for C001xxxxh MSRs (AMD has): they always exit."""
    mem = vmcs(primary=P_USE_MSR)
    vmx.exits(mem, "RDMSR", "msr_out_of_range", R_RDMSR, length=2, ilen=2, msr=msr)
    vmx.exits(mem, "WRMSR", "msr_out_of_range", R_WRMSR, length=2, ilen=2, msr=msr)


def test_read_and_write_bitmaps_are_separate(vmx):
    mem = vmcs(primary=P_USE_MSR)
    set_bit(mem, MSRB + 0x000, 16)        # read-low, MSR 10h (IA32_TIME_STAMP_COUNTER)
    vmx.exits(mem, "RDMSR", "msr_bitmap", R_RDMSR, length=2, ilen=2, bitmap_words=[MSRB], msr=0x10)
    vmx.passes(mem, "WRMSR", bitmap_words=[MSRB + 0x800], msr=0x10)
    set_bit(mem, MSRB + 0x800, 16)        # write-low, MSR 10h
    vmx.exits(mem, "WRMSR", "msr_bitmap", R_WRMSR, length=2, ilen=2, bitmap_words=[MSRB + 0x800], msr=0x10)


def test_write_high_bitmap_at_c00h(vmx):
    """WRMSR to IA32_EFER (C0000080h): write-high byte C00h + 10h, bit 0."""
    mem = vmcs(primary=P_USE_MSR)
    set_bit(mem, MSRB + 0x410, 0)         # the read-high bit: RDMSR only
    vmx.passes(mem, "WRMSR", bitmap_words=[MSRB + 0xC10], msr=0xC000_0080)
    vmx.exits(mem, "RDMSR", "msr_bitmap", R_RDMSR, length=2, ilen=2, bitmap_words=[MSRB + 0x410],
              msr=0xC000_0080)
    set_bit(mem, MSRB + 0xC10, 0)
    vmx.exits(mem, "WRMSR", "msr_bitmap", R_WRMSR, length=2, ilen=2, bitmap_words=[MSRB + 0xC10],
              msr=0xC000_0080)


# ---- memory order and the VMCS address ----------------------------------------------------------
def test_full_trace_of_an_io_exit(vmx):
    """Spelled out once: the 27 VMCS words in ascending address order, the two bitmap words,
    then the nine stores (VM-entry interruption information 4016h, 0 here, its valid bit
    cleared; exit reason 4402h, IDT-vectoring information 4408h and error code 440Ah,
    instruction length 440Ch, qualification 6400h, guest-linear address 640Ah, VM-exit
    interruption information 4404h and error code 4406h in the two slots added last),
    ascending."""
    mem = vmcs(primary=P_USE_IO | P_HLT, pin=PIN_NMI, cr0_mask=CR0_PG)
    set_bit(mem, B_8000, 0)
    out, trace, after = vmx.decide(mem, "IO", port=0x7FFF, size=2, ilen=2)
    assert out["exit"] and out["rule"] == "io_bitmap"
    assert [t[1] - VMCS for t in trace[:27]] == [0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40, 0x48,
                                                 0x50, 0x58, 0x60, 0x68, 0x70, 0x78, 0x80, 0xA8, 0xB0, 0xB8,
                                                 0xC0, 0xC8, 0xD0, 0xD8, 0xE0, 0xE8, 0x100]
    assert all(t[0] == 0 and t[2] == 8 for t in trace[:27])
    assert trace[0][3] == IOA and trace[7][3] == PIN_NMI and trace[8][3] == P_USE_IO | P_HLT
    assert trace[18][3] == CR0_PG
    assert trace[27:] == [(0, IOA + 0xFF8, 8, 0), (0, IOB, 8, 1), (1, VMCS + 0x68, 8, 0),
                          (1, VMCS + 0x88, 8, 30), (1, VMCS + 0x90, 8, 0), (1, VMCS + 0x98, 8, 0),
                          (1, VMCS + 0xA0, 8, 2), (1, VMCS + 0xF0, 8, 0x7FFF_0001), (1, VMCS + 0xF8, 8, 0),
                          (1, VMCS + 0x110, 8, 0), (1, VMCS + 0x118, 8, 0)]
    assert after[VMCS + 0x88] == 30 and after[VMCS + 0xF0] == 0x7FFF_0001


def test_no_exit_writes_nothing_even_over_old_exit_information(vmx):
    mem = vmcs(exit_reason=10, exit_qualification=0xABC, exit_instr_len=2, guest_linear=0x1000)
    vmx.passes(mem, "HLT", ilen=1)
    mem[VMCS + SLOT["primary"]] = P_USE_MSR
    vmx.passes(mem, "RDMSR", bitmap_words=[MSRB], msr=0x10)


def test_an_exit_overwrites_the_previous_exit_information(vmx):
    mem = vmcs(exit_reason=30, exit_qualification=0xFFFF_0001, exit_instr_len=2, guest_linear=0x1000)
    vmx.exits(mem, "CPUID", "cpuid", R_CPUID, length=2, ilen=2)


def test_every_vm_exit_clears_the_valid_bit_of_the_entry_interruption_information(vmx):
    """SDM 25.8.3 (2008 ed. 20.8.3): VM exits clear bit 31 of 4016h. Here 4016h holds a valid
    injection (80000B0Eh: valid, type 3 hardware exception, error code, vector 14) and junk
    in its slot's high half; a CPUID exit, which assigns nothing of 4016h, writes it back as
    00000B0Eh (the other bits kept) with the high half 0: the record field's default."""
    mem = vmcs(entry_intr_info=0xDEAD_0000_8000_0B0E)
    out = vmx.exits(mem, "CPUID", "cpuid", R_CPUID, length=2, ilen=2)
    assert out["fields"]["entry_intr_info"] == 0x0B0E
    out, trace, after = vmx.decide(mem, "NMI")  # no "NMI exiting": no exit, 4016h untouched
    assert out == {"exit": False} and after[VMCS + SLOT["entry_intr_info"]] == 0xDEAD_0000_8000_0B0E


def test_vmcs_pa_bits_outside_51_12_are_ignored(vmx):
    out, trace, after = vmx.decide(vmcs(), "CPUID", vmcs_pa=VMCS | 0xFFF | (0xF << 60), ilen=2)
    assert out["rule"] == "cpuid"
    assert trace == vmcs_reads(vmcs()) + stores(R_CPUID, 2)
