/* churn64: 64 threads churn malloc/realloc/free for a bounded time while a
 * forked sender process sends SIGUSR1 to this process every millisecond.
 * Usage: churn64 [ms]   (churn time, default 2000, at most 10000)
 * The program owns SIGUSR1: its counting handler is installed from
 * .preinit_array, before libleak starts, so natively the signals are only
 * counted and under the preload libleak chains to it and snapshots.
 * Each thread stops at the deadline or after 2,000,000 rounds; the sender
 * stops when the churn ends (its pipe closes) or after ms + 10,000 signals.
 * Expected dump (exit, main process):
 *   leak_2021()     each thread leaks one block: live 64/129344, total 64
 *   churn_block()   malloc'd, realloc'd and freed by its thread: live 0
 * The sender (a child forked before the threads) writes its own exit dump.
 * Prints "churn64: 64 threads done" and exits 0. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 64
#define MAX_ROUNDS 2000000L
#define RING 16

static volatile sig_atomic_t handled;
static void *leaked[NTHREADS];
static struct timespec deadline;

static void on_usr1(int sig)
{
    (void)sig;
    handled++;
}

static void install(int argc, char **argv, char **envp)
{
    (void)argc; (void)argv; (void)envp;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
}
__attribute__((section(".preinit_array"), used))
static void (*preinit)(int, char **, char **) = install;

__attribute__((noinline)) static void *leak_2021(void) { return malloc(2021); }
__attribute__((noinline)) static void *churn_block(long i) { return malloc(24 + (size_t)(i % 200)); }

static int past_deadline(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline.tv_sec ||
           (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

static void *worker(void *arg)
{
    long t = (long)arg;
    void *ring[RING] = {0};
    leaked[t] = leak_2021();
    for (long i = 0; i < MAX_ROUNDS; i++) {
        if ((i & 1023) == 0 && past_deadline())
            break;
        int k = (int)(i % RING);
        free(ring[k]);
        ring[k] = churn_block(i + t);
        void *q = realloc(ring[k], 64 + (size_t)((i * 7 + t) % 900));
        if (q)
            ring[k] = q;
    }
    for (int k = 0; k < RING; k++)
        free(ring[k]);
    return NULL;
}

/* Send SIGUSR1 to 'target' every millisecond until 'done' is readable (the
 * parent closed its end) or 'max' signals went out. */
static void sender(pid_t target, int done, long max)
{
    struct pollfd p = {.fd = done, .events = POLLIN};
    for (long n = 0; n < max; n++) {
        if (poll(&p, 1, 1) != 0)
            break;
        if (kill(target, SIGUSR1) != 0)
            break;
    }
}

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 2000;
    if (ms < 1 || ms > 10000)
        ms = 2000;
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(fds[1]);
        sender(parent, fds[0], ms + 10000);
        exit(0);
    }
    close(fds[0]);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_t th[NTHREADS];
    for (long t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)t) != 0) {
            fprintf(stderr, "churn64: pthread_create failed\n");
            return 1;
        }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    close(fds[1]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            perror("waitpid");
            return 1;
        }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "churn64: sender ended with status %d\n", st);
        return 1;
    }
    for (int t = 0; t < NTHREADS; t++)
        if (!leaked[t]) {
            fprintf(stderr, "churn64: leak_2021 failed\n");
            return 1;
        }
    printf("churn64: %d threads done\n", NTHREADS);
    return 0;
}
