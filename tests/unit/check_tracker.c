/* check_tracker.c - the tracker core driven directly with fake pointers and
 * fake stacks, without LD_PRELOAD: per-site accounting, realloc's detach /
 * reattach, family mismatches, unknown frees, table growth and dropped events,
 * failures, and 8 threads hammering the core. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "helpers_preload.h"
#include "testhelper.h"

/* The free stack of a mismatch comes from the unwinder: make it fixed. */
static int fake_backtrace(void **buf, int size)
{
    int n = size < 3 ? size : 3;
    for (int i = 0; i < n; i++)
        buf[i] = (void *)(uintptr_t)(0xf000 + 0x10 * i);
    return n;
}

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static void setup(void)
{
    lk_config_load(no_env);
    lk_tracker_reset_for_tests();
    lk_stack_backtrace = fake_backtrace;
}

static lk_site_rec_t site_of(lk_frames_t *f, int family)
{
    lk_site_rec_t s;
    uint32_t idx = lk_site_get(f, family);
    ck_assert_uint_le(idx, LK_SITE_MAX);
    lk_tracker_fold();          /* this thread's counter deltas, into the sites */
    lk_site_snapshot(idx, &s);
    return s;
}

/* Pages of [p, p + pages * 4096) resident (mincore). */
static unsigned resident_pages(void *p, unsigned pages)
{
    unsigned char vec[64];
    ck_assert_uint_le(pages, sizeof vec);
    ck_assert_int_eq(mincore(p, (size_t)pages * 4096, vec), 0);
    unsigned n = 0;
    for (unsigned i = 0; i < pages; i++)
        n += vec[i] & 1;
    return n;
}

/* Tables filled from their start come in 16 KiB at a time, in one call each
 * (a page fault a page costs 10-14 us on a VM): the helper, then the sites. */
START_TEST(test_tracker_tables_populated_ahead)
{
    size_t cap = 40 << 10, ready = 0;
    char *m = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(m != MAP_FAILED);
    lk_populate_ahead(m, cap, 100, &ready);
    ck_assert_uint_eq(ready, 16 << 10);
    ck_assert_uint_eq(resident_pages(m, 16), 4);
    lk_populate_ahead(m, cap, 16 << 10, &ready);    /* nothing more to do */
    ck_assert_uint_eq(resident_pages(m, 16), 4);
    lk_populate_ahead(m, cap, (16 << 10) + 1, &ready);
    ck_assert_uint_eq(ready, 32 << 10);
    lk_populate_ahead(m, cap, (32 << 10) + 1, &ready);
    ck_assert_uint_eq(ready, cap);                  /* not past the table */
    ck_assert_uint_eq(resident_pages(m, 16), 10);
    munmap(m, 64 << 10);

    lk_frames_t a;
    fake_frames(&a, 0x400000, 4);
    uint32_t idx = lk_site_get(&a, LK_FAMILY_MALLOC);
    ck_assert_uint_le(idx, LK_SITE_MAX);
    char *page = (char *)((uintptr_t)lk_site_at(idx) & ~(uintptr_t)4095);
    ck_assert_uint_eq(resident_pages(page, 4), 4);
}
END_TEST

START_TEST(test_tracker_alloc_free_per_site)
{
    lk_frames_t a, b;
    fake_frames(&a, 0x400000, 4);
    fake_frames(&b, 0x500000, 6);
    lk_track_alloc((void *)0x10000, 100, LK_FAMILY_MALLOC, &a);
    lk_track_alloc((void *)0x10010, 200, LK_FAMILY_MALLOC, &a);
    lk_track_alloc((void *)0x10020, 300, LK_FAMILY_MALLOC, &a);
    lk_track_alloc((void *)0x20000, 7, LK_FAMILY_MALLOC, &b);
    ck_assert(lk_track_free((void *)0x10010, LK_FAMILY_MALLOC));

    lk_site_rec_t sa = site_of(&a, LK_FAMILY_MALLOC), sb = site_of(&b, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(sa.total_blocks, 3);
    ck_assert_uint_eq(sa.total_bytes, 600);
    ck_assert_uint_eq(sa.freed_blocks, 1);
    ck_assert_uint_eq(sa.live_bytes, 400);
    ck_assert_uint_eq(sa.peak_live_bytes, 600);
    ck_assert_uint_eq(sa.max_request_bytes, 300);
    ck_assert_uint_eq(sb.total_blocks, 1);
    ck_assert_uint_eq(sb.live_bytes, 7);
    ck_assert_uint_ne(sa.stack, sb.stack);

    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.live_bytes, 407);
    ck_assert_uint_eq(t.live_blocks, 3);
    ck_assert_uint_eq(t.alloc_count, 4);
    ck_assert_uint_eq(t.alloc_bytes, 607);
    ck_assert_uint_eq(t.free_count, 1);
    ck_assert_uint_eq(t.peak_live_bytes, 607);
    ck_assert_uint_eq(t.dropped_events, 0);
    ck_assert_uint_eq(lk_table_count(), 3);

    lk_block_t blk;
    ck_assert(lk_table_lookup(0x10020, &blk));
    ck_assert_uint_eq(blk.size, 300);
    ck_assert_int_eq(blk.family, LK_FAMILY_MALLOC);
    ck_assert(!lk_table_lookup(0x10010, NULL));
}
END_TEST

