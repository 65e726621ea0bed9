/* pl_chdir: a relative LIBLEAK_DIR names a directory relative to where the
 * program started, even if the program changes directory (git does).
 * leak_1337() leaks malloc(1337); then the victim makes a fresh directory
 * $TMPDIR/lk-chdir-XXXXXX, chdir()s into it, prints its path and exits 0.
 * Expected (run with LIBLEAK_DIR=. from the dump directory): the exit dump
 * is in the starting directory, with leak_1337 live 1/1337; nothing is
 * written into the directory the victim moved to. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *keep;

__attribute__((noinline)) static void leak_1337(void) { keep = malloc(1337); }

int main(void)
{
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/lk-chdir-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    leak_1337();
    if (!mkdtemp(dir) || chdir(dir) != 0) return 2;
    printf("%s\n", dir);
    return 0;
}
