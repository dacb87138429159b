"""`virtspec bench`: how fast the generator, the generated reference and the MyHDL model are.

One run prints one table:
  (a) regeneration of all specs (compile + render, no writes), best of 3;
  (b) generated reference walks/s against a walker written by hand from the manuals (named in
      workloads/bench.toml, beside it) on the same legal walks, each on a fresh copy of memory, walk
      calls only, best of 5;
  (c) MyHDL model walks/s and simulated cycles/s of the 1D and 2D specs the workloads name,
      memory latency 1, no stalls;
  (d) 2D walks with the smallest pages and the workloads' four levels in both dimensions: memory
      references and model cycles per walk, next to the lower bound references x latency;
  (e) every decision unit of the shipped specs: reference and MyHDL model events/s, memory
      references and cycles per event, latency 1, no stalls;
  (f) with --fuzz N: N inputs of codegen/bench/fuzz.py (random bytes, grammar tokens, mutated specs,
      scaled-up shapes) through `virtspec check`: inputs/s, tracebacks, hangs, exit statuses;
  (g) co-simulation speed: the converted design of the walker's spec on its 2,000 successful walks,
      latency 1, no stalls, in a cocotb + Verilator per-cycle testbench (codegen/bench/cocotb_walks.py)
      and in the Verilator batch backend (the simulation alone, and the backend with its Python),
      and their ratios; `cosim --walks 20000 --backend verilator` of the workloads' 2D spec end to end
      (2,000 with --quick) with its share of time in stimulus, simulator and the rest
      (codegen/bench/hdl_speed.py); then per spec, what a cosim scenario costs besides the model;
  (h) the translation caches (issue 15): for the specs the workloads name, on synthetic
      traces with stated locality (codegen/bench/traces.py: sequential, random over a working set,
      a mix), memory references per translation and per TLB miss and each cache's hit rate with no
      caches, the TLB only and every cache the spec declares (the generated reference); then the
      MyHDL model's cycles per translation on the start of the mix next to refs x latency, with its
      caches and without.

The workloads (which shipped spec each section runs, and the context that pins its shape) are
data: workloads/bench.toml, read by codegen/bench/workloads.py.

Run as `virtspec bench [--quick] [--fuzz N] [--quiet] [--only LETTERS] [--json]` or
`python3 -m codegen.bench.bench` with the same options; a progress bar (one step per measure) is
drawn on a terminal unless --quiet; `--json` prints one JSON object (the rows, and (h)'s counts);
`python3 -m codegen.bench.fuzz` runs the fuzzing alone, with its own table.
"""
from __future__ import annotations

import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from codegen import ir, shipped
from codegen.bench import traces, workloads
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.progress import Progress
from codegen.verify import harness
from codegen.verify.sequence import Sequence
from codegen.verify.stimulus.translation import Draw, Plan, ScenarioFactory
from codegen.verify.stimulus.unit import UnitScenarioFactory

SPECS = shipped.folder("specs")
_OUT = tempfile.TemporaryDirectory(prefix="virtspec-bench-")  # the models, generated afresh


def model_dir(name: str) -> Path:
    """The folder of the generated models of shipped spec `name`, rendered into a temporary
    folder: the benchmark measures the installed generator, and writes nothing into the
    user's project."""
    spec = compile_spec(SPECS / f"{name}.vspec")
    directory = emit.out_dir(spec, Path(_OUT.name))  # the default model, keyed as `generate` keys it
    if not directory.exists():
        emit.write(emit.render(spec), directory)
    return directory


def load_models(name: str):
    """The generated reference and MyHDL model of shipped spec `name` (see model_dir)."""
    return harness.load_generated(model_dir(name))


