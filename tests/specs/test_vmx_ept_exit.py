"""Golden tests of intel_vmx's second model, vmx_ept_exit: a guest access through
intel_ept's two-dimensional walk, perhaps made to deliver an event, tables and VMCS built
by hand.

Intel SDM Vol. 3C:
- 28.2.1, Table 28-7: the EPT-violation exit qualification: bits 2:0 the access (read,
  write, fetch), 5:3 the AND of bits 2:0 of the EPT entries used, 6 the AND of bit 10
  (mode-based execute control), 7 a guest-linear address is being translated, 8 the final
  access (1) or a guest paging-structure access (0), 9-11 (advanced information, with bits
  7 and 8 both 1) guest paging's user, read/write and execute-disable rights for the
  address, 12 NMI unblocking due to IRET. An EPT misconfiguration has no qualification.
  Exit reasons 48 and 49 (appendix C), 0 for an exception (26.2).
- 28.2.3: bit 12 is defined when "NMI exiting" = 0 or "virtual NMIs" = 1, the exit records
  no IDT-vectoring information and is no double fault; it is 1 when the access was part of
  an IRET begun with NMI blocking (virtual-NMI blocking with virtual NMIs) in effect.
- 28.2.4 (2008 ed. 23.2.3): an EPT violation or misconfiguration during event delivery,
  including an event VM entry injected, records the event in the IDT-vectoring information
  (4408h: vector 7:0, type 10:8, error code valid 11, valid 31) and its error code (440Ah).
- 28.2.5: during the delivery of a software interrupt or exception (types 4-6) the VM-exit
  instruction length is the instruction's; for an injected one, the VM-entry instruction
  length (401Ah; the spec's choice, UNCONFIRMED in notes/exits-facts.md 8.3).
- 25.6.3, 26.2: a #PF exits when exception-bitmap bit 14 is 1 and (PFEC & mask) == match,
  or bit 14 is 0 and they differ; the qualification of a #PF exit is the linear address.
- 28.2.2 (2008 ed. 23.2.2): an exit due to an exception makes the VM-exit interruption
  information (4404h) valid: vector 7:0, type 10:8 (3: hardware exception), error code valid
  11 (#GP and #PF push one), NMI unblocking due to IRET 12 (undefined, 0, when the
  IDT-vectoring information is valid or with NMI exiting and no virtual NMIs), valid 31; the
  error code goes to 4406h. Every other exit clears bit 31 (the rest undefined: 0 here).
The VMCS is intel_vmx's model layout (one 8-byte slot per field; the guest-physical address
at 108h, the VM-exit interruption information and error code at 110h and 118h). The unit
reads the slots it uses (38h pin controls, 48h exception bitmap, 50h and 58h PFEC mask and
match, 68h, 70h, 78h the VM-entry interruption information, error code and instruction
length) first, then walks; a VM exit writes 88h, 90h, 98h, A0h, F0h, F8h, 108h, 110h, 118h
in that order. Every scenario here also runs on the MyHDL model (the `ref` fixture's teardown).
"""
from pathlib import Path

import pytest

from codegen.verify import harness
from codegen.verify.stimulus.translation import Scenario

