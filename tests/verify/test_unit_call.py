"""A unit that calls another unit (tests/data/toy_call.vspec calls the toy I/O unit of
tests/data/toy_walk_unit.vspec): golden cases computed by hand from the contract in
notes/unit-language.md ("Calls": the callee's reads and walk at its place in the order,
its stores at the call when it exits, then the caller's later steps, its rules and its own
stores), the cycle-level model on the same cases, co-simulation and conversion."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Scenario

DATA = Path(__file__).resolve().parents[1] / "data"
FNTAB, DEVTAB, LOG, PT = 0x10000, 0x100000, 0x200000, 0x300000
FNE = FNTAB + 2 * 8  # function 2's entry
DTE = DEVTAB + 5 * 16  # device 5: the low 8 bits of routing ID 0x305
SLOT = LOG + 2 * 16  # the log entry at the tail (TAIL = 2)
SEEN = FNTAB + 0x800
ROUTED = (0x305 << 8) | 1  # RID 0x305, EN


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    spec = compile_spec(DATA / "toy_call.vspec")
    out = tmp_path_factory.mktemp("call") / "toy_call"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


def request(**event) -> dict:
    return {"kind": 1, "fn": 2, "addr": 0, "write": 0, "FNTAB": FNTAB, "DEVTAB": DEVTAB, "LOG": LOG | (2 << 4)} | event


def decide(ref, mem: dict, **event):
    mem, trace, detail = dict(mem), [], {}
    return ref.decide(mem, request(**event), trace, detail), trace, mem, detail


def test_a_callee_fault_is_logged_at_the_call_then_the_caller_reads_its_record(generated):
    """Hand-computed: the function entry (RID 0x305 cut to device 5), the device entry
    (valid, translate, root PT), the walk's top entry (0: fault invalid, number 1); the
    callee's page_fault rule gives code 2 + 1 = 3 and where = addr, written to the log
    slot at the call; then the caller reads `seen` (io.exit && io.code != 0), its rule
    blocked gives code 0x20 + io.code and note io.where + seen.count, and its own store
    of note comes last."""
    _, _, (ref, _) = generated
    out, trace, after, detail = decide(ref, {FNE: ROUTED, DTE: PT | 0b11, SEEN: 0x40}, addr=0x1234)
    assert out == {"exit": True, "rule": "blocked", "fields": {"pa": 0, "code": 0x23, "note": 0x1234 + 0x40}}
    assert trace == [(0, FNE, 8, ROUTED), (0, DTE, 8, PT | 0b11), (0, PT, 8, 0),
                     (1, SLOT, 8, 3), (1, SLOT + 8, 8, 0x1234),
                     (0, SEEN, 8, 0x40), (1, SEEN + 8, 8, 0x1274)]
    assert after[SLOT] == 3 and after[SEEN + 8] == 0x1274
    assert detail["io"] == {"call": "io", "called": 1, "rule": "page_fault"}


def test_a_callee_translation_is_read_by_the_caller(generated):
    """The callee translates (two levels, accessed bits written by its walk, no log
    write); the caller's rule translated takes io.pa; `seen` is not read (io.code = 0)."""
    _, _, (ref, _) = generated
    mem = {FNE: ROUTED, DTE: PT | 0b11, PT + 8: 0x500000 | 0b11, 0x500010: 0x600000 | 0b11}
    out, trace, _, _ = decide(ref, mem, addr=(1 << 21) | (2 << 12) | 0x77)
    assert out == {"exit": True, "rule": "translated", "fields": {"pa": 0x600077, "code": 0, "note": 0}}
    assert [(op, a) for op, a, _, _ in trace] == [(0, FNE), (0, DTE), (0, PT + 8), (0, 0x500010), (1, PT + 8),
                                                   (1, 0x500010)]


def test_no_call_when_its_condition_is_false(generated):
    """A disabled function: the callee reads and writes nothing, every result is 0."""
    _, _, (ref, _) = generated
    out, trace, _, detail = decide(ref, {FNE: 0x305 << 8, DTE: PT | 0b11})
    assert out == {"exit": True, "rule": "no_function", "fields": {"pa": 0, "code": 0x10, "note": 0}}
    assert trace == [(0, FNE, 8, 0x305 << 8)]
    assert detail["io"] == {"call": "io", "called": 0, "rule": None}


def test_no_exit_of_the_callee_is_no_exit_of_the_caller(generated):
    """A probe of a valid, translating device: no rule of the callee holds (no walk), so
    nothing is stored and no rule of the caller holds either."""
    _, _, (ref, _) = generated
    out, trace, _, detail = decide(ref, {FNE: ROUTED, DTE: PT | 0b11}, kind=2)
    assert out == {"exit": False} and trace == [(0, FNE, 8, ROUTED), (0, DTE, 8, PT | 0b11)]
    assert detail["io"]["rule"] is None and detail["io"]["called"] == 1


