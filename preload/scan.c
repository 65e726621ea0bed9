/* scan.c - the reachability scan: trace live blocks from the roots the way a
 * conservative collector does, classify them with valgrind's leak kinds,
 * group lost blocks into structures, and name the root holding reachable ones.
 * Reads memory only through a reader that cannot fault (process_vm_readv on
 * ourselves); never calls exit, abort or assert.  The passes, in order:
 * roots (flood fill from each root word) -> lost cliques -> cycles -> JSON. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <link.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"
#include "scan.h"

#define WORD          sizeof(uintptr_t)
#define PAGE          4096u
#define ROOT_CHUNK    (64u * 1024)       /* bytes of root memory read at once */
#define BATCH_BYTES   (256u * 1024)      /* bytes of block contents read at once */
#define BATCH_MAX     512u               /* blocks per batched read */
#define READ_IOV      64u                /* iovecs per process_vm_readv (<= IOV_MAX), on the stack */
/* Edges between lost blocks kept for cycle detection; past this the cycle
 * flags may miss cycles and cycles_complete says so. */
#define MAX_EDGES     (16u * 1024 * 1024)
#define TOP_STRIDE    32u                /* blocks per entry of the top lookup array */
#define NEAR          4u                 /* neighbours tried before the full lookup */
/* The preload copies block contents up front below this many bytes, and
 * reads block by block (slower on long chains) above it. */
#define SNAPSHOT_MAX  ((size_t)512 << 20)

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
    uint8_t *buf;               /* BATCH_BYTES for block contents */
    lk_scan_io_t io[BATCH_MAX];
    uint32_t ioidx[BATCH_MAX];
    size_t capholders;
    int phase;                  /* 1: roots, 2: lost cliques */
    uint32_t leader;            /* phase 2: the clique being built */
    uint32_t (*edges)[2];       /* phase 2: (from, to) between lost blocks */
    size_t nedges, capedges;
    int oom;
} scan_ctx_t;

static int cmp_block(const void *a, const void *b)
{
    const lk_scan_block_t *x = a, *y = b;
    return x->ptr < y->ptr ? -1 : x->ptr > y->ptr;
}

/* Large scratch memory, mmap'd and populated in one call: a page faulted in
 * one at a time costs 11-14 us on this VM, populating ~0.7 us (cc1's 2.3 MB
 * snapshot: 6.1 ms of faults).  From 2 MiB on, transparent huge pages where
 * the system allows them on request: the sort scatters over and gathers from
 * arrays of tens of MiB, which thrashes the TLB with 4 KiB pages.  A huge page
 * needs a 2 MiB-aligned 2 MiB range, so the length is rounded up and the start
 * aligned (an unaligned 2.3 MB mapping got 4 KiB pages, each one faulting). */
#define BIG_HUGE ((size_t)2 << 20)

static size_t big_len(size_t len)
{
    len = len ? len : 1;
    return len >= BIG_HUGE ? (len + BIG_HUGE - 1) & ~(BIG_HUGE - 1) : len;
}

static void *big_alloc(size_t len)
{
    len = big_len(len);
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

static void big_free(void *p, size_t len)
{
    if (p) munmap(p, big_len(len));
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
        uint32_t *w = realloc(c->work, cap * sizeof *w);
        if (!w) {
            c->oom = 1;
            return;
        }
        c->work = w;
        c->capwork = cap;
    }
    c->work[c->nwork++] = i;
}

static void add_edge(scan_ctx_t *c, uint32_t from, uint32_t to)
{
    if (c->nedges == c->capedges) {
        if (c->capedges >= MAX_EDGES) {
            c->res->cycles_complete = 0;
            return;
        }
        size_t cap = c->capedges ? c->capedges * 2 : 1024;
        void *e = realloc(c->edges, cap * sizeof c->edges[0]);
        if (!e) {
            c->res->cycles_complete = 0;
            return;
        }
        c->edges = e;
        c->capedges = cap;
    }
    c->edges[c->nedges][0] = from;
    c->edges[c->nedges][1] = to;
    c->nedges++;
}

/* Phase 1: word 'v' was found in memory reached from 'holder'; 'definite'
 * says whether that memory is reachable through start pointers only (a root,
 * or a reachable block).  Upgrades the target as valgrind does: unreached ->
 * possible -> reachable, and queues it for scanning on every upgrade.
 * Returns 1 when the target changed. */
static int mark(scan_ctx_t *c, uintptr_t v, int definite, uint32_t holder, size_t near)
{
    int interior;
    long i = find_block_near(c, v, &interior, near);
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
        if (c->phase == 1) mark(c, v, definite, holder, from);
        else link_lost(c, from, v);
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
        lk_scan_holder_t *h = realloc(r->holders, cap * sizeof *h);
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
    for (size_t off = 0; off < got && !c->oom; off += WORD) {
        uintptr_t v;
        memcpy(&v, buf + off, WORD);
        /* glibc installs &dtv[1] in the descriptor: a reference to the
         * calloc'd DTV, not an interior pointer. */
        if (r->dtv_word && p + off == r->dtv_word) v -= 2 * WORD;
        if (v < c->lo || v >= c->hi) continue;
        uint32_t h = r->kind == LK_ROOT_GLOBAL ? (uint32_t)c->res->nholders : *region_holder;
        if (h == LK_SCAN_NO_HOLDER) h = (uint32_t)c->res->nholders;
        if (!mark(c, v, 1, h, SIZE_MAX)) continue;
        if (h == c->res->nholders) {
            new_holder(c, ri, r->kind == LK_ROOT_GLOBAL ? p + off : r->lo);
            if (r->kind != LK_ROOT_GLOBAL) *region_holder = h;
        }
        drain(c);
    }
}

