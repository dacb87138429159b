"""Reference documentation of a spec, in Markdown and in self-contained HTML, from the IR.

`render(spec)` gives `{"<name>.md": ..., "<name>.html": ...}` (the spec's declared name) and `render_index(specs)`
the index that links them. Everything here is generic: a layout is drawn from its bit
ranges, a regime from its levels' index slices, a unit from its steps and rules,
whatever the spec describes.

Spec strings (docs, cites, names, file names) are data, never markup or templates: the
HTML templates autoescape, the Markdown templates escape every value that no filter here
has built (`MdSafe`), the SVG is built with `escape`, and no string is rendered as a
template. Output is deterministic: declaration order, integer coordinates, no clock.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePath
from urllib.parse import quote, unquote

import jinja2
from markupsafe import Markup, escape

from codegen import ir
from codegen.frontend.diagnostics import Span
from codegen.generate.comments import comment_text
from codegen.generate.emit import output_name
from codegen.ir import GENERATOR_VERSION
from codegen.ir.expr import BINARY, Expr

TEMPLATES = Path(__file__).resolve().parent / "templates"
EXPR_WIDTH = 78  # characters of an expression line before it is broken at its operators
DIAGRAM_MAX_STRUCT_BYTES = 32  # larger structures (control blocks) get a table only


# =====================================================================================
# Expressions in the spec's own syntax
# =====================================================================================

_PREC = {"cond": 1, "||": 2, "&&": 3, "|": 4, "^": 5, "&": 6, "==": 7, "!=": 7, "<": 8, "<=": 8, ">": 8,
         ">=": 8, "<<": 9, ">>": 9, "+": 10, "-": 10, "*": 11, "/": 11, "%": 11}
_UNARY, _POSTFIX, _ATOM = 12, 13, 14
_SUFFIXES = (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10))


def _span_chars(span: Span) -> int:
    """How many characters a one-line span covers (0 when unknown)."""
    return span.end_col - span.col if span.line == span.end_line and span.end_col > span.col else 0


@dataclass(frozen=True)
class ExprText:
    """An expression as one line (`flat`) and broken into lines at its operators."""

    flat: str
    lines: tuple[str, ...]

    @property
    def multiline(self) -> bool:
        return len(self.lines) > 1

    @property
    def block(self) -> str:
        return "\n".join(self.lines)


class ExprPrinter:
    """Prints IR expressions back in spec syntax.

    The IR folds constants and expands `let`s; what was written comes back where the IR
    keeps a trace of it. A parameter, enum item or fault kind keeps its name on the
    number it became. An expanded `let` keeps the span of its body, so a node with that
    span prints as the let's name. A literal keeps the span of its text, whose length
    tells its base (`0x400` against `1024`, `0xC000_0000`, `4K`)."""

    def __init__(self, spec: ir.Spec, structures: tuple[ir.Structure, ...] = ()):
        self.spec = spec
        self.layouts = {lay.name: lay for lay in spec.layouts}
        self.structures = {s.name: s for s in structures}
        self.let_names: dict[Span, str] = {}
        for owner in spec.regimes + spec.units:
            for let in owner.let_defs:
                self.let_names.setdefault(let.value.span, let.name)

    def for_unit(self, unit: ir.Unit) -> ExprPrinter:
        """A printer that knows the unit's structures (to name `S.F.SUB` references)."""
        return ExprPrinter(self.spec, unit.structures)

    def text(self, e: Expr, fold_root: bool = True) -> ExprText:
        """`e` in spec syntax, on one line and broken into lines; `fold_root=False` prints a
        let's own body rather than its name."""
        flat = self._fmt(e, fold_root)[0]
        return ExprText(flat, tuple(self._block(e, EXPR_WIDTH, fold_root)))

    # ---- one line
    def _folded(self, e: Expr, fold: bool) -> str | None:
        if fold and e.op != "name" and e.span in self.let_names:
            return self.let_names[e.span]
        return None

    def _fmt(self, e: Expr, fold: bool = True) -> tuple[str, int]:
        """(text, precedence) of `e`."""
        let = self._folded(e, fold)
        if let is not None:
            return let, _ATOM
        op = e.op
        if op == "num":
            return (e.name or self._number(e)), _ATOM
        if op == "name":
            return e.name, _ATOM
        if op == "ref":
            return self._ref(e), _ATOM
        if op in ("!", "~", "neg"):
            inner = self._operand(e.args[0], _UNARY)
            return ("-" if op == "neg" else op) + inner, _UNARY
        if op == "bit":
            return f"{self._operand(e.args[0], _POSTFIX)}[{self._fmt(e.args[1])[0]}]", _POSTFIX
        if op == "slice":
            return f"{self._operand(e.args[0], _POSTFIX)}[{self._fmt(e.args[1])[0]}:{self._fmt(e.args[2])[0]}]", _POSTFIX
        if op == "call":
            return f"{e.name}({', '.join(self._fmt(x)[0] for x in e.args)})", _ATOM
        if op == "cond":
            c, a, b = e.args
            return f"{self._operand(c, 2)} ? {self._fmt(a)[0]} : {self._operand(b, 1)}", 1
        if op in BINARY:
            p = _PREC[op]
            return f"{self._operand(e.args[0], p, op)} {op} {self._operand(e.args[1], p + 1, op)}", p
        return f"<{op}>", _ATOM

    def _operand(self, e: Expr, at_least: int, parent: str = "") -> str:
        text, prec = self._fmt(e)
        return text if prec >= at_least and not self._clarify(parent, e) else f"({text})"

    def _clarify(self, parent: str, e: Expr) -> bool:
        """Parentheses the grammar does not need but a reader does: any other binary
        operator inside `&`, `|` or `^` (`(ADDR + 1) & m`, `(a ^ b) | m`, not `a ^ b | m`)."""
        return (parent in ("&", "|", "^") and e.op in BINARY and e.op != parent and e.op not in ("&&", "||")
                and self._folded(e, True) is None)

    def _number(self, e: Expr) -> str:
        v, n = e.value, _span_chars(e.span)
        if v < 0:
            return str(v)
        forms = [str(v), f"0x{v:X}", f"0x{v:_X}", f"{v:_}", f"0b{v:b}", f"0b{v:_b}"]
        forms += [f"{v // m}{s}" for s, m in _SUFFIXES if v and v % m == 0]
        for form in forms:
            if len(form) == n:
                return form
        if v in (0, 1):
            # `!P` of a parameter P, folded: 0 when P is set
            names = sorted({f"!{p.name}" for p in self.spec.params if len(p.name) + 1 == n and bool(p.value) != bool(v)})
            if len(names) == 1:
                return names[0]
        # a folded expression: its value
        return str(v) if v < 4096 else f"0x{v:X}"

    def _ref(self, e: Expr) -> str:
        kind = e.kind
        if kind in ("leaf", "access", "event", "host", "entry"):
            return f"{kind}.{e.name}"
        if kind == "hacc":
            return f"host.{e.name}"
        if kind == "ctx":
            return self._register_bits(e)
        if kind == "struct":
            return self._struct_bits(e)
        if kind == "rerr":
            return f"{e.name}.error"
        return e.name

    def _register_bits(self, e: Expr) -> str:
        lay = self.layouts.get(e.name)
        if lay is None:
            return e.name
        whole = e.lo == 0 and e.width == lay.width
        if whole and _span_chars(e.span) in (0, len(e.name)):
            return e.name
        same = [f for f in lay.fields if f.lo == e.lo and f.width == e.width]
        if same:
            exact = [f for f in same if len(e.name) + 1 + len(f.name) == _span_chars(e.span)]
            return f"{e.name}.{(exact or same)[0].name}"
        return e.name if whole else f"{e.name}{_bits(e.lo + e.width - 1, e.lo, brackets=True)}"

    def _struct_bits(self, e: Expr) -> str:
        sname, _, fname = e.name.partition(".")
        st = self.structures.get(sname)
        f = st.field(fname) if st is not None else None
        if f is None:
            return e.name
        if e.lo == f.lo and e.width == f.width:
            return e.name
        lay = self.layouts.get(f.format) if f.format else None
        if lay is not None:
            sub = next((x for x in lay.fields if x.lo == e.lo - f.lo and x.width == e.width), None)
            if sub is not None:
                return f"{e.name}.{sub.name}"
        return f"{e.name}{_bits(e.lo - f.lo + e.width - 1, e.lo - f.lo, brackets=True)}"

    # ---- broken into lines
    def _block(self, e: Expr, width: int, fold: bool = True) -> list[str]:
        flat = self._fmt(e, fold)[0]
        if len(flat) <= width or self._folded(e, fold) is not None:
            return [flat]
        op = e.op
        if op in BINARY:
            p = _PREC[op]
            chain = self._chain(e, op)
            head = self._operand(chain[0], p, op)
            if op not in ("&&", "||") and len(chain) == 2 and len(head) + len(op) + 2 <= width // 3:
                # a short operand hangs the long one: `13 + (!A ? 0` / `     : 1)`; conditions
                # keep one operand a line, each line led by its operator
                return _prefixed(f"{head} {op} ", self._operand_block(chain[1], p + 1, width - len(head) - len(op) - 2, op))
            out = self._operand_block(chain[0], p, width, op)
            for x in chain[1:]:
                out += _prefixed(f"{op} ", self._operand_block(x, p + 1, width - len(op) - 1, op))
            return out
        if op == "cond":
            out: list[str] = []
            node, lead = e, ""
            while node.op == "cond" and (lead == "" or self._folded(node, True) is None):
                c, a, b = node.args
                one = f"{self._operand(c, 2)} ? {self._fmt(a)[0]}"
                if len(one) + len(lead) <= width:
                    group = [one]
                else:
                    group = self._operand_block(c, 2, width - 2) + _prefixed("? ", self._block(a, width - 4))
                out += _prefixed(lead, group) if lead else group
                node, lead = b, ": "
            return out + _prefixed(": ", self._operand_block(node, 1, width - 2))
        if op in ("!", "~", "neg"):
            return _prefixed("-" if op == "neg" else op, self._operand_block(e.args[0], _UNARY, width - 1))
        return [flat]

    def _chain(self, e: Expr, op: str) -> list[Expr]:
        """The operands of a left-associated run of one operator: a || b || c."""
        left = e.args[0]
        head = self._chain(left, op) if left.op == op and self._folded(left, True) is None else [left]
        return head + [e.args[1]]

    def _operand_block(self, e: Expr, at_least: int, width: int, parent: str = "") -> list[str]:
        if self._fmt(e)[1] >= at_least and not self._clarify(parent, e):
            return self._block(e, width)
        inner = self._block(e, width - 2)
        if len(inner) == 1:
            return [f"({inner[0]})"]
        return ["(" + inner[0]] + [" " + x for x in inner[1:-1]] + [" " + inner[-1] + ")"]


