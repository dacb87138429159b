"""Directed tests of the generated intel_ept reference and MyHDL model, tables built by hand.

Intel SDM Vol. 3C: guest IA-32e paging composed with EPT (29.3.2). Every guest
paging-structure access and the final guest-physical address go through an EPT walk
rooted at EPTP (25.6.11, Table 25-9). An EPT misconfiguration (29.3.3.1) is VM exit 49
with the guest-physical address and no exit qualification (28.2.1: the field is cleared
for exits it is not defined for); an EPT violation (29.3.3.2) is VM exit 48 with the exit
qualification of Table 28-7: bits 2:0 the access, bits 5:3 the AND of bits 2:0 over the
EPT entries used, bit 6 the AND of bit 10 (mode-based execute control), bit 7 the
guest-linear address is valid, bit 8 the access was the final one (not a guest
paging-structure access). EPT accessed and dirty flags: 29.3.4.

Every walk in this file runs on the generated reference (exact tuples and traces are
asserted here) and on the generated MyHDL model through the co-simulation harness
(run_model + compare, batched at the end of the module: see model_queue): outcome,
ordered memory trace and final memory must be equal.
"""
import pytest

from codegen.verify import harness
from codegen.verify.stimulus.translation import Scenario

# ---- guest paging-structure bits (SDM Vol. 3A 4.5) -------------------------------------------
P, RW, US, A, D = 1, 2, 4, 0x20, 0x40
CR0_PE, CR0_WP, CR0_PG = 1, 1 << 16, 1 << 31
CR4_LA57 = 1 << 12
EFER_NXE = 1 << 11
E_P, E_W, E_U = 1, 2, 4  # #PF error code (SDM 4.7)

# ---- EPT entry bits (SDM 29.3.2, Tables 29-2 .. 29-8) ---------------------------------------
R, W, X = 1, 2, 4           # read, write, execute (supervisor-mode execute with MBEC)
MT_WB = 6 << 3              # memory type, bits 5:3 of a leaf (29.3.7)
LARGE = 1 << 7              # bit 7: the entry maps a 2-MiB or 1-GiB page
EA, ED = 1 << 8, 1 << 9     # accessed, dirty (with EPTP.AD = 1)
XU = 1 << 10                # user-mode execute (mode-based execute control)
ADDR = 0xFFFF_FFFF_F000
EPT_TABLE = R | W | X | XU
EPT_LEAF = R | W | X | XU | MT_WB

# ---- EPTP (SDM 25.6.11, Table 25-9) --------------------------------------------------------
EPTP_WB = 6
EPTP_PWL = {4: 3 << 3, 5: 4 << 3}   # page-walk length minus 1
EPTP_AD = 1 << 6
ENABLE_EPT = 1 << 1  # secondary processor-based VM-execution controls bit 1 (SDM 25.6.2, Table 25-7)

# ---- exit reasons (appendix C) and the EPT-violation exit qualification (Table 28-7) -------
EPT_VIOLATION, EPT_MISCONFIG = 48, 49
Q_READ, Q_WRITE, Q_FETCH = 1, 2, 4
Q_R, Q_W, Q_X, Q_XU = 1 << 3, 1 << 4, 1 << 5, 1 << 6
Q_GLA, Q_FINAL = 1 << 7, 1 << 8
# advanced VM-exit information (IA32_VMX_EPT_VPID_CAP[22], the spec's ADV_EXIT_INFO = 1):
# with bits 7 and 8 both 1, bit 9 is 1 for a user-mode linear address, bit 10 for a
# read/write page, bit 11 for an execute-disable page (guest paging's rights for the
# address); otherwise undefined, which the spec reports as 0
Q_LA_USER, Q_LA_RW, Q_LA_XD = 1 << 9, 1 << 10, 1 << 11
# tertiary processor-based VM-execution controls (SDM 25.6.2, Table 25-8)
EPT_PW_CTRL, GPV_CTRL = 1 << 2, 1 << 3
# EPT leaf bits 57 (verify guest paging) and 58 (paging-write access), Tables 29-4, 29-6, 29-8
VGP, PW = 1 << 57, 1 << 58
XD = 1 << 63  # guest paging-structure entry bit 63, execute-disable (SDM 4.5, with EFER.NXE)

# ---- status codes: 1 + index in FAULTS; 64 + 1 + index in HOST_FAULTS ------------------------
NOT_PRESENT, USER_SUPERVISOR, SUPERVISOR_WRITE = 1, 3, 5
H_NOT_PRESENT, H_WRITE_ONLY, H_EXEC_ONLY, H_RESERVED, H_MEMTYPE = 65, 66, 67, 68, 69
H_READ, H_WRITE, H_FETCH = 70, 71, 72

# ---- layout -----------------------------------------------------------------------------------
# guest-physical: guest tables, and the guest page (its EPT indices differ from the table
# pages' at every level below the PML5: PML4 0xA2, PDPT 0x133, PD 0x144, PT 0x155)
G_TABLES = {5: 0x5000, 4: 0x4000, 3: 0x3000, 2: 0x2000, 1: 0x1000}
G_PAGE = 0x514C_E895_5000
assert G_PAGE == (0x0A2 << 39) | (0x133 << 30) | (0x144 << 21) | (0x155 << 12)
GPA_TO_HPA = 0x40_0000_0000   # guest table pages live at gpa + this in host-physical memory
H_PAGE = 0x0ABC_DEF0_1000      # host frame of the guest page (4 KiB EPT page)
H_2M = 0x0ABC_DEE0_0000        # ... or of its 2-MiB EPT page
H_1G = 0x0ABC_C000_0000        # ... or of its 1-GiB EPT page
# guest-linear address: PML5 0x7E (5-level only), PML4 0xA5, PDPT 0x1C3, PD 0xF0, PT 0x12D, offset 0xABC
VA4 = (0x0A5 << 39) | (0x1C3 << 30) | (0x0F0 << 21) | (0x12D << 12) | 0xABC
VA5 = VA4 | (0x07E << 48)
FINAL_GPA = G_PAGE | 0xABC
SIZE_LEVEL = {"4K": 1, "2M": 2, "1G": 3}


def idx(addr, level):
    return (addr >> (9 * level + 3)) & 0x1FF


