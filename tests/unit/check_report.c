/* check_report.c - the text and folded reports' presentation: byte figures
 * in human units beside the exact count, C++ template arguments shortened
 * (kept with --full-names), color only when asked, and folded stacks merged. */
#include "testhelper.h"
#include "model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *bytes(uint64_t v)
{
    static char buf[96];
    return lk_fmt_bytes(buf, sizeof(buf), v);
}

START_TEST(test_fmt_bytes)
{
    ck_assert_str_eq(bytes(0), "0 bytes");
    ck_assert_str_eq(bytes(1), "1 byte");
    ck_assert_str_eq(bytes(213), "213 bytes");
    ck_assert_str_eq(bytes(1023), "1,023 bytes");
    ck_assert_str_eq(bytes(1024), "1.0 KiB (1,024 bytes)");
    ck_assert_str_eq(bytes(4075), "4.0 KiB (4,075 bytes)");
    ck_assert_str_eq(bytes(15 * 1024 + 100), "15 KiB (15,460 bytes)");
    ck_assert_str_eq(bytes(184379008), "176 MiB (184,379,008 bytes)");
    ck_assert_str_eq(bytes(1048575), "1.0 MiB (1,048,575 bytes)");
    ck_assert_str_eq(bytes(UINT64_MAX), "16 EiB (18,446,744,073,709,551,615 bytes)");
    char small[8];
    lk_fmt_count(small, sizeof(small), 123456789);   /* cut, still terminated */
    ck_assert_uint_eq(strlen(small), 7);
}
END_TEST

static const char *shortn(const char *name)
{
    static char buf[512];
    size_t n = lk_short_name(buf, sizeof(buf), name);
    ck_assert_uint_eq(n, strlen(buf));
    return buf;
}

START_TEST(test_short_name)
{
    ck_assert_str_eq(shortn("std::vector<std::pair<int, int>, std::allocator<std::pair<int, int> > >"
                            "::push_back(std::pair<int, int> const&)"),
                     "std::vector<...>::push_back(std::pair<int, int> const&)");
    ck_assert_str_eq(shortn("std::map<int, int>::operator[](int const&)"),
                     "std::map<int, int>::operator[](int const&)");
    ck_assert_str_eq(shortn("Foo<std::basic_string<char> >::bar()"), "Foo<...>::bar()");
    ck_assert_str_eq(shortn("Foo<averyveryverylongtypename_x>::bar()"), "Foo<...>::bar()");
    ck_assert_str_eq(shortn("operator<<(std::ostream&, Foo const&)"),
                     "operator<<(std::ostream&, Foo const&)");
    ck_assert_str_eq(shortn("bool operator< <Foo<Bar<int> > >(Foo const&, Foo const&)"),
                     "bool operator< <...>(Foo const&, Foo const&)");
    ck_assert_str_eq(shortn("Ptr<int>::operator->()"), "Ptr<int>::operator->()");
    ck_assert_str_eq(shortn("a<b"), "a<b");   /* unbalanced: unchanged */
    ck_assert_str_eq(shortn("plain_c_function"), "plain_c_function");
    char tiny[6];
    ck_assert_uint_eq(lk_short_name(tiny, sizeof(tiny), "abcdefgh"), 8);
    ck_assert_str_eq(tiny, "abcde");
}
END_TEST

#define LONG_FN "std::vector<std::pair<int, int>, std::allocator<std::pair<int, int> > >::push_back"

static lk_frame_t frames_a[] = {
    { .address = 0x10, .function = LONG_FN, .file = "src/a.cc", .line = 7 },
    { .address = 0x20, .function = "main", .file = "src/main.cc", .line = 3 },
};
static lk_frame_t frames_b[] = {
    { .address = 0x11, .function = LONG_FN, .file = "src/a.cc", .line = 9 },
    { .address = 0x21, .function = "main", .file = "src/main.cc", .line = 4 },
};

static void make_report(lk_report_t *r, lk_leak_t *leaks, lk_proc_summary_t *ps)
{
    memset(r, 0, sizeof(*r));
    memset(ps, 0, sizeof(*ps));
    ps->pid = 42;
    leaks[0] = (lk_leak_t){ .pid = 42, .kind = LK_KIND_UNFREED, .bytes = 184379008,
                            .blocks = 3, .frames = frames_a, .nframes = 2 };
    leaks[1] = (lk_leak_t){ .pid = 42, .kind = LK_KIND_UNFREED, .bytes = 1000,
                            .blocks = 1, .frames = frames_b, .nframes = 2 };
    r->leaks = leaks;
    r->nleaks = 2;
    r->procs = ps;
    r->nprocs = 1;
    r->leaked_bytes = 184380008;
    r->leaked_blocks = 4;
    r->kind_bytes[LK_KIND_UNFREED] = 184380008;
    r->kind_blocks[LK_KIND_UNFREED] = 4;
}

