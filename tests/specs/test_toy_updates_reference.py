"""tests/data/toy_updates.vspec, a two-stage toy (not x86), against its manual ("toy manual
7" in the spec's comments): exact traces of as-used updates (written before the next
reference, kept on a later fault), after-success value updates (`set RO = 0`), a 2-bit
counter written with an expression of itself, and `guest updates before final` (the
guest's after-success update is a host-translated write made before the final address is
translated). Every expected trace is worked out by hand from the spec's rules below."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import harness

SPEC = Path(__file__).resolve().parents[1] / "data" / "toy_updates.vspec"

# descriptor bits (toy manual 3)
V, T, RO, AF, DBM = 1, 2, 1 << 7, 1 << 10, 1 << 51
AGE = 52  # AGE [53:52]
# host tables (stage 2: levels 3, 2, 1 index ipa[39:30], [29:21], [20:12])
H3, H2, H1 = 0x10_0000, 0x11_0000, 0x12_0000
# guest-physical pages and where the host maps them (+ 0x4000_0000)
G_L2, G_L1, G_PAGE = 0x1000, 0x2000, 0x5000
OFFSET = 0x4000_0000
VA = (3 << 21) | (7 << 12) | 0x123  # guest l2 index 3, l1 index 7
WRITE_PROTECT, INVALID = 3, 1
NESTED_BASE = 64


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "toy_updates"
    emit.write(emit.render(compile_spec(SPEC)), out)
    return harness.load_generated(out)[0]


def host_path(gpa):
    """The host entry addresses that translate `gpa` (one table per level, shared)."""
    return [H3 + 8 * ((gpa >> 30) & 0x3FF), H2 + 8 * ((gpa >> 21) & 0x1FF), H1 + 8 * ((gpa >> 12) & 0x1FF)]


def build(host_flags=AF, l2=V | T | AF | (3 << AGE), l1=V | AF):
    """Host tables mapping the three guest pages at +1 GiB (host leaves with AF set unless
    `host_flags` says otherwise), and the guest's two entries for VA (by default with
    nothing left to update on a read)."""
    mem = {}
    for gpa in (G_L2, G_L1, G_PAGE):
        a3, a2, a1 = host_path(gpa)
        mem[a3] = H2 | V | T | host_flags
        mem[a2] = H1 | V | T | host_flags
        mem[a1] = (gpa + OFFSET) | V | AF
    mem[G_L2 + OFFSET + 8 * 3] = G_L1 | l2
    mem[G_L1 + OFFSET + 8 * 7] = G_PAGE | l1
    return mem


def walk(ref, mem, write=0):
    trace = []
    r = ref.walk_guest(mem, trace, VA, write, G_L2, H3)
    return r, trace


def reads(mem, gpa):
    return [(0, a, 8, mem[a]) for a in host_path(gpa)]


L2_AT, L1_AT = G_L2 + OFFSET + 24, G_L1 + OFFSET + 56


def test_as_used_then_before_final_exact_trace(ref):
    """Toy manual 7.1-7.3 and 6.2, write access through a read-only leaf with DBM: the l2
    table entry gets AF and AGE 1 -> 2 as soon as it is used (a write through the host:
    update access), before l1 is translated and read; the leaf gets AF as used (before the
    write_protect check, which DBM passes); after success RO is cleared, and that write is
    made before the final guest-physical address is translated. 23 references."""
    mem = build(l2=V | T | (1 << AGE), l1=V | RO | DBM)
    before = dict(mem)
    r, trace = walk(ref, mem, write=1)
    assert r == (0, G_PAGE + OFFSET + 0x123, 1, 1)
    l2_new = before[L2_AT] | AF | (2 << AGE)
    l2_new &= ~(1 << AGE)
    l1_used = before[L1_AT] | AF
    l1_final = l1_used & ~RO
    assert trace == (reads(before, G_L2) + [(0, L2_AT, 8, before[L2_AT])]
                     + reads(before, G_L2) + [(1, L2_AT, 8, l2_new)]
                     + reads(before, G_L1) + [(0, L1_AT, 8, before[L1_AT])]
                     + reads(before, G_L1) + [(1, L1_AT, 8, l1_used)]
                     + reads(before, G_L1) + [(1, L1_AT, 8, l1_final)]
                     + reads(before, G_PAGE))
    assert len(trace) == 23
    assert mem == {**before, L2_AT: l2_new, L1_AT: l1_final}


def test_as_used_write_survives_a_fault_below(ref):
    """Toy manual 7.1: the l2 entry's AF and counter stay written when the l1 entry then
    faults (not valid); the faulting entry is not written."""
    mem = build(l2=V | T, l1=0)
    before = dict(mem)
    r, trace = walk(ref, mem)
    assert r[:3] == (INVALID, 1, 0)
    l2_new = before[L2_AT] | AF | (1 << AGE)
    assert trace == (reads(before, G_L2) + [(0, L2_AT, 8, before[L2_AT])]
                     + reads(before, G_L2) + [(1, L2_AT, 8, l2_new)]
                     + reads(before, G_L1) + [(0, L1_AT, 8, before[L1_AT])])
    assert mem == {**before, L2_AT: l2_new}


def test_leaf_as_used_is_before_the_permission_check(ref):
    """Toy manual 7.2 with 4.3: a write to a read-only leaf without DBM faults in the
    check, after the leaf's AF was written; RO stays set (the after-success update is
    not made)."""
    mem = build(l1=V | RO)
    before = dict(mem)
    r, trace = walk(ref, mem, write=1)
    assert r[:3] == (WRITE_PROTECT, 1, 0)
    assert [t for t in trace if t[0]] == [(1, L1_AT, 8, before[L1_AT] | AF)]
    assert mem == {**before, L1_AT: before[L1_AT] | AF}


def test_a_saturated_counter_with_af_set_is_not_written(ref):
    """AGE = 3 stays 3 and AF is set: the update changes nothing, so nothing is written;
    a read through a leaf with AF set makes (2 + 1) x (3 + 1) - 1 = 11 reads."""
    mem = build(l2=V | T | AF | (3 << AGE), l1=V | AF)
    before = dict(mem)
    r, trace = walk(ref, mem)
    assert r[0] == 0 and all(op == 0 for op, *_ in trace) and len(trace) == 11
    assert mem == before


def test_host_table_entries_get_af_as_used(ref):
    """Stage 2 (toy manual 5, 7.1): host table entries without AF get it during the first
    host walk that uses them, each written before the next host read; later walks find it
    set. The host leaves (AF preset) are not written."""
    mem = build(host_flags=0, l2=V | T | AF | (3 << AGE))
    before = dict(mem)
    r, trace = walk(ref, mem)
    assert r[0] == 0
    a3, a2, a1 = host_path(G_L2)
    assert trace[:5] == [(0, a3, 8, before[a3]), (1, a3, 8, before[a3] | AF),
                         (0, a2, 8, before[a2]), (1, a2, 8, before[a2] | AF), (0, a1, 8, before[a1])]
    # the three guest pages share the host level-3 and level-2 entries: written once each
    assert [t[1] for t in trace if t[0]] == [a3, a2]


def test_host_fault_on_the_guest_update_is_reported_at_that_guest_level(ref):
    """Toy manual 6.2: the l2 entry's as-used write is a host write; a host leaf that is
    read-only (no DBM) for the guest's l2 table page refuses it: a host write_protect at
    host level 1, guest level 2, and nothing is written."""
    mem = build(l2=V | T)
    a1 = host_path(G_L2)[2]
    mem[a1] |= RO
    before = dict(mem)
    r, trace = walk(ref, mem)
    assert r[:3] == (NESTED_BASE + WRITE_PROTECT, 1, 2)
    assert all(op == 0 for op, *_ in trace) and mem == before
