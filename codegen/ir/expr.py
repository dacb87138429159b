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
    "bit" (base[index]) or "slice" (base[hi:lo]).
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
