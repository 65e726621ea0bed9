/* dump.c - a snapshot of the tracker as one JSON file (docs/FORMAT.md): its
 * stacks and sites arrays here, the small sections in dump_sections.c and
 * modules.c.  Runs with the guard held, so libleak's own allocations are never
 * tracked.  The tables are copied under their
 * locks (short); the JSON is built and written outside them.  The file appears
 * atomically: written as .libleak.<pid>.<seq>.<trigger>.json.tmp, then renamed;
 * a name already taken (a planted symlink or FIFO) is never followed or
 * replaced.  After the first I/O error, one line on stderr and no more dumps. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "unwinder.h"
#include "dump_json.h"

static const char *const trigger_names[] = LK_TRIGGER_NAMES;

/* The reachability scan (preload/scan.c) when linked in. */
json_t *lk_scan_dump_section_ex(char **arrays, size_t *arrays_len) __attribute__((weak));

static int open_default(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}
static ssize_t write_default(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n);
}
int (*LK_SEAM lk_dump_open)(const char *path, int flags, mode_t mode) = open_default;
ssize_t (*LK_SEAM lk_dump_writefn)(int fd, const void *buf, size_t n) = write_default;
static int rename_noreplace(const char *from, const char *to);
int (*LK_SEAM lk_dump_rename)(const char *from, const char *to) = rename_noreplace;

bool lk_dump_disabled;
/* The dumper thread's stack, counted in the cost section (trigger.c sets it). */
size_t lk_dump_thread_bytes;
static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned dump_seq;           /* guarded by dump_lock */
static int exit_dumped;             /* atomic */
static bool exit_done;              /* guarded by dump_lock: the exit dump is written */
static char last_path[4096];        /* guarded by dump_lock */

/* Blocks a forked child inherited and has not freed: sites [0, base). */
typedef struct inherited {
    uint64_t blocks, bytes;
} inherited_t;

static void write_totals(lk_jw_t *w, const lk_totals_t *t, const inherited_t *inh)
{
    lk_jw_object(w, LK_KEY_TOTALS);
    jw_u64(w, LK_KEY_LIVE_BYTES, t->live_bytes);
    jw_u64(w, LK_KEY_LIVE_BLOCKS, t->live_blocks);
    jw_u64(w, LK_KEY_PEAK_LIVE_BYTES, t->peak_live_bytes);
    jw_u64(w, LK_KEY_ALLOC_COUNT, t->alloc_count);
    jw_u64(w, LK_KEY_ALLOC_BYTES, t->alloc_bytes);
    jw_u64(w, LK_KEY_FREE_COUNT, t->free_count);
    jw_u64(w, LK_KEY_FAILED_COUNT, t->failed_count);
    jw_u64(w, LK_KEY_UNTRACKED_FREES, t->untracked_frees);
    jw_u64(w, LK_KEY_MISMATCHED_FREES, t->mismatched_frees);
    jw_u64(w, LK_KEY_DROPPED_EVENTS, t->dropped_events);
    lk_jw_bool(w, LK_KEY_COMPLETE, t->dropped_events == 0);
    if (lk_config.sample_bytes != 0)    /* site and total counters are estimates */
        lk_jw_bool(w, LK_KEY_ESTIMATED, true);
    if (lk_forked_from != 0) {
        lk_jw_int(w, LK_KEY_INHERITED_FROM, lk_forked_from);
        jw_u64(w, LK_KEY_INHERITED_BLOCKS, inh->blocks);
        jw_u64(w, LK_KEY_INHERITED_BYTES, inh->bytes);
    }
    lk_jw_close(w);
}

static size_t reserve_lent;         /* guarded by dump_lock: the reserve's bytes, released for this dump */

/* The cost section's figures, read while the dump is built (before the
 * scan, whose memory is the dump's, not the tracker's). */
typedef struct cost {
    uint64_t block_table, site_table, stack_table, address_space, rss;
    uint64_t learning, fallback, jit_ranges, from_cfi, by_gcc;
} cost_t;

static void cost_read(cost_t *c)
{
    c->block_table = lk_table_memory_bytes();
    c->site_table = lk_site_memory_bytes() + lk_group_memory_bytes();
    c->stack_table = lk_stack_memory_bytes();
    /* the reserve, given back for the dump, is counted as held */
    uint64_t xa_mapped, xa_resident;
    lk_exit_arena_cost(&xa_mapped, &xa_resident);
    c->address_space = lk_mapped_bytes() + __atomic_load_n(&lk_dump_thread_bytes, __ATOMIC_RELAXED) +
                       reserve_lent + xa_mapped;
    c->rss = lk_mapped_resident_bytes() + xa_resident;
    uint64_t fallback, by_gcc = lk_unwind_gcc_count();
    lk_stack_unwind_counts(&c->learning, &fallback);
    /* libgcc's walks, before libunwind was loaded, are fallbacks counted apart */
    c->fallback = fallback - (by_gcc < fallback ? by_gcc : fallback);
    c->by_gcc = by_gcc;
    c->jit_ranges = lk_stack_jit_ranges();
    uint64_t cfi_disagreed;
    lk_stack_cfi_counts(&c->from_cfi, &cfi_disagreed);
}

