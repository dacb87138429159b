"""Elaboration of a decision unit: syntax tree -> ir.Unit.

One pass over the unit's items, in the order the language evaluates them: the event
and context, the structures (their fields at byte offsets), the bitmaps (each may read
the ones before it), the record, then the exit rules. Errors are collected in the
elaborator's bag; structural checks (offsets, overlaps, stores) come in checks.py.
"""
from __future__ import annotations

from codegen import ir
from codegen.frontend import syntax_tree as ast
from codegen.frontend.checks import NESTED_RESULTS, WALK_RESULTS, nested_members  # noqa: F401 (re-exported)
from codegen.frontend.diagnostics import Span
from codegen.frontend.elaborate.scope import MAX_WIDTH, Module, Resolver, Scope, undefined
from codegen.frontend.elaborate.scope import enum_name, suggest
from codegen.ir.expr import COMPARE, EvalError, Expr, evaluate, mask, num

MAX_STRUCT_BYTES = 1 << 16


def elaborate_unit(el: Resolver, m: Module, d: ast.Unit) -> ir.Unit | None:
    events, contexts, lets, records, exits = [], [], [], [], []
    for item in d.items:
        if isinstance(item, (ast.Structure, ast.Bitmap, ast.Walk, ast.Call)):
            continue  # the steps, taken in order below
        if isinstance(item, ast.Rule):
            lets.append(item)
        elif isinstance(item, ast.Record):
            records.append(item)
        elif isinstance(item, ast.Exit):
            exits.append(item)
        elif isinstance(item, (ast.Cache, ast.Invalidate)):
            continue  # after the steps: a cache reads them
        elif item[0] == "event":
            events.append(item)
        else:
            contexts.append(item)
    ok = True
    for what, found in (("event", events), ("record", records), ("context", contexts)):
        if len(found) > 1:
            span = found[1][1] if isinstance(found[1], tuple) else found[1].span
            first = found[0][1] if isinstance(found[0], tuple) else found[0].span
            el.bag.error("E0201", f"unit '{d.name}' has more than one {what}", span, ("first here", first))
            ok = False
    if not events or not records or not exits:
        missing = [(w, syntax) for w, syntax, f in (
            ("an event", "`event { FIELD : WIDTH; ... }`", events),
            ("a record", "`record NAME { FIELD : WIDTH; ... }`", records),
            ("an exit rule", "`exit NAME when COND { FIELD = EXPR; }`", exits)) if not f]
        el.bag.error("E0306", f"unit '{d.name}' needs {', '.join(w for w, _ in missing)}: add "
                     f"{', '.join(syntax for _, syntax in missing)}", d.span)
        return None

    event = _event(el, m, events[0][2])
    registers: dict[str, ir.Layout] = {}
    for ref in contexts[0][2] if contexts else ():
        lay = el.layout_ref(m, ref, "register")
        if lay is not None:
            registers[lay.name] = lay
    seen: dict[str, object] = {}
    for name in list(registers):
        seen[name] = "context"
    for f in event:
        if f.name in seen:
            el.bag.error("E0201", f"event field '{f.name}' has the name of a context register: both are keys "
                         "of the request", f.span)
            ok = False
    let_bodies: dict[str, Expr] = {}
    for r in lets:
        if r.name in let_bodies:
            first = next(x.span for x in lets if x.name == r.name)
            el.bag.error("E0201", f"'{r.name}' is defined twice in unit '{d.name}'", r.span, ("first defined here", first))
        let_bodies[r.name] = r.value
    # `W.ACC`: the accumulators of each walk, and the ones the unit reads (set on the walks below)
    walk_accs: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    read_accs: dict[tuple[str, str], Span] = {}
    named = {"lets": let_bodies, "expand": el.resolve_tree, "walk_accs": walk_accs, "read_accs": read_accs}
    widths = {f.name: f.width for f in event}

    # structures, bitmaps and walks, in the order written: each may read the ones before it
    structs: list[ir.Structure] = []
    struct_scope: dict[str, tuple] = {}
    maps: list[ir.Bitmap] = []
    map_widths: dict[str, int] = {}
    walks: list[ir.Walk] = []
    walk_members: dict[str, dict[str, int]] = {}
    steps: list[tuple[str, str]] = []
    taken: dict[str, Span] = {}
    calls: list[ir.Call] = []
    call_members: dict[str, dict[str, int]] = {}
    made_by: dict[str, str] = {}  # a step a call inlined -> the call
    for item in d.items:
        if not isinstance(item, (ast.Structure, ast.Bitmap, ast.Walk, ast.Call)):
            continue
        scope = Scope(m, registers=registers, event=widths, structures=dict(struct_scope), bitmaps=dict(map_widths),
                      walks=dict(walk_members), calls=dict(call_members), **named)
        if item.name in made_by:
            el.bag.error("E0486", f"expected a name for this step other than '{item.name}', the name call "
                         f"'{made_by[item.name]}' gives a step of its callee (CALL_STEP): rename one", item.span,
                         ("the call is here", taken[item.name]))
            ok = False
            continue
        if item.name in taken:
            el.bag.error("E0201", f"'{item.name}' is defined twice in unit '{d.name}'", item.span,
                         *([("first defined here", taken[item.name])] if item.name in taken else []))
            ok = False
            continue
        taken[item.name] = item.span
        if isinstance(item, ast.Call):
            built = _call(el, m, d, item, scope, taken, made_by)
            if built is None:
                ok = False
                m.failed.add(item.name)  # its uses are not reported again
                continue
            call, inlined = built
            for node in inlined:
                kind = {ir.Structure: "structure", ir.Bitmap: "bitmap", ir.Walk: "walk", ir.Call: "call"}[type(node)]
                # (not in the caller's scope: the caller reads the call's results only)
                {"structure": structs, "bitmap": maps, "walk": walks, "call": calls}[kind].append(node)
                steps.append((kind, node.name))
            calls.append(call)
            call_members[item.name] = call.members
            steps.append(("call", item.name))
            continue
        if isinstance(item, ast.Structure):
            built = _structure(el, m, item, scope)
            if built is None:
                ok = False
                m.failed.add(item.name)  # its uses are not reported again
                continue
            structs.append(built[0])
            struct_scope[item.name] = built
            steps.append(("structure", item.name))
        elif isinstance(item, ast.Bitmap):
            bitmap = _bitmap(el, item, scope)
            if bitmap is None:
                ok = False
                m.failed.add(item.name)  # its uses are not reported again
                continue
            maps.append(bitmap)
            map_widths[item.name] = bitmap.width
            steps.append(("bitmap", item.name))
        else:
            walk = _walk(el, m, item, scope)
            if walk is None:
                ok = False
                m.failed.add(item.name)  # its uses are not reported again
                continue
            walks.append(walk[0])
            walk_members[item.name] = walk[1]
            walk_accs[item.name] = walk[2]
            steps.append(("walk", item.name))

    scope = Scope(m, registers=registers, event=widths, structures=struct_scope, bitmaps=map_widths,
                  walks=walk_members, calls=call_members, **named)
    record = _record(el, m, records[0], struct_scope, scope)
    rules: list[ir.ExitRule] = []
    names: dict[str, object] = {}
    for x in exits:
        if x.name in names:
            el.bag.error("E0201", f"exit '{x.name}' is defined twice", x.span, ("first defined here", names[x.name]))
            ok = False
            continue
        names[x.name] = x.span
        rule = _exit(el, x, scope, record)
        if rule is None:
            ok = False
        else:
            rules.append(rule)
    if ok and record is not None:
        rules = _with_defaults(el, record, rules)
        ok = rules is not None
        rules = rules or []
    # a rule that reads a result the bindings make 0 (a callee rule folded away, a walk's
    # fault kind its bindings rule out) folds too, so that coverage leaves it out
    dead = _dead_results(walks, calls, _regimes(m))
    if dead:
        rules = [x.model_copy(update={"when": _drop_dead(x.when, dead)}) for x in rules]
    # a cache stands in front of the unit's own steps (a callee runs without its caches)
    own = [(k, n) for k, n in steps if n not in made_by]
    cached = _caches(el, m, d, registers, widths, named, [s for s in structs if s.name not in made_by], struct_scope,
                     [w for w in walks if w.name not in made_by], walk_members, map_widths, own,
                     [c for c in calls if c.name not in made_by], call_members)
    if read_accs:
        walks = _read_accs(el, walks, walk_accs, read_accs, cached[0] if cached is not None else ())
    if not ok or record is None or len(event) != len(events[0][2]) or cached is None or walks is None:
        return None
    return ir.Unit(caches=cached[0], invalidations=cached[1], calls=tuple(calls), name=d.name, event=tuple(event), context=tuple(registers), structures=tuple(structs),
                   bitmaps=tuple(maps), walks=tuple(walks), steps=tuple(steps), lets=tuple(let_bodies), record=record,
                   exits=tuple(rules), cite=d.cite, doc=d.doc, span=d.span,
                   let_defs=tuple(ir.Let(name=r.name, value=r.value, cite=r.cite, doc=r.doc, span=r.span)
                                  for r in lets))


