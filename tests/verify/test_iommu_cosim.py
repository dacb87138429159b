"""Issue 5's acceptance: the IOMMU units co-simulate DMA and interrupt requests with no
mismatch, covering every exit, event code, walk fault kind and page size; a field of
the device-table entry moved in a copy of a spec is caught."""
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Draw
from codegen.verify.stimulus.unit import UnitScenarioFactory

ROOT = Path(__file__).resolve().parents[2]
MIX = {"amd_iommu": {"DMA_READ": 1000, "DMA_WRITE": 1000, "INTERRUPT": 500},
       "intel_vtd": {"DMA_READ": 1000, "DMA_WRITE": 1000, "INTERRUPT": 500}}


def _required(missing: list[str]) -> list[str]:
    """What the issue requires of the coverage: every exit, every event code and
    outcome, every walk fault kind and every page size (fault sites at each level and
    level skips are reported too, but rare ones may need more than 2,500 requests)."""
    return [k for k in missing if " at level " not in k and " skips from level " not in k]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MIX))
def test_dma_and_interrupt_requests_no_mismatch(specs, name):
    report = cosim.run(specs[name], ROOT / "generated" / name, 0, seed=1, mix=MIX[name])
    assert report.transactions == sum(MIX[name].values())
    assert report.mismatches == 0, [f.what for f in report.failures]
    assert _required(report.missing) == []
    for kind, count in MIX[name].items():
        assert report.coverage[f"event {kind}"] == count


@pytest.mark.parametrize("name", sorted(MIX))
def test_a_few_hundred_requests_no_mismatch(specs, name):
    """The fast sibling of the run above (`-m "not slow"` keeps it): a twenty-fifth of the
    requests (100: fewer than the coverage-directed search starts after, which took 70 s of
    CI's 20 minutes on intel_vtd), no mismatch, exact counts per kind; the coverage is the
    slow run's."""
    mix = {kind: count // 25 for kind, count in MIX[name].items()}
    report = cosim.run(specs[name], ROOT / "generated" / name, 0, seed=1, mix=mix)
    assert report.transactions == sum(mix.values())
    assert report.mismatches == 0, [f.what for f in report.failures]
    for kind, count in mix.items():
        assert report.coverage[f"event {kind}"] == count


MIX_SMALL = {"DMA_READ": 60, "DMA_WRITE": 60, "INTERRUPT": 80}


def _mixed_run(spec, ref):
    """Every scenario of a 200-event mixed run and its stimulus, on the reference only."""
    stim = cosim.Stimulus(spec, ref, 0, 1, mix=MIX_SMALL)
    drawn_order = list(stim.kinds)
    coverage, scenarios = Counter(), []
    for _, batch in stim.batches(coverage):
        for sc in batch:
            coverage.update(stim.keys(sc, harness.run_reference(ref, sc)))
        scenarios += batch
    return stim, drawn_order, coverage, scenarios


def test_the_directed_part_of_a_mix_keeps_its_counts(specs, generated):
    """With --mix, the coverage-directed search lets a candidate take the kind of any event
    of its batch not yet filled, and swaps the kinds on a hit (an interrupt's place could
    never reach a DMA walk's fault: the slow run above missed 16 points of intel_vtd so,
    and misses one with the swap). The counts per kind stay those asked for, and the
    directed part (the last 20 events) does reorder kinds."""
    stim, drawn_order, coverage, scenarios = _mixed_run(specs["amd_iommu"], generated["amd_iommu"][0])
    assert len(scenarios) == 200 and {k: coverage[f"event {k}"] for k in MIX_SMALL} == MIX_SMALL
    assert stim.kinds[:180] == drawn_order[:180] and stim.kinds != drawn_order
    assert sorted(stim.kinds) == sorted(drawn_order)


@pytest.mark.slow
def test_a_reordered_directed_scenario_replays(specs, generated):
    """Each directed scenario of a mixed run is the same drawn alone again (`--replay`),
    from a fresh stimulus or from the one that ran (each replay searches again: ~15 s)."""
    spec, ref = specs["amd_iommu"], generated["amd_iommu"][0]
    stim, _, _, scenarios = _mixed_run(spec, ref)
    for index in (185, 199):
        assert cosim.Stimulus(spec, ref, 0, 1, mix=MIX_SMALL).scenario(index).request == scenarios[index].request
        assert stim.scenario(index).request == scenarios[index].request


@pytest.mark.parametrize("name, old, new", [
    # the DTE's I/O read and write permissions (bits 61, 62) swapped
    ("amd_iommu", 'IR [5] "DTE bit 61: I/O read permission";\n    IW [6] "DTE bit 62: I/O write permission";',
     'IR [6] "DTE bit 61: I/O read permission";\n    IW [5] "DTE bit 62: I/O write permission";'),
    # the context entry's present and fault-processing-disable bits swapped
    # (intel_vtd's model is the larger since its nested walk: with the slow runs)
    pytest.param("intel_vtd", '    P [0] "present";\n    FPD [1] "fault processing disable: qualified faults of requests',
                 '    P [1] "present";\n    FPD [0] "fault processing disable: qualified faults of requests',
                 marks=pytest.mark.slow),
])
def test_moved_table_entry_field_is_caught(specs, generated, tmp_path, name, old, new):
    """A field of the device-table or context entry moved in a copy of the spec: the
    mutant's reference disagrees with the shipped model."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    path = tmp_path / "specs" / f"{name}.vspec"
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    spec = compile_spec(path)
    out = tmp_path / "gen" / name
    emit.write(emit.render(spec), out)
    bad_ref, _ = harness.load_generated(out)
    good_ref, good_model = generated[name]
    draw = Draw(random.Random(7))
    factory = UnitScenarioFactory(specs[name])
    scs = [factory.make(draw) for _ in range(400)]
    runs = harness.run_model(good_model, good_ref, scs)
    caught = sum(bool(harness.compare(harness.run_reference(bad_ref, sc), m)) for sc, m in zip(scs, runs))
    assert caught > 0