def _prefixed(prefix: str, lines: list[str]) -> list[str]:
    return [prefix + lines[0]] + [" " * len(prefix) + x for x in lines[1:]]


def _bits(hi: int, lo: int, brackets: bool = False) -> str:
    text = str(lo) if hi == lo else f"{hi}:{lo}"
    return f"[{text}]" if brackets else text


# =====================================================================================
# Bit diagrams (SVG)
# =====================================================================================

@dataclass
class Box:
    """A run of bits drawn as one box: a field, a reserved or ignored range, an index."""

    lo: int
    hi: int
    label: str
    style: str  # field | reserved | reserved-if | ignored | blank | index | offset | upper
    tip: str = ""
    short: tuple[str, ...] = ()  # shorter labels to try when `label` does not fit
    marked: bool = False  # a field that must be zero under some condition


@dataclass
class Row:
    """One row of a diagram: `cells` bits from `top` (left edge) down."""

    top: int
    cells: int
    label: tuple[str, ...]
    boxes: list[Box]
    groups: list[Box] = field(default_factory=list)


_FILL = {"field": "#e3edfb", "index": "#e3edfb", "offset": "#e3f4e6", "upper": "#f3f3f3", "blank": "#ffffff",
         "zero": "#ffffff"}
_STROKE = {"field": "#3b5b8c", "index": "#3b5b8c", "offset": "#2e7d32", "upper": "#9e9e9e", "blank": "#b0b0b0",
           "zero": "#b0b0b0",
           "reserved": "#b3413b", "reserved-if": "#b77b00", "ignored": "#8c8c8c"}
_HATCH = {"reserved": ("#fbe4e2", "#d46a63", 45), "reserved-if": ("#fff4d9", "#e0a526", 45),
          "ignored": ("#f0f0f0", "#b9b9b9", -45)}
_LEGEND = {"field": "field", "reserved": "reserved: must be zero", "reserved-if": "reserved when a condition holds",
           "ignored": "ignored", "blank": "not described", "zero": "always 0", "index": "table index", "offset": "page offset",
           "upper": "not indexed"}
