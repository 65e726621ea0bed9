/* rc_order: a lost 16-byte head from lose_head() holding a 300-byte child from
 * make_child(): 1 definite block (16 bytes) and 1 indirect block (300 bytes).
 * The text report must list the direct leak before the larger indirect one,
 * the order LSan and valgrind use. */
#include <stdlib.h>
#include <string.h>

struct head {
    void *child;
    char pad[8];
};

/* Overwrite the dead stack below main's frame (see rc_definite.c). */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void *make_child(void)
{
    return calloc(1, 300);
}

static __attribute__((noinline)) void lose_head(void)
{
    struct head *h = malloc(sizeof *h);
    h->child = make_child();
    h = NULL;
}

int main(void)
{
    lose_head();
    scrub_stack();
    return 0;
}
