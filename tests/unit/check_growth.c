/* check_growth.c - the growth and overflow passes (analyzer/growth.c,
 * overflow.c, report_growth.c) on synthetic lk_input_t series: site
 * classification, absent sites as zero, the total from the timeline, the
 * projection, failures with headroom, each verdict in plain words, and the
 * JSON/text/SVG output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "growth.h"
#include "testhelper.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)
#define PID 4242
#define NSTACKS 4

/* A dump of process PID at 't_s' seconds: stack i (id i) has 'bytes[i]'
 * live in one site (none when 0); limit 'limit' bytes. */
static lk_dump_t *mk_dump(uint64_t seq, double t_s, const uint64_t bytes[NSTACKS],
                          uint64_t limit)
{
    lk_dump_t *d = calloc(1, sizeof(*d));
    ck_assert_ptr_nonnull(d);
    d->file = strdup("synthetic.json");
    d->version = 1;
    d->pid = PID;
    d->start_unix_ms = 1000;
    d->seq = seq;
    d->trigger = LK_TRIGGER_INTERVAL;
    d->uptime_ns = (uint64_t)(t_s * 1e9);
    d->limits.effective_bytes = limit;
    d->limits.phys_bytes = limit;
    d->totals.complete = true;
    /* one module that does not exist: frames fall back to module+offset */
    d->modules = calloc(1, sizeof(*d->modules));
    ck_assert_ptr_nonnull(d->modules);
    d->modules[0].path = strdup("/nonexistent/libleak-synthetic");
    d->nmodules = 1;
    d->stacks = calloc(NSTACKS, sizeof(*d->stacks));
    d->sites = calloc(NSTACKS, sizeof(*d->sites));
    ck_assert_ptr_nonnull(d->stacks);
    ck_assert_ptr_nonnull(d->sites);
    d->nstacks = NSTACKS;
    for (size_t i = 0; i < NSTACKS; i++) {
        d->stacks[i].id = i;
        d->stacks[i].frames = calloc(1, sizeof(uint64_t));
        d->stacks[i].frames[0] = 0x1000 + 0x10 * i;
        d->stacks[i].nframes = 1;
        if (bytes[i] == 0)
            continue;
        lk_site_t *s = &d->sites[d->nsites++];
        s->stack_id = i;
        s->stack_idx = i;
        s->live_bytes = bytes[i];
        s->live_blocks = 1;
        d->totals.live_bytes += bytes[i];
        d->totals.live_blocks++;
    }
    return d;
}

/* Add a failures[] group on stack 'stack' to 'd'. */
static void add_failure(lk_dump_t *d, lk_failure_kind_t kind, const char *fn,
                        uint64_t request, double t_s, uint64_t live_at, size_t stack)
{
    d->failures = realloc(d->failures, (d->nfailures + 1) * sizeof(*d->failures));
    ck_assert_ptr_nonnull(d->failures);
    lk_failure_t *f = &d->failures[d->nfailures++];
    memset(f, 0, sizeof(*f));
    f->stack_idx = stack;
    f->kind = kind;
    f->function = strdup(fn);
    f->request_bytes = request;
    f->count = 1;
    f->first_uptime_ns = f->last_uptime_ns = (uint64_t)(t_s * 1e9);
    f->live_bytes_at_first = live_at;
}

/* Give 'd' a timeline of 'n' samples, 0.1 s apart, live = 'step' * i. */
static void add_timeline(lk_dump_t *d, size_t n, uint64_t step)
{
    lk_timeline_t *tl = &d->timeline;
    tl->n = n;
    tl->uptime_ns = calloc(n, sizeof(uint64_t));
    tl->live_bytes = calloc(n, sizeof(uint64_t));
    tl->rss_bytes = calloc(n, sizeof(uint64_t));
    tl->allocs = calloc(n, sizeof(uint64_t));
    tl->frees = calloc(n, sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) {
        tl->uptime_ns[i] = (uint64_t)i * 100000000u;
        tl->live_bytes[i] = step * i;
    }
}

static void add_dump(lk_input_t *in, lk_dump_t *d)
{
    in->dumps = realloc(in->dumps, (in->ndumps + 1) * sizeof(*in->dumps));
    ck_assert_ptr_nonnull(in->dumps);
    in->dumps[in->ndumps++] = d;
}

static lk_symbolizer_t *sym;
static FILE *devnull;   /* the symbolizer's warnings about the missing module */

static void setup(void)
{
    devnull = fopen("/dev/null", "w");
    sym = lk_symbolizer_new(devnull != NULL ? devnull : stderr);
    ck_assert_ptr_nonnull(sym);
}

static void teardown(void)
{
    lk_symbolizer_free(sym);
    if (devnull != NULL)
        fclose(devnull);
}

/* Run the whole pass on 'in' (grouped here). */
static void analyze(lk_input_t *in, lk_growth_report_t *g)
{
    char err[256];
    memset(g, 0, sizeof(*g));
    ck_assert_int_eq(lk_input_group(in, err, sizeof(err)), 0);
    ck_assert_int_eq(lk_growth_collect(g, in, sym), 0);
    ck_assert_int_eq(lk_overflow_collect(g, in, sym), 0);
    ck_assert_int_eq(lk_verdict_decide(g), 0);
    ck_assert_uint_eq(g->nprocs, 1);
}

static const lk_growth_site_t *site_of(const lk_growth_report_t *g, uint64_t stack)
{
    for (size_t i = 0; i < g->nsites; i++)
        if (g->sites[i].stack_id == stack)
            return &g->sites[i];
    return NULL;
}

