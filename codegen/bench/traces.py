"""Synthetic translation traces with stated locality, and what the caches of a translation
save on them (`virtspec bench` section (h), issue 15).

Generic: nothing here knows a table format or an architecture. A trace starts from one
scenario whose walk translates a page of the smallest size the input stage has (drawn by
the translation stimulus). The other pages of that page's leaf table are mapped into the
same image the way an OS fills a page table: each walk is run, and at the first entry it
reads that the first walk did not, and that is empty, the first walk's entry at that step
is written with its frame moved by the page's distance (the value XOR distance << GRANULE),
until the page translates. Pages of one leaf table differ only in that level's index, so
the entries written are leaves: the input stage's, and in a nested composition the host's
leaf of the moved guest frame. Every page then has a frame of its own, and every nested
final address a host translation of its own.

Traces, over those pages (a fixed length, seeded):
- `sequential`: consecutive pages, stride one page, through every page of the leaf table
  and around again (each translation a new page; the table larger than a TLB);
- `random`: pages drawn uniformly from a working set of RANDOM_SET pages;
- `mix`: MIX_HOT % from a hot set of HOT pages, MIX_RUN % the next page of a sequential run
  of RUN pages (a new run from a random page when one ends), the rest uniformly from
  MIX_WIDE pages.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from codegen import ir
from codegen.verify.sequence import Sequence, Step

RANDOM_SET = 128  # pages of the `random` trace's working set (twice a 64-entry TLB)
HOT, MIX_HOT = 8, 70  # the mix: 70 % of translations from a hot set of 8 pages,
RUN, MIX_RUN = 16, 20  # 20 % the next page of a sequential run of 16 pages,
MIX_WIDE = 256  # and the rest uniformly from 256 pages
TRACES = ("sequential", "random", "mix")
LOCALITY = {
    "sequential": "consecutive pages through one leaf table, around again",
    "random": f"uniform over {RANDOM_SET} pages",
    "mix": f"{MIX_HOT}% hot set of {HOT}, {MIX_RUN}% runs of {RUN} pages, "
           f"{100 - MIX_HOT - MIX_RUN}% uniform over {MIX_WIDE}",
}


def input_regime(spec: ir.Spec) -> ir.Regime:
    top = spec.top
    return spec.regime(top.guest) if isinstance(top, ir.Nested) else top


def leaf_bits(spec: ir.Spec) -> int:
    """Index bits of the input stage's level with the smallest leaf page: its table maps
    2**leaf_bits pages."""
    lv = min((lv for lv in input_regime(spec).levels if lv.leaf), key=lambda lv: lv.page_shift)
    return lv.index_hi - lv.index_lo + 1


def _reads(ref, mem: dict, request: dict):
    trace: list = []
    out = ref.translate(dict(mem), request, trace)
    return out, [(a, v) for op, a, _s, v in trace if op == 0]


def _translates(out: dict) -> bool:
    return bool(out.get("ok")) and out.get("level") is not None


def map_pages(ref, memory: dict, request: dict, bits: int) -> tuple[dict, list[int]]:
    """(the image, the input addresses of the pages of the leaf table that holds
    `request`'s page that translate on it, in address order). See the module docstring."""
    mem = dict(memory)
    g, name = ref.GRANULE, ref.INPUT
    va0 = request[name]
    out, base = _reads(ref, mem, request)
    if not _translates(out):
        return mem, []
    region = va0 & ~((1 << (g + bits)) - 1)
    first = (va0 >> g) & ((1 << bits) - 1)
    pages = []
    for k in range(1 << bits):
        va = region | (k << g) | (va0 & ((1 << g) - 1))
        req = dict(request, **{name: va})
        for _ in range(len(base) + 1):
            out, reads = _reads(ref, mem, req)
            if _translates(out) or len(reads) > len(base):
                break
            fix = next((i for i, (a, _v) in enumerate(reads) if a != base[i][0] and not mem.get(a, 0)), None)
            if fix is None:
                break
            mem[reads[fix][0]] = base[fix][1] ^ ((k ^ first) << g)
        if _translates(out):
            pages.append(va)
    # keep the pages that translate on the final image (a later write may have hit an earlier page)
    return mem, [va for va in pages if _translates(_reads(ref, mem, dict(request, **{name: va}))[0])]


def page_order(kind: str, n_pages: int, length: int, rng: random.Random) -> list[int]:
    """Indices into the mapped pages (address order) of a trace of `kind`."""
    if kind == "sequential":
        start = rng.randrange(n_pages)
        return [(start + t) % n_pages for t in range(length)]
    if kind == "random":
        ws = rng.sample(range(n_pages), min(RANDOM_SET, n_pages))
        return [rng.choice(ws) for _ in range(length)]
    if kind == "mix":
        hot = rng.sample(range(n_pages), min(HOT, n_pages))
        wide = rng.sample(range(n_pages), min(MIX_WIDE, n_pages))
        out, run, left = [], 0, 0
        for _ in range(length):
            roll = rng.randrange(100)
            if roll < MIX_HOT:
                out.append(rng.choice(hot))
            elif roll < MIX_HOT + MIX_RUN:
                if not left:
                    run, left = rng.randrange(n_pages), RUN
                out.append(run % n_pages)
                run, left = run + 1, left - 1
            else:
                out.append(rng.choice(wide))
        return out
    raise ValueError(f"expected a trace sequential, random or mix, not {kind!r}")


def make_trace(ref, memory: dict, request: dict, pages: list[int], kind: str, length: int, seed: int) -> Sequence:
    """A Sequence of `length` translate steps of `kind` over `pages` (one image, the
    request's access kinds and context; the offset in the page drawn)."""
    rng = random.Random(f"{seed}:{kind}")
    g = ref.GRANULE
    steps = tuple(Step("translate", dict(request, **{ref.INPUT: pages[i] | rng.randrange(1 << g)}))
                  for i in page_order(kind, len(pages), length, rng))
    return Sequence(dict(memory), steps, seed)


@dataclass
class Tally:
    """What one trace cost: translations, memory references, translations no cache
    answered (the TLB misses: each walked), faults (none expected), and per cache its
    lookups and hits."""

    translations: int = 0
    refs: int = 0
    misses: int = 0
    faults: int = 0
    lookups: dict = field(default_factory=dict)
    hits: dict = field(default_factory=dict)

    @property
    def per_translation(self) -> float:
        return self.refs / self.translations if self.translations else 0.0

    @property
    def per_miss(self) -> float:
        return self.refs / self.misses if self.misses else 0.0

    def hit_rates(self) -> dict:
        return {c: self.hits.get(c, 0) / n for c, n in self.lookups.items() if n}

    def as_json(self) -> dict:
        return {"translations": self.translations, "refs": self.refs, "misses": self.misses, "faults": self.faults,
                "refs_per_translation": round(self.per_translation, 4), "refs_per_miss": round(self.per_miss, 4),
                "lookups": dict(self.lookups), "hits": dict(self.hits),
                "hit_rates": {c: round(r, 4) for c, r in self.hit_rates().items()}}


def caches_holding(ref, kinds) -> tuple[str, ...]:
    """The caches of a generated reference that hold one of `kinds` (its HOLDS)."""
    return tuple(c for c in ref.CACHES if ref.HOLDS[c] in kinds)


def run_trace(ref, seq: Sequence, enabled: tuple[str, ...] | None) -> Tally:
    """Run the trace's translations on the generated reference: `enabled` None with no
    cache at all (`translate`, a walk each), else through Caches(enabled) from reset."""
    mem = dict(seq.memory)
    t = Tally()
    caches = ref.Caches(enabled=enabled) if enabled is not None else None
    for st in seq.steps:
        trace: list = []
        if caches is None:
            out, hit = ref.translate(mem, st.request, trace), False
        else:
            detail: dict = {}
            out, hit = ref.translate_cached(caches, mem, st.request, trace, detail)
            order = [c for c in ref.CACHES if c in enabled and ref.HOLDS[c] == "translations"]
            for c in order:  # the translation caches are looked up in order until one hits
                t.lookups[c] = t.lookups.get(c, 0) + 1
                if detail.get("hit") == c:
                    t.hits[c] = t.hits.get(c, 0) + 1
                    break
            for c, found in detail.get("lookups", ()):  # the walk's caches report each lookup
                t.lookups[c] = t.lookups.get(c, 0) + 1
                t.hits[c] = t.hits.get(c, 0) + bool(found)
        t.translations += 1
        t.refs += len(trace)
        t.misses += not hit
        t.faults += not out.get("ok")
    return t
