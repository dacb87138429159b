"""Record-field defaults in a unit (tests/data/toy_unit_default.vspec): golden cases
computed by hand from notes/unit-language.md ("Records and exits": a field with a default
takes it in every exit rule that does not assign it; in a called unit the default is
evaluated in the callee's scope, on the call's bindings), the cycle-level model on the
same cases, co-simulation with full coverage and conversion."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Scenario

DATA = Path(__file__).resolve().parents[1] / "data"
BASE = 0x10000
PEND, FLAGS, MASK = BASE, BASE + 8, BASE + 0x100  # inner's st.pend, st.flags; outer's ctl.mask
PENDING = (0xAB << 40) | (1 << 31) | 0x2E  # a pending word, valid (bit 31), vector 2Eh, high bits set
IO, HALT, NOP = 1, 2, 3


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    spec = compile_spec(DATA / "toy_unit_default.vspec")
    out = tmp_path_factory.mktemp("default") / "toy_unit_default"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


def request(kind: int, tag: int) -> dict:
    return {"kind": kind, "tag": tag, "blk": BASE}


def decide(ref, mem: dict, kind: int, tag: int):
    mem, trace = dict(mem), []
    return ref.decide(mem, request(kind, tag), trace, {}), trace, mem


CASES = [({PEND: PENDING, FLAGS: 1, MASK: 0x37}, IO, 0x41), ({PEND: PENDING, FLAGS: 0, MASK: 0x37}, HALT, 0x41),
         ({PEND: PENDING, FLAGS: 1, MASK: 0x02}, NOP, 0x10), ({PEND: PENDING, FLAGS: 0, MASK: 0}, IO, 0x41),
         ({PEND: PENDING, FLAGS: 1, MASK: 0x37}, IO, 0xFF)]


def test_the_callee_default_clears_the_valid_bit_and_reads_the_callees_event(generated):
    """IO with flags bit 0: outer reads ctl.mask (its first step), then the callee reads
    st.pend and st.flags; its rule io assigns code = 1 only, so pend takes its default,
    PENDING with bit 31 cleared (0xAB_0000_002E), written back to st.pend at the call, and
    echo its default, the callee's event.tag = the binding tag + 1 = 0x42 (not the caller's
    0x41). The caller's rule inner_exit copies them; its `seen` is not assigned, so it is
    its default (tag << 8) | mask[7:0] = 0x4137."""
    _, _, (ref, _) = generated
    out, trace, after = decide(ref, CASES[0][0], IO, 0x41)
    cleared = (0xAB << 40) | 0x2E
    assert out == {"exit": True, "rule": "inner_exit",
                   "fields": {"code": 1, "inner_echo": 0x42, "inner_pend": cleared, "seen": 0x4137}}
    assert trace == [(0, MASK, 8, 0x37), (0, PEND, 8, PENDING), (0, FLAGS, 8, 1), (1, PEND, 8, cleared)]
    assert after[PEND] == cleared


def test_an_assignment_overrides_the_default(generated):
    """HALT: the callee's rule halt assigns pend = st.pend (valid bit kept) and echo =
    0xEE, so neither default is used; the store writes the word back unchanged."""
    _, _, (ref, _) = generated
    out, trace, after = decide(ref, CASES[1][0], HALT, 0x41)
    assert out == {"exit": True, "rule": "inner_exit",
                   "fields": {"code": 2, "inner_echo": 0xEE, "inner_pend": PENDING, "seen": 0x4137}}
    assert trace[-1] == (1, PEND, 8, PENDING) and after[PEND] == PENDING


def test_the_callers_rule_overrides_its_own_default_and_a_callee_without_exit_writes_nothing(generated):
    """NOP with mask bit 1: no callee rule holds (no store, its results 0); the caller's
    rule nop assigns seen = 0x5A over the default."""
    _, _, (ref, _) = generated
    out, trace, after = decide(ref, CASES[2][0], NOP, 0x10)
    assert out == {"exit": True, "rule": "nop", "fields": {"code": 3, "inner_echo": 0, "inner_pend": 0, "seen": 0x5A}}
    assert [op for op, *_ in trace] == [0, 0, 0] and after[PEND] == PENDING


def test_no_exit_no_default(generated):
    """IO without flags bit 0 and not NOP: no rule of either unit holds, nothing is written."""
    _, _, (ref, _) = generated
    out, trace, _ = decide(ref, CASES[3][0], IO, 0x41)
    assert out == {"exit": False} and all(op == 0 for op, *_ in trace)


def test_the_callee_default_reads_the_binding_cut_to_the_callees_width(generated):
    """tag 0xFF: the binding tag + 1 = 0x100 is cut to the callee's 8-bit tag, 0, so the
    callee's echo default is 0, while the caller's seen default reads its own tag: 0xFF37."""
    _, _, (ref, _) = generated
    out, _, _ = decide(ref, CASES[4][0], IO, 0xFF)
    assert out["fields"]["inner_echo"] == 0 and out["fields"]["seen"] == 0xFF37


def test_elaboration_marks_the_defaults_it_put_in_the_rules(generated):
    spec, _, _ = generated
    unit = spec.top
    (call,) = unit.calls
    io = next(x for x in call.exits if x.name == "io")
    assert {a.field: a.default for a in io.assigns} == {"code": False, "pend": True, "echo": True}
    halt = next(x for x in call.exits if x.name == "halt")
    assert not any(a.default for a in halt.assigns)
    assert [a.field for a in unit.exits[0].assigns if a.default] == ["seen"]


def test_the_model_agrees_on_the_golden_cases(generated):
    _, _, (ref, model) = generated
    scenarios = [Scenario(request(kind, tag), mem, 5) for mem, kind, tag in CASES]
    for sc, run in zip(scenarios, harness.run_model(model, ref, scenarios)):
        assert harness.compare(harness.run_reference(ref, sc), run) == []


def test_defaults_cosimulate_with_full_coverage(generated):
    spec, out, _ = generated
    report = cosim.run(spec, out, 200, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert {"call inner.io", "call inner.halt", "exit nop", "exit inner_exit"} <= set(report.coverage)


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


# ---- a cache in front of the call (tests/data/toy_unit_default_cache.vspec: the same
# units, outer keeping the call's answers by tag and kind)
@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    spec = compile_spec(DATA / "toy_unit_default_cache.vspec")
    out = tmp_path_factory.mktemp("default_cache") / "toy_unit_default_cache"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


def test_a_cached_call_keeps_the_callee_default_of_its_fill_and_the_caller_default_is_fresh(cached):
    """Ask IO tag 0x41 (a miss: as in the first golden case, the callee's pend default
    0xAB_0000_002E is filled and written back); software sets the valid bit again and
    changes the mask to 0x99; ask again: a hit, so nothing of the callee runs (one read,
    ctl.mask), inner_pend is the value kept at the fill (valid bit clear), and the caller's
    own default reads the mask now: (0x41 << 8) | 0x99 = 0x4199."""
    from codegen.verify.sequence import Sequence, Step, compare, run_reference
    _, _, (ref, model) = cached
    ask = Step("translate", request(IO, 0x41))
    seq = Sequence({PEND: PENDING, FLAGS: 1, MASK: 0x37},
                   (ask, Step("store", address=PEND, value=PENDING), Step("store", address=MASK, value=0x99), ask))
    want = run_reference(ref, seq)
    first, last = want.steps[0], want.steps[-1]
    cleared = (0xAB << 40) | 0x2E
    assert first.outcome["fields"] == {"code": 1, "inner_echo": 0x42, "inner_pend": cleared, "seen": 0x4137}
    assert last.hit and last.trace == [(0, MASK, 8, 0x99)]
    assert last.outcome["fields"] == {"code": 1, "inner_echo": 0x42, "inner_pend": cleared, "seen": 0x4199}
    assert want.memory[PEND] == PENDING  # the hit made no store
    assert compare(seq, want, harness.run_model_sequence(model, ref, seq)) == []


def test_drawn_sequences_through_the_cached_call_agree(cached):
    from codegen.verify import seqcosim
    spec, out, _ = cached
    report = seqcosim.run(spec, out, 6, seed=1, length=20)
    assert report.compared and report.mismatches == [] and report.violations == [] and report.hits.get("answers")
