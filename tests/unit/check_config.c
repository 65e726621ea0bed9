/* check_config.c - LIBLEAK_* parsing through a fake environment: defaults,
 * valid values, each bad value -> exactly one warning line and the default,
 * LIBLEAK_QUIET silencing warnings, the byte-count parser, values copied at
 * start, unknown names, the LIBLEAK_DIR check, and where messages go
 * (LIBLEAK_LOG, fd 2 replaced by the program). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testhelper.h"

/* ### a fake environment and a captured stderr */
static const char *env_names[16], *env_values[16];
static int env_n;
static char logbuf[4096];
static size_t log_len;
static int log_lines;

static const char *fake_getenv(const char *name)
{
    for (int i = 0; i < env_n; i++)
        if (strcmp(env_names[i], name) == 0)
            return env_values[i];
    return NULL;
}

static void env_set(const char *name, const char *value)
{
    env_names[env_n] = name;
    env_values[env_n++] = value;
}

static ssize_t capture_write(int fd, const void *buf, size_t n)
{
    ck_assert_int_eq(fd, 2);
    if (log_len + n < sizeof logbuf) {
        memcpy(logbuf + log_len, buf, n);
        log_len += n;
        logbuf[log_len] = '\0';
    }
    for (size_t i = 0; i < n; i++)
        log_lines += ((const char *)buf)[i] == '\n';
    return (ssize_t)n;
}

static ssize_t (*real_write)(int fd, const void *buf, size_t n);

static void setup(void)
{
    if (!real_write)
        real_write = lk_log_write;
    env_n = 0;
    log_len = 0;
    log_lines = 0;
    logbuf[0] = '\0';
    lk_log_write = capture_write;
}

/* Assert that the settings a bad value falls back on hold their defaults. */
static void assert_default_values(void)
{
    ck_assert_str_eq(lk_config.dir, ".");
    ck_assert_int_eq(lk_config.max_depth, 32);
    ck_assert_int_eq(lk_config.signal, 10);
    ck_assert_int_eq(lk_config.interval_ms, 0);
    ck_assert_uint_eq(lk_config.watermark_bytes, 0);
    ck_assert_uint_eq(lk_config.watermark_percent, 0);
    ck_assert_uint_eq(lk_config.sample_bytes, 0);
}

START_TEST(test_config_defaults)
{
    ck_assert_int_eq(lk_config_load(fake_getenv), 0);
    assert_default_values();
    ck_assert_int_eq(lk_config.quiet, 0);
    ck_assert_int_eq(lk_config.scan, 1);
    ck_assert_int_eq(log_lines, 0);
}
END_TEST

START_TEST(test_config_valid_values)
{
    env_set("LIBLEAK_DIR", "/tmp/leaks");
    env_set("LIBLEAK_DEPTH", "64");
    env_set("LIBLEAK_SIGNAL", "0");
    env_set("LIBLEAK_INTERVAL_MS", "250");
    env_set("LIBLEAK_WATERMARK", "64M");
    env_set("LIBLEAK_SAMPLE_BYTES", "512K");
    env_set("LIBLEAK_SCAN", "2");
    ck_assert_int_eq(lk_config_load(fake_getenv), 0);
    ck_assert_str_eq(lk_config.dir, "/tmp/leaks");
    ck_assert_int_eq(lk_config.max_depth, 64);
    ck_assert_int_eq(lk_config.signal, 0);
    ck_assert_int_eq(lk_config.interval_ms, 250);
    ck_assert_uint_eq(lk_config.watermark_bytes, 64u << 20);
    ck_assert_uint_eq(lk_config.sample_bytes, 512u << 10);
    ck_assert_int_eq(lk_config.scan, 2);
    ck_assert_int_eq(log_lines, 0);
}
END_TEST

START_TEST(test_config_watermark_percent)
{
    env_set("LIBLEAK_WATERMARK", "80%");
    ck_assert_int_eq(lk_config_load(fake_getenv), 0);
    ck_assert_uint_eq(lk_config.watermark_percent, 80);
    ck_assert_uint_eq(lk_config.watermark_bytes, 0);
}
END_TEST

