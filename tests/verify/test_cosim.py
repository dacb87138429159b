"""Co-simulation: the generated reference and MyHDL model agree on every observable."""
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Draw, Plan, Scenario, ScenarioFactory, scenarios

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


def _agree(generated, name, sc, tmp_path=None):
    ref, model = generated[name]
    a = harness.run_reference(ref, sc, model)  # as the model answers from reset (its caches)
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


# the nested specs' few run with the slow tests (CI's 20 minutes): x86_64_paging's walk goes
# through the same strategy code, and amd_sev_snp's units walk amd_npt's nested composition
# in CI (the slow run above draws all three in full)
@pytest.mark.parametrize("name", ["x86_64_paging", pytest.param("amd_npt", marks=pytest.mark.slow),
                                  pytest.param("intel_ept", marks=pytest.mark.slow)])
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
            sc = _legal_ok(factory, ref, 10 * g + h, guest_plan=Plan(g), host_leaf=h,
                           ctx_override={"NP_CTL": 1})  # NP_ENABLE: the host stage translates
            out = _agree(generated, "amd_npt", sc)
            assert (out.outcome["level"], out.outcome["host_level"]) == (g, h)


@pytest.mark.parametrize("levels,refs", [(0, 24), (1, 35)])
def test_two_dimensional_walk_reference_count(specs, generated, levels, refs):
    """4/4 levels with 4 KiB pages: 24 references; 5/5: 35 (no A/D writes needed)."""
    factory = ScenarioFactory(spec := specs["amd_npt"])
    ref, _ = generated["amd_npt"]
    la57 = levels << 12
    sc = _legal_ok(factory, ref, 7 + levels, guest_plan=Plan(1), host_leaf=1, preset_updates=True,
                   ctx_override={"CR4": la57, "HCR4": la57, "NP_CTL": 1})  # NP_ENABLE
    _agree(generated, "amd_npt", sc)  # the model, with its caches from reset
    out = harness.run_reference(ref, sc)  # the cache-free walk
    assert out.outcome["ok"] and len(out.trace) == refs
    assert all(op == 0 for op, *_ in out.trace)
    assert spec.name == "amd_npt"


# the nested specs' runs (~30 s each on 2 cores) are slow: CI injects into x86_64_paging, the
# guest stage both nested specs import, and their nested cosim runs reach every fault kind
@pytest.mark.parametrize("name", ["x86_64_paging", pytest.param("amd_npt", marks=pytest.mark.slow),
                                  pytest.param("intel_ept", marks=pytest.mark.slow)])
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
    (and test_injected_walk_fault_at_every_level's, which injects every guest fault at every
    level: in CI into x86_64_paging, the guest stage of both, the nested specs slow)."""
    report = cosim.run(specs[name], ROOT / "generated" / name, walks=200, seed=1)
    assert report.transactions == 200 and report.mismatches == 0
    assert report.cycles and min(report.cycles) > 0


def test_one_dimensional_cosim_run(specs):
    report = cosim.run(specs["x86_64_paging"], ROOT / "generated" / "x86_64_paging", walks=1000, seed=2)
    assert report.mismatches == 0 and report.missing == []


TOY = Path(__file__).resolve().parents[1] / "data" / "toy.vspec"


@pytest.mark.parametrize("fault, gone", [
    # no walk passes level 2: nothing below it, no page, no later fault is reachable
    ("fault ever when 1;", ["page level 2", "page level 1", "top fault reserved", "top fault write_protect",
                            "top fault invalid at level 1", "top fault ever at level 1"]),
    # a level-2 leaf always faults (L is the bit that makes it a leaf): no 2-MiB page
    ("fault big_page when L && level == 2;", ["page level 2", "top fault write_protect at level 2",
                                              "top fault big_page at level 1"]),
])
def test_points_past_a_fault_that_always_fires_are_unreachable(tmp_path, fault, gone):
    """--require-coverage on a spec whose walks always fault somewhere: the levels, pages
    and faults no walk can get to are unreachable, not missing (they failed the run)."""
    from codegen.frontend.pipeline import compile_spec
    from codegen.generate import emit
    text = TOY.read_text()
    path = tmp_path / "toy.vspec"
    path.write_text(text.replace("    fault invalid when !V;", "    fault invalid when !V;\n    " + fault))
    spec = compile_spec(path)
    expected, unreachable = cosim.expected_coverage(spec)
    assert set(gone) <= set(unreachable) and not set(gone) & set(expected)
    emit.write(emit.render(spec), tmp_path / "out")
    report = cosim.run(spec, tmp_path / "out", 200, seed=1)
    assert report.mismatches == 0 and report.missing == [], report.as_json()["coverage"]


def test_a_leaf_level_no_entry_can_be_a_leaf_at_is_not_planned(tmp_path):
    """`leaf page_2m when NL == 65` with a 3-bit NL: no level-2 entry is a leaf, so walks
    must not be planned to end there (the stimulus stopped with 'no entry at level 2
    either lets the walk go on or draws one of its faults'). Found by the fuzzer."""
    from codegen.frontend.pipeline import compile_spec
    from codegen.generate import emit
    text = (TOY.parent / "toy_skip.vspec").read_text()
    old = "leaf page_2m when NL == 0 page 2M;"
    assert old in text
    path = tmp_path / "toy_skip.vspec"
    path.write_text(text.replace(old, "leaf page_2m when NL == 65 page 2M;"))
    spec = compile_spec(path)
    emit.write(emit.render(spec), tmp_path / "out")
    report = cosim.run(spec, tmp_path / "out", 40, seed=1)
    assert report.mismatches == 0 and report.transactions == 40
    assert "page level 2" in report.unreachable


def test_a_leaf_condition_on_a_wide_field_is_drawn(tmp_path):
    """`leaf e when NL == 7` with NL 11 bits wide (a fuzzer's mutation of toy_page_shift):
    table building tries the constants a condition compares a wide field with, so a leaf
    is drawn; random draws alone found one value in 2048 and cosim stopped with 'cannot
    build stimulus'."""
    text = (Path(__file__).resolve().parents[1] / "data" / "toy_page_shift.vspec").read_text()
    assert "NL [11:9];" in text
    path = tmp_path / "wide.vspec"
    path.write_text(text.replace("NL [11:9];", "NL [11:1];"))
    spec = compile_spec(path)
    out = tmp_path / "out"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, 200, seed=1)
    assert report.mismatches == 0, report.as_json()
    assert report.transactions == 200


