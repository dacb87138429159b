"""Bench section (g), the HDL backends (codegen/bench/hdl_speed.py): on a few walks it runs
the cocotb baseline, the Verilator batch backend and cosim end to end, and every rate it
reports is positive, with no walk differing (not a timing test: `virtspec bench` measures)."""
import re

import pytest

from codegen.bench import bench, hdl_speed

pytest.importorskip("cocotb_tools.runner")


class Steps:
    def __init__(self):
        self.steps = 0

    def describe(self, *a):
        pass

    def advance(self):
        self.steps += 1


@pytest.mark.slow  # three Verilator builds (the batch testbench of two specs, the cocotb one) when not cached
@pytest.mark.xdist_group("hdl-x86_64_paging-None")
def test_section_g_runs_on_a_few_walks():
    steps = Steps()
    rows = bench.bench_hdl(20, 20, steps)
    assert steps.steps == hdl_speed.STEPS
    text = {label: result for label, _, result in rows if label}
    rates = [float(m.group(1).replace(",", "")) for m in re.finditer(r"([\d,.]+) walks/s", " ".join(r[2] for r in rows))]
    # cocotb, batch inside and with the process, whole, cosim, cosim --jobs 2
    assert len(rates) == 6 and all(r > 0 for r in rates)
    assert "0 of 20 walks differ" in " ".join(r[2] for r in rows)
    assert text["(g) cocotb + Verilator, per cycle"].endswith("walks/s")
    ratios = [float(r[2].split("x")[0].replace(",", "")) for r in rows if r[0].strip().startswith("ratio")]
    assert len(ratios) == 3 and all(r > 0 for r in ratios)  # simulation, whole backend, --jobs 2
    assert any("0 mismatches" in r[1] and "stimulus" in r[2] for r in rows)
    assert text[f"    the same, --jobs {hdl_speed.JOBS}"].endswith("0 mismatches")
