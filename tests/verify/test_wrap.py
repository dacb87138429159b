"""Record values outside their field: both models wrap a record value to its field's
width, and a shift keeps its result's width (an amount of that width or more gives 0).
Each spec is the toy spec with one more record field; it must generate, co-simulate with
no mismatch, and convert to Verilog (and VHDL) that compiles."""
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim
from codegen.verify.harness import load_generated

TOY = Path(__file__).resolve().parents[1] / "data" / "toy.vspec"


def toy_with(tmp_path: Path, fields: str) -> Path:
    """The toy spec with `fields` added to its record."""
    text = TOY.read_text()
    anchor = "addr : 64 = va;"
    assert anchor in text
    path = tmp_path / "toy.vspec"
    path.write_text(text.replace(anchor, anchor + "\n        " + fields))
    return path


def generate_cosim_convert(path: Path, out: Path, walks: int = 50) -> None:
    spec = compile_spec(path)
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, walks, seed=5)
    assert report.mismatches == 0, report.as_json()
    assert report.transactions >= walks
    _, model = load_generated(out)
    verilog = hdl.convert(model, "Verilog", out / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(verilog)
        assert ok, messages
    if hdl.verilator() is not None:  # width-exact: no WIDTH warning for these odd values either
        ok, messages = hdl.lint_verilog(verilog)
        assert ok, messages
    if shutil.which("ghdl"):
        ok, messages = hdl.analyse_vhdl(hdl.convert(model, "VHDL", out / "vhdl"))
        assert ok, messages


OUTSIDE = {
    "negative": "x : 64 = 0 - va;",
    "narrow_negative": "x : 64 = va[3:0] - 15;",
    "huge_shift": "x : 64 = va << 5000;",
    "wide_constant": "x : 64 = 0x1234567890abcdef1;",
    "variable_shift": "x : 64 = va << va;",
    "narrow_field": "x : 8 = (va << 3) + 0x1ff;",
    "variable_shift_narrow": "x : 16 = 1 << va[4:0];",
}


@pytest.mark.parametrize("name", list(OUTSIDE))
def test_record_value_outside_its_field_wraps(tmp_path, name):
    generate_cosim_convert(toy_with(tmp_path, OUTSIDE[name]), tmp_path / "out")


def test_shift_by_the_width_or_more_gives_zero(tmp_path):
    """The reference's semantics, which the model matches (the cosim above): `a << b`
    keeps its width (the operand's width plus the amount's largest value, at most 1024
    bits), so an amount of that width or more gives 0."""
    spec = compile_spec(toy_with(tmp_path, "x : 64 = va << va;"))
    emit.write(emit.render(spec), tmp_path / "out")
    text = next((tmp_path / "out").rglob("reference.py")).read_text()
    assert "min(" in text  # the reference bounds the amount: no huge number is built


UNIT = Path(__file__).resolve().parents[1] / "data" / "toy_unit.vspec"


@pytest.mark.parametrize("value", ["0 - event.port", "event.port << 5000", "event.port << event.port",
                                   "0x1234567890abcdef1"])
def test_unit_record_and_store_value_outside_its_field_wraps(tmp_path, value):
    """The same in a unit: the exit's record value (8-bit `code`, stored back to the
    structure) wraps, and a shift by a variable amount keeps its width."""
    text = UNIT.read_text()
    assert "        code = 1;" in text
    path = tmp_path / "toy_unit.vspec"
    path.write_text(text.replace("        code = 1;", f"        code = {value};"))
    generate_cosim_convert(path, tmp_path / "out", walks=60)


@pytest.mark.parametrize("fields", ["x : 64 = (va[0] ? 3 : 5) | (va[1] ? 0x100 : 0);",
                                    "x : 8 = fault | (va[2] ? 0x10 : 0x20);"])
def test_record_conditional_inside_an_operator_converts(tmp_path, fields):
    """`?:` inside `|`: the model hoists the conditional into a scratch variable (it
    crashed the converter: 'IfExp' object has no attribute 'signed')."""
    generate_cosim_convert(toy_with(tmp_path, fields), tmp_path / "out")


def test_four_hundred_faults_cosimulate_and_convert(tmp_path):
    """400 faults in a regime: the model's fault chain is flat (`if not found and COND:`),
    not 400 nested elifs (RecursionError in MyHDL's converter), and the status code is
    wide enough for 400 kinds."""
    text = TOY.read_text()
    anchor = "    fault reserved when rsvd;\n"
    assert anchor in text
    faults = "".join(f"    fault f{i} when A && va[20:12] == {i + 7};\n" for i in range(400))
    path = tmp_path / "toy.vspec"
    path.write_text(text.replace(anchor, anchor + faults))
    generate_cosim_convert(path, tmp_path / "out")


def test_four_hundred_faults_on_the_context_cosimulate(tmp_path):
    """400 faults that read the context, not the address: finding the fault sites no walk
    can reach (cosim.expected_coverage) built entries for minutes once; it is a proof
    from the IR now (stimulus.reach), which builds none."""
    text = TOY.read_text()
    anchor = "    fault reserved when rsvd;\n"
    faults = "".join(f"    fault f{i} when A && PTBR[11:3] == {i + 7};\n" for i in range(400))
    path = tmp_path / "toy.vspec"
    path.write_text(text.replace(anchor, anchor + faults))
    spec = compile_spec(path)
    out = tmp_path / "out"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, 20, seed=5)
    assert report.mismatches == 0, report.as_json()


