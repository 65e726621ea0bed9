/* internal.h - the map of libleak.so: every cross-file declaration of the preload.
 * Each file calls only files below it (preload/README.md, "Layers"): hooks, trigger,
 * dump, dump_sections and modules, scan, signals, timeline, tracker, stack, groups,
 * table, json, runtime, config, log, heap.
 * Nothing declared here is exported from libleak.so (-fvisibility=hidden); only
 * hooks.c and the libleak_* API are, through preload/libleak.map. */
#ifndef LK_INTERNAL_H
#define LK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "libleak/dump.h"
#include "json.h"               /* json_* are libleak's private jansson (json.h) */

/* Test seams (STYLE 2.7, jemalloc JET_MUTABLE): function pointers that are const
 * in the release .so and assignable in the unit-test core (-DLK_TESTING). */
#ifdef LK_TESTING
#define LK_SEAM
#else
#define LK_SEAM const
#endif

#define lk_likely(x)   __builtin_expect(!!(x), 1)
#define lk_unlikely(x) __builtin_expect(!!(x), 0)

/* ### config (config.c, options in config.def) */
#define LK_TYPE_LK_STR   const char *
#define LK_TYPE_LK_INT   long
#define LK_TYPE_LK_BOOL  int
#define LK_TYPE_LK_BYTES uint64_t
typedef struct lk_config {
#define LK_OPT(name, field, kind, def, lo, hi, meaning) LK_TYPE_##kind field;
#include "config.def"
#undef LK_OPT
    /* derived */
    unsigned watermark_percent;  /* LIBLEAK_WATERMARK given as N%, else 0 */
} lk_config_t;

extern lk_config_t lk_config;

/* Parse every LIBLEAK_* option from the environment into lk_config ('getenv_fn'
 * may be NULL for getenv).  A bad value prints one warning and keeps the default.
 * Allocation-free.  Returns the number of bad values. */
int lk_config_load(const char *(*getenv_fn)(const char *name));
/* Make a relative LIBLEAK_DIR absolute against the current directory (at start). */
void lk_config_resolve_dir(void);
/* Parse one byte count: "123", "64K", "2M", "1G" (binary units).  Returns 0 or -EINVAL. */
int lk_config_parse_bytes(const char *s, uint64_t *out);
/* At start: warn once if dumps cannot be written into LIBLEAK_DIR; its errno
 * (0 when usable) stays in lk_config_dir_errno. */
void lk_config_check_dir(void);
extern int lk_config_dir_errno;
/* Warn once if the environment entry 'entry' ("NAME=value") looks like a
 * LIBLEAK_* setting but names none, naming the closest one.  Returns 1 if so. */
int lk_config_check_name(const char *entry);
/* Copy the command line at start, from 'argv' (a constructor's argc and
 * argv) or, when argv is NULL, from /proc/self/cmdline; lk_config_cmdline
 * returns that copy (NUL-separated, '*len' bytes, 0 if it could not be read). */
void lk_config_save_cmdline(int argc, char *const *argv);
const char *lk_config_cmdline(size_t *len);

/* ### log (log.c): allocation-free diagnostics, one write(2) per line */
/* Print "libleak: <message>\n" to the log (the stderr of the start, or
 * LIBLEAK_LOG), unless LIBLEAK_QUIET is set.
 * Formats with vsnprintf into a stack buffer; never allocates. */
void lk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, but printed even when LIBLEAK_QUIET is set. */
void lk_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* LIBLEAK_QUIET as config.c loaded it (log.c sits below config.c). */
extern int lk_log_quiet;
/* Seam: where lk_log writes (default write(2) on lk_log_fd()). */
extern ssize_t (*LK_SEAM lk_log_write)(int fd, const void *buf, size_t n);
/* At start, before the config: remember which file fd 2 is; from then on a
 * message is dropped when fd 2 no longer is that file. */
void lk_log_start(void);
/* Send messages to the file 'path' (appended, O_CLOEXEC, one descriptor), or
 * back to the stderr of the start when NULL.  Returns 0 or -errno. */
int lk_log_open(const char *path);
/* The descriptor messages go to (-1: none). */
int lk_log_fd(void);

/* ### guard (runtime.c): per-thread reentrancy guard */
/* While non-zero the hooks pass straight through to libc and count nothing.
 * initial-exec TLS, so touching it never allocates. */
extern __thread int lk_tls_guard __attribute__((tls_model("initial-exec")));
static inline void lk_guard_release(int *prev) { lk_tls_guard = *prev; }
/* Non-zero while this thread is inside the real allocator (hooks.c wraps
 * every call with LK_REAL): a signal handler that calls _exit then must not
 * get an exit dump, which allocates and would wait for the allocator's lock
 * that the interrupted call holds. */
extern __thread int lk_tls_in_real __attribute__((tls_model("initial-exec")));
#define LK_REAL(expr) __extension__({                                             \
        lk_tls_in_real++;                                                         \
        __typeof__(expr) lk_real_r_ = (expr);                                     \
        lk_tls_in_real--;                                                         \
        lk_real_r_;                                                               \
    })
#define LK_REAL_VOID(expr) do { lk_tls_in_real++; expr; lk_tls_in_real--; } while (0)

/* ### entry frame (scan_roots.c): where this thread entered libleak on a
 * path that can dump (the exit destructor, _exit, the dumper thread, the
 * API).  The scan reads this thread's stack only from 'sp' up, so libleak's
 * own frames are never roots, and takes 'regs' (the caller's callee-saved
 * registers, which libleak's frames save below 'sp') as its registers. */
