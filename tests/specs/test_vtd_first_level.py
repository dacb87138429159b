"""Golden tests of intel_vtd's first-level translation in scalable mode (PASID table entry
PGTT = 001b), expected values worked out by hand from the VT-d specification (D51397) and
the layouts it gives (notes/iommu-facts.md section 22):

- 9.6: the PASID table entry: P 0, FPD 1, PGTT 8:6 (001b first-level); DID 79:64; the
  first-level fields in bits 191:128: SRE 128, FLPM 131:130 (00b 4-level, 01b 5-level),
  WPE 132, EAFE 135, FLPTPTR 191:140 (bits 63:12 of the third word);
- 9.4: the context entry's RID_PRIV (bit 84, bit 20 of the second word): the privilege of a
  request without PASID;
- 9.7 / 3.6: first-level entries in the IA-32e format: P 0, R/W 1, U/S 2, A 5, D 6, PS 7,
  EA 10, ADDR 47:12 (HAW = 48), bits 51:48 reserved; a 2-MByte leaf keeps bits 20:13
  reserved, a 1-GByte leaf bits 29:13; indexes 56:48 (5-level), 47:39, 38:30, 29:21, 20:12;
- the appendix's reasons (Linux dmar.c, QEMU VTD_FR_*): 5Dh SRE clear, 70h / 73h a failed
  read (73h the entry FLPTPTR references), 71h not present, 72h reserved, 80h not
  canonical, 81h U/S = 0 for a user request, 85h no write permission; all qualified;
- 9.9: FRCD_REG: FI 63:12, SID 79:64, PP 95, FR 103:96, PV 123:104, AT 125:124, T 126
  (0 write, 1 read), F 127.
The walk writes the A flag (and EA with EAFE = 1, D at the leaf of a write) into each entry
once it passed its checks (QEMU vtd_iova_to_flpte), before the next entry is read.

Nested translation (PGTT = 011b, VT-d 3.8): every first-level table address, every A/D
update's address and the output are guest-physical, translated by the second-level tables
of the PASID entry (SLPTPTR 63:12, AW 4:2; 9.8 entries: R 0, W 1, PS 7, ADDR 47:12) first:
a table read needs R (75h for the top first-level entry, 76h below), an A/D update W (77h),
the output the request's (85h write, 86h read); 74h / 83h a table address / the output
beyond the second-level width, 7Ah second-level reserved bits.
"""
import pytest

from codegen.verify.harness import Run, compare, run_model
from codegen.verify.stimulus.translation import Scenario

DMA_READ, DMA_WRITE = 1, 2
UNTRANSLATED, TRANSLATION_REQUEST = 0, 1
TRANSLATED_OUT, BLOCKED, COMPLETED = 1, 4, 7
TES = 1 << 31

RTA = 0x10_0000
SM_RTADDR = RTA | 1 << 10            # TTM = 01b
BUS, DEVFN = 0x03, 0x42
SID = BUS << 8 | DEVFN               # lower half of the root entry
ROOT_E = RTA + BUS * 16
LCT = 0x20_0000
CTX_E = LCT + (DEVFN & 0x7F) * 32    # 0x200840
PDIR, PTBL = 0x30_0000, 0x40_0000
FLPT = 0x50_0000
DID = 0x77
RID_PASID = 0x41                     # directory index 1, table index 1
PDIR_E = PDIR + 1 * 8                # 0x300008
PE_E = PTBL + 1 * 64                 # 0x400040
P, RW, US, A, D, PS, EA = 1, 2, 4, 0x20, 0x40, 0x80, 0x400
FL = 1                               # PGTT 001b


def request(kind=DMA_READ, addr=0, at=UNTRANSLATED, pv=0, pasid=0, nw=0):
    return {"kind": kind, "sid": SID, "at": at, "addr": addr, "msi_addr": 0, "msi_data": 0, "nw": nw,
            "pv": pv, "pasid": pasid, "GSTS_REG": TES, "RTADDR_REG": SM_RTADDR, "IRTA_REG": 0,
            "PMEN_REG": 0, "PLMBASE_REG": 0, "PLMLIMIT_REG": 0, "PHMBASE_REG": 0, "PHMLIMIT_REG": 0}