ROOT = Path(__file__).resolve().parents[2]
P, RW, US, A, D = 1, 2, 4, 0x20, 0x40
CR0_PE, CR0_PG = 1, 1 << 31
CR4_PAE = 1 << 5
EFER_NXE = 1 << 11
R, W, X, XU = 1, 2, 4, 1 << 10  # EPT entry rights (Tables 29-2 .. 29-8)
MT_WB = 6 << 3
ADDR = 0xFFFF_FFFF_F000
EPT_TABLE = R | W | X | XU
EPT_LEAF = R | W | X | XU | MT_WB
EPTP = 6 | 3 << 3  # write-back paging structures, page-walk length 4; EPTP.AD = 0
ENABLE_EPT = 1 << 1
VMCS = 0x0800_0000
# VMCS slots (intel_vmx's model layout)
PIN, EXC_BITMAP, PFEC_MASK, PFEC_MATCH, ENTRY_INFO, ENTRY_ERROR, ENTRY_LEN = 0x38, 0x48, 0x50, 0x58, 0x68, 0x70, 0x78
READ_SLOTS = (PIN, EXC_BITMAP, PFEC_MASK, PFEC_MATCH, ENTRY_INFO, ENTRY_ERROR, ENTRY_LEN)
# VM-entry interruption information (4016h: a VM exit writes it back with bit 31 clear, SDM
# 25.8.3), reason, IDT info, IDT error, length, qual, GLA, GPA, VM-exit interruption
# information, its error code: the ten stores of an exit, in offset order
STORE_SLOTS = (ENTRY_INFO, 0x88, 0x90, 0x98, 0xA0, 0xF0, 0xF8, 0x108, 0x110, 0x118)
NMI_EXITING, VIRTUAL_NMIS = 1 << 3, 1 << 5
EPT_VIOLATION, EPT_MISCONFIG, EXCEPTION_NMI = 48, 49, 0
V = 1 << 31
EXT_INT, NMI, HW_EXCEPTION, SW_INT, SW_EXCEPTION, OTHER = 0, 2, 3, 4, 6, 7  # interruption types
G_TABLES = {4: 0x4000, 3: 0x3000, 2: 0x2000, 1: 0x1000}
G_PAGE = 0x514C_E895_5000
GPA_TO_HPA = 0x40_0000_0000
H_PAGE = 0x0ABC_DEF0_1000
VA = (0x0A5 << 39) | (0x1C3 << 30) | (0x0F0 << 21) | (0x12D << 12) | 0xABC
FINAL_GPA = G_PAGE | 0xABC

SCENARIOS: list = []


def idx(addr, level):
    return (addr >> (9 * level + 3)) & 0x1FF


class TwoD:
    """Guest 4-level tables (4-KiB pages, P, R/W, U/S, A, D set) at G_TABLES, each page at
    gpa + GPA_TO_HPA through 4-level EPT tables (R, W, X, XU, write-back 4-KiB leaves); the
    guest page G_PAGE maps to H_PAGE."""

    def __init__(self):
        self.mem, self.next = {}, 0x100_0000
        self.root = self._alloc()
        self.ept_leaf = {}
        for lv in range(4, 0, -1):
            page = G_TABLES[lv]
            self.map(page, page + GPA_TO_HPA)
            self.mem[page + GPA_TO_HPA + 8 * idx(VA, lv)] = (G_TABLES[lv - 1] if lv > 1 else G_PAGE) | P | RW | US | A | D
        self.map(G_PAGE, H_PAGE)

    def _alloc(self):
        a = self.next
        self.next += 0x1000
        return a

    def map(self, gpa, hpa):
        table = self.root
        for lv in range(4, 1, -1):
            ea = table + 8 * idx(gpa, lv)
            if ea not in self.mem:
                self.mem[ea] = self._alloc() | EPT_TABLE
            table = self.mem[ea] & ADDR
        ea = table + 8 * idx(gpa, 1)
        self.mem[ea] = hpa | EPT_LEAF
        self.ept_leaf[gpa] = ea

    def vmcs(self, pin=0, bitmap=0, mask=0, match=0, entry_info=0, entry_error=0, entry_len=0):
        for slot, value in zip(READ_SLOTS, (pin, bitmap, mask, match, entry_info, entry_error, entry_len)):
            self.mem[VMCS + slot] = value
        return self

    def request(self, va=VA, write=0, user=0, fetch=0, iret=0, nmi_blocked=0, ilen=0, delivering=0, injected=0,
                dlv=(0, 0, 0, 0)):
        dlv_type, dlv_vector, dlv_ev, dlv_error_code = dlv
        return {"va": va, "write": write, "user": user, "fetch": fetch, "iret": iret, "nmi_blocked": nmi_blocked,
                "ilen": ilen, "delivering": delivering, "injected": injected, "dlv_type": dlv_type,
                "dlv_vector": dlv_vector, "dlv_ev": dlv_ev, "dlv_error_code": dlv_error_code,
                "CR0": CR0_PE | CR0_PG, "CR3": G_TABLES[4], "CR4": CR4_PAE, "EFER": EFER_NXE, "RFLAGS": 0, "PKRU": 0,
                "EPTP": self.root | EPTP, "PROC2": ENABLE_EPT, "PROC3": 0, "VPID": 1, "VMCS_PA": VMCS}


