/* cfi.c - a return address's frame rule from the DWARF CFI, without libunwind.
 * A learning unwind asked libunwind for each new return address, and each of
 * its steps blocked every signal around libunwind's cache lock (two system
 * calls) and searched the FDE afresh.  This reads the same tables directly:
 * the FDE from the module's .eh_frame_hdr (binary search), then the CIE's and
 * the FDE's instructions up to the row of the call (ra - 1), expressed as the
 * fast walk's rule.  Anything that rule cannot say is declined with a reason,
 * and libunwind still learns it.  No allocation, no lock, no system call:
 * safe in a malloc hook. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>

#include "cfi.h"

/* ### bounded reads: any read past 'end' sets 'bad' and reads 0 */
typedef struct rd {
    const uint8_t *p, *end;
    bool bad;
} rd_t;

static inline bool rd_has(rd_t *r, size_t n)
{
    if (r->bad || r->p > r->end || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    return true;
}

static inline uint8_t rd_u8(rd_t *r)
{
    return rd_has(r, 1) ? *r->p++ : 0;
}

static inline uint64_t rd_fixed(rd_t *r, size_t n)
{
    uint64_t v = 0;
    if (rd_has(r, n)) {
        memcpy(&v, r->p, n);    /* little-endian, as x86-64 is */
        r->p += n;
    }
    return v;
}

/* One LEB128 number; 'sign' extends the last byte's sign bit (SLEB128). */
static uint64_t rd_leb(rd_t *r, bool sign)
{
    uint64_t v = 0;
    for (unsigned s = 0; s < 70; s += 7) {
        if (!rd_has(r, 1))
            return 0;
        uint8_t b = *r->p++;
        if (s < 64)
            v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            if (sign && s + 7 < 64 && (b & 0x40))
                v |= ~(uint64_t)0 << (s + 7);
            return v;
        }
    }
    r->bad = true;              /* longer than 10 bytes */
    return 0;
}

static uint64_t rd_uleb(rd_t *r)
{
    return rd_leb(r, false);
}

static int64_t rd_sleb(rd_t *r)
{
    return (int64_t)rd_leb(r, true);
}

static void rd_skip(rd_t *r, uint64_t n)
{
    if (rd_has(r, 1) && n <= (uint64_t)(r->end - r->p))
        r->p += n;
    else
        r->bad = true;
}

/* A value in DW_EH_PE encoding 'enc' (0xff, "omitted", is not handled).
 * Only absolute and pc-relative values: the others (text-, data-,
 * function-relative, aligned) do not occur in x86-64 .eh_frame code
 * addresses.  With 'skip', the value is only stepped over (a personality
 * routine's, which may be indirect), so any application will do but aligned. */
static uint64_t rd_enc(rd_t *r, uint8_t enc, bool skip)
{
    uintptr_t at = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case 0x00: case 0x04: case 0x0c: v = rd_fixed(r, 8); break;
    case 0x01: v = rd_uleb(r); break;
    case 0x02: v = rd_fixed(r, 2); break;
    case 0x03: v = rd_fixed(r, 4); break;
    case 0x09: v = (uint64_t)rd_sleb(r); break;
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_fixed(r, 2); break;
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_fixed(r, 4); break;
    default: r->bad = true; return 0;
    }
    if (enc == 0xff || (enc & 0x70) == 0x50) {
        r->bad = true;
        return 0;
    }
    if (skip)
        return 0;
    if ((enc & 0x80) || (enc & 0x70) > 0x10) {
        r->bad = true;
        return 0;
    }
    return (enc & 0x70) == 0x10 ? v + at : v;
}

