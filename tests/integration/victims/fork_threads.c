/* fork_threads: fork while 8 threads allocate; parent and children exit
 * normally.
 * Usage: fork_threads
 * Each thread leaks t+1 blocks of 3001 (kept in a global), then churns
 * 100,000 malloc/free pairs.  Once all threads run, main forks 4 children,
 * one after another; each child leaks 3 blocks of 1337, prints nothing and
 * leaves through exit(0).  Main waits for each (status 0 required), joins
 * the threads, prints "fork_threads: 4 children ok" and exits 0.
 * Expected dumps (exit): one per process, 5 in all.
 *   leak_3001()   main process: live 36/108036, total 36 (children inherit
 *                 however many the threads had made at the fork)
 *   leak_1337()   each child: live 3/4011, total 3; main process: 0/0, 0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 8
#define NCHURN 100000
#define NCHILD 4

static void *kept[NTHREADS][NTHREADS];
static pthread_barrier_t started;

__attribute__((noinline)) static void *leak_3001(void) { return malloc(3001); }
__attribute__((noinline)) static void *leak_1337(void) { return malloc(1337); }
__attribute__((noinline)) static void *churn_one(int i) { return malloc(40 + (size_t)(i % 300)); }

static void *worker(void *arg)
{
    int t = (int)(long)arg;
    for (int k = 0; k <= t; k++)
        kept[t][k] = leak_3001();
    pthread_barrier_wait(&started);
    void *ring[4] = {0};
    for (int i = 0; i < NCHURN; i++) {
        free(ring[i & 3]);
        ring[i & 3] = churn_one(i + t);
    }
    for (int k = 0; k < 4; k++)
        free(ring[k]);
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    pthread_barrier_init(&started, NULL, NTHREADS + 1);
    for (long t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)t) != 0) {
            fprintf(stderr, "fork_threads: pthread_create failed\n");
            return 1;
        }
    pthread_barrier_wait(&started);
    for (int c = 0; c < NCHILD; c++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            static void *mine[3];
            for (int k = 0; k < 3; k++)
                mine[k] = leak_1337();
            exit(mine[0] && mine[1] && mine[2] ? 0 : 1);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "fork_threads: child %d ended with status %d\n", c, st);
            return 1;
        }
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    printf("fork_threads: %d children ok\n", NCHILD);
    return 0;
}
