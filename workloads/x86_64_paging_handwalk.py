"""A hand-written IA-32e page walker: 4-level and 5-level paging.

Written from the manuals, not from the generated code, as the speed baseline (and an
independent second opinion) for generated/x86_64_paging/reference.py:

  * Intel SDM Vol. 3A 4.5 (4-level and 5-level paging, Tables 4-14 .. 4-20),
    4.6 (access rights, SMEP/SMAP, protection keys), 4.7 (page-fault error code),
    4.8 (accessed and dirty flags);
  * AMD64 APM Vol. 2 5.3 (long-mode translation), 5.6 (protection), 8.4.2 (#PF).

MAXPHYADDR is 48 and 1-GByte pages are supported. Context registers are passed as raw
values; only the bits named below are read.

Conventions shared with the generated reference (they are modelling choices the SDM
leaves open):
  * the result is (0, pa, leaf_level, 0) or (fault, level, 0, (14, error_code, cr2))
    with fault = 1 + index in FAULTS; a non-canonical address (checked first, before any
    memory reference, when CR4.PAE = 1) is (10, 0, 0, (13, 0)), #GP(0), and its outcome
    has no level (SDM Vol. 1 3.3.7.1, Vol. 3A 6.15; APM Vol. 2 5.3.1);
  * permission faults are reported in the order of FAULTS (one fault, no OR-ing of
    causes); the PK error-code bit is set whenever the keys deny the access (SDM 4.7),
    whichever check fired;
  * accessed flags as a processor sets them (SDM 4.8; APM 5.4.2): a table entry that is
    present and free of reserved bits gets A (one 8-byte write, when not already set)
    before the next entry is read, and keeps it when a lower level then faults; the
    leaf's A, and D on a write, are written once the access is permitted.
"""

FAULTS = ('not_present', 'reserved', 'user_supervisor', 'user_write', 'supervisor_write', 'smap',
          'execute_disable', 'smep', 'protection_key', 'non_canonical')

MAXPHYADDR = 48
ADDR = ((1 << MAXPHYADDR) - 1) & ~0xFFF        # bits M-1:12 of an entry / CR3
RSVD_HIGH = ((1 << 52) - 1) & ~((1 << MAXPHYADDR) - 1)  # bits 51:M must be zero
XD = 1 << 63
PS = 1 << 7
ACCESSED = 1 << 5
DIRTY = 1 << 6

# Must-be-zero bits that depend on the level (EFER.NXE = 1); XD is added when NXE = 0.
#   level 5/4: PS (bit 7) is reserved (SDM Tables 4-14, 4-15)
#   level 3 leaf (1 GByte): bits 29:13 (Table 4-16); level 2 leaf (2 MByte): 20:13 (4-18)
_RSVD_TABLE = (0, RSVD_HIGH, RSVD_HIGH, RSVD_HIGH, RSVD_HIGH | PS, RSVD_HIGH | PS)
_RSVD_LEAF = (0, RSVD_HIGH, RSVD_HIGH | 0x1FE000, RSVD_HIGH | 0x3FFFE000, 0, 0)
_PAGE_MASK = (0, 0xFFF, 0x1FFFFF, 0x3FFFFFFF, 0, 0)


def _record(kind, i_addr, k_write, k_user, k_fetch, r_CR4, r_EFER, pk_denied=0):
    """#PF: vector 14, error code (SDM 4.7 / Figure 4-12), CR2 = the linear address."""
    err = ((kind != 1)                                       # P: 0 only for not-present
           | (k_write << 1) | (k_user << 2)                  # W/R, U/S
           | ((kind == 2) << 3)                              # RSVD
           | ((k_fetch and bool((r_CR4 >> 20) & 1 or (r_EFER >> 11) & 1)) << 4)  # I/D
           | (bool(pk_denied) << 5))                         # PK
    return (14, err, i_addr & 0xFFFFFFFFFFFFFFFF)