/* ### the module and its FDE */
int lk_cfi_module(uintptr_t pc, lk_cfi_module_t *m)
{
    struct dl_find_object d;
    if (_dl_find_object((void *)pc, &d) != 0 || d.dlfo_eh_frame == NULL || d.dlfo_link_map == NULL)
        return LK_CFI_NO_MODULE;
    /* the ELF header and program headers at the start of the first segment
     * (a page at least), to bound the reads by the segment of the tables */
    const uint8_t *base = d.dlfo_map_start, *end = d.dlfo_map_end;
    uintptr_t span = (uintptr_t)d.dlfo_map_end - (uintptr_t)base;
    size_t room = span < 4096 ? (size_t)span : 4096;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
    const ElfW(Phdr) *ph;
    unsigned phnum;
    if (room >= sizeof *eh && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
        eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_phentsize == sizeof(ElfW(Phdr)) &&
        eh->e_phoff <= room && eh->e_phnum <= (room - eh->e_phoff) / sizeof(ElfW(Phdr))) {
        ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
        phnum = eh->e_phnum;
    } else if (d.dlfo_link_map->l_name && d.dlfo_link_map->l_name[0] == '\0' &&
               d.dlfo_link_map->l_prev == NULL && getauxval(AT_PHDR) != 0) {
        /* the main program, whose span glibc gives as the one segment that
         * holds 'pc' when its code is not in the first (Debian 12's make and
         * node): its program headers are the kernel's, in the aux vector */
        ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
        phnum = (unsigned)getauxval(AT_PHNUM);
        base = NULL;
        end = (const uint8_t *)UINTPTR_MAX;
    } else {
        return LK_CFI_NO_MODULE;
    }
    uintptr_t bias = d.dlfo_link_map->l_addr, hdr = (uintptr_t)d.dlfo_eh_frame;
    m->hdr = d.dlfo_eh_frame;
    m->hdr_end = NULL;
    m->lo = m->hi = NULL;
    for (unsigned i = 0; i < phnum; i++) {
        uintptr_t va = bias + ph[i].p_vaddr;
        if (ph[i].p_type == PT_GNU_EH_FRAME && va == hdr)
            m->hdr_end = m->hdr + ph[i].p_memsz;
        else if (ph[i].p_type == PT_LOAD && hdr >= va && hdr - va < ph[i].p_filesz) {
            m->lo = (const uint8_t *)va;
            m->hi = (const uint8_t *)(va + ph[i].p_filesz);
        }
    }
    if (!m->hdr_end || !m->lo || m->lo < base || m->hi > end ||
        m->hdr_end > m->hi)
        return LK_CFI_NO_MODULE;
    return LK_CFI_OK;
}

/* The FDE that .eh_frame_hdr's table gives for code address 'at' (the last
 * one starting at or below it; whether it covers 'at' is the caller's
 * question).  Only the usual table (datarel sdata4 pairs, sorted). */
static int find_fde(const lk_cfi_module_t *m, uintptr_t at, const uint8_t **fde)
{
    const uint8_t *h = m->hdr;
    if (h < m->lo || m->hdr_end > m->hi || m->hdr_end - h < 4)
        return LK_CFI_BAD;
    rd_t r = {h + 4, m->hdr_end, false};
    if (h[0] != 1 || h[2] == 0xff || h[3] != 0x3b)
        return LK_CFI_BAD;
    if (h[1] != 0xff)
        rd_enc(&r, h[1], true);                     /* eh_frame_ptr */
    uint64_t count = rd_enc(&r, h[2], false);
    if (r.bad || (h[2] & 0x70) != 0 || count > (uint64_t)(r.end - r.p) / 8)
        return LK_CFI_BAD;
    const uint8_t *tab = r.p;
    int64_t rel = (int64_t)(at - (uintptr_t)h);
    int32_t first;
    if (count == 0)
        return LK_CFI_NO_FDE;
    memcpy(&first, tab, 4);
    if (first > rel)
        return LK_CFI_NO_FDE;
    size_t lo = 0, hi = (size_t)count;      /* the last entry starting at or below 'at' */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        int32_t v;
        memcpy(&v, tab + 8 * mid, 4);
        if (v <= rel)
            lo = mid;
        else
            hi = mid;
    }
    int32_t off;
    memcpy(&off, tab + 8 * lo + 4, 4);
    const uint8_t *f = h + off;
    if (f < m->lo || f >= m->hi || m->hi - f < 8)
        return LK_CFI_BAD;
    *fde = f;
    return LK_CFI_OK;
}

