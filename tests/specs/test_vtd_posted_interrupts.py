"""Golden tests of posted interrupts in the generated intel_vtd reference (issue 17),
worked out by hand from the VT-d specification (D51397; section numbers of the 3.x
editions) and the layouts public code confirms (notes/iommu-facts.md section 21):

- CAP_REG.PI = 1 (param PI): an IRTE with IM (bit 15) = 1 has the posted format of 9.11:
  P 0, FPD 1, bits 7:2 reserved, AVAIL 11:8, bits 13:12 reserved, URG 14, IM 15, the
  virtual vector VV 23:16, bits 37:24 reserved, PDA_L 63:38 (descriptor address bits
  31:6), SID 79:64, SQ 81:80, SVT 83:82, bits 95:84 reserved, PDA_H 127:96 (address bits
  63:32); the remapped format's DM, RH, TM, DLM, DST do not apply (Linux struct irte);
- 9.12: the 64-byte posted-interrupt descriptor: PIR bits 255:0 (vector v at bit v, so in
  the 8-byte word at PDA + (v / 64) * 8, bit v % 64), the control word at PDA + 32: ON
  bit 256, SN 257, bits 271:258 reserved, NV 279:272, bits 287:280 reserved, NDST 319:288
  (xAPIC: the APIC ID in NDST bits 15:8, the other bits reserved) (Linux struct pi_desc);
- 5.2.3: the checks of 5.1.4 first (22h, 24h, 26h as for remapped IRTEs), then the
  descriptor is read, the PIR bit set, X = (ON == 0) && (URG == 1 || SN == 0); with X,
  ON is set and the notification event (NV to NDST) is sent; without it only PIR changes;
- appendix: 27h, the access to the descriptor resulted in an error; 28h, a reserved field
  of the descriptor is set; both qualified by the IRTE's FPD (VirtualBox iommu-intel.h
  VTDINTRFAULT_PID_READ_FAILED = 27h, VTDINTRFAULT_PID_RSVD = 28h, and its
  vtdIrFaultIsQualified);
- 9.9: FRCD_REG of an interrupt fault: FI 63:48 the interrupt_index, SID 79:64, FR
  103:96, F 127.

The model's order of references: the IRTE's two words, the PIR word, the control word;
then the PIR word written back, then the control word with ON set when X holds.
"""
import pytest

from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

from tests.specs.test_intel_vtd_reference import INTERRUPT, IRT, SID, irt_mem, msi, request

BLOCKED, POSTED = 4, 8
ERR = 3  # trace op: a read that answered with an error
EIME = 1 << 11

# The descriptor at 1_2345_6780h (64-byte aligned). Virtual vector 6Ah = 106: PIR word 1
# (bits 127:64) at PDA + 8, bit 106 - 64 = 42. The control word at PDA + 32.
PDA = 0x0000_0001_2345_6780
VV = 0x6A
PIR1 = PDA + 8                         # 0x1_2345_6788
CTL = PDA + 32                         # 0x1_2345_67A0
INDEX = 5                              # handle 5: the IRTE at IRT + 50h


def posted_irte(pda=PDA, vv=VV, urg=0, fpd=0, p=1, sid=0, sq=0, svt=0, lo_extra=0, hi_extra=0):
    """IRTE bits 63:38 hold PDA bits 31:6, so for an aligned PDA the low word's bits
    63:32 are PDA bits 31:0; bits 127:96 hold PDA bits 63:32."""
    lo = p | fpd << 1 | urg << 14 | 1 << 15 | vv << 16 | (pda & 0xFFFF_FFC0) << 32 | lo_extra
    hi = sid | sq << 16 | svt << 18 | (pda >> 32) << 32 | hi_extra
    return lo, hi


def control(on=0, sn=0, nv=0xF2, ndst=0x0300, extra=0):
    """xAPIC destination 3 in NDST bits 15:8."""
    return on | sn << 1 | nv << 16 | ndst << 32 | extra


