"""codegen/frontend/elaborate/ (with diagnostics.read_source): loading files and imports, and the
errors of name resolution and constant evaluation. Each test breaks one thing in a valid
spec and checks the code and the line:col of the diagnostic."""
import os
from pathlib import Path

import pytest
from snippets import WALK, codes, compile_text, edit, loc, note_loc, only, where, write

from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import compile_spec

NESTED = """
nested n {
    guest walk;
    host walk;
    table access { write = 1; }
    final access { write = access.write; }
    record r { code : 8 = fault; }
}
"""


def test_the_snippets_compile(tmp_path):
    for text in (WALK, WALK + NESTED):
        spec = compile_spec(write(tmp_path, text), DiagnosticBag())
        assert [r.name for r in spec.regimes] == ["walk"]


# ---- files and imports: E0001, E0002, E0003, E0104
def test_missing_file(tmp_path):
    bag = DiagnosticBag()
    with pytest.raises(Exception) as info:
        compile_spec(tmp_path / "absent.vspec", bag)
    assert type(info.value).__name__ == "SpecError"
    assert codes(bag) == ["E0001"] and "no such file" in bag.errors[0].message


def test_missing_import_is_reported_at_the_import(tmp_path):
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "absent.vspec" as a;\n')
    d = only(compile_text(tmp_path, text), "E0001")
    assert loc(d) == where(text, "import")


def test_import_name_too_long_or_a_symlink_loop_is_e0001(tmp_path):
    os.symlink(tmp_path / "loop2", tmp_path / "loop1")
    os.symlink(tmp_path / "loop1", tmp_path / "loop2")
    text = edit(WALK, "spec t;\n", f'spec t;\nimport "{"x" * 5000}" as a;\nimport "loop1" as b;\n')
    bag = compile_text(tmp_path, text)
    assert codes(bag) == ["E0001", "E0001"]
    assert [loc(d) for d in bag.errors] == [where(text, "import"), where(text, "import", 2)]


def test_unreadable_import_is_reported_at_the_import(tmp_path):
    (tmp_path / "dir.vspec").mkdir()
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "dir.vspec" as d;\n')
    d = only(compile_text(tmp_path, text), "E0001")
    assert loc(d) == (2, 1)


def test_huge_file(tmp_path):
    big = "spec t;\n" + "// padding\n" * (4 * 1024 * 1024 // 11 + 1)
    d = only(compile_text(tmp_path, big), "E0002")
    assert loc(d) == (1, 1) and "limited to 4194304 bytes" in d.message


@pytest.mark.parametrize("data, fragment, at", [
    (b"spec t;\x00\x01\x02", "binary", (1, 1)),
    (b"\x7fELF\x02\x01\x01\x00\x00", "binary", (1, 1)),
    (b"spec t; // caf\xe9\n", "not UTF-8", (1, 15)),  # at the byte that is not UTF-8
    (b"\xef\xbb\xbfspec t;\n// caf\xc3\xa9 \xff\n", "not UTF-8", (2, 9)),  # columns count characters
])
def test_binary_or_non_utf8_file(tmp_path, data, fragment, at):
    d = only(compile_text(tmp_path, data), "E0003")
    assert loc(d) == at and fragment in d.message


def test_binary_import_is_reported_at_the_import(tmp_path):
    (tmp_path / "blob.vspec").write_bytes(b"\x00" * 16)
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "blob.vspec" as b;\n')
    d = only(compile_text(tmp_path, text), "E0003")
    assert loc(d) == (2, 1)


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + WALK.encode())
    assert compile_spec(path, DiagnosticBag()).name == "t"


def test_import_of_itself_is_a_cycle(tmp_path):
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "t.vspec" as me;\n')
    d = only(compile_text(tmp_path, text), "E0104")
    assert loc(d) == (2, 1) and "t.vspec -> t.vspec" in d.message


def test_import_cycle_through_two_files(tmp_path):
    other = 'spec u;\n\nimport "t.vspec" as t;\n'
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "u.vspec" as u;\n')
    d = only(compile_text(tmp_path, text, extra={"u.vspec": other}), "E0104")
    assert d.span.path.endswith("u.vspec") and loc(d) == (3, 1)
    assert "t.vspec -> u.vspec -> t.vspec" in d.message


def test_import_cycles_with_parameters_set_are_cycles_too(tmp_path):
    """Setting parameters makes a new instance of a file, not a way around the cycle."""
    text = edit(WALK, "spec t;\n", 'spec t;\nparam P = 1;\nimport "t.vspec" as me with { P = 2; };\n')
    d = only(compile_text(tmp_path, text), "E0104")
    assert loc(d) == (3, 1)
    other = 'spec u;\nparam Q = 1;\nimport "t.vspec" as t with { P = 4; };\n'
    text = edit(WALK, "spec t;\n", 'spec t;\nparam P = 1;\nimport "u.vspec" as u with { Q = 3; };\n')
    d = only(compile_text(tmp_path, text, extra={"u.vspec": other}), "E0104")
    assert d.span.path.endswith("u.vspec") and loc(d) == (3, 1)


def test_import_of_a_directory_says_so(tmp_path):
    (tmp_path / "lib.vspec").mkdir()
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "lib.vspec" as lib;\n')
    d = only(compile_text(tmp_path, text), "E0001")
    assert loc(d) == (2, 1) and "is a directory" in d.message


def test_import_of_a_pipe_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "lib.vspec")  # opening it would block until a writer comes
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "lib.vspec" as lib;\n')
    d = only(compile_text(tmp_path, text), "E0001")
    assert loc(d) == (2, 1) and "not a regular file" in d.message


def test_a_file_imported_with_many_parameter_sets_is_parsed_once_and_bounded(tmp_path):
    """Was: each set of parameters parsed and elaborated the file again, so a thousand
    imports of one file took a minute. Now the file is parsed once and the instances
    share a token budget (E0005 at the import that goes over it)."""
    from codegen.frontend.elaborate import MAX_LOADED_TOKENS
    from codegen.frontend.parse import count_tokens
    lib = "spec lib;\nparam W = 1;\n" + "".join(f"param P{i} = W + {i};\n" for i in range(200))
    per = count_tokens(lib)
    n = MAX_LOADED_TOKENS // per + 1  # the n-th instance goes over
    imports = "".join(f'import "lib.vspec" as l{i} with {{ W = {i}; }};\n' for i in range(n + 5))
    text = edit(WALK, "spec t;\n", "spec t;\n" + imports)
    d = only(compile_text(tmp_path, text, extra={"lib.vspec": lib}), "E0005")
    assert loc(d) == (1 + n, 1) and "each set of parameters" in d.message


