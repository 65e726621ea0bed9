/* check_cfi.c - preload/cfi.c's frame rules against an independent reader of
 * the same CFI, elfutils libdw (dwarf_cfi_addrframe), over every row of
 * every FDE of libc.so.6, libleak.so and /bin/bash: where cfi answers, its
 * CFA rule and rbp rule are libdw's; where it declines, the reason is
 * counted and printed, and declines stay rare. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdw.h>
#include <dwarf.h>
#include <libelf.h>

#include "cfi.h"
#include "testhelper.h"

/* A file's PT_LOAD segments mapped read-only at their relative places, as a
 * loader would (no relocation: .eh_frame's code addresses are pc-relative). */
typedef struct mapped {
    uint8_t *base;
    size_t span;
    uintptr_t bias;             /* mapped address - file address */
    lk_cfi_module_t mod;
} mapped_t;

static void map_file(const char *path, mapped_t *mf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "open %s", path);
    ElfW(Ehdr) eh;
    ck_assert_int_eq(pread(fd, &eh, sizeof eh, 0), (ssize_t)sizeof eh);
    ck_assert(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_phnum > 0 && eh.e_phnum < 64);
    ElfW(Phdr) ph[64];
    size_t phsz = eh.e_phnum * sizeof ph[0];
    ck_assert_int_eq(pread(fd, ph, phsz, (off_t)eh.e_phoff), (ssize_t)phsz);
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if ((ph[i].p_vaddr & ~(uintptr_t)4095) < lo)
            lo = ph[i].p_vaddr & ~(uintptr_t)4095;
        if (ph[i].p_vaddr + ph[i].p_memsz > hi)
            hi = ph[i].p_vaddr + ph[i].p_memsz;
    }
    mf->span = hi - lo;
    void *b = mmap(NULL, mf->span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(b != MAP_FAILED);
    mf->base = b;
    mf->bias = (uintptr_t)b - lo;
    memset(&mf->mod, 0, sizeof mf->mod);
    uintptr_t hdr = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_GNU_EH_FRAME) {
            hdr = mf->bias + ph[i].p_vaddr;
            mf->mod.hdr = (const uint8_t *)hdr;
            mf->mod.hdr_end = mf->mod.hdr + ph[i].p_memsz;
        }
    ck_assert_msg(hdr != 0, "%s: no .eh_frame_hdr", path);
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || ph[i].p_filesz == 0)
            continue;
        uintptr_t pg = ph[i].p_vaddr & 4095;
        void *p = mmap((void *)(mf->bias + ph[i].p_vaddr - pg), ph[i].p_filesz + pg, PROT_READ,
                       MAP_PRIVATE | MAP_FIXED, fd, (off_t)(ph[i].p_offset - pg));
        ck_assert(p != MAP_FAILED);
        uintptr_t va = mf->bias + ph[i].p_vaddr;
        if (hdr >= va && hdr - va < ph[i].p_filesz) {
            mf->mod.lo = (const uint8_t *)va;
            mf->mod.hi = (const uint8_t *)(va + ph[i].p_filesz);
        }
    }
    ck_assert(mf->mod.lo != NULL);
    close(fd);
}

/* libdw's row for code address 'at', as the fast walk's rule if it can be
 * one (1), or not (0).  -1: libdw has no row. */
typedef struct oracle {
    lk_cfi_rule_t rule;
    Dwarf_Addr start, end;
} oracle_t;

static int oracle(Dwarf_CFI *cfi, Dwarf_Addr at, oracle_t *o)
{
    Dwarf_Frame *fr;
    if (dwarf_cfi_addrframe(cfi, at, &fr) != 0)
        return -1;
    int rep = 0;
    bool sig = false;
    int rareg = dwarf_frame_info(fr, &o->start, &o->end, &sig);
    Dwarf_Op mem[3], *ops;
    size_t nops;
    memset(&o->rule, 0, sizeof o->rule);
    if (sig || rareg != 16)
        goto out;
    if (dwarf_frame_register(fr, 16, mem, &ops, &nops) != 0)
        goto out;
    if (nops == 0 && ops == mem) {
        /* return address undefined: the outermost frame, if the CFA is a
         * register plus an offset */
        Dwarf_Op *cops;
        size_t cn;
        if (dwarf_frame_cfa(fr, &cops, &cn) == 0 && cn == 1 &&
            ((cops[0].atom >= DW_OP_breg0 && cops[0].atom <= DW_OP_breg31) ||
             cops[0].atom == DW_OP_bregx)) {
            o->rule.kind = LK_CFI_END;
            rep = 1;
        }
        goto out;
    }
    if (!(nops == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst &&
          (int64_t)ops[1].number == -8))
        goto out;
    /* rsp: libdw's ABI default, the CFA as a value */
    if (dwarf_frame_register(fr, 7, mem, &ops, &nops) != 0 ||
        !(nops == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_stack_value))
        goto out;
    Dwarf_Op *cops;
    size_t cn;
    if (dwarf_frame_cfa(fr, &cops, &cn) != 0 || cn != 1)
        goto out;
    /* DW_OP_bregN offset, or DW_OP_bregx N offset */
    int64_t reg = -1, off = 0;
    if (cops[0].atom >= DW_OP_breg0 && cops[0].atom <= DW_OP_breg31) {
        reg = cops[0].atom - DW_OP_breg0;
        off = (int64_t)cops[0].number;
    } else if (cops[0].atom == DW_OP_bregx) {
        reg = (int64_t)cops[0].number;
        off = (int64_t)cops[0].number2;
    }
    if (reg == 7 && off >= 8 && off <= (1 << 20)) {
        o->rule.kind = LK_CFI_SP;
        o->rule.delta = (uint32_t)off;
    } else if (reg == 6 && off == 16) {
        o->rule.kind = LK_CFI_BP;
    } else {
        goto out;
    }
    if (dwarf_frame_register(fr, 6, mem, &ops, &nops) != 0)
        goto out;
    if (nops == 0 && ops == NULL) {
        rep = 1;                                /* same value */
    } else if (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa &&
               ops[1].atom == DW_OP_plus_uconst) {
        int64_t k = -(int64_t)ops[1].number;
        if (k >= 8 && k <= 0xffff && (o->rule.kind == LK_CFI_BP || k <= (int64_t)o->rule.delta)) {
            o->rule.rbp_save = (uint32_t)k;
            rep = 1;
        }
    }
out:
    free(fr);
    return rep;
}

