"""Decision units (notes/unit-language.md): elaboration of tests/data/toy_unit.vspec, the
unit errors of elaboration and checks (code and line:col), the generated reference on
hand-built memory images, the MyHDL model against the reference (random scenarios,
`cosim.run`, hypothesis), and the MyHDL text of lower.Hoist through both HDL converters."""
from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from snippets import codes, compile_text, edit, loc, note_loc, only, where, write

from codegen import ir
from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from codegen.verify.stimulus.translation import Draw, Scenario
from codegen.verify.stimulus.unit import UnitScenarioFactory, scenarios

TOY_PATH = Path(__file__).resolve().parents[1] / "data" / "toy_unit.vspec"
TOY = TOY_PATH.read_text()
TIMING = harness.Timing(1, 4, 20)

IO, HALT = 1, 2          # enum ev_kind of the toy
BASE = 0x7000            # the control block: blk.base << 12
MAP = 0x20000            # the I/O bitmap (ctl.io_map), 8-byte aligned
FLAG_IO, FLAG_HALT = 1, 2


def generate(spec: ir.Spec, directory: Path):
    """Render the spec, write reference.py and model.py, and load both."""
    directory.mkdir(parents=True, exist_ok=True)
    files = emit.render(spec)
    assert set(files) == {"reference.py", "model.py"}
    for name, text in files.items():
        (directory / name).write_text(text)
    return harness.load_generated(directory)


def compile_ok(tmp_path: Path, text: str, name: str = "t.vspec") -> ir.Spec:
    return compile_spec(write(tmp_path, text, name), DiagnosticBag())


@pytest.fixture(scope="module")
def toy():
    return compile_spec(TOY_PATH)


@pytest.fixture(scope="module")
def toy_dir(toy, tmp_path_factory):
    directory = tmp_path_factory.mktemp("units") / "toy_unit"
    generate(toy, directory)
    return directory


@pytest.fixture(scope="module")
def toy_gen(toy_dir):
    return harness.load_generated(toy_dir)


# ---------------------------------------------------------------- parsing and elaboration
def test_toy_unit_elaborates(toy):
    u = toy.top
    assert isinstance(u, ir.Unit) and u.name == "toy_unit" and toy.units == (u,)
    assert [(f.name, f.width, f.enum) for f in u.event] == [("kind", 4, "ev_kind"), ("port", 16, None), ("size", 3, None)]
    assert u.context == ("blk",)
    (ctl,) = u.structures
    assert (ctl.name, ctl.size) == ("ctl", 64)
    assert [(f.name, f.offset, f.width, f.word, f.lo, f.format) for f in ctl.fields] == [
        ("flags", 0x0, 32, 0x0, 0, "flagbits"),
        ("io_map", 0x8, 64, 0x8, 0, None),
        ("code", 0x10, 64, 0x10, 0, None),
    ]
    # the base reads the register field blk.base ([63:12]) shifted back up
    assert ctl.base.op == "<<" and ctl.base.args[1].value == 12
    assert (ctl.base.args[0].kind, ctl.base.args[0].name, ctl.base.args[0].lo, ctl.base.args[0].width) == ("ctx", "blk", 12, 52)
    (bm,) = u.bitmaps
    assert (bm.name, bm.width) == ("io_bits", 4)
    assert (bm.base.kind, bm.base.name, bm.base.lo, bm.base.width) == ("struct", "ctl.io_map", 0, 64)
    assert (bm.index.kind, bm.index.name) == ("event", "port")
    assert (bm.span_bits.kind, bm.span_bits.name) == ("event", "size")
    assert bm.when.op == "&&"
    flags_io = bm.when.args[1]  # ctl.flags.io: bit 0 of the flags word
    assert (flags_io.op, flags_io.kind, flags_io.name, flags_io.lo, flags_io.width) == ("ref", "struct", "ctl.flags", 0, 1)
    assert u.record.name == "info"
    assert [(f.name, f.width, f.store) for f in u.record.fields] == [("code", 8, ("ctl", "code"))]
    assert [x.name for x in u.exits] == ["io", "halt"]
    io, halt = u.exits
    assert io.assigns[0].field == "code" and io.assigns[0].value.value == 1
    (bits,) = halt.assigns[0].bits
    assert (bits.name, bits.hi, bits.lo, bits.value.value) == ("a", 1, 0, 2)


