/* fuzz_svg.c - libFuzzer target for the SVG writer fed loaded timelines
 * (`make fuzz`).  A dump that loads is run through the leaks and growth
 * passes and drawn; the chart must stay under a fixed size (a tick loop
 * that never ends is a crash here, not a full disk). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SVG_CAP (4u << 20)

static ssize_t count_write(void *cookie, const char *buf, size_t n)
{
    size_t *total = cookie;
    (void)buf;
    *total += n;
    if (*total > SVG_CAP)
        __builtin_trap();   /* unbounded output */
    return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lk_symbolizer_t *sym;
    char err[512] = "";
    lk_dump_t *d = NULL;

    if (sym == NULL && (sym = lk_symbolizer_new(fopen("/dev/null", "w"))) == NULL)
        abort();
    if (lk_load_buffer("fuzz.json", (const char *)data, size, &d, err, sizeof(err)) != 0)
        return 0;
    lk_input_t in = { 0 };
    lk_report_t r = { 0 };
    lk_options_t opt = { .builtin_suppressions = false, .show_kinds = ~0u, .fail_kinds = ~0u };
    in.dumps = malloc(sizeof(*in.dumps));
    if (in.dumps == NULL) {
        lk_dump_free(d);
        return 0;
    }
    in.dumps[0] = d;
    in.ndumps = 1;
    if (lk_input_group(&in, err, sizeof(err)) == 0 && lk_leaks_collect(&r, &in, sym, &opt) == 0
        && lk_growth_run(&r, &in, sym) == 0 && lk_overflow_run(&r, &in, sym) == 0) {
        size_t total = 0;
        cookie_io_functions_t io = { .write = count_write };
        FILE *out = fopencookie(&total, "w", io);
        if (out != NULL) {
            lk_report_svg(out, &r);
            fclose(out);
        }
    }
    lk_growth_free(&r);
    lk_report_free(&r);
    lk_input_free(&in);
    return 0;
}
