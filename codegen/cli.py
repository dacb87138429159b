"""The `virtspec` command line: check, generate, doc, fmt, dump, cosim, convert, bench, explain.

Exit status: 0 ok, 1 spec errors or mismatches, 2 usage errors.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from . import catalogue, config, emit, ir
from .diagnostics import DiagnosticBag, SpecError
from .pipeline import compile_spec
from .stimulus import Draw, StimulusError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = ROOT / "specs"
DEFAULT_OUT = ROOT / "generated"
DEFAULT_DOCS = ROOT / "docs"


class Usage(Exception):
    """A usage error: exit status 2."""


def _specs(paths: list[str]) -> list[Path]:
    if paths:
        out = [Path(p) for p in paths]
        for p in out:
            problem = _not_a_file(p)
            if problem:
                raise Usage(problem)
        return out
    return sorted(DEFAULT_SPECS.glob("*.vspec"))


def _not_a_file(p: Path) -> str | None:
    """Why `p` cannot be a spec file given on the command line, or None. Never raises:
    a name too long or with a NUL byte is a usage error, not a traceback."""
    try:
        if p.is_file():
            return None
        if p.is_dir():
            return f"'{p}' is a directory; name the spec files in it (e.g. {p / '*.vspec'})"
        if p.exists():
            return f"'{p}' is not a regular file (a device, a pipe or a socket), not a spec file"
    except (OSError, ValueError) as exc:
        return f"cannot use '{str(p)[:200]}' as a spec file: {getattr(exc, 'strerror', None) or exc}"
    return f"no such spec file: {p}"


def _compile_all(paths: list[Path], werror: bool = False) -> tuple[list, list[DiagnosticBag]]:
    """Compile each spec with the settings of its pyproject.toml. The warnings of a spec
    that compiled are printed here; a spec with errors (or, under --Werror or `werror`
    in the settings, with warnings) is returned in `failed` for _report."""
    specs, failed = [], []
    warned = 0
    for p in paths:
        bag = DiagnosticBag()
        try:
            settings = config.load(p)
        except config.ConfigError as exc:
            raise Usage(str(exc)) from None
        try:
            spec = compile_spec(p, bag, settings)
        except SpecError:
            failed.append(bag)
            continue
        if bag.warnings and (werror or settings.werror):
            for d in bag.warnings:
                d.severity, d.message = "error", f"{d.message} [warning made an error by --Werror]"
            failed.append(bag)
            continue
        if bag.items:
            print(bag.render(), file=sys.stderr)
            warned += len(bag.warnings)
        specs.append(spec)
    if warned and not failed:
        print(f"{warned} warning{'s' if warned != 1 else ''} (`virtspec explain CODE` tells more; "
              "waive a code under [tool.virtspec] in pyproject.toml)", file=sys.stderr)
    return specs, failed


def _report(failed: list[DiagnosticBag]) -> None:
    for bag in failed:
        print(bag.render(), file=sys.stderr)
    n = sum(len(b.errors) for b in failed)
    w = sum(len(b.warnings) for b in failed)
    if n:
        print(f"{n} error{'s' if n != 1 else ''}" + (f" and {w} warning{'s' if w != 1 else ''}" if w else "")
              + " found", file=sys.stderr)


def cmd_explain(args) -> int:
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


def cmd_check(args) -> int:
    specs, failed = _compile_all(_specs(args.spec), args.werror)
    _report(failed)
    for s in specs:
        print(f"{s.path}: ok ({len(s.layouts)} layouts, {len(s.regimes)} regimes, {len(s.nested)} nested"
              + (f", {len(s.units)} units" if s.units else "") + ")")
    return 1 if failed else 0


def cmd_generate(args) -> int:
    t0 = time.perf_counter()
    specs, failed = _compile_all(_specs(args.spec), args.werror)
    _report(failed)
    if failed:
        return 1
    out_root = Path(args.out)
    stale, written = [], []
    rendered = [(s, emit.render(s)) for s in specs]
    for spec, files in rendered:
        directory = emit.out_dir(spec, out_root)
        if args.check:
            stale += emit.stale(files, directory)
        else:
            written += emit.write(files, directory)
    took = time.perf_counter() - t0
    if args.check:
        for p in stale:
            print(f"stale: {p} (run `virtspec generate`)", file=sys.stderr)
        if not stale:
            print(f"generated files are up to date ({len(specs)} specs, {took:.2f} s)")
        return 1 if stale else 0
    for p in written:
        print(f"wrote {p}")
    print(f"generated {len(specs)} specs in {took:.2f} s ({len(written)} files changed)")
    return 0


def cmd_doc(args) -> int:
    """`virtspec doc [SPEC...] [-o DIR] [--check]`: the Markdown and HTML reference of each
    spec, and an index of them."""
    from . import doc
    paths = _specs(args.spec)
    stems = [p.stem for p in paths]
    clash = sorted({s for s in stems if stems.count(s) > 1 or s == "index"})
    if clash:
        raise Usage(f"spec file names must differ and not be 'index' (their docs are DIR/<name>.md): {', '.join(clash)}")
    specs, failed = _compile_all(paths)
    _report(failed)
    if failed:
        return 1
    files: dict[str, str] = {}
    for spec in specs:
        files.update(doc.render(spec))
    files.update(doc.render_index(specs))
    out = Path(args.out)
    if args.check:
        stale = emit.stale(files, out)
        for p in stale:
            print(f"stale: {p} (run `virtspec doc`)", file=sys.stderr)
        if not stale:
            print(f"docs are up to date ({len(specs)} specs)")
        return 1 if stale else 0
    try:
        written = emit.write(files, out)
    except OSError as exc:
        raise Usage(f"cannot write docs to '{out}': {exc.strerror or exc}") from None
    for p in written:
        print(f"wrote {p}")
    print(f"documented {len(specs)} specs in {out} ({len(written)} files changed)")
    return 0


def cmd_fmt(args) -> int:
    """`virtspec fmt [--check] [SPEC...]`: rewrite spec files in the canonical layout."""
    from . import fmt
    return fmt.run(_specs(args.spec), args.check)


def cmd_dump(args) -> int:
    specs, failed = _compile_all(_specs([args.spec]))
    _report(failed)
    if failed:
        return 1
    print(specs[0].model_dump_json(indent=2))
    return 0


def cmd_cosim(args) -> int:
    from . import cosim, harness
    if args.walks < 1:
        raise Usage("--walks (or --events) must be at least 1")
    if not 1 <= args.min_latency <= args.max_latency:
        raise Usage("latencies need 1 <= --min-latency <= --max-latency")
    if not 0 <= args.stall <= 90:
        raise Usage("--stall is a percentage from 0 to 90")
    specs, failed = _compile_all(_specs([args.spec]))
    _report(failed)
    if failed:
        return 1
    spec = specs[0]
    directory = emit.out_dir(spec, Path(args.out))
    if emit.stale(emit.render(spec), directory):
        print(f"generated files for {spec.path} are missing or stale: run `virtspec generate {spec.path}`", file=sys.stderr)
        return 1
    timing = harness.Timing(args.min_latency, args.max_latency, args.stall)
    mix = _mix(args.mix, spec) if args.mix else None
    total = sum(mix.values()) if mix else args.walks
    progress = cosim.progress_bar(spec.name) if total >= 500 and not args.quiet else None
    report = cosim.run(spec, directory, args.walks, args.seed, timing, Path(args.vcd_dir), progress, mix=mix)
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


def _mix(text: str, spec) -> dict[str, int]:
    """--mix KIND=N,...: checked against the unit's event kinds (usage errors otherwise)."""
    from .unit_stimulus import MixError, UnitScenarioFactory
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