def test_toy_reference_constants(toy_gen):
    ref, model = toy_gen
    assert harness.is_unit(ref)
    assert ref.EVENT == ["kind", "port", "size"] and ref.EVENT_WIDTHS == [4, 16, 3]
    assert ref.CONTEXT == ["blk"] and ref.EXITS == ["io", "halt"]
    assert ref.RECORD == "info" and ref.RECORD_FIELDS == ["code"]
    assert [harness.port_of(ref, k) for k in ("kind", "port", "size", "blk")] == ["e_kind", "e_port", "e_size", "r_blk"]
    assert {harness.port_of(ref, k) for k in ref.EVENT + ref.CONTEXT} <= set(model.PORT_ORDER)


# a variant of the toy: a format-typed field in the upper half of word 0, and a halt rule
# that reads the flags at a dynamic bit index
SUB = edit(TOY,
           "    halt [1];\n}\n",
           "    halt [1];\n}\nformat modebits : 32 {\n    en [0];\n    mode [5:3];\n}\n",
           "        io_map at 0x8 : 64;", "        more at 0x4 : modebits;\n        io_map at 0x8 : 64;",
           "exit halt when event.kind == ev_kind.HALT && ctl.flags[1]",
           "exit halt when event.kind == ev_kind.HALT && ctl.flags[event.kind] && ctl.more.mode == 5")


def test_format_subfield_and_dynamic_bit_index_resolve(tmp_path):
    spec = compile_ok(tmp_path, SUB)
    u = spec.top
    more = u.structure("ctl").field("more")
    assert (more.offset, more.width, more.word, more.lo, more.format) == (4, 32, 0, 32, "modebits")
    when = u.exits[1].when  # (kind == HALT && flags[kind]) && more.mode == 5
    dyn, mode = when.args[0].args[1], when.args[1].args[0]
    assert dyn.op == "bit" and dyn.width == 1
    assert (dyn.args[0].kind, dyn.args[0].name, dyn.args[0].lo, dyn.args[0].width) == ("struct", "ctl.flags", 0, 32)
    assert (dyn.args[1].op, dyn.args[1].kind, dyn.args[1].name) == ("ref", "event", "kind")
    # ctl.more.mode: bits [5:3] of a field at bit 32 of word 0 -> bits 35..37 of the word
    assert (mode.op, mode.kind, mode.name, mode.lo, mode.width) == ("ref", "struct", "ctl.more", 35, 3)

    ref, model = generate(spec, tmp_path / "sub_unit")

    def halt(word0):
        mem, trace = {BASE: word0, BASE + 8: MAP}, []
        out = ref.decide(mem, {"kind": HALT, "port": 0, "size": 0, "blk": BASE}, trace)
        # flags and more share word 0: it is read once, then the bitmap base word
        assert [a for op, a, _, _ in trace if op == 0] == [BASE, BASE + 8]
        return out

    assert halt((5 << 35) | (1 << HALT))["exit"]                 # flags bit `kind` (2), mode 5
    assert not halt((5 << 35) | (1 << 1))["exit"]                # bit 1 is not bit `kind`
    assert not halt((5 << 32) | (1 << HALT))["exit"]             # mode at the wrong bits
    assert not halt((4 << 35) | (1 << HALT))["exit"]
    factory = UnitScenarioFactory(spec)
    draw = Draw(random.Random(5))
    scs = [factory.make(draw) for _ in range(30)]
    scs.append(Scenario({"kind": HALT, "port": 0, "size": 0, "blk": BASE}, {BASE: (5 << 35) | (1 << HALT), BASE + 8: MAP}, 1))
    _agree(ref, model, scs)


# ---------------------------------------------------------------- errors
def _drop(text: str, line_start: str) -> str:
    """Drop the declarations that start with `line_start`, with their blocks."""
    lines, skip_to = [], None
    for x in text.split("\n"):
        if skip_to is not None:
            skip_to = None if x == skip_to else skip_to
        elif x.strip().startswith(line_start):
            skip_to = x[:len(x) - len(x.lstrip())] + "}" if x.endswith("{") else None
        else:
            lines.append(x)
    assert len(lines) < len(text.split("\n")), line_start
    return "\n".join(lines)


