"""Update timing end to end on tests/data/toy_updates.vspec (as-used and after-success
updates, `= VALUE` updates, `guest updates before final`): the reference and the MyHDL
model agree, the converted Verilog and VHDL compile, the stimulus draws and covers a fault
after an as-used write in both stages, and the reference bound (harness.max_references)
holds the longest walk."""
import random
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Draw, ScenarioFactory

SPEC = Path(__file__).resolve().parents[1] / "data" / "toy_updates.vspec"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    spec = compile_spec(SPEC)
    out = tmp_path_factory.mktemp("gen") / spec.name
    emit.write(emit.render(spec), out)
    return spec, out


def test_cosim_has_no_mismatch_and_covers_faults_after_as_used_writes(built):
    spec, out = built
    report = cosim.run(spec, out, walks=300, seed=1)
    assert report.mismatches == 0, [f.what for f in report.failures]
    for stage in ("guest", "host"):
        assert f"{stage} {cosim.AFTER_WRITE}" in report.expected
        assert report.coverage[f"{stage} {cosim.AFTER_WRITE}"] > 0


def test_a_fault_whose_trace_wrote_an_entry_is_the_after_write_point():
    """The point is the fault of the outcome's stage with a write before it in the trace;
    a successful walk, or a fault with reads only, is not."""
    fault = {"ok": False, "stage": "guest", "fault": "invalid", "level": 1}
    assert f"guest {cosim.AFTER_WRITE}" in cosim.coverage_keys(fault, [(0, 8, 8, 1), (1, 8, 8, 3), (0, 16, 8, 0)])
    assert f"guest {cosim.AFTER_WRITE}" not in cosim.coverage_keys(fault, [(0, 8, 8, 1), (0, 16, 8, 0)])
    ok = {"ok": True, "level": 1, "host_level": 1}
    assert not [k for k in cosim.coverage_keys(ok, [(1, 8, 8, 3)]) if cosim.AFTER_WRITE in k]


def test_the_reference_bound_holds_every_walk(built):
    """2 guest and 3 host levels, as-used and after-success writes, each guest update a
    host walk of its own: the bound (11 + 2 x 6) x 3 = 69 covers the longest trace."""
    spec, out = built
    ref = harness.load_generated(out)[0]
    bound = harness.max_references(spec)
    assert bound == (3 * 4 - 1 + 2 * 2 * 3) * 3
    factory = ScenarioFactory(spec)
    longest = max(len(harness.run_reference(ref, factory.make(Draw(random.Random(s)))).trace) for s in range(300))
    assert 11 < longest <= bound  # some walks wrote entries; none passed the bound


def test_converted_hdl_compiles(built, tmp_path):
    spec, out = built
    model = harness.load_generated(out)[1]
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    ok, messages = hdl.compile_verilog(files)
    assert ok, messages
    if hdl.verilator() is not None:
        ok, messages = hdl.lint_verilog(files)
        assert ok, messages
    if shutil.which("ghdl") is not None:
        ok, messages = hdl.analyse_vhdl(hdl.convert(model, "VHDL", tmp_path / "vhd"))
        assert ok, messages
