/* table.c - the live-block table: pointer -> (size, site, family).
 * 64 shards, each an open-addressing table with linear probing and its own
 * lock; a slot is 16 bytes (pointer|family, size|site).  Slot arrays come from
 * mmap, never from malloc, so the table never re-enters the hooks and the
 * reachability scan can exclude it as a root.  Never aborts: a shard that
 * cannot grow refuses the insert and the caller counts a dropped event. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/* Keep it a power of 2: the shard is the top bits of the pointer hash. */
#define NSHARDS_LOG2 LK_TABLE_SHARDS_LOG2
#define NSHARDS (1u << NSHARDS_LOG2)
#define SLOT_PAGE_SLOTS 512u        /* 8 KiB of slots: the growth granule, >= a window */
/* Grow by 3/2 when the load passes 0.8, so the load stays in [0.53, 0.8] and a
 * live block costs 20..30 bytes of slots (the budget is 32 bytes a block). */
#define LOAD_NUM 4
#define LOAD_DEN 5
/* When mmap fails, keep filling up to this load before dropping events. */
#define HARD_LOAD_NUM 19
#define HARD_LOAD_DEN 20

typedef struct slot {
    uint64_t key;                   /* pointer | family; 0 = empty */
    uint64_t val;                   /* size (LK_SIZE_BITS) | site << LK_SIZE_BITS */
} slot_t;

/* A test-and-test-and-set spinlock: the critical sections are a few probes
 * (or a rare resize), so sleeping is never worth a futex round trip. */
typedef struct spin {
    int locked;
} spin_t;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Out of line, the contended case.  errno is kept (nanosleep may say EINTR):
 * the free fast path (lk_track_free_fast) does not save it. */
static __attribute__((noinline)) void spin_wait(spin_t *l)
{
    int saved_errno = errno;
    do {
        unsigned spins = 0;
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
            if (++spins < 1024) {
                cpu_relax();
            } else if (spins < 1024 + 64) {
                sched_yield();      /* the holder may be preempted (or resizing) */
            } else {
                /* held for long (a resize of a big shard, the exit scan holding
                 * every shard): sleep, so that this thread is seen as blocked
                 * and burns no CPU */
                struct timespec ts = { 0, 50 * 1000 };
                nanosleep(&ts, NULL);
            }
        }
    } while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE));
    errno = saved_errno;
}

static inline void spin_lock(spin_t *l)
{
    if (lk_unlikely(__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)))
        spin_wait(l);
}

