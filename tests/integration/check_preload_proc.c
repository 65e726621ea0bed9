/* check_preload_proc.c - end-to-end tests of libleak.so across threads and
 * processes: 8 churning threads with exact totals, fork (one dump per pid,
 * inherited blocks kept), vfork+exec / posix_spawn / vfork+_exit children,
 * and the final dump on return, exit(), _exit() and _Exit(). */
#include "preload_helpers.h"

START_TEST(test_preload_threads)
{
    pl_run_t r;
    pl_run(&r, "pl_threads", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok\n");
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    ck_assert(pl_bool(pl_totals(d), LK_KEY_COMPLETE));
    pl_assert_site(d, "leak_3001", "malloc", 36, 36 * 3001, 36, 36 * 3001);
    long long churn_bytes = 0;
    for (int i = 0; i < 20000; i++) churn_bytes += 48 + i % 16;
    pl_assert_site(d, "churn_one", "malloc", 0, 0, 8 * 20000, 8 * churn_bytes);
    pl_assert_site(d, "handoff", "malloc", 0, 0, 4000, 4000 * 777);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_threads_realloc)
{
    pl_run_t r;
    pl_run(&r, "pl_mt_realloc", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    ck_assert(pl_bool(pl_totals(d), LK_KEY_COMPLETE));
    const long long n = 8 * 10000;
    pl_assert_site(d, "mt_alloc", "malloc", 0, 0, n, 16 * n);
    pl_assert_site(d, "mt_grow", "malloc", 0, 0, n, 100 * n);
    pl_assert_site(d, "mt_big", "malloc", 0, 0, n, 4000 * n);
    pl_assert_site(d, "mt_calloc", "malloc", 0, 0, n, 99 * n);
    pl_assert_site(d, "mt_align", "malloc", 0, 0, n, 640 * n);
    pl_assert_site(d, "mt_keep", "malloc", 8, 8 * 2345, 8, 8 * 2345);
    ck_assert_int_eq(pl_int(pl_totals(d), LK_KEY_UNTRACKED_FREES), 0);
    pl_run_free(&r);
}
END_TEST

/* Run the analyzer on dump 'd' of run 'r': a dump libleak wrote must load
 * (exit 0 or 1), never be rejected as bad input (2). */
static void assert_analyzer_loads(pl_run_t *r, pl_dump_t *d)
{
    char an[PATH_MAX], cmd[3 * PATH_MAX];
    pl_artifact(an, "leak-analyze");
    PL_FMT(cmd, "'%s' '%s/%s' >/dev/null 2>&1", an, r->dir, d->name);
    int st = system(cmd);
    PL_REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "%s: leak-analyze rejects it (status %d)",
               d->name, st);
}

START_TEST(test_preload_cross_thread_free_and_realloc)
{
    /* several runs: the fold order of the two threads' deltas varies */
    for (int run = 0; run < 3; run++) {
        pl_run_t r;
        pl_run(&r, "xthread_free", NULL, NULL, 1);
        pl_assert_exit(&r, 0);
        ck_assert_str_eq(r.out, "ok\n");
        pl_check_all(&r);
        pl_dump_t *d = pl_exit_dump(&r);
        json_t *t = pl_totals(d);
        ck_assert(pl_bool(t, LK_KEY_COMPLETE));
        pl_assert_site(d, "xt_shared", "malloc", 0, 0, 40000, 40000 * 100);
        pl_assert_site(d, "xt_grow", "malloc", 0, 0, 20000, 20000 * 200);
        pl_assert_site(d, "xt_batch", "malloc", 0, 0, 300, 300 * 4096);
        pl_assert_site(d, "xt_keep", "malloc", 100, 6400, 100, 6400);
        pl_assert_site(d, "xt_rsrc", "malloc", 0, 0, 200, 6400);
        pl_assert_site(d, "xt_rdst", "malloc", 100, 4800, 200, 9600);
        /* each phase-2 site's peak is known: its steps never overlap */
        ck_assert_int_eq(pl_sites(d, "xt_batch", "malloc").peak_live_bytes, 300 * 4096);
        ck_assert_int_eq(pl_sites(d, "xt_keep", "malloc").peak_live_bytes, 6400);
        ck_assert_int_eq(pl_sites(d, "xt_rsrc", "malloc").peak_live_bytes, 6400);
        ck_assert_int_eq(pl_sites(d, "xt_rdst", "malloc").peak_live_bytes, 9600);
        /* the concurrent sites: at most 64 blocks in the ring and one in each
         * thread's hands; never wrapped */
        pl_agg_t sh = pl_sites(d, "xt_shared", "malloc"), gr = pl_sites(d, "xt_grow", "malloc");
        PL_REQUIRE(sh.peak_live_bytes >= 100 && sh.peak_live_bytes <= 66 * 100,
                   "xt_shared peak %lld", sh.peak_live_bytes);
        PL_REQUIRE(gr.peak_live_bytes >= 200 && gr.peak_live_bytes <= 66 * 200,
                   "xt_grow peak %lld", gr.peak_live_bytes);
        long long peak = pl_int(t, LK_KEY_PEAK_LIVE_BYTES);
        PL_REQUIRE(peak >= 300 * 4096 && peak >= pl_int(t, LK_KEY_LIVE_BYTES) &&
                       peak <= pl_int(t, LK_KEY_ALLOC_BYTES),
                   "totals.peak_live_bytes %lld out of [%d, alloc_bytes %lld]", peak, 300 * 4096,
                   pl_int(t, LK_KEY_ALLOC_BYTES));
        for (int i = 0; i < r.ndumps; i++)
            assert_analyzer_loads(&r, &r.dumps[i]);
        pl_run_free(&r);
    }
}
END_TEST

START_TEST(test_preload_fork_during_interval_dumps)
{
    /* the dumper thread writes a dump every millisecond while main forks
     * and 4 threads allocate: no child may inherit a held lock */
    const char *const env[] = {"LIBLEAK_INTERVAL_MS=1", NULL};
    pl_run_t r;
    pl_run(&r, "pl_forkchurn", NULL, env, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok 20\n");
    pl_check_all(&r);
    int exits = 0;
    for (int i = 0; i < r.ndumps; i++)
        if (!strcmp(r.dumps[i].trigger, "exit")) exits++;
    ck_assert_int_eq(exits, 21);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_fork)
{
    pl_run_t r;
    pl_run(&r, "pl_fork", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    long child = 0;
    ck_assert_msg(sscanf(r.out, "child %ld", &child) == 1, "output: %s", r.out);
    pl_check_all(&r);
    ck_assert_msg(r.ndumps == 2, "expected 2 dumps (parent, child), found %d", r.ndumps);
    pl_dump_t *p = pl_exit_dump(&r);
    pl_dump_t *c = pl_dump_of(&r, child, "exit");
    ck_assert_int_eq(p->seq, 0);
    ck_assert_int_eq(c->seq, 0);
    ck_assert_int_eq(pl_int(pl_obj(c->root, LK_KEY_PROCESS), LK_KEY_PPID), r.pid);

    pl_assert_site(p, "before_fork", "malloc", 2, 2674, 2, 2674);
    pl_assert_site(p, "parent_leak", "malloc", 1, 3331, 1, 3331);
    pl_assert_no_site(p, "child_leak");

    /* the child's dump: its own sites only, the inherited block counted */
    pl_assert_no_site(c, "before_fork");
    pl_assert_site(c, "child_leak", "malloc", 2, 4098, 2, 4098);
    pl_assert_site(c, "child_again", "malloc", 1, 1000, 1, 1000);
    pl_assert_no_site(c, "parent_leak");
    json_t *ct = pl_totals(c);
    ck_assert_int_eq(pl_int(ct, LK_KEY_INHERITED_FROM), r.pid);
    ck_assert_int_eq(pl_int(ct, LK_KEY_INHERITED_BLOCKS), 1);
    ck_assert_int_eq(pl_int(ct, LK_KEY_INHERITED_BYTES), 1337);
    ck_assert_int_eq(pl_int(ct, LK_KEY_LIVE_BLOCKS), 3);
    PL_REQUIRE(json_object_get(pl_totals(p), LK_KEY_INHERITED_BLOCKS) == NULL,
               "the parent has inherited blocks");
    /* its stacks: those of its own sites, not the parent's table */
    ck_assert_int_eq(json_array_size(pl_obj(c->root, LK_KEY_STACKS)), 2);
    /* its scan classifies the child's three blocks only: the inherited one
     * is no leak of the child (it holds child_again's block, as a root) */
    json_t *reach = pl_obj(c->root, LK_KEY_REACH), *e;
    ck_assert_int_eq(pl_int(reach, LK_KEY_LIVE_BLOCKS), 3);
    ck_assert_int_eq(pl_int(reach, LK_KEY_LIVE_BYTES), 5098);
    size_t i;
    json_array_foreach(pl_obj(reach, LK_KEY_SITES), i, e)
        pl_stack(c, pl_int(e, LK_KEY_STACK));
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_vfork_spawn)
{
    pl_run_t r;
    pl_run(&r, "pl_spawn", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    long a = 0, b = 0, c = 0;
    ck_assert_msg(sscanf(r.out, "exec %ld\nspawn %ld\nvforkexit %ld", &a, &b, &c) == 3,
                  "output: %s", r.out);
    pl_check_all(&r);
    pl_dump_t *p = pl_exit_dump(&r);
    pl_assert_site(p, "parent_leak", "malloc", 1, 1337, 1, 1337);
    pl_assert_site(p, "churn", "malloc", 0, 0, 10, 20210);
    pl_assert_no_site(p, "child_leak");
    ck_assert_int_eq(pl_count_dumps(&r, r.pid), 1);

    pl_dump_t *ea = pl_dump_of(&r, a, "exit");
    pl_assert_site(ea, "child_leak", "malloc", 1, 777, 1, 777);
    pl_assert_no_site(ea, "parent_leak");
    pl_dump_t *eb = pl_dump_of(&r, b, "exit");
    pl_assert_site(eb, "child_leak", "malloc", 1, 777, 1, 777);
    pl_assert_no_site(eb, "parent_leak");
    ck_assert_msg(pl_count_dumps(&r, c) == 0, "the vfork child that called _exit wrote a dump");
    ck_assert_int_eq(r.ndumps, 3);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_fork_while_threads_allocate)
{
    pl_run_t r;
    pl_run(&r, "pl_forkchurn", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok 20\n");
    pl_check_all(&r);
    ck_assert_int_eq(r.ndumps, 21);
    int children = 0;
    for (int i = 0; i < r.ndumps; i++) {
        pl_dump_t *d = &r.dumps[i];
        ck_assert_str_eq(d->trigger, "exit");
        if (d->pid == (long)r.pid) continue;
        children++;
        ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_PROCESS), LK_KEY_PPID), r.pid);
        pl_assert_site(d, "child_leak", "malloc", 1, 777, 1, 777);
    }
    ck_assert_int_eq(children, 20);
    pl_assert_no_site(pl_exit_dump(&r), "child_leak");
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_exit_while_threads_allocate)
{
    /* the exit dump runs while detached threads are still in the hooks */
    for (int round = 0; round < 5; round++) {
        pl_run_t r;
        pl_run(&r, "pl_exit_busy", NULL, NULL, 1);
        pl_assert_exit(&r, 0);
        ck_assert_str_eq(r.out, "ok\n");
        pl_check_all(&r);
        ck_assert_int_eq(r.ndumps, 1);
        pl_dump_t *d = pl_exit_dump(&r);
        pl_agg_t a = pl_sites(d, "busy_leak", "malloc");
        ck_assert_int_eq(a.nsites, 1);
        ck_assert_int_eq(a.live_blocks, 4);
        ck_assert_int_eq(a.live_bytes, 4 * 1337);
        pl_run_free(&r);
    }
}
END_TEST

/* Run pl_exit_in_handler 20 times; each run must end with status 0 and
 * either its exit dump or, when the handler interrupted a marked call, no
 * dump and one warning.  Returns how many runs wrote the dump. */
static int exit_in_handler_rounds(const char *const *args, const char *const *env)
{
    int dumped = 0;
    for (int round = 0; round < 20; round++) {
        pl_run_t r;
        pl_run(&r, "pl_exit_in_handler", args, env, 1);
        pl_assert_exit(&r, 0);
        pl_check_all(&r);
        if (r.ndumps == 0) {
            ck_assert_ptr_nonnull(strstr(r.err, "exiting from inside an allocation call"));
        } else {
            ck_assert_int_eq(r.ndumps, 1);
            ck_assert_ptr_nonnull(pl_exit_dump(&r));
            dumped++;
        }
        pl_run_free(&r);
    }
    return dumped;
}

START_TEST(test_preload_exit_from_signal_handler_in_hook)
{
    /* _exit from a signal handler that interrupted malloc or free: the hook
     * may hold a table lock; the process must end (no exit dump then, one
     * warning), never hang.  The signal lands in a hook most of the time. */
    ck_assert_int_lt(exit_in_handler_rounds(NULL, NULL), 20);  /* the case under test did happen */
}
END_TEST

START_TEST(test_preload_exit_from_signal_handler_in_sampled_malloc)
{
    /* Sampling: the fast paths tail-call the real malloc and free unmarked,
     * so a handler's _exit often lands inside them, arena lock held ("big"
     * blocks bypass the tcache).  The exit dump must still be written, from
     * the exit arena, and never wait for that lock (it hangs without it).
     * 1 GiB between samples: no call is sampled in these 2 ms, but a free
     * in a table shard that holds a block sampled at start-up takes the
     * full hook, and a signal in its table work (guard set) means no dump
     * and one warning, now and then. */
    static const char *const args[] = { "big", NULL };
    static const char *const env[] = { "LIBLEAK_SAMPLE_BYTES=1073741824", NULL };
    /* 60 of 60 rounds here (39 of 40 while a marked real call outside the
     * hooks still stopped the dump); marking the fast paths again gives
     * about none */
    ck_assert_int_ge(exit_in_handler_rounds(args, env), 10);
}
END_TEST

START_TEST(test_preload_exec_same_pid)
{
    pl_run_t r;
    pl_run(&r, "pl_exec", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok\n");
    pl_check_all(&r);
    pl_dump_t *before = NULL, *after = NULL;
    for (int i = 0; i < r.ndumps; i++) {
        pl_dump_t *d = &r.dumps[i];
        ck_assert_int_eq(d->pid, r.pid);
        if (strcmp(d->trigger, "api") != 0) continue;
        json_t *l = pl_obj(pl_obj(d->root, LK_KEY_DUMP), LK_KEY_LABEL);
        if (json_is_string(l) && !strcmp(json_string_value(l), "before")) before = d;
        if (json_is_string(l) && !strcmp(json_string_value(l), "after")) after = d;
    }
    ck_assert_msg(before != NULL, "the snapshot taken before exec is gone (overwritten by the "
                  "new image's dump of the same pid and seq?): %d dumps", r.ndumps);
    ck_assert_msg(after != NULL, "no snapshot from after exec");
    pl_assert_site(before, "before_exec", "malloc", 1, 1337, 1, 1337);
    pl_assert_no_site(before, "after_exec");
    pl_assert_site(after, "after_exec", "malloc", 1, 2021, 1, 2021);
    pl_assert_no_site(after, "before_exec");
    pl_dump_t *e = pl_exit_dump(&r);
    pl_assert_site(e, "after_exec", "malloc", 1, 2021, 1, 2021);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_main_pthread_exit)
{
    pl_run_t r;
    pl_run(&r, "pl_pthread_exit", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok\n");
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "worker_leak", "malloc", 1, 1337, 1, 1337);
    pl_assert_site(d, "main_leak", "malloc", 1, 2021, 1, 2021);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_reused_pid_names)
{
    /* pl_stale plants an old dump and a stale .tmp under its own pid */
    pl_run_t r;
    pl_run(&r, "pl_stale", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok\n");
    char old[PATH_MAX + 64];
    PL_FMT(old, "%s/libleak.%ld.0.exit.json", r.dir, (long)r.pid);
    char *text = pl_slurp(old);
    ck_assert_msg(!strcmp(text, "old"), "the earlier process's dump was overwritten");
    free(text);
    pl_dump_t *mine = NULL;
    for (int i = 0; i < r.ndumps; i++)
        if (r.dumps[i].root && r.dumps[i].pid == (long)r.pid) mine = &r.dumps[i];
    ck_assert_msg(mine != NULL, "no dump written beside the earlier process's files; stderr:\n%s",
                  r.err);
    pl_check_dump(mine);
    ck_assert_str_eq(mine->trigger, "exit");
    pl_assert_site(mine, "leak_1337", "malloc", 1, 1337, 1, 1337);
    pl_run_free(&r);
}
END_TEST

/* Run pl_exit ending by 'how': status 5, "bye", one exit dump with the leak. */
static void check_exit(const char *how)
{
    const char *const args[] = {how, NULL};
    pl_run_t r;
    pl_run(&r, "pl_exit", args, NULL, 1);
    pl_assert_exit(&r, 5);
    ck_assert_str_eq(r.out, "bye\n");
    pl_check_all(&r);
    ck_assert_int_eq(r.ndumps, 1);
    pl_assert_site(pl_exit_dump(&r), "leak_1337", "malloc", 1, 1337, 1, 1337);
    pl_run_free(&r);
}

START_TEST(test_preload_exit_return) { check_exit("return"); }
END_TEST
START_TEST(test_preload_exit_exit) { check_exit("exit"); }
END_TEST
START_TEST(test_preload_exit__exit) { check_exit("_exit"); }
END_TEST
START_TEST(test_preload_exit__Exit) { check_exit("_Exit"); }
END_TEST

static Suite *preload_proc_suite(void)
{
    Suite *s = suite_create("preload_proc");
    TCase *tc = pl_tcase("threads");
    tcase_add_test(tc, test_preload_threads);
    tcase_add_test(tc, test_preload_threads_realloc);
    suite_add_tcase(s, tc);

    tc = pl_tcase("cross_thread");
    tcase_add_test(tc, test_preload_cross_thread_free_and_realloc);
    suite_add_tcase(s, tc);

    tc = pl_tcase("process");
    tcase_add_test(tc, test_preload_fork);
    tcase_add_test(tc, test_preload_vfork_spawn);
    tcase_add_test(tc, test_preload_fork_while_threads_allocate);
    tcase_add_test(tc, test_preload_fork_during_interval_dumps);
    tcase_add_test(tc, test_preload_exit_while_threads_allocate);
    tcase_add_test(tc, test_preload_exit_from_signal_handler_in_hook);
    tcase_add_test(tc, test_preload_exit_from_signal_handler_in_sampled_malloc);
    tcase_add_test(tc, test_preload_exec_same_pid);
    tcase_add_test(tc, test_preload_main_pthread_exit);
    tcase_add_test(tc, test_preload_reused_pid_names);
    tcase_add_test(tc, test_preload_exit_return);
    tcase_add_test(tc, test_preload_exit_exit);
    tcase_add_test(tc, test_preload_exit__exit);
    tcase_add_test(tc, test_preload_exit__Exit);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(preload_proc_suite)
