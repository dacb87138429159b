"""Structural checks on the elaborated IR. Every error of the stage is reported."""
from __future__ import annotations

import keyword
import re

from codegen import ir
from codegen.frontend.diagnostics import DiagnosticBag, Span
from codegen.ir.expr import Expr

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
    reported: set = set()  # included fields are checked in each format but reported once
    for lay in spec.layouts:
        _layout(lay, bag, reported)
    for reg in spec.regimes:
        # an instance is its base with other registers: checked there (unless it adds to it)
        if not reg.instance_of or reg.instance_adds:
            _regime(spec, reg, bag)
            _caches(spec, reg.caches, reg, bag)
    for nest in spec.nested:
        _caches(spec, nest.caches, spec.regime(nest.guest), bag)
        _record(nest.record, bag)
        _nested_widths(spec, nest, bag)
        _nested_access(spec, nest, bag)
    for unit in spec.units:
        _unit(unit, bag)
    _error_faults(spec, bag)
    _enum_fields(spec, bag)
    _generated_names(spec, bag)


def reads_error(reg: ir.Regime) -> bool:
    """Whether a fault of the regime reads `error` (the entry's read answered with an error)."""
    return any(x.kind == "builtin" and x.name == "error" for r in reg.faults for x in r.when.refs())


def _error_faults(spec: ir.Spec, bag: DiagnosticBag) -> None:
    """E0335: a read that answers with an error is modelled where a unit walks: a unit's
    walk of the regime, or a stage of a composition a unit walks (the unit's model takes
    the error, m_rerr). A regime whose fault reads `error` is refused as a translation
    model of its own, and as a stage of a composition that is one (no unit walks it)."""
    models = set(spec.models)

    def error_fault(reg: ir.Regime) -> ir.Rule:
        return next(r for r in reg.faults if any(x.kind == "builtin" and x.name == "error" for x in r.when.refs()))

    for reg in spec.regimes:
        if reg.span.path == spec.span.path and reads_error(reg) and reg.name in models:
            fault = error_fault(reg)
            bag.error("E0335", f"expected regime '{reg.name}', whose fault '{fault.name}' reads `error`, to be walked "
                      "by a unit, not a translation model of its own: a read that answers with an error is "
                      "supported in the walks of a unit", fault.span,
                      (f"regime '{reg.name}' is declared here", reg.span))
    for nest in spec.nested:
        if nest.span.path != spec.span.path or nest.name not in models:
            continue
        for role, name in (("guest", nest.guest), ("host", nest.host)):
            reg = spec.regime(name)
            if reads_error(reg):
                fault = error_fault(reg)
                bag.error("E0335", f"expected nested composition '{nest.name}', whose {role} regime '{name}' has "
                          f"fault '{fault.name}' on `error`, to be walked by a unit, not a translation model of "
                          "its own: a read that answers with an error is supported in the walks of a unit",
                          nest.span, (f"fault '{fault.name}' reads `error` here", fault.span))


def _enum_fields(spec: ir.Spec, bag: DiagnosticBag) -> None:
    """Every item of the enum a field names fits the field's width (a format's, an event's
    or a record's field): a value that does not fit is never read back as that item."""
    enums = {e.name: e for e in spec.enums}
    fields = [(f, f.width, f"field '{f.name}' of {lay.kind} '{lay.name}'") for lay in spec.layouts for f in lay.fields]
    for reg in spec.regimes:
        fields += [(f, f.width, f"field '{f.name}' of record '{rec.name}'") for rec in reg.all_records
                   for f in rec.fields]
    for nest in spec.nested:
        fields += [(f, f.width, f"field '{f.name}' of record '{nest.record.name}'") for f in nest.record.fields]
    for unit in spec.units:
        fields += [(f, f.width, f"event field '{f.name}'") for f in unit.event]
        fields += [(f, f.width, f"field '{f.name}' of record '{unit.record.name}'") for f in unit.record.fields]
    seen: set = set()
    for f, width, what in fields:
        enum = enums.get(getattr(f, "enum", None) or "")
        if enum is None or f.span in seen:
            continue
        seen.add(f.span)
        big = [i for i in enum.items if i.value >> width]
        if big:
            bag.error("E0462", f"{what} is {width} bits wide, but item {big[0].name} = {big[0].value:#x} of enum "
                      f"'{enum.name}' needs {big[0].value.bit_length()} bits"
                      + (f" ({len(big)} items do not fit)" if len(big) > 1 else "")
                      + f": widen the field to {max(i.value for i in big).bit_length()} bits, or name an enum whose "
                      "items fit", f.span, (f"item {big[0].name} is declared here", big[0].span))


ADDR_BITS = 64  # the output address of the models


def _map_text(terms) -> str:
    return " | ".join(t.field if t.shift is None else f"{t.field} << {t.shift}" for t in terms)


def _bits_text(bits: list[int]) -> str:
    """`bit 5` or `bits 12..20` (address bits, a sorted list of runs are shown by their ends)."""
    runs, run = [], [bits[0], bits[0]]
    for b in bits[1:]:
        if b == run[1] + 1:
            run[1] = b
        else:
            runs.append(run)
            run = [b, b]
    runs.append(run)
    text = ", ".join(f"{lo}" if lo == hi else f"{hi}:{lo}" for lo, hi in runs)
    return f"address bit{'s' if len(bits) > 1 else ''} {text}"


