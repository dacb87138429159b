"""What the templates see of a translation (one regime, or a nested guest/host pair):
the request inputs, context, outcome kinds and records, over its walkers."""
from __future__ import annotations

from dataclasses import dataclass

from codegen import ir
from codegen.generate.lower import Env, LowerError, _sized, const, hdl, py, record_py, resize, zero_extend
from codegen.generate.view.cache import cache_views, walk_cache_views
from codegen.generate.view.cache_ref import CacheRefView
from codegen.generate.view.walker import NESTED_BASE, walkers
from codegen.ir.expr import Expr


@dataclass
class TranslationView:
    """The top translation: its request inputs, context, outcome kinds and records."""

    spec: ir.Spec

    def __post_init__(self):
        self.walkers = walkers(self.spec)
        self.main = self.walkers[-1]
        self.host = self.walkers[0] if len(self.walkers) == 2 else None
        top = self.spec.top
        self.nested = top if isinstance(top, ir.Nested) else None
        self.caches = CacheRefView(self.spec)
        for w in self.walkers:
            w.status_bits, w.level_bits = self.status_width, self.level_width
            w.cache_view = self.caches
        # the top's caches (issue 15) in front of the cycle-level walker; [] keeps the model as it was
        self.hdl_caches = cache_views(self)
        self.main.le_port = any(c.has_global for c in self.hdl_caches)
        # the walk caches behind the TLB: the input stage's walker resumes after a
        # paging-structure-cache hit, the host walker answers a nested-TLB hit at once
        self.hdl_psc, self.hdl_ntlb, self.hdl_hpsc = walk_cache_views(self)
        self.main.psc = self.hdl_psc
        if self.host is not None:
            self.host.ntlb = self.hdl_ntlb
            self.host.psc = self.hdl_hpsc
            self.host.phys = self.hdl_psc is not None
        for c in self.hdl_caches:
            c.sweep_sets = self.sweep_sets

    @property
    def reads_errors(self) -> bool:
        """A walker of it takes the read-error input (a stage that handles `error`, in a unit)."""
        return any(w.reads_error for w in self.walkers)

    @property
    def hdl_walk_caches(self) -> list:
        """The model's paging-structure cache and nested TLB (WALK_CACHES), as built."""
        return [c for c in (self.hdl_psc, self.hdl_ntlb, self.hdl_hpsc) if c is not None]

    @property
    def walk_caches_attr(self) -> str | None:
        """The model's WALK_CACHES: True when it holds every walk cache the top declares,
        else the names of those it holds (the others are the reference's alone); None
        without any."""
        held = [c.name for c in self.hdl_walk_caches]
        if not held:
            return None
        declared = [c.name for c in getattr(self.spec.top, "caches", ()) or () if c.holds != "translations"]
        return "True" if set(declared) <= set(held) else repr(tuple(held))

    @property
    def sweep_sets(self) -> int:
        """The sets an invalidation sweeps, one a cycle: the most of any cache."""
        return max(c.sets for c in self.hdl_caches + self.hdl_walk_caches)

    @property
    def hdl_invalidations(self) -> tuple:
        """The top's invalidation events (i_op = 1, 2... in this order)."""
        return tuple(getattr(self.spec.top, "invalidations", ()) or ()) if self.hdl_caches else ()

    @property
    def hdl_invalidation_names(self) -> tuple[str, ...]:
        return tuple(ev.name for ev in self.hdl_invalidations)

    @property
    def op_width(self) -> int:
        return max(1, len(self.hdl_invalidations).bit_length())

    def operand_ports(self) -> list[tuple[str, int]]:
        """(port, width) of each invalidation's operands: i_EVENT_OPERAND."""
        return [(f"i_{ev.name}_{o.name}", o.width) for ev in self.hdl_invalidations for o in ev.operands]

    @property
    def has_no_level(self) -> bool:
        """Some level port can hold "no level" (NO_LEVEL): a stage that can be switched
        off, or a nested walk, whose host faults on the final address have no guest level."""
        return any(w.can_bypass for w in self.walkers) or self.nested is not None

    @property
    def level_width(self) -> int:
        """LEVEL_WIDTH: the main walker's, one bit wider if needed so that NO_LEVEL (all
        ones) is no level of any stage."""
        if not self.has_no_level:
            return self.main.level_width
        top = max(w.max_level for w in self.walkers)
        return max(3, (top + 1).bit_length())

    @property
    def no_level(self) -> int:
        return (1 << self.level_width) - 1

    def host_off_py(self) -> str:
        return py(self.nested.host_bypass, self.main.py_env())

    def host_off_hdl(self) -> str:
        return hdl(self.nested.host_bypass, self.main.hdl_env(), True)

    @property
    def nested_base(self) -> int:
        """Status codes above this are host-stage faults: 64, or the next power of two
        that leaves room for every fault kind of the guest."""
        kinds = len(self.main.kinds)
        return max(NESTED_BASE, 1 << kinds.bit_length()) if self.nested else NESTED_BASE

    @property
    def data_width(self) -> int:
        """The memory port's data width: the widest entry any walker reads or writes."""
        return self.main.data_bits

    @property
    def status_width(self) -> int:
        """Bits of a status code (8, or more for a regime with hundreds of fault kinds)."""
        top = self.nested_base + len(self.host.kinds) if self.nested else len(self.main.kinds)
        return max(8, top.bit_length())

    @property
    def context(self) -> tuple[str, ...]:
        return self.nested.context if self.nested else self.main.regime.context

    @property
    def access(self) -> tuple[str, ...]:
        return self.main.regime.access

    def register_width(self, name: str) -> int:
        return self.spec.layout(name).width

    def host_binding_py(self) -> list[tuple[str, str]]:
        """(host context register, Python expression over the nested context)."""
        env = self.main.py_env()
        out = []
        for b in self.nested.host_bindings:
            width = self.spec.layout(b.name).width
            text = py(b.value, env)
            # a host register takes the low bits of its value, as a record field does
            out.append((b.name, f"({text} & {hex((1 << width) - 1)})" if b.value.width > width else text))
        bound = dict(out)
        return [(r, bound.get(r, f"r_{r}")) for r in self.host.regime.context]

    def update_when_py(self) -> str:
        when = self.nested.update_when
        return py(when, self.main.py_env()) if when is not None else "True"

    def update_when_hdl(self) -> str:
        when = self.nested.update_when
        return hdl(when, self.main.hdl_env(), True) if when is not None else "True"

    def _access_binds(self, stage: str) -> tuple[ir.Binding, ...]:
        return {"table": self.nested.table_access, "final": self.nested.final_access,
                "update": self.nested.update_access}[stage]

    def access_py(self, stage: str) -> list[tuple[str, str]]:
        env = self.main.py_env()
        binds = self._access_binds(stage)
        by = {b.name: _low_bit_py(b.value, env) for b in binds}
        return [(a, by[a]) for a in self.host.regime.access]

    def nested_record_py(self) -> list[tuple[str, str]]:
        base = self.main.py_env()
        host_fields = [f.name for f in self.host.regime.record.fields]

        def host(e: Expr) -> str:
            if e.name in host_fields:
                return f"hrec[{host_fields.index(e.name)}]"
            return "h_addr"

        def builtin(e: Expr) -> str:
            return {"on_table": "on_table", "on_final": "on_final", "fault": "hkind", "level": "hlevel"}[e.name]

        env = Env({**base.spell, "host": host, "builtin": builtin})
        return record_py(self.nested.record, env)

    def host_binding_hdl(self) -> list[tuple[str, str, int]]:
        """(host context register, MyHDL expression over the nested context, width)."""
        env = self.main.hdl_env()
        bound = {b.name: b.value for b in self.nested.host_bindings}
        out = []
        for r in self.host.regime.context:
            width = self.spec.layout(r).width
            out.append((r, _bound_hdl(bound[r], env, width) if r in bound else f"r_{r}", width))
        return out

    def access_hdl(self, stage: str, acc: str = "v_") -> list[tuple[str, str]]:
        """The host access kind of a table or final translation; the guest sets it when
        it asks, with its accumulators as just updated (v_*), or from their registers
        (a_*) in a later state."""
        env = self.main.hdl_env()
        env.spell["acc"] = lambda e: f"{acc}{e.name}"
        binds = self._access_binds(stage)
        by = {b.name: _low_bit_hdl(b.value, env) for b in binds}
        return [(a, by[a]) for a in self.host.regime.access]

    def nested_record_hdl(self, prefix: str):
        base = self.main.hdl_env()
        host_fields = [f.name for f in self.host.regime.record.fields]

        def host(e: Expr) -> str:
            return f"h_r_{e.name}" if e.name in host_fields else "x_addr"

        def builtin(e: Expr) -> str:
            return {"on_table": "x_on_table", "on_final": "(not x_on_table)",
                    "fault": resize("x_status", self.status_width, e.width),
                    "level": resize("x_level", self.level_width, e.width)}[e.name]

        env = Env({**base.spell, "host": host, "builtin": builtin})
        return self.main.hdl_record(prefix, self.nested.record, env)


