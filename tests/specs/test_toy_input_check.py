"""Checks before the walk (issue 14 items 2 and 13) on tests/data/toy_input_check.vspec, a
nested toy of no real architecture: the guest's register-chosen canonical width and its
disabled mode fault before any memory reference, with their own records; the host stage,
whose input is declared as wide as the guest's 40-bit addresses but whose tables map 30
bits, refuses a wider guest-physical address before any host reference ("toy manual"
sections are the toy's own, written in the spec)."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from codegen.verify.harness import load_generated
from codegen.verify.stimulus.translation import Scenario

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_input_check.vspec"
EN = 1  # MODE.EN (toy manual 2.2)
V, W, R = 1, 2, 1
GROOT, H_TOP, H_LOW = 0x1000, 0x0010_0000, 0x0020_0000  # guest root (gpa), host tables (pa)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_input_check")
    emit.write(emit.render(compile_spec(TOY)), out)
    return load_generated(out)


def request(va, mode, write=0, user=0, ptbr=GROOT, nptbr=H_TOP):
    return {"va": va, "write": write, "user": user, "PTBR": ptbr, "MODE": mode, "NPTBR": nptbr}


def both(models, req, mem=None):
    """The reference's and the MyHDL model's runs of one request (they must agree)."""
    ref, model = models
    sc = Scenario(req, dict(mem or {}), 7)
    a, b = harness.run_reference(ref, sc), harness.run_model(model, ref, [sc])[0]
    assert harness.compare(a, b) == []
    return a


def test_disabled_faults_before_any_reference(models):
    """toy manual 3.3 (1): MODE.EN = 0 faults first, with the first record (gfault)."""
    run = both(models, request(0x1234_5000, mode=0))
    assert run.outcome == {"ok": False, "fault": "disabled", "stage": "guest", "level": None, "record": "gfault",
                           "fields": {"code": 3, "addr": 0x1234_5000}}  # codes: walk faults, checks, then input faults
    assert run.trace == []


def test_non_canonical_reports_its_own_record(models):
    """toy manual 3.3 (2), 3.7: with VX = 0 a 32-bit address, so bits 39:31 must equal
    bit 31; 0x08_0000_0000 (bit 35 alone) is not, and reports bad_va (vector 13)."""
    run = both(models, request(0x08_0000_0000, mode=EN, user=1))
    assert run.outcome == {"ok": False, "fault": "non_canonical", "stage": "guest", "level": None,
                           "record": "bad_va", "fields": {"vector": 13, "user": 1}}
    assert run.trace == []
    # bits 34:31 set: not canonical at 32 bits, canonical at 36 (VX = 4: bit 35, the sign, is 0 like 39:36)
    assert both(models, request(0x07_8000_0000, mode=EN)).outcome["fault"] == "non_canonical"
    run = both(models, request(0x07_8000_0000, mode=EN | 4 << 4))
    assert run.outcome["fault"] != "non_canonical" and run.trace  # the walk starts


def test_a_negative_canonical_address_walks(models):
    """Bits 39:31 all ones with VX = 0: canonical, so the walk reads the guest root entry
    (through the host: its level-2 entry first)."""
    run = both(models, request(0xFF_8000_0000 | 0x1000, mode=EN))
    assert run.outcome["fault"] != "non_canonical"
    assert run.trace and run.trace[0][1] == H_TOP + 8 * ((GROOT >> 21) & 0x1FF)


def test_a_guest_physical_address_past_the_host_tables_faults_before_the_host_walk(models):
    """toy manual 5.3: the guest root at gpa 0x4000_0000 (bit 30) is past the 30 bits the
    host tables map: the host stage's input fault, a host fault with the nested record,
    no reference at all (the guest's first table read is translated first)."""
    va = (0x3 << 22) | (0x5 << 12)
    run = both(models, request(va, mode=EN, ptbr=0x4000_0000))
    gpa = 0x4000_0000 + 8 * 0x3
    assert run.outcome == {"ok": False, "fault": "too_wide", "stage": "host", "level": None, "guest_level": 2,
                           "record": "nfault", "fields": {"code": 4, "gpa": gpa, "final": 0}}
    assert run.trace == []


def test_a_full_walk_when_every_input_check_passes(models):
    """A 2x2 walk: each guest entry read through a 2-level host walk, then the final gpa:
    (2+1)(2+1)-1 = 8 reads, in order."""
    va = (0x3 << 22) | (0x5 << 12) | 0x9A
    g_low, g_page = 0x2000, 0x0012_3000  # gpa of the guest level-1 table and of the page
    h_frames = {GROOT: 0x0300_0000, g_low: 0x0301_0000, g_page: 0x0302_0000}
    mem = {H_TOP + 8 * 0: H_LOW | R | W}
    for gpa, pa in h_frames.items():
        mem[H_LOW + 8 * ((gpa >> 12) & 0x1FF)] = pa | R | W
    mem[h_frames[GROOT] + 8 * 0x3] = g_low | V | W
    mem[h_frames[g_low] + 8 * 0x5] = g_page | V | W
    run = both(models, request(va, mode=EN), mem)
    assert run.outcome == {"ok": True, "pa": 0x0302_009A, "level": 1, "host_level": 1}
    assert len(run.trace) == 8 and all(op == 0 for op, *_ in run.trace)


def test_toy_input_check_cosimulates_and_converts(tmp_path):
    spec = compile_spec(TOY)
    out = tmp_path / "toy_input_check"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks=300, seed=3)
    assert report.mismatches == 0 and report.missing == []
    assert {"guest fault disabled at level None", "guest fault non_canonical at level None",
            "host fault too_wide at level None"} <= set(report.coverage)
    _, model = load_generated(out)
    ok, messages = hdl.compile_verilog(hdl.convert(model, "Verilog", tmp_path / "v"))
    assert ok, messages
    ok, messages = hdl.analyse_vhdl(hdl.convert(model, "VHDL", tmp_path / "vhd"))
    assert ok, messages
