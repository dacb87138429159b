"""What elaboration knows about the expressions it resolves that the IR does not keep.

The IR is built for the generators: a parameter becomes its value, a constant
sub-expression is folded, a `let` name is expanded in place, and a reference to a
register or structure field keeps only its bit position and width. The dump
(codegen/frontend/dump.py) presents the spec as it was written, so while resolving, the
elaborator notes on each node it makes where it came from. Nothing in the generators
reads this, and noting changes no IR node.

Notes are keyed by the identity of the IR node (IR nodes are frozen and shared, never
copied once built); each entry holds the node itself, so that its id() stays its own
while the notes live.
"""
from __future__ import annotations

from typing import Any

from codegen.ir.expr import Expr
from codegen.ir.span import Span


class Provenance:
    """Facts about resolved expression nodes, one table for a whole compilation.

    The facts of a node (all optional):
    - param=(Module, name): a number that is the value of a parameter of that module;
    - enum=(EnumDef, item): a number that is the value of an enum item;
    - fault=name: a number that is a fault kind;
    - folded=Expr: a number folded from this expression (resolved, not folded at its root);
    - layouts=(Layout, ...), field=name or None: a reference that reads a field (or the
      whole) of these registers or formats; for a structure field `S.F.SUB`, the format
      of `S.F` and SUB;
    - lets=[(name, span of the use), ...]: the node is the expansion of these `let`
      names, innermost first (`let a = b;` makes one node the expansion of b, then of a).
    """

    def __init__(self) -> None:
        self._notes: dict[int, tuple[Expr, dict[str, Any]]] = {}
        self._lets: dict[int, tuple[Expr, Expr]] = {}

    def note(self, e: Expr, **facts: Any) -> Expr:
        """Record `facts` of `e`; return `e`."""
        self._notes.setdefault(id(e), (e, {}))[1].update(facts)
        return e

    def note_let(self, e: Expr, name: str, span: Span, body: Expr) -> Expr:
        """Record that `e` is the expansion of `let name = body` at `span`; the first
        expansion of each body is its definition in the dump."""
        self._notes.setdefault(id(e), (e, {}))[1].setdefault("lets", []).append((name, span))
        self._lets.setdefault(id(body), (body, e))
        return e

    def facts(self, e: Expr) -> dict[str, Any]:
        entry = self._notes.get(id(e))
        return entry[1] if entry is not None and entry[0] is e else {}

    def expansion(self, body: Expr) -> Expr | None:
        """The first expansion of a `let` body (the body as written), or None if the
        name was never used."""
        entry = self._lets.get(id(body))
        return entry[1] if entry is not None and entry[0] is body else None
