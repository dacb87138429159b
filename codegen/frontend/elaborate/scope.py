"""What elaboration shares between translations and units: the per-file Module of
declarations, the Scope an expression's names resolve in, and the limits and message
helpers. Both elaborator.py (formats, regimes, nested) and unit.py build on it.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Protocol

from codegen import ir
from codegen.frontend import syntax_tree as ast
from codegen.frontend.diagnostics import DiagnosticBag, Span
from codegen.frontend.elaborate.provenance import Provenance
from codegen.ir.expr import BINARY, COMPARE, LOGICAL, EvalError, Expr, num

BUILTINS_WALK = {"rsvd": 1}  # width of walk-time builtins; `level` is added per regime
MAX_WIDTH = 1024
MAX_LOADED_TOKENS = 200_000  # tokens of all imported instances: bounds elaboration time (E0005)
MAX_IMPORT_DEPTH = 64  # files in one chain of imports, the top spec included (E0105)
MAX_EXPANSIONS = 1000  # uses of `let` names in one expression: each doubling `let` doubles the tree


class Problem(EvalError):
    """An expression error with its own code (E0302, E0304, E0305) instead of E0303."""

    def __init__(self, code: str, message: str, span: Span, notes: tuple = ()):
        super().__init__(message, span)
        self.code, self.notes = code, notes


# what a run-time reference is, by Expr.kind, for "must be a constant" messages
RUNTIME_KINDS = {"ctx": "a context register's value", "input": "the input address", "field": "a field of the entry",
            "leaf": "a field of the leaf entry", "acc": "an accumulator", "builtin": "a value of the walk",
            "access": "an access kind", "event": "a field of the event", "operand": "an operand of the event",
            "tag": "a tag of the request", "entry": "a value a cache entry stored", "struct": "a structure field in memory",
            "bitmap": "a bitmap lookup", "rerr": "a structure's read error", "walk": "a result of a walk", "call": "a result of a call", "host": "a field of the host's record",
            "hacc": "an accumulator of the host translation"}


def suggest(name: str, candidates: list[str]) -> str | None:
    """The candidate `name` most likely meant: a close spelling, the same name in other
    case, or its initials (`Present` for a field `P`, `ReadWrite` for `RW`)."""
    close = difflib.get_close_matches(name, candidates, n=1)
    if close:
        return close[0]
    same = [c for c in candidates if c.lower() == name.lower()]
    if same:
        return same[0]
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)
    initials = "".join(w[0] for w in words).upper()
    short = list(dict.fromkeys(c for c in candidates if "." not in name and c.upper() == initials))
    return short[0] if len(short) == 1 else None


class TooLarge(Exception):
    """An expression grows too large (or deep) once its `let` names are expanded."""


class Undefined(Exception):
    """A name an expression cannot resolve; `where` says where a name it cannot reach
    here is declared (then no spelling is suggested)."""

    def __init__(self, name: str, span: Span, candidates=(), where: str | None = None, found: bool = False):
        # found: the name exists but cannot be used here (no one width): not "undefined"
        self.name, self.span, self.where, self.found = name, span, where, found
        self.candidates = [c for c in candidates if c != name]  # never suggest the name itself


@dataclass
class Module:
    """The declarations of one spec file, by name, plus its imports by alias."""

    path: str
    ast: ast.SpecFile
    imports: dict[str, "Module"] = field(default_factory=dict)
    params: dict[str, ir.Param] = field(default_factory=dict)
    enums: dict[str, ir.EnumDef] = field(default_factory=dict)
    layouts: dict[str, ir.Layout] = field(default_factory=dict)
    regimes: dict[str, ir.Regime] = field(default_factory=dict)
    nested: dict[str, ir.Nested] = field(default_factory=dict)
    units: dict[str, ir.Unit] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    overrides: dict[str, tuple[int, Span]] = field(default_factory=dict)  # set by the importer
    # names whose declaration (or import) failed with an error already reported: a use
    # of one is not reported again as undefined
    failed: set[str] = field(default_factory=set)
    # what expressions elaborated in this module read, for the warnings (codegen/frontend/lint.py):
    # ("param", file, name) and ("field", file of the layout, layout, field)
    used: set[tuple[str, ...]] = field(default_factory=set)
    # where the nodes of resolved expressions came from, for the dump; one table shared
    # by every module of a compilation (the Elaborator's)
    provenance: Provenance = field(default_factory=Provenance)
    # Elaborator.all_registers' result: (layouts of this module seen, registers by name)
    registers_seen: tuple[int, dict[str, ir.Layout]] | None = field(default=None, repr=False, compare=False)

    def has_failed(self, name: str) -> bool:
        parts = name.split(".")
        if name in self.failed or parts[0] in self.failed:
            return True
        sub = self.imports.get(parts[0]) if len(parts) == 2 else None
        return sub is not None and sub.has_failed(parts[1])

    def find(self, table: str, parts: tuple[str, ...]):
        """Look a (possibly alias-qualified) name up in one of the tables."""
        if len(parts) == 2 and parts[0] in self.imports:
            return getattr(self.imports[parts[0]], table).get(parts[1])
        if len(parts) == 1:
            return getattr(self, table).get(parts[0])
        return None


class Scope:
    """What a name means inside one expression: a dict of resolvers and flags."""

    def __init__(self, module: Module, **kw):
        self.module = module
        self.registers: dict[str, ir.Layout] = kw.get("registers", {})
        self.access: tuple[str, ...] = kw.get("access", ())
        self.input: tuple[str, int] | None = kw.get("input")
        self.accumulators: dict[str, int] = kw.get("accumulators", {})
        self.entry_formats: list[ir.Layout] = kw.get("entry_formats", [])
        self.leaf_formats: list[ir.Layout] = kw.get("leaf_formats", [])
        self.builtins: dict[str, int] = kw.get("builtins", {})
        self.fault_kinds: tuple[str, ...] = kw.get("fault_kinds", ())
        self.host: dict[str, int] = kw.get("host", {})
        # a nested fold: `host.NAME` is accumulator NAME of the host translation just made
        self.host_accs: dict[str, int] = kw.get("host_accs", {})
        self.lets: dict[str, Expr] = kw.get("lets", {})
        # decision units: event fields (name -> width), structures (name -> (Structure,
        # {field: format Layout or None})) and bitmaps (name -> width)
        self.event: dict[str, int] = kw.get("event", {})
        self.structures: dict[str, tuple] = kw.get("structures", {})
        self.bitmaps: dict[str, int] = kw.get("bitmaps", {})
        self.walks: dict[str, dict[str, int]] = kw.get("walks", {})  # walk name -> member -> width
        # walk name -> (its accumulators, a composition's host accumulators): name -> width;
        # `W.ACC` reads one after a success, and is noted in `read_accs` (walk, acc) -> span
        self.walk_accs: dict[str, tuple[dict[str, int], dict[str, int]]] = kw.get("walk_accs", {})
        self.read_accs: dict[tuple[str, str], Span] = kw.get("read_accs", {})
        self.calls: dict[str, dict[str, int]] = kw.get("calls", {})  # call name -> member -> width
        # an invalidation event: its operands (name -> width); in `drop ... when`, the
        # cache's tags (bare name: the request's value), `entry.X` (X a tag or `global`)
        # and `covers(X)`; None outside a drop (`entry.X` and `covers` are refused there)
        self.operands: dict[str, int] = kw.get("operands", {})
        self.cache_tags: dict[str, int] = kw.get("cache_tags", {})
        self.entry_tags: dict[str, int] | None = kw.get("entry_tags")
        self.cache_name: str = kw.get("cache_name", "")
        self.cache_source: str = kw.get("cache_source", "")  # a unit's cache: "walk" | "structure"
        self.expand = kw.get("expand")  # resolves a `let` body in this scope
        self.expanding: set[str] = set()
        self.expansions = 0  # in the expression being resolved; Elaborator.resolve resets it

    def _walk_acc(self, walk: str, acc: str, members: dict[str, int], width: int, span: Span) -> Expr:
        """`walk.acc`, an accumulator of the walk read after a success (0 when the walk did not
        run or faulted); refused when a member of the walk has its name in any case (E0361)."""
        other = next((x for x in members if x.lower() == acc.lower()), None)
        if other is not None:
            how = "has the same name" if other == acc else "differs from it only in case (VHDL ignores case)"
            raise Problem("E0361", f"expected '{walk}.{acc}' to name one thing, not both accumulator '{acc}' of "
                          f"walk '{walk}' and its member '{other}' (a walk result, fault kind or record field), "
                          f"which {how}: rename the accumulator or the record field in the regime", span)
        self.read_accs.setdefault((walk, acc), span)
        return Expr(op="ref", kind="walk", name=f"{walk}.{acc}", width=width, span=span)

    def resolve(self, name: str, span: Span) -> Expr:
        parts = tuple(name.split("."))
        m = self.module
        note = m.provenance.note
        if len(parts) == 1:
            (n,) = parts
            if n in self.lets and self.expand is not None:
                if n in self.expanding:
                    raise EvalError(f"'{n}' is defined in terms of itself", span)
                self.expansions += 1
                if self.expansions > MAX_EXPANSIONS:
                    raise TooLarge()
                self.expanding.add(n)
                try:
                    out = self.expand(self.lets[n], self)
                finally:
                    self.expanding.discard(n)
                if out is self.lets[n]:  # a number: each use gets its own node (and its own notes)
                    out = out.model_copy()
                return m.provenance.note_let(out, n, span, self.lets[n])
            if n in self.operands:
                return Expr(op="ref", kind="operand", name=n, width=self.operands[n], span=span)
            if n in self.cache_tags:
                return Expr(op="ref", kind="tag", name=n, width=self.cache_tags[n], span=span)
            if n in m.params:
                m.used.add(("param", m.path, n))
                return note(num(m.params[n].value, span).model_copy(update={"name": n}),  # the name, for the docs
                            param=(m, n))
            if n in self.accumulators:
                return Expr(op="ref", kind="acc", name=n, width=self.accumulators[n], span=span)
            if self.input and n == self.input[0]:
                return Expr(op="ref", kind="input", name=n, width=self.input[1], span=span)
            if n in self.builtins:
                return Expr(op="ref", kind="builtin", name=n, width=self.builtins[n], span=span)
            if n in self.fault_kinds:
                return note(num(self.fault_kinds.index(n) + 1, span).model_copy(update={"name": n}), fault=n)
            if n in self.registers:
                self._use(self.registers[n])
                return note(Expr(op="ref", kind="ctx", name=n, lo=0, width=self.registers[n].width, span=span),
                            layouts=(self.registers[n],), field=None)
            if n in self.bitmaps:
                return Expr(op="ref", kind="bitmap", name=n, width=self.bitmaps[n], span=span)
            if self.entry_formats:
                widths = {f.field(n).width for f in self.entry_formats if f.field(n)}
                if len(widths) == 1:
                    self._use(*self.entry_formats, name=n)
                    return note(Expr(op="ref", kind="field", name=n, width=widths.pop(), span=span),
                                layouts=tuple(f for f in self.entry_formats if f.field(n)), field=n)
                if widths:
                    each = ", ".join(f"{f.field(n).width} bits in {f.name}" for f in self.entry_formats if f.field(n))
                    raise Undefined(name, span, where=f"'{n}' is a field of the entry formats with different "
                                    f"widths ({each}), so it has no one width here; give it the same width in "
                                    "every format, or rename it in the ones where it differs", found=True)
            if n == "read_address":
                raise Problem("E0353", "expected `read_address` only in a field of a regime's record (the "
                              "physical address its walk read the faulting, or last, entry at), not here: "
                              "the walk latches it for its fault record alone", span)
            raise Undefined(name, span, self._candidates())
        head, tail = parts[0], parts[1]
        if head in self.structures and len(parts) <= 3:
            return self._struct_ref(parts, name, span)
        if head in self.walks and len(parts) == 2:
            members = self.walks[head]
            accs, host_accs = self.walk_accs.get(head, ({}, {}))
            if tail in accs:
                return self._walk_acc(head, tail, members, accs[tail], span)
            if tail not in members and tail.startswith("host_") and tail[5:] in host_accs:
                raise Problem("E0363", f"expected a member of walk '{head}' here, not '{name}': a host "
                              f"accumulator ('{tail[5:]}' of the host stage) is not readable by a unit (only the "
                              f"guest's accumulators are, as '{head}.ACC'); report what the host granted in the "
                              "composition's record from a host `check` on the final address instead "
                              "(notes/unit-language.md, \"A walk whose answer is its rights\")", span)
            if tail not in members:
                raise Undefined(name, span, [f"{head}.{x}" for x in [*members, *accs]])
            return Expr(op="ref", kind="walk", name=name, width=members[tail], span=span)
        if head in self.calls and len(parts) == 2:
            members = self.calls[head]
            if tail not in members:
                raise Undefined(name, span, [f"{head}.{x}" for x in members])
            return Expr(op="ref", kind="call", name=name, width=members[tail], span=span)
        if head == "event" and len(parts) == 2 and tail in self.event:
            return Expr(op="ref", kind="event", name=tail, width=self.event[tail], span=span)
        if len(parts) == 2:
            if head in m.imports and tail in m.imports[head].params:
                m.used.add(("param", m.imports[head].path, tail))
                return note(num(m.imports[head].params[tail].value, span).model_copy(update={"name": name}),
                            param=(m.imports[head], tail))
            enum = m.find("enums", parts[:1])
            if enum is not None:
                item = next((i for i in enum.items if i.name == tail), None)
                if item is not None:
                    return note(num(item.value, span).model_copy(update={"name": name}), enum=(enum, tail))
            if head in self.registers:
                f = self.registers[head].field(tail)
                if f is not None:
                    self._use(self.registers[head], name=tail)
                    return note(Expr(op="ref", kind="ctx", name=head, lo=f.lo, width=f.width, span=span),
                                layouts=(self.registers[head],), field=tail)
                raise Undefined(name, span, [f"{head}.{x.name}" for x in self.registers[head].fields])
            if head == "access" and tail in self.access:
                return Expr(op="ref", kind="access", name=tail, width=1, span=span)
            if head == "leaf" and self.leaf_formats:
                widths = {f.field(tail).width for f in self.leaf_formats if f.field(tail)}
                if len(widths) == 1:
                    self._use(*self.leaf_formats, name=tail)
                    return note(Expr(op="ref", kind="leaf", name=tail, width=widths.pop(), span=span),
                                layouts=tuple(f for f in self.leaf_formats if f.field(tail)), field=tail)
                if widths:  # not a misspelling: the name itself exists, with no one width
                    each = ", ".join(f"{f.field(tail).width} bits in {f.name}" for f in self.leaf_formats
                                     if f.field(tail))
                    raise Undefined(name, span, where=f"'{tail}' is a field of the leaf formats with different "
                                    f"widths ({each}), so `leaf.{tail}` has no one width; give it the same bits in "
                                    "every leaf format, or rename it in the ones where it differs", found=True)
            if head == "host" and tail in self.host:
                return Expr(op="ref", kind="host", name=tail, width=self.host[tail], span=span)
            if head == "host" and tail in self.host_accs:
                return Expr(op="ref", kind="hacc", name=tail, width=self.host_accs[tail], span=span)
            if head == "entry":
                return self._entry_ref(tail, name, span)
        if len(parts) == 3 and head in m.imports:
            # NS.ENUM.ITEM: an item of an imported file's enum, named as the flattened
            # spec names it (ENUM.ITEM: enums of all files share one namespace)
            enum = m.find("enums", parts[:2])
            if enum is not None:
                item = next((i for i in enum.items if i.name == parts[2]), None)
                if item is not None:
                    return note(num(item.value, span).model_copy(update={"name": f"{enum.name}.{item.name}"}),
                                enum=(enum, parts[2]))
                raise Undefined(name, span, [f"{head}.{tail}.{i.name}" for i in enum.items])
        raise Undefined(name, span, self._candidates())

    def _entry_ref(self, tail: str, name: str, span: Span) -> Expr:
        """`entry.TAG` / `entry.global`: what a cache entry stored, inside `drop ... when`."""
        if self.entry_tags is None:
            raise Problem("E0447", f"expected `{name}` only in the condition of a `drop` (it reads the cache entry "
                          "being dropped), not here", span)
        if tail not in self.entry_tags:
            tags = [t for t in self.entry_tags if t != "global"]
            close = suggest(tail, list(self.entry_tags))
            hint = f"; did you mean 'entry.{close}'?" if close else ""
            raise Problem("E0446", f"expected `entry.TAG` with a tag of cache '{self.cache_name}' "
                          f"({', '.join(tags) or 'it has none'}){' or `entry.global`' if 'global' in self.entry_tags else ''}, "
                          f"not '{name}'{hint}", span)
        return Expr(op="ref", kind="entry", name=tail, width=self.entry_tags[tail], span=span)

    def _struct_ref(self, parts: tuple[str, ...], name: str, span: Span) -> Expr:
        """`S.F` (a structure field) or `S.F.SUB` (a field of the format F is typed with);
        the reference is named `S.F` (its word) with the bit position in that word."""
        struct, formats = self.structures[parts[0]]
        f = struct.field(parts[1])
        if f is None and parts[1] == "error" and len(parts) == 2:
            # `S.error`: 1 when a read of a word of S answered with an error (the word reads as 0)
            return Expr(op="ref", kind="rerr", name=struct.name, width=1, span=span)
        if f is None:
            raise Undefined(name, span, [f"{struct.name}.{x.name}" for x in struct.fields])
        lay = formats.get(f.name)
        note = self.module.provenance.note
        if len(parts) == 2:
            if lay is not None:
                self._use(lay)
            return note(Expr(op="ref", kind="struct", name=f"{struct.name}.{f.name}", lo=f.lo, width=f.width,
                             span=span), layouts=(lay,) if lay is not None else (), field=None)
        sub = lay.field(parts[2]) if lay is not None else None
        if sub is not None:
            self._use(lay, name=sub.name)
        if sub is None:
            options = [f"{struct.name}.{f.name}.{x.name}" for x in lay.fields] if lay is not None else []
            raise Undefined(name, span, options)
        return note(Expr(op="ref", kind="struct", name=f"{struct.name}.{f.name}", lo=f.lo + sub.lo, width=sub.width,
                         span=span), layouts=(lay,), field=sub.name)

    def _use(self, *layouts: ir.Layout, name: str | None = None) -> None:
        """Note that an expression reads field `name` (every field if None) of `layouts`."""
        for lay in layouts:
            for f in lay.fields:
                if name is None or f.name == name:
                    self.module.used.add(("field", lay.span.path, lay.name, f.name))

    def _candidates(self) -> list[str]:
        names = list(self.module.params) + list(self.accumulators) + list(self.builtins) + list(self.registers)
        names += list(self.fault_kinds) + [f"access.{a}" for a in self.access] + [f"host.{h}" for h in self.host] + [f"host.{h}" for h in self.host_accs]
        names += list(self.lets) + [f"event.{e}" for e in self.event] + list(self.bitmaps)
        names += [f"{c}.{x}" for c, members in self.calls.items() for x in members]
        names += list(self.operands) + list(self.cache_tags) + [f"entry.{t}" for t in self.entry_tags or ()]
        for struct, _ in self.structures.values():
            names += [f"{struct.name}.{x.name}" for x in struct.fields]
        names += [f"{alias}.{p}" for alias, sub in self.module.imports.items() for p in sub.params]
        if self.input:
            names.append(self.input[0])
        for f in self.entry_formats:
            names += [x.name for x in f.fields]
        for f in self.leaf_formats:
            names += [f"leaf.{x.name}" for x in f.fields]
        for r, lay in self.registers.items():
            names += [f"{r}.{x.name}" for x in lay.fields]
        return names


_DECLARE = {"format": "format NAME : WIDTH { ... }", "register": "register NAME : WIDTH { ... }",
            "enum": "enum NAME : WIDTH { ... }", "regime": "regime NAME { ... }"}


def undefined(m: Module, table: str, name: str, kind: str | None = None) -> str:
    """The E0301 message for a declaration `name` that `m` cannot see in `table`
    ("layouts", "enums", "regimes"; a layout of `kind`), with a close name or the syntax."""
    kind = kind or table[:-1]

    def names(mod: Module) -> list[str]:
        found = getattr(mod, table)
        return [n for n, x in found.items() if table != "layouts" or x.kind == kind]

    visible = names(m) + [f"{alias}.{n}" for alias, sub in m.imports.items() for n in names(sub)]
    close = suggest(name, visible)
    hint = (f"did you mean '{close}'?" if close
            else f"declare it with `{_DECLARE[kind]}`, or import the file that has it")
    return f"undefined {kind} '{name}'; {hint}"


# what each required item of a regime is, with its syntax, for E0306
REGIME_ITEMS = {
    "input": "`input NAME : WIDTH;` (the address it translates)",
    "access": "`access KIND, ...;` (the kinds of access, e.g. `access write, execute;`)",
    "entry": "`entry BYTES;` (the size of a table entry)",
    "root": "`root EXPR;` (the address of the top table)",
    "start": "`start level N;` (the level the walk starts at)",
    "pointer": "`pointer FIELD;` (the field of a table entry that holds the next table's address; "
               "`pointer LO | HI << 32;` for an address split across fields)",
    "frame": "`frame FIELD;` (the field of a leaf entry that holds the page frame; `frame PPN << 12;` for "
             "a page number stored shifted)",
    "record": "`record NAME { FIELD : WIDTH = EXPR; ... }` (what a fault reports)",
}


def join_and(items) -> str:
    items = list(items)
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def its_names(what: str, names) -> str:
    return f"its {what} are {', '.join(names)}" if names else f"it has no {what}"


def unique(items):
    out = []
    for x in items:
        if x is not None and all(x is not y for y in out):
            out.append(x)
    return out


def op_width(op: str, args: tuple[Expr, ...]) -> int:
    w = [a.width or 64 for a in args]
    if op in LOGICAL or op in COMPARE or op in ("!", "bit"):
        return 1
    if op in ("~", "neg"):
        return w[0]
    if op in ("&",):
        return min(w)
    if op in ("|", "^", "-", "/"):
        return max(w) if op != "/" else w[0]
    if op == "+":
        return min(MAX_WIDTH, max(w) + 1)
    if op == "*":
        return min(MAX_WIDTH, w[0] + w[1])
    if op == "%":
        return w[1]
    if op == "<<":
        amount = args[1].value if args[1].op == "num" else (1 << w[1]) - 1
        return min(MAX_WIDTH, w[0] + amount)
    if op == ">>":
        return w[0]
    if op == "cond":
        return max(w[1], w[2])
    if op == "slice":
        return args[1].value - args[2].value + 1 if args[1].op == "num" and args[2].op == "num" else w[0]
    assert op in BINARY, op
    return max(w)


class Resolver(Protocol):
    """What unit elaboration needs of the elaborator (elaborator.Elaborator is one): the
    bag errors go to, and name resolution and constant folding in a Scope. A protocol, so
    that unit.py and elaborator.py do not import each other."""

    bag: DiagnosticBag

    def resolve(self, e: Expr, scope: Scope) -> Expr | None: ...

    def resolve_tree(self, e: Expr, scope: Scope) -> Expr: ...

    def const(self, e: Expr | None, scope: Scope, what: str, lo: int = 0, hi: int = 1 << 64) -> int | None: ...

    def bits(self, b: ast.BitRange, scope: Scope, allow_empty: bool = False) -> tuple[int, int] | None: ...

    def layout_ref(self, m: Module, ref: ast.Ref | None, kind: str = "format") -> ir.Layout | None: ...

    def names_ok(self, names, what: str, span: Span, prefixed: bool = False) -> None: ...


def enum_name(el: Resolver, m: Module, ref) -> str | None:
    """The enum a field's `enum NAME` (or `enum NS.NAME`, an imported file's) names, or
    None; an undefined name is E0301 (once: not again where its declaration failed)."""
    if ref is None:
        return None
    e = m.find("enums", ref.parts)
    if e is None and not m.has_failed(ref.text):
        el.bag.error("E0301", undefined(m, "enums", ref.text), ref.span)
    return e.name if e is not None else None
