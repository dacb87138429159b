"""The user's cache folder, shared by every stage that keeps work across runs (converted
HDL in generate/emit.py, simulator builds in verify/backends/): one rule, so that
$VIRTSPEC_CACHE moves all of it."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$VIRTSPEC_CACHE, else $XDG_CACHE_HOME/virtspec, else ~/.cache/virtspec."""
    if os.environ.get("VIRTSPEC_CACHE"):
        return Path(os.environ["VIRTSPEC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "virtspec"
