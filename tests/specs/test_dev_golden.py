"""Golden tests of the generated amd_dev reference (the AMD Device Exclusion Vector),
expected values worked out by hand from AMD64 APM Vol. 2 (24593) rev. 3.45, 15.24:

- 15.24.2: the DEV is a bit array, one bit per 4-Kbyte page, in little-endian order: the
  bit of page k is bit k % 8 of byte DEV base + k / 8 (so bit (k % 64) of the 64-bit word
  at base + (k / 64) * 8);
- 15.24.3: a memory request's page number is address bits 39:12; a set bit blocks it (a
  read returns all ones, a write's store is suppressed, the device gets a Master Abort);
  I/O-space requests are blocked by DEV_CR.IOSPEN; the host bridge's own configuration
  space is never reachable from a device;
- 15.24.6: DEV_CR (EN bit 0, IOSPEN bit 2, MCE_EN bit 3, SL_DEV_EN bit 5), DEV_CAP
  (N_DOMAINS 15:8, N_MAPS 23:16), DEV_BASE_LO (V 0, P 1, SIZE 6:2: 4 GB * 2^SIZE, base
  31:12), DEV_BASE_HI (base 39:32), DEV_MAP (UNIT0 4:0, V0 5, UNIT1 10:6, V1 11, BUSNO
  19:12, DOM0 25:20, DOM1 31:26; no match gives domain 0);
- 15.24.7: a blocked access is logged; 15.24.8: SL_DEV protects the 64-Kbyte region at
  SL_DEV_BASE and blocks device configuration accesses.
"""
import pytest

from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

MEM_READ, MEM_WRITE, IO, CONFIG = 0, 1, 2, 3
ALLOWED, BLOCKED = 1, 2

EN, IOSPEN, MCE_EN, SL_DEV_EN = 1 << 0, 1 << 2, 1 << 3, 1 << 5
CAP = 3 << 16 | 4 << 8          # three DEV_MAP registers, four domains
V, P = 1 << 0, 1 << 1

DEV0 = 0x0010_0000              # domain 0's DEV
DEV2 = 0x01_0020_0000           # domain 2's DEV, above 4 GB: DEV_BASE_HI2 = 01h


def dev_map(busno, unit0=0, v0=0, dom0=0, unit1=0, v1=0, dom1=0):
    return unit0 | v0 << 5 | unit1 << 6 | v1 << 11 | busno << 12 | dom0 << 20 | dom1 << 26


def request(kind=MEM_READ, addr=0, bus=0, unit=0, host_bridge=0, cr=EN, cap=CAP, maps=(0, 0, 0),
            lo=(DEV0 | V, 0, DEV2 & 0xFFFF_F000 | V, 0), hi=(0, 0, DEV2 >> 32, 0), sl_base=0):
    req = {"kind": kind, "bus": bus, "unit": unit, "addr": addr, "host_bridge": host_bridge,
           "DEV_CR": cr, "DEV_CAP": cap, "SL_DEV_BASE": sl_base}
    for i, m in enumerate(maps):
        req[f"DEV_MAP{i}"] = m
    for i in range(4):
        req[f"DEV_BASE_LO{i}"] = lo[i]
        req[f"DEV_BASE_HI{i}"] = hi[i]
    return req


@pytest.fixture(scope="module")
def ref(generated):
    return generated["amd_dev"][0]


def decide(ref, mem, req):
    trace = []
    out = ref.decide(dict(mem), req, trace)
    assert all(op == 0 for op, _, _, _ in trace), "the host bridge never writes the DEV"
    return out, [addr for _, addr, _, _ in trace]


def fields(ref, **kw):
    return {**{k: 0 for k in ref.RECORD_FIELDS}, **kw}


# ---- the bit of a page (15.24.2, 15.24.3) ---------------------------------------------
def test_bit_k_is_bit_k_mod_8_of_byte_k_div_8(ref):
    # page 1234h = 4660: byte 4660 / 8 = 246h, bit 4; byte 246h is byte 6 of the word at
    # 240h, so bit 6 * 8 + 4 = 52 of the word at DEV0 + 240h
    addr = 0x0123_4567
    out, reads = decide(ref, {DEV0 + 0x240: 1 << 52}, request(MEM_READ, addr=addr))
    assert reads == [DEV0 + 0x240]
    assert out == {"exit": True, "rule": "dev_blocked",
                   "fields": fields(ref, outcome=BLOCKED, read_ones=1, master_abort=1, logged=1, error_addr=addr)}


