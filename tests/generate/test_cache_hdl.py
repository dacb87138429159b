"""The cycle-level model's cache of translations (issue 15, design section 3).

First a cache block rendered from a hand-made CacheView (no spec): a 48-bit input, 4 KiB,
2 MiB and 1 GiB pages, access kinds write and user, a 12-bit tag `pcid` from r_CR3[11:0],
`global when leaf.G && CR4.PGE ignores pcid`, and three invalidations (invlpg (addr):
covers(addr) && (entry.global || entry.pcid == pcid); flush: all; nonglobal:
!entry.global); driven by a fake walker whose translation of input X is X + 0x1000_0000
at level `level_of(X)`. The replacement orders are computed by hand from section 3."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from codegen.generate.emit import _env
from codegen.generate.lower import Env, ref_slice
from codegen.generate.view.cache import CacheView, Event, Tag
import pytest

from codegen.ir.expr import Expr

LEVELS = ((1, 12), (2, 21), (3, 30))
CONTEXT = ("CR3", "CR4")
ACCESS = ("write", "user")


def ref(kind, name, lo=0, width=64):
    return Expr(op="ref", kind=kind, name=name, lo=lo, width=width)


def op(o, *args, width=1):
    return Expr(op=o, args=args, width=width)


def num(v, width=64):
    return Expr(op="num", value=v, width=width)


def envs():
    ctx = Env({"ctx": lambda e: ref_slice(f"r_{e.name}", e.lo, e.width, 64)},
              signal={"ctx": lambda e: (f"r_{e.name}", e.lo)})
    leaf = Env({"ctx": ctx.spell["ctx"], "leaf": lambda e: ref_slice("le", e.lo, e.width, 64)},
               signal={"ctx": ctx.signal["ctx"], "leaf": lambda e: ("le", e.lo)})
    return ctx, leaf


def view(entries=8, ways=2, replace="lru", pages="split", levels=LEVELS, with_global=True):
    pcid = ref("entry", "pcid", width=12)
    cur = ref("tag", "pcid", width=12)
    is_global = ref("entry", "global", width=1)
    addr = ref("operand", "addr", width=64)
    invlpg = op("&&", Expr(op="call", name="covers", args=(addr,), width=1),
                op("||", is_global, op("==", pcid, cur)))
    non_global = op("!", is_global)
    ctx, leaf = envs()
    return CacheView(
        name="tlb", entries=entries, ways=ways, replace=replace, pages=pages, g=12, input_width=48,
        access=ACCESS, levels=levels, tags=(Tag("pcid", 12, ref("ctx", "CR3", 0, 12)),),
        global_when=op("&&", ref("leaf", "G", 8, 1), ref("ctx", "CR4", 7, 1)) if with_global else None,
        ignores=("pcid",) if with_global else (),
        events=(Event(1, "invlpg", (("addr", 64),), True, invlpg), Event(2, "flush", (), True, None),
                Event(3, "nonglobal", (), True, non_global)),
        level_width=3, no_level=7, env=ctx, leaf_env=leaf)


MODULE = '''{% import "cache_hdl.j2" as ch %}
from myhdl import Signal, always_comb, always_seq, block, concat, enum, intbv

ADDR_WIDTH = 64
LEVEL_WIDTH = 3
STATUS_WIDTH = 8
NO_LEVEL = 7


{{ ch.cache(c, t) }}
'''


class _T:
    access = ACCESS
    context = CONTEXT
    hdl_psc = None  # no walk caches: the TLB block alone
    hdl_walk_caches: list = []


def render(c: CacheView) -> str:
    return _env().from_string(MODULE).render(c=c, t=_T())


def load(c: CacheView, tmp: Path):
    path = Path(tmp) / "cache_mod.py"
    path.write_text(render(c))
    name = f"cache_fixture_{abs(hash(str(tmp)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


PA_OFFSET = 0x1000_0000


def simulate(c: CacheView, tmp: Path, steps, level_of=lambda a: 1, global_leaf=False, latency=3):
    """Run `steps` on the cache block with a fake walker; each step is ("t", addr,
    {access/context}) or ("i", k, {operand: value, context...}); returns per step
    (hit, pa, level, cycles) for a translation, cycles for an invalidation, and the
    number of walks the fake walker made."""
    from myhdl import ResetSignal, Signal, StopSimulation, always, always_seq, block, delay, instance, intbv

    mod = load(c, tmp)
    p = {n: Signal(bool(0)) for n in ("clk", "start", "done", "w_start", "w_done", "o_hit", "k_write", "k_user")}
    p["rst"] = ResetSignal(0, active=1, isasync=False)
    p["i_op"] = Signal(intbv(0)[c.op_width:])
    p["i_invlpg_addr"] = Signal(intbv(0)[64:])
    p["i_addr"] = Signal(intbv(0)[48:])
    p["r_CR3"], p["r_CR4"] = Signal(intbv(0)[64:]), Signal(intbv(0)[64:])
    for n, w in (("w_status", 8), ("w_level", 3), ("w_aux", 3), ("w_pa", 64), ("le", 64),
                 ("o_status", 8), ("o_level", 3), ("o_aux", 3), ("o_pa", 64)):
        p[n] = Signal(intbv(0)[w:])
    names = ["clk", "rst", "start", "done", "i_op", "i_invlpg_addr", "i_addr", "k_write", "k_user", "r_CR3", "r_CR4",
             "w_start", "w_done", "w_status", "w_level", "w_aux", "w_pa"] + (["le"] if c.has_global else []) + \
        ["o_status", "o_level", "o_aux", "o_pa", "o_hit"]
    results, walks = [], []

    @block
    def bench():
        dut = getattr(mod, f"cache_{c.name}")(*(p[n] for n in names))
        clk = p["clk"]

        @always(delay(1))
        def clock():
            clk.next = not clk

        count = Signal(intbv(0)[8:])
        busy = Signal(bool(0))

        @always_seq(clk.posedge, reset=p["rst"])
        def walker():
            p["w_done"].next = False
            if p["w_start"]:
                busy.next = True
                count.next = latency
                walks.append(int(p["i_addr"]))
            elif busy:
                if count == 1:
                    busy.next = False
                    p["w_done"].next = True
                    a = int(p["i_addr"])
                    p["w_status"].next = 0
                    p["w_level"].next = level_of(a)
                    p["w_pa"].next = a + PA_OFFSET
                    p["le"].next = 1 << 8 if global_leaf else 0
                count.next = count - 1

        @instance
        def driver():
            yield clk.negedge
            p["rst"].next = 1
            yield clk.posedge
            yield clk.posedge
            yield clk.negedge
            p["rst"].next = 0
            for kind, what, values in steps:
                p["i_op"].next = 0 if kind == "t" else what
                if kind == "t":
                    p["i_addr"].next = what
                for key, v in values.items():
                    p[key if key.startswith(("i_", "r_", "k_")) else f"i_invlpg_{key}"].next = v
                p["start"].next = True
                e = 0
                while True:
                    yield clk.posedge
                    e += 1
                    if e == 1:
                        p["start"].next = False
                    yield clk.negedge
                    if p["done"]:
                        break
                    assert e < 1000, "no done"
                if kind == "t":
                    results.append((bool(p["o_hit"]), int(p["o_pa"]), int(p["o_level"]), e))
                else:
                    results.append(e)
            raise StopSimulation

        return dut, clock, walker, driver

    tb = bench()
    tb.run_sim(quiet=1)
    tb.quit_sim()
    return results, walks


def t(addr, **values):
    return ("t", addr, values)


def inv(k, **values):
    return ("i", k, values)


# four pages of one set (a one-set cache: 4 entries, 4 ways) and a fifth
A, B, C, D, E = 0x1000, 0x2000, 0x3000, 0x4000, 0x5000


@pytest.mark.parametrize("replace, victim", [
    # fills A..D go to the invalid ways 0..3 (each touched), then A hits (touched):
    # lru ranks A0 D1 C2 B3: the rank-3 way is B's;
    # plru bits after the fills b0=0 b1=0 b2=0, touch(0) sets b0=1 b1=1: node 0 -> 2 -> way 2 (C);
    # fifo: fills into invalid ways leave the pointer at 0: way 0 (A)
    ("lru", B), ("plru", C), ("fifo", A)])
def test_victim_after_touches(tmp_path, replace, victim):
    c = view(entries=4, ways=4, replace=replace)
    survivors = [x for x in (A, B, C, D) if x != victim]
    steps = [t(A), t(B), t(C), t(D), t(A), t(E)] + [t(x) for x in survivors] + [t(victim)]
    results, walks = simulate(c, tmp_path, steps)
    hits = [r[0] for r in results]
    assert hits == [False] * 4 + [True, False] + [True] * 3 + [False]
    assert walks == [A, B, C, D, E, victim]


@pytest.mark.parametrize("replace", ["lru", "plru", "fifo"])
def test_second_eviction_order(tmp_path, replace):
    """Two sets of 4 ways (entries 8): a page of the other set does not disturb this one.
    After fills A..D, a hit on A and C, E is filled, then F (hand-computed victims):
    lru: ranks C0 A1 D2 B3 -> E replaces B; ranks E0 C1 A2 D3 -> F replaces D.
    plru: after fills 000; touch A: b0=1 b1=1; touch C: b0=0 b2=1; victim: b0=0 -> node 1,
    b1=1 -> way 1 (B); touch(1): b0=1 b1=0; victim: b0=1 -> node 2, b2=1 -> way 3 (D).
    fifo: A (way 0) then B (way 1)."""
    second = {"lru": (B, D), "plru": (B, D), "fifo": (A, B)}[replace]
    other = 0x1000 | (1 << 12)  # the other set (input bit 12)
    c = view(entries=8, ways=4, replace=replace)
    a, b, cc, d, e, f = (x << 1 for x in (A, B, C, D, E, 0x6000))  # set 0: bit 12 clear
    steps = [t(a), t(b), t(cc), t(d), t(other), t(a), t(cc), t(e), t(0xC000)]
    results, walks = simulate(c, tmp_path, steps)
    assert [r[0] for r in results] == [False] * 5 + [True, True, False, False]
    gone = [x << 1 for x in second]
    kept = [x for x in (a, b, cc, d) if x not in gone]
    results, walks = simulate(c, tmp_path, steps + [t(x) for x in kept] + [t(x) for x in gone[:1]])
    assert [r[0] for r in results[9:]] == [True, True, False]


def test_a_hit_at_the_fill_edge_is_touched_after_the_fill(tmp_path):
    """LRU, one set of 2 ways. B's fill and the hit on A are at the same edge (A's request
    is sampled as B's walk ends): the fill touches B's way first, then the hit A's, so A is
    the most recent and C evicts B (touched the other way round, C would evict A)."""
    c = view(entries=2, ways=2, replace="lru")
    results, walks = simulate(c, tmp_path, [t(A), t(B), t(A), t(C), t(A), t(B)])
    assert [r[0] for r in results] == [False, False, True, False, True, False]
    assert walks == [A, B, C, B]


def test_plru_path_matches_section_3():
    """victim: node = 2*node + 1 + bit[node]; the path to way w is the bits that lead there."""
    c = view(entries=8, ways=8, replace="plru")
    for w in range(8):
        node = 0
        for n, b in c.plru_path(w):
            assert n == node
            node = 2 * node + 1 + b
        assert node - 7 == w


def test_hit_answers_one_cycle_after_start(tmp_path):
    results, walks = simulate(view(), tmp_path, [t(0x1234), t(0x1ff8)], latency=3)
    (miss, pa0, lv0, cyc0), (hit, pa1, lv1, cyc1) = results
    assert (miss, hit) == (False, True)
    assert cyc1 == 1
    assert cyc0 == 3 + 1  # the walker's start edge + latency: the walker's done is the model's
    assert pa1 == 0x1ff8 + PA_OFFSET and lv1 == 1
    assert walks == [0x1234]


def test_access_kinds_are_part_of_the_key(tmp_path):
    results, walks = simulate(view(), tmp_path, [t(0x1000), t(0x1000, k_write=1), t(0x1000, k_write=1)])
    assert [r[0] for r in results] == [False, False, True]


def test_large_page_entry_split_matches_its_4k_page_only(tmp_path):
    """`pages split`: an entry is keyed by input >> g even for a 2 MiB translation."""
    results, _ = simulate(view(), tmp_path, [t(0x200000), t(0x201000), t(0x200008)], level_of=lambda a: 2)
    assert [r[0] for r in results] == [False, False, True]


def test_large_page_entry_whole_covers_the_page(tmp_path):
    """`pages whole`: a level-2 (2 MiB) entry answers any address of its page, with the
    page's offset bits from the input: (pa_g << g) & ~(2^21 - 1) | input & (2^21 - 1)."""
    c = view(entries=4, ways=4, pages="whole")
    results, walks = simulate(c, tmp_path, [t(0x200000), t(0x3ff123), t(0x400000)], level_of=lambda a: 2)
    assert [r[0] for r in results] == [False, True, False]
    assert results[1][1] == 0x3ff123 + PA_OFFSET and results[1][2] == 2


