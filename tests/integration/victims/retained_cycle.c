/* retained_cycle: a cycle of four 80-byte nodes (alloc_ring()) hanging from
 * one global: g_ring -> n0 -> n1 -> n2 -> n3 -> n0.
 * Expected retained sizes (root = the global word):
 *   global g_ring retains 320 bytes in 4 blocks;
 *   n0 retains 320 bytes / 4 blocks (its idom is the root g_ring),
 *   n1 240 / 3, n2 160 / 2, n3 80 / 1 (the back edge n3 -> n0 changes nothing);
 *   live 320 bytes in 4 blocks, nothing shared, nothing lost. */
#include <stdlib.h>
#include <string.h>

struct ring {
    struct ring *next;
    char payload[72];           /* 80 bytes */
};

struct ring *g_ring;

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void alloc_ring(void)
{
    struct ring *n[4];
    for (int i = 0; i < 4; i++) n[i] = calloc(1, sizeof *n[i]);
    for (int i = 0; i < 4; i++) n[i]->next = n[(i + 1) % 4];
    g_ring = n[0];
    memset(n, 0, sizeof n);
}

int main(void)
{
    alloc_ring();
    scrub_stack();
    return 0;
}
