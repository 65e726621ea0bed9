/* growth.c - the growth pass: each site's live bytes over a process's dumps
 * (site = stack id + family within a pid; absent from a dump = 0 bytes),
 * the total over time (dumps, or the final dump's timeline when that is
 * finer), a trend per series (trend.h), and the projection to the memory
 * limit.  Reads lk_input_t only; the verdict is overflow.c's job. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "growth.h"

/* One (site, dump) observation, sorted by site then dump. */
typedef struct obs {
    uint64_t stack_id;
    int family;
    size_t dump;            /* index in the process's dump series */
    size_t site;            /* index in that dump's sites[] */
    uint64_t bytes;
} obs_t;

static int cmp_obs(const void *a, const void *b)
{
    const obs_t *x = a, *y = b;
    if (x->stack_id != y->stack_id)
        return x->stack_id < y->stack_id ? -1 : 1;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    return (x->dump > y->dump) - (x->dump < y->dump);
}

const char *lk_growth_unsteady(const double *t, const double *y, size_t n, const lk_trend_t *tr)
{
    lk_trend_t half;
    if (tr->kind != LK_TREND_GROWING)
        return NULL;
    if (n < LK_GROWTH_STEADY_SAMPLES)
        return "fewer than 6 samples";
    if (tr->confidence < LK_GROWTH_MIN_CONFIDENCE)
        return "confidence below 0.90";
    size_t h = n / 2;
    if (lk_trend_fit(t + h, y + h, n - h, 0, &half) < 0)
        return "its later half does not grow";
    if (half.kind == LK_TREND_PLATEAU)
        return "its later half levels off";
    if (half.kind != LK_TREND_GROWING)
        return "its later half does not grow";
    if (half.slope_bytes_per_s * half.duration_s
        < fmax(LK_GROWTH_STEADY_BYTES, 0.01 * tr->max_bytes))
        return "its later half grows by less than 64 KiB or 1% of the peak";
    return NULL;
}

bool lk_growth_is_steady(const double *t, const double *y, size_t n, const lk_trend_t *tr)
{
    return tr->kind == LK_TREND_GROWING && lk_growth_unsteady(t, y, n, tr) == NULL;
}

/* Does the final dump still hold 'end' bytes of a series that peaked at
 * 'peak'?  Half or more counts as held. */
static bool still_held(double end, double peak)
{
    return end * 2 >= peak;
}

static void series_free(lk_series_t *s)
{
    free(s->t_s);
    free(s->bytes);
    memset(s, 0, sizeof(*s));
}

static int series_alloc(lk_series_t *s, size_t n)
{
    s->n = n;
    s->t_s = calloc(n + 1, sizeof(*s->t_s));
    s->bytes = calloc(n + 1, sizeof(*s->bytes));
    if (s->t_s == NULL || s->bytes == NULL) {
        series_free(s);
        return -ENOMEM;
    }
    return 0;
}

/* Did the exit dump come after a teardown?  Its live bytes fell below half
 * of the sample before, so it shows the program freeing at exit, not how it
 * behaved while running: trends leave that last sample out. */
static bool exit_teardown(const lk_dump_t *last, uint64_t before, uint64_t at_exit)
{
    return last->trigger == LK_TRIGGER_EXIT && at_exit < before / 2;
}

/* Dumps of 'p' that the site series use: all but a teardown exit dump. */
static size_t series_dumps(const lk_process_t *p)
{
    size_t m = p->ndumps;
    if (m >= 2 && exit_teardown(p->dumps[m - 1], p->dumps[m - 2]->totals.live_bytes,
                                p->dumps[m - 1]->totals.live_bytes))
        m--;
    return m;
}

/* Is 'ns' one of the uptimes of the timeline of 'd'? */
static bool timeline_has(const lk_dump_t *d, uint64_t ns)
{
    const lk_timeline_t *tl = &d->timeline;
    size_t lo = 0, hi = tl->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tl->uptime_ns[mid] < ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < tl->n && tl->uptime_ns[lo] == ns;
}

