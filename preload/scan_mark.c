/* scan_mark.c - the classifier: trace live blocks from the roots the way a
 * conservative collector does and give each one of valgrind's leak kinds.
 * Works on caller-given blocks, roots and a memory reader, so unit tests run
 * it on fake memory; never calls exit, abort or assert. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <time.h>

#include "domtree.h"
#include "internal.h"
#include "scan_internal.h"

#define ROOT_CHUNK    (64u * 1024)       /* bytes of root memory read at once */
#define SMALL_ROOT    (ROOT_CHUNK / 4)   /* roots up to this size are read in batches */
#define BATCH_BYTES   (256u * 1024)      /* bytes of block contents read at once */
#define BATCH_MAX     512u               /* blocks per batched read */
/* Block-to-block and root-to-block edges kept for cycle detection and the
 * dominator pass; past this the pass is skipped, the cycle flags may miss
 * cycles, and retained_complete / cycles_complete say so. */
#define MAX_EDGES     (32u * 1024 * 1024)
#define TOP_STRIDE    32u                /* blocks per entry of the top lookup array */
#define NEAR          4u                 /* neighbours tried before the full lookup */

enum { ST_UNREACHED = 0, ST_POSSIBLE, ST_REACHABLE, ST_INDIRECT };

/* ### the scan context */

typedef struct scan_ctx {
    lk_scan_block_t *b;
    size_t n;
    uintptr_t *starts;          /* b[i].ptr, sorted; the lookup array */
    uintptr_t *top;             /* starts[k * TOP_STRIDE]: searched first, stays in cache */
    size_t ntop;
    uintptr_t lo, hi;           /* lowest start, highest end of any block */
    const lk_scan_root_t *roots;
    lk_scan_read_fn read;
    void *arg;
    size_t (*usable)(uintptr_t ptr);
    lk_scan_result_t *res;
    uint8_t *snap;              /* snapshot mode: every block's words, copied up front */
    uint64_t *snap_off;         /* offset of block i's first aligned word in snap */
    size_t snap_len;            /* bytes mapped at snap */
    uint32_t *work;             /* LIFO of block indices to scan */
    size_t nwork, capwork;
    uint8_t *buf;               /* BATCH_BYTES for block contents, made by drain() */
    lk_scan_io_t io[BATCH_MAX];
    uint32_t ioidx[BATCH_MAX];
    size_t capholders;
    int phase;                  /* 1: roots, 2: lost cliques */
    uint32_t leader;            /* phase 2: the clique being built */
    uint32_t (*edges)[2];       /* (from, to): every block edge (lost into live ones left out) */
    size_t nedges, capedges, max_edges;
    lk_domtree_root_edge_t *redges;     /* (named root, block) */
    size_t nredges, capredges, capdroots;
    uint32_t *region_root;      /* [nroots] named root of a non-global region, or NIL */
    uint32_t *first, *to;       /* the edges as CSR, built after the marking */
    int oom;
} scan_ctx_t;

/* qsort_r order by address; 'ops' counts the comparisons. */
static int cmp_block(const void *a, const void *b, void *ops)
{
    const lk_scan_block_t *x = a, *y = b;
    ++*(uint64_t *)ops;
    return x->ptr < y->ptr ? -1 : x->ptr > y->ptr;
}

/* Large scratch memory, mmap'd and populated in one call (one fault a page
 * costs far more); from 2 MiB on, 2 MiB-aligned and rounded so that it can
 * get transparent huge pages, since the sort scatters over arrays that
 * thrash the TLB with 4 KiB pages. */
#define BIG_HUGE ((size_t)2 << 20)

static size_t big_len(size_t len)
{
    len = len ? len : 1;
    return len >= BIG_HUGE ? (len + BIG_HUGE - 1) & ~(BIG_HUGE - 1) : len;
}

