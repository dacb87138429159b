"""The elaborated, validated model of a spec: pydantic v2, frozen, every node with its span.

Names are resolved, constant expressions are folded to integers, and every expression
left in the IR (`Expr` with op "ref" leaves) is typed with a bit width. Emitters read
only this module's classes.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from codegen.ir.expr import Expr
from codegen.ir.span import NO_SPAN, Span

GENERATOR_VERSION = "0.1.0"


class Node(BaseModel):
    model_config = ConfigDict(frozen=True)
    span: Span = NO_SPAN


class Param(Node):
    name: str
    value: int
    cite: str = ""
    doc: str = ""


class EnumItem(Node):
    name: str
    value: int
    doc: str = ""


class EnumDef(Node):
    name: str
    width: int
    items: tuple[EnumItem, ...]
    cite: str = ""
    doc: str = ""


class Field(Node):
    """A named bit field [hi:lo]; `reserved_if` makes it must-be-zero when true."""

    name: str
    hi: int
    lo: int
    enum: str | None = None
    reserved_if: Expr | None = None
    doc: str = ""

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lo


class BitRange(Node):
    """A reserved (must-be-zero, possibly conditional) or ignored range; may be empty.

    `reserved [HI:EXPR]` with a register expression EXPR (bits above an output size a
    register chooses) becomes one such range per value EXPR can take, each with `when`
    EXPR <= its `lo` and `low` EXPR: it may cover a field (the address field)."""

    kind: str
    hi: int
    lo: int
    when: Expr | None = None
    low: Expr | None = None
    doc: str = ""

    @property
    def mask(self) -> int:
        return 0 if self.hi < self.lo else ((1 << (self.hi - self.lo + 1)) - 1) << self.lo


class Layout(Node):
    """A bit layout: `format` (an entry in memory) or `register` (a context input)."""

    kind: str
    name: str
    width: int
    fields: tuple[Field, ...]
    ranges: tuple[BitRange, ...] = ()
    cite: str = ""
    doc: str = ""

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def mbz_static(self) -> int:
        """Bits that must always be zero."""
        m = 0
        for r in self.ranges:
            if r.kind == "reserved" and r.when is None:
                m |= r.mask
        return m

    def mbz_conditional(self) -> list[tuple[Expr, int]]:
        """(condition, mask) pairs: bits that must be zero when the condition holds."""
        out = [(r.when, r.mask) for r in self.ranges if r.kind == "reserved" and r.when is not None and r.mask]
        out += [(f.reserved_if, f.mask) for f in self.fields if f.reserved_if is not None]
        return out


class AddrTerm(Node):
    """One term of a `pointer`/`frame` map: entry field `field` carries the address bits
    from `shift` up (`FIELD << N`, its value right-aligned); shift None is a bare FIELD,
    the field's bits at the address bits they occupy."""

    field: str
    shift: int | None = None

    def piece(self, layout: Layout) -> tuple[int, int, int] | None:
        """(entry low bit, width, address low bit) in `layout`; None if it lacks the field."""
        f = layout.field(self.field)
        if f is None:
            return None
        return f.lo, f.width, f.lo if self.shift is None else self.shift


def addr_pieces(terms: tuple[AddrTerm, ...], layout: Layout) -> tuple[tuple[int, int, int], ...]:
    """The (entry low bit, width, address low bit) of each term `layout` has, by address bit."""
    return tuple(sorted((p for t in terms if (p := t.piece(layout)) is not None), key=lambda p: p[2]))


def addr_mask(terms: tuple[AddrTerm, ...], layout: Layout) -> int:
    """The address bits a map sets from an entry of `layout`."""
    m = 0
    for _, w, a in addr_pieces(terms, layout):
        m |= ((1 << w) - 1) << a
    return m


def addr_of(terms: tuple[AddrTerm, ...], layout: Layout, entry: int) -> int:
    """The address an entry value of `layout` gives through a map."""
    out = 0
    for e, w, a in addr_pieces(terms, layout):
        out |= ((entry >> e) & ((1 << w) - 1)) << a
    return out


def entry_bits(terms: tuple[AddrTerm, ...], layout: Layout, addr: int) -> tuple[int, int]:
    """The inverse: (entry bits that give `addr`, the entry mask they occupy)."""
    value = m = 0
    for e, w, a in addr_pieces(terms, layout):
        value |= ((addr >> a) & ((1 << w) - 1)) << e
        m |= ((1 << w) - 1) << e
    return value, m