LATENCY = 1


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ---- (a) regeneration ---------------------------------------------------------------
def bench_regenerate(repeat: int) -> tuple[float, int, int]:
    """Compile and render every shipped spec, every model of each (as `generate` does):
    the best time, the number of specs and of models."""
    paths = sorted(SPECS.glob("*.vspec"))
    models = [0]

    def regen():
        models[0] = 0
        for p in paths:
            models[0] += len(emit.render_models(compile_spec(p), Path(_OUT.name)))

    return _best(regen, repeat), len(paths), models[0]


# ---- (b) generated reference vs hand-written walker ---------------------------------------
def legal_walks(ref, n: int, seed: int = 1) -> list:
    """Successful legal walks of the walker's spec in the shape its workload keeps."""
    walker = workloads.load().walker
    factory = ScenarioFactory(compile_spec(SPECS / f"{walker.spec}.vspec"))
    draw = Draw(random.Random(seed))
    out = []
    while len(out) < n:
        sc = factory.make(draw, fault_percent=0, legal=True)
        if not walker.keeps(sc.request):
            continue
        if harness.run_reference(ref, sc).outcome["ok"]:
            out.append(sc)
    return out


def _args(request: dict) -> tuple:
    return tuple(request[k] for k in workloads.load().walker.args)


def time_walker(walk, scenarios, repeat: int) -> float:
    """Best time of `repeat` passes over the scenarios; only the walk calls are timed."""
    memories = [sc.memory for sc in scenarios]
    args = [_args(sc.request) for sc in scenarios]
    best = float("inf")
    for _ in range(repeat):
        mems = [dict(m) for m in memories]
        traces = [[] for _ in scenarios]
        t0 = time.perf_counter()
        for mem, trace, a in zip(mems, traces, args):
            walk(mem, trace, *a)
        best = min(best, time.perf_counter() - t0)
    return best


def check_same(ref, scenarios) -> int:
    """Walks on which the two walkers disagree (outcome, trace or final memory)."""
    hand = workloads.hand_walker()
    bad = 0
    for sc in scenarios:
        a = _args(sc.request)
        m1, t1, m2, t2 = dict(sc.memory), [], dict(sc.memory), []
        want = hand.walk_top(m2, t2, *a)
        # the generated walk_top returns the outcome's values, then what the caches keep of it
        if ref.walk_top(m1, t1, *a)[:len(want)] != want or t1 != t2 or m1 != m2:
            bad += 1
    return bad


# ---- (c), (d) MyHDL model ------------------------------------------------------------------
def successful_walks(name: str, ref, n: int, seed: int = 2) -> list:
    """Successful walks of every page size and paging depth (LA57 on or off) the factory draws."""
    factory = ScenarioFactory(compile_spec(SPECS / f"{name}.vspec"))
    draw = Draw(random.Random(seed))
    out = []
    while len(out) < n:
        sc = factory.make(draw, fault_percent=0, legal=True)
        if harness.run_reference(ref, sc).outcome["ok"]:
            out.append(sc)
    return out


def walks_4k_4level(name: str, ref, n: int, seed: int = 3) -> list:
    factory = ScenarioFactory(compile_spec(SPECS / f"{name}.vspec"))
    draw = Draw(random.Random(seed))
    out = []
    while len(out) < n:
        sc = factory.make(draw, guest_plan=Plan(1), host_leaf=1, preset_updates=True, fault_percent=0, legal=True,
                          ctx_override=workloads.load().four_levels.get(name))
        o = harness.run_reference(ref, sc).outcome
        if o["ok"] and (o["level"], o["host_level"]) == (1, 1):
            out.append(sc)
    return out


def time_model(spec: ir.Spec, model, ref, scenarios, repeat: int):
    """The best of `repeat` model runs, under the spec's own cycle watchdog (as cosim)."""
    timing = harness.Timing(LATENCY, LATENCY, 0)
    limit = harness.cycle_limit(spec, timing)
    best, runs = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        runs = harness.run_model(model, ref, scenarios, timing, limit=limit)
        best = min(best, time.perf_counter() - t0)
    return best, runs


