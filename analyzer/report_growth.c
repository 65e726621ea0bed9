/* report_growth.c - prints what growth.c and overflow.c found: per process a
 * text section (total curve, a sparkline per moving site, failed requests,
 * the verdict), the JSON "growth", "failures" and "verdict" members, and the
 * SVG chart.  Prints only; decides nothing. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "growth.h"
#include "svg.h"

#define SPARK_CELLS 24
#define TEXT_FRAMES 8

/* ### text */

static void text_frames(FILE *out, const lk_frame_t *f, size_t n)
{
    for (size_t i = 0; i < n && i < TEXT_FRAMES; i++) {
        fprintf(out, "      #%zu 0x%" PRIx64 " in %s", i, f[i].address,
                f[i].function != NULL ? f[i].function : "??");
        if (f[i].file != NULL)
            fprintf(out, " %s:%d", f[i].file, f[i].line);
        else if (f[i].module != NULL)
            fprintf(out, " (%s+0x%" PRIx64 ")", f[i].module, f[i].offset);
        fputc('\n', out);
    }
    if (n > TEXT_FRAMES)
        fprintf(out, "      ... %zu more frame(s)\n", n - TEXT_FRAMES);
}

/* The process entry of 'pid', or NULL. */
static const lk_growth_proc_t *find_proc(const lk_growth_report_t *g, int pid,
                                         unsigned image)
{
    for (size_t i = 0; g != NULL && i < g->nprocs; i++)
        if (lk_growth_of(&g->procs[i], pid, image))
            return &g->procs[i];
    return NULL;
}

/* Worth a text section: snapshots were taken, something failed, or the
 * total grows steadily.  A lone exit dump of a short run says nothing. */
static bool has_section(const lk_growth_report_t *g, const lk_growth_proc_t *gp)
{
    if (gp->ndumps >= LK_TREND_MIN_SAMPLES || gp->steady || gp->ngrowing > 0)
        return true;
    for (size_t i = 0; i < g->nfailures; i++)
        if (lk_growth_of(gp, g->failures[i].pid, g->failures[i].image))
            return true;
    return false;
}

/* How a growing line stands against the verdict's rule, after its
 * confidence: steady and still held, steady and freed, or not steady and
 * why.  Empty for any other trend. */
static void text_steadiness(FILE *out, lk_trend_kind_t kind, bool steady, bool kept,
                            const char *unsteady, uint64_t end_bytes)
{
    char h[32];
    if (kind != LK_TREND_GROWING)
        return;
    if (kept)
        fprintf(out, ", steady");
    else if (steady)
        fprintf(out, ", steady, then freed (%s at the final dump)",
                lk_human_bytes((double)end_bytes, h, sizeof(h)));
    else
        fprintf(out, ", not steady: %s", unsteady != NULL ? unsteady : "?");
}

