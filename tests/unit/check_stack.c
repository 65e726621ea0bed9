/* check_stack.c - stack capture (real libunwind and a fake unwinder through the
 * seam) and interning: ids stable, append-only, deduplicated, and the same
 * from every thread; libleak's own innermost frames are skipped; the depth
 * limit marks a stack truncated. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "internal.h"
#include "testhelper.h"

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static int (*real_backtrace)(void **, int);

static void setup(void)
{
    lk_config_load(no_env);
    lk_tracker_reset_for_tests();
    if (!real_backtrace)
        real_backtrace = lk_stack_backtrace;
    lk_stack_backtrace = real_backtrace;
    lk_stack_learn_from_cfi = true;
    lk_stack_set_self_range(0, 0);
}

static void frames_of(lk_frames_t *f, const uintptr_t *pc, unsigned n, bool truncated)
{
    memset(f, 0, sizeof *f);
    memcpy(f->pc, pc, n * sizeof *pc);
    f->depth = n;
    f->truncated = truncated;
    lk_frames_hash(f);
}

/* The FDE lookup of the learning unwinds agrees with libunwind's: every pc it
 * says is covered lies in the procedure libunwind finds, over libc's code
 * and this program's, and it says so for most of them. */
START_TEST(test_stack_fde_covers_agrees_with_libunwind)
{
    const uintptr_t starts[] = {(uintptr_t)&qsort, (uintptr_t)&snprintf, (uintptr_t)&strtol,
                                (uintptr_t)&pthread_create,
                                (uintptr_t)&test_stack_fde_covers_agrees_with_libunwind};
    unsigned covered = 0, total = 0;
    for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
        for (uintptr_t pc = starts[k]; pc < starts[k] + 20000; pc += 13, total++) {
            if (!lk_stack_fde_covers(pc))
                continue;
            covered++;
            unw_proc_info_t pi;
            ck_assert_int_eq(unw_get_proc_info_by_ip(unw_local_addr_space, pc, &pi, NULL), 0);
            ck_assert_msg(pi.start_ip <= pc && pc < pi.end_ip, "pc %#lx outside [%#lx, %#lx)",
                          (unsigned long)pc, (unsigned long)pi.start_ip, (unsigned long)pi.end_ip);
        }
    }
    ck_assert_msg(covered > total / 2, "%u of %u covered", covered, total);
    ck_assert(!lk_stack_fde_covers(0));
    ck_assert(!lk_stack_fde_covers((uintptr_t)&covered));      /* the stack: no module */
}
END_TEST

START_TEST(test_stack_intern_dedup_and_stable_ids)
{
    const uintptr_t a[] = { 0x1000, 0x2000, 0x3000 };
    const uintptr_t b[] = { 0x1000, 0x2000, 0x3004 };
    lk_frames_t fa, fb, fa2, fat;
    frames_of(&fa, a, 3, false);
    frames_of(&fb, b, 3, false);
    frames_of(&fa2, a, 2, false);       /* a prefix is another stack */
    frames_of(&fat, a, 3, true);        /* so is the truncated variant */
    uint32_t ia = lk_stack_intern(&fa);
    uint32_t ib = lk_stack_intern(&fb);
    uint32_t ia2 = lk_stack_intern(&fa2);
    uint32_t iat = lk_stack_intern(&fat);
    ck_assert_uint_eq(ia, 0);
    ck_assert_uint_eq(ib, 1);
    ck_assert_uint_eq(ia2, 2);
    ck_assert_uint_eq(iat, 3);
    ck_assert_uint_eq(lk_stack_intern(&fa), ia);
    ck_assert_uint_eq(lk_stack_intern(&fb), ib);
    ck_assert_uint_eq(lk_stack_count(), 4);
    const lk_stack_rec_t *s = lk_stack_get(ib);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->id, ib);
    ck_assert_uint_eq(s->depth, 3);
    ck_assert_uint_eq(s->pc[2], 0x3004);
    ck_assert(!s->truncated);
    ck_assert(lk_stack_get(iat)->truncated);
    ck_assert_ptr_null(lk_stack_get(4));
    ck_assert_uint_gt(lk_stack_memory_bytes(), 0);
    /* the same frames cut at generated code are another stack, and say so */
    lk_frames_t fj;
    frames_of(&fj, a, 3, false);
    fj.jit_cut = true;
    lk_frames_hash(&fj);
    uint32_t ij = lk_stack_intern(&fj);
    ck_assert_uint_eq(ij, 4);
    ck_assert_uint_eq(lk_stack_intern(&fj), ij);
    ck_assert(lk_stack_get(ij)->jit_cut && !lk_stack_get(ia)->jit_cut);
}
END_TEST

START_TEST(test_stack_many_ids_never_move)
{
    enum { N = 20000 };
    lk_frames_t f;
    const lk_stack_rec_t *first = NULL;
    for (uintptr_t i = 0; i < N; i++) {
        const uintptr_t pc[] = { 0x400000 + i, 0x500000, 0x600000 + (i % 7) };
        frames_of(&f, pc, 3, false);
        ck_assert_uint_eq(lk_stack_intern(&f), i);
        if (i == 0)
            first = lk_stack_get(0);
    }
    ck_assert_ptr_eq(lk_stack_get(0), first);       /* append-only: never moved */
    ck_assert_uint_eq(first->pc[0], 0x400000);
    for (uintptr_t i = 0; i < N; i += 97) {
        const uintptr_t pc[] = { 0x400000 + i, 0x500000, 0x600000 + (i % 7) };
        frames_of(&f, pc, 3, false);
        ck_assert_uint_eq(lk_stack_intern(&f), i);
        ck_assert_uint_eq(lk_stack_get((uint32_t)i)->pc[0], 0x400000 + i);
    }
}
END_TEST

