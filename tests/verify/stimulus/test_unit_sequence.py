"""Sequence stimulus for decision units (codegen/verify/stimulus/unit_sequence.py): the
devices a sequence derives from its first scenario include, for the IOMMUs, one that
shares the first device's domain (another device whose walks read the same tables) and
one with private tables (its walks read pages no other device's do, copied so that it
decides as the first device does)."""
import random
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.verify.harness import load_generated
from codegen.verify.stimulus.translation import Draw
from codegen.verify.stimulus.unit_sequence import UnitSequenceFactory

ROOT = Path(__file__).resolve().parents[3]


def _devices(name: str, seed: int):
    """(structure words, walk pages, rule) of each distinct device of one sequence's
    requests: the cached structure's words, the pages read after them."""
    spec = compile_spec(ROOT / "specs" / f"{name}.vspec")
    ref = load_generated(ROOT / "generated" / name)[0]
    f = UnitSequenceFactory(spec, ref)
    cache = f.struct_caches[0]
    size = spec.top.structure(cache.of).size
    _sc, mem, requests = f.requests(Draw(random.Random(f"{seed}:useq:0")))
    out = {}
    for req in requests:
        filled = f._filled(mem, req, cache.name)
        if not filled:
            continue
        own = {filled[0].key + off for off in range(0, size, 8)}
        trace: list = []
        got = ref.decide(dict(mem), req, trace, {})
        reads = [a for op, a, _s, _v in trace if op == 0]
        last = max(i for i, a in enumerate(reads) if a in own)
        out[min(own)] = (frozenset(a >> 12 for a in reads[last + 1:]) - {a >> 12 for a in own}, got["rule"])
    return list(out.values())


@pytest.mark.parametrize("name", ["amd_iommu", "intel_vtd"])
def test_devices_share_a_domain_and_one_has_private_tables(name):
    for seed in range(1, 6):
        devices = _devices(name, seed)
        pages, rule = devices[0]
        if not pages:
            continue  # the first device walks no tables in this sequence: no domain to share
        shared = [d for d in devices[1:] if d[0] == pages]
        private = [d for d in devices[1:] if d[0] and not d[0] & pages]
        assert shared, f"{name} seed {seed}: no other device walks the first device's tables"
        assert private, f"{name} seed {seed}: no device has tables of its own"
        # a private copy is a faithful one: the device decides as the first one does
        assert any(r == rule for _p, r in private)
        # and no two private devices got the same pages
        assert len({p for p, _r in private}) == len(private)
        return
    pytest.fail(f"{name}: no sequence of seeds 1-5 starts from a device that walks tables")


def test_a_walk_of_a_masked_pointer_gets_neighbouring_pages():
    # x86_lam walks `linear`, an expression of event.pointer: the pointer moves page by page
    # (and by the TLB's sets), the walk of each moved pointer made to translate
    spec = compile_spec(ROOT / "specs" / "x86_lam.vspec")
    ref = load_generated(ROOT / "generated" / "x86_lam")[0]
    f = UnitSequenceFactory(spec, ref)
    for seed in range(1, 6):
        _sc, mem, requests = f.requests(Draw(random.Random(f"{seed}:useq:0")))
        pages = set()
        for req in requests:
            detail: dict = {}
            ref.decide(dict(mem), req, [], detail)
            if detail["pg"]["ok"]:
                pages.add(req["pointer"] >> 12)
        if len(pages) > 4:
            return
    pytest.fail("no sequence of seeds 1-5 walks more than four pages")


def test_some_sequences_of_a_unit_that_handles_read_errors_have_a_failing_word():
    """amd_iommu says what a failed device-table or page-table read means (event codes 3 and
    4): about one sequence in ten carries one word whose reads fail throughout; the word is
    one a step reads, its failure reaches a rule, and the MyHDL model agrees with the
    reference on such a sequence (the failing read traced as op 3 by both, with m_rerr)."""
    from codegen.verify import harness
    from codegen.verify.sequence import compare, run_reference
    from codegen.verify.stimulus.unit_sequence import unit_sequences

    spec = compile_spec(ROOT / "specs" / "amd_iommu.vspec")
    ref, model = load_generated(ROOT / "generated" / "amd_iommu")
    drawn = list(unit_sequences(spec, ref, 30, 1, 8))
    erring = [seq for seq in drawn if seq.errors]
    assert 1 <= len(erring) <= 10
    failed = []
    for seq in erring:
        run = run_reference(ref, seq)
        steps = [s for s in run.steps if any(op == 3 for op, *_ in s.trace)]
        if steps:
            failed.append((seq, steps[0].outcome))
    assert failed, "no drawn failing word was ever read"
    seq, outcome = failed[0]
    assert outcome["exit"]  # the rule that handles the error fired
    assert compare(seq, run_reference(ref, seq), harness.run_model_sequence(model, ref, seq)) == []
