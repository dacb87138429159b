"""Nothing hangs (issue 12): a model that never finishes is a mismatch, not a hang."""
import contextlib
import json
import signal
from collections import Counter
from pathlib import Path

import pytest
from conftest import SPECS

from codegen.cli import main
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim, harness

DATA = Path(__file__).resolve().parents[1] / "data"
TOY = DATA / "toy.vspec"

# the fault state never pulses `done` and never leaves: only a reset gets the model out
NEVER_DONE = ("            done.next = True\n            st.next = S.IDLE\n        elif st == S.ADREQ:",
              "            st.next = S.FAULT\n        elif st == S.ADREQ:")


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail (not hang) when the body takes longer than `seconds`."""
    def expired(signum, frame):
        raise AssertionError(f"still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _generated(root: Path, spec_path: Path = TOY) -> Path:
    """generated/ of one spec under `root` (what --generated names): the model folder."""
    spec = compile_spec(spec_path)
    emit.write(emit.render(spec), emit.out_dir(spec, root))
    return root


def test_model_that_never_finishes_is_a_mismatch_and_the_run_goes_on(tmp_path):
    spec = compile_spec(TOY)
    out = emit.out_dir(spec, _generated(tmp_path / "gen"))
    text = (out / "model.py").read_text()
    assert text.count(NEVER_DONE[0]) == 1
    (out / "model.py").write_text(text.replace(*NEVER_DONE))
    with deadline(120):  # a hang fails here; how fast it goes is `virtspec bench`'s to measure
        report = cosim.run(spec, out, walks=60, seed=4, vcd_dir=tmp_path / "vcd")
    assert report.transactions == 60
    ref, _ = harness.load_generated(out)
    stim = cosim.Stimulus(spec, ref, 60, 4)
    faults = [i for i in range(60) if not harness.run_reference(ref, stim.one(i)).outcome["ok"]]
    assert 0 < len(faults) < 60
    # exactly the faulting walks time out: the walks after each one (reset) agree
    assert report.mismatched == faults
    limit = harness.cycle_limit(spec, report.timing)
    assert report.cycle_limit == limit and max(report.cycles) <= limit + 2
    failure = report.failures[0]
    assert failure.what[0] == f"model did not finish within {limit} cycles"
    assert failure.vcd.exists() and failure.vcd.stat().st_size > 0
    entry = report.to_model().failures[0]
    assert entry.outcome.model is None and entry.differences[0] == failure.what[0]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_cycle_limit_bounds_every_shipped_transaction(specs, generated, name):
    """The reference bound derived from the IR covers what the references do, and the
    limit what the models take at the slowest memory (64 cycles, 90% stalls). One test a
    spec, so that the workers share them (one test of every spec was CI's longest, 50 s)."""
    slow = harness.Timing(64, 64, 90)
    spec = specs[name]
    ref, model = generated[name]
    stim = cosim.Stimulus(spec, ref, 5, 9)  # 5 at the slowest memory
    scs = [stim.one(i) for i in range(5)]
    refs = max(len(harness.run_reference(ref, sc).trace) for sc in scs)
    assert refs <= harness.max_references(spec), name
    runs = harness.run_model(model, ref, scs, slow, limit=harness.cycle_limit(spec, slow))
    assert not any(r.timeout for r in runs), name
    assert max(r.cycles for r in runs) * 2 < harness.cycle_limit(spec, slow), name


@pytest.mark.parametrize("args, expected", [
    (["--max-latency", "1000000"], "expected --max-latency from 1 to 64, not 1000000"),
    (["--min-latency", "1000000"], "expected --min-latency from 1 to 64, not 1000000"),
    (["--min-latency", "1000000", "--max-latency", "1000000"], "expected --min-latency from 1 to 64, not 1000000"),
    (["--min-latency", "0"], "expected --min-latency from 1 to 64, not 0"),
    (["--max-latency", "65"], "expected --max-latency from 1 to 64, not 65"),
    (["--stall", "91"], "expected --stall as a percentage from 0 to 90, not 91"),
    (["--stall", "-1"], "expected --stall as a percentage from 0 to 90, not -1"),
])
def test_latency_and_stall_options_are_bounded(capsys, args, expected):
    """--min-latency 1000000 made one walk take 40 s: latencies are 1 to 64 cycles."""
    assert main(["cosim", str(TOY), "--walks", "1", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: virtspec cosim ") and f"virtspec cosim: error: {expected}" in err


def test_longest_latency_still_runs(capsys, tmp_path):
    assert main(["cosim", str(TOY), "--walks", "3", "--min-latency", "64", "--max-latency", "64", "--stall", "90",
                 "--generated", str(_generated(tmp_path)), "--vcd-dir", str(tmp_path / "vcd"), "--quiet"]) == 0


def _many_faults(path: Path, count: int) -> Path:
    """The toy spec with `count` more walk faults, all of one condition but the last
    bit: only the first two can ever fire, the search finds none of the others."""
    text = TOY.read_text()
    faults = "".join(f"    fault f{k} when V && A && W == {k % 2};\n" for k in range(count))
    text = text.replace("spec toy_paging;", "spec toy_faults;")
    text = text.replace("    fault reserved when rsvd;\n", "    fault reserved when rsvd;\n" + faults)
    path.write_text(text)
    return path


def test_coverage_search_of_many_faults_is_bounded_and_says_what_it_gave_up(capsys, tmp_path):
    """100 faults at --walks 100 ran 900 s without output: the search now has a budget
    of reference runs, and the report names what it did not reach."""
    spec_path = _many_faults(tmp_path / "faults.vspec", 100)
    gen = _generated(tmp_path / "gen", spec_path)
    capsys.readouterr()
    with deadline(240):  # the search's budget bounds it; a run past the deadline fails
        rc = main(["cosim", str(spec_path), "--walks", "100", "--generated", str(gen), "--vcd-dir",
                   str(tmp_path / "vcd"), "--json", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert data["transactions"] == 100 and data["mismatches"] == 0
    coverage = data["coverage"]
    assert "top fault f99" in coverage["missing"] and "top fault f99 at level 1" in coverage["missing"]
    assert "not attempted" in coverage["note"] and "reference runs" in coverage["note"]


def test_coverage_search_budget_keeps_the_run_reproducible(tmp_path):
    """The budget is a count: a replayed scenario of the directed part is the run's."""
    spec_path = _many_faults(tmp_path / "faults.vspec", 12)
    spec = compile_spec(spec_path)
    ref, _ = harness.load_generated(emit.out_dir(spec, _generated(tmp_path / "gen", spec_path)))
    stim = cosim.Stimulus(spec, ref, 100, 3)
    stim.search_budget = 300
    run = []
    coverage = Counter()
    for _, scenarios in stim.batches(coverage):
        run += scenarios
        for sc in scenarios:
            coverage.update(stim.keys(sc, harness.run_reference(ref, sc)))
    assert stim.not_attempted  # the budget ran out
    again = cosim.Stimulus(spec, ref, 100, 3)
    again.search_budget = 300
    assert [again.scenario(i) for i in (90, 95, 99)] == [run[90], run[95], run[99]]
    assert "not attempted" in stim.gave_up([k for k in stim.expected if k not in coverage])
