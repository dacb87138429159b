"""codegen/frontend/lint.py: the warnings of a valid spec, each at its exact location, and only
for the file being compiled."""
from snippets import WALK, edit, where, write

from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import compile_spec


def warnings_of(tmp_path, text, extra=None):
    for name, body in (extra or {}).items():
        write(tmp_path, body, name)
    bag = DiagnosticBag()
    compile_spec(write(tmp_path, text), bag)
    assert not bag.errors
    return bag.warnings


def of(ws, code):
    return [(d.span.line, d.span.col) for d in ws if d.code == code]


def test_unused_parameter(tmp_path):
    text = edit(WALK, "spec t;", "spec t;\nparam UNUSED = 3;\nparam USED = 12;").replace("page 4K", "page 1 << USED")
    ws = warnings_of(tmp_path, text)
    assert of(ws, "W0101") == [where(text, "param UNUSED")]


def test_parameter_read_by_an_importer_is_used(tmp_path):
    lib = "spec lib;\nparam SHIFT = 12;\n"
    text = edit(WALK, "spec t;", 'spec t;\nimport "lib.vspec" as lib;').replace("page 4K", "page 1 << lib.SHIFT")
    assert of(warnings_of(tmp_path, text, {"lib.vspec": lib}), "W0101") == []


def test_field_in_a_reserved_range(tmp_path):
    text = edit(WALK, "    D [6];", "    reserved [7:6];\n    D [6];")
    ws = warnings_of(tmp_path, text)
    (d,) = [d for d in ws if d.code == "W0102"]
    assert (d.span.line, d.span.col) == where(text, "D [6]")
    assert d.notes[0][1].line == where(text, "reserved [7:6]")[0]
    assert "reserved range [7:6]" in d.message


def test_unused_field_reported_once_per_declaration(tmp_path):
    text = edit(WALK, "    D [6];", "    D [6];\n    SOFT [11:9];")
    ws = warnings_of(tmp_path, text)
    assert of(ws, "W0103").count(where(text, "SOFT [11:9]")) == 1


def test_fields_read_by_rules_updates_and_the_walk_are_used(tmp_path):
    ws = warnings_of(tmp_path, WALK)
    unused = {d.message.split("'")[1] for d in ws if d.code == "W0103"}
    # P is read by a fault, A is set by an update, ADDR is the pointer and the frame
    assert not unused & {"P", "A", "ADDR"}


def test_missing_citation_and_a_cited_declaration(tmp_path):
    text = edit(WALK, "regime ", 'enum kinds : 2 cite "manual 1.2" { X = 0; }\nenum bare : 2 { Y = 0; }\nregime ')
    ws = warnings_of(tmp_path, text)
    assert where(text, "enum bare") in of(ws, "W0104")
    assert where(text, "enum kinds") not in of(ws, "W0104")


def test_warnings_come_in_file_order(tmp_path):
    ws = warnings_of(tmp_path, edit(WALK, "spec t;", "spec t;\nparam UNUSED = 3;"))
    spans = [(d.span.line, d.span.col) for d in ws]
    assert spans == sorted(spans) and len(ws) > 2


def test_imported_files_are_not_warned_about(tmp_path):
    lib = "spec lib;\nparam NEVER = 1;\nenum e : 2 { A = 0; }\n"
    text = edit(WALK, "spec t;", 'spec t;\nimport "lib.vspec" as lib;')
    ws = warnings_of(tmp_path, text, {"lib.vspec": lib})
    assert all(d.span.path.endswith("t.vspec") for d in ws)
