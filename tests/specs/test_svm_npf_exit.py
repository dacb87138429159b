"""Golden tests of amd_svm's second model, svm_npf_exit: a guest access through amd_npt's
nested walk, perhaps made to deliver an event, tables and VMCB built by hand.

AMD64 APM Vol. 2 (24593):
- 15.25.6: a fault of the nested walk is #VMEXIT(NPF), exit code 400h; EXITINFO1 holds the
  nested access's page-fault error code (P 0, RW 1, US 2, RSV 3, ID 4, as 8.4.2), bit 32 when
  the fault was on the final guest-physical address, bit 33 when it was on a guest
  page-table access; EXITINFO2 the faulting guest-physical address. Nested accesses are user
  accesses and guest page-table accesses are writes (15.25.5), so US = 1 always and RW = 1
  on a table access.
- 15.7.2 (Figure 15-1): "all intercepts" say in EXITINTINFO (VMCB 088h) whether they
  happened during the delivery of an event: VECTOR 7:0, TYPE 10:8 (0 INTR, 2 NMI, 3
  exception, 4 software interrupt), EV 11, V 31, ERRORCODE 63:32; 0 outside a delivery.
- 15.20: EVENTINJ (0A8h) has the same format, injects only with V = 1, its VECTOR is ignored
  for an NMI; an injected event is recorded in EXITINTINFO like any other.
- 15.12: an intercepted exception exits with 40h + vector, EXITINFO1 = its error code, and
  for #PF EXITINFO2 = the faulting address (15.12.15).
The unit reads the VMCB words it uses (exception intercepts at 008h, EVENTINJ at 0A8h) first,
then walks; on a #VMEXIT it writes EXITCODE (070h), EXITINFO1 (078h), EXITINFO2 (080h) and
EXITINTINFO (088h), in that order. A guest exception that is not intercepted writes nothing.
Every scenario here also runs on the MyHDL model (the `ref` fixture's teardown).
"""
from pathlib import Path

import pytest

from codegen.verify import harness
from codegen.verify.stimulus.translation import Scenario

ROOT = Path(__file__).resolve().parents[2]
P, RW, US, A, D = 1, 2, 4, 0x20, 0x40
ADDR = 0xFFFF_FFFF_F000
CR0_PG_PE = (1 << 31) | 1
CR4_PAE = 1 << 5  # long mode: the canonical-address check is made (x86_64_paging's non_canonical)
NXE = 1 << 11
VMCB = 0x0800_0000
EXCEPTION_INTERCEPTS, EXITCODE, EXITINFO1, EXITINFO2, EXITINTINFO, EVENTINJ = 0x008, 0x070, 0x078, 0x080, 0x088, 0x0A8
NPF, EXCP13, EXCP14 = 0x400, 0x4D, 0x4E
FINAL, TABLE = 1 << 32, 1 << 33
V = 1 << 31
INTR, NMI, EXCEPTION, SOFT_INT = 0, 2, 3, 4  # EXITINTINFO / EVENTINJ TYPE (Table 15-1)
G_TABLES = {4: 0x4000, 3: 0x3000, 2: 0x2000, 1: 0x1000}  # guest-physical
GPA_TO_SPA = 0x40_0000_0000
G_PAGE = 0x0012_3456_7000
S_PAGE = 0x0ABC_DEF0_1000
VA = (0x0A5 << 39) | (0x1C3 << 30) | (0x0F0 << 21) | (0x12D << 12) | 0xABC

SCENARIOS: list = []  # the scenarios decided here, for the model (see the `ref` fixture)


def idx(addr, level):
    return (addr >> (9 * level + 3)) & 0x1FF


