"""Golden tests of the generated amd_svm reference (SVM intercepts), expected values by hand.

Every expected exit code, EXITINFO value, permission-map bit position and memory reference
below is worked out from the manual, not from the spec:

- AMD64 APM Vol. 2 App. B Table B-1 (VMCB control area): CR intercepts at 000h (bit n read
  of CRn, bit 16+n write), DR intercepts at 004h, exception intercepts at 008h, intercept
  words at 00Ch/010h/014h, IOPM_BASE_PA 040h, MSRPM_BASE_PA 048h, EXITCODE 070h, EXITINFO1
  078h, EXITINFO2 080h, nRIP 0C8h; App. C Table C-1 (exit codes);
- APM 15.7.1 (nRIP: instruction intercepts of 15.9, MSR, IOIO, exceptions of INT3/INTO/BOUND;
  0 otherwise), 15.8 (decode assists: EXITINFO1 of MOV CR/DR, INTn, INVLPG), 15.9 Table
  15-7 (selective CR0 write, MWAIT, HLT / Idle HLT priorities), 15.10 (IOPM, Figure 15-2),
  15.11 (MSRPM, Table 15-8), 15.12 (exception EXITINFO), 15.35.10 (CR write traps);
- notes/exits-facts.md sections 1-3.

Where the manual leaves EXITINFO "undefined", the spec writes 0 and so do these tests.
"""
import pytest

MASK64 = (1 << 64) - 1
VMCB = 0x0001_2345_6000      # 4-Kbyte-aligned VMCB physical address
IOPM = 0x0000_0040_0000      # 12-Kbyte I/O permissions map
MSRPM = 0x0000_0050_0000     # 8-Kbyte MSR permissions map
NEXT_RIP = 0xFFFF_8000_0010_2345

# VMCB control-area offsets (Table B-1)
CR_INT, EXC_INT, MISC2_INT, IOPM_OFF, MSRPM_OFF = 0x000, 0x008, 0x010, 0x040, 0x048
EXITCODE, EXITINFO1, EXITINFO2, EXITINTINFO, NRIP = 0x070, 0x078, 0x080, 0x088, 0x0C8
V_INTR, INT_STATE, EVENTINJ, RFLAGS = 0x060, 0x068, 0x0A8, 0x570   # RFLAGS: save area (400h) + 170h
# the words of every field the rules read, ascending: intercepts, map bases, V_INTR, the
# interrupt shadow, EVENTINJ and the guest RFLAGS
READ_WORDS = (0x000, 0x008, 0x010, 0x040, 0x048, V_INTR, INT_STATE, EVENTINJ, RFLAGS)
# the #VMEXIT writes, ascending: EVENTINJ comes back with V cleared (15.20)
STORE_WORDS = (EXITCODE, EXITINFO1, EXITINFO2, EXITINTINFO, EVENTINJ, NRIP)

# event kinds: the spec's request encoding (enum svm_event)
CR_READ, CR_WRITE, DR_READ, DR_WRITE, EXCEPTION = 0x00, 0x10, 0x20, 0x30, 0x40
INTR, SMI, CPUID, INTN, HLT, INVLPG, IO, RDMSR, SHUTDOWN = 0x60, 0x62, 0x72, 0x75, 0x78, 0x79, 0x7B, 0x7C, 0x7F
VMRUN, MWAIT, MWAIT_ARMED, XSETBV, RDPRU, EFER_WRITE_TRAP, CR_WRITE_TRAP = 0x80, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90
INVLPGB, INVLPGB_ILLEGAL, INVPCID, BUS_LOCK, IDLE_HLT, WRMSR = 0xA0, 0xA1, 0xA2, 0xA5, 0xA6, 0xFC
A16, A32, A64 = 0, 1, 2

