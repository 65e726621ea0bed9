/* check_preload_basic.c - end-to-end tests of libleak.so on single-threaded
 * C victims: exact blocks and bytes per site for malloc, calloc, realloc,
 * the memalign family, malloc(0), failed requests, unknown frees, errno,
 * dump files, LIBLEAK_* settings, early constructors and a victim without
 * frame pointers.  Each test runs $BUILD/victims/pl_* under LD_PRELOAD (see
 * preload_helpers.h) and reads the dumps with jansson. */
#include "preload_helpers.h"

/* Run 'victim' with and without the preload: same stdout, same exit status
 * 'code'.  Leaves the preloaded run in 'r'. */
static void run_both(pl_run_t *r, const char *victim, const char *const *args,
                     const char *const *env, int code)
{
    pl_run_t bare;
    pl_run(&bare, victim, args, NULL, 0);
    pl_assert_exit(&bare, code);
    pl_run(r, victim, args, env, 1);
    pl_assert_exit(r, code);
    ck_assert_msg(!strcmp(r->out, bare.out), "%s: stdout differs under the preload:\n%s\n---\n%s",
                  victim, r->out, bare.out);
    ck_assert_int_eq(bare.ndumps, 0);
    pl_run_free(&bare);
}

START_TEST(test_preload_malloc_leak)
{
    pl_run_t r;
    run_both(&r, "pl_basic", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "leak_1337", "malloc", 3, 4011, 3, 4011);
    pl_agg_t a = pl_sites(d, "leak_1337", "malloc");
    ck_assert_int_eq(a.max_request_bytes, 1337);
    ck_assert_int_eq(a.peak_live_bytes, 4011);

    pl_assert_site(d, "churn_2021", "malloc", 0, 0, 5, 10105);
    a = pl_sites(d, "churn_2021", "malloc");
    ck_assert_int_eq(a.peak_live_bytes, 10105);
    ck_assert_int_eq(a.max_request_bytes, 2021);

    pl_assert_site(d, "calloc_1003", "malloc", 2, 2006, 2, 2006);
    pl_assert_site(d, "zero_leak", "malloc", 2, 0, 2, 0);

    /* No other family, and the totals cover at least these sites. */
    json_t *t = pl_totals(d);
    ck_assert(pl_bool(t, LK_KEY_COMPLETE));
    ck_assert_int_ge(pl_int(t, LK_KEY_LIVE_BLOCKS), 7);
    ck_assert_int_ge(pl_int(t, LK_KEY_LIVE_BYTES), 4011 + 2006);
    ck_assert_int_ge(pl_int(t, LK_KEY_ALLOC_COUNT), 12);
    ck_assert_int_ge(pl_int(t, LK_KEY_FREE_COUNT), 5);
    ck_assert_int_eq(pl_int(t, LK_KEY_ALLOC_COUNT) - pl_int(t, LK_KEY_FREE_COUNT),
                     pl_int(t, LK_KEY_LIVE_BLOCKS));
    ck_assert_int_ge(pl_int(t, LK_KEY_PEAK_LIVE_BYTES), 4011 + 10105);
    ck_assert_int_eq(pl_int(t, LK_KEY_MISMATCHED_FREES), 0);
    ck_assert_int_eq(json_array_size(pl_obj(d->root, LK_KEY_MISMATCHES)), 0);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_million_blocks)
{
    pl_run_t r;
    pl_run(&r, "pl_bigtable", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *t = pl_totals(d);
    ck_assert(pl_bool(t, LK_KEY_COMPLETE));
    ck_assert_int_eq(pl_int(t, LK_KEY_DROPPED_EVENTS), 0);
    pl_assert_site(d, "many_24", "malloc", 500000, 12000000, 1000000, 24000000);
    ck_assert_int_ge(pl_int(t, LK_KEY_PEAK_LIVE_BYTES), 24000000);
    ck_assert_int_gt(pl_int(pl_obj(d->root, LK_KEY_COST), LK_KEY_BLOCK_TABLE_BYTES), 0);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_every_hook_takes_the_fast_walk)
{
    /* 10 allocation functions x 1000 rounds from one call site each: after
     * the first capture of each site, every capture must be a fast walk (no
     * unw_backtrace fallback, few learning unwinds: the new frames' rules come
     * from the CFI).  A build in which the hooks' own frames could not be
     * walked out of gave 10000 fallbacks. */
    pl_run_t r;
    pl_run(&r, "pl_fastpath", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *t = pl_totals(d), *cost = pl_obj(d->root, LK_KEY_COST);
    ck_assert_int_ge(pl_int(t, LK_KEY_ALLOC_COUNT), 10000);
    ck_assert_int_eq(pl_int(cost, LK_KEY_UNWINDS_FALLBACK), 0);
    long long learning = pl_int(cost, LK_KEY_UNWINDS_LEARNING);
    long long from_cfi = pl_int(cost, LK_KEY_RULES_FROM_CFI);
    ck_assert_msg(learning <= 100 && from_cfi >= 1, "learning unwinds: %lld, rules from the CFI: %lld",
                  learning, from_cfi);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_free_null_not_counted)
{
    /* pl_basic calls free(NULL) 100 times: neither frees nor untracked. */
    pl_run_t r;
    pl_run(&r, "pl_basic", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    json_t *t = pl_totals(pl_exit_dump(&r));
    ck_assert_int_lt(pl_int(t, LK_KEY_UNTRACKED_FREES), 100);
    ck_assert_int_lt(pl_int(t, LK_KEY_FREE_COUNT), 100);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_realloc)
{
    pl_run_t r;
    run_both(&r, "pl_realloc", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    /* A moved or resized block belongs to the realloc call that made it. */
    pl_assert_site(d, "chain_start", "malloc", 0, 0, 1, 100);
    pl_assert_site(d, "chain_grow", "malloc", 0, 0, 1, 1000);
    pl_assert_site(d, "chain_end", "malloc", 1, 3000, 1, 3000);
    pl_assert_site(d, "realloc_null", "malloc", 2, 3022, 2, 3022);
    pl_assert_site(d, "zero_alloc", "malloc", 0, 0, 1, 1777);
    pl_assert_no_site(d, "realloc_zero");
    /* A failed realloc keeps the old block where it was. */
    pl_assert_site(d, "fail_alloc", "malloc", 1, 1901, 2, 3802);
    pl_assert_no_site(d, "realloc_fail");
    pl_assert_site(d, "shrink_alloc", "malloc", 0, 0, 1, 5000);
    pl_assert_site(d, "shrink", "malloc", 1, 50, 1, 50);
    pl_assert_site(d, "ra_alloc", "malloc", 0, 0, 1, 1230);
    pl_assert_site(d, "ra_grow", "malloc", 1, 2460, 1, 2460);

    int n;
    json_t *f = pl_failure(d, "realloc_fail", &n);
    ck_assert_msg(n == 1, "%d failures through realloc_fail, expected 1", n);
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "enomem");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "realloc");
    ck_assert_int_eq(pl_int(f, LK_KEY_REQUEST_BYTES), 1LL << 62);
    ck_assert_int_eq(pl_int(f, LK_KEY_COUNT), 2);
    ck_assert_int_eq(pl_int(pl_totals(d), LK_KEY_UNTRACKED_FREES), 0);
    pl_failure(d, "realloc_zero", &n);
    ck_assert_msg(n == 0, "realloc(p, 0) recorded as a failure");
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_aligned)
{
    pl_run_t r;
    run_both(&r, "pl_aligned", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "do_posix_memalign", "malloc", 1, 1337, 1, 1337);
    pl_assert_site(d, "do_aligned_alloc", "malloc", 1, 2560, 1, 2560);
    pl_assert_site(d, "do_memalign", "malloc", 1, 1408, 1, 1408);
    pl_assert_site(d, "do_valloc", "malloc", 1, 3001, 1, 3001);
    pl_assert_site(d, "do_pvalloc", "malloc", 1, 3003, 1, 3003);
    pl_assert_site(d, "freed_aligned", "malloc", 0, 0, 1, 1111);
    pl_assert_no_site(d, "bad_alignment");
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_failures)
{
    pl_run_t r;
    run_both(&r, "pl_fail", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_no_site(d, "huge_malloc");
    pl_assert_no_site(d, "overflow_calloc");
    pl_assert_no_site(d, "overflow_reallocarray");
    pl_assert_no_site(d, "tib64_malloc");
    pl_assert_site(d, "ok_after", "malloc", 1, 1337, 1, 1337);

    int n;
    json_t *f = pl_failure(d, "huge_malloc", &n);
    ck_assert_msg(n == 1, "%d failure groups through huge_malloc, expected 1", n);
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "enomem");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "malloc");
    ck_assert_int_eq(pl_int(f, LK_KEY_REQUEST_BYTES), 1LL << 62);
    ck_assert_int_eq(pl_int(f, LK_KEY_COUNT), 2);
    ck_assert_int_le(pl_int(f, LK_KEY_FIRST_UPTIME_NS), pl_int(f, LK_KEY_LAST_UPTIME_NS));
    pl_int(f, LK_KEY_LIVE_BYTES_AT);

    f = pl_failure(d, "overflow_calloc", &n);
    ck_assert_msg(n == 1, "%d failure groups through overflow_calloc, expected 1", n);
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "mul_overflow");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "calloc");
    ck_assert_int_eq(pl_int(f, LK_KEY_REQUEST_BYTES), INT64_MAX);
    ck_assert_int_eq(pl_int(f, LK_KEY_COUNT), 1);

    f = pl_failure(d, "overflow_reallocarray", &n);
    ck_assert_msg(n == 1, "%d failure groups through overflow_reallocarray, expected 1", n);
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "mul_overflow");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "reallocarray");
    ck_assert_int_eq(pl_int(f, LK_KEY_COUNT), 1);

    /* 64 TiB: failed (enomem) and above any plausible limit (implausible);
     * either way it is there with its size. */
    f = pl_failure(d, "tib64_malloc", &n);
    ck_assert_msg(n >= 1, "no failure through tib64_malloc");
    ck_assert_int_eq(pl_int(f, LK_KEY_REQUEST_BYTES), 64LL << 40);
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "malloc");

    f = pl_failure(d, "memalign_huge", &n);
    ck_assert_msg(n == 1, "%d failure groups through memalign_huge, expected 1", n);
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "enomem");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "posix_memalign");
    ck_assert_int_eq(pl_int(f, LK_KEY_REQUEST_BYTES), 1LL << 62);
    f = pl_failure(d, "aligned_huge", &n);
    ck_assert_msg(n == 1, "%d failure groups through aligned_huge, expected 1", n);
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "enomem");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "aligned_alloc");
    pl_assert_no_site(d, "memalign_huge");
    pl_assert_no_site(d, "aligned_huge");

    json_t *t = pl_totals(d);
    ck_assert_int_ge(pl_int(t, LK_KEY_FAILED_COUNT), 7);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_unknown_free)
{
    const char *const zero[] = {"0", NULL}, *const seven[] = {"7", NULL};
    pl_run_t r0, r7;
    pl_run(&r0, "pl_unknown_free", zero, NULL, 1);
    pl_assert_exit(&r0, 0);
    pl_run(&r7, "pl_unknown_free", seven, NULL, 1);
    pl_assert_exit(&r7, 0);
    ck_assert_str_eq(r7.out, "ok 7\n");
    pl_check_all(&r0);
    pl_check_all(&r7);
    pl_dump_t *d0 = pl_exit_dump(&r0), *d7 = pl_exit_dump(&r7);
    long long u0 = pl_int(pl_totals(d0), LK_KEY_UNTRACKED_FREES);
    long long u7 = pl_int(pl_totals(d7), LK_KEY_UNTRACKED_FREES);
    ck_assert_msg(u7 - u0 == 7, "untracked_frees %lld with 7 foreign frees, %lld with none", u7,
                  u0);
    pl_assert_site(d7, "leak_1337", "malloc", 1, 1337, 1, 1337);
    pl_assert_no_site(d7, "foreign_free");
    /* realloc of a foreign block: an untracked free, then a tracked block */
    pl_assert_site(d0, "foreign_realloc", "malloc", 1, 5000, 1, 5000);
    pl_assert_site(d7, "foreign_realloc", "malloc", 1, 5000, 1, 5000);
    ck_assert_int_ge(u0, 1);
    pl_run_free(&r0);
    pl_run_free(&r7);
}
END_TEST

