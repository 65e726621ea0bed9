/* model.h - leak-analyze's data model: what the loader builds from dumps and
 * what every analysis pass and report reads.  The map of the analyzer: each
 * cross-file declaration lives here, with its contract.
 *
 * Pipeline (main.c runs it in this order; layers in analyzer/README.md):
 *   load.c, load_reach.c   dumps -> lk_input_t (processes, each a seq-ordered
 *                          dump series, reachability parsed)
 *   symbolize.c, frames.c  addresses -> lk_frame_t; trimmed user frames, keys
 *   suppress.c    built-in and LSan-format suppressions
 *   leaks.c       final dump -> lk_leak_t list: trim, suppress, sort, totals
 *   growth.c, overflow.c, reach.c   growth, verdict, structures and held-by
 *   baseline.c    --baseline ratchet and `diff`
 *   report_*.c    one file per format, over report_common.c
 * Passes read lk_input_t and add to lk_report_t; reports only read it.
 *
 * Ownership: everything hangs off lk_input_t or lk_report_t and is freed by
 * lk_input_free() / lk_report_free().  Strings are heap copies. */
#ifndef LK_ANALYZER_MODEL_H
#define LK_ANALYZER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "libleak/dump.h"

/* Exit statuses (STYLE 2.5). */
#define LK_EXIT_OK    0
#define LK_EXIT_GATE  1   /* --fail-on-leak / --max-leak-bytes / --baseline tripped */
#define LK_EXIT_INPUT 2   /* bad usage or bad input */

/* Sanity bounds for "absurd numbers" in a dump.  A byte or block count above
 * LK_MAX_COUNT cannot come from a real process (2^62 bytes is 4 EiB). */
#define LK_MAX_COUNT   (UINT64_C(1) << 62)
#define LK_MAX_FRAMES  4096          /* frames in one stack */
#define LK_MAX_PID     INT32_MAX

/* ### the dump, as loaded (load.c) */

/* One loaded ELF object of a process (dump "modules[]"). */
typedef struct lk_dump_module {
    char *path;
    uint64_t base;          /* load bias (dlpi_addr) */
    uint64_t size_bytes;    /* extent of PT_LOADs from base; 0 if unknown */
    char *build_id;         /* lowercase hex, or NULL */
    bool path_escaped;      /* 'path' has bytes >= 0x80 as \xNN (not UTF-8) */
    bool unloaded;          /* dlclose'd before the dump (the fields below are set) */
    uint64_t load_uptime_ns, unload_uptime_ns;
    uint64_t stacks_before_unload;  /* stacks with a lower id may point into it */
} lk_dump_module_t;

/* One deduplicated call stack (dump "stacks[]"). */
typedef struct lk_stack {
    uint64_t id;            /* stable within a pid */
    uint64_t *frames;       /* raw return addresses, innermost first */
    size_t nframes;
    bool truncated;
    bool jit_cut;           /* the last frame is generated code (no unwind info) */
} lk_stack_t;

/* One (stack, family) that allocated (dump "sites[]").  Counters the dump
 * omits are 0. */
typedef struct lk_site {
    uint64_t stack_id;
    size_t stack_idx;       /* index into lk_dump_t.stacks, resolved by the loader */
    lk_family_t family;
    uint64_t live_blocks, live_bytes;
    uint64_t total_blocks, total_bytes, freed_blocks;
    uint64_t peak_live_bytes, max_request_bytes;
} lk_site_t;

/* A wrong-deallocator group (dump "mismatches[]"). */
typedef struct lk_mismatch {
    size_t alloc_stack_idx, free_stack_idx;
    lk_family_t alloc_family;
    lk_family_t free_family;
    uint64_t count, bytes;
} lk_mismatch_t;

/* A failed or implausible request group (dump "failures[]"), analysed by
 * overflow.c. */
typedef struct lk_failure {
    size_t stack_idx;
    lk_failure_kind_t kind;
    char *function;         /* "malloc", "calloc", "new[]", ... */
    uint64_t request_bytes, count;
    uint64_t first_uptime_ns, last_uptime_ns, live_bytes_at_first;
} lk_failure_t;

/* timeline.sites[]: one site's live bytes at each of the n samples;
 * LK_TL_ABSENT where it was not among the biggest sites then (null). */
#define LK_TL_ABSENT UINT64_MAX
/* Refuse more timeline.sites entries than this (libleak writes at most
 * LIBLEAK_TL_MAX_SITES): the duplicate check is quadratic. */
#define LK_TL_MAX_SITES 1024
typedef struct lk_tl_site {
    uint64_t stack_id;
    size_t stack_idx;       /* index into lk_dump_t.stacks, resolved by the loader */
    lk_family_t family;
    uint64_t *live_bytes;   /* n entries */
} lk_tl_site_t;

