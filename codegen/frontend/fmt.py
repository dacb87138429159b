"""`virtspec fmt`: one canonical layout for spec files, changing nothing but white space.

How. The formatter re-spaces the file's own tokens; it never prints from the AST. The
file is parsed by the project's grammar with every token kept (`keep_all_tokens`), so
each token knows the rule it belongs to: whether a `{` opens a block of declarations or
a binding list inside a statement, whether a `-` is unary, whether a `:` is part of a
bit range. Comments are ignored by the grammar; they are recovered from the gaps
between tokens with the grammar's own COMMENT and BLOCK_COMMENT patterns. Printing
from the AST instead would need the AST to remember comments, parentheses and how each
number was written; re-spacing the tokens keeps all of that by construction.

Why it is safe. Only the white space between tokens changes: the output's tokens and
comments are compared with the input's before anything is returned (FormatError
otherwise), so the parsed AST cannot change. Comments and doc/cite strings are kept
verbatim (less trailing white space at line ends).

The layout:
- 4 spaces per block level; one declaration, field or statement per line (a block
  `{ ... }` is always opened out, `}` on a line of its own, an empty one as `{` + `}`);
- single spaces around binary operators, `=`, `?`, and a declaration's `:`
  (`input va : 64`), after commas and around doc/cite strings; none inside `( )`,
  after a unary operator, around `.`, before `;` and `,`, or before an index `x[i]`;
- a field's bit range and a slice are compact: `ADDR [MAXPHYADDR-1:12]`, `va[29:21]`
  (no spaces around operators inside `[hi:lo]`); an index is an ordinary expression:
  `PKRU[2 * leaf.PK]`;
- the binding list of an `import ... with`, a `host ... with` and a walk's `access` and
  `with` belongs to its statement: it stays on one line, `{ A = 1; B = 2; }`, if the
  author wrote it on one line, and is opened out like a block otherwise;
- long lines are not re-wrapped (that needs a width policy and judgement about where
  an expression reads best). The author's line breaks inside a statement are kept,
  except next to tokens that are written without a space (after `(`, before `;`...),
  and each continuation line is indented one level (4 spaces) past its statement,
  plus one level for each bracket still open where it starts;
- blank lines: at most one in a row, only between declarations or statements (where
  the author put one: paragraphs), none at the start or end of a block or the file;
  no trailing white space; one newline at the end.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
import tempfile
from dataclasses import dataclass, fields, is_dataclass
from functools import lru_cache
from pathlib import Path

import lark
from lark import Lark, Token, Tree
from pydantic import BaseModel

from codegen.frontend import lark_cache
from codegen.frontend.diagnostics import DiagnosticBag, Span, read_source, read_stream
from codegen.frontend.parse import GRAMMAR, parse_text

INDENT = 4
# a `{` under one of these rules opens a binding list that is part of a statement
_BINDING_LISTS = {"import_decl", "host_item", "walk_access", "walk_with", "regime_inst", "call_event"}
_BINARY = {"lor", "land", "bor", "bxor", "band", "eq", "ne", "lt", "le", "gt", "ge", "shl", "shr",
           "add", "sub", "mul", "div", "mod", "cond"}
# rules of (parts of) expressions; the largest subtree of them is one expression
_EXPR = _BINARY | {"lnot", "bnot", "neg", "bit", "slice", "atom", "number", "ref", "call"}
_NO_SPACE_BEFORE = {";", ",", ".", ")", "]"}
_NO_SPACE_AFTER = {"(", "[", "."}


class FormatError(Exception):
    """The formatter would have changed a token or a comment: a bug, never written out."""


@dataclass
class _Item:
    """A token or a comment of the file, with what the layout needs to know about it."""

    text: str
    start: int
    end: int
    comment: str = ""  # "line" or "block" for a comment
    type: str = ""  # the lark terminal of a token
    glue_left: bool = False  # written with no space before it
    glue_right: bool = False  # ... and after it
    brace: str = ""  # for { and }: "block", "open" (a binding list opened out) or "inline"
    opens: int = 0  # +1 for ( [ and an inline {, -1 for their closers
    expr: int = 0  # which expression of the file the token is part of (0: none)
    expr_first: bool = False  # the expression's first token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return lark_cache.build(GRAMMAR.read_text(), propagate_positions=True, maybe_placeholders=False,
                            keep_all_tokens=True)


@lru_cache(maxsize=1)
def _comment_re() -> re.Pattern:
    """The grammar's own comment terminals, and the white space between tokens."""
    p = _parser()
    line, block = (p.get_terminal(n).pattern.to_regexp() for n in ("COMMENT", "BLOCK_COMMENT"))
    return re.compile(rf"(?P<ws>[ \t\f\r\n]+)|(?P<line>{line})|(?P<block>{block})")