static void write_cost(lk_jw_t *w, const cost_t *c)
{
    lk_jw_object(w, LK_KEY_COST);
    jw_u64(w, LK_KEY_BLOCK_TABLE_BYTES, c->block_table);
    jw_u64(w, LK_KEY_SITE_TABLE_BYTES, c->site_table);
    jw_u64(w, LK_KEY_STACK_TABLE_BYTES, c->stack_table);
    jw_u64(w, LK_KEY_ADDRESS_SPACE_BYTES, c->address_space);
    jw_u64(w, LK_KEY_COST_RSS_BYTES, c->rss);
    jw_u64(w, LK_KEY_UNWINDS_LEARNING, c->learning);
    jw_u64(w, LK_KEY_UNWINDS_FALLBACK, c->fallback);
    jw_u64(w, LK_KEY_JIT_RANGES, c->jit_ranges);
    jw_u64(w, LK_KEY_RULES_FROM_CFI, c->from_cfi);
    jw_u64(w, LK_KEY_UNWINDS_LIBGCC, c->by_gcc);
    lk_jw_close(w);
}

/* ### the dump object
 * Two arrays grow with the program: one entry per stack, one per site.  A dump
 * writes them entry by entry (write_dump), so that neither exists whole in
 * memory (as one tree a dump took several times its file's size).  These
 * build one entry each. */
/* Stack 'id' as an entry of the stacks array.  -1 if it does not exist. */
static int stack_entry(lk_jw_t *w, uint32_t id)
{
    const lk_stack_rec_t *st = lk_stack_get(id);
    if (!st)
        return -1;
    char *d = lk_jw_raw(w, 64);
    if (d) {                    /* text: by hand, the same text as below */
        d = LK_JW_PUT_LIT(d, "{\"" LK_KEY_ID "\":");
        d = lk_jw_put_int(d, id);
        d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_FRAMES "\":[");
        for (uint32_t i = 0; i < st->depth; i++) {
            d = lk_jw_raw_more(w, d, 32);
            if (i)
                *d++ = ',';
            d = lk_jw_put_hex(d, st->pc[i]);
        }
        d = lk_jw_raw_more(w, d, 64);
        d = st->truncated ? LK_JW_PUT_LIT(d, "],\"" LK_KEY_TRUNCATED "\":true")
                          : LK_JW_PUT_LIT(d, "],\"" LK_KEY_TRUNCATED "\":false");
        if (st->jit_cut)
            d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_JIT_CUT "\":true");
        *d++ = '}';
        lk_jw_raw_end(w, d);
        return 0;
    }
    lk_jw_object(w, NULL);
    lk_jw_int(w, LK_KEY_ID, id);
    lk_jw_array(w, LK_KEY_FRAMES);
    for (uint32_t i = 0; i < st->depth; i++)
        lk_jw_hex(w, NULL, st->pc[i]);
    lk_jw_close(w);
    lk_jw_bool(w, LK_KEY_TRUNCATED, st->truncated);
    if (st->jit_cut)            /* only then: most stacks end in a module */
        lk_jw_bool(w, LK_KEY_JIT_CUT, true);
    lk_jw_close(w);
    return 0;
}

/* Site 's' as an entry of the sites array; nothing for a site created but
 * whose first insert was dropped. */
/* A count as jw_u64 writes it, into raw room. */
static char *put_u64(char *d, uint64_t v)
{
    return lk_jw_put_int(d, v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static void site_entry(lk_jw_t *w, const lk_site_rec_t *s)
{
    if (s->total_blocks == 0)
        return;
    char *d = lk_jw_raw(w, 400);
    if (d) {                    /* text: by hand, the same text as below */
        d = LK_JW_PUT_LIT(d, "{\"" LK_KEY_STACK "\":");
        d = lk_jw_put_int(d, s->stack);
        d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_FAMILY "\":\"");
        const char *fam = family_name((int)s->family);   /* a fixed plain name */
        size_t fl = strlen(fam);
        memcpy(d, fam, fl);
        d += fl;
        d = LK_JW_PUT_LIT(d, "\",\"" LK_KEY_LIVE_BLOCKS "\":");
        d = put_u64(d, s->total_blocks - s->freed_blocks);
        d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_LIVE_BYTES "\":");
        d = put_u64(d, s->live_bytes);
        d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_TOTAL_BLOCKS "\":");
        d = put_u64(d, s->total_blocks);
        d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_TOTAL_BYTES "\":");
        d = put_u64(d, s->total_bytes);
        d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_FREED_BLOCKS "\":");
        d = put_u64(d, s->freed_blocks);
        d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_PEAK_LIVE_BYTES "\":");
        d = put_u64(d, s->peak_live_bytes);
        d = LK_JW_PUT_LIT(d, ",\"" LK_KEY_MAX_REQUEST "\":");
        d = put_u64(d, s->max_request_bytes);
        *d++ = '}';
        lk_jw_raw_end(w, d);
        return;
    }
    lk_jw_object(w, NULL);
    lk_jw_int(w, LK_KEY_STACK, s->stack);
    lk_jw_str(w, LK_KEY_FAMILY, family_name((int)s->family));
    jw_u64(w, LK_KEY_LIVE_BLOCKS, s->total_blocks - s->freed_blocks);
    jw_u64(w, LK_KEY_LIVE_BYTES, s->live_bytes);
    jw_u64(w, LK_KEY_TOTAL_BLOCKS, s->total_blocks);
    jw_u64(w, LK_KEY_TOTAL_BYTES, s->total_bytes);
    jw_u64(w, LK_KEY_FREED_BLOCKS, s->freed_blocks);
    jw_u64(w, LK_KEY_PEAK_LIVE_BYTES, s->peak_live_bytes);
    jw_u64(w, LK_KEY_MAX_REQUEST, s->max_request_bytes);
    lk_jw_close(w);
}

