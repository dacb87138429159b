"""What the templates see of a decision unit: the structure words to read, the bitmap
lookups and the exit rules, with every expression already lowered to Python and to
MyHDL text.

The order of memory references is the cross-check contract (notes/unit-language.md):
structure words in declaration order of the structures and ascending offset within
each, then the bitmaps in declaration order, then the stores in ascending offset.
"""
from __future__ import annotations

from dataclasses import dataclass

from codegen import ir
from codegen.generate.lower import Env, Hoist, py, py_field, record_py, ref_slice
from codegen.generate.view.walker import WalkerView, widen
from codegen.ir.expr import Expr, mask, num

WORD_BITS = 64  # a structure word: the unit reads and writes 8 bytes at a time

MASK64 = mask(64)


@dataclass
class Word:
    """One aligned 64-bit word of a structure that the unit reads."""

    structure: ir.Structure
    offset: int

    @property
    def var(self) -> str:
        return f"w_{self.structure.name}_{self.offset:x}"


@dataclass
class Read:
    """One aligned 64-bit word an `align 4` structure's step reads (offset from the
    aligned word at or below the base): the structure word at that offset (`own`) takes
    it whole when the base is a multiple of 8, else its high half as its low half; the
    structure word 8 bytes before (`prev`) takes its low half as its high half. A word
    that only completes `prev` is read only when the base is 4 bytes past a boundary."""

    offset: int
    own: Word | None
    prev: Word | None


@dataclass
class Store:
    field: ir.OutputField
    structure: ir.Structure
    offset: int


@dataclass
class Step:
    """One evaluation step, in the order the spec writes them: a structure (the words
    of it the unit reads), a bitmap lookup, a walk or a call (the callee's decision and
    its stores: `stores`)."""

    kind: str
    node: ir.Structure | ir.Bitmap | ir.Walk | ir.Call
    words: list[Word]
    walker: WalkerView | None = None
    # a walk of a nested composition: its guest and host walkers (roles "guest", "host")
    translation: object = None
    stores: list[Store] | None = None
    # an `align 4` structure: the aligned words it reads (None: one per word, as `words`)
    reads: list[Read] | None = None

    @property
    def port(self) -> str:
        """The prefix of the signals by which the unit drives the walk and reads it."""
        return f"wn_{self.node.name}" if self.translation is not None else self.walker.role


def nested_translation(spec: ir.Spec, name: str, acc_out: bool = False):
    """The TranslationView of composition `name` as a unit walks it: without its caches
    (a walk in a unit reads memory every time), its own walkers guest and host."""
    from codegen.generate.view.translation import TranslationView
    bare = [n.model_copy(update={"caches": (), "invalidations": ()}) if n.name == name else n for n in spec.nested]
    t = TranslationView(spec.model_copy(update={"nested": tuple(bare), "top_name": name, "units": ()}))
    t.main.gpa_port = True  # the unit reads the guest-physical address (`W.gpa`)
    t.main.acc_out = acc_out  # a walk of it reads the guest's accumulators (`W.ACC`)
    for w in t.walkers:  # the unit's memory may answer their reads with an error
        w.unit_nest = True
    return t


