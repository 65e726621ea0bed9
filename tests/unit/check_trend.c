/* check_trend.c - the growth verdicts of analyzer/trend.c on series whose
 * answer is known: a steady leak, a cache that fills and stops, a buffer
 * that drains, noise around a constant, and a single spike. */
#include "testhelper.h"
#include "trend.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define N 30

static double t[N], y[N];

static void series_time(void)
{
    for (int i = 0; i < N; i++)
        t[i] = i * 0.5;
}

START_TEST(test_trend_growing_leak)
{
    lk_trend_t tr;
    series_time();
    for (int i = 0; i < N; i++)
        y[i] = 100000 + 64.0 * 1024 * i + (i % 3) * 512;   /* 128 KiB/s plus jitter */
    ck_assert_int_eq(lk_trend_fit(t, y, N, 0, &tr), 0);
    ck_assert_str_eq(lk_trend_name(tr.kind), "growing");
    ck_assert(fabs(tr.slope_bytes_per_s - 131072.0) < 2048.0);
    ck_assert(tr.confidence > 0.99);
}
END_TEST

START_TEST(test_trend_plateau_cache)
{
    lk_trend_t tr;
    series_time();
    for (int i = 0; i < N; i++)
        y[i] = i < 12 ? 1048576.0 * i : 1048576.0 * 12 + (i % 2) * 100;  /* fills, then holds */
    ck_assert_int_eq(lk_trend_fit(t, y, N, 0, &tr), 0);
    ck_assert_str_eq(lk_trend_name(tr.kind), "plateau");
    ck_assert(tr.confidence > 0.5);
}
END_TEST

START_TEST(test_trend_shrinking)
{
    lk_trend_t tr;
    series_time();
    for (int i = 0; i < N; i++)
        y[i] = 10e6 - 200000.0 * i;
    ck_assert_int_eq(lk_trend_fit(t, y, N, 0, &tr), 0);
    ck_assert_int_eq(tr.kind, LK_TREND_SHRINKING);
    ck_assert(tr.slope_bytes_per_s < -390000 && tr.slope_bytes_per_s > -410000);
}
END_TEST

START_TEST(test_trend_stable_noise_and_spike)
{
    lk_trend_t tr;
    series_time();
    for (int i = 0; i < N; i++)
        y[i] = 5e6 + ((i * 7919) % 13) * 1000.0;   /* +-13 KB of noise on 5 MB */
    ck_assert_int_eq(lk_trend_fit(t, y, N, 0, &tr), 0);
    ck_assert_int_eq(tr.kind, LK_TREND_STABLE);

    /* One spike in the middle must not read as growth. */
    for (int i = 0; i < N; i++)
        y[i] = 5e6;
    y[N / 2] = 50e6;
    ck_assert_int_eq(lk_trend_fit(t, y, N, 0, &tr), 0);
    ck_assert_int_ne(tr.kind, LK_TREND_GROWING);
    ck_assert(fabs(tr.slope_bytes_per_s) < 1.0);
}
END_TEST

/* A steady rise sampled by a signal snapshot and a timeline sample a moment
 * apart, then the exit dump: the last three samples cover two instants, and
 * counted alone they read as a rise that stopped.  The recent window also
 * spans the last third of the time, so it sees the rise. */
START_TEST(test_trend_close_samples_at_the_end)
{
    static const double ts[] = {0.214, 0.240, 0.267, 0.292, 0.304, 0.318,
                                0.344, 0.372, 0.398, 0.404, 0.424};
    static const double ys[] = {851968, 917504, 983040, 1048576, 1048576, 1114112,
                                1179648, 1245184, 1310720, 1310720, 1314816};
    lk_trend_t tr;
    ck_assert_int_eq(lk_trend_fit(ts, ys, 11, 0, &tr), 0);
    ck_assert_str_eq(lk_trend_name(tr.kind), "growing");
}
END_TEST

START_TEST(test_trend_insufficient_and_bad_input)
{
    lk_trend_t tr;
    double tt[2] = { 0, 1 }, yy[2] = { 0, 100000 };
    ck_assert_int_eq(lk_trend_fit(tt, yy, 2, 0, &tr), 0);
    ck_assert_int_eq(tr.kind, LK_TREND_INSUFFICIENT);
    double back[3] = { 2, 1, 3 }, v[3] = { 1, 2, 3 };
    ck_assert_int_eq(lk_trend_fit(back, v, 3, 0, &tr), -EINVAL);
    ck_assert_int_eq(lk_trend_fit(NULL, v, 3, 0, &tr), -EINVAL);
}
END_TEST

START_TEST(test_trend_projection_and_formatting)
{
    char buf[64];
    /* 1.2 MB/s from 80 MiB to a 512 MiB limit: 377 s. */
    double s = lk_trend_time_to_limit(80.0 * 1048576, 1.2e6, 512.0 * 1048576);
    ck_assert(fabs(s - (432.0 * 1048576 / 1.2e6)) < 1e-6);
    ck_assert_str_eq(lk_human_duration(s, buf, sizeof(buf)), "about 6 min");
    ck_assert(lk_trend_time_to_limit(10, 0, 100) < 0);
    ck_assert(lk_trend_time_to_limit(200, 5, 100) < 0);
    ck_assert_str_eq(lk_human_bytes(512.0 * 1048576, buf, sizeof(buf)), "512 MiB");
    ck_assert_str_eq(lk_human_bytes(1536, buf, sizeof(buf)), "1.5 KiB");
    ck_assert_str_eq(lk_human_bytes(12, buf, sizeof(buf)), "12 B");
}
END_TEST

START_TEST(test_trend_sparkline)
{
    char buf[128];
    double v[4] = { 0, 1, 2, 3 };
    ck_assert_uint_eq(lk_sparkline(v, 4, 10, buf, sizeof(buf)), 4);
    ck_assert_str_eq(buf, "\u2581\u2583\u2586\u2588");
    double flat[100];
    for (int i = 0; i < 100; i++)
        flat[i] = i;
    ck_assert_uint_eq(lk_sparkline(flat, 100, 20, buf, sizeof(buf)), 20);
    ck_assert_uint_eq(strlen(buf), 60);
    /* A buffer too small is cut at a whole cell and stays terminated. */
    ck_assert_uint_eq(lk_sparkline(flat, 100, 20, buf, 8), 2);
    ck_assert_uint_eq(strlen(buf), 6);
}
END_TEST

static Suite *trend_suite(void)
{
    Suite *s = suite_create("trend");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_trend_growing_leak);
    tcase_add_test(tc, test_trend_plateau_cache);
    tcase_add_test(tc, test_trend_shrinking);
    tcase_add_test(tc, test_trend_stable_noise_and_spike);
    tcase_add_test(tc, test_trend_close_samples_at_the_end);
    tcase_add_test(tc, test_trend_insufficient_and_bad_input);
    tcase_add_test(tc, test_trend_projection_and_formatting);
    tcase_add_test(tc, test_trend_sparkline);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(trend_suite)