class TwoD:
    """Guest tables for one linear address (4 KiB guest pages) and EPT tables rooted at
    EPTP mapping every guest table page and the guest page."""

    def __init__(self, guest_levels=4, ept_levels=4, ad=0, guest_flags=P | RW | US | A | D,
                 ept_table=EPT_TABLE | EA, ept_leaf=EPT_LEAF | EA | ED, final_size="4K", guest_tables_2m=False):
        self.mem = {}
        self.guest_levels, self.ept_levels, self.ad = guest_levels, ept_levels, ad
        self.ept_table = ept_table
        self.next = 0x100_0000
        self.root = self._alloc()
        self.paths = {}  # mapped guest-physical region -> EPT entry addresses, root first
        self.va = VA5 if guest_levels == 5 else VA4
        self.guest_entry = {}  # guest level -> (gpa, hpa) of the entry used
        if guest_tables_2m:
            self.map(0, GPA_TO_HPA, ept_leaf, level=2)
        for lv in range(guest_levels, 0, -1):
            page = G_TABLES[lv]
            if not guest_tables_2m:
                self.map(page, page + GPA_TO_HPA, ept_leaf)
            gpa = page + 8 * idx(self.va, lv)
            hpa = gpa + GPA_TO_HPA
            self.mem[hpa] = (G_TABLES[lv - 1] if lv > 1 else G_PAGE) | guest_flags
            self.guest_entry[lv] = (gpa, hpa)
        frame = {"4K": H_PAGE, "2M": H_2M, "1G": H_1G}[final_size]
        self.map(G_PAGE, frame, ept_leaf, level=SIZE_LEVEL[final_size])

    def _alloc(self):
        a = self.next
        self.next += 0x1000
        return a

    def map(self, gpa, hpa, leaf, level=1):
        """An EPT leaf at `level` (1: 4 KiB, 2: 2 MiB, 3: 1 GiB) mapping gpa to hpa."""
        table, path = self.root, []
        for lv in range(self.ept_levels, level, -1):
            ea = table + 8 * idx(gpa, lv)
            if ea not in self.mem:
                self.mem[ea] = self._alloc() | self.ept_table
            path.append(ea)
            table = self.mem[ea] & ADDR
        ea = table + 8 * idx(gpa, level)
        self.mem[ea] = hpa | leaf | (LARGE if level > 1 else 0)
        path.append(ea)
        self.paths[gpa & ~((1 << (12 + 9 * (level - 1))) - 1)] = path

    def ept_path(self, gpa):
        for shift in (12, 21, 30):
            path = self.paths.get(gpa & ~((1 << shift) - 1))
            if path is not None:
                return path
        raise KeyError(hex(gpa))

    def ept_entry(self, gpa, level):
        """Address of the EPT entry at `level` used to translate gpa."""
        return self.ept_path(gpa)[self.ept_levels - level]

    def set(self, addr, value):
        self.mem[addr] = value

    def update(self, addr, fn):
        self.mem[addr] = fn(self.mem[addr])

    def eptp(self):
        return self.root | EPTP_WB | EPTP_PWL[self.ept_levels] | (EPTP_AD if self.ad else 0)

    def request(self, write=0, user=0, fetch=0, CR0=CR0_PE | CR0_PG, CR4=0, EFER=EFER_NXE, PROC2=None, PROC3=0):
        if self.guest_levels == 5:
            CR4 |= CR4_LA57
        return {"va": self.va, "write": write, "user": user, "fetch": fetch, "CR0": CR0,
                "CR3": G_TABLES[self.guest_levels], "CR4": CR4, "EFER": EFER, "RFLAGS": 0, "PKRU": 0,
                "EPTP": self.eptp(), "PROC2": ENABLE_EPT if PROC2 is None else PROC2, "PROC3": PROC3,
                "VPID": 1}  # read by the TLB's tag only (SDM 29.1), a context register all the same

    # expected memory references
    def ept_reads(self, gpa):
        return [(0, a, 8, self.mem[a]) for a in self.ept_path(gpa)]

    def expected_trace(self, upto_guest_level=1, final=True):
        """Reads only: for each guest level the EPT walk of the guest entry's address and
        the entry itself, then the EPT walk of the final guest-physical address."""
        out = []
        for lv in range(self.guest_levels, upto_guest_level - 1, -1):
            gpa, hpa = self.guest_entry[lv]
            out += self.ept_reads(gpa) + [(0, hpa, 8, self.mem[hpa])]
        if final:
            out += self.ept_reads(FINAL_GPA)
        return out


class Walker:
    """Runs walks on the reference; every walk is also queued for the MyHDL model."""

    def __init__(self, ref, queue, test):
        self.ref, self.queue, self.test = ref, queue, test

    def walk(self, n, **access):
        request = n.request(**access)
        mem, trace = dict(n.mem), []
        r = self.ref.walk_guest(mem, trace, request["va"], request["write"], request["user"], request["fetch"],
                                *(request[k] for k in self.ref.CONTEXT))[:4]  # the fifth value is for the TLB
        sc = Scenario(request, dict(n.mem), len(self.queue), {"test": self.test})
        run = harness.run_reference(self.ref, sc)
        assert (run.outcome, run.trace, run.memory) == (self.ref.outcome(r), trace, mem)
        self.queue.append((sc, run))
        return r, trace, mem


@pytest.fixture(scope="module")
def model_queue(generated):
    """Walks made by the tests of this module. At the end of the module they are all
    co-simulated on the MyHDL model in one simulation (random latency and stalls; one
    simulation per test would cost ~0.1 s each), and each must agree with its reference
    run exactly: outcome, ordered memory trace, final memory. A disagreement fails the
    module's teardown and names the test that made the walk."""
    ref, model = generated["intel_ept"]
    queue = []
    yield queue
    if queue:
        runs = harness.run_model(model, ref, [sc for sc, _ in queue])
        assert len(runs) == len(queue)
        bad = []
        for (sc, expect), got in zip(queue, runs):
            # the model holds walk caches: from reset a later host translation of the walk may
            # hit what an earlier one filled (same outcome, fewer references), so the model is
            # compared with the reference through its caches, which must answer as the test expects
            through = harness.run_reference(ref, sc, model)
            diff = ([f"through the caches the reference answers {through.outcome}, not {expect.outcome}"]
                    if through.outcome != expect.outcome else harness.compare(through, got))
            if diff:
                bad.append(f"{sc.intent['test']}:\n  " + "\n  ".join(diff) + "\n" + harness.describe(sc))
        assert not bad, f"the model disagrees with the reference on {len(bad)} walks:\n" + "\n".join(bad[:5])


@pytest.fixture
def ept(generated, model_queue, request):
    """The intel_ept reference; each walk is also run on the model (see model_queue)."""
    return Walker(generated["intel_ept"][0], model_queue, request.node.nodeid)


def violation(qual, gpa=FINAL_GPA, va=VA4, la=Q_LA_USER | Q_LA_RW):
    """An EPT-violation record: bit 7 (guest-linear address valid) is always set here. On
    the final access (bit 8) bits 9-11 give guest paging's rights for the linear address:
    `la`, by default those of TwoD's guest entries (P, R/W, U/S set at every level, XD
    clear: a user-mode, read/write, executable page). On a guest paging-structure access
    they are undefined and the spec reports 0 (Table 28-7)."""
    return (EPT_VIOLATION, qual | Q_GLA | (la if qual & Q_FINAL else 0), gpa, va)


def misconfig(gpa=FINAL_GPA):
    """An EPT-misconfiguration record: no qualification (28.2.1); the spec leaves the
    guest-linear address field (undefined for exit 49, 28.2.4) at 0."""
    return (EPT_MISCONFIG, 0, gpa, 0)


def test_status_codes_follow_the_fault_lists(generated):
    ref = generated["intel_ept"][0]
    assert ref.HOST_FAULTS.index("not_present") + 65 == H_NOT_PRESENT
    assert [ref.HOST_FAULTS.index(k) + 65 for k in ("misconfig_write", "misconfig_exec_only", "misconfig_reserved",
                                                   "misconfig_memtype", "read_violation", "write_violation",
                                                   "fetch_violation")] == [66, 67, 68, 69, 70, 71, 72]
    assert [ref.FAULTS.index(k) + 1 for k in ("not_present", "user_supervisor", "supervisor_write")] == [1, 3, 5]
    assert Q_WRITE | Q_R | Q_X | Q_XU | Q_GLA | Q_FINAL == 0x1EA


