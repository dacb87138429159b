"""The user's project: its root folder, and the settings of `[tool.virtspec]` in its
pyproject.toml.

    [tool.virtspec]
    werror = false                    # treat warnings as errors (like --Werror)
    waive = ["W0104"]                 # warnings waived everywhere
    [tool.virtspec.waive-in]
    "specs/*.vspec" = ["W0103"]       # warnings waived in files matching a glob

virtspec runs inside the user's project, not inside its own install: the project root is
found as pytest and ruff find theirs, the nearest folder at or above a start folder that
holds a pyproject.toml. Globs are relative to that folder, whatever the working
directory. Only warnings can be waived: an error is never optional. The table is
validated by a pydantic model, like the IR; a bad table is a usage error (exit 2).
"""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from codegen.frontend import catalogue


class ConfigError(Exception):
    """A malformed [tool.virtspec] table: a usage error (exit status 2)."""


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` (a folder, or a file's folder)."""
    here = start.resolve()
    for d in [here, *here.parents] if here.is_dir() else list(here.parents):
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Project:
    """Where a run's default folders hang: `specs/`, `generated/` and `docs/` under the
    root. `found` says how the root was found, for --show-root and `check -v`."""

    root: Path
    found: str

    @property
    def specs(self) -> Path:
        return self.root / "specs"

    @property
    def generated(self) -> Path:
        return self.root / "generated"

    @property
    def docs(self) -> Path:
        return self.root / "docs"


def find_project(start: Path | None = None) -> Project:
    """The project of a run: the folder of the nearest pyproject.toml at or above `start`
    (the working directory, or the folder of the first spec named), else the working
    directory."""
    start = Path.cwd() if start is None else start
    try:
        pyproject = find_pyproject(start)
    except OSError:  # an unreadable folder above: no project
        pyproject = None
    if pyproject is not None:
        return Project(pyproject.parent, f"the folder of the nearest pyproject.toml, {pyproject}")
    return Project(Path.cwd().resolve(), "the working directory: no pyproject.toml above it")


def _warning_codes(codes: list[str]) -> frozenset[str]:
    for code in codes:
        entry = catalogue.lookup(code)
        if entry is None:
            raise ValueError(f"'{code}' is not a diagnostic code (see `virtspec explain`)")
        if entry.severity != "warning":
            raise ValueError(f"'{code}' is an error; only warnings (Wxxxx) can be waived")
    return frozenset(c.strip().upper() for c in codes)


class Settings(BaseModel):
    """The `[tool.virtspec]` table as written (strict types: `werror = 'yes'` is refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)
    werror: bool = False
    waive: frozenset[str] = frozenset()
    waive_in: dict[str, frozenset[str]] = Field(default_factory=dict, alias="waive-in")

    @field_validator("waive", mode="before")
    @classmethod
    def _waive(cls, value):
        return _warning_codes(_code_list(value))

    @field_validator("waive_in", mode="before")
    @classmethod
    def _waive_in(cls, value):
        if not isinstance(value, dict):
            raise ValueError('must be a table of "GLOB" = ["Wxxxx", ...]')
        out = {}
        for glob, codes in value.items():
            try:
                out[glob] = _warning_codes(_code_list(codes))
            except ValueError as exc:
                raise ValueError(f'"{glob}" {exc}') from None
        return out


def _code_list(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('must be a list of warning codes like ["W0103"]')
    return value


@dataclass(frozen=True)
class Config:
    """The settings that apply to one spec, with the folder its globs are relative to."""

    source: Path | None = None
    werror: bool = False
    waive: frozenset[str] = frozenset()
    waive_in: tuple[tuple[str, frozenset[str]], ...] = ()
    root: Path = field(default_factory=Path.cwd)

    def waived(self, code: str, spec_path: str) -> bool:
        """Whether `code` is waived in the file `spec_path`: an absolute path, or one as
        diagnostics show it, relative to the project root (never to the working
        directory, so a run from another folder waives the same warnings)."""
        if code in self.waive:
            return True
        path = PurePath(spec_path)
        try:
            rel = (Path(path).resolve().relative_to(self.root.resolve()) if path.is_absolute() else path).as_posix()
        except (ValueError, OSError):
            return False
        return any(code in codes and fnmatch.fnmatchcase(rel, glob) for glob, codes in self.waive_in)


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


_FRIENDLY = {"bool_type": "must be true or false", "extra_forbidden": "is an unknown key; the keys are werror, "
             "waive, waive-in", "dict_type": "must be a table"}


def parse(table, source: Path) -> Config:
    where = f"{source}: [tool.virtspec]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    try:
        settings = Settings.model_validate(table)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = " ".join(str(part) for part in err["loc"])
        why = _FRIENDLY.get(err["type"]) or str(err.get("ctx", {}).get("error") or err["msg"])
        if err["type"] == "bool_type":
            why += f", not {err['input']!r}"
        raise ConfigError(f"{where} {key} {why}") from None
    return Config(source, settings.werror, settings.waive, tuple(sorted(settings.waive_in.items())), source.parent)
