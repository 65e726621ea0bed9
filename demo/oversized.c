/* oversized - the overflow half of the growth demo: a record processor with
 * a steady working set (an 8-slot ring of 64 KiB buffers, replaced as it
 * goes) that meets one corrupt record whose header claims 64 TiB.  The
 * malloc() fails, the record is skipped, and the program carries on and
 * exits 0 with everything freed.  Run it with snapshots on, e.g.
 *   LIBLEAK_INTERVAL_MS=100 tools/libleak -- build/demo/oversized
 * and leak-analyze calls it "overflow, not a leak", naming read_record(). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING_SLOTS 8
#define RECORD_BYTES (64 * 1024)
#define RECORDS 40
#define CORRUPT_RECORD 20

static void *ring[RING_SLOTS];

/* The length field of record 'i': record CORRUPT_RECORD is garbage. */
static uint64_t header_length(int i)
{
    return i == CORRUPT_RECORD ? (uint64_t)64 << 40 : RECORD_BYTES;
}

/* Read record 'i' into a fresh buffer in the ring; 0, or -1 when the
 * buffer cannot be had (the record is skipped). */
static int read_record(int i)
{
    uint64_t len = header_length(i);
    void *buf = malloc(len);            /* 64 TiB for the corrupt record */
    if (buf == NULL)
        return -1;
    memset(buf, i & 0xff, len);
    free(ring[i % RING_SLOTS]);
    ring[i % RING_SLOTS] = buf;
    return 0;
}

int main(void)
{
    struct timespec tick = { 0, 50 * 1000 * 1000 };
    int skipped = 0;

    for (int i = 0; i < RECORDS; i++) {
        if (read_record(i) < 0) {
            printf("oversized: record %d claims %llu bytes; cannot allocate it, skipped\n",
                   i, (unsigned long long)header_length(i));
            skipped++;
        }
        nanosleep(&tick, NULL);
    }
    for (int i = 0; i < RING_SLOTS; i++)
        free(ring[i]);
    printf("oversized: %d records read, %d skipped\n", RECORDS - skipped, skipped);
    return 0;
}