_TEXT_COLOR = {"reserved": "#7d1f1a", "reserved-if": "#6b4800", "ignored": "#555555", "upper": "#666666"}
_FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
_CHAR = 0.6  # advance of a monospace character, in ems


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """Spec text with the characters XML (so SVG) forbids, and other controls, as U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(text))


def _x(text: str) -> str:
    """Text for SVG content: cleaned and escaped."""
    return str(escape(clean(text)))


def _text_width(text: str, size: float) -> float:
    return len(text) * size * _CHAR


class Diagram:
    """Lays out rows of bit boxes as one SVG: bit numbers above each box's ends, the
    label inside when it fits (at 12 or 10 px), else below the row at the end of a
    leader line, in the first lane where it crosses no other label or line."""

    CELL_TOP = 14
    GROUP = 17
    BOX = 34
    LANE = 15
    GAP = 14

    def __init__(self, rows: list[Row], cell: int, uid: str, legend: bool = True):
        self.rows, self.cell, self.uid, self.legend = rows, cell, uid, legend
        longest = max((len(x) for r in rows for x in r.label), default=0)
        self.left = int(_text_width("x" * longest, 11)) + 16 if longest else 8
        self.cells = max(r.cells for r in rows)
        self.has_groups = any(r.groups for r in rows)
        self.right = self.left + self.cells * self.cell  # grows with leader labels past the last bit
        self.leftmost = 0  # leader labels left of the first bit may need room left of x = 0

    def x_of(self, row: Row, bit: int) -> int:
        """Left edge of the cell of `bit`; rows narrower than the widest are right-aligned."""
        return self.left + (self.cells - row.cells) * self.cell + (row.top - bit) * self.cell

    def svg(self) -> Markup:
        parts: list[str] = []
        y = 6
        styles_seen: list[str] = []
        for row in self.rows:
            y = self._row(row, y, parts, styles_seen)
        width = self.right + 10
        if self.legend:
            y = self._legend(styles_seen, y, width, parts)
        defs = "".join(self._pattern(s) for s in _HATCH if s in styles_seen)
        x0 = min(0, self.leftmost - 4)
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="bits" width="{width - x0}" height="{y}" '
                f'viewBox="{x0} 0 {width - x0} {y}" font-family="{_FONT}" role="img">')
        return Markup(head + (f"<defs>{defs}</defs>" if defs else "") + "".join(parts) + "</svg>")

    def _pattern(self, style: str) -> str:
        bg, fg, angle = _HATCH[style]
        return (f'<pattern id="{self.uid}-{style}" width="6" height="6" patternUnits="userSpaceOnUse" '
                f'patternTransform="rotate({angle})"><rect width="6" height="6" fill="{bg}"/>'
                f'<line x1="0" y1="0" x2="0" y2="6" stroke="{fg}" stroke-width="2"/></pattern>')

    def _fill(self, style: str) -> str:
        return f"url(#{self.uid}-{style})" if style in _HATCH else _FILL.get(style, "#ffffff")

    def _row(self, row: Row, y: int, parts: list[str], seen: list[str]) -> int:
        cell = self.cell
        ticks_y = y + 10
        for i, line in enumerate(row.label):
            parts.append(f'<text x="{self.left - 8}" y="{y + self.CELL_TOP + (self.GROUP if self.has_groups else 0) + 14 + 13 * i}" '
                         f'font-size="11" text-anchor="end" fill="#333">{_x(line)}</text>')
        y += self.CELL_TOP
        if self.has_groups:
            for g in row.groups:
                x0, x1 = self.x_of(row, g.hi), self.x_of(row, g.lo) + cell
                parts.append(f'<g><title>{_x(g.tip or g.label)}</title><rect x="{x0 + 1}" y="{y + 1}" width="{x1 - x0 - 2}" '
                             f'height="{self.GROUP - 3}" rx="3" fill="#f4f4f4" stroke="#9a9a9a"/>')
                label = self._fit(g, x1 - x0 - 6, (10, 9))
                if label:
                    parts.append(f'<text x="{(x0 + x1) // 2}" y="{y + 12}" font-size="{label[1]}" text-anchor="middle" '
                                 f'fill="#444">{_x(label[0])}</text>')
                parts.append("</g>")
            y += self.GROUP
        box_top, box_bottom = y, y + self.BOX
        ticks: dict[int, None] = {}
        leaders: list[tuple[Box, int]] = []
        for b in sorted(row.boxes, key=lambda b: -b.hi):
            if b.style not in seen:
                seen.append(b.style)
            x0, x1 = self.x_of(row, b.hi), self.x_of(row, b.lo) + cell
            tip = b.tip or b.label
            parts.append(f'<g><title>{_x(tip)}</title><rect x="{x0}" y="{box_top}" width="{x1 - x0}" height="{self.BOX}" '
                         f'fill="{self._fill(b.style)}" stroke="{_STROKE.get(b.style, "#777")}"/>')
            if b.marked:
                parts.append(f'<rect x="{x0 + 1}" y="{box_bottom - 6}" width="{x1 - x0 - 2}" height="5" '
                             f'fill="url(#{self.uid}-reserved-if)"/>')
                if "reserved-if" not in seen:
                    seen.append("reserved-if")
            fit = self._fit(b, x1 - x0 - 4, (12, 10))
            if fit:
                text, size = fit
                parts.append(f'<text x="{(x0 + x1) // 2}" y="{box_top + self.BOX // 2 + size // 3 + 1}" font-size="{size}" '
                             f'text-anchor="middle" fill="{_TEXT_COLOR.get(b.style, "#111")}">{_x(text)}</text>')
            elif b.style in ("field", "index", "offset"):
                leaders.append((b, (x0 + x1) // 2))
            parts.append("</g>")
            ticks[b.hi] = None
            ticks[b.lo] = None
        for bit in ticks:
            cx = self.x_of(row, bit) + cell // 2
            parts.append(f'<text x="{cx}" y="{ticks_y}" font-size="9" text-anchor="middle" fill="#555">{bit}</text>')
        y = box_bottom
        lanes = self._lanes(leaders)
        for (b, cx), (lane, rightward) in zip(leaders, lanes):
            mid = y + 6 + self.LANE * lane + 8
            width = int(_text_width(b.label, 11))
            if rightward:
                self.right = max(self.right, cx + 8 + width)
            else:
                self.leftmost = min(self.leftmost, cx - 8 - width)
            elbow, tx, anchor = (cx + 5, cx + 7, "start") if rightward else (cx - 5, cx - 7, "end")
            parts.append(f'<g><title>{_x(b.tip or b.label)}</title>'
                         f'<path d="M{cx} {box_bottom - 3}V{mid}H{elbow}" fill="none" stroke="#6b6b6b" stroke-width="1"/>'
                         f'<circle cx="{cx}" cy="{box_bottom - 3}" r="1.8" fill="#6b6b6b"/>'
                         f'<text x="{tx}" y="{mid + 4}" font-size="11" text-anchor="{anchor}" fill="#1d3557">'
                         f'{_x(b.label)}</text></g>')
        if lanes:
            y += 6 + self.LANE * (max(lane for lane, _ in lanes) + 1)
        return y + self.GAP

    def _fit(self, b: Box, room: float, sizes: tuple[int, ...]) -> tuple[str, int] | None:
        for size in sizes:
            for text in (b.label,) + b.short:
                if text and _text_width(text, size) <= room:
                    return text, size
        return None

    def _lanes(self, leaders: list[tuple[Box, int]]) -> list[tuple[int, bool]]:
        """(lane, runs rightward) of each leader label. A label starts at its line and runs
        outward: right of the middle to the right, left of it to the left (the picture
        widens to hold them). Taken from the outside in, each label goes to the first lane
        below every line its text would cover and free of other labels, so that no line
        crosses a label: two staircases meeting in the middle."""
        middle = self.left + self.cells * self.cell // 2
        order = sorted(range(len(leaders)), key=lambda i: (leaders[i][1] < middle, -leaders[i][1] if leaders[i][1] >= middle
                                                             else leaders[i][1]))
        placed: list[tuple[int, int, int, int]] = []  # lane, x0, x1, line x
        out: list[tuple[int, bool]] = [(0, True)] * len(leaders)
        for i in order:
            b, cx = leaders[i]
            w = 10 + int(_text_width(b.label, 11))
            rightward = cx >= middle
            x0, x1 = (cx, cx + w) if rightward else (cx - w, cx)
            lane = max((pl + 1 for pl, _, _, pcx in placed if x0 <= pcx <= x1), default=0)
            while any(pl == lane and px0 < x1 and x0 < px1 for pl, px0, px1, _ in placed):
                lane += 1
            placed.append((lane, x0, x1, cx))
            out[i] = (lane, rightward)
        return out

    def _legend(self, seen: list[str], y: int, width: int, parts: list[str]) -> int:
        x = self.left
        order = [s for s in _LEGEND if s in seen]
        if len(order) < 2:
            return y
        for s in order:
            text = _LEGEND[s]
            w = int(_text_width(text, 10)) + 26
            if x + w > width and x > self.left:
                x, y = self.left, y + 18
            parts.append(f'<rect x="{x}" y="{y}" width="14" height="11" fill="{self._fill(s)}" stroke="{_STROKE.get(s, "#777")}"/>'
                         f'<text x="{x + 18}" y="{y + 9}" font-size="10" fill="#333">{_x(text)}</text>')
            x += w + 8
        return y + 20


def _row_split(width: int, boxes: list[Box], groups: list[Box], label, row_bits: int = 32) -> list[Row]:
    """Rows of `row_bits` bits from bit 0 upward (the lowest word on top, as in memory);
    boxes that cross a row boundary are cut, each piece labelled."""
    def clip(items: list[Box], lo: int, hi: int) -> list[Box]:
        return [Box(max(b.lo, lo), min(b.hi, hi), b.label, b.style, b.tip, b.short, b.marked)
                for b in items if b.hi >= lo and b.lo <= hi]

    rows = []
    for lo in range(0, width, row_bits):
        hi = min(width, lo + row_bits) - 1
        rows.append(Row(hi, hi - lo + 1, label(lo, hi), clip(boxes, lo, hi), clip(groups, lo, hi)))
    return rows


def _fill_blanks(width: int, boxes: list[Box], style: str = "blank") -> list[Box]:
    """Boxes for the bits no field or range describes (`zero`: a record's bits no value sets)."""
    used = [False] * width
    for b in boxes:
        for i in range(max(0, b.lo), min(width - 1, b.hi) + 1):
            used[i] = True
    out, i = list(boxes), 0
    while i < width:
        if used[i]:
            i += 1
            continue
        j = i
        while j + 1 < width and not used[j + 1]:
            j += 1
        out.append(Box(i, j, "", style, f"bits {_bits(j, i)}: " + ("0" if style == "zero" else "not described")))
        i = j + 1
    return out


def layout_boxes(lay: ir.Layout, p: ExprPrinter, owner: str = "") -> list[Box]:
    """The boxes of a layout: fields over reserved ranges over ignored ones (a field
    that is reserved under a condition is marked)."""
    boxes: list[Box] = []
    taken = [False] * lay.width

    def free(lo: int, hi: int) -> list[list[int]]:
        """The runs [lo, hi] of bits in lo..hi that no box covers yet."""
        runs: list[list[int]] = []
        for i in range(lo, hi + 1):
            if taken[i]:
                continue
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        return runs

    def take(lo: int, hi: int) -> None:
        for i in range(lo, hi + 1):
            taken[i] = True

    prefix = f"{owner}: " if owner else ""
    for f in lay.fields:
        if f.lo < 0 or f.hi >= lay.width:
            continue
        cond = f" (reserved when {p.text(f.reserved_if).flat})" if f.reserved_if is not None else ""
        tip = f"{prefix}{f.name} {_bits(f.hi, f.lo, True)}" + (f" enum {f.enum}" if f.enum else "") + (
            f": {f.doc}" if f.doc else "") + cond
        never = f.reserved_if is not None and f.reserved_if.op == "num" and not f.reserved_if.value
        boxes.append(Box(f.lo, f.hi, f.name, "field", tip, marked=f.reserved_if is not None and not never))
        take(f.lo, f.hi)
    # where ranges overlap, must-be-zero wins over must-be-zero-if, which wins over ignored
    precedence = {"reserved": 0, "reserved-if": 1, "ignored": 2}
    drawn = [r for r in lay.ranges if _range_style(r) and 0 <= r.lo <= r.hi < lay.width]
    for r in sorted(drawn, key=lambda r: precedence[_range_style(r)]):
        style = _range_style(r)
        for lo, hi in free(r.lo, r.hi):
            cond = f" when {_range_when(r, p)}" if style == "reserved-if" else ""
            tip = f"{prefix}{_bits(hi, lo, True)} {r.kind}{cond}" + (f": {r.doc}" if r.doc else "")
            label, short = {"reserved": ("reserved", ("rsvd", "R")), "reserved-if": ("reserved if", ("rsvd?", "R?")),
                            "ignored": ("ignored", ("ign", "I"))}[style]
            boxes.append(Box(lo, hi, label, style, tip, short))
            take(lo, hi)
    return boxes


def _range_when(r: ir.BitRange, p) -> str:
    """When a conditional range is reserved: its condition, or for a range with a
    register-chosen low bound (`reserved [HI:EXPR]`), EXPR <= its low bit."""
    if r.low is not None:
        low = p.text(r.low).flat
        return f"{low if r.low.op in ('ref', 'num') else f'({low})'} <= {r.lo}"
    return p.text(r.when).flat


def _range_style(r: ir.BitRange) -> str | None:
    if r.kind == "ignored":
        return "ignored"
    if r.when is None or (r.when.op == "num" and r.when.value):
        return "reserved"
    if r.when.op == "num":
        return None  # reserved under a condition that is never true
    return "reserved-if"


def _word_label(prefix_bytes: bool):
    def label(lo: int, hi: int) -> tuple[str, ...]:
        bits = f"[{hi}:{lo}]"
        return (f"+0x{lo // 8:02X}", bits) if prefix_bytes else (bits,)
    return label


# =====================================================================================
# Markdown escaping
# =====================================================================================

class MdSafe(str):
    """Markdown built by a filter here: the template's finalize leaves it as it is."""


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~#!{}])")


def md_escape(value) -> str:
    """Plain text inside a Markdown line or table cell: every character with an inline
    meaning in Markdown (or GFM tables, or inline HTML) is backslash-escaped and newlines
    become spaces. Text that starts a line takes md_para."""
    if isinstance(value, MdSafe):
        return value
    text = " ".join(clean(value).replace("\r", "\n").replace("\t", " ").split("\n")).strip()
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_para(value) -> MdSafe:
    """Text that starts a line: escaped, and kept from starting a list, a numbered list
    or a setext heading underline."""
    text = md_escape(value)
    if re.match(r"[-+=]", text):
        text = "\\" + text
    return MdSafe(re.sub(r"^(\d+)([.)])", r"\1\\\2", text))


def md_code(text, table: bool = False) -> MdSafe:
    """An inline code span that no backtick in `text` can end; in a table, `|` is
    escaped (GFM splits cells before it parses code spans)."""
    text = " ".join(clean(text).split("\n"))
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    body = text.replace("|", "\\|") if table else text
    return MdSafe(f"{fence}{pad}{body}{pad}{fence}")


def md_block(lines, indent: int = 0) -> MdSafe:
    """A fenced code block, fenced longer than any backtick run inside it."""
    text = "\n".join(lines) if not isinstance(lines, str) else lines
    run = max((len(m) for m in re.findall(r"`{3,}|~{3,}", text)), default=2)
    fence = "`" * max(3, run + 1)
    pad = " " * indent
    body = "\n".join(pad + line for line in text.split("\n"))
    return MdSafe(f"{pad}{fence}\n{body}\n{pad}{fence}")


def md_link(text, target: str | None) -> MdSafe:
    """A link to an anchor (or file); the text escaped, the target percent-encoded."""
    label = md_escape(text)
    if not target:
        return MdSafe(label)
    return MdSafe(f"[{label}]({quote(target, safe='#-_.')})")


def comment_safe(text: str) -> str:
    """Text for inside an HTML/Markdown comment: one printable line, no `--`."""
    return comment_text(text).replace("--", "-%2D").replace(">", "%3E")


# =====================================================================================
# The document: what the templates lay out
# =====================================================================================

@dataclass
class Anchor:
    html: str
    md: str


@dataclass
class Link:
    text: str
    anchor: Anchor | None = None


@dataclass
class Meta:
    """The cite, doc and source location every construct shows."""

    cite: str
    doc: str
    src: str


@dataclass
class FieldRow:
    bits: str
    name: str
    kind: str  # field | reserved | ignored
    width: int
    enum: Link | None
    doc: str
    condition: ExprText | None
    constant: str  # "always here" or "never here" when the condition is a constant
    src: str


@dataclass
class LayoutDoc:
    layout: ir.Layout
    anchor: Anchor
    meta: Meta
    rows: list[FieldRow]
    svg: Markup
    mbz: str
    used_by: list[Link]


@dataclass
class EnumDoc:
    enum: ir.EnumDef
    anchor: Anchor
    meta: Meta
    items: list[tuple[str, str, str, str]]  # name, value, doc, src
    used_by: list[Link]


@dataclass
class Entry:
    """A row of a key/value table: a label and a text, an expression or links."""

    label: str
    text: str = ""
    expr: ExprText | None = None
    links: list[Link] = field(default_factory=list)
    note: str = ""


@dataclass
class RuleDoc:
    """A fault, check, let, accumulator, update or binding, with its expressions."""

    name: str
    exprs: list[tuple[str, ExprText]]  # (what, expression): "when", "init", "then", ...
    meta: Meta
    tags: str = ""
    number: int = 0

    @property
    def has_block(self) -> bool:
        """Some expression takes several lines (a code block in Markdown)."""
        return any(x.multiline for _, x in self.exprs)


@dataclass
class BitsDoc:
    bits: str
    name: str
    value: ExprText
    doc: str
    src: str


@dataclass
class RecordFieldDoc:
    name: str
    width: int
    value: ExprText | None
    bits: list[BitsDoc]
    doc: str
    src: str
    enum: Link | None = None
    store: Link | None = None
    store_when: ExprText | None = None
    default: ExprText | None = None  # a unit record field's default
    svg: Markup | None = None


@dataclass
class RecordDoc:
    name: str
    anchor: Anchor
    meta: Meta
    fields: list[RecordFieldDoc]


def _map_entry(what: str, terms: tuple[ir.AddrTerm, ...], note: str, where: str = "") -> Entry:
    """A pointer or frame map: a bare field is named as before; a map of terms says how
    each field lands in the address."""
    if len(terms) == 1 and terms[0].shift is None:
        return Entry(f"{what} field{where}", terms[0].field, note=note)
    text = " | ".join(t.field if t.shift is None else f"{t.field} << {t.shift}" for t in terms)
    return Entry(f"{what} map{where}", text, note=note + ": the OR of its terms; a bare FIELD is its bits at the address "
                 "bits they occupy, FIELD << N puts the field's value at address bit N")


@dataclass
class LevelDoc:
    number: int
    name: str
    index: str
    table: Link | None
    leaf: Link | None
    leaf_when: ExprText | None
    page: str
    faults: str
    meta: Meta


@dataclass
class SplitDoc:
    """How the input splits for one page size: (bits, what) from the top bit down."""

    title: str
    parts: list[tuple[str, str]]


@dataclass
class RegimeDoc:
    regime: ir.Regime
    anchor: Anchor
    meta: Meta
    overview: list[Entry]
    svg: Markup
    splits: list[SplitDoc]
    levels: list[LevelDoc]
    page_shifts: list[tuple[str, ExprText]]  # (levels, log2 of the page size a leaf gives)
    faults: list[RuleDoc]
    checks: list[RuleDoc]
    accumulators: list[RuleDoc]
    lets: list[RuleDoc]
    updates: list[RuleDoc]
    record: RecordDoc
    used_by: list[Link]
    input_faults: list[RuleDoc] = field(default_factory=list)  # checked before the walk
    records: list[RecordDoc] = field(default_factory=list)  # after the first


@dataclass
class NestedDoc:
    nested: ir.Nested
    anchor: Anchor
    meta: Meta
    overview: list[Entry]
    host_bindings: list[RuleDoc]
    access_maps: list[tuple[str, ExprText | None, list[RuleDoc]]]  # (stage, condition, bindings)
    record: RecordDoc


@dataclass
class StructFieldRow:
    offset: str
    bits: str
    name: str
    width: int
    format: Link | None
    doc: str
    cite: str
    src: str


@dataclass
class StepDoc:
    """A structure, bitmap or walk of a unit, in evaluation order."""

    kind: str
    name: str
    anchor: Anchor
    meta: Meta
    entries: list[Entry]
    fields: list[StructFieldRow] = field(default_factory=list)
    svg: Markup | None = None
    bindings: list[tuple[str, list[RuleDoc]]] = field(default_factory=list)


@dataclass
class AssignDoc:
    field: str
    value: ExprText | None
    bits: list[BitsDoc]


@dataclass
class ExitDoc:
    number: int
    name: str
    anchor: Anchor
    when: ExprText
    assigns: list[AssignDoc]
    meta: Meta


@dataclass
class UnitDoc:
    unit: ir.Unit
    anchor: Anchor
    meta: Meta
    event: list[tuple[str, int, Link | None, str, str]]  # name, width, enum, doc, src
    context: list[Link]
    steps: list[StepDoc]
    lets: list[RuleDoc]
    record: RecordDoc
    exits: list[ExitDoc]


@dataclass
class TocEntry:
    title: str
    anchor: Anchor
    items: list[Link]


class Anchors:
    """Unique HTML ids and GitHub-style Markdown heading anchors for every construct."""

    def __init__(self):
        self.by_key: dict[tuple[str, str], Anchor] = {}
        self.html_used: set[str] = set()
        self.md_used: dict[str, int] = {}

    def add(self, kind: str, name: str, heading: str, prefix: str | None = None) -> Anchor:
        """The anchor of construct `name` of `kind`, titled `heading`; its HTML id starts
        with `prefix` (default: the kind)."""
        html = re.sub(r"[^A-Za-z0-9_-]", "-", f"{prefix or kind}-{name}")
        base, n = html, 1
        while html in self.html_used:
            n += 1
            html = f"{base}-{n}"
        self.html_used.add(html)
        md = _github_slug(heading)
        count = self.md_used.get(md, 0)
        self.md_used[md] = count + 1
        anchor = Anchor(html, md if count == 0 else f"{md}-{count}")
        self.by_key.setdefault((kind, name), anchor)
        return anchor

    def get(self, kind: str, name: str) -> Anchor | None:
        return self.by_key.get((kind, name))


def _github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


class SpecDoc:
    """Everything the templates show of one spec, built from the IR."""

    def __init__(self, spec: ir.Spec):
        self.spec = spec
        self.stem = output_name(spec)  # keyed by the declared name, as generated/<name>/ is
        self.p = ExprPrinter(spec)
        self.anchors = Anchors()
        self._uid = 0
        self.path = self.display(spec.path)
        self.header = header_lines(spec, self.path)
        self.models = spec.models if len(spec.models) > 1 else ()  # listed when the spec has several
        self.version = GENERATOR_VERSION
        self._declare()
        self.uses = self._find_uses()
        self.params = [(x.name, x.value, x.doc, x.cite, self.src(x)) for x in spec.params]
        self.enums = [self._enum(e) for e in spec.enums]
        self.registers = [self._layout(x) for x in spec.layouts if x.kind == "register"]
        self.formats = [self._layout(x) for x in spec.layouts if x.kind != "register"]
        self.regimes = [self._regime(r) for r in spec.regimes]
        self.nested = [self._nested(n) for n in spec.nested]
        self.units = [self._unit(u) for u in spec.units]
        self.toc = self._toc()

    # ---- names, anchors, locations
    def display(self, path: str) -> str:
        return display_path(path, self.spec.path)

    def src(self, node) -> str:
        span = node.span
        return f"{self.display(span.path)}:{span.line}"

    def meta(self, node, cite: str | None = None) -> Meta:
        return Meta(getattr(node, "cite", "") if cite is None else cite, getattr(node, "doc", ""), self.src(node))

    def uid(self) -> str:
        self._uid += 1
        return f"d{self._uid}"

    def link(self, kind: str, name: str | None) -> Link | None:
        if name is None:
            return None
        return Link(name, self.anchors.get(kind, name))

    def _declare(self) -> None:
        s, a = self.spec, self.anchors
        for e in s.enums:
            a.add("enum", e.name, f"enum {e.name}")
        for lay in s.layouts:  # keyed "layout": a structure field may be typed with a register too
            a.add("layout", lay.name, f"{lay.kind} {lay.name}", prefix=lay.kind)
        for r in s.regimes:
            a.add("regime", r.name, f"regime {r.name}")
        for n in s.nested:
            a.add("nested", n.name, f"nested {n.name}")
        for u in s.units:
            a.add("unit", u.name, f"unit {u.name}")

    # ---- layouts and enums
    def _find_uses(self) -> dict[tuple[str, str], list[Link]]:
        """(kind, name) -> the constructs that use it, for the "Used by" lines."""
        uses: dict[tuple[str, str], list[Link]] = {}

        def add(kind: str, name: str | None, text: str, anchor: Anchor | None) -> None:
            if name is not None:
                lst = uses.setdefault((kind, name), [])
                if all(x.text != text for x in lst):
                    lst.append(Link(text, anchor))

        for lay in self.spec.layouts:
            for f in lay.fields:
                if f.enum:
                    add("enum", f.enum, f"{lay.kind} {lay.name}", self.anchors.get("layout", lay.name))
        for r in self.spec.regimes:
            here = self.anchors.get("regime", r.name)
            for c in r.context:
                add("layout", c, f"regime {r.name} (context)", here)
            for lv in r.levels:
                add("layout", lv.table, f"regime {r.name} level {lv.shown} {lv.name} (pointer)", here)
                add("layout", lv.leaf, f"regime {r.name} level {lv.shown} {lv.name} (leaf)", here)
            for rec in r.all_records:
                for f in rec.fields:
                    add("enum", f.enum, f"regime {r.name} record {rec.name}", here)
        for n in self.spec.nested:
            here = self.anchors.get("nested", n.name)
            for f in n.record.fields:
                add("enum", f.enum, f"nested {n.name} record {n.record.name}", here)
            add("regime", n.guest, f"nested {n.name} (guest)", here)
            add("regime", n.host, f"nested {n.name} (host)", here)
            for c in n.context:
                add("layout", c, f"nested {n.name} (context)", here)
        for u in self.spec.units:
            here = self.anchors.get("unit", u.name)
            for c in u.context:
                add("layout", c, f"unit {u.name} (context)", here)
            for st in u.structures:
                for f in st.fields:
                    add("layout", f.format, f"unit {u.name} structure {st.name}.{f.name}", here)
            for w in u.walks:
                if u.call_of(w.name) is None:
                    add("nested" if w.nested else "regime", w.regime, f"unit {u.name} walk {w.name}", here)
            for f in u.event:
                add("enum", f.enum, f"unit {u.name} event", here)
            for f in u.record.fields:
                add("enum", f.enum, f"unit {u.name} record {u.record.name}", here)
        return uses

    def _enum(self, e: ir.EnumDef) -> EnumDoc:
        items = [(i.name, _value(i.value), i.doc, self.src(i)) for i in e.items]
        return EnumDoc(e, self.anchors.get("enum", e.name), self.meta(e), items, self.uses.get(("enum", e.name), []))

    def _layout(self, lay: ir.Layout) -> LayoutDoc:
        rows = []
        for f in lay.fields:
            cond = self.p.text(f.reserved_if) if f.reserved_if is not None else None
            rows.append(FieldRow(_bits(f.hi, f.lo), f.name, "field", f.width, self.link("enum", f.enum), f.doc, cond,
                                 _constant(f.reserved_if), self.src(f)))
        for r in lay.ranges:
            if r.hi < r.lo:
                continue
            cond = self.p.text(r.when) if r.when is not None else None
            if r.low is not None:  # `reserved [HI:EXPR]`: the bound, not the conditions it became
                text = _range_when(r, self.p)
                cond = ExprText(text, (text,))
            rows.append(FieldRow(_bits(r.hi, r.lo), "", r.kind, r.hi - r.lo + 1, None, r.doc, cond, _constant(r.when),
                                 self.src(r)))
        rows.sort(key=lambda x: (int(x.bits.split(":")[-1]), x.kind != "field"))
        boxes = _fill_blanks(lay.width, layout_boxes(lay, self.p))
        # an entry in memory: each row's byte offset too
        label = _word_label(lay.kind != "register") if lay.width > 32 else (lambda lo, hi: ())
        svg = Diagram(_row_split(lay.width, boxes, [], label), 30, self.uid()).svg()
        mbz = f"0x{lay.mbz_static:_X}" if lay.mbz_static else ""
        return LayoutDoc(lay, self.anchors.get("layout", lay.name), self.meta(lay), rows, svg, mbz,
                         self.uses.get(("layout", lay.name), []))

    # ---- records
    def _record(self, rec: ir.Record | ir.UnitRecord, p: ExprPrinter, owner: str) -> RecordDoc:
        anchor = self.anchors.add("record", f"{owner}-{rec.name}", f"record {rec.name}")
        fields = []
        for f in rec.fields:
            value = p.text(f.value) if getattr(f, "value", None) is not None else None
            bits = [BitsDoc(_bits(b.hi, b.lo), b.name, p.text(b.value), b.doc, self.src(b)) for b in getattr(f, "bits", ())]
            doc = RecordFieldDoc(f.name, f.width, value, bits, f.doc, self.src(f))
            doc.enum = self.link("enum", getattr(f, "enum", None))
            if isinstance(f, ir.OutputField):
                if f.store is not None:
                    doc.store = Link(f"{f.store[0]}.{f.store[1]}", self.anchors.get("step", f"{owner}-{f.store[0]}"))
                doc.store_when = p.text(f.store_when) if f.store_when is not None else None
                doc.default = p.text(f.default) if f.default is not None else None
            if bits:
                boxes = _fill_blanks(f.width, [
                    Box(b.lo, b.hi, b.name, "field", f"{b.name} {_bits(b.hi, b.lo, True)} = {p.text(b.value).flat}")
                    for b in f.bits if 0 <= b.lo <= b.hi < f.width], "zero")
                label = _word_label(False) if f.width > 32 else (lambda lo, hi: ())
                doc.svg = Diagram(_row_split(f.width, boxes, [], label), 30, self.uid()).svg()
            fields.append(doc)
        return RecordDoc(rec.name, anchor, self.meta(rec), fields)

    # ---- regimes
    def _regime(self, r: ir.Regime) -> RegimeDoc:
        p = self.p
        anchor = self.anchors.get("regime", r.name)
        overview = [
            Entry("input", f"{r.input_name} : {r.input_width} bits"),
            *([Entry("input size", expr=p.text(r.input_size),
                     note="bits the level indexes read; a bit at or above it reads as 0")]
              if r.input_size is not None else []),
            Entry("access kinds", ", ".join(r.access) or "none"),
            Entry("context registers", links=[self.link("layout", c) for c in r.context]),
            Entry("entry size", f"{r.entry_bytes} bytes"),
            Entry("top table address", expr=p.text(r.root)),
            Entry("start level", expr=p.text(r.start_written or r.start)),
            *([Entry("level numbers", f"counting up from level {r.levels[0].shown} at the root to the leaf")]
              if r.flip else [Entry("level numbers", "counting down to level 0 at the leaf")] if r.base else []),
            _map_entry("pointer", r.pointer, "the next table's address in a pointer entry"),
            _map_entry("frame", r.frame, "the page frame in a leaf entry"),
        ]
        overview += [_map_entry("frame", lv.frame,
                                f"the page frame in a leaf entry of level {lv.shown} (its own map)",
                                f" of level {lv.shown} {lv.name}")
                     for lv in r.levels if lv.frame]
        if r.next_level is not None:
            overview.append(Entry("next level", expr=p.text(r.next_level),
                                  note="a pointer names the level of the table it points to"))
        for g in r.access_groups:
            overview.append(Entry("exclusive access kinds", ", ".join(g.kinds),
                                  note=("exactly one of them" if g.exactly else "at most one of them")
                                  + f" in any access; {self.src(g)}"))
        if r.bypass is not None:
            overview.append(Entry("switched off when", expr=p.text(r.bypass),
                                  note="no translation: the output address is the input, with no memory reference"
                                  + (f"; {r.bypass_cite}" if r.bypass_cite else "")))
        if r.instance_of:
            swaps = ", ".join(f"{b} for {a}" for a, b in r.instance_bindings) or "the same registers"
            overview.append(Entry("instance of", links=[self.link("regime", r.instance_of)],
                                  note=f"the same walk, reading {swaps}"))
            if r.instance_adds:
                overview.append(Entry("adds", ", ".join(r.instance_adds),
                                      note="faults on a read error (checked first: the base's fault kinds one place "
                                      "later) and record fields, this instance's only"))
        overview += self._caches(r.caches, r.invalidations, "used when the regime is a spec's top, not as a "
                                 "stage of a nested translation")
        levels = []
        for lv in r.levels:
            table_faults = [x.name for x in r.faults_for(False, lv.table)] if lv.table else []
            leaf_faults = [x.name for x in r.faults_for(True, lv.leaf)] if lv.leaf else []
            parts = []
            if lv.table:
                parts.append("pointer: " + _some_of(table_faults, [x.name for x in r.faults]))
            if lv.leaf:
                parts.append("leaf: " + _some_of(leaf_faults, [x.name for x in r.faults]))
            if lv.page_shift_expr is not None:
                page = f"from the entry, below (at least {_size(lv.page_shift)})"
            else:
                page = _size(lv.page_shift) if lv.leaf else ""
            levels.append(LevelDoc(lv.shown, lv.name, f"{r.input_name}{_bits(lv.index_hi, lv.index_lo, True)}",
                                   self.link("layout", lv.table), self.link("layout", lv.leaf),
                                   p.text(lv.leaf_when) if lv.leaf_when is not None else None, page,
                                   "; ".join(parts), self.meta(lv)))
        # `page shift EXPR`: one entry per distinct expression, naming the levels that use it
        shifts: list[tuple[list[str], ExprText]] = []
        for lv in r.levels:
            if lv.page_shift_expr is not None:
                text = p.text(lv.page_shift_expr)
                same = next((x for x in shifts if x[1].flat == text.flat), None)
                if same is None:
                    shifts.append(([f"{lv.shown} {lv.name}"], text))
                else:
                    same[0].append(f"{lv.shown} {lv.name}")
        page_shifts = [(("levels " if len(names) > 1 else "level ") + ", ".join(names), text) for names, text in shifts]
        where = {"": "every entry", "leaf": "leaf entries", "table": "pointer entries"}
        faults = [RuleDoc(x.name, [("when", p.text(x.when))], self.meta(x),
                          f"{x.where} entries of format {x.format}" if x.format else where.get(x.where, x.where), i + 1)
                  for i, x in enumerate(r.faults)]
        checks = [RuleDoc(x.name, [("when", p.text(x.when))], self.meta(x), "", len(r.faults) + i + 1)
                  for i, x in enumerate(r.checks)]
        at = {"": "then, at each level", "table": "then, at each pointer entry", "leaf": "then, at the leaf"}
        accs = [RuleDoc(a.name, [("initially", p.text(a.init)), (at[a.where], p.text(a.then))], self.meta(a),
                        f"{a.width} bit{'s' if a.width != 1 else ''}") for a in r.accumulators]
        lets = [RuleDoc(x.name, [("=", p.text(x.value, fold_root=False))], self.meta(x)) for x in r.let_defs]
        entries = {"each level": "every entry", "table": "table entries", "leaf": "the leaf"}
        updates = [RuleDoc(u.field, ([("=", p.text(u.value))] if u.value is not None else [])
                           + ([("when", p.text(u.when))] if u.when is not None else []),
                           Meta(u.cite, "", self.src(u)),
                           f"{entries[u.where]}, {'as used' if u.used else 'after success'}")
                   for u in r.updates]
        first = len(r.faults) + len(r.checks)
        inputs = [RuleDoc(x.name, [("when", p.text(x.when))], self.meta(x), f"record {x.record or r.record.name}",
                          first + i + 1) for i, x in enumerate(r.input_faults)]
        svg, splits = self._address(r)
        return RegimeDoc(r, anchor, self.meta(r), overview, svg, splits, levels, page_shifts, faults, checks, accs,
                         lets, updates,
                         self._record(r.record, p, f"regime-{r.name}"), self.uses.get(("regime", r.name), []),
                         inputs, [self._record(x, p, f"regime-{r.name}") for x in r.records])

    def _address(self, r: ir.Regime) -> tuple[Markup, list[SplitDoc]]:
        """The input address split into table indexes and page offset, one row per
        level that has leaves (each page size)."""
        rows, splits = [], []
        top = max((lv.index_hi for lv in r.levels), default=r.input_width - 1)
        for leaf in sorted(r.leaf_levels, key=lambda lv: lv.number):
            boxes, parts = [], []
            if top < r.input_width - 1:
                boxes.append(Box(top + 1, r.input_width - 1, "not indexed", "upper",
                                 f"{r.input_name}{_bits(r.input_width - 1, top + 1, True)}: not indexed by any level",
                                 ("—",)))
                parts.append((_bits(r.input_width - 1, top + 1), "not indexed"))
            for lv in r.levels:
                if lv.number < leaf.number:
                    break
                boxes.append(Box(lv.index_lo, lv.index_hi, lv.name, "index",
                                 f"level {lv.shown} {lv.name}: {r.input_name}{_bits(lv.index_hi, lv.index_lo, True)}"
                                 f" indexes the table ({lv.index_hi - lv.index_lo + 1} bits)"))
                parts.append((_bits(lv.index_hi, lv.index_lo), f"level {lv.shown} {lv.name} index"))
            if leaf.page_shift_expr is not None:
                offset_hi, title = leaf.index_lo - 1, f"leaf at level {leaf.shown} {leaf.name}, page size from the entry"
                what = "page offset (the entry gives the page size; its frame bits above the size are used)"
            else:
                offset_hi, title = leaf.page_shift - 1, f"{_size(leaf.page_shift)} page (leaf at level {leaf.shown} {leaf.name})"
                what = "page offset"
            if offset_hi >= 0:
                boxes.append(Box(0, offset_hi, "offset", "offset",
                                 f"{r.input_name}{_bits(offset_hi, 0, True)}: {what}", ("off",)))
                parts.append((_bits(offset_hi, 0), what))
            boxes = _fill_blanks(r.input_width, boxes)
            label = (_size(leaf.page_shift) if leaf.page_shift_expr is None else "size in entry", f"leaf {leaf.name}")
            rows.append(Row(r.input_width - 1, r.input_width, label, boxes))
            splits.append(SplitDoc(title, parts))
        if not rows:
            return Markup(""), splits
        cell = 15 if r.input_width > 40 else 24
        return Diagram(rows, cell, self.uid()).svg(), splits

    # ---- nested compositions
    def _nested(self, n: ir.Nested) -> NestedDoc:
        host = next((r for r in self.spec.regimes if r.name == n.host), None)
        p = self.p
        overview = [
            Entry("guest regime", links=[self.link("regime", n.guest)],
                  note="its every table pointer and its final address are translated by the host"),
            Entry("host regime", links=[self.link("regime", n.host)]),
            Entry("context registers", links=[self.link("layout", c) for c in n.context]),
            Entry("guest updates", "before final" if n.updates_before_final else "after final",
                  note="the guest's after-success updates are written before the host translates the final "
                  "address" if n.updates_before_final else "the guest's after-success updates are written once "
                  "the host translated the final address"),
        ]
        for stage, cond, cite, what in (
                ("guest", n.guest_bypass, n.guest_bypass_cite, "the input is the guest-physical address"),
                ("host", n.host_bypass, n.host_bypass_cite, "guest-physical = host-physical, no host walk")):
            if cond is not None:
                overview.append(Entry(f"{stage} stage off when", expr=p.text(cond),
                                      note=what + (f"; {cite}" if cite else "")))
        for f in n.folds:
            note = (f"from {p.text(f.init).flat}, after each guest entry read, over the accumulators (host.NAME) of "
                    "the host translation of its address")
            overview.append(Entry(f"fold {f.name}", expr=p.text(f.then),
                                  note="; ".join(x for x in (note, f.doc, f.cite, self.src(f)) if x)))
        overview += self._caches(n.caches, n.invalidations, "input of the guest to output of the host")
        binds = [RuleDoc(b.name, [("=", p.text(b.value))], Meta("", "", self.src(b))) for b in n.host_bindings]
        bound = {b.name for b in n.host_bindings}
        if host is not None:
            binds += [RuleDoc(c, [], Meta("", "", ""), "passed through") for c in host.context if c not in bound]
        maps = []
        for stage, items, cond in (("table", n.table_access, None), ("final", n.final_access, None),
                                   ("update", n.update_access, n.update_when)):
            if items:
                title = {"table": "guest table reads (table access)", "final": "the final address (final access)",
                         "update": "accessed/dirty writes to guest entries (update access)"}[stage]
                when = p.text(cond) if cond is not None else None
                maps.append((title, when, [RuleDoc(b.name, [("=", p.text(b.value))], Meta("", "", self.src(b)))
                                           for b in items]))
        return NestedDoc(n, self.anchors.get("nested", n.name), self.meta(n), overview, binds, maps,
                         self._record(n.record, p, f"nested-{n.name}"))

    def _caches(self, caches: tuple[ir.Cache, ...], events: tuple[ir.Invalidation, ...], when: str) -> list[Entry]:
        """Rows of the overview table for translation caches and invalidation events:
        each cache's geometry, tags and global rule, then each event's drops and register
        writes (the semantics are in docs/language.md, "Caches and invalidation")."""
        p, out = self.p, []
        for c in caches:
            pages = "one entry per smallest page" if c.pages == "split" else "one entry per whole page"
            note = "; ".join(x for x in (c.doc, when, c.cite, self.src(c)) if x)
            sets = f"{c.entries} entries, {c.ways} ways ({c.sets} set{'s' if c.sets != 1 else ''}), replace {c.replace}"
            if c.holds == "tables" and c.stage == "host":
                what = (f"holds host tables of levels {', '.join(map(str, c.levels))}: {sets} (a paging-structure "
                        "cache of the host walk: what a host walk has after each of those host levels' entries, keyed "
                        "by the guest-physical bits from the level's index up; a host translation the nested TLB does "
                        "not answer resumes after the deepest hit)")
            elif c.holds == "tables":
                what = (f"holds tables of levels {', '.join(map(str, c.levels))}: {sets} (a paging-structure cache: "
                        "what a walk has after each of those levels' entries, keyed by the input bits from the "
                        "level's index up; a miss in every TLB resumes after the deepest hit)")
            elif c.holds == "host translations":
                what = (f"holds host translations: {sets}, pages {c.pages} ({pages}) (a nested TLB: each host "
                        "translation of the walk is looked up first)")
            elif c.source == "call":
                what = f"holds call {c.of}: {sets}"
            else:
                holds = c.holds + (f" of walk {c.of}" if c.source == "walk" else f" {c.of}" if c.source else "")
                what = f"holds {holds}: {sets}, pages {c.pages} ({pages})"
            out.append(Entry(f"cache {c.name}", what, note=note))
            if c.key is not None:
                out.append(Entry(f"cache {c.name} key", expr=p.text(c.key),
                                 note=f"page {c.page}: an entry covers the 2^{c.page}-byte piece that holds it"))
            for t in c.tags:
                out.append(Entry(f"cache {c.name} tag {t.name}", expr=p.text(t.value),
                                 note="; ".join(x for x in ("recorded at fill, read by drops" if c.source == "structure"
                                                            else "stored at fill, compared at lookup", t.cite) if x)))
            if c.source == "call":
                if c.fill_when is None:
                    out.append(Entry(f"cache {c.name} fill", "every call made"))
                else:
                    out.append(Entry(f"cache {c.name} fill when", expr=p.text(c.fill_when),
                                     note="evaluated after the call decided"))
            if c.global_when is not None:
                ignores = ", ".join(c.global_ignores) or "no tag"
                out.append(Entry(f"cache {c.name} global when", expr=p.text(c.global_when),
                                 note="; ".join(x for x in (f"decided at fill; a global entry ignores {ignores}",
                                                            c.global_cite) if x)))
        for v in events:
            ops = ", ".join(f"{o.name} : {o.width}" for o in v.operands)
            head = f"invalidate {v.name}({ops})"
            note = "; ".join(x for x in (v.doc, v.cite, self.src(v)) if x)
            for i, d in enumerate(v.drops):
                label = f"{head}: drop {d.cache}" + (" when" if d.when is not None else "")
                if d.when is None:
                    out.append(Entry(label, "every entry", note=note if i == 0 else ""))
                else:
                    out.append(Entry(label, expr=p.text(d.when), note=note if i == 0 else ""))
            for b in v.sets:
                out.append(Entry(f"{head}: then set {b.name} =", expr=p.text(b.value),
                                 note="for the requests that follow" + (f"; {note}" if not v.drops else "")))
            if not v.drops and not v.sets:
                out.append(Entry(head, "drops nothing", note=note))
        return out

    # ---- decision units
    def _unit(self, u: ir.Unit) -> UnitDoc:
        p = self.p.for_unit(u)
        anchor = self.anchors.get("unit", u.name)
        event = [(f.name, f.width, self.link("enum", f.enum), f.doc, self.src(f)) for f in u.event]
        steps = []
        for kind, name in u.steps:
            if u.call_of(name) is not None:
                continue  # a step of a callee: its call shows it (the callee's own spec documents it)
            node = u.step_node(kind, name)
            # keyed by owner and name: a record's `store` links to its structure
            step_anchor = self.anchors.add("step", f"unit-{u.name}-{name}", f"{kind} {name}")
            step = self._step(kind, node, step_anchor, p)
            c = u.cache_of(kind, name)
            if c is not None:  # the cache in front of the step, and what drops its entries
                self.p, saved = p, self.p
                events = tuple(v.model_copy(update={"drops": tuple(d for d in v.drops if d.cache == c.name),
                                                    "sets": ()})
                               for v in u.invalidations if any(d.cache == c.name for d in v.drops))
                what = ("a hit gives the walk's translation with no memory reference" if kind == "walk"
                        else "a hit gives every result of the call (the callee's steps and stores do not run: no "
                        "memory reference); a miss calls and fills" if kind == "call"
                        else "a hit gives the structure's words with no memory reference; tags are recorded "
                        "at fill and the lookup matches by address")
                step.entries += self._caches((c,), events, what)
                self.p = saved
            steps.append(step)
        lets = [RuleDoc(x.name, [("=", p.text(x.value, fold_root=False))], self.meta(x)) for x in u.let_defs]
        record = self._record(u.record, p, f"unit-{u.name}")
        exits = []
        for i, x in enumerate(u.exits):
            assigns = [AssignDoc(a.field, p.text(a.value) if a.value is not None else None,
                                 [BitsDoc(_bits(b.hi, b.lo), b.name, p.text(b.value), b.doc, self.src(b)) for b in a.bits])
                       for a in x.assigns if not a.default]  # (a default is shown once, in the record)
            exits.append(ExitDoc(i + 1, x.name, self.anchors.add("exit", f"{u.name}-{x.name}", f"exit {x.name}"),
                                 p.text(x.when), assigns, self.meta(x)))
        return UnitDoc(u, anchor, self.meta(u), event, [self.link("layout", c) for c in u.context], steps, lets,
                       record, exits)

    def _step(self, kind: str, node, anchor: Anchor, p: ExprPrinter) -> StepDoc:
        meta = self.meta(node)
        if kind == "structure":
            st: ir.Structure = node
            entries = [Entry("size", f"{st.size} bytes"), Entry("address", expr=p.text(st.base))]
            if st.align != 8:
                entries.append(Entry("alignment", f"{st.align} bytes", note="at a base 4 bytes past a multiple of 8, "
                                     "each 8-byte word is read from the two aligned words it straddles"))
            if st.when is not None:
                entries.append(Entry("read when", expr=p.text(st.when), note="otherwise every field reads as 0"))
            rows = [StructFieldRow(f"0x{f.offset:03X}", _bits(f.offset * 8 % 64 + f.width - 1, f.offset * 8 % 64),
                                   f.name, f.width, self.link("layout", f.format), f.doc, f.cite, self.src(f))
                    for f in st.fields]
            svg = self._struct_svg(st, p) if st.size <= DIAGRAM_MAX_STRUCT_BYTES else None
            return StepDoc(kind, st.name, anchor, meta, entries, rows, svg)
        if kind == "bitmap":
            bm: ir.Bitmap = node
            entries = [Entry("base address (bytes)", expr=p.text(bm.base)), Entry("first bit", expr=p.text(bm.index)),
                       Entry("bits read", expr=p.text(bm.span_bits), note=f"at most {bm.width}")]
            if bm.when is not None:
                entries.append(Entry("read when", expr=p.text(bm.when), note="otherwise the bits read as 0"))
            return StepDoc(kind, bm.name, anchor, meta, entries)
        if kind == "call":
            c: ir.Call = node
            results = ", ".join([f"{c.name}.{m}" for m in ("called", "exit")]
                                + [f"{c.name}.{x.name}" for x in c.exits] + [f"{c.name}.{f.name}" for f in c.record.fields])
            entries = [Entry("unit", c.unit, note="it decides here as its own `decide` would, on the event and "
                             "context bound below and the same memory, without its caches: its reads, its walks and, "
                             "when it exits, its stores come at this point of the order"),
                       Entry("results", results, note="all 0 when the call is not made; a field is its value when "
                             "the callee exits, else 0; a binding wider than its field is cut to the field's low bits")]
            if c.when is not None:
                entries.append(Entry("called when", expr=p.text(c.when), note="otherwise the callee does nothing"))
            binds = [("event fields", [RuleDoc(b.name, [("=", p.text(b.value))], Meta("", "", self.src(b)))
                                       for b in c.event]),
                     ("context registers", [RuleDoc(b.name, [("=", p.text(b.value))], Meta("", "", self.src(b)))
                                            for b in c.context])]
            return StepDoc(kind, c.name, anchor, meta, entries, bindings=[b for b in binds if b[1]])
        w: ir.Walk = node
        entries = [Entry("nested composition" if w.nested else "regime",
                         links=[self.link("nested" if w.nested else "regime", w.regime)]),
                   Entry("input address", expr=p.text(w.input))]
        if w.when is not None:
            entries.append(Entry("walked when", expr=p.text(w.when), note="otherwise the walk does not happen"))
        binds = [("access kinds", [RuleDoc(b.name, [("=", p.text(b.value))], Meta("", "", self.src(b))) for b in w.access]),
                 ("context registers", [RuleDoc(b.name, [("=", p.text(b.value))], Meta("", "", self.src(b)))
                                        for b in w.context])]
        return StepDoc(kind, w.name, anchor, meta, entries, bindings=[b for b in binds if b[1]])

    def _struct_svg(self, st: ir.Structure, p: ExprPrinter) -> Markup:
        """A small structure word by word: its fields as bands, the fields of their
        formats as boxes."""
        width = st.size * 8
        boxes, groups = [], []
        for f in st.fields:
            lo = f.offset * 8
            hi = lo + f.width - 1
            if hi >= width:
                continue
            lay = next((x for x in self.spec.layouts if x.name == f.format), None) if f.format else None
            tip = f"{st.name}.{f.name} at +0x{f.offset:X}, {f.width} bits" + (f": {f.doc}" if f.doc else "")
            if lay is not None and lay.width == f.width:
                groups.append(Box(lo, hi, f.name, "group", tip))  # a band naming the field over its format's boxes
                inner = _fill_blanks(f.width, layout_boxes(lay, p, owner=f"{st.name}.{f.name} ({lay.name})"))
                boxes += [Box(b.lo + lo, b.hi + lo, b.label, b.style, b.tip, b.short, b.marked) for b in inner]
            else:
                boxes.append(Box(lo, hi, f.name, "field", tip))
        return Diagram(_row_split(width, _fill_blanks(width, boxes), groups, _word_label(True)), 30, self.uid()).svg()

    # ---- table of contents
    def _toc(self) -> list[TocEntry]:
        out = []
        sections = [("Parameters", "parameters", []),
                    ("Enumerations", "enumerations", [Link(e.enum.name, e.anchor) for e in self.enums]),
                    ("Registers", "registers", [Link(x.layout.name, x.anchor) for x in self.registers]),
                    ("Formats", "formats", [Link(x.layout.name, x.anchor) for x in self.formats]),
                    ("Translation regimes", "translation-regimes", [Link(x.regime.name, x.anchor) for x in self.regimes]),
                    ("Nested translations", "nested-translations", [Link(x.nested.name, x.anchor) for x in self.nested]),
                    ("Decision units", "decision-units", [Link(x.unit.name, x.anchor) for x in self.units])]
        counts = {"parameters": len(self.params)}
        for title, key, items in sections:
            if items or counts.get(key):
                out.append(TocEntry(title, Anchor(f"sec-{key}", _github_slug(title)), items))
        return out


def display_path(path: str, main: str) -> str:
    """A spec path as the docs show it: never absolute. The front end gives paths relative
    to the project or the working directory; a file outside both is shown relative to the
    main spec's folder (an import beside it), or by its name."""
    if not PurePath(path).is_absolute():
        return path
    if PurePath(main).is_absolute():
        try:
            return os.path.relpath(path, PurePath(main).parent)
        except ValueError:
            pass
    return PurePath(path).name


def _some_of(names: list[str], every: list[str]) -> str:
    """A subset of `every`, in the shorter of its two spellings."""
    if not names:
        return "none"
    if names == every:
        return "all"
    left_out = [x for x in every if x not in names]
    return "all but " + ", ".join(left_out) if len(left_out) < len(names) else ", ".join(names)


def _constant(e: Expr | None) -> str:
    """What a condition the parameters decide comes to in this spec."""
    if e is None or e.op != "num":
        return ""
    return "always here" if e.value else "never here"


def _value(v: int) -> str:
    return str(v) if v < 10 else f"{v} (0x{v:X})"


def _size(shift: int) -> str:
    """2**shift bytes in binary units: 4 KiB, 2 MiB, 1 GiB ..."""
    for unit, s in (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if shift >= s:
            return f"{1 << (shift - s)} {unit}"
    return f"{1 << shift} bytes"


def header_lines(spec: ir.Spec, shown_path: str) -> list[str]:
    return ["DO NOT EDIT: generated by virtspec from the spec below; edit the spec and run `virtspec doc`.",
            f"spec: {shown_path}", f"spec sha256: {spec.sha256}", f"generator: virtspec {GENERATOR_VERSION}",
            index_line(spec)]


# =====================================================================================
# Rendering
# =====================================================================================

@lru_cache(maxsize=1)
def _html_env() -> jinja2.Environment:
    """One environment per process (templates compiled once); likewise _md_env."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=True)
    env.filters["url"] = lambda s: quote(str(s), safe="")
    env.finalize = lambda v: v if isinstance(v, Markup) or not isinstance(v, str) else clean(v)
    env.filters["comment"] = comment_safe
    return env


@lru_cache(maxsize=1)
def _md_env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
                             finalize=md_escape)
    env.filters["code"] = md_code
    env.filters["cell_code"] = lambda t: md_code(t, table=True)
    env.filters["block"] = md_block
    env.filters["link"] = lambda link: md_link(link.text, "#" + link.anchor.md if link.anchor else None)
    env.filters["file_link"] = lambda text, target: md_link(text, target)
    env.filters["comment"] = lambda text: MdSafe(comment_safe(text))
    env.filters["para"] = md_para
    env.filters["md"] = MdSafe  # a macro's output: built of values escaped already
    return env


def _tidy(text: str) -> str:
    """At most one blank line in a row, and one newline at the end."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def render(spec: ir.Spec) -> dict[str, str]:
    """The Markdown and HTML reference of `spec`, by file name."""
    doc = SpecDoc(spec)
    stem = doc.stem
    return {f"{stem}.md": _tidy(_md_env().get_template("doc/spec.md.j2").render(d=doc)),
            f"{stem}.html": _html_env().get_template("doc/spec.html.j2").render(d=doc)}


@dataclass
class IndexEntry:
    name: str
    stem: str
    path: str
    sha256: str
    cite: str
    doc: str
    counts: str


def index_entry(s: ir.Spec) -> IndexEntry:
    counts = [(len([x for x in s.layouts if x.kind == "register"]), "register"),
              (len([x for x in s.layouts if x.kind != "register"]), "format"), (len(s.enums), "enum"),
              (len(s.regimes), "regime"), (len(s.nested), "nested translation"), (len(s.units), "unit")]
    text = ", ".join(f"{n} {w}{'s' if n != 1 else ''}" for n, w in counts if n)
    return IndexEntry(s.name, output_name(s), display_path(s.path, s.path), s.sha256, s.cite, s.doc, text)


INDEX_LINE = "index: "  # the header line of a spec's Markdown that carries its index entry


def index_line(spec: ir.Spec) -> str:
    """The spec's index entry as one header line, so that a later `virtspec doc` of
    other specs into the same folder can list this one too (read back by
    documented_entries)."""
    fields = sorted(dataclasses.asdict(index_entry(spec)).items())
    return INDEX_LINE + "; ".join(f"{key}={quote(value, safe=' /.,()+_-')}" for key, value in fields)


def documented_entries(folder: Path, skip: set[str]) -> list[IndexEntry]:
    """The index entries of the specs already documented in `folder` (each *.md that
    carries an index line), less those whose stem is in `skip`."""
    found = []
    try:
        pages = sorted(folder.glob("*.md"))
    except OSError:
        return []
    for page in pages:
        if page.stem in skip or page.stem == "index":
            continue
        try:
            head = page.read_text(errors="replace").split("-->", 1)[0]
        except OSError:
            continue
        for line in head.splitlines():
            if line.startswith(INDEX_LINE):
                try:
                    pairs = (item.split("=", 1) for item in unquote(line[len(INDEX_LINE):]).split("; "))
                    found.append(IndexEntry(**{key: unquote(value) for key, value in pairs}))
                except (ValueError, TypeError):
                    pass  # not one of ours, or from another version: left out of the index
                break
    return found


def render_index(specs: list[ir.Spec], folder: Path | None = None) -> dict[str, str]:
    """index.md and index.html linking the reference of each spec in `specs` and of every
    other spec already documented in `folder`: documenting one spec into a folder of
    references adds it to the index, it does not make an index of one."""
    entries = [index_entry(s) for s in specs]
    if folder is not None:
        entries += documented_entries(folder, {e.stem for e in entries})
    entries.sort(key=lambda e: e.stem)
    ctx = {"entries": entries, "version": GENERATOR_VERSION}
    return {"index.md": _tidy(_md_env().get_template("doc/index.md.j2").render(**ctx)),
            "index.html": _html_env().get_template("doc/index.html.j2").render(**ctx)}
