"""A unit that walks a composition whose stages handle a read that answers with an error
(tests/data/toy_nested_error.vspec, docs/language.md section 10): the guest's fault on
`error` at the guest level whose entry read failed, the host's on a host table read
(while translating a guest table or the final address) with the composition's record,
by hand from the toy manual; both models co-simulated (the stimulus's draws of such
errors: tests/verify/stimulus/test_unit.py)."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness

DATA = Path(__file__).resolve().parents[1] / "data"
V, W, A = 1, 2, 0x20
NO_LEVEL = 7  # the level members are 3 bits wide (levels up to 2, and "none")

# The tables, by hand (toy manual 9.2-9.4, 9.9): guest root at gpa 0x1000 (GROOT), host root
# at 0x10_0000 (HROOT). Host: the level-2 entry for gpa[29:21] = 0 points to the level-1 table
# at 0x10_1000, whose entries 1, 2, 3 map gpa pages 0x1000, 0x2000, 0x3000 to host pages
# 0x20_1000, 0x20_2000, 0x20_3000. Guest: va 0x5123 (va[29:21] = 0, va[20:12] = 5): the root
# entry (gpa 0x1000, host 0x20_1000) points to the guest table at gpa 0x2000, whose entry 5
# (gpa 0x2028, host 0x20_2028) maps page gpa 0x3000. A is set already: no as-used write.
GROOT, HROOT = 0x1000, 0x10_0000
H2, H1 = HROOT, 0x10_1000
G2, G1 = 0x20_1000, 0x20_2028  # the guest entries' host-physical addresses
VA = 0x5123
MEM = {
    H2: H1 | V | W,
    H1 + 8: 0x20_1000 | V | W,
    H1 + 16: 0x20_2000 | V | W,
    H1 + 24: 0x20_3000 | V | W,
    G2: 0x2000 | V | W | A,
    G1: 0x3000 | V | W | A,
}
# the order of the reads of a walk that succeeds: the host walk of each guest-physical
# address (the guest root table's, the guest level-1 table's, the final one's), each guest
# entry after its host walk
READS = [H2, H1 + 8, G2, H2, H1 + 16, G1, H2, H1 + 24]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = compile_spec(DATA / "toy_nested_error.vspec")
    out = tmp_path_factory.mktemp("nested_error") / "toy_nested_error"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


def decide(ref, errors=(), mem=MEM):
    trace: list = []
    detail: dict = {}
    out = ref.decide(dict(mem), {"va": VA, "write": 0, "GROOT": GROOT, "HROOT": HROOT}, trace, detail,
                     errors=frozenset(errors))
    return out, trace, detail["tr"]


def test_no_error_translates_through_both_stages(toy):
    _, _, (ref, _) = toy
    out, trace, _ = decide(ref)
    assert out == {"exit": True, "rule": "translated", "fields": {"code": 0, "where": 0, "pa": 0x20_3123}}
    assert trace == [(0, a, 8, MEM[a]) for a in READS]


@pytest.mark.parametrize("entry, level, reads", [(G2, 2, 2), (G1, 1, 5)])
def test_a_guest_entry_whose_read_fails_is_the_guests_fault_at_its_level(toy, entry, level, reads):
    """The host walk of the entry's guest-physical address succeeded; the read of the entry
    at its host-physical address answers with an error: traced as op 3 with value 0, and the
    walk ends with the guest's `read_error` (the regime's first fault, kind 1) at that level
    (toy manual 9.6): exit guest_read_error, where = the record's lvl."""
    _, _, (ref, _) = toy
    out, trace, d = decide(ref, {entry})
    assert out == {"exit": True, "rule": "guest_read_error", "fields": {"code": 1, "where": level, "pa": 0}}
    assert trace == [(0, a, 8, MEM[a]) for a in READS[:reads]] + [(3, entry, 8, 0)]
    assert (d["fault"], d["level"], d["host_fault"]) == ("read_error", level, None)


@pytest.mark.parametrize("entry, hlvl, guest_level, on_table, reads", [
    (H2, 2, 2, 1, 0),        # the host root entry, translating the guest root table's address
    (H1 + 8, 1, 2, 1, 1),    # the host level-1 entry of the same translation
    (H1 + 16, 1, 1, 1, 4),   # translating the guest level-1 table's address
    (H1 + 24, 1, None, 0, 7),  # translating the final address: no guest level
])
def test_a_host_entry_whose_read_fails_is_a_host_fault_with_the_compositions_record(
        toy, entry, hlvl, guest_level, on_table, reads):
    """A host table read that fails is the host's `hw_error` (kind 1, toy manual 9.10) at its
    host level: a host fault of the composition, reported with the composition's record
    (toy manual 9.12: hkind and hlvl the host record's, implicit = on_table), the guest level
    being the one whose table address was translated (all ones on the final address).
    where = hlvl | implicit << 2 | level << 4."""
    _, _, (ref, _) = toy
    out, trace, d = decide(ref, {entry})
    level = NO_LEVEL if guest_level is None else guest_level
    assert out == {"exit": True, "rule": "host_read_error",
                   "fields": {"code": 2, "where": hlvl | on_table << 2 | level << 4, "pa": 0}}
    assert trace == [(0, a, 8, MEM[a]) for a in READS[:reads]] + [(3, entry, 8, 0)]
    assert (d["host_fault"], d["host_level"], d["level"]) == ("hw_error", hlvl, guest_level)


def test_an_error_at_a_word_no_walk_reads_changes_nothing(toy):
    _, _, (ref, _) = toy
    assert decide(ref, {0x9000})[:2] == decide(ref)[:2]


def test_nested_error_unit_cosimulates_with_full_coverage(toy):
    """Measured: 300 events at seed 1, about 1.5 s; 7 guest and 20 host read errors."""
    spec, out, _ = toy
    report = cosim.run(spec, out, 300, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert report.coverage["exit guest_read_error"] > 0 and report.coverage["exit host_read_error"] > 0
    assert report.coverage["walk tr fault read_error"] > 0 and report.coverage["walk tr host fault hw_error"] > 0


def test_nested_error_unit_model_converts_and_compiles(toy, tmp_path):
    _, _, (_, model) = toy
    hdl.convert(model, "VHDL", tmp_path / "vhd")
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files)
        assert ok, messages