def test_a_spec_whose_every_walk_faults_cosimulates(tmp_path):
    """`fault invalid when 1;`: no entry lets a walk go on, so the stimulus ends each walk
    with a fault it can draw (it stopped with 'cannot build stimulus'), and coverage
    counts the faults."""
    text = TOY.read_text()
    assert "    fault invalid when !V;" in text
    path = tmp_path / "toy.vspec"
    path.write_text(text.replace("    fault invalid when !V;", "    fault invalid when 1;"))
    spec = compile_spec(path)
    out = tmp_path / "out"
    emit.write(emit.render(spec), out)
    report = cosim.run(spec, out, 50, seed=5)
    assert report.mismatches == 0, report.as_json()
    assert report.transactions == 50
    assert report.coverage["top fault invalid"] == 50, report.coverage


@pytest.mark.parametrize("value", ["2", "access.user + 2"])
def test_an_access_binding_takes_the_low_bit_of_its_value(tmp_path, value):
    """An access kind is one bit: `user = 2;` in a nested `final access` is 0 in both
    models (the reference passed 2 on, the model took it as true: exitinfo1 differed).
    Found by the fuzzer's back-end stage."""
    specs = Path(__file__).resolve().parents[2] / "specs"
    for f in specs.glob("*.vspec"):
        shutil.copy(f, tmp_path / f.name)
    text = (specs / "amd_npt.vspec").read_text()
    old = "        write = access.write;\n        user = 1;"
    assert old in text
    path = tmp_path / "amd_npt.vspec"
    path.write_text(text.replace(old, f"        write = access.write;\n        user = {value};"))
    generate_cosim_convert(path, tmp_path / "out", walks=30)


def toy_edited(tmp_path: Path, old: str, new: str) -> Path:
    text = TOY.read_text()
    assert old in text
    path = tmp_path / "toy.vspec"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("fault", [
    "fault wide when va[13:12] == 0x10000000000000001;",  # past the width of va[13:12]: never
    "fault wide when va[29:12] != 0x80000001 && (va << 20) == 0x100000000;",
])
def test_a_condition_compares_with_a_constant_of_2_pow_31_or_more(tmp_path, fault):
    """VHDL integers are 32-bit: `x == 0x10000000000000001` in a fault condition was
    written as an integer literal, which GHDL refuses ('literal beyond integer bounds')."""
    path = toy_edited(tmp_path, "    fault invalid when !V;", "    fault invalid when !V;\n    " + fault)
    generate_cosim_convert(path, tmp_path / "out")


def test_an_ordering_against_a_wide_constant_is_refused(tmp_path):
    from codegen.frontend.diagnostics import SpecError
    path = toy_edited(tmp_path, "    fault invalid when !V;",
                      "    fault invalid when !V;\n    fault wide when (va << 20) > 0x100000000;")
    with pytest.raises(SpecError) as info:
        emit.render(compile_spec(path))
    assert "error[E0501]" in info.value.bag.render()


@pytest.mark.parametrize("old, new", [
    ("root PTBR.BASE << 12;", "root (PTBR.BASE[17:0] << 12) - 4096;"),  # "cannot build a table for it"
    ("root PTBR.BASE << 12;", "root (PTBR.BASE << 12) + 8192;"),
    ("BASE [MAXPHYADDR-1:12];", "BASE [30:12];"),  # a root field narrower than the pointers
])
def test_a_root_expression_cosimulates(tmp_path, old, new):
    """The stimulus places the first table where the root expression can point: through
    an added or subtracted constant, and below the root field's reach (the fuzzer's back
    end found `value 0x8f8e918 does not fit ROOT`)."""
    generate_cosim_convert(toy_edited(tmp_path, old, new), tmp_path / "out")


def test_a_unit_walk_binding_shifted_past_its_width_cosimulates(tmp_path):
    """`ROOT = (x << 0xffffffffffffffff) | y` in a unit's walk binding: the shift keeps
    its width, so the bits are gone (0); the stimulus' IR evaluator raised 'shift amount
    out of range' instead. Found by the fuzzer's back-end stage."""
    data = TOY.parent
    shutil.copy(data / "toy_skip.vspec", tmp_path / "toy_skip.vspec")
    text = (data / "toy_skip_unit.vspec").read_text()
    old = "ROOT = (dev.e.ROOT << 12)"
    path = tmp_path / "toy_skip_unit.vspec"
    path.write_text(text.replace(old, "ROOT = (dev.e.ROOT << 0xffffffffffffffff)"))
    generate_cosim_convert(path, tmp_path / "out", walks=20)


