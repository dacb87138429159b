"""Parse spec text with the lark grammar into the syntax tree of ast.py."""
from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache

import lark
from lark import Lark, Token, Transformer, v_args

from codegen import shipped
from codegen.frontend import lark_cache
from codegen.frontend import syntax_tree as ast
from codegen.frontend.diagnostics import DiagnosticBag, Span
from codegen.ir.expr import Expr

GRAMMAR = shipped.grammar()
_SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
MAX_NESTING = 200  # tree depth; later stages recurse on expressions
MAX_CONST_BITS = 4096  # constants beyond this are mistakes, and would make folding slow
MAX_LINE = 16_384  # characters in a line: a longer one is minified or binary data, not a spec
MAX_TOKENS = 100_000  # tokens in a file (the largest shipped spec has 4,500): bounds parsing time


class _TooManyTokens(Exception):
    def __init__(self, token: Token):
        super().__init__(token)
        self.token = token


class OverBudget(Exception):
    """parse_counted stopped at the budget its caller gave: the file was not parsed to
    the end and gives no tree (the caller reports its own limit)."""


_COUNTING: ContextVar[list[int] | None] = ContextVar("virtspec_token_count", default=None)


class _TokenCounter:
    """Lark post-lexer that counts the tokens of the one lexing a parse does: parse_counted
    hands the count to the elaborator (MAX_LOADED_TOKENS) and stops at MAX_TOKENS (E0005),
    so no second pass over the text is needed for either. Outside parse_counted (Lark.lex)
    it only passes tokens on."""

    always_accept = ()

    def process(self, stream):
        box = _COUNTING.get()
        n = 0
        for tok in stream:
            n += 1
            if box is not None and n > box[1]:
                raise _TooManyTokens(tok)
            yield tok
        if box is not None:
            box[0] = n


@lru_cache(maxsize=1)
def parser() -> Lark:
    return lark_cache.build(GRAMMAR.read_text(), propagate_positions=True, maybe_placeholders=False,
                            postlex=_TokenCounter())


def _span(path: str, meta) -> Span:
    if getattr(meta, "empty", True):
        return Span(path=path)
    return Span(path=path, line=meta.line, col=meta.column, end_line=meta.end_line, end_col=meta.end_column)


def _tok_span(path: str, tok: Token) -> Span:
    return Span(path=path, line=tok.line or 1, col=tok.column or 1,
                end_line=tok.end_line or tok.line or 1, end_col=tok.end_column or (tok.column or 1) + len(tok))


def _unquote(tok: Token) -> str:
    body = str(tok)[1:-1]
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


