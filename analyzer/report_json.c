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

/* Build the frames array; NULL members become JSON null. */
static json_t *frames_json(const lk_frame_t *f, size_t n)
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

static json_t *supp_ref(const lk_supp_t *s)
{
    return json_pack("{s:s, s:s, s:i}", "pattern", s->pattern, "source", s->source,
                     "line", s->line);
}

static json_t *leaks_json(const lk_report_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        json_t *o = json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:o}",
                              "kind", lk_kind_name(l->kind), "pid", l->pid,
                              "family", lk_family_name(l->family),
                              "bytes", (json_int_t)l->bytes, "blocks", (json_int_t)l->blocks,
                              "stack", (json_int_t)l->stack_id,
                              "frames", frames_json(l->frames, l->nframes));
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        if (l->suppressed_by != NULL)
            json_object_set_new(o, "suppressed_by", supp_ref(l->suppressed_by));
        if (r->has_baseline && l->suppressed_by == NULL) {
            json_object_set_new(o, "baseline", json_string(l->is_new ? "new"
                                                           : l->has_grown ? "grown" : "known"));
            if (l->has_grown)
                json_object_set_new(o, "baseline_bytes", json_integer((json_int_t)l->baseline_bytes));
        }
    }
    return a;
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
                              "alloc_frames", frames_json(m->alloc_frames, m->nalloc),
                              "free_frames", frames_json(m->free_frames, m->nfree));
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
        json_t *o = json_pack("{s:i, s:i, s:s?, s:I, s:I, s:s, s:b, s:I, s:I, s:I, s:I, s:I}",
                              "pid", p->pid, "ppid", p->ppid, "exe", p->exe,
                              "dumps", (json_int_t)p->ndumps,
                              "final_seq", (json_int_t)p->final_seq,
                              "final_trigger", p->final_trigger, "complete", p->complete,
                              "leaked_bytes", (json_int_t)p->leaked_bytes,
                              "leaked_blocks", (json_int_t)p->leaked_blocks,
                              "leak_sites", (json_int_t)p->leak_sites,
                              "suppressed_bytes", (json_int_t)p->suppressed_bytes,
                              "suppressed_blocks", (json_int_t)p->suppressed_blocks);
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
        json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:I, s:I}", "pattern", s->pattern,
                              "source", s->source, "line", s->line,
                              "hits", (json_int_t)s->hits, "bytes", (json_int_t)s->bytes,
                              "blocks", (json_int_t)s->blocks);
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
    if (o != NULL && r->has_baseline) {
        json_object_set_new(o, "baseline_new_sites", json_integer((json_int_t)r->new_sites));
        json_object_set_new(o, "baseline_grown_sites", json_integer((json_int_t)r->grown_sites));
    }
    return o;
}

/* jansson writes a report token by token; batch the tokens into 64 KiB
 * writes (fwrite per token was a tenth of a 100k-site run). */
typedef struct wbuf {
    FILE *out;
    size_t n;
    bool failed;
    char buf[1 << 16];
} wbuf_t;

static void wbuf_flush(wbuf_t *w)
{
    if (w->n > 0 && fwrite(w->buf, 1, w->n, w->out) != w->n)
        w->failed = true;
    w->n = 0;
}

static int wbuf_write(const char *b, size_t len, void *data)
{
    wbuf_t *w = data;
    if (w->n + len > sizeof(w->buf))
        wbuf_flush(w);
    if (len > sizeof(w->buf)) {
        if (fwrite(b, 1, len, w->out) != len)
            w->failed = true;
    } else {
        memcpy(w->buf + w->n, b, len);
        w->n += len;
    }
    return w->failed ? -1 : 0;
}

int lk_report_json(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    (void)opt;
    json_t *warnings = json_array();
    for (size_t i = 0; warnings != NULL && i < r->nwarnings; i++)
        json_array_append_new(warnings, json_string(r->warnings[i]));
    json_t *root = json_pack("{s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
                             "format", LK_REPORT_FORMAT, "version", LK_REPORT_VERSION,
                             "tool_version", LIBLEAK_TOOL_VERSION,
                             "summary", summary_json(r), "processes", procs_json(r),
                             "leaks", leaks_json(r), "mismatches", mismatches_json(r),
                             "suppressions", supps_json(r), "warnings", warnings);
    if (root == NULL)
        return -ENOMEM;
    /* EXTENSION (issue 4/5): json_object_set_new(root, "growth", growth_json(r)); ... */
    if (lk_report_growth_json(root, r) < 0      /* issue 4: report_growth.c */
        || lk_report_reach_json(root, r) < 0) { /* issue 5: reach.c */
        json_decref(root);
        return -ENOMEM;
    }
    wbuf_t *w = malloc(sizeof(*w));
    if (w == NULL) {
        json_decref(root);
        return -ENOMEM;
    }
    w->out = out;
    w->n = 0;
    w->failed = false;
    int rc = json_dump_callback(root, wbuf_write, w, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    wbuf_flush(w);
    if (w->failed)
        rc = -1;
    free(w);
    json_decref(root);
    fputc('\n', out);
    if (rc < 0 || fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
