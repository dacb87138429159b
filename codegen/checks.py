"""Structural checks on the elaborated IR. Every error of the stage is reported."""
from __future__ import annotations

import keyword
import re

from . import ir
from .diagnostics import DiagnosticBag, Span
from .expr import Expr

VERILOG_KEYWORDS = set("""
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam
design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify endtable
endtask event for force forever fork function generate genvar highz0 highz1 if ifnone incdir include initial inout
input instance integer join large liblist library localparam macromodule medium module nand negedge nmos nor
noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup
pulsestyle_ondetect pulsestyle_onevent rcmos real realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1
scalared showcancelled signed small specify specparam strong0 strong1 supply0 supply1 table task time tran tranif0
tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
logic bit byte int shortint longint void enum struct union typedef string class
""".split())
VHDL_KEYWORDS = set("""
abs access after alias all and architecture array assert attribute begin block body buffer bus case component
configuration constant disconnect downto else elsif end entity exit file for function generate generic group guarded
if impure in inertial inout is label library linkage literal loop map mod nand new next nor not null of on open or
others out package port postponed procedure process pure range record register reject rem report return rol ror
select severity signal shared sla sll sra srl subtype then to transport type unaffected units until use variable
wait when while with xnor xor context force parameter release protected sequence property
""".split())
IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def check(spec: ir.Spec, bag: DiagnosticBag) -> None:
    """Run every structural check on `spec`; errors go to `bag`."""
    _names(spec, bag)
    for lay in spec.layouts:
        _layout(lay, bag)
    for reg in spec.regimes:
        _regime(spec, reg, bag)
    for nest in spec.nested:
        _record(nest.record, bag)
    for unit in spec.units:
        _unit(unit, bag)


def identifier_problem(name: str, prefixed: bool = False) -> str | None:
    """Why `name` cannot be used in generated Python, Verilog or VHDL, or None.
    A `prefixed` name only ever appears after a prefix (`e_NAME`), so keywords are fine."""
    if not IDENT.match(name):
        return "must start with a letter and use only letters, digits and '_'"
    if "__" in name or name.endswith("_"):
        return "must not contain '__' or end in '_' (VHDL identifiers)"
    if prefixed:
        return None
    low = name.lower()
    for lang, words in (("Python", set(keyword.kwlist) | set(keyword.softkwlist)), ("Verilog", VERILOG_KEYWORDS),
                        ("VHDL", VHDL_KEYWORDS)):
        if name in words or (lang == "VHDL" and low in words):
            return f"is a {lang} keyword"
    return None


def _names(spec: ir.Spec, bag: DiagnosticBag) -> None:
    seen: dict[str, Span] = {}
    # parameters are scoped to their file (an importer names them alias.NAME), so only
    # the declarations that share one namespace after flattening may not clash
    for kind, items in (("enum", spec.enums), ("layout", spec.layouts),
                        ("regime", spec.regimes), ("nested", spec.nested), ("unit", spec.units)):
        for item in items:
            if item.name in seen and seen[item.name] != item.span:
                bag.error("E0201", f"{kind} '{item.name}' clashes with another declaration of the same name", item.span,
                          ("the other declaration", seen[item.name]))
            seen.setdefault(item.name, item.span)
    checked: set[tuple[str, Span]] = set()

    def ident(name: str, span: Span, what: str) -> None:
        if (name, span) in checked:
            return
        checked.add((name, span))
        why = identifier_problem(name)
        if why:
            bag.error("E0202", f"{what} name '{name}' {why}", span)

    for p in spec.params:
        ident(p.name, p.span, "parameter")
    for lay in spec.layouts:
        ident(lay.name, lay.span, lay.kind)
        for f in lay.fields:
            ident(f.name, f.span, "field")
    for reg in spec.regimes:
        ident(reg.name, reg.span, "regime")
        # input and access names are checked in elaboration, where their item's span is known
        for lv in reg.levels:
            ident(lv.name, lv.span, "level")
        for r in reg.faults + reg.checks:
            ident(r.name, r.span, "fault")
        for a in reg.accumulators:
            ident(a.name, a.span, "accumulator")
        _record_names(reg.record, ident)
    for nest in spec.nested:
        ident(nest.name, nest.span, "nested")
        _record_names(nest.record, ident)
    for unit in spec.units:
        # event, structure-field and record-field names are checked in elaboration
        ident(unit.name, unit.span, "unit")
        ident(unit.record.name, unit.record.span, "record")
        for x in unit.structures + unit.bitmaps + unit.exits:
            ident(x.name, x.span, {ir.Structure: "structure", ir.Bitmap: "bitmap"}.get(type(x), "exit"))