START_TEST(test_tracker_same_stack_other_family_is_other_site)
{
    lk_frames_t a;
    fake_frames(&a, 0x400000, 4);
    uint32_t m = lk_site_get(&a, LK_FAMILY_MALLOC);
    uint32_t n = lk_site_get(&a, LK_FAMILY_NEW);
    uint32_t n2 = lk_site_get(&a, LK_FAMILY_NEW);
    ck_assert_uint_ne(m, n);
    ck_assert_uint_eq(n, n2);
    ck_assert_uint_eq(lk_site_at(m)->stack, lk_site_at(n)->stack);
    ck_assert_uint_eq(lk_site_count(), 2);
    ck_assert_uint_eq(lk_stack_count(), 1);
}
END_TEST

START_TEST(test_tracker_realloc_detach_reattach)
{
    lk_frames_t a;
    fake_frames(&a, 0x400000, 4);
    lk_track_alloc((void *)0x30000, 64, LK_FAMILY_MALLOC, &a);
    lk_block_t old;
    /* a failed realloc: taken out, then put back with nothing counted */
    ck_assert(lk_track_detach((void *)0x30000, &old));
    ck_assert(!lk_table_lookup(0x30000, NULL));
    lk_track_reattach((void *)0x30000, &old);
    lk_site_rec_t s = site_of(&a, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.total_blocks, 1);
    ck_assert_uint_eq(s.freed_blocks, 0);
    ck_assert_uint_eq(s.live_bytes, 64);
    ck_assert(lk_table_lookup(0x30000, NULL));
    /* a successful move: the old block is freed at its site, the new one is
     * allocated at the realloc site */
    lk_frames_t r;
    fake_frames(&r, 0x600000, 3);
    ck_assert(lk_track_detach((void *)0x30000, &old));
    lk_track_release(&old, LK_FAMILY_MALLOC);
    lk_track_alloc((void *)0x40000, 128, LK_FAMILY_MALLOC, &r);
    s = site_of(&a, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.freed_blocks, 1);
    ck_assert_uint_eq(s.live_bytes, 0);
    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.live_bytes, 128);
    ck_assert_uint_eq(t.live_blocks, 1);
    ck_assert_uint_eq(t.mismatched_frees, 0);
    /* detaching an unknown pointer fails and counts nothing */
    ck_assert(!lk_track_detach((void *)0x50000, &old));
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.untracked_frees, 0);
}
END_TEST

/* lk_track_realloc: realloc(NULL), a same-site regrow in place and moved
 * (one delta update: the old block released before the new one), a move to
 * another site, a stale record at the new address, and a new[] block
 * realloc'd (a mismatch). */
