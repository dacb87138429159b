"""The fold toy (tests/data/toy_fold.vspec): `accumulate trusted = 1 then trusted && host.t
over table` folds the host leaf's T bit over the host translations of the guest's entry
reads; the final access asks the host with `checked = !trusted`, and the host's check
`unverified` fires when VCTL.EN, checked and the final host leaf's Y are all 1. Golden
walks by hand (toy manual 3-5), each also run on the MyHDL model; the composition's four
caches through drawn sequences; a unit's walk of the composition (toy_fold_unit)."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim, harness, seqcosim
from codegen.verify.harness import load_generated
from codegen.verify.stimulus.translation import Scenario

DATA = Path(__file__).resolve().parents[1] / "data"
V, W, A = 1, 2, 0x20        # guest entry bits (toy manual 3)
T, Y = 1 << 3, 1 << 4       # host leaf bits: trusted, verify (toy manual 4.1)
H_ROOT, H_L1 = 0x10_0000, 0x10_1000   # the host's two tables (host-physical)
OFF = 0x40_0000             # guest-physical page p is host-physical p + OFF
G_ROOT, G_BOTTOM, G_PAGE = 0x1000, 0x2000, 0x5000
VA = (1 << 21) | (3 << 12) | 0x123


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    spec = compile_spec(DATA / "toy_fold.vspec")
    out = tmp_path_factory.mktemp("toy_fold")
    emit.write(emit.render(spec), out)
    return spec, out, load_generated(out)


def memory(trusted=(G_ROOT, G_BOTTOM), verify=True):
    """Guest: the root's entry 1 points to the bottom table, whose entry 3 maps G_PAGE (A
    set: no update). Host: every guest-physical page at +OFF, T on the pages of `trusted`,
    Y on the final page's leaf when `verify`."""
    mem = {H_ROOT: H_L1 | V}
    for page in (G_ROOT, G_BOTTOM, G_PAGE):
        flags = V | W | (T if page in trusted else 0) | (Y if verify and page == G_PAGE else 0)
        mem[H_L1 + 8 * (page >> 12)] = (page + OFF) | flags
    mem[G_ROOT + OFF + 8 * 1] = G_BOTTOM | V | W | A
    mem[G_BOTTOM + OFF + 8 * 3] = G_PAGE | V | W | A
    return mem


@pytest.fixture(scope="module")
def queue(models):
    """Scenarios of this module's golden walks: at the end of the module the MyHDL model runs
    them all in one simulation, each from reset, and must agree with the reference through
    the caches (one simulation per walk would cost ~1 s each)."""
    _, _, (ref, model) = models
    scenarios = []
    yield scenarios
    if scenarios:
        got = harness.run_model(model, ref, scenarios)
        bad = [harness.compare(harness.run_reference(ref, sc, model), g) for sc, g in zip(scenarios, got)]
        assert not any(bad), bad


def run(models, queue, mem, en=1, write=0):
    """The reference's run of one request (queued for the model, see `queue`)."""
    ref = models[2][0]
    sc = Scenario({"va": VA, "write": write, "PTBR": G_ROOT, "HPTBR": H_ROOT, "VCTL": en}, mem, len(queue))
    queue.append(sc)
    return harness.run_reference(ref, sc)


def test_the_fold_is_an_accumulator_of_the_composition(models):
    spec = models[0]
    (fold,) = spec.top.folds
    assert (fold.name, fold.width, fold.where) == ("trusted", 1, "over table")
    assert {(r.kind, r.name) for r in fold.then.refs()} == {("acc", "trusted"), ("hacc", "t")}
    guest = spec.top.guest_with_folds(spec.regime(spec.top.guest))
    assert [a.name for a in guest.accumulators] == ["w", "trusted"]


def test_all_guest_tables_in_trusted_pages_translate(models, queue):
    """Two host walks of the guest's entries (host L2 entry 0, L1 entry 1 or 2, then the
    guest entry) and the host walk of the final address: 8 reads; G_PAGE's Y does not fault."""
    r = run(models, queue, memory())
    assert r.outcome == {"ok": True, "pa": G_PAGE + OFF + 0x123, "level": 1, "host_level": 1}
    assert [a for _, a, _, _ in r.trace] == [H_ROOT, H_L1 + 8, G_ROOT + OFF + 8, H_ROOT, H_L1 + 16,
                                             G_BOTTOM + OFF + 24, H_ROOT, H_L1 + 40]


@pytest.mark.parametrize("untrusted", [G_ROOT, G_BOTTOM])
def test_one_guest_table_in_an_untrusted_page_faults_on_the_final_address(models, queue, untrusted):
    """The fold is the AND over both entry reads: either page with T = 0 makes the final
    access `checked`, and the final host leaf's Y fires `unverified` (kind 4 of the host:
    faults invalid, reserved, checks write_protect, unverified) at host level 1."""
    r = run(models, queue, memory(trusted={G_ROOT, G_BOTTOM} - {untrusted}))
    assert r.outcome == {"ok": False, "fault": "unverified", "stage": "host", "level": 1, "guest_level": None,
                         "record": "nested_fault",
                         "fields": {"code": 4, "gpa": G_PAGE + 0x123, "verify": 1, "trusted_so_far": 0, "implicit": 0}}
    assert len(r.trace) == 8


def test_no_verification_without_the_control_or_y(models, queue):
    ok = {"ok": True, "pa": G_PAGE + OFF + 0x123, "level": 1, "host_level": 1}
    assert run(models, queue, memory(trusted=()), en=0).outcome == ok
    assert run(models, queue, memory(trusted=(), verify=False)).outcome == ok


@pytest.mark.slow
def test_the_caches_keep_what_the_fold_reads(models):
    """Drawn sequences with the TLB, the guest walk's paging-structure cache, the nested TLB
    and the host walk's paging-structure cache: the model (every cache) and the reference
    agree, and the architectural check accepts every answer. Slow (5 s): intel_ept's quick
    tests cover the fold through its caches."""
    spec, out, _ = models
    report = seqcosim.run(spec, out, 3, 2, length=16)
    assert report.mismatches == [] and report.violations == []
    assert report.walk_compared and set(report.walk) == {"walk", "gtlb", "hwalk"}


def test_a_unit_walks_the_folding_composition(tmp_path):
    spec = compile_spec(DATA / "toy_fold_unit.vspec")
    out = tmp_path / "toy_fold_unit"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks=60, seed=1)
    assert report.mismatches == 0


@pytest.mark.slow
def test_the_folding_model_converts(models, tmp_path):
    """Verilog (Icarus compiles it) and VHDL (GHDL analyses it), every cache included."""
    from codegen.generate import hdl
    model = models[2][1]
    ok, messages = hdl.compile_verilog(hdl.convert(model, "Verilog", tmp_path / "v"))
    assert ok, messages
    ok, messages = hdl.analyse_vhdl(hdl.convert(model, "VHDL", tmp_path / "vhd"))
    assert ok, messages
