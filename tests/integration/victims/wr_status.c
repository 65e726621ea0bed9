/* wr_status: the wrapper's exit-status victim.  Arguments, in order:
 * "leak" drops a 777-byte block (a definite leak), "exit N" exits with N,
 * "kill SIG" raises SIG with its default action, "print WORD" writes WORD
 * and a newline to stdout; no argument exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Overwrite the dead stack below main's frame, so no stale copy of the
 * dropped pointer keeps the block reachable. */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void leak_block(void)
{
    char *p = malloc(777);
    memset(p, 'x', 777);
    p = NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "leak")) {
            leak_block();
            scrub_stack();
        } else if (!strcmp(argv[i], "exit") && i + 1 < argc) {
            exit(atoi(argv[++i]));
        } else if (!strcmp(argv[i], "kill") && i + 1 < argc) {
            int sig = atoi(argv[++i]);
            signal(sig, SIG_DFL);
            raise(sig);
        } else if (!strcmp(argv[i], "print") && i + 1 < argc) {
            puts(argv[++i]);
        }
    }
    return 0;
}
