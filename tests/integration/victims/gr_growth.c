/* gr_growth: one growing site next to a bounded cache, snapshot by a
 * self-raised SIGUSR1 after every step.  Runs only under the preload.
 * Step k = 0..15: grow_site() leaks malloc(64 KiB) (GROW_SITE), cache_site()
 * replaces slot k % 4 of a 4-slot cache with a fresh malloc(64 KiB)
 * (CACHE_SITE), then raise(SIGUSR1) and wait (up to 60 s) for dump k.
 * Expected (leak-analyze --format=json): growth[] has grow_site as
 * "growing" (16 x 64 KiB at the end) and cache_site as "plateau"
 * (256 KiB from step 3 on); the verdict is "leak_in_progress".
 * Prints "ok" and exits 0; exits 1 if a snapshot never appears. */
#include "victim.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STEPS 16
#define SLOTS 4
#define BLOCK (64 * 1024)

static void *leaked[STEPS];
static void *cache[SLOTS];

__attribute__((noinline)) static void grow_site(int k)
{
    leaked[k] = malloc(BLOCK);                          /* GROW_SITE */
    memset(leaked[k], 1, BLOCK);
}

__attribute__((noinline)) static void cache_site(int k)
{
    free(cache[k % SLOTS]);
    cache[k % SLOTS] = malloc(BLOCK);                   /* CACHE_SITE */
    memset(cache[k % SLOTS], 2, BLOCK);
}

int main(void)
{
    struct timespec poll = { 0, 5 * 1000 * 1000 }, step = { 0, 20 * 1000 * 1000 };
    for (int k = 0; k < STEPS; k++) {
        grow_site(k);
        cache_site(k);
        raise(SIGUSR1);
        int i;
        for (i = 0; i < 12000 && count_dumps("signal") < k + 1; i++)
            nanosleep(&poll, NULL);
        if (i == 12000) {
            fprintf(stderr, "signal snapshot %d never appeared\n", k);
            return 1;
        }
        nanosleep(&step, NULL);
    }
    printf("ok\n");
    return 0;
}
