"""What the reference of a unit needs of its caches (issue 15, caches on units): per
cache its geometry, what it stands in front of (a walk, whose final translations it keeps
by input page, access kinds and tags; or a structure, whose words it keeps by address),
and every cache expression lowered to Python. Rendered by templates/unit_cache_ref.j2;
semantics in docs/language.md, "Caches in a unit"."""
from __future__ import annotations

from codegen import ir
from codegen.generate.lower import Env, Hoist, py, py_field
from codegen.ir.expr import Expr, mask


class UnitCacheView:
    def __init__(self, spec: ir.Spec, unit: ir.Unit, py_env):
        self.spec, self.unit = spec, unit
        self.caches = unit.caches
        self.invalidations = unit.invalidations
        self._py_env = py_env  # the unit's own spelling (tags read the event, context, structures)

    @property
    def enabled(self) -> bool:
        return bool(self.caches)

    def of(self, kind: str, name: str) -> ir.Cache | None:
        return self.unit.cache_of(kind, name)

    def granule(self, c: ir.Cache) -> int:
        """A walk cache's entry covers 2**granule bytes: the smallest page of the walk's
        leaves (for a page size read from the entry, the frame field's low bit). A
        structure cache: 0 (its key is the address itself)."""
        if c.source == "call":
            return c.page
        if c.source != "walk":
            return 0
        regime = self.spec.regime(next(w for w in self.unit.walks if w.name == c.of).regime)
        return min(lv.page_shift for lv in regime.levels if lv.leaf)

    def low_mask(self, c: ir.Cache) -> int:
        return mask(self.granule(c))

    def set_shift(self, c: ir.Cache) -> int:
        """The low bits of the key below the set index: the granule (a walk cache: the key
        is the input page already) or log2 of the structure's size rounded up."""
        if c.source in ("walk", "call"):
            return 0
        st = self.unit.structure(c.of)
        return (st.size - 1).bit_length()

    def stored(self, c: ir.Cache) -> list[tuple[str, str]]:
        """(tag, Python over the unit's variables) masked to the tag's width."""
        env = self._py_env()
        return [(t.name, f"({py(t.value, env)}) & {hex(mask(t.value.width))}") for t in c.tags]

    def key_width(self, c: ir.Cache) -> int:
        """A call cache: the bits of its key's address (at most 64) and of the key kept
        (the address >> page, at least 1)."""
        return min(c.key.width, 64)

    def py_key(self, c: ir.Cache) -> str:
        """A call cache's key: its address (cut to 64 bits) >> page."""
        return f"((({py(c.key, self._py_env())}) & {hex(mask(self.key_width(c)))}) >> {c.page})"

    def py_fill(self, c: ir.Cache) -> str:
        return "True" if c.fill_when is None else py(c.fill_when, self._py_env())

    def operands(self) -> dict[str, tuple[str, ...]]:
        return {inv.name: tuple(o.name for o in inv.operands) for inv in self.invalidations}

    def geometry(self) -> dict:
        return {c.name: (c.source, c.entries, c.ways, c.replace, self.granule(c), self.set_shift(c))
                for c in self.caches}

    def _env(self, c: ir.Cache) -> Env:
        tags = [t.name for t in c.tags]

        def ctx(e: Expr) -> str:
            whole = e.lo == 0 and e.width == self.spec.layout(e.name).width
            return f"r[{e.name!r}]" if whole else py_field(f"r[{e.name!r}]", e.lo, e.width)

        env = Env({
            "ctx": ctx,
            "operand": lambda e: f"o[{e.name!r}]",
            "entry": lambda e: f"en.tags[{tags.index(e.name)}]",
        })
        env.calls["covers"] = lambda e: f"within(en, {py(e.args[0], env)}, 0)"
        env.calls["within"] = lambda e: f"within(en, {py(e.args[0], env)}, {py(e.args[1], env)})"
        return env

    def py_drop(self, d: ir.Drop) -> str:
        if d.when is None:
            return "True"
        return py(d.when, self._env(next(c for c in self.caches if c.name == d.cache)))

    def py_sets(self, inv: ir.Invalidation) -> list[tuple[str, str]]:
        env = Env({
            "ctx": lambda e: f"r[{e.name!r}]" if e.lo == 0 and e.width == self.spec.layout(e.name).width
            else py_field(f"r[{e.name!r}]", e.lo, e.width),
            "operand": lambda e: f"o[{e.name!r}]",
        })
        return [(b.name, f"({py(b.value, env)}) & {hex(mask(self.spec.layout(b.name).width))}") for b in inv.sets]