static void text_total(FILE *out, const lk_growth_proc_t *gp)
{
    char spark[SPARK_CELLS * 4 + 1], h1[32], h2[32], h3[48];
    double dur = gp->total.n > 1 ? gp->total.t_s[gp->total.n - 1] - gp->total.t_s[0] : 0;

    fprintf(out, "Growth of process %d: %zu dump(s); total live bytes over %.1f s "
            "(%zu samples from the %s):\n", gp->pid, gp->ndumps, dur, gp->total.n, gp->source);
    lk_sparkline(gp->total.bytes, gp->total.n, SPARK_CELLS, spark, sizeof(spark));
    fprintf(out, "  total     %s  %s at the end, %s", spark,
            lk_human_bytes((double)gp->final_live_bytes, h1, sizeof(h1)),
            lk_trend_name(gp->trend.kind));
    if (gp->trend.kind == LK_TREND_GROWING || gp->trend.kind == LK_TREND_SHRINKING)
        fprintf(out, " at %s/s", lk_human_bytes(gp->trend.slope_bytes_per_s, h2, sizeof(h2)));
    if (gp->trend.kind != LK_TREND_INSUFFICIENT)
        fprintf(out, " (confidence %.2f)", gp->trend.confidence);
    text_steadiness(out, gp->trend.kind, gp->steady, gp->kept, gp->unsteady,
                    (uint64_t)gp->end_bytes);
    fputc('\n', out);
    if (gp->forked)
        fprintf(out, "  (a forked child: its curve starts %s and leaves out the blocks it "
                "inherited)\n", gp->fork_parent_seen ? "at the fork"
                                 : "at its first own site (without its parent's dumps, "
                                   "the fork is not known)");
    if (gp->teardown_excluded)
        fprintf(out, "  (the exit dump's drop to %s, frees at exit, is left out of the trends)\n",
                lk_human_bytes((double)gp->final_live_bytes, h1, sizeof(h1)));
    /* after running out, a time to the limit says nothing */
    if (gp->seconds_to_limit >= 0 && gp->verdict != LK_VERDICT_EXHAUSTION
        && gp->verdict != LK_VERDICT_LEAK_EXHAUSTION)
        fprintf(out, "  projection: at %s/s the %s limit%s%s%s is reached in %s\n",
                lk_human_bytes(gp->slope_bytes_per_s, h1, sizeof(h1)),
                lk_human_bytes((double)gp->limit_bytes, h2, sizeof(h2)),
                gp->limit_source ? " (" : "", gp->limit_source ? gp->limit_source : "",
                gp->limit_source ? ")" : "",
                lk_human_duration(gp->seconds_to_limit, h3, sizeof(h3)));
}

static void text_sites(FILE *out, const lk_growth_report_t *g, const lk_growth_proc_t *gp)
{
    char spark[SPARK_CELLS * 4 + 1], h1[32], h2[32];
    for (size_t i = 0; i < g->nsites; i++) {
        const lk_growth_site_t *s = &g->sites[i];
        if (!lk_growth_of(gp, s->pid, s->image))
            continue;
        lk_sparkline(s->series.bytes, s->series.n, SPARK_CELLS, spark, sizeof(spark));
        fprintf(out, "  %-9s %s  %s at the end (%.0f%% of live)", lk_trend_name(s->trend.kind),
                spark,
                lk_human_bytes((double)s->final_bytes, h1, sizeof(h1)), s->share * 100.0);
        if (s->trend.kind == LK_TREND_PLATEAU)
            fprintf(out, ", peak %s", lk_human_bytes(s->trend.max_bytes, h2, sizeof(h2)));
        else
            fprintf(out, ", %s/s", lk_human_bytes(s->trend.slope_bytes_per_s, h2, sizeof(h2)));
        fprintf(out, ", confidence %.2f", s->trend.confidence);
        text_steadiness(out, s->trend.kind, s->steady, s->kept, s->unsteady, s->end_bytes);
        fprintf(out, ", %s site:\n", lk_family_name(s->family));
        text_frames(out, s->frames, s->nframes);
    }
}

static void text_failures(FILE *out, const lk_growth_report_t *g, const lk_growth_proc_t *gp)
{
    char h1[32], h2[32], h3[32];
    bool any = false;
    for (size_t i = 0; i < g->nfailures; i++) {
        const lk_failure_report_t *f = &g->failures[i];
        if (!lk_growth_of(gp, f->pid, f->image))
            continue;
        if (!any)
            fprintf(out, "Failed or absurd allocation requests of process %d:\n", gp->pid);
        any = true;
        /* an overflowed product has no size: the dump saturates it */
        char req[96];
        if (f->kind == LK_FAIL_MUL_OVERFLOW)
            snprintf(req, sizeof(req), "count * size beyond 2^64 bytes");
        else
            snprintf(req, sizeof(req), "%" PRIu64 " bytes = %s", f->request_bytes,
                     lk_human_bytes((double)f->request_bytes, h1, sizeof(h1)));
        fprintf(out, "  %s: %s(%s), %" PRIu64 " time(s), first at %.2f s "
                "with %s live", lk_failure_name(f->kind),
                f->function != NULL ? f->function : "?", req,
                f->count, (double)f->first_uptime_ns / 1e9,
                lk_human_bytes((double)f->live_bytes_at_first, h2, sizeof(h2)));
        if (f->limit_bytes > 0) {
            if (f->headroom_bytes >= 0)
                fprintf(out, "; headroom %s", lk_human_bytes((double)f->headroom_bytes, h2,
                                                             sizeof(h2)));
            else
                fprintf(out, "; no headroom");
            fprintf(out, " of the %s limit", lk_human_bytes((double)f->limit_bytes, h3,
                                                           sizeof(h3)));
            if (!f->oversized && f->headroom_bytes >= 0
                && f->request_bytes <= (uint64_t)f->headroom_bytes)
                fprintf(out, " (headroom counts live heap bytes only; the limit also "
                        "covers code, stacks and allocator overhead)");
        }
        fprintf(out, "; %s:\n", f->kind == LK_FAIL_IMPLAUSIBLE ? "succeeded, but above the limit"
                                 : f->oversized ? "oversized" : "ran out of memory");
        text_frames(out, f->frames, f->nframes);
    }
}

