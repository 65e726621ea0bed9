/* gs_stacks: leak sites for --gen-suppressions whose top frames are shared
 * with other sites.  Without arguments (stdout: "gs_stacks: done"):
 *   main       strdup, 2 sites (two lines of main: one rule)
 *   main       asprintf (libc's own frames on top, then main)
 *   in_leaf    malloc 1201, called from main
 * With "more", also (what rules made from the first run must not hide):
 *   via_helper strdup, called from main
 *   via_helper asprintf, called from main
 *   in_leaf    malloc 1201, called from other_caller, called from main */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[16];
static int nkeep;

static __attribute__((noinline)) void in_leaf(void)
{
    keep[nkeep++] = malloc(1201);
}

static __attribute__((noinline)) void via_helper(void)
{
    char *s = NULL;
    keep[nkeep++] = strdup("helper");
    if (asprintf(&s, "%d", 4242) > 0)
        keep[nkeep++] = s;
}

static __attribute__((noinline)) void other_caller(void)
{
    in_leaf();
}

int main(int argc, char **argv)
{
    char *s = NULL;

    keep[nkeep++] = strdup("one");
    keep[nkeep++] = strdup("two");
    if (asprintf(&s, "%d", 12345) > 0)
        keep[nkeep++] = s;
    in_leaf();
    if (argc > 1 && strcmp(argv[1], "more") == 0) {
        via_helper();
        other_caller();
    }
    printf("gs_stacks: done\n");
    for (int i = 0; i < nkeep; i++)
        keep[i] = NULL;   /* drop the pointers: these are leaks */
    return 0;
}
