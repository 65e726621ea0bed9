/* dump.h - the libleak dump format: version, key names and enums.
 * Shared by the preload (writer) and leak-analyze (reader); docs/FORMAT.md
 * documents every key.  Key names live only here, so the two sides can
 * never disagree on spelling.  Additive changes keep the version; renames
 * or changed meaning bump it, and readers refuse newer versions. */
#ifndef LIBLEAK_DUMP_H
#define LIBLEAK_DUMP_H

#define LIBLEAK_DUMP_FORMAT  "libleak-dump"
#define LIBLEAK_DUMP_VERSION 1
#define LIBLEAK_TOOL_VERSION "0.1.0"

/* File name shape: <prefix>.<pid>.<seq>.<trigger>.json, written first as
 * .<prefix>.<pid>.<seq>.<trigger>.json.tmp and renamed when complete. */
#define LIBLEAK_DUMP_PREFIX  "libleak"
#define LIBLEAK_DUMP_SUFFIX  ".json"

/* ### top level */
#define LK_KEY_FORMAT        "format"
#define LK_KEY_VERSION       "version"
#define LK_KEY_TOOL_VERSION  "tool_version"
#define LK_KEY_PROCESS       "process"
#define LK_KEY_DUMP          "dump"
#define LK_KEY_CONFIG        "config"
#define LK_KEY_LIMITS        "limits"
#define LK_KEY_TOTALS        "totals"
#define LK_KEY_COST          "cost"
#define LK_KEY_MODULES       "modules"
#define LK_KEY_STACKS        "stacks"
#define LK_KEY_SITES         "sites"
#define LK_KEY_MISMATCHES    "mismatches"
#define LK_KEY_FAILURES      "failures"
#define LK_KEY_TIMELINE      "timeline"
#define LK_KEY_REACH         "reachability"
#define LK_KEY_CRASH         "crash"    /* only in a dump with trigger "crash" */

/* ### crash: the fatal signal (number) and the faulting thread */
#define LK_KEY_CRASH_SIGNAL  "signal"
#define LK_KEY_CRASH_CODE    "code"     /* si_code */
#define LK_KEY_CRASH_ADDRESS "address"  /* si_addr of a fault, hex string, or null */
#define LK_KEY_CRASH_TID     "tid"
#define LK_KEY_CRASH_STACK   "stack"    /* id in stacks[]: frame 0 is the faulting pc */

/* ### process */
#define LK_KEY_PID           "pid"
#define LK_KEY_PPID          "ppid"
#define LK_KEY_EXE           "exe"
#define LK_KEY_CMDLINE       "cmdline"
#define LK_KEY_START_UNIX_MS "start_unix_ms"

/* ### dump */
#define LK_KEY_SEQ           "seq"
#define LK_KEY_TRIGGER       "trigger"
#define LK_KEY_LABEL         "label"
#define LK_KEY_UNIX_MS       "unix_ms"
#define LK_KEY_UPTIME_NS     "uptime_ns"
#define LK_KEY_RSS_BYTES     "rss_bytes"
#define LK_KEY_MODULES_DROPPED "modules_dropped" /* module records libleak could not keep */
#define LK_KEY_IMAGE_ID      "image_id"       /* one per program image: exec starts a new one */
#define LK_KEY_FORK_UPTIME_NS "fork_uptime_ns" /* a forked child's: when it was forked */

/* ### config */
#define LK_KEY_MAX_DEPTH     "max_depth"
#define LK_KEY_SAMPLE_BYTES  "sample_bytes"
#define LK_KEY_INTERVAL_MS   "interval_ms"
#define LK_KEY_SIGNAL        "signal"
#define LK_KEY_WATERMARK_BYTES "watermark_bytes"

/* ### limits (each a number of bytes, or null when there is no limit) */
#define LK_KEY_RLIMIT_AS     "rlimit_as_bytes"
#define LK_KEY_RLIMIT_DATA   "rlimit_data_bytes"
#define LK_KEY_CGROUP_MAX    "cgroup_max_bytes"
#define LK_KEY_PHYS          "phys_bytes"
#define LK_KEY_EFFECTIVE     "effective_bytes"
#define LK_KEY_CGROUP_VERSION "cgroup_version" /* 1 or 2: whose file set cgroup_max_bytes */
#define LK_KEY_CGROUP_FILE   "cgroup_file"     /* that file, e.g. .../memory.limit_in_bytes */