void *lk_scan_big_alloc(size_t len)
{
    len = big_len(len);
    if (lk_tls_exit_arena && len < BIG_HUGE) {
        /* the exit dump's: populated pages, and no munmap (each costs a TLB
         * flush, tens of microseconds on a VM): the process is ending */
        void *q = lk_exit_arena_alloc(len, PAGE);  /* never reused: zero, as an mmap's */
        if (q) return q;
    }
    if (len >= BIG_HUGE) {
        char *m = mmap(NULL, len + BIG_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) goto small;    /* address space is short: no alignment */
        char *a = (char *)(((uintptr_t)m + BIG_HUGE - 1) & ~(uintptr_t)(BIG_HUGE - 1));
        if (a > m) munmap(m, (size_t)(a - m));
        munmap(a + len, (size_t)(m + BIG_HUGE - a));   /* a < m + BIG_HUGE */
        madvise(a, len, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
        madvise(a, len, MADV_POPULATE_WRITE);   /* before Linux 5.14: EINVAL, faults as used */
#endif
        return a;
    }
small:;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

void lk_scan_big_free(void *p, size_t len)
{
    if (p && !lk_exit_arena_owns(p)) munmap(p, big_len(len));
}

/* Return the index of the block holding address 'v', or -1.  '*interior' is
 * 0 for a pointer to the block's start, 1 inside it.  A pointer at the
 * allocator's next chunk header (hdr_off) is malloc's own bookkeeping (the
 * arena's top and bin pointers) and is not a reference. */
static inline long find_block_near(scan_ctx_t *c, uintptr_t v, int *interior, size_t near)
{
    if (v < c->lo || v >= c->hi) return -1;
    size_t lo, hi;
    /* Pointers often go to neighbours of the block they sit in (allocation
     * order): try a small window around 'near' before the full search. */
    if (near < c->n && c->starts[near >= NEAR ? near - NEAR : 0] <= v &&
        (near + NEAR >= c->n || v < c->starts[near + NEAR])) {
        lo = near >= NEAR ? near - NEAR : 0;
        hi = near + NEAR < c->n ? near + NEAR : c->n;
    } else {
        /* Narrow to one stride with the small top array, then search there. */
        size_t tl = 0, th = c->ntop;
        while (tl < th) {
            size_t mid = tl + (th - tl) / 2;
            if (c->top[mid] <= v) tl = mid + 1;
            else th = mid;
        }
        if (tl == 0) return -1;
        lo = (tl - 1) * TOP_STRIDE;
        hi = lo + TOP_STRIDE < c->n ? lo + TOP_STRIDE : c->n;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->starts[mid] <= v) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return -1;
    size_t i = lo - 1;
    uintptr_t off = v - c->starts[i];
    if (off == 0) {
        *interior = 0;
        return (long)i;
    }
    lk_scan_block_t *b = &c->b[i];
    if (off >= b->size) return -1;
    if (b->hdr_off == 0 && c->usable && off + 3 * WORD > b->size) {
        /* Only the last words can hold the next chunk's header. */
        size_t u = c->usable(b->ptr);
        b->hdr_off = u >= WORD && u - WORD < b->size && u - WORD < LK_SCAN_NO_HDR
                         ? (uint32_t)(u - WORD) : LK_SCAN_NO_HDR;
    }
    if (b->hdr_off && off == b->hdr_off) return -1;
    *interior = 1;
    return (long)i;
}

static inline long find_block(scan_ctx_t *c, uintptr_t v, int *interior)
{
    return find_block_near(c, v, interior, SIZE_MAX);
}

static void push(scan_ctx_t *c, uint32_t i)
{
    if (c->nwork == c->capwork) {
        size_t cap = c->capwork ? c->capwork * 2 : 1024;
        uint32_t *w = lk_real_realloc(c->work, cap * sizeof *w);
        if (!w) {
            c->oom = 1;
            return;
        }
        c->work = w;
        c->capwork = cap;
    }
    c->work[c->nwork++] = i;
}

/* Edges past the budget or memory are counted, not kept. */
static void add_edge(scan_ctx_t *c, uint32_t from, uint32_t to)
{
    if (c->nedges + c->nredges >= c->max_edges) goto dropped;
    if (c->nedges == c->capedges) {
        size_t cap = c->capedges ? c->capedges * 2 : 1024;
        void *e = lk_real_realloc(c->edges, cap * sizeof c->edges[0]);
        if (!e) goto dropped;
        c->edges = e;
        c->capedges = cap;
    }
    c->edges[c->nedges][0] = from;
    c->edges[c->nedges][1] = to;
    c->nedges++;
    return;
dropped:
    if (c->phase == 2) c->res->cycles_complete = 0;
    c->res->edges_dropped++;
}

/* The named root of word 'addr' of root region 'ri': each word of a global
 * is its own root (held_by names globals by word), other regions one per
 * kind and thread.  Returns NIL when memory ran out. */
static uint32_t named_root(scan_ctx_t *c, uint32_t ri, uintptr_t addr)
{
    const lk_scan_root_t *r = &c->roots[ri];
    lk_scan_result_t *res = c->res;
    if (r->kind != LK_ROOT_GLOBAL && c->region_root[ri] != UINT32_MAX) return c->region_root[ri];
    if (r->kind != LK_ROOT_GLOBAL) {
        /* another region of the same thread and kind (a descriptor and its TLS) */
        for (size_t k = 0; k < ri; k++) {
            const lk_scan_root_t *o = &c->roots[k];
            if (c->region_root[k] != UINT32_MAX && o->kind == r->kind && o->tid == r->tid)
                return c->region_root[ri] = c->region_root[k];
        }
    } else if (res->ndroots && res->droots[res->ndroots - 1].addr == addr &&
               c->roots[res->droots[res->ndroots - 1].root].kind == LK_ROOT_GLOBAL) {
        return (uint32_t)res->ndroots - 1;
    }
    if (res->ndroots == c->capdroots) {
        size_t cap = c->capdroots ? c->capdroots * 2 : 256;
        lk_scan_holder_t *d = lk_real_realloc(res->droots, cap * sizeof *d);
        if (!d) return UINT32_MAX;
        res->droots = d;
        c->capdroots = cap;
    }
    res->droots[res->ndroots] = (lk_scan_holder_t){ri, r->kind == LK_ROOT_GLOBAL ? addr : r->lo};
    if (r->kind != LK_ROOT_GLOBAL) c->region_root[ri] = (uint32_t)res->ndroots;
    return (uint32_t)res->ndroots++;
}

static void add_root_edge(scan_ctx_t *c, uint32_t ri, uintptr_t addr, uint32_t to)
{
    uint32_t root = UINT32_MAX;
    if (c->nedges + c->nredges >= c->max_edges) goto dropped;
    if (c->nredges == c->capredges) {
        size_t cap = c->capredges ? c->capredges * 2 : 1024;
        void *e = lk_real_realloc(c->redges, cap * sizeof c->redges[0]);
        if (!e) goto dropped;
        c->redges = e;
        c->capredges = cap;
    }
    if ((root = named_root(c, ri, addr)) == UINT32_MAX) goto dropped;
    c->redges[c->nredges++] = (lk_domtree_root_edge_t){root, to};
    return;
dropped:
    c->res->edges_dropped++;
}

/* Phase 1: word 'v' was found in memory reached from 'holder'; 'definite'
 * says whether that memory is reachable through start pointers only (a root,
 * or a reachable block).  Upgrades the target as valgrind does: unreached ->
 * possible -> reachable, and queues it for scanning on every upgrade.
 * Returns 1 when the target changed. */
static int mark(scan_ctx_t *c, uintptr_t v, int definite, uint32_t holder, size_t near,
                long *found)
{
    int interior;
    long i = find_block_near(c, v, &interior, near);
    *found = i;
    if (i < 0) return 0;
    lk_scan_block_t *t = &c->b[i];
    if (!interior && definite && t->state != ST_REACHABLE) {
        t->state = ST_REACHABLE;
        t->aux = holder;
    } else if (t->state == ST_UNREACHED) {
        t->state = ST_POSSIBLE;
        t->aux = holder;
    } else {
        return 0;
    }
    push(c, (uint32_t)i);
    return 1;
}

/* Phase 2: word 'v' lies in lost block 'from', scanned for the clique of
 * c->leader.  Fresh unreached blocks join the clique and are queued; an
 * earlier leader reached here joins too, with everything it already holds
 * (its aux points at its head, resolved by find_head()). */
static void link_lost(scan_ctx_t *c, uint32_t from, uintptr_t v)
{
    int interior;
    long i = find_block_near(c, v, &interior, from);
    if (i < 0) return;
    lk_scan_block_t *t = &c->b[i];
    if (t->state == ST_REACHABLE || t->state == ST_POSSIBLE) return;
    add_edge(c, from, (uint32_t)i);
    if ((uint32_t)i == c->leader || t->state != ST_UNREACHED) return;
    t->state = ST_INDIRECT;
    t->aux = c->leader;
    /* Blocks below the leader are all processed: an unreached one there is
     * an earlier leader whose contents were scanned already. */
    if ((uint32_t)i > c->leader) push(c, (uint32_t)i);
}

/* The index of the first of words [k, nw) of 'buf' that lies in [lo, lo +
 * span), or nw: most words of memory are no heap pointers, so they are
 * skipped four at a time with one branch (one test when all are zero). */
static inline size_t next_in_range(const uint8_t *buf, size_t k, size_t nw, uintptr_t lo,
                                   uintptr_t span)
{
    for (; k + 4 <= nw; k += 4) {
        uintptr_t w[4];
        memcpy(w, buf + k * WORD, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3]) == 0) continue;    /* most often: .bss, fresh pages */
        if ((w[0] - lo < span) | (w[1] - lo < span) | (w[2] - lo < span) | (w[3] - lo < span))
            break;
    }
    for (; k < nw; k++) {
        uintptr_t v;
        memcpy(&v, buf + k * WORD, WORD);
        if (v - lo < span) return k;
    }
    return k;
}

