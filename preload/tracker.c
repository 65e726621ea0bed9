/* tracker.c - the core: sites (per stack and family), totals, sampling and
 * per-thread counter deltas; it hands mismatched frees and failed requests to
 * groups.c.  Callable without LD_PRELOAD (unit tests use fake
 * pointers).  Hot path: one table-shard lock plus relaxed atomics on a site
 * that never moves; the site lock is taken only when this thread's site cache
 * misses.  Never exits or aborts: what cannot be recorded is counted. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static bool site_oom;
#define uthash_malloc(sz) lk_real_malloc(sz)
#define uthash_free(ptr, sz) lk_real_free(ptr)
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (site_oom = true)
#include <uthash.h>

/* ### sites */
typedef struct site_slot {
    lk_site_rec_t site;
    uint64_t key;               /* stack << 2 | family */
    uint32_t idx;               /* own index in the site array */
    UT_hash_handle hh;          /* guarded by site_lock */
} site_slot_t;

#define SITE_CHUNK_LOG2 10
#define SITE_CHUNK (1u << SITE_CHUNK_LOG2)
#define SITE_MAX_CHUNKS ((LK_SITE_MAX + 1) / SITE_CHUNK)

static pthread_mutex_t site_lock = PTHREAD_MUTEX_INITIALIZER;
static site_slot_t *site_chunks[SITE_MAX_CHUNKS]; /* written under lock, read lock-free */
static size_t site_ready;                         /* bytes of the last chunk populated; site_lock */
static uint32_t site_n;                           /* published with release */
static site_slot_t *site_hash;                    /* guarded by site_lock */
static size_t site_bytes;                         /* guarded by site_lock */

/* Per-thread direct-mapped cache: (frames hash, family) -> site index + 1.
 * A hit is verified against the site's interned frames, so it is never wrong;
 * an ancestor's site (below lk_site_base, in a forked child) is not taken.
 * mmap'd at the thread's first miss, not TLS: the loader zeroes a thread's
 * static TLS, so 16 KiB there cost every thread, the program's included, four
 * page faults at its start. */
#define SITE_CACHE_SIZE 1024    /* power of 2; 16 KiB */
typedef struct site_cache_ent {
    uint64_t tag;
    uint32_t site1;             /* site index + 1; 0 = empty */
} site_cache_ent_t;
static __thread site_cache_ent_t *tls_site_cache __attribute__((tls_model("initial-exec")));
static __thread int tls_site_cache_state __attribute__((tls_model("initial-exec"))); /* 0, 1 ok, 2 none */
static pthread_key_t site_cache_key;
static pthread_once_t site_cache_once = PTHREAD_ONCE_INIT;

static void site_cache_exit(void *p)
{
    munmap(p, SITE_CACHE_SIZE * sizeof(site_cache_ent_t));
    tls_site_cache = NULL;
    tls_site_cache_state = 2;   /* what this thread still allocates goes without */
}

static void site_cache_key_init(void)
{
    if (pthread_key_create(&site_cache_key, site_cache_exit) != 0)
        site_cache_key = (pthread_key_t)-1;
}

/* This thread's site cache, made now, or NULL (no memory, exiting).  errno kept. */
static __attribute__((noinline, cold)) site_cache_ent_t *site_cache_make(void)
{
    if (tls_site_cache_state != 0)
        return NULL;
    tls_site_cache_state = 2;
    int saved_errno = errno;
    pthread_once(&site_cache_once, site_cache_key_init);
    void *p = MAP_FAILED;
    if (site_cache_key != (pthread_key_t)-1)
        p = mmap(NULL, SITE_CACHE_SIZE * sizeof(site_cache_ent_t), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED)
        lk_populate(p, SITE_CACHE_SIZE * sizeof(site_cache_ent_t)); /* hit at random: 4 faults */
    if (p != MAP_FAILED && pthread_setspecific(site_cache_key, p) != 0) {
        munmap(p, SITE_CACHE_SIZE * sizeof(site_cache_ent_t));
        p = MAP_FAILED;
    }
    errno = saved_errno;
    if (p == MAP_FAILED)
        return NULL;
    tls_site_cache = p;
    tls_site_cache_state = 1;
    return p;
}

/* ### totals: only what cannot be summed from the sites */
/* Each on its own cache line: g_live_bytes is written by every allocation and
 * free of every thread; the maxima and the watermark are read by each. */
static uint64_t g_live_bytes __attribute__((aligned(64)));      /* atomic */
static uint64_t g_peak_live_bytes __attribute__((aligned(64))); /* atomic, max */
static uint64_t g_failed;           /* atomic */
static uint64_t g_untracked_frees;  /* atomic */
static uint64_t g_mismatched;       /* atomic */
static uint64_t g_dropped;          /* atomic */
/* Watermark: the hot path calls lk_watermark_hook when live bytes reach this. */
uint64_t lk_watermark_next __attribute__((aligned(64))) = UINT64_MAX;
void (*lk_watermark_hook)(uint64_t live);
uint64_t lk_watermark_step;

/* Live bytes reached the watermark: tell the layer above, which installed the hook. */
static void watermark_reached(uint64_t live)
{
    void (*fn)(uint64_t) = __atomic_load_n(&lk_watermark_hook, __ATOMIC_ACQUIRE);
    if (fn)
        fn(live);
}

static bool tracker_ready;

/* Sites below this index were made before the last fork, by an ancestor: their
 * blocks are inherited, and the child's own allocations at the same stacks get
 * sites of their own (so no block needs a mark).  0 outside a forked child. */
uint32_t lk_site_base;
pid_t lk_forked_from;

lk_site_rec_t *lk_site_at(uint32_t idx)
{
    if (idx >= __atomic_load_n(&site_n, __ATOMIC_ACQUIRE))
        return NULL;
    return &site_chunks[idx >> SITE_CHUNK_LOG2][idx & (SITE_CHUNK - 1)].site;
}

uint32_t lk_site_count(void)
{
    return __atomic_load_n(&site_n, __ATOMIC_ACQUIRE);
}

size_t lk_site_memory_bytes(void)
{
    return __atomic_load_n(&site_bytes, __ATOMIC_RELAXED);
}