/* 12 dumps 0.5 s apart: stack 0 leaks 64 KiB per dump, stack 1 is a cache
 * that fills to 512 KiB in 4 dumps and stays, stack 2 holds 100 KiB, stack 3
 * appears at dump 6 and then grows (absent before = 0). */
static void leak_in_progress_input(lk_input_t *in, uint64_t limit)
{
    for (uint64_t k = 0; k < 12; k++) {
        uint64_t b[NSTACKS] = {
            (k + 1) * 64 * KiB,
            (k < 4 ? k + 1 : 4) * 128 * KiB,
            100 * KiB,
            k < 6 ? 0 : (k - 5) * 32 * KiB,
        };
        add_dump(in, mk_dump(k, 0.5 * (double)k, b, limit));
    }
}

START_TEST(test_growth_classifies_sites)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    leak_in_progress_input(&in, 16 * MiB);
    analyze(&in, &g);

    const lk_growth_site_t *leak = site_of(&g, 0), *cache = site_of(&g, 1);
    ck_assert_ptr_nonnull(leak);
    ck_assert_ptr_nonnull(cache);
    ck_assert_int_eq(leak->trend.kind, LK_TREND_GROWING);
    ck_assert(leak->trend.confidence >= LK_GROWTH_MIN_CONFIDENCE);
    /* 64 KiB per 0.5 s */
    ck_assert(fabs(leak->trend.slope_bytes_per_s - 128.0 * KiB) < 1.0);
    ck_assert_int_eq(cache->trend.kind, LK_TREND_PLATEAU);
    ck_assert_uint_eq(cache->final_bytes, 512 * KiB);
    /* a constant site is not reported */
    ck_assert_ptr_null(site_of(&g, 2));
    /* growing sites come first, with their frames and series */
    ck_assert_uint_eq(g.sites[0].stack_id, 0);
    ck_assert_uint_ge(leak->nframes, 1);
    ck_assert_uint_eq(leak->series.n, 12);
    ck_assert_uint_eq(leak->series.bytes[11], 12 * 64 * KiB);
    ck_assert(leak->share > 0.4 && leak->share < 0.6);

    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert_str_eq(gp->source, "dumps");
    ck_assert_int_eq(gp->trend.kind, LK_TREND_GROWING);
    ck_assert_uint_eq(gp->ngrowing, 2);      /* stack 0 and the late stack 3 */
    ck_assert_uint_eq(gp->nplateau, 1);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

START_TEST(test_growth_absent_site_is_zero)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    leak_in_progress_input(&in, 16 * MiB);
    analyze(&in, &g);
    const lk_growth_site_t *late = site_of(&g, 3);
    ck_assert_ptr_nonnull(late);
    ck_assert_uint_eq(late->series.n, 12);
    for (size_t i = 0; i < 6; i++)
        ck_assert(late->series.bytes[i] == 0.0);
    ck_assert(late->series.bytes[11] == 6.0 * 32 * KiB);
    ck_assert_int_eq(late->trend.kind, LK_TREND_GROWING);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* A cgroup v1 limit below the machine's memory is the one projected to,
 * and the verdict names it. */
START_TEST(test_growth_projection_to_cgroup_v1_limit)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    leak_in_progress_input(&in, 200 * MiB);
    for (size_t i = 0; i < in.ndumps; i++) {
        lk_limits_t *l = &in.dumps[i]->limits;
        l->phys_bytes = 24 * GiB;
        l->has_cgroup_max = true;
        l->cgroup_max_bytes = 200 * MiB;
        l->cgroup_version = 1;
    }
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert_int_eq(gp->verdict, LK_VERDICT_LEAK_IN_PROGRESS);
    ck_assert_uint_eq(gp->limit_bytes, 200 * MiB);
    ck_assert_msg(strstr(gp->verdict_text, "the 200 MiB limit (cgroup v1 memory.limit_in_bytes) "
                                           "is reached in about") != NULL, "%s", gp->verdict_text);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

START_TEST(test_growth_leak_in_progress_projection)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    leak_in_progress_input(&in, 16 * MiB);
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert_int_eq(gp->verdict, LK_VERDICT_LEAK_IN_PROGRESS);
    ck_assert_uint_eq(gp->limit_bytes, 16 * MiB);
    /* total slope is 64 + 32 KiB per 0.5 s at the end: 192 KiB/s */
    ck_assert(fabs(gp->slope_bytes_per_s - 192.0 * KiB) < 1.0);
    double want = (16.0 * MiB - gp->total.bytes[gp->total.n - 1]) / (192.0 * KiB);
    ck_assert(fabs(gp->seconds_to_limit - want) < 0.01);
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "leak in progress"));
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "the 16 MiB limit is reached in about"));
    ck_assert_ptr_null(strstr(gp->verdict_text, "overflow"));
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

START_TEST(test_growth_shrinking_site)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    for (uint64_t k = 0; k < 10; k++) {
        uint64_t b[NSTACKS] = { (10 - k) * 64 * KiB, 8 * KiB, 0, 0 };
        add_dump(&in, mk_dump(k, (double)k, b, GiB));
    }
    analyze(&in, &g);
    const lk_growth_site_t *s = site_of(&g, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->trend.kind, LK_TREND_SHRINKING);
    ck_assert(s->trend.slope_bytes_per_s < 0);
    ck_assert_int_eq(g.procs[0].verdict, LK_VERDICT_NONE);
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "no leak growth"));
    ck_assert(g.procs[0].seconds_to_limit < 0);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* Steady working set; the final dump records one 64 TiB malloc failure. */
