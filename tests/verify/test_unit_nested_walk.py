"""A unit that walks a nested composition (tests/data/toy_nested_unit.vspec: toy_two_stage's
`two_stage`, then an owner table indexed by the host page): the walk's results for the
steps after it, by hand from the toy manual's rules, and both models co-simulated."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness

DATA = Path(__file__).resolve().parents[1] / "data"
OWNTAB = 0x7000_0000  # the owner table's base (BASE [47:12]), CHECK [0] = 1
HROOT = 0x10_0000  # the host stage's 16-KiB root table
LOAD, STORE = 1, 2
V, R, W, X, U, A, D = 1, 2, 4, 8, 0x10, 0x40, 0x80
NO_LEVEL = 7  # all ones of the level field (3 bits: levels 0..3 and "none")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = compile_spec(DATA / "toy_nested_unit.vspec")
    out = tmp_path_factory.mktemp("nested_unit") / "toy_nested_unit"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


def decide(ref, mem, va, kind=LOAD, vsatp=0, hatp=0, domain=3):
    request = {"kind": kind, "va": va, "user": 1, "VSATP": vsatp, "HATP": hatp, "OWNTAB": OWNTAB | 1,
               "DOMAIN": domain}
    trace: list = []
    return ref.decide(dict(mem), request, trace), trace


def own_entry(owner, gpn, valid=1, ro=0):
    return valid | ro << 1 | owner << 8 | gpn << 20


def test_both_stages_bare_the_owner_check_reads_the_input_page(toy):
    """Both stages off (MODE 0, toy manual 3.1/4.1): pa = guest_pa = va, levels "none";
    the owner entry of page va >> 12 is the only reference; another domain owns it."""
    _, _, (ref, _) = toy
    va = 0x1234_5678
    mem = {OWNTAB + (va >> 12) * 8: own_entry(owner=9, gpn=va >> 20)}
    out, trace = decide(ref, mem, va)
    assert out == {"exit": True, "rule": "not_owner", "fields": {"code": 3, "info": 9, "addr": va}}
    assert trace == [(0, OWNTAB + (va >> 12) * 8, 8, mem[OWNTAB + (va >> 12) * 8])]
    mem[OWNTAB + (va >> 12) * 8] = own_entry(owner=3, gpn=va >> 20, ro=1)
    assert decide(ref, mem, va)[0] == {"exit": False}  # its own page, read
    assert decide(ref, mem, va, kind=STORE)[0]["rule"] == "read_only"


def test_a_host_1g_page_then_the_owner_of_the_host_page(toy):
    """Host stage on (HATP MODE 8, 3 levels, toy manual 4.2): a 1-GiB leaf at level 2 (PPN
    [53:28] holds address bits 55:30) maps gpa 0x4000_1234 to 0x8_4000_1234 (frame 0x8_4000_0000,
    the input's low 30 bits); the owner entry read is that host page's. The guest's page number
    (GPN) must be the guest-physical address's, not the host's."""
    _, _, (ref, _) = toy
    va = 0x4000_1234
    frame = 0x8_4000_0000
    leaf = (frame >> 30) << 28 | V | R | W | X | U | A | D
    hpa = frame | (va & 0x3FFF_FFFF)
    mem = {HROOT + 8 * (va >> 30): leaf, OWNTAB + (hpa >> 12) * 8: own_entry(owner=3, gpn=va >> 20)}
    out, trace = decide(ref, mem, va, hatp=8 << 60 | HROOT >> 12)
    assert out == {"exit": False}
    assert [a for _, a, _, _ in trace] == [HROOT + 8, OWNTAB + (hpa >> 12) * 8]
    mem[OWNTAB + (hpa >> 12) * 8] = own_entry(owner=3, gpn=hpa >> 20)  # the host page number: a mismatch
    assert decide(ref, mem, va, hatp=8 << 60 | HROOT >> 12)[0]["rule"] == "not_owner"


def test_a_host_fault_on_the_final_address_gives_the_compositions_record(toy):
    """The host entry is not valid: host fault `invalid` at host level 2 on the final
    address (no guest level: all ones), the composition's record: cause = the host's (21,
    a read, toy manual 4.7), gpa, implicit 0 (toy manual 5.4); no owner entry is read."""
    _, _, (ref, _) = toy
    va = 0x4000_1234
    out, trace = decide(ref, {}, va, hatp=8 << 60 | HROOT >> 12)
    assert out == {"exit": True, "rule": "host_fault",
                   "fields": {"code": 2, "info": 21 | 2 << 16 | NO_LEVEL << 24, "addr": va}}
    assert len(trace) == 1


def test_nested_unit_cosimulates_with_full_coverage(toy):
    spec, out, _ = toy
    report = cosim.run(spec, out, 300, seed=4)
    assert report.mismatches == 0 and report.missing == []
    assert report.coverage["walk tr host stage off"] > 0 and report.coverage["walk tr host fault"] > 0


def test_nested_unit_model_converts_and_compiles(toy, tmp_path):
    _, _, (_, model) = toy
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files)
        assert ok, messages


# A unit that walks the composition twice (tests/data/toy_two_nested.vspec): two addresses
# of one event under one context, each walk with its own guest and host walker.


@pytest.fixture(scope="module")
def toy_twice(tmp_path_factory):
    spec = compile_spec(DATA / "toy_two_nested.vspec")
    out = tmp_path_factory.mktemp("two_nested") / "toy_two_nested"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)


def compare(ref, mem, a, b, hatp=0, vsatp=0):
    trace: list = []
    return ref.decide(dict(mem), {"a": a, "b": b, "VSATP": vsatp, "HATP": hatp}, trace), trace


def test_two_walks_through_one_host_1g_page_each_translate_their_own_address(toy_twice):
    """Guest stage bare, host 3 levels (toy manual 4.2): a and b in two 1-GiB pages of the
    host root table, each a leaf at level 2 (PPN [53:28] holds bits 55:30); the first walk
    reads a's host entry, the second b's, and each pa keeps its own low 30 bits."""
    _, _, (ref, _) = toy_twice
    a, b = 0x4000_1234, 0x8000_0ABC
    leaf = lambda frame: (frame >> 30) << 28 | V | R | W | X | U | A | D  # noqa: E731
    mem = {HROOT + 8 * (a >> 30): leaf(0x8_4000_0000), HROOT + 8 * (b >> 30): leaf(0x3_C000_0000)}
    out, trace = compare(ref, mem, a, b, hatp=8 << 60 | HROOT >> 12)
    assert out == {"exit": True, "rule": "compared",
                   "fields": {"first_pa": 0x8_4000_1234, "second_pa": 0x3_C000_0ABC}}
    assert [a_ for _, a_, _, _ in trace] == [HROOT + 8 * (a >> 30), HROOT + 8 * (b >> 30)]


def test_the_second_walk_waits_for_the_first(toy_twice):
    """The first host entry is not valid: the first walk faults, the second (`when first.ok`)
    is not walked, so the only reference is the first address's host entry and no rule fires."""
    _, _, (ref, _) = toy_twice
    a, b = 0x4000_1234, 0x8000_0ABC
    mem = {HROOT + 8 * (b >> 30): (0x3_C000_0000 >> 30) << 28 | V | R | W | X | U | A | D}
    out, trace = compare(ref, mem, a, b, hatp=8 << 60 | HROOT >> 12)
    assert out == {"exit": False}
    assert [a_ for _, a_, _, _ in trace] == [HROOT + 8 * (a >> 30)]


def test_two_nested_walks_cosimulate_with_full_coverage(toy_twice):
    """The stimulus builds the second walk on the tables the first drew (one context), so
    both walks translate and fault: every point of both is covered."""
    spec, out, _ = toy_twice
    report = cosim.run(spec, out, 400, seed=4)
    assert report.mismatches == 0 and report.missing == []
    assert report.coverage["exit compared"] > 0 and report.coverage["walk second host fault"] > 0


def test_two_nested_walks_convert_and_compile(toy_twice, tmp_path):
    _, _, (_, model) = toy_twice
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files)
        assert ok, messages


