/* proctitle: set the process title the way redis, nginx and postgres do.
 * Copies environ to the heap (so getenv keeps working), then overwrites the
 * whole contiguous argv + environ area: zeroes, then "proctitle: worker".
 * Then leaks: leak_4242() mallocs 4242 bytes once (live at exit).
 * Prints "title <getenv("LIBLEAK_DIR") or "(none)"> ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void *keep;

__attribute__((noinline)) static void leak_4242(void)
{
    keep = malloc(4242);
}

/* The area setproctitle may reuse: argv[0] up to the end of the last string
 * of argv and environ that follows it without a gap. */
static void set_title(int argc, char **argv, const char *title)
{
    char *end = argv[0];
    for (int i = 0; i < argc; i++)
        if (argv[i] == end)
            end = argv[i] + strlen(argv[i]) + 1;
    int n = 0;
    while (environ[n])
        n++;
    char **copy = malloc((size_t)(n + 1) * sizeof *copy);
    if (!copy)
        exit(1);
    for (int i = 0; i < n; i++) {
        if (environ[i] == end)
            end = environ[i] + strlen(environ[i]) + 1;
        copy[i] = strdup(environ[i]);
        if (!copy[i])
            exit(1);
    }
    copy[n] = NULL;
    environ = copy;
    size_t area = (size_t)(end - argv[0]);
    memset(argv[0], 0, area);
    snprintf(argv[0], area, "%s", title);
}

int main(int argc, char **argv)
{
    set_title(argc, argv, "proctitle: worker");
    leak_4242();
    const char *d = getenv("LIBLEAK_DIR");
    printf("title %s ok\n", d ? d : "(none)");
    return 0;
}
