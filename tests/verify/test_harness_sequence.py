"""harness.run_model_sequence: the cycle-level model runs a sequence of translations,
invalidations and stores from one reset, and agrees with the generated reference's
caches (issue 15, design sections 3 and 4).

The toy (tests/data/toy_cache.vspec): a two-level walk, 8-byte entries, V [0], L [2],
S [3] (shared: global), ADDR [39:12]; a TLB of 8 entries in 8 ways (one set), FIFO,
`pages whole`, tagged by SPACE.NUM; `switch (value)` drops the non-global entries of
address space value[7:0]."""
from __future__ import annotations

from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate.emit import render
from codegen.verify import harness
from codegen.verify.sequence import Sequence, Step, compare, run_reference

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "data" / "toy_cache.vspec"
V, L, S = 1, 4, 8
TABLE = 0x10000  # the root table; SPACE = TABLE | NUM


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = compile_spec(TOY)
    d = tmp_path_factory.mktemp("gen") / spec.name
    d.mkdir()
    for name, text in render(spec).items():
        (d / name).write_text(text)
    ref, mod = harness.load_generated(d)
    return spec, ref, mod


def tr(va, space=1, write=0):
    return Step("translate", {"va": va, "write": write, "SPACE": TABLE | space})


def run(toy, memory, steps):
    """Both runs of the sequence; the model must agree with the reference exactly."""
    spec, ref, mod = toy
    seq = Sequence(memory, tuple(steps))
    timing = harness.Timing(1, 3, 20)
    want = run_reference(ref, seq)
    got = harness.run_model_sequence(mod, ref, seq, timing, harness.cycle_limit(spec, timing))
    assert compare(seq, want, got) == []
    return got


def big_pages(n, shared=()):
    """Root entries 0..n-1 are 4-MiB leaves: page i at physical 0x4000_0000 + i * 4 MiB."""
    return {TABLE + 8 * i: (0x40000000 + (i << 22)) | L | V | (S if i in shared else 0) for i in range(n)}


def test_a_hit_answers_in_one_cycle_with_no_memory_reference(toy):
    mem = {TABLE + 8: 0x20000 | V, 0x20000 + 8: 0x55000 | V}  # va 0x00401xxx: index 1, then 1
    got = run(toy, mem, [tr(0x401234), tr(0x401abc)])
    first, second = got.steps
    assert (first.hit, second.hit) == (False, True)
    assert len(first.trace) == 2 and second.trace == []
    assert second.outcome == {"ok": True, "pa": 0x55abc, "level": 1}
    assert second.cycles == 1


def test_whole_page_entry_answers_any_page_inside(toy):
    got = run(toy, big_pages(2), [tr(0x400000), tr(0x7ff123)])
    assert got.steps[1].hit and got.steps[1].outcome == {"ok": True, "pa": 0x407ff123, "level": 2}


def test_fifo_eviction_of_the_first_filled(toy):
    """Nine pages in an 8-entry FIFO cache: the ninth evicts the first (way 0)."""
    steps = [tr(i << 22) for i in range(9)] + [tr(1 << 22), tr(0)]
    got = run(toy, big_pages(9), steps)
    assert [s.hit for s in got.steps] == [False] * 9 + [True, False]


def test_invalidation_by_tag_keeps_other_spaces_and_global_entries(toy):
    switch = Step("invalidate", {"va": 0, "write": 0, "SPACE": TABLE | 1}, "switch", (("value", TABLE | 1),))
    steps = [tr(0, space=1), tr(1 << 22, space=2), tr(2 << 22, space=1), switch,
             tr(0, space=1), tr(1 << 22, space=2), tr(2 << 22, space=7)]
    got = run(toy, big_pages(3, shared={2}), steps)
    hits = [s.hit for s, st in zip(got.steps, steps) if st.op == "translate"]
    # space 1's own entry goes; space 2's stays; page 2 is shared (global): any space hits
    assert hits == [False, False, False, False, True, True]
    assert got.steps[3].cycles == 2  # one set: a cycle to sweep it, then done


