"""Co-simulation: the generated reference and MyHDL model agree on every observable."""
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Draw, Plan, ScenarioFactory, scenarios

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


def _agree(generated, name, sc, tmp_path=None):
    ref, model = generated[name]
    a = harness.run_reference(ref, sc)
    b = harness.run_model(model, ref, [sc])[0]
    diff = harness.compare(a, b)
    if diff and tmp_path is not None:
        harness.run_model(model, ref, [sc], vcd=tmp_path / "mismatch.vcd")
    assert not diff, "\n".join(diff) + "\n" + harness.describe(sc)
    return a


def _hypothesis_scenarios_agree(specs, generated, name, tmp_path_factory, config):
    @config
    @given(scenarios(specs[name]))
    def check(sc):
        _agree(generated, name, sc, tmp_path_factory.mktemp("vcd"))

    check()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["x86_64_paging", "amd_npt", "intel_ept"])
def test_hypothesis_scenarios_agree(specs, generated, name, tmp_path_factory):
    _hypothesis_scenarios_agree(specs, generated, name, tmp_path_factory, SETTINGS)


@pytest.mark.parametrize("name", ["x86_64_paging", "amd_npt", "intel_ept"])
def test_a_few_hypothesis_scenarios_agree(specs, generated, name, tmp_path_factory):
    """The fast sibling of the test above (`-m "not slow"` keeps it): 8 examples, not 30
    (each one simulates the MyHDL model)."""
    _hypothesis_scenarios_agree(specs, generated, name, tmp_path_factory, settings(SETTINGS, max_examples=8))


def _legal_ok(factory, ref, seed, **kw):
    draw = Draw(random.Random(seed))
    for _ in range(200):
        sc = factory.make(draw, fault_percent=0, legal=True, **kw)
        if harness.run_reference(ref, sc).outcome["ok"]:
            return sc
    raise AssertionError(f"no successful walk drawn for {kw}")


def test_every_page_size_mix_in_both_dimensions(specs, generated):
    spec = specs["amd_npt"]
    factory = ScenarioFactory(spec)
    ref, _ = generated["amd_npt"]
    for g in (1, 2, 3):
        for h in (1, 2, 3):
            sc = _legal_ok(factory, ref, 10 * g + h, guest_plan=Plan(g), host_leaf=h)
            out = _agree(generated, "amd_npt", sc)
            assert (out.outcome["level"], out.outcome["host_level"]) == (g, h)


@pytest.mark.parametrize("levels,refs", [(0, 24), (1, 35)])
def test_two_dimensional_walk_reference_count(specs, generated, levels, refs):
    """4/4 levels with 4 KiB pages: 24 references; 5/5: 35 (no A/D writes needed)."""
    factory = ScenarioFactory(spec := specs["amd_npt"])
    ref, _ = generated["amd_npt"]
    la57 = levels << 12
    sc = _legal_ok(factory, ref, 7 + levels, guest_plan=Plan(1), host_leaf=1, preset_updates=True,
                   ctx_override={"CR4": la57, "HCR4": la57})
    out = _agree(generated, "amd_npt", sc)
    assert out.outcome["ok"] and len(out.trace) == refs
    assert all(op == 0 for op, *_ in out.trace)
    assert spec.name == "amd_npt"


@pytest.mark.parametrize("name", ["x86_64_paging", "amd_npt", "intel_ept"])
def test_injected_walk_fault_at_every_level(specs, generated, name):
    """Each walk fault of the main stage, injected at each level, is what both models report."""
    spec = specs[name]
    factory = ScenarioFactory(spec)
    ref, _ = generated[name]
    regime = factory.main
    regime_stage = "guest" if factory.nested else "top"
    seen = set()
    for i, rule in enumerate(regime.faults):
        for lv in regime.levels:
            la57 = {"CR4": (1 << 12) if lv.number == 5 else 0}
            draw = Draw(random.Random(100 * i + lv.number))
            for _ in range(100):
                sc = factory.make(draw, guest_plan=Plan(1, rule.name, lv.number), legal=True, fault_percent=0,
                                  ctx_override=la57)
                out = harness.run_reference(ref, sc).outcome
                if out.get("stage") == regime_stage and out["fault"] == rule.name and out["level"] == lv.number:
                    _agree(generated, name, sc)
                    seen.add((rule.name, lv.number))
                    break
    assert seen == {(r.name, lv.number) for r in regime.faults for lv in regime.levels}


@pytest.mark.slow
def test_cosim_run_covers_everything_with_no_mismatch(specs):
    """The issue's acceptance run, at CI size: 0 mismatches, full coverage."""
    report = cosim.run(specs["amd_npt"], ROOT / "generated" / "amd_npt", walks=2000, seed=1)
    assert report.mismatches == 0
    assert report.missing == []
    assert "host fault smep" in report.unreachable  # nested accesses are user accesses
    assert max(report.refs) >= 24 and report.cycles and min(report.cycles) > 0


@pytest.mark.slow
def test_ept_cosim_run_covers_everything_with_no_mismatch(specs):
    """Issue 3's acceptance run, at CI size: every misconfiguration and violation kind at
    every level of both dimensions, 0 mismatches."""
    report = cosim.run(specs["intel_ept"], ROOT / "generated" / "intel_ept", walks=2000, seed=1)
    assert report.mismatches == 0
    assert report.missing == []
    for kind in ("misconfig_write", "misconfig_exec_only", "misconfig_reserved", "misconfig_memtype",
                 "not_present", "read_violation", "write_violation", "fetch_violation"):
        assert f"host fault {kind}" in report.coverage


@pytest.mark.parametrize("name", ["amd_npt", "intel_ept"])
def test_nested_cosim_run_no_mismatch(specs, name):
    """The fast sibling of the two runs above (`-m "not slow"` keeps it): 200 nested
    walks through the same cosim.run, no mismatch; the full coverage is the slow runs'
    (test_injected_walk_fault_at_every_level covers every fault at every level here)."""
    report = cosim.run(specs[name], ROOT / "generated" / name, walks=200, seed=1)
    assert report.transactions == 200 and report.mismatches == 0
    assert report.cycles and min(report.cycles) > 0


def test_one_dimensional_cosim_run(specs):
    report = cosim.run(specs["x86_64_paging"], ROOT / "generated" / "x86_64_paging", walks=1000, seed=2)
    assert report.mismatches == 0 and report.missing == []
