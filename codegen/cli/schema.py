"""`virtspec schema NAME`: the JSON Schema of one of virtspec's machine-readable outputs,
so that scripts can validate what they read (the schemas come from the pydantic models
that produce the output, so they cannot drift from it)."""
from __future__ import annotations

import argparse
import json
from importlib import import_module
from typing import Callable

from codegen.cli._common import Usage


def _schemas() -> dict[str, tuple[str, Callable[[], dict]]]:
    """name -> (what it describes, a function giving the schema). Imports are local: a
    schema costs its module only when asked for."""
    def cosim() -> dict:
        from codegen.verify.report import CosimReport
        return CosimReport.model_json_schema()

    def scenario() -> dict:
        from codegen.verify.report import ScenarioFile
        return ScenarioFile.model_json_schema()

    def sequences() -> dict:
        from codegen.verify.seqcosim import SequencesJson
        return SequencesJson.model_json_schema()

    from codegen.frontend import report
    return {
        "check": ("the document of `virtspec check --format json`", report.schema),
        "dump": ("the elaborated spec `virtspec dump` prints", lambda: import_module("codegen.ir.dump").json_schema()),
        "cosim": ("the output of cosim --json", cosim),
        "sequences": ("the output of cosim --sequences --json", sequences),
        "scenario": ("a scenario file of cosim (saved with each mismatch, read by --scenario)", scenario),
    }


def add_parsers(sub, formatter) -> None:
    s = sub.add_parser("schema", help="print the JSON Schema of a machine-readable output", formatter_class=formatter)
    s.add_argument("name", nargs="?", help="the output (with none: the list)")
    s.set_defaults(fn=cmd_schema, parser=s)


def cmd_schema(args: argparse.Namespace) -> int:
    schemas = _schemas()
    if args.name is None:
        for name, (what, _) in sorted(schemas.items()):
            print(f"{name:<9}  {what}")
        return 0
    if args.name not in schemas:
        raise Usage(f"expected one of {', '.join(sorted(schemas)) or '(none yet)'}, not {args.name!r}")
    print(json.dumps(schemas[args.name][1](), indent=2, sort_keys=True))
    return 0
