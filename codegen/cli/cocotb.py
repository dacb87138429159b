"""`virtspec cocotb`: export a cocotb test package for the converted Verilog of a model."""
from __future__ import annotations

import argparse

from codegen.cli._common import (
    Usage,
    add_model_option,
    compile_with_models,
    other_models_note,
    output_folder,
    plural,
    project_of,
)
from codegen.cli.cosim import LATENCY_DEFAULTS, MAX_LATENCY, _timing


def add_parsers(sub, formatter) -> None:
    c = sub.add_parser("cocotb", help="export a cocotb test package for the converted Verilog model",
                       formatter_class=formatter,
                       description="Write a cocotb test package (converted Verilog, the generated reference, "
                                   "scenarios from virtspec's stimulus, a driver, a memory responder, a scoreboard "
                                   "and a runner for Icarus and Verilator) that runs without virtspec: "
                                   "`python3 DIR/run.py --sim icarus|verilator`.")
    c.add_argument("spec", help="the spec file")
    c.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="folder the package is written to (default: cocotb-out/ in the project root)")
    c.add_argument("--walks", "--events", dest="walks", type=int, default=200,
                   help="scenarios to write: walks of a translation, events of a unit")
    c.add_argument("--seed", type=int, default=1, help="seed of the random stimulus (default: 1)")
    c.add_argument("--min-latency", type=int, default=None,
                   help=f"fewest cycles the memory takes to answer, 1 to {MAX_LATENCY} (default: {LATENCY_DEFAULTS[0]})")
    c.add_argument("--max-latency", type=int, default=None,
                   help=f"most cycles the memory takes to answer, 1 to {MAX_LATENCY} (default: {LATENCY_DEFAULTS[1]})")
    c.add_argument("--stall", type=int, default=None,
                   help=f"percent of cycles the memory refuses a request, 0 to 90 (default: {LATENCY_DEFAULTS[2]})")
    c.add_argument("--generated", metavar="DIR", default=None,
                   help="the folder of generated models to read (default: generated/ in the project root)")
    c.add_argument("--top", metavar="NAME", default=None,
                   help="name of the top-level HDL module (default: <spec>_<translation or unit>)")
    add_model_option(c)
    c.set_defaults(fn=cmd_cocotb, parser=c)


def cmd_cocotb(args: argparse.Namespace) -> int:
    from codegen.export.cocotb import CocotbPackage
    from codegen.generate import hdl
    from codegen.verify import cosim, harness
    if args.walks < 1:
        raise Usage(f"expected --walks (or --events) of at least 1, not {args.walks}")
    problem = hdl.bad_top_name(args.top) if args.top is not None else None
    if problem:
        raise Usage(f"--top: expected a Verilog and VHDL identifier, not {args.top!r}: it {problem}")
    timing = _timing(args, LATENCY_DEFAULTS)
    project = project_of(args)
    spec, directory = compile_with_models(args.spec, args.generated, project, args.model)
    if spec is None:
        return 1
    ref, _ = harness.load_generated(directory)
    stim = cosim.Stimulus(spec, ref, args.walks, args.seed)
    scenarios = [stim.one(i) for i in range(args.walks)]
    out = output_folder(args.output, project.root / "cocotb-out")
    package = CocotbPackage(spec, directory, scenarios, timing, harness.cycle_limit(spec, timing),
                            args.top or hdl.top_name(spec))
    try:
        files = package.write(out)
    except OSError as exc:
        raise Usage(f"cannot write the package to '{out}': {exc.strerror or exc}") from None
    for f in files:
        print(f"wrote {f}")
    print(f"{plural(len(scenarios), 'scenario')}; run: python3 {out / 'run.py'} --sim icarus (or verilator)")
    if len(spec.models) > 1:
        print(other_models_note(spec.models, spec.top.name))
    return 0
