/* cfi.c - a return address's frame rule from the DWARF CFI, without libunwind.
 * A learning unwind asked libunwind for each new return address, and each of
 * its steps blocked every signal around libunwind's cache lock (two system
 * calls) and searched the FDE afresh.  This reads the same tables directly:
 * the FDE from the module's .eh_frame_hdr (binary search), then the CIE's and
 * the FDE's instructions up to the row of the call (ra - 1), expressed as the
 * fast walk's rule.  Anything that rule cannot say is declined with a reason,
 * and libunwind still learns it.  No allocation, no lock, no system call:
 * safe in a malloc hook (the last CIEs parsed are kept in thread-local
 * storage). */
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
    if (__builtin_expect(r->p < r->end, 1))
        return *r->p++;
    r->bad = true;
    return 0;
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

/* One LEB128 number at *pp (below 'end'); 'sign' extends the last byte's
 * sign bit (SLEB128).  Past 'end' or longer than 10 bytes sets *bad. */
static uint64_t leb_slow(const uint8_t **pp, const uint8_t *end, bool sign, bool *bad)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned s = 0; s < 70; s += 7) {
        if (p >= end)
            break;
        uint8_t b = *p++;
        if (s < 64)
            v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            if (sign && s + 7 < 64 && (b & 0x40))
                v |= ~(uint64_t)0 << (s + 7);
            *pp = p;
            return v;
        }
    }
    *pp = p;
    *bad = true;
    return 0;
}

/* Nearly every number in CFI fits one byte: that case inline. */
static inline uint64_t leb_u(const uint8_t **pp, const uint8_t *end, bool *bad)
{
    if (__builtin_expect(*pp < end && **pp < 0x80, 1))
        return *(*pp)++;
    return leb_slow(pp, end, false, bad);
}

static inline int64_t leb_s(const uint8_t **pp, const uint8_t *end, bool *bad)
{
    if (__builtin_expect(*pp < end && **pp < 0x80, 1)) {
        uint8_t b = *(*pp)++;
        return (b & 0x40) ? (int64_t)b - 0x80 : (int64_t)b;
    }
    return (int64_t)leb_slow(pp, end, true, bad);
}

static uint64_t rd_uleb(rd_t *r)
{
    return leb_u(&r->p, r->end, &r->bad);
}