START_TEST(test_preload_errno_preserved)
{
    pl_run_t r;
    run_both(&r, "pl_errno", NULL, NULL, 0);
    pl_check_all(&r);
    pl_assert_site(pl_exit_dump(&r), "keep_one", "malloc", 1, 1337, 1, 1337);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_dump_files)
{
    pl_run_t r;
    pl_run(&r, "pl_basic", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_msg(r.nothers == 0, "%s holds '%s' besides dumps", r.dir,
                  r.nothers ? r.others[0] : "");
    ck_assert_int_eq(r.ndumps, 1);
    char want[64];
    PL_FMT(want, "libleak.%ld.0.exit.json", (long)r.pid);
    ck_assert_str_eq(r.dumps[0].name, want);
    ck_assert_int_eq(r.dumps[0].mode, 0600);
    pl_check_dump(&r.dumps[0]);
    json_t *proc = pl_obj(r.dumps[0].root, LK_KEY_PROCESS);
    ck_assert_int_eq(pl_int(proc, LK_KEY_PPID), getpid());
    char exe[PATH_MAX];
    pl_victim_path(exe, "pl_basic");
    ck_assert_str_eq(pl_str(proc, LK_KEY_EXE), exe);
    json_t *argv = pl_obj(proc, LK_KEY_CMDLINE);
    ck_assert_int_eq(json_array_size(argv), 1);
    ck_assert_str_eq(json_string_value(json_array_get(argv, 0)), exe);
    json_t *dump = pl_obj(r.dumps[0].root, LK_KEY_DUMP);
    ck_assert(json_is_null(pl_obj(dump, LK_KEY_LABEL)));
    ck_assert_int_ge(pl_int(dump, LK_KEY_UNIX_MS), pl_int(proc, LK_KEY_START_UNIX_MS));
    ck_assert_int_gt(pl_int(dump, LK_KEY_RSS_BYTES), 0);
    /* the victim's module carries its build-id */
    json_t *mods = pl_obj(r.dumps[0].root, LK_KEY_MODULES);
    size_t i;
    json_t *m;
    int seen = 0;
    json_array_foreach(mods, i, m) {
        if (strcmp(pl_str(m, LK_KEY_PATH), exe) != 0) continue;
        seen = 1;
        ck_assert_int_gt(pl_int(m, LK_KEY_SIZE), 0);
        ck_assert_int_ge(strlen(pl_str(m, LK_KEY_BUILD_ID)), 16);
    }
    ck_assert_msg(seen, "no module for '%s'", exe);
    pl_run_free(&r);
}
END_TEST

/* Run pl_deep under the preload with 'env' (may be NULL), check that the
 * dump records max_depth 'depth' and one site through leaf_1337, and return
 * that site's stack id. */
static long long deep_leaf_stack(pl_run_t *r, const char *const *env, long long depth)
{
    pl_run(r, "pl_deep", NULL, env, 1);
    pl_assert_exit(r, 0);
    pl_check_all(r);
    pl_dump_t *d = pl_exit_dump(r);
    ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_MAX_DEPTH), depth);
    pl_assert_site(d, "leaf_1337", "malloc", 1, 1337, 1, 1337);
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        if (pl_stack_has_fn(d, sid, "leaf_1337")) return sid;
    }
    ck_abort_msg("%s: no site through leaf_1337", d->name);
    return -1;
}