def _record_names(rec: ir.Record, ident) -> None:
    ident(rec.name, rec.span, "record")
    for f in rec.fields:
        ident(f.name, f.span, "record field")
        for b in f.bits:
            ident(b.name, b.span, "record bits")


def _overlaps(items, width: int, what: str, bag: DiagnosticBag, taken=()) -> None:
    """items: (name, hi, lo, span) in source order, each checked against the width and
    against `taken` and the items before it: the later item is the error, the earlier the note."""
    taken: list[tuple[str, int, int, Span]] = list(taken)
    for name, hi, lo, span in items:
        if hi < lo:
            continue
        if hi >= width:
            bag.error("E0401", f"{name} [{hi}:{lo}] goes past the {width}-bit width of {what}", span)
            continue
        for oname, ohi, olo, ospan in taken:
            if lo <= ohi and olo <= hi:
                bag.error("E0402", f"{name} [{hi}:{lo}] overlaps {oname} [{ohi}:{olo}] in {what}", span,
                          (f"{oname} is declared here", ospan))
                break
        taken.append((name, hi, lo, span))


def _layout(lay: ir.Layout, bag: DiagnosticBag) -> None:
    seen: dict[str, Span] = {}
    for f in lay.fields:
        if f.name in seen:
            bag.error("E0201", f"field '{f.name}' is defined twice in {lay.kind} '{lay.name}'", f.span,
                      ("first defined here", seen[f.name]))
        seen.setdefault(f.name, f.span)

    def source_order(item):  # included fields of another file first
        return item[3].path == lay.span.path, item[3].line, item[3].col

    what = f"{lay.kind} '{lay.name}'"
    fields = [(f"field '{f.name}'", f.hi, f.lo, f.span) for f in lay.fields]
    static = [(f"{r.kind} range", r.hi, r.lo, r.span) for r in lay.ranges if r.when is None]
    # fields against fields and ranges against ranges; a field inside a declared range
    # is only a warning (W0102, codegen/lint.py)
    _overlaps(sorted(fields, key=source_order), lay.width, what, bag)
    _overlaps(sorted(static, key=source_order), lay.width, what, bag)
    # A conditional reserved range may cover ignored bits (ignored unless the condition
    # holds), but no field: a field that is sometimes reserved says `reserved if`.
    # Each is checked against the fields alone, so field errors are not reported again.
    inside = [f for f in fields if f[1] < lay.width]
    for r in lay.ranges:
        if r.when is not None:
            _overlaps([("conditional reserved range", r.hi, r.lo, r.span)], lay.width, what, bag, taken=inside)


def _constant_choices(e: Expr) -> list[Expr]:
    """The constants an expression can take: itself, or the constant arms of `c ? a : b`."""
    if e.op == "num":
        return [e]
    if e.op == "cond":
        return _constant_choices(e.args[1]) + _constant_choices(e.args[2])
    return []


def _fields_in(e: Expr | None, kind: str) -> list[Expr]:
    return [r for r in e.refs() if r.kind == kind] if e is not None else []


