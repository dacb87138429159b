"""One two-stage mapping, encoded for AMD nested paging and for Intel EPT, translates the same.

An abstract mapping lists guest-virtual pages, their guest-physical page and the
host-physical page behind it, with the second-stage rights r/w/x of the guest-physical
page. It is encoded once as guest page tables, shared byte for byte by both images, and
once per vendor as second-stage tables:

- AMD NPT (APM Vol. 2 15.25, long-mode entries of 5.4): P for r, R/W for w, U/S = 1
  (nested accesses are user accesses), NX for "no x" with HEFER.NXE = 1;
- Intel EPT (SDM Vol. 3C 29.3.2): R, W, and X and XU for x (mode-based execute control
  is on in the spec, so both execute bits carry the right), memory type WB.

Only rights both formats can express are used: none, r, rw, rx, rwx (EPT write-only and
execute-only entries are misconfigurations, and NPT has no "present but unreadable").
For every page and every access kind, both references and both MyHDL models give the
same host-physical address when the rights allow the access; when they do not, NPT gives
#VMEXIT(NPF) (exit code 400h, EXITINFO1 bit 32: the final guest-physical address) and EPT
an EPT violation (exit reason 48, exit-qualification bit 8: the final access), at the
same guest-physical address.
"""
from dataclasses import dataclass

import pytest

from codegen.verify import harness
from codegen.verify.stimulus.translation import Scenario

ADDR = 0xFFFF_FFFF_F000
OFFSET = 0x9C4  # byte offset of every access inside its page

# guest and NPT entries (SDM Vol. 3A 4.5; APM Vol. 2 5.4)
P, RW, US, A, D = 1, 2, 4, 0x20, 0x40
NX = 1 << 63
CR0_PE, CR0_PG = 1, 1 << 31
LA57 = 1 << 12
NXE = 1 << 11
E_P, E_W, E_U, E_ID = 1, 2, 4, 0x10            # page-fault error code bits
NPF, NPF_FINAL = 0x400, 1 << 32                # exit code, EXITINFO1 bit 32
# EPT entries (SDM 29.3.2), EPTP (Table 25-9), exit qualification (Table 28-7)
R, W, X, XU = 1, 2, 4, 1 << 10
MT_WB = 6 << 3
EPTP_WB, EPTP_PWL = 6, {4: 3 << 3, 5: 4 << 3}
EPT_VIOLATION = 48
Q_READ, Q_WRITE, Q_FETCH = 1, 2, 4
Q_R, Q_W, Q_X, Q_XU, Q_GLA, Q_FINAL = 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
Q_LA_USER, Q_LA_RW = 1 << 9, 1 << 10  # advanced VM-exit information (Table 28-7; CAP[22])
# status codes: 1 + index in FAULTS, 64 + 1 + index in HOST_FAULTS
USER_SUPERVISOR = 3
NPT_NOT_PRESENT, NPT_USER_WRITE, NPT_EXECUTE_DISABLE = 65, 68, 71
EPT_NOT_PRESENT, EPT_WRITE, EPT_FETCH = 65, 71, 72

GUEST_TABLES = 0x10_0000        # guest-physical frames of the guest tables start here ...
GUEST_RAM = 0x40_0000_0000      # ... and live at gpa + GUEST_RAM in host-physical memory
HOST_TABLES = 0x100_0000        # host-physical frames of the NPT or EPT tables


# ---- the abstract mapping --------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    va: int
    gpa: int
    hpa: int
    rights: str          # second-stage rights of the guest-physical page: "", "r", "rw", "rx", "rwx"
    user: bool = True    # guest U/S of the page (guest rights are otherwise all granted)


PAGES = [
    Page(0x0000_0000_0040_1000, 0x0_0020_1000, 0x0ABC_0000_1000, "rwx"),
    Page(0x0000_0000_0040_2000, 0x0_0020_2000, 0x0ABC_0000_7000, "rw"),
    Page(0x0000_7F80_1234_5000, 0x1_2345_6000, 0x0123_4567_8000, "rx"),
    Page(0x0000_7F80_1234_6000, 0x1_2345_7000, 0x0123_4567_9000, "r"),
    Page(0x0000_5555_0000_0000, 0x7_0000_0000, 0x0DEF_0000_0000, ""),
    Page(0x0000_0000_0060_0000, 0x0_0030_0000, 0x0ABC_0010_0000, "rwx", user=False),
]