def _read_accs(el: Resolver, walks: list[ir.Walk], walk_accs: dict, read_accs: dict[tuple[str, str], Span],
               caches) -> list[ir.Walk] | None:
    """The walks with the accumulators the unit reads of them (`W.ACC`, in the regime's
    order), or None after E0362: a cache in front of a walk answers a hit with the address
    alone, no accumulators."""
    out, ok = [], True
    for w in walks:
        if w.name not in walk_accs:  # a callee's walk, inlined: it keeps what the callee reads
            out.append(w)
            continue
        names = tuple(a for a in walk_accs[w.name][0] if (w.name, a) in read_accs)
        if names:
            c = next((c for c in caches if c.source == "walk" and c.of == w.name), None)
            if c is not None:
                el.bag.error("E0362", f"expected no cache in front of walk '{w.name}' whose accumulator "
                             f"'{w.name}.{names[0]}' the unit reads: a hit of cache '{c.name}' gives the address and "
                             "level with no walk, so no accumulator; drop the cache, or read what the accumulator "
                             "says from a `check` of the regime that ends the walk at the leaf with it in the record",
                             read_accs[(w.name, names[0])], (f"cache '{c.name}'", c.span))
                ok = False
            w = w.model_copy(update={"accs": names})
        out.append(w)
    return out if ok else None


def _bitmap(el: Resolver, b: ast.Bitmap, scope: Scope) -> ir.Bitmap | None:
    width = el.const(b.width, scope, f"width of bitmap '{b.name}'", 1, 64)
    base, index = el.resolve(b.base, scope), el.resolve(b.index, scope)
    span_bits = el.resolve(b.span_bits, scope) if b.span_bits is not None else num(1, b.span)
    when = el.resolve(b.when, scope) if b.when is not None else None
    if None in (width, base, index, span_bits) or (b.when is not None and when is None):
        return None
    return ir.Bitmap(name=b.name, width=width, base=base, index=index, span_bits=span_bits, when=when,
                     cite=b.cite, doc=b.doc, span=b.span)


def walk_members(regime: ir.Regime) -> dict[str, int]:
    """What a unit can read of a walk: whether it ran and succeeded, the output address,
    the level, the fault number and one truth value per fault kind, the record fields."""
    level_width = max(3, max((lv.number for lv in regime.levels), default=1).bit_length())
    out = {"walked": 1, "ok": 1, "pa": 64, "level": level_width, "fault": 8}
    out.update({k: 1 for k in regime.fault_kinds})
    out.update({f.name: f.width for f in regime.record.fields})
    return out


def nested_member_names(nest: ir.Nested, guest: ir.Regime, host: ir.Regime) -> list[tuple[str, str]]:
    """(name, what it is) of every member, repeats kept (a record field both records have
    is one member: not a repeat)."""
    fields = list(dict.fromkeys(f.name for f in guest.record.fields + nest.record.fields))
    return ([(r, "a walk result") for r in NESTED_RESULTS] + [(k, "a guest fault kind") for k in guest.fault_kinds]
            + [(f"host_{k}", "a host fault kind") for k in host.fault_kinds]
            + [(f, "a record field") for f in fields])


