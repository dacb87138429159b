"""Golden tests of the IOMMU caches in the generated amd_iommu and intel_vtd references:
what each invalidation command drops, worked out by hand from the manuals, and a short
sequence through the AMD device-table cache and IOTLB.

- AMD pub. 48882, 2.4.3.3 INVALIDATE_IOMMU_PAGES: S = 0 invalidates the 4-Kbyte page at
  Address; S = 1 a range whose size the address encodes: the first zero bit from
  Address[12] up, at bit 12 + k, makes the range 2^(13 + k) bytes, aligned on its size
  (Address[12] = 0: 8 Kbytes; 7FFF_FFFF_FFFF_F000h: all); DomainID selects the entries.
  2.4.3.2 INVALIDATE_DEVTAB_ENTRY: by DeviceID. 2.4.3.8 INVALIDATE_IOMMU_ALL: everything.
- Intel VT-d 6.5.2.1 context-cache invalidate descriptor: G 1 global, 2 by domain-id, 3 by
  source-id and domain-id with the function mask FM (1: SID bit 2 ignored, 2: bits 2:1,
  3: bits 2:0); 6.5.2.3 IOTLB invalidate descriptor: G 1 global, 2 by domain-id, 3 pages
  of a domain: 2^AM pages from ADDR, aligned on 2^AM pages.
"""
import pytest


@pytest.fixture(scope="module")
def amd(generated):
    return generated["amd_iommu"][0]


@pytest.fixture(scope="module")
def vtd(generated):
    return generated["intel_vtd"][0]


def page(ref, p, tags):
    """A walk-cache entry for 4-Kbyte input page `p` with tag values `tags`."""
    return ref.Entry(p, (0,), tags, 1, 0x77, None, 12)


@pytest.mark.parametrize("address, s, pages", [
    (0x5000, 0, {5}),                                  # S = 0: one page
    (0x4000, 1, {4, 5}),                               # Address[12] = 0: 8 KB at 0x4000
    (0x5000, 1, {4, 5, 6, 7}),                         # bit 12 one, 13 zero: 16 KB at 0x4000
    (0x1000 | 0x2000 | 0x4000, 1, set(range(16))),     # bits 14:12 ones: 64 KB at 0
    (0x7FFF_FFFF_FFFF_F000, 1, {0, 4, 5, 6, 7, 8, 15, 16, 0x1234_5678}),  # all
])
def test_amd_invalidate_iommu_pages_size_encoding(amd, address, s, pages):
    for p in (0, 4, 5, 6, 7, 8, 15, 16, 0x1234_5678):
        o = {"domain_id": 0x0ABC, "address": address, "s": s}
        assert amd.drop_holds("iotlb", "inv_iommu_pages", page(amd, p, (0x0ABC,)), o, {}) is (p in pages), hex(p)
        # another domain's entry is never dropped
        assert not amd.drop_holds("iotlb", "inv_iommu_pages", page(amd, p, (0x0ABD,)), o, {})


def test_amd_devtab_and_all(amd):
    dte = amd.Entry(0x100000 + 0x123 * 32, (), (0x123,), None, None, (0, 0, 0, 0), 0)
    assert amd.drop_holds("dtc", "inv_devtab_entry", dte, {"device_id": 0x123}, {})
    assert not amd.drop_holds("dtc", "inv_devtab_entry", dte, {"device_id": 0x124}, {})
    assert amd.drop_holds("dtc", "inv_iommu_all", dte, {}, {})
    assert amd.drop_holds("iotlb", "inv_iommu_all", page(amd, 9, (1,)), {}, {})


