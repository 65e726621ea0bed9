/* fork_cow: 24 MiB in 384 heap blocks and 1 MiB of .bss, all written, then a
 * fork whose child exits at once (its exit dump scans all of it).  The
 * parent reports on stderr the child's minor faults and the pages it
 * inherited: reading a page still shared copy-on-write with the parent must
 * not copy it, so the child's faults stay far below that page count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCKS 384
#define BLOCK  (64 << 10)

static char *held[BLOCKS];
static char filled[1 << 20];

int main(void)
{
    for (int i = 0; i < BLOCKS; i++) {
        held[i] = malloc(BLOCK);
        if (!held[i]) return 1;
        memset(held[i], 0x11 + i % 64, BLOCK);
    }
    memset(filled, 0x22, sizeof filled);
    char *lost = malloc(300);
    memset(lost, 'l', 300);
    lost = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) exit(0);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
    long pages = (BLOCKS * (long)BLOCK + (long)sizeof filled) / sysconf(_SC_PAGESIZE);
    fprintf(stderr, "fork_cow: child minflt %ld inherited pages %ld\n", ru.ru_minflt, pages);
    printf("child exited\n");
    return 0;
}