class Level(Node):
    """One level of a walk: the slice of the input that indexes the table, and the
    format of its entries as a pointer (`table`) and/or as a leaf."""

    # `number` is the level's place in the walk, counting down to 1 at the leaf-most
    # level, what the generators and the stimulus work with; `label` is the number the
    # spec (and so the architecture) gives it: the same when levels count down, else
    # (levels numbered up from the root) Regime.flip - number, or (levels numbered down
    # to 0) number - Regime.base
    number: int
    name: str
    index_hi: int
    index_lo: int
    label: int | None = None
    table: str | None = None
    leaf: str | None = None
    leaf_when: Expr | None = None
    page_shift: int = 0
    # `page shift EXPR`: the page size comes from the leaf entry (2**EXPR bytes); then
    # page_shift is the smallest (the frame field's low bit)
    page_shift_expr: Expr | None = None
    # `leaf F ... frame MAP`: this leaf's own frame map; () uses the regime's
    frame: tuple[AddrTerm, ...] = ()
    cite: str = ""
    doc: str = ""

    @property
    def shown(self) -> int:
        """The level's number as the spec writes it (records, outcomes, coverage, docs)."""
        return self.number if self.label is None else self.label


class Rule(Node):
    """A walk fault (`fault`), a final check (`check`). A walk fault applies to entries
    in the role `where` says: "" every entry, "leaf" leaves only, "table" pointers only;
    an input fault ("input") is checked before the first memory reference, on the input
    and the context alone, and reports `record` (a record's name; "" the first);
    with `format` (`at leaf big_page`), only to entries of that format in that role, so
    it may read fields only that format has."""

    name: str
    when: Expr
    where: str = ""
    record: str = ""
    format: str = ""
    cite: str = ""
    doc: str = ""


class Let(Node):
    """`let NAME = expr;`, kept for the docs. Every use of the name is expanded in place
    in the IR's expressions, so nothing evaluates this: `value` is the body as written
    (names unresolved, op "name"), and an expanded use keeps the body's span."""

    name: str
    value: Expr
    cite: str = ""
    doc: str = ""


class Accumulator(Node):
    """`accumulate NAME = INIT then EXPR [at leaf|table]`: `where` limits the entries whose
    fields EXPR reads as for a fault ("" every entry; "table": hierarchical controls that
    only pointer entries hold, which restrict everything below)."""

    name: str
    width: int
    init: Expr
    then: Expr
    where: str = ""
    cite: str = ""
    doc: str = ""


class Update(Node):
    """`set FIELD [= VALUE] at each level|table|leaf [as used] [when C]`: write a field of
    the entries it applies to, after the whole walk succeeded or (`as used`) as soon as
    the entry passed its own faults. VALUE None is 1 (set a flag)."""

    field: str
    where: str
    when: Expr | None = None
    value: Expr | None = None
    used: bool = False
    cite: str = ""

    def applies(self, leaf: bool) -> bool:
        """Whether the update writes a leaf entry (`leaf`) or a table entry (not `leaf`)."""
        return self.where == "each level" or self.where == ("leaf" if leaf else "table")


class RecordBits(Node):
    name: str
    hi: int
    lo: int
    value: Expr
    doc: str = ""


class RecordField(Node):
    """A field of a regime's or composition's fault record: a value, or bit ranges. With
    `enum`, the value is one of that enum's items (docs and coverage name it)."""

    name: str
    width: int
    value: Expr | None = None
    enum: str | None = None
    bits: tuple[RecordBits, ...] = ()
    doc: str = ""


class Record(Node):
    name: str
    fields: tuple[RecordField, ...]
    cite: str = ""
    doc: str = ""


class AccessGroup(Node):
    """Access kinds that exclude each other: `access one of K, ...;` (exactly one holds,
    `exactly`) or `access at most one of K, ...;` (one or none, e.g. neither write nor
    fetch is a read)."""

    kinds: tuple[str, ...]
    exactly: bool = False


def access_ok(groups: tuple[AccessGroup, ...], access: dict) -> bool:
    """Whether access-kind values (name -> 0/1) respect every exclusive group."""
    for g in groups:
        on = sum(1 for k in g.kinds if access.get(k))
        if on > 1 or (g.exactly and on == 0):
            return False
    return True