typedef struct lk_entry {
    uintptr_t sp;               /* 0: not inside such an entry */
    uintptr_t regs[6];
    int outer;                  /* called from libc's exit: bound at the program's frame */
} lk_entry_t;
extern __thread lk_entry_t lk_tls_entry __attribute__((tls_model("initial-exec")));
static inline __attribute__((always_inline)) lk_entry_t lk_entry_enter(uintptr_t sp)
{
    lk_entry_t prev = lk_tls_entry;
#if defined(__x86_64__)
    __asm__ volatile("mov %%rbx, %0\n\tmov %%rbp, %1\n\tmov %%r12, %2\n\t"
                     "mov %%r13, %3\n\tmov %%r14, %4\n\tmov %%r15, %5"
                     : "=m"(lk_tls_entry.regs[0]), "=m"(lk_tls_entry.regs[1]),
                       "=m"(lk_tls_entry.regs[2]), "=m"(lk_tls_entry.regs[3]),
                       "=m"(lk_tls_entry.regs[4]), "=m"(lk_tls_entry.regs[5]));
#endif
    lk_tls_entry.sp = sp;
    lk_tls_entry.outer = 0;
    return prev;
}
static inline void lk_entry_leave(lk_entry_t *prev) { lk_tls_entry = *prev; }
/* Use as the first statement of an entry: LK_ENTRY; - records this frame
 * until the function returns. */
#define LK_ENTRY                                                                  \
    lk_entry_t LK_GUARD_CAT(lk_entry_prev_, __LINE__) __attribute__((cleanup(lk_entry_leave))) \
        = lk_entry_enter((uintptr_t)__builtin_frame_address(0))

/* This thread's errno, through a pointer it keeps: the hooks save and restore
 * errno around every tracked call, and each errno is a call of
 * __errno_location through the PLT (four a malloc/free pair).  The address
 * is the thread's for its life, and a fork child's is the parent's. */
extern __thread int *lk_tls_errno __attribute__((tls_model("initial-exec")));
static inline int *lk_errno_ptr(void)
{
    int *p = lk_tls_errno;
    if (__builtin_expect(p == NULL, 0))
        p = lk_tls_errno = &errno;
    return p;
}

/* Use as: LK_GUARD; ... - sets the guard for the rest of the scope and restores
 * it on every exit, including a C++ exception unwinding through a hook. */
#define LK_GUARD_CAT2(a, b) a##b
#define LK_GUARD_CAT(a, b) LK_GUARD_CAT2(a, b)
#define LK_GUARD                                                                  \
    int LK_GUARD_CAT(lk_guard_prev_, __LINE__) __attribute__((cleanup(lk_guard_release))) \
        = lk_tls_guard;                                                           \
    lk_tls_guard = 1

/* ### real allocator (runtime.c; the pointers are installed by hooks.c in the .so, plain libc in the test core) */
/* The next malloc/free in the lookup order, never our hooks.  Used for all of
 * libleak's own memory: uthash tables, dump buffers.  Safe without the guard. */
typedef struct lk_real_fns {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    size_t (*usable)(void *);   /* malloc_usable_size */
} lk_real_fns_t;
extern lk_real_fns_t lk_real;   /* NULL members fall back to libc (test core) */
void *lk_real_malloc(size_t n);
void lk_real_free(void *p);
void *lk_real_calloc(size_t n, size_t size);
void *lk_real_realloc(void *p, size_t n);
/* malloc_usable_size of a block of the real allocator (0 before hooks.c
 * installed lk_real). */
size_t lk_real_usable(void *p);

/* ### bump regions: blocks with their requested size in the 16 bytes in
 * front, never freed (hooks.c's bootstrap arena, runtime.c's exit arena).
 * Lock-free, so a signal handler may allocate in the middle of another
 * allocation.  NULL once 'size' bytes are used. */
typedef struct lk_bump {
    char *base;                 /* 16-aligned */
    size_t size;
    size_t used;                /* atomic bump offset */
} lk_bump_t;

static inline void *lk_bump_alloc(lk_bump_t *b, size_t n, size_t align)
{
    if (align < 16)
        align = 16;
    if (n > b->size || align > b->size)
        return NULL;
    size_t need = ((n + 15) & ~(size_t)15) + 16 + align;   /* header, padding */
    size_t off = __atomic_fetch_add(&b->used, need, __ATOMIC_RELAXED);
    if (off > b->size || need > b->size - off)
        return NULL;
    uintptr_t q = ((uintptr_t)b->base + off + 16 + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)q)[-1] = n;
    return (void *)q;
}

/* The requested size of a bump block. */
static inline size_t lk_bump_size(const void *p)
{
    return ((const size_t *)p)[-1];
}

/* ### exit arena (runtime.c): memory for an exit dump that may have
 * interrupted the real allocator (sampling mode; see runtime.c) */
extern __thread int lk_tls_exit_arena __attribute__((tls_model("initial-exec")));
extern int lk_exit_arena_on;    /* atomic: some thread entered */
/* Make this thread's allocations (lk_real_*, and the hooks while its guard
 * is set) come from the exit arena from now on.  False if another thread
 * entered first or no address space is left: then write no dump. */
bool lk_exit_arena_enter(bool must);     /* must: say so when none can be mapped */
bool lk_exit_arena_owns(const void *p);
void *lk_exit_arena_alloc(size_t n, size_t align);
void *lk_exit_arena_realloc(void *p, size_t n);
/* Its address space and resident bytes, for the cost section (0 before use). */
void lk_exit_arena_cost(uint64_t *mapped, uint64_t *resident);
/* Must a free of 'p' be ignored?  While this thread writes the exit dump
 * (it frees nothing: the block may be the real allocator's, whose lock the
 * interrupted call may hold), and for the arena's own blocks. */
static inline bool lk_exit_arena_keeps(const void *p)
{
    return lk_unlikely(__atomic_load_n(&lk_exit_arena_on, __ATOMIC_RELAXED)) &&
           (lk_tls_exit_arena || lk_exit_arena_owns(p));
}

/* ### heap (heap.c): the dumper thread's memory, never a glibc arena.
 * While lk_tls_heap is set (the dumper thread), lk_real_* and the hooks'
 * guarded calls allocate here. */
