"""tests/data/toy_stage_off.vspec: a nested composition whose stages can each be switched
off (`bypass when` in the guest regime and in its re-instantiated host, `host bypass when`
in the composition), with exclusive access kinds (`access one of read, write, exec;`).
Golden walks worked out by hand from the toy manual the spec cites, then co-simulation."""
import random
import shutil
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit, hdl
from codegen.verify import cosim, harness
from codegen.verify.harness import load_generated
from codegen.verify.stimulus.translation import Draw, Scenario, ScenarioFactory

SPEC = Path(__file__).resolve().parents[1] / "data" / "toy_stage_off.vspec"
V, R, W, X, U, A, L = 1, 2, 4, 8, 0x10, 0x20, 0x40
EN = 1 << 63  # GMODE.EN / HMODE.EN: 0 is bare mode (toy manual 4.1)
STAGE2 = 1  # CTL.STAGE2: 0 passes guest-physical addresses through (toy manual 6.1)
VA = 0x00C0_5ABC  # level-2 index va[31:22] = 3, level-1 index va[21:12] = 5, offset 0xABC
G_ROOT, G_PT, PAGE = 0x1000, 0x2000, 0x7000
H_ROOT, H_PT = 0x10000, 0x11000


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    spec = compile_spec(SPEC)
    out = tmp_path_factory.mktemp("toy_stage_off")
    emit.write(emit.render(spec), out)
    return spec, out, load_generated(out)


def walk(ref, mem, gmode=EN | G_ROOT, hmode=EN | H_ROOT, ctl=STAGE2, read=1, write=0, exec=0, user=0):
    trace: list = []
    request = {"va": VA, "read": read, "write": write, "exec": exec, "user": user,
               "GMODE": gmode, "HMODE": hmode, "CTL": ctl}
    return ref.translate(mem, request, trace), trace


def guest_tables() -> dict:
    """The guest's two levels at guest-physical addresses: a pointer without A (set by the
    walk, toy manual 4.5) and a readable, writable user leaf."""
    return {G_ROOT + 8 * 3: G_PT | V, G_PT + 8 * 5: PAGE | V | R | W | U | A}


def test_both_stages_off_pass_the_input_through_with_no_reference(generated):
    _, _, (ref, _) = generated
    mem = guest_tables()
    out, trace = walk(ref, dict(mem), gmode=G_ROOT, ctl=0)
    assert (out, trace) == ({"ok": True, "pa": VA, "level": None, "host_level": None}, [])


@pytest.mark.parametrize("how", ["composition", "instance"])
def test_host_off_reads_guest_tables_at_guest_physical_addresses(generated, how):
    """Host off by the composition (CTL.STAGE2 = 0, toy manual 6.1) or by the host regime's
    own bypass, which reads HMODE in the re-instantiated regime (toy manual 5): the guest
    walks its tables at their guest-physical addresses and sets A in place."""
    _, _, (ref, _) = generated
    mem = guest_tables()
    ctl, hmode = (0, EN | H_ROOT) if how == "composition" else (STAGE2, H_ROOT)
    out, trace = walk(ref, mem, ctl=ctl, hmode=hmode)
    assert out == {"ok": True, "pa": PAGE | 0xABC, "level": 1, "host_level": None}
    assert trace == [(0, G_ROOT + 24, 8, G_PT | V), (0, G_PT + 40, 8, PAGE | V | R | W | U | A),
                     (1, G_ROOT + 24, 8, G_PT | V | A)]


def test_guest_off_hands_the_input_to_the_host_as_the_final_address(generated):
    """GMODE.EN = 0: the input is the guest-physical address; the host walks it with the
    final access (read, user: toy manual 6.2) and sets A on its pointer."""
    _, _, (ref, _) = generated
    mem = {H_ROOT + 24: H_PT | V | U, H_PT + 40: PAGE | V | R | U | A}
    out, trace = walk(ref, mem, gmode=G_ROOT)
    assert out == {"ok": True, "pa": PAGE | 0xABC, "level": None, "host_level": 1}
    assert trace == [(0, H_ROOT + 24, 8, H_PT | V | U), (0, H_PT + 40, 8, PAGE | V | R | U | A),
                     (1, H_ROOT + 24, 8, H_PT | V | U | A)]
    # a host fault on it is a fault on the final address (no guest level)
    out, _ = walk(ref, {H_ROOT + 24: H_PT | V | U, H_PT + 40: PAGE | V | U | A}, gmode=G_ROOT)
    assert (out["stage"], out["fault"], out["level"], out["guest_level"]) == ("host", "no_read", 1, None)
    assert out["fields"] == {"code": 3, "gpa": VA, "on_tbl": 0, "guest_u": 1}  # no guest entry: u = 1


