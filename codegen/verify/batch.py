"""The batch protocol every simulation backend follows: one memory schedule, one
scenario file, one results file.

A backend runs a whole batch of scenarios in its simulator alone (no Python per
cycle) and must agree with the others cycle for cycle, so the testbench's behaviour
is defined here once, and the MyHDL testbench (harness.py) and the generated HDL
testbenches (Verilator C++, Icarus Verilog, GHDL VHDL) each implement it.

The memory schedule
-------------------
Each scenario has a 32-bit generator state, `seed32(latency_seed)`, advanced by
xorshift32 (x ^= x << 13; x ^= x >> 17; x ^= x << 5, all modulo 2^32). A draw
advances the state and returns it. With `min_latency == max_latency` the latency is
that value and draws nothing; else it is `min + draw % (max - min + 1)`. With
`stall_percent == 0` the memory is always ready and draws nothing; else it is ready
when `draw % 100 >= stall_percent`.

The cycle protocol
------------------
Reset: `rst` high for two rising edges, at the start of the batch and after the
watchdog stops a scenario; the memory does nothing during them.

Before scenario n (right after the previous one ended, before the next edge): the
memory image becomes the scenario's, the trace and the response queue empty, the
generator is seeded; `m_rvalid` = 0, `m_ready` = a ready draw; the request ports
take the scenario's values and `start` = 1.

At rising edge e = 1, 2, ... of the scenario, with the model's outputs (`m_valid`,
`m_we`, `m_addr`, `m_wdata`, `m_size`) and the memory's own outputs (`m_ready`...)
as they were just before the edge (the model updates at the edge and sees the
memory's outputs of before it):
  1. if `m_valid` and `m_ready`: the request is accepted. Its size is 2^m_size bytes
     (8 when the model has no `m_size`). A read returns the image's value at the
     address (0 when absent) masked to the size; a write stores `m_wdata` masked to
     the size. It is traced as (1 for a write else 0, address, bytes, value), and a
     response (the value read, 0 for a write) is queued, due at edge e + latency
     (a latency draw).
  2. if the queue is not empty and its head is due at or before e + 1, `m_rvalid` = 1
     and `m_rdata` = the head's value (dequeued); else `m_rvalid` = 0 and `m_rdata`
     keeps its value.
  3. `m_ready` = a ready draw; `start` = 0.
  4. if `done` is 1 after the edge, the scenario ends: its cycles are e, its outcome
     the `o_*` ports. Else, at e == limit (the watchdog), it ends as a timeout with
     cycles = limit, and the model is reset.

The scenario file
-----------------
Text, one record per line, every number in hex, values zero-padded to the digits of
their width (VHDL's `hread` reads a fixed number of digits):

    <magic 5649525453504543> <version> <scenarios> <min latency> <max latency> <stall percent> <limit>
    then per scenario:
    <seed32> <memory entries>
    <request port values, in INPUTS order>
    <address> <value>          one line per memory entry, address 16 digits, value DATA_WIDTH/4

The results file
----------------
Per scenario, one line per memory reference in order, then one end line:

    0|1 <address> <bytes> <value>      a read (0) or a write (1)
    2 <cycles> <timed out 0|1> <o_* port values, in OUTPUTS order>
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAGIC = 0x5649525453504543  # "VIRTSPEC"
VERSION = 1
MASK32 = 0xFFFFFFFF
CONTROL = ("clk", "rst", "start", "done")
MEMORY_IN = ("m_ready", "m_rvalid", "m_rdata")  # driven by the memory
MEMORY_OUT = ("m_valid", "m_we", "m_addr", "m_wdata", "m_size")  # driven by the model


def seed32(latency_seed: int) -> int:
    """The generator's first state for a scenario: never 0 (xorshift's fixed point)."""
    x = latency_seed & MASK32
    return x or 0x9E3779B9


def xorshift32(x: int) -> int:
    x ^= (x << 13) & MASK32
    x ^= x >> 17
    x ^= (x << 5) & MASK32
    return x


class Schedule:
    """The memory's latency and readiness draws of one scenario (see the module text)."""

    __slots__ = ("x", "lo", "span", "stall")

    def __init__(self, latency_seed: int, min_latency: int, max_latency: int, stall_percent: int):
        self.x = seed32(latency_seed)
        self.lo, self.span, self.stall = min_latency, max_latency - min_latency + 1, stall_percent

    def draw(self) -> int:
        self.x = xorshift32(self.x)
        return self.x

    def latency(self) -> int:
        return self.lo if self.span == 1 else self.lo + self.draw() % self.span

    def ready(self) -> bool:
        return True if not self.stall else self.draw() % 100 >= self.stall


