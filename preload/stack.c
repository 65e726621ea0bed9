/* stack.c - capture call stacks with libunwind and intern them to stable ids.
 * Capture takes no lock (it runs in the hooks, with the guard held, because
 * libunwind may allocate).  Interning takes the stack lock; interned stacks are
 * append-only and immutable, so ids never change and readers need no lock. */
#include <dlfcn.h>
#include <emmintrin.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "cfi.h"
#include "internal.h"
#include "unwinder.h"

/* uthash: our memory, and no exit() on out-of-memory (STYLE 2.4.7). */
static bool stack_oom;
#define uthash_malloc(sz) lk_real_malloc(sz)
#define uthash_free(ptr, sz) lk_real_free(ptr)
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (stack_oom = true)
#include <uthash.h>

typedef struct stack_entry {
    lk_stack_rec_t pub;
    uintptr_t *key;             /* pc[0..depth) then the flags: truncated | jit_cut << 1 */
    UT_hash_handle hh;          /* guarded by stack_lock */
} stack_entry_t;

/* Entries live in chunks that never move: id -> chunks[id >> 12][id & 4095]. */
#define CHUNK_LOG2 10
#define CHUNK_SIZE (1u << CHUNK_LOG2)
#define MAX_CHUNKS 16384u       /* 16M stacks */

static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static stack_entry_t *stack_chunks[MAX_CHUNKS];   /* written under lock, read lock-free */
static size_t stack_ready;                         /* bytes of the last chunk populated; stack_lock */
static uint32_t stack_n;                          /* published with release */
static stack_entry_t *stack_hash;                 /* guarded by stack_lock */
static size_t stack_bytes;                        /* guarded by stack_lock */
static uintptr_t self_lo, self_hi;

/* Held shared by every thread inside libunwind, and exclusively by fork's
 * prepare handler (lk_stack_lock): libunwind has locks of its own (its
 * caches), and a child forked while another thread held one inherited it
 * held and hung in its first unwind.  Writers first, so that a fork is not
 * starved by threads that keep unwinding; never taken in a nested hook (the
 * guard makes those untracked), so a read lock is never taken twice. */
static pthread_rwlock_t unwind_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

/* ### libunwind's signal masking, once an unwind instead of once a step
 * Debian 12's libunwind takes its global cache lock with every signal
 * blocked: sigprocmask before, sigprocmask after, two system calls for each
 * step even of a cached frame, and more around each FDE search (about 27 a
 * learning unwind; `bash -c true` made 4,685 of them).  So libleak's own
 * unwinds block every signal once, and while one runs, this thread's
 * sigprocmask calls act on a virtual mask instead of the kernel's (libleak.so
 * exports sigprocmask, hooks.c; libunwind is its only caller on this thread
 * then, since the guard is held and no handler can run).  What libunwind
 * blocks is already blocked, and what it restores is the virtual mask it
 * read, so the kernel's mask is unchanged from the block to the restore.  A
 * signal that arrives meanwhile is delivered at the restore: up to the
 * length of one learning unwind late (tens of microseconds), as it was for
 * the length of each step's lock before.  glibc keeps its own cancellation
 * and setxid signals deliverable through any mask. */
static __thread int tls_unwind_masked __attribute__((tls_model("initial-exec")));
static __thread sigset_t tls_unwind_mask __attribute__((tls_model("initial-exec")));

int lk_stack_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    if (lk_likely(!tls_unwind_masked))
        return 1;
    if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK)
        return -1;
    sigset_t cur = tls_unwind_mask;
    if (set) {
        if (how == SIG_BLOCK) {
            sigorset(&tls_unwind_mask, &tls_unwind_mask, set);
        } else if (how == SIG_SETMASK) {
            tls_unwind_mask = *set;
        } else {
            /* glibc's sigismember says EINVAL for its own signals (32, 33):
             * this call succeeds, so errno must not change */
            int e = errno;
            for (int sig = 1; sig < NSIG; sig++)
                if (sigismember(set, sig) == 1)
                    sigdelset(&tls_unwind_mask, sig);
            errno = e;
        }
    }
    if (old)
        *old = cur;
    return 0;
}

/* Enter libunwind: every signal blocked once (not when a caller already did),
 * then the shared unwind lock.  The virtual mask starts as the thread's own,
 * and is what unwind_leave installs: libunwind restores what it saw, and a
 * change anything else made meanwhile is kept.  (A thread cancelled
 * asynchronously inside, which glibc's cancellation signal still allows, runs
 * its cleanup handlers with every signal blocked: undefined in malloc anyway.)
 * Returns whether it blocked them: unwind_leave's argument. */
static bool unwind_enter(void)
{
    bool masked = false;
    if (!tls_unwind_masked) {
        sigset_t all;
        sigfillset(&all);
        if (pthread_sigmask(SIG_SETMASK, &all, &tls_unwind_mask) == 0) {
            tls_unwind_masked = 1;
            masked = true;
        }
    }
    pthread_rwlock_rdlock(&unwind_lock);
    return masked;
}

static void unwind_leave(bool masked)
{
    pthread_rwlock_unlock(&unwind_lock);
    if (masked) {
        tls_unwind_masked = 0;
        pthread_sigmask(SIG_SETMASK, &tls_unwind_mask, NULL);
    }
}

/* Until libunwind is loaded (unwinder.c), libgcc's unwinder stands in. */
static int backtrace_default(void **buf, int size)
{
    const lk_unw_t *u = lk_unw_or_ask();
    return u ? u->backtrace(buf, size) : lk_unwind_gcc_backtrace(buf, size);
}
int (*LK_SEAM lk_stack_backtrace)(void **buf, int size) = backtrace_default;

bool lk_stack_is_self(uintptr_t pc)
{
    return pc >= self_lo && pc < self_hi;
}

void lk_stack_set_self_range(uintptr_t lo, uintptr_t hi)
{
    self_lo = lo;
    self_hi = hi;
}

void lk_frames_hash(lk_frames_t *f)
{
    f->site_memo = NULL;        /* frames changed: no memo applies */
    f->lazy = NULL;
    /* two independent multiply lanes (even and odd frames), one final mix:
     * the per-frame dependency chain is a single xor-multiply */
    uint64_t a = UINT64_C(0xcbf29ce484222325) ^ f->depth,
             b = (uint64_t)f->truncated + 1 + ((uint64_t)f->jit_cut << 1);
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
    /* no unwind_enter: unw_backtrace's own trace cache takes no lock on a
     * hit, so blocking signals here would add two system calls, not save
     * them (LIBLEAK_FAST_UNWIND=0 on cc1: 0.28 -> 0.42 s) */
    pthread_rwlock_rdlock(&unwind_lock);
    int n = lk_stack_backtrace((void **)f->pc, max + LK_SKIP_MAX + 1);
    pthread_rwlock_unlock(&unwind_lock);
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
    f->jit_cut = false;
    f->depth = (uint32_t)(avail > max ? max : avail);
    if (skip > 0)
        memmove(f->pc, f->pc + skip, f->depth * sizeof(uintptr_t));
}

/* ### the frame-rule cache: walking known stacks without libunwind
 * For a frame executing at return address 'pc', the DWARF CFI fixes how to
 * find its caller, and for the frames a C compiler emits that is one of two
 * rules, a property of the instruction:
 *   SP rule: CFA = sp + delta(pc)     (constant frame size, any -O level)
 *   BP rule: CFA = rbp + 16           (frame pointer; also alloca, VLA and
 *                                      realigned frames, whose size varies)
 * The return address is at CFA - 8 and the caller's sp is the CFA.  The
 * caller's rbp is either saved by this frame at CFA - k, or this frame leaves
 * rbp alone.  A new pc's rule is read from its module's .eh_frame (cfi.c, so
 * binaries without frame pointers are covered); only what cfi.c declines is
 * learned from a full libunwind walk.  A pc seen with two different rules, or
 * in a signal frame, is marked VAR and never walked through; the outermost pc
 * is marked END.  The fast walk follows recorded rules only, reads only inside
 * this thread's stack, and gives up at a pc neither source can teach
 * (learning unwind) or at one it does not trust (unw_backtrace). */
#define PC_OK       1u          /* a rule is known */
#define PC_VAR      2u          /* rules disagree here: never walk through */
#define PC_END      4u          /* libunwind found no caller: the stack ends here */
#define PC_BP       8u          /* BP rule (else SP rule with 'delta') */
#define PC_RBP_SAVE 16u         /* the caller's rbp is at CFA - (flags >> 16) */
#define PC_RBP_SAME 32u         /* the caller's rbp is this frame's rbp */
#define PC_JIT      64u         /* no FDE covers it: the stack is cut here */
#define PC_RULE_MASK (PC_BP | PC_RBP_SAVE | PC_RBP_SAME | 0xffff0000u)
typedef struct pc_ent {
    uintptr_t pc;               /* 0 = empty; published last, with release */
    uint32_t delta;             /* SP rule: bytes from this frame's sp to its CFA */
    uint32_t flags;             /* PC_*, and the rbp save offset in the top 16 bits; atomic */
} pc_ent_t;
#define PC_TABLE_LOG2 16        /* 64 Ki pcs, 1 MiB of virtual memory */
#define PC_TABLE_SIZE (1u << PC_TABLE_LOG2)
#define PC_DELTA_MAX (1u << 20) /* a larger frame is not believed */
static pc_ent_t *pc_table;      /* mmap'd once, after pc_dir; entries written under pc_lock */
static unsigned pc_used;        /* guarded by pc_lock */
static pthread_mutex_t pc_lock = PTHREAD_MUTEX_INITIALIZER;
static int pc_table_failed;
static uint64_t jit_ranges;     /* generated-code pages and PC_JIT pcs remembered; atomic */
static unsigned pc_var_epoch;   /* bumped whenever a known pc turns PC_VAR, and by
                                 * lk_stack_forget_memos: memo entries of an older
                                 * epoch never match */

/* This thread's stack bounds: reads of the fast walk stay inside them. */
static __thread uintptr_t tls_stack_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t tls_stack_hi __attribute__((tls_model("initial-exec")));
static __thread int tls_stack_state __attribute__((tls_model("initial-exec"))); /* 0 ?, 1 ok, 2 no */
static __thread int tls_stack_source __attribute__((tls_model("initial-exec"))); /* lk_stack_bounds_source */

/* The table is handed out in blocks of 32 entries (512 bytes), in order: the
 * pcs of one 4 KiB page of code go to its block (more blocks, chained, for a
 * page with many), so a small program's few hundred pcs fill a few pages of
 * the table, not one page each (bash: 58 table pages faulted in when a code
 * page hashed to a 4 KiB window of its own).  A block's entry 0 holds its key,
 * (code page, chain link) + 1; the directory finds a block by that key.  A
 * block takes 23 pcs at most, so every probe in it ends at an empty entry. */
