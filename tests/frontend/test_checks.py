"""codegen/frontend/checks.py: structural checks on the elaborated IR. Each test breaks one thing
in a valid spec and checks the code and line:col of the error (and of its note)."""
import pytest
from snippets import WALK, codes, compile_text, edit, loc, note_loc, only, where, write

from codegen.frontend.checks import identifier_problem
from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import compile_spec


# ---- E0202 identifiers that generated Python, Verilog or VHDL cannot use
@pytest.mark.parametrize("name, why", [
    ("wire", "Verilog keyword"),
    ("signal", "VHDL keyword"),
    ("SIGNAL", "VHDL keyword"),      # VHDL is case-insensitive
    ("class", "Python keyword"),
    ("match", "Python keyword"),     # a soft keyword
    ("a__b", "'__'"),
    ("D_", "end in '_'"),
    ("_x", "start with a letter"),
])
def test_identifier_problem(name, why):
    assert why in identifier_problem(name)


@pytest.mark.parametrize("name", ["P", "ADDR", "Wire", "pml4e", "not_present", "a_b"])
def test_good_identifiers(name):
    assert identifier_problem(name) is None


@pytest.mark.parametrize("name", ["wire", "signal", "class", "a__b"])
def test_bad_field_name(tmp_path, name):
    text = edit(WALK, "    D [6];", f"    {name} [6];")
    d = only(compile_text(tmp_path, text), "E0202")
    assert loc(d) == where(text, f"{name} [6]") and f"field name '{name}'" in d.message


@pytest.mark.parametrize("old, new, needle", [
    ("format pde", "format wire", "format wire"),
    ("level 2 pd", "level 2 process", "level 2 process"),
    ("fault not_present", "fault not__present", "fault not__present"),
    ("record pf", "record def", "record def"),
    ("code : 8", "reg : 8", "reg : 8"),
])
def test_bad_names_of_other_declarations(tmp_path, old, new, needle):
    text = edit(WALK, old, new)
    if old == "format pde":
        text = edit(text, "table pde;", "table wire;")
    d = only(compile_text(tmp_path, text), "E0202")
    assert loc(d) == where(text, needle)


# ---- E0201 duplicates found on the IR
def test_duplicate_field_in_a_format(tmp_path):
    text = edit(WALK, "    D [6];", "    D [6];\n    RW [9];")
    d = only(compile_text(tmp_path, text), "E0201")
    assert loc(d) == where(text, "RW [9]") and note_loc(d) == where(text, "RW [1]")


def test_duplicate_field_through_an_include(tmp_path):
    text = edit(WALK, "format pte : 64 {\n    P [0];",
                "format common : 64 { P [0]; }\nformat pte : 64 {\n    include common;\n    P [9];")
    d = only(compile_text(tmp_path, text), "E0201")
    assert loc(d) == where(text, "P [9]") and note_loc(d) == where(text, "P [0]")


def test_names_clash_across_an_import(tmp_path):
    """Formats and regimes share one namespace once imports are flattened in."""
    lib = "spec lib;\nformat pte : 64 { V [0]; }\n"
    text = edit(WALK, "spec t;", 'spec t;\nimport "lib.vspec" as lib;')
    bag = compile_text(tmp_path, text, extra={"lib.vspec": lib})
    (d,) = [x for x in bag.errors if x.code == "E0201"]
    assert loc(d) == where(text, "format pte")
    assert d.notes[0][1].path.endswith("lib.vspec") and note_loc(d) == (2, 1)


def test_parameters_are_scoped_to_their_file(tmp_path):
    """A parameter of an imported file (lib.pte) does not clash with a local name."""
    from codegen.frontend.pipeline import compile_spec
    (tmp_path / "lib.vspec").write_text("spec lib;\nparam pte = 1;\nparam MAXPHYADDR = 40;\n")
    (tmp_path / "t.vspec").write_text(edit(WALK, "spec t;", 'spec t;\nimport "lib.vspec" as lib;'))
    spec = compile_spec(tmp_path / "t.vspec")
    assert [p.name for p in spec.params].count("pte") == 1


