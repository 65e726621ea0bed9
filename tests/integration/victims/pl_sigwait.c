/* pl_sigwait: a program that takes SIGUSR1 itself with sigwait (SIGUSR1
 * blocked in every thread, a thread waiting for it, as servers do for log
 * rotation) must keep getting every one: libleak's threads must not take
 * them.  main sends itself SIGUSR1 three times; the waiter uses
 * sigtimedwait with 10 s per signal.  Prints "sigwait got 3" and exits 0,
 * with or without the preload. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static sigset_t set;
static int got;

static void *waiter(void *arg)
{
    (void)arg;
    struct timespec ts = {10, 0};
    for (int i = 0; i < 3; i++)
        if (sigtimedwait(&set, NULL, &ts) == SIGUSR1) got++;
    return NULL;
}

int main(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, waiter, NULL) != 0) return 2;
    for (int i = 0; i < 3; i++) {
        kill(getpid(), SIGUSR1);
        nanosleep(&ts, NULL);
    }
    pthread_join(t, NULL);
    printf("sigwait got %d\n", got);
    return 0;
}