# ---- EPT disabled (SDM 25.6.2, Table 25-7: "enable EPT" = 0) ---------------------------------------
@pytest.mark.parametrize("access", [{}, {"write": 1}, {"fetch": 1}])
def test_ept_disabled_guest_physical_is_physical(ept, access):
    """With "enable EPT" = 0 there is no EPT walk (`host bypass when !PROC2.ENABLE_EPT`):
    the guest's tables are read at their guest-physical addresses, the guest's accessed and
    dirty flags are written there, and the outcome is the guest-physical address with no
    host level; whatever the EPT tables say (here: none at all)."""
    n = TwoD(guest_flags=P | RW | US)
    n.mem = {gpa: n.mem[hpa] for gpa, hpa in n.guest_entry.values()}  # guest tables at gpa, no EPT
    before = dict(n.mem)
    r, trace, mem = ept.walk(n, PROC2=0, **access)
    assert ept.ref.outcome(r) == {"ok": True, "pa": G_PAGE | (n.va & 0xFFF), "level": 1, "host_level": None}
    # SDM 4.8: A on each table entry as it is used (written before the next read), then
    # the leaf's A, and D for a write, once the access is permitted
    expected = []
    for lv in (4, 3, 2):
        gpa = n.guest_entry[lv][0]
        expected += [(0, gpa, 8, before[gpa]), (1, gpa, 8, before[gpa] | A)]
    leaf = n.guest_entry[1][0]
    dirty = D if access.get("write") else 0
    expected += [(0, leaf, 8, before[leaf]), (1, leaf, 8, before[leaf] | A | dirty)]
    assert trace == expected
    assert mem == {a: v for op, a, _, v in expected if op == 1}


# ---- successful two-dimensional walks ------------------------------------------------------------
@pytest.mark.parametrize("ad", [0, 1])
@pytest.mark.parametrize("levels,refs", [(4, 24), (5, 35)])
def test_2d_walk_reference_count(ept, levels, refs, ad):
    """g guest levels x (e EPT + 1) + e for the final address: 4x5+4 = 24, 5x6+5 = 35; with
    every A/D flag preset (guest and EPT) nothing is written."""
    n = TwoD(guest_levels=levels, ept_levels=levels, ad=ad)
    for access in ({}, {"write": 1}, {"user": 1}, {"fetch": 1}):
        r, trace, mem = ept.walk(n, **access)
        assert r == (0, H_PAGE | 0xABC, 1, 1)
        assert len(trace) == refs
        assert trace == n.expected_trace()
        assert mem == n.mem


@pytest.mark.parametrize("gl,el", [(4, 5), (5, 4)])
def test_2d_walk_mixed_depths(ept, gl, el):
    n = TwoD(guest_levels=gl, ept_levels=el)
    r, trace, _ = ept.walk(n, write=1, user=1)
    assert r == (0, H_PAGE | 0xABC, 1, 1)
    assert len(trace) == gl * (el + 1) + el and trace == n.expected_trace()


@pytest.mark.parametrize("size,hpa,refs", [("2M", H_2M | (FINAL_GPA & 0x1F_FFFF), 23),
                                           ("1G", H_1G | (FINAL_GPA & 0x3FFF_FFFF), 22)])
def test_large_ept_page_for_the_guest_page(ept, size, hpa, refs):
    """An EPT PDE or PDPTE with bit 7 = 1 maps the page (Tables 29-4, 29-6): the final walk
    stops there, and the offset inside the large page comes from the guest-physical address."""
    n = TwoD(final_size=size)
    assert hpa == {"2M": 0x0ABC_DEF5_5ABC, "1G": 0x0ABC_E895_5ABC}[size]
    for access in ({}, {"write": 1}, {"fetch": 1, "user": 1}):
        r, trace, mem = ept.walk(n, **access)
        assert r == (0, hpa, 1, SIZE_LEVEL[size])
        assert len(trace) == refs and trace == n.expected_trace()
        assert mem == n.mem


def test_large_ept_pages_everywhere(ept):
    """Guest tables in one 2-MiB EPT page, the guest page in a 1-GiB one: 4 x (3 + 1) + 2 = 18."""
    n = TwoD(final_size="1G", guest_tables_2m=True)
    r, trace, _ = ept.walk(n)
    assert r == (0, H_1G | (FINAL_GPA & 0x3FFF_FFFF), 1, 3)
    assert len(trace) == 18 and trace == n.expected_trace()


# ---- EPT misconfigurations: exit 49 (SDM 29.3.3.1) -------------------------------------------------
def rwx(bits):
    """Replace bits 2:0 of an EPT entry."""
    return lambda e: (e & ~7) | bits


MISCONFIGS = {
    "write-only 010b": (rwx(W), H_WRITE_ONLY),
    "write/execute 110b": (rwx(W | X), H_WRITE_ONLY),
    "execute-only 100b (EXEC_ONLY = 0)": (rwx(X), H_EXEC_ONLY),
    "execute-only 100b without XU": (lambda e: (e & ~(7 | XU)) | X, H_EXEC_ONLY),
    "bit 48 above MAXPHYADDR": (lambda e: e | 1 << 48, H_RESERVED),
    "bit 51 above MAXPHYADDR": (lambda e: e | 1 << 51, H_RESERVED),
}


@pytest.mark.parametrize("what", list(MISCONFIGS))
@pytest.mark.parametrize("level", [4, 3, 2, 1])
def test_misconfiguration_on_the_final_address(ept, what, level):
    change, status = MISCONFIGS[what]
    n = TwoD()
    ea = n.ept_entry(FINAL_GPA, level)
    n.update(ea, change)
    for access in ({}, {"write": 1}, {"fetch": 1}, {"user": 1, "fetch": 1}):
        r, trace, mem = ept.walk(n, **access)
        assert r == (status, level, None, misconfig())
        assert trace == n.expected_trace(final=False) + n.ept_reads(FINAL_GPA)[:5 - level]
        assert trace[-1] == (0, ea, 8, n.mem[ea]) and mem == n.mem


def test_exit_reasons_decode_with_the_vmx_enum(ept, specs):
    """The records' exit reason is typed with the VMX basic exit reasons shared with
    intel_vmx (specs/shared/vmx_exit_reasons.vspec, SDM appendix C): a not-present final
    entry reports 48, EPT_VIOLATION there; a write-only one (010b) reports 49, EPT_MISCONFIG."""
    reasons = {i.value: i.name for i in next(e for e in specs["intel_ept"].enums if e.name == "vmx_exit").items}
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: e & ~(R | W | X | XU))
    r, _, _ = ept.walk(n)
    assert (r[3][0], reasons[r[3][0]]) == (48, "EPT_VIOLATION")
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 1), rwx(W))
    r, _, _ = ept.walk(n)
    assert (r[3][0], reasons[r[3][0]]) == (49, "EPT_MISCONFIG")


@pytest.mark.parametrize("size,level,change,status", [
    ("4K", 1, lambda e: (e & ~0x38) | 2 << 3, H_MEMTYPE),   # memory type 2, 3 and 7 are reserved
    ("4K", 1, lambda e: (e & ~0x38) | 3 << 3, H_MEMTYPE),
    ("4K", 1, lambda e: (e & ~0x38) | 7 << 3, H_MEMTYPE),
    ("2M", 2, lambda e: (e & ~0x38) | 7 << 3, H_MEMTYPE),
    ("1G", 3, lambda e: (e & ~0x38) | 2 << 3, H_MEMTYPE),
    ("2M", 2, lambda e: e | 1 << 12, H_RESERVED),            # Table 29-6: bits 20:12 reserved
    ("2M", 2, lambda e: e | 1 << 20, H_RESERVED),
    ("1G", 3, lambda e: e | 1 << 29, H_RESERVED),            # Table 29-4: bits 29:12 reserved
    ("4K", 2, lambda e: e | 1 << 3, H_RESERVED),             # Table 29-7: bits 6:3 of a PDE reserved
    ("4K", 3, lambda e: e | 1 << 6, H_RESERVED),             # Table 29-5: bits 6:3 of a PDPTE reserved
    ("4K", 4, lambda e: e | 1 << 7, H_RESERVED),             # Table 29-3: bits 7:3 of a PML4E reserved
    ("4K", 4, lambda e: e | 1 << 3, H_RESERVED),
])
def test_misconfiguration_in_leaf_and_table_formats(ept, size, level, change, status):
    n = TwoD(final_size=size)
    n.update(n.ept_entry(FINAL_GPA, level), change)
    r, _, mem = ept.walk(n, write=1)
    assert r == (status, level, None, misconfig())
    assert mem == n.mem


