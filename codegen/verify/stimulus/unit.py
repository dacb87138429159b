"""Stimulus for decision units, derived from the IR: events, context, control blocks
and bitmaps in memory.

Nothing here knows an architecture. Values are biased toward what the unit's rules
look at:
- an event field with an enum takes one of its values;
- a field compared against a constant takes values at and around that constant (range
  boundaries such as the last MSR of a range or the last port);
- wide values are often zero, all ones, sparse, or a copy of another value of the same
  width with a few bits flipped (so that "operand equals shadow" happens);
- bitmap words are zero, all ones or random.

The memory a lookup reads is filled by evaluating the bitmap's own expressions on the
drawn event and control block, so every bitmap read finds drawn data.
"""
from __future__ import annotations

from dataclasses import dataclass

from codegen import ir
from codegen.frontend.elaborate.unit import _folded_on_bindings, walk_always_checks
from codegen.ir.expr import COMPARE, Expr, mask
from codegen.verify.stimulus.translation import (
    Allocator,
    Draw,
    Plan,
    Scenario,
    ScenarioFactory,
    StimulusError,
    TableBuilder,
    eval_ctx,
    evaluate,
    fault_levels,
    table_shift,
)

MASK64 = mask(64)
# a unit scenario's chance (percent) of one word that answers a read with an error, where the
# spec handles it
ERROR_PERCENT = 10
# draws of a composition's walk whose context is written back into structure fields, while
# those fields switch the walk off
BACK_TRIES = 8


def _contains(e: Expr, key: tuple[str, str]) -> bool:
    return any((r.kind, r.name) == key for r in e.refs())


STEER_ROUNDS = 25  # passes over a condition's false parts before giving up (each part: 4 redraws)
STILL_ROUNDS = 3  # through calls: passes in a row that move no leaf before giving up
MAX_MIX_EVENTS = 10_000_000  # --mix events in all: the shuffled kinds are one list
COMPLETE_ROUNDS = 3  # reference runs that fill the words a scenario left out (complete)


class MixError(Exception):
    """An impossible --mix: no enum-typed event field, or an unknown item."""