ACCESSES = {  # name -> (write, user, fetch)
    "read": (0, 0, 0), "write": (1, 0, 0), "fetch": (0, 0, 1),
    "user read": (0, 1, 0), "user write": (1, 1, 0), "user fetch": (0, 1, 1),
}


def allowed(page, write, fetch):
    return ("w" if write else "x" if fetch else "r") in page.rights


def idx(addr, level):
    return (addr >> (9 * level + 3)) & 0x1FF


# ---- encoders ---------------------------------------------------------------------------------
class Frames:
    """4 KiB frames handed out in order from `base`."""

    def __init__(self, base):
        self.next, self.taken = base, []

    def __call__(self):
        frame, self.next = self.next, self.next + 0x1000
        self.taken.append(frame)
        return frame


def radix(levels, frames, mappings, pointer_bits):
    """A 4- or 5-level tree of 512-entry tables, the shape IA-32e paging, NPT and EPT share:
    `mappings` is [(address, leaf entry)] of 4 KiB pages; returns the root and the entries
    as {entry address: value}, tables created on first use with `pointer_bits`."""
    root, entries = frames(), {}
    for addr, leaf in mappings:
        table = root
        for lv in range(levels, 1, -1):
            ea = table + 8 * idx(addr, lv)
            if ea not in entries:
                entries[ea] = frames() | pointer_bits
            table = entries[ea] & ADDR
        entries[table + 8 * idx(addr, 1)] = leaf
    return root, entries


def guest_leaf(page):
    return page.gpa | P | RW | A | D | (US if page.user else 0)


def npt_leaf(hpa, rights):
    return (hpa | (P if "r" in rights else 0) | (RW if "w" in rights else 0) | US | A | D
            | (0 if "x" in rights else NX))


def ept_leaf(hpa, rights):
    return (hpa | (R if "r" in rights else 0) | (W if "w" in rights else 0)
            | (X | XU if "x" in rights else 0) | MT_WB)


NPT_POINTER = P | RW | US | A
EPT_POINTER = R | W | X | XU


@dataclass
class Guest:
    cr3: int          # guest-physical root
    words: dict       # host-physical address -> guest table entry
    table_pages: list  # guest-physical frames of the guest tables


def guest_tables(levels):
    frames = Frames(GUEST_TABLES)
    root, entries = radix(levels, frames, [(p.va, guest_leaf(p)) for p in PAGES], P | RW | US | A)
    return Guest(root, {gpa + GUEST_RAM: v for gpa, v in entries.items()}, frames.taken)


def second_stage(guest):
    """[(gpa, hpa, rights)]: the guest table pages (read and written by the walk), then the pages."""
    return [(g, g + GUEST_RAM, "rw") for g in guest.table_pages] + [(p.gpa, p.hpa, p.rights) for p in PAGES]


def npt_image(levels, guest):
    root, entries = radix(levels, Frames(HOST_TABLES), [(g, npt_leaf(h, r)) for g, h, r in second_stage(guest)],
                          NPT_POINTER)
    assert not set(entries) & set(guest.words)
    context = {"nCR3": root, "HCR4": LA57 if levels == 5 else 0, "HEFER": NXE, "NP_CTL": 1,  # NP_ENABLE
               "ASID": 1}  # the TLB's tag (APM 15.16): no walk reads it
    return {**guest.words, **entries}, context


def ept_image(levels, guest):
    root, entries = radix(levels, Frames(HOST_TABLES), [(g, ept_leaf(h, r)) for g, h, r in second_stage(guest)],
                          EPT_POINTER)
    assert not set(entries) & set(guest.words)
    # PROC2 = 2: enable EPT; PROC3 = 0: no tertiary control (no EPT paging-write control);
    # VPID, the TLB's tag (SDM 29.1), no walk reads
    return {**guest.words, **entries}, {"EPTP": root | EPTP_WB | EPTP_PWL[levels], "PROC2": 2, "PROC3": 0,
                                        "VPID": 1}


