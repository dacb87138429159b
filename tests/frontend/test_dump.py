"""The dump (`virtspec dump`, codegen/frontend/dump.py, codegen/ir/dump.py): a public,
documented interface. Each property of the issue is pinned on a small spec written
here and on the shipped specs: imported declarations keep their namespace and no
parameter is listed twice, `reserved if PARAM` names its parameter, references name the
field they read, each `let` is listed once and named where used, a leaf whose page size
is read from the entry has its page-shift expression; every dump validates against the
published schema, and is the same bytes whatever the run and the working directory."""
import json
import shutil
import tempfile
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snippets import WALK, edit, write

from codegen import ir
from codegen.cli import main
from codegen.frontend.diagnostics import SpecError
from codegen.frontend.dump import build, dump_json
from codegen.frontend.elaborate.scope import RUNTIME_KINDS
from codegen.frontend.pipeline import compile_full, compile_spec
from codegen.ir import dump as d
from codegen.ir.expr import BINARY, UNARY

ROOT = Path(__file__).resolve().parents[2]
SPECS = {p.stem: p for p in sorted((ROOT / "specs").glob("*.vspec"))}
DATA = ROOT / "tests" / "data"


def dump_of(path: Path) -> d.Dump:
    return build(compile_full(path))


@pytest.fixture(scope="module")
def shipped() -> dict[str, str]:
    """The dump text of each shipped spec, made once."""
    return {name: dump_json(compile_full(path)) for name, path in SPECS.items()}


def nodes(x, op: str | None = None):
    """Every expression node (of `op`) under a dump model, or a list or dict of them."""
    if isinstance(x, d._Model):
        x = x.model_dump()
    stack, out = [x], []
    while stack:
        y = stack.pop()
        if isinstance(y, dict):
            if y.get("op") is not None and (op is None or y["op"] == op):
                out.append(y)
            stack.extend(y.values())
        elif isinstance(y, (list, tuple)):
            stack.extend(y)
    return out


def decl_names(dump: d.Dump) -> dict[str, list[str]]:
    return {t: [x.name for x in getattr(dump, t)] for t in ("params", "enums", "layouts", "regimes", "nested",
                                                           "units")}


# ---- imported declarations keep their namespace; no parameter twice
LIB = """\
spec lib;
param MBZ = 0;
param W = 40;
enum mt : 2 { UC = 0; WB = 2; }
register LCR3 : 64 { BASE [W-1:12]; }
format lpte : 64 {
    P [0];
    RW [1];
    MT [3:2] enum mt;
    ADDR [W-1:12];
    reserved [8] if MBZ;
}
regime lwalk {
    input va : 48;
    access write;
    context LCR3;
    entry 8;
    root LCR3.BASE << 12;
    start level 1;
    pointer ADDR;
    frame ADDR;
    level 1 pt { index va[20:12]; leaf lpte page 4K; }
    fault not_present when !P;
    record pf { code : 8 = fault; }
}
"""

MAIN = """\
spec top;
import "lib.vspec" as lib with { MBZ = 1; };
param P = 7;
register nCR3 : 64 { BASE [lib.W-1:12]; }
nested n {
    guest lib.lwalk;
    host lib.lwalk with { LCR3 = nCR3; };
    table access { write = 1; }
    final access { write = access.write; }
    record r { code : 8 = fault; }
}
"""


def test_imported_declarations_carry_the_namespace_of_their_import(tmp_path):
    write(tmp_path, LIB, "lib.vspec")
    dump = dump_of(write(tmp_path, MAIN, "top.vspec"))
    names = decl_names(dump)
    assert names["params"] == ["lib.MBZ", "lib.W", "P"]
    assert names["enums"] == ["lib.mt"]
    assert names["layouts"] == ["lib.LCR3", "lib.lpte", "nCR3"]
    assert names["regimes"] == ["lib.lwalk"] and names["nested"] == ["n"]
    assert dump.top == d.Top(kind="nested", name="n")
    (imp,) = dump.imports
    assert (imp.namespace, imp.path, imp.aliases) == ("lib", "lib.vspec", ("lib",))
    assert imp.params_set == (d.ParamValue(name="MBZ", value=1),)
    (walk,) = dump.regimes
    assert walk.context == ("lib.LCR3",) and walk.levels[0].leaf == "lib.lpte"
    assert dump.layouts[1].fields[2].enum == "lib.mt"
    (root,) = nodes(walk.root, "ref")
    assert (root["name"], root["field"], root["layouts"]) == ("lib.LCR3", "BASE", ("lib.LCR3",))
    n = dump.nested[0]
    assert (n.guest, n.host) == ("lib.lwalk", "lib.lwalk")
    assert [b.name for b in n.host_bindings] == ["lib.LCR3"]
    assert n.context == ("lib.LCR3", "nCR3")
    (host_root,) = nodes(n.host_bindings[0].value, "ref")
    assert (host_root["name"], host_root["field"]) == ("nCR3", None)
    assert [(x["kind"], x["name"]) for x in nodes(walk.faults[0].when, "ref")] == [("field", "P")]


