"""Sequences on the toy with a TLB (tests/data/toy_cache.vspec): a hit answers with no memory
reference, a stale hit after a store is what the architecture permits until the
invalidation the toy manual requires, and the oracle (codegen/verify/oracle.py) catches a
design whose invalidation forgets the address-space tag while the exact cross-check of two
models of that design cannot."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import oracle
from codegen.verify.harness import load_generated
from codegen.verify.harness import Timing, run_model_sequence
from codegen.verify.sequence import Sequence, Step, compare, run_reference

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_cache.vspec"
V, W, L = 1, 2, 4
ROOT, TABLE, FRAME, FRAME2 = 0x10_0000, 0x20_0000, 0x30_0000, 0x40_0000
VA = (1 << 22) | (1 << 12)  # top index 1, bottom index 1
SPACE = 5 | ROOT  # NUM [7:0] = 5, BASE [39:12]


def generated(tmp_path, text, name):
    path = tmp_path / f"{name}.vspec"
    path.write_text(text)
    out = tmp_path / name
    emit.write(emit.render(compile_spec(path)), out)
    return load_generated(out)


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    return generated(tmp_path_factory.mktemp("toy_cache"), TOY.read_text(), "toy_cache")[0]


def memory():
    """VA -> FRAME through one table: the toy manual's two levels, 4-KiB leaf."""
    return {ROOT + 8: TABLE | V | W, TABLE + 8: FRAME | V | W}


def tr(va=VA, space=SPACE, write=0):
    return Step("translate", {"va": va, "write": write, "SPACE": space})


def remap_then(invalidation):
    """Fill, hit, remap in memory (stale hit), an invalidation, then the page again."""
    return Sequence(memory(), (
        tr(), tr(VA + 0x10),
        Step("store", address=TABLE + 8, value=FRAME2 | V | W),
        tr(VA + 0x20),
        invalidation,
        tr(VA + 0x30),
    ))


def test_hits_stale_hits_and_invalidation(ref):
    seq = remap_then(Step("invalidate", {"va": 0, "write": 0, "SPACE": SPACE}, "flush_page",
                          (("addr", VA), ("num", 5))))
    run = run_reference(ref, seq)
    first, hit, stale, _inv, after = (run.steps[i] for i in (0, 1, 3, 4, 5))
    assert not first.hit and [op for op, *_ in first.trace] == [0, 0]
    assert hit.hit and hit.trace == [] and hit.outcome["pa"] == FRAME + 0x10
    assert stale.hit and stale.outcome["pa"] == FRAME + 0x20  # the old frame: permitted, no invalidation yet
    assert not after.hit and after.outcome["pa"] == FRAME2 + 0x30
    verdict = oracle.check(ref, seq, run)
    assert verdict.problems == [] and verdict.stale_hits == 1


def test_the_oracle_catches_an_invalidation_that_forgets_the_tag(ref, tmp_path):
    # the planted bug: flush_page compares the entry's space with the current one, not
    # with the operand's; flushing space 5 from space 6 then keeps space 5's entry
    text = TOY.read_text()
    good = "drop tlb when covers(addr) && (entry.global || entry.space == num);"
    assert good in text
    bad, bad_model = generated(tmp_path, text.replace(good, "drop tlb when covers(addr) && (entry.global || entry.space == space);"),
                               "toy_cache_bug")
    other = 6 | ROOT
    seq = remap_then(Step("invalidate", {"va": 0, "write": 0, "SPACE": other}, "flush_page",
                          (("addr", VA), ("num", 5))))
    run = run_reference(bad, seq)
    assert run.steps[5].hit and run.steps[5].outcome["pa"] == FRAME + 0x30  # the bug: still the old frame
    # the exact cross-check: the design's cycle-level model makes the same mistake, so it passes
    assert compare(seq, run, run_model_sequence(bad_model, bad, seq, Timing(1, 2, 10))) == []
    verdict = oracle.check(ref, seq, run)
    assert verdict.problems and "step 5" in verdict.problems[0]
    assert oracle.check(ref, seq, run_reference(ref, seq)).problems == []