/* Scan the aligned words of 'got' bytes read from 'addr' for block 'from'. */
static void scan_block_words(scan_ctx_t *c, uint32_t from, const uint8_t *p, size_t got)
{
    const lk_scan_block_t *s = &c->b[from];
    int definite = s->state == ST_REACHABLE;
    uint32_t holder = s->aux;
    for (size_t off = 0; off + WORD <= got; off += WORD) {
        uintptr_t v;
        memcpy(&v, p + off, WORD);
        if (v < c->lo || v >= c->hi) continue;
        if (c->phase == 2) {
            link_lost(c, from, v);
            continue;
        }
        long i;
        mark(c, v, definite, holder, from, &i);
        if (i >= 0) add_edge(c, from, (uint32_t)i);
    }
}

/* The aligned word range [a, e) of block 'i''s requested bytes. */
static inline void block_words(const lk_scan_block_t *b, uintptr_t *a, uintptr_t *e)
{
    *a = (b->ptr + WORD - 1) & ~(uintptr_t)(WORD - 1);
    *e = (b->ptr + b->size) & ~(uintptr_t)(WORD - 1);
    if (*e < *a) *e = *a;
}

/* Scan queued blocks until the queue is empty, reading small blocks in
 * batches of up to BATCH_MAX (one syscall each) and big ones in chunks. */
static void drain(scan_ctx_t *c)
{
    while (c->snap && c->nwork > 0 && !c->oom) {
        uint32_t i = c->work[--c->nwork];
        uintptr_t a, e;
        block_words(&c->b[i], &a, &e);
        scan_block_words(c, i, c->snap + c->snap_off[i], e - a);
    }
    /* Made on first need: with the snapshot (every small heap) it is never
     * read, and at exit each page of it is a fresh page to populate. */
    if (c->nwork > 0 && !c->oom && !c->buf && !(c->buf = lk_real_malloc(BATCH_BYTES)))
        c->oom = 1;
    while (c->nwork > 0 && !c->oom) {
        size_t k = 0, used = 0;
        while (c->nwork > 0 && k < BATCH_MAX) {
            uint32_t i = c->work[c->nwork - 1];
            uintptr_t a, e;
            block_words(&c->b[i], &a, &e);
            size_t len = e - a;
            if (len > BATCH_BYTES) {
                if (k > 0) break;  /* read the batch first, then this one alone */
                c->nwork--;
                for (uintptr_t p = a; p < e; p += BATCH_BYTES) {
                    size_t l = e - p < BATCH_BYTES ? e - p : BATCH_BYTES;
                    lk_scan_io_t io = {p, c->buf, l, 0};
                    c->read(&io, 1, c->arg);
                    c->res->unreadable_bytes += l - io.got;
                    scan_block_words(c, i, c->buf, io.got);
                }
                k = 0;
                used = 0;
                continue;
            }
            if (used + len > BATCH_BYTES) break;
            c->nwork--;
            c->io[k] = (lk_scan_io_t){a, c->buf + used, len, 0};
            c->ioidx[k] = i;
            used += len;
            k++;
        }
        if (k == 0) continue;
        c->read(c->io, k, c->arg);
        for (size_t j = 0; j < k; j++) {
            c->res->unreadable_bytes += c->io[j].len - c->io[j].got;
            scan_block_words(c, c->ioidx[j], c->io[j].dst, c->io[j].got);
        }
    }
}

