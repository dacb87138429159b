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
memory's outputs of before it; its requests may depend combinationally on `start`,
`m_rvalid` and `m_rdata` of that cycle, so a testbench reads them once those settled):
  1. if `m_valid` and `m_ready`: the request is accepted. Its size is 2^m_size bytes
     (8 when the model has no `m_size`). A read returns the image's value at the
     address (0 when absent) masked to the size; a write stores `m_wdata` masked to
     the size. It is traced as (1 for a write else 0, address, bytes, value), and a
     response (the value read, 0 for a write) is queued, due at edge e + latency
     (a latency draw). A read of a word marked as erring (below) returns 0, is traced
     with 3 in place of 0, and its response carries `m_rerr` = 1.
  2. if the queue is not empty and its head is due at or before e + 1, `m_rvalid` = 1
     and `m_rdata` = the head's value, `m_rerr` = its error flag (dequeued); else
     `m_rvalid` = 0 and `m_rdata` and `m_rerr` keep their values.
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

A memory entry at an odd address A + 1 (value 0) marks the word at A (a table entry or a
structure word, at least 2-byte aligned) as one whose reads answer with an error: the read
returns 0 with `m_rerr` = 1 (a model with that port), and it is traced as (3, A, bytes, 0).

On a pipe (the Verilator backend, bench (g)), when every port and memory value fits 64
bits, the same numbers in the same order may come as native unsigned 64-bit numbers
(scenario_binary) instead of text.

The results file
----------------
Per scenario, one line per memory reference in order, then one end line:

    0|1|3 <address> <bytes> <value>    a read (0), a write (1), a read answered with an error (3)
    2 <cycles> <timed out 0|1> <o_* port values, in OUTPUTS order>

On a pipe, when every value fits 64 bits, the Verilator testbench may write them as native
unsigned 64-bit numbers instead (parse_binary_results says in which order).

Sequences (version 2)
---------------------
A sequence (codegen/verify/sequence.py) is several transactions against one memory image,
from one reset: the file's version is 2, and `count` counts sequences. Per sequence:

    <seed32> <memory entries> <steps>
    <address> <value>          one line per memory entry, as above
    then one line per step:
    0 <limit> <input port values, in INPUTS order>    a transaction (a translation or an
                                                      invalidation: the ports say which)
    1 <address> <value>                               software's store into the image

