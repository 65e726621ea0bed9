/* check_table.c - the live-block table (preload/table.c) driven directly:
 * bytes per live block, sizes too big for a slot (the side table), the pages
 * a small process touches, and lookups and deletions against a model across
 * every growth step from the smallest arrays up. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testhelper.h"
#include "internal.h"

static void setup(void)
{
    lk_table_reset_for_tests();
}

static void teardown(void)
{
    lk_table_reset_for_tests();
}

/* glibc's smallest chunks lie 32 bytes apart; the live bench holds 2M of
 * them.  Checked every 100k blocks from 1M, wherever the growth steps fall
 * (below that, shards' counts vary more: each holds a few hundred pages). */
START_TEST(test_table_bytes_per_live_block)
{
    enum { N = 2000000, STEP = 100000 };
    double worst = 0;
    for (uintptr_t i = 0; i < N; i++) {
        ck_assert_int_eq(lk_table_insert(0x10000000 + i * 32, &(lk_block_t){ 24, 1, 0 }), 0);
        if ((i + 1) % STEP == 0 && i + 1 >= N / 2) {
            double per = (double)lk_table_memory_bytes() / (double)(i + 1);
            worst = per > worst ? per : worst;
        }
    }
    ck_assert_uint_eq(lk_table_count(), N);
    /* the budget (preload/README.md, "The live-block table"): 24 bytes a block */
    ck_assert_msg(worst <= 24.0, "up to %.1f bytes of table a live block", worst);
    for (uintptr_t i = 0; i < N; i += 3) {
        lk_block_t out;
        ck_assert_int_eq(lk_table_remove(0x10000000 + i * 32, &out), 0);
        ck_assert_uint_eq(out.size, 24);
    }
    for (uintptr_t i = 0; i < N; i++)
        ck_assert(lk_table_lookup(0x10000000 + i * 32, NULL) == (i % 3 != 0));
}
END_TEST

static void sum_cb(uintptr_t ptr, size_t size, uint32_t stack_id, int family, void *arg)
{
    uint64_t *acc = arg;
    (void)stack_id;
    acc[0]++;
    acc[1] += size;
    acc[2] ^= ptr * 0x9E3779B97F4A7C15u;
    acc[3] += (uint64_t)family;
}

/* Sizes that do not fit a slot's size field keep their exact value, through
 * lookups, the scan's iteration, resizes of the shard and removal. */
START_TEST(test_table_huge_sizes)
{
    const uint64_t sizes[] = { (1u << 24) - 2, (1u << 24) - 1, 1u << 24, (1u << 24) + 1,
                               UINT64_C(3) << 30, UINT64_C(1) << 39, LK_SIZE_MAX };
    enum { NS = sizeof sizes / sizeof sizes[0], HUGE = 5000, SMALL = 20000 };
    uint64_t want[4] = { 0, 0, 0, 0 };
    /* huge blocks 16 MiB apart, as real ones would be, mixed with small ones in
     * the same shards so that those shards grow past their huge records */
    for (uintptr_t i = 0; i < HUGE; i++) {
        uintptr_t p = 0x100000000000 + i * (16u << 20);
        uint64_t size = sizes[i % NS];
        ck_assert_int_eq(lk_table_insert(p, &(lk_block_t){ size, (uint32_t)i, (int)(i & 3) }), 0);
        want[0]++, want[1] += size, want[2] ^= p * 0x9E3779B97F4A7C15u, want[3] += i & 3;
    }
    for (uintptr_t i = 0; i < SMALL; i++) {
        uintptr_t p = 0x100000000000 + (i % HUGE) * (16u << 20) + 4096 + (i / HUGE) * 64;
        ck_assert_int_eq(lk_table_insert(p, &(lk_block_t){ 40, 7, 1 }), 0);
        want[0]++, want[1] += 40, want[2] ^= p * 0x9E3779B97F4A7C15u, want[3] += 1;
    }
    ck_assert_uint_eq(lk_table_count(), HUGE + SMALL);
    uint64_t acc[4] = { 0, 0, 0, 0 };
    lk_table_lock_all();
    lk_table_foreach(sum_cb, acc);
    lk_table_unlock_all();
    ck_assert_uint_eq(acc[0], want[0]);
    ck_assert_uint_eq(acc[1], want[1]);
    ck_assert_uint_eq(acc[2], want[2]);
    ck_assert_uint_eq(acc[3], want[3]);
    /* a pointer already present is refused, and its record kept */
    ck_assert_int_eq(lk_table_insert(0x100000000000, &(lk_block_t){ 1, 0, 0 }), -EEXIST);
    for (uintptr_t i = 0; i < HUGE; i++) {
        uintptr_t p = 0x100000000000 + i * (16u << 20);
        lk_block_t out;
        ck_assert(lk_table_lookup(p, &out));
        ck_assert_uint_eq(out.size, sizes[i % NS]);
        ck_assert_uint_eq(out.site, (uint32_t)i);
        ck_assert_int_eq(out.family, (int)(i & 3));
        if (i % 2 == 0) {
            ck_assert_int_eq(lk_table_remove(p, &out), 0);
            ck_assert_uint_eq(out.size, sizes[i % NS]);
            ck_assert_int_eq(lk_table_remove(p, &out), -ENOENT);
        }
    }
    /* reinserted with a small size: no stale huge size comes back */
    ck_assert_int_eq(lk_table_insert(0x100000000000, &(lk_block_t){ 5, 0, 0 }), 0);
    lk_block_t out;
    ck_assert(lk_table_lookup(0x100000000000, &out));
    ck_assert_uint_eq(out.size, 5);
    ck_assert_uint_eq(lk_table_count(), HUGE / 2 + SMALL + 1);
    /* the side records are libleak's memory, and the scan skips them */
    uintptr_t r[256][2];
    size_t n = lk_table_memory_ranges(r, 256);
    ck_assert_uint_le(n, 256);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += r[i][1] - r[i][0];
    ck_assert_uint_eq(bytes, lk_table_memory_bytes());
}
END_TEST

