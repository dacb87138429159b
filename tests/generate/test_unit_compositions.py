"""A unit that walks two different nested compositions (tests/data/toy_two_compositions.vspec):
each composition's walkers are functions of their own in the reference (a closure per
walk, walk_guest_NAME) and blocks of their own in the MyHDL model (walker_host_NAME), so
that the second composition's host walker, which has no update port, is not the first's.
Before, both models defined walk_host / walker_host twice and the later one won: the
reference called the wrong walker and the model failed to build. A short co-simulation
of the reference and the MyHDL model (no HDL conversion) agrees."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = compile_spec(DATA / "toy_two_compositions.vspec")
    out = tmp_path_factory.mktemp("two_compositions")
    files = emit.render(spec)
    emit.write(files, out)
    return spec, out, files


def test_each_composition_has_walkers_of_its_own(toy):
    _spec, _out, files = toy
    ref, model = files["reference.py"], files["model.py"]
    assert "walk_guest_source = _nested_source()" in ref and "walk_guest_dest = _nested_dest()" in ref
    assert "r = walk_guest_source(" in ref and "r = walk_guest_dest(" in ref
    for name in ("two_stage", "read_only"):
        assert f"def walker_host_{name}(" in model and f"def walker_guest_{name}(" in model
    assert "def walker_host(" not in model


def test_two_compositions_cosimulate_without_mismatch(toy):
    spec, out, _files = toy
    report = cosim.run(spec, out, 25, 1, max_failures=1)
    assert report.mismatches == 0 and report.failures == [] and report.transactions == 25
    assert report.coverage.get("exit copied", 0) > 0
