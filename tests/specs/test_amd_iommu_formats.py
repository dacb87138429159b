"""Golden tests of the AMD IOMMU layouts issue 17 declares without a rule that writes them:
the event codes of the event log and the first quadword of each entry (48882 2.5), the PPR
log entry (2.6), the 128-bit IRTE (2.2.5.2) and the GA log entry.

Each expected value is written by hand from the manual's entry figures as the fact sheet
(notes/iommu-facts.md sections 5.3, 5.6, 6.3 and 19) records them, never read from the spec:
a hand-built entry is decoded with the spec's format and each field compared.
"""
import pytest

# 48882 2.5, the event codes (fact sheet 5.3 and 19)
EVENT_CODES = {
    0: "NONE", 1: "ILLEGAL_DEV_TABLE_ENTRY", 2: "IO_PAGE_FAULT", 3: "DEV_TAB_HARDWARE_ERROR",
    4: "PAGE_TAB_HARDWARE_ERROR", 5: "ILLEGAL_COMMAND_ERROR", 6: "COMMAND_HARDWARE_ERROR",
    7: "IOTLB_INV_TIMEOUT", 8: "INVALID_DEVICE_REQUEST", 9: "INVALID_PPR_REQUEST",
    0xD: "RMP_PAGE_FAULT", 0xE: "RMP_HW_ERROR",
}


def layout(spec, name):
    return next(x for x in spec.layouts if x.name == name)


def decode(spec, name: str, value: int) -> dict:
    fmt = layout(spec, name)
    return {f.name: (value >> f.lo) & ((1 << f.width) - 1) for f in fmt.fields if f.name != "ignored"}


def test_event_codes(specs):
    enum = next(e for e in specs["amd_iommu"].enums if e.name == "event_code")
    assert enum.width == 4 and {i.value: i.name for i in enum.items} == EVENT_CODES


@pytest.mark.parametrize("name, entry, expected", [
    # DEV_TAB_HARDWARE_ERROR: DeviceID 15:0, I 51, RW 53, TR 56, Type 58:57, code 63:60
    ("ev_dev_tab_hw_error", 0x3 << 60 | 2 << 57 | 1 << 53 | 0x0123,
     {"DeviceID": 0x0123, "I": 0, "RW": 1, "TR": 0, "HwType": 2, "EventCode": 3}),
    # PAGE_TAB_HARDWARE_ERROR: + DomainID 47:32, GN 48
    ("ev_page_tab_hw_error", 0x4 << 60 | 3 << 57 | 1 << 56 | 0xABC << 32 | 0x0042,
     {"DeviceID": 0x42, "DomainID": 0xABC, "GN": 0, "I": 0, "RW": 0, "TR": 1, "HwType": 3, "EventCode": 4}),
    ("ev_illegal_command", 0x5 << 60, {"EventCode": 5}),
    ("ev_command_hw_error", 0x6 << 60 | 1 << 57, {"HwType": 1, "EventCode": 6}),
    ("ev_iotlb_inv_timeout", 0x7 << 60 | 0xBEEF, {"DeviceID": 0xBEEF, "EventCode": 7}),
    # INVALID_DEVICE_REQUEST: PASID 19:16 and 47:32, GN 48, US 49, TR 56, Type 59:57
    ("ev_invalid_device_request", 0x8 << 60 | 1 << 57 | 1 << 49 | 0x1234 << 32 | 0xA << 16 | 7,
     {"DeviceID": 7, "PASID_19_16": 0xA, "PASID_15_0": 0x1234, "GN": 0, "US": 1, "TR": 0, "ReqType": 1,
      "EventCode": 8}),
    # INVALID_PPR_REQUEST: PASID[15:0] 31:16, tag 41:32, PASID[19:16] 45:42, flags 59:48
    ("ev_invalid_ppr_request", 0x9 << 60 | 0x024 << 48 | 0x5 << 42 | 0x3FF << 32 | 0xBEEF << 16 | 0x0800,
     {"DeviceID": 0x800, "PASID_15_0": 0xBEEF, "Tag": 0x3FF, "PASID_19_16": 5, "Flags": 0x024, "EventCode": 9}),
    # RMP_PAGE_FAULT: RMP flags 23:16, VMG tag 47:32, flags 59:48
    ("ev_rmp_page_fault", 0xD << 60 | 0x020 << 48 | 0x55AA << 32 | 0x81 << 16 | 0x10,
     {"DeviceID": 0x10, "RmpFlags": 0x81, "VmgTag": 0x55AA, "Flags": 0x020, "EventCode": 0xD}),
    ("ev_rmp_hw_error", 0xE << 60 | 0x008 << 48 | 0x1234 << 32 | 0x11,
     {"DeviceID": 0x11, "VmgTag": 0x1234, "Flags": 0x008, "EventCode": 0xE}),
])
def test_event_entry_first_quadwords(specs, name, entry, expected):
    assert decode(specs["amd_iommu"], name, entry) == expected


