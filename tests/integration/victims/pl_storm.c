/* pl_storm: SIGUSR1 every millisecond during an 8-thread churn.
 * 8 workers each do 1000000 malloc/free pairs of varying sizes into a ring
 * and fold the contents into a checksum; when libleak is active (see
 * include/libleak.h) a ninth thread sends SIGUSR1 to the process every
 * millisecond until the workers finish.  Prints the checksum and the word
 * "ok", identical with and without the preload, and exits 0.
 * Expected under the preload: no deadlock or crash, at least one signal
 * dump, every dump complete JSON; the site through churn_alloc ends with
 * live 0, total 8000000 blocks. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libleak.h>

#define NTHREADS 8
#define NITER 1000000

static volatile int done;
static uint64_t sums[NTHREADS];

__attribute__((noinline)) static unsigned char *churn_alloc(size_t n) { return malloc(n); }

static void *worker(void *arg)
{
    int t = (int)(long)arg;
    unsigned char *ring[16] = {0};
    uint64_t sum = 0;
    for (int i = 0; i < NITER; i++) {
        int slot = i % 16;
        if (ring[slot]) {
            sum = sum * 31 + ring[slot][0];
            free(ring[slot]);
        }
        size_t n = 16 + (size_t)((i * 7 + t) % 500);
        ring[slot] = churn_alloc(n);
        ring[slot][0] = (unsigned char)(i + t);
    }
    for (int i = 0; i < 16; i++) free(ring[i]);
    sums[t] = sum;
    return NULL;
}

static void *signaller(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 1000 * 1000};
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        kill(getpid(), SIGUSR1);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS], sig;
    int active = LIBLEAK_ACTIVE();
    if (active && pthread_create(&sig, NULL, signaller, NULL) != 0) return 2;
    for (int t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(long)t) != 0) return 2;
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    if (active) pthread_join(sig, NULL);
    uint64_t total = 0;
    for (int t = 0; t < NTHREADS; t++) total ^= sums[t] + (uint64_t)t;
    printf("%016llx ok\n", (unsigned long long)total);
    return 0;
}
