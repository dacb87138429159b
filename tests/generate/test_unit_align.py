"""Structures at a 4-byte-aligned base (`align 4`, notes/unit-language.md "Structures") in
both generated models, on the toy tests/data/toy_align4.vspec: a 24-byte structure
(head 32 bits at 0, mid 32 at 4, wide 64 at 8, tail 16 at 10h) at TAB.BASE + idx x 4.

Memory below: aligned words 1008h = 4444_3333_2222_1111h, 1010h = 8888_7777_6666_5555h,
1018h = CCCC_BBBB_AAAA_9999h, 1020h = 0000_0000_EEEE_DDDDh (TAB.BASE = 1, so the table is
at 1000h). By hand, little-endian:
- idx 2, base 1008h (a multiple of 8): head = bytes 1008h-100Bh = 2222_1111h, mid = 4444_3333h,
  wide = the word at 1010h, tail = bytes 1018h-1019h = 9999h; three aligned words read;
- idx 3, base 100Ch (4 bytes past one): head = bytes 100Ch-100Fh = 4444_3333h (the high half
  of 1008h), mid = 6666_5555h (the low half of 1010h), wide = bytes 1014h-101Bh = 8888_7777h
  | AAAA_9999h << 32 (straddling 1010h and 1018h), tail = bytes 101Ch-101Dh = BBBBh; the
  four aligned words 1008h-1020h read once each, ascending.
"""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Scenario

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_align4.vspec"
MEM = {0x1008: 0x4444_3333_2222_1111, 0x1010: 0x8888_7777_6666_5555, 0x1018: 0xCCCC_BBBB_AAAA_9999,
       0x1020: 0x0000_0000_EEEE_DDDD}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = compile_spec(TOY)
    out = tmp_path_factory.mktemp("toy_align4") / "toy_align4"
    emit.write(emit.render(spec), out)
    return spec, out, *harness.load_generated(out)


def test_align_is_in_the_ir(toy):
    spec = toy[0]
    assert spec.top.structure("cap").align == 4
    plain = compile_spec(Path(__file__).resolve().parents[1] / "data" / "toy_unit.vspec")
    assert {st.align for st in plain.top.structures} == {8}


@pytest.mark.parametrize("idx, sel, value, reads", [
    (2, 0, 0x4444_3333_2222_1111, [0x1008, 0x1010, 0x1018]),
    (2, 1, 0x8888_7777_6666_5555, [0x1008, 0x1010, 0x1018]),
    (2, 2, 0x9999, [0x1008, 0x1010, 0x1018]),
    (3, 0, 0x6666_5555_4444_3333, [0x1008, 0x1010, 0x1018, 0x1020]),
    (3, 1, 0xAAAA_9999_8888_7777, [0x1008, 0x1010, 0x1018, 0x1020]),
    (3, 2, 0xBBBB, [0x1008, 0x1010, 0x1018, 0x1020]),
])
def test_reference_and_model_read_the_straddled_words(toy, idx, sel, value, reads):
    _spec, _out, ref, mod = toy
    sc = Scenario({"idx": idx, "sel": sel, "TAB": 0x1000}, dict(MEM), 1)
    want = harness.run_reference(ref, sc)
    assert want.outcome == {"exit": True, "rule": "abc"[sel], "fields": {"v": value}}
    assert [(op, a) for op, a, _s, _v in want.trace] == [(0, a) for a in reads]
    got = harness.run_model(mod, ref, [sc])[0]
    assert got.outcome == want.outcome and got.trace == want.trace


def test_when_false_reads_nothing(toy):
    _spec, _out, ref, mod = toy
    sc = Scenario({"idx": 3, "sel": 3, "TAB": 0x1000}, dict(MEM), 1)
    want = harness.run_reference(ref, sc)
    assert want.outcome == {"exit": False} and want.trace == []
    got = harness.run_model(mod, ref, [sc])[0]
    assert got.outcome == want.outcome and got.trace == []


def test_drawn_events_agree(toy):
    """The stimulus places the structure's words across the aligned words (odd idx too)."""
    spec, out, _ref, _mod = toy
    report = cosim.run(spec, out, walks=150, seed=3)
    assert report.mismatches == 0 and report.transactions == 150
    assert not report.missing


def test_converted_verilog_and_vhdl_compile(toy, tmp_path):
    """The registers take the halves by constant slices (`w[31:0] <= m_rdata[63:32]`),
    which both converters spell and both compilers accept."""
    if shutil.which("iverilog") is None or shutil.which("ghdl") is None:
        pytest.skip("iverilog or ghdl is not installed (CI installs both)")
    ok, messages = hdl.compile_verilog(hdl.convert(toy[3], "Verilog", tmp_path / "v"))
    assert ok, messages
    ok, messages = hdl.analyse_vhdl(hdl.convert(toy[3], "VHDL", tmp_path / "vhd"))
    assert ok, messages
