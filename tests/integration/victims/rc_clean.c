/* rc_clean: allocates through a few sites and frees every block before exit,
 * and writes nothing through stdio (whose buffer would stay live): the exit
 * scan has no live block to classify and reads no root. */
#include <stdlib.h>
#include <string.h>

static __attribute__((noinline)) void *make(size_t n)
{
    char *p = malloc(n);
    if (p)
        memset(p, 'c', n);
    return p;
}

int main(void)
{
    void *keep[64];
    for (int i = 0; i < 64; i++)
        keep[i] = make(16 + (size_t)i * 8);
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    char *q = calloc(10, 10);
    free(realloc(q, 1000));
    return 0;
}
