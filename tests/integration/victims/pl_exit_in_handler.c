/* pl_exit_in_handler - a SIGALRM handler calls _exit(0) (async-signal-safe)
 * while the main thread allocates and frees in a tight loop: the signal
 * usually lands inside malloc or free, where libleak may hold a table lock.
 * The process must still end, with status 0 (never hang in the exit dump).
 * With the argument "big", every block is too large for glibc's tcache, so
 * most of each real malloc and free runs under the arena lock.
 * Prints nothing; exits 3 if the timer never fired. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
    (void)sig;
    _exit(0);
}

int main(int argc, char **argv)
{
    size_t base = argc > 1 && strcmp(argv[1], "big") == 0 ? 1100 : 16;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 0 }, { 0, 2000 } };    /* once, after 2 ms */
    setitimer(ITIMER_REAL, &it, NULL);
    void *ring[64] = { 0 };
    for (unsigned long i = 0; i < 400000000UL; i++) {
        free(ring[i & 63]);
        ring[i & 63] = malloc(base + (i & 255));
    }
    return 3;
}
