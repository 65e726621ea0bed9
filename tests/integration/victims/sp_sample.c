/* sp_sample: the sampling mode's end-to-end victim (run with
 * LIBLEAK_SAMPLE_BYTES=65536 by check_sample_e2e).  Truth:
 *   leak_small()   malloc  400,000 x 64 B leaked: 400,000 blocks, 25,600,000 bytes
 *   churn_4k()     malloc  100,000 x 4096 B allocated and freed at once:
 *                  total 100,000 blocks, 409,600,000 bytes, live 0
 *   leak_big()     malloc  10 x 1 MiB leaked (each sampled with p = 1 - e^-16)
 * Prints "ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSMALL 400000
static void *small[NSMALL];
static void *big[10];

__attribute__((noinline)) static void leak_small(void)
{
    for (int i = 0; i < NSMALL; i++)
        small[i] = malloc(64);
}

__attribute__((noinline)) static void churn_4k(void)
{
    for (int i = 0; i < 100000; i++) {
        char *p = malloc(4096);
        if (p)
            p[i % 4096] = (char)i;
        free(p);
    }
}

__attribute__((noinline)) static void leak_big(void)
{
    for (int i = 0; i < 10; i++) {
        big[i] = malloc(1 << 20);
        if (big[i])
            memset(big[i], 1, 64);
    }
}

int main(void)
{
    leak_small();
    churn_4k();
    leak_big();
    printf("ok\n");
    return 0;
}