def test_memory_types_that_are_not_reserved(ept):
    for mt in (0, 1, 4, 5, 6):
        n = TwoD()
        leaf = n.ept_entry(FINAL_GPA, 1)
        n.set(leaf, (n.mem[leaf] & ~0x38) | mt << 3)
        assert ept.walk(n)[0] == (0, H_PAGE | 0xABC, 1, 1)


@pytest.mark.parametrize("ad", [0, 1])
@pytest.mark.parametrize("guest_level", [4, 3, 2, 1])
def test_misconfiguration_on_a_guest_table_access(ept, guest_level, ad):
    """The EPT PTE mapping a guest table page is write-only: exit 49 at the guest-physical
    address of the guest entry, before that entry is read; no qualification either way."""
    n = TwoD(ad=ad)
    gpa = n.guest_entry[guest_level][0]
    n.update(n.ept_entry(gpa, 1), rwx(W))
    r, trace, mem = ept.walk(n, user=1, write=1)
    assert r == (H_WRITE_ONLY, 1, guest_level, misconfig(gpa))
    assert trace == n.expected_trace(upto_guest_level=guest_level + 1, final=False) + n.ept_reads(gpa)
    assert mem == n.mem


@pytest.mark.parametrize("levels", [4, 5])
def test_bit_7_of_the_shared_ept_pml4e(ept, levels):
    """Bit 7 of an EPT PML4E (and of a PML5E) is reserved: the EPT PML4E that maps the
    guest table pages is used by the very first guest-physical access."""
    n = TwoD(guest_levels=levels, ept_levels=levels)
    gpa = n.guest_entry[levels][0]
    ea = n.ept_entry(gpa, 4)
    n.update(ea, lambda e: e | LARGE)
    r, trace, _ = ept.walk(n)
    assert r == (H_RESERVED, 4, levels, misconfig(gpa))
    assert trace == n.ept_reads(gpa)[:levels - 3]
    if levels == 5:
        n = TwoD(guest_levels=5, ept_levels=5)
        n.update(n.ept_entry(gpa, 5), lambda e: e | LARGE)
        assert ept.walk(n)[0] == (H_RESERVED, 5, 5, misconfig(gpa))


def test_misconfiguration_is_found_before_permissions(ept):
    """SDM 29.3.3.3: the walk checks each entry for presence and misconfiguration; the access
    rights are evaluated only at the end. The PDPTE forbids writes, the PTE is write-only:
    the write gives the misconfiguration, not a violation."""
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 3), lambda e: e & ~W)
    n.update(n.ept_entry(FINAL_GPA, 1), rwx(W))
    assert ept.walk(n, write=1)[0] == (H_WRITE_ONLY, 1, None, misconfig())
    # and a not-present entry above a misconfigured one stops the walk first
    n.update(n.ept_entry(FINAL_GPA, 2), lambda e: e & ~(R | W | X | XU))
    assert ept.walk(n, write=1)[0] == (H_NOT_PRESENT, 2, None, violation(Q_WRITE | Q_FINAL))


# ---- EPT violations: exit 48 (SDM 29.3.3.2, Table 28-7) ----------------------------------------
ACCESSES = {  # request access kind -> exit-qualification bits 2:0
    "read": ({}, Q_READ),
    "write": ({"write": 1}, Q_WRITE),
    "user read": ({"user": 1}, Q_READ),
    "user write": ({"user": 1, "write": 1}, Q_WRITE),
    "fetch": ({"fetch": 1}, Q_FETCH),
    "user fetch": ({"user": 1, "fetch": 1}, Q_FETCH),
}


@pytest.mark.parametrize("level", [4, 3, 2, 1])
def test_not_present_on_the_final_address(ept, level):
    """Bits 2:0 (and bit 10 with MBEC) all 0: not present, whatever the other bits hold.
    The qualification carries the access and, for a not-present entry, zero rights."""
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, level), lambda e: e & ~(R | W | X | XU))
    for name, (access, q) in ACCESSES.items():
        r, trace, mem = ept.walk(n, **access)
        assert r == (H_NOT_PRESENT, level, None, violation(q | Q_FINAL)), name
        assert trace == n.expected_trace(final=False) + n.ept_reads(FINAL_GPA)[:5 - level]
        assert mem == n.mem


@pytest.mark.parametrize("ad,q", [(0, Q_READ), (1, Q_READ | Q_WRITE)])
@pytest.mark.parametrize("levels", [4, 5])
def test_not_present_on_a_guest_table_access(ept, levels, ad, q):
    """A guest paging-structure read is a data read (bit 0); with EPTP.AD = 1 it is treated
    as a write too (bits 0 and 1, Table 28-7 footnote). Bit 8 = 0, the guest-linear address
    is the one being translated, the guest-physical address that of the guest entry."""
    for guest_level in range(levels, 0, -1):
        n = TwoD(guest_levels=levels, ept_levels=levels, ad=ad)
        gpa = n.guest_entry[guest_level][0]
        n.update(n.ept_entry(gpa, 1), lambda e: e & ~(R | W | X | XU))
        for access in ({}, {"write": 1, "user": 1}, {"fetch": 1}):
            r, trace, mem = ept.walk(n, **access)
            assert r == (H_NOT_PRESENT, 1, guest_level, violation(q, gpa, n.va))
            assert trace == n.expected_trace(upto_guest_level=guest_level + 1, final=False) + n.ept_reads(gpa)
            assert mem == n.mem


def test_not_present_ept_pml5e(ept):
    n = TwoD(guest_levels=5, ept_levels=5)
    gpa = n.guest_entry[5][0]
    assert gpa == 0x5000 + 8 * 0x7E
    n.set(n.ept_entry(gpa, 5), 0)
    r, trace, _ = ept.walk(n)
    assert r == (H_NOT_PRESENT, 5, 5, violation(Q_READ, gpa, VA5))
    assert trace == [(0, n.root, 8, 0)]


def test_write_to_a_read_only_page(ept):
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: e & ~W)
    for name in ("read", "user read", "fetch", "user fetch"):
        assert ept.walk(n, **ACCESSES[name][0])[0] == (0, H_PAGE | 0xABC, 1, 1)
    for name in ("write", "user write"):
        r, trace, mem = ept.walk(n, **ACCESSES[name][0])
        assert r == (H_WRITE, 1, None, violation(Q_WRITE | Q_R | Q_X | Q_XU | Q_FINAL))
        # bits 1, 3, 5, 6, 7, 8 (0x1EA) and 9, 10: the guest page is user and read/write (0x600)
        assert r[3][1] == 0x7EA
        assert trace == n.expected_trace() and mem == n.mem