#define PC_BLOCK_LOG2 5
#define PC_BLOCK (1u << PC_BLOCK_LOG2)
#define PC_BLOCKS (PC_TABLE_SIZE >> PC_BLOCK_LOG2)
#define PC_BLOCK_FILL 23u               /* of the 31 entries after the key */
#define PC_CHAIN_MAX 16                 /* blocks a code page may use: 368 pcs */
#define PC_DIR_LOG2 12                  /* 4096 block numbers + 1, 8 KiB: load <= 1/2 */
#define PC_DIR_SIZE (1u << PC_DIR_LOG2)
static uint16_t *pc_dir;                /* published before pc_table; written under pc_lock */
static unsigned pc_nblocks;             /* guarded by pc_lock */
static size_t pc_ready;                 /* bytes of blocks populated; guarded by pc_lock */
static uint8_t pc_fill[PC_BLOCKS];      /* pcs in each block; guarded by pc_lock */

/* The quick index: a pc hashes to one slot holding the table index of the
 * last pc learned there (0: none).  A lookup that finds its pc there reads
 * two words instead of walking the directory and the block (three dependent
 * loads and two hashes, most of a fast walk's step); any other pc takes the
 * full lookup.  The slot only points: the entry's pc, compared, decides. */
#define PC_QUICK_LOG2 12                /* 4096 slots, 8 KiB, after the directory */
#define PC_QUICK_SIZE (1u << PC_QUICK_LOG2)
static uint16_t *pc_quick;              /* published before pc_table; written under pc_lock */
_Static_assert(PC_TABLE_SIZE <= 65536, "a quick slot holds a table index");

static inline size_t pc_quick_slot(uintptr_t pc)
{
    return (size_t)(((uint64_t)pc * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - PC_QUICK_LOG2));
}

static inline uintptr_t pc_block_key(uintptr_t pc, unsigned link)
{
    return ((pc >> 12) << 4 | link) + 1;
}

static inline size_t pc_dir_slot(uintptr_t key)
{
    return (size_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - PC_DIR_LOG2));
}

/* The first entry of 'pc' in a block: 1..31 (0 holds the key). */
static inline size_t pc_in_block(uintptr_t pc)
{
    uint64_t h = ((uint64_t)pc * UINT64_C(0xC2B2AE3D27D4EB4F)) >> 32;
    return 1 + (size_t)((h * (PC_BLOCK - 1)) >> 32);
}

/* The block of 'key' in table 't', or NULL; '*free_slot' (if not NULL) gets
 * the directory slot where it would go, or PC_DIR_SIZE when the probes ran out. */
static inline pc_ent_t *pc_block_find(pc_ent_t *t, uintptr_t key, size_t *free_slot)
{
    size_t i = pc_dir_slot(key);
    for (unsigned probes = 0; probes < 64; probes++) {
        unsigned b = __atomic_load_n(&pc_dir[i], __ATOMIC_ACQUIRE);
        if (b == 0) {
            if (free_slot)
                *free_slot = i;
            return NULL;
        }
        pc_ent_t *blk = t + ((size_t)(b - 1) << PC_BLOCK_LOG2);
        if (__atomic_load_n(&blk[0].pc, __ATOMIC_RELAXED) == key)
            return blk;
        i = (i + 1) & (PC_DIR_SIZE - 1);
    }
    if (free_slot)
        *free_slot = PC_DIR_SIZE;
    return NULL;
}

static const pc_ent_t *pc_find_slow(pc_ent_t *t, uintptr_t pc)
{
    size_t first = pc_in_block(pc);
    for (unsigned link = 0; link < PC_CHAIN_MAX; link++) {
        pc_ent_t *blk = pc_block_find(t, pc_block_key(pc, link), NULL);
        if (!blk)
            return NULL;
        size_t i = first;
        for (;;) {
            uintptr_t k = __atomic_load_n(&blk[i].pc, __ATOMIC_ACQUIRE);
            if (k == pc)
                return &blk[i];
            if (k == 0)
                break;          /* not in this block: a full one chains to the next */
            i = i == PC_BLOCK - 1 ? 1 : i + 1;
        }
    }
    return NULL;
}

static inline const pc_ent_t *pc_find(uintptr_t pc)
{
    pc_ent_t *t = __atomic_load_n(&pc_table, __ATOMIC_ACQUIRE);
    if (!t)
        return NULL;
    unsigned q = __atomic_load_n(&pc_quick[pc_quick_slot(pc)], __ATOMIC_RELAXED);
    if (q != 0 && __atomic_load_n(&t[q].pc, __ATOMIC_ACQUIRE) == pc)
        return &t[q];
    return pc_find_slow(t, pc);
}

/* Map the table: the directory and the quick index, populated (they are
 * read at random: a fault a page otherwise), then the blocks, populated
 * ahead as they are handed out (in order: one system call for 32 blocks
 * rather than a fault for each 8).  pc_lock held. */