class UnitScenarioFactory:
    """Draws complete scenarios (event + context + memory image) for a spec's unit."""

    def __init__(self, spec: ir.Spec):
        self.spec = spec
        self.unit: ir.Unit = spec.top
        self.enums = {e.name: e for e in spec.enums}
        self._cache: dict = {}
        self.interesting: dict[tuple[str, str], set[int]] = {}
        self.constants: dict[tuple[str, str], set[int]] = {}
        # (field, expression): `field == expression` somewhere in a rule; drawing the
        # field as the expression's value makes the equal case happen
        self.equalities: list[tuple[tuple[str, str], Expr]] = []
        # (structure field or sub-field, expression of a walk's result) compared for equality:
        # drawn equal, once the walk is built, most of the time
        self.walk_equalities: list[tuple[Expr, Expr]] = []
        for e in self.unit.expressions():
            self._collect(e)
        self.used_fields = {r.name for e in self.unit.expressions() for r in e.refs() if r.kind == "struct"}
        # the tables of a walk are built with the reads succeeding: without the faults on
        # `error` (with_error marks a word afterwards)
        self.table_spec = _without_error_faults(spec)
        self.walk_factories = {w.name: ScenarioFactory(self.table_spec, self._walked(w, self.table_spec))
                               for w in self.unit.walks}
        # structures placed once the walks they read are built (a check of the page a walk reached)
        self.after_walk = {st.name for st in self.unit.structures
                           if any(r.kind == "walk" for e in (st.base, st.when) if e is not None for r in e.refs())}
        self.calls = {c.name: c for c in self.unit.calls}
        # each callee rule as a condition on the caller (NAME.RULE: the call made, that rule
        # deciding): steering goes through it (_leaf) to what the callee reads
        self._expanded: dict[str, Expr] = {}
        self._ref_lists: dict[int, tuple[Expr, list[Expr]]] = {}
        self._deep: dict[int, tuple[Expr, list[Expr]]] = {}
        self.call_rules = [Expr(op="ref", kind="call", name=f"{c.name}.{x.name}", width=1)
                           for c in self.unit.calls for x in c.exits
                           if not (x.when.op == "num" and not x.when.value)]
        whens = [x.when for x in self.unit.exits]
        self.fires = [_fires(whens, i) for i in range(len(whens))]
        self.walk_guards = [w.when for w in self.unit.walks if w.when is not None] if self.calls else []
        # where the spec says what a read that answers with an error means: the structures
        # a rule reads `S.error` of, and per walk of a regime the faults that read `error`
        self.erring = {r.name for e in self.unit.expressions() for r in e.refs() if r.kind == "rerr"}
        self.error_faults = {w.name: {r.name for r in spec.regime(w.regime).faults if reads_error(r)}
                             for w in self.unit.walks if not w.nested}
        # a walk of a composition: its guest's faults on `error`, and its host's as host_NAME
        # (a host table read that fails, while translating a guest table or the final address)
        for w in self.unit.walks:
            if w.nested:
                nest = next(n for n in spec.nested if n.name == w.regime)
                self.error_faults[w.name] = (
                    {r.name for r in spec.regime(nest.guest).faults if reads_error(r)}
                    | {f"host_{r.name}" for r in spec.regime(nest.host).faults if reads_error(r)})
        self.error_faults = {k: v for k, v in self.error_faults.items() if v}

    def _truth(self, e: Expr) -> bool:
        """A call result that is a truth value: NAME.called, NAME.exit, NAME.RULE."""
        if e.op != "ref" or e.kind != "call":
            return False
        name, member = e.name.rsplit(".", 1)
        return member in ("called", "exit") or any(x.name == member for x in self.calls[name].exits)

    def expand(self, e: Expr) -> Expr:
        """What decides call result `e` (a truth value, `_truth`) on the caller's values:
        the call's `when` and, for a rule, the rule holding while no earlier rule of the
        callee does (for `exit`, any rule holding). Call results in it stay references
        (expanded in turn when steering reaches them). Kept per result: the compiled
        evaluators key by the object."""
        hit = self._expanded.get(e.name)
        if hit is not None:
            return hit
        name, member = e.name.rsplit(".", 1)
        c = self.calls[name]
        whens = [x.when for x in c.exits]
        cond = None
        if member == "exit":
            cond = whens[0]
            for w in whens[1:]:
                cond = Expr(op="||", args=(cond, w), width=1, span=cond.span)
        elif member != "called":
            cond = _fires(whens, [x.name for x in c.exits].index(member))
        if c.when is not None:
            cond = c.when if cond is None else Expr(op="&&", args=(c.when, cond), width=1, span=e.span)
        out = self._expanded[e.name] = cond if cond is not None else Expr(op="num", value=1, width=1)
        return out

    def _refs(self, e: Expr) -> list[Expr]:
        """The references `e` reads, each once (kept per expression)."""
        hit = self._ref_lists.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        out = list({(r.kind, r.name, r.lo, r.width): r for r in e.refs()}.values())
        self._ref_lists[id(e)] = (e, out)
        return out

    def deep_refs(self, e: Expr) -> list[Expr]:
        """The references `e` reads, each once, through the calls whose results it reads
        (what a redraw can change to move it)."""
        hit = self._deep.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        self._deep[id(e)] = (e, [])  # (a call's `when` never reads the call itself)
        found = {}
        for r in self._refs(e):
            found[(r.kind, r.name, r.lo, r.width)] = r
            if self._truth(r):
                found.update({(x.kind, x.name, x.lo, x.width): x for x in self.deep_refs(self.expand(r))})
        out = list(found.values())
        self._deep[id(e)] = (e, out)
        return out

    def _leaf(self, e: Expr, draw: Draw, lookup, steerable) -> tuple[Expr, bool] | None:
        """A part of condition `e` (which is false) whose value must change for `e` to
        hold, and the value it needs: down through `!`, `&&` and `||` (one operand that is
        not as needed, or for `||` any one) and through call results (what decides them),
        chosen at random among those that read something redrawable. None when nothing
        redrawable decides it."""
        want = True
        while True:
            if e.op == "!":
                e, want = e.args[0], not want
                continue
            if self._truth(e):
                e = self.expand(e)
                continue
            if e.op not in ("&&", "||"):
                return e, want
            every = (e.op == "&&") == want  # every operand must be `want` (else one must)
            kids = _operands(e)
            if every:
                kids = [k for k in kids if bool(evaluate(k, lookup)) != want]
            kids = [k for k in kids if any(steerable(r) for r in self.deep_refs(k))]
            if not kids:
                return None
            e = draw.choice(kids)

    def _call_rule(self, name: str, lookup) -> tuple[bool, ir.ExitRule | None]:
        """(whether call `name` is made, the callee rule that decides) on the values drawn
        so far (walk results read as 0 while drawing)."""
        c = self.calls[name]
        if c.when is not None and not evaluate(c.when, lookup):
            return False, None
        return True, next((x for x in c.exits if evaluate(x.when, lookup)), None)

    def _call_result(self, e: Expr, lookup, decided: tuple[bool, ir.ExitRule | None]) -> int:
        """A call's result (NAME.MEMBER), given `decided` (_call_rule)."""
        member = e.name.rsplit(".", 1)[1]
        called, rule = decided
        if not called:
            return 0
        if member == "called":
            return 1
        if rule is None:
            return 0
        if member == "exit" or member == rule.name:
            return 1
        a = next((a for a in rule.assigns if a.field == member), None)
        if a is None:
            return 0
        if a.value is not None:
            return evaluate(a.value, lookup) & mask(e.width)
        return sum((evaluate(b.value, lookup) & mask(b.hi - b.lo + 1)) << b.lo for b in a.bits) & mask(e.width)

    def _walked(self, w: ir.Walk, spec: ir.Spec | None = None) -> ir.Regime | ir.Nested:
        spec = spec or self.spec
        return next(n for n in spec.nested if n.name == w.regime) if w.nested else spec.regime(w.regime)

    def _collect(self, e: Expr) -> None:
        """Constants that an event or structure field is compared against, and the values
        around them (for `f + n > c` too, since the field side only has to contain f)."""
        stack = [e]
        while stack:
            n = stack.pop()
            stack.extend(n.args)
            if n.op not in COMPARE:
                continue
            for side, other in ((n.args[0], n.args[1]), (n.args[1], n.args[0])):
                if n.op in ("==", "!=") and side.op == "ref" and side.kind == "struct" \
                        and any(r.kind == "walk" for r in other.refs()):
                    self.walk_equalities.append((side, other))
                if n.op in ("==", "!=") and side.op == "ref" and side.kind in ("event", "struct") and other.op != "num" \
                        and (side.kind, side.name) not in {(r.kind, r.name) for r in other.refs()}:
                    self.equalities.append(((side.kind, side.name), other))
                if other.op != "num":
                    continue
                for r in side.refs():
                    if r.kind in ("event", "struct"):
                        near = range(max(0, other.value - 4), other.value + 5)
                        self.interesting.setdefault((r.kind, r.name), set()).update(near)
                        self.constants.setdefault((r.kind, r.name), set()).add(other.value)

    # ---- values
    def _candidates(self, key: tuple[str, str], width: int) -> tuple[list[int], list[int]]:
        """Values near the constants a field is compared with, and those constants, that
        fit `width` (cached: every draw asks)."""
        found = self._cache.get((key, width))
        if found is None:
            found = self._cache[(key, width)] = (
                sorted(v for v in self.interesting.get(key, ()) if v <= mask(width)),
                sorted(v for v in self.constants.get(key, ()) if v <= mask(width)))
        return found

    def _value(self, draw: Draw, width: int, key: tuple[str, str], pool: list[tuple[int, int]]) -> int:
        near, bounds = self._candidates(key, width)
        small = width <= 8  # a small field is drawn evenly more often: every value matters
        if near and draw.chance(25 if small else 40):
            return draw.choice(near)
        if len(bounds) >= 2 and draw.chance(15 if small else 40):
            # inside a range the rules test (between two constants the field is compared with)
            i = draw.int(0, len(bounds) - 2)
            return draw.int(bounds[i], bounds[i + 1])
        if width <= 8:
            return draw.bits(width)
        roll = draw.int(0, 99)
        if roll < 15:
            return 0
        if roll < 25:
            return mask(width)
        if roll < 45:
            value = 0
            for _ in range(draw.int(1, 3)):
                value |= 1 << draw.int(0, width - 1)
            return value
        same = [v for w, v in pool if w == width]
        if roll < 70 and same:
            value = draw.choice(same)
            if draw.chance(50):
                value ^= 1 << draw.int(0, width - 1)
            return value
        return draw.bits(width)

    def _guards(self, upto: str | None = None) -> list[Expr]:
        """The `when` of each structure, bitmap and walk, in step order (with `upto`, those
        of the steps up to and including that walk)."""
        steps = list(self.unit.steps)
        if upto is not None:
            steps = steps[:steps.index(("walk", upto)) + 1]
            # of the walks before it, only those its guard reads (through the guards of
            # those, in turn): another walk's guard may exclude it (a walk that needs a mode
            # field != 0 before a walk whose host stage that field switches off when it is 0)
            needed, todo = {upto}, [upto]
            while todo:
                node = self.unit.step_node("walk", todo.pop())
                for r in (node.when.refs() if node.when is not None else ()):
                    name = r.name.split(".")[0]
                    if r.kind == "walk" and name not in needed:
                        needed.add(name)
                        todo.append(name)
            steps = [(k, n) for k, n in steps if k != "walk" or n in needed]
        nodes = [self.unit.step_node(kind, name) for kind, name in steps]
        return [n.when for n in nodes if n.when is not None]

    def field_of(self, ref_name: str) -> ir.StructField:
        found = self._cache.get(ref_name)
        if found is None:
            sname, fname = ref_name.split(".")
            found = self._cache[ref_name] = self.unit.structure(sname).field(fname)
        return found

    @property
    def kind_field(self) -> ir.EventField | None:
        """The event's first enum-typed field: what `mix` counts by."""
        return next((f for f in self.unit.event if f.enum is not None), None)

    def check_mix(self, counts: dict[str, int]) -> dict[str, int]:
        """The enum value of each item of a mix (`{"DMA_READ": 1000, ...}`), without
        drawing anything; MixError names what is wrong."""
        f = self.kind_field
        if f is None:
            raise MixError("the unit's event has no enum-typed field to mix by")
        items = {i.name: i.value for i in self.enums[f.enum].items}
        unknown = [k for k in counts if k not in items]
        if unknown:
            raise MixError(f"'{unknown[0]}' is not an item of enum {f.enum} ({', '.join(items)})")
        total = sum(counts.values())
        if total > MAX_MIX_EVENTS:
            raise MixError(f"expected at most {MAX_MIX_EVENTS:,} events in all, not {total:,}")
        return {k: items[k] for k in counts}

    def mix(self, counts: dict[str, int], draw: Draw) -> list[int]:
        """The forced event-kind values of a mix in a shuffled order, with the given count
        of each enum item: one small int per event (the caller makes the `force` dict of
        the event it draws, not a dict of every event); MixError names what is wrong."""
        values = self.check_mix(counts)
        out = [values[k] for k, n in counts.items() for _ in range(n)]
        for i in range(len(out) - 1, 0, -1):
            j = draw.int(0, i)
            out[i], out[j] = out[j], out[i]
        return out

    def make(self, draw: Draw, latency_seed: int | None = None, force: dict[str, int] | None = None,
             target: Target | None = None) -> Scenario:
        """One scenario; `force` fixes event fields (e.g. the kind); `target` aims it at a
        coverage point (`target_of`): the guards up to the walk it names are steered every
        time and the walk is built with its fault at its level, or its exit rule is steered
        every time."""
        u = self.unit
        aim_walk = target.walk if target is not None else None
        pool: list[tuple[int, int]] = []
        # the callee rules decided on the values drawn so far, by call: forgotten whenever
        # a value changes (the dicts below tell it, in a unit with calls)
        decided: dict[str, tuple[bool, ir.ExitRule | None]] = {}

        def state() -> dict:
            return _Watched(decided) if self.calls else {}
        request: dict[str, int] = state()
        for f in u.event:
            if force and f.name in force:
                value = force[f.name]
            elif f.enum is not None and self.enums[f.enum].items:
                value = draw.choice(self.enums[f.enum].items).value
            else:
                value = self._value(draw, f.width, ("event", f.name), pool)
            request[f.name] = value
            pool.append((f.width, value))
        for c in u.context:
            width = self.spec.layout(c).width
            value = self._value(draw, width, ("ctx", c), pool)
            request[c] = value
        memory: dict[int, int] = {}
        values: dict[str, int] = state()  # structure field reference name -> value
        lookups: dict[str, int] = state()

        walked: dict[str, int] = state()  # "W.member" -> its value, once walk W is built

        def lookup(e: Expr) -> int:
            if e.kind == "event":
                return (request[e.name] >> e.lo) & mask(e.width)
            if e.kind == "ctx":
                return (request[e.name] >> e.lo) & mask(e.width)
            if e.kind == "struct":
                return (values.get(e.name, 0) >> (e.lo - self.field_of(e.name).lo)) & mask(e.width)
            if e.kind == "bitmap":
                return lookups.get(e.name, 0)
            if e.kind == "call":
                name = e.name.rsplit(".", 1)[0]
                hit = decided.get(name)
                if hit is None:
                    hit = decided[name] = self._call_rule(name, lookup)
                return self._call_result(e, lookup, hit)
            return (walked.get(e.name, 0) >> e.lo) & mask(e.width)  # a walk's result: 0 until built

        for st in u.structures:
            for f in st.fields:
                name = f"{st.name}.{f.name}"
                if name in self.used_fields:
                    values[name] = self._value(draw, f.width, ("struct", name), pool)
                    pool.append((f.width, values[name]))

        for (kind, name), expr in self.equalities:
            if draw.chance(25):
                value = evaluate(expr, lookup)
                if kind == "event":
                    width = next(f.width for f in u.event if f.name == name)
                    request[name] = value & mask(width)
                else:
                    values[name] = value & mask(self.field_of(name).width)
        kind = self.kind_field

        keep: list[Expr] = []  # conditions a redraw must leave holding (a unit with calls)

        def steerable(r: Expr) -> bool:
            # (the event's kind too when the scenario is aimed: the point may need another kind)
            return r.kind in ("struct", "ctx") or (r.kind == "event" and (kind is None or r.name != kind.name
                                                                          or target is not None)
                                                  and not (force and r.name in force))

        def blocked(cond: Expr) -> bool:
            """A part of the condition that reads nothing redrawable is false: no redraw helps."""
            return any(not evaluate(c, lookup) and not any(steerable(r) for r in (self.deep_refs(c) if self.calls
                                                                                   else c.refs()))
                       for c in _conjuncts(cond))

        def redraw(refs: list[Expr]) -> None:
            for r in refs:
                bits = self._value(draw, r.width, (r.kind, r.name), pool)
                if r.kind == "struct":
                    sub = r.lo - self.field_of(r.name).lo
                    values[r.name] = (values[r.name] & ~(mask(r.width) << sub)) | (bits << sub)
                else:
                    request[r.name] = (request[r.name] & ~(mask(r.width) << r.lo)) | (bits << r.lo)

        def steer(cond: Expr) -> None:
            """Redraw what the condition reads (keeping the biases) until it holds, or give up.
            One false part at a time, keeping a redraw only if the parts that held still
            hold: parts that share a field (a selector read by many parts) do not undo
            each other."""
            parts = _conjuncts(cond)
            still = 0  # rounds in a row that moved nothing
            for _ in range(STEER_ROUNDS):
                moved = False
                for c in parts:
                    if evaluate(c, lookup):
                        continue
                    held = [p for p in parts if evaluate(p, lookup)]
                    if self.calls:
                        # through calls the parts are large: move one leaf of a part at a time
                        # toward the value the part needs (_leaf)
                        for _ in range(4):
                            target = self._leaf(c, draw, lookup, steerable)
                            if target is None:
                                break
                            leaf, want = target
                            saved = dict(values), dict(request)
                            redraw([r for r in self._refs(leaf) if steerable(r)])
                            if bool(evaluate(leaf, lookup)) == want and all(evaluate(p, lookup) for p in held) \
                                    and all(evaluate(k, lookup) for k in keep):
                                moved = True
                                break
                            values.clear(), values.update(saved[0]), request.clear(), request.update(saved[1])
                        continue
                    refs = [r for r in c.refs() if steerable(r)]
                    for _ in range(4):
                        saved = dict(values), dict(request)
                        redraw(refs)
                        if evaluate(c, lookup) and all(evaluate(p, lookup) for p in held):
                            break
                        values.clear(), values.update(saved[0]), request.clear(), request.update(saved[1])
                still = 0 if moved else still + 1
                if evaluate(cond, lookup) or self.calls and still >= STILL_ROUNDS:
                    return  # (through calls: rounds in which no redraw moved a leaf give up)

        # the guard of each step, most of the time, so that deep steps (a walk behind valid
        # entries and enables) are reached; then, half of the time, one exit rule the event
        # can still take, so that rare exits (an intercept bit chosen by a vector) happen
        guards = self._guards(aim_walk)
        for guard in guards:
            if not evaluate(guard, lookup) and (aim_walk is not None or draw.chance(75)) and not blocked(guard):
                steer(guard)
                # in a unit with calls, a walk steered to run stays run while the later
                # guards and the rules are steered: a callee's walk is reached about as often
                # as the callee's own scenarios reach it (the later steps and rules of a
                # caller pick the callee's early refusals as often as its walk otherwise)
                if any(guard is g for g in self.walk_guards) and evaluate(guard, lookup):
                    keep.append(guard)
        if aim_walk is not None and guards and not evaluate(guards[-1], lookup) and not blocked(guards[-1]):
            steer(guards[-1])  # the aimed walk's own guard last: the others may have moved it
        if target is not None and target.rule is not None:
            rule = next(f for x, f in zip(u.exits, self.fires) if x.name == target.rule)
            if not blocked(rule) and not evaluate(rule, lookup):
                steer(rule)
        elif aim_walk is not None:
            pass  # nothing more is steered: a rule steered now could undo the walk's guard
        elif self.call_rules and draw.chance(50):
            # a rule of a callee, through its call: so that every rule of the callee is reached
            open_calls = [c for c in self.call_rules if not blocked(c)]
            if open_calls:
                rule = draw.choice(open_calls)
                if not evaluate(rule, lookup):
                    steer(rule)
        if target is None and draw.chance(50):
            # a rule fires only when no rule before it does: steer toward the rule and
            # away from every earlier one (a late rule behind several refusals happens)
            open_rules = [fires for x, fires in zip(u.exits, self.fires) if not blocked(x.when)]
            if open_rules:
                rule = draw.choice(open_rules)
                if not evaluate(rule, lookup):
                    steer(rule)
        def place(st: ir.Structure) -> None:
            if st.when is not None and not evaluate(st.when, lookup):
                return  # not read: its words must not overwrite a structure at the same address that is read
            base = evaluate(st.base, lookup) & MASK64 & ~(st.align - 1)
            by_word: dict[int, int] = {}
            for f in st.fields:
                name = f"{st.name}.{f.name}"
                if name in values:
                    by_word[f.word] = by_word.get(f.word, 0) | ((values[name] & mask(f.width)) << f.lo)
            for off, value in by_word.items():
                if not base & 7:
                    memory[(base + off) & MASK64] = value
                    continue
                # `align 4`, 4 bytes past a boundary: the word's low half is the high half of
                # the aligned word it starts in, its high half the low half of the next
                first = (base - 4 + off) & MASK64
                for addr, part, at in ((first, value & mask(32), 32), ((first + 8) & MASK64, value >> 32, 0)):
                    memory[addr] = (memory.get(addr, 0) & ~(mask(32) << at)) | (part << at)

        for st in u.structures:
            if st.name not in self.after_walk:
                place(st)
        shared: dict = {}  # what an earlier walk of a composition drew: context registers, structure fields, host tables
        for kind, name in u.steps:
            if kind == "bitmap":
                self._fill_bitmap(draw, u.step_node(kind, name), lookup, memory, lookups)
            elif kind == "walk":
                walk = u.step_node(kind, name)
                if walk.nested:
                    got = self._build_nested(draw, walk, lookup, memory, request, shared, values, place,
                                             aimed=target is not None and target.walk == name)
                else:
                    got = self._build_walk(draw, walk, lookup, memory, request,
                                           target if target is not None and target.walk == name else None)
                walked.update({f"{name}.{k}": v for k, v in (got or {}).items()})
                if got and (self.walk_equalities or self.after_walk):
                    # what a later step compares with the walk's result: equal most of the time
                    for side, expr in self.walk_equalities:
                        if draw.chance(75):
                            sub = side.lo - self.field_of(side.name).lo
                            bits = evaluate(expr, lookup) & mask(side.width)
                            values[side.name] = (values.get(side.name, 0) & ~(mask(side.width) << sub)) | (bits << sub)
                    if draw.chance(50):
                        self._steer_after(draw, [x.when for x in u.exits], lookup, values, pool)
            elif name in self.after_walk:
                place(u.structure(name))
        kind = next((f.name for f in u.event if f.enum is not None), None)
        intent = {"event": kind and self._item_name(kind, request[kind])}
        return Scenario(dict(request), memory, latency_seed if latency_seed is not None else draw.int(0, 1 << 30),
                        intent)

    @staticmethod
    def complete(sc: Scenario, ref, draw: Draw, rounds: int = COMPLETE_ROUNDS) -> Scenario:
        """`sc` with a drawn word (zero, all ones or random, as a bitmap's) at each word the
        generated reference `ref` reads that the scenario left out, in a 4-KiB page it
        left empty. While drawing, a walk's results other than walked, ok and pa read as
        0, so a lookup whose address comes from a walk's frame or record (a translated
        address checked against a DEV bitmap) was filled at the wrong place; the reference
        reads the right one. Words in pages the scenario wrote (a table's entries it left
        not present) stay absent; a word filled can move later reads, so a few rounds."""
        for _ in range(rounds):
            trace: list = []
            ref.decide(dict(sc.memory), dict(sc.request), trace)
            pages = {a >> 12 for a in sc.memory}
            absent = [a for op, a, _s, _v in trace if op == 0 and a not in sc.memory and a >> 12 not in pages]
            if not absent:
                break
            for addr in dict.fromkeys(absent):
                sc.memory[addr] = _bitmap_word(draw)
        return sc

    def handles_errors(self) -> bool:
        """Whether some read of the unit may answer with an error: the spec says what it means."""
        return bool(self.erring or self.error_faults)

    def with_error(self, sc: Scenario, ref, draw: Draw, percent: int = ERROR_PERCENT,
                   target: Target | None = None) -> Scenario:
        """`sc`, `percent` of the time, with one word the reference reads answering with an
        error: a word whose error the spec handles (a structure whose `S.error` a rule
        reads, an entry of a walk whose regime has a fault on `error`). Each word read is
        tried on the reference; the handled ones are grouped by what handled them (the
        structure, or the walk and the level of its fault) and a group is drawn, then a
        word of it, so that each structure and each level of a walk gets its share (a
        structure of four words is not four times as likely as one table entry). With a
        `target` whose walk fault reads `error`, every time, a group of its walk (and
        level) if there is one. A word
        whose error nothing handles is never drawn (a CPU walk that gets an error takes a
        machine check, which no spec here describes)."""
        aimed = target is not None and target.fault in self.error_faults.get(target.walk, ())
        if not self.handles_errors() or not aimed and not draw.chance(percent):
            return sc
        trace: list = []
        ref.decide(dict(sc.memory), dict(sc.request), trace)
        groups: dict[tuple, list[int]] = {}
        for addr in dict.fromkeys(a for op, a, _s, _v in trace if op == 0):
            detail: dict = {}
            ref.decide(dict(sc.memory), dict(sc.request), [], detail, errors=frozenset((addr,)))
            key = self.error_handled(detail)
            if key:
                groups.setdefault(key, []).append(addr)
        if aimed:
            groups = {k: v for k, v in groups.items()
                      if any(part[:1] == (target.walk,) and target.level in (None, part[1]) for part in k)} or groups
        if not groups:
            return sc
        words = groups[draw.choice(list(groups))]
        return Scenario(sc.request, sc.memory, sc.latency_seed, sc.intent, frozenset((draw.choice(words),)))

    def error_handled(self, detail: dict) -> tuple:
        """What handled a read error in the reference's `detail` of a run (empty: nothing):
        the structures in detail["erred structures"] that a rule reads the error of, and
        each walk that ended in its fault on `error`, with the fault's level."""
        key = tuple(n for n in detail.get("erred structures", ()) if n in self.erring)
        for w, kinds in self.error_faults.items():
            d = detail.get(w, {})
            if d.get("fault") in kinds:
                key += ((w, d["level"]),)
            elif d.get("host_fault") and f"host_{d['host_fault']}" in kinds:
                # a composition's host stage: its level, and the guest level it translated for
                key += ((w, ("host", d["host_level"], d["level"])),)
        return key

    def _steer_after(self, draw: Draw, rules: list[Expr], lookup, values: dict, pool: list) -> None:
        """Once a walk is built, one exit rule that reads it, steered toward holding by
        redrawing the fields of the structures read after the walk (the rest of the
        scenario, the walk's tables and bindings, stays as it is)."""
        def mine(r: Expr) -> bool:
            return r.kind == "struct" and r.name.split(".")[0] in self.after_walk

        open_rules = [c for c in rules if any(mine(r) for r in c.refs())
                      and not any(not evaluate(p, lookup) and not any(mine(r) for r in p.refs()) for p in _conjuncts(c))]
        if not open_rules:
            return
        rule = draw.choice(open_rules)

        def put(r: Expr, bits: int) -> None:
            sub = r.lo - self.field_of(r.name).lo
            values[r.name] = (values.get(r.name, 0) & ~(mask(r.width) << sub)) | ((bits & mask(r.width)) << sub)

        for _ in range(25):
            if evaluate(rule, lookup):
                return
            for c in _conjuncts(rule):
                if evaluate(c, lookup):
                    continue
                a, b = (c.args[0], c.args[1]) if c.op == "==" else (None, None)
                if a is not None and a.op == "ref" and mine(a) and not any(mine(r) for r in b.refs()):
                    put(a, evaluate(b, lookup))  # an equality: make it hold
                    continue
                for r in c.refs():
                    if mine(r):
                        put(r, self._value(draw, r.width, (r.kind, r.name), pool))

    @staticmethod
    def _fill_bitmap(draw: Draw, b: ir.Bitmap, lookup, memory: dict, lookups: dict) -> None:
        """Random words (zero, all ones or random) under the bits the lookup reads."""
        if b.when is not None and not evaluate(b.when, lookup):
            return
        span = min(evaluate(b.span_bits, lookup), b.width)
        if span == 0:
            return
        first = (evaluate(b.base, lookup) & MASK64) * 8 + evaluate(b.index, lookup)
        for bit in (first, first + span - 1):
            addr = ((bit >> 6) << 3) & MASK64
            if addr not in memory:
                memory[addr] = _bitmap_word(draw)
        window = memory[((first >> 6) << 3) & MASK64] | (memory[(((first + span - 1) >> 6) << 3) & MASK64] << 64)
        lookups[b.name] = (window >> (first & 63)) & mask(span)

    def _build_walk(self, draw: Draw, walk: ir.Walk, lookup, memory: dict, request: dict,
                    target: Target | None = None) -> None:
        """The tables of the walk, at the root its bindings give, with the regime's own
        table builder: a legal walk to a random leaf level, or one with a fault injected
        (with `target`, its fault at its level when the walk's start level allows)."""
        if walk.when is not None and not evaluate(walk.when, lookup):
            return
        factory = self.walk_factories[walk.name]
        regime = factory.main
        ctx = {b.name: evaluate(b.value, lookup) & mask(self.spec.layout(b.name).width) for b in walk.context}
        access = {b.name: int(bool(evaluate(b.value, lookup))) for b in walk.access}
        start = eval_ctx(regime.start, ctx)
        root = eval_ctx(regime.root, ctx) & MASK64
        shift = table_shift(regime)
        pages = set(range(root >> 12, (root >> 12) + (1 << (shift - 12))))
        if start not in [lv.number for lv in regime.levels] or root & mask(shift) or pages & {a >> 12 for a in memory}:
            return
        addr = evaluate(walk.input, lookup) & mask(regime.input_width)
        used = {a >> 12 for a in memory} | pages
        alloc = Allocator(draw, factory._addr_width(self.table_spec, regime), used)
        builder = TableBuilder(self.table_spec, regime, draw, ctx, memory.__setitem__, alloc)
        plan = self._target_plan(draw, factory, regime, start, ctx, target) if target is not None else None
        builder.legal = plan is not None or draw.chance(70)
        if builder.legal:
            builder.prefer([access])
        try:
            plan = plan or factory._choose_plan(draw, regime, start, 30)
            factory._build(builder, regime, root, addr, start, plan, lambda a: a, draw.chance(50))
        except StimulusError:
            return
        if builder.addr != addr and walk.input.op == "ref" and walk.input.kind == "event" and walk.input.lo == 0:
            request[walk.input.name] = builder.addr  # a skipped level's index bits were cleared
        if builder.final is not None:
            return {"walked": 1, "ok": 1, "pa": builder.final}
        return None

    @staticmethod
    def _target_plan(draw: Draw, factory: ScenarioFactory, regime: ir.Regime, start: int, ctx: dict,
                     target: Target) -> Plan | None:
        """A plan of a walk aimed at `target`'s fault and level; None when it names none
        or the walk starts below that level. A fault on `error` (left out of the tables'
        regime) gets a walk that reads the level's entry; with_error marks it. A skip from
        level A to B gets a legal walk from A to B to a leaf at or below B (None when the
        walk starts below A)."""
        if target.skip is not None:
            top, to = target.skip
            leafs = [lv.number for lv in regime.leaf_levels if lv.number <= to]
            if top > start or not leafs:
                return None
            return Plan(draw.choice(factory.leaf_ok(regime, leafs, start)), skip=(top, to))
        if target.fault is None or target.level is not None and target.level > start:
            return None
        rule = next((r for r in regime.faults if r.name == target.fault), None)
        if rule is None:
            if target.level is None:
                return factory._choose_plan(draw, regime, start, 0, ctx)
            leafs = [lv.number for lv in regime.leaf_levels if lv.number <= target.level]
            return Plan(draw.choice(factory.leaf_ok(regime, leafs, start))) if leafs else None
        if target.level is None:
            return factory._fault_plan(draw, factory._choose_plan(draw, regime, start, 0, ctx).leaf_level,
                                       start, rule, regime)
        return factory.plan_at(draw, regime, rule, target.level)

    def _build_nested(self, draw: Draw, walk: ir.Walk, lookup, memory: dict, request: dict,
                      shared: dict, values: dict | None = None, place=None, aimed: bool = False) -> dict | None:
        """The guest and host tables of a walk of a composition, drawn by the composition's
        own scenario factory (a legal 2D walk most of the time, else faults injected), its
        context, input and access kinds written back to the event and context registers the
        walk binds them to plainly (`ROOT = ROOT;`, `input event.va`); a binding of another
        expression fixes that register instead, and so does a register an earlier walk of a
        composition in this event drew (`shared`, with that walk's input): a unit that walks
        two addresses under one context reads one set of tables. Returns what the walk gives
        when it translates (the guest-physical and host-physical addresses), for the steps
        after it. `aimed` (a scenario aimed at a rule on the walk's results): half of the time
        faults injected, else a legal walk whose output's host entries are drawn freely."""
        if walk.when is not None and not evaluate(walk.when, lookup):
            return None
        factory = self.walk_factories[walk.name]
        # a binding that ORs structure fields or slices of them (shifted) is drawn by the factory and
        # written back into those fields (the bits of the register's own fields only), unless
        # an earlier walk wrote one of them: a register held in memory (a root pointer,
        # permissions) then gets the values a legal walk needs, as a plain binding does
        # (a binding that ORs such fields with other terms, `ROOT << 12 | (ats << 5)`: the
        # other terms' bits are fixed to their value, the fields' drawn and written back)
        # The bits of those fields the walk's own guard reads (a mode the unit supports, bits
        # above a width that must be 0: steered already) are fixed too, not drawn.
        back, bits = {}, {}
        guard_bits = _struct_bits(walk.when, self.field_of) if walk.when is not None else {}
        for b in walk.context:
            if values is None or _plain(b.value):
                continue
            t, others = _split_terms(b.value)
            if t and all("struct " + r.name not in shared for r, _k in t):
                back[b.name] = t
                own = sum(f.mask for f in self.spec.layout(b.name).fields)  # the register's field bits
                m = own & ~sum(mask(r.width) << k for r, k in t) if others else 0
                for r, k in t:
                    sub = r.lo - self.field_of(r.name).lo
                    m |= ((guard_bits.get(r.name, 0) >> sub) & mask(r.width)) << k
                if m & own:
                    bits[b.name] = (m & own, evaluate(b.value, lookup) & m & own)
        override = {b.name: evaluate(b.value, lookup) & mask(self.spec.layout(b.name).width)
                    for b in walk.context if b.name not in back and (not _plain(b.value) or b.value.name in shared)}
        kinds = {b.name: int(bool(evaluate(b.value, lookup))) for b in walk.access if not _plain(b.value)}
        legal = draw.chance(50 if aimed else 70)
        # an input computed from the event (a PASID shifted into place) is the walk's input:
        # the tables are built for it, not for a drawn one
        fixed = None if _plain(walk.input) else evaluate(walk.input, lookup) & mask(factory.main.input_width)
        # host tables an earlier walk of this event built (by their root): followed, not drawn over
        tables = shared.setdefault("host tables", {})
        fields = {name: sum(f.mask for f in self.spec.layout(name).fields) for name in back}
        saved = dict(values or {})
        for attempt in range(BACK_TRIES):
            try:
                # aimed and legal: the tables' host entries lean to what the walk needs, the
                # output's are drawn without that lean (a rule on a host check of the output)
                sc = factory.make(draw, fault_percent=0 if legal else 100, legal=legal,
                                  final_random=aimed and legal, ctx_override=override or None,
                                  exact=legal and draw.chance(50), access_override=kinds, input_override=fixed,
                                  host_tables=tables, ctx_bits=bits or None)
            except StimulusError:
                return None
            for name, terms in back.items():
                value = sc.request[name] & fields[name]
                for r, k in terms:
                    keep = (fields[name] >> k) & mask(r.width)
                    sub = r.lo - self.field_of(r.name).lo  # (a slice of a field: its bits in place)
                    values[r.name] = (values.get(r.name, 0) & ~(keep << sub)) | (((value >> k) & keep) << sub)
            # the fields written back are read by the walk's own guard too (a root pointer's
            # width beside it, checked by the unit): drawn again while they switch the walk off
            if not back or walk.when is None or evaluate(walk.when, lookup) or attempt == BACK_TRIES - 1:
                break
            values.clear()
            values.update(saved)
        for b in walk.context:
            if _plain(b.value) and b.value.name not in shared:
                _write_back(request, b.value, sc.request[b.name])
                shared[b.value.name] = sc.request[b.name]
        built = sc.intent.get("host_tables")
        if built is not None:
            tables.setdefault(built["root"], built)
        placed = {r.name.split(".")[0] for terms in back.values() for r, _k in terms}
        shared.update({"struct " + r.name: 1 for terms in back.values() for r, _k in terms})
        for st in sorted(placed):
            place(self.unit.structure(st))
        for b in walk.access:
            if _plain(b.value):
                _write_back(request, b.value, sc.request[b.name])
        if _plain(walk.input):
            _write_back(request, walk.input, sc.request[factory.main.input_name])
            shared.setdefault("input", sc.request[factory.main.input_name])
        for addr, value in sc.memory.items():
            memory.setdefault(addr, value)
        final = sc.intent.get("final")
        if final is None or final[1] is None:
            return None
        return {"walked": 1, "ok": 1, "guest_pa": final[0], "pa": final[1]}

    def _item_name(self, field_name: str, value: int) -> str:
        f = next(x for x in self.unit.event if x.name == field_name)
        return next((i.name for i in self.enums[f.enum].items if i.value == value), str(value))


