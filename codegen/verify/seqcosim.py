"""Co-simulation of sequences, for a translation with caches (issue 15): two checks.

- exact: the generated reference and the MyHDL model run every sequence and must agree on
  each translate step's outcome, hit and memory trace, and on the final memory image;
- architectural: every answer the reference gave must be one the architecture permits
  (codegen/verify/oracle.py), judged by the generated reference of `arch` (by default the
  same spec; a design under test may differ from the architecture it claims to implement).

Coverage: per cache a hit, a miss, a fill and an eviction; per invalidation that it dropped
an entry; and a stale hit the architecture permits. A unit's sequences count besides the
points single-event cosim counts (exit rules, callee rules, walks, record encodings; same
names, `unit_coverage`): a point that needs state — an answer a cache kept from before the
tables changed — is reached only here (docs/language.md, "Coverage of units with caches").
"""
from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from codegen import ir
from codegen.verify import harness, oracle
from codegen.verify.batch import ERRED
from codegen.verify.backends import runner
from codegen.verify.sequence import Sequence, compare, model_caches, run_reference, walk_caches
from codegen.verify.stimulus.sequence import sequences
from codegen.verify.stimulus.unit import coverage_keys, coverage_points


def expected_points(ref) -> list[str]:
    """The coverage points of a sequence run, from the generated reference's tables."""
    out = []
    for c in ref.CACHES:
        out += [f"{c} hit", f"{c} miss", f"{c} fill", f"{c} eviction"]
    out += [f"invalidate {e} drops" for e in ref.INVALIDATIONS]
    if getattr(ref, "PSC", None):
        out.append("resumed walk")
    if getattr(ref, "HPSC", None):
        out.append("resumed host walk")
    return out + ["stale hit permitted"]


class SequenceCoverage(BaseModel):
    covered: int
    expected: int
    missing: list[str]


class SequencesJson(BaseModel):
    """The output of `cosim --sequences --json` (`virtspec schema sequences`)."""

    spec: str
    backend: str = "myhdl"  # what simulated the model: the MyHDL model, or its HDL in a simulator
    sequences: int
    steps: int
    translations: int
    mismatches: int  # sequences where the model and the reference differ
    violations: int  # sequences with an answer the architecture does not permit
    stale_hits: int  # answers from a translation the tables no longer give, all permitted
    erred_reads: int = 0  # reads of translate steps that answered with an error (a unit that handles them)
    hit_rate: dict[str, float]  # per cache: hits per lookup (a TLB: per translate step; a walk cache: per time a walk asks)
    fills: dict[str, int]
    evictions: dict[str, int]
    drops: dict[str, int]  # per invalidation: entries it dropped
    refs_per_translation: float
    refs_per_tlb_miss: float  # memory references per translate step no TLB answered
    cycles_per_translation: float | None  # the model's; None when no model ran
    coverage: SequenceCoverage
    # a unit's: the points of single-event cosim (exit rules, callee rules, walks, record
    # encodings) its requests hit, with the same names; None for a translation
    unit_coverage: SequenceCoverage | None = None