static void *intern_same(void *arg)
{
    uint32_t *out = arg;
    lk_frames_t f;
    for (uintptr_t k = 0; k < 64; k++) {
        const uintptr_t pc[] = { 0xaa0000 + k, 0xbb0000, 0xcc0000 };
        frames_of(&f, pc, 3, false);
        out[k] = lk_stack_intern(&f);
    }
    return NULL;
}

START_TEST(test_stack_threads_agree_on_ids)
{
    enum { T = 8 };
    uint32_t ids[T][64];
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        pthread_create(&th[i], NULL, intern_same, ids[i]);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(lk_stack_count(), 64);
    for (int i = 1; i < T; i++)
        for (int k = 0; k < 64; k++)
            ck_assert_uint_eq(ids[i][k], ids[0][k]);
}
END_TEST

/* ### capture */
static __attribute__((noinline)) void capture_here(lk_frames_t *f)
{
    lk_stack_capture(f);
    __asm__ volatile("" ::: "memory");      /* no tail call */
}

static __attribute__((noinline)) void recurse(int n, lk_frames_t *f)
{
    if (n == 0)
        capture_here(f);
    else
        recurse(n - 1, f);
    __asm__ volatile("" ::: "memory");
}

START_TEST(test_stack_capture_real_unwind)
{
    lk_frames_t f;
    recurse(10, &f);
    ck_assert_uint_ge(f.depth, 12);
    ck_assert(!f.truncated);
    /* the 10 recursion frames return into recurse() itself */
    uintptr_t lo = (uintptr_t)recurse, hi = lo + 256;
    unsigned in_recurse = 0;
    for (uint32_t i = 0; i < f.depth; i++)
        if (f.pc[i] > lo && f.pc[i] < hi)
            in_recurse++;
    ck_assert_uint_ge(in_recurse, 10);
    lk_frames_t g = f;
    lk_frames_hash(&g);
    ck_assert_uint_eq(g.hash, f.hash);
}
END_TEST

START_TEST(test_stack_capture_truncates_at_depth)
{
    lk_config.max_depth = 4;
    lk_frames_t f;
    recurse(10, &f);
    ck_assert_uint_eq(f.depth, 4);
    ck_assert(f.truncated);
    lk_config.max_depth = 32;
    recurse(3, &f);
    ck_assert(!f.truncated);
}
END_TEST

/* Fake unwinder: 2 frames of an unwinder, 3 of "libleak", then the program. */
static int fake_bt(void **buf, int size)
{
    static const uintptr_t pcs[] = { 0x100, 0x110, 0x9000, 0x9100, 0x9200, 0x5000, 0x5100, 0x5200 };
    int n = size < 8 ? size : 8;
    for (int i = 0; i < n; i++)
        buf[i] = (void *)pcs[i];
    return n;
}

START_TEST(test_stack_capture_skips_own_frames)
{
    lk_stack_backtrace = fake_bt;
    lk_stack_set_self_range(0x9000, 0xa000);
    lk_frames_t f;
    lk_stack_capture(&f);
    ck_assert_uint_eq(f.depth, 3);
    ck_assert_uint_eq(f.pc[0], 0x5000);
    ck_assert_uint_eq(f.pc[2], 0x5200);
    ck_assert(!f.truncated);
    lk_config.max_depth = 2;
    lk_stack_capture(&f);
    ck_assert_uint_eq(f.depth, 2);
    ck_assert(f.truncated);
}
END_TEST

/* fork's prepare handler (lk_stack_lock) must wait for a thread that is
 * inside the unwinder: libunwind's own locks would otherwise be copied held
 * into the child (a child of pl_forkchurn hung in unw_step that way).  The
 * fake unwinder blocks until released; meanwhile lk_stack_lock must not
 * return. */
static int bt_inside, bt_release, prepare_done;

static int blocking_bt(void **buf, int size)
{
    __atomic_store_n(&bt_inside, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&bt_release, __ATOMIC_ACQUIRE)) {
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return fake_bt(buf, size);
}

static void *capture_thread(void *arg)
{
    lk_frames_t *f = arg;
    lk_stack_capture(f);
    return NULL;
}

static void *prepare_thread(void *arg)
{
    (void)arg;
    lk_stack_lock();
    __atomic_store_n(&prepare_done, 1, __ATOMIC_RELEASE);
    lk_stack_unlock();
    return NULL;
}