def _addr_map(spec, reg, lv, lay, role, terms, ordered, page_ok, where, bag, once) -> None:
    """A pointer or frame map read from format `lay` at level `lv`: every field is in the
    format, terms do not share an address bit, stay inside the output address, and leave
    no address bit unset from the page (or table) alignment up to their top bit."""
    item = "pointer" if role == "table" else "frame"
    name = lay.name
    text = _map_text(terms)
    span = terms[0].span
    missing = [t for t in terms if lay.field(t.field) is None]
    for t in missing:
        if once("E0408", name, item, t.field):
            reads = (f"names as the {item} field" if len(terms) == 1 and terms[0].shift is None
                     else f"reads in its {item} map")
            bag.error("E0408", f"{role} format '{name}' of level '{lv.name}' has no field '{t.field}', which "
                      f"{where} {reads} (`{item} {text};`): add it to the format, or name the "
                      "right field", lv.span, (f"format '{name}' is declared here", lay.span))
    if missing:
        return
    pieces = [(t, lay.field(t.field), t.piece(lay)) for t in terms]
    bad = False
    for i, (t, f, (_, w, a)) in enumerate(pieces):
        if a + w > ADDR_BITS and f.hi < lay.width:  # a field past its format is E0401 already
            bad = True
            if once("E0419", name, item, text):
                bag.error("E0419", f"{item} term `{t.field}{'' if t.shift is None else f' << {t.shift}'}` puts the "
                          f"{w}-bit field '{t.field}' of '{name}' at address bits {a + w - 1}:{a}, past the "
                          f"{ADDR_BITS}-bit output address: lower the shift or narrow the field", t.span,
                          (f"field '{t.field}' of '{name}'", f.span))
        for u, g, (_, w2, a2) in pieces[:i]:
            common = sorted(set(range(a, a + w)) & set(range(a2, a2 + w2)))
            if common:
                bad = True
                if once("E0418", name, item, text):
                    bag.error("E0418", f"{item} terms '{u.field}' and '{t.field}' of '{name}' both set "
                              f"{_bits_text(common)}: each address bit comes from one field; "
                              f"shift one term (`{t.field} << N`) or narrow a field", t.span,
                              (f"the other term, '{u.field}'", u.span))
    if bad:
        return
    covered = set()
    for _, _, (_, w, a) in pieces:
        covered |= set(range(a, a + w))
    low, top = min(covered), max(covered)
    one = len(terms) == 1 and terms[0].shift is None
    if role == "leaf":
        if not page_ok:
            return
        page = size_text(1 << lv.page_shift)
        if low != lv.page_shift:
            f = pieces[0][1]
            if one:
                bag.error("E0406", f"frame field '{f.name}' of '{name}' starts at bit {f.lo}, but the {page} pages "
                          f"of level '{lv.name}' need it to start at bit {lv.page_shift}, right above the page "
                          "offset", f.span, (f"level '{lv.name}' maps {page} pages here", lv.span))
            else:
                hint = ""
                if low < lv.page_shift:  # a page number whose low part must be zero in larger pages
                    hint = (f"; if the manual keeps one page number whose low bits must be zero in {page} "
                            f"pages, give these leaves a format of their own, the low bits a field of their own "
                            f"(`LOW`) and the rest at the page offset (`leaf {name}_{page} when ... page {page} "
                            f"frame PPN << {lv.page_shift};`), and the rule a fault of that format (`fault "
                            f"misaligned at leaf {name}_{page} when LOW != 0;`): docs/language.md")
                bag.error("E0406", f"frame map `{text}` of '{name}' starts at address bit {low}, but the {page} "
                          f"pages of level '{lv.name}' need it to start at bit {lv.page_shift}, right above the "
                          f"page offset{hint}", span, (f"level '{lv.name}' maps {page} pages here", lv.span))
            return
        holes = [b for b in range(lv.page_shift, top) if b not in covered]
        if holes:
            bag.error("E0406", f"frame map `{text}` of '{name}' leaves {_bits_text(holes)} unset between the "
                      f"page offset of level '{lv.name}' (bit {lv.page_shift} up) and its top bit {top}: no frame "
                      "could be mapped there; make the terms meet", span,
                      (f"level '{lv.name}' maps {page} pages here", lv.span))
        return
    smallest = _smallest_target(reg, lv, ordered)
    if smallest is not None and low < smallest[0]:
        if not once("E0437", name):
            return
        shift, target = smallest
        f = pieces[0][1]
        fix = (f"`pointer {f.name} << {shift};` if the field holds the address from bit {shift} up (a table "
               f"number), or a field that starts at bit {shift}")
        subject = f"pointer field '{f.name}' of '{name}' starts at bit {f.lo}" if one else \
            f"pointer map `{text}` of '{name}' starts at address bit {low}"
        bag.error("E0437", f"{subject}, so its low entry bits become address bits {shift - 1}:{low}; expected "
                  f"the map to start at address bit {shift} or above, not {low}: the tables it leads to (level "
                  f"'{target.name}') are aligned to {size_text(1 << shift)}, so those address bits are always 0. "
                  f"Write {fix}", span if not one else f.span,
                  (f"level '{target.name}' is declared here", target.span))
        return
    table_shift = (reg.entry_bytes * (1 << (lv.index_hi - lv.index_lo + 1))).bit_length() - 1
    nxt = next((x for x in ordered if x.number == lv.number - 1), None)
    if nxt is not None:
        table_shift = (reg.entry_bytes * (1 << (nxt.index_hi - nxt.index_lo + 1))).bit_length() - 1
    below = f"level '{nxt.name}'" if nxt is not None else "the next level"
    note = (f"{below} is declared here", nxt.span if nxt is not None else lv.span)
    if low > table_shift:
        f = pieces[0][1]
        if one:
            bag.error("E0409", f"pointer field '{f.name}' of '{name}' starts at bit {f.lo}, but the tables of "
                      f"{below} are {size_text(1 << table_shift)} and aligned to it: the field must start "
                      f"at or below bit {table_shift}", f.span, note)
        else:
            bag.error("E0409", f"pointer map `{text}` of '{name}' starts at address bit {low}, but the tables of "
                      f"{below} are {size_text(1 << table_shift)} and aligned to it: the map must start at or "
                      f"below bit {table_shift}", span, note)
        return
    holes = [b for b in range(table_shift, top) if b not in covered]
    if holes:
        bag.error("E0409", f"pointer map `{text}` of '{name}' leaves {_bits_text(holes)} unset below its top bit "
                  f"{top}: no table could be placed there; make the terms meet", span, note)


