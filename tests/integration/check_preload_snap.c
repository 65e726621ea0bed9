/* check_preload_snap.c - end-to-end tests of libleak.so snapshots (growth
 * verdicts are made from them): SIGUSR1 snapshots numbered and monotone, interval snapshots, the
 * watermark, libleak_snapshot() with and without the preload, a program
 * that owns SIGUSR1, and a signal storm during an 8-thread churn. */
#include "preload_helpers.h"

/* Assert seqs of the dumps of 'pid' are 0..n-1 in order and that their
 * dump times never go back. */
static void assert_series(pl_run_t *r, long pid)
{
    long long seq = 0, last_ms = 0, last_ns = -1;
    for (int i = 0; i < r->ndumps; i++) {
        pl_dump_t *d = &r->dumps[i];
        if (d->pid != pid) continue;
        ck_assert_msg(d->seq == seq, "%s: seq %ld, expected %lld", d->name, d->seq, seq);
        json_t *dump = pl_obj(d->root, LK_KEY_DUMP);
        long long ms = pl_int(dump, LK_KEY_UNIX_MS), ns = pl_int(dump, LK_KEY_UPTIME_NS);
        ck_assert_msg(ms >= last_ms && ns > last_ns, "%s: dump time went back", d->name);
        last_ms = ms;
        last_ns = ns;
        seq++;
    }
}

/* Return the stack id of the only site through 'fn'. */
static long long site_stack(pl_dump_t *d, const char *fn)
{
    json_t *sites = pl_obj(d->root, LK_KEY_SITES), *s;
    size_t i;
    long long id = -1;
    json_array_foreach(sites, i, s)
        if (pl_stack_has_fn(d, pl_int(s, LK_KEY_STACK), fn)) {
            ck_assert_msg(id < 0, "%s: two sites through %s", d->name, fn);
            id = pl_int(s, LK_KEY_STACK);
        }
    ck_assert_msg(id >= 0, "%s: no site through %s", d->name, fn);
    return id;
}

/* Return the dump of r->pid with sequence number 'seq'. */
static pl_dump_t *dump_seq(pl_run_t *r, long seq)
{
    for (int i = 0; i < r->ndumps; i++)
        if (r->dumps[i].pid == (long)r->pid && r->dumps[i].seq == seq) return &r->dumps[i];
    ck_abort_msg("no dump with seq %ld of pid %ld", seq, (long)r->pid);
    return NULL;
}