static uint32_t new_holder(scan_ctx_t *c, uint32_t root, uintptr_t addr)
{
    lk_scan_result_t *r = c->res;
    if (r->nholders == c->capholders) {
        size_t cap = c->capholders ? c->capholders * 2 : 64;
        lk_scan_holder_t *h = lk_real_realloc(r->holders, cap * sizeof *h);
        if (!h) {
            c->oom = 1;
            return LK_SCAN_NO_HOLDER;
        }
        r->holders = h;
        c->capholders = cap;
    }
    r->holders[r->nholders] = (lk_scan_holder_t){root, addr};
    return (uint32_t)r->nholders++;
}

/* Phase 1 for one root region: every aligned word that hits a block marks it,
 * and its whole chain is traced before the next word, so a block is credited
 * to the first root word (in scan order) that reaches it.  Globals get one
 * holder per word (the analyzer names the variable); other roots one per
 * region.  Unreadable pages are skipped and counted. */
/* Scan 'got' bytes of root 'ri' read from 'p' into 'buf'.  '*region_holder'
 * is the holder of a non-global root, LK_SCAN_NO_HOLDER until it holds one. */
static void scan_root_words(scan_ctx_t *c, uint32_t ri, uintptr_t p, const uint8_t *buf,
                            size_t got, uint32_t *region_holder)
{
    const lk_scan_root_t *r = &c->roots[ri];
    if (r->kind >= 0 && r->kind < 4) c->res->root_bytes[r->kind] += got;
    if (c->hi <= c->lo) return;            /* no block */
    const uintptr_t lo = c->lo, span = c->hi - c->lo;
    size_t nw = got / WORD;
    /* glibc installs &dtv[1] in the descriptor: a reference to the
     * calloc'd DTV, not an interior pointer. */
    size_t dtv = SIZE_MAX;
    if (r->dtv_word && r->dtv_word >= p && r->dtv_word - p < got && (r->dtv_word - p) % WORD == 0)
        dtv = (r->dtv_word - p) / WORD;
    for (size_t k = 0; !c->oom; k++) {
        k = next_in_range(buf, k, k <= dtv && dtv < nw ? dtv : nw, lo, span);
        if (k >= nw) break;
        uintptr_t v;
        memcpy(&v, buf + k * WORD, WORD);
        if (k == dtv) v -= 2 * WORD;
        if (v - lo >= span) continue;
        uintptr_t at = p + k * WORD;
        uint32_t h = r->kind == LK_ROOT_GLOBAL ? (uint32_t)c->res->nholders : *region_holder;
        if (h == LK_SCAN_NO_HOLDER) h = (uint32_t)c->res->nholders;
        long i;
        int changed = mark(c, v, 1, h, SIZE_MAX, &i);
        if (i >= 0) add_root_edge(c, ri, at, (uint32_t)i);
        if (!changed) continue;
        if (h == c->res->nholders) {
            new_holder(c, ri, r->kind == LK_ROOT_GLOBAL ? at : r->lo);
            if (r->kind != LK_ROOT_GLOBAL) *region_holder = h;
        }
        drain(c);
    }
}

/* Scan root 'ri' from 'p' to 'end' in reads of up to 'cap' bytes into
 * 'chunk'. */
static void scan_root_from(scan_ctx_t *c, uint32_t ri, uintptr_t p, uintptr_t end, uint8_t *chunk,
                           size_t cap, uint32_t *region_holder)
{
    while (p < end && !c->oom) {
        size_t len = end - p < cap ? end - p : cap;
        lk_scan_io_t io = {p, chunk, len, 0};
        c->read(&io, 1, c->arg);
        size_t got = io.got & ~(WORD - 1);
        scan_root_words(c, ri, p, chunk, got, region_holder);
        if (got < len) {
            /* Skip to the page after the first unreadable byte. */
            uintptr_t bad = p + got;
            uintptr_t next = (bad + PAGE) & ~(uintptr_t)(PAGE - 1);
            if (next > end) next = end;
            c->res->unreadable_bytes += next - bad;
            p = next;
        } else {
            p += len;
        }
    }
}

static void scan_root(scan_ctx_t *c, uint32_t ri, uint8_t *chunk)
{
    const lk_scan_root_t *r = &c->roots[ri];
    uintptr_t p = (r->lo + WORD - 1) & ~(uintptr_t)(WORD - 1);
    uintptr_t end = r->hi & ~(uintptr_t)(WORD - 1);
    uint32_t region_holder = LK_SCAN_NO_HOLDER;
    scan_root_from(c, ri, p, end, chunk, ROOT_CHUNK, &region_holder);
}

/* Scan roots from 'ri' on, several small ones with one read (a forked
 * child's inherited blocks are roots: thousands of them, each a system call
 * when read alone).  Returns how many roots it scanned (at least one). */
static size_t scan_roots_batch(scan_ctx_t *c, size_t ri, size_t nroots, uint8_t *chunk)
{
    lk_scan_io_t io[READ_IOV];
    size_t k = 0, used = 0;
    while (ri + k < nroots && k < READ_IOV) {
        const lk_scan_root_t *r = &c->roots[ri + k];
        uintptr_t p = (r->lo + WORD - 1) & ~(uintptr_t)(WORD - 1);
        uintptr_t end = r->hi & ~(uintptr_t)(WORD - 1);
        size_t len = end > p ? end - p : 0;
        if (len > SMALL_ROOT || used + len > ROOT_CHUNK) break;
        io[k] = (lk_scan_io_t){p, chunk + used, len, 0};
        used += len;
        k++;
    }
    if (k < 2) {
        scan_root(c, (uint32_t)ri, chunk);
        return 1;
    }
    c->read(io, k, c->arg);
    for (size_t j = 0; j < k && !c->oom; j++) {
        uint32_t region_holder = LK_SCAN_NO_HOLDER;
        size_t got = io[j].got & ~(WORD - 1);
        scan_root_words(c, (uint32_t)(ri + j), io[j].addr, io[j].dst, got, &region_holder);
        if (got == io[j].len) continue;
        /* a hole: the rest as scan_root reads it, past the chunk's other roots */
        uintptr_t bad = io[j].addr + got, end = io[j].addr + io[j].len;
        uintptr_t next = (bad + PAGE) & ~(uintptr_t)(PAGE - 1);
        if (next > end) next = end;
        c->res->unreadable_bytes += next - bad;
        uint8_t *page = next < end ? lk_real_malloc(PAGE) : NULL;  /* rare: off the stack */
        if (next < end && !page) c->oom = 1;
        if (page) scan_root_from(c, (uint32_t)(ri + j), next, end, page, PAGE, &region_holder);
        lk_real_free(page);
    }
    return k;
}