def _nested_access(spec: ir.Spec, nest: ir.Nested, bag: DiagnosticBag) -> None:
    """A `table`/`final`/`update access` map must give the host an access its exclusive
    kinds allow (E0430), for every guest access the guest's own groups allow and every
    value of its 1-bit accumulators. A map that reads a context register is decided
    when the model runs, and is not judged here."""
    import itertools

    from codegen.ir.expr import evaluate

    guest, host = spec.regime(nest.guest), spec.regime(nest.host)
    if not host.access_groups:
        return
    accs = [a.name for a in guest.accumulators if a.width == 1]
    combos = [dict(zip(guest.access, bits)) for bits in itertools.product((0, 1), repeat=len(guest.access))]
    combos = [c for c in combos if ir.access_ok(guest.access_groups, c)]
    for stage, binds in (("table", nest.table_access), ("final", nest.final_access), ("update", nest.update_access)):
        if not binds or any(r.kind not in ("access", "acc") or (r.kind == "acc" and r.name not in accs)
                            for b in binds for r in b.value.refs()):
            continue
        bad = None
        for access in combos:
            for acc_bits in itertools.product((0, 1), repeat=len(accs)):
                acc = dict(zip(accs, acc_bits))
                got = {b.name: evaluate(b.value, lambda r: access[r.name] if r.kind == "access" else acc[r.name]) & 1
                       for b in binds}
                if not ir.access_ok(host.access_groups, got):
                    bad = (access, got)
                    break
            if bad:
                break
        if bad is None:
            continue
        access, got = bad
        group = next(g for g in host.access_groups if not ir.access_ok((g,), got))
        on = [k for k in group.kinds if got.get(k)]
        rule = ("exactly one" if group.exactly else "at most one") + " of " + ", ".join(group.kinds)
        when = ", ".join(f"{k} = {v}" for k, v in access.items() if v) or "no access kind set"
        span = next((b.span for b in binds if b.name in on), binds[0].span)
        bag.error("E0430", f"the {stage} access of nested '{nest.name}' gives host regime '{host.name}' "
                  f"{' and '.join(on) or 'none'} (guest access: {when}): expected {rule}, not "
                  f"{'none' if not on else 'two'}", span, (f"the kinds are grouped here", group.span))


def _table_bits(reg: ir.Regime, lv: ir.Level) -> int:
    """log2 of the bytes of a table of `lv`: its entries times the entry size."""
    return (reg.entry_bytes << (lv.index_hi - lv.index_lo + 1)).bit_length() - 1


def _smallest_target(reg: ir.Regime, lv: ir.Level, ordered) -> tuple[int, ir.Level] | None:
    """(log2 of the alignment, level) of the tables a pointer at `lv` can lead to: the
    level below, or with `next level` any level below (levels may be skipped). The
    smallest table, so that a pointer whose tables differ in size is refused only when
    it is wrong for every one of them; and no more than the smallest page, since a table
    larger than a page need only be page-aligned (the walker adds the index to it)."""
    if reg.next_level is None:
        targets = [x for x in ordered if x.number == lv.number - 1]
    else:
        targets = [x for x in ordered if x.number < lv.number]
    if not targets:
        return None
    bits, target = min(((_table_bits(reg, x), x) for x in targets), key=lambda t: t[0])
    page = min((x.page_shift for x in ordered if x.leaf), default=bits)
    return min(bits, page), target


def _nested_widths(spec: ir.Spec, nest: ir.Nested, bag: DiagnosticBag) -> None:
    """Every address the guest walk produces (its pointer and frame fields) is an input of
    the host walk, so it must fit the host's input: a wider one has no host translation."""
    guest, host = spec.regime(nest.guest), spec.regime(nest.host)
    maps = [(guest.pointer, lv.table) for lv in guest.levels if lv.table]
    maps += [(guest.frame_of(lv), lv.leaf) for lv in guest.levels if lv.leaf]
    fields = []  # (top address bit, field, format)
    for terms, name in maps:
        lay = spec.layout(name)
        for t in terms:
            piece = t.piece(lay)
            if piece is not None:
                fields.append((piece[2] + piece[1] - 1, lay.field(t.field), lay))
    if not fields:
        return
    top, widest, lay = max(fields, key=lambda item: item[0])
    if top + 1 > host.input_width:
        bag.error("E0417", f"guest regime '{guest.name}' produces {top + 1}-bit addresses (field "
                  f"'{widest.name}' of '{lay.name}' reaches bit {top}) but host regime '{host.name}' "
                  f"translates {host.input_width}-bit inputs; widen the host's input or narrow the guest's "
                  f"address fields (for a host stage that faults on the high bits, declare `input NAME : {top + 1};` "
                  "and refuse them with `fault NAME at input when ...`)", nest.span, (f"field '{widest.name}' of '{lay.name}'", widest.span),
                  (f"host regime '{host.name}'", host.span))


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


def identifier_message(what: str, name: str, why: str) -> str:
    """The E0202 message: the rule, the name, and a name that would do."""
    fix = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name)).strip("_")
    fix = fix if fix[:1].isalpha() else f"n{fix}"
    if identifier_problem(fix):
        fix = f"{fix}_{what.split()[-1]}"
    return (f"{what} name '{name}' {why}; spec names become names in the generated Python, Verilog and VHDL: "
            f"rename it, e.g. '{fix}'")


def _names(spec: ir.Spec, bag: DiagnosticBag) -> None:
    seen: dict[str, Span] = {}
    # parameters are scoped to their file (an importer names them alias.NAME), so only
    # the declarations that share one namespace after flattening may not clash
    for kind, items in (("enum", spec.enums), ("layout", spec.layouts),
                        ("regime", spec.regimes), ("nested", spec.nested), ("unit", spec.units)):
        for item in items:
            if item.name in seen and seen[item.name] != item.span:
                bag.error("E0201", f"{kind} '{item.name}' clashes with another declaration of the same name (formats, "
                          "registers, enums, regimes and units of all imported files share one namespace): rename one",
                          item.span, ("the other declaration", seen[item.name]))
            seen.setdefault(item.name, item.span)
    checked: set[tuple[str, Span]] = set()

    def ident(name: str, span: Span, what: str) -> None:
        if (name, span) in checked:
            return
        checked.add((name, span))
        why = identifier_problem(name)
        if why:
            bag.error("E0202", identifier_message(what, name, why), span)

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
        for x in unit.structures + unit.bitmaps + unit.walks + unit.calls + unit.exits:
            ident(x.name, x.span, {ir.Structure: "structure", ir.Bitmap: "bitmap", ir.Walk: "walk",
                                   ir.Call: "call"}.get(type(x), "exit"))


