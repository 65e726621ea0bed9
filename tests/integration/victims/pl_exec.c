/* pl_exec: a process that execs itself keeps its pid; the dumps of the image
 * before exec must survive those of the image after it.
 * Usage: pl_exec [after]
 * First image: before_exec() leaks malloc(1337), LIBLEAK_SNAPSHOT("before"),
 * then execv(/proc/self/exe, "after") (no exit dump: exec is not an exit).
 * Second image: after_exec() leaks malloc(2021), LIBLEAK_SNAPSHOT("after"),
 * prints "ok" and exits 0.
 * Expected: all dumps have the victim's pid; an api dump labelled "before"
 * (site through before_exec live 1/1337, none through after_exec), an api
 * dump labelled "after" and an exit dump (after_exec live 1/2021, none
 * through before_exec); no file overwrote another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libleak.h>

static void *keep;

__attribute__((noinline)) static void *before_exec(void) { return malloc(1337); }
__attribute__((noinline)) static void *after_exec(void) { return malloc(2021); }

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "after")) {
        keep = after_exec();
        LIBLEAK_SNAPSHOT("after");
        printf("ok\n");
        return 0;
    }
    keep = before_exec();
    LIBLEAK_SNAPSHOT("before");
    char *args[] = {argv[0], (char *)"after", NULL};
    execv("/proc/self/exe", args);
    return 2;
}
