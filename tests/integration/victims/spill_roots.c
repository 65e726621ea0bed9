/* spill_roots: 4 blocks of 14 bytes from leak_spilled() (definite, 4 blocks,
 * 56 bytes), whose only copies are stale words in the dead stack below
 * main's frame: exactly where the exit dump's own frames will lie.  Those
 * frames are libleak's, not the program's, so the words there are no roots
 * (valgrind, whose leak check runs on no program frame, says 56 definite).
 * Argument "_exit" or "exit": end with _exit(0), or with exit(0) called
 * from main after the spill in a frame shaped like main's, instead of
 * returning from main.  After exit() and a return from main, ld.so's and
 * libc's exit frames lie over that dead stack too and keep some of its
 * words in slots they never write; they are no roots either. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBLOCKS     4
#define SPRAY_WORDS (64 * 1024 / sizeof(uintptr_t))

/* Fill the stack below the caller with copies of the four pointers. */
static __attribute__((noinline)) void spray(const uintptr_t *v)
{
    volatile uintptr_t w[SPRAY_WORDS];
    for (size_t i = 0; i < SPRAY_WORDS; i++) w[i] = v[i % NBLOCKS];
}

/* Allocate four blocks, spill their pointers and drop them: the frames
 * that held them are gone when this returns. */
static __attribute__((noinline)) void leak_spilled(void)
{
    uintptr_t v[NBLOCKS];
    for (int i = 0; i < NBLOCKS; i++) {
        char *p = malloc(14);
        memset(p, 'x', 14);
        v[i] = (uintptr_t)p;
    }
    spray(v);
    memset((void *)v, 0, sizeof v);
    __asm__ volatile("" : : "r"(v) : "memory");
}

/* Stands for main's frame when main returns: the spill happens below it,
 * then it is gone and exit() runs from its caller, as libc's does. */
static __attribute__((noinline)) void spill_below(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    leak_spilled();
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exit")) {
        /* through a pointer, as libc calls it: a first call through the PLT
         * would run ld.so's lazy binding over the dead stack first */
        void (*volatile exit_fn)(int) = exit;
        spill_below(argc, argv);
        exit_fn(0);
    }
    leak_spilled();
    if (argc > 1 && !strcmp(argv[1], "_exit")) _exit(0);
    return 0;
}