static inline void spin_unlock(spin_t *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

typedef struct shard {
    spin_t lock;
    slot_t *slots;                  /* mmap'd, 'cap' entries; guarded by lock */
    size_t cap;                     /* guarded by lock */
    size_t count;                   /* guarded by lock; read racily for totals */
    size_t grow_at;                 /* count that makes it resize: cap * LOAD_NUM / LOAD_DEN */
} __attribute__((aligned(64))) shard_t;

static shard_t shards[NSHARDS];
uint8_t lk_table_occupied[NSHARDS] __attribute__((aligned(64)));

/* Sampling only: keep lk_table_occupied[] in step with shard 's''s count. */
static inline void note_occupied(const shard_t *s)
{
    if (lk_unlikely(lk_config.sample_bytes != 0))
        __atomic_store_n(&lk_table_occupied[s - shards], s->count != 0, __ATOMIC_RELAXED);
}
int lk_table_init(void)
{
    return 0;                   /* static zero state is a valid empty table */
}

/* Fibonacci hash of the pointer without its (always zero) alignment bits. */
static inline uint64_t ptr_hash(uintptr_t ptr)
{
    return lk_table_ptr_hash(ptr);
}

static inline shard_t *shard_of(uint64_t h)
{
    shard_t *s = &shards[h >> (64 - NSHARDS_LOG2)];
    /* opaque to the optimiser, so that it keeps the pointer rather than
     * re-deriving it from a spilled index at each use */
    __asm__("" : "+r"(s));
    return s;
}

/* Home slot in [0, cap): the page's window starts at a multiply-shift of the
 * page hash bits below the shard bits ('cap' need not be a power of two), and
 * the block's 8-byte unit in the page (the low 9 bits) is its place in the
 * window, wrapping at the end (cap >= SLOT_PAGE_SLOTS > 511).  glibc's
 * smallest chunks are 32 bytes apart, so a page fills at most a quarter of
 * its window: runs stay short although windows land on one another. */
static inline size_t home_of(uint64_t h, size_t cap)
{
    size_t base = (size_t)(((unsigned __int128)((h >> 9) << (NSHARDS_LOG2 + 9)) * cap) >> 64);
    size_t i = base + (size_t)(h & 511);
    return i >= cap ? i - cap : i;
}

static inline uint64_t pack_val(const lk_block_t *b)
{
    uint64_t size = b->size > LK_SIZE_MAX ? LK_SIZE_MAX : b->size;
    return size | ((uint64_t)b->site << LK_SIZE_BITS);
}

static inline void unpack(uint64_t key, uint64_t val, lk_block_t *out)
{
    out->size = val & LK_SIZE_MAX;
    out->site = (uint32_t)(val >> LK_SIZE_BITS);
    out->family = (int)(key & 3);
}

static slot_t *slots_alloc(size_t cap, bool populate)
{
    size_t bytes = cap * sizeof(slot_t);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Big tables are probed at random: huge pages spare a TLB miss per probe. */
    if (bytes >= (4u << 20))
        madvise(p, bytes, MADV_HUGEPAGE);
    /* A resize writes every page of the new table at once, so one call
     * faults them in instead of a trap per page (a kernel before 5.14 says
     * EINVAL: the pages fault as used). */
    if (populate)
        madvise(p, bytes, MADV_POPULATE_WRITE);
    return p;
}

/* Insert into a table known to have room; caller holds the shard lock. */
static void raw_insert(slot_t *slots, size_t cap, uint64_t key, uint64_t val, uint64_t h)
{
    size_t i = home_of(h, cap);
    while (slots[i].key != 0)
        i = (i + 1 == cap) ? 0 : i + 1;
    slots[i].key = key;
    slots[i].val = val;
}

/* Move the shard to a table of 'ncap' slots.  O(count) under the shard lock,
 * amortised O(1) per insert.  Returns 0 or -ENOMEM (old table kept). */
static int shard_rehash(shard_t *s, size_t ncap);

/* errno kept (mmap, madvise, munmap): malloc_exact does not save it. */
static __attribute__((noinline)) int shard_resize(shard_t *s, size_t ncap)
{
    int saved_errno = errno;
    int rc = shard_rehash(s, ncap);
    errno = saved_errno;
    return rc;
}

static int shard_rehash(shard_t *s, size_t ncap)
{
    slot_t *ns = slots_alloc(ncap, s->count > 0);   /* a rehash touches every page */
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t k = s->slots[i].key;
        if (k != 0)
            raw_insert(ns, ncap, k, s->slots[i].val, ptr_hash((uintptr_t)(k & ~(uint64_t)3)));
    }
    if (s->slots)
        munmap(s->slots, s->cap * sizeof(slot_t));
    __atomic_store_n(&s->slots, ns, __ATOMIC_RELAXED);   /* lk_table_prefetch reads it racily */
    __atomic_store_n(&s->cap, ncap, __ATOMIC_RELAXED);
    s->grow_at = ncap * LOAD_NUM / LOAD_DEN;
    return 0;
}

/* Find the slot of 'ptr' or SIZE_MAX; caller holds the shard lock. */
static size_t find_slot(const shard_t *s, uintptr_t ptr, uint64_t h)
{
    if (s->cap == 0)
        return SIZE_MAX;
    size_t i = home_of(h, s->cap);
    for (;;) {
        uint64_t k = s->slots[i].key;
        if (k == 0)
            return SIZE_MAX;
        if ((k & ~(uint64_t)3) == ptr)
            return i;
        i = (i + 1 == s->cap) ? 0 : i + 1;
    }
}

void lk_table_prefetch(uintptr_t ptr)
{
    uint64_t h = ptr_hash(ptr);
    const shard_t *s = shard_of(h);
    /* racy reads: a prefetch of a stale address never faults */
    size_t cap = __atomic_load_n(&s->cap, __ATOMIC_RELAXED);
    const slot_t *slots = __atomic_load_n(&s->slots, __ATOMIC_RELAXED);
    if (slots && cap)
        __builtin_prefetch(&slots[home_of(h, cap)], 1, 3);
}

