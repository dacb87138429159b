"""codegen/frontend/parse.py: syntax errors (E0100), empty files (E0101), deep nesting (E0102),
lines and files too large to parse (E0004, E0005), bad number literals, and the spans
the parser gives to syntax-tree nodes."""
from pathlib import Path

import pytest
from snippets import WALK, codes, edit, loc, only, where

from codegen.frontend import syntax_tree as ast
from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.parse import (
    MAX_CONST_BITS,
    MAX_LINE,
    MAX_NESTING,
    MAX_TOKENS,
    parse_text,
)

ROOT = Path(__file__).resolve().parents[2]


def parse(text: str) -> tuple[ast.SpecFile | None, DiagnosticBag]:
    bag = DiagnosticBag()
    return parse_text(text, "t.vspec", bag), bag


@pytest.mark.parametrize("name", ["x86_64_paging", "amd_npt"])
def test_shipped_specs_parse_without_diagnostics(name):
    tree, bag = parse((ROOT / "specs" / f"{name}.vspec").read_text())
    assert tree is not None and not bag.items
    assert tree.header is not None and tree.header.name == name


def test_nodes_carry_their_spans():
    tree, _ = parse(WALK)
    pte = next(d for d in tree.decls if isinstance(d, ast.Layout) and d.name == "pte")
    assert (pte.span.line, pte.span.col) == where(WALK, "format pte")
    d_field = next(f for f in pte.items if isinstance(f, ast.Field) and f.name == "D")
    assert (d_field.span.line, d_field.span.col) == where(WALK, "D [6]")
    regime = next(d for d in tree.decls if isinstance(d, ast.Regime))
    fault = next(i for i in regime.items if isinstance(i, ast.Rule) and i.kind == "fault")
    name = fault.when.args[0]  # the `P` of `!P`
    assert (name.span.line, name.span.col) == where(WALK, "P;\n    set")


def test_number_literals_with_suffixes_and_separators():
    tree, bag = parse("spec t; param A = 4K; param B = 0x_ff_ff; param C = 0b1_0; param D = 1_000; param E = 2M;")
    assert not bag.items
    assert [p.value.value for p in tree.decls] == [4096, 0xFFFF, 2, 1000, 2 << 20]


# ---- E0100 syntax errors: the location is the offending character or token
def test_missing_semicolon_points_just_after_the_last_token():
    text = "spec t;\nparam X = 4\n\n\n"
    _, bag = parse(text)
    d = only(bag, "E0100")
    assert loc(d) == (2, 12)  # right after `4`, not at the blank lines that follow
    assert "unexpected end of file" in d.message and "';'" in d.message


def test_unexpected_token_names_it_and_what_was_expected():
    text = edit(WALK, "start level 2;", "start level 2 + ;")
    _, bag = parse(text)
    d = only(bag, "E0100")
    line, col = where(text, "2 + ;")
    assert loc(d) == (line, col + 4)
    assert "unexpected ';'" in d.message and "a number" in d.message


def test_unexpected_character():
    text = "spec t;\nparam X = 1 $ 2;\n"
    d = only(parse(text)[1], "E0100")
    assert loc(d) == (2, 13) and "'$'" in d.message


def test_unterminated_string():
    text = 'spec t;\nparam X = 1 "doc\n;\n'
    d = only(parse(text)[1], "E0100")
    assert loc(d) == (2, 13) and "unterminated string" in d.message


@pytest.mark.parametrize("text, at", [
    ("spec t;\nparam X = 1; /* not closed\n", (2, 14)),
    ("spec t;\nparam X = 4 /* not closed\n;", (2, 13)),
])
def test_unterminated_block_comment(text, at):
    d = only(parse(text)[1], "E0100")
    assert loc(d) == at and "unterminated block comment" in d.message


def test_missing_semicolon_inside_a_block_points_at_the_brace():
    text = "spec t;\nformat f : 64 { P [0] }\n"
    d = only(parse(text)[1], "E0100")
    assert loc(d) == (2, 23) and "unexpected '}'" in d.message and "expected ';'" in d.message


def test_spec_keywords_are_contextual_and_may_name_fields():
    tree, bag = parse("spec t;\nformat f : 64 { regime [0]; level [1]; }\n")
    assert not bag.items
    assert [f.name for f in tree.decls[0].items] == ["regime", "level"]


# ---- E0101 empty files
@pytest.mark.parametrize("text", ["", "   \n\t\n", "// nothing but a comment\n/* and another */\n"])
def test_empty_file(text):
    tree, bag = parse(text)
    assert tree is None
    d = only(bag, "E0101")
    assert loc(d) == (1, 1)


# ---- E0102 deep nesting: refused before anything recurses on the tree
def test_deep_unary_chain_is_refused_at_the_level_that_crosses_the_limit():
    prefix = "param X = "
    text = "spec t;\n" + prefix + "-" * 3000 + "1;\n"
    tree, bag = parse(text)
    assert tree is None
    d = only(bag, "E0102")
    # start > param_decl > neg > neg ...: the first `-` is at depth 3
    assert loc(d) == (2, len(prefix) + 1 + MAX_NESTING - 2)


@pytest.mark.parametrize("expr", [
    "+".join(["1"] * 3000),           # a long left-associative chain
    "(" * 300 + "1" + "+1)" * 300,    # nested brackets
    "1" + "[0]" * 3000,               # postfix chain
    "!" * 5000 + "1",
])
def test_deep_expressions_give_e0102_not_a_recursion_error(expr):
    text = f"spec t;\nparam X = {expr};\n"
    d = only(parse(text)[1], "E0102")
    assert d.span.line == 2


