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


FOLD = (DATA / "toy_call_fold.vspec").read_text()


def test_constant_bindings_fold_through_a_callee_walk(tmp_path):
    """tests/data/toy_call_fold.vspec binds probe = 0 and lock = 0: the callee's walk gets
    `probe = 0` and WALKCTL = (ROOT << 12) | (0 << 4), whose bit 4 (LOCK) is known 0, so
    the check `probed` (when access.probe) and the fault `locked` (when WALKCTL.LOCK && !K)
    cannot end it (Walk.never); the callee rule that reads `t.probed` folds to 0, and so
    does the host's rule that reads that rule. `invalid` and the other rules stay."""
    host = compile_spec(DATA / "toy_call_fold.vspec").top
    walk = next(w for w in host.walks if w.name == "d_t")
    assert walk.never == ("locked", "probed")
    d = next(c for c in host.calls if c.name == "d")
    folded = {x.name for x in d.exits if x.when.op == "num" and x.when.value == 0}
    assert folded == {"answer"}
    assert [x.name for x in host.exits if x.when.op == "num" and x.when.value == 0] == ["probe_answered"]


def test_a_nested_walk_a_binding_switches_off_leaves_its_results_0_for_the_walks_and_rules_after_it():
    """tests/data/toy_call_nested_off.vspec: front calls lookup with `tagged = 0`, so the
    inlined walk l_a (of a nested composition, `when event.tagged`) folds to `when 0`; a
    walk that does not run leaves every result 0, so l_b's `when l_a.ok` folds to 0 too,
    and the callee rules reading l_a.walked, l_a.ok or l_b's results fold to 0: only
    `passed` (`when 1`) is left. The callee's own walks keep their conditions."""
    spec = compile_spec(DATA / "toy_call_nested_off.vspec")
    front = spec.top
    walks = {w.name: w for w in front.walks}
    assert walks["l_a"].nested and walks["l_b"].nested
    assert (walks["l_a"].when.op, walks["l_a"].when.value) == ("num", 0)
    assert (walks["l_b"].when.op, walks["l_b"].when.value) == ("num", 0)
    call = front.calls[0]
    assert [x.name for x in call.exits if not (x.when.op == "num" and x.when.value == 0)] == ["passed"]
    lookup = next(u for u in spec.units if u.name == "lookup")
    assert [w.when.op for w in lookup.walks] == ["ref", "ref"]  # event.tagged, a.ok


def test_bindings_that_are_not_constant_fold_nothing(tmp_path):
    """The same units with the host's event bits bound instead: every fault kind and rule
    can happen; with only the lock bit constant, only `locked` is ruled out."""
    both = FOLD.replace("probe = 0; lock = 0;", "probe = event.id[0]; lock = event.id[1];")
    host = compile_spec(write(tmp_path, both, "both.vspec")).top
    assert next(w for w in host.walks if w.name == "d_t").never == ()
    assert not any(x.when.op == "num" for c in host.calls if c.name == "d" for x in c.exits)
    lock = FOLD.replace("probe = 0; lock = 0;", "probe = event.id[0]; lock = 0;")
    host = compile_spec(write(tmp_path, lock, "lock.vspec")).top
    assert next(w for w in host.walks if w.name == "d_t").never == ("locked",)
    # a walk of the callee's own spec binds nothing constant: nothing is ruled out there
    dev = next(u for u in compile_spec(DATA / "toy_call_fold.vspec").units if u.name == "dev")
    assert dev.walks[0].never == ()


def test_known_bits_of_a_binding():
    """What walk_never knows of a context binding: constants, bits above a reference's
    width, shifts by a constant, `|`, `&` and `c ? a : b`."""
    from codegen.frontend.elaborate.unit import _known_bits
    from codegen.ir.expr import num
    x = Expr(op="ref", kind="event", name="x", width=3)
    shl = Expr(op="<<", args=(x, num(4)), width=7)
    zeros, ones = _known_bits(Expr(op="|", args=(shl, num(1)), width=7))
    assert zeros & 0b1110 == 0b1110 and ones & 1 == 1 and (zeros | ones) & 0b1110000 == 0  # x's bits unknown
    assert _known_bits(Expr(op="&", args=(x, num(0b010)), width=3)) == (~0b010, 0)
    cond = Expr(op="cond", args=(x, num(0b101), num(0b100)), width=3)
    zeros, ones = _known_bits(cond)
    assert ones & 0b111 == 0b100 and zeros & 0b111 == 0b010


def test_a_check_that_folds_to_one_answers_every_leaf(tmp_path):
    """walk_always_checks: with `probe = 1` bound, the callee's check `probed` (when
    access.probe) ends every walk that reaches a leaf, so the walk never translates; with
    `probe = 0` no check is always taken, and with the host's bit bound nothing folds. A
    walk that never translates has `ok` 0, so the callee rule `mapped` (when t.ok) folds."""
    from codegen.frontend.elaborate.unit import walk_always_checks
    for binding, want in (("probe = 1;", ("probed",)), ("probe = 0;", ()), ("probe = event.id[0];", ())):
        spec = compile_spec(write(tmp_path, FOLD.replace("probe = 0;", binding), "always.vspec"))
        walk = next(w for w in spec.top.walks if w.name == "d_t")
        assert walk_always_checks(spec.regime(walk.regime), walk) == want, binding
        # a walk that never translates has `ok` 0: the callee's rule that reads it folds
        d = next(c for c in spec.top.calls if c.name == "d")
        folded = {x.name for x in d.exits if x.when.op == "num" and x.when.value == 0}
        assert ("mapped" in folded) == bool(want), (binding, folded)
