"""The two-stage toy with a paging-structure cache of its second stage's walk
(tests/data/toy_hostpsc.vspec: `cache hwalk holds host tables of levels 2, 1`; levels
numbered down to 0, a 16-KiB second-stage root, a 2-entry whole-page nested TLB so that
host walks are frequent); shaped like no architecture, so the host walk's cache is
generic. Drawn sequences: the exact check (the model holds every cache: compared with the
full reference) and the architectural check, with hwalk's hits, misses, fills,
evictions, a drop and a host walk resumed from it."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import seqcosim

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_hostpsc.vspec"


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    spec = compile_spec(TOY)
    out = tmp_path_factory.mktemp("toy_hostpsc")
    emit.write(emit.render(spec), out)
    return spec, out


def test_the_host_tables_cache_is_a_paging_structure_cache_of_the_host_stage(gen):
    spec, _ = gen
    kinds = {c.name: (c.holds, c.stage, c.levels) for c in spec.top.caches}
    assert kinds["hwalk"] == ("tables", "host", (2, 1)) and kinds["walk"] == ("tables", "guest", (3, 2, 1))


def test_the_reference_keys_host_entries_by_guest_physical_bits_from_the_host_level_up(gen):
    """The toy's second stage: level 2 indexes gpa[40:30], level 1 gpa[29:21] (walk numbers
    3 and 2, deepest first)."""
    from codegen.verify.harness import load_generated
    ref = load_generated(gen[1])[0]
    assert ref.HPSC == "hwalk" and ref.HPSC_LEVELS == (2, 3)
    assert (ref.HOST_INDEX_LO[3], ref.HOST_INDEX_LO[2]) == (30, 21)
    assert ref.HOST_LEVEL_LABEL[3] == 2
    entry = ref.Partial(0x1234_5678 >> 21, 2, (5,), 1, 0x8000, 0x8000, ())
    assert ref.covers_host_tables(entry, 0x1234_5678 | 0x1F_FFFF) and not ref.covers_host_tables(entry, 0x1254_5678)


def test_drawn_sequences_pass_both_checks_and_cover_the_host_walk_cache(gen):
    spec, out = gen
    report = seqcosim.run(spec, out, 12, 1, length=60)
    assert report.mismatches == [] and report.violations == []
    assert report.walk_compared and set(report.walk) == {"walk", "gtlb", "hwalk"}
    covered = {p for p in report.covered if p.startswith(("hwalk", "resumed host"))}
    assert {"hwalk hit", "hwalk miss", "hwalk fill", "hwalk eviction", "resumed host walk"} <= covered