# intercept-word bits (fact sheet 1.2-1.4)
M1_INTR, M1_SMI, M1_CR0_SEL, M1_CPUID, M1_INTN, M1_HLT, M1_INVLPG = 0, 2, 5, 18, 21, 24, 25
M1_IOIO, M1_MSR, M1_SHUTDOWN = 27, 28, 31
M2_VMRUN, M2_MWAIT, M2_MWAIT_COND, M2_XSETBV, M2_RDPRU, M2_EFER_TRAP = 0, 11, 12, 13, 14, 15
M3_INVLPGB, M3_INVLPGB_ILL, M3_INVPCID, M3_BUS_LOCK, M3_IDLE_HLT = 0, 1, 2, 5, 6

EVENT = {
    "kind": 0, "cr": 0, "dr": 0, "gpr": 0, "mov": 0, "lmsw": 0, "cr0_old": 0, "cr0_new": 0,
    "vector": 0, "error_code": 0, "has_error_code": 0, "fault_address": 0, "intn": 0,
    "linear_address": 0, "new_value": 0, "port": 0, "size": 1, "io_in": 0, "io_str": 0,
    "io_rep": 0, "addr_size": A16, "seg": 0, "msr": 0, "next_rip": NEXT_RIP,
    "delivering": 0, "injected": 0, "dlv_type": 0, "dlv_vector": 0, "dlv_ev": 0, "dlv_error_code": 0,
}


@pytest.fixture(scope="module")
def ref(generated):
    return generated["amd_svm"][0]


def vmcb(cr=0, dr=0, exc=0, misc1=0, misc2=0, misc3=0, iopm=IOPM, msrpm=MSRPM):
    """A memory image with the VMCB intercept words and map bases (little-endian dwords)."""
    return {
        VMCB + 0x000: cr | dr << 32,
        VMCB + 0x008: exc | misc1 << 32,
        VMCB + 0x010: misc2 | misc3 << 32,
        VMCB + 0x040: iopm,
        VMCB + 0x048: msrpm,
    }


def bit(*ns):
    v = 0
    for n in ns:
        v |= 1 << n
    return v


def run(ref, mem, vmcb_pa=VMCB, **event):
    request = {**EVENT, **event, "VMCB_PA": vmcb_pa}
    trace = []
    out = ref.decide(mem, request, trace)
    return out, trace


def exits(out, code, info1=0, info2=0, nrip=NEXT_RIP, intinfo=0, eventinj=0):
    """`eventinj`: EVENTINJ as the #VMEXIT writes it back, V (bit 31) cleared (15.20)."""
    assert out["exit"] is True, out
    assert out["fields"] == {"exitcode": code, "exitinfo1": info1, "exitinfo2": info2, "exitintinfo": intinfo,
                             "nrip": nrip, "eventinj": eventinj}


def vmcb_reads(mem):
    return [(0, VMCB + o, 8, mem.get(VMCB + o, 0)) for o in READ_WORDS]


def no_writes(trace):
    return all(op == 0 for op, *_ in trace)


# ---- the interface --------------------------------------------------------------------------
def test_interface(ref):
    assert ref.EVENT == list(EVENT)
    assert ref.CONTEXT == ["VMCB_PA"]
    assert ref.RECORD_FIELDS == ["exitcode", "exitinfo1", "exitinfo2", "exitintinfo", "nrip", "eventinj"]
    assert ref.EXITS[:4] == ["cr_access", "cr0_selective_write", "dr_access", "exception"]


# ---- CR and DR access intercepts (000h, 004h; 15.8.1) --------------------------------------
@pytest.mark.parametrize("kind,cr,intercept_bit,code", [
    (CR_READ, 0, 0, 0x00), (CR_READ, 3, 3, 0x03), (CR_READ, 15, 15, 0x0F),
    (CR_WRITE, 0, 16, 0x10), (CR_WRITE, 4, 20, 0x14), (CR_WRITE, 8, 24, 0x18), (CR_WRITE, 15, 31, 0x1F),
])
def test_mov_cr_intercepted(ref, kind, cr, intercept_bit, code):
    out, _ = run(ref, vmcb(cr=bit(intercept_bit)), kind=kind, cr=cr, mov=1, gpr=0xB)
    # Table 15-2: GPR in bits 3:0, bit 63 = MOV CRx
    exits(out, code, info1=(1 << 63) | 0xB)
    assert out["rule"] == "cr_access"