def request(levels, guest, page, write, user, fetch, host_context):
    return {"va": page.va | OFFSET, "write": write, "user": user, "fetch": fetch,
            "CR0": CR0_PE | CR0_PG, "CR3": guest.cr3, "CR4": LA57 if levels == 5 else 0, "EFER": NXE,
            "RFLAGS": 0, "PKRU": 0, **host_context}


# ---- expected outcomes ----------------------------------------------------------------------------
def expected(page, write, user, fetch):
    """(NPT result, EPT result) as walk_guest tuples."""
    va, gpa = page.va | OFFSET, page.gpa | OFFSET
    if user and not page.user:  # the guest's own fault, the same on both
        pf = (USER_SUPERVISOR, 1, 0, (14, E_P | E_U | (E_W if write else 0) | (E_ID if fetch else 0), va))
        return pf, pf
    if allowed(page, write, fetch):
        ok = (0, page.hpa | OFFSET, 1, 1)
        return ok, ok
    # NPT: the nested access is a user access; the error code is that of the nested walk
    err = (E_P if page.rights else 0) | (E_W if write else 0) | E_U | (E_ID if fetch else 0)
    npt_kind = NPT_NOT_PRESENT if not page.rights else NPT_USER_WRITE if write else NPT_EXECUTE_DISABLE
    npt = (npt_kind, 1, None, (NPF, NPF_FINAL | err, gpa))
    # EPT: the access kind, then the rights of the entries used
    access = Q_WRITE if write else Q_FETCH if fetch else Q_READ
    rights = ((Q_R if "r" in page.rights else 0) | (Q_W if "w" in page.rights else 0)
              | (Q_X | Q_XU if "x" in page.rights else 0))
    ept_kind = EPT_NOT_PRESENT if not page.rights else EPT_WRITE if write else EPT_FETCH
    # bits 9-11 on the final access: guest paging's rights for the address (guest_leaf and the
    # pointers: R/W = 1, XD = 0 everywhere, U/S = 1 in the pointers and as the page says)
    linear = Q_LA_RW | (Q_LA_USER if page.user else 0)
    ept = (ept_kind, 1, None, (EPT_VIOLATION, access | rights | Q_GLA | Q_FINAL | linear, gpa, va))
    return npt, ept


# ---- tests -------------------------------------------------------------------------------------------
def test_encoders():
    h = 0x0123_4567_8000
    assert npt_leaf(h, "") == h | US | A | D | NX
    assert npt_leaf(h, "r") == h | P | US | A | D | NX
    assert npt_leaf(h, "rw") == h | P | RW | US | A | D | NX
    assert npt_leaf(h, "rx") == h | P | US | A | D
    assert npt_leaf(h, "rwx") == h | P | RW | US | A | D
    assert ept_leaf(h, "") == h | MT_WB
    assert ept_leaf(h, "r") == h | R | MT_WB
    assert ept_leaf(h, "rw") == h | R | W | MT_WB
    assert ept_leaf(h, "rx") == h | R | X | XU | MT_WB
    assert ept_leaf(h, "rwx") == h | R | W | X | XU | MT_WB
    # every right used is one both formats express, and every kind is in the mapping
    assert {p.rights for p in PAGES} == {"", "r", "rw", "rx", "rwx"}
    assert len({p.va for p in PAGES}) == len({p.gpa for p in PAGES}) == len({p.hpa for p in PAGES}) == len(PAGES)


@pytest.mark.parametrize("levels", [4, 5])
def test_both_images_hold_the_same_guest_tables(levels):
    guest = guest_tables(levels)
    npt_mem, _ = npt_image(levels, guest)
    ept_mem, _ = ept_image(levels, guest)
    def in_guest_ram(mem):
        return {a: v for a, v in mem.items() if a >= GUEST_RAM}

    assert in_guest_ram(npt_mem) == in_guest_ram(ept_mem) == guest.words
    assert guest.table_pages[0] == guest.cr3 == GUEST_TABLES  # the root is the first frame
    assert len(set(guest.table_pages)) == len(guest.table_pages)