def test_many_large_distinct_imports_past_the_token_budget_are_refused_unparsed(tmp_path, monkeypatch):
    """Was: the budget was checked after each import was parsed, so every file of the tree
    was parsed before E0005. Now tokens are counted as files are read (during the one
    lexing of the parse): the parse of the file that would go over stops at the budget, it
    gives no tree, and no later file is parsed at all."""
    from codegen.frontend.elaborate import MAX_LOADED_TOKENS, elaborator
    from codegen.frontend.parse import OverBudget, count_tokens
    lib = "spec lib;\n" + "".join(f"param P{i} = {i};\n" for i in range(2000))
    per = count_tokens(lib)
    n = MAX_LOADED_TOKENS // per + 1  # the n-th file goes over
    extra = {f"lib{i}.vspec": lib for i in range(n + 5)}
    imports = "".join(f'import "lib{i}.vspec" as l{i};\n' for i in range(n + 5))
    parsed, stopped = [], []
    real = elaborator.parse_counted

    def counted(text, shown, bag, budget=None):
        try:
            out = real(text, shown, bag, budget)
        except OverBudget:
            stopped.append(shown)
            raise
        parsed.append(shown)
        return out

    monkeypatch.setattr(elaborator, "parse_counted", counted)
    text = edit(WALK, "spec t;\n", "spec t;\n" + imports)
    d = only(compile_text(tmp_path, text, extra=extra), "E0005")
    assert loc(d) == (1 + n, 1)
    assert len(parsed) == n  # the top spec and the n - 1 files within the budget
    assert len(stopped) == 1  # the n-th stopped at the budget; none after it is read


def test_an_import_chain_a_thousand_deep_is_e0105_not_a_recursion_error(tmp_path):
    from codegen.frontend.elaborate.scope import MAX_IMPORT_DEPTH
    extra = {f"d{i}.vspec": f'import "d{i + 1}.vspec" as next;\nparam P = {i};\n' for i in range(1000)}
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "d0.vspec" as chain;\n')
    d = only(compile_text(tmp_path, text, extra=extra), "E0105")
    assert d.span.path.endswith(f"d{MAX_IMPORT_DEPTH - 2}.vspec") and loc(d) == (1, 1)
    assert "more than 64 files in one chain of imports (t.vspec -> d0.vspec -> ..." in d.message


def test_a_broken_file_imported_with_two_parameter_sets_is_reported_once(tmp_path):
    imports = 'import "broken.vspec" as a with { W = 1; };\nimport "broken.vspec" as b with { W = 2; };\n'
    text = edit(WALK, "spec t;\n", "spec t;\n" + imports)
    bag = compile_text(tmp_path, text, extra={"broken.vspec": "spec broken;\nparam W = ;\n"})
    assert codes(bag) == ["E0100"]


# ---- E0103 imports stay inside the root: the project of the top-level spec, else its folder
def _outside_setup(tmp_path):
    """tmp/proj/ holds the top-level spec; tmp/lib.vspec is outside it. The outside file
    is binary, so that reading it would show as E0003."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "lib.vspec").write_bytes(b"\x00not a spec")
    return tmp_path / "proj"


@pytest.mark.parametrize("path, fragment", [
    ("../lib.vspec", "leads outside the project"),
    ("sub/../../lib.vspec", "leads outside the project"),
    ("/etc/hosts", "is absolute"),
    ("/nonexistent/x.vspec", "is absolute"),
])
def test_import_outside_the_root_is_refused_unread(tmp_path, path, fragment):
    proj = _outside_setup(tmp_path)
    text = edit(WALK, "spec t;\n", f'spec t;\nimport "{path}" as lib;\n')
    d = only(compile_text(proj, text), "E0103")
    assert loc(d) == (2, 1) and fragment in d.message
    assert "must stay inside" in d.message and "pyproject.toml" in d.message


def test_import_through_a_symbolic_link_that_leads_outside_is_refused(tmp_path):
    proj = _outside_setup(tmp_path)
    os.symlink(tmp_path / "lib.vspec", proj / "lib.vspec")
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "lib.vspec" as lib;\n')
    d = only(compile_text(proj, text), "E0103")
    assert loc(d) == (2, 1) and "through a symbolic link" in d.message


def test_import_refused_deeper_down_is_reported_in_the_file_that_imports(tmp_path):
    proj = _outside_setup(tmp_path)
    (proj / "sub").mkdir()
    (proj / "sub" / "u.vspec").write_text('spec u;\nimport "../../lib.vspec" as lib;\n')
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "sub/u.vspec" as u;\n')
    d = only(compile_text(proj, text), "E0103")
    assert d.span.path.endswith("u.vspec") and loc(d) == (2, 1)


def test_a_refused_import_is_not_reported_again_where_it_is_used(tmp_path):
    proj = _outside_setup(tmp_path)
    text = edit(WALK, "spec t;", 'spec t;\nimport "../lib.vspec" as b;', "[47:12]; }", "[b.WIDTH-1:12]; }")
    assert codes(compile_text(proj, text)) == ["E0103"]


def test_dotdot_inside_the_root_and_links_inside_it_are_fine(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "lib.vspec").write_text("spec lib;\nparam WIDTH = 48;\n")
    (tmp_path / "sub" / "u.vspec").write_text('spec u;\nimport "../lib.vspec" as lib;\n')
    os.symlink(tmp_path / "lib.vspec", tmp_path / "sub" / "link.vspec")
    text = edit(WALK, "spec t;\n", 'spec t;\nimport "sub/u.vspec" as u;\nimport "sub/link.vspec" as l;\n')
    assert compile_spec(write(tmp_path, text), DiagnosticBag()).name == "t"


def test_the_root_is_the_project_of_the_top_level_spec(tmp_path):
    """With a pyproject.toml above, specs/ may import from a sibling folder of the project."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "specs").mkdir()
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "lib.vspec").write_text("spec lib;\nparam WIDTH = 48;\n")
    text = edit(WALK, "spec t;", 'spec t;\nimport "../common/lib.vspec" as lib;', "[47:12]; }", "[lib.WIDTH-1:12]; }")
    assert compile_spec(write(tmp_path / "specs", text), DiagnosticBag()).name == "t"


# ---- E0201 duplicate names, each with a note at the first definition
@pytest.mark.parametrize("old, new, second, first", [
    ("format pde", "format pte : 64 { P [0]; }\nformat pde", "format pte : 64 { P", "format pte : 64 {\n"),
    ("fault not_present when !P;", "fault not_present when !P;\n    fault not_present when P;",
     "fault not_present when P;", "fault not_present when !P;"),
    ("record pf { code : 8 = fault; }", "record pf { code : 8 = fault; code : 8 = 1; }",
     "code : 8 = 1", "code : 8 = fault"),
    ("table pde; }", "table pde; table pde; }", "table pde; }", "table pde; table"),
    ("input va : 48;", "input va : 48;\n    input vb : 48;", "input vb", "input va"),
    ("spec t;", 'spec t;\nimport "u.vspec" as u;\nimport "u.vspec" as u;',
     'import "u.vspec" as u;\nregister', 'import "u.vspec" as u;\nimport'),
])
def test_duplicate_names_have_a_note_at_the_first_definition(tmp_path, old, new, second, first):
    text = edit(WALK, old, new)
    d = only(compile_text(tmp_path, text, extra={"u.vspec": "spec u;\n"}), "E0201")
    assert loc(d) == where(text, second)
    assert note_loc(d) == where(text, first)