class TwoD:
    """Guest 4-level tables (4-KiB pages, A and D set) at G_TABLES, each page stored at
    gpa + GPA_TO_SPA through 4-level nested tables; the guest page G_PAGE maps to S_PAGE."""

    def __init__(self):
        self.mem, self.next = {}, 0x100_0000
        self.ncr3 = self._alloc()
        self.nested_leaf = {}
        for lv in range(4, 0, -1):
            page = G_TABLES[lv]
            self.map(page, page + GPA_TO_SPA)
            self.mem[page + GPA_TO_SPA + 8 * idx(VA, lv)] = (G_TABLES[lv - 1] if lv > 1 else G_PAGE) | P | RW | US | A | D
        self.map(G_PAGE, S_PAGE)

    def _alloc(self):
        a = self.next
        self.next += 0x1000
        return a

    def map(self, gpa, spa):
        table = self.ncr3
        for lv in range(4, 1, -1):
            ea = table + 8 * idx(gpa, lv)
            if ea not in self.mem:
                self.mem[ea] = self._alloc() | P | RW | US | A
            table = self.mem[ea] & ADDR
        ea = table + 8 * idx(gpa, 1)
        self.mem[ea] = spa | P | RW | US | A | D
        self.nested_leaf[gpa] = ea

    def vmcb(self, intercepts=0, eventinj=0):
        self.mem[VMCB + EXCEPTION_INTERCEPTS] = intercepts
        self.mem[VMCB + EVENTINJ] = eventinj
        return self

    def request(self, va=VA, write=0, user=0, fetch=0, delivering=0, injected=0, dlv=(0, 0, 0, 0)):
        dlv_type, dlv_vector, dlv_ev, dlv_error_code = dlv
        return {"va": va, "write": write, "user": user, "fetch": fetch, "delivering": delivering,
                "injected": injected, "dlv_type": dlv_type, "dlv_vector": dlv_vector, "dlv_ev": dlv_ev,
                "dlv_error_code": dlv_error_code,
                "CR0": CR0_PG_PE, "CR3": G_TABLES[4], "CR4": CR4_PAE, "EFER": NXE, "RFLAGS": 0, "PKRU": 0,
                "nCR3": self.ncr3, "HCR4": 0, "HEFER": NXE, "NP_CTL": 1, "ASID": 1, "VMCB_PA": VMCB}


@pytest.fixture(scope="module")
def ref():
    """The generated reference. The scenarios the tests of this module decide on it are run
    on the MyHDL model at the end (one simulation, random memory latency; under pytest-xdist,
    those of this worker): outcome, ordered trace and final memory must be the reference's."""
    reference, model = harness.load_generated(ROOT / "generated" / "amd_svm" / "svm_npf_exit")
    SCENARIOS.clear()
    yield reference
    runs = harness.run_model(model, reference, SCENARIOS)
    bad = [sc.request for sc, got in zip(SCENARIOS, runs) if harness.compare(harness.run_reference(reference, sc), got)]
    assert len(runs) == len(SCENARIOS) and not bad, f"the model disagrees on {len(bad)} scenarios: {bad[:2]}"


def decide(ref, t, request):
    SCENARIOS.append(Scenario(request, dict(t.mem), len(SCENARIOS)))
    mem, trace = dict(t.mem), []
    return ref.decide(mem, request, trace), trace, mem


def vmcb_reads(t):
    """The two VMCB words the unit uses, read first, in address order."""
    return [(0, VMCB + EXCEPTION_INTERCEPTS, 8, t.mem[VMCB + EXCEPTION_INTERCEPTS]),
            (0, VMCB + EVENTINJ, 8, t.mem[VMCB + EVENTINJ])]


def stores(exitcode, info1, info2, intinfo, eventinj=0):
    """The #VMEXIT's five writes, ascending; `eventinj`: EVENTINJ written back with V
    (bit 31) cleared (15.20)."""
    return [(1, VMCB + EXITCODE, 8, exitcode), (1, VMCB + EXITINFO1, 8, info1),
            (1, VMCB + EXITINFO2, 8, info2), (1, VMCB + EXITINTINFO, 8, intinfo), (1, VMCB + EVENTINJ, 8, eventinj)]


def test_an_access_that_translates_does_not_exit(ref):
    """Every entry present and permissive: no exit, nothing written; 2 VMCB words then the
    24 references of a 4x4 two-dimensional walk (TOOLCHAIN: (4+1)(4+1) - 1)."""
    t = TwoD().vmcb(intercepts=1 << 14 | 1 << 13)
    out, trace, mem = decide(ref, t, t.request(write=1, delivering=1, dlv=(EXCEPTION, 13, 1, 0x18)))
    assert out == {"exit": False}
    assert trace[:2] == vmcb_reads(t) and len(trace) == 26 and all(op == 0 for op, *_ in trace)
    assert mem == t.mem


# EXITINTINFO of the guest's own #GP being delivered with error code 18h: V | EV (bit 11) |
# TYPE 3 << 8 | vector 13, the error code in bits 63:32
GP_DELIVERY = (EXCEPTION, 13, 1, 0x18)
GP_INTINFO = 0x18 << 32 | V | 1 << 11 | 3 << 8 | 13
assert GP_INTINFO == 0x0000_0018_8000_0B0D