START_TEST(test_growth_overflow_not_a_leak)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    for (uint64_t k = 0; k < 8; k++) {
        uint64_t b[NSTACKS] = { 512 * KiB, 0, 64 * KiB, 0 };
        add_dump(&in, mk_dump(k, 0.25 * (double)k, b, 8 * GiB));
    }
    add_failure(in.dumps[7], LK_FAIL_ENOMEM, "malloc", 64 * TiB, 1.0, 576 * KiB, 1);
    analyze(&in, &g);
    ck_assert_uint_eq(g.nfailures, 1);
    const lk_failure_report_t *f = &g.failures[0];
    ck_assert_uint_eq(f->request_bytes, 64 * TiB);
    ck_assert_int_eq(f->kind, LK_FAIL_ENOMEM);
    ck_assert_str_eq(f->function, "malloc");
    ck_assert_uint_eq(f->limit_bytes, 8 * GiB);
    ck_assert_int_eq(f->headroom_bytes, (int64_t)(8 * GiB - 576 * KiB));
    ck_assert(f->oversized);
    ck_assert_uint_ge(f->nframes, 1);
    ck_assert_uint_eq(f->frames[0].address, 0x1010);
    ck_assert_int_eq(g.procs[0].verdict, LK_VERDICT_OVERFLOW);
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "overflow, not a leak"));
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "malloc(64 TiB)"));
    ck_assert_ptr_null(strstr(g.procs[0].verdict_text, "leak in progress"));
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* A site grows until a small request fails close to the limit. */
START_TEST(test_growth_leak_driven_exhaustion)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    for (uint64_t k = 0; k < 10; k++) {
        uint64_t b[NSTACKS] = { (k + 1) * 12 * MiB, 256 * KiB, 0, 0 };
        add_dump(&in, mk_dump(k, 0.1 * (double)k, b, 128 * MiB));
    }
    add_failure(in.dumps[9], LK_FAIL_ENOMEM, "malloc", 4 * MiB, 0.95, 120 * MiB + 256 * KiB, 0);
    analyze(&in, &g);
    ck_assert_uint_eq(g.nfailures, 1);
    ck_assert(!g.failures[0].oversized);
    ck_assert_int_eq(g.failures[0].headroom_bytes, (int64_t)(8 * MiB - 256 * KiB));
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert_int_eq(gp->verdict, LK_VERDICT_LEAK_EXHAUSTION);
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "leak-driven exhaustion"));
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "100% of live memory"));
    ck_assert_ptr_null(strstr(gp->verdict_text, "not a leak"));
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* No growth, yet a small request fails: the working set does not fit. */
START_TEST(test_growth_exhaustion_without_growth)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    for (uint64_t k = 0; k < 6; k++) {
        uint64_t b[NSTACKS] = { 100 * MiB, 0, 0, 0 };
        add_dump(&in, mk_dump(k, (double)k, b, 104 * MiB));
    }
    add_failure(in.dumps[5], LK_FAIL_ENOMEM, "calloc", 8 * MiB, 4.5, 100 * MiB, 1);
    analyze(&in, &g);
    ck_assert_int_eq(g.procs[0].verdict, LK_VERDICT_EXHAUSTION);
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "without steady growth"));
    ck_assert_uint_eq(g.nsites, 0);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* A calloc overflow is oversized whatever the numbers say. */
START_TEST(test_growth_mul_overflow)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    uint64_t b[NSTACKS] = { 4 * KiB, 0, 0, 0 };
    add_dump(&in, mk_dump(0, 1.0, b, GiB));
    add_failure(in.dumps[0], LK_FAIL_MUL_OVERFLOW, "calloc", INT64_MAX, 0.5, 0, 2);
    analyze(&in, &g);
    ck_assert_uint_eq(g.nfailures, 1);
    ck_assert(g.failures[0].oversized);
    ck_assert_int_eq(g.failures[0].kind, LK_FAIL_MUL_OVERFLOW);
    ck_assert_int_eq(g.procs[0].verdict, LK_VERDICT_OVERFLOW);
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "calloc(count * size beyond 2^64)"));
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "overflowed"));
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* One dump: the total comes from its timeline; sites cannot be judged. */
START_TEST(test_growth_total_from_timeline)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    uint64_t b[NSTACKS] = { 30 * MiB, 0, 0, 0 };
    add_dump(&in, mk_dump(0, 3.0, b, GiB));
    add_timeline(in.dumps[0], 31, MiB);
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert_str_eq(gp->source, "timeline");
    ck_assert_uint_eq(gp->total.n, 31);
    ck_assert_int_eq(gp->trend.kind, LK_TREND_GROWING);
    ck_assert(fabs(gp->slope_bytes_per_s - 10.0 * MiB) < 1.0);   /* 1 MiB per 0.1 s */
    ck_assert_uint_eq(g.nsites, 0);
    ck_assert_int_eq(gp->verdict, LK_VERDICT_LEAK_IN_PROGRESS);
    /* (1 GiB - 30 MiB) at 10 MiB/s */
    ck_assert(fabs(gp->seconds_to_limit - 99.4) < 0.01);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* Give 'd''s timeline (add_timeline first) a site on stack 'stack' whose
 * live bytes at sample i are f(i), or LK_TL_ABSENT. */