@pytest.mark.parametrize("old, new", [
    # a subtraction below zero in a condition wraps (MyHDL's own `-` gave -1, never 3)
    ("    fault invalid when !V;", "    fault invalid when !V;\n    fault neg when (va[13:12] - 3) == 3;"),
    ("    check write_protect", "    check neg when (va[13:12] - 3) == 3;\n    check write_protect"),
    ("    fault invalid when !V;", "    fault invalid when !V;\n    fault shl when (va[13:12] << 70) != 0;"),
    # the root: a 40-bit subtraction wraps (fitted to the address's width through scratch
    # variables, no longer refused with E0501)
    ("root PTBR.BASE << 12;", "root (PTBR.BASE << 12) - 4096;"),
    # the start level: PTBR[0] = 0 gives (0 - 1) + 1, which wraps to level 2
    ("start level 2;", "start level (PTBR[0] - 1) + 1;"),
    # an accumulator's first value below zero, wrapped to the accumulator
    ("accumulate w = 1 then w && W;", "accumulate w = 1 then w && W;\n    accumulate s = va[1:0] - 3 then s;\n"
                                      "    check sneg when s == 3;"),
    # an accumulator whose `then` names itself and is wider than its init: the `then` reads
    # it at its final width (it read it at the init's, and cosim hit an intbv bounds error),
    # and the subtraction's 2**72 bias is no VHDL integer literal
    ("accumulate w = 1 then w && W;", "accumulate w = 1 then w && W;\n    accumulate s = 3 then (s - W) << 70;\n"
                                      "    check odd when s == 5;"),
])
def test_expressions_wrap_at_every_site(tmp_path, old, new):
    """Fault and check conditions, the start level and accumulators wrap a subtraction
    and a shift to their width in the model as the reference does (README, expression
    widths): the start level gave 60 mismatches in 60 walks, an accumulator an intbv
    bounds error in cosim and a VHDL `and` on signed operands GHDL refused."""
    generate_cosim_convert(toy_edited(tmp_path, old, new), tmp_path / "out")


@pytest.mark.parametrize("old, new", [
    # a 40-bit value: no VHDL mask constant (the root, computed through scratch variables
    # since it is fitted to the address's width, wraps it: test_expressions_wrap_at_every_site)
    ("    fault invalid when !V;", "    fault invalid when !V;\n    fault low when ((PTBR.BASE << 12) - 4096) == 0;"),
    ("    fault invalid when !V;", "    fault invalid when !V;\n    fault shl when (va << va) == 1;"),
])
def test_a_value_an_inline_expression_cannot_wrap_is_refused(tmp_path, old, new):
    """Where a value cannot be wrapped in line (wider than 30 bits, or shifted by a
    variable amount past its width), the emitters refuse it with E0501."""
    from codegen.frontend.diagnostics import SpecError
    with pytest.raises(SpecError) as info:
        emit.render(compile_spec(toy_edited(tmp_path, old, new)))
    assert "error[E0501]" in info.value.bag.render() and "cannot be wrapped" in info.value.bag.render()


def test_a_unit_exit_record_bit_range_takes_the_low_bits_of_a_wide_constant(tmp_path):
    """`a [1:0] = 65;` in a unit's exit record: the bits take 65's low bits (1) in both
    models; the model raised 'intbv[i:j] = v abs(v) too large'. Found by the fuzzer's
    back-end stage."""
    text = (TOY.parent / "toy_unit.vspec").read_text()
    path = tmp_path / "toy_unit.vspec"
    path.write_text(text.replace("a [1:0] = 2;", "a [1:0] = 65;"))
    generate_cosim_convert(path, tmp_path / "out", walks=60)


def test_a_host_register_binding_takes_the_low_bits_of_its_value(tmp_path):
    """`CR4 = HCR4.LA57 << 4K;` binds a 4097-bit value to a 64-bit host register: both
    models take its low bits (0); the model raised an intbv bounds error. Found by the
    fuzzer's back-end stage."""
    specs = Path(__file__).resolve().parents[2] / "specs"
    for f in specs.glob("*.vspec"):
        shutil.copy(f, tmp_path / f.name)
    text = (specs / "amd_npt.vspec").read_text()
    old = "CR4 = HCR4.LA57 << 12;"
    assert old in text
    path = tmp_path / "amd_npt.vspec"
    path.write_text(text.replace(old, "CR4 = HCR4.LA57 << 4K;"))
    generate_cosim_convert(path, tmp_path / "out", walks=30)