def _record_names(rec: ir.Record, ident) -> None:
    ident(rec.name, rec.span, "record")
    for f in rec.fields:
        ident(f.name, f.span, "record field")
        for b in f.bits:
            ident(b.name, b.span, "record bits")


# What a unit can read of a walk besides the regime's fault kinds and record fields
# (elaborate_unit.walk_members): each becomes the variable and signal wk_WALK_NAME.
WALK_RESULTS = ("walked", "ok", "pa", "level", "fault")


# What a unit reads of a walk of a nested composition besides its fault kinds (the
# guest's as they are, the host's behind `host_`) and its record fields: `guest_pa` is the
# guest-physical address the guest stage gave (what a check after the walk, such as a
# reverse map, compares), `host_level` the host leaf's level (or the host fault's),
# `host_fault` the host fault's number.
NESTED_RESULTS = ("walked", "ok", "pa", "guest_pa", "level", "host_level", "fault", "host_fault")


def nested_members(nest: ir.Nested, guest: ir.Regime, host: ir.Regime) -> dict[str, int]:
    """What a unit can read of a walk of nested composition `nest` (NESTED_RESULTS, one
    truth per guest fault kind and per host fault kind as host_KIND, and the fields of
    the record the fault reported: the guest's first record on a guest fault, the
    composition's on a host fault, a name both have being one member); a level with none
    (a switched-off stage, a host fault on the final address) reads as all ones."""
    top = max([max(lv.number, lv.shown) for lv in guest.levels + host.levels] + [1])
    lw = max(3, (top + 1).bit_length())
    out = dict(zip(NESTED_RESULTS, (1, 1, 64, host.input_width, lw, lw, 8, 8)))
    out.update({k: 1 for k in guest.fault_kinds})
    out.update({f"host_{k}": 1 for k in host.fault_kinds})
    for f in guest.record.fields + nest.record.fields:
        out[f.name] = max(out.get(f.name, 0), f.width)
    return out


def walk_identifiers(walk: ir.Walk, regime: ir.Regime) -> list[tuple[str, str]]:
    """(identifier, what it holds) for every name the generated unit code makes by
    joining a walk's name to something else, as unit_reference.py.j2 and
    unit_model.py.j2 spell them (tests/test_injection.py checks the two agree): the
    walk results wk_W_M, the walker's ports unit_W_*, its block walker_unit_W and the
    signals MyHDL flattens out of that block as walker_unit_W0_*, the reference's
    walk_unit_W and record_unit_W."""
    w = walk.name
    members = [*WALK_RESULTS, *regime.fault_kinds, *(f.name for f in regime.record.fields), *walk.accs]
    ports = ["start", "done", "i_addr", "m_valid", "m_we", "m_size", "m_addr", "m_wdata", "o_status", "o_level", "o_aux",
             "o_pa", *(f"k_{a}" for a in regime.access), *(f"r_{c}" for c in regime.context),
             *(f"o_r_{f.name}" for f in regime.record.fields), *(f"o_a_{a}" for a in walk.accs)]
    inner = ["st", "lvl", "ea", "le", "fault_k", "flevel", *(f"a_{a.name}" for a in regime.accumulators),
             *(f"{p}_{lv.number}" for lv in regime.levels for p in ("pend", "sa", "se")),
             # the request the walker holds until the memory takes it (hdl_macros.j2, `_h`)
             *(f"{p}_h" for p in ("m_valid", "m_we", "m_size", "m_addr", "m_wdata"))]
    return ([(f"wk_{w}_{m}", f"'{w}.{m}'") for m in members]
            + [(f"unit_{w}", "the walker instance")] + [(f"unit_{w}_{p}", f"walker port '{p}'") for p in ports]
            + [(f"walker_unit_{w}", "the walker block"), (f"walk_unit_{w}", "the reference walker"),
               (f"record_unit_{w}", "the reference record")]
            + [(f"walker_unit_{w}0_{s}", f"walker signal '{s}'") for s in inner])


