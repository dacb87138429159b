"""Spec text (file paths, names) made safe inside generated comments and docstrings."""
from __future__ import annotations

from codegen import ir

# Characters that stand as they are in a generated comment or docstring: printable ASCII
# less the backslash and the double quote (an escape, or the end of a docstring) and '%'
# (the escape character of comment_text itself).
_PLAIN = frozenset(map(chr, range(0x20, 0x7F))) - set('\\"%')


def comment_text(text: str) -> str:
    """`text` (a file path, or a spec name taken from one) made safe inside a generated
    comment or docstring of Python, Verilog and VHDL: one line of printable ASCII, any
    other character percent-encoded as UTF-8. A file name may hold a newline, a quote
    or a NUL, which would otherwise end the comment and start code; ordinary paths come
    out unchanged, so the shipped outputs do not move."""
    return "".join(c if c in _PLAIN else "".join(f"%{b:02X}" for b in c.encode("utf-8", "backslashreplace"))
                   for c in text)


def line_of(node: ir.Node) -> str:
    """`path:line` of a node, for the `# spec:` comments (the path escaped: see comment_text)."""
    return f"{comment_text(node.span.path)}:{node.span.line}"
