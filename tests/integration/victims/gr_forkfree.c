/* gr_forkfree: growth that is freed, and a fork in the middle of it.
 * The parent keeps 20 blocks of 64 KiB from grow_block(), one every 100 ms
 * (2 s of steady growth in its timeline), then forks; the child _exit(0)s
 * at once, having allocated nothing (it inherits the 20 blocks and the
 * parent's timeline); then the parent frees every block and exits 0.
 * Expected: the parent's exit dump has 0 live bytes, the child's has
 * inherited_from_pid set and no site; neither is a leak in progress. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCKS 20

static void *keep[BLOCKS];

__attribute__((noinline)) static void *grow_block(void)
{
    void *p = malloc(64 * 1024);
    if (p)
        memset(p, 1, 64 * 1024);
    return p;
}

int main(void)
{
    for (int i = 0; i < BLOCKS; i++) {
        keep[i] = grow_block();
        usleep(100000);
    }
    pid_t c = fork();
    if (c < 0)
        return 2;
    if (c == 0)
        _exit(0);
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 3;
    for (int i = 0; i < BLOCKS; i++)
        free(keep[i]);
    return 0;
}
