/* rc_interior: a 200-byte block from alloc_interior() is held only through
 * g_middle, which points 40 bytes into it: possible (1 block, 200 bytes).
 * The offset avoids valgrind's interior-pointer heuristics (none of them
 * accepts offset 40 of a zeroed block). */
#include <stdlib.h>
#include <string.h>

char *g_middle;

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void alloc_interior(void)
{
    char *p = calloc(1, 200);
    g_middle = p + 40;
    p = NULL;
}

int main(void)
{
    alloc_interior();
    scrub_stack();
    return 0;
}
