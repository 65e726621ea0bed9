/* exit_bss: 4 MiB of .bss the program never touches, a 1000-byte block held
 * by a global (reachable) and a 200-byte one whose pointer is dropped
 * (definite).  The exit scan must read the .bss as zeros without faulting
 * its pages in. */
#include <stdlib.h>
#include <string.h>

static char untouched[4 << 20];
static char *held;

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void leak_simple(void)
{
    char *p = malloc(200);
    memset(p, 'x', 200);
    p = NULL;
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 100)             /* never: keeps the array, untouched */
        untouched[argc] = 1;
    held = malloc(1000);
    memset(held, 'h', 1000);
    leak_simple();
    scrub_stack();
    return 0;
}