void lk_report_growth_text(FILE *out, const lk_report_t *r, int pid, unsigned image)
{
    const lk_growth_report_t *g = r->growth;
    const lk_growth_proc_t *gp = find_proc(g, pid, image);
    if (gp == NULL || !has_section(g, gp))
        return;
    text_total(out, gp);
    text_sites(out, g, gp);
    fputc('\n', out);
    text_failures(out, g, gp);
    fprintf(out, "VERDICT (process %d): %s.\n\n", pid,
            gp->verdict_text != NULL ? gp->verdict_text : "none");
}

/* ### json */


static json_t *series_json(const lk_series_t *s)
{
    json_t *t = json_array(), *b = json_array();
    for (size_t i = 0; t != NULL && b != NULL && i < s->n; i++) {
        json_array_append_new(t, json_real(s->t_s[i]));
        json_array_append_new(b, json_integer((json_int_t)s->bytes[i]));
    }
    return json_pack("{s:o, s:o}", "t_s", t, "live_bytes", b);
}

static json_t *growth_json(const lk_growth_report_t *g)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < g->nsites; i++) {
        const lk_growth_site_t *s = &g->sites[i];
        json_t *o = json_pack("{s:i, s:I, s:s, s:s, s:b, s:f, s:f, s:f, s:I, s:I, s:f, s:o, s:o}",
                              "pid", s->pid, "stack", (json_int_t)s->stack_id,
                              "family", lk_family_name(s->family),
                              "trend", lk_trend_name(s->trend.kind), "steady", s->steady,
                              "slope_bytes_per_s", s->trend.slope_bytes_per_s,
                              "recent_slope_bytes_per_s", s->trend.recent_slope_bytes_per_s,
                              "confidence", s->trend.confidence,
                              "final_bytes", (json_int_t)s->final_bytes,
                              "peak_bytes", (json_int_t)s->trend.max_bytes,
                              "share", s->share,
                              "frames", lk_json_frames(s->frames, s->nframes),
                              "series", series_json(&s->series));
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        json_object_set_new(o, "image", json_integer(s->image));
        json_object_set_new(o, "kept", json_boolean(s->kept));
        json_object_set_new(o, "end_bytes", json_integer((json_int_t)s->end_bytes));
    }
    return a;
}

static json_t *failures_json(const lk_growth_report_t *g)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < g->nfailures; i++) {
        const lk_failure_report_t *f = &g->failures[i];
        json_t *o = json_pack("{s:i, s:s, s:s?, s:I, s:I, s:I, s:I, s:I, s:b, s:o}",
                              "pid", f->pid, "kind", lk_failure_name(f->kind),
                              "function", f->function,
                              "request_bytes", (json_int_t)f->request_bytes,
                              "count", (json_int_t)f->count,
                              "first_uptime_ns", (json_int_t)f->first_uptime_ns,
                              "last_uptime_ns", (json_int_t)f->last_uptime_ns,
                              "live_bytes_at_first", (json_int_t)f->live_bytes_at_first,
                              "oversized", f->oversized,
                              "frames", lk_json_frames(f->frames, f->nframes));
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        json_object_set_new(o, "image", json_integer(f->image));
        json_object_set_new(o, "limit_bytes", f->limit_bytes > 0
                            ? json_integer((json_int_t)f->limit_bytes) : json_null());
        json_object_set_new(o, "headroom_bytes", f->limit_bytes > 0
                            ? json_integer((json_int_t)f->headroom_bytes) : json_null());
    }
    return a;
}

