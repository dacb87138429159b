"""What `virtspec cosim --json` prints, and the scenario files it saves: one schema for
translations (walks) and decision units (events) alike, as pydantic models.

`virtspec schema cosim` and `virtspec schema scenario` print the JSON Schemas of
`CosimReport` and `ScenarioFile`; scripts can validate what they read against them.
Addresses and values are hex strings ("0x1f"), everywhere: request and context fields,
memory images, outcome addresses and record fields, trace entries. Counts, level
numbers, seeds and sizes are JSON integers.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from codegen.verify.stimulus.translation import Scenario

SCHEMA_VERSION = 1

HEX_PATTERN = r"^0x[0-9a-f]+$"
Hex = Annotated[str, Field(pattern=HEX_PATTERN, description="a non-negative integer in lowercase hex, as 0x1f")]
_HEX = re.compile(HEX_PATTERN)


def to_hex(value: int) -> str:
    return hex(value)


def from_hex(text: str) -> int:
    return int(text, 16)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- pieces
class SpecRef(_Model):
    """The spec co-simulated."""

    name: str = Field(description="the spec's declared name (`spec NAME;`)")
    path: str = Field(description="the spec file")
    model: str | None = Field(None, description="the model of the spec that ran (`cosim --model`; the spec's "
                              "regime, composition or unit of that name); null in a scenario file saved before "
                              "specs had several models: the default one")


class Options(_Model):
    """What the run was asked to do."""

    requested: int = Field(description="transactions requested: --walks or --events, or the sum of --mix")
    mix: dict[str, int] | None = Field(None, description="--mix: events of each event kind (units only)")
    min_latency: int = Field(description="fewest cycles the testbench memory takes to answer")
    max_latency: int = Field(description="most cycles the testbench memory takes to answer")
    stall_percent: int = Field(description="percent of cycles the testbench memory refuses a request")
    replay: int | None = Field(None, description="--replay N: only scenario N of the seed was run")
    scenario_file: str | None = Field(None, description="--scenario FILE: only the scenario of FILE was run")


class ScenarioData(_Model):
    """One transaction's stimulus: the request (input address, access kinds and context
    registers of a walk; event fields and context of a unit) and the memory image."""

    request: dict[str, Hex] = Field(description="request and context fields, by name")
    memory: dict[Hex, Hex] = Field(description="the memory image: 8-byte words by address, in address order",
                                   json_schema_extra={"additionalProperties": False})
    latency_seed: int = Field(ge=0, description="seed of the testbench's per-request latencies and stalls")
    intent: dict[str, Any] = Field(default_factory=dict,
                                   description="what the stimulus generator aimed at (informative only)")
    errors: list[Hex] = Field(default_factory=list,
                              description="addresses of the words whose reads answer with an error (no data: they "
                                          "read as 0), in address order")


class TraceEntry(_Model):
    """One memory reference."""

    op: Literal["read", "write", "read error"]
    address: Hex
    size: int = Field(description="bytes")
    value: Hex


class TraceDifference(_Model):
    """The first memory reference where the two ordered traces differ; an entry is null
    where that trace ended first."""

    index: int = Field(description="position in the trace, from 0")
    reference: TraceEntry | None
    model: TraceEntry | None


class MemoryDifference(_Model):
    """A word of the final memory image the two runs leave differently (null: never written, absent)."""

    address: Hex
    reference: Hex | None
    model: Hex | None


class Outcomes(_Model):
    """The outcome of each side, as the harness compares them: a translation's
    {ok, pa, level[, host_level]} or {ok, fault, stage, level, record, fields...}, a
    unit's {exit, rule, fields}. Level numbers are integers; addresses and record field
    values are hex strings."""

    reference: dict[str, Any]
    model: dict[str, Any] | None = Field(description="null when the model did not finish")


class Failure(_Model):
    """One mismatching transaction, after shrinking (memory the walk never reads is
    dropped and request values that do not matter are cleared; `shrunk` says whether
    anything could be)."""

    index: int = Field(description="the transaction's number in the run, from 0 (what --replay takes)")
    shrunk: bool
    scenario: ScenarioData
    differences: list[str] = Field(description="what differs, in words (hex addresses and values)")
    outcome: Outcomes
    first_trace_difference: TraceDifference | None = Field(description="null when the traces agree")
    memory_differences: list[MemoryDifference]
    vcd: str | None = Field(description="the model's VCD of this scenario")
    scenario_file: str | None = Field(description="this scenario as JSON (a ScenarioFile), for --scenario")
    replay: str = Field(description="the command line that re-runs exactly this (shrunk) scenario")
    replay_unshrunk: str = Field(description="the command line that re-runs the original scenario (--replay N)")


class Coverage(_Model):
    hit: dict[str, int] = Field(description="coverage point -> transactions that hit it")
    missing: list[str] = Field(description="reachable points no transaction hit")
    unreachable: list[str] = Field(description="points no request can reach by construction (not counted)")
    why: dict[str, str] = Field(default_factory=dict, description="unreachable point -> why the spec proves it unreachable, where the proof is told (a unit's constant bindings)")
    percent: float = Field(description="percent of the reachable points hit")
    needs_state: dict[str, str] = Field(default_factory=dict, description="missing point -> why it may be reached only "
                                        "through a cache hit from an earlier event (a unit with a call cache: a call "
                                        "that reads a table entry a cached call read); `cosim --sequences` counts it")
    note: str | None = Field(None, description="what the coverage-directed search gave up on (points it tried "
                                               "without a hit, points its budget of reference runs left untried); "
                                               "null when it gave up on none")


class Stat(_Model):
    mean: float
    max: int


class Throughput(_Model):
    """Transactions per second."""

    overall: float = Field(description="the whole run: stimulus, both models, comparison, coverage search")
    reference: float = Field(description="the generated reference alone")
    model: float = Field(description="the MyHDL model's simulation alone")
    seconds: float = Field(description="wall time of the whole run")


class CosimReport(_Model):
    """The output of `virtspec cosim --json`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    spec: SpecRef
    kind: Literal["translation", "unit"] = Field(description="a translation's transactions are walks; a unit's, events")
    seed: int | None = Field(description="seed of the stimulus (null: a --scenario file that names none)")
    backend: Literal["myhdl", "verilator", "icarus", "ghdl"] = Field(
        "myhdl", description="what simulated the model: the MyHDL model, or its converted HDL in that simulator")
    options: Options
    transactions: int = Field(description="transactions co-simulated")
    mismatches: int = Field(description="transactions where reference and model disagree")
    mismatched: list[int] = Field(description="the number of each mismatching transaction, for --replay")
    failures: list[Failure] = Field(description="the first mismatches (at most --max-failures), shrunk")
    coverage: Coverage
    memory_references: Stat = Field(description="memory references per transaction (the reference's trace)")
    cycles: Stat = Field(description="model clock cycles per transaction, start to done")
    throughput: Throughput