@pytest.mark.parametrize("level", [4, 3, 2])
def test_rights_are_the_and_over_every_entry_used(ept, level):
    """A right missing in one upper entry is missing for the page, and the qualification
    bits 5:3 and 6 report the AND, not the leaf's bits."""
    n = TwoD()
    ea = n.ept_entry(FINAL_GPA, level)
    base = n.mem[ea]
    n.set(ea, base & ~W)
    assert ept.walk(n, write=1)[0] == (H_WRITE, 1, None, violation(Q_WRITE | Q_R | Q_X | Q_XU | Q_FINAL))
    assert ept.walk(n)[0][0] == 0
    n.set(ea, base & ~X)   # bit 2 governs supervisor-mode addresses: make the guest page a supervisor page
    n.update(n.guest_entry[1][1], lambda e: e & ~US)
    assert ept.walk(n, fetch=1)[0] == (H_FETCH, 1, None, violation(Q_FETCH | Q_R | Q_W | Q_XU | Q_FINAL, la=Q_LA_RW))
    n.set(ea, base & ~XU)
    n.update(n.guest_entry[1][1], lambda e: e | US)
    assert ept.walk(n, fetch=1, user=1)[0] == (H_FETCH, 1, None, violation(Q_FETCH | Q_R | Q_W | Q_X | Q_FINAL))
    assert ept.walk(n, write=1, user=1)[0][0] == 0


@pytest.mark.parametrize("guest_user_page,user,leaf_exec,ok", [
    (1, 1, X, False),    # user-mode address, user fetch: bit 10 needed
    (1, 1, XU, True),
    (0, 0, XU, False),   # supervisor-mode address: bit 2 needed
    (0, 0, X, True),
    (1, 0, X, False),    # a supervisor fetch from a user-mode address (SMEP off) still needs bit 10:
    (1, 0, XU, True),    # MBEC follows the guest U/S of the address, not the CPL
])
def test_mode_based_execute_control(ept, guest_user_page, user, leaf_exec, ok):
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: (e & ~(X | XU)) | leaf_exec)
    if not guest_user_page:
        n.update(n.guest_entry[1][1], lambda e: e & ~US)
    r, trace, _ = ept.walk(n, fetch=1, user=user)
    if ok:
        assert r == (0, H_PAGE | 0xABC, 1, 1)
    else:
        rights = Q_R | Q_W | (Q_X if leaf_exec == X else Q_XU)
        la = Q_LA_RW | (Q_LA_USER if guest_user_page else 0)   # bit 9: the guest PTE's U/S
        assert r == (H_FETCH, 1, None, violation(Q_FETCH | rights | Q_FINAL, la=la))
    assert len(trace) == 24
    # data accesses ignore bits 2 and 10
    assert ept.walk(n, write=1, user=user and guest_user_page)[0][0] == 0


def test_user_execute_only_entry_is_present_with_mbec(ept):
    """With MBEC = 1 an entry with bits 2:0 = 000b and bit 10 = 1 is present (SDM 29.3.2);
    the spec does not treat it as a misconfiguration (see the report on EXEC_ONLY = 0).
    Reads through it are then read violations, user-mode fetches are allowed."""
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 2), lambda e: (e & ~(R | W | X)) | XU)
    assert ept.walk(n, fetch=1, user=1)[0] == (0, H_PAGE | 0xABC, 1, 1)
    assert ept.walk(n)[0] == (H_READ, 1, None, violation(Q_READ | Q_XU | Q_FINAL))
    assert ept.walk(n, write=1)[0] == (H_WRITE, 1, None, violation(Q_WRITE | Q_XU | Q_FINAL))
    n.update(n.guest_entry[1][1], lambda e: e & ~US)   # a supervisor-mode address: bit 2 decides
    assert ept.walk(n, fetch=1)[0] == (H_FETCH, 1, None, violation(Q_FETCH | Q_XU | Q_FINAL, la=Q_LA_RW))


@pytest.mark.parametrize("guest_level", [4, 3, 2, 1])
def test_read_only_guest_table_page(ept, guest_level):
    """A guest table page that EPT maps read-only (R, X, XU; W = 0): with EPTP.AD = 0 and the
    guest A/D flags preset the walk only reads it and succeeds; with EPTP.AD = 1 every guest
    paging-structure access is a write, so its access is a violation (bits 0 and 1, bit 8 = 0)."""
    n = TwoD(ad=0)
    gpa = n.guest_entry[guest_level][0]
    n.update(n.ept_entry(gpa, 1), lambda e: e & ~W)
    for access in ({}, {"write": 1}):
        r, trace, mem = ept.walk(n, **access)
        assert r == (0, H_PAGE | 0xABC, 1, 1) and trace == n.expected_trace() and mem == n.mem
    n.ad = 1
    r, trace, mem = ept.walk(n)
    assert r == (H_WRITE, 1, guest_level, violation(Q_READ | Q_WRITE | Q_R | Q_X | Q_XU, gpa))
    assert trace == n.expected_trace(upto_guest_level=guest_level + 1, final=False) + n.ept_reads(gpa)
    assert mem == n.mem


# ---- a guest #PF against an EPT exit ---------------------------------------------------------------
def test_guest_page_fault_wins_over_a_violation_on_the_final_address(ept):
    """The guest's own checks come before the final guest-physical access is translated
    (SDM 29.3.3.3: the linear-address translation is iterative, and the final guest-physical
    address is used only once the guest paging structures allow the access)."""
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: e & ~(R | W | X | XU))  # the final access would be a violation
    n.update(n.guest_entry[2][1], lambda e: e & ~US)
    r, trace, mem = ept.walk(n, user=1)
    assert r == (USER_SUPERVISOR, 1, 0, (14, E_P | E_U, VA4))
    assert trace == n.expected_trace(final=False) and len(trace) == 20 and mem == n.mem
    n.update(n.guest_entry[2][1], lambda e: e & ~RW)
    r, _, _ = ept.walk(n, write=1, CR0=CR0_PE | CR0_PG | CR0_WP)
    assert r == (SUPERVISOR_WRITE, 1, 0, (14, E_P | E_W, VA4))
    n.update(n.guest_entry[1][1], lambda e: e & ~P)
    r, trace, _ = ept.walk(n, write=1, user=1)
    assert r == (NOT_PRESENT, 1, 0, (14, E_W | E_U, VA4)) and len(trace) == 20
    # with a guest page the guest allows, the same final access is the violation
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: e & ~(R | W | X | XU))
    assert ept.walk(n, user=1)[0] == (H_NOT_PRESENT, 1, None, violation(Q_READ | Q_FINAL))


def test_violation_on_a_guest_table_access_comes_before_that_entry_is_checked(ept):
    n = TwoD()
    n.update(n.guest_entry[1][1], lambda e: e & ~P)          # a guest #PF, if the PTE could be read
    gpa = n.guest_entry[1][0]
    n.update(n.ept_entry(gpa, 1), lambda e: e & ~(R | W | X | XU))
    r, trace, _ = ept.walk(n)
    assert r == (H_NOT_PRESENT, 1, 1, violation(Q_READ, gpa))
    assert len(trace) == 3 * 5 + 4


# ---- EPT accessed and dirty flags (SDM 29.3.4) -------------------------------------------------------
def ad_walk(n, state, gpa, write):
    """Expected references of one EPT walk with EPTP.AD = 1 (SDM 29.3.4: "whenever the
    processor uses an EPT paging-structure entry ... it sets the accessed flag"): read each
    entry, and write A into a table entry as soon as it is used, before the next read; the
    leaf gets A, and D if the access is a write, once the access is permitted. Only entries
    that change are written."""
    path = n.ept_path(gpa)
    out = []
    for i, a in enumerate(path):
        out.append((0, a, 8, state[a]))
        new = state[a] | EA | (ED if write and i == len(path) - 1 else 0)
        if new != state[a]:
            state[a] = new
            out.append((1, a, 8, new))
    return out


