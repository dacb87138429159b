"""What the cache template (cache_hdl.j2) sees: one cache of final translations (a TLB)
in the cycle-level model, with the semantics of design section 3 (issue 15): its
geometry, the fields an entry stores and their widths, the page shift of each level,
the replacement policy as MyHDL statements, and the expressions it evaluates (tags,
`global when`, each invalidation's drop condition) lowered to MyHDL.

The view holds plain values and expressions, so that a test can build one by hand
(`CacheView(...)`); `cache_views(t)` builds them from a translation's IR.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from codegen.generate.view.cache_ref import leaf_shifts
from codegen.generate.lower import Env, Hoist, LowerError, ref_slice
from codegen.ir.expr import Expr

ADDR_BITS = 64  # the models' address width (ADDR_WIDTH)


@dataclass
class Tag:
    """A tag: its name, width and value over the request's context (an Expr)."""

    name: str
    width: int
    value: Expr | None = None


@dataclass
class Event:
    """An invalidation as this cache sees it: its i_op number (1-based, declared order),
    its operands (name, width) and this cache's drop condition (None: drop every entry;
    `dropped` False: the event drops nothing of this cache)."""

    number: int
    name: str
    operands: tuple[tuple[str, int], ...] = ()
    dropped: bool = True
    when: Expr | None = None