/* The dump's "timeline": parallel arrays of n samples, oldest first. */
typedef struct lk_timeline {
    size_t n;
    uint64_t *uptime_ns, *live_bytes, *rss_bytes, *allocs, *frees;
    lk_tl_site_t *sites; size_t nsites;     /* distinct (stack, family) */
} lk_timeline_t;

/* Memory limits at dump time; has_* false when the dump says null/absent. */
typedef struct lk_limits {
    bool has_rlimit_as, has_rlimit_data, has_cgroup_max;
    uint64_t rlimit_as_bytes, rlimit_data_bytes, cgroup_max_bytes;
    uint64_t phys_bytes, effective_bytes;
    int cgroup_version;     /* 1 or 2: whose file set cgroup_max_bytes; 0 unknown */
} lk_limits_t;

typedef struct lk_totals {
    uint64_t live_bytes, live_blocks, peak_live_bytes;
    uint64_t alloc_count, alloc_bytes, free_count, failed_count;
    uint64_t untracked_frees, mismatched_frees, dropped_events;
    bool complete;
    uint64_t unwinds_fallback;  /* cost.unwinds_fallback; 0 when absent (older dumps) */
    /* a forked child's: blocks it inherited, still live, in none of its sites;
     * inherited_from_pid 0 when the dump is no forked child's */
    uint64_t inherited_from_pid, inherited_blocks, inherited_bytes;
} lk_totals_t;

/* One dump file, fully parsed and validated. */
typedef struct lk_dump {
    char *file;             /* path as given / found */
    int version;
    int pid, ppid;
    unsigned image;         /* its process's lk_process_t.image (set by grouping) */
    char *exe;              /* may be NULL */
    /* the program as invoked (argv[0]'s basename, as ps shows it; exe's
     * basename without a cmdline), where exe is the resolved file; may be NULL */
    char *name;
    uint64_t start_unix_ms;
    uint64_t seq;
    lk_trigger_t trigger;
    char *label;            /* may be NULL */
    uint64_t unix_ms, uptime_ns, rss_bytes;
    /* dump.image_id (which program image of the pid; the grouping infers
     * it from start time and exe without one) and a forked child's
     * dump.fork_uptime_ns; has_* false when the dump has none (older dumps) */
    bool has_image_id, has_fork_uptime;
    uint64_t image_id, fork_uptime_ns;
    uint64_t max_depth, sample_bytes;
    lk_limits_t limits;
    lk_totals_t totals;
    lk_dump_module_t *modules; size_t nmodules;
    lk_stack_t *stacks; size_t nstacks;
    lk_site_t *sites; size_t nsites;
    lk_mismatch_t *mismatches; size_t nmismatches;
    lk_failure_t *failures; size_t nfailures;
    lk_timeline_t timeline;
    /* The dump's "crash" (the process died of signal 'crash_signal', 0 =
     * none): si_code, the faulting thread, its fault address and stack. */
    int crash_signal, crash_code;
    uint64_t crash_tid, crash_addr;
    bool crash_has_addr, crash_has_stack;
    size_t crash_stack_idx;
    /* The dump's "reachability" object (a jansson json_t *, one reference
     * owned here), NULL when absent; 'reach' is its parsed, validated form
     * (load_reach.c), NULL when absent. */
    void *reach_json;
    struct lk_reach *reach;
} lk_dump_t;

/* The dumps of one process (same pid and start time), ordered by seq; the
 * last one is its final state. */
typedef struct lk_process {
    int pid, ppid;
    uint64_t start_unix_ms;
    /* which program image of 'pid' this is: 0 for the first, 1 for the one
     * it exec'd, ...; (pid, image) names a process in every pass */
    unsigned image;
    lk_dump_t **dumps; size_t ndumps;
} lk_process_t;

typedef struct lk_input {
    lk_process_t *procs; size_t nprocs;   /* ordered by pid */
    lk_dump_t **dumps; size_t ndumps;     /* every dump, owned here */
} lk_input_t;

/* Parse 'len' bytes at 'buf' as one dump named 'name' (used in messages).
 * On success stores a new dump in '*out' and returns 0; on failure returns
 * -EINVAL (or -ENOMEM) and writes a one-line "name: json.path: problem"
 * message into 'err' ('errlen' bytes).  Never crashes on any input; this is
 * the libFuzzer entry (tests/fuzz/fuzz_load.c). */
int lk_load_buffer(const char *name, const char *buf, size_t len,
                   lk_dump_t **out, char *err, size_t errlen);