def _walk(el: Resolver, m: Module, w: ast.Walk, scope: Scope):
    regime = m.find("regimes", w.regime.parts)
    nest = m.find("nested", w.regime.parts) if regime is None else None
    if regime is None and nest is None:
        if not m.has_failed(w.regime.text):
            msg = undefined(m, "regimes", w.regime.text)
            el.bag.error("E0301", msg.replace("undefined regime", "undefined regime or nested composition"),
                         w.regime.span)
        return None
    if nest is not None:
        guest, host = _stages(m, w.regime.parts, nest)
        seen: dict[str, str] = {}
        for name, what in nested_member_names(nest, guest, host):
            if name.lower() in seen:
                el.bag.error("E0496", f"walk '{w.name}' of nested '{nest.name}': expected one member per name, not "
                             f"{what} '{name}' that is also {seen[name.lower()]}: both would be '{w.name}.{name}'; "
                             "rename one in the spec that declares it", w.span,
                             (f"nested '{nest.name}' is declared here", nest.span))
                return None
            seen[name.lower()] = what
        members = nested_members(nest, guest, host)
        accs = ({a.name: a.width for a in guest.accumulators}, {a.name: a.width for a in host.accumulators})
        access_names, context_names, what_of = guest.access, nest.context, f"nested '{nest.name}'"
        span_of = nest.span
    else:
        if regime.bypass is not None:
            # a unit's walk has no outcome for "not translated": it skips the walk instead
            el.bag.error("E0431", f"walk '{w.name}' of regime '{regime.name}': expected a regime without `bypass "
                         f"when` in a unit, not one that can be switched off; skip the walk with `walk ... when COND`",
                         w.span, (f"the bypass of '{regime.name}' is declared here", regime.bypass.span))
            return None
        members = walk_members(regime)
        accs = ({a.name: a.width for a in regime.accumulators}, {})
        clash = [k for k in regime.fault_kinds if k in {f.name for f in regime.record.fields} or k in
                 WALK_RESULTS]
        if clash:
            el.bag.error("E0201", f"walk '{w.name}': fault kind '{clash[0]}' of regime '{regime.name}' has the name "
                         "of a record field or of a walk result", w.span)
            return None
        access_names, context_names, what_of = regime.access, regime.context, f"regime '{regime.name}'"
        span_of = regime.span
    ok = True
    bound = {}
    for kind, names, binds in (("access", access_names, w.access), ("context", context_names, w.context)):
        out = []
        for b in binds:
            if b.name not in names:
                what = "access kind" if kind == "access" else "context register"
                el.bag.error("E0309", f"'{b.name}' is not {'an' if kind == 'access' else 'a'} {what} of "
                             f"{what_of}; its {what}s are {', '.join(names) or 'none'}", b.span,
                             (f"{what_of} is declared here", span_of))
                ok = False
                continue
            v = el.resolve(b.value, scope)
            if v is None:
                ok = False
                continue
            out.append(ir.Binding(name=b.name, value=v, span=b.span))
        missing = [n for n in names if n not in {b.name for b in out}]
        if missing and ok:
            block = "access { ... }" if kind == "access" else "with { ... }"
            el.bag.error("E0306", f"walk '{w.name}' must give every {kind} {'kind' if kind == 'access' else 'register'}"
                         f" of {what_of}; add {' '.join(f'`{n} = EXPR;`' for n in missing)} to its "
                         f"`{block}`", w.span)
            ok = False
        bound[kind] = tuple(out)
    value = el.resolve(w.input, scope)
    when = el.resolve(w.when, scope) if w.when is not None else None
    if not ok or value is None or (w.when is not None and when is None):
        return None
    name = nest.name if nest is not None else regime.name
    walk = ir.Walk(name=w.name, regime=name, input=value, access=bound["access"], context=bound["context"],
                   when=when, cite=w.cite, doc=w.doc, span=w.span, nested=nest is not None)
    if regime is not None:
        walk = walk.model_copy(update={"never": walk_never(regime, walk)})
    return walk, members, accs


def _regimes(m: Module) -> dict[str, ir.Regime]:
    """Every regime the modules `m` sees declare, by name (imports share one namespace)."""
    found: dict[str, ir.Regime] = {}
    todo, seen = [m], set()
    while todo:
        mod = todo.pop()
        if id(mod) in seen:
            continue
        seen.add(id(mod))
        for r in mod.regimes.values():
            found.setdefault(r.name, r)
        todo.extend(mod.imports.values())
    return found


def _stages(m: Module, parts: tuple[str, ...], nest: ir.Nested) -> tuple[ir.Regime, ir.Regime]:
    """The guest and host regimes of a composition, wherever the modules `m` sees declare them."""
    found = _regimes(m)
    return found[nest.guest], found[nest.host]


def walk_never(regime: ir.Regime, walk: ir.Walk) -> tuple[str, ...]:
    """The fault kinds of `regime` (walk faults, checks, input faults) that `walk` cannot
    report: each one's condition folds to 0 once the access kinds and the context-register
    bits the walk binds to constants are put in (a caller that binds a request type to a
    constant gives its callee's walk `probe = 0`, so the check `probed when access.probe`
    never ends it). Sound by construction: only constant folding decides, anything
    unknown keeps the kind possible."""
    rules = regime.faults + regime.checks + regime.input_faults
    return tuple(r.name for r, f in zip(rules, _folded_on_bindings(walk, rules)) if f.op == "num" and f.value == 0)


def walk_always_checks(regime: ir.Regime, walk: ir.Walk) -> tuple[str, ...]:
    """The checks of `regime` whose condition folds to 1 on `walk`'s constant bindings: a
    walk that reaches a leaf always ends in one of them, so it never translates (a caller
    that binds a request to a translation request gives its callee's walk `translate = 1`,
    and `check translation when access.translate` answers every leaf)."""
    return tuple(r.name for r, f in zip(regime.checks, _folded_on_bindings(walk, regime.checks))
                 if f.op == "num" and f.value != 0)


def _folded_on_bindings(walk: ir.Walk, rules) -> list[Expr]:
    """Each rule's condition with the access kinds and the context-register bits `walk`
    binds to constants put in, folded."""
    access = {}
    for b in walk.access:
        v = _fold_all(b.value)
        if v.op == "num":
            access[b.name] = int(bool(v.value))
    bits = {b.name: _known_bits(_fold_all(b.value)) for b in walk.context}

    def put(e: Expr) -> Expr:
        if e.op == "ref":
            if e.kind == "access" and e.name in access:
                return num(access[e.name], e.span)
            if e.kind == "ctx" and e.name in bits:
                zeros, ones = bits[e.name]
                want = mask(e.width) << e.lo
                if (zeros | ones) & want == want:
                    return num((ones >> e.lo) & mask(e.width), e.span)
            return e
        if e.args:
            return _fold(e.model_copy(update={"args": tuple(put(a) for a in e.args)}))
        return e

    return [put(r.when) for r in rules]


