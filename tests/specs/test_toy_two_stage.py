"""The first toy architecture of issue 14 (tests/data/toy_two_stage.vspec), shaped like
neither x86 table format: page numbers stored shifted (entry bits 53:10 are address bits
55:12), an 11-bit top index on the second stage (a 16-KiB root table), canonical-address
and too-wide checks before the walk, stages that can be switched off, a first stage
reused on the guest's register, exclusive access kinds, per-format misaligned-superpage
faults, second-stage A set as each table entry is used, and the guest's A/D written
before the final translation. Golden walks computed by hand from the spec's own "toy
manual" sections; each runs on the reference and on the MyHDL model, which must agree. Levels
are numbered as the toy manual numbers them: down to 0 at the leaf."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim, harness
from codegen.verify.harness import load_generated
from codegen.verify.stimulus.translation import Scenario

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_two_stage.vspec"
V, R, W, X, U, A, D = 1, 2, 4, 8, 16, 64, 128
SV39, SV48 = 8 << 60, 9 << 60  # SATP/VSATP/HATP.MODE [63:60] (toy manual 3.1, 4.1)
HOST_OFFSET = 0x800_0000  # the host maps guest-physical g to host-physical g + this
H_ROOT, H_L2, H_L1 = 0x10_0000, 0x10_4000, 0x10_5000  # host tables: a 16-KiB root, then 4-KiB
G_ROOT, G_L2, G_L1, G_FRAME = 0x1_0000, 0x1_1000, 0x1_2000, 0x4_0000  # guest tables (guest-physical)
VA = (2 << 30) | (3 << 21) | (5 << 12) | 0x123  # level 3 index 2, level 2 index 3, level 1 index 5


def entry(addr: int, bits: int) -> int:
    """An entry keeping `addr`'s page number shifted: bits 53:10 hold address bits 55:12."""
    return (addr >> 12) << 10 | bits


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_two_stage")
    emit.write(emit.render(compile_spec(TOY)), out)
    return load_generated(out)


def host_tables(host_leaf_bits: int = V | R | W | U | A | D) -> dict:
    """Second-stage tables mapping guest-physical 0..2 MiB to host-physical + HOST_OFFSET
    in 4-KiB pages: one root entry (index gpa[40:30] = 0), one level-2 entry, 512 leaves."""
    mem = {H_ROOT: entry(H_L2, V | A), H_L2: entry(H_L1, V | A)}
    for i in range(512):
        mem[H_L1 + 8 * i] = entry((i << 12) + HOST_OFFSET, host_leaf_bits)
    return mem


def guest_tables(leaf_bits: int = V | R | W | A | D) -> dict:
    """First-stage tables of VA (guest-physical addresses, stored at host-physical ones)."""
    return {G_ROOT + 8 * 2 + HOST_OFFSET: entry(G_L2, V), G_L2 + 8 * 3 + HOST_OFFSET: entry(G_L1, V),
            G_L1 + 8 * 5 + HOST_OFFSET: entry(G_FRAME, leaf_bits)}


def request(va=VA, kind="read", user=0, vsatp=SV39 | G_ROOT >> 12, hatp=SV39 | H_ROOT >> 12):
    req = {"va": va, "read": 0, "write": 0, "fetch": 0, "user": user, "VSATP": vsatp, "HATP": hatp}
    req[kind] = 1
    return req


def both(models, req, mem):
    """The reference's and the MyHDL model's runs of one request (they must agree)."""
    ref, model = models
    sc = Scenario(req, dict(mem), 5)
    a, b = harness.run_reference(ref, sc), harness.run_model(model, ref, [sc])[0]
    assert harness.compare(a, b) == []
    return a


def host_walk(gpa: int) -> list:
    """The three second-stage reads that translate `gpa` (all A bits preset: no writes)."""
    return [H_ROOT, H_L2, H_L1 + 8 * ((gpa >> 12) & 0x1FF)]


