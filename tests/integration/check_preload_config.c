/* check_preload_config.c - end-to-end tests of libleak's settings and
 * messages: settings copied at start (a program that overwrites its argv and
 * environ still writes its dumps into LIBLEAK_DIR), an unusable LIBLEAK_DIR
 * reported once at start, messages never written into a file the program
 * opened on fd 2, LIBLEAK_LOG, and a misspelled setting's name.  Programs run
 * are victims and /bin/sh (see preload_helpers.h). */
#include "preload_helpers.h"

/* Count the lines of 's' that start with "libleak:". */
static int count_libleak_lines(const char *s)
{
    int n = 0;
    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += !strncmp(p, "libleak:", 8);
    return n;
}

/* Remove any dump of 'pid' that landed in '/' (the bug this suite guards
 * against writes there when run as root); return how many there were. */
static int remove_root_dumps(long pid)
{
    char pre[64];
    snprintf(pre, sizeof pre, "libleak.%ld.", pid);
    int n = 0;
    DIR *d = opendir("/");
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name[0] == '.' ? e->d_name + 1 : e->d_name;
        if (strncmp(name, pre, strlen(pre)) != 0) continue;
        char p[PATH_MAX];
        PL_FMT(p, "/%s", e->d_name);
        unlink(p);
        n++;
    }
    closedir(d);
    return n;
}

START_TEST(test_preload_proctitle_keeps_dir)
{
    pl_run_t r;
    const char *args[] = { "alpha", "beta", NULL };
    pl_run(&r, "proctitle", args, NULL, 1);
    int in_root = remove_root_dumps((long)r.pid);
    pl_assert_exit(&r, 0);
    char want[PATH_MAX + 32];
    PL_FMT(want, "title %s ok\n", r.dir);
    ck_assert_str_eq(r.out, want);
    ck_assert_msg(in_root == 0, "%d dump(s) of pid %ld landed in /", in_root, (long)r.pid);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "leak_4242", "malloc", 1, 4242, 1, 4242);
    /* the command line as started, not the title written over it */
    json_t *argv = pl_obj(pl_obj(d->root, LK_KEY_PROCESS), LK_KEY_CMDLINE);
    ck_assert_int_eq(json_array_size(argv), 3);
    ck_assert_str_eq(json_string_value(json_array_get(argv, 0)), r.exe);
    ck_assert_str_eq(json_string_value(json_array_get(argv, 1)), "alpha");
    ck_assert_str_eq(json_string_value(json_array_get(argv, 2)), "beta");
    pl_run_free(&r);
}
END_TEST

/* Run /bin/sh -c 'script' arg1 arg2 under the preload with 'env'. */
static void run_sh(pl_run_t *r, const char *script, const char *a1, const char *a2,
                   const char *const *env)
{
    const char *args[] = { "-c", script, a1, a2, NULL };
    pl_run_exe(r, "/bin/sh", args, env, 1);
}

/* An unusable LIBLEAK_DIR 'dir': one line, before the program's own output,
 * naming the directory; nothing more at exit. */
static void check_bad_dir(const char *dir)
{
    pl_run_t r;
    char setting[PATH_MAX + 16];
    PL_FMT(setting, "LIBLEAK_DIR=%s", dir);
    const char *env[] = { setting, NULL };
    run_sh(&r, "echo main >&2", NULL, NULL, env);
    pl_assert_exit(&r, 0);
    ck_assert_msg(count_libleak_lines(r.err) == 1, "expected one libleak line:\n%s", r.err);
    ck_assert_msg(!strncmp(r.err, "libleak: ", 9), "the warning comes after the program's output:\n%s",
                  r.err);
    ck_assert_ptr_nonnull(strstr(r.err, dir));
    ck_assert_ptr_nonnull(strstr(r.err, "\nmain\n"));
    pl_run_free(&r);
}

START_TEST(test_preload_dir_missing_warns_at_start)
{
    char base[PATH_MAX], dir[PATH_MAX];
    pl_mkdtemp(base, "cfg");
    PL_FMT(dir, "%s/missing", base);
    check_bad_dir(dir);
    pl_rm_rf(base);
}
END_TEST

START_TEST(test_preload_dir_not_a_directory_warns_at_start)
{
    char base[PATH_MAX], file[PATH_MAX];
    pl_mkdtemp(base, "cfg");
    PL_FMT(file, "%s/file", base);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    check_bad_dir(file);
    pl_rm_rf(base);
}
END_TEST

