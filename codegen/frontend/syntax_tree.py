"""The syntax tree of a spec file, as the parser sees it: names unresolved, expressions unevaluated.

Each node carries its `Span`. Elaboration (elaborate.py) turns this into the IR.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from codegen.frontend.diagnostics import Span
from codegen.ir.expr import Expr


@dataclass(frozen=True)
class Ref:
    parts: tuple[str, ...]
    span: Span

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class BitRange:
    hi: Expr
    lo: Expr | None
    span: Span


@dataclass(frozen=True)
class Field:
    name: str
    bits: BitRange
    span: Span
    enum: Ref | None = None
    reserved_if: Expr | None = None
    doc: str = ""


@dataclass(frozen=True)
class Reserved:
    bits: BitRange
    span: Span
    when: Expr | None = None
    doc: str = ""


@dataclass(frozen=True)
class Ignored:
    bits: BitRange
    span: Span
    doc: str = ""


@dataclass(frozen=True)
class AddrTerm:
    """One term of a `pointer`/`frame` map: FIELD, or FIELD << SHIFT."""

    field: str
    span: Span
    shift: Expr | None = None


@dataclass(frozen=True)
class Include:
    ref: Ref
    span: Span


@dataclass(frozen=True)
class Layout:
    """A `format` (memory entry) or a `register` (context input)."""

    kind: str  # "format" | "register"
    name: str
    width: Expr
    items: tuple
    span: Span
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class EnumItem:
    name: str
    value: Expr
    span: Span
    doc: str = ""


@dataclass(frozen=True)
class Enum:
    name: str
    width: Expr
    items: tuple[EnumItem, ...]
    span: Span
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Param:
    name: str
    value: Expr
    span: Span
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Import:
    path: str
    alias: str
    span: Span
    overrides: tuple = ()  # Binding: parameters of the imported spec set by the importer


@dataclass(frozen=True)
class SpecHeader:
    name: str
    span: Span
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Level:
    number: Expr
    name: str
    span: Span
    index: Expr | None = None
    table: Ref | None = None
    leaf: Ref | None = None
    leaf_when: Expr | None = None
    page: Expr | None = None
    page_is_shift: bool = False  # `page shift EXPR`: the page is 2**EXPR bytes, EXPR read from the entry
    frame: tuple[AddrTerm, ...] = ()  # `... frame MAP` on the leaf clause: this leaf's own frame map
    cite: str = ""
    doc: str = ""
    stmt_spans: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Rule:
    """`fault`, `check`, `accumulate`, `set` and `let` items of a regime."""

    kind: str
    name: str
    span: Span
    when: Expr | None = None
    value: Expr | None = None  # accumulate: `then` expression
    init: Expr | None = None  # accumulate: initial value
    where: str = ""  # set: "each level" | "table" | "leaf"; fault: "" | "leaf" | "table" | "input"; accumulate: "" | "leaf" | "table"
    record: str = ""  # fault: the record it names (`record NAME`), "" for the first
    record_span: Span | None = None
    used: bool = False  # set: `as used` (written when the entry is used, not after success)
    cite: str = ""
    format: str = ""  # fault `at leaf FORMAT` / `at table FORMAT`: only on entries of that format
    format_span: Span | None = None
    doc: str = ""


@dataclass(frozen=True)
class RecordBits:
    name: str
    bits: BitRange
    value: Expr
    span: Span
    doc: str = ""


@dataclass(frozen=True)
class RecordField:
    name: str
    width: Expr
    span: Span
    value: Expr | None = None
    bits: tuple[RecordBits, ...] = ()
    doc: str = ""
    output: bool = False  # a unit's record field: no value here, exit rules assign it
    enum: Ref | None = None
    store: Ref | None = None
    store_when: Expr | None = None


@dataclass(frozen=True)
class Record:
    name: str
    fields: tuple[RecordField, ...]
    span: Span
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Regime:
    name: str
    span: Span
    items: tuple
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class RegimeInstance:
    """`regime NAME = REGIME with { REG = OTHER; ... };`: the same walk on other registers;
    `adds`: the faults on `error` (Rule) and record fields (Record) the instance adds."""

    name: str
    span: Span
    base: Ref
    bindings: tuple
    cite: str = ""
    doc: str = ""
    adds: tuple = ()


@dataclass(frozen=True)
class Binding:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class Nested:
    name: str
    span: Span
    guest: Ref | None
    host: Ref | None
    host_bindings: tuple[Binding, ...]
    table_access: tuple[Binding, ...]
    final_access: tuple[Binding, ...]
    records: tuple[Record, ...]
    update_access: tuple[Binding, ...] = ()
    update_when: Expr | None = None
    updates_before_final: bool = False  # `guest updates before final;`
    guest_bypass: tuple | None = None  # (condition, cite): the stage does not translate while it holds
    host_bypass: tuple | None = None
    cite: str = ""
    doc: str = ""
    caches: tuple = ()  # Cache and Invalidate declarations, in order
    # `accumulate NAME = INIT then EXPR over table;`: folds over the host translations of
    # the guest's entry reads (Rule, kind "accumulate", where "over table")
    folds: tuple = ()
    item_spans: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class SpecFile:
    path: str
    header: SpecHeader | None
    imports: tuple[Import, ...]
    decls: tuple


@dataclass(frozen=True)
class EventField:
    name: str
    width: Expr
    span: Span
    enum: Ref | None = None
    doc: str = ""


@dataclass(frozen=True)
class StructField:
    name: str
    offset: Expr
    type: Expr  # a width, or the name of a format
    span: Span
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Structure:
    name: str
    size: Expr
    base: Expr
    fields: tuple[StructField, ...]
    span: Span
    cite: str = ""
    doc: str = ""
    when: Expr | None = None
    align: Expr | None = None  # `align N`: the base's alignment in bytes (8 when absent)


@dataclass(frozen=True)
class Bitmap:
    name: str
    width: Expr
    base: Expr
    index: Expr
    span: Span
    span_bits: Expr | None = None  # the `span` clause: how many bits the lookup covers
    when: Expr | None = None
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Call:
    """A unit's call of another unit: its event fields and context registers bound."""

    name: str
    unit: Ref
    event: tuple[Binding, ...]
    context: tuple[Binding, ...]
    span: Span
    when: Expr | None = None
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Walk:
    """A unit's walk of a regime: its input, access kinds and context registers bound."""

    name: str
    regime: Ref
    input: Expr
    access: tuple[Binding, ...]
    context: tuple[Binding, ...]
    span: Span
    when: Expr | None = None
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class ExitAssign:
    name: str
    span: Span
    value: Expr | None = None
    bits: tuple[RecordBits, ...] = ()


