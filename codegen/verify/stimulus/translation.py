"""Stimulus derived from the IR: memory images with page tables, requests and context.

Nothing here knows an architecture. A `TableBuilder` writes a walk for one regime:
it draws each entry's fields at random, steers the fields that a level's leaf
condition and walk faults read until the entry is what the plan wants (a pointer, a
leaf, or an entry that trips a chosen fault), and keeps must-be-zero bits clear
unless the plan injects a reserved-bit fault. A nested translation maps every guest
table page and the final guest page through a host builder.

Cost: a cosim run draws tens of thousands of entries, so what does not depend on the
scenario is worked out once and kept in module caches keyed by what it depends on:
`_EntryKind` (per regime, level, role and planned fault: format, address pieces) and
its `_Solver` (the accepted values of the few small fields the conditions read, per
value of the context bits, must-be-zero masks and preferred values they depend on;
conditions that read the input address or wide fields keep the search), the entry
masks of a builder's signature (`TableBuilder._prepare`), `prefer`'s answers, start
levels. The caches hold data, never draws: scenario i is the same whatever was drawn
before it.

Draws go through a `Draw` object so the same code serves `random.Random` (the CLI)
and hypothesis (the property tests).
"""
from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field

from codegen import ir
from codegen.ir.expr import Expr, call_value, mask
from codegen.ir.expr import evaluate as _evaluate
from codegen.verify.stimulus import compiled, reach


def evaluate(e: Expr, lookup) -> int:
    """An expression's value as both models compute it (shifts keep their width),
    through a function compiled once per expression (stimulus.compiled)."""
    return compiled.evaluator(e)(lookup)


class Draw:
    """Random choices: backed by random.Random or by hypothesis' `data.draw`. On
    random.Random each choice is drawn straight from getrandbits (randint's checks cost
    more than the draw, and a scenario makes hundreds of draws)."""

    def __init__(self, rng: random.Random | None = None, data=None):
        self.rng, self.data = rng, data
        self.getrandbits = rng.getrandbits if rng is not None else None

    def int(self, lo: int, hi: int) -> int:
        if self.data is not None:
            from hypothesis import strategies as st
            return self.data.draw(st.integers(lo, hi))
        n = hi - lo + 1
        k = n.bit_length()
        get = self.getrandbits
        r = get(k)
        while r >= n:
            r = get(k)
        return lo + r

    def bits(self, width: int) -> int:
        if self.data is None:
            return self.getrandbits(width) if width > 0 else 0
        return self.int(0, mask(width)) if width > 0 else 0

    def chance(self, percent: int) -> bool:
        if self.data is None:
            return self.rng.random() * 100 < percent
        return self.int(0, 99) < percent

    def choice(self, items):
        items = list(items)
        return items[self.int(0, len(items) - 1)]


@dataclass
class Plan:
    """What one translation should look like: the leaf level, and an optional fault."""

    leaf_level: int
    fault: str | None = None  # a walk fault name, to inject
    fault_level: int = 0
    # (A, B): where pointers name their next level, the pointer at level A leads to level
    # B (a skip), no pointer above A skips (so that the walk reaches A); None: skips drawn
    skip: tuple[int, int] | None = None


class StimulusError(Exception):
    """The spec gives no way to build the wanted table (e.g. a root we cannot invert)."""


@dataclass
class Scenario:
    request: dict
    memory: dict
    latency_seed: int
    intent: dict = field(default_factory=dict)
    # addresses whose reads answer with an error (no data: they read as 0); drawn only
    # where the spec says what an error means (a unit's `S.error`, a walk fault on `error`)
    errors: frozenset = frozenset()


class Allocator:
    """Distinct, aligned physical frames below 2**width.

    `used` holds the 4 KiB page numbers taken, and negative markers that spare marking
    the 512 pages of a 2 MiB frame: -2n-3 for 2 MiB chunk n taken whole, -2n-2 for a chunk
    with some page taken (-1: the markers are there). A 1 GiB (or larger) frame takes its
    first page only."""

    def __init__(self, draw: Draw, width: int, used: set | None = None):
        self.draw, self.width = draw, width
        self.used = used if used is not None else set()
        if -1 not in self.used:  # pages taken by someone who left no markers
            self.used.update([-2 * (p >> 9) - 2 for p in self.used if p >= 0] + [-1])

    def frame(self, shift: int) -> int:
        """A free frame of 2**shift bytes: a drawn one, or the next free one after it
        (so that shrunk, repetitive draws still give distinct frames)."""
        count = mask(self.width - shift)
        if self.draw.data is None:  # Draw.int(1, count), inline
            k = count.bit_length()
            get = self.draw.getrandbits
            r = get(k)
            while r >= count:
                r = get(k)
            first = 1 + r
        else:
            first = self.draw.int(1, count)
        used = self.used
        if shift == 12:  # the common case, first try
            chunk = first >> 9
            if first not in used and -2 * chunk - 3 not in used:
                used.add(first)
                used.add(-2 * chunk - 2)
                return first << 12
        for step in range(4096):
            index = first if step == 0 else (first - 1 + step) % count + 1
            addr = index << shift
            page = addr >> 12
            if shift == 21:
                chunk = addr >> 21
                if -2 * chunk - 3 in used or -2 * chunk - 2 in used:
                    continue
                used.add(-2 * chunk - 3)
                return addr
            chunk = page >> 9  # a frame below 2 MiB lies inside one chunk
            if shift == 12 or shift > 21:
                if page in used or -2 * chunk - 3 in used:
                    continue
                used.add(page)
            else:
                pages = range(page, page + (1 << (shift - 12)))
                if not used.isdisjoint(pages) or -2 * chunk - 3 in used:
                    continue
                used.update(pages)
            used.add(-2 * chunk - 2)
            return addr
        raise StimulusError("out of physical frames")


_TABLE_SHIFT: dict = {}


def leaf_shift(lv: ir.Level) -> int:
    """The size (log2) of the frame table building draws for a leaf of `lv`: a constant
    `page shift N` is a page of 2**N bytes (its frame field may start lower, its low bits
    checked by a fault), anything else the level's smallest page."""
    e = lv.page_shift_expr
    return e.value if e is not None and e.op == "num" else lv.page_shift


def table_shift(regime: ir.Regime) -> int:
    """log2 of the frame a table of `regime` gets: 4 KiB, or its largest table (entries of
    16 or 32 bytes make a 9-bit index a 8 or 16 KiB table), so that no table reaches into
    a frame given to something else and entries never lie on top of each other."""
    hit = _TABLE_SHIFT.get(id(regime))
    if hit is None or hit[0] is not regime:
        hit = _TABLE_SHIFT[id(regime)] = (regime, _table_shift(regime))
    return hit[1]


def _table_shift(regime: ir.Regime) -> int:
    return max([12] + [(regime.entry_bytes << (lv.index_hi - lv.index_lo + 1)).bit_length() - 1
                       for lv in regime.levels])


def eval_ctx(e: Expr, ctx: dict, access: dict | None = None, extra: dict | None = None) -> int:
    def lookup(r: Expr) -> int:
        if r.kind == "ctx":
            return (ctx[r.name] >> r.lo) & mask(r.width)
        if r.kind == "access":
            return access[r.name]
        if extra is not None and (r.kind, r.name) in extra:
            return extra[(r.kind, r.name)]
        raise StimulusError(f"cannot evaluate a {r.kind} reference '{r.name}' while building tables")
    return evaluate(e, lookup)


_CTX_FNS: dict = {}


def ctx_fn(e: Expr):
    """`f(ctx, access, accs)` equal to eval_ctx(e, ctx, access, {("acc", name): value}),
    compiled once per expression (the context, start level and host bindings of every
    scenario)."""
    hit = _CTX_FNS.get(id(e))
    if hit is not None and hit[0] is e:
        return hit[1]

    def ref(r: Expr) -> str:
        if r.kind == "ctx":
            return f"((C[{r.name!r}] >> {r.lo}) & {mask(r.width)})"
        if r.kind == "access":
            return f"X[{r.name!r}]"
        if r.kind == "acc":
            return f"A[{r.name!r}]"
        raise compiled.Unsupported(r.kind)

    try:
        fast = compiled.build("C, X, A", compiled.to_python(e, ref), {})
    except compiled.Unsupported:
        fast = None

    def fn(ctx, access=None, accs=None):
        if fast is not None:
            try:
                return fast(ctx, access, accs)
            except (ValueError, ZeroDivisionError, TypeError, KeyError):
                pass
        return eval_ctx(e, ctx, access, {("acc", k): v for k, v in (accs or {}).items()})
    _CTX_FNS[id(e)] = (e, fn)
    return fn


def ctx_fn_input(e: Expr):
    """`f(ctx, access, addr)`: an input fault's condition (it reads the input, access
    kinds and context registers alone)."""
    def with_input(ctx, access, addr):
        def lookup(r: Expr) -> int:
            if r.kind == "ctx":
                return (ctx[r.name] >> r.lo) & mask(r.width)
            if r.kind == "access":
                return access[r.name]
            if r.kind == "input":
                return addr
            raise StimulusError(f"an input fault cannot read a {r.kind} reference '{r.name}'")
        return evaluate(e, lookup)
    return with_input


def _input_candidates(draw: Draw, addr: int, width: int):
    """Inputs near `addr`: itself, its low k bits sign- and zero-extended (k from the
    width down), then with one random bit flipped (a few)."""
    yield addr
    for k in range(width - 1, 0, -1):
        yield call_value("sext", addr, width, k)
        yield addr & mask(k)
    for _ in range(8):
        yield addr ^ (1 << draw.int(0, width - 1))


INPUT_FAULT_PERCENT = 20  # scenarios aimed at an input fault (the others pass them all)


_MBZ: dict = {}  # id(layout) -> (layout, static mask, ((condition function, bits), ...))


def mbz_mask(lay: ir.Layout, ctx: dict) -> int:
    """The must-be-zero bits of `lay` under `ctx` (its parts worked out once per layout)."""
    hit = _MBZ.get(id(lay))
    if hit is None or hit[0] is not lay:
        hit = _MBZ[id(lay)] = (lay, lay.mbz_static, tuple((compiled.evaluator(c), bits) for c, bits in lay.mbz_conditional()))
    m = hit[1]
    if hit[2]:
        def lookup(r: Expr) -> int:
            if r.kind == "ctx":
                return (ctx[r.name] >> r.lo) & mask(r.width)
            raise StimulusError(f"cannot evaluate a {r.kind} reference '{r.name}' while building tables")
        for fn, bits in hit[2]:
            if fn(lookup):
                m |= bits
    return m


def _root_frame(alloc: Allocator, regime: ir.Regime) -> int:
    """A frame for the first table of `regime` (table_shift) that its root expression can
    name: below 2**width of the expression too (a root register field narrower than the
    table pointers)."""
    shift = table_shift(regime)
    bits = _value_bits(regime.root)
    if bits >= alloc.width:
        return alloc.frame(shift)
    return Allocator(alloc.draw, max(shift + 1, bits), alloc.used).frame(shift)


def _kept_root(alloc: Allocator, regime: ir.Regime, ctx: dict, fixed: dict) -> int | None:
    """The root `ctx` already names when every context register the root expression reads
    is `fixed` (a unit's walk of a composition that binds them to values it read from
    memory: the tables go where those values point), its pages taken from `alloc`; None
    when the root is free to draw, or the fixed one cannot hold a table (unaligned, taken,
    or out of the allocator's range)."""
    names = {r.name for r in regime.root.refs() if r.kind == "ctx"}
    if not names or not names <= set(fixed):
        return None
    shift = table_shift(regime)
    root = eval_ctx(regime.root, ctx) & mask(64)
    pages = range(root >> 12, (root >> 12) + (1 << (shift - 12)))
    if root & mask(shift) or root >> alloc.width or any(p in alloc.used for p in pages):
        return None
    alloc.used.update(pages)
    alloc.used.update({-2 * (p >> 9) - 2 for p in pages})
    return root


def _indexed(regime: ir.Regime, ctx: dict, addr: int) -> int:
    """The input as the level indexes read it: with `input ... size EXPR`, the bits at
    or above the size the context chooses read as 0."""
    if regime.input_size is None:
        return addr
    return addr & mask(min(ctx_fn(regime.input_size)(ctx), regime.input_width))


def _value_bits(e: Expr) -> int:
    """How many bits a root expression's value can have: its width, less what a right
    shift by a constant drops (`BASE >> 11 << 12` is as wide as BASE plus one), the wider
    branch of a choice between roots."""
    if e.op == ">>" and e.args[1].op == "num":
        return max(1, _value_bits(e.args[0]) - e.args[1].value)
    if e.op == "<<" and e.args[1].op == "num":
        return min(e.width, _value_bits(e.args[0]) + e.args[1].value)
    if e.op == "cond":
        return max(_value_bits(e.args[1]), _value_bits(e.args[2]))
    if e.op == "&" and e.args[1].op == "num":
        return min(_value_bits(e.args[0]), e.args[1].value.bit_length())
    return e.width