START_TEST(test_stack_fork_prepare_waits_for_unwinder)
{
    lk_stack_backtrace = blocking_bt;
    lk_stack_set_self_range(0x9000, 0xa000);
    bt_inside = bt_release = prepare_done = 0;
    lk_frames_t f;
    pthread_t a, b;
    ck_assert_int_eq(pthread_create(&a, NULL, capture_thread, &f), 0);
    while (!__atomic_load_n(&bt_inside, __ATOMIC_ACQUIRE)) {
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    ck_assert_int_eq(pthread_create(&b, NULL, prepare_thread, NULL), 0);
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    ck_assert_msg(!__atomic_load_n(&prepare_done, __ATOMIC_ACQUIRE),
                  "fork's prepare took the stack locks while a thread was inside the unwinder");
    __atomic_store_n(&bt_release, 1, __ATOMIC_RELEASE);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    ck_assert(prepare_done);
    ck_assert_uint_eq(f.depth, 3);
    ck_assert_uint_eq(f.pc[0], 0x5000);
}
END_TEST

/* ### the fast walk against the full unwind
 * btalloc (jemalloc): stacks made of noinline functions chosen by the bits of
 * a number, so 'bits' 0..N give N distinct stacks of the same depth. */
static void (*volatile capture_fn[2])(lk_frames_t *) = { lk_stack_capture, lk_stack_capture_full };

/* The same shapes twice: built without frame pointers (the memo checks each
 * logged word) and with them (the memo checks (saved rbp, return address)
 * pairs), whatever the flags of this file. */
#define LK_NOFP __attribute__((optimize("omit-frame-pointer")))
#define LK_FP __attribute__((optimize("no-omit-frame-pointer")))
#define BT_SHAPES(V, ATTR)                                                              \
    static ATTR __attribute__((noinline)) void cap_##V(lk_frames_t *f, int full)         \
    {                                                                                   \
        /* one call site for both, so frame 0 (the return address into cap) is equal */ \
        capture_fn[full](f);                                                            \
        __asm__ volatile("" ::: "memory");                                              \
    }                                                                                   \
    static ATTR __attribute__((noinline)) void bt0_##V(unsigned, int, lk_frames_t *, int); \
    static ATTR __attribute__((noinline)) void bt1_##V(unsigned, int, lk_frames_t *, int); \
    static ATTR __attribute__((noinline)) void bt_##V(unsigned bits, int level,          \
                                                       lk_frames_t *f, int full)         \
    {                                                                                   \
        if (level == 0)                                                                 \
            cap_##V(f, full);                                                           \
        else if (bits & 1)                                                              \
            bt1_##V(bits >> 1, level - 1, f, full);                                     \
        else                                                                            \
            bt0_##V(bits >> 1, level - 1, f, full);                                     \
        __asm__ volatile("" ::: "memory");  /* intentionally sabotage tail calls */     \
    }                                                                                   \
    static ATTR void bt0_##V(unsigned bits, int level, lk_frames_t *f, int full)        \
    {                                                                                   \
        volatile char pad[24];              /* frames of different sizes */             \
        pad[0] = 0;                                                                     \
        bt_##V(bits, level, f, full);                                                   \
        __asm__ volatile("" ::: "memory");                                              \
        (void)pad[0];                                                                   \
    }                                                                                   \
    static ATTR void bt1_##V(unsigned bits, int level, lk_frames_t *f, int full)        \
    {                                                                                   \
        volatile char pad[200];                                                         \
        pad[0] = 1;                                                                     \
        bt_##V(bits, level, f, full);                                                   \
        __asm__ volatile("" ::: "memory");                                              \
        (void)pad[0];                                                                   \
    }
BT_SHAPES(nofp, LK_NOFP)
BT_SHAPES(fp, LK_FP)

static void (*const bt_dispatch_of[2])(unsigned, int, lk_frames_t *, int) = { bt_nofp, bt_fp };

static void check_same(const lk_frames_t *a, const lk_frames_t *b)
{
    if (getenv("LK_DEBUG_STACK") && (a->depth != b->depth || memcmp(a->pc, b->pc, a->depth * 8))) {
        for (uint32_t i = 0; i < a->depth || i < b->depth; i++)
            fprintf(stderr, "%2u %#lx %#lx\n", i, (unsigned long)a->pc[i], (unsigned long)b->pc[i]);
    }
    ck_assert_uint_eq(a->depth, b->depth);
    ck_assert_int_eq(a->truncated, b->truncated);
    for (uint32_t i = 0; i < a->depth; i++)
        ck_assert_msg(a->pc[i] == b->pc[i], "frame %u: %#lx != %#lx", i,
                      (unsigned long)a->pc[i], (unsigned long)b->pc[i]);
    ck_assert_uint_eq(a->hash, b->hash);
}

START_TEST(test_stack_fast_walk_matches_full_unwind)
{
    uint64_t fast0, slow0, memo0, fast1, slow1, memo1, memo_of[2];
    uint64_t learn0, learn1, fb, cfi0, cfi1, disagree0, disagree1;
    lk_stack_walk_stats(&fast0, &slow0, &memo0);
    lk_stack_unwind_counts(&learn0, &fb);
    lk_stack_cfi_counts(&cfi0, &disagree0);
    /* depth 4..12, every bit pattern: the first capture of a shape learns
     * frame sizes, later ones walk them; each must equal libunwind's answer */
    for (int v = 0; v < 2; v++) {
        uint64_t f, s, m0, m1;
        lk_stack_walk_stats(&f, &s, &m0);
        for (int level = 4; level <= 12; level += 4) {
            for (int round = 0; round < 3; round++) {
                for (unsigned bits = 0; bits < (1u << level) && bits < 256; bits++) {
                    lk_frames_t fr[2];
                    for (volatile int k = 0; k < 2; k++)     /* one call site: same outer frames */
                        bt_dispatch_of[v](bits, level, &fr[k], k);
                    check_same(&fr[0], &fr[1]);
                    ck_assert_uint_ge(fr[0].depth, (uint32_t)level + 2);
                }
            }
        }
        lk_stack_walk_stats(&f, &s, &m1);
        memo_of[v] = m1 - m0;
    }
    /* and the fast walk really ran: all but the first round of each shape */
    lk_stack_walk_stats(&fast1, &slow1, &memo1);
    ck_assert_uint_ge(fast1 - fast0, 2 * 2 * (16 + 256 + 256));
    /* Some from the memo.  Without frame pointers, at least the later rounds
     * of the 16 shapes of depth 4: the deeper ones share their 4-frame set
     * hint 16 at a time and evict one another from its 8 ways (~200 hits).
     * With them, the hint is the rbp chain's 8 return addresses: ~410..450
     * hits (~85 when that hint is always 0, which the bound catches).  Each
     * stack is remembered on its second sighting only. */
    ck_assert_uint_ge(memo_of[0], 2 * 16);
    ck_assert_uint_ge(memo_of[1], 250);
    /* the new frames' rules came from the CFI, not from libunwind, and every
     * CFI rule the full unwinds met gave libunwind's caller */
    lk_stack_unwind_counts(&learn1, &fb);
    lk_stack_cfi_counts(&cfi1, &disagree1);
    ck_assert_uint_gt(cfi1 - cfi0, 0);
    ck_assert_uint_eq(learn1 - learn0, 0);
    ck_assert_uint_eq(disagree1 - disagree0, 0);
    if (getenv("LK_DEBUG_MEMO"))
        fprintf(stderr, "memo hits: %lu nofp, %lu fp\n", (unsigned long)memo_of[0],
                (unsigned long)memo_of[1]);
}
END_TEST

