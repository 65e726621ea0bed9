/* pl_oom: a leak that grows until memory runs out, run under a small
 * RLIMIT_AS (the test uses prlimit): grow_1mib() leaks 1 MiB blocks (each
 * touched) until malloc fails, then the program prints "leaked N" (N
 * blocks) and exits 0 normally (1 if malloc never failed).
 * Expected: an exit dump despite the exhausted address space, with the site
 * through grow_1mib live N blocks / N MiB, a failures[] entry through
 * grow_1mib (kind enomem, request 1048576), and limits.rlimit_as_bytes set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[100000];

__attribute__((noinline)) static void *grow_1mib(void) { return malloc(1 << 20); }

int main(void)
{
    int n = 0;
    for (; n < 100000; n++) {
        void *p = grow_1mib();
        if (!p) break;
        memset(p, 1, 4096);
        keep[n] = p;
    }
    printf("leaked %d\n", n);
    return n > 0 && n < 100000 ? 0 : 1;
}