#define PC_HEAD_BYTES ((PC_DIR_SIZE + PC_QUICK_SIZE) * sizeof(uint16_t))
static void pc_table_map(void)
{
    void *p = mmap(NULL, PC_HEAD_BYTES + PC_TABLE_SIZE * sizeof(pc_ent_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        pc_table_failed = 1;
        return;
    }
    lk_populate(p, PC_HEAD_BYTES);
    pc_dir = p;
    pc_quick = pc_dir + PC_DIR_SIZE;
    pc_ready = 0;
    __atomic_store_n(&pc_table, (pc_ent_t *)((char *)p + PC_HEAD_BYTES), __ATOMIC_RELEASE);
}

/* Merge what a full unwind saw into the known entry 'e'.  pc_lock held. */
static void pc_update(pc_ent_t *e, uint32_t delta, uint32_t flags)
{
    uint32_t old = __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
    uint32_t nf = old | (flags & (PC_VAR | PC_END | PC_JIT));
    if ((flags & PC_JIT) && !(old & PC_JIT))
        __atomic_fetch_add(&jit_ranges, 1, __ATOMIC_RELAXED);
    if ((flags & PC_OK) && (old & PC_OK) &&
        ((flags & PC_RULE_MASK) != (old & PC_RULE_MASK) || e->delta != delta))
        nf |= PC_VAR;
    if ((flags & PC_OK) && !(old & (PC_OK | PC_VAR))) {
        e->delta = delta;
        nf = (nf & ~PC_RULE_MASK) | flags;
    }
    if ((nf & PC_VAR) && !(old & PC_VAR))
        __atomic_fetch_add(&pc_var_epoch, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&e->flags, nf, __ATOMIC_RELEASE);
}

/* Record what a full unwind saw at 'pc' (flags: PC_OK plus its rule, or
 * PC_VAR, or PC_END).  Takes pc_lock. */
static void pc_learn(uintptr_t pc, uint32_t delta, uint32_t flags)
{
    if (pc == 0)
        return;
    if (flags & PC_BP)
        delta = 0;              /* the BP rule does not use it */
    pthread_mutex_lock(&pc_lock);
    if (!pc_table && !pc_table_failed)
        pc_table_map();
    if (!pc_table || pc_used >= PC_TABLE_SIZE / 4 * 3)
        goto out_unlock;        /* full enough: stop learning */
    size_t first = pc_in_block(pc);
    for (unsigned link = 0; link < PC_CHAIN_MAX; link++) {
        uintptr_t key = pc_block_key(pc, link);
        size_t slot = PC_DIR_SIZE;
        pc_ent_t *blk = pc_block_find(pc_table, key, &slot);
        if (!blk) {
            if (slot == PC_DIR_SIZE || pc_nblocks == PC_BLOCKS) {
                pc_used = PC_TABLE_SIZE / 4 * 3;        /* no room: stop learning */
                goto out_unlock;
            }
            blk = pc_table + ((size_t)pc_nblocks << PC_BLOCK_LOG2);
            lk_populate_ahead(pc_table, PC_TABLE_SIZE * sizeof(pc_ent_t),
                              ((size_t)pc_nblocks + 1) * PC_BLOCK * sizeof(pc_ent_t), &pc_ready);
            blk[0].pc = key;
            pc_nblocks++;
            __atomic_store_n(&pc_dir[slot], (uint16_t)pc_nblocks, __ATOMIC_RELEASE);
        }
        size_t b = (size_t)(blk - pc_table) >> PC_BLOCK_LOG2, i = first;
        for (;;) {
            pc_ent_t *e = &blk[i];
            if (e->pc == pc) {
                pc_update(e, delta, flags);
                goto out_unlock;
            }
            if (e->pc == 0)
                break;
            i = i == PC_BLOCK - 1 ? 1 : i + 1;
        }
        if (pc_fill[b] >= PC_BLOCK_FILL)
            continue;           /* closed: the pc goes to the next block of its page */
        pc_ent_t *e = &blk[i];
        e->delta = delta;
        e->flags = flags;
        __atomic_store_n(&e->pc, pc, __ATOMIC_RELEASE);
        __atomic_store_n(&pc_quick[pc_quick_slot(pc)], (uint16_t)(e - pc_table), __ATOMIC_RELAXED);
        pc_fill[b]++;
        pc_used++;
        if (flags & PC_JIT)
            __atomic_fetch_add(&jit_ranges, 1, __ATOMIC_RELAXED);
        goto out_unlock;
    }
out_unlock:
    pthread_mutex_unlock(&pc_lock);
}

void lk_stack_pc_teach(uintptr_t pc, uint32_t delta)
{
    pc_learn(pc, delta, PC_OK);
}

bool lk_stack_pc_quick(uintptr_t pc)
{
    pc_ent_t *t = __atomic_load_n(&pc_table, __ATOMIC_ACQUIRE);
    unsigned q = t ? __atomic_load_n(&pc_quick[pc_quick_slot(pc)], __ATOMIC_RELAXED) : 0;
    return q != 0 && __atomic_load_n(&t[q].pc, __ATOMIC_ACQUIRE) == pc;
}

bool lk_stack_pc_known(uintptr_t pc, uint32_t *delta)
{
    const pc_ent_t *e = pc_find(pc);
    if (e && delta)
        *delta = e->delta;
    return e != NULL;
}

size_t lk_stack_pc_table_pages(void)
{
    pc_ent_t *t = __atomic_load_n(&pc_table, __ATOMIC_ACQUIRE);
    if (!t)
        return 0;
    size_t bytes = PC_HEAD_BYTES + PC_TABLE_SIZE * sizeof(pc_ent_t);
    size_t pages = bytes / 4096, n = 0;
    unsigned char vec[512];
    for (size_t off = 0; off < pages; off += sizeof vec) {
        size_t k = pages - off < sizeof vec ? pages - off : sizeof vec;
        if (mincore((char *)pc_dir + off * 4096, k * 4096, vec) != 0)
            return 0;
        for (size_t j = 0; j < k; j++)
            n += vec[j] & 1;
    }
    return n;
}

/* ### code without unwind information (JIT)
 * A return address into generated code (node, Java, LuaJIT) has no FDE, and
 * libunwind then guesses from the rbp chain, validating every word it reads
 * with mincore(2) plus a write(2) and read(2) on a pipe: three system calls
 * a page.  Such code never settles (a JIT keeps emitting it), so every
 * capture through it was a learning unwind: node made ~950k of each call.
 * Instead the stack is cut at the first such frame (kept, and the stack
 * marked jit_cut), and the place is remembered: a return address outside
 * every module by its 4 KiB page (pages of a module are never anonymous, so
 * nothing with an FDE shares it), one inside a module that no FDE covers by
 * itself in the pc table (PC_JIT: static code, it settles).  The fast walk
 * then stops there without libunwind, and no capture through it makes a
 * system call. */
#define JIT_TABLE_LOG2 14       /* 16 Ki pages (64 MiB of code), 128 KiB */
#define JIT_TABLE_SIZE (1u << JIT_TABLE_LOG2)
static uintptr_t *jit_pages;    /* page number + 1; 0 = empty; mmap'd once, written under pc_lock */
static unsigned jit_used;       /* guarded by pc_lock */

static inline size_t jit_slot(uintptr_t page)
{
    return (size_t)(((uint64_t)page * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - JIT_TABLE_LOG2));
}

/* Is the code at return address 'pc' on a page remembered as generated? */
static inline bool jit_page_find(uintptr_t pc)
{
    const uintptr_t *t = __atomic_load_n(&jit_pages, __ATOMIC_ACQUIRE);
    if (!t)
        return false;
    uintptr_t key = ((pc - 1) >> 12) + 1;
    size_t i = jit_slot(key);
    for (unsigned probes = 0; probes < 32; probes++) {
        uintptr_t k = __atomic_load_n(&t[i], __ATOMIC_ACQUIRE);
        if (k == key)
            return true;
        if (k == 0)
            return false;
        i = (i + 1) & (JIT_TABLE_SIZE - 1);
    }
    return false;
}

/* Remember the page of return address 'pc' as generated code (pc_lock). */
static void jit_page_learn(uintptr_t pc)
{
    uintptr_t key = ((pc - 1) >> 12) + 1;
    pthread_mutex_lock(&pc_lock);
    if (!jit_pages) {
        void *p = mmap(NULL, JIT_TABLE_SIZE * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
            __atomic_store_n(&jit_pages, (uintptr_t *)p, __ATOMIC_RELEASE);
    }
    if (!jit_pages || jit_used >= JIT_TABLE_SIZE / 4 * 3)
        goto out_unlock;                    /* full: the frame is still cut, every time */
    size_t i = jit_slot(key);
    for (unsigned probes = 0; probes < 32; probes++) {
        if (jit_pages[i] == key)
            goto out_unlock;
        if (jit_pages[i] == 0) {
            __atomic_store_n(&jit_pages[i], key, __ATOMIC_RELEASE);
            jit_used++;
            __atomic_fetch_add(&jit_ranges, 1, __ATOMIC_RELAXED);
            goto out_unlock;
        }
        i = (i + 1) & (JIT_TABLE_SIZE - 1);
    }
out_unlock:
    pthread_mutex_unlock(&pc_lock);
}

/* Is return address 'pc' in generated code, outside every loaded object?
 * _dl_find_object is lock-free and makes no system call. */
static bool jit_outside_modules(uintptr_t pc)
{
    if (jit_page_find(pc))
        return true;
    struct dl_find_object dlfo;
    if (pc == 0 || _dl_find_object((void *)(pc - 1), &dlfo) == 0)
        return false;
    jit_page_learn(pc);
    return true;
}

uint64_t lk_stack_jit_ranges(void)
{
    return __atomic_load_n(&jit_ranges, __ATOMIC_RELAXED);
}

/* The initial thread's stack, without pthread_getattr_np: for it glibc reads
 * and parses /proc/self/maps (165k instructions and four system calls, the
 * largest single cost of a short process's first capture).  Its frames all
 * lie below __libc_stack_end (the sp at exec, where argc is), and the kernel
 * places no mapping of its own choice within 128 MiB below the stack top
 * (mmap_base keeps a gap of the stack limit and at least that), so a thread
 * whose sp lies in [top - min(limit, 128 MiB), top) runs on it.  Anything
 * else (another thread, an unlimited stack, an alternate stack) asks glibc. */
extern void *__libc_stack_end;
#define MAIN_STACK_VOUCH ((uintptr_t)128 << 20)
static bool main_stack_bounds(void)
{
    uintptr_t top = (uintptr_t)__libc_stack_end, here = (uintptr_t)__builtin_frame_address(0);
    struct rlimit rl;
    if (top == 0 || here >= top || top - here >= MAIN_STACK_VOUCH ||
        getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return false;
    uintptr_t room = rl.rlim_cur < MAIN_STACK_VOUCH ? (uintptr_t)rl.rlim_cur : MAIN_STACK_VOUCH;
    if (top - here >= room)
        return false;
    tls_stack_lo = top - room;
    tls_stack_hi = top;
    tls_stack_state = 1;
    tls_stack_source = 1;
    return true;
}

int lk_stack_bounds_source(void)
{
    return tls_stack_source;
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
    if (main_stack_bounds())
        return true;
    tls_stack_source = 2;
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

/* The walkers read other frames' stack words (return addresses, saved rbps)
 * by design; AddressSanitizer (unit-test builds only: the preload itself is
 * never built with it) would call some of them redzones. */
#if defined(__SANITIZE_ADDRESS__)
#define LK_NO_ASAN __attribute__((no_sanitize_address))
#define LK_WALK_INLINE      /* forced inlining would instrument it in its caller */
#else
#define LK_NO_ASAN
#define LK_WALK_INLINE __attribute__((always_inline))
#endif

/* The first frame outside libleak: follow our own frame pointers (all of
 * libleak is built with them) from 'fp' while the return address is ours.
 * Sets the return address into the program, its stack pointer, and its rbp
 * (saved by our outermost frame).  Assumes our outermost frame (the hook the
 * program called) does not realign its stack: GCC's realigning prologue
 * (a local aligned above 16, e.g. flattening malloc_hook pulled one in)
 * copies the return address, so fp + 2 is not the program's sp; every capture
 * then falls back to unw_backtrace, with right stacks, which
 * test_preload_every_hook_takes_the_fast_walk catches. */
LK_NO_ASAN static inline bool user_start(uintptr_t *fp, uintptr_t *pc0, uintptr_t *sp0, uintptr_t *bp0)
{
    for (int i = 0; i < 16; i++) {
        uintptr_t ra = fp[1];
        if (ra < self_lo || ra >= self_hi) {
            *pc0 = ra;
            *sp0 = (uintptr_t)(fp + 2);
            *bp0 = fp[0];
            return true;
        }
        uintptr_t *next = (uintptr_t *)fp[0];
        if (next <= fp || ((uintptr_t)next & 7) != 0)
            return false;
        fp = next;
    }
    return false;
}

/* The walk is a function of (pc0, sp0, rbp0) and of the words it reads; it
 * logs every read it depends on (offset from sp0, value) so that the memo
 * below can replay the check.  A saved rbp is logged (relative to sp0: it is
 * an address) only if a frame-pointer frame later uses it: code without frame
 * pointers saves rbp as a general register, whose value varies freely. */
typedef struct walk_log {
    uint32_t nra, nbp;          /* return addresses read, saved rbps used */
    bool bp0_used;              /* the walk depended on the starting rbp */
    uint32_t ra_off[LK_MAX_DEPTH + 2];  /* offset from sp0; the word read there is frame i + 1 */
    uint32_t bp_off[LK_MAX_DEPTH + 2];
    uint32_t bp_val[LK_MAX_DEPTH + 2];  /* the saved rbp read, minus sp0 (< 2 GiB) */
    bool bp_used[LK_MAX_DEPTH + 2];
} walk_log_t;

enum { WALK_OK, WALK_UNKNOWN, WALK_UNTRUSTED };

/* ### rules read from the CFI (cfi.c) instead of learned through libunwind
 * A return address the table does not know gets its rule from its module's
 * .eh_frame directly: no libunwind step, so no signal masking and no system
 * call.  The rule is the CFI's own, not the one a libunwind step infers
 * (BP when rbp + 16 happens to equal the CFA), so a learning unwind that
 * meets the pc later takes the CFI's rule as well, after checking that it
 * gives libunwind's caller (slow_walk_unlocked): the two never disagree. */
static uint64_t rules_from_cfi;     /* pcs learned from cfi.c; atomic */
static uint64_t cfi_disagreements;  /* CFI rules that missed libunwind's step; atomic */
LK_SEAM bool lk_stack_learn_from_cfi = true;   /* tests turn it off to make a learning unwind */

/* cfi.c's rule of return address 'pc' as pc table flags (and *delta); 0 when
 * cfi.c declines, LK_CFI_NO_MODULE's code in *why. */
static uint32_t cfi_flags(uintptr_t pc, uint32_t *delta, int *why)
{
    lk_cfi_rule_t r;
    *why = lk_cfi_rule(pc, &r);
    if (*why != LK_CFI_OK)
        return 0;
    *delta = r.kind == LK_CFI_SP ? r.delta : 0;
    if (r.kind == LK_CFI_END)
        return PC_END;
    uint32_t fl = PC_OK | (r.kind == LK_CFI_BP ? PC_BP : 0);
    return fl | (r.rbp_save ? PC_RBP_SAVE | r.rbp_save << 16 : PC_RBP_SAME);
}

/* The fast walk met 'pc', never seen: its entry, learned from the CFI, or
 * NULL (libunwind learns it).  Sets *jit when no module holds 'pc'
 * (generated code: the walk is cut there, as the learning unwind would). */
static __attribute__((noinline)) const pc_ent_t *learn_from_cfi(uintptr_t pc, bool *jit)
{
    uint32_t delta = 0;
    int why;
    if (!lk_stack_learn_from_cfi)
        return NULL;
    uint32_t fl = cfi_flags(pc, &delta, &why);
    if (why == LK_CFI_SIGNAL)
        fl = PC_VAR;                /* a signal trampoline: never walked through */
    if (fl == 0) {
        *jit = why == LK_CFI_NO_MODULE && jit_outside_modules(pc);
        return NULL;
    }
    pc_learn(pc, delta, fl);
    const pc_ent_t *e = pc_find(pc);
    if (e)
        __atomic_fetch_add(&rules_from_cfi, 1, __ATOMIC_RELAXED);
    return e;
}

/* Walk from (pc, sp, rbp) with learned rules only, filling f->pc from index
 * 'n0' (0, or where a learning unwind hands over); a pc never seen gets its
 * rule from the CFI.  Returns WALK_UNKNOWN at the first pc never seen whose
 * rule the CFI does not give (a learning unwind will fix that), WALK_UNTRUSTED
 * at a pc whose rules vary, an unknown rbp where the BP rule needs it, or a
 * read outside this thread's stack. */
LK_NO_ASAN static int fast_walk(lk_frames_t *f, int max, uintptr_t pc, uintptr_t sp, uintptr_t rbp,
                     walk_log_t *log, int n0)
{
    uintptr_t hi = tls_stack_hi, sp0 = sp;
    bool rbp_known = true;
    int rbp_src = -1;                       /* log entry rbp came from; -1: rbp0 */
    log->bp0_used = false;
    if (sp < tls_stack_lo || sp >= hi || hi - sp0 > (uintptr_t)INT32_MAX)
        return WALK_UNTRUSTED;
    uint32_t nra = 0, nbp = 0;
    int n = n0;
    bool jit = false;
    for (;;) {
        f->pc[n++] = pc;
        if (n > max)
            break;                          /* one more than kept: truncated */
        const pc_ent_t *e = pc_find(pc);
        if (!e) {
            if (jit_page_find(pc)) {
                jit = true;                 /* generated code: cut here */
                break;
            }
            e = learn_from_cfi(pc, &jit);
            if (jit)
                break;
            if (!e)
                return WALK_UNKNOWN;
        }
        uint32_t fl = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
        if (fl & (PC_END | PC_JIT)) {
            jit = (fl & PC_JIT) != 0;
            break;
        }
        if ((fl & (PC_OK | PC_VAR)) != PC_OK)
            return WALK_UNTRUSTED;
        uintptr_t cfa;
        if (fl & PC_BP) {
            if (!rbp_known || rbp < sp || rbp + 16 > hi || (rbp & 7) != 0)
                return WALK_UNTRUSTED;
            cfa = rbp + 16;
            if (rbp_src < 0)
                log->bp0_used = true;
            else
                log->bp_used[rbp_src] = true;
        } else {
            cfa = sp + e->delta;
            if (e->delta < 8 || cfa > hi)
                return WALK_UNTRUSTED;
        }
        if (fl & PC_RBP_SAVE) {
            uintptr_t slot = cfa - (fl >> 16);
            if (slot < sp || slot + 8 > cfa)
                return WALK_UNTRUSTED;
            rbp = *(const uintptr_t *)slot;
            log->bp_off[nbp] = (uint32_t)(slot - sp0);
            log->bp_val[nbp] = (uint32_t)(rbp - sp0);   /* checked against hi when used */
            log->bp_used[nbp] = false;
            rbp_src = (int)nbp++;
            rbp_known = true;
        } else if (!(fl & PC_RBP_SAME)) {
            rbp_known = false;
        }
        pc = *(const uintptr_t *)(cfa - 8);
        log->ra_off[nra++] = (uint32_t)(cfa - 8 - sp0);
        sp = cfa;
    }
    /* keep the saved rbps the walk used */
    uint32_t k = 0;
    for (uint32_t i = 0; i < nbp; i++) {
        if (log->bp_used[i]) {
            log->bp_off[k] = log->bp_off[i];
            log->bp_val[k++] = log->bp_val[i];
        }
    }
    log->nra = nra;
    log->nbp = k;
    f->truncated = n > max;
    f->jit_cut = jit;
    f->depth = (uint32_t)(n > max ? max : n);
    return WALK_OK;
}

/* ### per-thread memo of whole walks
 * The fast walk is a chain of dependent loads (pc -> rule -> next pc).  A walk
 * that succeeded is remembered with its read log.  If every logged word reads
 * the same again (saved rbps relative to sp0, and rbp0 too), the walk would
 * make exactly the same steps, so the stack is the same: the check is
 * independent loads.  The return address read at step i is frame i + 1, so
 * the entry keeps the frames (one more when truncated) and only the offsets.
 * Entries are keyed by the first return addresses and the stack position
 * (MEMO_WAYS-way sets, the set's last hit tried first), and die when any pc
 * turns PC_VAR (epoch). */
#define MEMO_SET_LOG2 8
#define MEMO_WAYS 8
#define MEMO_ENTRIES ((1u << MEMO_SET_LOG2) * MEMO_WAYS)   /* per thread */
typedef struct memo {
    /* what a lookup reads, in the order it reads it (the first line) */
    uintptr_t pc0;              /* 0 = empty */
    uintptr_t sp0;
    uintptr_t bp0, bp0_mask;    /* rbp0 must equal bp0 where bp0_mask has bits:
                                 * ~0 when the walk used rbp0, else 0 */
    uint32_t epoch;
    uint32_t max;               /* max_depth the walk was made with */
    uint32_t fp_chain;          /* saved rbp i is at ra_off[i] - 8 and points at
                                 * ra_off[i + 1] - 8 (frame-pointer code) */
    uint16_t truncated;
    uint16_t jit_cut;
    /* where the checked words are, inside the entry (pointers: no index
     * arithmetic at lookup time): fp_chain: pairs, pairs + (nbp & ~3),
     * pairs + nbp (= the tail's offsets), their end; else ra_off,
     * ra_off + (nra & ~3), ra_off + nra (= bp), bp's end */
    const void *chk, *chk4, *chk_end, *tail_end;
    const uintptr_t *tail_val;  /* the values the tail (fp_chain) or ra_off is checked against */
    uintptr_t pair0;            /* fp_chain: address of frame 0's (saved rbp, return address) */
    uint32_t site1[3];          /* site index + 1 per family, filled by tracker.c */
    /* read only to materialize the frames, or to store (all <= LK_MAX_DEPTH + 2) */
    uint16_t nra, nbp;
    uint16_t depth;
    uint16_t nframes;           /* frames kept: depth, or depth + 1 when truncated */
    uint16_t set;               /* its set and way (a probe hit is the set's last hit) */
    uint8_t way;
    uint64_t hash;
    /* then, packed: frames[nframes] (uintptr_t), then either
     *   (fp_chain) pairs[nbp] (memo_pair_t) 16-byte aligned (memo_pairs),
     *              ra_off[nra - nbp] of the frames after them;
     *   (else)     ra_off[nra] (uint32_t), bp[nbp] (uint32_t offset, uint32_t value - sp0) */
} __attribute__((aligned(16))) memo_t;
_Static_assert(sizeof(memo_t) == 128, "a memo entry's header is two lines");

/* A frame-pointer frame as the stack holds it at address A: the saved rbp
 * (which is the next pair's address: the key fixes sp0, so addresses are
 * constants) and the return address.  Checked 16 bytes at a time. */
typedef struct memo_pair {
    uintptr_t next;
    uintptr_t ra;
} memo_pair_t;

static __thread char *tls_memo __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_memo_stride __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_memo_cap __attribute__((tls_model("initial-exec")));   /* frames per entry */
static __thread int tls_memo_failed __attribute__((tls_model("initial-exec")));
static __thread unsigned tls_memo_rr __attribute__((tls_model("initial-exec")));
static __thread uint8_t tls_memo_mru[1u << MEMO_SET_LOG2] __attribute__((tls_model("initial-exec")));
/* Ways ever filled, per set: a lookup never reads a way of a page not yet
 * written, which would map the zero page only for the store to fault again. */
static __thread uint8_t tls_memo_used[1u << MEMO_SET_LOG2] __attribute__((tls_model("initial-exec")));
/* Stacks seen once (a bit per hash of pc0, sp0 and the caller hint): a walk
 * is remembered on its stack's second sighting only.  A stack seen once is
 * the common case in short programs, and storing it costs a fresh memo page
 * for nothing.  A false positive stores early. */
#define MEMO_SEEN_BITS 4096u
static __thread uint64_t tls_memo_seen[MEMO_SEEN_BITS / 64] __attribute__((tls_model("initial-exec")));
static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static inline uintptr_t *memo_frames(memo_t *m)
{
    return (uintptr_t *)(m + 1);
}

static inline uint32_t *memo_ra_off(memo_t *m)
{
    return (uint32_t *)(memo_frames(m) + m->nframes);
}

static inline uint32_t *memo_bp(memo_t *m)
{
    return memo_ra_off(m) + m->nra;
}

/* 16-byte aligned (entries are 64-aligned, memo_t a multiple of 16): the
 * check's aligned loads of them fold into its xors, a load fewer a frame. */
static inline memo_pair_t *memo_pairs(memo_t *m)
{
    return (memo_pair_t *)(memo_frames(m) + ((m->nframes + 1) & ~1u));
}

/* fp_chain: offsets of the frames after the pairs */
static inline uint32_t *memo_tail_off(memo_t *m)
{
    return (uint32_t *)(memo_pairs(m) + m->nbp);
}

/* This thread's last memo hit or store: an allocation loop captures the same
 * stack again and again, and this skips the set lookup (caller_hint's rules). */
static __thread memo_t *tls_memo_last __attribute__((tls_model("initial-exec")));

/* The probe's tables (memo_probe), unmapped with the memo. */
#define PROBE_SHAPES_LOG2 9
#define PROBE_SLOTS_LOG2 10
typedef struct memo_probe {
    struct {
        memo_t *rep;            /* by (pc0, sp0): its representative */
        uint64_t key;           /* the positions (frame i + 1) hashed */
    } shape[1u << PROBE_SHAPES_LOG2];
    memo_t *slot[1u << PROBE_SLOTS_LOG2];       /* by the hash of the words it checks,
                                                 * 2 ways a hash, the last noted first */
} memo_probe_t;
static __thread memo_probe_t *tls_memo_probe __attribute__((tls_model("initial-exec")));

/* Before the entries, in the same mapping, one line a set: each way's caller
 * hint (its low 32 bits), so that a set search compares the 8 of a set at once
 * and reads only the entries whose hint matches (one line, not a header line a
 * way); then each way's entry, as slot + 1 (0: none yet).  Slots are handed
 * out in order as ways are first filled, so the entries a thread stores are
 * packed from the start of the mapping instead of spread over its 1.8 MB,
 * where each had cost a page fault and a resident page.  A way keeps its
 * slot when it is replaced. */
#define MEMO_HEAD_BYTES ((size_t)(1u << MEMO_SET_LOG2) * 64)   /* whole pages */

static inline uint32_t *memo_tags(char *t, size_t set)
{
    return (uint32_t *)(t - MEMO_HEAD_BYTES + set * 64);
}

static inline uint16_t *memo_slots(char *t, size_t set)
{
    return (uint16_t *)(t - MEMO_HEAD_BYTES + set * 64 + MEMO_WAYS * sizeof(uint32_t));
}

static __thread uint32_t tls_memo_nslots __attribute__((tls_model("initial-exec")));

static void memo_free(void *p)
{
    if (p)
        munmap(p, MEMO_HEAD_BYTES + (size_t)MEMO_ENTRIES * tls_memo_stride);
    if (tls_memo_probe)
        munmap(tls_memo_probe, sizeof(memo_probe_t));
    tls_memo = NULL;
    tls_memo_last = NULL;
    tls_memo_probe = NULL;
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
    uint32_t cap = (uint32_t)max + 2;
    /* after the frames (and a pad frame that aligns the pairs), at most 16
     * bytes a frame: 4 + 8 (an offset, a saved rbp) or 16 (a pair), and
     * nbp <= nra < cap */
    size_t stride = sizeof(memo_t) + (cap + 1) * sizeof(uintptr_t) + cap * sizeof(memo_pair_t);
    stride = (stride + 63) & ~(size_t)63;
    void *p = mmap(NULL, MEMO_HEAD_BYTES + MEMO_ENTRIES * stride, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* the set heads are read at random and the entries are handed out from
     * the start: both come in with one call, not a fault a page */
    lk_populate(p, MEMO_HEAD_BYTES + LK_POPULATE_STEP);
    tls_memo_stride = (uint32_t)stride;
    tls_memo_cap = cap;
    tls_memo_nslots = 0;
    tls_memo = (char *)p + MEMO_HEAD_BYTES;
    memset(tls_memo_mru, 0, sizeof tls_memo_mru);
    memset(tls_memo_used, 0, sizeof tls_memo_used);
    memset(tls_memo_seen, 0, sizeof tls_memo_seen);
    pthread_setspecific(memo_key, p);
    tls_memo_failed = 0;
    return tls_memo;
}

/* A hash of the program's next few return addresses above pc0, found with
 * the learned rules (0 where a rule is unknown): with pc0 and sp0 it picks the
 * memo set, so that one allocation wrapper reached from many callers does not
 * crowd one set, and a way stored with another hint is skipped unread.  Only
 * a hint: the memo check itself is exact.  When pc0's frame is a plain
 * frame-pointer frame, the next 8 return addresses come from the rbp chain
 * instead, without a rule lookup each: more callers tell the stacks apart,
 * for less (no rule lookup a frame); ways of another hint are skipped by the
 * set's tags (memo_tags). */
#define MEMO_HINT_FRAMES 4
#define MEMO_CHAIN_FRAMES 8
#define PC_FP_FRAME (PC_OK | PC_BP | PC_RBP_SAVE | (16u << 16))   /* push rbp; mov rsp, rbp */
LK_NO_ASAN static inline uintptr_t caller_hint(uintptr_t pc, uintptr_t sp, uintptr_t bp)
{
    uintptr_t h = 0;
    for (int k = 0; k < MEMO_HINT_FRAMES; k++) {
        const pc_ent_t *e = pc_find(pc);
        if (!e)
            break;
        uint32_t fl = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
        if (k == 0 && (fl & (PC_RULE_MASK | PC_OK | PC_VAR | PC_END)) == PC_FP_FRAME) {
            /* frame-pointer code: the rbp chain's return addresses, without
             * a rule lookup each (a frame without a frame pointer in between
             * is skipped, or ends the chain: the hint only has to be the same
             * each time for the same stack) */
            /* one unsigned compare keeps each read in [sp, top of stack);
             * the chain need not climb (8 steps at most) nor be aligned */
            if (sp + 16 > tls_stack_hi)
                return h;
            uintptr_t room = tls_stack_hi - 16 - sp;
            for (int j = 0; j < MEMO_CHAIN_FRAMES; j++) {
                if (bp - sp > room)
                    break;
                const uintptr_t *fr = (const uintptr_t *)bp;
                h = (h ^ fr[1]) * 31;
                bp = fr[0];
            }
            return h;
        }
        if ((fl & (PC_OK | PC_VAR | PC_END)) != PC_OK)
            break;
        uintptr_t cfa = (fl & PC_BP) ? bp + 16 : sp + e->delta;
        if (cfa < sp + 8 || cfa > tls_stack_hi || (cfa & 7) != 0)
            break;
        if (fl & PC_RBP_SAVE) {
            uintptr_t slot = cfa - (fl >> 16);
            if (slot < sp || slot + 8 > cfa)
                break;
            bp = *(const uintptr_t *)slot;
        }
        pc = *(const uintptr_t *)(cfa - 8);
        sp = cfa;
        h = (h ^ pc) * 31;
    }
    return h;
}

/* The memo set for (pc0, sp0, callers). */
static inline size_t memo_set(uintptr_t pc0, uintptr_t sp0, uintptr_t callers)
{
    uint64_t h = ((uint64_t)pc0 ^ ((uint64_t)sp0 << 12) ^ ((uint64_t)callers * 31)) *
                 UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> (64 - MEMO_SET_LOG2));
}

/* The entry of way 'w', which has one (it was filled). */
static inline memo_t *memo_way(char *t, size_t set, unsigned w)
{
    return (memo_t *)(t + (size_t)(memo_slots(t, set)[w] - 1) * tls_memo_stride);
}

/* The entry way 'w' is to be stored in: its own, else the next slot (there
 * are as many slots as ways, so one is always left). */
static inline memo_t *memo_way_for_store(char *t, size_t set, unsigned w)
{
    uint16_t *slot = &memo_slots(t, set)[w];
    if (*slot == 0)
        *slot = (uint16_t)++tls_memo_nslots;
    return (memo_t *)(t + (size_t)(*slot - 1) * tls_memo_stride);
}

static inline bool m128_zero(__m128i v)
{
    return _mm_movemask_epi8(_mm_cmpeq_epi32(v, _mm_setzero_si128())) == 0xffff;
}

/* Do the words at sp0 + off[i] equal val[i], for off in [off, end)?  Groups
 * of 4 independent loads, each rejected early, and the first group last: the
 * ways tried share the caller hint, whose frames are the first words, so they
 * differ further out (bench live: 2.5 ways of one tag a capture, each read to
 * its end before). */
LK_NO_ASAN static inline LK_WALK_INLINE bool
memo_words_match(uintptr_t sp0, const uint32_t *off, const uint32_t *end, const uintptr_t *val)
{
#define LK_WORDS4_DIFF(o, v)                                                  \
    ((*(const uintptr_t *)(sp0 + (o)[0]) ^ (v)[0]) |                          \
     (*(const uintptr_t *)(sp0 + (o)[1]) ^ (v)[1]) |                          \
     (*(const uintptr_t *)(sp0 + (o)[2]) ^ (v)[2]) |                          \
     (*(const uintptr_t *)(sp0 + (o)[3]) ^ (v)[3]))
    const uint32_t *end4 = off + ((size_t)(end - off) & ~(size_t)3);
    if (end4 != off) {
        const uint32_t *o = off + 4;
        const uintptr_t *v = val + 4;
        for (; o < end4; o += 4, v += 4)
            if (LK_WORDS4_DIFF(o, v) != 0)
                return false;
        if (LK_WORDS4_DIFF(off, val) != 0)
            return false;
    }
#undef LK_WORDS4_DIFF
    uintptr_t diff = 0;
    val += end4 - off;
    for (const uint32_t *o = end4; o < end; o++, val++)
        diff |= *(const uintptr_t *)(sp0 + *o) ^ *val;
    return diff == 0;
}

/* The stack at (pc0, sp0, bp0) if it is the remembered one.  On a hit the
 * frames stay in the entry (f->lazy): the caller copies them only if it needs
 * them (a site the entry does not know yet). */
LK_NO_ASAN static inline LK_WALK_INLINE bool memo_lookup(memo_t *m, lk_frames_t *f, int max,
                                                         uintptr_t pc0, uintptr_t sp0, uintptr_t bp0)
{
    /* No bounds check: this thread stored the entry with this sp0, when every
     * word it logs was inside the thread's stack, whose bounds are fixed. */
    if (m->pc0 != pc0 || m->sp0 != sp0 || ((bp0 ^ m->bp0) & m->bp0_mask) != 0 ||
        m->epoch != __atomic_load_n(&pc_var_epoch, __ATOMIC_ACQUIRE) ||
        m->max != (uint32_t)max)
        return false;
    const uintptr_t *val = m->tail_val;
    if (m->fp_chain) {
        /* frame-pointer code: pair i sits where pair i - 1's saved rbp
         * points; each is compared whole, (saved rbp, return address) */
        const memo_pair_t *pr = m->chk, *end4 = m->chk4, *end = m->chk_end;
        const char *a = (const char *)m->pair0;
        __m128i d;
        /* pointer steps, not pr[i + k]: GCC re-derived every index */
#define LK_PAIR_DIFF(at, q)                                                        \
    _mm_xor_si128(_mm_loadu_si128((const __m128i *)(at)), _mm_load_si128((const __m128i *)(q)))
        for (; pr < end4; pr += 4) {
            d = _mm_or_si128(_mm_or_si128(LK_PAIR_DIFF(a, pr), LK_PAIR_DIFF(pr[0].next, pr + 1)),
                             _mm_or_si128(LK_PAIR_DIFF(pr[1].next, pr + 2),
                                          LK_PAIR_DIFF(pr[2].next, pr + 3)));
            if (lk_unlikely(!m128_zero(d)))
                return false;   /* another way of the set: reject early */
            a = (const char *)pr[3].next;
        }
        d = _mm_setzero_si128();
        for (; pr < end; pr++) {
            d = _mm_or_si128(d, LK_PAIR_DIFF(a, pr));
            a = (const char *)pr->next;
        }
#undef LK_PAIR_DIFF
        if (!m128_zero(d))
            return false;
        /* the frames after the pairs: all of them in code without frame
         * pointers */
        if (!memo_words_match(sp0, m->chk_end, m->tail_end, val))
            return false;
        goto hit;
    }
    const uint32_t *end = m->chk_end;
    /* independent loads, checked every 4 so that another way of the same set
     * (same first frame, other callers) is rejected early */
    if (!memo_words_match(sp0, m->chk, end, val))
        return false;
    uintptr_t diff = 0;
    for (const uint32_t *bp = end, *bp_end = m->tail_end; bp < bp_end; bp += 2)
        diff |= (*(const uintptr_t *)(sp0 + bp[0]) - sp0) ^ bp[1];
    if (diff != 0)
        return false;
hit:
    f->lazy = m;                /* the rest is copied only if needed */
    f->site_memo = m->site1;
    return true;
}

void lk_stack_materialize(lk_frames_t *f)
{
    memo_t *m = (memo_t *)f->lazy;
    f->depth = m->depth;
    f->truncated = m->truncated;
    f->jit_cut = m->jit_cut;
    f->hash = m->hash;
    memcpy(f->pc, memo_frames(m), m->depth * sizeof(uintptr_t));
    f->lazy = NULL;
}

static void memo_store(memo_t *m, const lk_frames_t *f, int max, uintptr_t sp0, uintptr_t bp0,
                       const walk_log_t *log, uint32_t epoch)
{
    m->pc0 = 0;
    /* frames: depth of them, and the extra one a truncated walk read */
    uint32_t nframes = log->nra + 1 > f->depth ? log->nra + 1 : f->depth;
    if (nframes > tls_memo_cap || log->nbp > tls_memo_cap || f->depth == 0)
        return;                 /* made with a smaller max_depth: no room */
    m->nframes = nframes;
    m->nra = log->nra;
    memcpy(memo_frames(m), f->pc, nframes * sizeof(uintptr_t));
    bool fp_chain = log->nbp < log->nra;
    for (uint32_t i = 0; i < log->nbp; i++) {
        fp_chain = fp_chain && log->ra_off[i] >= 8 && log->bp_off[i] == log->ra_off[i] - 8 &&
                   log->bp_val[i] == log->ra_off[i + 1] - 8;
    }
    m->nbp = log->nbp;
    m->fp_chain = fp_chain;
    if (fp_chain) {
        memo_pair_t *pr = memo_pairs(m);
        for (uint32_t i = 0; i < log->nbp; i++) {
            pr[i].next = sp0 + log->ra_off[i + 1] - 8;
            pr[i].ra = f->pc[i + 1];
        }
        m->pair0 = sp0 + log->ra_off[0] - 8;
        uint32_t *tail = memo_tail_off(m);
        for (uint32_t i = log->nbp; i < log->nra; i++)
            tail[i - log->nbp] = log->ra_off[i];
        m->chk = pr;
        m->chk4 = pr + (log->nbp & ~3u);
        m->chk_end = tail;
        m->tail_end = tail + (log->nra - log->nbp);
        m->tail_val = memo_frames(m) + 1 + log->nbp;
    } else {
        uint32_t *ra = memo_ra_off(m);
        for (uint32_t i = 0; i < log->nra; i++)
            ra[i] = log->ra_off[i];
        uint32_t *bp = memo_bp(m);
        for (uint32_t i = 0; i < log->nbp; i++) {
            bp[2 * i] = log->bp_off[i];
            bp[2 * i + 1] = log->bp_val[i];
        }
        m->chk = ra;
        m->chk4 = ra + (log->nra & ~3u);
        m->chk_end = bp;
        m->tail_end = bp + 2 * log->nbp;
        m->tail_val = memo_frames(m) + 1;
    }
    m->sp0 = sp0;
    /* rbp0 matters only if a frame-pointer frame used it before any saved rbp
     * was reloaded; else it is a general register (code without frame
     * pointers) and varies freely. */
    m->bp0 = bp0;
    m->bp0_mask = log->bp0_used ? ~(uintptr_t)0 : 0;
    m->hash = f->hash;
    m->nbp = log->nbp;
    m->epoch = epoch;
    m->depth = f->depth;
    m->truncated = f->truncated;
    m->jit_cut = f->jit_cut;
    m->max = (uint32_t)max;
    memset(m->site1, 0, sizeof m->site1);
    m->pc0 = f->pc[0];
}

bool lk_stack_fde_covers(uintptr_t pc)
{
    return lk_cfi_fde_covers(pc);
}

/* Does an FDE cover the frame at return address 'ip' (the cursor's)?  Without
 * one, unw_get_proc_info makes up a one-byte procedure at ip (node's
 * embedded builtins: CEntry, the trampoline from JavaScript into C++).  The
 * module's .eh_frame_hdr (cfi.c) answers first: unw_get_proc_info searches
 * afresh at every call (3.6k instructions, a quarter of a learning unwind),
 * and cfi.c says "covered" only when surely so, so a "no" is libunwind's. */
static bool has_fde(const lk_unw_t *u, unw_cursor_t *c, unw_word_t ip)
{
    if (ip > 0 && lk_cfi_fde_covers(ip - 1))
        return true;
    unw_proc_info_t pi;
    if (u->get_proc_info(c, &pi) != 0)
        return false;
    return !(pi.start_ip == ip && pi.end_ip == ip + 1);
}

/* Does the CFI's rule 'fl' (and 'delta') step from (sp, bp) to libunwind's
 * caller (nip, nsp, nbp)?  The words it reads are the ones libunwind just
 * read. */
LK_NO_ASAN static bool cfi_agrees(uint32_t fl, uint32_t delta, uintptr_t sp, uintptr_t bp,
                                  uintptr_t nip, uintptr_t nsp, uintptr_t nbp)
{
    if (!(fl & PC_OK))
        return false;               /* END, where libunwind found a caller */
    uintptr_t cfa = (fl & PC_BP) ? bp + 16 : sp + delta;
    if (cfa != nsp || cfa <= sp || *(const uintptr_t *)(cfa - 8) != nip)
        return false;
    if (fl & PC_RBP_SAVE)
        return *(const uintptr_t *)(cfa - (fl >> 16)) == nbp;
    return nbp == bp;
}

/* Learning unwinds that finished with the learned rules (tests). */
static uint64_t unwinds_handed_over;    /* atomic */

/* Unwind with libunwind, from the frame whose stack pointer is 'sp0', and
 * record every frame's rule for later fast walks.  With 'scratch', once past
 * the frames never seen, the first frame whose rule is known hands the rest
 * to the fast walk: new code sits near the leaf, and each libunwind step
 * takes its cache lock with every signal blocked (two system calls; 25k of
 * them in the bench's sqlite3 run).  If that walk fails, libunwind goes on.
 * Without 'scratch', libunwind alone (the reference the tests compare with).
 * Caller is between unwind_enter and unwind_leave. */
static bool slow_walk_unlocked(const lk_unw_t *u, lk_frames_t *f, int max, uintptr_t pc0,
                               uintptr_t sp0, walk_log_t *scratch)
{
    unw_context_t uc;
    unw_cursor_t c;
    unw_word_t ip, sp, bp;
    if (u->getcontext(&uc) != 0 || u->init_local(&c, &uc) != 0)
        return false;
    /* skip libunwind's and libleak's frames: up to the program's first frame */
    for (int i = 0;; i++) {
        if (i > LK_SKIP_MAX || u->get_reg(&c, UNW_REG_SP, &sp) != 0)
            return false;
        if (sp == sp0)
            break;
        if (sp > sp0 || u->step(&c) <= 0)
            return false;
    }
    if (u->get_reg(&c, UNW_REG_IP, &ip) != 0 || ip != pc0 ||
        u->get_reg(&c, UNW_X86_64_RBP, &bp) != 0)
        return false;
    int n = 0;
    bool passed_new = false, jit = false;
    /* libunwind says "signal frame" of the frame a signal interrupted (its ip
     * is exact, not a return address), one step past the trampoline: both
     * are marked VAR */
    bool sig = u->is_signal_frame(&c) > 0;
    for (;;) {
        const pc_ent_t *known = pc_find(ip);
        passed_new |= scratch != NULL && known == NULL;
        f->pc[n++] = ip;
        if (n > max)
            break;
        /* code without unwind information: cut before libunwind guesses
         * (and probes) there */
        if (known ? (__atomic_load_n(&known->flags, __ATOMIC_ACQUIRE) & PC_JIT) != 0
                  : jit_outside_modules(ip)) {
            jit = true;
            break;
        }
        if (!known && !sig && !has_fde(u, &c, ip)) {
            pc_learn(ip, 0, PC_JIT);
            jit = true;
            break;
        }
        /* the CFI's rule, if cfi.c reads one: learned instead of the rule
         * inferred from the step, once checked against it */
        uint32_t cdelta = 0;
        int why = LK_CFI_OK;
        uint32_t cfl = sig ? 0 : cfi_flags(ip, &cdelta, &why);
        if (cfl == 0 && !sig && why == LK_CFI_SIGNAL)
            sig = true;                     /* the CFI says so ('S') */
        int r = u->step(&c);
        if (r <= 0) {
            if ((cfl & PC_OK) || (r < 0 && cfl != 0))
                __atomic_fetch_add(&cfi_disagreements, 1, __ATOMIC_RELAXED);
            pc_learn(ip, 0, r == 0 ? PC_END : PC_VAR);
            break;
        }
        unw_word_t nip, nsp, nbp;
        unw_save_loc_t sl;
        if (u->get_reg(&c, UNW_REG_IP, &nip) != 0 || u->get_reg(&c, UNW_REG_SP, &nsp) != 0 ||
            u->get_reg(&c, UNW_X86_64_RBP, &nbp) != 0)
            break;
        /* this frame's rules: its CFA is nsp; where did the caller's rbp come from? */
        uint32_t rule = PC_OK;
        if (bp + 16 == nsp)
            rule |= PC_BP;
        if (u->get_save_loc(&c, UNW_X86_64_RBP, &sl) == 0 && sl.type == UNW_SLT_MEMORY &&
            sl.u.addr >= sp && sl.u.addr + 8 <= nsp && nsp - sl.u.addr <= 0xffff)
            rule |= PC_RBP_SAVE | (uint32_t)(nsp - sl.u.addr) << 16;
        else if (nbp == bp)
            rule |= PC_RBP_SAME;
        bool sig_next = u->is_signal_frame(&c) > 0;     /* 'ip' is the trampoline */
        if (cfl != 0 && !sig_next) {
            if (cfi_agrees(cfl, cdelta, sp, bp, nip, nsp, nbp)) {
                pc_learn(ip, cdelta, cfl);
                if (!known)
                    __atomic_fetch_add(&rules_from_cfi, 1, __ATOMIC_RELAXED);
            } else {
                __atomic_fetch_add(&cfi_disagreements, 1, __ATOMIC_RELAXED);
                pc_learn(ip, 0, PC_VAR);
            }
        } else if (sig || sig_next || nsp <= sp || nsp - sp > PC_DELTA_MAX) {
            pc_learn(ip, 0, PC_VAR);
        } else {
            pc_learn(ip, (uint32_t)(nsp - sp), rule);
        }
        ip = nip;
        sp = nsp;
        bp = nbp;
        sig = sig_next;
        if (ip == 0)
            break;
        const pc_ent_t *e = passed_new && !sig ? pc_find(ip) : NULL;
        if (e && (__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & (PC_OK | PC_VAR)) == PC_OK) {
            passed_new = false;             /* once per run of new frames */
            if (fast_walk(f, max, ip, sp, bp, scratch, n) == WALK_OK) {
                __atomic_fetch_add(&unwinds_handed_over, 1, __ATOMIC_RELAXED);
                return true;
            }
        }
    }
    f->truncated = n > max;
    f->jit_cut = jit;
    f->depth = (uint32_t)(n > max ? max : n);
    return true;
}

static bool slow_walk(lk_frames_t *f, int max, uintptr_t pc0, uintptr_t sp0, walk_log_t *scratch)
{
    const lk_unw_t *u = lk_unw_or_ask();
    if (!u)
        return false;               /* unw_backtrace's stand-in walks it */
    bool masked = unwind_enter();
    bool ok = slow_walk_unlocked(u, f, max, pc0, sp0, scratch);
    unwind_leave(masked);
    return ok;
}

/* How this thread's captures went (tests assert the fast path is taken). */
static __thread uint64_t tls_fast_walks __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_slow_walks __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_memo_hits __attribute__((tls_model("initial-exec")));   /* not in fast */

static uint64_t unwinds_learning, unwinds_fallback;     /* atomic */

uint64_t lk_stack_handovers(void)
{
    return __atomic_load_n(&unwinds_handed_over, __ATOMIC_RELAXED);
}

void lk_stack_cfi_counts(uint64_t *rules, uint64_t *disagreements)
{
    *rules = __atomic_load_n(&rules_from_cfi, __ATOMIC_RELAXED);
    *disagreements = __atomic_load_n(&cfi_disagreements, __ATOMIC_RELAXED);
}

void lk_stack_unwind_counts(uint64_t *learning, uint64_t *fallback)
{
    *learning = __atomic_load_n(&unwinds_learning, __ATOMIC_RELAXED);
    *fallback = __atomic_load_n(&unwinds_fallback, __ATOMIC_RELAXED);
}

void lk_stack_memo_layout(uintptr_t *entries, size_t *stride, uint32_t *nslots)
{
    *entries = (uintptr_t)tls_memo;
    *stride = tls_memo_stride;
    *nslots = tls_memo_nslots;
}

void lk_stack_walk_stats(uint64_t *fast, uint64_t *slow, uint64_t *memo_hits)
{
    *fast = tls_fast_walks + tls_memo_hits;
    *slow = tls_slow_walks;
    *memo_hits = tls_memo_hits;
}

/* ### the probe: stacks that alternate at one (pc0, sp0), found in one look
 * An allocation site reached through several call paths of the same depth
 * (a tree's nodes, a parser's productions) has one pc0 and one sp0 for all of
 * them, and they alternate: each capture misses the thread's last hit, and a
 * caller hint of 4 frames (4 rule lookups) does not tell them apart, so the
 * set search tried 2.5 ways (bench live).  The probe hashes a few return
 * addresses, read where one entry of that (pc0, sp0), the shape's
 * representative, read them: the first positions at which the shape's other
 * stacks were seen to differ from it (its key).  Independent loads, no rule
 * lookup; the hash picks 2 ways of a table of entries.  Stacks laid out like
 * the representative hash their own return addresses; another layout hashes
 * whatever lies there, the same each time or not (a miss then: the set
 * search as before).  Only a hint either way: the entry it finds is checked
 * word by word (memo_lookup) like any other. */
static __thread uint64_t tls_probe_hits __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_memo_searches __attribute__((tls_model("initial-exec")));
/* Tests narrow it to make every stack collide. */
uint32_t LK_SEAM lk_stack_probe_mask = (1u << PROBE_SLOTS_LOG2) - 1;

void lk_stack_memo_stats(uint64_t *probe_hits, uint64_t *set_searches)
{
    *probe_hits = tls_probe_hits;
    *set_searches = tls_memo_searches;
}

static inline size_t probe_shape(uintptr_t pc0, uintptr_t sp0)
{
    uint64_t h = ((uint64_t)pc0 ^ ((uint64_t)sp0 << 24)) * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> (64 - PROBE_SHAPES_LOG2));
}

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* The return address of frame i + 1 as entry 'm''s walk read it: where it
 * lies in this stack (its sp0 is the capture's), or what it was. */
LK_NO_ASAN static inline uintptr_t probe_word(const memo_t *m, uintptr_t sp0, unsigned i)
{
    if (!m->fp_chain)
        return *(const uintptr_t *)(sp0 + ((const uint32_t *)m->chk)[i]);
    if (i >= m->nbp)
        return *(const uintptr_t *)(sp0 + ((const uint32_t *)m->chk_end)[i - m->nbp]);
    return ((const uintptr_t *)(i == 0 ? m->pair0 : ((const memo_pair_t *)m->chk)[i - 1].next))[1];
}

/* Where the shape's stacks differ from its representative: at most this many
 * return addresses are hashed (the first that differ), a few loads. */
#define PROBE_KEY_WORDS 8

/* The probe's first way for this stack: a hash of the return addresses at
 * the shape's key positions, read where the representative 'rep' read them. */
LK_NO_ASAN static inline size_t probe_slot(const memo_t *rep, uint64_t key, uintptr_t pc0,
                                           uintptr_t sp0)
{
    uint64_t h = (uint64_t)pc0 ^ ((uint64_t)sp0 << 24);
    /* positions of the frames it has (a slot reused since keeps the key) */
    if (rep->nra < 64)
        key &= (UINT64_C(1) << rep->nra) - 1;
    for (; key != 0; key &= key - 1)
        h = rotl64(h, 19) + probe_word(rep, sp0, (unsigned)__builtin_ctzll(key));
    h *= UINT64_C(0xC2B2AE3D27D4EB4F);
    return ((size_t)(h >> (64 - PROBE_SLOTS_LOG2)) & lk_stack_probe_mask) & ~(size_t)1;
}

/* After the thread's last hit: the entry the probe finds, if it is this
 * stack.  No bounds check, as in memo_lookup: the representative was stored
 * by this thread with this sp0. */
LK_NO_ASAN static inline bool memo_probe(lk_frames_t *f, int max, uintptr_t pc0, uintptr_t sp0,
                                         uintptr_t bp0)
{
    memo_probe_t *p = tls_memo_probe;
    if (!p)
        return false;
    size_t s = probe_shape(pc0, sp0);
    const memo_t *rep = p->shape[s].rep;
    if (!rep || rep->pc0 != pc0 || rep->sp0 != sp0)
        return false;
    memo_t *const *ways = &p->slot[probe_slot(rep, p->shape[s].key, pc0, sp0)], *c;
    if (!((c = ways[0]) && memo_lookup(c, f, max, pc0, sp0, bp0)) &&
        !((c = ways[1]) && memo_lookup(c, f, max, pc0, sp0, bp0)))
        return false;
    tls_memo_mru[c->set] = c->way;
    tls_memo_last = c;
    tls_memo_hits++;
    tls_probe_hits++;
    return true;
}

/* This thread's probe tables, mmap'd when the set search first finds a stack
 * (its third sighting): a program whose stacks never come back pays nothing. */
static memo_probe_t *probe_table(void)
{
    static __thread int failed __attribute__((tls_model("initial-exec")));
    if (tls_memo_probe || failed)
        return tls_memo_probe;
    void *p = mmap(NULL, sizeof(memo_probe_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        failed = 1;
        return NULL;
    }
    tls_memo_probe = p;
    return p;
}

/* Entry 'c' (found by the set search, or just stored) is the stack being
 * captured: let the probe find it.  The shape's representative is its
 * deepest entry (its words cover the others'); the key grows by the first
 * positions where this stack differs from it, until it has PROBE_KEY_WORDS
 * (each growth moves every stack of the shape: each misses once more). */
LK_NO_ASAN static inline void probe_note(memo_t *c, uintptr_t pc0, uintptr_t sp0, bool make)
{
    memo_probe_t *p = make ? probe_table() : tls_memo_probe;
    if (!p)
        return;
    size_t s = probe_shape(pc0, sp0);
    const memo_t *rep = p->shape[s].rep;
    uint64_t key = p->shape[s].key;
    if (!rep || rep->pc0 != pc0 || rep->sp0 != sp0 || c->nra > rep->nra) {
        p->shape[s].rep = c;
        rep = c;
        key = 0;
    } else {
        unsigned nkey = 0;
        for (uint64_t b = key; b != 0; b &= b - 1)
            nkey++;
        const uintptr_t *val = memo_frames((memo_t *)rep) + 1;
        unsigned n = rep->nra < 64 ? rep->nra : 64;
        for (unsigned i = 0; i < n && nkey < PROBE_KEY_WORDS; i++) {
            if (!(key >> i & 1) && probe_word(rep, sp0, i) != val[i]) {
                key |= UINT64_C(1) << i;
                nkey++;
            }
        }
    }
    p->shape[s].key = key;
    memo_t **ways = &p->slot[probe_slot(rep, key, pc0, sp0)];
    if (ways[0] != c) {
        ways[1] = ways[0];
        ways[0] = c;
    }
}

/* The memo missed (or is off): look in the set, walk, remember the walk.  Out
 * of line: the walk log is kilobytes of stack the hit path should not touch. */
static inline __attribute__((always_inline)) void capture_miss_body(lk_frames_t *f, int max,
                                                                    uintptr_t pc0, uintptr_t sp0,
                                                                    uintptr_t bp0)
{
    int walk = WALK_UNTRUSTED;
    walk_log_t log;                 /* this walk's, then the learning unwind's scratch */
    if (lk_config.fast_unwind && stack_bounds()) {
        /* While sampling, captures are a few per thousand allocations: the
         * memo would be cold (page faults, cache misses) and a plain walk is
         * cheaper.  Off this
         * thread's stack (a coroutine's, a signal stack) no memo and no hint:
         * the hint's rbp chain may point anywhere below tls_stack_hi, unmapped
         * memory included, and the fast walk refuses such a stack anyway. */
        char *t = lk_config.sample_bytes == 0 && sp0 >= tls_stack_lo && sp0 < tls_stack_hi
                      ? memo_table(max) : NULL;
        memo_t *m = NULL;
        size_t m_set = 0;
        uintptr_t m_hint = 0;
        unsigned m_way = 0;
        if (t) {
            tls_memo_searches++;
            uintptr_t hint = caller_hint(pc0, sp0, bp0);
            size_t set = memo_set(pc0, sp0, hint);
            unsigned used = tls_memo_used[set];
            m_set = set;
            m_hint = hint;
            /* the ways of this hint: the set's 8 tags compared at once */
            const uint32_t *tags = memo_tags(t, set);
            __m128i h4 = _mm_set1_epi32((int)(uint32_t)hint);
            unsigned cand =
                (unsigned)_mm_movemask_ps(_mm_castsi128_ps(
                    _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)tags), h4))) |
                (unsigned)_mm_movemask_ps(_mm_castsi128_ps(
                    _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(tags + 4)), h4))) << 4;
            for (cand &= used; cand != 0; cand &= cand - 1) {
                unsigned w = (unsigned)__builtin_ctz(cand);
                memo_t *c = memo_way(t, set, w);
                if (memo_lookup(c, f, max, pc0, sp0, bp0)) {
                    tls_memo_mru[set] = (uint8_t)w;
                    tls_memo_last = c;
                    tls_memo_hits++;
                    probe_note(c, pc0, sp0, true);
                    return;
                }
            }
            /* first sighting: walk, remember nothing (tls_memo_seen) */
            uint64_t sk = ((uint64_t)pc0 ^ ((uint64_t)sp0 << 16) ^ ((uint64_t)hint * 31)) *
                          UINT64_C(0xC2B2AE3D27D4EB4F);
            unsigned bit = (unsigned)(sk >> (64 - 12));
            uint64_t *seen = &tls_memo_seen[bit / 64], bit_mask = UINT64_C(1) << (bit % 64);
            if (!(*seen & bit_mask)) {
                *seen |= bit_mask;
                t = NULL;
            }
        }
        if (t) {
            /* a way never filled (not even read), else round robin, keeping
             * the set's last hit */
            size_t set = m_set;
            unsigned used = tls_memo_used[set], mru = tls_memo_mru[set], w;
            if ((used & 0xffu) != 0xffu) {
                w = (unsigned)__builtin_ctz(~used & 0xffu);
            } else {
                w = tls_memo_rr++ % MEMO_WAYS;
                if (w == mru)
                    w = (w + 1) % MEMO_WAYS;
            }
            m = memo_way_for_store(t, set, w);
            m_way = w;
            tls_memo_mru[set] = (uint8_t)m_way;
        }
        uint32_t epoch = __atomic_load_n(&pc_var_epoch, __ATOMIC_ACQUIRE);
        walk = fast_walk(f, max, pc0, sp0, bp0, &log, 0);
        if (walk == WALK_OK) {
            tls_fast_walks++;
            lk_frames_hash(f);
            if (m) {
                memo_store(m, f, max, sp0, bp0, &log, epoch);   /* writes m->pc0 first */
                if (m->pc0 != 0) {      /* stored: else the way stays free */
                    memo_tags(t, m_set)[m_way] = (uint32_t)m_hint;
                    tls_memo_used[m_set] |= (uint8_t)(1u << m_way);
                    m->set = (uint16_t)m_set;
                    m->way = (uint8_t)m_way;
                    f->site_memo = m->site1;
                    tls_memo_last = m;
                    probe_note(m, pc0, sp0, false);
                }
            }
            return;
        }
    }
    tls_slow_walks++;
    /* A pc never seen: the learning unwind (slow: a DWARF lookup per frame)
     * teaches its rule.  Anything else (fast path off, a pc whose rules vary,
     * a full pc table) takes libunwind's own cached unw_backtrace.  Both are
     * counted for the dump (cost.unwinds_*): a fast path that silently stopped
     * working shows there. */
    if (walk == WALK_UNKNOWN && pc_used < PC_TABLE_SIZE / 4 * 3 && slow_walk(f, max, pc0, sp0, &log)) {
        __atomic_fetch_add(&unwinds_learning, 1, __ATOMIC_RELAXED);
    } else {
        __atomic_fetch_add(&unwinds_fallback, 1, __ATOMIC_RELAXED);
        capture_by_range(f, max);
    }
    lk_frames_hash(f);
}