START_TEST(test_preload_signal_snapshots)
{
    pl_run_t r;
    pl_run(&r, "pl_sigsnap", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok\n");
    pl_check_all(&r);
    ck_assert_int_eq(r.ndumps, 5);
    assert_series(&r, r.pid);
    long long id = -1;
    for (int k = 0; k < 4; k++) {
        pl_dump_t *d = dump_seq(&r, k);
        ck_assert_str_eq(d->trigger, "signal");
        pl_assert_site(d, "leak_step", "malloc", k + 1, (k + 1) * 1337, k + 1, (k + 1) * 1337);
        long long sid = site_stack(d, "leak_step");
        ck_assert_msg(id < 0 || sid == id, "stack id of leak_step changed: %lld then %lld", id,
                      sid);
        id = sid;
        ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_SIGNAL), SIGUSR1);
    }
    pl_dump_t *e = dump_seq(&r, 4);
    ck_assert_str_eq(e->trigger, "exit");
    pl_assert_site(e, "leak_step", "malloc", 4, 4 * 1337, 4, 4 * 1337);
    ck_assert_int_eq(site_stack(e, "leak_step"), id);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_signal_custom)
{
    /* LIBLEAK_SIGNAL=12 (SIGUSR2) moves the snapshot signal */
    const char *const env[] = {"LIBLEAK_SIGNAL=12", NULL};
    const char *const args[] = {"12", NULL};
    pl_run_t r;
    pl_run(&r, "pl_sigsnap", args, env, 1);
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    ck_assert_int_eq(r.ndumps, 5);
    assert_series(&r, r.pid);
    for (int k = 0; k < 4; k++) {
        pl_dump_t *d = dump_seq(&r, k);
        ck_assert_str_eq(d->trigger, "signal");
        ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_SIGNAL), 12);
        pl_assert_site(d, "leak_step", "malloc", k + 1, (k + 1) * 1337, k + 1, (k + 1) * 1337);
    }
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_signal_after_fork)
{
    pl_run_t r;
    pl_run(&r, "pl_forksig", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    long child = 0;
    ck_assert_msg(sscanf(r.out, "child %ld", &child) == 1, "output: %s", r.out);
    pl_check_all(&r);
    ck_assert_int_eq(r.ndumps, 4);
    assert_series(&r, r.pid);
    assert_series(&r, child);
    pl_dump_t *ps = pl_dump_of(&r, r.pid, "signal"), *cs = pl_dump_of(&r, child, "signal");
    ck_assert_int_eq(ps->seq, 0);
    ck_assert_int_eq(cs->seq, 0);
    ck_assert_int_eq(pl_dump_of(&r, child, "exit")->seq, 1);
    pl_assert_site(ps, "parent_leak", "malloc", 1, 1337, 1, 1337);
    pl_assert_no_site(ps, "child_leak");
    /* the child's snapshot: parent_leak's block is inherited, no site */
    pl_assert_no_site(cs, "parent_leak");
    ck_assert_int_eq(pl_int(pl_totals(cs), LK_KEY_INHERITED_BLOCKS), 1);
    ck_assert_int_eq(pl_int(pl_totals(cs), LK_KEY_INHERITED_BYTES), 1337);
    pl_assert_site(cs, "child_leak", "malloc", 1, 2021, 1, 2021);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_signal_disabled)
{
    /* LIBLEAK_SIGNAL=0: no handler, so SIGUSR1 kills the program as usual */
    const char *const env[] = {"LIBLEAK_SIGNAL=0", NULL};
    pl_run_t r;
    pl_run(&r, "pl_sigsnap", NULL, env, 1);
    ck_assert_msg(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGUSR1,
                  "LIBLEAK_SIGNAL=0 but SIGUSR1 did not kill the victim");
    ck_assert_int_eq(r.ndumps, 0);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_interval_snapshots)
{
    const char *const env[] = {"LIBLEAK_INTERVAL_MS=100", NULL};
    pl_run_t r;
    pl_run(&r, "pl_interval", NULL, env, 1);
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    assert_series(&r, r.pid);
    int nint = 0;
    for (int i = 0; i < r.ndumps; i++) {
        pl_dump_t *d = &r.dumps[i];
        json_t *tl = pl_obj(d->root, LK_KEY_TIMELINE);
        size_t len = json_array_size(pl_obj(tl, LK_KEY_TL_UPTIME_NS));
        ck_assert_msg(len > 0, "%s: empty timeline", d->name);
        ck_assert_int_eq(json_array_size(pl_obj(tl, LK_KEY_TL_LIVE_BYTES)), len);
        ck_assert_int_eq(json_array_size(pl_obj(tl, LK_KEY_TL_RSS_BYTES)), len);
        ck_assert_int_eq(json_array_size(pl_obj(tl, LK_KEY_TL_ALLOCS)), len);
        ck_assert_int_eq(json_array_size(pl_obj(tl, LK_KEY_TL_FREES)), len);
        if (strcmp(d->trigger, "interval") != 0) continue;
        nint++;
        ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_INTERVAL_MS), 100);
        pl_assert_site(d, "leak_1337", "malloc", 1, 1337, 1, 1337);
    }
    ck_assert_int_ge(nint, 3);
    pl_dump_t *last = &r.dumps[r.ndumps - 1];
    ck_assert_str_eq(last->trigger, "exit");
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_api_snapshot)
{
    pl_run_t bare, r;
    pl_run(&bare, "pl_api", NULL, NULL, 0);
    pl_assert_exit(&bare, 0);
    ck_assert_str_eq(bare.out, "active 0\nsnap -38 -38 -38\n");
    ck_assert_int_eq(bare.ndumps, 0);
    pl_run(&r, "pl_api", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "active 1\nsnap 0 0 0\n");
    pl_check_all(&r);
    ck_assert_int_eq(r.ndumps, 4);
    assert_series(&r, r.pid);
    char x63[64];
    memset(x63, 'x', 63);
    x63[63] = '\0';
    for (int k = 0; k < 3; k++) {
        pl_dump_t *d = dump_seq(&r, k);
        ck_assert_str_eq(d->trigger, "api");
        pl_assert_site(d, "leak_1337", "malloc", k + 1, (k + 1) * 1337, k + 1, (k + 1) * 1337);
        json_t *label = pl_obj(pl_obj(d->root, LK_KEY_DUMP), LK_KEY_LABEL);
        if (k == 0) ck_assert_str_eq(json_string_value(label), "after-warmup");
        if (k == 1) ck_assert(json_is_null(label));
        if (k == 2) ck_assert_str_eq(json_string_value(label), x63);
    }
    ck_assert_str_eq(dump_seq(&r, 3)->trigger, "exit");
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_watermark_percent)
{
    /* LIBLEAK_WATERMARK=1% of the limit: under RLIMIT_AS 1 GiB (when that is
     * the smallest limit) the step is 10737418 bytes; 100 blocks of 250000
     * bytes cross it twice */
    char victim[PATH_MAX];
    pl_victim_path(victim, "pl_watermark");
    if (access("/usr/bin/prlimit", X_OK) != 0) return;  /* util-linux absent */
    const char *const args[] = {"--as=1073741824", victim, "10737418", "100", NULL};
    const char *const env[] = {"LIBLEAK_WATERMARK=1%", NULL};
    pl_run_t r;
    pl_run_exe(&r, "/usr/bin/prlimit", args, env, 1);
    pl_dump_t *e = pl_exit_dump(&r);
    json_t *lim = pl_obj(e->root, LK_KEY_LIMITS);
    long long eff = pl_int(lim, LK_KEY_EFFECTIVE);
    if (eff != 1073741824LL) {  /* a cgroup or RAM below 1 GiB: other numbers */
        pl_run_free(&r);
        return;
    }
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    ck_assert_int_eq(pl_int(pl_obj(e->root, LK_KEY_CONFIG), LK_KEY_WATERMARK_BYTES), 10737418);
    int k = 0;
    for (int i = 0; i < r.ndumps; i++)
        if (!strcmp(r.dumps[i].trigger, "watermark")) {
            k++;
            ck_assert_int_ge(pl_int(pl_totals(&r.dumps[i]), LK_KEY_LIVE_BYTES), k * 10737418LL);
        }
    ck_assert_msg(k == 2, "%d watermark dumps for 2 steps of 1%% crossed", k);
    pl_run_free(&r);
}
END_TEST

