"""Invalidation operands that hit an entry a cache holds (issue 16, item 2).

Why: an invalidation whose operand is a whole command word, as software writes it into a
queue, decodes its fields inside the drop condition (`entry.rid == w0[27:16]`,
`within(w1[63:12] << 12, ...)`). An operand drawn at random, or copied whole from a tag,
almost never matches such a condition, so the drops were never exercised.

What: for an invalidation's drops of one cache and a target entry the reference holds,
set the operand bits each conjunct of a drop condition fixes, and leave the others as
they were drawn:
- `PIECE == E` (either side): PIECE is one operand's bits (the whole operand, a slice or a
  bit, shifted by a constant or not), E reads only the entry's tags (`entry.TAG`) and
  constants: PIECE's bits get E's value (a constant left shift needs E's low bits clear);
- `covers(PIECE)`, `within(PIECE, S)`: PIECE's bits get the entry's input address (key <<
  granule), so the block named holds the entry's page whatever size S gives.
A conjunct of another shape fixes nothing (the drawn bits stay), so a condition with none
of these shapes leaves the operands as drawn. Every value stays inside its operand's width.
Generic: nothing here names a cache, a tag, a format or an architecture.
"""
from __future__ import annotations

from codegen import ir
from codegen.ir.expr import Expr, EvalError, evaluate, mask


def conjuncts(e: Expr) -> list[Expr]:
    """The operands of a chain of `&&`, left to right (e itself when it is no `&&`)."""
    if e.op == "&&":
        return conjuncts(e.args[0]) + conjuncts(e.args[1])
    return [e]


def operand_piece(e: Expr) -> tuple[str, int, int, int] | None:
    """(operand, lo, width, shift) when `e` is bits [lo + width - 1 : lo] of one operand
    shifted left by `shift` constant bits (negative: right); None for any other shape."""
    shift = 0
    while e.op in ("<<", ">>") and e.args[1].op == "num":
        shift += e.args[1].value if e.op == "<<" else -e.args[1].value
        e = e.args[0]
    if e.op == "slice" and e.args[1].op == "num" and e.args[2].op == "num":
        base, lo, width = e.args[0], e.args[2].value, e.args[1].value - e.args[2].value + 1
    elif e.op == "bit" and e.args[1].op == "num":
        base, lo, width = e.args[0], e.args[1].value, 1
    else:
        base, lo, width = e, 0, None
    if base.op != "ref" or base.kind != "operand" or not base.width:
        return None
    width = base.width if width is None else min(width, base.width - lo)
    if width <= 0:
        return None
    return base.name, base.lo + lo, width, shift


def entry_value(e: Expr, cache: ir.Cache, entry) -> int | None:
    """The value of `e` for `entry` when it reads only the entry's tags and constants."""
    names = [t.name for t in cache.tags]

    def lookup(r: Expr) -> int:
        if r.kind == "entry" and r.name in names:
            return (entry.tags[names.index(r.name)] >> r.lo) & mask(r.width or 64)
        raise LookupError(r.name)

    try:
        v = evaluate(e, lookup, keep_width=True)
    except (LookupError, EvalError, IndexError):
        return None
    return v if v >= 0 else None


def _put(values: dict[str, int], widths: dict[str, int], piece, value: int) -> bool:
    """Give the piece's bits the value `value` (what the shifted piece must equal):
    False when no bits of the piece can (a left shift past set bits)."""
    name, lo, width, shift = piece
    if shift > 0:
        if value & mask(shift):
            return False
        value >>= shift
    elif shift < 0:
        value <<= -shift
    width = min(width, widths[name] - lo)
    if width <= 0:
        return False
    keep = values[name] & ~(mask(width) << lo)
    values[name] = (keep | ((value & mask(width)) << lo)) & mask(widths[name])
    return True


def hit_operands(inv: ir.Invalidation, cache: ir.Cache, entry, drawn: dict[str, int]) -> dict[str, int]:
    """`drawn` (the operands as drawn, by name) with the bits the drops of `inv` on
    `cache` fix for `entry` set to the entry's values; bits nothing fixes keep their
    drawn values."""
    widths = {o.name: o.width for o in inv.operands}
    values = {k: v & mask(widths[k]) for k, v in drawn.items()}
    for drop in inv.drops:
        if drop.cache != cache.name or drop.when is None:
            continue
        for c in conjuncts(drop.when):
            if c.op == "==":
                for piece_side, other in ((c.args[0], c.args[1]), (c.args[1], c.args[0])):
                    piece = operand_piece(piece_side)
                    v = entry_value(other, cache, entry) if piece else None
                    if piece and v is not None and _put(values, widths, piece, v):
                        break
            elif c.op == "call" and c.name in ("covers", "within"):
                piece = operand_piece(c.args[0])
                if piece:
                    # the entry's page address; bits below a left shift are not the piece's
                    address = entry.key << (getattr(entry, "granule", 0) or 0)
                    _put(values, widths, piece, address & ~mask(max(piece[3], 0)))
    return values
