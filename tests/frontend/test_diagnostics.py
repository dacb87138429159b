"""codegen/frontend/diagnostics.py: the `path:line:col: error[CODE]: message` rendering with its
source excerpt and notes, the bag, and read_source's checks of the file itself."""
import pytest
from snippets import WALK, compile_text, edit, where

from codegen.frontend.diagnostics import (
    EXCERPT_WIDTH,
    DiagnosticBag,
    Span,
    SpecError,
    read_source,
)


def bag_with(text: str, *errors) -> DiagnosticBag:
    bag = DiagnosticBag(sources={"t.vspec": text})
    for code, message, span, *notes in errors:
        bag.error(code, message, span, *notes)
    return bag


def span(line, col, end_col, end_line=None):
    return Span(path="t.vspec", line=line, col=col, end_line=end_line or line, end_col=end_col)


def test_error_line_excerpt_and_caret():
    text = "spec t;\nparam X = 1 / 0;\n"
    out = bag_with(text, ("E0303", "division by zero", span(2, 11, 16))).render().splitlines()
    assert out == [
        "t.vspec:2:11: error[E0303]: division by zero",
        "    2 | param X = 1 / 0;",
        "                  ^^^^^",
    ]


def test_note_has_its_own_location_and_excerpt():
    text = "a;\nb;\n"
    out = bag_with(text, ("E0201", "'b' is defined twice", span(2, 1, 3), ("first defined here", span(1, 1, 3))))
    assert out.render().splitlines() == [
        "t.vspec:2:1: error[E0201]: 'b' is defined twice",
        "    2 | b;",
        "        ^^",
        "t.vspec:1:1: note: first defined here",
        "    1 | a;",
        "        ^^",
    ]


def test_note_without_a_location():
    out = bag_with("x\n", ("E0001", "m", span(1, 1, 2), ("just a hint", None))).render().splitlines()
    assert out[-1] == "note: just a hint"


def test_span_over_several_lines_underlines_to_the_end_of_the_first():
    text = "param X = 1 /\n 0;\n"
    out = bag_with(text, ("E0303", "m", span(1, 11, 3, end_line=2))).render().splitlines()
    assert out[2] == " " * 8 + " " * 10 + "^^^"


def test_no_excerpt_for_a_file_without_text_or_a_line_out_of_range():
    bag = DiagnosticBag()
    bag.error("E0001", "cannot read", Span(path="nowhere.vspec"))
    assert bag.render() == "nowhere.vspec:1:1: error[E0001]: cannot read"
    assert bag_with("one line\n", ("E0100", "m", span(9, 1, 2))).render() == "t.vspec:9:1: error[E0100]: m"


@pytest.mark.parametrize("separator", ["\f", "\x1c", "\u2028", "\r", "\x0b"])
def test_excerpt_counts_lines_like_the_parser(separator):
    # only '\n' ends a line for lark; splitlines() would also split at these characters
    text = f"spec t; // a{separator}b\nparam X = 1 / 0;\n"
    out = bag_with(text, ("E0303", "m", span(2, 11, 16))).render().splitlines()
    assert out[1] == "    2 | param X = 1 / 0;"


def test_tabs_and_control_characters_keep_the_caret_aligned():
    text = "\tparam\x0bX = 1 / 0;\n"
    out = bag_with(text, ("E0303", "m", span(1, 12, 17))).render().splitlines()
    assert out[1] == "    1 |  param X = 1 / 0;"
    assert out[2].index("^") - len("    1 | ") == 11


def test_long_line_is_shown_as_a_window_around_the_column():
    text = "x" * 1000 + "@" + "y" * 1000
    out = bag_with(text, ("E0100", "m", span(1, 1001, 1002))).render().splitlines()
    line, caret = out[1], out[2]
    assert len(line) <= len("    1 | ") + EXCERPT_WIDTH + 6
    assert line.startswith("    1 | ...") and line.endswith("...")
    assert line[caret.index("^")] == "@" and caret.count("^") == 1


def test_short_line_is_not_windowed():
    text = "abc"
    out = bag_with(text, ("E0100", "m", span(1, 4, 5))).render().splitlines()
    assert out[1:] == ["    1 | abc", "           ^"]  # a caret just after the last character