typedef struct tally {
    unsigned rows, answered, declined[LK_CFI_NREASONS], declined_rep[LK_CFI_NREASONS];
    unsigned fdes, in_process;
} tally_t;

/* Every row of every FDE in the table of 'mf': cfi against libdw, at the
 * return addresses whose call (ra - 1) is the row's first and last byte.
 * 'live_bias': the file's bias in this process (libc), to also ask
 * lk_cfi_rule through _dl_find_object; 0 if not loaded. */
static void compare_file(const char *path, uintptr_t live_bias, tally_t *t)
{
    mapped_t mf;
    map_file(path, &mf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert(fd >= 0);
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    ck_assert(elf != NULL);
    Dwarf_CFI *cfi = dwarf_getcfi_elf(elf);
    ck_assert_msg(cfi != NULL, "%s: libdw finds no CFI", path);
    const uint8_t *h = mf.mod.hdr;
    ck_assert(h[0] == 1 && h[2] == 0x03 && h[3] == 0x3b);
    uint32_t count;
    memcpy(&count, h + 8, 4);                   /* eh_frame_ptr is 4 bytes here */
    ck_assert(h[1] == 0x1b && count > 100);
    const uint8_t *tab = h + 12;
    memset(t, 0, sizeof *t);
    for (uint32_t i = 0; i < count; i++) {
        int32_t v;
        memcpy(&v, tab + 8 * i, 4);
        Dwarf_Addr addr = (uintptr_t)h + v - mf.bias, limit = UINT64_MAX;
        if (i + 1 < count) {
            memcpy(&v, tab + 8 * (i + 1), 4);
            limit = (uintptr_t)h + v - mf.bias;
        }
        t->fdes++;
        for (unsigned guard = 0; guard < 100000 && addr < limit; guard++) {
            oracle_t o;
            if (oracle(cfi, addr, &o) < 0 || o.end <= addr)
                break;
            const Dwarf_Addr ras[2] = {addr + 1, o.end};
            for (int k = 0; k < 2; k++) {
                oracle_t ok;
                int rep = oracle(cfi, ras[k] - 1, &ok);
                ck_assert_int_ge(rep, 0);
                lk_cfi_rule_t r;
                int rc = lk_cfi_rule_in(&mf.mod, mf.bias + ras[k], &r);
                t->rows++;
                if (rc != LK_CFI_OK) {
                    ck_assert_int_lt(rc, LK_CFI_NREASONS);
                    t->declined[rc]++;
                    t->declined_rep[rc] += rep == 1;
                    continue;
                }
                t->answered++;
                ck_assert_msg(rep == 1 && r.kind == ok.rule.kind &&
                                  (r.kind != LK_CFI_SP || r.delta == ok.rule.delta) &&
                                  (r.kind == LK_CFI_END || r.rbp_save == ok.rule.rbp_save),
                              "%s ra %#lx: cfi kind %u delta %u rbp %u, libdw (%d) kind %u delta %u rbp %u",
                              path, (unsigned long)ras[k], r.kind, r.delta, r.rbp_save, rep,
                              ok.rule.kind, ok.rule.delta, ok.rule.rbp_save);
                if (live_bias) {
                    lk_cfi_rule_t lr;
                    ck_assert_int_eq(lk_cfi_rule(live_bias + ras[k], &lr), LK_CFI_OK);
                    ck_assert(lr.kind == r.kind && lr.delta == r.delta && lr.rbp_save == r.rbp_save);
                    t->in_process++;
                }
            }
            addr = o.end;
        }
    }
    fprintf(stderr, "cfi vs libdw: %s: %u FDEs, %u rows, %u answered, %u in process", path,
            t->fdes, t->rows, t->answered, t->in_process);
    for (int rc = 1; rc < LK_CFI_NREASONS; rc++)
        if (t->declined[rc])
            fprintf(stderr, "; declined %u %s (%u of them a rule libdw can express)",
                    t->declined[rc], lk_cfi_reason(rc), t->declined_rep[rc]);
    fprintf(stderr, "\n");
    dwarf_cfi_end(cfi);
    elf_end(elf);
    close(fd);
    munmap(mf.base, mf.span);
    /* every row was looked at; cfi answers most of them, and declines a row
     * libdw can express as the fast walk's rule only for an expression in
     * another register (libunwind evaluates those, and may fail).  The other
     * declines are mostly epilogue rows after 'pop rbp', whose rbp slot lies
     * below the CFA's sp: never a call's row. */
    ck_assert_uint_gt(t->rows, 2 * t->fdes);
    ck_assert_msg(t->answered * 10 >= t->rows * 7, "%u of %u answered", t->answered, t->rows);
    ck_assert_uint_eq(t->declined[LK_CFI_NO_FDE], 0);
    ck_assert_uint_eq(t->declined[LK_CFI_BAD], 0);
    for (int rc = 1; rc < LK_CFI_NREASONS; rc++)
        ck_assert_msg(rc == LK_CFI_EXPR || t->declined_rep[rc] == 0, "%s: %u declined, libdw has a rule",
                      lk_cfi_reason(rc), t->declined_rep[rc]);
}

START_TEST(test_cfi_matches_libdw_libc)
{
    Dl_info info;
    struct link_map *lm = NULL;
    /* a libc function no sanitizer intercepts */
    ck_assert(dladdr1((void *)&gnu_get_libc_version, &info, (void **)&lm, RTLD_DL_LINKMAP) != 0 &&
              lm != NULL);
    ck_assert(strstr(lm->l_name, "libc.so.6") != NULL);
    tally_t t;
    compare_file(lm->l_name, lm->l_addr, &t);
    ck_assert_uint_eq(t.in_process, t.answered);
}
END_TEST

START_TEST(test_cfi_matches_libdw_libleak)
{
    const char *b = getenv("BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/libleak.so", b && *b ? b : "build");
    ck_assert_msg(access(path, R_OK) == 0, "%s: build it first", path);
    tally_t t;
    compare_file(path, 0, &t);
}
END_TEST

START_TEST(test_cfi_matches_libdw_bash)
{
    tally_t t;
    compare_file("/bin/bash", 0, &t);
}
END_TEST

/* Addresses without a module or an FDE are declined, never guessed. */
START_TEST(test_cfi_declines_without_fde)
{
    lk_cfi_rule_t r;
    int local;
    ck_assert_int_eq(lk_cfi_rule(0, &r), LK_CFI_NO_MODULE);
    ck_assert_int_eq(lk_cfi_rule((uintptr_t)&local, &r), LK_CFI_NO_MODULE);
    ck_assert(!lk_cfi_fde_covers((uintptr_t)&local));
    ck_assert(lk_cfi_fde_covers((uintptr_t)&gnu_get_libc_version + 1));
}
END_TEST

/* A module's FDEs share a few CIEs: each is parsed (and its initial
 * instructions run) once, not at every lookup. */
START_TEST(test_cfi_parses_each_cie_once)
{
    mapped_t mf;
    map_file("/bin/bash", &mf);
    const uint8_t *h = mf.mod.hdr;
    uint32_t count;
    memcpy(&count, h + 8, 4);
    ck_assert(h[1] == 0x1b && h[2] == 0x03 && count > 100);
    uint64_t l0, p0, o0, l1, p1, o1;
    lk_cfi_counts(&l0, &p0, &o0);
    unsigned answered = 0;
    for (uint32_t i = 0; i < count; i++) {
        int32_t v;
        memcpy(&v, h + 12 + 8 * i, 4);
        lk_cfi_rule_t r;
        answered += lk_cfi_rule_in(&mf.mod, (uintptr_t)h + v + 1, &r) == LK_CFI_OK;
    }
    lk_cfi_counts(&l1, &p1, &o1);
    fprintf(stderr, "cfi: %u FDEs looked up at their first byte: %lu CIE parses, %lu instructions\n",
            count, (unsigned long)(p1 - p0), (unsigned long)(o1 - o0));
    ck_assert_uint_eq(l1 - l0, count);
    ck_assert_uint_gt(answered, count / 2);
    ck_assert_uint_le(p1 - p0, 16);
    /* the first row needs at most the FDE's first instruction: the CIE's
     * (two or three) are not run again */
    ck_assert_uint_lt(o1 - o0, 2 * (uint64_t)count);
    munmap(mf.base, mf.span);
}
END_TEST

static Suite *cfi_suite(void)
{
    Suite *s = suite_create("cfi");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cfi_matches_libdw_libc);
    tcase_add_test(tc, test_cfi_matches_libdw_libleak);
    tcase_add_test(tc, test_cfi_matches_libdw_bash);
    tcase_add_test(tc, test_cfi_declines_without_fde);
    tcase_add_test(tc, test_cfi_parses_each_cie_once);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(cfi_suite)
