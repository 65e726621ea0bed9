/* check_reach.h - helpers shared by the reachability end-to-end tests
 * (check_reach.c, check_reach_valgrind.c): read the "reachability" section
 * of a dump, sum its sites by victim function and kind, check the
 * invariants FORMAT.md promises, and ask nm where a global lives. */
#ifndef LK_CHECK_REACH_H
#define LK_CHECK_REACH_H

#include "preload_helpers.h"

typedef struct rc_agg {
    long long blocks, bytes;
    int entries;
} rc_agg_t;

static inline json_t *rc_section(pl_dump_t *d)
{
    json_t *sec = json_object_get(d->root, LK_KEY_REACH);
    ck_assert_msg(json_is_object(sec), "%s: no '%s' object", d->name, LK_KEY_REACH);
    return sec;
}

/* Sum the reachability sites of kind 'kind' (NULL: any) whose stack passes
 * through victim function 'fn'. */
static inline rc_agg_t rc_kind(pl_dump_t *d, json_t *sec, const char *fn, const char *kind)
{
    rc_agg_t a = {0, 0, 0};
    json_t *sites = pl_obj(sec, LK_KEY_REACH_SITES), *s;
    size_t i;
    json_array_foreach(sites, i, s) {
        if (kind && strcmp(pl_str(s, LK_KEY_REACH_KIND), kind) != 0) continue;
        if (!pl_stack_has_fn(d, pl_int(s, LK_KEY_STACK), fn)) continue;
        a.blocks += pl_int(s, LK_KEY_REACH_BLOCKS);
        a.bytes += pl_int(s, LK_KEY_REACH_BYTES);
        a.entries++;
    }
    return a;
}

#define rc_assert_kind(d, sec, fn, kind, nblocks, nbytes)                                 \
    do {                                                                                 \
        rc_agg_t a_ = rc_kind((d), (sec), (fn), (kind));                                 \
        ck_assert_msg(a_.blocks == (nblocks) && a_.bytes == (nbytes),                    \
                      "%s: %s blocks through %s(): %lld blocks, %lld bytes; expected "    \
                      "%lld, %lld",                                                      \
                      (d)->name, (kind), (fn), a_.blocks, a_.bytes, (long long)(nblocks), \
                      (long long)(nbytes));                                              \
    } while (0)

/* Assert the process-wide total of 'kind': nothing outside the victim's
 * own blocks (libc, the loader, thread descriptors) may land there. */
#define rc_assert_total(sec, kind, nblocks, nbytes)                                       \
    do {                                                                                 \
        long long b_ = rc_kind_total((sec), (kind), LK_KEY_REACH_BLOCKS);                \
        long long y_ = rc_kind_total((sec), (kind), LK_KEY_REACH_BYTES);                 \
        ck_assert_msg(b_ == (nblocks) && y_ == (nbytes),                                 \
                      "all %s: %lld blocks, %lld bytes; expected %lld, %lld", (kind), b_, \
                      y_, (long long)(nblocks), (long long)(nbytes));                    \
    } while (0)

/* The only structures[] entry whose head stack passes through 'fn'. */
static inline json_t *rc_structure(pl_dump_t *d, json_t *sec, const char *fn)
{
    json_t *arr = pl_obj(sec, LK_KEY_REACH_STRUCTURES), *s, *found = NULL;
    size_t i;
    int n = 0;
    json_array_foreach(arr, i, s)
        if (pl_stack_has_fn(d, pl_int(s, LK_KEY_REACH_HEAD_STACK), fn)) {
            found = s;
            n++;
        }
    ck_assert_msg(n == 1, "%s: %d structures headed in %s(), expected 1", d->name, n, fn);
    return found;
}

/* The only held_by[] entry of kind 'kind' whose stack passes through 'fn'. */
static inline json_t *rc_held_by(pl_dump_t *d, json_t *sec, const char *fn, const char *kind)
{
    json_t *arr = pl_obj(sec, LK_KEY_REACH_HELD_BY), *s, *found = NULL;
    size_t i;
    int n = 0;
    json_array_foreach(arr, i, s) {
        if (strcmp(pl_str(s, LK_KEY_REACH_KIND), kind) != 0) continue;
        if (pl_stack_has_fn(d, pl_int(s, LK_KEY_STACK), fn)) {
            found = s;
            n++;
        }
    }
    ck_assert_msg(n == 1, "%s: %d %s held_by entries for %s(), expected 1", d->name, n, kind, fn);
    return found;
}

static inline long long rc_kind_total(json_t *sec, const char *kind, const char *what)
{
    return pl_int(pl_obj(pl_obj(sec, LK_KEY_REACH_KINDS), kind), what);
}

/* FORMAT.md's invariants: kinds sum to the scanned live blocks and bytes,
 * and to the sites; structures cover the lost blocks; held_by covers the
 * reachable and possible ones; and (single-threaded exit) the scan saw the
 * same live bytes as totals. */