extern __thread int lk_tls_heap __attribute__((tls_model("initial-exec")));
void *lk_heap_alloc(size_t n, size_t align);    /* NULL and ENOMEM if no room */
void *lk_heap_calloc(size_t n, size_t size);    /* zeroed */
/* 'p' is NULL or the heap's (lk_real_realloc moves a real allocator's block). */
void *lk_heap_realloc(void *p, size_t n);
void lk_heap_free(void *p);
bool lk_heap_owns(const void *p);               /* lock-free */
size_t lk_heap_size(const void *p);             /* the requested size of a block */
uint64_t lk_heap_mapped_bytes(void);            /* address space of the chunks */
void lk_heap_install_atfork(void);              /* before lk_trigger_start_tracking */

/* Write-fault [p, p + len) of a private anonymous mapping in with one call:
 * on a VM a page fault costs 10-14 us, this about 1.3 us a page (errno kept). */
void lk_populate(void *p, size_t len);
/* A mapping of 'cap' bytes at 'base' filled from its start: bytes up to
 * 'need' are about to be written, '*ready' are populated; populate to 'need'
 * rounded up to LK_POPULATE_STEP, and update '*ready'. */
#define LK_POPULATE_STEP ((size_t)16 << 10)
void lk_populate_ahead(void *base, size_t cap, size_t need, size_t *ready);
/* Every mapping libleak makes is counted (the dump's cost section): mmap and
 * munmap in the preload's files are these, which call the real ones. */
void *lk_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int lk_munmap(void *addr, size_t len);
#define mmap lk_mmap
#define munmap lk_munmap
/* The address space of libleak's mappings, and how much of it is resident. */
uint64_t lk_mapped_bytes(void);
uint64_t lk_mapped_resident_bytes(void);

/* ### stack (stack.c): capture and interning */
#define LK_MAX_DEPTH 256        /* upper bound of LIBLEAK_DEPTH */
#define LK_STACK_NONE UINT32_MAX
/* lk_table_foreach's stack id for a block a forked child inherited */
#define LK_STACK_INHERITED (UINT32_MAX - 1)

#define LK_SKIP_MAX 32          /* room for libleak's own innermost frames */
typedef struct lk_frames {
    uintptr_t pc[LK_MAX_DEPTH + LK_SKIP_MAX + 1]; /* return addresses, innermost first */
    uint32_t depth;             /* valid entries in pc[] */
    bool truncated;             /* more frames existed beyond max_depth */
    bool jit_cut;               /* the last frame is code without unwind
                                 * information (JIT): the walk stopped there */
    uint64_t hash;              /* of pc[0..depth) and depth */
    uint32_t *site_memo;        /* this walk's remembered sites (index + 1 per
                                 * family), or NULL; see stack.c's memo */
    const void *lazy;           /* non-NULL: pc[], depth, truncated and hash are
                                 * not filled yet; they are in this memo entry
                                 * (this thread's; valid until its next capture) */
} lk_frames_t;

/* Fill f->pc, depth, truncated and hash from f->lazy (stack.c). */
void lk_stack_materialize(lk_frames_t *f);
/* Fill in lazily kept frames (lk_stack_capture_lazy). */
static inline void lk_frames_materialize(lk_frames_t *f)
{
    if (f->lazy)
        lk_stack_materialize(f);
}

/* One interned stack.  Immutable once published; lives until process exit. */
typedef struct lk_stack_rec {
    uint32_t id;                /* index in the stack array, never reused */
    uint32_t depth;
    bool truncated;
    bool jit_cut;               /* ends at code without unwind information */
    uint64_t hash;
    uintptr_t *pc;              /* 'depth' frames */
} lk_stack_rec_t;

/* Capture the caller's stack into 'f' (up to lk_config.max_depth frames after
 * skipping libleak's own frames).  Takes no lock; may allocate inside libunwind,
 * so the caller holds the guard. */
void lk_stack_capture(lk_frames_t *f);
/* The same, but a memo hit leaves the frames in the memo (f->lazy): for the
 * allocation hook, which needs them only when the memo does not know the site.
 * Only f->site_memo is set then: call lk_frames_materialize() before reading
 * f->pc, depth, truncated or hash. */
void lk_stack_capture_lazy(lk_frames_t *f);
/* The same with libunwind only (no frame-size cache); tests compare the two. */
void lk_stack_capture_full(lk_frames_t *f);
/* sigprocmask while this thread is inside one of libleak's unwinds, which
 * block every signal once: acts on a virtual mask and returns 0 (-1: 'how' is
 * invalid).  Returns 1 outside them: the caller makes the real call.  For
 * hooks.c's sigprocmask, which is libunwind's. */
int lk_stack_sigmask(int how, const sigset_t *set, sigset_t *old);
/* Captures of the calling thread that took the fast walk / the full unwind,
 * and those of the fast ones that the walk memo answered. */
void lk_stack_walk_stats(uint64_t *fast, uint64_t *slow, uint64_t *memo_hits);
/* Of the calling thread's memo hits, those the probe found; and its captures
 * that searched a memo set (after the last hit and the probe missed). */
void lk_stack_memo_stats(uint64_t *probe_hits, uint64_t *set_searches);
/* The probe's slot mask (tests: 0 makes every stack collide). */
extern uint32_t LK_SEAM lk_stack_probe_mask;
/* Invalidate every thread's walk memo entries (and the site indexes they
 * remember): the tracker's test reset. */
void lk_stack_forget_memos(void);
/* The frame-rule table (tests): learn an SP rule for 'pc'; whether 'pc' is
 * known (and its delta); how many of the table's pages are resident. */
void lk_stack_pc_teach(uintptr_t pc, uint32_t delta);
bool lk_stack_pc_known(uintptr_t pc, uint32_t *delta);
size_t lk_stack_pc_table_pages(void);
/* Is 'pc' found by the pc table's quick index, in one look (tests)? */
bool lk_stack_pc_quick(uintptr_t pc);
/* Where the calling thread's stack bounds came from (tests): 1 the initial
 * thread's from __libc_stack_end, 2 pthread_getattr_np, 0 not asked yet. */
int lk_stack_bounds_source(void);
/* This thread's walk memo (tests): where its entries start, their stride, and
 * how many slots have been handed out (entries are packed from the start). */
