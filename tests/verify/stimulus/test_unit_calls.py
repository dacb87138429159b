"""Unit stimulus through calls (codegen/verify/stimulus/unit.py) on tests/data/
toy_call_fold.vspec: the host calls the device only when a gate unit admits the request
(an enable bit and an 8-bit key equal to 5Ah), and the device walks a table. Counts are of
200 scenarios at seed 1 judged by the generated reference. Before steering went through
call results, a call's result was a value nothing could redraw: the guards of the
device's steps and the host's rules were given up on, and the device's walk ran in 0 of
200 (the gate refused nearly every request)."""
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
def drawn(tmp_path_factory):
    """(host rule, gate rule, whether the device's walk ran) of 200 drawn scenarios."""
    spec = compile_spec(DATA / "toy_call_fold.vspec")
    out = tmp_path_factory.mktemp("fold")
    emit.write({k: v for k, v in emit.render(spec).items() if k.endswith(".py")}, out)
    ref, _ = load_generated(out)
    factory, counts = UnitScenarioFactory(spec), Counter()
    for i in range(200):
        sc = factory.make(Draw(random.Random(f"1:{i}")))
        detail: dict = {}
        outcome = ref.decide(dict(sc.memory), dict(sc.request), [], detail)
        counts[(outcome.get("rule"), detail["g"]["rule"], bool(detail.get("d_t", {}).get("walked")))] += 1
    return counts


def test_steering_reaches_a_walk_behind_a_callee_that_refuses(drawn):
    walked = sum(n for (_, _, w), n in drawn.items() if w)
    assert walked >= 50, drawn


def test_every_rule_of_the_first_callee_still_happens(drawn):
    gate = Counter()
    for (_, rule, _), n in drawn.items():
        gate[rule] += n
    assert min(gate[r] for r in ("closed", "wrong_key", "admitted")) >= 10, gate
    assert gate["admitted"] >= 80, gate
