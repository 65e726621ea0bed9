/* live - build up 2 million live blocks (16-64 bytes, from 16 stacks), take a
 * libleak snapshot labelled "peak" at the top, then free them in a scattered
 * order.  The "peak" dump's cost.block_table_bytes / totals.live_blocks is
 * the tracker's memory per live block.  Without the preload the snapshot call
 * is skipped (weak symbol).
 * Usage: live [blocks=2000000]
 * Expectation: nothing leaks. */
#include "bench.h"
#include "../../include/libleak.h"

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
    LIBLEAK_SNAPSHOT("peak");
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
