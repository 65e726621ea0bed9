/* fm_kinds: one leak of each valgrind kind, for comparing leak-analyze's
 * valgrind-XML and LSan formats with memcheck and LSan on this binary:
 *   lost()      definite, 3 blocks, 3000 bytes (called three times);
 *   tree()      definite, 1 block of 64 bytes, heading two indirect children
 *               from child() (1 block of 48 bytes at each of two call lines);
 *   interior()  possible, 1 block of 200 bytes (held 40 bytes inside);
 *   kept()      still reachable, 1 block of 77 bytes (held by g_keep). */
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *left, *right;
    char payload[32];
};

char *g_middle, *g_keep;

/* Overwrite the dead stack, so no stale copy of a dropped pointer survives. */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) struct node *child(void)
{
    return calloc(1, sizeof(struct node));
}

static __attribute__((noinline)) void tree(void)
{
    struct node *n = calloc(1, 64);
    n->left = child();
    n->right = child();
    n = NULL;
}

static __attribute__((noinline)) void lost(void)
{
    char *p = malloc(1000);
    memset(p, 'x', 1000);
    p = NULL;
}

static __attribute__((noinline)) void interior(void)
{
    char *p = calloc(1, 200);
    g_middle = p + 40;
}

static __attribute__((noinline)) void kept(void)
{
    g_keep = malloc(77);
}

int main(void)
{
    for (int i = 0; i < 3; i++)
        lost();
    tree();
    interior();
    kept();
    scrub_stack();
    return 0;
}