/* Did a dump of 'pp' sample its timeline at uptime 'ns'?  The first dump
 * taken at or after 'ns' holds that sample unless its timeline was
 * compacted since (the final one is asked too): two lookups, as a bash
 * loop forks hundreds of children of one parent with many dumps. */
static bool parent_has_sample(const lk_process_t *pp, uint64_t ns)
{
    size_t lo = 0, hi = pp->ndumps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pp->dumps[mid]->uptime_ns < ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < pp->ndumps && timeline_has(pp->dumps[lo], ns))
           || timeline_has(pp->dumps[pp->ndumps - 1], ns);
}

/* The first sample of a forked child's final timeline that is its own:
 * the samples before the fork are copies of its parent's (same uptimes, as
 * the child keeps the parent's clock origin).  The first one taken after
 * the fork when the dump says when that was; older dumps: with the
 * parent's dumps in 'in', the one after the last sample they share; else
 * the first where one of the child's own sites (a timeline lists no
 * inherited one) has live bytes.  Sets gp->fork_parent_seen when the fork
 * is known. */
static size_t fork_sample(lk_growth_proc_t *gp, const lk_input_t *in, const lk_process_t *p)
{
    const lk_dump_t *last = p->dumps[p->ndumps - 1];
    const lk_timeline_t *tl = &last->timeline;
    if (last->has_fork_uptime) {
        gp->fork_parent_seen = true;
        size_t i = 0;
        while (i < tl->n && tl->uptime_ns[i] < last->fork_uptime_ns)
            i++;
        return i;
    }
    for (size_t k = 0; k < in->nprocs; k++) {
        const lk_process_t *pp = &in->procs[k];
        if ((uint64_t)pp->pid != last->totals.inherited_from_pid
            || pp->start_unix_ms != p->start_unix_ms)
            continue;
        gp->fork_parent_seen = true;
        size_t from = 0;
        for (size_t i = 0; i < tl->n; i++)
            if (parent_has_sample(pp, tl->uptime_ns[i]))
                from = i + 1;
        return from;
    }
    for (size_t i = 0; i < tl->n; i++)
        for (size_t e = 0; e < tl->nsites; e++)
            if (tl->sites[e].live_bytes[i] != LK_TL_ABSENT && tl->sites[e].live_bytes[i] > 0)
                return i;
    return tl->n;
}

/* Live bytes of the final timeline's sample 'i' that are the process's own:
 * a forked child's inherited blocks (those still live at its final dump;
 * it can only have had more before) are left out. */
static double own_live(const lk_growth_proc_t *gp, const lk_dump_t *last, size_t i)
{
    uint64_t v = last->timeline.live_bytes[i];
    if (gp->forked)
        v = v > last->totals.inherited_bytes ? v - last->totals.inherited_bytes : 0;
    return (double)v;
}

/* The total of 'p': the final dump's timeline when it has more samples
 * than there are dumps, else one sample per dump.  A forked child's
 * timeline counts from its fork. */
static int total_series(lk_growth_proc_t *gp, const lk_input_t *in, const lk_process_t *p)
{
    const lk_dump_t *last = p->dumps[p->ndumps - 1];
    const lk_timeline_t *tl = &last->timeline;

    gp->forked = last->totals.inherited_from_pid != 0;
    if (gp->forked && tl->n > 0)
        gp->fork_sample = fork_sample(gp, in, p);
    if (tl->n > p->ndumps) {
        size_t from = gp->fork_sample, n = tl->n;
        if (n >= from + 2 && exit_teardown(last, (uint64_t)own_live(gp, last, n - 2),
                                           (uint64_t)own_live(gp, last, n - 1))) {
            n--;
            gp->teardown_excluded = true;
        }
        if (series_alloc(&gp->total, n - (from < n ? from : n)) < 0)
            return -ENOMEM;
        gp->source = "timeline";
        size_t k = 0;
        for (size_t i = from; i < n; i++) {
            double t = (double)tl->uptime_ns[i] / 1e9;
            if (k > 0 && t < gp->total.t_s[k - 1])
                continue;   /* a clock step back would make the fit refuse the series */
            gp->total.t_s[k] = t;
            gp->total.bytes[k++] = own_live(gp, last, i);
        }
        gp->total.n = k;
        gp->end_bytes = own_live(gp, last, tl->n - 1);
        return 0;
    }
    gp->end_bytes = (double)last->totals.live_bytes;
    size_t m = series_dumps(p);
    gp->teardown_excluded = m < p->ndumps;
    if (series_alloc(&gp->total, m) < 0)
        return -ENOMEM;
    gp->source = "dumps";
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        double t = (double)p->dumps[i]->uptime_ns / 1e9;
        if (k > 0 && t < gp->total.t_s[k - 1])
            continue;
        gp->total.t_s[k] = t;
        gp->total.bytes[k++] = (double)p->dumps[i]->totals.live_bytes;
    }
    gp->total.n = k;
    return 0;
}

