/* pl_fail: failed allocations are never recorded as live, keep ENOMEM, and
 * land in failures[] with their stack.
 * Expected dump (exit):
 *   huge_malloc()     malloc(1<<62) -> NULL, errno ENOMEM: failures entry
 *                     kind enomem, function malloc, request_bytes 2^62, count 2
 *                     (called twice from the same line)
 *   overflow_calloc() calloc(SIZE_MAX/2, 4) -> NULL, errno ENOMEM: failures
 *                     entry kind mul_overflow, function calloc, count 1,
 *                     request_bytes saturated at 2^63-1
 *   overflow_reallocarray() reallocarray(NULL, SIZE_MAX/2, 4) -> NULL/ENOMEM:
 *                     kind mul_overflow, function reallocarray, count 1
 *   tib64_malloc()    malloc(64 TiB) -> NULL, errno ENOMEM: a failures entry
 *                     with request_bytes 2^46 (kind enomem or implausible)
 *   memalign_huge()   posix_memalign(&p, 64, 1<<62) -> ENOMEM, p untouched:
 *                     kind enomem, function posix_memalign, count 1
 *   aligned_huge()    aligned_alloc(64, 1<<62) -> NULL, errno ENOMEM:
 *                     kind enomem, function aligned_alloc, count 1
 *   ok_after()        malloc(1337) kept: live 1/1337 (tracking goes on)
 *   No site passes through the failing functions.
 * Prints "ok" and exits 0; exits 1 if a request succeeded or errno is wrong. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void *keep;
/* volatile, so the compiler cannot see (and warn about) the overflow */
static volatile size_t half = SIZE_MAX / 2;

__attribute__((noinline)) static int huge_malloc(void)
{
    errno = 0;
    void *p = malloc((size_t)1 << 62);
    return p != NULL || errno != ENOMEM;
}

__attribute__((noinline)) static int overflow_calloc(void)
{
    errno = 0;
    void *p = calloc(half, 4);
    return p != NULL || errno != ENOMEM;
}

__attribute__((noinline)) static int overflow_reallocarray(void)
{
    errno = 0;
    void *p = reallocarray(NULL, half, 4);
    return p != NULL || errno != ENOMEM;
}

__attribute__((noinline)) static int tib64_malloc(void)
{
    errno = 0;
    void *p = malloc((size_t)64 << 40);
    return p != NULL || errno != ENOMEM;
}

__attribute__((noinline)) static int memalign_huge(void)
{
    void *p = (void *)0x5678;
    return posix_memalign(&p, 64, (size_t)1 << 62) != ENOMEM || p != (void *)0x5678;
}

__attribute__((noinline)) static int aligned_huge(void)
{
    errno = 0;
    void *p = aligned_alloc(64, (size_t)1 << 62);
    return p != NULL || errno != ENOMEM;
}

__attribute__((noinline)) static int ok_after(void)
{
    keep = malloc(1337);
    return keep == NULL;
}

int main(void)
{
    int bad = 0;
    for (int i = 0; i < 2; i++) bad |= huge_malloc();
    bad |= overflow_calloc() << 1;
    bad |= overflow_reallocarray() << 2;
    bad |= tib64_malloc() << 3;
    bad |= ok_after() << 4;
    bad |= memalign_huge() << 5;
    bad |= aligned_huge() << 6;
    if (bad) {
        fprintf(stderr, "failure semantics broken: %#x\n", bad);
        return 1;
    }
    printf("ok\n");
    return 0;
}
