/* pl_fork: parent and child each leave an exit dump under their own pid.
 * Before fork: before_fork() leaks 2 x malloc(1337).
 * Child:  frees one inherited block, child_leak() leaks 2 x malloc(2049),
 *         child_again() stores a malloc(1000) in the other inherited block
 *         (reachable through it), exits 0.
 * Parent: waits for the child, parent_leak() leaks 1 x malloc(3331), exits 0.
 * Expected dumps: exactly two exit dumps, one per pid, each with seq 0.
 *   parent: before_fork live 2/2674 total 2; parent_leak live 1/3331;
 *           no child_leak site.
 *   child:  no before_fork site: totals.inherited_blocks 1, inherited_bytes
 *           1337, inherited_from_pid the parent's pid; child_leak live 2/4098;
 *           child_again live 1/1000; no parent_leak site; two stacks; the
 *           scan reports child_leak's 4098 bytes lost and child_again's block
 *           reachable; process.ppid is the parent's pid.
 * The parent prints "child <pid>" (the child prints nothing) and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep[8];

__attribute__((noinline)) static void *before_fork(void) { return malloc(1337); }
__attribute__((noinline)) static void *child_leak(void) { return malloc(2049); }
__attribute__((noinline)) static void *child_again(void) { return malloc(1000); }
__attribute__((noinline)) static void *parent_leak(void) { return malloc(3331); }

int main(void)
{
    for (int i = 0; i < 2; i++) keep[i] = before_fork();  /* one call site */
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        free(keep[1]);
        for (int i = 2; i < 4; i++) keep[i] = child_leak();
        for (int i = 2; i < 4; i++) keep[i] = NULL;     /* lost */
        *(void **)keep[0] = child_again();
        exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 3;
    keep[4] = parent_leak();
    printf("child %ld\n", (long)pid);
    return 0;
}
