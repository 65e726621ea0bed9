/* pl_aslimit: runs out of address space as it would without libleak.
 * Usage: pl_aslimit plain|snapshot MIB.  It sets a soft RLIMIT_AS of MIB
 * itself (the test process may be a sanitizer build, which cannot run under
 * it), then allocates 1 MiB blocks (each touched)
 * until malloc fails and prints "blocks N".  With "snapshot" it first
 * raises SIGUSR1 and waits up to 60 s for the signal dump in $LIBLEAK_DIR, so
 * that the dumper thread has dumped (and allocated) before the blocks.
 * Expected: the same N (within 2%) natively, under the preload, and under
 * the preload with LIBLEAK_INTERVAL_MS=10 and that snapshot. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void *keep[100000];

static int signal_dump_written(const char *dir)
{
    DIR *d = opendir(dir);
    int found = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        found |= strstr(e->d_name, ".signal.json") != NULL && e->d_name[0] != '.';
    if (d)
        closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    struct rlimit lim;
    if (argc < 3 || getrlimit(RLIMIT_AS, &lim) != 0)
        return 2;
    lim.rlim_cur = (rlim_t)strtoul(argv[2], NULL, 10) << 20;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return 3;
    if (argc > 1 && strcmp(argv[1], "snapshot") == 0) {
        const char *dir = getenv("LIBLEAK_DIR");
        raise(SIGUSR1);
        for (int i = 0; i < 6000 && dir && !signal_dump_written(dir); i++) {
            struct timespec ts = { 0, 10 * 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    int n = 0;
    for (; n < 100000; n++) {
        char *p = malloc(1 << 20);
        if (!p)
            break;
        memset(p, 1, 4096);
        keep[n] = p;
    }
    printf("blocks %d\n", n);
    return 0;
}