/* Find stack 'id' in 'd'; returns its index or (size_t)-1. */
static size_t find_stack(const lk_dump_t *d, uint64_t id)
{
    for (size_t i = 0; i < d->nstacks; i++)
        if (d->stacks[i].id == id)
            return i;
    return (size_t)-1;
}

static int cmp_site(const void *a, const void *b)
{
    const lk_growth_site_t *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->image != y->image)
        return x->image < y->image ? -1 : 1;
    /* growing, plateau, shrinking; within a kind the biggest mover first */
    static const int rank[] = {
        [LK_TREND_GROWING] = 0, [LK_TREND_PLATEAU] = 1, [LK_TREND_SHRINKING] = 2,
        [LK_TREND_STABLE] = 3, [LK_TREND_INSUFFICIENT] = 4,
    };
    int rx = rank[x->trend.kind], ry = rank[y->trend.kind];
    if (rx != ry)
        return rx < ry ? -1 : 1;
    if (x->trend.kind == LK_TREND_GROWING
        && x->trend.slope_bytes_per_s != y->trend.slope_bytes_per_s)
        return x->trend.slope_bytes_per_s > y->trend.slope_bytes_per_s ? -1 : 1;
    if (x->trend.max_bytes != y->trend.max_bytes)
        return x->trend.max_bytes > y->trend.max_bytes ? -1 : 1;
    return (x->stack_id > y->stack_id) - (x->stack_id < y->stack_id);
}

/* Append the site 'stack_id'/'family' whose 'n' samples 't'/'y' fit 'tr';
 * 'total' is the process's live bytes at its last sample, 'st' its stack in
 * 'd'.  Returns 0 or -ENOMEM. */
static int add_site(lk_growth_report_t *g, const lk_process_t *p, uint64_t stack_id,
                    int family, const lk_trend_t *tr, const double *t, const double *y,
                    size_t n, double total, const lk_dump_t *d, const lk_stack_t *st,
                    lk_symbolizer_t *sym)
{
    const lk_dump_t *last = p->dumps[p->ndumps - 1];
    lk_growth_site_t *nv = realloc(g->sites, (g->nsites + 1) * sizeof(*nv));
    if (nv == NULL)
        return -ENOMEM;
    g->sites = nv;
    lk_growth_site_t *s = &g->sites[g->nsites];
    memset(s, 0, sizeof(*s));
    s->pid = p->pid;
    s->image = p->image;
    s->stack_id = stack_id;
    s->family = (lk_family_t)family;
    s->trend = *tr;
    s->unsteady = lk_growth_unsteady(t, y, n, tr);
    s->steady = tr->kind == LK_TREND_GROWING && s->unsteady == NULL;
    for (size_t i = 0; i < last->nsites; i++)
        if (last->sites[i].stack_id == stack_id && (int)last->sites[i].family == family)
            s->end_bytes = lk_sat_add(s->end_bytes, last->sites[i].live_bytes);
    s->kept = s->steady && still_held((double)s->end_bytes, tr->max_bytes);
    s->final_bytes = (uint64_t)y[n - 1];
    s->share = total > 0 ? y[n - 1] / total : 0;
    if (series_alloc(&s->series, n) < 0)
        return -ENOMEM;
    g->nsites++;
    memcpy(s->series.t_s, t, n * sizeof(*t));
    memcpy(s->series.bytes, y, n * sizeof(*y));
    return lk_user_frames(sym, d, st, &s->frames, &s->nframes, NULL);
}