/* Read 'path' (a dump file or a directory of libleak.*.json dumps) and add
 * its dumps to 'in'.  Same error contract as lk_load_buffer(); -errno for
 * unreadable paths.  Warns on stderr about leftover .tmp files. */
int lk_load_path(lk_input_t *in, const char *path, char *err, size_t errlen);

/* Group the loaded dumps into processes, ordered by pid then seq. */
int lk_input_group(lk_input_t *in, char *err, size_t errlen);

void lk_dump_free(lk_dump_t *d);
void lk_input_free(lk_input_t *in);

/* Name tables (dump.h enums); return "?" out of range. */
const char *lk_family_name(lk_family_t f);
const char *lk_trigger_name(lk_trigger_t t);
const char *lk_failure_name(lk_failure_kind_t k);
/* "SIGSEGV" for 11, ...; "signal" when unknown. */
const char *lk_signal_name(int sig);

/* ### symbolization (symbolize.c) */

/* One symbolized frame; an inlined call expands into several lk_frame_t with
 * the same address, innermost first. */
typedef struct lk_frame {
    uint64_t address;       /* raw return address from the dump */
    uint64_t offset;        /* address - 1 - module base (the looked-up pc) */
    const char *function;   /* demangled; NULL if unknown */
    const char *file;       /* source file; NULL if unknown */
    int line;               /* 0 if unknown */
    const char *module;     /* module path; NULL if no module contains it */
    bool inlined;           /* this frame was inlined into the next one */
} lk_frame_t;

typedef struct lk_symbolizer lk_symbolizer_t;

/* Create a symbolizer.  Strings in the frames it returns live until
 * lk_symbolizer_free().  'warn' receives one-line warnings (NULL = stderr). */
lk_symbolizer_t *lk_symbolizer_new(FILE *warn);
void lk_symbolizer_free(lk_symbolizer_t *s);

/* Symbolize stack 'st' of dump 'd': store a malloc'd array of frames in
 * '*out' (caller frees the array only) and their count in '*nout'.  Inlined
 * frames are expanded.  A missing binary or a build-id mismatch falls back to
 * module+offset and warns once per module.  Returns 0 or -ENOMEM. */
int lk_symbolize_stack(lk_symbolizer_t *s, const lk_dump_t *d, const lk_stack_t *st,
                       lk_frame_t **out, size_t *nout);

/* Demangle 'name' if it is a C++ mangled name: returns a malloc'd string,
 * or NULL if it is not mangled or no demangler is available. */
char *lk_demangle(const char *name);

/* A data symbol of a global root (held_by): name and the variable's
 * declaration, each NULL/0 when unknown.  Strings live until
 * lk_symbolizer_free(). */
typedef struct lk_data_sym {
    const char *name;       /* demangled */
    uint64_t sym_offset;    /* the word's offset inside the symbol */
    const char *decl_file;
    int decl_line;
} lk_data_sym_t;

/* Find the STT_OBJECT/STT_TLS symbol of module 'path' (from dump 'd', whose
 * build-id is checked) whose [value, value+size) holds file address
 * 'offset', and the DW_TAG_variable declaring it.  Returns 0 with *out
 * filled (name NULL when no symbol contains it), or -ENOMEM. */
int lk_symbolize_data(lk_symbolizer_t *s, const lk_dump_t *d, const char *path,
                      uint64_t offset, lk_data_sym_t *out);

/* Number of distinct pcs looked up in libdw (cache misses), for tests. */
size_t lk_symbolizer_lookups(const lk_symbolizer_t *s);

/* ### suppressions (suppress.c) */

typedef struct lk_supp {
    char *pattern;          /* LSan pattern: '*' wildcard, '^' '$' anchors */
    const char *builtin;    /* non-NULL: name of a built-in rule */
    /* leak-stack: rules: one template per frame from #0, each NUL-ended */
    char *frames;
    size_t nframes;
    const char *source;     /* file name, or "builtin" */
    int line;
    uint64_t hits, bytes, blocks;   /* leak sites hidden and what they held */
} lk_supp_t;

typedef struct lk_supp_list {
    lk_supp_t *v; size_t n;
} lk_supp_list_t;

/* Add the built-in rules (C++ emergency pool, stdio buffers, loader/TLS). */
int lk_supp_add_builtins(lk_supp_list_t *l);
/* Parse LSan-format 'path' ("leak:PATTERN", '#' comments) and libleak's
 * "leak-stack:T0;T1;..." (frame #i matches Ti).  Other types (e.g.
 * "race:") are rejected.  Same error contract as the loader. */
int lk_supp_load(lk_supp_list_t *l, const char *path, char *err, size_t errlen);
/* Return the first rule matching the symbolized stack, or NULL. */
lk_supp_t *lk_supp_match(lk_supp_list_t *l, const lk_frame_t *f, size_t n);
/* The rule as a suppressions file spells it: "leak:P", "leak-stack:P" or
 * the built-in's name; 'buf' holds it when it is composed. */
