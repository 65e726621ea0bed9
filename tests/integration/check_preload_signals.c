/* check_preload_signals.c - end-to-end tests of libleak.so and signals: a
 * crash (SIGSEGV, abort) leaves a crash dump and ends exactly as natively,
 * bounded even while other threads allocate or when the signal lands in
 * malloc; the program sees its own dispositions (handler, flags, mask,
 * SA_RESETHAND, inherited SIG_IGN); fault signals are refused as the
 * snapshot signal; a terminating snapshot signal snapshots, then kills. */
#include <sys/resource.h>

#include "preload_helpers.h"

/* Fail unless 'r' ended as 'bare' did: same exit code or same signal,
 * same core flag. */
static void assert_same_end(const pl_run_t *bare, const pl_run_t *r)
{
    PL_REQUIRE(WIFSIGNALED(bare->status) == WIFSIGNALED(r->status) &&
                   (WIFSIGNALED(r->status) ? WTERMSIG(bare->status) == WTERMSIG(r->status) &&
                                                 WCOREDUMP(bare->status) == WCOREDUMP(r->status)
                                           : WEXITSTATUS(bare->status) == WEXITSTATUS(r->status)),
               "%s: natively status 0x%x, under libleak 0x%x; stderr:\n%s", r->exe,
               (unsigned)bare->status, (unsigned)r->status, r->err);
}

/* Return the stack id of the dump's crash, checking signal and tid. */
static long long crash_stack(pl_dump_t *d, int sig, int main_thread)
{
    json_t *c = pl_obj(d->root, LK_KEY_CRASH);
    ck_assert_int_eq(pl_int(c, LK_KEY_CRASH_SIGNAL), sig);
    long long tid = pl_int(c, LK_KEY_CRASH_TID);
    PL_REQUIRE(main_thread ? tid == d->pid : tid != d->pid, "%s: crash.tid %lld, pid %ld",
               d->name, tid, d->pid);
    return pl_int(c, LK_KEY_CRASH_STACK);
}

/* Run a victim natively and under the preload with the same arguments. */
static void run_both(pl_run_t *bare, pl_run_t *r, const char *name, const char *const *args,
                     const char *const *env)
{
    pl_run(bare, name, args, NULL, 0);
    pl_run(r, name, args, env, 1);
}

START_TEST(test_crash_segv_dump)
{
    pl_run_t bare, r;
    run_both(&bare, &r, "crash_segv", NULL, NULL);
    ck_assert_msg(WIFSIGNALED(bare.status) && WTERMSIG(bare.status) == SIGSEGV,
                  "crash_segv did not die of SIGSEGV natively");
    assert_same_end(&bare, &r);
    ck_assert_str_eq(r.out, bare.out);
    pl_check_all(&r);
    pl_dump_t *d = pl_dump_of(&r, r.pid, "crash");
    long long sid = crash_stack(d, SIGSEGV, 1);
    ck_assert_msg(pl_stack_has_fn(d, sid, "crash_here") && pl_stack_has_fn(d, sid, "main"),
                  "%s: the crash stack misses crash_here or main", d->name);
    json_t *c = pl_obj(d->root, LK_KEY_CRASH);
    ck_assert_msg(pl_hex(pl_obj(c, LK_KEY_CRASH_ADDRESS)) == 0, "%s: fault address", d->name);
    pl_assert_site(d, "leak_segv", "malloc", 3, 3000, 3, 3000);
    ck_assert_int_eq(pl_count_dumps(&r, r.pid), 1);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_crash_abort_dump)
{
    pl_run_t bare, r;
    run_both(&bare, &r, "crash_abort", NULL, NULL);
    ck_assert_msg(WIFSIGNALED(bare.status) && WTERMSIG(bare.status) == SIGABRT,
                  "crash_abort did not die of SIGABRT natively");
    assert_same_end(&bare, &r);
    ck_assert_str_eq(r.out, bare.out);
    pl_check_all(&r);
    pl_dump_t *d = pl_dump_of(&r, r.pid, "crash");
    long long sid = crash_stack(d, SIGABRT, 1);
    ck_assert_msg(pl_stack_has_fn(d, sid, "abort_here") && pl_stack_has_fn(d, sid, "main"),
                  "%s: the crash stack misses abort_here or main", d->name);
    ck_assert_msg(json_is_null(pl_obj(pl_obj(d->root, LK_KEY_CRASH), LK_KEY_CRASH_ADDRESS)),
                  "%s: abort has no fault address", d->name);
    pl_assert_site(d, "leak_abort", "malloc", 2, 1554, 2, 1554);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

/* With core dumps on, the crash still dumps core, as natively (where the
 * kernel writes cores into the working directory: the dump directory here). */
START_TEST(test_crash_core_flag)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    getrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_CORE, &rl);
    const char *const env[] = {"-LIBLEAK_DIR", NULL};
    pl_run_t bare, r;
    pl_run(&bare, "crash_segv", NULL, env, 0);
    pl_run(&r, "crash_segv", NULL, env, 1);
    ck_assert_msg(WIFSIGNALED(bare.status) && WTERMSIG(bare.status) == SIGSEGV,
                  "crash_segv did not die of SIGSEGV natively");
    assert_same_end(&bare, &r);
    if (!WCOREDUMP(bare.status))
        fprintf(stderr, "test_crash_core_flag: no core natively here (RLIMIT_CORE, "
                "core_pattern): only the status was compared\n");
    pl_dump_of(&r, r.pid, "crash");
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

