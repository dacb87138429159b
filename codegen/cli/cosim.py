"""`virtspec cosim`: co-simulate the generated reference and MyHDL model of one spec."""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from codegen import ir
from codegen.cli._common import Usage, compile_one, output_folder, project_of
from codegen.generate import emit
from codegen.progress import Progress
from codegen.verify.stimulus.translation import Draw


def add_parsers(sub, formatter) -> None:
    s = sub.add_parser("cosim", help="co-simulate the reference and the MyHDL model", formatter_class=formatter,
                       description="Drive the generated reference and MyHDL model of a spec with the same "
                                   "stimulus and compare outcome, fault record, memory trace and final memory.")
    s.add_argument("spec", help="the spec file")
    s.add_argument("--walks", "--events", dest="walks", type=int, default=1000,
                   help="transactions to co-simulate: walks of a translation, events of a unit")
    s.add_argument("--mix", default=None, metavar="KIND=N,...",
                   help="a unit only: exactly N events of each event kind (items of the event's enum); "
                        "replaces --events")
    s.add_argument("--seed", type=int, default=1, help="seed of the random stimulus")
    s.add_argument("--json", action="store_true", help="print one JSON object instead of the text summary")
    s.add_argument("--min-latency", type=int, default=1, help="fewest cycles the memory takes to answer")
    s.add_argument("--max-latency", type=int, default=4, help="most cycles the memory takes to answer")
    s.add_argument("--stall", type=int, default=20, help="percent of cycles the memory refuses a request")
    s.add_argument("--vcd-dir", metavar="DIR", default=None,
                   help="where VCDs of mismatches go (default: cosim-vcd/ in the project root)")
    s.add_argument("--generated", metavar="DIR", default=None,
                   help="the folder of generated models to read (default: generated/ in the project root)")
    s.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none either when standard error is not a terminal)")
    s.set_defaults(fn=cmd_cosim, parser=s)


def cmd_cosim(args: argparse.Namespace) -> int:
    from codegen.verify import cosim, harness
    if args.walks < 1:
        raise Usage(f"--walks (or --events): expected at least 1, not {args.walks}")
    if not 1 <= args.min_latency <= args.max_latency:
        raise Usage(f"latencies: expected 1 <= --min-latency <= --max-latency, not {args.min_latency} and "
                    f"{args.max_latency}")
    if not 0 <= args.stall <= 90:
        raise Usage(f"--stall: expected a percentage from 0 to 90, not {args.stall}")
    project = project_of(args)
    spec = compile_one(args.spec)
    if spec is None:
        return 1
    directory = emit.out_dir(spec, output_folder(args.generated, project.generated))
    if emit.stale(emit.render(spec), directory):
        print(f"generated files for {spec.path} are missing or stale in {directory.parent}: run "
              f"`virtspec generate {args.spec}`", file=sys.stderr)
        return 1
    timing = harness.Timing(args.min_latency, args.max_latency, args.stall)
    mix = _mix(args.mix, spec) if args.mix else None
    total = sum(mix.values()) if mix else args.walks
    vcd_dir = output_folder(args.vcd_dir, project.root / "cosim-vcd")
    noun = "events" if isinstance(spec.top, ir.Unit) else "walks"
    with Progress(total, spec.name, noun, quiet=args.quiet) as progress:
        report = cosim.run(spec, directory, args.walks, args.seed, timing, Path(vcd_dir), progress, mix=mix)
    for f in report.failures:
        print(f"MISMATCH in {report.noun[:-1]} {f.index}:", file=sys.stderr)
        for line in f.what:
            print(f"  {line}", file=sys.stderr)
        print("shrunk scenario:\n" + harness.describe(f.scenario), file=sys.stderr)
        if f.vcd is not None:
            print(f"VCD of the model: {f.vcd}", file=sys.stderr)
    data = report.as_json()
    if args.json:
        print(json.dumps(data, indent=None, sort_keys=True))
    else:
        _print_summary(spec, data)
    return 1 if report.mismatches else 0


def _mix(text: str, spec: ir.Spec) -> dict[str, int]:
    """--mix KIND=N,...: checked against the unit's event kinds (usage errors otherwise)."""
    from codegen.verify.stimulus.unit import MixError, UnitScenarioFactory
    if not isinstance(spec.top, ir.Unit):
        raise Usage("--mix applies to a unit; this spec's top is a translation")
    out: dict[str, int] = {}
    for part in text.split(","):
        name, _, count = part.partition("=")
        if not name.strip() or not count.strip().isdigit() or int(count) < 0:
            raise Usage(f"--mix takes KIND=N,...; '{part}' is not of that form")
        out[name.strip()] = int(count)
    if sum(out.values()) < 1:
        raise Usage("--mix needs at least one event")
    try:
        UnitScenarioFactory(spec).mix(out, Draw(random.Random(0)))
    except MixError as exc:
        raise Usage(f"--mix: {exc}") from None
    return out


def _print_summary(spec: ir.Spec, d: dict) -> None:
    noun = "events" if "events" in d else "walks"
    one = noun[:-1]
    print(f"{spec.name}: {d[noun]} {noun}, {d['mismatches']} mismatches")
    print(f"  memory references per {one}: mean {d[f'refs_per_{one}_mean']}, max {d[f'refs_per_{one}_max']}")
    print(f"  model cycles per {one}: mean {d[f'cycles_per_{one}_mean']}")
    print(f"  speed: {d[f'{noun}_per_s']} {noun}/s overall; reference {d[f'reference_{noun}_per_s']}/s, "
          f"MyHDL model {d[f'model_{noun}_per_s']}/s")
    print("  coverage:")
    for key, n in d["coverage"].items():
        print(f"    {key}: {n}")
    if d["unreachable"]:
        print("  unreachable by construction: " + ", ".join(d["unreachable"]))
    if d["coverage_missing"]:
        print("  not covered: " + ", ".join(d["coverage_missing"]))
    else:
        print("  every exit rule and record encoding was covered" if noun == "events"
              else "  every fault kind, fault site and page size was covered")
