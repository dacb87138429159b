"""The unit's caches in the cycle-level model (templates/unit_model.py.j2, view
unit_cache.py, HdlCache) on the toy unit tests/data/toy_unit_cache.vspec: a request both
caches answer makes no memory reference and reports both on o_hit; an invalidation drops
what the reference drops; drawn sequences agree with the reference; the converted HDL
compiles (Icarus), lints clean (Verilator) and analyses (GHDL)."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import harness, seqcosim
from codegen.verify.sequence import Sequence, Step, compare, run_reference

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_unit_cache.vspec"
DEV1 = 0x10010
REQ = {"kind": 1, "dev": 1, "addr": 0x3ABC, "write": 0, "DEVTAB": 0x10000}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_unit_cache_model")
    emit.write(emit.render(compile_spec(TOY)), out)
    return out


def memory():
    return {DEV1: 0x20003, DEV1 + 8: 5, 0x20000: 0x21003, 0x21018: 0x55003}


def test_hits_invalidations_and_stale_entries_as_the_reference(toy):
    ref, mod = harness.load_generated(toy)
    assert mod.HIT_CACHES == ["dtc", "tlb"] and mod.INVALIDATIONS == ["by_device", "by_range", "one_page", "everything"]
    steps = (Step("translate", dict(REQ)), Step("translate", dict(REQ, addr=0x3001)),
             Step("store", address=0x21018, value=0x99003),
             Step("translate", dict(REQ)),  # stale: both caches answer
             Step("invalidate", dict(REQ), event="one_page", operands=(("dom", 5), ("addr", 0x3FFF))),
             Step("translate", dict(REQ)),  # the DTE still cached, the page walked again
             Step("invalidate", dict(REQ), event="everything", operands=()),
             Step("translate", dict(REQ)))
    seq = Sequence(memory(), steps)
    want = run_reference(ref, seq)
    got = harness.run_model_sequence(mod, ref, seq)
    assert compare(seq, want, got) == []
    hits = [s.hit for st, s in zip(steps, got.steps) if st.op == "translate"]
    assert hits == [(), ("dtc", "tlb"), ("dtc", "tlb"), ("dtc",), ()]
    pas = [s.outcome["fields"]["pa"] for st, s in zip(steps, got.steps) if st.op == "translate"]
    assert pas == [0x55ABC, 0x55001, 0x55ABC, 0x99ABC, 0x99ABC]
    assert got.steps[1].trace == [] and got.steps[1].cycles < got.steps[0].cycles


def test_drawn_sequences_agree_with_the_reference(toy):
    report = seqcosim.run(compile_spec(TOY), toy, 12, seed=3, length=60)
    assert report.compared and report.mismatches == [] and report.violations == []
    assert report.missing == []


def test_the_model_with_caches_converts_and_compiles(tmp_path):
    spec = compile_spec(TOY)
    emit.write(emit.render(spec), tmp_path / "gen")
    mod = harness.load_generated(tmp_path / "gen")[1]
    name = hdl.top_name(spec)
    try:
        files = hdl.convert(mod, "Verilog", tmp_path / "v", name)
        ok, msg = hdl.compile_verilog(files)
        assert ok, msg
        ok, msg = hdl.lint_verilog(files)
        assert ok, msg
        files = hdl.convert(mod, "VHDL", tmp_path / "vhd", name)
        ok, msg = hdl.analyse_vhdl(files)
        assert ok, msg
    except hdl.ToolMissing as exc:
        pytest.skip(str(exc))