@pytest.fixture(scope="module")
def ref():
    """The generated reference. The scenarios the tests of this module decide on it are run
    on the MyHDL model at the end (one simulation, random memory latency; under pytest-xdist,
    those of this worker): outcome, ordered trace and final memory must be the reference's."""
    reference, model = harness.load_generated(ROOT / "generated" / "intel_vmx" / "vmx_ept_exit")
    SCENARIOS.clear()
    yield reference
    runs = harness.run_model(model, reference, SCENARIOS)
    bad = [sc.request for sc, got in zip(SCENARIOS, runs) if harness.compare(harness.run_reference(reference, sc), got)]
    assert len(runs) == len(SCENARIOS) and not bad, f"the model disagrees on {len(bad)} scenarios: {bad[:2]}"


def decide(ref, t, request):
    SCENARIOS.append(Scenario(request, dict(t.mem), len(SCENARIOS)))
    mem, trace = dict(t.mem), []
    return ref.decide(mem, request, trace), trace, mem


def vmcs_reads(t):
    return [(0, VMCS + s, 8, t.mem[VMCS + s]) for s in READ_SLOTS]


def stores(reason=0, idt_info=0, idt_error=0, instr_len=0, qual=0, gla=0, gpa=0, intr=0, intr_error=0, entry=0):
    """`entry`: 4016h after the exit, the VM-entry interruption information with bit 31 clear."""
    values = (entry, reason, idt_info, idt_error, instr_len, qual, gla, gpa, intr, intr_error)
    return [(1, VMCS + s, 8, v) for s, v in zip(STORE_SLOTS, values)]


def fields(reason=0, idt_info=0, idt_error=0, instr_len=0, qual=0, gla=0, gpa=0, intr=0, intr_error=0, vector=0,
           error_code=0, cr2=0, entry=0):
    return {"reason": reason, "idt_vectoring_info": idt_info, "idt_vectoring_error": idt_error, "instr_len": instr_len,
            "qualification": qual, "guest_linear": gla, "guest_physical": gpa, "exit_intr_info": intr,
            "exit_intr_error": intr_error, "entry_intr_info": entry, "vector": vector, "error_code": error_code,
            "cr2": cr2}


# A supervisor write to the guest page whose EPT leaf lacks W: bit 1 (a write), bit 3 (R of
# every entry), bit 5 (X), bit 6 (XU, MBEC), bit 7 (GLA valid), bit 8 (the final access), bit
# 9 (the guest's leaf and tables have U/S = 1: a user-mode address), bit 10 (R/W = 1), bit 11
# clear (XD = 0): 7EAh.
WRITE_QUAL = 1 << 1 | 1 << 3 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10
assert WRITE_QUAL == 0x7EA
NMI_UNBLOCKING = 1 << 12


def read_only_page(t):
    t.mem[t.ept_leaf[G_PAGE]] = H_PAGE | R | X | XU | MT_WB
    return t


def test_an_access_that_translates_does_not_exit(ref):
    """No fault: no exit, nothing written; the 7 VMCS slots, then the 24 references of the
    4x4 walk."""
    t = TwoD().vmcs(bitmap=1 << 14 | 1 << 13)
    out, trace, mem = decide(ref, t, t.request(write=1, delivering=1, dlv=(HW_EXCEPTION, 13, 1, 0)))
    assert out == {"exit": False}
    assert trace[:7] == vmcs_reads(t) and len(trace) == 31 and mem == t.mem