def _dead_results(walks, calls, regimes: dict[str, ir.Regime]) -> set[str]:
    """The results of these steps that are 0 whatever the scenario, as the names a
    reference reads (`W.KIND`, `C.RULE`), or a step's own name when every result of it is
    0: a walk's fault kinds its bindings rule out (Walk.never), a walk's `ok` when a check
    always ends it (walk_always_checks: it answers every leaf, so the walk never
    translates), a callee rule whose condition folded to 0, a walk (of a regime or of a
    nested composition: a walk that does not run leaves every result 0) or call whose
    `when` folded to 0 -- so that a later walk whose `when` reads it (`when g.ok`) folds
    too."""
    dead: set[str] = set()
    for w in walks:
        dead.update(f"{w.name}.{k}" for k in w.never)
        if not w.nested and w.regime in regimes and walk_always_checks(regimes[w.regime], w):
            dead.add(f"{w.name}.ok")
    for c in calls:
        dead.update(f"{c.name}.{x.name}" for x in c.exits if x.when.op == "num" and not x.when.value)
    for n in list(walks) + list(calls):
        if n.when is not None and n.when.op == "num" and not n.when.value:
            dead.add(n.name)
    return dead


def _drop_dead(e: Expr, dead: set[str]) -> Expr:
    """`e` with each reference to a result in `dead` (_dead_results) read as 0, folded;
    `e` itself when it reads none."""
    if e.op == "ref":
        if e.kind in ("walk", "call") and (e.name in dead or e.name.split(".")[0] in dead):
            return num(0, e.span)
        return e
    if not e.args:
        return e
    args = tuple(_drop_dead(a, dead) for a in e.args)
    if all(a is b for a, b in zip(args, e.args)):
        return e
    return _fold(e.model_copy(update={"args": args}))


def _fold_all(e: Expr) -> Expr:
    """`e` with every constant part folded, bottom up (`_fold` folds one node)."""
    if not e.args:
        return e
    return _fold(e.model_copy(update={"args": tuple(_fold_all(a) for a in e.args)}))


def _known_bits(e: Expr) -> tuple[int, int]:
    """(bits known to be 0, bits known to be 1) of `e`'s value, as Python ints whose
    infinite high bits are those of the value's sign: a constant is known; a reference,
    above its width; `|`, `&`, `^`, shifts by a constant and `c ? a : b` combine what their
    operands know (a context register built as `(root << 12) | (flag << 4) | ...` with the
    flag bound to 0 has bit 4 known 0). Anything else: nothing known."""
    op, a = e.op, e.args
    if op == "num":
        return ~e.value, e.value
    if op == "ref":
        return ~mask(e.width), 0
    if op in ("!", "&&", "||") or op in COMPARE:
        return ~1, 0
    if op in ("|", "&", "^", "cond"):
        (za, oa), (zb, ob) = _known_bits(a[-2]), _known_bits(a[-1])
        if op == "|":
            return za & zb, oa | ob
        if op == "&":
            return za | zb, oa & ob
        if op == "^":
            return (za & zb) | (oa & ob), (oa & zb) | (za & ob)
        return za & zb, oa & ob  # either choice: what both know alike
    if op in ("<<", ">>") and a[1].op == "num":
        z, o = _known_bits(a[0])
        c = a[1].value
        if op == "<<" and c >= (e.width or 64):
            return ~0, 0  # a shift keeps its width: every bit is gone (and 1 << c would not fit in memory)
        return ((z << c) | mask(c), o << c) if op == "<<" else (z >> c, o >> c)
    return 0, 0


def _event(el: Resolver, m: Module, fields: tuple[ast.EventField, ...]) -> list[ir.EventField]:
    out, seen = [], {}
    for f in fields:
        if f.name in seen:
            el.bag.error("E0201", f"event field '{f.name}' is defined twice", f.span, ("first defined here", seen[f.name]))
            continue
        seen[f.name] = f.span
        width = el.const(f.width, Scope(m), f"width of event field '{f.name}'", 1, 64)
        enum = enum_name(el, m, f.enum)
        if width is None or (f.enum is not None and enum is None):
            continue
        el.names_ok([f.name], "event field", f.span, prefixed=True)
        out.append(ir.EventField(name=f.name, width=width, enum=enum, doc=f.doc, span=f.span))
    return out


def _structure(el: Resolver, m: Module, s: ast.Structure, scope: Scope):
    """The structure and, per field typed with a format, that format (for S.F.SUB names)."""
    size = el.const(s.size, Scope(m), f"size of structure '{s.name}' in bytes", 8, MAX_STRUCT_BYTES)
    base = el.resolve(s.base, scope)
    fields, formats, seen, ok = [], {}, {}, True
    for f in s.fields:
        if f.name in seen:
            el.bag.error("E0201", f"field '{f.name}' is defined twice in structure '{s.name}'", f.span,
                         ("first defined here", seen[f.name]))
            ok = False
            continue
        seen[f.name] = f.span
        offset = el.const(f.offset, Scope(m), f"offset of '{f.name}'", 0, MAX_STRUCT_BYTES)
        lay = None
        if f.type.op == "name" and m.find("layouts", tuple(f.type.name.split("."))) is not None:
            lay = m.find("layouts", tuple(f.type.name.split(".")))
            width = lay.width
        else:
            width = el.const(f.type, Scope(m), f"width of '{f.name}' (a number of bits or a format)", 1, MAX_WIDTH)
        if offset is None or width is None:
            ok = False
            continue
        el.names_ok([f.name], "structure field", f.span, prefixed=True)
        formats[f.name] = lay
        fields.append(ir.StructField(name=f.name, offset=offset, width=width, format=lay.name if lay else None,
                                     cite=f.cite, doc=f.doc, span=f.span))
    when = el.resolve(s.when, scope) if s.when is not None else None
    align = 8
    if s.align is not None:
        align = el.const(s.align, Scope(m), f"alignment of structure '{s.name}'", 0, MAX_STRUCT_BYTES)
        if align is not None and align not in (4, 8):
            el.bag.error("E0488", f"expected `align 4` or `align 8` for structure '{s.name}', not `align {align}`: "
                         "a structure is read as 8-byte words, from a base that is a multiple of 8 or of 4 "
                         "(a word then straddles two aligned words)", s.align.span or s.span)
            align = None
    if size is None or base is None or not ok or (s.when is not None and when is None) or align is None:
        return None
    return ir.Structure(name=s.name, size=size, base=base, fields=tuple(fields), when=when, cite=s.cite, doc=s.doc,
                        align=align, span=s.span), formats


