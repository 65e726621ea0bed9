/* check_modules.c - modules unloaded before the dump (dlclose): the loader
 * reads their unload keys, and the symbolizer gives each frame the module
 * that was mapped at its address when its stack was captured, though
 * unloaded and later modules share addresses. */
#include <stdio.h>
#include <string.h>

#include "helpers_analyzer.h"
#include "testhelper.h"

/* Three modules were mapped at 0x7000 one after the other: liba.so until
 * stack 2 was interned, libb.so until stack 4, and libc.so is mapped now.
 * Stacks 0, 3 and 5 have the same frame. */
static const char overlap_dump[] =
    "{\"format\": \"libleak-dump\", \"version\": 1, \"tool_version\": \"0.1.0\","
    " \"process\": {\"pid\": 4242, \"ppid\": 1, \"exe\": \"/usr/bin/app\", \"start_unix_ms\": 5},"
    " \"dump\": {\"seq\": 0, \"trigger\": \"exit\", \"label\": null, \"uptime_ns\": 100},"
    " \"limits\": {\"phys_bytes\": 1000, \"effective_bytes\": 1000},"
    " \"totals\": {\"live_bytes\": 0, \"live_blocks\": 0, \"complete\": true},"
    " \"modules\": ["
    "   {\"path\": \"/nonexistent/libc.so\", \"base\": \"0x7000\", \"size\": 4096},"
    "   {\"path\": \"/nonexistent/libb.so\", \"base\": \"0x7000\", \"size\": 8192,"
    "    \"load_uptime_ns\": 30, \"unload_uptime_ns\": 40, \"stacks_before_unload\": 4},"
    "   {\"path\": \"/nonexistent/liba.so\", \"base\": \"0x7000\", \"size\": 4096,"
    "    \"load_uptime_ns\": 10, \"unload_uptime_ns\": 20, \"stacks_before_unload\": 2}],"
    " \"stacks\": [{\"id\": 0, \"frames\": [\"0x7101\"], \"truncated\": false},"
    "             {\"id\": 3, \"frames\": [\"0x7101\"], \"truncated\": false},"
    "             {\"id\": 5, \"frames\": [\"0x7101\"], \"truncated\": false}],"
    " \"sites\": []}";

START_TEST(test_modules_load_unloaded)
{
    lk_dump_t *d = load_ok(overlap_dump);
    ck_assert_uint_eq(d->nmodules, 3);
    ck_assert(!d->modules[0].unloaded);
    ck_assert(d->modules[1].unloaded);
    ck_assert_uint_eq(d->modules[1].stacks_before_unload, 4);
    ck_assert_uint_eq(d->modules[1].load_uptime_ns, 30);
    ck_assert_uint_eq(d->modules[1].unload_uptime_ns, 40);
    lk_dump_free(d);
}
END_TEST

/* An unloaded module without its times is an input error naming the key. */
START_TEST(test_modules_unloaded_needs_times)
{
    char text[sizeof overlap_dump], err[512] = "";
    strcpy(text, overlap_dump);
    char *k = strstr(text, "\"load_uptime_ns\": 30");
    ck_assert_ptr_nonnull(k);
    memcpy(k, "\"load_uptimX_ns\"", 16);
    lk_dump_t *d = NULL;
    ck_assert_int_lt(lk_load_buffer("dump.json", text, strlen(text), &d, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "modules[1].load_uptime_ns") != NULL, "%s", err);
}
END_TEST

/* Each stack's frame goes to the module mapped when it was interned. */
START_TEST(test_modules_pick_by_stack_time)
{
    lk_dump_t *d = load_ok(overlap_dump);
    FILE *warn = fopen("/dev/null", "w");
    lk_symbolizer_t *s = lk_symbolizer_new(warn);
    ck_assert_ptr_nonnull(s);
    static const char *const want[] = { "/nonexistent/liba.so", "/nonexistent/libb.so",
                                        "/nonexistent/libc.so" };
    for (size_t i = 0; i < 3; i++) {
        lk_frame_t *f = NULL;
        size_t n = 0;
        ck_assert_int_eq(lk_symbolize_stack(s, d, &d->stacks[i], &f, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_ptr_nonnull(f[0].module);
        ck_assert_msg(strcmp(f[0].module, want[i]) == 0, "stack %zu: %s, want %s", i,
                      f[0].module, want[i]);
        ck_assert_uint_eq(f[0].offset, 0x100);
        free(f);
    }
    lk_symbolizer_free(s);
    fclose(warn);
    lk_dump_free(d);
}
END_TEST

static Suite *modules_suite(void)
{
    Suite *s = suite_create("modules");
    TCase *tc = tcase_create("unloaded");
    tcase_add_test(tc, test_modules_load_unloaded);
    tcase_add_test(tc, test_modules_unloaded_needs_times);
    tcase_add_test(tc, test_modules_pick_by_stack_time);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(modules_suite)
