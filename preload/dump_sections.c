/* dump_sections.c - the small sections of a dump, each written through
 * lk_jw as one member of the root object: process, config, crash, limits,
 * mismatches, failures, timeline.
 * Runs with the guard held, outside every table lock (each copies what it
 * needs under its own). */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "dump_json.h"

static const char *failure_name(int k)
{
    static const char *const failure_names[] = LK_FAILURE_NAMES;
    return failure_names[k];
}

void lk_section_process(lk_jw_t *w, const char *key)
{
    char buf[4096];
    lk_jw_object(w, key);
    lk_jw_int(w, LK_KEY_PID, getpid());
    lk_jw_int(w, LK_KEY_PPID, getppid());
    ssize_t n = exe_path(buf, sizeof buf);
    jw_str_esc(w, LK_KEY_EXE, buf, NULL);
    lk_jw_array(w, LK_KEY_CMDLINE);
    /* as started (a program may have written its title over argv since) */
    size_t clen;
    const char *cl = lk_config_cmdline(&clen);
    n = (ssize_t)clen;
    if (n > 0)
        memcpy(buf, cl, clen + 1);
    /* thread-self first: once main() called pthread_exit, /proc/self (the
     * main thread, a zombie) has no exe and an empty cmdline */
    if (n <= 0)
        n = lk_read_file("/proc/thread-self/cmdline", buf, sizeof buf);
    if (n <= 0)
        n = lk_read_file("/proc/self/cmdline", buf, sizeof buf);
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
        jw_str_esc(w, NULL, buf + i, NULL);
    lk_jw_close(w);
    jw_u64(w, LK_KEY_START_UNIX_MS, lk_start_unix_ms);
    lk_jw_close(w);
}

void lk_section_config(lk_jw_t *w, const char *key)
{
    lk_jw_object(w, key);
    lk_jw_int(w, LK_KEY_MAX_DEPTH, lk_config.max_depth);
    jw_u64(w, LK_KEY_SAMPLE_BYTES, lk_config.sample_bytes);
    lk_jw_int(w, LK_KEY_INTERVAL_MS, lk_config.interval_ms);
    lk_jw_int(w, LK_KEY_SIGNAL, lk_config.signal);
    jw_u64(w, LK_KEY_WATERMARK_BYTES, __atomic_load_n(&lk_watermark_step, __ATOMIC_RELAXED));
    lk_jw_close(w);
}

const lk_crash_t *lk_section_crash_stack(uint32_t *stack_id)
{
    const lk_crash_t *c = lk_signals_crash();
    if (!c)
        return NULL;
    static lk_frames_t f;       /* 2 KiB: off the dumper's stack; dump lock held */
    memset(&f, 0, sizeof f);
    f.depth = c->depth;
    f.truncated = c->truncated;
    memcpy(f.pc, c->pc, c->depth * sizeof *f.pc);
    lk_frames_hash(&f);
    *stack_id = c->depth ? lk_stack_intern(&f) : LK_STACK_NONE;
    return c;
}

void lk_section_crash(lk_jw_t *w, const char *key, const lk_crash_t *c, uint32_t stack_id)
{
    lk_jw_object(w, key);
    lk_jw_int(w, LK_KEY_CRASH_SIGNAL, c->sig);
    lk_jw_int(w, LK_KEY_CRASH_CODE, c->code);
    if (c->has_addr)
        lk_jw_hex(w, LK_KEY_CRASH_ADDRESS, c->addr);
    else
        lk_jw_null(w, LK_KEY_CRASH_ADDRESS);
    lk_jw_int(w, LK_KEY_CRASH_TID, c->tid);
    if (stack_id == LK_STACK_NONE)
        lk_jw_null(w, LK_KEY_CRASH_STACK);
    else
        lk_jw_int(w, LK_KEY_CRASH_STACK, stack_id);
    lk_jw_close(w);
}