def _record(el: Resolver, m: Module, d: ast.Record, structs: dict[str, tuple], scope: Scope) -> ir.UnitRecord | None:
    fields, seen, ok = [], {}, True
    for f in d.fields:
        if f.name in seen:
            el.bag.error("E0201", f"record field '{f.name}' is defined twice", f.span, ("first defined here", seen[f.name]))
            ok = False
            continue
        seen[f.name] = f.span
        if not f.output and f.value is None:
            el.bag.error("E0306", f"record field '{f.name}' of a unit takes no bit ranges here: each exit rule "
                         f"assigns it, bit by bit if it likes; write '{f.name} : WIDTH;', or '{f.name} : WIDTH = "
                         "EXPR;' for a default", f.span)
            ok = False
            continue
        default = _default(el, f, scope) if f.value is not None else None
        if f.value is not None and default is None:
            ok = False
            continue
        width = el.const(f.width, Scope(m), f"width of '{f.name}'", 1, 64)
        enum = enum_name(el, m, f.enum)
        store = None
        if f.store is not None:
            parts = f.store.parts
            target = structs.get(parts[0]) if len(parts) == 2 else None
            if target is None or target[0].field(parts[1]) is None:
                options = [f"{s.name}.{x.name}" for s, _ in structs.values() for x in s.fields]
                el.bag.error("E0301", f"'{f.store.text}' is not a structure field"
                             + (f" (fields: {', '.join(options[:6])}{', ...' if len(options) > 6 else ''})" if options else ""),
                             f.store.span)
                ok = False
                continue
            if target[0].align != 8:
                el.bag.error("E0490", f"expected a store into a structure at an 8-byte-aligned base, not into "
                             f"'{f.store.text}' of `align {target[0].align}` structure '{parts[0]}': a store writes "
                             "one aligned 8-byte word, and this structure's words straddle two", f.store.span,
                             ("the structure is declared here", target[0].span))
                ok = False
                continue
            store = (parts[0], parts[1])
        store_when = el.resolve(f.store_when, scope) if f.store_when is not None else None
        if width is None or (f.enum is not None and enum is None) or (f.store_when is not None and store_when is None):
            ok = False
            continue
        el.names_ok([f.name], "record field", f.span, prefixed=True)
        fields.append(ir.OutputField(name=f.name, width=width, enum=enum, store=store, store_when=store_when,
                                     default=default, doc=f.doc, span=f.span))
    if not ok:
        return None
    return ir.UnitRecord(name=d.name, fields=tuple(fields), cite=d.cite, doc=d.doc, span=d.span)


# what a record field's default may read: the unit's inputs (event, context) and the control
# state its steps read from memory (structures, their read errors, bitmaps); not what a walk
# or a call decided, which the exit rules read
DEFAULT_READS = {"event": "event field", "ctx": "context register", "struct": "structure field",
                 "rerr": "structure read error", "bitmap": "bitmap"}


def _default(el: Resolver, f: ast.RecordField, scope: Scope) -> Expr | None:
    """The default of unit record field `f` (`NAME : WIDTH = EXPR;`), or None after an error."""
    v = el.resolve(f.value, scope)
    if v is None:
        return None
    bad = next((r for r in v.refs() if r.kind not in DEFAULT_READS), None)
    if bad is not None:
        what = {"walk": f"a result of walk '{bad.name.split('.')[0]}'",
                "call": f"a result of call '{bad.name.split('.')[0]}'"}.get(bad.kind, f"a {bad.kind} result")
        el.bag.error("E0350", f"expected a default for record field '{f.name}' that reads the event, the context "
                     f"registers, structures and bitmaps, not '{bad.name}', {what}: a default holds at every exit "
                     "that does not assign the field, whatever the walks and calls decided; assign it in the exit "
                     "rules that need it", f.value.span or f.span,
                     *([("read here", bad.span)] if bad.span and bad.span != (f.value.span or f.span) else []))
        return None
    return v


def _with_defaults(el: Resolver, record: ir.UnitRecord, rules: list[ir.ExitRule]) -> list[ir.ExitRule] | None:
    """Each rule with the default of every record field it does not assign (an
    ExitAssign marked `default`): every reader of the rules (both models, a caller of the
    unit, a call's cache, coverage, stimulus) then sees the value. A default no rule
    would take is refused (E0351)."""
    ok = True
    for f in record.fields:
        if f.default is None:
            continue
        if rules and all(any(a.field == f.name for a in x.assigns) for x in rules):
            el.bag.error("E0351", f"expected a default only on a record field some exit rule leaves unassigned, not "
                         f"on '{f.name}', which every exit rule assigns: the default would never be used; drop "
                         "`= ...` or the assignments that repeat it", f.default.span or f.span)
            ok = False
    if not ok:
        return None
    out = []
    for x in rules:
        given = {a.field for a in x.assigns}
        extra = tuple(ir.ExitAssign(field=f.name, value=f.default, default=True, span=f.span)
                      for f in record.fields if f.default is not None and f.name not in given)
        out.append(x.model_copy(update={"assigns": x.assigns + extra}) if extra else x)
    return out


def _exit(el: Resolver, x: ast.Exit, scope: Scope, record: ir.UnitRecord | None) -> ir.ExitRule | None:
    when = el.resolve(x.when, scope)
    fields = {f.name: f for f in record.fields} if record is not None else {}
    assigns, seen, ok = [], {}, when is not None
    for a in x.assigns:
        if record is not None and a.name not in fields:
            el.bag.error("E0301", f"exit '{x.name}' assigns '{a.name}', which is not a field of record "
                         f"'{record.name}' ({', '.join(fields)})", a.span)
            ok = False
            continue
        if a.name in seen:
            el.bag.error("E0201", f"exit '{x.name}' assigns '{a.name}' twice", a.span, ("first assigned here", seen[a.name]))
            ok = False
            continue
        seen[a.name] = a.span
        if a.value is not None:
            v = el.resolve(a.value, scope)
            if v is None:
                ok = False
                continue
            assigns.append(ir.ExitAssign(field=a.name, value=v, span=a.span))
            continue
        bits = []
        for b in a.bits:
            rng = el.bits(b.bits, scope)
            v = el.resolve(b.value, scope)
            if rng is None or v is None:
                ok = False
                continue
            bits.append(ir.RecordBits(name=b.name, hi=rng[0], lo=rng[1], value=v, doc=b.doc, span=b.span))
        assigns.append(ir.ExitAssign(field=a.name, bits=tuple(bits), span=a.span))
    if not ok:
        return None
    return ir.ExitRule(name=x.name, when=when, assigns=tuple(assigns), cite=x.cite, doc=x.doc, span=x.span)