static json_t *verdict_json(const lk_growth_report_t *g)
{
    json_t *procs = json_array();
    const lk_growth_proc_t *worst = NULL;
    for (size_t i = 0; procs != NULL && i < g->nprocs; i++) {
        const lk_growth_proc_t *gp = &g->procs[i];
        if (worst == NULL || gp->verdict > worst->verdict)
            worst = gp;
        json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:o}",
                              "pid", gp->pid, "kind", lk_verdict_name(gp->verdict),
                              "text", gp->verdict_text != NULL ? gp->verdict_text : "",
                              "dumps", (json_int_t)gp->ndumps,
                              "total_source", gp->source != NULL ? gp->source : "dumps",
                              "total_trend", lk_trend_name(gp->trend.kind),
                              "total_slope_bytes_per_s", gp->trend.slope_bytes_per_s,
                              "total_confidence", gp->trend.confidence,
                              "final_live_bytes", (json_int_t)gp->final_live_bytes,
                              "growing_sites", (json_int_t)gp->ngrowing,
                              "growing_bytes", (json_int_t)gp->growing_bytes,
                              "total_series", series_json(&gp->total));
        if (o != NULL) {
            json_object_set_new(o, "teardown_excluded", json_boolean(gp->teardown_excluded));
            json_object_set_new(o, "total_steady", json_boolean(gp->steady));
            json_object_set_new(o, "total_kept", json_boolean(gp->kept));
            json_object_set_new(o, "image", json_integer(gp->image));
            json_object_set_new(o, "forked", json_boolean(gp->forked));
        }
        if (o == NULL || json_array_append_new(procs, o) < 0) {
            json_decref(procs);
            return NULL;
        }
        json_object_set_new(o, "limit_bytes", gp->limit_bytes > 0
                            ? json_integer((json_int_t)gp->limit_bytes) : json_null());
        json_object_set_new(o, "limit_source", gp->limit_source
                            ? json_string(gp->limit_source) : json_null());
        json_object_set_new(o, "seconds_to_limit", gp->seconds_to_limit >= 0
                            ? json_real(gp->seconds_to_limit) : json_null());
    }
    return json_pack("{s:s, s:s, s:o}",
                     "kind", lk_verdict_name(worst != NULL ? worst->verdict : LK_VERDICT_NONE),
                     "text", worst != NULL && worst->verdict_text != NULL ? worst->verdict_text
                                                                          : "no process",
                     "processes", procs);
}

int lk_report_growth_json(json_t *root, const lk_report_t *r)
{
    const lk_growth_report_t *g = r->growth;
    if (g == NULL)
        return 0;
    json_t *gr = growth_json(g), *fa = failures_json(g), *ve = verdict_json(g);
    if (gr == NULL || fa == NULL || ve == NULL) {
        json_decref(gr);
        json_decref(fa);
        json_decref(ve);
        return -ENOMEM;
    }
    json_object_set_new(root, "growth", gr);
    json_object_set_new(root, "failures", fa);
    json_object_set_new(root, "verdict", ve);
    return 0;
}

/* ### svg */

#define SVG_MAX_SERIES 8
#define SVG_MAX_FAILURES 256

/* The verdict as a chart title's words; NULL for none. */
static const char *verdict_words(lk_verdict_t v)
{
    switch (v) {
    case LK_VERDICT_LEAK_IN_PROGRESS: return "Leak in progress";
    case LK_VERDICT_OVERFLOW:         return "Oversized request, not a leak";
    case LK_VERDICT_EXHAUSTION:       return "Memory exhaustion without steady growth";
    case LK_VERDICT_LEAK_EXHAUSTION:  return "Leak-driven memory exhaustion";
    default:                          return NULL;
    }
}

