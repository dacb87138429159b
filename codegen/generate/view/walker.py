"""What the templates see: the IR of a translation, arranged per walker and per level,
with every expression already lowered to Python and to MyHDL text.

A *walker* is one regime in one role: "top" (a one-dimensional translation),
"guest" (its table pointers and final address go through a host walker) or "host".
Logic lives here; the templates only lay it out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from codegen import ir
from codegen.generate.lower import (
    Env,
    Hoist,
    LowerError,
    _sized,
    _zeros,
    const,
    fits_plain,
    hdl,
    py,
    py_field,
    record_py,
    ref_slice,
    resize,
    zero_extend,
)
from codegen.ir.expr import Expr, mask

NESTED_BASE = 64  # fault status codes above this are host-stage faults of a nested walk
ADDR_BITS = 64  # the models' address width (ADDR_WIDTH in the templates)


@dataclass
class FormatView:
    layout: ir.Layout
    mbz_static: int
    mbz_cond: list[tuple[Expr, int]]

    @property
    def name(self) -> str:
        return self.layout.name


@dataclass
class LevelView:
    level: ir.Level
    index_shift: int  # input bits [hi:lo] select the entry: ((input >> lo) & m) << log2(entry bytes)
    index_mask: int
    table: FormatView | None
    leaf: FormatView | None
    frame_mask: int = 0  # the address bits the frame map sets
    pointer_mask: int = 0  # the address bits the pointer map sets
    page_mask: int = 0
    # the maps as (entry low bit, width, address low bit) pieces, by address bit
    frame_pieces: tuple[tuple[int, int, int], ...] = ()
    pointer_pieces: tuple[tuple[int, int, int], ...] = ()
    pointer_text: str = ""  # the pointer map as the spec writes it
    frame_text: str = ""


def map_text(terms: tuple[ir.AddrTerm, ...]) -> str:
    return " | ".join(t.field if t.shift is None else f"{t.field} << {t.shift}" for t in terms)


def _identity(pieces) -> bool:
    """Every field sits at the address bits it encodes: the map is a mask of the entry."""
    return all(e == a for e, _, a in pieces)


def _clip(pieces, low: int):
    """The pieces cut to address bits `low` and up."""
    out = []
    for e, w, a in pieces:
        cut = max(0, low - a)
        if cut < w:
            out.append((e + cut, w - cut, a + cut))
    return out


def _pieces_mask(pieces) -> int:
    m = 0
    for _, w, a in pieces:
        m |= mask(w) << a
    return m


def py_map(pieces, entry: str) -> str:
    """A Python expression of the address a map gives from `entry` (a mask when the
    fields sit at their address bits)."""
    if _identity(pieces):
        return f"{entry} & {hex(_pieces_mask(pieces))}"
    parts = []
    for e, w, a in pieces:
        part = py_field(entry, e, w)
        parts.append(f"({part} << {a})" if a else part)
    return " | ".join(parts) if parts else "0"


def hdl_map(pieces, entry: str, low: int, below: str | None, width: int) -> str:
    """A MyHDL concat of the `width`-bit address a map gives from `entry`, from address
    bit `low` up; the bits below `low` are `below` (a slice of the input) or zeros."""
    parts, at = [], 0
    pieces = [(e, min(w, width - a), a) for e, w, a in pieces if a < width]  # the address's bits only
    if low:
        parts.append(below if below is not None else f"intbv(0)[{low}:]")
        at = low
    for e, w, a in _clip(pieces, low):
        if a > at:
            parts.append(f"intbv(0)[{a - at}:]")
        parts.append(f"{entry}[{e + w}:{e}]" if w > 1 else f"{entry}[{e}]")
        at = a + w
    if at < width:
        parts.append(f"intbv(0)[{width - at}:]")
    return "concat(" + ", ".join(reversed(parts)) + ")"


def _drop_passes(text: str) -> str:
    """`text` without the `pass` lines a block does not need (one stays in a block that
    has no other statement)."""
    lines = text.split("\n")

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    def statement(line: str) -> bool:
        return bool(line.strip()) and not line.strip().startswith("#")

    out: list[str] = []
    for i, line in enumerate(lines):
        if line.strip() == "pass":
            prev = next((x for x in reversed(out) if statement(x)), "")
            after = next((x for x in lines[i + 1:] if statement(x) and x.strip() != "pass"), "")
            alone = indent(prev) < indent(line) and (not after or indent(after) < indent(line))
            if not alone:
                continue
        out.append(line)
    return "\n".join(out)


@dataclass
class WalkerView:
    """One regime as a walker in a role."""

    spec: ir.Spec
    regime: ir.Regime
    role: str
    nested: ir.Nested | None = None
    formats: dict[str, FormatView] = field(default_factory=dict)
    levels: list[LevelView] = field(default_factory=list)
    cache_view: object = None  # the top's caches (view/cache_ref.py): a success reports what they keep

    def __post_init__(self):
        reg = self.regime
        for lv in reg.levels:
            for name in (lv.table, lv.leaf):
                if name and name not in self.formats:
                    lay = self.spec.layout(name)
                    self.formats[name] = FormatView(lay, lay.mbz_static, lay.mbz_conditional())
        eb = reg.entry_bytes.bit_length() - 1
        for lv in reg.levels:
            v = LevelView(lv, lv.index_lo, mask(lv.index_hi - lv.index_lo + 1), self.formats.get(lv.table),
                          self.formats.get(lv.leaf))
            if lv.table:
                v.pointer_pieces = ir.addr_pieces(reg.pointer, self.spec.layout(lv.table))
                v.pointer_mask = _pieces_mask(v.pointer_pieces)
                v.pointer_text = map_text(reg.pointer)
            if lv.leaf:
                v.frame_pieces = ir.addr_pieces(reg.frame_of(lv), self.spec.layout(lv.leaf))
                v.frame_mask = _pieces_mask(v.frame_pieces)
                v.frame_text = map_text(reg.frame_of(lv))
                v.page_mask = mask(lv.page_shift)
            self.levels.append(v)
        self._hoists = [0]
        self.entry_shift = eb
        self.entry_bits = reg.entry_bytes * 8
        # the widths of the model's status and level signals (STATUS_WIDTH, LEVEL_WIDTH),
        # set by the view that owns the walker: `fault` and `level` are read at their own
        self.status_bits = 8
        self.level_bits = self.level_width
        self.data_bits = self.entry_bits  # the memory port's data width; walkers() widens it to the model's
        # the last entry `le` is a port (a cache's `global when` reads the walk's leaf entry)
        self.le_port = False
        # a guest walker in a unit reports the guest-physical address of a success too
        # (the reference's result tuple ends with it; the model has the port o_gpa)
        self.gpa_port = False
        # a walker whose accumulators a unit reads after a success (`W.ACC`): the reference's
        # result tuple of a success carries them (before the guest-physical address), the
        # model's accumulator registers are output ports (a_NAME)
        self.acc_out = False
        # walk caches (view/cache.py): the input stage's paging-structure cache (PscView),
        # the host's nested TLB (CacheView), and whether the host reads at a physical
        # address for the guest (x_phys: a table address the paging-structure cache held)
        self.psc = None
        self.ntlb = None
        self.phys = False
        # a walker of a composition a unit walks (view/unit.py nested_translation): its
        # reads, and its host's, may answer with an error when a stage handles `error`
        self.unit_nest = False

    @property
    def size_code(self) -> int:
        """The memory port's m_size for this regime's entries: log2 of the bytes."""
        return self.entry_shift

    @property
    def entry_mask(self) -> int:
        return mask(self.entry_bits)

    @property
    def guest_size_code(self) -> int:
        """A host's m_size for the guest entries it reads and writes for the guest walker."""
        return self.spec.regime(self.nested.guest).entry_bytes.bit_length() - 1

    @property
    def entry_in(self) -> str:
        """The entry just read, as wide as the regime's entry (the data port may be wider)."""
        if self.signal_bits(self.entry) == self.entry_bits:
            return self.entry
        return f"{self.entry}[{self.entry_bits}:]"

    def entry_data(self, name: str) -> str:
        """An entry register (`entry_bits` wide) as write data on the memory port (its
        data width may be wider): zero-extended, so that the Verilog extends nothing."""
        return resize(name, self.entry_bits, self.data_bits)

    def signal_bits(self, name: str) -> int:
        """The width of a signal that holds an entry: the last entry `le`, or the data port."""
        return self.entry_bits if name == "le" else self.data_bits

    # ---- names
    @property
    def kinds(self) -> tuple[str, ...]:
        return self.regime.fault_kinds

    @property
    def max_level(self) -> int:
        """The largest level number the walker holds: a walk number or a spec number."""
        return max(max(lv.number, lv.shown) for lv in self.regime.levels)

    def label(self, number: int) -> int:
        """The spec's number of the level at walk number `number` (what the models report)."""
        return self.regime.label(number)

    @property
    def level_width(self) -> int:
        return max(3, self.max_level.bit_length())

    # ---- walk caches (issue 15): a walk that resumes after a paging-structure-cache hit
    @property
    def hooks(self) -> bool:
        """The reference walker of the input stage takes `start` (resume after a cached
        level), `seen` (reports each pointer level's state) and, as a guest, `hw` (the
        host translation, through the nested TLB): only when the top declares walk caches;
        the host walker takes `start` and `seen` when the top caches the host walk's tables."""
        if self.cache_view is None:
            return False
        if self.role == "host":  # a paging-structure cache of the host walk resumes and fills it
            return self.cache_view.hpsc is not None
        return bool(self.cache_view.walk_caches and self.role in ("top", "guest"))

    @property
    def host_fn(self) -> str:
        """The name the guest walker calls for a host translation."""
        return "hw" if self.hooks and self.role == "guest" else "walk_host"

    def next_text(self, lv: LevelView) -> str:
        """Python for the walk number of the level read after the pointer at `lv`."""
        if self.regime.next_level is not None:
            return "lvl"
        lower = [x.level.number for x in self.levels if x.level.number < lv.level.number]
        return str(max(lower)) if lower else "0"

    def acc_tuple(self) -> str:
        """The accumulators as a Python tuple (what a paging-structure entry keeps)."""
        names = [f"a_{a.name}" for a in self.regime.accumulators]
        return "(" + "".join(f"{n}, " for n in names) + ")"

    # ---- a stage switched off (`bypass when`): the input passes through, no reference
    def bypass_exprs(self) -> list[Expr]:
        """The conditions that switch this walker's stage off: its regime's own, and for a
        guest the composition's `guest bypass` (both over this walker's context)."""
        out = [self.regime.bypass] if self.regime.bypass is not None else []
        if self.role == "guest" and self.nested.guest_bypass is not None:
            out.append(self.nested.guest_bypass)
        return out

    @property
    def outer_bypass(self) -> bool:
        """A host switched off by the composition (`host bypass when`): the guest walker,
        which has the composition's context, decides it (h_off, the x_off port)."""
        return self.role == "host" and self.nested.host_bypass is not None

    @property
    def can_bypass(self) -> bool:
        return bool(self.bypass_exprs()) or self.outer_bypass

    def py_bypass(self) -> str | None:
        parts = [py(e, self.py_env()) for e in self.bypass_exprs()] + (["h_off"] if self.outer_bypass else [])
        return " or ".join(f"({p})" for p in parts) if parts else None

    def hdl_bypass(self) -> str | None:
        parts = [hdl(e, self.hdl_env(), True) for e in self.bypass_exprs()] + (["x_off"] if self.outer_bypass else [])
        return " or ".join(f"({p})" for p in parts) if parts else None

    def hdl_input_at(self, width: int) -> str:
        """The input address zero-extended to `width` bits (a bypassed stage's output)."""
        w = self.regime.input_width
        return f"concat(intbv(0)[{width - w}:], i_addr)" if width > w else "i_addr"

    @property
    def folds(self) -> bool:
        """The composition folds over its host translations (`accumulate ... over table`):
        the host reports its accumulators with each translation, the guest takes them in."""
        return self.nested is not None and bool(self.nested.folds)

    def host_accs(self) -> list[str]:
        """The host regime's accumulators, in order, when the composition folds (else none)."""
        return [a.name for a in self.spec.regime(self.nested.host).accumulators] if self.folds else []

    def host_acc_index(self, name: str) -> int:
        """Where accumulator `name` sits in the host's reported tuple (the reference's `ht`)."""
        return self.host_accs().index(name)

    @property
    def context(self) -> tuple[str, ...]:
        """Context registers the walker takes: a guest takes the whole nested context."""
        return self.nested.context if self.role == "guest" else self.regime.context

    @property
    def reads_error(self) -> bool:
        """A walker, in a unit, whose regime has a fault on `error` (the entry's read
        answered with an error): a unit's walk of the regime, or a stage of a composition
        the unit walks. It takes the read-error input (m_rerr in the model; a guest x_rerr,
        valid with the entry its host read for it)."""
        from codegen.frontend.checks import reads_error
        return (self.in_unit or self.unit_nest) and reads_error(self.regime)

    @property
    def takes_errors(self) -> bool:
        """The reference walker takes `errors` (the addresses whose read answers with an
        error; the entry reads as 0): a unit's walk of a regime, and both walkers of a
        composition the unit walks when a stage of it handles `error` (the guest hands
        `errors` to each host walk)."""
        if self.in_unit:
            return True
        if not self.unit_nest:
            return False
        from codegen.frontend.checks import reads_error
        return any(reads_error(self.spec.regime(n)) for n in (self.nested.guest, self.nested.host))

    @property
    def reads_address(self) -> bool:
        """A record of the regime reads `read_address`: the physical address the walk read
        its last entry at (a guest's: the host-physical one). The reference's record
        functions take it (`ra`); the cycle-level walker keeps it in `ea`, which a guest
        latches from x_pa as its entry's read answers, and which a walk clears as it starts
        (an input fault reads no entry: 0)."""
        return any(x.kind == "builtin" and x.name == "read_address"
                   for rec in self.regime.all_records for f in rec.fields
                   for e in ([f.value] if f.value is not None else [b.value for b in f.bits]) for x in e.refs())

    @property
    def in_unit(self) -> bool:
        """A walker of a unit's walk of a regime: its reads may answer with an error
        (`errors`, the reference; the entry then reads as 0)."""
        return self.role.startswith("unit_")

    # ---- Python spelling
    def py_env(self, fmt: ir.Layout | None = None, level: int | None = None, entry: str = "e") -> Env:
        def field_ref(e: Expr) -> str:
            f = fmt.field(e.name)
            return py_field(entry, f.lo, f.width)

        def builtin(e: Expr) -> str:
            if e.name == "rsvd":
                return self.py_rsvd(self.formats[fmt.name], entry)
            if e.name == "error":  # the entry's read answered with an error (see the walker's read)
                return "err"
            if e.name == "level":  # the spec's number: flevel holds it already
                return str(self.regime.label(level)) if level is not None else "flevel"
            if e.name == "fault":
                return "kind"
            if e.name == "walked":
                return self._walked("kind")
            if e.name == "read_address":  # the record function's `ra`: the address the walk read the entry at
                return "ra"
            if e.name == "next" and fmt is not None:
                return py(self.regime.next_level, self.py_env(fmt, level, entry))
            if e.name == "skipped" and fmt is not None and level is not None:
                nxt = py(self.regime.next_level, self.py_env(fmt, level, entry))
                parts = [f"({nxt} == {k} and (i_addr & {hex(m)}) != 0)" for k, m in self.skip_masks(level)]
                return "(" + " or ".join(parts) + ")" if parts else "False"
            raise LowerError(f"'{e.name}' cannot be used here", e.span)

        return Env({
            "field": field_ref, "leaf": field_ref, "builtin": builtin,
            "ctx": lambda e: f"r_{e.name}" if e.lo == 0 and e.width == self.spec.layout(e.name).width
            else py_field(f"r_{e.name}", e.lo, e.width),
            "acc": lambda e: f"a_{e.name}",
            "access": lambda e: f"k_{e.name}",
            "input": lambda e: "i_addr",
            "hacc": lambda e: f"ht[{self.host_acc_index(e.name)}]",
        })

    def mbz_conditions(self) -> list[Expr]:
        """The distinct conditions under which some bits must be zero (e.g. a feature
        that is off); the walker evaluates each once per walk into q0, q1, ..."""
        found: list[Expr] = []
        for fv in self.formats.values():
            for cond, _ in fv.mbz_cond:
                if cond.op != "num" and all(cond != c for c in found):
                    found.append(cond)
        return found

    def py_mbz_conditions(self) -> list[tuple[str, str]]:
        env = self.py_env()
        return [(f"q{i}", py(c, env)) for i, c in enumerate(self.mbz_conditions())]

    def py_rsvd(self, fv: FormatView, entry: str) -> str:
        """True when the entry has a must-be-zero bit set, for this walk's context."""
        conds = self.mbz_conditions()
        static = fv.mbz_static | sum(m for c, m in fv.mbz_cond if c.op == "num" and c.value)
        parts = [f"({entry} & {hex(static)} != 0)"] if static else []
        parts += [f"(q{conds.index(c)} and {entry} & {hex(m)} != 0)" for c, m in fv.mbz_cond if c.op != "num" and m]
        return "(" + " or ".join(parts) + ")" if parts else "False"

    def py_root(self) -> str:
        return py(self.regime.root, self.py_env())

    def py_input_size(self) -> str:
        return py(self.regime.input_size, self.py_env())

    def hdl_input_size(self) -> list[str]:
        """For `input NAME : W size EXPR`: the statements of an always_comb block that put
        the input, with each index bit at or above EXPR cleared, in signal `ia` (one
        constant bit per line: no shift by a run-time amount)."""
        h = Hoist(self.hdl_env(), prefix="is")
        size = h.value(self.regime.input_size)
        cut = self.regime.index_bits_cut()
        lines = h.take() + [f"iv = intbv(0)[{self.regime.input_width}:]", "iv[:] = i_addr"]
        for b in range(self.regime.input_width):
            if cut >> b & 1:
                lines += [f"if {size} <= {b}:", f"    iv[{b}] = 0"]
        return lines + ["ia.next = iv"]

    def py_start(self) -> str:
        return py(self.regime.start, self.py_env())

    def py_leaf_when(self, lv: LevelView) -> str:
        return py(lv.level.leaf_when, self.py_env(lv.leaf.layout, lv.level.number))

    def py_faults(self, fv: FormatView, level: int, leaf: bool) -> list[tuple[int, ir.Rule, str]]:
        env = self.py_env(fv.layout, level)
        return [(self.kinds.index(r.name) + 1, r, py(r.when, env))
                for r in self.regime.faults_for(leaf, fv.layout.name)]

    def py_accumulate(self, fv: FormatView, level: int, leaf: bool) -> list[tuple[str, str]]:
        env = self.py_env(fv.layout, level)
        return [(a.name, py(a.then, env)) for a in self.regime.accumulators_for(leaf)]

    def py_acc_init(self) -> list[tuple[str, str]]:
        env = self.py_env()
        return [(a.name, py(a.init, env)) for a in self.regime.accumulators]

    def py_checks(self, lv: LevelView) -> list[tuple[int, ir.Rule, str]]:
        env = self.py_env(lv.leaf.layout, lv.level.number)
        return [(self.kinds.index(r.name) + 1, r, py(r.when, env)) for r in self.regime.checks]

    def updates(self, fv: FormatView, leaf: bool, used: bool = False) -> list[tuple[ir.Field, ir.Update]]:
        """The updates of an entry of format `fv`: the as-used ones (`used`) or those
        written after success, in spec order."""
        return [(fv.layout.field(u.field), u) for u in self.regime.updates if u.applies(leaf) and u.used == used]

    @property
    def has_used(self) -> bool:
        """Whether some update is written as soon as its entry is used (`as used`)."""
        return any(u.used for u in self.regime.updates)

    def py_updates(self, fv: FormatView, level: int, leaf: bool, used: bool = False) -> list[str]:
        """Statements that make `u`, the entry `e` with the updates applied (each
        condition and value read from `e`); the caller writes `u` when it differs."""
        env = self.py_env(fv.layout, level)
        out = []
        for f, u in self.updates(fv, leaf, used):
            if u.value is None:
                line = f"u |= {hex(f.mask)}"
            else:
                value = py(u.value, env)
                line = f"u = (u & ~{hex(f.mask)}) | ((({value}) & {hex(mask(f.width))}) << {f.lo})"
            out.append(f"if {py(u.when, env)}: {line}" if u.when is not None else line)
        return out

    @property
    def record_layout(self) -> ir.Layout:
        """The layout a record reads `leaf.` fields with (they sit alike in every leaf format)."""
        return self.formats[self.regime.leaf_levels[-1].leaf].layout

    def py_record(self, rec: ir.Record | None = None) -> list[tuple[str, str]]:
        return record_py(rec or self.regime.record, self.py_env(self.record_layout, entry="e"))

    @property
    def fault_records(self) -> list[str]:
        """The record each fault kind reports, in status-code order."""
        return [self.records[self.record_index(k)].name for k in self.kinds]

    @property
    def record_fields(self) -> list[list]:
        """[record name, [field names]] of each record this walker reports."""
        return [[r.name, [f.name for f in r.fields]] for r in self.records]

    def record_ports(self) -> list[tuple[str, int]]:
        """(port, width) of the fields of the records after the first: o_r1_FIELD, ..."""
        return [(f"o_r{i}_{f.name}", f.width) for i, r in enumerate(self.records) if i for f in r.fields]

    def _walked(self, kind: str) -> str:
        """`walked`: the fault is a final check (codes after the walk faults' and before
        the input faults')."""
        first = len(self.regime.faults)
        if not self.regime.input_faults:
            return f"({kind} > {first})"
        return f"({kind} > {first} and {kind} <= {first + len(self.regime.checks)})"

    # ---- input faults: checked before the first memory reference
    @property
    def records(self) -> tuple[ir.Record, ...]:
        """The records this walker reports: a host's faults reach the nested record, and
        a unit's walk its `walk.FIELD`s, through the first record alone, so those report
        no other (an input fault there gives the first record)."""
        return self.regime.all_records if self.role in ("top", "guest") else (self.regime.record,)

    def record_index(self, kind: str) -> int:
        """Which of `records` fault kind `kind` reports (0: the first)."""
        rec = self.regime.record_of(kind)
        return next((i for i, r in enumerate(self.records) if r.name == rec.name), 0)

    def py_input_faults(self) -> list[tuple[int, ir.Rule, str, int]]:
        """(status code, rule, Python condition, record index) of each input fault."""
        env = self.py_env()
        return [(self.kinds.index(r.name) + 1, r, py(r.when, env), self.record_index(r.name))
                for r in self.regime.input_faults]

    def _input_fault_hoist(self) -> tuple[Hoist, list[tuple[int, ir.Rule, str]]]:
        """The input faults' conditions through one Hoist of scratch variables `in0`..."""
        h = Hoist(self.hdl_env(), prefix="in")
        return h, [(self.kinds.index(r.name) + 1, r, h.cond(r.when)) for r in self.regime.input_faults]

    def hdl_input_faults(self) -> tuple[list[str], list[tuple[int, ir.Rule, str]]]:
        """(statements, [(status code, rule, condition)]) of the input faults in the
        model: the conditions through scratch variables (a builtin's conditionals
        convert only as statements), declared apart (hdl_input_fault_declarations)."""
        h, conds = self._input_fault_hoist()
        declared = {f"{name} = intbv(0)[{width}:]" for name, width in h.variables}
        return [line for line in h.take() if line.strip() not in declared], conds

    def hdl_input_fault_declarations(self) -> list[str]:
        """The scratch variables of the input faults, declared at the top of the walker's
        process rather than where a walk starts: a variable assigned on some paths only is
        a latch to synthesis (Yosys keeps it when the variable has a name of its own)."""
        h, _conds = self._input_fault_hoist()
        return [f"{name} = intbv(0)[{width}:]" for name, width in h.variables]

    # ---- MyHDL spelling
    @property
    def entry(self) -> str:
        """The signal holding the entry just read: a guest gets it from the memory port
        when the host walker's read of it answers (x_rnow), under the name x_rdata."""
        if getattr(self, "_entry", None):
            return self._entry
        return "x_rdata" if self.role == "guest" else "m_rdata"

    @property
    def entry_addr(self) -> str:
        """The signal holding the (physical) address of the entry just read."""
        return "x_pa" if self.role == "guest" else "ea"

    def hdl_env(self, fmt: ir.Layout | None = None, level: int | None = None, entry: str | None = None) -> Env:
        entry = entry or self.entry
        def field_ref(e: Expr) -> str:
            f = fmt.field(e.name)
            return ref_slice(entry, f.lo, f.width, self.signal_bits(entry))

        def builtin(e: Expr) -> str:
            if e.name == "rsvd":
                return self.hdl_rsvd(self.formats[fmt.name], entry)
            if e.name == "error":  # valid with the entry, as m_rdata is (a guest's: x_rerr, with x_rdata)
                return "x_rerr" if self.role == "guest" else "m_rerr"
            if e.name == "level":  # the spec's number: flevel holds it already
                return str(self.regime.label(level)) if level is not None else resize("flevel", self.level_bits, e.width)
            if e.name == "fault":
                return resize("fault_k", self.status_bits, e.width)
            if e.name == "walked":
                return self._walked("fault_k")
            if e.name == "read_address":  # latched as the entry is asked for (a guest's: as its read answers)
                return "ea"
            if e.name == "next" and fmt is not None:
                return hdl(self.regime.next_level, self.hdl_env(fmt, level, entry))
            if e.name == "skipped" and fmt is not None and level is not None:
                nxt = hdl(self.regime.next_level, self.hdl_env(fmt, level, entry))
                parts = [f"(({nxt} == {k}) and ({self._input_bits(m)} != 0))" for k, m in self.skip_masks(level)]
                return "(" + " or ".join(parts) + ")" if parts else "False"
            raise LowerError(f"'{e.name}' cannot be used here", e.span)

        def field_signal(e: Expr) -> tuple[str, int]:
            return entry, fmt.field(e.name).lo

        return Env({
            "field": field_ref, "leaf": field_ref, "builtin": builtin,
            "ctx": lambda e: ref_slice(f"r_{e.name}", e.lo, e.width, self.spec.layout(e.name).width),
            "acc": lambda e: f"a_{e.name}",
            "access": lambda e: f"k_{e.name}",
            "input": lambda e: "i_addr",
            # the host's accumulators: on its port as the entry read answers, latched (hl_*) for
            # an entry processed after an as-used write (the host has translated that since)
            "hacc": lambda e: f"{'hl' if getattr(self, '_entry', None) == 'le' else 'ha'}_{e.name}",
        }, signal={"field": field_signal, "leaf": field_signal,
                   "ctx": lambda e: (f"r_{e.name}", e.lo)})

    def hdl_rsvd(self, fv: FormatView, entry: str) -> str:
        env = self.hdl_env()
        bits = self.signal_bits(entry)
        parts = []
        if fv.mbz_static:
            parts.append(f"(({entry} & {const(fv.mbz_static, bits)}) != 0)")
        for cond, m in fv.mbz_cond:
            parts.append(f"({hdl(cond, env, True)} and (({entry} & {const(m, bits)}) != 0))")
        return "(" + " or ".join(parts) + ")" if parts else "False"

    def hdl_expr(self, e: Expr, fv: FormatView | None = None, level: int | None = None, as_bool: bool = False,
                 entry: str | None = None) -> str:
        return hdl(e, self.hdl_env(fv.layout if fv else None, level, entry), as_bool)


    # ---- MyHDL: the cycle-level model
    def hdl_faults(self, fv: FormatView, level: int, leaf: bool) -> list[tuple[int, ir.Rule, str]]:
        return [(self.kinds.index(r.name) + 1, r, self.hdl_expr(r.when, fv, level, True))
                for r in self.regime.faults_for(leaf, fv.layout.name)]

    def hdl_accumulate(self, fv: FormatView, level: int, leaf: bool) -> list[tuple[ir.Accumulator, list[str], str]]:
        """(accumulator, statements before, value) of each `then` that takes in an entry
        of this role, wrapped to the accumulator's width as in the reference (scratch
        variables acN_0...)."""
        return self._hdl_fitted([(a, a.then) for a in self.regime.accumulators_for(leaf)],
                                self.hdl_env(fv.layout, level))

    def _hdl_fitted(self, items, env: Env) -> list[tuple[ir.Accumulator, list[str], str]]:
        self._hoists[0] += 1  # shared with the copies of with_entry(): names stay distinct
        h = Hoist(env, prefix=f"ac{self._hoists[0]}_")
        out = []
        for a, e in items:
            text = _fitted(h, env, e, a.width)
            out.append((a, h.take(), text))
        return out

    def hdl_checks(self, lv: LevelView) -> list[tuple[int, ir.Rule, str]]:
        env = self.hdl_env(lv.leaf.layout, lv.level.number)
        env.spell["acc"] = lambda e: f"v_{e.name}"
        return [(self.kinds.index(r.name) + 1, r, hdl(r.when, env, True)) for r in self.regime.checks]

    def hdl_record(self, prefix: str, rec: ir.Record | None = None, env: Env | None = None) -> list[str]:
        """Statements that set each record field's output signal (`prefix` + field name).

        Each value is wrapped to its field as in the reference: computed in a scratch
        variable as wide as the value, and the field takes the scratch's low bits (a
        constant slice). Scratch variables are rs0, rs1... (ns0... for the nested record,
        prefix o_n_): every name from the spec carries a prefix with '_'."""
        rec = rec or self.regime.record
        env = env or self.hdl_env(self.record_layout, entry="le")
        h = Hoist(env, prefix="ns" if prefix == "o_n_" else "rs" if prefix == "o_r_" else f"{prefix[2:-1]}s")

        def fitted(e: Expr, width: int) -> str:
            return _fitted(h, env, e, width)

        out = []
        for f in rec.fields:
            name = f"{prefix}{f.name}"
            if f.value is not None:
                # a constant or a truth value (`a || b`, a comparison) of a 1-bit field as a
                # number: a whole unsigned(0 downto 0) signal takes no VHDL boolean
                text = (fit(h, env, f.value, 1) if f.width == 1 and f.value.op in _TRUTH_VALUED
                        else fitted(f.value, f.width))
                out += h.take() + [f"{name}.next = {text}"]
                continue
            out.append(f"{name}.next = 0")
            for b in f.bits:
                text = fitted(b.value, b.hi - b.lo + 1)
                target = f"{name}.next[{b.lo}]" if b.hi == b.lo else f"{name}.next[{b.hi + 1}:{b.lo}]"
                out += h.take() + [f"{target} = {text}"]
        return out

    def hdl_acc_init(self) -> list[tuple[ir.Accumulator, list[str], str]]:
        return self._hdl_fitted([(a, a.init) for a in self.regime.accumulators], self.hdl_env())

    def hdl_start_branches(self) -> list[tuple[str, LevelView]]:
        """(condition, level) pairs choosing the first level of a walk, as an if/elif/else
        chain with no conditional expression (those do not convert to VHDL)."""
        env = self.hdl_env()
        e, chain = self.regime.start, []
        while e.op == "cond" and e.args[1].op == "num":
            chain.append((hdl(e.args[0], env, True), e.args[1].value))
            e = e.args[2]
        if e.op == "num":
            chain.append((None, e.value))
        else:
            # levels numbered up from the root: compare the expression as written with
            # the spec's numbers, rather than the walk number flip - EXPR
            text = hdl(self.regime.start_written or e, env)
            chain += [(f"({text}) == {lv.level.shown}", lv.level.number) for lv in self.levels]
        by_number = {lv.level.number: lv for lv in self.levels}
        branches = [(cond, by_number[n]) for cond, n in chain if n in by_number]
        heads = [f"{'if' if i == 0 else 'elif'} {cond}:" for i, (cond, _) in enumerate(branches[:-1])]
        heads.append("else:" if heads else "if True:")
        return [(head, lv) for head, (_, lv) in zip(heads, branches)]

    def request_ports(self, access: tuple[str, ...] = (), update: bool = False) -> list[str]:
        """The ports that carry this walker's requests: to memory, or (a guest) to the host
        walker, with the host's access bits `access`. Mealy outputs: the FSM drives them in
        the cycle it decides to ask (from the response that arrives in that cycle), and a
        register holds them until the next request; the valid flag comes first."""
        if self.role == "guest":
            return ["x_valid", "x_pwrite", "x_addr", "x_waddr", "x_wdata", "x_on_table"] \
                + (["x_update"] if update else []) + [f"hk_{a}" for a in access]
        return ["m_valid", "m_we", "m_size", "m_addr", "m_wdata"]

    def pulses(self) -> list[str]:
        """Mealy outputs of the walk caches that hold nothing between cycles (0 unless
        the FSM drives them in this cycle): a guest's x_phys (read the table at a host-
        physical address), a host's nested-TLB fill (n_fill, with the translation)."""
        out = ["x_phys"] if self.role == "guest" and self.psc is not None and self.psc.htable else []
        out += [f"x_hx_{a}" for a in self.host_accs()] if out else []
        host_fill = self.role == "host" and (self.ntlb is not None or self.psc is not None)
        out += ["n_fill", "n_fpa", "n_flv"] if host_fill else []
        return out + ([f"n_fa_{a}" for a in self.host_accs()] if self.role == "host" and self.ntlb is not None else [])

    def bool_pulses(self) -> list[str]:
        """The pulses that are one bit (reset to False, not 0)."""
        host = self.spec.regime(self.nested.host) if self.nested is not None else None
        ones = [a.name for a in host.accumulators if a.width == 1] if host is not None and self.folds else []
        return ["x_phys", "n_fill"] + [f"x_hx_{a}" for a in ones] + [f"n_fa_{a}" for a in ones]

    def two_process(self, body: str, ports: list[str], pulses: tuple = ()) -> dict:
        """The FSM body written for one clocked process (`X.next = ...` takes effect at
        the edge) as two processes that make the same decisions: a combinational one that
        keeps only the writes of the request ports `ports` (driven at once: a request made
        in the cycle the response arrives, not one edge later), and the clocked one that
        keeps the rest (the registers). Both read the request ports back from their held
        copies P_h. Same decisions, same order of requests: only a request moves forward
        by a cycle. (One body renders twice rather than once with a next-value copy of each
        register: MyHDL simulates it several times faster, and Yosys shares the logic.)"""
        import re
        write = re.compile(r"^(\s*)(\w+)\.next(?:\[[^\]]*\])?\s*=.*$", re.M)
        valid = ports[0]
        if re.search(rf"\b{valid}\b(?!\.next)", body):
            raise ValueError(f"the walker FSM reads its request flag {valid}")  # a template bug
        used = [p for p in ports if re.search(rf"\b{p}\.next", body)]
        for p in used[1:]:
            body = re.sub(rf"\b{p}\b(?!\.next)", f"{p}_h", body)

        def keep(ours: bool):
            def sub(m: re.Match) -> str:
                return m.group(0) if (m.group(2) in ports or m.group(2) in pulses) == ours else f"{m.group(1)}pass"
            return sub
        return {"comb": _drop_passes(write.sub(keep(True), body)), "seq": _drop_passes(write.sub(keep(False), body)),
                "ports": used}

    def hdl_states(self) -> list[str]:
        """The FSM states this role uses (an unused state would be an incomplete case)."""
        states = ["IDLE", "XWAIT", "NFAULT"] if self.role == "guest" else ["IDLE", "MWAIT"]
        states += ["FAULT", "ADREQ", "ADWAIT"] + (["UWAIT", "PROC"] if self.has_used else [])
        return states + (["PREAD", "PWRITE"] if self.role == "host" else [])

    @property
    def addr_width(self) -> int:
        """The width of the addresses this walker sends: a guest's go to the host walker
        (x_addr, as wide as the host's input), the others' to memory."""
        if self.role == "guest":
            return self.spec.regime(self.nested.host).input_width
        return ADDR_BITS

    def hdl_root(self) -> tuple[list[str], str]:
        """(statements, MyHDL text) of the first table's address, as wide as addr_width,
        so that the sum with the entry's offset extends nothing in the HDL."""
        h = Hoist(self.hdl_env(), prefix="rt")
        text = fit(h, self.hdl_env(), self.regime.root, self.addr_width)
        return h.take(), text

    def hdl_pa(self, lv: LevelView) -> str:
        if lv.level.page_shift_expr is not None:
            return "leaf_pa"  # not v_*: v_NAME is an accumulator's variable
        # a concat of exact slices, never `entry & MASK`: VHDL sizes a masked constant by
        # its value, not by the address (a 32-bit entry's frame in a 64-bit address)
        s = lv.level.page_shift
        return hdl_map(lv.frame_pieces, self.entry, s, f"i_addr[{s}:0]", self.addr_width)

    def hdl_pointer(self, lv: LevelView) -> str:
        """The next table's address from a pointer entry at `lv`, as MyHDL."""
        return hdl_map(lv.pointer_pieces, self.entry, 0, None, self.addr_width)

    def hdl_pa_lines(self, lv: LevelView) -> list[str]:
        """For a page size read from the leaf entry (`page shift EXPR`): statements that
        put the output address in leaf_pa, one constant-mask branch per possible size."""
        e = lv.level.page_shift_expr
        if e is None:
            return []
        h = Hoist(self.hdl_env(lv.leaf.layout, lv.level.number), prefix=f"ps{lv.level.number}_")
        shift = h.value(e)
        width = self.addr_width
        out = h.take() + [f"leaf_pa = intbv(0)[{width}:]"]
        for k, s in enumerate(s for s in self.page_shifts(lv) if s < 1 << e.width):
            out.append(f"{'if' if k == 0 else 'elif'} {shift} == {s}:")
            out.append(f"    leaf_pa[:] = {hdl_map(lv.frame_pieces, self.entry, s, f'i_addr[{s}:0]', width)}")
        out += ["else:", f"    leaf_pa[:] = {hdl_map(lv.frame_pieces, self.entry, 0, None, width)}"]
        return out

    def page_shifts(self, lv: LevelView) -> list[int]:
        """The page sizes (log2) a leaf with `page shift EXPR` can have: from the frame
        field's low bit up to the top of the input; any other value gives the frame alone."""
        return list(range(lv.level.page_shift, self.regime.input_width + 1))

    def py_pa(self, lv: LevelView) -> str:
        e = lv.level.page_shift_expr
        if e is None:
            return f"({py_map(lv.frame_pieces, 'e')}) | (i_addr & {hex(lv.page_mask)})"
        shift = py(e, self.py_env(lv.leaf.layout, lv.level.number))
        top = self.regime.input_width
        frame = py_map(lv.frame_pieces, "e")
        if not _identity(lv.frame_pieces):
            frame = f"({frame})"
        return (f"(({frame} & ~((1 << s) - 1)) | (i_addr & ((1 << s) - 1))) "
                f"if {lv.level.page_shift} <= (s := {shift}) <= {top} else ({frame})")

    def py_pointer(self, lv: LevelView) -> str:
        """The next table's address from a pointer entry `e` at `lv`, in Python."""
        return py_map(lv.pointer_pieces, "e")

    def hdl_updates(self, fv: FormatView, level: int, leaf: bool, used: bool = False) -> list[str]:
        """Statements that apply the updates to the variable `uw` (which holds the entry
        first), each condition and value read from the entry signal. After success the
        accumulators are as just updated (v_*); as used, as before this entry (a_*)."""
        env = self.hdl_env(fv.layout, level)
        if not used:
            env.spell["acc"] = lambda e: f"v_{e.name}"
        h = Hoist(env, prefix=f"up{level}{'t' if not leaf else 'l'}{'u' if used else ''}_")
        out = []
        for f, u in self.updates(fv, leaf, used):
            target = f"uw[{f.lo}]" if f.width == 1 else f"uw[{f.hi + 1}:{f.lo}]"
            if u.value is None:
                value = "True"
            else:
                value = _fitted(h, env, u.value, f.width)
            body = h.take() + [f"{target} = {value}"]
            if u.when is not None:
                out.append(f"if {hdl(u.when, env, True)}:")
                out += ["    " + line for line in body]
            else:
                out += body
        return out

    def hdl_entry_ok(self, fv: FormatView, level: int, leaf: bool) -> list[str]:
        """Statements that leave `uok` true when the entry has none of its own faults."""
        out = ["uok = True"]
        for _, _, cond in self.hdl_faults(fv, level, leaf):
            out += [f"if {cond}:", "    uok = False"]
        return out

    def with_entry(self, name: str) -> "WalkerView":
        """This walker reading its entry from the signal `name` (the entry register `le`
        after an as-used write) instead of the memory port."""
        import copy
        out = copy.copy(self)
        out._entry = name
        return out

    def hdl_index(self, lv: LevelView, width: int | None = None) -> str:
        """The byte offset of the entry in its table, as a MyHDL expression of the input,
        as wide as the table's address (or `width`: a host-physical address, 64)."""
        lo, hi = lv.level.index_lo, lv.level.index_hi
        src = "ia" if self.regime.input_size is not None else "i_addr"  # `input ... size EXPR`
        sl = f"{src}[{hi + 1}:{lo}]" if hi > lo else f"{src}[{lo}]"
        # a concat, not a shift: VHDL's shift_left keeps the slice's width (top bits lost);
        # as wide as the table's address, so that the sum extends nothing in Verilog
        parts = [sl] + ([_zeros(self.entry_shift)] if self.entry_shift else [])
        pad = (width or self.addr_width) - (hi - lo + 1) - self.entry_shift
        return "concat(" + ", ".join(([f"intbv(0)[{pad}:]"] if pad > 0 else []) + parts) + ")"

    def next_level(self, lv: LevelView) -> LevelView | None:
        return next((x for x in self.levels if x.level.number == lv.level.number - 1), None)

    # ---- walks whose pointers name their next level (`next level EXPR`)
    def next_candidates(self, lv: LevelView) -> list[LevelView]:
        """The levels a pointer at `lv` may lead to; any other value goes one level down."""
        if self.regime.next_level is None:
            return []
        return [x for x in self.levels if x.level.number < lv.level.number]

    def skip_masks(self, level: int) -> list[tuple[int, int]]:
        """(next level k, input bits that index the levels between k and `level`) for
        each k that skips at least one level."""
        return [(k, self.regime.skip_mask(level, k))
                for k in sorted(lv.number for lv in self.regime.levels if lv.number < level - 1)]

    @staticmethod
    def _input_bits(m: int) -> str:
        """A contiguous mask of input bits as a MyHDL slice of i_addr."""
        lo = (m & -m).bit_length() - 1
        hi = m.bit_length() - 1
        return f"i_addr[{hi + 1}:{lo}]" if hi > lo else f"i_addr[{lo}]"

    def py_next(self, lv: LevelView) -> str | None:
        """The statement that picks the level after a pointer at `lv`, or None (one down)."""
        if self.regime.next_level is None:
            return None
        n = lv.level.number
        nxt = py(self.regime.next_level, self.py_env(lv.table.layout, n))
        valid = tuple(x.level.number for x in self.next_candidates(lv))
        return f"lvl = nx if (nx := {nxt}) in {valid!r} else {n - 1}"

    def hdl_next(self, lv: LevelView) -> str:
        return hdl(self.regime.next_level, self.hdl_env(lv.table.layout, lv.level.number))



