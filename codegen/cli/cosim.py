"""`virtspec cosim`: co-simulate the generated reference and MyHDL model of one spec; or
replay one scenario of a run (--replay N) or of a scenario file (--scenario FILE)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import codegen
from codegen import ir
from codegen.cli._common import (
    Usage,
    add_model_option,
    compile_with_models,
    other_models_note,
    output_folder,
    plural,
    project_of,
)
from codegen.progress import Progress

LATENCY_DEFAULTS = (1, 4, 20)  # --min-latency, --max-latency, --stall
MAX_LATENCY = 64  # cycles: longer latencies only slow the simulation down (and stretch the watchdog)


def add_parsers(sub, formatter) -> None:
    s = sub.add_parser("cosim", help="co-simulate the reference and the MyHDL model (or its HDL: --backend)", formatter_class=formatter,
                       description="Drive the generated reference and MyHDL model of a spec with the same "
                                   "stimulus and compare outcome, fault record, memory trace and final memory. "
                                   "Exit status: 0 they agree, 1 mismatches (or, with --require-coverage, a "
                                   "reachable coverage point not hit), 2 usage errors.",
                       epilog="`virtspec schema cosim` prints the JSON Schema of --json's output, "
                              "`virtspec schema scenario` that of a scenario file.")
    s.add_argument("spec", help="the spec file")
    s.add_argument("--walks", "--events", dest="walks", type=int, default=1000,
                   help="transactions to co-simulate: walks of a translation, events of a unit")
    s.add_argument("--mix", default=None, metavar="KIND=N,...",
                   help="a unit only: exactly N events of each event kind (items of the event's enum); "
                        "replaces --events")
    s.add_argument("--seed", type=int, default=1, help="seed of the random stimulus (default: 1)")
    s.add_argument("--json", action="store_true",
                   help="print one JSON object (`virtspec schema cosim`) instead of the text summary")
    s.add_argument("--min-latency", type=int, default=None,
                   help=f"fewest cycles the memory takes to answer, 1 to {MAX_LATENCY} (default: {LATENCY_DEFAULTS[0]}; "
                        "with --scenario, the file's)")
    s.add_argument("--max-latency", type=int, default=None,
                   help=f"most cycles the memory takes to answer, 1 to {MAX_LATENCY} (default: {LATENCY_DEFAULTS[1]}; "
                        "with --scenario, the file's)")
    s.add_argument("--stall", type=int, default=None,
                   help=f"percent of cycles the memory refuses a request, 0 to 90 (default: {LATENCY_DEFAULTS[2]}; "
                        "with --scenario, the file's)")
    s.add_argument("--max-failures", type=int, default=3, metavar="N",
                   help="mismatches to shrink, save (VCD and scenario file) and print")
    s.add_argument("--replay", type=int, default=None, metavar="N",
                   help="run only scenario N (from 0) of this seed and these options, and write the model's VCD "
                        "of it")
    s.add_argument("--scenario", default=None, metavar="FILE",
                   help="run only the scenario of FILE (saved by cosim next to each mismatch's VCD), and write "
                        "the model's VCD of it")
    s.add_argument("--require-coverage", action="store_true",
                   help="exit 1 when a reachable coverage point was not hit")
    s.add_argument("--vcd-dir", metavar="DIR", default=None,
                   help="where VCDs and scenario files go (default: cosim-vcd/ in the project root)")
    s.add_argument("--generated", metavar="DIR", default=None,
                   help="the folder of generated models to read (default: generated/ in the project root)")
    s.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="run the walks (or --sequences) as N shards in N processes (default 1; with --cluster, "
                        "one shard per worker); the same seed and N give the same scenarios and report")
    s.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="run the shards as tasks on the Dask distributed scheduler at ADDRESS "
                        "(needs the extra virtspec[cluster]; default: local processes, see --jobs)")
    s.add_argument("--sequences", type=int, default=None, metavar="N",
                   help="a translation or unit with caches: co-simulate N sequences (requests, invalidations and "
                        "software stores against one memory image, from reset caches) instead of single walks, "
                        "and check every answer against the architecture (--arch); on any --backend (an HDL one "
                        "runs them in batches in its simulator, ~40 times the MyHDL model's speed), with --jobs; "
                        "default: single walks")
    s.add_argument("--steps", type=int, default=60, metavar="L",
                   help="with --sequences: steps per sequence (default: 60)")
    s.add_argument("--arch", default=None, metavar="SPEC",
                   help="with --sequences: the spec of the architecture the answers must be permitted by "
                        "(its caches' tags and invalidations), to check a cache design against the manual's rules; "
                        "default: the spec itself")
    add_model_option(s)
    s.add_argument("--backend", choices=("myhdl", "verilator", "icarus", "ghdl"), default="myhdl",
                   help="what simulates the model: the MyHDL model in Python (default), or the Verilog or VHDL "
                        "converted from it in Verilator, Icarus Verilog or GHDL (each run through a batch "
                        "testbench, built once and cached in $VIRTSPEC_CACHE, else ~/.cache/virtspec), for single "
                        "walks and for --sequences")
    s.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none either when standard error is not a terminal)")
    s.set_defaults(fn=cmd_cosim, parser=s)


def _program() -> tuple[str, ...]:
    """How to start this very virtspec, for the replay command lines: the console script
    if that is how it was started; else this Python on the checkout's cli.py (wherever
    the command is run from, it imports this checkout), or on the installed package."""
    if Path(sys.argv[0]).name == "virtspec":
        return ("virtspec",)
    checkout = Path(codegen.__file__).resolve().parent.parent / "cli.py"
    if checkout.is_file():
        return (sys.executable, str(checkout))
    return (sys.executable, "-m", "codegen")


def _check_options(args: argparse.Namespace) -> None:
    if args.walks < 1:
        raise Usage(f"expected --walks (or --events) of at least 1, not {args.walks}")
    if args.max_failures < 0:
        raise Usage(f"expected --max-failures of at least 0, not {args.max_failures}")
    if args.replay is not None and args.scenario is not None:
        raise Usage("expected --replay N or --scenario FILE, not both")
    if args.require_coverage and (args.replay is not None or args.scenario is not None):
        raise Usage("--require-coverage applies to a whole run, not to --replay or --scenario")
    if args.jobs is not None and args.jobs < 1:
        raise Usage(f"expected --jobs of at least 1, not {args.jobs}")
    if args.cluster is not None and (args.replay is not None or args.scenario is not None):
        raise Usage("--cluster applies to a whole run, not to --replay or --scenario")
    if args.sequences is not None:
        if args.sequences < 1:
            raise Usage(f"expected --sequences of at least 1, not {args.sequences}")
        if not 1 <= args.steps <= 100_000:
            raise Usage(f"expected --steps from 1 to 100000, not {args.steps}")
        others = [o for o, v in (("--replay", args.replay), ("--scenario", args.scenario), ("--mix", args.mix),
                                 ("--cluster", args.cluster)) if v is not None]
        if others:
            raise Usage(f"--sequences runs whole sequences on one process; it does not take {', '.join(others)}")
    elif args.arch is not None:
        raise Usage("--arch applies to --sequences")


def _cluster(address: str):
    """A dask.distributed Client of the scheduler at `address`; a usage error without dask."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise Usage("--cluster needs Dask distributed: install the extra virtspec[cluster] "
                    "(pip install 'virtspec[cluster]')") from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:
        raise Usage(f"--cluster {address}: cannot reach the scheduler: {exc}") from None