START_TEST(test_preload_depth_default)
{
    pl_run_t r;
    long long sid = deep_leaf_stack(&r, NULL, 32);
    pl_dump_t *d = pl_exit_dump(&r);
    ck_assert(!pl_bool(pl_stack(d, sid), LK_KEY_TRUNCATED));
    ck_assert(pl_stack_has_fn(d, sid, "rec"));
    ck_assert(pl_stack_has_fn(d, sid, "main"));
    ck_assert_int_ge(json_array_size(pl_obj(pl_stack(d, sid), LK_KEY_FRAMES)), 15);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_depth_truncated)
{
    const char *const env[] = {"LIBLEAK_DEPTH=3", NULL};
    pl_run_t r;
    long long sid = deep_leaf_stack(&r, env, 3);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *st = pl_stack(d, sid), *s;
    ck_assert_msg(pl_bool(st, LK_KEY_TRUNCATED), "12-deep stack not truncated at depth 3");
    ck_assert_int_le(json_array_size(pl_obj(st, LK_KEY_FRAMES)), 3);
    ck_assert(!pl_stack_has_fn(d, sid, "main"));
    /* every stack obeys the limit */
    json_t *stacks = pl_obj(d->root, LK_KEY_STACKS);
    size_t i;
    json_array_foreach(stacks, i, s)
        ck_assert_int_le(json_array_size(pl_obj(s, LK_KEY_FRAMES)), 3);
    pl_run_free(&r);
}
END_TEST

/* Return the number of lines of 'bad' minus those of 'good': the warnings a
 * bad setting added to whatever a normal run prints. */
static int extra_lines(const char *bad, const char *good)
{
    return pl_count_lines(bad) - pl_count_lines(good);
}

