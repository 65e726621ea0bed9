/* check_config.c - LIBLEAK_* parsing through a fake environment: defaults,
 * valid values, each bad value -> exactly one warning line and the default,
 * LIBLEAK_QUIET silencing warnings, and the byte-count parser. */
#include <errno.h>
#include <string.h>

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

static void setup(void)
{
    env_n = 0;
    log_len = 0;
    log_lines = 0;
    logbuf[0] = '\0';
    lk_log_write = capture_write;
}

START_TEST(test_config_defaults)
{
    ck_assert_int_eq(lk_config_load(fake_getenv), 0);
    ck_assert_str_eq(lk_config.dir, ".");
    ck_assert_int_eq(lk_config.max_depth, 32);
    ck_assert_int_eq(lk_config.signal, 10);
    ck_assert_int_eq(lk_config.interval_ms, 0);
    ck_assert_uint_eq(lk_config.watermark_bytes, 0);
    ck_assert_uint_eq(lk_config.watermark_percent, 0);
    ck_assert_uint_eq(lk_config.sample_bytes, 0);
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
    ck_assert_str_eq(lk_config.dir, ".");
    ck_assert_int_eq(lk_config.max_depth, 32);
    ck_assert_int_eq(lk_config.signal, 10);
    ck_assert_int_eq(lk_config.interval_ms, 0);
    ck_assert_uint_eq(lk_config.watermark_bytes, 0);
    ck_assert_uint_eq(lk_config.watermark_percent, 0);
    ck_assert_uint_eq(lk_config.sample_bytes, 0);
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
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(config_suite)