def test_walk_faults_that_read_no_entry_field_are_drawn_and_judged(tmp_path):
    """Issue 14: a walk fault that reads no entry field (a register check, a check of the
    input) must not break stimulus. Such a fault holds or not for the whole walk, so it
    fires at the first entry it applies to: at the start level, never below it, which
    coverage reports as unreachable, not missing (tests/data/toy_fieldless_fault.vspec)."""
    spec = compile_spec(TOY.parent / "toy_fieldless_fault.vspec")
    emit.write(emit.render(spec), tmp_path / "g")
    report = cosim.run(spec, tmp_path / "g", walks=300, seed=2)
    assert report.mismatches == 0 and report.missing == []
    assert {"top fault stopped at level 1", "top fault odd_half at level 1"} <= set(report.unreachable)
    assert {"top fault stopped at level 2", "top fault odd_half at level 2", "top fault upper at level 1"} \
        <= set(report.coverage)


def test_a_shrunk_request_keeps_one_kind_of_an_exclusive_access(tmp_path, monkeypatch):
    """Shrinking clears request values one by one while the mismatch stays; it once
    cleared read, write and fetch alike, leaving an access `access one of read, write,
    fetch` forbids (tests/data/toy_two_stage.vspec). A model that always differs keeps
    every trial, so only the groups stop it."""
    spec = compile_spec(Path(__file__).resolve().parents[1] / "data" / "toy_two_stage.vspec")
    emit.write(emit.render(spec), tmp_path)
    ref, _ = harness.load_generated(tmp_path)
    monkeypatch.setattr(cosim, "_mismatch", lambda *args, **kw: ["differs"])
    monkeypatch.setattr(cosim, "_run_model", lambda model, ref_, scs, *args, **kw: [harness.run_reference(ref_, scs[0])])
    request = {"va": 0x1000, "read": 0, "write": 1, "fetch": 0, "user": 1, "VSATP": 1, "HATP": 1}
    found = cosim.shrink(ref, None, Scenario(request, {}, 1), 0, None, None, legal=cosim._legal_request(spec))
    assert found.scenario.request == {**request, "va": 0, "user": 0, "VSATP": 0, "HATP": 0}