def test_duplicate_access_kind(tmp_path):
    text = edit(WALK, "access write;", "access write, write;")
    d = only(compile_text(tmp_path, text), "E0201")
    assert loc(d) == where(text, "access")


# ---- E0202 for names that only elaboration sees with a span: input and access kinds
def test_keyword_input_and_access_names_are_reported_at_their_item(tmp_path):
    text = edit(WALK, "input va : 48;", "input wire : 48;", "access write;", "access write, signal;",
                "va[29:21]", "wire[29:21]", "va[20:12]", "wire[20:12]")
    bag = compile_text(tmp_path, text)
    assert codes(bag) == ["E0202", "E0202"]
    assert [loc(d) for d in bag.errors] == [where(text, "input wire"), where(text, "access write")]
    assert "Verilog keyword" in bag.errors[0].message and "VHDL keyword" in bag.errors[1].message


# ---- E0301 undefined names
def test_unknown_field_in_a_fault_condition_suggests_the_right_one(tmp_path):
    text = edit(WALK, "when !P;", "when !PP;")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "PP;")
    assert d.message == "undefined name 'PP'; did you mean 'P'?"


def test_a_field_with_two_widths_is_not_suggested_as_itself(tmp_path):
    # issue 12: `ADDR` of two entry formats with different widths said "did you mean 'ADDR'?"
    text = edit(WALK, "    ADDR [47:12];\n}\nregime", "    ADDR [47:21];\n}\nregime", "when !P;", "when ADDR == 1;")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "ADDR == 1")
    assert "did you mean" not in d.message
    assert "'ADDR' is a field of the entry formats with different widths (27 bits in pde, 36 bits in pte)" in d.message


def test_a_leaf_field_with_two_widths_is_not_called_undefined(tmp_path):
    # issue 14: `leaf.PPN` of two leaf formats with different widths said "undefined name
    # 'leaf.PPN'; did you mean 'leaf.PPN'?" (later "... 'leaf.X'?"): it is defined, with no one width
    text = edit(WALK, "    ADDR [47:12];\n}\nformat pde", "    ADDR [47:13];\n}\nformat pde",
                "level 2 pd { index va[29:21]; table pde; }",
                "level 2 pd { index va[29:21]; table pde; leaf pde when PS page 2M; }",
                "    ADDR [47:12];\n}\nregime", "    ADDR [47:21];\n}\nregime",
                "record pf { code : 8 = fault; }", "record pf { code : 8 = fault; a : 36 = leaf.ADDR; }")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "leaf.ADDR")
    assert d.message.startswith("cannot use 'leaf.ADDR' here: 'ADDR' is a field of the leaf formats with different "
                                "widths (27 bits in pde, 35 bits in pte)") and "did you mean" not in d.message


def test_a_field_out_of_reach_says_where_it_is_declared(tmp_path):
    text = edit(WALK, "root CR3.BASE << 12;", "root PS << 12;")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "PS << 12")
    assert d.message.startswith("undefined name 'PS'; 'PS' is a field of format pde, which this expression cannot read")


def test_unknown_register_field_suggests_a_field_of_that_register(tmp_path):
    text = edit(WALK, "root CR3.BASE << 12;", "root CR3.BAS << 12;")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "CR3.BAS ") and "did you mean 'CR3.BASE'?" in d.message


def test_unknown_imported_parameter_suggests_the_right_one(tmp_path):
    lib = "spec lib;\nparam WIDTH = 48;\n"
    text = edit(WALK, "spec t;", 'spec t;\nimport "lib.vspec" as lib;', "[47:12]; }", "[lib.WIDT-1:12]; }")
    d = only(compile_text(tmp_path, text, extra={"lib.vspec": lib}), "E0301")
    assert loc(d) == where(text, "lib.WIDT") and "did you mean 'lib.WIDTH'?" in d.message


@pytest.mark.parametrize("old, new, needle, message", [
    ("table pde;", "table nope;", "nope",
     "undefined format 'nope'; declare it with `format NAME : WIDTH { ... }`, or import the file that has it"),
    ("table pde;", "table pdf;", "pdf", "undefined format 'pdf'; did you mean 'pde'?"),
    ("table pde;", "table CR3;", "CR3; }", "'CR3' is a register, not a format"),
    ("context CR3;", "context pte;", "pte;", "'pte' is a format, not a register"),
])
def test_undefined_or_wrong_kind_of_layout(tmp_path, old, new, needle, message):
    text = edit(WALK, old, new)
    bag = compile_text(tmp_path, text)
    assert bag.errors[0].code == "E0301" and loc(bag.errors[0]) == where(text, needle)
    assert bag.errors[0].message == message


def test_a_declaration_that_failed_is_not_reported_again_where_it_is_used(tmp_path):
    # the width error of `pte` must not be followed by "undefined format 'pte'"
    text = edit(WALK, "format pte : 64", "format pte : 0")
    d = only(compile_text(tmp_path, text), "E0304")
    assert loc(d) == where(text, "0 {")


def test_a_failed_import_is_not_reported_again_where_it_is_used(tmp_path):
    text = edit(WALK, "spec t;", 'spec t;\nimport "broken.vspec" as b;', "[47:12]; }", "[b.WIDTH-1:12]; }")
    bag = compile_text(tmp_path, text, extra={"broken.vspec": "spec broken;\nparam WIDTH = ;\n"})
    assert codes(bag) == ["E0100"] and bag.errors[0].span.path.endswith("broken.vspec")


# ---- constants: E0302, E0303, E0304, E0305
@pytest.mark.parametrize("old, new, needle", [
    # a constant slice was folded with a 2^64-bit mask: MemoryError
    ("record pf { code : 8 = fault; }", "record pf { code : 8 = 5[18446744073709551615:0]; }", "18446744073709551615:"),
    # a level's index was used by the checks to size its table: 1 << 2^64, OverflowError
    ("index va[20:12];", "index va[18446744073709551615:12];", "18446744073709551615:"),
    # a run-time slice passed the checks and the emitter built the mask: MemoryError
    ("fault not_present when !P;", "fault not_present when va[0x" + "f" * 40 + ":0] == 1;", "0xfff"),
    ("fault not_present when !P;", "fault not_present when va[4096] == 1;", "4096]"),
])
def test_bit_positions_past_any_value_are_e0304_not_a_crash(tmp_path, old, new, needle):
    text = edit(WALK, old, new)
    d = only(compile_text(tmp_path, text), "E0304")
    assert loc(d) == where(text, needle) and "no value is wider than 4096 bits" in d.message


