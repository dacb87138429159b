"""intel_ept's cache of EPT paging-structure entries (`cache epsc holds host tables of levels
5, 4, 3, 2`): guest-physical mappings include guest-physical paging-structure-cache
entries, associated with the EPTRTA (SDM 29.4.1), which INVEPT removes (single-context: the
descriptor's EPTRTA; global: all; SDM 29.4.3.1) and INVVPID and MOV to CR3 do not. Tables
built by hand (test_ept_reference.TwoD: 4-level guest over 4-level EPT, 4-KiB pages, A/D
preset).

Counted by hand, the cold walk with every cache: the guest tables' pages 0x4000 .. 0x1000
share every EPT entry above the EPT PT (gpa >> 21 == 0); the guest page 0x514C_E895_5000
shares none (its EPT PML4 index is 0xA2, theirs 0).
- the guest PML4 table's EPT walk: 4 references; it fills epsc at EPT levels 4, 3, 2;
  then the guest PML4E: 5;
- each of the 3 other guest tables: epsc hits at level 2 (key 0): the EPT PTE, then the
  guest entry: 3 x 2 = 6;
- the final guest-physical address: epsc misses at levels 2, 3 and 4: 4 references.
15 references, against 24 without epsc.
"""
import sys
from pathlib import Path

import pytest

from codegen.verify.sequence import Sequence, Step, run_reference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_ept_reference import FINAL_GPA, H_PAGE, TwoD  # noqa: E402


@pytest.fixture
def ref(generated):
    return generated["intel_ept"][0]


def test_the_cold_walk_reads_15_entries_with_ept_entries_cached(ref):
    n = TwoD()
    mem, caches, trace, detail = dict(n.mem), ref.Caches(), [], {}
    out, hit = ref.translate_cached(caches, mem, n.request(), trace, detail)
    assert (out, hit) == ({"ok": True, "pa": H_PAGE | 0xABC, "level": 1, "host_level": 1}, False)
    want = []
    for lv in (4, 3, 2, 1):
        gpa, hpa = n.guest_entry[lv]
        ept = n.ept_reads(gpa)
        want += (ept if lv == 4 else ept[-1:]) + [(0, hpa, 8, n.mem[hpa])]
    want += n.ept_reads(FINAL_GPA)
    assert trace == want and len(trace) == 15
    assert detail["host_resumed"] == [2, 2, 2]
    assert [h for c, h in detail["lookups"] if c == "epsc"] == [False, True, True, True, False]
    without: list = []
    ref.translate_cached(ref.Caches(enabled=("tlb", "psc", "gpm")), dict(n.mem), n.request(), without)
    assert len(without) == 24


def test_invept_drops_epsc_entries_of_its_eptrta_and_invvpid_does_not(ref):
    """After INVVPID single-context for VPID 0000H (the current one: "enable VPID" is 0, SDM
    29.1), which removes linear and combined mappings only, the guest walk starts
    from the root, but the guest-physical mappings stay: every guest table and the final
    address come from the nested TLB (gpm), 4 references. INVEPT single-context for another
    EPTRTA keeps them; for this one it removes gpm and epsc alike: a cold walk, 15 again."""
    n = TwoD()
    req = n.request()
    other = (n.eptp() & ~0xFFFF_FFFF_F000) | 0x7777_7000

    def event(name, **ops):
        return Step("invalidate", req, name, tuple(ops.items()))
    seq = Sequence(dict(n.mem), (
        Step("translate", req),
        event("invvpid_single_context", vpid_op=0),
        Step("translate", req),
        event("invept_single_context", eptp=other),
        event("invvpid_single_context", vpid_op=0),
        Step("translate", req),
        event("invept_single_context", eptp=n.eptp()),
        Step("translate", req),
    ))
    run = run_reference(ref, seq)
    counts = [len(run.steps[i].trace) for i in (0, 2, 5, 7)]
    assert counts == [15, 4, 4, 15]
    assert all(run.steps[i].outcome["pa"] == H_PAGE | 0xABC for i in (0, 2, 5, 7))
    dropped = dict(run.steps[6].detail["dropped"])
    assert dropped["epsc"] == 6 and dropped["gpm"] == 5  # EPT levels 4, 3, 2 of gpa 0 and of the final page
    assert dict(run.steps[3].detail["dropped"])["epsc"] == 0