@dataclass
class SeqReport:
    spec: str
    caches: list = field(default_factory=list)
    sequences: int = 0
    steps: int = 0
    translations: int = 0
    mismatches: list = field(default_factory=list)  # (sequence index, problems) of the exact check
    violations: list = field(default_factory=list)  # (sequence index, problem) of the architectural check
    hits: dict = field(default_factory=dict)  # cache -> hits
    lookups: int = 0
    walk_lookups: dict = field(default_factory=dict)  # walk cache -> lookups (a walk asks several times)
    misses: int = 0  # translate steps no TLB answered
    miss_refs: int = 0  # their memory references
    fills: dict = field(default_factory=dict)
    evictions: dict = field(default_factory=dict)
    drops: dict = field(default_factory=dict)  # invalidation -> entries dropped
    stale_hits: int = 0
    erred_reads: int = 0  # reads of translate steps that answered with an error (Sequence.errors)
    erring: int = 0  # sequences with a word whose reads answer with an error
    refs: int = 0  # memory references of all translate steps
    cycles: int = 0  # the model's cycles over all translate steps
    covered: set = field(default_factory=set)
    expected: list = field(default_factory=list)
    compared: bool = False  # whether a model ran (else the reference and the oracle alone)
    walk: tuple = ()  # the walk caches (paging-structure cache, nested TLB): looked up per walk
    walk_compared: bool = True  # whether the model holds them all (else it is compared with the reference's `model`)
    model: tuple | None = None  # the caches the model is compared with, when not every one (sequence.model_caches)
    backend: str = "myhdl"  # what simulated the model (codegen/verify/backends/runner.py)
    unit_expected: list = field(default_factory=list)  # a unit's single-event points (coverage_points)
    unit_hits: Counter = field(default_factory=Counter)  # a unit's points -> requests that hit them
    seconds: float = 0.0  # wall time of the whole run (run() sets it; not in the JSON, which is reproducible)

    @property
    def missing(self) -> list[str]:
        return [p for p in self.expected if p not in self.covered]

    @property
    def unit_missing(self) -> list[str]:
        return [p for p in self.unit_expected if p not in self.unit_hits]

    def hit_rate(self, cache: str) -> float:
        n = self.walk_lookups.get(cache, self.lookups)
        return self.hits.get(cache, 0) / n if n else 0.0

    def as_json(self) -> dict:
        return SequencesJson(**self._json()).model_dump()

    def _json(self) -> dict:
        return {
            "spec": self.spec, "backend": self.backend, "sequences": self.sequences, "steps": self.steps,
            "translations": self.translations, "mismatches": len(self.mismatches),
            "violations": len(self.violations), "stale_hits": self.stale_hits, "erred_reads": self.erred_reads,
            "hit_rate": {c: round(self.hit_rate(c), 4) for c in self.hits},
            "fills": self.fills, "evictions": self.evictions, "drops": self.drops,
            "refs_per_translation": round(self.refs / self.translations, 3) if self.translations else 0,
            "refs_per_tlb_miss": round(self.miss_refs / self.misses, 3) if self.misses else 0,
            "cycles_per_translation": round(self.cycles / self.translations, 3) if self.compared and self.translations else None,
            "coverage": {"covered": len([p for p in self.expected if p in self.covered]),
                         "expected": len(self.expected), "missing": self.missing},
            "unit_coverage": {"covered": len(self.unit_expected) - len(self.unit_missing),
                              "expected": len(self.unit_expected), "missing": self.unit_missing}
            if self.unit_expected else None,
        }

    def _model_text(self) -> str:
        if not self.compared:
            return " (reference only: no model ran)"
        return "" if self.backend == "myhdl" else f" ({self.backend} model)"

    def lines(self) -> list[str]:
        out = [f"{self.spec}: {self.sequences} sequences, {self.steps} steps ({self.translations} translations), "
               f"{len(self.mismatches)} mismatches{self._model_text()}, "
               f"{len(self.violations)} architectural violations"]
        if self.compared and not self.walk_compared:
            lacks = [c for c in self.walk if c not in (self.model or ())]
            held = [c for c in self.walk if c in (self.model or ())]
            which = f"the walk caches {', '.join(held)} and the TLBs" if held else "the TLBs only"
            out.append(f"  the model holds {which}: compared with the reference without {', '.join(lacks)}")
        elif self.compared and self.walk:
            out.append(f"  the model holds the walk caches too: compared with the full reference ({', '.join(self.walk)})")
        for c in sorted(self.hits):
            out.append(f"  cache {c}: hit rate {100 * self.hit_rate(c):.1f}%, {self.fills.get(c, 0)} fills, "
                       f"{self.evictions.get(c, 0)} evictions")
        if self.drops:
            out.append("  dropped: " + ", ".join(f"{e} {n}" for e, n in sorted(self.drops.items())))
        out.append(f"  stale hits the architecture permits: {self.stale_hits}")
        if self.erring:
            out.append(f"  reads that answered with an error: {self.erred_reads} (in {self.erring} sequences "
                       "with a failing word)")
        if self.translations:
            out.append(f"  memory references per translation: {self.refs / self.translations:.2f}")
        if self.misses:
            out.append(f"  memory references per TLB miss: {self.miss_refs / self.misses:.2f}")
        if self.compared and self.translations:
            out.append(f"  model cycles per translation: {self.cycles / self.translations:.2f}")
        if self.seconds:
            out.append(f"  speed: {self.sequences / self.seconds:.2f} sequences/s, {self.steps / self.seconds:.0f} steps/s "
                       f"({self.seconds:.1f} s)")
        done = len(self.expected) - len(self.missing)
        out.append(f"  coverage: {done}/{len(self.expected)} points" + (f", missing {self.missing}" if self.missing else ""))
        if self.unit_expected:
            done = len(self.unit_expected) - len(self.unit_missing)
            out.append(f"  unit coverage (the points of single-event cosim): {done}/{len(self.unit_expected)} points"
                       + (f", missing {self.unit_missing}" if self.unit_missing else ""))
        return out


