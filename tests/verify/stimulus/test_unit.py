"""Unit stimulus (codegen/verify/stimulus/unit.py) on tests/data/toy_unit_overlay.vspec: a
control block with two layouts at one address (a context bit picks the one read) and an
exit behind two refusals. Counts are of 400 scenarios at seed 1 judged by the generated
reference; before the fixes, the layout not read overwrote the one read (the unshifted
layout never got past `absent`) and steering toward `taken` ignored the rules before it
(5 of 400)."""
import random
from collections import Counter
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify.harness import load_generated
from codegen.verify.stimulus.translation import Draw
from codegen.verify.stimulus.unit import UnitScenarioFactory

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """(shifted layout, rule) of 400 drawn scenarios."""
    spec = compile_spec(DATA / "toy_unit_overlay.vspec")
    out = tmp_path_factory.mktemp("overlay")
    emit.write(emit.render(spec), out)
    ref, _ = load_generated(out)
    factory, draw = UnitScenarioFactory(spec), Draw(random.Random(1))
    counts = Counter()
    for _ in range(400):
        sc = factory.make(draw)
        counts[(sc.request["blk"] & 1, ref.decide(sc.memory, sc.request, []).get("rule"))] += 1
    return counts


def test_a_structure_that_is_not_read_does_not_overwrite_the_one_that_is(outcomes):
    past_absent = sum(n for (shifted, rule), n in outcomes.items() if shifted == 0 and rule != "absent")
    assert past_absent >= 10, outcomes


def test_steering_gets_past_the_rules_before_the_one_it_aims_at(outcomes):
    taken = sum(n for (_, rule), n in outcomes.items() if rule == "taken")
    assert taken >= 15, outcomes


# ---- coverage of the enum items of a record field (coverage_points, field_constants)
CODES = (DATA / "toy_unit.vspec").read_text().replace(
    "enum ev_kind : 4 {", "enum codes : 8 { IO_EXIT = 1; HALT_EXIT = 2; NEVER = 3; }\nenum ev_kind : 4 {").replace(
    "code : 8 store ctl.code;", "code : 8 enum codes store ctl.code;")


def _unit_spec(tmp_path, text):
    path = tmp_path / "codes.vspec"
    path.write_text(text)
    return compile_spec(path)


def test_enum_items_no_rule_sets_are_unreachable_with_the_reason(tmp_path):
    """Each rule sets `code` to a constant or a choice of constants (IO_EXIT, or HALT_EXIT
    when the port is 0 else IO_EXIT): NEVER (3) is set by none, so it is unreachable, with
    the reason, and not missing from a run that hits the others."""
    from codegen.verify import cosim
    from codegen.verify.stimulus.unit import coverage_points
    text = CODES.replace("code = 1;", "code = codes.IO_EXIT;").replace(
        "code {\n            a [1:0] = 2;\n        }", "code = event.port == 0 ? codes.HALT_EXIT : codes.IO_EXIT;")
    spec = _unit_spec(tmp_path, text)
    expected, gone = coverage_points(spec)
    assert "code IO_EXIT" in expected and "code HALT_EXIT" in expected and "code NEVER" not in expected
    assert gone["code NEVER"].startswith("no exit rule sets code to these items")
    emit.write(emit.render(spec), tmp_path / "gen")
    report = cosim.run(spec, tmp_path / "gen", 200, seed=1)
    assert report.mismatches == 0 and report.missing == [], report.as_json()["coverage"]
    assert "code NEVER" in report.unreachable


@pytest.mark.parametrize("value", ["event.port[7:0]", "ctl.flags[1] ? codes.HALT_EXIT : event.size"])
def test_enum_items_stay_expected_when_a_rule_computes_the_field(tmp_path, value):
    """A value read from the event or memory (directly or in one arm of a choice), or a rule
    that sets bit ranges: no item is proved unreachable."""
    from codegen.verify.stimulus.unit import coverage_points
    spec = _unit_spec(tmp_path, CODES.replace("code = 1;", f"code = {value};"))
    expected, gone = coverage_points(spec)
    assert {"code IO_EXIT", "code HALT_EXIT", "code NEVER"} <= set(expected) and not gone
    spec = _unit_spec(tmp_path, CODES.replace("code = 1;", "code = codes.IO_EXIT;"))  # the other rule sets bits
    assert "code NEVER" in coverage_points(spec)[0]
