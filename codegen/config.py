"""Project settings from the `[tool.virtspec]` table of the nearest pyproject.toml.

    [tool.virtspec]
    werror = false                    # treat warnings as errors (like --Werror)
    waive = ["W0104"]                 # warnings waived everywhere
    [tool.virtspec.waive-in]
    "specs/*.vspec" = ["W0103"]       # warnings waived in files matching a glob

Globs are relative to the folder of the pyproject.toml. Only warnings can be waived:
an error is never optional. The nearest pyproject.toml above the spec file is used,
as other Python tools do, so a spec outside any project has no settings.
"""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import catalogue


class ConfigError(Exception):
    """A malformed [tool.virtspec] table: a usage error (exit status 2)."""


@dataclass(frozen=True)
class Config:
    source: Path | None = None
    werror: bool = False
    waive: frozenset[str] = frozenset()
    waive_in: tuple[tuple[str, frozenset[str]], ...] = ()
    root: Path = field(default_factory=Path.cwd)

    def waived(self, code: str, spec_path: str) -> bool:
        if code in self.waive:
            return True
        try:
            rel = Path(spec_path).resolve().relative_to(self.root.resolve()).as_posix()
        except (ValueError, OSError):
            return False
        return any(code in codes and fnmatch.fnmatchcase(rel, glob) for glob, codes in self.waive_in)


def find_pyproject(start: Path) -> Path | None:
    here = start.resolve()
    for d in [here, *here.parents] if here.is_dir() else list(here.parents):
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load(spec_path: Path) -> Config:
    """The settings that apply to `spec_path` (defaults when there are none)."""
    source = find_pyproject(spec_path)
    if source is None:
        return Config()
    try:
        with source.open("rb") as fh:
            table = tomllib.load(fh).get("tool", {}).get("virtspec", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read it: {exc}") from None
    return parse(table, source)


def parse(table: dict, source: Path) -> Config:
    where = f"{source}: [tool.virtspec]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - {"werror", "waive", "waive-in"})
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {', '.join(unknown)}; the keys are werror, waive, waive-in")
    werror = table.get("werror", False)
    if not isinstance(werror, bool):
        raise ConfigError(f"{where} werror must be true or false, not {werror!r}")
    waive = _codes(table.get("waive", []), f"{where} waive")
    waive_in_table = table.get("waive-in", {})
    if not isinstance(waive_in_table, dict):
        raise ConfigError(f"{where} waive-in must be a table of \"GLOB\" = [\"Wxxxx\", ...]")
    waive_in = tuple((glob, _codes(codes, f"{where} waive-in \"{glob}\""))
                     for glob, codes in sorted(waive_in_table.items()))
    return Config(source, werror, waive, waive_in, source.parent)


def _codes(value, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of warning codes like [\"W0103\"]")
    for code in value:
        entry = catalogue.lookup(code)
        if entry is None:
            raise ConfigError(f"{where}: '{code}' is not a diagnostic code (see `virtspec explain`)")
        if entry.severity != "warning":
            raise ConfigError(f"{where}: '{code}' is an error; only warnings (Wxxxx) can be waived")
    return frozenset(c.strip().upper() for c in value)
