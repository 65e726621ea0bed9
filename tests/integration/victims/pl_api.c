/* pl_api: libleak_snapshot() through include/libleak.h, with and without
 * the preload (weak symbols: without it the macros return -38 / 0).
 * leak_1337() leaks malloc(1337) before each of three snapshots:
 *   LIBLEAK_SNAPSHOT("after-warmup"), LIBLEAK_SNAPSHOT(NULL), and a label of
 *   100 'x' characters (libleak keeps 63 bytes).
 * Prints "active A", then "snap R1 R2 R3", and exits 0.
 * Expected under the preload: "active 1", "snap 0 0 0"; api dumps seq 0, 1,
 * 2 written before each call returned, labels "after-warmup", null and 63
 * 'x's; the site through leak_1337 has k+1 live blocks in api dump k; then
 * the exit dump, seq 3.  Without it: "active 0", "snap -38 -38 -38". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libleak.h>

static void *keep[4];

__attribute__((noinline)) static void *leak_1337(void) { return malloc(1337); }

int main(void)
{
    char label[101];
    memset(label, 'x', 100);
    label[100] = '\0';
    printf("active %d\n", LIBLEAK_ACTIVE() != 0);
    const char *labels[3] = {"after-warmup", NULL, label};
    int r[3];
    for (int k = 0; k < 3; k++) {  /* one call site: one stack */
        keep[k] = leak_1337();
        r[k] = LIBLEAK_SNAPSHOT(labels[k]);
    }
    printf("snap %d %d %d\n", r[0], r[1], r[2]);
    return 0;
}