void lk_section_limits(lk_jw_t *w, const char *key)
{
    lk_jw_object(w, key);
    jw_u64_or_null(w, LK_KEY_RLIMIT_AS, lk_limits.rlimit_as);
    jw_u64_or_null(w, LK_KEY_RLIMIT_DATA, lk_limits.rlimit_data);
    jw_u64_or_null(w, LK_KEY_CGROUP_MAX, lk_limits.cgroup_max);
    if (lk_limits.cgroup_version)
        lk_jw_int(w, LK_KEY_CGROUP_VERSION, lk_limits.cgroup_version);
    else
        lk_jw_null(w, LK_KEY_CGROUP_VERSION);
    if (lk_limits.cgroup_file[0])
        jw_str_esc(w, LK_KEY_CGROUP_FILE, lk_limits.cgroup_file, NULL);
    else
        lk_jw_null(w, LK_KEY_CGROUP_FILE);
    jw_u64(w, LK_KEY_PHYS, lk_limits.phys);
    jw_u64(w, LK_KEY_EFFECTIVE, lk_limits.effective);
    lk_jw_close(w);
}

lk_mismatch_t *lk_section_mismatches_copy(size_t *count)
{
    size_t n = lk_tracker_mismatches(NULL, 0);
    lk_mismatch_t *m = n ? lk_real_calloc(n + 16, sizeof *m) : NULL;
    *count = 0;
    if (m) {
        size_t got = lk_tracker_mismatches(m, n + 16);   /* may have grown meanwhile */
        *count = got < n + 16 ? got : n + 16;
    }
    return m;
}

void lk_section_mismatches(lk_jw_t *w, const char *key, const lk_mismatch_t *m, size_t n)
{
    lk_jw_array(w, key);
    for (size_t i = 0; i < n; i++) {
        lk_jw_object(w, NULL);
        lk_jw_int(w, LK_KEY_ALLOC_STACK, m[i].alloc_stack);
        lk_jw_int(w, LK_KEY_FREE_STACK, m[i].free_stack);
        lk_jw_str(w, LK_KEY_ALLOC_FAMILY, family_name(m[i].alloc_family));
        lk_jw_str(w, LK_KEY_FREE_FAMILY, family_name(m[i].free_family));
        jw_u64(w, LK_KEY_COUNT, m[i].count);
        jw_u64(w, LK_KEY_BYTES, m[i].bytes);
        lk_jw_close(w);
    }
    lk_jw_close(w);
}

lk_failure_t *lk_section_failures_copy(size_t *count)
{
    size_t n = lk_tracker_failures(NULL, 0);
    lk_failure_t *f = n ? lk_real_calloc(n + 16, sizeof *f) : NULL;
    *count = 0;
    if (f) {
        size_t got = lk_tracker_failures(f, n + 16);
        *count = got < n + 16 ? got : n + 16;
    }
    return f;
}

void lk_section_failures(lk_jw_t *w, const char *key, const lk_failure_t *f, size_t n)
{
    lk_jw_array(w, key);
    for (size_t i = 0; i < n; i++) {
        lk_jw_object(w, NULL);
        lk_jw_int(w, LK_KEY_STACK, f[i].stack);
        lk_jw_str(w, LK_KEY_KIND, failure_name(f[i].kind));
        if (f[i].function)
            lk_jw_str(w, LK_KEY_FUNCTION, f[i].function);
        jw_u64(w, LK_KEY_REQUEST_BYTES, f[i].request_bytes);
        jw_u64(w, LK_KEY_COUNT, f[i].count);
        jw_u64(w, LK_KEY_FIRST_UPTIME_NS, f[i].first_uptime_ns);
        jw_u64(w, LK_KEY_LAST_UPTIME_NS, f[i].last_uptime_ns);
        jw_u64(w, LK_KEY_LIVE_BYTES_AT, f[i].live_bytes_at_first);
        lk_jw_close(w);
    }
    lk_jw_close(w);
}

/* A site of the timeline: its index and the most live bytes it was sampled at. */
typedef struct tl_pick {
    uint32_t site;
    uint64_t max;
} tl_pick_t;

static int cmp_pick_site(const void *a, const void *b)
{
    const tl_pick_t *x = a, *y = b;
    return (x->site > y->site) - (x->site < y->site);
}

static int cmp_pick_max(const void *a, const void *b)
{
    const tl_pick_t *x = a, *y = b;
    if (x->max != y->max)
        return x->max < y->max ? 1 : -1;
    return cmp_pick_site(a, b);
}

