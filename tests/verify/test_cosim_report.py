"""Issue 11, "Output a script can rely on": `virtspec cosim --json` has one published
schema for walks and events (`virtspec schema cosim`); mismatches are in hex, with a
scenario file and a replay command that works; --replay N re-runs scenario N of a seed
(also in the coverage-directed last tenth) and --scenario FILE a saved one;
--require-coverage; exit statuses 0, 1 and 2."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from codegen.cli import main
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim, harness, report
from codegen.verify.report import CosimReport, ScenarioFile
from codegen.verify.stimulus.translation import Scenario

DATA = Path(__file__).resolve().parents[1] / "data"
TOY, UNIT = DATA / "toy.vspec", DATA / "toy_unit.vspec"
ROOT = Path(__file__).resolve().parents[2]

# a bit of the level-2 table pointer is lost: the level-1 read goes elsewhere
WALK_MUTATION = ("table = e & 0xfffffff000", "table = e & 0xffffffe000")
# the io exit's record code is 5, not 1: the outcome and the record's write differ
UNIT_MUTATION = ("(1 & 0xff),  # code", "(5 & 0xff),  # code")


def _generate(root: Path, spec_path: Path, mutation: tuple[str, str] | None = None) -> Path:
    """generated/ of one spec under `root` (the folder --generated names); with a
    mutation, the reference is changed after generating."""
    spec = compile_spec(spec_path)
    out = emit.out_dir(spec, root)
    emit.write(emit.render(spec), out)
    if mutation:
        text = (out / "reference.py").read_text()
        assert mutation[0] in text
        (out / "reference.py").write_text(text.replace(mutation[0], mutation[1]))
    return out


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    _generate(root, TOY)
    _generate(root, UNIT)
    return root


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    _generate(root, TOY, WALK_MUTATION)
    _generate(root, UNIT, UNIT_MUTATION)
    return root


@pytest.fixture
def not_stale(monkeypatch):
    """Let the CLI use a mutated generated folder (it refuses stale ones)."""
    monkeypatch.setattr(emit, "stale", lambda files, directory: [])


def _cosim(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["cosim", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _schema(capsys, name: str = "cosim") -> dict:
    capsys.readouterr()
    assert main(["schema", name]) == 0
    return json.loads(capsys.readouterr().out)


def _validated(capsys, text: str, schema_name: str = "cosim"):
    """The JSON printed, checked against the published schema twice: by the pydantic
    model and by jsonschema on `virtspec schema NAME`."""
    model = {"cosim": CosimReport, "scenario": ScenarioFile}[schema_name]
    data = model.model_validate_json(text)
    jsonschema.validate(json.loads(text), _schema(capsys, schema_name))
    return data


# ---------------------------------------------------------------- 1. the schema
def test_schema_command_lists_and_prints_the_cosim_schema(capsys):
    assert main(["schema"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"^cosim\s+the output of cosim --json$", listed, re.M)
    assert re.search(r"^scenario\s+", listed, re.M)
    schema = _schema(capsys)
    assert schema == CosimReport.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {"spec", "kind", "seed", "options", "transactions", "mismatches", "failures", "coverage",
            "memory_references", "cycles", "throughput"} <= set(schema["required"])


@pytest.mark.parametrize("spec_path, kind, option", [(TOY, "translation", "--walks"), (UNIT, "unit", "--events")])
def test_json_output_follows_the_published_schema(capsys, gen, tmp_path, spec_path, kind, option):
    rc, out, _ = _cosim(capsys, spec_path, option, 50, "--seed", 3, "--generated", gen, "--vcd-dir", tmp_path,
                        "--json", "--stall", 10)
    assert rc == 0
    assert out.count("\n") == 1, "one JSON object on one line"
    data = _validated(capsys, out)
    assert data.kind == kind and data.spec.name == compile_spec(spec_path).name
    assert Path(data.spec.path) == spec_path.resolve()
    assert data.seed == 3 and data.transactions == 50 and data.mismatches == 0 and data.failures == []
    assert data.options.requested == 50 and data.options.stall_percent == 10
    assert (data.options.min_latency, data.options.max_latency) == (1, 4)
    assert data.memory_references.max >= 1 and data.cycles.mean > 0 and data.cycles.max >= data.cycles.mean
    assert data.throughput.overall > 0 and data.throughput.model > 0 and data.throughput.reference > 0
    c = data.coverage
    assert sum(c.hit.values()) >= 50 and not set(c.missing) & set(c.hit) and 0 <= c.percent <= 100
    # no walk- or event-specific key anywhere
    assert not re.search(r'"\w*(walk|event)s?_\w*"', out)


def test_unit_mix_is_in_the_options(capsys, gen, tmp_path):
    rc, out, _ = _cosim(capsys, UNIT, "--mix", "IO=20,HALT=10", "--generated", gen, "--vcd-dir", tmp_path, "--json")
    data = _validated(capsys, out)
    assert rc == 0 and data.transactions == 30 and data.options.mix == {"IO": 20, "HALT": 10}
    assert data.options.requested == 30 and data.coverage.hit["event IO"] == 20


def test_coverage_percent_counts_reachable_points_only(specs):
    """A point unreachable by construction is listed apart and never missing; the
    percent is of the reachable points."""
    expected, unreachable = cosim.expected_coverage(specs["amd_npt"])
    assert "host fault smep" in unreachable and "host fault smep" not in expected
    r = cosim.Report(expected=["a", "b", "c", "d"], unreachable=["u"], missing=["d"], coverage=Counter(a=1, b=2, c=1))
    data = r.to_model()
    assert data.coverage.percent == 75.0 and data.coverage.missing == ["d"] and data.coverage.unreachable == ["u"]


def test_missing_points_that_may_need_state_are_marked_and_still_missing():
    """needs_state (stimulus.unit.needs_state) marks the missing points only: a marked point
    that was hit is not listed, and a marked one missing still counts against the percent."""
    r = cosim.Report(expected=["a", "b", "c", "d"], missing=["c", "d"], coverage=Counter(a=1, b=2),
                     needs_state={"b": "why b", "c": "why c"})
    data = r.to_model()
    assert data.coverage.needs_state == {"c": "why c"} and data.coverage.missing == ["c", "d"]
    assert data.coverage.percent == 50.0


# ---------------------------------------------------------------- 1+2. a forced mismatch
def _replay_argv(command: str) -> list[str]:
    """The arguments after the program of a replay command line, checking the program."""
    words = shlex.split(command)
    at = words.index("cosim")
    program = words[:at]
    assert program == ["virtspec"] or Path(program[0]).name.startswith("python"), program
    assert program[-1] == str(ROOT / "cli.py") or program[-2:] == ["-m", "codegen"] or program == ["virtspec"]
    return words[at:]


def test_mismatch_entry_is_complete_and_its_replay_command_works(capsys, bad, tmp_path, not_stale):
    vcd_dir = tmp_path / "vcd"
    rc, out, err = _cosim(capsys, TOY, "--walks", 60, "--generated", bad, "--vcd-dir", vcd_dir, "--json")
    assert rc == 1
    data = _validated(capsys, out)
    assert data.mismatches == len(data.mismatched) > 3 and len(data.failures) == 3
    assert [f.index for f in data.failures] == data.mismatched[:3]
    assert f"showing 3 of {data.mismatches} mismatches" in err
    f = data.failures[0]
    # the scenario, in hex, and it is the one the failure describes
    sc = report.scenario_of(f.scenario)
    assert all(re.fullmatch(r"0x[0-9a-f]+", v) for v in [*f.scenario.request.values(), *f.scenario.memory,
                                                         *f.scenario.memory.values()])
    ref, model = harness.load_generated(bad / "toy_paging")
    a = harness.run_reference(ref, sc)
    assert report.hex_values(a.outcome) == f.outcome.reference and f.outcome.model is not None
    assert f.differences and f.outcome.reference.get("pa", "0x").startswith("0x")
    d = f.first_trace_difference  # the mutation moves the level-1 read: the traces always differ
    assert d is not None and d.reference != d.model
    assert d.reference.address.startswith("0x") and d.model.address.startswith("0x")
    assert [report.trace_entry(t) for t in a.trace[:d.index]] == [report.trace_entry(t) for t in
                                                                   harness.run_model(model, ref, [sc])[0].trace[:d.index]]
    assert f.vcd and Path(f.vcd).stat().st_size > 0 and Path(f.vcd).parent == vcd_dir
    saved = _validated(capsys, Path(f.scenario_file).read_text(), "scenario")
    assert Path(f.scenario_file) == Path(f.vcd).with_suffix(".json")
    assert saved.scenario == f.scenario and saved.index == f.index and saved.seed == 1
    assert list(vcd_dir.glob("*.vcd")) and not [p for p in vcd_dir.iterdir() if p.name.count(".") > 1]

    # the replay command re-runs exactly this scenario: same outcomes, a new VCD
    argv = _replay_argv(f.replay)
    assert "--scenario" in argv and f.scenario_file in argv
    capsys.readouterr()
    assert main([*argv, "--json"]) == 1
    again = _validated(capsys, capsys.readouterr().out)
    assert again.transactions == 1 and again.mismatched == [f.index]
    g = again.failures[0]
    assert (g.scenario, g.outcome, g.first_trace_difference) == (f.scenario, f.outcome, f.first_trace_difference)
    assert Path(g.vcd).name == f"mismatch_{f.index}_replay.vcd" and Path(g.vcd).stat().st_size > 0

    # and the unshrunk one re-runs scenario N of the seed, which mismatches too
    argv = _replay_argv(f.replay_unshrunk)
    assert argv[argv.index("--replay") + 1] == str(f.index) and argv[argv.index("--seed") + 1] == "1"
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"walk {f.index} of seed 1: the models disagree" in err
    assert (vcd_dir / f"replay_{f.index}.vcd").stat().st_size > 0


def test_unit_mismatch_entry(capsys, bad, tmp_path, not_stale):
    rc, out, err = _cosim(capsys, UNIT, "--events", 60, "--generated", bad, "--vcd-dir", tmp_path, "--json",
                          "--max-failures", 1)
    assert rc == 1
    data = _validated(capsys, out)
    f = data.failures[0]
    assert data.kind == "unit" and len(data.failures) == 1
    assert f.outcome.reference["fields"] == {"code": "0x5"} and f.outcome.model["fields"] == {"code": "0x1"}
    assert f.first_trace_difference.reference.op == "write" and f.first_trace_difference.reference.value == "0x5"
    assert [m.reference for m in f.memory_differences] == ["0x5"]
    if data.mismatches > 1:
        assert f"showing 1 of {data.mismatches} mismatches (in events {data.mismatched[0]}, " in err
    assert "MISMATCH in event" in err


def test_text_output_is_in_hex(capsys, bad, tmp_path, not_stale):
    rc, out, err = _cosim(capsys, TOY, "--walks", 40, "--generated", bad, "--vcd-dir", tmp_path)
    assert rc == 1
    assert re.search(r"^showing 3 of \d+ mismatches", err, re.M)
    blocks = err.split("MISMATCH in walk ")[1:]
    assert len(blocks) == 3
    for block in blocks:
        described = block.split("VCD of the model:")[0]
        # a number of 3 digits or more is hex (the latency seed is a seed, not a value)
        numbers = re.findall(r"(?<![\w.])(\d{3,})(?![\w.])", described.replace("latency seed: ", "seed "))
        seeds = re.findall(r"seed (\d+)", described.replace("latency seed: ", "seed "))
        assert set(numbers) <= set(seeds), block
        assert re.search(r"pa: 0x[0-9a-f]+|memory reference #\d+: reference [RW]\d+\[0x", block), block
        assert "replay: " in block and "scenario file: " in block
    assert re.search(r"^toy_paging: 40 walks, \d+ mismatches$", out, re.M)


def test_compare_and_describe_speak_hex():
    a = harness.Run({"ok": True, "pa": 4096 + 15, "level": 2}, [(0, 0x2000, 8, 4099)], {0x2000: 4099})
    b = harness.Run({"ok": False, "fault": "invalid", "level": 1, "fields": {"addr": 300}}, [(0, 0x3000, 8, 0)],
                    {0x2000: 4099, 0x3000: 1})
    what = harness.compare(a, b)
    assert what[0] == ("outcome: reference {ok: True, pa: 0x100f, level: 2} != model "
                       "{ok: False, fault: invalid, level: 1, fields: {addr: 0x12c}}")
    assert what[1] == "memory reference #0: reference R8[0x2000]=0x1003 != model R8[0x3000]=0x0"
    assert what[2] == "final memory differs at 0x3000"
    text = harness.describe(Scenario({"va": 300}, {0x2000: 4099}, 7))
    assert "va = 0x12c" in text and "[0x000000002000] = 0x0000000000001003" in text


# ---------------------------------------------------------------- 3. replay
def _recorded(monkeypatch, spec, directory, count, seed, mix=None) -> list[Scenario]:
    """Every scenario a real run checks, in order."""
    seen: list[Scenario] = []
    check = cosim._check_batch

    def spy(ref, model, stim, scenarios, *rest):
        seen.extend(scenarios)
        return check(ref, model, stim, scenarios, *rest)

    monkeypatch.setattr(cosim, "_check_batch", spy)
    r = cosim.run(spec, directory, count, seed, mix=mix)
    monkeypatch.setattr(cosim, "_check_batch", check)
    assert len(seen) == r.transactions
    return seen


@pytest.mark.parametrize("spec_path, mix", [(TOY, None), (UNIT, None), (UNIT, {"IO": 70, "HALT": 50})])
def test_replay_draws_the_same_scenario_as_the_run(monkeypatch, gen, tmp_path, spec_path, mix):
    """Scenario N alone is scenario N of the run: in the random part (drawn from its
    own seed) and in the coverage-directed last tenth (after a reference-only redraw)."""
    spec = compile_spec(spec_path)
    directory = emit.out_dir(spec, gen)
    count = 120
    seen = _recorded(monkeypatch, spec, directory, count, 5, mix)
    ref, _ = harness.load_generated(directory)
    stim = cosim.Stimulus(spec, ref, count, 5, mix)
    assert stim.directed_from == 108
    for n in (0, 41, 107, 108, 111, 119):
        assert stim.scenario(n) == seen[n], n
    r = cosim.replay(spec, directory, count, 5, 113, vcd_dir=tmp_path, mix=mix)
    assert r.single[0] == seen[113] and r.transactions == 1 and r.replay == 113
    assert (tmp_path / "replay_113.vcd").stat().st_size > 0
    saved = report.read_scenario_file(tmp_path / "replay_113.json")
    assert report.scenario_of(saved.scenario) == seen[113] and saved.index == 113


_DRAW_ONE = """
import sys
from codegen.frontend.pipeline import compile_spec
from codegen.verify import cosim, harness
from codegen.verify.report import scenario_data
spec = compile_spec(sys.argv[1])
ref, _ = harness.load_generated(sys.argv[2])
print(scenario_data(cosim.Stimulus(spec, ref, int(sys.argv[3]), 9).scenario(int(sys.argv[4]))).model_dump_json())
"""


@pytest.mark.parametrize("spec_path, directory, count, index", [
    (TOY, None, 120, 115),  # in the directed tenth
    (ROOT / "specs" / "amd_iommu.vspec", ROOT / "generated" / "amd_iommu", 1000, 617),  # a unit with walks
])
def test_a_scenario_is_the_same_in_another_process(gen, spec_path, directory, count, index):
    """--replay runs in a new process, with another string hash seed: nothing in the
    stimulus may depend on it."""
    spec = compile_spec(spec_path)
    directory = directory or emit.out_dir(spec, gen)
    ref, _ = harness.load_generated(directory)
    here = report.scenario_data(cosim.Stimulus(spec, ref, count, 9).scenario(index)).model_dump_json()
    other = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    env = {**os.environ, "PYTHONHASHSEED": other}
    there = subprocess.run([sys.executable, "-c", _DRAW_ONE, str(spec_path), str(directory), str(count), str(index)],
                           cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert there == here


def test_replay_reproduces_the_mismatches_of_a_run(capsys, bad, tmp_path, not_stale):
    """Each mismatching N of a run mismatches again under --replay N, and a scenario the
    run passed passes (the directed last tenth included)."""
    common = ["--walks", 120, "--seed", 2, "--generated", bad, "--vcd-dir", tmp_path]
    rc, out, _ = _cosim(capsys, TOY, *common, "--json", "--max-failures", 0)
    data = _validated(capsys, out)
    assert rc == 1 and data.failures == []
    late = [n for n in data.mismatched if n >= 108][:2]
    passed = [n for n in range(120) if n not in data.mismatched]
    for n in late + data.mismatched[:1] + [passed[-1]]:
        rc, out, _ = _cosim(capsys, TOY, *common, "--replay", n, "--json")
        one = _validated(capsys, out)
        assert (rc == 1) == (n in data.mismatched) and one.mismatched == ([n] if n in data.mismatched else [])
        assert one.options.replay == n and (tmp_path / f"replay_{n}.vcd").exists()


def test_replay_text_output(capsys, gen, tmp_path):
    rc, out, err = _cosim(capsys, TOY, "--walks", 50, "--replay", 7, "--generated", gen, "--vcd-dir", tmp_path)
    assert rc == 0, err
    assert "toy_paging: walk 7 of seed 1: reference and model agree" in out
    assert re.search(r"^  outcome: \{ok: (True, pa: 0x[0-9a-f]+|False, fault: \w+.*addr: 0x[0-9a-f]+)", out, re.M)
    assert f"VCD of the model: {tmp_path / 'replay_7.vcd'}" in out and (tmp_path / "replay_7.vcd").exists()
    assert f"scenario file: {tmp_path / 'replay_7.json'}" in out


def test_scenario_file_of_a_unit_round_trips(capsys, gen, tmp_path):
    rc, _, _ = _cosim(capsys, UNIT, "--events", 30, "--replay", 4, "--generated", gen, "--vcd-dir", tmp_path)
    assert rc == 0
    rc, out, _ = _cosim(capsys, UNIT, "--scenario", tmp_path / "replay_4.json", "--generated", gen,
                        "--vcd-dir", tmp_path, "--json")
    data = _validated(capsys, out)
    assert rc == 0 and data.kind == "unit" and data.options.scenario_file == str(tmp_path / "replay_4.json")
    assert (tmp_path / "replay_4_replay.vcd").exists()


def test_scenario_file_timing_is_replayed_unless_overridden(capsys, gen, tmp_path):
    assert _cosim(capsys, TOY, "--walks", 10, "--replay", 2, "--min-latency", 2, "--max-latency", 3, "--stall", 0,
                  "--generated", gen, "--vcd-dir", tmp_path)[0] == 0
    path = tmp_path / "replay_2.json"
    rc, out, _ = _cosim(capsys, TOY, "--scenario", path, "--generated", gen, "--vcd-dir", tmp_path, "--json")
    o = CosimReport.model_validate_json(out).options
    assert (o.min_latency, o.max_latency, o.stall_percent) == (2, 3, 0)
    rc, out, _ = _cosim(capsys, TOY, "--scenario", path, "--stall", 30, "--generated", gen, "--vcd-dir", tmp_path,
                        "--json")
    o = CosimReport.model_validate_json(out).options
    assert (o.min_latency, o.max_latency, o.stall_percent) == (2, 3, 30)


# ---------------------------------------------------------------- 4. --require-coverage
def test_require_coverage(capsys, gen, tmp_path):
    rc, out, err = _cosim(capsys, TOY, "--walks", 3, "--require-coverage", "--generated", gen, "--vcd-dir", tmp_path)
    assert rc == 1
    line = next(x for x in err.splitlines() if x.startswith("coverage required: "))
    missing = line.split(" not hit: ")[1].split(", ")
    assert re.match(r"coverage required: \d+ reachable points? not hit: ", line) and missing
    assert "  not covered: " + ", ".join(missing) in out
    # a full run: the same option passes
    rc, out, err = _cosim(capsys, TOY, "--walks", 150, "--require-coverage", "--generated", gen, "--vcd-dir", tmp_path)
    assert rc == 0, err
    assert "coverage: 100.0% of 11 reachable points" in out and "coverage required" not in err


# ---------------------------------------------------------------- 5. usage errors: exit 2
def _usage(capsys, *args) -> str:
    rc, _, err = _cosim(capsys, *args)
    assert rc == 2, err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_replay_beyond_the_run_is_a_usage_error(capsys, gen):
    assert _usage(capsys, TOY, "--walks", 1000, "--replay", 5000, "--generated", gen) == \
        "virtspec cosim: error: expected a scenario number below 1000, not 5000"
    assert _usage(capsys, TOY, "--replay", 1000, "--generated", gen).endswith("below 1000, not 1000")
    assert _usage(capsys, UNIT, "--mix", "IO=2,HALT=3", "--replay", 5, "--generated", gen).endswith(
        "expected a scenario number below 5, not 5")
    assert _usage(capsys, TOY, "--replay", -1, "--generated", gen).endswith("from 0 to 999, not -1")


def test_option_combinations_are_usage_errors(capsys, gen, tmp_path):
    assert "not both" in _usage(capsys, TOY, "--replay", 1, "--scenario", tmp_path / "x.json", "--generated", gen)
    assert "--require-coverage applies to a whole run" in _usage(capsys, TOY, "--replay", 1, "--require-coverage")
    assert "not -1" in _usage(capsys, TOY, "--max-failures", -1)
    assert "not 0" in _usage(capsys, TOY, "--walks", 0)


def _scenario_file(capsys, gen, tmp_path) -> dict:
    assert _cosim(capsys, TOY, "--walks", 10, "--replay", 1, "--generated", gen, "--vcd-dir", tmp_path)[0] == 0
    return json.loads((tmp_path / "replay_1.json").read_text())


@pytest.mark.parametrize("breakage, message", [
    ("missing", "cannot read scenario file"),
    ("directory", "cannot read scenario file"),
    ("not json", "expected a JSON scenario file written by `virtspec cosim`"),
    ("a list", "expected a JSON object in scenario file"),
    ("decimal address", "at scenario.memory."),
    ("no request", "at scenario.request: expected a value (the field is required), not nothing"),
    ("value not hex", "at scenario.request.va: expected a hex string such as 0x1f, not '12'"),
    ("other spec", "expected a scenario of spec 'toy_paging'"),
    ("unit kind", "expected a scenario of a translation"),
    ("unknown field", "expected the request fields va, write, PTBR (no field 'bogus')"),
    ("too wide", "expected a value of at most 64 bits for request field 'PTBR', not 0x1"),
    ("wide word", "expected memory words of at most 64 bits"),
])
def test_malformed_scenario_files_are_usage_errors(capsys, gen, tmp_path, breakage, message):
    data = _scenario_file(capsys, gen, tmp_path)
    path = tmp_path / "broken.json"
    sc = data["scenario"]
    if breakage == "decimal address":
        sc["memory"] = {"4096": "0x1"}
    elif breakage == "no request":
        del sc["request"]
    elif breakage == "value not hex":
        sc["request"]["va"] = "12"
    elif breakage == "other spec":
        data["spec"]["name"] = "other"
    elif breakage == "unit kind":
        data["kind"] = "unit"
    elif breakage == "unknown field":
        sc["request"]["bogus"] = "0x1"
    elif breakage == "too wide":
        sc["request"]["PTBR"] = hex(1 << 64)
    elif breakage == "wide word":
        sc["memory"] = {"0x1000": hex(1 << 64)}
    text = {"not json": "{not json", "a list": "[1, 2]"}.get(breakage, json.dumps(data))
    if breakage == "directory":
        path.mkdir()
    elif breakage != "missing":
        path.write_text(text)
    err = _usage(capsys, TOY, "--scenario", path, "--generated", gen, "--vcd-dir", tmp_path)
    assert message in err, err
    assert not (tmp_path / "broken_replay.vcd").exists()


def test_an_unwritable_vcd_folder_is_an_environment_error(capsys, gen, tmp_path):
    (tmp_path / "file").write_text("")
    err = _usage(capsys, TOY, "--walks", 5, "--replay", 1, "--generated", gen, "--vcd-dir", tmp_path / "file")
    assert err.startswith(f"virtspec cosim: error: cannot write VCDs and scenario files in '{tmp_path / 'file'}'")


def test_stale_generated_files_still_exit_1(capsys, bad, tmp_path):
    rc, _, err = _cosim(capsys, TOY, "--walks", 5, "--generated", bad, "--vcd-dir", tmp_path)
    assert rc == 1 and "missing or stale" in err


def test_a_copied_scenario_folder_still_replays(capsys, bad, tmp_path, not_stale):
    """The scenario file is all a replay needs: moved elsewhere, it still runs."""
    rc, out, _ = _cosim(capsys, TOY, "--walks", 30, "--generated", bad, "--vcd-dir", tmp_path / "a", "--json",
                        "--max-failures", 1)
    f = CosimReport.model_validate_json(out).failures[0]
    moved = tmp_path / "b" / "one.json"
    moved.parent.mkdir()
    shutil.copy(f.scenario_file, moved)
    rc, _, err = _cosim(capsys, TOY, "--scenario", moved, "--generated", bad, "--vcd-dir", tmp_path / "b")
    assert rc == 1 and "scenario file " in err and (tmp_path / "b" / "one_replay.vcd").exists()


def test_the_program_of_replay_commands_runs_from_anywhere(gen, tmp_path):
    """Replay commands start virtspec as this run was started (here: this Python on the
    checkout's cli.py), so they run this virtspec from any working directory."""
    from codegen.cli.cosim import _program
    program = _program()
    assert program[0] == sys.executable and Path(program[-1]) == ROOT / "cli.py"
    done = subprocess.run([*program, "cosim", str(TOY), "--walks", "20", "--replay", "19", "--generated", str(gen),
                           "--vcd-dir", "here"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "walk 19 of seed 1: reference and model agree" in done.stdout
    assert (tmp_path / "here" / "replay_19.vcd").exists()
