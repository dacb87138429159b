"""stimulus/reach.py: coverage points are unreachable only when the spec proves it (issue 14,
"What the stimulus and the reports must do"), and then they are reported so, not missing."""
from pathlib import Path

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.ir.expr import Expr
from codegen.verify import cosim
from codegen.verify.stimulus import reach

DATA = Path(__file__).resolve().parents[2] / "data"


def _ref(name: str, width: int, kind: str = "field") -> Expr:
    return Expr(op="ref", kind=kind, name=name, width=width)


def _num(v: int) -> Expr:
    return Expr(op="num", value=v, width=max(1, v.bit_length()))


def test_three_valued_evaluation_decides_only_what_the_facts_decide():
    x, nl = _ref("X", 1), _ref("NL", 3)
    assert reach.value3(Expr(op="&&", args=(x, _num(0)), width=1), {}) == 0
    assert reach.value3(Expr(op="||", args=(x, _num(1)), width=1), {}) == 1
    assert reach.value3(Expr(op="&&", args=(x, _num(1)), width=1), {}) is None
    assert reach.value3(Expr(op="&&", args=(x, _num(1)), width=1), {("field", "X"): 1}) == 1
    # a 3-bit field is never 65, and always below 8
    assert reach.value3(Expr(op="==", args=(nl, _num(65)), width=1), {}) == 0
    assert reach.value3(Expr(op="<", args=(nl, _num(8)), width=1), {}) == 1
    assert reach.value3(Expr(op="==", args=(nl, _num(5)), width=1), {}) is None


def test_levels_below_a_level_of_leaves_only_are_unreachable(tmp_path):
    """toy_unreachable: `leaf big when L || HUGE_ONLY` with HUGE_ONLY 1 leaves level 2 no
    pointer, so level 1 is never walked: its page and faults are unreachable, and the run
    goes on (it stopped with 'no entry at level 2 either lets the walk go on or draws one
    of its faults', planning walks to end at level 1)."""
    spec = compile_spec(DATA / "toy_unreachable.vspec")
    (walk,) = spec.regimes
    assert not reach.role_possible(spec, walk, walk.level(2), False)
    assert reach.reached_levels(spec, walk, {3}) == ({3, 2}, {2})
    expected, unreachable = cosim.expected_coverage(spec)
    for point in ("page level 1", "top fault invalid at level 1", "top fault write_protect at level 1"):
        assert point in unreachable and point not in expected
    emit.write(emit.render(spec), tmp_path)
    report = cosim.run(spec, tmp_path, 200, seed=1)
    assert report.mismatches == 0 and report.missing == [], report.as_json()["coverage"]


def test_a_fault_its_guard_rules_out_at_a_level_is_unreachable_there():
    """`fault top_only when level == 3 && T`: reachable at level 3 only."""
    spec = compile_spec(DATA / "toy_unreachable.vspec")
    (walk,) = spec.regimes
    rule = next(r for r in walk.faults if r.name == "top_only")
    assert [n for n in (3, 2, 1) if reach.fault_possible(spec, walk, rule, walk.level(n))] == [3]
    expected, unreachable = cosim.expected_coverage(spec)
    assert "top fault top_only at level 3" in expected and "top fault top_only at level 2" in unreachable


def test_a_reserved_bit_fault_on_a_format_without_reserved_bits_is_unreachable():
    """`rsvd` is 0 on a format with no must-be-zero bit: the fault cannot happen there."""
    spec = compile_spec(DATA / "toy_entry4.vspec")
    (walk,) = spec.regimes
    rule = next(r for r in walk.faults if r.name == "reserved")
    lv1 = walk.level(1)
    assert not spec.layout(lv1.leaf).mbz_static and not reach.fault_possible(spec, walk, rule, lv1)


def test_what_the_proof_cannot_settle_stays_reachable():
    """toy_entry32's level 1 is reached through 16-KiB tables: random entries tried at a
    4-KiB pointer target called it unreachable; the proof does not, and walks get there."""
    spec = compile_spec(DATA / "toy_entry32.vspec")
    expected, unreachable = cosim.expected_coverage(spec)
    assert "page level 1" in expected and unreachable == []


def test_a_leaf_fault_the_leaf_condition_rules_out_is_unreachable(tmp_path):
    """`leaf pte when R || X` leaves R = X = 0 to pointers, so `fault f at leaf when !R &&
    !X` cannot happen where that condition decides; at a level of leaves only it can (a
    non-leaf entry at the last level). An outsider's RISC-V spec saw it as missing."""
    from snippets import edit, write

    text = (DATA / "toy_two_stage.vspec").read_text()
    text = edit(text, "    fault reserved when rsvd cite \"toy manual 3.6\";",
                "    fault reserved when rsvd cite \"toy manual 3.6\";\n    fault pointer_at_leaf at leaf when !R && !X;")
    spec = compile_spec(write(tmp_path, text))
    first = spec.regime("first")
    rule = next(r for r in first.faults if r.name == "pointer_at_leaf")
    assert [lv.shown for lv in first.levels if reach.fault_possible(spec, first, rule, lv)] == [0]
    expected, unreachable = cosim.expected_coverage(spec)
    assert "guest fault pointer_at_leaf at level 0" in expected
    assert {f"guest fault pointer_at_leaf at level {n}" for n in (1, 2, 3)} <= set(unreachable)