@pytest.mark.parametrize("old, new, needle, fragment", [
    ("format pte : 64", "format pte : 1" + "0" * 400, "1000", "a 1329-bit number; it must be between 1 and 1024"),
    ("format pte : 64", "format pte : 18446744073709551616", "1844", "a 65-bit number"),
    ("    D [6];", "    D [1 << 4000];", "1 << 4000", "a 4001-bit number"),
    ("code : 8 = fault", "code : 0x" + "f" * 1000 + " = fault", "0xfff", "a 4000-bit number"),
])
def test_huge_widths_and_bit_positions_are_e0304_with_their_size(tmp_path, old, new, needle, fragment):
    text = edit(WALK, old, new)
    d = only(compile_text(tmp_path, text), "E0304")
    assert loc(d) == where(text, needle) and fragment in d.message


def test_the_widest_bit_positions_are_accepted(tmp_path):
    text = edit(WALK, "record pf { code : 8 = fault; }", "record pf { code : 8 = (1 << 4095)[4095:4088]; }")
    assert compile_spec(write(tmp_path, text), DiagnosticBag()).name == "t"


@pytest.mark.parametrize("old, new, needle, what", [
    ("entry 8;", "entry va;", "va;", "entry size in bytes"),
    ("entry 8;", "entry CR3.BASE;", "CR3.BASE;", "entry size in bytes"),
    ("page 4K;", "page va;", "va;", "page size"),
    ("level 1 pt", "level va pt", "va pt", "level number"),
    ("    D [6];", "    D [CR3.BASE];", "CR3.BASE]", "bit position"),
    ("format pte : 64", "format pte : CR3", "CR3 {", "width of format 'pte'"),
    ("code : 8", "code : fault", "fault =", "width of 'code'"),
    ("index va[20:12];", "index va[va:12];", "va[va", "slice bounds"),
])
def test_non_constant_where_a_constant_is_required(tmp_path, old, new, needle, what):
    text = edit(WALK, old, new)
    d = only(compile_text(tmp_path, text), "E0302")
    assert loc(d) == where(text, needle) and what in d.message


@pytest.mark.parametrize("expr, fragment", [
    ("1 / 0", "division by zero"),
    ("5 % 0", "division by zero"),
    ("0 - 1", "value -1 is negative"),   # used to fold to 1: '-' wrapped to the operands' width
    ("-1", "value -1 is negative"),
    ("1 << 100000", "shift amount out of range"),
])
def test_invalid_constant_expressions(tmp_path, expr, fragment):
    text = edit(WALK, "spec t;", f"spec t;\nparam X = {expr};")
    d = only(compile_text(tmp_path, text), "E0303")
    assert loc(d) == (2, 11) and fragment in d.message


def test_constant_subtraction_is_exact(tmp_path):
    text = edit(WALK, "spec t;", "spec t;\nparam X = 12 - 4;\nparam Y = 100 - 99;")
    spec = compile_spec(write(tmp_path, text), DiagnosticBag())
    assert [(p.name, p.value) for p in spec.params] == [("X", 8), ("Y", 1)]


@pytest.mark.parametrize("old, new, needle, fragment", [
    ("entry 8;", "entry 64;", "64;", "between 1 and 32"),
    ("level 1 pt", "level 9 pt", "9 pt", "between 0 and 7"),
    ("input va : 48;", "input va : 65;", "65;", "between 1 and 64"),
    ("format pte : 64", "format pte : 2000", "2000", "between 1 and 1024"),
    ("spec t;", "spec t;\nparam X = 1 << 100;", "1 << 100", "a 101-bit number"),
    ("spec t;", "spec t;\nparam X = (1 << 4000) * (1 << 4000);", "(1 << 4000) *", "larger than 4096 bits"),
])
def test_out_of_range_constants(tmp_path, old, new, needle, fragment):
    text = edit(WALK, old, new)
    d = only(compile_text(tmp_path, text), "E0304")
    assert loc(d) == where(text, needle) and fragment in d.message


@pytest.mark.parametrize("old, new, needle", [
    ("    D [6];", "    D [3:6];", "[3:6]"),
    ("    D [6];", "    reserved [6:8];", "[6:8]"),
    ("index va[20:12];", "index va[12:20];", "va[12:20]"),
])
def test_reversed_bit_ranges_and_slices(tmp_path, old, new, needle):
    text = edit(WALK, old, new)
    d = only(compile_text(tmp_path, text), "E0305")
    assert loc(d) == where(text, needle) and "reversed" in d.message


def test_empty_reserved_range_is_allowed(tmp_path):
    text = edit(WALK, "    D [6];", "    D [6];\n    reserved [8:9];")
    assert compile_spec(write(tmp_path, text), DiagnosticBag())


# ---- regime structure: E0306, E0307, E0308
def test_missing_regime_items_are_listed_in_one_diagnostic(tmp_path):
    text = edit(WALK, "    entry 8;\n", "", "    frame ADDR;\n", "")
    d = only(compile_text(tmp_path, text), "E0306")
    assert loc(d) == where(text, "regime walk")
    assert "'entry'" in d.message and "'frame'" in d.message and "'input'" not in d.message


@pytest.mark.parametrize("old, new, fragment", [
    ("level 2 pd { index va[29:21]; table pde; }", "level 2 pd { table pde; }", "needs an 'index'"),
    ("level 2 pd { index va[29:21]; table pde; }", "level 2 pd { index va[29:21]; }", "'table' or a 'leaf'"),
])
def test_incomplete_level(tmp_path, old, new, fragment):
    text = edit(WALK, old, new)
    d = only(compile_text(tmp_path, text), "E0306")
    assert loc(d) == where(text, "level 2 pd") and fragment in d.message


def test_missing_nested_items(tmp_path):
    text = WALK + "nested n { table access { write = 1; } }\n"
    bag = compile_text(tmp_path, text)
    assert codes(bag) == ["E0306", "E0306"]
    assert all(loc(d) == where(text, "nested n") for d in bag.errors)


@pytest.mark.parametrize("index, needle", [("5", "5;"), ("va[12]", "va[12]"), ("CR3.BASE[8:0]", "CR3.BASE[8:0]")])
def test_index_must_be_a_constant_slice_of_the_input(tmp_path, index, needle):
    text = edit(WALK, "index va[20:12];", f"index {index};")
    d = only(compile_text(tmp_path, text), "E0307")
    assert loc(d) == where(text, needle)


@pytest.mark.parametrize("page", ["3000", "0x3000", "6K"])
def test_page_size_not_a_power_of_two(tmp_path, page):
    text = edit(WALK, "page 4K;", f"page {page};")
    d = only(compile_text(tmp_path, text), "E0308")
    assert loc(d) == where(text, page + ";")