void lk_stack_memo_layout(uintptr_t *entries, size_t *stride, uint32_t *nslots);
/* Hash f->pc[0..depth) into f->hash. */
void lk_frames_hash(lk_frames_t *f);
/* Return the stable id of 'f' (which must be hashed), interning it if new.
 * Takes the stack lock; allocates through lk_real_malloc.  Returns LK_STACK_NONE
 * when memory ran out (the caller counts a dropped event). */
uint32_t lk_stack_intern(const lk_frames_t *f);
/* The stack with 'id', or NULL.  Lock-free: stacks never move or change. */
const lk_stack_rec_t *lk_stack_get(uint32_t id);
/* Number of stacks interned so far (ids 0..n-1 are valid).  Lock-free. */
uint32_t lk_stack_count(void);
/* Bytes of memory used by the stack table. */
size_t lk_stack_memory_bytes(void);
/* Captures, process-wide, that ran libunwind: learning unwinds (a return
 * address never seen) and unw_backtrace fallbacks (fast walk impossible). */
void lk_stack_unwind_counts(uint64_t *learning, uint64_t *fallback);
/* Return addresses whose rule was read from the CFI (cfi.c) instead of a
 * libunwind step, and CFI rules a libunwind step contradicted (never, unless
 * cfi.c is wrong: the pc is then not walked fast). */
void lk_stack_cfi_counts(uint64_t *rules, uint64_t *disagreements);
/* Whether the fast walk reads a new return address's rule from the CFI
 * (a seam: tests turn it off to make libunwind learn). */
extern LK_SEAM bool lk_stack_learn_from_cfi;
/* Learning unwinds that handed the rest of the stack to the fast walk. */
uint64_t lk_stack_handovers(void);
/* Does the .eh_frame_hdr of a loaded module surely hold an FDE covering
 * 'pc'?  (false: libunwind decides; tests compare the two.) */
bool lk_stack_fde_covers(uintptr_t pc);
/* Ranges of code without unwind information remembered so far: pages of
 * generated code outside every module, and return addresses inside a module
 * that no FDE covers. */
uint64_t lk_stack_jit_ranges(void);
/* Frames whose address lies in [lo, hi) are libleak's own and skipped when
 * they are innermost. */
void lk_stack_set_self_range(uintptr_t lo, uintptr_t hi);
/* Does 'pc' lie in libleak.so (the range above)? */
bool lk_stack_is_self(uintptr_t pc);
/* Walk up from the caller's frame to the first frame whose stack pointer is
 * above 'above' and whose pc 'skip' refuses; give its stack pointer and
 * (x86-64) rbx, rbp, r12-r15 as that frame sees them.  1 found, 0 the stack
 * ended first, -1 libunwind failed or the walk was too long. */
int lk_stack_outer_frame(bool (*skip)(uintptr_t pc, void *arg), void *arg, uintptr_t above,
                         uintptr_t *sp, uintptr_t regs[6]);
/* Seam: the unwinder (default unw_backtrace). */
extern int (*LK_SEAM lk_stack_backtrace)(void **buf, int size);
/* Take/release the stack lock (atfork). */
void lk_stack_lock(void);
void lk_stack_unlock(void);
void lk_stack_reset_after_fork(void);
void lk_stack_reset_for_tests(void);

/* ### table (table.c): the live-block table, sharded open addressing */
/* A block record: the requested size (40 bits, saturated), the site index (24
 * bits) and the family.  table.c packs it into a 12-byte slot with the
 * pointer (sizes of 16 MiB and more are kept aside). */
#define LK_SIZE_BITS 40
#define LK_SIZE_MAX  ((UINT64_C(1) << LK_SIZE_BITS) - 1)
#define LK_SITE_BITS 24
#define LK_SITE_MAX  ((UINT32_C(1) << LK_SITE_BITS) - 1)
/* Per-thread site delta slots (tracker.c): sites i and i + LK_ACCT_SLOTS share
 * one, and evict each other's deltas into the site. */
#define LK_ACCT_SLOTS 1024

typedef struct lk_block {
    uint64_t size;              /* requested bytes, saturated at LK_SIZE_MAX */
    uint32_t site;              /* index of the site that allocated it */
    int family;                 /* lk_family_t */
} lk_block_t;

int lk_table_init(void);
/* Record 'ptr' (4-byte aligned, non-NULL, below 2^48).  Takes one shard lock;
 * O(1) amortised (a shard grows its table under its lock).  Returns 0, -ENOMEM
 * when the shard cannot grow, -EINVAL for a pointer a slot cannot hold, -EEXIST
 * if already present. */
int lk_table_insert(uintptr_t ptr, const lk_block_t *b);
/* Remove 'ptr' and copy its record to 'out'.  Returns 0 or -ENOENT. */
int lk_table_remove(uintptr_t ptr, lk_block_t *out);
/* The same, returning with the block's shard lock still held (or NULL when
 * no lock was taken), so that the caller can account the change under it;
 * '*rc' is what the plain call returns.  Release with lk_table_release().
 * Whoever holds every shard lock (lk_table_lock_all) thereby excludes all
 * such accounting: see tracker.c's per-thread deltas. */
void *lk_table_insert_hold(uintptr_t ptr, const lk_block_t *b, int *rc);
void *lk_table_remove_hold(uintptr_t ptr, lk_block_t *out, int *rc);
void lk_table_release(void *held);
/* Start loading the slot where 'ptr' would go (a cache miss in a big table),
 * to overlap it with other work before the insert or remove.  No lock. */
void lk_table_prefetch(uintptr_t ptr);
/* Hold one shard lock (for accounting outside an insert or remove). */
void *lk_table_hold_any(void);
/* The table's hash of a block: a Fibonacci hash of its 4 KiB page, whose top
 * bits pick the shard and the rest a window of 512 slots in it, and in the
 * low 9 bits the block's 8-byte unit within the page, its place in the
 * window (a shard's array smaller than 512 slots is one window).  Blocks of one page (allocated one after another, or by one thread)
 * share a shard and nearby slots (table.c's home_of; preload/README.md has
 * the measurements). */