@dataclass(frozen=True)
class Target:
    """A coverage point a scenario is aimed at: a walk's fault (at a level), a walk's skip
    from level A to B (`skip`), or an exit rule."""

    walk: str | None = None
    fault: str | None = None
    level: int | None = None
    rule: str | None = None
    skip: tuple[int, int] | None = None


def target_of(point: str, unit: ir.Unit) -> Target | None:
    """What a coverage point of `unit` aims a scenario at (coverage_keys' names): "walk W
    fault F [at level L]" and "walk W skips from level A to B" of a walk of one regime,
    "exit R"; None for the others."""
    words = point.split()
    if len(words) == 8 and words[0] == "walk" and words[2:5] == ["skips", "from", "level"] \
            and words[6:7] == ["to"] and words[5].isdigit() and words[7].isdigit():
        walk = next((w for w in unit.walks if w.name == words[1]), None)
        if walk is None or walk.nested:
            return None
        return Target(walk=walk.name, skip=(int(words[5]), int(words[7])))
    if words[0] == "exit" and len(words) == 2:
        rule = next((x for x in unit.exits if x.name == words[1]), None)
        if rule is None:
            return None
        # a rule on what a composition's walk gave (a host fault on its output) is reached
        # through that walk built with faults injected
        nested = {w.name for w in unit.walks if w.nested}
        walk = next((r.name.split(".")[0] for r in rule.when.refs()
                     if r.kind == "walk" and r.name.split(".")[0] in nested), None)
        return Target(rule=rule.name, walk=walk)
    if len(words) in (4, 7) and words[0] == "walk" and words[2] == "fault" and words[4:6] in ([], ["at", "level"]):
        walk = next((w for w in unit.walks if w.name == words[1]), None)
        if walk is None or walk.nested:
            return None
        return Target(walk=walk.name, fault=words[3], level=int(words[6]) if len(words) == 7 else None)
    return None