@pytest.mark.parametrize("write,delivering,intinfo", [(0, 0, 0), (1, 0, 0), (0, 1, GP_INTINFO), (1, 1, GP_INTINFO)])
def test_a_nested_fault_on_the_final_address_is_npf_with_exitintinfo(ref, write, delivering, intinfo):
    """The guest page's nested PTE not present: the fault is on the final guest-physical
    address (bit 32). Error code: P = 0 (not present), RW = the guest's write, US = 1 (a
    nested access is a user access): 4 for a read, 6 for a write. EXITINFO2 = G_PAGE + the
    page offset ABCh. EXITINTINFO: the #GP being delivered, or 0 outside a delivery."""
    t = TwoD().vmcb()
    t.mem[t.nested_leaf[G_PAGE]] = 0
    out, trace, mem = decide(ref, t, t.request(write=write, delivering=delivering, dlv=GP_DELIVERY))
    info1 = (US | (RW if write else 0)) | FINAL
    assert out == {"exit": True, "rule": "npf", "fields": {
        "exitcode": NPF, "exitinfo1": info1, "exitinfo2": G_PAGE | 0xABC, "exitintinfo": intinfo,
        "eventinj": 0, "vector": 0, "error_code": 0, "cr2": 0}}
    # 2 VMCB words, 4 guest levels (4 nested + 1 guest read each), 4 nested reads of the final GPA
    assert len(trace) == 2 + 20 + 4 + 5 and trace[-5:] == stores(NPF, info1, G_PAGE | 0xABC, intinfo)
    assert mem[VMCB + EXITINTINFO] == intinfo and mem[VMCB + EXITCODE] == NPF


# VMRUN injected events (EVENTINJ, 15.20), and the EXITINTINFO each gives
INJECTED = [
    # an NMI: VECTOR is ignored (55h here); EXITINTINFO reads vector 2, TYPE 2, V
    (V | NMI << 8 | 0x55, V | NMI << 8 | 2),
    # a #PF with error code 3: EXITINTINFO is EVENTINJ itself (the same format)
    (3 << 32 | V | 1 << 11 | EXCEPTION << 8 | 14, 3 << 32 | V | 1 << 11 | EXCEPTION << 8 | 14),
    # an external interrupt, vector 30h
    (V | INTR << 8 | 0x30, V | 0x30),
    # V = 0: nothing was injected, so the access is not part of a delivery
    (NMI << 8 | 2, 0),
]


@pytest.mark.parametrize("eventinj,intinfo", INJECTED)
def test_a_nested_fault_on_a_guest_table_during_an_injected_event(ref, eventinj, intinfo):
    """The nested PTE of the guest's level-2 table page not present: the fault is on a guest
    page-table access (bit 33), a write as every table access (15.25.5): error code RW | US
    = 6. EXITINFO2 = the guest-physical address of the guest PDE read, G_TABLES[2] + 8 *
    the VA's PD index (F0h). The event fields of the request say something else (a #GP): with
    `injected` the unit reads EVENTINJ instead."""
    t = TwoD().vmcb(eventinj=eventinj)
    t.mem[t.nested_leaf[G_TABLES[2]]] = 0
    out, trace, mem = decide(ref, t, t.request(delivering=1, injected=1, dlv=GP_DELIVERY))
    pde = G_TABLES[2] + 8 * 0xF0
    assert out["rule"] == "npf" and out["fields"]["exitcode"] == NPF
    assert out["fields"]["exitinfo1"] == (RW | US) | TABLE and out["fields"]["exitinfo2"] == pde
    assert out["fields"]["exitintinfo"] == intinfo
    # EVENTINJ is written back with V cleared, its other bits kept (15.20)
    assert out["fields"]["eventinj"] == eventinj & ~V and mem[VMCB + EVENTINJ] == eventinj & ~V
    # 2 VMCB words, guest levels 4 and 3 (5 each), then the nested walk of the PDE's page
    assert len(trace) == 2 + 10 + 4 + 5 and trace[-5:] == stores(NPF, RW | US | TABLE, pde, intinfo, eventinj & ~V)


