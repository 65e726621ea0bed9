/* svg.h - a self-contained SVG line chart of live bytes over time.
 * No scripts, no external fonts or styles: the file opens in any browser,
 * and the same markup can be embedded in an HTML page (lk_svg_opts_t.embed). */
#ifndef LK_SVG_H
#define LK_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct lk_svg_series {
    const char *label;     /* legend text; shortened for the legend, in full in its <title> */
    const double *t_s;     /* sample times, seconds, ascending */
    const double *bytes;   /* live bytes at each time */
    size_t n;
    const char *where;     /* "file.c:12" kept at the end of a shortened label; may be NULL */
} lk_svg_series_t;

/* A point event on the time axis: a failed request or a snapshot. */
typedef struct lk_svg_mark {
    double t_s;
    double bytes;          /* live bytes then: where a failure marker sits */
    const char *label;     /* short text ("malloc(64 TiB)"); may be NULL */
    const char *detail;    /* hover text; may be NULL */
} lk_svg_mark_t;

/* Everything around the series; zero means "none" for every field. */
typedef struct lk_svg_opts {
    double limit_bytes;            /* > 0: a limit line when within 4x of the peak */
    const char *limit_label;       /* what the limit is ("RLIMIT_AS"); may be NULL */
    const lk_svg_mark_t *failures; size_t nfailures;
    const lk_svg_mark_t *snapshots; size_t nsnapshots;
    int pid;                       /* > 0: written as data-pid on the root */
    bool embed;                    /* no XML prolog: for inline SVG in HTML */
} lk_svg_opts_t;

/* Y-axis ticks: 0, step, ..., top, with step 1, 2 or 5 x 10^k of 'unit'
 * bytes (1024^k, named 'unit_name'); 'decimals' digits after the point. */
typedef struct lk_svg_ticks {
    double unit, step, top;
    const char *unit_name;
    int decimals;
    size_t count;
} lk_svg_ticks_t;

/* Choose about five round ticks covering 0..'max_bytes' in one human unit. */
void lk_svg_yticks(double max_bytes, lk_svg_ticks_t *out);

/* Format tick 'k' of 't' ("0", "20 MiB", "0.5 GiB") into 'buf'; returns it. */
const char *lk_svg_tick_label(const lk_svg_ticks_t *t, size_t k, char *buf, size_t len);

/* Write a chart of 'nseries' series to 'out'.  The first series is the
 * process total: drawn first, wide and pale, so the sites stay visible on
 * top of it.  'limit_bytes' > 0 draws the memory limit as a dashed line
 * when it is within 4x of the data's peak.
 * Returns 0, or -EIO when writing failed. */
int lk_svg_chart(FILE *out, const char *title, const lk_svg_series_t *series,
                 size_t nseries, double limit_bytes);

/* lk_svg_chart with failure markers, snapshot marks, a named limit and the
 * embed flag from 'opts' (NULL: none).  Returns 0 or -EIO. */
int lk_svg_chart_opts(FILE *out, const char *title, const lk_svg_series_t *series,
                      size_t nseries, const lk_svg_opts_t *opts);

#endif /* LK_SVG_H */
