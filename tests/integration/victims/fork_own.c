/* fork_own: a forked child's exit scan classifies its own blocks only, and
 * reads only the pages it wrote since the fork.
 * Parent: 2000 blocks of 256 bytes held from the global 'inh' (512 KB the
 *         children inherit), then three children, one after the other:
 * "none":  allocates nothing and exits: its scan does not run.
 * "own":   child_leak() leaks malloc(4321); child_held() malloc(999) is held
 *          from the global g_held; child_in_inh() malloc(777) is held from
 *          inherited block inh[5]; exits 0.
 * "grand": forks a grandchild first (which waits for it to exit, then
 *          _exits), so its pages are shared with a child of its own; then
 *          does what "own" does.
 * The parent prints "<name> <pid>" for each child, waits for all of them
 * (the grandchild through a pipe it holds until it exits) and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NINH 2000

static void *inh[NINH];
static void *volatile g_held;
static void *volatile lost;

__attribute__((noinline)) static void *child_leak(void) { return malloc(4321); }
__attribute__((noinline)) static void *child_held(void) { return malloc(999); }
__attribute__((noinline)) static void *child_in_inh(void) { return malloc(777); }

static void own_blocks(void)
{
    lost = child_leak();
    memset(lost, 1, 4321);
    lost = NULL;
    g_held = child_held();
    *(void **)inh[5] = child_in_inh();
}

static int grand(int hold_fd)
{
    int q[2];
    if (pipe(q) != 0) return 4;
    pid_t g = fork();
    if (g < 0) return 5;
    if (g == 0) {
        char c;
        close(q[1]);
        while (read(q[0], &c, 1) > 0) {}    /* EOF: the child exited */
        _exit(0);
    }
    close(q[0]);
    close(hold_fd);     /* the grandchild holds it until it exits */
    own_blocks();
    exit(0);
}

int main(void)
{
    for (int i = 0; i < NINH; i++) {
        inh[i] = malloc(256);
        if (!inh[i]) return 2;
        memset(inh[i], 0, 256);
    }
    static const char *const names[] = {"none", "own", "grand"};
    for (int k = 0; k < 3; k++) {
        int hold[2];
        if (pipe(hold) != 0) return 2;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) return 2;
        if (pid == 0) {
            close(hold[0]);
            if (k == 1) own_blocks();
            if (k == 2) return grand(hold[1]);
            exit(0);
        }
        close(hold[1]);
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 3;
        char c;
        while (read(hold[0], &c, 1) > 0) {}
        close(hold[0]);
        printf("%s %ld\n", names[k], (long)pid);
    }
    return 0;
}
