/* pl_spawn: vfork+exec, posix_spawn and vfork+_exit children must not
 * corrupt the parent; exec'd children are tracked as their own processes.
 * Usage: pl_spawn            (parent)
 *        pl_spawn child      (what the exec'd children run)
 * Parent: parent_leak() leaks malloc(1337); vfork+execv(self, "child");
 *         posix_spawn(self, "child"); vfork then _exit(0) in the child
 *         without exec; then churn() does 10 x malloc(2021)+free.
 *         Prints "exec <pid>", "spawn <pid>", "vforkexit <pid>" and exits 0.
 * Child:  child_leak() leaks malloc(777), exits 0, prints nothing.
 * Expected dumps: three exit dumps: the parent's (parent_leak live 1/1337,
 * churn live 0 total 10/20210, no child_leak site), and one for each of the
 * exec and spawn pids (child_leak live 1/777).  None for the vforkexit pid:
 * a vfork child shares the parent's memory and must not dump. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static void *keep[4];

__attribute__((noinline)) static void *parent_leak(void) { return malloc(1337); }
__attribute__((noinline)) static void *child_leak(void) { return malloc(777); }
__attribute__((noinline)) static void churn(void)
{
    for (int i = 0; i < 10; i++) {
        char *p = malloc(2021);
        p[0] = 0;
        free(p);
    }
}

static int reap(pid_t pid)
{
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv)
{
    static char self[] = "/proc/self/exe", child[] = "child";
    char *cargv[] = {argv[0], child, NULL};
    if (argc > 1 && !strcmp(argv[1], "child")) {
        keep[0] = child_leak();
        return 0;
    }
    keep[0] = parent_leak();

    pid_t a = vfork();
    if (a < 0) return 2;
    if (a == 0) {
        execve(self, cargv, environ);
        _exit(127);
    }
    if (!reap(a)) return 3;

    pid_t b;
    if (posix_spawn(&b, self, NULL, NULL, cargv, environ) != 0) return 4;
    if (!reap(b)) return 5;

    pid_t c = vfork();
    if (c < 0) return 6;
    if (c == 0) _exit(0);
    if (!reap(c)) return 7;

    churn();
    printf("exec %ld\nspawn %ld\nvforkexit %ld\n", (long)a, (long)b, (long)c);
    return 0;
}
