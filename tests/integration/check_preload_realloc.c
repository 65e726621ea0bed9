/* check_preload_realloc.c - end-to-end tests of realloc's exact-mode path:
 * a block regrown at one site, in place and moved, counts each old block's
 * release before its new block (peaks included); shrinking, realloc(NULL),
 * realloc(p, 0), reallocarray, a failure, a realloc of a new[] block (a
 * mismatch), a block libleak never saw, threads at one site, and a block
 * regrown at its own site by another thread keep exact counts, and errno is
 * what it is natively. */
#include "preload_helpers.h"

/* The sum of live bytes over the dump's sites. */
static long long sites_live_bytes(pl_dump_t *d)
{
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    long long sum = 0;
    json_array_foreach(sites, i, s) sum += pl_int(s, LK_KEY_LIVE_BYTES);
    return sum;
}

START_TEST(test_preload_realloc_one_site)
{
    pl_run_t bare, r;
    pl_run(&bare, "pl_realloc_site", NULL, NULL, 0);
    pl_assert_exit(&bare, 0);
    pl_run(&r, "pl_realloc_site", NULL, NULL, 1);
    pl_assert_exit(&r, 0);              /* errno and contents as natively */
    ck_assert_str_eq(r.out, bare.out);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *t = pl_totals(d);
    ck_assert(pl_bool(t, LK_KEY_COMPLETE));
    ck_assert_int_eq(pl_int(t, LK_KEY_LIVE_BYTES), sites_live_bytes(d));

    /* both ways of a regrow were taken */
    int inplace = -1, moved = -1;
    const char *line = strstr(r.err, "inplace ");
    ck_assert_msg(line && sscanf(line, "inplace %d moved %d", &inplace, &moved) == 2,
                  "no in-place count on stderr: %s", r.err);
    ck_assert_msg(inplace > 0 && moved > 0, "in place %d, moved %d: expected both", inplace,
                  moved);

    pl_assert_site(d, "_ZL7rg_stepPvm", "malloc", 2, 48032, 2002, 24056032);
    /* the old block is released before the new one: the peak is the two
     * final blocks, not two plus a released one */
    ck_assert_int_eq(pl_sites(d, "_ZL7rg_stepPvm", "malloc").peak_live_bytes, 48032);
    pl_assert_site(d, "_ZL8sh_allocv", "malloc", 0, 0, 1, 8000);
    pl_assert_site(d, "_ZL7sh_stepPvm", "malloc", 1, 1600, 400, 1916800);
    ck_assert_int_eq(pl_sites(d, "_ZL7sh_stepPvm", "malloc").peak_live_bytes, 7984);
    pl_assert_site(d, "_ZL5alt_aPvm", "malloc", 1, 1664, 101, 87264);
    pl_assert_site(d, "_ZL5alt_bPvm", "malloc", 0, 0, 100, 86400);
    pl_assert_site(d, "_ZL7ra_stepPvmm", "malloc", 1, 720, 51, 21420);
    pl_assert_site(d, "_ZL6mm_newv", "new[]", 0, 0, 1, 1234);
    pl_assert_site(d, "_ZL10mm_reallocPv", "malloc", 1, 3000, 1, 3000);
    pl_assert_site(d, "_ZL7z_allocv", "malloc", 0, 0, 1, 500);
    pl_assert_no_site(d, "_ZL6z_zeroPv");
    pl_assert_site(d, "_ZL7f_allocv", "malloc", 1, 300, 1, 300);
    pl_assert_no_site(d, "_ZL6f_stepPv");
    pl_assert_site(d, "_ZL7fr_stepPv", "malloc", 1, 900, 1, 900);
    pl_assert_site(d, "_ZL7mt_stepPvm", "malloc", 4, 32128, 2004, 8080128);

    int n;
    json_t *f = pl_failure(d, "_ZL6f_stepPv", &n);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "enomem");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "realloc");
    pl_failure(d, "_ZL6z_zeroPv", &n);
    ck_assert_int_eq(n, 0);

    /* the realloc of a new[] block: one mismatch, the block gone all the same */
    json_t *mm = pl_obj(d->root, LK_KEY_MISMATCHES), *e;
    size_t i;
    n = 0;
    json_array_foreach(mm, i, e) {
        if (!pl_stack_has_fn(d, pl_int(e, LK_KEY_ALLOC_STACK), "_ZL6mm_newv"))
            continue;
        n++;
        ck_assert(pl_stack_has_fn(d, pl_int(e, LK_KEY_FREE_STACK), "_ZL10mm_reallocPv"));
        ck_assert_str_eq(pl_str(e, LK_KEY_ALLOC_FAMILY), "new[]");
        ck_assert_str_eq(pl_str(e, LK_KEY_FREE_FAMILY), "malloc");
        ck_assert_int_eq(pl_int(e, LK_KEY_COUNT), 1);
        ck_assert_int_eq(pl_int(e, LK_KEY_BYTES), 1234);
    }
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(pl_int(t, LK_KEY_MISMATCHED_FREES), 1);
    ck_assert_int_eq(pl_int(t, LK_KEY_UNTRACKED_FREES), 1);   /* fr_step's */
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

/* Blocks one thread allocated, regrown at their own site by another: that
 * thread's counter deltas cannot pay for the old blocks, so the site is
 * shared, and its counts and peak stay exact. */
START_TEST(test_preload_realloc_other_threads_blocks)
{
    static const char *const args[] = { "xthread", NULL };
    static const char *const env[] = { "LIBLEAK_DEPTH=2", NULL };
    pl_run_t r;
    pl_run(&r, "pl_realloc_site", args, env, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok\n");
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *t = pl_totals(d);
    ck_assert(pl_bool(t, LK_KEY_COMPLETE));
    ck_assert_int_eq(pl_int(t, LK_KEY_LIVE_BYTES), sites_live_bytes(d));
    pl_assert_site(d, "_ZL7xt_stepPvm", "malloc", 50, 15000, 300, 60000);
    ck_assert_int_eq(pl_sites(d, "_ZL7xt_stepPvm", "malloc").peak_live_bytes, 30000);
    pl_run_free(&r);
}
END_TEST

static Suite *preload_realloc_suite(void)
{
    Suite *s = suite_create("preload_realloc");
    TCase *tc = pl_tcase("realloc");
    tcase_add_test(tc, test_preload_realloc_one_site);
    tcase_add_test(tc, test_preload_realloc_other_threads_blocks);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(preload_realloc_suite)