@dataclass(frozen=True)
class Exit:
    name: str
    when: Expr
    assigns: tuple[ExitAssign, ...]
    span: Span
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Unit:
    """A decision unit: an event against control state in memory gives an exit or not."""

    name: str
    span: Span
    items: tuple  # EventField lists, ("context", span, refs), Structure, Bitmap, Rule (let), Record, Exit
    cite: str = ""
    doc: str = ""


@dataclass(frozen=True)
class CacheTag:
    name: str
    value: Expr
    span: Span
    cite: str = ""


@dataclass(frozen=True)
class CacheGlobal:
    """`global when EXPR [ignores TAG, ...]`."""

    when: Expr
    ignores: tuple[tuple[str, Span], ...]
    span: Span
    cite: str = ""


@dataclass(frozen=True)
class CacheKey:
    """`key EXPR page N;` of a call cache: the address whose 2^N-byte piece an entry covers."""

    value: Expr
    page: Expr
    span: Span
    cite: str = ""


@dataclass(frozen=True)
class CacheFill:
    """`fill when EXPR;` of a call cache: a miss fills only when EXPR holds."""

    when: Expr
    span: Span
    cite: str = ""


@dataclass(frozen=True)
class CacheSetting:
    """`entries N ways W`, `replace POLICY`, `pages HOW` of a cache."""

    kind: str  # "geometry" | "replace" | "pages"
    span: Span
    value: object  # geometry: (entries Expr, ways Expr); replace/pages: (name, span)
    cite: str = ""


@dataclass(frozen=True)
class Cache:
    """`cache NAME holds WHAT { ... }` in a regime or nested body."""

    name: str
    holds: str  # "translations", "tables", "host tables", "host translations" (words joined by a space)
    holds_span: Span
    items: tuple  # CacheTag, CacheGlobal, CacheSetting, CacheKey, CacheFill
    span: Span
    cite: str = ""
    doc: str = ""
    # in a unit: what it caches, ("walk" | "structure" | "call", name, span); None elsewhere
    source: tuple | None = None
    levels: tuple = ()  # `of levels N, ...`: (number, span) pairs
    levels_span: Span | None = None


@dataclass(frozen=True)
class Drop:
    cache: str
    cache_span: Span
    span: Span
    when: Expr | None = None


@dataclass(frozen=True)
class Invalidate:
    """`invalidate NAME (OPERAND : WIDTH, ...) { drop ...; set ...; }`."""

    name: str
    operands: tuple[EventField, ...]
    drops: tuple[Drop, ...]
    sets: tuple[Binding, ...]
    span: Span
    cite: str = ""
    doc: str = ""