/* A small process (bash -c true: ~700 live blocks in ~30 heap pages) spreads
 * its blocks over most shards: the table's pages it touches stay few. */
START_TEST(test_table_small_process_pages)
{
    long pg = sysconf(_SC_PAGESIZE);
    for (uintptr_t i = 0; i < 700; i++)
        ck_assert_int_eq(lk_table_insert(0x5555a000 + i * 176, &(lk_block_t){ 100, 3, 0 }), 0);
    uintptr_t r[256][2];
    size_t n = lk_table_memory_ranges(r, 256);
    ck_assert_uint_le(n, 256);
    size_t resident = 0, shards_used = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t lo = r[i][0] & ~(uintptr_t)(pg - 1);
        size_t pages = (r[i][1] - lo + (size_t)pg - 1) / (size_t)pg;
        unsigned char *v = calloc(pages, 1);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(mincore((void *)lo, pages * (size_t)pg, v), 0);
        for (size_t j = 0; j < pages; j++)
            resident += v[j] & 1;
        free(v);
    }
    for (uintptr_t i = 0; i < 700; i++) {
        uint64_t h = lk_table_ptr_hash(0x5555a000 + i * 176);
        shards_used |= (size_t)1 << (h >> (64 - LK_TABLE_SHARDS_LOG2));
    }
    ck_assert_uint_ge((size_t)__builtin_popcountl(shards_used), 20);
    /* one or two pages per shard used when each had its own array; the shard
     * headers' pages count too (at most 2) */
    ck_assert_msg(resident <= 16, "%zu pages of table resident for 700 blocks", resident);
}
END_TEST

/* Random inserts and removes against a model, through every growth step
 * (the smallest arrays, whose windows are narrower than a page's, included);
 * pointers are clustered in pages at glibc-like and denser spacings, so that
 * probe runs form, wrap and are cut by backward-shift deletion. */
START_TEST(test_table_model)
{
    enum { POOL = 60000, OPS = 400000 };
    uintptr_t *ptr = malloc(POOL * sizeof *ptr);
    uint32_t *size = calloc(POOL, sizeof *size);
    unsigned char *live = calloc(POOL, 1);
    ck_assert(ptr && size && live);
    for (size_t i = 0; i < POOL; i++) {
        size_t page = i / 150, unit = i % 150;
        ptr[i] = 0x7f0000000000 + page * 8192 * 3 + unit * (page % 3 == 0 ? 16 : page % 3 == 1 ? 32 : 48);
    }
    uint64_t x = 88172645463325252u;
    size_t nlive = 0;
    for (unsigned op = 0; op < OPS; op++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* a pool that fills up to about half, then churns */
        size_t i = (size_t)(x % (op < OPS / 2 ? (op / 8 + 64 < POOL ? op / 8 + 64 : POOL) : POOL));
        if (live[i]) {
            lk_block_t out;
            if (x & 0x100000) {
                ck_assert(lk_table_lookup(ptr[i], &out));
                ck_assert_uint_eq(out.size, size[i]);
                continue;
            }
            ck_assert_int_eq(lk_table_remove(ptr[i], &out), 0);
            ck_assert_uint_eq(out.size, size[i]);
            ck_assert_uint_eq(out.site, (uint32_t)(i & 0xffffff));
            ck_assert_int_eq(out.family, (int)(i & 3));
            live[i] = 0, nlive--;
        } else {
            ck_assert(!lk_table_lookup(ptr[i], NULL));
            size[i] = (uint32_t)(x >> 40) % 5000;
            ck_assert_int_eq(lk_table_insert(ptr[i], &(lk_block_t){ size[i], (uint32_t)(i & 0xffffff),
                                                                   (int)(i & 3) }), 0);
            live[i] = 1, nlive++;
        }
    }
    ck_assert_uint_eq(lk_table_count(), nlive);
    for (size_t i = 0; i < POOL; i++)
        ck_assert(lk_table_lookup(ptr[i], NULL) == (live[i] != 0));
    free(ptr);
    free(size);
    free(live);
}
END_TEST

START_TEST(test_table_rejects)
{
    ck_assert_int_eq(lk_table_insert(0, &(lk_block_t){ 1, 0, 0 }), -EINVAL);
    ck_assert_int_eq(lk_table_insert(0x1002, &(lk_block_t){ 1, 0, 0 }), -EINVAL);
    /* 4-byte alignment is enough */
    ck_assert_int_eq(lk_table_insert(0x1004, &(lk_block_t){ 1, 0, 3 }), 0);
    lk_block_t out;
    ck_assert(lk_table_lookup(0x1004, &out));
    ck_assert_int_eq(out.family, 3);
    ck_assert(!lk_table_lookup(0x1000, NULL));
    ck_assert_int_eq(lk_table_remove(0x1004, &out), 0);
    ck_assert_uint_eq(lk_table_count(), 0);
}
END_TEST

static Suite *table_suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_table_bytes_per_live_block);
    tcase_add_test(tc, test_table_huge_sizes);
    tcase_add_test(tc, test_table_small_process_pages);
    tcase_add_test(tc, test_table_model);
    tcase_add_test(tc, test_table_rejects);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(table_suite)