@pytest.mark.parametrize("size", ["4K", "2M"])
@pytest.mark.parametrize("write", [0, 1])
def test_ept_accessed_and_dirty_flags(ept, write, size):
    """EPTP.AD = 1, EPT A/D clear everywhere, guest A/D preset: A is set in every EPT entry
    used; D in the EPT leaf of every guest table page (those accesses are writes) and of the
    guest page only if it is written. Upper entries shared by several walks are written once."""
    n = TwoD(ad=1, ept_table=EPT_TABLE, ept_leaf=EPT_LEAF, final_size=size)
    state = dict(n.mem)
    expect = []
    for lv in (4, 3, 2, 1):
        gpa, hpa = n.guest_entry[lv]
        expect += ad_walk(n, state, gpa, True) + [(0, hpa, 8, state[hpa])]
    expect += ad_walk(n, state, FINAL_GPA, write)
    r, trace, mem = ept.walk(n, write=write)
    assert r[0] == 0 and r[3] == SIZE_LEVEL[size]
    assert trace == expect
    assert mem == state
    writes = [t for t in trace if t[0] == 1]
    # the PML4E, PDPTE and PDE shared by the table pages, their 4 PTEs, every entry of the final path
    assert len(writes) == 3 + 4 + len(n.ept_path(FINAL_GPA)) == 3 + 4 + 5 - SIZE_LEVEL[size]
    for lv in (4, 3, 2, 1):
        assert mem[n.ept_entry(n.guest_entry[lv][0], 1)] & (EA | ED) == EA | ED
    final_leaf = n.ept_entry(FINAL_GPA, SIZE_LEVEL[size])
    assert mem[final_leaf] & (EA | ED) == (EA | ED if write else EA)
    assert all(mem[a] & EA for a in n.ept_path(FINAL_GPA))
    # a second walk finds every flag set and writes nothing
    n.mem = dict(mem)
    r2, trace2, mem2 = ept.walk(n, write=write)
    assert r2 == r and len(trace2) == 24 - (SIZE_LEVEL[size] - 1) and mem2 == mem


def test_ept_ad_disabled_writes_no_ept_flags(ept):
    """With EPTP.AD = 0 bits 8 and 9 are ignored and never written."""
    n = TwoD(ad=0, ept_table=EPT_TABLE, ept_leaf=EPT_LEAF)
    r, trace, mem = ept.walk(n, write=1)
    assert r == (0, H_PAGE | 0xABC, 1, 1) and trace == n.expected_trace() and mem == n.mem


def test_ept_leaf_flags_are_not_set_by_a_walk_that_faults(ept):
    """SDM 29.3.4: the final walk that ends in a write violation used its EPT table entries
    (they get A, kept although the walk faults) but its leaf does not permit the access:
    the leaf gets neither A nor D."""
    n = TwoD(ad=1, ept_table=EPT_TABLE, ept_leaf=EPT_LEAF)
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: e & ~W)
    r, trace, mem = ept.walk(n, write=1)
    assert r == (H_WRITE, 1, None, violation(Q_WRITE | Q_R | Q_X | Q_XU | Q_FINAL))
    path = n.ept_path(FINAL_GPA)
    assert trace[-1] == (0, path[-1], 8, n.mem[path[-1]])
    assert mem[path[-1]] == n.mem[path[-1]]
    assert all(mem[a] & EA for a in path[:-1])


# ---- guest accessed and dirty flags through EPT -------------------------------------------------------
def test_guest_ad_updates_with_ept_ad_enabled(ept):
    """EPTP.AD = 1: the guest table accesses were already writes, so the guest A/D updates
    are written at the host-physical addresses found by the walk, without another EPT walk:
    A of each guest table entry right after it is read (SDM 4.8), the PTE's A and D after
    the final translation."""
    n = TwoD(ad=1, guest_flags=P | RW | US)
    r, trace, mem = ept.walk(n, write=1)
    assert r == (0, H_PAGE | 0xABC, 1, 1)
    expect = []
    for lv in (4, 3, 2, 1):
        gpa, hpa = n.guest_entry[lv]
        expect += n.ept_reads(gpa) + [(0, hpa, 8, n.mem[hpa])]
        if lv > 1:
            expect.append((1, hpa, 8, n.mem[hpa] | A))
    pte = n.guest_entry[1][1]
    expect += n.ept_reads(FINAL_GPA) + [(1, pte, 8, n.mem[pte] | A | D)]
    assert trace == expect and len(trace) == 24 + 4
    assert all(mem[a] == v for op, a, _, v in trace if op)


def test_guest_ad_updates_are_translated_writes_without_ept_ad(ept):
    """EPTP.AD = 0: each guest A/D update is a data write of its own, translated through EPT
    again (SDM 29.3.3.2): a guest table entry's A as soon as the entry is used, before the
    next guest entry is read; the PTE's A and D after the final translation:
    24 + 4 x (4 + 1) = 44 references."""
    n = TwoD(ad=0, guest_flags=P | RW | US)
    r, trace, mem = ept.walk(n, write=1)
    assert r == (0, H_PAGE | 0xABC, 1, 1)
    expect = []
    for lv in (4, 3, 2, 1):
        gpa, hpa = n.guest_entry[lv]
        expect += n.ept_reads(gpa) + [(0, hpa, 8, n.mem[hpa])]
        if lv > 1:
            expect += n.ept_reads(gpa) + [(1, hpa, 8, n.mem[hpa] | A)]
    gpa, hpa = n.guest_entry[1]
    expect += n.ept_reads(FINAL_GPA) + n.ept_reads(gpa) + [(1, hpa, 8, n.mem[hpa] | A | D)]
    assert trace == expect and len(trace) == 44
    assert mem[n.guest_entry[1][1]] & (A | D) == A | D


@pytest.mark.parametrize("guest_level", [4, 3, 2, 1])
def test_guest_accessed_update_to_a_read_only_guest_table_is_a_violation(ept, guest_level):
    """EPTP.AD = 0, guest A flags clear, one guest table page read-only in EPT: the entry
    there is read, and setting its A (SDM 4.8: as it is used; for the PTE after the final
    translation) is a write through EPT (SDM 29.3.3.2) that is a write violation: bit 1
    only (bit 0 = 0), bit 8 = 0, the guest-physical address of the guest entry, the guest
    level in the result. The A of the levels above was written before."""
    n = TwoD(ad=0, guest_flags=P | RW | US)
    gpa = n.guest_entry[guest_level][0]
    n.update(n.ept_entry(gpa, 1), lambda e: e & ~W)
    r, trace, mem = ept.walk(n)
    assert r == (H_WRITE, 1, guest_level, violation(Q_WRITE | Q_R | Q_X | Q_XU, gpa))
    assert r[3][1] & (Q_READ | Q_FINAL) == 0
    expect = []
    for lv in (4, 3, 2, 1):
        g, h = n.guest_entry[lv]
        expect += n.ept_reads(g) + [(0, h, 8, n.mem[h])]
        if lv == 1:
            break
        expect += n.ept_reads(g)
        if lv == guest_level:
            break
        expect.append((1, h, 8, n.mem[h] | A))
    if guest_level == 1:
        expect += n.ept_reads(FINAL_GPA) + n.ept_reads(gpa)
    assert trace == expect and len(trace) == (10 * (4 - guest_level) + 9 if guest_level > 1 else 43)
    for lv in (4, 3, 2, 1):
        h = n.guest_entry[lv][1]
        assert mem[h] == (n.mem[h] | A if lv > guest_level else n.mem[h])