/* Head of lost block 'i': follow aux links to the clique leader, compressing
 * the path. */
static uint32_t find_head(lk_scan_block_t *b, uint32_t i)
{
    uint32_t h = i;
    while (b[h].state == ST_INDIRECT) h = b[h].aux;
    while (b[i].state == ST_INDIRECT && b[i].aux != h) {
        uint32_t next = b[i].aux;
        b[i].aux = h;
        i = next;
    }
    return h;
}

/* The recorded block edges as CSR (c->first, c->to), the pair array then
 * freed: cycles and dominators both walk it.  0, or -ENOMEM. */
static int build_graph(scan_ctx_t *c)
{
    size_t n = c->n;
    c->first = lk_scan_big_alloc((n + 1) * sizeof *c->first);
    c->to = lk_scan_big_alloc((c->nedges ? c->nedges : 1) * sizeof *c->to);
    if (!c->first || !c->to) return -ENOMEM;
    uint32_t *first = c->first;
    for (size_t e = 0; e < c->nedges; e++) first[c->edges[e][0] + 1]++;
    for (size_t i = 0; i < n; i++) first[i + 1] += first[i];
    for (size_t e = 0; e < c->nedges; e++) {
        /* 'first' is used as a fill cursor here and restored below. */
        c->to[first[c->edges[e][0]]++] = c->edges[e][1];
    }
    for (size_t i = n; i > 0; i--) first[i] = first[i - 1];
    first[0] = 0;
    lk_real_free(c->edges);
    c->edges = NULL;
    c->capedges = 0;
    return 0;
}

static inline int is_lost(const lk_scan_block_t *b)
{
    return b->state == ST_UNREACHED || b->state == ST_INDIRECT;
}

/* Flag structure heads whose members form a cycle: an iterative depth-first
 * search over the lost blocks' edges (which lead only to lost blocks), where
 * an edge back to a block still on the path closes a cycle.  An edge into a
 * head means the head is on one. */