const char *lk_supp_text(const lk_supp_t *s, char *buf, size_t len);
/* Most frames a leak-stack: rule names (and --gen-suppressions writes). */
#define LK_SUPP_STACK_MAX 16
/* LSan template match of 'pattern' against 's'. */
bool lk_supp_template_match(const char *pattern, const char *s);
void lk_supp_list_free(lk_supp_list_t *l);

/* ### leaks and the report (leaks.c) */

/* What kind of live memory a leak entry is: a dump with a reachability
 * scan gives the four valgrind kinds, one without it LK_KIND_UNFREED. */
typedef enum lk_kind {
    LK_KIND_UNFREED = 0,    /* live at the final dump; reachability unknown */
    LK_KIND_DEFINITE,
    LK_KIND_INDIRECT,
    LK_KIND_POSSIBLE,
    LK_KIND_REACHABLE,
    LK_KIND_COUNT
} lk_kind_t;
#define LK_KIND_NAMES { "unfreed", "definite", "indirect", "possible", "reachable" }
/* --show's extra bit: a forked child's inherited blocks (one line each) */
#define LK_SHOW_INHERITED (1u << LK_KIND_COUNT)
/* LSan/valgrind wording for the text report's headings. */
#define LK_KIND_HEADINGS { "Unfreed", "Direct leak", "Indirect leak", \
                           "Possible leak", "Still reachable" }
const char *lk_kind_name(lk_kind_t k);
const char *lk_kind_heading(lk_kind_t k);
/* Parse a kind name; returns -1 if unknown. */
int lk_kind_parse(const char *name);

/* ### user frames and site keys (frames.c) */

/* Trim allocator frames from the top of 'f'; returns how many to skip. */
size_t lk_leaks_trim(const lk_frame_t *f, size_t n);
/* Symbolize 'st' of 'd', trim allocator frames and cut below main(); *out
 * is malloc'd (caller frees), *trimmed (when not NULL) the frames skipped. */
int lk_user_frames(lk_symbolizer_t *sym, const lk_dump_t *d, const lk_stack_t *st,
                   lk_frame_t **out, size_t *nout, size_t *trimmed);

/* The key that identifies a site across rebuilds: family plus, per frame,
 * function and file basename (or module basename when unknown).  Lines and
 * addresses are left out, so shifted code keeps its key.  Malloc'd. */
char *lk_baseline_key(lk_family_t fam, const lk_frame_t *f, size_t n);
/* The key of a leak entry: lk_baseline_key() plus "#<kind>" for the scan's
 * kinds, so a definite and an indirect part of one site differ.
 * Baselines ignore reachable entries. */
char *lk_baseline_leak_key(lk_kind_t kind, lk_family_t fam, const lk_frame_t *f, size_t n);

/* ### reachability, as loaded (load_reach.c; docs/FORMAT.md "Reachability") */

/* Root kinds of held_by[] (dump.h LK_REACH_ROOT_NAMES order). */
typedef enum lk_root {
    LK_ROOT_GLOBAL = 0, LK_ROOT_STACK, LK_ROOT_TLS, LK_ROOT_REGISTERS, LK_ROOT_COUNT
} lk_root_t;
const char *lk_root_name(lk_root_t r);

/* One (site, kind) part of the scan: reachability.sites[]. */
typedef struct lk_reach_site {
    uint64_t stack_id;
    size_t stack_idx;       /* index into lk_dump_t.stacks */
    lk_family_t family;
    lk_kind_t kind;         /* never LK_KIND_UNFREED */
    uint64_t blocks, bytes;
} lk_reach_site_t;

/* One member site of a lost structure; has_stack false for the summed rest
 * (the dump's null stack). */
typedef struct lk_reach_member {
    bool has_stack;
    uint64_t stack_id;
    size_t stack_idx;
    lk_family_t family;
    uint64_t blocks, bytes;
} lk_reach_member_t;

/* A group of lost structures of one shape: reachability.structures[]. */
typedef struct lk_reach_struct {
    uint64_t head_stack_id;
    size_t head_stack_idx;
    lk_family_t head_family;
    bool cycle, head_in_cycle;
    uint64_t count, blocks, bytes;
    lk_reach_member_t *members; size_t nmembers;
    bool has_retained;      /* retained_blocks / retained_bytes present */
    uint64_t retained_blocks, retained_bytes;
} lk_reach_struct_t;