class UnitView:
    def __init__(self, spec: ir.Spec, unit: ir.Unit):
        self.spec, self.unit = spec, unit
        used = {r.name for e in self.unit.expressions() for r in e.refs() if r.kind == "struct"}
        # the structures whose read error a rule reads (`S.error`), in step order
        erring = {r.name for e in self.unit.expressions() for r in e.refs() if r.kind == "rerr"}
        self.error_structures = [n for k, n in unit.steps if k == "structure" and n in erring]
        self.words: list[Word] = []
        self.steps: list[Step] = []
        for kind, name in unit.steps:
            if kind == "structure":
                st = unit.structure(name)
                offsets = sorted({f.word for f in st.fields if f"{st.name}.{f.name}" in used})
                words = [Word(st, o) for o in offsets]
                self.words += words
                self.steps.append(Step(kind, st, words, reads=self._reads(words) if st.align != 8 else None))
            elif kind == "bitmap":
                self.steps.append(Step(kind, unit.step_node(kind, name), []))
            elif kind == "call":
                call = unit.step_node(kind, name)
                self.steps.append(Step(kind, call, [], stores=self._stores(call.record)))
            else:
                walk = unit.step_node(kind, name)
                if walk.nested:
                    # the walkers of a composition are one block for every walk of it: their
                    # accumulators are ports when any walk of it reads one
                    acc_out = any(w.accs for w in unit.walks if w.nested and w.regime == walk.regime)
                    self.steps.append(Step(kind, walk, [], None, nested_translation(spec, walk.regime, acc_out)))
                else:
                    wv = WalkerView(spec, spec.regime(walk.regime), f"unit_{walk.name}")
                    wv.acc_out = bool(walk.accs)
                    self.steps.append(Step(kind, walk, [], wv))
        widen(self.walkers, WORD_BITS)
        # the model has a read-error input (m_rerr) when a rule or a walk fault reads an error
        self.reads_errors = bool(self.error_structures) or any(w.reads_error for w in self.walkers)
        for w in self.walkers:
            w.level_bits = self.level_width
            w.status_bits = self.status_bits
        self.stores = self._stores(unit.record)
        # a cached call: each step it inlined runs only on a miss (`ch_CALL is None`)
        self.guarded: dict[str, ir.Call] = {}
        for c in unit.calls:
            if unit.cache_of("call", c.name) is not None:
                self.guarded.update({n: c for _k, n in c.inlined})
        from codegen.generate.view.unit_cache import UnitCacheHdl, UnitCacheView
        self.cache = UnitCacheView(spec, unit, self.py_env)
        self.hdl_cache = UnitCacheHdl(self, self.cache)

    @staticmethod
    def _reads(words: list[Word]) -> list[Read]:
        """The aligned words an `align 4` structure's words straddle, in ascending order."""
        by = {w.offset: w for w in words}
        return [Read(o, by.get(o), by.get(o - 8)) for o in sorted(set(by) | {o + 8 for o in by})]

    def py_unaligned(self, step: Step) -> list[str]:
        """The reference's reads of an `align 4` structure at step `step` (base_NAME set):
        at a base 4 bytes past an 8-byte boundary each word is the high half of the aligned
        word it starts in and the low half of the next (every such word read once, in
        ascending order); at a multiple of 8, each word is read whole."""
        st = step.node
        base = f"base_{st.name}"
        odd = [f"if {base} & 4:"]
        for r in step.reads:
            odd.append(f"    a_{st.name}_{r.offset:x} = read(mem, trace, errors, (({base} & {hex(MASK64 & ~7)}) + "
                       f"{hex(r.offset)}) & MASK64)")
        for w in step.words:
            odd.append(f"    {w.var} = ((a_{st.name}_{w.offset:x} >> 32) | (a_{st.name}_{w.offset + 8:x} << 32)) & MASK64")
        odd.append("else:")
        odd += [f"    {w.var} = read(mem, trace, errors, ({base} + {hex(w.offset)}) & MASK64)" for w in step.words]
        when = self.py_when(st)
        if not when:
            return odd
        return ([f"if {when}:"] + ["    " + line for line in odd]
                + ["else:", "    " + " = ".join(w.var for w in step.words) + " = 0"])

    def _stores(self, record: ir.UnitRecord) -> list[Store]:
        """The stores of a record in the order they are written: structures in declaration
        order, ascending offset within each."""
        out = []
        for f in record.fields:
            if f.store is not None:
                st = self.unit.structure(f.store[0])
                out.append(Store(f, st, st.field(f.store[1]).offset))
        order = [x.name for x in self.unit.structures]
        return sorted(out, key=lambda s: (order.index(s.structure.name), s.offset))

    # ---- calls
    def cached_call_at(self, i: int) -> ir.Call | None:
        """The cached call whose lookup comes before step i: its first inlined step, or
        the call itself when it inlines none."""
        for c in self.unit.calls:
            if self.unit.cache_of("call", c.name) is None:
                continue
            names = [n for _k, n in c.inlined] + [c.name]
            first = min(j for j, s in enumerate(self.steps) if s.node.name in names)
            if first == i:
                return c
        return None

    def py_when(self, n) -> str | None:
        """The Python condition a step runs under (None: always): its `when` and, for a
        step a cached call inlined, a miss of that call's cache."""
        c = self.guarded.get(n.name)
        own = self.py(n.when) if n.when is not None else None
        if c is None:
            return own
        return f"ch_{c.name} is None" + (f" and ({own})" if own else "")

    @staticmethod
    def call_members(call: ir.Call) -> list[tuple[str, int]]:
        return list(call.members.items())

    def call_var(self, call: ir.Call, member: str) -> str:
        return f"cl_{call.name}_{member}"

    def py_call_record(self, call: ir.Call, rule: ir.ExitRule) -> list[tuple[str, str]]:
        return record_py(self._as_record(rule, call.record), self.py_env())

    def call_store_when(self, call: ir.Call, s: Store) -> Expr:
        """A store of a call happens when the callee exited and the store's own `when` holds."""
        done = Expr(op="ref", kind="call", name=f"{call.name}.exit", width=1)
        w = s.field.store_when
        return done if w is None else Expr(op="&&", args=(done, w), width=1)

    def call_store_data(self, call: ir.Call, s: Store) -> str:
        """The memory port's write data for a store of a call, zero-extended to the port's width."""
        name = self.call_var(call, s.field.name)
        pad = self.data_width - s.field.width
        return f"concat(intbv(0)[{pad}:], {name})" if pad > 0 else name

    # ---- names
    @property
    def event(self) -> tuple[ir.EventField, ...]:
        return self.unit.event

    @property
    def context(self) -> tuple[str, ...]:
        return self.unit.context

    def register_width(self, name: str) -> int:
        return self.spec.layout(name).width

    def word_of(self, ref_name: str) -> Word:
        sname, fname = ref_name.split(".")
        st = self.unit.structure(sname)
        off = st.field(fname).word
        return next(w for w in self.words if w.structure is st and w.offset == off)

    @property
    def status_width(self) -> int:
        return max(1, len(self.unit.exits).bit_length())

    # ---- Python
    def py_env(self) -> Env:
        return Env({
            "event": lambda e: f"e_{e.name}",
            "ctx": lambda e: f"r_{e.name}" if e.lo == 0 and e.width == self.register_width(e.name)
            else py_field(f"r_{e.name}", e.lo, e.width),
            "struct": lambda e: self.word_of(e.name).var if e.lo == 0 and e.width == 64
            else py_field(self.word_of(e.name).var, e.lo, e.width),
            "bitmap": lambda e: f"b_{e.name}",
            "rerr": lambda e: f"er_{e.name}",
            "walk": lambda e: f"wk_{e.name.replace('.', '_')}",
            "call": lambda e: f"cl_{e.name.replace('.', '_')}",
        })

    def py(self, e: Expr) -> str:
        return py(e, self.py_env())

    def py_base(self, st: ir.Structure) -> str:
        return f"({self.py(st.base)} & {hex(MASK64 & ~(st.align - 1))})"

    def py_exit_record(self, rule: ir.ExitRule) -> list[tuple[str, str]]:
        return record_py(self._as_record(rule), self.py_env())

    def _as_record(self, rule: ir.ExitRule, record: ir.UnitRecord | None = None) -> ir.Record:
        """The rule's assignments as a record with every field (unassigned ones are 0)."""
        record = record or self.unit.record
        given = {a.field: a for a in rule.assigns}
        fields = []
        for f in record.fields:
            a = given.get(f.name)
            if a is None:
                fields.append(ir.RecordField(name=f.name, width=f.width, value=num(0)))
            elif a.value is not None:
                fields.append(ir.RecordField(name=f.name, width=f.width, value=a.value))
            else:
                fields.append(ir.RecordField(name=f.name, width=f.width, bits=a.bits))
        return ir.Record(name=record.name, fields=tuple(fields))

    # ---- MyHDL
    def hdl_env(self) -> Env:
        return Env({
            "event": lambda e: f"e_{e.name}",
            "ctx": lambda e: ref_slice(f"r_{e.name}", e.lo, e.width, self.register_width(e.name)),
            "struct": lambda e: ref_slice(self.word_of(e.name).var, e.lo, e.width, 64),
            "bitmap": lambda e: f"b_{e.name}",
            "rerr": lambda e: f"er_{e.name}",
            "walk": lambda e: f"wk_{e.name.replace('.', '_')}",
            "call": lambda e: f"cl_{e.name.replace('.', '_')}",
        }, signal={
            "event": lambda e: (f"e_{e.name}", 0),
            "ctx": lambda e: (f"r_{e.name}", e.lo),
            "struct": lambda e: (self.word_of(e.name).var, e.lo),
            "bitmap": lambda e: (f"b_{e.name}", 0),
            "rerr": lambda e: (f"er_{e.name}", 0),
            "walk": lambda e: (f"wk_{e.name.replace('.', '_')}", 0),
            "call": lambda e: (f"cl_{e.name.replace('.', '_')}", 0),
        })

    def hdl_plan(self) -> dict:
        """Every expression of the model lowered to (statements, text) through one
        Hoist: the statements declare and fill the scratch variables the text uses."""
        h = Hoist(self.hdl_env())

        def value(e: Expr):
            """A value for v_wide: exactly as wide, so that the Verilog extends nothing."""
            text = h._fit(e, self.wide_width)
            return h.take(), text

        def fitted(e: Expr, width: int):
            """A record value taken to its field's low bits (as the reference does), or
            zero-extended to them: exactly `width` bits."""
            text = h._fit(e, width)
            return h.take(), text

        def cond(e: Expr | None):
            if e is None:
                return [], "True"
            text = h.cond(e)
            return h.take(), text

        def decisions(rules, record):
            out = []
            for x in rules:
                fields = []
                for f in self._as_record(x, record).fields:
                    if f.value is not None:
                        lines, text = fitted(f.value, f.width)
                        fields.append((f, lines, text))
                    else:
                        bits = []
                        for b in f.bits:
                            lines, text = fitted(b.value, b.hi - b.lo + 1)
                            bits.append((b.hi, b.lo, lines, text))
                        fields.append((f, [], bits))
                out.append({"rule": x, "when": cond(x.when), "record": fields})
            return out

        steps = []
        for step in self.steps:
            n = step.node
            if step.kind == "call":
                steps.append({"when": cond(n.when), "exits": decisions(n.exits, n.record),
                              "stores": [{"base": value(s.structure.base), "when": cond(self.call_store_when(n, s))}
                                         for s in step.stores]})
            elif step.kind == "structure":
                steps.append({"base": value(n.base), "when": cond(n.when)})
            elif step.kind == "bitmap":
                steps.append({"span": value(n.span_bits), "when": cond(n.when), "base": value(n.base),
                              "index": value(n.index)})
            else:
                steps.append({"input": value(n.input), "when": cond(n.when),
                              "access": [(b.name, cond(b.value)) for b in n.access],
                              "context": [(b.name, value(b.value)) for b in n.context]})
        exits = decisions(self.unit.exits, self.unit.record)
        stores = [{"base": value(s.structure.base), "when": cond(s.field.store_when)} for s in self.stores]
        return {"steps": steps, "exits": exits, "stores": stores}

    def store_data(self, s: Store) -> str:
        """The memory port's write data for a store: its record field, zero-extended to
        the port's width."""
        pad = self.data_width - s.field.width
        return f"concat(intbv(0)[{pad}:], rec_{s.field.name})" if pad > 0 else f"rec_{s.field.name}"

    def step_states(self, i: int) -> list[str]:
        cc = self.cached_call_at(i)
        pre = [f"S{self.step_index(cc.name)}L"] if cc is not None else []  # the cached call's lookup
        return pre + self._step_states(i)

    def step_index(self, name: str) -> int:
        return next(j for j, s in enumerate(self.steps) if s.node.name == name)

    def call_miss_state(self, i: int) -> str:
        """Where the lookup of the cached call at step i goes on a miss (or when the call is
        not made): the first state of the first step the call inlined, past the lookup."""
        c = self.steps[i].node
        names = [n for _k, n in c.inlined] + [c.name]
        j = min(k for k, s in enumerate(self.steps) if s.node.name in names)
        states = self._step_states(j)
        return states[0] if states else self.after(j)

    def after_call_decision(self, i: int) -> str:
        """The state after the decision of the call at step i: its cache's fill, its stores, or on."""
        if self.unit.cache_of("call", self.steps[i].node.name) is not None:
            return f"S{i}F"
        return f"S{i}T0" if self.steps[i].stores else self.after(i)

    def _step_states(self, i: int) -> list[str]:
        step = self.steps[i]
        if step.kind == "structure":
            fill = [f"S{i}F"] if step.words and self.unit.cache_of("structure", step.node.name) else []
            return [f"S{i}W{k}" for k in range(len(step.reads if step.reads is not None else step.words))] + fill
        if step.kind == "bitmap":
            return [f"S{i}P", f"S{i}A", f"S{i}B"]
        if step.kind == "call":
            fill = [f"S{i}F"] if self.unit.cache_of("call", step.node.name) is not None else []
            return [f"S{i}D"] + fill + [f"S{i}T{k}" for k in range(len(step.stores))]
        return [f"S{i}G", f"S{i}R"]

    def after_call_store(self, i: int, k: int) -> str:
        """The state after store k of the call at step i."""
        return f"S{i}T{k + 1}" if k + 1 < len(self.steps[i].stores) else self.after(i)

    def hdl_states(self) -> list[str]:
        states = ["IDLE"] + [x for i in range(len(self.steps)) for x in self.step_states(i)]
        inv = ["INV"] if self.unit.caches else []
        return states + ["DECIDE"] + [f"ST{k}" for k in range(len(self.stores))] + inv + ["FINISH"]

    def after(self, i: int) -> str:
        """The first state after step i (i = -1: the first state after IDLE)."""
        for j in range(i + 1, len(self.steps)):
            states = self.step_states(j)
            if states:
                return states[0]
        return "DECIDE"

    def after_store(self, k: int) -> str:
        return f"ST{k + 1}" if k + 1 < len(self.stores) else "FINISH"

    def _stage_of(self, walk: ir.Walk) -> tuple[ir.Regime, tuple[str, ...]]:
        """The regime that reads a walk's input and access kinds, and the context it reads
        (a composition's guest, and the composition's context)."""
        if walk.nested:
            nest = next(n for n in self.spec.nested if n.name == walk.regime)
            return self.spec.regime(nest.guest), nest.context
        regime = self.spec.regime(walk.regime)
        return regime, regime.context

    def walk_args(self, walk: ir.Walk) -> list[str]:
        """Python arguments of a walk after its input: access kinds then context
        registers, in the regime's (or composition's) order, each cut to its register's width."""
        regime, context = self._stage_of(walk)
        access = {b.name: b.value for b in walk.access}
        ctx = {b.name: b.value for b in walk.context}
        out = [f"bool({self.py(access[a])})" for a in regime.access]
        out += [f"({self.py(ctx[c])} & {hex(mask(self.register_width(c)))})" for c in context]
        return out

    def walk_context(self, walk: ir.Walk) -> tuple[str, ...]:
        return self._stage_of(walk)[1]

    def input_mask(self, walk: ir.Walk) -> int:
        return mask(self._stage_of(walk)[0].input_width)

    def walk_members(self, walk: ir.Walk) -> list[tuple[str, int]]:
        from codegen.frontend.elaborate.unit import nested_members, walk_members
        if walk.nested:
            nest = next(n for n in self.spec.nested if n.name == walk.regime)
            out = list(nested_members(nest, self.spec.regime(nest.guest), self.spec.regime(nest.host)).items())
        else:
            out = list(walk_members(self.spec.regime(walk.regime)).items())
        return out + [(a, w) for a, w, _i in self.walk_accs(walk)]

    def walk_accs(self, walk: ir.Walk) -> list[tuple[str, int, int]]:
        """(name, width, position among the regime's accumulators) of each accumulator the unit
        reads of `walk` after a success (a composition's: the guest's)."""
        regime = self.spec.regime(next(n for n in self.spec.nested if n.name == walk.regime).guest
                                  if walk.nested else walk.regime)
        accs = list(regime.accumulators)
        return [(a.name, a.width, accs.index(a)) for a in accs if a.name in walk.accs]

    def member_width(self, walk: ir.Walk, name: str) -> int:
        return dict(self.walk_members(walk))[name]

    def first_record_kinds(self, w: WalkerView) -> list[int] | None:
        """The status codes (1 = the first kind) of the faults that report the regime's
        first record, whose fields a unit reads; None when every fault does."""
        if not w.regime.records:
            return None
        return [i + 1 for i, k in enumerate(w.kinds) if w.regime.record_of(k).name == w.regime.record.name]

    @property
    def walkers(self) -> list[WalkerView]:
        out = []
        for s in self.steps:
            out += [s.walker] if s.walker is not None else s.translation.walkers if s.translation else []
        return out

    @property
    def translations(self) -> list:
        return [s.translation for s in self.steps if s.translation is not None]

    @property
    def has_no_level(self) -> bool:
        """Some walk can end with no level: a walk of a composition (a stage switched
        off, a host fault on the final address; NO_LEVEL in the walkers)."""
        return bool(self.translations)

    @property
    def no_level(self) -> int:
        return (1 << self.level_width) - 1

    @property
    def nested_base(self) -> int:
        return max([64] + [t.nested_base for t in self.translations])

    @property
    def status_bits(self) -> int:
        return max([8] + [t.status_width for t in self.translations])

    @property
    def data_width(self) -> int:
        """The memory port's data width: a structure word (8 bytes), or the widest entry a walk reads."""
        return max([WORD_BITS] + [w.entry_bits for w in self.walkers])

    @property
    def level_width(self) -> int:
        top = max([w.max_level for w in self.walkers] + [0])
        no_level = (top + 1).bit_length() if self.has_no_level else 0
        return max([3, no_level] + [w.level_width for w in self.walkers])

    @property
    def wide_width(self) -> int:
        """Width of the scratch variable every expression is computed into before it is
        cut to its destination (MyHDL checks the range of each assignment)."""
        return max([72] + [e.width for e in self.unit.expressions()])

    @property
    def bit_address_width(self) -> int:
        """Bits of a bitmap's bit address: (64-bit byte base << 3) + a 64-bit index."""
        return 69

    @property
    def span_width(self) -> int:
        return 7