/* "malloc(64 TiB)" and the hover text of failure 'f' into 'lab'/'det'. */
static void failure_text(const lk_failure_report_t *f, char *lab, size_t llen, char *det,
                         size_t dlen)
{
    static const char *const what[] = { "failed", "overflowed",
                                        "was above the plausibility limit" };
    char h1[32], h2[32], where[256] = "";
    const char *fn = f->function != NULL ? f->function : "alloc";
    if (f->kind == LK_FAIL_MUL_OVERFLOW)
        snprintf(h1, sizeof(h1), "count * size beyond 2^64");
    else
        lk_human_bytes((double)f->request_bytes, h1, sizeof(h1));
    snprintf(lab, llen, "%.64s(%s)%s", fn, f->kind == LK_FAIL_MUL_OVERFLOW ? "overflow" : h1,
             f->count > 1 ? " \u00d7" : "");
    if (f->count > 1) {
        size_t l = strlen(lab);
        snprintf(lab + l, llen - l, "%" PRIu64, f->count);
    }
    const lk_frame_t *fr = f->nframes > 0 ? &f->frames[0] : NULL;
    if (fr != NULL && fr->function != NULL && fr->file != NULL)
        snprintf(where, sizeof(where), " in %.*s (%s:%d)", (int)strcspn(fr->function, "@"),
                 fr->function, lk_basename(fr->file), fr->line);
    else if (fr != NULL && fr->function != NULL)
        snprintf(where, sizeof(where), " in %.*s", (int)strcspn(fr->function, "@"),
                 fr->function);
    int n = snprintf(det, dlen, "%.64s(%s", fn, h1);
    if (f->kind != LK_FAIL_MUL_OVERFLOW && n >= 0 && (size_t)n < dlen)
        n += snprintf(det + n, dlen - (size_t)n, " = %" PRIu64 " bytes", f->request_bytes);
    if (n >= 0 && (size_t)n < dlen)
        n += snprintf(det + n, dlen - (size_t)n, ")%s %s", where,
                      (unsigned)f->kind < 3 ? what[f->kind] : "failed");
    if (f->count > 1 && n >= 0 && (size_t)n < dlen)
        n += snprintf(det + n, dlen - (size_t)n, " %" PRIu64 " times, first", f->count);
    if (n >= 0 && (size_t)n < dlen)
        snprintf(det + n, dlen - (size_t)n, " at %.2f s with %s live",
                 (double)f->first_uptime_ns / 1e9,
                 lk_human_bytes((double)f->live_bytes_at_first, h2, sizeof(h2)));
}

int lk_report_svg(FILE *out, const lk_report_t *r)
{
    return lk_report_svg_proc(out, r, 0, false);
}

