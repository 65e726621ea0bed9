/* scan_internal.h - what the scan's files share, and nothing else includes.
 * Layers, top to bottom (each file calls only files below it):
 *   scan.c         the preload's entry: roots, blocks, classify, section
 *   scan_out.c     the dump's "reachability" section
 *   scan_struct.c  structures, held-by and the aggregation map under them
 *   scan_roots.c   this process's roots and the reader of its own memory
 *   scan_mark.c    the classifier: mark, lost cliques, cycles, final kinds,
 *                  dominators (domtree.c: retained sizes) */
#ifndef LK_SCAN_INTERNAL_H
#define LK_SCAN_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "json.h"
#include "scan.h"

#define WORD          sizeof(uintptr_t)
#define PAGE          4096u
#define READ_IOV      256u               /* iovecs per process_vm_readv (<= IOV_MAX), on the stack: 8 KiB */

/* ### scan_mark.c: large scratch memory, mmap'd and populated at once */
void *lk_scan_big_alloc(size_t len);
void lk_scan_big_free(void *p, size_t len);

/* ### scan_roots.c: the roots of this process */

typedef struct lk_scan_map {
    uintptr_t lo, hi;
    int readable;               /* r and not a special or device mapping */
    int stack_like;             /* anonymous rw right above a PROT_NONE guard */
    int used;                   /* already a live thread's stack */
    int prot_none;
    int main_stack;             /* "[stack]" */
    int anon;                   /* private anonymous: a page never touched holds zeros */
} lk_scan_map_t;

typedef struct lk_scan_roots {
    lk_scan_root_t *r;
    size_t n, cap;
    uintptr_t excl[256][2];     /* libleak's own table memory: 64 shards' arrays, side tables, arena chunks */
    size_t nexcl;
    char **strings;             /* module paths we own */
    size_t nstrings;
    int oom;
    uintptr_t self_marker;      /* an address inside libleak.so's data */
    int threads, sp_unknown;
    lk_scan_map_t *maps;        /* /proc/self/maps */
    size_t nmaps;
    size_t static_size, tcb;    /* glibc's static TLS and descriptor sizes */
    int *tids;                  /* the threads found */
    size_t ntids, captids;
    uintptr_t *args, *sps;      /* per thread: syscall args (a root), sp (1 = pending) */
    int pagemap_fd;             /* /proc/self/pagemap, open during a scan */
    int pagemap_state;          /* 0 not tried, 1 open, -1 unavailable */
    uint64_t pages_skipped;     /* never-touched pages read as zeros, not faulted in */
    pid_t pid;                  /* getpid() at the scan's start: one call, not one a read */
    int mem_fd;                 /* /proc/self/mem, open during a scan */
    int mem_state;              /* 0 not tried, 1 open, -1 unavailable */
    uintptr_t mem_lo, mem_hi;   /* the last run of readable mappings found */
} lk_scan_roots_t;

/* Globals (minus rb->excl) and the process's maps: everything that takes
 * loader or libc locks, so before the table locks.  0, or -ENOMEM. */
int lk_scan_roots_modules(lk_scan_roots_t *rb);
/* The low end of this thread's stack root: the frame where it entered
 * libleak (lk_tls_entry), else 'here' (the scan's own frame) less the red
 * zone.  The frames below are libleak's. */
uintptr_t lk_scan_self_stack_lo(uintptr_t here);
/* When this thread entered from libc's exit (lk_tls_entry.outer), move the
 * low end of its stack root up to the program's frame under it (the first
 * frame outside libleak.so, libc and ld.so), whose registers go to 'regs':
 * 1.  0 when there is nothing to move, -1 when the walk failed ('lo' and
 * 'regs' are left alone).  Takes loader locks: before the table locks. */
int lk_scan_entry_outer(uintptr_t *lo, uintptr_t regs[6]);
/* Thread stacks, TLS and registers, after the table locks (a thread blocked
 * in a hook then stays put).  This thread's stack is scanned from 'self_lo'
 * up, and [self_regs, +self_regs_len) holds its registers.  0, or -ENOMEM. */
int lk_scan_roots_threads(lk_scan_roots_t *rb, uintptr_t self_lo, const void *self_regs,
                          size_t self_regs_len);
/* Add [lo, hi) minus libleak's own table memory. */
void lk_scan_add_root(lk_scan_roots_t *rb, uintptr_t lo, uintptr_t hi, int kind, int tid,
                      const char *module, uintptr_t base);
void lk_scan_roots_free(lk_scan_roots_t *rb);

/* ### scan_struct.c: aggregation rows keyed by two words */