static void scan_root(scan_ctx_t *c, uint32_t ri, uint8_t *chunk)
{
    const lk_scan_root_t *r = &c->roots[ri];
    uintptr_t p = (r->lo + WORD - 1) & ~(uintptr_t)(WORD - 1);
    uintptr_t end = r->hi & ~(uintptr_t)(WORD - 1);
    uint32_t region_holder = LK_SCAN_NO_HOLDER;
    while (p < end && !c->oom) {
        size_t len = end - p < ROOT_CHUNK ? end - p : ROOT_CHUNK;
        lk_scan_io_t io = {p, chunk, len, 0};
        c->read(&io, 1, c->arg);
        size_t got = io.got & ~(WORD - 1);
        scan_root_words(c, ri, p, chunk, got, &region_holder);
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
        if (len > ROOT_CHUNK / READ_IOV || used + len > ROOT_CHUNK) break;
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
        c->res->unreadable_bytes += io[j].len - got;
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

/* Flag structure heads whose members form a cycle: an iterative depth-first
 * search over the lost-block edges, where an edge back to a block still on
 * the path closes a cycle.  An edge into a head means the head is on one. */
static int find_cycles(scan_ctx_t *c)
{
    size_t n = c->n;
    uint32_t *first = calloc(n + 1, sizeof *first);
    uint32_t *to = malloc((c->nedges ? c->nedges : 1) * sizeof *to);
    uint8_t *color = calloc(n ? n : 1, 1);
    uint32_t (*stk)[2] = malloc((n ? n : 1) * sizeof *stk);
    int rc = -ENOMEM;
    if (!first || !to || !color || !stk) goto out_free;
    for (size_t e = 0; e < c->nedges; e++) first[c->edges[e][0] + 1]++;
    for (size_t i = 0; i < n; i++) first[i + 1] += first[i];
    for (size_t e = 0; e < c->nedges; e++) {
        /* 'first' is used as a fill cursor here and restored below. */
        to[first[c->edges[e][0]]++] = c->edges[e][1];
    }
    for (size_t i = n; i > 0; i--) first[i] = first[i - 1];
    first[0] = 0;
    for (size_t e = 0; e < c->nedges; e++) {
        uint32_t t = c->edges[e][1];
        if (c->b[t].state == ST_UNREACHED)
            c->b[t].flags |= LK_SCAN_F_CYCLE | LK_SCAN_F_HEAD_CYC;
    }
    for (size_t s = 0; s < n; s++) {
        if (color[s] || first[s] == first[s + 1]) continue;
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
    free(first);
    free(to);
    free(color);
    free(stk);
    return rc;
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
    c->snap = big_alloc(total);
    c->snap_off = big_alloc(n * sizeof *c->snap_off);
    if (!c->snap || !c->snap_off) {
        big_free(c->snap, c->snap_len);
        big_free(c->snap_off, n * sizeof *c->snap_off);
        c->snap = NULL;
        c->snap_off = NULL;
        return -ENOMEM;
    }
    /* Second pass: assign offsets and read the runs in batches. */
    size_t k = 0, pos = 0, first_of_run = 0;
    size_t *run_first = malloc(BATCH_MAX * sizeof *run_first);
    size_t *run_last = malloc(BATCH_MAX * sizeof *run_last);
    if (!run_first || !run_last) {
        free(run_first);
        free(run_last);
        big_free(c->snap, c->snap_len);
        big_free(c->snap_off, n * sizeof *c->snap_off);
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
    free(run_first);
    free(run_last);
    c->res->snapshot_bytes = total;
    return 0;
}

/* Sort 'blocks' by address: LSD radix sort, 11 bits per pass, of keys that
 * pack (address - lowest) above the block's index into one word, then one
 * permutation (qsort of 2M records is several times slower).  A copy of the
 * blocks is used when it fits in 'max_scratch' bytes.  Falls back to qsort
 * when the key does not fit or memory is short. */
#define RADIX_BITS 11u
static void sort_blocks(lk_scan_block_t *b, size_t n, size_t max_scratch)
{
    uintptr_t min = UINTPTR_MAX, max = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i].ptr < min) min = b[i].ptr;
        if (b[i].ptr > max) max = b[i].ptr;
    }
    unsigned idx_bits = 1, key_bits = 0;
    while (idx_bits < 64 && ((size_t)1 << idx_bits) < n) idx_bits++;
    uintptr_t span = max - min;
    unsigned shift0 = 0;
    uintptr_t all = 0;
    for (size_t i = 0; i < n; i++) all |= b[i].ptr - min;
    if (all) shift0 = (unsigned)__builtin_ctzl(all);  /* alignment: low bits all zero */
    span >>= shift0;
    while (key_bits < 64 && (span >> key_bits)) key_bits++;
    if (n < 4096 || key_bits + idx_bits > 64) {
        if (n > 1) qsort(b, n, sizeof *b, cmp_block);
        return;
    }
    size_t len = n * sizeof(uint64_t);
    uint64_t *p = big_alloc(len), *q = big_alloc(len);
    uint8_t *done = NULL;
    size_t count[1u << RADIX_BITS];
    const uint64_t mask = (1u << RADIX_BITS) - 1, imask = ((uint64_t)1 << idx_bits) - 1;
    if (!p || !q) goto out_qsort;
    for (size_t i = 0; i < n; i++) p[i] = ((uint64_t)((b[i].ptr - min) >> shift0) << idx_bits) | i;
    for (unsigned sh = idx_bits; sh < idx_bits + key_bits; sh += RADIX_BITS) {
        memset(count, 0, sizeof count);
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
    }
    big_free(q, len);
    q = NULL;
    /* Gather into a copy (fast: the loads are independent and prefetched)
     * when 'max_scratch' allows, else permute in place along cycles. */
    size_t tlen = n * sizeof *b;
    lk_scan_block_t *tmp = tlen <= max_scratch ? big_alloc(tlen) : NULL;
    if (tmp) {
        for (size_t i = 0; i < n; i++) {
            if (i + 16 < n) __builtin_prefetch(&b[p[i + 16] & imask]);
            tmp[i] = b[p[i] & imask];
        }
        memcpy(b, tmp, tlen);
        big_free(tmp, tlen);
        big_free(p, len);
        return;
    }
    done = calloc(n / 8 + 1, 1);
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
    free(done);
    big_free(p, len);
    return;
out_qsort:
    big_free(p, len);
    big_free(q, len);
    qsort(b, n, sizeof *b, cmp_block);
}

int lk_scan_classify(lk_scan_block_t *blocks, size_t n, const lk_scan_root_t *roots,
                     size_t nroots, const lk_scan_opts_t *opts, lk_scan_result_t *res)
{
    memset(res, 0, sizeof *res);
    res->cycles_complete = 1;
    if (n > UINT32_MAX - 1) return -ENOMEM;
    /* On the heap: the context holds a batch of requests, and the dumping
     * thread may be one with a small stack. */
    scan_ctx_t *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->b = blocks;
    c->n = n;
    c->read = opts->read;
    c->arg = opts->arg;
    c->usable = opts->usable;
    c->res = res;
    int rc = -ENOMEM;
    lk_scan_root_t *lroots = NULL;
    uint8_t *chunk = malloc(ROOT_CHUNK);
    c->buf = malloc(BATCH_BYTES);
    c->starts = big_alloc(n * sizeof *c->starts);
    c->top = malloc((n / TOP_STRIDE + 1) * sizeof *c->top);
    if (!chunk || !c->buf || !c->starts || !c->top) goto out_free;

    sort_blocks(blocks, n, opts->snapshot_max_bytes);
    c->lo = n ? blocks[0].ptr : 1;
    c->hi = 0;
    for (size_t i = 0; i < n; i++) {
        lk_scan_block_t *b = &blocks[i];
        c->starts[i] = b->ptr;
        b->state = ST_UNREACHED;
        b->flags = 0;
        b->aux = LK_SCAN_NO_HOLDER;
        uintptr_t end = b->ptr + (b->size ? b->size : 1);
        if (end > c->hi) c->hi = end;
        if (i % TOP_STRIDE == 0) c->top[c->ntop++] = b->ptr;
    }

    if (opts->snapshot_max_bytes) build_snapshot(c, opts->snapshot_max_bytes);

    /* A thread stack inside a heap block (a user-supplied stack) ends with
     * that block: scanning on to the end of the heap mapping would make the
     * blocks after it roots. */
    lroots = malloc((nroots ? nroots : 1) * sizeof *lroots);
    if (!lroots) goto out_free;
    if (nroots) memcpy(lroots, roots, nroots * sizeof *roots);
    c->roots = lroots;
    for (size_t r = 0; r < nroots; r++) {
        int interior;
        long i = lroots[r].kind == LK_ROOT_STACK ? find_block(c, lroots[r].lo, &interior) : -1;
        if (i >= 0 && blocks[i].ptr + blocks[i].size < lroots[r].hi)
            lroots[r].hi = blocks[i].ptr + blocks[i].size;
    }

    /* ### pass 1: flood fill from every root */
    c->phase = 1;
    for (size_t r = 0; r < nroots && !c->oom;) r += scan_roots_batch(c, r, nroots, chunk);
    if (c->oom) goto out_free;

    /* ### pass 2: lost cliques, in address order (valgrind's order), so a
     * pure cycle is headed by its lowest block */
    c->phase = 2;
    for (size_t i = 0; i < n && !c->oom; i++) {
        if (blocks[i].state != ST_UNREACHED) continue;
        c->leader = (uint32_t)i;
        blocks[i].aux = (uint32_t)i;
        push(c, (uint32_t)i);
        drain(c);
    }
    if (c->oom) goto out_free;

    /* ### pass 3: cycles, then the final kinds */
    if (find_cycles(c) < 0) res->cycles_complete = 0;
    for (size_t i = 0; i < n; i++) {
        lk_scan_block_t *b = &blocks[i];
        int k;
        switch (b->state) {
        case ST_REACHABLE: k = LK_REACH_REACHABLE; break;
        case ST_POSSIBLE:  k = LK_REACH_POSSIBLE; break;
        case ST_INDIRECT:  k = LK_REACH_INDIRECT; b->aux = find_head(blocks, (uint32_t)i); break;
        default:           k = LK_REACH_DEFINITE; b->aux = (uint32_t)i; res->structures++; break;
        }
        b->kind = (uint8_t)k;
        res->kind_blocks[k]++;
        res->kind_bytes[k] += b->size;
    }
    rc = 0;
out_free:
    free(lroots);
    free(chunk);
    free(c->buf);
    big_free(c->starts, n * sizeof *c->starts);
    free(c->top);
    free(c->work);
    free(c->edges);
    big_free(c->snap, c->snap_len);
    big_free(c->snap_off, n * sizeof *c->snap_off);
    free(c);
    if (rc < 0) lk_scan_result_free(res);
    return rc;
}

void lk_scan_result_free(lk_scan_result_t *res)
{
    free(res->holders);
    res->holders = NULL;
    res->nholders = 0;
}

/* ### aggregation: a small open-addressing map from a two-word key to an
 * index into a caller's array */

typedef struct agg_map {
    uint64_t (*keys)[2];
    uint32_t *vals;             /* index + 1; 0 = empty slot */
    size_t cap, len;
} agg_map_t;

static uint64_t mix64(uint64_t a, uint64_t b)
{
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

static int agg_grow(agg_map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    uint64_t (*keys)[2] = malloc(cap * sizeof *keys);
    uint32_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->vals[i]) continue;
        size_t j = mix64(m->keys[i][0], m->keys[i][1]) & (cap - 1);
        while (vals[j]) j = (j + 1) & (cap - 1);
        keys[j][0] = m->keys[i][0];
        keys[j][1] = m->keys[i][1];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

/* Return the index stored for (k0, k1), or store 'next' and return it.
 * Returns -1 when memory ran out. */
static long agg_get(agg_map_t *m, uint64_t k0, uint64_t k1, size_t next)
{
    if ((m->len + 1) * 2 > m->cap && agg_grow(m) < 0) return -1;
    size_t j = mix64(k0, k1) & (m->cap - 1);
    while (m->vals[j]) {
        if (m->keys[j][0] == k0 && m->keys[j][1] == k1) return (long)m->vals[j] - 1;
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j][0] = k0;
    m->keys[j][1] = k1;
    m->vals[j] = (uint32_t)next + 1;
    m->len++;
    return (long)next;
}

/* Return the index stored for (k0, k1), or -1. */
static long agg_find(const agg_map_t *m, uint64_t k0, uint64_t k1)
{
    if (!m->cap) return -1;
    size_t j = mix64(k0, k1) & (m->cap - 1);
    while (m->vals[j]) {
        if (m->keys[j][0] == k0 && m->keys[j][1] == k1) return (long)m->vals[j] - 1;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

static void agg_free(agg_map_t *m)
{
    free(m->keys);
    free(m->vals);
}

typedef struct agg_row {
    uint64_t k0, k1;            /* what the row is about; meaning per table */
    uint64_t blocks, bytes, count;
    uint32_t first;             /* a representative block or structure */
} agg_row_t;

typedef struct agg_table {
    agg_map_t map;
    agg_row_t *rows;
    size_t n, cap;
    size_t last;                /* row of the previous add + 1 (runs of one key are common) */
} agg_table_t;

/* Add 'bytes' of one block to row (k0, k1).  Returns the row or NULL. */
static agg_row_t *agg_add(agg_table_t *t, uint64_t k0, uint64_t k1, uint64_t bytes, uint32_t rep)
{
    if (t->last && t->rows[t->last - 1].k0 == k0 && t->rows[t->last - 1].k1 == k1) {
        agg_row_t *row = &t->rows[t->last - 1];
        row->blocks++;
        row->bytes += bytes;
        return row;
    }
    long r = agg_get(&t->map, k0, k1, t->n);
    if (r < 0) return NULL;
    if ((size_t)r == t->n) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 64;
            agg_row_t *rows = realloc(t->rows, cap * sizeof *rows);
            if (!rows) return NULL;
            t->rows = rows;
            t->cap = cap;
        }
        t->rows[t->n++] = (agg_row_t){k0, k1, 0, 0, 0, rep};
    }
    agg_row_t *row = &t->rows[r];
    row->blocks++;
    row->bytes += bytes;
    t->last = (size_t)r + 1;
    return row;
}

static void agg_table_free(agg_table_t *t)
{
    agg_free(&t->map);
    free(t->rows);
}

static int cmp_row_bytes(const void *a, const void *b)
{
    const agg_row_t *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->blocks != y->blocks) return x->blocks > y->blocks ? -1 : 1;
    if (x->k0 != y->k0) return x->k0 < y->k0 ? -1 : 1;
    return x->k1 < y->k1 ? -1 : x->k1 > y->k1;
}

static const char *const kind_names[] = LK_REACH_KIND_NAMES;
static const char *const root_names[] = LK_REACH_ROOT_NAMES;
static const char *const family_names[] = LK_FAMILY_NAMES;

static const char *family_name(unsigned f)
{
    return f < sizeof family_names / sizeof family_names[0] ? family_names[f] : "unknown";
}

/* ### structures: group lost blocks by head, then group heads by shape
 * (head site, cycle flags, set of member sites) */

typedef struct member_key {
    uint32_t stack;
    uint8_t family;
} member_key_t;

static int cmp_member(const void *a, const void *b)
{
    const member_key_t *x = a, *y = b;
    if (x->stack != y->stack) return x->stack < y->stack ? -1 : 1;
    return (int)x->family - (int)y->family;
}

typedef struct sgroup {
    agg_table_t members;        /* (stack, family) -> blocks, bytes */
    uint64_t omitted_blocks, omitted_bytes;
} sgroup_t;

/* Where a section array's entries go: a json array (the tree: tests and
 * lk_dump_build), or the array's text (the dump), written by lk_jw (json.h)
 * without a tree: a tree of every entry cost ~6 times its text (at bash's
 * exit, ~170 fresh heap pages, 11-14 us a fault here), and jansson's encoder
 * ~3 us an entry (bash's 393 held_by entries: 1.1 ms).  Entries go through
 * 'w' in both cases. */
typedef struct entry_sink {
    json_t *arr;                /* tree; NULL: text */
    char *txt;                  /* text: "[e,e" so far (malloc'd) */
    size_t len, cap;
    int oom;
    lk_jw_t w;                  /* writes the entries */
} entry_sink_t;

/* Grows by malloc, copy and free (no realloc): at exit the dump's memory may
 * come from the exit arena, whose blocks only malloc and free know. */
static int sink_text_cb(const char *data, size_t size, void *arg)
{
    entry_sink_t *s = arg;
    if (s->len + size + 2 > s->cap) {           /* and room for "]" and a NUL */
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + size + 2) cap *= 2;
        char *t = malloc(cap);
        if (!t) return -1;
        if (s->len) memcpy(t, s->txt, s->len);
        free(s->txt);
        s->txt = t;
        s->cap = cap;
    }
    memcpy(s->txt + s->len, data, size);
    s->len += size;
    return 0;
}

