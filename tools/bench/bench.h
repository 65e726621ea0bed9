/* bench.h - shared pieces of the benchmark workload programs (tools/bench/NAME.c).
 * btalloc() reaches a leaf function through a call stack chosen by bits, so a
 * workload can allocate from hundreds of distinct, known stacks (jemalloc's
 * test/src/btalloc.c does the same).  Header-only: the Makefile builds each
 * tools/bench/X.c on its own, so everything here is static. */
#ifndef LK_BENCH_H
#define LK_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* noipa keeps GCC from inlining, cloning, or merging btalloc_0 and btalloc_1
 * into one function (identical code folding would make every stack the same). */
#if defined(__GNUC__) && !defined(__clang__)
#define BENCH_NOINLINE __attribute__((noipa))
#else
#define BENCH_NOINLINE __attribute__((noinline))
#endif

typedef void (*bench_leaf_fn)(void *ctx);

/* Written by each btalloc level, so the two level functions differ in code. */
static volatile unsigned bench_sink;

static void btalloc_0(unsigned level, unsigned depth, uint64_t bits,
                      bench_leaf_fn leaf, void *ctx);
static void btalloc_1(unsigned level, unsigned depth, uint64_t bits,
                      bench_leaf_fn leaf, void *ctx);

/* One level of the chosen stack: recurse into btalloc_0 or btalloc_1 by bit
 * 'level' of 'bits', or call 'leaf' at the bottom.  The asm after the call
 * sabotages tail-call optimisation, so every level keeps its own frame. */
#define BENCH_LEVEL_BODY(tag)                                             \
    do {                                                                  \
        bench_sink = (tag);                                               \
        if (level >= depth)                                               \
            leaf(ctx);                                                    \
        else if ((bits >> (level % 64)) & 1)                              \
            btalloc_1(level + 1, depth, bits, leaf, ctx);                 \
        else                                                              \
            btalloc_0(level + 1, depth, bits, leaf, ctx);                 \
        __asm__ volatile("" ::: "memory");                                \
    } while (0)

static BENCH_NOINLINE void btalloc_0(unsigned level, unsigned depth, uint64_t bits,
                                     bench_leaf_fn leaf, void *ctx)
{
    BENCH_LEVEL_BODY(0u);
}

static BENCH_NOINLINE void btalloc_1(unsigned level, unsigned depth, uint64_t bits,
                                     bench_leaf_fn leaf, void *ctx)
{
    BENCH_LEVEL_BODY(1u);
}

/* Call 'leaf(ctx)' below 'depth' btalloc frames chosen by 'bits'. */
static BENCH_NOINLINE void btalloc(unsigned depth, uint64_t bits, bench_leaf_fn leaf, void *ctx)
{
    if (bits & 1)
        btalloc_1(1, depth, bits, leaf, ctx);
    else
        btalloc_0(1, depth, bits, leaf, ctx);
    __asm__ volatile("" ::: "memory");
}

/* xorshift64*: fast, deterministic, good enough to pick sizes and stacks. */
static inline uint64_t bench_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Parse argv[i] as a count, or return 'dflt' when it is absent. */
static inline long bench_arg(int argc, char **argv, int i, long dflt)
{
    if (i >= argc)
        return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v < 0) {
        fprintf(stderr, "%s: bad count '%s'\n", argv[0], argv[i]);
        exit(2);
    }
    return v;
}

/* ### churn: malloc/free pairs of mixed small sizes through many stacks */

/* Keep this many blocks in flight, so a free is not always of the block just
 * allocated.  Keep it a power of 2 so we can use '&' instead of '%'. */
#define BENCH_RING 64

struct bench_churn {
    uint64_t rng;
    size_t size;               /* next request, bytes */
    unsigned slot;             /* ring index of the next block to replace */
    unsigned long checksum;    /* keeps the stores observable */
    void *ring[BENCH_RING];
};

static const size_t bench_sizes[16] = {
    8, 16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512
};

/* Pairs per descent: the leaf allocates in a short loop, as real allocation
 * sites do, so the cost of reaching the leaf (17 mispredicted branches on
 * average) does not drown the cost of malloc itself. */
#define BENCH_BURST 4

/* Leaf of a churn step: BENCH_BURST times, allocate 'c->size' bytes, touch
 * them, and free the block allocated BENCH_RING pairs ago. */
static BENCH_NOINLINE void churn_leaf(void *ctx)
{
    struct bench_churn *c = ctx;
    for (int n = 0; n < BENCH_BURST; n++) {
        unsigned char *p = malloc(c->size);
        if (p == NULL) {
            fprintf(stderr, "bench: out of memory\n");
            exit(1);
        }
        p[0] = (unsigned char)c->size;
        c->checksum += p[0];
        free(c->ring[c->slot]);
        c->ring[c->slot] = p;
        c->slot = (c->slot + 1) & (BENCH_RING - 1);
        c->size = bench_sizes[(c->size + (size_t)n) & 15];
    }
}

/* Depth of stack 'k' of a churn: spread over [min_depth, max_depth]. */
static inline unsigned churn_depth(unsigned k, unsigned min_depth, unsigned max_depth)
{
    return min_depth + k % (max_depth - min_depth + 1);
}

/* Run 'pairs' malloc/free pairs (rounded up to BENCH_BURST) through
 * 'stacks' distinct stacks of depth min_depth..max_depth, one chosen at
 * random per burst.  Frees everything it
 * allocated.  Returns a checksum the caller prints or ignores. */
static inline unsigned long churn_run(long pairs, unsigned stacks, unsigned min_depth,
                                      unsigned max_depth, uint64_t seed)
{
    struct bench_churn c;
    memset(&c, 0, sizeof(c));
    c.rng = seed | 1;
    if (stacks == 0)
        stacks = 1;
    for (long i = 0; i < pairs; i += BENCH_BURST) {
        uint64_t r = bench_rand(&c.rng);
        unsigned k = (unsigned)((r >> 8) % stacks);
        c.size = bench_sizes[r & 15];
        /* The low bits are k itself, so stacks of equal depth differ
         * within the first ten levels; the rest are scrambled. */
        uint64_t bits = (uint64_t)k | (k * 0x9E3779B97F4A7C15ULL) << 10;
        btalloc(churn_depth(k, min_depth, max_depth), bits, churn_leaf, &c);
    }
    for (unsigned i = 0; i < BENCH_RING; i++)
        free(c.ring[i]);
    return c.checksum;
}

/* ### probe leak: one known block for the stack-depth check */

static void *volatile bench_probe_block;   /* volatile: or malloc is elided */

static BENCH_NOINLINE void probe_leaf(void *ctx)
{
    (void)ctx;
    bench_probe_block = malloc(4242);
    if (bench_probe_block != NULL)
        memset(bench_probe_block, 0x42, 4242);
}

/* When BENCH_PROBE_DEPTH=N is set, leak one 4242-byte block allocated N
 * btalloc frames below the caller (main), so run.sh can count how many
 * frames each tool reports for it.  The pointer is cleared, so LSan and
 * memcheck see a definite leak. */
static BENCH_NOINLINE void bench_probe_leak(void)
{
    const char *s = getenv("BENCH_PROBE_DEPTH");
    if (s == NULL || *s == '\0')
        return;
    btalloc((unsigned)atoi(s), 0x5555555555555555ULL, probe_leaf, NULL);
    bench_probe_block = NULL;
    __asm__ volatile("" ::: "memory");
}

#endif /* LK_BENCH_H */
