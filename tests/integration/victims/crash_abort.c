/* crash_abort: leaks known blocks, then calls abort().
 * leak_abort() leaks 2 blocks of 777 bytes (live 2/1554 in the crash dump).
 * Usage: crash_abort [plain|handler]
 *   handler: the program's SIGABRT handler prints "handler 6" and returns,
 *            so abort() still ends the process with SIGABRT.
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
    abort_here();
    return 1;
}
