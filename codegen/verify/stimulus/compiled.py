"""IR expressions compiled once into Python functions, for the stimulus.

Table building evaluates the same few conditions (leaf conditions, walk faults,
must-be-zero conditions) hundreds of thousands of times a run; walking the expression
tree each time (codegen.ir.expr.evaluate) was most of the cost of a scenario. `to_python`
writes an expression as Python source with the evaluator's semantics (with
`keep_width`: masks to the node's width, a shift keeps its width), and the functions
built from it are cached by expression, so each is compiled once per process.
"""
from __future__ import annotations

from typing import Callable

from codegen.ir.expr import BINARY, EvalError, Expr, call_value
from codegen.ir.expr import evaluate as _evaluate

_CMP = {"==", "!=", "<", "<=", ">", ">="}


def _shl(a: int, b: int, width: int) -> int:
    if width and b >= 0:
        return (a << min(b, width)) & ((1 << width) - 1)
    if 0 <= b <= 4096:
        return a << b
    raise ValueError("shift amount out of range")


def _shr(a: int, b: int) -> int:
    if b < 0:
        raise ValueError("shift amount out of range")
    return a >> b


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError
    return a // b


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError
    return a % b


def _bit(base: int, idx: int) -> int:
    if idx < 0:
        raise ValueError(f"bit index {idx} is negative")
    return (base >> idx) & 1


def _slice(base: int, hi: int, lo: int) -> int:
    if lo < 0 or hi < lo:
        raise ValueError(f"slice [{hi}:{lo}] is empty or negative")
    return (base >> lo) & ((1 << (hi - lo + 1)) - 1)


HELPERS = {"_call": call_value, "_shl": _shl, "_shr": _shr, "_div": _div, "_mod": _mod, "_bit": _bit, "_slice": _slice}


class Unsupported(Exception):
    """An expression `to_python` does not write (the caller falls back to the evaluator)."""


def to_python(e: Expr, ref: Callable[[Expr], str]) -> str:
    """Python source computing `e` as `evaluate(e, ..., keep_width=True)` does; `ref(node)`
    gives the source of each reference. Every operand is evaluated (no short cut), as in
    the evaluator, so an error in either side still shows."""
    op = e.op
    if op == "num":
        return str(e.value)
    if op in ("name", "ref"):
        return ref(e)
    if op in ("&&", "||"):
        joined = (" & " if op == "&&" else " | ").join(f"(({to_python(a, ref)}) != 0)" for a in _chain(e, op))
        return f"(1 if {joined} else 0)"
    args = [to_python(a, ref) for a in e.args]
    m = (1 << e.width) - 1 if e.width else 0
    if op == "call":
        return f"_call({e.name!r}, {args[0]}, {e.args[0].width or 64}, {', '.join(args[1:]) or '0'})"
    if op == "cond":
        return f"({args[1]} if {args[0]} else {args[2]})"
    if op == "!":
        return f"(0 if {args[0]} else 1)"
    if op == "neg":
        return f"((-{args[0]}) & {m})" if m else f"(-{args[0]})"
    if op == "~":
        if not m:
            raise Unsupported("'~' needs an operand of known width")
        return f"((~{args[0]}) & {m})"
    if op == "bit":
        if e.args[1].op == "num" and e.args[1].value >= 0:
            return f"(({args[0]} >> {args[1]}) & 1)"
        return f"_bit({args[0]}, {args[1]})"
    if op == "slice":
        if e.args[1].op == "num" and e.args[2].op == "num" and 0 <= e.args[2].value <= e.args[1].value:
            hi, lo = e.args[1].value, e.args[2].value
            return f"(({args[0]} >> {lo}) & {(1 << (hi - lo + 1)) - 1})"
        return f"_slice({args[0]}, {args[1]}, {args[2]})"
    if op not in BINARY:
        raise Unsupported(op)
    a, b = args
    if op in _CMP:
        return f"(1 if {a} {op} {b} else 0)"
    if op in ("&", "|", "^", "+", "*"):
        return f"({a} {op} {b})"
    if op == "-":
        return f"(({a} - {b}) & {m})" if m else f"({a} - {b})"
    if op == "<<":
        if e.args[1].op == "num" and e.args[1].value >= 0 and m:
            return f"(({a} << {min(e.args[1].value, e.width)}) & {m})"
        return f"_shl({a}, {b}, {e.width})"
    if op == ">>":
        if e.args[1].op == "num" and e.args[1].value >= 0:
            return f"({a} >> {e.args[1].value})"
        return f"_shr({a}, {b})"
    if op == "/":
        return f"_div({a}, {b})"
    return f"_mod({a}, {b})"


def _chain(e: Expr, op: str) -> list[Expr]:
    """The operands of a chain of `op` (`a && b && c`, however it nests), in order.
    A chain of one operator is written flat: nesting one level per operand would pass
    Python's parser limit on a unit with many exit rules (a rule that fires only when
    none of the ninety before it does)."""
    out: list[Expr] = []
    todo = [e]
    while todo:
        x = todo.pop()
        if x.op == op:
            todo.extend(reversed(x.args))
        else:
            out.append(x)
    return out


def build(params: str, body: str, names: dict) -> Callable:
    """A function `lambda PARAMS: BODY` with `names` (and the helpers) in scope; source
    Python cannot parse (nested too deep) is Unsupported: the evaluator takes it."""
    try:
        return eval(f"lambda {params}: {body}", {**HELPERS, **names})  # noqa: S307 - source written by to_python
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise Unsupported(f"Python cannot compile the expression: {exc}") from None


_BY_LOOKUP: dict[int, tuple[Expr, Callable]] = {}


def evaluator(e: Expr) -> Callable[[Callable[[Expr], int]], int]:
    """`f(lookup)` equal to `evaluate(e, lookup, keep_width=True)`, compiled once per
    expression; evaluation errors come out as EvalError, as from the evaluator."""
    hit = _BY_LOOKUP.get(id(e))
    if hit is not None and hit[0] is e:
        return hit[1]
    names: dict = {}

    def ref(r: Expr) -> str:
        key = f"_r{len(names)}"
        names[key] = r
        return f"L({key})"

    try:
        fn = build("L", to_python(e, ref), names)
    except Unsupported:
        fn = None
    if fn is None:
        def fn(lookup, e=e):
            return _evaluate(e, lookup, keep_width=True)
    else:
        fn = _errors_as_eval_errors(fn, e)
    _BY_LOOKUP[id(e)] = (e, fn)
    return fn


def _errors_as_eval_errors(fn: Callable, e: Expr) -> Callable:
    def run(*args):
        try:
            return fn(*args)
        except (ZeroDivisionError, ValueError):
            return _evaluate(e, *args, keep_width=True)  # raises the evaluator's EvalError
    return run


__all__ = ["EvalError", "Unsupported", "build", "evaluator", "to_python"]
