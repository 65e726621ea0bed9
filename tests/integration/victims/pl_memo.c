/* pl_memo: call paths that agree in their innermost frames and stack
 * position but differ further out must stay distinct sites, however often
 * they alternate (an unwinder that memoizes walks by their first return
 * addresses and stack pointer must still check the rest).
 * path_a() and path_b() have identical frames and both call mid(), which
 * calls leaf_memo() -> malloc(1337); via_a() and via_b() add one more level
 * with the same shape.  main alternates 200 rounds of path_a, path_b,
 * via_a, via_b, each from one call site, keeping every block.
 * Expected exit dump: 4 sites through leaf_memo, each live 200/267400:
 *   path_a only, path_b only, via_a+path_a, via_b+path_b.
 * Prints "ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 200

static void *keep[4 * ROUNDS];
static int nkeep;

__attribute__((noinline)) static void *leaf_memo(void) { return malloc(1337); }

__attribute__((noinline)) static void *mid(void)
{
    void *p = leaf_memo();
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *path_a(void)
{
    void *p = mid();
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *path_b(void)
{
    void *p = mid();
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *via_a(void)
{
    void *p = path_a();
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *via_b(void)
{
    void *p = path_b();
    __asm__ volatile("" ::: "memory");
    return p;
}

int main(void)
{
    void *(*const fns[4])(void) = {path_a, path_b, via_a, via_b};
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < 4; k++) keep[nkeep++] = fns[k]();
    printf("ok %d\n", nkeep);
    return 0;
}
