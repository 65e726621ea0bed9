/* report_common.c - what every report format shares and nothing else: which
 * leaks --top/--min-bytes/--show let through, a kind's words, the gate's
 * totals, and the JSON frames array.
 * Below every report file, so no report calls another for these. */
#include <inttypes.h>
#include <stdio.h>

#include <jansson.h>

#include "model.h"

/* A leak is shown unless suppressed, of a hidden kind, too small, or past --top. */
bool lk_report_is_shown(const lk_leak_t *l, size_t rank, const lk_options_t *opt)
{
    if (l->suppressed_by != NULL || (opt->show_kinds & (1u << l->kind)) == 0)
        return false;
    if (l->bytes < opt->min_bytes)
        return false;
    return opt->top == 0 || rank < opt->top;
}


const char *lk_kind_lead(lk_kind_t k)
{
    static const char *const leads[LK_KIND_COUNT] = {
        "Unfreed:", "Direct leak of", "Indirect leak of", "Possible leak of", "Still reachable:",
    };
    return (unsigned)k < LK_KIND_COUNT ? leads[k] : "?";
}

/* Build the JSON frames array of a report: {function, file, line, module,
 * address, inlined}, plus "offset" when only module+offset is known.  NULL
 * members become JSON null.  Returns a new reference, or NULL on ENOMEM. */
json_t *lk_json_frames(const lk_frame_t *f, size_t n)
{
    json_t *a = json_array();
    char addr[24];

    for (size_t i = 0; a != NULL && i < n; i++) {
        snprintf(addr, sizeof(addr), "0x%" PRIx64, f[i].address);
        json_t *o = json_pack("{s:s?, s:s?, s:i, s:s?, s:s, s:b}",
                              "function", f[i].function, "file", f[i].file,
                              "line", f[i].line, "module", f[i].module,
                              "address", addr, "inlined", f[i].inlined);
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        if (f[i].function == NULL && f[i].module != NULL) {
            snprintf(addr, sizeof(addr), "0x%" PRIx64, f[i].offset);
            json_object_set_new(o, "offset", json_string(addr));
        }
    }
    return a;
}

void lk_report_counted(const uint64_t *kind_bytes, const uint64_t *kind_blocks,
                       const lk_options_t *opt, uint64_t *bytes, uint64_t *blocks)
{
    *bytes = *blocks = 0;
    for (int k = 0; k < LK_KIND_COUNT; k++)
        if (opt->fail_kinds & (1u << k)) {
            *bytes = lk_sat_add(*bytes, kind_bytes[k]);
            *blocks = lk_sat_add(*blocks, kind_blocks[k]);
        }
}
