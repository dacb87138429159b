"""Record-field defaults in a unit (codegen/frontend/elaborate/unit.py `_default`,
`_with_defaults`): what a default may read (E0350), a default no rule uses (E0351), a store
in a regime's record (E0352), the bit-range form (E0306), and the assignment elaboration
puts into each rule that leaves the field out."""
from __future__ import annotations

from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import compile_spec
from tests.snippets import WALK, compile_text, edit, where, write

UNIT = WALK + """\
unit u {
    event { va : 48; kind : 2; }
    context CR3;
    structure s : 16 at CR3.BASE << 12 { w at 0 : 64; m at 8 : 64; }
    bitmap b : 1 at s.m index event.kind;
    walk t : walk input event.va access { write = 0; } with { CR3 = CR3; };
    let from_walk = t.pa + 1;
    record r { code : 8; keep : 64 = DEFAULT store s.w; }
    exit one when event.kind == 1 { code = 1; }
    exit two when event.kind == 2 { code = 2; keep = 7; }
}
"""


def _unit(tmp_path, default: str):
    bag = DiagnosticBag()
    spec = compile_spec(write(tmp_path, UNIT.replace("DEFAULT", default)), bag)
    assert not bag.errors
    return spec.top


def test_a_default_reads_the_event_context_structures_and_bitmaps(tmp_path):
    unit = _unit(tmp_path, "(s.w & ~(1 << 31)) | event.kind | CR3.BASE | b")
    one, two = unit.exits
    # rule one leaves `keep` out: it gets the default, marked; rule two assigns its own
    assert [(a.field, a.default) for a in one.assigns] == [("code", False), ("keep", True)]
    assert one.assigns[1].value == unit.record.fields[1].default
    assert [(a.field, a.default) for a in two.assigns] == [("code", False), ("keep", False)]


def test_a_default_that_reads_a_walk_through_a_let_is_refused(tmp_path):
    text = UNIT.replace("DEFAULT", "from_walk")
    d = compile_text(tmp_path, text).errors[0]
    assert d.code == "E0350" and "'t.pa', a result of walk 't'" in d.message
    assert (d.span.line, d.span.col) == where(text, "from_walk store")


def test_a_default_every_rule_assigns_is_refused(tmp_path):
    text = edit(UNIT.replace("DEFAULT", "3"), "{ code = 1; }", "{ code = 1; keep = 1; }")
    d = compile_text(tmp_path, text).errors[0]
    assert d.code == "E0351" and "'keep'" in d.message


def test_bit_ranges_are_no_default_and_a_regime_record_stores_nothing(tmp_path):
    text = UNIT.replace("keep : 64 = DEFAULT store s.w;", "keep : 64 { lo [7:0] = 1; }")
    assert compile_text(tmp_path, text).errors[0].code == "E0306"
    text = edit(WALK, "record pf { code : 8 = fault; }", "record pf { code : 8 = fault store s.w; }")
    assert compile_text(tmp_path, text).errors[0].code == "E0352"
