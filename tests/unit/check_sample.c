/* check_sample.c - LIBLEAK_SAMPLE_BYTES: the per-thread byte countdown and the
 * unbiased estimates.  The core is driven as the hooks drive it
 * (lk_sample_skip decides, lk_track_alloc / lk_track_free record), with fake
 * pointers and a fixed seed, so every run is the same. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "helpers_preload.h"
#include "testhelper.h"

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static const char *sample_env_value;

static const char *sample_env(const char *name)
{
    if (strcmp(name, "LIBLEAK_SAMPLE_BYTES") == 0)
        return sample_env_value;
    return strcmp(name, "LIBLEAK_QUIET") == 0 ? "1" : NULL;
}

static void setup(void)
{
    lk_config_load(no_env);
    lk_config.scan = 0;
    lk_tracker_reset_for_tests();
    lk_sample_seed(12345);
}

static void teardown(void)
{
    lk_config.sample_bytes = 0;
    lk_sample_seed(12345);
    lk_tracker_reset_for_tests();   /* free the tables: clean under ASan's leak check */
}

/* Deterministic sizes: a 64-bit LCG. */
static uint64_t lcg;
static uint64_t next_rand(void)
{
    lcg = lcg * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return lcg >> 33;
}

#define NSITES 3
#define NALLOC 1000000u
/* Site k's sizes: uniform in [lo, hi].  Small blocks are sampled rarely and
 * weigh ~N/s each; 16-64 KiB blocks at N = 16 KiB are sampled most of the time. */
static const uint64_t size_lo[NSITES] = { 16, 1024, 16384 };
static const uint64_t size_hi[NSITES] = { 256, 8192, 65536 };

typedef struct truth {
    uint64_t total_blocks, total_bytes, live_blocks, live_bytes;
} truth_t;

static void check_close(const char *what, int site, uint64_t est, uint64_t truth, double tol)
{
    double rel = fabs((double)est - (double)truth) / (double)truth;
    ck_assert_msg(rel <= tol, "site %d %s: estimate %llu, truth %llu (%.2f%% off, tolerance %.0f%%)",
                  site, what, (unsigned long long)est, (unsigned long long)truth,
                  100 * rel, 100 * tol);
}

/* 1M allocations of mixed sizes 16 B..64 KiB from 3 sites (60% / 30% / 10%),
 * two thirds of them freed again; N = 16 KiB.
 * Tolerance 8%: the relative standard deviation of a site's byte estimate is
 * sqrt(Σ s²(1-p)/p) / Σ s ~ sqrt(N / Σ s) for small blocks: 1.6% for site 0
 * (600k blocks of ~136 B), 0.9% for site 1, under 0.5% for site 2; of its
 * block estimate sqrt(Σ (1-p)/p) / n ~ sqrt(N / (n s̄)): the same.  The
 * live third has sqrt(3) times that.  8% is over 2.5 standard deviations of the
 * noisiest figure (site 0's live bytes, ~2.8%), and the seed is fixed (this
 * seed: at most 3.4% off).  Wrong weights fail: N bytes per sample whatever
 * the size is over 50% low for site 2; unscaled sampled bytes are ~90% low. */