# ---- the cycle-level model: the caches inside the unit's FSM (templates/unit_model.py.j2)

class HdlCache:
    """One cache of the unit in the MyHDL model: its storage (a list of signals per way
    and field, indexed by set), and the statements of its lookup, fill, replacement and
    invalidation sweep. Names start with u<number>_ (its place in CACHES)."""

    def __init__(self, uv, view: UnitCacheView, number: int, c: ir.Cache):
        self.uv, self.view, self.n, self.c = uv, view, number, c
        self.p = f"u{number}_"
        self.step = next(i for i, s in enumerate(uv.steps) if s.node.name == c.of and s.kind == c.source)
        self.g = view.granule(c)
        self.sets, self.ways = c.sets, c.ways
        self.set_bits = c.sets.bit_length() - 1
        self.way_bits = max(1, (c.ways - 1).bit_length())
        self.tag_widths = [t.value.width for t in c.tags]
        if c.source == "walk":
            walk = uv.steps[self.step].node
            self.regime = uv.spec.regime(walk.regime)
            self.iw = self.regime.input_width
            self.key_width = self.iw - self.g
            self.access = list(self.regime.access)
        elif c.source == "call":
            # the key's address (iw bits) >> page; the entry keeps every result of the call
            # but `called` (1 on every hit)
            self.iw = view.key_width(c)
            self.key_width = self.iw - self.g
            self.access = []
            call = uv.steps[self.step].node
            self.results = [(m, w) for m, w in call.members.items() if m != "called"]
        else:
            self.words = uv.steps[self.step].words
            self.key_width = 61  # the structure's 8-byte-aligned address
            self.set_shift = view.set_shift(c)
            self.access = []

    @property
    def walk(self) -> bool:
        return self.c.source == "walk"

    @property
    def tagged(self) -> bool:
        """Tags compared at lookup (a structure cache records them only)."""
        return self.c.source != "structure"

    def fields(self) -> list[tuple[str, int]]:
        """(field, width; 0 for a bool) an entry stores."""
        out = [("v", 0), ("k", self.key_width)]
        out += [(f"t{j}", w) for j, w in enumerate(self.tag_widths)]
        if self.walk:
            if self.access:
                out.append(("a", len(self.access)))
            out += [("l", "LEVEL_WIDTH"), ("p", 64 - self.g)]
        elif self.c.source == "call":
            out += [(f"r{j}", w) for j, (_m, w) in enumerate(self.results)]
        else:
            out += [(f"d{k}", 64) for k in range(len(self.words))]
        return out

    def declarations(self) -> list[str]:
        S, p = self.sets, self.p
        out = []
        for f, w in self.fields():
            init = "bool(0)" if w == 0 else f"intbv(0)[{w}:]"
            out += [f"{p}{f}{way} = [Signal({init}) for _ in range({S})]" for way in range(self.ways)]
        if self.c.replace == "lru":
            out += [f"{p}r{way} = [Signal(intbv({way})[{self.way_bits}:]) for _ in range({S})]  # way {way}'s rank"
                    for way in range(self.ways)]
        elif self.c.replace == "plru":
            out += [f"{p}b{j} = [Signal(bool(0)) for _ in range({S})]  # tree bit {j}" for j in range(self.ways - 1)]
        else:
            out.append(f"{p}f = [Signal(intbv(0)[{self.way_bits}:]) for _ in range({S})]  # the FIFO pointer")
        # what a miss keeps for its fill
        out.append(f"{p}fk = Signal(intbv(0)[{self.key_width}:])")
        if self.set_bits:
            out.append(f"{p}fs = Signal(intbv(0)[{self.set_bits}:])")
        out += [f"{p}ft{j} = Signal(intbv(0)[{w}:])" for j, w in enumerate(self.tag_widths) if self.tagged]
        if self.c.source == "call":
            out.append(f"{p}fm = Signal(bool(0))  # the lookup missed: the call's decision may fill")
        if self.walk and self.access:
            out.append(f"{p}fa = Signal(intbv(0)[{len(self.access)}:])")
        return out

    # ---- replacement (design section 3), on way variable `wv` of set `s`
    def touch(self, wv: str, s: str) -> list[str]:
        p, out = self.p, []
        if self.c.replace == "lru":
            out.append(f"{p}tr = intbv(0)[{self.way_bits}:]")
            out += [f"if {wv} == {w}:\n    {p}tr[:] = {p}r{w}[{s}]" for w in range(self.ways)]
            out += [f"if {p}r{v}[{s}] < {p}tr:\n    {p}r{v}[{s}].next = {p}r{v}[{s}] + 1" for v in range(self.ways)]
            out += [f"if {wv} == {w}:\n    {p}r{w}[{s}].next = 0" for w in range(self.ways)]
        elif self.c.replace == "plru":
            for w in range(self.ways):
                node, sets = w + self.ways - 1, []
                while node > 0:
                    parent = (node - 1) // 2
                    sets.append(f"    {p}b{parent}[{s}].next = {bool(node == 2 * parent + 1)}")
                    node = parent
                if sets:
                    out.append(f"if {wv} == {w}:\n" + "\n".join(sets))
        return out

    def victim(self, wv: str, s: str) -> list[str]:
        p, out = self.p, []
        if self.c.replace == "lru":
            out += [f"if {p}r{w}[{s}] == {self.ways - 1}:\n    {wv}[:] = {w}" for w in range(self.ways)]
        elif self.c.replace == "plru":
            for w in range(self.ways):
                node, parts = w + self.ways - 1, []
                while node > 0:
                    parent = (node - 1) // 2
                    bit = f"{p}b{parent}[{s}]"
                    parts.append(bit if node == 2 * parent + 2 else f"not {bit}")
                    node = parent
                out.append(f"if {' and '.join(parts) or 'True'}:\n    {wv}[:] = {w}")
        else:
            out.append(f"{wv}[:] = {p}f[{s}]")
            out.append(f"if {wv} == {self.ways - 1}:\n    {p}f[{s}].next = 0\nelse:\n    {p}f[{s}].next = {wv} + 1")
        return out

    def fill(self, s: str, values: dict[str, str]) -> list[str]:
        """Write an entry (field -> value text) into the lowest invalid way of set `s`,
        else the policy's victim; the filled way is touched."""
        p = self.p
        out = [f"{p}wv = intbv(0)[{self.way_bits}:]", f"{p}free = False"]
        out += [f"if not {p}v{w}[{s}]:\n    {p}wv[:] = {w}\n    {p}free = True" for w in reversed(range(self.ways))]
        out.append(f"if not {p}free:")
        out += ["    " + line.replace("\n", "\n    ") for line in self.victim(f"{p}wv", s)]
        for w in range(self.ways):
            writes = [f"    {p}v{w}[{s}].next = True"] + [f"    {p}{f}{w}[{s}].next = {v}" for f, v in values.items()]
            out.append(f"if {p}wv == {w}:\n" + "\n".join(writes))
        return out + self.touch(f"{p}wv", s)

    def lookup(self, s: str, key: str, tags: list[str], acc: str | None) -> list[str]:
        """{p}hit and {p}way: the first way of set `s` that matches."""
        p = self.p
        out = [f"{p}hit = False", f"{p}way = intbv(0)[{self.way_bits}:]"]
        for w in reversed(range(self.ways)):
            parts = [f"{p}v{w}[{s}]", f"{p}k{w}[{s}] == {key}"]
            if self.tagged:
                parts += [f"{p}t{j}{w}[{s}] == {t}" for j, t in enumerate(tags)]
                if acc:
                    parts.append(f"{p}a{w}[{s}] == {acc}")
            out.append(f"if {' and '.join(parts)}:\n    {p}hit = True\n    {p}way[:] = {w}")
        return out

    def pick(self, field: str, s: str, into: str, width) -> list[str]:
        """The hit way's `field` into variable `into`."""
        p = self.p
        return [f"{into} = intbv(0)[{width}:]"] + [f"if {p}way == {w}:\n    {into}[:] = {p}{field}{w}[{s}]"
                                                  for w in range(self.ways)]


