/* pl_api_mt: libleak_snapshot() from 8 threads at once, while they allocate.
 * Thread t (0..7) calls LIBLEAK_SNAPSHOT("t<t>-<i>") for i = 0..9, leaking
 * malloc(1337) via mt_leak() before each call and churning a few blocks.
 * Prints "ok <failures>" (the number of calls that did not return 0 when
 * libleak is active) and exits 0.
 * Expected: 80 api dumps with seq 0..79 (then the exit dump, seq 80), every
 * label t<t>-<i> exactly once; in each api dump the site through mt_leak has
 * at least as many live blocks as that thread's i + 1; the exit dump has
 * 80/106960. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <libleak.h>

static void *keep[8][10];
static int failures;

__attribute__((noinline)) static void *mt_leak(void) { return malloc(1337); }

static void *worker(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < 10; i++) {
        char label[16];
        snprintf(label, sizeof label, "t%ld-%d", t, i);
        keep[t][i] = mt_leak();
        for (int k = 0; k < 100; k++) free(malloc(32 + (size_t)k));
        if (LIBLEAK_ACTIVE() && LIBLEAK_SNAPSHOT(label) != 0)
            __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[8];
    for (long t = 0; t < 8; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)t) != 0) return 2;
    for (int t = 0; t < 8; t++) pthread_join(th[t], NULL);
    printf("ok %d\n", failures);
    return 0;
}