# ---- (g) the HDL backends against cocotb -------------------------------------------------------
def bench_hdl(walks: int, e2e_walks: int, progress) -> list[tuple[str, str, str]]:
    """Section (g) of the HDL backends (codegen/bench/hdl_speed.py): `walks` successful walks
    of the walker's spec on cocotb + Verilator and on the Verilator batch backend, then
    `cosim --backend verilator` of `e2e_walks` walks of the 2D spec; hdl_speed.STEPS steps."""
    from codegen.bench import hdl_speed
    from codegen.generate import hdl

    class Counted:  # the steps taken, so that a missing tool still leaves the bar right
        taken = 0

        def describe(self, text):
            progress.describe(text)

        def advance(self):
            self.taken += 1
            progress.advance()

    counted = Counted()
    load = workloads.load()
    directory = model_dir(load.walker.spec)
    ref, _ = harness.load_generated(directory)
    scenarios = legal_walks(ref, walks)
    e2e = load.hdl_speed.end_to_end
    try:
        return hdl_speed.measure(SPECS / f"{load.walker.spec}.vspec", directory, scenarios, SPECS / f"{e2e}.vspec",
                                 model_dir(e2e), e2e_walks, counted)
    except (hdl.ToolMissing, ImportError) as e:
        for _ in range(hdl_speed.STEPS - counted.taken):
            progress.advance()
        return [("(g) HDL backends", "not measured", str(e).splitlines()[0])]


def steps(n_specs: int, fuzz_inputs: int, sections: str = "abcdegh") -> int:
    """The progress bar's length: (a), (b), three of (c), two of (d), one per spec for (e) and
    for the stimulus rows of (g), the HDL steps of (g), one per spec of (h), and (f) when
    fuzzing; of the sections asked for."""
    from codegen.bench import hdl_speed
    load = workloads.load()
    per = {"a": 1, "b": 1, "c": len(load.model_speed), "d": len(load.walks_2d.specs), "e": n_specs,
           "g": n_specs + hdl_speed.STEPS, "h": len(load.caches.specs)}
    return sum(n for k, n in per.items() if k in sections) + (1 if fuzz_inputs else 0)


# ---- (h) caches measured --------------------------------------------------------------------------
CONFIGS = (("none", "no caches"), ("tlb", "TLB only"), ("all", "every cache"))


def cache_base(name: str, ref, seed: int = 6):
    """The scenario a trace starts from: a walk that translates a page of the smallest
    size in both dimensions, with the workloads' four levels in each, and no A/D write (so
    every trace leaves the image as it found it)."""
    spec = compile_spec(SPECS / f"{name}.vspec")
    factory = ScenarioFactory(spec)
    draw = Draw(random.Random(seed))
    nested = isinstance(spec.top, ir.Nested)
    for _ in range(2000):
        sc = factory.make(draw, guest_plan=Plan(1), host_leaf=1 if nested else None, preset_updates=True,
                          fault_percent=0, legal=True, exact=True, ctx_override=workloads.load().four_levels.get(name))
        trace: list = []
        out = ref.translate(dict(sc.memory), sc.request, trace)
        if (out["ok"] and out["level"] == 1 and out.get("host_level", 1) == 1
                and len(trace) == (24 if nested else 4) and all(op == 0 for op, *_ in trace)):
            return spec, sc
    raise RuntimeError(f"{name}: no four-level walk of the smallest pages drawn")


def cache_configs(ref) -> dict:
    """The caches switched on in each configuration: none (the cache-free `translate`),
    the caches of final translations, every cache the spec declares."""
    return {"none": None, "tlb": traces.caches_holding(ref, ("translations",)), "all": tuple(ref.CACHES)}