def invert(e: Expr, value: int, ctx: dict, bindings: dict[str, Expr] | None = None,
           given: int | None = None) -> None:
    """Set context register bits so that `e` evaluates to `value` (root pointers).
    `given` is the input address: a root chosen by an input bit (`va[N] ? A : B`, two
    roots for the two halves of the address space) sets the branch that input chooses."""
    if e.op == "ref" and e.kind == "ctx":
        if bindings and e.name in bindings:
            invert(bindings[e.name], (value & mask(e.width)) << e.lo, ctx, None)
            return
        if value >> e.width:
            raise StimulusError(f"value {value:#x} does not fit {e.name}")
        ctx[e.name] = (ctx.get(e.name, 0) & ~(mask(e.width) << e.lo)) | (value << e.lo)
        return
    if e.op == "<<" and e.args[1].op == "num":
        invert(e.args[0], value >> e.args[1].value, ctx, bindings, given)
        return
    if e.op == ">>" and e.args[1].op == "num":
        # `BASE >> 11 << 12`: the bits the shift drops are free; leave them 0
        invert(e.args[0], value << e.args[1].value, ctx, bindings, given)
        return
    if e.op == "&" and e.args[1].op == "num":
        invert(e.args[0], value, ctx, bindings, given)
        return
    if e.op == "cond":
        if given is None and any(r.kind == "input" for r in e.args[0].refs()):
            # a host stage: each of its inputs (guest addresses) may choose either root,
            # so both lead to the same table
            invert(e.args[2], value, ctx, bindings, given)
            invert(e.args[1], value, ctx, bindings, given)
            return

        def lookup(r: Expr) -> int:
            if r.kind == "ctx":
                return (ctx.get(r.name, 0) >> r.lo) & mask(r.width)
            if r.kind == "input" and given is not None:
                return (given >> r.lo) & mask(r.width)
            raise StimulusError(f"the root expression chooses by '{r.name}', which is not a register or the input")
        invert(e.args[1] if _evaluate(e.args[0], lookup, True) else e.args[2], value, ctx, bindings, given)
        return
    if e.op == "slice" and e.args[1].op == "num" and e.args[2].op == "num":
        # FIELD[hi:lo] = value: those bits of the field, the others left as they are
        hi, lo = e.args[1].value, e.args[2].value
        if value >> (hi - lo + 1):
            raise StimulusError(f"value {value:#x} does not fit bits [{hi}:{lo}]")
        base = e.args[0]
        if base.op == "ref" and base.kind == "ctx" and not (bindings and base.name in bindings):
            at = base.lo + lo
            ctx[base.name] = (ctx.get(base.name, 0) & ~(mask(hi - lo + 1) << at)) | (value << at)
            return
    if e.op == "-" and e.args[1].op == "num":  # wraps to its width, as both models do
        invert(e.args[0], (value + e.args[1].value) & mask(e.width), ctx, bindings, given)
        return
    if e.op == "+" and e.args[1].op == "num" and value >= e.args[1].value:
        invert(e.args[0], value - e.args[1].value, ctx, bindings, given)
        return
    raise StimulusError("the root expression is not a register field, shifted or masked: cannot build a table for it")


_PREFERRED: dict = {}  # TableBuilder.prefer results, by regime, context values read and accesses


_LAYOUTS: dict = {}  # id(spec) -> (spec, {name: layout})


def _ctx_bits(e: Expr) -> list[tuple[str, int, int]]:
    """The (register, lo, width) context bits an expression reads."""
    return [(r.name, r.lo, r.width) for r in e.refs() if r.kind == "ctx"]


def _layout(spec: ir.Spec, name: str) -> ir.Layout:
    """spec.layout(name) through a dict (a scenario asks thousands of times)."""
    hit = _LAYOUTS.get(id(spec))
    if hit is None or hit[0] is not spec:
        hit = _LAYOUTS[id(spec)] = (spec, {x.name: x for x in spec.layouts})
    return hit[1][name]


_ENTRY_FNS: dict = {}  # (regime, expression, layout) -> (keep-alive objects, function)


def _entry_fn(regime: ir.Regime, e: Expr, lay: ir.Layout):
    """`f(value, ctx, level, addr, builder)`: TableBuilder.field_eval of `e` compiled to
    Python once (entry fields become shifts and masks of `value`)."""
    key = (id(regime), id(e), id(lay))
    hit = _ENTRY_FNS.get(key)
    if hit is not None:
        return hit[1]
    names: dict = {"LAY": lay}
    params = "v, ctx, level, addr, b"

    def ref(r: Expr) -> str:
        if r.kind in ("field", "leaf"):
            f = lay.field(r.name)
            if f is None:
                raise compiled.Unsupported(r.name)
            return f"((v >> {f.lo}) & {mask(f.width)})"
        if r.kind == "ctx":
            return f"((ctx[{r.name!r}] >> {r.lo}) & {mask(r.width)})"
        if r.kind == "builtin" and r.name == "rsvd":
            return "(1 if v & b.mbz(LAY) else 0)"
        if r.kind == "builtin" and r.name == "level":  # the spec's number of the walk's level
            return f"({regime.flip} - level)" if regime.flip else f"(level - {regime.base})" if regime.base else "level"
        if r.kind == "builtin" and r.name in ("next", "skipped"):
            names["NEXT"] = _entry_fn(regime, regime.next_level, lay)
            if r.name == "next":
                return f"NEXT({params})"
            return f"(1 if addr & b.regime.skip_mask(level, NEXT({params})) else 0)"
        if r.kind == "input":
            return "addr"
        return f"b.cannot({r.kind!r}, {r.name!r})"

    try:
        fast = compiled.build(params, compiled.to_python(e, ref), names)
    except compiled.Unsupported:
        fast = None

    if fast is None:
        def fn(v, ctx, level, addr, b):
            return b.field_eval_slow(e, lay, v, level)
    else:
        def fn(v, ctx, level, addr, b):
            try:
                return fast(v, ctx, level, addr, b)
            except (ValueError, ZeroDivisionError):  # the evaluator's EvalError, with its message
                return b.field_eval_slow(e, lay, v, level)
    _ENTRY_FNS[key] = ((regime, e, lay), fn)
    return fn


_COMBOS: dict = {}
_READS: dict = {}  # TableBuilder._reads and _condition_fields, with what keeps their ids alive
_PREFER_INPUTS: dict = {}


def _prefer_inputs(spec: ir.Spec, regime: ir.Regime) -> tuple[tuple[str, ...], tuple[tuple[str, int, int], ...]]:
    """(the 1-bit entry fields the access checks read, the context bits they read) of
    `regime`: what TableBuilder.prefer learns values for, and what its answer depends on."""
    hit = _PREFER_INPUTS.get(id(regime))
    if hit is not None and hit[0] is regime:
        return hit[1]
    names = set()
    for a in regime.accumulators:
        names |= {r.name for r in a.then.refs() if r.kind == "field"}
    for c in regime.checks:
        names |= {r.name for r in c.when.refs() if r.kind == "leaf"}
    widths = {f.name: f.width for lv in regime.levels for n in (lv.table, lv.leaf) if n
              for f in _layout(spec, n).fields}
    exprs = [a.init for a in regime.accumulators] + [a.then for a in regime.accumulators]
    exprs += [c.when for c in regime.checks]
    learned = tuple(sorted(n for n in names if widths.get(n) == 1))
    reads: set = set()
    for e in exprs:
        _ctx_reads(e, set(learned), reads)
    out = (learned, tuple(sorted(reads)))
    _PREFER_INPUTS[id(regime)] = (regime, out)
    return out


class _NotConstant(Exception):
    pass


def _ctx_reads(e: Expr, learned: set, out: set) -> None:
    """Add to `out` the context bits (register, low bit, width) `e` reads when the entry
    fields outside `learned` are 0, as in TableBuilder.prefer: a bit or slice of a
    register at an index that is then constant (`PKRU[2 * leaf.PK]`) reads only those
    bits, not the whole register (which made every context a new key)."""
    if e.op in ("bit", "slice") and e.args[0].op == "ref" and e.args[0].kind == "ctx":
        def const(r: Expr) -> int:
            if r.kind in ("field", "leaf") and r.name not in learned:
                return 0
            raise _NotConstant
        try:
            idx = [_evaluate(a, const, keep_width=True) for a in e.args[1:]]
        except Exception:  # noqa: BLE001 - not a constant index (or one the models reject): the whole register
            idx = None
        if idx is not None:
            base = e.args[0]
            hi, lo = (idx[0], idx[0]) if e.op == "bit" else (idx[0], idx[1])
            if 0 <= lo <= hi:
                top = min(hi, base.width - 1)
                if top >= lo:
                    out.add((base.name, base.lo + lo, top - lo + 1))
                return
    if e.op == "ref":
        if e.kind == "ctx":
            out.add((e.name, e.lo, e.width))
        return
    for a in e.args:
        _ctx_reads(a, learned, out)


def _combos(fields: tuple[tuple[int, int], ...], pref: tuple | None) -> tuple[list[int], list[list[int]]]:
    """Every value of the small fields `fields` ((lo, width) each), as bits in place, and
    their indices grouped by how many fields differ from `pref` (the preferred values,
    None where a field has none), nearest first; one group without `pref`."""
    key = (fields, pref)
    hit = _COMBOS.get(key)
    if hit is None:
        raw = list(itertools.product(*[range(1 << w) for _, w in fields]))
        combos = [sum(x << lo for (lo, _), x in zip(fields, c)) for c in raw]
        if pref is None:
            groups = [list(range(len(raw)))]
        else:
            by: dict[int, list[int]] = {}
            for i, c in enumerate(raw):
                by.setdefault(sum(p is not None and x != p for x, p in zip(c, pref)), []).append(i)
            groups = [by[d] for d in sorted(by)]
        hit = _COMBOS[key] = (combos, groups)
    return hit


_FIRED: dict = {}
_MASKS: dict = {}  # TableBuilder._entry_masks by layout, lean and preferred values
_PREPS: dict = {}  # builder signature -> (regime, spec, {(level, leaf, fault): TableBuilder._new_prep})
_CTX_REFS: dict = {}


def _regime_ctx_refs(spec: ir.Spec, regime: ir.Regime) -> tuple[tuple[str, int, int], ...]:
    """The context bits (register, low bit, mask) that an entry of `regime` can depend on:
    those its walk conditions and its formats' must-be-zero conditions read."""
    hit = _CTX_REFS.get(id(regime))
    if hit is not None and hit[0] is regime:
        return hit[1]
    exprs = [r.when for r in regime.faults] + [lv.leaf_when for lv in regime.levels if lv.leaf_when is not None]
    if regime.next_level is not None:
        exprs.append(regime.next_level)
    names = {n for lv in regime.levels for n in (lv.leaf, lv.table) if n}
    for n in sorted(names):
        exprs += [c for c, _ in _layout(spec, n).mbz_conditional()]
    out = tuple(sorted({(r.name, r.lo, mask(r.width)) for e in exprs for r in e.refs() if r.kind == "ctx"}))
    _CTX_REFS[id(regime)] = (regime, out)
    return out


def _fired_fn(regime: ir.Regime):
    """`f(fields, ctx, access)`: how many of `regime`'s final checks fire after a walk
    whose every entry has the 1-bit `fields` (others 0), compiled once per regime (what
    TableBuilder.prefer asks for each field it learns); None if `compiled` cannot write it."""
    hit = _FIRED.get(id(regime))
    if hit is not None and hit[0] is regime:
        return hit[1]
    accs = {a.name: f"a{i}" for i, a in enumerate(regime.accumulators)}

    def ref(r: Expr) -> str:
        if r.kind in ("field", "leaf"):
            return f"F.get({r.name!r}, 0)"
        if r.kind == "acc":
            return accs[r.name]
        if r.kind == "ctx":
            return f"((C[{r.name!r}] >> {r.lo}) & {mask(r.width)})"
        if r.kind == "access":
            return f"X[{r.name!r}]"
        return "0"

    try:
        names = list(accs.values())
        lines = ["def fired(F, C, X):"]
        lines += [f"    {accs[a.name]} = {compiled.to_python(a.init, ref)}" for a in regime.accumulators]
        if names:
            # every level has the same fields: once a step changes nothing, no later one does
            lines.append(f"    for _ in range({len(regime.levels)}):")
            lines.append("        new = (" + ", ".join(compiled.to_python(a.then, ref) for a in regime.accumulators) + ",)")
            lines.append(f"        if new == ({', '.join(names)},):")
            lines.append("            break")
            lines.append(f"        {', '.join(names)}, = new")
        checks = " + ".join(f"(1 if {compiled.to_python(c.when, ref)} else 0)" for c in regime.checks) or "0"
        lines.append(f"    return {checks}")
        scope = dict(compiled.HELPERS)
        exec("\n".join(lines), scope)  # noqa: S102 - source written by compiled.to_python
        fn = scope["fired"]
    except compiled.Unsupported:
        fn = None
    _FIRED[id(regime)] = (regime, fn)
    return fn