static void add_tl_site(lk_dump_t *d, size_t stack, uint64_t (*f)(size_t))
{
    lk_timeline_t *tl = &d->timeline;
    tl->sites = realloc(tl->sites, (tl->nsites + 1) * sizeof(*tl->sites));
    ck_assert_ptr_nonnull(tl->sites);
    lk_tl_site_t *ts = &tl->sites[tl->nsites++];
    memset(ts, 0, sizeof(*ts));
    ts->stack_id = stack;
    ts->stack_idx = stack;
    ts->live_bytes = calloc(tl->n, sizeof(uint64_t));
    ck_assert_ptr_nonnull(ts->live_bytes);
    for (size_t i = 0; i < tl->n; i++)
        ts->live_bytes[i] = f(i);
}

static uint64_t tl_leak(size_t i) { return (uint64_t)(i + 1) * MiB; }
static uint64_t tl_cache(size_t i) { return (uint64_t)(i < 10 ? i + 1 : 10) * 64 * KiB; }
static uint64_t tl_late(size_t i) { return i < 25 ? LK_TL_ABSENT : (uint64_t)(i - 24) * MiB; }
static uint64_t tl_ramp_then_gone(size_t i)
{
    return i == 0 || i == 22 ? LK_TL_ABSENT : (uint64_t)i * 64 * KiB;
}
static uint64_t tl_child_own(size_t i) { return i <= 20 ? LK_TL_ABSENT : (uint64_t)(i - 20) * MiB; }

/* One exit dump: its timeline's sites give the site series (a leak, a
 * cache, and a site that was among the biggest only at the end). */
START_TEST(test_growth_sites_from_timeline)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    uint64_t b[NSTACKS] = { 31 * MiB, 640 * KiB, 0, 6 * MiB };
    add_dump(&in, mk_dump(0, 3.0, b, GiB));
    in.dumps[0]->trigger = LK_TRIGGER_EXIT;
    add_timeline(in.dumps[0], 31, MiB);
    add_tl_site(in.dumps[0], 0, tl_leak);
    add_tl_site(in.dumps[0], 1, tl_cache);
    add_tl_site(in.dumps[0], 3, tl_late);
    analyze(&in, &g);
    const lk_growth_site_t *leak = site_of(&g, 0), *cache = site_of(&g, 1), *late = site_of(&g, 3);
    ck_assert_ptr_nonnull(leak);
    ck_assert_int_eq(leak->trend.kind, LK_TREND_GROWING);
    ck_assert(leak->steady);
    ck_assert_uint_eq(leak->series.n, 31);
    ck_assert(fabs(leak->trend.slope_bytes_per_s - 10.0 * MiB) < 1.0);
    ck_assert_uint_eq(leak->final_bytes, 31 * MiB);
    ck_assert_ptr_nonnull(cache);
    ck_assert_int_eq(cache->trend.kind, LK_TREND_PLATEAU);
    ck_assert_ptr_nonnull(late);
    ck_assert_uint_eq(late->series.n, 6);      /* only where it was sampled */
    ck_assert(fabs(late->series.t_s[0] - 2.5) < 1e-9);
    ck_assert_int_eq(late->trend.kind, LK_TREND_GROWING);
    ck_assert_uint_ge(g.procs[0].ngrowing, 1);
    ck_assert_int_eq(g.procs[0].verdict, LK_VERDICT_LEAK_IN_PROGRESS);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

START_TEST(test_growth_too_few_samples)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    uint64_t b[NSTACKS] = { 30 * MiB, 0, 0, 0 };
    add_dump(&in, mk_dump(0, 3.0, b, GiB));
    analyze(&in, &g);
    ck_assert_int_eq(g.procs[0].verdict, LK_VERDICT_NONE);
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "too few samples"));
    ck_assert(g.procs[0].seconds_to_limit < 0);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* Text, JSON and SVG of the leak-in-progress series plus one failure. */