typedef struct cie {
    uint64_t caf;               /* code alignment factor */
    int64_t daf;                /* data alignment factor */
    uint8_t fde_enc;            /* 'R' */
    bool z, signal;
    const uint8_t *ins, *ins_end;
} cie_t;

static int parse_cie(const lk_cfi_module_t *m, const uint8_t *at, cie_t *c)
{
    if (at < m->lo || at >= m->hi)
        return LK_CFI_BAD;
    rd_t r = {at, m->hi, false};
    uint32_t len = (uint32_t)rd_fixed(&r, 4);
    if (r.bad || len < 4 || len >= 0xfffffff0u || len > (size_t)(r.end - r.p))
        return LK_CFI_BAD;
    r.end = r.p + len;
    uint32_t id = (uint32_t)rd_fixed(&r, 4);
    uint8_t ver = rd_u8(&r);
    if (r.bad || id != 0 || (ver != 1 && ver != 3))
        return LK_CFI_BAD;
    const char *aug = (const char *)r.p;
    size_t al = strnlen(aug, (size_t)(r.end - r.p));
    if (al == (size_t)(r.end - r.p))
        return LK_CFI_BAD;
    r.p += al + 1;
    c->caf = rd_uleb(&r);
    c->daf = rd_sleb(&r);
    uint64_t ra = ver == 1 ? rd_u8(&r) : rd_uleb(&r);
    if (r.bad || c->caf == 0 || c->caf > 256 || c->daf == 0 || c->daf > 256 || c->daf < -256)
        return LK_CFI_BAD;
    if (ra != 16)
        return LK_CFI_RA;
    c->fde_enc = 0;
    c->signal = false;
    c->z = aug[0] == 'z';
    if (c->z) {
        uint64_t alen = rd_uleb(&r);
        if (r.bad || alen > (uint64_t)(r.end - r.p))
            return LK_CFI_BAD;
        rd_t a = {r.p, r.p + alen, false};
        for (const char *s = aug + 1; *s; s++) {
            if (*s == 'R')
                c->fde_enc = rd_u8(&a);
            else if (*s == 'P')
                rd_enc(&a, rd_u8(&a), true);
            else if (*s == 'L')
                rd_u8(&a);
            else if (*s == 'S')
                c->signal = true;
            else
                return LK_CFI_BAD;
        }
        if (a.bad)
            return LK_CFI_BAD;
        r.p += alen;
    } else if (aug[0] != '\0') {
        return LK_CFI_BAD;
    }
    c->ins = r.p;
    c->ins_end = r.end;
    return LK_CFI_OK;
}

/* ### running the instructions
 * Only the rules the fast walk needs are kept: the CFA, rbp (6), rsp (7) and
 * the return address (16).  Another register's rule matters only when it is
 * an expression (libunwind evaluates those, and may fail): then decline. */
enum { RR_UNSET, RR_SAME, RR_UNDEF, RR_OFFSET, RR_VAL, RR_REG, RR_EXPR };
typedef struct rrule {
    uint8_t how;
    int64_t off;                /* RR_OFFSET, RR_VAL: from the CFA */
} rrule_t;
typedef struct cfstate {
    uint64_t cfa_reg;
    int64_t cfa_off;
    bool cfa_expr;
    rrule_t rbp, rsp, ra;
} cfstate_t;
#define CFI_STATE_DEPTH 8

static rrule_t *reg_rule(cfstate_t *s, uint64_t reg)
{
    return reg == 6 ? &s->rbp : reg == 7 ? &s->rsp : reg == 16 ? &s->ra : NULL;
}

