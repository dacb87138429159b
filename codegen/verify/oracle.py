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

from codegen.verify.sequence import Sequence, SequenceRun, walk_caches

# most walks tried for one answer (resume points x stale host translations), so that a
# wrong answer cannot make the search run away
SEARCH_LIMIT = 512


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
    walk = _WalkHeld(arch)
    for i, (st, got) in enumerate(zip(seq.steps, run.steps)):
        if st.op == "store":
            mem[st.address] = st.value
            continue
        if st.op == "invalidate":
            ops = dict(st.operands)
            for key in list(held):
                if key[0] in _tlbs(arch) and arch.drop_holds(key[0], st.event, _Entry(arch, key), ops, st.request):
                    del held[key]
            walk.invalidate(st.event, ops, st.request)
            continue
        runs = walk.permitted(mem, st.request)  # the fresh walk first, then every walk resumed from held state
        fresh = arch.outcome(runs[0])
        o = got.outcome
        if o != fresh:
            if not (o and o.get("ok") and _held(arch, held, st.request, o)) \
                    and not any(arch.outcome(r) == o for r in runs[1:]):
                verdict.problems.append(
                    f"step {i}: answered {o}, but the tables give {fresh} and no translation the architecture "
                    f"lets a cache still hold answers it")
                break
            verdict.stale_hits += 1
        # what a TLB may now hold: the translation of every permitted walk (a walk resumed from
        # held partial translations may give one the tables no longer give)
        access = tuple(st.request[a] for a in arch.ACCESS)
        for r in runs:
            out = arch.outcome(r)
            if out["ok"] and out["level"] is not None:
                g = bool(r[4]) if len(r) > 4 else False
                for cache in _tlbs(arch):
                    key = (cache, access, arch.cache_tags(cache, st.request), g, out["level"],
                           out.get("host_level"), st.request[arch.INPUT] >> _shift(arch, out))
                    held.setdefault(key, set()).add(out["pa"] >> _shift(arch, out))
        for op, addr, _size, value in got.trace:
            if op == 1:
                mem[addr] = value
    return verdict


def _tlbs(arch) -> tuple:
    """The caches of final translations (not the walk caches)."""
    walk = set(walk_caches(arch))
    return tuple(c for c in arch.CACHES if c not in walk)


