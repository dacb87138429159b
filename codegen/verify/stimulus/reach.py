"""What no walk can reach, proven from the IR (coverage reports these as unreachable).

Sound by construction: a point is called unreachable only when a three-valued
evaluation of the spec's conditions shows that it cannot happen whatever the entries,
the context registers, the access and the input hold. Unknown values stay unknown, so
a point the proof cannot settle counts as reachable (and shows as missing if no
scenario hits it), never the other way round. What it knows:

- `level` at each level; `rsvd` is 0 on a format with no must-be-zero bit; `skipped`
  is 0 at a level below which no level can be skipped; a parameter is folded already;
- at a level with both a table and a leaf format, a leaf condition that is a 1-bit
  field (or its negation) is 1 on a leaf and 0 on a pointer; one over a few 1-bit
  fields (`R || X`) holds on a leaf and not on a pointer, case by case;
- `x && 0`, `x || 1`, `x & 0`, `x * 0`, `c ? a : a` whatever x and c are.

From those: a role (pointer or leaf) is impossible at a level when the level lacks its
format, or its leaf condition is constant (`leaf F when 1` leaves no pointer); a walk
fault cannot happen at a level when it does not apply there (its `at` role or format),
its condition is 0, or a fault checked before it is always 1 there; a level is reached
only from a start level through pointers that are possible and that no fault always
stops.
"""
from __future__ import annotations

from codegen import ir
from codegen.ir.expr import BINARY, Expr, evaluate


class _Unknown(Exception):
    pass


def value3(e: Expr, known: dict) -> int | None:
    """The value of `e` if the facts in `known` ((kind, name) -> int) decide it, else None."""
    op = e.op
    if op == "num":
        return e.value
    if op == "ref":
        return known.get((e.kind, e.name))
    if op == "&&":
        a, b = value3(e.args[0], known), value3(e.args[1], known)
        if a == 0 or b == 0:
            return 0
        return None if a is None or b is None else 1
    if op == "||":
        a, b = value3(e.args[0], known), value3(e.args[1], known)
        if a or b:
            return 1
        return None if a is None or b is None else 0
    if op == "cond":
        c = value3(e.args[0], known)
        if c is not None:
            return value3(e.args[1] if c else e.args[2], known)
        a, b = value3(e.args[1], known), value3(e.args[2], known)
        return a if a is not None and a == b else None
    if op in ("&", "*") and op in BINARY:
        a, b = value3(e.args[0], known), value3(e.args[1], known)
        if a == 0 or b == 0:
            return 0
    parts = [value3(x, known) for x in e.args]
    if any(p is None for p in parts):
        if op in _COMPARE:
            (alo, ahi), (blo, bhi) = (_range(x, v) for x, v in zip(e.args, parts))
            return _COMPARE[op](alo, ahi, blo, bhi)
        return None

    def lookup(r: Expr) -> int:
        v = known.get((r.kind, r.name))
        if v is None:
            raise _Unknown
        return v
    try:
        return evaluate(e, lookup, keep_width=True)
    except Exception:  # noqa: BLE001 - an expression the facts cannot settle stays unknown
        return None


# a comparison of two values known only to lie in [lo, hi]: 1 or 0 when every pair of
# values agrees, else None
_COMPARE = {
    "==": lambda alo, ahi, blo, bhi: 0 if ahi < blo or bhi < alo else 1 if alo == ahi == blo == bhi else None,
    "!=": lambda alo, ahi, blo, bhi: 1 if ahi < blo or bhi < alo else 0 if alo == ahi == blo == bhi else None,
    "<": lambda alo, ahi, blo, bhi: 1 if ahi < blo else 0 if alo >= bhi else None,
    "<=": lambda alo, ahi, blo, bhi: 1 if ahi <= blo else 0 if alo > bhi else None,
    ">": lambda alo, ahi, blo, bhi: 1 if alo > bhi else 0 if ahi <= blo else None,
    ">=": lambda alo, ahi, blo, bhi: 1 if alo >= bhi else 0 if ahi < blo else None,
}


def _range(e: Expr, value: int | None) -> tuple[int, int]:
    """The values `e` can take: its value when known, else what its width allows."""
    if value is not None:
        return value, value
    return 0, (1 << e.width) - 1 if e.width else 1 << 4096