def _caches(el: Resolver, m: Module, d: ast.Unit, registers: dict, widths: dict, named: dict, structs: list,
            struct_scope: dict, walks: list, members: dict, bitmaps: dict, steps: list, calls: list = (),
            call_members: dict | None = None):
    """The unit's caches (`cache NAME holds translations of walk W` / `cache NAME holds
    structure S` / `cache NAME holds call C`) and invalidations; None after an error."""
    items = [x for x in d.items if isinstance(x, (ast.Cache, ast.Invalidate))]
    before = len(el.bag.errors)
    caches: list[ir.Cache] = []
    first: dict[str, Span] = {}
    owners: dict[tuple[str, str], Span] = {}
    order = [name for _kind, name in steps]
    call_members = call_members or {}
    for c in (x for x in items if isinstance(x, ast.Cache)):
        src = c.source
        kind = src[0] if src else None
        if src is None or (kind == "walk") != (c.holds == "translations") or (kind == "structure") != (c.holds == "structure"):
            said = f"holds {c.holds}" + (f" of walk {src[1]}" if kind == "walk" else f" {src[1]}" if src else "")
            el.bag.error("E0451", f"expected `holds translations of walk W`, `holds structure S` or `holds call C` "
                         f"for cache '{c.name}' of unit '{d.name}', not `{said}`: a unit's cache stands in front of "
                         "one of its walks, structure reads or calls", c.holds_span)
            continue
        if kind == "call" and src[1] not in [x.name for x in calls]:
            names = [x.name for x in calls]
            close = suggest(src[1], names)
            hint = f"; did you mean '{close}'?" if close else ""
            el.bag.error("E0471", f"expected a call of unit '{d.name}' ({', '.join(names) or 'it makes none'}) after "
                         f"`holds call`, not '{src[1]}'{hint}", src[2])
            continue
        names = [w.name for w in walks] if kind == "walk" else [s.name for s in structs]
        if kind != "call" and src[1] not in names:
            close = suggest(src[1], names)
            hint = f"; did you mean '{close}'?" if close else ""
            el.bag.error("E0466", f"expected a {kind} of unit '{d.name}' ({', '.join(names) or 'it has none'}) after "
                         f"`{'of walk' if kind == 'walk' else 'structure'}`, not '{src[1]}'{hint}", src[2])
            continue
        held = next((s for s in structs if s.name == src[1]), None) if kind == "structure" else None
        if held is not None and held.align != 8:
            el.bag.error("E0489", f"expected a structure at an 8-byte-aligned base in front of cache '{c.name}', not "
                         f"`align {held.align}` structure '{held.name}': a structure cache keeps the aligned words "
                         "it read by the structure's address, and this structure's words straddle two", src[2],
                         ("the structure is declared here", held.span))
            continue
        if (kind, src[1]) in owners:
            el.bag.error("E0470", f"expected one cache in front of {kind} '{src[1]}', not a second one "
                         f"('{c.name}')", c.span, ("the first is declared here", owners[(kind, src[1])]))
            continue
        if c.name in first:
            el.bag.error("E0440", f"cache '{c.name}' is declared twice in '{d.name}': expected one declaration "
                         "per name; rename or delete one", c.span, ("first declared here", first[c.name]))
            continue
        owners[(kind, src[1])] = c.span
        first[c.name] = c.span
        if kind == "walk" and next(w for w in walks if w.name == src[1]).nested:
            el.bag.error("E0495", f"expected a walk of a regime behind cache '{c.name}' of unit '{d.name}', not walk "
                         f"'{src[1]}' of a nested composition: a unit walks a composition without caches (declare "
                         "the caches in the composition itself, for its own model)", c.span)
            continue
        if kind == "walk":
            regime = m.find("regimes", (next(w for w in walks if w.name == src[1]).regime,))
            if regime is not None and not any(lv.leaf for lv in regime.levels):
                el.bag.error("E0452", f"expected a leaf level in regime '{regime.name}' for cache '{c.name}' of its "
                             "final translations, not a walk with no leaf", c.span)
                continue
        # a tag reads what is known when the cached step starts: the event, the context and the
        # structures read before it (a structure cache's tags may read the structure itself:
        # they are recorded at the fill, and a lookup matches by address alone)
        upto = order.index(src[1]) + (1 if kind == "structure" else 0)
        # a call cache's key and tags may read every step before the call (not only structures)
        allowed = {n for n in order[:upto] if n in struct_scope or kind == "call"}
        scope = Scope(m, registers=registers, event=widths, structures=struct_scope,
                      walks=members, bitmaps=bitmaps, calls=call_members, **named)
        if kind == "call":
            scope.cache_source = "call"
        steps_read = ("struct", "bitmap", "walk", "call") if kind == "call" else ("struct",)
        for t in (x for x in c.items if isinstance(x, ast.CacheTag)):
            v = el.resolve(t.value, scope)
            if v is None:
                continue
            late = _late(v, allowed, steps_read)
            if late is not None:
                what = "the steps" if kind == "call" else "the structures"
                el.bag.error("E0467", f"expected tag '{t.name}' of cache '{c.name}' to read the event, the context "
                             f"and {what} read before {kind} '{src[1]}' ({', '.join(sorted(allowed)) or 'none'}"
                             f"), not '{late.name}' ({late.kind}), which is not known when the cache is looked up",
                             t.span)
        extra = _call_cache(el, c, scope, allowed, order[:upto + 1]) if kind == "call" else {}
        if len(el.bag.errors) > before or extra is None:
            continue
        cache = el._cache(m, c, registers, [], lambda e: e, tag_scope=scope)
        if cache is not None:
            caches.append(cache.model_copy(update=extra))
    by_name = {c.name: c for c in caches}
    events: list[ir.Invalidation] = []
    seen: dict[str, Span] = {}
    for v in (x for x in items if isinstance(x, ast.Invalidate)):
        if v.name in seen:
            el.bag.error("E0440", f"invalidation '{v.name}' is declared twice in '{d.name}': expected one "
                         "declaration per name; rename or delete one", v.span, ("first declared here", seen[v.name]))
            continue
        seen[v.name] = v.span
        ev = el._invalidation(m, v, registers, by_name, first, lambda e: e, unit=True)
        if ev is not None:
            events.append(ev)
    if len(el.bag.errors) > before:
        return None
    return tuple(caches), tuple(events)


def _late(v: Expr, allowed: set, steps_read: tuple):
    """The first reference of `v` to something not known yet: a step not in `allowed`, or
    a kind of name outside the event, the context and `steps_read`."""
    for r in v.refs():
        if r.kind in ("event", "ctx"):
            continue
        if r.kind not in steps_read or r.name.split(".")[0] not in allowed:
            return r
    return None


