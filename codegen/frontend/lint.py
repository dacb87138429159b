"""Warnings on a valid spec: things that compile but are probably not what the author
meant. Each has a W code in catalogue.toml and can be waived in pyproject.toml.

Only the declarations of the file being compiled are warned about: an imported file
gets its own warnings when it is checked itself.
"""
from __future__ import annotations

from codegen import ir
from codegen.frontend.checks import bits_text
from codegen.frontend.diagnostics import DiagnosticBag, Span


def lint(spec: ir.Spec, used: set[tuple[str, ...]], bag: DiagnosticBag) -> None:
    """Report every warning of `spec`; `used` is what its expressions read (Module.used)."""
    own = spec.path
    found = DiagnosticBag()
    _unused_params(spec, used, own, found)
    for lay in spec.layouts:
        if lay.span.path == own:
            _fields_in_ranges(lay, found)
    _unused_fields(spec, used, own, found)
    _citations(spec, own, found)
    # in file order, as a reader goes through the spec
    bag.items += sorted(found.items, key=lambda d: (d.span.line, d.span.col, d.code))


def _unused_params(spec: ir.Spec, used, own: str, bag: DiagnosticBag) -> None:
    for p in spec.params:
        if p.span.path == own and ("param", own, p.name) not in used:
            bag.warning("W0101", f"parameter '{p.name}' is never used; delete it or use it where its value "
                        "is written out", p.span)


def _fields_in_ranges(lay: ir.Layout, bag: DiagnosticBag) -> None:
    for f in lay.fields:
        for r in lay.ranges:
            if r.when is None and r.lo <= f.hi and f.lo <= r.hi and r.hi >= r.lo:
                bits = bits_text(f.hi, f.lo)
                meaning = "must be zero" if r.kind == "reserved" else "carry no meaning"
                bag.warning("W0102", f"field '{f.name}' {bits} lies in the {r.kind} range {bits_text(r.hi, r.lo)} "
                            f"of {lay.kind} '{lay.name}', whose bits {meaning}; shrink the range, or write "
                            f"'{f.name} {bits} reserved if COND;' for a field reserved in some modes",
                            f.span, (f"the {r.kind} range", r.span))
                break


def _implicitly_used(spec: ir.Spec) -> set[tuple[str, str]]:
    """(layout, field) pairs the walker itself reads: pointer, frame and update fields
    of each regime's formats, and fields that are reserved under a condition."""
    out: set[tuple[str, str]] = set()
    for reg in spec.regimes:
        for lv in reg.levels:
            # `leaf F when COND` reads COND's fields from the entry before it knows its format
            deciders = {r.name for r in lv.leaf_when.refs() if r.kind == "field"} if lv.leaf_when else set()
            for name in (lv.table, lv.leaf):
                if name:
                    out |= {(name, f) for f in reg.address_fields()} | {(name, u.field) for u in reg.updates}
                    out |= {(name, d) for d in deciders}
    for lay in spec.layouts:
        out |= {(lay.name, f.name) for f in lay.fields if f.reserved_if is not None}
    return out


def _unused_fields(spec: ir.Spec, used, own: str, bag: DiagnosticBag) -> None:
    """A field declaration is used when any format holding it (its own, or one that
    includes it) has it read; each unused declaration is reported once."""
    read = {(k[2], k[3]) for k in used if k[0] == "field"} | _implicitly_used(spec)
    holders: dict[Span, list[tuple[ir.Layout, ir.Field]]] = {}
    for lay in spec.layouts:
        if lay.kind == "format":
            for f in lay.fields:
                holders.setdefault(f.span, []).append((lay, f))
    for span, held in holders.items():
        if span.path != own or any((lay.name, f.name) in read for lay, f in held):
            continue
        f = held[0][1]
        names = ", ".join(f"'{lay.name}'" for lay, _ in held)
        bag.warning("W0103", f"field '{f.name}' (in format{'s' if len(held) > 1 else ''} {names}) is never read "
                    "by any rule; use it, or waive W0103 if it is documentation only", span)


def _citations(spec: ir.Spec, own: str, bag: DiagnosticBag) -> None:
    for what, node in _citable(spec):
        if node.span.path == own and not node.cite:
            bag.warning("W0104", f"{what} '{node.name}' has no citation; add cite \"MANUAL SECTION\" naming the "
                        "section it follows", node.span)


def _citable(spec: ir.Spec):
    """(what, node) for every declaration that takes a `cite`."""
    yield from (("enum", e) for e in spec.enums)
    yield from ((lay.kind, lay) for lay in spec.layouts)
    for reg in spec.regimes:
        yield "regime", reg
        if reg.instance_of:  # the rest is its base's, warned about there
            continue
        yield from (("fault", r) for r in reg.faults)
        yield from (("check", r) for r in reg.checks)
        yield "record", reg.record
    for nest in spec.nested:
        yield "nested translation", nest
        yield "record", nest.record
    for unit in spec.units:
        yield "unit", unit
        for kind, nodes in (("structure", unit.structures), ("bitmap", unit.bitmaps), ("walk", unit.walks),
                            ("call", unit.calls), ("exit rule", unit.exits)):
            # a callee's steps are its own unit's (warned about there), not the caller's
            yield from ((kind, n) for n in nodes if kind == "exit rule" or unit.call_of(n.name) is None)
        yield "record", unit.record
