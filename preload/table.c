/* table.c - the live-block table: pointer -> (size, site, family).
 * 64 shards, each an open-addressing table with linear probing and its own
 * lock; a slot is 12 bytes (pointer|family in 48 bits, size in 24, site in
 * 24); a size that does not fit is kept in the shard's side table.  Slot
 * arrays come from mmap, never from malloc, so the table never re-enters the
 * hooks and the reachability scan can exclude it as a root; the small first
 * arrays of the shards share pages (the arena).  Never aborts: a shard that
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
#define WINDOW_SLOTS 512u          /* a page's window: one slot per 8-byte unit */
/* Arrays of up to SMALL_MAX_CAP slots come from the arena, by doubling from
 * SMALL_MIN_CAP; bigger ones are mmap'd, as many slots as whole pages hold. */
#define SMALL_MIN_CAP 64u
/* The small arrays grow at a quarter full: their probe runs stay as short as
 * the big ones' at a page per window (at half full, churn took ~17 more
 * instructions a malloc/free pair in the table, for 8 pages instead of 14 in
 * check_table's small process). */
#define SMALL_LOAD_DIV 4
#define SMALL_MAX_CAP WINDOW_SLOTS
#define SMALL_CLASSES 4             /* 64, 128, 256, 512 slots */
#define PAGE_BYTES 4096u
/* Big arrays grow by 3/2 when the load passes 0.8, so the load stays in
 * [0.53, 0.8] and a live block costs 15..23 bytes of slots (the budget is 24
 * bytes a block). */
#define LOAD_NUM 4
#define LOAD_DEN 5
/* When mmap fails, keep filling up to this load before dropping events. */
#define HARD_LOAD_NUM 19
#define HARD_LOAD_DEN 20

/* A slot: 'lo' holds the pointer (4-aligned, below 2^48) with the family in
 * its 2 low bits, and above them the site's low 16 bits; 'hi' the site's high
 * 8 bits, then the size (24 bits).  So the site is bytes 6..8 of the slot,
 * read with one load.  lo == 0: empty ('hi' of an empty slot is stale). */
typedef struct slot {
    uint64_t lo;
    uint32_t hi;
} __attribute__((packed, aligned(4))) slot_t;

#define KEY_MASK       UINT64_C(0x0000FFFFFFFFFFFC)
#define SLOT_SIZE_BITS 24
/* This size in a slot: the real one is in the shard's side table. */
#define SIZE_SIDE      ((UINT64_C(1) << SLOT_SIZE_BITS) - 1)
_Static_assert(LK_SITE_BITS + SLOT_SIZE_BITS == 48, "a slot holds 48 bits of site and size");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "slot_site reads the site's bytes in place");

static inline uint64_t slot_key(const slot_t *p)
{
    return p->lo & KEY_MASK;
}

/* A size kept aside: the pointer and its size, 0 = empty. */
typedef struct side {
    uint64_t ptr;
    uint64_t size;
} side_t;
#define SIDE_MIN_CAP 256u           /* one page */

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
    unsigned wmask;                 /* a window is wmask + 1 slots: min(cap, WINDOW_SLOTS) */
    slot_t *slots;                  /* 'cap' entries; guarded by lock */
    size_t cap;                     /* guarded by lock */
    size_t count;                   /* guarded by lock; read racily for totals */
    size_t grow_at;                 /* count that makes it resize: cap * LOAD_NUM / LOAD_DEN */
    side_t *side;                   /* mmap'd, 'side_cap' entries (a power of 2); guarded by lock */
    uint32_t side_cap, side_count;
} __attribute__((aligned(64))) shard_t;

/* A shard with no array yet probes this one empty slot (cap 0, wmask 0), so
 * that lookups need no test of the cap; an insert grows the shard first. */
static slot_t empty_slots[1];
static shard_t shards[NSHARDS] = { [0 ... NSHARDS - 1] = { .slots = empty_slots } };
uint8_t lk_table_occupied[NSHARDS] __attribute__((aligned(64)));