# The sizes of a table entry (`entry BYTES;`): the memory port moves 2**m_size bytes
ENTRY_SIZES = (4, 8, 16, 32)


class Binding(Node):
    name: str
    value: Expr


class EventField(Node):
    """A field of a unit's event (the request). With `enum`, it holds one of its values."""

    name: str
    width: int
    enum: str | None = None
    doc: str = ""


class CacheTag(Node):
    """`tag NAME = EXPR`: a value over context registers that an entry stores at fill and
    that a lookup compares with the request's (PCID, ASID, VPID)."""

    name: str
    value: Expr
    cite: str = ""


class Cache(Node):
    """`cache NAME holds translations { ... }`: a cache of final translations of its
    translation (a regime that is a spec's top, or a nested composition), keyed by the
    input page (>> the smallest leaf page shift), the access kinds and the tags.
    `global_when` (over context registers and `leaf.F` of the input stage's leaf entry)
    makes a filled entry global: it then matches whatever the request's values of the
    tags in `global_ignores` are. sets = entries // ways; `pages` "whole" (one set only)
    keeps a large page as one entry that answers for every small page in it."""

    name: str
    # "translations" (a TLB); "tables" (a paging-structure cache of the input stage's
    # `levels`, spec numbers: each entry holds what a walk has after that level's entry,
    # keyed by input >> the level's index_lo); "host translations" (nested: the nested
    # TLB of the host stage's translations of guest-physical pages)
    holds: str = "translations"
    levels: tuple[int, ...] = ()
    # "tables" only: whose walk the paging-structure cache holds: "guest" (the input stage;
    # `holds tables`) or "host" (`holds host tables`, nested: the host walk's levels, keyed
    # by guest-physical input bits from the level's index up)
    stage: str = "guest"
    tags: tuple[CacheTag, ...] = ()
    global_when: Expr | None = None
    global_ignores: tuple[str, ...] = ()
    global_cite: str = ""
    entries: int
    ways: int
    replace: str  # "lru" | "plru" | "fifo"
    pages: str = "split"  # "split" | "whole"
    cite: str = ""
    doc: str = ""
    # in a unit: "walk" (the final translations of walk `of`), "structure" (the words
    # of structure `of`, keyed by its address) or "call" (the results of call `of`, keyed by
    # `key` >> `page` and the tags; filled when `fill_when` holds, None: always); "" in a translation
    source: str = ""
    of: str = ""
    key: Expr | None = None
    page: int = 0
    fill_when: Expr | None = None

    @property
    def sets(self) -> int:
        return self.entries // self.ways

    def tag(self, name: str) -> CacheTag | None:
        return next((t for t in self.tags if t.name == name), None)


class Drop(Node):
    """`drop CACHE [when EXPR]`: the entries of CACHE the event removes (None: all).
    EXPR reads the event's operands (kind "operand"), context registers (their values
    when the event happens), the request's current value of each tag by its bare name
    (kind "tag"), `entry.TAG` / `entry.global` (kind "entry", name TAG / "global") and
    `covers(X)` (op "call", name "covers": the entry is for the page containing input X)."""

    cache: str
    when: Expr | None = None


class Invalidation(Node):
    """`invalidate NAME (OPERAND : WIDTH, ...) { drop ...; set REG = EXPR; }`: an event
    software causes. Drops apply first; then each `set` writes a context register (over
    operands and context registers as they were) for the requests that follow."""

    name: str
    operands: tuple[EventField, ...] = ()
    drops: tuple[Drop, ...] = ()
    sets: tuple[Binding, ...] = ()
    cite: str = ""
    doc: str = ""


