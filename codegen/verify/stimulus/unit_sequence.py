"""Sequences for a decision unit with caches (issue 15, caches on units): requests (the
unit's events), invalidations and software stores against one memory image, with the
locality that makes caches hit, miss, evict and go stale.

Generic: nothing here knows a structure or a table format. A sequence starts from one
scenario whose cached steps run (drawn by the unit stimulus). More requests are derived
from it the way software sets up more devices and pages:
- a cached structure is copied to the address the structure has for other values of the
  event fields its address reads (another device using the same entry: a domain whose
  tables two devices share); in some copies the fields a walk cache's tags read are
  redrawn (another domain, same tables), and in others the tables the copy's walks read
  are copied too, to pages of their own, so that the copy is a device with private
  tables (_private_tables);
- a cached walk's input moves to neighbouring pages, whose walks are made to translate by
  copying the first walk's entries into the slots they read, and pages `sets` granules
  apart so that one cache set overflows; a cached call's key (an event field) moves the
  same way, the call made to decide as it did.
Steps then pick requests with a recent-first bias; stores change, clear or restore the
words the requests read; often (SHARED_PERCENT) one flips a bit that changes what a hit
decides — of a word both a cached answer was computed from and the hit still reads (a
later step's table entry: changed after the fill, the hit's later steps see a table the
cached answer did not, which no single event shows), or of a context register (software
disabling what it enabled), for the requests after it — each decision such a flip gives
as likely as another (found by trying each bit on the reference), and the next request is
mostly one whose hit was tried; invalidations take operands from what is in use (event field
values, input pages, with a run of ones below a random bit as a range, tag values), and
when they aim at an entry the reference holds, the operand bits their drop conditions
decode (fields of a command word) get that entry's values (drop_operands.py). In a unit
whose spec says what a failed read means, one sequence in ten gets one word whose reads
answer with an error throughout (_with_error): a word a step reads, whose error the spec
handles, as the single-event stimulus draws it.
"""
from __future__ import annotations

import copy
import random

from codegen import ir
from codegen.ir.expr import mask
from codegen.verify.sequence import Sequence, Step, run_reference
from codegen.verify.stimulus.drop_operands import hit_operands
from codegen.verify.stimulus.translation import Draw, Scenario, table_shift
from codegen.verify.stimulus.unit import ERROR_PERCENT, UnitScenarioFactory

TRANSLATE_PERCENT, STORE_PERCENT = 64, 14
RECENT = 4
SHARED_PERCENT = 50  # store steps that flip a bit changing a hit's decision (_shared), when there is one
SHARED_REQUESTS = 4  # requests whose shared words' and context registers' bits are tried (a reference run a bit)
PRIVATE_TRIES = 20  # random offsets tried for a private copy of a device's tables
BASE_CANDIDATES = 4  # scenarios filling a call cache that _base picks from, half of the time
AGAIN_PERCENT = 70  # after a flip at a decisive bit: the next request is one whose hit was tried


