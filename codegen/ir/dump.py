"""The dump: the JSON that `virtspec dump SPEC` prints, a public interface.

A presentation of the elaborated spec for scripts and people, kept apart from the IR
(nodes.py) that the generators read, so that each can change without the other:

- every declaration has one name: those of an imported file carry the namespace of
  their import (`pg.walk` for the regime `walk` of `import "paging.vspec" as pg`;
  `a.b.X` for an import of an import), those of the spec itself none;
- a `let` is listed once with its definition, and every use of it is a reference to
  its name (the IR expands it in place);
- a number keeps what it was written as: a parameter, an enum item, a fault kind, or
  the expression it was folded from (so `reserved if !BIG_PAGES` names BIG_PAGES);
- a reference to a field names the field and the formats or register it belongs to;
- a leaf whose page size is read from the entry (`page shift EXPR`) has that expression.

`version` changes whenever a field is removed or changes meaning; fields may be added
within one version. `virtspec schema dump` prints the JSON Schema of this module.
Every field is always present (null or empty when it does not apply). Spans locate
the source: `path` is relative to the project folder (that of the nearest
pyproject.toml above the spec), else to the spec's own folder, so a dump does not
depend on the working directory. Depends on nothing else in codegen.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

FORMAT = "virtspec-dump"
VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Span(_Model):
    """Where in a spec file a node comes from: 1-based line and column, end exclusive."""

    path: str = Field(description="the file, relative to the project folder (else to the top spec's folder)")
    line: int
    col: int
    end_line: int
    end_col: int


# ---- expressions: a tree of four kinds of node, told apart by `op`
class NumExpr(_Model):
    """A number, with what it was written as."""

    op: Literal["num"]
    value: int
    width: int = Field(description="bits: the value's bit length (at least 1)")
    kind: Literal["literal", "param", "enum", "fault", "folded"] = Field(
        description="literal: written as a number; param: the value of the parameter `name`; enum: the value of "
                    "the enum item `name` (ENUM.ITEM); fault: the number of the fault kind `name` (1 for the first "
                    "fault or check of the regime); folded: the constant value of the expression `folded`")
    name: str | None = Field(description="the parameter, enum item or fault kind; null for a literal or a folded value")
    folded: "Expr | None" = Field(description="kind folded: the expression as written, before folding")
    span: Span


class RefExpr(_Model):
    """A value known only when the model runs."""

    op: Literal["ref"]
    kind: Literal["input", "ctx", "field", "leaf", "acc", "builtin", "access", "event", "struct", "rerr", "bitmap",
                  "walk", "host", "operand", "tag", "entry", "call", "hacc"] = Field(
        description="input: the input address; ctx: a context register; field: a field of the entry being read; "
                    "leaf: a field of the leaf entry; acc: an accumulator; builtin: a value of the walk (level, "
                    "rsvd, fault, ...); access: an access kind; event: a field of a unit's event; struct: a "
                    "structure field in memory; rerr: STRUCTURE.error, 1 when a read of the structure answered with an "
                    "error; bitmap: a bitmap lookup; walk: a result of a unit's walk (WALK.NAME); "
                    "host: a field of the host stage's record; hacc: an accumulator of the host translation "
                    "(host.NAME in a nested fold); operand: an operand of an invalidation event; tag: "
                    "the request's value of a cache tag (in a drop condition); entry: what the cache entry being "
                    "dropped stored, a tag or `global`; call: a result of a unit's call (CALL.NAME: called, exit, a rule "
                    "of the callee or a field of its record)")
    name: str = Field(description="what is read: the register (by its declaration's name), entry field, "
                                  "structure field S.F, accumulator, event field, ...")
    field: str | None = Field(description="the field read of the register, the entry, or the format structure "
                                          "field S.F is typed with (S.F.SUB); null when the whole value is read")
    layouts: tuple[str, ...] = Field(
        description="the formats or register `field` belongs to: the register, the format of S.F, or every "
                    "entry format of the walk that has the field; for S.F read whole, its format if it has one")
    lo: int = Field(description="ctx and struct: the bit position of what is read in the register or the "
                                "structure's 64-bit word; 0 otherwise")
    width: int
    span: Span


class LetExpr(_Model):
    """A use of a `let` name; its definition is listed once with the regime's or unit's lets."""

    op: Literal["let"]
    name: str
    width: int
    span: Span = Field(description="the use")


class OpExpr(_Model):
    """An operator applied to its operands: `cond` is c ? a : b, `bit` is base[index],
    `slice` is base[hi:lo] (hi and lo numbers), `neg` is unary minus."""

    op: Literal["!", "~", "neg", "&&", "||", "==", "!=", "<", "<=", ">", ">=", "&", "|", "^", "+", "-", "*", "/",
                "%", "<<", ">>", "cond", "bit", "slice", "call"]
    args: tuple["Expr", ...]
    name: str = Field("", description="for `call`: the builtin (sext, ctz, cto; covers in a drop condition: 1 "
                                       "when the entry translates the page of the input address X)")
    width: int = Field(description="bits of the result; 1 for a truth value")
    span: Span


Expr = Annotated[Union[NumExpr, RefExpr, LetExpr, OpExpr], Field(discriminator="op")]


# ---- declarations
class ParamValue(_Model):
    name: str
    value: int


class Import(_Model):
    """One instance of an imported file: a file imported twice with the same parameter
    values is one instance, with other parameter values two."""

    namespace: str = Field(description="the prefix of its declarations' names: the alias, `a.b` for b imported by a")
    path: str = Field(description="the file, as a span's path")
    aliases: tuple[str, ...] = Field(description="every name the instance is imported under (the first is namespace)")
    params_set: tuple[ParamValue, ...] = Field(description="the parameters its import sets (`with { P = v; }`)")
    span: Span = Field(description="the first import of the instance")


class Param(_Model):
    name: str
    value: int = Field(description="the value in this compilation (an import may set it)")
    cite: str
    doc: str
    span: Span


class EnumItem(_Model):
    name: str
    value: int
    doc: str
    span: Span


class EnumDef(_Model):
    name: str
    width: int
    items: tuple[EnumItem, ...]
    cite: str
    doc: str
    span: Span


class FormatField(_Model):
    """A named bit field [hi:lo] of a format or register."""

    name: str
    hi: int
    lo: int
    enum: str | None
    reserved_if: Expr | None = Field(description="`reserved if COND`: the field must be zero when COND holds")
    params: tuple[str, ...] = Field(description="the parameters reserved_if reads (which make the field reserved)")
    doc: str
    span: Span


class BitRange(_Model):
    """A reserved (must be zero) or ignored bit range; empty when hi < lo."""

    kind: Literal["reserved", "ignored"]
    hi: int
    lo: int
    when: Expr | None = Field(description="`reserved [..] if COND`: reserved only when COND holds")
    params: tuple[str, ...] = Field(description="the parameters `when` reads (which make the range reserved)")
    low: Expr | None = Field(description="`reserved [HI:EXPR]` with a register expression: EXPR; the range is one "
                                         "of those it became, reserved when EXPR <= lo (`when`)")
    doc: str
    span: Span


class Layout(_Model):
    """A bit layout: a `format` (an entry in memory) or a `register` (a context input)."""

    kind: Literal["format", "register"]
    name: str
    width: int
    fields: tuple[FormatField, ...] = Field(description="with those of included formats")
    ranges: tuple[BitRange, ...]
    cite: str
    doc: str
    span: Span


class AddrTerm(_Model):
    """One term of a `pointer`/`frame` map."""

    field: str = Field(description="the entry field that carries address bits")
    shift: int | None = Field(description="`FIELD << N`: the address bit the field's low bit goes to; null: a bare "
                                          "FIELD, its bits at the address bits they occupy")
    span: Span


class Level(_Model):
    number: int = Field(description="the level's place in the walk, counting down to 1 at the leaf-most level")
    label: int | None = Field(description="the spec's number of the level when levels count up from the root "
                                          "(records and outcomes report it); null: `number`")
    name: str
    index_hi: int
    index_lo: int
    table: str | None = Field(description="the format of its entries that point to a table of the next level")
    leaf: str | None = Field(description="the format of its entries that map a page")
    leaf_when: Expr | None = Field(description="an entry is a leaf when this holds (read from the entry)")
    page_shift: int | None = Field(description="log2 of the size of its pages, when fixed (`page 4K`: 12); null "
                                               "without a leaf or when the size is read from the entry")
    page_shift_expr: Expr | None = Field(description="`page shift EXPR`: the page is 2**EXPR bytes, EXPR read "
                                                     "from the leaf entry")
    frame: tuple[AddrTerm, ...] = Field(description="`leaf F ... frame MAP`: this leaf's own frame map; empty: the "
                                                    "regime's")
    cite: str
    doc: str
    span: Span


class Rule(_Model):
    """A walk fault or a final check; `where`: "" every entry, "leaf" or "table" (pointer) entries only,
    "input" before the first memory reference (an input fault); `format`: with `at leaf FORMAT` /
    `at table FORMAT`, only entries of that format (else null)."""

    name: str
    when: Expr
    where: Literal["", "leaf", "table", "input"]
    record: str = Field("", description="an input fault's record (`record NAME`); \"\" the regime's first")
    format: str | None
    cite: str
    doc: str
    span: Span


class Let(_Model):
    """`let NAME = EXPR;`: listed once; each use is a LetExpr of its name."""

    name: str
    value: Expr | None = Field(description="the definition, resolved as at its first use; null if never used")
    source: str = Field(description="the definition as written")
    cite: str
    doc: str
    span: Span


class Accumulator(_Model):
    name: str
    width: int
    init: Expr
    then: Expr
    where: str = Field(description="the entries it takes in: '' every entry, 'table' pointers only, 'leaf' leaves; "
                                   "'over table' a nested fold: every guest entry read, with its host translation")
    cite: str
    doc: str
    span: Span


class Update(_Model):
    """`set FIELD [= VALUE] at each level|table|leaf [as used] [when C]`."""

    field: str
    where: str
    when: Expr | None
    value: Expr | None
    used: bool
    cite: str
    span: Span


class RecordBits(_Model):
    name: str
    hi: int
    lo: int
    value: Expr
    doc: str
    span: Span


class RecordField(_Model):
    """A field of a fault record: a whole value, or bit ranges."""

    name: str
    width: int
    value: Expr | None
    enum: str | None = Field(description="the enum whose items the value is (`enum NAME` on the field), else null")
    bits: tuple[RecordBits, ...]
    doc: str
    span: Span


class Record(_Model):
    name: str
    fields: tuple[RecordField, ...]
    cite: str
    doc: str
    span: Span


class Binding(_Model):
    """A value given to a named input: an access kind, or a context register (by its declaration's name)."""

    name: str
    value: Expr
    span: Span


class Regime(_Model):
    """A one-dimensional translation: input address -> output address or fault."""

    name: str
    input_name: str
    input_width: int
    access: tuple[str, ...]
    context: tuple[str, ...] = Field(description="the context registers, by their declarations' names")
    entry_bytes: int
    root: Expr
    start: Expr = Field(description="the start level, as a walk number (see Level.number)")
    start_written: Expr | None = Field(description="levels counted up from the root: the start level as written "
                                                   "(the spec's numbers); null: `start`")
    input_size: Expr | None = Field(description="`input NAME : W size EXPR`: the input bits the level indexes read")
    flip: int = Field(description="levels counted up from the root: a level's spec number is flip - its walk "
                                  "number; 0: levels count down")
    base: int = Field(0, description="levels counted down to 0 at the leaf: a level's spec number is its walk "
                                     "number - base (1); 0 otherwise")
    pointer: tuple[AddrTerm, ...] = Field(description="the next table's address in a pointer entry: an OR of terms")
    frame: tuple[AddrTerm, ...] = Field(description="the page frame in a leaf entry: an OR of terms")
    next_level: Expr | None = Field(description="`next level EXPR`: the level a pointer leads to (walks that skip "
                                                "levels); null: the level below")
    levels: tuple[Level, ...] = Field(description="from the root down (the highest walk number first)")
    input_faults: tuple[Rule, ...] = Field((), description="`fault NAME at input`: checked in order before the "
                                                          "first memory reference")
    faults: tuple[Rule, ...]
    checks: tuple[Rule, ...]
    accumulators: tuple[Accumulator, ...]
    updates: tuple[Update, ...]
    lets: tuple[Let, ...]
    record: Record
    records: tuple[Record, ...] = Field((), description="records after the first (input faults name them)")
    access_groups: tuple[AccessGroup, ...] = Field(description="access kinds that exclude each other")
    bypass: Expr | None = Field(description="`bypass when COND`: while COND holds the regime does not translate "
                                            "(the output is the input, no memory reference); null: never")
    bypass_cite: str
    instance_of: str | None = Field(description="`regime NAME = BASE with { ... }`: the regime it re-instantiates; "
                                                "null: declared with its own body")
    instance_bindings: tuple[RegisterSwap, ...] = Field(description="the registers it reads instead of BASE's")
    instance_adds: tuple[str, ...] = Field(default=(), description=(
        "what the instance adds to BASE: faults on `error` (checked first) and RECORD.FIELD record fields"))
    caches: tuple["Cache", ...] = Field((), description="translation caches (used when the regime is the top)")
    invalidations: tuple["Invalidation", ...] = Field((), description="invalidation events of those caches")
    cite: str
    doc: str
    span: Span


class AccessGroup(_Model):
    """`access one of K, ...;` (exactly: one kind holds) or `access at most one of K, ...;`."""

    kinds: tuple[str, ...]
    exactly: bool
    span: Span


class RegisterSwap(_Model):
    """A register a re-instantiated regime reads (`by`) in place of its base's (`replaces`)."""

    replaces: str
    by: str


class CacheTag(_Model):
    """`tag NAME = EXPR`: stored by an entry at fill, compared with the request's at lookup."""

    name: str
    value: Expr
    cite: str
    span: Span


class Cache(_Model):
    """`cache NAME holds translations|[host] tables of levels N, ...|host translations { ... }`: a
    cache of final translations (a TLB), of partial walks (a paging-structure cache of the
    input stage or, nested, of the host stage) or of the
    host stage's translations of guest-physical pages (a nested TLB); in a unit, `holds
    translations of walk W`, `holds structure S` or `holds call C` (source and of)."""

    name: str
    holds: Literal["translations", "tables", "host translations", "structure", "call"]
    levels: tuple[int, ...] = Field((), description="holds tables: the levels (the spec's numbers) of its stage "
                                                    "whose entries it caches, root first")
    stage: Literal["guest", "host"] = Field("guest", description="holds tables: whose walk it caches, the input "
                                                                 "stage's (`holds tables`) or, nested, the host "
                                                                 "stage's (`holds host tables`)")
    tags: tuple[CacheTag, ...]
    global_when: Expr | None = Field(description="`global when EXPR`: an entry filled while EXPR holds is global")
    global_ignores: tuple[str, ...] = Field(description="the tags a global entry matches whatever their value")
    global_cite: str
    entries: int
    ways: int
    sets: int = Field(description="entries / ways")
    replace: Literal["lru", "plru", "fifo"]
    pages: Literal["split", "whole"] = Field(description="split: one entry per smallest page; whole: one entry "
                                                         "for a whole large page (one set only)")
    cite: str
    doc: str
    span: Span
    source: Literal["", "walk", "structure", "call"] = Field("", description="in a unit: what the cache stands in "
                                                             "front of (a walk, a structure read or a call); empty "
                                                             "in a translation")
    of: str = Field("", description="in a unit: the walk's, the structure's or the call's name")
    key: Expr | None = Field(None, description="holds call: `key EXPR page N`, the address whose 2^page-byte "
                                               "piece an entry covers")
    page: int = Field(0, description="holds call: the page shift N of the key")
    fill_when: Expr | None = Field(None, description="holds call: `fill when EXPR`, a miss fills only when it holds "
                                                     "(null: every call made fills)")


class Drop(_Model):
    """`drop CACHE [when EXPR]`: the entries an invalidation removes (null `when`: all)."""

    cache: str
    when: Expr | None
    span: Span


class Operand(_Model):
    name: str
    width: int
    span: Span


class Invalidation(_Model):
    """`invalidate NAME (OPERAND : WIDTH, ...) { drop ...; set REG = EXPR; }`: drops first,
    then the `set`s give the context of the requests that follow."""

    name: str
    operands: tuple[Operand, ...]
    drops: tuple[Drop, ...]
    sets: tuple[Binding, ...] = Field(description="context registers the event writes, by their declarations' names")
    cite: str
    doc: str
    span: Span


class Nested(_Model):
    """Two regimes composed: each address the guest produces is translated by the host."""

    name: str
    guest: str
    host: str
    host_bindings: tuple[Binding, ...] = Field(description="values of the host regime's context registers")
    table_access: tuple[Binding, ...]
    final_access: tuple[Binding, ...]
    update_access: tuple[Binding, ...]
    update_when: Expr | None
    updates_before_final: bool
    guest_bypass: Expr | None = Field(description="`guest bypass when COND`: the guest stage is off while COND holds")
    host_bypass: Expr | None = Field(description="`host bypass when COND`: the host stage is off while COND holds "
                                                 "(guest-physical = host-physical)")
    guest_bypass_cite: str
    host_bypass_cite: str
    context: tuple[str, ...] = Field(description="the registers it reads, by their declarations' names")
    record: Record
    caches: tuple[Cache, ...] = Field((), description="the composition's own translation caches")
    invalidations: tuple[Invalidation, ...] = Field((), description="invalidation events of those caches")
    folds: tuple[Accumulator, ...] = Field((), description="`accumulate NAME = INIT then EXPR over table`: folds over "
                                           "the host translations of the guest's entry reads")
    cite: str
    doc: str
    span: Span


class EventField(_Model):
    name: str
    width: int
    enum: str | None
    doc: str
    span: Span


class StructField(_Model):
    """A field at a byte offset of a structure, inside one aligned 64-bit word."""

    name: str
    offset: int
    width: int
    format: str | None
    cite: str
    doc: str
    span: Span


class Structure(_Model):
    name: str
    size: int
    base: Expr
    fields: tuple[StructField, ...]
    when: Expr | None = Field(description="read only when this holds (else every field reads as 0)")
    align: int = Field(8, description="the base's alignment in bytes: 8, or 4 (`align 4`: the structure's words "
                                      "are read from the two aligned words each straddles)")
    cite: str
    doc: str
    span: Span


class Bitmap(_Model):
    name: str
    width: int
    base: Expr
    index: Expr
    span_bits: Expr
    when: Expr | None
    cite: str
    doc: str
    span: Span


class Walk(_Model):
    """A walk of a regime inside a unit, with the regime's inputs bound to expressions;
    with `nested` true, `regime` names a nested composition (a 2D walk)."""

    name: str
    regime: str
    input: Expr
    access: tuple[Binding, ...]
    context: tuple[Binding, ...]
    when: Expr | None
    cite: str
    doc: str
    span: Span
    nested: bool = False
    # the fault kinds the walk's constant bindings rule out (their conditions fold to 0)
    never: tuple[str, ...] = ()
    # the accumulators the unit reads after a success (`NAME.ACC`; a composition's: the guest's)
    accs: tuple[str, ...] = ()


class Step(_Model):
    kind: Literal["structure", "bitmap", "walk", "call"]
    name: str


class StoreTarget(_Model):
    structure: str
    field: str


class OutputField(_Model):
    name: str
    width: int
    enum: str | None
    store: StoreTarget | None = Field(description="the structure field it is written to")
    store_when: Expr | None
    default: Expr | None = Field(description="its value in every exit rule that does not assign it (else 0)")
    doc: str
    span: Span


class UnitRecord(_Model):
    name: str
    fields: tuple[OutputField, ...]
    cite: str
    doc: str
    span: Span


class ExitAssign(_Model):
    field: str
    value: Expr | None
    bits: tuple[RecordBits, ...]
    default: bool = Field(description="the record field's default, in a rule that does not assign the field")
    span: Span


class ExitRule(_Model):
    name: str
    when: Expr
    assigns: tuple[ExitAssign, ...]
    cite: str
    doc: str
    span: Span


class Call(_Model):
    """A call of another unit, inlined: the callee's steps are steps of the caller named
    CALL_STEP (`inlined`), run only while `when` holds; at the call's own step the callee's
    rules decide (`exits`, rewritten onto the caller) and, on an exit, its stores are written."""

    name: str
    unit: str = Field(description="the callee, as the call names it (ALIAS.UNIT for an imported one)")
    label: str = Field(description="how coverage names it (OUTER.INNER for a call inside a callee)")
    event: tuple[Binding, ...] = Field(description="the callee's event fields, bound")
    context: tuple[Binding, ...] = Field(description="the callee's context registers, bound")
    when: Expr | None
    exits: tuple[ExitRule, ...] = Field(description="the callee's exit rules, rewritten onto the caller")
    record: UnitRecord = Field(description="the callee's record, its stores naming the inlined structures")
    inlined: tuple[Step, ...] = Field(description="the callee's steps as the caller's, in order")
    reads: tuple[Expr, ...] = Field(description="what only the callee's cache tags read, rewritten onto the caller "
                                                "(the words are read as the callee's cache-free decide reads them)")
    cite: str
    doc: str
    span: Span


class Unit(_Model):
    """A decision unit: an event against control state in memory gives no exit, or the
    first exit rule that holds with its record."""

    name: str
    event: tuple[EventField, ...]
    context: tuple[str, ...]
    structures: tuple[Structure, ...]
    bitmaps: tuple[Bitmap, ...]
    walks: tuple[Walk, ...]
    steps: tuple[Step, ...] = Field(description="the order structures, bitmaps, walks and calls are evaluated in")
    lets: tuple[Let, ...]
    record: UnitRecord
    exits: tuple[ExitRule, ...]
    cite: str
    doc: str
    span: Span
    caches: tuple[Cache, ...] = Field((), description="caches in front of its walks and structure reads")
    invalidations: tuple[Invalidation, ...] = Field((), description="invalidation events of those caches")
    calls: tuple[Call, ...] = Field((), description="calls of other units (each also a step)")


class Top(_Model):
    kind: Literal["regime", "nested", "unit"]
    name: str


class Dump(_Model):
    """An elaborated spec with everything it imports."""

    format: Literal["virtspec-dump"]
    version: Literal[1]
    generator_version: str
    name: str
    path: str
    sha256: str = Field(description="over the text of the spec and every file it imports")
    cite: str
    doc: str
    span: Span
    top: Top = Field(description="what the generated models implement")
    models: tuple[str, ...] = Field(description="every model the spec generates, the default (`top`) first")
    imports: tuple[Import, ...]
    params: tuple[Param, ...]
    enums: tuple[EnumDef, ...]
    layouts: tuple[Layout, ...]
    regimes: tuple[Regime, ...]
    nested: tuple[Nested, ...]
    units: tuple[Unit, ...]


for _m in (NumExpr, OpExpr):
    _m.model_rebuild()


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of the dump."""
    schema = Dump.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "virtspec dump", **{
        k: v for k, v in schema.items() if k != "title"}}
