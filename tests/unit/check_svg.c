/* check_svg.c - the SVG chart is one well-formed document with a line per
 * series, escaped labels, and the limit drawn only when it is in view;
 * its y ticks are round numbers of one human unit; its legend stays
 * distinct and within the picture; the total is drawn under the sites. */
#include "testhelper.h"
#include "svg.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static char *render(const lk_svg_series_t *s, size_t n, double limit)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(lk_svg_chart(f, "a <title> & more", s, n, limit), 0);
    fclose(f);
    return buf;
}

START_TEST(test_svg_series_and_escaping)
{
    double t[3] = { 0, 1, 2 }, total[3] = { 100, 2000, 4000 }, site[3] = { 0, 1000, 3000 };
    lk_svg_series_t s[2] = {
        { "total", t, total, 3, NULL },
        { "operator<< (vec.cc:12)", t, site, 3, NULL },
    };
    char *svg = render(s, 2, 5000);
    ck_assert(strncmp(svg, "<?xml", 5) == 0);
    ck_assert_uint_eq(count(svg, "<polyline"), 2);
    ck_assert_ptr_nonnull(strstr(svg, "operator&lt;&lt; (vec.cc:12)"));
    ck_assert_ptr_nonnull(strstr(svg, "a &lt;title&gt; &amp; more"));
    ck_assert_ptr_null(strstr(svg, "operator<<"));
    ck_assert_ptr_nonnull(strstr(svg, "limit 4.9 KiB"));
    /* the site is drawn after the total, thinner and on top */
    const char *tl = strstr(svg, "series-total"), *sl = strstr(svg, "series-site");
    ck_assert_ptr_nonnull(tl);
    ck_assert_ptr_nonnull(sl);
    ck_assert(sl > tl);
    ck_assert_ptr_nonnull(strstr(svg, "</svg>\n"));
    free(svg);
}
END_TEST

START_TEST(test_svg_far_limit_and_empty)
{
    double t[2] = { 0, 1 }, b[2] = { 10, 20 };
    lk_svg_series_t s = { "total", t, b, 2, NULL };
    char *svg = render(&s, 1, 1e12);   /* far above the data: named, not drawn */
    ck_assert_ptr_null(strstr(svg, "class=\"limit\""));
    ck_assert_ptr_nonnull(strstr(svg, "limit 931 GiB, above the chart</text>"));
    free(svg);
    svg = render(NULL, 0, 0);         /* no data still makes a valid document */
    ck_assert_uint_eq(count(svg, "<polyline"), 0);
    ck_assert_ptr_nonnull(strstr(svg, "</svg>"));
    free(svg);
}
END_TEST

/* Ticks of 'max' bytes: the unit, the step in it, the top. */
static void ticks_are(double max, const char *unit, double step, double top)
{
    lk_svg_ticks_t t;
    lk_svg_yticks(max, &t);
    ck_assert_msg(strcmp(t.unit_name, unit) == 0 && fabs(t.step - step) < 1e-9
                  && fabs(t.top - top) < 1e-9,
                  "%.0f bytes: %g %s steps to %g, want %g %s to %g", max, t.step, t.unit_name,
                  t.top, step, unit, top);
    ck_assert(t.top * t.unit >= max);
    ck_assert_uint_eq(t.count, (size_t)llround(t.top / t.step) + 1);
}

START_TEST(test_svg_ticks_round_human_units)
{
    /* the demo's 191 MiB peak used to give 48/95/143/191 MiB */
    ticks_are(191.0 * 1048576, "MiB", 50, 200);
    ticks_are(137.0 * 1048576, "MiB", 20, 140);
    ticks_are(586.0 * 1024, "KiB", 100, 600);
    ticks_are(1.5 * 1048576, "MiB", 0.2, 1.6);
    ticks_are(900, "B", 200, 1000);
    ticks_are(3, "B", 1, 3);
    ticks_are(0, "B", 1, 1);             /* no data: one byte of axis */
    ticks_are(5.0 * 1073741824, "GiB", 1, 5);
    ticks_are(1023.0 * 1024, "KiB", 200, 1200);
}
END_TEST

