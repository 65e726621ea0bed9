/* pl_threads: 8 threads churning, each leaking a known amount.
 * Expected dump (exit):
 *   leak_3001()    thread t (0..7) leaks t+1 blocks of 3001:
 *                  live 36/108036, total 36/108036
 *   churn_one()    each thread 20000 x malloc(48 + i % 16) + free:
 *                  live 0, total 160000 blocks / 8 * CHURN_BYTES, where
 *                  CHURN_BYTES = sum over i < 20000 of (48 + i % 16)
 *   handoff()      main allocates 8 x 500 blocks of 777 bytes that the
 *                  threads free: live 0, total 4000/3108000, freed 4000
 * Prints "ok" and exits 0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 8
#define NCHURN 20000
#define NHAND 500

static void *handed[NTHREADS][NHAND];
static void *kept[NTHREADS][NTHREADS];
static pthread_barrier_t barrier;

__attribute__((noinline)) static void *leak_3001(void) { return malloc(3001); }
__attribute__((noinline)) static void *churn_one(int i) { return malloc(48 + (size_t)(i % 16)); }
__attribute__((noinline)) static void *handoff(void) { return malloc(777); }

static void *worker(void *arg)
{
    int t = (int)(long)arg;
    void *ring[8] = {0};
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < NCHURN; i++) {
        free(ring[i % 8]);
        ring[i % 8] = churn_one(i);
        if (i % 40 == 0 && i / 40 < NHAND) free(handed[t][i / 40]);
    }
    for (int i = 0; i < 8; i++) free(ring[i]);
    for (int i = 0; i <= t; i++) kept[t][i] = leak_3001();
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        for (int i = 0; i < NHAND; i++) handed[t][i] = handoff();
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (int t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(long)t) != 0) return 1;
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    printf("ok\n");
    return 0;
}