static void sink_init(entry_sink_t *s, int text)
{
    memset(s, 0, offsetof(entry_sink_t, w));
    if (!text) {
        s->arr = json_array();
        s->oom = !s->arr;
        lk_jw_tree(&s->w, s->arr);
    } else {
        s->oom = sink_text_cb("[", 1, s) != 0;
        lk_jw_text(&s->w, sink_text_cb, s);
    }
}

/* The entries are all written: flush them.  0, or -1 (out of memory). */
static int sink_done(entry_sink_t *s)
{
    if (lk_jw_end(&s->w) != 0)
        s->oom = 1;
    return s->oom ? -1 : 0;
}

static void sink_free(entry_sink_t *s)
{
    json_decref(s->arr);
    free(s->txt);
    memset(s, 0, offsetof(entry_sink_t, w));
}

static int build_structures(const lk_scan_block_t *b, size_t n, const lk_scan_json_limits_t *lim,
                            json_t *omitted, entry_sink_t *arr)
{
    agg_table_t groups;
    memset(&groups, 0, sizeof groups);
    sgroup_t *sg = NULL;
    size_t capsg = 0;
    uint32_t *first = calloc(n + 1, sizeof *first);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    member_key_t *mk = malloc((n ? n : 1) * sizeof *mk);
    if (arr->oom || !first || !order || !mk) goto out_fail;

    /* Counting sort of lost blocks by head. */
    for (size_t i = 0; i < n; i++)
        if (b[i].kind <= LK_REACH_INDIRECT) first[b[i].aux + 1]++;
    for (size_t i = 0; i < n; i++) first[i + 1] += first[i];
    for (size_t i = 0; i < n; i++)
        if (b[i].kind <= LK_REACH_INDIRECT) order[first[b[i].aux]++] = (uint32_t)i;
    for (size_t i = n; i > 0; i--) first[i] = first[i - 1];
    first[0] = 0;

    for (size_t h = 0; h < n; h++) {
        if (b[h].kind != LK_REACH_DEFINITE) continue;
        size_t m = first[h + 1] - first[h], nu = 0;
        uint64_t bytes = 0;
        for (size_t j = 0; j < m; j++) {
            const lk_scan_block_t *x = &b[order[first[h] + j]];
            mk[j] = (member_key_t){x->stack_id, x->family};
            bytes += x->size;
        }
        if (m > 1) qsort(mk, m, sizeof *mk, cmp_member);
        uint64_t sig = 0x51ED27;
        for (size_t j = 0; j < m; j++) {
            if (nu && !cmp_member(&mk[nu - 1], &mk[j])) continue;
            mk[nu++] = mk[j];
            sig = mix64(sig, ((uint64_t)mk[j].stack << 8) | mk[j].family);
        }
        uint64_t k0 = ((uint64_t)b[h].stack_id << 16) | ((uint64_t)b[h].family << 8) | b[h].flags;
        size_t before = groups.n;
        agg_row_t *row = agg_add(&groups, k0, sig, bytes, (uint32_t)h);
        if (!row) goto out_fail;
        row->blocks += m - 1;  /* agg_add counted one */
        row->count++;
        if (groups.n > before) {
            if (groups.n > capsg) {
                size_t cap = capsg ? capsg * 2 : 64;
                sgroup_t *p = realloc(sg, cap * sizeof *p);
                if (!p) goto out_fail;
                sg = p;
                capsg = cap;
            }
            memset(&sg[groups.n - 1], 0, sizeof sg[0]);
        }
        sgroup_t *g = &sg[row - groups.rows];
        for (size_t j = 0; j < m; j++) {
            const lk_scan_block_t *x = &b[order[first[h] + j]];
            uint64_t mkey = ((uint64_t)x->stack_id << 8) | x->family;
            if (g->members.n >= lim->max_members && agg_find(&g->members.map, mkey, 0) < 0) {
                g->omitted_blocks++;
                g->omitted_bytes += x->size;
                continue;
            }
            if (!agg_add(&g->members, mkey, 0, x->size, (uint32_t)j)) goto out_fail;
        }
    }

    /* Sort a copy of the group indices by bytes; rows keep their order so
     * that sg[] stays aligned with groups.rows[]. */
    agg_row_t *sorted = malloc((groups.n ? groups.n : 1) * sizeof *sorted);
    if (!sorted) goto out_fail;
    for (size_t i = 0; i < groups.n; i++) {
        sorted[i] = groups.rows[i];
        sorted[i].first = (uint32_t)i;  /* now the group index */
    }
    if (groups.n > 1) qsort(sorted, groups.n, sizeof *sorted, cmp_row_bytes);
    uint64_t om_count = 0, om_blocks = 0, om_bytes = 0;
    for (size_t i = 0; i < groups.n; i++) {
        const agg_row_t *row = &sorted[i];
        if (i >= lim->max_structures) {
            om_count += row->count;
            om_blocks += row->blocks;
            om_bytes += row->bytes;
            continue;
        }
        sgroup_t *g = &sg[row->first];
        const lk_scan_block_t *head = &b[groups.rows[row->first].first];
        lk_jw_t *w = &arr->w;
        lk_jw_object(w, NULL);
        lk_jw_int(w, LK_KEY_REACH_HEAD_STACK, head->stack_id);
        lk_jw_str(w, LK_KEY_REACH_HEAD_FAMILY, family_name(head->family));
        lk_jw_bool(w, LK_KEY_REACH_CYCLE, head->flags & LK_SCAN_F_CYCLE);
        lk_jw_bool(w, LK_KEY_REACH_HEAD_IN_CYCLE, head->flags & LK_SCAN_F_HEAD_CYC);
        lk_jw_int(w, LK_KEY_REACH_COUNT, (json_int_t)row->count);
        lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)row->blocks);
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)row->bytes);
        if (g->members.n > 1)
            qsort(g->members.rows, g->members.n, sizeof *g->members.rows, cmp_row_bytes);
        lk_jw_array(w, LK_KEY_REACH_MEMBERS);
        for (size_t j = 0; j < g->members.n; j++) {
            const agg_row_t *mr = &g->members.rows[j];
            lk_jw_object(w, NULL);
            lk_jw_int(w, LK_KEY_STACK, (json_int_t)(mr->k0 >> 8));
            lk_jw_str(w, LK_KEY_FAMILY, family_name(mr->k0 & 0xff));
            lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)mr->blocks);
            lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)mr->bytes);
            lk_jw_close(w);
        }
        if (g->omitted_blocks) {
            lk_jw_object(w, NULL);
            lk_jw_null(w, LK_KEY_STACK);
            lk_jw_null(w, LK_KEY_FAMILY);
            lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)g->omitted_blocks);
            lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)g->omitted_bytes);
            lk_jw_close(w);
        }
        lk_jw_close(w);         /* members */
        lk_jw_close(w);
    }
    free(sorted);
    json_object_set_new(omitted, LK_KEY_REACH_COUNT, json_integer((json_int_t)om_count));
    json_object_set_new(omitted, LK_KEY_REACH_BLOCKS, json_integer((json_int_t)om_blocks));
    json_object_set_new(omitted, LK_KEY_REACH_BYTES, json_integer((json_int_t)om_bytes));
    goto out_free;