# An access kind is one bit: a binding takes the low bit of its value, as a record field
# takes the low bits of its value (`user = 2;` is 0), in both models alike.
def _low_bit_py(e: Expr, env: Env) -> str:
    if e.width == 1:
        return py(e, env)
    if e.op == "num":
        return str(e.value & 1)
    return f"({py(e, env)} & 1)"


def _low_bit_hdl(e: Expr, env: Env) -> str:
    if e.width == 1:
        return hdl(e, env, True)
    if e.op == "num":
        return "True" if e.value & 1 else "False"
    return f"(({hdl(e, env)} & 1) == 1)"


def _bound_hdl(e: Expr, env: Env, width: int) -> str:
    """A host register's value in the model: its low `width` bits, as in the reference.
    A shift by a constant of the width or more leaves none (0); another value wider than
    the register cannot be cut in line (E0501)."""
    if e.width <= width:
        text = hdl(e, env)
        if e.op == "num":
            return const(e.value, width)
        if e.width < width and _sized(text):  # zero-extended in line: Verilog extends nothing
            return zero_extend(text, width - e.width)
        return text
    if e.op == "<<" and e.args[1].op == "num" and e.args[1].value >= width:
        return "0"
    raise LowerError(f"in the cycle-level model, a {e.width}-bit value cannot be bound to a {width}-bit host register "
                     "in line: take its low bits with a slice or a mask first", e.span)