@dataclass(frozen=True)
class Ports:
    """A generated model's ports as the batch files list them: request inputs and
    outputs in PORT_ORDER, each with its width, and the width of a memory word."""

    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]
    data_width: int
    sized: bool  # whether the model has an `m_size` port
    bits: frozenset[str] = frozenset()  # ports that are one bit (std_logic in VHDL), not vectors

    @classmethod
    def of(cls, model) -> Ports:
        p = model.ports()
        order = model.PORT_ORDER

        def width(name: str) -> int:
            return len(p[name]) if name not in ("clk", "rst") else 1

        skip = set(CONTROL) | set(MEMORY_IN) | set(MEMORY_OUT)
        inputs = tuple((n, width(n)) for n in order if n not in skip and not n.startswith("o_"))
        outputs = tuple((n, width(n)) for n in order if n.startswith("o_"))
        bits = frozenset(n for n in order if n not in ("clk", "rst") and isinstance(p[n].val, bool))
        return cls(inputs, outputs, len(p["m_rdata"]), "m_size" in order, bits)


def _digits(width: int) -> int:
    return max(1, (width + 3) // 4)


def write_scenarios(path: Path, ports: Ports, scenarios, timing, limit: int, port_of) -> None:
    """Write `scenarios` (each with .request, .memory, .latency_seed) for a batch
    testbench; `port_of(key)` names the model port of request value `key`."""
    t = timing
    lines = [" ".join(f"{v:x}" for v in (MAGIC, VERSION, len(scenarios), t.min_latency, t.max_latency,
                                          t.stall_percent, limit))]
    order = {name: i for i, (name, _) in enumerate(ports.inputs)}
    fmt_in = [f"{{:0{_digits(w)}x}}" for _, w in ports.inputs]
    masks = [(1 << w) - 1 for _, w in ports.inputs]
    value_fmt = f"{{:016x}} {{:0{_digits(ports.data_width)}x}}"
    data_mask = (1 << ports.data_width) - 1
    for sc in scenarios:
        values = [0] * len(ports.inputs)
        for key, v in sc.request.items():
            values[order[port_of(key)]] = v
        lines.append(f"{seed32(sc.latency_seed):08x} {len(sc.memory):x}")
        lines.append(" ".join(f.format(v & m) for f, v, m in zip(fmt_in, values, masks)))
        lines.extend(value_fmt.format(a, v & data_mask) for a, v in sorted(sc.memory.items()))
    Path(path).write_text("\n".join(lines) + "\n")


@dataclass
class Result:
    """One scenario's run as a batch testbench wrote it."""

    outputs: dict[str, int]
    trace: list[tuple[int, int, int, int]]
    cycles: int
    timed_out: bool


def read_results(path: Path, ports: Ports) -> list[Result]:
    """The results file a batch testbench wrote, scenario by scenario."""
    out: list[Result] = []
    trace: list[tuple[int, int, int, int]] = []
    names = [n for n, _ in ports.outputs]
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        tag = tok[0]
        if tag in ("0", "1"):
            if len(tok) != 4:
                raise ValueError(f"{path}:{number}: expected a memory reference of 4 fields, not {len(tok)}")
            trace.append((int(tag), int(tok[1], 16), int(tok[2], 16), int(tok[3], 16)))
        elif tag == "2":
            if len(tok) != 3 + len(names):
                raise ValueError(f"{path}:{number}: expected an end record of {3 + len(names)} fields, not {len(tok)}")
            out.append(Result(dict(zip(names, (int(t, 16) for t in tok[3:]))), trace, int(tok[1], 16), tok[2] == "1"))
            trace = []
        else:
            raise ValueError(f"{path}:{number}: expected a record tagged 0, 1 or 2, not {tag!r}")
    return out


def final_memory(image: dict[int, int], trace) -> dict[int, int]:
    """The memory after a run: the image with the run's writes applied in order."""
    mem = dict(image)
    for kind, addr, _, value in trace:
        if kind:
            mem[addr] = value
    return mem