void *lk_table_insert_hold(uintptr_t ptr, const lk_block_t *b, int *rc)
{
    if (ptr == 0 || (ptr & 3) != 0) {
        *rc = -EINVAL;
        return NULL;
    }
    uint64_t h = ptr_hash(ptr);
    shard_t *s = shard_of(h);
    *rc = 0;
    spin_lock(&s->lock);
    if (s->count >= s->grow_at) {  /* (count + 1) / cap > LOAD_NUM / LOAD_DEN */
        size_t ncap = s->cap == 0 ? SLOT_PAGE_SLOTS : s->cap + s->cap / 2;
        ncap = (ncap + SLOT_PAGE_SLOTS - 1) / SLOT_PAGE_SLOTS * SLOT_PAGE_SLOTS;
        if (shard_resize(s, ncap) != 0 &&
            (s->count + 1) * HARD_LOAD_DEN > s->cap * HARD_LOAD_NUM) {
            *rc = -ENOMEM;
            return s;
        }
    }
    /* one probe: the pointer itself (a missed free) or the first hole */
    slot_t *slots = s->slots;
    size_t cap = s->cap, i = home_of(h, cap);
    for (;;) {
        uint64_t k = slots[i].key;
        if (k == 0)
            break;
        if ((k & ~(uint64_t)3) == ptr) {
            *rc = -EEXIST;
            return s;
        }
        i = (i + 1 == cap) ? 0 : i + 1;
    }
    slots[i].key = (uint64_t)ptr | (uint64_t)(b->family & 3);
    slots[i].val = pack_val(b);
    __atomic_store_n(&s->count, s->count + 1, __ATOMIC_RELAXED);
    if (s->count == 1)
        note_occupied(s);
    return s;
}

void lk_table_release(void *held)
{
    if (held)
        spin_unlock(&((shard_t *)held)->lock);
}

void *lk_table_hold_any(void)
{
    /* by the thread's stack: threads that account outside an insert or
     * remove (realloc's release) do not all queue on one shard */
    char here;
    shard_t *s = shard_of(ptr_hash((uintptr_t)&here >> 16 << 16));
    spin_lock(&s->lock);
    return s;
}

int lk_table_insert(uintptr_t ptr, const lk_block_t *b)
{
    int rc;
    lk_table_release(lk_table_insert_hold(ptr, b, &rc));
    return rc;
}

/* Delete slot 'i' by shifting later members of its probe run back (no
 * tombstones, so lookups stay short under churn).  Caller holds the lock. */
static void delete_slot(shard_t *s, size_t i)
{
    size_t cap = s->cap;
    size_t j = i;
    for (;;) {
        j = (j + 1 == cap) ? 0 : j + 1;
        uint64_t k = s->slots[j].key;
        if (k == 0)
            break;
        size_t home = home_of(ptr_hash((uintptr_t)(k & ~(uint64_t)3)), cap);
        /* Can the entry at j move to the hole at i?  Only if its home is not
         * cyclically inside (i, j]. */
        bool home_in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (home_in_range)
            continue;
        s->slots[i] = s->slots[j];
        i = j;
    }
    s->slots[i].key = 0;
    s->slots[i].val = 0;
}

void *lk_table_remove_hold(uintptr_t ptr, lk_block_t *out, int *rc)
{
    *rc = -ENOENT;
    if (ptr == 0)
        return NULL;            /* a misaligned pointer matches no key (their low bits are 0) */
    uint64_t h = ptr_hash(ptr);
    shard_t *s = shard_of(h);
    /* An empty shard holds no block, without its lock (sampling: most frees are
     * of untracked blocks).  A block inserted by another thread is visible: the
     * program handed us its pointer after that insert, so the count it stored
     * (or a later one, which includes the block until it is removed) is seen. */
    if (__atomic_load_n(&s->count, __ATOMIC_RELAXED) == 0)
        return NULL;
    spin_lock(&s->lock);
    size_t cap = s->cap;
    if (lk_unlikely(cap == 0))
        return s;               /* reset for tests since the count was read */
    const slot_t *slots = s->slots;
    size_t i = home_of(h, cap);
    uint64_t k;
    /* the block's own key first: it is usually at its home */
    while (((k = slots[i].key) & ~(uint64_t)3) != ptr) {
        if (k == 0)
            return s;
        i = (i + 1 == cap) ? 0 : i + 1;
    }
    unpack(k, slots[i].val, out);
    delete_slot(s, i);
    __atomic_store_n(&s->count, s->count - 1, __ATOMIC_RELAXED);
    if (lk_unlikely(s->count == 0))
        note_occupied(s);
    *rc = 0;
    return s;
}

