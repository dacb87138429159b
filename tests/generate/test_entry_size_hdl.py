"""Models of 4-, 16- and 32-byte entries (and of a 4-byte guest over an 8-byte host)
convert to Verilog and VHDL that compile: the data ports are as wide as the widest
entry, entry registers as wide as their regime's entry, and m_size says the size."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import harness

DATA = Path(__file__).resolve().parents[1] / "data"
WIDTHS = {"toy_entry4": 32, "toy_entry16": 128, "toy_entry32": 256, "toy_nested_entry": 64, "toy_nested_entry16": 128,
          "toy_walk_unit16": 128}


def _model(tmp_path: Path, name: str):
    spec = compile_spec(DATA / f"{name}.vspec")
    out = tmp_path / "gen" / spec.name
    emit.write(emit.render(spec), out)
    return harness.load_generated(out)[1]


@pytest.mark.parametrize("name,width", WIDTHS.items())
def test_data_ports_are_as_wide_as_the_widest_entry(tmp_path, name, width):
    p = _model(tmp_path, name).ports()
    assert len(p["m_rdata"]) == len(p["m_wdata"]) == width
    assert len(p["m_size"]) == 3


@pytest.mark.parametrize("name", WIDTHS)
def test_verilog_of_every_entry_size_compiles(tmp_path, name):
    files = hdl.convert(_model(tmp_path, name), "Verilog", tmp_path / "v")
    text = files[0].read_text()
    assert "m_size" in text
    ok, messages = hdl.compile_verilog(files)
    assert ok, messages
    if hdl.verilator() is not None:
        ok, messages = hdl.lint_verilog(files)
        assert ok, messages


@pytest.mark.parametrize("name", WIDTHS)
def test_vhdl_of_every_entry_size_analyses(tmp_path, name):
    files = hdl.convert(_model(tmp_path, name), "VHDL", tmp_path / "vhd")
    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed (CI installs it)")
    ok, messages = hdl.analyse_vhdl(files)
    assert ok, messages