def test_a_3x3_walk_makes_exactly_15_references(models):
    """toy manual 5: each of the 3 guest entries' guest-physical addresses is translated
    by a 3-level host walk before it is read, and so is the final address: (3 + 1) x
    (3 + 1) - 1 = 15 references, each entry found through its shifted page number."""
    mem = host_tables() | guest_tables()
    run = both(models, request(), mem)
    assert run.outcome == {"ok": True, "pa": G_FRAME + HOST_OFFSET + 0x123, "level": 0, "host_level": 0}
    g1, g2, g3 = G_ROOT + 8 * 2, G_L2 + 8 * 3, G_L1 + 8 * 5
    expected = (host_walk(g1) + [g1 + HOST_OFFSET] + host_walk(g2) + [g2 + HOST_OFFSET]
                + host_walk(g3) + [g3 + HOST_OFFSET] + host_walk(G_FRAME))
    assert [a for _, a, _, _ in run.trace] == expected and len(run.trace) == 15
    assert all(op == 0 and size == 8 for op, _, size, _ in run.trace)
    assert run.trace[3][3] == entry(G_L2, V) == 0x4401  # page number 0x11 in bits 53:10


def test_a_non_canonical_address_faults_before_any_reference(models):
    """toy manual 3.5: with 3 levels bits 63:39 must equal bit 38; VA | 1 << 39 is not
    canonical: a page fault with no memory reference at all. With 4 levels (MODE 9) bits
    63:48 must equal bit 47, and the same address is canonical: the walk starts."""
    mem = host_tables() | guest_tables()
    run = both(models, request(va=VA | 1 << 39), mem)
    assert run.outcome == {"ok": False, "fault": "non_canonical", "stage": "guest", "level": None,
                           "record": "page_fault", "fields": {"cause": 13, "tval": VA | 1 << 39}}
    assert run.trace == []
    run = both(models, request(va=VA | 1 << 39, vsatp=SV48 | G_ROOT >> 12), mem)
    assert run.outcome.get("fault") != "non_canonical" and run.trace[3][1] == G_ROOT + 8 * 1 + HOST_OFFSET
    # all ones above bit 38 is canonical (a negative address)
    run = both(models, request(va=VA | ((1 << 64) - (1 << 38))), mem)
    assert run.outcome.get("fault") != "non_canonical" and run.trace


def test_the_guest_stage_switched_off_passes_the_address_to_the_host(models):
    """toy manual 3.1: VSATP.MODE = 0 is bare: the guest virtual address is the
    guest-physical address the host translates (3 references), no guest table read."""
    run = both(models, request(va=0x5_6789, vsatp=0), host_tables())
    assert run.outcome == {"ok": True, "pa": 0x5_6789 + HOST_OFFSET, "level": None, "host_level": 0}
    assert [a for _, a, _, _ in run.trace] == host_walk(0x5_6789)


def test_a_guest_physical_address_past_bit_40_faults_before_the_host_walk(models):
    """toy manual 4.3: the second stage translates 41 bits; a wider guest-physical
    address (here a bare guest's virtual address) is a guest page fault, no reference."""
    run = both(models, request(va=1 << 41, vsatp=0), host_tables())
    assert run.outcome == {"ok": False, "fault": "too_wide", "stage": "host", "level": None, "guest_level": None,
                           "record": "guest_page_fault",
                           "fields": {"cause": 21, "tval": 1 << 41, "gpa": 1 << 41, "implicit": 0}}
    assert run.trace == []


def test_the_host_stage_switched_off_makes_guest_physical_host_physical(models):
    """toy manual 4.1: HATP.MODE = 0: every guest table address and the final address
    are used as they are: 3 references, the guest's own."""
    mem = {G_ROOT + 16: entry(G_L2, V), G_L2 + 24: entry(G_L1, V), G_L1 + 40: entry(G_FRAME, V | R | A | D)}
    run = both(models, request(hatp=0), mem)
    assert run.outcome == {"ok": True, "pa": G_FRAME + 0x123, "level": 0, "host_level": None}
    assert [a for _, a, _, _ in run.trace] == [G_ROOT + 16, G_L2 + 24, G_L1 + 40]


def test_both_stages_off_pass_the_input_through(models):
    run = both(models, request(va=0x1234_5678, vsatp=0, hatp=0), {})
    assert run.outcome == {"ok": True, "pa": 0x1234_5678, "level": None, "host_level": None}
    assert run.trace == []


def test_host_table_a_is_set_as_used_and_survives_a_later_fault(models):
    """toy manual 4.6: the host's level-2 entry without A gets it written before the next
    read; the host leaf of the guest root is invalid, so the walk faults at host level 1
    and the A write stays (no leaf A, no guest read)."""
    mem = host_tables() | guest_tables()
    mem[H_L2] = entry(H_L1, V)  # A clear
    mem[H_L1 + 8 * (G_ROOT >> 12)] = 0  # the guest root's page is not mapped
    run = both(models, request(), mem)
    assert run.outcome["fault"] == "invalid" and run.outcome["stage"] == "host"
    assert (run.outcome["level"], run.outcome["guest_level"]) == (0, 2)
    assert run.trace == [(0, H_ROOT, 8, entry(H_L2, V | A)), (0, H_L2, 8, entry(H_L1, V)),
                         (1, H_L2, 8, entry(H_L1, V | A)), (0, H_L1 + 8 * 0x10, 8, 0)]
    assert run.memory[H_L2] == entry(H_L1, V | A)