int lk_table_remove(uintptr_t ptr, lk_block_t *out)
{
    int rc;
    lk_table_release(lk_table_remove_hold(ptr, out, &rc));
    return rc;
}

bool lk_table_lookup(uintptr_t ptr, lk_block_t *out)
{
    if (ptr == 0 || (ptr & 3) != 0)
        return false;
    uint64_t h = ptr_hash(ptr);
    shard_t *s = shard_of(h);
    spin_lock(&s->lock);
    size_t i = find_slot(s, ptr, h);
    if (i != SIZE_MAX && out)
        unpack(s->slots[i].key, s->slots[i].val, out);
    spin_unlock(&s->lock);
    return i != SIZE_MAX;
}

size_t lk_table_count(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < NSHARDS; i++)
        n += __atomic_load_n(&shards[i].count, __ATOMIC_RELAXED);
    return n;
}

size_t lk_table_memory_bytes(void)
{
    size_t n = sizeof shards;
    for (unsigned i = 0; i < NSHARDS; i++)
        n += __atomic_load_n(&shards[i].cap, __ATOMIC_RELAXED) * sizeof(slot_t);
    return n;
}

void lk_table_lock_all(void)
{
    lk_table_init();
    for (unsigned i = 0; i < NSHARDS; i++)
        spin_lock(&shards[i].lock);
}

void lk_table_unlock_all(void)
{
    for (unsigned i = NSHARDS; i-- > 0;)
        spin_unlock(&shards[i].lock);
}

/* Sites are the tracker's, above this file: it installs their stack lookup. */
uint32_t (*lk_table_site_stack)(uint32_t site);

void lk_table_foreach(void (*cb)(uintptr_t ptr, size_t size, uint32_t stack_id,
                                 int family, void *arg), void *arg)
{
    for (unsigned i = 0; i < NSHARDS; i++) {
        const shard_t *s = &shards[i];
        uint32_t (*site_stack)(uint32_t) = lk_table_site_stack;
        for (size_t j = 0; j < s->cap; j++) {
            uint64_t k = s->slots[j].key;
            if (k == 0)
                continue;
            lk_block_t b;
            unpack(k, s->slots[j].val, &b);
            uint32_t stack = site_stack ? site_stack(b.site) : LK_STACK_NONE;
            cb((uintptr_t)(k & ~(uint64_t)3), (size_t)b.size, stack, b.family, arg);
        }
    }
}

size_t lk_table_memory_ranges(uintptr_t (*ranges)[2], size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < NSHARDS; i++) {
        const shard_t *s = &shards[i];
        if (!s->slots)
            continue;
        if (n < max) {
            ranges[n][0] = (uintptr_t)s->slots;
            ranges[n][1] = (uintptr_t)s->slots + s->cap * sizeof(slot_t);
        }
        n++;
    }
    /* The shard headers themselves hold no block pointers, but say so anyway. */
    if (n < max) {
        ranges[n][0] = (uintptr_t)shards;
        ranges[n][1] = (uintptr_t)shards + sizeof shards;
    }
    n++;
    return n;
}

void lk_table_reset_after_fork(void)
{
    /* The atfork child handler runs with every shard lock held by this thread
     * (taken in prepare); release them. */
    lk_table_unlock_all();
}

/* Unit tests only: drop every record and free the slot arrays. */
void lk_table_reset_for_tests(void)
{
    lk_table_init();
    for (unsigned i = 0; i < NSHARDS; i++) {
        shard_t *s = &shards[i];
        spin_lock(&s->lock);
        if (s->slots)
            munmap(s->slots, s->cap * sizeof(slot_t));
        s->slots = NULL;
        s->cap = 0;
        s->count = 0;
        s->grow_at = 0;
        lk_table_occupied[i] = 0;
        spin_unlock(&s->lock);
    }
}
