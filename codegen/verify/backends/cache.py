"""Build products of the HDL backends, cached by the hash of what they are built from
(the HDL, the testbench, the tool's version), so that a second run does not recompile.

A build happens in a private temporary folder that is renamed into place when it is
complete: a killed or failed build leaves nothing a later run would take for a result,
and two concurrent builds of the same key do not mix their files."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from codegen.user_cache import cache_root


class BuildFailed(Exception):
    """A simulator refused the HDL or the testbench: its messages are the text."""


def key_of(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def cached(kind: str, key: str, files: dict[str, str], build: Callable[[Path], None]) -> Path:
    """The folder of build `key` of backend `kind`: `files` written into it and
    `build(folder)` run there, unless a complete build of that key exists."""
    final = cache_root() / kind / key
    if (final / ".complete").exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key}."))
    try:
        for name, text in files.items():
            (work / name).write_text(text)
        build(work)
        (work / ".complete").write_text("")
        try:
            os.replace(work, final)
        except OSError:  # a concurrent build of the same key finished first: use it
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final


class SimulatorTimeout(BuildFailed):
    """A simulator run that took longer than its wall-clock bound (killed)."""


def run_simulator(name: str, cmd: list[str], timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    """A testbench run; one past `timeout` seconds is killed and raises SimulatorTimeout."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise SimulatorTimeout(f"the {name} testbench did not finish within {timeout:.0f} s (killed)") from None


def run(cmd: list[str], cwd: Path, env: dict | None = None, what: str = "build") -> str:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise BuildFailed(f"{what} failed ({' '.join(cmd[:2])} ...):\n{(r.stdout + r.stderr)[-4000:]}")
    return r.stdout + r.stderr
