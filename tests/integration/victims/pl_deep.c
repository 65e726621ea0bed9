/* pl_deep: a leak 12 calls deep, for LIBLEAK_DEPTH.
 * rec(12) recurses to rec(0), which leaks malloc(1337) via leaf_1337().
 * Expected dump (exit): one site through leaf_1337, live 1/1337.  With the
 * default depth (32) its stack is not truncated and reaches main; with
 * LIBLEAK_DEPTH=3 it is marked truncated and has at most 3 frames.
 * Prints "ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>

static void *keep;

__attribute__((noinline)) static void *leaf_1337(void) { return malloc(1337); }

__attribute__((noinline)) static void *rec(int n)
{
    void *p = n == 0 ? leaf_1337() : rec(n - 1);
    __asm__ volatile("" ::: "memory");  /* not a tail call */
    return p;
}

int main(void)
{
    keep = rec(12);
    printf("ok\n");
    return 0;
}
