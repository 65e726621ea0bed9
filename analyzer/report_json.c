/* report_json.c - leak-analyze's machine-readable report (docs/FORMAT.md,
 * "leak-analyze JSON report").  One object: format, version, summary,
 * processes, leaks, mismatches, suppressions, warnings.  Later passes add
 * one top-level array each (growth, failures, structures, held_by) through
 * one function here.  Lists every leak, including suppressed ones (marked),
 * regardless of --top/--min-bytes. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model.h"

/* "leaks" is written by stream_leaks(), not built as a tree; the report
 * object holds this string in its place until then. */
#define LEAKS_PLACEHOLDER "\001leaks\001"
#define LEAKS_PLACEHOLDER_JSON "\"\\u0001leaks\\u0001\""

/* Write 's' as a JSON string: escapes, and '?' for bytes that are not valid
 * UTF-8 (DWARF strings are not guaranteed to be). NULL is null. */
static void put_jstr(FILE *out, const char *s)
{
    if (s == NULL) {
        fputs("null", out);
        return;
    }
    putc('"', out);
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            putc('\\', out);
            putc(c, out);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            putc(c, out);
            p++;
        } else {
            int len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            int k = 1;
            while (len > 0 && k < len && (p[k] & 0xc0) == 0x80)
                k++;
            if (len == 0 || k < len) {
                putc('?', out);
                p++;
            } else {
                fwrite(p, 1, (size_t)len, out);
                p += len;
            }
        }
    }
    putc('"', out);
}

static void stream_frames(FILE *out, const lk_frame_t *f, size_t n)
{
    putc('[', out);
    for (size_t i = 0; i < n; i++) {
        fputs(i == 0 ? "\n        {\"function\": " : ",\n        {\"function\": ", out);
        put_jstr(out, f[i].function);
        fputs(", \"file\": ", out);
        put_jstr(out, f[i].file);
        fprintf(out, ", \"line\": %d, \"module\": ", f[i].line);
        put_jstr(out, f[i].module);
        fprintf(out, ", \"address\": \"0x%" PRIx64 "\", \"inlined\": %s", f[i].address,
                f[i].inlined ? "true" : "false");
        if (f[i].function == NULL && f[i].module != NULL)
            fprintf(out, ", \"offset\": \"0x%" PRIx64 "\"", f[i].offset);
        putc('}', out);
    }
    fputs(n > 0 ? "\n      ]" : "]", out);
}

/* A rule's kind as a suppressions file names it. */
static const char *supp_type(const lk_supp_t *s)
{
    return s->builtin != NULL ? "builtin" : s->frames != NULL ? "leak-stack" : "leak";
}

/* Write the "leaks" array (docs/FORMAT.md), one object per leak, frames one
 * per line; keys in the order the tree version had. */
static void stream_leaks(FILE *out, const lk_report_t *r)
{
    putc('[', out);
    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        fprintf(out, "%s\n    {\n      \"kind\": \"%s\", \"pid\": %d, \"image\": %u, "
                "\"family\": \"%s\", \"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64 ", "
                "\"stack\": %" PRIu64 ",\n      \"frames\": ", i == 0 ? "" : ",",
                lk_kind_name(l->kind), l->pid, l->image, lk_family_name(l->family), l->bytes,
                l->blocks, l->stack_id);
        stream_frames(out, l->frames, l->nframes);
        if (l->suppressed_by != NULL) {
            fputs(",\n      \"suppressed_by\": {\"pattern\": ", out);
            put_jstr(out, l->suppressed_by->pattern);
            fprintf(out, ", \"type\": \"%s\"", supp_type(l->suppressed_by));
            fputs(", \"source\": ", out);
            char *source = lk_escape_dup(l->suppressed_by->source);
            put_jstr(out, source != NULL ? source : "?");
            free(source);
            fprintf(out, ", \"line\": %d}", l->suppressed_by->line);
        }
        if (r->has_baseline && l->suppressed_by == NULL) {
            fprintf(out, ",\n      \"baseline\": \"%s\"",
                    l->is_new ? "new" : l->has_grown ? "grown" : "known");
            if (l->has_grown)
                fprintf(out, ", \"baseline_bytes\": %" PRIu64, l->baseline_bytes);
        }
        fputs("\n    }", out);
    }
    fputs(r->nleaks > 0 ? "\n  ]" : "]", out);
}

