"""A unit that reads walks' accumulators after a success (`W.ACC`): tests/data/toy_walk_acc.vspec,
checked by hand and co-simulated.

The toy's rules, from the spec: a first-stage entry has V 0, W 1, U 2, K 4:3, L 5 (a 2-MiB
leaf at level 1) and its address's bits 55:12 in bits 53:10 (a 2-MiB leaf: 53:21 in
53:21); the walk accumulates wr = W at every level (init 1), us = U at every level (init
1), key = the OR of K (init 0), deep = 1 once a table entry was passed (init 0, `at
table`). A host entry: V 0, bits 55:12 in 53:10, one level indexed by GPA bits 20:12;
HCTL bit 0 switches the host stage off. An accumulator of a walk that did not run or
faulted reads 0 (docs: notes/unit-language.md), whatever its initial value.
"""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness

DATA = Path(__file__).resolve().parents[1] / "data"
V, W, U, L = 1, 2, 4, 0x20
ROOT, GROOT, HROOT = 0x10000, 0x40000, 0x70000


def pte(addr: int, bits: int, key: int = 0) -> int:
    return (addr >> 12) << 10 | key << 3 | bits


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = compile_spec(DATA / "toy_walk_acc.vspec")
    out = tmp_path_factory.mktemp("walk_acc") / "toy_walk_acc"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


def decide(ref, mem: dict, va: int, vb: int, write: int = 0, hctl: int = 1):
    trace: list = []
    request = {"va": va, "vb": vb, "write": write, "ROOT": ROOT >> 12, "GROOT": GROOT >> 12, "HCTL": hctl}
    return ref.decide(dict(mem), request, trace), trace


VA = 1 << 21 | 2 << 12 | 0x34  # level 1 index 1, level 0 index 2
VB = 3 << 21 | 5 << 12 | 0x56  # level 1 index 3, level 0 index 5
A_WALK = {ROOT + 8: pte(0x20000, V | W | U, key=1), 0x20000 + 16: pte(0x30000, V | W, key=2)}
G_WALK = {GROOT + 24: pte(0x50000, V | U), 0x50000 + 40: pte(0x60000, V | W | U, key=1)}


def test_both_walks_report_their_accumulators(toy):
    # walk a: wr = 1 (W at both levels), us = 0 (leaf U = 0), key = 1 | 2 = 3, deep = 1;
    # walk g (host off): wr = 0 (top W = 0), us = 1, key = 1, deep = 1; g.us: user_rights,
    # rights = 1 | 0 << 1 | 3 << 2 | 1 << 4 | 0 << 8 | 1 << 9 | 1 << 10 | 1 << 12 = 0x161D
    _, _, (ref, _) = toy
    out, trace = decide(ref, A_WALK | G_WALK, VA, VB)
    assert out == {"exit": True, "rule": "user_rights", "fields": {"code": 5, "rights": 0x161D, "pa": 0x60056}}
    assert [a for _, a, _, _ in trace] == [ROOT + 8, 0x20010, GROOT + 24, 0x50028]


def test_a_2m_leaf_passes_no_table_and_a_faulted_walk_reads_0(toy):
    # walk a ends at a level-1 2-MiB leaf (V W U L, key 2): deep stays 0, wr = us = 1,
    # key = 2; walk g's top entry is not valid: g faults, and its wr reads 0 although its
    # initial value is 1: rights = 1 | 1 << 1 | 2 << 2 = 0xB
    _, _, (ref, _) = toy
    mem = {ROOT + 8: pte(0x200000, V | W | U | L, key=2)}
    out, trace = decide(ref, mem, VA, VB)
    assert out == {"exit": True, "rule": "g_fault", "fields": {"code": 4, "rights": 0xB, "pa": 0}}
    assert [a for _, a, _, _ in trace] == [ROOT + 8, GROOT + 24]


def test_a_check_fault_reads_0_accumulators(toy):
    # a write to walk a's leaf (W = 0 at the leaf): check denied (kind 2), code 1 + 2; the
    # walk faulted, so its accumulators read 0: rights = 0 (wr would be 0, key 3, deep 1)
    _, _, (ref, _) = toy
    mem = {ROOT + 8: pte(0x20000, V | W | U, key=1), 0x20010: pte(0x30000, V, key=2)}
    out, _ = decide(ref, mem, VA, VB, write=1)
    assert out == {"exit": True, "rule": "a_fault", "fields": {"code": 3, "rights": 0, "pa": 0}}


def test_with_the_host_stage_the_guest_accumulators_are_the_same(toy):
    # host on (HCTL.OFF = 0, table at 0x70000): GPA pages 0x40, 0x50, 0x60 map to 0x140000,
    # 0x150000, 0x160000; the guest entries are read there; the rights are those of the first
    # test (the guest's accumulators), the address the host's: 0x160056
    _, _, (ref, _) = toy
    host = {HROOT + 0x40 * 8: pte(0x140000, V), HROOT + 0x50 * 8: pte(0x150000, V),
            HROOT + 0x60 * 8: pte(0x160000, V)}
    guest = {0x140000 + 24: G_WALK[GROOT + 24], 0x150000 + 40: G_WALK[0x50000 + 40]}
    out, trace = decide(ref, A_WALK | host | guest, VA, VB, hctl=HROOT)
    assert out == {"exit": True, "rule": "user_rights", "fields": {"code": 5, "rights": 0x161D, "pa": 0x160056}}
    assert [a for _, a, _, _ in trace] == [ROOT + 8, 0x20010, HROOT + 0x200, 0x140018, HROOT + 0x280, 0x150028,
                                           HROOT + 0x300]


def test_walk_accumulators_cosimulate_with_full_coverage(toy):
    spec, out, _ = toy
    report = cosim.run(spec, out, 400, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert report.coverage["exit user_rights"] > 0 and report.coverage["walk g host stage off"] > 0


def test_walk_accumulators_convert_and_compile(toy, tmp_path):
    _, _, (_, model) = toy
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files)
        assert ok, messages
    files = hdl.convert(model, "VHDL", tmp_path / "vhd")
    if shutil.which("ghdl"):
        ok, messages = hdl.analyse_vhdl(files)
        assert ok, messages
