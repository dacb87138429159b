"""A deliberately broken model is caught: mutate a copy of a spec, or the generated
reference, and co-simulate the mutant against the untouched other side."""
import random
import re
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Draw, ScenarioFactory

ROOT = Path(__file__).resolve().parents[2]




def _mismatches(specs, ref, model, name: str, walks: int = 150, seed: int = 5) -> int:
    factory = ScenarioFactory(specs[name])
    draw = Draw(random.Random(seed))
    scs = [factory.draw_scenario(draw, lambda sc: harness.run_reference(ref, sc).outcome) for _ in range(walks)]
    model_runs = harness.run_model(model, ref, scs)
    return sum(bool(harness.compare(harness.run_reference(ref, sc, model), m)) for sc, m in zip(scs, model_runs))


def _build(tmp_path: Path, spec_path: Path):
    spec = compile_spec(spec_path)
    out = tmp_path / "gen" / spec_path.stem
    emit.write(emit.render(spec), out)
    return harness.load_generated(out)


def test_swapped_field_positions_are_caught(specs, generated, tmp_path):
    """R/W and U/S swapped in a copy of the x86 spec: the mutant model disagrees with the
    golden reference, and the mutant reference with the golden model."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    path = tmp_path / "specs" / "x86_64_paging.vspec"
    text = path.read_text()
    mutated = text.replace('RW [1] "read/write";', 'RW [2] "read/write";').replace('US [2] "user/supervisor";', 'US [1] "user/supervisor";')
    assert mutated != text
    path.write_text(mutated)
    bad_ref, bad_model = _build(tmp_path, path)
    good_ref, good_model = generated["x86_64_paging"]
    assert _mismatches(specs, good_ref, bad_model, "x86_64_paging") > 0
    assert _mismatches(specs, bad_ref, good_model, "x86_64_paging") > 0
    # the mutant against itself agrees: the catch comes from the mutation, not the harness
    assert _mismatches(specs, bad_ref, bad_model, "x86_64_paging") == 0


def test_moved_exit_information_bit_is_caught(specs, generated, tmp_path):
    """EXITINFO1's guest-page-table bit moved from 33 to 34 in a copy of the NPT spec."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    path = tmp_path / "specs" / "amd_npt.vspec"
    text = path.read_text()
    path.write_text(text.replace("TABLE [33] = on_table", "TABLE [34] = on_table"))
    bad_ref, _ = _build(tmp_path, path)
    _, good_model = generated["amd_npt"]
    assert _mismatches(specs, bad_ref, good_model, "amd_npt") > 0


def test_moved_exit_qualification_bit_is_caught(specs, generated, tmp_path):
    """The EPT exit qualification's 'writable' bit moved from 4 to 9 in a copy of the spec."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    path = tmp_path / "specs" / "intel_ept.vspec"
    text = path.read_text()
    assert "WRITABLE [4] = walked && w" in text
    path.write_text(text.replace("WRITABLE [4] = walked && w", "WRITABLE [9] = walked && w"))
    bad_ref, _ = _build(tmp_path, path)
    _, good_model = generated["intel_ept"]
    # seed 6: since the guest stage checks canonical form, a fifth of the draws end
    # before the walk, and seed 5's 150 walks met no EPT violation that reads the bit
    assert _mismatches(specs, bad_ref, good_model, "intel_ept", seed=6) > 0


def test_mutated_generated_reference_is_caught(specs, generated, tmp_path):
    """One mask in the generated reference loses a bit: co-simulation reports mismatches,
    each with a shrunk scenario and a VCD of the model."""
    source = (ROOT / "generated" / "x86_64_paging")
    out = tmp_path / "gen" / "x86_64_paging"
    out.mkdir(parents=True)
    shutil.copy(source / "model.py", out / "model.py")
    text = (source / "reference.py").read_text()
    mutated, n = re.subn(r"table = e & 0xfffffffff000", "table = e & 0xffffffffe000", text)
    assert n > 0
    (out / "reference.py").write_text(mutated)
    report = cosim.run(specs["x86_64_paging"], out, walks=200, seed=3, vcd_dir=tmp_path / "vcd")
    assert report.mismatches > 0
    failure = report.failures[0]
    assert failure.what and failure.vcd.exists() and failure.vcd.stat().st_size > 0
    assert set(failure.scenario.memory) <= {ref[1] for ref in failure.reference.trace}, "shrunk to what is read"
    assert "request:" in harness.describe(failure.scenario)


@pytest.mark.parametrize("latency", [1, 3])
def test_fixed_latency_runs_agree(specs, generated, latency):
    ref, model = generated["amd_npt"]
    factory = ScenarioFactory(specs["amd_npt"])
    draw = Draw(random.Random(latency))
    scs = [factory.make(draw) for _ in range(40)]
    runs = harness.run_model(model, ref, scs, harness.Timing(latency, latency, 0))
    assert all(not harness.compare(harness.run_reference(ref, sc, model), r) for sc, r in zip(scs, runs))
