/* domtree.h - the dominator tree of the heap graph and retained sizes: what
 * freeing one block, or dropping one root's references, would give back
 * (Eclipse MAT's retained size, for native blocks).
 * A bottom layer: plain arrays in and out, no other preload file called.
 *
 * The graph.  Vertices are the n blocks (the scan's blocks, sorted by
 * address: block i is blocks[i]), one vertex per named root (0..nroots-1:
 * what the caller counts as one root, e.g. one holding word of a global, or
 * one thread's stack), and a virtual super-root S.  Edges:
 *   S -> every named root; S -> every block flagged LK_DOMTREE_ROOTED;
 *   root r -> block i for each root edge (r, i);
 *   block i -> block to[e] for e in [first[i], first[i+1]) (the scan's CSR);
 *   and, second, S -> every block flagged LK_DOMTREE_HEAD (lost structure heads).
 * Blocks reached from S through a named root or a ROOTED block are *live*.
 * The others that a HEAD block reaches are *lost*.  An edge from a lost block
 * into a live one is ignored: garbage keeps nothing alive, so a lost block
 * pointing into live data does not dilute what the roots retain (a HEAD
 * flag on a block that is live after all is ignored too).
 *
 * Definitions (d dominates x when every path from S to x passes through d):
 *   idom(x)            the closest dominator of x other than x;
 *   retained(block b)  the blocks b dominates, b included: what freeing b,
 *                      with everything then unreachable, would give back;
 *   retained(root r)   the blocks root vertex r dominates: exactly the live
 *                      blocks every path to which from the roots passes
 *                      through r's references, i.e. what would become
 *                      unreachable if r's references went away.  A block
 *                      referenced from two roots (directly or through other
 *                      blocks) is retained by neither; it and what it alone
 *                      holds count in 'shared'.  Retained sizes of roots are
 *                      therefore disjoint:
 *                      Σ retained(r) + shared == live.
 *   Note that it is the caller's choice what one root is: two words of one
 *   global struct given as two roots both pointing into one subtree retain
 *   none of it; given as one root, it retains all of it.  The sum of the
 *   per-word figures is a lower bound of the per-object one.
 * For lost blocks the heads play the roots' part: retained(head) is what
 * freeing that head would give back; blocks reached from two heads are in
 * 'lost_shared': Σ retained(h with idom S) + lost_shared == lost.
 *
 * Cost: Lengauer-Tarjan with simple path compression, O(m log n), every
 * loop iterative (a 2M-block linked list is 2M deep); about 28 bytes per
 * vertex plus 12 per edge of scratch (lk_domtree_scratch_bytes). */
#ifndef LK_DOMTREE_H
#define LK_DOMTREE_H

#include <stddef.h>
#include <stdint.h>

#define LK_DOMTREE_NONE  UINT32_MAX         /* idom of a block nothing reaches */
#define LK_DOMTREE_SUPER (UINT32_MAX - 1)   /* idom of a block no single root, head or block dominates */

/* Per-block flags (graph.flags) */
#define LK_DOMTREE_ROOTED 1u    /* referenced directly by an unnamed root */
#define LK_DOMTREE_HEAD   2u    /* head of a lost structure: reached after all live blocks */

/* One reference from named root 'root' (< nroots) to block 'node' (< n). */
typedef struct lk_domtree_root_edge {
    uint32_t root;
    uint32_t node;
} lk_domtree_root_edge_t;

typedef struct lk_domtree_graph {
    size_t n;                       /* blocks; n + nroots + 1 < UINT32_MAX - 1 */
    /* Bytes of block i at (const char *)size + i * size_stride (the scan's
     * lk_scan_block_t.size in place); stride 0 means sizeof(uint64_t). */
    const uint64_t *size;
    size_t size_stride;
    const uint32_t *first;          /* [n + 1], non-decreasing; first[n] = number of edges */
    const uint32_t *to;             /* [first[n]]: targets, each < n; duplicates and self edges allowed */
    size_t nroots;                  /* named roots */
    const lk_domtree_root_edge_t *root_edges;   /* [nroot_edges], any order, may repeat */
    size_t nroot_edges;
    const uint8_t *flags;           /* [n] LK_DOMTREE_* or NULL */
} lk_domtree_graph_t;

/* Results.  Each array pointer may be NULL when not wanted; the caller owns them. */
typedef struct lk_domtree_out {
    /* [n] idom of each block: a block index (< n), n + r for named root r,
     * LK_DOMTREE_SUPER, or LK_DOMTREE_NONE when no root or head reaches it. */
    uint32_t *idom;
    uint64_t *retained_bytes;       /* [n] 0 for unreached blocks */
    uint32_t *retained_blocks;      /* [n] itself included; 0 for unreached blocks */
    uint64_t *root_bytes;           /* [nroots] retained by each named root */
    uint64_t *root_blocks;          /* [nroots] */
    /* Totals, always filled: */
    uint64_t live_blocks, live_bytes;               /* reached from the roots */
    uint64_t shared_blocks, shared_bytes;           /* live, retained by no single named root */
    uint64_t lost_blocks, lost_bytes;               /* reached from the heads only */
    uint64_t lost_shared_blocks, lost_shared_bytes; /* lost, in no head's retained set */
} lk_domtree_out_t;

/* Bytes of scratch lk_domtree_compute() needs for 'g', or 0 when the graph
 * is too big for 32-bit vertex and edge numbers. */
size_t lk_domtree_scratch_bytes(const lk_domtree_graph_t *g);

/* Compute the dominator tree of 'g' and the retained sizes into 'out'.
 * 'scratch' (8-byte aligned, 'scratch_len' >= lk_domtree_scratch_bytes(g))
 * is used when given; when NULL, the scratch comes from lk_real_malloc and
 * is freed before returning.  Reads 'g' only.  Never aborts; iterative.
 * Returns 0, -ENOMEM (no scratch), or -EINVAL (a malformed graph, too big,
 * or 'scratch_len' too small); on error '*out' holds nothing meaningful. */
int lk_domtree_compute(const lk_domtree_graph_t *g, void *scratch, size_t scratch_len,
                       lk_domtree_out_t *out);

#endif /* LK_DOMTREE_H */