typedef struct lk_scan_agg_map {
    uint32_t *vals;             /* row index + 1; 0 = empty slot (keys live in the rows) */
    size_t cap, len;
} lk_scan_agg_map_t;

typedef struct lk_scan_agg_row {
    uint64_t k0, k1;            /* what the row is about; meaning per table */
    uint64_t blocks, bytes, count;
    uint32_t first;             /* a representative block or structure */
} lk_scan_agg_row_t;

typedef struct lk_scan_agg_table {
    lk_scan_agg_map_t map;
    lk_scan_agg_row_t *rows;
    size_t n, cap;
    size_t last;                /* row of the previous add + 1 (runs of one key are common) */
} lk_scan_agg_table_t;

/* Room for 'rows' rows at once, up to a few thousand (a table grown by
 * doubling at exit leaves every old copy behind in the exit arena).  0, or
 * -1. */
int lk_scan_agg_reserve(lk_scan_agg_table_t *t, size_t rows);
/* Add 'bytes' of one block to row (k0, k1).  Returns the row or NULL. */
lk_scan_agg_row_t *lk_scan_agg_add(lk_scan_agg_table_t *t, uint64_t k0, uint64_t k1,
                                   uint64_t bytes, uint32_t rep);
/* Frees and empties the table. */
void lk_scan_agg_table_free(lk_scan_agg_table_t *t);
/* Sort rows most bytes first, then most blocks, then by key; when the
 * first 'top' rows only matter, the rest are left in any order after them.
 * Returns the comparisons made.  Out of memory: qsort. */
uint64_t lk_scan_sort_rows(lk_scan_agg_row_t *rows, size_t n, size_t top);

const char *lk_scan_kind_name(unsigned kind);
const char *lk_scan_root_name(unsigned kind);
const char *lk_scan_family_name(unsigned family);

/* Write the "structures" entries to 'w' and the omitted ones' totals to
 * 'omitted'.  0, or -1 when memory ran out. */
int lk_scan_build_structures(const lk_scan_block_t *b, size_t n, const lk_scan_result_t *res,
                             const lk_scan_json_limits_t *lim, struct json_t *omitted, lk_jw_t *w);
/* Write the "held_by" entries to 'w', likewise. */
int lk_scan_build_held_by(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                          size_t nroots, const lk_scan_result_t *res,
                          const lk_scan_json_limits_t *lim, struct json_t *omitted, lk_jw_t *w);

/* The section's arrays as one text, '"key":[...],"key":[...]', for the
 * dump: one buffer sized once from an estimate (a doubling buffer at exit
 * leaves every old copy behind in the exit arena), the arrays written into
 * it one after the other. */
typedef struct lk_scan_text {
    char *txt;                  /* malloc'd; NUL-terminated by lk_scan_text_open/close */
    size_t len, cap;
    int oom;
    uint64_t grows;             /* times the estimate was short */
    lk_jw_t w;                  /* the open array's writer */
} lk_scan_text_t;

/* An empty text with room for 'cap' bytes (more as needed). */
void lk_scan_text_init(lk_scan_text_t *t, size_t cap);
/* Start array 'key' (after a comma unless it is the first): returns its
 * entries' writer. */
lk_jw_t *lk_scan_text_open(lk_scan_text_t *t, const char *key);
/* End the open array.  0, or -1 when memory ran out. */
int lk_scan_text_close(lk_scan_text_t *t);
void lk_scan_text_free(lk_scan_text_t *t);

/* Add the retained-size keys (retained_complete, retained_by, top_retained,
 * ...) to section 'o', the two arrays to 'text' when it is not NULL (the
 * dump), else to 'o'; when memory runs out, retained_complete false only
 * (and 'text' as it was).  Returns 0. */
int lk_scan_build_retained(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                           size_t nroots, const lk_scan_result_t *res, struct json_t *o,
                           lk_scan_text_t *text);

/* ### scan_out.c: the section.  With 'arrays' (the dump), its arrays are
 * left out of the object and written as text to a malloc'd
 * '"sites":[...],"structures":[...],"held_by":[...]' (then
 * ',"retained_by":[...],"top_retained":[...]' when retained sizes are
 * complete) instead (*arrays, *arrays_len); else (the tree) the object holds
 * them. */
struct json_t *lk_scan_build_section(const lk_scan_block_t *b, size_t n,
                                     const lk_scan_root_t *roots, size_t nroots,
                                     const lk_scan_result_t *res, const lk_scan_json_limits_t *lim,
                                     char **arrays, size_t *arrays_len);

#endif /* LK_SCAN_INTERNAL_H */
