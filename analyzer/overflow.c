/* overflow.c - overflow warnings and the verdict.  Symbolizes each
 * failures[] group of a process's final dump with its headroom (limit minus
 * live bytes at the first failure), then tells, in plain words, a leak from
 * an overflow: an isolated oversized request is "overflow, not a leak";
 * running out after steady growth is "leak-driven exhaustion"; growth that
 * has not failed yet is a "leak in progress" with its projection. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "growth.h"

/* An isolated request too big to ever fit: an overflowed count*size, one
 * above the plausibility limit, or more than half of the memory limit.
 * Without a limit, one larger than everything live at the time. */
static bool is_oversized(const lk_failure_report_t *f)
{
    if (f->kind != LK_FAIL_ENOMEM)
        return true;
    if (f->limit_bytes > 0)
        return f->request_bytes > f->limit_bytes / 2;
    return f->request_bytes > f->live_bytes_at_first;
}

static int cmp_failure(const void *a, const void *b)
{
    const lk_failure_report_t *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->image != y->image)
        return x->image < y->image ? -1 : 1;
    if (x->request_bytes != y->request_bytes)
        return x->request_bytes > y->request_bytes ? -1 : 1;
    return (x->first_uptime_ns > y->first_uptime_ns) - (x->first_uptime_ns < y->first_uptime_ns);
}

int lk_overflow_collect(lk_growth_report_t *g, const lk_input_t *in, lk_symbolizer_t *sym)
{
    for (size_t pi = 0; pi < in->nprocs; pi++) {
        const lk_process_t *p = &in->procs[pi];
        const lk_dump_t *d = p->dumps[p->ndumps - 1];
        if (d->nfailures == 0)
            continue;
        lk_failure_report_t *nv = realloc(g->failures,
                                          (g->nfailures + d->nfailures) * sizeof(*nv));
        if (nv == NULL)
            return -ENOMEM;
        g->failures = nv;
        for (size_t i = 0; i < d->nfailures; i++) {
            const lk_failure_t *src = &d->failures[i];
            lk_failure_report_t *f = &g->failures[g->nfailures];
            memset(f, 0, sizeof(*f));
            f->pid = p->pid;
            f->image = p->image;
            f->kind = src->kind;
            f->function = src->function;
            f->request_bytes = src->request_bytes;
            f->count = src->count;
            f->first_uptime_ns = src->first_uptime_ns;
            f->last_uptime_ns = src->last_uptime_ns;
            f->live_bytes_at_first = src->live_bytes_at_first;
            f->limit_bytes = d->limits.effective_bytes;
            if (f->limit_bytes > 0)
                f->headroom_bytes = (int64_t)f->limit_bytes - (int64_t)f->live_bytes_at_first;
            f->oversized = is_oversized(f);
            int rc = lk_user_frames(sym, d, &d->stacks[src->stack_idx], &f->frames,
                                    &f->nframes, NULL);
            if (rc < 0)
                return rc;
            g->nfailures++;
        }
    }
    if (g->nfailures > 1)
        qsort(g->failures, g->nfailures, sizeof(*g->failures), cmp_failure);
    return 0;
}

/* ### the verdict text */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    if (b->oom)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (ns == NULL) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* "name (file:line)" of the first frame with a function, else the module. */
static void sb_where(sbuf_t *b, const lk_frame_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].function == NULL)
            continue;
        sb_printf(b, "%.*s", (int)strcspn(f[i].function, "@"), f[i].function);
        if (f[i].file != NULL)
            sb_printf(b, " (%s:%d)", lk_basename(f[i].file), f[i].line);
        return;
    }
    if (n > 0 && f[0].module != NULL)
        sb_printf(b, "%s+0x%" PRIx64, lk_basename(f[0].module), f[0].offset);
    else
        sb_printf(b, "an unknown site");
}

static const char *hb(double bytes, char *buf, size_t len)
{
    return lk_human_bytes(bytes, buf, len);
}

/* Name the growing sites of 'pid' with their share and slope (at most 3). */
static void sb_growing_sites(sbuf_t *b, const lk_growth_report_t *g,
                             const lk_growth_proc_t *gp)
{
    char h1[32], h2[32];
    size_t shown = 0, total = 0;
    for (size_t i = 0; i < g->nsites; i++) {
        const lk_growth_site_t *s = &g->sites[i];
        if (!lk_growth_of(gp, s->pid, s->image) || !s->kept)
            continue;
        total++;
        if (shown == 3)
            continue;
        sb_printf(b, "%s", shown == 0 ? "" : "; ");
        sb_where(b, s->frames, s->nframes);
        sb_printf(b, " grew to %s, %.0f%% of live memory, at %s/s",
                  hb((double)s->final_bytes, h1, sizeof(h1)), s->share * 100.0,
                  hb(s->trend.slope_bytes_per_s, h2, sizeof(h2)));
        shown++;
    }
    if (total > shown)
        sb_printf(b, "; and %zu more growing site(s)", total - shown);
}