def _generated_names(spec: ir.Spec, bag: DiagnosticBag) -> None:
    """E0416: two names of the spec that become one identifier of the generated code.

    Generated code spells each spec name behind a prefix that says its kind (k_ access
    kinds, r_ context registers, a_ and v_ accumulators, o_r_ record fields, e_ event
    fields...), so names of different kinds never meet and keywords of every target are
    escaped. Two ways remain for distinct names to meet: VHDL ignores case (record
    fields `code` and `CODE` are both port o_r_code), and a walk's name is joined to
    its members with '_' (walk `a` with result `b_c` and walk `a_b` with result `c`
    are both wk_a_b_c; a record field `pa` is the walk result `pa`)."""

    def case_group(items, what: str, where: str) -> None:
        """items: (name, span); names equal but for case (exact repeats are E0201)."""
        first: dict[str, tuple[str, Span]] = {}
        for name, span in items:
            other = first.setdefault(name.lower(), (name, span))
            if other[0] != name:
                bag.error("E0416", f"{what} '{name}' and '{other[0]}' {where} differ only in case; VHDL ignores "
                          "case, so they would be one identifier in the generated model: rename one", span,
                          (f"'{other[0]}' is declared here", other[1]))

    def registers(names) -> list[tuple[str, Span]]:
        return [(n, spec.layout(n).span) for n in names]

    for reg in spec.regimes:
        if reg.instance_of and not reg.instance_adds:
            continue
        where = f"of regime '{reg.name}'"
        case_group([(a, reg.span) for a in reg.access], "access kinds", where)
        case_group(registers(reg.context), "context registers", where)
        case_group([(a.name, a.span) for a in reg.accumulators], "accumulators", where)
        case_group([(f.name, f.span) for f in reg.record.fields], "record fields", where)
    for nest in spec.nested:
        where = f"of nested '{nest.name}'"
        case_group(registers(nest.context), "context registers", where)
        case_group([(f.name, f.span) for f in nest.record.fields], "record fields", where)
    for unit in spec.units:
        where = f"of unit '{unit.name}'"
        case_group([(f.name, f.span) for f in unit.event], "event fields", where)
        case_group(registers(unit.context), "context registers", where)
        case_group([(f.name, f.span) for f in unit.record.fields], "record fields", where)
        case_group([(x.name, x.span) for x in unit.structures + unit.bitmaps + unit.walks + unit.calls],
                   "structures, bitmaps, walks and calls", where)
        results: dict[str, tuple[ir.Call, str]] = {}
        for call in unit.calls:
            for member in call.members:
                ident = f"cl_{call.name}_{member}"
                other = results.setdefault(ident.lower(), (call, member))
                if other[0] is not call:
                    bag.error("E0487", f"expected the results of call '{call.name}' to be identifiers of their own in "
                              f"the generated model, not '{call.name}.{member}' and '{other[0].name}.{other[1]}', "
                              f"which both become '{ident}' (names are joined with '_', and VHDL ignores case): "
                              "rename one of the calls", call.span, (f"call '{other[0].name}'", other[0].span))
                    break
        made: dict[str, tuple[ir.Walk, str]] = {}
        for walk in unit.walks:
            if walk.nested:
                # its members are distinct (E0496); its walkers are the one guest and host pair
                nest = next(n for n in spec.nested if n.name == walk.regime)
                for m in [*nested_members(nest, spec.regime(nest.guest), spec.regime(nest.host)), *walk.accs]:
                    made.setdefault(f"wk_{walk.name}_{m}".lower(), (walk, f"'{walk.name}.{m}'"))
                continue
            regime = spec.regime(walk.regime)
            members: dict[str, tuple[str, Span]] = {}
            for name, what, span in ([(r, "a walk result", walk.span) for r in WALK_RESULTS]
                                     + [(r.name, "a fault kind", r.span) for r in regime.faults + regime.checks]
                                     + [(f.name, "a record field", f.span) for f in regime.record.fields]):
                other = members.setdefault(name.lower(), (f"{what} '{name}'", span))
                if other[1] != span:
                    bag.error("E0416", f"walk '{walk.name}': {what} '{name}' of regime '{regime.name}' and "
                              f"{other[0]} are both read as '{walk.name}.{name}' (VHDL ignores case): rename the "
                              f"{what.split(' ', 1)[1]}", span, ("the walk", walk.span))
            for ident, what in walk_identifiers(walk, regime):
                other = made.setdefault(ident.lower(), (walk, what))
                if other[0] is not walk:
                    bag.error("E0416", f"walk '{walk.name}' ({what}) and walk '{other[0].name}' ({other[1]}) both "
                              f"become '{ident}' in the generated model, as spec names are joined with '_': "
                              "rename one of the walks", walk.span, (f"walk '{other[0].name}'", other[0].span))
                    break


def bits_text(hi: int, lo: int) -> str:
    """A bit range as the spec writes it: [7] or [11:8]."""
    return f"[{hi}]" if hi == lo else f"[{hi}:{lo}]"


def size_text(n: int) -> str:
    """A page size as the spec writes it: 4K, 2M, 1G."""
    for suffix, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{suffix}"
    return str(n)


def _overlaps(items, width: int, what: str, bag: DiagnosticBag, taken=(), reported: set | None = None) -> None:
    """items: (name, hi, lo, span) in source order, each checked against the width and
    against `taken` and the items before it: the later item is the error, the earlier the note.
    `reported` (shared by the layouts) keeps a field that several formats include from
    being reported once per format."""
    taken: list[tuple[str, int, int, Span]] = list(taken)
    reported = set() if reported is None else reported
    for name, hi, lo, span in items:
        if hi < lo:
            continue
        if hi >= width:
            if ("E0401", span) not in reported:
                bag.error("E0401", f"{name} {bits_text(hi, lo)} goes past the {width}-bit width of {what}, whose "
                          f"bits are [{width - 1}:0]: fix the bit numbers, or the width", span)
            reported.add(("E0401", span))
            continue
        for oname, ohi, olo, ospan in taken:
            if lo <= ohi and olo <= hi:
                if ("E0402", span, ospan) not in reported:
                    bag.error("E0402", f"{name} {bits_text(hi, lo)} overlaps {oname} {bits_text(ohi, olo)} in {what}: "
                              "each bit has one meaning; give each its own bits", span,
                              (f"{oname} is declared here", ospan))
                reported.add(("E0402", span, ospan))
                break
        taken.append((name, hi, lo, span))


def _layout(lay: ir.Layout, bag: DiagnosticBag, reported: set | None = None) -> None:
    reported = set() if reported is None else reported
    seen: dict[str, Span] = {}
    for f in lay.fields:
        if f.name in seen and ("E0201", f.span, seen[f.name]) not in reported:
            bag.error("E0201", f"field '{f.name}' is defined twice in {lay.kind} '{lay.name}'; rename or delete one "
                      "of them", f.span, ("first defined here", seen[f.name]))
            reported.add(("E0201", f.span, seen[f.name]))
        seen.setdefault(f.name, f.span)

    def source_order(item):  # included fields of another file first
        return item[3].path == lay.span.path, item[3].line, item[3].col

    what = f"{lay.kind} '{lay.name}'"
    fields = [(f"field '{f.name}'", f.hi, f.lo, f.span) for f in lay.fields]
    static = [(f"{r.kind} range", r.hi, r.lo, r.span) for r in lay.ranges if r.when is None]
    # fields against fields and ranges against ranges; a field inside a declared range
    # is only a warning (W0102, codegen/frontend/lint.py)
    _overlaps(sorted(fields, key=source_order), lay.width, what, bag, reported=reported)
    _overlaps(sorted(static, key=source_order), lay.width, what, bag, reported=reported)
    # A conditional reserved range may cover ignored bits (ignored unless the condition
    # holds), but no field: a field that is sometimes reserved says `reserved if`.
    # Each is checked against the fields alone, so field errors are not reported again.
    inside = [f for f in fields if f[1] < lay.width]
    for r in lay.ranges:
        if r.when is not None and r.low is None:  # a run-time bound may cover the address field
            _overlaps([("conditional reserved range", r.hi, r.lo, r.span)], lay.width, what, bag, taken=inside)
            _conditional_precedence(r, lay, what, bag, reported)


