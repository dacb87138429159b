"""Cycles of the MyHDL walker at memory latency 1 with no stalls (issue 15, section 3):
pinned so that a change to the FSM that adds or saves cycles shows here.

Where the cycles of a walk go (cycles counted as codegen/verify/batch.py says): the
walker's FSM body is rendered as a combinational process that drives the memory request
and the clocked one that keeps the registers, so the walker asks in the cycle it decides
to, and the memory takes the first request at the edge that samples `start`, and each
next one at the edge that brings the previous one's data (one cycle per reference); the
walk ends one edge after the last entry arrives. In a nested walk the guest's request to the host walker, and the host's
first reference, follow in the same cycle (the host starts in the cycle the guest takes
a table entry from it, x_rnow), so the hand-off costs nothing; only the final
translation's `done` from the host costs the guest one edge. Before: 2 cycles per
reference (an edge to decide, an edge for the memory to take it), 1 for `start`, 1 per
host translation (the host's IDLE edge): 59, then 55 with x_rnow; now 26 (24 references: a walk
the host walk's paging-structure cache does not shorten)."""
import sys
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import harness
from codegen.verify.stimulus.translation import Scenario

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_cross_vendor as cv  # noqa: E402  (its 2D images: all 4-KiB pages, A/D preset)

LATENCY_1 = harness.Timing(1, 1, 0)

ONE_LEVEL = """spec one_level;
register BASE : 64 {
    ADDR [39:12];
}
format pte : 64 cite "toy manual 1" {
    V [0] "valid";
    ADDR [39:12];
    reserved [63:40];
}
regime one {
    input va : 21;
    access write;
    context BASE;
    entry 8;
    root BASE.ADDR << 12;
    pointer ADDR;
    start level 1;
    frame ADDR;
    level 1 only {
        index va[20:12];
        leaf pte page 4K;
    }
    fault invalid when !V;
    record fault_info {
        code : 8 = fault;
    }
}
"""


@pytest.mark.parametrize("name, image", [("amd_npt", cv.npt_image), ("intel_ept", cv.ept_image)])
def test_a_4_plus_4_walk_takes_one_cycle_per_reference_and_2_at_latency_1(generated, name, image):
    """A 4+4 walk from reset (every cache empty): one cycle per reference (issued
    combinationally from `start` and from each response; the walk caches compare in the
    cycle a walk or host walk would ask, at no cost), + 1 (the edge that takes the last
    entry) + 1 (the guest takes the host's final translation), within issue 15's goal of
    24 + 8 = 32 (59 before x_rnow, 55 before the walker made its requests combinationally).
    Without caches the walk makes 24 references (26 cycles). The model holds the host
    walk's paging-structure cache (npwc, epsc: levels 5-2), which fills as each host walk
    ends, so within this one walk: the guest PML4 table's host walk (4 references: every
    guest table lies in one 2-MiB guest-physical region) and its entry (1); each of the
    three next guest tables' host walk resumes at the host PTE (1) and its entry (1): 6;
    the final page's host walk resumes below the host PDPTE (its PDE and PTE: 2):
    4 + 1 + 6 + 2 = 13 references, 15 cycles."""
    ref, model = generated[name]
    guest = cv.guest_tables(4)
    mem, host_context = image(4, guest)
    sc = Scenario(cv.request(4, guest, cv.PAGES[0], 0, 0, 0, host_context), mem, 0, {})
    run = harness.run_model(model, ref, [sc], LATENCY_1)[0]
    assert len(harness.run_reference(ref, sc).trace) == 24  # the cache-free walk
    assert not harness.compare(harness.run_reference(ref, sc, model), run)
    assert run.outcome["ok"] and len(run.trace) == 4 + 1 + 3 * (1 + 1) + 2 == 13
    assert run.cycles == 13 + 1 + 1 == 15


def test_a_one_level_walk_takes_one_cycle_per_reference_and_one(tmp_path):
    """One reference: the memory takes it at the edge that samples `start` (the request
    is made combinationally from `start`), the walker takes the entry and ends at the
    next: 2 cycles, refs + 1 (was 2 x refs + 1 = 3)."""
    spec = tmp_path / "one_level.vspec"
    spec.write_text(ONE_LEVEL)
    emit.write(emit.render(compile_spec(spec)), tmp_path / "gen")
    ref, model = harness.load_generated(tmp_path / "gen")
    va, root = 0x3_5123, 0x8000
    sc = Scenario({"va": va, "write": 0, "BASE": root}, {root + 8 * 0x35: 0x77_7000 | 1}, 0, {})
    run = harness.run_model(model, ref, [sc], LATENCY_1)[0]
    assert not harness.compare(harness.run_reference(ref, sc), run)
    assert run.outcome["ok"] and run.outcome["pa"] == 0x77_7123 and len(run.trace) == 1
    assert run.cycles == 1 + 1
