/* check_domtree.c - unit tests of the dominator tree and retained sizes
 * (preload/domtree.c): small graphs whose retained sizes are known by
 * construction, a 1M-block list (no recursion), malformed input, and random
 * graphs checked against a naive dominator computation (remove a vertex, see
 * what becomes unreachable).  With LK_DOMTREE_BENCH=1 the case
 * test_domtree_bench times 2M-block graphs and prints the figures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "domtree.h"
#include "testhelper.h"

/* ### a graph under construction */

typedef struct tg {
    size_t n, nroots;
    uint64_t *size;
    uint32_t (*e)[2];
    size_t ne, cape;
    lk_domtree_root_edge_t *re;
    size_t nre, capre;
    uint8_t *flags;
    uint32_t *first, *to;       /* built by tg_csr */
} tg_t;

static void tg_init(tg_t *t, size_t n, size_t nroots)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    t->nroots = nroots;
    t->size = calloc(n ? n : 1, sizeof *t->size);
    t->flags = calloc(n ? n : 1, 1);
    ck_assert(t->size && t->flags);
    for (size_t i = 0; i < n; i++) t->size[i] = 1;
}

static void tg_edge(tg_t *t, uint32_t from, uint32_t to)
{
    if (t->ne == t->cape) {
        t->cape = t->cape ? t->cape * 2 : 16;
        t->e = realloc(t->e, t->cape * sizeof *t->e);
        ck_assert_ptr_nonnull(t->e);
    }
    t->e[t->ne][0] = from;
    t->e[t->ne][1] = to;
    t->ne++;
}

static void tg_root(tg_t *t, uint32_t root, uint32_t node)
{
    if (t->nre == t->capre) {
        t->capre = t->capre ? t->capre * 2 : 16;
        t->re = realloc(t->re, t->capre * sizeof *t->re);
        ck_assert_ptr_nonnull(t->re);
    }
    t->re[t->nre++] = (lk_domtree_root_edge_t){root, node};
}

/* Build the CSR the scan builds: counts, prefix sums, fill. */
static void tg_csr(tg_t *t)
{
    free(t->first);
    free(t->to);
    t->first = calloc(t->n + 1, sizeof *t->first);
    t->to = malloc((t->ne ? t->ne : 1) * sizeof *t->to);
    ck_assert(t->first && t->to);
    for (size_t k = 0; k < t->ne; k++) t->first[t->e[k][0] + 1]++;
    for (size_t i = 0; i < t->n; i++) t->first[i + 1] += t->first[i];
    uint32_t *cur = malloc((t->n + 1) * sizeof *cur);
    ck_assert_ptr_nonnull(cur);
    memcpy(cur, t->first, (t->n + 1) * sizeof *cur);
    for (size_t k = 0; k < t->ne; k++) t->to[cur[t->e[k][0]]++] = t->e[k][1];
    free(cur);
}

static lk_domtree_graph_t tg_graph(tg_t *t)
{
    tg_csr(t);
    return (lk_domtree_graph_t){
        .n = t->n, .size = t->size, .first = t->first, .to = t->to,
        .nroots = t->nroots, .root_edges = t->re, .nroot_edges = t->nre, .flags = t->flags,
    };
}

static void tg_free(tg_t *t)
{
    free(t->size);
    free(t->e);
    free(t->re);
    free(t->flags);
    free(t->first);
    free(t->to);
}

/* Results with every array allocated. */
typedef struct res {
    lk_domtree_out_t o;
} res_t;

static int run(tg_t *t, res_t *r)
{
    lk_domtree_graph_t g = tg_graph(t);
    memset(r, 0, sizeof *r);
    r->o.idom = malloc((t->n ? t->n : 1) * sizeof *r->o.idom);
    r->o.retained_bytes = malloc((t->n ? t->n : 1) * sizeof *r->o.retained_bytes);
    r->o.retained_blocks = malloc((t->n ? t->n : 1) * sizeof *r->o.retained_blocks);
    r->o.root_bytes = calloc(t->nroots ? t->nroots : 1, sizeof *r->o.root_bytes);
    r->o.root_blocks = calloc(t->nroots ? t->nroots : 1, sizeof *r->o.root_blocks);
    ck_assert(r->o.idom && r->o.retained_bytes && r->o.retained_blocks && r->o.root_bytes &&
              r->o.root_blocks);
    return lk_domtree_compute(&g, NULL, 0, &r->o);
}

