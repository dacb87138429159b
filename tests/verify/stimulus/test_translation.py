"""Table building solved once per entry kind (stimulus/translation.py): entries still meet
their plan, frames still never overlap, and scenario i does not depend on what was drawn
before it (the caches hold data, not draws)."""
import itertools
import random

import pytest

from codegen.verify import cosim, harness
from codegen.verify.stimulus import translation as T
from codegen.verify.stimulus.translation import Allocator, Draw, StimulusError, TableBuilder

WALKS = ["x86_64_paging", "amd_npt", "intel_ept"]


def _kinds(regime):
    for lv in regime.levels:
        for as_leaf in (True, False):
            if (lv.leaf if as_leaf else lv.table):
                for fault in [None] + [r.name for r in regime.faults_for(as_leaf)]:
                    yield lv, as_leaf, fault


@pytest.mark.parametrize("name", WALKS)
def test_solved_entries_meet_their_plan(specs, name):
    """Every entry the solver returns is one the plan's conditions accept (want_fn, the
    search's own test), for every level, role and fault, legal or not, many contexts."""
    spec = specs[name]
    draw = Draw(random.Random(7))
    solved = 0
    for regime in spec.regimes:
        for trial in range(12):
            ctx = {n: draw.bits(spec.layout(n).width) for n in regime.context}
            builder = TableBuilder(spec, regime, draw, ctx, lambda a, v: None, Allocator(draw, 40))
            builder.legal = trial % 2 == 0
            for lv, as_leaf, fault in _kinds(regime):
                kind = T._entry_kind(spec, regime, lv.number, as_leaf, fault)
                target = 1 << (lv.page_shift if as_leaf else 12)
                try:
                    value = builder.entry(lv.number, as_leaf, target, fault)
                except StimulusError:
                    continue
                solved += kind.solver is not None
                assert builder.want_fn(kind)(value), (regime.name, lv.number, as_leaf, fault, hex(value))
    assert solved > 100  # the solver, not the search, built most of them


def test_frames_never_overlap_whatever_their_size():
    """4 KiB, 8 KiB, 2 MiB and 1 GiB frames in a small space: no 2 MiB frame covers a page
    given out before or after it (2 MiB frames are a marker, not 512 pages)."""
    draw = Draw(random.Random(3))
    alloc = Allocator(draw, 26)  # 64 MiB: 32 chunks of 2 MiB
    taken: list[tuple[int, int]] = []
    for i in range(300):
        shift = (12, 13, 21, 12, 12)[i % 5]
        try:
            addr = alloc.frame(shift)
        except StimulusError:
            continue
        taken.append((addr, addr + (1 << shift)))
    taken.sort()
    assert len(taken) > 100
    for (a0, a1), (b0, _) in itertools.pairwise(taken):
        assert a1 <= b0, (hex(a0), hex(a1), hex(b0))


def test_frames_avoid_pages_taken_before_the_allocator():
    """A set of pages already used (a unit's memory image) keeps 2 MiB frames off them."""
    used = {(n << 9) + 5 for n in range(1, 31)}  # a page in every 2 MiB chunk but 0 and 31
    alloc = Allocator(Draw(random.Random(1)), 26, used)
    assert alloc.frame(21) >> 21 == 31
    with pytest.raises(StimulusError):
        alloc.frame(21)


@pytest.mark.parametrize("name", WALKS)
def test_a_scenario_does_not_depend_on_the_ones_drawn_before(specs, generated, name):
    """Scenario i drawn first, or after others (the solver, prefer and context caches
    then warm), is the same scenario."""
    spec = specs[name]
    ref, _ = generated[name]
    T._PREPS.clear()
    T._PREFERRED.clear()
    for _, kind in T._KINDS.values():
        if kind.solver is not None:
            kind.solver.cache.clear()
    cold = cosim.Stimulus(spec, ref, 40, 5).one(37)
    warm = cosim.Stimulus(spec, ref, 40, 5)
    for i in range(37):
        warm.one(i)
    again = warm.one(37)
    assert (cold.request, cold.memory, cold.latency_seed) == (again.request, again.memory, again.latency_seed)


# ---- exclusive access kinds and stages switched off (issue 14 items 4 and 5)
@pytest.mark.parametrize("name", WALKS)
def test_an_access_is_never_a_write_and_a_fetch(specs, name):
    """x86 (`access at most one of write, fetch;`, SDM 4.7): no request is both, in the
    one-dimensional walk and the nested ones; every host access the nested maps give
    (table, final, update) respects the host's groups too; reads (neither) are drawn."""
    factory = T.ScenarioFactory(specs[name])
    draw = Draw(random.Random(3))
    seen = set()
    for _ in range(200):
        sc = factory.make(draw)
        req = sc.request
        assert not (req["write"] and req["fetch"])
        seen.add((req["write"], req["fetch"]))
        if factory.nested is not None:
            access = {a: req[a] for a in factory.main.access}
            for got in factory._host_accesses(["table", "final", "update"], req, access):
                assert not (got.get("write") and got.get("fetch")), got
    assert seen == {(0, 0), (1, 0), (0, 1)}