# ---- bit layouts: E0401, E0402
def test_field_past_the_format_width(tmp_path):
    text = edit(WALK, "    ADDR [47:12];\n}\nformat pde", "    ADDR [70:12];\n}\nformat pde")
    d = only(compile_text(tmp_path, text), "E0401")
    assert loc(d) == where(text, "ADDR [70:12]") and "64-bit width of format 'pte'" in d.message


def test_overlapping_fields_have_a_note_at_the_other_field(tmp_path):
    text = edit(WALK, "    A [5];\n    D [6];", "    A [5];\n    D [6:1];")
    d = only(compile_text(tmp_path, text), "E0402")
    assert loc(d) == where(text, "D [6:1]")
    assert note_loc(d) == where(text, "RW [1]") and "field 'RW'" in d.notes[0][0]


def test_field_overlapping_a_reserved_range_is_a_warning_not_an_error(tmp_path):
    text = edit(WALK, "    D [6];", "    reserved [7:6];\n    D [6];")
    bag = DiagnosticBag()
    compile_spec(write(tmp_path, text), bag)
    (d,) = [d for d in bag.warnings if d.code == "W0102"]
    assert loc(d) == where(text, "D [6]") and note_loc(d) == where(text, "reserved [7:6]")


def test_two_declared_ranges_overlapping_is_still_an_error(tmp_path):
    text = edit(WALK, "    D [6];", "    reserved [7:6];\n    ignored [6:5];")
    d = only(compile_text(tmp_path, text), "E0402")
    assert loc(d) == where(text, "ignored [6:5]") and note_loc(d) == where(text, "reserved [7:6]")


def test_field_overlapping_a_conditional_reserved_range_is_reported_once(tmp_path):
    # the conditional range is checked against the fields on its own: the field past the
    # width must not be reported a second time
    text = edit(WALK, "    D [6];", "    D [6];\n    reserved [6] if CR3.BASE[0];\n    G [64];")
    bag = compile_text(tmp_path, text)
    assert codes(bag) == ["E0401", "E0402"]
    assert loc(bag.errors[0]) == where(text, "G [64]")
    assert loc(bag.errors[1]) == where(text, "reserved [6] if") and note_loc(bag.errors[1]) == where(text, "D [6]")


def test_overlapping_record_bits(tmp_path):
    text = edit(WALK, "record pf { code : 8 = fault; }", "record pf { code : 8 { LO [3:0] = fault; HI [7:3] = 0; } }")
    d = only(compile_text(tmp_path, text), "E0402")
    assert loc(d) == where(text, "HI [7:3]") and note_loc(d) == where(text, "LO [3:0]")


def test_record_bits_past_the_field_width(tmp_path):
    text = edit(WALK, "record pf { code : 8 = fault; }", "record pf { code : 4 { X [7:0] = fault; } }")
    d = only(compile_text(tmp_path, text), "E0401")
    assert loc(d) == where(text, "X [7:0]")


# ---- levels: E0405, E0406, E0407, E0408, E0410, E0411
@pytest.mark.parametrize("index, kind", [("va[21:12]", "overlaps"), ("va[19:12]", "leaves a gap after")])
def test_index_slices_that_overlap_or_leave_a_gap(tmp_path, index, kind):
    text = edit(WALK, "index va[20:12];", f"index {index};")
    bag = compile_text(tmp_path, text)
    d = next(d for d in bag.errors if d.code == "E0405")
    assert loc(d) == where(text, "level 1 pt") and note_loc(d) == where(text, "level 2 pd")
    assert kind in d.message


def test_levels_that_are_not_consecutive(tmp_path):
    text = edit(WALK, "level 2 pd", "level 3 pd", "start level 2", "start level 3")
    d = only(compile_text(tmp_path, text), "E0405")
    assert loc(d) == where(text, "level 1 pt") and "not consecutive" in d.message


def test_page_size_disagreeing_with_the_index(tmp_path):
    text = edit(WALK, "page 4K;", "page 8K;")
    d = only(compile_text(tmp_path, text), "E0406")
    assert loc(d) == where(text, "level 1 pt")  # the level's index maps 4K pages
    assert "write `page 4K`" in d.message
    # the frame field (at bit 12) agrees with the index: it is not blamed for the wrong page size


