/* domtree.c - dominator tree and retained sizes of the heap graph (see
 * domtree.h for the graph and the definitions).  Lengauer-Tarjan, simple
 * version, with every loop iterative: the heap can be one 2M-block list.
 * Runs inside the traced program at exit: all memory is one scratch area,
 * and a bad input or no memory returns an error, never aborts.
 *
 * The passes: depth-first numbering from the super-root (named roots and
 * ROOTED blocks first, HEAD blocks after) -> predecessors in number space ->
 * semidominators and relative dominators -> immediate dominators -> subtree
 * sums in reverse preorder -> results by block. */
#include <errno.h>
#include <string.h>

#include "domtree.h"
#include "internal.h"

#define NIL UINT32_MAX

/* Where each array lies in the scratch area (byte offsets), and the counts
 * they were sized for. */
typedef struct layout {
    size_t nall;                /* n + nroots + 1: every vertex */
    size_t xlen;                /* edges out of the roots and the super-root */
    size_t mmax;                /* bound on edges kept for predecessors */
    size_t pair, idom, num, vert, anc, ep, rfirst, rto, xfirst, xto, seen, total;
} layout_t;

static int add_len(size_t *off, size_t count, size_t elem, size_t *at)
{
    if (count > (SIZE_MAX - *off) / elem) return -1;
    *at = *off;
    *off += count * elem;
    *off = (*off + 7) & ~(size_t)7;     /* keep every array 8-byte aligned */
    return 0;
}

static int plan(const lk_domtree_graph_t *g, layout_t *l)
{
    memset(l, 0, sizeof *l);
    if (g->n && (!g->first || !g->to || !g->size)) return -1;
    if (g->nroot_edges && !g->root_edges) return -1;
    if (g->n >= UINT32_MAX - 4 || g->nroots >= UINT32_MAX - 4 - g->n) return -1;
    l->nall = g->n + g->nroots + 1;
    size_t m = g->n ? g->first[g->n] : 0;
    size_t flagged = 0;
    for (size_t i = 0; g->flags && i < g->n; i++)
        flagged += (g->flags[i] & LK_DOMTREE_ROOTED) != 0;
    for (size_t i = 0; g->flags && i < g->n; i++)
        flagged += (g->flags[i] & LK_DOMTREE_HEAD) != 0;
    l->xlen = g->nroot_edges + g->nroots + flagged;
    l->mmax = m + l->xlen;
    if (l->xlen > UINT32_MAX || l->mmax > UINT32_MAX) return -1;
    size_t off = 0;
    /* pair and idom are adjacent: the search's stack (12 bytes a vertex) lies
     * across both, before either is used.  The compression stack (4 bytes a
     * vertex) reuses the edge pairs once the predecessors are built. */
    size_t ep = l->mmax > l->nall / 2 ? l->mmax : l->nall / 2 + 1;
    if (add_len(&off, l->nall, 8, &l->pair) || add_len(&off, l->nall, 4, &l->idom) ||
        add_len(&off, l->nall, 4, &l->num) ||
        add_len(&off, l->nall, 4, &l->vert) || add_len(&off, l->nall, 4, &l->anc) ||
        add_len(&off, ep, 8, &l->ep) ||
        add_len(&off, l->nall + 1, 4, &l->rfirst) || add_len(&off, l->mmax, 4, &l->rto) ||
        add_len(&off, g->nroots + 2, 4, &l->xfirst) || add_len(&off, l->xlen, 4, &l->xto) ||
        add_len(&off, l->nall / 64 + 1, 8, &l->seen))
        return -1;
    l->total = off;
    return 0;
}

size_t lk_domtree_scratch_bytes(const lk_domtree_graph_t *g)
{
    layout_t l;
    return plan(g, &l) < 0 ? 0 : l.total;
}

/* The working state: vertices are numbered 0..n-1 (blocks), n..n+R-1 (named
 * roots), n+R (the super-root) in 'ext' space; after the search, arrays are
 * indexed by preorder number (the super-root is 0), which keeps the
 * Lengauer-Tarjan passes on dense, mostly sequential memory. */
