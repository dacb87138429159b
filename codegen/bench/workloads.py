"""The benchmark's workloads: which shipped specs each section of `virtspec bench` runs, and
the context that pins a workload's shape, read from workloads/bench.toml beside the specs.

Why a data file: codegen/ names no architecture, and a port to another instruction set
should change what is measured by editing data, not the benchmark's code.
"""
from __future__ import annotations

import functools
import importlib.util
import tomllib
from types import ModuleType

from pydantic import BaseModel, ConfigDict, Field

from codegen import shipped


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Walker(_Strict):
    """(b): a walker written by hand, for `spec`, in `module` of the workloads folder."""
    spec: str
    module: str
    args: tuple[str, ...]
    clear_bits: dict[str, tuple[int, ...]] = {}

    def keeps(self, request: dict) -> bool:
        """The request has every bit of `clear_bits` clear (the shape the walker is timed on)."""
        return all(not (request[reg] >> bit) & 1 for reg, bits in self.clear_bits.items() for bit in bits)


class ModelSpeed(_Strict):
    spec: str
    label: str


class Specs(_Strict):
    specs: tuple[str, ...]


class HdlSpeed(_Strict):
    end_to_end: str


class Fuzz(_Strict):
    import_: str = Field(alias="import")
    parameter: str


class Workloads(_Strict):
    walker: Walker
    model_speed: tuple[ModelSpeed, ...]
    four_levels: dict[str, dict[str, int]]
    walks_2d: Specs
    hdl_speed: HdlSpeed
    caches: Specs
    fuzz: Fuzz


@functools.cache
def load() -> Workloads:
    """workloads/bench.toml, checked (a wrong key or type is a pydantic error naming it)."""
    with open(shipped.folder("workloads") / "bench.toml", "rb") as f:
        return Workloads.model_validate(tomllib.load(f))


@functools.cache
def hand_walker() -> ModuleType:
    """The hand-written walker of (b), loaded from its file in the workloads folder."""
    path = shipped.folder("workloads") / load().walker.module
    spec = importlib.util.spec_from_file_location(f"virtspec_workload_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