def bench_caches(names, length: int, model_length: int, progress, seed: int = 1) -> tuple[list, dict]:
    """Section (h): per spec and trace, memory references per translation and per TLB
    miss and each cache's hit rate, with no caches, the TLB only and every cache (the
    generated reference); then the MyHDL model's cycles per translation on the first
    `model_length` translations of the mix, next to refs x latency, with its caches (one
    sequence from reset) and without (each translation from reset)."""
    rows: list = []
    data: dict = {}
    timing = harness.Timing(LATENCY, LATENCY, 0)
    for name in names:
        progress.describe(f"bench (h) {name}")
        ref, model = load_models(name)
        spec, base = cache_base(name, ref)
        mem, pages = traces.map_pages(ref, base.memory, base.request, traces.leaf_bits(spec))
        configs = cache_configs(ref)
        same = configs["all"] == configs["tlb"]
        entry: dict = {"pages": len(pages), "caches": {c: ref.HOLDS[c] for c in ref.CACHES},
                       "configs": {k: list(v) if v is not None else None for k, v in configs.items()},
                       "all_is_tlb_only": same, "traces": {}}
        first = True
        seqs = {}
        for kind in traces.TRACES:
            seq = seqs[kind] = traces.make_trace(ref, mem, base.request, pages, kind, length, seed)
            entry["traces"][kind] = {}
            for key, label in CONFIGS:
                t = traces.run_trace(ref, seq, configs[key])
                entry["traces"][kind][key] = t.as_json()
                rates = ", ".join(f"{c} {100 * r:.1f}% hits" for c, r in t.hit_rates().items())
                note = " (= TLB only: no other cache)" if key == "all" and same else ""
                what = f"{kind}, {length} translations: {label}{note}"
                rows.append((f"(h) {name}" if first else "", what,
                             f"{t.per_translation:.2f} refs/translation, {t.per_miss:.2f} refs/miss"
                             + (f"; {rates}" if rates else "") + (f"; {t.faults} faults" if t.faults else "")))
                first = False
        entry["model"] = _model_cycles(spec, ref, model, seqs["mix"], model_length, timing)
        m = entry["model"]
        rows.append(("    model cycles", f"mix, first {model_length}, latency {LATENCY}, no stalls: no caches",
                     f"{m['none']['cycles_per_translation']:.1f} cycles/walk; bound {m['none']['refs_per_translation']:.1f} "
                     f"refs x {LATENCY}; {m['none']['ratio']:.2f}x"))
        rows.append(("", "with the model's caches (one sequence from reset)",
                     f"{m['cached']['cycles_per_translation']:.1f} cycles/translation; bound "
                     f"{m['cached']['refs_per_translation']:.1f} refs x {LATENCY}; misses {m['cached']['cycles_per_miss']:.1f} "
                     f"cycles/miss, hits {m['cached']['cycles_per_hit']:.1f} cycles/hit; "
                     f"{m['cached']['mismatches']} mismatches"))
        data[name] = entry
        progress.advance()
    return rows, data


def _model_cycles(spec: ir.Spec, ref, model, seq: Sequence, n: int, timing) -> dict:
    """The model on the first `n` translations of `seq`: with its caches (one sequence,
    compared with the reference's run) and without (each translation a scenario of its
    own from reset, so every one walks)."""
    from codegen.verify import sequence as sequences
    from codegen.verify.stimulus.translation import Scenario
    short = Sequence(dict(seq.memory), seq.steps[:n], seq.seed, seq.errors)
    limit = harness.cycle_limit(spec, timing)
    got = harness.run_model_sequence(model, ref, short, timing, limit)
    # a model without (some of) the walk caches (WALK_CACHES) is compared with the reference's
    # TLBs and the walk caches it holds
    enabled = sequences.model_caches(ref, model)
    walk = enabled is None
    want = sequences.run_reference(ref, short, enabled=enabled)
    bad = sequences.compare(short, want, got)
    hits = [r for r in got.steps if r.hit]
    misses = [r for r in got.steps if not r.hit]
    refs = sum(len(r.trace) for r in got.steps)
    cycles = sum(r.cycles for r in got.steps)
    cold = harness.run_model(model, ref, [Scenario(st.request, dict(seq.memory), 0) for st in short.steps],
                             timing, limit=limit)
    cold_refs = sum(len(r.trace) for r in cold)
    cold_cycles = sum(r.cycles for r in cold)

    def mean(xs):
        return sum(xs) / len(xs) if xs else 0.0

    return {
        "translations": len(short.steps),
        "none": {"cycles_per_translation": cold_cycles / len(cold), "refs_per_translation": cold_refs / len(cold),
                 "ratio": cold_cycles / (cold_refs * LATENCY) if cold_refs else 0.0,
                 "timeouts": sum(1 for r in cold if r.timeout)},
        "cached": {"cycles_per_translation": cycles / len(got.steps), "refs_per_translation": refs / len(got.steps),
                   "ratio": cycles / (refs * LATENCY) if refs else 0.0,
                   "hits": len(hits), "misses": len(misses),
                   "cycles_per_hit": mean([r.cycles for r in hits]), "cycles_per_miss": mean([r.cycles for r in misses]),
                   "refs_per_miss": mean([len(r.trace) for r in misses]),
                   "mismatches": len(bad), "timeout": got.timeout, "walk_caches": walk},
    }


