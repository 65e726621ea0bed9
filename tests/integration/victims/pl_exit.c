/* pl_exit: the final dump is written however the process ends.
 * Usage: pl_exit return|exit|_exit|_Exit
 * leak_1337() leaks malloc(1337); then the process ends with status 5 by
 * the named means.  Expected: one exit dump of this pid with leak_1337
 * live 1/1337; exit status 5; stdout "bye" (written with write(2), so no
 * stdio buffer is lost by _exit). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *keep;

__attribute__((noinline)) static void leak_1337(void) { keep = malloc(1337); }

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "return";
    leak_1337();
    if (write(1, "bye\n", 4) != 4) return 1;
    if (!strcmp(how, "exit")) exit(5);
    if (!strcmp(how, "_exit")) _exit(5);
    if (!strcmp(how, "_Exit")) _Exit(5);
    return 5;
}