class _Watched(dict):
    """A dict of drawn values that empties `memo` (what was decided from them) whenever
    it changes."""

    def __init__(self, memo: dict):
        super().__init__()
        self.memo = memo

    def __setitem__(self, key, value):
        self.memo.clear()
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self.memo.clear()
        super().__delitem__(key)

    def update(self, *args, **kw):
        self.memo.clear()
        super().update(*args, **kw)

    def clear(self):
        self.memo.clear()
        super().clear()

    def pop(self, *args):
        self.memo.clear()
        return super().pop(*args)

    def setdefault(self, key, default=None):
        self.memo.clear()
        return super().setdefault(key, default)


def reads_error(rule: ir.Rule) -> bool:
    """Whether a walk fault reads `error` (the entry's read answered with an error)."""
    return any(x.kind == "builtin" and x.name == "error" for x in rule.when.refs())


def _without_error_faults(spec: ir.Spec) -> ir.Spec:
    """`spec` with no walk fault that reads `error`: what a table builder builds for, the
    reads of the tables it writes succeeding (such a fault is first and never fires then)."""
    if not any(reads_error(r) for reg in spec.regimes for r in reg.faults):
        return spec
    regimes = tuple(reg.model_copy(update={"faults": tuple(r for r in reg.faults if not reads_error(r))})
                    for reg in spec.regimes)
    return spec.model_copy(update={"regimes": regimes})