START_TEST(test_config_bad_values_warn_once_each_and_default)
{
    env_set("LIBLEAK_DEPTH", "0");              /* below range */
    env_set("LIBLEAK_SIGNAL", "usr1");          /* not a number */
    env_set("LIBLEAK_INTERVAL_MS", "-5");       /* negative */
    env_set("LIBLEAK_WATERMARK", "150%");       /* above 100% */
    env_set("LIBLEAK_SAMPLE_BYTES", "12Q");     /* bad suffix */
    env_set("LIBLEAK_SCAN", "3");
    env_set("LIBLEAK_DIR", "");
    env_set("LIBLEAK_FSYNC", "maybe");
    ck_assert_int_eq(lk_config_load(fake_getenv), 8);
    ck_assert_int_eq(log_lines, 8);
    ck_assert_ptr_nonnull(strstr(logbuf, "libleak: ignoring LIBLEAK_DEPTH='0'"));
    ck_assert_ptr_nonnull(strstr(logbuf, "from 1 to 256"));
    ck_assert_ptr_nonnull(strstr(logbuf, "LIBLEAK_SIGNAL='usr1'"));
    ck_assert_ptr_nonnull(strstr(logbuf, "LIBLEAK_WATERMARK='150%'"));
    assert_default_values();
    ck_assert_int_eq(lk_config.scan, 1);
    ck_assert_int_eq(lk_config.fsync, 0);
}
END_TEST

START_TEST(test_config_quiet_silences_warnings)
{
    env_set("LIBLEAK_QUIET", "1");
    env_set("LIBLEAK_DEPTH", "99999");
    ck_assert_int_eq(lk_config_load(fake_getenv), 1);
    ck_assert_int_eq(lk_config.max_depth, 32);
    ck_assert_int_eq(lk_config.quiet, 1);
    ck_assert_int_eq(log_lines, 0);
    lk_log_error("cannot write dump '%s': %s", "x", "No space left on device");
    ck_assert_int_eq(log_lines, 1);             /* errors still print */
}
END_TEST

START_TEST(test_config_reload_restores_defaults)
{
    env_set("LIBLEAK_DEPTH", "8");
    lk_config_load(fake_getenv);
    ck_assert_int_eq(lk_config.max_depth, 8);
    env_n = 0;
    lk_config_load(fake_getenv);
    ck_assert_int_eq(lk_config.max_depth, 32);
}
END_TEST