/* capture()'s out-of-line paths keep errno (libunwind, mmap, pthread calls may
 * set it): malloc_exact saves it for none of the capture. */
static __attribute__((noinline)) void capture_search(lk_frames_t *f, int max, uintptr_t pc0,
                                                     uintptr_t sp0, uintptr_t bp0)
{
    int saved_errno = errno;
    capture_miss_body(f, max, pc0, sp0, bp0);
    errno = saved_errno;
}

/* The probe first, in a small frame: it sets no errno. */
static __attribute__((noinline)) void capture_miss(lk_frames_t *f, int max, uintptr_t pc0,
                                                   uintptr_t sp0, uintptr_t bp0)
{
    if (memo_probe(f, max, pc0, sp0, bp0))
        return;
    capture_search(f, max, pc0, sp0, bp0);
}

static __attribute__((noinline)) void capture_fallback(lk_frames_t *f, int max)
{
    int saved_errno = errno;
    __atomic_fetch_add(&unwinds_fallback, 1, __ATOMIC_RELAXED);
    capture_by_range(f, max);
    lk_frames_hash(f);
    errno = saved_errno;
}

/* Start a capture: no memo, no lazy frames; returns the depth to keep. */
static inline int capture_begin(lk_frames_t *f)
{
    f->site_memo = NULL;
    f->lazy = NULL;
    int max = (int)lk_config.max_depth;
    return max < 1 || max > LK_MAX_DEPTH ? LK_MAX_DEPTH : max;
}

