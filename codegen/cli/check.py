"""`virtspec check`, `virtspec dump` and `virtspec explain`: the front end on its own."""
from __future__ import annotations

import argparse
import json
import sys

from codegen.cli._common import (
    Usage,
    compile_all,
    compile_one_full,
    plural,
    project_of,
    report,
    spec_paths,
)
from codegen.frontend import catalogue, config
from codegen.frontend import report as reports
from codegen.frontend.config import Project
from codegen.frontend.pipeline import compile_in_project


def add_parsers(sub, formatter) -> None:
    c = sub.add_parser("check", help="parse and check spec files", formatter_class=formatter,
                       description="Parse, elaborate and check spec files; print every error of a stage at once.")
    c.add_argument("spec", nargs="*", help="spec files (default: every *.vspec in the project's specs/)")
    c.add_argument("--Werror", dest="werror", action="store_true", help="treat warnings as errors")
    c.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="text: diagnostics on stderr, an 'ok' line per valid spec on stdout; json: one JSON "
                        "document on stdout (its schema: `virtspec schema check`); sarif: a SARIF 2.1.0 log on "
                        "stdout, for GitHub code scanning")
    c.add_argument("-v", "--verbose", action="store_true",
                   help="also say which project root was found (on stderr with --format json or sarif)")
    c.set_defaults(fn=cmd_check, parser=c)
    d = sub.add_parser("dump", help="print the elaborated spec as JSON", formatter_class=formatter,
                       description="Print the elaborated spec, with everything it imports, as JSON: a public\n"
                                   "format, whose JSON Schema `virtspec schema dump` prints. Imported declarations\n"
                                   "carry the namespace of their import, each `let` is listed once and named where\n"
                                   "used, numbers keep the parameter or expression they come from.")
    d.add_argument("spec", help="the spec file")
    d.add_argument("--ir", action="store_true",
                   help="print the internal IR the generators read instead (lets expanded, constants folded, "
                        "names unqualified): for debugging virtspec, its format changes without notice")
    d.set_defaults(fn=cmd_dump, parser=d)
    x = sub.add_parser("explain", help="explain diagnostic codes (all codes when none is given)", formatter_class=formatter)
    x.add_argument("code", nargs="*", help="codes such as E0402 or W0103")
    x.set_defaults(fn=cmd_explain, parser=x)


def cmd_check(args: argparse.Namespace) -> int:
    project = project_of(args)
    if args.format != "text":
        return _check_machine(args, project)
    if args.verbose:
        print(f"project root: {project.root} ({project.found})")
    specs, failed = compile_all(spec_paths(args.spec, project, "check"), args.werror)
    report(failed)
    for s in specs:
        print(f"{s.path}: ok ({plural(len(s.layouts), 'layout')}, {plural(len(s.regimes), 'regime')}, "
              f"{len(s.nested)} nested" + (f", {plural(len(s.units), 'unit')}" if s.units else "") + ")")
        if args.verbose:  # what `generate` writes, and what --model of cosim and convert takes
            print(f"  models: {s.models[0]} (the default)" + "".join(f", {m}" for m in s.models[1:]))
    return 1 if failed else 0


def _check_machine(args: argparse.Namespace, project: Project) -> int:
    """`check --format json|sarif`: the same diagnostics and exit status as the text, as
    one document on stdout; nothing else is printed, but usage errors (on stderr)."""
    paths = spec_paths(args.spec, project, "check")
    if args.verbose:
        print(f"project root: {project.root} ({project.found})", file=sys.stderr)
    files = []
    for p in paths:
        try:
            spec, bag = compile_in_project(p, args.werror)
        except config.ConfigError as exc:
            raise Usage(str(exc)) from None
        files.append(reports.file_report(p, spec is not None, bag))
    from codegen.cli import _version  # here: codegen.cli imports this module
    doc = reports.check_report(files, project.root, _version())
    out = doc.model_dump() if args.format == "json" else reports.sarif(doc, paths)
    # ASCII-only JSON: any stdout encoding can print it, a path that is not UTF-8 too
    print(json.dumps(out, indent=2))
    return 1 if doc.totals.failed else 0


def cmd_dump(args: argparse.Namespace) -> int:
    compiled = compile_one_full(args.spec)
    if compiled is None:
        return 1
    if args.ir:
        print(compiled.spec.model_dump_json(indent=2))
        return 0
    from codegen.frontend.dump import dump_json  # only this command needs it
    print(dump_json(compiled))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """`virtspec explain CODE...` prints each code's explanation; with no code, the list."""
    if not args.code:
        for e in catalogue.entries().values():
            print(f"{e.code}  {e.severity:<7}  {e.summary}")
        return 0
    unknown = [c for c in args.code if catalogue.lookup(c) is None]
    if unknown:
        raise Usage(f"unknown diagnostic code '{unknown[0]}'; codes like it: {', '.join(catalogue.near(unknown[0]))} "
                    "(`virtspec explain` lists them all)")
    print("\n".join(catalogue.explain(c) for c in args.code), end="")
    return 0