def _call_cache(el: Resolver, c: ast.Cache, scope: Scope, before: set, upto: list) -> dict | None:
    """A call cache's own items: `key EXPR page N;` (required, once: E0472; N a constant
    0..63: E0473; EXPR over what is known before the call: E0474) and `fill when EXPR;`
    (at most once; over the call's results and the steps before it: E0474)."""
    keys = [x for x in c.items if isinstance(x, ast.CacheKey)]
    fills = [x for x in c.items if isinstance(x, ast.CacheFill)]
    call = c.source[1]
    if not keys:
        el.bag.error("E0472", f"expected `key EXPR page N;` in cache '{c.name}' of call '{call}', not a cache without "
                     "one: an entry covers the 2^N-byte piece of the address EXPR (for example `key event.addr page "
                     "12;`)", c.span)
        return None
    ok = True
    for what, found in (("key ... page", keys), ("fill when", fills)):
        if len(found) > 1:
            el.bag.error("E0201", f"'{what}' is given twice in cache '{c.name}'", found[1].span,
                         ("first given here", found[0].span))
            ok = False
    k = keys[0]
    key = el.resolve(k.value, scope)
    page = el.resolve(k.page, scope)
    top = 63 if key is None else min(63, key.width - 1)  # a key of at least one bit
    if page is not None and (page.op != "num" or not 0 <= page.value <= top):
        shown = "an expression that is not constant" if page.op != "num" else str(page.value)
        why = ("" if top == 63 or page.op != "num" or page.value > 63
               else f" (the key's address has {key.width} bits, so every address would share one entry)")
        el.bag.error("E0473", f"expected a constant page shift from 0 to {top} after `page` in cache '{c.name}', not "
                     f"{shown}{why}: an entry covers the 2^N-byte piece of the key's address", k.page.span)
        ok = False
    if key is not None:
        late = _late(key, before, ("struct", "bitmap", "walk", "call"))
        if late is not None:
            el.bag.error("E0474", f"expected the key of cache '{c.name}' to read the event, the context and the steps "
                         f"before call '{call}' ({', '.join(sorted(before)) or 'none'}), not '{late.name}' "
                         f"({late.kind}), which is not known when the cache is looked up", k.value.span)
            ok = False
    fill = None
    if fills:
        fill = el.resolve(fills[0].when, scope)
        if fill is not None:
            late = _late(fill, set(upto), ("struct", "bitmap", "walk", "call"))
            if late is not None:
                el.bag.error("E0474", f"expected `fill when` of cache '{c.name}' to read the results of call "
                             f"'{call}' and what is known before it, not '{late.name}' ({late.kind}), a step after "
                             "the call", fills[0].when.span)
                ok = False
        ok = ok and fill is not None
    if not ok or key is None or page is None:
        return None
    return {"key": key, "page": page.value, "fill_when": fill}


CALL_RESULTS = ("called", "exit")  # what a caller reads of every call, beside rules and record fields