def _tokens(tree: Tree, text: str) -> list[_Item]:
    """The tokens of `tree` in source order, each with its layout role (iterative: trees are deep)."""
    out: list[_Item] = []
    lists: dict[int, str] = {}  # start of each { and } of a binding list -> "open" or "inline"
    # (node, parent rule, inside the [hi:lo] of a bit range or slice, expression number)
    stack: list[tuple[Tree | Token, str, bool, int]] = [(tree, "", False, 0)]
    exprs = 0
    while stack:
        node, parent, compact, expr = stack.pop()
        if isinstance(node, Token):
            item = _token(node, parent, compact, lists.get(node.start_pos, "block"))
            item.expr = expr
            item.expr_first = bool(expr) and (not out or out[-1].expr != expr)
            out.append(item)
            continue
        rule, kids = node.data, node.children
        if rule in _EXPR and not expr:
            exprs += 1
            expr = exprs
        if rule == "bitrange":
            ctx = [True] * len(kids)
        elif rule in ("slice", "bit"):  # the base is outside the brackets
            ctx = [compact] + [rule == "slice"] * (len(kids) - 1)
        else:
            ctx = [compact] * len(kids)
        if rule in _BINDING_LISTS:
            braces = [k for k in kids if isinstance(k, Token) and k in ("{", "}")]
            if len(braces) == 2:  # opened out if the author broke it over lines, or if it holds a block
                block = any(isinstance(k, Tree) and k.data == "record_decl" for k in kids)
                kind = "open" if block or "\n" in text[braces[0].start_pos:braces[1].end_pos] else "inline"
                lists.update({b.start_pos: kind for b in braces})
        stack.extend((k, rule, c, expr) for k, c in zip(reversed(kids), reversed(ctx)))
    return out


def _token(tok: Token, parent: str, compact: bool, brace: str) -> _Item:
    s = str(tok)
    item = _Item(s, tok.start_pos, tok.end_pos, type=tok.type)
    unary = parent in ("lnot", "bnot", "neg") and s in ("!", "~", "-")
    operator = parent in _BINARY and tok.type not in ("NAME", "NUMBER")
    range_colon = s == ":" and parent in ("bitrange", "slice")
    item.glue_left = s in _NO_SPACE_BEFORE or (s == "[" and parent in ("slice", "bit")) or range_colon \
        or (s == "(" and parent == "call") \
        or (operator and compact)
    item.glue_right = s in _NO_SPACE_AFTER or unary or range_colon or (operator and compact)
    if s in ("{", "}"):
        item.brace = brace
    if s in ("(", "[") or (s == "{" and brace == "inline"):
        item.opens = 1
    elif s in (")", "]") or (s == "}" and brace == "inline"):
        item.opens = -1
    return item


def _items(text: str) -> list[_Item]:
    """Tokens and comments in source order. Raises lark errors for text that does not parse."""
    tokens = _tokens(_parser().parse(text), text)
    out: list[_Item] = []
    pos = 0
    for tok in tokens + [None]:
        end = tok.start if tok is not None else len(text)
        out.extend(_gap_comments(text, pos, end))
        if tok is not None:
            out.append(tok)
            pos = tok.end
    return out


def _gap_comments(text: str, pos: int, end: int) -> list[_Item]:
    out = []
    rx = _comment_re()
    while pos < end:
        m = rx.match(text, pos, end)
        if m is None:  # cannot happen: the lexer ignores only white space and comments
            raise FormatError(f"unexpected text between tokens at offset {pos}")
        if m.lastgroup != "ws":
            body = "\n".join(line.rstrip() for line in m.group().split("\n"))
            out.append(_Item(body, m.start(), m.end(), comment=m.lastgroup))
        pos = m.end()
    return out


@dataclass
class _Frame:
    """A block being printed: the indent of its statements and of its closing brace."""

    indent: int
    close: int
    saved: tuple = ()  # the enclosing statement's (indent, open brackets), for a binding list