static void sb_projection(sbuf_t *b, const lk_growth_proc_t *gp)
{
    char h1[32], h2[32], h3[48];
    if (gp->seconds_to_limit >= 0)
        sb_printf(b, "; at %s/s the %s limit%s%s%s is reached in %s",
                  hb(gp->slope_bytes_per_s, h1, sizeof(h1)),
                  hb((double)gp->limit_bytes, h2, sizeof(h2)),
                  gp->limit_source ? " (" : "", gp->limit_source ? gp->limit_source : "",
                  gp->limit_source ? ")" : "",
                  lk_human_duration(gp->seconds_to_limit, h3, sizeof(h3)));
    else if (gp->kept)
        sb_printf(b, "; total live memory grows at %s/s",
                  hb(gp->slope_bytes_per_s, h1, sizeof(h1)));
}

/* What the total line of the report says about 'gp', in the same words. */
static const char *total_words(const lk_growth_proc_t *gp)
{
    switch (gp->trend.kind) {
    case LK_TREND_GROWING:
        return gp->kept ? "grows steadily" : gp->steady ? "grew steadily, then was freed"
                                                        : "rises, but not steadily";
    case LK_TREND_PLATEAU:   return "is on a plateau";
    case LK_TREND_SHRINKING: return "shrinks";
    case LK_TREND_STABLE:    return "is stable";
    case LK_TREND_INSUFFICIENT: break;
    }
    return "has too few samples to judge";
}

/* "leak in progress: " and why: the lines that grow steadily and are still
 * held (the total, the sites), each as its own line says it. */
static void sb_leak_reason(sbuf_t *b, const lk_growth_proc_t *gp, const lk_growth_report_t *g)
{
    char h1[32];
    if (gp->kept)
        sb_printf(b, "total live memory grows steadily (%s/s) and is still held at the end",
                  hb(gp->trend.slope_bytes_per_s, h1, sizeof(h1)));
    else
        sb_printf(b, "%zu site(s) grow steadily and are still held at the end, while the "
                  "total %s", gp->ngrowing, total_words(gp));
    if (gp->ngrowing > 0) {
        sb_printf(b, "; growing: ");
        sb_growing_sites(b, g, gp);
    }
}

/* The sites of 'pid' that grew steadily and were freed by the end (at most 3). */
static void sb_freed_sites(sbuf_t *b, const lk_growth_report_t *g,
                           const lk_growth_proc_t *gp)
{
    char h1[32], h2[32];
    size_t shown = 0;
    for (size_t i = 0; i < g->nsites && shown < 3; i++) {
        const lk_growth_site_t *s = &g->sites[i];
        if (!lk_growth_of(gp, s->pid, s->image) || !s->steady || s->kept)
            continue;
        sb_printf(b, "%s", shown++ == 0 ? "; " : ", ");
        sb_where(b, s->frames, s->nframes);
        sb_printf(b, " grew to %s, then %s", hb(s->trend.max_bytes, h1, sizeof(h1)),
                  hb((double)s->end_bytes, h2, sizeof(h2)));
    }
}

static void sb_failure(sbuf_t *b, const lk_failure_report_t *f)
{
    char h1[32], h2[32], h3[32];
    static const char *const what[] = { "failed", "overflowed",
                                        "was above the plausibility limit" };
    sb_printf(b, "%s(%s) in ", f->function != NULL ? f->function : "alloc",
              f->kind == LK_FAIL_MUL_OVERFLOW ? "count * size beyond 2^64"
                                              : hb((double)f->request_bytes, h1, sizeof(h1)));
    sb_where(b, f->frames, f->nframes);
    sb_printf(b, " %s", (unsigned)f->kind < 3 ? what[f->kind] : "failed");
    if (f->count > 1)
        sb_printf(b, " %" PRIu64 " times", f->count);
    sb_printf(b, " at %.2f s", (double)f->first_uptime_ns / 1e9);
    if (f->limit_bytes > 0)
        sb_printf(b, " with %s live, %s left of the %s limit",
                  hb((double)f->live_bytes_at_first, h1, sizeof(h1)),
                  f->headroom_bytes >= 0 ? hb((double)f->headroom_bytes, h2, sizeof(h2))
                                         : "nothing",
                  hb((double)f->limit_bytes, h3, sizeof(h3)));
}