/* The stacks array's entries, then the sites', through 'w' (text or tree);
 * each returns 0 or -1. */
static int stack_entries(lk_jw_t *w, uint32_t nstacks, const uint64_t *only)
{
    for (uint32_t id = 0; id < nstacks && !w->err; id++)
        if ((!only || (only[id / 64] >> (id % 64) & 1)) && stack_entry(w, id) != 0)
            w->err = 1;
    return lk_jw_end(w);
}

static int site_entries(lk_jw_t *w, const lk_site_rec_t *sites, uint32_t first, uint32_t nsites)
{
    for (uint32_t i = first; i < nsites && !w->err; i++)
        site_entry(w, &sites[i]);
    return lk_jw_end(w);
}

/* A dump before it is written: what its sections name, copied while it is
 * built (the tables change meanwhile), and the site snapshot (mmap'd, nsites
 * of them) the sites array is written from.  The sections that do not change
 * (process, config, limits, modules) are read as they are written. */
typedef struct dump_parts {
    int trigger;
    unsigned seq;
    bool has_label;
    char label[64];             /* at most 63 bytes of the label are kept */
    uint64_t unix_ms, uptime_ns, rss_bytes, modules_dropped;
    lk_totals_t totals;
    inherited_t inh;
    cost_t cost;
    lk_mismatch_t *mismatches;  /* lk_real_calloc'd */
    size_t nmismatches;
    lk_failure_t *failures;     /* lk_real_calloc'd */
    size_t nfailures;
    lk_sample_t *samples;       /* the timeline, lk_real_calloc'd */
    size_t nsamples;
    const lk_crash_t *crash;    /* a crash dump's, or NULL */
    uint32_t crash_stack;
    lk_site_rec_t *sites;
    uint32_t nsites, nstacks;
    uint32_t first_site;        /* a forked child's own sites start here */
    uint64_t *stack_set;        /* a forked child's: the stacks its dump names
                                 * (bitmap, mmap'd); NULL = every stack */
    json_t *reach;              /* the reachability section without its arrays, or NULL */
    char *reach_arrays;         /* and those as text (scan.c's malloc) */
    size_t reach_len;
} dump_parts_t;

/* Zeroed scratch pages for a dump: the exit arena's while this thread
 * writes the exit dump (no munmap: the process is ending, and each costs a
 * TLB flush), else an mmap populated in one call.  NULL if none. */
