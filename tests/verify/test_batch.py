"""The batch files (codegen/verify/batch.py): the fast scenario writer and results reader
give exactly what the plain line-by-line versions gave (the testbenches read the same
bytes), on every path: shared request keys, mixed keys, values past their width, ports
wider than 64 bits; and a results file that is not well formed still names its line."""
from __future__ import annotations

import random
from array import array
from pathlib import Path
from types import SimpleNamespace

import pytest

from codegen.verify import batch, harness


def plain_write(path: Path, ports: batch.Ports, scenarios, timing, limit: int, port_of) -> None:
    """The writer as it was before bench (g): one format call per number."""
    t = timing
    lines = [" ".join(f"{v:x}" for v in (batch.MAGIC, batch.VERSION, len(scenarios), t.min_latency, t.max_latency,
                                          t.stall_percent, limit))]
    order = {name: i for i, (name, _) in enumerate(ports.inputs)}
    fmt_in = [f"{{:0{batch._digits(w)}x}}" for _, w in ports.inputs]
    masks = [(1 << w) - 1 for _, w in ports.inputs]
    value_fmt = f"{{:016x}} {{:0{batch._digits(ports.data_width)}x}}"
    data_mask = (1 << ports.data_width) - 1
    for sc in scenarios:
        values = [0] * len(ports.inputs)
        for key, v in sc.request.items():
            values[order[port_of(key)]] = v
        lines.append(f"{batch.seed32(sc.latency_seed):08x} {len(sc.memory):x}")
        lines.append(" ".join(f.format(v & m) for f, v, m in zip(fmt_in, values, masks)))
        lines.extend(value_fmt.format(a, v & data_mask) for a, v in sorted(sc.memory.items()))
    Path(path).write_text("\n".join(lines) + "\n")


PORTS = batch.Ports(inputs=(("i_addr", 48), ("k_write", 1), ("r_CR3", 64), ("r_CR4", 22)),
                    outputs=(("o_status", 5), ("o_pa", 52), ("o_level", 3)), data_width=64, sized=True)
WIDE = batch.Ports(inputs=(("i_addr", 48), ("r_entry", 128)), outputs=(("o_status", 5),), data_width=128,
                   sized=False)
KEYS = {"va": "i_addr", "write": "k_write", "CR3": "r_CR3", "CR4": "r_CR4", "entry": "r_entry"}


def scenarios(rng: random.Random, ports: batch.Ports, n: int, keys: list[str], over: bool = False):
    def value(width: int) -> int:
        return rng.getrandbits(width + (8 if over and rng.random() < 0.2 else 0))

    widths = dict(ports.inputs)
    out = []
    for _ in range(n):
        chosen = keys if not over else rng.sample(keys, rng.randint(1, len(keys)))
        request = {k: value(widths[KEYS[k]]) for k in chosen}
        memory = {rng.getrandbits(52) & ~7: value(ports.data_width) for _ in range(rng.randint(0, 6))}
        out.append(SimpleNamespace(request=request, memory=memory, latency_seed=rng.getrandbits(40)))
    return out


@pytest.mark.parametrize("ports, keys, over", [
    (PORTS, ["va", "write", "CR3", "CR4"], False),  # every port set, in one key order: the fast path
    (PORTS, ["CR4", "va", "CR3", "write"], False),  # another order of the keys
    (PORTS, ["va", "write", "CR3", "CR4"], True),  # some keys missing, values past their width
    (WIDE, ["va", "entry"], False),  # a port and memory words over 64 bits: the % path
])
def test_the_writer_writes_the_bytes_of_the_plain_writer(tmp_path, ports, keys, over):
    rng = random.Random(7)
    scs = scenarios(rng, ports, 60, keys, over)
    timing = harness.Timing(1, 4, 20)
    batch.write_scenarios(tmp_path / "fast.txt", ports, scs, timing, 340, KEYS.__getitem__)
    plain_write(tmp_path / "plain.txt", ports, scs, timing, 340, KEYS.__getitem__)
    assert (tmp_path / "fast.txt").read_text() == (tmp_path / "plain.txt").read_text()


def test_the_writer_asks_port_of_once_per_key(tmp_path):
    asked = []
    scs = scenarios(random.Random(1), PORTS, 30, ["va", "write", "CR3", "CR4"])
    batch.write_scenarios(tmp_path / "s.txt", PORTS, scs, harness.Timing(), 100,
                          lambda k: asked.append(k) or KEYS[k])
    assert sorted(asked) == ["CR3", "CR4", "va", "write"]


