/* pl_unknown_free: frees of pointers libleak never saw pass through and are
 * counted; free(NULL) is not counted.
 * Usage: pl_unknown_free K
 * Allocates K blocks of 4242 bytes with glibc's own __libc_malloc (which
 * libleak does not interpose), frees each with free(), and calls free(NULL)
 * 50 times.  Expected: totals.untracked_frees is larger by exactly K than
 * with K = 0, and no site has 4242-byte requests.  Also leaks one
 * malloc(1337) at leak_1337() so the dump is known to be live, and
 * realloc()s one __libc_malloc block to 5000 bytes in foreign_realloc():
 * that is one more untracked free (in every run) and a new tracked block,
 * live 1/5000 at foreign_realloc.
 * Prints "ok K" and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t size);

static void *keep, *keep2;

__attribute__((noinline)) static void leak_1337(void)
{
    keep = malloc(1337);
}

__attribute__((noinline)) static void foreign_free(void)
{
    void *p = __libc_malloc(4242);
    memset(p, 1, 4242);
    free(p);
}

__attribute__((noinline)) static void foreign_realloc(void)
{
    char *p = __libc_malloc(4242);
    p[0] = 'f';
    char *q = realloc(p, 5000);
    if (!q || q[0] != 'f') exit(1);
    keep2 = q;
}

int main(int argc, char **argv)
{
    int k = argc > 1 ? atoi(argv[1]) : 0;
    leak_1337();
    foreign_realloc();
    for (int i = 0; i < k; i++) foreign_free();
    for (int i = 0; i < 50; i++) free(NULL);
    printf("ok %d\n", k);
    return 0;
}