def structures(rid_priv=0, dte=0, paside=0, pe_fpd=0, sre=0, flpm=0, wpe=0, eafe=0, pgtt=FL):
    """Root, context (PDTS 0), directory entry 1 and PASID entry 1 for first-level translation."""
    return {ROOT_E: LCT | 1, ROOT_E + 8: 0,
            CTX_E: PDIR | paside << 3 | dte << 2 | 1, CTX_E + 8: RID_PASID | rid_priv << 20,
            CTX_E + 16: 0, CTX_E + 24: 0,
            PDIR_E: PTBL | 1,
            PE_E: pgtt << 6 | pe_fpd << 1 | 1, PE_E + 8: DID,
            PE_E + 16: FLPT | eafe << 7 | wpe << 4 | flpm << 2 | sre}


UP_TO_PE = [ROOT_E, ROOT_E + 8, CTX_E, CTX_E + 8, CTX_E + 16, CTX_E + 24, PDIR_E, PE_E, PE_E + 8, PE_E + 16]

# A 4-level first-level walk of 0x0000_0040_0020_3ABC: indexes 47:39 = 0, 38:30 = 100h,
# 29:21 = 1, 20:12 = 3; FL-PML4E at 500000h, FL-PDPE at 600000h + 800h, FL-PDE at
# 700000h + 8, FL-PTE at 800000h + 18h mapping the 4-KByte page 9000_0000h.
ADDR = 0x0000_0040_0020_3ABC
WALK = [0x50_0000, 0x60_0800, 0x70_0008, 0x80_0018]
FLAGS = P | RW | US


def fl_tables(pml4e=0x60_0000 | FLAGS, pdpe=0x70_0000 | FLAGS, pde=0x80_0000 | FLAGS, pte=0x9000_0000 | FLAGS):
    return dict(zip(WALK, [pml4e, pdpe, pde, pte]))


def frcd_hi(fr, t, at=UNTRANSLATED, pasid=None):
    pp = pasid is not None
    return SID | pp << 31 | fr << 32 | (pasid or 0) << 40 | at << 60 | t << 62 | 1 << 63


@pytest.fixture(scope="module")
def ref(generated):
    return generated["intel_vtd"][0]


def decide(ref, mem, req, errors=()):
    """The outcome, the trace as (op, address, value) and the memory afterwards."""
    trace, mem = [], dict(mem)
    out = ref.decide(mem, req, trace, errors=frozenset(errors))
    return out, [(op, a, v) for op, a, _s, v in trace], mem


def reads(trace):
    return [a for op, a, _v in trace if op == 0]


def blocked(out, rule, fr, t, recorded=1, **kw):
    assert out["exit"] and out["rule"] == rule, out
    f = out["fields"]
    assert (f["outcome"], f["fault_reason"], f["recorded"]) == (BLOCKED, fr, recorded)
    assert f["frcd_hi"] == frcd_hi(fr, t, **kw)
    assert f["frcd_lo"] == ADDR & ~0xFFF


def test_4k_user_read_sets_accessed_flags(ref):
    out, trace, mem = decide(ref, {**structures(), **fl_tables()}, request(DMA_READ, addr=ADDR))
    assert out["rule"] == "sm_fl_translated", out
    f = out["fields"]
    assert (f["outcome"], f["address"], f["domain"]) == (TRANSLATED_OUT, 0x9000_0ABC, DID)
    # each entry is read, then written with A = 1 (bit 5) before the next read; no D on a read
    expected = []
    for a, v in fl_tables().items():
        expected += [(0, a, v), (1, a, v | A)]
    assert trace[len(UP_TO_PE):] == expected
    assert reads(trace)[:len(UP_TO_PE)] == UP_TO_PE
    assert mem[WALK[3]] == 0x9000_0000 | FLAGS | A