@pytest.mark.parametrize("what, missing, syntax", [
    ("event {", "an event", "`event { FIELD : WIDTH; ... }`"),
    ("record ", "a record", "`record NAME { FIELD : WIDTH; ... }`"),
    ("exit ", "an exit rule", "`exit NAME when COND { FIELD = EXPR; }`"),
])
def test_unit_without_event_record_or_exit(tmp_path, what, missing, syntax):
    text = _drop(TOY, what)
    d = only(compile_text(tmp_path, text), "E0306")
    assert loc(d) == where(text, "unit toy_unit")
    assert d.message == f"unit 'toy_unit' needs {missing}: add {syntax}"


def test_exit_assigning_an_unknown_record_field(tmp_path):
    text = edit(TOY, "    code = 1;", "    cod = 1;")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "cod = 1")
    assert "'cod', which is not a field of record 'info' (code)" in d.message


def test_store_to_a_structure_field_that_does_not_exist(tmp_path):
    text = edit(TOY, "store ctl.code", "store ctl.cod")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "ctl.cod;")
    assert "'ctl.cod' is not a structure field" in d.message and "ctl.code" in d.message


@pytest.mark.parametrize("extra, target, desc", [
    ("", "ctl.flags", "32 bits at byte 0x0"),                          # narrow
    ("        odd at 0x1c : 32;\n", "ctl.odd", "32 bits at byte 0x1c"),  # narrow and not word-aligned
])
def test_store_needs_a_whole_aligned_word(tmp_path, extra, target, desc):
    text = edit(TOY, "        code at 0x10 : 64;\n", "        code at 0x10 : 64;\n" + extra, "store ctl.code", f"store {target}")
    d = only(compile_text(tmp_path, text), "E0414")
    assert loc(d) == where(text, "code : 8 store")
    assert desc in d.message and "whole aligned 64-bit word" in d.message
    field = target.split(".")[1]
    assert note_loc(d) == where(text, f"{field} at 0x") and d.notes[0][0] == f"'{target}' is declared here"


def test_store_to_an_unaligned_64_bit_field(tmp_path):
    """The field crosses a word (E0413) and the store is unaligned (E0414): both reported."""
    text = edit(TOY, "        code at 0x10 : 64;\n", "        code at 0x10 : 64;\n        odd at 0x1c : 64;\n",
                "store ctl.code", "store ctl.odd")
    bag = compile_text(tmp_path, text)
    assert codes(bag) == ["E0413", "E0414"], bag.render()
    assert loc(bag.errors[0]) == where(text, "odd at 0x1c") and loc(bag.errors[1]) == where(text, "code : 8 store")


def test_two_record_fields_stored_to_one_word(tmp_path):
    text = edit(TOY, "        code : 8 store ctl.code;\n",
                "        code : 8 store ctl.code;\n        more : 8 store ctl.code;\n")
    d = only(compile_text(tmp_path, text), "E0414")
    assert loc(d) == where(text, "more : 8") and note_loc(d) == where(text, "code : 8 store")
    assert "two record fields are stored to 'ctl.code'" in d.message


def test_structure_field_crossing_a_word(tmp_path):
    text = edit(TOY, "        code at 0x10 : 64;", "        code at 0x10 : 64;\n        wide at 0x1c : 64;")
    d = only(compile_text(tmp_path, text), "E0413")
    assert loc(d) == where(text, "wide at 0x1c") and "crosses an aligned 8-byte word" in d.message


def test_structure_field_crossing_a_word_by_one_bit(tmp_path):
    text = edit(TOY, "        code at 0x10 : 64;", "        code at 0x10 : 64;\n        edge at 0x19 : 57;")
    d = only(compile_text(tmp_path, text), "E0413")
    assert loc(d) == where(text, "edge at 0x19")
    ok = edit(TOY, "        code at 0x10 : 64;", "        code at 0x10 : 64;\n        edge at 0x19 : 56;")
    assert compile_ok(tmp_path, ok, "ok.vspec").top.structure("ctl").field("edge").lo == 8


def test_structure_field_past_the_size(tmp_path):
    text = edit(TOY, "        code at 0x10 : 64;", "        code at 0x10 : 64;\n        late at 0x40 : 8;")
    d = only(compile_text(tmp_path, text), "E0401")
    assert loc(d) == where(text, "late at 0x40") and "0x40-byte size of structure 'ctl'" in d.message


