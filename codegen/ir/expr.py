"""Integer expressions of the spec language: one node type, an evaluator, and helpers.

The same `Expr` serves the syntax tree (op "name": an unresolved dotted name) and the
IR (op "ref": a resolved reference with its kind, bit position and width). Every
resolved expression has a `width` in bits; width 1 is a truth value.
"""
from __future__ import annotations

from typing import Callable

from pydantic import BaseModel, ConfigDict

from codegen.ir.span import NO_SPAN, Span

UNARY = ("!", "~", "neg")
LOGICAL = ("&&", "||")
COMPARE = ("==", "!=", "<", "<=", ">", ">=")
BITWISE = ("&", "|", "^")
ARITH = ("+", "-", "*", "/", "%", "<<", ">>")
BINARY = LOGICAL + COMPARE + BITWISE + ARITH


class Expr(BaseModel):
    """An expression node.

    op: "num" (value; name: the parameter, enum item or fault kind it was written as,
    if any), "name" (name = dotted text, unresolved), "ref" (resolved: kind,
    name, lo, width), a unary op in UNARY, a binary op in BINARY, "cond" (c ? a : b),
    "bit" (base[index]), "slice" (base[hi:lo]) or "call" (a builtin in BUILTINS, name =
    the builtin, args = its arguments).
    """

    model_config = ConfigDict(frozen=True)
    op: str
    args: tuple["Expr", ...] = ()
    value: int = 0
    name: str = ""
    kind: str = ""
    lo: int = 0
    width: int = 0
    span: Span = NO_SPAN

    def names(self) -> set[str]:
        # (a call's name is the builtin's, not a reference: only op "name"/"ref" count)
        """Dotted names (op "name") or ref names used anywhere in the expression."""
        found = set()
        stack = [self]
        while stack:
            e = stack.pop()
            if e.op in ("name", "ref"):
                found.add(e.name)
            stack.extend(e.args)
        return found

    def refs(self) -> list["Expr"]:
        out, stack = [], [self]
        while stack:
            e = stack.pop()
            if e.op == "ref":
                out.append(e)
            stack.extend(e.args)
        return out


# Builtin functions: name -> (argument count, what it computes, for messages and docs).
BUILTINS = {
    "sext": (2, ("sext(X, N): the low N bits of X sign-extended to the width of X (X itself when N is X's "
                 "width or more, 0 when N is 0)")),
    "ctz": (1, "ctz(X): the number of trailing zero bits of X, within X's width (the width when X is 0)"),
    "cto": (1, "cto(X): the number of trailing one bits of X, within X's width (the width when X is all ones)"),
}


def call_width(name: str, args: tuple[Expr, ...]) -> int:
    """The width of a builtin's result: sext keeps X's width; a count needs the bits of
    X's width (which it can equal)."""
    w = args[0].width or 64
    return w if name == "sext" else max(1, w.bit_length())


def call_value(name: str, x: int, width: int, n: int = 0) -> int:
    """A builtin's value, for an X of `width` bits (the evaluator's and stimulus's semantics)."""
    x &= (1 << width) - 1
    if name == "ctz":
        return (x & -x).bit_length() - 1 if x else width
    if name == "cto":
        return call_value("ctz", ~x, width)
    if n >= width:
        return x
    if n <= 0:
        return 0
    low = x & ((1 << n) - 1)
    return low | (((1 << width) - 1) ^ ((1 << n) - 1)) if low >> (n - 1) else low


def _test_bit(x: Expr, k: int) -> Expr:
    """X[k] as a truth value: a bit of a named value, else `(X & 2^k) != 0` (the
    cycle-level lowering takes bits of named values only)."""
    if x.op == "ref":
        return Expr(op="bit", args=(x, num(k)), width=1, span=x.span)
    m = num(1 << k)
    return Expr(op="!=", args=(Expr(op="&", args=(x, m), width=x.width, span=x.span), num(0)), width=1, span=x.span)


def _cond(c: Expr, a: Expr, b: Expr) -> Expr:
    return Expr(op="cond", args=(c, a, b), width=max(a.width, b.width), span=c.span)


def _sext_const(x: Expr, n: int) -> Expr:
    w = x.width
    if n >= w:
        return x
    if n <= 0:
        return num(0, x.span)
    low = Expr(op="&", args=(x, num((1 << n) - 1)), width=n, span=x.span)
    high = Expr(op="|", args=(low, num(((1 << w) - 1) ^ ((1 << n) - 1))), width=w, span=x.span)
    return _cond(_test_bit(x, n - 1), high, low)


