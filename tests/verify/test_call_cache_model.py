"""A cache in front of a call (`holds call C`) in the cycle-level model and the oracle, on
the toy tests/data/toy_call_cache.vspec: a hit skips the callee (no reference, the results
from the way, fewer cycles) as the reference does; drawn sequences agree with the reference
and cover hit, miss, fill, eviction and every invalidation; the architectural check catches
a design whose invalidation keeps an answer it must drop; the converted Verilog agrees on
Icarus. Memory and requests as in tests/generate/test_call_cache_ref.py."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import harness, oracle, seqcosim
from codegen.verify.sequence import Sequence, Step, compare, run_reference

DATA = Path(__file__).resolve().parents[1] / "data"
TOY = DATA / "toy_call_cache.vspec"
FN2, DEV3 = 0x1010, 0x10030
REQ = {"kind": 1, "fn": 2, "addr": 0x3ABC, "write": 0, "FNTAB": 0x1000, "DEVTAB": 0x10000, "LOG": 0x30000}


def generated(tmp_path, text, name):
    path = tmp_path / f"{name}.vspec"
    path.write_text(text)
    for dep in ("toy.vspec", "toy_walk_unit.vspec"):
        (tmp_path / dep).write_text((DATA / dep).read_text())
    out = tmp_path / name
    emit.write(emit.render(compile_spec(path)), out)
    return out


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return generated(tmp_path_factory.mktemp("toy_call_cache"), TOY.read_text(), "toy_call_cache")


def memory():
    return {FN2: 0x301, DEV3: 0x20003, 0x20000: 0x21003, 0x21018: 0x55003}


def remapped(invalidation: tuple) -> Sequence:
    """Ask, remap page 3 to frame 0x99000, `invalidation` (or none), ask again."""
    steps = [Step("translate", dict(REQ)), Step("store", address=0x21018, value=0x99003)]
    if invalidation:
        steps.append(Step("invalidate", dict(REQ), event=invalidation[0], operands=invalidation[1]))
    steps.append(Step("translate", dict(REQ)))
    return Sequence(memory(), tuple(steps))


def test_a_hit_skips_the_call_in_the_model_as_in_the_reference(toy):
    ref, mod = harness.load_generated(toy)
    assert mod.HIT_CACHES == ["answers"] and mod.INVALIDATIONS == ["by_rid", "by_range", "one_page"]
    steps = (Step("translate", dict(REQ)), Step("translate", dict(REQ, addr=0x3001)),
             Step("store", address=0x21018, value=0x99003),
             Step("translate", dict(REQ)),  # stale: the answer kept
             Step("invalidate", dict(REQ), event="one_page", operands=(("rid", 3), ("addr", 0x3FFF))),
             Step("translate", dict(REQ)))
    seq = Sequence(memory(), steps)
    want = run_reference(ref, seq)
    got = harness.run_model_sequence(mod, ref, seq)
    assert compare(seq, want, got) == []
    asks = [s for st, s in zip(steps, got.steps) if st.op == "translate"]
    assert [s.hit for s in asks] == [(), ("answers",), ("answers",), ()]
    assert [s.outcome["fields"]["pa"] for s in asks] == [0x55ABC, 0x55001, 0x55ABC, 0x99ABC]
    assert [a for _op, a, _s, _v in asks[1].trace] == [FN2] and asks[1].cycles < asks[0].cycles


def test_drawn_sequences_agree_and_cover_the_cache(toy):
    report = seqcosim.run(compile_spec(TOY), toy, 10, seed=2, length=40)
    assert report.compared and report.mismatches == [] and report.violations == []
    assert report.missing == [] and report.evictions.get("answers") and report.stale_hits > 0
    assert {"invalidate by_rid drops", "invalidate by_range drops", "invalidate one_page drops"} <= report.covered


def test_the_oracle_catches_an_answer_kept_past_its_invalidation(toy, tmp_path):
    # the design under test: `by_rid` drops only the answers of writes
    text = TOY.read_text().replace("drop answers when entry.rid == rid;", "drop answers when entry.rid == rid && entry.write;")
    assert text != TOY.read_text()
    design = harness.load_generated(generated(tmp_path, text, "forgetful"))[0]
    arch = harness.load_generated(toy)[0]
    seq = remapped(("by_rid", (("rid", 3),)))
    run = run_reference(design, seq)
    assert run.steps[-1].outcome["fields"]["pa"] == 0x55ABC and run.steps[-1].hit == ("answers",)
    assert oracle.check_unit(design, seq, run).problems == []  # judged by its own rules: fine
    verdict = oracle.check_unit(arch, seq, run)  # judged by the toy's: caught
    assert len(verdict.problems) == 1 and verdict.problems[0].startswith("step 3: answered")
    # without the invalidation the stale answer is one the toy permits
    seq = remapped(())
    run = run_reference(arch, seq)
    verdict = oracle.check_unit(arch, seq, run)
    assert run.steps[-1].outcome["fields"]["pa"] == 0x55ABC and verdict.problems == [] and verdict.stale_hits == 1


def test_the_converted_model_agrees_on_icarus(tmp_path):
    """Three sequences of 30 steps through the converted Verilog (one simulator, the quickest
    to build: the others run the same testbench protocol, tests/verify/test_backend_sequences.py)."""
    if shutil.which("iverilog") is None:
        pytest.skip("icarus is not installed")
    spec = compile_spec(TOY)
    d = tmp_path / "toy_call_cache"
    emit.write(emit.render(spec), d)
    mod = harness.load_generated(d)[1]
    hdl.convert(mod, "Verilog", d, name=hdl.top_name(spec))
    report = seqcosim.run(spec, d, 3, 4, length=30, backend="icarus")
    assert report.compared and report.backend == "icarus"
    assert report.mismatches == [] and report.violations == [] and report.hits.get("answers")