class TableBuilder:
    """Writes the entries of walks of one regime into memory."""

    def __init__(self, spec: ir.Spec, regime: ir.Regime, draw: Draw, ctx: dict, write, alloc: Allocator):
        self.spec, self.regime, self.draw, self.ctx, self.write, self.alloc = spec, regime, draw, ctx, write, alloc
        self.addr = 0  # the input of the walk being built; skipping a level clears its index bits
        self.entries: dict[int, tuple[str, int]] = {}  # entry address -> (kind, target), for sharing
        self.host_shifts: dict[int, int] = {}  # a host leaf's entry address -> log2 of the page it maps
        self.final: int | None = None  # the output address of the last leaf written
        self.leaf_alloc: Allocator | None = None  # where leaf frames come from, when not `alloc`
        self.preferred: dict[str, int] = {}
        self._pref_key: tuple = ()
        self.legal = False
        self.exact = False  # a legal entry takes every preferred value (no occasional flip)
        self._mbz: dict[str, int] = {}
        self._masks: dict = {}
        self._prep: dict = {}  # (level, leaf, fault) -> _new_prep
        self._prep_legal: bool | None = None  # the lean _prep is for (None: not prepared)
        self._fns: dict = {}  # (id(expr), id(layout)) -> _entry_fn (the spec keeps both alive)  # mbz_mask of each layout (the context is fixed once building starts)

    def _prepare(self) -> None:
        """Find the entries' preparations (`_new_prep`) for this builder's lean, context
        and preferred values: shared by every builder that has the same."""
        refs = _regime_ctx_refs(self.spec, self.regime)
        ctx = self.ctx
        sig = (id(self.spec), id(self.regime), self.legal, self._pref_key if self.legal else (),
               tuple((ctx[n] >> lo) & m for n, lo, m in refs))
        hit = _PREPS.get(sig)
        if hit is None or hit[0] is not self.regime or hit[1] is not self.spec:
            hit = _PREPS[sig] = (self.regime, self.spec, {})
        self._prep, self._prep_legal = hit[2], self.legal

    def _new_prep(self, level: int, as_leaf: bool, fault: str | None) -> tuple:
        """(kind, the four random_entry masks, the solver's cache for this builder's key and
        that key) of an entry: what entry() needs that only depends on the builder's
        signature (`_prepare`)."""
        kind = _entry_kind(self.spec, self.regime, level, as_leaf, fault)
        wide, ones, pref_mask, pref_value = self._entry_masks(kind.lay)
        sub = fixed = None
        if kind.solver is not None:
            fixed = kind.solver.fixed_key(self)
            sub = kind.solver.cache.setdefault(fixed, {})
        return kind, wide, ones, pref_mask, pref_value, sub, fixed

    def mbz(self, lay: ir.Layout) -> int:
        m = self._mbz.get(lay.name)
        if m is None:
            m = self._mbz[lay.name] = mbz_mask(lay, self.ctx)
        return m

    def prefer(self, accesses: list[dict]) -> None:
        """Learn, for each 1-bit field the access checks read, the value that makes the
        checks pass for these accesses (greedy, on the IR evaluator); `legal` entries then
        lean to those values so that walks of many levels still translate."""
        names, ctx_refs = _prefer_inputs(self.spec, self.regime)
        ctx = self.ctx
        key = (id(self.regime), tuple((ctx[n] >> lo) & mask(w) for n, lo, w in ctx_refs),
               tuple(tuple(sorted(a.items())) for a in accesses))
        hit = _PREFERRED.get(key)
        if hit is not None and hit[0] is self.regime:
            self.preferred, self._pref_key = hit[1], hit[2]
            self._masks = {}
            self._prep_legal = None
            return
        values = {n: 1 for n in names}
        fast = _fired_fn(self.regime)
        if fast is not None:
            try:
                ctx = self.ctx
                now = sum(fast(values, ctx, a) for a in accesses)
                for n in names:
                    trial = dict(values, **{n: 0})
                    count = sum(fast(trial, ctx, a) for a in accesses)
                    if count < now:
                        values, now = trial, count
                self._set_preferred(key, values)
                return
            except (ValueError, ZeroDivisionError, KeyError):  # the evaluator below says what is wrong
                values = {n: 1 for n in names}

        def fired(vals: dict) -> int:
            total = 0
            for access in accesses:
                def look(r: Expr, accs=None) -> int:
                    if r.kind in ("field", "leaf"):
                        return vals.get(r.name, 0)
                    if r.kind == "acc":
                        return accs[r.name]
                    if r.kind == "ctx":
                        return (self.ctx[r.name] >> r.lo) & mask(r.width)
                    if r.kind == "access":
                        return access[r.name]
                    return 0
                accs = {a.name: evaluate(a.init, look) for a in self.regime.accumulators}
                for _ in range(len(self.regime.levels)):
                    accs = {a.name: evaluate(a.then, lambda r: look(r, accs)) for a in self.regime.accumulators}
                total += sum(bool(evaluate(c.when, lambda r: look(r, accs))) for c in self.regime.checks)
            return total

        for n in names:
            trial = dict(values, **{n: 0})
            if fired(trial) < fired(values):
                values = trial
        self._set_preferred(key, values)

    def _set_preferred(self, key, values: dict) -> None:
        self.preferred = values
        self._pref_key = tuple(sorted(values.items()))
        _PREFERRED[key] = (self.regime, values, self._pref_key)
        self._masks = {}
        self._prep_legal = None

    def unprefer(self, names: set[str]) -> None:
        """Leave fields `names` out of the lean (drawn as if no check read them)."""
        if names & set(self.preferred):
            self.preferred = {k: v for k, v in self.preferred.items() if k not in names}
            self._pref_key = tuple(sorted(self.preferred.items())) + (("unpreferred", tuple(sorted(names))),)
            self._masks = {}
            self._prep_legal = None

    def _masked_bits(self, w: int, wide: int, ones: int, pref_mask: int, pref_value: int) -> int:
        """random_entry on random.Random, all fields at once: `wide` bits uniform, `ones` bits
        set 13 times in 16, `pref_mask` bits at `pref_value` (flipped 1 time in 32 unless
        `exact`)."""
        get = self.draw.getrandbits
        value = get(w) & wide
        if ones:
            value |= (get(w) | get(w) | (get(w) & get(w))) & ones
        if pref_mask:
            flip = 0 if self.exact else get(w) & get(w) & get(w) & get(w) & get(w)
            value |= (pref_value ^ flip) & pref_mask
        return value

    def random_entry(self, lay: ir.Layout) -> int:
        """Random fields: a 1-bit field set 13 times in 16 (or, in a legal entry, its
        preferred value 31 times in 32, always when `exact`), other fields and ignored
        bits uniform, must-be-zero bits clear. On random.Random, all fields at once
        (`_entry_masks`)."""
        if self.draw.data is None:
            return self._masked_bits(lay.width, *self._entry_masks(lay))  # must-be-zero bits left out
        value = 0
        for f in lay.fields:
            if f.width == 1 and f.name in self.preferred and self.legal:
                bit = self.preferred[f.name] if self.exact or self.draw.chance(97) else 1 - self.preferred[f.name]
            elif f.width == 1:
                bit = 1 if self.draw.chance(80) else 0
            else:
                bit = self.draw.bits(f.width)
            value |= bit << f.lo
        for r in lay.ranges:
            if r.kind == "ignored" and r.mask:
                value |= self.draw.bits(r.hi - r.lo + 1) << r.lo
        return value & ~self.mbz(lay)

    def _entry_masks(self, lay: ir.Layout) -> tuple[int, int, int, int]:
        """(uniform bits, 1-bit fields drawn mostly set, preferred 1-bit fields, their
        preferred values) of `lay` for this builder's lean."""
        key = (lay.name, self.legal)  # prefer() clears the cache when the preferred values change
        hit = self._masks.get(key)
        if hit is None:
            gkey = (id(lay), self.legal, self._pref_key if self.legal else ())
            got = _MASKS.get(gkey)
            if got is not None and got[0] is lay:
                keep = ~self.mbz(lay)
                hit = self._masks[key] = tuple(m & keep for m in got[1])
                return hit
            wide = ones = pref_mask = pref_value = 0
            for f in lay.fields:
                if f.width == 1 and f.name in self.preferred and self.legal:
                    pref_mask |= 1 << f.lo
                    pref_value |= self.preferred[f.name] << f.lo
                elif f.width == 1:
                    ones |= 1 << f.lo
                else:
                    wide |= f.mask
            for r in lay.ranges:
                if r.kind == "ignored" and r.mask:
                    wide |= mask(r.hi - r.lo + 1) << r.lo
            _MASKS[gkey] = (lay, (wide, ones, pref_mask, pref_value))
            keep = ~self.mbz(lay)
            hit = self._masks[key] = (wide & keep, ones & keep, pref_mask & keep, pref_value & keep)
        return hit

    def field_eval(self, e: Expr, lay: ir.Layout, value: int, level: int) -> int:
        """A walk condition on entry `value` of format `lay` at `level`, by a function
        compiled once per regime, condition and format (`_entry_fn`)."""
        fn = self._fns.get((id(e), id(lay)))
        if fn is None:
            fn = self._fns[(id(e), id(lay))] = _entry_fn(self.regime, e, lay)
        return fn(value, self.ctx, level, self.addr, self)

    def cannot(self, kind: str, name: str) -> int:
        raise StimulusError(f"a walk condition reads '{name}' ({kind}), which table building cannot set")

    def field_eval_slow(self, e: Expr, lay: ir.Layout, value: int, level: int) -> int:
        """field_eval on the evaluator (for an expression `compiled` does not write, and
        to raise the evaluator's errors)."""
        def lookup(r: Expr) -> int:
            if r.kind in ("field", "leaf"):
                f = lay.field(r.name)
                return (value >> f.lo) & mask(f.width)
            if r.kind == "ctx":
                return (self.ctx[r.name] >> r.lo) & mask(r.width)
            if r.kind == "builtin" and r.name == "rsvd":
                return int(bool(value & mbz_mask(lay, self.ctx)))
            if r.kind == "builtin" and r.name == "level":
                return self.regime.label(level)
            if r.kind == "builtin" and r.name == "next":
                return self.field_eval_slow(self.regime.next_level, lay, value, level)
            if r.kind == "builtin" and r.name == "skipped":
                k = self.field_eval_slow(self.regime.next_level, lay, value, level)
                return int(bool(self.addr & self.regime.skip_mask(level, k)))
            if r.kind == "input":
                return self.addr
            raise StimulusError(f"a walk condition reads '{r.name}' ({r.kind}), which table building cannot set")
        return _evaluate(e, lookup, keep_width=True)

    def steer(self, lay: ir.Layout, value: int, level: int, keep: set[str], want, leaf: bool,
              what: str | None = None) -> int:
        """Redraw fields outside `keep` until want(value) holds: first only the fields of
        the conditions that need to change, then all fields the conditions read. Small
        fields are tried exhaustively, nearest the preferred values first (legal entries
        stay legal), else from a random starting point."""
        if want(value):
            return value
        for names in (self._firing_fields(lay, level, leaf, value), self._condition_fields(level, leaf)):
            fields = [lay.field(n) for n in sorted(names - keep) if lay.field(n) is not None]
            found = self._search(lay, value, fields, want)
            if found is not None:
                return found
        raise StimulusError(self.cannot_text(lay, level, leaf, what, value))

    def cannot_text(self, lay: ir.Layout, level: int, leaf: bool, what: str | None, value: int) -> str:
        """Why no entry fits the plan, naming the rule it cannot meet (not just the format):
        `what` is the planned fault, None for an entry no fault fires on, or "leaf" when
        the leaf condition alone cannot say leaf (or pointer)."""
        role = "leaf" if leaf else "pointer"
        lv = self.regime.level(level)
        at = f"a {role} entry (format '{lay.name}') at level {level} '{lv.name}' of regime '{self.regime.name}'"

        def named(r: ir.Rule) -> str:
            return f"fault '{r.name}' ({r.span.path}:{r.span.line})"
        decided = ""
        if lv.leaf and lv.table:
            decided = (f" while the leaf condition of level '{lv.name}' ({lv.span.path}:{lv.span.line}) is "
                       f"{'true' if leaf else 'false'} (a {role})")
        if what == "leaf":
            return f"cannot draw {at}: its leaf condition ({lv.span.path}:{lv.span.line}) never says {role}"
        if what is not None:
            rule = next(r for r in self.regime.faults if r.name == what)
            return (f"cannot inject {named(rule)} into {at}: no entry makes it fire{decided} and no walk fault "
                    "listed before it fires")
        firing = [named(r) for r in self.regime.faults_for(leaf, lay.name)
                  if self._fires_safely(r, lay, value, level)]
        return (f"cannot draw {at} on which no walk fault fires{decided}"
                + (f": {', '.join(firing)} fired on every entry tried" if firing else ""))

    def _fires_safely(self, r: ir.Rule, lay: ir.Layout, value: int, level: int) -> bool:
        try:
            return bool(self.field_eval(r.when, lay, value, level))
        except StimulusError:
            return False

    def _search(self, lay: ir.Layout, value: int, fields: list[ir.Field], want) -> int | None:
        small = [f for f in fields if f.hi - f.lo < 4]
        found = self._search_small(value, small, want)
        if found is not None:
            return found
        # a wide field is tried at the constants the regime compares it with (and their
        # neighbours): `NL == 7` on an 11-bit field is one value in 2048, which random
        # draws alone rarely find
        for f in fields:
            if f.hi - f.lo >= 4:
                for c in self._constants_of(f.name):
                    base = (value & ~f.mask) | ((c & mask(f.hi - f.lo + 1)) << f.lo)
                    if want(base):
                        return base
                    found = self._search_small(base, small, want)
                    if found is not None:
                        return found
        for _ in range(200 if fields else 0):
            v = value
            for f in fields:
                v = (v & ~f.mask) | (self.draw.bits(f.hi - f.lo + 1) << f.lo)
            if want(v):
                return v
        return None

    def _search_small(self, value: int, small: list[ir.Field], want) -> int | None:
        """Every combination of the small fields, from a random start (nearest the
        preferred values first when the entry is to stay legal)."""
        if not small or len(small) > 8:
            return None
        pref = tuple(self.preferred.get(f.name) for f in small) if self.legal and self.preferred else None
        combos, groups = _combos(tuple((f.lo, f.hi - f.lo + 1) for f in small), pref)
        start = self.draw.int(0, len(combos) - 1)
        base = value & ~sum(f.mask for f in small)
        for group in groups:
            # each group in order from `start` round (the drawn starting point)
            at = bisect.bisect_left(group, start)
            for i in itertools.chain(group[at:], group[:at]):
                v = base | combos[i]
                if want(v):
                    return v
        return None

    def _constants_of(self, name: str) -> list[int]:
        """The constants the regime's walk conditions compare entry field `name` with, each
        with its neighbours, in a fixed order."""
        found: set[int] = set()
        conds = [r.when for r in self.regime.faults] + [lv.leaf_when for lv in self.regime.levels
                                                           if lv.leaf_when is not None]
        stack = list(conds)
        while stack:
            e = stack.pop()
            stack.extend(e.args)
            if e.op in ("==", "!=", "<", "<=", ">", ">=") and len(e.args) == 2:
                x0, y0 = e.args
                for x, y in ((x0, y0), (y0, x0)):
                    if x.op == "ref" and x.kind in ("field", "leaf") and x.name == name and y.op == "num":
                        found |= {y.value, y.value + 1, max(0, y.value - 1)}
        return sorted(found)

    def _reads(self, cond: Expr) -> set[str]:
        """Entry fields a condition reads, through `next` and `skipped` too (cached)."""
        key = (id(self.regime), id(cond))
        hit = _READS.get(key)
        if hit is None:
            hit = _READS[key] = (cond, frozenset(self._reads_uncached(cond)))
        return hit[1]

    def _reads_uncached(self, cond: Expr) -> set[str]:
        names = {r.name for r in cond.refs() if r.kind in ("field", "leaf")}
        if self.regime.next_level is not None and any(r.kind == "builtin" and r.name in ("next", "skipped")
                                                      for r in cond.refs()):
            names |= {r.name for r in self.regime.next_level.refs() if r.kind == "field"}
        return names

    def _condition_fields(self, level: int, leaf: bool) -> set[str]:
        key = (id(self.regime), level, leaf, "conditions")
        hit = _READS.get(key)
        if hit is None:
            hit = _READS[key] = (self.regime, frozenset(self._condition_fields_uncached(level, leaf)))
        return hit[1]

    def _condition_fields_uncached(self, level: int, leaf: bool) -> set[str]:
        lv = self.regime.level(level)
        conds = [r.when for r in self.regime.faults_for(leaf, lv.leaf if leaf else lv.table)]
        if lv.leaf_when is not None:
            conds.append(lv.leaf_when)
        return {n for c in conds for n in self._reads(c)}

    def _firing_fields(self, lay: ir.Layout, level: int, leaf: bool, value: int) -> set[str]:
        """Fields read by the walk faults that fire on `value` (what has to change)."""
        names: set[str] = set()
        for r in self.regime.faults_for(leaf, lay.name):
            if self.field_eval(r.when, lay, value, level):
                names |= self._reads(r.when)
        return names

    def walk_faults_clear(self, lay: ir.Layout, level: int, value: int, leaf: bool, upto: str | None = None) -> bool:
        for r in self.regime.faults_for(leaf, lay.name):
            if r.name == upto:
                return True
            if self.field_eval(r.when, lay, value, level):
                return False
        return True

    def entry(self, level: int, as_leaf: bool, target: int, fault: str | None) -> int:
        """An entry for `level`: a leaf mapping frame `target`, or a pointer to table `target`."""
        if self._prep_legal is not self.legal:
            self._prepare()
        prep = self._prep.get((level, as_leaf, fault))
        if prep is None:
            prep = self._prep[(level, as_leaf, fault)] = self._new_prep(level, as_leaf, fault)
        kind, wide, ones, pref_mask, pref_value, sub, fixed = prep
        lay = kind.lay
        if not kind.applies:
            raise StimulusError(f"fault '{fault}' does not apply to a {'leaf' if as_leaf else 'pointer'} of format "
                                f"'{lay.name}' at level {level}")
        # the map's inverse: each address bit goes into the field term that carries it
        bits = 0
        for e, m, a in kind.pieces:
            bits |= ((target >> a) & m) << e
        fits = not target & kind.addr_outside if kind.addr_disjoint else self._addr_back(kind, bits) == target
        if not fits:
            raise StimulusError(f"format '{lay.name}' cannot hold address {target:#x}")
        place_mask = kind.place_mask
        if self.draw.data is None:  # random_entry with the masks this entry's prep holds
            value = (self._masked_bits(lay.width, wide, ones, pref_mask, pref_value) & ~place_mask) | bits
        else:
            value = (self.random_entry(lay) & ~place_mask) | bits
        if sub is not None:
            if kind.uses_rsvd:
                value = self._set_reserved_bit(lay, value, place_mask)
            return kind.solver.solve(self, value, sub, fixed)
        lv = kind.lv
        keep = set(kind.keep)
        decides = lambda v: True  # noqa: E731
        if lv.leaf and lv.table:
            leaf_lay = _layout(self.spec, lv.leaf)
            decides = lambda v: bool(self.field_eval(lv.leaf_when, leaf_lay, v, level)) == as_leaf  # noqa: E731
            value = self.steer(lay, value, level, keep, decides, as_leaf, what="leaf")
            if self.regime.next_level is None:
                keep |= {r.name for r in lv.leaf_when.refs() if r.kind == "field"}
        if fault is None:
            return self.steer(lay, value, level, keep,
                              lambda v: decides(v) and self.walk_faults_clear(lay, level, v, as_leaf), as_leaf)
        rule = kind.rule
        if kind.uses_rsvd:
            value = self._set_reserved_bit(lay, value, place_mask)
        want = lambda v: (decides(v) and self.walk_faults_clear(lay, level, v, as_leaf, upto=fault)  # noqa: E731
                          and bool(self.field_eval(rule.when, lay, v, level)))
        return self.steer(lay, value, level, keep, want, as_leaf, what=fault)

    @staticmethod
    def _addr_back(kind: _EntryKind, bits: int) -> int:
        """The address entry bits `bits` give (ir.addr_of)."""
        back = 0
        for e, m, a in kind.pieces:
            back |= ((bits >> e) & m) << a
        return back

    def _set_reserved_bit(self, lay: ir.Layout, value: int, place_mask: int) -> int:
        """`value` with one must-be-zero bit outside the address set (a reserved-bit fault)."""
        free = self.mbz(lay) & ~place_mask
        if not free:
            raise StimulusError(f"format '{lay.name}' has no must-be-zero bit to set")
        bits = [b for b in range(lay.width) if free >> b & 1]
        return value | 1 << self.draw.choice(bits)

    def want_fn(self, kind: _EntryKind):
        """What entry() asks of an entry of `kind`: the leaf condition decides as planned,
        no walk fault fires before the planned one (or none fires), the planned one does."""
        level, as_leaf, lay = kind.lv.number, kind.as_leaf, kind.lay
        lv = kind.lv
        decides = None
        if lv.leaf and lv.table:
            leaf_lay = _layout(self.spec, lv.leaf)

            def decides(v):
                return bool(self.field_eval(lv.leaf_when, leaf_lay, v, level)) == as_leaf
        if kind.rule is None:
            def want(v):
                return (decides is None or decides(v)) and self.walk_faults_clear(lay, level, v, as_leaf)
        else:
            rule, upto = kind.rule, kind.rule.name

            def want(v):
                return ((decides is None or decides(v)) and self.walk_faults_clear(lay, level, v, as_leaf, upto=upto)
                        and bool(self.field_eval(rule.when, lay, v, level)))
        return want


