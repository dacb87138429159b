"""Source spans: where in a spec file a node of the syntax tree or the IR came from.

Part of the IR (every node carries one), so it lives here and depends on nothing.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A location in a spec file: 1-based line and column, end exclusive."""

    model_config = ConfigDict(frozen=True)
    path: str = "<input>"
    line: int = 1
    col: int = 1
    end_line: int = 1
    end_col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


NO_SPAN = Span()
