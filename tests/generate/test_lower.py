"""The Python lowering of the builtins computes what the evaluator does."""
from codegen.generate.lower import Env, py
from codegen.ir.expr import Expr, call_value, call_width


def test_python_builtins_match_the_evaluator():
    x = Expr(op="ref", kind="input", name="x", width=6)
    n = Expr(op="ref", kind="input", name="n", width=3)
    env = Env(spell={"input": lambda r: r.name})
    for name, args in (("ctz", (x,)), ("cto", (x,)), ("sext", (x, n))):
        text = py(Expr(op="call", name=name, args=args, width=call_width(name, args)), env)
        for xv in range(64):
            for nv in range(8):
                assert eval(text, {"x": xv, "n": nv}) == call_value(name, xv, 6, nv), (name, xv, nv)