START_TEST(test_preload_bad_env_value)
{
    const char *const env[] = {"LIBLEAK_DEPTH=abc", NULL};
    pl_run_t good, bad;
    pl_run(&good, "pl_basic", NULL, NULL, 1);
    pl_run(&bad, "pl_basic", NULL, env, 1);
    pl_assert_exit(&bad, 0);
    ck_assert_str_eq(bad.out, good.out);
    ck_assert_msg(extra_lines(bad.err, good.err) == 1,
                  "LIBLEAK_DEPTH=abc: expected one warning line, stderr:\n%s", bad.err);
    ck_assert_msg(strstr(bad.err, "LIBLEAK_DEPTH") != NULL, "warning does not name the "
                  "variable:\n%s", bad.err);
    pl_check_all(&bad);
    pl_dump_t *d = pl_exit_dump(&bad);
    ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_MAX_DEPTH), 32);
    pl_assert_site(d, "leak_1337", "malloc", 3, 4011, 3, 4011);
    pl_run_free(&good);
    pl_run_free(&bad);
}
END_TEST

START_TEST(test_preload_bad_env_out_of_range)
{
    const char *const env[] = {"LIBLEAK_DEPTH=0", "LIBLEAK_INTERVAL_MS=-5", NULL};
    pl_run_t good, bad;
    pl_run(&good, "pl_basic", NULL, NULL, 1);
    pl_run(&bad, "pl_basic", NULL, env, 1);
    pl_assert_exit(&bad, 0);
    ck_assert_str_eq(bad.out, good.out);
    ck_assert_msg(extra_lines(bad.err, good.err) == 2,
                  "two bad settings: expected two warning lines, stderr:\n%s", bad.err);
    pl_dump_t *d = pl_exit_dump(&bad);
    ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_MAX_DEPTH), 32);
    ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_INTERVAL_MS), 0);
    pl_run_free(&good);
    pl_run_free(&bad);
}
END_TEST

START_TEST(test_preload_config_recorded)
{
    /* good values are taken silently and recorded in config */
    const char *const env[] = {"LIBLEAK_DEPTH=7", "LIBLEAK_INTERVAL_MS=600000",
                               "LIBLEAK_SIGNAL=12", "LIBLEAK_WATERMARK=3M", NULL};
    pl_run_t good, r;
    pl_run(&good, "pl_basic", NULL, NULL, 1);
    pl_run(&r, "pl_basic", NULL, env, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, good.out);
    ck_assert_msg(extra_lines(r.err, good.err) == 0, "good settings, but stderr:\n%s", r.err);
    pl_check_all(&r);
    json_t *c = pl_obj(pl_exit_dump(&r)->root, LK_KEY_CONFIG);
    ck_assert_int_eq(pl_int(c, LK_KEY_MAX_DEPTH), 7);
    ck_assert_int_eq(pl_int(c, LK_KEY_INTERVAL_MS), 600000);
    ck_assert_int_eq(pl_int(c, LK_KEY_SIGNAL), 12);
    ck_assert_int_eq(pl_int(c, LK_KEY_WATERMARK_BYTES), 3 * 1048576);
    ck_assert_int_eq(pl_int(c, LK_KEY_SAMPLE_BYTES), 0);
    pl_run_free(&good);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_quiet)
{
    /* LIBLEAK_QUIET=1: a bad setting still falls back to the default, but
     * says nothing */
    const char *const env[] = {"LIBLEAK_QUIET=1", "LIBLEAK_DEPTH=abc", NULL};
    pl_run_t good, bad;
    pl_run(&good, "pl_basic", NULL, NULL, 1);
    pl_run(&bad, "pl_basic", NULL, env, 1);
    pl_assert_exit(&bad, 0);
    ck_assert_str_eq(bad.out, good.out);
    ck_assert_msg(extra_lines(bad.err, good.err) <= 0, "LIBLEAK_QUIET=1 but stderr:\n%s",
                  bad.err);
    pl_dump_t *d = pl_exit_dump(&bad);
    ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_MAX_DEPTH), 32);
    pl_run_free(&good);
    pl_run_free(&bad);
}
END_TEST

