"""The cycle-level model's walk caches (issue 15, section 3): a paging-structure cache of
the guest's pointer level and a nested TLB, on a two-level guest over a two-level host
(a toy written here, shaped like no architecture; the manual cited is the toy's own).
Golden: the same walk cold, then after an invalidation of the TLB alone (the walk caches
stay warm), with the references and cycles counted by hand at memory latency 1 with no
stalls (cycles as codegen/verify/harness.py counts them: edges from the one that samples
`start` to the one after which `done` is seen). Then drawn sequences of the toy: the model
is compared with the full reference (WALK_CACHES)."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import harness, seqcosim
from codegen.verify.sequence import Sequence, Step, compare, run_reference

TWO = """spec two_walkcache cite "toy manual" "two levels over two levels, with walk caches";
register GB : 64 cite "toy manual 1" "the guest's root" {
    ADDR [29:12];
}
register HB : 64 cite "toy manual 1" "the host's root" {
    ADDR [39:12];
}
format gpte : 64 cite "toy manual 2" {
    V [0] "valid";
    ADDR [29:12];
    reserved [63:30];
}
format hpte : 64 cite "toy manual 2" {
    V [0] "valid";
    ADDR [39:12];
    reserved [63:40];
}
regime g cite "toy manual 3" {
    input va : 30;
    access write;
    context GB;
    entry 8;
    root GB.ADDR << 12;
    pointer ADDR;
    start level 2;
    frame ADDR;
    level 2 top cite "toy manual 3" {
        index va[29:21];
        table gpte;
    }
    level 1 low cite "toy manual 3" {
        index va[20:12];
        leaf gpte page 4K;
    }
    fault invalid when !V cite "toy manual 3";
    record fault_info cite "toy manual 3" {
        code : 8 = fault;
    }
}
regime h cite "toy manual 4" {
    input gpa : 30;
    access write;
    context HB;
    entry 8;
    root HB.ADDR << 12;
    pointer ADDR;
    start level 2;
    frame ADDR;
    level 2 top cite "toy manual 4" {
        index gpa[29:21];
        table hpte;
    }
    level 1 low cite "toy manual 4" {
        index gpa[20:12];
        leaf hpte page 4K;
    }
    fault invalid when !V cite "toy manual 4";
    record host_fault cite "toy manual 4" {
        code : 8 = fault;
    }
}
nested two cite "toy manual 5" {
    guest g;
    host h;
    table access cite "toy manual 5" {
        write = 0;
    }
    final access cite "toy manual 5" {
        write = access.write;
    }
    record nested_fault cite "toy manual 5" {
        code : 8 = host.code;
    }
    cache tlb holds translations cite "toy manual 6" {
        entries 4 ways 2;
        replace lru;
    }
    cache psc holds tables of levels 2 cite "toy manual 6" {
        entries 2 ways 2;
        replace lru;
    }
    cache ntlb holds host translations cite "toy manual 6" {
        entries 2 ways 2;
        replace lru;
    }
    invalidate flush_tlb () cite "toy manual 6" {
        drop tlb;
    }
}
"""

G_ROOT, H_ROOT = 0x1000, 0x10_0000  # the guest's root table (guest-physical), the host's
H_TABLES = 0x20_0000  # the host's level-1 tables, one per 2-MiB region of guest-physical space
OFFSET = 0x4000_0000  # the host maps guest-physical page P at P + OFFSET
G_LOW, G_PAGE, G_PAGE2 = 0x3000, 0x7000, 0x9000  # the guest's level-1 table and two of its pages
VA = 0x0123_4567
VA2 = VA ^ 0x5000  # another page under the same guest level-1 table


# the same toy with a paging-structure cache of the host walk's level 2 (its entry: the host
# level-1 table of a 2-MiB guest-physical region)
TWO_HPSC = TWO.replace("    invalidate flush_tlb", """    cache hpsc holds host tables of levels 2 cite "toy manual 6" {
        entries 2 ways 2;
        replace lru;
    }
    invalidate flush_tlb""")


def _build(tmp_path_factory, text):
    out = tmp_path_factory.mktemp("two_walkcache")
    path = out / "two.vspec"
    path.write_text(text)
    spec = compile_spec(path)
    emit.write(emit.render(spec), out / "gen")
    ref, model = harness.load_generated(out / "gen")
    return spec, ref, model, out / "gen"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return _build(tmp_path_factory, TWO)


@pytest.fixture(scope="module")
def toy_hpsc(tmp_path_factory):
    return _build(tmp_path_factory, TWO_HPSC)


def image() -> dict:
    """The guest's two tables (at guest-physical G_ROOT, G_LOW) and the host's map of every
    guest-physical page the walks touch."""
    mem = {}

    def host_map(gpa):
        low = H_TABLES + 0x1000 * ((gpa >> 21) & 0x1FF)
        mem[H_ROOT + 8 * ((gpa >> 21) & 0x1FF)] = low | 1
        mem[low + 8 * ((gpa >> 12) & 0x1FF)] = (gpa + OFFSET) | 1

    mem[G_ROOT + OFFSET + 8 * ((VA >> 21) & 0x1FF)] = G_LOW | 1
    mem[G_LOW + OFFSET + 8 * ((VA >> 12) & 0x1FF)] = G_PAGE | 1
    mem[G_LOW + OFFSET + 8 * ((VA2 >> 12) & 0x1FF)] = G_PAGE2 | 1
    for gpa in (G_ROOT, G_LOW, G_PAGE, G_PAGE2):
        host_map(gpa)
    return mem


def test_a_walk_after_a_tlb_only_flush_resumes_from_the_warm_walk_caches(toy):
    spec, ref, model, _ = toy
    assert model.WALK_CACHES
    req = {"va": VA, "write": 0, "GB": G_ROOT, "HB": H_ROOT}
    steps = (Step("translate", req), Step("invalidate", req, event="flush_tlb"), Step("translate", req),
             Step("translate", dict(req, va=VA2)))
    seq = Sequence(image(), steps)
    got = harness.run_model_sequence(model, ref, seq, harness.Timing(1, 1, 0), 200)
    assert compare(seq, run_reference(ref, seq), got) == []
    cold, flush, warm, near = got.steps
    pa = G_PAGE + OFFSET + (VA & 0xFFF)
    # Cold (every cache empty): the host walks the guest root's page (2 references), the
    # guest reads its level-2 entry (1), the host walks G_LOW's page (2), the guest reads
    # its level-1 entry (1), the host walks the final page (2): 8 references, one cycle
    # each (the lookups compare in the cycle each walk would ask: they cost none), + 1
    # (the edge that takes the last entry) + 1 (the guest takes the host's final
    # translation) = 10, the accounting of test_walk_cycles.py's 4+4 walk (24 + 2).
    assert cold.outcome == {"ok": True, "pa": pa, "level": 1, "host_level": 1} and not cold.hit
    assert len(cold.trace) == 8 and cold.cycles == 8 + 1 + 1
    # flush_tlb drops the TLB only: 1 cycle waiting for the paging-structure cache's fill
    # of the cold walk's level 2 (written the cycle after its `done`) + 1 (the edge that
    # samples `start`) + 2 (the sets swept, one a cycle: the TLB's 2; the walk caches
    # have 1 each, swept with set 0) = 4 edges.
    assert flush.cycles == 1 + 1 + 2
    # Warm: the TLB misses; the paging-structure cache holds level 2 for VA's 2-MiB region
    # (G_LOW and its host-physical address), so the walk starts at level 1 and reads that
    # entry at G_LOW + OFFSET with no host walk: 1 reference, in the cycle `start` is
    # sampled; the nested TLB holds the final page (filled by the cold walk's last host
    # walk) and answers the final address in the cycle the entry arrives: 1 + 1 + 1 = 3.
    assert warm.outcome == cold.outcome and not warm.hit
    assert warm.trace == [(0, G_LOW + OFFSET + 8 * ((VA >> 12) & 0x1FF), 8, G_PAGE | 1)]
    assert warm.cycles == 1 + 1 + 1
    # Another page under G_LOW: the same level-2 entry (1 reference for the level-1 entry),
    # and a host walk of the new final page the nested TLB does not hold (2): 3 + 1 + 1 = 5.
    assert near.outcome["pa"] == G_PAGE2 + OFFSET + (VA2 & 0xFFF) and len(near.trace) == 3
    assert near.cycles == 3 + 1 + 1


def test_the_host_walk_cache_shortens_the_later_host_walks_of_a_cold_walk(toy_hpsc):
    """With `hpsc` every guest-physical address the walks translate lies in one 2-MiB
    region (key gpa >> 21 = 0), so after the first host walk each host walk that the nested
    TLB misses resumes at the host level-1 entry."""
    spec, ref, model, _ = toy_hpsc
    assert model.WALK_CACHES is True
    req = {"va": VA, "write": 0, "GB": G_ROOT, "HB": H_ROOT}
    steps = (Step("translate", req), Step("invalidate", req, event="flush_tlb"), Step("translate", req),
             Step("translate", dict(req, va=VA2)))
    seq = Sequence(image(), steps)
    got = harness.run_model_sequence(model, ref, seq, harness.Timing(1, 1, 0), 200)
    assert compare(seq, run_reference(ref, seq), got) == []
    cold, flush, warm, near = got.steps
    # Cold: G_ROOT's host walk (2 references; it fills hpsc's level 2 at the edge it ends),
    # the guest's level-2 entry (1), G_LOW's host walk resumed at host level 1 (1), the
    # guest's level-1 entry (1), the final page's host walk resumed (1): 6, + 2 = 8 cycles.
    assert len(cold.trace) == 2 + 1 + 1 + 1 + 1 and cold.cycles == 6 + 1 + 1
    assert flush.cycles == 1 + 1 + 2  # as without hpsc: its one set is swept with set 0
    # Warm: as without hpsc (the nested TLB answers the final page): 1 reference, 3 cycles.
    assert len(warm.trace) == 1 and warm.cycles == 3
    # The neighbouring page: its level-1 entry (1), its final page's host walk resumed (1): 4.
    assert len(near.trace) == 2 and near.cycles == 2 + 1 + 1


def test_drawn_sequences_of_the_toy_match_the_full_reference(toy):
    """A cheap sequence co-simulation (MyHDL): every step's outcome, hit and trace with
    the walk caches in both models, and the architectural check."""
    spec, _, _, gen = toy
    report = seqcosim.run(spec, gen, 6, 1, length=30)
    assert report.walk_compared and report.walk == ("psc", "ntlb")
    assert report.mismatches == [] and report.violations == []
    assert {"psc hit", "ntlb hit", "resumed walk"} <= set(report.covered)
