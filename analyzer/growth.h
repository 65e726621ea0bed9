/* growth.h - growth over time, overflow warnings and the verdict
 * "leak or overflow?" in plain words.  growth.c builds each site's live
 * bytes over a process's dumps and fits trends (trend.h); overflow.c
 * symbolizes failures[] and decides the verdict; report_growth.c prints all
 * of it as text, JSON and SVG.  Results hang off lk_report_t.growth and are
 * freed by lk_growth_free().  Reads lk_input_t only; never changes leaks. */
#ifndef LK_ANALYZER_GROWTH_H
#define LK_ANALYZER_GROWTH_H

#include "model.h"
#include "trend.h"

/* A site or total counts as growing for the verdict only when it is
 * "steady": growing above this Mann-Kendall confidence over at least
 * LK_GROWTH_STEADY_SAMPLES samples, and still growing over their later
 * half by at least LK_GROWTH_STEADY_BYTES or 1% of the peak, whichever is
 * more (a start-up step followed by a creep of a few KiB is not a leak),
 * and "kept": the process's final dump still holds at least half of the
 * series' peak (growth freed by the end accumulated; it was not lost). */
#define LK_GROWTH_MIN_CONFIDENCE 0.9
#define LK_GROWTH_STEADY_SAMPLES 6
#define LK_GROWTH_STEADY_BYTES (64.0 * 1024)
/* At most this many sites (growing first) are kept per process. */
#define LK_GROWTH_MAX_SITES 64

/* A live-bytes series: 'n' samples, seconds since process start ascending. */
typedef struct lk_series {
    double *t_s, *bytes;
    size_t n;
} lk_series_t;

/* One site (stack id + family within a pid) whose live bytes moved. */
typedef struct lk_growth_site {
    int pid;
    unsigned image;         /* lk_process_t.image */
    uint64_t stack_id;
    lk_family_t family;
    lk_series_t series;     /* one sample per dump (but a teardown exit dump,
                             * see growth.c); absent from a dump = 0 */
    lk_trend_t trend;
    bool steady;            /* steady growth (see above) */
    const char *unsteady;   /* a growing trend that is not steady: why; else NULL */
    bool kept;              /* steady, and the final dump still holds half its peak:
                             * what the verdict counts */
    uint64_t final_bytes;   /* live at the last dump of 'series' */
    uint64_t end_bytes;     /* live in the process's final dump (teardown included) */
    double share;           /* final_bytes / total live bytes of that dump, 0..1 */
    lk_frame_t *frames; size_t nframes;   /* trimmed: frames[0] is the user's call */
} lk_growth_site_t;

/* The verdict on one process, most severe last. */
typedef enum lk_verdict {
    LK_VERDICT_NONE = 0,         /* no steady growth, nothing failed */
    LK_VERDICT_LEAK_IN_PROGRESS, /* steady growth, nothing failed yet */
    LK_VERDICT_OVERFLOW,         /* an isolated oversized request: not a leak */
    LK_VERDICT_EXHAUSTION,       /* ran out of memory without steady growth */
    LK_VERDICT_LEAK_EXHAUSTION,  /* ran out of memory after steady growth */
    LK_VERDICT_COUNT
} lk_verdict_t;
#define LK_VERDICT_NAMES { "none", "leak_in_progress", "overflow", "exhaustion", \
                           "leak_exhaustion" }
const char *lk_verdict_name(lk_verdict_t v);

/* One failures[] group of a process's final dump, symbolized. */
typedef struct lk_failure_report {
    int pid;
    unsigned image;             /* lk_process_t.image */
    lk_failure_kind_t kind;
    const char *function;       /* borrowed from the dump; may be NULL */
    uint64_t request_bytes, count;
    uint64_t first_uptime_ns, last_uptime_ns, live_bytes_at_first;
    uint64_t limit_bytes;       /* limits.effective_bytes; 0 when unknown */
    int64_t headroom_bytes;     /* limit - live_bytes_at_first; valid if limit_bytes */
    bool oversized;             /* an isolated request too big to ever fit */
    lk_frame_t *frames; size_t nframes;   /* trimmed */
} lk_failure_report_t;

