/* crash_segv: leaks known blocks, then dies of SIGSEGV.
 * leak_segv() leaks 3 blocks of 1000 bytes (live 3/3000 in the crash dump).
 * Usage: crash_segv [main|thread|timer|handler]
 *   main:    main -> crash_here() writes through a null pointer.
 *   thread:  4 threads churn malloc/free (bounded: 200M pairs or 20 s each)
 *            while a fifth runs crash_here() after 50 ms.
 *   timer:   main churns malloc/free (bounded as above) until a timer sends
 *            SIGSEGV to it after 100 ms, most likely inside malloc or free.
 *   handler: the program's own SIGSEGV handler prints "caught 11" and exits 3.
 * Prints "leaked" first; never returns from the crash (exit 1 if it does). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void *keep[3];
static volatile int *volatile nowhere;

__attribute__((noinline)) static void *leak_segv(void) { return malloc(1000); }

__attribute__((noinline)) static void crash_here(void)
{
    *nowhere = 42;
    __asm__ volatile("" ::: "memory");
}

static void churn(void)
{
    time_t end = time(NULL) + 20;
    for (long i = 0; i < 200000000 && time(NULL) < end; i++) {
        void *p = malloc(16 + (size_t)(i % 512));
        free(p);
    }
}

static void *churner(void *arg)
{
    (void)arg;
    churn();
    return NULL;
}

static void *crasher(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    crash_here();
    return NULL;
}

static void on_segv(int sig)
{
    char msg[] = "caught 11\n";
    msg[7] = (char)('0' + sig / 10);
    msg[8] = (char)('0' + sig % 10);
    (void)!write(1, msg, sizeof msg - 1);
    _exit(3);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "main";
    for (int i = 0; i < 3; i++) keep[i] = leak_segv();
    printf("leaked\n");
    fflush(stdout);
    if (!strcmp(mode, "handler")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_segv;
        sigaction(SIGSEGV, &sa, NULL);
        crash_here();
    } else if (!strcmp(mode, "thread")) {
        pthread_t t[5];
        for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, churner, NULL);
        pthread_create(&t[4], NULL, crasher, NULL);
        for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
    } else if (!strcmp(mode, "timer")) {
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = SIGSEGV;
        ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
        timer_t tm;
        struct itimerspec its = {{0, 0}, {0, 100 * 1000 * 1000}};
        if (timer_create(CLOCK_MONOTONIC, &ev, &tm) != 0 || timer_settime(tm, 0, &its, NULL) != 0)
            return 4;
        churn();
    } else {
        crash_here();
    }
    return 1;
}
