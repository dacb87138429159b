"""amd_npt's page-walk cache of the nested walk (`cache npwc holds host tables of levels 5,
4, 3, 2`; issue 15 section 4): Bhargava et al.'s 2D page-walk cache holds nested entries
too (ASPLOS 2008; APM 15.25.5), keyed by the guest-physical bits from each nested level's
index up and tagged by the ASID; flushed with the ASID's TLB entries by VMRUN's
TLB_CONTROL (APM 15.16.1). Tables built by hand (test_npt_reference.Nested: 4-level guest
over 4-level nested tables, 4-KiB pages, A/D preset so that no walk writes).

Counted by hand, the cold walk of va with every cache. The guest tables' guest-physical
pages 0x4000, 0x3000, 0x2000, 0x1000 lie in one nested 2-MiB region (gpa >> 21 == 0); the
guest page 0x12_3456_7000 shares only the nested PML4E with them (gpa >> 39 == 0, but
gpa >> 30 == 0x48).
- the PML4 table's nested walk: 4 references (nested PML4E, PDPTE, PDE, PTE); it fills
  npwc at nested levels 4, 3, 2 (the nested TLB too); then the guest PML4E: 5;
- each of the 3 other guest tables: the nested TLB misses (another 4-KiB page), npwc hits
  at level 2 (key 0): the nested PTE alone, then the guest entry: 3 x 2 = 6;
- the final guest-physical page: npwc misses at levels 2 and 3 and hits at level 4: the
  nested PDPTE, PDE and PTE: 3.
14 references, against 24 without npwc (4 x (4 + 1) + 4).
"""
import sys
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import oracle
from codegen.verify.harness import Timing, load_generated, run_model_sequence
from codegen.verify.sequence import Sequence, Step, compare, run_reference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_npt_reference import A, D, G_PAGE, P, RW, S_PAGE, US, VA4, Nested, idx  # noqa: E402

FLAGS = P | RW | US | A | D
REGS = ("CR0", "CR3", "CR4", "EFER", "RFLAGS", "PKRU", "nCR3", "HCR4", "HEFER", "NP_CTL")
SPECS = Path(__file__).resolve().parents[2] / "specs"
NEW_FRAME = 0x0DEF_0000_0000


@pytest.fixture
def ref(generated):
    return generated["amd_npt"][0]


def request(n, va, asid=1):
    return dict(zip(REGS, n.regs()), va=va, write=0, user=0, fetch=0, ASID=asid)


def test_the_cold_walk_reads_14_entries_with_the_nested_walk_cached(ref):
    n = Nested()
    mem, caches, trace, detail = dict(n.mem), ref.Caches(), [], {}
    out, hit = ref.translate_cached(caches, mem, request(n, VA4), trace, detail)
    assert (out, hit) == ({"ok": True, "pa": S_PAGE | 0xABC, "level": 1, "host_level": 1}, False)
    want = []
    for lv in (4, 3, 2, 1):
        gpa, spa = n.guest_entry[lv]
        nested = n.host_reads(gpa)
        want += (nested if lv == 4 else nested[-1:]) + [(0, spa, 8, n.mem[spa])]
    want += n.host_reads(G_PAGE)[1:]  # from the nested PDPTE: the PML4E came from npwc
    assert trace == want and len(trace) == 14
    assert detail["host_resumed"] == [2, 2, 2, 4]  # the nested level whose cached entry each resumed after
    assert [h for c, h in detail["lookups"] if c == "npwc"] == [False, True, True, True, True]
    assert mem == n.mem


def test_without_npwc_the_cold_walk_is_24_references(ref):
    n = Nested()
    trace: list = []
    caches = ref.Caches(enabled=("tlb", "pwc", "ntlb"))
    ref.translate_cached(caches, dict(n.mem), request(n, VA4), trace)
    assert len(trace) == 24 and trace == n.expected_trace()


def test_an_npwc_entry_is_per_asid(ref):
    """Another guest's (ASID 2) walk of the same tables uses nothing ASID 1 cached: it is a
    cold walk of its own, the same 14 references."""
    n = Nested()
    mem, caches = dict(n.mem), ref.Caches()
    first: list = []
    ref.translate_cached(caches, mem, request(n, VA4, asid=1), first)
    trace: list = []
    ref.translate_cached(caches, mem, request(n, VA4, asid=2), trace)
    assert trace == first and len(trace) == 14


def remapped(n):
    """The hypervisor points the nested PDE of the guest page's 2-MiB region at a new nested
    PT that maps the guest page to NEW_FRAME: (memory, the PDE's address, its new value)."""
    other_pt = n._alloc()
    mem = dict(n.mem)
    mem[other_pt + 8 * idx(G_PAGE, 1)] = NEW_FRAME | FLAGS
    return mem, n.paths[G_PAGE][-2], other_pt | P | RW | US | A


