"""The `virtspec` command line: one module per subcommand, each adding its parser and
calling one stage of the pipeline.

Exit status: 0 ok, 1 the input is wrong or the models disagree (spec errors,
mismatches, stale files), 2 usage or environment (bad option, unwritable folder,
missing simulator), 3 an internal error (a bug in virtspec: a short message, the
traceback in a file of the system's temporary folder), 130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from importlib.metadata import PackageNotFoundError, version

from codegen.cli import bench, check, cocotb, convert, cosim, doc, fmt, generate, schema
from codegen.cli._common import HelpFormatter, Usage, project_of, report
from codegen.frontend.diagnostics import SpecError
from codegen.verify.stimulus.translation import StimulusError

COMMANDS = (check, generate, doc, fmt, cosim, convert, cocotb, bench, schema)


def _version() -> str:
    try:
        return version("virtspec")
    except PackageNotFoundError:  # a checkout used without installing it
        from codegen.ir import GENERATOR_VERSION
        return GENERATOR_VERSION


def parser() -> argparse.ArgumentParser:
    root = project_of(argparse.Namespace())
    p = argparse.ArgumentParser(
        prog="virtspec", formatter_class=HelpFormatter,
        description="Executable specs of virtualization hardware: check spec files, generate a reference "
                    "emulator and a MyHDL model from each, and co-simulate the two.",
        epilog=f"project root: {root.root} ({root.found}); specs/, generated/ and docs/ default to folders "
               "under it, and every -o/--output is relative to the working directory.\n\n"
               "exit status: 0 success; 1 the input is wrong or the models disagree (spec errors, mismatches, "
               "stale files); 2 usage or environment (a bad option, an unwritable folder, a missing simulator); "
               "3 an internal error, a bug in virtspec (the traceback is written to a file in the system's "
               "temporary folder, named in the message); 130 interrupted.")
    p.add_argument("--version", action="version", version=f"virtspec {_version()}")
    p.add_argument("--show-root", action="store_true",
                   help="print the project root found from the working directory, and how, then exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parsers(sub, HelpFormatter)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.show_root:
        project = project_of(args)
        print(f"{project.root}\n(found as {project.found})")
        return 0
    if args.command is None:
        p.error("name a command (`virtspec --help` lists them)")
    try:
        return args.fn(args)
    except Usage as exc:
        args.parser.print_usage(sys.stderr)
        print(f"virtspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except SpecError as exc:  # found after the checks, while generating
        report([exc.bag])
        return 1
    except StimulusError as exc:
        print(f"virtspec: cannot build stimulus for this spec: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - anything else is a bug: one paragraph, never a bare traceback
        return _crash(args.command, exc)


def _crash(command: str, exc: BaseException) -> int:
    """Exit status 3: say that `command` hit a bug in virtspec, and where its traceback is."""
    details = "".join(traceback.format_exception(exc))
    try:
        fd, where = tempfile.mkstemp(prefix="virtspec-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"virtspec {_version()}, command: {' '.join(sys.argv)}\n{details}")
        told = f"the details (the traceback) are in {where}"
    except OSError as err:
        told = f"the details could not be written to the temporary folder ({err.strerror or err}); they were: " + \
            details
    print(f"virtspec {command}: internal error: {type(exc).__name__}: {exc}. This is a bug in virtspec, not a "
          f"problem with your input; {told}. Please report it with that file and the command line.",
          file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