@dataclass
class CacheView:
    """One cache of final translations on the model's top translation."""

    name: str
    entries: int
    ways: int
    replace: str  # "lru" | "plru" | "fifo"
    pages: str  # "split" | "whole"
    g: int  # the smallest page shift of any leaf (input stage, and host stage)
    input_width: int
    access: tuple[str, ...]
    # (spec level number, page shift) of each leaf level of the input stage, and of the host stage (nested)
    levels: tuple[tuple[int, int], ...]
    host_levels: tuple[tuple[int, int], ...] | None = None
    tags: tuple[Tag, ...] = ()
    global_when: Expr | None = None
    ignores: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    level_width: int = 3
    no_level: int | None = None  # NO_LEVEL: an outcome with no input-stage level is not cached
    # how the expressions are spelled: the context (tags, drops) and the leaf entry `le` (global)
    env: Env = field(default_factory=Env)
    leaf_env: Env = field(default_factory=Env)
    register_widths: dict = field(default_factory=dict)

    # (host accumulator, width) an entry keeps when the composition folds over its host
    # translations: a nested TLB's of its translation, a paging-structure cache's of the
    # host translation of the next table (the guest's read there makes none)
    hx: tuple[tuple[str, int], ...] = ()
    # the sets an invalidation sweeps (the most of the model's caches: TranslationView sets it)
    sweep_sets: int = 0

    def __post_init__(self):
        self.sweep_sets = self.sweep_sets or self.sets
        if self.entries % self.ways or self.sets & (self.sets - 1):
            raise ValueError(f"cache {self.name}: {self.entries} entries in {self.ways} ways")
        if self.replace not in ("lru", "plru", "fifo"):
            raise ValueError(f"cache {self.name}: replacement {self.replace!r}")
        if self.replace == "plru" and self.ways & (self.ways - 1):
            raise ValueError(f"cache {self.name}: plru needs a power-of-two number of ways")
        if self.pages == "whole" and self.sets != 1:
            raise ValueError(f"cache {self.name}: `pages whole` holds one set only")

    # ---- geometry
    @property
    def sets(self) -> int:
        return self.entries // self.ways

    @property
    def set_bits(self) -> int:
        return self.sets.bit_length() - 1

    @property
    def sweep_bits(self) -> int:
        return (self.sweep_sets - 1).bit_length()

    @property
    def way_bits(self) -> int:
        """Bits of a way number (at least 1)."""
        return max(1, (self.ways - 1).bit_length())

    @property
    def key_width(self) -> int:
        """An entry's key: the input address >> g."""
        return self.input_width - self.g

    @property
    def pa_width(self) -> int:
        """An entry's output address >> g."""
        return ADDR_BITS - self.g

    @property
    def set_index(self) -> str:
        """The set of the request (a signal, or the constant 0 with one set)."""
        return "c_set" if self.set_bits else "0"

    def set_of_input(self) -> str:
        """The set index from the input: input bits [g + set_bits - 1 : g]."""
        g, b = self.g, self.set_bits
        return f"i_addr[{g}]" if b == 1 else f"i_addr[{g + b}:{g}]"

    @property
    def access_bits(self) -> int:
        return len(self.access)

    def access_value(self) -> str:
        """The request's access kinds as one value (first kind the highest bit)."""
        ks = [f"k_{a}" for a in self.access]
        return ks[0] if len(ks) == 1 else "concat(" + ", ".join(ks) + ")"

    @property
    def has_global(self) -> bool:
        return self.global_when is not None

    @property
    def nested(self) -> bool:
        return self.host_levels is not None

    @property
    def op_width(self) -> int:
        return max(1, len(self.events).bit_length())

    # ---- the stored fields of a way's entry: (memory prefix, width; 0 = a bool)
    def fields(self) -> list[tuple[str, int]]:
        out = [("cv", 0), ("ck", self.key_width), ("ca", 0 if self.access_bits == 1 else self.access_bits)]
        out += [(f"ct_{t.name}_", t.width) for t in self.tags]
        if self.has_global:
            out.append(("cg", 0))
        out += [("cl", self.level_width)] + ([("ch", self.level_width)] if self.nested else []) + [("cp", self.pa_width)]
        return out + [(f"cx_{a}_", 0 if wd == 1 else wd) for a, wd in self.hx]

    # ---- the request's tag values and global bit (always_comb statements)
    def tag_lines(self) -> list[str]:
        """Statements of the comb process that puts each tag's value (over the request's
        context) in signal t_NAME, and (`global when`) the global bit of a fill (over the
        walk's leaf entry `le` and the context) in c_glob."""
        from codegen.generate.view.walker import _fitted
        h = Hoist(self.env, prefix="tg")
        out = []
        for t in self.tags:
            text = _fitted(h, self.env, t.value, t.width)
            if t.width == 1:
                out += h.take() + [f"t_{t.name}.next = 0", f"if {text}:", f"    t_{t.name}.next = 1"]
            else:
                out += h.take() + [f"t_{t.name}.next = {text}"]
        if self.has_global:
            # the context as captured when the walk started (f_r_*), the leaf entry `le`
            spell, signal = dict(self.leaf_env.spell), dict(self.leaf_env.signal)
            if "ctx" in spell:
                spell["ctx"] = lambda e, f=spell["ctx"]: "f_" + f(e)
            if "ctx" in signal:
                signal["ctx"] = lambda e, f=signal["ctx"]: ("f_" + f(e)[0], f(e)[1])
            hg = Hoist(Env(spell, signal), prefix="gl")
            cond = hg.cond(self.global_when)
            out += hg.take() + [f"c_glob.next = {cond}"]
        return out

    def tag_spelled(self, name: str) -> str:
        """A tag's current value (signal t_NAME), a bit spelled as one."""
        t = self._tag(name)
        return f"t_{name}[0]" if t.width == 1 else f"t_{name}"

    def _tag(self, name: str) -> Tag:
        for t in self.tags:
            if t.name == name:
                return t
        raise KeyError(name)

    # ---- lookup: way w of the request's set against the request
    def way_vars(self, w: int, index: str) -> list[str]:
        """Statements that read the fields of way `w` of set `index` into variables eW_*."""
        out = []
        for prefix, width in self.fields():
            var = self._var(w, prefix)
            if width == 0:
                out += [f"{var} = intbv(0)[1:]", f"{var}[0] = {prefix}{w}[{index}]"]
            else:
                out += [f"{var} = intbv(0)[{width}:]", f"{var}[:] = {prefix}{w}[{index}]"]
        return out

    @staticmethod
    def _var(w: int, prefix: str) -> str:
        return f"e{w}_{prefix[1:].rstrip('_')}"

    def bit(self, w: int, prefix: str) -> str:
        """A one-bit field of way w's variables as a truth value."""
        return f"{self._var(w, prefix)}[0]"

    def match(self, w: int) -> str:
        """Way w's entry answers the request: valid, the same access kinds and tags (or
        global and the tag ignored), and the page (split: key == input >> g)."""
        parts = [self.bit(w, "cv")]
        acc = self._var(w, "ca")
        parts.append(f"({acc}[0] == {self.access_value()})" if self.access_bits == 1 else f"({acc} == c_acc)")
        for t in self.tags:
            eq = f"({self._var(w, f'ct_{t.name}_')} == t_{t.name})"
            if self.has_global and t.name in self.ignores:
                eq = f"({eq} or {self.bit(w, 'cg')})"
            parts.append(eq)
        if self.pages == "split":
            parts.append(f"({self._var(w, 'ck')} == i_addr[{self.input_width}:{self.g}])")
        else:
            parts.append(f"m{w}")
        return " and ".join(parts)

    def effective(self) -> list[tuple[int, list[str]]]:
        """`pages whole`: (eff, conditions over eW_l / eW_h) for each effective page shift
        eff = min(shift(level), host_shift(host_level)) an entry can have; a host level
        of NO_LEVEL (host stage off) has no page size."""
        by: dict[int, list[tuple[int, int | None]]] = {}
        hosts = [(h, s) for h, s in self.host_levels] + [(None, None)] if self.nested else [(None, None)]
        for lv, s in self.levels:
            for h, hs in hosts:
                eff = min(s, self.input_width) if hs is None else min(s, hs, self.input_width)
                by.setdefault(eff, []).append((lv, h))
        out = []
        for eff, pairs in sorted(by.items()):
            conds = []
            for lv, h in pairs:
                c = f"(eW_l == {lv})"
                if self.nested:
                    c = f"({c} and (eW_h == {self.no_level if h is None else h}))"
                conds.append(c)
            out.append((eff, conds))
        return out

    def whole_lines(self, w: int) -> list[str]:
        """`pages whole`: statements that set mW (way w's page holds the input) and pW
        (its output address for this input) at the entry's effective page size."""
        key, pa, iw, g = self._var(w, "ck"), self._var(w, "cp"), self.input_width, self.g
        out = [f"m{w} = False", f"p{w} = intbv(0)[{ADDR_BITS}:]"]
        for i, (eff, conds) in enumerate(self.effective()):
            cond = " or ".join(c.replace("eW_", f"e{w}_") for c in conds)
            out.append(f"{'if' if i == 0 else 'elif'} {cond}:")
            same = "True" if eff >= iw else f"({key}[{iw - g}:{eff - g}] == i_addr[{iw}:{eff}])"
            out.append(f"    m{w} = {same}")
            low = f"i_addr[{eff}:0]" if eff < iw else f"concat(intbv(0)[{eff - iw}:], i_addr)" if eff > iw else "i_addr"
            top = f"{pa}[{self.pa_width}:{eff - g}]" if eff > g else pa
            out.append(f"    p{w}[:] = concat({top}, {low})" if eff < ADDR_BITS else f"    p{w}[:] = {low}")
        return out

    def hit_pa(self, w: int) -> str:
        """The output address a hit on way w answers: split, the stored address >> g
        with the input's low g bits; whole, pW."""
        if self.pages == "whole":
            return f"p{w}"
        return f"concat({self._var(w, 'cp')}, i_addr[{self.g}:0])"

    # ---- replacement (section 3): per set, reset state, victim and touch
    def policy_memories(self) -> list[str]:
        """Declarations of the per-set replacement state (reset values as section 3)."""
        n, wb = self.sets, self.way_bits
        if self.ways == 1:
            return []
        if self.replace == "lru":
            return [f"cr{w} = [Signal(intbv({w})[{wb}:]) for _ in range({n})]  # way {w}'s rank (0 = most recent)"
                    for w in range(self.ways)]
        if self.replace == "plru":
            return [f"cb = [Signal(intbv(0)[{self.ways - 1}:]) for _ in range({n})]  # tree bits, node i at bit i"]
        return [f"cf = [Signal(intbv(0)[{wb}:]) for _ in range({n})]  # the next way to evict"]

    def policy_vars(self) -> list[str]:
        """The variables the replacement state of one set is updated in (rvW, pb or fp)."""
        if self.ways == 1:
            return []
        wb = self.way_bits
        if self.replace == "lru":
            return [f"rk = intbv(0)[{wb}:]"] + [f"rv{w} = intbv(0)[{wb}:]" for w in range(self.ways)]
        if self.replace == "plru":
            return [f"pb = intbv(0)[{self.ways - 1}:]"]
        return [f"fp = intbv(0)[{wb}:]"]

    def load_lines(self, s: str) -> list[str]:
        """Statements that read set `s`'s replacement state into the variables."""
        if self.ways == 1:
            return []
        if self.replace == "lru":
            return [f"rv{w}[:] = cr{w}[{s}]" for w in range(self.ways)]
        return ["pb[:] = cb[" + s + "]"] if self.replace == "plru" else ["fp[:] = cf[" + s + "]"]

    def store_lines(self, s: str) -> list[str]:
        """Statements that write the variables back as set `s`'s replacement state."""
        if self.ways == 1:
            return []
        if self.replace == "lru":
            return [f"cr{w}[{s}].next = rv{w}" for w in range(self.ways)]
        return [f"cb[{s}].next = pb"] if self.replace == "plru" else [f"cf[{s}].next = fp"]

    def plru_path(self, w: int) -> list[tuple[int, int]]:
        """(node, bit value) from the root down to way w's leaf: the bits that lead the
        victim search to w (node = 2 * node + 1 + bit)."""
        node, path = w + self.ways - 1, []
        while node > 0:
            p = (node - 1) // 2
            path.append((p, 0 if node == 2 * p + 1 else 1))
            node = p
        return list(reversed(path))

    def victim_lines(self, out: str, s: str) -> list[str]:
        """Statements that put the policy's victim way of set `s` (its state as stored)
        in variable `out`."""
        if self.ways == 1:
            return [f"{out}[:] = 0"]
        if self.replace == "lru":
            return [line for w in range(self.ways)
                    for line in (f"if cr{w}[{s}] == {self.ways - 1}:", f"    {out}[:] = {w}")]
        if self.replace == "plru":
            lines = [f"vb[:] = cb[{s}]"]
            for w in range(self.ways):
                cond = " and ".join(f"vb[{n}]" if b else f"(not vb[{n}])" for n, b in self.plru_path(w))
                lines += [f"{'if' if w == 0 else 'elif'} {cond}:", f"    {out}[:] = {w}"]
            return lines
        return [f"{out}[:] = cf[{s}]"]

    def victim_vars(self) -> list[str]:
        """The variables victim_lines uses, declared where every path assigns them."""
        return [f"vb = intbv(0)[{self.ways - 1}:]"] if self.ways > 1 and self.replace == "plru" else []

    def evict_lines(self) -> list[str]:
        """After a fill that evicted (FIFO): the loaded pointer moves to the next way."""
        if self.ways == 1 or self.replace != "fifo":
            return []
        return [f"if fp == {self.ways - 1}:", "    fp[:] = 0", "else:", "    fp[:] = fp + 1"]

    def touch_lines(self, way: str) -> list[str]:
        """Statements that touch way `way` (a variable or signal) in the loaded variables."""
        if self.ways == 1 or self.replace == "fifo":
            return []
        if self.replace == "lru":
            lines = []
            for w in range(self.ways):
                lines += [f"{'if' if w == 0 else 'elif'} {way} == {w}:", f"    rk[:] = rv{w}"]
            for w in range(self.ways):
                lines += [f"if rv{w} < rk:", f"    rv{w}[:] = rv{w} + 1"]
            for w in range(self.ways):
                lines += [f"if {way} == {w}:", f"    rv{w}[:] = 0"]
            return lines
        lines = []
        for w in range(self.ways):
            lines.append(f"{'if' if w == 0 else 'elif'} {way} == {w}:")
            for n, b in self.plru_path(w):
                # touch points each node on the path away from w: 1 when w is in the left subtree
                lines.append(f"    pb[{n}] = {0 if b else 1}")
        return lines

    # ---- fill: the way the walk's translation goes to, and what it stores
    def fill_cond(self) -> str:
        """The walk's outcome is cached: ok, with an input-stage level."""
        if self.no_level is None:
            return "w_status == 0"
        return f"w_status == 0 and w_level != {self.no_level}"

    def fill_values(self) -> list[tuple[str, str]]:
        """(memory prefix, value) of each stored field of a fill: the request as captured
        when the walk started (f_*: the next request may be on the ports by the fill's
        edge), the walker's outcome and the global bit (over its leaf entry)."""
        out = [("cv", "True"), ("ck", "f_key"), ("ca", "f_acc")]
        out += [(f"ct_{t.name}_", f"f_t_{t.name}") for t in self.tags]
        if self.has_global:
            out.append(("cg", "c_glob"))
        out.append(("cl", "w_level"))
        if self.nested:
            out.append(("ch", "w_aux"))
        out.append(("cp", f"w_pa[{ADDR_BITS}:{self.g}]"))
        return out + [(f"cx_{a}_", f"w_fa_{a}") for a, _ in self.hx]

    @property
    def fill_set(self) -> str:
        """The set a fill goes to: the captured key's low bits (0 with one set)."""
        return "f_set" if self.set_bits else "0"

    def set_of_key(self) -> str:
        """The set of the captured key: its low set_bits bits."""
        return "f_key[0]" if self.set_bits == 1 else f"f_key[{self.set_bits}:0]"

    def global_registers(self) -> list[tuple[str, int]]:
        """(register, width) of the context registers `global when` reads: captured when
        the walk starts, as the request's (f_r_NAME)."""
        if not self.has_global:
            return []
        names = sorted({e.name for e in self.global_when.refs() if e.kind == "ctx"})
        return [(n, self.register_widths.get(n, 64)) for n in names]

    # ---- invalidation: each event's drop condition on way w of set `iset`
    def drop_lines(self, ev: Event, w: int) -> tuple[list[str], str]:
        """(statements, condition) for way w of the swept set: the entry is dropped."""
        if ev.when is None:
            return [], "True"
        env = self.drop_env(ev, w)
        h = Hoist(env, prefix=f"d{ev.number}w{w}_")
        env.calls["covers"] = lambda e: self.covers(e, h, w)  # its statements go to h.lines
        cond = h.cond(ev.when if self.has_global else _no_global(ev.when))
        return h.take(), cond

    def drop_env(self, ev: Event, w: int) -> Env:
        """The context as the request's (r_*), the event's operands (i_EVENT_OPERAND), the
        cache's current tag values (t_*), the swept entry (eW_*) and covers(X)."""
        widths = dict(ev.operands)

        def operand(e: Expr) -> str:
            return ref_slice(f"i_{ev.name}_{e.name}", e.lo, e.width, widths[e.name])

        def entry(e: Expr) -> str:
            if e.name == "global":
                return self.bit(w, "cg")
            t = self._tag(e.name)
            var = self._var(w, f"ct_{t.name}_")
            return f"{var}[0]" if t.width == 1 else var

        def tag(e: Expr) -> str:
            return self.tag_spelled(e.name)

        spell = dict(self.env.spell)
        spell.update({"operand": operand, "entry": entry, "tag": tag})
        signal = dict(self.env.signal)
        signal["operand"] = lambda e: (f"i_{ev.name}_{e.name}", e.lo)
        return Env(spell, signal)

    def covers(self, e: Expr, h: Hoist, w: int) -> str:
        """covers(X) on way w: the entry's translation is for the page holding input
        address X, at the page size of the entry's level."""
        x = e.args[0]
        iw, g = self.input_width, self.g
        xw = max(x.width, iw)
        cx = h._new(xw)
        h.lines.append(f"{cx}[:] = {h._fit(x, xw)}")
        key, lvl = self._var(w, "ck"), self._var(w, "cl")
        parts = []
        for label, s in self.levels:
            if s >= iw:
                parts.append(f"({lvl} == {label})")
            else:
                parts.append(f"(({lvl} == {label}) and ({key}[{iw - g}:{s - g}] == {cx}[{iw}:{s}]))")
        inside = f"({cx}[{xw}:{iw}] == 0) and " if xw > iw else ""
        return f"({inside}({' or '.join(parts) if parts else 'False'}))"