def test_stop_if_errors_raises_spec_error_with_the_bag():
    bag = DiagnosticBag()
    bag.stop_if_errors()  # nothing yet
    bag.error("E0100", "m", Span())
    with pytest.raises(SpecError) as info:
        bag.stop_if_errors()
    assert info.value.bag is bag and "1 error" in str(info.value)


def test_real_diagnostic_renders_with_excerpt_and_note(tmp_path):
    text = edit(WALK, "    A [5];\n    D [6];", "    A [5];\n    D [6:1];")
    out = compile_text(tmp_path, text).render().splitlines()
    line, col = where(text, "D [6:1]")
    message = ("field 'D' [6:1] overlaps field 'RW' [1] in format 'pte': each bit has one meaning; give each its "
               "own bits")
    assert out[0].endswith(f"t.vspec:{line}:{col}: error[E0402]: {message}")
    assert out[1] == f"{line:>5} |     D [6:1];"
    assert out[2] == " " * 8 + "    " + "^" * len("D [6:1];")
    note_line, note_col = where(text, "RW [1]")
    assert out[3].endswith(f"t.vspec:{note_line}:{note_col}: note: field 'RW' is declared here")


# ---- read_source: the file itself
def test_read_source_reports_each_problem_at_the_given_location(tmp_path):
    at = Span(path="main.vspec", line=3, col=1)
    cases = {
        "missing.vspec": None,
        "binary.vspec": b"\x00\x01",
        "latin1.vspec": b"caf\xe9",
        "big.vspec": b"//" + b"x" * 100,
    }
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    bag = DiagnosticBag()
    for name in cases:
        assert read_source(tmp_path / name, bag, limit=50, at=at) is None
    assert [d.code for d in bag.errors] == ["E0001", "E0003", "E0003", "E0002"]
    assert all(d.span == at for d in bag.errors)
    assert "'latin1.vspec' is not UTF-8 text: byte 3 (0xE9)" in bag.errors[2].message
    # the byte itself is shown in a note, in the file that holds it
    assert bag.errors[2].notes[0][1].line == 1 and bag.errors[2].notes[0][1].col == 4


def test_read_source_keeps_the_text_and_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "t.vspec"
    path.write_bytes(b"\xef\xbb\xbfspec t;\n")
    bag = DiagnosticBag()
    assert read_source(path, bag) == "spec t;\n"
    assert not bag.items and bag.sources[str(path)] == "spec t;\n"


def test_crlf_file_gives_the_same_locations_and_clean_excerpts(tmp_path):
    text = edit(WALK, "when !P;", "when !Q;")
    crlf = compile_text(tmp_path, text.replace("\n", "\r\n")).render()
    lf = compile_text(tmp_path, text).render()
    assert "\r" not in crlf and crlf == lf


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_file_is_named_as_such(tmp_path, encoding):
    path = tmp_path / "t.vspec"
    path.write_bytes("spec t; // caf\u00e9\n".encode(encoding))
    bag = DiagnosticBag()
    assert read_source(path, bag) is None
    assert [d.code for d in bag.errors] == ["E0003"]
    if encoding != "utf-16-be":  # no byte-order mark: the NUL bytes give it away
        assert "UTF-16 text" in bag.errors[0].message and "iconv -f utf-16" in bag.errors[0].message
    else:
        assert "NUL byte" in bag.errors[0].message


# ---- many diagnostics of one big file render in linear time
def test_the_source_is_split_into_lines_once_for_all_diagnostics():
    """Was: every diagnostic split the whole file again (thousands of duplicates in a
    large file took minutes to print)."""
    from codegen.frontend import diagnostics
    text = "spec t;\n" + "param P = 1;\n" * 20_000
    bag = bag_with(text, *[("E0201", "'P' is defined twice", span(n, 7, 8)) for n in range(3, 20_002)])
    diagnostics._lines.cache_clear()
    out = bag.render()
    assert out.count("error[E0201]") == 19_999
    info = diagnostics._lines.cache_info()
    assert info.misses == 1 and info.hits == 19_998


def test_many_diagnostics_on_a_long_line_each_show_a_window():
    line = "x" * 16_000
    bag = bag_with(line, *[("E0100", "m", span(1, col, col + 1)) for col in range(1, 16_000, 4)])
    out = bag.render().split("\n")
    assert max(map(len, out)) < EXCERPT_WIDTH + 100