class _Printer:
    def __init__(self, text: str):
        self.text = text
        self.lines: list[str] = []
        self.cur: str | None = None  # the line being built
        self.cur_indent = 0
        self.frames = [_Frame(0, 0)]
        self.at_start = True  # the next token starts a statement
        self.stmt_indent = 0
        self.open = 0  # brackets open in the statement
        self.inline = 0  # inline binding lists open
        self.need_nl = False  # a newline is due before the next token
        self.just_opened = True  # nothing printed since a block opened (or the file began)
        self.exprs: dict[int, tuple[int, int]] = {}  # expression -> (indent of its first line, brackets open there)

    # ---- lines
    def newline(self, indent: int, blank: bool = False) -> None:
        if self.cur is not None:
            self.lines.append(self.cur)
        if blank and self.lines and not self.just_opened:
            self.lines.append("")
        self.cur, self.cur_indent = " " * indent, indent

    def put(self, s: str, space: bool) -> None:
        self.cur += (" " if space and len(self.cur) > self.cur_indent else "") + s

    def continuation(self, t: _Item | None) -> int:
        """The indent of a line that continues a statement with `t`: one level past the
        line where t's expression began (or past the statement), plus one per open bracket."""
        if t is not None and t.expr in self.exprs and not t.expr_first:
            indent, opened = self.exprs[t.expr]
            return indent + INDENT * (1 + self.open - opened)
        return self.stmt_indent + INDENT * (1 + self.open)

    # ---- elements
    def comment(self, c: _Item, gap: int, after: _Item | None) -> None:
        """`after`: the token that follows, whose continuation indent a comment line gets."""
        if self.cur is not None and gap == 0:  # a trailing comment stays on its line
            self.put(c.text, True)
        else:
            self.newline(self.frames[-1].indent if self.at_start else self.continuation(after),
                         blank=self.at_start and gap > 1)
            self.put(c.text, False)
            self.need_nl = False
        self.just_opened = False
        if c.comment == "line":
            self.need_nl = True

    def token(self, t: _Item, prev: _Item | None, gap: int) -> None:
        closer = t.text == "}" and t.brace != "inline"
        glued = prev is not None and not prev.comment and (prev.glue_right or t.glue_left)
        if closer:
            frame = self.frames.pop()
            self.newline(frame.close)
            self.put(t.text, False)
        elif self.need_nl or self.cur is None or (gap and not glued):  # a new line; inside a
            # statement, where the author broke it (never next to a token written without a space)
            self.newline(self.frames[-1].indent if self.at_start else self.continuation(t),
                         blank=self.at_start and gap > 1)
            self.put(t.text, False)
        else:
            self.put(t.text, not glued)
        self.need_nl = self.just_opened = False
        if closer and t.brace == "open":  # back in the statement the binding list is part of
            self.stmt_indent, self.open = frame.saved
            self.at_start = False
        elif self.at_start and not closer:
            self.at_start, self.stmt_indent, self.open = False, self.frames[-1].indent, 0
        if t.expr_first:
            self.exprs[t.expr] = (self.cur_indent, self.open)
        self.open += t.opens
        if t.brace == "inline":
            self.inline += t.opens
        elif t.text == "{":
            base = self.stmt_indent if t.brace == "block" else self.cur_indent
            self.frames.append(_Frame(base + INDENT, base, (self.stmt_indent, self.open)))
            self.at_start = self.need_nl = self.just_opened = True
        elif (closer and t.brace == "block") or (t.text == ";" and not self.inline):
            self.at_start = self.need_nl = True

    def run(self, items: list[_Item]) -> str:
        after: list[_Item | None] = [None] * len(items)  # the next token after each item
        for i in range(len(items) - 2, -1, -1):
            after[i] = items[i + 1] if not items[i + 1].comment else after[i + 1]
        prev = None
        for i, it in enumerate(items):
            gap = self.text.count("\n", prev.end, it.start) if prev is not None else 0
            if it.comment:
                self.comment(it, gap, after[i])
            else:
                self.token(it, prev, gap)
            prev = it
        if self.cur is not None:
            self.lines.append(self.cur)
        return "\n".join(line.rstrip() for line in self.lines).strip("\n") + "\n"


def _signature(items: list[_Item]) -> list[tuple[str, str]]:
    """What formatting must not change: every token and every comment, in order."""
    return [(it.comment or it.type, it.text) for it in items]


def format_text(text: str, path: str, bag: DiagnosticBag) -> str | None:
    """The canonical layout of `text`, or None with the syntax errors in `bag`."""
    if parse_text(text, path, bag) is None:
        return None
    try:
        items = _items(text)
        out = _Printer(text).run(items)
        same = _signature(_items(out)) == _signature(items)
    except lark.exceptions.LarkError:
        same = False
    if not same:
        raise FormatError(f"{path}: formatting would change a token or a comment")
    return out