START_TEST(test_sample_estimates_unbiased)
{
    lk_config.sample_bytes = 16384;
    lk_sample_seed(12345);
    lcg = 42;
    lk_frames_t f[NSITES];
    truth_t t[NSITES];
    memset(t, 0, sizeof t);
    for (int k = 0; k < NSITES; k++)
        fake_frames(&f[k], 0x400000 + 0x100000 * (uintptr_t)k, 5 + (unsigned)k);
    unsigned tracked = 0;
    for (uint32_t i = 0; i < NALLOC; i++) {
        uint64_t r = next_rand() % 10;
        int k = r < 6 ? 0 : r < 9 ? 1 : 2;
        uint64_t s = size_lo[k] + next_rand() % (size_hi[k] - size_lo[k] + 1);
        void *p = (void *)(UINT64_C(0x10000000) + (uint64_t)i * 16);
        t[k].total_blocks++;
        t[k].total_bytes += s;
        if (!lk_sample_skip(s)) {
            lk_track_alloc(p, s, LK_FAMILY_MALLOC, &f[k]);
            tracked++;
        }
        if (i % 3 != 0) {
            lk_track_free(p, LK_FAMILY_MALLOC);     /* mostly untracked: no count */
        } else {
            t[k].live_blocks++;
            t[k].live_bytes += s;
        }
    }
    /* it did sample: ~Σ(1 - exp(-s/N)) of 1M blocks, about 9% */
    ck_assert_uint_gt(tracked, NALLOC / 50);
    ck_assert_uint_lt(tracked, NALLOC / 5);
    lk_totals_t tot;
    lk_tracker_totals(&tot);
    ck_assert_uint_eq(tot.untracked_frees, 0);
    uint64_t sum_live = 0;
    for (int k = 0; k < NSITES; k++) {
        lk_site_rec_t s;
        uint32_t idx = lk_site_get(&f[k], LK_FAMILY_MALLOC);
        ck_assert_uint_le(idx, LK_SITE_MAX);
        lk_site_snapshot(idx, &s);
        check_close("total_bytes", k, s.total_bytes, t[k].total_bytes, 0.08);
        check_close("total_blocks", k, s.total_blocks, t[k].total_blocks, 0.08);
        check_close("live_bytes", k, s.live_bytes, t[k].live_bytes, 0.08);
        check_close("live_blocks", k, s.total_blocks - s.freed_blocks, t[k].live_blocks, 0.08);
        ck_assert_uint_le(s.max_request_bytes, size_hi[k]);   /* raw, not scaled */
        sum_live += s.live_bytes;
    }
    ck_assert_uint_eq(tot.live_bytes, sum_live);
}
END_TEST

/* Exact mode: the countdown never skips, whatever the size. */
START_TEST(test_sample_off_tracks_everything)
{
    lk_config.sample_bytes = 0;
    for (size_t s = 0; s < 100000; s += 7)
        ck_assert(!lk_sample_skip(s));
    ck_assert_uint_eq(lk_tls_sample_left, 0);
}
END_TEST

/* The probability that a block of s bytes is tracked is 1 - exp(-s/N). */
START_TEST(test_sample_probability)
{
    lk_config.sample_bytes = 4096;
    lk_sample_seed(7);
    static const size_t sizes[] = { 64, 1024, 4096, 16384 };
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
        unsigned n = 200000, hit = 0;
        for (unsigned i = 0; i < n; i++)
            hit += !lk_sample_skip(sizes[j]);
        double p = -expm1(-(double)sizes[j] / 4096.0);
        double sd = sqrt(p * (1 - p) / n);
        double got = (double)hit / n;
        ck_assert_msg(fabs(got - p) <= 5 * sd + 1e-9, "size %zu: tracked %.4f, expected %.4f",
                      sizes[j], got, p);
    }
}
END_TEST

/* A new thread's countdown is drawn before its first allocation: that
 * allocation is tracked with probability p like any other, not always. */
static void *one_small_alloc(void *arg)
{
    *(int *)arg = !lk_sample_skip(16);
    return NULL;
}

START_TEST(test_sample_new_thread_first_alloc)
{
    lk_config.sample_bytes = 65536;
    enum { NT = 400 };
    int tracked[NT], n = 0;
    for (int i = 0; i < NT; i++) {
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, one_small_alloc, &tracked[i]), 0);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        n += tracked[i];
    }
    /* expected NT * (1 - e^(-16/65536)) = 0.1; always tracking would give NT */
    ck_assert_int_le(n, 5);
}
END_TEST