def image(irte=None, pir1=0x1, ctl=None):
    # PIR word 1 has vector 64 (bit 0) pending already
    return {**irt_mem(INDEX, irte or posted_irte()), PIR1: pir1, CTL: control() if ctl is None else ctl}


@pytest.fixture(scope="module")
def ref(generated):
    return generated["intel_vtd"][0]


def decide(ref, mem, req, errors=frozenset()):
    trace = []
    mem = dict(mem)
    out = ref.decide(mem, req, trace, errors=frozenset(errors))
    return out, trace, mem


def posted(out):
    assert out["exit"] and out["rule"] == "interrupt_posted", out
    f = out["fields"]
    assert (f["outcome"], f["int_index"], f["vector"], f["pda"]) == (POSTED, INDEX, VV, PDA)
    assert f["fault_reason"] == f["recorded"] == f["frcd_hi"] == 0
    return f


IRTE_READS = [(0, IRT + 0x50, 8, 0x2345_6780_006A_8001), (0, IRT + 0x58, 8, 0x0000_0001_0000_0000)]


def test_posted_irte_layout():
    # P, IM, VV 6Ah at 23:16, PDA bits 31:6 at 63:38; PDA bits 63:32 at 127:96
    assert posted_irte() == (0x2345_6780_006A_8001, 0x0000_0001_0000_0000)


def test_posting_sets_the_pir_bit_and_on_and_notifies(ref):
    out, trace, mem = decide(ref, image(), request(INTERRUPT, msi_addr=msi(INDEX)))
    f = posted(out)
    # ON = 0, SN = 0: X = 1: notification NV F2h to the xAPIC destination 3
    assert (f["notify"], f["notify_vector"], f["notify_dest"], f["urgent"]) == (1, 0xF2, 3, 0)
    assert f["pir"] == 0x0000_0400_0000_0001            # bit 42 set, bit 0 kept
    assert f["pd_control"] == 0x0000_0300_00F2_0001     # ON set
    assert trace == IRTE_READS + [
        (0, 0x1_2345_6788, 8, 0x1), (0, 0x1_2345_67A0, 8, 0x0000_0300_00F2_0000),
        (1, 0x1_2345_6788, 8, 0x0000_0400_0000_0001), (1, 0x1_2345_67A0, 8, 0x0000_0300_00F2_0001)]
    assert (mem[PIR1], mem[CTL]) == (0x0000_0400_0000_0001, 0x0000_0300_00F2_0001)
    # the remapped format's fields are not reported
    assert f["destination"] == f["delivery_mode"] == f["dest_mode"] == 0


def test_suppressed_notification_sets_pir_only(ref):
    # SN = 1, URG = 0: X = 0: PIR set, the control word is not written
    out, trace, mem = decide(ref, image(ctl=control(sn=1)), request(INTERRUPT, msi_addr=msi(INDEX)))
    f = posted(out)
    assert (f["notify"], f["notify_vector"], f["notify_dest"]) == (0, 0, 0)
    assert [t for t in trace if t[0] == 1] == [(1, PIR1, 8, 0x0000_0400_0000_0001)]
    assert mem[CTL] == control(sn=1)


def test_urgent_interrupt_notifies_despite_sn(ref):
    mem0 = image(irte=posted_irte(urg=1), ctl=control(sn=1))
    out, trace, mem = decide(ref, mem0, request(INTERRUPT, msi_addr=msi(INDEX)))
    f = posted(out)
    assert (f["urgent"], f["notify"], f["notify_vector"]) == (1, 1, 0xF2)
    assert mem[CTL] == 0x0000_0300_00F2_0003            # SN kept, ON set


def test_outstanding_notification_is_not_sent_again(ref):
    # ON = 1 already: X = 0 even for an urgent interrupt
    mem0 = image(irte=posted_irte(urg=1), ctl=control(on=1))
    out, trace, mem = decide(ref, mem0, request(INTERRUPT, msi_addr=msi(INDEX)))
    f = posted(out)
    assert f["notify"] == 0
    assert [t for t in trace if t[0] == 1] == [(1, PIR1, 8, 0x0000_0400_0000_0001)]


