"""`virtspec doc`: the Markdown and HTML reference of each spec, and an index of them."""
from __future__ import annotations

import argparse
import sys

from codegen.cli._common import (
    Usage,
    bar,
    compile_all,
    output_folder,
    plural,
    project_of,
    refuse_clashes,
    report,
    spec_paths,
)
from codegen.generate import doc, emit


def add_parsers(sub, formatter) -> None:
    o = sub.add_parser("doc", help="write the Markdown and HTML reference of each spec, and an index",
                       formatter_class=formatter)
    o.add_argument("spec", nargs="*", help="spec files (default: every *.vspec in the project's specs/)")
    o.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="output folder (default: docs/ in the project root)")
    o.add_argument("--check", action="store_true", help="fail if the docs are stale; write nothing")
    o.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none either for one spec, or when standard error is not a terminal)")
    o.set_defaults(fn=cmd_doc, parser=o)


def cmd_doc(args: argparse.Namespace) -> int:
    """`virtspec doc [SPEC...] [-o DIR] [--check]`."""
    project = project_of(args)
    paths = spec_paths(args.spec, project, "doc")
    with bar(args, len(paths), "compile") as progress:
        specs, failed = compile_all(paths, progress=progress)
    report(failed)
    if failed:
        return 1
    if refuse_clashes(specs, paths, reserved=("index",)):  # DIR/<name>.md, keyed by the declared name
        return 1
    out = output_folder(args.output, project.docs)
    files: dict[str, str] = {}
    with bar(args, len(specs), "doc") as progress:
        for spec in specs:
            files.update(doc.render(spec))
            progress.advance()
    files.update(doc.render_index(specs, out))
    if args.check:
        stale = emit.stale(files, out)
        for p in stale:
            print(f"stale: {p} (run `virtspec doc`)", file=sys.stderr)
        if not stale:
            print(f"docs are up to date ({plural(len(specs), 'spec')})")
        return 1 if stale else 0
    try:
        written = emit.write(files, out)
    except OSError as exc:
        raise Usage(f"cannot write docs to '{out}': {exc.strerror or exc}") from None
    for p in written:
        print(f"wrote {p}")
    print(f"documented {plural(len(specs), 'spec')} in {out} ({plural(len(written), 'file')} changed)")
    return 0