def walkers(spec: ir.Spec) -> list[WalkerView]:
    """The walkers that implement the spec's top translation, host first."""
    top = spec.top
    if isinstance(top, ir.Nested):
        out = [WalkerView(spec, spec.regime(top.host), "host", top),
               WalkerView(spec, top.guest_with_folds(spec.regime(top.guest)), "guest", top)]
    else:
        out = [WalkerView(spec, top, "top")]
    return widen(out)


def widen(ws: list[WalkerView], least: int = 0) -> list[WalkerView]:
    """Give walkers that share a memory port its data width: the widest entry of any of
    them, and at least `least` bits (a unit's structure words)."""
    bits = max([least] + [w.entry_bits for w in ws])
    for w in ws:
        w.data_bits = bits
    return ws


_TRUTH_VALUED = ("num", "||", "&&", "!", "==", "!=", "<", "<=", ">", ">=")  # ops whose MyHDL text may be a truth value


def _fitted(h: Hoist, env: Env, e: Expr, width: int) -> str:
    """MyHDL text for `e` taken to its low `width` bits as the reference does (a truth
    value when `width` is 1): plain when it fits, else through `h`'s scratch variables
    (statements in h.lines), the wide value's low bits a constant slice."""
    if width > 1:
        return fit(h, env, e, width)
    if fits_plain(e, width):
        return hdl(e, env, True)
    if e.width == 1:
        return h.cond(e)
    wide = h._new(e.width)
    h.lines.append(f"{wide}[:] = {h.value(e)}")
    return f"{wide}[0]"


def fit(h: Hoist, env: Env, e: Expr, width: int) -> str:
    """MyHDL text of exactly `width` bits for `e` (its low bits, or zero-extended), so that
    the Verilog extends or truncates nothing: a constant or a name, slice or concat in line
    (with zeros before it when narrower), anything else through `h`'s scratch variables."""
    if e.op == "num":
        return const(e.value & ((1 << width) - 1), width)
    if fits_plain(e, width):
        text = hdl(e, env)
        if _sized(text):
            return text if e.width == width else zero_extend(text, width - e.width)
    return h._fit(e, width)