START_TEST(test_svg_tick_labels)
{
    lk_svg_ticks_t t;
    char buf[32];
    lk_svg_yticks(1.5 * 1048576, &t);
    ck_assert_str_eq(lk_svg_tick_label(&t, 0, buf, sizeof(buf)), "0");
    ck_assert_str_eq(lk_svg_tick_label(&t, 1, buf, sizeof(buf)), "0.2 MiB");
    ck_assert_str_eq(lk_svg_tick_label(&t, 3, buf, sizeof(buf)), "0.6 MiB");
    lk_svg_yticks(191.0 * 1048576, &t);
    ck_assert_str_eq(lk_svg_tick_label(&t, 4, buf, sizeof(buf)), "200 MiB");
    /* every step of every scale is 1, 2 or 5 times a power of ten */
    for (double m = 1; m < 1e19; m *= 1.37) {
        lk_svg_yticks(m, &t);
        double mant = t.step / pow(10.0, floor(log10(t.step)));
        ck_assert_msg(fabs(mant - 1) < 1e-9 || fabs(mant - 2) < 1e-9 || fabs(mant - 5) < 1e-9,
                      "%g bytes: step %g %s", m, t.step, t.unit_name);
        ck_assert(t.count >= 2 && t.count <= 12);
    }
}
END_TEST

START_TEST(test_svg_legend_distinct_and_fitted)
{
    static const char longname[] =
        "std::_Rb_tree<std::__cxx11::basic_string<char, std::char_traits<char>, "
        "std::allocator<char> >, std::pair<std::__cxx11::basic_string<char> const, "
        "std::vector<int, std::allocator<int> > > >::_M_emplace_hint_unique_and_more_words";
    double t[2] = { 0, 1 }, b[2] = { 10, 20 };
    lk_svg_series_t s[4] = {
        { "total", t, b, 2, NULL },
        { longname, t, b, 2, "map.cc:10" },
        { longname, t, b, 2, "map.cc:10" },     /* reads the same */
        { "growing: f\x01]]>\"'", t, b, 2, NULL },
    };
    char *svg = render(s, 4, 0);
    /* the full name is in a <title>, escaped; the legend text is shortened */
    ck_assert_ptr_nonnull(strstr(svg, "_M_emplace_hint_unique_and_more_words (map.cc:10)</title>"));
    ck_assert_ptr_nonnull(strstr(svg, "std::_Rb_tree&lt;...&gt;::_M_emplace_hint"));
    ck_assert_ptr_nonnull(strstr(svg, "(map.cc:10) #2</text>"));
    ck_assert_ptr_null(strstr(svg, "]]>"));
    ck_assert_ptr_null(strstr(svg, "\x01"));
    ck_assert_ptr_nonnull(strstr(svg, "growing: f\\x01]]&gt;&quot;&apos;"));
    free(svg);
}
END_TEST

START_TEST(test_svg_marks_and_embed)
{
    double t[3] = { 0, 1, 2 }, b[3] = { 100, 2000, 4000 };
    lk_svg_series_t s = { "total", t, b, 3, NULL };
    lk_svg_mark_t fail = { 1.5, 3000, "malloc(64 TiB)", "malloc(64 TiB) failed at 1.50 s" };
    lk_svg_mark_t snaps[2] = { { 0, 100, NULL, "dump 0" }, { 2, 4000, NULL, "dump 1" } };
    lk_svg_opts_t o = { .limit_bytes = 5000, .limit_label = "RLIMIT_AS", .failures = &fail,
                        .nfailures = 1, .snapshots = snaps, .nsnapshots = 2, .pid = 42,
                        .embed = true };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(lk_svg_chart_opts(f, "t", &s, 1, &o), 0);
    fclose(f);
    ck_assert(strncmp(buf, "<svg ", 5) == 0);        /* no prolog when embedded */
    ck_assert_ptr_nonnull(strstr(buf, "data-pid=\"42\""));
    ck_assert_uint_eq(count(buf, "class=\"failure\""), 1);
    ck_assert_uint_eq(count(buf, "class=\"snapshot\""), 2);
    ck_assert_ptr_nonnull(strstr(buf, "RLIMIT_AS 4.9 KiB</text>"));
    ck_assert_ptr_nonnull(strstr(buf, "<title>malloc(64 TiB) failed at 1.50 s</title>"));
    ck_assert_uint_eq(count(buf, "class=\"point\""), 3);
    ck_assert_ptr_nonnull(strstr(buf, "<title>total: 3.9 KiB at 2.00 s</title>"));
    ck_assert_ptr_nonnull(strstr(buf, "class=\"axis-title-y\""));
    ck_assert_ptr_nonnull(strstr(buf, "time since start (s)"));
    free(buf);
}
END_TEST

static Suite *svg_suite(void)
{
    Suite *s = suite_create("svg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_svg_series_and_escaping);
    tcase_add_test(tc, test_svg_far_limit_and_empty);
    tcase_add_test(tc, test_svg_legend_distinct_and_fitted);
    tcase_add_test(tc, test_svg_marks_and_embed);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("ticks");
    tcase_add_test(tk, test_svg_ticks_round_human_units);
    tcase_add_test(tk, test_svg_tick_labels);
    suite_add_tcase(s, tk);
    return s;
}

LK_TEST_MAIN(svg_suite)