class UnitSequenceFactory:
    def __init__(self, spec: ir.Spec, ref):
        self.spec, self.ref = spec, ref
        self.unit: ir.Unit = spec.top
        self.factory = UnitScenarioFactory(spec)
        self.event_widths = dict(zip(ref.EVENT, ref.EVENT_WIDTHS))
        self.operand_widths = {inv.name: [(o.name, o.width) for o in inv.operands] for inv in self.unit.invalidations}
        self.walk_caches = [c for c in self.unit.caches if c.source == "walk"]
        self.struct_caches = [c for c in self.unit.caches if c.source == "structure"]
        self.call_caches = [c for c in self.unit.caches if c.source == "call"]
        self.invalidations = {inv.name: inv for inv in self.unit.invalidations}
        self.caches = {c.name: c for c in self.unit.caches}

    def _run(self, mem: dict, request: dict):
        trace: list = []
        detail: dict = {}
        out = self.ref.decide(dict(mem), request, trace, detail)
        return out, detail, trace

    def _walked(self, detail: dict) -> bool:
        return any(detail.get(c.of, {}).get("ok") for c in self.walk_caches)

    def _base(self, draw: Draw):
        """A first scenario whose cached steps run. With a call cache, half of the time the
        one of the first BASE_CANDIDATES that fill it whose hit reads the most words the
        fill read too (`_shared`: a hit whose later steps read what the cached answer was
        computed from, where a changed table shows what one event cannot)."""
        best = None
        filling: list = []
        want = BASE_CANDIDATES if self.call_caches and draw.chance(50) else 1
        for _ in range(60):
            sc = self.factory.make(draw)
            _out, detail, trace = self._run(sc.memory, sc.request)
            if self.call_caches and not self.walk_caches:
                if any(self._filled(sc.memory, sc.request, c.name) for c in self.call_caches):
                    filling.append(sc)
                    if len(filling) >= want:
                        break
            elif self._walked(detail) or (not self.walk_caches and trace):
                return sc
            if best is None and trace:
                best = sc
        if filling:
            return max(filling, key=lambda sc: len(self._shared(sc.memory, [sc.request], bits=False)[0]))
        return best or sc

    def _event_refs(self, e) -> list[str]:
        return sorted({r.name for r in e.refs() if r.kind == "event"})

    def _filled(self, mem: dict, req: dict, cache: str):
        """The entries a request fills `cache` with, from empty caches."""
        caches = self.ref.Caches()
        self.ref.decide_cached(caches, dict(mem), req, [])
        return [en for line in caches.by_name[cache].lines for en in line if en is not None]

    def _clone_structures(self, draw: Draw, mem: dict, base_req: dict, requests: list) -> None:
        """Other values of the event fields a cached structure's address reads, with the
        structure's words copied there (sometimes with a walk-cache tag field redrawn)."""
        for c in self.struct_caches:
            st = self.unit.structure(c.of)
            fields = self._event_refs(st.base)
            filled = self._filled(mem, base_req, c.name)
            if not fields or not filled:
                continue
            base = filled[0].key
            tag_fields = [r for wc in self.walk_caches for t in wc.tags for r in t.value.refs()
                          if r.kind == "struct" and r.name.split(".")[0] == st.name]
            # random neighbours, and multiples of the number of sets (one set overflows
            # when the field scales the address)
            flips = [draw.bits(8) or 1 for _ in range(draw.int(2, 6))] + [c.sets * j for j in range(1, c.ways + 2)]
            for k, flip in enumerate(flips):
                req = dict(base_req)
                name = draw.choice(fields)
                width = self.event_widths[name]
                req[name] = (req[name] ^ flip) & mask(width)
                moved = self._filled(mem, req, c.name)
                if not moved or moved[0].key == base or any(moved[0].key <= a < moved[0].key + st.size for a in mem):
                    continue
                nb = moved[0].key
                for off in range(0, st.size, 8):
                    if base + off in mem:
                        mem[nb + off] = mem[base + off]
                # every third copy shares the domain (tables and tags), the others are
                # another domain: over the same tables, or over a private copy of them
                if tag_fields and k % 3 != 0:
                    r = draw.choice(tag_fields)
                    word = nb + st.field(r.name.split(".")[1]).word
                    mem[word] = mem.get(word, 0) ^ (1 << (r.lo + draw.int(0, r.width - 1)))
                if k % 3 == 2:
                    self._private_tables(draw, mem, req, {nb + off for off in range(0, st.size, 8)})
                requests.append(req)

    def _private_tables(self, draw: Draw, mem: dict, req: dict, own: set[int]) -> int:
        """Give the request tables of its own: the pages it reads after the words `own` (its
        copy of a structure) are copied by one offset to free pages, and each word that
        still leads a read into an old page (a structure field, a table entry's pointer or
        frame) is moved by the offset, the move found by trying each field's bits on the
        reference. A page no word can be found to lead to stays shared. Returns the pages
        made private."""
        trace = self._run(mem, req)[2]
        reads = [a for op, a, _s, _v in trace if op == 0]
        last_own = max((i for i, a in enumerate(reads) if a in own), default=None)
        if last_own is None:
            return 0
        g = max([12] + [table_shift(r) for r in self._walked_regimes()])
        own_pages = {a >> g for a in own}
        pages = {a >> g for a in reads[last_own + 1:]} - own_pages
        delta = self._free_offset(draw, mem, pages, g)
        if not pages or delta is None:
            return 0
        for a in [a for a in mem if a >> g in pages]:
            mem[a + delta] = mem[a]
        moved = set(pages)
        for _ in range(4 * len(reads)):
            trace = self._run(mem, req)[2]
            now = [(a, v) for op, a, _s, v in trace if op == 0]
            i = next((i for i, (a, _v) in enumerate(now) if a >> g in moved and a not in own), None)
            if i is None:
                break
            if not self._redirect(mem, req, now, i, delta, own, {p + (delta >> g) for p in moved}, g):
                page = now[i][0] >> g  # nothing leads there that can be moved: the page stays shared
                moved.discard(page)
                for a in [a for a in mem if a >> g == page + (delta >> g)]:
                    del mem[a]
        return len(moved)

    def _walked_regimes(self) -> list[ir.Regime]:
        out = []
        for w in self.unit.walks:
            top = next((n for n in self.spec.nested if n.name == w.regime), None) if w.nested else None
            out += [self.spec.regime(top.guest), self.spec.regime(top.host)] if top else [self.spec.regime(w.regime)]
        return out

    @staticmethod
    def _free_offset(draw: Draw, mem: dict, pages: set[int], g: int) -> int | None:
        """An offset, a multiple of 2 MiB (and of the table granule), that moves `pages` onto
        pages nothing uses, below the power of two above the highest of them (the stimulus
        drew them below the address width, so their pointers can hold the new ones)."""
        if not pages:
            return None
        step = 1 << max(21, g)
        used = {a >> g for a in mem}
        limit = max((max(pages) << g).bit_length(), 22, g + 1)
        for _ in range(PRIVATE_TRIES):
            delta = draw.int(1, (1 << limit) // step) * step * (1 if draw.chance(50) else -1)
            new = {(p << g) + delta for p in pages}
            if all(0 <= a and a + (1 << g) <= 1 << limit for a in new) and not {a >> g for a in new} & used:
                return delta
        return None

    def _redirect(self, mem: dict, req: dict, reads: list, i: int, delta: int, own: set[int], new_pages: set[int],
                  g: int) -> bool:
        """Move, by `delta`, the address field of a word read before read `i` (one of `own`,
        or one in the new pages) so that read `i` goes `delta` further: a field of the
        structure or of a table entry, the offset added at each address shift the field
        can carry (the field's bits as the address bits they are, or shifted down)."""
        target = reads[i][0] + delta
        for a, v in reversed(reads[:i]):
            if not (a in own or a >> g in new_pages):
                continue
            for lo, width in self._fields_at(a, own):
                field = (v >> lo) & mask(width)
                for shift in range(0, 64):
                    if delta % (1 << shift):
                        break
                    moved = field + (delta >> shift)
                    if not 0 <= moved <= mask(width):
                        continue
                    trial = dict(mem)
                    trial[a] = (v & ~(mask(width) << lo)) | (moved << lo)
                    after = [x for op, x, _s, _v in self._run(trial, req)[2] if op == 0]
                    if len(after) > i and after[i] == target and after[:i] == [x for x, _ in reads[:i]]:
                        mem[a] = trial[a]
                        return True
        return False

    def _fields_at(self, a: int, own: set[int]) -> list[tuple[int, int]]:
        """(low bit, width) of each field that may hold an address in the 8-byte word at `a`:
        a table word's pointer and frame fields (of any entry format of the walked regimes,
        by its place in the entry), a structure word's own fields and the whole word."""
        out: list[tuple[int, int]] = []
        if a in own:
            word = a - min(own)
            for st in self.unit.structures:
                out += [(f.offset % 8 * 8, f.width) for f in st.fields if f.word == word and 8 < f.width < 64]
            return [(0, 64)] + sorted(set(out), key=lambda x: -x[1])
        for regime in self._walked_regimes():
            for lv in regime.levels:
                for fmt, terms in ((lv.table, regime.pointer), (lv.leaf, regime.frame_of(lv))):
                    layout = self.spec.layout(fmt) if fmt else None
                    for t in terms if layout else ():
                        piece = t.piece(layout)
                        if piece and piece[0] // 64 == (a % regime.entry_bytes) // 8:
                            out.append((piece[0] % 64, piece[1]))
        return sorted(set(out))

    def _keys(self, draw: Draw, mem: dict, base_req: dict, requests: list) -> None:
        """Neighbouring pieces of each cached call whose key is an event field: the call
        made to decide as it did for the base request, and pieces `sets` apart so that one
        set overflows."""
        for c in self.call_caches:
            key = c.key
            if not (key.op == "ref" and key.kind == "event" and key.lo == 0):
                continue
            _o, detail, _t = self._run(mem, base_req)
            rule = detail.get(c.of, {}).get("rule")
            if not detail.get(c.of, {}).get("called"):
                continue
            self._neighbours(mem, base_req, requests, key.name, c.page, c,
                             lambda det, c=c, rule=rule: det.get(c.of, {}).get("rule") == rule)

    def _pages(self, draw: Draw, mem: dict, base_req: dict, requests: list) -> None:
        """Neighbouring pages of each cached walk whose input is an event field, or an
        expression of one event field as wide as the input (a masked pointer) and of
        narrower fields and registers: the field moves, the expression mostly with it."""
        for c in self.walk_caches:
            walk = next(w for w in self.unit.walks if w.name == c.of)
            field = _moving_field(walk, self.spec.regime(walk.regime).input_width if not walk.nested else None)
            if field is None:
                continue
            _o, detail, _t = self._run(mem, base_req)
            if not detail.get(walk.name, {}).get("ok"):
                continue
            g = min(lv.page_shift for lv in self.spec.regime(walk.regime).levels if lv.leaf)
            self._neighbours(mem, base_req, requests, field, g, c,
                             lambda det, name=walk.name: det.get(name, {}).get("ok"))

    def _neighbours(self, mem: dict, base_req: dict, requests: list, field: str, shift: int, cache, decided) -> None:
        """Requests whose `field` moves 1, 2, 3, 5 and `sets` x 1.. pieces of 2^shift bytes
        from the base's, each kept once `decided(detail)` holds: the words it reads that
        differ from the base request's are copied from them, one at a time, until it does."""
        base_reads = [(a, v) for op, a, _s, v in self._run(mem, base_req)[2] if op == 0]
        steps = {1, 2, 3, 5} | {cache.sets * j for j in range(1, cache.ways + 3)}
        for d in sorted(steps):
            req = dict(base_req, **{field: (base_req[field] + (d << shift)) & mask(self.event_widths[field])})
            for _ in range(2 * len(base_reads) + 2):
                _o, det, tr = self._run(mem, req)
                if decided(det):
                    requests.append(req)
                    break
                reads = [(a, v) for op, a, _s, v in tr if op == 0]
                fix = next(((a, base_reads[i][1]) for i, (a, v) in enumerate(reads)
                            if i < len(base_reads) and a != base_reads[i][0] and v != base_reads[i][1]), None)
                if fix is None:
                    break
                mem[fix[0]] = fix[1]

    def requests(self, draw: Draw) -> tuple[Scenario, dict, list[dict]]:
        """The first scenario, the memory image and the requests derived from it (more
        pages, call keys and devices: sharing the first one's tables, another domain over
        them, or tables of their own)."""
        sc = self._base(draw)
        mem = dict(sc.memory)
        requests = [dict(sc.request)]
        self._pages(draw, mem, sc.request, requests)
        self._keys(draw, mem, sc.request, requests)
        self._clone_structures(draw, mem, sc.request, requests)
        for r in list(requests[1:]):  # the new devices' pages too
            if draw.chance(40):
                self._pages(draw, mem, r, requests)
        return sc, mem, requests

    def draw(self, draw: Draw, length: int = 60) -> Sequence:
        sc, mem, requests = self.requests(draw)
        slots = sorted({a for r in requests for op, a, _s, _v in self._run(mem, r)[2] if op == 0})
        _words, flips, hitters = self._shared(mem, requests)
        decisions = list(flips)
        aimed = False  # the last store or register flip was at a decisive bit: ask a request that hits next
        start = dict(mem)
        ctx_names = list(self.ref.CONTEXT)
        ctx = {k: sc.request[k] for k in ctx_names}
        events = list(self.ref.INVALIDATIONS)
        recent: list[int] = []
        steps = []
        caches, now = self.ref.Caches(), dict(mem)  # the reference's state: operands name what it holds
        while len(steps) < length:  # (a register flip is no step: the requests after it carry it)
            roll = draw.int(0, 99)
            if roll < TRANSLATE_PERCENT or not (slots or events):
                if aimed and hitters and draw.chance(AGAIN_PERCENT):
                    i = draw.choice(hitters)
                elif recent and draw.chance(55):
                    i = draw.choice(recent)
                else:
                    i = draw.int(0, len(requests) - 1)
                aimed = False
                recent = ([i] + [x for x in recent if x != i])[:RECENT]
                req = {k: v for k, v in requests[i].items() if k not in ctx_names}
                steps.append(Step("translate", {**req, **ctx}))
                trace: list = []
                self.ref.decide_cached(caches, now, steps[-1].request, trace)
            elif roll < TRANSLATE_PERCENT + STORE_PERCENT and decisions and draw.chance(SHARED_PERCENT):
                # a decision a flip gives a hit, each alike (a flag's one bit as likely as a
                # field's many), then a flip that gives it: a word stored, or a context
                # register changed for the requests after it
                where, bit = draw.choice(flips[draw.choice(decisions)])
                if isinstance(where, str):
                    ctx = dict(ctx, **{where: ctx[where] ^ (1 << bit)})
                else:
                    mem[where] = now[where] = mem.get(where, 0) ^ (1 << bit)
                    steps.append(Step("store", address=where, value=mem[where]))
                aimed = True
            elif roll < TRANSLATE_PERCENT + STORE_PERCENT and slots:
                slot = draw.choice(slots)
                old = mem.get(slot, 0)
                how = draw.int(0, 9)
                value = old ^ (1 << draw.int(0, 63)) if how < 4 else 0 if how < 6 else start.get(slot, 0)
                mem[slot] = value
                now[slot] = value
                steps.append(Step("store", address=slot, value=value))
            elif events:
                name = draw.choice(events)
                request = {**requests[draw.int(0, len(requests) - 1)], **ctx}
                held = [(c, en) for c, cache in caches.by_name.items() for line in cache.lines for en in line
                        if en is not None]
                cache, target = draw.choice(held) if held and draw.chance(60) else (None, None)
                ops = tuple((o, self._operand(draw, w, requests, mem, target)) for o, w in self.operand_widths[name])
                if target is not None and draw.chance(85):
                    # the bits the drop conditions decode from the operands (command words)
                    ops = tuple(hit_operands(self.invalidations[name], self.caches[cache], target,
                                             dict(ops)).items())
                steps.append(Step("invalidate", request, event=name, operands=ops))
                self.ref.invalidate(caches, name, dict(ops), request)
                new = self.ref.event_context(name, dict(ops), request)
                ctx = {k: new[k] for k in ctx_names}
        return self._with_error(draw, Sequence(start, tuple(steps)))

    def _with_error(self, draw: Draw, seq: Sequence) -> Sequence:
        """`seq`, ERROR_PERCENT of the time, with one word whose reads answer with an error
        in every step: each word a translate step reads (from the caches' first run) is
        tried on the uncached reference with the memory that step sees, and those whose
        error the spec handles are grouped as the single-event stimulus groups them
        (UnitScenarioFactory.error_handled), a group drawn, then a word of it."""
        if not self.factory.handles_errors() or not draw.chance(ERROR_PERCENT):
            return seq
        run = run_reference(self.ref, seq)
        mem, tried, groups = dict(seq.memory), set(), {}
        for st, got in zip(seq.steps, run.steps):
            if st.op == "store":
                mem[st.address] = st.value
            if st.op != "translate":
                continue
            for addr in [a for op, a, _s, _v in got.trace if op == 0 and a not in tried]:
                tried.add(addr)
                detail: dict = {}
                self.ref.decide(dict(mem), dict(st.request), [], detail, errors=frozenset((addr,)))
                key = self.factory.error_handled(detail)
                if key:
                    groups.setdefault(key, []).append(addr)
            mem.update((a, v) for op, a, _s, v in got.trace if op == 1)
        if not groups:
            return seq
        words = groups[draw.choice(list(groups))]
        return Sequence(seq.memory, seq.steps, seq.seed, frozenset((draw.choice(words),)))

    def _shared(self, mem: dict, requests: list, bits: bool = True) -> tuple[set[int], dict[tuple, list], list[int]]:
        """The words a request reads both when it fills a cache and when it hits what it
        filled (the request run twice from reset caches): what the cached answer was
        computed from that a later step still reads. With `bits`, the flips of one bit of
        such a word, or of a context register, that change what the hit decides (its rule
        or a call's) and leave it a hit (a flip that stops the request before the cache, a
        VF gone, shows nothing a single event does not), grouped by the decision they give:
        (word address or register name, bit) lists. And which requests hit."""
        out: set[int] = set()
        flips: dict[tuple, set[tuple]] = {}
        hitters: list[int] = []
        for k, req in enumerate(requests[:SHARED_REQUESTS]):
            caches, fill, hit = self.ref.Caches(), [], []
            self.ref.decide_cached(caches, dict(mem), req, fill)
            filled = _copy_caches(caches)
            detail: dict = {}
            got, hits = self.ref.decide_cached(caches, dict(mem), req, hit, detail)
            if not hits:
                continue
            hitters.append(k)
            before = _decided(got, detail)
            words = sorted({a for op, a, _s, _v in fill if op == 0} & {a for op, a, _s, _v in hit if op == 0})
            out.update(words)
            tries = [(a, b, {**mem, a: mem.get(a, 0) ^ (1 << b)}, req) for a in words for b in range(64)]
            tries += [(n, b, mem, {**req, n: req[n] ^ (1 << b)}) for n in self.ref.CONTEXT
                      for b in range(self.spec.layout(n).width)]
            for where, b, m, r in tries if bits else ():
                detail = {}
                got, still = self.ref.decide_cached(_copy_caches(filled), m, r, [], detail)
                now = _decided(got, detail)
                if still and now != before:
                    flips.setdefault(now, set()).add((where, b))
        return out, {d: sorted(f, key=str) for d, f in sorted(flips.items(), key=str)}, hitters

    def _operand(self, draw: Draw, width: int, requests: list, mem: dict, target=None) -> int:
        """From what is in use: an entry the reference holds (`target`: its tag of this
        width, or its input page with a run of ones from a low bit up, as a range), an
        event field's value of a request, a tag value a cache would record, a range around
        an input, or a small number."""
        kind = draw.int(0, 99)
        req = draw.choice(requests)
        tags = [t for t in target.tags if t <= mask(width) and t.bit_length() > width - 8] if target else []
        if target is not None and width <= 16 and tags and draw.chance(85):
            v = draw.choice(tags)
        elif target is not None and target.granule and width > 16 and draw.chance(85):
            v = target.key << target.granule
            if draw.chance(50):
                v |= mask(draw.int(0, 9)) << target.granule
        elif kind < 35:
            same = [v for k, v in req.items() if k in self.event_widths and self.event_widths[k] >= width]
            v = draw.choice(same or list(req.values()))
        elif kind < 65:
            tags = self._tags(mem, req)
            v = draw.choice(tags) if tags else draw.bits(width)
        elif kind < 85:
            inputs = [req[w.input.name] for w in self.unit.walks if w.input.op == "ref" and w.input.kind == "event"]
            v = draw.choice(inputs or list(req.values()))
            lo = draw.int(12, 24)
            v = (v & ~mask(lo)) | (mask(draw.int(0, lo - 12)) << 12 if draw.chance(50) else 0)
        else:
            v = draw.int(0, 3) if draw.chance(70) else mask(width) >> 1
        if draw.chance(15):
            v ^= 1 << draw.int(0, min(width, 12) - 1)
        return v & mask(width)

    def _tags(self, mem: dict, req: dict) -> list[int]:
        caches = self.ref.Caches()
        self.ref.decide_cached(caches, dict(mem), req, [])
        return [t for c in caches.by_name.values() for line in c.lines for en in line if en for t in en.tags]


def _moving_field(walk: ir.Walk, width: int | None) -> str | None:
    """The event field whose value moves a walk's input page: the input itself, or the one
    event field of the input's width (or wider) an input expression reads."""
    e = walk.input
    if e.op == "ref" and e.kind == "event" and e.lo == 0:
        return e.name
    wide = {r.name for r in e.refs() if r.kind == "event" and width is not None and r.width >= width}
    return wide.pop() if len(wide) == 1 else None


def _copy_caches(caches):
    """A copy of the reference's caches (`Caches`) to run a request on: every set's ways and
    replacement state copied, the entries shared (a fill makes a new entry, nothing changes
    one it holds). A full deep copy, its entries' words too, took most of a sequence's draw
    (_shared tries 64 bits of every shared word, each on a copy of the filled caches)."""
    memo = {id(en): en for c in caches.by_name.values() for line in c.lines for en in line if en is not None}
    return copy.deepcopy(caches, memo)


def _decided(outcome: dict, detail: dict) -> tuple:
    """What a request decided: its exit rule and each call's rule."""
    steps = detail.get("steps", {})
    return outcome.get("rule"), tuple(sorted((k, d.get("rule")) for k, d in steps.items() if "call" in d))


def unit_sequences(spec: ir.Spec, ref, count: int, seed: int, length: int = 60, first: int = 0):
    """Sequences first .. first+count-1 of a unit, each from a seed of its own (so a run
    can be split into shards)."""
    f = UnitSequenceFactory(spec, ref)
    for i in range(first, first + count):
        seq = f.draw(Draw(random.Random(f"{seed}:useq:{i}")), length)
        seq.seed = i
        yield seq