START_TEST(test_growth_outputs)
{
    lk_input_t in = { 0 };
    lk_report_t r = { 0 };
    char err[256];
    leak_in_progress_input(&in, 16 * MiB);
    add_failure(in.dumps[11], LK_FAIL_ENOMEM, "malloc", 64 * TiB, 5.0, MiB, 1);
    ck_assert_int_eq(lk_input_group(&in, err, sizeof(err)), 0);
    ck_assert_int_eq(lk_growth_run(&r, &in, sym), 0);
    ck_assert_int_eq(lk_overflow_run(&r, &in, sym), 0);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    lk_report_growth_text(f, &r, PID, 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "Growth of process 4242: 12 dump(s)"));
    ck_assert_ptr_nonnull(strstr(buf, "  growing   "));
    ck_assert_ptr_nonnull(strstr(buf, "  plateau   "));
    ck_assert_ptr_nonnull(strstr(buf, "\u2581"));            /* a sparkline */
    ck_assert_ptr_nonnull(strstr(buf, "enomem: malloc(70368744177664 bytes = 64 TiB)"));
    ck_assert_ptr_nonnull(strstr(buf, "VERDICT (process 4242): overflow, not a leak"));
    ck_assert_ptr_nonnull(strstr(buf, "Separately, a leak in progress"));
    free(buf);
    /* another pid prints nothing */
    f = open_memstream(&buf, &len);
    lk_report_growth_text(f, &r, PID + 1, 0);
    fclose(f);
    ck_assert_uint_eq(len, 0);
    free(buf);

    json_t *root = json_object();
    ck_assert_int_eq(lk_report_growth_json(root, &r), 0);
    json_t *gr = json_object_get(root, "growth"), *fa = json_object_get(root, "failures");
    json_t *ve = json_object_get(root, "verdict");
    ck_assert(json_is_array(gr) && json_array_size(gr) == 3);
    json_t *g0 = json_array_get(gr, 0);
    ck_assert_str_eq(json_string_value(json_object_get(g0, "trend")), "growing");
    ck_assert(json_real_value(json_object_get(g0, "slope_bytes_per_s")) > 0);
    ck_assert(json_is_array(json_object_get(g0, "frames")));
    ck_assert_int_eq(json_array_size(json_object_get(json_object_get(g0, "series"),
                                                     "live_bytes")), 12);
    ck_assert(json_is_array(fa) && json_array_size(fa) == 1);
    json_t *f0 = json_array_get(fa, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(f0, "request_bytes")),
                     (json_int_t)(64 * TiB));
    ck_assert_str_eq(json_string_value(json_object_get(f0, "kind")), "enomem");
    ck_assert_int_eq(json_integer_value(json_object_get(f0, "count")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(f0, "headroom_bytes")),
                     (json_int_t)(15 * MiB));
    ck_assert(json_is_true(json_object_get(f0, "oversized")));
    ck_assert_str_eq(json_string_value(json_object_get(ve, "kind")), "overflow");
    json_t *vp = json_array_get(json_object_get(ve, "processes"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(vp, "pid")), PID);
    ck_assert_str_eq(json_string_value(json_object_get(vp, "total_trend")), "growing");
    json_decref(root);

    f = open_memstream(&buf, &len);
    ck_assert_int_eq(lk_report_svg(f, &r), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "<svg"));
    ck_assert_ptr_nonnull(strstr(buf, "total (growing)"));
    ck_assert_ptr_nonnull(strstr(buf, "plateau: stack 1"));
    ck_assert_ptr_nonnull(strstr(buf, "</svg>"));
    free(buf);

    lk_growth_free(&r);
    ck_assert_ptr_null(r.growth);
    lk_growth_free(&r);     /* twice is harmless */
    lk_input_free(&in);
}
END_TEST

/* A request above the limit that succeeded is a note, not a failure. */
START_TEST(test_growth_implausible_is_a_note)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    for (uint64_t k = 0; k < 5; k++) {
        uint64_t b[NSTACKS] = { 64 * KiB, 0, 0, 0 };
        add_dump(&in, mk_dump(k, (double)k, b, 16 * GiB));
    }
    add_failure(in.dumps[4], LK_FAIL_IMPLAUSIBLE, "malloc", 32 * GiB, 2.0, 64 * KiB, 1);
    analyze(&in, &g);
    ck_assert_uint_eq(g.nfailures, 1);
    ck_assert(g.failures[0].oversized);
    ck_assert_int_eq(g.procs[0].verdict, LK_VERDICT_NONE);
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "no leak growth and no failed request"));
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text,
                                 "Note: malloc(32 GiB) in "));
    ck_assert_ptr_nonnull(strstr(g.procs[0].verdict_text, "yet succeeded"));
    ck_assert_ptr_null(strstr(g.procs[0].verdict_text, "not a leak"));
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* Frees at exit (an exit dump below half the snapshot before it) are
 * teardown: trends leave that sample out; a smaller drop stays in. */
START_TEST(test_growth_exit_teardown)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    for (uint64_t k = 0; k < 8; k++) {
        uint64_t b[NSTACKS] = { (k + 1) * 64 * KiB, 0, 0, 0 };
        add_dump(&in, mk_dump(k, (double)k, b, GiB));
    }
    uint64_t none[NSTACKS] = { 0, 0, 0, 0 };
    add_dump(&in, mk_dump(8, 8.0, none, GiB));
    in.dumps[8]->trigger = LK_TRIGGER_EXIT;
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert(gp->teardown_excluded);
    ck_assert_uint_eq(gp->total.n, 8);
    ck_assert_uint_eq(gp->final_live_bytes, 0);
    const lk_growth_site_t *s = site_of(&g, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->series.n, 8);
    ck_assert_int_eq(s->trend.kind, LK_TREND_GROWING);
    ck_assert_uint_eq(s->final_bytes, 8 * 64 * KiB);
    /* grown while running, freed by the end: not a leak in progress */
    ck_assert(s->steady);
    ck_assert(!s->kept);
    ck_assert_uint_eq(s->end_bytes, 0);
    ck_assert_int_eq(gp->verdict, LK_VERDICT_NONE);
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "then was freed by the end"));
    ck_assert(gp->seconds_to_limit < 0);
    lk_growth_report_free(&g);
    lk_input_free(&in);

    /* an exit dump that freed only a little (512 -> 448 KiB) stays in */
    memset(&in, 0, sizeof(in));
    for (uint64_t k = 0; k < 9; k++) {
        uint64_t b[NSTACKS] = { (k < 8 ? k + 1 : 7) * 64 * KiB, 0, 0, 0 };
        add_dump(&in, mk_dump(k, (double)k, b, GiB));
    }
    in.dumps[8]->trigger = LK_TRIGGER_EXIT;
    analyze(&in, &g);
    ck_assert(!g.procs[0].teardown_excluded);
    ck_assert_uint_eq(g.procs[0].total.n, 9);
    ck_assert_ptr_null(strstr(g.procs[0].verdict_text, "then was freed"));
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* A start-up step and then a creep of a few KiB, or too few samples, is
 * not steady growth: no "leak in progress", no text section. */