def test_x2apic_destination_and_vector_in_another_pir_word(ref):
    # vector FFh: PIR word 3 (PDA + 18h), bit 63; x2APIC (EIME = 1): NDST all 32 bits
    pir3 = PDA + 0x18
    mem0 = {**irt_mem(INDEX, posted_irte(vv=0xFF)), pir3: 0, CTL: control(ndst=0x0001_0203)}
    out, trace, mem = decide(ref, mem0, request(INTERRUPT, msi_addr=msi(INDEX), irta=IRT | 7 | EIME))
    assert out["rule"] == "interrupt_posted"
    f = out["fields"]
    assert (f["vector"], f["notify_dest"], f["pir"]) == (0xFF, 0x0001_0203, 1 << 63)
    assert [a for op, a, _, _ in trace if op == 0][2:] == [0x1_2345_6798, 0x1_2345_67A0]


def test_pda_bits_are_not_the_remapped_xapic_destination(ref):
    # PDA bit 6 is IRTE bit 38, which the remapped format reserves in xAPIC mode (DST
    # bits 7:0): in the posted format it is an address bit
    pda = PDA | 0x40
    mem0 = {**irt_mem(INDEX, posted_irte(pda=pda)), pda + 8: 0, pda + 32: control()}
    out, _, _ = decide(ref, mem0, request(INTERRUPT, msi_addr=msi(INDEX)))
    assert out["rule"] == "interrupt_posted" and out["fields"]["pda"] == 0x1_2345_67C0


@pytest.mark.parametrize("lo_extra, hi_extra", [
    (1 << 2, 0),        # bits 7:2 (the remapped format's DM)
    (1 << 7, 0),
    (1 << 12, 0),       # bits 13:12
    (1 << 24, 0),       # bits 37:24 (the remapped format's reserved 31:24)
    (1 << 37, 0),
    (0, 1 << 20),       # bits 95:84
    (0, 1 << 31),
    (0, 1 << 48),       # PDA bit 48: at or above the host address width (48)
])
def test_posted_irte_reserved_bits_are_24h(ref, lo_extra, hi_extra):
    mem0 = image(irte=posted_irte(lo_extra=lo_extra, hi_extra=hi_extra))
    out, trace, _ = decide(ref, mem0, request(INTERRUPT, msi_addr=msi(INDEX)))
    assert out["rule"] == "irte_reserved" and out["fields"]["fault_reason"] == 0x24
    assert trace == [(0, a, 8, v) for a, v in zip((IRT + 0x50, IRT + 0x58), irt_mem(INDEX, posted_irte(
        lo_extra=lo_extra, hi_extra=hi_extra)).values())]      # the descriptor is not read


def test_avail_bits_of_a_posted_irte_are_ignored(ref):
    out, _, _ = decide(ref, image(irte=posted_irte(lo_extra=0xF << 8)), request(INTERRUPT, msi_addr=msi(INDEX)))
    assert out["rule"] == "interrupt_posted"


def test_posted_irte_not_present_and_source_id(ref):
    out, trace, _ = decide(ref, image(irte=posted_irte(p=0)), request(INTERRUPT, msi_addr=msi(INDEX)))
    assert out["rule"] == "irte_not_present" and len(trace) == 2
    # SVT = 01b, SQ = 00b: the IRTE's SID must equal the requester's (0342h)
    out, trace, _ = decide(ref, image(irte=posted_irte(sid=SID ^ 1, svt=1)), request(INTERRUPT, msi_addr=msi(INDEX)))
    assert out["rule"] == "source_id_invalid" and out["fields"]["fault_reason"] == 0x26 and len(trace) == 2
    out, _, _ = decide(ref, image(irte=posted_irte(sid=SID, svt=1)), request(INTERRUPT, msi_addr=msi(INDEX)))
    assert out["rule"] == "interrupt_posted"