class _WalkHeld:
    """The partial translations the architecture lets walk caches hold (issue 15): for a
    paging-structure cache, what a walk had after each cached level (keyed by level, input
    bits from that level's index up and the tags: the next level, table, host-physical table,
    accumulators); for a nested TLB, each host translation a walk made (keyed by the
    guest-physical page at the host page's size, the host access kinds and the tags); for a
    paging-structure cache of the host walk, what a host walk that translated had after each
    cached host level (keyed by host level, guest-physical bits from that level's index up
    and the tags). Each is held from the walk that gave it until an invalidation the
    architecture declares drops it. A permitted walk runs on the current memory from the
    root or resumed from a held partial translation, and takes for each host translation a
    host walk from the root, one resumed from a held partial host translation, or any held
    host translation; an answer is permitted when a permitted walk gives it, and whatever
    any permitted walk made is held (a cache following that walk may hold it)."""

    def __init__(self, arch):
        self.arch = arch
        self.psc = getattr(arch, "PSC", None)
        self.ntlb = getattr(arch, "NTLB", None)
        self.hpsc = getattr(arch, "HPSC", None)
        self.tables: dict[tuple, set] = {}  # (level, key, tags) -> {(nxt, table, htable, accs)}
        # (kinds, tags, host_level, gpa >> shift) -> {(hpa >> shift, what else the host reported:
        # its accumulators, when the composition folds over its translations)}
        self.host: dict[tuple, set] = {}
        self.host_tables: dict[tuple, set] = {}  # (host level, gpa key, tags) -> {(nxt, table, htable, accs)}
        self.taken: list = []  # the host translations the last run made
        self.host_seen: list = []  # (gpa, tags, seen) of each host walk the last run made that translated

    def run(self, mem, request, trace, start, seen, choice, counts=None):
        """One walk; a host translation number k takes held option choice[k] (0: walk);
        the host translations it walked are in self.taken, the partial host translations of
        its host walks that translated in self.host_seen."""
        arch = self.arch
        self.taken = []
        self.host_seen = []
        if not (self.ntlb or self.hpsc):
            if self.psc:
                return arch.walk(mem, request, trace, start, seen)
            return arch.walk(mem, request, trace)
        calls = [0]
        ptags = arch.cache_tags(self.hpsc, request) if self.hpsc else ()

        def answer(gpa, kinds, tags, off, run):
            k = calls[0]
            calls[0] += 1
            opts = [] if off else ([("held", h) for h in self._host_options(gpa, kinds, tags)]
                                   + [("start", x) for x in self._host_starts(gpa, ptags, run)])
            if counts is not None:
                counts.append(1 + len(opts))
            pick = choice[k] if k < len(choice) else 0
            what, hstart = opts[pick - 1] if pick else ("start", None)
            if what == "held":
                return hstart
            hseen: list | None = [] if self.hpsc else None
            h = run(hstart, hseen)
            if not off and h[0] == 0 and h[2] is not None:
                if self.ntlb:
                    self.taken.append((gpa, kinds, tags, h[1], h[2], tuple(h[4:])))
                if self.hpsc:
                    self.host_seen.append((gpa, ptags, hseen))
            return h
        return arch.walk(mem, request, trace, start if self.psc else None, seen, arch.host_hook(request, answer))

    def _host_options(self, gpa, kinds, tags) -> list:
        out = []
        for (k, t, host_level, page), frames in self.host.items():
            s = self.arch.HOST_SHIFT[host_level]
            if k == kinds and t == tags and page == gpa >> s:
                out += [(0, (f << s) | (gpa & ((1 << s) - 1)), host_level, 0) + extra for f, extra in sorted(frames)]
        return out

    def _host_starts(self, gpa, ptags, run) -> list:
        """The held partial host translations a host walk of `gpa` may resume from, deepest
        level first, less those a walk from the root on the current memory also has (a walk
        resumed from one of those gives what the walk from the root gives)."""
        if not self.hpsc:
            return []
        arch = self.arch
        held = [(n, v) for n in arch.HPSC_LEVELS
                for v in sorted(self.host_tables.get((n, gpa >> arch.HOST_INDEX_LO[n], ptags), ()), key=repr)]
        if not held:
            return []
        fresh_seen: list = []
        run(None, fresh_seen, True)
        fresh = {(n, (nxt, table, htable, accs)) for n, nxt, table, accs, htable in fresh_seen}
        return [v for n, v in held if (n, v) not in fresh]

    def _keep_host(self) -> None:
        for gpa, kinds, tags, hpa, host_level, extra in self.taken:
            s = self.arch.HOST_SHIFT[host_level]
            self.host.setdefault((kinds, tags, host_level, gpa >> s), set()).add((hpa >> s, extra))
        arch = self.arch
        for gpa, ptags, hseen in self.host_seen:
            for n, nxt, table, accs, htable in hseen:
                if n in arch.HPSC_LEVELS:
                    key = (n, gpa >> arch.HOST_INDEX_LO[n], ptags)
                    self.host_tables.setdefault(key, set()).add((nxt, table, htable, accs))

    def keep(self, request, seen) -> None:
        """Hold the partial translations of a walk's cached levels."""
        if not self.psc:
            return
        arch = self.arch
        tags = arch.cache_tags(self.psc, request)
        for n, nxt, table, accs, htable in seen:
            if n in arch.PSC_LEVELS and htable is not None:
                key = request[arch.INPUT] >> arch.INDEX_LO[n]
                self.tables.setdefault((n, key, tags), set()).add((nxt, table, htable, accs))

    def starts(self, request) -> list:
        """The held partial translations a walk of `request` may resume from."""
        if not self.psc:
            return []
        arch = self.arch
        tags = arch.cache_tags(self.psc, request)
        out = []
        for n in arch.PSC_LEVELS:
            out += sorted(self.tables.get((n, request[arch.INPUT] >> arch.INDEX_LO[n], tags), ()), key=repr)
        return out

    def permitted(self, mem, request) -> list:
        """The results of every permitted walk of `request` on `mem` (the fresh walk first):
        from the root or resumed from each held partial translation, each host translation
        walked or taken from each held one (at most SEARCH_LIMIT walks). What they used or
        made (partial translations, host translations) is held from now on: a cache
        following any of them may hold it."""
        out, seens, taken, host_seen = [], [], [], []
        budget = SEARCH_LIMIT
        for start in [None] + self.starts(request):
            stack = [()]
            while stack and budget > 0:
                budget -= 1
                prefix = stack.pop()
                counts: list = []
                seen: list = []
                out.append(self.run(dict(mem), request, [], start, seen, prefix, counts))
                seens.append(seen)
                taken += self.taken
                host_seen += self.host_seen
                for k in range(len(prefix), len(counts)):
                    for alt in range(1, counts[k]):
                        stack.append(prefix + (0,) * (k - len(prefix)) + (alt,))
            if not (self.psc or self.ntlb or self.hpsc):
                break
        for seen in seens:
            self.keep(request, seen)
        self.taken, self.host_seen = taken, host_seen
        self._keep_host()
        return out

    def invalidate(self, event, ops, request) -> None:
        arch = self.arch
        if self.psc:
            for (n, key, tags) in list(self.tables):
                if arch.drop_holds(self.psc, event, _Held(key=key, level=n, tags=tags), ops, request):
                    del self.tables[(n, key, tags)]
        if self.hpsc:
            for (n, key, tags) in list(self.host_tables):
                if arch.drop_holds(self.hpsc, event, _Held(key=key, level=n, tags=tags), ops, request):
                    del self.host_tables[(n, key, tags)]
        if self.ntlb:
            for (kinds, tags, host_level, page) in list(self.host):
                s = arch.HOST_SHIFT[host_level]
                en = _Held(key=(page << s) >> arch.GRANULE, level=None, tags=tags, host_level=host_level, access=kinds,
                           shift=s)
                if arch.drop_holds(self.ntlb, event, en, ops, request):
                    del self.host[(kinds, tags, host_level, page)]


class _Held:
    """A held partial translation in the shape the reference's drop conditions read."""

    glob = False

    def __init__(self, key, level, tags, host_level=None, access=(), shift=0):
        self.key, self.level, self.tags, self.host_level, self.access = key, level, tags, host_level, access
        self._shift = shift

    def shift(self):
        return self._shift


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
    not dropped by an invalidation since; replacement never matters). Like `check`, whatever
    any permitted mix filled is held from then on."""
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
        # every mix is run, not only up to the first that gives the answer: two mixes may give
        # the same answer and fill different entries (a stale device entry's tags and the
        # current one's), and the design may have followed either
        for _ in range(MAX_CHOICES):
            p = _Permitted(arch, held, choice)
            out = arch.decide(dict(mem), st.request, [], None, p, seq.errors)
            fills += p.fills
            if fresh is None:
                fresh = out
            if out == got.outcome and not matched:
                matched = True
                verdict.stale_hits += out != fresh
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