def _bitmap_word(draw: Draw) -> int:
    """A drawn bitmap word: zero, all ones or random."""
    roll = draw.int(0, 99)
    return 0 if roll < 30 else MASK64 if roll < 45 else draw.bits(64)


def _plain(e: Expr) -> bool:
    """An event field or context register itself (or its low bits): a value drawn for it
    can be written back."""
    return e.op == "ref" and e.kind in ("event", "ctx") and e.lo == 0


def _struct_terms(e: Expr) -> list[tuple[Expr, int]] | None:
    """The terms of `e` when it ORs structure fields, each shifted left by a constant
    (`a | b << 8 | c << 16`): (reference, shift) pairs; None for any other expression."""
    if e.op == "|":
        a, b = _struct_terms(e.args[0]), _struct_terms(e.args[1])
        return None if a is None or b is None else a + b
    if e.op == "<<" and e.args[1].op == "num":
        inner = _struct_terms(e.args[0])
        return None if inner is None else [(r, k + e.args[1].value) for r, k in inner]
    if e.op == "ref" and e.kind == "struct":
        return [(e, 0)]
    return None


def _struct_bits(e: Expr, field_of) -> dict[str, int]:
    """The bits of each structure field `e` reads ({field reference: mask in the field})."""
    out: dict[str, int] = {}
    for r in e.refs():
        if r.kind == "struct":
            out[r.name] = out.get(r.name, 0) | (mask(r.width) << (r.lo - field_of(r.name).lo))
    return out