class Regime(Node):
    """A one-dimensional translation: input address -> output address or fault."""

    name: str
    input_name: str
    input_width: int
    access: tuple[str, ...]
    context: tuple[str, ...]
    entry_bytes: int
    root: Expr
    start: Expr
    pointer: tuple[AddrTerm, ...]
    frame: tuple[AddrTerm, ...]
    levels: tuple[Level, ...]
    faults: tuple[Rule, ...]
    checks: tuple[Rule, ...]
    accumulators: tuple[Accumulator, ...]
    updates: tuple[Update, ...]
    record: Record
    # the level a pointer entry leads to (a field of the entry, for walks that skip
    # levels); None: the level below
    next_level: Expr | None = None
    # faults checked before the first memory reference (`fault NAME at input`), in order
    input_faults: tuple[Rule, ...] = ()
    # records after the first, for input faults that name them
    records: tuple[Record, ...] = ()
    let_defs: tuple[Let, ...] = ()  # the `let`s, as written (for the docs)
    # access kinds that exclude each other (stimulus never draws two of one group)
    access_groups: tuple[AccessGroup, ...] = ()
    # `bypass when COND`: while COND (over context registers) holds the regime does not
    # translate: the output is the input, and no memory is referenced
    bypass: Expr | None = None
    bypass_cite: str = ""
    # `regime NAME = BASE with { REG = OTHER; }`: the regime it re-instantiates, and how
    instance_of: str = ""
    instance_bindings: tuple[tuple[str, str], ...] = ()
    # what an instance adds to its base: faults on `error` (first), RECORD.FIELD record fields
    instance_adds: tuple[str, ...] = ()
    # `input NAME : W size EXPR`: the low input bits the walk translates, chosen by a
    # register; the level indexes read only those (a bit at or above EXPR reads as 0)
    input_size: Expr | None = None
    # levels numbered up from the root (0, 1, 2... to the leaf): a level's spec number is
    # flip - its walk number; 0: levels count down, the numbers are the spec's
    flip: int = 0
    # levels numbered down to 0 at the leaf (2, 1, 0): a level's spec number is its walk
    # number - base (1); 0: the numbers are the spec's
    base: int = 0
    # `start level EXPR` as written (spec numbers), for the docs; `start` is in walk numbers
    start_written: Expr | None = None
    # translation caches and invalidation events declared in the regime's body: used when
    # the regime is a spec's top (not as a stage of a nested composition)
    caches: tuple[Cache, ...] = ()
    invalidations: tuple[Invalidation, ...] = ()
    cite: str = ""
    doc: str = ""

    def label(self, number: int) -> int:
        """The spec's number of the level at walk number `number`."""
        return self.flip - number if self.flip else number - self.base

    def rank(self, label: int) -> int:
        """The walk number of the level the spec numbers `label` (the inverse of `label`)."""
        return self.flip - label if self.flip else label + self.base

    def index_bits_cut(self) -> int:
        """The input bits some level index reads that an input size may cut: every bit
        from the lowest index up (0 without `size`)."""
        if self.input_size is None:
            return 0
        lo = min(lv.index_lo for lv in self.levels)
        hi = max(lv.index_hi for lv in self.levels)
        return ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1)

    def accumulators_for(self, leaf: bool) -> tuple[Accumulator, ...]:
        """The accumulators that take in an entry that is a leaf (or a pointer)."""
        return tuple(a for a in self.accumulators if a.where in ("", "over table", "leaf" if leaf else "table"))

    def faults_for(self, leaf: bool, fmt: str | None = None) -> tuple[Rule, ...]:
        """The walk faults checked on an entry that is a leaf (or a pointer) of format
        `fmt`; None: every fault of the role, whatever format it names."""
        return tuple(r for r in self.faults if r.where in ("", "leaf" if leaf else "table")
                     and (fmt is None or not r.format or r.format == fmt))

    def rule_levels(self, rule: Rule) -> tuple[tuple[Level, bool], ...]:
        """(level, as a leaf) of every entry a walk fault applies to."""
        out = []
        for lv in self.levels:
            for name, leaf in ((lv.table, False), (lv.leaf, True)):
                if name and rule in self.faults_for(leaf, name):
                    out.append((lv, leaf))
        return tuple(out)

    def frame_of(self, level: Level) -> tuple[AddrTerm, ...]:
        """The frame map of `level`'s leaf: its own, or the regime's."""
        return level.frame or self.frame

    def address_fields(self) -> set[str]:
        """Every field a pointer or frame map of the regime reads."""
        return {t.field for terms in (self.pointer, self.frame, *(lv.frame for lv in self.levels)) for t in terms}

    def level(self, number: int) -> Level:
        return next(lv for lv in self.levels if lv.number == number)

    def skip_mask(self, level: int, k: int) -> int:
        """The input bits that index the levels a pointer at `level` skips by leading to `k`."""
        m = 0
        for lv in self.levels:
            if k < lv.number < level:
                m |= ((1 << (lv.index_hi - lv.index_lo + 1)) - 1) << lv.index_lo
        return m

    @property
    def fault_kinds(self) -> tuple[str, ...]:
        """Every fault kind in status-code order: walk faults, checks, input faults (last,
        so that adding one leaves the other kinds' codes alone; they are checked first)."""
        return (tuple(r.name for r in self.faults) + tuple(r.name for r in self.checks)
                + tuple(r.name for r in self.input_faults))

    @property
    def all_records(self) -> tuple[Record, ...]:
        """The first record (walk faults and checks report it), then the others."""
        return (self.record,) + self.records

    def record_of(self, kind: str) -> Record:
        """The record fault kind `kind` reports."""
        rule = next((r for r in self.input_faults if r.name == kind), None)
        if rule is None or not rule.record:
            return self.record
        return next(r for r in self.all_records if r.name == rule.record)

    @property
    def leaf_levels(self) -> tuple[Level, ...]:
        return tuple(lv for lv in self.levels if lv.leaf)