static int find_cycles(scan_ctx_t *c)
{
    size_t n = c->n;
    const uint32_t *first = c->first, *to = c->to;
    uint8_t *color = lk_real_calloc(n ? n : 1, 1);
    uint32_t (*stk)[2] = lk_real_malloc((n ? n : 1) * sizeof *stk);
    int rc = -ENOMEM;
    if (!first || !color || !stk) goto out_free;
    for (size_t u = 0; u < n; u++) {
        if (!is_lost(&c->b[u])) continue;
        for (uint32_t e = first[u]; e < first[u + 1]; e++)
            if (c->b[to[e]].state == ST_UNREACHED)
                c->b[to[e]].flags |= LK_SCAN_F_CYCLE | LK_SCAN_F_HEAD_CYC;
    }
    for (size_t s = 0; s < n; s++) {
        if (color[s] || first[s] == first[s + 1] || !is_lost(&c->b[s])) continue;
        size_t sp = 0;
        stk[sp][0] = (uint32_t)s;
        stk[sp][1] = first[s];
        sp++;
        color[s] = 1;
        while (sp > 0) {
            uint32_t u = stk[sp - 1][0];
            uint32_t e = stk[sp - 1][1];
            if (e == first[u + 1]) {
                color[u] = 2;
                sp--;
                continue;
            }
            stk[sp - 1][1]++;
            uint32_t w = to[e];
            if (color[w] == 1) {
                c->b[find_head(c->b, u)].flags |= LK_SCAN_F_CYCLE;
            } else if (color[w] == 0) {
                color[w] = 1;
                stk[sp][0] = w;
                stk[sp][1] = first[w];
                sp++;
            }
        }
    }
    rc = 0;
out_free:
    lk_real_free(color);
    lk_real_free(stk);
    return rc;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Pass 5: the dominator tree and retained sizes (domtree.c), over every
 * recorded edge, with the structure heads as the lost blocks' roots.  Any
 * shortfall (edges dropped, no memory) leaves retained_complete 0. */
static void retained_sizes(scan_ctx_t *c)
{
    lk_scan_result_t *res = c->res;
    size_t n = c->n;
    uint64_t t0 = thread_cpu_ns();
    if (res->edges_dropped || !c->first) return;
    uint8_t *flags = lk_scan_big_alloc(n ? n : 1);
    if (!flags) return;
    for (size_t i = 0; i < n; i++)
        flags[i] = c->b[i].kind == LK_REACH_DEFINITE ? LK_DOMTREE_HEAD : 0;
    lk_domtree_graph_t g = {n, &c->b[0].size, sizeof *c->b, c->first, c->to, res->ndroots,
                            c->redges, c->nredges, flags};
    if (!n) g.size = NULL;
    size_t slen = lk_domtree_scratch_bytes(&g);
    /* Fresh pages cost their zeroing (a third of the whole dump at 2M
     * blocks): the snapshot and the lookup array, done with once marking
     * is, serve as the scratch and a result when they are big enough. */
    int own_scratch = !(c->snap && c->snap_len >= slen);
    void *scratch = !slen ? NULL : own_scratch ? lk_scan_big_alloc(slen) : c->snap;
    res->nret = n;
    res->idom = lk_scan_big_alloc((n ? n : 1) * sizeof *res->idom);
    if (n && sizeof *c->starts == sizeof *res->ret_bytes) {
        res->ret_bytes = (uint64_t *)c->starts;   /* same length: freed as the result */
        c->starts = NULL;
    } else {
        res->ret_bytes = lk_scan_big_alloc((n ? n : 1) * sizeof *res->ret_bytes);
    }
    res->ret_blocks = lk_scan_big_alloc((n ? n : 1) * sizeof *res->ret_blocks);
    size_t nr = res->ndroots ? res->ndroots : 1;
    res->root_ret_bytes = lk_real_malloc(nr * sizeof *res->root_ret_bytes);
    res->root_ret_blocks = lk_real_malloc(nr * sizeof *res->root_ret_blocks);
    lk_domtree_out_t out = {res->idom, res->ret_bytes, res->ret_blocks, res->root_ret_bytes,
                            res->root_ret_blocks, 0, 0, 0, 0, 0, 0, 0, 0};
    if (scratch && res->idom && res->ret_bytes && res->ret_blocks && res->root_ret_bytes &&
        res->root_ret_blocks && lk_domtree_compute(&g, scratch, slen, &out) == 0) {
        res->retained_complete = 1;
        res->shared_blocks = out.shared_blocks;
        res->shared_bytes = out.shared_bytes;
        res->lost_shared_blocks = out.lost_shared_blocks;
        res->lost_shared_bytes = out.lost_shared_bytes;
    }
    if (own_scratch) lk_scan_big_free(scratch, slen);
    lk_scan_big_free(flags, n ? n : 1);
    res->retained_ns = thread_cpu_ns() - t0;
}

/* Copy every block's words into one buffer, reading runs of nearby blocks
 * (gaps up to SNAP_GAP, runs up to SNAP_RUN bytes) with one request each.
 * A run that cannot be read whole is read block by block; unreadable bytes
 * stay zero and are counted.  Returns 0, or -ENOMEM (then the caller reads
 * block by block instead). */
#define SNAP_GAP 512u
#define SNAP_RUN (1u << 20)
static int build_snapshot(scan_ctx_t *c, size_t max_bytes)
{
    size_t n = c->n, total = 0;
    uintptr_t run_a = 0, run_e = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t a, e;
        block_words(&c->b[i], &a, &e);
        if (i > 0 && a >= run_e && a - run_e <= SNAP_GAP && e - run_a <= SNAP_RUN) {
            run_e = e > run_e ? e : run_e;
            continue;
        }
        if (i > 0 && a < run_e) {  /* overlapping blocks: keep them in one run */
            run_e = e > run_e ? e : run_e;
            continue;
        }
        total += run_e - run_a;
        run_a = a;
        run_e = e;
    }
    total += run_e - run_a;
    if (total > max_bytes) return -ENOMEM;
    c->snap_len = total;
    c->snap = lk_scan_big_alloc(total);
    c->snap_off = lk_scan_big_alloc(n * sizeof *c->snap_off);
    if (!c->snap || !c->snap_off) {
        lk_scan_big_free(c->snap, c->snap_len);
        lk_scan_big_free(c->snap_off, n * sizeof *c->snap_off);
        c->snap = NULL;
        c->snap_off = NULL;
        return -ENOMEM;
    }
    /* Second pass: assign offsets and read the runs in batches. */
    size_t k = 0, pos = 0, first_of_run = 0;
    size_t *run_first = lk_real_malloc(BATCH_MAX * sizeof *run_first);
    size_t *run_last = lk_real_malloc(BATCH_MAX * sizeof *run_last);
    if (!run_first || !run_last) {
        lk_real_free(run_first);
        lk_real_free(run_last);
        lk_scan_big_free(c->snap, c->snap_len);
        lk_scan_big_free(c->snap_off, n * sizeof *c->snap_off);
        c->snap = NULL;
        c->snap_off = NULL;
        return -ENOMEM;
    }
    for (size_t i = 0; i <= n; i++) {
        uintptr_t a = 0, e = 0;
        int new_run = i == n;
        if (i < n) {
            block_words(&c->b[i], &a, &e);
            new_run = i == 0 || !((a >= run_e && a - run_e <= SNAP_GAP && e - run_a <= SNAP_RUN) ||
                                  a < run_e);
        }
        if (new_run && i > 0) {
            c->io[k] = (lk_scan_io_t){run_a, c->snap + pos, run_e - run_a, 0};
            run_first[k] = first_of_run;
            run_last[k] = i;
            pos += run_e - run_a;
            k++;
        }
        if (k == BATCH_MAX || (i == n && k > 0)) {
            c->read(c->io, k, c->arg);
            for (size_t j = 0; j < k; j++) {
                if (c->io[j].got == c->io[j].len) continue;
                /* Short run: fetch its blocks one by one. */
                uint8_t *base = c->io[j].dst;
                uintptr_t ra = c->io[j].addr;
                memset(base, 0, c->io[j].len);
                for (size_t bi = run_first[j]; bi < run_last[j]; bi++) {
                    uintptr_t ba, be;
                    block_words(&c->b[bi], &ba, &be);
                    lk_scan_io_t one = {ba, base + (ba - ra), be - ba, 0};
                    c->read(&one, 1, c->arg);
                    c->res->unreadable_bytes += one.len - one.got;
                }
            }
            k = 0;
        }
        if (i == n) break;
        if (new_run) {
            run_a = a;
            run_e = e;
            first_of_run = i;
        } else if (e > run_e) {
            run_e = e;
        }
        c->snap_off[i] = pos + (a - run_a);
    }
    lk_real_free(run_first);
    lk_real_free(run_last);
    c->res->snapshot_bytes = total;
    return 0;
}