def _split_terms(e: Expr) -> tuple[list[tuple[Expr, int]], list[Expr]]:
    """The operands of an OR (`a | b << 8 | c`): (the structure-field terms, as
    _struct_terms gives them, the other operands)."""
    if e.op == "|":
        a, b = _split_terms(e.args[0]), _split_terms(e.args[1])
        return a[0] + b[0], a[1] + b[1]
    t = _struct_terms(e)
    return (t, []) if t is not None else ([], [e])


def _write_back(request: dict, e: Expr, value: int) -> None:
    request[e.name] = (request[e.name] & ~mask(e.width)) | (value & mask(e.width))


_PARTS: dict[int, tuple[Expr, list[Expr]]] = {}


def _conjuncts(e: Expr) -> list[Expr]:
    """The parts of an `a && b && ...` condition; `!(a || b)` is `!a && !b` and `!!a` is
    `a`, so that each part of a negated rule is steered on its own. Kept per expression:
    the new parts are compiled once (compiled.evaluator keys by the object)."""
    hit = _PARTS.get(id(e))
    if hit is not None and hit[0] is e:
        return hit[1]
    parts = _split(e)
    _PARTS[id(e)] = (e, parts)
    return parts


def _operands(e: Expr) -> list[Expr]:
    """The operands of a chain of one operator (`a || b || c`: a, b and c)."""
    out, todo = [], [e]
    while todo:
        x = todo.pop()
        if x.op == e.op:
            todo.extend(reversed(x.args))
        else:
            out.append(x)
    return out


def _split(e: Expr) -> list[Expr]:
    if e.op == "&&":
        return _conjuncts(e.args[0]) + _conjuncts(e.args[1])
    if e.op == "!" and e.args[0].op == "!":
        return _conjuncts(e.args[0].args[0])
    if e.op == "!" and e.args[0].op == "||":
        return _conjuncts(_not(e.args[0].args[0])) + _conjuncts(_not(e.args[0].args[1]))
    return [e]


def _nested_keys(name: str, d: dict) -> list[str]:
    """The coverage points of a walk of a composition (the reference's `detail` of it)."""
    if not d["walked"]:
        return []
    if d["ok"]:
        return ([f"walk {name} page level {d['level']}"] if d["level"] is not None else [f"walk {name} guest stage off"]) \
            + ([f"walk {name} host page level {d['host_level']}"] if d["host_level"] is not None
               else [f"walk {name} host stage off"])
    if d["host_fault"]:
        where = "final address" if d["level"] is None else f"guest level {d['level']} table"
        return [f"walk {name} host fault", f"walk {name} host fault {d['host_fault']}",
                f"walk {name} host fault on {where}"]
    return [f"walk {name} guest fault", f"walk {name} fault {d['fault']}"]


def _not(e: Expr) -> Expr:
    return Expr(op="!", args=(e,), width=1, span=e.span)


def _fires(whens: list[Expr], i: int) -> Expr:
    """When exit rule i decides: its condition holds and no earlier rule's does."""
    out = whens[i]
    for w in whens[:i]:
        out = Expr(op="&&", args=(out, _not(w)), width=1, span=out.span)
    return out


def coverage_keys(unit: ir.Unit, enums: dict[str, ir.EnumDef], outcome: dict, detail: dict | None = None) -> list[str]:
    """The coverage points one outcome hits: the exit rule, the enum item of each
    enum-typed record field (e.g. the exit code), and per walk the page level or the
    fault kind at its level (from the reference's `detail`)."""
    keys = []
    for name, d in (detail or {}).items():
        if not isinstance(d, dict):  # "erred structures": the exits say what the errors gave
            continue
        if "call" in d:  # a call: the callee's rule that decided (NAME.RULE), or none
            if d["called"]:
                keys.append(f"call {d['call']}.{d['rule']}" if d["rule"] else f"call {d['call']} no exit")
            continue
        if d.get("nested"):
            keys += _nested_keys(name, d)
            continue
        if d["ok"]:
            keys.append(f"walk {name} page level {d['level']}")
        elif d["fault"]:
            keys += [f"walk {name} fault {d['fault']}", f"walk {name} fault {d['fault']} at level {d['level']}"]
        path = d.get("path") or []
        keys += [f"walk {name} skips from level {a} to {b}" for a, b in zip(path, path[1:]) if b < a - 1]
    if not outcome["exit"]:
        return keys + ["no exit"]
    keys.append(f"exit {outcome['rule']}")
    for f in unit.record.fields:
        if f.enum is None:
            continue
        value = outcome["fields"][f.name]
        item = next((i.name for i in enums[f.enum].items if i.value == value), None)
        keys.append(f"{f.name} {item}" if item else f"{f.name} {value:#x} (not in enum {f.enum})")
    return keys


def expected_coverage(spec: ir.Spec) -> list[str]:
    """The coverage points a full run should hit (those `unreachable_coverage` proves
    unreachable left out)."""
    return coverage_points(spec)[0]


def unreachable_coverage(spec: ir.Spec) -> dict[str, str]:
    """The points of the unit's rules, calls and walks that the spec proves unreachable,
    each with the reason (a call's constant bindings fold a callee rule's condition, or a
    walk fault's, to 0; a step whose `when` folded to 0 never runs; a rule an earlier rule
    always shadows)."""
    return coverage_points(spec)[1]


def _key(e: Expr) -> tuple:
    """The structure of an expression, without its source spans (and a number's name)."""
    if e.op == "num":
        return ("num", e.value)
    return (e.op, e.kind, e.name, e.lo, e.width if e.op == "ref" else 0, tuple(_key(a) for a in e.args))


def _parts(e: Expr) -> list[Expr]:
    """The conjuncts of a condition (`&&` chains, `!(a || b)` split), less constant 1s."""
    return [c for c in _conjuncts(e) if not (c.op == "num" and c.value)]


