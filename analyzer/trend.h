/* trend.h - classify a live-bytes time series: growing, plateau, shrinking, stable.
 * Pure numerics, no I/O and no knowledge of dumps: the growth pass feeds it
 * (seconds, bytes) samples per site and for the process total. */
#ifndef LK_TREND_H
#define LK_TREND_H

#include <stddef.h>

typedef enum lk_trend_kind {
    LK_TREND_INSUFFICIENT = 0, /* fewer than LK_TREND_MIN_SAMPLES samples */
    LK_TREND_STABLE,           /* no meaningful change */
    LK_TREND_GROWING,          /* rising through the end: a leak suspect */
    LK_TREND_PLATEAU,          /* rose, then stopped: a cache or high-water mark */
    LK_TREND_SHRINKING         /* falling */
} lk_trend_kind_t;

/* Samples needed before a verdict other than "insufficient". */
#define LK_TREND_MIN_SAMPLES 3

typedef struct lk_trend {
    lk_trend_kind_t kind;
    double slope_bytes_per_s;  /* Theil-Sen slope over the whole series */
    double recent_slope_bytes_per_s; /* Theil-Sen slope over the last third */
    double confidence;         /* 0..1: how strongly the data supports 'kind' */
    double tau;                /* Kendall's tau of bytes against time, -1..1 */
    double first_bytes, last_bytes, max_bytes, min_bytes;
    double duration_s;         /* last sample time minus first */
} lk_trend_t;

/* Fit 'n' samples ('t_s' seconds, ascending; 'bytes') and fill 'out'.
 * 'noise_bytes' is the change below which a series counts as stable (pass 0
 * for the default: 4 KiB or 1% of the peak, whichever is larger).
 * Returns 0, or -EINVAL for a NULL argument or times that go backwards. */
int lk_trend_fit(const double *t_s, const double *bytes, size_t n,
                 double noise_bytes, lk_trend_t *out);

/* Return the lowercase word for 'kind' ("growing", "plateau", ...). */
const char *lk_trend_name(lk_trend_kind_t kind);

/* Seconds until 'current' bytes reach 'limit' bytes at 'slope' bytes/s;
 * a negative value when the slope is not positive or the limit is
 * already passed. */
double lk_trend_time_to_limit(double current, double slope, double limit);

/* Write a UTF-8 sparkline of 'n' values (resampled to at most 'width'
 * cells, each one of U+2581..U+2588) into 'buf' of 'len' bytes, always
 * NUL-terminated.  Returns the number of cells written. */
size_t lk_sparkline(const double *values, size_t n, size_t width, char *buf, size_t len);

/* Format 'bytes' as a short human size ("1.2 MB", "512 MiB" style with
 * binary units: B, KiB, MiB, GiB, TiB) into 'buf'.  Returns 'buf'. */
char *lk_human_bytes(double bytes, char *buf, size_t len);

/* Format 'seconds' as "about 6 min", "about 2 h", "about 40 s". Returns 'buf'. */
char *lk_human_duration(double seconds, char *buf, size_t len);

#endif /* LK_TREND_H */
