"""Build a lark LALR parser, keeping its tables in a per-user cache file between runs.

Building the tables of the spec grammar takes most of a second; lark can save and load
them (`Lark(cache=PATH)`). The file lives in a folder of the current user under the
system's temporary folder (`<tmp>/virtspec-<uid>/`, mode 0700), never in the project or
in site-packages, and is named by a hash of everything the tables depend on (the grammar,
the options, lark's and Python's versions), so a changed grammar or upgraded lark gets a
file of its own; it is written and read with lark's own Lark.save and Lark.load. The file is written under a name of the process and renamed into place,
so a reader never sees half of one. When the folder cannot be made or is not the user's
own (made by someone else, a symlink, open to others), the parser is built without a cache.
"""
from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path

import lark

_OPTIONS_NOT_HASHED = ("postlex", "transformer", "lexer_callbacks")  # objects: their class is hashed, not their repr


def _kind(value) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def cache_folder() -> Path | None:
    """The current user's cache folder, made if need be; None when it cannot be used safely."""
    try:
        uid = os.getuid()
    except AttributeError:  # not POSIX: no owner to check
        return None
    folder = Path(tempfile.gettempdir()) / f"virtspec-{uid}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        return None
    return folder


def cache_file(grammar: str, options: dict) -> Path | None:
    """Where the tables of `grammar` built with `options` are kept (None: no cache)."""
    folder = cache_folder()
    if folder is None:
        return None
    hashed = "".join(f"{k}={_kind(v) if k in _OPTIONS_NOT_HASHED else repr(v)};" for k, v in sorted(options.items()))
    key = hashlib.sha256("\0".join((grammar, hashed, lark.__version__, sys.version)).encode()).hexdigest()[:32]
    return folder / f"lark-{key}.cache"


def build(grammar: str, **options) -> lark.Lark:
    """lark.Lark(grammar, parser="lalr", **options), loaded from the cache when it is there
    (the file's name says what it was built from), else built and saved into it."""
    options["parser"] = "lalr"
    path = cache_file(grammar, options)
    if path is not None:
        try:
            with path.open("rb") as f:
                return lark.Lark.load(f)
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 - a damaged or foreign file: build the tables again, and replace it
            pass
    parser = lark.Lark(grammar, **options)
    if path is not None:
        part = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            with part.open("wb") as f:
                parser.save(f)
            os.replace(part, path)
        except Exception:  # noqa: BLE001 - a full disk, an option lark cannot save: no cache, no error
            try:
                part.unlink()
            except OSError:
                pass
    return parser
