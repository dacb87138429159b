"""What the reference's translation caches need of the spec: geometry, the page size of
each level, and every cache expression (tags, global, drops, context writes) lowered to
Python over a request dict `r`, an operand dict `o`, a cache entry `en` and the current
tag values `t`. Rendered by templates/cache_ref.j2 (design: issue 15, the `cache` and
`invalidate` declarations; semantics in docs/language.md, "Caches and invalidation")."""
from __future__ import annotations

from dataclasses import dataclass

from codegen import ir
from codegen.generate.lower import Env, py, py_field
from codegen.ir.expr import Expr, mask


def leaf_shifts(regime: ir.Regime) -> dict[int, int]:
    """The page shift of the leaf at each level that can be one, by the spec's level
    number (the number an outcome's "level" holds)."""
    return {regime.label(lv.number): lv.page_shift for lv in regime.levels if lv.leaf}


@dataclass
class CacheRefView:
    """The top translation's caches and invalidations, for the Python reference."""

    spec: ir.Spec

    def __post_init__(self):
        top = self.spec.top
        self.top = top
        self.caches: tuple[ir.Cache, ...] = getattr(top, "caches", ())
        self.invalidations: tuple[ir.Invalidation, ...] = getattr(top, "invalidations", ())
        if isinstance(top, ir.Nested):
            self.input_regime = self.spec.regime(top.guest)
            self.host_regime = self.spec.regime(top.host)
        else:
            self.input_regime, self.host_regime = top, None
        self.tlbs = tuple(c for c in self.caches if c.holds == "translations")
        self.psc = next((c for c in self.caches if c.holds == "tables" and c.stage == "guest"), None)
        # nested: the paging-structure cache of the host walk (`holds host tables`)
        self.hpsc = next((c for c in self.caches if c.holds == "tables" and c.stage == "host"), None)
        self.ntlb = next((c for c in self.caches if c.holds == "host translations"), None)
        self.shifts = leaf_shifts(self.input_regime)
        self.host_shifts = leaf_shifts(self.host_regime) if self.host_regime else {}
        self.granule = min(list(self.shifts.values()) + list(self.host_shifts.values()))

    @property
    def folds(self) -> bool:
        """A composition that folds over its host translations: a host translation reports its
        accumulators too (the result tuple's elements from 4), which a nested-TLB entry keeps."""
        return isinstance(self.top, ir.Nested) and bool(self.top.folds)

    @property
    def enabled(self) -> bool:
        return bool(self.caches)

    @property
    def walk_caches(self) -> bool:
        """A paging-structure cache or a nested TLB: the walkers take their hooks."""
        return self.psc is not None or self.ntlb is not None or self.hpsc is not None

    @property
    def host_caches(self) -> bool:
        """A nested TLB or a paging-structure cache of the host walk: every host
        translation of a walk goes through them (the reference's host hook)."""
        return self.ntlb is not None or self.hpsc is not None

    def _regime_of(self, c: ir.Cache | None) -> ir.Regime:
        return self.host_regime if c is not None and c.stage == "host" else self.input_regime

    def psc_levels(self, c: ir.Cache | None = None) -> tuple[int, ...]:
        """Walk numbers of a paging-structure cache's levels (the guest one's by default),
        deepest (closest to the leaf) first."""
        c = c or self.psc
        by_shown = {lv.shown: lv.number for lv in self._regime_of(c).levels}
        return tuple(sorted((by_shown[n] for n in c.levels), key=lambda n: n))

    def index_lo(self, c: ir.Cache | None = None) -> dict[int, int]:
        """The low input bit of each level's index, by walk number (a PSC entry's key shift)."""
        return {lv.number: lv.index_lo for lv in self._regime_of(c).levels}

    def labels(self, c: ir.Cache | None = None) -> dict[int, int]:
        """The spec's number of each level, by walk number."""
        return {lv.number: lv.shown for lv in self._regime_of(c).levels}

    def host_access(self) -> int:
        """How many access-kind arguments the host walker takes after the address."""
        return len(self.host_regime.access) if self.host_regime else 0

    def holds_of(self, name: str) -> str:
        return self.cache(name).holds

    @property
    def has_global(self) -> bool:
        """Some cache marks entries global: the walker reports the flag with a success."""
        return any(c.global_when is not None for c in self.caches)

    def operands(self) -> dict[str, tuple[str, ...]]:
        return {inv.name: tuple(o.name for o in inv.operands) for inv in self.invalidations}

    def py_global(self, walker, lv) -> str:
        """The walk's `global when`, at the leaf of level `lv`, in the walker's spelling
        (0 when no cache declares one)."""
        c = next((c for c in self.caches if c.global_when is not None), None)
        if c is None:
            return "0"
        return py(c.global_when, walker.py_env(lv.leaf.layout, lv.level.number))

    def cache(self, name: str) -> ir.Cache:
        return next(c for c in self.caches if c.name == name)

    def ignores(self, c: ir.Cache) -> tuple[int, ...]:
        """Positions of the tags a global entry does not compare."""
        return tuple(i for i, t in enumerate(c.tags) if t.name in c.global_ignores)

    # ---- lowering
    def _env(self, c: ir.Cache | None = None) -> Env:
        tags = [t.name for t in c.tags] if c else []

        def ctx(e: Expr) -> str:
            whole = e.lo == 0 and e.width == self.spec.layout(e.name).width
            return f"r[{e.name!r}]" if whole else py_field(f"r[{e.name!r}]", e.lo, e.width)

        def entry(e: Expr) -> str:
            if e.name == "global":
                return "en.glob"
            return f"en.tags[{tags.index(e.name)}]"

        fn = {"tables": "covers_tables", "host translations": "covers_host"}.get(c.holds if c else "", "covers")
        if c is not None and c.holds == "tables" and c.stage == "host":
            fn = "covers_host_tables"

        def covers(e: Expr) -> str:
            return f"{fn}(en, {py(e.args[0], env)})"

        env = Env({
            "ctx": ctx,
            "operand": lambda e: f"o[{e.name!r}]",
            "tag": lambda e: f"t[{tags.index(e.name)}]",
            "entry": entry,
        }, calls={"covers": covers})
        return env

    def py_tags(self, c: ir.Cache) -> list[tuple[str, str]]:
        """(tag name, Python over `r`) for each tag of `c`, masked to the tag's width."""
        env = self._env(c)
        return [(t.name, f"{py(t.value, env)} & {hex(mask(t.value.width))}") for t in c.tags]

    def py_drop(self, d: ir.Drop) -> str:
        if d.when is None:
            return "True"
        return py(d.when, self._env(self.cache(d.cache)))

    def py_sets(self, inv: ir.Invalidation) -> list[tuple[str, str]]:
        """(register, Python over `r` and `o`) for each context write, masked to the register."""
        env = self._env()
        return [(b.name, f"({py(b.value, env)}) & {hex(mask(self.spec.layout(b.name).width))}") for b in inv.sets]