# ---- all errors of the stage at once, and no crash on odd but parseable input
def test_every_elaboration_error_is_reported_together(tmp_path):
    text = edit(WALK, "    D [6];", "    D [3:6];", "when !P;", "when !Q;", "entry 8;", "entry 99;")
    bag = compile_text(tmp_path, text)
    assert sorted(codes(bag)) == ["E0301", "E0304", "E0305"]
    assert sorted(loc(d) for d in bag.errors) == sorted([where(text, "[3:6]"), where(text, "Q;"), where(text, "99;")])


def test_nested_over_a_host_without_levels_gives_a_diagnostic_not_a_crash(tmp_path):
    levelless = edit(WALK, "    level 2 pd { index va[29:21]; table pde; }\n", "",
                     "    level 1 pt { index va[20:12]; leaf pte page 4K; }\n", "",
                     "    fault not_present when !P;\n", "", "    set A at each level;\n", "")
    d = only(compile_text(tmp_path, levelless + NESTED), "E0306")
    assert loc(d) == where(levelless, "regime walk") and "no levels" in d.message


def with_rules(rules: str) -> str:
    """WALK with `rules` (lines of regime items) before its fault."""
    return edit(WALK, "    fault not_present", rules + "    fault not_present")


def test_let_defined_in_terms_of_itself(tmp_path):
    text = with_rules("    let a = b;\n    let b = a;\n    fault f when a;\n")
    d = only(compile_text(tmp_path, text), "E0303")
    assert loc(d) == where(text, "a;\n    fault f") and "in terms of itself" in d.message


def test_long_let_chain_is_e0102_not_a_recursion_error(tmp_path):
    chain = "".join(f"    let l{i} = l{i - 1} + 1;\n" for i in range(1, 400))
    text = with_rules("    let l0 = P;\n" + chain + "    fault f when l399;\n")
    d = only(compile_text(tmp_path, text), "E0102")
    assert loc(d) == where(text, "l399;")


def test_doubling_lets_are_bounded(tmp_path):
    # each `let` uses the previous one twice: 2**40 nodes if expanded blindly
    lets = "".join(f"    let d{i} = d{i - 1} + d{i - 1};\n" for i in range(1, 41))
    text = with_rules("    let d0 = P;\n" + lets + "    fault f when d40 != 0;\n")
    d = only(compile_text(tmp_path, text), "E0102")
    assert loc(d) == where(text, "d40 != 0") and "too large" in d.message


def test_a_file_name_that_is_not_utf8_checks(tmp_path):
    """A file name with a byte that is not UTF-8 (Linux allows any byte) compiles: the
    digest of the sources hashes the name's bytes (it was a UnicodeEncodeError)."""
    import os
    from pathlib import Path
    name = os.fsdecode(b"odd\xff.vspec")
    path = tmp_path / name
    path.write_text((Path(__file__).resolve().parents[1] / "data" / "toy.vspec").read_text())
    assert compile_spec(path).name == "toy_paging"


# ---- constants beside values
@pytest.mark.parametrize("text, va, fires", [
    ("(va & ~0xFFF) == 0x1000", 0x1234, True),   # bits 11:0 cleared, the rest of va kept
    ("(va & ~0xFFF) == 0", 0x1234, False),       # ~0xFFF at 12 bits would be 0 and always fire
    ("(va | ~0xFFF) == ~0x0", 0xFFF, True),      # both inverted at va's 48 bits
    ("va == ~0x0", (1 << 48) - 1, True),
])
def test_an_inverted_constant_takes_the_width_of_the_value_beside_it(tmp_path, text, va, fires):
    """`x & ~3` clears bits 1:0 of x (issue 14: `~CONST` was inverted at the constant's own
    width, so `x & ~3` was always 0)."""
    from codegen.ir.expr import evaluate
    spec = compile_spec(write(tmp_path, edit(WALK, "fault not_present when !P;",
                                             f"fault not_present when !P;\n    fault odd when {text};")),
                        DiagnosticBag())
    cond = next(r for r in spec.regimes[0].faults if r.name == "odd").when
    assert bool(evaluate(cond, lambda r: va if r.name == "va" else 0)) is fires


# ---- builtins (issue 14 item 8)
@pytest.mark.parametrize("text, va, fires", [
    # SDM Vol. 1 3.3.7.1: a 48-bit canonical address has bits 63:47 equal; va is 64 bits here
    ("va != sext(va, 48)", 0x0000_7FFF_FFFF_F000, False),
    ("va != sext(va, 48)", 0xFFFF_8000_0000_0000, False),
    ("va != sext(va, 48)", 0x0000_8000_0000_0000, True),
    ("va != sext(va, 48)", 0x0100_0000_0000_0000, True),
    ("va != sext(va, 57)", 0x00FF_FFFF_FFFF_F000, False),  # 57-bit (LA57): bits 63:56 equal
    ("ctz(va) == 12", 0x3000, True),
    ("ctz(va) == 64", 0, True),                             # no ones: the width
    ("cto(va) == 4", 0xEF, True),
    ("cto(va) == 64", (1 << 64) - 1, True),                 # all ones: the width
])
def test_builtins_compute_what_the_readme_says(tmp_path, text, va, fires):
    from codegen.ir.expr import evaluate
    spec = compile_spec(write(tmp_path, edit(WALK.replace("input va : 48", "input va : 64"),
                                             "fault not_present when !P;",
                                             f"fault not_present when !P;\n    fault odd when {text};")),
                        DiagnosticBag())
    cond = next(r for r in spec.regimes[0].faults if r.name == "odd").when
    assert bool(evaluate(cond, lambda r: va if r.name == "va" else 0)) is fires


def test_builtin_constants_fold(tmp_path):
    """A constant is as wide as its value: sext(0x8, 4) is 8 (4 bits: nothing to extend);
    sext(0xF4, 3) extends 0b100 to 8 bits, 0xFC."""
    spec = compile_spec(write(tmp_path, WALK + "param A = ctz(0x100) + cto(0x7) + sext(0x8, 4) + sext(0xF4, 3);\n"),
                        DiagnosticBag())
    assert next(p.value for p in spec.params if p.name == "A") == 8 + 3 + 8 + 0xFC


def test_a_count_is_as_wide_as_it_needs_to_be(tmp_path):
    spec = compile_spec(write(tmp_path, edit(WALK, "fault not_present when !P;",
                                             "fault not_present when !P;\n    fault odd when ctz(ADDR) == 36 && sext(va, 12) == 0;")),
                        DiagnosticBag())
    cond = next(r for r in spec.regimes[0].faults if r.name == "odd").when
    assert cond.args[0].args[0].width == 6 and cond.args[1].args[0].width == 48  # 0..36 in 6 bits; sext keeps va's