class _WalkOutcomes:
    """What each walk of a unit can end in on its bindings: not walked, `ok` (unless a
    check always ends it), or one of the fault kinds it can report (Walk.never left out),
    with the value of each member of its result in each (the regime record's expressions
    with `fault` and the context bits the walk binds to constants put in, folded: a
    constant, or the set of constants of a choice between them, `c ? 3 : 7`; None where
    that leaves it unknown). A condition on one member of one walk then holds in a
    set of those outcomes: possibly (unknown counts) and surely."""

    def __init__(self, spec: ir.Spec, unit: ir.Unit):
        # walk -> outcome -> member -> value (an int, a frozenset of the constants it may be, or None)
        self.walks: dict[str, dict[str, dict[str, int | frozenset | None]]] = {}
        for w in unit.walks:
            if w.nested and nested_final_always_checks(spec, w):
                # never `ok`: not walked, or ended by a fault or a host check (unknown which)
                self.walks[w.name] = {"": {"walked": 0, "ok": 0}, "ended": {"walked": 1, "ok": 0}}
                continue
            if w.nested or w.regime not in {r.name for r in spec.regimes}:
                continue
            regime = spec.regime(w.regime)
            kinds = list(regime.fault_kinds)
            ends = ([] if walk_always_checks(regime, w) else [("ok", 0)])
            ends += [(k, i + 1) for i, k in enumerate(kinds) if k not in w.never]
            table = {"": {m: 0 for m in ["walked", "ok", "fault", *kinds, *(f.name for f in regime.record.fields)]}
                     if regime.record else {m: 0 for m in ["walked", "ok", "fault", *kinds]}}
            for end, number in ends:
                values: dict[str, int | frozenset | None] = {"walked": 1, "ok": int(end == "ok"), "fault": number}
                values.update({k: int(k == end) for k in kinds})
                for f in (regime.record.fields if regime.record else ()):
                    folded = None if f.value is None else _folded_on_bindings(w, [_When(_put_fault(f.value, number))])[0]
                    # a constant, or a choice between constants (`level == top ? 0x03 : 0x07`):
                    # the set of them
                    found = None if folded is None else _constants(folded)
                    values[f.name] = None if found is None else frozenset(v & mask(f.width) for v in found)
                table[end] = values
            self.walks[w.name] = table

    def holds(self, e: Expr) -> tuple[str, frozenset, frozenset] | None:
        """(walk, outcomes where `e` may hold, outcomes where it surely holds) for a
        condition on one member of one walk (`W.m`, `W.m == c`, `W.m != c`, `!` of one);
        None for any other condition."""
        if e.op == "!":
            inner = self.holds(e.args[0])
            if inner is None:
                return None
            walk, may, sure = inner
            every = frozenset(self.walks[walk])
            return walk, every - sure, every - may
        ref, want, equal = e, None, False
        if e.op in ("==", "!=") and e.args[1].op == "num":
            ref, want, equal = e.args[0], e.args[1].value, e.op == "=="
        if ref.op != "ref" or ref.kind != "walk" or ref.lo != 0:
            return None
        walk, member = ref.name.split(".", 1)
        table = self.walks.get(walk)
        if table is None or any(member not in v for v in table.values()):
            return None
        may, sure = set(), set()
        for end, values in table.items():
            v = values[member]
            if v is None:
                may.add(end)
                continue
            hits = {(x == want) if equal else (x != want) if want is not None else bool(x)
                    for x in (v if isinstance(v, frozenset) else (v,))}
            if True in hits:
                may.add(end)
                if False not in hits:
                    sure.add(end)
        return walk, frozenset(may), frozenset(sure)


class _When:
    def __init__(self, when: Expr):
        self.when = when


def nested_final_always_checks(spec: ir.Spec, w: ir.Walk, host_on: bool = False) -> tuple[str, ...]:
    """The host checks that end every host translation of a composition walk's final
    address on `w`'s constant bindings (the `final access` map's kinds and the host's
    checks folded on them), when the host stage cannot be switched off (the composition's
    `host bypass` and the host regime's own fold to 0, or there are none; a guest stage
    switched off still hands its input to the host with the final access): such a walk
    never succeeds (its host walk of the final address always ends at the leaf in one of
    these checks, the pattern of an ATS Translation Request answered with its rights).
    Empty when the folding does not show it. With `host_on`, the checks that end it whenever
    the host stage is on, whether or not it can be switched off: a success then has the host
    stage off (a request answered with its rights, through a composition whose host may be off)."""
    nest = next(n for n in spec.nested if n.name == w.regime)
    host = spec.regime(nest.host)
    offs = [] if host_on else [nest.host_bypass, host.bypass]
    folded = _folded_on_bindings(w, [_When(c) for c in offs if c is not None])
    if any(not (f.op == "num" and f.value == 0) for f in folded):
        return ()
    kinds = _folded_on_bindings(w, [_When(b.value) for b in nest.final_access])
    access = tuple(ir.Binding(name=b.name, value=k, span=b.span)
                   for b, k in zip(nest.final_access, kinds) if k.op == "num")
    return walk_always_checks(host, w.model_copy(update={"access": access}))


def _put_fault(e: Expr, number: int) -> Expr:
    """A regime record expression with the walk's fault number put in for `fault`."""
    if e.op == "ref" and e.kind == "builtin" and e.name == "fault":
        return Expr(op="num", value=number, width=e.width, span=e.span)
    if not e.args:
        return e
    return e.model_copy(update={"args": tuple(_put_fault(a, number) for a in e.args)})


def _never_holds(e: Expr, walks: _WalkOutcomes | None) -> bool:
    """Whether condition `e` has a conjunct on a walk's result that holds in none of the
    outcomes the walk can end in."""
    if walks is None:
        return False
    for c in _parts(e):
        got = walks.holds(c)
        if got is not None and not got[1]:
            return True
    return False


def _atom_implies(a: Expr, b: Expr, walks: _WalkOutcomes | None = None) -> bool:
    """Whether condition `a` implies `b`, by their form alone: the same expression; `x ==
    c1` implying `x != c2` (or `!(x == c2)`) for constants c1 != c2; `b` a disjunction
    with an operand `a` implies; two conditions on the results of one walk where every
    outcome `a` may hold in, `b` surely holds in (_WalkOutcomes)."""
    if _key(a) == _key(b):
        return True
    if b.op == "||":
        return any(_atom_implies(a, x, walks) for x in _operands(b))
    if walks is not None:
        ha, hb = walks.holds(a), walks.holds(b)
        if ha is not None and hb is not None and ha[0] == hb[0] and ha[1] <= hb[2]:
            return True
    if a.op == "==" and a.args[1].op == "num":
        if b.op == "!" and b.args[0].op == "==":
            b = Expr(op="!=", args=b.args[0].args, width=1)
        if b.op == "!=" and b.args[1].op == "num" and _key(a.args[0]) == _key(b.args[0]):
            return a.args[1].value != b.args[1].value
    return False


def _implies(a: Expr, b: Expr, walks: _WalkOutcomes | None = None) -> bool:
    """Whether condition `a` implies condition `b`, proved by their form: every conjunct of
    `b` implied by one conjunct of `a` (_atom_implies). False when the form does not show
    it (the proof is sound, not complete)."""
    mine = _parts(a)
    return all(any(_atom_implies(x, y, walks) for x in mine) for y in _parts(b))


def _shadowed(rules, i: int, walks: _WalkOutcomes | None = None) -> str | None:
    """The earlier rule of `rules` (exit rules in order) that holds whenever rule i does,
    so that rule i never decides; None when the form of the conditions does not show one."""
    when = rules[i].when
    return next((x.name for x in rules[:i] if not (x.when.op == "num" and not x.when.value)
                 and not _never_holds(x.when, walks) and _implies(when, x.when, walks)), None)