/* Sort the sites a process added from 'first' on, count them in 'gp', and
 * keep at most LK_GROWTH_MAX_SITES. */
static void finish_sites(lk_growth_report_t *g, lk_growth_proc_t *gp, size_t first)
{
    size_t n = g->nsites - first;
    if (n > 1)
        qsort(g->sites + first, n, sizeof(*g->sites), cmp_site);
    for (size_t i = first; i < g->nsites; i++) {
        const lk_growth_site_t *s = &g->sites[i];
        if (s->kept) {
            gp->ngrowing++;
            gp->growing_bytes = lk_sat_add(gp->growing_bytes, s->final_bytes);
        } else if (s->steady) {
            gp->nfreed++;
        } else if (s->trend.kind == LK_TREND_PLATEAU) {
            gp->nplateau++;
        } else if (s->trend.kind == LK_TREND_SHRINKING) {
            gp->nshrinking++;
        }
    }
    while (g->nsites - first > LK_GROWTH_MAX_SITES) {
        lk_growth_site_t *s = &g->sites[--g->nsites];
        series_free(&s->series);
        free(s->frames);
    }
}

/* Does the series 'y' move beyond trend.c's default noise, and fit a trend
 * that is neither stable nor short? */
static bool site_moves(const double *t, const double *y, size_t n, lk_trend_t *tr)
{
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, y[i]);
        hi = fmax(hi, y[i]);
    }
    /* below the noise the fit can only say stable */
    if (hi - lo <= fmax(4096.0, hi * 0.01))
        return false;
    return lk_trend_fit(t, y, n, 0, tr) == 0 && tr->kind != LK_TREND_STABLE
           && tr->kind != LK_TREND_INSUFFICIENT;
}

/* Site series from the final dump's timeline (its biggest sites at each
 * sample), for a process with too few dumps for per-dump series: one exit
 * dump.  A sample where a site was not among the biggest is left out of its
 * series, and so is a teardown exit sample. */
static int timeline_sites(lk_growth_report_t *g, lk_growth_proc_t *gp, const lk_process_t *p,
                          lk_symbolizer_t *sym)
{
    const lk_dump_t *last = p->dumps[p->ndumps - 1];
    const lk_timeline_t *tl = &last->timeline;
    size_t n = tl->n, first = g->nsites;
    if (gp->teardown_excluded && n > 0)
        n--;
    double *t = calloc(n + 1, sizeof(*t)), *y = calloc(n + 1, sizeof(*y));
    int rc = -ENOMEM;
    if (t == NULL || y == NULL)
        goto out;
    for (size_t e = 0; e < tl->nsites; e++) {
        const lk_tl_site_t *ts = &tl->sites[e];
        size_t k = 0;
        double total = 0;
        for (size_t i = gp->fork_sample; i < n; i++) {
            double ti = (double)tl->uptime_ns[i] / 1e9;
            if (ts->live_bytes[i] == LK_TL_ABSENT || (k > 0 && ti < t[k - 1]))
                continue;
            t[k] = ti;
            y[k++] = (double)ts->live_bytes[i];
            total = own_live(gp, last, i);
        }
        lk_trend_t tr;
        if (k < LK_TREND_MIN_SAMPLES || !site_moves(t, y, k, &tr))
            continue;
        if ((rc = add_site(g, p, ts->stack_id, (int)ts->family, &tr, t, y, k, total, last,
                           &last->stacks[ts->stack_idx], sym)) < 0)
            goto out;
        rc = -ENOMEM;
    }
    finish_sites(g, gp, first);
    rc = 0;
out:
    free(t);
    free(y);
    return rc;
}

/* Build one process's site series from 'obs' (sorted) and keep the ones
 * that moved.  Sites stay in 'sites' (appended), capped per process. */