/* What one root retains: reachability.retained_by[] (root named as held_by). */
typedef struct lk_reach_retained {
    lk_root_t root;
    char *module;           /* global only, else NULL */
    uint64_t address, offset;
    int64_t tid;            /* -1 when absent */
    uint64_t blocks, bytes;
} lk_reach_retained_t;

/* A block at the top of the dominator tree: reachability.top_retained[]. */
typedef struct lk_reach_top {
    uint64_t address, stack_id;
    size_t stack_idx;
    lk_family_t family;
    lk_kind_t kind;         /* LK_KIND_REACHABLE or LK_KIND_POSSIBLE */
    uint64_t bytes, retained_blocks, retained_bytes;
    int64_t by;             /* index into retained_by, -1 for null */
} lk_reach_top_t;

/* (root, site, kind) -> blocks, bytes: reachability.held_by[]. */
typedef struct lk_reach_held {
    lk_root_t root;
    char *module;           /* global only, else NULL */
    uint64_t address, offset;   /* global only */
    int64_t tid;            /* stack/tls/registers; -1 when absent */
    lk_kind_t kind;         /* LK_KIND_REACHABLE or LK_KIND_POSSIBLE */
    uint64_t stack_id;
    size_t stack_idx;
    lk_family_t family;
    uint64_t blocks, bytes;
} lk_reach_held_t;

typedef struct lk_reach_sum {
    uint64_t count, blocks, bytes;
} lk_reach_sum_t;

typedef struct lk_reach {
    bool complete, cycles_complete;
    uint64_t live_blocks, live_bytes;
    uint64_t threads, threads_sp_unknown, not_stopped, unreadable_bytes;
    lk_reach_sum_t kinds[LK_KIND_COUNT];  /* blocks, bytes per kind (count unused) */
    lk_reach_site_t *sites; size_t nsites;
    lk_reach_struct_t *structs; size_t nstructs;
    lk_reach_sum_t structs_omitted;
    lk_reach_held_t *held; size_t nheld;
    lk_reach_sum_t held_omitted;
    /* retained sizes, when the dump has retained_complete true */
    bool has_retained;
    uint64_t retained_ns, retained_edges_dropped;
    lk_reach_sum_t retained_shared, lost_shared, retained_by_omitted;
    lk_reach_retained_t *retained_by; size_t nretained_by;
    lk_reach_top_t *tops; size_t ntops;
} lk_reach_t;

/* Parse and validate d->reach_json (a no-op when NULL) into d->reach, with
 * stack ids resolved against d->stacks.  Same error contract as
 * lk_load_buffer(): a one-line "name: reachability.path: problem" in 'err'
 * and -EINVAL, or -ENOMEM.  Called by the loader. */
int lk_reach_parse(const char *name, lk_dump_t *d, char *err, size_t errlen);
void lk_reach_free(lk_reach_t *r);

/* One reported leak: a site of one process's final dump. */
typedef struct lk_leak {
    int pid;
    unsigned image;                       /* lk_process_t.image */
    lk_kind_t kind;
    lk_family_t family;
    uint64_t bytes, blocks;
    uint64_t stack_id;
    lk_frame_t *frames; size_t nframes;   /* trimmed: frames[0] is the user's call */
    size_t trimmed;                       /* allocator frames removed */
    char *key;                            /* baseline key (baseline.c) */
    lk_supp_t *suppressed_by;             /* NULL when reported */
    bool is_new, has_grown;               /* set by --baseline */
    uint64_t baseline_bytes;
} lk_leak_t;

/* One mismatched deallocation group, both stacks symbolized and trimmed. */
typedef struct lk_mismatch_report {
    int pid;
    lk_family_t alloc_family, free_family;
    uint64_t count, bytes;
    lk_frame_t *alloc_frames; size_t nalloc;
    lk_frame_t *free_frames; size_t nfree;
} lk_mismatch_report_t;

/* Per-process figures of the report. */
typedef struct lk_proc_summary {
    int pid, ppid;
    unsigned image;                       /* lk_process_t.image */
    const char *exe;
    const char *name;                     /* lk_dump_t.name: how reports name it */
    size_t ndumps;
    uint64_t final_seq;
    const char *final_trigger;
    bool complete;
    uint64_t leaked_bytes, leaked_blocks, leak_sites;
    uint64_t suppressed_bytes, suppressed_blocks;
    /* Unsuppressed live memory per kind; has_reach when the final
     * dump carried a reachability scan. */
    bool has_reach, reach_complete;
    uint64_t kind_bytes[LK_KIND_COUNT], kind_blocks[LK_KIND_COUNT];
    /* The final dump's crash (crash_signal 0 = none) and the faulting
     * thread's symbolized stack (owned; innermost first, untrimmed). */
    int crash_signal, crash_code;
    uint64_t crash_tid, crash_addr;
    bool crash_has_addr;
    lk_frame_t *crash_frames; size_t ncrash_frames;
    /* the final dump's inherited blocks (a forked child), none otherwise */
    uint64_t inherited_from_pid, inherited_blocks, inherited_bytes;
} lk_proc_summary_t;