def test_frame_field_disagreeing_with_the_page(tmp_path):
    text = edit(WALK, "    ADDR [47:12];\n}\nformat pde", "    ADDR [47:13];\n}\nformat pde")
    d = only(compile_text(tmp_path, text), "E0406")
    assert loc(d) == where(text, "ADDR [47:13]") and note_loc(d) == where(text, "level 1 pt")


def test_last_level_without_a_leaf(tmp_path):
    text = edit(WALK, "leaf pte page 4K;", "table pte;")
    d = only(compile_text(tmp_path, text), "E0407")
    assert loc(d) == where(text, "level 1 pt")


@pytest.mark.parametrize("old, new, level, fmt, role", [
    ("pointer ADDR;", "pointer BASE;", "level 2 pd", "format pde", "table"),
    ("frame ADDR;", "frame BASE;", "level 1 pt", "format pte", "leaf"),
])
def test_missing_pointer_or_frame_field(tmp_path, old, new, level, fmt, role):
    text = edit(WALK, old, new)
    d = only(compile_text(tmp_path, text), "E0408")
    assert loc(d) == where(text, level) and note_loc(d) == where(text, fmt)
    assert d.message.startswith(f"{role} format")


# ---- pointer and frame maps of terms (`FIELD << N`, `A | B << N`)
# pte.ADDR [47:12] and pde.ADDR [47:12] of WALK hold the address at their own bits; the
# maps below put a shifted field (HI) or the same field shifted elsewhere
def _split(text: str, hi: str) -> str:
    """WALK with pte's address split: ADDR [31:12] at its bits and HI somewhere."""
    return edit(text, "    D [6];\n    ADDR [47:12];", f"    D [6];\n    ADDR [31:12];\n    HI {hi};")


def test_a_shifted_pointer_and_a_split_frame_are_accepted(tmp_path):
    text = edit(_split(WALK, "[47:32]"), "frame ADDR;", "frame ADDR | HI << 32;")
    (reg,) = compile_spec(write(tmp_path, text)).regimes
    assert [(t.field, t.shift) for t in reg.frame] == [("ADDR", None), ("HI", 32)]
    text = edit(WALK, "    PS [7];\n    ADDR [47:12];", "    PS [7];\n    PPN [43:8];", "pointer ADDR;",
                "pointer PPN << 12;")
    (reg,) = compile_spec(write(tmp_path, text)).regimes
    assert [(t.field, t.shift) for t in reg.pointer] == [("PPN", 12)]


def test_terms_that_share_address_bits(tmp_path):
    text = edit(_split(WALK, "[47:32]"), "frame ADDR;", "frame ADDR | HI << 30;")
    d = only(compile_text(tmp_path, text), "E0418")
    assert loc(d) == where(text, "HI << 30") and note_loc(d) == where(text, "ADDR | HI")
    assert "address bits 31:30" in d.message


def test_a_term_past_the_output_address(tmp_path):
    text = edit(WALK, "pointer ADDR;", "pointer ADDR << 30;")
    d = only(compile_text(tmp_path, text), "E0419")
    assert loc(d) == where(text, "ADDR << 30") and "address bits 65:30" in d.message


def test_a_frame_map_that_leaves_a_gap(tmp_path):
    """ADDR ends at address bit 31, HI starts at 33: bit 32 of a frame cannot be set."""
    text = edit(_split(WALK, "[46:32]"), "frame ADDR;", "frame ADDR | HI << 33;")
    d = only(compile_text(tmp_path, text), "E0406")
    assert loc(d) == where(text, "ADDR | HI << 33") and note_loc(d) == where(text, "level 1 pt")
    assert "leaves address bit 32 unset" in d.message


