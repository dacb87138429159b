"""Names and strings of a spec cannot put code into the generated Python, MyHDL, Verilog
or VHDL, through the real pipeline (compile_spec -> emit.render -> import and run ->
convert with codegen/generate/hdl.py -> iverilog / verilator / ghdl).

- Names: the grammar admits only identifiers, so `x; import os` is a syntax error. Every
  hostile identifier (keywords and reserved words of Python, Verilog, SystemVerilog and
  VHDL in any case, builtins, the names the generated code itself uses, dunders, the
  underscores VHDL forbids) in every kind of declaration is either refused with a clean
  diagnostic or generated code runs, cross-checks and compiles with it. The reason it
  can: generated code spells a spec name only behind a prefix that says its kind
  (k_, r_, a_, o_r_, wk_WALK_...), which no fixed identifier of the code shares
  (test_spec_names_appear_only_behind_a_prefix proves it on the rendered code), so
  keywords are escaped and nothing is shadowed; what prefixes cannot escape (VHDL's case
  blindness, names joined with '_') is refused as E0416.
- Strings: doc and cite strings never reach generated code; file names do (the `# spec:`
  comments, the header, the spec name taken from a file name) and are escaped to one
  printable line (view.comment_text). Each hostile payload carries a canary that would
  create a file if it ever ran as code.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import keyword
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

import pytest

from codegen import ir
from codegen.cli import main
from codegen.frontend import checks
from codegen.frontend.checks import WALK_RESULTS
from codegen.frontend.diagnostics import DiagnosticBag, SpecError
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim
from codegen.verify.harness import load_generated

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------- names

PYTHON = keyword.kwlist + keyword.softkwlist
BUILTINS = ["int", "len", "range", "bool", "dict", "zip", "hex", "print", "open", "exec", "eval", "object"]
DUNDERS = ["__import__", "__class__", "__init__", "__builtins__", "__name__"]
# names the generated code uses for itself (templates, view.py, unit_view.py, lower.py)
GENERATED = ["mem", "trace", "request", "self", "detail", "path", "fields", "rule", "status", "r", "e", "h", "u",
             "s", "i", "q0", "h0", "ps1_0", "lvl", "pend", "pending", "pa", "leaf_pa", "table", "addr", "kind",
             "hpa", "gpa", "outcome", "translate", "decide", "read", "write", "lookup", "MASK64", "SPEC",
             "NESTED_BASE", "ADDR_WIDTH", "S", "st", "clk", "rst", "start", "done", "fsm", "model", "ports",
             "instance", "intbv", "Signal", "ResetSignal", "always_seq", "block", "concat", "enum", "ok", "walked",
             "fault", "level", "i_addr", "m_valid", "o_status", "v_addr", "x_pa", "walk_top", "walker_top", "host",
             "w", "wk", "unit"]
VERILOG = ["module", "wire", "reg", "input", "output", "inout", "begin", "end", "assign", "always", "initial",
           "logic", "integer", "parameter", "function", "case", "posedge", "generate", "signed", "event"]
SYSTEMVERILOG = ["bit", "byte", "longint", "final", "package", "interface", "program", "property", "sequence",
                 "const", "static", "virtual", "void", "string", "struct", "typedef", "chandle", "this", "ref",
                 "do", "foreach", "inside", "unique", "priority", "bind", "extends", "local", "modport", "packed",
                 "rand", "s_always", "soft", "var", "checker", "let", "export", "new", "null", "super", "type"]
VHDL = ["entity", "architecture", "signal", "is", "in", "out", "process", "range", "downto", "to", "others",
        "next", "exit", "abs", "rem", "mod", "and", "or", "not", "xnor", "sll", "all", "body", "buffer",
        "component", "constant", "file", "generic", "label", "library", "loop", "map", "of", "port", "record",
        "register", "report", "select", "subtype", "then", "until", "variable", "wait", "when", "access", "vunit"]
CASED = ["Signal", "SIGNAL", "Entity", "BEGIN", "End", "Process", "MODULE", "Class", "NONE", "True", "None", "IF"]
UNDERSCORES = ["a__b", "x_", "_x", "_", "__", "a_", "__a", "a___b"]
HOSTILE = list(dict.fromkeys(PYTHON + BUILTINS + DUNDERS + GENERATED + VERILOG + SYSTEMVERILOG + VHDL + CASED
                             + UNDERSCORES))
# a few of each kind, for the places whose names reach no generated identifier
SAMPLE = list(dict.fromkeys(["class", "lambda", "None", "import", "yield", "match", "_", "int", "range",
                             "__import__", "mem", "trace", "self", "intbv", "Signal", "pend", "S", "module", "wire",
                             "begin", "logic", "final", "entity", "signal", "SIGNAL", "downto", "a__b", "x_", "_x",
                             "enum", "access", "event"]))
# the spec language's own words: where one cannot stand for a name it is a syntax error
# (E0100), and `access.X`, `event.X` always mean the access kinds and the event (E0301)
VSPEC_WORDS = set(re.findall(r'"([a-z_]+)"', (ROOT / "grammar" / "vspec.lark").read_text())) | {"event", "access"}
# not identifiers at all: the grammar must refuse them before anything else sees them
NOT_NAMES = ["x; import os", "os.system('id')", "x-y", "é", "a b", "x\"y", "x'y", "x\\y", "__import__('os')",
             "x}", "x{", "1x", "x#y"]

# Every spec below takes its names from `n` (slot -> list of names; single slots use the
# first). The defaults are distinct from every hostile name, ignoring case.
DEFAULTS = {
    # translation (also the regime a unit walks and the guest and host of a nested spec)
    "SPEC": ["tspec"], "PARAM": ["zmaxpa"], "ENUM": ["zkinds"], "ENUMITEM": ["zone"], "REG": ["zptbr"],
    "REGF": ["zmode"], "FMT": ["zpte"], "FLD": ["zty"], "REGIME": ["ztoy"], "INPUT": ["zva"], "ACCESS": ["zwr"],
    "LEVEL_HI": ["ztop"], "LEVEL_LO": ["zbottom"], "FAULT": ["zinvalid"], "CHECK": ["zprot"], "ACC": ["zw"],
    "LET": ["zdenied"], "RECORD": ["zinfo"], "RECF": ["zcode"], "RECBITS": ["zbits"],
    # nested
    "NSPEC": ["nspec"], "ALIAS": ["zhost"], "NEST": ["znest"], "NRECORD": ["znpf"], "NRECF": ["zexitinfo"],
    # unit
    "USPEC": ["uspec"], "UALIAS": ["zt"], "UREG": ["zdevtab"], "UNIT": ["zio"], "EVF": ["zdev"],
    "STRUCT": ["zdte"], "SFLD": ["zmap"], "BITMAP": ["zbm"], "WALK": ["zwalk"], "ULET": ["zbad"],
    "URECORD": ["zresult"], "URECF": ["zout"], "EXIT": ["zinvdev"], "EBITS": ["zhi"],
}
TRANSLATION_SLOTS = ["SPEC", "PARAM", "ENUM", "ENUMITEM", "REG", "REGF", "FMT", "FLD", "REGIME", "INPUT", "ACCESS",
                     "LEVEL_HI", "LEVEL_LO", "FAULT", "CHECK", "ACC", "LET", "RECORD", "RECF", "RECBITS"]
NESTED_SLOTS = ["NSPEC", "ALIAS", "NEST", "NRECORD", "NRECF"]
UNIT_SLOTS = ["USPEC", "UALIAS", "UREG", "UNIT", "EVF", "STRUCT", "SFLD", "BITMAP", "WALK", "ULET", "URECORD",
              "URECF", "EXIT", "EBITS"]
# slots whose names end up inside identifiers of the generated code (the others only in
# comments, docstrings and string constants, or nowhere)
IN_IDENTIFIERS = {"REG", "ACCESS", "ACC", "RECF", "FAULT", "CHECK", "NRECF", "UREG", "EVF", "STRUCT", "BITMAP",
                  "WALK", "URECF"}
FULL_SWEEP = IN_IDENTIFIERS - {"UREG", "CHECK"}  # the same rules as REG and FAULT: the sample is enough


def translation_spec(n: dict[str, list[str]]) -> str:
    """A two-level walk (the README's toy) with every name taken from `n`. Slots with
    several names make several declarations: registers, access kinds, faults, checks,
    accumulators (every second one several bits wide) and record fields."""
    reg, regf, enum, fld, p = n["REG"][0], n["REGF"][0], n["ENUM"][0], n["FLD"][0], n["PARAM"][0]
    access, accs = n["ACCESS"], n["ACC"]
    out = [f"spec {n['SPEC'][0]};",
           f"param {p} = 30;",
            f"enum {enum} : 2 {{ {n['ENUMITEM'][0]} = 1; zztwo = 2; }}",
            f"register {reg} : 64 {{ zzbase [{p}-1:12]; {regf} [1:0]; }}"]
    out += [f"register {r} : 64 {{ zzbase [{p}-1:12]; }}" for r in n["REG"][1:]]
    for name, hi in ((n["FMT"][0], f"{p}-1:12"), ("zzbig", f"{p}-1:21")):
        rsvd = "reserved [20:12]; " if name == "zzbig" else ""
        out.append(f"format {name} : 64 {{ zzv [0]; zzwb [1]; zzl [2]; {fld} [4:3] enum {enum}; zza [5]; "
                   f"zzaddr [{hi}]; {rsvd}reserved [63:{p}]; }}")
    out += [f"regime {n['REGIME'][0]} {{",
            f"    input {n['INPUT'][0]} : 30;",
            f"    access {', '.join(access)};",
            f"    context {', '.join(n['REG'])};",
            "    entry 8;",
            f"    root {reg}.zzbase << 12;",
            "    start level 2;",
            "    pointer zzaddr;",
            "    frame zzaddr;",
            f"    level 2 {n['LEVEL_HI'][0]} {{ index {n['INPUT'][0]}[29:21]; table {n['FMT'][0]}; "
            "leaf zzbig when zzl page 2M; }",
            f"    level 1 {n['LEVEL_LO'][0]} {{ index {n['INPUT'][0]}[20:12]; leaf {n['FMT'][0]} page 4K; }}"]
    out += [f"    fault {f} when !zzv;" if i == 0 else f"    fault {f} when zzwb && {fld} == {1 + i % 3};"
            for i, f in enumerate(n["FAULT"])]
    out.append("    fault zzreserved when rsvd;")
    for i, a in enumerate(accs):
        out.append(f"    accumulate {a} = 1 then {a} && zzwb;" if i % 2 == 0 else
                   f"    accumulate {a} = {i} then ({a} + zzwb) & 0xff;")
    out.append(f"    let {n['LET'][0]} = access.{access[0]} && !{accs[0]} && {reg}.{regf} != {enum}.{n['ENUMITEM'][0]};")
    out.append(f"    check {n['CHECK'][0]} when {n['LET'][0]};")
    flags = accs[::2]  # the 1-bit accumulators: each check must be reachable
    out += [f"    check {c} when access.{access[i % len(access)]} && !{flags[i % len(flags)]};"
            for i, c in enumerate(n["CHECK"][1:], 1)]
    out.append("    set zza at each level;")
    values = ["fault", *(accs[i % len(accs)] for i in range(1, len(n["RECF"])))]
    fields = [f"{f} : 8 = {v};" if i % 3 != 2 else f"{f} : 8 = access.{access[i % len(access)]};"
              for i, (f, v) in enumerate(zip(n["RECF"], values))]
    fields.append(f"zzflags : 8 {{ {n['RECBITS'][0]} [1:0] = leaf.{fld}; }}")
    out.append(f"    record {n['RECORD'][0]} {{ {' '.join(fields)} }}")
    out.append("}")
    return "\n".join(out) + "\n"


def nested_spec(n: dict[str, list[str]]) -> str:
    """Guest and host walks of the regime in host.vspec (translation_spec, as AMD's
    nested paging walks x86 long mode twice): the host's access kinds, context
    registers and record fields become the nested model's hk_, hb_ and h_r_ signals."""
    alias = n["ALIAS"][0]
    regime = f"{alias}.{n['REGIME'][0]}"
    binds = " ".join(f"{r} = zzhcr.zzbase << 12;" for r in n["REG"])
    table = " ".join(f"{a} = 1;" for a in n["ACCESS"])
    final = " ".join(f"{a} = access.{a};" for a in n["ACCESS"])
    fields = " ".join(f"{f} : 8 = host.{n['RECF'][i % len(n['RECF'])]};" if i % 2 == 0 else f"{f} : 1 = on_table;"
                      for i, f in enumerate(n["NRECF"]))
    return (f"spec {n['NSPEC'][0]};\nimport \"host.vspec\" as {alias};\n"
            "register zzhcr : 64 { zzbase [39:12]; }\n"
            f"nested {n['NEST'][0]} {{\n    guest {regime};\n    host {regime} with {{ {binds} }};\n"
            f"    table access {{ {table} }}\n    final access {{ {final} }}\n"
            f"    record {n['NRECORD'][0]} {{ {fields} zzfinal : 1 = on_final; }}\n}}\n")


def unit_spec(n: dict[str, list[str]]) -> str:
    """A decision unit (tests/data/toy_walk_unit.vspec grown): event fields, structures
    with fields, bitmaps, walks of the regime imported from walked.vspec
    (translation_spec with the same names), a record stored back, exit rules."""
    alias, reg, evk = n["UALIAS"][0], n["UREG"][0], n["EVF"][0]
    regime = f"{alias}.{n['REGIME'][0]}"
    s0, w0 = n["STRUCT"][0], n["WALK"][0]
    out = [f"spec {n['USPEC'][0]};", f"import \"walked.vspec\" as {alias};",
           f"register {reg} : 64 {{ zzbase [39:12]; }}",
           "format zzdte_bits : 64 { zzv [0]; zztv [1]; zzroot [39:12]; }",
           f"unit {n['UNIT'][0]} {{",
           "    event { " + " ".join(f"{e} : {8 if i else 2};" for i, e in enumerate(n["EVF"]))
           + " zzaddr : 30; zzwrite : 1; }",
           f"    context {reg};"]
    evf = n["EVF"][-1] if len(n["EVF"]) > 1 else evk
    for i, s in enumerate(n["STRUCT"]):
        fields = " ".join(f"{f} at {16 + 8 * j} : 64;" for j, f in enumerate(n["SFLD"]))
        out.append(f"    structure {s} : {16 + 8 * len(n['SFLD'])} at ({reg}.zzbase << 12) + event.{evf} * 256 + {i * 4096} "
                   f"{{ zzword at 0 : zzdte_bits; zzlog at 8 : 64; {fields} }}")
    for i, b in enumerate(n["BITMAP"]):
        out.append(f"    bitmap {b} : 2 at {n['STRUCT'][i % len(n['STRUCT'])]}.{n['SFLD'][i % len(n['SFLD'])]} "
                   "index event.zzaddr span 2;")
    access = " ".join(f"{a} = event.zzwrite;" for a in n["ACCESS"])
    ctx = " ".join(f"{r} = {s0}.zzword.zzroot << 12;" if i == 0 else f"{r} = {i};" for i, r in enumerate(n["REG"]))
    for i, w in enumerate(n["WALK"]):
        out.append(f"    walk {w} : {regime} input event.zzaddr + {i} access {{ {access} }} with {{ {ctx} }} "
                   f"when event.{evk} == 1 && {s0}.zzword.zzv && {s0}.zzword.zztv;")
    out.append(f"    let {n['ULET'][0]} = {w0}.walked && !{w0}.ok;")
    rec = " ".join(f"{f} : 8;" for f in n["URECF"][1:])
    out.append(f"    record {n['URECORD'][0]} {{ zzpa : 64; {n['URECF'][0]} : 8 store {s0}.zzlog when {n['ULET'][0]}; {rec} }}")
    exits = [f"exit {n['EXIT'][0]} when !{s0}.zzword.zzv {{ {n['URECF'][0]} = 1; }}",
             f"exit zzpass when !{s0}.zzword.zztv {{ zzpa = event.zzaddr; }}"]
    exits += [f"exit {x} when {w}.ok {{ zzpa = {w}.pa | {n['BITMAP'][i % len(n['BITMAP'])]}; "
              + " ".join(f"{f} = {w}.{n['RECF'][j % len(n['RECF'])]};" for j, f in enumerate(n["URECF"][1:]))
              + " }" for i, (x, w) in enumerate(zip(n["EXIT"][1:] + [f"zzdone{k}" for k in range(len(n["WALK"]))], n["WALK"]))]
    exits.append(f"exit zzfault when {w0}.walked {{ {n['URECF'][0]} {{ {n['EBITS'][0]} [7:2] = {w0}.fault; "
                 f"zzlow [1:0] = {w0}.{n['FAULT'][0]}; }} }}")
    out += [f"    {x}" for x in exits]
    out.append("}")
    return "\n".join(out) + "\n"


KINDS = {"translation": TRANSLATION_SLOTS, "nested": TRANSLATION_SLOTS + NESTED_SLOTS,
         "unit": TRANSLATION_SLOTS + UNIT_SLOTS}


def write_spec(directory: Path, kind: str, n: dict[str, list[str]]) -> Path:
    """Write the spec of `kind` (and the file it imports) into `directory`; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    names = {**DEFAULTS, **n}
    if kind == "translation":
        main_text = translation_spec(names)
    elif kind == "nested":
        (directory / "host.vspec").write_text(translation_spec(names))
        main_text = nested_spec(names)
    else:
        (directory / "walked.vspec").write_text(translation_spec(names))
        main_text = unit_spec(names)
    path = directory / f"{kind}.vspec"
    path.write_text(main_text)
    return path


def try_compile(path: Path) -> tuple[ir.Spec | None, DiagnosticBag]:
    bag = DiagnosticBag()
    try:
        return compile_spec(path, bag), bag
    except SpecError:
        return None, bag


def test_defaults_are_not_hostile_and_the_specs_are_valid(tmp_path):
    low = {x.lower() for x in HOSTILE}
    assert not {v[0].lower() for v in DEFAULTS.values()} & low
    for kind in KINDS:
        spec, bag = try_compile(write_spec(tmp_path / kind, kind, {}))
        assert spec is not None, bag.render()


# ------------------------------------------------------------ names that are not names

@pytest.mark.parametrize("slot", ["SPEC", "REG", "FLD", "ACC", "RECF"])
def test_code_in_a_name_is_a_syntax_error(slot, tmp_path):
    """The grammar admits identifiers only: `x; import os` and friends are refused with a
    clean E01xx diagnostic and exit status 1, never a traceback."""
    for i, bad in enumerate(NOT_NAMES):
        path = write_spec(tmp_path / f"s{i}", "translation", {slot: [bad]})
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(["check", str(path)])
        text = err.getvalue()
        assert status == 1, (bad, text)
        assert "Traceback" not in text
        assert re.search(r"error\[E01\d\d\]", text), (bad, text)


def test_code_in_a_name_is_refused_by_the_command(tmp_path):
    """The same through the installed entry point, in a fresh process."""
    path = write_spec(tmp_path, "translation", {"FLD": ["x; import os"]})
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "check", str(path)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "error[E0100]" in r.stderr, r.stderr


# ------------------------------------------------------------ hostile identifiers

SLOT_KINDS = [(kind, slot) for kind, slots in (("translation", TRANSLATION_SLOTS), ("nested", NESTED_SLOTS),
                                               ("unit", UNIT_SLOTS)) for slot in slots]


@functools.lru_cache(maxsize=None)
def sweep(kind: str, slot: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Compile the spec of `kind` once per hostile name in `slot`: (accepted names,
    (name, diagnostics) of the refused ones)."""
    accepted, refused = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(HOSTILE if slot in FULL_SWEEP else SAMPLE):
            spec, bag = try_compile(write_spec(Path(tmp) / str(i), kind, {slot: [name]}))
            if spec is not None:
                accepted.append(name)
            else:
                refused.append((name, bag.render()))
    return tuple(accepted), tuple(refused)


def rules_out(name: str) -> str | None:
    """What makes `name` unusable whatever its place: not a VHDL identifier."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", name) or "__" in name or name.endswith("_"):
        return "VHDL"
    return None


# The sweeps are cached per process (a minute of compiling in all): under pytest-xdist
# the tests that read them run on one worker (`--dist loadgroup`, pyproject.toml) instead
# of each worker compiling them again.
SWEEP_GROUP = pytest.mark.xdist_group("injection_sweep")


@SWEEP_GROUP
@pytest.mark.parametrize("kind,slot", SLOT_KINDS, ids=[f"{k}-{s}" for k, s in SLOT_KINDS])
def test_hostile_name_is_refused_cleanly_or_accepted(kind, slot):
    """Each hostile name in each place: refused with E0202 (a keyword of a named target,
    or not a VHDL identifier) or E0416 naming it, or accepted. Names that are not VHDL
    identifiers are refused wherever the name reaches a generated identifier."""
    accepted, refused = sweep(kind, slot)
    for name, text in refused:
        assert "Traceback" not in text
        codes = set(re.findall(r"error\[(E\d{4})\]", text))
        assert codes and codes <= {"E0202", "E0416"} | ({"E0100", "E0301"} if name in VSPEC_WORDS else set()), (name, text)
        assert (f"'{name}'" if name not in VSPEC_WORDS else name) in text, (name, text)
        if "E0202" in codes:
            assert re.search(r"is a (Python|Verilog|VHDL) keyword|must start with a letter|must not contain '__'",
                             text), text
    if slot in IN_IDENTIFIERS:
        assert not [x for x in accepted if rules_out(x)], "names that are not VHDL identifiers got through"


def render_and_parse(spec: ir.Spec) -> dict[str, str]:
    """The generated files of `spec`, each checked to be valid Python."""
    files = emit.render(spec)
    for name, text in files.items():
        ast.parse(text, filename=name)
    return files


def run_everything(spec: ir.Spec, out: Path, transactions: int = 40) -> None:
    """Generate, import and co-simulate (reference against model), then convert the
    model to Verilog (Icarus, Verilator) and VHDL (GHDL)."""
    emit.write(render_and_parse(spec), out)
    report = cosim.run(spec, out, transactions, seed=3)
    assert report.mismatches == 0, report.as_json()
    _, model = load_generated(out)
    compile_hdl(model, out / "hdl")


def compile_hdl(model, out: Path) -> dict[str, list[Path]]:
    """Convert to Verilog and VHDL; compile with each of Icarus, Verilator and GHDL that
    is installed (test_hdl.py does the same; CI installs them all)."""
    files = {"Verilog": hdl.convert(model, "Verilog", out / "v"), "VHDL": hdl.convert(model, "VHDL", out / "vhdl")}
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files["Verilog"])
        assert ok, messages
    if hdl.verilator():
        ok, messages = hdl.lint_verilog(files["Verilog"])
        assert ok, messages
    if shutil.which("ghdl"):
        ok, messages = hdl.analyse_vhdl(files["VHDL"])
        assert ok, messages
    return files


MULTI = {"REG": 3, "ACCESS": 6, "ACC": 8, "RECF": 8, "FAULT": 4, "CHECK": 6, "NRECF": 8, "EVF": 6, "STRUCT": 3,
         "SFLD": 6, "BITMAP": 3, "WALK": 3, "URECF": 6, "EXIT": 4}


def packed(kind: str, round_: int) -> dict[str, list[str]]:
    """Names for one pipeline run: each slot takes the next accepted hostile names (as
    many as MULTI allows), no name twice in the spec even ignoring case (declarations of
    different kinds share namespaces), and not the spec language's own words nor, in a
    unit, the names of walk results (the sweep shows how those are refused)."""
    n, used = {}, set(WALK_RESULTS) if kind == "unit" else set()
    used |= VSPEC_WORDS
    for slot in sorted(KINDS[kind], key=lambda s: s in FULL_SWEEP):  # the small pools first
        accepted = sweep("translation" if slot in TRANSLATION_SLOTS else kind, slot)[0]
        want = MULTI.get(slot, 1)
        start = (round_ * want * 3) % max(1, len(accepted))
        chosen = []
        for x in accepted[start:] + accepted[:start]:
            if len(chosen) < want and x.lower() not in used:
                chosen.append(x)
                used.add(x.lower())
        n[slot] = chosen or DEFAULTS[slot]
    return n


ROUNDS = {"translation": 4, "nested": 2, "unit": 2}
RUNS = [(kind, r) for kind, rounds in ROUNDS.items() for r in range(rounds)]


@SWEEP_GROUP
@pytest.mark.parametrize("kind,round_", RUNS, ids=[f"{k}-{r}" for k, r in RUNS])
def test_accepted_hostile_names_generate_run_and_compile(kind, round_, tmp_path):
    """Specs made of accepted hostile names, several per declaration kind: the generated
    Python parses and imports, the reference and the model agree, and the model converts
    to Verilog and VHDL that Icarus, Verilator and GHDL accept."""
    n = packed(kind, round_)
    spec, bag = try_compile(write_spec(tmp_path / "spec", kind, n))
    assert spec is not None, bag.render()
    run_everything(spec, tmp_path / f"out_{kind}_{round_}")


# ------------------------------------------------------------ prefixes escape every name

# a spec name in the sentinel specs: a sentinel, or a fixed name of the spec builders (zz...)
SENTINEL = re.compile(r"Qq\d\dQ|zz[a-z]+(?:_bits|\d+)?")
# reserved words of Verilog, SystemVerilog and VHDL: none may begin with a prefix of spec names
HDL_KEYWORDS = set(VERILOG + SYSTEMVERILOG + VHDL) | checks.VERILOG_KEYWORDS | checks.VHDL_KEYWORDS


def sentinel_names(kind: str) -> dict[str, list[str]]:
    """A distinct sentinel for every slot of `kind` (two for several-name slots)."""
    out, k = {}, 0
    for slot in KINDS[kind]:
        out[slot] = []
        for _ in range(2 if slot in MULTI else 1):
            k += 1
            out[slot].append(f"Qq{k:02d}Q")
    return out


def python_scopes(text: str) -> list[tuple[set[str], set[str]]]:
    """(identifiers in the scope, identifiers it can see from the module) per top-level
    function of generated Python; identifiers are names, arguments and functions."""
    tree = ast.parse(text)
    module = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
              if isinstance(t, ast.Name)}
    module |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    module |= {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom) for a in node.names}
    scopes = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names = set()
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name):
                    names.add(sub.id)
                elif isinstance(sub, ast.arg):
                    names.add(sub.arg)
                elif isinstance(sub, ast.FunctionDef):
                    names.add(sub.name)
            scopes.append((names, module))
    scopes.append((module, set()))
    return scopes


def shape(ident: str) -> re.Pattern:
    """The identifiers a spec-derived `ident` could become with other spec names."""
    return re.compile("^" + SENTINEL.sub("[A-Za-z0-9_]+", re.escape(ident).replace(r"\_", "_")) + "$", re.I)


@pytest.mark.parametrize("kind", list(KINDS))
def test_spec_names_appear_only_behind_a_prefix(kind, tmp_path):
    """With a sentinel name in every place: in the generated Python a spec name is never a
    whole identifier, only part of one behind a prefix (k_NAME, wk_WALK_NAME...) that no
    fixed identifier of the same scope shares, so no name can be a keyword of Python or
    shadow a builtin, a helper or a local of the generated code; elsewhere it is in a
    comment or a string. In the Verilog and VHDL likewise, and no reserved word of any
    HDL begins with one of those prefixes (so the prefix escapes every keyword)."""
    spec, bag = try_compile(write_spec(tmp_path / "spec", kind, sentinel_names(kind)))
    assert spec is not None, bag.render()
    files = render_and_parse(spec)
    prefixes = set()
    for name, text in files.items():
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and SENTINEL.search(tok.string):
                assert not SENTINEL.fullmatch(tok.string), f"{name}: a bare spec name {tok.string!r}: {tok.line}"
                prefixes.add(tok.string[:SENTINEL.search(tok.string).start()])
        for names, visible in python_scopes(text):
            derived = {x for x in names if SENTINEL.search(x)}
            fixed = {x for x in names | visible if not SENTINEL.search(x)} | set(dir(builtins))
            for ident in derived:
                clash = [f for f in fixed if shape(ident).match(f)]
                assert not clash, f"{name}: spec name {ident!r} may become {clash} of the generated code"
    assert "" not in prefixes
    out = tmp_path / "out"
    emit.write(files, out)
    _, model = load_generated(out)
    for lang, paths in compile_hdl(model, tmp_path / "hdl").items():
        marker = "//" if lang == "Verilog" else "--"
        for path in paths:
            for line in path.read_text().splitlines():
                code = line.split(marker, 1)[0]
                for ident in re.findall(r"[A-Za-z_][A-Za-z0-9_$]*", code):
                    if SENTINEL.search(ident):
                        assert not SENTINEL.fullmatch(ident), f"{path.name}: a bare spec name: {line}"
                        prefixes.add(ident[:SENTINEL.search(ident).start()])
    for p in prefixes:
        assert not [k for k in HDL_KEYWORDS if k.lower().startswith(p.lower())], p


def test_walk_identifiers_agree_with_the_templates(tmp_path):
    """checks.walk_identifiers (what E0416 compares between walks) lists every
    identifier the generated unit code makes from a walk's name, and those it lists for
    the Python code are there."""
    n = sentinel_names("unit")
    spec, bag = try_compile(write_spec(tmp_path / "spec", "unit", n))
    assert spec is not None, bag.render()
    files = render_and_parse(spec)
    out = tmp_path / "out"
    emit.write(files, out)
    _, model = load_generated(out)
    hdl_files = compile_hdl(model, tmp_path / "hdl")
    python = {tok.string for text in files.values() for tok in tokenize.generate_tokens(io.StringIO(text).readline)
              if tok.type == tokenize.NAME}
    verilog = {x for line in hdl_files["Verilog"][0].read_text().splitlines()
               for x in re.findall(r"[A-Za-z_][A-Za-z0-9_$]*", line.split("//", 1)[0])}
    for walk in spec.top.walks:
        predicted = {i for i, _ in checks.walk_identifiers(walk, spec.regime(walk.regime))}
        made = {x for x in python | verilog if walk.name in x}
        assert made <= predicted, made - predicted
        python_side = {i for i in predicted if not i.startswith(f"walker_unit_{walk.name}0_")}
        assert python_side <= python, python_side - python


# ------------------------------------------------------------ names that meet: E0416

def compile_errors(tmp_path: Path, kind: str, n: dict[str, list[str]]) -> str:
    spec, bag = try_compile(write_spec(tmp_path, kind, n))
    assert spec is None, f"compiled: {n}"
    text = bag.render()
    assert "Traceback" not in text
    return text


@pytest.mark.parametrize("slot,kind", [("RECF", "translation"), ("ACC", "translation"), ("ACCESS", "translation"),
                                       ("REG", "translation"), ("NRECF", "nested"), ("EVF", "unit"),
                                       ("URECF", "unit"), ("STRUCT", "unit"), ("WALK", "unit")])
def test_names_equal_but_for_case_are_refused(slot, kind, tmp_path):
    """VHDL ignores case: two record fields `code` and `CODE` would be one port."""
    text = compile_errors(tmp_path, kind, {slot: ["zcase", "ZCASE"]})
    assert "error[E0416]" in text and "differ only in case" in text and "'ZCASE'" in text, text


def test_walk_names_joined_with_their_members_are_refused(tmp_path):
    """Walk `a` reading fault kind `b_c` and walk `a_b` reading fault kind `c` would both
    be wk_a_b_c."""
    text = compile_errors(tmp_path, "unit", {"WALK": ["wa", "wa_wb"], "FAULT": ["wb_wc", "wc"]})
    assert "error[E0416]" in text and "'wk_wa_wb_wc'" in text, text


def test_record_field_named_like_a_walk_result_is_refused(tmp_path):
    """A record field `pa` of a walked regime would be read as WALK.pa, the output
    address: refused, as a fault kind of that name already is (E0201)."""
    text = compile_errors(tmp_path, "unit", {"RECF": ["pa"]})
    assert "error[E0416]" in text and "record field 'pa'" in text, text
    text = compile_errors(tmp_path / "b", "unit", {"RECF": ["Ok"]})
    assert "error[E0416]" in text, text


def test_accumulator_named_like_a_model_local_converts(tmp_path):
    """Accumulators become v_NAME in the model; the walker's own flags are not v_*, so an
    accumulator `pend` or `pa`, several bits wide, converts (it used to redeclare
    v_pend, which MyHDL refuses)."""
    spec, bag = try_compile(write_spec(tmp_path / "spec", "translation", {"ACC": ["zw", "pend", "pa", "pending"]}))
    assert spec is not None, bag.render()
    run_everything(spec, tmp_path / "out_acc")


def test_accumulator_pa_in_a_walk_with_page_sizes_from_the_entry(tmp_path):
    """With `page shift EXPR` the model computes the output address in a variable of its
    own (it was v_pa, the variable of an accumulator `pa`)."""
    text = (ROOT / "tests" / "data" / "toy_page_shift.vspec").read_text()
    text = text.replace("    record info {\n        code : 8 = fault;\n",
                        "    accumulate pa = 0 then (pa + P) & 0xff;\n    record info {\n        code : 8 = fault;\n"
                        "        n : 8 = pa;\n")
    assert "accumulate pa" in text
    path = tmp_path / "dyn.vspec"
    path.write_text(text)
    run_everything(compile_spec(path), tmp_path / "out_dyn")


# ------------------------------------------------------------ strings and file names

CANARY = "PWNED"


def payloads(tag: str) -> list[str]:
    """Spec-source string literals (escapes as the spec language writes them) that would
    each run code that creates a CANARY file, or break a comment, if pasted unescaped."""
    code = f"__import__('pathlib').Path(__file__).with_name('{CANARY}_{tag}').touch()"
    return [
        rf'\"\"\"\n{code}\n#',
        rf"'''\n{code}\n#",
        rf"\\\n{code}",
        rf"*/ {code} /*",
        rf"-- {code}",
        rf"\n{code}\n",
        rf"{{{{ '{CANARY}' ~ 'JINJA' }}}}",
        rf"{{% if true %}}{CANARY}IF{{% endif %}}",
        rf"# {code}",
        rf"\x00\\x00 {code}",
        rf"é∂ — 🎉 {code}",
        r"<script>alert(1)</script>",
        rf"\t\r{code}",
    ]


def with_strings(text: str, tag: str) -> str:
    """`text` with a doc string and a cite on every declaration that takes them, all of
    them hostile."""
    pool = iter(payloads(tag) * 40)

    def s() -> str:
        return f'"{next(pool)}"'

    subs = [
        (r"^spec (\w+);", lambda m: f"spec {m[1]} cite {s()} {s()};"),
        (r"^param (\w+) = (\d+);", lambda m: f"param {m[1]} = {m[2]} cite {s()} {s()};"),
        (r"^(enum|register|format) (\w+) : (\d+)( [^{]*)?\{",
         lambda m: f"{m[1]} {m[2]} : {m[3]}{m[4] or ' '}cite {s()} {s()} {{"),
        (r"^(regime|unit|nested) (\w+) \{", lambda m: f"{m[1]} {m[2]} cite {s()} {s()} {{"),
        (r"^(\s+)(fault|check) (\w+) when ([^;]+);", lambda m: f"{m[1]}{m[2]} {m[3]} when {m[4]} cite {s()} {s()};"),
        (r"^(\s+)record (\w+) \{", lambda m: f"{m[1]}record {m[2]} cite {s()} {s()} {{"),
        (r"^(\s+)level (\d) (\w+) \{", lambda m: f"{m[1]}level {m[2]} {m[3]} cite {s()} {s()} {{"),
        (r"^(\s+)accumulate ([^;]+);", lambda m: f"{m[1]}accumulate {m[2]} cite {s()} {s()};"),
        (r"^(\s+)exit (\w+) when ([^{]+)\{", lambda m: f"{m[1]}exit {m[2]} when {m[3]}cite {s()} {s()} {{"),
    ]
    out = []
    for line in text.splitlines():
        for pattern, repl in subs:
            line = re.sub(pattern, repl, line)
        # fields, enum items and record fields: a doc string before the ';'
        line = re.sub(r"(\b\w+ \[[^\]]+\]( enum \w+)?);", lambda m: f"{m[1]} {s()};", line)
        out.append(line)
    return "\n".join(out) + "\n"


def assert_inert(files: dict[str, str], bland: dict[str, str]) -> None:
    """Generated Python that parses to the same top-level definitions as `bland`, in
    which the canary appears only inside comments and string constants."""
    for name, text in files.items():
        tree, ref = ast.parse(text), ast.parse(bland[name])
        defs = [(type(n).__name__, getattr(n, "name", None)) for n in tree.body]
        assert defs == [(type(n).__name__, getattr(n, "name", None)) for n in ref.body], name
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if CANARY in tok.string:
                assert tok.type in (tokenize.COMMENT, tokenize.STRING), f"{name}: {tok}"
        assert f"{CANARY}JINJA" not in text and f"{CANARY}IF" not in text.replace(f"%}}{CANARY}IF{{%", "")


def assert_comments_only(paths: list[Path], lang: str) -> None:
    """The canary appears in the HDL only inside line comments."""
    marker = "//" if lang == "Verilog" else "--"
    for path in paths:
        for line in path.read_text().splitlines():
            if CANARY in line or "script" in line:
                assert marker in line and line.index(marker) < line.find(CANARY if CANARY in line else "script"), line


@pytest.mark.parametrize("kind", list(KINDS))
def test_hostile_doc_and_cite_strings_stay_inert(kind, tmp_path):
    """Doc and cite strings with quotes, backslashes, comment closers, newlines, jinja
    syntax, NUL escapes, non-ASCII and HTML: the spec compiles, the generated Python has
    the definitions it has without them and the strings nowhere as code, importing and
    co-simulating runs no canary, and the HDL converts and compiles."""
    plain = write_spec(tmp_path / "plain", kind, {})
    bland = emit.render(compile_spec(plain))
    hostile_dir = tmp_path / "hostile"
    path = write_spec(hostile_dir, kind, {})
    for p in hostile_dir.glob("*.vspec"):
        p.write_text(with_strings(p.read_text(), p.stem))
    assert sum(p.read_text().count(CANARY) for p in hostile_dir.glob("*.vspec")) > 20
    spec, bag = try_compile(path)
    assert spec is not None, bag.render()
    assert spec.cite and CANARY in spec.cite
    files = emit.render(spec)
    assert_inert(files, bland)
    out = tmp_path / f"out_str_{kind}"
    run_everything(spec, out)
    for lang, sub in (("Verilog", "v"), ("VHDL", "vhdl")):
        assert_comments_only(sorted((out / "hdl" / sub).iterdir()), lang)
    assert not [p for p in tmp_path.rglob(f"*{CANARY}*")], "a canary ran"


# file names reach the generated code: the spec's own (the header, and the spec name
# when it has no `spec` line) and every imported file's (the `# spec: path:line` comments)
FILE_NAMES = [
    'x"""\n' + f"__import__('pathlib').Path(__file__).with_name('{CANARY}_a').touch()" + "\n#",
    "x\n" + f"__import__('pathlib').Path(__file__).with_name('{CANARY}_b').touch()" + "\n#",
    "x\r" + f"__import__('pathlib').Path(__file__).with_name('{CANARY}_c').touch()",
    "x\x0b\x0c" + f"{CANARY}_d" + "\\",
    "x */ " + f"{CANARY}_e" + " /* -- {{ 'JINJA' ~ 'EVAL' }} {% if 1 %}",
    "é—ü\u2028" + f"{CANARY}_f" + "'''",
]