def test_guest_dirty_update_to_a_read_only_guest_page_table(ept):
    """Guest A flags preset, D clear in the guest PTE, the guest page table read-only in EPT
    (EPTP.AD = 0): a read needs no update and succeeds; a write must set the PTE's D flag, and
    that update is the violation, at guest level 1."""
    n = TwoD(ad=0, guest_flags=P | RW | US | A)
    gpa = n.guest_entry[1][0]
    n.update(n.ept_entry(gpa, 1), lambda e: e & ~W)
    r, trace, mem = ept.walk(n)
    assert r == (0, H_PAGE | 0xABC, 1, 1) and len(trace) == 24 and mem == n.mem
    r, trace, mem = ept.walk(n, write=1)
    assert r == (H_WRITE, 1, 1, violation(Q_WRITE | Q_R | Q_X | Q_XU, gpa))
    assert trace == n.expected_trace() + n.ept_reads(gpa) and mem == n.mem


# ---- canonical guest-linear addresses (SDM Vol. 1 3.3.7.1; Vol. 3A 6.15) -------------------
def test_a_non_canonical_guest_address_is_gp0_before_any_reference(ept):
    """The guest stage (x86.long_mode) checks canonical form before its first table read
    (so before any EPT walk): #GP(0), no memory reference, in both models. The EPT stage
    has no such check: the guest's own reserved-bit checks keep its guest-physical
    addresses below MAXPHYADDR (SDM 29.3.2 footnote: "no such processor can produce a
    guest-physical address with more than 48 bits")."""
    n = TwoD()
    n.va = VA4 | 0xFFFF << 48  # bits 63:48 set, bit 47 clear
    r, trace, mem = ept.walk(n, CR4=1 << 5)  # CR4.PAE = 1: IA-32e mode
    assert ept.ref.outcome(r) == {"ok": False, "fault": "non_canonical", "stage": "guest", "level": None,
                                  "record": "general_protection", "fields": {"vector": 13, "error_code": 0}}
    assert trace == [] and mem == n.mem


# ---- advanced VM-exit information: exit-qualification bits 9-11 (SDM 28.2.1, Table 28-7) ------
def test_advanced_exit_information_on_the_final_access(ept):
    """A supervisor-mode write (CR0.WP = 0, so guest paging allows it: SDM 4.6.1) to a user
    read-only page (U/S = 1 at every level, R/W = 0 in the PTE) that the PDE makes
    execute-disable (XD = 1, EFER.NXE = 1), whose EPT PTE denies writes. The write violation
    is on the final access (bits 7 and 8 set), so with advanced VM-exit information
    (IA32_VMX_EPT_VPID_CAP[22]) bit 9 = 1 (a user-mode linear address), bit 10 = 0 (a
    read-only page), bit 11 = 1 (an execute-disable page): bits 1, 3, 5, 6 (the access and
    the EPT rights R, X, XU), 7, 8, 9, 11 = 0x2 + 0x8 + 0x20 + 0x40 + 0x80 + 0x100 + 0x200 +
    0x800 = 0xBEA."""
    n = TwoD()
    n.update(n.guest_entry[1][1], lambda e: e & ~RW)
    n.update(n.guest_entry[2][1], lambda e: e | XD)
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: e & ~W)
    r, trace, mem = ept.walk(n, write=1)
    assert r == (H_WRITE, 1, None, violation(Q_WRITE | Q_R | Q_X | Q_XU | Q_FINAL, la=Q_LA_USER | Q_LA_XD))
    assert r[3][1] == 0xBEA
    assert trace == n.expected_trace() and mem == n.mem
    # EFER.NXE = 0: XD would be a reserved bit (a guest #PF, SDM 4.5); without it every page
    # is executable and bit 11 is 0 (Table 28-7: "If ... IA32_EFER.NXE = 0, every linear
    # address is executable")
    n.update(n.guest_entry[2][1], lambda e: e & ~XD)
    r, _, _ = ept.walk(n, write=1, EFER=0)
    assert r == (H_WRITE, 1, None, violation(Q_WRITE | Q_R | Q_X | Q_XU | Q_FINAL, la=Q_LA_USER))
    assert r[3][1] == 0x3EA


@pytest.mark.parametrize("guest_level", [4, 1])
def test_no_advanced_exit_information_on_a_guest_paging_structure_access(ept, guest_level):
    """The same user, read-only, execute-disable page, but the violation is on a guest
    paging-structure access (EPTP.AD = 1: the access is a write, and the guest table page is
    read-only in EPT): bit 8 = 0, so bits 9-11 are undefined (Table 28-7: defined only when
    bits 7 and 8 are both 1) and the spec reports 0: bits 0, 1 (read and write), 3, 5, 6, 7
    = 0x1 + 0x2 + 0x8 + 0x20 + 0x40 + 0x80 = 0xEB."""
    n = TwoD(ad=1)
    n.update(n.guest_entry[1][1], lambda e: e & ~RW)
    n.update(n.guest_entry[2][1], lambda e: e | XD)
    gpa = n.guest_entry[guest_level][0]
    n.update(n.ept_entry(gpa, 1), lambda e: e & ~W)
    r, trace, mem = ept.walk(n)
    assert r == (H_WRITE, 1, guest_level, violation(Q_READ | Q_WRITE | Q_R | Q_X | Q_XU, gpa))
    assert r[3][1] == 0xEB
    assert trace == n.expected_trace(upto_guest_level=guest_level + 1, final=False) + n.ept_reads(gpa)


# ---- the EPT paging-write control: bit 58 of an EPT leaf (SDM 25.6.2 Table 25-8; 29.3.3.2) ------
@pytest.mark.parametrize("guest_level", [4, 3, 2, 1])
def test_paging_write_allows_guest_accessed_updates(ept, guest_level):
    """EPTP.AD = 0, guest A flags clear, the guest table page at `guest_level` read-only in
    EPT (W = 0). Setting the guest entry's A there is a paging write (SDM 29.3.3.2): with the
    "EPT paging-write control" (tertiary control 2) = 1 and bit 58 (PW) of the EPT leaf that
    maps the page = 1 it is allowed although bit 1 is 0, so the walk translates, with
    24 + 4 x (4 + 1) = 44 references (each A update an EPT walk and a write, the PTE's after
    the final translation). With the control 0, or PW = 0, it is the write violation of
    test_guest_accessed_update_to_a_read_only_guest_table_is_a_violation."""
    n = TwoD(ad=0, guest_flags=P | RW | US)
    gpa = n.guest_entry[guest_level][0]
    n.update(n.ept_entry(gpa, 1), lambda e: (e & ~W) | PW)
    r, trace, mem = ept.walk(n, PROC3=EPT_PW_CTRL)
    assert r == (0, H_PAGE | 0xABC, 1, 1) and len(trace) == 44
    assert all(mem[n.guest_entry[lv][1]] == n.mem[n.guest_entry[lv][1]] | A for lv in (4, 3, 2, 1))
    denied = (H_WRITE, 1, guest_level, violation(Q_WRITE | Q_R | Q_X | Q_XU, gpa))
    assert ept.walk(n)[0] == denied                                    # the control is 0
    n.update(n.ept_entry(gpa, 1), lambda e: e & ~PW)
    assert ept.walk(n, PROC3=EPT_PW_CTRL)[0] == denied                 # PW is 0