static json_t *mismatches_json(const lk_report_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->nmismatches; i++) {
        const lk_mismatch_report_t *m = &r->mismatches[i];
        json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:I, s:o, s:o}", "pid", m->pid,
                              "alloc_family", lk_family_name(m->alloc_family),
                              "free_family", lk_family_name(m->free_family),
                              "count", (json_int_t)m->count, "bytes", (json_int_t)m->bytes,
                              "alloc_frames", lk_json_frames(m->alloc_frames, m->nalloc),
                              "free_frames", lk_json_frames(m->free_frames, m->nfree));
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *procs_json(const lk_report_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->nprocs; i++) {
        const lk_proc_summary_t *p = &r->procs[i];
        json_t *o = json_pack("{s:i, s:i, s:i, s:s?, s:s?, s:I, s:I, s:s, s:b, s:I, s:I, s:I, "
                              "s:I, s:I}",
                              "pid", p->pid, "image", (int)p->image, "ppid", p->ppid,
                              "exe", p->exe, "name", p->name,
                              "dumps", (json_int_t)p->ndumps,
                              "final_seq", (json_int_t)p->final_seq,
                              "final_trigger", p->final_trigger, "complete", p->complete,
                              "leaked_bytes", (json_int_t)p->leaked_bytes,
                              "leaked_blocks", (json_int_t)p->leaked_blocks,
                              "leak_sites", (json_int_t)p->leak_sites,
                              "suppressed_bytes", (json_int_t)p->suppressed_bytes,
                              "suppressed_blocks", (json_int_t)p->suppressed_blocks);
        if (o != NULL && p->crash_signal != 0) {
            json_t *c = json_pack("{s:i, s:s, s:i, s:I, s:o}", "signal", p->crash_signal,
                                  "signal_name", lk_signal_name(p->crash_signal),
                                  "code", p->crash_code, "tid", (json_int_t)p->crash_tid,
                                  "frames", lk_json_frames(p->crash_frames, p->ncrash_frames));
            if (c != NULL && p->crash_has_addr) {
                char addr[32];
                snprintf(addr, sizeof(addr), "0x%" PRIx64, p->crash_addr);
                json_object_set_new(c, "address", json_string(addr));
            }
            if (c == NULL || json_object_set_new(o, "crash", c) < 0) {
                json_decref(o);
                o = NULL;
            }
        }
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *supps_json(const lk_report_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->supps.n; i++) {
        const lk_supp_t *s = &r->supps.v[i];
        char *source = lk_escape_dup(s->source);   /* a file name: any bytes */
        json_t *o = source == NULL ? NULL
                  : json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I}", "pattern", s->pattern,
                              "type", supp_type(s),
                              "source", source, "line", s->line,
                              "hits", (json_int_t)s->hits, "bytes", (json_int_t)s->bytes,
                              "blocks", (json_int_t)s->blocks);
        free(source);
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *summary_json(const lk_report_t *r)
{
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s?}",
                          "processes", (json_int_t)r->nprocs,
                          "leaked_bytes", (json_int_t)r->leaked_bytes,
                          "leaked_blocks", (json_int_t)r->leaked_blocks,
                          "leak_sites", (json_int_t)r->leak_sites,
                          "suppressed_bytes", (json_int_t)r->suppressed_bytes,
                          "suppressed_blocks", (json_int_t)r->suppressed_blocks,
                          "suppressed_sites", (json_int_t)r->suppressed_sites,
                          "mismatches", (json_int_t)r->nmismatches,
                          "gate_failed", r->gate_failed,
                          "gate_reason", r->gate_failed ? r->gate_reason : NULL);
    if (o != NULL)
        json_object_set_new(o, "estimated", json_boolean(r->estimated));
    if (o != NULL && r->has_baseline) {
        json_object_set_new(o, "baseline_new_sites", json_integer((json_int_t)r->new_sites));
        json_object_set_new(o, "baseline_grown_sites", json_integer((json_int_t)r->grown_sites));
    }
    return o;
}

int lk_report_json(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    (void)opt;
    json_t *warnings = json_array();
    for (size_t i = 0; warnings != NULL && i < r->nwarnings; i++)
        json_array_append_new(warnings, json_string(r->warnings[i]));
    json_t *root = json_pack("{s:s, s:i, s:s, s:o, s:o, s:s, s:o, s:o, s:o}",
                             "format", LK_REPORT_FORMAT, "version", LK_REPORT_VERSION,
                             "tool_version", LIBLEAK_TOOL_VERSION,
                             "summary", summary_json(r), "processes", procs_json(r),
                             "leaks", LEAKS_PLACEHOLDER, "mismatches", mismatches_json(r),
                             "suppressions", supps_json(r), "warnings", warnings);
    if (root == NULL)
        return -ENOMEM;
    /* each later pass adds its top-level members from its own report file */
    if (lk_report_growth_json(root, r) < 0 || lk_report_reach_json(root, r) < 0) {
        json_decref(root);
        return -ENOMEM;
    }
    /* The leaks are streamed into the text where the placeholder is, because
     * a jansson tree of every leak costs too much memory and time. */
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return -ENOMEM;
    const char *hole = strstr(text, LEAKS_PLACEHOLDER_JSON);
    int rc = 0;
    if (hole == NULL) {
        rc = -1;
    } else {
        fwrite(text, 1, (size_t)(hole - text), out);
        stream_leaks(out, r);
        fputs(hole + strlen(LEAKS_PLACEHOLDER_JSON), out);
    }
    free(text);
    fputc('\n', out);
    if (rc < 0 || fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
