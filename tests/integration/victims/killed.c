/* killed: a program ended by a signal it never handles.  It leaks a block
 * (the pointer dropped), keeps another in a global, then sends itself the
 * signal named by argv[1] (TERM, INT, HUP or PIPE: PIPE by writing to a
 * pipe whose reader is closed) and waits for it.  Natively it dies of that
 * signal; under libleak too, after its exit dump. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept;

__attribute__((noinline)) static void leak(void)
{
    void *volatile p = malloc(4242);
    memset(p, 1, 4242);
    p = NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    kept = malloc(1000);
    leak();
    if (!strcmp(argv[1], "PIPE")) {
        int fds[2];
        if (pipe(fds) != 0) return 3;
        close(fds[0]);
        (void)!write(fds[1], "x", 1);
    } else {
        int sig = !strcmp(argv[1], "INT") ? SIGINT : !strcmp(argv[1], "HUP") ? SIGHUP : SIGTERM;
        kill(getpid(), sig);
    }
    for (int i = 0; i < 50; i++)
        usleep(100 * 1000);
    puts("not killed");
    return 0;
}