typedef struct dom {
    const lk_domtree_graph_t *g;
    uint32_t n, super;
    uint32_t *num;              /* ext -> preorder number (where seen); then buckets */
    uint32_t *vert;             /* number -> ext */
    uint32_t *anc;              /* number -> DFS parent, then path-compressed ancestor */
    uint32_t *semi, *label;     /* number -> number (both inside the pair area) */
    uint32_t *idom;             /* number -> number; also the bucket's next links */
    uint32_t (*ep)[2];          /* (from number, to ext) of every edge examined, in search order */
    uint64_t *seen;             /* ext -> numbered yet: a bitmap small enough to stay in cache */
    uint32_t nep;
    uint32_t *cstk;             /* compression path (over ep, once it is read) */
    uint32_t *rfirst, *rto;     /* predecessors in number space */
    uint32_t *xfirst, *xto;     /* out-edges of the named roots and the super-root */
    uint32_t nreached;          /* numbers handed out */
    uint32_t nlive;             /* numbers below this are live (reached before any head) */
    uint32_t first_head;        /* index of the first HEAD edge in the super-root's list */
} dom_t;

/* Check the block CSR and the root edges; build the roots' and the
 * super-root's edge lists (named roots first, then ROOTED, then HEAD
 * blocks).  Returns the index in the super-root's list of its first HEAD
 * edge, or -1 for a malformed graph. */
static long build_xcsr(dom_t *d)
{
    const lk_domtree_graph_t *g = d->g;
    uint32_t n = d->n, R = (uint32_t)g->nroots;
    for (uint32_t i = 0; i < n; i++)
        if (g->first[i] > g->first[i + 1]) return -1;
    uint32_t m = n ? g->first[n] : 0;
    for (uint32_t e = 0; e < m; e++)
        if (g->to[e] >= n) return -1;
    uint32_t *xf = d->xfirst;
    memset(xf, 0, (R + 2) * sizeof *xf);
    for (size_t e = 0; e < g->nroot_edges; e++) {
        if (g->root_edges[e].root >= R || g->root_edges[e].node >= n) return -1;
        xf[g->root_edges[e].root + 1]++;
    }
    for (uint32_t r = 0; r < R; r++) xf[r + 1] += xf[r];
    for (size_t e = 0; e < g->nroot_edges; e++)
        d->xto[xf[g->root_edges[e].root]++] = g->root_edges[e].node;
    for (uint32_t r = R; r > 0; r--) xf[r] = xf[r - 1];
    xf[0] = 0;
    /* the super-root's list, at xfirst[R] */
    uint32_t k = xf[R];
    for (uint32_t r = 0; r < R; r++) d->xto[k++] = n + r;
    for (uint32_t i = 0; g->flags && i < n; i++)
        if (g->flags[i] & LK_DOMTREE_ROOTED) d->xto[k++] = i;
    long heads = (long)(k - xf[R]);
    for (uint32_t i = 0; g->flags && i < n; i++)
        if (g->flags[i] & LK_DOMTREE_HEAD) d->xto[k++] = i;
    xf[R + 1] = k;
    return heads;
}

/* Depth-first numbering from the super-root, with an explicit stack of
 * (number, next edge, end) triples: the only pass over the caller's graph,
 * whose blocks are in address order, not search order.  The search is a
 * chain of dependent loads, so it tests a bitmap that stays in cache and
 * records each edge as (from number, to block); predecessors() looks the
 * targets' numbers up later, as independent loads.  Sets nlive when the
 * super-root's search turns to its first HEAD edge: every live block is
 * numbered by then; leaves out the HEAD edges to blocks that are live. */
static void number(dom_t *d, uint32_t (*stk)[3])
{
    const uint32_t *first = d->g->first, *to = d->g->to;
    uint32_t n = d->n;
    uint64_t *seen = d->seen;
    memset(seen, 0, ((size_t)d->super / 64 + 1) * sizeof *seen);
    d->num[d->super] = 0;
    seen[d->super / 64] |= 1ull << (d->super % 64);
    d->vert[0] = d->super;
    d->anc[0] = 0;
    uint32_t cnt = 1, nep = 0, nlive = NIL;
    uint32_t sx = d->super - n;
    size_t sp = 0;
    stk[sp][0] = 0;
    stk[sp][1] = d->xfirst[sx];
    stk[sp][2] = d->xfirst[sx + 1];
    sp++;
    while (sp > 0) {
        uint32_t i = stk[sp - 1][0], c = stk[sp - 1][1];
        if (c == stk[sp - 1][2]) {
            sp--;
            continue;
        }
        stk[sp - 1][1] = c + 1;
        uint32_t w;
        if (i == 0) {
            int head_edge = c - d->xfirst[sx] >= d->first_head;
            if (head_edge && nlive == NIL) nlive = cnt;
            w = d->xto[c];
            if (head_edge && (seen[w / 64] >> (w % 64) & 1) && d->num[w] < nlive) continue;
        } else {
            w = d->vert[i] < n ? to[c] : d->xto[c];
        }
        d->ep[nep][0] = i;
        d->ep[nep][1] = w;
        nep++;
        if (seen[w / 64] >> (w % 64) & 1) continue;
        seen[w / 64] |= 1ull << (w % 64);
        uint32_t j = cnt++;
        d->num[w] = j;
        d->vert[j] = w;
        d->anc[j] = i;
        stk[sp][0] = j;
        if (w < n) {
            stk[sp][1] = first[w];
            stk[sp][2] = first[w + 1];
        } else {
            stk[sp][1] = d->xfirst[w - n];
            stk[sp][2] = d->xfirst[w - n + 1];
        }
        sp++;
    }
    d->nreached = cnt;
    d->nep = nep;
    d->nlive = nlive == NIL ? cnt : nlive;
}

