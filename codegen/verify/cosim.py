"""`virtspec cosim`: drive the generated reference and MyHDL model with the same
scenarios, compare them, and report coverage, references, cycles and speed."""
from __future__ import annotations

import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from codegen import ir
from codegen.verify import harness
from codegen.verify.stimulus.translation import (
    Draw,
    Plan,
    Scenario,
    ScenarioFactory,
    StimulusError,
    fault_levels,
    reachable_checks,
)
from codegen.verify.stimulus.unit import UnitScenarioFactory
from codegen.verify.stimulus.unit import coverage_keys as unit_coverage_keys
from codegen.verify.stimulus.unit import expected_coverage as unit_expected_coverage


@dataclass
class Report:
    walks: int = 0
    mismatches: int = 0
    refs: list[int] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)
    coverage: Counter = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reference_seconds: float = 0.0
    model_seconds: float = 0.0
    failures: list[harness.Mismatch] = field(default_factory=list)
    noun: str = "walks"  # what one transaction is called: walks, or events of a unit

    def as_json(self) -> dict:
        n = max(1, self.walks)
        one = self.noun[:-1]
        return {
            self.noun: self.walks, "mismatches": self.mismatches,
            f"refs_per_{one}_max": max(self.refs, default=0), f"refs_per_{one}_mean": round(sum(self.refs) / n, 3),
            f"cycles_per_{one}_mean": round(sum(self.cycles) / n, 3),
            f"{self.noun}_per_s": round(self.walks / self.seconds, 1) if self.seconds else 0.0,
            f"reference_{self.noun}_per_s": round(self.walks / self.reference_seconds, 1) if self.reference_seconds else 0.0,
            f"model_{self.noun}_per_s": round(self.walks / self.model_seconds, 1) if self.model_seconds else 0.0,
            "coverage": {k: v for k, v in sorted(self.coverage.items())},
            "coverage_missing": self.missing,
            "unreachable": self.unreachable,
        }


def coverage_keys(outcome: dict) -> list[str]:
    """The coverage points one outcome hits."""
    if outcome["ok"]:
        keys = [f"page level {outcome['level']}"]
        if "host_level" in outcome:
            keys += [f"host page level {outcome['host_level']}",
                     f"page levels {outcome['level']}/{outcome['host_level']}"]
        return keys
    stage = outcome["stage"]
    keys = [f"{stage} fault {outcome['fault']}", f"{stage} fault {outcome['fault']} at level {outcome['level']}"]
    if stage == "host":
        where = "final address" if outcome["guest_level"] == 0 else f"guest level {outcome['guest_level']} table"
        keys.append(f"host fault on {where}")
    return keys


def _fault_sites(stage: str, regime: ir.Regime, kinds: list[str], spec: ir.Spec) -> list[str]:
    """Each fault at each level it can happen at (stimulus.fault_levels), final checks
    at every leaf level."""
    out = []
    for rule in regime.faults:
        if f"{stage} fault {rule.name}" in kinds:
            out += [f"{stage} fault {rule.name} at level {n}" for n in fault_levels(spec, regime, rule)]
    for rule in regime.checks:
        if f"{stage} fault {rule.name}" in kinds:
            out += [f"{stage} fault {rule.name} at level {lv.number}" for lv in regime.leaf_levels]
    return out


def expected_coverage(spec: ir.Spec) -> tuple[list[str], list[str]]:
    """Coverage points a full run should hit (every fault kind of each stage at every
    level it can happen at, every page size, every fault site of the host stage), and
    the checks no request can reach in their stage."""
    top = spec.top
    factory = ScenarioFactory(spec)
    main = factory.main
    stage = "guest" if isinstance(top, ir.Nested) else "top"
    reach = reachable_checks(factory, "guest")
    unreachable = [f"{stage} fault {c.name}" for c in main.checks if c.name not in reach]
    kinds = [f"{stage} fault {k}" for k in main.fault_kinds if f"{stage} fault {k}" not in unreachable]
    out = kinds + _fault_sites(stage, main, kinds, spec) + [f"page level {lv.number}" for lv in main.leaf_levels]
    if isinstance(top, ir.Nested):
        host = factory.host
        reach = reachable_checks(factory, "host")
        unreachable += [f"host fault {c.name}" for c in host.checks if c.name not in reach]
        kinds = [f"host fault {k}" for k in host.fault_kinds if f"host fault {k}" not in unreachable]
        out += kinds + _fault_sites("host", host, kinds, spec)
        out += [f"host page level {lv.number}" for lv in host.leaf_levels]
        out += ["host fault on final address"] + [f"host fault on guest level {lv.number} table" for lv in main.levels]
    return out, unreachable


