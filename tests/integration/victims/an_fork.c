/* an_fork - a two-process tree for leak-analyze's per-process and total
 * reports.  After the fork, the child leaks 200 bytes in child_leak() and
 * exits; the parent waits, then leaks 100 bytes in parent_leak().
 * Expectation: two processes, 100 + 200 = 300 bytes in total. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile keep;

static __attribute__((noinline)) void child_leak(void)
{
    keep = malloc(200); /* AN_CHILD */
}

static __attribute__((noinline)) void parent_leak(void)
{
    keep = malloc(100); /* AN_PARENT */
}

int main(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        child_leak();
        keep = NULL;
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    parent_leak();
    keep = NULL;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