@dataclass
class PscView(CacheView):
    """The paging-structure cache (`holds tables of levels N, ...`) in the cycle-level
    model: an entry is (level, key = input >> INDEX_LO[level], tags) and what the walk
    had after that level's pointer: the level it reads next, the table, (nested) that
    table's host-physical address, and the accumulators. Looked up deepest level first in
    the cycle the walker starts; filled (root first, one entry a cycle) after a walk that
    translates. The replacement, tag and invalidation helpers are CacheView's."""

    psc_levels: tuple[int, ...] = ()  # walk numbers, deepest first (the lookup order)
    index_lo: dict = field(default_factory=dict)  # walk number -> the key's low input bit
    next_levels: tuple[int, ...] = ()  # walk numbers a pointer of a cached level can lead to
    table_width: int = ADDR_BITS  # the walker's table address (guest-physical, nested)
    htable: bool = False  # nested: the entry holds the table's host-physical address too
    accs: tuple[tuple[str, int], ...] = ()  # (accumulator, width) in declared order
    # the model's names of the answer and staged-fill signals (pc_*, pq_* inside the blocks):
    # the guest walk's cache pc/pq, the host walk's hc/hq
    hp: str = "pc"
    sp: str = "pq"
    # fills: all of a walk's staged levels at the edge it ends (the host walk's: the next host
    # translation may be asked one cycle later), else one a cycle after its `done` (wc_busy)
    at_once: bool = False

    def arg(self, name: str) -> str:
        """A block port's name as the model's signal."""
        if name.startswith("pc_"):
            return self.hp + name[2:]
        if name.startswith("pq_"):
            return self.sp + name[2:]
        return name

    def chain_lines(self) -> list[str]:
        """Statements (clocked process) that fill every staged level at once, root first,
        each seeing its set as the earlier ones leave it (the reference's fills in order):
        the lowest invalid way, else the victim; then the touch. Variables fX_ per fill."""
        ways, wb, sb = self.ways, self.way_bits, self.set_bits
        decl, body = [], []
        order = self.fill_order
        for i, n in enumerate(order):
            if sb:
                decl += [f"s{i} = intbv(0)[{sb}:]"]
            decl += [f"fv{i}_{w} = False" for w in range(ways)]
            decl += [f"fw{i} = intbv(0)[{wb}:]", f"fe{i} = False"]
            if ways > 1 and self.replace == "lru":
                decl += [f"fr{i}_{w} = intbv(0)[{wb}:]" for w in range(ways)] + [f"fk{i} = intbv(0)[{wb}:]"]
            elif ways > 1 and self.replace == "plru":
                decl += [f"fb{i} = intbv(0)[{ways - 1}:]"]
            elif ways > 1:
                decl += [f"ff{i} = intbv(0)[{wb}:]"]
        for i, n in enumerate(order):
            si = f"s{i}" if sb else "0"
            body.append(f"# level {n}")
            if sb:
                body.append(f"s{i}[:] = {self.set_of(n, 'f_addr')}")
            body += [f"fv{i}_{w} = bool(cv{w}[{si}])" for w in range(ways)]
            if ways > 1 and self.replace == "lru":
                body += [f"fr{i}_{w}[:] = cr{w}[{si}]" for w in range(ways)]
            elif ways > 1 and self.replace == "plru":
                body.append(f"fb{i}[:] = cb[{si}]")
            elif ways > 1:
                body.append(f"ff{i}[:] = cf[{si}]")
            for j in range(i):  # the set as an earlier fill to it left it
                same = f"s{j} == s{i}" if sb else "True"
                body.append(f"if {same}:")
                body += [f"    fv{i}_{w} = fv{j}_{w}" for w in range(ways)]
                if ways > 1 and self.replace == "lru":
                    body += [f"    fr{i}_{w}[:] = fr{j}_{w}" for w in range(ways)]
                elif ways > 1 and self.replace == "plru":
                    body.append(f"    fb{i}[:] = fb{j}")
                elif ways > 1:
                    body.append(f"    ff{i}[:] = ff{j}")
            body.append(f"if pq_v{n}:")
            ind = "    "
            body.append(f"{ind}fe{i} = True")
            for w in reversed(range(ways)):
                body += [f"{ind}if not fv{i}_{w}:", f"{ind}    fw{i}[:] = {w}", f"{ind}    fe{i} = False"]
            if ways == 1:
                body.append(f"{ind}fw{i}[:] = 0")
            elif self.replace == "lru":
                body.append(f"{ind}if fe{i}:")
                body += [line for w in range(ways) for line in (f"{ind}    if fr{i}_{w} == {ways - 1}:", f"{ind}        fw{i}[:] = {w}")]
            elif self.replace == "plru":
                body.append(f"{ind}if fe{i}:")
                for w in range(ways):
                    cond = " and ".join(f"fb{i}[{nd}]" if b else f"(not fb{i}[{nd}])" for nd, b in self.plru_path(w))
                    body += [f"{ind}    {'if' if w == 0 else 'elif'} {cond}:", f"{ind}        fw{i}[:] = {w}"]
            else:
                body += [f"{ind}if fe{i}:", f"{ind}    fw{i}[:] = ff{i}",
                         f"{ind}    if ff{i} == {ways - 1}:", f"{ind}        ff{i}[:] = 0",
                         f"{ind}    else:", f"{ind}        ff{i}[:] = ff{i} + 1"]
            for w in range(ways):
                body.append(f"{ind}{'if' if w == 0 else 'elif'} fw{i} == {w}:")
                body.append(f"{ind}    fv{i}_{w} = True")
                body += [f"{ind}    {prefix}{w}[{si}].next = {value}" for prefix, value in self.fill_values(n)]
            if ways > 1 and self.replace == "lru":
                for w in range(ways):
                    body += [f"{ind}{'if' if w == 0 else 'elif'} fw{i} == {w}:", f"{ind}    fk{i}[:] = fr{i}_{w}"]
                for w in range(ways):
                    body += [f"{ind}if fr{i}_{w} < fk{i}:", f"{ind}    fr{i}_{w}[:] = fr{i}_{w} + 1"]
                for w in range(ways):
                    body += [f"{ind}if fw{i} == {w}:", f"{ind}    fr{i}_{w}[:] = 0"]
                body += [f"{ind}cr{w}[{si}].next = fr{i}_{w}" for w in range(ways)]
            elif ways > 1 and self.replace == "plru":
                for w in range(ways):
                    body.append(f"{ind}{'if' if w == 0 else 'elif'} fw{i} == {w}:")
                    body += [f"{ind}    fb{i}[{nd}] = {0 if b else 1}" for nd, b in self.plru_path(w)]
                body.append(f"{ind}cb[{si}].next = fb{i}")
            elif ways > 1:
                body.append(f"{ind}cf[{si}].next = ff{i}")
        return decl, body

    @property
    def key_width(self) -> int:
        return self.input_width - min(self.index_lo[n] for n in self.psc_levels)

    def key_of(self, n: int, src: str = "i_addr") -> str:
        """Input bits from level n's index up (its key), as a slice of `src`."""
        lo = self.index_lo[n]
        return f"{src}[{self.input_width}:{lo}]"

    def set_of(self, n: int, src: str = "i_addr") -> str:
        """The set of level n's key: its low set_bits bits."""
        lo, b = self.index_lo[n], self.set_bits
        return f"{src}[{lo}]" if b == 1 else f"{src}[{lo + b}:{lo}]"

    def key_low(self, var: str, n: int) -> str:
        """A stored key (`var`) as level n's width (its bits above are 0 for level n)."""
        width = self.input_width - self.index_lo[n]
        return var if width == self.key_width else f"{var}[{width}:0]"

    def fields(self) -> list[tuple[str, int]]:
        out = [("cv", 0), ("ck", self.key_width), ("cl", self.level_width)]
        out += [(f"ct_{t.name}_", t.width) for t in self.tags]
        out += [("cn", self.level_width), ("cb", self.table_width)]
        if self.htable:
            out.append(("ch", ADDR_BITS))
        out += [(f"ca_{a}_", 0 if wd == 1 else wd) for a, wd in self.accs]
        return out + [(f"cx_{a}_", 0 if wd == 1 else wd) for a, wd in self.hx]

    @staticmethod
    def lvar(n: int, w: int, prefix: str) -> str:
        """The lookup's variable of field `prefix` of way w in level n's set."""
        return f"x{n}_{w}_{prefix.rstrip('_')}"

    def level_vars(self, w: int, n: int, index: str) -> list[str]:
        """Statements that read way w of set `index` (level n's) into the x{n}_{w}_* variables."""
        out = []
        for prefix, width in self.fields():
            var = self.lvar(n, w, prefix)
            if width == 0:
                out += [f"{var} = intbv(0)[1:]", f"{var}[0] = {prefix}{w}[{index}]"]
            else:
                out += [f"{var} = intbv(0)[{width}:]", f"{var}[:] = {prefix}{w}[{index}]"]
        return out

    def match_level(self, w: int, n: int) -> str:
        """Way w holds level n's entry for the request's input and tags (no access kinds,
        no global entries: the reference's lookup_tables)."""
        v = lambda p: self.lvar(n, w, p)  # noqa: E731
        parts = [f"{v('cv')}[0]", f"({v('cl')} == {n})", f"({self.key_low(v('ck'), n)} == {self.key_of(n)})"]
        parts += [f"({v(f'ct_{t.name}_')} == t_{t.name})" for t in self.tags]
        return " and ".join(parts)

    def hit_fields(self) -> list[tuple[str, str, int]]:
        """(variable, field prefix, width; 0 = a bool) of what a hit answers, in
        hit_signals' order after pc_hit (signal pc_X is variable h_X)."""
        out = []
        for (name, width), prefix in zip(self.hit_signals()[1:], ["cn", "cb"] + (["ch"] if self.htable else [])
                                          + [f"ca_{a}_" for a, _ in self.accs] + [f"cx_{a}_" for a, _ in self.hx]):
            out.append((f"h_{name[3:]}", prefix, width))
        return out

    def covers(self, e: Expr, h: Hoist, w: int) -> str:
        """covers(X) on a paging-structure entry: X's input bits from the entry's level's
        index up are its key (the reference's covers_tables)."""
        x = e.args[0]
        iw = self.input_width
        xw = max(x.width, iw)
        cx = h._new(xw)
        h.lines.append(f"{cx}[:] = {h._fit(x, xw)}")
        lvl = self._var(w, "cl")
        parts = [f"(({lvl} == {n}) and ({self.key_low(self._var(w, 'ck'), n)} == {cx}[{iw}:{self.index_lo[n]}]))" for n in self.psc_levels]
        inside = f"({cx}[{xw}:{iw}] == 0) and " if xw > iw else ""
        return f"({inside}({' or '.join(parts)}))"

    def stage_names(self, n: int) -> list[str]:
        """The walker's staged fill of level n (pq_*: set as the walk passes the pointer)."""
        out = [f"pq_v{n}", f"pq_n{n}", f"pq_t{n}"] + ([f"pq_h{n}"] if self.htable else [])
        return out + [f"pq_a_{a}_{n}" for a, _ in self.accs] + [f"pq_x_{a}_{n}" for a, _ in self.hx]

    def stage_signals(self) -> list[tuple[str, int]]:
        """(signal, width; 0 = a bool) of every staged fill, level by level, root first."""
        out = []
        for n in self.fill_order:
            out += [(f"pq_v{n}", 0), (f"pq_n{n}", self.level_width), (f"pq_t{n}", self.table_width)]
            if self.htable:
                out += [(f"pq_w{n}", 0), (f"pq_h{n}", ADDR_BITS)]
            out += [(f"pq_a_{a}_{n}", 0 if wd == 1 else wd) for a, wd in self.accs]
            out += [(f"pq_x_{a}_{n}", 0 if wd == 1 else wd) for a, wd in self.hx]
        return out

    @property
    def fill_order(self) -> tuple[int, ...]:
        """The cached levels in the order a walk passes them (root first)."""
        return tuple(reversed(self.psc_levels))

    def hit_signals(self) -> list[tuple[str, int]]:
        """(signal, width) of the lookup's answer the walker reads: pc_hit, the level to
        read next, the table, its host-physical address, the accumulators."""
        out = [("pc_hit", 0), ("pc_nxt", self.level_width), ("pc_tbl", self.table_width)]
        if self.htable:
            out.append(("pc_htbl", ADDR_BITS))
        return out + [(f"pc_a_{a}", 0 if wd == 1 else wd) for a, wd in self.accs] \
            + [(f"pc_x_{a}", 0 if wd == 1 else wd) for a, wd in self.hx]

    def fill_values(self, n: int) -> list[tuple[str, str]]:
        """(memory prefix, value) of level n's fill: the request captured when the walk
        started (f_addr, f_t_*) and the walker's staged values."""
        lo = self.index_lo[n]
        kwn = self.input_width - lo
        key = f"f_addr[{self.input_width}:{lo}]"
        if kwn < self.key_width:
            key = f"concat(intbv(0)[{self.key_width - kwn}:], {key})"
        out = [("cv", "True"), ("ck", key), ("cl", str(n))]
        out += [(f"ct_{t.name}_", f"f_t_{t.name}") for t in self.tags]
        out += [("cn", f"pq_n{n}"), ("cb", f"pq_t{n}")]
        if self.htable:
            out.append(("ch", f"pq_h{n}"))
        out += [(f"ca_{a}_", f"pq_a_{a}_{n}") for a, _ in self.accs]
        return out + [(f"cx_{a}_", f"pq_x_{a}_{n}") for a, _ in self.hx]


