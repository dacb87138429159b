"""Helpers for the front-end tests: a small valid spec to break, compiling text from
tmp_path, and locating the expected line:col of a diagnostic in the snippet itself."""
from __future__ import annotations

from pathlib import Path

from codegen.frontend.diagnostics import Diagnostic, DiagnosticBag, SpecError
from codegen.frontend.pipeline import compile_spec

# A two-level walk: small, valid, and every error test below breaks one thing in it.
WALK = """\
spec t;
register CR3 : 64 { BASE [47:12]; }
format pte : 64 {
    P [0];
    RW [1];
    A [5];
    D [6];
    ADDR [47:12];
}
format pde : 64 {
    P [0];
    RW [1];
    A [5];
    PS [7];
    ADDR [47:12];
}
regime walk {
    input va : 48;
    access write;
    context CR3;
    entry 8;
    root CR3.BASE << 12;
    start level 2;
    pointer ADDR;
    frame ADDR;
    level 2 pd { index va[29:21]; table pde; }
    level 1 pt { index va[20:12]; leaf pte page 4K; }
    fault not_present when !P;
    set A at each level;
    record pf { code : 8 = fault; }
}
"""


def edit(text: str, *pairs: str) -> str:
    """Replace each `old` by `new` (given as old, new, old, new, ...); `old` must occur once."""
    for old, new in zip(pairs[::2], pairs[1::2]):
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def where(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based (line, col) of the nth occurrence of `needle` in `text`."""
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def write(tmp_path: Path, text: str | bytes, name: str = "t.vspec") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def compile_text(tmp_path: Path, text: str | bytes, name: str = "t.vspec",
                 extra: dict[str, str] | None = None) -> DiagnosticBag:
    """Compile `text` (next to the `extra` files, by name) and return the bag; the
    compilation must fail with SpecError."""
    for other, body in (extra or {}).items():
        write(tmp_path, body, other)
    bag = DiagnosticBag()
    try:
        compile_spec(write(tmp_path, text, name), bag)
    except SpecError as exc:
        assert exc.bag is bag
        assert bag.errors, "SpecError without an error"
        return bag
    raise AssertionError("the spec compiled without errors:\n" + text)


def codes(bag: DiagnosticBag) -> list[str]:
    return [d.code for d in bag.errors]


def only(bag: DiagnosticBag, code: str) -> Diagnostic:
    """The single diagnostic of the bag, which must have `code`."""
    assert codes(bag) == [code], bag.render()
    return bag.errors[0]


def loc(d: Diagnostic) -> tuple[int, int]:
    return d.span.line, d.span.col


def note_loc(d: Diagnostic, i: int = 0) -> tuple[int, int]:
    span = d.notes[i][1]
    assert span is not None
    return span.line, span.col
