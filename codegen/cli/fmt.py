"""`virtspec fmt`: rewrite spec files in the one canonical layout (white space only)."""
from __future__ import annotations

import argparse

from codegen.cli._common import project_of, spec_paths
from codegen.frontend import fmt


def add_parsers(sub, formatter) -> None:
    f = sub.add_parser("fmt", help="rewrite spec files in the canonical layout (white space only)",
                       formatter_class=formatter)
    f.add_argument("spec", nargs="*", help="spec files (default: every *.vspec in the project's specs/)")
    f.add_argument("--check", action="store_true", help="fail if a file would change; write nothing")
    f.set_defaults(fn=cmd_fmt, parser=f)


def cmd_fmt(args: argparse.Namespace) -> int:
    return fmt.run(spec_paths(args.spec, project_of(args), "fmt"), args.check)
