"""What the templates see of a decision unit: the structure words to read, the bitmap
lookups and the exit rules, with every expression already lowered to Python and to
MyHDL text.

The order of memory references is the cross-check contract (notes/unit-language.md):
structure words in declaration order of the structures and ascending offset within
each, then the bitmaps in declaration order, then the stores in ascending offset.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .expr import Expr, mask, num
from .lower import Env, Hoist, py, py_field, record_py, ref_slice

MASK64 = mask(64)


@dataclass
class Word:
    """One aligned 64-bit word of a structure that the unit reads."""

    structure: ir.Structure
    offset: int

    @property
    def var(self) -> str:
        return f"w_{self.structure.name}_{self.offset:x}"


@dataclass
class Store:
    field: ir.OutputField
    structure: ir.Structure
    offset: int


def line_of(node: ir.Node) -> str:
    return f"{node.span.path}:{node.span.line}"


class UnitView:
    def __init__(self, spec: ir.Spec, unit: ir.Unit):
        self.spec, self.unit = spec, unit
        used = {r.name for e in self._expressions() for r in e.refs() if r.kind == "struct"}
        self.words: list[Word] = []
        for st in unit.structures:
            offsets = sorted({f.word for f in st.fields if f"{st.name}.{f.name}" in used})
            self.words += [Word(st, o) for o in offsets]
        self.stores: list[Store] = []
        for f in unit.record.fields:
            if f.store is not None:
                st = unit.structure(f.store[0])
                self.stores.append(Store(f, st, st.field(f.store[1]).offset))
        self.stores.sort(key=lambda s: ([x.name for x in unit.structures].index(s.structure.name), s.offset))

    def _expressions(self) -> list[Expr]:
        u = self.unit
        out = [x for b in u.bitmaps for x in (b.base, b.index, b.span_bits, b.when) if x is not None]
        out += [x.when for x in u.exits]
        out += [a.value for x in u.exits for a in x.assigns if a.value is not None]
        out += [b.value for x in u.exits for a in x.assigns for b in a.bits]
        return out

    # ---- names
    @property
    def event(self) -> tuple[ir.EventField, ...]:
        return self.unit.event

    @property
    def context(self) -> tuple[str, ...]:
        return self.unit.context

    def register_width(self, name: str) -> int:
        return self.spec.layout(name).width

    def word_of(self, ref_name: str) -> Word:
        sname, fname = ref_name.split(".")
        st = self.unit.structure(sname)
        off = st.field(fname).word
        return next(w for w in self.words if w.structure is st and w.offset == off)

    @property
    def status_width(self) -> int:
        return max(1, len(self.unit.exits).bit_length())

    # ---- Python
    def py_env(self) -> Env:
        return Env({
            "event": lambda e: f"e_{e.name}",
            "ctx": lambda e: f"r_{e.name}" if e.lo == 0 and e.width == self.register_width(e.name)
            else py_field(f"r_{e.name}", e.lo, e.width),
            "struct": lambda e: self.word_of(e.name).var if e.lo == 0 and e.width == 64
            else py_field(self.word_of(e.name).var, e.lo, e.width),
            "bitmap": lambda e: f"b_{e.name}",
        })

    def py(self, e: Expr) -> str:
        return py(e, self.py_env())

    def py_base(self, st: ir.Structure) -> str:
        return f"({self.py(st.base)} & {hex(MASK64 & ~7)})"

    def py_exit_record(self, rule: ir.ExitRule) -> list[tuple[str, str]]:
        return record_py(self._as_record(rule), self.py_env())

    def _as_record(self, rule: ir.ExitRule) -> ir.Record:
        """The rule's assignments as a record with every field (unassigned ones are 0)."""
        given = {a.field: a for a in rule.assigns}
        fields = []
        for f in self.unit.record.fields:
            a = given.get(f.name)
            if a is None:
                fields.append(ir.RecordField(name=f.name, width=f.width, value=num(0)))
            elif a.value is not None:
                fields.append(ir.RecordField(name=f.name, width=f.width, value=a.value))
            else:
                fields.append(ir.RecordField(name=f.name, width=f.width, bits=a.bits))
        return ir.Record(name=self.unit.record.name, fields=tuple(fields))

    # ---- MyHDL
    def hdl_env(self) -> Env:
        return Env({
            "event": lambda e: f"e_{e.name}",
            "ctx": lambda e: ref_slice(f"r_{e.name}", e.lo, e.width, self.register_width(e.name)),
            "struct": lambda e: ref_slice(self.word_of(e.name).var, e.lo, e.width, 64),
            "bitmap": lambda e: f"b_{e.name}",
        }, signal={
            "event": lambda e: (f"e_{e.name}", 0),
            "ctx": lambda e: (f"r_{e.name}", e.lo),
            "struct": lambda e: (self.word_of(e.name).var, e.lo),
            "bitmap": lambda e: (f"b_{e.name}", 0),
        })

    def hdl_plan(self) -> dict:
        """Every expression of the model lowered to (statements, text) through one
        Hoist, so that all scratch variables are known before the template declares them."""
        h = Hoist(self.hdl_env())

        def value(e: Expr):
            text = h.value(e)
            return h.take(), text

        def cond(e: Expr | None):
            if e is None:
                return [], "True"
            text = h.cond(e)
            return h.take(), text

        plan = {"base": {st.name: value(st.base) for st in self.unit.structures}, "bitmaps": [], "exits": []}
        for b in self.unit.bitmaps:
            plan["bitmaps"].append({"span": value(b.span_bits), "when": cond(b.when), "base": value(b.base),
                                    "index": value(b.index)})
        for x in self.unit.exits:
            record = []
            for f in self._as_record(x).fields:
                if f.value is not None:
                    lines, text = value(f.value)
                    record.append((f, lines, text))
                else:
                    bits = []
                    for b in f.bits:
                        lines, text = value(b.value)
                        bits.append((b.hi, b.lo, lines, text))
                    record.append((f, [], bits))
            plan["exits"].append({"rule": x, "when": cond(x.when), "record": record})
        plan["variables"] = h.variables
        return plan

    def hdl_states(self) -> list[str]:
        states = ["IDLE"] + [f"RD{i}" for i in range(len(self.words))]
        for j in range(len(self.unit.bitmaps)):
            states += [f"BP{j}", f"BA{j}", f"BB{j}"]
        states += ["DECIDE"] + [f"ST{k}" for k in range(len(self.stores))] + ["FINISH"]
        return states

    def after_words(self) -> str:
        """The state that follows the structure reads."""
        return "BP0" if self.unit.bitmaps else "DECIDE"

    def after_bitmap(self, j: int) -> str:
        return f"BP{j + 1}" if j + 1 < len(self.unit.bitmaps) else "DECIDE"

    @property
    def wide_width(self) -> int:
        """Width of the scratch variable every expression is computed into before it is
        cut to its destination (MyHDL checks the range of each assignment)."""
        exprs = self._expressions() + [st.base for st in self.unit.structures]
        return max([72] + [e.width for e in exprs])

    @property
    def bit_address_width(self) -> int:
        """Bits of a bitmap's bit address: (64-bit byte base << 3) + a 64-bit index."""
        return 69

    @property
    def span_width(self) -> int:
        return 7