int lk_report_svg_proc(FILE *out, const lk_report_t *r, int pid, bool embed)
{
    const lk_growth_report_t *g = r->growth;
    const lk_growth_proc_t *gp = NULL;
    lk_svg_series_t series[SVG_MAX_SERIES] = { { 0 } };
    char labels[SVG_MAX_SERIES][160], wheres[SVG_MAX_SERIES][160], title[256];
    lk_svg_opts_t opts = { .embed = embed };
    size_t n = 0;

    /* The process asked for, else the one with the longest curve (the
     * first on a tie). */
    for (size_t i = 0; g != NULL && i < g->nprocs; i++)
        if (pid > 0 ? g->procs[i].pid == pid
                    : gp == NULL || g->procs[i].total.n > gp->total.n)
            gp = &g->procs[i];
    if (gp == NULL) {
        snprintf(title, sizeof(title), "libleak: no process");
        return lk_svg_chart_opts(out, title, series, 0, &opts);
    }
    const char *exe = NULL;
    for (size_t i = 0; i < r->nprocs; i++)
        if (r->procs[i].pid == gp->pid && r->procs[i].image == gp->image
            && (r->procs[i].name != NULL || r->procs[i].exe != NULL))
            exe = r->procs[i].name != NULL ? r->procs[i].name : lk_basename(r->procs[i].exe);
    const char *verdict = verdict_words(gp->verdict);
    snprintf(title, sizeof(title), "Live memory of %.80s%spid %d%s%s%s", exe ? exe : "",
             exe ? " (" : "", gp->pid, exe ? ")" : "", verdict ? ": " : "",
             verdict ? verdict : "");
    if (gp->trend.kind == LK_TREND_INSUFFICIENT)
        snprintf(labels[n], sizeof(labels[n]), "total");
    else
        snprintf(labels[n], sizeof(labels[n]), "total (%s)", lk_trend_name(gp->trend.kind));
    series[n] = (lk_svg_series_t){ labels[n], gp->total.t_s, gp->total.bytes, gp->total.n,
                                   NULL };
    n++;
    for (size_t i = 0; i < g->nsites && n < SVG_MAX_SERIES; i++) {
        const lk_growth_site_t *s = &g->sites[i];
        if (!lk_growth_of(gp, s->pid, s->image))
            continue;
        const lk_frame_t *f = s->nframes > 0 ? &s->frames[0] : NULL;
        const char *where = NULL;
        if (f != NULL && f->function != NULL) {
            snprintf(labels[n], sizeof(labels[n]), "%s: %.*s", lk_trend_name(s->trend.kind),
                     (int)strcspn(f->function, "@"), f->function);
            if (f->file != NULL) {
                snprintf(wheres[n], sizeof(wheres[n]), "%s:%d", lk_basename(f->file), f->line);
                where = wheres[n];
            }
        } else {
            snprintf(labels[n], sizeof(labels[n]), "%s: stack %" PRIu64,
                     lk_trend_name(s->trend.kind), s->stack_id);
        }
        series[n] = (lk_svg_series_t){ labels[n], s->series.t_s, s->series.bytes, s->series.n,
                                       where };
        n++;
    }

    /* Failures of this process and its dumps as marks on the time axis. */
    size_t nf = 0;
    for (size_t i = 0; i < g->nfailures; i++)
        nf += lk_growth_of(gp, g->failures[i].pid, g->failures[i].image);
    if (nf > SVG_MAX_FAILURES)
        nf = SVG_MAX_FAILURES;
    lk_svg_mark_t *fails = calloc(nf + 1, sizeof(*fails));
    lk_svg_mark_t *snaps = calloc(gp->ndumps + 1, sizeof(*snaps));
    char (*ftext)[2][320] = calloc(nf + 1, sizeof(*ftext));
    char (*stext)[96] = calloc(gp->ndumps + 1, sizeof(*stext));
    int rc = -ENOMEM;
    if (fails == NULL || snaps == NULL || ftext == NULL || stext == NULL)
        goto out_free;
    for (size_t i = 0, k = 0; i < g->nfailures && k < nf; i++) {
        const lk_failure_report_t *f = &g->failures[i];
        if (!lk_growth_of(gp, f->pid, f->image))
            continue;
        failure_text(f, ftext[k][0], sizeof(ftext[k][0]), ftext[k][1], sizeof(ftext[k][1]));
        fails[k] = (lk_svg_mark_t){ (double)f->first_uptime_ns / 1e9,
                                    (double)f->live_bytes_at_first, ftext[k][0], ftext[k][1] };
        k++;
    }
    for (size_t i = 0; gp->snaps != NULL && i < gp->ndumps; i++) {
        const lk_growth_snap_t *sn = &gp->snaps[i];
        char h[32];
        snprintf(stext[i], sizeof(stext[i]), "dump %" PRIu64 " (%s) at %.2f s: %s live",
                 sn->seq, lk_trigger_name(sn->trigger), sn->t_s,
                 lk_human_bytes((double)sn->live_bytes, h, sizeof(h)));
        snaps[i] = (lk_svg_mark_t){ sn->t_s, (double)sn->live_bytes, NULL, stext[i] };
    }
    opts.limit_bytes = (double)gp->limit_bytes;
    opts.limit_label = gp->limit_name;
    opts.failures = fails;
    opts.nfailures = nf;
    opts.snapshots = snaps;
    opts.nsnapshots = gp->snaps != NULL ? gp->ndumps : 0;
    opts.pid = gp->pid;
    rc = lk_svg_chart_opts(out, title, series, n, &opts);
out_free:
    free(fails);
    free(snaps);
    free(ftext);
    free(stext);
    return rc;
}
