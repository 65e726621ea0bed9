/* pl_basic: malloc, calloc and malloc(0) at known sites.
 * Expected dump (exit):
 *   leak_1337()   malloc  3 blocks of 1337 live: live 3/4011, total 3/4011
 *   churn_2021()  malloc  5 blocks of 2021 allocated, then all freed:
 *                 live 0/0, total 5/10105, freed 5, peak_live 10105
 *   calloc_1003() malloc  2 x calloc(17, 59) live: live 2/2006, total 2/2006
 *   zero_leak()   malloc  2 x malloc(0) live: live 2/0, total 2/0
 *   free(NULL) x 100 is neither a free nor an untracked free.
 * Prints "ok" and exits 0; exits 1 if calloc memory is not zeroed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[64];
static int nkeep;

__attribute__((noinline)) static void leak_1337(void)
{
    keep[nkeep++] = malloc(1337);
}

__attribute__((noinline)) static void churn_2021(void)
{
    void *p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = malloc(2021);
        memset(p[i], i, 2021);
    }
    for (int i = 0; i < 5; i++) free(p[i]);
}

__attribute__((noinline)) static int calloc_1003(void)
{
    unsigned char *p = calloc(17, 59);
    if (!p) return 1;
    for (int i = 0; i < 17 * 59; i++)
        if (p[i]) return 1;
    keep[nkeep++] = p;
    return 0;
}

__attribute__((noinline)) static int zero_leak(void)
{
    void *p = malloc(0);
    keep[nkeep++] = p;
    return p == NULL;  /* glibc returns a unique pointer for malloc(0) */
}

int main(void)
{
    for (int i = 0; i < 3; i++) leak_1337();
    churn_2021();
    for (int i = 0; i < 2; i++)  /* one call site each: one stack */
        if (calloc_1003()) {
            fprintf(stderr, "calloc memory not zeroed\n");
            return 1;
        }
    for (int i = 0; i < 2; i++)
        if (zero_leak()) {
            fprintf(stderr, "malloc(0) returned NULL\n");
            return 1;
        }
    for (int i = 0; i < 100; i++) free(NULL);
    printf("ok %d\n", nkeep);
    return 0;
}