@pytest.fixture(scope="module")
def runs(generated):
    """{(levels, spec): (image, [(reference result, trace, memory after)], [model differences])},
    one entry a page and access in PAGES x ACCESSES order. Every scenario of a spec and a
    depth runs on the model in one simulation (its caches from reset each time): a
    simulation a page was a sixth of the quick suite's co-simulation time."""
    out = {}
    for levels in (4, 5):
        guest = guest_tables(levels)
        for name, (mem, host_context) in {"amd_npt": npt_image(levels, guest),
                                          "intel_ept": ept_image(levels, guest)}.items():
            ref, model = generated[name]
            scenarios, results = [], []
            for page in PAGES:
                for kind, (write, user, fetch) in ACCESSES.items():
                    req = request(levels, guest, page, write, user, fetch, host_context)
                    m, trace = dict(mem), []
                    r = ref.walk_guest(m, trace, req["va"], write, user, fetch, *(req[k] for k in ref.CONTEXT))[:4]  # 5th: for the TLB
                    scenarios.append(Scenario(req, mem, len(scenarios), {"access": kind, "va": hex(page.va)}))
                    results.append((r, trace, m))
            diffs = []
            for sc, got in zip(scenarios, harness.run_model(model, ref, scenarios)):
                diff = harness.compare(harness.run_reference(ref, sc, model), got)  # the model's caches from reset
                diffs.append(f"{name} {sc.intent}: " + "\n".join(diff) + "\n" + harness.describe(sc) if diff else "")
            out[levels, name] = (mem, results, diffs)
    return out


# one worker computes the module's runs (a module fixture is computed on each worker that
# runs one of its tests)
@pytest.mark.xdist_group("cross_vendor")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.rights or 'none'}{'' if p.user else '-supervisor'}")
@pytest.mark.parametrize("levels", [4, 5])
def test_npt_and_ept_agree_on_every_access(runs, levels, page):
    guest = guest_tables(levels)
    first, n = PAGES.index(page) * len(ACCESSES), len(ACCESSES)
    images = {name: runs[levels, name][0] for name in ("amd_npt", "intel_ept")}
    for name in images:
        assert not any(runs[levels, name][2][first:first + n]), "".join(runs[levels, name][2][first:first + n])
    page_runs = {name: runs[levels, name][1][first:first + n] for name in images}
    for i, (kind, (write, user, fetch)) in enumerate(ACCESSES.items()):
        (npt, npt_trace, npt_mem), (ept, ept_trace, ept_mem) = page_runs["amd_npt"][i], page_runs["intel_ept"][i]
        assert (npt, ept) == expected(page, write, user, fetch), kind
        # the guest walk is the same: the same guest entries read at the same host-physical addresses
        guest_reads = [t for t in npt_trace if t[1] in guest.words]
        assert guest_reads == [t for t in ept_trace if t[1] in guest.words]
        assert len(guest_reads) == levels and all(op == 0 for op, *_ in guest_reads)
        if npt[0] == 0:
            assert npt[1] == ept[1] == page.hpa | OFFSET, kind
            # A/D preset everywhere, EPTP.AD = 0: no writes, g x (h + 1) + h references each
            assert len(npt_trace) == len(ept_trace) == levels * (levels + 1) + levels
            assert npt_mem == images["amd_npt"] and ept_mem == images["intel_ept"]
        elif npt[0] > 64:
            npt_gpa, ept_gpa = npt[3][2], ept[3][2]
            assert npt_gpa == ept_gpa == page.gpa | OFFSET
            assert npt[3][0] == NPF and npt[3][1] >> 32 & 3 == 1            # bit 32 set, bit 33 clear
            assert ept[3][0] == EPT_VIOLATION and ept[3][1] >> 7 & 3 == 3   # bits 7 and 8 set