class Nested(Node):
    """Two regimes composed: each address the guest produces is translated by the host."""

    name: str
    guest: str
    host: str
    host_bindings: tuple[Binding, ...]
    table_access: tuple[Binding, ...]
    final_access: tuple[Binding, ...]
    record: Record
    # When given (and `update_when` holds), each accessed/dirty write to a guest entry is
    # itself translated by the host with this access, e.g. as a write that needs permission.
    update_access: tuple[Binding, ...] = ()
    update_when: Expr | None = None
    # `guest updates before final;`: the guest's after-success updates are written before
    # the host translates the final guest-physical address (default: after it)
    updates_before_final: bool = False
    # `guest bypass when C;` / `host bypass when C;` (over the composition's context): that
    # stage does not translate while C holds (besides its regime's own `bypass`)
    guest_bypass: Expr | None = None
    host_bypass: Expr | None = None
    guest_bypass_cite: str = ""
    host_bypass_cite: str = ""
    context: tuple[str, ...]
    # the composition's own translation caches (of combined translations) and events
    caches: tuple[Cache, ...] = ()
    invalidations: tuple[Invalidation, ...] = ()
    # `accumulate NAME = INIT then EXPR over table;` (where "over table"): after each guest
    # entry read, EXPR (reading NAME, `host.ACC` -- kind "hacc", an accumulator of the host
    # translation of that read's guest-physical address -- context registers, parameters)
    # becomes NAME; the guest walker carries it as one of its accumulators
    folds: tuple[Accumulator, ...] = ()
    cite: str = ""
    doc: str = ""

    def guest_with_folds(self, guest: "Regime") -> "Regime":
        """The guest regime as this composition walks it: its accumulators, then the folds."""
        if not self.folds:
            return guest
        return guest.model_copy(update={"accumulators": guest.accumulators + self.folds})


class StructField(Node):
    """A field at a byte offset of a structure in memory, inside one aligned 64-bit word."""

    name: str
    offset: int
    width: int
    format: str | None = None
    cite: str = ""
    doc: str = ""

    @property
    def word(self) -> int:
        """Byte offset of the aligned 64-bit word that holds the field."""
        return self.offset & ~7

    @property
    def lo(self) -> int:
        """Bit position of the field in its word (little-endian)."""
        return (self.offset % 8) * 8


class Structure(Node):
    """A control block in memory: byte-offset fields at an 8-byte-aligned base address,
    or (align 4) a 4-byte-aligned one, whose 8-byte words then straddle aligned words."""

    name: str
    size: int
    base: Expr
    fields: tuple[StructField, ...]
    when: Expr | None = None  # read only when this holds (else every field reads as 0)
    align: int = 8  # the base's alignment in bytes: 8, or 4 (`align 4`)
    cite: str = ""
    doc: str = ""

    def field(self, name: str) -> StructField | None:
        return next((f for f in self.fields if f.name == name), None)


class Bitmap(Node):
    """A lookup of `span` bits (at most `width`) at bit `index` of a bitmap at byte `base`."""

    name: str
    width: int
    base: Expr
    index: Expr
    span_bits: Expr
    when: Expr | None = None
    cite: str = ""
    doc: str = ""


