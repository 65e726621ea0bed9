/* rc_definite: one 1000-byte block from leak_simple() whose only pointer is
 * dropped (definite, 1 block, 1000 bytes), and 4 blocks of 500 bytes from
 * freed_here() freed before exit (not reported at all). */
#include <stdlib.h>
#include <string.h>

/* Overwrite the dead stack below main's frame, so no stale copy of a
 * dropped pointer survives in it (valgrind would see one too). */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void leak_simple(void)
{
    char *p = malloc(1000);
    memset(p, 'x', 1000);
    p = NULL;
}

static __attribute__((noinline)) void freed_here(void)
{
    for (int i = 0; i < 4; i++) {
        char *p = malloc(500);
        memset(p, 'y', 500);
        free(p);
    }
}

int main(void)
{
    leak_simple();
    freed_here();
    scrub_stack();
    return 0;
}