def _print_summary(spec, d: dict) -> None:
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


def cmd_convert(args) -> int:
    from . import harness, hdl
    specs, failed = _compile_all(_specs([args.spec]))
    _report(failed)
    if failed:
        return 1
    directory = emit.out_dir(specs[0], Path(args.out))
    if emit.stale(emit.render(specs[0]), directory):
        print(f"generated files for {specs[0].path} are missing or stale: run `virtspec generate`", file=sys.stderr)
        return 1
    _, model = harness.load_generated(directory)
    status = 0
    for lang in args.hdl:
        files = hdl.convert(model, "Verilog" if lang == "verilog" else "VHDL", Path(args.output))
        for f in files:
            print(f"wrote {f}")
        if args.compile:
            ok, msg = hdl.compile_verilog(files) if lang == "verilog" else hdl.analyse_vhdl(files)
            print(f"{lang}: {'compiles' if ok else 'does not compile'}{': ' + msg if msg.strip() else ''}")
            status |= 0 if ok else 1
    return status


def cmd_bench(args) -> int:
    sys.path.insert(0, str(ROOT))
    from bench import bench
    return bench.main(quick=args.quick, fuzz_inputs=args.fuzz)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="virtspec", description="Executable specs of virtualization hardware.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="parse and check spec files")
    c.add_argument("spec", nargs="*", help="spec files (default: specs/*.vspec)")
    c.add_argument("--Werror", dest="werror", action="store_true", help="treat warnings as errors")
    c.set_defaults(fn=cmd_check)
    g = sub.add_parser("generate", help="generate reference and MyHDL models")
    g.add_argument("spec", nargs="*", help="spec files (default: specs/*.vspec)")
    g.add_argument("--check", action="store_true", help="fail if generated files are stale; write nothing")
    g.add_argument("--Werror", dest="werror", action="store_true", help="treat warnings as errors")
    g.add_argument("--out", default=str(DEFAULT_OUT), help="output root (default: generated/)")
    g.set_defaults(fn=cmd_generate)
    o = sub.add_parser("doc", help="write the Markdown and HTML reference of each spec, and an index")
    o.add_argument("spec", nargs="*", help="spec files (default: specs/*.vspec)")
    o.add_argument("-o", "--out", metavar="DIR", default=str(DEFAULT_DOCS), help="output folder (default: docs/)")
    o.add_argument("--check", action="store_true", help="fail if the docs are stale; write nothing")
    o.set_defaults(fn=cmd_doc)
    f = sub.add_parser("fmt", help="rewrite spec files in the canonical layout (white space only)")
    f.add_argument("spec", nargs="*", help="spec files (default: specs/*.vspec)")
    f.add_argument("--check", action="store_true", help="fail if a file would change; write nothing")
    f.set_defaults(fn=cmd_fmt)
    d = sub.add_parser("dump", help="print the elaborated IR as JSON")
    d.add_argument("spec")
    d.set_defaults(fn=cmd_dump)
    s = sub.add_parser("cosim", help="co-simulate the reference and the MyHDL model")
    s.add_argument("spec")
    s.add_argument("--walks", "--events", dest="walks", type=int, default=1000,
                   help="transactions to co-simulate: walks of a translation, events of a unit")
    s.add_argument("--mix", default=None, metavar="KIND=N,...",
                   help="a unit only: exactly N events of each event kind (items of the event's enum); "
                        "replaces --events")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--min-latency", type=int, default=1)
    s.add_argument("--max-latency", type=int, default=4)
    s.add_argument("--stall", type=int, default=20, help="percent of cycles the memory refuses a request")
    s.add_argument("--vcd-dir", default="cosim-vcd", help="where VCDs of mismatches go")
    s.add_argument("--out", default=str(DEFAULT_OUT), help="generated root (default: generated/)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=cmd_cosim)
    v = sub.add_parser("convert", help="convert a generated model to Verilog and/or VHDL")
    v.add_argument("spec")
    v.add_argument("--hdl", nargs="+", choices=["verilog", "vhdl"], default=["verilog", "vhdl"])
    v.add_argument("-o", "--output", default="hdl-out")
    v.add_argument("--out", default=str(DEFAULT_OUT), help="generated root (default: generated/)")
    v.add_argument("--compile", action="store_true", help="compile with iverilog / analyse with ghdl")
    v.set_defaults(fn=cmd_convert)
    x = sub.add_parser("explain", help="explain diagnostic codes (all codes when none is given)")
    x.add_argument("code", nargs="*", help="codes such as E0402 or W0103")
    x.set_defaults(fn=cmd_explain)
    b = sub.add_parser("bench", help="run the benchmark")
    b.add_argument("--quick", action="store_true")
    b.add_argument("--fuzz", type=int, default=0, metavar="N",
                   help="also feed N fuzz inputs through `check` (bench/fuzz.py runs it alone)")
    b.set_defaults(fn=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except Usage as exc:
        p.print_usage(sys.stderr)
        print(f"virtspec: error: {exc}", file=sys.stderr)
        return 2
    except SpecError as exc:  # found after the checks, while generating
        _report([exc.bag])
        return 1
    except StimulusError as exc:
        print(f"virtspec: cannot build stimulus for this spec: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