# ---- the table -------------------------------------------------------------------------------
def bench_stimulus(spec_paths: list[Path], n: int, progress) -> list[tuple[str, str, str]]:
    """Per spec, what a cosim run spends per scenario besides the model: drawing the
    scenario (random part, seed 1), its reference run, comparison and coverage keys."""
    from codegen.verify import cosim
    rows = []
    for path in spec_paths:
        progress.describe(f"bench (g) {path.stem}")
        spec = compile_spec(path)
        ref, _ = load_models(path.stem)
        stim = cosim.Stimulus(spec, ref, n, 1)
        t0 = time.perf_counter()
        scs = [stim.one(i) for i in range(n)]
        t1 = time.perf_counter()
        runs = [harness.run_reference(ref, sc) for sc in scs]
        t2 = time.perf_counter()
        for sc, run in zip(scs, runs):
            harness.compare(run, run)
            stim.keys(sc, run)
        t3 = time.perf_counter()
        label = "(g) cosim stimulus" if not rows else ""
        rows.append((label, f"{path.stem}: {n} scenarios, seed 1", f"{_fmt(n / (t1 - t0))} scenarios/s"))
        rows.append(("", "reference runs; compare + coverage keys",
                     f"{_fmt(n / (t2 - t1))} runs/s; {_fmt(n / (t3 - t2))} /s"))
        progress.advance()
    return rows


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.2f}"


SECTIONS = "abcdegh"  # (f) runs when fuzzing is asked for


def main(quick: bool = False, fuzz_inputs: int = 0, quiet: bool = False, sections: str = SECTIONS,
         as_json: bool = False) -> int:
    """Run the sections (letters of SECTIONS) and print the table, or with `as_json` one
    JSON object (the rows, and section (h)'s counts in full); a progress bar (one step per
    measure) on a terminal unless `quiet`."""
    spec_paths = sorted(SPECS.glob("*.vspec"))
    with Progress(steps(len(spec_paths), fuzz_inputs, sections), "bench", "steps", quiet=quiet) as progress:
        rows, took, caches = _measure(quick, fuzz_inputs, quiet, spec_paths, progress, sections)
    if as_json:
        print(json.dumps({"quick": quick, "machine": _machine(), "seconds": round(took, 1),
                          "rows": [list(r) for r in rows], "caches": caches}, indent=1, sort_keys=True))
    else:
        _print_table(rows, quick, took)
    return 0