def test_4k_write_sets_dirty_in_the_leaf_and_extended_accessed_with_eafe(ref):
    out, trace, mem = decide(ref, {**structures(eafe=1), **fl_tables()}, request(DMA_WRITE, addr=ADDR))
    assert out["rule"] == "sm_fl_translated" and out["fields"]["address"] == 0x9000_0ABC
    assert [mem[a] & (A | EA | D) for a in WALK] == [A | EA, A | EA, A | EA, A | EA | D]


def test_2m_page(ref):
    # FL-PDE with PS = 1: the page 4020_0000h, offset bits 20:0 = 0_3ABCh
    tables = {**fl_tables(pde=0x4020_0000 | FLAGS | PS)}
    del tables[WALK[3]]
    out, trace, _ = decide(ref, {**structures(), **tables}, request(DMA_READ, addr=ADDR))
    assert out["rule"] == "sm_fl_translated" and out["fields"]["address"] == 0x4020_3ABC
    assert reads(trace) == UP_TO_PE + WALK[:3]


def test_1g_page(ref):
    # FL-PDPE with PS = 1: the page 8000_0000h, offset bits 29:0 = 020_3ABCh
    tables = {WALK[0]: 0x60_0000 | FLAGS, WALK[1]: 0x8000_0000 | FLAGS | PS}
    out, trace, _ = decide(ref, {**structures(), **tables}, request(DMA_READ, addr=ADDR))
    assert out["rule"] == "sm_fl_translated" and out["fields"]["address"] == 0x8020_3ABC
    assert reads(trace) == UP_TO_PE + WALK[:2]


def test_5_level_paging(ref):
    # FLPM = 01b: index 56:48 = 0 reads the FL-PML5E at 500000h, which points to a PML4 table
    # at 580000h; the rest as in the 4-level walk (the FL-PML4E now at 580000h).
    tables = {FLPT: 0x58_0000 | FLAGS, 0x58_0000: 0x60_0000 | FLAGS, **{a: v for a, v in fl_tables().items() if a != FLPT}}
    out, trace, _ = decide(ref, {**structures(flpm=1), **tables}, request(DMA_READ, addr=ADDR))
    assert out["rule"] == "sm_fl_translated" and out["fields"]["address"] == 0x9000_0ABC
    assert reads(trace) == UP_TO_PE + [FLPT, 0x58_0000] + WALK[1:]


def test_non_canonical_address_is_80h_before_any_table_read(ref):
    # bit 47 set, bits 63:48 clear: not canonical with 4-level paging (copies of bit 47),
    # canonical with 5-level paging (bits 63:57 copies of bit 56 = 0)
    addr = 0x0000_8000_0000_0000
    out, trace, _ = decide(ref, {**structures(), **fl_tables()}, request(DMA_READ, addr=addr))
    assert out["rule"] == "sm_fl_non_canonical" and out["fields"]["fault_reason"] == 0x80
    assert out["fields"]["frcd_hi"] == frcd_hi(0x80, t=1) and out["fields"]["frcd_lo"] == addr
    assert reads(trace) == UP_TO_PE
    out, _, _ = decide(ref, {**structures(flpm=1)}, request(DMA_READ, addr=addr))
    assert out["rule"] == "sm_fl_not_present"   # a walk: the (empty) PML5 table


