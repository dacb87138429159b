"""Golden tests of the generated amd_sev_snp references, tables and RMP entries built by hand.

AMD64 APM Vol. 2 (24593 rev. 3.42): a guest access of an SNP-active guest is translated by
the nested walk (15.25.5), then checked against the RMP entry of the system-physical page it
reached (15.36.10). The entry (PPR 55898; Linux arch/x86/virt/svm/sev.c) is 16 bytes per
4-KiB page after 16 KiB of bookkeeping at RMP_BASE; its first quadword holds ASSIGNED [0],
PAGESIZE [1], IMMUTABLE [2], GPA [50:12], ASID [60:51], VMSA [61], VALIDATED [62]. An RMP
violation is #VMEXIT(NPF) (exit code 400h) with EXITINFO1 = the nested access's error code
(P, W, U = 1 as every nested access is a user access) and the bits RMP (31), FINAL (32),
ENC (34) for a private access, SIZEM (35) for a nested page larger than the RMP page
(15.25.6, 15.36.10); EXITINFO2 = the guest-physical address. A hypervisor write to an
assigned page is #PF with error-code bit 31, RMP (8.4.2).
"""
from pathlib import Path

import pytest

from codegen.verify import harness

ROOT = Path(__file__).resolve().parents[2]
P, RW, US, A, D, PS = 1, 2, 4, 0x20, 0x40, 0x80
ADDR = 0xFFFF_FFFF_F000
CR0_PG_PE = (1 << 31) | 1
NXE = 1 << 11
SNP_EN = 1 << 24  # SYSCFG bit 24 (APM 15.36.2)
RMP_BASE = 0x10_0000_0000  # 8-KiB aligned
NPF = 0x400
RMP, FINAL, ENC, SIZEM = 1 << 31, 1 << 32, 1 << 34, 1 << 35
ASID = 5
G_TABLES = {4: 0x4000, 3: 0x3000, 2: 0x2000, 1: 0x1000}  # guest-physical
GPA_TO_SPA = 0x40_0000_0000  # guest table pages at gpa + this, system-physical
G_PAGE = 0x0012_3456_7000
S_PAGE = 0x0ABC_DEF0_1000
S_2M = 0x0ABC_DE00_0000  # a 2-MiB host page holding G_PAGE's 2-MiB region
VA = (0x0A5 << 39) | (0x1C3 << 30) | (0x0F0 << 21) | (0x12D << 12) | 0xABC


def idx(va, level):
    return (va >> (9 * level + 3)) & 0x1FF


def rmp_addr(spa):
    """RMP_BASE + 16 KiB of bookkeeping + 16 bytes per 4-KiB page (Linux sev.c)."""
    return RMP_BASE + 0x4000 + (spa >> 12) * 16


def rmp_entry(assigned=1, pagesize=0, gpa=G_PAGE, asid=ASID, vmsa=0, validated=1):
    return assigned | pagesize << 1 | (gpa >> 12) << 12 | asid << 51 | vmsa << 61 | validated << 62


class TwoD:
    """Guest 4-level tables (4-KiB pages, A/D set) stored through 4-level nested tables;
    the guest page G_PAGE maps to S_PAGE (a 4-KiB nested leaf) or into S_2M (a 2-MiB one)."""

    def __init__(self, host_2m=False, map_final=True):
        self.mem, self.next = {}, 0x100_0000
        self.ncr3 = self._alloc()
        for lv in range(4, 0, -1):
            page = G_TABLES[lv]
            self.map(page, page + GPA_TO_SPA)
            target = G_TABLES[lv - 1] if lv > 1 else G_PAGE
            self.mem[page + GPA_TO_SPA + 8 * idx(VA, lv)] = target | P | RW | US | A | D
        if map_final:
            self.map(G_PAGE, S_2M if host_2m else S_PAGE, big=host_2m)
        self.gpa = G_PAGE | (VA & 0xFFF)
        self.spa = (S_2M | (G_PAGE & 0x1F_F000) if host_2m else S_PAGE) | (VA & 0xFFF)

    def _alloc(self):
        a = self.next
        self.next += 0x1000
        return a

    def map(self, gpa, spa, big=False):
        table = self.ncr3
        for lv in range(4, 1 if not big else 2, -1):
            ea = table + 8 * idx(gpa, lv)
            if ea not in self.mem:
                self.mem[ea] = self._alloc() | P | RW | US | A
            table = self.mem[ea] & ADDR
        ea = table + 8 * idx(gpa, 2 if big else 1)
        self.mem[ea] = spa | P | RW | US | A | D | (PS if big else 0)

    def request(self, write=0, user=0, fetch=0, private=1, syscfg=SNP_EN, asid=ASID):
        return {"va": VA, "write": write, "user": user, "fetch": fetch, "private": private,
                "CR0": CR0_PG_PE, "CR3": G_TABLES[4], "CR4": 0, "EFER": NXE, "RFLAGS": 0, "PKRU": 0,
                "nCR3": self.ncr3, "HCR4": 0, "HEFER": NXE, "NP_CTL": 1, "ASID": asid,
                "SYSCFG": syscfg, "RMP_BASE": RMP_BASE}