# the guest's own #PF (type 3, vector 14, error code 2) being delivered: V | EV | 3 << 8 | 14
PF_DELIVERY = (HW_EXCEPTION, 14, 1, 2)
PF_IDT_INFO = V | 1 << 11 | HW_EXCEPTION << 8 | 14
assert PF_IDT_INFO == 0x8000_0B0E


@pytest.mark.parametrize("delivering", [0, 1])
def test_an_ept_violation_on_the_final_address_records_the_event_being_delivered(ref, delivering):
    """Reason 48, qualification 7EAh, the guest-linear and guest-physical addresses; during
    the delivery of the #PF the IDT-vectoring information 8000_0B0Eh and error code 2
    (28.2.4), outside a delivery both 0. A hardware exception: instruction length 0."""
    t = read_only_page(TwoD().vmcs())
    out, trace, mem = decide(ref, t, t.request(write=1, delivering=delivering, dlv=PF_DELIVERY))
    info, error = (PF_IDT_INFO, 2) if delivering else (0, 0)
    assert out == {"exit": True, "rule": "ept_violation",
                   "fields": fields(EPT_VIOLATION, info, error, 0, WRITE_QUAL, VA, FINAL_GPA)}
    assert len(trace) == 7 + 24 + 10 and trace[-10:] == stores(EPT_VIOLATION, info, error, 0, WRITE_QUAL, VA, FINAL_GPA)
    assert mem[VMCS + 0x108] == FINAL_GPA


@pytest.mark.parametrize("pin,iret,blocked,delivering,bit12", [
    (0, 1, 1, 0, 1),                           # NMI exiting 0: defined, an IRET begun with NMIs blocked
    (NMI_EXITING | VIRTUAL_NMIS, 1, 1, 0, 1),  # virtual NMIs: defined, virtual-NMI blocking
    (NMI_EXITING, 1, 1, 0, 0),                 # NMI exiting without virtual NMIs: undefined, 0
    (0, 1, 0, 0, 0),                           # no blocking before the IRET: nothing was unblocked
    (0, 0, 1, 0, 0),                           # not an IRET
    (0, 1, 1, 1, 0),                           # IDT-vectoring information valid: undefined, 0
])
def test_nmi_unblocking_due_to_iret(ref, pin, iret, blocked, delivering, bit12):
    """Exit-qualification bit 12 (28.2.3), on the violation of the test above."""
    t = read_only_page(TwoD().vmcs(pin=pin))
    out, trace, mem = decide(ref, t, t.request(write=1, iret=iret, nmi_blocked=blocked, delivering=delivering,
                                               dlv=PF_DELIVERY))
    assert out["rule"] == "ept_violation"
    assert out["fields"]["qualification"] == WRITE_QUAL | (NMI_UNBLOCKING if bit12 else 0)
    assert out["fields"]["idt_vectoring_info"] == (PF_IDT_INFO if delivering else 0)