def test_a_frame_map_that_starts_above_the_page_offset(tmp_path):
    text = edit(WALK, "frame ADDR;", "frame ADDR << 13;", "    D [6];\n    ADDR [47:12];", "    D [6];\n    ADDR [46:12];")
    d = only(compile_text(tmp_path, text), "E0406")
    assert loc(d) == where(text, "ADDR << 13") and "starts at address bit 13" in d.message


@pytest.mark.parametrize("new, message", [
    ("pointer ADDR << 13;", "starts at address bit 13"),
    ("pointer ADDR | PS << 49;", "leaves address bit 48 unset"),
])
def test_a_pointer_map_that_cannot_address_every_table(tmp_path, new, message):
    text = edit(WALK, "pointer ADDR;", new)
    if "<< 13" in new:
        text = edit(text, "    PS [7];\n    ADDR [47:12];", "    PS [7];\n    ADDR [46:12];")
    d = only(compile_text(tmp_path, text), "E0409")
    assert loc(d) == where(text, new[len("pointer "):-1]) and note_loc(d) == where(text, "level 1 pt")
    assert message in d.message


def test_a_term_whose_field_a_format_lacks(tmp_path):
    """pde has HI, pte does not: the leaf format is blamed, once."""
    text = edit(WALK, "    PS [7];\n    ADDR [47:12];", "    PS [7];\n    ADDR [31:12];\n    HI [47:32];",
                "pointer ADDR;", "pointer ADDR | HI << 32;", "frame ADDR;", "frame ADDR | HI << 32;")
    d = only(compile_text(tmp_path, text), "E0408")
    assert loc(d) == where(text, "level 1 pt") and note_loc(d) == where(text, "format pte")
    assert "has no field 'HI'" in d.message and "frame map (`frame ADDR | HI << 32;`)" in d.message


def test_a_leaf_clause_frame_map_overrides_the_regime_s(tmp_path):
    text = edit(_split(WALK, "[47:32]"), "leaf pte page 4K;", "leaf pte page 4K frame ADDR | HI << 32;")
    spec = compile_spec(write(tmp_path, text))
    (reg,) = spec.regimes
    assert [t.field for t in reg.frame] == ["ADDR"] and [(t.field, t.shift) for t in reg.level(1).frame] == [
        ("ADDR", None), ("HI", 32)]


def test_format_width_disagreeing_with_the_entry_size(tmp_path):
    text = edit(WALK, "entry 8;", "entry 4;")
    wrong = [d for d in compile_text(tmp_path, text).errors if d.code == "E0410"]
    assert [loc(d) for d in wrong] == [where(text, "level 2 pd"), where(text, "level 1 pt")]
    assert "format 'pde' is 64 bits but entries of regime 'walk' are 4 bytes" in wrong[0].message


@pytest.mark.parametrize("old, new, formats", [
    ("set A at each level;", "set ADDR at each level;", ["pde", "pte"]),   # wide in both
    ("set A at each level;", "set D at each level;", ["pde"]),             # no D in pde
    ("set A at each level;", "set ADDR at leaf;", ["pte"]),
])
def test_set_needs_a_one_bit_field(tmp_path, old, new, formats):
    text = edit(WALK, old, new)
    bag = compile_text(tmp_path, text)
    assert codes(bag) == ["E0411"] * len(formats)
    assert all(loc(d) == where(text, new) for d in bag.errors)
    assert [d.message.split("format '")[1].split("'")[0] for d in bag.errors] == formats


def test_updates_say_what_they_write_and_when(tmp_path):
    """`set F [= V] at each level|table|leaf [as used] [when C]` elaborates to its field,
    entries, value and timing; a value update may write a wide field."""
    from codegen.frontend.pipeline import compile_spec
    text = edit(WALK, "    set A at each level;\n", "    set A at table as used;\n    set A at leaf;\n"
                "    set ADDR = ADDR at leaf when access.write;\n")
    spec = compile_spec(write(tmp_path, text))
    ups = [(u.field, u.where, u.used, u.value is not None, u.when is not None) for u in spec.top.updates]
    assert ups == [("A", "table", True, False, False), ("A", "leaf", False, False, False),
                   ("ADDR", "leaf", False, True, True)]
    assert [u.applies(False) for u in spec.top.updates] == [True, False, False]