typedef struct run {
    cfstate_t st, init;
    cfstate_t stack[CFI_STATE_DEPTH];
    unsigned depth;
    bool expr_other;
} run_t;

static void set_rule(run_t *x, uint64_t reg, uint8_t how, int64_t off)
{
    rrule_t *rr = reg_rule(&x->st, reg);
    if (rr) {
        rr->how = how;
        rr->off = off;
    } else if (how == RR_EXPR) {
        x->expr_other = true;
    }
}

/* Run [r.p, r.end) from code address 'loc' up to the row covering 'at'
 * (in_cie: the CIE's initial instructions, which may not advance). */
static int run_cfi(run_t *x, rd_t r, const cie_t *c, uint64_t loc, uintptr_t at, bool in_cie)
{
    while (r.p < r.end) {
        uint8_t op = rd_u8(&r);
        uint64_t adv = 0, reg;
        bool is_adv = false;
        int64_t daf = c->daf;
        switch (op >> 6) {
        case 1:
            adv = (op & 0x3f) * c->caf;
            is_adv = true;
            break;
        case 2:
            set_rule(x, op & 0x3f, RR_OFFSET, (int64_t)(rd_uleb(&r) * (uint64_t)daf));
            break;
        case 3: {
            rrule_t *rr = reg_rule(&x->st, op & 0x3f);
            if (rr)
                *rr = *reg_rule(&x->init, op & 0x3f);
            break;
        }
        default:
            switch (op) {
            case 0x00:                                          /* nop */
                break;
            case 0x01: {                                        /* set_loc */
                uint64_t nl = rd_enc(&r, c->fde_enc, false);
                if (r.bad || in_cie)
                    return LK_CFI_BAD;
                if (nl > at)
                    return LK_CFI_OK;
                loc = nl;
                break;
            }
            case 0x02: adv = rd_u8(&r) * c->caf; is_adv = true; break;
            case 0x03: adv = rd_fixed(&r, 2) * c->caf; is_adv = true; break;
            case 0x04: adv = rd_fixed(&r, 4) * c->caf; is_adv = true; break;
            case 0x05:                                          /* offset_extended */
                reg = rd_uleb(&r);
                set_rule(x, reg, RR_OFFSET, (int64_t)(rd_uleb(&r) * (uint64_t)daf));
                break;
            case 0x06: {                                        /* restore_extended */
                reg = rd_uleb(&r);
                rrule_t *rr = reg_rule(&x->st, reg);
                if (rr)
                    *rr = *reg_rule(&x->init, reg);
                break;
            }
            case 0x07: set_rule(x, rd_uleb(&r), RR_UNDEF, 0); break;
            case 0x08: set_rule(x, rd_uleb(&r), RR_SAME, 0); break;
            case 0x09:                                          /* register */
                reg = rd_uleb(&r);
                rd_uleb(&r);
                set_rule(x, reg, RR_REG, 0);
                break;
            case 0x0a:                                          /* remember_state */
                if (x->depth >= CFI_STATE_DEPTH)
                    return LK_CFI_STATE;
                x->stack[x->depth++] = x->st;
                break;
            case 0x0b:                                          /* restore_state */
                if (x->depth == 0)
                    return LK_CFI_BAD;
                x->st = x->stack[--x->depth];
                break;
            case 0x0c:                                          /* def_cfa */
                x->st.cfa_reg = rd_uleb(&r);
                x->st.cfa_off = (int64_t)rd_uleb(&r);
                x->st.cfa_expr = false;
                break;
            case 0x0d:                                          /* def_cfa_register */
                if (x->st.cfa_expr)
                    return LK_CFI_BAD;
                x->st.cfa_reg = rd_uleb(&r);
                break;
            case 0x0e:                                          /* def_cfa_offset */
                if (x->st.cfa_expr)
                    return LK_CFI_BAD;
                x->st.cfa_off = (int64_t)rd_uleb(&r);
                break;
            case 0x0f:                                          /* def_cfa_expression */
                rd_skip(&r, rd_uleb(&r));
                x->st.cfa_expr = true;
                break;
            case 0x10:                                          /* expression */
            case 0x16:                                          /* val_expression */
                reg = rd_uleb(&r);
                rd_skip(&r, rd_uleb(&r));
                set_rule(x, reg, RR_EXPR, 0);
                break;
            case 0x11:                                          /* offset_extended_sf */
                reg = rd_uleb(&r);
                set_rule(x, reg, RR_OFFSET, (int64_t)((uint64_t)rd_sleb(&r) * (uint64_t)daf));
                break;
            case 0x12:                                          /* def_cfa_sf */
                x->st.cfa_reg = rd_uleb(&r);
                x->st.cfa_off = (int64_t)((uint64_t)rd_sleb(&r) * (uint64_t)daf);
                x->st.cfa_expr = false;
                break;
            case 0x13:                                          /* def_cfa_offset_sf */
                if (x->st.cfa_expr)
                    return LK_CFI_BAD;
                x->st.cfa_off = (int64_t)((uint64_t)rd_sleb(&r) * (uint64_t)daf);
                break;
            case 0x14:                                          /* val_offset */
                reg = rd_uleb(&r);
                set_rule(x, reg, RR_VAL, (int64_t)(rd_uleb(&r) * (uint64_t)daf));
                break;
            case 0x15:                                          /* val_offset_sf */
                reg = rd_uleb(&r);
                set_rule(x, reg, RR_VAL, (int64_t)((uint64_t)rd_sleb(&r) * (uint64_t)daf));
                break;
            case 0x2e:                                          /* GNU_args_size */
                rd_uleb(&r);
                break;
            case 0x2f:                                          /* GNU_negative_offset_extended */
                reg = rd_uleb(&r);
                set_rule(x, reg, RR_OFFSET, -(int64_t)(rd_uleb(&r) * (uint64_t)daf));
                break;
            default:
                return LK_CFI_BAD;
            }
        }
        if (r.bad)
            return LK_CFI_BAD;
        if (is_adv) {
            if (in_cie)
                return LK_CFI_BAD;
            if (adv > at - loc)                             /* the next row starts past 'at' */
                return LK_CFI_OK;
            loc += adv;
        }
    }
    return LK_CFI_OK;
}

