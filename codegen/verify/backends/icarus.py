"""The Icarus Verilog backend: the converted Verilog model and a generated Verilog
batch testbench (tb_icarus.v.j2, the protocol of codegen/verify/batch.py), compiled
with iverilog once per hash and run with vvp."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from codegen.generate import hdl
from codegen.verify import batch
from codegen.verify.backends import cache, templates

MEM_CAP = 4096  # memory words a scenario may hold (its image and what it writes)


def build(model, top: str, verilog: str) -> Path:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise hdl.ToolMissing("Icarus Verilog is not installed (Debian: apt-get install iverilog)")
    ports = batch.Ports.of(model)
    tb = templates.render("tb_icarus.v.j2", ports, top, mem_cap=MEM_CAP, port_order=model.PORT_ORDER)
    version = subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout.splitlines()[:1]
    key = cache.key_of(verilog, tb, *version)

    def make(folder: Path) -> None:
        cache.run(["iverilog", "-g2012", "-o", "sim.vvp", "-s", "virtspec_tb", "model.v", "tb.v"], folder,
                  what="iverilog")

    return cache.cached("icarus", key, {"model.v": verilog, "tb.v": tb}, make) / "sim.vvp"


def simulate(sim: Path, scenarios: Path, results: Path, vcd: Path | None = None, timeout: float | None = None) -> None:
    cmd = ["vvp", "-n", str(sim), f"+scenarios={scenarios}", f"+results={results}"]
    if vcd is not None:
        cmd.append(f"+vcd={vcd}")
    r = cache.run_simulator("Icarus", cmd, timeout)
    if r.returncode != 0:
        raise cache.BuildFailed(f"the Icarus testbench failed ({r.returncode}): {(r.stdout + r.stderr)[-2000:]}")