/* Run pl_label with 'label'; return the api dump's label (a string) in 'out'. */
static void api_label(const char *label, char *out, size_t outsz)
{
    const char *const args[] = {label, NULL};
    pl_run_t r;
    pl_run(&r, "pl_label", args, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "snap 0\n");
    pl_check_all(&r);
    json_t *l = pl_obj(pl_obj(pl_dump_of(&r, r.pid, "api")->root, LK_KEY_DUMP), LK_KEY_LABEL);
    ck_assert_msg(json_is_string(l), "label '%s' lost", label);
    snprintf(out, outsz, "%s", json_string_value(l));
    pl_run_free(&r);
}

START_TEST(test_preload_api_label_bytes)
{
    char got[256], want[64];
    /* 62 ASCII bytes then a 2-byte character: the cut at 63 bytes must not
     * leave half a character (invalid UTF-8 would lose the label) */
    char label[80];
    memset(label, 'x', 62);
    strcpy(label + 62, "\xc3\xa9");
    api_label(label, got, sizeof got);
    memset(want, 'x', 62);
    want[62] = '\0';
    ck_assert_msg(strlen(got) <= 63 && !strncmp(got, want, 62), "label cut to '%s'", got);
    /* bytes that are not UTF-8 at all still give a string label */
    api_label("\xff\xfe-end", got, sizeof got);
    ck_assert_msg(strstr(got, "-end") != NULL, "label became '%s'", got);
}
END_TEST