@pytest.mark.parametrize("new, code, at", [
    ("set P = 1 at table as used;", "E0426", "set P = 1"),          # a fault reads P
    ("set RW = RW + 1 at each level;", "E0427", "RW + 1"),           # 2 bits into 1
    ("set RW = 2 at each level;", "E0425", "2 at"),                  # does not fit
    ("set A at each level when PS;", "E0316", "PS;"),                # PS in pde, not in pte
    ("set RW = 0 at table as used;", None, None),                    # no fault reads RW
])
def test_update_values_and_timing_are_checked(tmp_path, new, code, at):
    text = edit(WALK, "set A at each level;", new)
    if code is None:
        from codegen.frontend.pipeline import compile_spec
        compile_spec(write(tmp_path, text))
        return
    d = only(compile_text(tmp_path, text), code)
    assert loc(d) == where(text, at)


# ---- all errors of the check stage together
def test_every_check_error_is_reported_together(tmp_path):
    text = edit(WALK, "    D [6];", "    wire [6];", "    PS [7];", "    PS [7:5];", "leaf pte page 4K;", "table pte;")
    bag = compile_text(tmp_path, text)
    assert sorted(codes(bag)) == ["E0202", "E0402", "E0407"]
    assert {d.code: loc(d) for d in bag.errors} == {
        "E0202": where(text, "wire [6]"), "E0402": where(text, "PS [7:5]"), "E0407": where(text, "level 1 pt")}


def test_duplicate_level_number_is_one_error(tmp_path):
    text = edit(WALK, "level 1 pt", "level 2 pt")
    d = only(compile_text(tmp_path, text), "E0201")
    assert loc(d) == where(text, "level 2 pt") and note_loc(d) == where(text, "level 2 pd")


@pytest.mark.parametrize("start, needle", [("5", "5;"), ("CR3.BASE[0] ? 2 : 3", "3;\n    pointer")])
def test_start_level_that_is_not_a_level(tmp_path, start, needle):
    text = edit(WALK, "start level 2;", f"start level {start};")
    d = only(compile_text(tmp_path, text), "E0304")
    assert loc(d) == where(text, needle) and "start level" in d.message


# ---- E0417 a nested guest whose addresses the host cannot take
def _nested_with_host_input(width: int) -> str:
    host = WALK[WALK.index("regime walk"):].replace("regime walk", "regime host").replace(
        "input va : 48", f"input gpa : {width}").replace("va[", "gpa[")
    return WALK + host + "nested n {\n    guest walk;\n    host host;\n    table access { write = 1; }\n" \
        "    final access { write = access.write; }\n    record r { code : 8 = fault; }\n}\n"


def test_guest_addresses_wider_than_the_host_input(tmp_path):
    text = _nested_with_host_input(40)
    d = only(compile_text(tmp_path, text), "E0417")
    assert loc(d) == where(text, "nested n") and "48-bit addresses" in d.message and "40-bit inputs" in d.message
    assert note_loc(d)[0] in {i + 1 for i, line in enumerate(text.splitlines()) if "ADDR [47:12];" in line}


def test_guest_addresses_that_fit_the_host_input(tmp_path):
    compile_spec(write(tmp_path, _nested_with_host_input(48)), DiagnosticBag())


# ---- levels numbered up from the root, table-only accumulators, register-bounded ranges (issue 14)
UP = edit(WALK, "start level 2;", "start level 0;", "level 2 pd", "level 0 pd", "level 1 pt", "level 1 pt")


def test_levels_counting_up_are_checked_by_their_own_numbers(tmp_path):
    """A gap in levels counting up names the level that should follow in that direction,
    and a start level that is not a level lists the spec's numbers."""
    text = edit(UP, "level 1 pt", "level 2 pt")
    d = only(compile_text(tmp_path, text), "E0405")
    assert loc(d) == where(text, "level 2 pt") and "the level below level 0 is level 1" in d.message
    text = edit(UP, "start level 0;", "start level 3;")
    d = only(compile_text(tmp_path, text), "E0304")
    line, col = where(text, "start level 3;")
    assert loc(d) == (line, col + len("start level ")) and "its levels are 0, 1" in d.message


