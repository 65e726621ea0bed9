/* an_leaks - C victim for leak-analyze end to end under the preload.
 * Expectation (lines found by the tests through the AN_* markers):
 *   AN_MALLOC: 3 blocks of 1337 bytes from leak_malloc(), one site, 4011 bytes
 *   AN_STRDUP: 1 block of 6 bytes; strdup is trimmed, top frame leak_strdup()
 *   AN_CALLOC: 1 block of 80 bytes from leak_calloc()
 *   AN_REALLOC: 1 block grown to 500 bytes from leak_realloc()
 *   freed_loop(): 100 blocks, all freed: never reported
 *   printf to stdout: glibc's stdout buffer, hidden by the built-in rules */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[8];

static __attribute__((noinline)) void leak_malloc(void)
{
    for (int i = 0; i < 3; i++)
        keep[i] = malloc(1337); /* AN_MALLOC */
}

static __attribute__((noinline)) void leak_strdup(void)
{
    keep[3] = strdup("hello"); /* AN_STRDUP */
}

static __attribute__((noinline)) void leak_calloc(void)
{
    keep[4] = calloc(10, 8); /* AN_CALLOC */
}

static __attribute__((noinline)) void leak_realloc(void)
{
    void *p = malloc(10);
    keep[5] = realloc(p, 500); /* AN_REALLOC */
}

static __attribute__((noinline)) void freed_loop(void)
{
    for (int i = 0; i < 100; i++) {
        char *p = malloc(64);
        memset(p, i, 64);
        free(p);
    }
}

int main(void)
{
    leak_malloc();
    leak_strdup();
    leak_calloc();
    leak_realloc();
    freed_loop();
    printf("an_leaks: done\n");
    for (int i = 0; i < 8; i++)
        keep[i] = NULL;     /* drop the pointers: these are real leaks */
    return 0;
}