def test_every_event_format_has_the_code_at_63_60(specs):
    spec = specs["amd_iommu"]
    formats = [x for x in spec.layouts if x.name.startswith("ev_")]
    assert len(formats) == 9  # codes 3-9, 0Dh, 0Eh
    for fmt in formats:
        code = next(f for f in fmt.fields if f.name == "EventCode")
        assert (code.lo, code.width, fmt.width) == (60, 4, 64), fmt.name


def test_ppr_log_entry(specs):
    # 2.6 PAGE_SERVICE_REQUEST: DeviceID 15:0, PASID[15:0] 31:16, tag 41:32, PASID[19:16]
    # 45:42; flags from bit 48: Exec 49, Read 50, Write 53, US 54, RZ 55, GN 56; type 63:60.
    entry = 1 << 60 | 1 << 56 | 1 << 53 | 1 << 50 | 0x2 << 42 | 0x155 << 32 | 0x0001 << 16 | 0x0300
    assert decode(specs["amd_iommu"], "ppr_log_entry", entry) == {
        "DeviceID": 0x300, "PASID_15_0": 1, "Tag": 0x155, "PASID_19_16": 2, "Exec": 0, "Read": 1,
        "Write": 1, "US": 0, "RZ": 0, "GN": 1, "ReqType": 1}


def test_irte_128_bit_layouts(specs):
    spec = specs["amd_iommu"]
    # remapped: Destination[23:0] at 31:8; guest virtual APIC: GALogIntr 2, IsRun 6, GATag 63:32
    lo = 0xDEAD_BEEF << 32 | 0xABCDEF << 8 | 1 << 7 | 1 << 6 | 1 << 2 | 1
    assert decode(spec, "irte_ga_lo", lo)["Destination_23_0"] == 0xABCDEF
    assert decode(spec, "irte_ga_vapic_lo", lo) == {
        "RemapEn": 1, "SupIOPF": 0, "GALogIntr": 1, "IsRun": 1, "GuestMode": 1,
        "Destination_23_0": 0xABCDEF, "GATag": 0xDEAD_BEEF}
    # IRTE bits 127:64: vector 71:64, GA root 115:76, Destination[31:24] 127:120
    hi = 0x12 << 56 | 0x12_3456_789A << 12 | 0x9C
    assert decode(spec, "irte_ga_hi", hi) == {"Vector": 0x9C, "GARootPtr": 0x12_3456_789A, "Destination_31_24": 0x12}
    # GA log entry: GATag 31:0, DeviceID 47:32, type 63:60 (1: GA_GUEST_NR)
    assert decode(spec, "ga_log_entry", 1 << 60 | 0x0123 << 32 | 0xCAFE_F00D) == {
        "GATag": 0xCAFE_F00D, "DeviceID": 0x0123, "LogType": 1}
