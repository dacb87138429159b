"""Faults that read fields only one format has (issue 14 item 7): tests/data/toy_format_fault.vspec,
`fault misaligned at leaf big when LOW != 0` and `fault limited at table dir when LIMIT`."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim
from codegen.verify.harness import load_generated

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_format_fault.vspec"
V, W, L, A, D, LIMIT = 0x1, 0x2, 0x4, 0x20, 0x40, 0x200
ROOT, L2, L1 = 0x10000, 0x20000, 0x30000
VA = (0x1A << 30) | (0x0B5 << 21) | (0x123 << 12) | 0x456
TOP_AT, MID_AT, LOW_AT = ROOT + 8 * 0x1A, L2 + 8 * 0xB5, L1 + 8 * 0x123


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp("format_fault")
    emit.write(emit.render(compile_spec(TOY)), out)
    return load_generated(out)[0]


def walk(ref, mem: dict, write: int = 0) -> tuple[dict, list]:
    trace: list = []
    return ref.translate(dict(mem), {"va": VA, "write": write, "ROOT": ROOT}, trace), trace


def test_the_addresses_by_hand():
    """Toy manual 2: 8-byte entries, indexes va[38:30], va[29:21], va[20:12]."""
    assert (TOP_AT, MID_AT, LOW_AT) == (0x100D0, 0x205A8, 0x30918)


def test_a_misaligned_big_page_is_its_own_fault(ref):
    """Toy manual 2.2: a 2-MiB leaf (`big`) with frame bits 20:12 (LOW) not 0 faults as
    `misaligned` (kind 3: invalid, limited, misaligned, reserved, write_protect), at level 2,
    before the reserved-bit fault it is listed before; with LOW 0 it translates."""
    big = 0x4000_0000 | L | V | A
    got, trace = walk(ref, {TOP_AT: L2 | V | A, MID_AT: big | 0x1000})
    assert got["ok"] is False and (got["fault"], got["level"]) == ("misaligned", 2)
    assert got["fields"]["code"] == 3 and [a for _, a, _, _ in trace] == [TOP_AT, MID_AT]
    got, _ = walk(ref, {TOP_AT: L2 | V | A, MID_AT: big | 0x1000 | 1 << 40})
    assert got["fault"] == "misaligned"
    got, _ = walk(ref, {TOP_AT: L2 | V | A, MID_AT: big | 1 << 40})
    assert got["fault"] == "reserved"
    got, _ = walk(ref, {TOP_AT: L2 | V | A, MID_AT: big})
    assert got == {"ok": True, "pa": 0x4012_3456, "level": 2}


def test_a_per_format_fault_reads_nothing_of_the_other_formats(ref):
    """Bits 20:12 of a 4-KiB `page` leaf are its frame, not LOW: no `misaligned` there; bit 9
    of a `big` leaf is not LIMIT (only `dir` pointers have it): no `limited` there."""
    got, _ = walk(ref, {TOP_AT: L2 | V | A, MID_AT: L1 | V | A, LOW_AT: 0x5_5000 | V | A})
    assert got == {"ok": True, "pa": 0x5_5456, "level": 1}
    got, _ = walk(ref, {TOP_AT: L2 | V | A, MID_AT: 0x4000_0000 | LIMIT | L | V | A})
    assert got == {"ok": True, "pa": 0x4012_3456, "level": 2}


def test_a_limited_pointer_faults_at_its_level(ref):
    """Toy manual 2.1: a `dir` pointer with LIMIT set faults as `limited` (kind 2) at its
    level, with no reference below it."""
    got, trace = walk(ref, {TOP_AT: L2 | LIMIT | V | A})
    assert (got["fault"], got["level"], got["fields"]["code"]) == ("limited", 3, 2)
    assert [a for _, a, _, _ in trace] == [TOP_AT]
    got, trace = walk(ref, {TOP_AT: L2 | V | A, MID_AT: L1 | LIMIT | V | A})
    assert (got["fault"], got["level"]) == ("limited", 2) and len(trace) == 2


def test_the_toy_cosimulates_covers_and_converts(tmp_path):
    spec = compile_spec(TOY)
    out = tmp_path / "format_fault"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks=300, seed=2)
    assert report.mismatches == 0 and report.missing == [] and report.unreachable == []
    assert "top fault misaligned at level 2" in report.coverage and "top fault limited at level 3" in report.coverage
    _, model = load_generated(out)
    ok, messages = hdl.compile_verilog(hdl.convert(model, "Verilog", tmp_path / "v"))
    assert ok, messages


@pytest.mark.slow
def test_the_toy_cosimulates_2000_walks_on_two_seeds(tmp_path):
    spec = compile_spec(TOY)
    emit.write(emit.render(spec), tmp_path)
    for seed in (1, 2):
        report = cosim.run(spec, tmp_path, walks=2000, seed=seed)
        assert report.mismatches == 0 and report.missing == []