def test_no_scenarios_is_a_header_alone(tmp_path):
    batch.write_scenarios(tmp_path / "s.txt", PORTS, [], harness.Timing(1, 1, 0), 9, KEYS.__getitem__)
    assert (tmp_path / "s.txt").read_text() == f"{batch.MAGIC:x} 1 0 1 1 0 9\n"


RESULTS = """0 0000000000001000 8 00000000deadbeef
1 0000000000001000 8 00000000deadbeff
2 9 0 00 000000000abcd 1
2 3 0 01 0000000000000 3
0 0000000000002000 4 12345678
2 154 1 00 0000000000000 0
"""


def test_the_reader_agrees_with_the_line_by_line_reader(tmp_path):
    names = [n for n, _ in PORTS.outputs]
    for text in (RESULTS, RESULTS.replace(" 0000000000001000", " 1000"),  # unpadded, as the cocotb export writes
                 RESULTS.replace("\n", "\r\n"), RESULTS + "0 10 8 5\n",  # references after the last end record
                 RESULTS.replace("2 3 0", "\n2 3 0"), ""):  # a blank line; no scenario
        (tmp_path / "r.txt").write_text(text, newline="")
        got = batch.read_results(tmp_path / "r.txt", PORTS)
        assert got == batch._read_slowly(tmp_path / "r.txt", text, names)
    (tmp_path / "r.txt").write_text(RESULTS)
    got = batch.read_results(tmp_path / "r.txt", PORTS)
    assert [r.cycles for r in got] == [9, 3, 0x154] and [r.timed_out for r in got] == [False, False, True]
    assert got[0].trace == [(0, 0x1000, 8, 0xDEADBEEF), (1, 0x1000, 8, 0xDEADBEFF)] and got[1].trace == []
    assert got[0].outputs == {"o_status": 0, "o_pa": 0xABCD, "o_level": 1}


@pytest.mark.parametrize("bad, message", [
    (RESULTS.replace("1 0000000000001000 8 00000000deadbeff", "1 0000000000001000 8"),
     "r.txt:2: expected a memory reference of 4 fields, not 3"),
    (RESULTS.replace("2 3 0 01 0000000000000 3", "2 3 0 01 3"), "r.txt:4: expected an end record of 6 fields, not 5"),
    (RESULTS.replace("0 0000000000002000", "7 0000000000002000"), "r.txt:5: expected a record tagged 0, 1, 2 or 3, not '7'"),
    # a short line and a long one that add up to the right count of fields
    (RESULTS.replace("1 0000000000001000 8 00000000deadbeff", "1 0000000000001000 8")
     .replace("0 0000000000002000 4 12345678", "0 0000000000002000 4 12345678 9"),
     "r.txt:2: expected a memory reference of 4 fields, not 3"),
])
def test_a_malformed_results_file_names_its_line(tmp_path, bad, message):
    (tmp_path / "r.txt").write_text(bad)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        batch.read_results(tmp_path / "r.txt", PORTS)


def test_final_memory_applies_the_writes_in_order():
    trace = [(0, 8, 8, 1), (1, 8, 8, 2), (1, 16, 8, 3), (1, 8, 8, 4)]
    assert batch.final_memory({8: 0, 24: 5}, trace) == {8: 4, 16: 3, 24: 5}


def _scenarios_of(numbers: list[int], inputs: int) -> tuple:
    """A scenario file's numbers read back: the head, then per scenario its seed, its
    request row and its image (a dict, whatever the order of its entries)."""
    head, at, out = numbers[:7], 7, []
    for _ in range(head[2]):
        seed, n = numbers[at:at + 2]
        row = numbers[at + 2:at + 2 + inputs]
        flat = numbers[at + 2 + inputs:at + 2 + inputs + 2 * n]
        out.append((seed, row, dict(zip(flat[0::2], flat[1::2]))))
        at += 2 + inputs + 2 * n
    assert at == len(numbers)
    return head, out


@pytest.mark.parametrize("keys, over", [(["va", "write", "CR3", "CR4"], False), (["CR4", "va"], True)])
def test_the_binary_scenarios_are_the_numbers_of_the_text(keys, over):
    """The Verilator testbench reads either: the same scenarios (the memory entries in
    either order, the testbench keeps them in a map), values masked to their widths."""
    scs = scenarios(random.Random(5), PORTS, 40, keys, over)
    args = (PORTS, scs, harness.Timing(1, 4, 20), 340, KEYS.__getitem__)
    text = batch.scenario_text(*args)
    got = _scenarios_of(array("Q", batch.scenario_binary(*args)).tolist(), len(PORTS.inputs))
    assert got == _scenarios_of([int(t, 16) for t in text.split()], len(PORTS.inputs))
    if over:  # past their widths: the request values, and the memory values of a narrower memory
        narrow = batch.Ports(PORTS.inputs, PORTS.outputs, 32, True)
        args = (narrow, scs, harness.Timing(1, 4, 20), 340, KEYS.__getitem__)
        got = _scenarios_of(array("Q", batch.scenario_binary(*args)).tolist(), len(PORTS.inputs))
        assert got == _scenarios_of([int(t, 16) for t in batch.scenario_text(*args).split()], len(PORTS.inputs))