class OutputField(Node):
    """A field of a unit's exit record; `store` names the structure word it is written to."""

    name: str
    width: int
    enum: str | None = None
    store: tuple[str, str] | None = None
    store_when: Expr | None = None  # written only when this holds too
    default: Expr | None = None  # the value of every exit rule that does not assign it (else 0)
    doc: str = ""


class Walk(Node):
    """A walk of a regime inside a unit, with the regime's inputs bound to expressions;
    with `nested`, `regime` names a nested composition (a 2D walk, guest and host)."""

    name: str
    regime: str
    input: Expr
    access: tuple[Binding, ...]
    context: tuple[Binding, ...]
    when: Expr | None = None
    cite: str = ""
    doc: str = ""
    nested: bool = False
    # fault kinds (walk faults, checks, input faults) of the regime that this walk cannot
    # report: their conditions fold to 0 on the access kinds and context bits it binds to
    # constants (elaborate.unit.walk_never); coverage leaves them out and a call's
    # inlined rules read them as 0
    never: tuple[str, ...] = ()
    # the accumulators (of the regime; of a composition, the guest's) the unit reads after a
    # success as `NAME.ACC`, in the regime's order: the walker reports them with the address
    accs: tuple[str, ...] = ()


class UnitRecord(Node):
    name: str
    fields: tuple[OutputField, ...]
    cite: str = ""
    doc: str = ""


class ExitAssign(Node):
    """A record field's value in one exit rule: a whole value or bit ranges."""

    field: str
    value: Expr | None = None
    bits: tuple[RecordBits, ...] = ()
    default: bool = False  # the record field's default, put in a rule that does not assign the field


class ExitRule(Node):
    name: str
    when: Expr
    assigns: tuple[ExitAssign, ...]
    cite: str = ""
    doc: str = ""


class Call(Node):
    """A unit's call of another unit, inlined: the callee's structures, bitmaps and walks
    are steps of the caller named `NAME_STEP` (listed in `inlined`), evaluated only when
    `when` holds; at the call's own step the callee decides (`exits`, its rules with every
    expression rewritten onto the caller) and, when it exits, writes its stores
    (`record`, its store targets renamed the same way). The caller reads NAME.called,
    NAME.exit, NAME.RULE and NAME.FIELD (refs of kind "call" named `NAME.MEMBER`)."""

    name: str
    unit: str  # the callee as written (`ALIAS.UNIT` for an imported one)
    label: str = ""  # how coverage and docs name it: `outer.inner` for a call inside a callee
    event: tuple[Binding, ...] = ()  # as written, resolved in the caller (for the docs)
    context: tuple[Binding, ...] = ()
    when: Expr | None = None
    exits: tuple["ExitRule", ...] = ()
    record: "UnitRecord"
    inlined: tuple[tuple[str, str], ...] = ()  # the callee's steps as the caller's (kind, name)
    # what only the callee's caches read (their tags): its structure words are read all the same,
    # as the callee's own cache-free `decide` reads them
    reads: tuple[Expr, ...] = ()
    cite: str = ""
    doc: str = ""

    @property
    def members(self) -> dict[str, int]:
        """What the caller reads of the call, name -> width."""
        out = {"called": 1, "exit": 1}
        out.update({x.name: 1 for x in self.exits})
        out.update({f.name: f.width for f in self.record.fields})
        return out

    def expressions(self) -> list[Expr]:
        out = [self.when] if self.when is not None else []
        return out + _decision_expressions(self.record, self.exits) + list(self.reads)


def _decision_expressions(record: "UnitRecord", exits) -> list[Expr]:
    """What deciding reads: the record's store conditions, each exit rule's condition and
    the values it assigns (a unit's own decision, or a callee's inside a call)."""
    out = [f.store_when for f in record.fields if f.store_when is not None]
    out += [x.when for x in exits]
    out += [a.value for x in exits for a in x.assigns if a.value is not None]
    return out + [b.value for x in exits for a in x.assigns for b in a.bits]


