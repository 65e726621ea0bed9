/* scan.h - the reachability scan: classify live blocks the way valgrind's
 * leak checker does (definite, indirect, possible, reachable), group lost
 * blocks into structures and name the root that holds reachable ones.
 * The core (lk_scan_classify) works on caller-given blocks, roots and a
 * memory reader, so unit tests run it on fake memory without the preload. */
#ifndef LK_SCAN_H
#define LK_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "libleak/dump.h"

struct json_t;

/* Where a root region lies.  Names in LK_REACH_ROOT_NAMES (dump.h). */
typedef enum lk_scan_root_kind {
    LK_ROOT_GLOBAL = 0,     /* writable PT_LOAD segment (.data, .bss) of a module */
    LK_ROOT_STACK,          /* a thread's stack, from its stack pointer up */
    LK_ROOT_TLS,            /* a thread's static TLS block and thread descriptor */
    LK_ROOT_REGISTERS       /* saved registers (dumping thread) or syscall args */
} lk_scan_root_kind_t;

/* One root region [lo, hi).  Strings are borrowed for the scan's lifetime. */
typedef struct lk_scan_root {
    uintptr_t lo, hi;
    int kind;               /* lk_scan_root_kind_t */
    int tid;                /* thread of a stack, tls or registers root; 0 for globals */
    const char *module;     /* path of a global's module, else NULL */
    uintptr_t base;         /* load bias of that module (dlpi_addr) */
    uintptr_t dtv_word;     /* address of glibc's dtv field in a thread descriptor, which
                             * points 16 bytes into the DTV block; 0 if none */
} lk_scan_root_t;

/* One live block.  The caller fills ptr..family; lk_scan_classify() sorts
 * the array by ptr and fills kind and aux. */
typedef struct lk_scan_block {
    uintptr_t ptr;
    uint64_t size;          /* requested bytes */
    uint32_t stack_id;      /* stacks[].id */
    uint32_t hdr_off;       /* offset of the allocator's next chunk header; 0 = not
                             * known yet (asked of opts.usable on demand),
                             * LK_SCAN_NO_HDR = none inside the block */
    uint8_t family;         /* lk_family_t */
    uint8_t kind;           /* out: lk_reach_kind_t */
    uint8_t state;          /* internal */
    uint8_t flags;          /* out: LK_SCAN_F_* on structure heads */
    uint32_t aux;           /* out: holder index (reachable, possible) or head index (lost) */
} lk_scan_block_t;

#define LK_SCAN_F_CYCLE     1u  /* the structure headed here contains a reference cycle */
#define LK_SCAN_F_HEAD_CYC  2u  /* the head itself is pointed to by a member */
#define LK_SCAN_NO_HOLDER   UINT32_MAX
#define LK_SCAN_NO_HDR      UINT32_MAX

/* One read request of a batch.  The reader sets 'got' to the number of bytes
 * copied from 'addr' on (a short count means the next byte is unreadable). */
typedef struct lk_scan_io {
    uintptr_t addr;
    void *dst;
    size_t len;
    size_t got;
} lk_scan_io_t;

/* Read a batch of requests; never faults.  'arg' is the classify argument. */
typedef void (*lk_scan_read_fn)(lk_scan_io_t *io, size_t n, void *arg);

/* What a root word first made reachable: the root region and, for globals,
 * the address of the word itself (the analyzer symbolizes it). */
typedef struct lk_scan_holder {
    uint32_t root;          /* index into the roots given to classify */
    uintptr_t addr;         /* the holding word (globals), else the root's lo */
} lk_scan_holder_t;

typedef struct lk_scan_result {
    uint64_t kind_blocks[4], kind_bytes[4];  /* by lk_reach_kind_t */
    lk_scan_holder_t *holders;   /* owned; free with lk_scan_result_free() */
    size_t nholders;
    uint64_t root_bytes[4];      /* bytes of root memory read, by root kind */
    uint64_t unreadable_bytes;   /* root or block bytes that could not be read */
    uint64_t structures;         /* lost structures (= definite blocks) */
    uint64_t snapshot_bytes;     /* bytes copied up front (0: read block by block) */
    int cycles_complete;         /* 0 when the edge budget ran out: cycle flags may miss */
    /* Retained sizes (the dominator pass), valid when retained_complete: */
    int retained_complete;       /* 0: the pass did not run (edge budget or memory) */
    uint64_t retained_ns;        /* CPU time of the pass */
    uint64_t edges_dropped;      /* block or root edges not recorded (budget, memory) */
    lk_scan_holder_t *droots;    /* the named roots: one per global word, else per region kind and thread */
    size_t ndroots;
    size_t nret;                 /* blocks the arrays below cover (n) */
    uint32_t *idom;              /* [n] lk_domtree_out_t.idom (n + r: named root r) */
    uint64_t *ret_bytes;         /* [n] */
    uint32_t *ret_blocks;        /* [n] */
    uint64_t *root_ret_bytes, *root_ret_blocks;  /* [ndroots] */
    uint64_t shared_blocks, shared_bytes, lost_shared_blocks, lost_shared_bytes;
    uint64_t sort_ops;           /* keys moved or compared sorting the blocks by address */
} lk_scan_result_t;

