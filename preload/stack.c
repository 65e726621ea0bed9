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
    f->site_memo = NULL;        /* frames changed: no memo applies */
    /* two independent multiply lanes (even and odd frames), one final mix:
     * the per-frame dependency chain is a single xor-multiply */
    uint64_t a = UINT64_C(0xcbf29ce484222325) ^ f->depth, b = (uint64_t)f->truncated + 1;
    uint32_t i = 0;
    for (; i + 1 < f->depth; i += 2) {
        a = (a ^ f->pc[i]) * UINT64_C(0x100000001b3);
        b = (b ^ f->pc[i + 1]) * UINT64_C(0x9E3779B97F4A7C15);
    }
    if (i < f->depth)
        a = (a ^ f->pc[i]) * UINT64_C(0x100000001b3);
    uint64_t h = a ^ (b + UINT64_C(0x632BE59BD9B4E019) + (a << 6) + (a >> 2));
    h ^= h >> 33;                /* fmix64 */
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    f->hash = h;
}

/* Seam-driven capture (unit tests with a fake unwinder, and the fallback when
 * the frame chain out of libleak is unusable): unwind everything, then drop
 * the unwinder's and libleak's innermost frames by address range. */
static void capture_by_range(lk_frames_t *f, int max)
{
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
}

/* ### the frame-size cache: walking known stacks without libunwind
 * For a frame executing at return address 'pc' with stack pointer 'sp', the
 * caller's frame starts at sp + delta(pc) and the return address into it sits
 * just below, at sp + delta - 8.  delta is a property of the instruction when
 * the function's CFA is a constant offset from its stack pointer, which is
 * the case for every frame that neither allocas nor realigns its stack.
 * Every full libunwind walk (DWARF CFI, so binaries without frame pointers are
 * covered) records delta for each return address it passes; a pc seen with two
 * different deltas, or in a signal frame, is marked VAR and never trusted; the
 * outermost frame's pc is marked END.  The fast walk follows recorded deltas
 * only, reads only inside this thread's stack, and gives up (full unwind) at
 * the first pc it does not know. */
#define PC_OK  1u               /* delta is known */
#define PC_VAR 2u               /* frame size varies here: never walk through */
#define PC_END 4u               /* libunwind found no caller: the stack ends here */
typedef struct pc_ent {
    uintptr_t pc;               /* 0 = empty; published last, with release */
    uint32_t delta;             /* bytes from this frame's sp to the caller's sp */
    uint32_t flags;             /* PC_*, atomic */
} pc_ent_t;
#define PC_TABLE_LOG2 16        /* 64 Ki pcs, 1 MiB of virtual memory */
#define PC_TABLE_SIZE (1u << PC_TABLE_LOG2)
#define PC_DELTA_MAX (1u << 20) /* a larger frame is not believed */
static pc_ent_t *pc_table;      /* mmap'd once; entries written under pc_lock */
static unsigned pc_used;        /* guarded by pc_lock */
static pthread_mutex_t pc_lock = PTHREAD_MUTEX_INITIALIZER;
static int pc_table_failed;
static unsigned pc_var_epoch;   /* bumped whenever a known pc turns PC_VAR */

/* This thread's stack bounds: reads of the fast walk stay inside them. */
static __thread uintptr_t tls_stack_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t tls_stack_hi __attribute__((tls_model("initial-exec")));
static __thread int tls_stack_state __attribute__((tls_model("initial-exec"))); /* 0 ?, 1 ok, 2 no */

static inline size_t pc_slot(uintptr_t pc)
{
    return (size_t)(((uint64_t)pc * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - PC_TABLE_LOG2));
}

static inline const pc_ent_t *pc_find(uintptr_t pc)
{
    if (!pc_table)
        return NULL;
    size_t i = pc_slot(pc);
    for (unsigned probes = 0; probes < 64; probes++) {
        uintptr_t k = __atomic_load_n(&pc_table[i].pc, __ATOMIC_ACQUIRE);
        if (k == pc)
            return &pc_table[i];
        if (k == 0)
            return NULL;
        i = (i + 1) & (PC_TABLE_SIZE - 1);
    }
    return NULL;
}