START_TEST(test_tracker_realloc_counts_both_blocks)
{
    lk_frames_t a, r, b, c;
    fake_frames(&a, 0x400000, 4);
    fake_frames(&r, 0x600000, 3);
    fake_frames(&b, 0x700000, 5);
    fake_frames(&c, 0x800000, 2);
    lk_block_t old;
    lk_track_realloc((void *)0x30000, 64, NULL, &a);      /* realloc(NULL, 64) */
    ck_assert(lk_track_detach((void *)0x30000, &old));
    lk_track_realloc((void *)0x30000, 100, &old, &a);     /* in place, same site */
    ck_assert(lk_track_detach((void *)0x30000, &old));
    lk_track_realloc((void *)0x40000, 200, &old, &a);     /* moved, same site */
    lk_site_rec_t s = site_of(&a, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.total_blocks, 3);
    ck_assert_uint_eq(s.total_bytes, 364);
    ck_assert_uint_eq(s.freed_blocks, 2);
    ck_assert_uint_eq(s.live_bytes, 200);
    ck_assert_uint_eq(s.peak_live_bytes, 200);
    ck_assert_uint_eq(s.max_request_bytes, 200);
    lk_block_t blk;
    ck_assert(lk_table_lookup(0x40000, &blk));
    ck_assert_uint_eq(blk.size, 200);
    ck_assert(!lk_table_lookup(0x30000, NULL));

    /* to another site: the old one's free there, the new block here */
    ck_assert(lk_track_detach((void *)0x40000, &old));
    lk_track_realloc((void *)0x40000, 50, &old, &r);
    s = site_of(&a, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.freed_blocks, 3);
    ck_assert_uint_eq(s.live_bytes, 0);
    s = site_of(&r, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.total_blocks, 1);
    ck_assert_uint_eq(s.live_bytes, 50);
    ck_assert(lk_table_lookup(0x40000, &blk));
    ck_assert_uint_eq(blk.site, lk_site_get(&r, LK_FAMILY_MALLOC));

    /* a stale record where the new block lands: retired, then replaced */
    lk_track_alloc((void *)0x90000, 10, LK_FAMILY_MALLOC, &b);
    ck_assert(lk_track_detach((void *)0x40000, &old));
    lk_track_realloc((void *)0x90000, 70, &old, &r);
    s = site_of(&b, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.freed_blocks, 1);
    ck_assert_uint_eq(s.live_bytes, 0);
    s = site_of(&r, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.total_blocks, 2);
    ck_assert_uint_eq(s.freed_blocks, 1);
    ck_assert_uint_eq(s.live_bytes, 70);

    /* a new[] block realloc'd: a mismatch, and the block moves all the same */
    lk_track_alloc((void *)0xa0000, 30, LK_FAMILY_NEW_ARRAY, &c);
    ck_assert(lk_track_detach((void *)0xa0000, &old));
    lk_track_realloc((void *)0xb0000, 40, &old, &r);
    lk_totals_t t;
    lk_tracker_fold();
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.mismatched_frees, 1);
    ck_assert_uint_eq(t.live_bytes, 110);
    ck_assert_uint_eq(t.live_blocks, 2);
    ck_assert_uint_eq(t.alloc_count, 8);
    ck_assert_uint_eq(t.free_count, 6);
    ck_assert_uint_eq(t.dropped_events, 0);
    ck_assert_uint_eq(lk_table_count(), 2);
}
END_TEST

START_TEST(test_tracker_family_mismatch)
{
    lk_frames_t a;
    fake_frames(&a, 0x400000, 4);
    lk_track_alloc((void *)0x1000, 40, LK_FAMILY_NEW_ARRAY, &a);
    lk_track_alloc((void *)0x2000, 40, LK_FAMILY_NEW_ARRAY, &a);
    lk_track_alloc((void *)0x3000, 8, LK_FAMILY_MALLOC, &a);
    ck_assert(lk_track_free((void *)0x1000, LK_FAMILY_NEW));      /* delete of new[] */
    ck_assert(lk_track_free((void *)0x2000, LK_FAMILY_NEW));
    ck_assert(lk_track_free((void *)0x3000, LK_FAMILY_NEW_ARRAY)); /* delete[] of malloc */

    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.mismatched_frees, 3);
    ck_assert_uint_eq(t.live_blocks, 0);        /* still freed: the real free ran */
    lk_mismatch_t m[8];
    size_t n = lk_tracker_mismatches(m, 8);
    ck_assert_uint_eq(n, 2);
    uint32_t alloc_stack = lk_site_at(lk_site_get(&a, LK_FAMILY_NEW_ARRAY))->stack;
    bool seen_arr = false, seen_malloc = false;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(m[i].alloc_stack, alloc_stack);
        const lk_stack_rec_t *fs = lk_stack_get(m[i].free_stack);
        ck_assert_ptr_nonnull(fs);
        ck_assert_uint_eq(fs->depth, 3);
        ck_assert_uint_eq(fs->pc[0], 0xf000);
        if (m[i].alloc_family == LK_FAMILY_NEW_ARRAY) {
            seen_arr = true;
            ck_assert_int_eq(m[i].free_family, LK_FAMILY_NEW);
            ck_assert_uint_eq(m[i].count, 2);
            ck_assert_uint_eq(m[i].bytes, 80);
        } else {
            seen_malloc = true;
            ck_assert_int_eq(m[i].alloc_family, LK_FAMILY_MALLOC);
            ck_assert_int_eq(m[i].free_family, LK_FAMILY_NEW_ARRAY);
            ck_assert_uint_eq(m[i].count, 1);
        }
    }
    ck_assert(seen_arr && seen_malloc);
}
END_TEST

