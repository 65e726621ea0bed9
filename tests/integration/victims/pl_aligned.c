/* pl_aligned: the memalign family, each checked for alignment by the victim.
 * Expected dump (exit), every block live, family malloc:
 *   do_posix_memalign()  posix_memalign(64, 1337)     live 1/1337
 *   do_aligned_alloc()   aligned_alloc(256, 2560)     live 1/2560
 *   do_memalign()        memalign(128, 1408)          live 1/1408
 *   do_valloc()          valloc(3001)                 live 1/3001
 *   do_pvalloc()         pvalloc(3003)                live 1/3003 (requested bytes)
 *   freed_aligned()      posix_memalign(512, 1111) then free: live 0, total 1/1111
 *   bad_alignment()      posix_memalign(p, 3, 10) -> EINVAL: no site, p untouched
 * Prints "ok" and exits 0; exits 1 on a misaligned or failed result. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *keep[16];
static int nkeep;

static int aligned(void *p, size_t a)
{
    return p != NULL && ((uintptr_t)p % a) == 0;
}

__attribute__((noinline)) static int do_posix_memalign(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, 1337) != 0 || !aligned(p, 64)) return 1;
    keep[nkeep++] = p;
    return 0;
}

__attribute__((noinline)) static int do_aligned_alloc(void)
{
    void *p = aligned_alloc(256, 2560);
    if (!aligned(p, 256)) return 1;
    keep[nkeep++] = p;
    return 0;
}

__attribute__((noinline)) static int do_memalign(void)
{
    void *p = memalign(128, 1408);
    if (!aligned(p, 128)) return 1;
    keep[nkeep++] = p;
    return 0;
}

__attribute__((noinline)) static int do_valloc(void)
{
    void *p = valloc(3001);
    if (!aligned(p, (size_t)sysconf(_SC_PAGESIZE))) return 1;
    keep[nkeep++] = p;
    return 0;
}

__attribute__((noinline)) static int do_pvalloc(void)
{
    void *p = pvalloc(3003);
    if (!aligned(p, (size_t)sysconf(_SC_PAGESIZE))) return 1;
    keep[nkeep++] = p;
    return 0;
}

__attribute__((noinline)) static int freed_aligned(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 512, 1111) != 0 || !aligned(p, 512)) return 1;
    free(p);
    return 0;
}

__attribute__((noinline)) static int bad_alignment(void)
{
    void *p = (void *)0x1234;
    if (posix_memalign(&p, 3, 10) == 0) return 1;
    return p != (void *)0x1234;
}

int main(void)
{
    int bad = do_posix_memalign() | do_aligned_alloc() | do_memalign() | do_valloc() |
              do_pvalloc() | freed_aligned() | bad_alignment();
    if (bad) {
        fprintf(stderr, "aligned allocation broken\n");
        return 1;
    }
    printf("ok %d\n", nkeep);
    return 0;
}
