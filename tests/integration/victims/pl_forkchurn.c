/* pl_forkchurn: fork while other threads allocate.  4 threads churn
 * malloc/free until told to stop; meanwhile main forks 20 times.  Each child
 * (a copy of a process whose allocator and libleak locks were in use) does
 * child_work(): 10 x malloc(2021) + free and one leaked malloc(777), then
 * exits 0; the parent reaps it.  A lock inherited held would hang the
 * child.  Prints "ok 20" and exits 0.
 * Expected: 21 exit dumps (parent + 20 children), each complete JSON; in
 * every child child_work's sites show the 777-byte leak live 1/777. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 4
#define NFORKS 20

static volatile int stop;
static void *keep;

__attribute__((noinline)) static void *churn_alloc(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *child_leak(void) { return malloc(777); }

__attribute__((noinline)) static void child_work(void)
{
    for (int i = 0; i < 10; i++) free(churn_alloc(2021));
    keep = child_leak();
}

static void *worker(void *arg)
{
    size_t n = 32 + (size_t)(long)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        void *p[8];
        for (int i = 0; i < 8; i++) p[i] = churn_alloc(n + (size_t)i * 16);
        for (int i = 0; i < 8; i++) free(p[i]);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    for (long t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)t) != 0) return 2;
    int ok = 0;
    for (int f = 0; f < NFORKS; f++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) break;
        if (pid == 0) {
            child_work();
            exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    printf("ok %d\n", ok);
    return ok == NFORKS ? 0 : 1;
}
