/* rc_tree: a binary tree of 7 nodes lost through its root: the root from
 * alloc_root() is definite (1 block, 64 bytes); the six nodes below it from
 * alloc_child() are indirect (6 blocks, 288 bytes).  One lost structure of
 * 7 blocks, 352 bytes, headed by alloc_root(), without a cycle. */
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *left, *right;
    char payload[32];
};

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) struct node *alloc_child(int depth)
{
    struct node *n = calloc(1, sizeof *n);   /* 48 bytes */
    if (depth > 1) {
        n->left = alloc_child(depth - 1);
        n->right = alloc_child(depth - 1);
    }
    return n;
}

static __attribute__((noinline)) void alloc_root(void)
{
    struct node *root = calloc(1, 64);
    root->left = alloc_child(2);
    root->right = alloc_child(2);
    root = NULL;
}

int main(void)
{
    alloc_root();
    scrub_stack();
    return 0;
}
