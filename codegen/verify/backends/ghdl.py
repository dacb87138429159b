"""The GHDL backend: the converted VHDL model and a generated VHDL-2008 batch testbench
(tb_ghdl.vhd.j2, the protocol of codegen/verify/batch.py), analysed and elaborated
once per hash and run with `ghdl -r`."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from codegen.generate import hdl
from codegen.verify import batch
from codegen.verify.backends import cache, templates

MEM_CAP = 4096  # memory words a scenario may hold (its image and what it writes)


def build(model, top: str, vhdl: dict[str, str]) -> Path:
    """`vhdl`: the converted files by name (the MyHDL package and the model)."""
    if shutil.which("ghdl") is None:
        raise hdl.ToolMissing("GHDL is not installed (Debian: apt-get install ghdl)")
    ports = batch.Ports.of(model)
    tb = templates.render("tb_ghdl.vhd.j2", ports, top, mem_cap=MEM_CAP, port_order=model.PORT_ORDER)
    version = subprocess.run(["ghdl", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    ordered = sorted(vhdl, key=lambda n: (not n.startswith("pck_"), n))
    key = cache.key_of(*(vhdl[n] for n in ordered), tb, *version)

    def make(folder: Path) -> None:
        cache.run(["ghdl", "-a", "--std=08", "-frelaxed", *ordered, "tb.vhd"], folder, what="ghdl -a")
        cache.run(["ghdl", "-e", "--std=08", "-frelaxed", "virtspec_tb"], folder, what="ghdl -e")

    return cache.cached("ghdl", key, {**vhdl, "tb.vhd": tb}, make)


def simulate(work: Path, scenarios: Path, results: Path, vcd: Path | None = None, timeout: float | None = None) -> None:
    """Run the testbench elaborated in `work` (GHDL's mcode backend, Debian's, keeps no
    executable: `ghdl -r` elaborates again from the analysed library, in a moment)."""
    cmd = ["ghdl", "-r", "--std=08", "-frelaxed", "virtspec_tb", f"-gscenarios={Path(scenarios).resolve()}",
           f"-gresults={Path(results).resolve()}"]
    if vcd is not None:
        cmd.append(f"--vcd={vcd}")
    r = cache.run_simulator("GHDL", cmd, timeout, cwd=work)
    if r.returncode != 0:
        raise cache.BuildFailed(f"the GHDL testbench failed ({r.returncode}): {(r.stdout + r.stderr)[-2000:]}")
