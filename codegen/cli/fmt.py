"""`virtspec fmt`: rewrite spec files in the one canonical layout (white space only)."""
from __future__ import annotations

import argparse

from codegen.cli._common import Usage, project_of, spec_paths
from codegen.frontend import fmt


def add_parsers(sub, formatter) -> None:
    f = sub.add_parser("fmt", help="rewrite spec files in the canonical layout (white space only)",
                       formatter_class=formatter,
                       description="Rewrite spec files in place in the canonical layout. `virtspec fmt -` reads "
                                   "a spec from standard input and writes it formatted to standard output (for "
                                   "editors: on a syntax error, the diagnostics go to standard error, nothing to "
                                   "standard output, exit status 1).")
    f.add_argument("spec", nargs="*",
                   help="spec files, or - for standard input (default: every *.vspec in the project's specs/)")
    f.add_argument("--check", action="store_true", help="fail if a file would change; write nothing")
    f.add_argument("--diff", action="store_true",
                   help="print a unified diff of what would change; fail if anything would; write nothing")
    f.set_defaults(fn=cmd_fmt, parser=f)


def cmd_fmt(args: argparse.Namespace) -> int:
    if "-" in args.spec:
        if len(args.spec) != 1:
            raise Usage(f"expected - alone (standard input), not - with {len(args.spec) - 1} more spec file(s)")
        return fmt.run_stdin(args.check, args.diff)
    return fmt.run(spec_paths(args.spec, project_of(args), "fmt"), args.check, diff=args.diff)