static int decide_one(lk_growth_proc_t *gp, const lk_growth_report_t *g)
{
    const lk_failure_report_t *over = NULL, *exh = NULL, *impl = NULL;
    size_t nover = 0, nexh = 0;
    char h1[32];
    sbuf_t b = { 0 };

    for (size_t i = 0; i < g->nfailures; i++) {
        const lk_failure_report_t *f = &g->failures[i];
        if (!lk_growth_of(gp, f->pid, f->image))
            continue;
        if (f->kind == LK_FAIL_IMPLAUSIBLE) {
            /* it succeeded: a warning, not a failure */
            if (impl == NULL)
                impl = f;
            continue;
        }
        if (f->oversized) {
            nover++;
            if (over == NULL)
                over = f;
        } else {
            nexh++;
            /* the first to fail is the one that shows where memory ran out */
            if (exh == NULL || f->first_uptime_ns < exh->first_uptime_ns)
                exh = f;
        }
    }
    /* The one rule: growth counts only on a line the report prints as
     * growing steadily and still held at the end (see analyzer/README.md). */
    bool grows = gp->ngrowing > 0 || gp->kept;

    if (exh != NULL && grows) {
        gp->verdict = LK_VERDICT_LEAK_EXHAUSTION;
        sb_printf(&b, "leak-driven exhaustion: ");
        sb_failure(&b, exh);
        sb_printf(&b, ", after live memory grew steadily");
        if (gp->ngrowing > 0) {
            sb_printf(&b, "; growing: ");
            sb_growing_sites(&b, g, gp);
        } else {
            sb_printf(&b, " (total at %s/s)", hb(gp->trend.slope_bytes_per_s, h1, sizeof(h1)));
        }
        if (nexh > 1)
            sb_printf(&b, "; %zu failed request group(s) in all", nexh);
    } else if (exh != NULL) {
        gp->verdict = LK_VERDICT_EXHAUSTION;
        sb_printf(&b, "memory exhausted without steady growth: ");
        sb_failure(&b, exh);
        sb_printf(&b, "; no site grew steadily, so the working set (%s) does not fit "
                  "the limit rather than leaking",
                  hb((double)exh->live_bytes_at_first, h1, sizeof(h1)));
    } else if (over != NULL) {
        gp->verdict = LK_VERDICT_OVERFLOW;
        sb_printf(&b, "overflow, not a leak: ");
        sb_failure(&b, over);
        sb_printf(&b, "; an isolated request larger than what was left");
        if (nover > 1)
            sb_printf(&b, " (%zu oversized request group(s))", nover);
        if (grows) {
            sb_printf(&b, ". Separately, a leak in progress: ");
            sb_leak_reason(&b, gp, g);
            sb_projection(&b, gp);
        } else {
            sb_printf(&b, ", while live memory %s",
                      gp->trend.kind == LK_TREND_PLATEAU ? "stayed on a plateau"
                      : gp->trend.kind == LK_TREND_STABLE ? "stayed flat"
                      : "did not grow steadily");
        }
    } else if (grows) {
        gp->verdict = LK_VERDICT_LEAK_IN_PROGRESS;
        sb_printf(&b, "leak in progress: ");
        sb_leak_reason(&b, gp, g);
        sb_printf(&b, "; no request has failed yet");
        sb_projection(&b, gp);
    } else {
        gp->verdict = LK_VERDICT_NONE;
        if (gp->nfreed > 0) {
            sb_printf(&b, "no leak in progress: live memory grew steadily while running, "
                      "then was freed by the end (%s at the final dump), so it accumulated "
                      "rather than being lost",
                      hb(gp->end_bytes, h1, sizeof(h1)));
            sb_freed_sites(&b, g, gp);
        } else if (gp->total.n < LK_TREND_MIN_SAMPLES && gp->ndumps < LK_TREND_MIN_SAMPLES)
            sb_printf(&b, "no failed request; too few samples (%zu dump(s)%s) to judge "
                      "growth; take snapshots with LIBLEAK_INTERVAL_MS or SIGUSR1",
                      gp->ndumps, gp->forked ? ", counted from the fork" : "");
        else if (gp->trend.kind == LK_TREND_GROWING)
            sb_printf(&b, "no leak growth and no failed request: total live memory rises, "
                      "but not steadily (%s), and no site grows steadily",
                      gp->unsteady != NULL ? gp->unsteady : "?");
        else
            sb_printf(&b, "no leak growth and no failed request: total live memory %s%s",
                      gp->trend.kind == LK_TREND_PLATEAU ? "is on a plateau (a cache or "
                      "high-water mark that stopped growing)"
                      : gp->trend.kind == LK_TREND_SHRINKING ? "is shrinking"
                      : gp->trend.kind == LK_TREND_INSUFFICIENT ? "has too few samples"
                      : "is stable",
                      gp->trend.kind == LK_TREND_INSUFFICIENT ? "" : ", and no site grows steadily");
    }
    if (impl != NULL) {
        sb_printf(&b, ". Note: ");
        sb_failure(&b, impl);
        sb_printf(&b, ", yet succeeded (its pages may not exist until touched)");
    }
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    if (b.s == NULL)
        sb_printf(&b, "%s", "");
    gp->verdict_text = b.s;
    return b.oom ? -ENOMEM : 0;
}

int lk_verdict_decide(lk_growth_report_t *g)
{
    for (size_t i = 0; i < g->nprocs; i++) {
        free(g->procs[i].verdict_text);
        g->procs[i].verdict_text = NULL;
        int rc = decide_one(&g->procs[i], g);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lk_overflow_run(lk_report_t *r, const lk_input_t *in, lk_symbolizer_t *sym)
{
    int rc = lk_overflow_collect(r->growth, in, sym);
    return rc < 0 ? rc : lk_verdict_decide(r->growth);
}