Before the sequence: the image becomes the sequence's, the response queue empties, the
generator is seeded, the model is reset, `m_ready` = a ready draw. Before each transaction
step: the input ports take the step's values (the testbench's writer carries each port's
value from the step before, from 0, as the MyHDL testbench leaves unset ports), `m_rvalid`
= 0, `start` = 1; then the cycle protocol above with the step's own watchdog limit, its edges
counted from 1 again. Between steps nothing is reset: the generator goes on, and a
response still queued is delivered during the next step (at its due edge, compared with
that step's count, as the MyHDL testbench does). A store writes the image (no trace).
A transaction that times out ends the sequence: the later steps are read and not run.

The results: per transaction step run, its references and its end record as above; no
record for a store or for a step after a timeout (parse_sequence_results groups them).
"""
from __future__ import annotations

import re
import struct
from array import array
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from operator import attrgetter, itemgetter
from pathlib import Path

ERRED = 3  # a trace's op of a read that answered with an error (0 read, 1 write; 2 ends a record)
MAGIC = 0x5649525453504543  # "VIRTSPEC"
VERSION = 1
SEQUENCE_VERSION = 2
MASK32 = 0xFFFFFFFF
MASK64 = (1 << 64) - 1
CONTROL = ("clk", "rst", "start", "done")
MEMORY_IN = ("m_ready", "m_rvalid", "m_rdata", "m_rerr")  # driven by the memory
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
    rerr: bool = False  # whether the model has an `m_rerr` port (a read that answers with an error)

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
        return cls(inputs, outputs, len(p["m_rdata"]), "m_size" in order, bits, "m_rerr" in order)


def _digits(width: int) -> int:
    return max(1, (width + 3) // 4)


def write_scenarios(path: Path, ports: Ports, scenarios, timing, limit: int, port_of) -> None:
    """Write `scenarios` (each with .request, .memory, .latency_seed) for a batch
    testbench; `port_of(key)` names the model port of request value `key`."""
    Path(path).write_text(scenario_text(ports, scenarios, timing, limit, port_of))


def scenario_text(ports: Ports, scenarios, timing, limit: int, port_of) -> str:
    """The scenario file of `scenarios` as text (write_scenarios; a backend that streams it
    to the simulator's standard input writes it there).

    Speed matters here (bench (g): the Python around the simulator is what a batch costs), so
    there is no Python loop per scenario or per field when the requests share their keys: the
    request lines and the memory lines are each one table of fixed-width hex columns
    (`_table`), cut per scenario and joined with the seed lines; `port_of` is asked once
    per key. Numbers over 64 bits take one `%` of per-line templates instead."""
    head, seeds, sizes, rows, images, entries = _prepared(ports, scenarios, timing, limit, port_of)
    request_fmt = " ".join(f"%0{_digits(w)}x" for _, w in ports.inputs) + "\n"
    entry_fmt = f"%016x %0{_digits(ports.data_width)}x\n"
    head = "%x %x %x %x %x %x %x\n" % head
    if not seeds:
        return head
    try:
        lines = map("%08x %x\n".__mod__, zip(seeds, sizes))
        requests = _table(rows, [_digits(w) for _, w in ports.inputs], len(seeds))
        entries = _table(entries, [16, _digits(ports.data_width)], sum(sizes))
    except (struct.error, ValueError):  # a number over 64 bits: one `%` of per-line templates instead
        templates = {n: "%08x %x\n" + request_fmt + entry_fmt * n for n in set(sizes)}
        numbers = tuple(chain.from_iterable(chain.from_iterable(zip(zip(seeds, sizes), rows, images))))
        return head + "".join(map(templates.__getitem__, sizes)) % numbers
    per = len(requests) // len(seeds)
    ends = list(accumulate(sizes, initial=0))
    line = len(entries) // max(1, ends[-1])
    blocks = map(entries.__getitem__, map(slice, (line * e for e in ends), (line * e for e in ends[1:])))
    requests = map(requests.__getitem__, map(slice, range(0, len(requests), per), range(per, len(requests) + 1, per)))
    return head + "".join(chain.from_iterable(zip(lines, requests, blocks)))


def scenario_binary(ports: Ports, scenarios, timing, limit: int, port_of) -> bytes:
    """The numbers of the scenario file, in its order, as native unsigned 64-bit numbers:
    what the Verilator testbench reads on a pipe with "-b" (no hex to format and parse:
    bench (g)); only when every port and memory value fits 64 bits (verilator.binary).
    The memory entries in each image's own order (the testbench keeps them in a map, the
    file sorts them for people). array checks the 64-bit ports (OverflowError: the masking
    path); only the narrower columns and the memory values are checked here."""
    t = timing
    scenarios = list(scenarios)
    memories = list(map(image_of, scenarios))
    seeds = [x & MASK32 or 0x9E3779B9 for x in map(attrgetter("latency_seed"), scenarios)]  # seed32
    rows = _request_rows(ports, list(map(attrgetter("request"), scenarios)), port_of)
    head = [MAGIC, VERSION, len(scenarios), t.min_latency, t.max_latency, t.stall_percent, limit]
    values = list(chain.from_iterable(map(dict.values, memories)))
    narrow = [(i, (1 << w) - 1) for i, (_, w) in enumerate(ports.inputs) if w < 64]
    try:
        if values and ports.data_width < 64 and max(values) >> ports.data_width:
            raise OverflowError("a memory value past its width")
        if rows and any(max(map(itemgetter(i), rows)) > m for i, m in narrow):
            raise OverflowError("a request value past its width")
        images = map(chain.from_iterable, map(dict.items, memories))
        numbers = array("Q", [*head, *chain.from_iterable(chain.from_iterable(
            zip(zip(seeds, map(len, memories)), rows, images)))])
    except OverflowError:  # a value past its width or negative: masked as the text is
        _, seeds, sizes, rows, images, _ = _prepared(ports, scenarios, timing, limit, port_of)
        masks = [(1 << w) - 1 for _, w in ports.inputs]
        rows = [[v & m for v, m in zip(row, masks)] for row in rows]
        images = [[v & MASK64 for v in image] for image in images]
        numbers = array("Q", [*head, *chain.from_iterable(chain.from_iterable(zip(zip(seeds, sizes), rows, images)))])
    return numbers.tobytes()


def image_of(sc) -> dict:
    """A scenario's memory image as the file gives it: each word whose reads answer with an
    error (`sc.errors`) marked by an entry at its address + 1."""
    errors = getattr(sc, "errors", ())
    if not errors:
        return sc.memory
    return {**sc.memory, **{(a | 1) & MASK64: 0 for a in errors}}


def _prepared(ports: Ports, scenarios, timing, limit: int, port_of):
    """The numbers of a scenario file: its head, then per scenario the seed, the number of
    memory entries, the request row, the image (address, value, ...), masked to their widths;
    and all images' numbers in one list."""
    t = timing
    scenarios = list(scenarios)
    masks = [(1 << w) - 1 for _, w in ports.inputs]
    data_mask = (1 << ports.data_width) - 1
    memories = list(map(image_of, scenarios))
    sizes = list(map(len, memories))
    seeds = [x & MASK32 or 0x9E3779B9 for x in map(attrgetter("latency_seed"), scenarios)]  # seed32
    rows = _request_rows(ports, list(map(attrgetter("request"), scenarios)), port_of)
    if rows and any(max(col) > m or min(col) < 0 for col, m in zip(zip(*rows), masks)):
        rows = [tuple(v & m for v, m in zip(row, masks)) for row in rows]
    images = list(map(tuple, map(chain.from_iterable, map(sorted, map(dict.items, memories)))))
    entries = list(chain.from_iterable(images))  # address, value, address, value...
    if entries and (max(entries[1::2]) > data_mask or min(entries[1::2]) < 0):
        images = [tuple(chain.from_iterable((a, v & data_mask) for a, v in sorted(m.items()))) for m in memories]
        entries = list(chain.from_iterable(images))
    head = (MAGIC, VERSION, len(scenarios), t.min_latency, t.max_latency, t.stall_percent, limit)
    return head, seeds, sizes, rows, images, entries


def _table(flat: list, digits: list[int], rows: int) -> str:
    """`rows` lines of the numbers of `flat` (row after row), each number zero-padded to its
    column's digits (at most 16), a space between, a newline at the end: one hex dump of all
    the numbers (struct, 16 digits each) and one strided bytearray copy per digit column, so
    no Python call per number (struct.error when a number needs more than 64 bits)."""
    if not digits or any(d > 16 for d in digits):
        raise ValueError("a column wider than 64 bits")
    if rows == 0:
        return ""
    k = len(digits)
    numbers = flat if isinstance(flat[0], int) else list(chain.from_iterable(flat))
    hexed = struct.pack(f">{len(numbers)}Q", *numbers).hex().encode()
    width = sum(digits) + k
    out = bytearray(b" ") * (width * rows)
    at = 0
    for c, d in enumerate(digits):
        for j in range(d):  # digit j of column c of every row
            out[at + j::width] = hexed[16 * c + 16 - d + j::16 * k]
        at += d + 1
    out[width - 1::width] = b"\n" * rows
    return out.decode()


def _request_rows(ports: Ports, requests: list[dict], port_of) -> list[tuple]:
    """Each request's values in the order of the input ports (0 for a port it does not set)."""
    order = {name: i for i, (name, _) in enumerate(ports.inputs)}
    position: dict[str, int] = {}  # request key -> input index, asked of port_of once

    def where(key: str) -> int:
        if key not in position:
            position[key] = order[port_of(key)]
        return position[key]

    shapes = set(map(tuple, requests))
    if len(shapes) == 1:
        keys = next(iter(shapes))
        at = [where(k) for k in keys]
        if sorted(at) == list(range(len(order))):  # every port set once: pick them in port order
            by_port = [k for _, k in sorted(zip(at, keys))]
            if len(by_port) == 1:
                return [(r[by_port[0]],) for r in requests]
            return list(map(itemgetter(*by_port), requests))
    rows = []
    for request in requests:
        row = [0] * len(order)
        for key, v in request.items():
            row[where(key)] = v
        rows.append(tuple(row))
    return rows


@dataclass
class Result:
    """One scenario's run as a batch testbench wrote it."""

    outputs: dict[str, int]
    trace: list[tuple[int, int, int, int]]
    cycles: int
    timed_out: bool


def read_results(path: Path, ports: Ports) -> list[Result]:
    """The results file a batch testbench wrote, scenario by scenario."""
    names = [n for n, _ in ports.outputs]
    outputs, traces, cycles, timed_out = parse_results(Path(path).read_text(), ports, path)
    return list(map(Result, map(dict, map(zip, repeat(names), outputs)), traces, cycles, timed_out))


def parse_results(text: str, ports: Ports, where) -> tuple[list[tuple], list[list], list[int], list[bool]]:
    """Results text as columns, one item per scenario: its o_* port values (a tuple in
    OUTPUTS order), its trace, its cycles, whether it timed out. Columns rather than
    Result objects: a backend builds its runs from them without a dict per scenario.

    Fast path (bench (g)): one regular-expression split cuts the text at its end records;
    the fields of all memory references, then of all end records, are converted column by
    column (`_numbers`), grouped with zip and handed out by count. Text that does not add
    up is read again line by line (`_read_slowly`), for a message naming the line of `where`."""
    names = [n for n, _ in ports.outputs]
    parts = _END.split(text)
    chunks, ends = parts[0:-1:2], parts[1::2]  # the references before each end record; the end records
    counts = list(map(str.count, chunks, repeat("\n")))
    refs = "".join(chunks)
    lines = refs.splitlines()
    fields = refs.split()
    kinds = fields[0::4]
    # every reference line has 3 spaces, so at most 4 fields; 4 fields a line on the whole: 4 each
    if (len(lines) != sum(counts) or len(fields) != 4 * len(lines) or parts[-1].strip()
            or set(map(str.count, lines, repeat(" "))) - {3} or not set(kinds) <= {"0", "1", "3"}):
        return _columns(_read_slowly(where, text, names), names)
    trace = list(zip(_numbers(kinds), _numbers(fields[1::4]), _numbers(fields[2::4]), _numbers(fields[3::4])))
    width = 2 + len(names)  # cycles, timed out, the o_* ports
    if set(map(len, map(str.split, ends))) - {width}:
        return _columns(_read_slowly(where, text, names), names)
    tokens = " ".join(ends).split()
    outputs = list(zip(*(_numbers(tokens[2 + i::width]) for i in range(len(names))))) if names else [()] * len(ends)
    starts = list(accumulate(counts, initial=0))
    traces = list(map(trace.__getitem__, map(slice, starts, starts[1:])))
    return outputs, traces, _numbers(tokens[0::width]), list(map("1".__eq__, tokens[1::width]))


def parse_binary_results(data: bytes, ports: Ports, count: int) -> tuple[list[tuple], list[list], list[int], list[bool]]:
    """Binary results as parse_results' columns: what the Verilator testbench writes on a
    pipe when every value fits 64 bits (no text to format and parse: bench (g)). Native
    unsigned 64-bit numbers: `count`; per scenario its number of references, cycles, timed
    out, the o_* ports in OUTPUTS order; then 4 per reference (kind, address, bytes, value)."""
    k = 3 + len(ports.outputs)
    numbers = array("Q")
    if len(data) % numbers.itemsize:
        raise ValueError(f"binary results of {len(data)} bytes, not whole numbers")
    numbers.frombytes(data)
    numbers = numbers.tolist()
    if not numbers or numbers[0] != count or len(numbers) < 1 + k * count:
        raise ValueError(f"binary results for {numbers[0] if numbers else 0} scenarios, expected {count}")
    ends, refs = numbers[1:1 + k * count], numbers[1 + k * count:]
    counts = ends[0::k]
    if 4 * sum(counts) != len(refs):
        raise ValueError(f"binary results with {len(refs)} reference numbers, expected {4 * sum(counts)}")
    trace = list(zip(refs[0::4], refs[1::4], refs[2::4], refs[3::4]))
    starts = list(accumulate(counts, initial=0))
    traces = list(map(trace.__getitem__, map(slice, starts, starts[1:])))
    outputs = list(zip(*(ends[3 + i::k] for i in range(len(ports.outputs))))) if ports.outputs else [()] * count
    return outputs, traces, ends[1::k], list(map(bool, ends[2::k]))


def _columns(results: list[Result], names: list[str]) -> tuple[list[tuple], list[list], list[int], list[bool]]:
    return ([tuple(r.outputs[n] for n in names) for r in results], [r.trace for r in results],
            [r.cycles for r in results], [r.timed_out for r in results])


_END = re.compile(r"^2 ([^\n]*)\n?", re.M)  # an end record, its fields after the tag

# hex numbers below 256 as a batch testbench writes them (1 to 4 digits): a dictionary look-up
# is cheaper than int(..., 16) for a column of them of mixed lengths (cycles)
_SMALL = {f"{i:0{d}x}": i for i in range(256) for d in range(1, 5)}


def _numbers(tokens: list[str]) -> list[int]:
    """A column of hex numbers. When all have the same number of digits, at most 16 (what a
    testbench writes for a port or an address), one bytes.fromhex of them all, each padded
    to 16 digits, and one struct.unpack read them: no Python call per number."""
    lengths = set(map(len, tokens))
    if len(lengths) == 1:
        digits = lengths.pop()
        if digits <= 16:
            pad = "0" * (16 - digits)
            try:
                return list(struct.unpack(f">{len(tokens)}Q", bytes.fromhex(pad + pad.join(tokens))))
            except ValueError:
                pass  # not all hex digits: int says which
    try:
        return list(map(_SMALL.__getitem__, tokens))
    except KeyError:
        return list(map(int, tokens, repeat(16)))


def _read_slowly(path: Path, text: str, names: list[str]) -> list[Result]:
    out: list[Result] = []
    trace: list[tuple[int, int, int, int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        tag = tok[0]
        if tag in ("0", "1", "3"):
            if len(tok) != 4:
                raise ValueError(f"{path}:{number}: expected a memory reference of 4 fields, not {len(tok)}")
            trace.append((int(tag), int(tok[1], 16), int(tok[2], 16), int(tok[3], 16)))
        elif tag == "2":
            if len(tok) != 3 + len(names):
                raise ValueError(f"{path}:{number}: expected an end record of {3 + len(names)} fields, not {len(tok)}")
            out.append(Result(dict(zip(names, (int(t, 16) for t in tok[3:]))), trace, int(tok[1], 16), tok[2] == "1"))
            trace = []
        else:
            raise ValueError(f"{path}:{number}: expected a record tagged 0, 1, 2 or 3, not {tag!r}")
    return out


def final_memory(image: dict[int, int], trace) -> dict[int, int]:
    """The memory after a run: the image with the run's writes applied in order."""
    mem = dict(image)
    mem.update([(addr, value) for kind, addr, _, value in trace if kind == 1])
    return mem


def final_memories(images: list[dict[int, int]], traces: list[list]) -> list[dict[int, int]]:
    """final_memory of each image and trace, a copy each, with no Python call per run."""
    out = list(map(dict, images))
    writes = [[(a, v) for k, a, _, v in t if k == 1] for t in traces]
    list(map(dict.update, out, writes))
    return out


@dataclass(frozen=True)
class SequenceItem:
    """One sequence as the testbench reads it: the generator's seed, the starting image and
    its steps, each ("run", limit, input port values in INPUTS order) or ("store", address,
    value)."""

    seed: int
    memory: dict
    steps: tuple


def sequence_text(ports: Ports, items: list[SequenceItem], timing, limit: int) -> str:
    """The scenario file (version 2, the module text) of `items`."""
    t = timing
    masks = [(1 << w) - 1 for _, w in ports.inputs]
    data_mask = (1 << ports.data_width) - 1
    request_fmt = "0 %x " + " ".join(f"%0{_digits(w)}x" for _, w in ports.inputs) + "\n"
    entry_fmt = f"%016x %0{_digits(ports.data_width)}x\n"
    store_fmt = "1 %016x " + f"%0{_digits(ports.data_width)}x\n"
    out = ["%x %x %x %x %x %x %x\n" % (MAGIC, SEQUENCE_VERSION, len(items), t.min_latency, t.max_latency,
                                      t.stall_percent, limit)]
    for it in items:
        out.append("%08x %x %x\n" % (seed32(it.seed), len(it.memory), len(it.steps)))
        out += [entry_fmt % (a & MASK64, v & data_mask) for a, v in sorted(it.memory.items())]
        for kind, a, b in it.steps:
            if kind == "run":
                out.append(request_fmt % (a, *(v & m for v, m in zip(b, masks))))
            else:
                out.append(store_fmt % (a & MASK64, b & data_mask))
    return "".join(out)


def parse_sequence_results(text: str, ports: Ports, items: list[SequenceItem], where) -> list[list[Result]]:
    """The results of a version-2 run: per sequence, one Result per transaction step run (a
    timed-out one ends its sequence). ValueError when the records do not add up."""
    names = [n for n, _ in ports.outputs]
    outputs, traces, cycles, timed_out = parse_results(text, ports, where)
    out, at = [], 0
    for it in items:
        runs = []
        for kind, _a, _b in it.steps:
            if kind != "run":
                continue
            if at >= len(cycles):
                raise ValueError(f"{where}: results for {at} transactions, expected more")
            runs.append(Result(dict(zip(names, outputs[at])), traces[at], cycles[at], timed_out[at]))
            at += 1
            if timed_out[at - 1]:
                break
        out.append(runs)
    if at != len(cycles):
        raise ValueError(f"{where}: results for {len(cycles)} transactions, expected {at}")
    return out