def test_the_model_agrees_on_the_golden_cases(generated):
    _, _, (ref, model) = generated
    cases = [({FNE: ROUTED, DTE: PT | 0b11, SEEN: 0x40}, request(addr=0x1234)),
             ({FNE: ROUTED, DTE: PT | 0b11, PT + 8: 0x500000 | 0b11, 0x500010: 0x600000 | 0b11},
              request(addr=(1 << 21) | (2 << 12) | 0x77)),
             ({FNE: 0x305 << 8}, request()), ({FNE: ROUTED, DTE: PT | 0b11}, request(kind=2))]
    scenarios = [Scenario(req, mem, 7) for mem, req in cases]
    runs = harness.run_model(model, ref, scenarios)
    for sc, run in zip(scenarios, runs):
        assert harness.compare(harness.run_reference(ref, sc), run) == []


def test_the_call_cosimulates_with_every_callee_rule_covered(generated):
    spec, out, _ = generated
    report = cosim.run(spec, out, 300, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert {f"call io.{r}" for r in ("invalid_device", "passthrough", "translated", "page_fault")} <= set(
        report.coverage)


def test_the_model_converts_and_compiles(generated, tmp_path):
    _, _, (_, model) = generated
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files)
        assert ok, messages
    files = hdl.convert(model, "VHDL", tmp_path / "vhd")
    if shutil.which("ghdl"):
        ok, messages = hdl.analyse_vhdl(files)
        assert ok, messages


def test_calls_inside_a_callee_cosimulate(tmp_path):
    """tests/data/toy_call_nest.vspec: a call of a unit that calls another (the inner
    callee's store and bit-by-bit record at the inner call), both models agree and every
    rule of both callees is reached."""
    spec = compile_spec(DATA / "toy_call_nest.vspec")
    emit.write(emit.render(spec), tmp_path / "nest")
    report = cosim.run(spec, tmp_path / "nest", 300, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert {"call mid.fromi", "call mid.own", "call mid.i.hit", "call mid.i.miss"} <= set(report.coverage)


def test_what_constant_bindings_fold_is_unreachable_and_the_rest_is_covered(tmp_path):
    """tests/data/toy_call_fold.vspec: the callee walk's check and fault that the host's
    constant bindings rule out, and the rules that read them, are listed as unreachable
    with the reason; every other point is hit, and the models agree."""
    spec = compile_spec(DATA / "toy_call_fold.vspec")
    emit.write(emit.render(spec), tmp_path / "fold")
    report = cosim.run(spec, tmp_path / "fold", 300, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert set(report.unreachable) == {"exit probe_answered", "call d.answer", "walk d_t fault locked",
                                       "walk d_t fault probed", "walk d_t fault locked at level 2",
                                       "walk d_t fault locked at level 1"}
    assert "walk d_t" in report.why["walk d_t fault probed"] and "call d" in report.why["call d.answer"]
    assert report.to_model().coverage.why == report.why  # (cosim --json)
    assert {"walk d_t fault invalid at level 1", "walk d_t page level 1", "call g.admitted"} <= set(report.coverage)


def test_nested_walks_a_constant_binding_switches_off_are_unreachable_not_missing(tmp_path):
    """tests/data/toy_call_nested_off.vspec: front calls lookup with `tagged = 0`, so walk
    l_a (`when event.tagged`) never runs and walk l_b (`when l_a.ok`) neither: every point of
    both walks and the callee rules that read them are unreachable, each with the reason;
    the two points left (the callee's `passed`, the caller's `done`) are hit, 100 % of the
    reachable points, and the models agree (40 events: no walk runs, nothing is read)."""
    spec = compile_spec(DATA / "toy_call_nested_off.vspec")
    emit.write(emit.render(spec), tmp_path / "off")
    report = cosim.run(spec, tmp_path / "off", 40, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert set(report.expected) == {"call l.passed", "exit done"}
    walk_points = {f"walk {w} {p}" for w in ("l_a", "l_b") for p in
                   ("guest fault", "host fault", "page level 0", "page level 1", "page level 2", "page level 3",
                    "host page level 0", "host page level 1", "host page level 2")}
    assert walk_points | {"call l.first_fault", "call l.second_fault", "call l.found"} == set(report.unreachable)
    assert "walk l_b never runs" in report.why["walk l_b page level 0"]
    assert "call l" in report.why["call l.found"]