#define LK_TABLE_SHARDS_LOG2 6
static inline uint64_t lk_table_ptr_hash(uintptr_t ptr)
{
    return (((uint64_t)(ptr >> 12) * UINT64_C(0x9E3779B97F4A7C15)) & ~(uint64_t)511) |
           ((ptr >> 3) & 511);
}
/* While sampling, 1 for each shard that holds a block (written under the shard
 * lock on 0 <-> 1 transitions only; exact mode leaves it alone). */
extern uint8_t lk_table_occupied[1u << LK_TABLE_SHARDS_LOG2];
/* Could 'ptr' be in the table?  While sampling: false when its shard is empty
 * (lock-free; see lk_table_remove), so the free of an unsampled block skips
 * the guard, errno and the lock.  Exact mode: always true (every free is
 * looked up, and a miss is an untracked free). */
static inline bool lk_table_may_hold(uintptr_t ptr)
{
    if (lk_likely(lk_config.sample_bytes == 0))
        return true;
    return __atomic_load_n(&lk_table_occupied[lk_table_ptr_hash(ptr) >> (64 - LK_TABLE_SHARDS_LOG2)],
                           __ATOMIC_RELAXED) != 0;
}
/* Is 'ptr' live?  Copies its record when 'out' is non-NULL. */
bool lk_table_lookup(uintptr_t ptr, lk_block_t *out);
/* Live blocks now (sum over shards, racy but never torn per shard). */
size_t lk_table_count(void);
/* Bytes of memory used by the table (mmap'd slots and shard headers). */
size_t lk_table_memory_bytes(void);

/* --- the reachability scan's interface (preload/scan.c uses exactly these) --- */
/* Stop concurrent alloc/free: take all shard locks, in index order. */
void lk_table_lock_all(void);
void lk_table_unlock_all(void);
/* Call 'cb' for every live block; caller holds lk_table_lock_all().  'stack_id'
 * is the id of the allocating stack (stacks[].id), 'family' an lk_family_t.
 * 'cb' must not allocate through the hooks without the guard held. */
/* The stack id of a site index (installed by tracker.c, above this file;
 * NULL: every block reports LK_STACK_NONE). */
extern uint32_t (*lk_table_site_stack)(uint32_t site);
void lk_table_foreach(void (*cb)(uintptr_t ptr, size_t size, uint32_t stack_id,
                                 int family, void *arg), void *arg);
/* Address ranges [lo, hi) of libleak's own table memory (block slots, site and
 * stack arrays), so the scan can skip them as roots.  Writes at most 'max'
 * ranges and returns how many exist (may exceed 'max'). */
size_t lk_table_memory_ranges(uintptr_t (*ranges)[2], size_t max);
void lk_table_reset_after_fork(void);
void lk_table_reset_for_tests(void);

/* ### tracker (tracker.c): sites, totals, mismatches, failures */
/* One site: a (stack, family) pair that allocated.  Sites live in a chunked array
 * and never move, so hooks update them with relaxed atomics and no lock. */
typedef struct lk_site_rec {
    /* read-mostly line: identity and maxima (written only on a new maximum) */
    uint32_t stack;             /* stack id */
    uint32_t family;            /* lk_family_t */
    uint64_t peak_live_bytes;   /* atomic, max */
    uint64_t max_request_bytes; /* atomic, max */
    uint32_t shared;            /* atomic: freed by a thread whose deltas did not
                                 * hold it; counted with atomics from then on */
    char pad_[36];
    /* hot line: updated by every allocation and free at this site */
    uint64_t total_blocks __attribute__((aligned(64)));  /* atomic */
    uint64_t total_bytes;       /* atomic */
    uint64_t freed_blocks;      /* atomic */
    uint64_t live_bytes;        /* atomic */
} __attribute__((aligned(64))) lk_site_rec_t;

/* Snapshot of the process-wide counters. */
typedef struct lk_totals {
    uint64_t live_bytes, live_blocks, peak_live_bytes;
    uint64_t alloc_count, alloc_bytes, free_count;
    uint64_t failed_count, untracked_frees, mismatched_frees, dropped_events;
} lk_totals_t;

/* Initialise the tracker (tables, config must be loaded).  Idempotent.  Returns 0
 * or -ENOMEM. */
int lk_tracker_init(void);
bool lk_tracker_ready(void);

/* Hot path, called by hooks with the guard held and the stack already captured.
 * Record a new block 'ptr' of 'size' requested bytes from stack 'f' (hashed). */
void lk_track_alloc(void *ptr, size_t size, int family, lk_frames_t *f);
/* Same for a block whose site index is already known (tests); 'family' must
 * be the site's own (the site is not read, to spare a cache miss). */
void lk_track_alloc_site(void *ptr, size_t size, uint32_t site, int family);
/* Forget 'ptr' before it is freed by 'family''s deallocator.  Unknown pointers
 * count as untracked frees.  A family mismatch captures the free stack and is
 * recorded.  Returns true when the pointer was tracked. */
bool lk_track_free(void *ptr, int family);
/* lk_track_free's common case, for free()'s fast path: untrack 'ptr' and
 * return true when it is tracked and this thread keeps counter deltas;
 * otherwise change nothing and return false (the caller then takes
 * lk_track_free's path).  Exact mode only.  Keeps errno: it makes no call
 * that can set it, and its rare paths save it. */
bool lk_track_free_fast(void *ptr, int family);
/* realloc support: take the record of 'ptr' out without accounting (returns
 * false if unknown), then either commit the free or put it back unchanged. */
bool lk_track_detach(void *ptr, lk_block_t *out);
void lk_track_commit_free(const lk_block_t *b);
/* Commit the free of detached 'b' by 'free_family''s deallocator, recording a
 * mismatch (with the free stack) when the families differ. */
