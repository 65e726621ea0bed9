/* heap.c - the dumper thread's memory, from mmap'd chunks; and the count of
 * every mapping libleak makes.  glibc gives a thread its own arena on the
 * thread's first malloc, and an arena reserves 64 MiB of address space: the
 * dumper thread's first dump made a program under RLIMIT_AS run out of
 * memory 64 MiB early.  So the thread with lk_tls_heap set (the dumper)
 * takes libleak's memory, and what libc allocates for it, from here: chunks
 * mapped as needed and unmapped when empty.  Other threads dump with the
 * allocator they already use (the exit dump: the main arena).  Never calls
 * malloc; never exits or aborts (NULL and ENOMEM when no room). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#undef mmap
#undef munmap

__thread int lk_tls_heap __attribute__((tls_model("initial-exec")));

/* Blocks are bump-allocated in a chunk, with a 16-byte header in front; a
 * chunk whose blocks are all freed starts again from its beginning.  A dump
 * frees what it allocated, so its chunks empty at its end: the small one is
 * kept for the next dump, the others are unmapped. */
#define CHUNK_BYTES (256u << 10)
#define BIG_BYTES (CHUNK_BYTES / 4)     /* larger requests get a chunk each */
#define SLOTS 64
#define MAGIC 0x6c6b6870u               /* "lkhp" */

typedef struct hdr {
    uint32_t slot;
    uint32_t magic;
    uint64_t size;              /* requested bytes */
} hdr_t;

/* A chunk's place is read without the lock by lk_heap_owns (every free that
 * reaches the general path asks): 'seq' is odd while base and size change. */
typedef struct chunk {
    unsigned seq;               /* atomic */
    uintptr_t base;             /* atomic; 0: the slot is free */
    size_t size;                /* atomic */
    size_t used, hwm;           /* bump offset; the most ever used (what may be dirty) */
    size_t live;                /* blocks not freed yet */
} chunk_t;

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static chunk_t slots[SLOTS];            /* guarded by heap_lock, but see chunk_t */
static unsigned nslots;                 /* atomic: slots ever used */
static chunk_t *spare;                  /* an empty small chunk kept mapped; guarded by heap_lock */
static size_t mapped_bytes;             /* atomic: address space of the chunks */

static void slot_publish(chunk_t *c, uintptr_t base, size_t size)
{
    __atomic_store_n(&c->seq, c->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&c->base, base, __ATOMIC_RELAXED);
    __atomic_store_n(&c->size, size, __ATOMIC_RELAXED);
    __atomic_store_n(&c->seq, c->seq + 1, __ATOMIC_RELEASE);
}

/* Map a chunk of at least 'need' bytes into a free slot.  Lock held. */
static chunk_t *chunk_new(size_t need)
{
    size_t size = need <= CHUNK_BYTES ? CHUNK_BYTES : (need + 4095) & ~(size_t)4095;
    unsigned i;
    for (i = 0; i < SLOTS && slots[i].base; i++)
        ;
    if (i == SLOTS)
        return NULL;
    void *p = lk_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    chunk_t *c = &slots[i];
    c->used = c->hwm = c->live = 0;
    slot_publish(c, (uintptr_t)p, size);
    if (i >= nslots)
        __atomic_store_n(&nslots, i + 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&mapped_bytes, size, __ATOMIC_RELAXED);
    return c;
}

/* Carve 'n' bytes aligned to 'align' from 'c', or NULL.  Lock held. */
static void *chunk_carve(chunk_t *c, unsigned slot, size_t n, size_t align, bool zero)
{
    uintptr_t q = (c->base + c->used + sizeof(hdr_t) + align - 1) & ~(uintptr_t)(align - 1);
    size_t end = q + ((n + 15) & ~(size_t)15) - c->base;
    if (end > c->size)
        return NULL;
    size_t start = c->used;
    c->used = end;
    if (zero && start < c->hwm)     /* reused memory: zero it, as fresh pages are */
        memset((char *)c->base + start, 0, (end < c->hwm ? end : c->hwm) - start);
    if (end > c->hwm)
        c->hwm = end;
    c->live++;
    if (c == spare)
        spare = NULL;
    hdr_t *h = (hdr_t *)q - 1;
    *h = (hdr_t){ slot, MAGIC, n };
    return (void *)q;
}