out_fail:
    arr->oom = 1;
out_free:
    for (size_t i = 0; i < groups.n && sg; i++) agg_table_free(&sg[i].members);
    free(sg);
    agg_table_free(&groups);
    free(first);
    free(order);
    free(mk);
    return arr->oom ? -1 : 0;
}

/* ### held-by: (root word or region, site, kind) -> blocks, bytes */

static int build_held_by(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                         size_t nroots, const lk_scan_result_t *res,
                         const lk_scan_json_limits_t *lim, json_t *omitted, entry_sink_t *arr)
{
    agg_table_t t;
    memset(&t, 0, sizeof t);
    if (arr->oom) return -1;
    for (size_t i = 0; i < n; i++) {
        if (b[i].kind != LK_REACH_REACHABLE && b[i].kind != LK_REACH_POSSIBLE) continue;
        if (b[i].aux >= res->nholders) continue;
        const lk_scan_holder_t *h = &res->holders[b[i].aux];
        if (h->root >= nroots) continue;
        const lk_scan_root_t *r = &roots[h->root];
        /* Globals are told apart by word; other roots by kind and thread
         * (the high bit keeps the two key spaces apart). */
        uint64_t k0 = r->kind == LK_ROOT_GLOBAL
                          ? (uint64_t)h->addr
                          : (1ull << 63) | ((uint64_t)r->kind << 32) | (uint32_t)r->tid;
        uint64_t k1 = ((uint64_t)b[i].kind << 40) | ((uint64_t)b[i].family << 32) | b[i].stack_id;
        if (!agg_add(&t, k0, k1, b[i].size, b[i].aux)) {
            agg_table_free(&t);
            arr->oom = 1;
            return -1;
        }
    }
    if (t.n > 1) qsort(t.rows, t.n, sizeof *t.rows, cmp_row_bytes);
    uint64_t om_n = 0, om_blocks = 0, om_bytes = 0;
    for (size_t i = 0; i < t.n; i++) {
        const agg_row_t *row = &t.rows[i];
        if (i >= lim->max_held_by) {
            om_n++;
            om_blocks += row->blocks;
            om_bytes += row->bytes;
            continue;
        }
        const lk_scan_holder_t *h = &res->holders[row->first];
        const lk_scan_root_t *r = &roots[h->root];
        lk_jw_t *w = &arr->w;
        lk_jw_object(w, NULL);
        lk_jw_str(w, LK_KEY_REACH_ROOT, root_names[r->kind & 3]);
        if (r->kind == LK_ROOT_GLOBAL) {
            lk_jw_str(w, LK_KEY_REACH_MODULE, r->module);
            lk_jw_hex(w, LK_KEY_REACH_ADDRESS, h->addr);
            lk_jw_hex(w, LK_KEY_REACH_OFFSET, h->addr - r->base);
        } else {
            lk_jw_int(w, LK_KEY_REACH_TID, r->tid);
        }
        lk_jw_str(w, LK_KEY_REACH_KIND, kind_names[(row->k1 >> 40) & 3]);
        lk_jw_int(w, LK_KEY_STACK, (json_int_t)(row->k1 & 0xffffffffu));
        lk_jw_str(w, LK_KEY_FAMILY, family_name((row->k1 >> 32) & 0xff));
        lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)row->blocks);
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)row->bytes);
        lk_jw_close(w);
    }
    agg_table_free(&t);
    json_object_set_new(omitted, LK_KEY_REACH_COUNT, json_integer((json_int_t)om_n));
    json_object_set_new(omitted, LK_KEY_REACH_BLOCKS, json_integer((json_int_t)om_blocks));
    json_object_set_new(omitted, LK_KEY_REACH_BYTES, json_integer((json_int_t)om_bytes));
    return arr->oom ? -1 : 0;
}

