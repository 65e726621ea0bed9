/* pl_fastpath: every C allocation function, 1000 times each from one call
 * site (malloc, calloc, realloc growing a block, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc), everything freed.
 * Its stacks are all plain frames, so after the first capture of each site
 * (a learning unwind) every capture must take the fast walk: the exit dump's
 * cost.unwinds_fallback is 0 and cost.unwinds_learning stays small.  A hook
 * whose frames libleak can no longer walk out of (an inlining change) would
 * fall back to unw_backtrace 10000 times and still give right stacks; this
 * is what notices.
 * Expected: no live block; prints "ok" and exits 0. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 1000

__attribute__((noinline)) static void round_trip(void)
{
    free(malloc(24));
    free(calloc(3, 16));
    void *p = realloc(NULL, 8);
    p = realloc(p, 4000);
    free(p);
    free(reallocarray(NULL, 5, 40));
    void *q = NULL;
    if (posix_memalign(&q, 64, 100) == 0)
        free(q);
    free(aligned_alloc(128, 256));
    free(memalign(32, 48));
    free(valloc(100));
    free(pvalloc(100));
}

int main(void)
{
    for (int i = 0; i < ROUNDS; i++)
        round_trip();
    puts("ok");
    return 0;
}