/* Sort 'blocks' by address: LSD radix sort of keys that pack (address -
 * lowest) above the block's index into one word, then one permutation (qsort
 * of 2M records is several times slower, and of a small process's few
 * hundred still costs 500 instructions a block).  A digit has 11 bits, fewer
 * for fewer blocks (about log2 n: clearing and summing the counts then costs
 * no more than a pass over the keys).  The permutation gathers into a copy
 * when 'max_scratch' allows and the blocks are many, else it follows cycles
 * in place (a small process: no pages for a copy).  Falls back to qsort when
 * the key does not fit or memory is short.  '*ops' counts the keys moved
 * (a pass over n keys: n) or the comparisons (qsort). */
#define RADIX_BITS 11u
#define GATHER_MIN 65536u                /* blocks from which a copy is worth its pages */
static void sort_blocks(lk_scan_block_t *b, size_t n, size_t max_scratch, uint64_t *ops)
{
    if (n < 2) return;
    uintptr_t min = UINTPTR_MAX, max = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i].ptr < min) min = b[i].ptr;
        if (b[i].ptr > max) max = b[i].ptr;
    }
    unsigned idx_bits = 1, key_bits = 0, bits = 4;
    while (idx_bits < 64 && ((size_t)1 << idx_bits) < n) idx_bits++;
    while (bits < RADIX_BITS && ((size_t)2 << bits) <= n) bits++;
    uintptr_t span = max - min;
    unsigned shift0 = 0;
    uintptr_t all = 0;
    for (size_t i = 0; i < n; i++) all |= b[i].ptr - min;
    if (all) shift0 = (unsigned)__builtin_ctzl(all);  /* alignment: low bits all zero */
    span >>= shift0;
    while (key_bits < 64 && (span >> key_bits)) key_bits++;
    size_t len = n * sizeof(uint64_t);
    uint64_t *p = NULL, *q = NULL;
    uint8_t *done = NULL;
    size_t count[1u << RADIX_BITS];
    const uint64_t mask = ((uint64_t)1 << bits) - 1, imask = ((uint64_t)1 << idx_bits) - 1;
    if (key_bits + idx_bits > 64) goto out_qsort;
    p = lk_scan_big_alloc(len);
    q = lk_scan_big_alloc(len);
    if (!p || !q) goto out_qsort;
    for (size_t i = 0; i < n; i++) p[i] = ((uint64_t)((b[i].ptr - min) >> shift0) << idx_bits) | i;
    for (unsigned sh = idx_bits; sh < idx_bits + key_bits; sh += bits) {
        memset(count, 0, (mask + 1) * sizeof count[0]);
        for (size_t i = 0; i < n; i++) count[(p[i] >> sh) & mask]++;
        size_t sum = 0;
        for (size_t d = 0; d <= mask; d++) {
            size_t t = count[d];
            count[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) q[count[(p[i] >> sh) & mask]++] = p[i];
        uint64_t *t = p;
        p = q;
        q = t;
        *ops += n;
    }
    lk_scan_big_free(q, len);
    q = NULL;
    /* Gather into a copy (fast: the loads are independent and prefetched)
     * when 'max_scratch' allows, else permute in place along cycles. */
    size_t tlen = n * sizeof *b;
    lk_scan_block_t *tmp = n >= GATHER_MIN && tlen <= max_scratch ? lk_scan_big_alloc(tlen) : NULL;
    if (tmp) {
        for (size_t i = 0; i < n; i++) {
            if (i + 16 < n) __builtin_prefetch(&b[p[i + 16] & imask]);
            tmp[i] = b[p[i] & imask];
        }
        memcpy(b, tmp, tlen);
        lk_scan_big_free(tmp, tlen);
        lk_scan_big_free(p, len);
        return;
    }
    done = lk_real_calloc(n / 8 + 1, 1);
    if (!done) goto out_qsort;
    for (size_t i = 0; i < n; i++) {
        if (done[i / 8] & (1u << (i % 8))) continue;
        lk_scan_block_t first = b[i];
        size_t j = i;
        for (;;) {
            done[j / 8] |= (uint8_t)(1u << (j % 8));
            size_t src = p[j] & imask;
            if (src == i) break;
            b[j] = b[src];
            j = src;
        }
        b[j] = first;
    }
    lk_real_free(done);
    lk_scan_big_free(p, len);
    return;
out_qsort:
    lk_scan_big_free(p, len);
    lk_scan_big_free(q, len);
    qsort_r(b, n, sizeof *b, cmp_block, ops);
}

/* Sort the blocks and build the lookup arrays. */
static void index_blocks(scan_ctx_t *c, size_t snapshot_max_bytes)
{
    lk_scan_block_t *blocks = c->b;
    sort_blocks(blocks, c->n, snapshot_max_bytes, &c->res->sort_ops);
    c->lo = c->n ? blocks[0].ptr : 1;
    c->hi = 0;
    for (size_t i = 0; i < c->n; i++) {
        lk_scan_block_t *b = &blocks[i];
        c->starts[i] = b->ptr;
        b->state = ST_UNREACHED;
        b->flags = 0;
        b->aux = LK_SCAN_NO_HOLDER;
        uintptr_t end = b->ptr + (b->size ? b->size : 1);
        if (end > c->hi) c->hi = end;
        if (i % TOP_STRIDE == 0) c->top[c->ntop++] = b->ptr;
    }
}

/* A thread stack inside a heap block (a user-supplied stack) ends with that
 * block: scanning on to the end of the heap mapping would make the blocks
 * after it roots.  Returns the clipped copy of the roots, or NULL. */
static lk_scan_root_t *clip_roots(scan_ctx_t *c, const lk_scan_root_t *roots, size_t nroots)
{
    lk_scan_root_t *lroots = lk_real_malloc((nroots ? nroots : 1) * sizeof *lroots);
    if (!lroots) return NULL;
    if (nroots) memcpy(lroots, roots, nroots * sizeof *roots);
    for (size_t r = 0; r < nroots; r++) {
        int interior;
        long i = lroots[r].kind == LK_ROOT_STACK ? find_block(c, lroots[r].lo, &interior) : -1;
        if (i >= 0 && c->b[i].ptr + c->b[i].size < lroots[r].hi)
            lroots[r].hi = c->b[i].ptr + c->b[i].size;
    }
    return lroots;
}