@pytest.mark.parametrize("entry_info,entry_len,info,length", [
    (V | SW_INT << 8 | 0x80, 2, V | SW_INT << 8 | 0x80, 2),  # INT 80h injected: the VM-entry length 2
    (V | NMI << 8 | 2, 2, V | NMI << 8 | 2, 0),              # an NMI: not a software event, length 0
    (V | OTHER << 8, 2, 0, 0),                               # type 7 is no delivery through the IDT
    (NMI << 8 | 2, 2, 0, 0),                                 # valid bit 0: nothing was injected
])
def test_an_ept_misconfiguration_on_a_guest_table_during_an_injected_event(ref, entry_info, entry_len, info, length):
    """The EPT leaf of the guest's level-3 table page is write-only (W without R, a
    misconfiguration, 29.3.3.1): reason 49, no qualification, no guest-linear address, the
    guest-physical address of the guest PDPTE read (G_TABLES[3] + 8 * 1C3h). With `injected`
    the event is VM entry's (4016h), whatever the request's dlv fields say."""
    t = TwoD().vmcs(entry_info=entry_info, entry_len=entry_len)
    pdpte = G_TABLES[3] + 8 * 0x1C3
    t.mem[t.ept_leaf[G_TABLES[3]]] = (G_TABLES[3] + GPA_TO_HPA) | W | MT_WB
    out, trace, mem = decide(ref, t, t.request(delivering=1, injected=1, ilen=5, dlv=PF_DELIVERY))
    # 4016h after the exit: the same bits, the valid bit cleared (SDM 25.8.3)
    entry = entry_info & ~V
    assert out == {"exit": True, "rule": "ept_misconfig",
                   "fields": fields(EPT_MISCONFIG, info, 0, length, gpa=pdpte, entry=entry)}
    # 7 VMCS slots, guest level 4 (4 EPT + 1), the EPT walk of the PDPTE's page (4)
    assert len(trace) == 7 + 5 + 4 + 10
    assert trace[-10:] == stores(EPT_MISCONFIG, info, 0, length, gpa=pdpte, entry=entry)
    assert mem[VMCS + ENTRY_INFO] == entry


def test_a_violation_during_a_software_exception_takes_its_instruction_length(ref):
    """The guest's own INT3 (type 6, vector 3) being delivered: IDT-vectoring 8000_0603h,
    VM-exit instruction length = the instruction's (1)."""
    t = read_only_page(TwoD().vmcs())
    out, _, _ = decide(ref, t, t.request(write=1, ilen=1, delivering=1, dlv=(SW_EXCEPTION, 3, 0, 0)))
    assert out["fields"] == fields(EPT_VIOLATION, 0x8000_0603, 0, 1, WRITE_QUAL, VA, FINAL_GPA)


@pytest.mark.parametrize("bitmap,mask,match,rule", [
    (1 << 14, 0, 0, "pf_exception"),       # PFEC & 0 == 0: bit 14 = 1 exits
    (1 << 14, RW, 0, "guest_page_fault"),  # PFEC (W = 2) & 2 != 0: bit 14 = 1 lets it through
    (0, RW, 0, "pf_exception"),            # ... and bit 14 = 0 exits
])
def test_a_guest_page_fault_during_an_injected_nmi(ref, bitmap, mask, match, rule):
    """The guest PTE not present, a supervisor write: #PF with error code W = 2. An exit is
    reason 0, qualification = the linear address (28.2.1), the injected NMI in the
    IDT-vectoring information (8000_0202h) and the #PF in the VM-exit interruption
    information (V | error code valid | type 3 << 8 | 14 = 8000_0B0Eh, error code 2);
    otherwise the guest takes #PF, nothing written."""
    t = TwoD().vmcs(bitmap=bitmap, mask=mask, match=match, entry_info=V | NMI << 8 | 2)
    t.mem[G_TABLES[1] + GPA_TO_HPA + 8 * idx(VA, 1)] = 0
    out, trace, mem = decide(ref, t, t.request(write=1, delivering=1, injected=1))
    assert out["rule"] == rule
    if rule == "pf_exception":
        # the injected NMI's 4016h (8000_0202h) is written back as 0202h
        assert out["fields"] == fields(EXCEPTION_NMI, 0x8000_0202, 0, 0, VA, intr=0x8000_0B0E, intr_error=RW,
                                       entry=0x202)
        assert len(trace) == 7 + 20 + 10
        assert trace[-10:] == stores(EXCEPTION_NMI, 0x8000_0202, 0, 0, VA, intr=0x8000_0B0E, intr_error=RW,
                                     entry=0x202)
    else:
        assert out["fields"] == fields(vector=14, error_code=RW, cr2=VA)
        assert len(trace) == 7 + 20 and mem == t.mem


