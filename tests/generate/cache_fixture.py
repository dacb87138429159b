"""A cache block rendered from a hand-made CacheView (no spec): a 48-bit input, 4 KiB,
2 MiB and 1 GiB pages, access kinds write and user, a 12-bit tag `pcid` from r_CR3[11:0],
`global when leaf.G && CR4.PGE ignores pcid`, and three invalidations; driven by a fake
walker whose translation of input X is X + 0x1000_0000 at level `level_of(X)`."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from codegen.generate.emit import _env
from codegen.generate.lower import Env, ref_slice
from codegen.generate.view.cache import CacheView, Event, Tag
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