static json_t *blocks_bytes(uint64_t blocks, uint64_t bytes)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, LK_KEY_REACH_BLOCKS, json_integer((json_int_t)blocks));
    json_object_set_new(o, LK_KEY_REACH_BYTES, json_integer((json_int_t)bytes));
    return o;
}

/* The section.  With 'arrays' (the dump), its three arrays are left out of
 * the object and written as text to a malloc'd '"sites":[...],"structures":
 * [...],"held_by":[...]' instead (*arrays, *arrays_len); else (the tree) the
 * object holds them. */
static json_t *build_section(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                             size_t nroots, const lk_scan_result_t *res,
                             const lk_scan_json_limits_t *lim, char **arrays, size_t *arrays_len)
{
    static const lk_scan_json_limits_t defaults = {LIBLEAK_REACH_MAX_HELD_BY,
                                                   LIBLEAK_REACH_MAX_STRUCTURES,
                                                   LIBLEAK_REACH_MAX_MEMBERS};
    static const char *const sink_keys[3] = {LK_KEY_REACH_SITES, LK_KEY_REACH_STRUCTURES,
                                             LK_KEY_REACH_HELD_BY};
    if (!lim) lim = &defaults;
    int text = arrays != NULL;
    json_t *o = json_object();
    json_t *kinds = json_object(), *rb = json_object();
    json_t *s_om = json_object(), *h_om = json_object();
    entry_sink_t sk[3];         /* sites, structures, held_by */
    for (int i = 0; i < 3; i++) sink_init(&sk[i], text);
    agg_table_t t;
    memset(&t, 0, sizeof t);
    if (!o || !kinds || !rb || !s_om || !h_om || sk[0].oom || sk[1].oom || sk[2].oom) goto out_fail;

    uint64_t live_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        live_bytes += b[i].size;
        uint64_t k0 = ((uint64_t)b[i].kind << 40) | ((uint64_t)b[i].family << 32) | b[i].stack_id;
        if (!agg_add(&t, k0, 0, b[i].size, (uint32_t)i)) goto out_fail;
    }
    if (t.n > 1) qsort(t.rows, t.n, sizeof *t.rows, cmp_row_bytes);
    for (size_t i = 0; i < t.n; i++) {
        lk_jw_t *w = &sk[0].w;
        lk_jw_object(w, NULL);
        lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)t.rows[i].blocks);
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)t.rows[i].bytes);
        lk_jw_int(w, LK_KEY_STACK, (json_int_t)(t.rows[i].k0 & 0xffffffffu));
        lk_jw_str(w, LK_KEY_FAMILY, family_name((t.rows[i].k0 >> 32) & 0xff));
        lk_jw_str(w, LK_KEY_REACH_KIND, kind_names[(t.rows[i].k0 >> 40) & 3]);
        lk_jw_close(w);
    }
    for (int k = 0; k < 4; k++) {
        json_object_set_new(kinds, kind_names[k], blocks_bytes(res->kind_blocks[k], res->kind_bytes[k]));
        json_object_set_new(rb, root_names[k], json_integer((json_int_t)res->root_bytes[k]));
    }
    if (sink_done(&sk[0]) != 0 || build_structures(b, n, lim, s_om, &sk[1]) != 0 ||
        sink_done(&sk[1]) != 0 || build_held_by(b, n, roots, nroots, res, lim, h_om, &sk[2]) != 0 ||
        sink_done(&sk[2]) != 0)
        goto out_fail;

    json_object_set_new(o, LK_KEY_REACH_LIVE_BLOCKS, json_integer((json_int_t)n));
    json_object_set_new(o, LK_KEY_REACH_LIVE_BYTES, json_integer((json_int_t)live_bytes));
    json_object_set_new(o, LK_KEY_REACH_ROOT_BYTES, rb);
    json_object_set_new(o, LK_KEY_REACH_UNREADABLE_BYTES, json_integer((json_int_t)res->unreadable_bytes));
    json_object_set_new(o, LK_KEY_REACH_KINDS, kinds);
    json_object_set_new(o, LK_KEY_REACH_STRUCTURES_OMITTED, s_om);
    json_object_set_new(o, LK_KEY_REACH_CYCLES_COMPLETE, json_boolean(res->cycles_complete));
    json_object_set_new(o, LK_KEY_REACH_HELD_BY_OMITTED, h_om);
    kinds = rb = s_om = h_om = NULL;
    if (!text) {
        for (int i = 0; i < 3; i++) {
            json_object_set(o, sink_keys[i], sk[i].arr);
            sink_free(&sk[i]);
        }
    } else {
        /* one text: each array closed, keys in front, commas between */
        entry_sink_t all;
        sink_init(&all, 1);
        all.len = 0;            /* no "[" of its own */
        for (int i = 0; i < 3 && !all.oom; i++) {
            char key[32];
            int kl = snprintf(key, sizeof key, "%s\"%s\":", i ? "," : "", sink_keys[i]);
            if (sink_text_cb(key, (size_t)kl, &all) != 0 || sink_text_cb(sk[i].txt, sk[i].len, &all) != 0 ||
                sink_text_cb("]", 1, &all) != 0)
                all.oom = 1;
        }
        for (int i = 0; i < 3; i++) sink_free(&sk[i]);
        if (all.oom) {
            sink_free(&all);
            goto out_fail;
        }
        all.txt[all.len] = '\0';
        *arrays = all.txt;
        *arrays_len = all.len;
    }
    agg_table_free(&t);
    return o;
out_fail:
    agg_table_free(&t);
    json_decref(o);
    json_decref(kinds);
    json_decref(rb);
    json_decref(s_om);
    json_decref(h_om);
    for (int i = 0; i < 3; i++) sink_free(&sk[i]);
    return NULL;
}

json_t *lk_scan_build_json(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                           size_t nroots, const lk_scan_result_t *res,
                           const lk_scan_json_limits_t *lim)
{
    return build_section(b, n, roots, nroots, res, lim, NULL, NULL);
}

/* ### reading our own memory without faulting */

int lk_scan_read_mode;          /* 0: process_vm_readv, 1: pipe probe */
static int probe_pipe[2] = {-1, -1};

/* Copy what is readable of [addr, addr+len) into 'dst' one page at a time
 * through a pipe: write(2) fails with EFAULT on an unreadable source instead
 * of faulting.  Returns the readable prefix length. */
