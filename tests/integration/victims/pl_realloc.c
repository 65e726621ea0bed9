/* pl_realloc: realloc chains and edge cases.  A block moved by realloc is
 * attributed to the realloc call's stack; the old block counts as freed at
 * its own site.
 * Expected dump (exit):
 *   chain_start()  malloc(100), realloc'd away:       live 0, total 1/100, freed 1
 *   chain_grow()   realloc(p, 1000), realloc'd away:  live 0, total 1/1000, freed 1
 *   chain_end()    realloc(p, 3000) kept:             live 1/3000, total 1/3000
 *   realloc_null() realloc(NULL, 1511) twice, kept:   live 2/3022 (it is malloc)
 *   zero_alloc()   malloc(1777), then realloc(p, 0):  live 0, total 1/1777, freed 1
 *   realloc_zero() realloc(p, 0) returns NULL:        no site, no failure
 *   fail_alloc()   2 x malloc(1901), each realloc'd to 2^62 (fails, the old
 *                  block stays tracked); then one is freed, one kept:
 *                  live 1/1901, total 2/3802, freed 1
 *   realloc_fail() realloc(p, 1<<62) -> NULL/ENOMEM:  no site; one failures entry
 *                  kind enomem, function realloc, request_bytes 2^62, count 2
 *   shrink_alloc() malloc(5000), shrunk:              live 0, total 1/5000, freed 1
 *   shrink()       realloc(p, 50) kept:               live 1/50
 *   ra_alloc()     reallocarray(NULL, 10, 123), moved away: live 0, total 1/1230
 *   ra_grow()      reallocarray(p, 20, 123) kept:     live 1/2460
 * Prints "ok" and exits 0; exits 1 if contents are not preserved. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[16];
static int nkeep;

__attribute__((noinline)) static char *chain_start(void) { return malloc(100); }
__attribute__((noinline)) static char *chain_grow(char *p) { return realloc(p, 1000); }
__attribute__((noinline)) static char *chain_end(char *p) { return realloc(p, 3000); }
__attribute__((noinline)) static void *realloc_null(void) { return realloc(NULL, 1511); }
__attribute__((noinline)) static void *zero_alloc(void) { return malloc(1777); }
__attribute__((noinline)) static void *realloc_zero(void *p) { return realloc(p, 0); }
__attribute__((noinline)) static void *fail_alloc(void) { return malloc(1901); }
__attribute__((noinline)) static void *realloc_fail(void *p)
{
    return realloc(p, (size_t)1 << 62);
}
__attribute__((noinline)) static char *shrink_alloc(void) { return malloc(5000); }
__attribute__((noinline)) static char *shrink(char *p) { return realloc(p, 50); }
__attribute__((noinline)) static char *ra_alloc(void) { return reallocarray(NULL, 10, 123); }
__attribute__((noinline)) static char *ra_grow(char *p) { return reallocarray(p, 20, 123); }

int main(void)
{
    char *p = chain_start();
    memset(p, 'a', 100);
    p = chain_grow(p);
    if (!p || p[99] != 'a') goto bad;
    p = chain_end(p);
    if (!p || p[0] != 'a' || p[99] != 'a') goto bad;
    keep[nkeep++] = p;

    for (int i = 0; i < 2; i++) keep[nkeep++] = realloc_null();  /* one call site */

    void *z = zero_alloc();
    if (realloc_zero(z) != NULL) goto bad;  /* glibc frees and returns NULL */

    char *f[2];
    for (int i = 0; i < 2; i++) {  /* one call site each */
        f[i] = fail_alloc();
        f[i][0] = 'x';
        errno = 0;
        if (realloc_fail(f[i]) != NULL || errno != ENOMEM || f[i][0] != 'x') goto bad;
    }
    free(f[0]);  /* a tracked free only if the failed realloc kept the record */
    keep[nkeep++] = f[1];

    char *s = shrink_alloc();
    memset(s, 's', 5000);
    s = shrink(s);
    if (!s || s[49] != 's') goto bad;
    keep[nkeep++] = s;

    char *ra = ra_alloc();
    if (!ra) goto bad;
    ra[1229] = 'r';
    ra = ra_grow(ra);
    if (!ra || ra[1229] != 'r') goto bad;
    keep[nkeep++] = ra;

    printf("ok %d\n", nkeep);
    return 0;
bad:
    fprintf(stderr, "realloc semantics broken\n");
    return 1;
}
