/* check_svg.c - the SVG chart is one well-formed document with a line per
 * series, escaped labels, and the limit drawn only when it is in view. */
#include "testhelper.h"
#include "svg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static char *render(const la_svg_series_t *s, size_t n, double limit)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(la_svg_chart(f, "a <title> & more", s, n, limit), 0);
    fclose(f);
    return buf;
}

START_TEST(test_svg_series_and_escaping)
{
    double t[3] = { 0, 1, 2 }, total[3] = { 100, 2000, 4000 }, site[3] = { 0, 1000, 3000 };
    la_svg_series_t s[2] = {
        { "total", t, total, 3 },
        { "operator<< (vec.cc:12)", t, site, 3 },
    };
    char *svg = render(s, 2, 5000);
    ck_assert(strncmp(svg, "<?xml", 5) == 0);
    ck_assert_uint_eq(count(svg, "<polyline"), 2);
    ck_assert_ptr_nonnull(strstr(svg, "operator&lt;&lt; (vec.cc:12)"));
    ck_assert_ptr_nonnull(strstr(svg, "a &lt;title&gt; &amp; more"));
    ck_assert_ptr_null(strstr(svg, "operator<<"));
    ck_assert_ptr_nonnull(strstr(svg, "limit 4.9 KiB"));
    ck_assert_ptr_nonnull(strstr(svg, "</svg>\n"));
    free(svg);
}
END_TEST

START_TEST(test_svg_far_limit_and_empty)
{
    double t[2] = { 0, 1 }, b[2] = { 10, 20 };
    la_svg_series_t s = { "total", t, b, 2 };
    char *svg = render(&s, 1, 1e12);   /* far above the data: not drawn */
    ck_assert_ptr_null(strstr(svg, "limit "));
    free(svg);
    svg = render(NULL, 0, 0);         /* no data still makes a valid document */
    ck_assert_uint_eq(count(svg, "<polyline"), 0);
    ck_assert_ptr_nonnull(strstr(svg, "</svg>"));
    free(svg);
}
END_TEST

static Suite *svg_suite(void)
{
    Suite *s = suite_create("svg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_svg_series_and_escaping);
    tcase_add_test(tc, test_svg_far_limit_and_empty);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(svg_suite)
