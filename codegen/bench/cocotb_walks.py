"""The cocotb baseline of bench section (g) (codegen/bench/hdl_speed.py): a minimal per-cycle
cocotb testbench of the converted Verilog, run under Verilator by cocotb_tools.runner.

It is what a hardware team would write by hand, kept honest against the batch backend: one
cocotb test for all walks, the memory of batch.py's protocol (its Schedule, one await per
clock edge, the same order of actions), and per walk the outcome, the ordered trace and the
final memory compared with the reference run that $VIRTSPEC_BENCH_DATA carries. Only the
walks are timed (after reset, until the last walk ends): not the build, not the start of
the simulator. The result ($VIRTSPEC_BENCH_OUT, JSON) is walks, seconds, mismatches and the
cycles of each walk (bench checks them against the batch backend's, cycle for cycle).
"""
import importlib.util
import json
import os
import pickle
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from codegen.verify import batch, harness


def _reference(path: str):
    spec = importlib.util.spec_from_file_location("virtspec_bench_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cocotb.test()
async def walks(dut):
    """Every walk of the data file, per cycle, checked against its reference run."""
    data = pickle.loads(Path(os.environ["VIRTSPEC_BENCH_DATA"]).read_bytes())
    ref = _reference(data["reference"])
    lo, hi, stall, limit, sized = data["min_latency"], data["max_latency"], data["stall"], data["limit"], data["sized"]
    inputs = data["inputs"]
    data_mask = (1 << data["data_width"]) - 1
    clk, rst, start, done = dut.clk, dut.rst, dut.start, dut.done
    m_valid, m_we, m_addr, m_wdata = dut.m_valid, dut.m_we, dut.m_addr, dut.m_wdata
    m_size = dut.m_size if sized else None
    m_ready, m_rvalid, m_rdata = dut.m_ready, dut.m_rvalid, dut.m_rdata
    ins = {n: getattr(dut, n) for n in inputs}
    outs = {n: getattr(dut, n) for n in data["outputs"]}
    fall, rise = FallingEdge(clk), RisingEdge(clk)
    Clock(clk, 10, unit="ns").start()

    def model_outputs():
        return (int(m_valid.value), int(m_we.value), int(m_addr.value), int(m_wdata.value),
                int(m_size.value) if sized else 3)

    async def reset():
        rst.value = 1
        await rise
        await rise
        await fall
        rst.value = 0

    for h in (start, m_ready, m_rvalid, m_rdata, *ins.values()):
        h.value = 0
    await fall
    await reset()
    mismatches, cycles = 0, []
    t0 = time.perf_counter()
    for seed, ports, image, expected_outcome, expected_trace, expected_memory in data["walks"]:
        mem = dict(image)
        trace, queue = [], []
        sched = batch.Schedule(seed, lo, hi, stall)
        ready = sched.ready()
        m_rvalid.value = 0
        m_ready.value = int(ready)
        for n, h in ins.items():
            h.value = ports.get(n, 0)
        start.value = 1
        rvalid = False
        pre = model_outputs()
        e, timed_out = 0, False
        while True:
            await fall  # just after rising edge e: act on the model's outputs of before it
            e += 1
            valid, we, addr, wdata, size = pre
            if valid and ready:
                size = 1 << size if sized else 8
                keep = (1 << 8 * size) - 1
                due = e + sched.latency()
                if we:
                    v = wdata & keep
                    mem[addr] = v
                    trace.append((1, addr, size, v))
                    queue.append((due, 0))
                else:
                    v = mem.get(addr, 0) & keep
                    trace.append((0, addr, size, v))
                    queue.append((due, v))
            if queue and queue[0][0] <= e + 1:
                m_rvalid.value = 1
                m_rdata.value = queue.pop(0)[1] & data_mask
                rvalid = True
            elif rvalid:
                m_rvalid.value = 0
                rvalid = False
            r = sched.ready()
            if r != ready:
                m_ready.value = int(r)
                ready = r
            if e == 1:
                start.value = 0
            if int(done.value):
                break
            if e == limit:
                timed_out = True
                break
            pre = model_outputs()
        cycles.append(e)
        outcome = {} if timed_out else harness.model_outcome(ref, {n: int(h.value) for n, h in outs.items()})
        if outcome != expected_outcome or trace != expected_trace or mem != expected_memory:
            mismatches += 1
        if timed_out:
            await reset()
    seconds = time.perf_counter() - t0
    Path(os.environ["VIRTSPEC_BENCH_OUT"]).write_text(json.dumps(
        {"walks": len(data["walks"]), "seconds": seconds, "mismatches": mismatches, "cycles": cycles}))