static int process_sites(lk_growth_report_t *g, lk_growth_proc_t *gp, const lk_process_t *p,
                         size_t m, obs_t *obs, size_t nobs, lk_symbolizer_t *sym)
{
    size_t first = g->nsites;
    double *t = calloc(m, sizeof(*t)), *y = calloc(m, sizeof(*y));
    int rc = -ENOMEM;

    if (t == NULL || y == NULL)
        goto out;
    for (size_t i = 0; i < m; i++)
        t[i] = (double)p->dumps[i]->uptime_ns / 1e9;
    for (size_t i = 1; i < m; i++)
        if (t[i] < t[i - 1]) {
            rc = 0;     /* dumps out of time order: no site series to fit */
            goto out;
        }
    for (size_t a = 0, b; a < nobs; a = b) {
        for (b = a + 1; b < nobs && obs[b].stack_id == obs[a].stack_id
             && obs[b].family == obs[a].family; b++)
            ;
        memset(y, 0, m * sizeof(*y));
        for (size_t k = a; k < b; k++)
            y[obs[k].dump] = (double)obs[k].bytes;
        lk_trend_t tr;
        if (!site_moves(t, y, m, &tr))
            continue;
        /* frames from the last dump that has the stack (ids never change) */
        const lk_dump_t *d = p->dumps[obs[b - 1].dump];
        const lk_stack_t *st = &d->stacks[d->sites[obs[b - 1].site].stack_idx];
        size_t si = find_stack(p->dumps[p->ndumps - 1], obs[a].stack_id);
        if (si != (size_t)-1) {
            d = p->dumps[p->ndumps - 1];
            st = &d->stacks[si];
        }
        if ((rc = add_site(g, p, obs[a].stack_id, obs[a].family, &tr, t, y, m,
                           (double)p->dumps[m - 1]->totals.live_bytes, d, st, sym)) < 0)
            goto out;
        rc = -ENOMEM;
    }
    finish_sites(g, gp, first);
    rc = 0;
out:
    free(t);
    free(y);
    return rc;
}

/* Observations of every site with live bytes in the first 'm' dumps of 'p'. */
static int gather(const lk_process_t *p, size_t m, obs_t **out, size_t *nout)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < m; i++)
        n += p->dumps[i]->nsites;
    obs_t *o = malloc((n + 1) * sizeof(*o));
    if (o == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < m; i++) {
        const lk_dump_t *d = p->dumps[i];
        for (size_t j = 0; j < d->nsites; j++) {
            if (d->sites[j].live_bytes == 0)
                continue;
            o[k++] = (obs_t){ .stack_id = d->sites[j].stack_id,
                              .family = (int)d->sites[j].family, .dump = i, .site = j,
                              .bytes = d->sites[j].live_bytes };
        }
    }
    qsort(o, k, sizeof(*o), cmp_obs);
    *out = o;
    *nout = k;
    return 0;
}

/* Name the limit that set 'l->effective_bytes' ('cgroup': the cgroup
 * file's kind, or NULL); NULL when none matches. */
static const char *limit_name(const lk_limits_t *l, const char *cgroup)
{
    if (l->effective_bytes == 0)
        return NULL;
    if (l->has_cgroup_max && l->cgroup_max_bytes == l->effective_bytes)
        return cgroup != NULL ? cgroup : "cgroup memory limit";
    if (l->has_rlimit_as && l->rlimit_as_bytes == l->effective_bytes)
        return "RLIMIT_AS";
    if (l->has_rlimit_data && l->rlimit_data_bytes == l->effective_bytes)
        return "RLIMIT_DATA";
    if (l->phys_bytes == l->effective_bytes)
        return "physical memory";
    return NULL;
}

