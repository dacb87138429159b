"""`cosim --sequences` (codegen/verify/seqcosim.py): both checks on shipped specs, the JSON
report, shards that give the same report, and the usage errors."""
import json
from pathlib import Path

import jsonschema
import pytest

from codegen.cli import main
from codegen.frontend.pipeline import compile_spec
from codegen.verify import seqcosim

ROOT = Path(__file__).resolve().parents[2]
PAGING = str(ROOT / "specs" / "x86_64_paging.vspec")


def test_a_short_run_agrees_and_reports_json(capsys):
    assert main(["cosim", PAGING, "--sequences", "3", "--steps", "50", "--json", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(["schema", "sequences"]) == 0
    jsonschema.validate(data, json.loads(capsys.readouterr().out))
    assert data["sequences"] == 3 and data["steps"] == 150
    assert data["mismatches"] == 0 and data["violations"] == 0
    assert set(data["hit_rate"]) == {"tlb", "psc"} and data["cycles_per_translation"] > 0


def test_shards_give_the_same_report():
    spec = compile_spec(Path(PAGING))
    gen = ROOT / "generated" / "x86_64_paging"
    one = seqcosim.run(spec, gen, 6, 3, model=False)
    two = seqcosim.run(spec, gen, 6, 3, model=False, jobs=2)
    assert one.as_json() == two.as_json()


@pytest.mark.parametrize("argv, expected", [
    (["--sequences", "0"], "expected --sequences of at least 1, not 0"),
    (["--sequences", "2", "--steps", "0"], "expected --steps from 1 to 100000, not 0"),
    (["--arch", PAGING], "--arch applies to --sequences"),
    (["--sequences", "2", "--replay", "1"], "it does not take --replay"),
])
def test_usage_errors(capsys, argv, expected):
    assert main(["cosim", PAGING, *argv]) == 2
    assert expected in capsys.readouterr().err


def test_a_spec_without_caches_is_a_usage_error(capsys):
    assert main(["cosim", str(ROOT / "specs" / "amd_svm.vspec"), "--sequences", "2"]) == 2
    assert "declares none" in capsys.readouterr().err


@pytest.fixture(scope="module")
def again(tmp_path_factory):
    """tests/data/toy_call_again.vspec and its generated reference (Python files only)."""
    from codegen.generate import emit
    spec = compile_spec(ROOT / "tests" / "data" / "toy_call_again.vspec")
    out = tmp_path_factory.mktemp("again")
    emit.write({k: v for k, v in emit.render(spec).items() if k.endswith(".py")}, out)
    return spec, out


def test_a_units_sequences_count_the_points_single_events_need_state_for(again):
    """Single events (300, reference only) cannot refuse call go on an entry call ask was
    answered on: they miss exactly points marked as needing state (the cosim report says
    so). Sequences change the entry between a fill and a hit (stores to a word both read,
    at a bit that changes the hit's decision: unit_sequence._shared) and reach them; the
    union covers every reachable point. Seconds: 300 events, 30 sequences of 40 steps."""
    from collections import Counter

    from codegen.verify import harness
    from codegen.verify.cosim import Stimulus
    spec, out = again
    ref, _ = harness.load_generated(out)
    stim, single = Stimulus(spec, ref, 300, 1), Counter()
    for _first, scenarios in stim.batches(single):
        for sc in scenarios:
            single.update(stim.keys(sc, harness.run_reference(ref, sc)))
    missing = [k for k in stim.expected if k not in single]
    assert {"call go.off", "call go.closed", "call go.legacy", "exit stale", "fate STALE"} <= set(missing)
    assert set(missing) <= set(stim.needs_state)
    seq = seqcosim.run(spec, out, 30, 1, length=40, model=False)
    assert seq.violations == [] and seq.unit_expected == stim.expected
    assert {"call go.off", "call go.closed", "call go.legacy", "exit stale", "fate STALE"} <= set(seq.unit_hits)
    assert [k for k in stim.expected if k not in single and k not in seq.unit_hits] == []
    data = seq.as_json()
    assert data["unit_coverage"]["expected"] == len(stim.expected)
    assert any(line.startswith("  unit coverage") for line in seq.lines())
