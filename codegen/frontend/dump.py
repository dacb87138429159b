"""The dump (`virtspec dump`): a compiled spec presented in the public model of
codegen/ir/dump.py.

Built from the IR and what elaboration knew beyond it (pipeline.Compiled): the tree of
imported modules gives each declaration its namespace, and the Provenance notes give
each expression node what it was written as (a parameter, a folded expression, a
`let` name, a field). The IR itself is unchanged: the generators keep reading their
expanded, folded form.
"""
from __future__ import annotations

import json
from pathlib import Path

from codegen import ir
from codegen.frontend.elaborate.scope import Module
from codegen.frontend.pipeline import Compiled
from codegen.ir import dump as d
from codegen.ir.expr import Expr
from codegen.ir.span import Span

_TABLES = ("params", "enums", "layouts", "regimes", "nested", "units")


def build(compiled: Compiled) -> d.Dump:
    return _Builder(compiled).dump()


def dump_json(compiled: Compiled) -> str:
    """The text `virtspec dump` prints: the same bytes as model_dump_json(indent=2), but
    through the standard library's encoder, which does not give up on an expression as
    deep as the parser allows (pydantic's JSON serializer stops at about 150 levels)."""
    return json.dumps(build(compiled).model_dump(mode="json"), indent=2, ensure_ascii=False)