def coverage_points(spec: ir.Spec) -> tuple[list[str], dict[str, str]]:
    """(points a full run should hit, points unreachable by construction -> why)."""
    unit: ir.Unit = spec.top
    enums = {e.name: e for e in spec.enums}
    gone: dict[str, str] = {}
    # "no exit" is counted but not required: in some units every event exits
    out = []
    walks = _WalkOutcomes(spec, unit)
    for i, x in enumerate(unit.exits):
        by = _shadowed(unit.exits, i, walks)
        if x.when.op == "num" and not x.when.value:
            gone[f"exit {x.name}"] = "the rule's condition folds to 0: it reads results the bindings make 0"
        elif _never_holds(x.when, walks):
            gone[f"exit {x.name}"] = "the rule's condition reads a walk's result no outcome of the walk gives"
        elif by is not None:
            gone[f"exit {x.name}"] = f"shadowed: whenever the rule's condition holds, the earlier rule {by}'s does"
        else:
            out.append(f"exit {x.name}")
    # a callee's rules, but those the call cannot reach (its `when`, or the rule's own
    # condition, folded to 0 on the call's constant bindings)
    for c in unit.calls:
        label = c.label or c.name
        never = c.when is not None and c.when.op == "num" and not c.when.value
        for i, x in enumerate(c.exits):
            point = f"call {label}.{x.name}"
            by = None if never else _shadowed(c.exits, i, walks)
            if never:
                gone[point] = f"call {label} is never made (its `when` folds to 0 on the bindings)"
            elif x.when.op == "num" and x.when.value == 0:
                gone[point] = f"the callee rule's condition folds to 0 on the constant bindings of call {label}"
            elif _never_holds(x.when, walks):
                gone[point] = (f"on the constant bindings of call {label}, the callee rule reads a walk's result that "
                               f"no outcome of the walk gives (its record on the faults it can report)")
            elif by is not None:
                gone[point] = (f"shadowed on the constant bindings of call {label}: whenever the callee rule's "
                               f"condition holds, the earlier rule {by}'s does")
            else:
                out.append(point)
    for w in unit.walks:
        if w.nested:
            nest = next(n for n in spec.nested if n.name == w.regime)
            guest, host = spec.regime(nest.guest), spec.regime(nest.host)
            # each stage's page sizes, and a fault of each stage (which kinds a composition's
            # bindings leave reachable is the translation's coverage: `walk W fault K` counted)
            points = [f"walk {w.name} page level {lv.shown}" for lv in guest.leaf_levels]
            points += [f"walk {w.name} host page level {lv.shown}" for lv in host.leaf_levels]
            points += [f"walk {w.name} guest fault", f"walk {w.name} host fault"]
            always = nested_final_always_checks(spec, w)
            if w.when is not None and w.when.op == "num" and not w.when.value:
                # a called unit's walk its call's constant bindings rule out (a walk that needs
                # an event kind the call never binds)
                gone.update({p: f"walk {w.name} never runs (its `when` folds to 0 on the bindings)" for p in points})
            elif always:
                # the page levels are counted on a success, which the host check rules out
                for p in points[:-2]:
                    gone[p] = (f"host check {always[0]}'s condition folds to 1 on the final access walk {w.name} "
                               f"binds, and the host stage is never switched off: every final address ends in it "
                               f"(composition {nest.name})")
                out += points[-2:]
            elif on := nested_final_always_checks(spec, w, host_on=True):
                # a success has the host stage switched off: no host page level
                hosts = [p for p in points if p.startswith(f"walk {w.name} host page level ")]
                for p in hosts:
                    gone[p] = (f"host check {on[0]}'s condition folds to 1 on the final access walk {w.name} "
                               f"binds: every final address the host stage translates ends in it, so a success "
                               f"has the host stage switched off (composition {nest.name})")
                out += [p for p in points if p not in hosts]
            else:
                out += points
            continue
        regime = spec.regime(w.regime)
        points = [(f"walk {w.name} page level {lv.shown}", None) for lv in regime.leaf_levels]
        points += [(f"walk {w.name} fault {k}", k) for k in regime.fault_kinds]
        for rule in regime.faults:
            points += [(f"walk {w.name} fault {rule.name} at level {regime.label(n)}", rule.name)
                       for n in fault_levels(spec, regime, rule)]
        if regime.next_level is not None:
            numbers = sorted(lv.number for lv in regime.levels)
            points += [(f"walk {w.name} skips from level {a} to {b}", None) for a in numbers for b in numbers
                       if b < a - 1 and regime.level(a).table]
        off = w.when is not None and w.when.op == "num" and not w.when.value
        always = walk_always_checks(regime, w)
        for point, kind in points:
            if off:
                gone[point] = f"walk {w.name} never runs (its `when` folds to 0 on the bindings)"
            elif always and point.startswith(f"walk {w.name} page level "):
                gone[point] = (f"check {always[0]}'s condition folds to 1 on the constant access kinds and "
                               f"context bits walk {w.name} binds: every leaf ends in it (regime {regime.name})")
            elif kind in w.never:
                gone[point] = (f"the fault's condition folds to 0 on the constant access kinds and context bits "
                               f"walk {w.name} binds (regime {regime.name})")
            else:
                out.append(point)
    rules = [x for x in unit.exits if not (x.when.op == "num" and not x.when.value)]
    for f in unit.record.fields:
        if f.enum is None:
            continue
        produced = field_constants(rules, f)
        for i in enums[f.enum].items:
            point = f"{f.name} {i.name}"
            if produced is None or i.value in produced:
                out.append(point)
            else:
                gone[point] = (f"no exit rule sets {f.name} to these items: each rule sets {f.name} to a constant "
                               "(or a choice of constants), never one of them")
    return out, gone


def _same_address(unit: ir.Unit) -> dict[str, str]:
    """Each structure of the unit -> one structure at the same address as it (itself when
    no other is): equal base expressions once the structures they read are put in by
    their class (a call's context entry at the root entry's pointer, the same as another
    call's of the same table)."""
    rep = {st.name: st.name for st in unit.structures}

    def key(e: Expr) -> tuple:
        if e.op == "ref" and e.kind == "struct":
            sname, fname = e.name.split(".", 1)
            return ("struct", rep.get(sname, sname), fname, e.lo, e.width)
        if e.op == "num":
            return ("num", e.value)
        return (e.op, e.kind, e.name, e.lo, e.width if e.op == "ref" else 0, tuple(key(a) for a in e.args))

    while True:
        first: dict[tuple, str] = {}
        moved = False
        for st in unit.structures:
            k = (key(st.base), st.size)
            r = first.setdefault(k, rep[st.name])
            if rep[st.name] != r:
                rep[st.name], moved = r, True
        if not moved:
            return rep


def needs_state(spec: ir.Spec) -> dict[str, str]:
    """The points of a unit with a call cache that may be reached only through a cache hit
    from an earlier event, each with the reason: the rules of a call that reads a table
    entry a cached call read too (the same address), the caller's rules that read that
    call's results, and a record encoding only such rules give. In one event both calls
    read the entry alike; an answer of the second that the first's contradicts (the
    translated request refused after the Translation Request was granted) needs the first's
    answer kept from before the entry changed. Single-event cosim lists them as missing
    like any other point, marked; sequence runs (`cosim --sequences`) count them. A
    classification, not a proof: such a point may be reachable in one event too."""
    unit: ir.Unit = spec.top
    cached = [c.of for c in unit.caches if c.source == "call"]
    if not cached:
        return {}
    rep = _same_address(unit)
    calls = {c.name: c for c in unit.calls}

    def entries(c: ir.Call) -> set[str]:
        return {rep[name] for kind, name in c.inlined if kind == "structure" and name in rep}

    held = {x: entries(calls[x]) for x in cached if x in calls}
    out: dict[str, str] = {}
    late: set[str] = set()  # calls reading an entry a cached call read
    for c in unit.calls:
        if c.name in held:
            continue
        by = next((x for x, seen in held.items() if entries(c) & seen), None)
        if by is None:
            continue
        late.add(c.name)
        label = c.label or c.name
        for x in c.exits:
            out[f"call {label}.{x.name}"] = (f"call {label} reads a table entry call {by} read, whose answers cache "
                                             f"{next(k.name for k in unit.caches if k.of == by)} keeps")
    stateful = set()
    for x in unit.exits:
        reads = sorted({r.name.split(".")[0] for r in x.when.refs() if r.kind == "call"} & late)
        if reads:
            stateful.add(x.name)
            out[f"exit {x.name}"] = f"decided by call {reads[0]}'s results"
    enums = {e.name: e for e in spec.enums}
    for f in unit.record.fields:
        if f.enum is None:
            continue
        by_item: dict[int, list[str]] = {}
        for x in unit.exits:
            a = next((a for a in x.assigns if a.field == f.name), None)
            if a is not None and a.value is not None and a.value.op == "num":
                by_item.setdefault(a.value.value, []).append(x.name)
        for item in enums[f.enum].items:
            rules = by_item.get(item.value, [])
            if rules and all(r in stateful for r in rules):
                out[f"{f.name} {item.name}"] = f"given only by rule {', '.join(rules)}, decided by a call as above"
    return out


def field_constants(rules: list[ir.ExitRule], f: ir.OutputField) -> set[int] | None:
    """The values record field `f` can take when one of `rules` exits, if each rule sets it
    to a constant, or a choice (`c ? a : b`) between constants (a rule that does not set
    it leaves 0); None when some rule computes it from the event, memory or a call."""
    out: set[int] = set()
    for x in rules:
        assign = next((a for a in x.assigns if a.field == f.name), None)
        if assign is not None and assign.bits:
            return None
        found = _constants(assign.value) if assign is not None and assign.value is not None else {0}
        if found is None:
            return None
        out |= {v & mask(f.width) for v in found}
    return out


def _constants(e: Expr) -> set[int] | None:
    if e.op == "num":
        return {e.value}
    if e.op == "cond":
        a, b = _constants(e.args[1]), _constants(e.args[2])
        return a | b if a is not None and b is not None else None
    return None


def scenarios(spec: ir.Spec):
    """A hypothesis strategy of unit scenarios (needs hypothesis installed)."""
    from hypothesis import strategies as st

    from codegen.verify.stimulus.translation import _DataAdapter

    factory = UnitScenarioFactory(spec)

    @st.composite
    def build(draw_fn):
        return factory.make(Draw(data=_DataAdapter(draw_fn)))

    return build()