def _call(el: Resolver, m: Module, d: ast.Unit, c: ast.Call, scope: Scope, taken: dict[str, Span],
          made_by: dict[str, str]):
    """A call of another unit, inlined: (the ir.Call, the callee's steps renamed for the
    caller, in order), or None after an error.

    The callee's structures, bitmaps, walks and calls become steps of the caller named
    `CALL_STEP`, run only while the call's `when` holds; every expression of the callee
    is rewritten onto the caller: an event field reads its binding (cut to the field's
    width), a context register its binding (cut to the register's width), a step's
    result the renamed step's. The callee's caches are left out: it decides from memory.
    """
    if c.unit.parts == (d.name,):
        el.bag.error("E0484", f"expected a call of another unit in unit '{d.name}', not of '{d.name}' itself: the "
                     "calls would never end", c.unit.span)
        return None
    callee: ir.Unit | None = m.find("units", c.unit.parts)
    owner = m.imports[c.unit.parts[0]] if len(c.unit.parts) == 2 and c.unit.parts[0] in m.imports else m
    if callee is None:
        if m.has_failed(c.unit.text):
            return None
        visible = list(m.units) + [f"{a}.{n}" for a, sub in m.imports.items() for n in sub.units]
        close = suggest(c.unit.text, visible)
        hint = (f"; did you mean '{close}'?" if close else
                f" (units it can call: {', '.join(visible)})" if visible else
                "; declare that unit before this one, or import the file that has it")
        el.bag.error("E0480", f"expected a unit declared above unit '{d.name}' or in an imported file after "
                     f"`call {c.name} :`, not '{c.unit.text}'{hint}", c.unit.span)
        return None
    reg_widths = {name: lay.width for name, lay in el.all_registers(owner).items() if name in callee.context}
    ok = True
    values: dict[str, dict[str, Expr]] = {}
    for kind, declared, binds in (("event", {f.name: f.width for f in callee.event}, c.event),
                                  ("context", reg_widths, c.context)):
        what = "event field" if kind == "event" else "context register"
        seen: dict[str, Span] = {}
        out: dict[str, Expr] = {}
        for b in binds:
            if b.name not in declared:
                close = suggest(b.name, list(declared))
                hint = f"; did you mean '{close}'?" if close else ""
                el.bag.error("E0482", f"expected {'an' if kind == 'event' else 'a'} {what} of unit '{callee.name}' "
                             f"({', '.join(declared) or 'it has none'}) in the `{'event' if kind == 'event' else 'with'}"
                             f" {{ ... }}` of call '{c.name}', not '{b.name}'{hint}", b.span,
                             (f"unit '{callee.name}' is declared here", callee.span))
                ok = False
                continue
            if b.name in seen:
                el.bag.error("E0483", f"expected one binding of {what} '{b.name}' in call '{c.name}', not a second "
                             "one: delete one", b.span, ("first bound here", seen[b.name]))
                ok = False
                continue
            seen[b.name] = b.span
            v = el.resolve(b.value, scope)
            if v is None:
                ok = False
                continue
            out[b.name] = v
        missing = [n for n in declared if n not in seen]
        if missing and ok:
            block = "event { ... }" if kind == "event" else "with { ... }"
            el.bag.error("E0481", f"expected every {what} of unit '{callee.name}' bound in call '{c.name}', not "
                         f"{', '.join(repr(n) for n in missing)} left out: add "
                         f"{' '.join(f'`{n} = EXPR;`' for n in missing)} to its `{block}`", c.span,
                         (f"unit '{callee.name}' is declared here", callee.span))
            ok = False
        values[kind] = out
    when = el.resolve(c.when, scope) if c.when is not None else None
    if c.when is not None and when is None:
        ok = False
    # what the caller reads: NAME.called, NAME.exit, NAME.RULE, NAME.FIELD, one name each
    # (VHDL ignores case: the signals are cl_NAME_MEMBER)
    members: dict[str, tuple[str, Span]] = {r: ("a call result", c.span) for r in CALL_RESULTS}
    for name, what, span in ([(x.name, "exit rule", x.span) for x in callee.exits]
                             + [(f.name, "record field", f.span) for f in callee.record.fields]):
        other = members.get(name.lower())
        if other is not None:
            el.bag.error("E0485", f"expected the {what} '{name}' of unit '{callee.name}' to have a name of its own, not "
                         f"that of {other[0]}: both would be read as '{c.name}.{name}'; rename one in unit "
                         f"'{callee.name}'", c.span, (f"the {what}", span))
            ok = False
        members.setdefault(name.lower(), (f"{what} '{name}'", span))
    prefix = f"{c.name}_"
    for _kind, name in callee.steps:
        new = prefix + name
        if new in taken:
            el.bag.error("E0486", f"expected step '{name}' of unit '{callee.name}' to get a name of its own in unit "
                         f"'{d.name}', not '{new}', the name of an earlier step: call '{c.name}' names the callee's "
                         "steps CALL_STEP; rename the earlier step or the call", c.span, ("the earlier step", taken[new]))
            ok = False
    if not ok:
        return None
    for _kind, name in callee.steps:
        taken[prefix + name] = c.span
        made_by[prefix + name] = c.name

    ev = {}
    for f in callee.event:
        v = values["event"][f.name]
        ev[f.name] = v if v.width <= f.width else _cut(v, f.width)
    ctx = {r: (v if v.width <= reg_widths[r] else _cut(v, reg_widths[r])) for r, v in values["context"].items()}

    def sub(e: Expr) -> Expr:
        if e.op == "ref":
            if e.kind == "event":
                return ev[e.name]
            if e.kind == "ctx":
                v = ctx[e.name]
                if e.lo == 0 and e.width >= v.width:
                    return v
                if e.lo:
                    v = Expr(op=">>", args=(v, num(e.lo, v.span)), width=v.width, span=v.span)
                return _cut(v, e.width)
            if e.kind == "rerr" and prefix + e.name in unread:  # a structure never read never errs
                return num(0, e.span)
            if e.kind in ("struct", "rerr", "bitmap", "walk", "call"):
                name = prefix + e.name
                return num(0, e.span) if name in dead or name.split(".")[0] in dead else \
                    e.model_copy(update={"name": name})
            return e
        if e.args:
            return _fold(e.model_copy(update={"args": tuple(sub(a) for a in e.args)}))
        return e

    def guard(w: Expr | None) -> Expr | None:
        if when is None or w is None:
            return w if w is not None else when
        return _fold(Expr(op="&&", args=(when, w), width=1, span=w.span))

    def record(r: ir.UnitRecord) -> ir.UnitRecord:
        fields = tuple(f.model_copy(update={"store": (prefix + f.store[0], f.store[1]) if f.store else None})
                       for f in _map(r, sub).fields)
        return r.model_copy(update={"fields": fields})

    # results the bindings make constant 0, read as 0 by the steps and rules after them
    # (_dead_results)
    dead: set[str] = set()
    unread: set[str] = set()  # structures whose `when` folds to 0 on the bindings: `S.error` is 0
    regimes = _regimes(owner)
    inlined: list = []
    for kind, name in callee.steps:
        node = _map(callee.step_node(kind, name), sub)
        update = {"name": prefix + name, "when": guard(node.when)}
        if kind == "call":
            update.update(label=f"{c.name}.{node.label or node.name}", record=record(node.record),
                          inlined=tuple((k, prefix + n) for k, n in node.inlined))
        node = node.model_copy(update=update)
        if kind == "structure" and node.when is not None and node.when.op == "num" and not node.when.value:
            unread.add(node.name)
        if kind == "walk" and not node.nested:
            node = node.model_copy(update={"never": walk_never(regimes[node.regime], node)})
        dead |= _dead_results([node] if kind == "walk" else [], [node] if kind == "call" else [], regimes)
        inlined.append(node)
    call = ir.Call(name=c.name, unit=c.unit.text, label=c.name,
                   event=tuple(ir.Binding(name=n, value=v, span=v.span) for n, v in values["event"].items()),
                   context=tuple(ir.Binding(name=n, value=v, span=v.span) for n, v in values["context"].items()),
                   when=when, exits=tuple(_map(x, sub) for x in callee.exits), record=record(callee.record),
                   inlined=tuple((k, prefix + n) for k, n in callee.steps),
                   reads=tuple(sub(t.value) for cache in callee.caches for t in cache.tags), cite=c.cite, doc=c.doc,
                   span=c.span)
    return call, inlined


def _fold(e: Expr) -> Expr:
    """`e` with constant operands folded (a callee's `event.kind == INTERRUPT` is 0 when
    the call binds the kind to a constant DMA), so that coverage can leave out the callee
    rules the call cannot reach. The node's own width is kept for its parents."""
    a = e.args
    if all(x.op == "num" for x in a) and e.op != "call":
        try:
            value = evaluate(e, lambda _: 0, keep_width=True)
        except EvalError:
            return e
        return num(value, e.span) if value >= 0 else e
    if e.op == "&&" and any(x.op == "num" and not x.value for x in a):
        return num(0, e.span)
    if e.op == "||" and any(x.op == "num" and x.value for x in a):
        return num(1, e.span)
    if e.op == "cond" and a[0].op == "num":
        return a[1] if a[0].value else a[2]
    if e.op in ("==", "!=") and len(a) == 2:
        # a reference bound to a narrower value than the callee's field (a 1-bit read/write
        # flag for a 2-bit request kind) never equals a constant it cannot hold
        for x, y in (a, a[::-1]):
            if x.op == "ref" and y.op == "num" and y.value >> x.width:
                return num(int(e.op == "!="), e.span)
            # `flag ? 2 : 1` against a constant: decided when both choices agree about it
            if x.op == "cond" and y.op == "num" and all(c.op == "num" for c in x.args[1:]):
                same = {c.value == y.value for c in x.args[1:]}
                if len(same) == 1:
                    return num(int(same.pop() == (e.op == "==")), e.span)
    return e


def _cut(v: Expr, width: int) -> Expr:
    """`v` cut to its low `width` bits (a binding wider than what it binds)."""
    return Expr(op="&", args=(v, num(mask(width), v.span)), width=min(v.width, width), span=v.span)


def _map(node, fn):
    """IR value `node` with `fn` applied to every expression in it."""
    if isinstance(node, Expr):
        return fn(node)
    if isinstance(node, tuple):
        return tuple(_map(x, fn) for x in node)
    if isinstance(node, ir.Node):
        return node.model_copy(update={k: _map(getattr(node, k), fn) for k in type(node).model_fields
                                       if k != "span" and isinstance(getattr(node, k), (Expr, tuple, ir.Node))})
    return node
