/* live - build up 2 million live blocks (16-64 bytes, from 16 stacks), take a
 * libleak snapshot labelled "peak" at the top, then free them in a scattered
 * order.  The "peak" dump's cost.block_table_bytes / totals.live_blocks is
 * the tracker's memory per live block.  Without the preload the snapshot call
 * is skipped (weak symbol).  Prints how long the snapshot took.
 * Usage: live [blocks=2000000] [keep=0]
 * keep=1 frees nothing: every block is still live (and reachable from
 * 'g_blocks') at exit, so the exit dump and its reachability scan cover all of
 * them; main's last act is to print its CLOCK_MONOTONIC time, so run.sh can
 * time what happens after main returns.
 * Expectation: nothing leaks (keep=0). */
#include <time.h>

#include "bench.h"
#include "../../include/libleak.h"

static void **volatile g_blocks;    /* keeps the blocks reachable with keep=1 */

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct live_ctx {
    void **blocks;
    long i;
    size_t size;
};

static BENCH_NOINLINE void live_leaf(void *ctx)
{
    struct live_ctx *l = ctx;
    char *p = malloc(l->size);
    if (p == NULL) {
        fprintf(stderr, "live: out of memory\n");
        exit(1);
    }
    p[0] = 1;
    l->blocks[l->i] = p;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 2000000);
    long keep = bench_arg(argc, argv, 2, 0);
    struct live_ctx l = { .blocks = calloc((size_t)n + 1, sizeof(void *)) };
    if (l.blocks == NULL) {
        fprintf(stderr, "live: out of memory\n");
        return 1;
    }
    uint64_t rng = 0x2468ace;
    for (l.i = 0; l.i < n; l.i++) {
        uint64_t r = bench_rand(&rng);
        l.size = 16 + (r & 3) * 16;
        unsigned k = (unsigned)(l.i & 15);
        btalloc(8 + k % 4, k, live_leaf, &l);
    }
    long long t0 = now_ns();
    if (LIBLEAK_SNAPSHOT("peak") == 0)
        fprintf(stderr, "live: snapshot_ms=%.1f\n", (now_ns() - t0) / 1e6);
    if (keep) {
        g_blocks = l.blocks;
        fprintf(stderr, "live: main_end_ns=%lld\n", now_ns());
        return 0;
    }
    /* A stride coprime with n visits every block once, far from the last. */
    long stride = 1000003;
    while (n > 0 && stride % n != 0 && n % stride == 0)
        stride += 2;
    long j = 0;
    for (long i = 0; i < n; i++) {
        free(l.blocks[j]);
        l.blocks[j] = NULL;
        j = (j + stride) % n;
    }
    for (long i = 0; i < n; i++)      /* any block the stride skipped */
        free(l.blocks[i]);
    free(l.blocks);
    bench_probe_leak();
    return 0;
}
