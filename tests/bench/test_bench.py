"""The benchmark runs the model under the spec's own cycle watchdog, as cosim does."""
from codegen.bench import bench
from codegen.frontend.pipeline import compile_spec
from codegen.verify import harness


def test_time_model_passes_the_spec_cycle_limit(monkeypatch):
    spec = compile_spec(bench.SPECS / "x86_64_paging.vspec")
    seen = {}

    def fake_run_model(model, ref, scenarios, timing=None, vcd=None, limit=None):
        seen["limit"] = limit
        return []

    monkeypatch.setattr(harness, "run_model", fake_run_model)
    bench.time_model(spec, None, None, [], 1)
    timing = harness.Timing(bench.LATENCY, bench.LATENCY, 0)
    assert seen["limit"] == harness.cycle_limit(spec, timing) != harness.DEFAULT_CYCLE_LIMIT


def test_stimulus_section_has_a_row_pair_per_spec():
    """bench (g): scenarios/s, reference runs/s and compare + keys/s of every spec."""
    from codegen.bench import bench

    class Quiet:
        def describe(self, *a):
            pass

        def advance(self):
            pass

    paths = sorted(bench.SPECS.glob("*.vspec"))[:2]
    rows = bench.bench_stimulus(paths, 5, Quiet())
    assert len(rows) == 4 and rows[0][0] == "(g) cosim stimulus"
    assert rows[0][2].endswith("scenarios/s") and paths[1].stem in rows[2][1]