/* Predecessor lists in number space: the edge pairs' targets turned into
 * numbers (edges from lost into live vertices dropped), then a counting sort
 * on the target.  'idom' serves as the fill cursor. */
static void predecessors(dom_t *d)
{
    uint32_t N = d->nreached, nlive = d->nlive, kept = 0;
    uint32_t *rf = d->rfirst, *cur = d->idom;
    memset(rf, 0, ((size_t)N + 1) * sizeof *rf);
    for (uint32_t k = 0; k < d->nep; k++) {
        uint32_t i = d->ep[k][0], j = d->num[d->ep[k][1]];
        if (j < nlive && i >= nlive) continue;
        d->ep[kept][0] = i;
        d->ep[kept][1] = j;
        kept++;
        rf[j + 1]++;
    }
    for (uint32_t j = 0; j < N; j++) rf[j + 1] += rf[j];
    memcpy(cur, rf, (size_t)N * sizeof *cur);
    for (uint32_t k = 0; k < kept; k++) d->rto[cur[d->ep[k][1]]++] = d->ep[k][0];
}

/* Lengauer-Tarjan's EVAL over the linked forest, whose vertices are the
 * numbers >= 'lim': the vertex of least semidominator on the path from 'v'
 * up to (not including) its forest root, compressing that path. */
static inline uint32_t eval(dom_t *d, uint32_t v, uint32_t lim)
{
    if (v < lim) return v;
    uint32_t *anc = d->anc, *label = d->label, *semi = d->semi;
    size_t sp = 0;
    uint32_t x = v;
    while (anc[x] >= lim) {
        d->cstk[sp++] = x;
        x = anc[x];
    }
    while (sp > 0) {
        uint32_t u = d->cstk[--sp], a = anc[u];
        if (semi[label[a]] < semi[label[u]]) label[u] = label[a];
        anc[u] = anc[a];
    }
    return label[v];
}

/* Semidominators, then immediate dominators, in number space.  The bucket of
 * vertex p (vertices whose semidominator is p) is a list through 'idom',
 * headed at bucket[p]; a vertex's idom is written only once it leaves it. */
static void dominators(dom_t *d)
{
    uint32_t N = d->nreached;
    uint32_t *semi = d->semi, *label = d->label, *idom = d->idom, *anc = d->anc;
    uint32_t *bucket = d->num;
    for (uint32_t i = 0; i < N; i++) {
        semi[i] = i;
        label[i] = i;
        bucket[i] = 0;  /* 0 (the super-root) is never in a bucket: it ends lists */
    }
    idom[0] = 0;
    for (uint32_t w = N - 1; w >= 1; w--) {
        for (uint32_t e = d->rfirst[w]; e < d->rfirst[w + 1]; e++) {
            uint32_t u = eval(d, d->rto[e], w + 1);
            if (semi[u] < semi[w]) semi[w] = semi[u];
        }
        idom[w] = bucket[semi[w]];
        bucket[semi[w]] = w;
        uint32_t p = anc[w];    /* still the parent: w is linked only now */
        for (uint32_t v = bucket[p]; v != 0;) {
            uint32_t next = idom[v];
            uint32_t u = eval(d, v, w);
            idom[v] = semi[u] < semi[v] ? u : p;
            v = next;
        }
        bucket[p] = 0;
    }
    for (uint32_t w = 1; w < N; w++)
        if (idom[w] != semi[w]) idom[w] = idom[idom[w]];
}