/* ### totals */
#define LK_KEY_LIVE_BYTES    "live_bytes"
#define LK_KEY_LIVE_BLOCKS   "live_blocks"
#define LK_KEY_PEAK_LIVE_BYTES "peak_live_bytes"
#define LK_KEY_ALLOC_COUNT   "alloc_count"
#define LK_KEY_ALLOC_BYTES   "alloc_bytes"
#define LK_KEY_FREE_COUNT    "free_count"
#define LK_KEY_FAILED_COUNT  "failed_count"
#define LK_KEY_UNTRACKED_FREES "untracked_frees"
#define LK_KEY_MISMATCHED_FREES "mismatched_frees"
#define LK_KEY_DROPPED_EVENTS "dropped_events"
#define LK_KEY_COMPLETE      "complete"
#define LK_KEY_ESTIMATED     "estimated"   /* totals: true while sampling (hotpath) */
/* totals of a forked child only (docs/FORMAT.md): the parent's pid at the
 * fork, and the blocks allocated before it that are still live (in no site,
 * no leak of the child, roots to its reachability scan) */
#define LK_KEY_INHERITED_FROM   "inherited_from_pid"
#define LK_KEY_INHERITED_BLOCKS "inherited_blocks"
#define LK_KEY_INHERITED_BYTES  "inherited_bytes"

/* ### cost: libleak's own memory */
#define LK_KEY_BLOCK_TABLE_BYTES "block_table_bytes"
#define LK_KEY_SITE_TABLE_BYTES  "site_table_bytes"
#define LK_KEY_STACK_TABLE_BYTES "stack_table_bytes"
/* cost: every mapping libleak made (tables, dump heap, reserve, dumper
 * stack), and how much of it is resident (mincore) */
#define LK_KEY_ADDRESS_SPACE_BYTES "address_space_bytes"
#define LK_KEY_COST_RSS_BYTES    "rss_bytes"
/* ### cost: stack captures that did not take the fast walk */
#define LK_KEY_UNWINDS_LEARNING  "unwinds_learning"
#define LK_KEY_UNWINDS_FALLBACK  "unwinds_fallback"
#define LK_KEY_UNWINDS_LIBGCC    "unwinds_libgcc"
/* pages of generated code and return addresses without an FDE remembered */
#define LK_KEY_JIT_RANGES        "jit_ranges"
/* return addresses whose frame rule was read from the CFI, without libunwind */
#define LK_KEY_RULES_FROM_CFI    "rules_from_cfi"

/* ### modules */
#define LK_KEY_PATH          "path"
#define LK_KEY_BASE          "base"
#define LK_KEY_SIZE          "size"
#define LK_KEY_BUILD_ID      "build_id"
#define LK_KEY_PATH_ESCAPED  "path_escaped"  /* true: 'path' was not UTF-8, bytes >= 0x80 are \xNN */
/* modules unloaded (dlclose) before the dump; mapped ones have none of these */
#define LK_KEY_LOAD_UPTIME_NS   "load_uptime_ns"    /* first seen mapped */
#define LK_KEY_UNLOAD_UPTIME_NS "unload_uptime_ns"  /* dlclose'd */
#define LK_KEY_STACKS_BEFORE_UNLOAD "stacks_before_unload" /* stack ids below may point in it */

/* ### stacks */
#define LK_KEY_ID            "id"
#define LK_KEY_FRAMES        "frames"
#define LK_KEY_TRUNCATED     "truncated"
#define LK_KEY_JIT_CUT       "jit_cut"     /* true: the last frame is code without unwind info */

/* ### sites */
#define LK_KEY_STACK         "stack"
#define LK_KEY_FAMILY        "family"
#define LK_KEY_TOTAL_BLOCKS  "total_blocks"
#define LK_KEY_TOTAL_BYTES   "total_bytes"
#define LK_KEY_FREED_BLOCKS  "freed_blocks"
#define LK_KEY_MAX_REQUEST   "max_request_bytes"