START_TEST(test_tracker_unknown_free_counted)
{
    lk_frames_t a;
    fake_frames(&a, 0x400000, 2);
    lk_track_alloc((void *)0x1000, 1, LK_FAMILY_MALLOC, &a);
    ck_assert(!lk_track_free((void *)0xdead0, LK_FAMILY_MALLOC));
    ck_assert(!lk_track_free((void *)0xbeef0, LK_FAMILY_NEW));
    ck_assert(lk_track_free((void *)0x1000, LK_FAMILY_MALLOC));
    ck_assert(!lk_track_free((void *)0x1000, LK_FAMILY_MALLOC));  /* double free */
    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.untracked_frees, 3);
    ck_assert_uint_eq(t.free_count, 1);
    ck_assert_uint_eq(t.mismatched_frees, 0);
}
END_TEST

START_TEST(test_tracker_table_growth_and_memory)
{
    /* 1M live blocks through every shard's growth steps, then all freed. */
    enum { N = 1000000 };
    lk_frames_t a;
    fake_frames(&a, 0x400000, 4);
    uint32_t site = lk_site_get(&a, LK_FAMILY_MALLOC);
    for (uintptr_t i = 0; i < N; i++)
        lk_track_alloc_site((void *)(0x100000 + i * 16), 16, site, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(lk_table_count(), N);
    /* the memory target README's benchmark section reports: at most 32 bytes of
     * table memory per live block */
    ck_assert_uint_le(lk_table_memory_bytes(), (size_t)32 * N);
    for (uintptr_t i = 0; i < N; i += 7)
        ck_assert(lk_table_lookup(0x100000 + i * 16, NULL));
    for (uintptr_t i = 0; i < N; i++)
        ck_assert(lk_track_free((void *)(0x100000 + i * 16), LK_FAMILY_MALLOC));
    ck_assert_uint_eq(lk_table_count(), 0);
    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.live_bytes, 0);
    ck_assert_uint_eq(t.alloc_count, N);
    ck_assert_uint_eq(t.free_count, N);
    ck_assert_uint_eq(t.dropped_events, 0);
}
END_TEST

static void count_cb(uintptr_t ptr, size_t size, uint32_t stack_id, int family, void *arg)
{
    uint64_t *acc = arg;
    acc[0]++;
    acc[1] += size;
    acc[2] += ptr;
    acc[3] = stack_id;
    acc[4] |= 1u << family;
}

START_TEST(test_tracker_foreach_and_ranges)
{
    lk_frames_t a;
    fake_frames(&a, 0x400000, 4);
    uint64_t want_ptr = 0;
    for (uintptr_t i = 1; i <= 1000; i++) {
        lk_track_alloc((void *)(i * 0x40), i, LK_FAMILY_NEW, &a);
        want_ptr += i * 0x40;
    }
    uint64_t acc[5] = { 0, 0, 0, 0, 0 };
    lk_table_lock_all();
    lk_table_foreach(count_cb, acc);
    lk_table_unlock_all();
    ck_assert_uint_eq(acc[0], 1000);
    ck_assert_uint_eq(acc[1], 1000 * 1001 / 2);
    ck_assert_uint_eq(acc[2], want_ptr);
    ck_assert_uint_eq(acc[3], lk_site_at(lk_site_get(&a, LK_FAMILY_NEW))->stack);
    ck_assert_uint_eq(acc[4], 1u << LK_FAMILY_NEW);
    uintptr_t r[128][2];
    size_t n = lk_table_memory_ranges(r, 128);
    ck_assert_uint_ge(n, 2);
    ck_assert_uint_le(n, 128);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(r[i][0], r[i][1]);
        bytes += r[i][1] - r[i][0];
    }
    ck_assert_uint_eq(bytes, lk_table_memory_bytes());
}
END_TEST

START_TEST(test_tracker_drop_accounting)
{
    lk_frames_t a;
    fake_frames(&a, 0x400000, 4);
    /* a pointer the table cannot hold (misaligned) is a dropped event */
    lk_track_alloc((void *)0x1001, 10, LK_FAMILY_MALLOC, &a);
    lk_track_alloc((void *)0x2000, 10, LK_FAMILY_MALLOC, &a);
    lk_track_alloc_site((void *)0x3000, 10, LK_SITE_MAX + 5, LK_FAMILY_MALLOC);    /* no such site */
    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.dropped_events, 2);
    ck_assert_uint_eq(t.live_blocks, 1);
    ck_assert_uint_eq(t.live_bytes, 10);
    /* a pointer seen twice without a free: the stale record is retired */
    lk_track_alloc((void *)0x2000, 30, LK_FAMILY_MALLOC, &a);
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.live_blocks, 1);
    ck_assert_uint_eq(t.live_bytes, 30);
    ck_assert_uint_eq(t.alloc_count, 2);
}
END_TEST

