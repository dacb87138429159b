"""Elaboration: syntax tree -> IR.

One pass over each file, imports first: parameters are evaluated, layouts built (with
`include`), regimes and nested compositions get every name in their expressions
resolved to a typed reference, and constant sub-expressions folded. Errors of the
stage are collected in the DiagnosticBag; structural checks come after, in checks.py.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import os
from pathlib import Path

from codegen import ir
from codegen.frontend import syntax_tree as ast
from codegen.frontend.checks import identifier_message, identifier_problem, size_text
from codegen.frontend.config import find_pyproject
from codegen.frontend.diagnostics import DiagnosticBag, Span, read_source
from codegen.frontend.elaborate.provenance import Provenance
from codegen.frontend.elaborate.scope import (
    MAX_EXPANSIONS,
    MAX_IMPORT_DEPTH,
    MAX_LOADED_TOKENS,
    MAX_WIDTH,
    REGIME_ITEMS,
    RUNTIME_KINDS,
    Module,
    Problem,
    Scope,
    TooLarge,
    Undefined,
    enum_name,
    its_names,
    join_and,
    op_width,
    suggest,
    undefined,
    unique,
)
from codegen.frontend.elaborate.unit import elaborate_unit
from codegen.frontend.parse import MAX_CONST_BITS, OverBudget, parse_counted
from codegen.ir.expr import BUILTINS, COMPARE, EvalError, Expr, call_width, evaluate, num
from codegen.ir.nodes import ENTRY_SIZES


class Elaborator:
    def __init__(self, bag: DiagnosticBag, root_dir: Path | None = None):
        self.bag = bag
        self.modules: dict[Path, Module] = {}
        self.loading: list[Path] = []
        self.imported_at: dict[Path, Span] = {}  # the import that is loading each file of `loading`
        self.root_dir = root_dir
        self.display_root = root_dir  # paths in messages and headers are relative to it (display_path)
        self.parsed: dict[Path, tuple] = {}  # each file parsed once: its syntax tree (or None) and tokens
        self.tokens = 0  # tokens of the imported instances loaded so far (MAX_LOADED_TOKENS)
        self.provenance = Provenance()  # where resolved expressions came from (for the dump)

    # ------------------------------------------------------------------ loading
    def load(self, path: Path, span: Span | None = None, overrides: dict | None = None) -> Module | None:
        try:
            path = path.resolve()
            exists = path.is_file()
        except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop
            why = getattr(exc, "strerror", None) or str(exc)
            self.bag.error("E0001", f"cannot read spec file '{path}': {why}", span or Span(path=str(path)))
            return None
        if self.root_dir is None:  # the top-level spec: its imports stay inside its project
            self.root_dir = import_root(path)
            # paths in messages, spans and generated headers are relative to the same folder
            # (the project's, else the spec's own), never to the working directory: the
            # outputs of a run from another folder, or of a spec linked in from elsewhere, are
            # the same bytes
            self.display_root = self.root_dir
        overrides = overrides or {}
        key = (path, tuple(sorted((k, v) for k, (v, _) in overrides.items())))
        if key in self.modules:
            return self.modules[key]
        if path in self.loading:
            cycle = self.loading[self.loading.index(path):]
            chain = " -> ".join(p.name for p in cycle + [path])
            # the note shows where the cycle starts: the import of the file after `path`
            notes = [(f"'{path.name}' imports '{cycle[1].name}' here", self.imported_at[cycle[1]])] \
                if len(cycle) > 1 and self.imported_at.get(cycle[1]) is not None else []
            self.bag.error("E0104", f"import cycle: {chain}; imports must form a tree: move what these files share "
                           "into a file that each of them imports", span or Span(path=str(path)), *notes)
            return None
        if span is not None and len(self.loading) >= MAX_IMPORT_DEPTH:
            if not any(d.code == "E0105" for d in self.bag.errors):  # once: every import down there is too deep
                names = [p.name for p in self.loading]
                chain = " -> ".join(names[:2] + ["..."] + names[-2:] + [path.name])
                self.bag.error("E0105", f"imports nested too deep: more than {MAX_IMPORT_DEPTH} files in one chain "
                               f"of imports ({chain}); import the files this one needs from a file nearer the top, "
                               "so that the chain is shorter", span)
            return None
        shown = display_path(path, self.display_root)
        text = read_source(path, self.bag, at=span, shown=shown) if exists else None
        if text is None:
            if not exists:
                why = ("it is a directory, not a file" if path.is_dir() else "it is not a regular file (a device, a "
                       "pipe or a socket)" if path.exists() else f"no such file{_near_file(path, span, self.display_root)}")
                self.bag.error("E0001", f"cannot read spec file '{shown}': {why}", span or Span(path=shown))
            return None
        tree = self._parse(path, text, shown, span)
        if tree is None:
            return None
        module = Module(shown, tree, overrides=dict(overrides), provenance=self.provenance)
        self.loading.append(path)
        self.imported_at[path] = span
        first: dict[str, Span] = {}
        # an import's bindings may read this file's own parameters (those that do not
        # depend on an import): evaluate them first, and again in elaborate()
        declared = {d.name for d in tree.decls if isinstance(d, ast.Param)}
        module.params = self._own_params(module, tree)
        for imp in tree.imports:
            target = path.parent / imp.path
            if imp.alias in first:
                self.bag.error("E0201", f"import alias '{imp.alias}' is used twice; give each import its own "
                               "alias", imp.span, ("first used here", first[imp.alias]))
                continue
            first[imp.alias] = imp.span
            sets = {}
            for b in imp.overrides:
                late = sorted(n for n in b.value.names() if n in declared and n not in module.params)
                if late:
                    self.bag.error("E0321", f"the import sets '{b.name}' from parameter '{late[0]}', which depends on "
                                   f"an import itself: expected a value known before the imports, not a cycle "
                                   f"through '{imp.alias}'", b.span)
                    continue
                value = self.const(b.value, Scope(module), f"parameter '{b.name}'", 0, 1 << 64)
                if value is not None:
                    sets[b.name] = (value, b.span)
            sub = self.load(target, imp.span, sets) if self._inside_root(imp, target) else None
            if sub is not None:
                module.imports[imp.alias] = sub
            else:
                module.failed.add(imp.alias)
        self.loading.pop()
        module.params = {}
        self.elaborate(module)
        for name, (_, where) in module.overrides.items():
            if name not in module.params:
                close = difflib.get_close_matches(name, list(module.params), n=1)
                declared = ", ".join(module.params) or "none"
                hint = f"did you mean '{close[0]}'?" if close else f"its parameters are: {declared}"
                notes = [(f"'{close[0]}' is declared here", module.params[close[0]].span)] if close else []
                self.bag.error("E0311", f"the import sets parameter '{name}', which '{shown}' does not declare "
                               f"with `param`; {hint}", where, *notes)
        self.modules[key] = module
        return module

    def _own_params(self, module: Module, tree: ast.SpecFile) -> dict[str, ir.Param]:
        """The file's parameters that need no import, in order (errors are left to
        elaborate(), which evaluates every parameter again)."""
        bag, self.bag = self.bag, DiagnosticBag()
        try:
            for decl in tree.decls:
                if isinstance(decl, ast.Param) and decl.name not in module.params:
                    if decl.name in module.overrides:
                        v = module.overrides[decl.name][0]
                    elif any("." in n for n in decl.value.names()):
                        continue
                    else:
                        v = self.const(decl.value, Scope(module), "parameter", 0, 1 << 64)
                    if v is not None:
                        module.params[decl.name] = ir.Param(name=decl.name, value=v, span=decl.span)
        finally:
            self.bag = bag
        return module.params

    def _parse(self, path: Path, text: str, shown: str, span: Span | None) -> ast.SpecFile | None:
        """Parse each file once, however many instances (one per set of parameters) its
        imports make, and charge each imported instance its tokens: all of them together
        may hold MAX_LOADED_TOKENS (E0005), so that a thousand imports of one file with
        different parameters cannot take minutes to elaborate."""
        if path in self.parsed:
            tree, tokens = self.parsed[path]
        else:
            # counted while parsing (one lexing); an import's parse stops at what is left of
            # the budget, so a file past it is refused unparsed and nothing of it is kept
            budget = MAX_LOADED_TOKENS - self.tokens if span is not None else None
            try:
                if budget is not None and budget <= 0:  # spent: later files are not read at all
                    raise OverBudget()
                tree, tokens = parse_counted(text, shown, self.bag, budget)
            except OverBudget:
                tree, tokens = None, MAX_LOADED_TOKENS + 1
            else:
                self.parsed[path] = (tree, tokens if tree is not None and span is not None else 0)
                tokens = self.parsed[path][1]
        if self.tokens + tokens > MAX_LOADED_TOKENS:
            self.tokens += tokens
            if not any(d.code == "E0005" for d in self.bag.errors):  # once: every later import is over too
                self.bag.error("E0005", f"the files this spec imports hold more than {MAX_LOADED_TOKENS} tokens, "
                               "counting a file once for each set of parameters it is imported with: import fewer "
                               "instances of it, or split the spec", span)
            return None
        self.tokens += tokens
        return tree

    def _inside_root(self, imp: ast.Import, target: Path) -> bool:
        """Report (E0103) an import that names an absolute path or resolves, through `..`
        or a symbolic link, outside the root folder (see import_root). Compiling a spec
        reads only files of its own project: a spec from elsewhere cannot make the tool
        read /etc or a device, and a project stays relocatable."""
        root = self.root_dir.resolve()
        inside = f"'{shown}/'" if (shown := display_path(root, Path.cwd())) != "." else "the project folder"
        rule = (f"imports must stay inside {inside} (the folder of the nearest pyproject.toml above the spec being "
                "compiled, or that spec's own folder if there is none)")
        if Path(imp.path).is_absolute():
            self.bag.error("E0103", f"import path '{imp.path}' is absolute: {rule}; write the path relative to this "
                           "file, with the file inside the project", imp.span)
            return False
        try:
            real = target.resolve()
        except (OSError, RuntimeError):  # a symlink loop, a name too long: load() reports it
            return True
        if real == root or root in real.parents:
            return True
        via = " through a symbolic link" if Path(os.path.normpath(target)).is_relative_to(root) else ""
        self.bag.error("E0103", f"import \"{imp.path}\" leads outside the project{via}: {rule}; move or copy the "
                       "file into it", imp.span)
        return False

    # ------------------------------------------------------------------ helpers
    def _declare(self, module: Module, name: str, span: Span) -> bool:
        if name in module.spans:
            self.bag.error("E0201", f"'{name}' is defined twice; rename or delete one of them", span,
                           ("first defined here", module.spans[name]))
            return False
        module.spans[name] = span
        return True

    @staticmethod
    def _declared_elsewhere(m: Module, name: str) -> str | None:
        """Where `name`, not visible in an expression, is declared as a layout field in
        `m` (or a file it imports), for an E0301 message instead of a suggestion."""
        parts = name.split(".")
        if len(parts) != 1:
            return None
        owners = [f"{lay.kind} {lay.name}" for lay in m.layouts.values() if lay.field(name)]
        owners += [f"{lay.kind} {alias}.{lay.name}" for alias, sub in m.imports.items()
                   for lay in sub.layouts.values() if lay.field(name)]
        if not owners:
            return None
        listed = join_and(owners[:3] + ([f"{len(owners) - 3} more"] if len(owners) > 3 else []))
        return (f"'{name}' is a field of {listed}, which this expression cannot read; "
                "read a name this expression can see (e.g. a field of an entry format of the regime)")

    def resolve(self, e: Expr, scope: Scope) -> Expr | None:
        """Resolve names and type every node; None after reporting an error."""
        scope.expansions = 0
        try:
            return self.resolve_tree(e, scope)
        except Undefined as u:
            if scope.module.has_failed(u.name) and self.bag.errors:
                return None
            close = None if u.where else suggest(u.name, u.candidates)
            where = u.where or self._declared_elsewhere(scope.module, u.name)
            hint = (f"; {where}" if where else f"; did you mean '{close}'?" if close
                    else "; declare it, or check the spelling")
            if u.found:
                self.bag.error("E0301", f"cannot use '{u.name}' here: {where}", u.span)
            else:
                self.bag.error("E0301", f"undefined name '{u.name}'{hint}", u.span)
        except Problem as err:
            self.bag.error(err.code, str(err), err.span, *err.notes)
        except EvalError as err:
            self.bag.error("E0303", f"invalid constant expression: {err}", err.span)
        except TooLarge:
            self.bag.error("E0102", f"expression is too large once its `let` names are expanded: more than "
                           f"{MAX_EXPANSIONS} uses of `let` names; a `let` that uses another one twice doubles the "
                           "expression, so rewrite the chain to use each name once", e.span)
        except RecursionError:  # only through `let`s: the parser bounds one expression
            self.bag.error("E0102", "expression is nested too deeply once its `let` names are expanded: each `let` "
                           "nests the one it uses; shorten the chain of `let` names built on one another", e.span)
        return None

    def resolve_tree(self, e: Expr, scope: Scope) -> Expr:
        if e.op == "num":
            return e
        if e.op == "name":
            return scope.resolve(e.name, e.span)
        if e.op == "call" and e.name in ("covers", "within"):
            return self._covers(e, scope)
        if e.op == "call":
            self._check_call(e)
        args = self._widen_inverted_constants(e, tuple(self.resolve_tree(a, scope) for a in e.args), scope)
        far = next((a for a in args[1:] if e.op in ("slice", "bit") and a.op == "num" and a.value >= MAX_CONST_BITS),
                   None)
        if far is not None:  # a mask this wide would exhaust memory, in folding or in an emitter
            shown = far.value if far.value.bit_length() <= 64 else f"a {far.value.bit_length()}-bit number"
            raise Problem("E0304", f"bit position {shown} is out of range: no value is wider than {MAX_CONST_BITS} "
                           "bits", far.span)
        width = call_width(e.name, args) if e.op == "call" else op_width(e.op, args)
        out = e.model_copy(update={"args": args, "width": width})
        if all(a.op == "num" for a in args):
            # fold exactly, so that a negative constant is an error: evaluate() wraps '-' to
            # the operands' width (`0 - 1` would be 1)
            exact = out.model_copy(update={"width": 0}) if e.op in ("-", "neg") else out
            if e.op in ("/", "%") and args[1].value == 0:
                self._divide_by_zero(e, scope)
            value = evaluate(exact, lambda _: 0)
            if value < 0:
                raise EvalError(f"value {value} is negative", e.span)
            if value.bit_length() > MAX_CONST_BITS:
                raise Problem("E0304", f"constant is larger than {MAX_CONST_BITS} bits", e.span)
            return scope.module.provenance.note(num(value, e.span), folded=out)
        if e.op == "slice" and not (args[1].op == "num" and args[2].op == "num"):
            raise Problem("E0302", f"slice bounds must be constant: {self._runtime(args[1:])}", e.span)
        if e.op == "slice" and args[1].value < args[2].value:
            raise Problem("E0305", f"slice [{args[1].value}:{args[2].value}] is reversed: slices are written "
                           f"[high:low], here [{args[2].value}:{args[1].value}]", e.span)
        return out

    def _covers(self, e: Expr, scope: Scope) -> Expr:
        """`covers(X)` in `drop ... when`: 1 when the entry being dropped translates the
        page that holds input address X; `within(X, S)` (a unit's walk cache): 1 when the
        entry's input range overlaps the 2^S-byte aligned block holding X (never folded:
        they read the entry)."""
        if scope.entry_tags is None:
            raise Problem("E0447", f"expected `{'covers(X)' if e.name == 'covers' else 'within(X, S)'}` only in the condition of a `drop` (it asks whether the "
                          "cache entry being dropped holds the page of X), not here", e.span)
        if e.name == "within" and scope.cache_source not in ("walk", "call") or e.name == "covers" and scope.cache_source == "structure":
            where = ("a cache of structure words (it has no input page)" if scope.cache_source == "structure"
                     else "a translation's cache (not supported yet there)")
            raise Problem("E0469", f"expected `{e.name}(...)` in a drop of a cache of translations"
                          f"{' of a walk or of a call in a unit' if e.name == 'within' else ''}, not of {where}", e.span)
        n = 2 if e.name == "within" else 1
        if len(e.args) != n:
            usage = ("within(X, S): 1 when the entry's input range overlaps the 2^S-byte block aligned on it "
                     "that holds input address X" if n == 2 else
                     "covers(X): 1 when the entry translates the page that holds input address X")
            raise Problem("E0313", f"expected {n} argument{'s' if n > 1 else ''} to {e.name}(), not {len(e.args)}: "
                          f"{usage}", e.span)
        args = tuple(self.resolve_tree(a, scope) for a in e.args)
        return e.model_copy(update={"args": args, "width": 1})

    @staticmethod
    def _check_call(e: Expr) -> None:
        """A call names a builtin and gives it as many arguments as it takes."""
        known = ", ".join(f"{n}()" for n in BUILTINS)
        if e.name not in BUILTINS:
            close = suggest(e.name, list(BUILTINS))
            hint = f"; did you mean '{close}'?" if close else ""
            raise Problem("E0312", f"expected a builtin function ({known}), not '{e.name}'{hint}", e.span)
        count, usage = BUILTINS[e.name]
        if len(e.args) != count:
            raise Problem("E0313", f"expected {count} argument{'s' if count > 1 else ''} to {e.name}(), not "
                           f"{len(e.args)}: {usage}", e.span)

    def _widen_inverted_constants(self, e: Expr, args: tuple[Expr, ...], scope: Scope) -> tuple[Expr, ...]:
        """`x & ~3` clears bits 1:0 of x: a `~` of a constant beside a value of width W in a
        bitwise operation or a comparison is inverted at W bits, not at the constant's own
        width (~3 at 2 bits is 0, so `x & ~3` was always 0)."""
        if e.op not in ("&", "|", "^") + COMPARE or len(args) != 2:
            return args
        out = list(args)
        for i, a in enumerate(e.args):
            other = args[1 - i]
            if a.op == "~" and args[i].op == "num" and other.op != "num":
                inner = self.resolve_tree(a.args[0], scope)
                width = other.width or 64
                widened = (~inner.value) & ((1 << width) - 1)
                out[i] = scope.module.provenance.note(num(widened, a.span), folded=args[i])
        return tuple(out)

    def const(self, e: Expr | None, scope: Scope, what: str, lo: int = 0, hi: int = 1 << 64) -> int | None:
        if e is None:
            return None
        r = self.resolve(e, scope)
        if r is None:
            return None
        if r.op != "num":
            self.bag.error("E0302", f"{what} must be a constant expression: {self._runtime([r])}", e.span)
            return None
        if not lo <= r.value <= hi:
            shown = r.value if r.value.bit_length() <= 64 else f"a {r.value.bit_length()}-bit number"
            self.bag.error("E0304", f"{what} is {shown}; it must be between {lo} and {hi}", e.span)
            return None
        return r.value

    def bits(self, b: ast.BitRange, scope: Scope, allow_empty: bool = False) -> tuple[int, int] | None:
        hi = self.const(b.hi, scope, "bit position", 0, MAX_WIDTH)
        lo = self.const(b.lo, scope, "bit position", 0, MAX_WIDTH) if b.lo is not None else hi
        if hi is None or lo is None:
            return None
        if hi < lo and not (allow_empty and hi == lo - 1):
            self.bag.error("E0305", f"bit range [{hi}:{lo}] is reversed: bit ranges are written [high:low], "
                           f"here [{lo}:{hi}]", b.span)
            return None
        return hi, lo

    def _text(self, span: Span) -> str:
        """The source text of a one-line span (for messages), or ''."""
        lines = self.bag.sources.get(span.path, "").split("\n")
        if span.line != span.end_line or not 1 <= span.line <= len(lines):
            return ""
        return lines[span.line - 1][span.col - 1:span.end_col - 1]

    def _runtime(self, exprs) -> str:
        """Why resolved `exprs` are not constant: the first run-time name they read."""
        refs = sorted((r for x in exprs for r in x.refs()), key=lambda r: (r.span.line, r.span.col))
        if not refs:
            return "it is not a constant"
        text = self._text(refs[0].span) or refs[0].name
        return (f"'{text}' is {RUNTIME_KINDS.get(refs[0].kind, 'a run-time value')}, known only when the model runs; "
                "use numbers and `param` names here")

    def _divide_by_zero(self, e: Expr, scope: Scope) -> None:
        """Raise E0303 for a constant division by zero, naming the divisor and noting the
        parameters it reads."""
        divisor = e.args[1]
        text = self._text(divisor.span)
        params = scope.module.params
        notes = tuple((f"parameter '{n}' is declared here", params[n].span)
                      for n in sorted(divisor.names()) if n in params)
        what = f"the divisor '{text}' is 0" if text else "the divisor is 0"
        raise Problem("E0303", f"invalid constant expression: division by zero, as {what}; change the expression "
                       "or the parameters it reads", e.span, notes)

    # ------------------------------------------------------------------ elaboration
    def elaborate(self, m: Module) -> None:
        for decl in m.ast.decls:
            # registers are visible so that using one where a constant is needed is E0302
            const_scope = Scope(m, registers=self.all_registers(m))
            if isinstance(decl, ast.Param):
                if self._declare(m, decl.name, decl.span):
                    v = self.const(decl.value, const_scope, f"parameter '{decl.name}'", 0, 1 << 64)
                    if decl.name in m.overrides:
                        v = m.overrides[decl.name][0]
                    if v is not None:
                        m.params[decl.name] = ir.Param(name=decl.name, value=v, cite=decl.cite, doc=decl.doc, span=decl.span)
            elif isinstance(decl, ast.Enum):
                if self._declare(m, decl.name, decl.span):
                    self.enum(m, decl, const_scope)
            elif isinstance(decl, ast.Layout):
                if self._declare(m, decl.name, decl.span):
                    self.layout(m, decl)
            elif isinstance(decl, ast.Regime):
                if self._declare(m, decl.name, decl.span):
                    self.regime(m, decl)
            elif isinstance(decl, ast.RegimeInstance):
                if self._declare(m, decl.name, decl.span):
                    self.regime_instance(m, decl)
            elif isinstance(decl, ast.Nested):
                if self._declare(m, decl.name, decl.span):
                    self.nested(m, decl)
            elif isinstance(decl, ast.Unit):
                if self._declare(m, decl.name, decl.span):
                    unit = elaborate_unit(self, m, decl)
                    if unit is not None:
                        m.units[decl.name] = unit
            if not any(decl.name in table for table in (m.params, m.enums, m.layouts, m.regimes, m.nested, m.units)):
                m.failed.add(decl.name)

    def enum(self, m: Module, d: ast.Enum, scope: Scope) -> None:
        width = self.const(d.width, scope, "enum width", 1, 64)
        items, seen = [], {}
        for it in d.items:
            v = self.const(it.value, scope, f"value of '{it.name}'", 0, (1 << (width or 64)) - 1)
            if it.name in seen:
                self.bag.error("E0201", f"'{it.name}' is defined twice in enum '{d.name}'", it.span, ("first defined here", seen[it.name]))
                continue
            seen[it.name] = it.span
            if v is not None:
                items.append(ir.EnumItem(name=it.name, value=v, doc=it.doc, span=it.span))
        if width is not None:
            m.enums[d.name] = ir.EnumDef(name=d.name, width=width, items=tuple(items), cite=d.cite, doc=d.doc, span=d.span)

    def layout(self, m: Module, d: ast.Layout) -> None:
        cond_scope = Scope(m, registers=self.all_registers(m))
        width = self.const(d.width, cond_scope, f"width of {d.kind} '{d.name}'", 1, MAX_WIDTH)
        fields, ranges = [], []
        for item in d.items:
            if isinstance(item, ast.Include):
                inc = m.find("layouts", item.ref.parts)
                if inc is None and m.has_failed(item.ref.text):
                    continue
                if inc is None:
                    self.bag.error("E0301", undefined(m, "layouts", item.ref.text, "format") + " (in an include)",
                                   item.span)
                    continue
                fields += [f.model_copy(update={"span": f.span}) for f in inc.fields]
                ranges += list(inc.ranges)
            elif isinstance(item, ast.Field):
                b = self.bits(item.bits, cond_scope)
                if b is None:
                    m.failed.update((item.name, f"{d.name}.{item.name}"))
                    continue
                cond = self.resolve(item.reserved_if, cond_scope) if item.reserved_if is not None else None
                enum = enum_name(self, m, item.enum)
                fields.append(ir.Field(name=item.name, hi=b[0], lo=b[1], enum=enum, reserved_if=cond, doc=item.doc, span=item.span))
            else:
                kind = "reserved" if isinstance(item, ast.Reserved) else "ignored"
                if kind == "reserved" and item.bits.lo is not None:
                    low = self.resolve(item.bits.lo, cond_scope)
                    if low is None:
                        continue
                    if low.op != "num":
                        ranges += self.runtime_range(item, low, cond_scope, width or MAX_WIDTH)
                        continue
                b = self.bits(item.bits, cond_scope, allow_empty=True)
                if b is None:
                    continue
                when = getattr(item, "when", None)
                when = self.resolve(when, cond_scope) if when is not None else None
                ranges.append(ir.BitRange(kind=kind, hi=b[0], lo=b[1], when=when, doc=item.doc, span=item.span))
        if width is not None:
            m.layouts[d.name] = ir.Layout(kind=d.kind, name=d.name, width=width, fields=tuple(fields),
                                          ranges=tuple(ranges), cite=d.cite, doc=d.doc, span=d.span)

    def runtime_range(self, item, low: Expr, scope: Scope, width: int) -> list[ir.BitRange]:
        """`reserved [HI:EXPR]` with EXPR a register expression (bits above an output size
        a register chooses): one conditional range per value EXPR can take, bits
        [next value - 1 : value] reserved when EXPR <= value, checked at walk time. The
        values are the constant arms of `c ? a : b` (conditions without `?:`, which the
        cycle-level model's must-be-zero test cannot hold), else every bit position."""
        hi = self.const(item.bits.hi, scope, "bit position", 0, MAX_WIDTH)
        if hi is None:
            return []
        if item.when is not None:
            self.bag.error("E0432", "expected no condition on a reserved range whose low bound is a register "
                           "expression (the bound says which bits are reserved), not an `if`: fold the condition "
                           "into the bound (`c ? LOW : " + str(hi + 1) + "`)", item.when.span)
            return []
        arms = _arms(low, None)
        if arms is None:
            if low.width > 7:
                self.bag.error("E0432", f"expected a choice of constants (`TCR.PS == 0 ? 32 : 48`) or a value of at "
                               f"most 7 bits as the low bound of reserved range [{hi}:...], not a {low.width}-bit "
                               "run-time expression", item.bits.lo.span)
                return []
            values = list(range(0, hi + 1))
        else:
            values = sorted({v for v, _ in arms})
        out = []
        values = [v for v in values if v <= hi]
        for i, v in enumerate(values):
            top = min(values[i + 1] - 1 if i + 1 < len(values) else hi, hi)
            if top >= width:
                self.bag.error("E0401", f"reserved range [{hi}:...] goes past the {width}-bit width of its format, "
                               f"whose bits are [{width - 1}:0]: fix the bit numbers", item.span)
                return []
            if arms is None:
                cond = Expr(op="<=", args=(low, num(v, low.span)), width=1, span=low.span)
            else:
                cond = _any([path for a, path in arms if a <= v], low.span)
            out.append(ir.BitRange(kind="reserved", hi=top, lo=v, when=cond, low=low, doc=item.doc, span=item.span))
        return out

    @staticmethod
    def all_registers(m: Module) -> dict[str, ir.Layout]:
        """The registers `m` and its imports declare, by name (`m`'s own win). Asked for at
        every declaration, so kept on the module and only extended by the layouts declared
        since the last call: rebuilding it each time made elaboration quadratic in the
        number of declarations. The dict returned is never changed afterwards (a Scope may
        hold it); a new register gives a new dict."""
        seen = m.registers_seen
        if seen is not None and seen[0] == len(m.layouts):
            return seen[1]
        if seen is None:  # imports are elaborated before the module that imports them
            regs: dict[str, ir.Layout] = {}
            for sub in m.imports.values():
                regs.update(Elaborator.all_registers(sub))
            start = 0
        else:
            start, regs = seen
        new = _registers_among(list(m.layouts.values())[start:])
        if new:
            regs = {**regs, **new}
        m.registers_seen = (len(m.layouts), regs)
        return regs

    def layout_ref(self, m: Module, ref: ast.Ref | None, kind: str = "format") -> ir.Layout | None:
        if ref is None:
            return None
        lay = m.find("layouts", ref.parts)
        if lay is None and m.has_failed(ref.text):
            return None
        if lay is None or lay.kind != kind:
            what = f"'{ref.text}' is a {lay.kind}, not a {kind}" if lay else undefined(m, "layouts", ref.text, kind)
            self.bag.error("E0301", what, ref.span)
            return None
        return lay


    def _widen_accumulators(self, accumulators: list, accs_ast: list, first: dict[str, int],
                            walk_scope: Scope) -> list:
        """An accumulator is as wide as its init and its `then`; where `then` came out wider
        than the init it was read at, read `then` again with every accumulator at its final
        width, so that a `then` naming the accumulator (`s - W`) sees the value it really
        holds. The result then takes the low bits of that width in both models; the
        second reading's diagnostics were given by the first."""
        widths = {a.name: a.width for a in accumulators}
        if all(widths[n] == first.get(n) for n in widths):
            return accumulators
        scope = copy.copy(walk_scope)
        scope.accumulators = widths
        saved, self.bag = self.bag, DiagnosticBag()
        try:
            out = []
            for a in accumulators:
                r = next(x for x in accs_ast if x.name == a.name and x.span == a.span)
                then = self.resolve(r.value, scope)
                out.append(a if then is None else a.model_copy(update={"then": then}))
            return out
        finally:
            self.bag = saved
    def regime(self, m: Module, d: ast.Regime) -> None:
        simple: dict[str, tuple[Span, object]] = {}
        levels_ast, rules, records_ast, access_items, cache_items = [], [], [], [], []
        for item in d.items:
            if isinstance(item, (ast.Cache, ast.Invalidate)):
                cache_items.append(item)
            elif isinstance(item, ast.Level):
                levels_ast.append(item)
            elif isinstance(item, ast.Rule):
                rules.append(item)
            elif isinstance(item, ast.Record):
                # several records: walk faults and checks report the first, an input
                # fault the one it names
                first = next((r for r in records_ast if r.name == item.name), None)
                if first is not None:
                    self.bag.error("E0201", f"record '{item.name}' is defined twice in regime '{d.name}'; rename or "
                                   "delete one of them", item.span, ("first defined here", first.span))
                    continue
                records_ast.append(item)
                simple.setdefault("record", (item.span, item))
            elif item[0] == "access":
                access_items.append(item)
                simple.setdefault("access", (item[1], None))
            else:
                kind, span, val = item
                if kind in simple:
                    self.bag.error("E0201", f"'{kind}' is given twice in regime '{d.name}'", span, ("first given here", simple[kind][0]))
                    continue
                simple[kind] = (span, val)
        missing = [k for k in REGIME_ITEMS if k not in simple]
        if missing:
            self.bag.error("E0306", f"regime '{d.name}' is missing {join_and(repr(k) for k in missing)}: add "
                           f"{join_and(REGIME_ITEMS[k] for k in missing)}", d.span)
            return
        in_name, in_w, in_size = simple["input"][1]
        self.names_ok([in_name], "input", simple["input"][0])
        access, groups = self.access_kinds(access_items)
        registers: dict[str, ir.Layout] = {}
        for ref in simple["context"][1] if "context" in simple else ():
            lay = self.layout_ref(m, ref, "register")
            if lay is not None:
                registers[lay.name] = lay
        # constants: the input and registers are visible so that using them is E0302, not E0301
        cscope = Scope(m, registers=registers, access=access, input=(in_name, 64))
        lets: dict[str, Expr] = {}
        for r in rules:
            if r.kind == "let":
                if r.name in lets:
                    first = next(x.span for x in rules if x.kind == "let" and x.name == r.name)
                    self.bag.error("E0201", f"'{r.name}' is defined twice in regime '{d.name}'", r.span,
                                   ("first defined here", first))
                lets[r.name] = r.value
        named = {"lets": lets, "expand": self.resolve_tree}
        in_width = self.const(in_w, cscope, "input width", 1, 64)
        entry = self.const(simple["entry"][1], cscope, "entry size in bytes", 1, 32)
        if entry is not None and entry not in ENTRY_SIZES:
            # both models and the memory port move 4, 8, 16 or 32 bytes at a time (m_size)
            sizes = ", ".join(str(n) for n in ENTRY_SIZES[:-1]) + f" or {ENTRY_SIZES[-1]}"
            self.bag.error("E0420", f"entry size {entry} bytes is not supported: a table entry is {sizes} bytes "
                           f"(`entry 8;` is a 64-bit entry)", simple["entry"][1].span)
            entry = None
        # a bad width or entry size is reported already: go on with a stand-in to find the
        # regime's other errors too, but do not declare the regime
        broken = in_width is None or entry is None
        in_width, entry = in_width or 64, entry or 8
        ctx_scope = Scope(m, registers=registers, access=access, input=(in_name, in_width), **named)
        root = self.resolve(simple["root"][1], ctx_scope)
        input_size = None
        if in_size is not None:
            # registers only: the input's own bits cannot say how many of them count
            input_size = self.resolve(in_size, Scope(m, registers=registers, **named))
            broken = broken or input_size is None
        start = self.resolve(simple["start"][1], ctx_scope)
        pointer = self.addr_map(simple["pointer"][1], cscope)
        frame = self.addr_map(simple["frame"][1], cscope)
        broken = broken or pointer is None or frame is None

        levels = []
        for lv in levels_ast:
            # 1..7 counting down to the leaf, or 0..7 counting up from the root (walk_order)
            number = self.const(lv.number, cscope, "level number", 0, 7)
            table, leaf = self.layout_ref(m, lv.table), self.layout_ref(m, lv.leaf)
            if number is None or (lv.table is not None and table is None) or (lv.leaf is not None and leaf is None):
                continue
            for kind, span, first in lv.stmt_spans.get("_dups", []):
                self.bag.error("E0201", f"'{kind}' is given twice in level '{lv.name}'", span, ("first given here", first))
            if lv.index is None:
                self.bag.error("E0306", f"level '{lv.name}' needs an 'index' slice of '{in_name}', the input bits "
                               f"that select its entry: add `index {in_name}[HIGH:LOW];`", lv.span)
                continue
            if table is None and leaf is None:
                self.bag.error("E0306", f"level '{lv.name}' needs a 'table' or a 'leaf' format: add `table FORMAT;` "
                               "for entries that point to a table of the next level, `leaf FORMAT page SIZE;` for "
                               "entries that map a page, or both", lv.span)
                continue
            idx = self.resolve(lv.index, ctx_scope)
            if idx is None:
                continue
            if not (idx.op == "slice" and idx.args[0].op == "ref" and idx.args[0].kind == "input"):
                self.bag.error("E0307", f"the index of level '{lv.name}' must be a constant slice of '{in_name}', like {in_name}[20:12]", lv.index.span)
                continue
            when = None
            if leaf is not None and lv.leaf_when is not None:
                when = self.resolve(lv.leaf_when, Scope(m, registers=registers, entry_formats=[leaf], **named))
                if when is None:
                    continue
            own_frame = self.addr_map(lv.frame, cscope) if lv.frame else ()
            if own_frame is None:
                continue
            shift_expr = None
            if leaf is not None and lv.page_is_shift:
                shift_expr = self.resolve(lv.page, Scope(m, registers=registers, entry_formats=[leaf], **named))
                if shift_expr is None:
                    continue
                # the smallest page: the frame map's lowest address bit
                frame_mask = ir.addr_mask(own_frame or frame or (), leaf)
                page = 1 << ((frame_mask & -frame_mask).bit_length() - 1 if frame_mask else 12)
            else:
                page = self.const(lv.page, cscope, "page size", 1, 1 << 64) if leaf is not None else None
            shift = 0
            if page is not None:
                if page & (page - 1):
                    low = idx.args[2].value
                    self.bag.error("E0308", f"page size {page} is not a power of two: the page offset is the low "
                                   f"bits of the input; the index of level '{lv.name}' starts at bit {low}, so its "
                                   f"pages are `page {size_text(1 << low)}`", lv.page.span)
                    continue
                shift = page.bit_length() - 1
            levels.append(ir.Level(number=number, name=lv.name, index_hi=idx.args[1].value, index_lo=idx.args[2].value,
                                   table=table.name if table else None, leaf=leaf.name if leaf else None,
                                   leaf_when=when, page_shift=shift, page_shift_expr=shift_expr, frame=own_frame,
                                   cite=lv.cite,
                                   doc=lv.doc, span=lv.span))
        levels, flip, base = self.walk_order(levels, d)
        broken = broken or flip is None
        flip = flip or 0
        start_written = start
        if (flip or base) and start is not None:
            start = walk_number(start, flip, base)
        level_width = max(3, max((lv.shown for lv in levels), default=1).bit_length(),
                          max((lv.number for lv in levels), default=1).bit_length())
        entry_formats = unique([self._lay(m, n) for lv in levels for n in (lv.table, lv.leaf) if n])
        leaf_formats = unique([self._lay(m, lv.leaf) for lv in levels if lv.leaf])

        accs_ast = [r for r in rules if r.kind == "accumulate"]
        acc_widths = {}
        for r in accs_ast:
            init = self.resolve(r.init, ctx_scope)
            acc_widths[r.name] = max(1, init.width if init is not None else 1)
        walk_scope = Scope(m, registers=registers, access=access, input=(in_name, in_width), accumulators=acc_widths,
                           entry_formats=entry_formats, builtins={"rsvd": 1, "level": level_width}, **named)
        accumulators = []
        for r in accs_ast:
            first = next((a.span for a in accumulators if a.name == r.name), None)
            if first is not None:
                self.bag.error("E0201", f"accumulator '{r.name}' is defined twice; rename or delete one of them",
                               r.span, ("first defined here", first))
                continue
            init = self.resolve(r.init, ctx_scope)
            then = self.resolve(r.value, walk_scope)
            if init is None or then is None:
                continue
            width = max(init.width, then.width, 1)
            accumulators.append(ir.Accumulator(name=r.name, width=width, init=init, then=then, where=r.where,
                                               cite=r.cite, doc=r.doc, span=r.span))
        accumulators = self._widen_accumulators(accumulators, accs_ast, acc_widths, walk_scope)
        acc_widths = {a.name: a.width for a in accumulators}
        next_level = None
        if "next" in simple and (flip or base):
            self.bag.error("E0324", f"`next level` names levels counted down to level 1 at the leaf: expected "
                           f"the levels of regime '{d.name}' numbered so, not {'up from the root' if flip else 'down to 0'}; "
                           "number them down to 1, or drop `next level`", simple["next"][0])
            broken = True
        if "next" in simple:
            next_scope = Scope(m, registers=registers, access=access, input=(in_name, in_width),
                               entry_formats=entry_formats, builtins={"level": level_width}, **named)
            next_level = self.resolve(simple["next"][1], next_scope)
            broken = broken or next_level is None
        # with `next level`, a walk fault may read the level a pointer leads to (`next`) and
        # whether an input bit that indexes a skipped level is set (`skipped`)
        # `error`: the entry's read answered with an error (a fault that reads it is first, see below)
        walk_builtins = {"rsvd": 1, "level": level_width, "error": 1}
        if "next" in simple:
            walk_builtins |= {"next": max(level_width, next_level.width if next_level is not None else 1), "skipped": 1}
        fault_scope = Scope(m, registers=registers, access=access, input=(in_name, in_width),
                            entry_formats=entry_formats, builtins=walk_builtins, **named)
        check_scope = Scope(m, registers=registers, access=access, input=(in_name, in_width), accumulators=acc_widths,
                            leaf_formats=leaf_formats, builtins={"level": level_width}, **named)
        faults, checks, updates, seen, input_faults = [], [], [], {}, []
        record_names = [x.name for x in records_ast]
        for r in rules:
            if r.kind in ("fault", "check"):
                if r.name in seen:
                    self.bag.error("E0201", f"{r.kind} '{r.name}' is defined twice (faults and checks share one set of "
                                   "names, the fault kinds); rename or delete one of them", r.span,
                                   ("first defined here", seen[r.name]))
                    continue
                seen[r.name] = r.span
                if r.kind == "fault" and r.record and not self._fault_record_ok(r, record_names):
                    continue
                if r.kind == "fault" and r.where == "input":
                    # resolved where everything a walk fault reads is visible, so that a
                    # field or an accumulator is named in the error, not "undefined"
                    input_scope = copy.copy(fault_scope)
                    input_scope.accumulators = acc_widths
                    cond = self.resolve(r.when, input_scope)
                    if cond is not None and self._input_only(r, cond):
                        input_faults.append(ir.Rule(name=r.name, when=cond, where=r.where, record=r.record,
                                                    cite=r.cite, doc=r.doc, span=r.span))
                    continue
                scope = fault_scope if r.kind == "fault" else check_scope
                if r.kind == "fault" and r.format:
                    scope = self._format_fault_scope(m, r, levels, fault_scope)
                    if scope is None:
                        continue
                cond = self.resolve(r.when, scope)
                if cond is not None:
                    (faults if r.kind == "fault" else checks).append(
                        ir.Rule(name=r.name, when=cond, where=r.where, format=r.format, cite=r.cite, doc=r.doc,
                                span=r.span))
            elif r.kind == "set":
                # an update reads the fields of the entries it writes (as read from memory),
                # the access, the context and the accumulators (`as used`: as before this
                # entry; after success: with this entry's part)
                fmts = unique([self._lay(m, n) for lv in levels
                               for n, leaf in ((lv.table, False), (lv.leaf, True))
                               if n and (r.where == "each level" or r.where == ("leaf" if leaf else "table"))])
                up_scope = Scope(m, registers=registers, access=access, input=(in_name, in_width),
                                 accumulators=acc_widths, entry_formats=fmts,
                                 leaf_formats=leaf_formats if r.where == "leaf" else [],
                                 builtins={"level": level_width}, **named)
                when = self.resolve(r.when, up_scope) if r.when is not None else None
                value = self.resolve(r.value, up_scope) if r.value is not None else None
                if (r.when is None or when is not None) and (r.value is None or value is not None):
                    updates.append(ir.Update(field=r.name, where=r.where, when=when, value=value, used=r.used,
                                             cite=r.cite, span=r.span))
        if not self._error_faults_first(d.name, faults, input_faults):
            broken = True
        kinds = tuple(x.name for x in faults) + tuple(x.name for x in checks) + tuple(x.name for x in input_faults)
        # A record may read the accumulators and the leaf entry; `walked` says they are
        # meaningful (the fault is a final check, after the whole walk).
        rec_scope = Scope(m, registers=registers, access=access, input=(in_name, in_width), accumulators=acc_widths,
                          leaf_formats=leaf_formats, fault_kinds=kinds, **named,
                          builtins={"fault": max(1, len(kinds).bit_length()), "level": level_width, "walked": 1,
                                    "read_address": 64})
        record = self.record(m, simple["record"][1], rec_scope)
        others = [self.record(m, x, rec_scope) for x in records_ast[1:]]
        bypass, bypass_cite = None, ""
        if "bypass" in simple:
            cond, bypass_cite = simple["bypass"][1]
            bypass = self.bypass_condition(cond, Scope(m, registers=registers, access=access,
                                                                 input=(in_name, in_width), **named))
            broken = broken or bypass is None
        context = list(registers)
        cached = self.caches(m, cache_items, d.name, context, leaf_formats, levels, ())
        if broken or root is None or start is None or record is None or None in others or cached is None:
            return
        m.regimes[d.name] = ir.Regime(
            name=d.name, input_name=in_name, input_width=in_width, access=access, context=tuple(context),
            caches=cached[0], invalidations=cached[1],
            entry_bytes=entry, root=root, start=start, pointer=pointer, frame=frame, levels=tuple(levels),
            faults=tuple(faults), checks=tuple(checks), accumulators=tuple(accumulators), updates=tuple(updates),
            record=record, next_level=next_level, flip=flip, base=base, input_size=input_size,
            start_written=start_written if flip or base else None, cite=d.cite, doc=d.doc, span=d.span,
            input_faults=tuple(input_faults), records=tuple(others),
            access_groups=groups, bypass=bypass, bypass_cite=bypass_cite,
            let_defs=tuple(ir.Let(name=r.name, value=r.value, cite=r.cite, doc=r.doc, span=r.span)
                           for r in rules if r.kind == "let"))

    def _error_faults_first(self, regime: str, faults: list[ir.Rule], input_faults: list[ir.Rule]) -> bool:
        """E0334: a fault that reads `error` (the entry's read answered with an error, the
        entry reads as 0) is checked on every entry before any other fault, since no other
        fault can be judged on an entry that was not read: the first fault, with no `at`."""
        ok = True
        for i, r in enumerate([*faults, *input_faults]):
            if not any(x.kind == "builtin" and x.name == "error" for x in r.when.refs()):
                continue
            place = ("an input fault (it is checked before any read)" if r.where == "input"
                     else f"a fault `at {r.where}{' ' + r.format if r.format else ''}`" if r.where or r.format
                     else f"fault number {i + 1} of regime '{regime}'" if i else "")
            if place:
                self.bag.error("E0334", f"expected the fault that reads `error` (fault '{r.name}') to be the first "
                               f"fault of regime '{regime}' and to apply to every entry, not {place}: an entry whose "
                               "read answered with an error holds no bits, so no other fault can be judged before it",
                               r.span)
                ok = False
        return ok

    def caches(self, m: Module, items: list, owner: str, context: list[str], leaf_formats: list[ir.Layout],
               levels, host_levels, entry_bytes: int = 8) -> tuple[tuple[ir.Cache, ...], tuple[ir.Invalidation, ...]] | None:
        """The `cache` and `invalidate` declarations of a translation (regime or nested
        composition `owner`). Their expressions read any register; each register read is
        appended to `context` (the request carries it even when no walk reads it). `leaf_formats`:
        the input stage's leaf formats (`leaf.F` in `global when`). None after an error."""
        all_regs = self.all_registers(m)
        before = len(self.bag.errors)
        read: list[str] = []
        if items:
            where = items[0].span
            if not any(lv.leaf for lv in levels):
                self.bag.error("E0452", f"expected a leaf level in '{owner}' for its caches of final translations, "
                               "not a walk with no leaf (`leaf FORMAT page SIZE;`)", where)
                return None
            dynamic = next((lv for lv in (*levels, *host_levels) if lv.leaf and lv.page_shift_expr is not None), None)
            if dynamic is not None:
                self.bag.error("E0450", f"expected leaves of constant page sizes under a cache (its key is the input "
                               f"page), not level '{dynamic.name}', whose page size is read from the entry "
                               "(`page shift`): caches of such translations are not supported yet", where,
                               (f"level '{dynamic.name}' is declared here", dynamic.span))
                return None

        def note(e: Expr | None) -> Expr | None:
            for r in e.refs() if e is not None else ():
                if r.kind == "ctx" and r.name not in read:
                    read.append(r.name)
            return e

        caches: list[ir.Cache] = []
        first: dict[str, Span] = {}
        for c in (x for x in items if isinstance(x, ast.Cache)):
            if c.name in first:
                self.bag.error("E0440", f"cache '{c.name}' is declared twice in '{owner}': expected one declaration "
                               "per name; rename or delete one", c.span, ("first declared here", first[c.name]))
                continue
            first[c.name] = c.span
            cache = self._cache(m, c, all_regs, leaf_formats, note)
            if cache is not None and self._walk_cache_ok(c, cache, owner, levels, host_levels, caches,
                                                                         entry_bytes):
                caches.append(cache)
        by_name = {c.name: c for c in caches}
        events: list[ir.Invalidation] = []
        seen: dict[str, Span] = {}
        for v in (x for x in items if isinstance(x, ast.Invalidate)):
            if v.name in seen:
                self.bag.error("E0440", f"invalidation '{v.name}' is declared twice in '{owner}': expected one "
                               "declaration per name; rename or delete one", v.span, ("first declared here", seen[v.name]))
                continue
            seen[v.name] = v.span
            ev = self._invalidation(m, v, all_regs, by_name, first, note)
            if ev is not None:
                events.append(ev)
        for name in read:
            if name not in context:
                context.append(name)
        # a `set` writes a register the translation reads (a walk, a tag, a drop)
        for ev in events:
            for b in ev.sets:
                if b.name not in context:
                    self.bag.error("E0448", f"`set {b.name}` writes a register of the request: expected a context "
                                   f"register of '{owner}' ({', '.join(context) or 'none'}), not '{b.name}', which "
                                   "nothing of the translation reads", b.span)
        if len(self.bag.errors) > before:
            return None
        return tuple(caches), tuple(events)

    def _cache(self, m: Module, c: ast.Cache, all_regs: dict, leaf_formats: list, note,
               tag_scope: Scope | None = None) -> ir.Cache | None:
        """One cache. `tag_scope`: a unit's (its event, registers and structures), whose
        caller has checked what the cache holds; else a translation's (its registers)."""
        tags: list[ir.CacheTag] = []
        settings: dict[str, ast.CacheSetting] = {}
        glob: ast.CacheGlobal | None = None
        ok = True
        in_unit = tag_scope is not None
        if c.source is not None and not in_unit:
            self.bag.error("E0465", f"expected `holds translations` in a translation (its own final translations), "
                           f"not `holds {c.holds} {'of walk ' if c.source[0] == 'walk' else ''}{c.source[1]}`: "
                           "a cache holds a walk's translations or a structure only in a unit", c.source[2])
            ok = False
        elif not in_unit and c.holds not in ("translations", "tables", "host tables", "host translations"):
            self.bag.error("E0441", f"expected `holds translations` (final translations), `holds tables of levels "
                           f"N, ...` (a paging-structure cache), `holds host tables of levels N, ...` (one of the "
                           f"host walk) or `holds host translations` (a nested TLB), not `holds {c.holds}`",
                           c.holds_span)
            ok = False
        tag_scope = tag_scope or Scope(m, registers=all_regs)
        for item in c.items:
            if isinstance(item, ast.CacheTag):
                again = next((t for t in tags if t.name == item.name), None)
                shadow = self._shadows(m, item.name, all_regs)
                if shadow:
                    self.bag.error("E0440", f"tag '{item.name}' of cache '{c.name}': expected a name that is not "
                                   f"{shadow} (a drop condition reads the tag by its bare name)", item.span)
                    ok = False
                    continue
                if again is not None or item.name == "global":
                    why = ("`entry.global` is the entry's global bit" if item.name == "global"
                           else "each tag has one name")
                    self.bag.error("E0440", f"tag '{item.name}' of cache '{c.name}': expected a new name, not one "
                                   f"given already ({why})", item.span,
                                   *([("first given here", again.span)] if again is not None else []))
                    ok = False
                    continue
                value = note(self.resolve(item.value, tag_scope))
                if value is None:
                    ok = False
                    continue
                tags.append(ir.CacheTag(name=item.name, value=value, cite=item.cite, span=item.span))
            elif isinstance(item, (ast.CacheKey, ast.CacheFill)):
                if c.holds != "call":  # a call cache's own items: elaborate/unit.py reads them
                    what = "`key ... page N`" if isinstance(item, ast.CacheKey) else "`fill when`"
                    self.bag.error("E0475", f"expected {what} only in a cache that holds a call (`holds call C`), "
                                   f"not in cache '{c.name}' (`holds {c.holds}`), whose entries are keyed by "
                                   "what it holds", item.span)
                    ok = False
            elif isinstance(item, ast.CacheGlobal):
                if glob is not None:
                    self.bag.error("E0201", f"'global when' is given twice in cache '{c.name}'", item.span,
                                   ("first given here", glob.span))
                    ok = False
                    continue
                glob = item
            else:
                if item.kind in settings:
                    what = {"geometry": "entries ... ways", "replace": "replace", "pages": "pages"}[item.kind]
                    self.bag.error("E0201", f"'{what}' is given twice in cache '{c.name}'", item.span,
                                   ("first given here", settings[item.kind].span))
                    ok = False
                    continue
                settings[item.kind] = item
        global_when, ignores = None, []
        if glob is not None and c.holds != "translations" and ok:
            self.bag.error("E0456", f"expected `global when` only in a cache of final translations, not in cache "
                           f"'{c.name}' (`holds {c.holds}`): an entry of a partial walk belongs to its tags, never "
                           "to every address space (see `virtspec explain E0456`)", glob.span)
            ok = False
        if c.holds in ("tables", "host tables") and "pages" in settings and ok:
            self.bag.error("E0457", f"expected no `pages` in cache '{c.name}' (`holds {c.holds}`): an entry is keyed by "
                           "the input bits from its level's index up, not by a page; delete the line",
                           settings["pages"].span)
            ok = False
        if glob is not None and ok:
            global_when = note(self.resolve(glob.when, Scope(m, registers=all_regs, leaf_formats=leaf_formats)))
            ok = ok and global_when is not None
            names = [t.name for t in tags]
            for name, span in glob.ignores:
                if name not in names:
                    close = suggest(name, names)
                    hint = f"; did you mean '{close}'?" if close else ""
                    self.bag.error("E0445", f"expected a tag of cache '{c.name}' ({', '.join(names) or 'it has none'}) "
                                   f"after `ignores`, not '{name}'{hint}", span)
                    ok = False
                elif name not in ignores:
                    ignores.append(name)
        missing = [k for k in ("geometry", "replace") if k not in settings]
        if missing:
            syntax = {"geometry": "`entries N ways W;`", "replace": "`replace lru;` (or plru, fifo)"}
            self.bag.error("E0306", f"cache '{c.name}' is missing {join_and(syntax[k] for k in missing)}", c.span)
            return None
        geo = settings["geometry"]
        entries = self.const(geo.value[0], tag_scope, "the number of entries", 1, 1 << 16)
        ways = self.const(geo.value[1], tag_scope, "the number of ways", 1, 1 << 16)
        replace, replace_span = settings["replace"].value
        pages, pages_span = settings["pages"].value if "pages" in settings else ("split", c.span)
        if replace not in ("lru", "plru", "fifo"):
            self.bag.error("E0443", f"expected a replacement policy lru, plru or fifo, not '{replace}'", replace_span)
            ok = False
        if pages not in ("split", "whole"):
            self.bag.error("E0444", f"expected `pages split` (a large page is cached one smallest page at a time) or "
                           f"`pages whole` (one entry for the whole page), not '{pages}'", pages_span)
            ok = False
        if entries is not None and ways is not None:
            sets = entries // ways
            if entries % ways or sets & (sets - 1):
                why = (f"{entries} is not a multiple of {ways}" if entries % ways
                       else f"{sets} sets, not a power of two")
                self.bag.error("E0442", f"expected entries a multiple of ways with a power-of-two number of sets "
                               f"(entries / ways), not `entries {entries} ways {ways}`: {why}", geo.span)
                ok = False
            elif replace == "plru" and ways & (ways - 1):
                self.bag.error("E0443", f"expected a power-of-two number of ways for `replace plru` (a tree of "
                               f"ways - 1 bits), not {ways}: use lru or fifo, or 2, 4, 8... ways", replace_span)
                ok = False
            elif pages == "whole" and sets != 1:
                self.bag.error("E0444", f"expected one set for `pages whole` (an entry for a whole large page "
                               f"answers for small pages of every set), not {sets}: make ways equal to entries "
                               f"(`entries {entries} ways {entries}`) or use `pages split`", pages_span)
                ok = False
        if entries is None or ways is None or not ok:
            return None
        cite = "; ".join(x for x in (geo.cite, settings["replace"].cite,
                                     settings["pages"].cite if "pages" in settings else "") if x)
        if in_unit and (glob is not None or pages != "split"):
            span = glob.span if glob is not None else pages_span
            self.bag.error("E0468", f"expected no {'`global when`' if glob is not None else '`pages whole`'} in "
                           f"cache '{c.name}' of a unit: a unit's caches keep every entry under its tags, one "
                           "smallest page at a time (`pages split`)", span)
            return None
        # `holds host tables`: the same kind as `holds tables` (a paging-structure cache), of the host walk
        holds, stage = ("tables", "host") if c.holds == "host tables" else (c.holds, "guest")
        return ir.Cache(name=c.name, holds=holds, stage=stage, levels=tuple(n for n, _sp in c.levels), tags=tuple(tags),
                        global_when=global_when,
                        source=c.source[0] if c.source else "", of=c.source[1] if c.source else "",
                        global_ignores=tuple(ignores), global_cite=glob.cite if glob is not None else "",
                        entries=entries, ways=ways, replace=replace, pages=pages,
                        cite=c.cite or cite, doc=c.doc, span=c.span)

    def _walk_cache_ok(self, c: ast.Cache, cache: ir.Cache, owner: str, levels, host_levels, before: list,
                       entry_bytes: int) -> bool:
        """The rules of the walk caches (issue 15, sections 1-2): `of levels` exactly on a
        paging-structure cache, each a level of the input stage whose entry can be a pointer
        (E0453); a nested TLB only in a nested composition (E0454); in a nested composition a
        paging-structure entry holds the next table's host-physical address, so each table
        below a cached level fits in one smallest host page (E0455); one cache of each walk
        kind per translation (E0458)."""
        ok = True
        if cache.holds == "tables" and cache.stage == "host":
            return self._host_tables_ok(c, cache, owner, host_levels, before)
        if cache.holds != "tables":
            if c.levels:
                self.bag.error("E0453", f"expected `of levels` only after `holds tables` (a paging-structure cache), "
                               f"not after `holds {cache.holds}`", c.levels_span)
                return False
        elif not c.levels:
            self.bag.error("E0453", f"expected `holds tables of levels N, ...` naming the levels whose entries cache "
                           f"'{c.name}' holds, not `holds tables` alone", c.holds_span)
            return False
        by_shown = {lv.shown: lv for lv in levels}
        pointers = [lv.shown for lv in levels if lv.table]
        seen: list[int] = []
        for n, span in c.levels:
            lv = by_shown.get(n)
            if lv is None or not lv.table or n in seen:
                why = ("it is listed twice" if n in seen else f"there is no level {n}" if lv is None
                       else f"level {n} ('{lv.name}') has no `table` format: its entry is never a pointer")
                self.bag.error("E0453", f"expected a level whose entry can be a pointer ({', '.join(map(str, pointers)) or 'none'}) "
                               f"after `of levels` in cache '{c.name}', not {n}: {why}", span)
                ok = False
            seen.append(n)
        if cache.holds == "host translations" and not host_levels:
            self.bag.error("E0454", f"expected `holds host translations` (a nested TLB: the host stage's translations "
                           f"of guest-physical pages) only in a nested composition, not in regime '{owner}', which has "
                           "no host stage; use `holds translations`", c.holds_span)
            ok = False
        if ok and cache.holds == "tables" and host_levels:
            host_g = min(lv.page_shift for lv in host_levels if lv.leaf)
            for lv in levels:
                size = (lv.index_hi - lv.index_lo + 1) + (entry_bytes.bit_length() - 1)
                if lv.number < max(by_shown[n].number for n in cache.levels) and size > host_g:
                    self.bag.error("E0455", f"expected each table below a cached level to fit in one smallest host page "
                                   f"(2**{host_g} bytes) in cache '{c.name}', not level '{lv.name}''s table of 2**{size} "
                                   "bytes: a combined paging-structure entry holds the next table's host-physical "
                                   "address, one host page", c.levels_span)
                    ok = False
                    break
        kind = next((x for x in before if x.holds == cache.holds and x.stage == cache.stage
                     and x.holds != "translations"), None)
        if ok and kind is not None:
            self.bag.error("E0458", f"expected one cache that holds {cache.holds} in '{owner}', not a second one "
                           f"('{cache.name}' after '{kind.name}'): a walk resumes from one paging-structure cache and "
                           "asks one nested TLB; list more levels in the first", c.span)
            ok = False
        return ok

    def _host_tables_ok(self, c: ast.Cache, cache: ir.Cache, owner: str, host_levels, before: list) -> bool:
        """The rules of a paging-structure cache of the host walk (`holds host tables of
        levels N, ...`, issue 15 section 4): only in a nested composition, whose host walk
        it caches (E0459); `of levels` naming host levels whose entry can be a pointer, each
        once (E0460); one per translation (E0461)."""
        if not host_levels:
            self.bag.error("E0459", f"expected `holds host tables` (a paging-structure cache of the host walk) only "
                           f"in a nested composition, not in regime '{owner}', which has no host stage; use `holds "
                           "tables of levels N, ...`", c.holds_span)
            return False
        pointers = [lv.shown for lv in host_levels if lv.table]
        if not c.levels:
            self.bag.error("E0460", f"expected `holds host tables of levels N, ...` naming the host levels whose "
                           f"entries cache '{c.name}' holds ({', '.join(map(str, pointers)) or 'none'}), not `holds "
                           "host tables` alone", c.holds_span)
            return False
        by_shown = {lv.shown: lv for lv in host_levels}
        ok = True
        seen: list[int] = []
        for n, span in c.levels:
            lv = by_shown.get(n)
            if lv is None or not lv.table or n in seen:
                why = ("it is listed twice" if n in seen else f"the host stage has no level {n}" if lv is None
                       else f"host level {n} ('{lv.name}') has no `table` format: its entry is never a pointer")
                self.bag.error("E0460", f"expected a host level whose entry can be a pointer "
                               f"({', '.join(map(str, pointers)) or 'none'}) after `of levels` in cache '{c.name}', "
                               f"not {n}: {why}", span)
                ok = False
            seen.append(n)
        again = next((x for x in before if x.holds == "tables" and x.stage == "host"), None)
        if ok and again is not None:
            self.bag.error("E0461", f"expected one cache that holds host tables in '{owner}', not a second one "
                           f"('{cache.name}' after '{again.name}'): a host walk resumes from one paging-structure "
                           "cache; list more levels in the first", c.span)
            ok = False
        return ok

    @staticmethod
    def _shadows(m: Module, name: str, registers: dict) -> str:
        """What a tag or operand named `name` would hide in a drop condition ("" nothing)."""
        if name in registers:
            return f"a register ('{name}')"
        if name in m.params:
            return f"a parameter ('{name}')"
        return ""

    def _invalidation(self, m: Module, v: ast.Invalidate, all_regs: dict, caches: dict, declared: dict,
                      note, unit: bool = False) -> ir.Invalidation | None:
        """One invalidation. In a unit (`unit`) a drop does not read a tag by its bare name:
        a unit's tags read the event and structures, which an invalidation has not."""
        ok = True
        operands: list[ir.EventField] = []
        scope = Scope(m, registers=all_regs)
        for f in v.operands:
            again = next((o for o in operands if o.name == f.name), None)
            if again is not None:
                self.bag.error("E0440", f"operand '{f.name}' of invalidation '{v.name}' is given twice: expected "
                               "one operand per name", f.span, ("first given here", again.span))
                ok = False
                continue
            why = identifier_problem(f.name)
            if why:
                self.bag.error("E0202", identifier_message("operand", f.name, why), f.span)
                ok = False
                continue
            shadow = self._shadows(m, f.name, all_regs)
            if shadow:
                self.bag.error("E0440", f"operand '{f.name}' of invalidation '{v.name}': expected a name that is not "
                               f"{shadow}, which the event's expressions could no longer read", f.span)
                ok = False
                continue
            tagged = None if unit else next((c.name for c in caches.values() if c.tag(f.name) is not None), None)
            if tagged is not None:
                self.bag.error("E0440", f"operand '{f.name}' of invalidation '{v.name}': expected a name that is not "
                               f"a tag of cache '{tagged}' (a drop condition reads the tag by its bare name)", f.span)
                ok = False
                continue
            width = self.const(f.width, scope, f"width of operand '{f.name}'", 1, 64)
            if width is None:
                ok = False
                continue
            operands.append(ir.EventField(name=f.name, width=width, span=f.span))
        widths = {o.name: o.width for o in operands}
        drops = []
        for dr in v.drops:
            cache = caches.get(dr.cache)
            if cache is None:
                if dr.cache not in declared:
                    close = suggest(dr.cache, list(declared))
                    hint = (f"; did you mean '{close}'?" if close else
                            f": declare it with `cache {dr.cache} holds translations {{ ... }}`")
                    self.bag.error("E0449", f"expected a cache of this translation ({', '.join(declared) or 'none'}) "
                                   f"after `drop`, not '{dr.cache}'{hint}", dr.cache_span)
                ok = False
                continue
            when = None
            if dr.when is not None:
                tag_widths = {t.name: t.value.width for t in cache.tags}
                entry = dict(tag_widths, **({"global": 1} if cache.holds == "translations" else {}))
                dscope = Scope(m, registers=all_regs, operands=widths, cache_tags={} if unit else tag_widths,
                               entry_tags=entry, cache_name=cache.name, cache_source=cache.source)
                when = note(self.resolve(dr.when, dscope))
                if when is None:
                    ok = False
                    continue
            drops.append(ir.Drop(cache=cache.name, when=when, span=dr.span))
        sets = []
        for b in v.sets:
            if b.name not in all_regs:
                close = suggest(b.name, list(all_regs))
                hint = f"; did you mean '{close}'?" if close else ""
                self.bag.error("E0448", f"expected a context register after `set`, not '{b.name}'{hint}", b.span)
                ok = False
                continue
            value = note(self.resolve(b.value, Scope(m, registers=all_regs, operands=widths)))
            if value is None:
                ok = False
                continue
            sets.append(ir.Binding(name=b.name, value=value, span=b.span))
        if not ok:
            return None
        return ir.Invalidation(name=v.name, operands=tuple(operands), drops=tuple(drops), sets=tuple(sets),
                               cite=v.cite, doc=v.doc, span=v.span)

    def _fault_record_ok(self, r: ast.Rule, names: list[str]) -> bool:
        """`record NAME` on a fault: only an input fault names its record (walk faults
        report the first), and the name is one of the regime's records (E0315)."""
        span = r.record_span or r.span
        if r.where != "input":
            self.bag.error("E0315", f"expected `at input` on a fault that names its record, not a walk fault: walk "
                           f"faults and checks report the regime's first record ('{names[0] if names else '?'}'); "
                           f"write `fault {r.name} at input when ... record {r.record};` for a check before the walk, "
                           "or drop `record`", span)
            return False
        if r.record not in names:
            close = suggest(r.record, names)
            self.bag.error("E0315", f"expected one of the regime's records ({', '.join(names) or 'none'}), not "
                           f"'{r.record}'" + (f"; did you mean '{close}'?" if close else
                                              f": declare it with `record {r.record} {{ FIELD : WIDTH = EXPR; }}`"),
                           span)
            return False
        return True

    def _input_only(self, r: ast.Rule, cond: Expr) -> bool:
        """An input fault reads the input, access kinds, context registers, parameters
        and `let`s of those: nothing the walk reads from memory or accumulates (E0314)."""
        bad = next((x for x in cond.refs() if x.kind not in ("input", "access", "ctx")), None)
        if bad is None:
            return True
        what = {"field": "entry field", "leaf": "leaf field", "acc": "accumulator"}.get(bad.kind, "walk value")
        self.bag.error("E0314", f"expected the input, an access kind, a context register or a parameter in the "
                       f"condition of input fault '{r.name}', not {what} '{bad.name}': an input fault is checked "
                       "before the first memory reference; make it a walk fault (drop `at input`) to read entries",
                       bad.span if bad.span.line else r.span)
        return False

    def regime_instance(self, m: Module, d: ast.RegimeInstance) -> None:
        """`regime NAME = BASE with { REG = OTHER; ... };`: BASE's walk under its own name,
        reading register OTHER wherever BASE reads REG (the same width; each field BASE's
        expressions read must sit at the same bits of OTHER). Parameters are set by
        importing BASE's file `with { P = ...; }`, which elaborates its formats again."""
        if d.base.parts == (d.name,):
            self.bag.error("E0321", f"regime '{d.name}' is defined as an instance of itself: expected a regime "
                           "declared before it", d.base.span)
            return
        base = m.find("regimes", d.base.parts)
        if base is None:
            if not m.has_failed(d.base.text):
                self.bag.error("E0301", undefined(m, "regimes", d.base.text), d.base.span)
            return
        if d.adds:
            base = self._instance_adds(m, d, base)
            if base is None:
                return
        all_regs = self.all_registers(m)
        swap: dict[str, str] = {}
        ok = True
        for b in d.bindings:
            if b.name not in base.context:
                params = self._params_of(m, d.base.parts)
                what = "a parameter, set by importing its file `with { ... }`" if b.name in params else "not one"
                self.bag.error("E0319", f"expected a context register of regime '{base.name}', not '{b.name}' "
                               f"({what}); {its_names('context registers', base.context)}", b.span,
                               (f"regime '{base.name}' is declared here", base.span))
                ok = False
                continue
            if b.name in swap:
                self.bag.error("E0319", f"register '{b.name}' is bound twice; delete one", b.span)
                ok = False
                continue
            target = b.value.name if b.value.op == "name" else None
            lay = all_regs.get(target) if target else None
            if lay is None:
                self.bag.error("E0319", f"expected the name of a context register for '{b.name}', not "
                               f"'{self._text(b.value.span)}'", b.value.span)
                ok = False
                continue
            old = all_regs[b.name]
            if lay.width != old.width:
                self.bag.error("E0320", f"register '{target}' replaces '{b.name}' in regime '{base.name}': expected "
                               f"{old.width} bits, not {lay.width}", b.span, (f"'{target}' is declared here", lay.span))
                ok = False
                continue
            swap[b.name] = target
        if not ok:
            return
        clash = [(r, t) for r, t in swap.items() if t in base.context and t != r]
        if clash:
            r, t = clash[0]
            self.bag.error("E0321", f"'{r} = {t}' names a register regime '{base.name}' reads already: expected a "
                           "register it does not read, not a swap, chain or cycle of its own registers", d.span)
            return
        # a format's must-be-zero rule that reads a register is the format's, shared by every
        # regime that uses it: an instance cannot make it read another register
        formats = unique([n for lv in base.levels for n in (lv.table, lv.leaf) if n])
        for name in formats:
            lay = self._lay(m, name)
            for cond, _ in lay.mbz_conditional():
                reg = next((x.name for x in cond.refs() if x.kind == "ctx" and x.name in swap), None)
                if reg is not None:
                    self.bag.error("E0320", f"format '{lay.name}' of regime '{base.name}' makes bits must-be-zero by "
                                   f"register '{reg}' (`reserved ... if` or a register-bounded range): expected "
                                   f"a register its formats do not read, not '{reg}', which an instance cannot "
                                   f"rebind; declare the formats again for the instance's registers", d.span,
                                   (f"format '{lay.name}' is declared here", lay.span))
                    return
        for reg, target in swap.items():
            lay, old = all_regs[target], all_regs[reg]
            for f in old.fields:
                if not any(x.kind == "ctx" and x.name == reg and x.lo <= f.lo and f.hi < x.lo + x.width
                           for e in _regime_exprs(base) for x in e.refs()):
                    continue
                g = lay.field(f.name)
                if g is None or (g.hi, g.lo) != (f.hi, f.lo):
                    at = f"at [{g.hi}:{g.lo}]" if g is not None else "none"
                    self.bag.error("E0320", f"regime '{base.name}' reads {reg}.{f.name} [{f.hi}:{f.lo}]: expected "
                                   f"field '{f.name}' at the same bits of '{target}', not {at}", d.span,
                                   (f"'{target}' is declared here", lay.span))
                    ok = False
        if not ok:
            return
        m.regimes[d.name] = rename_registers(base, swap).model_copy(update={
            "name": d.name, "span": d.span, "cite": d.cite or base.cite, "doc": d.doc or base.doc,
            "instance_of": base.name, "instance_bindings": tuple(swap.items())})

    def _instance_adds(self, m: Module, d: ast.RegimeInstance, base: ir.Regime) -> ir.Regime | None:
        """BASE elaborated again with what the instance adds: its faults on `error` first (a
        read that answered with an error is judged before anything the entry holds, E0334;
        the base's fault kinds follow, one place later in the kinds a record compares with
        `fault`), and its record fields after those of the base's record of the same name.
        Elaborated in the base's file (its names), as if the base declared them; the base's
        other users keep the base as it is. None after an error."""
        parts = d.base.parts
        bm = m.imports[parts[0]] if len(parts) == 2 and parts[0] in m.imports else m
        decl = next((x for x in bm.ast.decls if getattr(x, "name", None) == parts[-1]), None)
        if not isinstance(decl, ast.Regime):
            root = f"regime '{base.instance_of}'" if base.instance_of else "the regime it instantiates"
            self.bag.error("E0356", f"regime '{d.name}' adds faults or record fields to '{d.base.text}', which is "
                           "itself an instance: expected a regime declared with its levels (`regime NAME { ... }`); "
                           f"add them to an instance of {root}, with the register bindings of both", d.base.span)
            return None
        faults = [x for x in d.adds if isinstance(x, ast.Rule)]
        records = {r.name: r for r in decl.items if isinstance(r, ast.Record)}
        ok = True
        for f in faults:
            if f.name in base.fault_kinds:
                self.bag.error("E0201", f"fault '{f.name}' that regime '{d.name}' adds is a fault kind of regime "
                               f"'{base.name}' already (faults and checks share one set of names); rename it",
                               f.span, (f"regime '{base.name}' is declared here", base.span))
                ok = False
            elif "error" not in f.when.names() or f.where:
                self.bag.error("E0354", f"expected fault '{f.name}', which regime '{d.name}' adds, to read `error` "
                               "and apply to every entry (`fault NAME when error;`), not "
                               f"{'a fault `at ' + f.where + '`' if f.where else 'one that does not read `error`'}: "
                               "an instance adds a fault on a read that answered with an error only, checked "
                               "before the base's faults; declare other faults in a regime of its own", f.span)
                ok = False
        for r in (x for x in d.adds if isinstance(x, ast.Record)):
            if r.name not in records:
                self.bag.error("E0355", f"expected a record of regime '{base.name}' to add fields to, not "
                               f"'{r.name}'; {its_names('records', tuple(records))}", r.span,
                               (f"regime '{base.name}' is declared here", base.span))
                ok = False
                continue
            records[r.name] = dataclasses.replace(records[r.name], fields=records[r.name].fields + r.fields)
        if not ok:
            return None
        items = tuple(faults) + tuple(records.get(x.name, x) if isinstance(x, ast.Record) else x for x in decl.items)
        saved = bm.regimes.pop(d.name, None)
        before = len(self.bag.errors)
        self.regime(bm, dataclasses.replace(decl, name=d.name, items=items))
        out = bm.regimes.pop(d.name, None)
        if saved is not None:
            bm.regimes[d.name] = saved
        if out is None or len(self.bag.errors) > before:
            return None
        added = tuple(f.name for f in faults) + tuple(f"{r.name}.{f.name}" for r in d.adds
                                                      if isinstance(r, ast.Record) for f in r.fields)
        return out.model_copy(update={"name": base.name, "instance_of": base.name, "instance_adds": added})

    @staticmethod
    def _params_of(m: Module, parts: tuple[str, ...]) -> dict:
        return m.imports[parts[0]].params if len(parts) == 2 and parts[0] in m.imports else m.params

    def access_kinds(self, items: list) -> tuple[tuple[str, ...], tuple[ir.AccessGroup, ...]]:
        """The access kinds of `access` items in order, and the groups whose kinds
        exclude each other (`access one of ...;`, `access at most one of ...;`). A group
        declares its kinds too when no plain `access` item did."""
        kinds: list[str] = []
        for _, span, (names, group) in items:
            if not group:
                self.names_ok(names, "access kind", span)
                kinds += [n for n in names if n not in kinds]
        groups, grouped = [], {}
        for _, span, (names, group) in items:
            if not group:
                continue
            self.names_ok(names, "access kind", span)
            if len(set(names)) < 2:
                self.bag.error("E0429", f"`access {group} of` expected two or more access kinds, not "
                               f"{len(set(names))}: a kind alone excludes nothing", span)
                continue
            again = [n for n in names if n in grouped]
            if again:
                self.bag.error("E0429", f"access kind '{again[0]}' expected in one exclusive group, not two: "
                               "merge the groups", span, ("first grouped here", grouped[again[0]]))
                continue
            for n in names:
                grouped[n] = span
                if n not in kinds:
                    kinds.append(n)
            groups.append(ir.AccessGroup(kinds=tuple(dict.fromkeys(names)), exactly=group == "one", span=span))
        return tuple(kinds), tuple(groups)

    def bypass_condition(self, cond: Expr, scope: Scope) -> Expr | None:
        """A `bypass when` condition: read before the walk, so only from the context
        registers and parameters (E0431 for the input, an access kind or an entry)."""
        e = self.resolve(cond, scope)
        if e is None:
            return None
        bad = [r for r in e.refs() if r.kind != "ctx"]
        if bad:
            what = RUNTIME_KINDS.get(bad[0].kind, bad[0].kind)
            self.bag.error("E0431", f"a bypass condition is decided before the walk: expected context registers "
                           f"and parameters, not {what} ('{bad[0].name}')", bad[0].span)
            return None
        return e

    def walk_order(self, levels: list[ir.Level], d: ast.Regime) -> tuple[list[ir.Level], int | None, int]:
        """The levels from the root down, the regime's `flip` (0: numbered down) and
        `base` (1: numbered down to 0 at the leaf, else 0).

        The level whose index holds the higher input bits is nearer the root, so the
        numbers count down to the leaf (4, 3, 2, 1) or up from the root (0, 1, 2, 3),
        whichever order the spec declares them in. Counting up, each level's walk number
        becomes flip - its number, and counting down to 0 its number + 1, so that the
        generators and the stimulus see levels counting down to 1 every way. None: the
        numbers follow neither order (E0322)."""
        by_number = sorted(levels, key=lambda lv: lv.number)
        down = [(a, b) for a, b in zip(by_number, by_number[1:]) if b.number != a.number and b.index_lo > a.index_lo]
        up = [(a, b) for a, b in zip(by_number, by_number[1:]) if b.number != a.number and b.index_lo < a.index_lo]
        if down and up:
            (a, b), (c, e) = down[0], up[0]
            self.bag.error("E0322", f"the levels of regime '{d.name}' are numbered in neither order: expected "
                           "numbers that count down to the leaf or up from the root (the level that indexes the "
                           f"top input bits highest or lowest), not level {b.number} indexing bits above level "
                           f"{a.number} but level {e.number} indexing bits below level {c.number}; number every "
                           "level one way", e.span, (f"level '{b.name}' is numbered the other way", b.span))
            return sorted(levels, key=lambda lv: -lv.number), None, 0
        upward = bool(up) or (not down and bool(levels) and by_number[0].number == 0)
        if not upward:
            if any(lv.number == 0 for lv in levels):
                # counting down to 0 at the leaf: walk numbers one higher, so that they
                # still count down to 1
                ranked = [lv.model_copy(update={"number": lv.number + 1, "label": lv.number}) for lv in levels]
                return sorted(ranked, key=lambda lv: -lv.number), 0, 1
            return sorted(levels, key=lambda lv: -lv.number), 0, 0
        flip = max(lv.number for lv in levels) + 1
        ranked = [lv.model_copy(update={"number": flip - lv.number, "label": lv.number}) for lv in levels]
        return sorted(ranked, key=lambda lv: -lv.number), flip, 0

    def addr_map(self, terms, scope: Scope) -> tuple[ir.AddrTerm, ...] | None:
        """A `pointer`/`frame` map: each term's shift is a constant address bit."""
        out = []
        for t in terms:
            shift = None
            if t.shift is not None:
                shift = self.const(t.shift, scope, "address bit of a map term", 0, MAX_WIDTH)
                if shift is None:
                    return None
            out.append(ir.AddrTerm(field=t.field, shift=shift, span=t.span))
        return tuple(out)

    def names_ok(self, names, what: str, span: Span, prefixed: bool = False) -> None:
        """Input and access names of a regime: unique, and usable in generated code.

        Checked here because the IR keeps no span of their item."""
        seen = set()
        for name in names:
            if name in seen:
                self.bag.error("E0201", f"{what} '{name}' is given twice", span)
            seen.add(name)
            why = identifier_problem(name, prefixed)
            if why:
                self.bag.error("E0202", identifier_message(what, name, why), span)

    def _format_fault_scope(self, m: Module, r, levels: list, fault_scope: Scope) -> Scope | None:
        """The scope of `fault NAME at leaf|table FORMAT`: the fields of that format only
        (the fault applies only where it is the entry read). E0325 when FORMAT is not a
        format of the regime in that role."""
        role = "leaf" if r.where == "leaf" else "table"
        names = list(dict.fromkeys(n for lv in levels for n in ((lv.leaf,) if role == "leaf" else (lv.table,)) if n))
        if r.format not in names:
            used = any(r.format in (lv.table, lv.leaf) for lv in levels)
            why = (f"the regime reads '{r.format}' only as a {'table' if role == 'leaf' else 'leaf'} entry" if used
                   else f"no level of the regime reads '{r.format}'")
            self.bag.error("E0325", f"fault '{r.name}' applies `at {role} {r.format}`: expected a {role} format of "
                           f"the regime ({', '.join(names) or 'none'}), not '{r.format}': {why}",
                           r.format_span or r.span)
            return None
        scope = copy.copy(fault_scope)
        scope.entry_formats = [self._lay(m, r.format)]
        return scope

    @staticmethod
    def _lay(m: Module, name: str) -> ir.Layout:
        found = m.layouts.get(name)
        if found is None:
            for sub in m.imports.values():
                found = Elaborator._lay(sub, name)
                if found is not None:
                    break
        return found

    def record(self, m: Module, d: ast.Record, scope: Scope) -> ir.Record | None:
        fields, seen, ok = [], {}, True
        for f in d.fields:
            if f.name in seen:
                self.bag.error("E0201", f"record field '{f.name}' is defined twice; rename or delete one of them",
                               f.span, ("first defined here", seen[f.name]))
                ok = False
                continue
            seen[f.name] = f.span
            if f.output:
                self.bag.error("E0306", f"record field '{f.name}' needs a value here: write '{f.name} : WIDTH = "
                               "EXPR;' (fields without a value belong to a unit's record)", f.span)
                ok = False
                continue
            if f.store is not None:
                self.bag.error("E0352", f"expected `{f.name} : WIDTH = EXPR;` in record '{d.name}' of a regime or "
                               f"nested translation, not a `store {f.store.text}`: only a unit's record is written "
                               "to memory (to its structures); a fault record is reported, not stored", f.store.span)
                ok = False
                continue
            width = self.const(f.width, scope, f"width of '{f.name}'", 1, 64)
            if width is None:
                ok = False
                continue
            if f.value is not None:
                v = self.resolve(f.value, scope)
                if v is None:
                    ok = False
                    continue
                enum = enum_name(self, m, f.enum)
                if f.enum is not None and enum is None:
                    ok = False
                    continue
                fields.append(ir.RecordField(name=f.name, width=width, value=v, enum=enum, doc=f.doc, span=f.span))
                continue
            bits = []
            for b in f.bits:
                rng = self.bits(b.bits, scope)
                v = self.resolve(b.value, scope)
                if rng is None or v is None:
                    ok = False
                    continue
                bits.append(ir.RecordBits(name=b.name, hi=rng[0], lo=rng[1], value=v, doc=b.doc, span=b.span))
            fields.append(ir.RecordField(name=f.name, width=width, bits=tuple(bits), doc=f.doc, span=f.span))
        return ir.Record(name=d.name, fields=tuple(fields), cite=d.cite, doc=d.doc, span=d.span) if ok else None

    def nested(self, m: Module, d: ast.Nested) -> None:
        def regime_of(ref: ast.Ref | None, what: str) -> ir.Regime | None:
            if ref is None:
                role = "the first stage" if what == "guest" else "the stage that translates every address of the guest"
                self.bag.error("E0306", f"nested '{d.name}' needs a '{what}' regime ({role}): add `{what} REGIME;`",
                               d.span)
                return None
            r = m.find("regimes", ref.parts)
            if r is None and not m.has_failed(ref.text):
                self.bag.error("E0301", undefined(m, "regimes", ref.text), ref.span)
            return r

        guest, host = regime_of(d.guest, "guest"), regime_of(d.host, "host")
        if guest is None or host is None:
            return
        all_regs = self.all_registers(m)
        bound = {b.name for b in d.host_bindings}
        context = list(guest.context)
        bindings = []
        outer_scope = Scope(m, registers=all_regs)
        for b in d.host_bindings:
            if b.name not in host.context:
                self.bag.error("E0309", f"'{b.name}' is not a context register of host regime '{host.name}'; "
                               f"{its_names('context registers', host.context)}", b.span,
                               (f"regime '{host.name}' is declared here", host.span))
                continue
            v = self.resolve(b.value, outer_scope)
            if v is None:
                continue
            for ref in v.refs():
                if ref.kind == "ctx" and ref.name not in context:
                    context.append(ref.name)
            bindings.append(ir.Binding(name=b.name, value=v, span=b.span))
        for reg in host.context:
            if reg not in bound and reg not in context:
                context.append(reg)
        stage_off = {}
        for stage in ("guest", "host"):
            given = getattr(d, f"{stage}_bypass")
            if given is None:
                continue
            cond = self.bypass_condition(given[0], Scope(m, registers=all_regs, access=guest.access,
                                                          input=(guest.input_name, guest.input_width)))
            if cond is None:
                return
            for ref in cond.refs():
                if ref.name not in context:
                    context.append(ref.name)
            stage_off[stage] = (cond, given[1])
        if (guest.bypass is not None or "guest" in stage_off) and guest.input_width > host.input_width:
            where = d.item_spans.get("guest_bypass", guest.span)
            self.bag.error("E0428", f"a switched-off guest stage passes its input to the host as a guest-physical "
                           f"address: expected an input of at most {host.input_width} bits (the input of host "
                           f"regime '{host.name}'), not {guest.input_width} bits of '{guest.input_name}'",
                           where, (f"host regime '{host.name}' is declared here", host.span))
            return
        regs = {n: all_regs[n] for n in context}
        gscope = Scope(m, registers=regs, access=guest.access)
        folds = self.nested_folds(m, d, guest, host, regs)
        if folds is None:
            return
        guest_accs = {a.name: a.width for a in guest.accumulators + folds}
        # the final access may depend on what the guest walk found (e.g. a user page)
        final_scope = Scope(m, registers=regs, access=guest.access, accumulators=guest_accs)
        maps = {}
        stages = [("table", d.table_access), ("final", d.final_access)]
        if d.update_access or d.update_when is not None:
            stages.append(("update", d.update_access))
        for stage, binds in stages:
            seen = {}
            out = []
            for b in binds:
                if b.name not in host.access:
                    self.bag.error("E0309", f"'{b.name}' is not an access kind of host regime '{host.name}'; "
                                   f"{its_names('access kinds', host.access)}", b.span,
                                   (f"regime '{host.name}' is declared here", host.span))
                    continue
                if b.name in seen:
                    self.bag.error("E0201", f"access '{b.name}' is given twice; delete one", b.span,
                                   ("first given here", seen[b.name]))
                    continue
                seen[b.name] = b.span
                v = self.resolve(b.value, final_scope if stage == "final" else gscope)
                if v is not None:
                    out.append(ir.Binding(name=b.name, value=v, span=b.span))
            missing = [a for a in host.access if a not in seen]
            if missing:
                self.bag.error("E0306", f"the {stage} access of nested '{d.name}' must give every access kind of host "
                               f"regime '{host.name}'; add {' '.join(f'`{a} = EXPR;`' for a in missing)} to "
                               f"`{stage} access {{ ... }}`", d.item_spans.get(f"{stage}_access", d.span))
            maps[stage] = tuple(out)
        host_fields = {f.name: f.width for f in host.record.fields}
        host_fields[host.input_name] = host.input_width
        level_width = max(3, max((lv.number for lv in host.levels), default=1).bit_length())
        # the guest's accumulators: their values after the guest entries walked before the host
        # fault (on the final address, the whole walk's rights: a fault report's linear-page rights)
        rec_scope = Scope(m, registers=regs, access=guest.access, host=host_fields, fault_kinds=host.fault_kinds,
                          input=(guest.input_name, guest.input_width),
                          accumulators=guest_accs,
                          builtins={"on_table": 1, "on_final": 1, "fault": max(1, len(host.fault_kinds).bit_length()),
                                    "level": level_width})
        if len(d.records) != 1:
            self.bag.error("E0306", f"nested '{d.name}' needs exactly one record for faults of the host stage, not "
                           f"{len(d.records)}: {'add' if not d.records else 'keep one'} "
                           "`record NAME { FIELD : WIDTH = EXPR; ... }`", d.span)
            return
        record = self.record(m, d.records[0], rec_scope)
        update_when = self.resolve(d.update_when, gscope) if d.update_when is not None else None
        for again in d.item_spans.get("updates_before_final_again", []):
            self.bag.error("E0318", f"nested '{d.name}' says twice when the guest's updates are written: expected "
                           "one `guest updates before final;` or `guest updates after final;`, not two; delete one",
                           again)
        guest_leaves = unique([self._lay(m, lv.leaf) for lv in guest.levels if lv.leaf])
        cached = self.caches(m, d.caches, d.name, context, guest_leaves, guest.levels, host.levels,
                             guest.entry_bytes)
        if record is None or (d.update_when is not None and update_when is None) or cached is None:
            return
        m.nested[d.name] = ir.Nested(caches=cached[0], invalidations=cached[1],name=d.name, guest=guest.name, host=host.name, host_bindings=tuple(bindings),
                                     table_access=maps["table"], final_access=maps["final"], record=record,
                                     update_access=maps.get("update", ()), update_when=update_when,
                                     updates_before_final=d.updates_before_final,
                                     guest_bypass=stage_off.get("guest", (None, ""))[0],
                                     guest_bypass_cite=stage_off.get("guest", (None, ""))[1],
                                     host_bypass=stage_off.get("host", (None, ""))[0],
                                     host_bypass_cite=stage_off.get("host", (None, ""))[1],
                                     context=tuple(context), folds=folds, cite=d.cite, doc=d.doc, span=d.span)

    def nested_folds(self, m, d, guest: ir.Regime, host: ir.Regime, regs: dict) -> tuple | None:
        """The folds of nested `d` (`accumulate NAME = INIT then EXPR over table;`), or None
        when one is wrong: INIT reads context registers and parameters, EXPR also the fold
        itself, the other folds and `host.ACC` (an accumulator of the host regime)."""
        if not d.folds:
            return ()
        out, ok = [], True
        taken = {a.name: a.span for a in guest.accumulators}
        widths = {}
        init_scope = Scope(m, registers=regs)
        for r in d.folds:
            init = self.resolve(r.init, init_scope)
            widths[r.name] = max(1, init.width if init is not None else 1)
        host_accs = {a.name: a.width for a in host.accumulators}
        scope = Scope(m, registers=regs, accumulators=widths, host_accs=host_accs)
        for r in d.folds:
            if r.name in taken:
                self.bag.error("E0344", f"fold '{r.name}' of nested '{d.name}' has the name of "
                               f"{'an accumulator of guest regime ' + repr(guest.name) if r.name in {a.name for a in guest.accumulators} else 'another fold'}: "
                               "the composition's record and access maps read both by that name; rename the fold",
                               r.span, ("first defined here", taken[r.name]))
                ok = False
                continue
            taken[r.name] = r.span
            init = self.resolve(r.init, init_scope)
            then = self.resolve(r.value, scope)
            if init is None or then is None:
                ok = False
                continue
            if not any(x.kind == "hacc" for x in then.refs()):
                self.bag.error("E0345", f"fold '{r.name}' of nested '{d.name}' reads no accumulator of the host "
                               f"translation: a fold over table reads takes in `host.NAME` ({its_names('accumulators', tuple(host_accs))} "
                               f"of host regime '{host.name}'); without one it folds nothing from the host: read `host.NAME`, "
                               "or make it an accumulator of the guest regime", r.span)
                ok = False
                continue
            out.append(ir.Accumulator(name=r.name, width=max(init.width, then.width, 1), init=init, then=then,
                                      where="over table", cite=r.cite, doc=r.doc, span=r.span))
        return tuple(out) if ok else None


def _regime_exprs(r: ir.Regime) -> list[Expr]:
    """Every expression of a regime (what reads its context registers)."""
    out = [r.root, r.start] + [x for x in (r.next_level, r.bypass) if x is not None]
    out += [lv.leaf_when for lv in r.levels if lv.leaf_when is not None]
    out += [lv.page_shift_expr for lv in r.levels if lv.page_shift_expr is not None]
    out += [x.when for x in r.faults + r.checks + r.input_faults]
    out += [a.init for a in r.accumulators] + [a.then for a in r.accumulators]
    out += [x for u in r.updates for x in (u.when, u.value) if x is not None]
    for rec in (r.record, *r.records):
        out += [f.value for f in rec.fields if f.value is not None] + [b.value for f in rec.fields for b in f.bits]
    if r.input_size is not None:
        out.append(r.input_size)
    return out


def _rename(e, swap: dict[str, str]):
    """`e` (any IR value) with every context reference to a register of `swap` renamed."""
    if isinstance(e, Expr):
        if e.op == "ref" and e.kind == "ctx" and e.name in swap:
            return e.model_copy(update={"name": swap[e.name]})
        if e.args:
            return e.model_copy(update={"args": tuple(_rename(a, swap) for a in e.args)})
        return e
    if isinstance(e, tuple):
        return tuple(_rename(x, swap) for x in e)
    if isinstance(e, ir.Node):
        return e.model_copy(update={k: _rename(getattr(e, k), swap) for k in type(e).model_fields
                                    if k not in ("span",) and isinstance(getattr(e, k), (Expr, tuple, ir.Node))})
    return e


def rename_registers(r: ir.Regime, swap: dict[str, str]) -> ir.Regime:
    """Regime `r` reading register swap[R] wherever it reads R."""
    out = _rename(r, swap)
    # an invalidation's `set REG` names the register it writes: the instance writes its own
    events = tuple(v.model_copy(update={"sets": tuple(b.model_copy(update={"name": swap.get(b.name, b.name)})
                                                      for b in v.sets)}) for v in out.invalidations)
    return out.model_copy(update={"context": tuple(swap.get(c, c) for c in r.context), "invalidations": events})


def project_folder(top: Path) -> Path | None:
    """The folder of the nearest pyproject.toml above the top-level spec (its project, as
    for the settings in config.py), or None."""
    try:
        project = find_pyproject(top)
    except OSError:  # an unreadable folder above: no project
        project = None
    return project.parent.resolve() if project is not None else None


def import_root(top: Path) -> Path:
    """The folder a compilation may import from: the spec's project folder, else the
    spec's own folder."""
    return project_folder(top) or top.parent.resolve()


def _near_file(path: Path, span: Span | None, root: Path | None) -> str:
    """A hint for a missing file: a spec file of a close name in the same folder, or
    how an import's path is resolved."""
    try:
        names = [p.name for p in path.parent.glob("*.vspec")]
    except OSError:
        names = []
    close = difflib.get_close_matches(path.name, names, n=1)
    if close:
        return f"; did you mean '{display_path(path.parent / close[0], root)}'?"
    return "; an import's path is relative to the folder of the file that imports it" if span is not None else ""


def display_path(path: Path, root: Path | None) -> str:
    """How a spec path appears in messages and generated headers: relative to `root`,
    the import root (the project's folder, that of the nearest pyproject.toml, when the
    spec is in one, else the spec's own folder), so that outputs do not depend on the
    working directory; a path outside it (a missing top-level file) relative to the
    working directory, else absolute."""
    for base in ([root] if root else []) + [Path.cwd()]:
        try:
            return str(path.relative_to(base))
        except ValueError:
            continue
    return str(path)


def flatten(main: Module, sha: str) -> ir.Spec:
    """Collect the declarations of a module and everything it imports into one Spec."""
    seen: list[Module] = []

    def walk(mod: Module):
        for sub in mod.imports.values():
            walk(sub)
        if all(mod is not s for s in seen):
            seen.append(mod)

    walk(main)
    header = main.ast.header
    spec = ir.Spec(
        name=header.name if header else Path(main.path).stem, path=main.path, sha256=sha,
        cite=header.cite if header else "", doc=header.doc if header else "",
        params=tuple(p for mod in seen for p in mod.params.values()),
        enums=tuple(e for mod in seen for e in mod.enums.values()),
        layouts=tuple(x for mod in seen for x in mod.layouts.values()),
        regimes=tuple(x for mod in seen for x in mod.regimes.values()),
        units=tuple(main.units.values()),
        span=header.span if header else Span(path=main.path))
    # the main file's compositions, after those of other files its units walk (a unit's
    # walk of an imported composition needs its IR; the main file's stay last, as `top` wants)
    walked = {w.regime for u in main.units.values() for w in u.walks if w.nested}
    own = list(main.nested.values())
    imported = [x for mod in seen if mod is not main for x in mod.nested.values() if x.name in walked]
    if own or imported:
        spec = spec.model_copy(update={"nested": tuple(imported + own)})
    if not main.nested and main.regimes:
        # the top translation is the last regime of the main file: keep it last
        own = list(main.regimes.values())
        others = [r for r in spec.regimes if all(r is not o for o in own)]
        spec = spec.model_copy(update={"regimes": tuple(others + own)})
    return spec


def spec_digest(sources: dict[str, str]) -> str:
    """sha256 over the text of the spec and every file it imports."""
    h = hashlib.sha256()
    for path in sorted(sources):
        h.update(Path(path).name.encode("utf-8", "surrogateescape") + b"\0" + sources[path].encode() + b"\0")
    return h.hexdigest()


def _registers_among(layouts: list[ir.Layout]) -> dict[str, ir.Layout]:
    """The registers among `layouts`, by name (apart for the test that counts the layouts
    Elaborator.all_registers looks at)."""
    return {lay.name: lay for lay in layouts if lay.kind == "register"}


def walk_number(e: Expr, flip: int, base: int = 0) -> Expr:
    """A level expression in spec numbers as walk numbers: flip - e for levels numbered
    up from the root, e + base for levels numbered down to 0; folded for a constant and
    for the constant arms of `c ? a : b` (the cycle-level model picks the start level by
    those); a value that is no level stays no level (a negative one is 0)."""
    if e.op == "num":
        return num(max(0, flip - e.value) if flip else e.value + base, e.span)
    if e.op == "cond":
        a, b = walk_number(e.args[1], flip, base), walk_number(e.args[2], flip, base)
        return e.model_copy(update={"args": (e.args[0], a, b), "width": max(a.width, b.width)})
    if not flip:
        return Expr(op="+", args=(e, num(base, e.span)), width=e.width + 1, span=e.span)
    width = max(e.width, flip.bit_length())
    return Expr(op="-", args=(num(flip, e.span), e), width=width, span=e.span)


def _arms(e: Expr, guard: Expr | None) -> list[tuple[int, Expr]] | None:
    """(value, condition under which `e` is that value) for each constant branch of a
    choice `c ? a : b` (nested either way); None if a branch is not a constant."""
    if e.op == "num":
        return [(e.value, guard if guard is not None else num(1, e.span))]
    if e.op != "cond":
        return None
    c = e.args[0] if e.args[0].width == 1 else Expr(op="!=", args=(e.args[0], num(0, e.span)), width=1, span=e.span)
    not_c = Expr(op="!", args=(c,), width=1, span=e.span)
    yes = _arms(e.args[1], c if guard is None else Expr(op="&&", args=(guard, c), width=1, span=e.span))
    no = _arms(e.args[2], not_c if guard is None else Expr(op="&&", args=(guard, not_c), width=1, span=e.span))
    return None if yes is None or no is None else yes + no


def _any(conds: list[Expr], span: Span) -> Expr:
    """The OR of truth values (the first alone when there is one)."""
    out = conds[0]
    for c in conds[1:]:
        out = Expr(op="||", args=(out, c), width=1, span=span)
    return out