# ---- input faults and records (issue 14 item 2)
INPUT_WALK = edit(WALK, "fault not_present when !P;", "fault not_present when !P;\n    FAULT_HERE",
                  "record pf { code : 8 = fault; }", "record pf { code : 8 = fault; }\n    record gp { vector : 8 = 13; }")


def test_input_faults_are_elaborated_with_their_records(tmp_path):
    text = INPUT_WALK.replace("FAULT_HERE", "fault high at input when va[47] && access.write record gp;\n"
                                            "    fault off at input when CR3.BASE == 0;")
    spec = compile_spec(write(tmp_path, text), DiagnosticBag())
    reg = spec.regimes[0]
    assert [(r.name, r.where, r.record) for r in reg.input_faults] == [("high", "input", "gp"), ("off", "input", "")]
    assert reg.fault_kinds == ("not_present", "high", "off")  # after the walk's kinds
    assert [r.name for r in reg.all_records] == ["pf", "gp"]
    assert reg.record_of("high").name == "gp" and reg.record_of("off").name == "pf"
    assert reg.record_of("not_present").name == "pf"


@pytest.mark.parametrize("fault, code, needle", [
    ("fault high at input when va[47] && RW;", "E0314", "RW"),          # an entry field
    ("fault high at input when va[47] && level == 2;", "E0314", "level"),  # a walk builtin
    ("fault high at input when va[47] record gq;", "E0315", "record gq"),  # no such record; did you mean gp?
    ("fault high when !RW record gp;", "E0315", "record gp"),           # a walk fault names a record
])
def test_input_fault_errors(tmp_path, fault, code, needle):
    text = INPUT_WALK.replace("FAULT_HERE", fault)
    d = only(compile_text(tmp_path, text), code)
    assert loc(d) == (where(text, "fault high")[0], 5 + fault.index(needle))  # in the fault's line
    assert d.message.startswith("expected ")
# ---- a stage switched off, exclusive access kinds, regime instances, import bindings
def test_bypass_condition_reads_context_only(tmp_path):
    ok = edit(WALK, "register CR3 : 64 { BASE [47:12]; }", "register CR3 : 64 { PG [63]; BASE [47:12]; }",
              "    start level 2;\n", "    start level 2;\n    bypass when !CR3.PG;\n")
    spec = compile_spec(write(tmp_path, ok), DiagnosticBag())
    assert spec.regime("walk").bypass.refs()[0].name == "CR3"
    bad = edit(ok, "bypass when !CR3.PG;", "bypass when access.write;")
    d = only(compile_text(tmp_path, bad), "E0431")
    assert loc(d) == where(bad, "access.write") and "an access kind" in d.message


def test_nested_stage_bypass_adds_its_registers_to_the_context(tmp_path):
    text = edit(WALK + NESTED, "spec t;\n", "spec t;\nregister NPC : 64 { EN [0]; }\n",
                "    host walk;\n", "    host walk;\n    host bypass when !NPC.EN;\n")
    spec = compile_spec(write(tmp_path, text), DiagnosticBag())
    (n,) = spec.nested
    assert n.host_bypass is not None and n.guest_bypass is None and n.context[-1] == "NPC"


def test_access_groups(tmp_path):
    text = edit(WALK, "    access write;\n", "    access user;\n    access at most one of write, fetch;\n")
    spec = compile_spec(write(tmp_path, text), DiagnosticBag())
    r = spec.regime("walk")
    assert r.access == ("user", "write", "fetch")
    assert [(g.kinds, g.exactly) for g in r.access_groups] == [(("write", "fetch"), False)]
    again = edit(text, "    access user;\n", "    access user;\n    access one of fetch, user;\n")
    d = only(compile_text(tmp_path, again), "E0429")
    assert "'fetch' expected in one exclusive group, not two" in d.message


def test_regime_instance_reads_other_registers(tmp_path):
    text = WALK + "register GCR3 : 64 { BASE [47:12]; }\nregime guest_walk = walk with { CR3 = GCR3; };\n"
    spec = compile_spec(write(tmp_path, text), DiagnosticBag())
    g = spec.regime("guest_walk")
    assert (g.context, g.instance_of, g.instance_bindings) == (("GCR3",), "walk", (("CR3", "GCR3"),))
    assert g.root.args[0].name == "GCR3" and g.levels == spec.regime("walk").levels
    moved = edit(text, "register GCR3 : 64 { BASE [47:12]; }", "register GCR3 : 64 { BASE [51:16]; }")
    d = only(compile_text(tmp_path, moved), "E0320")
    assert "field 'BASE' at the same bits of 'GCR3', not at [51:16]" in d.message
    d = only(compile_text(tmp_path, edit(text, "CR3 = GCR3;", "CR3 = 5;")), "E0319")
    assert "expected the name of a context register for 'CR3'" in d.message


def test_regime_instance_adds_a_fault_on_error_first_and_record_fields(tmp_path):
    """`with { fault F when error; record R { ... } }`: the base elaborated again with F first
    (kind 1: not_present, kind 1 in `walk`, is 2 here, in the record's `fault ==` too) and the
    field after R's own; the base keeps its kinds and record. Register bindings come in the
    same block."""
    text = edit(WALK, "    record pf { code : 8 = fault; }",
                "    check no_write when access.write && !leaf.RW;\n"
                "    record pf { code : 8 = fault; np : 1 = fault == not_present; }")
    text += ("register GCR3 : 64 { BASE [47:12]; }\n"
             "regime g = walk with { CR3 = GCR3; fault read_error when error;\n"
             "    record pf { at : 64 = read_address; } };\n"
             # a read error is modelled where a unit walks (E0335)
             "unit u { event { va : 48; write : 1; } context GCR3;\n"
             "    walk w : g input event.va access { write = event.write; } with { GCR3 = GCR3; };\n"
             "    record r { c : 64; } exit e when w.read_error { c = w.at; } }\n")
    spec = compile_spec(write(tmp_path, text), DiagnosticBag())
    base, g = spec.regime("walk"), spec.regime("g")
    assert base.fault_kinds == ("not_present", "no_write") and [f.name for f in base.record.fields] == ["code", "np"]
    assert g.fault_kinds == ("read_error", "not_present", "no_write")
    assert [f.name for f in g.record.fields] == ["code", "np", "at"]
    assert base.record.fields[1].value.args[1].value == 1 and g.record.fields[1].value.args[1].value == 2
    assert (g.context, g.instance_of, g.instance_adds) == (("GCR3",), "walk", ("read_error", "pf.at"))
    assert g.record.fields[2].value.name == "read_address" and g.root.args[0].name == "GCR3"