START_TEST(test_tracker_failures_grouped)
{
    lk_frames_t a, b;
    fake_frames(&a, 0x400000, 4);
    fake_frames(&b, 0x500000, 4);
    lk_track_alloc((void *)0x1000, 500, LK_FAMILY_MALLOC, &b);
    lk_track_failure(LK_FAIL_ENOMEM, "malloc", 1000, &a);
    lk_track_failure(LK_FAIL_ENOMEM, "malloc", 5000, &a);
    lk_track_failure(LK_FAIL_MUL_OVERFLOW, "calloc", INT64_MAX, &a);
    lk_track_failure(LK_FAIL_IMPLAUSIBLE, "malloc", 1ull << 45, &b);
    lk_failure_t f[8];
    size_t n = lk_tracker_failures(f, 8);
    ck_assert_uint_eq(n, 3);
    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.failed_count, 3);   /* implausible is not a failure */
    for (size_t i = 0; i < n; i++) {
        if (f[i].kind == LK_FAIL_ENOMEM) {
            ck_assert_uint_eq(f[i].count, 2);
            ck_assert_uint_eq(f[i].request_bytes, 5000);
            ck_assert_str_eq(f[i].function, "malloc");
            ck_assert_uint_eq(f[i].live_bytes_at_first, 500);
            ck_assert_uint_le(f[i].first_uptime_ns, f[i].last_uptime_ns);
        } else if (f[i].kind == LK_FAIL_MUL_OVERFLOW) {
            ck_assert_str_eq(f[i].function, "calloc");
            ck_assert_uint_eq(f[i].request_bytes, INT64_MAX);
        } else {
            ck_assert_int_eq(f[i].kind, LK_FAIL_IMPLAUSIBLE);
            ck_assert_uint_eq(f[i].request_bytes, 1ull << 45);
        }
    }
}
END_TEST

/* ### 8 threads on the core */
enum { THREADS = 8, OPS = 200000, SLOTS = 64 };

static void *hammer(void *arg)
{
    uintptr_t t = (uintptr_t)arg;
    lk_frames_t f[4];
    for (unsigned k = 0; k < 4; k++)
        fake_frames(&f[k], 0x700000 + 0x1000 * k, 3 + k);   /* shared by all threads */
    uintptr_t live[SLOTS] = { 0 };
    for (unsigned i = 0; i < OPS; i++) {
        unsigned s = i % SLOTS;
        if (live[s])
            ck_assert(lk_track_free((void *)live[s], LK_FAMILY_MALLOC));
        live[s] = ((t + 1) << 32) | ((uintptr_t)i << 4);
        lk_track_alloc((void *)live[s], 8, LK_FAMILY_MALLOC, &f[i % 4]);
    }
    return NULL;
}

START_TEST(test_tracker_threads_hammer)
{
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.alloc_count, (uint64_t)THREADS * OPS);
    ck_assert_uint_eq(t.free_count, (uint64_t)THREADS * (OPS - SLOTS));
    ck_assert_uint_eq(t.live_blocks, (uint64_t)THREADS * SLOTS);
    ck_assert_uint_eq(t.live_bytes, (uint64_t)THREADS * SLOTS * 8);
    ck_assert_uint_eq(t.untracked_frees, 0);
    ck_assert_uint_eq(t.dropped_events, 0);
    ck_assert_uint_eq(lk_table_count(), (size_t)THREADS * SLOTS);
    ck_assert_uint_eq(lk_site_count(), 4);      /* 4 stacks shared by 8 threads */
    ck_assert_uint_eq(lk_stack_count(), 4);
    ck_assert_uint_eq(lk_tracker_live_bytes(), t.live_bytes);
}
END_TEST

/* Per-thread counter deltas: a thread that is still running has counted in
 * its own deltas; lk_tracker_fold() (every dump does) must bring them in. */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int park_state;          /* 1: allocated, 2: may exit */

static void *alloc_and_park(void *arg)
{
    lk_frames_t *f = arg;
    for (uintptr_t i = 0; i < 10; i++)
        lk_track_alloc((void *)(0x7000000 + i * 16), 3, LK_FAMILY_MALLOC, f);
    ck_assert(lk_track_free((void *)0x7000000, LK_FAMILY_MALLOC));
    pthread_mutex_lock(&park_lock);
    park_state = 1;
    pthread_cond_broadcast(&park_cond);
    while (park_state != 2)
        pthread_cond_wait(&park_cond, &park_lock);
    pthread_mutex_unlock(&park_lock);
    return NULL;
}

