/* gr_oversized: failed requests next to a small steady working set.
 *   tib64()       malloc(64 TiB) -> NULL (TIB64_SITE): failures[] kind
 *                 enomem or implausible, request_bytes 70368744177664
 *   calloc_ovf()  calloc(SIZE_MAX/2, 4) -> NULL (CALLOC_SITE): kind
 *                 mul_overflow, function calloc
 *   working_set() 8 x 4 KiB kept (WORKING_SITE)
 * Expected verdict: "overflow, not a leak".  Prints "ok", exits 0; exits 1
 * if a request succeeded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void *keep[8];
static volatile size_t half = SIZE_MAX / 2;     /* hides the overflow from the compiler */

__attribute__((noinline)) static int tib64(void)
{
    void *p = malloc((size_t)64 << 40);         /* TIB64_SITE */
    return p != NULL;
}

__attribute__((noinline)) static int calloc_ovf(void)
{
    void *p = calloc(half, 4);                  /* CALLOC_SITE */
    return p != NULL;
}

__attribute__((noinline)) static void working_set(void)
{
    for (int i = 0; i < 8; i++)
        keep[i] = malloc(4096);                 /* WORKING_SITE */
}

int main(void)
{
    working_set();
    if (tib64() || calloc_ovf()) {
        fprintf(stderr, "an absurd request succeeded\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