def test_no_level_outcome_not_cached(tmp_path):
    """A walk that reports NO_LEVEL (a switched-off input stage) is not cached."""
    results, walks = simulate(view(), tmp_path, [t(0x1000), t(0x1000)], level_of=lambda a: 7)
    assert [r[0] for r in results] == [False, False] and len(walks) == 2


def test_invalidate_by_address_and_tag(tmp_path):
    """invlpg drops the entry of the page only for the current pcid (or a global one)."""
    steps = [t(0x1000, r_CR3=1), t(0x2000, r_CR3=1),
             inv(1, addr=0x1abc, r_CR3=2),  # another pcid: nothing dropped
             t(0x1000, r_CR3=1), inv(1, addr=0x1abc, r_CR3=1),  # this pcid: 0x1000's page dropped
             t(0x1000, r_CR3=1), t(0x2000, r_CR3=1)]
    results, walks = simulate(view(), tmp_path, steps)
    assert [r[0] if isinstance(r, tuple) else None for r in results] == [False, False, None, True, None, False, True]
    assert results[2] == 4 + 1  # one cycle per set, then done


def test_global_entry_ignores_pcid_and_survives_non_global_flush(tmp_path):
    steps = [t(0x1000, r_CR3=1, r_CR4=1 << 7), t(0x1000, r_CR3=5, r_CR4=1 << 7),
             inv(3), t(0x1000, r_CR3=5, r_CR4=1 << 7), inv(2), t(0x1000, r_CR3=5, r_CR4=1 << 7)]
    results, walks = simulate(view(), tmp_path, steps, global_leaf=True)
    assert [r[0] if isinstance(r, tuple) else None for r in results] == [False, True, None, True, None, False]