START_TEST(test_tracker_deltas_of_a_running_thread)
{
    lk_frames_t f;
    fake_frames(&f, 0x480000, 5);
    lk_frames_t own;
    fake_frames(&own, 0x490000, 5);
    lk_track_alloc((void *)0x6000000, 5, LK_FAMILY_MALLOC, &own);  /* this thread's deltas too */
    park_state = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, alloc_and_park, &f), 0);
    pthread_mutex_lock(&park_lock);
    while (park_state != 1)
        pthread_cond_wait(&park_cond, &park_lock);
    pthread_mutex_unlock(&park_lock);

    lk_totals_t t;
    lk_tracker_totals(&t);      /* folds */
    ck_assert_uint_eq(t.alloc_count, 11);
    ck_assert_uint_eq(t.free_count, 1);
    ck_assert_uint_eq(t.live_bytes, 32);
    /* the process peak (35) is driven by two threads: the deltas give a lower
     * bound, off by at most what each had not folded (documented) */
    ck_assert_uint_ge(t.peak_live_bytes, 32);
    ck_assert_uint_le(t.peak_live_bytes, 35);
    lk_site_rec_t s = site_of(&f, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.total_blocks, 10);
    ck_assert_uint_eq(s.live_bytes, 27);
    ck_assert_uint_eq(s.peak_live_bytes, 30);

    pthread_mutex_lock(&park_lock);
    park_state = 2;
    pthread_cond_broadcast(&park_cond);
    pthread_mutex_unlock(&park_lock);
    pthread_join(th, NULL);
    lk_tracker_totals(&t);      /* its exit folded nothing twice */
    ck_assert_uint_eq(t.alloc_count, 11);
    ck_assert_uint_eq(t.live_bytes, 32);
}
END_TEST

/* Blocks allocated by one thread and freed or realloc'd by another, one after
 * the other: the freeing thread's deltas cannot pay for them, so the site is
 * shared and counted with atomics, and no fold order drives a counter below
 * zero.  Each peak is known: the steps never overlap. */
typedef struct xfree_arg {
    lk_frames_t *fr;
    int step;
} xfree_arg_t;

enum { XN = 300 };

static void *xthread_step(void *p)
{
    xfree_arg_t *a = p;
    if (a->step == 0) {             /* allocate XN x 1000 at site 0 */
        for (uintptr_t i = 0; i < XN; i++)
            lk_track_alloc((void *)(0x40000000 + i * 16), 1000, LK_FAMILY_MALLOC, &a->fr[0]);
    } else if (a->step == 1) {      /* free them; keep 10 x 64 at site 0 */
        for (uintptr_t i = 0; i < XN; i++)
            ck_assert(lk_track_free((void *)(0x40000000 + i * 16), LK_FAMILY_MALLOC));
        for (uintptr_t i = 0; i < 10; i++)
            lk_track_alloc((void *)(0x50000000 + i * 16), 64, LK_FAMILY_MALLOC, &a->fr[0]);
    } else {                        /* realloc's release of site 1's blocks */
        for (uintptr_t i = 0; i < 20; i++) {
            lk_block_t old;
            ck_assert(lk_track_detach((void *)(0x60000000 + i * 16), &old));
            lk_track_release(&old, LK_FAMILY_MALLOC);
        }
    }
    return NULL;
}

START_TEST(test_tracker_cross_thread_frees_exact)
{
    static lk_frames_t fr[2];
    fake_frames(&fr[0], 0x2000000, 3);
    fake_frames(&fr[1], 0x3000000, 4);
    for (int step = 0; step < 3; step++) {
        if (step == 2)              /* this thread allocates what the next reallocs */
            for (uintptr_t i = 0; i < 20; i++)
                lk_track_alloc((void *)(0x60000000 + i * 16), 50, LK_FAMILY_MALLOC, &fr[1]);
        xfree_arg_t a = { fr, step };
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, xthread_step, &a), 0);
        pthread_join(th, NULL);
    }
    lk_site_rec_t s0 = site_of(&fr[0], LK_FAMILY_MALLOC), s1 = site_of(&fr[1], LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s0.total_blocks, XN + 10);
    ck_assert_uint_eq(s0.freed_blocks, XN);
    ck_assert_uint_eq(s0.live_bytes, 640);
    ck_assert_uint_eq(s0.peak_live_bytes, XN * 1000);
    ck_assert_uint_eq(s1.total_blocks, 20);
    ck_assert_uint_eq(s1.freed_blocks, 20);
    ck_assert_uint_eq(s1.live_bytes, 0);
    ck_assert_uint_eq(s1.peak_live_bytes, 1000);
    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.live_bytes, 640);
    ck_assert_uint_eq(t.peak_live_bytes, XN * 1000);
}
END_TEST