@pytest.mark.parametrize("tables, kind, rule, fr, t", [
    # FL-PDE P = 0: 71h at the third entry
    (fl_tables(pde=0x80_0000 | RW | US), DMA_READ, "sm_fl_not_present", 0x71, 1),
    # bit 51 of the FL-PTE: above HAW = 48, reserved: 72h
    (fl_tables(pte=0x9000_0000 | FLAGS | 1 << 51), DMA_READ, "sm_fl_reserved", 0x72, 1),
    # a 2-MByte leaf with bit 13 set (bits 20:13 reserved): 72h
    (fl_tables(pde=0x4020_2000 | FLAGS | PS), DMA_READ, "sm_fl_reserved", 0x72, 1),
    # a 1-GByte leaf with bit 29 set (bits 29:13 reserved): 72h
    (fl_tables(pdpe=0xA000_0000 | FLAGS | PS), DMA_READ, "sm_fl_reserved", 0x72, 1),
    # U/S = 0 in the FL-PDPE, a user request: 81h
    (fl_tables(pdpe=0x70_0000 | P | RW), DMA_READ, "sm_fl_privilege", 0x81, 1),
    # R/W = 0 in the FL-PTE, a user write: 85h, T = 0
    (fl_tables(pte=0x9000_0000 | P | US), DMA_WRITE, "sm_fl_write_denied", 0x85, 0),
])
def test_first_level_faults(ref, tables, kind, rule, fr, t):
    out, _, mem = decide(ref, {**structures(), **tables}, request(kind, addr=ADDR))
    blocked(out, rule, fr, t)
    # qualified: the PASID entry's FPD suppresses the record
    out, _, _ = decide(ref, {**structures(pe_fpd=1), **tables}, request(kind, addr=ADDR))
    assert out["rule"] == rule and out["fields"]["recorded"] == 0


def test_a_is_kept_in_the_entries_above_a_fault(ref):
    out, _, mem = decide(ref, {**structures(), **fl_tables(pde=0x80_0000 | RW | US)}, request(DMA_READ, addr=ADDR))
    assert out["rule"] == "sm_fl_not_present"
    assert [mem[a] & A for a in WALK] == [A, A, 0, 0]


def test_fault_of_a_request_with_pasid_records_it(ref):
    pasid = 0x41   # the same PASID entry, named by the request (PASIDE = 1)
    out, _, _ = decide(ref, {**structures(paside=1), **fl_tables(pdpe=0x70_0000 | P | RW)},
                       request(DMA_READ, addr=ADDR, pv=1, pasid=pasid))
    blocked(out, "sm_fl_privilege", 0x81, 1, pasid=pasid)


def test_supervisor_requests(ref):
    ro_pte = fl_tables(pte=0x9000_0000 | P)          # supervisor, read-only page
    # RID_PRIV = 1 and SRE = 0: 5Dh, no first-level table is read
    out, trace, _ = decide(ref, {**structures(rid_priv=1), **ro_pte}, request(DMA_WRITE, addr=ADDR))
    blocked(out, "sm_fl_sre_clear", 0x5D, 0)
    assert reads(trace) == UP_TO_PE
    # SRE = 1, WPE = 0: a supervisor write ignores R/W and U/S
    out, _, mem = decide(ref, {**structures(rid_priv=1, sre=1), **ro_pte}, request(DMA_WRITE, addr=ADDR))
    assert out["rule"] == "sm_fl_translated" and out["fields"]["address"] == 0x9000_0ABC
    assert mem[WALK[3]] == 0x9000_0000 | P | A | D
    # WPE = 1: R/W = 0 in the FL-PTE denies it, 85h
    out, _, _ = decide(ref, {**structures(rid_priv=1, sre=1, wpe=1), **ro_pte}, request(DMA_WRITE, addr=ADDR))
    blocked(out, "sm_fl_write_denied", 0x85, 0)


@pytest.mark.parametrize("level, fr", [(0, 0x73), (1, 0x70), (3, 0x70)])
def test_failed_reads_of_first_level_entries(ref, level, fr):
    out, trace, _ = decide(ref, {**structures(), **fl_tables()}, request(DMA_READ, addr=ADDR), errors={WALK[level]})
    rule = "sm_fl_access_error"
    blocked(out, rule, fr, 1)
    assert [a for _op, a, _v in trace if a in WALK] == [a for a in WALK[:level] for _ in (0, 1)] + [WALK[level]]


