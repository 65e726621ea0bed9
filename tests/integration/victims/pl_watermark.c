/* pl_watermark: LIBLEAK_WATERMARK=1M writes a dump each time live bytes
 * cross a new MiB.  wm_step() leaks 20 blocks of 250000 bytes (5,000,000
 * bytes, crossing 1, 2, 3 and 4 MiB); after each block the victim waits (up
 * to 60 s) until there are as many watermark dumps as MiB boundaries its own
 * blocks have crossed.  Prints "ok" and exits 0; exits 1 on a timeout.
 * Expected: exactly 4 watermark dumps; the k-th (k = 1..4, by seq) has
 * totals.live_bytes >= k MiB; config.watermark_bytes is 1048576.
 * Usage: pl_watermark [STEP NBLOCKS] waits for STEP-sized steps instead and
 * leaks NBLOCKS blocks (at most 200); defaults 1048576 and 20. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "victim.h"

static void *keep[200];

__attribute__((noinline)) static void *wm_step(void) { return malloc(250000); }

int main(int argc, char **argv)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    long step = argc > 2 ? atol(argv[1]) : 1048576L;
    int nblocks = argc > 2 ? atoi(argv[2]) : 20;
    if (step <= 0 || nblocks <= 0 || nblocks > 200) return 2;
    for (int i = 0; i < nblocks; i++) {
        keep[i] = wm_step();
        memset(keep[i], i, 250000);
        int want = (int)((250000L * (i + 1)) / step);
        int j = 0;
        while (count_dumps("watermark") < want && j++ < 6000) nanosleep(&ts, NULL);
        if (count_dumps("watermark") < want) {
            fprintf(stderr, "watermark dump %d never appeared\n", want);
            return 1;
        }
    }
    printf("ok\n");
    return 0;
}