def test_cr_read_not_intercepted_by_the_write_bit(ref):
    mem = vmcb(cr=bit(16 + 3))                 # only "write CR3"
    out, trace = run(ref, mem, kind=CR_READ, cr=3, mov=1, gpr=1)
    assert out == {"exit": False}
    assert trace == vmcb_reads(mem)


def test_cr_write_other_register_not_intercepted(ref):
    out, _ = run(ref, vmcb(cr=0xFFFF_FFFF & ~bit(16 + 4)), kind=CR_WRITE, cr=4, mov=1)
    assert out == {"exit": False}


def test_smsw_has_no_decode_information(ref):
    # MOV-from-CR0 special case: SMSW provides no information, bit 63 clear
    out, _ = run(ref, vmcb(cr=bit(0)), kind=CR_READ, cr=0, mov=0, gpr=7)
    exits(out, 0x00, info1=0)


def test_lmsw_under_the_generic_cr0_write_intercept(ref):
    out, _ = run(ref, vmcb(cr=bit(16)), kind=CR_WRITE, cr=0, mov=0, lmsw=1, gpr=9,
                 cr0_old=0x11, cr0_new=0x13)
    exits(out, 0x10, info1=0)


@pytest.mark.parametrize("kind,dr,intercept_bit,code", [
    (DR_READ, 0, 0, 0x20), (DR_READ, 6, 6, 0x26), (DR_WRITE, 7, 23, 0x37), (DR_WRITE, 15, 31, 0x3F),
])
def test_mov_dr_intercepted(ref, kind, dr, intercept_bit, code):
    out, _ = run(ref, vmcb(dr=bit(intercept_bit)), kind=kind, dr=dr, gpr=0xE)
    exits(out, code, info1=0xE)              # Table 15-3: GPR only, 63:4 zero
    assert out["rule"] == "dr_access"


def test_dr_not_intercepted(ref):
    out, _ = run(ref, vmcb(dr=bit(7), cr=0xFFFF_FFFF), kind=DR_WRITE, dr=7, gpr=1)
    assert out == {"exit": False}


# ---- selective CR0 write (00Ch bit 5; Table 15-7) ---------------------------------------------
CR0 = 0x8005_0033   # PG, AM, WP, NE, ET, MP, PE
TS, MP, CD, PG = 1 << 3, 1 << 1, 1 << 30, 1 << 31


@pytest.mark.parametrize("new", [CR0 | TS, CR0 & ~MP, (CR0 | TS) & ~MP, CR0])
def test_selective_cr0_ts_mp_only_changes_do_not_exit(ref, new):
    out, trace = run(ref, vmcb(misc1=bit(M1_CR0_SEL)), kind=CR_WRITE, cr=0, mov=1, gpr=2,
                     cr0_old=CR0, cr0_new=new)
    assert out == {"exit": False}
    assert no_writes(trace)


@pytest.mark.parametrize("new", [CR0 & ~PG, CR0 | CD | TS, CR0 | (1 << 40)])
def test_selective_cr0_other_bit_changes_exit(ref, new):
    out, _ = run(ref, vmcb(misc1=bit(M1_CR0_SEL)), kind=CR_WRITE, cr=0, mov=1, gpr=2,
                 cr0_old=CR0, cr0_new=new)
    exits(out, 0x65, info1=(1 << 63) | 2)
    assert out["rule"] == "cr0_selective_write"


def test_generic_cr0_write_intercept_has_priority(ref):
    out, _ = run(ref, vmcb(cr=bit(16), misc1=bit(M1_CR0_SEL)), kind=CR_WRITE, cr=0, mov=1, gpr=2,
                 cr0_old=CR0, cr0_new=CR0 & ~PG)
    exits(out, 0x10, info1=(1 << 63) | 2)