static char *render(int (*fn)(FILE *, const lk_report_t *, const lk_options_t *),
                    const lk_options_t *opt)
{
    lk_report_t r;
    lk_leak_t leaks[2];
    lk_proc_summary_t ps;
    char *buf = NULL;
    size_t len = 0;

    make_report(&r, leaks, &ps);
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fn(f, &r, opt), 0);
    fclose(f);
    return buf;
}

START_TEST(test_text_units_names_color)
{
    lk_options_t opt = { .show_kinds = 1u << LK_KIND_UNFREED,
                         .fail_kinds = 1u << LK_KIND_UNFREED };
    char *t = render(lk_report_text, &opt);
    ck_assert_ptr_nonnull(strstr(t, "Leaked: 176 MiB (184,380,008 bytes) in 4 allocations.\n"));
    /* the machine-readable line is LSan's, unchanged, and last */
    ck_assert_ptr_nonnull(strstr(t, "\nSUMMARY: libleak: 184380008 byte(s) leaked in 4 "
                                    "allocation(s).\n"));
    ck_assert_ptr_nonnull(strstr(t, " in std::vector<...>::push_back src/a.cc:7\n"));
    ck_assert_ptr_null(strstr(t, "std::allocator"));
    ck_assert_ptr_null(strchr(t, '\033'));
    free(t);

    opt.full_names = true;
    opt.color = true;
    t = render(lk_report_text, &opt);
    ck_assert_ptr_nonnull(strstr(t, LONG_FN));
    ck_assert_ptr_nonnull(strstr(t, "\033[1;31mUnfreed: 184379008"));
    ck_assert_ptr_nonnull(strstr(t, "SUMMARY: libleak: 184380008 byte(s) leaked in 4 "
                                    "allocation(s).\033[0m\n"));
    free(t);
}
END_TEST

START_TEST(test_folded_merge_and_lines)
{
    lk_options_t opt = { .show_kinds = 1u << LK_KIND_UNFREED };
    char *t = render(lk_report_folded, &opt);
    /* same functions, other lines: one stack with the bytes summed */
    ck_assert_str_eq(t, "main;std::vector<...>::push_back 184380008\n");
    free(t);

    opt.folded_lines = true;
    opt.full_names = true;
    t = render(lk_report_folded, &opt);
    /* a space would end the stack for flamegraph.pl */
#define FOLDED_FN "std::vector<std::pair<int,_int>,_std::allocator<std::pair<int,_int>_>_>::push_back"
    ck_assert_str_eq(t, "main[main.cc:3];" FOLDED_FN "[a.cc:7] 184379008\n"
                        "main[main.cc:4];" FOLDED_FN "[a.cc:9] 1000\n");
    free(t);
}
END_TEST

START_TEST(test_structure_names_or_counts_members)
{
    static lk_frame_t fr[6] = {
        { .function = "head_fn", .file = "s.c", .line = 1 },
        { .function = "m1", .file = "s.c", .line = 2 },
        { .function = "m2", .file = "s.c", .line = 3 },
        { .function = "m3", .file = "s.c", .line = 4 },
        { .function = "m4", .file = "s.c", .line = 5 },
        { .function = "m5", .file = "s.c", .line = 6 },
    };
    lk_site_ref_t members[5];
    for (size_t i = 0; i < 5; i++)
        members[i] = (lk_site_ref_t){ .has_stack = true, .stack_id = 10 + i, .blocks = i + 1,
                                      .bytes = 16 * (i + 1), .frames = &fr[i + 1], .nframes = 1 };
    lk_structure_report_t st = {
        .pid = 42, .count = 1, .blocks = 16, .bytes = 256,
        .head = { .has_stack = true, .stack_id = 1, .blocks = 1, .bytes = 16,
                  .frames = &fr[0], .nframes = 1 },
        .members = members, .nmembers = 5,
    };
    lk_report_t r = { .structures = &st, .nstructures = 1 };
    lk_options_t opt = { .show_kinds = 1u << LK_KIND_DEFINITE };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    lk_report_reach_text(f, &r, &opt, 42, 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "headed by head_fn at s.c:1, holding 1 from m1 at s.c:2, "
                                      "2 from m2 at s.c:3, 3 from m3 at s.c:4, and 9 from 2 "
                                      "more sites\n"));
    free(buf);

    st.nmembers = 3;   /* all named: no "more" */
    buf = NULL;
    f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    lk_report_reach_text(f, &r, &opt, 42, 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "3 from m3 at s.c:4\n"));
    ck_assert_ptr_null(strstr(buf, "more"));
    free(buf);
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_fmt_bytes);
    tcase_add_test(tc, test_short_name);
    tcase_add_test(tc, test_text_units_names_color);
    tcase_add_test(tc, test_folded_merge_and_lines);
    tcase_add_test(tc, test_structure_names_or_counts_members);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(report_suite)
