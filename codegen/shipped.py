"""The files that ship beside the code: the grammar and the shipped specs.

In the repository they are the top-level folders grammar/ and specs/; pyproject.toml
installs them as the package data `codegen.grammar` and `codegen.specs`, so an installed
virtspec (the benchmark, the fuzzer's seeds) finds them wherever it runs from.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def folder(name: str) -> Path:
    """The folder of shipped files `name` ("grammar", "specs" or "workloads"). A checkout's own folder
    comes first: an editable install of another checkout (a git worktree beside it) must
    not hand this one that checkout's grammar."""
    if (_CHECKOUT / name).is_dir() and (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / name
    try:
        found = importlib.util.find_spec(f"codegen.{name}")
    except ImportError:
        found = None
    if found is not None and found.submodule_search_locations:
        return Path(next(iter(found.submodule_search_locations)))
    return _CHECKOUT / name  # a checkout used without installing it


def grammar() -> Path:
    return folder("grammar") / "vspec.lark"


def specs() -> list[Path]:
    """The shipped spec files, sorted by name."""
    return sorted(folder("specs").glob("*.vspec"))


def shared() -> list[Path]:
    """The files of shared declarations the shipped specs import (specs/shared/): they
    declare no model of their own, so they are not among `specs()`."""
    return sorted((folder("specs") / "shared").glob("*.vspec"))
