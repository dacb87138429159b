"""The diagnostics catalogue (catalogue.toml): every code's summary and explanation.

The catalogue is data so that `virtspec explain`, the docs and the tests read one
list; tests/test_catalogue.py checks that it and the codes the front end reports agree.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parent / "catalogue.toml"
CODE = re.compile(r"^[EW][0-9]{4}$")


@dataclass(frozen=True)
class Entry:
    code: str
    summary: str
    explanation: str

    @property
    def severity(self) -> str:
        return "warning" if self.code.startswith("W") else "error"


@lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    """Every catalogued code, in code order."""
    with CATALOGUE.open("rb") as fh:
        data = tomllib.load(fh)
    return {code: Entry(code, body["summary"].strip(), body["explanation"].strip())
            for code, body in sorted(data.items())}


def lookup(code: str) -> Entry | None:
    return entries().get(code.strip().upper())


def explain(code: str) -> str:
    """The text `virtspec explain CODE` prints."""
    e = lookup(code)
    assert e is not None
    return f"{e.code} ({e.severity}): {e.summary}\n\n{e.explanation}\n"


def near(code: str) -> list[str]:
    """Catalogued codes in the same band as an unknown `code`, for the error message."""
    code = code.strip().upper()
    return [c for c in entries() if c[:3] == code[:3]] or list(entries())[:5]