def test_a_file_imported_with_two_parameter_sets_lists_each_parameter_once_per_instance(tmp_path):
    write(tmp_path, LIB, "lib.vspec")
    write(tmp_path, 'spec mid;\nimport "lib.vspec" as inner;\n', "mid.vspec")
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "lib.vspec" as a with { MBZ = 1; };\n'
                'import "lib.vspec" as b with { MBZ = 0; W = 48; };\nimport "lib.vspec" as c with { MBZ = 1; };\n'
                'import "mid.vspec" as m;\n')
    dump = dump_of(write(tmp_path, text))
    names = decl_names(dump)
    for table, found in names.items():
        assert len(found) == len(set(found)), (table, found)
    assert names["params"] == ["a.MBZ", "a.W", "b.MBZ", "b.W", "m.inner.MBZ", "m.inner.W"]
    assert [(p.name, p.value) for p in dump.params if p.name.endswith("W")] == [("a.W", 40), ("b.W", 48),
                                                                               ("m.inner.W", 40)]
    # `a` and `c` set the same values: one instance, imported under both names
    assert [(i.namespace, i.aliases) for i in dump.imports] == [("a", ("a", "c")), ("b", ("b",)), ("m", ("m",)),
                                                                  ("m.inner", ("m.inner",))]
    assert [(x.name, x.fields[0].hi) for x in dump.layouts if x.name.endswith("LCR3")] == [
        ("a.LCR3", 39), ("b.LCR3", 47), ("m.inner.LCR3", 39)]
    ranges = [(x.name, x.ranges[0].params, x.ranges[0].when.value) for x in dump.layouts if x.name.endswith("lpte")]
    assert ranges == [("a.lpte", ("a.MBZ",), 1), ("b.lpte", ("b.MBZ",), 0),
                      ("m.inner.lpte", ("m.inner.MBZ",), 0)]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_shipped_specs_list_every_declaration_once(shipped, name):
    dump = d.Dump.model_validate_json(shipped[name])
    for table, found in decl_names(dump).items():
        assert len(found) == len(set(found)), (table, found)


def test_amd_npt_and_intel_ept_name_what_they_import_from_x86_64_paging(shipped):
    for name in ("amd_npt", "intel_ept"):
        dump = d.Dump.model_validate_json(shipped[name])
        own = {"amd_npt": {"nCR3", "HCR4", "HEFER"}, "intel_ept": set()}[name]
        imported = [x.name for x in dump.layouts if x.span.path.endswith("x86_64_paging.vspec")]
        assert imported and all(n.startswith("x86.") for n in imported), imported
        others = {x.name for x in dump.layouts if not x.span.path.endswith((f"{name}.vspec", "x86_64_paging.vspec"))}
        assert others == {"amd_npt": set(), "intel_ept": {"vx.vmx_exit_reason"}}[name]
        assert own <= {x.name for x in dump.layouts}
        assert [x.name for x in dump.regimes if x.span.path.endswith("x86_64_paging.vspec")] == [
            "x86.legacy32", "x86.long_mode"]
        assert (dump.nested[0].guest, dump.imports[0].namespace) == ("x86.long_mode", "x86")
    ept = d.Dump.model_validate_json(shipped["intel_ept"])
    params = [p.name for p in ept.params]
    # intel_ept and x86_64_paging both declare MAXPHYADDR and PAGE1GB: two parameters, two names
    assert {"MAXPHYADDR", "x86.MAXPHYADDR", "PAGE1GB", "x86.PAGE1GB"} <= set(params)
    assert len(params) == len(set(params))
    # the exit reason of both records is the shared VMX enum, named with its namespace
    assert [x.name for x in ept.enums] == ["vx.vmx_exit", "ept_memtype"]
    ept_regime = next(r for r in ept.regimes if r.name == "ept")
    assert [f.enum for f in ept_regime.record.fields] == ["vx.vmx_exit", None, None]
    assert ept.nested[0].record.fields[0].enum == "vx.vmx_exit"
    npt = d.Dump.model_validate_json(shipped["amd_npt"])
    assert npt.imports[0].params_set == (d.ParamValue(name="PML4E_PML5E_BIT8_MBZ", value=1),)
    assert npt.nested[0].host == "x86.long_mode"


