"""cosim --jobs and --cluster: a run as shards, reproducible, merged into one report."""
import sys
from collections import Counter
from pathlib import Path

import pytest

from codegen.cli import main
from codegen.verify import cosim, harness

ROOT = Path(__file__).resolve().parents[2]
SPEC = "x86_64_paging"


def _comparable(report: cosim.Report) -> dict:
    """The report without its timings (which differ from run to run)."""
    data = report.as_json()
    data.pop("throughput")
    return data


def _run(specs, tmp_path, walks, **kw) -> cosim.Report:
    return cosim.run(specs[SPEC], ROOT / "generated" / SPEC, walks, 7, vcd_dir=tmp_path, **kw)


def test_shards_cover_the_run_in_order_and_keep_the_random_scenarios(specs, generated):
    """Scenario i of the random part is the same whatever the number of shards."""
    ref, _ = generated[SPEC]
    one, two = cosim.Stimulus(specs[SPEC], ref, 300, 3), cosim.Stimulus(specs[SPEC], ref, 300, 3, jobs=2)
    assert two.shards() == [(0, 150), (150, 300)]
    assert cosim.Stimulus(specs[SPEC], ref, 5, 3, jobs=9).shards() == [(i, i + 1) for i in range(5)]
    for i in (0, 149, 150, 269):
        assert one.one(i) == two.one(i)


def test_replay_of_a_sharded_run_draws_the_scenario_the_shard_drew(specs, generated):
    """A scenario of a shard's coverage-directed part depends on that shard alone, and
    `scenario` (--replay with --jobs) draws it again."""
    ref, _ = generated[SPEC]
    stim = cosim.Stimulus(specs[SPEC], ref, 300, 3, jobs=2)
    coverage, drawn = Counter(), []
    for _, scenarios in stim.batches(coverage, 1):
        drawn += scenarios
        for sc in scenarios:
            coverage.update(stim.keys(sc, harness.run_reference(ref, sc)))
    assert len(drawn) == 150
    for i in (150, 284, 299):
        assert stim.scenario(i) == drawn[i - 150]


def test_jobs_give_the_same_report_each_time_and_name_jobs_in_replays(specs, tmp_path):
    a = _run(specs, tmp_path, 30, jobs=2)
    b = _run(specs, tmp_path, 30, jobs=2)
    assert _comparable(a) == _comparable(b)
    assert a.transactions == 30 and len(a.refs) == len(a.cycles) == 30
    assert a.replay_args(3)[a.replay_args(3).index("--jobs") + 1] == "2"
    single = _run(specs, tmp_path, 30)
    assert "--jobs" not in single.replay_args(3)
    # under 100 walks a shard has no directed part: every scenario is the random one
    assert a.refs == single.refs and a.coverage == single.coverage


def test_merge_adds_up_the_shards_and_keeps_the_first_failures(specs):
    parts = [cosim.Report(expected=["a", "b", "c"], transactions=2, mismatches=1, mismatched=[1], refs=[1, 2],
                          cycles=[3, 4], coverage=Counter(a=1), failures=["f0"], max_failures=2),
             cosim.Report(expected=["a", "b", "c"], transactions=3, mismatches=2, mismatched=[2, 4],
                          refs=[5, 6, 7], cycles=[8, 9, 10], coverage=Counter(a=1, b=2), failures=["f2", "f4"],
                          max_failures=2)]
    out = cosim.merge(parts, [(set(), set()), (set(), {"c"})], specs[SPEC], None, None, 5, 1)
    assert (out.transactions, out.mismatches, out.mismatched) == (5, 3, [1, 2, 4])
    assert out.refs == [1, 2, 5, 6, 7] and out.cycles == [3, 4, 8, 9, 10]
    assert out.coverage == Counter(a=2, b=2) and out.missing == ["c"] and out.failures == ["f0", "f2"]
    assert "1 not attempted" in out.coverage_note


def test_cluster_report_equals_the_jobs_report(specs, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as lc, distributed.Client(lc) as client:
        on_cluster = _run(specs, tmp_path, 30, jobs=2, cluster=client)
    assert _comparable(on_cluster) == _comparable(_run(specs, tmp_path, 30, jobs=2))


def test_cluster_without_dask_is_a_usage_error_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    assert main(["cosim", str(ROOT / "specs" / f"{SPEC}.vspec"), "--walks", "2", "--cluster", "tcp://x:1"]) == 2
    assert "virtspec[cluster]" in capsys.readouterr().err


def test_jobs_below_one_is_a_usage_error(capsys):
    assert main(["cosim", str(ROOT / "specs" / f"{SPEC}.vspec"), "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err