/* The shell closes fd 2, reopens it on a file of its own and writes a record;
 * the exit dump then fails (its directory was removed).  That failure must
 * not be written into the shell's file. */
static const char reuse_fd2[] = "rmdir \"$0\" && exec 2>&- && exec 2>\"$1\" && echo record >&2";

START_TEST(test_preload_stderr_reused_by_program)
{
    char base[PATH_MAX], dir[PATH_MAX], file[PATH_MAX], setting[PATH_MAX + 16];
    pl_mkdtemp(base, "cfg");
    PL_FMT(dir, "%s/dumps", base);
    PL_FMT(file, "%s/records", base);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    PL_FMT(setting, "LIBLEAK_DIR=%s", dir);
    const char *env[] = { setting, NULL };
    pl_run_t r;
    run_sh(&r, reuse_fd2, dir, file, env);
    pl_assert_exit(&r, 0);
    char *rec = pl_slurp(file);
    ck_assert_str_eq(rec, "record\n");
    free(rec);
    pl_run_free(&r);
    pl_rm_rf(base);
}
END_TEST

/* LIBLEAK_LOG: every message goes to the file, none to stderr, the file is
 * not inherited across exec, and the program's own fd 2 is left alone. */
START_TEST(test_preload_log_file)
{
    char base[PATH_MAX], log[PATH_MAX], setting[PATH_MAX + 16];
    pl_mkdtemp(base, "cfg");
    PL_FMT(log, "%s/libleak.log", base);
    PL_FMT(setting, "LIBLEAK_LOG=%s", log);
    const char *env[] = { setting, "LIBLEAK_DEPTH=0", NULL };
    pl_run_t r;
    run_sh(&r, "echo main >&2; LD_PRELOAD= exec ls /proc/self/fd", NULL, NULL, env);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.err, "main\n");
    ck_assert_str_eq(r.out, "0\n1\n2\n3\n");    /* ls's own directory fd, nothing of libleak's */
    char *text = pl_slurp(log);
    ck_assert_msg(count_libleak_lines(text) == 1 && strstr(text, "LIBLEAK_DEPTH='0'"),
                  "log file:\n%s", text);
    free(text);
    pl_run_free(&r);

    /* the failed exit dump of the fd 2 case is reported in the log */
    char dir[PATH_MAX], file[PATH_MAX], dset[PATH_MAX + 16];
    PL_FMT(dir, "%s/dumps", base);
    PL_FMT(file, "%s/records", base);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    PL_FMT(dset, "LIBLEAK_DIR=%s", dir);
    const char *env2[] = { setting, dset, NULL };
    ck_assert_int_eq(unlink(log), 0);
    run_sh(&r, reuse_fd2, dir, file, env2);
    pl_assert_exit(&r, 0);
    text = pl_slurp(file);
    ck_assert_str_eq(text, "record\n");
    free(text);
    text = pl_slurp(log);
    char want[PATH_MAX + 64];
    PL_FMT(want, "libleak: cannot write dump '%s/", dir);
    ck_assert_msg(strstr(text, want) != NULL, "log file:\n%s", text);
    free(text);
    pl_run_free(&r);
    pl_rm_rf(base);
}
END_TEST

START_TEST(test_preload_misspelled_setting)
{
    const char *env[] = { "LIBLEAK_INTERVAL=100", NULL };
    pl_run_t r;
    run_sh(&r, "echo main >&2", NULL, NULL, env);
    pl_assert_exit(&r, 0);
    ck_assert_msg(count_libleak_lines(r.err) == 1, "expected one libleak line:\n%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "LIBLEAK_INTERVAL "));
    ck_assert_ptr_nonnull(strstr(r.err, "LIBLEAK_INTERVAL_MS"));
    pl_run_free(&r);
}
END_TEST

static Suite *preload_config_suite(void)
{
    Suite *s = suite_create("preload_config");
    TCase *tc = pl_tcase("settings");
    tcase_add_test(tc, test_preload_proctitle_keeps_dir);
    tcase_add_test(tc, test_preload_dir_missing_warns_at_start);
    tcase_add_test(tc, test_preload_dir_not_a_directory_warns_at_start);
    tcase_add_test(tc, test_preload_misspelled_setting);
    suite_add_tcase(s, tc);

    tc = pl_tcase("messages");
    tcase_add_test(tc, test_preload_stderr_reused_by_program);
    tcase_add_test(tc, test_preload_log_file);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(preload_config_suite)
