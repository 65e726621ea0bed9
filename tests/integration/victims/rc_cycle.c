/* rc_cycle: two 64-byte nodes from make_node() pointing at each other, lost
 * together: 1 definite + 1 indirect (128 bytes), one lost structure with a
 * cycle whose head is itself on the cycle. */
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *peer;
    char payload[56];
};

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) struct node *make_node(void)
{
    return calloc(1, sizeof(struct node));
}

static __attribute__((noinline)) void make_cycle(void)
{
    struct node *a = make_node(), *b = make_node();
    a->peer = b;
    b->peer = a;
    a = b = NULL;
}

int main(void)
{
    make_cycle();
    scrub_stack();
    return 0;
}