def test_invalidate_covers_a_large_page(tmp_path):
    """covers(addr) compares at the page size of the entry's level: an invlpg anywhere
    in a 2 MiB page drops its entry."""
    steps = [t(0x200000), inv(1, addr=0x3ff000), t(0x200000)]
    results, _ = simulate(view(), tmp_path, steps, level_of=lambda a: 2)
    assert results[0][0] is False and results[2][0] is False


@pytest.mark.parametrize("kw", [dict(), dict(replace="plru", entries=16, ways=4), dict(replace="fifo", entries=12, ways=3),
                                dict(pages="whole", entries=4, ways=4), dict(entries=4, ways=1, with_global=False)])
def test_cache_block_converts_and_compiles(tmp_path, kw):
    """The block converts to Verilog (Icarus compiles it, Verilator lints it clean with the
    README's waivers) and to VHDL (GHDL analyses it)."""
    from myhdl import ResetSignal, Signal, intbv

    from codegen.generate import hdl
    c = view(**kw)
    mod = load(c, tmp_path)
    p = {n: Signal(bool(0)) for n in ("clk", "start", "done", "w_start", "w_done", "o_hit", "k_write", "k_user")}
    p["rst"] = ResetSignal(0, active=1, isasync=False)
    p["i_op"] = Signal(intbv(0)[c.op_width:])
    p["i_invlpg_addr"], p["i_addr"] = Signal(intbv(0)[64:]), Signal(intbv(0)[48:])
    p["r_CR3"], p["r_CR4"] = Signal(intbv(0)[64:]), Signal(intbv(0)[64:])
    for n, w in (("w_status", 8), ("w_level", 3), ("w_aux", 3), ("w_pa", 64), ("le", 64),
                 ("o_status", 8), ("o_level", 3), ("o_aux", 3), ("o_pa", 64)):
        p[n] = Signal(intbv(0)[w:])
    names = ["clk", "rst", "start", "done", "i_op", "i_invlpg_addr", "i_addr", "k_write", "k_user", "r_CR3", "r_CR4",
             "w_start", "w_done", "w_status", "w_level", "w_aux", "w_pa"] + (["le"] if c.has_global else []) + \
        ["o_status", "o_level", "o_aux", "o_pa", "o_hit"]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lang in ("Verilog", "VHDL"):
            inst = mod.cache_tlb(*(p[n] for n in names))
            inst.convert(hdl=lang, path=str(tmp_path), name="cache_tlb", **({"testbench": False} if lang == "Verilog" else {}))
    try:
        ok, msg = hdl.compile_verilog([tmp_path / "cache_tlb.v"])
        assert ok, msg
        ok, msg = hdl.analyse_vhdl([tmp_path / "cache_tlb.vhd", *tmp_path.glob("pck_*.vhd")])
        assert ok, msg
        ok, msg = hdl.lint_verilog([tmp_path / "cache_tlb.v"])
        assert ok, msg
    except hdl.ToolMissing as exc:
        pytest.skip(str(exc))


