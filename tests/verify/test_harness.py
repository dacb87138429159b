"""The harness's words for a mismatch show each memory reference's size."""
from codegen.verify import harness


def test_a_size_disagreement_is_reported_with_both_sizes():
    """Two references that differ only in size: the message says so (it used to read
    `reference R[0x0]=0x0 != model R[0x0]=0x0`)."""
    a = harness.Run({"ok": True}, [(0, 0x1000, 4, 0x3)], {})
    b = harness.Run({"ok": True}, [(0, 0x1000, 8, 0x3)], {})
    assert harness.compare(a, b) == ["memory reference #0: reference R4[0x1000]=0x3 != model R8[0x1000]=0x3"]


def test_writes_show_their_size_too():
    a = harness.Run({"ok": True}, [(1, 0x20, 16, 0x21)], {0x20: 0x21})
    b = harness.Run({"ok": True}, [(1, 0x20, 16, 0x23)], {0x20: 0x21})
    assert harness.compare(a, b) == ["memory reference #0: reference W16[0x20]=0x21 != model W16[0x20]=0x23"]
