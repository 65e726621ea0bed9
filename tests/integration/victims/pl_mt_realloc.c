/* pl_mt_realloc: 8 threads run realloc chains, calloc and posix_memalign
 * concurrently (the realloc path detaches and re-attaches records).
 * Each thread, 10000 times: a = mt_alloc() malloc(16); a = mt_grow(a)
 * realloc to 100; a = mt_big(a) realloc to 4000; b = mt_calloc() calloc(3, 33);
 * c = mt_align() posix_memalign(64, 640); free all three.  Then each thread
 * keeps one mt_keep() realloc(NULL, 2345).
 * Expected exit dump (N = 80000):
 *   mt_alloc  live 0, total N / 16N      mt_grow   live 0, total N / 100N
 *   mt_big    live 0, total N / 4000N    mt_calloc live 0, total N / 99N
 *   mt_align  live 0, total N / 640N     mt_keep   live 8/18760
 * Prints "ok" and exits 0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 8
#define NITER 10000

static void *kept[NTHREADS];

__attribute__((noinline)) static char *mt_alloc(void) { return malloc(16); }
__attribute__((noinline)) static char *mt_grow(char *p) { return realloc(p, 100); }
__attribute__((noinline)) static char *mt_big(char *p) { return realloc(p, 4000); }
__attribute__((noinline)) static void *mt_calloc(void) { return calloc(3, 33); }
__attribute__((noinline)) static void *mt_align(void)
{
    void *p = NULL;
    return posix_memalign(&p, 64, 640) == 0 ? p : NULL;
}
__attribute__((noinline)) static void *mt_keep(void) { return realloc(NULL, 2345); }

static void *worker(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < NITER; i++) {
        char *a = mt_alloc();
        a[0] = 'a';
        a = mt_grow(a);
        a = mt_big(a);
        if (a[0] != 'a') abort();
        void *b = mt_calloc(), *c = mt_align();
        if (!b || !c) abort();
        free(a);
        free(b);
        free(c);
    }
    kept[t] = mt_keep();
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    for (long t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)t) != 0) return 2;
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    printf("ok\n");
    return 0;
}
