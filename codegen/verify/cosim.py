"""`virtspec cosim`: drive the generated reference and MyHDL model with the same
scenarios, compare them, and report coverage, references, cycles and speed; replay one
scenario of a run, or one saved in a scenario file."""
from __future__ import annotations

import dataclasses
import random
import re
import shlex
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from codegen import ir
from codegen.verify import harness
from codegen.verify import report as report_mod
from codegen.verify.backends import runner
from codegen.verify.stimulus import reach
from codegen.verify.stimulus.translation import (
    Draw,
    Plan,
    Scenario,
    ScenarioFactory,
    StimulusError,
    fault_levels,
    reachable_checks,
    reachable_input_faults,
)
from codegen.verify.stimulus.unit import Target, UnitScenarioFactory, target_of
from codegen.verify.stimulus.unit import coverage_keys as unit_coverage_keys
from codegen.verify.stimulus.unit import coverage_points as unit_coverage_points
from codegen.verify.stimulus.unit import needs_state

TRANSLATION, UNIT = "translation", "unit"


def _run_model(runner, ref, scenarios, timing, vcd=None, limit=None) -> list[harness.Run]:
    """The model's runs of `scenarios` on `runner` (a backend's runner, backends/runner.py),
    or on a generated MyHDL model module given as such."""
    if hasattr(runner, "run") and hasattr(runner, "name"):
        return runner.run(scenarios, timing, vcd=vcd, limit=limit)
    return harness.run_model(runner, ref, scenarios, timing, vcd=vcd, limit=limit)


@dataclass
class Report:
    """What one co-simulation run found; `to_model` gives the `cosim --json` schema
    (codegen/verify/report.py)."""

    spec_name: str = ""
    backend: str = "myhdl"  # what simulated the model: the MyHDL model, or its HDL in a simulator (backends/runner.py)
    model: str = ""  # the model that ran (Spec.models): its name, in the report and every replay command
    models: tuple[str, ...] = ()  # every model of the spec, the default first
    spec_path: str = ""  # the spec file: absolute when the caller names it (spec_file=), else as the IR shows it
    kind: str = TRANSLATION
    seed: int | None = None
    requested: int = 0
    mix: dict[str, int] | None = None
    timing: harness.Timing = field(default_factory=harness.Timing)
    replay: int | None = None  # --replay N: the run was scenario N alone
    scenario_file: Path | None = None  # --scenario FILE: the run was that file's scenario alone
    transactions: int = 0
    mismatches: int = 0
    mismatched: list[int] = field(default_factory=list)
    refs: list[int] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)
    coverage: Counter = field(default_factory=Counter)
    expected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    why: dict[str, str] = field(default_factory=dict)  # an unreachable point -> the reason, where one is told
    # points that may be reached only through a cache hit from an earlier event (needs_state) -> why
    needs_state: dict[str, str] = field(default_factory=dict)
    coverage_note: str | None = None  # what the coverage-directed search gave up on (Stimulus.gave_up)
    seconds: float = 0.0
    reference_seconds: float = 0.0
    model_seconds: float = 0.0
    stimulus_seconds: float = 0.0  # drawing the scenarios (bench (g) shows the share of each part)
    simulator_seconds: float = 0.0  # of model_seconds, inside an HDL simulator (0 on myhdl)
    failures: list[harness.Mismatch] = field(default_factory=list)
    max_failures: int = 3  # mismatches to shrink and keep
    cycle_limit: int = harness.DEFAULT_CYCLE_LIMIT  # the watchdog: cycles a transaction may take (harness.cycle_limit)
    single: tuple | None = None  # --replay, --scenario: (scenario, reference run, model run)
    jobs: int = 1  # shards the run was made of (--jobs): scenarios past the random part depend on it

    @property
    def noun(self) -> str:
        """What one transaction is called: a walk of a translation, an event of a unit."""
        return "walk" if self.kind == TRANSLATION else "event"

    @property
    def coverage_percent(self) -> float:
        if not self.expected:
            return 100.0
        return round(100 * (len(self.expected) - len(self.missing)) / len(self.expected), 2)

    def replay_args(self, index: int) -> list[str]:
        """The options of `virtspec cosim SPEC` that re-run transaction `index` of this run."""
        count = ["--mix", ",".join(f"{k}={n}" for k, n in self.mix.items())] if self.mix else \
            ["--walks" if self.kind == TRANSLATION else "--events", str(self.requested)]
        t = self.timing
        jobs = ["--jobs", str(self.jobs)] if self.jobs > 1 else []
        return [*count, "--seed", str(self.seed), *jobs, "--min-latency", str(t.min_latency), "--max-latency",
                str(t.max_latency), "--stall", str(t.stall_percent), "--replay", str(index)]

    def to_model(self, program: tuple[str, ...] = ("virtspec",),
                 extra_args: tuple[str, ...] = ()) -> report_mod.CosimReport:
        """The report in the published schema. `program` and `extra_args` (e.g. the
        --generated folder of the run) make the replay command lines of the failures."""
        r = report_mod
        n = max(1, self.transactions)

        def per_second(seconds: float) -> float:
            return round(self.transactions / seconds, 1) if seconds else 0.0

        return r.CosimReport(
            spec=r.SpecRef(name=self.spec_name, path=self.spec_path, model=self.model or None), kind=self.kind, seed=self.seed,
            backend=self.backend,
            options=self.options(), transactions=self.transactions, mismatches=self.mismatches,
            mismatched=self.mismatched, failures=[self._failure(f, program, extra_args) for f in self.failures],
            coverage=r.Coverage(hit=dict(sorted(self.coverage.items())), missing=self.missing,
                                unreachable=self.unreachable, why=self.why, percent=self.coverage_percent,
                                note=self.coverage_note,
                                needs_state={k: self.needs_state[k] for k in self.missing if k in self.needs_state}),
            memory_references=r.Stat(mean=round(sum(self.refs) / n, 3), max=max(self.refs, default=0)),
            cycles=r.Stat(mean=round(sum(self.cycles) / n, 3), max=max(self.cycles, default=0)),
            throughput=r.Throughput(overall=per_second(self.seconds), reference=per_second(self.reference_seconds),
                                    model=per_second(self.model_seconds), seconds=round(self.seconds, 3)))

    def command(self, program: tuple[str, ...], args: list[str], extra_args: tuple[str, ...] = ()) -> str:
        """A `virtspec cosim` command line on this run's spec (an absolute path); `program`
        is how virtspec is started (the console script, or python -m codegen). A model
        other than the default is named (--model), so the command re-runs the same one."""
        backend = ["--backend", self.backend] if self.backend != "myhdl" else []
        return shlex.join([*program, "cosim", self.spec_path, *self.model_args(), *backend, *args, *extra_args])

    def model_args(self) -> list[str]:
        """--model NAME when the spec has several models (each replay re-runs this one)."""
        return ["--model", self.model] if self.model and len(self.models) > 1 else []

    def _failure(self, f: harness.Mismatch, program: tuple[str, ...],
                 extra_args: tuple[str, ...]) -> report_mod.Failure:
        r = report_mod
        again = self.command(program, self.replay_args(f.index), extra_args) if self.seed is not None else None
        exact = None
        if f.scenario_file is not None:
            exact = self.command(program, ["--scenario", str(Path(f.scenario_file).resolve())], extra_args)
        a, b = f.reference, f.model
        return r.Failure(
            index=f.index, shrunk=f.shrunk, scenario=r.scenario_data(f.scenario), differences=f.what,
            outcome=r.Outcomes(reference=r.hex_values(a.outcome),
                               model=None if b is None or b.timeout else r.hex_values(b.outcome)),
            first_trace_difference=None if b is None else r.first_trace_difference(a.trace, b.trace),
            memory_differences=[] if b is None else r.memory_differences(a.memory, b.memory),
            vcd=None if f.vcd is None else str(f.vcd),
            scenario_file=None if f.scenario_file is None else str(f.scenario_file),
            replay=exact or again or "", replay_unshrunk=again or exact or "")

    def options(self) -> report_mod.Options:
        t = self.timing
        return report_mod.Options(requested=self.requested, mix=self.mix, min_latency=t.min_latency,
                                  max_latency=t.max_latency, stall_percent=t.stall_percent, replay=self.replay,
                                  scenario_file=None if self.scenario_file is None else str(self.scenario_file))

    def as_json(self, program: tuple[str, ...] = ("virtspec",), extra_args: tuple[str, ...] = ()) -> dict:
        return self.to_model(program, extra_args).model_dump(mode="json")