def _conditional_precedence(r: ir.BitRange, lay: ir.Layout, what: str, bag: DiagnosticBag, reported: set) -> None:
    """A `reserved [R] if COND` range is reserved while COND holds and ignored while it
    does not (docs/language.md 2): that is the whole precedence rule, so no bit of it may
    also be declared `ignored` (E0326: which one wins would be the reader's guess) or
    `reserved` without a condition (E0327: COND would never matter)."""
    for o in lay.ranges:
        if o.when is not None or not (r.lo <= o.hi and o.lo <= r.hi) or (r.span, o.span) in reported:
            continue
        reported.add((r.span, o.span))
        lo, hi = max(r.lo, o.lo), min(r.hi, o.hi)
        if o.kind == "ignored":
            bag.error("E0326", f"expected bits {bits_text(hi, lo)} of {what} to be either `ignored` or `reserved if "
                      "COND`, not both: a `reserved if` range is already ignored while its condition does not hold; "
                      f"drop {bits_text(hi, lo)} from the `ignored` range", r.span,
                      ("the `ignored` range is declared here", o.span))
        elif o.kind == "reserved":
            bag.error("E0327", f"expected bits {bits_text(hi, lo)} of {what} to be either `reserved` or `reserved if "
                      "COND`, not both: an unconditional `reserved` range is reserved whatever the condition; drop "
                      "one of the two", r.span, ("the unconditional range is declared here", o.span))


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


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
        bag.error("E0306", f"{where} has no levels: add one `level N NAME {{ index {reg.input_name}[HIGH:LOW]; "
                  "table FORMAT; }` per level of the walk, the last with `leaf FORMAT page SIZE;`", reg.span)
        return
    reported: set = set()  # a format used at several levels is reported once per problem

    def once(*key) -> bool:
        new = key not in reported
        reported.add(key)
        return new

    numbers: dict[int, Span] = {}  # by the spec's numbers
    order = "up by one from the root" if reg.flip else "down by one from the top"
    for lv in reg.levels:
        if lv.shown in numbers:
            bag.error("E0201", f"level {lv.shown} is defined twice in {where}; number the levels {order}",
                      lv.span, ("first defined here", numbers[lv.shown]))
        numbers.setdefault(lv.shown, lv.span)
    ordered = list(reg.levels)
    for lv in ordered:
        if lv.index_hi >= reg.input_width:
            bag.error("E0404", f"index [{lv.index_hi}:{lv.index_lo}] of level '{lv.name}' is past the "
                      f"{reg.input_width}-bit input '{reg.input_name}', whose bits are [{reg.input_width - 1}:0]: "
                      f"fix the slice, or widen the input (`input {reg.input_name} : {lv.index_hi + 1};`)", lv.span)
    for upper, lower in zip(ordered, ordered[1:]):
        if upper.number == lower.number:
            continue  # reported above as defined twice
        if upper.number != lower.number + 1:
            step = 1 if reg.flip else -1
            bag.error("E0405", f"levels {upper.shown} and {lower.shown} are not consecutive: level numbers go "
                      f"{order.split(' from')[0]}, so the level below level {upper.shown} is level "
                      f"{upper.shown + step}", lower.span, (f"level '{upper.name}' is declared here", upper.span))
        elif upper.index_lo != lower.index_hi + 1:
            gap = upper.index_lo > lower.index_hi
            kind, hi, lo = (("leaves a gap after", upper.index_lo - 1, lower.index_hi + 1) if gap
                            else ("overlaps", lower.index_hi, upper.index_lo))
            bits = f"bit {hi} of '{reg.input_name}' is" if hi == lo else f"bits [{hi}:{lo}] of '{reg.input_name}' are"
            bag.error("E0405", f"index [{lower.index_hi}:{lower.index_lo}] of level '{lower.name}' {kind} "
                      f"index [{upper.index_hi}:{upper.index_lo}] of level '{upper.name}': {bits} in "
                      f"{'neither' if gap else 'both'}; each index starts right above the one below it, e.g. "
                      f"{reg.input_name}[{upper.index_lo - 1}:{lower.index_lo}] here", lower.span,
                      (f"level '{upper.name}' is declared here", upper.span))
    for start in _constant_choices(reg.start_written or reg.start):
        if start.value not in numbers:
            bag.error("E0304", f"start level {start.value} is not a level of {where}; its levels are "
                      f"{', '.join(str(n) for n in numbers)}: start at one of them, usually the top one",
                      start.span)
    if not ordered[-1].leaf:
        last = ordered[-1]
        bag.error("E0407", f"the last level '{last.name}' of {where} needs a leaf format, or no walk would end: "
                  f"add `leaf FORMAT page {size_text(1 << last.index_lo)};`", last.span)
    for lv in ordered:
        page_ok = True
        if lv.leaf and lv.page_shift != lv.index_lo and lv.page_shift_expr is None:
            page_ok = False
            bag.error("E0406", f"page {size_text(1 << lv.page_shift)} of level '{lv.name}' disagrees with its index "
                      f"[{lv.index_hi}:{lv.index_lo}]: the index starts at bit {lv.index_lo}, so an entry at this "
                      f"level maps 2^{lv.index_lo}-byte pages; write `page {size_text(1 << lv.index_lo)}`", lv.span)
        if lv.leaf and lv.table and lv.leaf_when is None:
            bag.error("E0306", f"level '{lv.name}' has a table format '{lv.table}' and a leaf format '{lv.leaf}' "
                      f"but nothing that tells an entry's kind: write `leaf {lv.leaf} when COND page "
                      f"{size_text(1 << lv.page_shift)};`, COND true for a leaf (e.g. a page-size bit)", lv.span)
        for name, role in ((lv.table, "table"), (lv.leaf, "leaf")):
            if not name:
                continue
            lay = spec.layout(name)
            if lay.width != reg.entry_bytes * 8 and once("E0410", name):
                bag.error("E0410", f"format '{name}' is {lay.width} bits but entries of {where} are "
                          f"{reg.entry_bytes} bytes ({reg.entry_bytes * 8} bits): make the format "
                          f"{reg.entry_bytes * 8} bits wide, or fix the regime's `entry BYTES;`", lv.span,
                          (f"format '{name}' is declared here", lay.span))
            terms = reg.pointer if role == "table" else reg.frame_of(lv)
            _addr_map(spec, reg, lv, lay, role, terms, ordered, page_ok, where, bag, once)
            for cond, _mask in lay.mbz_conditional():
                for ref in _fields_in(cond, "ctx"):
                    if ref.name not in reg.context and once("E0310", name, ref.name):
                        bag.error("E0310", f"format '{name}' depends on register '{ref.name}', which {where} "
                                  f"does not list under 'context': add it, `context "
                                  f"{', '.join((*reg.context, ref.name))};`", ref.span,
                                  (f"{where} is declared here", reg.span))
            roles = [e for r in reg.faults_for(role == "leaf", name) for e in _fields_in(r.when, "field")]
            roles += [e for a in reg.accumulators_for(role == "leaf") for e in _fields_in(a.then, "field")]
            for ref in roles:
                if lay.field(ref.name) is None and once("E0301", name, ref.span):
                    bag.error("E0301", f"field '{ref.name}' is not in format '{name}' used at level '{lv.name}': a "
                              "fault or accumulator reads its fields in every entry it applies to; add the field, "
                              "or limit the fault or accumulator with `at leaf` or `at table` (a fault `at leaf FORMAT`: one format)", ref.span,
                              (f"format '{name}' is declared here", lay.span))
        if lv.leaf and lv.leaf_when is not None:
            for ref in _fields_in(lv.leaf_when, "field"):
                if lv.table and spec.layout(lv.table).field(ref.name) is not None:
                    a, b = spec.layout(lv.table).field(ref.name), spec.layout(lv.leaf).field(ref.name)
                    if (a.hi, a.lo) != (b.hi, b.lo):
                        bag.error("E0402", f"'{ref.name}' decides table or leaf at level '{lv.name}' but is "
                                  f"{bits_text(a.hi, a.lo)} in '{lv.table}' and {bits_text(b.hi, b.lo)} in "
                                  f"'{lv.leaf}': it is read before the kind is known, so put it at the same bits "
                                  "in both", ref.span, (f"'{ref.name}' of '{lv.table}'", a.span),
                                  (f"'{ref.name}' of '{lv.leaf}'", b.span))
    for r in reg.checks:
        for ref in _fields_in(r.when, "leaf"):
            for lv in reg.leaf_levels:
                if spec.layout(lv.leaf).field(ref.name) is None and once("E0301", lv.leaf, ref.span):
                    bag.error("E0301", f"field '{ref.name}' is not in leaf format '{lv.leaf}': a check reads "
                              "`leaf.F` in every leaf format of the regime; add the field to it", ref.span,
                              (f"format '{lv.leaf}' is declared here", spec.layout(lv.leaf).span))
    for ref in [r for f in reg.record.fields for e in [f.value, *(b.value for b in f.bits)] if e is not None
                for r in _fields_in(e, "leaf")]:
        leaves = sorted((spec.layout(n) for n in dict.fromkeys(lv.leaf for lv in reg.leaf_levels)),
                        key=lambda lay: (lay.span.path, lay.span.line, lay.span.col))
        held = [(lay, lay.field(ref.name)) for lay in leaves]
        if len({(f.hi, f.lo) for _, f in held if f}) > 1 or any(f is None for _, f in held):
            where_is = _and([f"{bits_text(f.hi, f.lo)} in '{lay.name}'" if f else f"not in '{lay.name}'"
                             for lay, f in held])
            bag.error("E0412", f"the record reads 'leaf.{ref.name}', which must sit at the same bits in every "
                      f"leaf format, as the record does not know which leaf was found; it is {where_is}: put it at "
                      "the same bits in each", ref.span,
                      *((f"'{ref.name}' of '{lay.name}'", f.span) if f else (f"format '{lay.name}'", lay.span)
                        for lay, f in held))
    for u in reg.updates:
        _update(spec, reg, u, bag, once)
    _record(reg.record, bag)


