"""Genericity: a spec for an architecture no template knows generates working,
cross-checked models with no change to codegen/ (tests/data/toy.vspec, from the README)."""
from pathlib import Path

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim
from codegen.verify.harness import load_generated

TOY = Path(__file__).resolve().parents[1] / "data" / "toy.vspec"


def test_toy_spec_generates_and_cosimulates(tmp_path):
    spec = compile_spec(TOY)
    out = tmp_path / "toy"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks=300, seed=4)
    assert report.mismatches == 0 and report.missing == []
    _, model = load_generated(out)
    ok, messages = hdl.compile_verilog(hdl.convert(model, "Verilog", tmp_path / "hdl"))
    assert ok, messages