START_TEST(test_config_parse_bytes)
{
    uint64_t v;
    ck_assert_int_eq(lk_config_parse_bytes("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(lk_config_parse_bytes("4096", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(lk_config_parse_bytes("2k", &v), 0);
    ck_assert_uint_eq(v, 2048);
    ck_assert_int_eq(lk_config_parse_bytes("3MiB", &v), 0);
    ck_assert_uint_eq(v, 3u << 20);
    ck_assert_int_eq(lk_config_parse_bytes("1G", &v), 0);
    ck_assert_uint_eq(v, 1u << 30);
    ck_assert_int_eq(lk_config_parse_bytes("", &v), -EINVAL);
    ck_assert_int_eq(lk_config_parse_bytes("-1", &v), -EINVAL);
    ck_assert_int_eq(lk_config_parse_bytes("1.5G", &v), -EINVAL);
    ck_assert_int_eq(lk_config_parse_bytes("99999999999999999999", &v), -EINVAL);
    ck_assert_int_eq(lk_config_parse_bytes("17179869184G", &v), -EINVAL);  /* overflows */
}
END_TEST

START_TEST(test_config_strings_copied)
{
    /* a program that writes its title over environ must not change them */
    char dir[] = "/tmp/leaks", logp[PATH_MAX];
    char tmp[] = "/tmp/lk-config-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(logp, sizeof logp, "%s/log", tmp);
    env_set("LIBLEAK_DIR", dir);
    env_set("LIBLEAK_LOG", logp);
    ck_assert_int_eq(lk_config_load(fake_getenv), 0);
    memset(dir, 0, sizeof dir);
    memset(logp, 'x', sizeof logp - 1);
    ck_assert_str_eq(lk_config.dir, "/tmp/leaks");
    ck_assert_str_eq(lk_config.log_path + strlen(tmp), "/log");
    env_n = 0;
    lk_config_load(fake_getenv);
    snprintf(logp, sizeof logp, "%s/log", tmp);
    unlink(logp);
    rmdir(tmp);
}
END_TEST

START_TEST(test_config_string_too_long)
{
    static char longdir[PATH_MAX + 10];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    env_set("LIBLEAK_DIR", longdir);
    ck_assert_int_eq(lk_config_load(fake_getenv), 1);
    ck_assert_int_eq(log_lines, 1);
    ck_assert_str_eq(lk_config.dir, ".");
}
END_TEST

START_TEST(test_config_unknown_names)
{
    lk_config_load(fake_getenv);
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_INTERVAL=100"), 1);
    ck_assert_int_eq(log_lines, 1);
    ck_assert_str_eq(logbuf, "libleak: ignoring unknown setting LIBLEAK_INTERVAL "
                             "(the closest is LIBLEAK_INTERVAL_MS)\n");
    log_len = 0;
    ck_assert_int_eq(lk_config_check_name("libleak_depht=3"), 1);
    ck_assert_ptr_nonnull(strstr(logbuf, "libleak_depht (the closest is LIBLEAK_DEPTH)"));
    log_len = 0;
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_SAMPLE=4k"), 1);
    ck_assert_ptr_nonnull(strstr(logbuf, "LIBLEAK_SAMPLE (the closest is LIBLEAK_SAMPLE_BYTES)"));
    log_len = 0;
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_SACN=1"), 1);
    ck_assert_ptr_nonnull(strstr(logbuf, "LIBLEAK_SACN (the closest is LIBLEAK_SCAN)"));
    log_len = 0;
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_\033[2J=1"), 1);    /* no escape reaches a terminal */
    ck_assert_ptr_null(strchr(logbuf, '\033'));
    ck_assert_ptr_nonnull(strstr(logbuf, "LIBLEAK_?[2J"));
    ck_assert_int_eq(log_lines, 5);
    /* real settings, the wrapper's, the test harness's and others: silent */
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_DIR=/tmp"), 0);
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_INTERVAL_MS=5"), 0);
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_LOG=/tmp/x"), 0);
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_SO=/x/libleak.so"), 0);
    ck_assert_int_eq(lk_config_check_name("LIBLEAK_TEST_KEEP=1"), 0);
    ck_assert_int_eq(lk_config_check_name("PATH=/bin"), 0);
    ck_assert_int_eq(lk_config_check_name("LIBLEAK"), 0);
    ck_assert_int_eq(log_lines, 5);
    /* a name longer than the distance's 64 bytes */
    static char huge[300];
    memcpy(huge, "LIBLEAK_", 8);
    memset(huge + 8, 'Z', sizeof huge - 10);
    ck_assert_int_eq(lk_config_check_name(huge), 1);
    ck_assert_ptr_nonnull(strstr(logbuf, "ZZZ... (the closest is"));
}
END_TEST

START_TEST(test_config_check_dir)
{
    char tmp[] = "/tmp/lk-config-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    lk_config_load(fake_getenv);
    lk_config.dir = tmp;
    lk_config_check_dir();
    ck_assert_int_eq(lk_config_dir_errno, 0);
    ck_assert_int_eq(log_lines, 0);

    snprintf(path, sizeof path, "%s/missing", tmp);
    lk_config.dir = path;
    lk_config_check_dir();
    ck_assert_int_eq(lk_config_dir_errno, ENOENT);
    ck_assert_int_eq(log_lines, 1);
    ck_assert_ptr_nonnull(strstr(logbuf, path));
    ck_assert_int_eq(access(path, F_OK), -1);   /* nothing created */

    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    lk_config_check_dir();
    ck_assert_int_eq(lk_config_dir_errno, ENOTDIR);
    ck_assert_int_eq(log_lines, 2);
    unlink(path);
    rmdir(tmp);
    lk_config_load(fake_getenv);
}
END_TEST

/* ### where messages go */

START_TEST(test_log_file)
{
    char tmp[] = "/tmp/lk-config-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(path, sizeof path, "%s/libleak.log", tmp);
    lk_log_write = real_write;
    env_set("LIBLEAK_LOG", path);
    env_set("LIBLEAK_DEPTH", "0");
    ck_assert_int_eq(lk_config_load(fake_getenv), 1);
    int fd = lk_log_fd();
    ck_assert_int_ge(fd, 3);
    ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ck_assert_int_eq(fcntl(fd, F_GETFL) & O_APPEND, O_APPEND);
    lk_log_error("second");
    char buf[512] = "";
    int rfd = open(path, O_RDONLY);
    ck_assert_int_ge(read(rfd, buf, sizeof buf - 1), 0);
    close(rfd);
    ck_assert_str_eq(buf, "libleak: ignoring LIBLEAK_DEPTH='0': expected an integer from 1 to 256; "
                          "using the default\nlibleak: second\n");
    /* reloading without it closes the file: one descriptor, never two */
    env_n = 0;
    lk_log_write = capture_write;
    ck_assert_int_eq(lk_config_load(fake_getenv), 0);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(lk_log_fd(), 2);
    unlink(path);
    rmdir(tmp);
}
END_TEST

START_TEST(test_log_file_unopenable)
{
    env_set("LIBLEAK_LOG", "/nonexistent-dir/libleak.log");
    ck_assert_int_eq(lk_config_load(fake_getenv), 1);
    ck_assert_int_eq(log_lines, 1);
    ck_assert_ptr_nonnull(strstr(logbuf, "ignoring LIBLEAK_LOG='/nonexistent-dir/libleak.log'"));
    ck_assert_ptr_null(lk_config.log_path);
    ck_assert_int_eq(lk_log_fd(), 2);
}
END_TEST

/* The file of fd 2 at start; a file the program later puts on fd 2 gets nothing. */
START_TEST(test_log_stderr_replaced)
{
    char tmp[] = "/tmp/lk-config-XXXXXX", a[64], b[64];
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(a, sizeof a, "%s/a", tmp);
    snprintf(b, sizeof b, "%s/b", tmp);
    int fa = open(a, O_RDWR | O_CREAT, 0644), fb = open(b, O_RDWR | O_CREAT, 0644);
    int saved = dup(2);
    ck_assert(fa >= 0 && fb >= 0 && saved >= 0);
    lk_log_write = real_write;
    dup2(fa, 2);
    lk_log_start();
    lk_log_error("one");
    dup2(fb, 2);
    lk_log_error("two");
    close(2);
    lk_log_error("three");
    dup2(fa, 2);
    lk_log_error("four");
    dup2(saved, 2);
    close(saved);
    lk_log_start();             /* the test's own stderr again */
    lk_log_write = capture_write;
    struct stat st;
    ck_assert_int_eq(fstat(fb, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    char buf[64] = "";
    ck_assert_int_ge(pread(fa, buf, sizeof buf - 1, 0), 0);
    ck_assert_str_eq(buf, "libleak: one\nlibleak: four\n");
    close(fa);
    close(fb);
    unlink(a);
    unlink(b);
    rmdir(tmp);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_valid_values);
    tcase_add_test(tc, test_config_watermark_percent);
    tcase_add_test(tc, test_config_bad_values_warn_once_each_and_default);
    tcase_add_test(tc, test_config_quiet_silences_warnings);
    tcase_add_test(tc, test_config_reload_restores_defaults);
    tcase_add_test(tc, test_config_parse_bytes);
    tcase_add_test(tc, test_config_strings_copied);
    tcase_add_test(tc, test_config_string_too_long);
    tcase_add_test(tc, test_config_unknown_names);
    tcase_add_test(tc, test_config_check_dir);
    suite_add_tcase(s, tc);

    tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_log_file);
    tcase_add_test(tc, test_log_file_unopenable);
    tcase_add_test(tc, test_log_stderr_replaced);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(config_suite)