class _Builder:
    def __init__(self, c: Compiled):
        self.c = c
        self.spec = c.spec
        self.prov = c.module.provenance
        # module instances, nearest first (breadth-first in import order): each gets the
        # namespace of its first import, every alias path it is reached by is listed
        self.modules: list[Module] = [c.module]
        self.ns: dict[int, str] = {id(c.module): ""}
        self.aliases: dict[int, list[str]] = {id(c.module): []}
        self.first_import: dict[int, Span] = {}
        for mod in self.modules:  # grows while iterating
            for imp in mod.ast.imports:
                sub = mod.imports.get(imp.alias)
                if sub is None:
                    continue
                path = f"{self.ns[id(mod)]}.{imp.alias}".lstrip(".")
                if id(sub) not in self.ns:
                    self.ns[id(sub)] = path
                    self.aliases[id(sub)] = []
                    self.first_import[id(sub)] = imp.span
                    self.modules.append(sub)
                if path not in self.aliases[id(sub)]:
                    self.aliases[id(sub)].append(path)
        # every declaration by identity: its module and qualified name
        self.owner: dict[int, Module] = {}
        self.qual: dict[int, str] = {}
        for mod in self.modules:
            for table in _TABLES:
                for name, obj in getattr(mod, table).items():
                    self.owner[id(obj)] = mod
                    self.qual[id(obj)] = self.name_in(mod, name)
        self.module = c.module  # the module whose declaration is being presented

    # ---- names and spans
    def name_in(self, mod: Module, name: str) -> str:
        ns = self.ns[id(mod)]
        return f"{ns}.{name}" if ns else name

    def named(self, obj) -> str:
        return self.qual.get(id(obj), obj.name)

    def visible(self, table: str, name: str | None, mod: Module | None = None) -> str | None:
        """The qualified name of the declaration `name` as seen from `mod` (the one being
        presented): its own first, then its imports' (as the elaborator finds them)."""
        if name is None:
            return None
        found = self._find(mod or self.module, table, name, set())
        return self.named(found) if found is not None else name

    def _find(self, mod: Module, table: str, name: str, seen: set[int]):
        if id(mod) in seen:
            return None
        seen.add(id(mod))
        own = getattr(mod, table).get(name)
        if own is not None:
            return own
        for sub in mod.imports.values():
            found = self._find(sub, table, name, seen)
            if found is not None:
                return found
        return None

    def path(self, shown: str) -> str:
        """A file's path relative to the import root (the project folder, else the top
        spec's folder), whatever the working directory."""
        real = self.c.files.get(shown)
        if real is None:
            return shown
        try:
            return real.relative_to(self.c.root).as_posix()
        except ValueError:
            return Path(shown).as_posix()

    def span(self, s: Span) -> d.Span:
        return d.Span(path=self.path(s.path), line=s.line, col=s.col, end_line=s.end_line, end_col=s.end_col)

    def source(self, s: Span) -> str:
        lines = self.c.sources.get(s.path, "").split("\n")
        if not 1 <= s.line <= s.end_line <= len(lines):
            return ""
        if s.line == s.end_line:
            return lines[s.line - 1][s.col - 1:s.end_col - 1]
        parts = [lines[s.line - 1][s.col - 1:]] + lines[s.line:s.end_line - 1] + [lines[s.end_line - 1][:s.end_col - 1]]
        return "\n".join(parts)

    # ---- expressions
    def expr(self, e: Expr | None, inside: str | None = None) -> d.Expr | None:
        """`e` as written; `inside`: presenting the definition of that `let` (its own
        name is not a reference to it)."""
        if e is None:
            return None
        facts = self.prov.facts(e)
        lets = facts.get("lets", [])
        if inside is not None and any(n == inside for n, _ in lets):
            lets = lets[:[n for n, _ in lets].index(inside)]
        if lets:
            name, use = lets[-1]
            return d.LetExpr(op="let", name=name, width=e.width, span=self.span(use))
        span = self.span(e.span)
        if e.op == "num":
            kind, name, folded = "literal", None, None
            if "param" in facts:
                kind, name = "param", self.name_in(*facts["param"])
            elif "enum" in facts:
                kind, name = "enum", f"{self.named(facts['enum'][0])}.{facts['enum'][1]}"
            elif "fault" in facts:
                kind, name = "fault", facts["fault"]
            elif "folded" in facts:
                kind, folded = "folded", self.expr(facts["folded"])
            return d.NumExpr(op="num", value=e.value, width=e.width, kind=kind, name=name, folded=folded, span=span)
        if e.op == "ref":
            layouts = tuple(self.named(x) for x in facts.get("layouts", ()))
            name = e.name
            if e.kind == "ctx":
                name = layouts[0] if layouts else self.visible("layouts", e.name)
            return d.RefExpr(op="ref", kind=e.kind, name=name, field=facts.get("field"), layouts=layouts, lo=e.lo,
                             width=e.width, span=span)
        return d.OpExpr(op=e.op, args=tuple(self.expr(a) for a in e.args), width=e.width, span=span,
                        **({"name": e.name} if e.op == "call" else {}))

    @staticmethod
    def params_read(x: d.Expr | None) -> tuple[str, ...]:
        """The parameters a presented expression reads, in order, once each."""
        out: list[str] = []
        stack = [x] if x is not None else []
        while stack:
            e = stack.pop()
            if isinstance(e, d.NumExpr):
                if e.kind == "param" and e.name not in out:
                    out.append(e.name)
                if e.folded is not None:
                    stack.append(e.folded)
            elif isinstance(e, d.OpExpr):
                stack.extend(reversed(e.args))
        return tuple(out)

    def binding(self, b: ir.Binding, register_of: Module | None = None) -> d.Binding:
        """`register_of`: the binding names a context register of a regime of that module."""
        name = self.visible("layouts", b.name, register_of) if register_of is not None else b.name
        return d.Binding(name=name, value=self.expr(b.value), span=self.span(b.span))

    def lets(self, defs: tuple[ir.Let, ...]) -> tuple[d.Let, ...]:
        out = []
        for x in defs:
            first = self.prov.expansion(x.value)
            out.append(d.Let(name=x.name, value=self.expr(first, inside=x.name) if first is not None else None,
                             source=self.source(x.value.span), cite=x.cite, doc=x.doc, span=self.span(x.span)))
        return tuple(out)

    # ---- declarations
    def dump(self) -> d.Dump:
        s = self.spec
        top = s.top
        kind = "unit" if isinstance(top, ir.Unit) else "nested" if isinstance(top, ir.Nested) else "regime"
        return d.Dump(
            format=d.FORMAT, version=d.VERSION, generator_version=ir.GENERATOR_VERSION, name=s.name,
            path=self.path(s.path), sha256=s.sha256, cite=s.cite, doc=s.doc, span=self.span(s.span),
            top=d.Top(kind=kind, name=self.named(top)), models=s.models,
            imports=tuple(self.import_(m) for m in self.modules[1:]),
            params=tuple(self.in_module(p, self.param) for p in s.params),
            enums=tuple(self.in_module(e, self.enum) for e in s.enums),
            layouts=tuple(self.in_module(x, self.layout) for x in s.layouts),
            regimes=tuple(self.in_module(r, self.regime) for r in s.regimes),
            nested=tuple(self.in_module(n, self.nested) for n in s.nested),
            units=tuple(self.in_module(u, self.unit) for u in s.units))

    def in_module(self, obj, present):
        self.module = self.owner.get(id(obj), self.c.module)
        try:
            return present(obj)
        finally:
            self.module = self.c.module

    def import_(self, m: Module) -> d.Import:
        return d.Import(namespace=self.ns[id(m)], path=self.path(m.path), aliases=tuple(self.aliases[id(m)]),
                        params_set=tuple(d.ParamValue(name=k, value=v) for k, (v, _) in sorted(m.overrides.items())),
                        span=self.span(self.first_import[id(m)]))

    def param(self, p: ir.Param) -> d.Param:
        return d.Param(name=self.named(p), value=p.value, cite=p.cite, doc=p.doc, span=self.span(p.span))

    def enum(self, e: ir.EnumDef) -> d.EnumDef:
        return d.EnumDef(name=self.named(e), width=e.width, cite=e.cite, doc=e.doc, span=self.span(e.span),
                         items=tuple(d.EnumItem(name=i.name, value=i.value, doc=i.doc, span=self.span(i.span))
                                     for i in e.items))

    def layout(self, lay: ir.Layout) -> d.Layout:
        fields = []
        for f in lay.fields:
            cond = self.expr(f.reserved_if)
            fields.append(d.FormatField(name=f.name, hi=f.hi, lo=f.lo, enum=self.visible("enums", f.enum),
                                        reserved_if=cond, params=self.params_read(cond), doc=f.doc,
                                        span=self.span(f.span)))
        ranges = []
        for r in lay.ranges:
            when = self.expr(r.when)
            ranges.append(d.BitRange(kind=r.kind, hi=r.hi, lo=r.lo, when=when, params=self.params_read(when),
                                     low=self.expr(r.low), doc=r.doc, span=self.span(r.span)))
        return d.Layout(kind=lay.kind, name=self.named(lay), width=lay.width, fields=tuple(fields),
                        ranges=tuple(ranges), cite=lay.cite, doc=lay.doc, span=self.span(lay.span))

    def rule(self, r: ir.Rule) -> d.Rule:
        return d.Rule(name=r.name, when=self.expr(r.when), where=r.where, record=r.record,
                      format=self.visible("layouts", r.format) if r.format else None, cite=r.cite, doc=r.doc,
                      span=self.span(r.span))

    def record(self, r: ir.Record) -> d.Record:
        return d.Record(name=r.name, cite=r.cite, doc=r.doc, span=self.span(r.span), fields=tuple(
            d.RecordField(name=f.name, width=f.width, value=self.expr(f.value), enum=self.visible("enums", f.enum),
                          bits=self.bits(f.bits), doc=f.doc,
                          span=self.span(f.span)) for f in r.fields))

    def bits(self, bits: tuple[ir.RecordBits, ...]) -> tuple[d.RecordBits, ...]:
        return tuple(d.RecordBits(name=b.name, hi=b.hi, lo=b.lo, value=self.expr(b.value), doc=b.doc,
                                  span=self.span(b.span)) for b in bits)

    def level(self, lv: ir.Level) -> d.Level:
        fixed = lv.leaf is not None and lv.page_shift_expr is None
        return d.Level(number=lv.number, label=lv.label, name=lv.name, index_hi=lv.index_hi, index_lo=lv.index_lo,
                       table=self.visible("layouts", lv.table), leaf=self.visible("layouts", lv.leaf),
                       leaf_when=self.expr(lv.leaf_when), page_shift=lv.page_shift if fixed else None,
                       page_shift_expr=self.expr(lv.page_shift_expr), frame=self.terms(lv.frame),
                       cite=lv.cite, doc=lv.doc,
                       span=self.span(lv.span))

    def terms(self, terms: tuple[ir.AddrTerm, ...]) -> tuple[d.AddrTerm, ...]:
        return tuple(d.AddrTerm(field=t.field, shift=t.shift, span=self.span(t.span)) for t in terms)

    def regime(self, r: ir.Regime) -> d.Regime:
        return d.Regime(
            name=self.named(r), input_name=r.input_name, input_width=r.input_width, access=r.access,
            context=tuple(self.visible("layouts", n) for n in r.context), entry_bytes=r.entry_bytes,
            root=self.expr(r.root), start=self.expr(r.start), start_written=self.expr(r.start_written),
            input_size=self.expr(r.input_size), flip=r.flip, base=r.base, pointer=self.terms(r.pointer),
            frame=self.terms(r.frame),
            next_level=self.expr(r.next_level), levels=tuple(self.level(lv) for lv in r.levels),
            input_faults=tuple(self.rule(x) for x in r.input_faults), records=tuple(self.record(x) for x in r.records),
            faults=tuple(self.rule(x) for x in r.faults), checks=tuple(self.rule(x) for x in r.checks),
            accumulators=tuple(self.accumulator(a) for a in r.accumulators),
            updates=tuple(d.Update(field=u.field, where=u.where, when=self.expr(u.when), value=self.expr(u.value),
                                   used=u.used, cite=u.cite,
                                   span=self.span(u.span)) for u in r.updates),
            lets=self.lets(r.let_defs), record=self.record(r.record),
            access_groups=tuple(d.AccessGroup(kinds=g.kinds, exactly=g.exactly, span=self.span(g.span))
                                for g in r.access_groups),
            bypass=self.expr(r.bypass), bypass_cite=r.bypass_cite,
            instance_of=self.regime_module(r.instance_of)[0] if r.instance_of else None,
            instance_bindings=tuple(d.RegisterSwap(replaces=self.visible("layouts", a), by=self.visible("layouts", b))
                                    for a, b in r.instance_bindings),
            instance_adds=r.instance_adds,
            caches=tuple(self.cache(c) for c in r.caches),
            invalidations=tuple(self.invalidation(v) for v in r.invalidations),
            cite=r.cite, doc=r.doc, span=self.span(r.span))

    def cache(self, c: ir.Cache) -> d.Cache:
        return d.Cache(name=c.name, holds=c.holds, levels=c.levels, stage=c.stage, tags=tuple(d.CacheTag(name=t.name, value=self.expr(t.value),
                                                                           cite=t.cite, span=self.span(t.span))
                                                              for t in c.tags),
                       global_when=self.expr(c.global_when), global_ignores=c.global_ignores,
                       global_cite=c.global_cite, entries=c.entries, ways=c.ways, sets=c.sets, replace=c.replace,
                       pages=c.pages, cite=c.cite, doc=c.doc, span=self.span(c.span), source=c.source, of=c.of,
                       key=self.expr(c.key), page=c.page, fill_when=self.expr(c.fill_when))

    def invalidation(self, v: ir.Invalidation) -> d.Invalidation:
        return d.Invalidation(
            name=v.name, operands=tuple(d.Operand(name=o.name, width=o.width, span=self.span(o.span))
                                        for o in v.operands),
            drops=tuple(d.Drop(cache=x.cache, when=self.expr(x.when), span=self.span(x.span)) for x in v.drops),
            sets=tuple(self.binding(b, self.module) for b in v.sets), cite=v.cite, doc=v.doc,
            span=self.span(v.span))

    def regime_module(self, name: str, table: str = "regimes") -> tuple[str, Module | None]:
        """The qualified name of the regime (or, table "nested", composition) `name` seen
        from the module being presented, and the module it is declared in."""
        found = self._find(self.module, table, name, set())
        if found is None:
            return name, None
        return self.named(found), self.owner.get(id(found))

    def nested(self, n: ir.Nested) -> d.Nested:
        guest, _ = self.regime_module(n.guest)
        host, host_module = self.regime_module(n.host)
        return d.Nested(
            name=self.named(n), guest=guest, host=host,
            host_bindings=tuple(self.binding(b, host_module or self.module) for b in n.host_bindings),
            table_access=tuple(self.binding(b) for b in n.table_access),
            final_access=tuple(self.binding(b) for b in n.final_access),
            update_access=tuple(self.binding(b) for b in n.update_access), update_when=self.expr(n.update_when),
            updates_before_final=n.updates_before_final,
            guest_bypass=self.expr(n.guest_bypass), host_bypass=self.expr(n.host_bypass),
            guest_bypass_cite=n.guest_bypass_cite, host_bypass_cite=n.host_bypass_cite,
            context=tuple(self.visible("layouts", x) for x in n.context), record=self.record(n.record),
            caches=tuple(self.cache(c) for c in n.caches),
            invalidations=tuple(self.invalidation(v) for v in n.invalidations),
            folds=tuple(self.accumulator(a) for a in n.folds),
            cite=n.cite, doc=n.doc, span=self.span(n.span))

    def accumulator(self, a: ir.Accumulator) -> d.Accumulator:
        return d.Accumulator(name=a.name, width=a.width, init=self.expr(a.init), then=self.expr(a.then), where=a.where,
                             cite=a.cite, doc=a.doc, span=self.span(a.span))

    def unit(self, u: ir.Unit) -> d.Unit:
        walks = []
        for w in u.walks:
            regime, module = self.regime_module(w.regime, "nested" if w.nested else "regimes")
            walks.append(d.Walk(name=w.name, regime=regime, input=self.expr(w.input),
                                access=tuple(self.binding(b) for b in w.access),
                                context=tuple(self.binding(b, module or self.module) for b in w.context),
                                when=self.expr(w.when), cite=w.cite, doc=w.doc, span=self.span(w.span),
                                nested=w.nested, never=w.never, accs=w.accs))
        return d.Unit(
            name=self.named(u),
            event=tuple(d.EventField(name=f.name, width=f.width, enum=self.visible("enums", f.enum), doc=f.doc,
                                     span=self.span(f.span)) for f in u.event),
            context=tuple(self.visible("layouts", x) for x in u.context),
            structures=tuple(d.Structure(
                name=s.name, size=s.size, base=self.expr(s.base), when=self.expr(s.when), align=s.align, cite=s.cite,
                doc=s.doc,
                span=self.span(s.span), fields=tuple(
                    d.StructField(name=f.name, offset=f.offset, width=f.width,
                                  format=self.visible("layouts", f.format), cite=f.cite, doc=f.doc,
                                  span=self.span(f.span)) for f in s.fields)) for s in u.structures),
            bitmaps=tuple(d.Bitmap(name=b.name, width=b.width, base=self.expr(b.base), index=self.expr(b.index),
                                   span_bits=self.expr(b.span_bits), when=self.expr(b.when), cite=b.cite, doc=b.doc,
                                   span=self.span(b.span)) for b in u.bitmaps),
            walks=tuple(walks), steps=tuple(d.Step(kind=k, name=n) for k, n in u.steps), lets=self.lets(u.let_defs),
            caches=tuple(self.cache(c) for c in u.caches),
            invalidations=tuple(self.invalidation(v) for v in u.invalidations),
            record=self.unit_record(u.record), exits=tuple(self.exit_rule(x) for x in u.exits),
            calls=tuple(d.Call(name=c.name, unit=c.unit, label=c.label, event=tuple(self.binding(b) for b in c.event),
                               context=tuple(self.binding(b) for b in c.context), when=self.expr(c.when),
                               exits=tuple(self.exit_rule(x) for x in c.exits), record=self.unit_record(c.record),
                               inlined=tuple(d.Step(kind=k, name=n) for k, n in c.inlined),
                               reads=tuple(self.expr(x) for x in c.reads), cite=c.cite, doc=c.doc,
                               span=self.span(c.span)) for c in u.calls),
            cite=u.cite, doc=u.doc, span=self.span(u.span))

    def unit_record(self, r: ir.UnitRecord) -> d.UnitRecord:
        return d.UnitRecord(name=r.name, cite=r.cite, doc=r.doc, span=self.span(r.span), fields=tuple(
            d.OutputField(name=f.name, width=f.width, enum=self.visible("enums", f.enum),
                          store=d.StoreTarget(structure=f.store[0], field=f.store[1]) if f.store else None,
                          store_when=self.expr(f.store_when), default=self.expr(f.default), doc=f.doc,
                          span=self.span(f.span))
            for f in r.fields))

    def exit_rule(self, x: ir.ExitRule) -> d.ExitRule:
        return d.ExitRule(name=x.name, when=self.expr(x.when), cite=x.cite, doc=x.doc, span=self.span(x.span),
                          assigns=tuple(d.ExitAssign(field=a.field, value=self.expr(a.value), bits=self.bits(a.bits),
                                                     default=a.default, span=self.span(a.span)) for a in x.assigns))