_KINDS: dict = {}  # (regime, level, leaf, fault) -> (keep-alive, _EntryKind)


def _entry_kind(spec: ir.Spec, regime: ir.Regime, level: int, as_leaf: bool, fault: str | None) -> _EntryKind:
    key = (id(spec), id(regime), level, as_leaf, fault)
    hit = _KINDS.get(key)
    if hit is None or hit[0][0] is not spec or hit[0][1] is not regime:
        hit = _KINDS[key] = ((spec, regime), _EntryKind(spec, regime, level, as_leaf, fault))
    return hit[1]


class _EntryKind:
    """What an entry of one regime, level, role and planned fault needs that does not
    depend on the scenario, worked out once: its format, where the address goes, and
    (`solver`) the entries its conditions accept, when they can be solved directly."""

    def __init__(self, spec: ir.Spec, regime: ir.Regime, level: int, as_leaf: bool, fault: str | None):
        self.lv = lv = regime.level(level)
        self.as_leaf = as_leaf
        self.lay = lay = _layout(spec, lv.leaf if as_leaf else lv.table)
        terms = regime.frame_of(lv) if as_leaf else regime.pointer
        self.pieces = tuple((e, mask(w), a) for e, w, a in ir.addr_pieces(terms, lay))
        self.place_mask = addr = 0
        disjoint = True
        for e, m, a in self.pieces:
            self.place_mask |= m << e
            disjoint = disjoint and not addr & (m << a)
            addr |= m << a
        # with address pieces that do not overlap, an address round-trips through the
        # entry exactly when it has no bit outside them
        self.addr_disjoint, self.addr_outside = disjoint, ~addr
        self.keep = frozenset(t.field for t in terms)
        self.rule = None if fault is None else next(r for r in regime.faults if r.name == fault)
        # a fault `at leaf F` / `at table F` cannot happen on an entry of another format
        self.applies = self.rule is None or self.rule in regime.faults_for(as_leaf, lay.name)
        self.uses_rsvd = self.rule is not None and any(r.kind == "builtin" and r.name == "rsvd"
                                                       for r in self.rule.when.refs())
        self.solver = _Solver.of(spec, regime, self)


class _Solver:
    """The entries an `_EntryKind` accepts, solved over every combination of the few small
    fields its conditions read (the 'condition fields', less the address fields), once per
    value of everything else the conditions read: the context bits, the must-be-zero
    masks, whether a must-be-zero bit outside those fields is set, the other entry bits
    read, and the preferred values of a legal entry. An entry is then a dict lookup and
    one draw instead of a search."""

    MAX_BITS = 10  # 1024 combinations at most, each solved once per key
    MAX_OTHER = 8  # entry bits read outside the condition fields (a key each)

    @classmethod
    def of(cls, spec: ir.Spec, regime: ir.Regime, kind: _EntryKind) -> _Solver | None:
        lv, lay = kind.lv, kind.lay
        conds = [(r.when, lay) for r in regime.faults_for(kind.as_leaf, lay.name)]
        if lv.leaf and lv.table:
            conds.append((lv.leaf_when, _layout(spec, lv.leaf)))
        read = 0
        ctx_refs: set = set()
        rsvd_lays: dict = {}
        names: set = set()
        stack = [(e, L) for e, L in conds]
        while stack:
            e, L = stack.pop()
            for r in e.refs():
                if r.kind in ("field", "leaf"):
                    f = L.field(r.name)
                    if f is None:
                        return None
                    read |= f.mask
                    names.add(r.name)
                elif r.kind == "ctx":
                    ctx_refs.add((r.name, r.lo, mask(r.width)))
                elif r.kind == "builtin" and r.name == "rsvd":
                    rsvd_lays[L.name] = L
                elif r.kind == "builtin" and r.name == "level":
                    pass
                elif r.kind == "builtin" and r.name == "next" and regime.next_level is not None:
                    stack.append((regime.next_level, L))
                else:
                    return None  # the input address, `skipped`, or what table building cannot set
        fields = [lay.field(n) for n in sorted(names - kind.keep) if lay.field(n) is not None]
        if any(f.width > 4 for f in fields) or sum(f.width for f in fields) > cls.MAX_BITS:
            return None
        cmask = sum(f.mask for f in fields)
        other = read & ~cmask
        if other.bit_count() > cls.MAX_OTHER:
            return None
        return cls(kind, fields, cmask, other, tuple(sorted(ctx_refs)), tuple(rsvd_lays.values()))

    def __init__(self, kind, fields, cmask, other, ctx_refs, rsvd_lays):
        self.kind, self.fields, self.cmask, self.other = kind, fields, cmask, other
        self.names = tuple(f.name for f in fields)
        self.spans = tuple((f.lo, f.width) for f in fields)
        self.ctx_refs, self.rsvd_lays = ctx_refs, rsvd_lays
        self.cache: dict = {}

    def fixed_key(self, b: TableBuilder) -> tuple:
        """The part of the key a builder fixes: (context bits read, must-be-zero masks of
        the formats whose `rsvd` is read, preferred values or None)."""
        ctx = b.ctx
        pref = None
        if b.legal and b.preferred:
            pref = tuple(b.preferred.get(n) for n in self.names)
            if all(p is None for p in pref):
                pref = None
        return (tuple((ctx[n] >> lo) & m for n, lo, m in self.ctx_refs),
                tuple(b.mbz(L) for L in self.rsvd_lays), pref)

    def solve(self, b: TableBuilder, value: int, sub: dict, fixed: tuple) -> int:
        """`value` if the conditions accept it, else `value` with the condition fields
        set to an accepted combination drawn at random (one nearest the preferred values,
        for a legal entry). `sub`: the solutions for the builder's `fixed_key`."""
        outside = value & ~self.cmask
        mbzs = fixed[1]
        if not mbzs:
            key = outside & self.other
        elif len(mbzs) == 1:
            key = (outside & self.other, not outside & mbzs[0])
        else:
            key = (outside & self.other, tuple(bool(outside & m) for m in mbzs))
        hit = sub.get(key)
        if hit is None:
            hit = sub[key] = self._solutions(b, outside, fixed[2])
        accepted, nearest = hit
        if value & self.cmask in accepted:
            return value
        if not nearest:
            k = self.kind
            raise StimulusError(b.cannot_text(k.lay, k.lv.number, k.as_leaf, k.rule.name if k.rule else None, value))
        pick = nearest[b.draw.int(0, len(nearest) - 1)] if len(nearest) > 1 else nearest[0]
        return outside | pick

    def _solutions(self, b: TableBuilder, outside: int, pref) -> tuple[frozenset, list[int]]:
        """(every accepted combination, those nearest the preferred values)."""
        want = b.want_fn(self.kind)
        combos, groups = _combos(self.spans, pref)
        accepted = [c for c in combos if want(outside | c)]
        ok = set(accepted)
        nearest: list[int] = []
        for group in groups:
            nearest = [combos[i] for i in group if combos[i] in ok]
            if nearest:
                break
        return frozenset(ok), nearest


