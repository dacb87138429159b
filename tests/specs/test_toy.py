"""Genericity: a spec for an architecture no template knows generates working,
cross-checked models with no change to codegen/ (tests/data/toy.vspec, from the README)."""
import shutil
from pathlib import Path

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim
from codegen.verify.harness import load_generated

TOY = Path(__file__).resolve().parents[1] / "data" / "toy.vspec"


def test_toy_spec_generates_and_cosimulates(tmp_path):
    spec = compile_spec(TOY)
    out = tmp_path / "toy"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks=300, seed=4)
    assert report.mismatches == 0 and report.missing == []
    _, model = load_generated(out)
    ok, messages = hdl.compile_verilog(hdl.convert(model, "Verilog", tmp_path / "hdl"))
    assert ok, messages


# ---- entries that hold addresses by a rule: tests/data/toy_frame_terms.vspec ---------------
FRAME_TERMS = TOY.parent / "toy_frame_terms.vspec"
V, L, W, A, D = 1, 2, 4, 0x40, 0x80


def ppn(addr: int) -> int:
    """A pte's PPN field: address bits 55:12 in entry bits 53:10 (the toy's `PPN << 12`)."""
    return (addr >> 12) << 10


def test_frame_terms_toy_reference_by_hand(tmp_path):
    """Golden walks: a shifted pointer and frame (PPN << 12), and a 2-MiB frame split across
    ADDR (address bits 31:21 at their own place) and ADDR_HI (bits 39:32 in entry 20:13)."""
    spec = compile_spec(FRAME_TERMS)
    out = tmp_path / "frame_terms"
    emit.write(emit.render(spec), out)
    ref, _ = load_generated(out)
    root, l2, l1 = 0x10000, 0x0081_2345_6789_A000, 0x3000_0000
    va = (0x1A << 30) | (0x0B5 << 21) | (0x123 << 12) | 0x456
    top_at, mid_at, low_at = root + 8 * 0x1A, l2 + 8 * 0xB5, l1 + 8 * 0x123
    assert (top_at, mid_at, low_at) == (0x100D0, 0x0081_2345_6789_A5A8, 0x3000_0918)
    assert ppn(l2) == 0x20_48D1_59E2_6800  # entry bits 53:10 = 0x812_3456_789A
    frame = 0x00F0_0000_0ABC_D000
    mem = {top_at: ppn(l2) | V | A, mid_at: ppn(l1) | V | W | A, low_at: ppn(frame) | V | W | A | D}
    trace: list = []
    got = ref.translate(dict(mem), {"va": va, "write": 0, "ROOT": root >> 12}, trace)
    assert got == {"ok": True, "pa": 0x00F0_0000_0ABC_D456, "level": 1}
    assert [a for _, a, _, _ in trace] == [top_at, mid_at, low_at]
    # a 2-MiB leaf at physical 0x7B_C020_0000: ADDR = 0x601 (bits 31:21), ADDR_HI = 0x7B
    big = 0xC020_0000 | (0x7B << 13) | L | V | W | A | D
    assert big == 0xC02F_60C7
    got = ref.translate({top_at: ppn(l2) | V | W | A, mid_at: big}, {"va": va, "write": 1, "ROOT": root >> 12}, [])
    assert got == {"ok": True, "pa": 0x7B_C020_0000 | (va & 0x1F_FFFF), "level": 2}
    assert got["pa"] == 0x7B_C032_3456
    # bit 8 of a 2-MiB leaf is reserved; a write through a read-only leaf is refused
    got = ref.translate({top_at: ppn(l2) | V | A, mid_at: big | 0x100}, {"va": va, "write": 0, "ROOT": 0x10}, [])
    assert got["ok"] is False and (got["fault"], got["level"]) == ("reserved", 2)
    got = ref.translate({top_at: ppn(l2) | V | W | A, mid_at: big & ~W}, {"va": va, "write": 1, "ROOT": 0x10}, [])
    assert got["ok"] is False and got["fault"] == "write_protect"
    # accessed and dirty updates write the whole 8-byte entry back
    mem = {top_at: ppn(l2) | V | W, mid_at: ppn(l1) | V | W, low_at: ppn(frame) | V | W}
    trace = []
    ref.translate(mem, {"va": va, "write": 1, "ROOT": 0x10}, trace)
    assert trace[3:] == [(1, top_at, 8, ppn(l2) | V | W | A), (1, mid_at, 8, ppn(l1) | V | W | A),
                         (1, low_at, 8, ppn(frame) | V | W | A | D)]


def test_frame_terms_toy_cosimulates_and_converts(tmp_path):
    spec = compile_spec(FRAME_TERMS)
    out = tmp_path / "frame_terms"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks=600, seed=3)
    assert report.mismatches == 0 and report.missing == []
    _, model = load_generated(out)
    ok, messages = hdl.compile_verilog(hdl.convert(model, "Verilog", tmp_path / "v"))
    assert ok, messages
    files = hdl.convert(model, "VHDL", tmp_path / "vhd")
    if shutil.which("ghdl"):
        ok, messages = hdl.analyse_vhdl(files)
        assert ok, messages