# ---- pointer and frame maps: every term, and a leaf's own frame map
def test_pointer_and_frame_maps_are_in_the_dump():
    (walk,) = dump_of(DATA / "toy_frame_terms.vspec").regimes
    assert [(t.field, t.shift) for t in walk.pointer] == [("PPN", 12)]
    assert [(t.field, t.shift) for t in walk.frame] == [("PPN", 12)]
    own = {lv.name: [(t.field, t.shift) for t in lv.frame] for lv in walk.levels}
    assert own == {"top": [], "mid": [("ADDR", None), ("ADDR_HI", 32)], "low": []}


# ---- a fault `at leaf FORMAT` names its format (issue 14 item 7)
def test_a_per_format_fault_names_its_format_in_the_dump():
    (walk,) = dump_of(DATA / "toy_format_fault.vspec").regimes
    assert [(r.name, r.where, r.format) for r in walk.faults] == [
        ("invalid", "", None), ("limited", "table", "dir"), ("misaligned", "leaf", "big"), ("reserved", "", None)]


# ---- `reserved if PARAM` keeps its parameter
def test_reserved_if_a_parameter_names_the_parameter(tmp_path):
    text = edit(WALK, "spec t;\n", "spec t;\nparam BIG = 1;\nparam OLD = 0;\n",
                "    PS [7];\n", "    PS [7] reserved if !BIG;\n    reserved [11:9] if OLD;\n",
                "    D [6];\n", "    D [6] reserved if OLD || BIG && CR3.BASE[0];\n")
    dump = dump_of(write(tmp_path, text))
    pde = next(x for x in dump.layouts if x.name == "pde")
    ps = next(f for f in pde.fields if f.name == "PS")
    assert ps.params == ("BIG",)
    # folded to 0 in the IR (1-GByte pages exist), and said so here with what it was folded from
    assert ps.reserved_if.op == "num" and ps.reserved_if.kind == "folded" and ps.reserved_if.value == 0
    assert ps.reserved_if.folded.op == "!"
    assert ps.reserved_if.folded.args[0].kind == "param" and ps.reserved_if.folded.args[0].name == "BIG"
    (rng,) = pde.ranges
    assert rng.params == ("OLD",) and (rng.when.kind, rng.when.name, rng.when.value) == ("param", "OLD", 0)
    pte = next(x for x in dump.layouts if x.name == "pte")
    dirty = next(f for f in pte.fields if f.name == "D")
    assert dirty.params == ("OLD", "BIG")
    assert all(f.params == () for f in pte.fields if f.name != "D")


def test_shipped_reserved_if_ranges_carry_their_parameter(shipped):
    ept = d.Dump.model_validate_json(shipped["intel_ept"])
    pdpte = next(x for x in ept.layouts if x.name == "ept_pdpte")
    assert next(f for f in pdpte.fields if f.name == "PS").params == ("PAGE1GB",)
    npt = d.Dump.model_validate_json(shipped["amd_npt"])
    pml4e = next(x for x in npt.layouts if x.name == "x86.pml4e")
    assert [r.params for r in pml4e.ranges if r.when is not None] == [("x86.PML4E_PML5E_BIT8_MBZ",)]
    assert next(f for f in next(x for x in npt.layouts if x.name == "x86.pdpte").fields
                if f.name == "PS").params == ("x86.PAGE1GB",)
    vtd = d.Dump.model_validate_json(shipped["intel_vtd"])
    conditional = {(x.name, f.name): f.params for x in vtd.layouts for f in x.fields if f.reserved_if is not None}
    # only the first-level entries' XD is reserved on a context register (the PASID entry's
    # NXE), with no parameter
    assert conditional and {key for key, ps in conditional.items() if not ps} == {
        (layout, f) for layout, f in conditional if layout.startswith("fl_") and f == "XD"}, conditional
    assert {p for ps in conditional.values() for p in ps} >= {"SLLPS1G", "SLLPS2M", "SC", "DT"}