static size_t read_pipe(uintptr_t addr, void *dst, size_t len)
{
    if (probe_pipe[0] < 0 && pipe2(probe_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return 0;
    size_t done = 0;
    while (done < len) {
        size_t l = PAGE - ((addr + done) & (PAGE - 1));
        if (l > len - done) l = len - done;
        ssize_t w = write(probe_pipe[1], (const void *)(addr + done), l);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        size_t got = 0;
        while (got < (size_t)w) {
            ssize_t r = read(probe_pipe[0], (char *)dst + done + got, (size_t)w - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return done + got;
            got += (size_t)r;
        }
        done += got;
        if ((size_t)w < l) break;
    }
    return done;
}

/* Readable prefix of one request, page by page with process_vm_readv. */
static size_t read_vm_pages(pid_t pid, uintptr_t addr, void *dst, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t l = PAGE - ((addr + done) & (PAGE - 1));
        if (l > len - done) l = len - done;
        struct iovec li = {(char *)dst + done, l}, ri = {(void *)(addr + done), l};
        ssize_t r = process_vm_readv(pid, &li, 1, &ri, 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        done += (size_t)r;
        if ((size_t)r < l) break;
    }
    return done;
}

void lk_scan_read_self(lk_scan_io_t *io, size_t n, void *arg)
{
    (void)arg;
    pid_t pid = getpid();
    struct iovec li[READ_IOV], ri[READ_IOV];
    size_t i = 0;
    while (i < n) {
        if (lk_scan_read_mode == 1) {
            io[i].got = read_pipe(io[i].addr, io[i].dst, io[i].len);
            i++;
            continue;
        }
        size_t k = n - i < READ_IOV ? n - i : READ_IOV;
        for (size_t j = 0; j < k; j++) {
            li[j] = (struct iovec){io[i + j].dst, io[i + j].len};
            ri[j] = (struct iovec){(void *)io[i + j].addr, io[i + j].len};
        }
        ssize_t r = process_vm_readv(pid, li, (unsigned long)k, ri, (unsigned long)k, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSYS || errno == EPERM) {
                lk_scan_read_mode = 1;  /* seccomp or an old kernel: use the pipe */
                continue;
            }
            r = 0;              /* EFAULT: the first request failed at once */
        }
        size_t left = (size_t)r;
        size_t j = 0;
        for (; j < k && left >= io[i + j].len; j++) {
            io[i + j].got = io[i + j].len;
            left -= io[i + j].len;
        }
        i += j;
        if (j < k) {
            /* Request i stopped short: find its exact readable prefix. */
            io[i].got = read_vm_pages(pid, io[i].addr, io[i].dst, io[i].len);
            i++;
        }
    }
}

/* ### roots of this process */

/* The table functions come from table.c; weak so that the unit-test core
 * links scan.o without the table, and the section is skipped if absent. */
extern void lk_table_lock_all(void) __attribute__((weak));
extern void lk_table_unlock_all(void) __attribute__((weak));
extern void lk_table_foreach(void (*cb)(uintptr_t ptr, size_t size, uint32_t stack_id,
                                        int family, void *arg), void *arg) __attribute__((weak));
extern size_t lk_table_memory_ranges(uintptr_t (*ranges)[2], size_t max) __attribute__((weak));
extern size_t lk_table_count(void) __attribute__((weak));

static uintptr_t main_tp;       /* thread pointer of the thread that loaded us */
static pid_t main_tid;

static uintptr_t thread_pointer(void)
{
    uintptr_t tp = 0;
#if defined(__x86_64__)
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
#endif
    return tp;
}

/* Remember the main thread's thread pointer: its TLS and descriptor live
 * outside its stack, and no other thread can learn where. */
__attribute__((constructor)) static void scan_init(void)
{
    main_tp = thread_pointer();
    main_tid = getpid();
}

typedef struct map_ent {
    uintptr_t lo, hi;
    int readable;               /* r and not a special or device mapping */
    int stack_like;             /* anonymous rw right above a PROT_NONE guard */
    int used;                   /* already a live thread's stack */
    int prot_none;
    int main_stack;             /* "[stack]" */
} map_ent_t;

typedef struct roots_buf {
    lk_scan_root_t *r;
    size_t n, cap;
    uintptr_t excl[64][2];      /* libleak's own table memory */
    size_t nexcl;
    char **strings;             /* module paths we own */
    size_t nstrings;
    int oom;
    uintptr_t self_marker;      /* an address inside libleak.so's data */
    int threads, sp_unknown;
} roots_buf_t;

static void add_root_raw(roots_buf_t *rb, uintptr_t lo, uintptr_t hi, int kind, int tid,
                         const char *module, uintptr_t base)
{
    if (hi <= lo) return;
    if (rb->n == rb->cap) {
        size_t cap = rb->cap ? rb->cap * 2 : 64;
        lk_scan_root_t *p = realloc(rb->r, cap * sizeof *p);
        if (!p) {
            rb->oom = 1;
            return;
        }
        rb->r = p;
        rb->cap = cap;
    }
    rb->r[rb->n++] = (lk_scan_root_t){lo, hi, kind, tid, module, base, 0};
}

/* Add [lo, hi) minus libleak's own table memory. */
static void add_root(roots_buf_t *rb, uintptr_t lo, uintptr_t hi, int kind, int tid,
                     const char *module, uintptr_t base)
{
    for (size_t i = 0; i < rb->nexcl && lo < hi; i++) {
        uintptr_t xl = rb->excl[i][0], xh = rb->excl[i][1];
        if (xh <= lo || xl >= hi) continue;
        if (xl > lo) add_root(rb, lo, xl, kind, tid, module, base);
        lo = xh;
    }
    add_root_raw(rb, lo, hi, kind, tid, module, base);
}

static char *dup_str(const char *s)
{
    size_t l = strlen(s) + 1;
    char *d = malloc(l);
    if (d) memcpy(d, s, l);
    return d;
}

/* One module: each writable PT_LOAD segment (.data and .bss) is a root,
 * except libleak.so's own, whose tables would otherwise hold everything. */
static int module_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    roots_buf_t *rb = arg;
#ifndef LK_TESTING /* in the unit tests scan.o sits in the test program itself */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (rb->self_marker >= lo && rb->self_marker < lo + ph->p_memsz) return 0;
    }
#endif
    const char *name = info->dlpi_name;
    char exe[4096];
    if (!name || !*name) {
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (l < 0) l = 0;
        exe[l] = '\0';
        name = exe;
    }
    char *path = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || !(ph->p_flags & PF_R)) continue;
        if (!path) {
            char **s = realloc(rb->strings, (rb->nstrings + 1) * sizeof *s);
            if (!s || !(path = dup_str(name))) {
                if (s) rb->strings = s;
                rb->oom = 1;
                return 1;
            }
            rb->strings = s;
            rb->strings[rb->nstrings++] = path;
        }
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        add_root(rb, lo, lo + ph->p_memsz, LK_ROOT_GLOBAL, 0, path, info->dlpi_addr);
    }
    return 0;
}

/* Read a whole /proc file into a NUL-terminated malloc'd buffer. */
static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 16384, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (cap - n < 2) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* Parse /proc/self/maps.  Special mappings ([vvar], [vsyscall]) and device
 * files are marked unreadable: reading them can have side effects. */
static map_ent_t *read_maps(size_t *count)
{
    char *text = slurp("/proc/self/maps", NULL);
    if (!text) return NULL;
    size_t cap = 64, n = 0;
    map_ent_t *m = malloc(cap * sizeof *m);
    for (char *line = text; m && *line;) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        unsigned long lo, hi;
        char perms[8] = "";
        int pos = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &pos) >= 3) {
            const char *name = pos ? line + pos : "";
            int ok = perms[0] == 'r' && strcmp(name, "[vvar]") != 0 &&
                     strcmp(name, "[vsyscall]") != 0 && strncmp(name, "/dev/", 5) != 0;
            if (n == cap) {
                map_ent_t *p = realloc(m, cap * 2 * sizeof *m);
                if (!p) {
                    free(m);
                    m = NULL;
                    break;
                }
                m = p;
                cap *= 2;
            }
            int guarded = n > 0 && m[n - 1].hi == lo && m[n - 1].prot_none;
            m[n] = (map_ent_t){lo, hi, ok, ok && guarded && perms[1] == 'w' && !*name, 0, 0, 0};
            m[n].prot_none = !strncmp(perms, "---", 3);
            m[n].main_stack = ok && !strcmp(name, "[stack]");
            n++;
        }
        if (!eol) break;
        line = eol + 1;
    }
    free(text);
    *count = n;
    return m;
}

static map_ent_t *map_of(map_ent_t *m, size_t n, uintptr_t a)
{
    for (size_t i = 0; i < n; i++)
        if (a >= m[i].lo && a < m[i].hi) return m[i].readable ? &m[i] : NULL;
    return NULL;
}

/* Static TLS size and thread descriptor size from glibc's private exports
 * (what libthread_db and LSan use); 0 when unavailable.  Calls dlsym, so
 * it must run before the table locks are taken. */
