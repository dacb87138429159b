"""Sequences for a translation with caches: requests, invalidations and software stores
with locality, so that caches hit, miss, evict and go stale (issue 15).

Generic: nothing here knows a table format. A sequence starts from one scenario whose
walk translates (drawn by the translation stimulus). More pages are mapped the way an OS
maps them, into the same tables: for a neighbouring input page the walk is run, and at the
first entry it reads that the first walk did not, the first walk's entry at that step is
copied in, until the page translates; its last entry then gets a different frame (a bit
flipped above the page offset, kept only if the page still translates). Pages a few
granules apart share a leaf table; pages `sets` granules apart fall in one cache set, more
of them than it has ways. Steps then pick pages with a recent-first bias; stores remap,
clear or restore entries; invalidations take operands from what is in use (the pages, the
context registers, the tag values) or nearby values.
"""
from __future__ import annotations

import random

from codegen import ir
from codegen.verify.sequence import Sequence, Step, walk_caches
from codegen.verify.stimulus.translation import Draw, ScenarioFactory, draw_access

# how a step is chosen: percent of translate, store, invalidate (the rest)
TRANSLATE_PERCENT, STORE_PERCENT = 62, 16
RECENT = 4  # pages of the recent window that most requests reuse
SWEEP_PERCENT = 4  # chance that a step starts a sweep through one cache set


