"""Diagnostics: source spans, error collection and the `path:line:col: error[CODE]` rendering.

Every stage of the pipeline reports into a `DiagnosticBag` and stops after the stage
if anything went wrong, so the user sees all errors of a stage at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from codegen.ir.span import NO_SPAN, Span  # noqa: F401 - re-exported: diagnostics speak of spans

EXCERPT_WIDTH = 200  # characters of a source line shown under a diagnostic


@dataclass
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: str = "error"
    notes: list[tuple[str, Span | None]] = field(default_factory=list)

    def render(self, sources: dict[str, str]) -> str:
        out = [f"{self.span}: {self.severity}[{self.code}]: {self.message}"]
        out += _excerpt(self.span, sources)
        for text, span in self.notes:
            if span is None:
                out.append(f"note: {text}")
            else:
                out.append(f"{span}: note: {text}")
                out += _excerpt(span, sources)
        return "\n".join(out)


def _excerpt(span: Span, sources: dict[str, str]) -> list[str]:
    text = sources.get(span.path)
    if text is None:
        return []
    lines = _lines(text)
    if not 1 <= span.line <= len(lines):
        return []
    src = lines[span.line - 1].rstrip("\r")
    # a long line is shown as a window of EXCERPT_WIDTH characters around the column
    start = 0 if span.col <= EXCERPT_WIDTH - 40 else span.col - 41
    # control characters (tabs too) become one space each, so the caret stays aligned; only
    # the window is mapped, so that many diagnostics on one huge line stay cheap
    window = "".join(" " if ord(c) < 32 or c == "\x7f" else c for c in src[start:start + EXCERPT_WIDTH])
    shown = ("..." if start else "") + window + ("..." if start + EXCERPT_WIDTH < len(src) else "")
    at = span.col - 1 - start  # 0-based column inside the window
    end = span.end_col if span.end_line == span.line else len(src) + 1
    width = max(1, min(end - span.col, len(window) - at))
    gutter = f"{span.line:>5} | "
    return [gutter + shown, " " * (len(gutter) + at + (3 if start else 0)) + "^" * width]


@lru_cache(maxsize=4)
def _lines(text: str) -> list[str]:
    """The lines of a source, split once per text: rendering thousands of diagnostics of
    one big file must not split it thousands of times."""
    # the parser counts lines by '\n' only; splitlines() would also split at '\f', '\x1c',
    # '\u2028', ... and show the wrong line
    return text.split("\n")


class SpecError(Exception):
    """Raised to stop the pipeline after a stage reported errors."""

    def __init__(self, bag: "DiagnosticBag"):
        super().__init__(f"{len(bag.errors)} error(s)")
        self.bag = bag


@dataclass
class DiagnosticBag:
    """Collects the diagnostics of a run; `sources` keeps file text for the excerpts."""

    items: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def error(self, code: str, message: str, span: Span, *notes: tuple[str, Span | None]) -> None:
        self.items.append(Diagnostic(code, message, span, "error", list(notes)))

    def warning(self, code: str, message: str, span: Span, *notes: tuple[str, Span | None]) -> None:
        self.items.append(Diagnostic(code, message, span, "warning", list(notes)))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def drop_waived(self, waived) -> int:
        """Remove the warnings `waived(code, path)` accepts; return how many."""
        keep = [d for d in self.items if d.severity == "error" or not waived(d.code, d.span.path)]
        dropped = len(self.items) - len(keep)
        self.items = keep
        return dropped

    def stop_if_errors(self) -> None:
        if self.errors:
            raise SpecError(self)

    def render(self) -> str:
        return "\n".join(d.render(self.sources) for d in self.items)


def read_source(path: Path, bag: DiagnosticBag, limit: int = 4 * 1024 * 1024, at: Span | None = None,
                shown: str | None = None) -> str | None:
    """Read a spec file as UTF-8 text, reporting unreadable, huge or binary files.

    Problems are reported `at` the import that named the file, else at the file itself
    (named `shown` in messages). A byte that is not UTF-8 is pointed at: the error is
    there, or a note is when the error is at the import. A UTF-8 byte-order mark is
    dropped: some editors write one."""
    span = at or Span(path=shown or str(path))
    try:
        size = path.stat().st_size
        if size > limit:
            bag.error("E0002", f"'{path.name}' is {size} bytes; spec files are limited to {limit} bytes: check that "
                      "it is the spec you meant, and split a large spec into files joined with `import`", span)
            return None
        data = path.read_bytes()
    except OSError as exc:
        bag.error("E0001", f"cannot read spec file '{path.name}': {exc.strerror or exc}", span)
        return None
    return decode_source(data, path, bag, at, shown)


def read_stream(stream, name: str, bag: DiagnosticBag, limit: int = 4 * 1024 * 1024) -> str | None:
    """Read a spec from a binary stream (standard input), with the checks of read_source;
    `name` stands for the file in messages (e.g. '<stdin>')."""
    try:
        data = stream.read(limit + 1)
    except OSError as exc:
        bag.error("E0001", f"cannot read spec from {name}: {exc.strerror or exc}", Span(path=name))
        return None
    if len(data) > limit:
        bag.error("E0002", f"{name} holds more than {limit} bytes; spec files are limited to {limit} bytes: check "
                  "that it is the spec you meant", Span(path=name))
        return None
    return decode_source(data, Path(name), bag, shown=name)


def decode_source(data: bytes, path: Path, bag: DiagnosticBag, at: Span | None = None,
                  shown: str | None = None) -> str | None:
    """The text of a spec file's bytes (read_source), or None with the problem in `bag`."""
    span = at or Span(path=shown or str(path))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a UTF-16 byte-order mark: what some Windows editors save
        bag.error("E0003", f"'{path.name}' is UTF-16 text (it starts with a UTF-16 byte-order mark); spec files are "
                  "UTF-8: convert it, e.g. `iconv -f utf-16 -t utf-8 OLD > NEW`", span)
        return None
    if b"\x00" in data:
        bag.error("E0003", f"'{path.name}' is binary (a NUL byte at offset {data.index(0)}), not a spec: spec "
                  "files are UTF-8 text; if it is UTF-16 text, convert it to UTF-8", span)
        return None
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        # show the line with the bad byte as U+FFFD, and point at it
        bad = bom + exc.start
        line_start = max(bom, data.rfind(b"\n", 0, bad) + 1)
        line, col = data.count(b"\n", 0, bad) + 1, len(data[line_start:bad].decode("utf-8", "replace")) + 1
        where = Span(path=shown or str(path), line=line, col=col, end_line=line, end_col=col + 1)
        bag.sources.setdefault(where.path, data[bom:].decode("utf-8", "replace"))
        message = (f"'{path.name}' is not UTF-8 text: byte {bad} (0x{data[bad]:02X}) is not valid UTF-8; "
                   "spec files are UTF-8: convert it, e.g. `iconv -f latin1 -t utf-8 OLD > NEW`")
        if at is None:
            bag.error("E0003", message, where)
        else:
            bag.error("E0003", message, at, ("the first byte that is not UTF-8", where))
        return None
    bag.sources[str(path)] = text
    return text