@pytest.mark.parametrize("bitmap", [1 << 13, 0])
def test_a_non_canonical_address_is_gp_before_any_table_is_read(ref, bitmap):
    """Bit 47 set, bits 63:48 clear: #GP(0) before the walk. Exception-bitmap bit 13: reason
    0 with the external interrupt 41h being delivered (8000_0041h) and the #GP in the VM-exit
    interruption information (V | error code valid | type 3 << 8 | 13 = 8000_0B0Dh, error
    code 0); else the guest's #GP."""
    t = TwoD().vmcs(bitmap=bitmap)
    out, trace, mem = decide(ref, t, t.request(va=VA | 1 << 47, delivering=1, dlv=(EXT_INT, 0x41, 0, 0)))
    if bitmap:
        assert out == {"exit": True, "rule": "gp_exception",
                       "fields": fields(EXCEPTION_NMI, 0x8000_0041, intr=0x8000_0B0D)}
        assert trace == vmcs_reads(t) + stores(EXCEPTION_NMI, 0x8000_0041, intr=0x8000_0B0D)
    else:
        assert out == {"exit": True, "rule": "guest_gp_fault", "fields": fields(vector=13)}
        assert trace == vmcs_reads(t) and mem == t.mem



@pytest.mark.parametrize("pin,delivering,intr", [
    (0, 0, 0x8000_1B0E),            # a #PF on an IRET begun with NMIs blocked: bit 12 set
    (NMI_EXITING, 0, 0x8000_0B0E),  # NMI exiting without virtual NMIs: bit 12 undefined, 0
    (0, 1, 0x8000_0B0E),            # IDT-vectoring information valid: bit 12 undefined, 0
])
def test_a_page_fault_exit_on_iret_records_nmi_unblocking(ref, pin, delivering, intr):
    """The guest PTE not present, a supervisor read made by IRET with NMIs blocked, bitmap
    bit 14 = 1 (mask = match = 0): reason 0, qualification = the address; the VM-exit
    interruption information V | bit 12 | error code valid | 3 << 8 | 14 = 8000_1B0Eh (28.2.2),
    error code 0 (a read of a not-present page)."""
    t = TwoD().vmcs(pin=pin, bitmap=1 << 14)
    t.mem[G_TABLES[1] + GPA_TO_HPA + 8 * idx(VA, 1)] = 0
    out, trace, _ = decide(ref, t, t.request(iret=1, nmi_blocked=1, delivering=delivering, dlv=PF_DELIVERY))
    info, error = (PF_IDT_INFO, 2) if delivering else (0, 0)
    assert out == {"exit": True, "rule": "pf_exception",
                   "fields": fields(EXCEPTION_NMI, info, error, 0, VA, intr=intr, intr_error=0)}
    assert trace[-10:] == stores(EXCEPTION_NMI, info, error, 0, VA, intr=intr)


# ---- a guest exception during the delivery of an exception: #DF and triple fault ------------
# SDM Vol. 3A 6.15 Table 6-5: #GP (13) is contributory; contributory on contributory, or #GP
# or #PF on #PF, gives #DF; #GP or #PF on #DF gives a triple fault; anything on a benign
# event, and #PF on a contributory one, is handled serially. The exception bitmap is checked
# for the new exception first (SDM 26.2): here bits 13 and 14 are clear (mask = match = 0:
# bit 14 = 0 lets a #PF through).
DF = 8
DF_INTR = V | 1 << 11 | HW_EXCEPTION << 8 | DF  # the #DF in 4404h: vector 8, type 3, error code valid
assert DF_INTR == 0x8000_0B08