def test_view_refuses_a_geometry_section_3_cannot_build():
    with pytest.raises(ValueError):
        view(entries=12, ways=4)  # 3 sets
    with pytest.raises(ValueError):
        view(entries=12, ways=3, replace="plru")
    with pytest.raises(ValueError):
        view(entries=8, ways=4, pages="whole")


# ---- from a spec: tests/data/toy_cache.vspec (one set of 8 ways, fifo, whole pages)

def _toy_model(tmp_path, name="toy_cache.vspec", text=None):
    from codegen.frontend.pipeline import compile_spec
    from codegen.generate.emit import render

    root = Path(__file__).resolve().parents[2]
    path = root / "tests" / "data" / name
    if text is not None:
        path = tmp_path / name
        path.write_text(text)
    spec = compile_spec(path)
    return spec, render(spec)["model.py"]


def test_model_with_a_cache_has_the_operation_ports(tmp_path):
    spec, text = _toy_model(tmp_path)
    path = tmp_path / "toy_cache_model.py"
    path.write_text(text)
    loader = importlib.util.spec_from_file_location("toy_cache_model", path)
    mod = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(mod)
    ns = vars(mod)
    order = ns["PORT_ORDER"]
    assert "i_op" in order and order[-1] == "o_hit"
    assert [p for p in order if p.startswith("i_") and p not in ("i_addr", "i_op")] == \
        ["i_flush_page_addr", "i_flush_page_num", "i_switch_value"]
    ports = ns["ports"]()
    assert len(ports["i_op"]) == 2 and len(ports["i_flush_page_addr"]) == 32
    assert ns["INVALIDATIONS"] == ("flush_page", "flush_all", "switch") and ns["SWEEP_CYCLES"] == 2


