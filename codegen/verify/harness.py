"""Co-simulation harness: run the generated reference and the generated MyHDL model on
the same scenarios and compare outcome, ordered memory trace and final memory image.

The model runs in one MyHDL simulation per batch: a testbench owns the memory (with
per-request latency and request stalls drawn as codegen/verify/batch.py says, like the
HDL backends' testbenches), pulses `start`, waits for `done`, and counts cycles. A per-transaction cycle watchdog (`cycle_limit`, derived
from the spec) turns a model that never finishes into a mismatch ("model did not
finish within N cycles"); the testbench then resets the model and goes on.
"""
from __future__ import annotations

import importlib.util
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from myhdl import StopSimulation, always, block, delay, instance

from codegen import ir
from codegen.verify import batch
from codegen.verify.stimulus.translation import Scenario

# the watchdog of callers that give no limit (no spec at hand): generous for any shipped spec
DEFAULT_CYCLE_LIMIT = 100_000


def load_generated(directory: Path):
    """Import generated/<spec>/reference.py and model.py as fresh modules."""
    mods = []
    for name in ("reference", "model"):
        path = Path(directory) / f"{name}.py"
        mod_name = f"virtspec_gen_{Path(directory).name}_{name}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod
        spec.loader.exec_module(mod)
        mods.append(mod)
    return tuple(mods)


@dataclass
class Run:
    outcome: dict
    trace: list
    memory: dict
    cycles: int = 0
    detail: dict | None = None  # a unit's reference: what each walk did (coverage only, not compared)
    timeout: int = 0  # a model run the watchdog stopped: the cycle limit it passed (outcome then empty)


@dataclass
class Timing:
    """Memory behaviour of the testbench: latency range and request-stall chance."""

    min_latency: int = 1
    max_latency: int = 4
    stall_percent: int = 20


def writes_per_entry(regime: ir.Regime) -> int:
    """Most writes of one entry: one as used, one after success."""
    return len({u.used for u in regime.updates})


def nested_references(spec: ir.Spec, top: ir.Nested) -> int:
    """The most memory references a 2D walk of composition `top` makes."""
    guest, host = spec.regime(top.guest), spec.regime(top.host)
    n, m = len(guest.levels), len(host.levels)
    k = writes_per_entry(guest)
    reads = (n + 1) * (m + 1) - 1 + (k * n * m if top.update_access else 0)
    return reads * (1 + max(k, writes_per_entry(host)))


def regime_references(spec: ir.Spec, regime: ir.Regime) -> int:
    """Most memory references one walk of `regime` makes: an entry read at each level,
    and an update write of it when the regime sets bits, as used and after success."""
    return len(regime.levels) * (1 + writes_per_entry(regime))