def test_overlapping_structure_fields_have_a_note(tmp_path):
    text = edit(TOY, "        code at 0x10 : 64;", "        code at 0x10 : 64;\n        part at 0x12 : 8;")
    d = only(compile_text(tmp_path, text), "E0402")
    assert loc(d) == where(text, "part at 0x12") and note_loc(d) == where(text, "code at 0x10")
    assert "field 'code'" in d.notes[0][0] and "structure 'ctl'" in d.message


def test_bitmap_span_wider_than_the_bitmap(tmp_path):
    text = edit(TOY, "span event.size", "span 5")
    d = only(compile_text(tmp_path, text), "E0415")
    assert loc(d) == where(text, "5 when") and "spans 5 bits but is 4 bits wide" in d.message
    compile_ok(tmp_path, edit(TOY, "span event.size", "span 4"), "ok.vspec")


def test_duplicate_exit_names(tmp_path):
    text = edit(TOY, "exit halt", "exit io")
    d = only(compile_text(tmp_path, text), "E0201")
    assert loc(d) == where(text, "exit io", 2) and note_loc(d) == where(text, "exit io")
    assert "exit 'io' is defined twice" in d.message


def test_event_field_named_like_a_context_register(tmp_path):
    text = edit(TOY, "        size : 3;\n", "        size : 3;\n        blk : 4;\n")
    d = only(compile_text(tmp_path, text), "E0201")
    assert loc(d) == where(text, "blk : 4") and "context register" in d.message


def test_record_field_with_a_value_is_a_default_and_bit_ranges_are_refused(tmp_path):
    """A unit record field with a value is a default: every rule that does not assign it
    takes it (notes/unit-language.md); bit ranges there are still E0306."""
    text = edit(TOY, "        code : 8 store ctl.code;\n", "        code : 8 store ctl.code;\n        extra : 4 = 1;\n")
    bag = DiagnosticBag()
    unit = compile_spec(write(tmp_path, text), bag).top
    assert not bag.errors and all(a.default for x in unit.exits for a in x.assigns if a.field == "extra")
    assert [sum(a.field == "extra" for a in x.assigns) for x in unit.exits] == [1, 1]
    text = edit(TOY, "        code : 8 store ctl.code;\n",
                "        code : 8 store ctl.code;\n        extra : 4 { lo [1:0] = 1; }\n")
    d = only(compile_text(tmp_path, text), "E0306")
    assert loc(d) == where(text, "extra : 4") and "'extra : WIDTH;'" in d.message


def test_undefined_event_field_has_a_hint(tmp_path):
    text = edit(TOY, "event.kind == ev_kind.HALT", "event.kinf == ev_kind.HALT")
    d = only(compile_text(tmp_path, text), "E0301")
    assert loc(d) == where(text, "event.kinf")
    assert d.message == "undefined name 'event.kinf'; did you mean 'event.kind'?"


# ---------------------------------------------------------------- the toy reference
def _decide(ref, mem, kind, port=0, size=0, blk=BASE | 0xabc):
    """decide() on a copy of `mem`: (outcome, trace, final memory). blk's low 12 bits are
    not part of blk.base, so the structure is still at BASE."""
    mem = dict(mem)
    trace = []
    out = ref.decide(mem, {"kind": kind, "port": port, "size": size, "blk": blk}, trace)
    return out, trace, mem


def _image(flags=FLAG_IO, bitmap=None):
    mem = {BASE: flags, BASE + 8: MAP}
    mem.update(bitmap or {})
    return mem


def _reads(*pairs):
    return [(0, a, 8, v) for a, v in pairs]


def test_io_with_bits_clear_is_no_exit_and_no_write(toy_gen):
    ref, _ = toy_gen
    mem = _image(bitmap={MAP: ~(0b11 << 5) & (2**64 - 1)})  # every bit but 5 and 6
    out, trace, after = _decide(ref, mem, IO, port=5, size=2)
    assert out == {"exit": False}
    assert trace == _reads((BASE, FLAG_IO), (BASE + 8, MAP), (MAP, mem[MAP]))
    assert after == mem