START_TEST(test_preload_default_dir_is_cwd)
{
    /* "-LIBLEAK_DIR" removes the variable; the victim then runs in the dump
     * directory, where its dump must land */
    const char *const env[] = {"-LIBLEAK_DIR", NULL};
    pl_run_t r;
    pl_run(&r, "pl_basic", NULL, env, 1);
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    ck_assert_int_eq(r.ndumps, 1);
    pl_assert_site(pl_exit_dump(&r), "leak_1337", "malloc", 3, 4011, 3, 4011);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_relative_dir_after_chdir)
{
    /* LIBLEAK_DIR=. started in the dump directory; the victim then moves */
    const char *const env[] = {"-LIBLEAK_DIR", "LIBLEAK_DIR=.", NULL};
    pl_run_t r;
    pl_run(&r, "pl_chdir", NULL, env, 1);
    pl_assert_exit(&r, 0);
    char moved[PATH_MAX];
    PL_FMT(moved, "%.*s", (int)strcspn(r.out, "\n"), r.out);
    DIR *dh = opendir(moved);
    int stray = 0;
    if (dh) {
        struct dirent *e;
        while ((e = readdir(dh)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) stray++;
        closedir(dh);
    }
    pl_rm_rf(moved);
    ck_assert_msg(stray == 0 && r.ndumps == 1,
                  "LIBLEAK_DIR=. resolved after chdir: %d file(s) in the new cwd, %d dump(s) "
                  "in the starting directory; stderr:\n%s", stray, r.ndumps, r.err);
    pl_check_all(&r);
    pl_assert_site(pl_exit_dump(&r), "leak_1337", "malloc", 1, 1337, 1, 1337);
    pl_run_free(&r);
}
END_TEST

/* Run pl_basic with LIBLEAK_DIR set to 'dir': one warning line more than a
 * normal run, identical stdout and exit status. */
static void check_unwritable(const char *dir)
{
    char var[PATH_MAX + 16];
    PL_FMT(var, "LIBLEAK_DIR=%s", dir);
    const char *const env[] = {var, NULL};
    pl_run_t good, bad;
    pl_run(&good, "pl_basic", NULL, NULL, 1);
    pl_assert_exit(&good, 0);
    pl_run(&bad, "pl_basic", NULL, env, 1);
    pl_assert_exit(&bad, 0);
    ck_assert_str_eq(bad.out, good.out);
    ck_assert_msg(extra_lines(bad.err, good.err) == 1,
                  "LIBLEAK_DIR=%s: expected one warning line, stderr:\n%s", dir, bad.err);
    ck_assert_int_eq(bad.ndumps, 0);
    pl_run_free(&good);
    pl_run_free(&bad);
}

START_TEST(test_preload_unwritable_dir_missing)
{
    check_unwritable("/nonexistent-libleak-dir/sub");
}
END_TEST

START_TEST(test_preload_unwritable_dir_file)
{
    /* a path through a regular file: ENOTDIR, even for root */
    check_unwritable("/dev/null/sub");
}
END_TEST

START_TEST(test_preload_unwritable_dir_full)
{
    /* a full disk: a 4 KiB tmpfs filled up.  Needs the right to mount; where
     * mount is refused (unprivileged container) there is nothing to test. */
    char dir[PATH_MAX];
    pl_mkdtemp(dir, "full");
    char cmd[PATH_MAX + 64];
    PL_FMT(cmd, "mount -t tmpfs -o size=4k tmpfs %s 2>/dev/null", dir);
    if (system(cmd) != 0) {
        rmdir(dir);
        return;  /* not allowed to mount here: nothing to test */
    }
    char fill[PATH_MAX + 64];
    PL_FMT(fill, "dd if=/dev/zero of=%s/fill bs=1k count=64 2>/dev/null", dir);
    ck_assert_int_ne(system(fill), -1);
    check_unwritable(dir);
    /* nothing but the filler is left: no .tmp */
    DIR *dh = opendir(dir);
    struct dirent *e;
    while ((e = readdir(dh)) != NULL)
        ck_assert_msg(!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                          !strcmp(e->d_name, "fill"),
                      "full disk left '%s' behind", e->d_name);
    closedir(dh);
    PL_FMT(cmd, "umount %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    rmdir(dir);
}
END_TEST

START_TEST(test_preload_constructor)
{
    /* the program's own constructor runs after libleak's */
    pl_run_t r;
    run_both(&r, "pl_ctor", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "ctor_leak", "malloc", 1, 3001, 1, 3001);
    pl_assert_site(d, "main_leak", "malloc", 1, 4011, 1, 4011);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_preinit_before_ours)
{
    /* .preinit_array runs before libleak's constructor, and before libc has
     * set environ: these blocks must be tracked all the same, and freeing
     * one later is a tracked free */
    pl_run_t r;
    run_both(&r, "pl_ctor", NULL, NULL, 0);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "preinit_leak", "malloc", 2, 2674, 2, 2674);
    pl_assert_site(d, "preinit_keep", "malloc", 0, 0, 1, 2021);
    ck_assert_int_eq(pl_int(pl_totals(d), LK_KEY_UNTRACKED_FREES), 0);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_nofp_reaches_main)
{
    pl_run_t r;
    run_both(&r, "pl_leak_nofp", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "level3", "malloc", 3, 12033, 3, 12033);
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        if (!pl_stack_has_fn(d, sid, "level3")) continue;
        ck_assert_msg(pl_stack_has_fn(d, sid, "level2"), "no frame in level2");
        ck_assert_msg(pl_stack_has_fn(d, sid, "level1"), "no frame in level1");
        ck_assert_msg(pl_stack_has_fn(d, sid, "main"), "stack does not reach main");
    }
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_dlopen_module)
{
    pl_run_t r;
    run_both(&r, "pl_dlopen", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    /* libz.so.1's range from modules[] */
    json_t *mods = pl_obj(d->root, LK_KEY_MODULES), *m;
    size_t i, j;
    uint64_t lo = 0, hi = 0;
    json_array_foreach(mods, i, m) {
        const char *p = pl_str(m, LK_KEY_PATH), *b = strrchr(p, '/');
        if (strcmp(b ? b + 1 : p, "libz.so.1") != 0) continue;
        lo = pl_hex(pl_obj(m, LK_KEY_BASE));
        hi = lo + (uint64_t)pl_int(m, LK_KEY_SIZE);
        ck_assert(json_is_string(pl_obj(m, LK_KEY_BUILD_ID)));
    }
    ck_assert_msg(hi > lo, "libz.so.1 (dlopen'ed) missing from modules[]");
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s, *f;
    int in_lib = 0;
    long long live = 0;
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        if (!pl_stack_has_fn(d, sid, "call_lib")) continue;
        int hit = 0;
        json_array_foreach(pl_obj(pl_stack(d, sid), LK_KEY_FRAMES), j, f) {
            uint64_t a = pl_hex(f) - 1;
            if (a >= lo && a < hi) hit = 1;
        }
        if (!hit) continue;  /* dlopen()'s own allocations, in ld.so */
        ck_assert_msg(pl_stack_has_fn(d, sid, "main"), "stack through libz does not reach main");
        long long tb = pl_int(s, LK_KEY_TOTAL_BLOCKS);
        ck_assert_msg(tb % 10 == 0, "site through libz: %lld blocks for 10 calls", tb);
        live += pl_int(s, LK_KEY_LIVE_BLOCKS);
        in_lib++;
    }
    ck_assert_msg(in_lib >= 1, "no site through call_lib has a frame in libz.so.1");
    ck_assert_msg(live > 0 && live % 10 == 0, "%lld live blocks from 10 kept gzdopen()s", live);
    pl_run_free(&r);
}
END_TEST