def test_an_intercepted_guest_page_fault_during_an_interrupt_delivery(ref):
    """The guest PTE not present, #PF intercepted (bit 14 of 008h): #VMEXIT 4Eh (40h + 14),
    EXITINFO1 = the #PF error code (not present, a supervisor write: W = 2), EXITINFO2 = the
    faulting linear address (15.12.15), EXITINTINFO = the external interrupt 20h being
    delivered (TYPE 0, no error code): 8000_0020h."""
    t = TwoD().vmcb(intercepts=1 << 14)
    t.mem[G_TABLES[1] + GPA_TO_SPA + 8 * idx(VA, 1)] = 0
    out, trace, mem = decide(ref, t, t.request(write=1, delivering=1, dlv=(INTR, 0x20, 0, 0)))
    assert out == {"exit": True, "rule": "pf_intercepted", "fields": {
        "exitcode": EXCP14, "exitinfo1": RW, "exitinfo2": VA, "exitintinfo": 0x8000_0020,
        "eventinj": 0, "vector": 0, "error_code": 0, "cr2": 0}}
    # 2 VMCB words, 4 guest levels (5 each; the PTE is read and found not present)
    assert len(trace) == 2 + 20 + 5 and trace[-5:] == stores(EXCP14, RW, VA, 0x8000_0020)


def test_a_guest_page_fault_that_is_not_intercepted_writes_nothing(ref):
    """The same fault with bit 14 clear: the guest takes #PF (error code 2, CR2 = the
    address), no #VMEXIT: the VMCB is not written, EXITCODE stays 0 in the record."""
    t = TwoD().vmcb(intercepts=1 << 13)
    t.mem[G_TABLES[1] + GPA_TO_SPA + 8 * idx(VA, 1)] = 0
    out, trace, mem = decide(ref, t, t.request(write=1, delivering=1, dlv=(INTR, 0x20, 0, 0)))
    assert out == {"exit": True, "rule": "guest_page_fault", "fields": {
        "exitcode": 0, "exitinfo1": 0, "exitinfo2": 0, "exitintinfo": 0, "eventinj": 0, "vector": 14,
        "error_code": RW, "cr2": VA}}
    assert len(trace) == 22 and all(op == 0 for op, *_ in trace) and mem == t.mem


@pytest.mark.parametrize("intercepts", [1 << 13, 0])
def test_a_non_canonical_address_is_gp_before_any_table_is_read(ref, intercepts):
    """Bit 47 set, bits 63:48 clear: not canonical, #GP(0) before the walk (APM 5.3.1,
    8.2.14). Intercepted (bit 13): #VMEXIT 4Dh, EXITINFO1 = the error code 0, EXITINTINFO =
    the software interrupt 80h being delivered (TYPE 4): 8000_0480h. Otherwise the guest
    takes #GP."""
    t = TwoD().vmcb(intercepts=intercepts)
    out, trace, mem = decide(ref, t, t.request(va=VA | 1 << 47, delivering=1, dlv=(SOFT_INT, 0x80, 0, 0)))
    if intercepts:
        assert out == {"exit": True, "rule": "gp_intercepted", "fields": {
            "exitcode": EXCP13, "exitinfo1": 0, "exitinfo2": 0, "exitintinfo": 0x8000_0480,
            "eventinj": 0, "vector": 0, "error_code": 0, "cr2": 0}}
        assert trace == vmcb_reads(t) + stores(EXCP13, 0, 0, 0x8000_0480)
    else:
        assert out["rule"] == "guest_gp_fault" and out["fields"]["vector"] == 13 and out["fields"]["exitcode"] == 0
        assert trace == vmcb_reads(t) and mem == t.mem



# ---- a guest exception during the delivery of an exception: #DF and shutdown ----------------
# APM 8.2.9 (SDM Vol. 3A Table 6-5): #GP is contributory; contributory on contributory, or #GP
# or #PF on #PF, gives #DF; #GP or #PF on #DF gives shutdown; the rest is handled serially.
# The new exception's own intercept is checked first (15.12): bits 13 and 14 are clear here.
# An intercepted #DF (48h) or shutdown (7Fh, 00Ch bit 31: bit 63 of the word at 008h) leaves
# EXITINTINFO = the prior event (15.7.3); EXITINFO1 and EXITINFO2 of #DF are undefined, 0.
EXCP8, SHUTDOWN = 0x48, 0x7F
DF_BIT, SHUTDOWN_BIT = 1 << 8, 1 << 63
PF_DELIVERY = (EXCEPTION, 14, 1, 2)
PF_INTINFO = 2 << 32 | V | 1 << 11 | EXCEPTION << 8 | 14
assert PF_INTINFO == 0x0000_0002_8000_0B0E


