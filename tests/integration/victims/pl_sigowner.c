/* pl_sigowner: a program that owns SIGUSR1 keeps working under the preload.
 * Usage: pl_sigowner early|late
 *   early: the handler is installed from .preinit_array, before libleak's
 *          constructor: libleak must chain to it (and still snapshot).
 *   late:  the handler is installed in main: the program's handler works,
 *          libleak's snapshots go on beside it, and nothing is printed.
 * Then raises SIGUSR1 three times; the handler counts.  Prints
 * "handled 3" and exits 0 (1 if the count is wrong).  In "early" mode under
 * the preload ($LIBLEAK_DIR set) it waits after the k-th raise (up to 60 s)
 * for k signal dumps of its pid (signals raised together may share one
 * snapshot) and exits 2 if they never appear. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "victim.h"

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
    (void)sig;
    handled++;
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

static int early_mode;

static void preinit(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc > 1 && !strcmp(argv[1], "early")) {
        early_mode = 1;
        install();
    }
}
typedef void (*preinit_t)(int, char **, char **);
__attribute__((used, section(".preinit_array"))) static const preinit_t preinit_fn = preinit;

int main(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    if (!early_mode) install();
    int wait = early_mode && getenv("LIBLEAK_DIR");
    for (int i = 0; i < 3; i++) {
        raise(SIGUSR1);
        nanosleep(&ts, NULL);
        int j = 0;
        while (wait && count_dumps("signal") < i + 1 && j++ < 6000) nanosleep(&ts, NULL);
        if (wait && count_dumps("signal") < i + 1) {
            fprintf(stderr, "chained: %d signal dumps after %d signals\n", count_dumps("signal"),
                    i + 1);
            return 2;
        }
    }
    printf("handled %d\n", (int)handled);
    return handled == 3 ? 0 : 1;
}