static inline void rc_check_invariants(pl_dump_t *d, json_t *sec)
{
    static const char *const kinds[] = LK_REACH_KIND_NAMES;
    long long kb[4], kn[4], sb[4] = {0, 0, 0, 0}, sn[4] = {0, 0, 0, 0};
    long long bytes = 0, blocks = 0;
    for (int k = 0; k < 4; k++) {
        kb[k] = rc_kind_total(sec, kinds[k], LK_KEY_REACH_BYTES);
        kn[k] = rc_kind_total(sec, kinds[k], LK_KEY_REACH_BLOCKS);
        bytes += kb[k];
        blocks += kn[k];
    }
    ck_assert_int_eq(bytes, pl_int(sec, LK_KEY_REACH_LIVE_BYTES));
    ck_assert_int_eq(blocks, pl_int(sec, LK_KEY_REACH_LIVE_BLOCKS));
    json_t *totals = pl_totals(d);
    if (pl_bool(totals, LK_KEY_COMPLETE)) {
        ck_assert_int_eq(bytes, pl_int(totals, LK_KEY_LIVE_BYTES));
        ck_assert_int_eq(blocks, pl_int(totals, LK_KEY_LIVE_BLOCKS));
    }
    json_t *s;
    size_t i;
    json_array_foreach(pl_obj(sec, LK_KEY_REACH_SITES), i, s) {
        const char *k = pl_str(s, LK_KEY_REACH_KIND);
        int ki = -1;
        for (int j = 0; j < 4; j++)
            if (!strcmp(k, kinds[j])) ki = j;
        ck_assert_msg(ki >= 0, "%s: bad kind '%s'", d->name, k);
        sb[ki] += pl_int(s, LK_KEY_REACH_BYTES);
        sn[ki] += pl_int(s, LK_KEY_REACH_BLOCKS);
        pl_stack(d, pl_int(s, LK_KEY_STACK));
    }
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(sb[k], kb[k]);
        ck_assert_int_eq(sn[k], kn[k]);
    }
    long long st_count = 0, st_blocks = 0, st_bytes = 0;
    json_array_foreach(pl_obj(sec, LK_KEY_REACH_STRUCTURES), i, s) {
        st_count += pl_int(s, LK_KEY_REACH_COUNT);
        st_blocks += pl_int(s, LK_KEY_REACH_BLOCKS);
        st_bytes += pl_int(s, LK_KEY_REACH_BYTES);
        long long mb = 0;
        json_t *m;
        size_t j;
        json_array_foreach(pl_obj(s, LK_KEY_REACH_MEMBERS), j, m) mb += pl_int(m, LK_KEY_REACH_BYTES);
        ck_assert_int_eq(mb, pl_int(s, LK_KEY_REACH_BYTES));
        pl_stack(d, pl_int(s, LK_KEY_REACH_HEAD_STACK));
    }
    json_t *om = pl_obj(sec, LK_KEY_REACH_STRUCTURES_OMITTED);
    ck_assert_int_eq(st_count + pl_int(om, LK_KEY_REACH_COUNT), kn[LK_REACH_DEFINITE]);
    ck_assert_int_eq(st_blocks + pl_int(om, LK_KEY_REACH_BLOCKS),
                     kn[LK_REACH_DEFINITE] + kn[LK_REACH_INDIRECT]);
    ck_assert_int_eq(st_bytes + pl_int(om, LK_KEY_REACH_BYTES),
                     kb[LK_REACH_DEFINITE] + kb[LK_REACH_INDIRECT]);
    long long hb = 0;
    json_array_foreach(pl_obj(sec, LK_KEY_REACH_HELD_BY), i, s) {
        hb += pl_int(s, LK_KEY_REACH_BYTES);
        const char *root = pl_str(s, LK_KEY_REACH_ROOT);
        if (!strcmp(root, "global")) {
            uint64_t a = pl_hex(pl_obj(s, LK_KEY_REACH_ADDRESS));
            uint64_t o = pl_hex(pl_obj(s, LK_KEY_REACH_OFFSET));
            ck_assert_uint_ge(a, o);
            pl_str(s, LK_KEY_REACH_MODULE);
        } else {
            /* tid 0: the descriptor of an exited thread in glibc's stack cache */
            ck_assert_int_ge(pl_int(s, LK_KEY_REACH_TID), 0);
        }
    }
    hb += pl_int(pl_obj(sec, LK_KEY_REACH_HELD_BY_OMITTED), LK_KEY_REACH_BYTES);
    ck_assert_int_eq(hb, kb[LK_REACH_REACHABLE] + kb[LK_REACH_POSSIBLE]);
}

/* Return the value nm prints for symbol 'sym' of 'exe' (its link-time
 * address; for a PIE, the offset from the load base). */
static inline uint64_t rc_nm(const char *exe, const char *sym)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "nm '%s'", exe);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen nm: %s", strerror(errno));
    char line[512];
    uint64_t val = 0;
    int found = 0;
    while (fgets(line, sizeof line, p)) {
        unsigned long long v;
        char type, name[256];
        if (sscanf(line, "%llx %c %255s", &v, &type, name) == 3 && !strcmp(name, sym)) {
            val = v;
            found = 1;
        }
    }
    pclose(p);
    ck_assert_msg(found, "nm: no symbol '%s' in '%s'", sym, exe);
    return val;
}

#endif /* LK_CHECK_REACH_H */