START_TEST(test_growth_startup_step_is_not_steady)
{
    static const uint64_t step[] = { 0, 0, 78, 79, 79, 80, 80, 81, 85, 89 };
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    uint64_t b[NSTACKS] = { 89 * KiB, 0, 0, 0 };
    add_dump(&in, mk_dump(0, 1.0, b, GiB));
    add_timeline(in.dumps[0], 10, 0);
    for (size_t i = 0; i < 10; i++)
        in.dumps[0]->timeline.live_bytes[i] = step[i] * KiB;
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert_int_eq(gp->trend.kind, LK_TREND_GROWING);   /* what the fit says */
    ck_assert(!gp->steady);
    ck_assert_int_eq(gp->verdict, LK_VERDICT_NONE);
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "rises, but not steadily"));
    ck_assert(gp->seconds_to_limit < 0);
    lk_report_t r = { .growth = &g };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    lk_report_growth_text(f, &r, PID, 0);
    fclose(f);
    ck_assert_uint_eq(len, 0);
    free(buf);
    lk_growth_report_free(&g);
    lk_input_free(&in);

    /* a clean linear rise, but over only 5 samples */
    memset(&in, 0, sizeof(in));
    add_dump(&in, mk_dump(0, 1.0, b, GiB));
    add_timeline(in.dumps[0], 5, MiB);
    analyze(&in, &g);
    ck_assert_int_eq(g.procs[0].trend.kind, LK_TREND_GROWING);
    ck_assert(!g.procs[0].steady);
    ck_assert_int_eq(g.procs[0].verdict, LK_VERDICT_NONE);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST


/* The text report of 'g' for process 'pid' (malloc'd, NUL-terminated). */
static char *growth_text(lk_growth_report_t *g, int pid)
{
    lk_report_t r = { .growth = g };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    lk_report_growth_text(f, &r, pid, 0);
    fclose(f);
    return buf;
}

/* The rule of analyzer/README.md, checked on a printed report: every line
 * whose trend is "growing" says whether it is steady; the verdict is a leak
 * exactly when some line grows steadily and is still held; a verdict that
 * says the total grows steadily has a total line that does. */
static void assert_verdict_follows_lines(const char *text)
{
    bool held = false, total_held = false;
    const char *verdict = strstr(text, "VERDICT");
    ck_assert_msg(verdict != NULL, "no verdict in:\n%s", text);
    for (const char *l = text; l != NULL && l < verdict; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t len = strcspn(l, "\n");
        char line[1024];
        snprintf(line, sizeof(line), "%.*s", (int)len, l);
        bool total = strncmp(line, "  total ", 8) == 0;
        bool growing = strncmp(line, "  growing ", 10) == 0
                       || (total && strstr(line, ", growing at ") != NULL);
        if (!growing)
            continue;
        bool steady = strstr(line, ", steady") != NULL;
        ck_assert_msg(steady || strstr(line, ", not steady: ") != NULL,
                      "a growing line does not say whether it is steady: %s", line);
        if (steady && strstr(line, "then freed") == NULL) {
            held = true;
            total_held |= total;
        }
    }
    bool leak = strstr(verdict, "leak in progress:") != NULL
                && strstr(verdict, "no leak in progress") == NULL;
    ck_assert_msg(leak == held, "verdict %s, but %s line grows steadily and is held:\n%s",
                  leak ? "leak" : "no leak", held ? "a" : "no", text);
    if (strstr(verdict, "live memory grows steadily") != NULL)
        ck_assert_msg(total_held, "the verdict says the total grows steadily, its line "
                      "does not:\n%s", text);
}

/* A total that grows steadily while its only moving site does not: the
 * verdict names the total, not the site (python3 with three threads). */
START_TEST(test_growth_verdict_total_steady_site_not)
{
    static const uint64_t site0[8] = { 0, 100, 200, 300, 310, 320, 330, 340 };
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    for (uint64_t k = 0; k < 8; k++) {
        uint64_t b[NSTACKS] = { site0[k] * KiB, 0, 0, 0 };
        add_dump(&in, mk_dump(k, 0.5 * (double)k, b, GiB));
    }
    /* the total also counts many small sites that grow together */
    add_timeline(in.dumps[7], 36, 256 * KiB);
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert(gp->kept);
    const lk_growth_site_t *s = site_of(&g, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->trend.kind, LK_TREND_GROWING);
    ck_assert(!s->steady);
    ck_assert_int_eq(gp->verdict, LK_VERDICT_LEAK_IN_PROGRESS);
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "total live memory grows steadily"));
    ck_assert_ptr_null(strstr(gp->verdict_text, "growing:"));
    char *text = growth_text(&g, PID);
    ck_assert_ptr_nonnull(strstr(text, "not steady: its later half grows by less than 64 KiB"));
    assert_verdict_follows_lines(text);
    free(text);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* A site grows steadily while another shrinks as fast: the total line says
 * stable, so the verdict must not say that live memory grows. */
START_TEST(test_growth_verdict_site_steady_total_stable)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    for (uint64_t k = 0; k < 10; k++) {
        uint64_t b[NSTACKS] = { (k + 1) * 256 * KiB, (11 - k) * 256 * KiB, 0, 0 };
        add_dump(&in, mk_dump(k, 0.5 * (double)k, b, GiB));
    }
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert_int_eq(gp->trend.kind, LK_TREND_STABLE);
    ck_assert_int_eq(gp->verdict, LK_VERDICT_LEAK_IN_PROGRESS);
    ck_assert_ptr_null(strstr(gp->verdict_text, "live memory grows steadily"));
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "1 site(s) grow steadily"));
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "while the total is stable"));
    char *text = growth_text(&g, PID);
    assert_verdict_follows_lines(text);
    free(text);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* A total whose trend is "growing" (confidence 1.00) but whose later half
 * creeps by less than 64 KiB: its line says "not steady" and why, as the
 * verdict does (node filling an array, then idle until exit). */