def _regime(spec: ir.Spec, reg: ir.Regime, bag: DiagnosticBag) -> None:
    where = f"regime '{reg.name}'"
    if not reg.levels:
        bag.error("E0306", f"{where} has no levels", reg.span)
        return
    numbers: dict[int, Span] = {}
    for lv in reg.levels:
        if lv.number in numbers:
            bag.error("E0201", f"level {lv.number} is defined twice in {where}", lv.span, ("first defined here", numbers[lv.number]))
        numbers.setdefault(lv.number, lv.span)
    ordered = list(reg.levels)
    for lv in ordered:
        if lv.index_hi >= reg.input_width:
            bag.error("E0404", f"index [{lv.index_hi}:{lv.index_lo}] of level '{lv.name}' is past the "
                      f"{reg.input_width}-bit input '{reg.input_name}'", lv.span)
    for upper, lower in zip(ordered, ordered[1:]):
        if upper.number == lower.number:
            continue  # reported above as defined twice
        if upper.number != lower.number + 1:
            bag.error("E0405", f"levels {upper.number} and {lower.number} are not consecutive", lower.span)
        elif upper.index_lo != lower.index_hi + 1:
            kind = "overlaps" if upper.index_lo <= lower.index_hi else "leaves a gap after"
            bag.error("E0405", f"index [{lower.index_hi}:{lower.index_lo}] of level '{lower.name}' {kind} "
                      f"index [{upper.index_hi}:{upper.index_lo}] of level '{upper.name}'", lower.span,
                      (f"level '{upper.name}' is declared here", upper.span))
    for start in _constant_choices(reg.start):
        if start.value not in numbers:
            bag.error("E0304", f"start level {start.value} is not a level of {where} "
                      f"({', '.join(str(n) for n in numbers)})", start.span)
    if not ordered[-1].leaf:
        bag.error("E0407", f"the last level '{ordered[-1].name}' of {where} needs a leaf format", ordered[-1].span)
    for lv in ordered:
        if lv.leaf and lv.page_shift != lv.index_lo and lv.page_shift_expr is None:
            bag.error("E0406", f"page size 2^{lv.page_shift} of level '{lv.name}' disagrees with its index "
                      f"[{lv.index_hi}:{lv.index_lo}], which maps 2^{lv.index_lo}-byte pages", lv.span)
        if lv.leaf and lv.table and lv.leaf_when is None:
            bag.error("E0306", f"level '{lv.name}' has a table and a leaf format: say 'leaf ... when COND'", lv.span)
        for name, role in ((lv.table, "table"), (lv.leaf, "leaf")):
            if not name:
                continue
            lay = spec.layout(name)
            if lay.width != reg.entry_bytes * 8:
                bag.error("E0410", f"format '{name}' is {lay.width} bits but entries of {where} are "
                          f"{reg.entry_bytes} bytes", lv.span)
            need = reg.pointer if role == "table" else reg.frame
            f = lay.field(need)
            if f is None:
                bag.error("E0408", f"{role} format '{name}' of level '{lv.name}' has no '{need}' field", lv.span,
                          ("the format is declared here", lay.span))
            elif role == "leaf" and f.lo != lv.page_shift:
                bag.error("E0406", f"frame field '{need}' of '{name}' starts at bit {f.lo} but the page is "
                          f"2^{lv.page_shift} bytes", f.span)
            elif role == "table":
                table_shift = (reg.entry_bytes * (1 << (lv.index_hi - lv.index_lo + 1))).bit_length() - 1
                nxt = next((x for x in ordered if x.number == lv.number - 1), None)
                if nxt is not None:
                    table_shift = (reg.entry_bytes * (1 << (nxt.index_hi - nxt.index_lo + 1))).bit_length() - 1
                if f.lo > table_shift:
                    bag.error("E0409", f"pointer field '{need}' of '{name}' starts at bit {f.lo}; tables of "
                              f"2^{table_shift} bytes need it to start at or below bit {table_shift}", f.span)
            for cond, _mask in lay.mbz_conditional():
                for ref in _fields_in(cond, "ctx"):
                    if ref.name not in reg.context:
                        bag.error("E0310", f"format '{name}' depends on register '{ref.name}', which {where} "
                                  "does not list under 'context'", ref.span)
            roles = [e for r in reg.faults_for(role == "leaf") for e in _fields_in(r.when, "field")]
            roles += [e for a in reg.accumulators for e in _fields_in(a.then, "field")]
            for ref in roles:
                if lay.field(ref.name) is None:
                    bag.error("E0301", f"field '{ref.name}' is not in format '{name}' used at level '{lv.name}'",
                              ref.span, ("the format is declared here", lay.span))
        if lv.leaf and lv.leaf_when is not None:
            for ref in _fields_in(lv.leaf_when, "field"):
                if lv.table and spec.layout(lv.table).field(ref.name) is not None:
                    a, b = spec.layout(lv.table).field(ref.name), spec.layout(lv.leaf).field(ref.name)
                    if (a.hi, a.lo) != (b.hi, b.lo):
                        bag.error("E0402", f"'{ref.name}' decides table or leaf at level '{lv.name}' but sits at "
                                  "different bits in the two formats", ref.span)
    for r in reg.checks:
        for ref in _fields_in(r.when, "leaf"):
            for lv in reg.leaf_levels:
                if spec.layout(lv.leaf).field(ref.name) is None:
                    bag.error("E0301", f"field '{ref.name}' is not in leaf format '{lv.leaf}'", ref.span)
    for ref in [r for f in reg.record.fields for e in [f.value, *(b.value for b in f.bits)] if e is not None
                for r in _fields_in(e, "leaf")]:
        places = {(spec.layout(lv.leaf).field(ref.name).hi, spec.layout(lv.leaf).field(ref.name).lo)
                  for lv in reg.leaf_levels if spec.layout(lv.leaf).field(ref.name)}
        if len(places) != 1 or any(spec.layout(lv.leaf).field(ref.name) is None for lv in reg.leaf_levels):
            bag.error("E0412", f"the record reads 'leaf.{ref.name}', which must sit at the same bits in every "
                      "leaf format", ref.span)
    for u in reg.updates:
        names = [n for lv in reg.levels for n in ((lv.table, lv.leaf) if u.where == "each level" else (lv.leaf,)) if n]
        for name in dict.fromkeys(names):
            f = spec.layout(name).field(u.field)
            if f is None or f.width != 1:
                bag.error("E0411", f"'set {u.field}' needs a 1-bit field '{u.field}' in format '{name}'", u.span)
    _record(reg.record, bag)