@pytest.mark.parametrize("name,stage", [("amd_npt", "host"), ("intel_ept", "host")])
def test_a_switched_off_stage_is_drawn_and_builds_no_tables(specs, generated, name, stage):
    """About one scenario in eight has the host stage off (NP_ENABLE = 0, enable EPT = 0);
    its walk then reads only guest tables, placed at their guest-physical addresses."""
    factory = T.ScenarioFactory(specs[name])
    ref = generated[name][0]
    draw = Draw(random.Random(11))
    off = 0
    for _ in range(300):
        sc = factory.make(draw, fault_percent=0, legal=True)
        if factory.stage_off(stage, sc.request):
            off += 1
            run = harness.run_reference(ref, sc)
            assert not run.outcome["ok"] or run.outcome["host_level"] is None
    assert 15 <= off <= 60
# ---- roots the stimulus must set: two roots chosen by an input bit, a shifted base (issue 14 item 11)
def test_the_root_an_input_chooses_is_the_one_set():
    """`root va[48] ? TTBR1.BADDR >> 11 << 12 : TTBR0.BADDR >> 11 << 12`: cosim refused it
    ('the root expression is not a register field...'); now the input's branch is set, and
    the bits the right shift drops stay 0."""
    from pathlib import Path

    from codegen.frontend.pipeline import compile_spec
    spec = compile_spec(Path(__file__).resolve().parents[2] / "data" / "toy_upward.vspec")
    root = spec.regime("stage1").root
    ctx: dict = {}
    T.invert(root, 0x1234_5000, ctx, given=1 << 48)
    assert ctx == {"TTBR1": 0x1234_5000}  # BADDR [47:1] = 0x1234_5000 >> 1: bits 11:1 zero
    ctx = {}
    T.invert(root, 0x1234_5000, ctx, given=0)
    assert ctx == {"TTBR0": 0x1234_5000}
    # BADDR is 47 bits, shifted right 11 and left 12: a root of up to 48 bits
    assert T._value_bits(root) == 48


def test_a_host_root_chosen_by_its_input_leads_every_input_to_one_table():
    """A host stage's inputs are the guest's addresses, any of which may choose either
    root: with no input given, both branches are set to the same table."""
    from pathlib import Path

    from codegen.frontend.pipeline import compile_spec
    spec = compile_spec(Path(__file__).resolve().parents[2] / "data" / "toy_upward.vspec")
    ctx: dict = {}
    T.invert(spec.regime("stage1").root, 0x7000, ctx)
    assert ctx == {"TTBR0": 0x7000, "TTBR1": 0x7000}
# ---- issue 14, "What the stimulus and the reports must do"
DATA = __import__("pathlib").Path(__file__).resolve().parents[2] / "data"


def _toy(name):
    from codegen.frontend.pipeline import compile_spec
    return compile_spec(DATA / f"{name}.vspec")


def _builder(spec, regime, seed=1):
    draw = Draw(random.Random(seed))
    b = TableBuilder(spec, regime, draw, {n: 0 for n in regime.context}, lambda a, v: None, Allocator(draw, 40))
    b.addr = 0
    return b


def test_a_fault_over_the_leaf_condition_s_fields_is_drawn_on_a_leaf():
    """toy_leaf_fault: a leaf is `R || W || X`, `W && !R` is a fault: drawn on a leaf at level 2."""
    spec = _toy("toy_leaf_fault")
    (walk,) = spec.regimes
    lay = spec.layout("mega")
    r, w = lay.field("R"), lay.field("W")
    for seed in range(20):
        e = _builder(spec, walk, seed).entry(2, True, 1 << 21, "write_only")
        assert e >> w.lo & 1 and not e >> r.lo & 1  # W && !R, so a leaf by R || W || X


def test_a_stimulus_error_names_the_rule_not_only_the_format():
    """`W && !R` cannot fire on a pointer (W would make the entry a leaf): the error names the
    fault and its line, not just "an entry of format 'pte'"."""
    spec = _toy("toy_leaf_fault")
    with pytest.raises(StimulusError) as err:
        _builder(spec, spec.regimes[0]).entry(2, False, 1 << 12, "write_only")
    text = str(err.value)
    assert "fault 'write_only' (" in text and "toy_leaf_fault.vspec:" in text and "level 2 'mid'" in text
    assert "leaf condition of level 'mid'" in text and "is false (a pointer)" in text