/* Capture; on a memo hit the frames are left in the memo (f->lazy). */
static inline __attribute__((always_inline)) void capture(lk_frames_t *f)
{
    int max = capture_begin(f);
    uintptr_t pc0, sp0, bp0;
    if (lk_stack_backtrace != backtrace_default ||
        !user_start((uintptr_t *)__builtin_frame_address(0), &pc0, &sp0, &bp0)) {
        capture_fallback(f, max);
        return;
    }
    memo_t *last = tls_memo_last;
    /* (no LIBLEAK_FAST_UNWIND test: without it no entry is ever stored) */
    if (last && last->pc0 == pc0 && last->sp0 == sp0 && memo_lookup(last, f, max, pc0, sp0, bp0)) {
        tls_memo_hits++;
        return;
    }
    capture_miss(f, max, pc0, sp0, bp0);
}

/* Not noinline: the hook's after_alloc takes it in (LTO), which spares a call
 * and its spills on every allocation; user_start then starts from the hook's
 * frame, one libleak frame fewer to skip. */
void lk_stack_capture_lazy(lk_frames_t *f)
{
    capture(f);
}

__attribute__((noinline)) void lk_stack_capture(lk_frames_t *f)
{
    capture(f);
    lk_frames_materialize(f);
}

/* The full unwind alone, for tests that check the fast walk against it. */
__attribute__((noinline)) void lk_stack_capture_full(lk_frames_t *f)
{
    int max = capture_begin(f);
    uintptr_t pc0, sp0, bp0;
    if (!user_start((uintptr_t *)__builtin_frame_address(0), &pc0, &sp0, &bp0) ||
        !slow_walk(f, max, pc0, sp0, NULL))
        capture_by_range(f, max);
    lk_frames_hash(f);
}