static void tls_sizes(size_t *static_size, size_t *tcb)
{
    *static_size = 0;
    *tcb = 0;
    void (*get)(size_t *, size_t *);
    *(void **)&get = dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
    const unsigned *sz = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
    if (get) {
        size_t align = 0;
        get(static_size, &align);
    }
    if (sz) *tcb = *sz;
}

/* Find a glibc thread descriptor at the top of stack mapping 'm': its first
 * word (tcb) and third (self) both hold its own address.  Returns it or 0. */
static uintptr_t find_tcb(const map_ent_t *m, size_t tcb)
{
    /* A heap copy, never a static one: the copy of another thread's stack
     * must not become part of a root. */
    const size_t span = 16384;
    uintptr_t *buf = malloc(span), found = 0;
    if (!buf) return 0;
    uintptr_t lo = m->hi - m->lo > span ? m->hi - span : m->lo;
    lk_scan_io_t io = {lo, buf, m->hi - lo, 0};
    lk_scan_read_self(&io, 1, NULL);
    size_t words = io.got / WORD;
    size_t top = tcb && m->hi - tcb > lo ? (m->hi - tcb - lo) / WORD : words;
    for (size_t w = top < words ? top + 1 : words; w-- > 0;) {
        uintptr_t a = lo + w * WORD;
        if ((a & 63) == 0 && w + 2 < words && buf[w] == a && buf[w + 2] == a) {
            found = a;
            break;
        }
    }
    memset(buf, 0, span);
    free(buf);
    return found;
}

/* Parse the stack pointer and syscall arguments from
 * /proc/self/task/<tid>/syscall ("nr a1..a6 sp pc", "-1 sp pc" when blocked
 * outside a syscall, "running" when on a CPU or runnable).  Returns 0, or
 * -EAGAIN for a running thread. */
static int thread_sp(int tid, uintptr_t *sp, uintptr_t args[6])
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    char *t = slurp(path, NULL);
    if (!t) return -EAGAIN;
    unsigned long v[9];
    long nr;
    int k = sscanf(t, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    free(t);
    if (k == 9) {
        for (int i = 0; i < 6; i++) args[i] = v[i];
        *sp = v[6];
        return 0;
    }
    if (k == 3 && nr == -1) {
        *sp = v[0];
        return 0;
    }
    return -EAGAIN;
}

/* Does the thread descriptor at 'tp' name thread 'tid'?  glibc keeps the
 * tid as an int inside struct pthread; its offset varies by version, so
 * search the descriptor ('tcb' bytes) for it. */
static int tcb_has_tid(uintptr_t tp, size_t tcb, int tid)
{
    size_t len = tcb ? tcb : 2304;
    int32_t *buf = malloc(len);
    if (!buf) return 0;
    lk_scan_io_t io = {tp, buf, len, 0};
    lk_scan_read_self(&io, 1, NULL);
    int found = 0;
    for (size_t i = 3 * WORD / sizeof *buf; i < io.got / sizeof *buf && !found; i++)
        found = buf[i] == tid;
    free(buf);
    return found;
}

/* Add a TLS root [lo, hi) for the descriptor at 'tp'. */
static void add_tls_root(roots_buf_t *rb, uintptr_t lo, uintptr_t hi, int tid, uintptr_t tp)
{
    size_t first = rb->n;
    add_root(rb, lo, hi, LK_ROOT_TLS, tid, NULL, 0);
#if defined(__x86_64__)
    /* tcbhead_t is { tcb, dtv, self, ... } */
    for (size_t i = first; i < rb->n; i++) rb->r[i].dtv_word = tp + WORD;
#else
    (void)first;
    (void)tp;
#endif
}

/* Exited threads whose stacks glibc keeps in its stack cache still own a
 * descriptor and a DTV; without this their DTVs would read as leaks.  Their
 * TLS becomes a root with tid 0. */
static void add_cached_descriptors(roots_buf_t *rb, map_ent_t *maps, size_t nmaps,
                                   size_t static_size, size_t tcb)
{
    for (size_t i = 0; i < nmaps; i++) {
        if (!maps[i].stack_like || maps[i].used) continue;
        uintptr_t tp = find_tcb(&maps[i], tcb);
        if (!tp) continue;
        size_t below = static_size > tcb ? static_size - tcb : 4096;
        uintptr_t lo = tp - below > maps[i].lo ? tp - below : maps[i].lo;
        uintptr_t hi = tp + (tcb ? tcb : 2304);
        if (hi > maps[i].hi) hi = maps[i].hi;
        add_tls_root(rb, lo, hi, 0, tp);
    }
}

/* Add the roots of thread 'tid': TLS and descriptor (when found), the stack
 * from 'sp' (minus the 128-byte red zone) to the top of its mapping. */
static void add_thread(roots_buf_t *rb, map_ent_t *maps, size_t nmaps, int tid,
                       uintptr_t sp, uintptr_t tp, size_t static_size, size_t tcb)
{
    map_ent_t *sm = map_of(maps, nmaps, sp);
    uintptr_t tls_lo = 0, tls_hi = 0;
    if (!tp && sm) tp = find_tcb(sm, tcb);
    if (tp) {
        /* x86-64 (TLS variant II): static TLS sits below the descriptor. */
        size_t below = static_size > tcb ? static_size - tcb : 4096;
        tls_lo = tp - below;
        tls_hi = tp + (tcb ? tcb : 2304);
        const map_ent_t *tm = map_of(maps, nmaps, tp);
        if (tm) {
            if (tls_lo < tm->lo) tls_lo = tm->lo;
            if (tls_hi > tm->hi) tls_hi = tm->hi;
            add_tls_root(rb, tls_lo, tls_hi, tid, tp);
        }
    }
    if (!sm) {
        rb->sp_unknown++;
        return;
    }
    sm->used = 1;
    uintptr_t lo = sp - 128 > sm->lo ? sp - 128 : sm->lo, hi = sm->hi;
    if (tls_lo > lo && tls_lo < hi) hi = tls_lo;
    add_root(rb, lo, hi, LK_ROOT_STACK, tid, NULL, 0);
    rb->threads++;
}

typedef struct gather {
    lk_scan_block_t *b;
    size_t n, cap;
    int oom;
    roots_buf_t *rb;
} gather_t;

static void gather_cb(uintptr_t ptr, size_t size, uint32_t stack_id, int family, void *arg)
{
    gather_t *g = arg;
    if (stack_id == LK_STACK_INHERITED) {
        /* a forked child's inherited block is no leak of its own, but what
         * it points to is reachable: a root, like the parent's globals */
        add_root(g->rb, ptr, ptr + size, LK_ROOT_GLOBAL, 0, "[inherited]", ptr);
        return;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4096;
        lk_scan_block_t *p = big_alloc(cap * sizeof *p);
        if (!p) {
            g->oom = 1;
            return;
        }
        if (g->n) memcpy(p, g->b, g->n * sizeof *p);
        big_free(g->b, g->cap * sizeof *p);
        g->b = p;
        g->cap = cap;
    }
    lk_scan_block_t *b = &g->b[g->n++];
    memset(b, 0, sizeof *b);
    b->ptr = ptr;
    b->size = size;
    b->stack_id = stack_id;
    b->family = (uint8_t)family;
}

/* glibc keeps the next chunk's header in the last usable word of a block:
 * the arena's top and bin pointers point there, and are no references. */
static size_t usable_size(uintptr_t ptr)
{
    return malloc_usable_size((void *)ptr);
}

/* dump.c's memory limits; weak so the unit-test core links without dump.o. */
extern lk_limits_t lk_limits __attribute__((weak));

/* The snapshot doubles the memory of the blocks for the scan's duration:
 * stay within SNAPSHOT_MAX and an eighth of the effective memory limit
 * (cgroup, rlimit or RAM), so a program near its limit is not killed. */