class SequenceFactory:
    """Draws sequences for a spec whose top declares caches, with the generated
    reference `ref` of that spec to find out which pages translate."""

    def __init__(self, spec: ir.Spec, ref):
        self.spec, self.ref = spec, ref
        self.top = spec.top
        self.factory = ScenarioFactory(spec)
        self.input_regime = spec.regime(self.top.guest) if isinstance(self.top, ir.Nested) else self.top
        self.width = self.input_regime.input_width
        self.granule = ref.GRANULE
        caches = ref.Caches()
        walk = set(walk_caches(ref))
        first = getattr(caches, next(c for c in ref.CACHES if c not in walk))
        self.sets, self.ways = first.sets, first.ways
        # a paging-structure cache: pages whose deepest cached level's keys share one of its
        # sets, more of them than it has ways (its evictions)
        self.psc = None
        if getattr(ref, "PSC", None):
            p = getattr(caches, ref.PSC)
            self.psc = (ref.INDEX_LO[ref.PSC_LEVELS[0]], p.sets, p.ways)
        # registers the tags read: their values are what invalidation operands name
        self.tag_regs = {r.name for c in self.top.caches for t in c.tags for r in t.value.refs() if r.kind == "ctx"}
        self.operand_widths = {inv.name: [(o.name, o.width) for o in inv.operands] for inv in self.top.invalidations}

    # ---- the starting image
    def _base(self, draw: Draw):
        """A scenario whose walk translates (the first page of the sequence)."""
        sc = None
        for _ in range(40):
            sc = self.factory.make(draw, fault_percent=0, legal=True, exact=True)
            out = self.ref.translate(dict(sc.memory), sc.request, [])
            if out.get("ok") and out.get("level") is not None:
                return sc
        return sc

    def _walk(self, mem: dict, request: dict):
        trace: list = []
        out = self.ref.translate(dict(mem), request, trace)
        return out, [(a, v) for op, a, _s, v in trace if op == 0]

    def _map(self, mem: dict, request: dict, base_reads: list) -> bool:
        """Make `request`'s page translate by copying the base walk's entries into the
        slots its walk reads and the base's did not; False when that does not work."""
        for _ in range(2 * len(base_reads) + 2):
            out, reads = self._walk(mem, request)
            if out.get("ok") and out.get("level") is not None:
                return True
            fix = next(((a, base_reads[i][1]) for i, (a, v) in enumerate(reads)
                        if i < len(base_reads) and a != base_reads[i][0] and v != base_reads[i][1]), None)
            if fix is None:
                return False
            mem[fix[0]] = fix[1]
        return False

    def _remap(self, draw: Draw, mem: dict, request: dict, slot: int) -> None:
        """Give the page at `slot` (its last entry) another frame, if one translates."""
        old = mem.get(slot, 0)
        for _ in range(6):
            mem[slot] = old ^ (1 << draw.int(self.granule, self.granule + 11))
            out, _reads = self._walk(mem, request)
            if out.get("ok"):
                return
        mem[slot] = old

    def pages(self, draw: Draw, sc) -> tuple[dict, list[int], list[int], list[int]]:
        """(memory, input addresses that translate, entry slots their walks read, the
        last slot of each walk: where a page's own translation is)."""
        mem = dict(sc.memory)
        va0 = sc.request[self.ref.INPUT]
        out, base_reads = self._walk(mem, sc.request)
        if not out.get("ok"):
            return mem, [], [a for a, _v in base_reads], [a for a, _v in base_reads[-1:]]
        steps = {1, 2, 3, 5, 8} | {self.sets * j for j in range(1, self.ways + 3)} | {1 << draw.int(4, 12)}
        g, top = self.granule, (1 << self.width) - 1
        if self.psc:
            lo, sets, ways = self.psc
            steps |= {(sets * j) << (lo - g) for j in range(1, ways + 2)}
        inputs, slots, leaves = [va0], {a for a, _v in base_reads}, {base_reads[-1][0]}
        for d in sorted(steps):
            va = (va0 + (d << g)) & top
            req = dict(sc.request, **{self.ref.INPUT: va})
            if self._map(mem, req, base_reads):
                _out, reads = self._walk(mem, req)
                if reads and reads[-1][0] != base_reads[-1][0]:
                    self._remap(draw, mem, req, reads[-1][0])
                inputs.append(va)
                slots |= {a for a, _v in reads}
                leaves |= {a for a, _v in reads[-1:]}
        # keep the pages that still translate on the final image
        keep = [va for va in inputs if self._walk(mem, dict(sc.request, **{self.ref.INPUT: va}))[0].get("ok")]
        return mem, keep, sorted(slots), sorted(leaves)

    # ---- the steps
    def draw(self, draw: Draw, length: int = 60) -> Sequence:
        sc = self._base(draw)
        mem, inputs, slots, leaves = self.pages(draw, sc)
        if not inputs:
            inputs = [sc.request[self.ref.INPUT]]
        ctx = {k: v for k, v in sc.request.items() if k != self.ref.INPUT and k not in self.ref.ACCESS}
        base_access = {a: sc.request[a] for a in self.ref.ACCESS}
        recent: list[int] = []
        steps = []
        start = dict(mem)
        events = list(self.ref.INVALIDATIONS)
        sweep: list[int] = []
        for _ in range(length):
            roll = draw.int(0, 99)
            if not sweep and roll < SWEEP_PERCENT:
                # a sweep: more pages of one cache set than it has ways, one after another
                pick = draw.choice(inputs)
                if self.psc and draw.chance(50):
                    lo, sets, ways = self.psc
                    keys: dict = {}
                    for va in inputs:  # one page per key of the deepest cached level, in one of its sets
                        if (va >> lo) % sets == (pick >> lo) % sets:
                            keys.setdefault(va >> lo, va)
                    sweep = list(keys.values())[:ways + 2]
                else:
                    mates = [va for va in inputs if (va >> self.granule) % self.sets == (pick >> self.granule) % self.sets]
                    sweep = mates[:self.ways + 2]
            if sweep:
                va = sweep.pop(0)
                steps.append(Step("translate", {self.ref.INPUT: va, **base_access, **ctx}))
            elif roll < TRANSLATE_PERCENT or (not events and roll >= TRANSLATE_PERCENT + STORE_PERCENT) or not slots:
                if recent and draw.chance(55):
                    va = draw.choice(recent)
                else:
                    va = draw.choice(inputs)
                va = (va & ~((1 << self.granule) - 1)) | draw.bits(self.granule)
                recent = ([va] + [x for x in recent if x != va])[:RECENT]
                access = base_access if draw.chance(75) else draw_access(draw, self.input_regime)
                steps.append(Step("translate", {self.ref.INPUT: va, **access, **ctx}))
            elif roll < TRANSLATE_PERCENT + STORE_PERCENT:
                # mostly a page's own entry (remap, unmap, restore); now and then a table's
                slot = draw.choice(leaves if leaves and draw.chance(85) else slots)
                old = mem.get(slot, 0)
                how = draw.int(0, 9)
                if how < 4:
                    value = old ^ (1 << draw.int(self.granule, self.granule + 11))
                elif how < 6:
                    value = 0
                else:  # restore an entry software changed, as an OS puts a mapping back
                    changed = [a for a in slots if mem.get(a, 0) != start.get(a, 0)]
                    slot = draw.choice(changed) if changed else slot
                    value = start.get(slot, 0)
                mem[slot] = value
                steps.append(Step("store", address=slot, value=value))
            else:
                name = draw.choice(events)
                request = {**base_access, **ctx, self.ref.INPUT: draw.choice(inputs)}
                # software mostly switches to a context whose tables exist: an event that writes a
                # register is drawn again when a page that translates stops translating
                probe = next((va for va in inputs if self._translates(mem, va, base_access, ctx)), None)
                for attempt in range(12):
                    ops = tuple((o, self._operand(draw, w, inputs, ctx, request, attempt >= 3))
                                for o, w in self.operand_widths[name])
                    after = {k: v for k, v in self.ref.event_context(name, dict(ops), request).items()
                             if k != self.ref.INPUT and k not in self.ref.ACCESS}
                    if after == ctx or probe is None or draw.chance(5) or self._translates(mem, probe, base_access, after):
                        break
                steps.append(Step("invalidate", request, event=name, operands=ops))
                ctx = after
        return Sequence(start, tuple(steps))

    def _translates(self, mem: dict, va: int, access: dict, ctx: dict) -> bool:
        return bool(self._walk(mem, {self.ref.INPUT: va, **access, **ctx})[0].get("ok"))

    def _operand(self, draw: Draw, width: int, inputs: list[int], ctx: dict, request: dict,
                 keep_ctx: bool = False) -> int:
        """An operand value from what is in use: a context register (an event that writes
        one mostly keeps it working), a page, a tag value or a small number; sometimes with
        one low bit (a tag, an offset) or any bit flipped. `keep_ctx`: a register the tags
        read, at most a low bit changed (a new tag in the same tables)."""
        kind = 0 if keep_ctx else draw.int(0, 99)
        tags = [v for cache in self.ref.CACHES for v in self.ref.cache_tags(cache, request)]
        if kind < 35 and ctx:
            same = [v for k, v in ctx.items() if self.ref.CONTEXT_WIDTHS[self.ref.CONTEXT.index(k)] == width]
            tagged = [v for k, v in ctx.items() if k in self.tag_regs]
            v = draw.choice((tagged if keep_ctx or draw.chance(60) else []) or same or list(ctx.values()))
        elif kind < 60:
            v = draw.choice(inputs)
        elif kind < 85 and tags:
            v = draw.choice(tags)
        else:
            v = draw.int(0, 3)
        if draw.chance(25):
            v ^= 1 << draw.int(0, min(width, 12) - 1 if keep_ctx or draw.chance(70) else width - 1)
        return v & ((1 << width) - 1)

def sequences(spec: ir.Spec, ref, count: int, seed: int, length: int = 60, first: int = 0):
    """Sequences first .. first+count-1, sequence i drawn from a seed of its own (so any can
    be replayed, and a run can be split into shards)."""
    f = SequenceFactory(spec, ref)
    for i in range(first, first + count):
        seq = f.draw(Draw(random.Random(f"{seed}:seq:{i}")), length)
        seq.seed = i
        yield seq
