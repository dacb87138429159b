"""codegen/verify/stimulus/drop_operands.py: invalidation operands whose command-word fields
hit an entry the reference holds, on the toy tests/data/toy_cmd_inval.vspec (its
invalidations take 64-bit words with the routing ID at bits 27:16 or 43:32, the kind at
49:48, the write bit at 52, the page address at 63:12 and a size bit at 0).

Each derived operand is checked against the generated reference's own `drop_holds` (the
semantics of the drop condition), not against a copy of the derivation."""
import random
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.ir.expr import Expr, num
from codegen.verify import harness, seqcosim
from codegen.verify.stimulus import drop_operands, unit_sequence
from codegen.verify.stimulus.drop_operands import hit_operands, operand_piece

DATA = Path(__file__).resolve().parents[2] / "data"
TOY = DATA / "toy_cmd_inval.vspec"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = compile_spec(TOY)
    out = tmp_path_factory.mktemp("toy_cmd_inval") / "toy_cmd_inval"
    emit.write(emit.render(spec), out)
    return spec, out, harness.load_generated(out)[0]


def entry(ref, key, rid, write, kind):
    """An answer of cache `answers` (tags rid, write, kind in declaration order) for the
    4 KiB page `key` (key << 12 is its address)."""
    return ref.Entry(key, 0, [rid, write, kind], 0, 0, (), 12)


def invalidation(spec, name):
    return next(i for i in spec.top.invalidations if i.name == name)


@pytest.mark.parametrize("name, drawn, want", [
    # w0[3:0] == 1 and entry.rid == w0[27:16]: rid 0xA44 -> bits 27:16, opcode 1 -> bits 3:0;
    # the other bits of the drawn word (bits 63:28 = 0xFFFF_FFFF_F, bits 15:4 = 0xFFF) stay
    ("inv_rid", {"w0": 0xFFFF_FFFF_FFFF_FFF0}, {"w0": 0xFFFF_FFFF_FA44_FFF1}),
    # rid -> w0[43:32] = 0xA44, kind 2 -> w0[49:48], write 1 -> w0[52]; covers(w1[63:12] << 12)
    # -> w1[63:12] = page 0x485 (address 0x48_5000); w1's bits 11:0 (0xABC) stay
    ("inv_page", {"w0": 0, "w1": 0xABC}, {"w0": 1 << 52 | 2 << 48 | 0xA44 << 32, "w1": 0x48_5ABC}),
    # rid -> w0[27:16]; within(w1[63:12] << 12, ...) -> w1[63:12] = 0x485, size bit 0 stays set
    ("inv_range", {"w0": 0, "w1": 0xFFFF_FFFF_FFFF_FFFF}, {"w0": 0xA44 << 16, "w1": 0x48_5FFF}),
])
def test_fields_of_the_command_words_get_the_entry_values(toy, name, drawn, want):
    spec, _out, ref = toy
    en = entry(ref, 0x485, 0xA44, 1, 2)
    got = hit_operands(invalidation(spec, name), spec.top.caches[0], en, drawn)
    assert got == want
    assert ref.drop_holds("answers", name, en, got, {})
    assert not ref.drop_holds("answers", name, en, drawn, {})


def test_random_drawn_words_always_hit_and_stay_in_range(toy):
    """Whatever was drawn, the derived words drop the target and stay 64-bit values."""
    spec, _out, ref = toy
    rnd = random.Random(7)
    for _ in range(300):
        en = entry(ref, rnd.getrandbits(18), rnd.getrandbits(12), rnd.getrandbits(1), rnd.getrandbits(2))
        inv = invalidation(spec, rnd.choice(["inv_rid", "inv_page", "inv_range"]))
        drawn = {o.name: rnd.getrandbits(64) for o in inv.operands}
        got = hit_operands(inv, spec.top.caches[0], en, drawn)
        assert all(isinstance(v, int) and 0 <= v < 1 << 64 for v in got.values())
        assert ref.drop_holds("answers", inv.name, en, got, {})


def test_a_condition_of_no_known_shape_keeps_the_drawn_operands(toy):
    spec, _out, ref = toy
    inv = invalidation(spec, "inv_rid")
    w0 = inv.drops[0].when.args[1].args[1].args[0]       # the operand w0 (a ref)
    rid = inv.drops[0].when.args[1].args[0]              # entry.rid
    odd = [Expr(op=">", args=(w0, rid), width=1),         # an order, not an equality
           Expr(op="==", args=(Expr(op="+", args=(w0, rid), width=64), num(5)), width=1)]  # both sides mixed
    for cond in odd:
        shaped = inv.model_copy(update={"drops": (inv.drops[0].model_copy(update={"when": cond}),)})
        assert hit_operands(shaped, spec.top.caches[0], entry(ref, 1, 2, 0, 1), {"w0": 0x1234}) == {"w0": 0x1234}
    # a left shift whose low bits the entry's value cannot match fixes nothing
    assert operand_piece(Expr(op="<<", args=(w0, num(4)), width=64)) == ("w0", 0, 64, 4)
    assert not drop_operands._put({"w0": 9}, {"w0": 64}, ("w0", 0, 64, 4), 0x13)


def drops(spec, out, n):
    report = seqcosim.run(spec, out, n, seed=2, length=40, model=False)
    return report.drops


def test_drawn_sequences_now_drop_entries(toy, monkeypatch):
    """Measured on 12 sequences of 40 steps (seed 2): with the operands drawn as before
    (the pass switched off) the command-word invalidations drop 0-1 entries in all; with
    it, each drops tens (inv_rid 40 and more, inv_page and inv_range over 10)."""
    spec, out, _ref = toy
    after = drops(spec, out, 12)
    monkeypatch.setattr(unit_sequence, "hit_operands", lambda _inv, _cache, _en, drawn: drawn)
    before = drops(spec, out, 12)
    assert before["inv_rid"] + before["inv_page"] <= 2
    assert after["inv_rid"] >= 20 and after["inv_page"] >= 8 and after["inv_range"] >= 8


def test_sequence_cosim_of_the_toy_on_myhdl_agrees(toy):
    spec, out, _ref = toy
    report = seqcosim.run(spec, out, 6, seed=2, length=40)
    assert report.compared and report.mismatches == [] and report.violations == []
    assert {"invalidate inv_rid drops", "invalidate inv_page drops", "invalidate inv_range drops"} <= report.covered