@pytest.mark.parametrize("index", range(len(FILE_NAMES)))
def test_hostile_file_names_stay_in_comments(index, tmp_path):
    """A spec file and an imported file with newlines, quotes, comment closers and jinja
    syntax in their names: the paths appear percent-encoded on one comment line."""
    bad = FILE_NAMES[index]
    d = tmp_path / "files"
    write_spec(d, "unit", {})
    walked = d / f"{bad}.vspec"  # a '/' in `bad` makes folders: a path may hold `*/`, a name cannot
    walked.parent.mkdir(parents=True, exist_ok=True)
    (d / "walked.vspec").rename(walked)
    literal = walked.name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    main_text = (d / "unit.vspec").read_text().replace('"walked.vspec"', f'"{literal}"')
    main_text = re.sub(r"^spec \w+;\n", "", main_text)  # the spec name comes from the file name
    spec_path = d / f"{bad}u.vspec"  # beside the imported file
    spec_path.write_text(main_text)
    spec, bag = try_compile(spec_path)
    assert spec is not None, bag.render()
    assert spec.name == f"{bad}u".rsplit("/", 1)[-1] and any(r.span.path.endswith(walked.name) for r in spec.regimes)
    files = emit.render(spec)
    for name, text in files.items():
        ast.parse(text)
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if CANARY in tok.string:
                assert tok.type in (tokenize.COMMENT, tokenize.STRING), f"{name}: {tok}"
        assert "JINJAEVAL" not in text
        header = text.splitlines()[1]
        assert header.startswith("# spec: ") and header.endswith("u.vspec")
    out = tmp_path / "out_files"
    emit.write(files, out)
    ref, model = load_generated(out)
    assert ref.SPEC == spec.name  # the string constant keeps the name exactly
    for lang, paths in compile_hdl(model, tmp_path / "hdl").items():
        assert_comments_only(paths, lang)
    assert not [p for p in tmp_path.rglob(f"{CANARY}_*")], "a canary ran"


@pytest.mark.parametrize("stem", ["..", "."])
def test_a_file_name_of_dots_stays_inside_the_output_folder(stem, tmp_path):
    """`...vspec` has the stem '..': its generated files go to <out>/__, not beside <out>."""
    d = tmp_path / "specs"
    path = write_spec(d, "translation", {})
    dots = path.rename(d / f"{stem}.vspec")
    out = tmp_path / "out" / "generated"
    out.mkdir(parents=True)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["generate", "--output", str(out), str(dots)]) == 0
    made = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*.py"))
    assert made and all(p.parts[0] == "generated" and len(p.parts) == 3 for p in made), made