def max_references(spec: ir.Spec) -> int:
    """A bound on the memory references of one transaction of `spec`, from the IR: the
    levels of a one-dimensional walk; (n+1)(m+1)-1 entry reads of a nested walk of n
    guest and m host levels (a host walk for each guest table and for the final
    address), each perhaps written back (as used and after success), plus a host walk
    for each guest update (as used and after success) when updates have an access of
    their own; a unit's structure words (two per word of an `align 4` one), two words per bitmap
    lookup, its walks (a called unit's among them), and a store (read and write, to be
    safe) per stored record field, the called units' too."""
    top = spec.top
    if isinstance(top, ir.Regime):
        return regime_references(spec, top)
    if isinstance(top, ir.Nested):
        return nested_references(spec, top)
    # an `align 4` structure reads at most two aligned words per word it uses
    words = sum((1 if s.align == 8 else 2)
                * len({w for f in s.fields for w in range(f.offset // 8, (f.offset + (f.width + 7) // 8 - 1) // 8 + 1)})
                for s in top.structures)
    walks = sum(nested_references(spec, next(n for n in spec.nested if n.name == w.regime)) if w.nested
                else regime_references(spec, spec.regime(w.regime)) for w in top.walks)
    stores = sum(1 for r in (top.record, *(c.record for c in top.calls)) for f in r.fields if f.store)
    return words + 2 * len(top.bitmaps) + walks + 2 * stores


def cycle_limit(spec: ir.Spec, timing: Timing, overhead: int = 4) -> int:
    """The watchdog: cycles a transaction may take before the model counts as never
    finishing. Each memory reference costs at most the longest latency, the expected
    wait for the memory to take the request (1/(1-s) cycles at stall percent s) and
    `overhead` cycles of the model's own; the bound is 4x that, plus 100 cycles."""
    wait = -(-100 // (100 - timing.stall_percent))  # ceil(1 / (1 - s))
    return 4 * max(1, max_references(spec)) * (timing.max_latency + wait + overhead) + 100


def run_reference(ref, sc: Scenario, model=None) -> Run:
    """The reference's answer to one scenario: the cache-free `translate`; or, given the
    cycle-level `model` (a module, or a backend's runner) when it holds walk caches
    (WALK_CACHES), the translation through the caches from reset, as the model answers it
    from reset: a nested TLB or a host walk's paging-structure cache may answer a later
    host translation of the same walk (same outcome, fewer references)."""
    mem = dict(sc.memory)
    trace: list = []
    if is_unit(ref):
        detail: dict = {}
        if sc.errors:
            return Run(ref.decide(mem, sc.request, trace, detail, errors=sc.errors), trace, mem, detail=detail)
        return Run(ref.decide(mem, sc.request, trace, detail), trace, mem, detail=detail)
    module = model.model if hasattr(model, "run") and hasattr(model, "name") else model  # a backend's runner holds the module
    if module is not None and getattr(module, "WALK_CACHES", False) and _has(ref, "translate_cached"):
        from codegen.verify.sequence import model_caches
        outcome, _ = ref.translate_cached(ref.Caches(True, model_caches(ref, module)), mem, sc.request, trace)
        return Run(outcome, trace, mem)
    return Run(ref.translate(mem, sc.request, trace), trace, mem)


def is_unit(ref) -> bool:
    """Whether a generated reference is a decision unit (else a translation)."""
    return _has(ref, "EXITS")


def _has(ref, name: str) -> bool:
    """hasattr for a generated module without the cost of a failed attribute lookup (an
    exception), once per transaction of a batch backend's results."""
    if type(ref) is ModuleType:
        return name in ref.__dict__
    return hasattr(ref, name)


def model_outcome(ref, p) -> dict:
    status = int(p["o_status"])
    if _has(ref, "EXITS"):
        if status == 0:
            return {"exit": False}
        return {"exit": True, "rule": _name(ref.EXITS, status),
                "fields": {f: int(p[f"o_r_{f}"]) for f in ref.RECORD_FIELDS}}
    if status == 0:
        out = {"ok": True, "pa": int(p["o_pa"]), "level": _level(ref, int(p["o_level"]))}
        if _has(ref, "NESTED_BASE"):
            out["host_level"] = _level(ref, int(p["o_aux"]))
        return out
    if _has(ref, "NESTED_BASE") and status > ref.NESTED_BASE:
        kind = _name(ref.HOST_FAULTS, status - ref.NESTED_BASE)
        # a fault found before the host walk's first reference has no level (the status
        # code says which kind it is; the constants say the kind is an input fault)
        level = None if kind in getattr(ref, "HOST_INPUT_FAULTS", ()) else int(p["o_level"])
        return {"ok": False, "fault": kind, "stage": "host",
                "level": level, "guest_level": _level(ref, int(p["o_aux"])), "record": ref.NESTED_RECORD,
                "fields": {f: int(p[f"o_n_{f}"]) for f in ref.NESTED_RECORD_FIELDS}}
    kind = _name(ref.FAULTS, status)
    if _has(ref, "FAULT_RECORDS") and 1 <= status <= len(ref.FAULTS):
        record = ref.FAULT_RECORDS[status - 1]
        at = list(ref.RECORDS).index(record)
        prefix = f"o_r{at}_" if at else "o_r_"  # the records after the first have ports of their own
        return {"ok": False, "fault": kind, "stage": ref.STAGE,
                "level": None if kind in ref.INPUT_FAULTS else int(p["o_level"]),
                "record": record, "fields": {f: int(p[f"{prefix}{f}"]) for f in ref.RECORDS[record]}}
    return {"ok": False, "fault": kind, "stage": ref.STAGE, "level": int(p["o_level"]),
            "record": ref.RECORD, "fields": {f: int(p[f"o_r_{f}"]) for f in ref.RECORD_FIELDS}}


def model_outcomes(ref, names: list[str], rows: list[tuple], timed_out: list[bool]) -> list[dict]:
    """model_outcome of each row of o_* port values (in `names` order), {} for a run the
    watchdog stopped; a translation's successes (most rows) without a dict of ports each
    (a batch backend's thousands of runs, bench (g))."""
    def slow(row: tuple, timeout: bool) -> dict:
        return {} if timeout else model_outcome(ref, dict(zip(names, row)))

    at = {n: i for i, n in enumerate(names)}
    if _has(ref, "EXITS") or _has(ref, "NESTED_BASE") or _has(ref, "NO_LEVEL") \
            or not {"o_status", "o_pa", "o_level"} <= at.keys():
        return list(map(slow, rows, timed_out))
    s, pa, level = at["o_status"], at["o_pa"], at["o_level"]
    return [slow(r, t) if r[s] or t else {"ok": True, "pa": r[pa], "level": r[level]} for r, t in zip(rows, timed_out)]


def _level(ref, value: int) -> int | None:
    """A level port's value: None for the generated NO_LEVEL (a switched-off stage, or
    the guest level of a host fault on the final address)."""
    return None if _has(ref, "NO_LEVEL") and value == ref.NO_LEVEL else value


def _name(kinds, status: int) -> str:
    return kinds[status - 1] if 1 <= status <= len(kinds) else f"<bad status {status}>"


def port_of(ref, key: str) -> str:
    """The model port that carries request value `key`."""
    if is_unit(ref):
        return ref.REQUEST_PORTS[key]
    return "i_addr" if key == ref.INPUT else f"k_{key}" if key in ref.ACCESS else f"r_{key}"


def _transaction(p: dict, mem: dict, errors, queue: deque, sched, most: int):
    """The cycles of one start/done transaction, `start` raised by the caller (a
    generator of a testbench's driver, `yield from`): at each rising edge the memory port
    is served (a request taken when valid and ready, read from or written to `mem`, its
    answer queued with the schedule's latency; a queued answer given when due; ready as
    the schedule says), `start` dropped after the first; `done` read at each falling
    edge, until it is set or `most` cycles have passed. Returns (trace, cycles, finished)."""
    clk, start, done = p["clk"], p["start"], p["done"]
    m_valid, m_ready, m_we, m_addr, m_wdata = p["m_valid"], p["m_ready"], p["m_we"], p["m_addr"], p["m_wdata"]
    m_size = p.get("m_size")  # None: the model moves 8 bytes a request
    m_rvalid, m_rdata = p["m_rvalid"], p["m_rdata"]
    m_rerr = p.get("m_rerr")  # None: the model takes no read error (its reads of an erring word get 0)
    trace, e, finished = [], 0, False
    while not finished and e < most:
        yield clk.posedge
        e += 1
        if m_valid and m_ready:
            addr = int(m_addr)
            size = 8 if m_size is None else 1 << int(m_size)
            keep = (1 << 8 * size) - 1
            if m_we:
                value = int(m_wdata) & keep
                mem[addr] = value
                trace.append((1, addr, size, value))
            elif addr in errors:  # the read answers with an error: no data (0), m_rerr
                value = 0
                trace.append((batch.ERRED, addr, size, value))
            else:
                value = mem.get(addr, 0) & keep
                trace.append((0, addr, size, value))
            queue.append((e + sched.latency(), 0 if m_we else value, not m_we and addr in errors))
        if queue and queue[0][0] <= e + 1:
            m_rvalid.next = True
            _due, data, erred = queue.popleft()
            m_rdata.next = data
            if m_rerr is not None and erred != bool(m_rerr):
                m_rerr.next = erred
        elif m_rvalid:
            m_rvalid.next = False
        ready = sched.ready()
        if ready != bool(m_ready):  # signals written only when they change (simulation speed)
            m_ready.next = ready
        if e == 1:
            start.next = False
        yield clk.negedge
        finished = bool(done)
    return trace, e, finished


@block
def testbench(model, ref, scenarios: list[Scenario], results: list, timing: Timing, limit: int):
    """The batch protocol of codegen/verify/batch.py, exactly as the HDL testbenches
    implement it (the xorshift32 memory schedule, the setup before each scenario, the
    cycle count), so that every backend reports the same trace and cycles."""
    p = model.ports()
    dut = model.model(*(p[name] for name in model.PORT_ORDER))
    clk, rst, start, done = p["clk"], p["rst"], p["start"], p["done"]

    @always(delay(1))
    def clock():
        clk.next = not clk

    m_ready, m_rvalid = p["m_ready"], p["m_rvalid"]
    caches = "i_op" in model.PORT_ORDER

    @instance
    def driver():
        """The memory and the scenarios in one process: at each rising edge it sees the
        model's outputs of before the edge; it reads `done` at the falling edge after."""
        yield clk.negedge
        rst.next = 1
        yield clk.posedge
        yield clk.posedge
        yield clk.negedge
        rst.next = 0
        fresh = True
        for sc in scenarios:
            if caches and not fresh:
                # a model with caches answers each scenario from reset (the reference's
                # `translate` has no cache): what a scenario filled must not answer the next
                rst.next = 1
                yield clk.posedge
                yield clk.posedge
                yield clk.negedge
                rst.next = 0
            fresh = False
            mem, queue = dict(sc.memory), deque()
            errors = sc.errors
            sched = batch.Schedule(sc.latency_seed, timing.min_latency, timing.max_latency, timing.stall_percent)
            m_rvalid.next = False
            m_ready.next = sched.ready()
            for key, value in sc.request.items():
                p[port_of(ref, key)].next = value
            start.next = True
            trace, e, finished = yield from _transaction(p, mem, errors, queue, sched, limit)
            if finished:
                results.append(Run(model_outcome(ref, p), trace, mem, e))
                continue
            # the watchdog: no `done` within `limit` cycles; reset the model for the next one
            results.append(Run({}, trace, mem, e, timeout=limit))
            rst.next = 1
            yield clk.posedge
            yield clk.posedge
            yield clk.negedge
            rst.next = 0
            fresh = True
        raise StopSimulation

    return dut, clock, driver


def run_model(model, ref, scenarios: list[Scenario], timing: Timing | None = None, vcd: Path | None = None,
              limit: int | None = None) -> list[Run]:
    """The model's run of each scenario; one that does not finish within `limit` cycles
    (default DEFAULT_CYCLE_LIMIT; `cycle_limit` derives one from the spec) is stopped and
    has `timeout` set."""
    results: list[Run] = []
    tb = testbench(model, ref, scenarios, results, timing or Timing(), limit or DEFAULT_CYCLE_LIMIT)
    if vcd is not None:
        vcd = Path(vcd)
        vcd.parent.mkdir(parents=True, exist_ok=True)
        vcd.unlink(missing_ok=True)  # replaced: MyHDL would keep the old one under a timestamped name
        tb.config_sim(trace=True, directory=str(vcd.parent), name=vcd.stem)
    tb.run_sim(quiet=1)
    tb.quit_sim()
    return results


@dataclass
class Mismatch:
    """A transaction where the two runs differ: its number, the scenario (shrunk, or as
    drawn), what differs in words, both runs, and the files written for it."""

    index: int
    scenario: Scenario
    what: list[str] = field(default_factory=list)
    reference: Run | None = None
    model: Run | None = None
    vcd: Path | None = None
    shrunk: bool = False
    scenario_file: Path | None = None  # the scenario as a file `cosim --scenario` reads


def compare(ref_run: Run, model_run: Run) -> list[str]:
    """What differs between the two runs, in words; empty when they agree. A model run
    the watchdog stopped differs by that alone (and where its trace stops)."""
    out = []
    if model_run.timeout:
        out.append(f"model did not finish within {model_run.timeout} cycles")
        if ref_run.trace[:len(model_run.trace)] != model_run.trace:
            out += [d for d in compare(ref_run, Run(ref_run.outcome, model_run.trace, ref_run.memory))]
        else:
            out.append(f"the model stopped after {len(model_run.trace)} of the reference's "
                       f"{len(ref_run.trace)} memory references")
        return out
    if ref_run.outcome != model_run.outcome:
        out.append(f"outcome: reference {outcome_text(ref_run.outcome)} != model {outcome_text(model_run.outcome)}")
    if ref_run.trace != model_run.trace:
        for i, (a, b) in enumerate(zip(ref_run.trace, model_run.trace)):
            if a != b:
                out.append(f"memory reference #{i}: reference {_ref(a)} != model {_ref(b)}")
                break
        else:
            out.append(f"trace length: reference {len(ref_run.trace)} != model {len(model_run.trace)}")
    if ref_run.memory != model_run.memory:
        diff = sorted(k for k in set(ref_run.memory) | set(model_run.memory) if ref_run.memory.get(k) != model_run.memory.get(k))
        out.append(f"final memory differs at {', '.join(hex(k) for k in diff[:4])}")
    return out


def outcome_text(outcome: dict) -> str:
    """An outcome for people, addresses and values in hex: {ok: True, pa: 0x1000, level: 1}."""
    def show(key: str, v) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {show(k, x)}" for k, x in v.items()) + "}"
        if isinstance(v, int) and not isinstance(v, bool) and not key.endswith("level"):
            return hex(v)
        return str(v)
    return show("", outcome)


def _ref(r) -> str:
    """A memory reference for people: R8[0x1000]=0x3 reads 8 bytes at 0x1000."""
    return f"{('R', 'W', 'R', 'E')[r[0]]}{r[2]}[{r[1]:#x}]={r[3]:#x}"  # E: a read that answered with an error


def describe(sc: Scenario) -> str:
    lines = ["request:"] + [f"  {k} = {v:#x}" for k, v in sc.request.items()]
    lines.append(f"intent: {sc.intent}")
    lines.append(f"latency seed: {sc.latency_seed}")
    lines.append("memory:")
    lines += [f"  [{a:#014x}] = {v:#018x}" for a, v in sorted(sc.memory.items())]
    if sc.errors:
        lines.append("reads that answer with an error: " + ", ".join(f"{a:#x}" for a in sorted(sc.errors)))
    return "\n".join(lines)


def model_hit(model, p):
    """A translation's o_hit as a bool; a unit's (HIT_CACHES: one bit per cache) as the
    names of the caches that answered, in lookup order, as the unit's reference gives them."""
    names = getattr(model, "HIT_CACHES", None)
    if names is None:
        return bool(p["o_hit"])
    bits = int(p["o_hit"])
    return tuple(name for j, name in enumerate(names) if bits >> j & 1)


def step_ports(ref, model, step) -> dict[str, int]:
    """The input ports a sequence step sets: its request (input, access kinds, context);
    a translate step i_op = 0; an invalidation i_op = its number (model.INVALIDATIONS,
    1-based) and its operands on i_EVENT_OPERAND."""
    out = {port_of(ref, key): value for key, value in step.request.items()}
    if step.op == "translate":
        out["i_op"] = 0
    else:
        out["i_op"] = list(model.INVALIDATIONS).index(step.event) + 1
        for name, value in step.operands:
            out[f"i_{step.event}_{name}"] = value
    return out


@block
def sequence_testbench(model, ref, seqs, done_one, timing: Timing, limit: int):
    """Sequences (codegen/verify/sequence.py) on the model, one after another in one
    simulation, each from a reset (the model elaborated once: a large model takes longer
    to elaborate than to run a sequence): each translate and invalidate step is a
    start/done transaction with the step's values on the ports (held until done), the
    memory as the batch protocol's (one latency schedule for each sequence, seeded by its
    seed); a store writes the memory image directly. The watchdog gives a translation
    `limit` cycles and an invalidation `limit` plus its sweep (model.SWEEP_CYCLES); a step
    past it ends its sequence. `seqs` is read lazily, and `done_one(seq, run)` gets each
    sequence's SequenceRun as soon as it ends."""
    from codegen.verify.sequence import SequenceRun, StepRun

    p = model.ports()
    dut = model.model(*(p[name] for name in model.PORT_ORDER))
    clk, rst, start, done = p["clk"], p["rst"], p["start"], p["done"]

    @always(delay(1))
    def clock():
        clk.next = not clk

    m_ready, m_rvalid = p["m_ready"], p["m_rvalid"]
    m_rerr = p.get("m_rerr")  # None: the model has no read-error input

    @instance
    def driver():
        for seq in seqs:
            errors = seq.errors
            mem, steps, queue = dict(seq.memory), [], deque()
            sched = batch.Schedule(getattr(seq, "seed", 0), timing.min_latency, timing.max_latency,
                                   timing.stall_percent)
            yield clk.negedge
            rst.next = 1
            start.next = False
            m_rvalid.next = False
            if m_rerr is not None:
                m_rerr.next = False
            yield clk.posedge
            yield clk.posedge
            yield clk.negedge
            rst.next = 0
            m_ready.next = sched.ready()
            timeout = 0
            for st in seq.steps:
                if st.op == "store":
                    mem[st.address] = st.value
                    steps.append(StepRun())
                    continue
                for name, value in step_ports(ref, model, st).items():
                    p[name].next = value
                m_rvalid.next = False
                start.next = True
                most = limit if st.op == "translate" else limit + model.SWEEP_CYCLES
                trace, e, finished = yield from _transaction(p, mem, errors, queue, sched, most)
                if not finished:
                    timeout = most
                    break
                if st.op == "translate":
                    steps.append(StepRun(model_outcome(ref, p), model_hit(model, p), trace, cycles=e))
                else:
                    steps.append(StepRun(trace=trace, cycles=e))
            done_one(seq, SequenceRun(steps, mem, timeout))
        raise StopSimulation

    return dut, clock, driver


def run_model_sequence(model, ref, seq, timing: Timing | None = None, cycle_limit: int | None = None,
                       vcd: Path | None = None):
    """The model's run of sequence `seq` (a SequenceRun: per step a StepRun with the
    outcome, hit, trace and cycles of a translation; the final memory image; `timeout`
    set when a step did not finish within its watchdog)."""
    out: list = []
    run_model_sequences(model, ref, [seq], lambda _seq, run: out.append(run), timing, cycle_limit, vcd)
    return out[0]


def run_model_sequences(model, ref, seqs, done_one, timing: Timing | None = None, cycle_limit: int | None = None,
                        vcd: Path | None = None) -> None:
    """The model's run of each sequence of the iterable `seqs`, in one simulation (one
    elaboration of the model), each from a reset; `done_one(seq, run)` gets each one's
    SequenceRun (as run_model_sequence's) when it ends, before the next is drawn."""
    tb = sequence_testbench(model, ref, seqs, done_one, timing or Timing(), cycle_limit or DEFAULT_CYCLE_LIMIT)
    if vcd is not None:
        vcd = Path(vcd)
        vcd.parent.mkdir(parents=True, exist_ok=True)
        vcd.unlink(missing_ok=True)
        tb.config_sim(trace=True, directory=str(vcd.parent), name=vcd.stem)
    tb.run_sim(quiet=1)
    tb.quit_sim()
