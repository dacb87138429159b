"""`virtspec cocotb`: a cocotb test package for the converted Verilog of a generated model.

The package runs without virtspec installed: the converted Verilog, a copy of the
generated reference, the scenarios as data (scenarios.json), a cocotb test (driver,
memory responder and scoreboard) and a runner (cocotb_tools.runner: Icarus or
Verilator on the Verilog, GHDL on the VHDL). The memory responder follows codegen/verify/batch.py, so a run agrees
cycle for cycle with the batch backends; it also writes its results in the batch
results format (results.txt), which batch.read_results reads."""
from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path

import jinja2

from codegen.generate import hdl
from codegen.verify import batch, harness

HERE = Path(__file__).resolve().parent / "templates"
FILES = ("test_virtspec.py", "run.py", "README.md")


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


class CocotbPackage:
    """The package of one spec's model: `write(directory)` renders it."""

    def __init__(self, spec, generated: Path, scenarios, timing: harness.Timing, limit: int, top: str):
        self.spec, self.generated, self.scenarios = spec, Path(generated), list(scenarios)
        self.timing, self.limit, self.top = timing, limit, top

    def data(self, ref, model) -> dict:
        """The scenario file: ports, timing and each scenario's request (by reference key
        and by model port), memory image and generator seed (batch.seed32)."""
        ports = batch.Ports.of(model)
        mask = (1 << ports.data_width) - 1
        return {
            "top": self.top, "spec": self.spec.name, "model": self.spec.top.name,
            "timing": {"min_latency": self.timing.min_latency, "max_latency": self.timing.max_latency,
                       "stall_percent": self.timing.stall_percent},
            "limit": self.limit, "data_width": ports.data_width, "sized": ports.sized, "rerr": ports.rerr,
            "inputs": [list(p) for p in ports.inputs], "outputs": [list(p) for p in ports.outputs],
            "scenarios": [{"seed32": batch.seed32(sc.latency_seed),
                           "request": dict(sc.request),
                           "ports": {harness.port_of(ref, k): v for k, v in sc.request.items()},
                           "memory": [[a, v & mask] for a, v in sorted(sc.memory.items())],
                           "errors": sorted(sc.errors)}
                          for sc in self.scenarios],
        }

    def write(self, directory: Path) -> list[Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        ref, model = harness.load_generated(self.generated)
        out = hdl.convert(model, "Verilog", directory, name=self.top)
        out += hdl.convert(model, "VHDL", directory, name=self.top)
        shutil.copyfile(self.generated / "reference.py", directory / "reference.py")
        out.append(directory / "reference.py")
        (directory / "scenarios.json").write_text(json.dumps(self.data(ref, model), indent=1) + "\n")
        out.append(directory / "scenarios.json")
        context = {"top": self.top, "verilog": [f.name for f in out if f.suffix == ".v"],
                   # VHDL packages first: GHDL analyses in order
                   "vhdl": sorted((f.name for f in out if f.suffix == ".vhd"), key=lambda n: (not n.startswith("pck_"), n)), "spec": self.spec.name, "model": self.spec.top.name,
                   "count": len(self.scenarios), "waivers": list(hdl.VERILATOR_WAIVERS)}
        for name in FILES:
            (directory / name).write_text(_env().get_template(name + ".j2").render(**context))
            out.append(directory / name)
        return out
