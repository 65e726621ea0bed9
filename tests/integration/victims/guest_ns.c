/* guest_ns: what a program sees of its descriptors and of the calls that need
 * a single-threaded process.  It opens /dev/null and prints the descriptor it
 * got (3 natively: libleak may hold none of the low numbers), asks for a
 * snapshot, calls unshare(CLONE_NEWUSER) (EINVAL in a process with a second
 * thread) and prints its result, asks for a second snapshot, then sleeps
 * 300 ms so that both are written.  SIGUSR1 is ignored without libleak.
 * The test compares the output with the native run's and counts the
 * snapshots: the dumper thread is back after the call. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libleak.h>

static void *keep;

int main(void)
{
    if (!LIBLEAK_ACTIVE()) signal(SIGUSR1, SIG_IGN);
    keep = malloc(100);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    printf("first descriptor %d\n", fd);
    fflush(stdout);
    raise(SIGUSR1);
    struct timespec ts = { 0, 150 * 1000000 };
    nanosleep(&ts, NULL);
    int rc = unshare(CLONE_NEWUSER);
    printf("unshare(CLONE_NEWUSER) %d%s%s\n", rc, rc ? " " : "", rc ? strerror(errno) : "");
    fflush(stdout);
    raise(SIGUSR1);
    nanosleep(&ts, NULL);
    nanosleep(&ts, NULL);
    return 0;
}
