"""The stimulus toys of issue 14 ("What the stimulus and the reports must do") generate,
co-simulate with full coverage and convert: tests/data/toy_leaf_fault.vspec (a fault over the
leaf condition's fields), toy_nested_leaf_fault.vspec (that regime as a host stage, whose
fault cannot be injected on a pointer) and toy_unreachable.vspec (points no walk reaches)."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim
from codegen.verify.harness import load_generated

DATA = Path(__file__).resolve().parents[1] / "data"
TOYS = ["toy_leaf_fault", "toy_nested_leaf_fault", "toy_unreachable"]


@pytest.mark.parametrize("name", TOYS)
def test_the_toy_cosimulates_covers_and_converts(tmp_path, name):
    spec = compile_spec(DATA / f"{name}.vspec")
    emit.write(emit.render(spec), tmp_path)
    report = cosim.run(spec, tmp_path, walks=300, seed=3)
    assert report.mismatches == 0 and report.missing == [], report.as_json()["coverage"]
    _, model = load_generated(tmp_path)
    ok, messages = hdl.compile_verilog(hdl.convert(model, "Verilog", tmp_path / "v"))
    assert ok, messages


def test_the_leaf_condition_fault_is_covered_on_a_leaf(tmp_path):
    """`W && !R` fires on level-2 leaves (W makes an entry a leaf) and on level-3 pointers."""
    spec = compile_spec(DATA / "toy_leaf_fault.vspec")
    emit.write(emit.render(spec), tmp_path)
    report = cosim.run(spec, tmp_path, walks=300, seed=1)
    assert {"top fault write_only at level 2", "top fault write_only at level 3"} <= set(report.coverage)


@pytest.mark.slow
@pytest.mark.parametrize("name", TOYS)
def test_the_toy_cosimulates_2000_walks_on_two_seeds(tmp_path, name):
    spec = compile_spec(DATA / f"{name}.vspec")
    emit.write(emit.render(spec), tmp_path)
    for seed in (1, 2):
        report = cosim.run(spec, tmp_path, walks=2000, seed=seed)
        assert report.mismatches == 0 and report.missing == []