def sequence(n, tlb_control=3):
    mem, pde, value = remapped(n)
    return Sequence(mem, (
        Step("translate", request(n, VA4)),
        Step("store", address=pde, value=value),
        Step("invalidate", request(n, 0, asid=0), "vmrun", (("guest_asid", 1), ("tlb_control", 0))),
        # a write: the TLB and the nested TLB miss (other access kinds), the page-walk cache
        # gives the guest PT, npwc the old nested PT of the guest page: the old frame
        Step("translate", dict(request(n, VA4 + 0x1000), write=1)),
        Step("invalidate", request(n, 0, asid=0), "vmrun", (("guest_asid", 1), ("tlb_control", tlb_control))),
        Step("translate", request(n, VA4)),  # every cache of ASID 1 flushed: the new frame
    ))


def tables_with_neighbour():
    """Nested() with va + 4 KiB mapped to the same guest page (a TLB miss, guest walk
    resumed from the page-walk cache, the final address from the nested TLB or npwc)."""
    n = Nested()
    pt = n.guest_entry[1][1] - 8 * idx(VA4, 1)
    n.mem[pt + 8 * (idx(VA4, 1) + 1)] = G_PAGE | FLAGS
    return n


def test_a_stale_nested_pde_is_permitted_until_vmrun_flushes_the_asid(ref):
    """VMRUN with TLB_CONTROL 00h flushes nothing (APM 15.16.1): the write to va + 4 KiB
    resumes the final address's nested walk after npwc's nested PDE, which still leads to
    the old nested PT: 2 references (the guest PTE, the old nested PTE) and the old frame,
    a stale answer the architecture permits. TLB_CONTROL 03h then flushes ASID 1's entries
    of every cache, npwc's too: the walk from the roots reads the new nested PDE and gives
    the new frame in 14 references (as the cold walk)."""
    n = tables_with_neighbour()
    seq = sequence(n)
    run = run_reference(ref, seq)
    stale = run.steps[3]
    assert stale.outcome["pa"] == S_PAGE | 0xABC and stale.detail["host_resumed"] == [2]
    pte = n.guest_entry[1][1] + 8
    assert stale.trace == [(0, pte, 8, G_PAGE | FLAGS), n.host_reads(G_PAGE)[-1]]
    assert run.steps[5].outcome["pa"] == NEW_FRAME | 0xABC and len(run.steps[5].trace) == 14
    verdict = oracle.check(ref, seq, run)
    assert verdict.problems == [] and verdict.stale_hits == 1


@pytest.fixture(scope="module")
def forgetful(tmp_path_factory):
    """A design whose VMRUN drops npwc only on TLB_CONTROL 01h (it forgets 03h and 07h, the
    guest's own flush): generated reference and model."""
    tmp = tmp_path_factory.mktemp("npwc_bug")
    text = (SPECS / "amd_npt.vspec").read_text()
    good = ("drop npwc when tlb_control == 1 || (tlb_control == 3 || tlb_control == 7) "
            "&& entry.asid == guest_asid;")
    assert text.count(good) == 1
    (tmp / "x86_64_paging.vspec").write_text((SPECS / "x86_64_paging.vspec").read_text())
    (tmp / "amd_npt.vspec").write_text(text.replace(good, "drop npwc when tlb_control == 1;"))
    emit.write(emit.render(compile_spec(tmp / "amd_npt.vspec")), tmp / "gen")
    return load_generated(tmp / "gen")


def test_the_oracle_catches_a_vmrun_that_forgets_npwc(ref, forgetful):
    """The planted bug: after VMRUN's 03h flush the forgetful design still resumes the final
    address's nested walk from the cached nested PDE, which leads to the old nested PT: the
    old frame. Its reference and its model agree (the exact check passes; the model holds
    every cache, the forgetful npwc included), and two runs agree; the oracle,
    with the shipped spec's VMRUN (APM 15.16.1), refuses the answer at step 5."""
    bug, bug_model = forgetful
    n = tables_with_neighbour()
    seq = sequence(n)
    run = run_reference(bug, seq)
    assert run.steps[5].outcome["pa"] == S_PAGE | 0xABC  # resumed from the stale nested PDE
    assert run_reference(bug, seq).steps[5] == run.steps[5]
    model_run = run_model_sequence(bug_model, bug, seq, Timing(1, 1, 0))
    assert bug_model.WALK_CACHES is True
    assert compare(seq, run, model_run) == []
    problems = oracle.check(ref, seq, run).problems
    assert len(problems) == 1 and problems[0].startswith("step 5:")
    assert oracle.check(ref, seq, run_reference(ref, seq)).problems == []