class ScenarioFile(_Model):
    """A scenario saved by `virtspec cosim` (next to each mismatch's VCD, and by
    --replay), read back by `virtspec cosim SPEC --scenario FILE`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    spec: SpecRef
    kind: Literal["translation", "unit"]
    index: int | None = Field(None, description="the transaction's number in its run")
    seed: int | None = Field(None, description="the seed of its run")
    options: Options = Field(description="the run's options; the latencies and stall percent are replayed")
    scenario: ScenarioData


# ---------------------------------------------------------------- conversions
def scenario_data(sc: Scenario) -> ScenarioData:
    return ScenarioData(request={k: to_hex(v) for k, v in sc.request.items()},
                        memory={to_hex(a): to_hex(v) for a, v in sorted(sc.memory.items())},
                        latency_seed=sc.latency_seed, intent=json.loads(json.dumps(sc.intent)),
                        errors=[to_hex(a) for a in sorted(sc.errors)])


def scenario_of(data: ScenarioData) -> Scenario:
    return Scenario({k: from_hex(v) for k, v in data.request.items()},
                    {from_hex(a): from_hex(v) for a, v in data.memory.items()}, data.latency_seed, dict(data.intent),
                    frozenset(from_hex(a) for a in data.errors))


def hex_values(outcome: dict) -> dict:
    """An outcome with its addresses and values as hex strings: every integer but the
    level numbers (keys ending in 'level') and booleans."""
    out: dict = {}
    for key, value in outcome.items():
        if isinstance(value, dict):
            out[key] = hex_values(value)
        elif isinstance(value, bool) or not isinstance(value, int) or key.endswith("level"):
            out[key] = value
        else:
            out[key] = to_hex(value)
    return out


def trace_entry(entry) -> TraceEntry | None:
    if entry is None:
        return None
    op, addr, size, value = entry
    return TraceEntry(op=("read", "write", "read", "read error")[op], address=to_hex(addr), size=size, value=to_hex(value))


def first_trace_difference(a: list, b: list) -> TraceDifference | None:
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x != y:
            return TraceDifference(index=i, reference=trace_entry(x), model=trace_entry(y))
    return None


def memory_differences(a: dict, b: dict, limit: int = 16) -> list[MemoryDifference]:
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return [MemoryDifference(address=to_hex(k), reference=None if k not in a else to_hex(a[k]),
                             model=None if k not in b else to_hex(b[k])) for k in diff[:limit]]


# ---------------------------------------------------------------- scenario files
class ScenarioFileError(Exception):
    """A scenario file that cannot be read or is not one cosim wrote (a usage error)."""


def write_scenario_file(path: Path, data: ScenarioFile) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data.model_dump_json(indent=2) + "\n")
    return path


def read_scenario_file(path: Path) -> ScenarioFile:
    """The scenario file at `path`; ScenarioFileError says what is wrong with it, in the
    form 'expected X, not Y'."""
    try:
        text = Path(path).read_text()
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ScenarioFileError(f"cannot read scenario file '{path}': {why}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioFileError(f"expected a JSON scenario file written by `virtspec cosim`, not '{path}' "
                                f"(line {exc.lineno}: {exc.msg})") from None
    if not isinstance(raw, dict):
        raise ScenarioFileError(f"expected a JSON object in scenario file '{path}', not {type(raw).__name__}")
    try:
        return ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "the top level"
        got = err.get("input")
        shown = "nothing" if err["type"] == "missing" else repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
        raise ScenarioFileError(f"malformed scenario file '{path}': at {where}: expected "
                                f"{_expected(err)}, not {shown}") from None


def _expected(err: dict) -> str:
    kind = err["type"]
    if kind == "string_pattern_mismatch":
        return "a hex string such as 0x1f"
    if kind == "missing":
        return "a value (the field is required)"
    if kind == "extra_forbidden":
        return "no such field"
    msg = err["msg"]
    return msg[len("Input should be "):] if msg.startswith("Input should be ") else msg[0].lower() + msg[1:]