def test_amd_a_translation_is_shared_by_the_devices_of_a_domain(amd):
    """DTE (2.2.2.1): V 0, TV 1, Mode 11:9 = 1 (one level: bits 20:12 index the root
    table), root 51:12, IR 61, IW 62, DomainID 79:64; PTE (2.2.3): PR 0, NL 11:9 = 0,
    address 51:12, IR, IW. Device 0x10 and 0x11 share domain 7 and the tables."""
    devtab, root = 0x100000, 0x200000
    q0 = 1 | 2 | (1 << 9) | root | (1 << 61) | (1 << 62)
    mem = {devtab + 0x10 * 32: q0, devtab + 0x10 * 32 + 8: 7, devtab + 0x11 * 32: q0, devtab + 0x11 * 32 + 8: 7,
           root + 5 * 8: 1 | 0x777000 | (1 << 61) | (1 << 62)}

    def req(dev):
        return {"kind": 0, "device_id": dev, "address": 0x5123, "data": 0, "at": 0, "nw": 0, "pv": 0, "pasid": 0, "pmr": 0,
                "er": 0, "DEV_TAB_BAR": devtab,
                "CONTROL": 5, "EVT_LOG_BAR": 0x400000 | 8 << 56, "EVT_LOG_TAIL": 0}
    c = amd.Caches()
    trace: list = []
    out, hits = amd.decide_cached(c, mem, req(0x10), trace)
    assert out["fields"]["address"] == 0x777123 and hits == () and len(trace) == 5  # 4 DTE words + 1 PTE
    trace = []
    out, hits = amd.decide_cached(c, mem, req(0x11), trace)
    assert out["fields"]["address"] == 0x777123 and hits == ("iotlb",) and len(trace) == 4  # its DTE only
    trace = []
    assert amd.decide_cached(c, mem, req(0x10), trace)[1] == ("dtc", "iotlb") and trace == []
    # INVALIDATE_IOMMU_PAGES, S = 1, 8 KB at 0x4000 for domain 7: the page of 0x5123 goes
    amd.invalidate(c, "inv_iommu_pages", {"domain_id": 7, "address": 0x4000, "s": 1}, req(0x10))
    trace = []
    assert amd.decide_cached(c, mem, req(0x10), trace)[1] == ("dtc",) and len(trace) == 1


@pytest.mark.parametrize("g, did, sid, fm, dropped", [
    (1, 0, 0, 0, True),            # global
    (2, 3, 0, 0, True),            # the entry's domain
    (2, 4, 0, 0, False),
    (3, 3, 0x0108, 0, True),       # device-selective: the same SID
    (3, 3, 0x010C, 0, False),      # function 4 instead of 0
    (3, 3, 0x010C, 1, True),       # FM 1: SID bit 2 ignored
    (3, 3, 0x010E, 1, False),      # bit 1 differs too
    (3, 3, 0x010E, 2, True),       # FM 2: bits 2:1 ignored
    (3, 3, 0x010F, 3, True),       # FM 3: bits 2:0 ignored
    (3, 3, 0x0118, 3, False),      # another device
    (3, 4, 0x0108, 0, False),      # the same SID, another domain
    (0, 3, 0x0108, 0, False),      # granularity 0 is reserved: nothing
])
def test_vtd_context_cache_invalidation(vtd, g, did, sid, fm, dropped):
    en = vtd.Entry(0x30000 + 8 * 16, (), (0x0108, 3), None, None, (0, 0), 0)  # SID 01:01.0, DID 3
    assert vtd.drop_holds("cc", "cc_inv", en, {"g": g, "did": did, "sid": sid, "fm": fm}, {}) is dropped


@pytest.mark.parametrize("g, did, addr, am, pages", [
    (1, 0, 0, 0, {0, 8, 9, 11, 12}),       # global
    (2, 3, 0, 0, {0, 8, 9, 11, 12}),       # the domain
    (2, 4, 0, 0, set()),
    (3, 3, 0x9000, 0, {9}),                # one page
    (3, 3, 0x8000, 2, {8, 9, 11}),         # AM 2: 4 pages 8-11
    (3, 3, 0xA000, 2, {8, 9, 11}),         # the mask ignores the low address bits
    (3, 3, 0x0000, 4, {0, 8, 9, 11, 12}),  # 16 pages 0-15
    (3, 4, 0x8000, 2, set()),
])
def test_vtd_iotlb_invalidation(vtd, g, did, addr, am, pages):
    for p in (0, 8, 9, 11, 12):
        o = {"g": g, "did": did, "addr": addr, "am": am}
        assert vtd.drop_holds("iotlb", "iotlb_inv", page(vtd, p, (3,)), o, {}) is (p in pages), p