/* Options that shape the analysis (main.c fills them). */
typedef struct lk_options {
    bool builtin_suppressions;      /* default true */
    bool fail_on_leak;
    bool has_max_leak_bytes;
    uint64_t max_leak_bytes;
    uint64_t min_bytes;             /* text/folded: hide smaller leaks */
    uint64_t top;                   /* text/folded: show at most N; 0 = all */
    bool gen_suppressions;
    const char *baseline;           /* path of OLD, or NULL */
    /* Kinds the gate counts and the text shows; bit
     * (1u << kind).  Default gate: unfreed|definite|indirect. */
    unsigned fail_kinds, show_kinds;
    bool color;                     /* text: ANSI colors (--color) */
    bool full_names;                /* text/folded: keep template arguments */
    bool folded_lines;              /* folded: file:line on each frame */
} lk_options_t;

/* A frame list with its site (structures and held_by reports). */
typedef struct lk_site_ref {
    bool has_stack;         /* false: the summed rest of a structure */
    uint64_t stack_id;
    lk_family_t family;
    uint64_t blocks, bytes;
    lk_frame_t *frames; size_t nframes;   /* trimmed as lk_leak_t.frames */
} lk_site_ref_t;

/* A group of lost structures of one shape (reach.c, from the final dump). */
typedef struct lk_structure_report {
    int pid;
    unsigned image;         /* lk_process_t.image */
    bool cycle, head_in_cycle;
    uint64_t count, blocks, bytes;
    lk_site_ref_t head;
    lk_site_ref_t *members; size_t nmembers;
    bool suppressed;        /* the head's site is suppressed */
    bool has_retained;      /* what freeing the heads gives back */
    uint64_t retained_blocks, retained_bytes;
} lk_structure_report_t;

/* (root, site, kind) -> blocks, bytes, with the root named (reach.c). */
typedef struct lk_held_report {
    int pid;
    unsigned image;         /* lk_process_t.image */
    lk_root_t root;
    lk_kind_t kind;
    char *module;           /* global: module path (malloc'd), else NULL */
    uint64_t offset;        /* global: link-time address of the word */
    const char *symbol;     /* global: data symbol or NULL (symbolizer's) */
    const char *decl_file;  /* global: where the variable is declared */
    int decl_line;
    int64_t tid;            /* other roots; -1 unknown; 0 for tls: cached descriptor */
    bool main_thread;       /* tid == pid */
    lk_site_ref_t site;
    bool suppressed;        /* the site is suppressed */
    bool growing;           /* the site grows steadily (growth pass) */
    double slope_bytes_per_s;
    /* what the whole root retains (summed over its words), when known */
    bool has_retained, retained_at_least;
    uint64_t retained_blocks, retained_bytes;
} lk_held_report_t;

/* What one root retains (reach.c): retained_by[] summed per symbol or thread. */
typedef struct lk_retained_report {
    int pid;
    unsigned image;         /* lk_process_t.image */
    lk_root_t root;
    char *module;           /* global: module path (malloc'd), else NULL */
    uint64_t offset;
    const char *symbol, *decl_file;
    int decl_line;
    int64_t tid;
    bool main_thread;
    bool at_least;          /* several words of one symbol: a lower bound */
    uint64_t blocks, bytes;
} lk_retained_report_t;

/* A block at the top of the dominator tree, with its site (reach.c). */
typedef struct lk_top_report {
    int pid;
    unsigned image;         /* lk_process_t.image */
    uint64_t address;
    lk_kind_t kind;
    uint64_t bytes, retained_blocks, retained_bytes;
    lk_site_ref_t site;
} lk_top_report_t;

/* Everything a report prints.  A new pass adds its arrays here, fills them
 * itself, and is printed from one function per report format. */
