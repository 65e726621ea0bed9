/* retained_tree: globals holding trees, each reached from its own global only.
 * Expected retained sizes (roots = the two global words):
 *   global g_tree retains 352 bytes in 7 blocks: a 64-byte root from
 *     alloc_root() over six 48-byte nodes from alloc_child() (two subtrees of
 *     three); the root block retains 352 bytes / 7 blocks, each of its two
 *     children 144 bytes / 3 blocks, each leaf 48 bytes / 1 block;
 *   global g_leaf retains 100 bytes in 1 block (alloc_leaf());
 *   nothing is shared, nothing is lost: live 452 bytes in 8 blocks. */
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *left, *right;
    char payload[32];
};

struct node *g_tree;
void *g_leaf;

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
    g_tree = root;
}

static __attribute__((noinline)) void alloc_leaf(void)
{
    g_leaf = calloc(1, 100);
}

int main(void)
{
    alloc_root();
    alloc_leaf();
    scrub_stack();
    return 0;
}