const lk_stack_rec_t *lk_stack_get(uint32_t id)
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

/* A stack's frames are kept for the life of the process: they are cut from
 * an mmap'd arena, populated ahead, rather than malloc'd one by one (a
 * malloc cost as much as the rest of interning).  stack_lock held. */
#define KEY_ARENA_BYTES ((size_t)256 << 10)
static char *key_arena;
static size_t key_used, key_cap, key_ready;

static uintptr_t *key_alloc(size_t bytes)
{
    if (!key_arena || bytes > key_cap - key_used) {
        size_t cap = bytes > KEY_ARENA_BYTES ? bytes : KEY_ARENA_BYTES;
        void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        key_arena = p;          /* the last one's tail (< one key) is left */
        key_cap = cap;
        key_used = key_ready = 0;
    }
    lk_populate_ahead(key_arena, key_cap, key_used + bytes, &key_ready);
    uintptr_t *k = (uintptr_t *)(key_arena + key_used);
    key_used += bytes;
    return k;
}

uint32_t lk_stack_intern(const lk_frames_t *f)
{
    size_t keylen = ((size_t)f->depth + 1) * sizeof(uintptr_t);
    uintptr_t key[LK_MAX_DEPTH + LK_SKIP_MAX + 2];
    memcpy(key, f->pc, (size_t)f->depth * sizeof(uintptr_t));
    key[f->depth] = (uintptr_t)f->truncated | (uintptr_t)f->jit_cut << 1;

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
        stack_ready = 0;
    }
    /* stacks fill a chunk in order: its pages come in 16 KiB at a time */
    lk_populate_ahead(stack_chunks[c], CHUNK_SIZE * sizeof(stack_entry_t),
                      ((n & (CHUNK_SIZE - 1)) + 1) * sizeof(stack_entry_t), &stack_ready);
    size_t k_used = key_used;
    char *k_arena = key_arena;
    uintptr_t *k = key_alloc(keylen);
    if (!k)
        goto out_unlock;
    memcpy(k, key, keylen);
    e = &stack_chunks[c][n & (CHUNK_SIZE - 1)];
    e->pub.id = n;
    e->pub.depth = f->depth;
    e->pub.truncated = f->truncated;
    e->pub.jit_cut = f->jit_cut;
    e->pub.hash = f->hash;
    e->pub.pc = k;
    e->key = k;
    stack_oom = false;
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, stack_hash, e->key, keylen, hv, e);
    if (stack_oom) {
        if (key_arena == k_arena)
            key_used = k_used;  /* given back */
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

/* atfork: unwind_lock first (a thread inside libunwind takes pc_lock, in
 * pc_learn); pc_lock is a leaf (pc_learn takes nothing under it), so it comes
 * last.  Without it a child forked while another thread learned a pc
 * inherited it held and hung in its first slow walk. */
void lk_stack_lock(void)
{
    pthread_rwlock_wrlock(&unwind_lock);
    pthread_mutex_lock(&stack_lock);
    pthread_mutex_lock(&pc_lock);
}

void lk_stack_unlock(void)
{
    pthread_mutex_unlock(&pc_lock);
    pthread_mutex_unlock(&stack_lock);
    pthread_rwlock_unlock(&unwind_lock);
}

void lk_stack_reset_after_fork(void)
{
    pthread_mutex_unlock(&pc_lock);
    pthread_mutex_unlock(&stack_lock);
    /* A fresh lock, not an unlock: the parent's waiting readers, counted in
     * the lock's state, do not exist here. */
    unwind_lock = (pthread_rwlock_t)PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
}

void lk_stack_forget_memos(void)
{
    __atomic_fetch_add(&pc_var_epoch, 1, __ATOMIC_RELEASE);    /* every entry dies */
}

void lk_stack_reset_for_tests(void)
{
    pthread_mutex_lock(&stack_lock);
    HASH_CLEAR(hh, stack_hash);
    key_used = 0;               /* the frames' arena is reused (earlier ones are left) */
    for (uint32_t c = 0; c < MAX_CHUNKS && stack_chunks[c]; c++)
        memset(stack_chunks[c], 0, CHUNK_SIZE * sizeof(stack_entry_t));
    __atomic_store_n(&stack_n, 0, __ATOMIC_RELEASE);
    stack_bytes = 0;
    pthread_mutex_unlock(&stack_lock);
}

/* libgcc's unwinder, which is loaded anyway, not libunwind, which may not be. */
int lk_stack_outer_frame(bool (*skip)(uintptr_t pc, void *arg), void *arg, uintptr_t above,
                         uintptr_t *sp, uintptr_t regs[6])
{
    return lk_unwind_outer_frame(skip, arg, above, sp, regs);
}
