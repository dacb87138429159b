"""Synthetic traces (codegen/bench/traces.py) on the toy with a TLB (tests/data/toy_cache.vspec,
two levels, a 10-bit leaf index, an 8-entry fully associative FIFO TLB of whole pages): the
pages of one leaf table mapped into one image with a frame each, traces of the stated
locality, and counts checked against a FIFO TLB simulated here, independently."""
import random
from collections import deque
from pathlib import Path

import pytest

from codegen.bench import traces
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify.harness import load_generated

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_cache.vspec"
V, W = 1, 2
ROOT, TABLE, FRAME = 0x10_0000, 0x20_0000, 0x30_0000
VA = (1 << 22) | (1 << 12) | 0x123  # top index 1, bottom index 1
REQUEST = {"va": VA, "write": 0, "SPACE": 5 | ROOT}


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_cache_traces")
    emit.write(emit.render(compile_spec(TOY)), out)
    return load_generated(out)[0]


@pytest.fixture(scope="module")
def mapped(ref):
    mem = {ROOT + 8: TABLE | V | W, TABLE + 8: FRAME | V | W}
    return traces.map_pages(ref, mem, REQUEST, traces.leaf_bits(compile_spec(TOY)))


def test_every_page_of_the_leaf_table_gets_a_frame_of_its_own(ref, mapped):
    mem, pages = mapped
    assert traces.leaf_bits(compile_spec(TOY)) == 10  # bottom: index va[21:12]
    assert pages == [(1 << 22) | (k << 12) | 0x123 for k in range(1024)]
    for k in (0, 1, 2, 513, 1023):  # entry k: the first page's entry with its frame moved by k ^ 1
        assert mem[TABLE + 8 * k] == (FRAME | V | W) ^ ((k ^ 1) << 12)
        out = ref.translate(dict(mem), dict(REQUEST, va=pages[k]), [])
        assert out == {"ok": True, "pa": (FRAME ^ ((k ^ 1) << 12)) | 0x123, "level": 1}
    assert set(mem) == {ROOT + 8} | {TABLE + 8 * k for k in range(1024)}


def test_page_orders_have_the_stated_locality():
    rng = random.Random(1)
    assert traces.page_order("sequential", 10, 25, random.Random(3))[:12] == \
        [(random.Random(3).randrange(10) + t) % 10 for t in range(12)]
    rand = traces.page_order("random", 512, 2000, rng)
    assert len(set(rand)) <= traces.RANDOM_SET and len(rand) == 2000
    mix = traces.page_order("mix", 512, 2000, rng)
    counts = sorted((mix.count(p) for p in set(mix)), reverse=True)
    # the hot set takes about 70 %: its 8 pages are the 8 most frequent and hold 60-80 %
    assert 0.6 < sum(counts[:traces.HOT]) / 2000 < 0.8
    with pytest.raises(ValueError, match="expected a trace"):
        traces.page_order("strided", 8, 8, rng)


def fifo_misses(pages, entries):
    """An `entries`-entry fully associative FIFO of pages: the misses (hits do not reorder)."""
    held, misses = deque(), 0
    for p in pages:
        if p not in held:
            misses += 1
            held.append(p)
            if len(held) > entries:
                held.popleft()
    return misses


@pytest.mark.parametrize("kind", traces.TRACES)
def test_counts_match_a_fifo_tlb_simulated_by_hand(ref, mapped, kind):
    mem, pages = mapped
    seq = traces.make_trace(ref, mem, REQUEST, pages, kind, 600, 7)
    assert len(seq.steps) == 600 and seq.memory == mem
    walked = [st.request["va"] >> 12 for st in seq.steps]
    none = traces.run_trace(ref, seq, None)
    assert (none.translations, none.refs, none.misses, none.faults) == (600, 1200, 600, 0)  # two levels a walk
    tlb = traces.run_trace(ref, seq, ("tlb",))
    misses = fifo_misses(walked, 8)
    assert (tlb.refs, tlb.misses, tlb.lookups, tlb.hits.get("tlb", 0)) == (2 * misses, misses, {"tlb": 600}, 600 - misses)
    assert tlb.per_miss == 2.0 and tlb.hit_rates() == {"tlb": (600 - misses) / 600}
    if kind == "sequential":  # a stride through 1024 pages never comes back within 8 fills
        assert misses == 600
    off = traces.run_trace(ref, seq, ())
    assert (off.refs, off.misses, off.lookups) == (1200, 600, {})
    assert traces.caches_holding(ref, ("translations",)) == ("tlb",)
