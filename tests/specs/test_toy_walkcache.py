"""The two-stage toy with all three cache kinds (tests/data/toy_walkcache.vspec): levels
numbered down to 0, a register-chosen start level, both stages switchable, a whole-page
nested TLB; shaped like no architecture, so the walk caches are generic. Drawn sequences:
the exact check (the model holds every cache: compared with the full reference) and
the architectural check, with the walk caches' hits, misses, fills, evictions and a walk
resumed from the paging-structure cache."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import seqcosim

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_walkcache.vspec"


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    spec = compile_spec(TOY)
    out = tmp_path_factory.mktemp("toy_walkcache")
    emit.write(emit.render(spec), out)
    return spec, out


def test_the_toy_declares_a_psc_of_its_pointer_levels_and_a_nested_tlb(gen):
    spec, _ = gen
    kinds = {c.name: (c.holds, c.levels, c.pages) for c in spec.top.caches}
    assert kinds == {"tlb": ("translations", (), "split"), "walk": ("tables", (3, 2, 1), "split"),
                     "gtlb": ("host translations", (), "whole")}


def test_drawn_sequences_pass_both_checks_and_cover_the_walk_caches(gen):
    spec, out = gen
    report = seqcosim.run(spec, out, 12, 1, length=60)
    assert report.mismatches == [] and report.violations == []
    assert report.walk_compared and report.walk == ("walk", "gtlb")
    covered = {p for p in report.covered if p.startswith(("walk", "gtlb", "resumed"))}
    assert {"walk hit", "walk miss", "walk fill", "gtlb hit", "gtlb miss", "gtlb fill", "resumed walk"} <= covered