void lk_track_release(const lk_block_t *b, int free_family);
void lk_track_reattach(void *ptr, const lk_block_t *b);
/* realloc's success in exact mode: record the new block 'ptr' of 'size' bytes
 * at stack 'f' (family malloc) and commit the free of 'old' (detached before
 * the real call; NULL for realloc(NULL, n) or an untracked pointer), both
 * under the new block's shard lock, in one delta update when the site is the
 * same; then check old's family.  Keeps errno. */
void lk_track_realloc(void *ptr, size_t size, const lk_block_t *old, lk_frames_t *f);
/* Record a failed or implausible request of 'size' bytes by 'function' at stack
 * 'f' (captured by the caller).  Counted in totals.failed_count unless implausible. */
void lk_track_failure(int kind, const char *function, uint64_t size, const lk_frames_t *f);
/* Count an event that could not be recorded (table full, out of memory). */
void lk_track_dropped(void);
/* Count a free of a pointer libleak never saw (not counted while sampling:
 * unsampled blocks are never in the table, so their frees are expected misses). */
void lk_track_untracked_free(void);

/* ### sampling (tracker.c): LIBLEAK_SAMPLE_BYTES=N, as in jemalloc/tcmalloc
 * Each thread counts down bytes from a draw of an exponential distribution of
 * mean N; the allocation that reaches zero is tracked and a new countdown is
 * drawn.  A block of s bytes is thus tracked with probability
 * p(s) = 1 - exp(-s/N), and stands for 1/p(s) blocks and s/p(s) bytes: the site
 * counters accumulate those estimates (blocks in 1/2^LK_SAMPLE_FX_SHIFT units,
 * rounded by lk_site_snapshot).  Exact mode (N = 0) keeps the countdown at 0,
 * so every allocation is tracked. */
#define LK_SAMPLE_FX_SHIFT 16
extern __thread uint64_t lk_tls_sample_left __attribute__((tls_model("initial-exec")));
/* Slow side of lk_sample_skip (sampling on, the countdown reached): draw the
 * next countdown; returns whether the allocation of 'n' bytes goes untracked
 * (only on a thread's first allocation, whose countdown is drawn first, so a
 * new thread's first block is not always tracked). */
bool lk_sample_rearm(size_t n);
/* Hot path: should this allocation of 'n' bytes go untracked?  One compare
 * while the countdown lasts. */
static inline bool lk_sample_skip(size_t n)
{
    uint64_t left = lk_tls_sample_left;
    if (lk_likely(n < left)) {
        lk_tls_sample_left = left - n;
        return true;
    }
    if (lk_unlikely(lk_config.sample_bytes != 0))
        return lk_sample_rearm(n);
    return false;
}
/* Seed every thread's generator from 'seed' (unit tests: reproducible runs);
 * resets the calling thread's countdown and generator. */
void lk_sample_seed(uint64_t seed);
/* What a tracked block of 's' bytes stands for while sampling: estimated bytes,
 * and blocks in 1/2^LK_SAMPLE_FX_SHIFT units.  (Exact mode never calls it.) */
void lk_sample_weight(uint64_t s, uint64_t *bytes, uint64_t *blocks_fx);

/* Site lookup/creation for (stack, family); returns the site index or
 * LK_SITE_MAX+1 when memory ran out.  Takes the site lock on a miss of the
 * per-thread cache. */
uint32_t lk_site_get(lk_frames_t *f, int family);
uint32_t lk_site_get_by_stack(uint32_t stack_id, int family);
lk_site_rec_t *lk_site_at(uint32_t idx);
uint32_t lk_site_count(void);
/* In a forked child: sites [0, lk_site_base) are the parent's, and their live
 * blocks are inherited (allocated before the fork by lk_forked_from, the
 * parent's pid); 0 and 0 in a process that was not forked. */
extern uint32_t lk_site_base;
extern pid_t lk_forked_from;
size_t lk_site_memory_bytes(void);

/* Copy site 'idx' consistently enough that live_blocks = total - freed >= 0.
 * Threads keep counter deltas: call lk_tracker_fold() first for exact counts. */
void lk_site_snapshot(uint32_t idx, lk_site_rec_t *out);
/* Fold every thread's counter deltas into the sites (takes every table shard
 * lock; never call it holding one).  Site counters are exact after it. */
void lk_tracker_fold(void);
/* Fill 't' from the site array and global counters (sum over sites). */
void lk_tracker_totals(lk_totals_t *t);
/* Same, summing the site copies 'sites[0..n)' (so the dump's totals equal the
 * sum of its sites exactly). */
void lk_tracker_totals_from(const lk_site_rec_t *sites, size_t n, lk_totals_t *t);
/* Bytes used by the mismatch and failure groups (groups.c). */
size_t lk_group_memory_bytes(void);
/* Live bytes at which the next watermark dump is due (UINT64_MAX = off). */
extern uint64_t lk_watermark_next;
/* Called by the hot path when live bytes reached lk_watermark_next; installed
 * by trigger.c (above this file) before it sets the mark.  Atomic. */
extern void (*lk_watermark_hook)(uint64_t live);
/* Watermark step in bytes (0 = off), set by trigger.c from the config and limits. */
extern uint64_t lk_watermark_step;
/* Current live bytes (one relaxed load). */
uint64_t lk_tracker_live_bytes(void);

/* Mismatch and failure groups, copied out for the dump. */
typedef struct lk_mismatch {
    uint32_t alloc_stack, free_stack;
    int alloc_family, free_family;
    uint64_t count, bytes;
} lk_mismatch_t;
typedef struct lk_failure {
    uint32_t stack;
    int kind;
    const char *function;       /* static string */
    uint64_t request_bytes, count;
    uint64_t first_uptime_ns, last_uptime_ns, live_bytes_at_first;
} lk_failure_t;
/* ### groups (groups.c): mismatches and failures, counted by stack */
/* Count a free of 'bytes' by 'free_family''s deallocator of a block that
 * 'alloc_family' allocated.  Takes the group lock; allocates through
 * lk_real_calloc.  Returns 0 or -ENOMEM (the caller counts a dropped event). */
int lk_groups_add_mismatch(uint32_t alloc_stack, uint32_t free_stack, int alloc_family,
                           int free_family, uint64_t bytes);
