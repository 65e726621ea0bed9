/* pl_interval: LIBLEAK_INTERVAL_MS snapshots.  Leaks malloc(1337) at
 * leak_1337(), then waits (up to 60 s, polling $LIBLEAK_DIR) until at least
 * three interval dumps of this pid exist, then exits 0 printing "ok".
 * Expected: >= 3 interval dumps with increasing seq, each with the site
 * through leak_1337 live 1/1337, then the exit dump with the highest seq;
 * every dump has a timeline whose arrays have one equal, non-zero length. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "victim.h"

static void *keep;

__attribute__((noinline)) static void leak_1337(void) { keep = malloc(1337); }

int main(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    leak_1337();
    for (int i = 0; i < 6000; i++) {
        if (count_dumps("interval") >= 3) {
            printf("ok\n");
            return 0;
        }
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "fewer than 3 interval dumps after 60 s\n");
    return 1;
}
