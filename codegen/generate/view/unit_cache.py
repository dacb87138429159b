"""What the reference of a unit needs of its caches (issue 15, caches on units): per
cache its geometry, what it stands in front of (a walk, whose final translations it keeps
by input page, access kinds and tags; or a structure, whose words it keeps by address),
and every cache expression lowered to Python. Rendered by templates/unit_cache_ref.j2;
semantics in docs/language.md, "Caches in a unit"."""
from __future__ import annotations

from codegen import ir
from codegen.generate.lower import Env, py, py_field
from codegen.ir.expr import Expr, mask


class UnitCacheView:
    def __init__(self, spec: ir.Spec, unit: ir.Unit, py_env):
        self.spec, self.unit = spec, unit
        self.caches = unit.caches
        self.invalidations = unit.invalidations
        self._py_env = py_env  # the unit's own spelling (tags read the event, context, structures)

    @property
    def enabled(self) -> bool:
        return bool(self.caches)

    def of(self, kind: str, name: str) -> ir.Cache | None:
        return self.unit.cache_of(kind, name)

    def granule(self, c: ir.Cache) -> int:
        """A walk cache's entry covers 2**granule bytes: the smallest page of the walk's
        leaves (for a page size read from the entry, the frame field's low bit). A
        structure cache: 0 (its key is the address itself)."""
        if c.source != "walk":
            return 0
        regime = self.spec.regime(next(w for w in self.unit.walks if w.name == c.of).regime)
        return min(lv.page_shift for lv in regime.levels if lv.leaf)

    def low_mask(self, c: ir.Cache) -> int:
        return mask(self.granule(c))

    def set_shift(self, c: ir.Cache) -> int:
        """The low bits of the key below the set index: the granule (a walk cache: the key
        is the input page already) or log2 of the structure's size rounded up."""
        if c.source == "walk":
            return 0
        st = self.unit.structure(c.of)
        return (st.size - 1).bit_length()

    def stored(self, c: ir.Cache) -> list[tuple[str, str]]:
        """(tag, Python over the unit's variables) masked to the tag's width."""
        env = self._py_env()
        return [(t.name, f"({py(t.value, env)}) & {hex(mask(t.value.width))}") for t in c.tags]

    def operands(self) -> dict[str, tuple[str, ...]]:
        return {inv.name: tuple(o.name for o in inv.operands) for inv in self.invalidations}

    def geometry(self) -> dict:
        return {c.name: (c.source, c.entries, c.ways, c.replace, self.granule(c), self.set_shift(c))
                for c in self.caches}

    def _env(self, c: ir.Cache) -> Env:
        tags = [t.name for t in c.tags]

        def ctx(e: Expr) -> str:
            whole = e.lo == 0 and e.width == self.spec.layout(e.name).width
            return f"r[{e.name!r}]" if whole else py_field(f"r[{e.name!r}]", e.lo, e.width)

        env = Env({
            "ctx": ctx,
            "operand": lambda e: f"o[{e.name!r}]",
            "entry": lambda e: f"en.tags[{tags.index(e.name)}]",
        })
        env.calls["covers"] = lambda e: f"within(en, {py(e.args[0], env)}, 0)"
        env.calls["within"] = lambda e: f"within(en, {py(e.args[0], env)}, {py(e.args[1], env)})"
        return env

    def py_drop(self, d: ir.Drop) -> str:
        if d.when is None:
            return "True"
        return py(d.when, self._env(next(c for c in self.caches if c.name == d.cache)))

    def py_sets(self, inv: ir.Invalidation) -> list[tuple[str, str]]:
        env = Env({
            "ctx": lambda e: f"r[{e.name!r}]" if e.lo == 0 and e.width == self.spec.layout(e.name).width
            else py_field(f"r[{e.name!r}]", e.lo, e.width),
            "operand": lambda e: f"o[{e.name!r}]",
        })
        return [(b.name, f"({py(b.value, env)}) & {hex(mask(self.spec.layout(b.name).width))}") for b in inv.sets]