START_TEST(test_growth_verdict_total_growing_not_steady)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    uint64_t b[NSTACKS] = { 4 * KiB, 0, 0, 0 };
    for (uint64_t k = 0; k < 3; k++)
        add_dump(&in, mk_dump(k, 0.6 * (double)k, b, GiB));
    add_timeline(in.dumps[2], 18, 0);
    for (size_t i = 0; i < 18; i++)
        in.dumps[2]->timeline.live_bytes[i] = i <= 6 ? i * MiB : 6 * MiB + (i - 6) * 7 * KiB;
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert_int_eq(gp->trend.kind, LK_TREND_GROWING);
    ck_assert(gp->trend.confidence > 0.99);
    ck_assert(!gp->steady);
    ck_assert_int_eq(gp->verdict, LK_VERDICT_NONE);
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "rises, but not steadily (its later half "
                                 "does not grow)"));
    char *text = growth_text(&g, PID);
    ck_assert_ptr_nonnull(strstr(text, "(confidence 1.00), not steady: its later half does "
                                 "not grow"));
    assert_verdict_follows_lines(text);
    free(text);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* Growth freed before the final dump (forkv's parent: 64 KiB every 0.1 s
 * for 2 s, all freed before exit): no leak in progress, no projection. */
START_TEST(test_growth_freed_by_the_end)
{
    lk_input_t in = { 0 };
    lk_growth_report_t g;
    uint64_t none[NSTACKS] = { 0, 0, 0, 0 };
    add_dump(&in, mk_dump(0, 2.2, none, GiB));
    in.dumps[0]->trigger = LK_TRIGGER_EXIT;
    add_timeline(in.dumps[0], 23, 64 * KiB);
    in.dumps[0]->timeline.live_bytes[22] = 0;
    add_tl_site(in.dumps[0], 0, tl_ramp_then_gone);
    analyze(&in, &g);
    const lk_growth_proc_t *gp = &g.procs[0];
    ck_assert(gp->steady);
    ck_assert(!gp->kept);
    ck_assert_int_eq(gp->verdict, LK_VERDICT_NONE);
    ck_assert(gp->seconds_to_limit < 0);
    ck_assert_ptr_nonnull(strstr(gp->verdict_text, "no leak in progress"));
    char *text = growth_text(&g, PID);
    ck_assert_ptr_null(strstr(text, "projection"));
    ck_assert_ptr_nonnull(strstr(text, "steady, then freed (0 B at the final dump)"));
    assert_verdict_follows_lines(text);
    free(text);
    lk_growth_report_free(&g);
    lk_input_free(&in);
}
END_TEST

/* forkv's child: its timeline is its parent's ramp up to the fork, then
 * one sample of its own; it inherited every block and allocated nothing. */
/* ... forked at 'fork_ns' when not 0 (the dump's fork_uptime_ns). */
static void forkv_input_at(lk_input_t *in, bool with_parent, bool child_grows, uint64_t fork_ns)
{
    uint64_t none[NSTACKS] = { 0, 0, 0, 0 };
    if (with_parent) {
        lk_dump_t *p = mk_dump(0, 4.0, none, GiB);
        p->trigger = LK_TRIGGER_EXIT;
        add_timeline(p, 41, 64 * KiB);
        for (size_t i = 21; i < 41; i++)
            p->timeline.live_bytes[i] = 20 * 64 * KiB;
        add_dump(in, p);
    }
    uint64_t own[NSTACKS] = { 0, child_grows ? 10 * MiB : 0, 0, 0 };
    lk_dump_t *c = mk_dump(0, 2.05 + (child_grows ? 1.0 : 0), own, GiB);
    c->pid = PID + 1;
    c->ppid = PID;
    c->trigger = LK_TRIGGER_EXIT;
    c->totals.inherited_from_pid = PID;
    c->totals.inherited_blocks = 20;
    c->totals.inherited_bytes = 20 * 64 * KiB;
    size_t n = child_grows ? 31 : 22;
    add_timeline(c, n, 64 * KiB);
    for (size_t i = 20; i < n; i++) {
        /* after the fork (sample 20, at 2.0 s) the child's own clock ticks */
        c->timeline.uptime_ns[i] = 2000000000u + (uint64_t)(i - 20) * 100000000u + 5000000u;
        c->timeline.live_bytes[i] = 20 * 64 * KiB + (child_grows ? (i - 20) * MiB : 0);
    }
    if (child_grows)
        add_tl_site(c, 1, tl_child_own);
    c->has_fork_uptime = fork_ns != 0;
    c->fork_uptime_ns = fork_ns;
    add_dump(in, c);
}

static void forkv_input(lk_input_t *in, bool with_parent, bool child_grows)
{
    forkv_input_at(in, with_parent, child_grows, 0);
}

static void analyze_procs(lk_input_t *in, lk_growth_report_t *g, size_t nprocs)
{
    char err[256];
    memset(g, 0, sizeof(*g));
    ck_assert_int_eq(lk_input_group(in, err, sizeof(err)), 0);
    ck_assert_int_eq(lk_growth_collect(g, in, sym), 0);
    ck_assert_int_eq(lk_overflow_collect(g, in, sym), 0);
    ck_assert_int_eq(lk_verdict_decide(g), 0);
    ck_assert_uint_eq(g->nprocs, nprocs);
}