static void *scratch_alloc(size_t len, bool populate)
{
    if (lk_tls_exit_arena) {
        void *q = lk_exit_arena_alloc(len, 64);     /* never reused: zero */
        if (q)
            return q;
    }
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

static void scratch_free(void *p, size_t len)
{
    if (p && !lk_exit_arena_owns(p))
        munmap(p, len);
}

static size_t stack_set_bytes(uint32_t nstacks)
{
    return ((size_t)nstacks / 64 + 1) * sizeof(uint64_t);
}

static void stack_set_add(uint64_t *set, uint32_t nstacks, uint32_t id)
{
    if (id < nstacks)
        set[id / 64] |= UINT64_C(1) << (id % 64);
}

/* A forked child names only the stacks of its own sites and groups, not the
 * parent's whole table: a subshell's dump stays small.  NULL (every stack)
 * outside a child or without memory. */
static uint64_t *stack_set_build(const dump_parts_t *p)
{
    if (lk_forked_from == 0)
        return NULL;
    uint64_t *set = scratch_alloc(stack_set_bytes(p->nstacks), false);
    if (!set)
        return NULL;
    for (uint32_t i = p->first_site; i < p->nsites; i++)
        if (p->sites[i].total_blocks != 0)
            stack_set_add(set, p->nstacks, p->sites[i].stack);
    for (size_t i = 0; i < p->nmismatches; i++) {
        stack_set_add(set, p->nstacks, p->mismatches[i].alloc_stack);
        stack_set_add(set, p->nstacks, p->mismatches[i].free_stack);
    }
    for (size_t i = 0; i < p->nfailures; i++)
        stack_set_add(set, p->nstacks, p->failures[i].stack);
    if (p->crash_stack != LK_STACK_NONE)
        stack_set_add(set, p->nstacks, p->crash_stack);
    return set;
}

static void dump_parts_free(dump_parts_t *p)
{
    lk_real_free(p->mismatches);
    lk_real_free(p->failures);
    lk_real_free(p->samples);
    json_decref(p->reach);
    lk_real_free(p->reach_arrays);
    scratch_free(p->sites, (size_t)p->nsites * sizeof *p->sites);
    scratch_free(p->stack_set, stack_set_bytes(p->nstacks));
}

/* Returns 0 (it cannot fail: what finds no memory is left out). */
static int dump_parts_build(dump_parts_t *p, int trigger, const char *label, unsigned seq)
{
    memset(p, 0, sizeof *p);
    lk_limits_load();           /* the program may have called setrlimit() */
    lk_timeline_sample();       /* the curve ends at this dump */
    lk_signals_check();         /* warn (once) if the program took our signal */
    p->trigger = trigger;
    p->seq = seq;
    p->crash_stack = LK_STACK_NONE;
    if (trigger == LK_TRIGGER_CRASH)
        p->crash = lk_section_crash_stack(&p->crash_stack);
    /* Sites first, then groups, then the stack count: every stack they name
     * was interned before them, so it is in [0, stack count). */
    uint32_t nsites = lk_site_count();
    /* lk_site_rec_t is cache-line aligned (many threads write its counters), which
     * calloc's 16-byte alignment does not honour: mmap, zeroed by the kernel
     * and populated in one call rather than a fault a page. */
    lk_site_rec_t *sites = nsites ? scratch_alloc((size_t)nsites * sizeof *sites, true) : NULL;
    if (!sites)
        nsites = 0;
    lk_tracker_fold();          /* every thread's counter deltas, into the sites */
    for (uint32_t i = 0; i < nsites; i++)
        lk_site_snapshot(i, &sites[i]);
    /* a forked child: the parent's sites hold what it inherited */
    uint32_t first = lk_site_base < nsites ? lk_site_base : nsites;
    for (uint32_t i = 0; i < first; i++) {
        p->inh.blocks += sites[i].total_blocks - sites[i].freed_blocks;
        p->inh.bytes += sites[i].live_bytes;
    }
    lk_tracker_totals_from(sites + first, nsites - first, &p->totals);
    p->mismatches = lk_section_mismatches_copy(&p->nmismatches);
    p->failures = lk_section_failures_copy(&p->nfailures);
    p->sites = sites;
    p->nsites = nsites;
    p->first_site = first;
    p->nstacks = lk_stack_count();
    uint64_t now = lk_now_ns();

    if (label) {
        snprintf(p->label, sizeof p->label, "%s", label);
        if (!lk_json_utf8(p->label, strlen(p->label)))     /* or cut inside a character */
            for (char *c = p->label; *c; c++)
                if ((unsigned char)*c >= 0x80)
                    *c = '?';
        p->has_label = true;
    }
    p->unix_ms = lk_unix_ms();
    p->uptime_ns = now - lk_start_ns;
    /* the timeline's sample just read it */
    p->rss_bytes = lk_rss_bytes_recent(10 * 1000000u);
    p->modules_dropped = lk_modules_dropped();
    cost_read(&p->cost);
    p->samples = lk_section_timeline_copy(&p->nsamples);

    bool scan = trigger == LK_TRIGGER_EXIT ? lk_config.scan >= 1 : lk_config.scan >= 2;
    if (scan && lk_scan_dump_section_ex)  /* guard held, no table lock held */
        p->reach = lk_scan_dump_section_ex(&p->reach_arrays, &p->reach_len);
    p->stack_set = stack_set_build(p);
    return 0;
}

/* A forked child's uptime at its fork (the latest one), 0 in a process that
 * was not forked; the analyzer starts the child's own curve there. */
static uint64_t fork_uptime_ns;

/* The root object's members before the reachability section and the two
 * growing arrays, through 'w' (text or tree), into the object it is in. */
static void write_head(lk_jw_t *w, const dump_parts_t *p)
{
    lk_jw_str(w, LK_KEY_FORMAT, LIBLEAK_DUMP_FORMAT);
    lk_jw_int(w, LK_KEY_VERSION, LIBLEAK_DUMP_VERSION);
    lk_jw_str(w, LK_KEY_TOOL_VERSION, LIBLEAK_TOOL_VERSION);
    lk_section_process(w, LK_KEY_PROCESS);
    lk_jw_object(w, LK_KEY_DUMP);
    lk_jw_int(w, LK_KEY_SEQ, p->seq);
    lk_jw_str(w, LK_KEY_TRIGGER, p->trigger >= 0 && p->trigger <= LK_TRIGGER_CRASH
                                     ? trigger_names[p->trigger] : "api");
    lk_jw_str(w, LK_KEY_LABEL, p->has_label ? p->label : NULL);
    jw_u64(w, LK_KEY_UNIX_MS, p->unix_ms);
    jw_u64(w, LK_KEY_UPTIME_NS, p->uptime_ns);
    jw_u64(w, LK_KEY_RSS_BYTES, p->rss_bytes);
    jw_u64(w, LK_KEY_MODULES_DROPPED, p->modules_dropped);
    /* the clock at this image's start: an exec (same pid) starts another */
    jw_u64(w, LK_KEY_IMAGE_ID, lk_start_ns);
    if (fork_uptime_ns != 0)
        jw_u64(w, LK_KEY_FORK_UPTIME_NS, fork_uptime_ns);
    lk_jw_close(w);
    lk_section_config(w, LK_KEY_CONFIG);
    lk_section_limits(w, LK_KEY_LIMITS);
    write_totals(w, &p->totals, &p->inh);
    write_cost(w, &p->cost);
    lk_jw_array(w, LK_KEY_MODULES);
    lk_modules_append(w);
    lk_jw_close(w);
    lk_section_mismatches(w, LK_KEY_MISMATCHES, p->mismatches, p->nmismatches);
    lk_section_failures(w, LK_KEY_FAILURES, p->failures, p->nfailures);
    lk_section_timeline(w, LK_KEY_TIMELINE, p->samples, p->nsamples, p->sites, p->first_site,
                        p->nsites);
    if (p->crash)
        lk_section_crash(w, LK_KEY_CRASH, p->crash, p->crash_stack);
}

#ifdef LK_TESTING
/* The whole dump as one tree, its members in write_dump's order (tests:
 * parsing the reachability arrays back needs the shared jansson). */
static json_t *tree_from_parts(const dump_parts_t *p)
{
    json_t *root = json_object(), *st = json_array(), *si = json_array();
    lk_jw_t jw;
    lk_jw_tree(&jw, root);
    write_head(&jw, p);
    if (p->reach) {
        /* the arrays back from their text: what write_dump writes */
        size_t n = p->reach_len + 3;
        char *txt = lk_real_malloc(n);
        json_t *arrays = NULL;
        if (txt) {
            snprintf(txt, n, "{%s}", p->reach_arrays);
            arrays = json_loads(txt, 0, NULL);
            lk_real_free(txt);
        }
        if (arrays)
            json_object_update(p->reach, arrays);
        json_decref(arrays);
        json_object_set(root, LK_KEY_REACH, p->reach);
    }
    lk_jw_tree(&jw, st);
    stack_entries(&jw, p->nstacks, p->stack_set);
    lk_jw_tree(&jw, si);
    site_entries(&jw, p->sites, p->first_site, p->nsites);
    json_object_set_new(root, LK_KEY_STACKS, st);
    json_object_set_new(root, LK_KEY_SITES, si);
    return root;
}

json_t *lk_dump_build(int trigger, const char *label, unsigned seq)
{
    dump_parts_t p;
    if (dump_parts_build(&p, trigger, label, seq) != 0)
        return NULL;
    json_t *root = tree_from_parts(&p);
    dump_parts_free(&p);
    return root;
}

#endif

/* ### writing */
typedef struct writer {
    int fd;
    int err;                    /* first errno, 0 if none */
    size_t len;
    char buf[65536];
} writer_t;

static int flush_buf(writer_t *w)
{
    const char *p = w->buf;
    while (w->len > 0 && w->err == 0) {
        ssize_t r = lk_dump_writefn(w->fd, p, w->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            w->err = errno ? errno : EIO;
            break;
        }
        if (r == 0) {
            w->err = ENOSPC;
            break;
        }
        p += r;
        w->len -= (size_t)r;
    }
    w->len = 0;
    return w->err ? -1 : 0;
}

/* Flushes a full buffer only when more bytes come: the last byte written is
 * always still in the buffer (write_dump takes the root's '}' back). */
static int dump_cb(const char *data, size_t size, void *arg)
{
    writer_t *w = arg;
    while (size > 0) {
        if (w->len == sizeof w->buf && flush_buf(w) != 0)
            return -1;
        size_t room = sizeof w->buf - w->len;
        size_t n = size < room ? size : room;
        memcpy(w->buf + w->len, data, n);
        w->len += n;
        data += n;
        size -= n;
    }
    return 0;
}

static int put(writer_t *w, const char *s)
{
    return dump_cb(s, strlen(s), w);
}

/* The dump as JSON text, with no tree: the root object's members, then the
 * reachability section (its arrays from their text), then the two growing
 * arrays entry by entry.  Returns 0 or -1 (w->err, else EIO). */
static int write_dump(writer_t *w, const dump_parts_t *p)
{
    lk_jw_t jw;
    if (put(w, "{") != 0)
        return -1;
    lk_jw_text(&jw, dump_cb, w);
    write_head(&jw, p);
    if (lk_jw_end(&jw) != 0)
        return -1;
    if (p->reach) {
        /* the section without its arrays, its '}' taken back, then them */
        if (put(w, ",\"" LK_KEY_REACH "\":") != 0 ||
            json_dump_callback(p->reach, dump_cb, w, JSON_COMPACT) != 0)
            return -1;
        if (w->len == 0 || w->buf[w->len - 1] != '}')
            return -1;
        w->len--;
        if (put(w, ",") != 0 || dump_cb(p->reach_arrays, p->reach_len, w) != 0 || put(w, "}") != 0)
            return -1;
    }
    /* the two arrays entry by entry, written as text by lk_jw */
    if (put(w, ",\"" LK_KEY_STACKS "\":[") != 0)
        return -1;
    lk_jw_text(&jw, dump_cb, w);
    if (stack_entries(&jw, p->nstacks, p->stack_set) != 0 ||
        put(w, "],\"" LK_KEY_SITES "\":[") != 0)
        goto out_fail;
    lk_jw_text(&jw, dump_cb, w);
    if (site_entries(&jw, p->sites, p->first_site, p->nsites) != 0)
        goto out_fail;
    return put(w, "]}\n");
out_fail:
    if (w->err == 0)
        w->err = ENOMEM;        /* an entry, not the file: this dump is lost, not the next */
    return -1;
}

#ifdef LK_TESTING
/* One build of a dump, written as text to 'fd' (as write_file writes it)
 * and returned as the tree lk_dump_build makes: tests compare the two. */
json_t *lk_dump_text_and_tree(int trigger, const char *label, unsigned seq, int fd)
{
    dump_parts_t p;
    if (dump_parts_build(&p, trigger, label, seq) != 0)
        return NULL;
    static writer_t w;
    w.fd = fd;
    w.err = 0;
    w.len = 0;
    json_t *root = write_dump(&w, &p) == 0 && flush_buf(&w) == 0 ? tree_from_parts(&p) : NULL;
    dump_parts_free(&p);
    return root;
}
#endif

/* ### names
 * The dump directory may be shared, and the pid, and so every name, is
 * predictable: anyone may have planted a file, a symlink or a FIFO there.
 * A taken name is never followed, opened or replaced; another one is picked
 * (one warning per process), so a planted name never stops the dumps. */
static bool name_warned;            /* guarded by dump_lock */

/* Warn (once) that 'taken' is in the way; 'instead' is the name used, or
 * NULL when the dump takes the next number. */
static void warn_taken(const char *taken, const char *instead)
{
    if (name_warned)
        return;
    name_warned = true;
    if (instead)
        lk_log("'%s' is taken (not a dump of this process); writing '%s' instead", taken, instead);
    else
        lk_log("'%s' is taken (not a dump of this process); using the next dump number", taken);
}

/* A name no one can predict: pid, clock and a counter, mixed (splitmix64). */
static uint64_t name_nonce(void)
{
    static uint64_t n;              /* guarded by dump_lock */
    uint64_t z = (lk_now_ns() ^ ((uint64_t)getpid() << 32)) + ++n * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Rename 'from' to 'to' unless 'to' exists (whatever it is: a dangling
 * symlink too); -1 with EEXIST then.  renameat2 where the file system has
 * it, else link+unlink, else (no hard links, e.g. vfat) a check, then rename. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return -1;
    if (link(from, to) == 0)
        return unlink(from) == 0 || errno == ENOENT ? 0 : -1;
    if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
        return -1;
    struct stat st;
    if (lstat(to, &st) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(from, to);
}

#define NAME_TRIES 16               /* names tried before this dump is given up */

/* Write the dump to '<dir>/libleak.<pid>.<seq>.<trigger>.json' through a .tmp
 * file and rename; when a name is taken, another (see ### names).  Returns 0
 * or -errno; 'what' names the failing step. */
static int write_file(const dump_parts_t *parts, unsigned seq, int trigger, const char **what)
{
    /* Static, guarded by dump_lock: '*what' points into them after return. */
    static char path[4096], tmp[4096];
    const char *dir = lk_config.dir ? lk_config.dir : ".";
    const char *tname = trigger_names[trigger];
    static writer_t writer;     /* guarded by dump_lock: no allocation to write */
    writer_t *w = &writer;
    w->len = 0;
    w->err = 0;
    int rc = 0, n;
    char taken[4096] = "";      /* the first name found taken, for the warning */
    /* <dir>/.libleak.<pid>.<seq>.<trigger>.json.tmp, when taken
     * .libleak.<pid>.<seq>.<trigger>.json.<nonce>.tmp.  O_EXCL: never an
     * existing name (so never a FIFO's open that waits for a writer), and
     * O_NOFOLLOW for file systems that would follow a dangling symlink. */
    w->fd = -1;
    for (int i = 0; i < NAME_TRIES && w->fd < 0; i++) {
        n = i == 0 ? snprintf(tmp, sizeof tmp, "%s/." LIBLEAK_DUMP_PREFIX ".%d.%u.%s"
                              LIBLEAK_DUMP_SUFFIX ".tmp", dir, (int)getpid(), seq, tname)
                   : snprintf(tmp, sizeof tmp, "%s/." LIBLEAK_DUMP_PREFIX ".%d.%u.%s"
                              LIBLEAK_DUMP_SUFFIX ".%016" PRIx64 ".tmp", dir, (int)getpid(),
                              seq, tname, name_nonce());
        if (n < 0 || (size_t)n >= sizeof tmp) {
            *what = dir;
            return -ENAMETOOLONG;
        }
        w->fd = lk_dump_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (w->fd < 0 && errno != EEXIST) {
            rc = -errno;
            *what = tmp;
            goto out_free;
        }
        if (w->fd >= 0 && i > 0)
            warn_taken(taken, tmp);
        if (w->fd < 0 && i == 0)
            snprintf(taken, sizeof taken, "%s", tmp);
    }
    if (w->fd < 0) {
        rc = -EEXIST;
        *what = tmp;
        goto out_free;
    }
    if (write_dump(w, parts) != 0 || flush_buf(w) != 0) {
        rc = -(w->err ? w->err : EIO);
        *what = tmp;
        goto out_unlink;
    }
    if (lk_config.fsync && fsync(w->fd) != 0) {
        rc = -errno;
        *what = tmp;
        goto out_unlink;
    }
    if (close(w->fd) != 0) {
        w->fd = -1;
        rc = -errno;
        *what = tmp;
        goto out_unlink;
    }
    w->fd = -1;
    /* <dir>/libleak.<pid>.<seq>.<trigger>.json, when taken
     * libleak.<pid>.<seq>.<trigger>.<nonce>.json */
    for (int i = 0; i < NAME_TRIES; i++) {
        n = i == 0 ? snprintf(path, sizeof path, "%s/" LIBLEAK_DUMP_PREFIX ".%d.%u.%s"
                              LIBLEAK_DUMP_SUFFIX, dir, (int)getpid(), seq, tname)
                   : snprintf(path, sizeof path, "%s/" LIBLEAK_DUMP_PREFIX ".%d.%u.%s.%016"
                              PRIx64 LIBLEAK_DUMP_SUFFIX, dir, (int)getpid(), seq, tname,
                              name_nonce());
        if (n < 0 || (size_t)n >= sizeof path) {
            rc = -ENAMETOOLONG;
            *what = dir;
            goto out_unlink;
        }
        if (lk_dump_rename(tmp, path) == 0) {
            if (i > 0)
                warn_taken(taken, path);
            snprintf(last_path, sizeof last_path, "%s", path);
            goto out_free;
        }
        if (errno != EEXIST) {
            rc = -errno;
            *what = path;
            goto out_unlink;
        }
        if (i == 0)
            snprintf(taken, sizeof taken, "%s", path);
    }
    rc = -EEXIST;
    *what = path;
out_unlink:
    if (w->fd >= 0)
        close(w->fd);
    unlink(tmp);
out_free:
    return rc;
}

/* ### memory reserve
 * A program that leaks until its address space is exhausted (RLIMIT_AS, a
 * cgroup limit) would leave no room for the very dump that explains it.  Keep
 * 1 MiB of address space reserved (PROT_NONE: no memory is committed) and give
 * it back just before building a dump; take it again afterwards if possible.
 * The cost: the program reaches its limit 1 MiB earlier (it was 8 MiB; the
 * exit dump of pl_oom, on the main arena, needs less).  Only under an
 * RLIMIT_AS: address space that nothing uses is no room under a cgroup's
 * limit or RAM, and every process paid a map and an unmap for it (a
 * setrlimit() of the program's is seen at its next dump's limits). */
#define RESERVE_BYTES (1u << 20)
static void *reserve;               /* guarded by dump_lock */

void lk_dump_reserve(void)
{
    if (reserve || lk_limits.rlimit_as == 0)
        return;
    void *p = mmap(NULL, RESERVE_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    reserve = p == MAP_FAILED ? NULL : p;
}

static void reserve_release(void)
{
    if (reserve) {
        munmap(reserve, RESERVE_BYTES);
        reserve = NULL;
    }
}

/* Does any name (dump or temporary) of this pid with number 'seq' exist?
 * lstat: a dangling symlink takes its name too.  Anything but a regular
 * file of ours (an exec'd predecessor's dump) earns the one warning. */
static bool seq_taken(unsigned seq)
{
    static const char *const names[] = LK_TRIGGER_NAMES;
    const char *dir = lk_config.dir ? lk_config.dir : ".";
    char path[4096];
    int pid = (int)getpid();    /* once, not once a name: a system call each */
    for (size_t t = 0; t < sizeof names / sizeof *names; t++) {
        for (int tmp = 0; tmp < 2; tmp++) {
            int n = snprintf(path, sizeof path, tmp ? "%s/." LIBLEAK_DUMP_PREFIX ".%d.%u.%s" LIBLEAK_DUMP_SUFFIX ".tmp"
                                                    : "%s/" LIBLEAK_DUMP_PREFIX ".%d.%u.%s" LIBLEAK_DUMP_SUFFIX,
                             dir, pid, seq, names[t]);
            struct stat st;
            if (n <= 0 || (size_t)n >= sizeof path || lstat(path, &st) != 0)
                continue;
            if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
                warn_taken(path, NULL);
            return true;
        }
    }
    return false;
}

int lk_dump_write(int trigger, const char *label)
{
    if (trigger < 0 || trigger > LK_TRIGGER_CRASH)
        return -EINVAL;
    LK_GUARD;
    int saved = errno;
    int rc;
    pthread_mutex_lock(&dump_lock);
    if (lk_dump_disabled) {
        rc = -EIO;
        goto out_unlock;
    }
    if (exit_done) {
        rc = -ECANCELED;        /* nothing after the exit dump: it is the last */
        goto out_unlock;
    }
    /* An exec'd image keeps the pid and starts counting again: skip the
     * numbers its predecessor already wrote, never overwrite them. */
    while (seq_taken(dump_seq) && dump_seq < UINT_MAX - 1)
        dump_seq++;
    unsigned seq = dump_seq++;
    reserve_lent = reserve ? RESERVE_BYTES : 0;
    reserve_release();
    dump_parts_t parts;
    if (dump_parts_build(&parts, trigger, label, seq) != 0) {
        rc = -ENOMEM;
        lk_log_error("cannot build dump %u of pid %d: %s", seq, (int)getpid(), strerror(ENOMEM));
        goto out_unlock;
    }
    const char *what = "";
    rc = write_file(&parts, seq, trigger, &what);
    dump_parts_free(&parts);
    if (trigger == LK_TRIGGER_EXIT || trigger == LK_TRIGGER_CRASH)
        exit_done = true;       /* the process dies after a crash dump */
    else
        lk_dump_reserve();      /* for the next dump, if there is room again */
    if (rc == -ENOMEM || rc == -EEXIST) {
        /* an entry could not be built, or every name tried was taken: this
         * dump is lost, not the next */
        lk_log_error("cannot write dump '%s': %s", what, strerror(-rc));
    } else if (rc != 0) {
        /* jemalloc: the first I/O error stops all further dumps. */
        lk_dump_disabled = true;
        if (-rc != lk_config_dir_errno)     /* else said once at start */
            lk_log_error("cannot write dump '%s': %s; no further dumps from pid %d",
                         what, strerror(-rc), (int)getpid());
    }
out_unlock:
    pthread_mutex_unlock(&dump_lock);
    errno = saved;
    return rc;
}

void lk_dump_exit(void)
{
    if (__atomic_exchange_n(&exit_dumped, 1, __ATOMIC_ACQ_REL) == 0)
        lk_dump_write(LK_TRIGGER_EXIT, NULL);
}

const char *lk_dump_last_path(void)
{
    return last_path;
}

/* Both dump_lock and the module records' lock (fork: neither may be left
 * held in the child by a thread that is gone). */
void lk_dump_lock(void)
{
    pthread_mutex_lock(&dump_lock);
    lk_modules_lock();
}

void lk_dump_unlock(void)
{
    lk_modules_unlock();
    pthread_mutex_unlock(&dump_lock);
}

/* Fork child: own numbering from 0, own exit dump.  dump_lock and mod_lock
 * are held by this thread (taken in the prepare handler). */
void lk_dump_reset_after_fork(void)
{
    fork_uptime_ns = lk_now_ns() - lk_start_ns;
    dump_seq = 0;
    exit_done = false;
    last_path[0] = '\0';
    name_warned = false;
    __atomic_store_n(&exit_dumped, 0, __ATOMIC_RELEASE);
    lk_modules_unlock();
    pthread_mutex_unlock(&dump_lock);
}

/* Unit tests: start numbering again and re-enable dumping. */
void lk_dump_reset_for_tests(void)
{
    pthread_mutex_lock(&dump_lock);
    dump_seq = 0;
    exit_done = false;
    last_path[0] = '\0';
    lk_dump_disabled = false;
    name_warned = false;
    __atomic_store_n(&exit_dumped, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&dump_lock);
}