def test_translation_request_is_answered_from_the_first_level_walk(ref):
    # a 2-MByte page, user request: R = 1, W = 1; S = 1 and address bits 19:12 set
    # (4020_0000h | 000F_F000h = 402F_F000h); nothing is written
    tables = fl_tables(pde=0x4020_0000 | FLAGS | PS)
    del tables[WALK[3]]
    out, trace, _ = decide(ref, {**structures(dte=1), **tables}, request(DMA_READ, addr=ADDR & ~0xFFF, at=TRANSLATION_REQUEST))
    assert out["rule"] == "sm_fl_ats_translation", out
    f = out["fields"]
    assert (f["outcome"], f["cpl_status"], f["domain"]) == (COMPLETED, 0, DID)
    assert f["cpl"] == 0x402F_F000 | 1 << 11 | 2 | 1
    assert all(op == 0 for op, _a, _v in trace)
    # a read-only 4-KByte page: W = 0, S = 0; a page the walk does not find: SC with R = W = 0
    out, _, _ = decide(ref, {**structures(dte=1), **fl_tables(pte=0x9000_0000 | P | US)},
                       request(DMA_READ, addr=ADDR & ~0xFFF, at=TRANSLATION_REQUEST))
    assert out["fields"]["cpl"] == 0x9000_0000 | 1
    out, _, _ = decide(ref, {**structures(dte=1), **fl_tables(pte=0)}, request(DMA_READ, addr=ADDR & ~0xFFF, at=TRANSLATION_REQUEST))
    assert out["rule"] == "sm_fl_ats_not_present" and out["fields"]["cpl"] == 0 and out["fields"]["recorded"] == 0


def test_model_agrees_with_reference_on_golden_images(generated):
    ref, model = generated["intel_vtd"]
    images = [({**structures(eafe=1), **fl_tables()}, request(DMA_WRITE, addr=ADDR)),
              ({**structures(), **fl_tables(pdpe=0x70_0000 | P | RW)}, request(DMA_READ, addr=ADDR))]
    scenarios = [Scenario(req, mem, latency_seed=i) for i, (mem, req) in enumerate(images)]
    for sc, model_run in zip(scenarios, run_model(model, ref, scenarios)):
        trace, mem = [], dict(sc.memory)
        assert compare(Run(ref.decide(mem, sc.request, trace), trace, mem), model_run) == [], sc.request


# ---- nested translation -------------------------------------------------------------------
# Second level (AW = 010b, 4 levels): SL-PML4E at 500000h -> SL-PDPT 580000h, SL-PDPE 0 ->
# SL-PD 590000h, whose entries k = 3..7 map 2-MByte pages: guest-physical k * 2M to host
# physical HB + k * 2M. Each second-level walk of a guest-physical address below 1 GiB reads
# 500000h, 580000h and 590000h + 8k. The first-level tables are at guest-physical 600000h
# (k = 3, the FL-PML4 table FLPTPTR gives), 800000h (4), A00000h (5), C00000h (6), and the
# 4-KByte page at E00000h (7): ADDR = 40_0020_3ABCh reads FL entries at guest-physical
# 600000h, 800800h, A00008h, C00018h, at host physical HB plus those.
NESTED, HB = 3, 0x1_0000_0000
SL_RW = 3


def nested_tables(perms=None, sl_pde_extra=0, guest=None):
    perms = perms or {}
    mem = {0x50_0000: 0x58_0000 | SL_RW, 0x58_0000: 0x59_0000 | SL_RW}
    for k in range(3, 8):
        mem[0x59_0000 + 8 * k] = (HB + k * 0x20_0000) | PS | perms.get(k, SL_RW) | (sl_pde_extra if k == 7 else 0)
    guest = guest or {0x60_0000: 0x80_0000 | FLAGS, 0x80_0800: 0xA0_0000 | FLAGS,
                      0xA0_0008: 0xC0_0000 | FLAGS, 0xC0_0018: 0xE0_0000 | FLAGS}
    mem.update({HB + a: v for a, v in guest.items()})
    return mem