/* glibc's free() aborts on a bad pointer from inside the allocator, under
 * libleak's free hook: the crash stack still reaches the program, without
 * libleak's frames. */
START_TEST(test_crash_abort_in_free)
{
    const char *const args[] = {"badfree", NULL};
    pl_run_t bare, r;
    run_both(&bare, &r, "crash_abort", args, NULL);
    ck_assert_msg(WIFSIGNALED(bare.status) && WTERMSIG(bare.status) == SIGABRT,
                  "crash_abort badfree did not die of SIGABRT natively");
    assert_same_end(&bare, &r);
    pl_check_all(&r);
    pl_dump_t *d = pl_dump_of(&r, r.pid, "crash");
    long long sid = crash_stack(d, SIGABRT, 1);
    ck_assert_msg(pl_stack_has_fn(d, sid, "badfree_here") && pl_stack_has_fn(d, sid, "main"),
                  "%s: the crash stack misses badfree_here or main", d->name);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

/* The program's own handlers of fault signals run as before: no crash dump. */
START_TEST(test_crash_program_handler)
{
    const char *const args[] = {"handler", NULL};
    pl_run_t bare, r;
    run_both(&bare, &r, "crash_segv", args, NULL);
    pl_assert_exit(&bare, 3);
    assert_same_end(&bare, &r);
    ck_assert_str_eq(r.out, "leaked\ncaught 11\n");
    pl_check_all(&r);
    pl_exit_dump(&r);
    pl_run_free(&bare);
    pl_run_free(&r);
    /* abort() with a handler that returns still dies of SIGABRT */
    run_both(&bare, &r, "crash_abort", args, NULL);
    assert_same_end(&bare, &r);
    ck_assert_str_eq(r.out, bare.out);
    ck_assert_str_eq(r.out, "leaked\nhandler 6\n");
    pl_check_all(&r);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

/* A crash in one thread while four others churn the allocator: the dump is
 * written, and the process dies of SIGSEGV. */
START_TEST(test_crash_thread_while_allocating)
{
    const char *const args[] = {"thread", NULL};
    setenv("LIBLEAK_TEST_HANG_S", "60", 1);
    pl_run_t r;
    pl_run(&r, "crash_segv", args, NULL, 1);
    ck_assert_msg(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSEGV,
                  "status 0x%x, stderr:\n%s", (unsigned)r.status, r.err);
    pl_check_all(&r);
    pl_dump_t *d = pl_dump_of(&r, r.pid, "crash");
    long long sid = crash_stack(d, SIGSEGV, 0);
    ck_assert_msg(pl_stack_has_fn(d, sid, "crash_here") && pl_stack_has_fn(d, sid, "crasher"),
                  "%s: the crash stack misses crash_here or crasher", d->name);
    pl_assert_site(d, "leak_segv", "malloc", 3, 3000, 3, 3000);
    pl_run_free(&r);
}
END_TEST

/* SIGSEGV sent by a timer to a thread that spends its time in malloc and
 * free (and so, likely, holds the allocator's or libleak's locks): the
 * wait for the dump is bounded and the process dies of SIGSEGV. */
START_TEST(test_crash_in_malloc_bounded)
{
    const char *const args[] = {"timer", NULL};
    setenv("LIBLEAK_TEST_HANG_S", "60", 1);
    for (int k = 0; k < 3; k++) {
        pl_run_t r;
        pl_run(&r, "crash_segv", args, NULL, 1);
        ck_assert_msg(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSEGV,
                      "status 0x%x, stderr:\n%s", (unsigned)r.status, r.err);
        for (int i = 0; i < r.ndumps; i++)
            pl_check_dump(&r.dumps[i]);
        pl_run_free(&r);
    }
}
END_TEST

/* sigaction's answers, the handler's siginfo and mask, and signal()'s
 * return values are the native ones, whether the handler was installed
 * before libleak started or after. */
START_TEST(test_sig_program_view)
{
    static const char *const modes[] = {"query-early", "query-late"};
    for (int m = 0; m < 2; m++) {
        const char *const args[] = {modes[m], NULL};
        pl_run_t bare, r;
        run_both(&bare, &r, "pl_sigview", args, NULL);
        pl_assert_exit(&bare, 0);
        pl_assert_exit(&r, 0);
        ck_assert_msg(strstr(bare.out, "query: on_usr1 flags SIGINFO NODEFER RESTART mask-usr2 1") &&
                          strstr(bare.out, "usr1-blocked 0 usr2-blocked 1"),
                      "native run: %s", bare.out);
        ck_assert_str_eq(r.out, bare.out);
        pl_check_all(&r);
        pl_run_free(&bare);
        pl_run_free(&r);
    }
}
END_TEST

/* SA_RESETHAND: one delivery resets the disposition, and the second raise
 * kills, as natively. */
START_TEST(test_sig_resethand)
{
    const char *const args[] = {"resethand", NULL};
    pl_run_t bare, r;
    run_both(&bare, &r, "pl_sigview", args, NULL);
    ck_assert_msg(WIFSIGNALED(bare.status) && WTERMSIG(bare.status) == SIGUSR1,
                  "native run did not die of SIGUSR1");
    assert_same_end(&bare, &r);
    ck_assert_str_eq(r.out, bare.out);
    pl_check_all(&r);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

/* A handler installed in main() leaves libleak's snapshots working, and
 * nothing is printed about it. */
START_TEST(test_sig_snapshot_beside_handler)
{
    const char *const args[] = {"snap-late", NULL};
    pl_run_t r;
    pl_run(&r, "pl_sigview", args, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "handled 3 dumps 3\n");
    ck_assert_str_eq(r.err, "");
    pl_check_all(&r);
    pl_run_free(&r);
}
END_TEST

/* An inherited SIG_IGN of the snapshot signal stays: the program and a
 * child it runs without the preload survive the signal; one warning; the
 * API snapshot still works. */
START_TEST(test_sig_inherited_ignore)
{
    const char *const args[] = {"ign", NULL};
    pl_run_t bare, r;
    run_both(&bare, &r, "pl_sigview", args, NULL);
    pl_assert_exit(&bare, 0);
    ck_assert_str_eq(bare.out, "child survived\nchild SIGUSR1: SIG_IGN flags mask-usr2 0\n"
                               "snapshot 1\nbare survived\n");
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, bare.out);
    ck_assert_msg(pl_count_lines(r.err) == 1 && strstr(r.err, "ignored"),
                  "expected one warning about the ignored signal, stderr:\n%s", r.err);
    pl_check_all(&r);
    pl_dump_of(&r, r.pid, "api");
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

/* LIBLEAK_SIGNAL naming a fault signal is refused with one warning: the
 * crash still kills (and is dumped) instead of looping in the handler. */
START_TEST(test_sig_fault_not_snapshot)
{
    setenv("LIBLEAK_TEST_HANG_S", "30", 1);
    static const struct { const char *env, *victim; int sig; } cases[] = {
        {"LIBLEAK_SIGNAL=11", "crash_segv", SIGSEGV},
        {"LIBLEAK_SIGNAL=6", "crash_abort", SIGABRT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const char *const env[] = {cases[k].env, NULL};
        pl_run_t r;
        pl_run(&r, cases[k].victim, NULL, env, 1);
        ck_assert_msg(WIFSIGNALED(r.status) && WTERMSIG(r.status) == cases[k].sig,
                      "%s: status 0x%x", cases[k].env, (unsigned)r.status);
        ck_assert_msg(pl_count_lines(r.err) == 1 && strstr(r.err, "LIBLEAK_SIGNAL"),
                      "%s: expected one warning, stderr:\n%s", cases[k].env, r.err);
        pl_check_all(&r);
        pl_dump_of(&r, r.pid, "crash");
        ck_assert_int_eq(pl_int(pl_obj(pl_dump_of(&r, r.pid, "crash")->root, LK_KEY_CONFIG),
                                LK_KEY_SIGNAL), SIGUSR1);
        pl_run_free(&r);
    }
}
END_TEST

/* LIBLEAK_SIGNAL=15: SIGTERM writes the snapshot, then kills as natively;
 * a program's own SIGTERM handler runs instead. */
START_TEST(test_sig_terminating_snapshot)
{
    const char *const env[] = {"LIBLEAK_SIGNAL=15", NULL};
    const char *const args[] = {"term", NULL};
    pl_run_t bare, r;
    run_both(&bare, &r, "pl_sigview", args, env);
    ck_assert_msg(WIFSIGNALED(bare.status) && WTERMSIG(bare.status) == SIGTERM,
                  "native run did not die of SIGTERM");
    assert_same_end(&bare, &r);
    ck_assert_str_eq(r.out, bare.out);
    pl_check_all(&r);
    pl_assert_site(pl_dump_of(&r, r.pid, "signal"), "leak_term", "malloc", 2, 1000, 2, 1000);
    pl_run_free(&bare);
    pl_run_free(&r);

    const char *const args2[] = {"term-handler", NULL};
    run_both(&bare, &r, "pl_sigview", args2, env);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "term handled\nsurvived\n");
    pl_check_all(&r);
    pl_exit_dump(&r);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

static Suite *preload_signals_suite(void)
{
    Suite *s = suite_create("preload_signals");
    TCase *tc = pl_tcase("crash");
    tcase_add_test(tc, test_crash_segv_dump);
    tcase_add_test(tc, test_crash_abort_dump);
    tcase_add_test(tc, test_crash_abort_in_free);
    tcase_add_test(tc, test_crash_core_flag);
    tcase_add_test(tc, test_crash_program_handler);
    tcase_add_test(tc, test_crash_thread_while_allocating);
    tcase_add_test(tc, test_crash_in_malloc_bounded);
    suite_add_tcase(s, tc);

    tc = pl_tcase("dispositions");
    tcase_add_test(tc, test_sig_program_view);
    tcase_add_test(tc, test_sig_resethand);
    tcase_add_test(tc, test_sig_snapshot_beside_handler);
    tcase_add_test(tc, test_sig_inherited_ignore);
    tcase_add_test(tc, test_sig_fault_not_snapshot);
    tcase_add_test(tc, test_sig_terminating_snapshot);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(preload_signals_suite)