@pytest.fixture(scope="module")
def guest():
    return harness.load_generated(ROOT / "generated" / "amd_sev_snp" / "snp_guest_access")[0]


@pytest.fixture(scope="module")
def host():
    return harness.load_generated(ROOT / "generated" / "amd_sev_snp")[0]


def decide(ref, mem, request):
    trace = []
    return ref.decide(dict(mem), request, trace), trace


def npf(exitinfo1, exitinfo2):
    return {"exit": True, "rule": None, "fields": {"exitcode": NPF, "exitinfo1": exitinfo1, "exitinfo2": exitinfo2,
                                                   "vector": 0, "error_code": 0, "cr2": 0}}


def same(out, expected, rule):
    assert out["exit"] and out["rule"] == rule
    assert out["fields"] == expected["fields"]


# ---- guest accesses -------------------------------------------------------------------
def test_a_private_access_to_its_own_validated_page_passes(guest):
    """Assigned, ASID 5 = the guest's, GPA = the access's page, validated, not a VMSA, a
    4-KiB nested page: every check of 15.36.10 holds; the RMP entry is read once, after the
    24 references of the 2D walk (4 guest levels x 5 + 4)."""
    t = TwoD()
    t.mem[rmp_addr(t.spa)] = rmp_entry()
    out, trace = decide(guest, t.mem, t.request(write=1))
    assert out == {"exit": False}
    assert len(trace) == 25 and trace[-1] == (0, rmp_addr(t.spa), 8, rmp_entry())


# read, supervisor: error code P (the nested translation was present) and U (nested
# accesses are user accesses, 15.25.5) = 101b; FINAL and ENC for a private access
READ_ERROR = P | US


@pytest.mark.parametrize("entry,write", [
    (rmp_entry(assigned=0, asid=0, gpa=0, validated=0), 0),  # hypervisor-owned: not the guest's page
    (rmp_entry(asid=ASID + 1), 0),  # another guest's ASID
    (rmp_entry(gpa=G_PAGE + 0x1000), 0),  # assigned at another guest-physical page
    (rmp_entry(vmsa=1), 1),  # a write to a VMSA page
], ids=["unassigned", "asid", "gpa", "vmsa_write"])
def test_each_rmp_violation_of_a_private_access_is_an_npf_with_rmp_and_enc(guest, entry, write):
    t = TwoD()
    t.mem[rmp_addr(t.spa)] = entry
    out, _ = decide(guest, t.mem, t.request(write=write))
    same(out, npf((READ_ERROR | write << 1) | RMP | FINAL | ENC, t.gpa), "rmp_private")


def test_a_shared_access_to_an_assigned_page_is_an_npf_with_rmp_but_not_enc(guest):
    t = TwoD()
    t.mem[rmp_addr(t.spa)] = rmp_entry()
    out, _ = decide(guest, t.mem, t.request(private=0))
    same(out, npf(READ_ERROR | RMP | FINAL, t.gpa), "rmp_shared")


def test_a_shared_access_to_a_hypervisor_page_passes(guest):
    t = TwoD()
    t.mem[rmp_addr(t.spa)] = 0
    out, _ = decide(guest, t.mem, t.request(private=0, write=1))
    assert out == {"exit": False}


def test_a_2m_nested_page_over_a_4k_rmp_page_is_a_size_mismatch(guest):
    """The nested leaf is a 2-MiB PDE (host level 2), the RMP entry says 4 KiB: RMP, ENC
    and SIZEM (bit 35) with the guest-physical address (15.36.10)."""
    t = TwoD(host_2m=True)
    t.mem[rmp_addr(t.spa)] = rmp_entry(pagesize=0)
    out, _ = decide(guest, t.mem, t.request())
    same(out, npf(READ_ERROR | RMP | FINAL | ENC | SIZEM, t.gpa), "rmp_size")
    t.mem[rmp_addr(t.spa)] = rmp_entry(pagesize=1)  # a 2-MiB RMP page: sizes agree
    assert decide(guest, t.mem, t.request())[0] == {"exit": False}