@pytest.mark.parametrize("pointer_u,leaf_u", [(1, 1), (0, 1), (1, 0)])
def test_the_nested_record_reads_the_guest_accumulator(generated, pointer_u, leaf_u):
    """A nested record may read the guest's accumulators: their values after the guest
    entries walked before the host fault. The host maps the guest's level-1 table page and
    the guest page only in its own level 1 (H_PT); a host fault on the guest level-1 table
    sees u after the level-2 pointer alone (its U); one on the final address, after both
    entries: u = pointer U and leaf U (toy manual 4.4). The guest leaf is readable but not
    user when leaf_u = 0 and the access is a supervisor read, so the guest walk passes."""
    _, _, (ref, _) = generated
    gptr, gleaf = G_PT | V | A | (U if pointer_u else 0), PAGE | V | R | W | A | (U if leaf_u else 0)
    h_tables = {H_ROOT + 8 * 0: H_PT | V | U | A}  # host level 2: the guest-physical low 4 MiB
    # host level 1: the guest's root page and table page at host-physical gpa + 0x100000
    host = {H_PT + 8 * (G_ROOT >> 12): (G_ROOT + 0x100000) | V | R | U | A,
            H_PT + 8 * (G_PT >> 12): (G_PT + 0x100000) | V | R | U | A}
    mem = {**h_tables, **host, G_ROOT + 0x100000 + 24: gptr, G_PT + 0x100000 + 40: gleaf}
    # the guest page (PAGE) is not mapped by the host: a host fault on the final address
    out, _ = walk(ref, dict(mem))
    assert (out["stage"], out["fault"], out["guest_level"]) == ("host", "invalid", None)
    assert out["fields"]["on_tbl"] == 0 and out["fields"]["guest_u"] == (pointer_u and leaf_u)
    # the guest's table page unmapped: a host fault on the guest level-1 table read
    del mem[H_PT + 8 * (G_PT >> 12)]
    out, _ = walk(ref, dict(mem))
    assert (out["stage"], out["fault"], out["guest_level"]) == ("host", "invalid", 1)
    assert out["fields"]["on_tbl"] == 1 and out["fields"]["guest_u"] == pointer_u


def test_the_model_reports_the_initial_accumulator_with_the_guest_stage_off(generated):
    """The cycle-level model agrees, run back to back: a walk that ends with u = 0 (a host
    fault on the final address after a supervisor pointer), then one with the guest stage
    off and a host fault, whose record must read u = 1 (its initial value), not the
    register the walk before left at 0."""
    _, _, (ref, model) = generated
    gptr, gleaf = G_PT | V | A, PAGE | V | R | W | A | U
    mem = {H_ROOT: H_PT | V | U | A, H_PT + 8: (G_ROOT + 0x100000) | V | R | U | A,
           H_PT + 16: (G_PT + 0x100000) | V | R | U | A, G_ROOT + 0x100000 + 24: gptr, G_PT + 0x100000 + 40: gleaf}
    base = {"va": VA, "read": 1, "write": 0, "exec": 0, "user": 0, "HMODE": EN | H_ROOT, "CTL": STAGE2}
    scenarios = [Scenario({**base, "GMODE": EN | G_ROOT}, dict(mem), 0, {}),
                 Scenario({**base, "GMODE": G_ROOT}, dict(mem), 1, {})]
    refs = [harness.run_reference(ref, sc) for sc in scenarios]
    assert [r.outcome["fields"]["guest_u"] for r in refs] == [0, 1]
    for expect, got in zip(refs, harness.run_model(model, ref, scenarios)):
        assert harness.compare(expect, got) == []


def test_stimulus_draws_exactly_one_of_read_write_exec(generated):
    spec, _, _ = generated
    factory = ScenarioFactory(spec)
    draw = Draw(random.Random(5))
    kinds = set()
    for _ in range(300):
        req = factory.make(draw).request
        assert req["read"] + req["write"] + req["exec"] == 1
        kinds.add((req["read"], req["write"], req["exec"], req["user"]))
    assert len(kinds) == 6  # every kind, with and without user


def test_cosimulates_with_both_stages_off_covered(generated, tmp_path):
    spec, out, (_, model) = generated
    report = cosim.run(spec, out, walks=300, seed=2)
    assert report.mismatches == 0 and report.missing == []
    assert report.coverage["guest stage off"] and report.coverage["host stage off"]
    files = hdl.convert(model, "Verilog", tmp_path / "v")
    if shutil.which("iverilog"):
        ok, messages = hdl.compile_verilog(files)
        assert ok, messages
    files = hdl.convert(model, "VHDL", tmp_path / "vhd")
    if shutil.which("ghdl"):
        ok, messages = hdl.analyse_vhdl(files)
        assert ok, messages
