/* pl_closefds: a daemon-style program closes every descriptor above 2 (as
 * closefrom(3) does), then opens its own files, which get the lowest free
 * numbers: the ones libleak's wake-up pipe had.  Nothing libleak does may
 * write into them.
 * Usage: pl_closefds DIR
 * Closes fds 3..1023, creates DIR/f0 .. DIR/f4 (O_WRONLY, so they take fds
 * 3..7), writes "data\n" to each, raises SIGUSR1 twice and leaks 3 x
 * malloc(1 MiB) (crossing watermarks when LIBLEAK_WATERMARK is set), then
 * sleeps 300 ms so libleak's threads get to run.  SIGUSR1 is ignored when
 * libleak is not active.  Prints "ok" and exits 0.
 * The test checks that every DIR/fN holds exactly "data\n". */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <libleak.h>

static void *keep[3];

__attribute__((noinline)) static void *leak_mib(void) { return malloc(1 << 20); }

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (!LIBLEAK_ACTIVE()) signal(SIGUSR1, SIG_IGN);
    for (int fd = 3; fd < 1024; fd++) close(fd);
    for (int i = 0; i < 5; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/f%d", argv[1], i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "data\n", 5) != 5) return 2;
    }
    for (int i = 0; i < 2; i++) raise(SIGUSR1);
    for (int i = 0; i < 3; i++) keep[i] = leak_mib();
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    printf("ok\n");
    return 0;
}