int lk_growth_collect(lk_growth_report_t *g, const lk_input_t *in, lk_symbolizer_t *sym)
{
    g->procs = calloc(in->nprocs + 1, sizeof(*g->procs));
    if (g->procs == NULL)
        return -ENOMEM;
    for (size_t pi = 0; pi < in->nprocs; pi++) {
        const lk_process_t *p = &in->procs[pi];
        const lk_dump_t *last = p->dumps[p->ndumps - 1];
        lk_growth_proc_t *gp = &g->procs[g->nprocs++];
        gp->pid = p->pid;
        gp->image = p->image;
        gp->ndumps = p->ndumps;
        gp->final_live_bytes = last->totals.live_bytes;
        gp->limit_bytes = last->limits.effective_bytes;
        if (last->limits.has_cgroup_max && last->limits.cgroup_version != 0
            && last->limits.cgroup_max_bytes == last->limits.effective_bytes)
            gp->limit_source = last->limits.cgroup_version == 1
                                   ? "cgroup v1 memory.limit_in_bytes" : "cgroup v2 memory.max";
        gp->limit_name = limit_name(&last->limits, gp->limit_source);
        if ((gp->snaps = calloc(p->ndumps, sizeof(*gp->snaps))) == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < p->ndumps; i++)
            gp->snaps[i] = (lk_growth_snap_t){ (double)p->dumps[i]->uptime_ns / 1e9,
                                               p->dumps[i]->seq,
                                               p->dumps[i]->totals.live_bytes,
                                               p->dumps[i]->trigger };
        gp->seconds_to_limit = -1.0;
        if (total_series(gp, in, p) < 0)
            return -ENOMEM;
        if (lk_trend_fit(gp->total.t_s, gp->total.bytes, gp->total.n, 0, &gp->trend) < 0)
            gp->trend.kind = LK_TREND_INSUFFICIENT;
        gp->unsteady = lk_growth_unsteady(gp->total.t_s, gp->total.bytes, gp->total.n,
                                          &gp->trend);
        gp->steady = gp->trend.kind == LK_TREND_GROWING && gp->unsteady == NULL;
        gp->kept = gp->steady && still_held(gp->end_bytes, gp->trend.max_bytes);
        gp->nfreed = gp->steady && !gp->kept;
        /* Project at the current slope (the recent one when it still rises),
         * only for growth still held at the end. */
        if (gp->kept) {
            gp->slope_bytes_per_s = gp->trend.recent_slope_bytes_per_s > 0
                ? gp->trend.recent_slope_bytes_per_s : gp->trend.slope_bytes_per_s;
            if (gp->limit_bytes > 0)
                gp->seconds_to_limit = lk_trend_time_to_limit(
                    gp->total.n > 0 ? gp->total.bytes[gp->total.n - 1] : 0,
                    gp->slope_bytes_per_s, (double)gp->limit_bytes);
        }
        size_t m = series_dumps(p);
        if (m < LK_TREND_MIN_SAMPLES) {
            /* one sample per dump is too few: the timeline's sites then */
            if (timeline_sites(g, gp, p, sym) < 0)
                return -ENOMEM;
            continue;
        }
        obs_t *obs;
        size_t nobs;
        if (gather(p, m, &obs, &nobs) < 0)
            return -ENOMEM;
        int rc = process_sites(g, gp, p, m, obs, nobs, sym);
        free(obs);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void lk_growth_report_free(lk_growth_report_t *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->nprocs; i++) {
        series_free(&g->procs[i].total);
        free(g->procs[i].verdict_text);
        free(g->procs[i].snaps);
    }
    free(g->procs);
    for (size_t i = 0; i < g->nsites; i++) {
        series_free(&g->sites[i].series);
        free(g->sites[i].frames);
    }
    free(g->sites);
    for (size_t i = 0; i < g->nfailures; i++)
        free(g->failures[i].frames);
    free(g->failures);
    memset(g, 0, sizeof(*g));
}

int lk_growth_run(lk_report_t *r, const lk_input_t *in, lk_symbolizer_t *sym)
{
    lk_growth_report_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return -ENOMEM;
    r->growth = g;      /* freed by lk_growth_free() even when half built */
    return lk_growth_collect(g, in, sym);
}

void lk_growth_free(lk_report_t *r)
{
    if (r->growth == NULL)
        return;
    lk_growth_report_free(r->growth);
    free(r->growth);
    r->growth = NULL;
}