def _facts(spec: ir.Spec, regime: ir.Regime, lv: ir.Level, as_leaf: bool) -> dict:
    """What is known about an entry in one role at one level, for any scenario."""
    known: dict = {("builtin", "level"): regime.label(lv.number)}
    lay = spec.layout(lv.leaf if as_leaf else lv.table)
    if not lay.mbz_static and not any(m for _, m in lay.mbz_conditional()):
        known[("builtin", "rsvd")] = 0
    if not any(regime.skip_mask(lv.number, k) for k in (m.number for m in regime.levels) if k < lv.number):
        known[("builtin", "skipped")] = 0
    if lv.leaf and lv.table and lv.leaf_when is not None:
        cond, flip = lv.leaf_when, 0
        if cond.op == "!" and cond.args[0].op == "ref":
            cond, flip = cond.args[0], 1
        if cond.op == "ref" and cond.kind == "field" and cond.width == 1:
            known[("field", cond.name)] = int(as_leaf) ^ flip
    return known


def role_possible(spec: ir.Spec, regime: ir.Regime, lv: ir.Level, as_leaf: bool) -> bool:
    """Whether an entry at `lv` can be a leaf (or a pointer) in some scenario."""
    if not (lv.leaf if as_leaf else lv.table):
        return False
    if lv.leaf and lv.table and lv.leaf_when is not None:
        decided = value3(lv.leaf_when, {("builtin", "level"): regime.label(lv.number)})
        if decided is not None and bool(decided) != as_leaf:
            return False
    return True


def _rules(regime: ir.Regime, lv: ir.Level, as_leaf: bool) -> tuple[ir.Rule, ...]:
    return regime.faults_for(as_leaf, lv.leaf if as_leaf else lv.table)


def always_faults(spec: ir.Spec, regime: ir.Regime, lv: ir.Level, as_leaf: bool) -> bool:
    """Whether some walk fault fires on every entry of that role at `lv` (`fault f when 1`)."""
    known = _facts(spec, regime, lv, as_leaf)
    return any(value3(r.when, known) == 1 for r in _rules(regime, lv, as_leaf))


def fault_possible(spec: ir.Spec, regime: ir.Regime, rule: ir.Rule, lv: ir.Level) -> bool:
    """Whether walk fault `rule` can be the fault of some walk at `lv` (as a leaf or a
    pointer), not counting whether a walk reaches `lv` (reached_levels)."""
    for as_leaf in (False, True):
        if not role_possible(spec, regime, lv, as_leaf):
            continue
        rules = _rules(regime, lv, as_leaf)
        if rule not in rules:
            continue
        before = rules[:rules.index(rule)]
        for known in _role_cases(lv, as_leaf, _facts(spec, regime, lv, as_leaf)):
            if value3(rule.when, known) != 0 and not any(value3(r.when, known) == 1 for r in before):
                return True
    return False


MAX_CASE_BITS = 8  # leaf-condition fields enumerated by _role_cases (2**8 cases at most)


def _role_cases(lv: ir.Level, as_leaf: bool, known: dict) -> list[dict]:
    """The facts under each value of the one-bit entry fields a leaf condition reads
    (at most MAX_CASE_BITS of them) that gives the entry this role: `leaf pte when R ||
    X` leaves R = X = 0 to pointers, so `fault f at leaf when !R && !X` cannot happen.
    One case, `known` itself, when the condition reads other values."""
    if not (lv.leaf and lv.table and lv.leaf_when is not None):
        return [known]
    refs = lv.leaf_when.refs()
    names = sorted({r.name for r in refs if r.kind == "field"})
    if not names or len(names) > MAX_CASE_BITS or any(r.kind == "field" and r.width != 1 for r in refs):
        return [known]
    cases = []
    for bits in range(1 << len(names)):
        case = dict(known)
        case.update({("field", n): (bits >> i) & 1 for i, n in enumerate(names)})
        role = value3(lv.leaf_when, case)
        if role is None or bool(role) == as_leaf:
            cases.append(case)
    return cases


def reached_levels(spec: ir.Spec, regime: ir.Regime, starts: set[int]) -> tuple[set[int], set[int]]:
    """(levels some walk may reach, leaf levels some walk may translate at), from the start
    levels: a level below is reached through a pointer that is possible and that no fault
    always stops (the next lower level, or any lower one where pointers name their next
    level)."""
    reached: set[int] = set()
    for lv in sorted(regime.levels, key=lambda x: -x.number):
        if lv.number in starts:
            reached.add(lv.number)
        if (lv.number in reached and role_possible(spec, regime, lv, False)
                and not always_faults(spec, regime, lv, False)):
            lower = sorted((m.number for m in regime.levels if m.number < lv.number), reverse=True)
            reached.update(lower if regime.next_level is not None else lower[:1])
    leaves = {lv.number for lv in regime.leaf_levels if lv.number in reached
              and role_possible(spec, regime, lv, True) and not always_faults(spec, regime, lv, True)}
    return reached, leaves