def test_guest_updates_are_written_before_the_final_translation(models):
    """toy manual 3.8, 5.2, 5.3: a write to a page whose leaf lacks A and D: once the
    access is permitted the leaf is rewritten with A and D, as a write of its own through
    the host (3 host reads, then the write), before the final address is translated."""
    mem = host_tables() | guest_tables(leaf_bits=V | R | W)
    run = both(models, request(kind="write"), mem)
    assert run.outcome == {"ok": True, "pa": G_FRAME + HOST_OFFSET + 0x123, "level": 0, "host_level": 0}
    g3 = G_L1 + 8 * 5
    assert [(op, a) for op, a, _, _ in run.trace[12:]] == (
        [(0, a) for a in host_walk(g3)] + [(1, g3 + HOST_OFFSET)] + [(0, a) for a in host_walk(G_FRAME)])
    assert run.memory[g3 + HOST_OFFSET] == entry(G_FRAME, V | R | W | A | D)


@pytest.mark.parametrize("level, bits", [(1, 1 << 10), (2, 1 << 19)])
def test_a_misaligned_superpage_is_its_own_fault(models, level, bits):
    """toy manual 3.6: a 2-MiB leaf whose page number's low 9 bits are not zero, or a
    1-GiB leaf's low 18, is a `misaligned` fault of that format (the 4-KiB format has no
    such field); the host stage is off to keep the trace short."""
    frame = 0x4000_0000
    if level == 2:
        mem = {G_ROOT + 16: entry(frame, V | R | A | D) | bits}
    else:
        mem = {G_ROOT + 16: entry(G_L2, V), G_L2 + 24: entry(frame, V | R | A | D) | bits}
    run = both(models, request(hatp=0), mem)
    assert run.outcome["fault"] == ("misaligned" if level == 1 else "misaligned_1g")
    assert run.outcome["level"] == level
    mem[max(mem)] &= ~bits  # aligned: the page maps
    run = both(models, request(hatp=0), mem)
    assert run.outcome["ok"] and run.outcome["level"] == level


def test_stimulus_draws_exactly_one_of_read_write_fetch():
    """toy manual 3.2: an access is exactly one of read, write and fetch; the stimulus
    draws each and never two."""
    import random

    from codegen.verify.stimulus import translation as T

    factory = T.ScenarioFactory(compile_spec(TOY))
    draw = T.Draw(random.Random(3))
    kinds = set()
    for _ in range(200):
        req = factory.make(draw).request
        assert req["read"] + req["write"] + req["fetch"] == 1
        kinds.add((req["read"], req["write"], req["fetch"]))
    assert len(kinds) == 3


def test_the_two_stage_toy_cosimulates(tmp_path):
    spec = compile_spec(TOY)
    emit.write(emit.render(spec), tmp_path)
    report = cosim.run(spec, tmp_path, walks=300, seed=4)
    assert report.mismatches == 0 and report.transactions == 300


@pytest.mark.slow
@pytest.mark.parametrize("model", ["two_stage", "first"])
def test_the_two_stage_toy_cosimulates_2000_walks_and_converts(tmp_path, capsys, model):
    """issue 14: 0 mismatches on 2,000 walks with 2 seeds and every reachable point
    covered, for the nested model and the single stage; the Verilog and the VHDL
    compile."""
    from codegen.cli import main

    out = tmp_path / "gen"
    assert main(["generate", str(TOY), "-o", str(out)]) == 0
    for seed in ("1", "2"):
        code = main(["cosim", str(TOY), "--generated", str(out), "--model", model, "--walks", "2000",
                     "--seed", seed, "--require-coverage", "--json", "--vcd-dir", str(tmp_path / "vcd")])
        assert code == 0, capsys.readouterr().out[-2000:]
        capsys.readouterr()
    code = main(["convert", str(TOY), "--generated", str(out), "--model", model, "--hdl", "verilog", "--hdl", "vhdl",
                 "-o", str(tmp_path / "hdl"), "--compile"])
    assert code in (0, 2), capsys.readouterr()  # 2: a compiler is not installed here