def _no_global(e: Expr) -> Expr:
    """`e` with entry.global as the constant 0: a cache without `global when` has no
    global entries."""
    if e.op == "ref" and e.kind == "entry" and e.name == "global":
        return Expr(op="num", value=0, width=1, span=e.span)
    if not e.args:
        return e
    return e.model_copy(update={"args": tuple(_no_global(a) for a in e.args)})


def _no_level(t) -> int | None:
    return t.no_level if t.has_no_level else None


def _leaf_shifts(regime) -> tuple[tuple[int, int], ...]:
    """(spec level number, page shift) of each leaf level: the reference view's table."""
    return tuple(leaf_shifts(regime).items())


def cache_views(t) -> list[CacheView]:
    """The caches of translation view `t`'s top (a regime, or a nested composition),
    as CacheViews, with their invalidations; [] when it declares none."""
    top = t.spec.top
    # the TLBs (walk_cache_views: the paging-structure cache and the nested TLB behind them)
    caches = tuple(c for c in getattr(top, "caches", ()) or () if c.holds == "translations")
    if not caches:
        return []
    if len(caches) > 1:
        raise LowerError(f"the cycle-level model holds one cache of translations per translation, not "
                         f"{len(caches)}: declare one `cache` here", caches[1].span)
    main = t.main
    guest = main.regime
    host = t.host.regime if t.host else None
    levels = _leaf_shifts(guest)
    host_levels = _leaf_shifts(host) if host else None
    g = min(s for _, s in levels + (host_levels or ()))
    out = []
    for c in caches:
        out.append(CacheView(
            name=c.name, entries=c.entries, ways=c.ways, replace=c.replace, pages=c.pages, g=g,
            input_width=guest.input_width, access=tuple(guest.access), levels=levels, host_levels=host_levels,
            tags=tuple(Tag(tg.name, tg.value.width, tg.value) for tg in c.tags),
            global_when=c.global_when, ignores=tuple(c.global_ignores), events=_events(top, c),
            level_width=t.level_width, no_level=_no_level(t),
            env=main.hdl_env(), leaf_env=main.hdl_env(main.record_layout, entry="le"),
            register_widths={r: t.spec.layout(r).width for r in t.context}))
    return out


