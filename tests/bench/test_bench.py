"""The benchmark runs the model under the spec's own cycle watchdog, as cosim does."""
from codegen.bench import bench
from codegen.frontend.pipeline import compile_spec
from codegen.verify import harness


def test_time_model_passes_the_spec_cycle_limit(monkeypatch):
    spec = compile_spec(bench.SPECS / "x86_64_paging.vspec")
    seen = {}

    def fake_run_model(model, ref, scenarios, timing=None, vcd=None, limit=None):
        seen["limit"] = limit
        return []

    monkeypatch.setattr(harness, "run_model", fake_run_model)
    bench.time_model(spec, None, None, [], 1)
    timing = harness.Timing(bench.LATENCY, bench.LATENCY, 0)
    assert seen["limit"] == harness.cycle_limit(spec, timing) != harness.DEFAULT_CYCLE_LIMIT


def test_stimulus_section_has_a_row_pair_per_spec():
    """bench (g): scenarios/s, reference runs/s and compare + keys/s of every spec."""
    from codegen.bench import bench

    class Quiet:
        def describe(self, *a):
            pass

        def advance(self):
            pass

    paths = sorted(bench.SPECS.glob("*.vspec"))[:2]
    rows = bench.bench_stimulus(paths, 5, Quiet())
    assert len(rows) == 4 and rows[0][0] == "(g) cosim stimulus"
    assert rows[0][2].endswith("scenarios/s") and paths[1].stem in rows[2][1]


def lru_misses(pages, sets, ways):
    """A set-associative LRU cache of pages (set = page mod sets): its misses."""
    held = [[] for _ in range(sets)]  # most recent first
    misses = 0
    for p in pages:
        line = held[p % sets]
        if p in line:
            line.remove(p)
        else:
            misses += 1
            if len(line) == ways:
                line.pop()
        line.insert(0, p)
    return misses


def test_cache_section_counts_on_a_tiny_config():
    """bench (h) on x86_64_paging, 300 translations a trace and 4 on the model: the
    fields it reports, and counts computed here: 4 references a walk (4-level paging,
    4 KiB pages), a sequential trace misses every time in a 64-entry TLB (it strides
    through 512 pages), and the TLB's misses are those of a 16-set 4-way LRU of pages."""
    from codegen.bench import bench, traces

    class Quiet:
        def describe(self, *a):
            pass

        def advance(self):
            pass

    rows, data = bench.bench_caches(("x86_64_paging",), 300, 4, Quiet())
    entry = data["x86_64_paging"]
    assert entry["pages"] == 512 and entry["caches"] == {"tlb": "translations", "psc": "tables"}
    assert entry["configs"] == {"none": None, "tlb": ["tlb"], "all": ["tlb", "psc"]} and not entry["all_is_tlb_only"]
    ref, _model = bench.load_models("x86_64_paging")
    spec, base = bench.cache_base("x86_64_paging", ref)
    mem, pages = traces.map_pages(ref, base.memory, base.request, traces.leaf_bits(spec))
    for kind in traces.TRACES:
        got = entry["traces"][kind]
        assert got["none"]["refs"] == 4 * 300 and got["none"]["misses"] == 300
        seq = traces.make_trace(ref, mem, base.request, pages, kind, 300, 1)
        misses = lru_misses([st.request[ref.INPUT] >> 12 for st in seq.steps], 16, 4)
        assert (got["tlb"]["misses"], got["tlb"]["refs"], got["tlb"]["hits"].get("tlb", 0)) == (misses, 4 * misses, 300 - misses)
        assert got["tlb"]["faults"] == got["all"]["faults"] == 0
        # every cache: the TLB misses as before; the first walk reads 4 entries and fills the
        # PML4E, PDPTE and PDE caches, and every later miss resumes after the PDE (one leaf
        # table holds every page): 1 reference (SDM 4.10.3.1)
        assert (got["all"]["misses"], got["all"]["refs"]) == (misses, 4 + (misses - 1))
        assert got["all"]["hits"]["psc"] == got["all"]["lookups"]["psc"] - 1 == misses - 1
        if kind == "sequential":
            assert misses == 300
    model = entry["model"]
    assert model["translations"] == 4 and model["cached"]["mismatches"] == 0
    assert model["none"]["refs_per_translation"] == 4.0 and model["none"]["cycles_per_translation"] >= 4
    assert [r[0] for r in rows][0] == "(h) x86_64_paging" and len(rows) == 3 * 3 + 2
    assert rows[2][1] == "sequential, 300 translations: every cache" and rows[1][2].endswith("tlb 0.0% hits")
    assert rows[2][2].endswith("tlb 0.0% hits, psc 99.7% hits")  # 299 of 300 lookups


def test_walker_section_compares_outcomes_and_finds_a_planted_difference():
    """(b)'s second opinion: the generated reference and the hand-written walker of the
    workloads agree on every walk (the generated walk_top's extra values for the caches are
    not a disagreement), and one walk the hand walker gets wrong is counted."""
    from codegen.bench import workloads
    ref, _ = bench.load_models(workloads.load().walker.spec)
    walks = bench.legal_walks(ref, 20)
    assert len(walks) == 20 and bench.check_same(ref, walks) == 0
    hand = workloads.hand_walker()
    real = hand.walk_top
    try:
        hand.walk_top = lambda mem, trace, *a: (lambda r: (r[0], r[1] ^ 1, *r[2:]))(real(mem, trace, *a))
        assert bench.check_same(ref, walks[:3]) == 3
    finally:
        hand.walk_top = real
