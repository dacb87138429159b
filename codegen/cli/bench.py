"""`virtspec bench`: the benchmark (codegen/bench/), shipped with the package."""
from __future__ import annotations

import argparse

from codegen.cli._common import Usage


def add_parsers(sub, formatter) -> None:
    b = sub.add_parser("bench", help="run the benchmark", formatter_class=formatter,
                       description="Time the generator, the generated references and the MyHDL models on the "
                                   "shipped specs, in one run; writes nothing into the project.")
    b.add_argument("--quick", action="store_true", help="fewer walks and events: a smoke run of every section")
    b.add_argument("--fuzz", type=int, default=0, metavar="N",
                   help="also feed N fuzz inputs through `check` (`python -m codegen.bench.fuzz` runs it alone)")
    b.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none either when standard error is not a terminal)")
    b.add_argument("--only", default=None, metavar="LETTERS",
                   help="run only these sections, e.g. `h` (the caches) or `cd`; default: a to h but (f)")
    b.add_argument("--json", action="store_true",
                   help="print one JSON object (every row, and section (h)'s counts in full) instead of the table")
    b.set_defaults(fn=cmd_bench, parser=b)


def cmd_bench(args: argparse.Namespace) -> int:
    from codegen.bench import bench
    if args.fuzz < 0:
        raise Usage(f"--fuzz: expected a count of inputs, 0 or more, not {args.fuzz}")
    sections = bench.SECTIONS if args.only is None else args.only
    odd = sorted(set(sections) - set(bench.SECTIONS))
    if not sections or odd:
        raise Usage(f"--only: expected section letters among {bench.SECTIONS}, not {sections!r}")
    return bench.main(quick=args.quick, fuzz_inputs=args.fuzz, quiet=args.quiet, sections=sections, as_json=args.json)