def test_a_walk_whose_roots_are_slices_of_a_structure_word_is_built_where_they_point(tmp_path):
    """tests/data/toy_nested_bound.vspec binds both roots of a composition's walk to SLICES
    of a directory entry's words (page number and mode side by side, a request bit ORed in
    beside them), and the walk's guard reads the mode bits. The stimulus draws the root
    registers with the composition's factory and writes the page numbers back into the
    entry (the tables lie where the entry points), keeping the mode bits the guard was
    steered to. Measured at seed 1, 200 scenarios: 33 walks translate (exit `done`); before,
    such a binding was fixed to whatever the entry held (roots the tables were not built
    at) and 8 did."""
    import random
    from collections import Counter

    from codegen.verify.stimulus.translation import Draw
    from codegen.verify.stimulus.unit import UnitScenarioFactory
    spec = compile_spec(DATA / "toy_nested_bound.vspec")
    out = tmp_path / "toy_nested_bound"
    emit.write(emit.render(spec), out)
    ref, _ = harness.load_generated(out)
    factory, draw = UnitScenarioFactory(spec), Draw(random.Random(1))
    rules = Counter(ref.decide(dict(sc.memory), dict(sc.request), []).get("rule")
                    for sc in (factory.make(draw) for _ in range(200)))
    assert rules["done"] >= 20, rules
    assert rules["guest_fault"] and rules["host_fault"] and rules["invalid"], rules


# A composition whose host stage answers the final address with its rights
# (tests/data/toy_nested_answer.vspec: walk a always, walk b when the event asks): both
# models agree, and every point the coverage keeps is hit.
@pytest.mark.slow
def test_a_composition_whose_host_answers_cosimulates_with_full_coverage(tmp_path):
    spec = compile_spec(DATA / "toy_nested_answer.vspec")
    out = tmp_path / "gen"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, 300, seed=1)
    assert report.mismatches == 0 and report.missing == []
    assert report.coverage["walk a host fault answered"] > 0 and report.coverage["exit b_answered"] > 0