# ---- references name the field they read
def test_references_name_the_field_and_its_layout(tmp_path):
    dump = dump_of(write(tmp_path, edit(WALK, "fault not_present when !P;",
                                        "fault not_present when !P;\n    check denied when access.write && !leaf.RW;")))
    (walk,) = dump.regimes
    (p,) = nodes(walk.faults[0].when, "ref")
    assert (p["kind"], p["field"], p["layouts"]) == ("field", "P", ("pde", "pte"))
    rw = [x for x in nodes(walk.checks[0].when, "ref") if x["kind"] == "leaf"]
    assert [(x["field"], x["layouts"]) for x in rw] == [("RW", ("pte",))]
    (root,) = nodes(walk.root, "ref")
    assert (root["name"], root["field"], root["layouts"], root["lo"], root["width"]) == ("CR3", "BASE", ("CR3",), 12,
                                                                                          36)


def test_structure_field_references_name_the_field_of_their_format():
    dump = dump_of(DATA / "toy_unit.vspec")
    (unit,) = dump.units
    refs = nodes(unit.bitmaps[0].when, "ref")
    assert [(r["name"], r["field"], r["layouts"]) for r in refs if r["kind"] == "struct"] == [
        ("ctl.flags", "io", ("flagbits",))]
    halt = next(x for x in unit.exits if x.name == "halt")
    whole = [r for r in nodes(halt.when, "ref") if r["kind"] == "struct"]
    assert [(r["name"], r["field"], r["layouts"]) for r in whole] == [("ctl.flags", None, ("flagbits",))]
    io = [n for n in nodes(unit.bitmaps[0].when, "num") if n["kind"] == "enum"]
    assert [n["name"] for n in io] == ["ev_kind.IO"]
    assert unit.record.fields[0].store == d.StoreTarget(structure="ctl", field="code")


def test_shipped_structure_references_name_their_field(shipped):
    iommu = d.Dump.model_validate_json(shipped["amd_iommu"])
    mode = next(x for x in iommu.units[0].lets if x.name == "mode")
    assert (mode.value.kind, mode.value.name, mode.value.field, mode.value.layouts) == (
        "struct", "dte.b1", "Mode", ("dte_byte1",))
    for name, text in shipped.items():
        for r in nodes(json.loads(text), "ref"):
            if r["kind"] in ("field", "leaf"):
                assert r["field"] == r["name"] and r["layouts"], (name, r)
            if r["kind"] == "ctx":
                assert r["layouts"] == [r["name"]], (name, r)


# ---- each `let` once, named where used
LETS = edit(WALK, "    fault not_present when !P;\n", """\
    let np = !P;
    let gone = np && !RW;
    let two = 2;
    let unused = RW;
    fault not_present when np;
    fault write_gone when gone && access.write;
    fault odd when level == two || level == two + 1;
""")


def test_a_let_is_listed_once_and_named_where_used(tmp_path):
    path = write(tmp_path, LETS)
    (walk,) = dump_of(path).regimes
    lets = {x.name: x for x in walk.lets}
    assert list(lets) == ["np", "gone", "two", "unused"]
    assert lets["np"].value.op == "!" and lets["np"].source == "!P"
    assert nodes(lets["np"].value, "ref")[0]["field"] == "P"
    gone = lets["gone"].value
    assert gone.op == "&&" and gone.args[0] == d.LetExpr(op="let", name="np", width=1, span=gone.args[0].span)
    assert (lets["two"].value.kind, lets["two"].value.value) == ("literal", 2)
    assert lets["unused"].value is None and lets["unused"].source == "RW"
    # the uses are references, each at its own place
    assert walk.faults[0].when.op == "let" and walk.faults[0].when.name == "np"
    assert [x["name"] for x in nodes(walk.faults[1].when, "let")] == ["gone"]
    twos = nodes(walk.faults[2].when, "let")
    assert [x["name"] for x in twos] == ["two", "two"]
    assert len({(x["span"]["line"], x["span"]["col"]) for x in twos}) == 2
    # the body of np appears once in the whole dump, in its definition
    text = dump_json(compile_full(path))
    assert text.count('"source": "!P"') == 1
    assert sum(1 for n in nodes(json.loads(text), "!") if nodes(n, "ref")[0]["field"] == "P") == 1
    # the IR the generators read keeps the expanded form
    ir_walk = compile_spec(path).regimes[0]
    assert ir_walk.faults[0].when.op == "!" and ir_walk.faults[1].when.op == "&&"