def injectable(spec: ir.Spec, regime: ir.Regime, rule: ir.Rule, level: int, tries: int = 40,
               budget: list[int] | None = None) -> bool:
    """Whether table building can make walk fault `rule` happen at `level` (some faults
    cannot happen at some levels, e.g. a skipped-level check where no level is below).
    `budget`, when given, is a shared count of entries left to try; once it is spent the
    answer is True (not shown unreachable)."""
    draw = Draw(random.Random(level))
    lv = regime.level(level)
    for as_leaf in ([True] if rule.where == "leaf" else [False] if rule.where == "table" else [False, True]):
        if (as_leaf and not lv.leaf) or (not as_leaf and not lv.table):
            continue
        if rule not in regime.faults_for(as_leaf, lv.leaf if as_leaf else lv.table):
            continue
        for _ in range(tries):
            if budget is not None:
                if budget[0] <= 0:
                    return True
                budget[0] -= 1
            ctx = {name: draw.bits(spec.layout(name).width) for name in regime.context}
            builder = TableBuilder(spec, regime, draw, ctx, lambda a, v: None, Allocator(draw, 40))
            builder.addr = draw.bits(regime.input_width)
            try:
                target = 1 << (lv.page_shift if as_leaf else table_shift(regime))
                builder.entry(level, as_leaf, target, rule.name)
                return True
            except StimulusError:
                continue
    return False


def fault_levels(spec: ir.Spec, regime: ir.Regime, rule: ir.Rule) -> list[int]:
    """The levels walk fault `rule` can happen at: those its role (`at leaf|table`, a
    format) allows, and, where pointers name their next level, those table building can
    make it happen at (e.g. not `skipped` where no level can be skipped)."""
    levels = list(dict.fromkeys(lv for lv, _ in regime.rule_levels(rule)))
    if regime.next_level is not None:
        levels = [lv for lv in levels if injectable(spec, regime, rule, lv.number)]
    return [lv.number for lv in levels]


def passable(spec: ir.Spec, regime: ir.Regime, level: int, as_leaf: bool, tries: int = 20) -> bool:
    """Whether table building can draw an entry at `level` (a leaf, or a pointer) on
    which no walk fault fires: a level whose every entry faults (`fault f when 1;`, or a
    fault on a bit that decides a pointer) ends every walk there."""
    lv = regime.level(level)
    if (as_leaf and not lv.leaf) or (not as_leaf and not lv.table):
        return False
    draw = Draw(random.Random(f"pass:{level}:{as_leaf}"))
    for _ in range(tries):
        ctx = {name: draw.bits(spec.layout(name).width) for name in regime.context}
        builder = TableBuilder(spec, regime, draw, ctx, lambda a, v: None, Allocator(draw, 40))
        builder.addr = draw.bits(regime.input_width)
        try:
            builder.entry(level, as_leaf, 1 << leaf_shift(lv) if as_leaf else 1 << table_shift(regime), None)
            return True
        except StimulusError:
            continue
    return False


def draw_access(draw: Draw, regime: ir.Regime) -> dict[str, int]:
    """Access kinds for a request: each of an exclusive group's `one of` kinds alike (and
    none alike with them for `at most one of`), every other kind 0 or 1 alike; never two
    kinds of one group."""
    if not regime.access_groups:
        return {a: int(draw.chance(50)) for a in regime.access}
    out = {}
    grouped = {k: g for g in regime.access_groups for k in g.kinds}
    for a in regime.access:
        g = grouped.get(a)
        if g is None:
            out[a] = int(draw.chance(50))
        elif a == g.kinds[0]:
            pick = draw.int(0 if g.exactly else -1, len(g.kinds) - 1)
            out.update({k: int(i == pick) for i, k in enumerate(g.kinds)})
    return {a: out[a] for a in regime.access}


# how often a stage that can be switched off is drawn switched off (each stage alone)
BYPASS_PERCENT = 12


