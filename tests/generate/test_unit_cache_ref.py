"""The generated reference of a unit with caches (templates/unit_cache_ref.j2, view
unit_cache.py) on the toy unit tests/data/toy_unit_cache.vspec: a cache in front of a
structure read and one in front of a walk, with the semantics of docs/language.md,
"Caches in a unit". Every expected value is worked out by hand from the toy's tables
below (device table at 0x10000, 16 bytes per device; the toy regime: level 2 indexes
va[29:21], level 1 va[20:12], 8-byte entries, V bit 0, W bit 1, A bit 5 set on success)."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify.harness import load_generated

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_unit_cache.vspec"
DEV1, DEV3 = 0x10010, 0x10030  # device 1's and 3's entries: DEVTAB + dev * 16


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_unit_cache_ref")
    emit.write(emit.render(compile_spec(TOY)), out)
    return load_generated(out)[0]


def memory():
    """Device 1, domain 5, tables at 0x20000 (level 2) and 0x21000 (level 1): page 3 maps
    to frame 0x55000, page 4 to 0x66000."""
    return {DEV1: 0x20003, DEV1 + 8: 5, 0x20000: 0x21003, 0x21018: 0x55003, 0x21020: 0x66003}


def request(addr=0x3ABC, dev=1, write=0):
    return {"kind": 1, "dev": dev, "addr": addr, "write": write, "DEVTAB": 0x10000}


def run(ref, caches, mem, req):
    trace, detail = [], {}
    out, hits = ref.decide_cached(caches, mem, req, trace, detail)
    return out, hits, trace, detail


def test_a_miss_fills_both_caches_and_a_repeat_reads_nothing(ref):
    c, mem = ref.Caches(), memory()
    out, hits, trace, detail = run(ref, c, mem, request())
    assert out["fields"]["pa"] == 0x55ABC and hits == ()
    # the entry's two words, the two table entries, then the A bits written back
    assert [(op, a) for op, a, _s, _v in trace] == [(0, DEV1), (0, DEV1 + 8), (0, 0x20000), (0, 0x21018),
                                                   (1, 0x20000), (1, 0x21018)]
    # and what each step decided (sequence coverage counts it): walk io translated, at level 1
    assert detail == {"miss": ["dtc", "tlb"], "fill": [("dtc", False), ("tlb", False)],
                      "steps": {"io": {"fault": None, "level": 1, "ok": 1, "walked": 1}}}
    out2, hits, trace, _ = run(ref, c, mem, request(addr=0x3001))
    assert (out2["fields"]["pa"], hits, trace) == (0x55001, ("dtc", "tlb"), [])


def test_the_walk_cache_is_keyed_by_page_access_and_domain(ref):
    c, mem = ref.Caches(), memory()
    run(ref, c, mem, request())
    # a write is another access kind: the walk runs again (after the DTE hit)
    _out, hits, trace, _ = run(ref, c, mem, request(write=1))
    assert hits == ("dtc",) and trace[0][1] == 0x20000
    # device 3 with the same entry and domain: its DTE is read, the translation is shared
    mem.update({DEV3: 0x20003, DEV3 + 8: 5})
    out, hits, trace, _ = run(ref, c, mem, request(dev=3))
    assert hits == ("tlb",) and [a for _op, a, _s, _v in trace] == [DEV3, DEV3 + 8]
    assert out["fields"]["pa"] == 0x55ABC
    # the same tables under domain 6: no hit in the walk cache
    mem[DEV3 + 8] = 6
    c2 = ref.Caches()
    run(ref, c2, mem, request())
    _out, hits, _trace, _ = run(ref, c2, mem, request(dev=3))
    assert hits == ()


def test_a_stale_structure_entry_answers_until_its_invalidation(ref):
    c, mem = ref.Caches(), memory()
    run(ref, c, mem, request())
    mem[DEV1] = 0  # software clears V
    out, hits, _trace, _ = run(ref, c, mem, request())
    assert out["rule"] == "translated" and hits == ("dtc", "tlb")
    ref.invalidate(c, "by_device", {"dev": 2}, request())  # another device: kept
    assert run(ref, c, mem, request())[1] == ("dtc", "tlb")
    detail = {}
    ref.invalidate(c, "by_device", {"dev": 1}, request(), detail)
    assert detail["dropped"] == [("dtc", 1), ("tlb", 0)]
    out, hits, trace, _ = run(ref, c, mem, request())
    assert out["rule"] == "invalid_device" and hits == () and len(trace) == 2


def entry(ref, page, dom=5):
    """A walk-cache entry for input page `page` (4 KiB) of domain `dom`."""
    return ref.Entry(page, (0,), (dom,), 1, 0x55, None, 12)


@pytest.mark.parametrize("addr, size, dropped", [
    (0x3000, 12, True),    # the page itself
    (0x2000, 13, True),    # the 8-KiB block 0x2000-0x3FFF holds page 3
    (0x0000, 13, False),   # 0x0000-0x1FFF does not
    (0x1234, 14, True),    # 16 KiB from 0: pages 0-3
    (0x4000, 14, False),   # 0x4000-0x7FFF
    (0x3FFF_FFFF, 30, True),  # the whole 30-bit input space
    (0x3000, 5, True),     # a block below the granule: the page that holds it
    (0x3FC0, 6, True),
    (0x4000, 5, False),
])
def test_within_drops_the_pages_a_range_overlaps(ref, addr, size, dropped):
    o = {"dom": 5, "addr": addr, "size": size}
    assert ref.drop_holds("tlb", "by_range", entry(ref, 3), o, request()) is dropped
    assert ref.drop_holds("tlb", "by_range", entry(ref, 3, dom=4), o, request()) is False


def test_covers_is_the_entry_page(ref):
    assert ref.drop_holds("tlb", "one_page", entry(ref, 3), {"dom": 5, "addr": 0x3FFF}, request())
    assert not ref.drop_holds("tlb", "one_page", entry(ref, 3), {"dom": 5, "addr": 0x4000}, request())


def test_fifo_evicts_in_fill_order_and_a_large_page_is_split(ref):
    # 8 entries in 2 ways: 4 sets, set = page & 3. Pages 0, 4 and 8 all fall in set 0.
    c = ref.Caches().by_name["tlb"]
    assert (c.sets, c.ways, c.policy) == (4, 2, "fifo")
    for page in (0, 4):
        assert not c.fill(entry(ref, page))
    assert c.fill(entry(ref, 8))  # evicts way 0 (page 0), the pointer moves to way 1
    assert [en.key for en in c.lines[0]] == [8, 4] and c.ptr[0] == 1
    # a 2-MiB page (level 2 leaf, L bit 2) is cached one 4-KiB page at a time
    caches, mem = ref.Caches(), memory()
    mem[0x20000] = 0x200000 | 0x7  # V, W, L: frame 0x200000
    out, _h, _t, _d = run(ref, caches, mem, request(addr=0x3ABC))
    assert out["fields"]["pa"] == 0x203ABC
    _out, hits, trace, _ = run(ref, caches, mem, request(addr=0x5ABC))  # same 2-MiB page, another 4 KiB
    assert hits == ("dtc",) and trace[0][1] == 0x20000


def test_everything_drops_both_and_reset_is_empty(ref):
    c, mem = ref.Caches(), memory()
    run(ref, c, mem, request())
    detail = {}
    ref.invalidate(c, "everything", {}, request(), detail)
    assert detail["dropped"] == [("dtc", 1), ("tlb", 1)]
    assert all(en is None for cache in c.by_name.values() for line in cache.lines for en in line)
    assert ref.OPERANDS == {"by_device": ("dev",), "by_range": ("dom", "addr", "size"),
                            "one_page": ("dom", "addr"), "everything": ()}
