/* pl_pthread_exit: main() ends with pthread_exit(); the process lives on
 * until its last thread ends, then exits with status 0 as if by exit(0).
 * libleak's own threads must not keep it alive, and the exit dump is
 * written.  The worker leaks malloc(1337) via worker_leak() and returns
 * after 100 ms; main leaks malloc(2021) via main_leak() first.
 * Expected: exit status 0, "ok" on stdout, one exit dump with worker_leak
 * live 1/1337 and main_leak live 1/2021. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *keep[2];

__attribute__((noinline)) static void *worker_leak(void) { return malloc(1337); }
__attribute__((noinline)) static void *main_leak(void) { return malloc(2021); }

static void *worker(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    keep[0] = worker_leak();
    printf("ok\n");
    fflush(stdout);
    return NULL;
}

int main(void)
{
    pthread_t th;
    keep[1] = main_leak();
    if (pthread_create(&th, NULL, worker, NULL) != 0) return 2;
    pthread_exit(NULL);
}
