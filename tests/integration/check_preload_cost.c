/* check_preload_cost.c - the preload is a guest: a program under an
 * address-space limit runs out of memory where it would without libleak,
 * even once the dumper thread has dumped, and every dump says what address
 * space and memory libleak holds (cost). */
#include <sys/resource.h>

#include "preload_helpers.h"
#include "testhelper.h"

#define LIMIT_BYTES (512L << 20)

/* Blocks pl_aslimit got under a soft RLIMIT_AS of LIMIT_BYTES (the victim
 * sets it on itself), run as asked. */
static long blocks_under_limit(const char *mode, const char *const *env, int preload,
                               pl_run_t *r)
{
    struct rlimit old;
    char mib[32];
    snprintf(mib, sizeof mib, "%ld", LIMIT_BYTES >> 20);
    const char *const args[] = {mode, mib, NULL};
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
    PL_REQUIRE(old.rlim_max == RLIM_INFINITY || old.rlim_max >= (rlim_t)LIMIT_BYTES,
               "hard RLIMIT_AS below the test's limit");
    pl_run(r, "pl_aslimit", args, env, preload);
    pl_assert_exit(r, 0);
    long n = 0;
    ck_assert_msg(sscanf(r->out, "blocks %ld", &n) == 1 && n > 100, "output: %s", r->out);
    return n;
}

START_TEST(test_preload_out_of_memory_where_native_does)
{
    pl_run_t r;
    long native = blocks_under_limit("plain", NULL, 0, &r);
    pl_run_free(&r);

    long preload = blocks_under_limit("plain", NULL, 1, &r);
    pl_check_all(&r);
    pl_run_free(&r);

    /* snapshots every 10 ms, and one by signal before the blocks: the
     * dumper thread has allocated by then (a glibc thread arena would
     * reserve 64 MiB of address space) */
    const char *const env[] = {"LIBLEAK_INTERVAL_MS=10", NULL};
    long snap = blocks_under_limit("snapshot", env, 1, &r);
    ck_assert_ptr_nonnull(pl_dump_of(&r, r.pid, "signal"));
    pl_check_all(&r);
    pl_run_free(&r);

    long tolerance = native / 50;  /* 2% */
    ck_assert_msg(native - preload <= tolerance && native - snap <= tolerance,
                  "blocks of 1 MiB under RLIMIT_AS %ld MiB: native %ld, preload %ld, "
                  "with snapshots %ld (2%% is %ld)",
                  LIMIT_BYTES >> 20, native, preload, snap, tolerance);
}
END_TEST

START_TEST(test_preload_cost_counts_libleaks_mappings)
{
    /* libleak's own mappings are counted (its tables at least), and not
     * the program's or the libraries' */
    pl_run_t r;
    pl_run(&r, "pl_basic", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *cost = pl_obj(d->root, LK_KEY_COST);
    long long as = pl_int(cost, LK_KEY_ADDRESS_SPACE_BYTES);
    long long tables = pl_int(cost, LK_KEY_BLOCK_TABLE_BYTES);
    ck_assert_int_ge(as, tables);
    ck_assert_int_lt(as, 64LL << 20);
    ck_assert_int_gt(pl_int(cost, LK_KEY_COST_RSS_BYTES), 0);
    pl_run_free(&r);
}
END_TEST

static Suite *preload_cost_suite(void)
{
    Suite *s = suite_create("preload_cost");
    TCase *tc = pl_tcase("cost");
    tcase_add_test(tc, test_preload_out_of_memory_where_native_does);
    tcase_add_test(tc, test_preload_cost_counts_libleaks_mappings);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(preload_cost_suite)