/* A block's weight is 1/p blocks and s/p bytes; large blocks weigh ~1. */
START_TEST(test_sample_weight_formula)
{
    lk_config.sample_bytes = 65536;
    uint64_t b, fx;
    lk_sample_weight(16, &b, &fx);
    ck_assert_uint_eq(b, (uint64_t)llround(16 / -expm1(-16.0 / 65536)));
    ck_assert_uint_eq(fx, (uint64_t)llround(65536.0 / -expm1(-16.0 / 65536)));
    ck_assert_uint_ge(b, 65536);            /* ~N + s/2 for small s */
    ck_assert_uint_le(b, 65536 + 16);
    lk_sample_weight(UINT64_C(1) << 30, &b, &fx);
    ck_assert_uint_eq(b, UINT64_C(1) << 30);
    ck_assert_uint_eq(fx, 1u << LK_SAMPLE_FX_SHIFT);
}
END_TEST

/* The dump says its figures are estimates, and its totals still equal the
 * sum of its sites. */
START_TEST(test_sample_dump_marked_estimated)
{
    lk_config.sample_bytes = 1024;
    lk_frames_t f;
    fake_frames(&f, 0x700000, 4);
    for (uint32_t i = 0; i < 10000; i++)
        if (!lk_sample_skip(100))
            lk_track_alloc((void *)(UINT64_C(0x20000000) + (uint64_t)i * 16), 100,
                           LK_FAMILY_MALLOC, &f);
    json_t *root = lk_dump_build(LK_TRIGGER_API, NULL, 0);
    ck_assert_ptr_nonnull(root);
    json_t *tot = json_object_get(root, LK_KEY_TOTALS);
    ck_assert(json_is_true(json_object_get(tot, LK_KEY_ESTIMATED)));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(root, LK_KEY_CONFIG),
                                                        LK_KEY_SAMPLE_BYTES)), 1024);
    long long live = json_integer_value(json_object_get(tot, LK_KEY_LIVE_BYTES));
    check_close("live_bytes", 0, (uint64_t)live, 1000000, 0.15);   /* ~1000 samples: sd 3% */
    json_t *sites = json_object_get(root, LK_KEY_SITES);
    long long sum = 0;
    for (size_t i = 0; i < json_array_size(sites); i++)
        sum += json_integer_value(json_object_get(json_array_get(sites, i), LK_KEY_LIVE_BYTES));
    ck_assert_int_eq(sum, live);
    json_decref(root);
    /* exact mode: no flag */
    lk_config.sample_bytes = 0;
    lk_tracker_reset_for_tests();
    root = lk_dump_build(LK_TRIGGER_API, NULL, 1);
    ck_assert_ptr_null(json_object_get(json_object_get(root, LK_KEY_TOTALS), LK_KEY_ESTIMATED));
    json_decref(root);
}
END_TEST

/* The preload takes only what leak-analyze reads back (dump.h's limit): a
 * larger value warns and keeps exact tracking. */
START_TEST(test_sample_bytes_limit_shared_with_analyzer)
{
    char max[32];
    snprintf(max, sizeof(max), "%llu", (unsigned long long)LIBLEAK_SAMPLE_BYTES_MAX);
    sample_env_value = max;
    ck_assert_int_eq(lk_config_load(sample_env), 0);
    ck_assert_uint_eq(lk_config.sample_bytes, LIBLEAK_SAMPLE_BYTES_MAX);
    sample_env_value = "18446744073709551615";
    ck_assert_int_eq(lk_config_load(sample_env), 1);
    ck_assert_uint_eq(lk_config.sample_bytes, 0);
    sample_env_value = "2T";
    ck_assert_int_eq(lk_config_load(sample_env), 1);
    ck_assert_uint_eq(lk_config.sample_bytes, 0);
    sample_env_value = NULL;
    lk_config_load(no_env);
}
END_TEST

static Suite *sample_suite(void)
{
    Suite *s = suite_create("sample");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sample_estimates_unbiased);
    tcase_add_test(tc, test_sample_off_tracks_everything);
    tcase_add_test(tc, test_sample_probability);
    tcase_add_test(tc, test_sample_new_thread_first_alloc);
    tcase_add_test(tc, test_sample_weight_formula);
    tcase_add_test(tc, test_sample_dump_marked_estimated);
    tcase_add_test(tc, test_sample_bytes_limit_shared_with_analyzer);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(sample_suite)