def test_a_table_only_accumulator_reads_fields_leaves_lack(tmp_path):
    """PS is only in the table format: `at table` reads it there alone; without it every
    leaf entry would need the field too (E0301)."""
    text = edit(WALK, "    set A at each level;", "    accumulate big = 0 then big || PS at table;\n    set A at each level;")
    compile_spec(write(tmp_path, text), DiagnosticBag())
    bare = edit(text, " at table;", ";")
    d = only(compile_text(tmp_path, bare), "E0301")
    assert loc(d) == where(bare, "PS;") and "at leaf` or `at table`" in d.message


def test_a_register_bounded_reserved_range_may_cover_the_address_field(tmp_path):
    """Bits above a register-chosen output size overlap ADDR [47:12]: no E0402, the walk
    checks them; a constant reserved range there is still an overlap."""
    regs = ("register CR3 : 64 { BASE [47:12]; }", "register CR3 : 64 { BASE [47:12]; SZ [7:6]; }")
    text = edit(WALK, "    ADDR [47:12];\n}\nformat pde", "    ADDR [47:12];\n    reserved [47:CR3.SZ == 0 ? 36 : 44];\n}\n"
                "format pde", *regs)
    compile_spec(write(tmp_path, text), DiagnosticBag())
    text = edit(WALK, "    ADDR [47:12];\n}\nformat pde", "    ADDR [47:12];\n    reserved [47:36] if CR3.SZ == 0;\n}\n"
                "format pde", *regs)
    assert codes(compile_text(tmp_path, text)) == ["E0402"]
# ---- E0437 a pointer used below the alignment of the tables it leads to (issue 14 item 1)
def _pointer_at(lo: int, pt_index: str = "va[20:12]", pd_index: str = "va[29:21]") -> str:
    """WALK with pde's ADDR from entry bit `lo`, used in place, and the levels' indexes."""
    return edit(WALK, "    PS [7];\n    ADDR [47:12];", f"    PS [7];\n    ADDR [47:{lo}];",
                "index va[29:21]", f"index {pd_index}", "index va[20:12]", f"index {pt_index}")


def test_a_pointer_field_below_the_table_alignment_is_refused(tmp_path):
    """A page number stored at entry bit 10 and used in place: address bits 11:10 of a 4-KiB
    table would come from the entry. The fix the message names, `<< 12`, is accepted."""
    text = _pointer_at(10)
    d = only(compile_text(tmp_path, text), "E0437")
    assert loc(d) == where(text, "ADDR [47:10]") and note_loc(d) == where(text, "level 1 pt")
    assert "expected the map to start at address bit 12 or above, not 10" in d.message
    assert "`pointer ADDR << 12;`" in d.message
    fixed = edit(text, "pointer ADDR;", "pointer ADDR << 12;", "    ADDR [47:10];", "    ADDR [45:10];")
    assert compile_spec(write(tmp_path, fixed)).regimes[0].pointer[0].shift == 12


@pytest.mark.parametrize("lo, ok", [(9, True), (8, False)])
def test_a_table_smaller_than_a_page_needs_only_its_own_alignment(tmp_path, lo, ok):
    """pt has 64 entries of 8 bytes (a 512-byte table): a pointer from bit 9 addresses it."""
    text = _pointer_at(lo, pt_index="va[17:12]", pd_index="va[26:18]")
    if ok:
        compile_spec(write(tmp_path, text))
    else:
        only(compile_text(tmp_path, text), "E0437")


def test_a_table_larger_than_a_page_needs_only_page_alignment(tmp_path):
    """16-KiB tables of 16-byte entries addressed from bit 12 (the walker adds the index)."""
    from pathlib import Path
    data = Path(__file__).resolve().parents[1] / "data" / "toy_nested_entry16.vspec"
    assert compile_spec(data).regime("guest16").pointer[0].field == "ADDR"


