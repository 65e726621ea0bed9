/* realloc - string-builder style growth: 16 buffers in turn, each grown by
 * 8-64 bytes per realloc() up to 4 KiB, then freed and started again, through
 * 8 distinct stacks.
 * Usage: realloc [reallocs=4000000]
 * Expectation: nothing leaks. */
#include "bench.h"

#define NBUF 16
#define MAX_BYTES 4096

struct grow_ctx {
    char *buf[NBUF];
    size_t len[NBUF];
    unsigned b;        /* buffer to grow next */
    size_t add;        /* bytes to append */
};

static BENCH_NOINLINE void grow_leaf(void *ctx)
{
    struct grow_ctx *g = ctx;
    unsigned b = g->b;
    if (g->len[b] + g->add > MAX_BYTES) {
        free(g->buf[b]);
        g->buf[b] = NULL;
        g->len[b] = 0;
    }
    char *p = realloc(g->buf[b], g->len[b] + g->add);
    if (p == NULL) {
        fprintf(stderr, "realloc: out of memory\n");
        exit(1);
    }
    memset(p + g->len[b], 'x', g->add);
    g->buf[b] = p;
    g->len[b] += g->add;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 4000000);
    struct grow_ctx g;
    memset(&g, 0, sizeof(g));
    uint64_t rng = 0x13579bd;
    for (long i = 0; i < n; i++) {
        uint64_t r = bench_rand(&rng);
        g.b = (unsigned)(i % NBUF);
        g.add = 8 + (r & 7) * 8;
        unsigned k = g.b % 8;
        btalloc(6 + k, k, grow_leaf, &g);
    }
    for (unsigned b = 0; b < NBUF; b++)
        free(g.buf[b]);
    bench_probe_leak();
    return 0;
}