static size_t snapshot_budget(void)
{
    size_t max = SNAPSHOT_MAX;
    if (&lk_limits && lk_limits.effective && lk_limits.effective / 8 < max)
        max = (size_t)(lk_limits.effective / 8);
    return max;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

json_t *lk_scan_dump_section_ex(char **arrays, size_t *arrays_len)
{
    /* Our own frames lie below this: they hold block pointers we handle
     * (never references), so the dumping thread's stack is scanned from
     * here up, and its registers are taken here. */
    uintptr_t entry_sp = (uintptr_t)__builtin_frame_address(0);
    ucontext_t uc;
    getcontext(&uc);
    if (!lk_table_lock_all || !lk_table_unlock_all || !lk_table_foreach) return NULL;
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    static char self_marker;
    roots_buf_t rb;
    memset(&rb, 0, sizeof rb);
    rb.self_marker = (uintptr_t)&self_marker;
    gather_t g;
    memset(&g, 0, sizeof g);
    g.rb = &rb;
    json_t *out = NULL;
    size_t nmaps = 0, static_size, tcb;
    uintptr_t *args = NULL, *sps = NULL;  /* per thread: syscall args, sp (1 = pending) */
    int *tids = NULL;
    size_t ntids = 0, captids = 0;
    lk_scan_result_t res;
    memset(&res, 0, sizeof res);

    /* No live block: nothing to classify, so no root is read (valgrind's
     * "no leaks are possible").  Under the locks, as a scan classifies; the
     * section keeps its shape, with roots_scanned false.  A program that
     * frees everything saves the maps, threads and roots: ~0.5 ms an exit. */
    if (lk_table_count) {
        lk_table_lock_all();
        size_t live = lk_table_count();
        lk_table_unlock_all();
        if (live == 0) {
            /* built after the locks, as below: jansson allocates */
            res.cycles_complete = 1;
            out = build_section(NULL, 0, NULL, 0, &res, NULL, arrays, arrays_len);
            if (out) {
                json_object_set_new(out, LK_KEY_REACH_COMPLETE, json_true());
                json_object_set_new(out, LK_KEY_REACH_ROOTS_SCANNED, json_false());
                json_object_set_new(out, LK_KEY_REACH_THREADS, json_integer(0));
                json_object_set_new(out, LK_KEY_REACH_THREADS_SP_UNKNOWN, json_integer(0));
                json_object_set_new(out, LK_KEY_REACH_NOT_STOPPED, json_integer(0));
                json_object_set_new(out, LK_KEY_REACH_SCAN_NS,
                                    json_integer((json_int_t)(clock_ns(CLOCK_MONOTONIC) - t0)));
                json_object_set_new(out, LK_KEY_REACH_SCAN_CPU_NS,
                                    json_integer((json_int_t)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0)));
            }
            return out;
        }
    }
    /* Everything that takes loader or libc locks happens before the table
     * locks: a thread inside dlopen may be waiting in our malloc hook. */
    tls_sizes(&static_size, &tcb);
    map_ent_t *maps = read_maps(&nmaps);
    if (!maps) goto out_free;
    if (lk_table_memory_ranges) {
        size_t k = lk_table_memory_ranges(rb.excl, sizeof rb.excl / sizeof rb.excl[0]);
        rb.nexcl = k < 64 ? k : 64;
    }
    dl_iterate_phdr(module_cb, &rb);

    size_t hint = lk_table_count ? lk_table_count() : 0;
    g.cap = hint + hint / 8 + 1024;
    g.b = big_alloc(g.cap * sizeof *g.b);  /* huge pages: the sort gathers from it */
    if (!g.b) goto out_free;

    lk_table_lock_all();
    /* Threads, after the locks: one blocked in a hook now stays put. */
    int self_tid = (int)syscall(SYS_gettid);
    DIR *d = opendir("/proc/self/task");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int tid = atoi(e->d_name);
            if (tid <= 0) continue;
            if (ntids == captids) {
                size_t cap = captids ? captids * 2 : 16;
                int *p = realloc(tids, cap * sizeof *p);
                if (!p) break;
                tids = p;
                captids = cap;
            }
            tids[ntids++] = tid;
        }
        closedir(d);
    }
    args = calloc(ntids ? ntids * 6 : 1, sizeof *args);
    sps = calloc(ntids ? ntids : 1, sizeof *sps);
    for (size_t i = 0; args && sps && i < ntids; i++) {
        int tid = tids[i];
        if (tid == self_tid) {
            add_thread(&rb, maps, nmaps, tid, entry_sp, thread_pointer(), static_size, tcb);
            add_root(&rb, (uintptr_t)&uc.uc_mcontext.gregs,
                     (uintptr_t)&uc.uc_mcontext.gregs + sizeof uc.uc_mcontext.gregs,
                     LK_ROOT_REGISTERS, tid, NULL, 0);
            continue;
        }
        sps[i] = 1;  /* pending */
    }
    /* A thread on a CPU has no readable stack pointer; one spinning on a
     * table lock keeps running.  Retry a few times, briefly. */
    for (int round = 0; args && sps && round < 8; round++) {
        int pending = 0;
        for (size_t i = 0; i < ntids; i++) {
            if (sps[i] != 1) continue;
            uintptr_t sp = 0;
            if (thread_sp(tids[i], &sp, &args[i * 6]) < 0) {
                pending++;
                continue;
            }
            sps[i] = sp;
            add_thread(&rb, maps, nmaps, tids[i], sp, tids[i] == main_tid ? main_tp : 0,
                       static_size, tcb);
            add_root(&rb, (uintptr_t)&args[i * 6], (uintptr_t)&args[i * 6 + 6],
                     LK_ROOT_REGISTERS, tids[i], NULL, 0);
        }
        if (!pending) break;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    /* Still running: scan its whole stack mapping instead (conservative),
     * found by the tid in its descriptor ([stack] for the main thread). */
    for (size_t i = 0; args && sps && i < ntids; i++) {
        if (sps[i] != 1) continue;
        rb.sp_unknown++;
        int tid = tids[i];
        for (size_t m = 0; m < nmaps; m++) {
            uintptr_t tp = 0;
            if (maps[m].used) continue;
            if (tid == main_tid ? !maps[m].main_stack
                                : !maps[m].stack_like || !(tp = find_tcb(&maps[m], tcb)) ||
                                      !tcb_has_tid(tp, tcb, tid))
                continue;
            add_thread(&rb, maps, nmaps, tid, maps[m].lo, tid == main_tid ? main_tp : tp,
                       static_size, tcb);
            break;
        }
    }
    add_cached_descriptors(&rb, maps, nmaps, static_size, tcb);
    lk_table_foreach(gather_cb, &g);
    int rc = -ENOMEM;
    lk_scan_opts_t opts = {lk_scan_read_self, NULL, usable_size, snapshot_budget()};
    if (!g.oom && !rb.oom && args && sps)
        rc = lk_scan_classify(g.b, g.n, rb.r, rb.n, &opts, &res);
    lk_table_unlock_all();
    if (rc < 0) goto out_free;

    out = build_section(g.b, g.n, rb.r, rb.n, &res, NULL, arrays, arrays_len);
    if (out) {
        int complete = res.unreadable_bytes == 0 && rb.sp_unknown == 0 && res.cycles_complete;
        json_object_set_new(out, LK_KEY_REACH_COMPLETE, json_boolean(complete));
        json_object_set_new(out, LK_KEY_REACH_THREADS, json_integer(rb.threads));
        json_object_set_new(out, LK_KEY_REACH_THREADS_SP_UNKNOWN, json_integer(rb.sp_unknown));
        json_object_set_new(out, LK_KEY_REACH_NOT_STOPPED,
                            json_integer(ntids > 0 ? (json_int_t)ntids - 1 : 0));
        json_object_set_new(out, LK_KEY_REACH_SCAN_NS,
                            json_integer((json_int_t)(clock_ns(CLOCK_MONOTONIC) - t0)));
        json_object_set_new(out, LK_KEY_REACH_SCAN_CPU_NS,
                            json_integer((json_int_t)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0)));
    }
out_free:
    lk_scan_result_free(&res);
    for (size_t i = 0; i < rb.nstrings; i++) free(rb.strings[i]);
    free(rb.strings);
    free(rb.r);
    free(maps);
    big_free(g.b, g.cap * sizeof *g.b);
    free(args);
    free(sps);
    free(tids);
    return out;
}

json_t *lk_scan_dump_section(void)
{
    return lk_scan_dump_section_ex(NULL, NULL);
}