static void res_free(res_t *r)
{
    free(r->o.idom);
    free(r->o.retained_bytes);
    free(r->o.retained_blocks);
    free(r->o.root_bytes);
    free(r->o.root_blocks);
}

#define ROOT(t, r) ((uint32_t)((t)->n + (r)))

/* ### graphs with known retained sizes */

/* One root holds a tree: 0 -> {1, 2}, 1 -> {3, 4}; each node retains its subtree. */
START_TEST(test_domtree_tree_one_root)
{
    tg_t t;
    res_t r;
    tg_init(&t, 5, 1);
    uint64_t sz[] = {10, 20, 30, 40, 50};
    memcpy(t.size, sz, sizeof sz);
    tg_edge(&t, 0, 1);
    tg_edge(&t, 0, 2);
    tg_edge(&t, 1, 3);
    tg_edge(&t, 1, 4);
    tg_root(&t, 0, 0);
    ck_assert_int_eq(run(&t, &r), 0);
    ck_assert_uint_eq(r.o.idom[0], ROOT(&t, 0));
    ck_assert_uint_eq(r.o.idom[1], 0);
    ck_assert_uint_eq(r.o.idom[2], 0);
    ck_assert_uint_eq(r.o.idom[3], 1);
    ck_assert_uint_eq(r.o.idom[4], 1);
    ck_assert_uint_eq(r.o.retained_bytes[0], 150);
    ck_assert_uint_eq(r.o.retained_blocks[0], 5);
    ck_assert_uint_eq(r.o.retained_bytes[1], 110);
    ck_assert_uint_eq(r.o.retained_blocks[1], 3);
    ck_assert_uint_eq(r.o.retained_bytes[2], 30);
    ck_assert_uint_eq(r.o.retained_bytes[4], 50);
    ck_assert_uint_eq(r.o.root_bytes[0], 150);
    ck_assert_uint_eq(r.o.root_blocks[0], 5);
    ck_assert_uint_eq(r.o.live_bytes, 150);
    ck_assert_uint_eq(r.o.live_blocks, 5);
    ck_assert_uint_eq(r.o.shared_bytes, 0);
    ck_assert_uint_eq(r.o.lost_bytes, 0);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* Roots A -> a -> s and B -> b -> s, s -> u: each root retains only its own
 * block; s and u (300 bytes) are shared. */
START_TEST(test_domtree_two_roots_share)
{
    tg_t t;
    res_t r;
    tg_init(&t, 4, 2);
    enum { a, b, s, u };
    uint64_t sz[] = {10, 20, 100, 200};
    memcpy(t.size, sz, sizeof sz);
    tg_edge(&t, a, s);
    tg_edge(&t, b, s);
    tg_edge(&t, s, u);
    tg_root(&t, 0, a);
    tg_root(&t, 1, b);
    ck_assert_int_eq(run(&t, &r), 0);
    ck_assert_uint_eq(r.o.root_bytes[0], 10);
    ck_assert_uint_eq(r.o.root_blocks[0], 1);
    ck_assert_uint_eq(r.o.root_bytes[1], 20);
    ck_assert_uint_eq(r.o.idom[s], LK_DOMTREE_SUPER);
    ck_assert_uint_eq(r.o.idom[u], s);
    ck_assert_uint_eq(r.o.retained_bytes[s], 300);
    ck_assert_uint_eq(r.o.shared_bytes, 300);
    ck_assert_uint_eq(r.o.shared_blocks, 2);
    ck_assert_uint_eq(r.o.live_bytes, 330);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* A -> x directly and B -> y -> x: x is referenced directly by A alone, but
 * dropping A's references would not free it (y still holds it). */
START_TEST(test_domtree_indirect_second_root)
{
    tg_t t;
    res_t r;
    tg_init(&t, 2, 2);
    enum { x, y };
    t.size[x] = 64;
    t.size[y] = 8;
    tg_root(&t, 0, x);
    tg_root(&t, 1, y);
    tg_edge(&t, y, x);
    ck_assert_int_eq(run(&t, &r), 0);
    ck_assert_uint_eq(r.o.root_bytes[0], 0);
    ck_assert_uint_eq(r.o.root_blocks[0], 0);
    ck_assert_uint_eq(r.o.root_bytes[1], 8);
    ck_assert_uint_eq(r.o.idom[x], LK_DOMTREE_SUPER);
    ck_assert_uint_eq(r.o.shared_bytes, 64);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* One root -> c0 -> c1 -> c2 -> c0 (a cycle): the root retains it all, the
 * entry c0 too, c1 retains c1 and c2. */
START_TEST(test_domtree_cycle_from_root)
{
    tg_t t;
    res_t r;
    tg_init(&t, 3, 1);
    uint64_t sz[] = {16, 32, 64};
    memcpy(t.size, sz, sizeof sz);
    tg_edge(&t, 0, 1);
    tg_edge(&t, 1, 2);
    tg_edge(&t, 2, 0);
    tg_root(&t, 0, 0);
    ck_assert_int_eq(run(&t, &r), 0);
    ck_assert_uint_eq(r.o.root_bytes[0], 112);
    ck_assert_uint_eq(r.o.retained_bytes[0], 112);
    ck_assert_uint_eq(r.o.retained_bytes[1], 96);
    ck_assert_uint_eq(r.o.retained_blocks[1], 2);
    ck_assert_uint_eq(r.o.retained_bytes[2], 64);
    ck_assert_uint_eq(r.o.idom[0], ROOT(&t, 0));
    ck_assert_uint_eq(r.o.idom[2], 1);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* Diamond a -> {b, c} -> d: d's idom is a, not b or c. */
START_TEST(test_domtree_diamond)
{
    tg_t t;
    res_t r;
    tg_init(&t, 4, 1);
    enum { a, b, c, d };
    uint64_t sz[] = {1, 2, 4, 8};
    memcpy(t.size, sz, sizeof sz);
    tg_edge(&t, a, b);
    tg_edge(&t, a, c);
    tg_edge(&t, b, d);
    tg_edge(&t, c, d);
    tg_root(&t, 0, a);
    ck_assert_int_eq(run(&t, &r), 0);
    ck_assert_uint_eq(r.o.idom[d], a);
    ck_assert_uint_eq(r.o.retained_bytes[a], 15);
    ck_assert_uint_eq(r.o.retained_bytes[b], 2);
    ck_assert_uint_eq(r.o.retained_bytes[c], 4);
    ck_assert_uint_eq(r.o.retained_bytes[d], 8);
    ck_assert_uint_eq(r.o.root_bytes[0], 15);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* A 1M-block list, doubly linked (the back edges make path compression walk
 * the whole chain): iterative code only, every block retains its tail. */
START_TEST(test_domtree_long_list)
{
    const uint32_t n = 1000000;
    tg_t t;
    res_t r;
    tg_init(&t, n, 1);
    for (uint32_t i = 0; i + 1 < n; i++) {
        tg_edge(&t, i, i + 1);
        tg_edge(&t, i + 1, i);
    }
    tg_root(&t, 0, 0);
    ck_assert_int_eq(run(&t, &r), 0);
    /* One assertion at the end: each Check assertion costs a write to its parent. */
    uint32_t bad = 0;
    for (uint32_t i = 0; i < n; i++)
        bad += r.o.retained_blocks[i] != n - i || r.o.retained_bytes[i] != n - i ||
               r.o.idom[i] != (i ? i - 1 : ROOT(&t, 0));
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_eq(r.o.root_blocks[0], n);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* Blocks nothing reaches (one pointing into live data) get no idom and are
 * counted nowhere. */
START_TEST(test_domtree_unreachable)
{
    tg_t t;
    res_t r;
    tg_init(&t, 4, 1);
    uint64_t sz[] = {5, 7, 11, 13};
    memcpy(t.size, sz, sizeof sz);
    tg_root(&t, 0, 0);
    tg_edge(&t, 2, 3);
    tg_edge(&t, 3, 0);      /* unreached -> live: no second path to 0 */
    tg_edge(&t, 0, 1);
    ck_assert_int_eq(run(&t, &r), 0);
    ck_assert_uint_eq(r.o.idom[2], LK_DOMTREE_NONE);
    ck_assert_uint_eq(r.o.idom[3], LK_DOMTREE_NONE);
    ck_assert_uint_eq(r.o.retained_bytes[2], 0);
    ck_assert_uint_eq(r.o.retained_blocks[3], 0);
    ck_assert_uint_eq(r.o.live_bytes, 12);
    ck_assert_uint_eq(r.o.lost_bytes, 0);
    ck_assert_uint_eq(r.o.root_bytes[0], 12);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* Lost structures: heads retain their members; a lost block pointing into
 * live data changes nothing the root retains; a member two heads reach is
 * lost_shared; a HEAD flag on a live block is ignored. */
START_TEST(test_domtree_lost_heads)
{
    tg_t t;
    res_t r;
    tg_init(&t, 7, 1);
    enum { live, h1, m1, h2, m2, shared, live2 };
    uint64_t sz[] = {100, 1, 2, 4, 8, 16, 200};
    memcpy(t.size, sz, sizeof sz);
    tg_root(&t, 0, live);
    tg_edge(&t, live, live2);
    tg_edge(&t, h1, m1);
    tg_edge(&t, m1, live);      /* garbage into live data */
    tg_edge(&t, m1, live2);
    tg_edge(&t, h2, m2);
    tg_edge(&t, m1, shared);
    tg_edge(&t, m2, shared);
    t.flags[h1] = LK_DOMTREE_HEAD;
    t.flags[h2] = LK_DOMTREE_HEAD;
    t.flags[live2] = LK_DOMTREE_HEAD;
    ck_assert_int_eq(run(&t, &r), 0);
    ck_assert_uint_eq(r.o.root_bytes[0], 300);
    ck_assert_uint_eq(r.o.idom[live2], live);
    ck_assert_uint_eq(r.o.live_bytes, 300);
    ck_assert_uint_eq(r.o.shared_bytes, 0);
    ck_assert_uint_eq(r.o.retained_bytes[h1], 3);
    ck_assert_uint_eq(r.o.retained_bytes[h2], 12);
    ck_assert_uint_eq(r.o.idom[m1], h1);
    ck_assert_uint_eq(r.o.idom[shared], LK_DOMTREE_SUPER);
    ck_assert_uint_eq(r.o.lost_bytes, 31);
    ck_assert_uint_eq(r.o.lost_blocks, 5);
    ck_assert_uint_eq(r.o.lost_shared_bytes, 16);
    ck_assert_uint_eq(r.o.lost_shared_blocks, 1);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* ROOTED flags stand for an unnamed root: hung from the super-root. */
START_TEST(test_domtree_rooted_flags)
{
    tg_t t;
    res_t r;
    tg_init(&t, 3, 0);
    uint64_t sz[] = {3, 5, 7};
    memcpy(t.size, sz, sizeof sz);
    tg_edge(&t, 0, 2);
    tg_edge(&t, 1, 2);
    t.flags[0] = LK_DOMTREE_ROOTED;
    t.flags[1] = LK_DOMTREE_ROOTED;
    ck_assert_int_eq(run(&t, &r), 0);
    ck_assert_uint_eq(r.o.idom[0], LK_DOMTREE_SUPER);
    ck_assert_uint_eq(r.o.idom[2], LK_DOMTREE_SUPER);
    ck_assert_uint_eq(r.o.retained_bytes[0], 3);
    ck_assert_uint_eq(r.o.live_bytes, 15);
    ck_assert_uint_eq(r.o.shared_bytes, 15);
    res_free(&r);
    tg_free(&t);
}
END_TEST

/* Sizes read in place from records (the scan's blocks), a caller-supplied
 * scratch, and the empty graph. */
START_TEST(test_domtree_stride_scratch_empty)
{
    struct rec {
        uintptr_t ptr;
        uint64_t size;
        uint32_t a, b;
    } recs[3] = {{0x1000, 10, 0, 0}, {0x2000, 20, 0, 0}, {0x3000, 40, 0, 0}};
    uint32_t first[] = {0, 1, 2, 2}, to[] = {1, 2};
    lk_domtree_root_edge_t re[] = {{0, 0}};
    lk_domtree_graph_t g = {.n = 3, .size = &recs[0].size, .size_stride = sizeof recs[0],
                            .first = first, .to = to, .nroots = 1, .root_edges = re,
                            .nroot_edges = 1};
    uint64_t rb[3], rootb[1];
    lk_domtree_out_t o = {.retained_bytes = rb, .root_bytes = rootb};
    size_t need = lk_domtree_scratch_bytes(&g);
    ck_assert_uint_gt(need, 0);
    uint64_t *scratch = malloc(need);
    ck_assert_ptr_nonnull(scratch);
    ck_assert_int_eq(lk_domtree_compute(&g, scratch, need, &o), 0);
    ck_assert_uint_eq(rb[0], 70);
    ck_assert_uint_eq(rb[1], 60);
    ck_assert_uint_eq(rootb[0], 70);
    ck_assert_int_eq(lk_domtree_compute(&g, scratch, need - 8, &o), -EINVAL);
    free(scratch);

    lk_domtree_graph_t empty = {.n = 0};
    lk_domtree_out_t eo = {0};
    ck_assert_int_eq(lk_domtree_compute(&empty, NULL, 0, &eo), 0);
    ck_assert_uint_eq(eo.live_blocks, 0);
}
END_TEST

/* Malformed input is refused, not followed. */
START_TEST(test_domtree_malformed)
{
    uint64_t size[2] = {1, 1};
    uint32_t first[] = {0, 1, 1}, to_bad[] = {2}, first_bad[] = {0, 2, 1}, to[] = {1, 0};
    lk_domtree_root_edge_t re[] = {{0, 0}}, re_bad_root[] = {{1, 0}}, re_bad_node[] = {{0, 5}};
    lk_domtree_out_t o = {0};
    lk_domtree_graph_t g = {.n = 2, .size = size, .first = first, .to = to_bad, .nroots = 1,
                            .root_edges = re, .nroot_edges = 1};
    ck_assert_int_eq(lk_domtree_compute(&g, NULL, 0, &o), -EINVAL);
    g.to = to;
    g.first = first_bad;
    ck_assert_int_eq(lk_domtree_compute(&g, NULL, 0, &o), -EINVAL);
    g.first = first;
    g.root_edges = re_bad_root;
    ck_assert_int_eq(lk_domtree_compute(&g, NULL, 0, &o), -EINVAL);
    g.root_edges = re_bad_node;
    ck_assert_int_eq(lk_domtree_compute(&g, NULL, 0, &o), -EINVAL);
    g.root_edges = re;
    ck_assert_int_eq(lk_domtree_compute(&g, NULL, 0, &o), 0);
    g.n = (size_t)UINT32_MAX;
    ck_assert_uint_eq(lk_domtree_scratch_bytes(&g), 0);
}
END_TEST

/* ### the naive reference: d dominates x when x is reachable and removing d
 * makes it unreachable.  Vertices: blocks 0..n-1, roots n..n+R-1. */

typedef struct naive {
    size_t n, nv;
    uint8_t *live, *reach, *dom;    /* dom[d * nv + x] */
} naive_t;

/* Reachability from the super-root with vertex 'skip' removed (SIZE_MAX:
 * none); 'live' NULL for the first pass (roots and ROOTED only), else the
 * full effective graph of domtree.h. */
static void naive_reach(const tg_t *t, const uint8_t *live, size_t skip, uint8_t *seen)
{
    size_t nv = t->n + t->nroots;
    uint32_t *q = malloc((nv + 1) * sizeof *q);
    ck_assert_ptr_nonnull(q);
    size_t qh = 0, qt = 0;
    memset(seen, 0, nv);
#define VISIT(v) do { if ((size_t)(v) != skip && !seen[v]) { seen[v] = 1; q[qt++] = (uint32_t)(v); } } while (0)
    for (size_t r = 0; r < t->nroots; r++) VISIT(t->n + r);
    for (size_t i = 0; i < t->n; i++)
        if (t->flags[i] & LK_DOMTREE_ROOTED) VISIT(i);
    for (size_t i = 0; live && i < t->n; i++)
        if ((t->flags[i] & LK_DOMTREE_HEAD) && !live[i]) VISIT(i);
    while (qh < qt) {
        uint32_t u = q[qh++];
        if (u >= t->n) {
            for (size_t k = 0; k < t->nre; k++)
                if (t->re[k].root == u - t->n) VISIT(t->re[k].node);
            continue;
        }
        for (size_t k = 0; k < t->ne; k++) {
            if (t->e[k][0] != u) continue;
            uint32_t w = t->e[k][1];
            if (live && !live[u] && live[w]) continue;
            VISIT(w);
        }
    }
#undef VISIT
    free(q);
}

static void naive_run(const tg_t *t, naive_t *nv)
{
    nv->n = t->n;
    nv->nv = t->n + t->nroots;
    nv->live = calloc(nv->nv + 1, 1);
    nv->reach = calloc(nv->nv + 1, 1);
    nv->dom = calloc(nv->nv * nv->nv + 1, 1);
    uint8_t *seen = calloc(nv->nv + 1, 1);
    ck_assert(nv->live && nv->reach && nv->dom && seen);
    naive_reach(t, NULL, SIZE_MAX, nv->live);
    naive_reach(t, nv->live, SIZE_MAX, nv->reach);
    for (size_t d = 0; d < nv->nv; d++) {
        if (!nv->reach[d]) continue;
        naive_reach(t, nv->live, d, seen);
        for (size_t x = 0; x < nv->nv; x++)
            nv->dom[d * nv->nv + x] = x != d && nv->reach[x] && !seen[x];
    }
    free(seen);
}

static void naive_free(naive_t *nv)
{
    free(nv->live);
    free(nv->reach);
    free(nv->dom);
}

/* The expected idom of x in the output's encoding. */
static uint32_t naive_idom(const naive_t *nv, size_t x)
{
    if (!nv->reach[x]) return LK_DOMTREE_NONE;
    size_t best = SIZE_MAX, best_depth = 0;
    for (size_t d = 0; d < nv->nv; d++) {
        if (!nv->dom[d * nv->nv + x]) continue;
        size_t depth = 0;
        for (size_t e = 0; e < nv->nv; e++) depth += nv->dom[e * nv->nv + d];
        if (best == SIZE_MAX || depth > best_depth) {
            best = d;
            best_depth = depth;
        }
    }
    return best == SIZE_MAX ? LK_DOMTREE_SUPER : (uint32_t)best;
}

static void compare_random(unsigned seed)
{
    srand(seed);
    size_t n = 1 + (size_t)rand() % 24, R = (size_t)rand() % 4;
    tg_t t;
    tg_init(&t, n, R);
    for (size_t i = 0; i < n; i++) t.size[i] = 1 + (uint64_t)(rand() % 1000);
    size_t ne = (size_t)rand() % (3 * n + 1);
    for (size_t k = 0; k < ne; k++) tg_edge(&t, (uint32_t)(rand() % n), (uint32_t)(rand() % n));
    size_t nre = R ? (size_t)rand() % (2 * R + 2) : 0;
    for (size_t k = 0; k < nre; k++) tg_root(&t, (uint32_t)(rand() % R), (uint32_t)(rand() % n));
    for (size_t i = 0; i < n; i++) {
        int f = rand() % 16;
        t.flags[i] = f == 0 ? LK_DOMTREE_ROOTED : f < 4 ? LK_DOMTREE_HEAD : 0;
    }
    res_t r;
    ck_assert_int_eq(run(&t, &r), 0);
    naive_t nv;
    naive_run(&t, &nv);
    uint64_t live_bytes = 0, lost_bytes = 0, shared = 0, lost_shared = 0, lost_blocks = 0;
    for (size_t x = 0; x < n; x++) {
        uint32_t want = naive_idom(&nv, x);
        ck_assert_msg(r.o.idom[x] == want, "seed %u: idom[%zu] = %u, want %u", seed, x,
                      r.o.idom[x], want);
        uint64_t bytes = nv.reach[x] ? t.size[x] : 0, blocks = nv.reach[x];
        for (size_t y = 0; y < n; y++)
            if (nv.dom[x * nv.nv + y]) {
                bytes += t.size[y];
                blocks++;
            }
        ck_assert_msg(r.o.retained_bytes[x] == bytes, "seed %u: retained[%zu]", seed, x);
        ck_assert_uint_eq(r.o.retained_blocks[x], blocks);
        if (!nv.reach[x]) continue;
        if (nv.live[x]) live_bytes += t.size[x];
        else {
            lost_bytes += t.size[x];
            lost_blocks++;
        }
        /* shared: no root dominates it; lost_shared: the top of its chain of
         * dominators is not a HEAD block */
        int by_root = 0;
        for (size_t q = 0; q < R; q++) by_root |= nv.dom[(n + q) * nv.nv + x];
        if (nv.live[x] && !by_root) shared += t.size[x];
        if (!nv.live[x]) {
            size_t top = x;
            for (uint32_t up; (up = naive_idom(&nv, top)) != LK_DOMTREE_SUPER;) top = up;
            if (!(t.flags[top] & LK_DOMTREE_HEAD)) lost_shared += t.size[x];
        }
    }
    for (size_t q = 0; q < R; q++) {
        uint64_t bytes = 0;
        for (size_t y = 0; y < n; y++)
            if (nv.dom[(n + q) * nv.nv + y]) bytes += t.size[y];
        ck_assert_msg(r.o.root_bytes[q] == bytes, "seed %u: root_bytes[%zu]", seed, q);
    }
    ck_assert_msg(r.o.live_bytes == live_bytes, "seed %u: live_bytes", seed);
    ck_assert_msg(r.o.lost_bytes == lost_bytes, "seed %u: lost_bytes", seed);
    ck_assert_uint_eq(r.o.lost_blocks, lost_blocks);
    ck_assert_msg(r.o.shared_bytes == shared, "seed %u: shared_bytes", seed);
    ck_assert_msg(r.o.lost_shared_bytes == lost_shared, "seed %u: lost_shared_bytes", seed);
    naive_free(&nv);
    res_free(&r);
    tg_free(&t);
}

START_TEST(test_domtree_random_vs_naive)
{
    for (unsigned seed = 1; seed <= 3000; seed++) compare_random(seed);
}
END_TEST

/* ### timing on 2M blocks (LK_DOMTREE_BENCH=1; never asserted) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

/* Scratch as the scan allocates its big arrays: 2 MiB-aligned, transparent
 * huge pages requested, populated up front. */
#define HUGE_SZ ((size_t)2 << 20)
static void *huge_alloc(size_t len)
{
    len = (len + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
    char *m = mmap(NULL, len + HUGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(m != MAP_FAILED);
    char *a = (char *)(((uintptr_t)m + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1));
    madvise(a, len, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
    madvise(a, len, MADV_POPULATE_WRITE);
#endif
    return a;
}

static void *huge_copy(const void *p, size_t len)
{
    void *q = huge_alloc(len);
    memcpy(q, p, len);
    return q;
}

/* Time one graph, its arrays (input, output, scratch) in huge pages as the
 * scan's would be. */
static void bench_one(const char *name, tg_t *t)
{
    lk_domtree_graph_t g = tg_graph(t);
    g.first = huge_copy(t->first, (t->n + 1) * sizeof *t->first);
    g.to = huge_copy(t->to, t->ne * sizeof *t->to);
    g.size = huge_copy(t->size, t->n * sizeof *t->size);
    lk_domtree_out_t o = {0};
    o.idom = huge_alloc(t->n * sizeof *o.idom);
    o.retained_bytes = huge_alloc(t->n * sizeof *o.retained_bytes);
    o.retained_blocks = huge_alloc(t->n * sizeof *o.retained_blocks);
    o.root_bytes = calloc(t->nroots + 1, sizeof *o.root_bytes);
    ck_assert_ptr_nonnull(o.root_bytes);
    size_t need = lk_domtree_scratch_bytes(&g);
    double best_pop = 1e9, best_malloc = 1e9;
    void *s = huge_alloc(need);
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        ck_assert_int_eq(lk_domtree_compute(&g, s, need, &o), 0);
        double t1 = now_s();
        if (t1 - t0 < best_pop) best_pop = t1 - t0;
        t0 = now_s();
        ck_assert_int_eq(lk_domtree_compute(&g, NULL, 0, &o), 0);
        t1 = now_s();
        if (t1 - t0 < best_malloc) best_malloc = t1 - t0;
    }
    ck_assert_uint_eq(o.live_blocks, t->n);
    ck_assert_uint_eq(o.root_bytes[0] + o.shared_bytes + (t->nroots > 1 ? o.root_bytes[1] : 0),
                      o.live_bytes);
    printf("domtree bench %-12s %zu blocks %zu edges, scratch %.1f MiB: %.3f s CPU "
           "(huge-page scratch), %.3f s (lk_real_malloc)\n",
           name, t->n, t->ne, (double)need / (1 << 20), best_pop, best_malloc);
    fflush(stdout);
    free(o.root_bytes);     /* the huge mappings stay: the bench process ends soon */
}

START_TEST(test_domtree_bench)
{
    if (!getenv("LK_DOMTREE_BENCH")) return;
    const uint32_t n = 2000000;
    tg_t t;
    /* a list in address order */
    tg_init(&t, n, 1);
    for (uint32_t i = 0; i + 1 < n; i++) tg_edge(&t, i, i + 1);
    tg_root(&t, 0, 0);
    bench_one("list-ordered", &t);
    tg_free(&t);
    /* a list, in random address order (blocks are numbered by address) */
    tg_init(&t, n, 1);
    uint32_t *perm = malloc(n * sizeof *perm);
    ck_assert_ptr_nonnull(perm);
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng() % (i + 1), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (uint32_t i = 0; i + 1 < n; i++) tg_edge(&t, perm[i], perm[i + 1]);
    tg_root(&t, 0, perm[0]);
    bench_one("list-random", &t);
    tg_free(&t);
    /* a random tree: each block's parent is a random earlier one */
    tg_init(&t, n, 1);
    for (uint32_t i = 1; i < n; i++) tg_edge(&t, perm[rng() % i], perm[i]);
    tg_root(&t, 0, perm[0]);
    bench_one("tree", &t);
    /* the same tree plus 2M random cross edges, and a second root */
    t.nroots = 2;
    for (uint32_t i = 0; i < n; i++) tg_edge(&t, rng() % n, rng() % n);
    tg_root(&t, 1, perm[n / 2]);
    bench_one("tree+cross", &t);
    tg_free(&t);
    free(perm);
}
END_TEST

Suite *domtree_suite(void);
Suite *domtree_suite(void)
{
    Suite *s = suite_create("domtree");
    TCase *tc = tcase_create("shapes");
    tcase_add_test(tc, test_domtree_tree_one_root);
    tcase_add_test(tc, test_domtree_two_roots_share);
    tcase_add_test(tc, test_domtree_indirect_second_root);
    tcase_add_test(tc, test_domtree_cycle_from_root);
    tcase_add_test(tc, test_domtree_diamond);
    tcase_add_test(tc, test_domtree_unreachable);
    tcase_add_test(tc, test_domtree_lost_heads);
    tcase_add_test(tc, test_domtree_rooted_flags);
    tcase_add_test(tc, test_domtree_stride_scratch_empty);
    tcase_add_test(tc, test_domtree_malformed);
    suite_add_tcase(s, tc);
    tc = tcase_create("list");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_domtree_long_list);
    suite_add_tcase(s, tc);
    tc = tcase_create("random");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_domtree_random_vs_naive);
    suite_add_tcase(s, tc);
    tc = tcase_create("bench");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_domtree_bench);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(domtree_suite)