static int64_t rd_sleb(rd_t *r)
{
    return leb_s(&r->p, r->end, &r->bad);
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

/* ### the module and its FDE
 * The last modules found on this thread are kept with their table bounds:
 * reading them costs a walk of the program headers, and a fast walk's new
 * return addresses mostly lie in one or two modules.  An entry is used only
 * when _dl_find_object (asked every time: modules come and go) gives the
 * same mapping, tables and link map. */
#define MOD_MEMO_WAYS 2
typedef struct mod_memo {
    const void *map_start, *map_end, *eh;   /* eh NULL: empty */
    const struct link_map *lm;
    uintptr_t bias;
    lk_cfi_module_t m;
} mod_memo_t;
static __thread mod_memo_t tls_mod[MOD_MEMO_WAYS] __attribute__((tls_model("initial-exec")));

int lk_cfi_module(uintptr_t pc, lk_cfi_module_t *m)
{
    struct dl_find_object d;
    if (_dl_find_object((void *)pc, &d) != 0 || d.dlfo_eh_frame == NULL || d.dlfo_link_map == NULL)
        return LK_CFI_NO_MODULE;
    for (unsigned w = 0; w < MOD_MEMO_WAYS; w++) {
        const mod_memo_t *mm = &tls_mod[w];
        if (mm->eh == d.dlfo_eh_frame && mm->map_start == d.dlfo_map_start &&
            mm->map_end == d.dlfo_map_end && mm->lm == d.dlfo_link_map &&
            mm->bias == d.dlfo_link_map->l_addr) {
            *m = mm->m;
            return LK_CFI_OK;
        }
    }
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
    tls_mod[1] = tls_mod[0];
    tls_mod[0] = (mod_memo_t){d.dlfo_map_start, d.dlfo_map_end, d.dlfo_eh_frame, d.dlfo_link_map,
                              bias, *m};
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
    uint64_t count;
    if (h[1] == 0x1b && h[2] == 0x03 && m->hdr_end - h >= 12) {
        uint32_t c4;                                /* the linkers' choice: sdata4, udata4 */
        memcpy(&c4, h + 8, 4);
        count = c4;
        r.p = h + 12;
    } else {
        if (h[1] != 0xff)
            rd_enc(&r, h[1], true);                 /* eh_frame_ptr */
        count = rd_enc(&r, h[2], false);
    }
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

/* Run [p, end) from code address 'loc' up to the row covering 'at'
 * (in_cie: the CIE's initial instructions, which may not advance).  Adds the
 * instructions decoded to *ops.  Reads through locals, numbers of one byte
 * inline: this loop is most of the cost of learning a return address. */
static int run_cfi(run_t *x, const uint8_t *p, const uint8_t *end, const cie_t *c, uint64_t loc,
                   uintptr_t at, bool in_cie, uint64_t *ops)
{
    bool bad = false;
    const int64_t daf = c->daf;
    const uint64_t caf = c->caf;
    uint64_t n = 0;
    int rc = LK_CFI_OK;
    while (p < end) {
        uint8_t op = *p++;
        uint64_t adv = 0, reg, v;
        bool is_adv = false;
        n++;
        switch (op >> 6) {
        case 1:
            adv = (op & 0x3f) * caf;
            is_adv = true;
            break;
        case 2:
            v = leb_u(&p, end, &bad);
            set_rule(x, op & 0x3f, RR_OFFSET, (int64_t)(v * (uint64_t)daf));
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
                rd_t r = {p, end, false};
                uint64_t nl = rd_enc(&r, c->fde_enc, false);
                p = r.p;
                if (r.bad || in_cie) {
                    rc = LK_CFI_BAD;
                    goto out;
                }
                if (nl > at)
                    goto out;
                loc = nl;
                break;
            }
            case 0x02:
            case 0x03:
            case 0x04: {                                        /* advance_loc1, 2, 4 */
                size_t k = op == 0x02 ? 1 : op == 0x03 ? 2 : 4;
                uint32_t d = 0;
                if ((size_t)(end - p) < k) {
                    bad = true;
                    break;
                }
                memcpy(&d, p, k);       /* little-endian, as x86-64 is */
                p += k;
                adv = d * caf;
                is_adv = true;
                break;
            }
            case 0x05:                                          /* offset_extended */
                reg = leb_u(&p, end, &bad);
                v = leb_u(&p, end, &bad);
                set_rule(x, reg, RR_OFFSET, (int64_t)(v * (uint64_t)daf));
                break;
            case 0x06: {                                        /* restore_extended */
                reg = leb_u(&p, end, &bad);
                rrule_t *rr = reg_rule(&x->st, reg);
                if (rr)
                    *rr = *reg_rule(&x->init, reg);
                break;
            }
            case 0x07: set_rule(x, leb_u(&p, end, &bad), RR_UNDEF, 0); break;
            case 0x08: set_rule(x, leb_u(&p, end, &bad), RR_SAME, 0); break;
            case 0x09:                                          /* register */
                reg = leb_u(&p, end, &bad);
                leb_u(&p, end, &bad);
                set_rule(x, reg, RR_REG, 0);
                break;
            case 0x0a:                                          /* remember_state */
                if (x->depth >= CFI_STATE_DEPTH) {
                    rc = LK_CFI_STATE;
                    goto out;
                }
                x->stack[x->depth++] = x->st;
                break;
            case 0x0b:                                          /* restore_state */
                if (x->depth == 0) {
                    rc = LK_CFI_BAD;
                    goto out;
                }
                x->st = x->stack[--x->depth];
                break;
            case 0x0c:                                          /* def_cfa */
                x->st.cfa_reg = leb_u(&p, end, &bad);
                x->st.cfa_off = (int64_t)leb_u(&p, end, &bad);
                x->st.cfa_expr = false;
                break;
            case 0x0d:                                          /* def_cfa_register */
                if (x->st.cfa_expr) {
                    rc = LK_CFI_BAD;
                    goto out;
                }
                x->st.cfa_reg = leb_u(&p, end, &bad);
                break;
            case 0x0e:                                          /* def_cfa_offset */
                if (x->st.cfa_expr) {
                    rc = LK_CFI_BAD;
                    goto out;
                }
                x->st.cfa_off = (int64_t)leb_u(&p, end, &bad);
                break;
            case 0x0f:                                          /* def_cfa_expression */
                v = leb_u(&p, end, &bad);
                if (bad || v > (uint64_t)(end - p))
                    bad = true;
                else
                    p += v;
                x->st.cfa_expr = true;
                break;
            case 0x10:                                          /* expression */
            case 0x16:                                          /* val_expression */
                reg = leb_u(&p, end, &bad);
                v = leb_u(&p, end, &bad);
                if (bad || v > (uint64_t)(end - p))
                    bad = true;
                else
                    p += v;
                set_rule(x, reg, RR_EXPR, 0);
                break;
            case 0x11:                                          /* offset_extended_sf */
                reg = leb_u(&p, end, &bad);
                v = (uint64_t)leb_s(&p, end, &bad);
                set_rule(x, reg, RR_OFFSET, (int64_t)(v * (uint64_t)daf));
                break;
            case 0x12:                                          /* def_cfa_sf */
                x->st.cfa_reg = leb_u(&p, end, &bad);
                x->st.cfa_off = (int64_t)((uint64_t)leb_s(&p, end, &bad) * (uint64_t)daf);
                x->st.cfa_expr = false;
                break;
            case 0x13:                                          /* def_cfa_offset_sf */
                if (x->st.cfa_expr) {
                    rc = LK_CFI_BAD;
                    goto out;
                }
                x->st.cfa_off = (int64_t)((uint64_t)leb_s(&p, end, &bad) * (uint64_t)daf);
                break;
            case 0x14:                                          /* val_offset */
                reg = leb_u(&p, end, &bad);
                v = leb_u(&p, end, &bad);
                set_rule(x, reg, RR_VAL, (int64_t)(v * (uint64_t)daf));
                break;
            case 0x15:                                          /* val_offset_sf */
                reg = leb_u(&p, end, &bad);
                v = (uint64_t)leb_s(&p, end, &bad);
                set_rule(x, reg, RR_VAL, (int64_t)(v * (uint64_t)daf));
                break;
            case 0x2e:                                          /* GNU_args_size */
                leb_u(&p, end, &bad);
                break;
            case 0x2f:                                          /* GNU_negative_offset_extended */
                reg = leb_u(&p, end, &bad);
                v = leb_u(&p, end, &bad);
                set_rule(x, reg, RR_OFFSET, -(int64_t)(v * (uint64_t)daf));
                break;
            default:
                rc = LK_CFI_BAD;
                goto out;
            }
        }
        if (bad) {
            rc = LK_CFI_BAD;
            goto out;
        }
        if (is_adv) {
            if (in_cie) {
                rc = LK_CFI_BAD;
                goto out;
            }
            if (adv > at - loc)                             /* the next row starts past 'at' */
                goto out;
            loc += adv;
        }
    }
out:
    *ops += n;
    return rc;
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

/* ### the CIE, parsed once
 * Most FDEs of a module share one or two CIEs, and parsing one (augmentation,
 * factors, initial instructions) cost as much as finding the FDE.  The last
 * CIEs parsed on this thread are kept with the row their initial
 * instructions leave.  An entry is checked against the CIE's bytes before it
 * is used (a module unloaded and another loaded at its address has other
 * bytes there), so it is never stale.  This thread's only: a hook is never
 * reentered on a thread, so no entry is read half written. */
#define CIE_MEMO_BYTES 64       /* a longer CIE is parsed every time */
#define CIE_MEMO_WAYS 2
typedef struct cie_memo {
    const uint8_t *at;          /* the CIE; NULL: empty */
    uint32_t len;               /* its bytes, length word included */
    int run_rc;                 /* the initial instructions' verdict */
    bool expr_other;
    cie_t c;
    cfstate_t init;             /* the row the initial instructions leave */
    uint8_t bytes[CIE_MEMO_BYTES];
} cie_memo_t;
static __thread cie_memo_t tls_cie[CIE_MEMO_WAYS] __attribute__((tls_model("initial-exec")));

/* How much work learning took (lk_cfi_counts). */
static uint64_t count_lookups, count_cie_parses, count_ops;     /* atomic */

/* The CIE at 'at' parsed, and its initial instructions run, into 'cm'. */
static int cie_fill(const lk_cfi_module_t *m, const uint8_t *at, cie_memo_t *cm)
{
    __atomic_fetch_add(&count_cie_parses, 1, __ATOMIC_RELAXED);
    int rc = parse_cie(m, at, &cm->c);
    if (rc != LK_CFI_OK)
        return rc;
    run_t x;
    memset(&x.st, 0, sizeof x.st);
    x.depth = 0;
    x.expr_other = false;
    uint64_t ops = 0;
    cm->run_rc = run_cfi(&x, cm->c.ins, cm->c.ins_end, &cm->c, 0, 0, true, &ops);
    if (cm->run_rc == LK_CFI_OK && x.depth != 0)
        cm->run_rc = LK_CFI_STATE;  /* remember_state in a CIE: never seen, not kept */
    cm->init = x.st;
    cm->expr_other = x.expr_other;
    __atomic_fetch_add(&count_ops, ops, __ATOMIC_RELAXED);
    return LK_CFI_OK;
}

/* The parsed CIE at 'at': a kept one if its bytes still match, else parsed
 * into a way of the memo (or into 'spare', for a long CIE). */
static int cie_get(const lk_cfi_module_t *m, const uint8_t *at, cie_memo_t *spare,
                   const cie_memo_t **out)
{
    if (at < m->lo || at >= m->hi || m->hi - at < 4)
        return LK_CFI_BAD;
    uint32_t len;
    memcpy(&len, at, 4);
    size_t total = (size_t)len + 4;
    bool fits = len < CIE_MEMO_BYTES - 4 && total <= (size_t)(m->hi - at);
    for (unsigned w = 0; fits && w < CIE_MEMO_WAYS; w++) {
        cie_memo_t *cm = &tls_cie[w];
        if (cm->at == at && cm->len == total && memcmp(cm->bytes, at, total) == 0) {
            *out = cm;
            return LK_CFI_OK;
        }
    }
    if (!fits) {
        *out = spare;
        return cie_fill(m, at, spare);
    }
    /* the older way goes: way 0 is the last filled */
    tls_cie[1] = tls_cie[0];
    cie_memo_t *cm = &tls_cie[0];
    cm->at = NULL;
    int rc = cie_fill(m, at, cm);
    if (rc != LK_CFI_OK)
        return rc;
    cm->len = (uint32_t)total;
    memcpy(cm->bytes, at, total);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    cm->at = at;
    *out = cm;
    return LK_CFI_OK;
}

/* The FDE at 'fde': its CIE (*cm; 'spare' may hold it), whether it covers
 * 'at', and where its instructions are (ins) and start (begin). */
static int open_fde(const lk_cfi_module_t *m, const uint8_t *fde, uintptr_t at, cie_memo_t *spare,
                    const cie_memo_t **cm, rd_t *ins, uint64_t *begin)
{
    rd_t r = {fde, m->hi, false};
    uint32_t len = (uint32_t)rd_fixed(&r, 4);
    if (r.bad || len < 8 || len >= 0xfffffff0u || len > (size_t)(r.end - r.p))
        return LK_CFI_BAD;
    r.end = r.p + len;
    uint32_t cie_ptr = (uint32_t)rd_fixed(&r, 4);
    if (cie_ptr == 0 || cie_ptr > (uintptr_t)(fde + 4 - m->lo))
        return LK_CFI_BAD;
    int rc = cie_get(m, fde + 4 - cie_ptr, spare, cm);
    if (rc != LK_CFI_OK)
        return rc;
    const cie_t *c = &(*cm)->c;
    uint64_t range;
    if (c->fde_enc == 0x1b && r.end - r.p >= 8) {
        int32_t v[2];                               /* the linkers' choice: pcrel sdata4 */
        memcpy(v, r.p, 8);
        *begin = (uintptr_t)r.p + (uint64_t)(int64_t)v[0];
        range = (uint64_t)(int64_t)v[1];
        r.p += 8;
    } else {
        *begin = rd_enc(&r, c->fde_enc, false);
        range = rd_enc(&r, c->fde_enc & 0x0f, false);
        if (r.bad)
            return LK_CFI_BAD;
    }
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
    __atomic_fetch_add(&count_lookups, 1, __ATOMIC_RELAXED);
    int rc = find_fde(m, at, &fde);
    if (rc != LK_CFI_OK)
        return rc;
    cie_memo_t spare;
    const cie_memo_t *cm;
    rd_t ins;
    uint64_t begin;
    rc = open_fde(m, fde, at, &spare, &cm, &ins, &begin);
    if (rc != LK_CFI_OK)
        return rc;
    if (cm->c.signal)
        return LK_CFI_SIGNAL;
    if (cm->run_rc != LK_CFI_OK)
        return cm->run_rc;
    run_t x;                    /* the state stack is written before it is read */
    x.st = x.init = cm->init;
    x.depth = 0;
    x.expr_other = cm->expr_other;
    uint64_t ops = 0;
    rc = run_cfi(&x, ins.p, ins.end, &cm->c, begin, at, false, &ops);
    __atomic_fetch_add(&count_ops, ops, __ATOMIC_RELAXED);
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
    cie_memo_t spare;
    const cie_memo_t *cm;
    rd_t ins;
    uint64_t begin;
    return lk_cfi_module(pc, &m) == LK_CFI_OK && find_fde(&m, pc, &fde) == LK_CFI_OK &&
           open_fde(&m, fde, pc, &spare, &cm, &ins, &begin) == LK_CFI_OK;
}

void lk_cfi_counts(uint64_t *fde_lookups, uint64_t *cie_parses, uint64_t *ops)
{
    *fde_lookups = __atomic_load_n(&count_lookups, __ATOMIC_RELAXED);
    *cie_parses = __atomic_load_n(&count_cie_parses, __ATOMIC_RELAXED);
    *ops = __atomic_load_n(&count_ops, __ATOMIC_RELAXED);
}

const char *lk_cfi_reason(int rc)
{
    static const char *const names[LK_CFI_NREASONS] = {
        "ok", "no module", "no FDE", "malformed or unhandled", "signal frame",
        "expression", "CFA rule", "rbp rule", "return address rule", "state stack"};
    return rc >= 0 && rc < LK_CFI_NREASONS ? names[rc] : "?";
}
