/* scanheap.c - a large live heap for timing the reachability scan.
 * Builds N blocks (default 2,000,000) of 24..88 bytes and exits, leaving them
 * all live for libleak's exit dump:
 *   - 70% in linked lists of 1000 nodes hung off a global array (reachable),
 *   - 10% in lost lists of 100 nodes (1 definite + 99 indirect each),
 *   - 10% in lost 2-node cycles,
 *   - 10% held only through interior pointers from a global array (possible).
 * Run:  LD_PRELOAD=build/libleak.so LIBLEAK_DIR=d build/bench/scanheap_fp [N]
 * and read reachability.scan_ns from the dump; the program prints the
 * expected block count of each kind to compare with reachability.kinds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    uintptr_t pad[1];           /* plus a variable tail */
};

struct node **volatile g_lists; /* reachable lists (volatile: -O2 drops stores nobody reads) */
char **volatile g_inner;        /* interior pointers: possible */

static struct node *node_new(unsigned i)
{
    size_t size = 24 + 16 * (i % 5);
    struct node *n = malloc(size);
    memset(n, 0, size);
    return n;
}

/* Build a list of 'len' nodes and return its head. */
static struct node *list_new(unsigned len, unsigned *seq)
{
    struct node *head = NULL;
    for (unsigned i = 0; i < len; i++) {
        struct node *n = node_new((*seq)++);
        n->next = head;
        head = n;
    }
    return head;
}

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[65536];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void build(unsigned long n)
{
    unsigned seq = 0;
    unsigned long reach = n * 7 / 10 / 1000, lost_lists = n / 10 / 100;
    unsigned long cycles = n / 10 / 2, inner = n / 10;
    g_lists = calloc(reach, sizeof *g_lists);
    for (unsigned long i = 0; i < reach; i++) g_lists[i] = list_new(1000, &seq);
    for (unsigned long i = 0; i < lost_lists; i++) (void)list_new(100, &seq);
    for (unsigned long i = 0; i < cycles; i++) {
        struct node *a = node_new(seq++), *b = node_new(seq++);
        a->next = b;
        b->next = a;
    }
    g_inner = calloc(inner, sizeof *g_inner);
    for (unsigned long i = 0; i < inner; i++) g_inner[i] = (char *)node_new(seq++) + 8;
    printf("blocks %lu: reachable %lu (+2 arrays), definite %lu, indirect %lu, possible %lu\n",
           reach * 1000 + lost_lists * 100 + cycles * 2 + inner, reach * 1000,
           lost_lists + cycles, lost_lists * 99 + cycles, inner);
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
    if (n < 1000) n = 1000;
    build(n);
    scrub_stack();
    return 0;
}