def test_model_without_a_cache_has_no_new_port(tmp_path):
    spec, text = _toy_model(tmp_path, "toy.vspec")
    assert "i_op" not in text and "o_hit" not in text and "cache_" not in text


def test_two_caches_are_refused_with_e0501(tmp_path):
    from codegen.frontend.diagnostics import SpecError

    root = Path(__file__).resolve().parents[2]
    text = (root / "tests" / "data" / "toy_cache.vspec").read_text().replace(
        "    invalidate flush_page",
        "    cache other holds translations { entries 2 ways 2; replace lru; pages split; }\n    invalidate flush_page")
    with pytest.raises(SpecError) as exc:
        _toy_model(tmp_path, "two_caches.vspec", text)
    assert [d.code for d in exc.value.bag.errors] == ["E0501"]


def test_spec_with_a_cache_converts_and_compiles(tmp_path):
    """The toy's model (cache + walker) in Verilog (Icarus, Verilator lint) and VHDL (GHDL)."""
    from codegen.generate import hdl
    from codegen.generate.emit import hdl_outputs

    spec, text = _toy_model(tmp_path)
    files = hdl_outputs(spec, text)
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    v = [tmp_path / n for n in files if n.endswith(".v")]
    vhd = [tmp_path / n for n in files if n.endswith(".vhd")]
    try:
        for ok, msg in (hdl.compile_verilog(v), hdl.analyse_vhdl(vhd), hdl.lint_verilog(v)):
            assert ok, msg
    except hdl.ToolMissing as exc:
        pytest.skip(str(exc))