class ScenarioFactory:
    """Draws complete scenarios (request + memory image) for a spec's top translation."""

    def __init__(self, spec: ir.Spec, top: ir.Regime | ir.Nested | None = None):
        """`top`: the translation to draw for (default: the spec's top; a unit's walk
        passes its regime)."""
        self.spec = spec
        top = top or spec.top
        self.nested = top if isinstance(top, ir.Nested) else None
        self.main = top.guest_with_folds(spec.regime(top.guest)) if self.nested else top
        self.host = spec.regime(top.host) if self.nested else None
        self.context = top.context
        self._start_pairs: dict[tuple, list[tuple[int, int]]] = {}  # by context override
        self._leafable: dict[str, set[int]] = {}  # by regime: leaf levels a walk can end at (leaf_ok)
        self._host_binds: list | None = None
        self._host_start: list | None = None  # _host_start_regs
        self._access_refs: tuple | None = None  # (bindings read only context, access, acc; their context bits)
        self._access_cache: dict = {}  # _host_accesses
        self._start_bits: tuple | None = None  # (_start_refs,)
        self._start_tables: dict = {}  # _start_table by context override
        self._free_start_refs: dict = {}  # by context override: _start_refs outside it  # (host context register, its binding's function or None)
        self._levels = {r.name: {lv.number for lv in r.levels} for r in (self.main, self.host) if r is not None}
        self._ctx_parts: list | None = None  # _random_ctx's plan of each context register
        self._widths: dict = {}  # _addr_width by regime; _runtime_maps by ("runtime", regime)
        self._presets: dict = {}
        self._levels_of: dict = {}  # _walk_levels by regime
        self._plan_leafs: dict = {}  # by regime and start level: (leaf_ok levels, levels by number)  # _updates_preset by regime and layout  # _addr_width by regime
        self._leaf_ctx: dict = {}  # _leaf_possible by level and the context bits it reads
        self._input_widths: dict = {}  # _host_input_width by the host context bits it reads
        self._input_bits: tuple | None = None  # _input_refs

    # ---- stages switched off (`bypass when`)
    def _off_conditions(self, stage: str) -> list:
        """(function of the outer context, its context bits [(register, lo, width)]) of
        each condition that switches `stage` off: the regime's own `bypass` (a host's read
        through the host bindings) and the composition's `guest/host bypass`."""
        key = ("off", stage)
        hit = self._presets.get(key)
        if hit is not None:
            return hit
        out = []
        regime = self.host if stage == "host" else self.main
        outer = self.nested and (self.nested.host_bypass if stage == "host" else self.nested.guest_bypass)
        if outer is not None:
            fn = ctx_fn(outer)
            out.append((lambda ctx, fn=fn: fn(ctx), _ctx_bits(outer)))
        if regime is not None and regime.bypass is not None:
            fn = ctx_fn(regime.bypass)
            if stage == "host":
                bound = {b.name: b.value for b in self.nested.host_bindings}
                bits = []
                for r in regime.bypass.refs():
                    bits += _ctx_bits(bound[r.name]) if r.name in bound else [(r.name, r.lo, r.width)]
                out.append((lambda ctx, fn=fn: fn(self._host_ctx(ctx)), bits))
            else:
                out.append((lambda ctx, fn=fn: fn(ctx), _ctx_bits(regime.bypass)))
        self._presets[key] = out
        return out

    def stage_off(self, stage: str, ctx: dict) -> bool:
        """Whether `stage` ("guest"/"top", or "host") is switched off under `ctx`."""
        return any(fn(ctx) for fn, _ in self._off_conditions("host" if stage == "host" else "guest"))

    def _steer_off(self, draw: Draw, ctx: dict, fixed: dict) -> None:
        """Switch each stage that can be off off in about BYPASS_PERCENT of the scenarios
        (and on in the rest), by drawing again the context bits its conditions read
        (never those of a register in `fixed`, the caller's context override)."""
        for stage in ("guest", "host"):
            conds = self._off_conditions(stage)
            if not conds:
                continue
            want = draw.chance(BYPASS_PERCENT)
            bits = [b for _, refs in conds for b in refs if b[0] in ctx and b[0] not in fixed]
            for _ in range(64):
                if self.stage_off(stage, ctx) == want or not bits:
                    break
                trial = dict(ctx)
                for name, lo, width in bits:
                    trial[name] = (trial[name] & ~(mask(width) << lo)) | (draw.bits(width) << lo)
                if self._starts(trial) is not None:
                    ctx.update(trial)

    # ---- pieces
    def _random_ctx(self, draw: Draw) -> dict:
        """Every context register at random: each field uniform (on random.Random, a whole
        register from one getrandbits, its bits outside the fields cleared)."""
        if self._ctx_parts is None:
            parts = []
            for name in self.context:
                lay = _layout(self.spec, name)
                if not lay.fields:
                    parts.append((name, lay.width, (), mask(lay.width)))
                    continue
                m = sum(f.mask for f in lay.fields)
                parts.append((name, m.bit_length(), tuple((f.lo, f.width) for f in lay.fields), m))
            self._ctx_parts = parts
        ctx = {}
        if draw.data is None:
            get = draw.getrandbits
            for name, width, _, m in self._ctx_parts:
                ctx[name] = get(width) & m if width else 0
            return ctx
        for name, width, fields, ones in self._ctx_parts:
            if not fields:
                ctx[name] = draw.bits(width)
                continue
            v = 0
            for lo, w in fields:
                v |= (draw.bits(w) if w > 1 else int(draw.chance(50))) << lo
            ctx[name] = v
        return ctx

    def _starts(self, ctx: dict) -> tuple[int, int] | None:
        """The start levels (main, host) a context gives, or None if one is not a level."""
        main = self._start(self.main, ctx)
        host = self._start(self.host, self._host_ctx(ctx, self._host_start_regs())) if self.host else 0
        if main not in self._levels[self.main.name]:
            return None
        if self.host and host not in self._levels[self.host.name]:
            return None
        return main, host

    def start_pairs(self, override: dict | None = None) -> list[tuple[int, int]]:
        """The (main, host) start levels contexts can give (probed on 256 random ones)."""
        key = tuple(sorted(override.items())) if override else ()
        if key not in self._start_pairs:
            probe = Draw(random.Random(0))
            pairs = {self._starts(self._random_ctx(probe) | dict(key)) for _ in range(256)}
            self._start_pairs[key] = sorted(p for p in pairs if p is not None)
        return self._start_pairs[key]

    def _draw_ctx(self, draw: Draw, override: dict) -> dict:
        """A random context whose start levels are drawn evenly among those contexts
        can give (e.g. 4- and 5-level walks alike, whatever bits select them)."""
        okey = tuple(sorted(override.items())) if override else ()
        pairs = self.start_pairs(override)
        if not pairs:
            return self._host_off_ctx(draw, override)
        target = pairs[draw.int(0, len(pairs) - 1)]
        refs = self._start_refs()
        if refs is not None:
            # the same as drawing whole contexts until one gives `target`: only the bits
            # the start levels read are drawn again, or, when they are few, drawn among
            # the values that give `target` (found once)
            ctx = self._random_ctx(draw)
            if override:
                ctx.update(override)
            refs = self._free_start_refs.get(okey)
            if refs is None:
                refs = self._free_start_refs[okey] = [r for r in self._start_refs() if r[0] not in override]
            if sum(w for _, _, w in refs) <= 12:
                table = self._start_table(okey, refs, ctx)
                values = table.get(target)
                if values:
                    chosen = values[draw.int(0, len(values) - 1)] if len(values) > 1 else values[0]
                    for (name, lo, width), v in zip(refs, chosen):
                        ctx[name] = (ctx[name] & ~(mask(width) << lo)) | (v << lo)
                    return ctx
            for _ in range(200):
                if self._starts(ctx) == target:
                    return ctx
                for name, lo, width in refs:
                    ctx[name] = (ctx[name] & ~(mask(width) << lo)) | (draw.bits(width) << lo)
        for _ in range(200):
            ctx = self._random_ctx(draw) | override
            if self._starts(ctx) == target:
                return ctx
        for _ in range(200):
            ctx = self._random_ctx(draw) | override
            if self._starts(ctx) is not None:
                return ctx
        raise StimulusError("no context gives a valid start level")

    def _host_off_ctx(self, draw: Draw, override: dict) -> dict:
        """A context with the caller's fixed registers that switches the host stage off, when
        no context gives valid start levels of both stages (a unit's walk whose fixed register
        switches the host off and names no host start level with it): a switched-off host
        reads no start level. Only where the draw would otherwise fail, so that every other
        scenario is drawn as before."""
        if self.host is not None and override and self._off_conditions("host"):
            levels = self._levels[self.main.name]
            for _ in range(200):
                ctx = self._random_ctx(draw) | override
                if self.stage_off("host", ctx) and self._start(self.main, ctx) in levels:
                    return ctx
        raise StimulusError("no context gives a valid start level")

    def _start_table(self, key: tuple, refs: list, ctx: dict) -> dict:
        """{start pair: [the values of `refs` that give it]}, every value tried once (the
        start levels read only `refs` and the overridden registers, fixed by `key`)."""
        hit = self._start_tables.get(key)
        if hit is None:
            trial = dict(ctx)
            hit = {}
            for combo in itertools.product(*[range(1 << w) for _, _, w in refs]):
                for (name, lo, width), v in zip(refs, combo):
                    trial[name] = (trial[name] & ~(mask(width) << lo)) | (v << lo)
                hit.setdefault(self._starts(trial), []).append(combo)
            self._start_tables[key] = hit
        return hit

    def _start_refs(self) -> list[tuple[str, int, int]] | None:
        """The context bits (register, low bit, width) the start levels read, through the
        host bindings too; None if they read anything else."""
        if self._start_bits is None:
            exprs = [self.main.start]
            if self.host is not None:
                bound = {b.name: b.value for b in self.nested.host_bindings}
                for r in self.host.start.refs():
                    exprs.append(bound[r.name] if r.kind == "ctx" and r.name in bound else r)
            refs = [r for e in exprs for r in e.refs()]
            ok = all(r.kind == "ctx" and r.name in self.context for r in refs)
            self._start_bits = (sorted({(r.name, r.lo, r.width) for r in refs}),) if ok else (None,)
        return self._start_bits[0]

    def _host_access(self, stage: str, ctx: dict, access: dict, guest_acc: int = 1) -> dict:
        """The host access kind of a stage; a final access may read the guest's
        accumulators, taken here as all `guest_acc` (tables are built before the walk)."""
        binds = {"table": self.nested.table_access, "final": self.nested.final_access,
                 "update": self.nested.update_access}[stage]
        accs = {a.name: guest_acc for a in self.main.accumulators}
        return {b.name: ctx_fn(b.value)(ctx, access, accs) for b in binds}

    def _host_input_width(self, hctx: dict, ctx: dict, access: dict) -> int:
        """The lowest guest-physical address bit (from bit 12) at which one of the host's
        input faults fires in this host context (an address width the context chooses),
        when address 0 passes them all and the guest's largest frame fits below it; else 64."""
        refs, reads_access = self._input_refs()
        try:
            # the table reads' host access kinds, where the faults read access kinds (the key then holds them)
            hacc = self._host_access("table", ctx, access) if reads_access else {}
        except (StimulusError, KeyError):
            return 64
        key = (tuple((hctx[n] >> lo) & mask(w) for n, lo, w in refs), tuple(hacc.items()))
        hit = self._input_widths.get(key)
        if hit is None:
            hit = 64
            try:
                conds = [ctx_fn_input(r.when) for r in self.host.input_faults]
                if not any(f(hctx, hacc, 0) for f in conds):
                    bit = next((b for b in range(12, 64) if any(f(hctx, hacc, 1 << b) for f in conds)), 64)
                    biggest = max([leaf_shift(lv) for lv in self.main.levels if lv.leaf] + [table_shift(self.main)])
                    hit = bit if bit > biggest else 64
            except (StimulusError, KeyError):
                pass
            self._input_widths[key] = hit
        return hit

    def _input_refs(self) -> tuple[list[tuple[str, int, int]], bool]:
        """The host context bits the host's input faults read, and whether they read an
        access kind (_host_input_width's key)."""
        if self._input_bits is None:
            faults = self.host.input_faults
            self._input_bits = (sorted({b for r in faults for b in _ctx_bits(r.when)}),
                                any(x.kind == "access" for r in faults for x in r.when.refs()))
        return self._input_bits

    def _fold_fields(self) -> set[str]:
        """The host entry fields that the composition's folds read (through `host.ACC`)."""
        accs = {r.name for f in self.nested.folds for r in f.then.refs() if r.kind == "hacc"}
        return {r.name for a in self.host.accumulators if a.name in accs for r in a.then.refs()
                if r.kind in ("field", "leaf")}

    def _host_ctx(self, ctx: dict, only: list | None = None) -> dict:
        """The host stage's context registers from the guest's context (`only`: just those
        of _host_start_regs)."""
        return {r: (fn(ctx) if fn is not None else ctx[r]) for r, fn in (only or self._host_bind_fns())}

    def _host_bind_fns(self) -> list:
        """(host context register, its binding's function or None: the guest's register)."""
        if self._host_binds is None:
            bound = {b.name: ctx_fn(b.value) for b in self.nested.host_bindings}
            self._host_binds = [(r, bound.get(r)) for r in self.host.context]
        return self._host_binds

    def _host_start_regs(self) -> list:
        """The (register, binding function or None) pairs of _host_ctx that the host's
        start level reads."""
        if self._host_start is None:
            read = {r.name for r in self.host.start.refs() if r.kind == "ctx"}
            self._host_start = [(r, fn) for r, fn in self._host_bind_fns() if r in read] or self._host_bind_fns()
        return self._host_start

    def _ctx_denies(self, ctx: dict, access: dict) -> bool:
        """Whether a final check of the host stage fires for one of the composition's host
        accesses with every accumulator at its initial value (entries that grant all):
        the context alone refuses the walk. A check that reads what the context cannot
        give (the leaf's fields) counts as not firing."""
        hctx = self._host_ctx(ctx)
        stages = ["table", "final"] + (["update"] if self.nested.update_access else [])
        for acc in self._host_accesses(stages, ctx, access):
            try:
                extra = {("acc", a.name): eval_ctx(a.init, hctx, acc) for a in self.host.accumulators}
            except Exception:  # noqa: BLE001  an initial value that reads more than the context
                return False
            for rule in self.host.checks:
                try:
                    if eval_ctx(rule.when, hctx, acc, extra):
                        return True
                except Exception:  # noqa: BLE001  a check on the leaf's fields
                    continue
        return False

    def _host_accesses(self, stages: list[str], ctx: dict, access: dict) -> list[dict]:
        """_host_access of each stage, for guest accumulators 0 and 1, cached by the
        context bits and access kinds the bindings read."""
        if self._access_refs is None:
            binds = [b for st in ("table", "final", "update")
                     for b in {"table": self.nested.table_access, "final": self.nested.final_access,
                               "update": self.nested.update_access}[st]]
            refs = [r for b in binds for r in b.value.refs()]
            ok = all(r.kind in ("ctx", "access", "acc") for r in refs)
            self._access_refs = (ok, tuple(sorted({(r.name, r.lo, mask(r.width)) for r in refs if r.kind == "ctx"})))
        ok, refs = self._access_refs
        if not ok:
            return [self._host_access(stage, ctx, access, g) for stage in stages for g in (0, 1)]
        key = (tuple(stages), tuple((ctx[n] >> lo) & m for n, lo, m in refs), tuple(access.values()))
        hit = self._access_cache.get(key)
        if hit is None:
            hit = self._access_cache[key] = [self._host_access(stage, ctx, access, g) for stage in stages for g in (0, 1)]
        return hit

    def _addr_width(self, spec: ir.Spec, regime: ir.Regime) -> int:
        """The address bits every pointer and frame map can hold (tables and frames lie below)."""
        hit = self._widths.get(regime.name)
        if hit is None:
            hit = self._widths[regime.name] = self._addr_width_of(spec, regime)
        return hit

    @staticmethod
    def _addr_width_of(spec: ir.Spec, regime: ir.Regime) -> int:
        maps = [(regime.pointer, lv.table) for lv in regime.levels if lv.table]
        maps += [(regime.frame_of(lv), lv.leaf) for lv in regime.levels if lv.leaf]
        widths = [ir.addr_mask(terms, spec.layout(name)).bit_length() for terms, name in maps]
        return min(widths) if widths else 32

    def _ctx_width(self, regime: ir.Regime, ctx: dict, width: int) -> int:
        """`width` cut to below the lowest address bit a register-chosen must-be-zero range
        (`reserved [HI:EXPR]`, an output size) makes reserved in this context, so that
        tables and frames stay inside the output size the context chooses."""
        for terms, lay in self._runtime_maps(regime):
            m = mbz_mask(lay, ctx)
            for e, w, a in ir.addr_pieces(terms, lay):
                bits = (m >> e) & mask(w)
                if bits:
                    width = min(width, a + (bits & -bits).bit_length() - 1)
        return width

    def _runtime_maps(self, regime: ir.Regime) -> list:
        """(map, layout) of each pointer and frame whose format has a register-chosen
        must-be-zero range (`_ctx_width`)."""
        hit = self._widths.get(("runtime", regime.name))
        if hit is None:
            maps = [(regime.pointer, lv.table) for lv in regime.levels if lv.table]
            maps += [(regime.frame_of(lv), lv.leaf) for lv in regime.levels if lv.leaf]
            hit = self._widths[("runtime", regime.name)] = [
                (terms, _layout(self.spec, name)) for terms, name in maps
                if any(r.low is not None for r in _layout(self.spec, name).ranges)]
        return hit

    def _start(self, regime: ir.Regime, ctx: dict) -> int:
        return ctx_fn(regime.start)(ctx)

    def _updates_preset(self, regime: ir.Regime, lay: ir.Layout) -> int:
        """The bits of `lay` the regime's updates set (preset: already set in memory)."""
        hit = self._presets.get((regime.name, lay.name))
        if hit is None:
            hit = self._presets[(regime.name, lay.name)] = self._updates_preset_of(regime, lay)
        return hit

    @staticmethod
    def _updates_preset_of(regime: ir.Regime, lay: ir.Layout) -> int:
        """Flags only (`set F at ...`): a value update (`set F = V`) may write a field the
        checks read (a read-only bit), and presetting it would decide them."""
        m = 0
        for u in regime.updates:
            f = lay.field(u.field)
            if f is not None and u.value is None:
                m |= f.mask
        return m

    def leaf_ok(self, regime: ir.Regime, numbers: list[int], start: int | None = None) -> list[int]:
        """The levels of `numbers` a walk can end at with a leaf no fault fires on
        (`passable`; e.g. not a level whose leaf condition no entry meets) and, from level
        `start`, can reach (stimulus.reach: not below a level without pointers), or all
        of them when none can."""
        key = regime.name
        if key not in self._leafable:
            self._leafable[key] = {lv.number for lv in regime.leaf_levels if passable(self.spec, regime, lv.number, True)}
        ok = self._leafable[key]
        if start is not None:
            rkey = (regime.name, "reach", start)
            if rkey not in self._leafable:
                self._leafable[rkey] = reach.reached_levels(self.spec, regime, {start})[1]
            ok = ok & self._leafable[rkey]
        return [n for n in numbers if n in ok] or numbers

    def _choose_plan(self, draw: Draw, regime: ir.Regime, start: int, fault_percent: int,
                     ctx: dict | None = None) -> Plan:
        key = (regime.name, start)
        leafs = self._plan_leafs.get(key)
        if leafs is None:
            refs = tuple(sorted({(r.name, r.lo, mask(r.width)) for lv in regime.levels if lv.leaf_when is not None
                                 for r in lv.leaf_when.refs() if r.kind == "ctx"}))
            leafs = self._plan_leafs[key] = (self.leaf_ok(regime, [lv.number for lv in regime.leaf_levels
                                                                   if lv.number <= start], start),
                                             {lv.number: lv for lv in regime.levels}, refs)
        leafs, by_number, refs = leafs
        if ctx is not None:  # a leaf whose condition the context rules out cannot end the walk
            key2 = (key, tuple((ctx.get(n, 0) >> lo) & m for n, lo, m in refs))
            possible = self._plan_leafs.get(key2)
            if possible is None:
                possible = self._plan_leafs[key2] = [n for n in leafs if self._leaf_possible(by_number[n], ctx)] or leafs
            leafs = possible
        leaf = leafs[draw.int(0, len(leafs) - 1)] if len(leafs) > 1 or draw.data is not None else leafs[0]
        if regime.faults and draw.chance(fault_percent):
            return self._fault_plan(draw, leaf, start, draw.choice(regime.faults), regime)
        return Plan(leaf)

    def _leaf_possible(self, lv: ir.Level, ctx: dict) -> bool:
        """Whether some entry makes `leaf F when COND` hold under `ctx` (COND may read a
        context register, e.g. a page-size enable): tried over every value of the few
        entry bits COND reads; True when they are many or COND reads something else."""
        if lv.leaf_when is None or not lv.table:
            return True
        refs = self._leaf_ctx.get(id(lv))
        if refs is None:
            refs = self._leaf_ctx[id(lv)] = tuple((r.name, r.lo, mask(r.width)) for r in lv.leaf_when.refs() if r.kind == "ctx")
        key = (id(lv), tuple((ctx.get(n, 0) >> lo) & m for n, lo, m in refs))
        hit = self._leaf_ctx.get(key)
        if hit is None:
            hit = self._leaf_ctx[key] = self._leaf_possible_uncached(lv, ctx)
        return hit

    def _leaf_possible_uncached(self, lv: ir.Level, ctx: dict) -> bool:
        lay = _layout(self.spec, lv.leaf)
        fields = sorted({r.name for r in lv.leaf_when.refs() if r.kind == "field"})
        widths = [lay.field(n).width if lay.field(n) is not None else 64 for n in fields]
        if sum(widths) > 8:
            return True
        for combo in range(1 << sum(widths)):
            extra, at = {}, 0
            for n, w in zip(fields, widths):
                extra[("field", n)] = (combo >> at) & mask(w)
                at += w
            try:
                if eval_ctx(lv.leaf_when, ctx, None, extra):
                    return True
            except StimulusError:
                return True
        return False

    @staticmethod
    def plan_at(draw: Draw, regime: ir.Regime, rule: ir.Rule, level: int) -> Plan:
        """A plan injecting walk fault `rule` at `level`, with a leaf level that lets it happen."""
        leafs = [lv.number for lv in regime.leaf_levels]
        if rule.where == "leaf":
            return Plan(level, rule.name, level)
        lv = regime.level(level)
        if rule.format and (not lv.table or rule not in regime.faults_for(False, lv.table)):
            leafs = [level]  # `at leaf F` (or a format this level's pointers lack): on the leaf here
        below = [n for n in leafs if n < level] if rule.where == "table" else [n for n in leafs if n <= level]
        return Plan(draw.choice(below or leafs), rule.name, level)

    @staticmethod
    def _fault_plan(draw: Draw, leaf: int, start: int, rule: ir.Rule, regime: ir.Regime) -> Plan:
        """A walk ending in a leaf at `leaf` with `rule` injected where it can happen (a
        fault `at leaf F` / `at table F` only where F is the entry read)."""
        if rule.format:
            sites = [lv.number for lv, as_leaf in regime.rule_levels(rule)
                     if (lv.number == leaf if as_leaf else leaf < lv.number <= start)]
            return Plan(leaf, rule.name, draw.choice(sites)) if sites else Plan(leaf)
        if rule.where == "leaf":
            return Plan(leaf, rule.name, leaf)
        if rule.where == "table":
            return Plan(leaf, rule.name, draw.int(leaf + 1, start)) if leaf < start else Plan(leaf)
        return Plan(leaf, rule.name, draw.int(leaf, start))

    def _build(self, builder: TableBuilder, regime: ir.Regime, root: int, addr: int, start: int, plan: Plan,
               place, preset: bool) -> bool:
        """Write the walk of `addr` from the table at `root`; `place(table_addr) -> physical or None`
        (None: the table addresses are physical).
        Where pointers name their next level (a field), some pointers skip levels (the
        plan's `skip`, else drawn); the input bits of the skipped levels are then cleared
        in `builder.addr` (most of the time for a drawn skip), the input the scenario must
        use."""
        table = root
        builder.addr = addr
        expect = start
        nl = regime.next_level
        nl_field = nl.name if nl is not None and nl.op == "ref" and nl.kind == "field" else None
        tshift, ebytes = table_shift(regime), regime.entry_bytes
        frame, leaf_frame = builder.alloc.frame, (builder.leaf_alloc or builder.alloc).frame
        for lv, index_lo, index_mask in self._walk_levels(regime):
            if lv.number > expect:
                continue
            entry_addr = table + (((_indexed(regime, builder.ctx, builder.addr) >> index_lo) & index_mask) * ebytes)
            as_leaf = lv.number <= plan.leaf_level or lv.table is None
            fault = plan.fault if plan.fault and plan.fault_level == lv.number else None
            # a leaf that is to fault ends the walk: any frame will do, even one whose low
            # bits a fault reads (a large page's must-be-zero frame bits)
            target = leaf_frame(lv.page_shift if fault else leaf_shift(lv)) if as_leaf else frame(tshift)
            expect = lv.number - 1
            if nl_field and not as_leaf and fault is None and plan.skip is not None and lv.number >= plan.skip[0]:
                if lv.number == plan.skip[0]:  # the planned skip, its index bits cleared (a legal walk)
                    expect = plan.skip[1]
                    builder.addr &= ~regime.skip_mask(lv.number, expect)
            elif nl_field and not as_leaf and fault is None:
                below = [m.number for m in regime.levels if plan.leaf_level <= m.number < lv.number]
                if below and builder.draw.chance(35):
                    expect = builder.draw.choice(below)
                    if builder.draw.chance(85):
                        builder.addr &= ~regime.skip_mask(lv.number, expect)
            value, fault = self._entry_or_fallback(builder, regime, lv.number, as_leaf, target, fault)
            if nl_field and not as_leaf and fault is None:
                f = _layout(self.spec, lv.table).field(nl_field)
                value = (value & ~f.mask) | ((expect & mask(f.width)) << f.lo)
            if preset and fault is None:
                lay = _layout(self.spec, lv.leaf if as_leaf else lv.table)
                value |= self._updates_preset(regime, lay)
            phys = entry_addr if place is None else place(entry_addr)
            if phys is None:
                return False
            builder.write(phys, value)
            if as_leaf and fault is None:
                builder.final = target | (builder.addr & mask(leaf_shift(lv)))
            if fault is not None or as_leaf:
                return True
            table = target
        return True

    def _walk_levels(self, regime: ir.Regime) -> list[tuple[ir.Level, int, int]]:
        """(level, low bit and mask of its index) of each level of `regime`, in walk order."""
        hit = self._levels_of.get(regime.name)
        if hit is None:
            hit = self._levels_of[regime.name] = [(lv, lv.index_lo, mask(lv.index_hi - lv.index_lo + 1))
                                                  for lv in regime.levels]
        return hit

    @classmethod
    def _entry_or_fallback(cls, builder: TableBuilder, regime: ir.Regime, level: int, as_leaf: bool, target: int,
                           fault: str | None) -> tuple[int, str | None]:
        """(entry, the fault it draws): with the planned fault, or, where that fault cannot
        happen (e.g. a fault only a leaf can meet, planned on a pointer; no level below to
        skip), without it; where no entry lets the walk go on (a fault always fires), with
        the first fault that can be drawn, so that such a spec is still driven. The guest
        (or only) stage and the host stage of a nested walk fall back alike."""
        try:
            return builder.entry(level, as_leaf, target, fault), fault
        except StimulusError:
            if fault is not None:
                try:
                    return builder.entry(level, as_leaf, target, None), None
                except StimulusError:
                    pass
            return cls._faulting_entry(builder, regime, level, as_leaf, target)

    @staticmethod
    def _faulting_entry(builder: TableBuilder, regime: ir.Regime, level: int, as_leaf: bool,
                        target: int) -> tuple[int, str]:
        """An entry at `level` on which one of the regime's walk faults fires, and its name."""
        for rule in regime.faults:
            try:
                return builder.entry(level, as_leaf, target, rule.name), rule.name
            except StimulusError:
                continue
        raise StimulusError(f"no entry at level {level} either lets the walk go on or draws one of its faults")

    # ---- a whole scenario
    def draw_scenario(self, draw: Draw, oracle=None, **kw) -> Scenario:
        """A scenario of one of five kinds: a legal walk (kept only if the
        `oracle` says it translates), an injected walk fault, random permissions, random
        permissions that pass the host stage (so the guest's checks are reached), and a
        legal walk whose final address meets random host entries (the host's checks on
        the final access). Without an oracle, or for a one-dimensional walk, the kinds
        that need one fall back to random permissions. The kinds the oracle judges are
        built with `exact` legal entries, so that most are what they should be at the
        first draw (a flipped permission bit in any of a nested walk's ~17 entries sent
        most of them round the loop again)."""
        kind = (0, 1, 1, 2, 3, 4)[draw.int(0, 5)]  # injected faults twice as often: they have the most sites
        if kind == 4 and self.nested is None:
            kind = 2
        if oracle is None or kind in (1, 2):
            return self.make(draw, fault_percent=100 if kind == 1 else 0, legal=kind == 1, **kw)
        wanted = {
            0: lambda out: out.get("ok"),
            3: lambda out: out.get("stage") != "host" and not out.get("ok"),
            4: lambda out: out.get("stage") == "host" and "guest_level" in out and out["guest_level"] is None,
        }[kind]
        for _ in range(30):
            sc = self.make(draw, fault_percent=0, legal=True, final_random=kind == 4,
                           guest_legal=False if kind == 3 else None, exact=True, **kw)
            if wanted(oracle(sc)):
                return sc
        return sc

    def make(self, draw: Draw, guest_plan: Plan | None = None, host_leaf: int | None = None,
             fault_percent: int = 50, preset_updates: bool | None = None, ctx_override: dict | None = None,
             legal: bool = False, final_random: bool = False, guest_legal: bool | None = None,
             host_fault_at: tuple[str, int] | None = None, exact: bool = False,
             access_override: dict | None = None, input_override: int | None = None,
             host_tables: dict | None = None, ctx_bits: dict | None = None) -> Scenario:
        """One scenario. `legal` leans entries toward values that pass the access checks
        (`guest_legal` overrides it for the guest stage, the only stage of a one-dimensional
        walk), and `exact` makes them take those values every time; a plan fixes the
        leaf level and an injected walk fault; `final_random` gives the final address of a
        nested walk host entries drawn without that lean; `host_fault_at` (fault, level)
        injects a host walk fault into one of the walk's host translations;
        `access_override` fixes access kinds (a unit's walk that binds them to constants),
        `input_override` the input (a unit's walk whose input is computed, not drawn);
        `host_tables` maps a host root to the intent["host_tables"] of an earlier scenario
        that built under it (a unit's second walk through the same host tables): this one
        follows and extends those host entries instead of drawing others over them;
        `ctx_bits` maps a context register to (mask, value): bits fixed in a register drawn
        otherwise (a unit's binding of a register to structure fields and other bits)."""
        ctx = self._fixed_bits(self._draw_ctx(draw, ctx_override or {}), ctx_bits)
        if self._off_conditions("guest") or self._off_conditions("host"):
            self._steer_off(draw, ctx, ctx_override or {})
        memory: dict[int, int] = {}
        access = {**draw_access(draw, self.main), **(access_override or {})}
        if legal and ctx_override and self.nested is not None:
            # a unit's walk: the context registers it draws (a root pointer with a structure
            # entry's permissions beside it) are drawn again, a few times, while the host's final
            # checks deny the walk before any entry is read
            for _ in range(8):
                if not self._ctx_denies(ctx, access):
                    break
                ctx = self._fixed_bits(self._draw_ctx(draw, ctx_override), ctx_bits)
                if self._off_conditions("guest") or self._off_conditions("host"):
                    self._steer_off(draw, ctx, ctx_override)
        preset = draw.chance(50) if preset_updates is None else preset_updates
        used: set = set()
        main_width = self._ctx_width(self.main, ctx, self._addr_width(self.spec, self.main))
        addr = draw.bits(self.main.input_width) if input_override is None else input_override
        if self.main.input_faults:
            ctx, addr, tripped = self._input_faults(draw, ctx, access, addr, ctx_override or {})
            if tripped is not None:
                # the walk is never made: the fault is found before the first reference
                request = {self.main.input_name: addr, **access, **ctx}
                return Scenario(request, memory, draw.int(0, 2**31), {"input_fault": tripped})
        start = self._start(self.main, ctx)
        guest_faults = fault_percent if self.nested is None or draw.chance(50) else 0
        plan = guest_plan or self._choose_plan(draw, self.main, start, guest_faults, ctx)
        intent = {"plan": plan.__dict__.copy()}

        guest_off = self.stage_off("guest", ctx) if self._off_conditions("guest") else False
        if self.nested is None and guest_off:
            pass  # the stage is switched off: no tables, the input is the output
        elif self.nested is None:
            alloc = Allocator(draw, main_width, used)
            root = _root_frame(alloc, self.main)
            invert(self.main.root, root, ctx, given=addr)
            builder = TableBuilder(self.spec, self.main, draw, ctx, memory.__setitem__, alloc)
            builder.legal = legal if guest_legal is None else guest_legal
            builder.exact = exact
            if builder.legal:
                builder.prefer([access])
            self._build(builder, self.main, root, addr, start, plan, None, preset)
            addr = builder.addr
        else:
            host_width = self._addr_width(self.spec, self.host)
            if self._runtime_maps(self.host):
                host_width = self._ctx_width(self.host, self._host_ctx(ctx), host_width)
            halloc = Allocator(draw, host_width, used)
            bindings = {b.name: b.value for b in self.nested.host_bindings}
            hroot = None if bindings else _kept_root(halloc, self.host, self._host_ctx(ctx), ctx_override or {})
            if hroot is None:
                hroot = _root_frame(halloc, self.host)
                invert(self.host.root, hroot, ctx, bindings)
            hctx = self._host_ctx(ctx)
            hstart = self._start(self.host, hctx)
            hbuilder = TableBuilder(self.spec, self.host, draw, hctx, memory.__setitem__, halloc)
            earlier = (host_tables or {}).get(hroot)
            if earlier is not None:
                hbuilder.entries, hbuilder.host_shifts = earlier["entries"], earlier["shifts"]
                used.update(earlier["used"])
            intent["host_tables"] = {"root": hroot, "entries": hbuilder.entries, "shifts": hbuilder.host_shifts,
                                     "used": used}
            hbuilder.legal = legal
            hbuilder.exact = exact
            if legal:
                stages = ["table", "final"] + (["update"] if self.nested.update_access else [])
                hbuilder.prefer(self._host_accesses(stages, ctx, access))
                # the fields a fold reads through the host's accumulators decide the composition's
                # final access: the lean would give them one value everywhere, so they stay random
                hbuilder.unprefer(self._fold_fields())
            gwidth, leaf_width = main_width, None
            if self.host.input_faults and not draw.chance(INPUT_FAULT_PERCENT):
                # most guest tables and frames lie where the host's tables index and below
                # the input bits its input faults (a width the host context chooses) let
                # pass; the others anywhere
                gwidth = min(main_width, max(lv.index_hi for lv in self.host.levels) + 1,
                             self._host_input_width(hctx, ctx, access))
                if gwidth < main_width and draw.chance(INPUT_FAULT_PERCENT):
                    # the tables inside, the leaf's frame anywhere: the walk reaches its leaf
                    # and the host's input fault is met on the final address only
                    leaf_width = main_width
            galloc = Allocator(draw, gwidth, set())
            groot = _kept_root(galloc, self.main, ctx, ctx_override or {})
            if groot is None:
                groot = _root_frame(galloc, self.main)
                invert(self.main.root, groot, ctx, given=addr)
            mapped: dict[int, int | None] = {}
            host_fault = None
            host_off = self.stage_off("host", ctx) if self._off_conditions("host") else False
            n_translations = 1 if guest_off else start - plan.leaf_level + 2
            if host_off:
                pass  # guest-physical = host-physical: no host tables, no host fault
            elif host_fault_at is not None:
                rule = next(r for r in self.host.faults if r.name == host_fault_at[0])
                host_fault = (draw.int(0, n_translations - 1), rule, host_fault_at[1])
            elif plan.fault is None and draw.chance(fault_percent) and self.host.faults:
                host_fault = (draw.int(0, n_translations - 1), draw.choice(self.host.faults), None)
            counter = {"n": 0}
            hleaf = host_leaf

            def place(gpa: int):
                if host_off:
                    return gpa
                page = gpa & ~0xFFF
                if page not in mapped:
                    j = counter["n"]
                    counter["n"] += 1
                    leaf = hleaf if hleaf is not None else draw.choice(self.leaf_ok(
                        self.host, [lv.number for lv in self.host.leaf_levels if lv.number <= hstart], hstart))
                    hplan = Plan(leaf)
                    if host_fault and host_fault[0] == j:
                        if host_fault[2] is None:
                            hplan = self._fault_plan(draw, leaf, hstart, host_fault[1], self.host)
                        else:
                            hplan = self.plan_at(draw, self.host, host_fault[1], host_fault[2])
                    mapped[page] = self._map(hbuilder, hroot, page, hstart, hplan, preset, memory)
                base = mapped[page]
                return None if base is None else base | (gpa & 0xFFF)

            gbuilder = TableBuilder(self.spec, self.main, draw, ctx, memory.__setitem__, galloc)
            if leaf_width is not None:
                gbuilder.leaf_alloc = Allocator(draw, leaf_width, galloc.used)
            gbuilder.legal = legal if guest_legal is None else guest_legal
            gbuilder.exact = exact
            if gbuilder.legal:
                gbuilder.prefer([access])
            if guest_off:
                hbuilder.legal = hbuilder.legal and not final_random
                place(addr)  # the input is the guest-physical address the host translates
            done = not guest_off and self._build(gbuilder, self.main, groot, addr, start, plan, place, preset)
            addr = gbuilder.addr if not guest_off else addr
            if done and plan.fault is None:
                # map the final guest-physical page too (the reference decides what happens)
                final = gbuilder.final
                if final is not None:
                    hbuilder.legal = hbuilder.legal and not final_random
                    # (guest-physical, host-physical or None) of the final address: what a
                    # unit that walks this composition reads after the walk (`W.pa`)
                    intent["final"] = (final, place(final))
            intent["host_fault"] = host_fault and (host_fault[0], host_fault[1].name)
        request = {self.main.input_name: addr, **access, **ctx}
        return Scenario(request, memory, draw.int(0, 2**31), intent)

    @staticmethod
    def _fixed_bits(ctx: dict, bits: dict | None) -> dict:
        for name, (m, value) in (bits or {}).items():
            ctx[name] = (ctx[name] & ~m) | (value & m)
        return ctx

    def _input_faults(self, draw: Draw, ctx: dict, access: dict, addr: int, override: dict
                      ) -> tuple[dict, int, str | None]:
        """(context, input, the input fault aimed at or None): one scenario in
        INPUT_FAULT_PERCENT trips one of the regime's input faults (the first in order
        that fires is the one reported, so the others must pass), the rest pass them all.
        Inputs are tried as drawn, then sign- and zero-extended from each width (what
        canonical-form and high-bits checks want) and with one bit flipped; a context
        that admits none is drawn again. If none is found the scenario goes on as it is
        (the reference decides)."""
        rules = self.main.input_faults
        target = draw.choice(rules).name if draw.chance(INPUT_FAULT_PERCENT) else None
        width = self.main.input_width
        conds = [(r.name, ctx_fn_input(r.when)) for r in rules]
        for _ in range(20):
            for cand in _input_candidates(draw, addr, width):
                fired = next((n for n, f in conds if f(ctx, access, cand)), None)
                if fired == target:
                    return ctx, cand, target
            ctx = self._draw_ctx(draw, override)
        return ctx, addr, None

    def _map(self, hbuilder: TableBuilder, hroot: int, gpa: int, hstart: int, plan: Plan, preset: bool,
             memory: dict) -> int | None:
        """Map guest page `gpa` through the host tables, sharing tables already built. Where
        host pointers name their next level (a field), each names the level below: the
        guest chose the address, so no index bits can be cleared for a skip."""
        table = hroot
        entries, ebytes = hbuilder.entries, self.host.entry_bytes
        nl = self.host.next_level
        nl_field = nl.name if nl is not None and nl.op == "ref" and nl.kind == "field" else None
        if nl_field:
            hbuilder.addr = gpa  # what `skipped` reads
        for lv, index_lo, index_mask in self._walk_levels(self.host):
            if lv.number > hstart:
                continue
            entry_addr = table + (((_indexed(self.host, hbuilder.ctx, gpa) >> index_lo) & index_mask) * ebytes)
            existing = entries.get(entry_addr)
            if existing is not None:
                kind, target = existing
                if kind == "fault":
                    return None
                if kind == "leaf":
                    shift = hbuilder.host_shifts.get(entry_addr, leaf_shift(lv))
                    return target | (gpa & mask(shift) & ~0xFFF)
                table = target
                continue
            # at or below the planned leaf level (a shared table may have taken the walk past
            # it), the first level that has leaves; a level of pointers only goes on down
            as_leaf = (lv.number <= plan.leaf_level and lv.leaf is not None) or lv.table is None
            target = hbuilder.alloc.frame(leaf_shift(lv) if as_leaf else table_shift(self.host))
            fault = plan.fault if plan.fault and plan.fault_level == lv.number else None
            value, fault = self._entry_or_fallback(hbuilder, self.host, lv.number, as_leaf, target, fault)
            shift = leaf_shift(lv)
            if as_leaf and fault is None and lv.page_shift_expr is not None and lv.page_shift_expr.op != "num":
                # a leaf that encodes its own page size (`page shift EXPR`): the page the
                # entry maps is the one its size gives, the frame's bits below it unused
                shift = max(12, hbuilder.field_eval(lv.page_shift_expr, _layout(self.spec, lv.leaf), value, lv.number))
                target &= ~mask(shift)
                hbuilder.host_shifts[entry_addr] = shift
            if nl_field and not as_leaf and fault is None:
                f = _layout(self.spec, lv.table).field(nl_field)
                value = (value & ~f.mask) | (((lv.number - 1) & mask(f.width)) << f.lo)
            if preset and fault is None:
                value |= self._updates_preset(self.host, _layout(self.spec, lv.leaf if as_leaf else lv.table))
            memory[entry_addr] = value
            hbuilder.entries[entry_addr] = ("fault" if fault else "leaf" if as_leaf else "table", target)
            if fault:
                return None
            if as_leaf:
                return target | (gpa & mask(shift) & ~0xFFF)
            table = target
        return None


