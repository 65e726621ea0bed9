/* stack.c - capture call stacks with libunwind and intern them to stable ids.
 * Capture takes no lock (it runs in the hooks, with the guard held, because
 * libunwind may allocate).  Interning takes the stack lock; interned stacks are
 * append-only and immutable, so ids never change and readers need no lock. */
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/* uthash: our memory, and no exit() on out-of-memory (STYLE 2.4.7). */
static bool stack_oom;
#define uthash_malloc(sz) lk_real_malloc(sz)
#define uthash_free(ptr, sz) lk_real_free(ptr)
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (stack_oom = true)
#include <uthash.h>

typedef struct stack_entry {
    lk_stack_t pub;
    uintptr_t *key;             /* pc[0..depth) then the truncated flag */
    UT_hash_handle hh;          /* guarded by stack_lock */
} stack_entry_t;

/* Entries live in chunks that never move: id -> chunks[id >> 12][id & 4095]. */
#define CHUNK_LOG2 10
#define CHUNK_SIZE (1u << CHUNK_LOG2)
#define MAX_CHUNKS 16384u       /* 16M stacks */

static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static stack_entry_t *stack_chunks[MAX_CHUNKS];   /* written under lock, read lock-free */
static uint32_t stack_n;                          /* published with release */
static stack_entry_t *stack_hash;                 /* guarded by stack_lock */
static size_t stack_bytes;                        /* guarded by stack_lock */
static uintptr_t self_lo, self_hi;

static int backtrace_default(void **buf, int size)
{
    return unw_backtrace(buf, size);
}
int (*LK_SEAM lk_stack_backtrace)(void **buf, int size) = backtrace_default;

void lk_stack_set_self_range(uintptr_t lo, uintptr_t hi)
{
    self_lo = lo;
    self_hi = hi;
}

void lk_frames_hash(lk_frames_t *f)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ f->depth ^ ((uint64_t)f->truncated << 32);
    for (uint32_t i = 0; i < f->depth; i++) {
        h ^= f->pc[i];
        h *= UINT64_C(0x100000001b3);
        h ^= h >> 29;
    }
    f->hash = h;
}

void lk_stack_capture(lk_frames_t *f)
{
    int max = (int)lk_config.max_depth;
    if (max < 1 || max > LK_MAX_DEPTH)
        max = LK_MAX_DEPTH;
    int n = lk_stack_backtrace((void **)f->pc, max + LK_SKIP_MAX + 1);
    if (n < 0)
        n = 0;
    /* Innermost come the unwinder's own frames (unw_backtrace), then
     * libleak's (capture, tracker, hook): drop both, up to the last libleak
     * frame of that first run. */
    int skip = 0;
    for (int i = 0; i < n && i < 8; i++) {
        if (f->pc[i] >= self_lo && f->pc[i] < self_hi) {
            skip = i;
            while (skip < n && f->pc[skip] >= self_lo && f->pc[skip] < self_hi)
                skip++;
            break;
        }
    }
    int avail = n - skip;
    f->truncated = avail > max;
    f->depth = (uint32_t)(avail > max ? max : avail);
    if (skip > 0)
        memmove(f->pc, f->pc + skip, f->depth * sizeof(uintptr_t));
    lk_frames_hash(f);
}

const lk_stack_t *lk_stack_get(uint32_t id)
{
    if (id >= __atomic_load_n(&stack_n, __ATOMIC_ACQUIRE))
        return NULL;
    return &stack_chunks[id >> CHUNK_LOG2][id & (CHUNK_SIZE - 1)].pub;
}

uint32_t lk_stack_count(void)
{
    return __atomic_load_n(&stack_n, __ATOMIC_ACQUIRE);
}

size_t lk_stack_memory_bytes(void)
{
    return __atomic_load_n(&stack_bytes, __ATOMIC_RELAXED);
}

uint32_t lk_stack_intern(const lk_frames_t *f)
{
    size_t keylen = ((size_t)f->depth + 1) * sizeof(uintptr_t);
    uintptr_t key[LK_MAX_DEPTH + LK_SKIP_MAX + 2];
    memcpy(key, f->pc, (size_t)f->depth * sizeof(uintptr_t));
    key[f->depth] = f->truncated;

    uint32_t id = LK_STACK_NONE;
    stack_entry_t *e = NULL;
    pthread_mutex_lock(&stack_lock);
    HASH_FIND(hh, stack_hash, key, keylen, e);
    if (e) {
        id = e->pub.id;
        goto out_unlock;
    }
    uint32_t n = stack_n;
    uint32_t c = n >> CHUNK_LOG2;
    if (c >= MAX_CHUNKS)
        goto out_unlock;
    if (!stack_chunks[c]) {
        void *p = mmap(NULL, CHUNK_SIZE * sizeof(stack_entry_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            goto out_unlock;
        stack_chunks[c] = p;
    }
    uintptr_t *k = lk_real_malloc(keylen);
    if (!k)
        goto out_unlock;
    memcpy(k, key, keylen);
    e = &stack_chunks[c][n & (CHUNK_SIZE - 1)];
    e->pub.id = n;
    e->pub.depth = f->depth;
    e->pub.truncated = f->truncated;
    e->pub.hash = f->hash;
    e->pub.pc = k;
    e->key = k;
    stack_oom = false;
    HASH_ADD_KEYPTR(hh, stack_hash, e->key, keylen, e);
    if (stack_oom) {
        lk_real_free(k);
        memset(e, 0, sizeof *e);
        goto out_unlock;
    }
    /* what a stack really costs: entry, frames, its share of the buckets */
    __atomic_store_n(&stack_bytes, stack_bytes + sizeof *e + keylen + sizeof(UT_hash_bucket),
                     __ATOMIC_RELAXED);
    id = n;
    __atomic_store_n(&stack_n, n + 1, __ATOMIC_RELEASE);
out_unlock:
    pthread_mutex_unlock(&stack_lock);
    return id;
}

void lk_stack_lock(void)
{
    pthread_mutex_lock(&stack_lock);
}

void lk_stack_unlock(void)
{
    pthread_mutex_unlock(&stack_lock);
}

void lk_stack_reset_after_fork(void)
{
    pthread_mutex_unlock(&stack_lock);
}

void lk_stack_reset_for_tests(void)
{
    pthread_mutex_lock(&stack_lock);
    HASH_CLEAR(hh, stack_hash);
    uint32_t n = stack_n;
    for (uint32_t i = 0; i < n; i++)
        lk_real_free(stack_chunks[i >> CHUNK_LOG2][i & (CHUNK_SIZE - 1)].key);
    for (uint32_t c = 0; c < MAX_CHUNKS && stack_chunks[c]; c++)
        memset(stack_chunks[c], 0, CHUNK_SIZE * sizeof(stack_entry_t));
    __atomic_store_n(&stack_n, 0, __ATOMIC_RELEASE);
    stack_bytes = 0;
    pthread_mutex_unlock(&stack_lock);
}