/* Copy file 'from' to 'to' with mode 0755. */
static void copy_exe(const char *from, const char *to)
{
    char *buf = NULL;
    size_t cap = 0, len = 0;
    FILE *in = fopen(from, "rb");
    ck_assert_msg(in != NULL, "open '%s': %s", from, strerror(errno));
    for (;;) {
        if (cap - len < 65536) buf = realloc(buf, cap += 1 << 20);
        size_t n = fread(buf + len, 1, cap - len, in);
        if (n == 0) break;
        len += n;
    }
    fclose(in);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    ck_assert_msg(fd >= 0, "create '%s': %s", to, strerror(errno));
    ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
    free(buf);
}

START_TEST(test_preload_exhaustion_dump)
{
    /* leak until the address space (RLIMIT_AS 256 MiB) is exhausted: the
     * exit dump is still written and tells the leak and the failure */
    char victim[PATH_MAX];
    pl_victim_path(victim, "pl_oom");
    if (access("/usr/bin/prlimit", X_OK) != 0) return;  /* util-linux absent */
    const char *const args[] = {"--as=268435456", victim, NULL};
    pl_run_t r;
    pl_run_exe(&r, "/usr/bin/prlimit", args, NULL, 1);
    pl_assert_exit(&r, 0);
    long n = 0;
    ck_assert_msg(sscanf(r.out, "leaked %ld", &n) == 1 && n > 10, "output: %s", r.out);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "grow_1mib", "malloc", n, n << 20, n, n << 20);
    int k;
    json_t *f = pl_failure(d, "grow_1mib", &k);
    ck_assert_msg(k == 1, "%d failure groups through grow_1mib", k);
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "enomem");
    ck_assert_int_eq(pl_int(f, LK_KEY_REQUEST_BYTES), 1 << 20);
    ck_assert_int_eq(pl_int(f, LK_KEY_COUNT), 1);
    ck_assert_int_ge(pl_int(f, LK_KEY_LIVE_BYTES_AT), n << 20);
    ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_LIMITS), LK_KEY_RLIMIT_AS), 268435456);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_non_utf8_names)
{
    /* Linux file names and arguments are bytes: a program in a directory
     * named in Latin-1, run with such an argument, still gets a dump with
     * process.exe, its whole cmdline and a path for every module. */
    char dir[PATH_MAX], sub[PATH_MAX + 32], exe[PATH_MAX + 64], src[PATH_MAX];
    pl_mkdtemp(dir, "names");
    PL_FMT(sub, "%s/caf\xe9 \"q\"", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    PL_FMT(exe, "%s/pl_basic\xff", sub);
    pl_victim_path(src, "pl_basic");
    copy_exe(src, exe);
    const char *const args[] = {"na\xefve\x01", "plain", NULL};
    pl_run_t r;
    pl_run_exe(&r, exe, args, NULL, 1);
    pl_rm_rf(dir);
    pl_assert_exit(&r, 0);
    ck_assert_int_eq(r.ndumps, 1);
    json_t *proc = pl_obj(r.dumps[0].root, LK_KEY_PROCESS);
    ck_assert_msg(json_is_string(json_object_get(proc, LK_KEY_EXE)),
                  "process.exe missing for a non-UTF-8 path");
    ck_assert_msg(json_array_size(json_object_get(proc, LK_KEY_CMDLINE)) == 3,
                  "process.cmdline has %zu of 3 arguments",
                  json_array_size(json_object_get(proc, LK_KEY_CMDLINE)));
    json_t *mods = pl_obj(r.dumps[0].root, LK_KEY_MODULES), *m;
    size_t i;
    json_array_foreach(mods, i, m)
        ck_assert_msg(json_is_string(json_object_get(m, LK_KEY_PATH)),
                      "modules[%zu] has no path", i);
    pl_check_all(&r);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_limits)
{
    /* run under prlimit --as=8 GiB: limits.rlimit_as_bytes says so and
     * effective_bytes is the smallest limit */
    char victim[PATH_MAX];
    pl_victim_path(victim, "pl_basic");
    if (access("/usr/bin/prlimit", X_OK) != 0) return;  /* util-linux absent */
    const char *const args[] = {"--as=8589934592", victim, NULL};
    pl_run_t r;
    pl_run_exe(&r, "/usr/bin/prlimit", args, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok 7\n");
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    ck_assert_str_eq(pl_str(pl_obj(d->root, LK_KEY_PROCESS), LK_KEY_EXE), victim);
    json_t *l = pl_obj(d->root, LK_KEY_LIMITS);
    ck_assert_int_eq(pl_int(l, LK_KEY_RLIMIT_AS), 8589934592LL);
    long long eff = pl_int(l, LK_KEY_EFFECTIVE), phys = pl_int(l, LK_KEY_PHYS);
    ck_assert_int_gt(phys, 0);
    long long want = phys < 8589934592LL ? phys : 8589934592LL;
    const char *opt[] = {LK_KEY_RLIMIT_DATA, LK_KEY_CGROUP_MAX};
    for (int k = 0; k < 2; k++) {
        json_t *v = pl_obj(l, opt[k]);
        ck_assert(json_is_null(v) || json_is_integer(v));
        if (json_is_integer(v) && json_integer_value(v) < want) want = json_integer_value(v);
    }
    ck_assert_int_eq(eff, want);
    pl_assert_site(d, "leak_1337", "malloc", 3, 4011, 3, 4011);
    pl_run_free(&r);
}
END_TEST

/* Run 'victim' and check every stack through 'leaf': not truncated, main
 * exactly once, and each function of 'fns' (NULL-terminated) on it; then the
 * leaf's site holds 'blocks' live blocks of 'bytes' bytes in all. */
static void check_vla_victim(const char *victim, const char *leaf, const char *const *fns,
                             long long blocks, long long bytes)
{
    pl_run_t r;
    run_both(&r, victim, NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        if (!pl_stack_has_fn(d, sid, leaf)) continue;
        json_t *st = pl_stack(d, sid);
        char *frames = json_dumps(pl_obj(st, LK_KEY_FRAMES), JSON_COMPACT);
        int in_main = pl_stack_count_fn(d, sid, "main");
        int bad = pl_bool(st, LK_KEY_TRUNCATED) || in_main != 1;
        for (const char *const *fn = fns; *fn != NULL; fn++)
            bad = bad || !pl_stack_has_fn(d, sid, *fn);
        ck_assert_msg(!bad, "wrong stack for %s (truncated %d, %d frames in main): %s", leaf,
                      pl_bool(st, LK_KEY_TRUNCATED), in_main, frames);
        free(frames);
    }
    pl_assert_site(d, leaf, "malloc", blocks, bytes, blocks, bytes);
    pl_run_free(&r);
}

START_TEST(test_preload_variable_frame)
{
    static const char *const fns[] = { "varframe", NULL };
    check_vla_victim("pl_vla", "leaf_vla", fns, 2, 2674);
}
END_TEST

START_TEST(test_preload_variable_frame_nofp)
{
    static const char *const fns[] = { "vla_outer", "clobber", NULL };
    check_vla_victim("pl_vla_nofp", "leaf_nofp", fns, 4, 4 * 1337);
}
END_TEST

START_TEST(test_preload_signal_handler_stack)
{
    pl_run_t r;
    run_both(&r, "pl_sighandler", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_agg_t all = pl_sites(d, "leaf_sig", "malloc");
    ck_assert_int_eq(all.nsites, 2);
    ck_assert_int_eq(all.live_blocks, 4);
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    int seen_direct = 0, seen_other = 0;
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        if (!pl_stack_has_fn(d, sid, "leaf_sig")) continue;
        ck_assert_msg(pl_stack_has_fn(d, sid, "on_usr2") && pl_stack_has_fn(d, sid, "raiser") &&
                          pl_stack_has_fn(d, sid, "main"),
                      "stack through the signal handler does not reach raiser and main");
        ck_assert_int_eq(pl_stack_count_fn(d, sid, "main"), 1);
        if (pl_stack_has_fn(d, sid, "other_raiser")) {
            seen_other++;
            ck_assert_int_eq(pl_int(s, LK_KEY_LIVE_BLOCKS), 1);
        } else {
            seen_direct++;
            ck_assert_int_eq(pl_int(s, LK_KEY_LIVE_BLOCKS), 3);
        }
    }
    ck_assert_int_eq(seen_direct, 1);
    ck_assert_int_eq(seen_other, 1);
    pl_run_free(&r);
}
END_TEST

/* libleak.so exports sigprocmask (libunwind's calls inside libleak's unwinds
 * are virtual): the program's calls must behave as without it, and the mask
 * must be the program's after every allocation, also the ones whose stack
 * libleak walked with libunwind while SIGALRM kept arriving.  libunwind is
 * loaded late, by the dumper thread, when a stack first needs it, which a
 * run this short may end before: LIBLEAK_FAST_UNWIND=0 has every stack
 * walked by libunwind. */
START_TEST(test_preload_sigprocmask_unchanged)
{
    pl_run_t r;
    const char *const env[] = {"LIBLEAK_FAST_UNWIND=0", NULL};
    run_both(&r, "pl_sigmask", NULL, env, 0);
    ck_assert_str_eq(r.out, "block: rc 0, old has SIGUSR2 0\n"
                            "query: rc 0, SIGUSR2 blocked 1\n"
                            "unblock: rc 0, SIGUSR2 blocked 0\n"
                            "bad how: rc -1, EINVAL 1\n"
                            "errno kept: rc 0, 1\n"
                            "ok\n");
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_agg_t a = pl_sites(d, "path_leaf", "malloc");
    ck_assert_int_eq(a.live_blocks, 64);
    ck_assert_int_eq(a.live_bytes, 64 * 100 + 63 * 64 / 2);
    ck_assert_int_ge(pl_int(pl_obj(d->root, LK_KEY_COST), LK_KEY_UNWINDS_FALLBACK), 64);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_similar_paths_distinct)
{
    pl_run_t r;
    run_both(&r, "pl_memo", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_agg_t all = pl_sites(d, "leaf_memo", "malloc");
    ck_assert_msg(all.nsites == 4 && all.live_blocks == 800,
                  "%d sites / %lld blocks through leaf_memo, expected 4 / 800", all.nsites,
                  all.live_blocks);
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    int seen[4] = {0, 0, 0, 0};
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        if (!pl_stack_has_fn(d, sid, "leaf_memo")) continue;
        int a = pl_stack_has_fn(d, sid, "path_a"), b = pl_stack_has_fn(d, sid, "path_b");
        int va = pl_stack_has_fn(d, sid, "via_a"), vb = pl_stack_has_fn(d, sid, "via_b");
        ck_assert_msg(a + b == 1 && !(va && !a) && !(vb && !b),
                      "mixed-up stack: path_a %d path_b %d via_a %d via_b %d", a, b, va, vb);
        ck_assert_int_eq(pl_int(s, LK_KEY_LIVE_BLOCKS), 200);
        seen[(b ? 1 : 0) + ((va || vb) ? 2 : 0)]++;
    }
    for (int k = 0; k < 4; k++) ck_assert_msg(seen[k] == 1, "path %d seen %d times", k, seen[k]);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_foreign_stacks)
{
    pl_run_t r;
    run_both(&r, "pl_coro", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "co_a_leaf", "malloc", 100, 133700, 100, 133700);
    pl_assert_site(d, "co_b_leaf", "malloc", 100, 202100, 100, 202100);
    pl_assert_site(d, "thread_leaf", "malloc", 50, 150050, 50, 150050);
    const char *pairs[3][2] = {{"co_a_leaf", "co_a"}, {"co_b_leaf", "co_b"},
                               {"thread_leaf", "own_stack_thread"}};
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        for (int k = 0; k < 3; k++)
            if (pl_stack_has_fn(d, sid, pairs[k][0]))
                ck_assert_msg(pl_stack_has_fn(d, sid, pairs[k][1]), "stack through %s misses %s",
                              pairs[k][0], pairs[k][1]);
    }
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_foreign_stack_with_stray_rbp)
{
    /* A coroutine entered with rbp at an inaccessible page above its stack:
     * the walk memo's caller hint follows the rbp chain in frame-pointer
     * code, and once read that page (SIGSEGV in the program).  Off the
     * thread's own stack, neither the memo nor the hint is used. */
    pl_run_t r;
    run_both(&r, "pl_coro_rbp", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    /* two sites: leaf() from main, and from the coroutine through co_entry */
    pl_agg_t a = pl_sites(d, "leaf", "malloc");
    ck_assert_int_eq(a.nsites, 2);
    ck_assert_int_eq(a.live_blocks, 2);
    ck_assert_int_eq(a.live_bytes, 8642);
    pl_agg_t co = pl_sites(d, "co_entry", "malloc");
    ck_assert_int_eq(co.live_blocks, 1);
    pl_run_free(&r);
}
END_TEST

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

START_TEST(test_preload_many_sites)
{
    pl_run_t r;
    run_both(&r, "pl_manysites", NULL, NULL, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    long long ids[2048], bytes = 0, want = 0;
    int n = 0;
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        if (!pl_stack_has_fn(d, sid, "bt_leaf")) continue;
        ck_assert_int_lt(n, 2048);
        ck_assert_str_eq(pl_str(s, LK_KEY_FAMILY), "malloc");
        ck_assert_int_eq(pl_int(s, LK_KEY_LIVE_BLOCKS), 2);
        ck_assert_int_eq(pl_int(s, LK_KEY_TOTAL_BLOCKS), 2);
        long long req = pl_int(s, LK_KEY_MAX_REQUEST);
        ck_assert(req >= 1000 && req <= 1006);
        ck_assert_int_eq(pl_int(s, LK_KEY_LIVE_BYTES), 2 * req);
        ck_assert(!pl_bool(pl_stack(d, sid), LK_KEY_TRUNCATED));
        bytes += pl_int(s, LK_KEY_LIVE_BYTES);
        ids[n++] = sid;
    }
    ck_assert_msg(n == 1024, "%d sites through bt_leaf, expected 1024", n);
    qsort(ids, (size_t)n, sizeof ids[0], cmp_ll);
    for (int k = 1; k < n; k++) ck_assert_msg(ids[k] != ids[k - 1], "two sites share a stack");
    for (int k = 0; k < 1024; k++) want += 2 * (1000 + k % 7);
    ck_assert_int_eq(bytes, want);
    /* distinct stacks have distinct frames: compare as JSON text */
    json_t *seen = json_object();
    json_array_foreach(sites, i, s) {
        long long sid = pl_int(s, LK_KEY_STACK);
        if (!pl_stack_has_fn(d, sid, "bt_leaf")) continue;
        char *txt = json_dumps(pl_obj(pl_stack(d, sid), LK_KEY_FRAMES), JSON_COMPACT);
        ck_assert_msg(json_object_get(seen, txt) == NULL, "two stacks with the same frames");
        json_object_set_new(seen, txt, json_true());
        free(txt);
    }
    json_decref(seen);
    pl_run_free(&r);
}
END_TEST

static Suite *preload_basic_suite(void)
{
    Suite *s = suite_create("preload_basic");
    TCase *tc = pl_tcase("alloc");
    tcase_add_test(tc, test_preload_malloc_leak);
    tcase_add_test(tc, test_preload_free_null_not_counted);
    tcase_add_test(tc, test_preload_million_blocks);
    tcase_add_test(tc, test_preload_every_hook_takes_the_fast_walk);
    tcase_add_test(tc, test_preload_realloc);
    tcase_add_test(tc, test_preload_aligned);
    tcase_add_test(tc, test_preload_failures);
    tcase_add_test(tc, test_preload_unknown_free);
    tcase_add_test(tc, test_preload_errno_preserved);
    suite_add_tcase(s, tc);

    tc = pl_tcase("files");
    tcase_add_test(tc, test_preload_dump_files);
    tcase_add_test(tc, test_preload_unwritable_dir_missing);
    tcase_add_test(tc, test_preload_unwritable_dir_file);
    tcase_add_test(tc, test_preload_unwritable_dir_full);
    tcase_add_test(tc, test_preload_limits);
    tcase_add_test(tc, test_preload_non_utf8_names);
    tcase_add_test(tc, test_preload_exhaustion_dump);
    suite_add_tcase(s, tc);

    tc = pl_tcase("config");
    tcase_add_test(tc, test_preload_depth_default);
    tcase_add_test(tc, test_preload_depth_truncated);
    tcase_add_test(tc, test_preload_bad_env_value);
    tcase_add_test(tc, test_preload_bad_env_out_of_range);
    tcase_add_test(tc, test_preload_config_recorded);
    tcase_add_test(tc, test_preload_quiet);
    tcase_add_test(tc, test_preload_default_dir_is_cwd);
    tcase_add_test(tc, test_preload_relative_dir_after_chdir);
    suite_add_tcase(s, tc);

    tc = pl_tcase("stacks");
    tcase_add_test(tc, test_preload_constructor);
    tcase_add_test(tc, test_preload_preinit_before_ours);
    tcase_add_test(tc, test_preload_nofp_reaches_main);
    tcase_add_test(tc, test_preload_dlopen_module);
    tcase_add_test(tc, test_preload_many_sites);
    tcase_add_test(tc, test_preload_variable_frame);
    tcase_add_test(tc, test_preload_variable_frame_nofp);
    tcase_add_test(tc, test_preload_signal_handler_stack);
    tcase_add_test(tc, test_preload_sigprocmask_unchanged);
    tcase_add_test(tc, test_preload_similar_paths_distinct);
    tcase_add_test(tc, test_preload_foreign_stacks);
    tcase_add_test(tc, test_preload_foreign_stack_with_stray_rbp);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(preload_basic_suite)