def ast_shape(node):
    """A span-free copy of a parsed spec (ast.SpecFile) for comparing two parses: spans,
    and fields excluded from comparison (statement spans), are left out."""
    return _shape(node)


def _shape(node):
    if isinstance(node, Span):
        return None
    if isinstance(node, BaseModel):
        return (type(node).__name__,) + tuple(
            (name, _shape(getattr(node, name))) for name in type(node).model_fields if name != "span")
    if is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__,) + tuple(
            (f.name, _shape(getattr(node, f.name))) for f in fields(node) if f.compare and f.name != "span")
    if isinstance(node, (tuple, list)):
        return tuple(_shape(x) for x in node)
    if isinstance(node, dict):
        return tuple(sorted((k, _shape(v)) for k, v in node.items()))
    return node


# ---- files ----------------------------------------------------------------------------

def write_atomic(path: Path, text: str) -> None:
    """Replace `path` by `text` through a temporary file in the same folder and a rename,
    so that the file is never seen half-written; its permission bits are kept. A symbolic
    link is followed: its target is rewritten, the link stays."""
    target = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def run(paths: list[Path], check: bool, out=None, err=None, diff: bool = False) -> int:
    """Format each file (or, with `check`, only say which would change; with `diff`,
    print a unified diff of what would change instead, on `out`). Exit status: 0, or 1
    if a file has syntax errors, cannot be written, or (with `check` or `diff`) would
    change. A file with errors is left as it is; the others are still formatted."""
    out, err = out or sys.stdout, err or sys.stderr
    dry = check or diff  # write nothing
    changed, failed = [], 0
    for path in paths:
        bag = DiagnosticBag()
        old = read_source(path, bag)
        new = None
        if old is not None:
            try:
                new = format_text(old, str(path), bag)
            except FormatError as exc:
                print(f"virtspec fmt: internal error, {path} left unchanged: {exc}", file=err)
                failed += 1
                continue
        if new is None:
            print(bag.render(), file=err)
            failed += 1
            continue
        if new == old:
            continue
        if diff:
            out.write(unified_diff(old, new, str(path)))
        if dry:
            changed.append(path)
            print(f"would reformat: {path}", file=err)
            continue
        try:
            write_atomic(path, new)
        except OSError as exc:
            print(f"virtspec fmt: cannot write {path}: {exc.strerror or exc}", file=err)
            failed += 1
            continue
        changed.append(path)  # only once written: a file that could not be is not also "reformatted"
        print(f"reformatted {path}", file=out)
    n, s = len(paths), "s" if len(paths) != 1 else ""
    if failed and not dry:  # one summary line: what was reformatted, and what could not be
        done = f"{len(changed)} of {n} spec file{s} reformatted, " if changed else ""
        print(f"{done}{failed} of {n} spec file{s} could not be formatted", file=err)
        return 1
    if failed:
        print(f"{failed} of {n} spec file{s} could not be formatted", file=err)
    if dry:
        if changed:
            print(f"{len(changed)} of {n} spec file{s} would be reformatted (run `virtspec fmt`)", file=err)
        elif not failed:
            print(f"{n} spec file{s} already formatted", file=err if diff else out)
        return 1 if changed or failed else 0
    print(f"{len(changed)} of {n} spec file{s} reformatted", file=out)
    return 1 if failed else 0


def unified_diff(old: str, new: str, name: str) -> str:
    """The unified diff from `old` to `new` (both `name`: `patch -p0` applies it)."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), name, name)
    # a last line without a newline gets the marker `patch` expects
    return "".join(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines)


STDIN = "<stdin>"


def run_stdin(check: bool, diff: bool, stdin=None, out=None, err=None) -> int:
    """`virtspec fmt -`: format the spec read from `stdin` (bytes) for an editor. Plain,
    the formatted text goes to `out`; with `diff`, the unified diff; with `check`,
    nothing, the exit status says. A spec with syntax errors writes nothing on `out`:
    the diagnostics go to `err`, exit status 1."""
    stdin = stdin or sys.stdin.buffer
    out, err = out or sys.stdout, err or sys.stderr
    bag = DiagnosticBag()
    old = read_stream(stdin, STDIN, bag)
    try:
        new = format_text(old, STDIN, bag) if old is not None else None
    except FormatError as exc:
        print(f"virtspec fmt: internal error, {STDIN} not formatted: {exc}", file=err)
        return 1
    if new is None:
        print(bag.render(), file=err)
        return 1
    if diff:
        out.write(unified_diff(old, new, STDIN))
    elif not check:
        out.write(new)
    return 1 if (check or diff) and new != old else 0