uint32_t lk_site_get_by_stack(uint32_t stack_id, int family)
{
    uint64_t key = (uint64_t)stack_id << 2 | (uint64_t)(family & 3);
    uint32_t idx = LK_SITE_MAX + 1;
    site_slot_t *s = NULL;
    pthread_mutex_lock(&site_lock);
    HASH_FIND(hh, site_hash, &key, sizeof key, s);
    if (s) {
        idx = s->idx;
        goto out_unlock;
    }
    uint32_t n = site_n;
    uint32_t c = n >> SITE_CHUNK_LOG2;
    if (n >= LK_SITE_MAX || c >= SITE_MAX_CHUNKS)     /* index + 1 must fit 24 bits */
        goto out_unlock;
    if (!site_chunks[c]) {
        void *p = mmap(NULL, SITE_CHUNK * sizeof(site_slot_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            goto out_unlock;
        site_chunks[c] = p;
        site_ready = 0;
    }
    /* sites fill a chunk in order: its pages come in 16 KiB at a time */
    lk_populate_ahead(site_chunks[c], SITE_CHUNK * sizeof(site_slot_t),
                      ((n & (SITE_CHUNK - 1)) + 1) * sizeof(site_slot_t), &site_ready);
    s = &site_chunks[c][n & (SITE_CHUNK - 1)];
    memset(s, 0, sizeof *s);
    s->site.stack = stack_id;
    s->site.family = (uint32_t)family;
    s->key = key;
    s->idx = n;
    site_oom = false;
    HASH_ADD(hh, site_hash, key, sizeof s->key, s);
    if (site_oom) {
        memset(s, 0, sizeof *s);
        goto out_unlock;
    }
    idx = n;
    /* what a site really costs: its slot plus its share of the hash buckets */
    __atomic_store_n(&site_bytes, site_bytes + sizeof *s + sizeof(UT_hash_bucket), __ATOMIC_RELAXED);
    __atomic_store_n(&site_n, n + 1, __ATOMIC_RELEASE);
out_unlock:
    pthread_mutex_unlock(&site_lock);
    return idx;
}

/* Do 'f' and the interned stack 'st' hold the same frames? */
static inline bool same_frames(const lk_frames_t *f, const lk_stack_rec_t *st)
{
    return st && st->hash == f->hash && st->depth == f->depth &&
           st->truncated == f->truncated && st->jit_cut == f->jit_cut &&
           memcmp(st->pc, f->pc, f->depth * sizeof(uintptr_t)) == 0;
}

/* lk_site_get for a stack this thread's site cache does not know: intern it
 * and find or make its site (both may allocate).  Out of line, and errno
 * kept: malloc_exact does not save it. */
static __attribute__((noinline)) uint32_t site_get_new(lk_frames_t *f, int family,
                                                       site_cache_ent_t *ce, uint64_t tag,
                                                       uint32_t *memo)
{
    int saved_errno = errno;
    uint32_t idx = LK_SITE_MAX + 1;
    uint32_t sid = lk_stack_intern(f);
    if (sid != LK_STACK_NONE) {
        idx = lk_site_get_by_stack(sid, family);
        if (idx <= LK_SITE_MAX) {
            if (ce) {
                ce->tag = tag;
                ce->site1 = idx + 1;
            }
            if (memo)
                memo[family] = idx + 1;
        }
    }
    errno = saved_errno;
    return idx;
}

uint32_t lk_site_get(lk_frames_t *f, int family)
{
    /* The walk memo already knows this stack's site: the memo hit proved the
     * frames equal, and sites never change (the test reset empties every
     * memo: lk_stack_forget_memos).  No read of the site itself: its
     * counters' line is contended. */
    uint32_t *memo = f->site_memo;
    if (memo && memo[family] != 0 &&
        lk_likely(memo[family] > __atomic_load_n(&lk_site_base, __ATOMIC_RELAXED)))
        return memo[family] - 1;
    lk_frames_materialize(f);
    uint64_t tag = f->hash ^ ((uint64_t)family * UINT64_C(0x9E3779B97F4A7C15));
    site_cache_ent_t *cache = tls_site_cache;
    if (lk_unlikely(!cache) && !(cache = site_cache_make()))
        return site_get_new(f, family, NULL, tag, memo);
    site_cache_ent_t *ce = &cache[(tag ^ (tag >> 32)) & (SITE_CACHE_SIZE - 1)];
    if (ce->site1 > __atomic_load_n(&lk_site_base, __ATOMIC_RELAXED) && ce->tag == tag) {
        const lk_site_rec_t *s = lk_site_at(ce->site1 - 1);
        if (s && s->family == (uint32_t)family && same_frames(f, lk_stack_get(s->stack))) {
            if (memo)
                memo[family] = ce->site1;
            return ce->site1 - 1;
        }
    }
    return site_get_new(f, family, ce, tag, memo);
}

/* ### hot path */
static inline void atomic_max_u64(uint64_t *p, uint64_t v)
{
    uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v > cur &&
           !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* ### sampling (see internal.h) */
__thread uint64_t lk_tls_sample_left __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_rng __attribute__((tls_model("initial-exec")));
static uint64_t sample_seed = UINT64_C(0x853C49E6748FEA9B);
static uint64_t sample_threads;     /* atomic: threads seeded so far */

static inline uint64_t mix64(uint64_t x)       /* splitmix64's finaliser */
{
    x ^= x >> 30;
    x *= UINT64_C(0xBF58476D1CE4E5B9);
    x ^= x >> 27;
    x *= UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

/* xorshift64*: one multiply per draw, per-thread state, never 0. */
static uint64_t rng_next(void)
{
    uint64_t x = tls_rng;
    if (lk_unlikely(x == 0)) {
        uint64_t t = __atomic_add_fetch(&sample_threads, 1, __ATOMIC_RELAXED);
        x = mix64(sample_seed + t * UINT64_C(0x9E3779B97F4A7C15)) | 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tls_rng = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* ### libleak's own log and expm1: linking libm costs every process a library
 * load (about ten page faults) for these few calls. */

/* The natural log of x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), and
 * ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, to s^21 (below 1e-17). */
static double ln_pos(double x)
{
    int e;
    double m = frexp(x, &e);
    if (m < 0.70710678118654752440) {
        m *= 2;
        e--;
    }
    double s = (m - 1) / (m + 1), s2 = s * s, t = 0;
    for (int k = 21; k >= 1; k -= 2)
        t = t * s2 + 1.0 / k;
    return e * 0.69314718055994530942 + 2 * s * t;
}

/* e^x - 1 for x <= 0, to a relative error near double precision: Taylor for
 * small |x| (where e^x - 1 would cancel), else e^r * 2^k - 1 with |r| <= ln 2 / 2. */
static double expm1_neg(double x)
{
    if (x < -745)
        return -1;
    double k = 0, r = x;
    if (x < -0.5) {
        k = (double)(long)(x * 1.44269504088896340736 - 0.5);
        r = x - k * 0.69314718055994530942;
    }
    double t = 0;
    for (int i = 18; i >= 1; i--)
        t = (t + 1) * r / i;
    return k == 0 ? t : ldexp(1 + t, (int)k) - 1;
}

/* llround of v >= 0, saturated at 2^63. */
static uint64_t round_pos(double v)
{
    return v >= 0x1p63 ? UINT64_C(1) << 63 : (uint64_t)(v + 0.5);
}

/* u in (0, 1): -log(u) * N is exponential with mean N.  The countdown is
 * floor(that) + 1, so an allocation of s bytes (integer) reaches it exactly
 * when the exponential variable is below s: probability 1 - exp(-s/N). */
static uint64_t sample_draw(void)
{
    double u = ((double)(rng_next() >> 11) + 0.5) * 0x1p-53;
    double x = -ln_pos(u) * (double)lk_config.sample_bytes;
    return x >= 0x1p63 ? UINT64_C(1) << 63 : (uint64_t)x + 1;
}

bool lk_sample_rearm(size_t n)
{
    if (lk_unlikely(tls_rng == 0)) {
        /* this thread's first allocation: its countdown starts now */
        uint64_t left = sample_draw();
        if (n < left) {
            lk_tls_sample_left = left - n;
            return true;
        }
    }
    lk_tls_sample_left = sample_draw();
    return false;
}

void lk_sample_seed(uint64_t seed)
{
    sample_seed = seed;
    __atomic_store_n(&sample_threads, 0, __ATOMIC_RELAXED);
    tls_rng = 0;
    lk_tls_sample_left = 0;
}

void lk_sample_weight(uint64_t s, uint64_t *bytes, uint64_t *blocks_fx)
{
    double p = s ? -expm1_neg(-(double)s / (double)lk_config.sample_bytes) : 1.0;
    if (!(p > 0x1p-40))
        p = 0x1p-40;
    *bytes = round_pos((double)s / p);
    *blocks_fx = round_pos(0x1p16 / p);
}

/* Sampling: account a tracked block with its weights (out of the exact path). */
static __attribute__((noinline, cold)) uint64_t account_alloc_sampled(lk_site_rec_t *s,
                                                                      uint64_t size,
                                                                      uint64_t request)
{
    uint64_t bytes, blocks_fx;
    lk_sample_weight(size, &bytes, &blocks_fx);
    __atomic_fetch_add(&s->total_blocks, blocks_fx, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->total_bytes, bytes, __ATOMIC_RELAXED);
    uint64_t live = __atomic_add_fetch(&s->live_bytes, bytes, __ATOMIC_RELAXED);
    atomic_max_u64(&s->peak_live_bytes, live);
    atomic_max_u64(&s->max_request_bytes, request);
    uint64_t g = __atomic_add_fetch(&g_live_bytes, bytes, __ATOMIC_RELAXED);
    atomic_max_u64(&g_peak_live_bytes, g);
    return g;
}

static __attribute__((noinline, cold)) void commit_free_sampled(lk_site_rec_t *s, uint64_t size)
{
    uint64_t bytes, blocks_fx;
    lk_sample_weight(size, &bytes, &blocks_fx);   /* the same weights as at alloc */
    if (s) {
        __atomic_fetch_sub(&s->live_bytes, bytes, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->freed_blocks, blocks_fx, __ATOMIC_RELAXED);
    }
    __atomic_fetch_sub(&g_live_bytes, bytes, __ATOMIC_RELAXED);
}

/* ### per-thread counter deltas
 * An allocation and its free made seven atomic adds (site totals, live
 * bytes, the global live bytes), a fifth of the pair's time even
 * uncontended.  Instead each thread adds to
 * its own deltas, a direct-mapped array by site index, and folds an entry
 * into its site (atomics) every ACCT_FOLD_EVENTS events or when another site
 * takes the slot; the global live bytes fold every ACCT_G_FOLD_BYTES.
 *
 * A thread touches its deltas only while it holds a table shard lock (the
 * insert's or the remove's: lk_table_*_hold), so whoever holds every shard
 * lock can fold every thread's deltas: lk_tracker_fold(), before each dump
 * and timeline sample.  Site counters are exact after it.  Peaks stay exact
 * for a site (or a process) that one thread drives: each delta keeps its
 * highest running value since the last fold.  Threads register their deltas
 * once (never freed; reused after the thread exits); a thread without them
 * (mmap failed, or exiting) and the sampling mode update the sites directly.
 *
 * A free is counted in the deltas only if they can pay for it: an entry's
 * credit is what it has folded into its site and not freed since, so its
 * credit plus its running value is what these deltas hold live at the site.
 * Then no fold ever takes a site (or the total) below zero, since every
 * folded free was folded after its allocation.  A free the deltas cannot pay
 * for (a block allocated by another thread, or counted before the slot
 * changed site) makes the site shared: every thread's deltas are folded
 * (site_share, all shard locks, once per site), and from then on its blocks
 * are counted with atomics on the site, whose running value is exact at
 * every step, peak included. */
/* 1024, not 256: a slot that changes site folds (six atomic adds to a shared
 * site), so a few hundred busy sites should not share slots. */
#define ACCT_SLOTS LK_ACCT_SLOTS          /* power of 2 */
#define ACCT_FOLD_EVENTS 256
#define ACCT_G_FOLD_BYTES (64u << 10)
typedef struct acct_ent {
    uint32_t site1;             /* site index + 1; 0 = none */
    uint32_t events;            /* since the last fold */
    uint64_t alloc_blocks, alloc_bytes, freed_blocks;
    int64_t live, live_hi;      /* net bytes since the last fold; its maximum */
    uint64_t max_request;       /* largest request since the last fold: the
                                 * site's own line stays out of the hot path */
    int64_t credit;             /* bytes folded into the site by this entry
                                 * and not freed since (>= 0) */
} __attribute__((aligned(64))) acct_ent_t;     /* a line each: the address is a shift */
typedef struct acct {
    struct acct *next;          /* registry; immutable once published */
    int owned;                  /* atomic: a live thread uses it */
    int64_t g_live, g_live_hi;  /* global live bytes since the last fold; maximum */
    uint64_t used[ACCT_SLOTS / 64]; /* slots ever given a site: a fold of all
                                     * reads only those, not 14 pages */
    acct_ent_t ent[ACCT_SLOTS];
} acct_t;

static acct_t *acct_list;       /* atomic push-only list of every thread's deltas */
static __thread acct_t *tls_acct __attribute__((tls_model("initial-exec")));
/* 0: not asked yet; 1: has deltas; 2: none (sampling, no memory, exiting).
 * tls_acct is non-NULL exactly in state 1: the hot path tests only it. */
static __thread int tls_acct_state __attribute__((tls_model("initial-exec")));
static pthread_key_t acct_key;
static pthread_once_t acct_once = PTHREAD_ONCE_INIT;

/* Fold one entry into its site; caller holds a shard lock. */
static void acct_fold_ent(acct_ent_t *e)
{
    if (e->events == 0)
        return;
    lk_site_rec_t *s = lk_site_at(e->site1 - 1);
    if (s) {
        __atomic_fetch_add(&s->total_blocks, e->alloc_blocks, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->total_bytes, e->alloc_bytes, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->freed_blocks, e->freed_blocks, __ATOMIC_RELAXED);
        uint64_t after = __atomic_add_fetch(&s->live_bytes, (uint64_t)e->live, __ATOMIC_RELAXED);
        if (e->live_hi > 0)
            atomic_max_u64(&s->peak_live_bytes, after - (uint64_t)e->live + (uint64_t)e->live_hi);
        if (e->max_request > __atomic_load_n(&s->max_request_bytes, __ATOMIC_RELAXED))
            atomic_max_u64(&s->max_request_bytes, e->max_request);
    }
    e->credit += e->live;
    e->events = 0;
    e->alloc_blocks = e->alloc_bytes = e->freed_blocks = 0;
    e->live = e->live_hi = 0;
    e->max_request = 0;
}

static void acct_fold_global(acct_t *a)
{
    uint64_t after = __atomic_add_fetch(&g_live_bytes, (uint64_t)a->g_live, __ATOMIC_RELAXED);
    if (a->g_live_hi > 0)
        atomic_max_u64(&g_peak_live_bytes, after - (uint64_t)a->g_live + (uint64_t)a->g_live_hi);
    a->g_live = a->g_live_hi = 0;
}

static void acct_fold_all_of(acct_t *a)
{
    for (unsigned w = 0; w < ACCT_SLOTS / 64; w++)
        for (uint64_t m = a->used[w]; m != 0; m &= m - 1)
            acct_fold_ent(&a->ent[w * 64 + (unsigned)__builtin_ctzll(m)]);
    acct_fold_global(a);
}

/* Thread exit: fold and give the deltas back for the next thread. */
static void acct_exit(void *p)
{
    acct_t *a = p;
    if (!a)
        return;
    void *held = lk_table_hold_any();
    acct_fold_all_of(a);
    lk_table_release(held);
    tls_acct = NULL;
    tls_acct_state = 2;         /* what this thread still does goes direct */
    __atomic_store_n(&a->owned, 0, __ATOMIC_RELEASE);
}

static void acct_key_init(void)
{
    if (pthread_key_create(&acct_key, acct_exit) != 0)
        acct_key = (pthread_key_t)-1;
}

static acct_t *acct_make(void);

/* This thread's deltas, or NULL (sampling, no memory, exiting).  Before any
 * shard lock is taken: it may mmap.  Out of line, and errno kept (mmap,
 * pthread calls): malloc_exact does not save it. */
static __attribute__((noinline)) acct_t *acct_get_slow(void)
{
    int saved_errno = errno;
    acct_t *a = acct_make();
    errno = saved_errno;
    return a;
}

static acct_t *acct_make(void)
{
    if (tls_acct_state == 2 || lk_config.sample_bytes != 0)
        return NULL;
    tls_acct_state = 2;
    pthread_once(&acct_once, acct_key_init);
    if (acct_key == (pthread_key_t)-1)
        return NULL;
    acct_t *a;
    for (a = __atomic_load_n(&acct_list, __ATOMIC_ACQUIRE); a; a = a->next) {
        int zero = 0;
        if (__atomic_load_n(&a->owned, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&a->owned, &zero, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            break;
    }
    if (!a) {
        void *p = mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        a = p;
        /* sites take slots in the order they are made: the first ones come in
         * with one call (a program's first few hundred sites) */
        lk_populate(a, LK_POPULATE_STEP);
        a->owned = 1;
        a->next = __atomic_load_n(&acct_list, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&acct_list, &a->next, a, true, __ATOMIC_RELEASE,
                                            __ATOMIC_RELAXED))
            ;
    }
    if (pthread_setspecific(acct_key, a) != 0) {
        __atomic_store_n(&a->owned, 0, __ATOMIC_RELEASE);
        return NULL;
    }
    tls_acct = a;
    tls_acct_state = 1;
    return a;
}

static inline __attribute__((always_inline)) acct_t *acct_get(void)
{
    acct_t *a = tls_acct;
    if (lk_likely(a != NULL))
        return a;
    return acct_get_slow();
}

/* Give slot 'e' to 'site' unless the site is shared; caller holds a shard
 * lock.  Returns false for a shared site (count it with atomics). */
static __attribute__((noinline)) bool acct_claim(acct_t *a, acct_ent_t *e, uint32_t site)
{
    const lk_site_rec_t *s = lk_site_at(site);
    if (s && __atomic_load_n(&s->shared, __ATOMIC_RELAXED))
        return false;
    acct_fold_ent(e);
    e->site1 = site + 1;
    e->credit = 0;
    a->used[(site & (ACCT_SLOTS - 1)) / 64] |= UINT64_C(1) << (site & 63);
    return true;
}

/* Count an allocation (+size, of 'request' bytes asked) or a free (-size) at
 * 'site' in this thread's deltas; caller holds a shard lock.  Returns false,
 * counting nothing, when the deltas cannot take it (a shared site, or a free
 * they cannot pay for): the caller then counts it with atomics
 * (account_alloc, free_shared). */
static inline __attribute__((always_inline)) bool acct_add(acct_t *a, uint32_t site,
                                                            uint64_t size, uint64_t request,
                                                            bool alloc)
{
    acct_ent_t *e = &a->ent[site & (ACCT_SLOTS - 1)];
    if (lk_unlikely(e->site1 != site + 1) && !acct_claim(a, e, site))
        return false;
    if (!alloc && lk_unlikely(e->credit + e->live < (int64_t)size))
        return false;
    if (alloc) {
        e->alloc_blocks++;
        e->alloc_bytes += size;
        e->live += (int64_t)size;
        if (e->live > e->live_hi)
            e->live_hi = e->live;
        a->g_live += (int64_t)size;
        if (a->g_live > a->g_live_hi)
            a->g_live_hi = a->g_live;
        if (request > e->max_request)
            e->max_request = request;
    } else {
        e->freed_blocks++;
        e->live -= (int64_t)size;
        a->g_live -= (int64_t)size;
    }
    if (lk_unlikely(++e->events >= ACCT_FOLD_EVENTS))
        acct_fold_ent(e);
    if (lk_unlikely(a->g_live >= (int64_t)ACCT_G_FOLD_BYTES ||
                    a->g_live <= -(int64_t)ACCT_G_FOLD_BYTES))
        acct_fold_global(a);
    return true;
}

/* The process's live bytes as this thread knows them: the folded total plus
 * its own deltas (read under a shard lock: a dump may be folding them). */
static uint64_t live_bytes_now(void)
{
    void *held = lk_table_hold_any();
    uint64_t g = __atomic_load_n(&g_live_bytes, __ATOMIC_RELAXED);
    if (tls_acct)
        g += (uint64_t)tls_acct->g_live;
    lk_table_release(held);
    return g;
}

/* Fold every thread's deltas; caller holds every shard lock. */
static void acct_fold_locked(void)
{
    for (acct_t *a = __atomic_load_n(&acct_list, __ATOMIC_ACQUIRE); a; a = a->next)
        acct_fold_all_of(a);
}

void lk_tracker_fold(void)
{
    if (!__atomic_load_n(&acct_list, __ATOMIC_ACQUIRE))
        return;
    lk_table_lock_all();
    acct_fold_locked();
    lk_table_unlock_all();
}

/* Count an allocation with atomics on its site and the total; returns the
 * total's live bytes after it.  Under the block's shard lock for a shared
 * site, so that its free, which takes that lock, is counted after it. */
static uint64_t account_alloc_atomic(lk_site_rec_t *s, uint64_t size, uint64_t request)
{
    __atomic_fetch_add(&s->total_blocks, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->total_bytes, size, __ATOMIC_RELAXED);
    uint64_t live = __atomic_add_fetch(&s->live_bytes, size, __ATOMIC_RELAXED);
    if (live > __atomic_load_n(&s->peak_live_bytes, __ATOMIC_RELAXED))
        atomic_max_u64(&s->peak_live_bytes, live);
    if (request > __atomic_load_n(&s->max_request_bytes, __ATOMIC_RELAXED))
        atomic_max_u64(&s->max_request_bytes, request);
    uint64_t g = __atomic_add_fetch(&g_live_bytes, size, __ATOMIC_RELAXED);
    if (g > __atomic_load_n(&g_peak_live_bytes, __ATOMIC_RELAXED))
        atomic_max_u64(&g_peak_live_bytes, g);
    return g;
}

/* Count an allocation without deltas (sampling, a shared site, a thread
 * without deltas); returns the total's live bytes after it.  Caller holds the
 * block's shard lock (see account_alloc_atomic). */
static uint64_t account_alloc(lk_site_rec_t *s, uint64_t size, uint64_t request)
{
    if (lk_unlikely(lk_config.sample_bytes != 0))
        return account_alloc_sampled(s, size, request);
    return account_alloc_atomic(s, size, request);
}

/* Make site 'idx' shared: fold every thread's deltas (the total's too, so
 * that no later free is counted before an allocation still in them) and take
 * the site out of every thread's slots; from then on its blocks are counted
 * with atomics.  Takes every shard lock, so the caller holds none; once per
 * site. */
static __attribute__((noinline, cold)) void site_share(uint32_t idx)
{
    lk_site_rec_t *s = lk_site_at(idx);
    if (!s || __atomic_load_n(&s->shared, __ATOMIC_ACQUIRE))
        return;
    lk_table_lock_all();
    if (!__atomic_load_n(&s->shared, __ATOMIC_RELAXED)) {
        for (acct_t *a = __atomic_load_n(&acct_list, __ATOMIC_ACQUIRE); a; a = a->next) {
            acct_fold_all_of(a);
            acct_ent_t *e = &a->ent[idx & (ACCT_SLOTS - 1)];
            if (e->site1 == idx + 1) {
                e->site1 = 0;
                e->credit = 0;
            }
        }
        __atomic_store_n(&s->shared, 1, __ATOMIC_RELEASE);
    }
    lk_table_unlock_all();
}

/* Count the free of 'b' (already out of the table) that this thread's deltas
 * could not take: share its site, then count it with atomics.  Out of line,
 * errno kept: free_exact does not save it. */
static __attribute__((noinline)) void free_shared(const lk_block_t *b)
{
    int saved_errno = errno;
    if (lk_config.sample_bytes == 0)
        site_share(b->site);
    lk_track_commit_free(b);
    errno = saved_errno;
}

/* Count the free of 'b', taken out of the table earlier (realloc's old block,
 * a stale record): in this thread's deltas if they can pay for it. */
static void release_counted(const lk_block_t *b)
{
    acct_t *a = acct_get();
    if (a) {
        void *held = lk_table_hold_any();
        bool done = acct_add(a, b->site, b->size, 0, false);
        lk_table_release(held);
        if (done)
            return;
    }
    free_shared(b);
}

void lk_track_commit_free(const lk_block_t *b)
{
    lk_site_rec_t *s = lk_site_at(b->site);
    if (lk_unlikely(lk_config.sample_bytes != 0)) {
        commit_free_sampled(s, b->size);
        return;
    }
    if (s) {
        __atomic_fetch_sub(&s->live_bytes, b->size, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->freed_blocks, 1, __ATOMIC_RELAXED);
    }
    __atomic_fetch_sub(&g_live_bytes, b->size, __ATOMIC_RELAXED);
}

/* 'family' is the site's own (lk_site_get's key): the site struct is not read
 * here, one cache miss fewer per allocation (bench churn: 5% of the samples
 * were the load of s->family). */
static inline __attribute__((always_inline)) void track_alloc_at(void *ptr, size_t size,
                                                                  uint32_t site, int family);

void lk_track_alloc_site(void *ptr, size_t size, uint32_t site, int family)
{
    if (!lk_site_at(site)) {
        lk_track_dropped();
        return;
    }
    track_alloc_at(ptr, size, site, family);
}

/* lk_track_alloc_site for a site known to exist (lk_site_get's). */
static inline __attribute__((always_inline)) void track_alloc_at(void *ptr, size_t size,
                                                                  uint32_t site, int family)
{
    lk_block_t b = { .size = size > LK_SIZE_MAX ? LK_SIZE_MAX : size, .site = site,
                     .family = family };
    acct_t *a = acct_get();
    int rc;
    void *held = lk_table_insert_hold((uintptr_t)ptr, &b, &rc);
    if (lk_likely(rc == 0)) {
        uint64_t g;
        if (lk_likely(a != NULL) && lk_likely(acct_add(a, site, b.size, size, true)))
            g = __atomic_load_n(&g_live_bytes, __ATOMIC_RELAXED) + (uint64_t)a->g_live;
        else
            g = account_alloc(lk_site_at(site), b.size, size);
        lk_table_release(held);
        if (lk_unlikely(g >= __atomic_load_n(&lk_watermark_next, __ATOMIC_RELAXED)))
            watermark_reached(g);
        return;
    }
    lk_table_release(held);
    if (lk_unlikely(rc == -EEXIST)) {
        /* We missed its free (freed by a path we do not see): the old record
         * is stale, so retire it and record the new block. */
        lk_block_t old;
        if (lk_table_remove((uintptr_t)ptr, &old) == 0)
            release_counted(&old);
        held = lk_table_insert_hold((uintptr_t)ptr, &b, &rc);
        if (rc == 0) {
            uint64_t g = account_alloc(lk_site_at(site), b.size, size);
            lk_table_release(held);
            if (g >= __atomic_load_n(&lk_watermark_next, __ATOMIC_RELAXED))
                watermark_reached(g);
            return;
        }
        lk_table_release(held);
    }
    lk_track_dropped();
}

void lk_track_alloc(void *ptr, size_t size, int family, lk_frames_t *f)
{
    uint32_t site = lk_site_get(f, family);
    if (lk_unlikely(site > LK_SITE_MAX)) {
        lk_track_dropped();
        return;
    }
    track_alloc_at(ptr, size, site, family);
}

/* ### mismatches and failures (their groups live in groups.c) */
/* Out of line (it captures a stack, hundreds of bytes of frame) and errno
 * kept: lk_track_free_fast's callers do not save it. */
static __attribute__((noinline)) void record_mismatch(const lk_block_t *b, int free_family)
{
    int saved_errno = errno;
    lk_frames_t f;
    lk_stack_capture(&f);   /* only on this rare path: unwind the free */
    uint32_t free_stack = lk_stack_intern(&f);
    const lk_site_rec_t *s = lk_site_at(b->site);
    if (free_stack == LK_STACK_NONE || !s) {
        lk_track_dropped();
        errno = saved_errno;
        return;
    }
    if (lk_groups_add_mismatch(s->stack, free_stack, b->family, free_family, b->size) != 0)
        lk_track_dropped();
    errno = saved_errno;
}

static inline void check_family(const lk_block_t *b, int free_family)
{
    if (lk_unlikely(b->family != free_family)) {
        __atomic_fetch_add(&g_mismatched, 1, __ATOMIC_RELAXED);
        record_mismatch(b, free_family);
    }
}

void lk_track_release(const lk_block_t *b, int free_family)
{
    release_counted(b);
    check_family(b, free_family);
}

bool lk_track_free(void *ptr, int family)
{
    lk_block_t b;
    acct_t *a = acct_get();
    int rc;
    void *held = lk_table_remove_hold((uintptr_t)ptr, &b, &rc);
    if (rc != 0) {
        lk_table_release(held);
        lk_track_untracked_free();
        return false;
    }
    if (lk_likely(a != NULL) && lk_likely(acct_add(a, b.site, b.size, 0, false))) {
        lk_table_release(held);
        check_family(&b, family);
        return true;
    }
    lk_table_release(held);
    free_shared(&b);
    check_family(&b, family);
    return true;
}

bool lk_track_free_fast(void *ptr, int family)
{
    acct_t *a = tls_acct;
    if (lk_unlikely(a == NULL))
        return false;
    lk_block_t b;
    int rc;
    void *held = lk_table_remove_hold((uintptr_t)ptr, &b, &rc);
    if (lk_unlikely(rc != 0)) {
        lk_table_release(held);
        return false;
    }
    if (lk_unlikely(!acct_add(a, b.site, b.size, 0, false))) {
        lk_table_release(held);
        free_shared(&b);
    } else {
        lk_table_release(held);
    }
    check_family(&b, family);
    return true;
}

bool lk_track_detach(void *ptr, lk_block_t *out)
{
    return lk_table_remove((uintptr_t)ptr, out) == 0;
}

void lk_track_reattach(void *ptr, const lk_block_t *b)
{
    if (lk_table_insert((uintptr_t)ptr, b) != 0) {
        /* Cannot happen unless the table is full; keep the sums honest. */
        release_counted(b);
        lk_track_dropped();
    }
}

/* ### realloc's new block and its old one, counted together */
/* The free of 'old_size' and the allocation of 'size' bytes (of 'request'
 * asked) at one site, in one update of this thread's deltas: what acct_add
 * would do for the free and then the allocation, peaks included (the running
 * value between them is lower than after both).  Caller holds a shard lock.
 * Returns false, counting nothing, when acct_add would refuse the free. */
static inline __attribute__((always_inline)) bool acct_move(acct_t *a, uint32_t site,
                                                             uint64_t old_size, uint64_t size,
                                                             uint64_t request)
{
    acct_ent_t *e = &a->ent[site & (ACCT_SLOTS - 1)];
    if (lk_unlikely(e->site1 != site + 1) ||
        lk_unlikely(e->credit + e->live < (int64_t)old_size))
        return false;
    int64_t d = (int64_t)size - (int64_t)old_size;
    e->alloc_blocks++;
    e->freed_blocks++;
    e->alloc_bytes += size;
    e->live += d;
    if (e->live > e->live_hi)
        e->live_hi = e->live;
    a->g_live += d;
    if (a->g_live > a->g_live_hi)
        a->g_live_hi = a->g_live;
    if (request > e->max_request)
        e->max_request = request;
    e->events += 2;
    if (lk_unlikely(e->events >= ACCT_FOLD_EVENTS))
        acct_fold_ent(e);
    if (lk_unlikely(a->g_live >= (int64_t)ACCT_G_FOLD_BYTES ||
                    a->g_live <= -(int64_t)ACCT_G_FOLD_BYTES))
        acct_fold_global(a);
    return true;
}

/* lk_track_realloc's rare paths, in today's order (the old block's release,
 * then the new block): the insert failed ('inserted' false), or this
 * thread's deltas could not pay for the old block's free (another thread
 * allocated it, or no deltas), which shares its site and so must hold no
 * shard lock.  Out of line, errno kept. */
static __attribute__((noinline)) void realloc_slow(void *ptr, size_t size, const lk_block_t *old,
                                                   uint32_t site, bool inserted)
{
    int saved_errno = errno;
    if (old)
        lk_track_release(old, LK_FAMILY_MALLOC);
    if (!inserted) {
        track_alloc_at(ptr, size, site, LK_FAMILY_MALLOC);
    } else {
        /* already in the table, and not yet the program's: no free of it
         * can come first, so any shard lock will do for the deltas */
        acct_t *a = acct_get();
        uint64_t request = size;
        if (size > LK_SIZE_MAX)
            size = LK_SIZE_MAX;
        void *held = lk_table_hold_any();
        uint64_t g;
        if (a != NULL && acct_add(a, site, size, request, true))
            g = __atomic_load_n(&g_live_bytes, __ATOMIC_RELAXED) + (uint64_t)a->g_live;
        else
            g = account_alloc(lk_site_at(site), size, request);
        lk_table_release(held);
        if (g >= __atomic_load_n(&lk_watermark_next, __ATOMIC_RELAXED))
            watermark_reached(g);
    }
    errno = saved_errno;
}

void lk_track_realloc(void *ptr, size_t size, const lk_block_t *old, lk_frames_t *f)
{
    uint32_t site = lk_site_get(f, LK_FAMILY_MALLOC);
    if (lk_unlikely(site > LK_SITE_MAX)) {
        if (old)
            lk_track_release(old, LK_FAMILY_MALLOC);
        lk_track_dropped();
        return;
    }
    lk_block_t b = { .size = size > LK_SIZE_MAX ? LK_SIZE_MAX : size, .site = site,
                     .family = LK_FAMILY_MALLOC };
    acct_t *a = acct_get();
    int rc;
    void *held = lk_table_insert_hold((uintptr_t)ptr, &b, &rc);
    if (lk_unlikely(rc != 0)) {
        lk_table_release(held);
        realloc_slow(ptr, size, old, site, false);
        return;
    }
    /* the old block's free first, as lk_track_release would count it */
    bool moved = false;
    if (old != NULL) {
        bool freed = false;
        if (lk_likely(a != NULL)) {
            if (old->site == site)
                moved = acct_move(a, site, old->size, b.size, size);
            if (!moved)
                freed = acct_add(a, old->site, old->size, 0, false);
        }
        if (lk_unlikely(!moved && !freed)) {
            lk_table_release(held);
            realloc_slow(ptr, size, old, site, true);
            return;
        }
    }
    uint64_t g;
    if (moved || (lk_likely(a != NULL) && lk_likely(acct_add(a, site, b.size, size, true))))
        g = __atomic_load_n(&g_live_bytes, __ATOMIC_RELAXED) + (uint64_t)a->g_live;
    else
        g = account_alloc(lk_site_at(site), b.size, size);     /* a shared site */
    lk_table_release(held);
    if (old != NULL)
        check_family(old, LK_FAMILY_MALLOC);
    if (lk_unlikely(g >= __atomic_load_n(&lk_watermark_next, __ATOMIC_RELAXED)))
        watermark_reached(g);
}

void lk_track_failure(int kind, const char *function, uint64_t size, const lk_frames_t *f)
{
    uint64_t now = lk_now_ns() - lk_start_ns;
    if (kind != LK_FAIL_IMPLAUSIBLE)
        __atomic_fetch_add(&g_failed, 1, __ATOMIC_RELAXED);
    uint32_t stack = lk_stack_intern(f);
    if (stack == LK_STACK_NONE) {
        lk_track_dropped();
        return;
    }
    if (lk_groups_add_failure(stack, kind, function, size, now, live_bytes_now()) != 0)
        lk_track_dropped();
}

void lk_track_dropped(void)
{
    __atomic_fetch_add(&g_dropped, 1, __ATOMIC_RELAXED);
}

void lk_track_untracked_free(void)
{
    if (lk_config.sample_bytes != 0)
        return;                 /* an unsampled block: expected, not counted */
    __atomic_fetch_add(&g_untracked_frees, 1, __ATOMIC_RELAXED);
}

/* ### totals */
void lk_site_snapshot(uint32_t idx, lk_site_rec_t *out)
{
    const lk_site_rec_t *s = lk_site_at(idx);
    if (!s) {
        memset(out, 0, sizeof *out);
        return;
    }
    out->stack = s->stack;
    out->family = s->family;
    /* live bytes before total bytes (an allocation adds to total first), freed
     * before total blocks: live_bytes <= total_bytes, total >= freed */
    out->live_bytes = __atomic_load_n(&s->live_bytes, __ATOMIC_ACQUIRE);
    out->freed_blocks = __atomic_load_n(&s->freed_blocks, __ATOMIC_ACQUIRE);
    out->total_blocks = __atomic_load_n(&s->total_blocks, __ATOMIC_ACQUIRE);
    out->total_bytes = __atomic_load_n(&s->total_bytes, __ATOMIC_ACQUIRE);
    out->peak_live_bytes = __atomic_load_n(&s->peak_live_bytes, __ATOMIC_RELAXED);
    out->max_request_bytes = __atomic_load_n(&s->max_request_bytes, __ATOMIC_RELAXED);
    if (lk_config.sample_bytes != 0) {      /* estimated blocks, fixed point */
        uint64_t half = UINT64_C(1) << (LK_SAMPLE_FX_SHIFT - 1);
        out->freed_blocks = (out->freed_blocks + half) >> LK_SAMPLE_FX_SHIFT;
        out->total_blocks = (out->total_blocks + half) >> LK_SAMPLE_FX_SHIFT;
    }
    if (out->freed_blocks > out->total_blocks)
        out->freed_blocks = out->total_blocks;
    if (out->total_blocks == out->freed_blocks)     /* read while a free was counted */
        out->live_bytes = 0;
    if (out->peak_live_bytes < out->live_bytes)
        out->peak_live_bytes = out->live_bytes;
}

void lk_tracker_totals_from(const lk_site_rec_t *sites, size_t n, lk_totals_t *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t->live_blocks += sites[i].total_blocks - sites[i].freed_blocks;
        t->live_bytes += sites[i].live_bytes;
        t->alloc_count += sites[i].total_blocks;
        t->alloc_bytes += sites[i].total_bytes;
        t->free_count += sites[i].freed_blocks;
    }
    t->peak_live_bytes = __atomic_load_n(&g_peak_live_bytes, __ATOMIC_RELAXED);
    if (t->peak_live_bytes < t->live_bytes)
        t->peak_live_bytes = t->live_bytes;
    t->failed_count = __atomic_load_n(&g_failed, __ATOMIC_RELAXED);
    t->untracked_frees = __atomic_load_n(&g_untracked_frees, __ATOMIC_RELAXED);
    t->mismatched_frees = __atomic_load_n(&g_mismatched, __ATOMIC_RELAXED);
    t->dropped_events = __atomic_load_n(&g_dropped, __ATOMIC_RELAXED);
}

void lk_tracker_totals(lk_totals_t *t)
{
    lk_tracker_fold();
    uint32_t n = lk_site_count();
    lk_totals_t acc;
    memset(&acc, 0, sizeof acc);
    for (uint32_t i = 0; i < n; i++) {
        lk_site_rec_t s;
        lk_site_snapshot(i, &s);
        acc.live_blocks += s.total_blocks - s.freed_blocks;
        acc.live_bytes += s.live_bytes;
        acc.alloc_count += s.total_blocks;
        acc.alloc_bytes += s.total_bytes;
        acc.free_count += s.freed_blocks;
    }
    lk_tracker_totals_from(NULL, 0, t);
    t->live_blocks = acc.live_blocks;
    t->live_bytes = acc.live_bytes;
    t->alloc_count = acc.alloc_count;
    t->alloc_bytes = acc.alloc_bytes;
    t->free_count = acc.free_count;
    if (t->peak_live_bytes < t->live_bytes)
        t->peak_live_bytes = t->live_bytes;
}

uint64_t lk_tracker_live_bytes(void)
{
    return live_bytes_now();
}


/* ### lifecycle */
/* The stack of the blocks at site 'idx' (lk_table_foreach's), or
 * LK_STACK_INHERITED for a site a forked child inherited. */
static uint32_t site_stack_of(uint32_t idx)
{
    if (idx < lk_site_base)
        return LK_STACK_INHERITED;
    const lk_site_rec_t *site = lk_site_at(idx);
    return site ? site->stack : LK_STACK_NONE;
}

int lk_tracker_init(void)
{
    lk_table_site_stack = site_stack_of;
    if (tracker_ready)
        return 0;
    lk_table_init();
    lk_start_ns = lk_now_ns();
    lk_start_unix_ms = lk_unix_ms();
    lk_pid = getpid();
    sample_seed = mix64(lk_start_ns ^ ((uint64_t)lk_pid << 32));
    __atomic_store_n(&tracker_ready, true, __ATOMIC_RELEASE);
    return 0;
}

bool lk_tracker_ready(void)
{
    return __atomic_load_n(&tracker_ready, __ATOMIC_ACQUIRE);
}

/* Lock order everywhere: site -> stack -> group -> table shards. */
void lk_tracker_lock_all(void)
{
    pthread_mutex_lock(&site_lock);
    lk_stack_lock();
    lk_groups_lock();
    lk_table_lock_all();
}

void lk_tracker_unlock_all(void)
{
    lk_table_unlock_all();
    lk_groups_unlock();
    lk_stack_unlock();
    pthread_mutex_unlock(&site_lock);
}

void lk_tracker_reset_after_fork(void)
{
    /* Child, every lock still held: the other threads are gone, so fold their
     * deltas and give them back for reuse. */
    acct_fold_locked();
    for (acct_t *a = acct_list; a; a = a->next)
        if (a != tls_acct)
            __atomic_store_n(&a->owned, 0, __ATOMIC_RELAXED);
    /* Every site so far is the parent's: new allocations find new sites (the
     * old index is left to the parent's blocks, which keep their site), and
     * the parent's failures and mismatches are not this process's. */
    lk_forked_from = lk_pid;
    __atomic_store_n(&lk_site_base, site_n, __ATOMIC_RELAXED);
    site_hash = NULL;           /* its buckets stay with the parent's copy */
    lk_groups_forget();
    g_failed = g_untracked_frees = g_mismatched = g_dropped = 0;
    g_peak_live_bytes = g_live_bytes;
    lk_table_unlock_all();
    lk_groups_unlock();
    lk_stack_reset_after_fork();
    pthread_mutex_unlock(&site_lock);
    lk_pid = getpid();
}

void lk_tracker_reset_for_tests(void)
{
    lk_tracker_init();
    lk_table_reset_for_tests();
    pthread_mutex_lock(&site_lock);
    HASH_CLEAR(hh, site_hash);
    for (uint32_t c = 0; c < SITE_MAX_CHUNKS && site_chunks[c]; c++)
        memset(site_chunks[c], 0, SITE_CHUNK * sizeof(site_slot_t));
    __atomic_store_n(&site_n, 0, __ATOMIC_RELEASE);
    site_bytes = 0;
    pthread_mutex_unlock(&site_lock);
    lk_stack_reset_for_tests();
    lk_groups_reset_for_tests();
    if (tls_site_cache)
        memset(tls_site_cache, 0, SITE_CACHE_SIZE * sizeof(site_cache_ent_t));
    for (acct_t *a = acct_list; a; a = a->next) {     /* deltas of the old sites */
        memset(a->ent, 0, sizeof a->ent);
        a->g_live = a->g_live_hi = 0;
    }
    lk_stack_forget_memos();     /* they remember old sites' indexes */
    g_live_bytes = g_peak_live_bytes = g_failed = g_untracked_frees = 0;
    g_mismatched = g_dropped = 0;
    lk_site_base = 0;
    lk_forked_from = 0;
    lk_watermark_next = UINT64_MAX;
}