def test_neighbouring_bits_do_not_block(ref):
    mem = {DEV0 + 0x240: (1 << 51) | (1 << 53)}  # pages 1233h and 1235h
    out, reads = decide(ref, mem, request(MEM_WRITE, addr=0x0123_4FFF))
    assert reads == [DEV0 + 0x240]
    assert out == {"exit": True, "rule": "dev_allowed", "fields": fields(ref, outcome=ALLOWED)}


def test_blocked_write_is_suppressed_and_raises_mce_when_enabled(ref):
    addr = 0x0000_0000_0000_0ABC  # page 0: bit 0 of the first byte
    out, _ = decide(ref, {DEV0: 1}, request(MEM_WRITE, addr=addr, cr=EN | MCE_EN))
    assert out["rule"] == "dev_blocked"
    assert out["fields"] == fields(ref, outcome=BLOCKED, write_suppressed=1, master_abort=1, logged=1, mce=1,
                                   error_addr=addr)


def test_dev_disabled_reads_nothing(ref):
    out, reads = decide(ref, {DEV0: (1 << 64) - 1}, request(MEM_READ, addr=0x1000, cr=0))
    assert reads == []
    assert out == {"exit": True, "rule": "dev_disabled", "fields": fields(ref, outcome=ALLOWED)}


# ---- protection domains (15.24.1, 15.24.6 DEV_MAP) --------------------------------------
def test_unit1_of_a_map_selects_its_domain_and_base_hi(ref):
    # DEV_MAP1: bus 12h, UNIT1 = 3 valid, DOM1 = 2; domain 2's DEV at 1_0020_0000h
    # page 0_0080h = 128: byte 16, bit 0: bit 0 of the word at DEV2 + 10h
    maps = (dev_map(0x12, unit0=3, v0=0, dom0=1), dev_map(0x12, unit1=3, v1=1, dom1=2), 0)
    req = request(MEM_READ, addr=0x8_0000, bus=0x12, unit=3, maps=maps)
    out, reads = decide(ref, {DEV2 + 0x10: 1}, req)
    assert reads == [DEV2 + 0x10]
    assert out["rule"] == "dev_blocked" and out["fields"]["domain"] == 2


def test_no_matching_map_gives_domain_0(ref):
    maps = (dev_map(0x12, unit0=3, v0=1, dom0=1), 0, 0)
    out, reads = decide(ref, {}, request(MEM_READ, addr=0x8_0000, bus=0x13, unit=3, maps=maps))
    assert reads == [DEV0 + 0x10]
    assert out == {"exit": True, "rule": "dev_allowed", "fields": fields(ref, outcome=ALLOWED)}


def test_maps_past_n_maps_are_not_consulted(ref):
    maps = (0, dev_map(0x12, unit0=3, v0=1, dom0=2), 0)
    req = request(MEM_READ, addr=0x8_0000, bus=0x12, unit=3, maps=maps, cap=1 << 16 | 4 << 8)
    _, reads = decide(ref, {}, req)
    assert reads == [DEV0 + 0x10]  # domain 0, not 2


def test_domain_without_a_dev_is_not_checked(ref):
    maps = (dev_map(0, unit0=1, v0=1, dom0=1), 0, 0)  # domain 1: DEV_BASE_LO1.V = 0
    out, reads = decide(ref, {}, request(MEM_WRITE, addr=0x5000, unit=1, maps=maps))
    assert reads == []
    assert out == {"exit": True, "rule": "domain_not_protected", "fields": fields(ref, outcome=ALLOWED, domain=1)}


def test_domain_past_n_domains_has_no_registers(ref):
    maps = (dev_map(0, unit0=1, v0=1, dom0=5), 0, 0)
    out, reads = decide(ref, {}, request(MEM_READ, addr=0x5000, unit=1, maps=maps))
    assert reads == []
    assert out["rule"] == "no_domain_registers" and out["fields"]["domain"] == 5


# ---- the size of the DEV (15.24.6 SIZE, P) ------------------------------------------------
def test_last_page_of_4_gb_is_covered_by_size_0(ref):
    # page FFFFFh: byte 1FFFFh, bit 7: bit 63 of the word at DEV0 + 1FFF8h
    out, reads = decide(ref, {DEV0 + 0x1_FFF8: 1 << 63}, request(MEM_READ, addr=0xFFFF_FFFF))
    assert reads == [DEV0 + 0x1_FFF8]
    assert out["rule"] == "dev_blocked"


