"""Entries of 4, 16 and 32 bytes (and a nested walk of 4-byte guest and 8-byte host
entries) co-simulate with no mismatch: both models and the memory port agree on each
reference's size, and the stimulus builds entries of that width at aligned, distinct
addresses. toy_walk_unit16 is a unit whose walk reads 16-byte entries between its
own 8-byte structure words."""
import random
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Draw, ScenarioFactory, table_shift

DATA = Path(__file__).resolve().parents[1] / "data"
TOYS = {"toy_entry4": 4, "toy_entry16": 16, "toy_entry32": 32}


def _generated(tmp_path: Path, name: str):
    spec = compile_spec(DATA / f"{name}.vspec")
    out = tmp_path / spec.name
    emit.write(emit.render(spec), out)
    return spec, out


@pytest.mark.parametrize("name", [*TOYS, "toy_nested_entry", "toy_nested_entry16", "toy_walk_unit16"])
def test_cosim_of_every_entry_size_has_no_mismatch(tmp_path, name):
    spec, out = _generated(tmp_path, name)
    report = cosim.run(spec, out, walks=300, seed=1)
    assert report.mismatches == 0, [f.what for f in report.failures]
    assert report.transactions == 300


@pytest.mark.parametrize("name,size", TOYS.items())
def test_every_reference_has_the_regime_entry_size(tmp_path, name, size):
    """The reference's trace and the model's memory port (m_size) give each read and
    accessed-bit write the regime's entry size; reads are at addresses aligned to it."""
    spec, out = _generated(tmp_path, name)
    ref, model = harness.load_generated(out)
    factory = ScenarioFactory(spec)
    draw = Draw(random.Random(3))
    scs = [factory.make(draw, fault_percent=0, legal=True, preset_updates=False) for _ in range(40)]
    model_runs = harness.run_model(model, ref, scs)
    writes = 0
    for sc, b in zip(scs, model_runs):
        a = harness.run_reference(ref, sc)
        assert a.trace == b.trace
        assert a.trace and {r[2] for r in a.trace} == {size}
        assert all(r[1] % size == 0 for r in a.trace)
        writes += sum(r[0] for r in a.trace)
    assert writes, "some walk set an accessed bit: the write path is covered"


@pytest.mark.parametrize("name,guest", [("toy_nested_entry", 4), ("toy_nested_entry16", 16)])
def test_nested_guest_and_host_references_have_their_own_sizes(tmp_path, name, guest):
    """A guest of 4- (or 16-) byte entries over a host of 8-byte entries: guest entry
    reads and accessed/dirty writes have the guest's size, host entry references 8, in
    both models."""
    spec, out = _generated(tmp_path, name)
    ref, model = harness.load_generated(out)
    factory = ScenarioFactory(spec)
    draw = Draw(random.Random(5))
    scs = [factory.make(draw, fault_percent=0, legal=True, preset_updates=False) for _ in range(30)]
    sizes = set()
    for sc, b in zip(scs, harness.run_model(model, ref, scs)):
        a = harness.run_reference(ref, sc)
        assert a.trace == b.trace, harness.compare(a, b)
        sizes |= {(r[0], r[2]) for r in a.trace}
    assert sizes == {(0, guest), (0, 8), (1, guest), (1, 8)}


def test_tables_of_large_entries_get_frames_of_their_size():
    """32-byte entries with a 9-bit index make 16-KiB tables: the stimulus gives each a
    16-KiB frame, so no entry of one table lies inside another table or page."""
    spec = compile_spec(DATA / "toy_entry32.vspec")
    assert table_shift(spec.top) == 14
    assert table_shift(compile_spec(DATA / "toy_entry4.vspec").top) == 12
