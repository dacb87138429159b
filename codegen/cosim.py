"""`virtspec cosim`: drive the generated reference and MyHDL model with the same
scenarios, compare them, and report coverage, references, cycles and speed."""
from __future__ import annotations

import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import harness, ir
from .stimulus import Draw, Scenario, ScenarioFactory, reachable_checks


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

    def as_json(self) -> dict:
        n = max(1, self.walks)
        return {
            "walks": self.walks, "mismatches": self.mismatches,
            "refs_per_walk_max": max(self.refs, default=0), "refs_per_walk_mean": round(sum(self.refs) / n, 3),
            "cycles_per_walk_mean": round(sum(self.cycles) / n, 3),
            "walks_per_s": round(self.walks / self.seconds, 1) if self.seconds else 0.0,
            "reference_walks_per_s": round(self.walks / self.reference_seconds, 1) if self.reference_seconds else 0.0,
            "model_walks_per_s": round(self.walks / self.model_seconds, 1) if self.model_seconds else 0.0,
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


def expected_coverage(spec: ir.Spec) -> tuple[list[str], list[str]]:
    """Coverage points a full run should hit (every fault kind of each stage, every page
    size, every fault site), and the checks no request can reach in their stage."""
    top = spec.top
    factory = ScenarioFactory(spec)
    main = factory.main
    stage = "guest" if isinstance(top, ir.Nested) else "top"
    reach = reachable_checks(factory, "guest")
    unreachable = [f"{stage} fault {c.name}" for c in main.checks if c.name not in reach]
    out = [f"{stage} fault {k}" for k in main.fault_kinds if f"{stage} fault {k}" not in unreachable]
    out += [f"page level {lv.number}" for lv in main.leaf_levels]
    if isinstance(top, ir.Nested):
        host = factory.host
        reach = reachable_checks(factory, "host")
        unreachable += [f"host fault {c.name}" for c in host.checks if c.name not in reach]
        out += [f"host fault {k}" for k in host.fault_kinds if f"host fault {k}" not in unreachable]
        out += [f"host page level {lv.number}" for lv in host.leaf_levels]
        out += ["host fault on final address"] + [f"host fault on guest level {lv.number} table" for lv in main.levels]
    return out, unreachable


def run(spec: ir.Spec, directory: Path, walks: int, seed: int, timing: harness.Timing | None = None,
        vcd_dir: Path | None = None, progress=None, batch: int = 250) -> Report:
    ref, model = harness.load_generated(directory)
    factory = ScenarioFactory(spec)
    draw = Draw(random.Random(seed))
    oracle = lambda sc: harness.run_reference(ref, sc).outcome  # noqa: E731
    report = Report()
    begin = time.perf_counter()
    done = 0
    while done < walks:
        scenarios = [factory.draw_scenario(draw, oracle) for _ in range(min(batch, walks - done))]
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
            report.coverage.update(coverage_keys(a.outcome))
            diff = harness.compare(a, b)
            if diff:
                report.mismatches += 1
                if len(report.failures) < 3:
                    report.failures.append(shrink(ref, model, sc, done + i, timing, vcd_dir))
        done += len(scenarios)
        report.walks = done
        if progress:
            progress(done, walks)
    report.seconds = time.perf_counter() - begin
    expected, report.unreachable = expected_coverage(spec)
    report.missing = [k for k in expected if k not in report.coverage]
    return report


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


def progress_bar(label: str, stream=sys.stderr):
    """A progress callback drawing a bar on a terminal, or a line per tenth elsewhere."""
    state = {"last": -1}

    def update(done: int, total: int) -> None:
        if stream.isatty():
            width = 30
            fill = width * done // max(1, total)
            stream.write(f"\r{label} [{'#' * fill}{'.' * (width - fill)}] {done}/{total}")
            if done >= total:
                stream.write("\n")
            stream.flush()
        else:
            tenth = 10 * done // max(1, total)
            if tenth != state["last"]:
                state["last"] = tenth
                stream.write(f"{label}: {done}/{total}\n")
    return update