def reachable_checks(factory: ScenarioFactory, stage: str, samples: int = 400, seed: int = 0) -> set[str]:
    """The final checks of a stage that some context and access can trip, found by
    evaluating each condition on random contexts, accesses, accumulators and leaf
    fields. A host stage only sees the contexts and access kinds the nesting gives it
    (e.g. every nested access a user access), so some of its checks cannot fire."""
    draw = Draw(random.Random(seed))
    regime = factory.host if stage == "host" else factory.main
    leaf_fields = {f.name: f.width for lv in regime.leaf_levels for f in _layout(factory.spec, lv.leaf).fields}
    found: set[str] = set()
    for _ in range(samples):
        outer = factory._random_ctx(draw)
        access = draw_access(draw, factory.main)
        ctx = outer
        if stage == "host":
            ctx = factory._host_ctx(outer)
            access = factory._host_access(draw.choice(["table", "final"]), outer, access, draw.int(0, 1))
        accs = {a.name: draw.bits(a.width) for a in regime.accumulators}
        leaf = {n: draw.bits(w) for n, w in leaf_fields.items()}
        level = draw.choice([lv.shown for lv in regime.leaf_levels])  # `level` is the spec's number

        def look(r: Expr) -> int:
            if r.kind == "ctx":
                return (ctx[r.name] >> r.lo) & mask(r.width)
            if r.kind == "access":
                return access[r.name]
            if r.kind == "acc":
                return accs[r.name]
            if r.kind == "leaf":
                return leaf.get(r.name, 0)
            if r.kind == "input":
                return draw.bits(regime.input_width)
            return level

        for c in regime.checks:
            if c.name not in found and evaluate(c.when, look):
                found.add(c.name)
    return found