def test_lmsw_treats_selective_intercept_as_non_selective(ref):
    out, _ = run(ref, vmcb(misc1=bit(M1_CR0_SEL)), kind=CR_WRITE, cr=0, mov=0, lmsw=1,
                 cr0_old=CR0, cr0_new=CR0 | TS)
    exits(out, 0x65, info1=0)


def test_clts_does_not_check_the_selective_intercept(ref):
    out, _ = run(ref, vmcb(misc1=bit(M1_CR0_SEL)), kind=CR_WRITE, cr=0, mov=0, lmsw=0,
                 cr0_old=CR0 | TS, cr0_new=CR0)
    assert out == {"exit": False}


def test_selective_intercept_off_or_other_cr(ref):
    out, _ = run(ref, vmcb(), kind=CR_WRITE, cr=0, mov=1, cr0_old=CR0, cr0_new=0)
    assert out == {"exit": False}
    out, _ = run(ref, vmcb(misc1=bit(M1_CR0_SEL)), kind=CR_WRITE, cr=4, mov=1, cr0_old=CR0, cr0_new=0)
    assert out == {"exit": False}


# ---- exceptions (008h; 15.12) ---------------------------------------------------------------
def test_gp_with_error_code(ref):
    out, _ = run(ref, vmcb(exc=bit(13)), kind=EXCEPTION, vector=13, has_error_code=1, error_code=0x0018)
    exits(out, 0x4D, info1=0x18, nrip=0)      # nRIP is 0 for other than INT3/INTO/BOUND


def test_pf_error_code_and_faulting_address(ref):
    out, _ = run(ref, vmcb(exc=bit(14)), kind=EXCEPTION, vector=14, has_error_code=1, error_code=0x7,
                 fault_address=0xFFFF_FFFF_DEAD_B000)
    exits(out, 0x4E, info1=0x7, info2=0xFFFF_FFFF_DEAD_B000, nrip=0)


def test_exception_without_error_code(ref):
    out, _ = run(ref, vmcb(exc=bit(6)), kind=EXCEPTION, vector=6, error_code=0x55, fault_address=0x1000)
    exits(out, 0x46, info1=0, info2=0, nrip=0)


@pytest.mark.parametrize("vector", [3, 4, 5])
def test_int3_into_bound_exceptions_save_nrip(ref, vector):
    out, _ = run(ref, vmcb(exc=bit(vector)), kind=EXCEPTION, vector=vector)
    exits(out, 0x40 + vector)


def test_exception_vector_31_and_not_intercepted(ref):
    out, _ = run(ref, vmcb(exc=bit(31)), kind=EXCEPTION, vector=31)
    exits(out, 0x5F, nrip=0)
    out, _ = run(ref, vmcb(exc=0xFFFF_FFFF & ~bit(14)), kind=EXCEPTION, vector=14, has_error_code=1)
    assert out == {"exit": False}


# ---- instruction and event intercepts (00Ch, 010h, 014h) -----------------------------------
@pytest.mark.parametrize("kind,misc1,misc2,misc3,code,nrip", [
    (CPUID, bit(M1_CPUID), 0, 0, 0x72, NEXT_RIP),
    (HLT, bit(M1_HLT), 0, 0, 0x78, NEXT_RIP),
    (VMRUN, 0, bit(M2_VMRUN), 0, 0x80, NEXT_RIP),
    (XSETBV, 0, bit(M2_XSETBV), 0, 0x8D, NEXT_RIP),
    (RDPRU, 0, bit(M2_RDPRU), 0, 0x8E, NEXT_RIP),
    (INVPCID, 0, 0, bit(M3_INVPCID), 0xA2, NEXT_RIP),
    (INTR, bit(M1_INTR), 0, 0, 0x60, 0),            # not an instruction: nRIP = 0
    (SMI, bit(M1_SMI), 0, 0, 0x62, 0),
    (SHUTDOWN, bit(M1_SHUTDOWN), 0, 0, 0x7F, 0),
    (BUS_LOCK, 0, 0, bit(M3_BUS_LOCK), 0xA5, 0),    # 15.14.5: EXITINFO1/2 = 0
])
def test_intercept_words(ref, kind, misc1, misc2, misc3, code, nrip):
    out, _ = run(ref, vmcb(misc1=misc1, misc2=misc2, misc3=misc3), kind=kind)
    exits(out, code, nrip=nrip)
    assert out["rule"] == "intercept"