/* Sampling only: keep lk_table_occupied[] in step with shard 's''s count. */
static inline void note_occupied(const shard_t *s)
{
    if (lk_unlikely(lk_config.sample_bytes != 0))
        __atomic_store_n(&lk_table_occupied[s - shards], s->count != 0, __ATOMIC_RELAXED);
}
int lk_table_init(void)
{
    return 0;                   /* the static state is a valid empty table */
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
 * the block's 8-byte unit in the page (the low 9 bits) gives its place in the
 * window, wrapping at the end.  A window is min(cap, 512) slots: in the small
 * arrays (powers of 2 below 512) a page's units wrap around the whole array
 * (wmask), so that nearby blocks still get distinct homes.  glibc's smallest
 * chunks are 32 bytes apart, so a page fills at most a quarter of a full
 * window: runs stay short although windows land on one another. */
static inline size_t home_of(uint64_t h, size_t cap, unsigned wmask)
{
    size_t base = (size_t)(((unsigned __int128)((h >> 9) << (NSHARDS_LOG2 + 9)) * cap) >> 64);
    size_t i = base + (size_t)(h & wmask);
    return i >= cap ? i - cap : i;
}

static inline unsigned wmask_of(size_t cap)
{
    return (unsigned)(cap < WINDOW_SLOTS ? cap : WINDOW_SLOTS) - 1;
}

/* 'size' < 2^24 (SIZE_SIDE: the size is aside), 'site' < 2^24. */
static inline void slot_set(slot_t *p, uint64_t key, uint32_t site, uint32_t size)
{
    p->lo = key | ((uint64_t)site << 48);
    p->hi = (site >> 16) | (size << 8);
}

static inline uint32_t slot_site(const slot_t *p)
{
    uint32_t v;
    memcpy(&v, (const char *)p + 6, sizeof v);
    return v & LK_SITE_MAX;
}

/* ### side table: sizes from SIZE_SIDE up, by pointer (open addressing) */

static inline size_t side_home(uint64_t ptr, uint32_t cap)
{
    return (size_t)((ptr * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1);
}

/* The index of 'ptr' in the shard's side table, or SIZE_MAX. */
static size_t side_find(const shard_t *s, uint64_t ptr)
{
    if (s->side_cap == 0)
        return SIZE_MAX;
    for (size_t i = side_home(ptr, s->side_cap);; i = (i + 1) & (s->side_cap - 1)) {
        if (s->side[i].ptr == ptr)
            return i;
        if (s->side[i].ptr == 0)
            return SIZE_MAX;
    }
}

static void side_raw_put(side_t *t, uint32_t cap, uint64_t ptr, uint64_t size)
{
    size_t i = side_home(ptr, cap);
    while (t[i].ptr != 0)
        i = (i + 1) & (cap - 1);
    t[i].ptr = ptr;
    t[i].size = size;
}

/* Keep 'size' for 'ptr' (not there yet).  0 or -ENOMEM.  Out of line: rare,
 * and errno kept (mmap, munmap). */
static __attribute__((noinline)) int side_put(shard_t *s, uint64_t ptr, uint64_t size)
{
    if ((s->side_count + 1) * 2 > s->side_cap) {
        int saved_errno = errno;
        uint32_t ncap = s->side_cap ? s->side_cap * 2 : SIDE_MIN_CAP;
        side_t *nt = ncap > s->side_cap
            ? mmap(NULL, ncap * sizeof(side_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            : MAP_FAILED;
        if (nt == MAP_FAILED) {
            errno = saved_errno;
            return -ENOMEM;
        }
        for (uint32_t i = 0; i < s->side_cap; i++)
            if (s->side[i].ptr != 0)
                side_raw_put(nt, ncap, s->side[i].ptr, s->side[i].size);
        if (s->side)
            munmap(s->side, s->side_cap * sizeof(side_t));
        s->side = nt;
        s->side_cap = ncap;
        errno = saved_errno;
    }
    side_raw_put(s->side, s->side_cap, ptr, size);
    s->side_count++;
    return 0;
}

/* The size kept for 'ptr' (removed from the side table when 'take').  A
 * missing record (never expected) reads as SIZE_SIDE. */
static __attribute__((noinline)) uint64_t side_get(shard_t *s, uint64_t ptr, bool take)
{
    size_t i = side_find(s, ptr);
    if (i == SIZE_MAX)
        return SIZE_SIDE;
    uint64_t size = s->side[i].size;
    if (!take)
        return size;
    /* backward-shift deletion, as delete_slot */
    uint32_t mask = s->side_cap - 1;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        uint64_t p = s->side[j].ptr;
        if (p == 0)
            break;
        size_t home = side_home(p, s->side_cap);
        bool home_in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (home_in_range)
            continue;
        s->side[i] = s->side[j];
        i = j;
    }
    s->side[i].ptr = 0;
    s->side[i].size = 0;
    s->side_count--;
    return size;
}

/* The record of slot 'p'; 'take' removes a side size with it.  Caller holds
 * the lock. */
static inline void unpack(shard_t *s, const slot_t *p, lk_block_t *out, bool take)
{
    uint64_t lo = p->lo;
    out->size = p->hi >> 8;
    out->site = slot_site(p);
    out->family = (int)(lo & 3);
    if (lk_unlikely(out->size == SIZE_SIDE))
        out->size = side_get(s, lo & KEY_MASK, take);
}

/* ### the arena: the small arrays, carved from shared chunks so that the
 * first arrays of many shards share pages (a small process touches a few
 * pages of table, not one or two per shard).  Freed arrays are kept by size
 * class and reused; the chunks are never returned (at most 64 arrays of each
 * class are ever out at once: 720 KiB). */
#define ARENA_CHUNK  (64u << 10)
#define ARENA_CHUNKS 32
static spin_t arena_lock;           /* taken under a shard lock only */
static void *arena_chunk[ARENA_CHUNKS];
static unsigned arena_nchunks;      /* read racily for the memory figures */
static size_t arena_used;           /* bytes used of the last chunk */
static void *arena_free[SMALL_CLASSES];

static unsigned small_class(size_t cap)
{
    unsigned c = 0;
    while ((SMALL_MIN_CAP << c) < cap)
        c++;
    return c;
}

static slot_t *small_alloc(size_t cap)
{
    unsigned c = small_class(cap);
    size_t bytes = cap * sizeof(slot_t);
    void *p = NULL;
    spin_lock(&arena_lock);
    if (arena_free[c]) {
        p = arena_free[c];
        memcpy(&arena_free[c], p, sizeof(void *));
    } else {
        if (arena_nchunks == 0 || arena_used + bytes > ARENA_CHUNK) {
            void *ch = arena_nchunks < ARENA_CHUNKS
                ? mmap(NULL, ARENA_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                : MAP_FAILED;
            if (ch != MAP_FAILED) {
                arena_chunk[arena_nchunks] = ch;
                __atomic_store_n(&arena_nchunks, arena_nchunks + 1, __ATOMIC_RELAXED);
                arena_used = 0;
            }
        }
        if (arena_nchunks > 0 && arena_used + bytes <= ARENA_CHUNK) {
            p = (char *)arena_chunk[arena_nchunks - 1] + arena_used;
            arena_used += bytes;
            spin_unlock(&arena_lock);
            return p;               /* fresh: zero */
        }
    }
    spin_unlock(&arena_lock);
    if (p)
        memset(p, 0, sizeof(void *));   /* the free list's link: small_free zeroed the rest */
    return p;
}

static void small_free(slot_t *p, size_t cap)
{
    unsigned c = small_class(cap);
    /* no stale block pointer stays in the arena: the scan may not exclude
     * every chunk (big arrays come first in lk_table_memory_ranges) */
    memset(p, 0, cap * sizeof(slot_t));
    spin_lock(&arena_lock);
    memcpy(p, &arena_free[c], sizeof(void *));
    arena_free[c] = p;
    spin_unlock(&arena_lock);
}

/* Arrays of the shards that are their own mappings (not the arena's). */
static inline size_t own_array_bytes(size_t cap)
{
    return cap > SMALL_MAX_CAP ? (cap * sizeof(slot_t) + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES : 0;
}

static slot_t *slots_alloc(size_t cap, bool populate)
{
    if (cap <= SMALL_MAX_CAP)
        return small_alloc(cap);
    size_t bytes = own_array_bytes(cap);
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

static void slots_free(slot_t *p, size_t cap)
{
    if (cap == 0)
        return;                 /* empty_slots */
    if (cap <= SMALL_MAX_CAP)
        small_free(p, cap);
    else
        munmap(p, own_array_bytes(cap));
}

/* Insert into a table known to have room; caller holds the shard lock. */
static void raw_insert(slot_t *slots, size_t cap, unsigned wmask, const slot_t *from, uint64_t h)
{
    size_t i = home_of(h, cap, wmask);
    while (slots[i].lo != 0)
        i = (i + 1 == cap) ? 0 : i + 1;
    slots[i] = *from;
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
    unsigned nw = wmask_of(ncap);
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t k = slot_key(&s->slots[i]);
        if (k != 0)
            raw_insert(ns, ncap, nw, &s->slots[i], ptr_hash((uintptr_t)k));
    }
    slots_free(s->slots, s->cap);
    /* lk_table_prefetch reads these racily: a stale mix only prefetches a
     * wrong line */
    __atomic_store_n(&s->slots, ns, __ATOMIC_RELAXED);
    __atomic_store_n(&s->cap, ncap, __ATOMIC_RELAXED);
    __atomic_store_n(&s->wmask, nw, __ATOMIC_RELAXED);
    s->grow_at = ncap < SMALL_MAX_CAP ? ncap / SMALL_LOAD_DIV : ncap * LOAD_NUM / LOAD_DEN;
    return 0;
}

/* The next size of a shard of 'cap' slots. */
static size_t next_cap(size_t cap)
{
    if (cap == 0)
        return SMALL_MIN_CAP;
    if (cap < SMALL_MAX_CAP)
        return cap * 2;
    size_t bytes = (cap + cap / 2) * sizeof(slot_t);
    return (bytes + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES / sizeof(slot_t);
}

/* Find the slot of 'ptr' or SIZE_MAX; caller holds the shard lock. */
static size_t find_slot(const shard_t *s, uintptr_t ptr, uint64_t h)
{
    size_t i = home_of(h, s->cap, s->wmask);
    for (;;) {
        uint64_t k = slot_key(&s->slots[i]);
        if (k == 0)
            return SIZE_MAX;
        if (k == ptr)
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
    unsigned w = __atomic_load_n(&s->wmask, __ATOMIC_RELAXED) & (WINDOW_SLOTS - 1);
    const slot_t *slots = __atomic_load_n(&s->slots, __ATOMIC_RELAXED);
    if (slots && cap)
        __builtin_prefetch(&slots[home_of(h, cap, w)], 1, 3);
}

void *lk_table_insert_hold(uintptr_t ptr, const lk_block_t *b, int *rc)
{
    /* 4-aligned, non-NULL and below 2^48: what a slot's key holds */
    if ((ptr & ~KEY_MASK) != 0 || ptr == 0) {
        *rc = -EINVAL;
        return NULL;
    }
    uint64_t h = ptr_hash(ptr);
    shard_t *s = shard_of(h);
    *rc = 0;
    spin_lock(&s->lock);
    if (s->count >= s->grow_at) {  /* (count + 1) / cap > LOAD_NUM / LOAD_DEN */
        if (shard_resize(s, next_cap(s->cap)) != 0 &&
            (s->count + 1) * HARD_LOAD_DEN > s->cap * HARD_LOAD_NUM) {
            *rc = -ENOMEM;
            return s;
        }
    }
    /* one probe: the pointer itself (a missed free) or the first hole */
    slot_t *slots = s->slots;
    size_t cap = s->cap, i = home_of(h, cap, s->wmask);
    for (;;) {
        uint64_t k = slot_key(&slots[i]);
        if (k == 0)
            break;
        if (k == ptr) {
            *rc = -EEXIST;
            return s;
        }
        i = (i + 1 == cap) ? 0 : i + 1;
    }
    uint32_t size = (uint32_t)b->size;
    if (lk_unlikely(b->size >= SIZE_SIDE)) {
        if (side_put(s, ptr, b->size) != 0) {
            *rc = -ENOMEM;
            return s;
        }
        size = SIZE_SIDE;
    }
    slot_set(&slots[i], (uint64_t)ptr | (uint64_t)(b->family & 3), b->site, size);
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
    unsigned w = s->wmask;
    size_t j = i;
    for (;;) {
        j = (j + 1 == cap) ? 0 : j + 1;
        uint64_t k = slot_key(&s->slots[j]);
        if (k == 0)
            break;
        size_t home = home_of(ptr_hash((uintptr_t)k), cap, w);
        /* Can the entry at j move to the hole at i?  Only if its home is not
         * cyclically inside (i, j]. */
        bool home_in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (home_in_range)
            continue;
        s->slots[i] = s->slots[j];
        i = j;
    }
    s->slots[i].lo = 0;
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
    size_t cap = s->cap;        /* 0 (reset for tests since the count was read): empty_slots */
    const slot_t *slots = s->slots;
    size_t i = home_of(h, cap, s->wmask);
    uint64_t k;
    /* the block's own key first: it is usually at its home */
    while ((k = slot_key(&slots[i])) != ptr) {
        if (k == 0)
            return s;
        i = (i + 1 == cap) ? 0 : i + 1;
    }
    unpack(s, &slots[i], out, true);
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
        unpack(s, &s->slots[i], out, false);
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
    size_t n = sizeof shards + (size_t)__atomic_load_n(&arena_nchunks, __ATOMIC_RELAXED) * ARENA_CHUNK;
    for (unsigned i = 0; i < NSHARDS; i++) {
        n += own_array_bytes(__atomic_load_n(&shards[i].cap, __ATOMIC_RELAXED));
        n += (size_t)__atomic_load_n(&shards[i].side_cap, __ATOMIC_RELAXED) * sizeof(side_t);
    }
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
        shard_t *s = &shards[i];
        uint32_t (*site_stack)(uint32_t) = lk_table_site_stack;
        for (size_t j = 0; j < s->cap; j++) {
            uint64_t k = slot_key(&s->slots[j]);
            if (k == 0)
                continue;
            lk_block_t b;
            unpack(s, &s->slots[j], &b, false);
            uint32_t stack = site_stack ? site_stack(b.site) : LK_STACK_NONE;
            cb((uintptr_t)k, (size_t)b.size, stack, b.family, arg);
        }
    }
}

static void add_range(uintptr_t (*ranges)[2], size_t max, size_t *n, const void *p, size_t bytes)
{
    if (*n < max) {
        ranges[*n][0] = (uintptr_t)p;
        ranges[*n][1] = (uintptr_t)p + bytes;
    }
    (*n)++;
}

size_t lk_table_memory_ranges(uintptr_t (*ranges)[2], size_t max)
{
    /* most pointers first: the scan keeps the first 64 */
    size_t n = 0;
    for (unsigned i = 0; i < NSHARDS; i++) {
        const shard_t *s = &shards[i];
        if (s->slots && own_array_bytes(s->cap))
            add_range(ranges, max, &n, s->slots, own_array_bytes(s->cap));
    }
    for (unsigned i = 0; i < arena_nchunks; i++)
        add_range(ranges, max, &n, arena_chunk[i], ARENA_CHUNK);
    for (unsigned i = 0; i < NSHARDS; i++) {
        const shard_t *s = &shards[i];
        if (s->side)
            add_range(ranges, max, &n, s->side, s->side_cap * sizeof(side_t));
    }
    /* The shard headers themselves hold no block pointers, but say so anyway. */
    add_range(ranges, max, &n, shards, sizeof shards);
    return n;
}

void lk_table_reset_after_fork(void)
{
    /* The atfork child handler runs with every shard lock held by this thread
     * (taken in prepare); release them.  The arena's lock is taken only under
     * a shard lock, so no other thread held it at the fork. */
    lk_table_unlock_all();
}

/* Unit tests only: drop every record and free the slot arrays and the arena. */
void lk_table_reset_for_tests(void)
{
    lk_table_init();
    for (unsigned i = 0; i < NSHARDS; i++) {
        shard_t *s = &shards[i];
        spin_lock(&s->lock);
        if (s->slots && own_array_bytes(s->cap))
            munmap(s->slots, own_array_bytes(s->cap));
        if (s->side)
            munmap(s->side, s->side_cap * sizeof(side_t));
        s->slots = empty_slots;
        s->cap = 0;
        s->wmask = 0;
        s->count = 0;
        s->grow_at = 0;
        s->side = NULL;
        s->side_cap = 0;
        s->side_count = 0;
        lk_table_occupied[i] = 0;
        spin_unlock(&s->lock);
    }
    spin_lock(&arena_lock);
    for (unsigned i = 0; i < arena_nchunks; i++)
        munmap(arena_chunk[i], ARENA_CHUNK);
    arena_nchunks = 0;
    arena_used = 0;
    memset(arena_free, 0, sizeof arena_free);
    spin_unlock(&arena_lock);
}
