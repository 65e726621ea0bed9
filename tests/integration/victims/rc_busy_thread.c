/* rc_busy_thread: a worker allocates 444 bytes in on_busy_stack(), keeps the
 * only pointer in a local and then spins on the CPU (never blocking, so its
 * stack pointer cannot be read); main returns meanwhile.  The block is
 * reachable, held by the worker's stack, which the scan finds by the tid in
 * the worker's thread descriptor; threads_sp_unknown counts the worker. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static volatile int started;

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void *on_busy_stack(void)
{
    return calloc(1, 444);
}

static void *worker(void *arg)
{
    (void)arg;
    void *volatile mine = on_busy_stack();
    started = 1;
    for (volatile unsigned long i = 0;; i++)
        if (i == 0) (void)mine;
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 2;
    while (!started) {
    }
    scrub_stack();
    return 0;
}
