"""A walk's accumulators read by a unit after a success (codegen/frontend/elaborate/unit.py
`_read_accs`, scope.py `_walk_acc`): what the walk records (Walk.accs), a call's inlined
walk, and the refusals E0361 (a name a member of the walk has, in any case), E0362 (a
cache in front of the walk) and E0363 (a host accumulator)."""
from __future__ import annotations

from pathlib import Path

from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import compile_spec
from tests.snippets import compile_text, only, write

DATA = Path(__file__).resolve().parents[1] / "data"

REGIME = """\
spec t;
register R : 64 { BASE [39:12]; }
format e : 64 { V [0]; W [1]; K [3:2]; ADDR [39:12]; }
regime r {
    input va : 21; access write; context R; entry 8; root R.BASE << 12; start level 0;
    pointer ADDR; frame ADDR;
    level 0 l0 { index va[20:12]; leaf e page 4K; }
    fault invalid when !V;
    accumulate w = 1 then w && W;
    accumulate k = 0 then k | K;
    accumulate CODEx = 0 then 1;
    record f { code : 8 = fault; CODEX : 1 = 0; }
}
unit u {
    event { va : 21; }
    context R;
    walk t : r input event.va access { write = 0; } with { R = R; };
    record info { x : 8; }
    exit e when t.ok { x = READ; }
}
"""


def _compile(tmp_path, read: str, text: str = REGIME):
    bag = DiagnosticBag()
    spec = compile_spec(write(tmp_path, text.replace("READ", read)), bag)
    return spec, bag


def test_the_walk_records_the_accumulators_read_in_the_regimes_order(tmp_path):
    spec, bag = _compile(tmp_path, "t.k | t.w << 2 | t.k")
    assert not bag.errors, bag.render()
    (walk,) = spec.top.walks
    assert walk.accs == ("w", "k")
    spec, bag = _compile(tmp_path, "t.pa[7:0]")
    assert spec.top.walks[0].accs == ()  # nothing read: the walk is as before


def test_an_inlined_walk_keeps_what_its_unit_reads(tmp_path):
    caller = REGIME.replace("READ", "t.k") + """\
unit outer {
    event { va : 21; }
    context R;
    call c : u event { va = event.va; } with { R = R; };
    record o { y : 8; }
    exit e when c.e { y = c.x; }
}
"""
    bag = DiagnosticBag()
    spec = compile_spec(write(tmp_path, caller), bag)
    assert not bag.errors, bag.render()
    assert [(w.name, w.accs) for w in spec.top.walks] == [("c_t", ("k",))]


def test_an_accumulator_named_as_a_member_in_any_case_is_refused(tmp_path):
    bag = compile_text(tmp_path, REGIME.replace("READ", "t.CODEx"))
    d = only(bag, "E0361")
    assert "'CODEX'" in d.message and "only in case" in d.message


def test_a_cache_in_front_of_the_walk_is_refused(tmp_path):
    text = REGIME.replace("READ", "t.w").replace(
        "    walk t :", "    cache c holds translations of walk t { entries 4 ways 2; replace lru; }\n    walk t :")
    d = only(compile_text(tmp_path, text), "E0362")
    assert "cache 'c'" in d.message


def test_a_misspelt_accumulator_is_suggested(tmp_path):
    bag = compile_text(tmp_path, REGIME.replace("READ", "t.kk"))
    d = only(bag, "E0301")
    assert "'t.k'" in d.message


def test_the_toy_reads_the_guest_accumulators_of_a_composition():
    spec = compile_spec(DATA / "toy_walk_acc.vspec")
    assert [(w.name, w.accs) for w in spec.top.walks] == [("a", ("wr", "us", "key", "deep")),
                                                          ("g", ("wr", "us", "key", "deep"))]