@pytest.mark.parametrize("p, rule, outcome", [(1, "beyond_protected", BLOCKED), (0, "beyond_allowed", ALLOWED)])
def test_first_page_past_4_gb_with_size_0(ref, p, rule, outcome):
    lo = (DEV0 | V | p << 1, 0, 0, 0)
    out, reads = decide(ref, {}, request(MEM_READ, addr=0x1_0000_0000, lo=lo))
    assert reads == []
    assert out["rule"] == rule and out["fields"]["outcome"] == outcome


def test_size_1_covers_8_gb(ref):
    # SIZE = 1: page 10_0000h is covered: byte 2_0000h, bit 0
    lo = (DEV0 | V | P | 1 << 2, 0, 0, 0)
    out, reads = decide(ref, {DEV0 + 0x2_0000: 1}, request(MEM_READ, addr=0x1_0000_0000, lo=lo))
    assert reads == [DEV0 + 0x2_0000]
    assert out["rule"] == "dev_blocked"
    out, _ = decide(ref, {}, request(MEM_READ, addr=0x2_0000_0000, lo=lo))
    assert out["rule"] == "beyond_protected"


# ---- SL_DEV (15.24.8) ------------------------------------------------------------------------
@pytest.mark.parametrize("addr, blocked", [(0x0040_0000, True), (0x0040_FFFF, True), (0x0041_0000, False),
                                           (0x003F_FFFF, False), (0x01_0040_0000, False)])
def test_sl_dev_protects_the_64k_region_even_with_the_dev_off(ref, addr, blocked):
    out, reads = decide(ref, {}, request(MEM_WRITE, addr=addr, cr=SL_DEV_EN, sl_base=0x0040_0000))
    assert reads == []
    assert out["rule"] == ("sl_dev_blocked" if blocked else "dev_disabled")


def test_sl_dev_off_leaves_the_region_to_the_dev(ref):
    out, reads = decide(ref, {}, request(MEM_READ, addr=0x0040_0000, sl_base=0x0040_0000))
    assert reads == [DEV0 + 0x80]  # page 400h: byte 80h
    assert out["rule"] == "dev_allowed"


# ---- I/O and configuration space (15.24.3, 15.24.8) -------------------------------------
@pytest.mark.parametrize("cr, rule", [(EN | IOSPEN, "io_blocked"), (IOSPEN, "io_blocked"), (EN, "io_allowed")])
def test_io_space(ref, cr, rule):
    out, reads = decide(ref, {}, request(IO, addr=0x1000, cr=cr))
    assert reads == [] and out["rule"] == rule


@pytest.mark.parametrize("host_bridge, cr, rule", [(1, 0, "config_host_bridge"), (0, SL_DEV_EN, "config_sl_dev"),
                                                   (0, EN, "config_allowed")])
def test_config_space(ref, host_bridge, cr, rule):
    out, reads = decide(ref, {}, request(CONFIG, host_bridge=host_bridge, cr=cr))
    assert reads == [] and out["rule"] == rule


def test_model_agrees_with_reference_on_golden_images(generated):
    ref, model = generated["amd_dev"]
    maps = (dev_map(0x12, unit0=3, v0=0, dom0=1), dev_map(0x12, unit1=3, v1=1, dom1=2), 0)
    cases = [
        ({DEV0 + 0x240: 1 << 52}, request(MEM_READ, addr=0x0123_4567)),
        ({DEV0: 1}, request(MEM_WRITE, addr=0xABC, cr=EN | MCE_EN)),
        ({DEV2 + 0x10: 1}, request(MEM_READ, addr=0x8_0000, bus=0x12, unit=3, maps=maps)),
        ({DEV0 + 0x1_FFF8: 1 << 63}, request(MEM_READ, addr=0xFFFF_FFFF)),
        ({}, request(MEM_READ, addr=0x1_0000_0000, lo=(DEV0 | V | P, 0, 0, 0))),
        ({}, request(MEM_WRITE, addr=0x0040_1234, cr=SL_DEV_EN, sl_base=0x0040_0000)),
        ({}, request(IO, cr=IOSPEN)),
        ({}, request(CONFIG, host_bridge=1)),
    ]
    scenarios = [Scenario(req, mem, latency_seed=i) for i, (mem, req) in enumerate(cases)]
    for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
        trace = []
        mem = dict(sc.memory)
        assert compare(Run(ref.decide(mem, sc.request, trace), trace, mem), model_run) == [], sc.request
