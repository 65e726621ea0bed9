/* pl_sighandler: allocations made in a signal handler are attributed through
 * the signal frame to the code it interrupted.
 * raiser() raises SIGUSR2 (not libleak's signal); the handler on_usr2()
 * calls leaf_sig(), which leaks malloc(1337).  main calls raiser() three
 * times from one call site, then once more from another function,
 * other_raiser(), which calls raiser().
 * Expected exit dump: sites through leaf_sig total live 4/5348 in exactly
 * two sites: one whose stack has on_usr2, raiser and main but not
 * other_raiser (live 3/4011), and one that also has other_raiser (live
 * 1/1337).  Prints "ok" and exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[4];
static volatile int n;

__attribute__((noinline)) static void *leaf_sig(void) { return malloc(1337); }

static void on_usr2(int sig)
{
    (void)sig;
    keep[n] = leaf_sig();
    n++;
}

__attribute__((noinline)) static void raiser(void)
{
    raise(SIGUSR2);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void other_raiser(void)
{
    raiser();
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    for (int i = 0; i < 3; i++) raiser();
    other_raiser();
    printf("ok %d\n", n);
    return 0;
}