AFTER_WRITE = "fault after an as-used write"


def coverage_keys(outcome: dict, trace=()) -> list[str]:
    """The coverage points one outcome (and its reference trace) hits. A fault whose
    trace writes an entry before it is an as-used update that survives the fault (after-
    success updates are written only once nothing can fault)."""
    if outcome["ok"]:
        level, nested = outcome["level"], "host_level" in outcome
        keys = [f"page level {level}" if level is not None else "guest stage off" if nested else "stage off"]
        if nested:
            host = outcome["host_level"]
            keys.append(f"host page level {host}" if host is not None else "host stage off")
            if level is not None and host is not None:
                keys.append(f"page levels {level}/{host}")
        return keys
    stage = outcome["stage"]
    keys = [f"{stage} fault {outcome['fault']}", f"{stage} fault {outcome['fault']} at level {outcome['level']}"]
    if any(r[0] == 1 for r in trace):
        keys.append(f"{stage} {AFTER_WRITE}")
    if stage == "host":
        where = "final address" if outcome["guest_level"] is None else f"guest level {outcome['guest_level']} table"
        keys.append(f"host fault on {where}")
    return keys


def _stage_points(stage: str, regime: ir.Regime, spec: ir.Spec, checks: set[str],
                  starts: set[int], inputs: set[str] = frozenset()) -> tuple[list[str], list[str], set[int], set[int]]:
    """(points, unreachable points, levels reached, leaf levels translated at) of one
    stage: each fault kind, each fault at each level it can happen at
    (stimulus.fault_levels) and each final check at each leaf level, each page level.
    A walk fault's point is unreachable only when the spec proves it (stimulus.reach):
    its level is below one no walk passes (no pointer possible, or one a fault always
    stops), its guard is 0 there, or a fault before it is always 1; a check's, when no
    context and access trips it (stimulus.reachable_checks)."""
    reached, leaves = reach.reached_levels(spec, regime, starts)
    points, unreachable = [], []
    sites: list[tuple[str, str, bool]] = []  # (kind, point, reachable)
    for rule in regime.faults:
        # one that reads no entry (the input, a register, an access kind) holds or not for
        # the whole walk: it fires at the first entry it applies to, so at a start level
        # unless it applies to leaves only
        fieldless = rule.where != "leaf" and all(r.kind in ("ctx", "access", "input") for r in rule.when.refs())
        for n in fault_levels(spec, regime, rule):
            ok = n in reached and reach.fault_possible(spec, regime, rule, regime.level(n))
            if fieldless and n not in starts:
                ok = False
            sites.append((rule.name, f"{stage} fault {rule.name} at level {regime.label(n)}", ok))
    for rule in regime.checks:
        for lv in regime.leaf_levels:
            sites.append((rule.name, f"{stage} fault {rule.name} at level {lv.shown}",
                          rule.name in checks and lv.number in leaves))
    # an input fault has no level; `inputs`: those some context and input trip
    # (stimulus.reachable_input_faults; e.g. a check the host binding turns off is not)
    for rule in regime.input_faults:
        sites.append((rule.name, f"{stage} fault {rule.name} at level None", rule.name in inputs))
    for k in regime.fault_kinds:
        mine = [ok for kind, _, ok in sites if kind == k]
        (points if any(mine) or (not mine and k not in [c.name for c in regime.checks]) else unreachable).append(
            f"{stage} fault {k}")
    for _, name, ok in sites:
        (points if ok else unreachable).append(name)
    prefix = "host page level" if stage == "host" else "page level"
    for lv in regime.leaf_levels:
        (points if lv.number in leaves else unreachable).append(f"{prefix} {lv.shown}")
    # an as-used update of a table entry, then a fault further down the same walk
    if any(u.used and u.applies(False) for u in regime.updates) and regime.faults:
        lower = any(lv.number < t.number for t in regime.levels if t.table and t.number in reached
                    for lv in regime.levels if lv.number in reached)
        (points if lower else unreachable).append(f"{stage} {AFTER_WRITE}")
    return points, unreachable, reached, leaves


