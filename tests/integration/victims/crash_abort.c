/* crash_abort: leaks known blocks, then calls abort().
 * leak_abort() leaks 2 blocks of 777 bytes (live 2/1554 in the crash dump).
 * Usage: crash_abort [plain|handler|badfree]
 *   handler: the program's SIGABRT handler prints "handler 6" and returns,
 *            so abort() still ends the process with SIGABRT.
 *   badfree: badfree_here() frees a pointer into the middle of a block, and
 *            glibc's free() aborts (from inside the allocator, under libleak's hook).
 * Prints "leaked" first; never returns from abort(). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *keep[2];

__attribute__((noinline)) static void *leak_abort(void) { return malloc(777); }

__attribute__((noinline)) static void abort_here(void)
{
    abort();
}

__attribute__((noinline)) static void badfree_here(char *p)
{
    char *q = p + 16;
    __asm__ volatile("" : "+r"(q));     /* hide the offset from the compiler's warning */
    free(q);
}

static void on_abrt(int sig)
{
    (void)sig;
    static const char msg[] = "handler 6\n";
    (void)!write(1, msg, sizeof msg - 1);
}

int main(int argc, char **argv)
{
    for (int i = 0; i < 2; i++) keep[i] = leak_abort();
    printf("leaked\n");
    fflush(stdout);
    if (argc > 1 && !strcmp(argv[1], "handler"))
        signal(SIGABRT, on_abrt);
    if (argc > 1 && !strcmp(argv[1], "badfree"))
        badfree_here(keep[0]);
    abort_here();
    return 1;
}