def _record(rec: ir.Record, bag: DiagnosticBag) -> None:
    for f in rec.fields:
        items = [(f"'{b.name}'", b.hi, b.lo, b.span) for b in f.bits]
        _overlaps(items, f.width, f"record field '{f.name}'", bag)


def _unit(unit: ir.Unit, bag: DiagnosticBag) -> None:
    """Structure fields inside the structure and inside one 64-bit word, without
    overlaps; stores to whole words; bitmap spans within their width; exit bits
    within their record field."""
    for st in unit.structures:
        items = []
        for f in st.fields:
            if f.offset * 8 + f.width > st.size * 8:
                bag.error("E0401", f"field '{f.name}' at byte {f.offset:#x} ({f.width} bits) goes past the "
                          f"{st.size:#x}-byte size of structure '{st.name}'", f.span)
                continue
            if f.lo + f.width > 64:
                bag.error("E0413", f"field '{f.name}' at byte {f.offset:#x} ({f.width} bits) crosses an aligned "
                          f"8-byte word; split it into fields of one word each", f.span)
                continue
            items.append((f"field '{f.name}'", f.offset * 8 + f.width - 1, f.offset * 8, f.span))
        _overlaps(items, st.size * 8, f"structure '{st.name}' (bit positions from its base)", bag)
    stored: dict[tuple[str, str], Span] = {}
    for f in unit.record.fields:
        if f.store is None:
            continue
        target = unit.structure(f.store[0]).field(f.store[1])
        if target.width != 64 or target.offset % 8:
            bag.error("E0414", f"record field '{f.name}' is stored to '{'.'.join(f.store)}', which is "
                      f"{target.width} bits at byte {target.offset:#x}; a store needs a whole aligned 64-bit word",
                      f.span, ("the structure field", target.span))
        elif f.store in stored:
            bag.error("E0414", f"two record fields are stored to '{'.'.join(f.store)}'", f.span,
                      ("the other store", stored[f.store]))
        stored.setdefault(f.store, f.span)
    for b in unit.bitmaps:
        if b.span_bits.op == "num" and b.span_bits.value > b.width:
            bag.error("E0415", f"bitmap '{b.name}' spans {b.span_bits.value} bits but is {b.width} bits wide",
                      b.span_bits.span)
    widths = {f.name: f.width for f in unit.record.fields}
    for x in unit.exits:
        for a in x.assigns:
            _overlaps([(f"bits '{b.name}'", b.hi, b.lo, b.span) for b in a.bits], widths[a.field],
                      f"record field '{a.field}'", bag)
