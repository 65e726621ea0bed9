/* groups.c - mismatched frees and failed requests, grouped by stack: rare
 * events, kept in two hashes under one lock and copied out for the dump.
 * The tracker (above) captures and interns the stacks; this file only counts. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"

static bool group_oom;
#define uthash_malloc(sz) lk_real_malloc(sz)
#define uthash_free(ptr, sz) lk_real_free(ptr)
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (group_oom = true)
#include <uthash.h>

typedef struct mismatch_ent {
    struct { uint32_t alloc_stack, free_stack; int32_t alloc_family, free_family; } key;
    lk_mismatch_t m;
    UT_hash_handle hh;
} mismatch_ent_t;

typedef struct failure_ent {
    struct { uint32_t stack; int32_t kind; const char *function; } key;
    lk_failure_t f;
    UT_hash_handle hh;
} failure_ent_t;

static pthread_mutex_t group_lock = PTHREAD_MUTEX_INITIALIZER;
static mismatch_ent_t *mismatch_hash;   /* guarded by group_lock */
static failure_ent_t *failure_hash;     /* guarded by group_lock */
static size_t group_bytes;              /* guarded by group_lock */

int lk_groups_add_mismatch(uint32_t alloc_stack, uint32_t free_stack, int alloc_family,
                           int free_family, uint64_t bytes)
{
    mismatch_ent_t *e = NULL, probe;
    memset(&probe.key, 0, sizeof probe.key);
    probe.key.alloc_stack = alloc_stack;
    probe.key.free_stack = free_stack;
    probe.key.alloc_family = alloc_family;
    probe.key.free_family = free_family;
    pthread_mutex_lock(&group_lock);
    HASH_FIND(hh, mismatch_hash, &probe.key, sizeof probe.key, e);
    if (!e) {
        e = lk_real_calloc(1, sizeof *e);
        if (!e)
            goto out_nomem;
        e->key = probe.key;
        e->m.alloc_stack = alloc_stack;
        e->m.free_stack = free_stack;
        e->m.alloc_family = alloc_family;
        e->m.free_family = free_family;
        group_oom = false;
        HASH_ADD(hh, mismatch_hash, key, sizeof e->key, e);
        if (group_oom) {
            lk_real_free(e);
            goto out_nomem;
        }
        group_bytes += sizeof *e;
    }
    e->m.count++;
    e->m.bytes += bytes;
    pthread_mutex_unlock(&group_lock);
    return 0;
out_nomem:
    pthread_mutex_unlock(&group_lock);
    return -ENOMEM;
}

int lk_groups_add_failure(uint32_t stack, int kind, const char *function, uint64_t size,
                          uint64_t now, uint64_t live_bytes)
{
    failure_ent_t *e = NULL, probe;
    memset(&probe.key, 0, sizeof probe.key);
    probe.key.stack = stack;
    probe.key.kind = kind;
    probe.key.function = function;
    pthread_mutex_lock(&group_lock);
    HASH_FIND(hh, failure_hash, &probe.key, sizeof probe.key, e);
    if (!e) {
        e = lk_real_calloc(1, sizeof *e);
        if (!e)
            goto out_nomem;
        e->key = probe.key;
        e->f.stack = stack;
        e->f.kind = kind;
        e->f.function = function;
        e->f.first_uptime_ns = now;
        e->f.live_bytes_at_first = live_bytes;
        group_oom = false;
        HASH_ADD(hh, failure_hash, key, sizeof e->key, e);
        if (group_oom) {
            lk_real_free(e);
            goto out_nomem;
        }
        group_bytes += sizeof *e;
    }
    e->f.count++;
    e->f.last_uptime_ns = now;
    if (size > e->f.request_bytes)
        e->f.request_bytes = size;
    pthread_mutex_unlock(&group_lock);
    return 0;
out_nomem:
    pthread_mutex_unlock(&group_lock);
    return -ENOMEM;
}

size_t lk_tracker_mismatches(lk_mismatch_t *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&group_lock);
    for (mismatch_ent_t *e = mismatch_hash; e; e = e->hh.next, n++)
        if (n < max)
            out[n] = e->m;
    pthread_mutex_unlock(&group_lock);
    return n;
}

size_t lk_tracker_failures(lk_failure_t *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&group_lock);
    for (failure_ent_t *e = failure_hash; e; e = e->hh.next, n++)
        if (n < max)
            out[n] = e->f;
    pthread_mutex_unlock(&group_lock);
    return n;
}

size_t lk_group_memory_bytes(void)
{
    return __atomic_load_n(&group_bytes, __ATOMIC_RELAXED);
}

void lk_groups_lock(void)
{
    pthread_mutex_lock(&group_lock);
}

void lk_groups_unlock(void)
{
    pthread_mutex_unlock(&group_lock);
}

/* Fork child, group_lock held: the parent's groups are not this process's
 * (their memory stays with the parent's copy). */
void lk_groups_forget(void)
{
    mismatch_hash = NULL;
    failure_hash = NULL;
    group_bytes = 0;
}

void lk_groups_reset_for_tests(void)
{
    pthread_mutex_lock(&group_lock);
    mismatch_ent_t *m, *mt;
    HASH_ITER(hh, mismatch_hash, m, mt) {
        HASH_DEL(mismatch_hash, m);
        lk_real_free(m);
    }
    failure_ent_t *f, *ft;
    HASH_ITER(hh, failure_hash, f, ft) {
        HASH_DEL(failure_hash, f);
        lk_real_free(f);
    }
    group_bytes = 0;
    pthread_mutex_unlock(&group_lock);
}