def account(report: SeqReport, seq: Sequence, run, keys=None) -> None:
    """Add one reference run's counts and coverage to the report; `keys(outcome, steps)`
    (a unit's) gives the single-event coverage points of a request's outcome and of what
    its calls and walks did (`detail["steps"]` of decide_cached)."""
    report.sequences += 1
    report.steps += len(seq.steps)
    report.erring += bool(seq.errors)
    for st, sr in zip(seq.steps, run.steps):
        if st.op == "translate":
            report.translations += 1
            report.lookups += 1
            report.refs += len(sr.trace)
            report.erred_reads += sum(1 for op, *_ in sr.trace if op == ERRED)
            hit = sr.detail.get("hit")
            if not sr.hit:
                report.misses += 1
                report.miss_refs += len(sr.trace)
            for cache, found in sr.detail.get("lookups", ()):  # the walk caches a miss looked up
                report.walk_lookups[cache] = report.walk_lookups.get(cache, 0) + 1
                report.hits.setdefault(cache, 0)
                report.covered.add(f"{cache} {'hit' if found else 'miss'}")
                if found:
                    report.hits[cache] += 1
            if keys is not None and sr.outcome is not None:
                report.unit_hits.update(keys(sr.outcome, sr.detail.get("steps")))
            if "resumed" in sr.detail:
                report.covered.add("resumed walk")
            if sr.detail.get("host_resumed"):
                report.covered.add("resumed host walk")
            for h in ([hit] if isinstance(hit, str) else hit or ()):  # a unit's: every cache that hit
                report.hits[h] = report.hits.get(h, 0) + 1
                report.covered.add(f"{h} hit")
            for m in sr.detail.get("miss", ()):  # a unit's: every cache looked up that missed
                report.hits.setdefault(m, 0)
                report.covered.add(f"{m} miss")
            for cache, evicted in sr.detail.get("fill", ()):
                report.fills[cache] = report.fills.get(cache, 0) + 1
                report.covered.add(f"{cache} fill")
                if evicted:
                    report.evictions[cache] = report.evictions.get(cache, 0) + 1
                    report.covered.add(f"{cache} eviction")
            if not sr.hit and not isinstance(hit, list):
                for cache in report.caches:
                    if cache not in report.walk:
                        report.hits.setdefault(cache, 0)
                        report.covered.add(f"{cache} miss")
        elif st.op == "invalidate":
            n = sum(k for _c, k in sr.detail.get("dropped", ()))
            report.drops[st.event] = report.drops.get(st.event, 0) + n
            if n:
                report.covered.add(f"invalidate {st.event} drops")