/* Peaks stay exact for one thread although its deltas fold every 256 events,
 * and sites whose indexes share a delta slot (i and i + LK_ACCT_SLOTS) evict
 * each other without losing a count. */
START_TEST(test_tracker_deltas_fold_and_evict_exactly)
{
    enum { NSITES = LK_ACCT_SLOTS + 4, N = 700 };
    static lk_frames_t fr[NSITES];
    for (unsigned k = 0; k < NSITES; k++) {
        fake_frames(&fr[k], 0x1000000 + (uintptr_t)k * 0x1000, 3);
        lk_track_alloc((void *)(0x9000000 + (uintptr_t)k * 16), 1, LK_FAMILY_MALLOC, &fr[k]);
    }
    /* site 0 alone: up to N blocks of 10 bytes, down to 100, up by 50; the
     * peak (N * 10) falls between two folds */
    for (uintptr_t i = 0; i < N; i++)
        lk_track_alloc((void *)(0x10000000 + i * 16), 10, LK_FAMILY_MALLOC, &fr[0]);
    for (uintptr_t i = 0; i < N - 100; i++)
        ck_assert(lk_track_free((void *)(0x10000000 + i * 16), LK_FAMILY_MALLOC));
    for (uintptr_t i = N; i < N + 50; i++)
        lk_track_alloc((void *)(0x10000000 + i * 16), 10, LK_FAMILY_MALLOC, &fr[0]);
    /* then sites 0 and LK_ACCT_SLOTS, which share a delta slot, in turns */
    for (uintptr_t i = 0; i < N; i++) {
        lk_track_alloc((void *)(0x20000000 + i * 16), 2, LK_FAMILY_MALLOC, &fr[LK_ACCT_SLOTS]);
        ck_assert(lk_track_free((void *)(0x20000000 + i * 16), LK_FAMILY_MALLOC));
        lk_track_alloc((void *)(0x30000000 + i * 16), 1, LK_FAMILY_MALLOC, &fr[0]);
        ck_assert(lk_track_free((void *)(0x30000000 + i * 16), LK_FAMILY_MALLOC));
    }

    lk_site_rec_t s0 = site_of(&fr[0], LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s0.total_blocks, 1 + N + 50 + N);
    ck_assert_uint_eq(s0.freed_blocks, N - 100 + N);
    ck_assert_uint_eq(s0.live_bytes, 1 + 150 * 10);
    ck_assert_uint_eq(s0.peak_live_bytes, 1 + N * 10);
    lk_site_rec_t s_other = site_of(&fr[LK_ACCT_SLOTS], LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s_other.total_blocks, 1 + N);
    ck_assert_uint_eq(s_other.freed_blocks, N);
    ck_assert_uint_eq(s_other.live_bytes, 1);
    ck_assert_uint_eq(s_other.peak_live_bytes, 3);
    lk_totals_t t;
    lk_tracker_totals(&t);
    ck_assert_uint_eq(t.live_bytes, NSITES + 150 * 10);
    ck_assert_uint_eq(t.peak_live_bytes, NSITES + N * 10);
    ck_assert_uint_eq(lk_tracker_live_bytes(), t.live_bytes);
}
END_TEST

/* Free the process-wide tables (stack keys, uthash tables, groups), so that
 * LeakSanitizer sees no leak: they live in memory it does not scan (mmap). */
static void teardown_core(void)
{
    lk_tracker_reset_for_tests();
}

