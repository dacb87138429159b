"""The compiled evaluator of the stimulus (codegen/verify/stimulus/compiled.py): a chain of
`&&` or `||` as long as a unit's exit-rule priority makes (rule i fires when none of the
rules before it does: intel_vtd has over ninety) compiles and agrees with the tree
evaluator, and source Python cannot parse falls back to the evaluator."""
import itertools

import pytest

from codegen.ir.expr import Expr, evaluate
from codegen.verify.stimulus import compiled


def _ref(i: int) -> Expr:
    return Expr(op="ref", kind="event", name=f"f{i}", width=1)


def _chain(op: str, n: int) -> Expr:
    out = _ref(0)
    for i in range(1, n):
        rhs = Expr(op="!", args=(_ref(i),), width=1) if op == "&&" else _ref(i)
        out = Expr(op=op, args=(out, rhs), width=1)
    return out


def test_long_chains_compile_and_agree_with_the_evaluator():
    for op in ("&&", "||"):
        e = _chain(op, 400)  # nested 400 deep: written flat
        fn = compiled.evaluator(e)
        for ones in ({0}, set(), {0, 399}, {7}, set(range(400))):
            def lookup(r, ones=ones):
                return int(int(r.name[1:]) in ones)
            assert fn(lookup) == evaluate(e, lookup, keep_width=True), (op, ones)


def test_mixed_chains_keep_their_order_of_references():
    # (a && b) || (c && d): the references are numbered in the order they are read
    a, b, c, d = (_ref(i) for i in range(4))
    e = Expr(op="||", args=(Expr(op="&&", args=(a, b), width=1), Expr(op="&&", args=(c, d), width=1)), width=1)
    fn = compiled.evaluator(e)
    for bits in itertools.product((0, 1), repeat=4):
        def lookup(r, bits=bits):
            return bits[int(r.name[1:])]
        assert fn(lookup) == (bits[0] & bits[1] | bits[2] & bits[3])


def test_source_python_cannot_parse_is_unsupported():
    deep = "(" * 400 + "1" + ")" * 400
    with pytest.raises(compiled.Unsupported):
        compiled.build("L", deep, {})
