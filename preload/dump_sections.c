/* dump_sections.c - the small sections of a dump, each built as one JSON
 * value: process, config, crash, limits, mismatches, failures, timeline.
 * Runs with the guard held, outside every table lock (each copies what it
 * needs under its own). */
#include <inttypes.h>
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

json_t *lk_section_process(void)
{
    json_t *o = json_object();
    char buf[4096];
    json_object_set_new(o, LK_KEY_PID, json_integer(getpid()));
    json_object_set_new(o, LK_KEY_PPID, json_integer(getppid()));
    ssize_t n = exe_path(buf, sizeof buf);
    json_object_set_new(o, LK_KEY_EXE, jstr(buf));
    json_t *argv = json_array();
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
        json_array_append_new(argv, jstr(buf + i));
    json_object_set_new(o, LK_KEY_CMDLINE, argv);
    json_object_set_new(o, LK_KEY_START_UNIX_MS, u64(lk_start_unix_ms));
    return o;
}

json_t *lk_section_config(void)
{
    json_t *o = json_object();
    json_object_set_new(o, LK_KEY_MAX_DEPTH, json_integer(lk_config.max_depth));
    json_object_set_new(o, LK_KEY_SAMPLE_BYTES, u64(lk_config.sample_bytes));
    json_object_set_new(o, LK_KEY_INTERVAL_MS, json_integer(lk_config.interval_ms));
    json_object_set_new(o, LK_KEY_SIGNAL, json_integer(lk_config.signal));
    json_object_set_new(o, LK_KEY_WATERMARK_BYTES, u64(__atomic_load_n(&lk_watermark_step, __ATOMIC_RELAXED)));
    return o;
}

/* The fatal signal and the faulting thread's stack, interned like every
 * other stack (before the stack count is taken). */
json_t *lk_section_crash(uint32_t *stack_id)
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
    uint32_t id = c->depth ? lk_stack_intern(&f) : LK_STACK_NONE;
    *stack_id = id;
    json_t *o = json_object();
    json_object_set_new(o, LK_KEY_CRASH_SIGNAL, json_integer(c->sig));
    json_object_set_new(o, LK_KEY_CRASH_CODE, json_integer(c->code));
    char addr[32];
    snprintf(addr, sizeof addr, "0x%" PRIxPTR, c->addr);
    json_object_set_new(o, LK_KEY_CRASH_ADDRESS, c->has_addr ? json_string(addr) : json_null());
    json_object_set_new(o, LK_KEY_CRASH_TID, json_integer(c->tid));
    json_object_set_new(o, LK_KEY_CRASH_STACK,
                        id == LK_STACK_NONE ? json_null() : json_integer(id));
    return o;
}

json_t *lk_section_limits(void)
{
    json_t *o = json_object();
    json_object_set_new(o, LK_KEY_RLIMIT_AS, u64_or_null(lk_limits.rlimit_as));
    json_object_set_new(o, LK_KEY_RLIMIT_DATA, u64_or_null(lk_limits.rlimit_data));
    json_object_set_new(o, LK_KEY_CGROUP_MAX, u64_or_null(lk_limits.cgroup_max));
    json_object_set_new(o, LK_KEY_CGROUP_VERSION,
                        lk_limits.cgroup_version ? json_integer(lk_limits.cgroup_version)
                                                 : json_null());
    json_object_set_new(o, LK_KEY_CGROUP_FILE,
                        lk_limits.cgroup_file[0] ? jstr(lk_limits.cgroup_file) : json_null());
    json_object_set_new(o, LK_KEY_PHYS, u64(lk_limits.phys));
    json_object_set_new(o, LK_KEY_EFFECTIVE, u64(lk_limits.effective));
    return o;
}


json_t *lk_section_mismatches(void)
{
    json_t *arr = json_array();
    size_t n = lk_tracker_mismatches(NULL, 0);
    lk_mismatch_t *m = n ? lk_real_calloc(n + 16, sizeof *m) : NULL;
    if (m) {
        size_t got = lk_tracker_mismatches(m, n + 16);   /* may have grown meanwhile */
        n = got < n + 16 ? got : n + 16;
    }
    for (size_t i = 0; m && i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, LK_KEY_ALLOC_STACK, json_integer(m[i].alloc_stack));
        json_object_set_new(o, LK_KEY_FREE_STACK, json_integer(m[i].free_stack));
        json_object_set_new(o, LK_KEY_ALLOC_FAMILY, json_string(family_name(m[i].alloc_family)));
        json_object_set_new(o, LK_KEY_FREE_FAMILY, json_string(family_name(m[i].free_family)));
        json_object_set_new(o, LK_KEY_COUNT, u64(m[i].count));
        json_object_set_new(o, LK_KEY_BYTES, u64(m[i].bytes));
        json_array_append_new(arr, o);
    }
    lk_real_free(m);
    return arr;
}

