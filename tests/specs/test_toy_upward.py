"""The second toy architecture of issue 14 (tests/data/toy_upward.vspec): levels numbered
up from 0 at the root, table-only (hierarchical) permission bits, a register-chosen
output size, input size and start level, and two roots chosen by the top input bit.

Golden walks computed by hand from the spec, which follows the Arm ARM (DDI 0487) D8
stage-1 walk with the 4 KiB granule loosely: each level indexes 9 bits (level 0
VA[47:39] ... level 3 VA[20:12], D8.2), a table descriptor is bits[1:0] = 0b11 with the
next-level table address in [47:12] and APTable in [62:61] (D8.3.1, D8.4.2), a block or
page descriptor has AP[2:1] in [7:6] and AF in [10] (D8.3.2, D8.4.1, D8.4.5)."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim
from codegen.verify.harness import load_generated

UPWARD = Path(__file__).resolve().parents[1] / "data" / "toy_upward.vspec"
V, T, AP_EL0, AP_RO, AF = 1, 2, 1 << 6, 1 << 7, 1 << 10
APT_NU, APT_RO = 1 << 61, 1 << 62
TABLE = V | T  # a table descriptor (levels 0-2); a page descriptor at level 3


def tcr(t0sz: int = 16, ips: int = 2) -> int:
    """TCR: T0SZ [5:0] (input size 64 - T0SZ), IPS [34:32] (2: a 40-bit output address)."""
    return t0sz | (ips << 32)


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp("upward")
    emit.write(emit.render(compile_spec(UPWARD)), out)
    return load_generated(out)[0]


ROOT0, ROOT1 = 0x80_0000, 0x90_0000
L1, L2, L3, FRAME = 0x0010_0000, 0x0020_0000, 0x0030_0000, 0x00AB_CDEF_0000
VA = (0x1A << 39) | (0x0B5 << 30) | (0x123 << 21) | (0x045 << 12) | 0x678
AT0, AT1, AT2, AT3 = ROOT0 + 8 * 0x1A, L1 + 8 * 0xB5, L2 + 8 * 0x123, L3 + 8 * 0x45


def walk_memory(root: int = ROOT0, extra: dict | None = None) -> dict:
    """A four-level walk of VA from `root` to the 4 KiB page FRAME (user, writable, AF)."""
    mem = {root + 8 * 0x1A: L1 | TABLE, AT1: L2 | TABLE, AT2: L3 | TABLE, AT3: FRAME | AF | AP_EL0 | T | V}
    mem.update(extra or {})
    return mem


def request(va: int = VA, write: int = 0, user: int = 0, **ctx) -> dict:
    # TTBRn.BADDR is [47:1]; the root is BADDR >> 11 << 12, the register's bits 47:12
    return {"va": va, "write": write, "user": user, "TTBR0": ROOT0, "TTBR1": ROOT1, "TCR": tcr(), **ctx}


def test_levels_count_up_from_the_root():
    reg = compile_spec(UPWARD).regime("stage1")
    assert [lv.shown for lv in reg.levels] == [0, 1, 2, 3]  # the spec's numbers, root first
    assert [lv.number for lv in reg.levels] == [4, 3, 2, 1]  # walk numbers, down to 1
    assert reg.flip == 4 and reg.label(1) == 3 and reg.rank(0) == 4
    assert [a.where for a in reg.accumulators] == ["table", "table"]


def test_a_page_is_reported_at_level_3(ref):
    """Levels 0, 1, 2 point to the next table and level 3 maps the 4 KiB page: four reads,
    index n at table + 8n, and the outcome names level 3 (the leaf's own number)."""
    assert (AT0, AT1, AT2, AT3) == (0x80_00D0, 0x10_05A8, 0x20_0918, 0x30_0228)
    trace: list = []
    got = ref.translate(walk_memory(), request(), trace)
    assert got == {"ok": True, "pa": 0x00AB_CDEF_0678, "level": 3}
    assert [a for _, a, _, _ in trace] == [AT0, AT1, AT2, AT3]


def test_the_top_input_bit_chooses_the_root(ref):
    """VA[48] set: TTBR1's table (Arm: VA[55] selects TTBR1_EL1, D8.2.4)."""
    trace: list = []
    got = ref.translate(walk_memory(ROOT1), request(va=VA | 1 << 48), trace)
    assert got == {"ok": True, "pa": 0x00AB_CDEF_0678, "level": 3}
    assert trace[0][1] == ROOT1 + 8 * 0x1A == 0x90_00D0
    # with VA[48] clear the walk reads TTBR0's table, here empty: a translation fault at 0
    got = ref.translate(walk_memory(ROOT1), request(), [])
    assert (got["ok"], got["fault"], got["level"]) == (False, "translation", 0)
    # the record: DFSC kind 1 (translation) and level 0 is 0b0001_00; FAR is the input
    assert got["record"] == "esr" and got["fields"] == {"dfsc": 0x04, "wnr": 0, "far": VA}


def test_a_baddr_below_bit_12_is_not_part_of_the_root(ref):
    """BADDR >> 11 << 12: TTBR bits 11:1 do not move the table (D19 TTBR0_EL1.BADDR)."""
    got = ref.translate(walk_memory(), request(TTBR0=ROOT0 | 0xFFE), [])
    assert got == {"ok": True, "pa": 0x00AB_CDEF_0678, "level": 3}


def test_table_only_permissions_restrict_every_level_below(ref):
    """APTable[1] (bit 62) in the level-1 table descriptor makes the page read-only below
    it, though the page's own AP[2] allows writes (D8.4.2); APTable[0] (bit 61) at level 0
    takes unprivileged access away. Both are permission faults at the leaf, level 3."""
    ro = walk_memory(extra={AT1: L2 | TABLE | APT_RO})
    assert ref.translate(ro, request(write=0), [])["ok"] is True
    got = ref.translate(ro, request(write=1), [])
    assert (got["fault"], got["level"]) == ("permission", 3)
    assert got["fields"] == {"dfsc": (3 << 2) | 3, "wnr": 1, "far": VA}  # 0b0011_11
    nu = walk_memory(extra={AT0: L1 | TABLE | APT_NU})
    assert ref.translate(nu, request(user=0), [])["ok"] is True
    assert ref.translate(nu, request(user=1), [])["fault"] == "permission"
    # the leaf's own AP[2] (bit 7) read-only, with no APTable
    got = ref.translate(walk_memory(extra={AT3: FRAME | AF | AP_EL0 | AP_RO | T | V}), request(write=1), [])
    assert (got["fault"], got["level"]) == ("permission", 3)


def test_output_address_bits_above_the_chosen_size_fault(ref):
    """TCR.IPS 0 is a 32-bit output address: the level-0 descriptor pointing to a table at
    0x1_0010_0000 has bit 32 set, an address size fault on that descriptor, level 0 (DFSC
    kind 0, level 0: 0b0000_00); with IPS 2 (40 bits) the same descriptor is fine."""
    high = 0x1_0010_0000
    mem = walk_memory(extra={AT0: high | TABLE, high + 8 * 0xB5: L2 | TABLE})
    got = ref.translate(mem, request(TCR=tcr(ips=0)), [])
    assert (got["fault"], got["level"], got["fields"]["dfsc"]) == ("address_size", 0, 0x00)
    got = ref.translate(mem, request(TCR=tcr(ips=2)), [])
    assert got == {"ok": True, "pa": 0x00AB_CDEF_0678, "level": 3}
    # the page's own frame: 0xAB_CDEF_0000 needs 40 bits, so IPS 1 (36 bits) refuses it
    got = ref.translate(walk_memory(), request(TCR=tcr(ips=1)), [])
    assert (got["fault"], got["level"]) == ("address_size", 3)


def test_the_input_size_chooses_the_start_level_and_cuts_its_index(ref):
    """T0SZ 30: a 34-bit input, so the walk starts at level 1 (T0SZ 25..33, D8.2.5), whose
    index is VA[33:30] alone: VA bits 47:34 are ignored (the toy's stand-in for Arm's
    check that they are all equal to the root-select bit)."""
    va = (0x3FFF << 34) | (0x5 << 30) | (0x123 << 21) | 0x1234_5
    va = (va & ~0x1F_FFFF) | 0x1_2345  # offset in a 2 MiB block
    at1, at2 = ROOT0 + 8 * 0x5, L2 + 8 * 0x123
    block = 0x00AB_CDE0_0000  # a 2 MiB block at level 2 (T clear)
    mem = {at1: L2 | TABLE, at2: block | AF | AP_EL0 | V}
    trace: list = []
    got = ref.translate(mem, request(va=va, TCR=tcr(t0sz=30)), trace)
    assert got == {"ok": True, "pa": block | 0x1_2345, "level": 2}
    assert [a for _, a, _, _ in trace] == [0x80_0028, at2]


def test_a_1g_block_at_level_1(ref):
    """T0SZ 25 (a 39-bit input) starts at level 1; a block there maps VA[29:0]."""
    block = 0x00C0_0000_0000 | AF | AP_EL0 | V
    got = ref.translate({ROOT0 + 8 * 0xB5: block}, request(TCR=tcr(t0sz=25)), [])
    assert got == {"ok": True, "pa": 0x00C0_0000_0000 | (VA & 0x3FFF_FFFF), "level": 1}


def test_two_roots_and_table_only_controls_cosimulate(tmp_path):
    """Cosim refused a root chosen by an input bit ('the root expression is not a register
    field...'), and the cycle-level model once forgot a table-only accumulator at the leaf,
    where the checks read it (a write under APTable[1] went through)."""
    spec = compile_spec(UPWARD)
    out = tmp_path / "upward"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks=300, seed=5)
    assert report.mismatches == 0 and report.missing == []


@pytest.mark.slow
def test_toy_upward_cosimulates_and_converts(tmp_path):
    spec = compile_spec(UPWARD)
    out = tmp_path / "upward"
    emit.write(emit.render(spec), out)
    for seed in (1, 2):
        report = cosim.run(spec, out, walks=2000, seed=seed)
        assert report.mismatches == 0 and report.missing == []
    _, model = load_generated(out)
    ok, messages = hdl.compile_verilog(hdl.convert(model, "Verilog", tmp_path / "v"))
    assert ok, messages


def test_a_nested_composition_of_upward_numbered_stages_cosimulates(tmp_path):
    """tests/data/toy_upward_nested.vspec: the nested stimulus crashed ("negative shift
    count") when a shared host table took a mapping past its planned leaf level into a
    level of pointers only; the guest's levels count up from 0, and so do the host's."""
    spec = compile_spec(UPWARD.parent / "toy_upward_nested.vspec")
    out = tmp_path / "nested"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks=300, seed=1)
    assert report.mismatches == 0 and report.transactions == 300
    assert "host page level 1" in report.coverage and "page levels 3/3" in report.coverage
