/* pl_bigtable: a million live blocks (the block table must grow without
 * losing any), then every other one freed.
 * many_24() mallocs 24 bytes 1,000,000 times from one call site; main frees
 * the even-indexed half.  Expected exit dump: one site through many_24 with
 * live 500000/12000000, total 1000000/24000000, freed 500000; totals
 * complete with no dropped events.  Prints "ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>

#define N 1000000

static void *blocks[N];

__attribute__((noinline)) static void *many_24(void) { return malloc(24); }

int main(void)
{
    for (int i = 0; i < N; i++) blocks[i] = many_24();
    for (int i = 0; i < N; i += 2) free(blocks[i]);
    printf("ok\n");
    return 0;
}