/* ### every word the memo compares is compared
 * Above, two shapes differ in a frame size too, so every saved rbp past the
 * first difference differs as well, and a memo that skipped some comparisons
 * would still tell them apart.  Here each level is bx0 or bx1, of one frame
 * size, and calls the next through one indirect call site: shapes 0 and
 * 1 << p differ in one return address only (the one into level p's
 * function), and for p = 0..15 it falls on every position of the memo's
 * 4-at-a-time checks. */
/* Level function bx<B>_<V>: its own return address into the caller's
 * level, a pad so the frame is not empty, then the next level or the capture. */
#define BX_LEVEL(V, B, ATTR, EXTRA, NEXT)                                                   \
    static ATTR void bx##B##_##V(unsigned bits, int level, lk_frames_t *f, int full)    \
    {                                                                                   \
        volatile char pad[24];                                                          \
        pad[B] = B;                                                                     \
        EXTRA;                                                                          \
        if (level == 0)                                                                 \
            cap1_##V(f, full);                                                          \
        else                                                                            \
            NEXT(V);                                                                    \
        __asm__ volatile("" ::: "memory");                                              \
        (void)pad[B];                                                                   \
    }
#define BX_SHAPES(V, ATTR, EXTRA, NEXT)                                                     \
    static ATTR __attribute__((noinline)) void cap1_##V(lk_frames_t *f, int full)        \
    {                                                                                   \
        capture_fn[full](f);                                                            \
        __asm__ volatile("" ::: "memory");                                              \
    }                                                                                   \
    static ATTR __attribute__((noinline)) void bx0_##V(unsigned, int, lk_frames_t *, int); \
    static ATTR __attribute__((noinline)) void bx1_##V(unsigned, int, lk_frames_t *, int); \
    static void (*volatile bx_next_##V[2])(unsigned, int, lk_frames_t *, int) = {       \
        bx0_##V, bx1_##V                                                                \
    };                                                                                  \
    BX_LEVEL(V, 0, ATTR, EXTRA, NEXT)                                                   \
    BX_LEVEL(V, 1, ATTR, EXTRA, NEXT)
#define BX_NEXT(V) bx_next_##V[bits & 1](bits >> 1, level - 1, f, full)
BX_SHAPES(nofp, LK_NOFP, (void)0, BX_NEXT)
BX_SHAPES(fp, LK_FP, (void)0, BX_NEXT)
/* And code without frame pointers that saves rbp, not next to its return
 * address (a general register to it: "push r12; push rbp"), below code with
 * them (bx_tramp_fp, 4 levels above the leaf), which takes its rbp back from
 * that slot: the memo checks the slot as a word, not as a frame pointer
 * pair, also in stacks cut at the depth limit. */
static void bx_tramp_fp(unsigned bits, int level, lk_frames_t *f, int full);
#define BX_NEXT_TRAMP(V) (level == 4 ? bx_tramp_fp(bits, level, f, full) : BX_NEXT(V))
BX_SHAPES(nofp_rbp, LK_NOFP, __asm__ volatile("" ::: "r12", "rbp"), BX_NEXT_TRAMP)
static LK_FP __attribute__((noinline)) void bx_tramp_fp(unsigned bits, int level, lk_frames_t *f,
                                                       int full)
{
    BX_NEXT(nofp_rbp);
    __asm__ volatile("" ::: "memory");
}

static void (*const bx_dispatch_of[3])(unsigned, int, lk_frames_t *, int) = {
    bx0_nofp, bx0_fp, bx0_nofp_rbp
};

START_TEST(test_stack_memo_compares_every_frame)
{
    for (int v = 0; v < 3; v++) {
        uint64_t f0, s0, m0, f1, s1, m1;
        lk_stack_walk_stats(&f0, &s0, &m0);
        /* four depths, and depth limits (kept frames, then one more read):
         * the shapes' last words fall on every position too */
        for (int level = 16; level < 20; level++) {
          /* the default first: the memo is sized by its first capture's limit */
          for (int max = level + 1; max >= level - 3; max--) {
            lk_config.max_depth = max > level ? 32 : (uint32_t)max;
            for (unsigned p = 0; p < 16; p++) {
                /* 0, then 1 << p, three times: from the second capture on,
                 * each is first checked against the other shape's memo entry
                 * (the thread's last hit: same pc0 and sp0), which must fail */
                for (int round = 0; round < 6; round++) {
                    unsigned bits = (round & 1) ? 1u << p : 0;
                    lk_frames_t fr[2];
                    for (volatile int k = 0; k < 2; k++)
                        bx_dispatch_of[v](bits, level, &fr[k], k);
                    check_same(&fr[0], &fr[1]);
                }
            }
          }
        }
        /* the later rounds came from the memo (~1600 of 1920 captures) */
        lk_stack_walk_stats(&f1, &s1, &m1);
        ck_assert_uint_ge(m1 - m0, 1000);
    }
}
END_TEST

