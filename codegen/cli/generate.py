"""`virtspec generate`: the reference and MyHDL models of each spec, written or compared."""
from __future__ import annotations

import argparse
import sys
import time

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
from codegen.frontend.diagnostics import SpecError
from codegen.generate import emit


def add_parsers(sub, formatter) -> None:
    g = sub.add_parser("generate", help="generate reference and MyHDL models", formatter_class=formatter,
                       description="Write generated/<name>/reference.py and model.py for each spec, keyed by the "
                                   "name it declares (`spec NAME;`), and generated/<name>/<model>/ for each other "
                                   "model of a spec that has several (atomically; unchanged files are not "
                                   "touched). Two specs that declare one name are refused.")
    g.add_argument("spec", nargs="*", help="spec files (default: every *.vspec in the project's specs/)")
    g.add_argument("--check", action="store_true", help="fail if generated files are stale; write nothing")
    g.add_argument("--Werror", dest="werror", action="store_true", help="treat warnings as errors")
    g.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="output folder, one subfolder per spec (default: generated/ in the project root)")
    g.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none either for one spec, or when standard error is not a terminal)")
    g.set_defaults(fn=cmd_generate, parser=g)


def cmd_generate(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    project = project_of(args)
    paths = spec_paths(args.spec, project, "generate")
    with bar(args, len(paths), "compile") as progress:
        specs, failed = compile_all(paths, args.werror, progress)
    report(failed)
    if failed:
        return 1
    if refuse_clashes(specs, paths):
        return 1
    out_root = output_folder(args.output, project.generated)
    stale, written = [], []
    with bar(args, len(specs), "generate") as progress:
        rendered = []
        for s, path in zip(specs, paths):
            try:
                rendered += [(directory, files) for _, directory, files in emit.render_models(s, out_root)]
            except SpecError as exc:  # E0501: the excerpt needs the text of the file as named here
                if s.path not in exc.bag.sources:
                    try:
                        exc.bag.sources[s.path] = path.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError):
                        pass
                raise
            progress.advance()
    for directory, files in rendered:
        if args.check:
            stale += emit.stale(files, directory)
        else:
            try:
                written += emit.write(files, directory)
            except OSError as exc:
                which = exc.filename2 or exc.filename  # os.replace names the target second
                raise Usage(f"cannot write generated files to '{directory}': {exc.strerror or exc}"
                            + (f" ('{which}')" if which and str(which) != str(directory) else "")) from None
    took = time.perf_counter() - t0
    if args.check:
        for p in stale:
            if p.exists() and not p.is_file():
                print(f"stale: {p} is not a regular file (a folder?): remove it and run `virtspec generate`",
                      file=sys.stderr)
            else:
                print(f"stale: {p} (run `virtspec generate`)", file=sys.stderr)
        if not stale:
            print(f"generated files are up to date ({plural(len(specs), 'spec')}, {took:.2f} s)")
        return 1 if stale else 0
    for p in written:
        print(f"wrote {p}")
    print(f"generated {plural(len(specs), 'spec')} in {took:.2f} s ({plural(len(written), 'file')} changed)")
    return 0
