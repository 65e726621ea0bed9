/* rc_thread_stack: a worker thread allocates 333 bytes in on_worker_stack(),
 * keeps the only pointer in a local and parks; main returns while it is
 * parked.  The block is reachable, held by the worker's stack (a tid that
 * is not the pid).  Nothing is lost. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ready[2], forever[2];

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void *on_worker_stack(void)
{
    return calloc(1, 333);
}

static void *worker(void *arg)
{
    (void)arg;
    void *volatile mine = on_worker_stack();
    char c = 1;
    if (write(ready[1], &c, 1) != 1) return NULL;
    if (read(forever[0], &c, 1) < 0) return NULL;   /* parked until exit */
    free(mine);
    return NULL;
}

int main(void)
{
    if (pipe(ready) < 0 || pipe(forever) < 0) return 2;
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 2;
    char c;
    if (read(ready[0], &c, 1) != 1) return 2;
    scrub_stack();
    return 0;
}