def test_shipped_lets_are_defined_once_and_every_use_is_defined(shipped):
    seen = 0
    for name, text in shipped.items():
        dump = d.Dump.model_validate_json(text)
        for owner in dump.regimes + dump.units:
            defined = [x.name for x in owner.lets]
            assert len(defined) == len(set(defined)), (name, owner.name)
            used = {x["name"] for x in nodes(owner, "let")}
            assert used <= set(defined), (name, owner.name, used - set(defined))
            seen += len(defined)
            for x in owner.lets:
                assert x.source and (x.value is not None or x.name not in used), (name, x.name)
    assert seen > 50
    iommu = d.Dump.model_validate_json(shipped["amd_iommu"])
    lets = {x.name: x for x in iommu.units[0].lets}
    assert {"dma", "dma_rsvd", "mode"} <= {x["name"] for x in nodes(lets["dma_walk"].value, "let")}


# ---- `page shift EXPR` leaves
def test_a_leaf_with_a_page_shift_read_from_the_entry_has_its_expression():
    (walk,) = dump_of(DATA / "toy_page_shift.vspec").regimes
    levels = {lv.name: lv for lv in walk.levels}
    for name in ("top", "mid"):
        lv = levels[name]
        assert lv.page_shift is None and lv.page_shift_expr is not None and lv.page_shift_expr.op == "+"
        assert {x["field"] for x in nodes(lv.page_shift_expr, "ref")} == {"ADDR"}
    assert (levels["low"].page_shift, levels["low"].page_shift_expr) == (12, None)


def test_amd_iommu_leaves_have_their_page_shift_expression(shipped):
    walk = next(r for r in d.Dump.model_validate_json(shipped["amd_iommu"]).regimes if r.name == "io_pt")
    leaves = [lv for lv in walk.levels if lv.leaf is not None]
    assert len(leaves) == 5
    for lv in leaves:
        assert lv.page_shift is None and lv.page_shift_expr is not None and lv.page_shift_expr.op == "cond"
        assert "NL" in {x["field"] for x in nodes(lv.page_shift_expr, "ref")}
    top = next(lv for lv in walk.levels if lv.leaf is None)
    assert (top.page_shift, top.page_shift_expr) == (None, None)
    fixed = d.Dump.model_validate_json(shipped["intel_ept"]).regimes[-1]
    assert {lv.page_shift for lv in fixed.levels if lv.leaf} == {12, 21, 30}