@pytest.mark.parametrize("port, size, bit", [(5, 2, 5), (5, 2, 6), (0x103, 1, 0x103)])
def test_io_with_a_bit_set_exits_and_stores_the_code(toy_gen, port, size, bit):
    ref, _ = toy_gen
    word = MAP + (bit // 64) * 8
    mem = _image(bitmap={word: 1 << (bit % 64)})
    out, trace, after = _decide(ref, mem, IO, port=port, size=size)
    assert out == {"exit": True, "rule": "io", "fields": {"code": 1}}
    assert trace == _reads((BASE, FLAG_IO), (BASE + 8, MAP), (word, 1 << (bit % 64))) + [(1, BASE + 0x10, 8, 1)]
    assert after == {**mem, BASE + 0x10: 1}


@pytest.mark.parametrize("low, high, taken", [
    (1 << 63, 0, True),         # bit 62 + 1 in the first word
    (0, 1 << 1, True),          # bit 62 + 3 in the second word
    (1 << 61, 1 << 2, False),   # bits just outside 62 .. 65 on both sides
])
def test_span_crossing_a_word_reads_two_words_in_order(toy_gen, low, high, taken):
    ref, _ = toy_gen
    mem = _image(bitmap={MAP: low, MAP + 8: high})
    out, trace, after = _decide(ref, mem, IO, port=62, size=4)
    assert out["exit"] is taken
    reads = _reads((BASE, FLAG_IO), (BASE + 8, MAP), (MAP, low), (MAP + 8, high))
    assert trace == reads + ([(1, BASE + 0x10, 8, 1)] if taken else [])
    assert after == ({**mem, BASE + 0x10: 1} if taken else mem)


def test_span_is_capped_at_the_bitmap_width(toy_gen):
    ref, _ = toy_gen
    assert not _decide(ref, _image(bitmap={MAP: 1 << 4}), IO, port=0, size=7)[0]["exit"]
    assert _decide(ref, _image(bitmap={MAP: 1 << 3}), IO, port=0, size=7)[0]["exit"]


@pytest.mark.parametrize("flags, size", [(FLAG_IO, 0), (0, 2)])
def test_no_lookup_for_span_zero_or_when_false(toy_gen, flags, size):
    """Span 0, or the bitmap's `when` false (flags.io clear): nothing is read, the value is 0."""
    ref, _ = toy_gen
    mem = _image(flags=flags, bitmap={MAP: 2**64 - 1})
    out, trace, after = _decide(ref, mem, IO, port=0, size=size)
    assert out == {"exit": False}
    assert trace == _reads((BASE, flags), (BASE + 8, MAP)) and after == mem


@pytest.mark.parametrize("flags, taken", [(FLAG_HALT, True), (FLAG_IO, False), (FLAG_HALT | (1 << 33), True)])
def test_halt_rule(toy_gen, flags, taken):
    ref, _ = toy_gen
    mem = _image(flags=flags, bitmap={MAP: 2**64 - 1})
    out, trace, after = _decide(ref, mem, HALT, port=0, size=3)
    reads = _reads((BASE, flags), (BASE + 8, MAP))  # no bitmap: its `when` wants an IO event
    if taken:
        assert out == {"exit": True, "rule": "halt", "fields": {"code": 2}}
        assert trace == reads + [(1, BASE + 0x10, 8, 2)] and after == {**mem, BASE + 0x10: 2}
    else:
        assert out == {"exit": False} and trace == reads and after == mem


def test_trace_order_is_words_then_bitmap_then_stores(toy_gen):
    """The store-only field ctl.code is never read; every reference is in contract order."""
    ref, _ = toy_gen
    mem = _image(bitmap={MAP + 0x18: 1 << 63, MAP + 0x20: 0})
    mem[BASE + 0x10] = 0x5555  # overwritten by the store
    out, trace, after = _decide(ref, mem, IO, port=3 * 64 + 63, size=2)
    assert out["rule"] == "io"
    assert [(op, a) for op, a, _, _ in trace] == [(0, BASE), (0, BASE + 8), (0, MAP + 0x18), (0, MAP + 0x20),
                                                  (1, BASE + 0x10)]
    assert after[BASE + 0x10] == 1


def test_hand_built_images_agree_with_the_model(toy_gen):
    ref, model = toy_gen
    scs = [
        Scenario({"kind": IO, "port": 5, "size": 2, "blk": BASE}, _image(bitmap={MAP: 1 << 6}), 1),
        Scenario({"kind": IO, "port": 5, "size": 2, "blk": BASE}, _image(), 2),
        Scenario({"kind": IO, "port": 62, "size": 4, "blk": BASE}, _image(bitmap={MAP + 8: 2}), 3),
        Scenario({"kind": IO, "port": 62, "size": 0, "blk": BASE}, _image(bitmap={MAP + 8: 2}), 4),
        Scenario({"kind": IO, "port": 0xffff, "size": 7, "blk": BASE}, _image(bitmap={MAP + 0x1ff8: 1 << 63}), 5),
        Scenario({"kind": HALT, "port": 0, "size": 0, "blk": BASE | 0xfff}, _image(flags=FLAG_HALT), 6),
        Scenario({"kind": HALT, "port": 0, "size": 0, "blk": BASE}, _image(flags=FLAG_IO), 7),
    ]
    runs = _agree(ref, model, scs)
    assert [r.outcome.get("rule") for r in runs] == ["io", None, "io", None, "io", "halt", None]


# ---------------------------------------------------------------- the model against the reference
def _agree(ref, model, scs, timing=TIMING):
    ref_runs = [harness.run_reference(ref, sc) for sc in scs]
    model_runs = harness.run_model(model, ref, scs, timing)
    assert len(model_runs) == len(scs)
    for sc, a, b in zip(scs, ref_runs, model_runs):
        diff = harness.compare(a, b)
        assert not diff, "\n".join(diff) + "\n" + harness.describe(sc)
        assert b.cycles > 0
    return model_runs


def test_model_agrees_on_random_scenarios(toy, toy_gen):
    ref, model = toy_gen
    factory = UnitScenarioFactory(toy)
    draw = Draw(random.Random(2024))
    scs = [factory.make(draw) for _ in range(50)]
    runs = _agree(ref, model, scs)
    rules = {r.outcome.get("rule") for r in runs}
    assert rules == {"io", "halt", None}, rules  # the scenarios reach every outcome
    # a run with more references takes more cycles than the minimum: one per reference at least
    assert all(r.cycles >= len(r.trace) for r in runs)


def test_cosim_run_on_the_toy_unit(toy, toy_dir):
    report = cosim.run(toy, toy_dir, 300, seed=1)
    assert report.transactions == 300 and report.noun == "event" and report.kind == "unit"
    assert report.mismatches == 0, [f.what for f in report.failures]
    assert report.missing == []
    assert set(report.coverage) >= {"no exit", "exit io", "exit halt"}
    data = report.as_json()
    assert data["transactions"] == 300 and data["mismatches"] == 0 and data["kind"] == "unit"
    assert data["cycles"]["mean"] > 0 and data["memory_references"]["max"] >= 3
    assert data["coverage"]["percent"] == 100.0


def test_hypothesis_scenarios_agree(toy, toy_gen):
    ref, model = toy_gen

    @settings(max_examples=10, deadline=None,  # each example simulates the MyHDL model (25 took 47 s in CI)
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(scenarios(toy))
    def check(sc):
        _agree(ref, model, [sc])

    check()


# ---------------------------------------------------------------- lower.Hoist: text that converts
HOIST = """\
spec hoist_t;
enum op_kind : 2 { A = 1; B = 2; }
register ctxr : 64 { base [63:12]; mode [3:0]; }
unit hoisty cite "test" {
    event { k : 2 enum op_kind; a : 8; b : 8; c : 4; wide : 40; }
    context ctxr;
    structure blk : 32 at ctxr.base << 12 {
        flags at 0x0 : 16;
        lim at 0x2 : 8;
        out at 0x8 : 64;
    }
    let t = event.a + event.b;
    record info { val : 16 store blk.out; aux : 8; }
    exit big when event.wide == 0x80000000 || event.wide > 0x9000000000 { val = (event.a == 3) + 1; aux = t[3:1]; }
    exit mix when event.k == op_kind.A && ((event.a > blk.lim ? event.a - blk.lim : 0) + 1) > 4 {
        val = (event.a >= event.b ? event.a - event.b : event.b - event.a) + (event.c > 7 ? 1 : 2);
        aux = (event.b >> event.c) + (event.a << event.c);
    }
    exit dyn when blk.lim[event.c] && ctxr.mode == 3 { val = t - 1; aux = event.a - event.b; }
    exit shift when ((blk.flags >> event.c) & 1) == 1 { val = ctxr.mode[event.c]; }
}
"""


@pytest.fixture(scope="module")
def hoist_gen(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hoist")
    spec = compile_ok(tmp, HOIST, "hoist_unit.vspec")
    return spec, generate(spec, tmp / "hoist_unit")


def test_hoisted_model_agrees_with_the_reference(hoist_gen):
    spec, (ref, model) = hoist_gen
    factory = UnitScenarioFactory(spec)
    draw = Draw(random.Random(7))
    scs = [factory.make(draw) for _ in range(100)]
    blk = 0x3000 | 3  # ctxr.mode == 3
    scs += [  # the edges, by hand: a - b below zero on the branch not taken, t - 1 at t = 0
        Scenario({"k": 1, "a": 3, "b": 9, "c": 8, "wide": 0x80000000, "ctxr": blk}, {}, 1),
        Scenario({"k": 1, "a": 200, "b": 250, "c": 15, "wide": 0, "ctxr": blk}, {0x3000: 5 << 16}, 2),
        Scenario({"k": 2, "a": 0, "b": 0, "c": 2, "wide": 0, "ctxr": blk}, {0x3000: 1 << 18}, 3),
        Scenario({"k": 2, "a": 1, "b": 2, "c": 12, "wide": 0x9000000001, "ctxr": blk}, {}, 4),
    ]
    runs = _agree(ref, model, scs)
    assert {r.outcome.get("rule") for r in runs} == {"big", "mix", "dyn", "shift", None}
    edge = [r.outcome for r in runs[-4:]]
    assert edge[0] == {"exit": True, "rule": "big", "fields": {"val": 2, "aux": 6}}  # (3 == 3) + 1; (3 + 9)[3:1]
    assert edge[1] == {"exit": True, "rule": "mix", "fields": {"val": 50 + 1, "aux": (250 >> 15) + ((200 << 15) & 0xff)}}
    assert edge[2] == {"exit": True, "rule": "dyn", "fields": {"val": 0x1ff, "aux": 0}}  # t - 1 at t = 0: 9 bits
    assert edge[3] == {"exit": True, "rule": "big", "fields": {"val": 1, "aux": 1}}


def _hdl_check(model, tmp_path):
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog is not installed")
    files = hdl.convert(model, "Verilog", tmp_path / "verilog")
    assert [f.name for f in files] == ["model.v"]
    ok, messages = hdl.compile_verilog(files)
    assert ok, messages


def test_hoisted_model_converts_to_verilog(hoist_gen, tmp_path):
    _, (_, model) = hoist_gen
    _hdl_check(model, tmp_path)


def test_hoisted_model_converts_to_vhdl(hoist_gen, tmp_path):
    _, (_, model) = hoist_gen
    files = hdl.convert(model, "VHDL", tmp_path / "vhdl")
    assert "model.vhd" in {f.name for f in files}
    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed")
    # VHDL integers are 32-bit: a wide constant must not be written as an integer literal
    # (GHDL analyses it with only a warning, and the simulation fails at run time)
    text = "\n".join(f.read_text() for f in files)
    assert not [n for n in re.findall(r"(?<![\"\w])\d{10,}(?![\"\w])", text) if int(n) >= 1 << 31]
    ok, messages = hdl.analyse_vhdl(files)
    assert ok and messages.strip() == "", messages


CONST_SHIFT = edit(HOIST, "aux = (event.b >> event.c) + (event.a << event.c);",
                   "aux = (event.b >> event.c) + (1 << event.c);")


def test_constant_shifted_by_an_event_field_converts_to_verilog(tmp_path):
    spec = compile_ok(tmp_path, CONST_SHIFT, "const_shift.vspec")
    ref, model = generate(spec, tmp_path / "const_shift")
    factory = UnitScenarioFactory(spec)
    draw = Draw(random.Random(8))
    _agree(ref, model, [factory.make(draw) for _ in range(40)])
    _hdl_check(model, tmp_path)


def test_constant_shifted_by_an_event_field_converts_to_vhdl(tmp_path):
    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed")
    spec = compile_ok(tmp_path, CONST_SHIFT, "const_shift.vspec")
    _, model = generate(spec, tmp_path / "const_shift")
    ok, messages = hdl.analyse_vhdl(hdl.convert(model, "VHDL", tmp_path / "vhdl"))
    assert ok, messages