/* The run's row as the fast walk's rule. */
static int to_rule(const run_t *x, lk_cfi_rule_t *rule)
{
    const cfstate_t *s = &x->st;
    if (x->expr_other || s->cfa_expr || s->ra.how == RR_EXPR || s->rbp.how == RR_EXPR ||
        s->rsp.how == RR_EXPR)
        return LK_CFI_EXPR;
    if (s->ra.how == RR_UNDEF) {
        rule->kind = LK_CFI_END;
        rule->delta = 0;
        rule->rbp_save = 0;
        return LK_CFI_OK;
    }
    if (s->ra.how != RR_OFFSET || s->ra.off != -8 || s->rsp.how != RR_UNSET)
        return LK_CFI_RA;
    if (s->cfa_reg == 7 && s->cfa_off >= 8 && s->cfa_off <= (1 << 20)) {
        rule->kind = LK_CFI_SP;
        rule->delta = (uint32_t)s->cfa_off;
    } else if (s->cfa_reg == 6 && s->cfa_off == 16) {
        rule->kind = LK_CFI_BP;
        rule->delta = 0;
    } else {
        return LK_CFI_CFA;
    }
    if (s->rbp.how == RR_UNSET || s->rbp.how == RR_SAME) {
        rule->rbp_save = 0;
    } else if (s->rbp.how == RR_OFFSET && s->rbp.off <= -8 && s->rbp.off >= -0xffff &&
               (rule->kind == LK_CFI_BP || -s->rbp.off <= (int64_t)rule->delta)) {
        rule->rbp_save = (uint32_t)-s->rbp.off;
    } else {
        return LK_CFI_RBP;
    }
    return LK_CFI_OK;
}