/* Pass 1: flood fill from every root. */
static void mark_from_roots(scan_ctx_t *c, size_t nroots, uint8_t *chunk)
{
    c->phase = 1;
    for (size_t r = 0; r < nroots && !c->oom;) r += scan_roots_batch(c, r, nroots, chunk);
}

/* Pass 2: lost cliques, in address order (valgrind's order), so a pure cycle
 * is headed by its lowest block. */
static void link_lost_cliques(scan_ctx_t *c)
{
    c->phase = 2;
    for (size_t i = 0; i < c->n && !c->oom; i++) {
        if (c->b[i].state != ST_UNREACHED) continue;
        c->leader = (uint32_t)i;
        c->b[i].aux = (uint32_t)i;
        push(c, (uint32_t)i);
        drain(c);
    }
}

/* Pass 4: each block's final kind, its head (lost) or holder, and the totals. */
static void assign_kinds(scan_ctx_t *c)
{
    lk_scan_result_t *res = c->res;
    for (size_t i = 0; i < c->n; i++) {
        lk_scan_block_t *b = &c->b[i];
        int k;
        switch (b->state) {
        case ST_REACHABLE: k = LK_REACH_REACHABLE; break;
        case ST_POSSIBLE:  k = LK_REACH_POSSIBLE; break;
        case ST_INDIRECT:  k = LK_REACH_INDIRECT; b->aux = find_head(c->b, (uint32_t)i); break;
        default:           k = LK_REACH_DEFINITE; b->aux = (uint32_t)i; res->structures++; break;
        }
        b->kind = (uint8_t)k;
        res->kind_blocks[k]++;
        res->kind_bytes[k] += b->size;
    }
}

int lk_scan_classify(lk_scan_block_t *blocks, size_t n, const lk_scan_root_t *roots,
                     size_t nroots, const lk_scan_opts_t *opts, lk_scan_result_t *res)
{
    memset(res, 0, sizeof *res);
    res->cycles_complete = 1;
    if (n > UINT32_MAX - 1) return -ENOMEM;
    /* On the heap: the context holds a batch of requests, and the dumping
     * thread may be one with a small stack. */
    scan_ctx_t *c = lk_real_calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->b = blocks;
    c->n = n;
    c->read = opts->read;
    c->arg = opts->arg;
    c->usable = opts->usable;
    c->res = res;
    /* The edges live as long as the snapshot, so they share its budget (an
     * eighth of the memory limit): a program near its limit is not pushed
     * over it at exit; doubling reallocs peak at 1.5x, hence 16 bytes an edge. */
    c->max_edges = MAX_EDGES;
    if (opts->snapshot_max_bytes && opts->snapshot_max_bytes / 16 < c->max_edges)
        c->max_edges = opts->snapshot_max_bytes / 16;
    int rc = -ENOMEM;
    lk_scan_root_t *lroots = NULL;
    uint8_t *chunk = lk_real_malloc(ROOT_CHUNK);
    c->starts = lk_scan_big_alloc(n * sizeof *c->starts);
    c->top = lk_real_malloc((n / TOP_STRIDE + 1) * sizeof *c->top);
    c->region_root = lk_real_malloc((nroots ? nroots : 1) * sizeof *c->region_root);
    if (!chunk || !c->starts || !c->top || !c->region_root) goto out_free;
    memset(c->region_root, 0xff, (nroots ? nroots : 1) * sizeof *c->region_root);

    index_blocks(c, opts->snapshot_max_bytes);
    if (opts->snapshot_max_bytes) build_snapshot(c, opts->snapshot_max_bytes);
    if (!(c->roots = lroots = clip_roots(c, roots, nroots))) goto out_free;
    mark_from_roots(c, nroots, chunk);
    if (c->oom) goto out_free;
    link_lost_cliques(c);
    if (c->oom) goto out_free;
    if (build_graph(c) < 0 || find_cycles(c) < 0) res->cycles_complete = 0;   /* pass 3 */
    assign_kinds(c);
    retained_sizes(c);
    rc = 0;
out_free:
    lk_real_free(lroots);
    lk_real_free(chunk);
    lk_real_free(c->buf);
    lk_scan_big_free(c->starts, n * sizeof *c->starts);
    lk_real_free(c->top);
    lk_real_free(c->work);
    lk_real_free(c->edges);
    lk_real_free(c->redges);
    lk_real_free(c->region_root);
    lk_scan_big_free(c->first, (n + 1) * sizeof *c->first);
    lk_scan_big_free(c->to, (c->nedges ? c->nedges : 1) * sizeof *c->to);
    lk_scan_big_free(c->snap, c->snap_len);
    lk_scan_big_free(c->snap_off, n * sizeof *c->snap_off);
    lk_real_free(c);
    if (rc < 0) lk_scan_result_free(res);
    return rc;
}

void lk_scan_result_free(lk_scan_result_t *res)
{
    lk_real_free(res->holders);
    res->holders = NULL;
    res->nholders = 0;
    lk_real_free(res->droots);
    lk_real_free(res->root_ret_bytes);
    lk_real_free(res->root_ret_blocks);
    size_t n = res->nret ? res->nret : 1;
    lk_scan_big_free(res->idom, n * sizeof *res->idom);
    lk_scan_big_free(res->ret_bytes, n * sizeof *res->ret_bytes);
    lk_scan_big_free(res->ret_blocks, n * sizeof *res->ret_blocks);
    res->droots = NULL;
    res->ndroots = 0;
    res->root_ret_bytes = res->root_ret_blocks = NULL;
    res->idom = NULL;
    res->ret_bytes = NULL;
    res->ret_blocks = NULL;
    res->retained_complete = 0;
}
