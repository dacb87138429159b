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