def expected_coverage(spec: ir.Spec) -> tuple[list[str], list[str]]:
    """Coverage points a full run should hit (every fault kind of each stage at every
    level it can happen at, every page size, every fault site of the host stage), and
    the points no request can reach (`_stage_points`)."""
    top = spec.top
    factory = ScenarioFactory(spec)
    pairs = factory.start_pairs()
    stage = "guest" if isinstance(top, ir.Nested) else "top"
    out, unreachable, reached, leaves = _stage_points(stage, factory.main, spec, reachable_checks(factory, "guest"),
                                                      {m for m, _ in pairs}, reachable_input_faults(factory, "guest"))
    if isinstance(top, ir.Nested):
        points, gone, _, _ = _stage_points("host", factory.host, spec, reachable_checks(factory, "host"),
                                           {h for _, h in pairs}, reachable_input_faults(factory, "host"))
        out += points
        unreachable += gone
        sites = [("host fault on final address", bool(leaves))]
        sites += [(f"host fault on guest level {lv.shown} table", lv.number in reached)
                  for lv in factory.main.levels]
        for name, ok in sites:
            (out if ok else unreachable).append(name)
    # a stage that can be switched off (`bypass when`): its pass-through is a point
    if factory._off_conditions("guest"):
        out.append("guest stage off" if isinstance(top, ir.Nested) else "stage off")
    if isinstance(top, ir.Nested) and factory._off_conditions("host"):
        out.append("host stage off")
    return out, unreachable