typedef struct lk_report {
    lk_leak_t *leaks; size_t nleaks;              /* sorted by bytes, desc */
    lk_mismatch_report_t *mismatches; size_t nmismatches;
    lk_proc_summary_t *procs; size_t nprocs;
    lk_supp_list_t supps;
    uint64_t leaked_bytes, leaked_blocks, leak_sites;        /* unsuppressed */
    uint64_t suppressed_bytes, suppressed_blocks, suppressed_sites;
    bool estimated;         /* a final dump was sampled (LIBLEAK_SAMPLE_BYTES) */
    /* --baseline results */
    bool has_baseline;
    uint64_t new_sites, grown_sites;
    /* gate verdict */
    bool gate_failed;
    char gate_reason[160];
    char **warnings; size_t nwarnings;            /* also printed to stderr */
    /* growth.h: growth, failures and verdict per process; NULL until
     * lk_growth_run(), freed by lk_growth_free(). */
    struct lk_growth_report *growth;
    /* reach.c: unsuppressed totals per kind over all processes,
     * lost structures and held-by of every final dump with a scan. */
    bool has_reach;
    uint64_t kind_bytes[LK_KIND_COUNT], kind_blocks[LK_KIND_COUNT];
    lk_structure_report_t *structures; size_t nstructures;   /* bytes desc */
    lk_held_report_t *held; size_t nheld;                     /* bytes desc */
    lk_retained_report_t *retained; size_t nretained;         /* bytes desc */
    lk_top_report_t *tops; size_t ntops;                      /* retained bytes desc */
} lk_report_t;

/* ### growth, overflow and verdict (growth.c, overflow.c, report_growth.c;
 * details in growth.h) */
typedef struct lk_growth_report lk_growth_report_t;
struct json_t;
/* The growth pass over 'in' into r->growth (allocated here).  0 or -ENOMEM. */
int lk_growth_run(lk_report_t *r, const lk_input_t *in, lk_symbolizer_t *sym);
/* The overflow pass, after lk_growth_run() succeeded: failures[] and every
 * process's verdict into r->growth.  0 or -ENOMEM. */
int lk_overflow_run(lk_report_t *r, const lk_input_t *in, lk_symbolizer_t *sym);
/* Free r->growth (safe when NULL); call before lk_report_free(). */
void lk_growth_free(lk_report_t *r);
/* Text: process 'pid''s growth, failed requests and verdict; nothing when
 * r->growth is NULL. */
void lk_report_growth_text(FILE *out, const lk_report_t *r, int pid, unsigned image);
/* JSON: add "growth", "failures" and "verdict" to the report object 'root'. */
int lk_report_growth_json(struct json_t *root, const lk_report_t *r);
/* SVG chart of total and top sites' live bytes over time (--format=svg,
 * --chart).  Returns 0 or -EIO. */
int lk_report_svg(FILE *out, const lk_report_t *r);
/* The same chart for process 'pid' (0: the one with the longest curve);
 * 'embed' leaves out the XML prolog, for inline SVG in an HTML page. */
int lk_report_svg_proc(FILE *out, const lk_report_t *r, int pid, bool embed);

/* Build the leak list of every process's final dump: symbolize, trim,
 * apply suppressions, sort by bytes.  Returns 0 or -ENOMEM. */
int lk_leaks_collect(lk_report_t *r, const lk_input_t *in, lk_symbolizer_t *sym,
                     const lk_options_t *opt);
/* Decide the gate verdict from 'opt' (sets gate_failed/gate_reason) and
 * return the exit status. */
int lk_leaks_gate(lk_report_t *r, const lk_options_t *opt);
void lk_report_free(lk_report_t *r);

/* ### reachability pass (reach.c; printed by report_reach.c) */

/* Build r->structures and r->held from every process's final dump with a
 * scan (symbolizing data symbols of global roots), and mark held sites
 * that grow (run after lk_growth_run()).  Returns 0 or -ENOMEM. */
int lk_reach_collect(lk_report_t *r, const lk_input_t *in, lk_symbolizer_t *sym);
/* Text: process 'pid''s lost structures and held-by lines. */
void lk_report_reach_text(FILE *out, const lk_report_t *r, const lk_options_t *opt, int pid,
                          unsigned image);
/* Text: valgrind's LEAK SUMMARY block (nothing without a scan). */
void lk_report_reach_summary(FILE *out, const lk_report_t *r);
/* JSON: add "structures" and "held_by" to the report object 'root'. */
int lk_report_reach_json(struct json_t *root, const lk_report_t *r);

/* ### baseline (baseline.c) */

/* One site of a baseline or diff side. */
typedef struct lk_base_site {
    char *key;
    char *where;            /* "function (file:line)" of the top frame */
    uint64_t bytes, blocks;
} lk_base_site_t;

typedef struct lk_base {
    lk_base_site_t *v; size_t n;
} lk_base_t;

/* Load a baseline from 'path': a leak-analyze JSON report, or dumps (a file
 * or directory), which are analysed with 'sym' and 'opt'.  Sites with the
 * same key are summed. */
int lk_base_load(lk_base_t *b, const char *path, lk_symbolizer_t *sym,
                 const lk_options_t *opt, char *err, size_t errlen);