@v_args(meta=True)
class _ToAst(Transformer):
    """One pass from the lark tree to ast.SpecFile; every node gets its span."""

    def __init__(self, path: str, bag: DiagnosticBag):
        super().__init__(visit_tokens=False)  # no callbacks on tokens: they are passed on as they are
        self.path, self.bag = path, bag
        self._callbacks: dict[str, object] = {}

    def _call_userfunc(self, tree, new_children=None):
        """lark's Transformer._call_userfunc, but each rule's callback is looked up once per
        file: lark's lookup builds a new v_args wrapper (functools.update_wrapper) for every
        node, a tenth of the time of parsing."""
        children = new_children if new_children is not None else tree.children
        try:
            f = self._callbacks[tree.data]
        except KeyError:
            f = self._callbacks[tree.data] = getattr(self, tree.data, None)
        if f is None:
            return self.__default__(tree.data, children, tree.meta)
        try:
            wrapper = getattr(f, "visit_wrapper", None)
            return wrapper(f, tree.data, children, tree.meta) if wrapper is not None else f(children)
        except lark.exceptions.GrammarError:
            raise
        except Exception as exc:
            raise lark.exceptions.VisitError(tree.data, tree, exc) from exc

    def sp(self, meta) -> Span:
        return _span(self.path, meta)

    # ---- small pieces
    def cite(self, meta, c):
        return ("cite", _unquote(c[0]))

    def doc(self, meta, c):
        return ("doc", _unquote(c[0]))

    def _opts(self, children):
        cite = next((v for k, v in (x for x in children if isinstance(x, tuple) and len(x) == 2 and x[0] in ("cite", "doc")) if k == "cite"), "")
        doc = next((v for k, v in (x for x in children if isinstance(x, tuple) and len(x) == 2 and x[0] in ("cite", "doc")) if k == "doc"), "")
        return cite, doc

    @staticmethod
    def _plain(children):
        return [c for c in children if not (isinstance(c, tuple) and len(c) == 2 and c[0] in ("cite", "doc"))]

    def ref(self, meta, c):
        return ast.Ref(tuple(str(t) for t in c), self.sp(meta))

    def bitrange(self, meta, c):
        return ast.BitRange(self._e(c[0]), self._e(c[1]) if len(c) > 1 else None, self.sp(meta))

    # ---- expressions
    def number(self, meta, c):
        """A literal; malformed or huge ones are reported here, with their own span."""
        span = _tok_span(self.path, c[0])
        text = str(c[0]).replace("_", "")
        scale = 1
        if text[-1] in _SUFFIX:
            scale, text = _SUFFIX[text[-1]], text[:-1]
        value = 0
        if text in ("0x", "0b"):
            self.bag.error("E0100", f"syntax error: number '{c[0]}' has no digits", span)
        elif len(text) > 1 and text[0] == "0" and text[1].isdigit():
            self.bag.error("E0100", f"syntax error: number '{c[0]}' has a leading zero (octal is not supported)", span)
        elif len(text) > MAX_CONST_BITS + 2 or (int(text, 0) * scale).bit_length() > MAX_CONST_BITS:
            self.bag.error("E0304", f"number is too large: constants are limited to {MAX_CONST_BITS} bits", span)
        else:
            value = int(text, 0) * scale
        return Expr(op="num", value=value, width=max(1, value.bit_length()), span=span)

    def _name_expr(self, r: ast.Ref) -> Expr:
        return Expr(op="name", name=r.text, span=r.span)

    def __default__(self, data, children, meta):
        raise lark.exceptions.GrammarError(f"unhandled rule {data}")

    def _bin(op):  # noqa: N805 - builds a method
        def method(self, meta, c):
            return Expr(op=op, args=(self._e(c[0]), self._e(c[1])), span=self.sp(meta))
        return method

    def _e(self, x):
        return self._name_expr(x) if isinstance(x, ast.Ref) else x

    lor, land, bor, bxor, band = _bin("||"), _bin("&&"), _bin("|"), _bin("^"), _bin("&")
    eq, ne, lt, le, gt, ge = _bin("=="), _bin("!="), _bin("<"), _bin("<="), _bin(">"), _bin(">=")
    shl, shr, add, sub, mul, div, mod = _bin("<<"), _bin(">>"), _bin("+"), _bin("-"), _bin("*"), _bin("/"), _bin("%")
    bit = _bin("bit")

    def lnot(self, meta, c):
        return Expr(op="!", args=(self._e(c[0]),), span=self.sp(meta))

    def bnot(self, meta, c):
        return Expr(op="~", args=(self._e(c[0]),), span=self.sp(meta))

    def neg(self, meta, c):
        return Expr(op="neg", args=(self._e(c[0]),), span=self.sp(meta))

    def cond(self, meta, c):
        return Expr(op="cond", args=tuple(self._e(x) for x in c), span=self.sp(meta))

    def call(self, meta, c):
        """A builtin call `NAME(ARG, ...)`; the name and the argument count are checked
        when the expression is resolved (E0312, E0313)."""
        return Expr(op="call", name=str(c[0]), args=tuple(self._e(x) for x in c[1:]), span=self.sp(meta))

    def slice(self, meta, c):
        return Expr(op="slice", args=tuple(self._e(x) for x in c), span=self.sp(meta))

    def expr(self, meta, c):
        return self._e(c[0])

    # ---- declarations
    def start(self, meta, c):
        header = next((x for x in c if isinstance(x, ast.SpecHeader)), None)
        imports = tuple(x for x in c if isinstance(x, ast.Import))
        decls = tuple(x for x in c if not isinstance(x, (ast.SpecHeader, ast.Import)))
        return ast.SpecFile(self.path, header, imports, decls)

    def spec_decl(self, meta, c):
        cite, doc = self._opts(c)
        return ast.SpecHeader(str(c[0]), self.sp(meta), cite, doc)

    def import_decl(self, meta, c):
        return ast.Import(_unquote(c[0]), str(c[1]), self.sp(meta), tuple(c[2:]))

    def param_decl(self, meta, c):
        cite, doc = self._opts(c)
        return ast.Param(str(c[0]), self._e(c[1]), self.sp(meta), cite, doc)

    def enum_item(self, meta, c):
        cite, doc = self._opts(c)
        return ast.EnumItem(str(c[0]), self._e(c[1]), self.sp(meta), doc)

    def enum_decl(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Enum(str(rest[0]), self._e(rest[1]), tuple(rest[2:]), self.sp(meta), cite, doc)

    def field_enum(self, meta, c):
        return ("enum", c[0])

    def field_rsvd_if(self, meta, c):
        return ("rsvd_if", self._e(c[0]))

    def field_item(self, meta, c):
        _, doc = self._opts(c)
        opts = dict(x for x in c if isinstance(x, tuple) and x[0] in ("enum", "rsvd_if"))
        return ast.Field(str(c[0]), c[1], self.sp(meta), opts.get("enum"), opts.get("rsvd_if"), doc)

    def reserved_item(self, meta, c):
        _, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Reserved(rest[0], self.sp(meta), self._e(rest[1]) if len(rest) > 1 else None, doc)

    def ignored_item(self, meta, c):
        _, doc = self._opts(c)
        return ast.Ignored(c[0], self.sp(meta), doc)

    def include_item(self, meta, c):
        return ast.Include(c[0], self.sp(meta))

    def _layout(self, kind, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Layout(kind, str(rest[0]), self._e(rest[1]), tuple(rest[2:]), self.sp(meta), cite, doc)

    def register_decl(self, meta, c):
        return self._layout("register", meta, c)

    def format_decl(self, meta, c):
        return self._layout("format", meta, c)

    # ---- regimes
    def regime_decl(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Regime(str(rest[0]), self.sp(meta), tuple(rest[1:]), cite, doc)

    def _item(self, kind, meta, c, **kw):
        return (kind, self.sp(meta), c, kw)

    def input_item(self, meta, c):
        size = next((x[1] for x in c if isinstance(x, tuple) and x[0] == "size"), None)
        return ("input", self.sp(meta), (str(c[0]), self._e(c[1]), size))

    def input_size(self, meta, c):
        return ("size", self._e(c[0]))

    def access_group(self, meta, c):
        return ("group", "one" if len(c) == 2 else "at most one")

    def access_item(self, meta, c):
        group = next((x[1] for x in c if isinstance(x, tuple)), "")
        return ("access", self.sp(meta), (tuple(str(t) for t in c if not isinstance(t, tuple)), group))

    def bypass_item(self, meta, c):
        cite, _ = self._opts(c)
        return ("bypass", self.sp(meta), (self._e(self._plain(c)[0]), cite))

    def regime_inst(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        items = rest[2:]
        return ast.RegimeInstance(str(rest[0]), self.sp(meta), rest[1],
                                  tuple(x for x in items if isinstance(x, ast.Binding)), cite, doc,
                                  tuple(x for x in items if not isinstance(x, ast.Binding)))

    def bypass_stage(self, meta, c):
        return str(c[0])

    def stage_bypass(self, meta, c):
        cite, _ = self._opts(c)
        rest = self._plain(c)
        return (f"{rest[0]}_bypass", self.sp(meta), (self._e(rest[1]), cite))

    def context_item(self, meta, c):
        return ("context", self.sp(meta), tuple(c))

    def entry_item(self, meta, c):
        return ("entry", self.sp(meta), self._e(c[0]))

    def root_item(self, meta, c):
        return ("root", self.sp(meta), self._e(self._plain(c)[0]))

    def start_item(self, meta, c):
        return ("start", self.sp(meta), self._e(self._plain(c)[0]))

    def next_item(self, meta, c):
        return ("next", self.sp(meta), self._e(self._plain(c)[0]))

    def addr_term(self, meta, c):
        return ast.AddrTerm(str(c[0]), self.sp(meta), self._e(c[1]) if len(c) > 1 else None)

    def addr_map(self, meta, c):
        return tuple(c)

    def pointer_item(self, meta, c):
        return ("pointer", self.sp(meta), c[0])

    def frame_item(self, meta, c):
        return ("frame", self.sp(meta), c[0])

    def leaf_frame(self, meta, c):
        return ("frame", c[0])

    def acc_item(self, meta, c):
        cite, doc = self._opts(c)
        where = next((x[1] for x in c if isinstance(x, tuple) and x[0] == "where"), "")
        rest = [x for x in self._plain(c) if not (isinstance(x, tuple) and x[0] == "where")]
        return ast.Rule("accumulate", str(rest[0]), self.sp(meta), init=self._e(rest[1]),
                        value=self._e(rest[2]), where=where, cite=cite, doc=doc)

    def let_item(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Rule("let", str(rest[0]), self.sp(meta), value=self._e(rest[1]), cite=cite, doc=doc)

    def acc_where(self, meta, c):
        return ("where", str(c[1]), None)

    def fault_where(self, meta, c):
        fmt = (str(c[2]), _tok_span(self.path, c[2])) if len(c) > 2 else None
        return ("where", str(c[1]), fmt)

    def fault_record(self, meta, c):
        return ("record", str(c[0]), self.sp(meta))

    def fault_item(self, meta, c):
        cite, doc = self._opts(c)
        where, fmt = next(((x[1], x[2]) for x in c if isinstance(x, tuple) and x[0] == "where"), ("", None))
        rec = next((x for x in c if isinstance(x, tuple) and x[0] == "record"), None)
        rest = [x for x in self._plain(c) if not (isinstance(x, tuple) and x[0] in ("where", "record"))]
        return ast.Rule("fault", str(rest[0]), self.sp(meta), when=self._e(rest[1]), where=where, cite=cite, doc=doc,
                        record=rec[1] if rec else "", record_span=rec[2] if rec else None,
                        format=fmt[0] if fmt else "", format_span=fmt[1] if fmt else None)

    def check_item(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Rule("check", str(rest[0]), self.sp(meta), when=self._e(rest[1]), cite=cite, doc=doc)

    def update_where(self, meta, c):
        return " ".join(str(t) for t in c)

    def update_value(self, meta, c):
        return ("value", self._e(c[0]))

    def update_used(self, meta, c):
        return ("used", True)

    def update_item(self, meta, c):
        cite, _ = self._opts(c)
        value = next((x[1] for x in c if isinstance(x, tuple) and x[0] == "value"), None)
        used = any(isinstance(x, tuple) and x[0] == "used" for x in c)
        rest = [x for x in self._plain(c) if not (isinstance(x, tuple) and x[0] in ("value", "used"))]
        when = self._e(rest[2]) if len(rest) > 2 else None
        return ast.Rule("set", str(rest[0]), self.sp(meta), when=when, value=value, where=rest[1],
                        used=used, cite=cite)

    def level_index(self, meta, c):
        return ("index", self.sp(meta), self._e(c[0]))

    def level_table(self, meta, c):
        return ("table", self.sp(meta), c[0])

    def page_shift(self, meta, c):
        return ("shift", True)

    def level_leaf(self, meta, c):
        dynamic = any(isinstance(x, tuple) and x == ("shift", True) for x in c)
        frame = next((x[1] for x in c if isinstance(x, tuple) and len(x) == 2 and x[0] == "frame"), ())
        c = [x for x in c if not (isinstance(x, tuple) and (x == ("shift", True) or x[:1] == ("frame",)))]
        when = self._e(c[1]) if len(c) == 3 else None
        return ("leaf", self.sp(meta), (c[0], when, self._e(c[-1]), dynamic, frame))

    def level_decl(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        kw, spans = {}, {}
        for kind, span, val in rest[2:]:
            if kind in spans:
                kw.setdefault("_dups", []).append((kind, span, spans[kind]))
                continue
            spans[kind] = span
            if kind == "leaf":
                kw["leaf"], kw["leaf_when"], kw["page"], kw["page_is_shift"], kw["frame"] = val
            else:
                kw[kind] = val
        dups = kw.pop("_dups", [])
        spans["_dups"] = dups
        return ast.Level(self._e(rest[0]), str(rest[1]), self.sp(meta), cite=cite, doc=doc, stmt_spans=spans, **kw)

    def record_bits(self, meta, c):
        _, doc = self._opts(c)
        return ast.RecordBits(str(c[0]), c[1], self._e(c[2]), self.sp(meta), doc)

    def record_value(self, meta, c):
        _, doc = self._opts(c)
        opts = dict(x for x in c if isinstance(x, tuple) and x[0] in ("enum", "store"))
        store, store_when = opts.get("store", (None, None))
        c = [x for x in c if not (isinstance(x, tuple) and x[0] in ("enum", "store"))]
        return ast.RecordField(str(c[0]), self._e(c[1]), self.sp(meta), value=self._e(c[2]), doc=doc,
                               enum=opts.get("enum"), store=store, store_when=store_when)

    def record_bitfields(self, meta, c):
        _, doc = self._opts(c)
        rest = self._plain(c)
        return ast.RecordField(str(rest[0]), self._e(rest[1]), self.sp(meta), bits=tuple(rest[2:]), doc=doc)

    def record_store(self, meta, c):
        return ("store", (c[0], self._e(c[1]) if len(c) > 1 else None))

    def record_output(self, meta, c):
        _, doc = self._opts(c)
        opts = dict(x for x in c if isinstance(x, tuple) and x[0] in ("enum", "store"))
        store, store_when = opts.get("store", (None, None))
        return ast.RecordField(str(c[0]), self._e(c[1]), self.sp(meta), doc=doc, output=True,
                               enum=opts.get("enum"), store=store, store_when=store_when)

    def record_decl(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Record(str(rest[0]), tuple(rest[1:]), self.sp(meta), cite, doc)

    # ---- nesting
    def binding(self, meta, c):
        return ast.Binding(str(c[0]), self._e(c[1]), self.sp(meta))

    def nested_fold(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Rule("accumulate", str(rest[0]), self.sp(meta), init=self._e(rest[1]),
                        value=self._e(rest[2]), where="over table", cite=cite, doc=doc)

    def guest_item(self, meta, c):
        return ("guest", self.sp(meta), c[0])

    def host_item(self, meta, c):
        return ("host", self.sp(meta), (c[0], tuple(c[1:])))

    def access_stage(self, meta, c):
        return str(c[0])

    def update_order_when(self, meta, c):
        return str(c[0])

    def update_order(self, meta, c):
        return ("updates_before_final", self.sp(meta), c[0] == "before")

    def access_map(self, meta, c):
        stage = c[0]
        when = next((self._e(x) for x in c[1:] if isinstance(x, (Expr, ast.Ref))), None)
        binds = tuple(b for b in c[1:] if isinstance(b, ast.Binding))
        return (f"{stage}_access", self.sp(meta), (binds, when))

    def nested_decl(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        kw = {"guest": None, "host": None, "host_bindings": (), "table_access": (), "final_access": (),
              "update_access": (), "update_when": None, "updates_before_final": False,
              "guest_bypass": None, "host_bypass": None}
        spans, records, caches, folds = {}, [], [], []
        for item in rest[1:]:
            if isinstance(item, ast.Record):
                records.append(item)
                continue
            if isinstance(item, ast.Rule):
                folds.append(item)
                continue
            if isinstance(item, (ast.Cache, ast.Invalidate)):
                caches.append(item)
                continue
            kind, span, val = item
            if kind in spans and kind == "updates_before_final":
                spans.setdefault("updates_before_final_again", []).append(span)
            spans[kind] = span
            if kind == "host":
                kw["host"], kw["host_bindings"] = val
            elif kind.endswith("_access"):
                kw[kind], when = val
                if kind == "update_access":
                    kw["update_when"] = when
            else:
                kw[kind] = val
        return ast.Nested(str(rest[0]), self.sp(meta), records=tuple(records), cite=cite, doc=doc,
                          item_spans=spans, caches=tuple(caches), folds=tuple(folds), **kw)


    # ---- caches and invalidation events
    def cache_tag(self, meta, c):
        cite, _ = self._opts(c)
        rest = self._plain(c)
        return ast.CacheTag(str(rest[0]), self._e(rest[1]), self.sp(meta), cite)

    def cache_ignores(self, meta, c):
        return ("ignores", tuple((str(t), _tok_span(self.path, t)) for t in c))

    def cache_global(self, meta, c):
        cite, _ = self._opts(c)
        ignores = next((x[1] for x in c if isinstance(x, tuple) and x[0] == "ignores"), ())
        rest = [x for x in self._plain(c) if not (isinstance(x, tuple) and x[0] == "ignores")]
        return ast.CacheGlobal(self._e(rest[0]), ignores, self.sp(meta), cite)

    def cache_geometry(self, meta, c):
        cite, _ = self._opts(c)
        rest = self._plain(c)
        return ast.CacheSetting("geometry", self.sp(meta), (self._e(rest[0]), self._e(rest[1])), cite)

    def cache_replace(self, meta, c):
        cite, _ = self._opts(c)
        tok = self._plain(c)[0]
        return ast.CacheSetting("replace", self.sp(meta), (str(tok), _tok_span(self.path, tok)), cite)

    def cache_pages(self, meta, c):
        cite, _ = self._opts(c)
        tok = self._plain(c)[0]
        return ast.CacheSetting("pages", self.sp(meta), (str(tok), _tok_span(self.path, tok)), cite)

    def cache_key(self, meta, c):
        cite, _ = self._opts(c)
        rest = self._plain(c)
        return ast.CacheKey(self._e(rest[0]), self._e(rest[1]), self.sp(meta), cite)

    def cache_fill(self, meta, c):
        cite, _ = self._opts(c)
        return ast.CacheFill(self._e(self._plain(c)[0]), self.sp(meta), cite)

    def cache_call(self, meta, c):
        return ("source", ("call", str(c[0]), _tok_span(self.path, c[0])))

    def cache_of_walk(self, meta, c):
        return ("source", ("walk", str(c[0]), _tok_span(self.path, c[0])))

    def cache_levels(self, meta, c):
        return ("levels", tuple((int(str(t).replace("_", ""), 0), _tok_span(self.path, t)) for t in c), self.sp(meta))

    def cache_decl(self, meta, c):
        """`holds WORD [WORD] [of walk W | of levels N, ...]`: `holds structure S` names its
        structure with the second word; `holds host translations` and `holds host tables` are kinds
        of two words."""
        cite, doc = self._opts(c)
        rest = self._plain(c)
        source = next((x[1] for x in rest if isinstance(x, tuple) and x and x[0] == "source"), None)
        levels = next((x for x in rest if isinstance(x, tuple) and x and x[0] == "levels"), None)
        rest = [x for x in rest if not (isinstance(x, tuple) and x and x[0] in ("source", "levels"))]
        if source is not None and source[0] == "call":  # `holds call C`
            return ast.Cache(str(rest[0]), "call", source[2], tuple(rest[1:]), self.sp(meta), cite, doc, source)
        words = [rest[1]]
        if len(rest) > 2 and isinstance(rest[2], Token) and rest[2].type == "NAME":
            words.append(rest[2])
        span = _tok_span(self.path, words[0])
        if len(words) > 1 and str(words[0]) == "structure":
            source = ("structure", str(words[1]), _tok_span(self.path, words[1]))
        elif len(words) > 1:
            end = _tok_span(self.path, words[1])
            span = span.model_copy(update={"end_line": end.end_line, "end_col": end.end_col})
        holds = "structure" if source and source[0] == "structure" else " ".join(str(w) for w in words)
        return ast.Cache(str(rest[0]), holds, span, tuple(rest[1 + len(words):]), self.sp(meta), cite, doc, source,
                         levels=levels[1] if levels else (), levels_span=levels[2] if levels else None)

    def inv_operand(self, meta, c):
        return ast.EventField(str(c[0]), self._e(c[1]), self.sp(meta))

    def inv_drop(self, meta, c):
        return ast.Drop(str(c[0]), _tok_span(self.path, c[0]), self.sp(meta),
                        self._e(c[1]) if len(c) > 1 else None)

    def inv_set(self, meta, c):
        return ast.Binding(str(c[0]), self._e(c[1]), self.sp(meta))

    def invalidate_decl(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Invalidate(str(rest[0]), tuple(x for x in rest[1:] if isinstance(x, ast.EventField)),
                              tuple(x for x in rest[1:] if isinstance(x, ast.Drop)),
                              tuple(x for x in rest[1:] if isinstance(x, ast.Binding)), self.sp(meta), cite, doc)

    # ---- decision units
    def unit_decl(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Unit(str(rest[0]), self.sp(meta), tuple(rest[1:]), cite, doc)

    def event_field(self, meta, c):
        _, doc = self._opts(c)
        enum = next((x[1] for x in c if isinstance(x, tuple) and x[0] == "enum"), None)
        return ast.EventField(str(c[0]), self._e(c[1]), self.sp(meta), enum, doc)

    def event_decl(self, meta, c):
        return ("event", self.sp(meta), tuple(c))

    def struct_field(self, meta, c):
        cite, doc = self._opts(c)
        return ast.StructField(str(c[0]), self._e(c[1]), self._e(c[2]), self.sp(meta), cite, doc)

    def step_when(self, meta, c):
        return ("when", self._e(c[0]))

    def struct_align(self, meta, c):
        return ("align", self._e(c[0]))

    def structure_decl(self, meta, c):
        cite, doc = self._opts(c)
        when = next((x[1] for x in c if isinstance(x, tuple) and x[0] == "when"), None)
        align = next((x[1] for x in c if isinstance(x, tuple) and x[0] == "align"), None)
        rest = [x for x in self._plain(c) if not (isinstance(x, tuple) and x[0] in ("when", "align"))]
        return ast.Structure(str(rest[0]), self._e(rest[1]), self._e(rest[2]), tuple(rest[3:]), self.sp(meta), cite,
                             doc, when, align)

    def walk_access(self, meta, c):
        return ("access", tuple(c))

    def walk_with(self, meta, c):
        return ("with", tuple(c))

    def walk_decl(self, meta, c):
        cite, doc = self._opts(c)
        opts = dict(x for x in c if isinstance(x, tuple) and x[0] in ("access", "with", "when"))
        rest = [x for x in self._plain(c) if not (isinstance(x, tuple) and x[0] in ("access", "with", "when"))]
        return ast.Walk(str(rest[0]), rest[1], self._e(rest[2]), opts.get("access", ()), opts.get("with", ()),
                        self.sp(meta), opts.get("when"), cite, doc)

    def call_event(self, meta, c):
        return ("event", tuple(c))

    def call_decl(self, meta, c):
        cite, doc = self._opts(c)
        opts = dict(x for x in c if isinstance(x, tuple) and x[0] in ("event", "with", "when"))
        rest = [x for x in self._plain(c) if not (isinstance(x, tuple) and x[0] in ("event", "with", "when"))]
        return ast.Call(str(rest[0]), rest[1], opts.get("event", ()), opts.get("with", ()), self.sp(meta),
                        opts.get("when"), cite, doc)

    def bitmap_span(self, meta, c):
        return ("span", self._e(c[0]))

    def bitmap_when(self, meta, c):
        return ("when", self._e(c[0]))

    def bitmap_decl(self, meta, c):
        cite, doc = self._opts(c)
        opts = dict(x for x in c if isinstance(x, tuple) and x[0] in ("span", "when"))
        rest = [x for x in self._plain(c) if not (isinstance(x, tuple) and x[0] in ("span", "when"))]
        return ast.Bitmap(str(rest[0]), self._e(rest[1]), self._e(rest[2]), self._e(rest[3]), self.sp(meta),
                          opts.get("span"), opts.get("when"), cite, doc)

    def exit_value(self, meta, c):
        return ast.ExitAssign(str(c[0]), self.sp(meta), value=self._e(c[1]))  # a doc string is for the reader

    def exit_bits(self, meta, c):
        return ast.ExitAssign(str(c[0]), self.sp(meta), bits=tuple(c[1:]))

    def exit_decl(self, meta, c):
        cite, doc = self._opts(c)
        rest = self._plain(c)
        return ast.Exit(str(rest[0]), self._e(rest[1]), tuple(rest[2:]), self.sp(meta), cite, doc)


def parse_text(text: str, path: str, bag: DiagnosticBag) -> ast.SpecFile | None:
    """Parse one file; problems go to `bag` (E0100 syntax, E0101 empty, E0102 too deep,
    E0004 line too long, E0005 too many tokens, E0304 literal too large) and give None."""
    return parse_counted(text, path, bag)[0]


def parse_counted(text: str, path: str, bag: DiagnosticBag,
                  budget: int | None = None) -> tuple[ast.SpecFile | None, int]:
    """parse_text, and the number of tokens of the text (comments and white space do not
    count; 0 when it does not parse), counted while parsing: the text is lexed once.
    With a `budget` below MAX_TOKENS, the parse stops as soon as the text has more tokens
    than that, raising OverBudget (the elaborator's budget of all imported files)."""
    bag.sources.setdefault(path, text)
    if not text.strip():
        bag.error("E0101", f"spec file is empty: {_START}", Span(path=path))
        return None, 0
    if _too_long(text, path, bag):
        return None, 0
    limit = MAX_TOKENS if budget is None else min(MAX_TOKENS, max(budget, 0))
    box = [0, limit]
    reset = _COUNTING.set(box)
    try:
        tree = parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        message, span = _syntax_error(text, path, exc)
        bag.error("E0100", f"syntax error: {message}", span)
        return None, 0
    except _TooManyTokens as exc:
        if limit < MAX_TOKENS:
            raise OverBudget() from None
        bag.error("E0005", f"the spec file has more than {MAX_TOKENS} tokens; split it into files joined "
                  "with `import`", _tok_span(path, exc.token))
        return None, 0
    finally:
        _COUNTING.reset(reset)
    return _to_ast(tree, path, bag), box[0]


def _to_ast(tree: lark.Tree, path: str, bag: DiagnosticBag) -> ast.SpecFile | None:
    deep = _too_deep(tree)
    if deep is not None:
        bag.error("E0102", f"expression nesting is more than {MAX_NESTING} deep; split the expression up with "
                  "`let` names, each a meaningful part of it",
                  _span(path, deep.meta))
        return None
    before = len(bag.errors)
    spec = _ToAst(path, bag).transform(tree)
    if len(bag.errors) > before:
        return None
    if spec.header is None and not spec.imports and not spec.decls:
        bag.error("E0101", f"spec file has only comments: {_START}", Span(path=path))
        return None
    return spec


def _too_long(text: str, path: str, bag: DiagnosticBag) -> bool:
    """Report a line longer than MAX_LINE (E0004), before parsing, in linear time.

    The byte limit of read_source alone lets through files that take minutes to parse (a
    megabyte of `-`), and one huge line makes every message about it huge; both this limit
    and MAX_TOKENS (E0005, counted by _TokenCounter during the parse itself) are far beyond
    any spec a person writes."""
    lines = text.split("\n")
    if max(map(len, lines)) > MAX_LINE:
        n = next(i for i, line in enumerate(lines) if len(line) > MAX_LINE)
        bag.error("E0004", f"this line is {len(lines[n])} characters long; spec lines are limited to {MAX_LINE} "
                  "characters: break it up (or check that this is the spec you meant)",
                  Span(path=path, line=n + 1, col=MAX_LINE + 1, end_line=n + 1, end_col=len(lines[n]) + 1))
        return True
    return False


def lex_tokens(text: str):
    """The tokens of a text, lazily (comments and white space are not tokens); raises a
    lark error at the first character that starts no token."""
    return parser().lex(text)


def count_tokens(text: str) -> int:
    """The tokens of a text that parses (comments and white space do not count)."""
    return sum(1 for _ in lex_tokens(text))


_START = "a spec starts with `spec NAME;` and declares a regime, nested translation or unit to generate"


def _too_deep(tree: lark.Tree) -> lark.Tree | None:
    """The first node (in source order) nested deeper than MAX_NESTING, or None.

    Later stages walk expressions recursively, so a deep tree (`- - - ... x`, a long
    `a + b + ...` chain, nested brackets) must be refused here, not by a RecursionError.
    The walk itself is iterative."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            return node
        stack.extend((c, depth + 1) for c in reversed(node.children) if isinstance(c, lark.Tree))
    return None


def _syntax_error(text: str, path: str, exc: lark.exceptions.UnexpectedInput) -> tuple[str, Span]:
    """A message and a one-character span for a lark parse error."""
    line, col = max(1, getattr(exc, "line", 1) or 1), max(1, getattr(exc, "column", 1) or 1)
    tok = getattr(exc, "token", None)
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        message = "unterminated string" if ch == '"' else f"unexpected character {ch!r}"
    elif tok is None or tok.type == "$END":
        # lark gives $END the position of the last token: point just after it
        message = "unexpected end of file"
        if tok is not None and tok.end_line:
            line, col = tok.end_line, tok.end_column
        message += _expected(exc)
    else:
        start = tok.start_pos or 0
        # `/*` without `*/` is not a comment: the lexer sees '/' then '*', and one of them fails
        opener = next((at for at in (start, start - 1) if at >= 0 and text.startswith("/*", at)), None)
        if opener is not None:
            message = "unterminated block comment: '/*' without '*/'"
            line = text.count("\n", 0, opener) + 1
            col = opener - (text.rfind("\n", 0, opener) + 1) + 1
        else:
            message = f"unexpected {str(tok)!r}" + _expected(exc)
    return message, Span(path=path, line=line, col=col, end_line=line, end_col=col + 1)


# closing punctuation first: it is what a user most often forgot
_FIRST = ("SEMICOLON", "RBRACE", "RPAR", "RSQB", "COLON", "EQUAL", "LBRACE", "NAME", "NUMBER", "STRING")


def _expected(exc: lark.exceptions.UnexpectedInput, limit: int = 8) -> str:
    names = set(getattr(exc, "accepts", None) or getattr(exc, "expected", None) or ()) - {"$END"}
    if not names:
        return ""
    ordered = sorted(names, key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), _pretty_terminal(n)))
    shown = ", ".join(_pretty_terminal(n) for n in ordered[:limit])
    return f"; expected {shown}{', ...' if len(ordered) > limit else ''}"


_TERMINALS = {"SEMICOLON": "';'", "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['", "RSQB": "']'",
              "LPAR": "'('", "RPAR": "')'", "COLON": "':'", "EQUAL": "'='", "COMMA": "','", "DOT": "'.'",
              "NAME": "a name", "NUMBER": "a number", "STRING": "a string"}


def _pretty_terminal(name: str) -> str:
    if name in _TERMINALS:
        return _TERMINALS[name]
    try:
        pattern = parser().get_terminal(name).pattern
        if pattern.type == "str":
            return repr(pattern.value)
    except KeyError:
        pass
    return name.lower()