/* Record what a full unwind saw at 'pc'.  Takes pc_lock. */
static void pc_learn(uintptr_t pc, uint32_t delta, uint32_t flags)
{
    if (pc == 0)
        return;
    pthread_mutex_lock(&pc_lock);
    if (!pc_table && !pc_table_failed) {
        void *p = mmap(NULL, PC_TABLE_SIZE * sizeof(pc_ent_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            pc_table_failed = 1;
        else
            __atomic_store_n(&pc_table, (pc_ent_t *)p, __ATOMIC_RELEASE);
    }
    if (!pc_table)
        goto out_unlock;
    size_t i = pc_slot(pc);
    for (unsigned probes = 0; probes < 64; probes++) {
        pc_ent_t *e = &pc_table[i];
        if (e->pc == pc) {
            uint32_t old = __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
            uint32_t nf = old | (flags & (PC_VAR | PC_END));
            if ((flags & PC_OK) && (old & PC_OK) && e->delta != delta)
                nf |= PC_VAR;
            if ((nf & PC_VAR) && !(old & PC_VAR))
                __atomic_fetch_add(&pc_var_epoch, 1, __ATOMIC_RELEASE);
            if ((flags & PC_OK) && !(old & PC_OK)) {
                e->delta = delta;
                nf |= PC_OK;
            }
            __atomic_store_n(&e->flags, nf, __ATOMIC_RELEASE);
            goto out_unlock;
        }
        if (e->pc == 0) {
            if (pc_used >= PC_TABLE_SIZE / 4 * 3)
                goto out_unlock;            /* full enough: stop learning */
            e->delta = delta;
            e->flags = flags;
            __atomic_store_n(&e->pc, pc, __ATOMIC_RELEASE);
            pc_used++;
            goto out_unlock;
        }
        i = (i + 1) & (PC_TABLE_SIZE - 1);
    }
out_unlock:
    pthread_mutex_unlock(&pc_lock);
}

/* Learn this thread's stack bounds once (may allocate: guard held). */
static bool stack_bounds(void)
{
    if (lk_likely(tls_stack_state == 1))
        return true;
    if (tls_stack_state == 2)
        return false;
    pthread_attr_t attr;
    void *addr;
    size_t size;
    tls_stack_state = 2;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return false;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0 && size > 0) {
        tls_stack_lo = (uintptr_t)addr;
        tls_stack_hi = (uintptr_t)addr + size;
        tls_stack_state = 1;
    }
    pthread_attr_destroy(&attr);
    return tls_stack_state == 1;
}

/* The first frame outside libleak: follow our own frame pointers (all of
 * libleak is built with them) from 'fp' while the return address is ours.
 * Sets the return address into the program and its stack pointer. */
static inline bool user_start(uintptr_t *fp, uintptr_t *pc0, uintptr_t *sp0)
{
    for (int i = 0; i < 16; i++) {
        uintptr_t ra = fp[1];
        if (ra < self_lo || ra >= self_hi) {
            *pc0 = ra;
            *sp0 = (uintptr_t)(fp + 2);
            return true;
        }
        uintptr_t *next = (uintptr_t *)fp[0];
        if (next <= fp || ((uintptr_t)next & 7) != 0)
            return false;
        fp = next;
    }
    return false;
}

/* Walk from (pc, sp) with learned deltas only.  Returns WALK_UNKNOWN at the
 * first pc never seen (a learning unwind will fix that), WALK_UNTRUSTED at a
 * pc whose frame size varies or a read outside this thread's stack. */
enum { WALK_OK, WALK_UNKNOWN, WALK_UNTRUSTED };

static int fast_walk(lk_frames_t *f, int max, uintptr_t pc, uintptr_t sp, uint32_t *off)
{
    uintptr_t hi = tls_stack_hi, sp0 = sp;
    if (sp < tls_stack_lo || sp >= hi)
        return WALK_UNTRUSTED;
    int n = 0;
    for (;;) {
        f->pc[n++] = pc;
        if (n > max)
            break;                          /* one more than kept: truncated */
        const pc_ent_t *e = pc_find(pc);
        if (!e)
            return WALK_UNKNOWN;
        uint32_t fl = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
        if (fl & PC_END)
            break;
        if ((fl & (PC_OK | PC_VAR)) != PC_OK)
            return WALK_UNTRUSTED;
        uintptr_t nsp = sp + e->delta;
        if (e->delta < 8 || nsp > hi || nsp - sp0 > UINT32_MAX)
            return WALK_UNTRUSTED;
        off[n] = (uint32_t)(nsp - 8 - sp0);  /* where frame n's pc was read */
        pc = *(const uintptr_t *)(nsp - 8);
        sp = nsp;
    }
    f->truncated = n > max;
    f->depth = (uint32_t)(n > max ? max : n);
    return WALK_OK;
}

/* ### per-thread memo of whole walks
 * The fast walk is a chain of dependent loads (pc -> delta -> next pc).  A
 * walk that succeeded is remembered as the list of stack offsets (from the
 * program's first frame) where each return address was read.  If the same
 * return addresses sit at the same offsets again, the walk would follow the
 * very same deltas, so the stack is the same: the check is independent loads.
 * Entries are keyed by the first return address and stack position, and die
 * when any pc turns PC_VAR (epoch). */
#define MEMO_ENTRIES 512        /* per thread: 128 sets of 4 ways; keep a power of 2 */
#define MEMO_WAYS 4
#define MEMO_SET_LOG2 7
typedef struct memo {
    uintptr_t pc0;              /* 0 = empty */
    uintptr_t sp0;
    uint64_t hash;
    uint32_t n;                 /* frames walked (depth, +1 when truncated) */
    uint32_t epoch;
    uint32_t depth;
    uint32_t truncated;
    uint32_t max_off;           /* highest offset read, for the bounds check */
    uint32_t site1[3];          /* site index + 1 per family, filled by tracker.c */
    uint32_t max;               /* max_depth the walk was made with */
    /* then n offsets (uint32_t) and n pcs (uintptr_t), see memo_off/memo_pc */
} memo_t;

static __thread char *tls_memo __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_memo_stride __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_memo_cap __attribute__((tls_model("initial-exec")));   /* frames per entry */
static __thread int tls_memo_failed __attribute__((tls_model("initial-exec")));
static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static inline uint32_t *memo_off(memo_t *m)
{
    return (uint32_t *)(m + 1);
}

static inline uintptr_t *memo_pc(memo_t *m, uint32_t cap)
{
    return (uintptr_t *)((char *)(m + 1) + ((cap * sizeof(uint32_t) + 7) & ~(size_t)7));
}

static void memo_free(void *p)
{
    if (p)
        munmap(p, (size_t)MEMO_ENTRIES * tls_memo_stride);
    tls_memo = NULL;
}

static void memo_key_init(void)
{
    if (pthread_key_create(&memo_key, memo_free) != 0)
        memo_key = (pthread_key_t)-1;
}

/* This thread's memo table (mmap'd on first use; unmapped at thread exit). */
static char *memo_table(int max)
{
    if (lk_likely(tls_memo != NULL))
        return tls_memo;
    if (tls_memo_failed)
        return NULL;
    tls_memo_failed = 1;
    pthread_once(&memo_once, memo_key_init);
    if (memo_key == (pthread_key_t)-1)
        return NULL;
    uint32_t cap = LK_MAX_DEPTH + 1 < (uint32_t)max + 1 ? LK_MAX_DEPTH + 1 : (uint32_t)max + 1;
    size_t stride = sizeof(memo_t) + ((cap * sizeof(uint32_t) + 7) & ~(size_t)7) +
                    cap * sizeof(uintptr_t);
    void *p = mmap(NULL, MEMO_ENTRIES * stride, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    tls_memo_stride = (uint32_t)stride;
    tls_memo_cap = cap;
    tls_memo = p;
    pthread_setspecific(memo_key, p);
    tls_memo_failed = 0;
    return tls_memo;
}

static __thread unsigned tls_memo_rr __attribute__((tls_model("initial-exec")));

/* The return address of the program's second frame, when its first frame's
 * size is known (else 0): with pc0 and sp0 it picks the memo set, so that one
 * allocation wrapper reached from many callers does not crowd one set. */
static inline uintptr_t second_ra(uintptr_t pc0, uintptr_t sp0)
{
    const pc_ent_t *e = pc_find(pc0);
    if (!e)
        return 0;
    uint32_t fl = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    if ((fl & (PC_OK | PC_VAR | PC_END)) != PC_OK || e->delta < 8 ||
        sp0 + e->delta > tls_stack_hi)
        return 0;
    return *(const uintptr_t *)(sp0 + e->delta - 8);
}

/* Way 'w' of the memo set for (pc0, sp0, ra1). */
static inline memo_t *memo_way(char *t, uintptr_t pc0, uintptr_t sp0, uintptr_t ra1, unsigned w)
{
    uint64_t h = ((uint64_t)pc0 ^ ((uint64_t)sp0 << 12) ^ ((uint64_t)ra1 * 31)) *
                 UINT64_C(0x9E3779B97F4A7C15);
    size_t set = (size_t)(h >> (64 - MEMO_SET_LOG2));
    return (memo_t *)(t + (set * MEMO_WAYS + w) * tls_memo_stride);
}

/* The stack at (pc0, sp0) if it is the remembered one. */
static inline bool memo_lookup(memo_t *m, lk_frames_t *f, int max, uintptr_t pc0, uintptr_t sp0)
{
    if (m->pc0 != pc0 || m->sp0 != sp0 ||
        m->epoch != __atomic_load_n(&pc_var_epoch, __ATOMIC_ACQUIRE) ||
        m->max != (uint32_t)max || sp0 + m->max_off + 8 > tls_stack_hi)
        return false;
    const uint32_t *off = memo_off(m);
    const uintptr_t *pc = memo_pc(m, tls_memo_cap);
    /* independent loads, checked every 4 so that another way of the same
     * set (same first frame, different callers) is rejected early */
    uint32_t i = 1, n = m->n;
    for (; i + 4 <= n; i += 4) {
        uintptr_t diff = (*(const uintptr_t *)(sp0 + off[i]) ^ pc[i]) |
                         (*(const uintptr_t *)(sp0 + off[i + 1]) ^ pc[i + 1]) |
                         (*(const uintptr_t *)(sp0 + off[i + 2]) ^ pc[i + 2]) |
                         (*(const uintptr_t *)(sp0 + off[i + 3]) ^ pc[i + 3]);
        if (diff != 0)
            return false;
    }
    for (; i < n; i++)
        if (*(const uintptr_t *)(sp0 + off[i]) != pc[i])
            return false;
    memcpy(f->pc, pc, m->depth * sizeof(uintptr_t));
    f->depth = m->depth;
    f->truncated = m->truncated;
    f->hash = m->hash;
    f->site_memo = m->site1;
    return true;
}

static void memo_store(memo_t *m, const lk_frames_t *f, int max, uintptr_t sp0,
                       const uint32_t *off, uint32_t epoch)
{
    uint32_t n = f->depth + (f->truncated ? 1 : 0);
    m->pc0 = 0;
    if (n > tls_memo_cap || n == 0)
        return;                 /* made with a smaller max_depth: no room */
    uint32_t *mo = memo_off(m);
    uintptr_t *mp = memo_pc(m, tls_memo_cap);
    uint32_t max_off = 0;
    for (uint32_t i = 0; i < n; i++) {
        mo[i] = off[i];
        mp[i] = f->pc[i];
        if (i > 0 && off[i] > max_off)
            max_off = off[i];
    }
    m->sp0 = sp0;
    m->hash = f->hash;
    m->n = n;
    m->epoch = epoch;
    m->depth = f->depth;
    m->truncated = f->truncated;
    m->max_off = max_off;
    m->max = (uint32_t)max;
    memset(m->site1, 0, sizeof m->site1);
    m->pc0 = f->pc[0];
}

/* Full unwind with libunwind, from the frame whose stack pointer is 'sp0', and
 * record every frame's size for later fast walks. */
static bool slow_walk(lk_frames_t *f, int max, uintptr_t pc0, uintptr_t sp0)
{
    unw_context_t uc;
    unw_cursor_t c;
    unw_word_t ip, sp;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
        return false;
    /* skip libunwind's and libleak's frames: up to the program's first frame */
    for (int i = 0;; i++) {
        if (i > LK_SKIP_MAX || unw_get_reg(&c, UNW_REG_SP, &sp) != 0)
            return false;
        if (sp == sp0)
            break;
        if (sp > sp0 || unw_step(&c) <= 0)
            return false;
    }
    if (unw_get_reg(&c, UNW_REG_IP, &ip) != 0 || ip != pc0)
        return false;
    int n = 0;
    for (;;) {
        bool sig = unw_is_signal_frame(&c) > 0;
        f->pc[n++] = ip;
        if (n > max)
            break;
        int r = unw_step(&c);
        if (r <= 0) {
            pc_learn(ip, 0, r == 0 ? PC_END : PC_VAR);
            break;
        }
        unw_word_t nip, nsp;
        if (unw_get_reg(&c, UNW_REG_IP, &nip) != 0 || unw_get_reg(&c, UNW_REG_SP, &nsp) != 0)
            break;
        if (sig || nsp <= sp || nsp - sp > PC_DELTA_MAX)
            pc_learn(ip, 0, PC_VAR);
        else
            pc_learn(ip, (uint32_t)(nsp - sp), PC_OK);
        ip = nip;
        sp = nsp;
        if (ip == 0)
            break;
    }
    f->truncated = n > max;
    f->depth = (uint32_t)(n > max ? max : n);
    return true;
}

/* Fast path on/off (LIBLEAK_FAST_UNWIND); tests flip it. */
bool lk_stack_fast_enabled = true;
/* How this thread's captures went (tests assert the fast path is taken). */
static __thread uint64_t tls_fast_walks __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_slow_walks __attribute__((tls_model("initial-exec")));

void lk_stack_walk_stats(uint64_t *fast, uint64_t *slow)
{
    *fast = tls_fast_walks;
    *slow = tls_slow_walks;
}

__attribute__((noinline)) void lk_stack_capture(lk_frames_t *f)
{
    int max = (int)lk_config.max_depth;
    if (max < 1 || max > LK_MAX_DEPTH)
        max = LK_MAX_DEPTH;
    uintptr_t pc0, sp0;
    f->site_memo = NULL;
    if (lk_stack_backtrace != backtrace_default ||
        !user_start((uintptr_t *)__builtin_frame_address(0), &pc0, &sp0)) {
        capture_by_range(f, max);
        lk_frames_hash(f);
        return;
    }
    int walk = WALK_UNTRUSTED;
    if (lk_stack_fast_enabled && lk_config.fast_unwind && stack_bounds()) {
        char *t = memo_table(max);
        memo_t *m = NULL;
        if (t) {
            uintptr_t ra1 = second_ra(pc0, sp0);
            for (unsigned w = 0; w < MEMO_WAYS; w++) {
                memo_t *c = memo_way(t, pc0, sp0, ra1, w);
                if (memo_lookup(c, f, max, pc0, sp0)) {
                    tls_fast_walks++;
                    return;
                }
                if (!m && c->pc0 == 0)
                    m = c;                  /* an empty way to fill */
            }
            if (!m)
                m = memo_way(t, pc0, sp0, ra1, tls_memo_rr++ % MEMO_WAYS);
        }
        uint32_t off[LK_MAX_DEPTH + 2];
        uint32_t epoch = __atomic_load_n(&pc_var_epoch, __ATOMIC_ACQUIRE);
        walk = fast_walk(f, max, pc0, sp0, off);
        if (walk == WALK_OK) {
            tls_fast_walks++;
            lk_frames_hash(f);
            if (m) {
                memo_store(m, f, max, sp0, off, epoch);
                if (m->pc0 != 0)
                    f->site_memo = m->site1;
            }
            return;
        }
    }
    tls_slow_walks++;
    /* A pc never seen: the learning unwind (slow: a DWARF lookup per frame)
     * teaches its frame size.  Anything else (fast path off, a pc whose frame
     * varies, a full pc table) takes libunwind's own cached unw_backtrace. */
    if (walk != WALK_UNKNOWN || pc_used >= PC_TABLE_SIZE / 4 * 3 ||
        !slow_walk(f, max, pc0, sp0))
        capture_by_range(f, max);
    lk_frames_hash(f);
}

/* The full unwind alone, for tests that check the fast walk against it. */
__attribute__((noinline)) void lk_stack_capture_full(lk_frames_t *f)
{
    int max = (int)lk_config.max_depth;
    if (max < 1 || max > LK_MAX_DEPTH)
        max = LK_MAX_DEPTH;
    uintptr_t pc0, sp0;
    f->site_memo = NULL;
    if (!user_start((uintptr_t *)__builtin_frame_address(0), &pc0, &sp0) ||
        !slow_walk(f, max, pc0, sp0))
        capture_by_range(f, max);
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
    unsigned hv = (unsigned)(f->hash ^ (f->hash >> 32));  /* no second hash of the frames */
    HASH_FIND_BYHASHVALUE(hh, stack_hash, key, keylen, hv, e);
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
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, stack_hash, e->key, keylen, hv, e);
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
