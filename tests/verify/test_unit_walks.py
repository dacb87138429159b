"""Walks inside units, structures reached through earlier steps, conditional stores,
and walks whose pointers name their next level (level skipping): generated from toy
specs that name no architecture, checked by hand and co-simulated."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness

DATA = Path(__file__).resolve().parents[1] / "data"


def _generate(tmp_path: Path, name: str):
    spec = compile_spec(DATA / f"{name}.vspec")
    out = tmp_path / name
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


# ---- next level: tests/data/toy_skip.vspec ------------------------------------------------
ROOT, L2, L1, PAGE = 0x10000, 0x20000, 0x30000, 0x4000000
P, W = 1, 2


def nl(level: int) -> int:
    return level << 9


def walk(ref, va: int, mem: dict, levels: int = 3, write: int = 0):
    trace: list = []
    out = ref.translate(dict(mem), {"va": va, "write": write, "ROOT": ROOT | levels}, trace)
    return out, [addr for _, addr, _, _ in trace]


@pytest.fixture(scope="module")
def skip(tmp_path_factory):
    return _generate(tmp_path_factory.mktemp("skip"), "toy_skip")


def test_pointer_to_the_level_below_walks_every_level(skip):
    _, _, (ref, _) = skip
    va = (1 << 30) | (2 << 21) | (3 << 12) | 0x45
    mem = {ROOT + 8 * 1: L2 | nl(2) | P | W, L2 + 8 * 2: L1 | nl(1) | P | W, L1 + 8 * 3: PAGE | P | W}
    out, reads = walk(ref, va, mem)
    assert out == {"ok": True, "pa": PAGE | 0x45, "level": 1}
    assert reads == [ROOT + 8, L2 + 16, L1 + 24]


def test_a_skipped_level_is_not_read_and_its_index_bits_must_be_zero(skip):
    _, _, (ref, _) = skip
    mem = {ROOT + 8 * 1: L1 | nl(1) | P | W, L1 + 8 * 3: PAGE | P | W}
    va = (1 << 30) | (0 << 21) | (3 << 12) | 0x45
    out, reads = walk(ref, va, mem)
    assert out == {"ok": True, "pa": PAGE | 0x45, "level": 1}
    assert reads == [ROOT + 8, L1 + 24]  # level 2 skipped
    out, reads = walk(ref, va | (1 << 21), mem)  # an index bit of the skipped level
    assert out["ok"] is False and out["fault"] == "skipped_bits" and out["level"] == 3
    assert reads == [ROOT + 8]


def test_a_next_level_not_below_is_a_fault(skip):
    _, _, (ref, _) = skip
    mem = {ROOT + 8: L2 | nl(3) | P | W}
    out, _ = walk(ref, 1 << 30, mem)
    assert out["ok"] is False and out["fault"] == "bad_next" and out["level"] == 3


def test_next_level_zero_is_a_large_page(skip):
    _, _, (ref, _) = skip
    mem = {ROOT + 8: (1 << 30) * 5 | P | W}
    out, _ = walk(ref, (1 << 30) | 0x12345, mem)
    assert out == {"ok": True, "pa": ((1 << 30) * 5) | 0x12345, "level": 3}


def test_skipping_cosimulates_with_full_coverage(skip):
    spec, out, _ = skip
    report = cosim.run(spec, out, 1500, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert "top fault skipped_bits at level 3" in report.coverage
    assert "top fault skipped_bits at level 2" not in cosim.expected_coverage(spec)[0]  # nothing below to skip


# ---- a walk inside a unit: tests/data/toy_walk_unit.vspec ----------------------------------
DEVTAB, LOG, PT = 0x100000, 0x200000, 0x300000


@pytest.fixture(scope="module")
def walking(tmp_path_factory):
    return _generate(tmp_path_factory.mktemp("walking"), "toy_walk_unit")


def decide(ref, mem: dict, **event):
    request = {"kind": 1, "dev": 3, "addr": 0, "write": 0, "DEVTAB": DEVTAB, "LOG": LOG | (2 << 4)} | event
    mem, trace = dict(mem), []
    return ref.decide(mem, request, trace), trace, mem


def test_translated_through_the_device_entry(walking):
    _, _, (ref, _) = walking
    dte = DEVTAB + 3 * 16
    mem = {dte: PT | 0b11, PT + 8 * 1: 0x500000 | 0b11, 0x500000 + 8 * 2: 0x600000 | 0b11}
    out, trace, after = decide(ref, mem, addr=(1 << 21) | (2 << 12) | 0x77)
    assert out == {"exit": True, "rule": "translated", "fields": {"pa": 0x600077, "code": 0, "where": 0}}
    # the device entry word, the walk (top, bottom), the accessed bits; no log write
    assert [(op, a) for op, a, _, _ in trace] == [(0, dte), (0, PT + 8), (0, 0x500008 + 8), (1, PT + 8), (1, 0x500010)]
    assert LOG + 32 not in after


def test_a_page_fault_is_logged_at_the_tail(walking):
    _, _, (ref, _) = walking
    dte = DEVTAB + 3 * 16
    mem = {dte: PT | 0b11}  # the top entry is not valid
    out, trace, after = decide(ref, mem, addr=0x1234)
    assert out["rule"] == "page_fault" and out["fields"]["code"] == 2 + 1  # fault 1: invalid
    assert after[LOG + 2 * 16] == 3 and after[LOG + 2 * 16 + 8] == 0x1234
    assert trace[-2:] == [(1, LOG + 32, 8, 3), (1, LOG + 40, 8, 0x1234)]


def test_no_walk_for_an_invalid_device_and_pass_through(walking):
    _, _, (ref, _) = walking
    out, trace, _ = decide(ref, {}, addr=0x99)
    assert out["rule"] == "invalid_device" and len([t for t in trace if t[0] == 0]) == 1
    out, trace, _ = decide(ref, {DEVTAB + 48: 0b01}, addr=0x99)
    assert out == {"exit": True, "rule": "passthrough", "fields": {"pa": 0x99, "code": 0, "where": 0}}
    assert trace == [(0, DEVTAB + 48, 8, 1)]


def test_walk_unit_cosimulates_with_full_coverage(walking):
    spec, out, _ = walking
    report = cosim.run(spec, out, 1500, seed=2)
    assert report.mismatches == 0 and report.missing == []
    assert "walk io page level 2" in report.coverage and "walk io fault reserved at level 1" in report.coverage


@pytest.mark.parametrize("name", ["toy_skip", "toy_walk_unit"])
def test_models_convert_and_compile(tmp_path, name):
    _, _, (_, model) = _generate(tmp_path, name)
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files)
        assert ok, messages
    files = hdl.convert(model, "VHDL", tmp_path / "vhd")
    if shutil.which("ghdl"):
        ok, messages = hdl.analyse_vhdl(files)
        assert ok, messages


# ---- a page size read from the leaf entry: tests/data/toy_page_shift.vspec ------------------
def test_page_size_from_the_entry(tmp_path):
    spec, out, (ref, model) = _generate(tmp_path, "toy_page_shift")
    root, va = 0x10000, (1 << 30) | 0x0234_5678
    for ones, shift in ((0b000, 13), (0b001, 14), (0b011, 15), (0b111, 16)):
        # a level-3 leaf (next level 7) whose address field ends in `ones`: a 2**shift page
        leaf = (0xAB << 28) | (ones << 12) | (7 << 9) | 1
        trace: list = []
        got = ref.translate({root + 8: leaf}, {"va": va, "write": 0, "ROOT": root}, trace)
        frame = leaf & ((1 << 40) - 1) & ~0xFFF
        assert got == {"ok": True, "pa": (frame & ~((1 << shift) - 1)) | (va & ((1 << shift) - 1)), "level": 3}
    report = cosim.run(spec, out, 600, seed=3)
    assert report.mismatches == 0 and report.missing == []


def test_page_size_from_the_entry_with_a_shifted_frame(tmp_path):
    """The same walk with page numbers stored shifted (`frame ADDR << 12`, ADDR [37:10]):
    each page size keeps the frame bits above it, in both models."""
    text = (DATA / "toy_page_shift.vspec").read_text()
    for old, new in (("    ADDR [39:12];\n    reserved [63:40];", "    ADDR [37:10];\n    reserved [63:38];"),
                     ("pointer ADDR;", "pointer ADDR << 12;"), ("frame ADDR;", "frame ADDR << 12;"),
                     ("NL [11:9]", "NL [9:7]")):
        assert text.count(old) == 1
        text = text.replace(old, new)
    (tmp_path / "shifted.vspec").write_text(text)
    spec = compile_spec(tmp_path / "shifted.vspec")
    out = tmp_path / "shifted"
    emit.write(emit.render(spec), out)
    ref, _ = harness.load_generated(out)
    root, va = 0x10000, (1 << 30) | 0x0234_5678
    for ones, shift in ((0b000, 13), (0b011, 15)):
        frame = (0xAB << 28) | (ones << 12)
        leaf = ((frame >> 12) << 10) | (7 << 7) | 1
        got = ref.translate({root + 8: leaf}, {"va": va, "write": 0, "ROOT": root}, [])
        assert got == {"ok": True, "pa": (frame & ~((1 << shift) - 1)) | (va & ((1 << shift) - 1)), "level": 3}
    report = cosim.run(spec, out, 600, seed=3)
    assert report.mismatches == 0 and report.missing == []


def test_a_unit_walk_that_skips_levels_cosimulates(tmp_path):
    """The level-skipping regime walked from a unit: skips are coverage points, and a
    device entry with a start level that is not a level of the regime breaks nothing."""
    spec, out, (ref, _) = _generate(tmp_path, "toy_skip_unit")
    report = cosim.run(spec, out, 1500, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert report.coverage["walk io skips from level 3 to 1"] > 0
    trace: list = []
    got = ref.decide({0x1000: 0x5000 | (6 << 1) | 1}, {"dev": 0, "addr": 0, "write": 0, "TABLE": 0x1000}, trace)
    assert got["exit"] and trace[0] == (0, 0x1000, 8, 0x5000 | (6 << 1) | 1)