def test_nesting_below_the_limit_is_accepted_and_brackets_in_comments_do_not_count():
    text = "spec t; // " + "(" * 1000 + "\nparam X = " + "(" * 150 + "1" + "+1)" * 150 + "; /* " + "[" * 500 + " */\n"
    tree, bag = parse(text)
    assert not bag.items and tree is not None


def test_redundant_parentheses_do_not_count():
    text = "spec t;\nparam X = " + "(" * 5000 + "1" + ")" * 5000 + ";\n"
    tree, bag = parse(text)
    assert not bag.items and tree.decls[0].value.value == 1


# ---- number literals
@pytest.mark.parametrize("literal, code, fragment", [
    ("0x_", "E0100", "no digits"),
    ("0b__", "E0100", "no digits"),
    ("010", "E0100", "leading zero"),
    ("1" + "0" * 5000, "E0304", "too large"),              # beyond Python's int() digit limit
    ("0x" + "f" * (MAX_CONST_BITS // 4 + 1), "E0304", "too large"),
    ("0x1" + "0" * (MAX_CONST_BITS // 4), "E0304", "too large"),
])
def test_bad_number_literals_are_reported_at_the_literal(literal, code, fragment):
    text = f"spec t;\nparam X = {literal};\n"
    d = only(parse(text)[1], code)
    assert loc(d) == (2, 11) and fragment in d.message


def test_every_bad_literal_of_a_file_is_reported():
    text = "spec t;\nparam X = 0x_;\nparam Y = 010;\n"
    _, bag = parse(text)
    assert codes(bag) == ["E0100", "E0100"]
    assert [loc(d) for d in bag.errors] == [(2, 11), (3, 11)]


def test_largest_literal_is_accepted():
    tree, bag = parse("spec t;\nparam X = 0x" + "f" * (MAX_CONST_BITS // 4) + ";\n")
    assert not bag.items and tree.decls[0].value.value == (1 << MAX_CONST_BITS) - 1


# ---- E0004 a line too long, E0005 too many tokens: both refused before parsing
def test_enormous_line_is_e0004_at_the_first_character_past_the_limit():
    text = "spec t;\nparam P = 1; // " + "x" * MAX_LINE + "\nparam Q = 2;\n"
    tree, bag = parse(text)
    assert tree is None
    d = only(bag, "E0004")
    assert loc(d) == (2, MAX_LINE + 1) and f"limited to {MAX_LINE} characters" in d.message
    assert len(bag.render()) < 2000  # the excerpt is a window, not the line


def test_a_line_at_the_limit_is_accepted():
    tree, bag = parse("spec t;\n// " + "x" * (MAX_LINE - 3) + "\nparam P = 1;\n")
    assert tree is not None and not bag.items


def test_too_many_tokens_is_e0005_at_the_first_token_past_the_limit():
    # `spec t ;` is 3 tokens, each `param P = 1 ;` line 5: token MAX_TOKENS + 1 is the
    # third of line 2 + (MAX_TOKENS - 3) // 5
    text = "spec t;\n" + "param P = 1;\n" * (MAX_TOKENS // 5 + 1)
    tree, bag = parse(text)
    assert tree is None
    d = only(bag, "E0005")
    assert loc(d) == (2 + (MAX_TOKENS - 3) // 5, 9)


def test_comments_do_not_count_as_tokens():
    text = "spec t;\n" + "// a comment line\n" * (MAX_TOKENS + 10) + "param P = 1;\n"
    tree, bag = parse(text)
    assert tree is not None and not bag.items


def test_a_bad_character_before_the_token_limit_is_a_syntax_error():
    text = "spec t;\n#\n" + "param P = 1;\n" * (MAX_TOKENS // 5 + 1)
    d = only(parse(text)[1], "E0100")
    assert loc(d) == (2, 1)


@pytest.mark.parametrize("text, at", [
    ("spec t;\nparam P = 1; /* never closed\nparam Q = 2;\n", (2, 14)),
    ('spec t;\nparam P = 1 "never closed;\n', (2, 13)),
])
def test_unterminated_comment_or_string_at_the_end(text, at):
    d = only(parse(text)[1], "E0100")
    assert loc(d) == at


# ---- the deep inputs, each answered with one diagnostic
@pytest.mark.parametrize("expr", [
    "1 ?\n" * 3000 + "1" + " : 0\n" * 3000,       # ?: nested in the middle
    "0 ? 0 :\n" * 3000 + "1",                    # an else-if chain of ?:
    "(\n" * 10_000 + "1" + "\n+ 1)" * 10_000,    # 10,000 nested brackets around additions
    "- ~ !\n" * 3000 + "1",                      # mixed unary operators
    " <<\n".join(["1"] * 5000),                  # a long chain of one operator
])
def test_deep_expressions_over_many_lines_give_e0102(expr):
    text = f"spec t;\nparam X =\n{expr};\n"
    tree, bag = parse(text)
    assert tree is None and codes(bag) == ["E0102"]


def test_ten_thousand_redundant_brackets_over_many_lines_are_accepted():
    tree, bag = parse("spec t;\nparam X = " + "(\n" * 10_000 + "1" + ")\n" * 10_000 + ";\n")
    assert not bag.items and tree.decls[0].value.value == 1


def test_ten_thousand_brackets_on_one_line_are_a_line_too_long():
    d = only(parse("spec t;\nparam X = " + "(" * 10_000 + "1" + ")" * 10_000 + ";\n")[1], "E0004")
    assert loc(d) == (2, MAX_LINE + 1)