/* ### mismatches */
#define LK_KEY_ALLOC_STACK   "alloc_stack"
#define LK_KEY_FREE_STACK    "free_stack"
#define LK_KEY_ALLOC_FAMILY  "alloc_family"
#define LK_KEY_FREE_FAMILY   "free_family"
#define LK_KEY_COUNT         "count"
#define LK_KEY_BYTES         "bytes"

/* ### failures */
#define LK_KEY_KIND          "kind"
#define LK_KEY_FUNCTION      "function"
#define LK_KEY_REQUEST_BYTES "request_bytes"
#define LK_KEY_FIRST_UPTIME_NS "first_uptime_ns"
#define LK_KEY_LAST_UPTIME_NS  "last_uptime_ns"
#define LK_KEY_LIVE_BYTES_AT "live_bytes_at_first"

/* ### timeline: an object of parallel arrays, one entry per sample */
#define LK_KEY_TL_UPTIME_NS  "uptime_ns"
#define LK_KEY_TL_LIVE_BYTES "live_bytes"
#define LK_KEY_TL_RSS_BYTES  "rss_bytes"
#define LK_KEY_TL_ALLOCS     "allocs"
#define LK_KEY_TL_FREES      "frees"
/* The biggest sites at each sample: objects of "stack", "family" and
 * "live_bytes" (aligned with uptime_ns; null where the site was not among
 * the biggest then), at most LIBLEAK_TL_MAX_SITES of them. */
#define LK_KEY_TL_SITES      "sites"
#define LIBLEAK_TL_MAX_SITES 64

/* Allocator family of a block: which deallocator must release it. */
typedef enum lk_family {
    LK_FAMILY_MALLOC = 0,   /* malloc, calloc, realloc, memalign family */
    LK_FAMILY_NEW    = 1,   /* operator new (any form) */
    LK_FAMILY_NEW_ARRAY = 2 /* operator new[] (any form) */
} lk_family_t;
#define LK_FAMILY_NAMES { "malloc", "new", "new[]" }

/* Why a dump was written. */
typedef enum lk_trigger {
    LK_TRIGGER_EXIT = 0,
    LK_TRIGGER_SIGNAL,
    LK_TRIGGER_INTERVAL,
    LK_TRIGGER_API,
    LK_TRIGGER_WATERMARK,
    LK_TRIGGER_CRASH        /* a fatal signal: the last dump, with "crash" */
} lk_trigger_t;
#define LK_TRIGGER_NAMES { "exit", "signal", "interval", "api", "watermark", "crash" }

/* Why an allocation request failed or was flagged. */
typedef enum lk_failure_kind {
    LK_FAIL_ENOMEM = 0,      /* the real allocator returned NULL */
    LK_FAIL_MUL_OVERFLOW,    /* calloc/reallocarray count*size overflowed */
    LK_FAIL_IMPLAUSIBLE      /* request above limits.effective_bytes */
} lk_failure_kind_t;
#define LK_FAILURE_NAMES { "enomem", "mul_overflow", "implausible" }