def expand_call(e: Expr) -> Expr:
    """A resolved builtin call written with the other operators, for the cycle-level
    model (which converts to Verilog and VHDL only plain operators): a count is a
    priority chain of conditionals over X's bits; sext with a constant N is one
    conditional on the sign bit; with a conditional N it is a conditional of sexts;
    with any other N, a chain over N's possible values."""
    x = e.args[0]
    w = x.width
    if e.name in ("ctz", "cto"):
        out = num(w, e.span)
        for k in reversed(range(w)):
            bit = _test_bit(x, k)
            if e.name == "cto":
                bit = Expr(op="!", args=(bit,), width=1, span=e.span)
            out = _cond(bit, num(k, e.span), out)
        return out
    n = e.args[1]
    if n.op == "num":
        return _sext_const(x, n.value)
    if n.op == "cond":
        return _cond(n.args[0], expand_call(e.model_copy(update={"args": (x, n.args[1])})),
                     expand_call(e.model_copy(update={"args": (x, n.args[2])})))
    out = x
    top = min(w, (1 << (n.width or 64)))  # N can be no more than all ones in its width
    for k in reversed(range(top)):
        hit = Expr(op="==", args=(n, num(k)), width=1, span=n.span)
        out = _cond(hit, _sext_const(x, k), out)
    return out


def num(value: int, span: Span = NO_SPAN) -> Expr:
    return Expr(op="num", value=value, width=max(1, value.bit_length()), span=span)


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError
    return a // b


_BIN: dict[str, Callable[[int, int], int]] = {
    "&&": lambda a, b: int(bool(a) and bool(b)),
    "||": lambda a, b: int(bool(a) or bool(b)),
    "==": lambda a, b: int(a == b),
    "!=": lambda a, b: int(a != b),
    "<": lambda a, b: int(a < b),
    "<=": lambda a, b: int(a <= b),
    ">": lambda a, b: int(a > b),
    ">=": lambda a, b: int(a >= b),
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "%": lambda a, b: a % b if b else _div(a, b),
    "<<": lambda a, b: a << b if 0 <= b <= 4096 else _bad_shift(),
    ">>": lambda a, b: a >> b if b >= 0 else _bad_shift(),
}


def _bad_shift() -> int:
    raise ValueError("shift amount out of range")


class EvalError(Exception):
    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.span = span


def evaluate(e: Expr, lookup: Callable[[Expr], int], keep_width: bool = False) -> int:
    """Evaluate to a Python int; `lookup` gives the value of each name/ref leaf.

    Results are masked to the node's width when the width is known (resolved IR), so
    `~x` of a 4-bit value stays a 4-bit value. With `keep_width` (the models' semantics,
    for the stimulus), a shift keeps its width too; the front end's constant folding
    leaves it off, so that `1 << 4000` stays a number it can refuse for its size.
    """
    op = e.op
    if op == "num":
        return e.value
    if op in ("name", "ref"):
        return lookup(e)
    if op == "cond":
        return evaluate(e.args[1] if evaluate(e.args[0], lookup, keep_width) else e.args[2], lookup, keep_width)
    if op == "call":
        vals = [evaluate(a, lookup, keep_width) for a in e.args]
        return call_value(e.name, vals[0], e.args[0].width or 64, *vals[1:])
    if op in UNARY:
        a = evaluate(e.args[0], lookup, keep_width)
        if op == "!":
            return int(not a)
        if op == "neg":
            v = -a
        else:
            if not e.width:
                raise EvalError("'~' needs an operand of known width", e.span)
            v = ~a
        return v & ((1 << e.width) - 1) if e.width else v
    if op == "bit":
        base, idx = evaluate(e.args[0], lookup, keep_width), evaluate(e.args[1], lookup, keep_width)
        if idx < 0:
            raise EvalError(f"bit index {idx} is negative", e.span)
        return (base >> idx) & 1
    if op == "slice":
        base = evaluate(e.args[0], lookup, keep_width)
        hi, lo = evaluate(e.args[1], lookup, keep_width), evaluate(e.args[2], lookup, keep_width)
        if lo < 0 or hi < lo:
            raise EvalError(f"slice [{hi}:{lo}] is empty or negative", e.span)
        return (base >> lo) & ((1 << (hi - lo + 1)) - 1)
    a, b = evaluate(e.args[0], lookup, keep_width), evaluate(e.args[1], lookup, keep_width)
    if keep_width and op == "<<" and e.width and b >= 0:
        # a shift keeps its width (README, expression widths): bits moved past it are
        # lost, so a huge amount gives 0 instead of a huge number, as in both models
        return (a << min(b, e.width)) & ((1 << e.width) - 1)
    try:
        v = _BIN[op](a, b)
    except ZeroDivisionError:
        raise EvalError("division by zero", e.span) from None
    except ValueError as exc:
        raise EvalError(str(exc), e.span) from None
    if e.width and op in ("-", "neg"):
        v &= (1 << e.width) - 1
    return v


def mask(width: int) -> int:
    return (1 << width) - 1