def walk_top(mem, trace, i_addr, k_write, k_user, k_fetch, r_CR0, r_CR3, r_CR4, r_EFER, r_RFLAGS, r_PKRU):
    nxe = (r_EFER >> 11) & 1
    xd_rsvd = 0 if nxe else XD
    level = 5 if (r_CR4 >> 12) & 1 else 4
    if (r_CR4 >> 5) & 1:
        # canonical: bits 63:47 (63:56 with LA57) all equal, i.e. the top bits all 0 or all 1
        top = i_addr >> (9 * level + 11)
        if top not in (0, (1 << (64 - 9 * level - 11)) - 1):
            return (10, 0, 0, (13, 0))
    table = r_CR3 & ADDR
    rw = us = 1
    xd = 0
    get = mem.get
    while True:
        shift = 9 * level + 3                      # 48, 39, 30, 21, 12
        addr = table | (((i_addr >> shift) & 0x1FF) << 3)
        e = get(addr, 0)
        trace.append((0, addr, 8, e))
        if not e & 1:
            return (1, level, 0, _record(1, i_addr, k_write, k_user, k_fetch, r_CR4, r_EFER))
        leaf = level == 1 or (level <= 3 and e & PS)
        if e & ((_RSVD_LEAF if leaf else _RSVD_TABLE)[level] | xd_rsvd):
            return (2, level, 0, _record(2, i_addr, k_write, k_user, k_fetch, r_CR4, r_EFER))
        rw &= e >> 1
        us &= e >> 2
        if nxe:
            xd |= e >> 63
        if leaf:
            break
        if not e & ACCESSED:
            e |= ACCESSED
            mem[addr] = e
            trace.append((1, addr, 8, e))
        table = e & ADDR
        level -= 1

    rw &= 1
    us &= 1
    # Access rights (SDM 4.6.1, 4.6.2), in the order of FAULTS.
    wp = (r_CR0 >> 16) & 1
    kind = 0
    if k_user:
        if not us:
            kind = 3
        elif k_write and not rw:
            kind = 4
    else:
        if k_write and not rw and wp:
            kind = 5
        elif us and not k_fetch and (r_CR4 >> 21) & 1 and not (r_RFLAGS >> 18) & 1:
            kind = 6
    # Protection keys (SDM 4.6.2): a data access to a user-mode address the keys deny.
    pkey = (e >> 59) & 0xF
    pk_denied = (us and (r_CR4 >> 22) & 1 and not k_fetch
                 and ((r_PKRU >> (2 * pkey)) & 1 or ((r_PKRU >> (2 * pkey + 1)) & 1 and k_write and (k_user or wp))))
    if not kind:
        if k_fetch:
            if xd:
                kind = 7
            elif us and not k_user and (r_CR4 >> 20) & 1:
                kind = 8
        elif pk_denied:
            kind = 9
    if kind:
        return (kind, level, 0, _record(kind, i_addr, k_write, k_user, k_fetch, r_CR4, r_EFER, pk_denied))

    # The leaf's accessed flag, and dirty on a write (SDM 4.8).
    u = e | ACCESSED | (DIRTY if k_write else 0)
    if u != e:
        mem[addr] = u
        trace.append((1, addr, 8, u))
    mask = _PAGE_MASK[level]
    return (0, (e & ADDR & ~mask) | (i_addr & mask), level, 0)


def translate(mem, request, trace):
    """Same request dict and outcome dict as the generated reference's translate()."""
    r = walk_top(mem, trace, request['va'], request['write'], request['user'], request['fetch'],
                 request['CR0'], request['CR3'], request['CR4'], request['EFER'], request['RFLAGS'],
                 request['PKRU'])
    if r[0] == 0:
        return {"ok": True, "pa": r[1], "level": r[2]}
    if r[0] == 10:
        return {"ok": False, "fault": "non_canonical", "stage": "top", "level": None, "record": "general_protection",
                "fields": {"vector": 13, "error_code": 0}}
    return {"ok": False, "fault": FAULTS[r[0] - 1], "stage": "top", "level": r[1], "record": "page_fault",
            "fields": dict(zip(("vector", "error_code", "cr2"), r[3]))}
