/* pl_exit_busy: main returns while 4 detached threads still allocate and
 * free (and one leaks), so the exit dump runs concurrently with the hooks.
 * busy_leak() leaks malloc(1337) in each thread before it starts churning;
 * main waits until all four have done so, then returns 0 after printing
 * "ok".  Expected: exit status 0, one complete exit dump whose site through
 * busy_leak has live 4/5348. */
#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>

static int started;
static void *keep[4];

__attribute__((noinline)) static void *busy_leak(void) { return malloc(1337); }
__attribute__((noinline)) static void *busy_alloc(size_t n) { return malloc(n); }

static void *worker(void *arg)
{
    long t = (long)arg;
    keep[t] = busy_leak();
    __atomic_fetch_add(&started, 1, __ATOMIC_ACQ_REL);
    for (unsigned i = 0;; i++) {
        void *p = busy_alloc(24 + (i % 300));
        free(p);
    }
    return NULL;
}

int main(void)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    for (long t = 0; t < 4; t++) {
        pthread_t th;
        if (pthread_create(&th, &a, worker, (void *)t) != 0) return 2;
    }
    while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < 4) sched_yield();
    printf("ok\n");
    return 0;
}