START_TEST(test_tracker_exit_arena)
{
    /* Before entering, libleak's memory is the real allocator's. */
    void *before = lk_real_malloc(100);
    ck_assert_ptr_nonnull(before);
    ck_assert(!lk_exit_arena_owns(before));
    memset(before, 0xab, 100);
    ck_assert(lk_exit_arena_enter(true));
    ck_assert(!lk_exit_arena_enter(true));          /* one thread only */
    /* Then every lk_real_* call is served from the arena, aligned... */
    char *a = lk_real_malloc(24);
    ck_assert(lk_exit_arena_owns(a));
    ck_assert_uint_eq((uintptr_t)a % 16, 0);
    memset(a, 1, 24);
    void *al = lk_exit_arena_alloc(10, 4096);
    ck_assert(lk_exit_arena_owns(al));
    ck_assert_uint_eq((uintptr_t)al % 4096, 0);
    /* ...calloc is zeroed and checks its multiplication... */
    unsigned char *z = lk_real_calloc(64, 8);
    ck_assert(lk_exit_arena_owns(z));
    for (int i = 0; i < 512; i++)
        ck_assert_uint_eq(z[i], 0);
    errno = 0;
    ck_assert_ptr_null(lk_real_calloc(SIZE_MAX / 2, 3));
    ck_assert_int_eq(errno, ENOMEM);
    /* ...realloc copies, from the arena and from before it... */
    char *b = lk_real_realloc(a, 4000);
    ck_assert(lk_exit_arena_owns(b) && b != a);
    for (int i = 0; i < 24; i++)
        ck_assert_int_eq(b[i], 1);
    unsigned char *c = lk_real_realloc(before, 200);
    ck_assert(lk_exit_arena_owns(c));
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(c[i], 0xab);
    /* ...blocks never overlap, frees are ignored (the real allocator may be
     * locked by the call the exit interrupted), and a request larger than
     * the arena fails with ENOMEM instead of overrunning it. */
    ck_assert((char *)z >= a + 24 || (char *)z + 512 <= a);
    lk_real_free(b);
    lk_real_free(before);                       /* a real block: leaked, not freed */
    ck_assert_uint_eq(b[0], 1);
    errno = 0;
    ck_assert_ptr_null(lk_real_malloc(SIZE_MAX - 64));
    ck_assert_int_eq(errno, ENOMEM);
    lk_tls_exit_arena = 0;                      /* as the exit path leaves it */
    void *after = lk_real_malloc(16);
    ck_assert(!lk_exit_arena_owns(after));
    lk_real_free(c);                            /* an arena block, after leaving: ignored */
    lk_real_free(after);
    lk_real_free(before);   /* really freed now (a double free if the first was not ignored) */
}
END_TEST

/* Another thread frees blocks whose allocation their owner has not folded
 * yet, then allocates at the same site: the site's live bytes are below 0
 * between the folds, and its peak must not wrap to 2^64 - x. */
static lk_frames_t xt_frames;

static void *free_others_blocks(void *arg)
{
    (void)arg;
    for (uintptr_t i = 0; i < 200; i++)
        ck_assert(lk_track_free((void *)(0x600000 + i * 16), LK_FAMILY_MALLOC));
    /* pairs up to well past a fold (256 events), the first with a peak > 0 */
    lk_track_alloc((void *)0x700010, 100, LK_FAMILY_MALLOC, &xt_frames);
    for (int k = 0; k < 300; k++) {
        lk_track_alloc((void *)0x700000, 8, LK_FAMILY_MALLOC, &xt_frames);
        ck_assert(lk_track_free((void *)0x700000, LK_FAMILY_MALLOC));
    }
    return NULL;
}

START_TEST(test_tracker_peak_of_blocks_freed_by_another_thread)
{
    fake_frames(&xt_frames, 0x480000, 3);
    for (uintptr_t i = 0; i < 200; i++)    /* fewer than a fold's 256 events */
        lk_track_alloc((void *)(0x600000 + i * 16), 100, LK_FAMILY_MALLOC, &xt_frames);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, free_others_blocks, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    lk_site_rec_t s = site_of(&xt_frames, LK_FAMILY_MALLOC);
    ck_assert_uint_eq(s.live_bytes, 100);
    ck_assert_uint_eq(s.total_bytes, 200 * 100 + 100 + 300 * 8);
    ck_assert_uint_ge(s.peak_live_bytes, 200 * 100);
    ck_assert_uint_le(s.peak_live_bytes, s.total_bytes);
}
END_TEST

static Suite *tracker_suite(void)
{
    Suite *s = suite_create("tracker");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown_core);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tracker_alloc_free_per_site);
    tcase_add_test(tc, test_tracker_same_stack_other_family_is_other_site);
    tcase_add_test(tc, test_tracker_realloc_detach_reattach);
    tcase_add_test(tc, test_tracker_realloc_counts_both_blocks);
    tcase_add_test(tc, test_tracker_family_mismatch);
    tcase_add_test(tc, test_tracker_unknown_free_counted);
    tcase_add_test(tc, test_tracker_table_growth_and_memory);
    tcase_add_test(tc, test_tracker_foreach_and_ranges);
    tcase_add_test(tc, test_tracker_drop_accounting);
    tcase_add_test(tc, test_tracker_failures_grouped);
    tcase_add_test(tc, test_tracker_threads_hammer);
    tcase_add_test(tc, test_tracker_deltas_of_a_running_thread);
    tcase_add_test(tc, test_tracker_deltas_fold_and_evict_exactly);
    tcase_add_test(tc, test_tracker_cross_thread_frees_exact);
    tcase_add_test(tc, test_tracker_exit_arena);
    tcase_add_test(tc, test_tracker_peak_of_blocks_freed_by_another_thread);
    tcase_add_test(tc, test_tracker_tables_populated_ahead);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(tracker_suite)