def ir_fault(out, rule, fr, recorded=1):
    assert out["exit"] and out["rule"] == rule, out
    f = out["fields"]
    assert (f["outcome"], f["fault_reason"], f["recorded"]) == (BLOCKED, fr, recorded)
    # FI 63:48 the interrupt_index; SID 0342h, FR at 103:96, F at 127
    assert (f["frcd_lo"], f["frcd_hi"]) == (INDEX << 48, SID | fr << 32 | 1 << 63)
    assert f["pir"] == f["pd_control"] == f["notify"] == 0


@pytest.mark.parametrize("word", [PIR1, CTL])
def test_descriptor_read_error_is_27h_and_nothing_is_written(ref, word):
    mem0 = image()
    out, trace, mem = decide(ref, mem0, request(INTERRUPT, msi_addr=msi(INDEX)), {word})
    ir_fault(out, "pid_access_error", 0x27)
    assert [op for op, *_ in trace] == [0, 0] + [ERR if a == word else 0 for a in (PIR1, CTL)]
    assert mem == mem0
    # qualified: the IRTE's FPD suppresses the record
    out, _, _ = decide(ref, image(irte=posted_irte(fpd=1)), request(INTERRUPT, msi_addr=msi(INDEX)), {word})
    ir_fault(out, "pid_access_error", 0x27, recorded=0)


@pytest.mark.parametrize("ctl, irta", [
    (control(extra=1 << 2), IRT | 7),             # bits 271:258
    (control(extra=1 << 15), IRT | 7),
    (control(extra=1 << 24), IRT | 7),            # bits 287:280
    (control(ndst=0x0301), IRT | 7),              # xAPIC: NDST bits 7:0 reserved
    (control(ndst=0x1_0300), IRT | 7),            # xAPIC: NDST bits 31:16 reserved
])
def test_descriptor_reserved_bits_are_28h(ref, ctl, irta):
    mem0 = image(ctl=ctl)
    out, trace, mem = decide(ref, mem0, request(INTERRUPT, msi_addr=msi(INDEX), irta=irta))
    ir_fault(out, "pid_reserved", 0x28)
    assert len(trace) == 4 and mem == mem0
    out, _, _ = decide(ref, image(irte=posted_irte(fpd=1), ctl=ctl), request(INTERRUPT, msi_addr=msi(INDEX), irta=irta))
    ir_fault(out, "pid_reserved", 0x28, recorded=0)


def test_x2apic_ndst_low_bits_are_not_reserved(ref):
    out, _, _ = decide(ref, image(ctl=control(ndst=0x0301)), request(INTERRUPT, msi_addr=msi(INDEX), irta=IRT | 7 | EIME))
    assert out["rule"] == "interrupt_posted" and out["fields"]["notify_dest"] == 0x0301


def test_remapped_irtes_are_unchanged(ref):
    # IM = 0: the remapped format, nothing but the IRTE read
    lo, hi = 1 | 0xEC << 16 | 0x5A00 << 32, 0
    out, trace, _ = decide(ref, irt_mem(INDEX, (lo, hi)), request(INTERRUPT, msi_addr=msi(INDEX)))
    assert out["rule"] == "interrupt_remapped" and out["fields"]["destination"] == 0x5A and len(trace) == 2


def test_the_model_posts_as_the_reference(generated):
    """One notified posting and one descriptor read error through the MyHDL model."""
    ref, model = generated["intel_vtd"]
    scenarios = [Scenario(request(INTERRUPT, msi_addr=msi(INDEX)), image(), 0),
                 Scenario(request(INTERRUPT, msi_addr=msi(INDEX)), image(), 1, errors=frozenset({CTL}))]
    for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
        trace = []
        mem = dict(sc.memory)
        ref_run = Run(ref.decide(mem, sc.request, trace, errors=sc.errors), trace, mem)
        assert compare(ref_run, model_run) == [], sc.request
    assert model_run.outcome["rule"] == "pid_access_error"