/* A stack is remembered on its second sighting, not its first: short
 * programs see most of their stacks once, and each entry stored costs a
 * fresh memo page. */
START_TEST(test_stack_memo_stores_on_second_sighting)
{
    /* Twice one level deeper first, from the same call site: that learns
     * every frame of the shape after it, whose sp0 differs (another stack, as
     * far as the memo knows).  Then that shape four times. */
    static const struct { unsigned bits; int level; unsigned hits; } run[] = {
        {0xa5u << 1, 9, ~0u}, {0xa5u << 1, 9, ~0u},
        {0xa5u, 8, 0}, {0xa5u, 8, 0}, {0xa5u, 8, 1}, {0xa5u, 8, 1},
    };
    for (size_t n = 0; n < sizeof run / sizeof run[0]; n++) {
        lk_frames_t fr[2];
        uint64_t f, s, m0, m1;
        lk_stack_walk_stats(&f, &s, &m0);
        for (volatile int k = 0; k < 2; k++)
            bt_dispatch_of[1](run[n].bits, run[n].level, &fr[k], k);
        lk_stack_walk_stats(&f, &s, &m1);
        check_same(&fr[0], &fr[1]);
        /* first sighting: walked; second: walked and remembered; then from
         * the memo */
        if (run[n].hits != ~0u)
            ck_assert_msg(m1 - m0 == run[n].hits, "capture %zu: %lu memo hits, not %u", n,
                          (unsigned long)(m1 - m0), run[n].hits);
    }
}
END_TEST

/* A memo entry remembers its stack's site index.  The tracker's test reset
 * numbers sites from 0 again, so it must forget every memo entry
 * (lk_stack_forget_memos): else the stack's old index would name the first
 * site made after the reset, another stack's. */
START_TEST(test_stack_memo_sites_forgotten_by_reset)
{
    lk_frames_t fr[2], other;
    uint32_t site[6];
    uint64_t f, s, m0, m1 = 0;
    /* one call site, so that every round captures the same stack: learnt,
     * remembered, then memo hits; the reset before the last round */
    for (int n = 0; n < 6; n++) {
        if (n == 5) {
            ck_assert_uint_ge(m1 - m0, 1);      /* round 4 came from the memo */
            lk_tracker_reset_for_tests();
            const uintptr_t pcs[] = { 0x1000, 0x2000 };
            frames_of(&other, pcs, 2, false);
            ck_assert_uint_eq(lk_site_get(&other, LK_FAMILY_MALLOC), 0);
        }
        lk_stack_walk_stats(&f, &s, &m0);
        for (volatile int k = 0; k < 2; k++)
            bt_dispatch_of[1](0x5au, 8, &fr[k], k);
        lk_stack_walk_stats(&f, &s, &m1);
        /* fr[0] went through the memo (fr[1]: libunwind alone), which learns the site */
        site[n] = lk_site_get(&fr[0], LK_FAMILY_MALLOC);
    }
    ck_assert_uint_eq(site[4], 0);      /* the fixture reset: the first site */
    ck_assert_uint_ne(site[5], 0);      /* not the old index, now 'other''s */
    lk_site_rec_t st;
    lk_site_snapshot(site[5], &st);
    const lk_stack_rec_t *stk = lk_stack_get(st.stack);
    ck_assert_ptr_nonnull(stk);
    lk_frames_materialize(&fr[0]);
    check_same(&fr[0], &fr[1]);
    ck_assert_uint_eq(stk->depth, fr[0].depth);
    ck_assert_int_eq(memcmp(stk->pc, fr[0].pc, fr[0].depth * sizeof(uintptr_t)), 0);
}
END_TEST

/* ### the probe
 * Stacks of one allocation site that alternate at the same depth share pc0
 * and sp0; when they differ only far from the leaf, the set search's caller
 * hint (the 4 or 8 frames above pc0) does not tell them apart either.  The
 * probe finds each in one look: after a warm-up, no capture searches a set. */
START_TEST(test_stack_memo_probe_finds_alternating_stacks)
{
    for (int v = 0; v < 2; v++) {
        /* 16 levels; bits 0..1 pick the two levels nearest the test, 12 frames
         * above pc0 or more */
        for (int round = 0; round < 12; round++) {
            uint64_t f, s, m0, m1, p0, p1, q0, q1;
            lk_stack_walk_stats(&f, &s, &m0);
            lk_stack_memo_stats(&p0, &q0);
            for (unsigned bits = 0; bits < 4; bits++) {
                lk_frames_t fr[2];
                for (volatile int k = 0; k < 2; k++)
                    bx_dispatch_of[v](bits, 16, &fr[k], k);
                check_same(&fr[0], &fr[1]);
            }
            lk_stack_walk_stats(&f, &s, &m1);
            lk_stack_memo_stats(&p1, &q1);
            if (getenv("LK_DEBUG_MEMO"))
                fprintf(stderr, "v%d round %d: %lu memo hits, %lu probe hits, %lu set searches\n",
                        v, round, (unsigned long)(m1 - m0), (unsigned long)(p1 - p0),
                        (unsigned long)(q1 - q0));
            /* seen twice (walked), once more (the set search finds it and
             * tells the probe), then the probe alone */
            if (round >= 4) {
                ck_assert_msg(p1 - p0 == 4 && m1 - m0 == 4 && q1 - q0 == 0,
                              "round %d: %lu probe hits, %lu memo hits, %lu set searches", round,
                              (unsigned long)(p1 - p0), (unsigned long)(m1 - m0),
                              (unsigned long)(q1 - q0));
            }
        }
    }
}
END_TEST

