/* xthread_free: blocks freed and realloc'd by a thread other than the one
 * that allocated them.  Guards the per-thread counter deltas: a free folded
 * before its allocation once drove a site's live bytes below zero and its
 * peak to 2^64 - x.
 *
 * Phase 1 (concurrent, both threads at once, bounded):
 *   xt_shared() malloc(100) is used by both threads.  Thread R, 20000 times:
 *   b = xt_shared(); b = xt_grow(b) realloc to 200; hand b to thread F.
 *   Thread F, 20000 times: x = xt_shared(); free(x); take one handed block
 *   and free it (cross-thread free).  Ring of 64: at most 64 in flight.
 * Phase 2 (sequenced: each step starts when the previous one has ended):
 *   main: 300 x xt_batch() malloc(4096);
 *   worker: frees those 300, then keeps 100 x xt_keep() malloc(64);
 *   main: 200 x xt_rsrc() malloc(32);
 *   worker: reallocs each to 48 at xt_rdst() and frees every other one.
 * Expected exit dump (exact):
 *   xt_shared  live 0,   0      total 40000, 4000000
 *   xt_grow    live 0,   0      total 20000, 4000000
 *   xt_batch   live 0,   0      total 300, 1228800   peak 1228800
 *   xt_keep    live 100, 6400   total 100, 6400      peak 6400
 *   xt_rsrc    live 0,   0      total 200, 6400      peak 6400
 *   xt_rdst    live 100, 4800   total 200, 9600      peak 9600
 * Prints "ok" and exits 0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NITER 20000
#define RING 64
#define NBATCH 300
#define NKEEP 100
#define NREALLOC 200

static void *ring[RING];
static unsigned head, tail;           /* guarded by mu */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *batch[NBATCH];
static void *kept[NKEEP];
static void *moved[NREALLOC];

__attribute__((noinline)) static char *xt_shared(void) { return malloc(100); }
__attribute__((noinline)) static char *xt_grow(char *p) { return realloc(p, 200); }
__attribute__((noinline)) static void *xt_batch(void) { return malloc(4096); }
__attribute__((noinline)) static void *xt_keep(void) { return malloc(64); }
__attribute__((noinline)) static void *xt_rsrc(void) { return malloc(32); }
__attribute__((noinline)) static void *xt_rdst(void *p) { return realloc(p, 48); }

static void put(void *p)
{
    pthread_mutex_lock(&mu);
    while (head - tail == RING)
        pthread_cond_wait(&cv, &mu);
    ring[head++ % RING] = p;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void *take(void)
{
    pthread_mutex_lock(&mu);
    while (head == tail)
        pthread_cond_wait(&cv, &mu);
    void *p = ring[tail++ % RING];
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return p;
}

/* Both threads run this, so xt_shared() has one stack (one site). */
static void *phase1(void *arg)
{
    int reallocs = arg != NULL;
    for (int i = 0; i < NITER; i++) {
        char *b = xt_shared();
        if (!b) abort();
        b[0] = 'x';
        if (reallocs) {
            b = xt_grow(b);
            if (!b || b[0] != 'x') abort();
            put(b);
        } else {
            free(b);
            free(take());
        }
    }
    return NULL;
}

static void *phase2_free_batch(void *arg)
{
    (void)arg;
    for (int i = 0; i < NBATCH; i++)
        free(batch[i]);
    for (int i = 0; i < NKEEP; i++)
        kept[i] = xt_keep();
    return NULL;
}

static void *phase2_realloc(void *arg)
{
    (void)arg;
    for (int i = 0; i < NREALLOC; i++) {
        moved[i] = xt_rdst(moved[i]);
        if (!moved[i]) abort();
    }
    for (int i = 0; i < NREALLOC; i += 2) {
        free(moved[i]);
        moved[i] = NULL;
    }
    return NULL;
}

static int run(void *(*fn)(void *))
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, NULL) != 0) return -1;
    return pthread_join(t, NULL);
}

int main(void)
{
    pthread_t r, f;
    if (pthread_create(&r, NULL, phase1, &r) != 0) return 2;
    if (pthread_create(&f, NULL, phase1, NULL) != 0) return 2;
    pthread_join(r, NULL);
    pthread_join(f, NULL);

    for (int i = 0; i < NBATCH; i++)
        if (!(batch[i] = xt_batch())) return 2;
    if (run(phase2_free_batch) != 0) return 2;
    for (int i = 0; i < NREALLOC; i++)
        if (!(moved[i] = xt_rsrc())) return 2;
    if (run(phase2_realloc) != 0) return 2;
    printf("ok\n");
    return 0;
}