/* One dump of a process, as a mark on the time axis. */
typedef struct lk_growth_snap {
    double t_s;                 /* uptime at the dump */
    uint64_t seq, live_bytes;
    lk_trigger_t trigger;
} lk_growth_snap_t;

/* Growth figures and the verdict of one process. */
typedef struct lk_growth_proc {
    int pid;
    unsigned image;             /* lk_process_t.image */
    size_t ndumps;
    const char *source;         /* "dumps" or "timeline": where 'total' comes from */
    lk_series_t total;          /* total live bytes over time */
    bool teardown_excluded;     /* the exit dump's drop (frees at exit) is left out */
    lk_trend_t trend;           /* of 'total' */
    bool steady;                /* the total grows steadily (see above) */
    const char *unsteady;       /* a growing total that is not steady: why; else NULL */
    bool kept;                  /* steady, and the final dump holds half the peak */
    double end_bytes;           /* the total at the final dump (its last timeline
                                 * sample when 'source' is the timeline) */
    size_t nfreed;              /* steady sites (and the total) freed by the end */
    /* A forked child: its timeline before the fork is its parent's, so only
     * samples from 'fork_sample' on are its own (and inherited blocks are
     * left out of them); fork_parent_seen when the dump's fork time or the
     * parent's dumps told where the fork was, else the child's first own
     * site did. */
    bool forked, fork_parent_seen;
    size_t fork_sample;
    uint64_t final_live_bytes;
    uint64_t limit_bytes;       /* limits.effective_bytes of the final dump; 0 unknown */
    const char *limit_source;   /* the cgroup file kind when that limit is the
                                 * effective one ("cgroup v1 memory.limit_in_bytes"), else NULL */
    const char *limit_name;     /* what 'limit_bytes' is: "RLIMIT_AS", "RLIMIT_DATA",
                                 * 'limit_source', "physical memory"; NULL unknown */
    lk_growth_snap_t *snaps;    /* every dump, in load order ('ndumps' of them) */
    double slope_bytes_per_s;   /* current total slope used for the projection */
    double seconds_to_limit;    /* < 0: no projection */
    size_t ngrowing, nplateau, nshrinking;   /* sites; ngrowing counts kept steady ones */
    uint64_t growing_bytes;     /* final live bytes of the kept steady sites */
    lk_verdict_t verdict;
    char *verdict_text;         /* malloc'd plain words */
} lk_growth_proc_t;

struct lk_growth_report {
    lk_growth_proc_t *procs; size_t nprocs;          /* as lk_input_t.procs */
    lk_growth_site_t *sites; size_t nsites;          /* by pid, growing first */
    lk_failure_report_t *failures; size_t nfailures; /* by pid, largest first */
};

/* growth.c: fill g->procs and g->sites from every process of 'in'.
 * Returns 0 or -ENOMEM. */
int lk_growth_collect(lk_growth_report_t *g, const lk_input_t *in, lk_symbolizer_t *sym);

/* overflow.c: fill g->failures from each process's final dump. */
int lk_overflow_collect(lk_growth_report_t *g, const lk_input_t *in, lk_symbolizer_t *sym);
/* overflow.c: decide every g->procs[].verdict and its text.  -ENOMEM. */
int lk_verdict_decide(lk_growth_report_t *g);

void lk_growth_report_free(lk_growth_report_t *g);

/* Is the record of 'pid' and 'image' one of process 'gp'? */
static inline bool lk_growth_of(const lk_growth_proc_t *gp, int pid, unsigned image)
{
    return gp->pid == pid && gp->image == image;
}

/* Is 'tr', fitted to the 'n' samples at 't'/'y', steady growth? */
bool lk_growth_is_steady(const double *t, const double *y, size_t n, const lk_trend_t *tr);
/* Why a growing 'tr' over 'n' samples at 't'/'y' is not steady, in words
 * ("fewer than 6 samples"); NULL when it is steady or not growing. */
const char *lk_growth_unsteady(const double *t, const double *y, size_t n, const lk_trend_t *tr);

#endif /* LK_ANALYZER_GROWTH_H */
