/* pl_sigsnap: snapshots on SIGUSR1, raised by the program between steps.
 * Usage: pl_sigsnap [SIGNO]   (default SIGUSR1; pass LIBLEAK_SIGNAL's value)
 * Runs only under the preload (without it the signal would kill it).
 * Step k = 0..3: leak_step() leaks malloc(1337), raise(SIGNO), then wait
 * (up to 60 s) until k+1 signal dumps of this pid are in $LIBLEAK_DIR.
 * Expected: signal dumps seq 0..3, then the exit dump seq 4; in signal dump
 * k the site through leak_step has live k+1 blocks / (k+1)*1337 bytes; the
 * site keeps the same stack id in every dump; dump times never go back.
 * Prints "ok" and exits 0; exits 1 if a snapshot never appears. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "victim.h"

static void *keep[8];

__attribute__((noinline)) static void *leak_step(void) { return malloc(1337); }

/* Count files "libleak.<pid>.<n>.<trigger>.json" in $LIBLEAK_DIR. */
static int wait_dumps(const char *trigger, int want)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 6000; i++) {
        if (count_dumps(trigger) >= want) return 0;
        nanosleep(&ts, NULL);
    }
    return 1;
}

int main(int argc, char **argv)
{
    int sig = argc > 1 ? atoi(argv[1]) : SIGUSR1;
    for (int k = 0; k < 4; k++) {
        keep[k] = leak_step();
        raise(sig);
        if (wait_dumps("signal", k + 1)) {
            fprintf(stderr, "signal snapshot %d never appeared\n", k);
            return 1;
        }
    }
    printf("ok\n");
    return 0;
}
