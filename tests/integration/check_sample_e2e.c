/* check_sample_e2e.c - LIBLEAK_SAMPLE_BYTES=65536 end to end: the victim
 * sp_sample runs under the preload with sampling; its exit dump must say
 * it is estimated, keep every dump invariant, count no untracked frees (the
 * frees of unsampled blocks are expected misses), and estimate each site
 * roughly right.  The seed is not fixed here (time and pid), so tolerances are
 * wide: leak_small has ~390 samples (25.6 MB / 64 KiB), relative standard
 * deviation ~sqrt(N / Σs) = 5%, tolerance 25% (5 sd); churn_4k ~6,250
 * samples, 1.3%, tolerance 10%; leak_big's blocks are all sampled. */
#include <math.h>

#include "preload_helpers.h"

static void near(const char *what, long long est, double truth, double tol)
{
    double rel = fabs((double)est - truth) / truth;
    ck_assert_msg(rel <= tol, "%s: estimate %lld, truth %.0f (%.1f%% off, tolerance %.0f%%)",
                  what, est, truth, 100 * rel, 100 * tol);
}

START_TEST(test_sample_e2e_estimates)
{
    pl_run_t r;
    const char *env[] = { "LIBLEAK_SAMPLE_BYTES=64K", NULL };
    pl_run(&r, "sp_sample", NULL, env, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok\n");
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_SAMPLE_BYTES), 65536);
    json_t *tot = pl_totals(d);
    ck_assert(json_is_true(json_object_get(tot, LK_KEY_ESTIMATED)));
    ck_assert_int_eq(pl_int(tot, LK_KEY_UNTRACKED_FREES), 0);

    pl_agg_t a = pl_sites(d, "leak_small", "malloc");
    ck_assert_int_eq(a.nsites, 1);
    near("leak_small live_bytes", a.live_bytes, 25600000, 0.25);
    near("leak_small live_blocks", a.live_blocks, 400000, 0.25);
    ck_assert_int_eq(a.max_request_bytes, 64);

    a = pl_sites(d, "churn_4k", "malloc");
    ck_assert_int_eq(a.nsites, 1);
    near("churn_4k total_bytes", a.total_bytes, 409600000, 0.10);
    near("churn_4k total_blocks", a.total_blocks, 100000, 0.10);
    ck_assert_int_eq(a.live_bytes, 0);          /* every sampled block was freed */
    ck_assert_int_eq(a.live_blocks, 0);

    a = pl_sites(d, "leak_big", "malloc");
    ck_assert_int_eq(a.nsites, 1);
    near("leak_big live_bytes", a.live_bytes, 10 << 20, 0.01);
    ck_assert_int_eq(a.live_blocks, 10);

    /* the analyzer says the figures are estimates, in text and in JSON, and
     * scales the scan's (raw, sampled) blocks like the sites */
    char exe[PATH_MAX];
    pl_artifact(exe, "leak-analyze");
    pl_run_t t;
    const char *targs[] = { r.dir, NULL };
    pl_run_exe(&t, exe, targs, NULL, 0);
    pl_assert_exit(&t, 0);
    ck_assert_msg(strstr(t.out, "Note: sampled run (LIBLEAK_SAMPLE_BYTES): byte and block "
                                "figures are estimates.\n") != NULL, "no note in:\n%s", t.out);
    pl_run_free(&t);
    const char *jargs[] = { "--format=json", "--show=all", r.dir, NULL };
    pl_run_exe(&t, exe, jargs, NULL, 0);
    pl_assert_exit(&t, 0);
    json_error_t err;
    json_t *rep = json_loads(t.out, 0, &err);
    ck_assert_msg(rep != NULL, "report does not parse: %s", err.text);
    json_t *sum = pl_obj(rep, "summary");
    ck_assert(json_is_true(json_object_get(sum, "estimated")));
    long long all = 0;
    const char *kinds[] = { "unfreed", "definite", "indirect", "possible", "reachable" };
    for (int k = 0; k < 5; k++)
        all += pl_int(pl_obj(pl_obj(sum, "kinds"), kinds[k]), "bytes");
    near("analyzer live bytes", all, (double)pl_int(tot, LK_KEY_LIVE_BYTES), 0.02);
    json_decref(rep);
    pl_run_free(&t);
    pl_run_free(&r);
}
END_TEST

static Suite *sample_e2e_suite(void)
{
    Suite *s = suite_create("sample_e2e");
    TCase *tc = pl_tcase("sampling");
    tcase_add_test(tc, test_sample_e2e_estimates);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(sample_e2e_suite)