class UnitCacheHdl:
    """Everything the unit model template needs of the unit's caches."""

    def __init__(self, uv, view: UnitCacheView):
        self.uv, self.view = uv, view
        self.caches = [HdlCache(uv, view, i, c) for i, c in enumerate(view.caches)]
        self.events = view.invalidations

    @property
    def enabled(self) -> bool:
        return bool(self.caches)

    def of_step(self, i: int) -> HdlCache | None:
        return next((c for c in self.caches if c.step == i), None)

    @property
    def op_width(self) -> int:
        return max(1, len(self.events).bit_length())

    def operand_ports(self) -> list[tuple[str, int]]:
        return [(f"i_{v.name}_{o.name}", o.width) for v in self.events for o in v.operands]

    @property
    def hit_order(self) -> list[str]:
        """Cache names in the order a request looks them up (the order of their steps)."""
        return [c.c.name for c in sorted(self.caches, key=lambda c: c.step)]

    def hit_bit(self, c: HdlCache) -> int:
        return self.hit_order.index(c.c.name)

    @property
    def sweep_sets(self) -> int:
        return max(c.sets for c in self.caches)

    def _hoist(self, prefix: str) -> Hoist:
        return Hoist(self.uv.hdl_env(), prefix)

    def walk_lookup(self, i: int, after: str, role: str) -> list[str]:
        """In state S{i}G once the walker's inputs are set: look the translation up; a hit
        gives the walk's results and moves on, a miss starts the walker."""
        c = self.of_step(i)
        p, walk = c.p, self.uv.steps[i].node
        h = self._hoist(f"{p}h")
        out = [f"{p}in = intbv(0)[{c.iw}:]"]
        text = h._fit(walk.input, c.iw)
        out += h.take() + [f"{p}in[:] = {text}"]
        acc = None
        if c.access:
            acc = f"{p}acc"
            out.append(f"{acc} = intbv(0)[{len(c.access)}:]")
            given = {b.name: b.value for b in walk.access}
            for j, a in enumerate(c.access):
                cond = h.cond(given[a])
                out += h.take() + [f"if {cond}:\n    {acc}[{j}] = 1"]
        lines, tags, s = self._tags_and_set(c, h, f"{p}in")
        out += lines
        key = f"{p}in[{c.iw}:{c.g}]"
        out += c.lookup(s, key, tags, acc)
        hit = c.pick("p", s, f"{p}pg", 64 - c.g) + c.pick("l", s, f"{p}lv", "LEVEL_WIDTH")
        name = walk.name
        hit += [f"wk_{name}_walked.next = 1", f"wk_{name}_ok.next = 1",
                f"wk_{name}_pa.next = concat({p}pg, {p}in[{c.g}:])" if c.g else f"wk_{name}_pa.next = {p}pg",
                f"wk_{name}_level.next = {p}lv", f"hits.next[{self.hit_bit(c)}] = 1"]
        hit += c.touch(f"{p}way", s) + [f"st.next = S.{after}"]
        miss = [f"{p}fk.next = {key}"] + ([f"{p}fs.next = {s}"] if c.set_bits else [])
        miss += [f"{p}ft{j}.next = {t}" for j, t in enumerate(tags)] + ([f"{p}fa.next = {acc}"] if acc else [])
        miss += [f"{role}_start.next = True", f"st.next = S.S{i}R"]
        return out + [f"if {p}hit:"] + _indent(hit) + ["else:"] + _indent(miss)

    @staticmethod
    def _tags_and_set(c, h, key: str) -> tuple[list[str], list[str], str]:
        """The lines that compute a lookup's tag values and set index (from the key
        variable `key`), the tag variables and the set expression ("0": one set)."""
        out, tags = [], []
        for j, t in enumerate(c.c.tags):
            var = f"{c.p}tg{j}"
            text = h._fit(t.value, c.tag_widths[j])
            out += [f"{var} = intbv(0)[{c.tag_widths[j]}:]"] + h.take() + [f"{var}[:] = {text}"]
            tags.append(var)
        s = "0"
        if c.set_bits:
            s = f"{c.p}set"
            out += [f"{s} = intbv(0)[{c.set_bits}:]", f"{s}[:] = {key}[{c.g + c.set_bits}:{c.g}]"]
        return out, tags, s

    def walk_fill(self, i: int, role: str) -> list[str]:
        """In state S{i}R when the walker succeeded: fill its translation."""
        c = self.of_step(i)
        p = c.p
        s = f"{p}fs" if c.set_bits else "0"
        values = {"k": f"{p}fk", "l": f"{role}_o_level", "p": f"{role}_o_pa[64:{c.g}]"}
        values.update({f"t{j}": f"{p}ft{j}" for j in range(len(c.tag_widths))})
        if c.access:
            values["a"] = f"{p}fa"
        return c.fill(s, values)

    def call_lookup(self, i: int, after: str, miss_state: str) -> list[str]:
        """State S{i}L, before the first step call i inlined: when the call is made, look
        its key and tags up; a hit gives every result from the way and moves past the call
        (nothing of it runs), a miss keeps the key, set and tags for the fill (S{i}F)."""
        c = self.of_step(i)
        p, call = c.p, self.uv.steps[i].node
        h = self._hoist(f"{p}h")
        out = []
        when = "True"
        if call.when is not None:
            when = h.cond(call.when)
            out += h.take()
        body = [f"{p}ka = intbv(0)[{c.iw}:]"]
        text = h._fit(c.c.key, c.iw)
        body += h.take() + [f"{p}ka[:] = {text}"]
        lines, tags, s = self._tags_and_set(c, h, f"{p}ka")
        body += lines
        key = f"{p}ka[{c.iw}:{c.g}]"
        body += c.lookup(s, key, tags, None)
        hit = [f"cl_{call.name}_called.next = 1"]
        for j, (m, w) in enumerate(c.results):
            hit += c.pick(f"r{j}", s, f"{p}rv{j}", w) + [f"cl_{call.name}_{m}.next = {p}rv{j}"]
        hit += [f"hits.next[{self.hit_bit(c)}] = 1", f"{p}fm.next = False"] + c.touch(f"{p}way", s)
        hit += [f"st.next = S.{after}"]
        miss = [f"{p}fk.next = {key}"] + ([f"{p}fs.next = {s}"] if c.set_bits else [])
        miss += [f"{p}ft{j}.next = {t}" for j, t in enumerate(tags)]
        miss += [f"{p}fm.next = True", f"st.next = S.{miss_state}"]
        body += [f"if {p}hit:"] + _indent(hit) + ["else:"] + _indent(miss)
        return out + [f"if {when}:"] + _indent(body) + ["else:", f"    {p}fm.next = False",
                                                        f"    st.next = S.{miss_state}"]

    def call_fill(self, i: int, after: str) -> list[str]:
        """State S{i}F, after the call decided: a missed lookup fills when `fill when` holds."""
        c = self.of_step(i)
        p, call = c.p, self.uv.steps[i].node
        h = self._hoist(f"{p}q")
        cond = "True"
        lines = []
        if c.c.fill_when is not None:
            cond = h.cond(c.c.fill_when)
            lines = h.take()
        s = f"{p}fs" if c.set_bits else "0"
        values = {"k": f"{p}fk"}
        values.update({f"t{j}": f"{p}ft{j}" for j in range(len(c.tag_widths))})
        values.update({f"r{j}": f"cl_{call.name}_{m}" for j, (m, _w) in enumerate(c.results)})
        body = lines + [f"if {cond}:"] + _indent(c.fill(s, values))
        return [f"if {p}fm:"] + _indent(body) + [f"st.next = S.{after}"]

    def struct_lookup(self, i: int, after: str) -> list[str]:
        """In state S{i}W0 with the structure's address in v_wide: a hit loads its words and
        moves on; a miss keeps the key and set for the fill (the read is issued after)."""
        c = self.of_step(i)
        p = c.p
        out = [f"{p}key = intbv(0)[61:]", f"{p}key[:] = v_wide[64:3]"]
        s = "0"
        if c.set_bits:
            s = f"{p}set"
            lo = c.set_shift
            out += [f"{s} = intbv(0)[{c.set_bits}:]", f"{s}[:] = v_wide[{lo + c.set_bits}:{lo}]"]
        out += c.lookup(s, f"{p}key", [], None)
        hit = []
        for k, word in enumerate(c.words):
            hit += c.pick(f"d{k}", s, f"{p}wd{k}", 64) + [f"{word.var}.next = {p}wd{k}"]
        hit += [f"hits.next[{self.hit_bit(c)}] = 1"] + c.touch(f"{p}way", s) + [f"st.next = S.{after}"]
        miss = [f"{p}fk.next = {p}key"] + ([f"{p}fs.next = {s}"] if c.set_bits else [])
        return out, hit, miss

    def struct_fill(self, i: int, after: str) -> list[str]:
        """State S{i}F: the words are read; record the tags and fill."""
        c = self.of_step(i)
        p = c.p
        h = self._hoist(f"{p}h")
        out = []
        values = {"k": f"{p}fk"}
        for j, t in enumerate(c.c.tags):
            text = h._fit(t.value, c.tag_widths[j])
            out += [f"{p}tg{j} = intbv(0)[{c.tag_widths[j]}:]"] + h.take() + [f"{p}tg{j}[:] = {text}"]
            values[f"t{j}"] = f"{p}tg{j}"
        values.update({f"d{k}": w.var for k, w in enumerate(c.words)})
        s = f"{p}fs" if c.set_bits else "0"
        return out + c.fill(s, values) + [f"st.next = S.{after}"]

    def sweep(self) -> list[str]:
        """State INV: one set of every cache per cycle (a cache with fewer sets idles), each
        way dropped when its condition for the invalidation i_op names holds."""
        out = []
        for c in self.caches:
            p = c.p
            body = []
            s = "0"
            if c.set_bits:
                s = f"{p}iset"
                body += [f"{s} = intbv(0)[{c.set_bits}:]", f"{s}[:] = iset[{c.set_bits}:]"]
            for w in range(c.ways):
                env = self.uv.hdl_env()
                h = Hoist(env, f"{p}d{w}_")
                keyv = f"{p}ik{w}"
                body += [f"{keyv} = intbv(0)[{c.key_width}:]", f"{keyv}[:] = {p}k{w}[{s}]"]
                tagv = []
                for j, width in enumerate(c.tag_widths):
                    body += [f"{p}it{j}_{w} = intbv(0)[{width}:]", f"{p}it{j}_{w}[:] = {p}t{j}{w}[{s}]"]
                    tagv.append(f"{p}it{j}_{w}")
                names = [t.name for t in c.c.tags]
                env.spell["entry"] = lambda e, tagv=tagv, names=names: tagv[names.index(e.name)]
                env.spell["operand"] = lambda e, ev=None: f"i_{self._event_of(e)}_{e.name}"
                env.calls["covers"] = lambda e, h=h, keyv=keyv, c=c: self._within(h, c, keyv, e.args[0], None)
                env.calls["within"] = lambda e, h=h, keyv=keyv, c=c: self._within(h, c, keyv, e.args[0], e.args[1])
                for k, v in enumerate(self.events, start=1):
                    for d in v.drops:
                        if d.cache != c.c.name:
                            continue
                        self._current = v.name
                        if d.when is None:
                            cond = "True"
                        else:
                            cond = h.cond(d.when)
                        lines = h.take()
                        body.append(f"if i_op == {k}:")
                        body += _indent(lines + [f"if {p}v{w}[{s}] and {cond}:\n    {p}v{w}[{s}].next = False"])
            if c.sets < self.sweep_sets:
                out.append(f"if iset < {c.sets}:")
                out += _indent(body)
            else:
                out += body
        return out

    def _event_of(self, e) -> str:
        return self._current

    def _within(self, h: Hoist, c: HdlCache, keyv: str, x, size) -> str:
        """within(X, S) on the entry of key `keyv`: its 2^g-byte piece and the 2^S-byte
        aligned block holding X overlap; covers(X) is S = 0 (the piece itself)."""
        base, xv, sh, diff = h._new(64), h._new(64), h._new(8), h._new(64)
        h.lines.append(f"{base}[:] = 0")
        h.lines.append(f"{base}[{c.iw}:{c.g}] = {keyv}" if c.g else f"{base}[{c.iw}:] = {keyv}")
        h.lines.append(f"{xv}[:] = {h._fit(x, 64)}")
        if size is None:
            h.lines.append(f"{sh}[:] = {c.g}")
        else:
            h.lines.append(f"{sh}[:] = {h._fit(size, 8)}")
            h.lines.append(f"if {sh} < {c.g}:\n    {sh}[:] = {c.g}")
        h.lines.append(f"{diff}[:] = {base} ^ {xv}")
        out = h._new(1)
        h.lines += [f"{out}[:] = 0", f"if {sh} >= 64:\n    {out}[:] = 1",
                    f"elif ({diff} >> {sh}) == 0:\n    {out}[:] = 1"]
        return f"({out} == 1)"


def _indent(lines: list[str], by: str = "    ") -> list[str]:
    return [by + line.replace("\n", "\n" + by) for line in lines]
