/* timeline.c - the process's live bytes, RSS and biggest sites over time:
 * a sample every tick of the dumper thread, at a halving resolution once
 * LK_TIMELINE_CAP samples are kept.  Never called from a hook. */
#include <pthread.h>
#include <string.h>

#include "internal.h"

#define TL_CAP LK_TIMELINE_CAP

static pthread_mutex_t tl_lock = PTHREAD_MUTEX_INITIALIZER;
static lk_sample_t tl[TL_CAP];          /* guarded by tl_lock */
static size_t tl_n;                     /* guarded by tl_lock */
static uint64_t tl_prev_allocs, tl_prev_frees; /* guarded by tl_lock */
static unsigned tl_stride = 1;          /* keep one tick in 'tl_stride'; guarded by tl_lock */
static unsigned tl_tick;                /* guarded by tl_lock */

/* Halve the resolution: merge sample pairs, keeping the later time and levels
 * and summing the per-interval counts.  Caller holds tl_lock. */
static void tl_compact(void)
{
    size_t j = 0;
    for (size_t i = 0; i + 1 < tl_n; i += 2, j++) {
        lk_sample_t m = tl[i + 1];
        m.allocs += tl[i].allocs;
        m.frees += tl[i].frees;
        tl[j] = m;
    }
    if (tl_n % 2)
        tl[j++] = tl[tl_n - 1];
    tl_n = j;
    tl_stride *= 2;
}

/* The LK_TL_SITES sites of this process with the most live bytes into 's',
 * largest first (counters folded by the caller).  Only the dumper thread and
 * a dump call it: one pass over the sites, with no lock and nothing asked of
 * the hooks. */
static void tl_top_sites(lk_sample_t *s)
{
    uint32_t n = lk_site_count(), k = 0;
    for (uint32_t i = __atomic_load_n(&lk_site_base, __ATOMIC_RELAXED); i < n; i++) {
        const lk_site_rec_t *site = lk_site_at(i);
        uint64_t b = site ? __atomic_load_n(&site->live_bytes, __ATOMIC_RELAXED) : 0;
        if (b == 0 || (k == LK_TL_SITES && b <= s->site_bytes[k - 1]))
            continue;
        uint32_t j = k < LK_TL_SITES ? k++ : k - 1;     /* the smallest gives way */
        for (; j > 0 && s->site_bytes[j - 1] < b; j--) {
            s->site[j] = s->site[j - 1];
            s->site_bytes[j] = s->site_bytes[j - 1];
        }
        s->site[j] = i;
        s->site_bytes[j] = b;
    }
    s->nsites = k;
}

static void tl_add(bool forced)
{
    lk_totals_t t;
    lk_tracker_totals(&t);
    lk_sample_t top = { 0 };
    tl_top_sites(&top);
    uint64_t rss = lk_rss_bytes();
    uint64_t now = lk_now_ns() - lk_start_ns;
    pthread_mutex_lock(&tl_lock);
    if (forced || ++tl_tick >= tl_stride || tl_n == 0) {
        tl_tick = 0;
        if (tl_n == TL_CAP)
            tl_compact();
        lk_sample_t s = { now, t.live_bytes, rss,
                          t.alloc_count - (t.alloc_count >= tl_prev_allocs ? tl_prev_allocs : 0),
                          t.free_count - (t.free_count >= tl_prev_frees ? tl_prev_frees : 0),
                          top.nsites, { 0 }, { 0 } };
        memcpy(s.site, top.site, sizeof s.site);
        memcpy(s.site_bytes, top.site_bytes, sizeof s.site_bytes);
        tl_prev_allocs = t.alloc_count;
        tl_prev_frees = t.free_count;
        tl[tl_n++] = s;
    }
    pthread_mutex_unlock(&tl_lock);
}

void lk_timeline_reset_for_tests(void)
{
    pthread_mutex_lock(&tl_lock);
    tl_n = 0;
    tl_prev_allocs = tl_prev_frees = 0;
    tl_stride = 1;
    tl_tick = 0;
    pthread_mutex_unlock(&tl_lock);
}

void lk_timeline_sample(void)
{
    tl_add(true);
}

size_t lk_timeline_len(void)
{
    pthread_mutex_lock(&tl_lock);
    size_t n = tl_n;
    pthread_mutex_unlock(&tl_lock);
    return n;
}

size_t lk_timeline_copy(lk_sample_t *out, size_t max)
{
    pthread_mutex_lock(&tl_lock);
    size_t n = tl_n < max ? tl_n : max;
    memcpy(out, tl, n * sizeof *out);
    pthread_mutex_unlock(&tl_lock);
    return n;
}

void lk_timeline_tick(void)
{
    tl_add(false);
}

void lk_timeline_lock(void)
{
    pthread_mutex_lock(&tl_lock);
}

void lk_timeline_unlock(void)
{
    pthread_mutex_unlock(&tl_lock);
}