def test_an_added_fault_with_the_name_of_a_base_kind_is_reported_where_it_is_added(tmp_path):
    text = WALK + "regime g = walk with { fault not_present when error; };\n"
    d = only(compile_text(tmp_path, text), "E0201")
    assert loc(d) == where(text, "fault not_present when error") and "is a fault kind of regime 'walk'" in d.message


def test_read_address_is_read_by_a_record_alone(tmp_path):
    text = edit(WALK, "fault not_present when !P;", "fault not_present when !P || read_address == 0;")
    d = only(compile_text(tmp_path, text), "E0353")
    assert loc(d) == where(text, "read_address")


def test_regime_instance_cannot_rebind_a_register_its_formats_read(tmp_path):
    """A format's `reserved ... if` reads a register by name, shared by every regime that
    uses the format: an instance rebinding that register would check the base's register
    in its formats (the cycle-level model did not even convert: an unbound port)."""
    text = edit(WALK, "    PS [7];\n", "    PS [7];\n    reserved [62] if CR3.BASE[0];\n")
    text += "register GCR3 : 64 { BASE [47:12]; }\nregime guest_walk = walk with { CR3 = GCR3; };\n"
    d = only(compile_text(tmp_path, text), "E0320")
    assert loc(d) == where(text, "regime guest_walk") and "format 'pde' of regime 'walk'" in d.message


def test_import_binding_reads_the_importers_own_parameter(tmp_path):
    """Issue 14 item 6: `with { MAXPHYADDR = MAXPHYADDR; }` was an undefined name although
    the importer declares the parameter."""
    lib = "spec lib;\nparam MAXPHYADDR = 40;\nregister R : 64 { BASE [MAXPHYADDR-1:12]; }\n"
    top = edit(WALK, "spec t;\n", 'spec t;\nparam MAXPHYADDR = 46;\n'
               'import "lib.vspec" as lib with { MAXPHYADDR = MAXPHYADDR - 1; };\n'
               "param W = lib.MAXPHYADDR;\n")
    write(tmp_path, lib, "lib.vspec")
    spec = compile_spec(write(tmp_path, top), DiagnosticBag())
    assert {p.name: p.value for p in spec.params}["W"] == 45
    assert spec.layout("R").field("BASE").hi == 44
    cycle = edit(top, "param MAXPHYADDR = 46;\n", "param MAXPHYADDR = lib.MAXPHYADDR + 1;\n")
    d = only(compile_text(tmp_path, cycle), "E0321")
    assert "depends on an import itself" in d.message


def test_a_unit_cannot_walk_a_regime_that_can_be_switched_off(tmp_path):
    """A unit's walk has no "not translated" outcome: it skips the walk (`walk ... when`)."""
    data = Path(__file__).resolve().parents[1] / "data"
    toy = edit((data / "toy.vspec").read_text(), "    start level 2;\n", "    start level 2;\n    bypass when !PTBR.BASE[0];\n")
    unit = (data / "toy_walk_unit.vspec").read_text()
    d = only(compile_text(tmp_path, unit, "u.vspec", extra={"toy.vspec": toy}), "E0431")
    assert "expected a regime without `bypass when` in a unit" in d.message
# ---- levels numbered up from the root, register-chosen geometry (issue 14 items 9, 11)
UPWARD = edit(WALK, "start level 2;", "start level CR3.SL ? 1 : 0;", "level 2 pd", "level 0 pd", "level 1 pt", "level 1 pt",
              "register CR3 : 64 { BASE [47:12]; }", "register CR3 : 64 { BASE [47:12]; SL [0]; SZ [11:6]; }")


def test_levels_numbered_up_from_the_root_get_walk_numbers(tmp_path):
    """The level indexing the higher input bits is the root: 0, 1 counts up, so the walk
    numbers are flip - n (2 - n), down to 1 as the generators expect; `start level`
    becomes a walk number too, arm by arm."""
    spec = compile_spec(write(tmp_path, UPWARD), DiagnosticBag())
    reg = spec.regime("walk")
    assert [(lv.name, lv.number, lv.shown) for lv in reg.levels] == [("pd", 2, 0), ("pt", 1, 1)]
    assert reg.flip == 2 and reg.start.op == "cond"
    assert [reg.start.args[1].value, reg.start.args[2].value] == [1, 2]  # spec levels 1, 0
    assert reg.start_written.args[1].value == 1


def test_declaration_order_does_not_decide_the_direction(tmp_path):
    """Levels counting down, declared leaf first, are still counting down (the index bits
    say which is the root)."""
    text = edit(WALK, "    level 2 pd { index va[29:21]; table pde; }\n", "",
                "    level 1 pt { index va[20:12]; leaf pte page 4K; }\n",
                "    level 1 pt { index va[20:12]; leaf pte page 4K; }\n    level 2 pd { index va[29:21]; table pde; }\n")
    reg = compile_spec(write(tmp_path, text), DiagnosticBag()).regime("walk")
    assert reg.flip == 0 and [(lv.number, lv.label) for lv in reg.levels] == [(2, None), (1, None)]


def test_levels_in_neither_order_are_refused(tmp_path):
    text = edit(WALK, "    level 1 pt { index va[20:12]; leaf pte page 4K; }",
                "    level 1 pt { index va[20:12]; table pde; }\n    level 3 pg { index va[11:3]; leaf pte page 8; }")
    d = only(compile_text(tmp_path, text), "E0322")
    assert loc(d) == where(text, "level 3 pg") and "neither order" in d.message


def test_levels_may_count_down_to_0_at_the_leaf(tmp_path):
    """Levels numbered down to 0 (2, 1, 0 as some manuals number them) keep the spec's
    numbers as labels and walk numbers one higher (down to 1); a start level written in
    the spec's numbers becomes the walk's."""
    text = edit(WALK, "level 2 pd", "level 1 pd", "level 1 pt", "level 0 pt", "start level 2;", "start level 1;")
    reg = compile_spec(write(tmp_path, text), DiagnosticBag()).regime("walk")
    assert reg.base == 1 and reg.flip == 0
    assert [(lv.number, lv.shown) for lv in reg.levels] == [(2, 1), (1, 0)]
    assert reg.start.value == 2 and reg.label(1) == 0 and reg.rank(1) == 2


def test_next_level_needs_levels_counting_down(tmp_path):
    text = edit(UPWARD, "    pointer ADDR;", "    pointer ADDR;\n    next level 1;")
    d = only(compile_text(tmp_path, text), "E0324")
    assert loc(d) == where(text, "next level 1;")


def test_an_input_size_reads_registers(tmp_path):
    text = edit(UPWARD, "input va : 48;", "input va : 48 size 64 - CR3.SZ;")
    reg = compile_spec(write(tmp_path, text), DiagnosticBag()).regime("walk")
    assert reg.input_size.op == "-" and {r.name for r in reg.input_size.refs()} == {"CR3"}
    assert reg.index_bits_cut() == 0x3FFF_F000  # va[29:12], every index bit
    # the input's own bits cannot give its size
    d = only(compile_text(tmp_path, edit(UPWARD, "input va : 48;", "input va : 48 size va[5:0];")), "E0301")
    assert "'va'" in d.message