def _caches(spec: ir.Spec, caches: tuple[ir.Cache, ...], stage: ir.Regime, bag: DiagnosticBag) -> None:
    """`global when` is decided on the leaf entry the walk of the input stage `stage`
    ended on, whichever it was: each `leaf.F` it reads is in every leaf format (E0301,
    the rule of a check's `leaf.F`)."""
    for cache in caches:
        seen = set()
        for ref in _fields_in(cache.global_when, "leaf"):
            for lv in stage.leaf_levels:
                if spec.layout(lv.leaf).field(ref.name) is None and (lv.leaf, ref.name) not in seen:
                    seen.add((lv.leaf, ref.name))
                    bag.error("E0301", f"field '{ref.name}' is not in leaf format '{lv.leaf}': `global when` of "
                              f"cache '{cache.name}' reads `leaf.F` in every leaf format of regime '{stage.name}'; "
                              "add the field to it", ref.span,
                              (f"format '{lv.leaf}' is declared here", spec.layout(lv.leaf).span))


def _update(spec: ir.Spec, reg: ir.Regime, u: ir.Update, bag: DiagnosticBag, once) -> None:
    """`set F [= V] at ... [as used] [when C]`: F in every entry it writes (one bit unless
    a value is given, and the value fits it), the fields it reads there too, and an
    `as used` write must not change what decided the entry's faults or its kind."""
    names = [n for lv in reg.levels for n, leaf in ((lv.table, False), (lv.leaf, True)) if n and u.applies(leaf)]
    rule = f"'set {u.field}{' = ...' if u.value is not None else ''} at {u.where}{' as used' if u.used else ''}'"
    if u.where == "table" and not names:
        bag.error("E0317", f"{rule} updates table entries, but no level of regime '{reg.name}' has a `table` "
                  "format: expected a regime with table entries; write `at leaf` or `at each level`", u.span,
                  (f"regime '{reg.name}' is declared here", reg.span))
        return
    for name in dict.fromkeys(names):
        lay = spec.layout(name)
        f = lay.field(u.field)
        if f is None:
            bag.error("E0411", f"{rule} writes field '{u.field}' of every entry it updates, but there "
                      f"is no '{u.field}' in format '{name}'", u.span,
                      (f"format '{name}' is declared here", lay.span))
            continue
        if u.value is None and f.width != 1 and once("E0411", f.span):
            bag.error("E0411", f"{rule} sets one bit, but '{u.field}' is {f.width} bits "
                      f"{bits_text(f.hi, f.lo)} in format '{name}': make it a 1-bit field, or give the value "
                      f"with `set {u.field} = VALUE at ...`", u.span,
                      (f"'{u.field}' is declared here", f.span))
        if u.value is not None:
            if u.value.op == "num" and u.value.value >> f.width and once("E0425", u.span):
                bag.error("E0425", f"{rule} writes {u.value.value}, which does not fit '{u.field}' "
                          f"{bits_text(f.hi, f.lo)} of format '{name}': expected a value of at most {f.width} "
                          f"bit{'s' if f.width > 1 else ''}, not {u.value.value.bit_length()}", u.value.span,
                          (f"'{u.field}' is declared here", f.span))
            elif u.value.op != "num" and u.value.width > f.width and once("E0427", u.span):
                bag.error("E0427", f"{rule} writes a {u.value.width}-bit value into the {f.width}-bit field "
                          f"'{u.field}' of format '{name}': expected a value of at most {f.width} "
                          f"bit{'s' if f.width > 1 else ''}, not {u.value.width}; take the bits you mean "
                          f"(`VALUE[{f.width - 1}:0]`)" if f.width > 1 else
                          f"{rule} writes a {u.value.width}-bit value into the 1-bit field '{u.field}' of "
                          f"format '{name}': expected a value of at most 1 bit, not {u.value.width}; write a "
                          "truth value (`VALUE != 0`)", u.value.span, (f"'{u.field}' is declared here", f.span))
        for e in (u.when, u.value):
            for ref in _fields_in(e, "field"):
                if lay.field(ref.name) is None and once("E0316", name, ref.span):
                    bag.error("E0316", f"{rule} reads field '{ref.name}', but format '{name}', which it "
                              f"updates, has no '{ref.name}': expected a field of every entry it writes; add the "
                              "field, or limit the update with `at table` or `at leaf`", ref.span,
                              (f"format '{name}' is declared here", lay.span))
    if not u.used:
        return
    for lv in reg.levels:
        for name, leaf in ((lv.table, False), (lv.leaf, True)):
            if not name or not u.applies(leaf):
                continue
            f = spec.layout(name).field(u.field)
            reads = [(f"fault '{r.name}'", ref) for r in reg.faults_for(leaf) for ref in _fields_in(r.when, "field")]
            if lv.leaf and lv.table and lv.leaf_when is not None:
                reads += [(f"the leaf condition of level '{lv.name}'", ref) for ref in _fields_in(lv.leaf_when, "field")]
            for what, ref in reads:
                g = spec.layout(name).field(ref.name)
                if f is not None and g is not None and g.lo <= f.hi and f.lo <= g.hi and once("E0426", u.span):
                    bag.error("E0426", f"{rule} writes '{u.field}' as soon as the entry passed its faults, but "
                              f"{what} reads '{ref.name}' of the same entry: expected an as-used update of bits "
                              "that no fault and no leaf condition reads (they are decided before the write); "
                              "drop `as used`, or update another field", u.span, (f"{what} reads it here", ref.span))


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
                          f"{st.size:#x}-byte size of structure '{st.name}': fix the offset, or make the structure "
                          "larger", f.span, (f"structure '{st.name}' is declared here", st.span))
                continue
            if f.lo + f.width > 64:
                last = f.offset + (f.width + 7) // 8 - 1
                bag.error("E0413", f"field '{f.name}' at byte {f.offset:#x} ({f.width} bits) crosses an aligned "
                          f"8-byte word: it spans bytes {f.offset:#x}..{last:#x}, but structures are read in aligned "
                          "64-bit words; split it into fields of one word each, or align it", f.span)
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
                      f"{target.width} bits at byte {target.offset:#x}; a store needs a whole aligned 64-bit word: "
                      "store it to a 64-bit field at an offset that is a multiple of 8",
                      f.span, (f"'{'.'.join(f.store)}' is declared here", target.span))
        elif f.store in stored:
            bag.error("E0414", f"two record fields are stored to '{'.'.join(f.store)}', and each store writes the "
                      "whole word: store one of them elsewhere", f.span, ("the other store", stored[f.store]))
        stored.setdefault(f.store, f.span)
    for b in unit.bitmaps:
        if b.span_bits.op == "num" and b.span_bits.value > b.width:
            bag.error("E0415", f"bitmap '{b.name}' spans {b.span_bits.value} bits but is {b.width} bits wide, "
                      f"and a lookup gives at most its width: make it `bitmap {b.name} : {b.span_bits.value} ...`, "
                      f"or span at most {b.width} bits", b.span_bits.span)
    widths = {f.name: f.width for f in unit.record.fields}
    for x in unit.exits:
        for a in x.assigns:
            _overlaps([(f"bits '{b.name}'", b.hi, b.lo, b.span) for b in a.bits], widths[a.field],
                      f"record field '{a.field}'", bag)