START_TEST(test_preload_api_snapshot_threads)
{
    pl_run_t r;
    pl_run(&r, "pl_api_mt", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok 0\n");
    pl_check_all(&r);
    ck_assert_int_eq(r.ndumps, 81);
    assert_series(&r, r.pid);
    int seen[8][10];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < r.ndumps; i++) {
        pl_dump_t *d = &r.dumps[i];
        if (strcmp(d->trigger, "api") != 0) continue;
        const char *l = pl_str(pl_obj(d->root, LK_KEY_DUMP), LK_KEY_LABEL);
        int t, k;
        ck_assert_msg(sscanf(l, "t%d-%d", &t, &k) == 2 && t >= 0 && t < 8 && k >= 0 && k < 10,
                      "%s: label '%s'", d->name, l);
        seen[t][k]++;
        pl_agg_t a = pl_sites(d, "mt_leak", "malloc");
        ck_assert_int_ge(a.live_blocks, k + 1);
    }
    for (int t = 0; t < 8; t++)
        for (int k = 0; k < 10; k++)
            ck_assert_msg(seen[t][k] == 1, "label t%d-%d seen %d times", t, k, seen[t][k]);
    pl_assert_site(pl_exit_dump(&r), "mt_leak", "malloc", 80, 80 * 1337, 80, 80 * 1337);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_watermark)
{
    const char *const env[] = {"LIBLEAK_WATERMARK=1M", NULL};
    pl_run_t r;
    pl_run(&r, "pl_watermark", NULL, env, 1);
    pl_assert_exit(&r, 0);
    pl_check_all(&r);
    assert_series(&r, r.pid);
    int k = 0;
    for (int i = 0; i < r.ndumps; i++) {
        pl_dump_t *d = &r.dumps[i];
        ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_CONFIG), LK_KEY_WATERMARK_BYTES),
                         1048576);
        if (strcmp(d->trigger, "watermark") != 0) continue;
        k++;
        long long live = pl_int(pl_totals(d), LK_KEY_LIVE_BYTES);
        ck_assert_msg(live >= k * 1048576LL, "%s: watermark dump %d at %lld live bytes", d->name,
                      k, live);
    }
    ck_assert_msg(k == 4, "%d watermark dumps for 4 MiB boundaries crossed", k);
    pl_assert_site(pl_exit_dump(&r), "wm_step", "malloc", 20, 5000000, 20, 5000000);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_sigowner_early)
{
    const char *const args[] = {"early", NULL};
    pl_run_t bare, r;
    pl_run(&bare, "pl_sigowner", args, NULL, 0);
    pl_assert_exit(&bare, 0);
    pl_run(&r, "pl_sigowner", args, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, bare.out);
    ck_assert_str_eq(r.out, "handled 3\n");
    pl_check_all(&r);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_sigowner_late)
{
    const char *const args[] = {"late", NULL};
    pl_run_t base, r;
    pl_run(&base, "pl_basic", NULL, NULL, 1);
    pl_run(&r, "pl_sigowner", args, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "handled 3\n");
    ck_assert_msg(pl_count_lines(r.err) == pl_count_lines(base.err),
                  "the program's own handler is no takeover: no warning, stderr:\n%s", r.err);
    pl_check_all(&r);
    pl_exit_dump(&r);
    pl_run_free(&base);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_sigwait_owner)
{
    pl_run_t r;
    pl_run(&r, "pl_sigwait", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "sigwait got 3\n");
    pl_check_all(&r);
    pl_exit_dump(&r);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_signal_storm)
{
    pl_run_t bare, r;
    pl_run(&bare, "pl_storm", NULL, NULL, 0);
    pl_assert_exit(&bare, 0);
    pl_run(&r, "pl_storm", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, bare.out);
    int nsig = 0;
    for (int i = 0; i < r.nothers; i++)
        ck_abort_msg("%s: '%s' left behind", r.dir, r.others[i]);
    for (int i = 0; i < r.ndumps; i++) {
        pl_dump_t *d = &r.dumps[i];
        ck_assert_msg(d->root != NULL, "%s: not complete JSON: %s", d->name, d->error);
        if (!strcmp(d->trigger, "signal")) nsig++;
    }
    ck_assert_msg(nsig >= 1, "no signal dump during the storm");
    assert_series(&r, r.pid);
    pl_dump_t *e = pl_exit_dump(&r);
    pl_check_dump(e);
    long long bytes = 0;  /* the sizes pl_storm's workers request */
    for (int t = 0; t < 8; t++)
        for (int i = 0; i < 1000000; i++) bytes += 16 + (i * 7 + t) % 500;
    pl_assert_site(e, "churn_alloc", "malloc", 0, 0, 8 * 1000000, bytes);
    /* snapshots taken mid-churn keep the documented invariants too */
    for (int i = 0; i < r.ndumps; i++) pl_check_dump(&r.dumps[i]);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_closed_fds_not_written)
{
    /* the program closes libleak's pipe and reuses the numbers for files */
    char files[PATH_MAX];
    pl_mkdtemp(files, "files");
    const char *const args[] = {files, NULL};
    const char *const env[] = {"LIBLEAK_WATERMARK=1M", NULL};
    pl_run_t r;
    pl_run(&r, "pl_closefds", args, env, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "ok\n");
    for (int i = 0; i < 5; i++) {
        char p[PATH_MAX + 8];
        PL_FMT(p, "%s/f%d", files, i);
        char *text = pl_slurp(p);
        ck_assert_msg(!strcmp(text, "data\n"),
                      "the program's file f%d (fd %d) holds '%s' instead of 'data\\n': "
                      "libleak wrote into a descriptor it no longer owns", i, 3 + i, text);
        free(text);
    }
    pl_rm_rf(files);
    pl_check_all(&r);
    pl_exit_dump(&r);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_program_jansson_allocator)
{
    pl_run_t bare, r;
    pl_run(&bare, "pl_jansson", NULL, NULL, 0);
    pl_assert_exit(&bare, 0);
    ck_assert_str_eq(bare.out, "calls 0\n");
    pl_run(&r, "pl_jansson", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_msg(!strcmp(r.out, bare.out) && !strcmp(r.err, bare.err),
                  "libleak's dump went through the program's json_set_alloc_funcs "
                  "allocator: stdout '%s', stderr '%s'", r.out, r.err);
    pl_check_all(&r);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

static Suite *preload_snap_suite(void)
{
    Suite *s = suite_create("preload_snap");
    TCase *tc = pl_tcase("snapshots");
    tcase_add_test(tc, test_preload_signal_snapshots);
    tcase_add_test(tc, test_preload_signal_custom);
    tcase_add_test(tc, test_preload_signal_after_fork);
    tcase_add_test(tc, test_preload_signal_disabled);
    tcase_add_test(tc, test_preload_interval_snapshots);
    tcase_add_test(tc, test_preload_api_snapshot);
    tcase_add_test(tc, test_preload_watermark);
    tcase_add_test(tc, test_preload_api_label_bytes);
    tcase_add_test(tc, test_preload_api_snapshot_threads);
    tcase_add_test(tc, test_preload_watermark_percent);
    suite_add_tcase(s, tc);

    tc = pl_tcase("signals");
    tcase_add_test(tc, test_preload_sigowner_early);
    tcase_add_test(tc, test_preload_sigowner_late);
    tcase_add_test(tc, test_preload_signal_storm);
    tcase_add_test(tc, test_preload_sigwait_owner);
    tcase_add_test(tc, test_preload_closed_fds_not_written);
    tcase_add_test(tc, test_preload_program_jansson_allocator);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(preload_snap_suite)