def test_a_store_changes_memory_but_not_a_cached_translation(toy):
    """Software rewrites the leaf without an invalidation: the stale entry still answers."""
    mem = big_pages(1)
    steps = [tr(0), Step("store", address=TABLE, value=0x80000000 | L | V), tr(0),
             Step("invalidate", {"va": 0, "write": 0, "SPACE": TABLE | 1}, "flush_all"), tr(0)]
    got = run(toy, mem, steps)
    assert got.steps[2].hit and got.steps[2].outcome["pa"] == 0x40000000
    assert not got.steps[4].hit and got.steps[4].outcome["pa"] == 0x80000000
    assert got.memory[TABLE] == 0x80000000 | L | V


def test_the_watchdog_stops_a_sequence_that_hangs(toy):
    spec, ref, mod = toy
    seq = Sequence(big_pages(1), (tr(0), tr(0)))
    got = harness.run_model_sequence(mod, ref, seq, harness.Timing(1, 1, 0), 1)  # a miss takes more than 1
    assert got.timeout == 1 and got.steps == []


def test_sequences_in_one_simulation_each_start_from_a_reset(toy):
    """run_model_sequences runs several sequences in one simulation (the model elaborated
    once): each from reset caches and its own image. The second maps page 0 elsewhere
    (0x8000_0000, not the first's 0x4000_0000): had the first's fill of page 0 survived,
    its first step would hit and answer 0x4000_0000."""
    spec, ref, mod = toy
    timing = harness.Timing(1, 3, 20)
    first = Sequence(big_pages(2), (tr(0), tr(1 << 22), tr(0)), seed=1)
    second = Sequence({TABLE: 0x80000000 | L | V}, (tr(0x123), tr(0x456)), seed=2)
    got: list = []
    harness.run_model_sequences(mod, ref, iter([first, second]), lambda seq, run: got.append((seq, run)),
                                timing, harness.cycle_limit(spec, timing))
    assert [seq for seq, _ in got] == [first, second]
    for seq, run in got:
        assert compare(seq, run_reference(ref, seq), run) == []
        assert compare(seq, run, harness.run_model_sequence(mod, ref, seq, timing,
                                                            harness.cycle_limit(spec, timing))) == []
    steps = got[1][1].steps
    assert [s.hit for s in steps] == [False, True]
    assert steps[0].outcome["pa"] == 0x80000123 and got[1][1].memory[TABLE] == 0x80000000 | L | V


@pytest.mark.parametrize("name", ["x86_64_paging", "amd_npt", "toy_cache"])
def test_drawn_sequences_agree_with_the_reference(name):
    """The lead's sequence stimulus, 4 sequences of 40 steps: every translation's outcome,
    hit and trace, and the final memory, agree."""
    from codegen.verify.stimulus.sequence import sequences

    path = TOY if name == "toy_cache" else ROOT / "specs" / f"{name}.vspec"
    spec = compile_spec(path)
    ref, mod = harness.load_generated(ROOT / "generated" / name) if name != "toy_cache" else _gen(spec)
    timing = harness.Timing()
    limit = harness.cycle_limit(spec, timing)
    hits = 0
    for seq in sequences(spec, ref, 4, 3, 40):
        # a model without the walk caches is compared with the reference's TLBs alone
        want = run_reference(ref, seq, walk=bool(getattr(mod, "WALK_CACHES", False)))
        got = harness.run_model_sequence(mod, ref, seq, timing, limit)
        assert compare(seq, want, got) == [], seq.seed
        hits += sum(s.hit for s in got.steps)
    assert hits


def _gen(spec):
    import tempfile
    d = Path(tempfile.mkdtemp()) / spec.name
    d.mkdir()
    for name, text in render(spec).items():
        (d / name).write_text(text)
    return harness.load_generated(d)