/* Count a failed request of 'size' bytes by 'function' at 'stack', 'now' ns
 * after start; 'live_bytes' is kept for the group's first.  Same contract. */
int lk_groups_add_failure(uint32_t stack, int kind, const char *function, uint64_t size,
                          uint64_t now, uint64_t live_bytes);
/* Copy up to 'max' groups into 'out' under the lock; returns the total number. */
size_t lk_tracker_mismatches(lk_mismatch_t *out, size_t max);
size_t lk_tracker_failures(lk_failure_t *out, size_t max);
/* The group lock (lk_tracker_lock_all takes it); a fork child forgets the
 * parent's groups with it held. */
void lk_groups_lock(void);
void lk_groups_unlock(void);
void lk_groups_forget(void);
void lk_groups_reset_for_tests(void);

/* atfork: take every tracker lock (sites, stacks, groups, then table shards). */
void lk_tracker_lock_all(void);
void lk_tracker_unlock_all(void);
void lk_tracker_reset_after_fork(void);
/* Forget everything (unit tests only: the tables are process-wide). */
void lk_tracker_reset_for_tests(void);

/* ### time and process (runtime.c; set by lk_tracker_init) */
uint64_t lk_now_ns(void);          /* CLOCK_MONOTONIC */
uint64_t lk_unix_ms(void);         /* CLOCK_REALTIME */
extern uint64_t lk_start_ns;       /* lk_now_ns() at init */
extern uint64_t lk_start_unix_ms;
extern pid_t lk_pid;               /* pid of the tracked process; updated by atfork child */

/* ### limits and RSS (runtime.c) */
typedef struct lk_limits {
    uint64_t rlimit_as, rlimit_data, cgroup_max, phys, effective; /* 0 = none */
    int cgroup_version;         /* 1 or 2: whose file set cgroup_max; 0 = none */
    char cgroup_file[512];      /* that file ("/sys/fs/cgroup/.../memory.max") */
} lk_limits_t;
extern lk_limits_t lk_limits;
/* Read the limits (getrlimit, cgroup memory limit, physical pages).  Not
 * thread-safe: under dump_lock or at start. */
void lk_limits_load(void);
/* The memory limit of this process's cgroup: the smallest memory.limit_in_bytes
 * (v1, whose memory controller wins on a hybrid system) or memory.max (v2) of
 * its cgroup and ancestors, found through /proc/self/cgroup and
 * /proc/self/mountinfo.  Sets '*bytes' (0 = none), '*version' (1, 2; 0 =
 * none) and 'file'.  Returns 0 or -errno.  Allocation-free. */
int lk_limits_cgroup(uint64_t *bytes, int *version, char *file, size_t cap);
/* Resident bytes of the process (/proc/self/statm); 0 if unknown. */
/* The value lk_rss_bytes read at most 'max_age_ns' ago (a dump's second
 * look at it), else a new read. */
uint64_t lk_rss_bytes_recent(uint64_t max_age_ns);
uint64_t lk_rss_bytes(void);
/* Read up to 'cap'-1 bytes of 'path' into 'buf', NUL-terminated, with read(2)
 * (no stdio: may run in a fresh fork child).  Returns the length or -errno. */
ssize_t lk_read_file(const char *path, char *buf, size_t cap);
/* Around the real dlclose (hooks.c): record the modules mapped before it,
 * then those gone after it, with the time and the stack count (dump.c's
 * "unloaded modules").  Take the guard and a lock; allocate; no I/O. */
void lk_modules_before_unload(void);
void lk_modules_after_unload(void);
/* Seam: the directory /proc and the cgroup mounts are under ("" = /). */
extern const char *LK_SEAM lk_cgroup_root;

/* ### modules (modules.c): the dump's modules array */
/* Every mapped object, then every unloaded one, as entries of the array 'w'
 * is in (dump lock held). */
void lk_modules_append(lk_jw_t *w);
/* Module records that could not be kept (table full or out of memory). */
uint64_t lk_modules_dropped(void);
/* The module records' lock, held with the dump lock across fork. */
void lk_modules_lock(void);
void lk_modules_unlock(void);

/* ### dump sections (dump_sections.c): each writes the member 'key' of the
 * object 'w' is in.  Guard held, no table lock held.  The _copy calls take
 * what a section names while the dump is built (lk_real_calloc'd, NULL if
 * none), for it to be written later. */
void lk_section_process(lk_jw_t *w, const char *key);
void lk_section_config(lk_jw_t *w, const char *key);
/* The crash (lk_signals_crash, NULL if none) with its stack interned into '*stack_id'. */
const struct lk_crash *lk_section_crash_stack(uint32_t *stack_id);
void lk_section_crash(lk_jw_t *w, const char *key, const struct lk_crash *c, uint32_t stack_id);
void lk_section_limits(lk_jw_t *w, const char *key);
lk_mismatch_t *lk_section_mismatches_copy(size_t *n);
void lk_section_mismatches(lk_jw_t *w, const char *key, const lk_mismatch_t *m, size_t n);
lk_failure_t *lk_section_failures_copy(size_t *n);
void lk_section_failures(lk_jw_t *w, const char *key, const lk_failure_t *f, size_t n);
/* The timeline of samples 's[0, n)', naming sites [first, nsites) of the copies 'sites'. */
struct lk_sample *lk_section_timeline_copy(size_t *n);
void lk_section_timeline(lk_jw_t *w, const char *key, const struct lk_sample *s, size_t n,
                         const lk_site_rec_t *sites, uint32_t first, uint32_t nsites);

/* ### dump (dump.c) */
/* Write one dump for 'trigger' with optional 'label' to LIBLEAK_DIR.  Holds the
 * guard, copies the tables under their locks, builds and writes JSON outside
 * them.  Serialised by the dump lock.  Returns 0 or -errno. */