def _timing(args: argparse.Namespace, defaults: tuple[int, int, int]):
    from codegen.verify import harness
    given = (args.min_latency, args.max_latency, args.stall)
    lo, hi, stall = (d if g is None else g for g, d in zip(given, defaults))
    for option, value in (("--min-latency", lo), ("--max-latency", hi)):
        if not 1 <= value <= MAX_LATENCY:
            raise Usage(f"expected {option} from 1 to {MAX_LATENCY}, not {value}")
    if not 1 <= lo <= hi:
        raise Usage(f"expected latencies with 1 <= --min-latency <= --max-latency, not {lo} and {hi}")
    if not 0 <= stall <= 90:
        raise Usage(f"expected --stall as a percentage from 0 to 90, not {stall}")
    return harness.Timing(lo, hi, stall)


def cmd_cosim(args: argparse.Namespace) -> int:
    from codegen.generate.hdl import ToolMissing
    from codegen.verify import cosim
    from codegen.verify import report as report_mod
    from codegen.verify.backends.cache import BuildFailed
    _check_options(args)
    scenario_file = None
    if args.scenario is not None:
        try:
            scenario_file = report_mod.read_scenario_file(Path(args.scenario))
        except report_mod.ScenarioFileError as exc:
            raise Usage(str(exc)) from None
        o = scenario_file.options
        timing = _timing(args, (o.min_latency, o.max_latency, o.stall_percent))
    else:
        timing = _timing(args, LATENCY_DEFAULTS)
    model = args.model
    if scenario_file is not None and scenario_file.spec.model is not None:
        if model is not None and model != scenario_file.spec.model:
            raise Usage(f"--model {model}: the scenario file '{args.scenario}' is of model "
                        f"'{scenario_file.spec.model}'")
        model = scenario_file.spec.model
    project = project_of(args)
    spec, directory = compile_with_models(args.spec, args.generated, project, model)
    if spec is None:
        return 1
    if args.sequences is not None:
        return _sequences(args, spec, directory, timing, project)
    mix = _mix(args.mix, spec) if args.mix else None
    total = sum(mix.values()) if mix else args.walks
    vcd_dir = Path(output_folder(args.vcd_dir, project.root / "cosim-vcd"))
    extra = _extra_args(args)

    try:
        if scenario_file is not None:
            _check_file(spec, directory, scenario_file, args.scenario)
            report = cosim.replay_file(spec, directory, scenario_file, Path(args.scenario), timing, vcd_dir,
                                       spec_file=Path(args.spec), backend=args.backend)
            return _print_one(report, args, extra, vcd_dir / f"{Path(args.scenario).stem}_replay.vcd")
        if args.replay is not None:
            if args.replay < 0:
                raise Usage(f"expected a scenario number from 0 to {total - 1}, not {args.replay}")
            if args.replay >= total:
                raise Usage(f"expected a scenario number below {total}, not {args.replay}")
            report = cosim.replay(spec, directory, args.walks, args.seed, args.replay, timing, vcd_dir, mix=mix,
                                  spec_file=Path(args.spec), jobs=args.jobs or 1,
                                  backend=args.backend)
            return _print_one(report, args, extra, vcd_dir / f"replay_{args.replay}.vcd")
        noun = "events" if isinstance(spec.top, ir.Unit) else "walks"
        client = _cluster(args.cluster) if args.cluster is not None else None
        jobs = args.jobs or 1
        if client is not None and args.jobs is None:
            jobs = max(1, len(client.scheduler_info().get("workers", {})))
        try:
            with Progress(total, spec.name, noun, quiet=args.quiet) as progress:
                report = cosim.run(spec, directory, args.walks, args.seed, timing, vcd_dir, progress, mix=mix,
                                   max_failures=args.max_failures, spec_file=Path(args.spec), jobs=jobs,
                                   cluster=client, backend=args.backend)
        finally:
            if client is not None:
                client.close()
    except BrokenPipeError:
        raise
    except ToolMissing as exc:  # the simulator of --backend: an environment problem, exit 2
        raise Usage(str(exc)) from None
    except BuildFailed as exc:  # the HDL the simulator refused: the model is wrong, like a mismatch
        print(f"{spec.name}: --backend {args.backend}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the VCDs and scenario files: an environment problem, exit 2
        raise Usage(f"cannot write VCDs and scenario files in '{vcd_dir}': {exc.strerror or exc}") from None
    data = report.to_model(_program(), extra)
    _print_failures(report, data)
    if args.json:
        print(data.model_dump_json())
    else:
        _print_summary(report, data)
    uncovered = args.require_coverage and data.coverage.missing
    if uncovered:
        print(f"coverage required: {plural(len(uncovered), 'reachable point')} not hit: {', '.join(uncovered)}",
              file=sys.stderr)
    return 1 if report.mismatches or uncovered else 0


def _sequences(args: argparse.Namespace, spec: ir.Spec, directory: Path, timing, project) -> int:
    """--sequences: both checks of a translation or unit with caches; exit 1 on a mismatch or a violation."""
    import json

    from codegen.verify import harness, seqcosim
    if not spec.top.caches:
        raise Usage(f"--sequences needs a translation or unit that declares caches; '{args.spec}' declares none "
                    "(see docs/language.md, \"Caches and invalidation\")")
    arch_dir = None
    if args.arch is not None:
        arch, arch_dir = compile_with_models(args.arch, args.generated, project, None)
        if arch is None:
            return 1
        if not arch.top.caches or isinstance(arch.top, ir.Unit) != isinstance(spec.top, ir.Unit):
            raise Usage(f"--arch {args.arch}: expected a translation that declares caches")
        if tuple(harness.load_generated(arch_dir)[0].INVALIDATIONS) != tuple(i.name for i in spec.top.invalidations):
            raise Usage(f"--arch {args.arch}: expected the invalidations of '{args.spec}', by the same names")
    from codegen.generate.hdl import ToolMissing
    from codegen.verify.backends.cache import BuildFailed
    try:
        with Progress(args.sequences, spec.name, "sequences", quiet=args.quiet) as progress:
            report = seqcosim.run(spec, directory, args.sequences, args.seed, timing, args.steps, arch_dir,
                                  progress=progress.advance, jobs=args.jobs or 1, backend=args.backend)
    except ToolMissing as exc:  # the simulator of --backend: an environment problem
        raise Usage(str(exc)) from None
    except BuildFailed as exc:  # the simulator refused the HDL or the testbench, or ran past its time
        raise Usage(f"--backend {args.backend}: {exc}") from None
    for index, problems in report.mismatches[:args.max_failures]:
        print(f"MISMATCH in sequence {index} (--seed {args.seed}):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    for index, problem in report.violations[:args.max_failures]:
        print(f"ARCHITECTURAL VIOLATION in sequence {index} (--seed {args.seed}): {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print("\n".join(report.lines()))
    uncovered = args.require_coverage and report.missing
    if uncovered:
        print(f"coverage required: {plural(len(report.missing), 'point')} not hit: {', '.join(report.missing)}",
              file=sys.stderr)
    return 1 if report.mismatches or report.violations or uncovered else 0


def _extra_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The options of this run a replay command must repeat: the folders, made absolute."""
    out: list[str] = []
    for option, value in (("--generated", args.generated), ("--vcd-dir", args.vcd_dir)):
        if value:
            out += [option, str(Path(value).resolve())]
    return tuple(out)


def _check_file(spec: ir.Spec, directory: Path, data, path: str) -> None:
    """A scenario file must be of this spec and fit its models (usage errors otherwise)."""
    from codegen.verify import cosim
    from codegen.verify import report as report_mod
    kind = "unit" if isinstance(spec.top, ir.Unit) else "translation"
    if data.spec.name != spec.name:
        raise Usage(f"expected a scenario of spec '{spec.name}' in '{path}', not one of spec '{data.spec.name}'")
    if data.kind != kind:
        raise Usage(f"expected a scenario of a {kind} in '{path}', not of a {data.kind}")
    problem = cosim.check_scenario(spec, directory, report_mod.scenario_of(data.scenario))
    if problem:
        raise Usage(f"scenario file '{path}': {problem}")


def _mix(text: str, spec: ir.Spec) -> dict[str, int]:
    """--mix KIND=N,...: checked against the unit's event kinds (usage errors otherwise)."""
    from codegen.verify.stimulus.unit import MAX_MIX_EVENTS, MixError, UnitScenarioFactory
    if not isinstance(spec.top, ir.Unit):
        raise Usage("--mix applies to a unit; this spec's top is a translation")
    out: dict[str, int] = {}
    for part in text.split(","):
        name, _, count = part.partition("=")
        count = count.strip()
        # ASCII digits only: str.isdigit() also accepts '²', which int() refuses
        if not name.strip() or not count or not count.isascii() or not count.isdigit():
            raise Usage(f"--mix takes KIND=N,... with N a decimal count; '{part}' is not of that form")
        if len(count) > 12:  # int() of a huge string is slow, and far past MAX_MIX_EVENTS anyway
            raise Usage(f"--mix: expected at most {MAX_MIX_EVENTS:,} events in all, not {count}")
        out[name.strip()] = int(count)
    if sum(out.values()) < 1:
        raise Usage("--mix needs at least one event")
    try:
        UnitScenarioFactory(spec).check_mix(out)  # checked only: the run draws the order
    except MixError as exc:
        raise Usage(f"--mix: {exc}") from None
    return out


def _print_failure(report, f, entry) -> None:
    """One mismatch on stderr: what differs, the scenario, the files, the replay command."""
    from codegen.verify import harness
    print(f"MISMATCH in {report.noun} {f.index}:", file=sys.stderr)
    for line in f.what:
        print(f"  {line}", file=sys.stderr)
    print(("shrunk scenario:\n" if f.shrunk else "scenario:\n") + harness.describe(f.scenario), file=sys.stderr)
    if f.vcd is not None:
        print(f"VCD of the model: {f.vcd}", file=sys.stderr)
    if f.scenario_file is not None:
        print(f"scenario file: {f.scenario_file}", file=sys.stderr)
    if entry.replay:
        print(f"replay: {entry.replay}", file=sys.stderr)


def _print_failures(report, data) -> None:
    if len(report.failures) < report.mismatches:
        nouns = "mismatch" if report.mismatches == 1 else "mismatches"
        more = ", ".join(str(i) for i in report.mismatched[:10]) + (", ..." if len(report.mismatched) > 10 else "")
        print(f"showing {len(report.failures)} of {report.mismatches} {nouns} (in {report.noun}s {more}; "
              f"--max-failures N shows more, --replay N re-runs one)", file=sys.stderr)
    for f, entry in zip(report.failures, data.failures):
        _print_failure(report, f, entry)


def _print_one(report, args: argparse.Namespace, extra: tuple[str, ...], vcd: Path) -> int:
    """The result of --replay or --scenario: the scenario, both outcomes, the VCD."""
    from codegen.verify import harness
    data = report.to_model(_program(), extra)
    if args.json:
        for f, entry in zip(report.failures, data.failures):
            _print_failure(report, f, entry)
        print(data.model_dump_json())
        return 1 if report.mismatches else 0
    where = f"scenario file {args.scenario}" if args.scenario else \
        f"{report.noun} {args.replay} of seed {args.seed}"
    if report.failures:
        print(f"{report.spec_name}: {where}: the models disagree", file=sys.stderr)
        _print_failure(report, report.failures[0], data.failures[0])
        return 1
    sc, ref_run, _ = report.single
    print(f"{report.spec_name}: {where}: reference and model agree")
    print(f"  outcome: {harness.outcome_text(ref_run.outcome)}")
    print(f"  memory references: {report.refs[0]}; model cycles: {report.cycles[0]}")
    print("scenario:\n" + harness.describe(sc))
    print(f"VCD of the model: {vcd}")
    if args.replay is not None:
        print(f"scenario file: {vcd.with_suffix('.json')}")
    if len(report.models) > 1:
        print(other_models_note(report.models, report.model))
    return 0


def _print_summary(report, d) -> None:
    noun = report.noun
    named = f"{d.spec.name} (model {d.spec.model})" if len(report.models) > 1 else d.spec.name
    print(f"{named}: {plural(d.transactions, noun)}, {plural(d.mismatches, 'mismatch', 'mismatches')}")
    print(f"  memory references per {noun}: mean {d.memory_references.mean}, max {d.memory_references.max}")
    print(f"  model cycles per {noun}: mean {d.cycles.mean}, max {d.cycles.max}")
    t = d.throughput
    print(f"  speed: {t.overall} {noun}s/s overall; reference {t.reference}/s, "
          f"{'MyHDL model' if d.backend == 'myhdl' else d.backend + ' model'} {t.model}/s")
    c = d.coverage
    reachable = len(report.expected)
    print(f"  coverage: {c.percent}% of {plural(reachable, 'reachable point')}")
    for key, n in c.hit.items():
        print(f"    {key}: {n}")
    if c.unreachable:
        told = [k for k in c.unreachable if k in c.why]
        rest = [k for k in c.unreachable if k not in c.why]
        if rest:
            print("  unreachable by construction: " + ", ".join(rest))
        if told:
            print("  unreachable by construction:" if not rest else "  and, by the spec's constant bindings:")
            for reason in dict.fromkeys(c.why[k] for k in told):
                print(f"    {reason}: " + ", ".join(k for k in told if c.why[k] == reason))
    plain = [k for k in c.missing if k not in c.needs_state]
    if plain:
        print("  not covered: " + ", ".join(plain))
    if c.needs_state:
        print("  not covered, needs state (reached only through a cache hit from an earlier event; "
              "`--sequences N` counts them):")
        for reason in dict.fromkeys(c.needs_state.values()):
            print(f"    {reason}: " + ", ".join(k for k, v in c.needs_state.items() if v == reason))
    if c.note:
        print(f"  note: {c.note}")
    elif not c.missing:
        print("  every exit rule and record encoding was covered" if d.kind == "unit"
              else "  every fault kind, fault site and page size was covered")
    if len(report.models) > 1:
        print(other_models_note(report.models, report.model))