def test_intercept_bit_clear_no_exit(ref):
    mem = vmcb(cr=MASK64 >> 32, dr=MASK64 >> 32, exc=MASK64 >> 32, misc1=0xFFFF_FFFF & ~bit(M1_CPUID),
               misc2=0xFFFF_FFFF, misc3=0x7F)
    out, trace = run(ref, mem, kind=CPUID)
    assert out == {"exit": False}
    assert trace == vmcb_reads(mem)


def test_intn_exitinfo1_is_the_interrupt_number(ref):
    out, _ = run(ref, vmcb(misc1=bit(M1_INTN)), kind=INTN, intn=0x80)
    exits(out, 0x75, info1=0x80)               # Table 15-4


def test_invlpg_exitinfo1_is_the_linear_address(ref):
    out, _ = run(ref, vmcb(misc1=bit(M1_INVLPG)), kind=INVLPG, linear_address=0x7FFF_1234_5000)
    exits(out, 0x79, info1=0x7FFF_1234_5000)   # Table 15-5


def test_cr_and_efer_write_traps(ref):
    out, _ = run(ref, vmcb(misc2=bit(16 + 4)), kind=CR_WRITE_TRAP, cr=4, new_value=0x0035_06F0)
    exits(out, 0x94, info1=0x0035_06F0, nrip=0)
    out, _ = run(ref, vmcb(misc2=bit(M2_EFER_TRAP)), kind=EFER_WRITE_TRAP, new_value=0xD01)
    exits(out, 0x8F, info1=0xD01, nrip=0)
    out, _ = run(ref, vmcb(misc2=bit(16 + 3)), kind=CR_WRITE_TRAP, cr=4, new_value=1)
    assert out == {"exit": False}


@pytest.mark.parametrize("kind,misc2,code", [
    (MWAIT_ARMED, bit(M2_MWAIT, M2_MWAIT_COND), 0x8C),   # conditional checked first
    (MWAIT_ARMED, bit(M2_MWAIT), 0x8B),
    (MWAIT_ARMED, bit(M2_MWAIT_COND), 0x8C),
    (MWAIT, bit(M2_MWAIT, M2_MWAIT_COND), 0x8B),
    (MWAIT, bit(M2_MWAIT_COND), None),
])
def test_mwait_conditional_and_unconditional(ref, kind, misc2, code):
    out, _ = run(ref, vmcb(misc2=misc2), kind=kind)
    if code is None:
        assert out == {"exit": False}
    else:
        exits(out, code)


@pytest.mark.parametrize("kind,misc1,misc3,code", [
    (IDLE_HLT, bit(M1_HLT), bit(M3_IDLE_HLT), 0x78),       # HLT intercept takes priority
    (IDLE_HLT, 0, bit(M3_IDLE_HLT), 0xA6),
    (IDLE_HLT, bit(M1_HLT), 0, 0x78),
    (HLT, 0, bit(M3_IDLE_HLT), None),                      # a virtual interrupt is pending
    (INVLPGB_ILLEGAL, 0, bit(M3_INVLPGB_ILL), 0xA1),
    (INVLPGB_ILLEGAL, 0, bit(M3_INVLPGB), 0xA0),
    (INVLPGB, 0, bit(M3_INVLPGB_ILL), None),
    (INVLPGB, 0, bit(M3_INVLPGB), 0xA0),
])
def test_hlt_and_invlpgb_refinements(ref, kind, misc1, misc3, code):
    out, _ = run(ref, vmcb(misc1=misc1, misc3=misc3), kind=kind)
    if code is None:
        assert out == {"exit": False}
    else:
        exits(out, code)