/* A forked child is judged on what happened after its fork only: the
 * parent's ramp in its timeline is not its growth, with or without the
 * parent's dump to tell where the fork was. */
START_TEST(test_growth_fork_child_from_its_fork)
{
    for (int with_parent = 0; with_parent < 2; with_parent++) {
        lk_input_t in = { 0 };
        lk_growth_report_t g;
        forkv_input(&in, with_parent, false);
        analyze_procs(&in, &g, with_parent ? 2 : 1);
        const lk_growth_proc_t *gp = &g.procs[with_parent ? 1 : 0];
        ck_assert_int_eq(gp->pid, PID + 1);
        ck_assert(gp->forked);
        ck_assert_uint_le(gp->total.n, 2);
        ck_assert(!gp->steady);
        ck_assert_int_eq(gp->verdict, LK_VERDICT_NONE);
        ck_assert(gp->seconds_to_limit < 0);
        ck_assert_ptr_null(strstr(gp->verdict_text, "leak in progress"));
        lk_growth_report_free(&g);
        lk_input_free(&in);
    }
    /* a child that leaks after its fork: its own growth, inherited bytes left out */
    for (int with_parent = 0; with_parent < 2; with_parent++) {
        lk_input_t in = { 0 };
        lk_growth_report_t g;
        forkv_input(&in, with_parent, true);
        analyze_procs(&in, &g, with_parent ? 2 : 1);
        const lk_growth_proc_t *gp = &g.procs[with_parent ? 1 : 0];
        ck_assert(gp->forked);
        ck_assert_uint_eq(gp->fork_sample, with_parent ? 20 : 21);
        ck_assert_uint_eq(gp->total.n, 31 - gp->fork_sample);
        ck_assert(fabs(gp->total.bytes[gp->total.n - 1] - 10.0 * MiB) < 1.0);
        ck_assert(gp->steady && gp->kept);
        ck_assert_int_eq(gp->verdict, LK_VERDICT_LEAK_IN_PROGRESS);
        ck_assert(fabs(gp->trend.slope_bytes_per_s - 10.0 * MiB) < 1.0);
        lk_growth_report_free(&g);
        lk_input_free(&in);
    }
}
END_TEST

/* A dump that says when its process was forked: the child's curve starts at
 * the first sample after it, with or without the parent's dumps. */
START_TEST(test_growth_fork_child_from_fork_time)
{
    for (int with_parent = 0; with_parent < 2; with_parent++) {
        lk_input_t in = { 0 };
        lk_growth_report_t g;
        forkv_input_at(&in, with_parent, true, 2000000000u);
        analyze_procs(&in, &g, with_parent ? 2 : 1);
        const lk_growth_proc_t *gp = &g.procs[with_parent ? 1 : 0];
        ck_assert(gp->forked && gp->fork_parent_seen);
        ck_assert_uint_eq(gp->fork_sample, 20);
        ck_assert_uint_eq(gp->total.n, 11);
        ck_assert_int_eq(gp->verdict, LK_VERDICT_LEAK_IN_PROGRESS);
        lk_growth_report_free(&g);
        lk_input_free(&in);
    }
}
END_TEST

START_TEST(test_growth_verdict_names)
{
    ck_assert_str_eq(lk_verdict_name(LK_VERDICT_NONE), "none");
    ck_assert_str_eq(lk_verdict_name(LK_VERDICT_LEAK_IN_PROGRESS), "leak_in_progress");
    ck_assert_str_eq(lk_verdict_name(LK_VERDICT_OVERFLOW), "overflow");
    ck_assert_str_eq(lk_verdict_name(LK_VERDICT_EXHAUSTION), "exhaustion");
    ck_assert_str_eq(lk_verdict_name(LK_VERDICT_LEAK_EXHAUSTION), "leak_exhaustion");
    ck_assert_str_eq(lk_verdict_name(LK_VERDICT_COUNT), "?");
}
END_TEST

static Suite *growth_suite(void)
{
    Suite *s = suite_create("growth");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_growth_classifies_sites);
    tcase_add_test(tc, test_growth_absent_site_is_zero);
    tcase_add_test(tc, test_growth_leak_in_progress_projection);
    tcase_add_test(tc, test_growth_projection_to_cgroup_v1_limit);
    tcase_add_test(tc, test_growth_shrinking_site);
    tcase_add_test(tc, test_growth_overflow_not_a_leak);
    tcase_add_test(tc, test_growth_leak_driven_exhaustion);
    tcase_add_test(tc, test_growth_exhaustion_without_growth);
    tcase_add_test(tc, test_growth_mul_overflow);
    tcase_add_test(tc, test_growth_total_from_timeline);
    tcase_add_test(tc, test_growth_too_few_samples);
    tcase_add_test(tc, test_growth_sites_from_timeline);
    tcase_add_test(tc, test_growth_outputs);
    tcase_add_test(tc, test_growth_implausible_is_a_note);
    tcase_add_test(tc, test_growth_exit_teardown);
    tcase_add_test(tc, test_growth_startup_step_is_not_steady);
    tcase_add_test(tc, test_growth_verdict_total_steady_site_not);
    tcase_add_test(tc, test_growth_verdict_site_steady_total_stable);
    tcase_add_test(tc, test_growth_verdict_total_growing_not_steady);
    tcase_add_test(tc, test_growth_freed_by_the_end);
    tcase_add_test(tc, test_growth_fork_child_from_its_fork);
    tcase_add_test(tc, test_growth_fork_child_from_fork_time);
    tcase_add_test(tc, test_growth_verdict_names);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(growth_suite)
