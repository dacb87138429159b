"""Sequences of a unit with caches (tests/data/toy_unit_cache.vspec): the architectural
check (oracle.check_unit) permits a stale answer until the invalidation the toy requires,
and catches a design whose invalidation forgets one of its caches, which the exact
cross-check of two models of that design cannot; drawn sequences of the toy cover every
cache point with no violation (codegen/verify/seqcosim.py)."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import oracle, seqcosim
from codegen.verify.harness import load_generated
from codegen.verify.sequence import Sequence, Step, compare, run_reference

TOY = Path(__file__).resolve().parents[1] / "data" / "toy_unit_cache.vspec"
DEV1 = 0x10010
REQ = {"kind": 1, "dev": 1, "addr": 0x3ABC, "write": 0, "DEVTAB": 0x10000}


def generated(tmp_path, text, name):
    path = tmp_path / f"{name}.vspec"
    path.write_text(text)
    (tmp_path / "toy.vspec").write_text((TOY.parent / "toy.vspec").read_text())
    out = tmp_path / name
    emit.write(emit.render(compile_spec(path)), out)
    return out


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return generated(tmp_path_factory.mktemp("toy_unit_cache"), TOY.read_text(), "toy_unit_cache")


def memory():
    """Device 1 (domain 5) translates page 3 to frame 0x55000 (see test_unit_cache_ref)."""
    return {DEV1: 0x20003, DEV1 + 8: 5, 0x20000: 0x21003, 0x21018: 0x55003}


def remapped(invalidation: tuple) -> Sequence:
    """Translate, remap page 3 to frame 0x99000, `invalidation` (or none), translate."""
    steps = [Step("translate", dict(REQ)), Step("store", address=0x21018, value=0x99003)]
    if invalidation:
        steps.append(Step("invalidate", dict(REQ), event=invalidation[0], operands=invalidation[1]))
    steps.append(Step("translate", dict(REQ)))
    return Sequence(memory(), tuple(steps))


def test_what_a_stale_device_entry_filled_is_held(toy):
    """A stale device entry (domain 5, after software moved device 1 to domain 7 in memory) and
    the current one give the same translation of page 4, but fill the translation cache under
    different domains. The design followed the stale entry; device 2, in domain 5, then hits
    that fill after page 4 was remapped. The oracle must hold what every permitted run filled,
    not only the first run that gave the answer (regression: amd_iommu seed 1, sequence 1969)."""
    ref = load_generated(toy)[0]
    dev2 = {**REQ, "dev": 2, "addr": 0x4ABC}
    mem = {**memory(), 0x21020: 0x56003, DEV1 + 16: 0x20003, DEV1 + 24: 5}
    steps = (Step("translate", dict(REQ)), Step("store", address=DEV1 + 8, value=7),
             Step("translate", {**REQ, "addr": 0x4ABC}), Step("store", address=0x21020, value=0x57003),
             Step("translate", dev2))
    seq = Sequence(mem, steps)
    run = run_reference(ref, seq)
    assert run.steps[2].hit == ("dtc",)  # the stale device entry, domain 5
    assert run.steps[4].outcome["fields"]["pa"] == 0x56ABC and run.steps[4].hit == ("tlb",)
    verdict = oracle.check_unit(ref, seq, run)
    assert verdict.problems == [] and verdict.stale_hits == 1


def test_a_stale_answer_is_permitted_until_the_invalidation(toy):
    ref = load_generated(toy)[0]
    seq = remapped(())
    run = run_reference(ref, seq)
    assert run.steps[-1].outcome["fields"]["pa"] == 0x55ABC and run.steps[-1].hit == ("dtc", "tlb")
    verdict = oracle.check_unit(ref, seq, run)
    assert verdict.problems == [] and verdict.stale_hits == 1
    seq = remapped(("by_range", (("dom", 5), ("addr", 0x2000), ("size", 13))))  # 8 KiB holding page 3
    run = run_reference(ref, seq)
    assert run.steps[-1].outcome["fields"]["pa"] == 0x99ABC and run.steps[-1].hit == ("dtc",)
    assert oracle.check_unit(ref, seq, run).problems == []


def test_the_oracle_catches_an_invalidation_that_forgets_a_cache(toy, tmp_path):
    # the design under test: `everything` forgets the translation cache
    text = TOY.read_text().replace("        drop dtc;\n        drop tlb;\n", "        drop dtc;\n")
    assert text != TOY.read_text()
    design = load_generated(generated(tmp_path, text, "forgetful"))[0]
    arch = load_generated(toy)[0]
    seq = remapped(("everything", ()))
    run = run_reference(design, seq)
    assert run.steps[-1].outcome["fields"]["pa"] == 0x55ABC  # the stale translation
    assert compare(seq, run, run_reference(design, seq)) == []  # two models of the design agree
    assert oracle.check_unit(design, seq, run).problems == []  # judged by its own rules: fine
    verdict = oracle.check_unit(arch, seq, run)  # judged by the architecture: caught
    assert len(verdict.problems) == 1 and verdict.problems[0].startswith("step 3: answered")


def test_drawn_sequences_cover_the_toy_with_no_violation(toy):
    spec = compile_spec(TOY)
    report = seqcosim.run(spec, toy, 40, seed=1, length=60, model=False)
    assert report.violations == [] and report.mismatches == []
    assert report.missing == []
    assert report.translations > 1000 and report.stale_hits > 0