/* The FDE at 'fde': its CIE, whether it covers 'at', and where its
 * instructions are (r) and start (begin). */
static int open_fde(const lk_cfi_module_t *m, const uint8_t *fde, uintptr_t at, cie_t *c, rd_t *ins,
                    uint64_t *begin)
{
    rd_t r = {fde, m->hi, false};
    uint32_t len = (uint32_t)rd_fixed(&r, 4);
    if (r.bad || len < 8 || len >= 0xfffffff0u || len > (size_t)(r.end - r.p))
        return LK_CFI_BAD;
    r.end = r.p + len;
    uint32_t cie_ptr = (uint32_t)rd_fixed(&r, 4);
    if (cie_ptr == 0 || cie_ptr > (uintptr_t)(fde + 4 - m->lo))
        return LK_CFI_BAD;
    int rc = parse_cie(m, fde + 4 - cie_ptr, c);
    if (rc != LK_CFI_OK)
        return rc;
    *begin = rd_enc(&r, c->fde_enc, false);
    uint64_t range = rd_enc(&r, c->fde_enc & 0x0f, false);
    if (r.bad)
        return LK_CFI_BAD;
    if (at < *begin || at - *begin >= range)
        return LK_CFI_NO_FDE;
    if (c->z)
        rd_skip(&r, rd_uleb(&r));
    if (r.bad)
        return LK_CFI_BAD;
    *ins = r;
    return LK_CFI_OK;
}

int lk_cfi_rule_in(const lk_cfi_module_t *m, uintptr_t ra, lk_cfi_rule_t *rule)
{
    if (ra == 0)
        return LK_CFI_NO_FDE;
    uintptr_t at = ra - 1;      /* the call instruction's row */
    const uint8_t *fde;
    int rc = find_fde(m, at, &fde);
    if (rc != LK_CFI_OK)
        return rc;
    cie_t c;
    rd_t ins;
    uint64_t begin;
    rc = open_fde(m, fde, at, &c, &ins, &begin);
    if (rc != LK_CFI_OK)
        return rc;
    if (c.signal)
        return LK_CFI_SIGNAL;
    run_t x;
    memset(&x, 0, sizeof x);
    rd_t ci = {c.ins, c.ins_end, false};
    rc = run_cfi(&x, ci, &c, begin, at, true);
    if (rc != LK_CFI_OK)
        return rc;
    x.init = x.st;
    rc = run_cfi(&x, ins, &c, begin, at, false);
    if (rc != LK_CFI_OK)
        return rc;
    return to_rule(&x, rule);
}

int lk_cfi_rule(uintptr_t ra, lk_cfi_rule_t *rule)
{
    lk_cfi_module_t m;
    if (ra == 0 || lk_cfi_module(ra - 1, &m) != LK_CFI_OK)
        return LK_CFI_NO_MODULE;
    return lk_cfi_rule_in(&m, ra, rule);
}

bool lk_cfi_fde_covers(uintptr_t pc)
{
    lk_cfi_module_t m;
    const uint8_t *fde;
    cie_t c;
    rd_t ins;
    uint64_t begin;
    return lk_cfi_module(pc, &m) == LK_CFI_OK && find_fde(&m, pc, &fde) == LK_CFI_OK &&
           open_fde(&m, fde, pc, &c, &ins, &begin) == LK_CFI_OK;
}

const char *lk_cfi_reason(int rc)
{
    static const char *const names[LK_CFI_NREASONS] = {
        "ok", "no module", "no FDE", "malformed or unhandled", "signal frame",
        "expression", "CFA rule", "rbp rule", "return address rule", "state stack"};
    return rc >= 0 && rc < LK_CFI_NREASONS ? names[rc] : "?";
}
