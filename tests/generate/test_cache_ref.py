"""The generated reference's translation cache (templates/cache_ref.j2): each replacement
policy picks the victims the language reference says (docs/language.md, "Caches and
invalidation"; computed by hand below), and lookups honour tags, global entries and the
access kinds that filled an entry."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify.harness import load_generated

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_cache.vspec"


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_cache_ref")
    emit.write(emit.render(compile_spec(TOY)), out)
    return load_generated(out)[0]


def fill_four(ref, policy):
    """A 2-set, 4-way cache with pages 0, 2, 4, 6 (all in set 0) filled in that order."""
    c = ref.Cache(8, 4, policy, True, ())
    for page in (0, 2, 4, 6):
        assert not c.fill(ref.Entry(page, (0,), (), False, 1, None, page + 100))
    return c


def pages(c, s=0):
    return [en.key if en else None for en in c.lines[s]]


def test_lru_evicts_the_least_recent(ref):
    # fills rank 6 most recent, 0 least; a hit on 0 makes 2 the least recent
    c = fill_four(ref, "lru")
    assert c.rank[0] == [3, 2, 1, 0]
    s, w = c.lookup(0 << ref.GRANULE, (0,), ())
    c.touch(s, w)
    assert c.rank[0] == [0, 3, 2, 1]
    assert c.fill(ref.Entry(8, (0,), (), False, 1, None, 0))
    assert pages(c) == [0, 8, 4, 6]


def test_plru_follows_the_tree(ref):
    # after four fills every tree bit points left again: the victim is way 0, then
    # (after the fill touches way 0: bits 1, 1, 0) way 2
    c = fill_four(ref, "plru")
    assert c.bits[0] == [0, 0, 0]
    assert c.fill(ref.Entry(8, (0,), (), False, 1, None, 0))
    assert c.bits[0] == [1, 1, 0]
    assert c.fill(ref.Entry(10, (0,), (), False, 1, None, 0))
    assert pages(c) == [8, 2, 10, 6]


def test_fifo_moves_only_on_evictions(ref):
    c = fill_four(ref, "fifo")
    assert c.ptr[0] == 0  # fills into invalid ways leave the pointer
    c.fill(ref.Entry(8, (0,), (), False, 1, None, 0))
    c.fill(ref.Entry(10, (0,), (), False, 1, None, 0))
    assert pages(c) == [8, 10, 4, 6] and c.ptr[0] == 2


def test_a_lookup_compares_tags_unless_global_and_the_access(ref):
    c = ref.Cache(8, 8, "fifo", True, (0,))
    c.fill(ref.Entry(1, (0,), (5,), False, 1, None, 9))
    c.fill(ref.Entry(2, (0,), (5,), True, 1, None, 9))
    va1, va2 = 1 << ref.GRANULE, 2 << ref.GRANULE
    assert c.lookup(va1, (0,), (5,)) and not c.lookup(va1, (0,), (6,))
    assert c.lookup(va2, (0,), (6,))  # global: any value of the ignored tag
    assert not c.lookup(va1, (1,), (5,))  # filled by a read: a write looks up apart


def test_whole_pages_answer_for_every_small_page_inside(ref):
    # the toy's level 2 leaf is a 4-MiB page: one entry answers anywhere in it
    c = ref.Cache(8, 8, "fifo", False, ())
    c.fill(ref.Entry((0x40_0000 + 0x3000) >> ref.GRANULE, (0,), (), False, 2, None, 0x80_0000 >> ref.GRANULE))
    s, w = c.lookup(0x40_0000 + 0x12_3456, (0,), ())
    assert c.pa(c.lines[s][w], 0x40_0000 + 0x12_3456) == 0x80_0000 + 0x12_3456
    assert not c.lookup(0x80_0000, (0,), ())


def test_caches_switched_off_by_name_never_hold(ref):
    """Caches(enabled=...) (the benchmark's hook): a cache left out answers nothing, so a
    page translated twice walks twice; enabled, the second is a hit with no reference."""
    V, W = 1, 2
    root, table, frame = 0x10_0000, 0x20_0000, 0x30_0000
    mem = {root + 8: table | V | W, table + 8: frame | V | W}
    request = {"va": (1 << 22) | (1 << 12), "write": 0, "SPACE": 5 | root}
    assert ref.HOLDS == {"tlb": "translations"}
    for enabled, second_hit in (((), False), (("tlb",), True), (None, True)):
        caches = ref.Caches(enabled=enabled) if enabled is not None else ref.Caches()
        runs = []
        for _ in range(2):
            trace, detail = [], {}
            out, hit = ref.translate_cached(caches, mem, request, trace, detail)
            assert out == {"ok": True, "pa": frame, "level": 1}  # offset 0 in the page
            runs.append((hit, len(trace), detail))
        assert runs[0][:2] == (False, 2)
        assert runs[1][:2] == ((True, 0) if second_hit else (False, 2))
        assert ("fill" in runs[0][2]) == second_hit  # a switched-off cache reports no fill
