"""`virtspec convert`: the generated MyHDL model of a spec as Verilog and/or VHDL."""
from __future__ import annotations

import argparse
import sys

from codegen.cli._common import (
    Usage,
    add_model_option,
    compile_with_models,
    other_models_note,
    output_folder,
    project_of,
)

LANGUAGES = {"verilog": "Verilog", "vhdl": "VHDL"}


def add_parsers(sub, formatter) -> None:
    v = sub.add_parser("convert", help="convert a generated model to Verilog and/or VHDL", formatter_class=formatter,
                       description="Convert the MyHDL model of a spec to HDL, and optionally compile it "
                                   "(Icarus Verilog for Verilog, GHDL for VHDL).")
    v.add_argument("spec", help="the spec file")
    v.add_argument("--hdl", action="append", choices=sorted(LANGUAGES), default=None,
                   help="the language; repeat for both (default: both)")
    v.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="folder the HDL files are written to (default: hdl-out/ in the project root)")
    v.add_argument("--generated", metavar="DIR", default=None,
                   help="the folder of generated models to read (default: generated/ in the project root)")
    v.add_argument("--top", metavar="NAME", default=None,
                   help="name of the top-level HDL module (default: <spec>_<translation or unit>)")
    v.add_argument("--compile", action="store_true", help="compile with iverilog / analyse with ghdl")
    v.add_argument("--synth", action="store_true",
                   help="synthesize the Verilog with Yosys (no latches, no combinational loops) and print "
                        "its cells and flip-flops")
    add_model_option(v)
    v.set_defaults(fn=cmd_convert, parser=v)


def cmd_convert(args: argparse.Namespace) -> int:
    from codegen.generate import hdl
    from codegen.verify import harness
    problem = hdl.bad_top_name(args.top) if args.top is not None else None
    if problem:  # a usage error, found before the spec is compiled
        raise Usage(f"--top: expected a Verilog and VHDL identifier, not {args.top!r}: it {problem}")
    project = project_of(args)
    spec, directory = compile_with_models(args.spec, args.generated, project, args.model)
    if spec is None:
        return 1
    top = args.top or hdl.top_name(spec)
    _, model = harness.load_generated(directory)
    out = output_folder(args.output, project.root / "hdl-out")
    status = 0
    for lang in dict.fromkeys(args.hdl or ["verilog", "vhdl"]):
        try:
            files = hdl.convert(model, LANGUAGES[lang], out, name=top)
        except OSError as exc:
            raise Usage(f"cannot write HDL to '{out}': {exc.strerror or exc}") from None
        for f in files:
            print(f"wrote {f}")
        if args.compile:
            try:
                ok, msg = hdl.compile_verilog(files) if lang == "verilog" else hdl.analyse_vhdl(files)
            except hdl.ToolMissing as exc:
                print(f"{lang}: skipped: {exc}", file=sys.stderr)
                status = max(status, 2)
                continue
            print(f"{lang}: {'compiles' if ok else 'does not compile'}{': ' + msg if msg.strip() else ''}")
            status = max(status, 0 if ok else 1)
    if args.synth:
        status = max(status, _synth(hdl, model, top, out))
    if len(spec.models) > 1:
        print(other_models_note(spec.models, spec.top.name))
    return status


def _synth(hdl, model, top: str, out) -> int:
    """Synthesize the Verilog (converted again if only VHDL was asked for); 0 when it
    synthesizes with no latch and no loop, 1 when not, 2 when Yosys is missing."""
    files = [f for f in hdl.convert(model, "Verilog", out, name=top) if f.suffix == ".v"]
    try:
        ok, msg, cells, flops = hdl.synthesize(files, top)
    except hdl.ToolMissing as exc:
        print(f"synth: skipped: {exc}", file=sys.stderr)
        return 2
    if ok:
        print(f"synth: {top}: {cells} cells, {flops} flip-flops; no latches, no combinational loops")
        return 0
    print(f"synth: {top}: failed:\n{msg}")
    return 1