def test_a_pointer_that_may_skip_levels_is_checked_against_the_smallest_table(tmp_path):
    """With `next level`, a pointer at level 3 may lead to level 2 (4 KiB) or level 1 (a
    512-byte table): right for the smallest, so accepted; below it, refused."""
    three = edit(WALK, "start level 2;", "start level 3;\n    next level NL;",
                 "    PS [7];\n    ADDR [47:12];", "    PS [7];\n    NL [49:48];\n    ADDR [47:{lo}];",
                 "    level 2 pd { index va[29:21]; table pde; }",
                 "    level 3 top { index va[35:27]; table pde; }\n    level 2 pd { index va[26:18]; table pde; }",
                 "index va[20:12]", "index va[17:12]", "format pte : 64 {", "format pte : 64 {\n    NL [49:48];")
    compile_spec(write(tmp_path, three.replace("{lo}", "9")))
    only(compile_text(tmp_path, three.replace("{lo}", "8")), "E0437")


def test_a_shifted_page_number_of_a_large_page_points_to_a_format_of_its_own(tmp_path):
    """One page-number field at every level (`frame PPN << 12`) cannot map a 2-MiB page; the
    error says how: a leaf format of its own with the low bits a field and a fault."""
    text = edit(WALK, "    ADDR [47:12];\n}\nformat pde", "    PPN [53:10];\n}\nformat pde",
                "    frame ADDR;", "    frame PPN << 12;",
                "level 2 pd { index va[29:21]; table pde; }", "level 2 pd { index va[29:21]; table pde; leaf pte when D page 2M; }")
    d = only(compile_text(tmp_path, text), "E0406")
    assert "need it to start at bit 21" in d.message
    assert "`leaf pte_2M when ... page 2M frame PPN << 21;`" in d.message and "at leaf pte_2M when LOW != 0" in d.message


# ---- E0462: every item of a field's enum fits the field
@pytest.mark.parametrize("field,ok", [("PS [7] enum kind;", False), ("K [9:8] enum kind;", False),
                                      ("K [10:8] enum kind;", True)])
def test_enum_items_fit_the_format_field(tmp_path, field, ok):
    """enum kind is 16 bits wide with items 1 and 4: item 4 needs 3 bits, so a field of 1 or
    2 bits cannot hold it; the enum's own width does not matter, its items do."""
    enum = "enum kind : 16 { SMALL = 1; BIG = 4; }\n"
    text = edit(WALK, "spec t;\n", "spec t;\n" + enum, "    PS [7];\n", f"    {field}\n")
    if ok:
        compile_spec(write(tmp_path, text), DiagnosticBag())
    else:
        d = only(compile_text(tmp_path, text), "E0462")
        assert loc(d) == where(text, field) and "BIG = 0x4 of enum 'kind' needs 3 bits" in d.message
        assert note_loc(d) == where(text, "BIG = 4")


# ---- E0335 a regime whose fault reads `error` is walked by a unit (tests/data/toy_nested_error.vspec)
def _nested_error_toy() -> str:
    from pathlib import Path
    return (Path(__file__).resolve().parents[1] / "data" / "toy_nested_error.vspec").read_text()


def test_a_stage_that_handles_error_in_a_composition_a_unit_walks_is_accepted(tmp_path):
    spec = compile_spec(write(tmp_path, _nested_error_toy(), "t.vspec"))
    assert spec.models == ("toy_nested_err",)


def test_a_composition_with_such_a_stage_as_a_model_of_its_own_is_refused_once_per_stage(tmp_path):
    """Without the unit the composition is the spec's model: no unit takes the error (the
    translation model has no read-error input), so each stage's fault on `error` is E0335,
    at the composition, with a note at the fault."""
    text = _nested_error_toy().split("unit toy_nested_err")[0]
    bag = compile_text(tmp_path, text)
    assert codes(bag) == ["E0335", "E0335"]
    for d, fault in zip(bag.errors, ("fault read_error", "fault hw_error")):
        assert loc(d) == where(text, "nested two") and note_loc(d) == where(text, fault)
    assert "guest regime 'gst'" in bag.errors[0].message and "host regime 'hst'" in bag.errors[1].message