def scenarios(spec: ir.Spec, **kw):
    """A hypothesis strategy of scenarios for `spec` (needs hypothesis installed).

    Every choice the factory makes is a hypothesis draw, so a failing scenario shrinks
    toward fewer levels, smaller addresses and cleared bits."""
    from hypothesis import strategies as st

    factory = ScenarioFactory(spec)

    @st.composite
    def build(draw_fn):
        return factory.make(Draw(data=_DataAdapter(draw_fn)), **kw)

    return build()


class _DataAdapter:
    """Lets `Draw` use the draw function of a hypothesis composite strategy."""

    def __init__(self, draw_fn):
        self.draw = draw_fn


def reachable_input_faults(factory: ScenarioFactory, stage: str, samples: int = 200, seed: int = 0) -> set[str]:
    """The input faults of a stage that some context, access and input report (the
    first in order that fires), found on random contexts and the inputs near random
    ones that _input_candidates gives. A host stage sees only the contexts its binding
    gives it (a check that the binding turns off cannot fire there)."""
    regime = factory.host if stage == "host" else factory.main
    if not regime.input_faults:
        return set()
    draw = Draw(random.Random(seed))
    width = regime.input_width
    conds = [(r.name, ctx_fn_input(r.when)) for r in regime.input_faults]
    found: set[str] = set()
    for _ in range(samples):
        ctx = factory._random_ctx(draw)
        if stage == "host":
            ctx = factory._host_ctx(ctx)
        access = {a: int(draw.chance(50)) for a in regime.access}
        for cand in _input_candidates(draw, draw.bits(width), width):
            fired = next((n for n, f in conds if f(ctx, access, cand)), None)
            if fired is not None:
                found.add(fired)
        if len(found) == len(conds):
            break
    return found
