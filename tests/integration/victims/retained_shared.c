/* retained_shared: two globals sharing a subtree; neither retains it.
 *   g_left -> A (40 bytes, alloc_left()) -> S;  g_right -> B (56 bytes,
 *   alloc_right()) -> S;  S (512 bytes, alloc_shared()) -> T (1000 bytes,
 *   alloc_tail()).
 * Expected retained sizes (roots = the two global words):
 *   global g_left retains 40 bytes in 1 block (A only);
 *   global g_right retains 56 bytes in 1 block (B only);
 *   S and T (1512 bytes, 2 blocks) are retained by no single root (shared);
 *   S's immediate dominator is the super-root, and S retains 1512 bytes /
 *   2 blocks; T retains 1000 bytes / 1 block;
 *   live 1608 bytes in 4 blocks, nothing lost. */
#include <stdlib.h>
#include <string.h>

struct holder {
    void *next;
    char payload[32];           /* 40 or 56 bytes with the pointer */
};

struct holder *g_left, *g_right;

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void *alloc_tail(void)
{
    return calloc(1, 1000);
}

static __attribute__((noinline)) void *alloc_shared(void)
{
    void **s = calloc(1, 512);
    s[0] = alloc_tail();
    return s;
}

static __attribute__((noinline)) void alloc_left(void *shared)
{
    g_left = calloc(1, 40);
    g_left->next = shared;
}

static __attribute__((noinline)) void alloc_right(void *shared)
{
    g_right = calloc(1, 56);
    g_right->next = shared;
}

int main(void)
{
    void *s = alloc_shared();
    alloc_left(s);
    alloc_right(s);
    s = NULL;
    scrub_stack();
    return 0;
}
