/* pl_manysites: 1024 distinct stacks, each allocating twice.
 * bt(i, 10) recurses 10 levels through bt_0() or bt_1() as chosen by the
 * bits of i (a non-tail call at each level, as jemalloc's btalloc), then
 * bt_leaf() mallocs 1000 + i % 7 bytes.  main walks i = 0..1023 twice from
 * one call site, keeping every block.
 * Expected exit dump: exactly 1024 sites through bt_leaf, each with live 2 /
 * total 2 blocks and 2 * (1000 + i % 7) bytes; all 1024 stacks distinct;
 * live bytes through bt_leaf sum to 2 * sum(1000 + i % 7).
 * Prints "ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>

#define DEPTH 10
#define N (1u << DEPTH)

static void *keep[2 * N];

__attribute__((noinline)) static void *bt_leaf(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *bt(unsigned bits, int depth, size_t n);

__attribute__((noinline)) static void *bt_0(unsigned bits, int depth, size_t n)
{
    void *p = bt(bits, depth, n);
    __asm__ volatile("" ::: "memory");  /* not a tail call */
    return p;
}

__attribute__((noinline)) static void *bt_1(unsigned bits, int depth, size_t n)
{
    void *p = bt(bits, depth, n);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *bt(unsigned bits, int depth, size_t n)
{
    if (depth == 0) return bt_leaf(n);
    return (bits & 1) ? bt_1(bits >> 1, depth - 1, n) : bt_0(bits >> 1, depth - 1, n);
}

int main(void)
{
    for (unsigned k = 0; k < 2 * N; k++) {
        unsigned i = k % N;
        keep[k] = bt(i, DEPTH, 1000 + i % 7);
    }
    printf("ok\n");
    return 0;
}
