"""Lowering of IR expressions to source text: one printer for Python, one for MyHDL.

Both printers take a `Env` that says how each kind of reference is spelled in the
target (the entry register, the context ports, accumulators...). The MyHDL printer
keeps to the convertible subset: constant slices, `not/and/or` on truth values,
no helper functions.
"""
from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Callable

from codegen import ir
from codegen.ir.expr import COMPARE, LOGICAL, Expr, expand_call, mask


class LowerError(Exception):
    """An expression the target cannot express; carries the expression's span."""

    def __init__(self, message: str, span):
        super().__init__(message)
        self.span = span


PY_BIN = {"&": "&", "|": "|", "^": "^", "+": "+", "*": "*", "/": "//", "%": "%", "<<": "<<", ">>": ">>",
          "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass
class Env:
    """How references are spelled: `ref(expr) -> text` for each ref kind."""

    spell: dict[str, Callable[[Expr], str]] = field(default_factory=dict)
    # MyHDL only: kind -> (signal name, bit position of the value in it) for references
    # that are a slice of a wider signal, so that `x[i]` becomes one index of the signal
    signal: dict[str, Callable[[Expr], tuple[str, int]]] = field(default_factory=dict)
    # builtins whose spelling depends on where they are printed (a cache's `covers(X)`)
    calls: dict[str, Callable[[Expr], str]] = field(default_factory=dict)

    def ref(self, e: Expr) -> str:
        try:
            return self.spell[e.kind](e)
        except KeyError:
            raise LowerError(f"'{e.name}' cannot be used here", e.span) from None


def py(e: Expr, env: Env) -> str:
    """Python source for `e`, evaluating to an int (0/1 or a bool for 1-bit values)."""
    op = e.op
    if op == "num":
        return hex(e.value) if e.value > 9 else str(e.value)
    if op == "ref":
        return env.ref(e)
    a = e.args
    if op == "call":
        return _py_call(e, env)
    if op == "!":
        return f"(not {py(a[0], env)})"
    if op == "~":
        return f"({py(a[0], env)} ^ {hex(mask(e.width))})"
    if op == "neg":
        return f"(-{py(a[0], env)} & {hex(mask(e.width))})"
    if op in LOGICAL:
        word = "and" if op == "&&" else "or"
        parts = [py(x, env) if x.width == 1 else f"({py(x, env)} != 0)" for x in a]
        return f"({parts[0]} {word} {parts[1]})"
    if op == "-":
        return f"(({py(a[0], env)} - {py(a[1], env)}) & {hex(mask(e.width))})"
    if op == "<<" and shift_overflows(e):
        # the result keeps its width's low bits: an amount of the width or more gives 0
        # (min() keeps Python from building a huge number for a huge amount)
        return f"(({py(a[0], env)} << min({py(a[1], env)}, {e.width})) & {hex(mask(e.width))})"
    if op in PY_BIN:
        return f"({py(a[0], env)} {PY_BIN[op]} {py(a[1], env)})"
    if op == "cond":
        return f"({py(a[1], env)} if {py(a[0], env)} else {py(a[2], env)})"
    if op == "bit":
        return f"(({py(a[0], env)} >> {py(a[1], env)}) & 1)"
    if op == "slice":
        hi, lo = a[1].value, a[2].value
        return f"(({py(a[0], env)} >> {lo}) & {hex(mask(hi - lo + 1))})"
    raise LowerError(f"operator '{op}' has no Python form", e.span)


def _py_call(e: Expr, env: Env) -> str:
    """A builtin in Python: one lambda applied to the operands, so each is computed once."""
    if e.name in env.calls:
        return env.calls[e.name](e)
    x = e.args[0]
    w = x.width
    if e.name == "sext":
        return (f"(lambda v, n: v if n >= {w} else 0 if n <= 0 else (v & ((1 << n) - 1)) | "
                f"({hex(mask(w))} ^ ((1 << n) - 1) if (v >> (n - 1)) & 1 else 0))"
                f"({py(x, env)} & {hex(mask(w))}, {py(e.args[1], env)})")
    inner = py(x, env) if e.name == "ctz" else f"(~{py(x, env)})"
    return f"(lambda v: (v & -v).bit_length() - 1 if v else {w})({inner} & {hex(mask(w))})"


def shift_overflows(e: Expr) -> bool:
    """Whether `a << b` can move bits past its width (its width is capped): the most
    the amount can be is a constant's value, or all ones in the amount's width."""
    a, b = e.args
    most = b.value if b.op == "num" else (1 << b.width) - 1
    return a.width + most > e.width


def fits_plain(e: Expr, width: int) -> bool:
    """Whether `hdl(e)` gives a value that stays in `width` bits and never below 0 (no
    subtraction, conditional, inversion, wide constant or overflowing shift in it), so
    that it can be assigned without a scratch variable."""
    if e.width > width:
        return False
    for x in _nodes(e):
        if x.op in ("-", "neg", "~", "cond") or (x.op == "num" and x.value >= 1 << 31):
            return False
        if x.op == "<<" and shift_overflows(x):
            return False
    return True


def _nodes(e: Expr):
    yield e
    for x in e.args or ():
        if isinstance(x, Expr):
            yield from _nodes(x)


def hdl(e: Expr, env: Env, as_bool: bool = False) -> str:
    """MyHDL (convertible) source for `e`. With as_bool, the result is a truth value."""
    op = e.op
    if as_bool and e.width != 1 and op not in LOGICAL and op not in COMPARE and op != "!":
        return f"({hdl(e, env)} != 0)"
    if op == "num":
        if as_bool:
            return "True" if e.value else "False"
        return hex(e.value) if e.value > 9 else str(e.value)
    if op == "ref":
        return env.ref(e)
    if op == "call" and e.name in env.calls:
        raise LowerError(f"'{e.name}' cannot be used here", e.span)
    if op == "call":
        return hdl(expand_call(e), env, as_bool)
    a = e.args
    if op == "!":
        return f"(not {hdl(a[0], env, True)})"
    if op in LOGICAL:
        word = "and" if op == "&&" else "or"
        return f"({hdl(a[0], env, True)} {word} {hdl(a[1], env, True)})"
    if op == "~":
        return f"(~{hdl(a[0], env)})"
    if op == "neg":
        raise LowerError(_unsupported(op), e.span)
    if op == "<<" and a[0].width == 1 and a[1].op == "num":
        # a truth value moved up: a concatenation converts cleanly to Verilog and VHDL
        return f"concat({hdl(a[0], env, True)}, intbv(0)[{a[1].value}:])"
    if op in COMPARE and any(x.op == "num" and x.value >= WIDE for x in a):
        return _wide_compare(e, env)
    if op == "<<" and shift_overflows(e):
        # the result keeps its width, as in the reference: masked in the expression
        if a[1].op != "num" or e.width > MASKABLE:
            raise LowerError(_unwrappable("a shift past its width" + ("" if a[1].op == "num" else
                                                                       " by an amount that is not a constant")), e.span)
        return f"(({hdl(a[0], env)} << {a[1].value}) & {hex(mask(e.width))})"
    if op == "<<" and a[1].op == "num" and a[1].value and _PLAIN.match(hdl(a[0], env)):
        # width-exact: VHDL's shift_left keeps its operand's width and would drop the top bits
        return f"concat({hdl(a[0], env)}, {_zeros(a[1].value)})"
    if op in PY_BIN and op not in ("/", "%"):
        return f"({_operand(a[0], a[1], env)} {PY_BIN[op]} {_operand(a[1], a[0], env)})"
    if op in ("-",):
        # wraps to its width, as in the reference (MyHDL's own `-` goes below zero)
        if e.width > MASKABLE:
            raise LowerError(_unwrappable(f"a {e.width}-bit subtraction"), e.span)
        return f"(({hdl(a[0], env)} - {hdl(a[1], env)}) & {hex(mask(e.width))})"
    if op == "cond":
        return f"({hdl(a[1], env)} if {hdl(a[0], env, True)} else {hdl(a[2], env)})"
    if op == "bit":
        base = a[0]
        if base.op == "ref" and base.kind in env.signal:
            name, lo = env.signal[base.kind](base)
            if a[1].op == "num":
                return f"{name}[{lo + a[1].value}]" if a[1].value < base.width else "False"
            # a dynamic index: shift the field, so that an index past it gives 0 as in Python
            return f"((({env.ref(base)} >> {hdl(a[1], env)}) & 1) == 1)"
        return f"{_base(base, env)}[{hdl(a[1], env)}]"
    if op == "slice":
        hi, lo = a[1].value, a[2].value
        if a[0].op == "ref" and a[0].kind in env.signal:
            # a slice of a field: one slice of the signal that holds the field
            name, base = env.signal[a[0].kind](a[0])
            hi, lo = base + min(hi, a[0].width - 1), base + lo
            return f"{name}[{lo}]" if hi == lo else f"{name}[{hi + 1}:{lo}]"
        if hi == lo:
            return f"{_base(a[0], env)}[{lo}]"
        return f"{_base(a[0], env)}[{hi + 1}:{lo}]"
    raise LowerError(_unsupported(op), e.span)


_PLAIN = re.compile(r"^[A-Za-z_]\w*(\[\d+(:\d*)?\])?$")  # a name or a constant slice: its width is known


def _sized(text: str) -> bool:
    """Whether MyHDL text has a width of its own in a concatenation: a name, a constant
    slice, or a whole `concat(...)` (of such parts)."""
    if _PLAIN.match(text):
        return True
    if not text.startswith("concat(") or not text.endswith(")"):
        return False
    depth = 0
    for i in range(len("concat"), len(text)):
        depth += (text[i] == "(") - (text[i] == ")")
        if depth == 0:
            return i == len(text) - 1  # the first parenthesis closes at the end
    return False


def zero_extend(text: str, n: int) -> str:
    """Sized MyHDL text (see _sized) with n zero bits above it: one flat concat."""
    if text.startswith("concat("):
        return f"concat({_zeros(n)}, {text[len('concat('):]}"
    return f"concat({_zeros(n)}, {text})"


def resize(name: str, have: int, want: int) -> str:
    """A signal or variable of `have` bits as MyHDL text of exactly `want` bits: its low
    bits, or zero-extended (a value whose IR width differs from the signal that holds it,
    such as a fault kind in the status register)."""
    if want < have:
        return f"{name}[{want}:]"
    return zero_extend(name, want - have) if want > have else name


SIZED = 1 << 30  # MyHDL writes a constant this big in Verilog with a width of its own (its bit length + 1)


def const(value: int, width: int) -> str:
    """A constant as MyHDL text that is `width` bits wide in the HDL: a plain literal when
    small (an unsized Verilog literal takes its context's width, without a WIDTH warning;
    VHDL writes an integer), else `intbv(C)[W:]`, which MyHDL writes as a literal of
    exactly W bits in both languages (`W'h...`, a VHDL bit string)."""
    if value < SIZED:
        return hex(value) if value > 9 else str(value)
    return f"intbv({hex(value)})[{max(width, value.bit_length())}:]"


def _operand(x: Expr, other: Expr, env: Env) -> str:
    """An operand of a binary operator: a big constant as wide as the other operand, so
    that Verilog extends nothing (MyHDL would size it by its own bit length)."""
    if x.op == "num" and x.value >= SIZED:
        return const(x.value, other.width)
    return hdl(x, env)


def _zeros(n: int) -> str:
    """n zero bits as a MyHDL concat operand: `intbv(0)[n:]`, not a bit string, which
    MyHDL's VHDL converter counts as 0 bits wide when it sizes the concatenation (so
    that a bitwise operator beside it resized its operands to the wrong width)."""
    return f"intbv(0)[{n}:]"


WIDE = 1 << 31  # VHDL integers are 32-bit: a constant this big is no integer literal there
MASKABLE = 30  # widest value an expression can wrap with a mask constant that VHDL can write


def _unwrappable(what: str) -> str:
    """The E0501 message for a value an in-line expression cannot wrap to its width."""
    return (f"in the cycle-level model, {what} cannot be wrapped to its width in this expression (a fault or check "
            f"condition, the start or next level: only values up to {MASKABLE} bits wrap "
            "there, with a constant shift amount): narrow the operands with a slice or a mask first, or compute "
            "the value in a record field")

_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _wide_compare(e: Expr, env: Env) -> str:
    """A comparison with a constant of 2**31 or more (VHDL would write it as an integer
    literal, beyond VHDL's integers). A constant past the other side's width decides the
    comparison (as in the reference); `==` and `!=` otherwise compare `x ^ C` with 0 (a
    constant beside a bitwise operator becomes a bit string); an ordering against such a
    constant is refused (E0501)."""
    a, b = e.args
    op = e.op
    if a.op == "num" and a.value >= WIDE:
        a, b, op = b, a, _MIRROR[op]
    if b.value >> a.width:  # x < C for every value of x
        return "True" if op in ("!=", "<", "<=") else "False"
    if op in ("==", "!="):
        return f"(({hdl(a, env)} ^ {const(b.value, a.width)}) {op} 0)"
    raise LowerError(f"in the cycle-level model, a comparison '{op}' against a constant of 2^31 or more cannot be "
                     "converted to VHDL (its integers are 32-bit): compare a shifted or masked value against a smaller "
                     "constant instead", e.span)


def _unsupported(op: str) -> str:
    """The E0501 message for an operator the MyHDL model cannot express, with the fix."""
    if op == "neg":
        return ("unary minus is not supported in the cycle-level model: write a subtraction from 0 instead "
                "('0 - x' for '-x'), which wraps to the same width")
    why = f"operator '{op}' is not supported in the cycle-level model"
    if op in ("/", "%"):
        return (f"{why}, which has no divider: divide by a power of two with a shift ('x >> n' for 'x / 2^n') and "
                "take a remainder with a mask ('x & (2^n - 1)')")
    return why


def _base(e: Expr, env: Env) -> str:
    if e.op != "ref":
        raise LowerError("in the cycle-level model, bits and slices apply to a named value only: for a bit or "
                         "slice of a computed value write '(EXPR >> LOW) & MASK'", e.span)
    return env.ref(e)


def ref_slice(name: str, lo: int, width: int, total: int) -> str:
    """Spell a field of a signal as a MyHDL slice (a bit when 1 wide, whole when it covers all)."""
    if width == 1:
        return f"{name}[{lo}]"
    if lo == 0 and width == total:
        return name
    return f"{name}[{lo + width}:{lo}]"


def py_field(name: str, lo: int, width: int) -> str:
    if lo == 0:
        return f"({name} & {hex(mask(width))})"
    return f"(({name} >> {lo}) & {hex(mask(width))})"


def record_py(rec: ir.Record, env: Env) -> list[tuple[str, str]]:
    """(field name, Python expression) for each field of a fault record."""
    out = []
    for f in rec.fields:
        if f.value is not None:
            out.append((f.name, f"({py(f.value, env)} & {hex(mask(f.width))})"))
        else:
            parts = []
            for b in f.bits:
                w = b.hi - b.lo + 1
                val = py(b.value, env)
                term = f"(({val}) & {hex(mask(w))})"
                parts.append(f"({term} << {b.lo})" if b.lo else term)
            out.append((f.name, " | ".join(parts) if parts else "0"))
    return out



class Hoist:
    """MyHDL lowering into statements: every conditional, every truth value used as a
    number, and every subtraction becomes a scratch variable assigned before use.

    The converters accept `a if c else b` and comparisons only at the top of an
    assignment, and subtraction must not go below zero in an unsigned variable; text
    made this way is plain `and/or/not`, comparisons, shifts and arithmetic on
    variables and signals, which converts to both Verilog and VHDL. `lines` are the
    statements (declarations included), relative indentation kept.
    """

    def __init__(self, env: Env, prefix: str = "h"):
        self.env, self.prefix = env, prefix
        self.variables: list[tuple[str, int]] = []
        self.lines: list[str] = []

    def _new(self, width: int) -> str:
        """A fresh scratch variable, declared where it is first needed (so that a state
        that does not use it does not build it: the simulation stays fast)."""
        name = f"{self.prefix}{len(self.variables)}"
        self.variables.append((name, max(1, width)))
        self.lines.append(f"{name} = intbv(0)[{max(1, width)}:]")
        return name

    def take(self) -> list[str]:
        """The statements made since the last take()."""
        out, self.lines = self.lines, []
        return out

    def _is_bit(self, e: Expr) -> bool:
        """A reference spelled as one bit of a signal (a truth value in MyHDL)."""
        text = self.env.ref(e)
        return e.width == 1 and text.endswith("]") and ":" not in text

    def value(self, e: Expr) -> str:
        if e.op == "call" and e.name in self.env.calls:
            return self._truth_as_number(e)
        if e.op == "call":
            return self.value(expand_call(e))
        op, a = e.op, e.args
        if op == "num":
            # a wide constant as `intbv(C)[W:]`: a bit string in VHDL (whose integers are
            # 32-bit), and exactly W bits in Verilog
            return const(e.value, e.width)
        if op == "ref":
            return self._truth_as_number(e) if self._is_bit(e) else self.env.ref(e)
        if op in LOGICAL or op in COMPARE or op in ("!", "bit"):
            return self._truth_as_number(e)
        if op == "cond":
            out = self._new(e.width)
            c = self.cond(a[0])
            x, y = self._fit(a[1], e.width), self._fit(a[2], e.width)
            self.lines += [f"if {c}:", f"    {out}[:] = {x}", "else:", f"    {out}[:] = {y}"]
            return out
        if op == "~":
            inner = self._new(e.width)
            self.lines.append(f"{inner}[:] = {self._fit(a[0], e.width)}")
            return f"(~{inner})"
        if op == "-":
            # (a - b) mod 2**width, never negative on the way
            bias_text = const(1 << e.width, e.width + 1)
            x, y = self._fit(a[0], e.width + 1), self._fit(a[1], e.width + 1)
            out = self._new(e.width + 1)
            self.lines.append(f"{out}[:] = ({x} + {bias_text}) - {y}")
            return f"{out}[{e.width}:]"
        if op == "slice":
            base = self._new(a[0].width)
            self.lines.append(f"{base}[:] = {self._fit(a[0], a[0].width)}")
            hi, lo = a[1].value, a[2].value
            return f"{base}[{hi + 1}:{lo}]"
        if op == "<<":
            return self._shift_left(e)
        if op == ">>" and a[1].op != "num":
            base = self.value(a[0])
            if a[0].op == "num":
                # a plain number cannot be shifted by a variable in VHDL: give it a width
                held = self._new(e.width if op == "<<" else a[0].width)
                self.lines.append(f"{held}[:] = {base}")
                base = held
            return f"({base} {op} {self._amount(a[1])})"
        if op in ("+", "*", "&", "|", "^"):
            # width-exact: both operands at the result's width, so that VHDL (whose result
            # is as wide as its operands) and Verilog compute the same bits as the reference
            w = e.width
            x, y = self._fit(a[0], w), self._fit(a[1], w)
            out = self._new(w)
            self.lines.append(f"{out}[:] = {x} {op} {y}")
            return out
        if op == ">>":
            return f"({self.value(a[0])} >> {self.value(a[1])})"
        raise LowerError(_unsupported(op), e.span)

    def _fit(self, e: Expr, w: int) -> str:
        """`e` as exactly `w` bits: a constant masked, a wider value sliced, a narrower
        one zero-extended, each through a variable unless already a plain name/slice."""
        if e.op == "num":
            return const(e.value & mask(w), w)
        text = self.value(e)
        ew = e.width
        if ew > w:
            if not re.match(r"^[A-Za-z_]\w*$", text):
                held = self._new(ew)
                self.lines.append(f"{held}[:] = {text}")
                text = held
            return f"{text}[{w}:]" if w > 1 else f"{text}[{w}:]"
        if not _sized(text):
            held = self._new(ew)
            self.lines.append(f"{held}[:] = {text}")
            text = held
        if ew < w:
            return zero_extend(text, w - ew)
        return text

    def _named(self, e: Expr, w: int) -> str:
        """`e` as exactly `w` bits, a name or a constant slice (what VHDL's shift functions
        and the converters' slicing take)."""
        text = self._fit(e, w)
        if e.op != "num" and not _PLAIN.match(text):
            held = self._new(w)
            self.lines.append(f"{held}[:] = {text}")
            text = held
        return text

    def _shift_left(self, e: Expr) -> str:
        """`a << b` kept to its width W (the model's variables hold no more): the bits moved
        past W are lost, so an amount of W or more gives 0, as in the reference. A
        constant amount is one constant slice and shift; any other amount is a barrel
        shifter over the amount's bits, each stage a constant slice of a W-bit variable."""
        a, b = e.args
        width = e.width
        if not shift_overflows(e):
            if b.op == "num":
                # a concat, not a shift: VHDL's shift_left keeps its operand's width
                if not b.value:
                    return self.value(a)
                base = self._named(a, a.width)
                if a.op == "num":
                    held = self._new(a.width)
                    self.lines.append(f"{held}[:] = {base}")
                    base = held
                return f"concat({base}, {_zeros(b.value)})"
            base = self._named(a, width)
            if a.op == "num":
                # a plain number cannot be shifted by a variable in VHDL: give it a width
                held = self._new(width)
                self.lines.append(f"{held}[:] = {base}")
                base = held
            return f"({base} << {self._amount(b)})"
        if b.op == "num":
            keep = width - b.value  # the low bits of `a` that stay inside the width
            if keep <= 0:
                return "0"
            held = self._new(a.width)
            self.lines.append(f"{held}[:] = {self.value(a)}")
            return f"concat({held}[{keep}:], {_zeros(b.value)})"
        out = self._new(width)
        amount = self._amount(b)
        self.lines.append(f"{out}[:] = {self._fit(a, width)}")
        for i in range(b.width):
            step = 1 << i
            bit = f"{amount}[{i}]" if b.width > 1 else f"{amount}[0]"
            if step >= width:
                self.lines += [f"if {bit}:", f"    {out}[:] = 0"]
            else:
                self.lines += [f"if {bit}:", f"    {out}[:] = concat({out}[{width - step}:], {_zeros(step)})"]
        return out

    def _amount(self, e: Expr) -> str:
        """A shift amount: a plain variable (VHDL's shift functions take an integer, and
        the converter writes to_integer() only around a name)."""
        if e.op == "num":
            return str(e.value)
        out = self._new(e.width)
        self.lines.append(f"{out}[:] = {self._fit(e, e.width)}")
        return out

    def _truth_as_number(self, e: Expr) -> str:
        out = self._new(1)
        self.lines += [f"{out}[:] = 0", f"if {self.cond(e)}:", f"    {out}[:] = 1"]
        return out

    def cond(self, e: Expr) -> str:
        if e.op == "call" and e.name in self.env.calls:
            return self.env.calls[e.name](e)  # a truth value (statements, if any, in self.lines)
        if e.op == "call":
            return self.cond(expand_call(e))
        op, a = e.op, e.args
        if op == "num":
            return "True" if e.value else "False"
        if op in LOGICAL:
            word = "and" if op == "&&" else "or"
            return f"({self.cond(a[0])} {word} {self.cond(a[1])})"
        if op == "!":
            return f"(not {self.cond(a[0])})"
        if op in COMPARE:
            w = max(a[0].width, a[1].width)
            x, y = (const(v.value, w) if v.op == "num" else self._fit(v, w) for v in a)
            return f"({x} {op} {y})"
        if op == "ref" and self._is_bit(e):
            return self.env.ref(e)
        if op == "bit":
            base, idx = a
            if base.op == "ref" and base.kind in self.env.signal and idx.op == "num":
                name, lo = self.env.signal[base.kind](base)
                return f"{name}[{lo + idx.value}]" if idx.value < base.width else "False"
            value = self._new(base.width)
            self.lines.append(f"{value}[:] = {self.value(base)}")
            return f"((({value} >> {self._amount(idx)}) & 1) == 1)"
        return f"({self.value(e)} != 0)"