/* ### reachability (preload/scan.c; the "reachability" object, LK_KEY_REACH) */
#define LK_KEY_REACH_COMPLETE     "complete"
#define LK_KEY_REACH_ROOTS_SCANNED "roots_scanned"
#define LK_KEY_REACH_SCAN_NS      "scan_ns"
#define LK_KEY_REACH_SCAN_CPU_NS  "scan_cpu_ns"
#define LK_KEY_REACH_LIVE_BLOCKS  "live_blocks"
#define LK_KEY_REACH_LIVE_BYTES   "live_bytes"
#define LK_KEY_REACH_THREADS      "threads"
#define LK_KEY_REACH_THREADS_SP_UNKNOWN "threads_sp_unknown"
#define LK_KEY_REACH_NOT_STOPPED  "not_stopped"
#define LK_KEY_REACH_EXIT_FRAMES_READ "exit_frames_read"
#define LK_KEY_REACH_ROOT_BYTES   "root_bytes"
#define LK_KEY_REACH_SHARED_ROOT_BYTES "shared_root_bytes"
#define LK_KEY_REACH_UNREADABLE_BYTES "unreadable_bytes"
#define LK_KEY_REACH_KINDS        "kinds"
#define LK_KEY_REACH_SITES        "sites"
#define LK_KEY_REACH_KIND         "kind"
#define LK_KEY_REACH_BLOCKS       "blocks"
#define LK_KEY_REACH_BYTES        "bytes"
#define LK_KEY_REACH_STRUCTURES   "structures"
#define LK_KEY_REACH_STRUCTURES_OMITTED "structures_omitted"
#define LK_KEY_REACH_COUNT        "count"
#define LK_KEY_REACH_HEAD_STACK   "head_stack"
#define LK_KEY_REACH_HEAD_FAMILY  "head_family"
#define LK_KEY_REACH_CYCLE        "cycle"
#define LK_KEY_REACH_HEAD_IN_CYCLE "head_in_cycle"
#define LK_KEY_REACH_CYCLES_COMPLETE "cycles_complete"
#define LK_KEY_REACH_MEMBERS      "members"
#define LK_KEY_REACH_HELD_BY      "held_by"
#define LK_KEY_REACH_HELD_BY_OMITTED "held_by_omitted"
#define LK_KEY_REACH_ROOT         "root"
#define LK_KEY_REACH_TID          "tid"
#define LK_KEY_REACH_MODULE       "module"
#define LK_KEY_REACH_ADDRESS      "address"
#define LK_KEY_REACH_OFFSET       "offset"
/* sites[], members[] and held_by[] also use LK_KEY_STACK and LK_KEY_FAMILY. */
/* Retained sizes (the dominator tree; FORMAT.md "Retained sizes") */
#define LK_KEY_REACH_RETAINED_COMPLETE "retained_complete"
#define LK_KEY_REACH_RETAINED_NS       "retained_ns"
#define LK_KEY_REACH_RETAINED_DROPPED  "retained_edges_dropped"
#define LK_KEY_REACH_RETAINED_SHARED   "retained_shared"
#define LK_KEY_REACH_RETAINED_BY       "retained_by"
#define LK_KEY_REACH_RETAINED_BY_OMITTED "retained_by_omitted"
#define LK_KEY_REACH_TOP_RETAINED      "top_retained"
#define LK_KEY_REACH_RETAINED_BLOCKS   "retained_blocks"
#define LK_KEY_REACH_RETAINED_BYTES    "retained_bytes"
#define LK_KEY_REACH_BY                "by"
#define LK_KEY_REACH_LOST_SHARED       "lost_shared"

/* Limits shared by the preload (which never writes more) and leak-analyze
 * (which refuses a dump with more, so its passes stay fast on any input).
 * Entries of a reachability section beyond them are summed in *_omitted;
 * members[] holds at most LIBLEAK_REACH_MAX_MEMBERS sites plus one summed
 * rest with a null stack. */
#define LIBLEAK_REACH_MAX_HELD_BY    1000
#define LIBLEAK_REACH_MAX_STRUCTURES 1000
#define LIBLEAK_REACH_MAX_MEMBERS    64
#define LIBLEAK_REACH_MAX_RETAINED_BY  1000
#define LIBLEAK_REACH_MAX_TOP_RETAINED 100
/* LIBLEAK_SAMPLE_BYTES: the largest mean sampling interval (1 TiB); the
 * preload warns and keeps the default above it. */
#define LIBLEAK_SAMPLE_BYTES_MAX     (UINT64_C(1) << 40)

/* How a live block was classified (valgrind's leak kinds). */
typedef enum lk_reach_kind {
    LK_REACH_DEFINITE = 0,  /* unreachable, not pointed to by another lost block */
    LK_REACH_INDIRECT,      /* unreachable, but pointed to by another lost block */
    LK_REACH_POSSIBLE,      /* reachable only through an interior pointer somewhere */
    LK_REACH_REACHABLE      /* reachable from a root through start pointers */
} lk_reach_kind_t;
#define LK_REACH_KIND_NAMES { "definite", "indirect", "possible", "reachable" }
/* What a root region is (held_by[].root). */
#define LK_REACH_ROOT_NAMES { "global", "stack", "tls", "registers" }
/* The module of a "global" root that is a forked child's inherited heap
 * block (allocated before the fork), which the child's scan treats as a root. */
#define LK_INHERITED_MODULE "[inherited]"

#endif /* LIBLEAK_DUMP_H */