def run(spec: ir.Spec, directory: Path, walks: int, seed: int, timing: harness.Timing | None = None,
        vcd_dir: Path | None = None, progress=None, batch: int = 250, mix: dict[str, int] | None = None) -> Report:
    """Co-simulate `walks` scenarios. The last tenth of the run is coverage-directed: it
    looks for scenarios that hit the coverage points still missing (drawing candidates
    and asking the reference which points each hits), then fills up at random."""
    if isinstance(spec.top, ir.Unit):
        return run_unit(spec, directory, walks, seed, timing, vcd_dir, progress, batch, mix)
    ref, model = harness.load_generated(directory)
    factory = ScenarioFactory(spec)
    draw = Draw(random.Random(seed))
    oracle = lambda sc: harness.run_reference(ref, sc).outcome  # noqa: E731
    expected, unreachable = expected_coverage(spec)
    report = Report(unreachable=unreachable)
    begin = time.perf_counter()
    done = 0
    directed_from = walks - walks // 10 if walks >= 100 else walks
    while done < walks:
        size = min(batch, walks - done, max(1, directed_from - done) if done < directed_from else batch)
        if done >= directed_from:
            missing = [k for k in expected if k not in report.coverage]
            scenarios = _directed(factory, draw, oracle, missing, size)
        else:
            scenarios = []
        scenarios += [factory.draw_scenario(draw, oracle) for _ in range(size - len(scenarios))]
        _check_batch(ref, model, scenarios, timing, report, done, vcd_dir, lambda sc, run: coverage_keys(run.outcome))
        done += len(scenarios)
        report.walks = done
        if progress:
            progress(done, walks)
    report.seconds = time.perf_counter() - begin
    report.missing = [k for k in expected if k not in report.coverage]
    return report


def run_unit(spec: ir.Spec, directory: Path, events: int, seed: int, timing: harness.Timing | None = None,
             vcd_dir: Path | None = None, progress=None, batch: int = 500, mix: dict[str, int] | None = None) -> Report:
    """Co-simulate `events` scenarios of a decision unit, with the same coverage-directed
    last tenth as walks: candidates are drawn and the reference says which exit each
    takes, until the missing exits and record encodings are hit or the tries run out."""
    ref, model = harness.load_generated(directory)
    factory = UnitScenarioFactory(spec)
    enums = {e.name: e for e in spec.enums}
    draw = Draw(random.Random(seed))
    expected = unit_expected_coverage(spec)
    report = Report(noun="events")
    kinds = factory.mix(mix, draw) if mix else None  # the event kind of each event, in order
    events = len(kinds) if kinds else events
    begin = time.perf_counter()
    done = 0

    def make(i: int) -> Scenario:
        return factory.make(draw, force=kinds[i] if kinds else None)

    def unit_keys(sc: Scenario, run: harness.Run) -> list[str]:
        keys = unit_coverage_keys(spec.top, enums, run.outcome, run.detail)
        return keys + ([f"event {sc.intent['event']}"] if sc.intent.get("event") else [])

    random_part, deadline = None, 0.0

    directed_from = events - events // 10 if events >= 100 else events
    while done < events:
        size = min(batch, events - done, max(1, directed_from - done) if done < directed_from else batch)
        scenarios: list[Scenario] = []
        if done >= directed_from:
            # the search gets, in all, a quarter of the time the random part took (at least 5 s)
            if random_part is None:
                random_part = time.perf_counter() - begin
                deadline = time.perf_counter() + max(5.0, random_part / 4)
            wanted = {k for k in expected if k not in report.coverage}
            for _ in range(min(200_000, 50_000 * len(wanted))):
                if not wanted or len(scenarios) >= size or time.perf_counter() > deadline:
                    break
                sc = make(done + len(scenarios))
                run = harness.run_reference(ref, sc)
                hits = wanted.intersection(unit_coverage_keys(spec.top, enums, run.outcome, run.detail))
                if hits:
                    scenarios.append(sc)
                    wanted -= hits
        scenarios += [make(done + i) for i in range(len(scenarios), size)]
        _check_batch(ref, model, scenarios, timing, report, done, vcd_dir, unit_keys)
        done += len(scenarios)
        report.walks = done
        if progress:
            progress(done, events)
    report.seconds = time.perf_counter() - begin
    report.missing = [k for k in expected if k not in report.coverage]
    return report