def nested_structures(aw=2, slptptr=0x50_0000, **kw):
    mem = structures(pgtt=NESTED, **kw)
    mem[PE_E] |= slptptr | aw << 2
    mem[PE_E + 16] = mem[PE_E + 16] & 0xFFF | 0x60_0000
    return mem


def sl_walk(k):
    return [0x50_0000, 0x58_0000, 0x59_0000 + 8 * k]


def test_nested_translation_of_a_read(ref):
    out, trace, mem = decide(ref, {**nested_structures(), **nested_tables()}, request(DMA_READ, addr=ADDR))
    assert out["rule"] == "sm_nested_translated", out
    f = out["fields"]
    # the output: guest-physical E00ABCh, host physical HB + E00ABCh
    assert (f["outcome"], f["address"], f["domain"]) == (TRANSLATED_OUT, HB + 0xE0_0ABC, DID)
    # per first-level entry: the second-level walk of its address, its read, the
    # second-level walk of the A update (write access), the write; then the output's walk
    expected = []
    for k, gpa in zip((3, 4, 5, 6), (0x60_0000, 0x80_0800, 0xA0_0008, 0xC0_0018)):
        expected += [(0, a) for a in sl_walk(k)] + [(0, HB + gpa)] + [(0, a) for a in sl_walk(k)] + [(1, HB + gpa)]
    expected += [(0, a) for a in sl_walk(7)]
    assert [(op, a) for op, a, _v in trace[len(UP_TO_PE):]] == expected
    assert mem[HB + 0xC0_0018] == 0xE0_0000 | FLAGS | A


@pytest.mark.parametrize("perms, kind, rule, fr, t", [
    # the top first-level table's 2-MByte region write-only: reading the FL-PML4E, 75h
    ({3: 2}, DMA_READ, "sm_nested_table_read_denied", 0x75, 1),
    # the FL-PDPT's region not present (R = W = 0): 76h
    ({4: 0}, DMA_READ, "sm_nested_table_read_denied", 0x76, 1),
    # the FL-PD's region read-only: its A update is denied, 77h
    ({5: 1}, DMA_READ, "sm_nested_update_denied", 0x77, 1),
    # the page's region read-only, a write: 85h, T = 0
    ({7: 1}, DMA_WRITE, "sm_nested_write_denied", 0x85, 0),
    # the page's region write-only, a read: 86h
    ({7: 2}, DMA_READ, "sm_nested_read_denied", 0x86, 1),
])
def test_nested_second_level_permission_faults(ref, perms, kind, rule, fr, t):
    out, _, _ = decide(ref, {**nested_structures(), **nested_tables(perms)}, request(kind, addr=ADDR))
    blocked(out, rule, fr, t)
    out, _, _ = decide(ref, {**nested_structures(pe_fpd=1), **nested_tables(perms)}, request(kind, addr=ADDR))
    assert out["rule"] == rule and out["fields"]["recorded"] == 0


def test_nested_second_level_reserved_bits_are_7ah(ref):
    # bit 51 of the page's SL-PDE (above HAW = 48): 7Ah, met by the output's walk
    out, _, _ = decide(ref, {**nested_structures(), **nested_tables(sl_pde_extra=1 << 51)}, request(DMA_READ, addr=ADDR))
    blocked(out, "sm_nested_reserved", 0x7A, 1)