typedef struct lk_scan_opts {
    lk_scan_read_fn read;   /* the only way memory is read */
    void *arg;              /* passed to 'read' */
    /* The allocator's usable size of the block at 'ptr' (malloc_usable_size),
     * asked only for interior pointers near a block's end; may be NULL. */
    size_t (*usable)(uintptr_t ptr);
    /* Copy all block contents up front when they fit in this many bytes
     * (a few large reads instead of one per block); 0 = never. */
    size_t snapshot_max_bytes;
} lk_scan_opts_t;

/* Classify 'n' blocks against 'nroots' roots, reading memory only through
 * opts->read.  Sorts 'blocks' by address; overlapping or duplicate blocks are
 * tolerated (the later one wins lookups).  Allocates with lk_real_malloc
 * (the preload calls it with the guard held).  Returns 0 or -ENOMEM; on error
 * 'res' holds nothing to free. */
int lk_scan_classify(lk_scan_block_t *blocks, size_t n, const lk_scan_root_t *roots,
                     size_t nroots, const lk_scan_opts_t *opts, lk_scan_result_t *res);
void lk_scan_result_free(lk_scan_result_t *res);

/* Limits of the JSON section (entries beyond them are summed in *_omitted). */
typedef struct lk_scan_json_limits {
    size_t max_held_by;
    size_t max_structures;
    size_t max_members;     /* member entries per structure group */
} lk_scan_json_limits_t;

/* Build the "reachability" object from classified 'blocks' (see FORMAT.md).
 * 'lim' may be NULL for the defaults.  Returns a new reference or NULL when
 * memory ran out. */
struct json_t *lk_scan_build_json(const lk_scan_block_t *blocks, size_t n,
                                  const lk_scan_root_t *roots, size_t nroots,
                                  const lk_scan_result_t *res, const lk_scan_json_limits_t *lim);

/* Reader over this process's memory: process_vm_readv on itself, falling
 * back to a pipe probe where that syscall is forbidden.  'arg' is NULL, or
 * the scan's roots (scan_internal.h's lk_scan_roots_t): then it reads
 * through /proc/self/mem inside the mappings listed readable (no
 * copy-on-write copies), and pages of private anonymous mappings that were
 * never touched read as zeros without being faulted in. */
void lk_scan_read_self(lk_scan_io_t *io, size_t n, void *arg);
/* How lk_scan_read_self reads: 0 /proc/self/mem or process_vm_readv, 1 the pipe probe (set
 * for good once the syscall is refused; tests set it to cover the probe). */
extern int lk_scan_read_mode;

/* The block table the entry point reads: table.c's, or a unit test's fake. */
typedef struct lk_scan_table {
    void (*lock_all)(void);
    void (*unlock_all)(void);
    /* each live block; called with the locks held */
    void (*foreach)(void (*cb)(uintptr_t ptr, size_t size, uint32_t stack_id, int family,
                               void *arg),
                    void *arg);
    size_t (*memory_ranges)(uintptr_t (*ranges)[2], size_t max);   /* never roots */
    size_t (*count)(void);
} lk_scan_table_t;
extern const lk_scan_table_t *lk_scan_table;

/* The preload's entry point: stop allocation, gather roots and blocks, scan,
 * and return the "reachability" section, or NULL on failure.  Caller holds
 * the reentrancy guard and no table lock (the dump writer calls it weakly). */
struct json_t *lk_scan_dump_section(void);
/* The same, for the dump: the section without its three arrays, which are
 * written as text to an lk_real_malloc'd '"sites":[...],"structures":[...],
 * "held_by":[...]' (*arrays, *arrays_len; free it): the text of each entry
 * is kept, not the entry (a tree is ~6 times its text). */
struct json_t *lk_scan_dump_section_ex(char **arrays, size_t *arrays_len);
/* Forks this process made since it began or was forked (trigger.c counts
 * them): a forked child that made none shares its pages with no child of
 * its own, so a page it shares is its parent's, untouched since the fork. */
extern unsigned lk_scan_forks;

#endif /* LK_SCAN_H */
