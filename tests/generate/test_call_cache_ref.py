"""The generated reference of a unit with a cache in front of a call (`holds call C`,
templates/unit_reference.py.j2 and unit_cache_ref.j2, view unit_cache.py) on the toy
tests/data/toy_call_cache.vspec, with the semantics of docs/language.md, "Caches in a
unit". Every expected value is worked out by hand from the toy's tables below: the
function table at 0x1000 (8 bytes per function: EN bit 0, RID bits 19:8), the device
table of toy_walk_unit.vspec at 0x10000 (16 bytes per device: V bit 0, TV bit 1, ROOT
bits 39:12), the toy regime (level 2 indexes va[29:21], level 1 va[20:12], 8-byte
entries, V bit 0, W bit 1, A bit 5 set on success) and the log at 0x30000."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify.harness import load_generated

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_call_cache.vspec"
FN2, FN5 = 0x1010, 0x1028  # functions 2 and 5: FNTAB + fn * 8
DEV3, DEV4 = 0x10030, 0x10040  # devices 3 and 4: DEVTAB + dev * 16


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_call_cache_ref")
    emit.write(emit.render(compile_spec(TOY)), out)
    return load_generated(out)[0]


def memory():
    """Function 2 has routing ID 3, function 5 routing ID 4; device 3 translates with tables at
    0x20000 (level 2) and 0x21000 (level 1): page 3 maps to 0x55000, page 5 is not present;
    device 4 is not valid."""
    return {FN2: 0x301, FN5: 0x401, DEV3: 0x20003, 0x20000: 0x21003, 0x21018: 0x55003}


def request(addr=0x3ABC, fn=2, write=0, kind=1):
    return {"kind": kind, "fn": fn, "addr": addr, "write": write, "FNTAB": 0x1000, "DEVTAB": 0x10000,
            "LOG": 0x30000}


def run(ref, caches, mem, req):
    trace, detail = [], {}
    out, hits = ref.decide_cached(caches, mem, req, trace, detail)
    return out, hits, trace, detail


def test_a_hit_gives_the_calls_results_with_no_reference_of_the_callee(ref):
    c, mem = ref.Caches(), memory()
    out, hits, trace, detail = run(ref, c, mem, request())
    assert (out["rule"], out["fields"]["pa"], hits) == ("translated", 0x55ABC, ())
    # the function entry, the device entry, the two table entries, then the A bits written back
    assert [(op, a) for op, a, _s, _v in trace] == [(0, FN2), (0, DEV3), (0, 0x20000), (0, 0x21018),
                                                   (1, 0x20000), (1, 0x21018)]
    assert detail["miss"] == ["answers"] and detail["fill"] == [("answers", False)]
    # the same 4 KiB piece: the function entry is read (the tag), nothing of the callee
    out, hits, trace, _ = run(ref, c, mem, request(addr=0x3001))
    assert (out["rule"], out["fields"]["pa"], hits) == ("translated", 0x55001, ("answers",))
    assert [(op, a) for op, a, _s, _v in trace] == [(0, FN2)]


def test_the_key_and_tags_decide_a_hit(ref):
    c, mem = ref.Caches(), memory()
    run(ref, c, mem, request())
    assert run(ref, c, mem, request(write=1))[1] == ()  # tag write differs
    assert run(ref, c, mem, request(addr=0x4ABC))[1] == ()  # another piece (its walk faults)
    mem[FN5] = 0x301  # function 5 with routing ID 3: the same tags, the answer is shared
    out, hits, trace, _ = run(ref, c, mem, request(fn=5))
    assert hits == ("answers",) and out["fields"]["pa"] == 0x55ABC and [a for _o, a, _s, _v in trace] == [FN5]


def test_fill_when_leaves_an_answer_out_and_a_cached_fault_writes_no_log(ref):
    c, mem = ref.Caches(), memory()
    # device 4 is not valid: `invalid_device` is not in `fill when`, so it is asked again and logs again
    for _ in range(2):
        out, hits, trace, detail = run(ref, c, mem, request(fn=5))
        assert (out["rule"], out["fields"]["code"], hits) == ("blocked", 0x21, ())
        assert [(op, a) for op, a, _s, _v in trace] == [(0, FN5), (0, DEV4), (1, 0x30000), (1, 0x30008)]
        assert "fill" not in detail
    # page 5 is not present: the page fault is filled; the repeat answers it with no log write
    out, hits, trace, _ = run(ref, c, mem, request(addr=0x5000))
    assert (out["rule"], out["fields"]["code"], hits) == ("blocked", 0x23, ())
    assert (1, 0x30000, 8, 3) in trace and (1, 0x30008, 8, 0x5000) in trace
    out, hits, trace, _ = run(ref, c, mem, request(addr=0x5008))
    assert (out["rule"], out["fields"]["code"], hits, trace) == ("blocked", 0x23, ("answers",), [(0, FN2, 8, 0x301)])


def test_a_function_that_does_not_exist_makes_no_call_and_no_lookup(ref):
    c, mem = ref.Caches(), memory()
    mem[FN2] = 0
    out, hits, trace, detail = run(ref, c, mem, request())
    assert (out["rule"], hits, trace, detail.get("miss")) == ("no_function", (), [(0, FN2, 8, 0)], None)


def test_invalidations_by_tag_by_range_and_by_page(ref):
    c, mem = ref.Caches(), memory()
    run(ref, c, mem, request())
    mem[0x21018] = 0x99003  # software remaps page 3; the stale answer stays until dropped
    assert run(ref, c, mem, request())[0]["fields"]["pa"] == 0x55ABC

    def drops(name, ops):
        detail = {}
        ref.invalidate(c, name, ops, request(), detail)
        return detail["dropped"]

    assert drops("by_rid", {"rid": 4}) == [("answers", 0)]
    assert drops("by_range", {"addr": 0x4000, "size": 14}) == [("answers", 0)]  # 16 KiB at 0x4000: not page 3
    assert drops("one_page", {"rid": 3, "addr": 0x2FFF}) == [("answers", 0)]
    assert drops("by_range", {"addr": 0x2000, "size": 13}) == [("answers", 1)]  # 8 KiB at 0x2000 holds page 3
    assert run(ref, c, mem, request())[0]["fields"]["pa"] == 0x99ABC
    assert drops("one_page", {"rid": 3, "addr": 0x3FFF}) == [("answers", 1)]
    run(ref, c, mem, request())
    assert drops("by_range", {"addr": 0, "size": 63}) == [("answers", 1)]  # 2^63 bytes: every address
    run(ref, c, mem, request())
    assert drops("by_rid", {"rid": 3}) == [("answers", 1)]