# ---- the published schema
def test_virtspec_schema_dump_prints_the_schema_of_the_model(capsys):
    assert main(["schema"]) == 0
    assert "dump" in capsys.readouterr().out.split()
    assert main(["schema", "dump"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == d.json_schema()
    assert schema["$schema"].endswith("2020-12/schema") and schema["properties"]["version"]["const"] == d.VERSION
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("name", sorted(SPECS))
def test_shipped_dumps_validate_against_the_schema(shipped, name):
    jsonschema = pytest.importorskip("jsonschema")  # in the `test` extra
    text = shipped[name]
    dump = d.Dump.model_validate_json(text)
    assert dump.model_dump_json(indent=2) == text
    assert (dump.format, dump.version) == ("virtspec-dump", 1)
    schema = d.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(json.loads(text))


def test_the_schema_knows_every_operator_and_reference_kind():
    ops = set(get_args(d.OpExpr.model_fields["op"].annotation))
    assert ops == set(UNARY + BINARY + ("cond", "bit", "slice", "call"))
    assert set(get_args(d.RefExpr.model_fields["kind"].annotation)) == set(RUNTIME_KINDS)


# every field of the IR is in the dump, or left out on purpose: a field added to the IR
# fails here until the dump presents it (or says why not)
IR_TO_DUMP = {
    ir.Spec: (d.Dump, {"top_name": "top"}), ir.Param: (d.Param, {}), ir.EnumDef: (d.EnumDef, {}), ir.EnumItem: (d.EnumItem, {}),
    ir.Layout: (d.Layout, {}), ir.Field: (d.FormatField, {}), ir.BitRange: (d.BitRange, {}),
    ir.Regime: (d.Regime, {"let_defs": "lets"}), ir.Level: (d.Level, {}), ir.Rule: (d.Rule, {}),
    ir.Let: (d.Let, {}), ir.Accumulator: (d.Accumulator, {}), ir.Update: (d.Update, {}),
    ir.Record: (d.Record, {}), ir.RecordField: (d.RecordField, {}), ir.RecordBits: (d.RecordBits, {}),
    ir.Binding: (d.Binding, {}), ir.Nested: (d.Nested, {}), ir.EventField: (d.EventField, {}),
    ir.StructField: (d.StructField, {}), ir.Structure: (d.Structure, {}), ir.Bitmap: (d.Bitmap, {}),
    ir.OutputField: (d.OutputField, {}), ir.Walk: (d.Walk, {}), ir.UnitRecord: (d.UnitRecord, {}),
    ir.ExitAssign: (d.ExitAssign, {}), ir.ExitRule: (d.ExitRule, {}), ir.AddrTerm: (d.AddrTerm, {}),
    ir.AccessGroup: (d.AccessGroup, {}),
    ir.CacheTag: (d.CacheTag, {}), ir.Cache: (d.Cache, {}), ir.Drop: (d.Drop, {}),
    ir.Invalidation: (d.Invalidation, {}), ir.Call: (d.Call, {}),
    # Unit.lets (the names) and Unit.let_defs are both the dump's `lets`
    ir.Unit: (d.Unit, {"let_defs": "lets"}),
}


def test_every_ir_field_is_in_the_dump():
    ir_nodes = {c for c in vars(ir).values() if isinstance(c, type) and issubclass(c, ir.Node) and c is not ir.Node}
    assert ir_nodes == set(IR_TO_DUMP)
    for ir_class, (dump_class, renamed) in IR_TO_DUMP.items():
        missing = {renamed.get(f, f) for f in ir_class.model_fields} - set(dump_class.model_fields)
        assert missing == set(), (ir_class.__name__, missing)


# ---- deterministic: the same bytes every run, from any working directory
def test_dump_is_the_same_bytes_twice_and_from_any_working_directory(tmp_path, monkeypatch, capsys):
    spec = SPECS["amd_npt"]
    outs = []
    for cwd in (ROOT, tmp_path, ROOT / "specs"):
        monkeypatch.chdir(cwd)
        assert main(["dump", str(spec)]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == outs[2]
    assert json.loads(outs[0])["path"] == "specs/amd_npt.vspec"
    # a spec in no project: paths are relative to its own folder
    alone = tmp_path / "alone"
    alone.mkdir()
    write(alone, LIB, "lib.vspec")
    path = write(alone, MAIN, "top.vspec")
    texts = []
    for cwd in (alone, tmp_path, ROOT):
        monkeypatch.chdir(cwd)
        texts.append(dump_json(compile_full(path)))
    assert texts[0] == texts[1] == texts[2]
    assert {s["path"] for s in nodes_spans(json.loads(texts[0]))} == {"top.vspec", "lib.vspec"}


def nodes_spans(x) -> list[dict]:
    out, stack = [], [x]
    while stack:
        y = stack.pop()
        if isinstance(y, dict):
            if set(y) == {"path", "line", "col", "end_line", "end_col"}:
                out.append(y)
            stack.extend(y.values())
        elif isinstance(y, list):
            stack.extend(y)
    return out


def test_an_expression_as_deep_as_the_parser_allows_dumps(tmp_path, capsys):
    """The parser allows 200 levels; pydantic's JSON serializer would give up at about
    150, the standard library's encoder does not. Such a dump is read back with
    json.loads and model_validate (pydantic's JSON parser stops at 200 JSON levels, two
    per expression level)."""
    deep = "P" + " || P" * 190
    path = write(tmp_path, edit(WALK, "fault not_present when !P;", f"fault not_present when !({deep});"))
    assert main(["dump", str(path)]) == 0
    text = capsys.readouterr().out
    dump = d.Dump.model_validate(json.loads(text))
    assert len(nodes(dump.regimes[0].faults[0].when, "||")) == 190


def test_dump_ir_prints_the_internal_ir(capsys):
    assert main(["dump", "--ir", str(DATA / "toy.vspec")]) == 0
    ir = json.loads(capsys.readouterr().out)
    assert "let_defs" in ir["regimes"][0] and "format" not in ir


# ---- never a traceback: whatever compiles, dumps
SHIPPED_TEXT = {p.name: p.read_text() for p in SPECS.values()}


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(SHIPPED_TEXT)))
    lines = SHIPPED_TEXT[name].split("\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        lines[at:at + 1] = draw(st.sampled_from([[], [lines[at], lines[at]]]))
    return name, "\n".join(lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(mutated())
def test_whatever_compiles_dumps_and_validates(case):
    name, text = case
    with tempfile.TemporaryDirectory() as tmp:
        for p in SPECS.values():
            shutil.copy(p, Path(tmp) / p.name)
        path = Path(tmp) / name
        path.write_text(text)
        try:
            compiled = compile_full(path)
        except SpecError:
            return
        dump = build(compiled)
        assert d.Dump.model_validate_json(dump.model_dump_json()) == dump
