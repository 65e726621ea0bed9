/* pl_forksig: snapshots keep working in a forked child, which numbers its
 * dumps from 0 under its own pid (the dumper thread does not survive fork).
 * Parent: parent_leak() leaks malloc(1337), raises SIGUSR1 and waits for its
 * signal dump; forks; waits for the child; exits 0 printing "child <pid>".
 * Child: child_leak() leaks malloc(2021), raises SIGUSR1, waits (up to 60 s)
 * for its own signal dump, exits 0; exits 1 if it never appears.
 * Expected: parent dumps seq 0 signal, seq 1 exit; child dumps seq 0 signal
 * (no parent_leak site: its block counts in totals.inherited_*; child_leak
 * live 1/2021), seq 1 exit. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "victim.h"

static void *keep[2];

__attribute__((noinline)) static void *parent_leak(void) { return malloc(1337); }
__attribute__((noinline)) static void *child_leak(void) { return malloc(2021); }

static int snap_and_wait(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    raise(SIGUSR1);
    for (int i = 0; i < 6000; i++) {
        if (count_dumps("signal") >= 1) return 0;
        nanosleep(&ts, NULL);
    }
    return 1;
}

int main(void)
{
    keep[0] = parent_leak();
    if (snap_and_wait()) return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        keep[1] = child_leak();
        exit(snap_and_wait());
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 3;
    printf("child %ld\n", (long)pid);
    return 0;
}