static void *heap_alloc(size_t n, size_t align, bool zero)
{
    if (align < 16)
        align = 16;
    if (n > (SIZE_MAX >> 2) || align > CHUNK_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    void *q = NULL;
    pthread_mutex_lock(&heap_lock);
    if (n + align <= BIG_BYTES) {
        for (unsigned i = 0; i < nslots && !q; i++)
            if (slots[i].base && slots[i].size == CHUNK_BYTES)
                q = chunk_carve(&slots[i], i, n, align, zero);
    }
    if (!q) {
        chunk_t *c = chunk_new(n + align + sizeof(hdr_t));
        if (c)
            q = chunk_carve(c, (unsigned)(c - slots), n, align, zero);
    }
    pthread_mutex_unlock(&heap_lock);
    if (!q)
        errno = ENOMEM;
    return q;
}

void *lk_heap_alloc(size_t n, size_t align)
{
    return heap_alloc(n, align, false);
}

void *lk_heap_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return heap_alloc(total, 16, true);
}

bool lk_heap_owns(const void *p)
{
    unsigned n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++) {
        const chunk_t *c = &slots[i];
        unsigned s1, s2;
        uintptr_t base;
        size_t size;
        do {
            s1 = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
            base = __atomic_load_n(&c->base, __ATOMIC_RELAXED);
            size = __atomic_load_n(&c->size, __ATOMIC_RELAXED);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            s2 = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
        } while (s1 != s2 || (s1 & 1));
        if (base && (uintptr_t)p > base && (uintptr_t)p < base + size)
            return true;
    }
    return false;
}

size_t lk_heap_size(const void *p)
{
    return (size_t)((const hdr_t *)p - 1)->size;
}

