/* retained_diamond: a diamond under one global: g_top -> top (24 bytes,
 * alloc_diamond()) -> left (200 bytes) and right (300 bytes), both -> bottom
 * (4096 bytes).
 * Expected retained sizes (root = the global word):
 *   global g_top retains 4620 bytes in 4 blocks;
 *   top retains 4620 bytes / 4 blocks; left 200 / 1; right 300 / 1;
 *   bottom 4096 / 1, and bottom's immediate dominator is top (not left or
 *   right: neither alone holds it);
 *   live 4620 bytes in 4 blocks, nothing shared, nothing lost. */
#include <stdlib.h>
#include <string.h>

struct top {
    void *left, *right;
    char payload[8];            /* 24 bytes */
};

struct top *g_top;

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void alloc_diamond(void)
{
    struct top *t = calloc(1, sizeof *t);
    void **left = calloc(1, 200), **right = calloc(1, 300);
    void *bottom = calloc(1, 4096);
    left[0] = bottom;
    right[0] = bottom;
    t->left = left;
    t->right = right;
    g_top = t;
}

int main(void)
{
    alloc_diamond();
    scrub_stack();
    return 0;
}