/* Stacks whose probe hash is the same (here every hash: the probe's mask is
 * 0) find one another's entries; the word-by-word check must turn them down:
 * three stacks in turn, while the probe keeps the last two noted, so each
 * capture is first offered the other two. */
START_TEST(test_stack_memo_probe_collisions_are_checked)
{
    uint32_t saved = lk_stack_probe_mask;
    lk_stack_probe_mask = 0;
    for (int v = 0; v < 2; v++) {
        uint32_t site[3] = {0, 0, 0};
        for (int round = 0; round < 8; round++) {
            for (unsigned n = 0; n < 3; n++) {
                lk_frames_t fr[2];
                for (volatile int k = 0; k < 2; k++)
                    bx_dispatch_of[v](n, 16, &fr[k], k);
                uint32_t st = lk_site_get(&fr[0], LK_FAMILY_MALLOC);
                lk_frames_materialize(&fr[0]);
                check_same(&fr[0], &fr[1]);
                if (round > 0)
                    ck_assert_uint_eq(st, site[n]);
                site[n] = st;
            }
        }
        ck_assert(site[0] != site[1] && site[1] != site[2] && site[0] != site[2]);
    }
    /* and with two stacks, both ways hold them: the probe answers */
    uint64_t p0, p1, q;
    for (int round = 0; round < 8; round++) {
        if (round == 4)
            lk_stack_memo_stats(&p0, &q);
        for (unsigned n = 0; n < 2; n++) {
            lk_frames_t fr[2];
            for (volatile int k = 0; k < 2; k++)
                bx_dispatch_of[0](n, 16, &fr[k], k);
            lk_frames_materialize(&fr[0]);
            check_same(&fr[0], &fr[1]);
        }
    }
    lk_stack_memo_stats(&p1, &q);
    lk_stack_probe_mask = saved;
    ck_assert_uint_eq(p1 - p0, 8);
}
END_TEST

/* The frame-rule table hands out its blocks in order, one (or a chain) per
 * page of code: a program's pcs, which cluster on few code pages, fill a few
 * pages of the table, each a page fault that costs 10-14 us on a VM.  Shaped
 * like bash's start: 272 pcs on 64 code pages in 16 places, one page with 40
 * and one with 120 (a chain of blocks). */
START_TEST(test_stack_pc_table_pages_follow_code)
{
    size_t before = lk_stack_pc_table_pages();
    uint64_t x = 0x2545F4914F6CDD1DULL;
    uintptr_t pcs[400];
    unsigned n = 0;
    for (unsigned r = 0; r < 16; r++) {
        uintptr_t region = (uintptr_t)0x55d0c0000000 + (uintptr_t)r * 0x13570000;
        for (unsigned pg = 0; pg < 4; pg++) {
            unsigned want = r == 3 && pg == 1 ? 120 : r == 7 && pg == 2 ? 40 : 3;
            for (unsigned k = 0; k < want; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                pcs[n++] = region + pg * 4096 + 1 + (x % 4095);
            }
        }
    }
    ck_assert_uint_le(n, 400);
    for (unsigned i = 0; i < n; i++)
        lk_stack_pc_teach(pcs[i], 16 + (uint32_t)(pcs[i] & 0xff0));
    for (unsigned i = 0; i < n; i++) {
        uint32_t delta = 0;
        ck_assert_msg(lk_stack_pc_known(pcs[i], &delta), "pc %u not known", i);
        ck_assert_uint_eq(delta, 16 + (uint32_t)(pcs[i] & 0xff0));
    }
    /* and most are found by the quick index, in one look */
    unsigned quick = 0;
    for (unsigned i = 0; i < n; i++)
        quick += lk_stack_pc_quick(pcs[i]);
    ck_assert_msg(quick * 10 >= n * 9, "%u of %u pcs in the quick index", quick, n);
    ck_assert(!lk_stack_pc_known((uintptr_t)0x55d0c0000000 + 0x13570000 * 3 + 4096 + 4096 * 7, NULL));
    ck_assert(!lk_stack_pc_known((uintptr_t)0x7f0000001234, NULL));
    /* 64 pages + the chains: ~70 blocks of 512 bytes, 9 table pages (12 as
     * they are populated 16 KiB at a time), the directory's 2 and the quick
     * index's 2; a 4 KiB window a code page made it 64 */
    size_t grew = lk_stack_pc_table_pages() - before;
    ck_assert_msg(grew <= 18, "%zu pages of the pc table for %u pcs on 64 code pages", grew, n);
}
END_TEST

START_TEST(test_stack_fast_walk_truncation_matches)
{
    lk_config.max_depth = 6;
    for (int v = 0; v < 2; v++) {
        for (int round = 0; round < 3; round++) {
            for (unsigned bits = 0; bits < 16; bits++) {
                lk_frames_t fr[2];
                for (volatile int k = 0; k < 2; k++)
                    bt_dispatch_of[v](bits, 10, &fr[k], k);
                check_same(&fr[0], &fr[1]);
                ck_assert_uint_eq(fr[0].depth, 6);
                ck_assert(fr[0].truncated);
            }
        }
    }
}
END_TEST

/* ### a learning unwind hands the known rest of the stack to the fast walk
 * Two leaves reached through the same caller: the first teaches every frame;
 * the second's own frame is new, the rest is known, so its learning unwind
 * stops after that frame and the fast walk finishes.  The result must be
 * libunwind's, also when the depth limit falls inside the fast part. */