def test_paging_write_with_ept_accessed_and_dirty_flags(ept):
    """EPTP.AD = 1: every guest paging-structure access is treated as a write (SDM 29.3.3.2),
    a paging write: the guest page table's page, read-only in EPT with PW = 1, may be read
    with the control on; the access being a write, its EPT leaf gets D (29.3.4), the one
    write of the walk: 24 + 1 = 25 references. Control off: the violation, bits 0 and 1."""
    n = TwoD(ad=1)
    gpa = n.guest_entry[1][0]
    leaf = n.ept_entry(gpa, 1)
    n.update(leaf, lambda e: (e & ~(W | ED)) | PW)
    r, trace, mem = ept.walk(n, PROC3=EPT_PW_CTRL)
    assert r == (0, H_PAGE | 0xABC, 1, 1) and len(trace) == 25
    assert [t for t in trace if t[0]] == [(1, leaf, 8, n.mem[leaf] | ED)]
    r, _, _ = ept.walk(n, PROC3=0)
    assert r == (H_WRITE, 1, 1, violation(Q_READ | Q_WRITE | Q_R | Q_X | Q_XU, gpa))


def test_paging_write_does_not_allow_the_final_write(ept):
    """PW grants paging writes only: the guest's own write to a page whose EPT leaf has
    PW = 1 and W = 0 is still a write violation on the final access, control on or off."""
    n = TwoD()
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: (e & ~W) | PW | VGP)
    for proc3 in (0, EPT_PW_CTRL, EPT_PW_CTRL | GPV_CTRL):
        r, _, _ = ept.walk(n, write=1, PROC3=proc3)
        assert r == (H_WRITE, 1, None, violation(Q_WRITE | Q_R | Q_X | Q_XU | Q_FINAL))


# ---- guest-paging verification: bit 57 of an EPT leaf (SDM 25.6.2 Table 25-8; 29.3.3.2) -----------
# With the "guest-paging verification" control (tertiary control 3) = 1, an access using a
# guest-linear address whose final guest-physical address is mapped by an EPT leaf with bit 57
# (verify guest paging) = 1 causes an EPT violation unless every guest paging-structure entry
# used to translate the linear address lay in a page whose EPT leaf has bit 58 (paging-write
# access) = 1; the exit qualification's bit 15 says the violation came from the verification
# (Table 28-7). The spec checks it after the read/write/fetch permissions.
H_GPV = 73  # 65 + index of gpv_violation in HOST_FAULTS
Q_GPV = 1 << 15


def gpv_walk(guest_pw=(4, 3, 2, 1), vgp=True, final_size="4K", guest_tables_2m=False):
    """TwoD with PW set in the EPT leaves that map the guest table pages of `guest_pw`
    (levels; with guest_tables_2m one 2-MiB EPT page holds them all) and VGP in the EPT leaf
    of the final page."""
    n = TwoD(final_size=final_size, guest_tables_2m=guest_tables_2m)
    for lv in guest_pw:
        n.update(n.ept_entry(n.guest_entry[lv][0], 2 if guest_tables_2m else 1), lambda e: e | PW)
    if vgp:
        n.update(n.ept_entry(FINAL_GPA, SIZE_LEVEL[final_size]), lambda e: e | VGP)
    return n


def test_gpv_status_code(generated):
    assert generated["intel_ept"][0].HOST_FAULTS.index("gpv_violation") + 65 == H_GPV


@pytest.mark.parametrize("final_size", ["4K", "2M", "1G"])
def test_gpv_every_guest_table_in_a_paging_write_page_translates(ept, final_size):
    """Every guest paging-structure page (PML4, PDPT, PD, PT) is mapped by an EPT leaf with
    PW = 1 and the final page's EPT leaf has VGP = 1: the verification passes and the walk
    translates as without it: 20 references for the guest side (at each of the 4 guest levels
    an EPT walk of 4 entries and the guest entry), then the EPT walk of the final address,
    4, 3 or 2 entries for a 4-KiB, 2-MiB or 1-GiB EPT page."""
    n = gpv_walk(final_size=final_size)
    frame = {"4K": H_PAGE, "2M": H_2M, "1G": H_1G}[final_size]
    off = FINAL_GPA & ((1 << (12 + 9 * (SIZE_LEVEL[final_size] - 1))) - 1)
    for proc3 in (GPV_CTRL, GPV_CTRL | EPT_PW_CTRL):
        r, trace, _ = ept.walk(n, PROC3=proc3)
        assert r == (0, frame | off, 1, SIZE_LEVEL[final_size])
        assert trace == n.expected_trace() and len(trace) == 20 + 4 - SIZE_LEVEL[final_size] + 1


@pytest.mark.parametrize("guest_level", [4, 3, 2, 1])
def test_gpv_one_guest_table_outside_a_paging_write_page_is_a_violation(ept, guest_level):
    """The page of the guest table at `guest_level` has PW = 0 in EPT: the final access (a
    read) is an EPT violation (exit 48) on the final address, found by the EPT walk of it
    (host level 1, no guest level): bits 0 (read), 3-6 (the final EPT entries grant R, W, X
    and XU), 7 and 8 (a linear address, the final access), 9 and 10 (guest paging gives a
    user read/write page) and 15 (guest-paging verification). Every reference is a read:
    the 24 of the walk, nothing written."""
    n = gpv_walk(guest_pw=[lv for lv in (4, 3, 2, 1) if lv != guest_level])
    r, trace, mem = ept.walk(n, PROC3=GPV_CTRL)
    assert r == (H_GPV, 1, None, violation(Q_READ | Q_R | Q_W | Q_X | Q_XU | Q_FINAL | Q_GPV))
    assert trace == n.expected_trace() and mem == n.mem


def test_gpv_control_off_or_vgp_clear_translates(ept):
    """The verification needs both the control and VGP: with no guest table page in a PW page,
    the walk translates when the control is 0 (whatever the EPT paging-write control says), and
    when the final page's EPT leaf has VGP = 0 with the control on."""
    n = gpv_walk(guest_pw=())
    for proc3 in (0, EPT_PW_CTRL):
        assert ept.walk(n, PROC3=proc3)[0] == (0, H_PAGE | 0xABC, 1, 1)
    n = gpv_walk(guest_pw=(), vgp=False)
    assert ept.walk(n, PROC3=GPV_CTRL)[0] == (0, H_PAGE | 0xABC, 1, 1)


def test_gpv_guest_tables_in_one_large_ept_page(ept):
    """The guest tables' four pages lie in one 2-MiB EPT page: its leaf's PW decides for all
    of them. PW = 1: translates; PW = 0 with a 2-MiB final EPT page with VGP: the violation is
    reported at host level 2 (the level of the final EPT leaf)."""
    n = gpv_walk(guest_tables_2m=True, final_size="2M")
    assert ept.walk(n, PROC3=GPV_CTRL)[0] == (0, H_2M | (FINAL_GPA & 0x1FFFFF), 1, 2)
    n.update(n.ept_entry(n.guest_entry[1][0], 2), lambda e: e & ~PW)
    r, _, _ = ept.walk(n, PROC3=GPV_CTRL)
    assert r == (H_GPV, 2, None, violation(Q_READ | Q_R | Q_W | Q_X | Q_XU | Q_FINAL | Q_GPV))


def test_gpv_comes_after_the_permission_checks(ept):
    """A write to a page whose EPT leaf has W = 0 and VGP = 1, guest tables not in PW pages:
    the write violation is reported, bit 15 clear (the spec's order: SDM 29.3.3.2 lists both
    and does not order them)."""
    n = gpv_walk(guest_pw=())
    n.update(n.ept_entry(FINAL_GPA, 1), lambda e: e & ~W)
    r, _, _ = ept.walk(n, write=1, PROC3=GPV_CTRL)
    assert r == (H_WRITE, 1, None, violation(Q_WRITE | Q_R | Q_X | Q_XU | Q_FINAL))