def run(spec: ir.Spec, directory: Path, count: int, seed: int, timing: harness.Timing | None = None,
        length: int = 60, arch_directory: Path | None = None, model: bool = True, progress=None,
        jobs: int = 1, backend: str = "myhdl") -> SeqReport:
    """Draw `count` sequences of `length` steps and check them both ways. With `jobs` N > 1,
    N processes each take a run of consecutive sequences; sequence i is the same whatever
    N (it has a seed of its own), and so is the merged report. `backend` names what
    simulates the model (codegen/verify/backends/runner.py); an HDL one is built here, once,
    before the shards start (hdl.ToolMissing, cache.BuildFailed)."""
    began = time.perf_counter()
    jobs = max(1, min(jobs, count))
    if model and backend != "myhdl":
        ref, mod = harness.load_generated(directory)
        runner.make(backend, spec, directory, ref, mod).build()
    if jobs == 1:
        out = run_range(spec, directory, 0, count, seed, timing, length, arch_directory, model, progress, backend)
        out.seconds = time.perf_counter() - began
        return out
    import concurrent.futures
    import multiprocessing
    bounds = [count * k // jobs for k in range(jobs + 1)]
    parts: list = [None] * jobs
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {pool.submit(run_range, spec, directory, bounds[k], bounds[k + 1] - bounds[k], seed, timing, length,
                               arch_directory, model, None, backend): k for k in range(jobs)}
        for fut in concurrent.futures.as_completed(pending):
            k = pending[fut]
            parts[k] = fut.result()
            if progress:
                progress(parts[k].sequences)
    out = merge(parts)
    out.seconds = time.perf_counter() - began
    return out


def merge(parts: list[SeqReport]) -> SeqReport:
    """One report of the shards' reports, in shard order."""
    out = SeqReport(parts[0].spec, parts[0].caches, expected=parts[0].expected, compared=parts[0].compared,
                    walk=parts[0].walk, walk_compared=parts[0].walk_compared, model=parts[0].model,
                    backend=parts[0].backend, unit_expected=parts[0].unit_expected)
    for p in parts:
        for name in ("sequences", "steps", "translations", "lookups", "stale_hits", "refs", "cycles", "misses",
                     "miss_refs", "erred_reads", "erring"):
            setattr(out, name, getattr(out, name) + getattr(p, name))
        out.mismatches += p.mismatches
        out.violations += p.violations
        for name in ("hits", "fills", "evictions", "drops", "walk_lookups"):
            total = getattr(out, name)
            for k, v in getattr(p, name).items():
                total[k] = total.get(k, 0) + v
        out.covered |= p.covered
        out.unit_hits.update(p.unit_hits)
    return out


# sequences an HDL backend runs in one simulator run: big enough that the process start is
# nothing beside it, small enough that progress moves and a batch's files stay small
HDL_CHUNK = 250


def run_range(spec: ir.Spec, directory: Path, first: int, count: int, seed: int,
              timing: harness.Timing | None = None, length: int = 60, arch_directory: Path | None = None,
              model: bool = True, progress=None, backend: str = "myhdl") -> SeqReport:
    """Sequences first .. first+count-1 of the run, checked both ways: on the MyHDL model all
    of them in one simulation, each from a reset; on an HDL backend HDL_CHUNK sequences a
    simulator run."""
    ref, mod = harness.load_generated(directory)
    arch = harness.load_generated(arch_directory)[0] if arch_directory else ref
    timing = timing or harness.Timing()
    report = SeqReport(spec.name, list(ref.CACHES), expected=expected_points(ref), compared=model,
                       walk=walk_caches(ref), backend=backend)
    # a cycle-level model without (some of) the walk caches (WALK_CACHES) is compared with
    # the reference's TLBs and the walk caches it holds; the reference with every cache is
    # what the oracle judges
    report.model = model_caches(ref, mod) if model else None
    report.walk_compared = report.model is None
    keys = None
    if isinstance(spec.top, ir.Unit):
        from codegen.verify.stimulus.unit_sequence import unit_sequences
        drawn, judge = unit_sequences(spec, ref, count, seed, length, first), oracle.check_unit
        enums = {e.name: e for e in spec.enums}
        report.unit_expected = coverage_points(spec)[0]

        def keys(outcome, steps, unit=spec.top):
            return coverage_keys(unit, enums, outcome, steps)
    else:
        drawn, judge = sequences(spec, ref, count, seed, length, first), oracle.check
    limit = harness.cycle_limit(spec, timing) if model else 0

    def check(seq, got) -> None:
        """Both checks of one sequence, `got` the model's run of it (None: no model ran)."""
        want = run_reference(ref, seq)
        account(report, seq, want, keys)
        if got is not None:
            problems = compare(seq, want if report.walk_compared else run_reference(ref, seq, enabled=report.model), got)
            if problems:
                report.mismatches.append((seq.seed, problems))
            report.cycles += sum(s.cycles for st, s in zip(seq.steps, got.steps) if st.op == "translate")
        verdict = judge(arch, seq, want)
        report.stale_hits += verdict.stale_hits
        if verdict.stale_hits:
            report.covered.add("stale hit permitted")
        if verdict.problems:
            report.violations.append((seq.seed, verdict.problems[0]))
        if progress:
            progress()

    if model and backend == "myhdl":
        # one simulation for the whole range, the model elaborated once (a large model takes
        # longer to elaborate than to run a sequence), the sequences drawn as it goes
        harness.run_model_sequences(mod, ref, drawn, check, timing, limit)
        return report
    hdl = runner.make(backend, spec, directory, ref, mod) if model else None
    drawn = iter(drawn)
    while batch := list(itertools.islice(drawn, HDL_CHUNK if hdl else 1)):
        gots = hdl.run_sequences(batch, timing, limit) if hdl else [None] * len(batch)
        for seq, got in zip(batch, gots):
            check(seq, got)
    return report
