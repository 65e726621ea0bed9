/* pl_stale: dump names are reused when pids are (pid namespaces start every
 * container at small pids; pid_max wraps).  Before doing anything else the
 * victim creates, in $LIBLEAK_DIR, what an earlier process with its pid
 * left behind: a finished dump "libleak.<pid>.0.exit.json" holding the
 * text "old" and a stale ".libleak.<pid>.0.exit.json.tmp" (that process
 * died mid-dump).  Then leak_1337() leaks malloc(1337) and it exits 0
 * printing "ok".
 * Expected: the old dump is not overwritten (still "old"), and the new
 * exit dump is written under another name of the same pid. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *keep;

__attribute__((noinline)) static void leak_1337(void) { keep = malloc(1337); }

static int plant(const char *dir, const char *fmt, const char *text)
{
    char path[4096], name[256];
    snprintf(name, sizeof name, fmt, (long)getpid());
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return 1;
    int bad = write(fd, text, 3) != 3;
    close(fd);
    return bad;
}

int main(void)
{
    const char *dir = getenv("LIBLEAK_DIR");
    if (dir && (plant(dir, "libleak.%ld.0.exit.json", "old") ||
                plant(dir, ".libleak.%ld.0.exit.json.tmp", "tmp")))
        return 2;
    leak_1337();
    printf("ok\n");
    return 0;
}