/* Build a baseline from the unsuppressed leaks of 'r'. */
int lk_base_from_report(lk_base_t *b, const lk_report_t *r);
/* Mark new and grown leaks of 'r' against 'old'. */
void lk_base_apply(lk_report_t *r, const lk_base_t *old);
/* Print `leak-analyze diff`: new, gone, grown, shrunk. */
void lk_base_diff(FILE *out, const lk_base_t *old, const lk_base_t *cur);
void lk_base_free(lk_base_t *b);

/* ### reports (report_*.c over report_common.c) */

/* Print 'r' in its format to 'out'.  Return 0 or -errno on write error. */
int lk_report_text(FILE *out, const lk_report_t *r, const lk_options_t *opt);
int lk_report_json(FILE *out, const lk_report_t *r, const lk_options_t *opt);
int lk_report_folded(FILE *out, const lk_report_t *r, const lk_options_t *opt);
/* The JSON frames array every report section uses (report_common.c). */
struct json_t *lk_json_frames(const lk_frame_t *f, size_t n);
/* --gen-suppressions: one "leak-stack:" line per reported stack, with a comment. */
int lk_report_suppressions(FILE *out, const lk_report_t *r, const lk_options_t *opt);

/* Is leak 'l' shown under --top/--min-bytes/show_kinds? ('rank' counts the
 * leaks shown before it). */
bool lk_report_is_shown(const lk_leak_t *l, size_t rank, const lk_options_t *opt);
/* The words before a leak's size: "Direct leak of", "Unfreed:" (a dump
 * without a reachability scan), "Still reachable:"... */
const char *lk_kind_lead(lk_kind_t k);
/* The unsuppressed bytes and blocks of the kinds the gate counts
 * (--fail-on), from per-kind totals: what every SUMMARY line says. */
void lk_report_counted(const uint64_t *kind_bytes, const uint64_t *kind_blocks,
                       const lk_options_t *opt, uint64_t *bytes, uint64_t *blocks);

/* Identifies leak-analyze's JSON report (docs/FORMAT.md). */
#define LK_REPORT_FORMAT  "leak-analyze-report"
#define LK_REPORT_VERSION 1

/* ### small helpers (util.c) */

/* Add a warning to 'r' and print it to stderr as "leak-analyze: warning: ...". */
void lk_report_warn(lk_report_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Last path component of 'path' (no copy). */
const char *lk_basename(const char *path);
char *lk_strdup(const char *s);
/* Text from dumps, DWARF, suppressions and baselines is untrusted: control
 * characters (C0, DEL, C1), bidirectional controls and invalid UTF-8 are
 * shown as "\xNN" per byte, as valgrind and git do; everything else, valid
 * UTF-8 included, stands for itself. */
bool lk_is_printable(const char *s);
/* snprintf-style: write the escaped 's' (NULL reads as "") into 'out'
 * ('outlen' bytes, cut only between characters) and return the full length. */
size_t lk_escape(char *out, size_t outlen, const char *s);
/* Malloc'd escaped copy (NULL for NULL or out of memory). */
char *lk_escape_dup(const char *s);
/* Print "PREFIXmsg\n" with 'msg' escaped and cut to about 1 KiB: every
 * error and warning line goes through here. */
void lk_print_line(FILE *out, const char *prefix, const char *msg);
/* Write 's' as XML character data: the five metacharacters as entities,
 * and what lk_is_printable refuses (XML 1.0 cannot carry control characters)
 * escaped as above first.  NULL writes nothing. */
void lk_fput_xml(FILE *out, const char *s);
/* a + b, saturated at INT64_MAX: the largest count every JSON reader (and
 * --baseline) takes back. */
uint64_t lk_sat_add(uint64_t a, uint64_t b);
/* Parse a size (include/libleak/size.h: "64k", "1T") of at most
 * LK_MAX_COUNT; returns 0 or -EINVAL. */
int lk_parse_size(const char *s, uint64_t *out);
/* The progress line (progress.c): start it before loading when stderr is a
 * terminal, name each phase, and end it (clearing the line) before the
 * report is printed. */
void lk_progress_start(void);
void lk_progress_phase(const char *what);
void lk_progress_end(void);
/* "213 bytes", or "176 MiB (184,379,008 bytes)" from 1 KiB up; returns buf. */
const char *lk_fmt_bytes(char *buf, size_t len, uint64_t v);
/* "184,379,008"; returns buf. */
const char *lk_fmt_count(char *buf, size_t len, uint64_t v);
/* Template argument lists longer than this many characters, or nesting
 * another list, are shortened to "<...>" by lk_short_name(). */
#define LK_SHORT_ARGS 20
/* snprintf-style: write 'name' with long template arguments collapsed into
 * 'out' and return the full length. */
size_t lk_short_name(char *out, size_t outlen, const char *name);

#endif /* LK_ANALYZER_MODEL_H */