static __attribute__((noinline)) void leaf_a(lk_frames_t *f, int full)
{
    capture_fn[full](f);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void leaf_b(lk_frames_t *f, int full)
{
    volatile char pad[40];
    pad[0] = 0;
    capture_fn[full](f);
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}

static __attribute__((noinline)) void leaf_c(lk_frames_t *f, int full)
{
    volatile char pad[72];
    pad[0] = 0;
    capture_fn[full](f);
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}

static void (*volatile leaf_fn)(lk_frames_t *, int);

static __attribute__((noinline)) void via_leaf(lk_frames_t *f, int full)
{
    leaf_fn(f, full);
    __asm__ volatile("" ::: "memory");
}

START_TEST(test_stack_learning_hands_over_to_fast_walk)
{
    lk_frames_t fr[2];
    lk_stack_learn_from_cfi = false;    /* libunwind learns leaf_b's frame */
    leaf_fn = leaf_a;
    for (volatile int k = 0; k < 2; k++)
        via_leaf(&fr[k], k);
    check_same(&fr[0], &fr[1]);
    uint64_t h0 = lk_stack_handovers(), l0, l1, fb;
    lk_stack_unwind_counts(&l0, &fb);
    leaf_fn = leaf_b;
    for (volatile int k = 0; k < 2; k++)
        via_leaf(&fr[k], k);
    check_same(&fr[0], &fr[1]);
    lk_stack_unwind_counts(&l1, &fb);
    ck_assert_uint_eq(l1 - l0, 1);                      /* leaf_b's frame was learned */
    ck_assert_uint_eq(lk_stack_handovers() - h0, 1);    /* and the rest walked fast */
    ck_assert_uint_ge(fr[0].depth, 4);
    /* the depth limit two frames past the hand-over */
    lk_config.max_depth = 3;
    leaf_fn = leaf_c;
    for (volatile int k = 0; k < 2; k++)
        via_leaf(&fr[k], k);
    check_same(&fr[0], &fr[1]);
    ck_assert_uint_eq(fr[0].depth, 3);
    ck_assert(fr[0].truncated);
    ck_assert_uint_eq(lk_stack_handovers() - h0, 2);
    lk_stack_learn_from_cfi = true;
}
END_TEST

/* libleak.so's sigprocmask (hooks.c), counting: the test binary's is the one
 * libunwind calls, as libleak.so's is under the preload.  The first virtual
 * call raises SIGUSR1, which must wait for the end of the unwind. */
static int sigmask_virtual, sigmask_real;
static volatile int raise_in_unwind;
static volatile sig_atomic_t usr1_seen, usr1_seen_in_unwind = -1;
static int first_old_usr1 = -1, first_old_usr2 = -1, unblock_kept_errno = -1;

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    int rc = lk_stack_sigmask(how, set, old);
    if (rc == 0) {
        sigmask_virtual++;
        if (raise_in_unwind) {
            raise_in_unwind = 0;
            /* the mask libunwind saw first is the thread's own */
            if (old) {
                first_old_usr1 = sigismember(old, SIGUSR1);
                first_old_usr2 = sigismember(old, SIGUSR2);
            }
            raise(SIGUSR1);
            usr1_seen_in_unwind = usr1_seen;
            /* a virtual SIG_UNBLOCK succeeds without touching errno, also
             * for a set with glibc's own signals (32, 33) in it */
            sigset_t every, back;
            memset(&every, 0xff, sizeof every);
            errno = 4321;
            lk_stack_sigmask(SIG_UNBLOCK, &every, &back);
            unblock_kept_errno = errno == 4321;
            lk_stack_sigmask(SIG_SETMASK, &back, NULL);
        }
        return 0;
    }
    if (rc < 0) {
        errno = EINVAL;
        return -1;
    }
    sigmask_real++;
    rc = pthread_sigmask(how, set, old);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}

static void on_usr1(int sig)
{
    (void)sig;
    usr1_seen = 1;
}

static __attribute__((noinline)) void capture_full_here(lk_frames_t *f)
{
    lk_stack_capture_full(f);
    __asm__ volatile("" ::: "memory");      /* no tail call */
}

/* A libunwind walk blocks every signal once: its own sigprocmask calls (two a
 * step) are all virtual, none reaches the kernel, a signal raised meanwhile
 * is delivered at the end, and the thread's mask is as before. */
START_TEST(test_stack_unwind_masks_signals_once)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    sigset_t usr2, before, after;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &usr2, NULL), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &before), 0);

    sigmask_virtual = sigmask_real = 0;
    usr1_seen = 0;
    raise_in_unwind = 1;
    lk_frames_t f;
    capture_full_here(&f);
    ck_assert_uint_ge(f.depth, 3);
    ck_assert_int_gt(sigmask_virtual, 0);       /* libunwind masks signals ... */
    ck_assert_int_eq(sigmask_real, 0);          /* ... but not in the kernel */
    ck_assert_int_eq(first_old_usr1, 0);        /* the virtual mask starts as ours */
    ck_assert_int_eq(first_old_usr2, 1);
    ck_assert_int_eq(unblock_kept_errno, 1);
    ck_assert_int_eq(usr1_seen_in_unwind, 0);   /* SIGUSR1 waited ... */
    ck_assert_int_eq(usr1_seen, 1);             /* ... until the walk was over */
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &after), 0);
    for (int sig = 1; sig < NSIG; sig++)
        ck_assert_int_eq(sigismember(&after, sig), sigismember(&before, sig));

    /* outside an unwind, every call is the real one */
    sigset_t usr1, cur;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &usr1, NULL), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &cur), 0);
    ck_assert_int_eq(sigismember(&cur, SIGUSR1), 1);
    ck_assert_int_eq(sigmask_real, 1);
    ck_assert_int_eq(sigprocmask(SIG_SETMASK, &before, NULL), 0);
}
END_TEST