def test_a_page_not_validated_is_a_vc_to_the_guest(guest):
    """#VC (vector 29) with error code PAGE_NOT_VALIDATED (404h), no #VMEXIT."""
    t = TwoD()
    t.mem[rmp_addr(t.spa)] = rmp_entry(validated=0)
    out, _ = decide(guest, t.mem, t.request())
    assert out["rule"] == "not_validated"
    assert out["fields"] == {"exitcode": 0, "exitinfo1": 0, "exitinfo2": 0, "vector": 29, "error_code": 0x404, "cr2": 0}


def test_an_npf_of_the_walk_itself_is_reported_as_is_and_the_rmp_is_not_read(guest):
    """The final guest-physical page has no nested mapping: #VMEXIT(NPF), error code U
    (not present, read, user), FINAL, EXITINFO2 the guest-physical address (15.25.6);
    the walk faulted, so no RMP entry is read."""
    t = TwoD(map_final=False)
    out, trace = decide(guest, t.mem, t.request())
    same(out, npf(US | FINAL, t.gpa), "nested_fault")
    assert all(a < 0x200_0000 or a >= GPA_TO_SPA for _, a, _, _ in trace)  # nested or guest tables only


def test_with_snp_off_there_is_no_rmp_check(guest):
    """SYSCFG.SNPEn = 0: the violating entry is never read (15.36.2)."""
    t = TwoD()
    t.mem[rmp_addr(t.spa)] = rmp_entry(assigned=0)
    out, trace = decide(guest, t.mem, t.request(syscfg=0))
    assert out == {"exit": False}
    assert len(trace) == 24


# ---- hypervisor accesses --------------------------------------------------------------
H_TABLES = {4: 0x4000, 3: 0x3000, 2: 0x2000, 1: 0x1000}


def host_mem(entry=None):
    mem = {}
    for lv in range(4, 0, -1):
        target = H_TABLES[lv - 1] if lv > 1 else S_PAGE
        mem[H_TABLES[lv] + 8 * idx(VA, lv)] = target | P | RW | A | D
    if entry is not None:
        mem[rmp_addr(S_PAGE | (VA & 0xFFF))] = entry
    return mem


def host_request(write=1, user=0, syscfg=SNP_EN):
    return {"va": VA, "write": write, "user": user, "fetch": 0, "CR0": CR0_PG_PE, "CR3": H_TABLES[4], "CR4": 0,
            "EFER": NXE, "RFLAGS": 0, "PKRU": 0, "SYSCFG": syscfg, "RMP_BASE": RMP_BASE}


def test_a_host_write_to_a_guest_page_is_a_pf_with_the_rmp_bit(host):
    """Error code P (present), W (write), supervisor, RMP (bit 31) = 8000_0003h; CR2 the
    linear address (8.4.2)."""
    out, trace = decide(host, host_mem(rmp_entry()), host_request())
    assert out["rule"] == "rmp_write"
    assert out["fields"] == {"vector": 14, "error_code": 0x8000_0003, "cr2": VA}
    assert len(trace) == 5  # four entries, then the RMP entry


def test_a_host_read_of_a_guest_page_passes(host):
    """Reads of assigned pages are allowed: the hypervisor sees ciphertext (15.36.10)."""
    assert decide(host, host_mem(rmp_entry()), host_request(write=0))[0] == {"exit": False}


def test_a_host_write_to_its_own_page_passes(host):
    assert decide(host, host_mem(0), host_request())[0] == {"exit": False}


def test_a_host_page_fault_comes_before_any_rmp_read(host):
    """The PTE is not present: #PF error code W (write, not present), CR2; no RMP read."""
    mem = host_mem(rmp_entry())
    del mem[H_TABLES[1] + 8 * idx(VA, 1)]
    out, trace = decide(host, mem, host_request())
    assert out["rule"] == "page_fault" and out["fields"] == {"vector": 14, "error_code": RW, "cr2": VA}
    assert len(trace) == 4


def test_a_host_write_with_snp_off_is_not_checked(host):
    out, trace = decide(host, host_mem(rmp_entry()), host_request(syscfg=0))
    assert out == {"exit": False} and len(trace) == 4

