/* scan.c - the reachability scan's entry in the preload: stop allocation,
 * gather the roots (scan_roots.c) and the live blocks, classify them
 * (scan_mark.c) and build the dump's section (scan_out.c).  The passes, in
 * order: roots (flood fill from each root word, recording every edge) ->
 * lost cliques -> graph and cycles -> kinds -> dominators (retained sizes,
 * domtree.c) -> JSON.  Reads memory only through a reader that cannot fault;
 * never calls exit, abort or assert. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"
#include "scan_internal.h"

/* The preload copies block contents up front below this many bytes, and
 * reads block by block (slower on long chains) above it. */
#define SNAPSHOT_MAX  ((size_t)512 << 20)

static const lk_scan_table_t table_c = {lk_table_lock_all, lk_table_unlock_all, lk_table_foreach,
                                        lk_table_memory_ranges, lk_table_count};
const lk_scan_table_t *lk_scan_table = &table_c;

unsigned lk_scan_forks;

typedef struct gather {
    lk_scan_block_t *b;
    size_t n, cap;
    int oom;
    lk_scan_roots_t *rb;
} gather_t;

static void gather_cb(uintptr_t ptr, size_t size, uint32_t stack_id, int family, void *arg)
{
    gather_t *g = arg;
    if (stack_id == LK_STACK_INHERITED) {
        /* a forked child's inherited block is no leak of its own, but what
         * it points to is reachable: a root, like the parent's globals.  A
         * block of the real allocator lies in none of libleak's own ranges:
         * straight into the room made for them, without that check. */
        lk_scan_roots_t *rb = g->rb;
        if (rb->n < rb->cap && size)
            rb->r[rb->n++] = (lk_scan_root_t){ptr, ptr + size, LK_ROOT_GLOBAL, 0, "[inherited]", ptr, 0};
        else
            lk_scan_add_root(rb, ptr, ptr + size, LK_ROOT_GLOBAL, 0, "[inherited]", ptr);
        return;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4096;
        lk_scan_block_t *p = lk_scan_big_alloc(cap * sizeof *p);
        if (!p) {
            g->oom = 1;
            return;
        }
        if (g->n) memcpy(p, g->b, g->n * sizeof *p);
        lk_scan_big_free(g->b, g->cap * sizeof *p);
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

/* ### a forked child's scan: only its own blocks are classified, and only
 * the pages it wrote since the fork can hold a word pointing at them */

typedef struct own_count {
    size_t own, inherited;
} own_count_t;

static void count_cb(uintptr_t ptr, size_t size, uint32_t stack_id, int family, void *arg)
{
    (void)ptr;
    (void)size;
    (void)family;
    own_count_t *c = arg;
    if (stack_id == LK_STACK_INHERITED)
        c->inherited++;
    else
        c->own++;
}

#define PM_PRESENT   (1ull << 63)
#define PM_SWAPPED   (1ull << 62)
#define PM_EXCLUSIVE (1ull << 56)  /* mapped by this process only (Linux 4.2) */
#define PM_WINDOW    512u           /* pages a pagemap read covers: 2 MiB, 4 KiB of entries */
#define PM_WINDOWS   4u             /* modules' data and the heap alternate among the roots */

typedef struct pm_cache {
    int fd;
    uintptr_t lo[PM_WINDOWS];       /* first page of each window; 0 = empty */
    uint64_t (*e)[PM_WINDOW];
    unsigned next;
} pm_cache_t;

/* Could page 'pg' hold a word this process wrote since the fork?  A page it
 * wrote was copied for it then (copy-on-write), so it is mapped here only;
 * a swapped-out page may be one of those.  Unreadable entries: yes. */
static bool pm_written(pm_cache_t *pc, uintptr_t pg)
{
    uintptr_t lo = pg & ~(uintptr_t)(PM_WINDOW - 1);
    unsigned w;
    for (w = 0; w < PM_WINDOWS && pc->lo[w] != lo; w++) {}
    if (w == PM_WINDOWS) {
        w = pc->next++ % PM_WINDOWS;
        ssize_t got = pread(pc->fd, pc->e[w], sizeof pc->e[w], (off_t)(lo * sizeof(uint64_t)));
        if (got != (ssize_t)sizeof pc->e[w]) {
            pc->lo[w] = 0;
            return true;
        }
        pc->lo[w] = lo;
    }
    uint64_t e = pc->e[w][pg - lo];
    return (e & PM_SWAPPED) || ((e & PM_PRESENT) && (e & PM_EXCLUSIVE));
}

static bool push_root(lk_scan_root_t **out, size_t *n, size_t *cap, const lk_scan_root_t *r)
{
    if (*n == *cap) {
        lk_scan_root_t *p = lk_real_realloc(*out, *cap * 2 * sizeof *p);
        if (!p) return false;
        *out = p;
        *cap *= 2;
    }
    (*out)[(*n)++] = *r;
    return true;
}

/* In a forked child that has not forked itself, drop from the global roots
 * (modules' data, and the inherited blocks, which are roots here) the pages
 * it still shares with its parent: its own blocks were all allocated after
 * the fork, so only a word it wrote since (on a page then copied for it)
 * can point at one (a stale word the parent left there could only have
 * hidden a leak).  Stacks, TLS and registers are read whole.  Returns the
 * bytes dropped, or -1 when nothing was: not such a child, or pagemap
 * cannot tell (no file, or a kernel without the exclusive bit: this
 * thread's stack page lacks it). */
static int64_t child_skip_shared(lk_scan_roots_t *rb)
{
    if (lk_forked_from == 0 || __atomic_load_n(&lk_scan_forks, __ATOMIC_RELAXED) != 0)
        return -1;
    int e = errno;
    pm_cache_t pc;
    memset(&pc, 0, sizeof pc);
    pc.fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    int64_t skipped = 0;
    lk_scan_root_t *out = NULL;
    size_t n = 0, cap = rb->n + 64;
    if (pc.fd < 0) goto done;
    pc.e = lk_real_malloc(sizeof *pc.e * PM_WINDOWS);
    out = lk_real_malloc(cap * sizeof *out);
    if (!pc.e || !out) goto done;
    volatile uintptr_t probe = 1;   /* written just now: its page is this process's only */
    uint64_t pe;
    if (pread(pc.fd, &pe, sizeof pe, (off_t)((uintptr_t)&probe / PAGE * sizeof pe)) != sizeof pe ||
        probe != 1 || !(pe & PM_EXCLUSIVE))
        goto done;
    for (size_t i = 0; i < rb->n; i++) {
        lk_scan_root_t r = rb->r[i];
        if (r.kind != LK_ROOT_GLOBAL) {
            if (!push_root(&out, &n, &cap, &r)) goto done;
            continue;
        }
        uintptr_t run = r.lo;       /* start of the pages kept so far */
        for (uintptr_t a = r.lo; a < r.hi;) {
            uintptr_t end = (a / PAGE + 1) * PAGE < r.hi ? (a / PAGE + 1) * PAGE : r.hi;
            if (!pm_written(&pc, a / PAGE)) {
                lk_scan_root_t k = r;
                k.lo = run;
                k.hi = a;
                if (k.hi > k.lo && !push_root(&out, &n, &cap, &k)) goto done;
                skipped += (int64_t)(end - a);
                run = end;
            }
            a = end;
        }
        r.lo = run;
        if (r.hi > r.lo && !push_root(&out, &n, &cap, &r)) goto done;
    }
    lk_real_free(rb->r);
    rb->r = out;
    rb->n = n;
    rb->cap = cap;
    out = NULL;
    goto kept;
done:
    skipped = -1;                   /* the roots stay whole */
kept:
    lk_real_free(out);
    lk_real_free(pc.e);
    if (pc.fd >= 0) close(pc.fd);
    errno = e;
    return skipped;
}

/* glibc keeps the next chunk's header in the last usable word of a block:
 * the arena's top and bin pointers point there, and are no references. */
static size_t usable_size(uintptr_t ptr)
{
    return lk_real_usable((void *)ptr);
}

/* The snapshot doubles the memory of the blocks for the scan's duration:
 * stay within SNAPSHOT_MAX and an eighth of the effective memory limit
 * (cgroup, rlimit or RAM), so a program near its limit is not killed. */
static size_t snapshot_budget(void)
{
    size_t max = SNAPSHOT_MAX;
    if (lk_limits.effective && lk_limits.effective / 8 < max)
        max = (size_t)(lk_limits.effective / 8);
    return max;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The section's fields about the scan itself. */
static void add_scan_fields(json_t *out, int complete, int roots_scanned, int threads,
                            int sp_unknown, size_t ntids, uint64_t t0, uint64_t c0)
{
    json_object_set_new(out, LK_KEY_REACH_COMPLETE, json_boolean(complete));
    if (!roots_scanned) json_object_set_new(out, LK_KEY_REACH_ROOTS_SCANNED, json_false());
    json_object_set_new(out, LK_KEY_REACH_THREADS, json_integer(threads));
    json_object_set_new(out, LK_KEY_REACH_THREADS_SP_UNKNOWN, json_integer(sp_unknown));
    json_object_set_new(out, LK_KEY_REACH_NOT_STOPPED,
                        json_integer(ntids > 0 ? (json_int_t)ntids - 1 : 0));
    json_object_set_new(out, LK_KEY_REACH_SCAN_NS,
                        json_integer((json_int_t)(clock_ns(CLOCK_MONOTONIC) - t0)));
    json_object_set_new(out, LK_KEY_REACH_SCAN_CPU_NS,
                        json_integer((json_int_t)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0)));
}

json_t *lk_scan_dump_section_ex(char **arrays, size_t *arrays_len)
{
    /* libleak's own frames lie below the entry (or at least below this
     * frame): they hold stale words and block pointers we handle, never
     * references.  The registers are the entry's caller's, else ours here. */
    uintptr_t self_lo = lk_scan_self_stack_lo((uintptr_t)__builtin_frame_address(0));
    ucontext_t uc;
    getcontext(&uc);
    const void *regs = &uc.uc_mcontext.gregs;
    size_t regs_len = sizeof uc.uc_mcontext.gregs;
    if (lk_tls_entry.sp) {
        regs = lk_tls_entry.regs;
        regs_len = sizeof lk_tls_entry.regs;
    }
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    static char self_marker;
    lk_scan_roots_t rb;
    memset(&rb, 0, sizeof rb);
    rb.self_marker = (uintptr_t)&self_marker;
    gather_t g;
    memset(&g, 0, sizeof g);
    g.rb = &rb;
    json_t *out = NULL;
    lk_scan_result_t res;
    memset(&res, 0, sizeof res);

    /* No live block: nothing to classify, so no root is read (valgrind's
     * "no leaks are possible"); likewise in a forked child none of its own,
     * as inherited blocks are not its to classify.  Under the locks, as a
     * scan classifies; the section keeps its shape, with roots_scanned false. */
    const lk_scan_table_t *t = lk_scan_table;
    own_count_t oc = {0, 0};
    bool child = lk_forked_from != 0;
    t->lock_all();
    if (child)
        t->foreach(count_cb, &oc);
    else
        oc.own = t->count();
    t->unlock_all();
    size_t live = oc.own;
    uintptr_t outer_regs[6];
    int outer = live ? lk_scan_entry_outer(&self_lo, outer_regs) : 0;
    if (outer > 0) {
        regs = outer_regs;
        regs_len = sizeof outer_regs;
    }
    if (live == 0) {
        /* built after the locks, as below: jansson allocates */
        res.cycles_complete = 1;
        out = lk_scan_build_section(NULL, 0, NULL, 0, &res, NULL, arrays, arrays_len);
        if (out) add_scan_fields(out, 1, 0, 0, 0, 0, t0, c0);
        return out;
    }
    /* the inherited blocks are roots: room for them at once, not by doubling */
    if (oc.inherited) {
        rb.r = lk_real_malloc((oc.inherited + 1024) * sizeof *rb.r);
        rb.cap = rb.r ? oc.inherited + 1024 : 0;
    }
    /* Everything that takes loader or libc locks happens before the table
     * locks: a thread inside dlopen may be waiting in our malloc hook. */
    size_t k = t->memory_ranges(rb.excl, sizeof rb.excl / sizeof rb.excl[0]);
    rb.nexcl = k < sizeof rb.excl / sizeof rb.excl[0] ? k : sizeof rb.excl / sizeof rb.excl[0];
    if (lk_scan_roots_modules(&rb) < 0) goto out_free;
    size_t hint = child ? oc.own : t->count();
    g.cap = hint + hint / 8 + (child ? 64 : 1024);     /* a child's own blocks: few, counted */
    g.b = lk_scan_big_alloc(g.cap * sizeof *g.b);  /* huge pages: the sort gathers from it */
    if (!g.b) goto out_free;

    t->lock_all();
    int rc = lk_scan_roots_threads(&rb, self_lo, regs, regs_len);
    if (rc == 0) t->foreach(gather_cb, &g);
    int64_t shared = rc == 0 && !g.oom && !rb.oom ? child_skip_shared(&rb) : -1;
    lk_scan_opts_t opts = {lk_scan_read_self, &rb, usable_size, snapshot_budget()};
    if (rc == 0 && (g.oom || rb.oom)) rc = -ENOMEM;
    if (rc == 0) rc = lk_scan_classify(g.b, g.n, rb.r, rb.n, &opts, &res);
    t->unlock_all();
    if (rc < 0) goto out_free;

    out = lk_scan_build_section(g.b, g.n, rb.r, rb.n, &res, NULL, arrays, arrays_len);
    if (out) {
        int complete = res.unreadable_bytes == 0 && rb.sp_unknown == 0 && res.cycles_complete;
        add_scan_fields(out, complete, 1, rb.threads, rb.sp_unknown, rb.ntids, t0, c0);
        if (outer < 0) json_object_set_new(out, LK_KEY_REACH_EXIT_FRAMES_READ, json_true());
        if (shared >= 0) json_object_set_new(out, LK_KEY_REACH_SHARED_ROOT_BYTES, json_integer(shared));
    }
out_free:
    lk_scan_result_free(&res);
    lk_scan_roots_free(&rb);
    lk_scan_big_free(g.b, g.cap * sizeof *g.b);
    return out;
}

json_t *lk_scan_dump_section(void)
{
    return lk_scan_dump_section_ex(NULL, NULL);
}