# ---- IOIO (15.10) -----------------------------------------------------------------------------
def iopm_bit(mem, n):
    """Set IOPM bit n: bit n % 8 of byte n / 8, in the 64-bit word holding it."""
    word = IOPM + (n // 64) * 8
    mem[word] = mem.get(word, 0) | 1 << (n % 64)
    return mem


@pytest.mark.parametrize("port,size,set_bit,hit", [
    (0x0000, 1, 0x0000, True),
    (0x0000, 2, 0x0001, True),
    (0x0000, 4, 0x0003, True),
    (0x0000, 2, 0x0002, False),      # just past a 2-byte access
    (0x0000, 4, 0x0004, False),
    (0x03F9, 4, 0x03FC, True),       # crosses a byte boundary
    (0xFFFF, 1, 0xFFFF, True),
    (0xFFFF, 1, 0x10000, False),
    (0xFFFF, 2, 0x10000, True),      # no wrap-around: bit 10000h, third page
    (0xFFFF, 2, 0x0000, False),
    (0xFFFE, 4, 0x10001, True),
    (0xFFFE, 4, 0x10002, False),
])
def test_iopm_bits_checked(ref, port, size, set_bit, hit):
    mem = iopm_bit(vmcb(misc1=bit(M1_IOIO)), set_bit)
    out, _ = run(ref, mem, kind=IO, port=port, size=size, io_in=1)
    if hit:
        sz = {1: 1 << 4, 2: 1 << 5, 4: 1 << 6}[size]
        exits(out, 0x7B, info1=1 | sz | 1 << 7 | port << 16, info2=NEXT_RIP)
    else:
        assert out == {"exit": False}


def test_iopm_access_across_ffff_reads_the_third_page(ref):
    mem = iopm_bit(vmcb(misc1=bit(M1_IOIO)), 0x10001)
    out, trace = run(ref, mem, kind=IO, port=0xFFFE, size=4)
    assert out["fields"]["exitcode"] == 0x7B
    # bits FFFEh..10001h: the word at byte 1FF8h (bits FFC0h-FFFFh) and the word at 2000h
    n = len(READ_WORDS)    # the VMCB words come first
    assert trace[n:n + 2] == [(0, IOPM + 0x1FF8, 8, 0), (0, IOPM + 0x2000, 8, 0b10)]


@pytest.mark.parametrize("event,info1", [
    # REP INSW, 64-bit address: TYPE, STR, REP, SZ16, A64; SEG = ES (0)
    (dict(io_in=1, io_str=1, io_rep=1, size=2, addr_size=A64, seg=0, port=0x01F0),
     0x01F0 << 16 | 1 << 9 | 1 << 5 | 1 << 3 | 1 << 2 | 1),
    # OUTSD through FS, 32-bit address: STR, SZ32, A32, SEG = 4
    (dict(io_in=0, io_str=1, io_rep=0, size=4, addr_size=A32, seg=4, port=0xCFC),
     0x0CFC << 16 | 4 << 10 | 1 << 8 | 1 << 6 | 1 << 2),
    # OUT byte, not a string: SZ8, A16, no segment
    (dict(io_in=0, io_str=0, io_rep=0, size=1, addr_size=A16, seg=5, port=0x80),
     0x0080 << 16 | 1 << 7 | 1 << 4),
])
def test_ioio_exitinfo1_bit_exact(ref, event, info1):
    mem = vmcb(misc1=bit(M1_IOIO))
    for n in range(event["port"], event["port"] + event["size"]):
        iopm_bit(mem, n)
    out, _ = run(ref, mem, kind=IO, **event)
    exits(out, 0x7B, info1=info1, info2=NEXT_RIP)
    assert out["rule"] == "ioio"


def test_ioio_prot_off_no_exit_and_no_map_read(ref):
    mem = vmcb(misc1=0xFFFF_FFFF & ~bit(M1_IOIO))
    for w in range(0, 0x3000, 8):
        mem[IOPM + w] = MASK64
    out, trace = run(ref, mem, kind=IO, port=0x60, size=1)
    assert out == {"exit": False}
    assert trace == vmcb_reads(mem)


def test_ioio_bits_clear_no_exit(ref):
    mem = iopm_bit(iopm_bit(vmcb(misc1=bit(M1_IOIO)), 0x5F), 0x64)
    out, trace = run(ref, mem, kind=IO, port=0x60, size=4)
    assert out == {"exit": False}
    assert trace == vmcb_reads(mem) + [(0, IOPM + 8, 8, mem[IOPM + 8])]


def test_iopm_base_low_12_bits_ignored(ref):
    mem = iopm_bit(vmcb(misc1=bit(M1_IOIO), iopm=IOPM | 0xABC), 0x3F8)
    out, _ = run(ref, mem, kind=IO, port=0x3F8, size=1)
    assert out["fields"]["exitcode"] == 0x7B


# ---- MSR (15.11) -------------------------------------------------------------------------------
# (MSR, byte offset of the MSRPM word holding its two bits, position of the read bit there)
MSRPM_BITS = [
    (0x0000_0000, 0x000, 0),
    (0x0000_1FFF, 0x7F8, 62),          # bit 3FFEh: byte 7FFh, bits 6-7
    (0xC000_0000, 0x800, 0),           # bit 4000h
    (0xC000_0080, 0x820, 0),           # EFER: bit 4100h
    (0xC000_1FFF, 0xFF8, 62),          # bit 7FFEh
    (0xC001_0000, 0x1000, 0),          # bit 8000h
    (0xC001_1FFF, 0x17F8, 62),         # bit BFFEh
]


@pytest.mark.parametrize("msr,word,pos", MSRPM_BITS)
@pytest.mark.parametrize("write", [0, 1])
def test_msrpm_read_and_write_bits(ref, msr, word, pos, write):
    kind = WRMSR if write else RDMSR
    mem = vmcb(misc1=bit(M1_MSR))
    mem[MSRPM + word] = 1 << (pos + write)
    out, trace = run(ref, mem, kind=kind, msr=msr)
    exits(out, 0x7C, info1=write)
    assert trace[len(READ_WORDS)] == (0, MSRPM + word, 8, 1 << (pos + write))
    # the other direction's bit alone does not intercept
    mem = vmcb(misc1=bit(M1_MSR))
    mem[MSRPM + word] = 1 << (pos + 1 - write)
    out, _ = run(ref, mem, kind=kind, msr=msr)
    assert out == {"exit": False}


@pytest.mark.parametrize("msr", [0x0000_2000, 0x4000_0000, 0xC000_2000, 0xC000_FFFF, 0xC001_2000, 0xFFFF_FFFF])
def test_msr_outside_the_map_always_exits(ref, msr):
    mem = vmcb(misc1=bit(M1_MSR))
    out, trace = run(ref, mem, kind=WRMSR, msr=msr)
    exits(out, 0x7C, info1=1)
    assert [t for t in trace if t[0] == 0] == vmcb_reads(mem)      # the map is not read


def test_msr_prot_off_no_exit(ref):
    mem = vmcb(misc1=0xFFFF_FFFF & ~bit(M1_MSR))
    mem[MSRPM] = MASK64
    for msr in (0x0, 0x2000):
        out, trace = run(ref, mem, kind=RDMSR, msr=msr)
        assert out == {"exit": False}
        assert trace == vmcb_reads(mem)


# ---- memory references and the final VMCB image --------------------------------------------
def test_trace_and_stored_exit_fields(ref):
    mem = iopm_bit(vmcb(misc1=bit(M1_IOIO)), 0x71)
    mem[VMCB + EXITINFO2] = 0x1111_2222_3333_4444            # stale value: overwritten
    mem[VMCB + EXITINTINFO] = 0x5555                         # stale EXITINTINFO: overwritten with 0 (V = 0)
    # EVENTINJ of the VMRUN: #GP (vector 13, TYPE 3, EV) with error code 10h, V = 1; every
    # #VMEXIT clears V (15.20), the other bits stay: 10_0000_0B0Dh is written back
    mem[VMCB + EVENTINJ] = 0x10 << 32 | 1 << 31 | 1 << 11 | 3 << 8 | 13
    before = dict(mem)
    out, trace = run(ref, mem, vmcb_pa=VMCB | 0xFFF, kind=IO, port=0x71, size=1, io_in=0)
    info1 = 0x71 << 16 | 1 << 7 | 1 << 4
    exits(out, 0x7B, info1=info1, info2=NEXT_RIP, eventinj=0x10_0000_0B0D)
    reads = [(0, VMCB + o, 8, before.get(VMCB + o, 0)) for o in READ_WORDS] + [(0, IOPM + 8, 8, 1 << (0x71 - 64))]
    writes = [(1, VMCB + EXITCODE, 8, 0x7B), (1, VMCB + EXITINFO1, 8, info1),
              (1, VMCB + EXITINFO2, 8, NEXT_RIP), (1, VMCB + EXITINTINFO, 8, 0), (1, VMCB + EVENTINJ, 8, 0x10_0000_0B0D),
              (1, VMCB + NRIP, 8, NEXT_RIP)]
    assert trace == reads + writes
    expected = dict(before)
    expected.update({VMCB + EXITCODE: 0x7B, VMCB + EXITINFO1: info1, VMCB + EXITINFO2: NEXT_RIP,
                     VMCB + EXITINTINFO: 0, VMCB + EVENTINJ: 0x10_0000_0B0D, VMCB + NRIP: NEXT_RIP})
    assert mem == expected


def test_trace_of_an_msr_exit(ref):
    mem = vmcb(misc1=bit(M1_MSR))
    mem[MSRPM + 0x1000] = 0b10                               # WRMSR C001_0000h
    out, trace = run(ref, mem, kind=WRMSR, msr=0xC001_0000)
    assert trace == vmcb_reads(vmcb(misc1=bit(M1_MSR))) + [
        (0, MSRPM + 0x1000, 8, 0b10),
        (1, VMCB + EXITCODE, 8, 0x7C), (1, VMCB + EXITINFO1, 8, 1),
        (1, VMCB + EXITINFO2, 8, 0), (1, VMCB + EXITINTINFO, 8, 0), (1, VMCB + EVENTINJ, 8, 0),
        (1, VMCB + NRIP, 8, NEXT_RIP)]
    assert {a: mem[a] for a in (VMCB + o for o in STORE_WORDS)} == {
        VMCB + EXITCODE: 0x7C, VMCB + EXITINFO1: 1, VMCB + EXITINFO2: 0, VMCB + EXITINTINFO: 0,
        VMCB + EVENTINJ: 0, VMCB + NRIP: NEXT_RIP}


def test_no_exit_writes_nothing(ref):
    mem = vmcb(cr=bit(3), misc1=bit(M1_IOIO, M1_MSR))
    mem[VMCB + EXITCODE] = 0x1234
    before = dict(mem)
    for event in (dict(kind=CR_READ, cr=4, mov=1), dict(kind=IO, port=0x20, size=2),
                  dict(kind=RDMSR, msr=0x10), dict(kind=CPUID)):
        out, trace = run(ref, mem, **event)
        assert out == {"exit": False}
        assert no_writes(trace)
        assert mem == before


def test_exit_with_nrip_zero_stores_zero(ref):
    mem = vmcb(misc1=bit(M1_INTR))
    mem[VMCB + NRIP] = 0xAAAA
    out, trace = run(ref, mem, kind=INTR)
    exits(out, 0x60, nrip=0)
    assert trace[-6:] == [(1, VMCB + EXITCODE, 8, 0x60), (1, VMCB + EXITINFO1, 8, 0),
                          (1, VMCB + EXITINFO2, 8, 0), (1, VMCB + EXITINTINFO, 8, 0), (1, VMCB + EVENTINJ, 8, 0),
                          (1, VMCB + NRIP, 8, 0)]
    assert mem[VMCB + NRIP] == 0
