/* pl_errno: the hooks preserve errno.  Sets errno to a marker before each
 * successful call (malloc, calloc, realloc, free, posix_memalign,
 * aligned_alloc, malloc_usable_size, free(NULL)) and checks it afterwards;
 * a failing malloc must leave ENOMEM.  Exits 0 and prints "ok" when all
 * hold; otherwise prints the first broken call on stderr and exits 1.
 * Nothing is leaked except one 1337-byte block from keep_one(). */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#define MARK 4711
#define CHECK(call, what)                                                   \
    do {                                                                    \
        errno = MARK;                                                       \
        call;                                                               \
        if (errno != MARK) {                                                \
            fprintf(stderr, "errno changed by %s: %d\n", what, errno);      \
            return 1;                                                       \
        }                                                                   \
    } while (0)

static void *kept;

__attribute__((noinline)) static int keep_one(void)
{
    CHECK(kept = malloc(1337), "malloc");
    return 0;
}

int main(void)
{
    void *p, *q;
    size_t n;
    if (keep_one()) return 1;
    CHECK(p = malloc(100), "malloc");
    CHECK(free(p), "free");
    CHECK(p = calloc(10, 10), "calloc");
    CHECK(p = realloc(p, 5000), "realloc grow");
    CHECK(p = realloc(p, 10), "realloc shrink");
    CHECK(n = malloc_usable_size(p), "malloc_usable_size");
    CHECK(free(p), "free");
    CHECK(free(NULL), "free(NULL)");
    CHECK(if (posix_memalign(&q, 64, 100) != 0) return 1, "posix_memalign");
    CHECK(free(q), "free");
    CHECK(q = aligned_alloc(64, 128), "aligned_alloc");
    CHECK(free(q), "free");
    CHECK(p = malloc(1 << 20), "malloc 1 MiB");
    CHECK(free(p), "free 1 MiB");
    errno = 0;
    if (malloc((size_t)1 << 62) != NULL || errno != ENOMEM) {
        fprintf(stderr, "failed malloc: errno %d, expected ENOMEM\n", errno);
        return 1;
    }
    printf("ok %d\n", n > 0);
    return 0;
}
