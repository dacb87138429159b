"""`call`: what elaboration makes of a unit that calls another (codegen/frontend/elaborate/
unit.py): the callee's steps inlined under the call's name and condition, its bindings
cut to the widths they bind, calls inside callees, and callees' caches left out."""
from __future__ import annotations

from pathlib import Path

from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import compile_spec
from codegen.ir.expr import Expr, evaluate, mask
from tests.snippets import write

DATA = Path(__file__).resolve().parents[1] / "data"

NEST = (DATA / "toy_call_nest.vspec").read_text()


def _nodes(e: Expr):
    yield e
    for a in e.args:
        yield from _nodes(a)


def _value(e: Expr, event: dict, ctx: dict, words: dict) -> int:
    def lookup(r: Expr) -> int:
        if r.kind == "event":
            return event[r.name]
        if r.kind == "ctx":
            return (ctx[r.name] >> r.lo) & mask(r.width)
        return (words[r.name] >> r.lo) & mask(r.width)
    return evaluate(e, lookup, keep_width=True)


def test_the_callee_steps_come_before_the_call_named_after_it():
    unit = compile_spec(DATA / "toy_call.vspec").top
    assert unit.steps == (("structure", "fne"), ("structure", "io_dte"), ("walk", "io_io"), ("structure", "io_log"),
                          ("call", "io"), ("structure", "seen"))
    (call,) = unit.calls
    assert call.inlined == unit.steps[1:4] and call.unit == "d.toy_io"
    assert [x.name for x in call.exits] == ["invalid_device", "passthrough", "translated", "page_fault"]
    assert call.members == {"called": 1, "exit": 1, "invalid_device": 1, "passthrough": 1, "translated": 1,
                            "page_fault": 1, "pa": 64, "code": 8, "where": 64}
    # each inlined step runs only when the call's condition holds too
    dte = unit.structure("io_dte")
    assert dte.when is not None and dte.when.op == "ref" and dte.when.name == "fne.word"  # `when fne.word.EN`
    assert [f.store for f in call.record.fields] == [None, ("io_log", "w0"), ("io_log", "w1")]


def test_a_wider_binding_is_cut_to_the_field_it_binds():
    """dev : 8 bound to the 12-bit routing ID 0x305: the callee's device table is indexed
    by 0x05 (the callee's `(DEVTAB.BASE << 12) + event.dev * 16`)."""
    unit = compile_spec(DATA / "toy_call.vspec").top
    base = unit.structure("io_dte").base
    got = _value(base, {"kind": 1, "fn": 2, "addr": 0, "write": 0}, {"DEVTAB": 0x100000},
                 {"fne.word": 0x30501})
    assert got == 0x100000 + 5 * 16


def test_calls_inside_a_callee_are_inlined_in_turn_without_its_caches(tmp_path):
    bag = DiagnosticBag()
    spec = compile_spec(write(tmp_path, NEST, "nest.vspec"), bag)
    assert not bag.errors and not bag.warnings
    outer = spec.top
    assert outer.name == "outer" and spec.models == ("outer",)  # a called unit is part of its caller
    assert outer.steps == (("structure", "mid_m"), ("structure", "mid_i_ent"), ("call", "mid_i"), ("call", "mid"))
    assert [(c.name, c.label) for c in outer.calls] == [("mid_i", "mid.i"), ("mid", "mid")]
    assert outer.caches == () and outer.invalidations == ()
    inner = outer.calls[0]
    # the inner call's `when` is the outer call's and its own: event.y && event.x
    assert _value(inner.when, {"id": 0, "x": 1, "y": 1}, {}, {}) == 1
    assert _value(inner.when, {"id": 0, "x": 1, "y": 0}, {}, {}) == 0
    # its context binding blk + 0x1000 (65 bits wide) is cut to the register's 64 bits
    ent = outer.structure("mid_i_ent")
    # (all ones + 0x1000 wraps to 0xFFF: base field 0; the entry of id + 1 = 5)
    assert _value(ent.base, {"id": 4}, {"blk": mask(64)}, {}) == 5 * 16
    assert _value(ent.base, {"id": 4}, {"blk": 0x7000}, {}) == 0x8000 + 5 * 16
    assert any(n.op == "&" and n.args[1].op == "num" and n.args[1].value == mask(64) for n in _nodes(ent.base))
    # what only the middle unit's cache tag reads is still read, as its cache-free decide reads it
    assert [r.name for e in outer.calls[1].reads for r in e.refs()] == ["mid_m.w"]


def test_a_constant_binding_folds_away_what_the_call_cannot_reach(tmp_path):
    """`x = 0`: the inner call (when event.y && x) is never made, so its rules are not
    coverage points and its step is never read; nor is the middle rule that reads its exit
    (`fromi when i.exit`), nor the outer rule that reads that one (`a when mid.fromi`):
    each is listed as unreachable with the reason."""
    from codegen.verify.stimulus.unit import coverage_points, expected_coverage
    text = NEST.replace("event { id = event.id; x = event.x; }", "event { id = event.id; x = 0; }")
    spec = compile_spec(write(tmp_path, text, "nest.vspec"))
    assert spec.top.structure("mid_i_ent").when == spec.top.calls[0].when
    assert spec.top.calls[0].when.op == "num" and spec.top.calls[0].when.value == 0
    points, gone = coverage_points(spec)
    assert points == expected_coverage(spec) == ["exit b", "call mid.own"]
    assert set(gone) == {"exit a", "call mid.fromi", "call mid.i.hit", "call mid.i.miss"}
    assert "never made" in gone["call mid.i.hit"] and "call mid" in gone["call mid.fromi"]
    assert spec.top.calls[1].exits[0].when.op == "num" and spec.top.exits[0].when.value == 0
    full = expected_coverage(compile_spec(write(tmp_path, NEST, "full.vspec")))
    assert {"call mid.i.hit", "call mid.i.miss"} <= set(full)


def test_a_narrower_binding_never_equals_a_constant_it_cannot_hold():
    """A 1-bit read/write flag bound to a 2-bit request kind: the callee's `kind == 2`
    (its interrupt rules) folds to false and `kind != 3` to true, so coverage leaves those
    rules out; `kind == 1` stays a condition."""
    from codegen.frontend.elaborate.unit import _fold
    from codegen.ir.expr import num
    flag = Expr(op="ref", kind="event", name="write", width=1)
    assert _fold(Expr(op="==", args=(flag, num(2)), width=1)) == num(0, flag.span)
    assert _fold(Expr(op="!=", args=(num(3), flag), width=1)).value == 1
    assert _fold(Expr(op="==", args=(flag, num(1)), width=1)).op == "=="
    # `write ? 2 : 1` (a read or a write) is never 3 (an interrupt), and may be 2
    kind = Expr(op="cond", args=(flag, num(2), num(1)), width=2)
    assert _fold(Expr(op="==", args=(kind, num(3)), width=1)).value == 0
    assert _fold(Expr(op="!=", args=(num(3), kind), width=1)).value == 1
    assert _fold(Expr(op="==", args=(kind, num(2)), width=1)).op == "=="