@pytest.mark.parametrize("bitmap", [1 << DF, 0])
def test_a_page_fault_during_the_delivery_of_a_page_fault_is_a_double_fault(ref, bitmap):
    """The guest PTE not present while the guest's own #PF (error code 2) is being delivered:
    #PF on #PF is #DF. Bitmap bit 8: reason 0, the #DF in the VM-exit interruption information
    (8000_0B08h, error code 0), no IDT-vectoring information (28.2.4: the original event
    results in a #DF that causes the exit directly), no qualification (a #DF has none); else
    the guest takes #DF (error code 0), nothing written."""
    t = TwoD().vmcs(bitmap=bitmap)
    t.mem[G_TABLES[1] + GPA_TO_HPA + 8 * idx(VA, 1)] = 0
    out, trace, mem = decide(ref, t, t.request(write=1, delivering=1, dlv=PF_DELIVERY))
    if bitmap:
        assert out == {"exit": True, "rule": "double_fault_exception",
                       "fields": fields(EXCEPTION_NMI, intr=DF_INTR, intr_error=0)}
        assert len(trace) == 7 + 20 + 10 and trace[-10:] == stores(EXCEPTION_NMI, intr=DF_INTR)
    else:
        assert out == {"exit": True, "rule": "guest_double_fault", "fields": fields(vector=DF)}
        assert len(trace) == 7 + 20 and mem == t.mem


def test_a_general_protection_during_an_injected_double_fault_is_a_triple_fault(ref):
    """VM entry injected a #DF (4016h = 8000_0B08h, error code 0); its delivery meets a
    non-canonical address (#GP(0), bit 13 clear): #GP on #DF is a triple fault, which always
    exits, reason 2, with no IDT-vectoring information (28.2.4) and no interruption
    information; the exit writes 4016h back as 0B08h (valid bit cleared, 25.8.3). The walk
    reads nothing (the address is not canonical)."""
    t = TwoD().vmcs(entry_info=DF_INTR)
    out, trace, mem = decide(ref, t, t.request(va=VA | 1 << 47, delivering=1, injected=1))
    assert out == {"exit": True, "rule": "triple_fault", "fields": fields(2, entry=0x0B08)}
    assert trace == vmcs_reads(t) + stores(2, entry=0x0B08)
    assert mem[VMCS + ENTRY_INFO] == 0x0B08


@pytest.mark.parametrize("dlv,rule,vector", [
    ((HW_EXCEPTION, 13, 1, 0), "guest_double_fault", DF),   # #GP on #GP: contributory twice
    ((HW_EXCEPTION, 11, 1, 0), "guest_double_fault", DF),   # #GP on #NP
    ((HW_EXCEPTION, 6, 0, 0), "guest_gp_fault", 13),        # #GP on #UD (benign): serially
    ((NMI, 2, 0, 0), "guest_gp_fault", 13),                 # an NMI is no exception: serially
    ((SW_EXCEPTION, 13, 0, 0), "guest_gp_fault", 13),       # a software exception (type 6): not combined
])
def test_which_events_being_delivered_combine_with_a_general_protection(ref, dlv, rule, vector):
    """A non-canonical address (#GP(0), bit 13 and bit 8 clear) during the delivery of the
    guest's own event: Table 6-5 by the class of the event being delivered."""
    t = TwoD().vmcs()
    out, _, _ = decide(ref, t, t.request(va=VA | 1 << 47, delivering=1, dlv=dlv))
    assert out["rule"] == rule and out["fields"]["vector"] == vector


def test_a_page_fault_during_the_delivery_of_a_contributory_exception_is_handled_serially(ref):
    """Table 6-5: a #PF on a contributory exception (#GP being delivered) is not a #DF: the
    guest takes the #PF."""
    t = TwoD().vmcs()
    t.mem[G_TABLES[1] + GPA_TO_HPA + 8 * idx(VA, 1)] = 0
    out, _, _ = decide(ref, t, t.request(write=1, delivering=1, dlv=(HW_EXCEPTION, 13, 1, 0)))
    assert out == {"exit": True, "rule": "guest_page_fault", "fields": fields(vector=14, error_code=RW, cr2=VA)}