class Unit(Node):
    """A decision unit: an event against control state in memory gives no exit, or
    the first exit rule that holds with its record."""

    name: str
    event: tuple[EventField, ...]
    context: tuple[str, ...]
    structures: tuple[Structure, ...]
    bitmaps: tuple[Bitmap, ...]
    walks: tuple[Walk, ...] = ()
    # the order structures, bitmaps and walks are evaluated in: (kind, name), as written
    steps: tuple[tuple[str, str], ...] = ()
    lets: tuple[str, ...] = ()
    let_defs: tuple[Let, ...] = ()  # the `let`s, as written (for the docs)
    record: UnitRecord
    exits: tuple[ExitRule, ...]
    cite: str = ""
    doc: str = ""
    caches: tuple[Cache, ...] = ()  # in front of a walk or a structure read (issue 15)
    invalidations: tuple[Invalidation, ...] = ()
    calls: tuple[Call, ...] = ()  # each is a step ("call", NAME), after the steps it inlined

    def structure(self, name: str) -> Structure:
        return next(s for s in self.structures if s.name == name)

    def step_node(self, kind: str, name: str) -> "Structure | Bitmap | Walk | Call":
        """The structure, bitmap, walk or call of one entry of `steps`."""
        nodes = {"structure": self.structures, "bitmap": self.bitmaps, "walk": self.walks, "call": self.calls}[kind]
        return next(x for x in nodes if x.name == name)

    def expressions(self) -> list[Expr]:
        """Every expression the unit evaluates (what the models read from memory follows
        from the structure fields these use)."""
        out = [x for b in self.bitmaps for x in (b.base, b.index, b.span_bits, b.when) if x is not None]
        out += [x for st in self.structures for x in (st.base, st.when) if x is not None]
        out += [x for w in self.walks for x in (w.input, w.when) if x is not None]
        out += [b.value for w in self.walks for b in w.access + w.context]
        out += _decision_expressions(self.record, self.exits)
        out += [t.value for c in self.caches for t in c.tags]  # read before the cached step
        out += [x for c in self.caches for x in (c.key, c.fill_when) if x is not None]
        out += [x for c in self.calls for x in c.expressions()]
        return out

    def call_of(self, step: str) -> "Call | None":
        """The call that inlined step `step`, if any (the docs show the call instead)."""
        return next((c for c in self.calls if any(n == step for _k, n in c.inlined)), None)

    def cache_of(self, kind: str, name: str) -> "Cache | None":
        """The cache in front of walk, structure or call `name` (kind "walk" / "structure" / "call")."""
        return next((c for c in self.caches if c.source == kind and c.of == name), None)


class Spec(Node):
    """A whole elaborated spec with its imports flattened in."""

    name: str
    path: str
    sha256: str
    cite: str = ""
    doc: str = ""
    params: tuple[Param, ...] = ()
    enums: tuple[EnumDef, ...] = ()
    layouts: tuple[Layout, ...] = ()
    regimes: tuple[Regime, ...] = ()
    nested: tuple[Nested, ...] = ()
    units: tuple[Unit, ...] = ()
    # the model this Spec stands for when it is not the default one (see `models`)
    top_name: str = ""

    def layout(self, name: str) -> Layout:
        return next(x for x in self.layouts if x.name == name)

    def regime(self, name: str) -> Regime:
        return next(x for x in self.regimes if x.name == name)

    @property
    def top(self) -> Regime | Nested | Unit:
        """What the generated models implement: the last unit, else the last nested
        composition, else the last regime declared in the spec itself."""
        if self.top_name:
            return next(m for m in (*self.units, *self.nested, *self.regimes) if m.name == self.top_name)
        return self._default_model()

    def _default_model(self) -> Regime | Nested | Unit:
        if self.units:
            return self.units[-1]
        if self.nested:
            return self.nested[-1]
        return self.regimes[-1]

    @property
    def models(self) -> tuple[str, ...]:
        """The names of the models the spec generates, the default (`top`) first: every
        regime, composition and unit declared in the spec itself (not imported) that no
        other declaration of it uses (a regime a unit walks, the stages of a composition)."""
        own = [m for m in (*self.regimes, *self.nested, *self.units) if m.span.path == self.span.path]
        used = {n.guest for n in self.nested} | {n.host for n in self.nested}
        used |= {w.regime for u in self.units for w in u.walks}
        used |= {c.unit for u in self.units for c in u.calls}  # a unit called by another
        default = self._default_model().name
        rest = sorted(m.name for m in own if m.name not in used and m.name != default)
        return (default, *rest)

    def for_model(self, name: str) -> Spec:
        """This spec with `name` (one of `models`) as the model it stands for."""
        return self if name == self.models[0] else self.model_copy(update={"top_name": name})