class Stimulus:
    """The scenarios of a run, in order: a function of the spec, the count, the seed and
    the mix alone, so that any one of them can be replayed.

    Scenario i of the random part is drawn from a seed of its own (the run's seed and i),
    without drawing the others. The last tenth of a run of 100 or more is
    coverage-directed: it looks for scenarios that hit the coverage points still missing
    (not those that may need state, `needs_state`: one event may never reach them),
    drawing candidates and asking the reference which points each hits, then fills up
    at random. What it draws depends on what the scenarios before it covered, on the
    reference alone; replaying one of them draws the earlier ones again and runs them on
    the reference only (`scenario`). The search has a budget of reference runs (a count,
    not a time, so that the scenarios stay a function of the seed): `search_budget`;
    `gave_up` tells which points it tried without a hit and which it never tried.

    With `jobs` N, the run is N shards of consecutive scenarios (`shards`), each with a
    coverage-directed last tenth of its own, so that they run independently (--jobs,
    --cluster); scenario i of the random part is the same whatever N."""

    def __init__(self, spec: ir.Spec, ref, count: int, seed: int, mix: dict[str, int] | None = None,
                 batch: int | None = None, jobs: int = 1):
        self.spec, self.ref, self.seed = spec, ref, seed
        self.unit = isinstance(spec.top, ir.Unit)
        self.kinds = None  # a unit's forced event kind of each event, in order (--mix)
        self._mix_kinds = None  # as drawn; the directed search reorders `kinds` within a batch
        if self.unit:
            self.factory = UnitScenarioFactory(spec)
            self.enums = {e.name: e for e in spec.enums}
            self.expected, why = unit_coverage_points(spec)
            self.unreachable, self.why = list(why), why
            self.needs_state = needs_state(spec)
            if mix:
                self._mix_kinds = self.factory.mix(mix, Draw(random.Random(f"{seed}:mix")))
                self.kinds = list(self._mix_kinds)
                count = len(self.kinds)
        else:
            self.factory = ScenarioFactory(spec)
            self.expected, self.unreachable = expected_coverage(spec)
            self.why, self.needs_state = {}, {}
        self.count = count
        self.jobs = max(1, min(jobs, count))
        self.batch = batch or (500 if self.unit else 250)
        self.directed_from = self._directed_from(0, count)
        # reference runs the coverage-directed search may take, over the whole run
        self.search_budget = max(5_000 if self.unit else 1_000, 2 * self.directed_from)
        self.not_reached: set[str] = set()  # points the search tried (its tries per point) without a hit
        self.not_attempted: set[str] = set()  # points the search had no budget left for

    def oracle(self, sc: Scenario) -> dict:
        return harness.run_reference(self.ref, sc).outcome

    def oracle_run(self, sc: Scenario) -> harness.Run:
        return harness.run_reference(self.ref, sc)

    def keys(self, sc: Scenario, run: harness.Run) -> list[str]:
        """The coverage points a scenario hits, from its reference run."""
        if not self.unit:
            return coverage_keys(run.outcome, run.trace)
        keys = unit_coverage_keys(self.spec.top, self.enums, run.outcome, run.detail)
        return keys + ([f"event {sc.intent['event']}"] if sc.intent.get("event") else [])

    def _draw(self, tag) -> Draw:
        return Draw(random.Random(f"{self.seed}:{tag}"))

    def _make(self, draw: Draw, index: int, target: Target | None = None) -> Scenario:
        if self.unit:
            force = {self.factory.kind_field.name: self.kinds[index]} if self.kinds else None
            sc = self.factory.complete(self.factory.make(draw, force=force, target=target), self.ref, draw)
            return self.factory.with_error(sc, self.ref, draw, target=target)
        return self.factory.draw_scenario(draw, self.oracle)

    def one(self, index: int) -> Scenario:
        """Scenario `index` as the random part draws it."""
        return self._make(self._draw(index), index)

    @staticmethod
    def _directed_from(lo: int, hi: int) -> int:
        """Where the coverage-directed part of scenarios lo..hi-1 starts: their last
        tenth, when there are 100 or more."""
        n = hi - lo
        return hi - n // 10 if n >= 100 else hi

    def shards(self) -> list[tuple[int, int]]:
        """(first, end) of each shard: `jobs` runs of consecutive scenarios, as even as can be."""
        n, k = self.count, self.jobs
        return [(n * i // k, n * (i + 1) // k) for i in range(k)]

    def shard_of(self, index: int) -> int:
        return next(i for i, (lo, hi) in enumerate(self.shards()) if lo <= index < hi)

    def batches(self, coverage: Counter, shard: int = 0):
        """(first index, scenarios) of shard `shard`, in order. The caller adds the
        coverage of each batch (`keys` of its reference runs) to `coverage` before asking
        for the next."""
        lo, hi = self.shards()[shard]
        directed_from = self._directed_from(lo, hi)
        done = lo
        budget = max(5_000 if self.unit else 1_000, 2 * (directed_from - lo))
        self.not_reached, self.not_attempted = set(), set()
        if self._mix_kinds is not None:  # every replay of the run reorders from the same start
            self.kinds[lo:hi] = self._mix_kinds[lo:hi]
        while done < hi:
            size = min(self.batch, hi - done,
                       max(1, directed_from - done) if done < directed_from else self.batch)
            found: list[Scenario] = []
            if done >= directed_from:
                # (not the points that may need state: one event may never reach them)
                missing = [k for k in self.expected if k not in coverage and k not in self.needs_state]
                draw = self._draw(f"directed:{done}")
                if self.unit:
                    found, budget = self._directed_unit(draw, done, missing, size, budget)
                else:
                    found, budget = _directed(self.factory, draw, self.oracle_run, missing, size, budget, self)
            yield done, found + [self.one(done + i) for i in range(len(found), size)]
            done += size

    def _directed_unit(self, draw: Draw, first: int, missing: list[str], size: int,
                       budget: int) -> tuple[list[Scenario], int]:
        """Candidates drawn until the missing exits and record encodings are hit, the
        batch is full or the budget of reference runs is spent. Three candidates in four
        are aimed at a missing point that names a walk fault or an exit (`target_of`),
        taken in turn: the walk's guards steered and its fault injected at its level, or
        the exit's rule steered, rather than waiting for a random draw to get there.
        With --mix, a candidate takes the kind of any event of the batch not yet filled,
        and a hit swaps that kind into its place: the counts per kind stay exact, and a
        batch whose next event is of a kind that cannot reach a missing point (an
        interrupt, for a DMA walk's fault) no longer spends the budget on it."""
        wanted, found = set(missing), []
        aims = {k: t for k in missing if (t := target_of(k, self.spec.top)) is not None}
        turn = 0
        for _ in range(min(200_000, 50_000 * len(wanted))):
            if not wanted or len(found) >= size:
                break
            if budget <= 0:
                self.not_attempted |= wanted
                break
            budget -= 1
            open_aims = [k for k in missing if k in wanted and k in aims]
            target = None
            if open_aims and draw.chance(75):
                target = aims[open_aims[turn % len(open_aims)]]
                turn += 1
            place = first + len(found)
            kind_of = place if self.kinds is None else place + draw.int(0, size - len(found) - 1)
            sc = self._make(draw, kind_of, target)
            run = harness.run_reference(self.ref, sc)
            hits = wanted.intersection(unit_coverage_keys(self.spec.top, self.enums, run.outcome, run.detail))
            if hits:
                if kind_of != place:
                    self.kinds[place], self.kinds[kind_of] = self.kinds[kind_of], self.kinds[place]
                found.append(sc)
                wanted -= hits
        return found, budget

    def gave_up(self, missing: list[str]) -> str | None:
        """A note on the points of `missing` the search gave up on, or None."""
        attempted = [k for k in missing if k in self.not_attempted]
        reached = [k for k in missing if k in self.not_reached and k not in self.not_attempted]
        if not attempted and not reached:
            return None
        parts = []
        if reached:
            parts.append(f"{len(reached)} tried without a hit")
        if attempted:
            budget = "its budget" if self.search_budget is None else f"its budget of {self.search_budget}"
            parts.append(f"{len(attempted)} not attempted, {budget} reference runs "
                         f"spent ({', '.join(attempted[:5])}{', ...' if len(attempted) > 5 else ''})")
        return "the coverage-directed search gave up on missing points: " + "; ".join(parts)

    def scenario(self, index: int) -> Scenario:
        """Scenario `index` of the run, without simulating the model: drawn alone in the
        random part; in the directed part, after the scenarios before it were drawn again
        and run on the reference for their coverage."""
        shard = self.shard_of(index)
        if index < self._directed_from(*self.shards()[shard]):
            return self.one(index)
        coverage: Counter = Counter()
        for first, scenarios in self.batches(coverage, shard):
            if index < first + len(scenarios):
                return scenarios[index - first]
            for sc in scenarios:
                coverage.update(self.keys(sc, harness.run_reference(self.ref, sc)))
        raise IndexError(index)


def _start(spec: ir.Spec, stim: Stimulus, seed: int | None, timing: harness.Timing | None, mix,
           max_failures: int, spec_file: Path | None) -> Report:
    path = str(Path(spec_file).resolve()) if spec_file is not None else spec.path
    timing = timing or harness.Timing()
    return Report(spec_name=spec.name, model=spec.top.name, models=spec.models, spec_path=path, kind=UNIT if stim.unit else TRANSLATION, seed=seed,
                  requested=stim.count, mix=dict(mix) if mix else None, timing=timing,
                  expected=stim.expected, unreachable=stim.unreachable, why=stim.why, needs_state=stim.needs_state,
                  max_failures=max_failures,
                  cycle_limit=harness.cycle_limit(spec, timing))


def run(spec: ir.Spec, directory: Path, walks: int, seed: int, timing: harness.Timing | None = None,
        vcd_dir: Path | None = None, progress=None, batch: int | None = None, mix: dict[str, int] | None = None,
        max_failures: int = 3, spec_file: Path | None = None, jobs: int = 1, cluster=None,
        backend: str = "myhdl") -> Report:
    """Co-simulate `walks` scenarios (events of a unit; with `mix`, exactly so many
    events of each kind), drawn by `Stimulus`. The first `max_failures` mismatches are
    shrunk; with `vcd_dir`, each gets a VCD of the model and a scenario file there.

    With `jobs` N > 1 the N shards of the run (Stimulus.shards) run in N processes, or,
    with `cluster` (a dask.distributed Client), as N tasks on its workers; their
    reports are merged (`merge`), the same either way for the same seed and N. `backend`
    names what simulates the model (codegen/verify/backends/runner.py)."""
    jobs = max(1, min(jobs, sum(mix.values()) if mix else walks))
    if jobs <= 1 and cluster is None:
        shard = Shard(spec, Path(directory), walks, seed, timing, vcd_dir, batch, mix, max_failures, spec_file, 1, 0, backend)
        return shard.run(progress)
    shards = [Shard(spec, Path(directory), walks, seed, timing, vcd_dir, batch, mix, max_failures, spec_file,
                    jobs, k, backend) for k in range(jobs)]
    begin = time.perf_counter()
    if cluster is not None:
        futures = cluster.map(run_shard, shards, pure=False)
        parts = cluster.gather(futures)
    else:
        import concurrent.futures
        import multiprocessing
        parts: list = [None] * jobs
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            pending = {pool.submit(run_shard, sh): k for k, sh in enumerate(shards)}
            done = 0
            for fut in concurrent.futures.as_completed(pending):
                parts[pending[fut]] = fut.result()
                done += parts[pending[fut]][0].transactions
                if progress:
                    progress(done, walks)
    report = merge([p for p, _, _ in parts], [(r, a) for _, r, a in parts], spec, timing, mix, walks, seed)
    report.seconds = time.perf_counter() - begin
    return report


@dataclass
class Shard:
    """Shard `index` of `jobs` of a run: what a process or a cluster task needs to run it."""

    spec: ir.Spec
    directory: Path
    walks: int
    seed: int
    timing: harness.Timing | None
    vcd_dir: Path | None
    batch: int | None
    mix: dict[str, int] | None
    max_failures: int
    spec_file: Path | None
    jobs: int
    index: int
    backend: str = "myhdl"

    def run(self, progress=None) -> Report:
        return self.run_with_stimulus(progress)[0]

    def run_with_stimulus(self, progress=None) -> tuple[Report, Stimulus]:
        ref, model = harness.load_generated(self.directory)
        model = runner.make(self.backend, self.spec, self.directory, ref, model)
        stim = Stimulus(self.spec, ref, self.walks, self.seed, self.mix, self.batch, self.jobs)
        report = _start(self.spec, stim, self.seed, self.timing, self.mix, self.max_failures, self.spec_file)
        report.jobs, report.backend = stim.jobs, self.backend
        begin = time.perf_counter()
        lo, _ = stim.shards()[self.index]
        batches = stim.batches(report.coverage, self.index)
        while True:
            t0 = time.perf_counter()
            item = next(batches, None)
            report.stimulus_seconds += time.perf_counter() - t0
            if item is None:
                break
            first, scenarios = item
            _check_batch(ref, model, stim, scenarios, report, first, self.vcd_dir)
            report.transactions = first + len(scenarios) - lo
            if progress:
                progress(report.transactions, stim.count)
        report.seconds = time.perf_counter() - begin
        report.simulator_seconds = getattr(model, "simulator_seconds", 0.0)
        report.missing = [k for k in stim.expected if k not in report.coverage]
        report.coverage_note = stim.gave_up(report.missing)
        return report, stim


def run_shard(shard: Shard) -> tuple[Report, set[str], set[str]]:
    """Run one shard (in a worker process or a cluster task): its report, and the
    points its coverage-directed search tried without a hit and did not attempt."""
    report, stim = shard.run_with_stimulus()
    return report, stim.not_reached, stim.not_attempted


def merge(parts: list[Report], gave_up: list[tuple[set[str], set[str]]], spec: ir.Spec,
          timing: harness.Timing | None, mix, walks: int, seed: int) -> Report:
    """One report of the shards of a run, in shard order (so in scenario order):
    transactions, mismatches, references, cycles and coverage add up; the first
    `max_failures` failures are kept; reference, model, stimulus and simulator seconds are
    summed over the shards (the time they took, not the wall time)."""
    first = parts[0]
    out = dataclasses.replace(first, coverage=Counter(), mismatched=[], refs=[], cycles=[], failures=[],
                              transactions=0, mismatches=0, reference_seconds=0.0, model_seconds=0.0,
                              stimulus_seconds=0.0, simulator_seconds=0.0)
    for p in parts:
        out.transactions += p.transactions
        out.mismatches += p.mismatches
        out.mismatched += p.mismatched
        out.refs += p.refs
        out.cycles += p.cycles
        out.coverage.update(p.coverage)
        out.reference_seconds += p.reference_seconds
        out.model_seconds += p.model_seconds
        out.stimulus_seconds += p.stimulus_seconds
        out.simulator_seconds += p.simulator_seconds
        out.failures += p.failures
    out.failures = out.failures[:out.max_failures]
    out.missing = [k for k in out.expected if k not in out.coverage]
    # what the searches gave up on, told as one Stimulus would
    note = Stimulus.__new__(Stimulus)
    note.search_budget = None
    note.not_reached = set().union(*(r for r, _ in gave_up))
    note.not_attempted = set().union(*(a for _, a in gave_up))
    out.coverage_note = note.gave_up(out.missing)
    return out


def replay(spec: ir.Spec, directory: Path, walks: int, seed: int, index: int, timing: harness.Timing | None = None,
           vcd_dir: Path | None = None, mix: dict[str, int] | None = None, spec_file: Path | None = None,
           jobs: int = 1, backend: str = "myhdl") -> Report:
    """Run scenario `index` of the run `run(spec, directory, walks, seed, mix=mix)` makes,
    alone and unshrunk, with a VCD of the model (replay_INDEX.vcd in `vcd_dir`) and the
    scenario saved next to it (replay_INDEX.json). IndexError when there is no such
    scenario."""
    ref, model = harness.load_generated(directory)
    model = runner.make(backend, spec, directory, ref, model)
    stim = Stimulus(spec, ref, walks, seed, mix, jobs=jobs)
    if not 0 <= index < stim.count:
        raise IndexError(f"expected a scenario number below {stim.count}, not {index}")
    report = _start(spec, stim, seed, timing, mix, 1, spec_file)
    report.replay = index
    report.jobs = stim.jobs
    report.backend = backend
    begin = time.perf_counter()
    sc = stim.scenario(index)
    vcd = None if vcd_dir is None else Path(vcd_dir) / f"replay_{index}.vcd"
    _check_one(ref, model, stim, sc, index, report, vcd, begin)
    if vcd is not None:
        saved = _save(report, sc, index, vcd.with_suffix(".json"))
        for f in report.failures:
            f.scenario_file = saved
    return report


def replay_file(spec: ir.Spec, directory: Path, data: report_mod.ScenarioFile, path: Path,
                timing: harness.Timing | None = None, vcd_dir: Path | None = None,
                spec_file: Path | None = None, backend: str = "myhdl") -> Report:
    """Run the scenario of a scenario file alone, with a VCD of the model
    (NAME_replay.vcd in `vcd_dir`, NAME the file's name without .json)."""
    ref, model = harness.load_generated(directory)
    model = runner.make(backend, spec, directory, ref, model)
    stim = Stimulus(spec, ref, 1, data.seed or 0)
    report = _start(spec, stim, data.seed, timing, data.options.mix, 1, spec_file)
    report.requested, report.scenario_file = data.options.requested, Path(path)
    report.backend = backend
    index = data.index or 0
    begin = time.perf_counter()
    vcd = None if vcd_dir is None else Path(vcd_dir) / f"{Path(path).stem}_replay.vcd"
    _check_one(ref, model, stim, report_mod.scenario_of(data.scenario), index, report, vcd, begin)
    for f in report.failures:
        f.scenario_file = Path(path)
    return report


def check_scenario(spec: ir.Spec, directory: Path, sc: Scenario) -> str | None:
    """Why `sc` cannot run on the generated models of `spec` ('expected X, not Y'), or None."""
    ref, model = harness.load_generated(directory)
    if isinstance(spec.top, ir.Unit):
        sample = UnitScenarioFactory(spec).make(Draw(random.Random(0)))
    else:
        sample = ScenarioFactory(spec).make(Draw(random.Random(0)))
    want, got = list(sample.request), list(sc.request)
    if sorted(want) != sorted(got):
        extra = [k for k in got if k not in want]
        lacking = [k for k in want if k not in got]
        what = f"no field {extra[0]!r}" if extra else f"a value for {lacking[0]!r}"
        return f"expected the request fields {', '.join(want)} ({what}), not {', '.join(got) or 'none'}"
    ports = model.ports()
    for key, value in sc.request.items():
        width = len(ports[harness.port_of(ref, key)])
        if value >> width:
            return f"expected a value of at most {width} bits for request field {key!r}, not {value:#x}"
    awidth, dwidth = len(ports["m_addr"]), len(ports["m_rdata"])
    for addr, value in sc.memory.items():
        if addr >> awidth:
            return f"expected memory addresses of at most {awidth} bits, not {addr:#x}"
        if value >> dwidth:
            return f"expected memory words of at most {dwidth} bits, not {value:#x} at {addr:#x}"
    return None


def _check_one(ref, model, stim: Stimulus, sc: Scenario, index: int, report: Report, vcd: Path | None,
               begin: float) -> None:
    """Run one scenario on both models (the model with a VCD), unshrunk."""
    t0 = time.perf_counter()
    a = harness.run_reference(ref, sc, model)
    t1 = time.perf_counter()
    b = _run_model(model, ref, [sc], report.timing, vcd=vcd, limit=report.cycle_limit)[0]
    t2 = time.perf_counter()
    report.reference_seconds, report.model_seconds = t1 - t0, t2 - t1
    report.transactions = 1
    report.refs.append(len(a.trace))
    report.cycles.append(b.cycles)
    report.coverage.update(stim.keys(sc, a))
    report.missing = [k for k in stim.expected if k not in report.coverage]
    report.single = (sc, a, b)
    what = harness.compare(a, b)
    if what:
        report.mismatches = 1
        report.mismatched.append(index)
        report.failures.append(harness.Mismatch(index, sc, what, a, b, vcd, shrunk=False))
    report.seconds = time.perf_counter() - begin


def _save(report: Report, sc: Scenario, index: int, path: Path) -> Path:
    """Save a scenario of this run as a scenario file (`cosim --scenario` reads it)."""
    return report_mod.write_scenario_file(path, report_mod.ScenarioFile(
        spec=report_mod.SpecRef(name=report.spec_name, path=report.spec_path,
                                     model=report.model or None), kind=report.kind, index=index,
        seed=report.seed, options=report.options(), scenario=report_mod.scenario_data(sc)))


def _check_batch(ref, model, stim: Stimulus, scenarios: list[Scenario], report: Report, first: int,
                 vcd_dir) -> None:
    """Run a batch on both models, time each, count references, cycles and coverage,
    and keep the first mismatches, shrunk (with a VCD and a scenario file in `vcd_dir`)."""
    t0 = time.perf_counter()
    ref_runs = [harness.run_reference(ref, sc, model) for sc in scenarios]
    t1 = time.perf_counter()
    model_runs = _run_model(model, ref, scenarios, report.timing, limit=report.cycle_limit)
    t2 = time.perf_counter()
    report.reference_seconds += t1 - t0
    report.model_seconds += t2 - t1
    for i, (sc, a, b) in enumerate(zip(scenarios, ref_runs, model_runs)):
        report.refs.append(len(a.trace))
        report.cycles.append(b.cycles)
        report.coverage.update(stim.keys(sc, a))
        if harness.compare(a, b):
            report.mismatches += 1
            report.mismatched.append(first + i)
            if len(report.failures) < report.max_failures:
                found = shrink(ref, model, sc, first + i, report.timing, vcd_dir, report.cycle_limit,
                               legal=_legal_request(stim.spec))
                if vcd_dir is not None:
                    found.scenario_file = _save(report, found.scenario, first + i,
                                                Path(vcd_dir) / f"mismatch_{first + i}.json")
                report.failures.append(found)


SITE = re.compile(r"^(top|guest|host) fault (\w+) at level (\d+)$")


def _directed(factory: ScenarioFactory, draw: Draw, oracle, missing: list[str], room: int, budget: int,
              stim: Stimulus | None = None, tries: int = 200) -> tuple[list[Scenario], int]:
    """Up to `room` scenarios, each hitting a coverage point of `missing`: a fault site
    gets scenarios aimed at it (the fault injected there, or the leaf at that level
    with the other stage kept legal); other points get random scenarios. At most
    `tries` tries a point and `budget` reference runs in all (a try that cannot be
    built counts as one); returns the scenarios and the budget left. `stim` (if given)
    learns the points tried without a hit (not_reached) and those the budget left
    untried (not_attempted)."""
    left = [budget]

    def counted(sc: Scenario) -> dict:
        left[0] -= 1
        return oracle(sc)

    def outcome(sc: Scenario) -> dict:
        return counted(sc).outcome

    wanted, found = set(missing), []
    for key in missing:
        if key not in wanted or len(found) >= room:
            continue
        if left[0] <= 0:
            if stim is not None:
                stim.not_attempted.add(key)
            continue
        for _ in range(tries):
            if left[0] <= 0:
                break
            try:
                sc = _aimed(factory, draw, key) or factory.draw_scenario(draw, outcome)
            except StimulusError:
                left[0] -= 1
                continue
            run = counted(sc)
            hits = wanted.intersection(coverage_keys(run.outcome, run.trace))
            if hits:
                found.append(sc)
                wanted -= hits
                break
        else:
            if stim is not None:
                stim.not_reached.add(key)
        if key in wanted and left[0] <= 0 and stim is not None:
            stim.not_attempted.add(key)
    return found, left[0]


def _aimed(factory: ScenarioFactory, draw: Draw, key: str) -> Scenario | None:
    m = SITE.match(key)
    if not m:
        return None
    stage, name, shown = m.group(1), m.group(2), int(m.group(3))
    regime = factory.host if stage == "host" else factory.main
    level = regime.rank(shown)  # the point names the spec's number; the factory walks by walk numbers
    rule = next((r for r in regime.faults if r.name == name), None)
    if rule is not None and stage == "host":
        return factory.make(draw, host_fault_at=(name, level), legal=True, fault_percent=0)
    if rule is not None:
        return factory.make(draw, guest_plan=factory.plan_at(draw, regime, rule, level), legal=True, fault_percent=0)
    if stage == "host":
        return factory.make(draw, host_leaf=level, legal=True, final_random=True, fault_percent=0)
    # a check of the main stage: random entries there, a legal host stage if there is one
    return factory.make(draw, guest_plan=Plan(level), legal=factory.nested is not None, guest_legal=False,
                        fault_percent=0)


def _mismatch(ref, model, sc: Scenario, timing, limit: int | None = None) -> list[str]:
    return harness.compare(harness.run_reference(ref, sc, model), _run_model(model, ref, [sc], timing, limit=limit)[0])


def _legal_request(spec: ir.Spec):
    """Whether a request's access kinds respect the exclusive groups of the translation's
    first stage (`access one of ...`): a shrunk scenario must stay one the stimulus could
    draw, not clear the one kind of an access."""
    top = spec.top
    regime = spec.regime(top.guest) if isinstance(top, ir.Nested) else top if isinstance(top, ir.Regime) else None
    groups = regime.access_groups if regime is not None else ()
    return lambda request: ir.access_ok(groups, request)


def shrink(ref, model, sc: Scenario, index: int, timing, vcd_dir: Path | None,
           limit: int | None = None, legal=lambda request: True) -> harness.Mismatch:
    """Make a failing scenario small: drop memory the walk never reads, clear request
    values that do not matter (keeping the request `legal`); then run the model on what
    is left (recording a VCD, mismatch_INDEX.vcd in `vcd_dir`). `limit` is the cycle
    watchdog of each model run."""
    read = {r[1] for r in harness.run_reference(ref, sc, model).trace}
    cur = Scenario(sc.request, {a: v for a, v in sc.memory.items() if a in read}, sc.latency_seed, sc.intent, sc.errors)
    if not _mismatch(ref, model, cur, timing, limit):
        cur = sc
    for key in list(cur.request):
        if cur.request[key] == 0:
            continue
        trial = Scenario({**cur.request, key: 0}, cur.memory, cur.latency_seed, cur.intent, cur.errors)
        if not legal(trial.request):
            continue
        try:
            if _mismatch(ref, model, trial, timing, limit):
                cur = trial
        except Exception:  # noqa: BLE001 - a trial that breaks the models is simply not smaller
            continue
    vcd = None if vcd_dir is None else Path(vcd_dir) / f"mismatch_{index}.vcd"
    a = harness.run_reference(ref, cur, model)
    b = _run_model(model, ref, [cur], timing, vcd=vcd, limit=limit)[0]
    return harness.Mismatch(index, cur, harness.compare(a, b), a, b, vcd, shrunk=cur != sc)