def test_a_reserved_range_bounded_by_a_register_becomes_one_range_per_value(tmp_path):
    """`reserved [47:SZ == 0 ? 32 : 40]`: bits 39:32 reserved when the bound is 32 (SZ 0),
    bits 47:40 whenever it is 32 or 40; conditions without `?:`, for the HDL."""
    text = edit(WALK, "    ADDR [47:12];\n}\nformat pde", "    ADDR [47:12];\n    reserved [47:CR3.SZ == 0 ? 32 : 40];\n}\n"
                "format pde", "register CR3 : 64 { BASE [47:12]; }", "register CR3 : 64 { BASE [47:12]; SZ [7:6]; }")
    lay = compile_spec(write(tmp_path, text), DiagnosticBag()).layout("pte")
    pieces = [(r.hi, r.lo, r.when.op) for r in lay.ranges if r.low is not None]
    assert pieces == [(39, 32, "=="), (47, 40, "||")]
    assert lay.mbz_static == 0 and len(lay.mbz_conditional()) == 2
    wide = edit(text, "reserved [47:CR3.SZ == 0 ? 32 : 40];", "reserved [47:CR3.BASE];")
    d = only(compile_text(tmp_path, wide), "E0432")
    assert loc(d) == where(wide, "CR3.BASE];")


def test_an_accumulator_can_take_in_pointer_entries_only(tmp_path):
    text = edit(WALK, "    set A at each level;", "    accumulate w = 1 then w && RW at table;\n    set A at each level;")
    reg = compile_spec(write(tmp_path, text), DiagnosticBag()).regime("walk")
    assert [(a.name, a.where) for a in reg.accumulators] == [("w", "table")]
    assert reg.accumulators_for(leaf=False) == reg.accumulators and reg.accumulators_for(leaf=True) == ()
# ---- E0325 `fault NAME at leaf|table FORMAT` (issue 14 item 7)
@pytest.mark.parametrize("role, fmt, why", [
    ("leaf", "pde", ("expected a leaf format of the regime (pte), not 'pde': the regime reads 'pde' only as a "
                     "table entry")),
    ("table", "pte", ("expected a table format of the regime (pde), not 'pte': the regime reads 'pte' only as a "
                      "leaf entry")),
    ("leaf", "nothing", ("expected a leaf format of the regime (pte), not 'nothing': no level of the regime reads "
                         "'nothing'")),
])
def test_a_per_format_fault_names_a_format_of_the_regime_in_its_role(tmp_path, role, fmt, why):
    text = edit(WALK, "fault not_present when !P;", f"fault not_present at {role} {fmt} when !P;")
    d = only(compile_text(tmp_path, text), "E0325")
    assert loc(d) == where(text, f"{fmt} when") and why in d.message


def test_a_per_format_fault_reads_fields_only_its_format_has(tmp_path):
    """PS is a field of pde only: `at table pde` may read it, a fault of every entry may not."""
    text = edit(WALK, "fault not_present when !P;", "fault not_present when !P;\n    fault big at table pde when PS;")
    (reg,) = compile_spec(write(tmp_path, text)).regimes
    assert [(r.name, r.where, r.format) for r in reg.faults] == [("not_present", "", ""), ("big", "table", "pde")]
    bad = edit(WALK, "fault not_present when !P;", "fault not_present when !P;\n    fault big when PS;")
    assert "E0301" in [d.code for d in compile_text(tmp_path, bad).errors]


# ---- enums shared through an import: NS.ENUM.ITEM, and record fields that name an enum
REASONS = "spec shared;\nenum reason : 16 { VIOLATION = 48; MISCONFIG = 49; }\n"
RECORD_ENUM = edit(WALK, "spec t;\n", 'spec t;\nimport "shared.vspec" as s;\n',
                   "record pf { code : 8 = fault; }",
                   "record pf { code : 8 enum s.reason = fault == not_present ? s.reason.VIOLATION : 0; }")


def test_an_imported_enums_items_are_names(tmp_path):
    """`s.reason.VIOLATION` is the item's value (48), named as the flattened spec names it."""
    write(tmp_path, REASONS, "shared.vspec")
    spec = compile_spec(write(tmp_path, RECORD_ENUM), DiagnosticBag())
    field = spec.regimes[0].record.fields[0]
    assert field.enum == "reason"
    choice = field.value.args[1]
    assert (choice.op, choice.value, choice.name) == ("num", 48, "reason.VIOLATION")
    assert [e.name for e in spec.enums] == ["reason"]


def test_a_misspelt_item_of_an_imported_enum_lists_the_items(tmp_path):
    text = edit(RECORD_ENUM, "s.reason.VIOLATION", "s.reason.VIOLATON")
    d = only(compile_text(tmp_path, text, extra={"shared.vspec": REASONS}), "E0301")
    assert loc(d) == where(text, "s.reason.VIOLATON")
    assert "s.reason.VIOLATION" in d.message


def test_a_record_field_naming_an_undefined_enum(tmp_path):
    text = edit(RECORD_ENUM, "enum s.reason", "enum s.reasons")
    d = only(compile_text(tmp_path, text, extra={"shared.vspec": REASONS}), "E0301")
    assert loc(d) == where(text, "s.reasons")


def test_a_nested_record_field_may_name_an_enum(tmp_path):
    write(tmp_path, REASONS, "shared.vspec")
    text = RECORD_ENUM + NESTED.replace("record r { code : 8 = fault; }",
                                        "record r { code : 8 enum s.reason = host.code; }")
    spec = compile_spec(write(tmp_path, text), DiagnosticBag())
    assert spec.nested[0].record.fields[0].enum == "reason"


# ---- nested folds: `accumulate NAME = INIT then EXPR over table;`
def with_fold(fold: str) -> str:
    """WALK with a leaf accumulator `ok`, composed over itself, with `fold` in the composition."""
    walk = with_rules("    accumulate ok = 0 then P at leaf;\n")
    return walk + edit(NESTED, "    record r", fold + "\n    record r")


def test_a_fold_reads_an_unknown_host_accumulator(tmp_path):
    text = with_fold("    accumulate all = 1 then all && host.nope over table;")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "host.nope")


def test_a_fold_may_not_take_the_guests_accumulator_name_nor_skip_the_host(tmp_path):
    text = with_fold("    accumulate ok = 1 then ok && host.ok over table;")
    assert loc(only(compile_text(tmp_path, text), "E0344")) == where(text, "accumulate ok = 1")
    text = with_fold("    accumulate all = 1 then all over table;")
    assert loc(only(compile_text(tmp_path, text), "E0345")) == where(text, "accumulate all = 1")