def _binary(results: list[batch.Result], names: list[str]) -> bytes:
    """Results as the Verilator testbench writes them with "-b"."""
    ends = [[len(r.trace), r.cycles, int(r.timed_out), *(r.outputs[n] for n in names)] for r in results]
    refs = [v for r in results for ref in r.trace for v in ref]
    return array("Q", [len(results), *(v for e in ends for v in e), *refs]).tobytes()


def test_binary_results_read_as_the_text_results(tmp_path):
    names = [n for n, _ in PORTS.outputs]
    (tmp_path / "r.txt").write_text(RESULTS)
    results = batch.read_results(tmp_path / "r.txt", PORTS)
    data = _binary(results, names)
    assert batch.parse_binary_results(data, PORTS, 3) == batch.parse_results(RESULTS, PORTS, "r.txt")
    assert batch.parse_binary_results(_binary([], names), PORTS, 0) == ([], [], [], [])


@pytest.mark.parametrize("cut, count, message", [
    (slice(0, -3), 3, "not whole numbers"), (slice(0, -8), 3, "reference numbers"),
    (slice(None), 4, "for 3 scenarios, expected 4"), (slice(0, 0), 3, "for 0 scenarios"),
])
def test_malformed_binary_results_say_what_is_wrong(tmp_path, cut, count, message):
    (tmp_path / "r.txt").write_text(RESULTS)
    data = _binary(batch.read_results(tmp_path / "r.txt", PORTS), [n for n, _ in PORTS.outputs])
    with pytest.raises(ValueError, match=message):
        batch.parse_binary_results(data[cut], PORTS, count)


def test_final_memories_are_final_memory_of_each_run():
    rng = random.Random(2)
    images = [{8 * i: rng.getrandbits(8) for i in range(rng.randint(0, 4))} for _ in range(50)]
    traces = [[(rng.randint(0, 1), 8 * rng.randint(0, 5), 8, rng.getrandbits(8)) for _ in range(rng.randint(0, 4))]
              for _ in images]
    got = batch.final_memories(images, traces)
    assert got == [batch.final_memory(m, t) for m, t in zip(images, traces)]
    assert all(g is not m for g, m in zip(got, images))


def test_a_word_that_answers_with_an_error_is_marked_at_its_address_plus_1(tmp_path):
    """An erring word (issue 17) is an image entry at its address + 1, value 0: the
    testbenches look the word up there; the scenario's own memory is left as it was."""
    sc = SimpleNamespace(request={"i_addr": 5}, memory={0x1000: 7, 0x2000: 9}, latency_seed=3,
                         errors=frozenset({0x2000, 0x3008}))
    assert batch.image_of(sc) == {0x1000: 7, 0x2000: 9, 0x2001: 0, 0x3009: 0}
    assert sc.memory == {0x1000: 7, 0x2000: 9}
    text = batch.scenario_text(PORTS, [sc], harness.Timing(), 100, lambda k: k)
    assert "0000000000002001 0000000000000000\n" in text and "0000000000003009 " in text
    assert text.splitlines()[1].split() == ["00000003", "4"]  # seed, 4 image entries


def test_a_read_error_in_the_results_is_op_3_and_writes_nothing():
    text = "0 1000 8 7\n3 2000 8 0\n1 3000 8 5\n2 9 0 0 0 0\n"
    outputs, traces, cycles, timed_out = batch.parse_results(text, PORTS, "results")
    assert traces == [[(0, 0x1000, 8, 7), (3, 0x2000, 8, 0), (1, 0x3000, 8, 5)]]
    assert batch.final_memory({0x2000: 1}, traces[0]) == {0x2000: 1, 0x3000: 5}
    assert batch.final_memories([{0x2000: 1}], traces) == [{0x2000: 1, 0x3000: 5}]
    slow = batch._read_slowly("results", text, [n for n, _ in PORTS.outputs])
    assert slow[0].trace == traces[0]
