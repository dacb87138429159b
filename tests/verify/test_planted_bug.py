"""The planted invalidation bug of issue 15, on x86_64_paging: INVPCID single-context
(SDM Vol. 2B INVPCID, type 1; Vol. 3A 4.10.4.1) must drop the non-global translations of
the PCID in its descriptor. A design whose drop compares with the *current* PCID instead
(it forgets the operand's tag) keeps PCID 1's translation when software, running under
PCID 2, invalidates PCID 1, changes the page's PTE and switches back with the no-flush bit
(CR3 bit 63, SDM 4.10.4.1: MOV to CR3 with CR4.PCIDE = 1 and bit 63 set invalidates
nothing). The reference and the MyHDL model of that design agree step for step (the exact
cross-check passes); the architectural oracle, judged by the shipped spec, refuses the
stale answer."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import oracle
from codegen.verify.harness import Timing, load_generated, run_model_sequence
from codegen.verify.sequence import Sequence, Step, compare, run_reference

SPEC = Path(__file__).resolve().parents[2] / "specs" / "x86_64_paging.vspec"
RIGHT = "drop tlb when !entry.global && entry.pcid == pcid_op;"
WRONG = "drop tlb when !entry.global && entry.pcid == pcid;"

P, RW, US, A, D = 1, 2, 4, 0x20, 0x40
PML4, PDPT, PD, PT, FRAME, FRAME2 = 0x1000, 0x2000, 0x3000, 0x4000, 0x10_0000, 0x20_0000
VA = (1 << 39) | (2 << 30) | (3 << 21) | (4 << 12) | 0x56  # PML4 index 1, PDPT 2, PD 3, PT 4 (SDM 4.5.4)
CR0 = (1 << 31) | (1 << 16)  # PG, WP
CR4 = (1 << 5) | (1 << 7) | (1 << 17)  # PAE, PGE, PCIDE
NO_FLUSH = 1 << 63


def context(pcid):
    return {"CR0": CR0, "CR3": PML4 | pcid, "CR4": CR4, "EFER": 0, "RFLAGS": 0, "PKRU": 0}


def translate(pcid):
    return Step("translate", {"va": VA, "write": 0, "user": 0, "fetch": 0, **context(pcid)})


def event(name, pcid, **operands):
    return Step("invalidate", {"va": 0, "write": 0, "user": 0, "fetch": 0, **context(pcid)}, name,
                tuple(operands.items()))


SEQUENCE = Sequence(
    {PML4 + 8 * 1: PDPT | P | RW | US | A, PDPT + 8 * 2: PD | P | RW | US | A, PD + 8 * 3: PT | P | RW | US | A,
     PT + 8 * 4: FRAME | P | RW | US | A | D},
    (
        translate(1),                                         # fills PCID 1's translation of VA
        event("mov_cr3", 1, value=PML4 | 2 | NO_FLUSH),       # to PCID 2, keeping PCID 1's entries
        event("single_context", 2, pcid_op=1),                # INVPCID type 1 for PCID 1
        Step("store", address=PT + 8 * 4, value=FRAME2 | P | RW | US | A | D),
        event("mov_cr3", 2, value=PML4 | 1 | NO_FLUSH),       # back to PCID 1
        translate(1),                                         # must see FRAME2
    ))


def build(tmp_path: Path, text: str, name: str):
    path = tmp_path / f"{name}.vspec"
    path.write_text(text)
    out = tmp_path / name
    emit.write(emit.render(compile_spec(path)), out)
    return load_generated(out)


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    text = SPEC.read_text()
    assert text.count(RIGHT) == 1
    return build(tmp, text, "x86_right"), build(tmp, text.replace(RIGHT, WRONG), "x86_forgets_tag")


def test_the_shipped_design_answers_with_the_new_frame(designs):
    (ref, model), _ = designs
    run = run_reference(ref, SEQUENCE)
    assert run.steps[0].outcome == {"ok": True, "pa": FRAME | 0x56, "level": 1}
    assert run.steps[5].outcome == {"ok": True, "pa": FRAME2 | 0x56, "level": 1} and not run.steps[5].hit
    assert compare(SEQUENCE, run, run_model_sequence(model, ref, SEQUENCE, Timing(1, 1, 0))) == []
    assert oracle.check(ref, SEQUENCE, run).problems == []


def test_the_forgotten_tag_passes_the_exact_check_and_fails_the_architectural_one(designs):
    (arch, _), (bug, bug_model) = designs
    run = run_reference(bug, SEQUENCE)
    assert run.steps[5].hit and run.steps[5].outcome["pa"] == FRAME | 0x56  # the stale frame
    assert compare(SEQUENCE, run, run_model_sequence(bug_model, bug, SEQUENCE, Timing(1, 1, 0))) == []
    problems = oracle.check(arch, SEQUENCE, run).problems
    assert len(problems) == 1 and problems[0].startswith("step 5:")