static inline uint64_t size_of(const lk_domtree_graph_t *g, uint32_t i)
{
    size_t stride = g->size_stride ? g->size_stride : sizeof(uint64_t);
    uint64_t s;
    memcpy(&s, (const char *)g->size + (size_t)i * stride, sizeof s);
    return s;
}

/* Subtree sums in reverse preorder (a vertex's idom has a smaller number),
 * then the results by block and by root. */
static void retained(dom_t *d, uint64_t *acc, lk_domtree_out_t *out)
{
    const lk_domtree_graph_t *g = d->g;
    uint32_t N = d->nreached, n = d->n;
    uint32_t *cnt = d->anc, *idom = d->idom;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = d->vert[i];
        acc[i] = v < n ? size_of(g, v) : 0;
        cnt[i] = v < n;
    }
    for (uint32_t i = N - 1; i >= 1; i--) {
        acc[idom[i]] += acc[i];
        cnt[idom[i]] += cnt[i];
    }
    if (out->idom) memset(out->idom, 0xff, (size_t)n * sizeof *out->idom);
    if (out->retained_bytes) memset(out->retained_bytes, 0, (size_t)n * sizeof *out->retained_bytes);
    if (out->retained_blocks) memset(out->retained_blocks, 0, (size_t)n * sizeof *out->retained_blocks);
    for (uint32_t i = 1; i < N; i++) {
        uint32_t v = d->vert[i];
        if (v >= n) {
            if (out->root_bytes) out->root_bytes[v - n] = acc[i];
            if (out->root_blocks) out->root_blocks[v - n] = cnt[i];
            continue;
        }
        uint32_t up = d->vert[idom[i]];
        uint64_t bytes = size_of(g, v);
        int top = idom[i] == 0;
        if (out->idom) out->idom[v] = top ? LK_DOMTREE_SUPER : up;
        if (out->retained_bytes) out->retained_bytes[v] = acc[i];
        if (out->retained_blocks) out->retained_blocks[v] = cnt[i];
        if (i < d->nlive) {
            out->live_blocks++;
            out->live_bytes += bytes;
            if (top) {
                out->shared_blocks += cnt[i];
                out->shared_bytes += acc[i];
            }
        } else {
            out->lost_blocks++;
            out->lost_bytes += bytes;
            if (top && !(g->flags && (g->flags[v] & LK_DOMTREE_HEAD))) {
                out->lost_shared_blocks += cnt[i];
                out->lost_shared_bytes += acc[i];
            }
        }
    }
}

int lk_domtree_compute(const lk_domtree_graph_t *g, void *scratch, size_t scratch_len,
                       lk_domtree_out_t *out)
{
    layout_t l;
    out->live_blocks = out->live_bytes = out->shared_blocks = out->shared_bytes = 0;
    out->lost_blocks = out->lost_bytes = out->lost_shared_blocks = out->lost_shared_bytes = 0;
    if (plan(g, &l) < 0) return -EINVAL;
    void *mem = scratch;
    if (!mem) {
        mem = lk_real_malloc(l.total);
        if (!mem) return -ENOMEM;
    } else if (scratch_len < l.total || ((uintptr_t)scratch & 7)) {
        return -EINVAL;
    }
    char *base = mem;
    dom_t d = {
        .g = g,
        .n = (uint32_t)g->n,
        .super = (uint32_t)(g->n + g->nroots),
        .num = (uint32_t *)(base + l.num),
        .vert = (uint32_t *)(base + l.vert),
        .anc = (uint32_t *)(base + l.anc),
        .semi = (uint32_t *)(base + l.pair),
        .label = (uint32_t *)(base + l.pair) + l.nall,
        .idom = (uint32_t *)(base + l.idom),
        .ep = (uint32_t (*)[2])(base + l.ep),
        .cstk = (uint32_t *)(base + l.ep),
        .rfirst = (uint32_t *)(base + l.rfirst),
        .rto = (uint32_t *)(base + l.rto),
        .xfirst = (uint32_t *)(base + l.xfirst),
        .xto = (uint32_t *)(base + l.xto),
        .seen = (uint64_t *)(base + l.seen),
    };
    int rc = -EINVAL;
    long first_head = build_xcsr(&d);
    if (first_head < 0) goto out_free;
    d.first_head = (uint32_t)first_head;
    number(&d, (uint32_t (*)[3])(base + l.pair));
    predecessors(&d);
    dominators(&d);
    retained(&d, (uint64_t *)(base + l.pair), out);
    rc = 0;
out_free:
    if (!scratch) lk_real_free(mem);
    return rc;
}