def _events(top, c) -> tuple[Event, ...]:
    """Every invalidation of the top as cache `c` sees it (its drop condition)."""
    evs = []
    for k, ev in enumerate(tuple(getattr(top, "invalidations", ()) or ()), 1):
        drops = [d for d in ev.drops if d.cache == c.name]
        evs.append(Event(k, ev.name, tuple((o.name, o.width) for o in ev.operands), bool(drops),
                         None if not drops or any(d.when is None for d in drops) else _any(d.when for d in drops)))
    return tuple(evs)


def walk_cache_views(t) -> tuple[PscView | None, CacheView | None, PscView | None]:
    """The paging-structure cache of the walk, the nested TLB and the paging-structure
    cache of the host walk of the top, as the cycle-level model builds them behind its TLB
    (none without a TLB: the model holds no cache then)."""
    top = t.spec.top
    if not cache_views(t):
        return None, None, None
    caches = tuple(getattr(top, "caches", ()) or ())
    psc = next((c for c in caches if c.holds == "tables" and c.stage == "guest"), None)
    ntlb = next((c for c in caches if c.holds == "host translations"), None)
    main = t.main
    guest = main.regime
    host = t.host.regime if t.host else None
    levels = _leaf_shifts(guest)
    host_levels = _leaf_shifts(host) if host else None
    g = min(s for _, s in levels + (host_levels or ()))
    widths = {r: t.spec.layout(r).width for r in t.context}
    hx = tuple((a.name, a.width) for a in host.accumulators) if host is not None and top.folds else ()
    pv = nv = None
    if psc is not None:
        ref = t.caches  # the reference's view: the same levels, order and keys
        order = ref.psc_levels()
        pv = PscView(
            name=psc.name, entries=psc.entries, ways=psc.ways, replace=psc.replace, pages="split", g=g,
            input_width=guest.input_width, access=tuple(guest.access), levels=levels,
            tags=tuple(Tag(tg.name, tg.value.width, tg.value) for tg in psc.tags), events=_events(top, psc),
            level_width=t.level_width, env=main.hdl_env(), register_widths=widths,
            psc_levels=order, index_lo={n: ref.index_lo()[n] for n in order},
            next_levels=tuple(lv.number for lv in guest.levels if lv.number < max(order)),
            table_width=main.addr_width, htable=host is not None,
            accs=tuple((a.name, a.width) for a in guest.accumulators), hx=hx)
    hpsc = next((c for c in caches if c.holds == "tables" and c.stage == "host"), None)
    hv = None
    if hpsc is not None and host is not None:
        ref = t.caches
        order = ref.psc_levels(hpsc)
        hv = PscView(
            name=hpsc.name, entries=hpsc.entries, ways=hpsc.ways, replace=hpsc.replace, pages="split", g=g,
            input_width=host.input_width, access=tuple(host.access), levels=host_levels,
            tags=tuple(Tag(tg.name, tg.value.width, tg.value) for tg in hpsc.tags), events=_events(top, hpsc),
            level_width=t.level_width, env=main.hdl_env(), register_widths=widths,
            psc_levels=order, index_lo={n: ref.index_lo(hpsc)[n] for n in order},
            next_levels=tuple(lv.number for lv in host.levels if lv.number < max(order)),
            table_width=t.host.addr_width, htable=False,
            accs=tuple((a.name, a.width) for a in host.accumulators), hp="hc", sp="hq", at_once=True)
    if ntlb is not None:
        nv = CacheView(
            name=ntlb.name, entries=ntlb.entries, ways=ntlb.ways, replace=ntlb.replace, pages=ntlb.pages, g=g,
            input_width=host.input_width, access=tuple(host.access), levels=host_levels,
            tags=tuple(Tag(tg.name, tg.value.width, tg.value) for tg in ntlb.tags), events=_events(top, ntlb),
            level_width=t.level_width, env=main.hdl_env(), register_widths=widths, hx=hx)
    return pv, nv, hv


def _any(whens) -> Expr:
    """Several drops of one cache in one event: an entry goes when any condition holds."""
    whens = list(whens)
    out = whens[0]
    for w in whens[1:]:
        out = Expr(op="||", args=(out, w), width=1, span=w.span)
    return out


__all__ = ["CacheView", "Event", "PscView", "Tag", "cache_views", "walk_cache_views", "LowerError"]