def test_a_host_fault_that_cannot_be_injected_is_left_out():
    """toy_nested_leaf_fault: the host's `write_only` planned on a host pointer at level 2 cannot
    happen; the nested mapping builds on without it (it raised "cannot draw an entry")."""
    spec = _toy("toy_nested_leaf_fault")
    factory = T.ScenarioFactory(spec)
    for seed in range(40):
        factory.make(Draw(random.Random(seed)), host_fault_at=("write_only", 2), host_leaf=1)


# ---- a constant `page shift` whose frame field starts lower (issue 16: VT-d's large leaves)
def _leaf_entry(sc):
    """The level-2 entry of toy_const_shift's walk of the scenario's input."""
    table = sc.request["ROOT"] >> 12 << 12
    return sc.memory.get(table + ((sc.request["va"] >> 21) & 0x1FF) * 8, 0)


def test_a_constant_page_shift_leaf_gets_a_frame_of_its_size():
    """`leaf big when PS page shift 21` with ADDR from bit 12: a legal 2-MiB leaf's frame is
    2-MiB aligned (it was a 4-KiB frame, so the low-bits fault fired on nearly every
    legal large page), and a planned low-bits fault still gets a frame with those bits."""
    spec = _toy("toy_const_shift")
    factory = T.ScenarioFactory(spec)
    leaves = faults = 0
    for seed in range(40):
        sc = factory.make(Draw(random.Random(seed)), guest_plan=T.Plan(2), fault_percent=0, legal=True)
        e = _leaf_entry(sc)
        if e & 1 and e >> 7 & 1:
            leaves += 1
            assert (e >> 12) & 0x1FF == 0, hex(e)
        sc = factory.make(Draw(random.Random(seed)), guest_plan=T.Plan(2, "lowbits", 2), legal=True)
        faults += (_leaf_entry(sc) >> 12) & 0x1FF != 0
    assert leaves >= 30 and faults >= 30


# ---- a host input width the host context chooses (issue 17: VT-d's 83h, the nested output beyond AW)
def test_guest_tables_stay_inside_the_host_width_the_context_chooses_and_some_leaves_go_beyond(tmp_path):
    """toy_nested_width: the host maps 30 guest-physical bits (HCTL.WIDE = 0) or 39 (WIDE = 1),
    `beyond` refuses the bits above before any host reference; the guest's frames are 48
    bits wide. Legal walks (no fault injected) end three ways: translated; `beyond` on a
    guest table (guest level 3, 2 or 1: a table frame drawn past the width, the scenarios
    that put frames anywhere); `beyond` on the final address (guest_level None: every
    table inside the width, the leaf's frame past it). The last needs both halves of the
    stimulus: the tables' allocator cut to the width THIS context chooses (the deepest host
    index bit, 39, let the 30-bit context's tables fall beyond it most of the time: 243 of
    400 at the guest root before), and some leaf frames drawn from the guest's full width
    (before, none of 400 reached the final address beyond the width)."""
    from codegen.generate import emit
    spec = _toy("toy_nested_width")
    emit.write(emit.render(spec), tmp_path / "toy")
    ref, _ = harness.load_generated(tmp_path / "toy")
    factory = T.ScenarioFactory(spec)
    ends = {"ok": 0, "table": 0, "final": 0}
    for seed in range(120):
        sc = factory.make(Draw(random.Random(seed)), fault_percent=0, legal=True, exact=True)
        out = harness.run_reference(ref, sc).outcome
        if out["ok"]:
            ends["ok"] += 1
            continue
        assert (out["stage"], out["fault"]) == ("host", "beyond"), out  # exact legal entries: nothing else faults
        ends["final" if out["guest_level"] is None else "table"] += 1
    # about 16 % final (80 % tables inside x 20 % leaf anywhere), 20 % tables anywhere:
    # 20, 25 and 75 of these 120
    assert ends["final"] >= 8 and ends["table"] <= 45 and ends["ok"] >= 55, ends


def test_a_fixed_context_that_switches_the_host_off_needs_no_host_start_level(specs):
    """amd_iommu's guest_io under a DTE with Mode 0 (a unit's second walk, whose HPT the first
    walk's device entry fixed): the host stage is off, and Mode 0 is no start level of the
    host regime; the draw gives a context with the fixed register (it raised "no context
    gives a valid start level", so no such walk was built) and a guest walk with no host
    reference."""
    from codegen.verify.stimulus.unit import UnitScenarioFactory
    factory = UnitScenarioFactory(specs["amd_iommu"]).walk_factories["t"]
    hpt = 1 << 0 | 1 << 1 | 0x80_0000  # V, TV, host root: Mode (bits 11:9) 0
    assert factory.start_pairs({"HPT": hpt}) == []  # no host start level: Mode 0 is none
    for seed in range(10):
        sc = factory.make(Draw(random.Random(seed)), ctx_override={"HPT": hpt, "TRQ": 1})
        assert sc.request["HPT"] == hpt and factory.stage_off("host", sc.request)