json_t *lk_section_failures(void)
{
    json_t *arr = json_array();
    size_t n = lk_tracker_failures(NULL, 0);
    lk_failure_t *f = n ? lk_real_calloc(n + 16, sizeof *f) : NULL;
    if (f) {
        size_t got = lk_tracker_failures(f, n + 16);
        n = got < n + 16 ? got : n + 16;
    }
    for (size_t i = 0; f && i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, LK_KEY_STACK, json_integer(f[i].stack));
        json_object_set_new(o, LK_KEY_KIND, json_string(failure_name(f[i].kind)));
        json_object_set_new(o, LK_KEY_FUNCTION, json_string(f[i].function));
        json_object_set_new(o, LK_KEY_REQUEST_BYTES, u64(f[i].request_bytes));
        json_object_set_new(o, LK_KEY_COUNT, u64(f[i].count));
        json_object_set_new(o, LK_KEY_FIRST_UPTIME_NS, u64(f[i].first_uptime_ns));
        json_object_set_new(o, LK_KEY_LAST_UPTIME_NS, u64(f[i].last_uptime_ns));
        json_object_set_new(o, LK_KEY_LIVE_BYTES_AT, u64(f[i].live_bytes_at_first));
        json_array_append_new(arr, o);
    }
    lk_real_free(f);
    return arr;
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
static json_t *build_timeline_sites(const lk_sample_t *s, size_t n, const lk_site_rec_t *sites,
                                    uint32_t first, uint32_t nsites)
{
    json_t *arr = json_array();
    tl_pick_t *p = n ? lk_real_calloc(n * LK_TL_SITES, sizeof *p) : NULL;
    if (!p)
        return arr;
    size_t k = 0, u = 0;
    for (size_t i = 0; i < n; i++)
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
    /* json.c's arrays are append-only: fill each column in sample order */
    for (size_t c = 0; c < u; c++) {
        json_t *col = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_null();
            for (uint32_t j = 0; j < s[i].nsites && j < LK_TL_SITES; j++)
                if (s[i].site[j] == p[c].site) {
                    v = u64(s[i].site_bytes[j]);
                    break;
                }
            json_array_append_new(col, v);
        }
        /* a column an append failed to fill (out of memory) is left out */
        if (json_array_size(col) != n) {
            json_decref(col);
            continue;
        }
        const lk_site_rec_t *st = &sites[p[c].site];
        json_t *o = json_object();
        json_object_set_new(o, LK_KEY_STACK, json_integer(st->stack));
        json_object_set_new(o, LK_KEY_FAMILY, json_string(family_name((int)st->family)));
        json_object_set_new(o, LK_KEY_TL_LIVE_BYTES, col);
        json_array_append_new(arr, o);
    }
    lk_real_free(p);
    return arr;
}

json_t *lk_section_timeline(const lk_site_rec_t *sites, uint32_t first, uint32_t nsites)
{
    json_t *o = json_object();
    json_t *a[5];
    static const char *const keys[5] = { LK_KEY_TL_UPTIME_NS, LK_KEY_TL_LIVE_BYTES,
                                         LK_KEY_TL_RSS_BYTES, LK_KEY_TL_ALLOCS, LK_KEY_TL_FREES };
    for (int k = 0; k < 5; k++)
        a[k] = json_array();
    /* as many as there are (and a few the dumper may add meanwhile), not the
     * capacity: at exit this comes from fresh pages, 240 bytes a sample */
    size_t cap = lk_timeline_len() + 8;
    if (cap > LK_TIMELINE_CAP)
        cap = LK_TIMELINE_CAP;
    lk_sample_t *s = lk_real_calloc(cap, sizeof *s);
    size_t n = s ? lk_timeline_copy(s, cap) : 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a[0], u64(s[i].uptime_ns));
        json_array_append_new(a[1], u64(s[i].live_bytes));
        json_array_append_new(a[2], u64(s[i].rss_bytes));
        json_array_append_new(a[3], u64(s[i].allocs));
        json_array_append_new(a[4], u64(s[i].frees));
    }
    /* an append that failed (out of memory) must not leave columns of
     * different lengths: cut all to the shortest */
    size_t shortest = SIZE_MAX;
    for (int k = 0; k < 5; k++)
        if (json_array_size(a[k]) < shortest)
            shortest = json_array_size(a[k]);
    for (int k = 0; k < 5; k++) {
        while (json_array_size(a[k]) > shortest)
            json_array_remove(a[k], json_array_size(a[k]) - 1);
        json_object_set_new(o, keys[k], a[k]);
    }
    json_object_set_new(o, LK_KEY_TL_SITES, build_timeline_sites(s, shortest, sites, first, nsites));
    lk_real_free(s);
    return o;
}

