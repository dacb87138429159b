"""Sequence stimulus (codegen/verify/stimulus/sequence.py) on the toy with a TLB: sequences
of the asked length whose steps make the cache hit, miss, fill and evict, run every
invalidation, and give stale hits the architecture permits; the same seed gives the same
sequences; and the reference's answers all pass the architectural check."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import seqcosim
from codegen.verify.harness import load_generated
from codegen.verify.stimulus.sequence import sequences

TOY = Path(__file__).resolve().parents[2] / "data" / "toy_cache.vspec"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_cache_seq")
    spec = compile_spec(TOY)
    emit.write(emit.render(spec), out)
    return spec, out


def test_sequences_are_long_and_replayable(built):
    spec, out = built
    ref = load_generated(out)[0]
    a = list(sequences(spec, ref, 3, seed=7, length=55))
    b = list(sequences(spec, ref, 3, seed=7, length=55))
    assert all(len(s.steps) == 55 for s in a)
    assert [s.steps for s in a] == [s.steps for s in b] and [s.memory for s in a] == [s.memory for s in b]
    assert {st.op for s in a for st in s.steps} == {"translate", "store", "invalidate"}


def test_reference_runs_cover_the_cache_and_pass_the_oracle(built):
    spec, out = built
    report = seqcosim.run(spec, out, 40, seed=1, length=60, model=False)
    assert report.violations == []
    assert report.missing == [], report.lines()
    assert 0 < report.hit_rate("tlb") < 1