/* The walk memo packs its entries from the start of its mapping, in the
 * order they are stored: 60 stacks touch ~15 pages of entries, not one page
 * each at random over its 1.8 MB (each page a fault and resident memory). */
START_TEST(test_stack_memo_entries_packed)
{
    lk_frames_t f;
    for (int n = 0; n < 60; n++)
        for (int k = 0; k < 2; k++)         /* stored on the second sighting */
            recurse(n, &f);
    uintptr_t entries;
    size_t stride;
    uint32_t nslots;
    lk_stack_memo_layout(&entries, &stride, &nslots);
    ck_assert_uint_ne(entries, 0);
    ck_assert_uint_ge(nslots, 50);
    ck_assert_uint_le(nslots, 2048);
    /* with transparent huge pages always on, one touch may bring 2 MiB in */
    char thp[64] = "";
    FILE *fp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (fp) {
        if (!fgets(thp, sizeof thp, fp))
            thp[0] = '\0';
        fclose(fp);
    }
    if (strstr(thp, "[always]"))
        return;
    long page = sysconf(_SC_PAGESIZE);
    size_t span = 2048 * stride, pages = (span + (size_t)page - 1) / (size_t)page;
    unsigned char *vec = malloc(pages);
    ck_assert_ptr_nonnull(vec);
    ck_assert_int_eq(mincore((void *)entries, span, vec), 0);
    size_t resident = 0, used = (nslots * stride + (size_t)page - 1) / (size_t)page;
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    free(vec);
    ck_assert_msg(resident <= used + 1, "%zu memo pages resident for %u entries (%zu pages)",
                  resident, nslots, used);
}
END_TEST

static void *thread_walks(void *arg)
{
    (void)arg;
    for (int round = 0; round < 4; round++) {
        for (unsigned bits = 0; bits < 64; bits++) {
            lk_frames_t fr[2];
            for (volatile int k = 0; k < 2; k++)
                bt_dispatch_of[round & 1](bits, 6, &fr[k], k);
            check_same(&fr[0], &fr[1]);
        }
    }
    return NULL;
}

/* The initial thread's stack bounds come from __libc_stack_end and the
 * stack limit, not from pthread_getattr_np (which reads and parses
 * /proc/self/maps for it); another thread's from pthread_getattr_np. */
static void *bounds_source_of_thread(void *arg)
{
    lk_frames_t f;
    lk_stack_capture(&f);
    *(int *)arg = lk_stack_bounds_source();
    return NULL;
}

START_TEST(test_stack_main_thread_bounds_without_maps)
{
    uint64_t fast0, slow0, memo0, fast1, slow1, memo1;
    lk_frames_t f;
    lk_stack_capture(&f);
    lk_stack_walk_stats(&fast0, &slow0, &memo0);
    lk_stack_capture(&f);
    lk_stack_walk_stats(&fast1, &slow1, &memo1);
    ck_assert_int_eq(lk_stack_bounds_source(), 1);
    ck_assert_uint_eq(fast1 - fast0, 1);            /* and the fast walk trusts them */
    ck_assert_uint_ge(f.depth, 3);
    int other = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, bounds_source_of_thread, &other), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(other, 2);
}
END_TEST

START_TEST(test_stack_fast_walk_threads)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_walks, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
}
END_TEST

/* Free the process-wide tables (stack keys, uthash tables, groups), so that
 * LeakSanitizer sees no leak: they live in memory it does not scan (mmap). */
static void teardown_core(void)
{
    lk_tracker_reset_for_tests();
}

static Suite *stack_suite(void)
{
    Suite *s = suite_create("stack");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown_core);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_stack_intern_dedup_and_stable_ids);
    tcase_add_test(tc, test_stack_fde_covers_agrees_with_libunwind);
    tcase_add_test(tc, test_stack_many_ids_never_move);
    tcase_add_test(tc, test_stack_threads_agree_on_ids);
    tcase_add_test(tc, test_stack_capture_real_unwind);
    tcase_add_test(tc, test_stack_capture_truncates_at_depth);
    tcase_add_test(tc, test_stack_capture_skips_own_frames);
    tcase_add_test(tc, test_stack_fork_prepare_waits_for_unwinder);
    tcase_add_test(tc, test_stack_fast_walk_matches_full_unwind);
    tcase_add_test(tc, test_stack_memo_compares_every_frame);
    tcase_add_test(tc, test_stack_memo_stores_on_second_sighting);
    tcase_add_test(tc, test_stack_memo_sites_forgotten_by_reset);
    tcase_add_test(tc, test_stack_memo_probe_finds_alternating_stacks);
    tcase_add_test(tc, test_stack_memo_probe_collisions_are_checked);
    tcase_add_test(tc, test_stack_pc_table_pages_follow_code);
    tcase_add_test(tc, test_stack_fast_walk_truncation_matches);
    tcase_add_test(tc, test_stack_learning_hands_over_to_fast_walk);
    tcase_add_test(tc, test_stack_fast_walk_threads);
    tcase_add_test(tc, test_stack_main_thread_bounds_without_maps);
    tcase_add_test(tc, test_stack_unwind_masks_signals_once);
    tcase_add_test(tc, test_stack_memo_entries_packed);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(stack_suite)
