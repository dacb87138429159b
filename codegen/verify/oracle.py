"""The architectural check of a sequence: is every answer one the architecture permits?

The exact cross-check compares two models of one cache design; if the design itself is
wrong (an invalidation that keeps what the manual says it must remove), both agree and the
check passes. This oracle has no cache. It keeps the set of translations the architecture
lets a cache still hold — every translation a walk gave since the sequence began, minus
those an invalidation the architecture declares has removed since — and accepts a
translate step's outcome only if it is what the current tables give, or a translation in
that set (a stale hit the architecture permits). Its facts (tags, global pages, what each
invalidation removes) come from the generated reference of the architecture's spec, which
need not be the spec of the design under test.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from codegen.verify.sequence import Sequence, SequenceRun


@dataclass
class Verdict:
    problems: list = field(default_factory=list)
    stale_hits: int = 0  # answers from a translation the tables no longer give, but permitted


def check(arch, seq: Sequence, run: SequenceRun) -> Verdict:
    """Check the answers `run` gave to `seq` against the architecture (`arch`: a generated
    reference module). The memory each step saw is rebuilt from the run's own writes."""
    verdict = Verdict()
    mem = dict(seq.memory)
    # (cache, access, tags, glob, level, host_level, input page) -> output pages: a page the tables
    # mapped to two frames at two times may be held with either
    held: dict[tuple, set] = {}
    for i, (st, got) in enumerate(zip(seq.steps, run.steps)):
        if st.op == "store":
            mem[st.address] = st.value
            continue
        if st.op == "invalidate":
            ops = dict(st.operands)
            for key in list(held):
                if arch.drop_holds(key[0], st.event, _Entry(arch, key), ops, st.request):
                    del held[key]
            continue
        fresh_trace: list = []
        r = arch.walk(dict(mem), st.request, fresh_trace)
        fresh = arch.outcome(r)
        o = got.outcome
        if o != fresh:
            if not (o and o.get("ok") and _held(arch, held, st.request, o)):
                verdict.problems.append(
                    f"step {i}: answered {o}, but the tables give {fresh} and no translation the architecture "
                    f"lets a cache still hold answers it")
                break
            verdict.stale_hits += 1
        if fresh["ok"] and fresh["level"] is not None:
            access = tuple(st.request[a] for a in arch.ACCESS)
            glob = bool(r[4]) if len(r) > 4 else False
            for cache in arch.CACHES:
                key = (cache, access, arch.cache_tags(cache, st.request), glob, fresh["level"],
                       fresh.get("host_level"), st.request[arch.INPUT] >> _shift(arch, fresh))
                held.setdefault(key, set()).add(fresh["pa"] >> _shift(arch, fresh))
        for op, addr, _size, value in got.trace:
            if op == 1:
                mem[addr] = value
    return verdict


def _shift(arch, o: dict) -> int:
    s = arch.SHIFT[o["level"]]
    if hasattr(arch, "HOST_SHIFT") and o.get("host_level") is not None:
        s = min(s, arch.HOST_SHIFT[o["host_level"]])
    return s


def _held(arch, held: dict, request: dict, o: dict) -> bool:
    """Whether a held translation answers `request` with outcome `o`."""
    i_addr = request[arch.INPUT]
    access = tuple(request[a] for a in arch.ACCESS)
    s = _shift(arch, o)
    for (cache, acc, tags, glob, level, host_level, page), pa_pages in held.items():
        if acc != access or level != o["level"] or host_level != o.get("host_level") or page != i_addr >> s:
            continue
        want = arch.cache_tags(cache, request)
        ignores = getattr(arch.Caches(), cache).ignores  # the tags a global translation does not compare
        if all(h == w or (glob and k in ignores) for k, (h, w) in enumerate(zip(tags, want))):
            if o["pa"] >> s in pa_pages and o["pa"] & ((1 << s) - 1) == i_addr & ((1 << s) - 1):
                return True
    return False


class _Entry:
    """A held translation in the shape the reference's drop conditions read."""

    def __init__(self, arch, key: tuple):
        cache, access, self.tags, self.glob, self.level, self.host_level, page = key
        self.access = access
        self.key = (page << _shift(arch, {"level": self.level, "host_level": self.host_level})) >> arch.GRANULE


# ---- units: a cache-free oracle for caches in front of a unit's walks and structure reads

MAX_CHOICES = 64  # runs of the unit per request: each a different mix of held entries


class _Permitted:
    """Stands for a unit's caches in `decide`: at each lookup it answers with a miss
    (memory as it is now) or with one of the held entries that match, as `choice` says;
    it records how many options each lookup had and every fill."""

    def __init__(self, arch, held: dict, choice: list):
        self.arch, self.held, self.choice = arch, held, choice
        self.options: list[int] = []
        self.fills: list = []
        self.hits, self.detail = [], None

    def look(self, name, key, access=(), tags=()):
        structure = self.arch.GEOMETRY[name][0] == "structure"
        found = [en for en in self.held[name].values()
                 if en.key == key and (structure or (en.access == access and en.tags == tags))]
        i = self.choice[len(self.options)] if len(self.options) < len(self.choice) else 0
        self.options.append(len(found) + 1)
        return found[i - 1] if i else None

    def fill(self, name, en):
        self.fills.append((name, en))


def _next_choice(choice: list, options: list) -> list | None:
    """The next mix, odometer order over the options the last run met; None when done."""
    c = list(choice) + [0] * (len(options) - len(choice))
    for k in range(len(options) - 1, -1, -1):
        if c[k] + 1 < options[k]:
            return c[:k] + [c[k] + 1]
    return None


def check_unit(arch, seq: Sequence, run: SequenceRun) -> Verdict:
    """The architectural check for a unit with caches: every answer must be what `decide`
    gives when each cached step either reads memory as it is now or uses an entry the
    architecture lets a cache still hold (any entry filled since the sequence began and
    not dropped by an invalidation since; replacement never matters)."""
    verdict = Verdict()
    mem = dict(seq.memory)
    held: dict[str, dict] = {name: {} for name in arch.CACHES}
    for i, (st, got) in enumerate(zip(seq.steps, run.steps)):
        if st.op == "store":
            mem[st.address] = st.value
            continue
        if st.op == "invalidate":
            ops = dict(st.operands)
            for name, entries in held.items():
                for ident in [k for k, en in entries.items() if arch.drop_holds(name, st.event, en, ops, st.request)]:
                    del entries[ident]
            continue
        fresh = None
        choice: list | None = []
        matched = False
        fills = []
        for _ in range(MAX_CHOICES):
            p = _Permitted(arch, held, choice)
            out = arch.decide(dict(mem), st.request, [], None, p)
            fills += p.fills
            if fresh is None:
                fresh = out
            if out == got.outcome:
                matched = True
                if choice and any(choice):
                    verdict.stale_hits += out != fresh
                break
            choice = _next_choice(choice, p.options)
            if choice is None:
                break
        if not matched:
            verdict.problems.append(
                f"step {i}: answered {got.outcome}, but the tables give {fresh} and no entry the architecture "
                "lets a cache still hold answers it")
            break
        for name, en in fills:
            held[name].setdefault(en.ident(), en)
        for op, addr, _size, value in got.trace:
            if op == 1:
                mem[addr] = value
    return verdict