def _measure(quick: bool, fuzz_inputs: int, quiet: bool, spec_paths: list[Path],
             progress: Progress, sections: str = SECTIONS) -> tuple[list[tuple[str, str, str]], float, dict]:
    begin = time.perf_counter()
    n_ref = 500 if quick else 2000
    n_model = 100 if quick else 300
    rows: list[tuple[str, str, str]] = []

    progress.describe("bench: models")
    load = workloads.load()
    more: list[str] = []  # the models besides the default, which (b) to (e) do not time
    caches: dict = {}

    # (a)
    if "a" in sections:
        progress.describe("bench (a) regenerate")
        regen, nspecs, nmodels = bench_regenerate(3)
        progress.advance()
        of = f" ({nmodels} models)" if nmodels != nspecs else ""
        rows.append(("(a) regenerate all specs", f"{nspecs} specs{of}, compile + render, best of 3",
                     f"{regen * 1000:,.1f} ms"))

    # (b)
    if "b" in sections:
        progress.describe("bench (b) reference")
        ref1, _ = load_models(load.walker.spec)
        walks = legal_walks(ref1, n_ref)
        bad = check_same(ref1, walks)
        t_gen = time_walker(ref1.walk_top, walks, 5)
        t_hand = time_walker(workloads.hand_walker().walk_top, walks, 5)
        gen_ps, hand_ps = len(walks) / t_gen, len(walks) / t_hand
        what = f"{len(walks)} legal {load.walker.spec} walks, best of 5"
        rows.append(("(b) generated reference", what, f"{_fmt(gen_ps)} walks/s"))
        rows.append(("    hand-written walker", "same walks, fresh memory each", f"{_fmt(hand_ps)} walks/s"))
        rows.append(("    ratio generated / hand-written", "", f"{gen_ps / hand_ps:.2f}x"))
        rows.append(("    walkers disagree on", "outcome, trace or final memory", f"{bad} of {len(walks)} walks"))
        progress.advance()

    # (c)
    if "c" in sections:
        for speed in load.model_speed:
            name, label = speed.spec, f"{speed.label} {speed.spec}"
            ref, model = load_models(name)
            progress.describe(f"bench (c) {name}")
            scs = successful_walks(name, ref, n_model)
            secs, runs = time_model(compile_spec(SPECS / f"{name}.vspec"), model, ref, scs, 3)
            cycles = sum(r.cycles for r in runs)
            nref = sum(len(r.trace) for r in runs)
            what = f"{len(scs)} successful walks, mixed page sizes"
            rows.append((f"(c) MyHDL model {label}", what, f"{_fmt(len(scs) / secs)} walks/s"))
            rows.append(("", f"latency {LATENCY}, no stalls, best of 3", f"{_fmt(cycles / secs)} cycles/s"))
            rows.append(("", "", f"{nref / len(scs):.1f} refs, {cycles / len(scs):.1f} cycles/walk"))
            progress.advance()

    # (d)
    if "d" in sections:
        for name in load.walks_2d.specs:
            ref, model = load_models(name)
            progress.describe(f"bench (d) {name}")
            scs = walks_4k_4level(name, ref, 50 if quick else 100)
            refs = [len(harness.run_reference(ref, sc).trace) for sc in scs]
            _, runs = time_model(compile_spec(SPECS / f"{name}.vspec"), model, ref, scs, 1)
            cyc = [r.cycles for r in runs]
            mean_refs, mean_cyc = sum(refs) / len(refs), sum(cyc) / len(cyc)
            what = f"{len(scs)} walks, smallest pages, 4+4 levels"
            rows.append((f"(d) 2D references {name}", what, f"{mean_refs:.1f} refs/walk (min {min(refs)}, max {max(refs)})"))
            rows.append(("    2D model cycles", f"memory latency {LATENCY}, no stalls", f"{mean_cyc:.1f} cycles/walk"))
            rows.append(("    lower bound", f"refs x latency = {mean_refs:.0f} x {LATENCY}", f"{mean_refs * LATENCY:.0f} cycles/walk"))
            rows.append(("    model / lower bound", "", f"{mean_cyc / (mean_refs * LATENCY):.2f}x"))
            progress.advance()

    # (e)
    if "e" in sections:
        for path in spec_paths:
            progress.describe(f"bench (e) {path.stem}")
            spec = compile_spec(path)
            if len(spec.models) > 1:
                more.append(f"{spec.name}: {', '.join(spec.models[1:])}")
            if not isinstance(spec.top, ir.Unit):
                progress.advance()
                continue
            name = path.stem
            ref, model = load_models(name)
            factory = UnitScenarioFactory(spec)
            draw = Draw(random.Random(4))
            scs = [factory.make(draw) for _ in range(n_ref)]
            t_ref = _best(lambda: [harness.run_reference(ref, sc) for sc in scs], 3)
            secs, runs = time_model(spec, model, ref, scs[:n_model], 3)
            cycles = sum(r.cycles for r in runs)
            nref = sum(len(r.trace) for r in runs)
            rows.append((f"(e) unit {name} reference", f"{len(scs)} random events, best of 3", f"{_fmt(len(scs) / t_ref)} events/s"))
            rows.append(("    MyHDL model", f"{len(runs)} events, latency {LATENCY}, no stalls", f"{_fmt(len(runs) / secs)} events/s"))
            rows.append(("", "", f"{nref / len(runs):.1f} refs, {cycles / len(runs):.1f} cycles/event"))
            progress.advance()

    # (f)
    if fuzz_inputs:
        from codegen.bench import fuzz
        progress.describe("bench (f) fuzz")
        with Progress(fuzz_inputs, "fuzz", "inputs", quiet=quiet) as inputs_done:
            tally = fuzz.fuzz(fuzz_inputs, seed=1, progress=inputs_done, backend=False)  # the front end alone
        statuses = sum(tally.statuses.values(), Counter())
        per = ", ".join(f"{f} {tally.inputs[f]}" for f in fuzz.FAMILIES)
        rows.append(("(f) front-end fuzzing", f"{tally.total} inputs, seed 1: {per}",
                     f"{_fmt(tally.total / tally.seconds)} inputs/s"))
        rows.append(("    exit status 0 / 1 / 2 / other", f"{sum(tally.rendered.values())} rendered after status 0",
                     f"{statuses['0']} / {statuses['1']} / {statuses['2']} / {sum(tally.odd_status.values())}"))
        rows.append(("    tracebacks, hangs, uncoded errors", "5 s per input",
                     f"{sum(tally.tracebacks.values())}, {sum(tally.hangs.values())}, {sum(tally.uncoded.values())}"))
        progress.advance()
    # (g)
    if "g" in sections:
        rows += bench_hdl(2000, 2000 if quick else 20000, progress)
        rows += bench_stimulus(spec_paths, 100 if quick else 500, progress)
    # (h)
    if "h" in sections:
        h_rows, caches = bench_caches(load.caches.specs, 500 if quick else 2000, 100 if quick else 200, progress)
        rows += h_rows
    if more:
        rows.append(("note: default models only", "not timed: " + "; ".join(more), "cosim --model NAME runs one"))
    return rows, time.perf_counter() - begin, caches


def _machine() -> str:
    return (f"{os.cpu_count()} CPUs, Python {platform.python_version()} ({platform.python_implementation()}), "
            f"{platform.system()} {platform.machine()}")


def _print_table(rows: list[tuple[str, str, str]], quick: bool, took: float) -> None:
    print(f"virtspec benchmark{' (quick)' if quick else ''}")
    print(f"machine: {_machine()}")
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    print(f"{'measure':<{w0}}  {'workload':<{w1}}  result")
    print(f"{'-' * w0}  {'-' * w1}  {'-' * w2}")
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:<{w1}}  {c}")
    print(f"(benchmark took {took:.1f} s)")


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(quick="--quick" in args, fuzz_inputs=int(args[args.index("--fuzz") + 1]) if "--fuzz" in args else 0,
                  quiet="--quiet" in args, sections=args[args.index("--only") + 1] if "--only" in args else SECTIONS,
                  as_json="--json" in args))