@pytest.mark.parametrize("intercepts", [DF_BIT, 0])
def test_a_page_fault_during_the_delivery_of_a_page_fault_is_a_double_fault(ref, intercepts):
    """The guest PTE not present while the guest's #PF (error code 2) is being delivered: #PF on
    #PF is #DF. Intercepted: #VMEXIT 48h, EXITINTINFO = the #PF being delivered
    (0000_0002_8000_0B0Eh), EXITINFO1/2 0, EVENTINJ (0) written back; else the guest takes #DF."""
    t = TwoD().vmcb(intercepts=intercepts)
    t.mem[G_TABLES[1] + GPA_TO_SPA + 8 * idx(VA, 1)] = 0
    out, trace, mem = decide(ref, t, t.request(write=1, delivering=1, dlv=PF_DELIVERY))
    if intercepts:
        assert out == {"exit": True, "rule": "double_fault", "fields": {
            "exitcode": EXCP8, "exitinfo1": 0, "exitinfo2": 0, "exitintinfo": PF_INTINFO, "eventinj": 0,
            "vector": 0, "error_code": 0, "cr2": 0}}
        assert len(trace) == 2 + 20 + 5 and trace[-5:] == stores(EXCP8, 0, 0, PF_INTINFO)
    else:
        assert out == {"exit": True, "rule": "guest_double_fault", "fields": {
            "exitcode": 0, "exitinfo1": 0, "exitinfo2": 0, "exitintinfo": 0, "eventinj": 0, "vector": 8,
            "error_code": 0, "cr2": 0}}
        assert len(trace) == 2 + 20 and mem == t.mem


@pytest.mark.parametrize("intercepts", [SHUTDOWN_BIT, 0])
def test_a_general_protection_during_an_injected_double_fault_is_a_shutdown(ref, intercepts):
    """VMRUN injected a #DF (EVENTINJ = V | EV | TYPE 3 | vector 8, error code 0:
    8000_0B08h); its delivery meets a non-canonical address (#GP(0)): #GP on #DF is shutdown.
    Intercepted: #VMEXIT 7Fh, EXITINTINFO = the injected #DF (8000_0B08h), EVENTINJ written
    back with V cleared (0B08h, 15.20); else the guest shuts down, nothing written. The walk
    reads nothing."""
    inj = V | 1 << 11 | EXCEPTION << 8 | 8
    t = TwoD().vmcb(intercepts=intercepts, eventinj=inj)
    out, trace, mem = decide(ref, t, t.request(va=VA | 1 << 47, delivering=1, injected=1))
    if intercepts:
        assert out["rule"] == "shutdown" and out["fields"]["exitcode"] == SHUTDOWN
        assert out["fields"]["exitintinfo"] == 0x8000_0B08 and out["fields"]["eventinj"] == 0x0B08
        assert trace == vmcb_reads(t) + stores(SHUTDOWN, 0, 0, 0x8000_0B08, 0x0B08)
    else:
        assert out == {"exit": True, "rule": "guest_shutdown", "fields": {
            "exitcode": 0, "exitinfo1": 0, "exitinfo2": 0, "exitintinfo": 0, "eventinj": 0, "vector": 0,
            "error_code": 0, "cr2": 0}}
        assert trace == vmcb_reads(t) and mem == t.mem


@pytest.mark.parametrize("dlv,rule", [
    ((EXCEPTION, 13, 1, 0), "guest_double_fault"),  # #GP on #GP
    ((EXCEPTION, 0, 0, 0), "guest_double_fault"),   # #GP on #DE
    ((EXCEPTION, 3, 0, 0), "guest_gp_fault"),       # #GP on #BP (benign): serially
    ((INTR, 0x30, 0, 0), "guest_gp_fault"),         # an interrupt is no exception: serially
])
def test_which_events_being_delivered_combine_with_a_general_protection(ref, dlv, rule):
    t = TwoD().vmcb()
    out, _, _ = decide(ref, t, t.request(va=VA | 1 << 47, delivering=1, dlv=dlv))
    assert out["rule"] == rule


def test_an_intercepted_general_protection_exits_before_any_combination(ref):
    """15.12: #GP intercepted (bit 13) during the delivery of a #DF: #VMEXIT 4Dh with
    EXITINTINFO = the #DF, not a shutdown (whose intercept is set too)."""
    t = TwoD().vmcb(intercepts=1 << 13 | SHUTDOWN_BIT)
    out, _, _ = decide(ref, t, t.request(va=VA | 1 << 47, delivering=1, dlv=(EXCEPTION, 8, 1, 0)))
    assert out["rule"] == "gp_intercepted" and out["fields"]["exitintinfo"] == 0x8000_0B08