def _check_batch(ref, model, scenarios: list[Scenario], timing, report: Report, first: int, vcd_dir, keys_of) -> None:
    """Run a batch on both models, time each, count references, cycles and coverage
    (`keys_of(scenario, reference run)`), and keep the first mismatches, shrunk."""
    t0 = time.perf_counter()
    ref_runs = [harness.run_reference(ref, sc) for sc in scenarios]
    t1 = time.perf_counter()
    model_runs = harness.run_model(model, ref, scenarios, timing)
    t2 = time.perf_counter()
    report.reference_seconds += t1 - t0
    report.model_seconds += t2 - t1
    for i, (sc, a, b) in enumerate(zip(scenarios, ref_runs, model_runs)):
        report.refs.append(len(a.trace))
        report.cycles.append(b.cycles)
        report.coverage.update(keys_of(sc, a))
        if harness.compare(a, b):
            report.mismatches += 1
            if len(report.failures) < 3:
                report.failures.append(shrink(ref, model, sc, first + i, timing, vcd_dir))


SITE = re.compile(r"^(top|guest|host) fault (\w+) at level (\d+)$")


def _directed(factory: ScenarioFactory, draw: Draw, oracle, missing: list[str], room: int,
              tries: int = 200) -> list[Scenario]:
    """Up to `room` scenarios, each hitting a coverage point of `missing`: a fault site
    gets scenarios aimed at it (the fault injected there, or the leaf at that level
    with the other stage kept legal); other points get random scenarios."""
    wanted, found = set(missing), []
    for key in missing:
        if key not in wanted or len(found) >= room:
            continue
        for _ in range(tries):
            try:
                sc = _aimed(factory, draw, key) or factory.draw_scenario(draw, oracle)
            except StimulusError:
                continue
            hits = wanted.intersection(coverage_keys(oracle(sc)))
            if hits:
                found.append(sc)
                wanted -= hits
                break
    return found


def _aimed(factory: ScenarioFactory, draw: Draw, key: str) -> Scenario | None:
    m = SITE.match(key)
    if not m:
        return None
    stage, name, level = m.group(1), m.group(2), int(m.group(3))
    regime = factory.host if stage == "host" else factory.main
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


def _mismatch(ref, model, sc: Scenario, timing) -> list[str]:
    return harness.compare(harness.run_reference(ref, sc), harness.run_model(model, ref, [sc], timing)[0])


def shrink(ref, model, sc: Scenario, index: int, timing, vcd_dir: Path | None) -> harness.Mismatch:
    """Make a failing scenario small: drop memory the walk never reads, clear request
    values that do not matter; then record a VCD of the model on what is left."""
    read = {r[1] for r in harness.run_reference(ref, sc).trace}
    cur = Scenario(sc.request, {a: v for a, v in sc.memory.items() if a in read}, sc.latency_seed, sc.intent)
    if not _mismatch(ref, model, cur, timing):
        cur = sc
    for key in list(cur.request):
        if cur.request[key] == 0:
            continue
        trial = Scenario({**cur.request, key: 0}, cur.memory, cur.latency_seed, cur.intent)
        try:
            if _mismatch(ref, model, trial, timing):
                cur = trial
        except Exception:  # noqa: BLE001 - a trial that breaks the models is simply not smaller
            continue
    found = harness.Mismatch(index, cur, _mismatch(ref, model, cur, timing))
    found.reference = harness.run_reference(ref, cur)
    if vcd_dir is not None:
        path = Path(vcd_dir) / f"mismatch_{index}.vcd"
        found.model = harness.run_model(model, ref, [cur], timing, vcd=path)[0]
        found.vcd = path
    return found

