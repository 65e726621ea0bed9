/* fork_cow: 24 MiB in 384 heap blocks and 1 MiB of .bss, all written, then a
 * fork whose child exits at once (its exit dump scans all of it).  The
 * parent reports on stderr the child's minor faults and the pages it
 * inherited: reading a page still shared copy-on-write with the parent must
 * not copy it, so the child's faults stay far below that page count.
 * "fork_cow grand": the child allocates a block and first forks a
 * grandchild that waits for it to exit, so that its pages are shared with a
 * child of its own and its scan reads all it inherited; the parent waits for
 * the grandchild too (a pipe it holds until it exits). */
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
static void *volatile own;

static void grandchild(void)
{
    int q[2];
    if (pipe(q) != 0) exit(4);
    pid_t g = fork();
    if (g < 0) exit(5);
    if (g == 0) {
        char c;
        close(q[1]);
        while (read(q[0], &c, 1) > 0) {}    /* EOF: the child exited */
        _exit(0);
    }
    close(q[0]);
    own = malloc(64);
}

int main(int argc, char **argv)
{
    int grand = argc > 1 && strcmp(argv[1], "grand") == 0;
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
    int hold[2];
    if (pipe(hold) != 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        close(hold[0]);
        if (grand) grandchild();
        exit(0);
    }
    close(hold[1]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
    char c;
    while (read(hold[0], &c, 1) > 0) {}
    close(hold[0]);
    long pages = (BLOCKS * (long)BLOCK + (long)sizeof filled) / sysconf(_SC_PAGESIZE);
    fprintf(stderr, "fork_cow: child minflt %ld inherited pages %ld\n", ru.ru_minflt, pages);
    printf("child exited\n");
    return 0;
}