def test_nested_addresses_beyond_the_second_level_width(ref):
    # AW = 001b (3 levels, 39 bits), SLPTPTR = the SL-PDPT at 580000h: the same mappings,
    # walked from 580000h. An FL-PML4E pointing at guest-physical 80_0000_0000h (bit 39):
    # 74h; a 4-KByte page at 80_0000_0000h: the output beyond the width, 83h.
    far = 0x80_0000_0000
    guest = {0x60_0000: far | FLAGS}
    out, _, _ = decide(ref, {**nested_structures(aw=1, slptptr=0x58_0000), **nested_tables(guest=guest)},
                       request(DMA_READ, addr=ADDR))
    blocked(out, "sm_nested_table_beyond_width", 0x74, 1)
    guest = {0x60_0000: 0x80_0000 | FLAGS, 0x80_0800: 0xA0_0000 | FLAGS, 0xA0_0008: 0xC0_0000 | FLAGS,
             0xC0_0018: far | FLAGS}
    out, _, _ = decide(ref, {**nested_structures(aw=1, slptptr=0x58_0000), **nested_tables(guest=guest)},
                       request(DMA_READ, addr=ADDR))
    blocked(out, "sm_nested_beyond_width", 0x83, 1)


def test_nested_first_level_fault(ref):
    # the FL-PTE not present: 71h, as in first-level translation
    guest = {0x60_0000: 0x80_0000 | FLAGS, 0x80_0800: 0xA0_0000 | FLAGS, 0xA0_0008: 0xC0_0000 | FLAGS,
             0xC0_0018: 0xE0_0000 | RW | US}
    out, _, _ = decide(ref, {**nested_structures(), **nested_tables(guest=guest)}, request(DMA_READ, addr=ADDR))
    blocked(out, "sm_fl_not_present", 0x71, 1)


def test_nested_translation_request(ref):
    # a 2-MByte first-level page (FL-PDE PS = 1 at guest-physical E00000h) over the 2-MByte
    # second-level page k = 7: one 2-MByte translation at HB + E00000h, S = 1 and bits 19:12
    # set: 1_00EF_F000h; R = W = 1; no flag written
    guest = {0x60_0000: 0x80_0000 | FLAGS, 0x80_0800: 0xA0_0000 | FLAGS, 0xA0_0008: 0xE0_0000 | FLAGS | PS}
    mem = {**nested_structures(dte=1), **nested_tables(guest=guest)}
    out, trace, _ = decide(ref, mem, request(DMA_READ, addr=ADDR & ~0xFFF, at=TRANSLATION_REQUEST))
    assert out["rule"] == "sm_nested_ats_translation", out
    f = out["fields"]
    assert (f["outcome"], f["cpl_status"], f["domain"]) == (COMPLETED, 0, DID)
    assert f["cpl"] == (HB + 0xE0_0000) | 0xF_F000 | 1 << 11 | 2 | 1
    assert all(op == 0 for op, _a, _v in trace)
    # the 4-KByte first-level page inside it: a 4-KByte translation of HB + E00000h; the
    # second level read-only: W = 0
    mem = {**nested_structures(dte=1), **nested_tables({7: 1})}
    out, _, _ = decide(ref, mem, request(DMA_READ, addr=ADDR & ~0xFFF, at=TRANSLATION_REQUEST))
    assert out["rule"] == "sm_nested_ats_translation" and out["fields"]["cpl"] == (HB + 0xE0_0000) | 1
    # the output's second-level entry not present: a completion granting nothing
    mem = {**nested_structures(dte=1), **nested_tables({7: 0})}
    out, _, _ = decide(ref, mem, request(DMA_READ, addr=ADDR & ~0xFFF, at=TRANSLATION_REQUEST))
    assert out["rule"] == "sm_nested_ats_not_present" and out["fields"]["cpl"] == 0


def test_model_agrees_with_reference_on_a_nested_image(generated):
    ref, model = generated["intel_vtd"]
    sc = Scenario(request(DMA_WRITE, addr=ADDR), {**nested_structures(), **nested_tables()}, latency_seed=3)
    (model_run,) = run_model(model, ref, [sc])
    trace, mem = [], dict(sc.memory)
    assert compare(Run(ref.decide(mem, sc.request, trace), trace, mem), model_run) == []