/* timeline.sites: each site among the biggest at any of the first 'n'
 * samples (at most LIBLEAK_TL_MAX_SITES, those sampled biggest), with its
 * live bytes per sample, null where it was not among them.  Only sites the
 * sites array names ('sites[first, nsites)' with blocks), so every stack is
 * in the dump. */
static void timeline_sites(lk_jw_t *w, const lk_sample_t *s, size_t n, const lk_site_rec_t *sites,
                           uint32_t first, uint32_t nsites)
{
    lk_jw_array(w, LK_KEY_TL_SITES);
    tl_pick_t *p = n ? lk_real_calloc(n * LK_TL_SITES, sizeof *p) : NULL;
    size_t k = 0, u = 0;
    for (size_t i = 0; p && i < n; i++)
        for (uint32_t j = 0; j < s[i].nsites && j < LK_TL_SITES; j++) {
            uint32_t idx = s[i].site[j];
            if (idx >= first && idx < nsites && sites[idx].total_blocks != 0)
                p[k++] = (tl_pick_t){ idx, s[i].site_bytes[j] };
        }
    if (k > 1)
        qsort(p, k, sizeof *p, cmp_pick_site);
    for (size_t i = 0; i < k; i++) {
        if (u > 0 && p[u - 1].site == p[i].site) {
            if (p[i].max > p[u - 1].max)
                p[u - 1].max = p[i].max;
        } else {
            p[u++] = p[i];
        }
    }
    if (u > 1)
        qsort(p, u, sizeof *p, cmp_pick_max);
    if (u > LIBLEAK_TL_MAX_SITES)
        u = LIBLEAK_TL_MAX_SITES;
    for (size_t c = 0; c < u; c++) {
        const lk_site_rec_t *st = &sites[p[c].site];
        lk_jw_object(w, NULL);
        lk_jw_int(w, LK_KEY_STACK, st->stack);
        lk_jw_str(w, LK_KEY_FAMILY, family_name((int)st->family));
        lk_jw_array(w, LK_KEY_TL_LIVE_BYTES);
        for (size_t i = 0; i < n; i++) {
            uint32_t j = 0;
            while (j < s[i].nsites && j < LK_TL_SITES && s[i].site[j] != p[c].site)
                j++;
            if (j < s[i].nsites && j < LK_TL_SITES)
                jw_u64(w, NULL, s[i].site_bytes[j]);
            else
                lk_jw_null(w, NULL);
        }
        lk_jw_close(w);
        lk_jw_close(w);
    }
    lk_real_free(p);
    lk_jw_close(w);
}

lk_sample_t *lk_section_timeline_copy(size_t *count)
{
    /* as many as there are (and a few the dumper may add meanwhile), not the
     * capacity: at exit this comes from fresh pages, 240 bytes a sample */
    size_t cap = lk_timeline_len() + 8;
    if (cap > LK_TIMELINE_CAP)
        cap = LK_TIMELINE_CAP;
    lk_sample_t *s = lk_real_calloc(cap, sizeof *s);
    *count = s ? lk_timeline_copy(s, cap) : 0;
    return s;
}

/* One of the timeline's columns: the uint64_t at 'off' in each sample. */
static void timeline_column(lk_jw_t *w, const char *key, const lk_sample_t *s, size_t n,
                            size_t off)
{
    lk_jw_array(w, key);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&s[i] + off, sizeof v);
        jw_u64(w, NULL, v);
    }
    lk_jw_close(w);
}

void lk_section_timeline(lk_jw_t *w, const char *key, const lk_sample_t *s, size_t n,
                         const lk_site_rec_t *sites, uint32_t first, uint32_t nsites)
{
    lk_jw_object(w, key);
    timeline_column(w, LK_KEY_TL_UPTIME_NS, s, n, offsetof(lk_sample_t, uptime_ns));
    timeline_column(w, LK_KEY_TL_LIVE_BYTES, s, n, offsetof(lk_sample_t, live_bytes));
    timeline_column(w, LK_KEY_TL_RSS_BYTES, s, n, offsetof(lk_sample_t, rss_bytes));
    timeline_column(w, LK_KEY_TL_ALLOCS, s, n, offsetof(lk_sample_t, allocs));
    timeline_column(w, LK_KEY_TL_FREES, s, n, offsetof(lk_sample_t, frees));
    timeline_sites(w, s, n, sites, first, nsites);
    lk_jw_close(w);
}
