"""A unit whose composition's guest stage is an instance that adds a fault on a read error
to a regime without one (tests/data/toy_instance_error.vspec; docs/language.md sections 4
"Reuse without copying" and 10): the added fault comes first, the base's fault kinds one
place later in what the record compares `fault` with, and the record field the instance
adds reads `read_address`, the host-physical address the guest entry was read at. The
host regime's record reads it too, in the composition and in the unit's walk of the host
regime on its own. Worked out by hand from the toy manual; both models co-simulated."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from tests.verify.test_unit_nested_error import A, G1, G2, GROOT, H1, HROOT, MEM, READS, VA, V, W

DATA = Path(__file__).resolve().parents[1] / "data"
# gst_err's fault kinds: the added read_error first, then gst's walk faults, its check and
# its input fault (docs/language.md 4, "The order of a walk"): gst numbers them 1..4
READ_ERROR, INVALID, RESERVED, WRITE_PROTECT, TOO_HIGH = 1, 2, 3, 4, 5


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = compile_spec(DATA / "toy_instance_error.vspec")
    out = tmp_path_factory.mktemp("instance_error") / "toy_instance_error"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


def decide(ref, errors=(), mem=MEM, va=VA, host=0):
    trace: list = []
    detail: dict = {}
    out = ref.decide(dict(mem), {"va": va, "write": 0, "host": host, "GROOT": GROOT, "HROOT": HROOT}, trace,
                     detail, errors=frozenset(errors))
    return out, trace, detail


def where(kind, lvl, present, rsv) -> int:
    """The guest_fault exit's `where` (toy manual 9.13): kind | lvl << 4 | present << 6 | rsv << 7."""
    return kind | lvl << 4 | present << 6 | rsv << 7


def test_the_instance_translates_as_its_base(toy):
    _, _, (ref, _) = toy
    out, trace, _ = decide(ref)
    assert out == {"exit": True, "rule": "translated", "fields": {"code": 0, "where": 0, "pa": 0x20_3123}}
    assert trace == [(0, a, 8, MEM[a]) for a in READS]


@pytest.mark.parametrize("entry, level, reads", [(G2, 2, 2), (G1, 1, 5)])
def test_a_guest_entry_whose_read_fails_reports_the_host_physical_address_it_was_read_at(toy, entry, level, reads):
    """The guest entries of gpa 0x1000 and 0x2028 are read at host-physical 0x20_1000 and
    0x20_2028 (test_unit_nested_error's tables); their read fails: the added read_error,
    kind 1, at that guest level; the added field `at` is that host-physical address (not
    the guest-physical 0x1000 or 0x2028)."""
    _, _, (ref, _) = toy
    out, trace, d = decide(ref, {entry})
    assert out == {"exit": True, "rule": "guest_read_error", "fields": {"code": 1, "where": level, "pa": entry}}
    assert trace == [(0, a, 8, MEM[a]) for a in READS[:reads]] + [(3, entry, 8, 0)]
    assert (d["tr"]["fault"], d["tr"]["level"]) == ("read_error", level)


@pytest.mark.parametrize("value, kind, present, rsv", [
    (0x3000 | W | A, INVALID, 0, 0),                 # V = 0: invalid, kind 2 (gst's 1)
    (0x3000 | V | W | A | 1 << 30, RESERVED, 1, 1),  # a reserved bit: kind 3 (gst's 2)
])
def test_the_bases_faults_are_numbered_after_the_added_one(toy, value, kind, present, rsv):
    """The level-1 guest entry (host-physical G1) invalid, or with reserved bit 30 set: the
    base's fault, one kind later than gst numbers it; the record's `fault != invalid` and
    `fault == reserved` compare with the new numbers; `at` is the entry's host-physical
    address, as for any fault of the walk."""
    _, _, (ref, _) = toy
    out, _, d = decide(ref, mem={**MEM, G1: value})
    assert out == {"exit": True, "rule": "guest_fault", "fields": {"code": 3, "where": where(kind, 1, present, rsv),
                                                                   "pa": G1}}
    assert d["tr"]["level"] == 1


def test_an_input_fault_reads_no_entry_address(toy):
    """va bits 29 and 28 set: gst's input fault too_high (kind 5 here), before any read; its
    record sees level 0 and no entry: `at` = 0."""
    _, _, (ref, _) = toy
    out, trace, d = decide(ref, va=0x3000_5123)
    assert out == {"exit": True, "rule": "guest_fault", "fields": {"code": 3, "where": where(TOO_HIGH, 0, 1, 0),
                                                                   "pa": 0}}
    assert trace == [] and d["tr"]["fault"] == "too_high"


def test_the_host_record_reads_the_address_of_its_own_entry(toy):
    """The host regime walked on its own (event.host = 1) for 0x5123: its level-1 entry
    H1 + 5 * 8 holds nothing (V = 0): invalid (kind 2) at level 1, hat = H1 + 0x28, the
    table's address plus the index; and in the composition, a host read error while
    translating the guest level-1 table's gpa 0x2000 reports that host entry's address
    (H1 + 16)."""
    _, _, (ref, _) = toy
    out, trace, _ = decide(ref, host=1)
    assert out["rule"] == "host_only" and out["fields"] == {"code": 5, "where": 2 | 1 << 4, "pa": H1 + 0x28}
    assert trace[-1] == (0, H1 + 0x28, 8, 0)
    out, _, _ = decide(ref, {H1 + 16})
    assert out == {"exit": True, "rule": "host_read_error",
                   "fields": {"code": 2, "where": 1 | 1 << 2 | 1 << 4, "pa": H1 + 16}}


def test_instance_error_unit_cosimulates_with_full_coverage(toy):
    """Measured: 300 events at seed 1, about 4 s."""
    spec, out, _ = toy
    report = cosim.run(spec, out, 300, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert report.coverage["walk tr fault read_error"] > 0 and report.coverage["exit guest_read_error"] > 0


def test_instance_error_unit_model_converts_and_compiles(toy, tmp_path):
    _, _, (_, model) = toy
    hdl.convert(model, "VHDL", tmp_path / "vhd")
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files)
        assert ok, messages
