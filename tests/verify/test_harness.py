"""The harness: its words for a mismatch show each memory reference's size; its
testbench follows the batch protocol (codegen/verify/batch.py) cycle for cycle."""
import random
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.verify import harness
from codegen.verify.backends import runner
from codegen.verify.stimulus.translation import Draw, Scenario, ScenarioFactory

ROOT = Path(__file__).resolve().parents[2]


def test_a_size_disagreement_is_reported_with_both_sizes():
    """Two references that differ only in size: the message says so (it used to read
    `reference R[0x0]=0x0 != model R[0x0]=0x0`)."""
    a = harness.Run({"ok": True}, [(0, 0x1000, 4, 0x3)], {})
    b = harness.Run({"ok": True}, [(0, 0x1000, 8, 0x3)], {})
    assert harness.compare(a, b) == ["memory reference #0: reference R4[0x1000]=0x3 != model R8[0x1000]=0x3"]


def test_writes_show_their_size_too():
    a = harness.Run({"ok": True}, [(1, 0x20, 16, 0x21)], {0x20: 0x21})
    b = harness.Run({"ok": True}, [(1, 0x20, 16, 0x23)], {0x20: 0x21})
    assert harness.compare(a, b) == ["memory reference #0: reference W16[0x20]=0x21 != model W16[0x20]=0x23"]


def _vcd_cycles(path: Path) -> int:
    """Rising edges of clk from the first one that samples start = 1 through the first
    one after which done is 1, as the waveform shows them (values by time)."""
    ids, values, edges, counting = {}, {}, 0, False
    lines = iter(path.read_text().splitlines())
    for line in lines:
        tok = line.split()
        if tok[:1] == ["$var"] and tok[4] in ("clk", "start", "done") and tok[4] not in ids.values():
            ids[tok[3]] = tok[4]
        if line.startswith("$enddefinitions"):
            break
    clk_rose = False
    for line in lines:
        if line.startswith("#"):
            if clk_rose and counting and values.get("done") == "1":
                return edges
            clk_rose = False
            continue
        if line[:1] in "01" and line[1:] in ids:
            name = ids[line[1:]]
            if name == "clk" and line[0] == "1":
                if counting or values.get("start") == "1":  # the edge samples the values before it
                    counting, edges = True, edges + 1
                clk_rose = True
            values[name] = line[0]
    raise AssertionError(f"done never rose in {path}")


def test_a_walk_takes_the_cycles_its_waveform_shows(generated, tmp_path):
    """Latency 1, no stalls, an empty memory: the level-4 entry reads 0 and the walk
    faults after one reference. Edge 1 samples start and the memory takes the read the
    walker makes from it (and answers it, latency 1), edge 2 the model takes the data,
    edge 3 it ends: 3 cycles, as the VCD shows (this failed before the testbench followed
    batch.py; 4 before the walker made its requests combinationally, issue 15)."""
    ref, model = generated["x86_64_paging"]
    sc = Scenario({k: 0 for k in ScenarioFactory(compile_spec(ROOT / "specs" / "x86_64_paging.vspec")).make(
        Draw(random.Random(0))).request}, {}, 0, {})
    run = harness.run_model(model, ref, [sc], harness.Timing(1, 1, 0), vcd=tmp_path / "walk.vcd")[0]
    assert run.outcome["fault"] == "not_present" and len(run.trace) == 1
    assert run.cycles == 3 == _vcd_cycles(tmp_path / "walk.vcd")


@pytest.mark.xdist_group("hdl-x86_64_paging-None")
@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_myhdl_and_the_hdl_count_the_same_cycles(generated, specs, backend):
    """The same scenarios, random latencies and stalls: every backend reports the same
    trace and the same cycles as the MyHDL testbench, scenario by scenario."""
    ref, model = generated["x86_64_paging"]
    spec = specs["x86_64_paging"]
    factory = ScenarioFactory(spec)
    draw = Draw(random.Random(3))
    scs = [factory.draw_scenario(draw, lambda sc: harness.run_reference(ref, sc).outcome) for _ in range(40)]
    timing = harness.Timing(1, 6, 30)
    mine = harness.run_model(model, ref, scs, timing)
    theirs = runner.make(backend, spec, ROOT / "generated" / "x86_64_paging", ref, model).run(scs, timing)
    assert [r.cycles for r in mine] == [r.cycles for r in theirs]
    assert [r.trace for r in mine] == [r.trace for r in theirs]


@pytest.mark.xdist_group("hdl-intel_vmx-None")
def test_myhdl_and_ghdl_count_the_same_cycles(generated, specs):
    ref, model = generated["intel_vmx"]
    spec = specs["intel_vmx"]
    from codegen.verify.stimulus.unit import UnitScenarioFactory
    factory = UnitScenarioFactory(spec)
    draw = Draw(random.Random(3))
    scs = [factory.make(draw) for _ in range(40)]
    timing = harness.Timing(1, 6, 30)
    mine = harness.run_model(model, ref, scs, timing)
    theirs = runner.make("ghdl", spec, ROOT / "generated" / "intel_vmx", ref, model).run(scs, timing)
    assert [r.cycles for r in mine] == [r.cycles for r in theirs]


@pytest.mark.parametrize("name", ["x86_64_paging", "amd_npt", "intel_vmx"])
def test_model_outcomes_are_model_outcome_of_each_row(generated, name):
    """The columnar outcomes of a batch backend (a translation's successes without a dict of
    ports each) are what model_outcome gives, row by row; {} for a timed-out run."""
    ref, model = generated[name]
    names = [n for n in model.PORT_ORDER if n.startswith("o_")]
    rng = random.Random(3)
    rows = [tuple(rng.choice([0, 0, 1, 2, 3]) if n == "o_status" else rng.getrandbits(20) for n in names)
            for _ in range(200)]
    timed_out = [rng.random() < 0.1 for _ in rows]
    want = [{} if t else harness.model_outcome(ref, dict(zip(names, r))) for r, t in zip(rows, timed_out)]
    assert harness.model_outcomes(ref, names, rows, timed_out) == want
