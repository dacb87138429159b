"""Sequences: what software does to a translation that caches — requests, invalidations and
its own stores to the tables, in order, against one memory image (issue 15).

A scenario of a translation without caches is one request against fresh memory; with
caches, what matters is what came before: a page looked up twice, a table entry changed
between, an invalidation that did or did not remove the old translation. A Sequence holds
the starting image and the steps; `run_reference` runs it on a generated reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """One thing software does.

    op "translate": a request (`request`: input, access kinds, context registers);
    op "invalidate": invalidation `event` with `operands` ((name, value) pairs in the
    declared order) at context `request`;
    op "store": software writes `value` (one table entry) at `address`, with no
    invalidation of its own — the caches may keep what they had."""

    op: str
    request: dict = field(default_factory=dict)
    event: str = ""
    operands: tuple = ()
    address: int = 0
    value: int = 0


@dataclass
class Sequence:
    """A memory image and the steps run on it from reset caches; `errors`: the addresses
    whose reads answer with an error, in every step (a failing word stays failing)."""

    memory: dict
    steps: tuple
    seed: int = 0
    errors: frozenset = frozenset()


@dataclass
class StepRun:
    """What one step gave: a translate step's outcome, whether a cache answered it, and
    its ordered memory references; an invalidation's and a store's are empty. `detail`
    is what the reference's caches did (coverage only, not compared); `cycles` the
    cycle-level model's cycles for the step."""

    outcome: dict | None = None
    hit: bool = False
    trace: list = field(default_factory=list)
    detail: dict = field(default_factory=dict)
    cycles: int = 0


@dataclass
class SequenceRun:
    steps: list
    memory: dict
    timeout: int = 0  # a model run the watchdog stopped: the limit it passed


def has_caches(ref) -> bool:
    """Whether a generated reference has translation caches (and so runs sequences)."""
    return bool(getattr(ref, "CACHES", ()))


def walk_caches(ref) -> tuple[str, ...]:
    """The paging-structure caches (of the input walk and, nested, of the host walk) and
    the nested TLB of a generated reference (issue 15)."""
    return tuple(c for c in (getattr(ref, "PSC", None), getattr(ref, "NTLB", None), getattr(ref, "HPSC", None)) if c)


def model_caches(ref, model) -> tuple[str, ...] | None:
    """The caches of `ref` a cycle-level model is compared with: None for all of them (no
    walk caches, or the model holds every one), else the TLBs and the walk caches the model
    holds. A model says which in WALK_CACHES: True every walk cache, a tuple of names some
    (a model built before a kind of walk cache was), unset none."""
    walk = walk_caches(ref)
    held = getattr(model, "WALK_CACHES", False)
    names = set(walk) if held is True else set(held or ())
    if not walk or set(walk) <= names:
        return None
    return tuple(c for c in ref.CACHES if c not in walk or c in names)


def run_reference(ref, seq: Sequence, walk: bool = True, enabled: tuple[str, ...] | None = None) -> SequenceRun:
    """Run every step of `seq` on the generated reference `ref`, from reset caches;
    `walk=False` without its walk caches (the TLBs only); `enabled` with only the caches
    it names (model_caches: what a model is compared with)."""
    mem = dict(seq.memory)
    caches = ref.Caches(walk, enabled) if walk_caches(ref) else ref.Caches()
    out = []
    for st in seq.steps:
        if st.op == "translate":
            trace: list = []
            detail: dict = {}
            if hasattr(ref, "decide_cached"):  # a unit: hit is the names of the caches that hit
                outcome, hit = ref.decide_cached(caches, mem, st.request, trace, detail, seq.errors)
            else:
                outcome, hit = ref.translate_cached(caches, mem, st.request, trace, detail)
            out.append(StepRun(outcome, hit, trace, detail))
        elif st.op == "invalidate":
            detail = {}
            ref.invalidate(caches, st.event, dict(st.operands), st.request, detail)
            out.append(StepRun(detail=detail))
        elif st.op == "store":
            mem[st.address] = st.value
            out.append(StepRun())
        else:
            raise ValueError(f"expected a step op translate, invalidate or store, not {st.op!r}")
    return SequenceRun(out, mem)


def compare(seq: Sequence, want: SequenceRun, got: SequenceRun) -> list[str]:
    """Where the model's run differs from the reference's: per translate step the outcome,
    the hit and the ordered trace; at the end the memory image. Empty when they agree."""
    if got.timeout:
        return [f"model did not finish a step within {got.timeout} cycles"]
    problems = []
    for i, (st, a, b) in enumerate(zip(seq.steps, want.steps, got.steps)):
        if st.op != "translate":
            continue
        if a.outcome != b.outcome:
            problems.append(f"step {i}: outcome: reference {a.outcome}, model {b.outcome}")
        if a.hit != b.hit:
            problems.append(f"step {i}: hit: reference {a.hit}, model {b.hit}")
        if a.trace != b.trace:
            problems.append(f"step {i}: trace: reference {a.trace}, model {b.trace}")
        if problems:
            break
    if len(got.steps) != len(want.steps):
        problems.append(f"the model ran {len(got.steps)} steps, not {len(want.steps)}")
    if not problems and want.memory != got.memory:
        diff = sorted(k for k in set(want.memory) | set(got.memory) if want.memory.get(k, 0) != got.memory.get(k, 0))
        problems.append(f"final memory differs at {[hex(k) for k in diff[:8]]}")
    return problems
