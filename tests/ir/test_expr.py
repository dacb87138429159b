"""The builtins' expansion into plain operators (what the cycle-level model converts)
computes what the evaluator does, for every value of small operands."""
import itertools

import pytest

from codegen.ir.expr import Expr, call_value, evaluate, expand_call, num


def ref(name: str, width: int) -> Expr:
    return Expr(op="ref", kind="input", name=name, width=width)


def call(name: str, *args: Expr) -> Expr:
    from codegen.ir.expr import call_width
    return Expr(op="call", name=name, args=args, width=call_width(name, args))


@pytest.mark.parametrize("name", ["ctz", "cto"])
@pytest.mark.parametrize("x", [ref("x", 5), Expr(op="+", args=(ref("x", 5), num(0)), width=5)])
def test_a_count_expands_to_a_priority_chain(name, x):
    e = call(name, x)
    for v in range(32):
        look = dict.fromkeys(("x",), v).__getitem__
        assert evaluate(expand_call(e), lambda r, look=look: look(r.name)) == call_value(name, v, 5) \
            == evaluate(e, lambda r, look=look: look(r.name))


def test_counts_by_hand():
    # ctz/cto within the width: 0b01000 has 3 trailing zeros, 0b00111 3 trailing ones
    assert [call_value("ctz", v, 5) for v in (0b01000, 0, 1)] == [3, 5, 0]
    assert [call_value("cto", v, 5) for v in (0b00111, 0b11111, 0)] == [3, 5, 0]


def test_sext_by_hand():
    # 0x8 in 4 bits is -8: at 8 bits 0xF8; N past the width keeps X; N = 0 gives 0
    assert call_value("sext", 0x8, 8, 4) == 0xF8
    assert call_value("sext", 0x7, 8, 4) == 0x7
    assert call_value("sext", 0xAB, 8, 9) == 0xAB
    assert call_value("sext", 0xAB, 8, 0) == 0


@pytest.mark.parametrize("n", [num(3), Expr(op="cond", args=(ref("c", 1), num(2), num(5)), width=3), ref("n", 3)])
def test_sext_expands_for_a_constant_a_conditional_and_any_n(n):
    e = call("sext", ref("x", 6), n)
    for x, c, nv in itertools.product(range(64), (0, 1), range(8)):
        values = {"x": x, "c": c, "n": nv}

        def look(r, values=values):
            return values[r.name]
        want = call_value("sext", x, 6, evaluate(n, look))
        assert evaluate(expand_call(e), look) == want == evaluate(e, look)