void lk_heap_free(void *p)
{
    hdr_t *h = (hdr_t *)p - 1;
    if (h->magic != MAGIC || h->slot >= SLOTS)
        return;                 /* not a block start: leak it rather than corrupt */
    pthread_mutex_lock(&heap_lock);
    chunk_t *c = &slots[h->slot];
    h->magic = 0;
    if (c->live > 0 && --c->live == 0) {
        c->used = 0;
        if (c->size == CHUNK_BYTES && (!spare || spare == c)) {
            spare = c;
        } else {
            uintptr_t base = c->base;
            size_t size = c->size;
            slot_publish(c, 0, 0);
            lk_munmap((void *)base, size);
            __atomic_sub_fetch(&mapped_bytes, size, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&heap_lock);
}

void *lk_heap_realloc(void *p, size_t n)
{
    void *q = lk_heap_alloc(n, 16);
    if (q && p) {
        size_t old = lk_heap_size(p);
        memcpy(q, p, old < n ? old : n);
        lk_heap_free(p);
    }
    return q;
}

uint64_t lk_heap_mapped_bytes(void)
{
    return __atomic_load_n(&mapped_bytes, __ATOMIC_RELAXED);
}

/* ### every mapping libleak makes: address space, and ranges for mincore.
 * Ranges beyond MAP_RANGES are counted but not looked at for residency. */
#define MAP_RANGES 256
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t map_range[MAP_RANGES][2];     /* [start, end); guarded by map_lock */
static size_t map_nranges;                      /* guarded by map_lock */
static uint64_t map_bytes;                      /* atomic */
static uint64_t map_untracked_bytes;            /* guarded by map_lock: not in map_range */

static size_t page_round(size_t len)
{
    return (len + 4095) & ~(size_t)4095;
}

void *lk_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    int e = errno;
    void *p = mmap(addr, len, prot, flags, fd, off);
    if (p == MAP_FAILED)
        return p;
    errno = e;
    size_t n = page_round(len);
    pthread_mutex_lock(&map_lock);
    if (map_nranges < MAP_RANGES) {
        map_range[map_nranges][0] = (uintptr_t)p;
        map_range[map_nranges++][1] = (uintptr_t)p + n;
    } else {
        map_untracked_bytes += n;
    }
    __atomic_add_fetch(&map_bytes, n, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&map_lock);
    return p;
}

int lk_munmap(void *addr, size_t len)
{
    int rc = munmap(addr, len);
    if (rc != 0)
        return rc;
    uintptr_t lo = (uintptr_t)addr, hi = lo + page_round(len);
    uint64_t gone = 0;
    pthread_mutex_lock(&map_lock);
    for (size_t i = 0; i < map_nranges; i++) {
        uintptr_t *r = map_range[i];
        if (hi <= r[0] || lo >= r[1])
            continue;
        uintptr_t cut_lo = lo > r[0] ? lo : r[0], cut_hi = hi < r[1] ? hi : r[1];
        gone += cut_hi - cut_lo;
        if (cut_lo > r[0] && cut_hi < r[1] && map_nranges < MAP_RANGES) {
            map_range[map_nranges][0] = cut_hi;         /* a hole: the tail becomes a range */
            map_range[map_nranges++][1] = r[1];
            r[1] = cut_lo;
        } else if (cut_lo > r[0]) {
            r[1] = cut_lo;
        } else if (cut_hi < r[1]) {
            r[0] = cut_hi;
        } else {
            map_range[i][0] = map_range[map_nranges - 1][0];
            map_range[i][1] = map_range[map_nranges - 1][1];
            map_nranges--;
            i--;
        }
    }
    if (gone == 0) {
        /* not a tracked range: one counted among the untracked ones */
        gone = hi - lo < map_untracked_bytes ? hi - lo : map_untracked_bytes;
        map_untracked_bytes -= gone;
    }
    __atomic_sub_fetch(&map_bytes, gone, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&map_lock);
    return 0;
}

void lk_populate(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095, hi = page_round((uintptr_t)p + len);
    int e = errno;
    madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);     /* before Linux 5.14: faults as used */
    errno = e;
#else
    (void)p;
    (void)len;
#endif
}

void lk_populate_ahead(void *base, size_t cap, size_t need, size_t *ready)
{
    if (need <= *ready)
        return;
    size_t end = (need + LK_POPULATE_STEP - 1) & ~(size_t)(LK_POPULATE_STEP - 1);
    if (end > cap)
        end = cap;
    size_t from = *ready & ~(size_t)4095;
    if (end > from)
        lk_populate((char *)base + from, end - from);
    *ready = end;
}

uint64_t lk_mapped_bytes(void)
{
    return __atomic_load_n(&map_bytes, __ATOMIC_RELAXED);
}

uint64_t lk_mapped_resident_bytes(void)
{
    unsigned char vec[4096];
    uint64_t pages = 0;
    pthread_mutex_lock(&map_lock);
    for (size_t i = 0; i < map_nranges; i++) {
        for (uintptr_t a = map_range[i][0]; a < map_range[i][1];) {
            size_t n = (map_range[i][1] - a) / 4096;
            if (n > sizeof vec)
                n = sizeof vec;
            if (mincore((void *)a, n * 4096, vec) == 0)
                for (size_t k = 0; k < n; k++)
                    pages += vec[k] & 1;
            a += n * 4096;
        }
    }
    pthread_mutex_unlock(&map_lock);
    return pages * 4096;
}

/* ### fork: neither lock may be inherited held.  Installed before the
 * tracker's handlers, so that its prepare runs after theirs: a table resize
 * maps memory with a shard lock held (order: shards, heap, mappings). */
static void heap_prepare(void)
{
    pthread_mutex_lock(&heap_lock);
    pthread_mutex_lock(&map_lock);
}

static void heap_release(void)
{
    pthread_mutex_unlock(&map_lock);
    pthread_mutex_unlock(&heap_lock);
}

void lk_heap_install_atfork(void)
{
    pthread_atfork(heap_prepare, heap_release, heap_release);
}