int lk_dump_write(int trigger, const char *label);
/* Reserve address space for the next dump (see dump.c); at tracking start. */
void lk_dump_reserve(void);
/* Write the exit dump once per process. */
void lk_dump_exit(void);
/* Build the dump object (unit tests).  Caller holds the guard. */
json_t *lk_dump_build(int trigger, const char *label, unsigned seq);
/* One build written as text to 'fd', and returned as lk_dump_build's tree (unit tests). */
json_t *lk_dump_text_and_tree(int trigger, const char *label, unsigned seq, int fd);
/* Path of the last dump written ("" if none); for tests. */
const char *lk_dump_last_path(void);
/* The dumper thread's stack bytes for the cost section (set by trigger.c). */
extern size_t lk_dump_thread_bytes;
/* Seams for the dump file I/O. */
extern int (*LK_SEAM lk_dump_open)(const char *path, int flags, mode_t mode);
extern ssize_t (*LK_SEAM lk_dump_writefn)(int fd, const void *buf, size_t n);
extern int (*LK_SEAM lk_dump_rename)(const char *from, const char *to);
/* After the first I/O error no more dumps are attempted. */
extern bool lk_dump_disabled;
void lk_dump_reset_after_fork(void);
void lk_dump_reset_for_tests(void);
void lk_dump_lock(void);
void lk_dump_unlock(void);

/* ### trigger (trigger.c): exit, signal, interval, watermark, fork */
/* Start the per-process machinery once tracking starts: atfork handlers,
 * watermark step, signal handler and dumper thread.  Guard held. */
void lk_trigger_start_tracking(void);
/* Watermark step in bytes (0 = off), after resolving N% against the limits. */
uint64_t lk_trigger_watermark_step(void);
/* Wake the dumper thread for 'why' (LK_WAKE_*).  Async-signal-safe, keeps errno. */
#define LK_WAKE_SIGNAL 'S'      /* a snapshot */
#define LK_WAKE_WATERMARK 'W'   /* a watermark dump */
#define LK_WAKE_CRASH 'C'       /* the crash dump (lk_signals_crash), then lk_signals_done */
#define LK_WAKE_SYNC 'T'        /* a snapshot that a dying handler waits for */
#define LK_WAKE_UNWIND 'U'      /* a hook needs libunwind: load it (unwinder.c) */
#define LK_WAKE_KILLED 'K'      /* the exit dump, for a process a signal kills; then lk_signals_done */
#define LK_WAKE_STOP 'X'        /* the dumper thread returns (trigger.c's dumper_stop) */
void lk_trigger_wake(char why);
/* Is the dumper thread running in this process?  Async-signal-safe. */
bool lk_trigger_dumper_alive(void);
/* Start the dumper thread (from our constructor, once libc is fully up). */
void lk_trigger_start_thread(void);
/* Before the exit dump: the dumper thread leaves (waited for, bounded). */
void lk_trigger_stop(void);
/* System call 'nr'(a, b), with the dumper thread stopped for it when 'single'
 * (the call needs a single-threaded process); errno as the call left it. */
int lk_trigger_ns_call(long nr, long a, long b, bool single);

/* ### timeline (timeline.c): samples for the dump, copied under the timeline lock */
#define LK_TIMELINE_CAP 1024     /* samples kept; halves resolution when full */
#define LK_TL_SITES 16           /* sites by live bytes kept per sample */
typedef struct lk_sample {
    uint64_t uptime_ns, live_bytes, rss_bytes, allocs, frees;
    uint32_t nsites;                    /* the biggest sites then, largest first */
    uint32_t site[LK_TL_SITES];         /* site indexes */
    uint64_t site_bytes[LK_TL_SITES];   /* their live bytes */
} lk_sample_t;
size_t lk_timeline_copy(lk_sample_t *out, size_t max);
size_t lk_timeline_len(void);           /* samples kept now */
/* Take one sample now (also done every ~100 ms by the dumper thread). */
void lk_timeline_sample(void);
/* The dumper thread's tick: a sample, unless the halved resolution skips it. */
void lk_timeline_tick(void);
/* Hold the timeline lock across fork (atfork). */
void lk_timeline_lock(void);
void lk_timeline_unlock(void);
void lk_timeline_reset_for_tests(void);
void lk_trigger_after_fork_child(void);

/* ### signals (signals.c): the program's dispositions, the snapshot signal, crashes */
/* Take over the fault signals and the snapshot signal (LIBLEAK_SIGNAL), keeping
 * their current dispositions as the program's.  Guard held. */
void lk_signals_start(void);
/* Wake the dumper thread, and is it running: installed by trigger.c (above
 * this file) before lk_signals_start; both async-signal-safe. */
extern void (*lk_signals_wake)(char why);
extern bool (*lk_signals_dumper_alive)(void);
/* sigaction, signal and sysv_signal as the program sees them natively
 * (hooks.c's interposed symbols). */
int lk_signals_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
sighandler_t lk_signals_signal(int sig, sighandler_t h, bool sysv);
/* The snapshot signal in use (0 = none). */
int lk_signals_snapshot_signal(void);
/* Warn once if the snapshot signal's disposition changed behind sigaction. */
void lk_signals_check(void);
/* Requests made by dying handlers so far; the dumper reads it before it serves
 * them and reports it to lk_signals_done afterwards. */
unsigned lk_signals_requested(void);
void lk_signals_done(unsigned gen);
/* The crash being dumped (the faulting thread's stack, from the signal's
 * context, innermost first: pc[0] is the faulting instruction), or NULL. */
typedef struct lk_crash {
    int sig, code, tid;
    bool has_addr;              /* a fault the kernel raised: 'addr' is its si_addr */
    uintptr_t addr;
    uint32_t depth;
    bool truncated;
    uintptr_t pc[LK_MAX_DEPTH];
} lk_crash_t;
const lk_crash_t *lk_signals_crash(void);
/* atfork: hold the view lock across fork (released in parent and child). */
void lk_signals_fork_prepare(void);
void lk_signals_fork_done(void);

/* ### hooks (hooks.c, only in the .so) */
/* Non-zero when this process is a vfork child (pid changed, no atfork ran). */
bool lk_is_vfork_child(void);

#endif /* LK_INTERNAL_H */
