/* trend.c - robust trend verdicts for live-bytes series.
 * Slopes are Theil-Sen (median of pairwise slopes), so one spike cannot fake
 * a leak; the growing/shrinking confidence is the one-sided Mann-Kendall
 * test, which needs no assumption about the noise.  Pure functions: no I/O,
 * no globals. */
#include "trend.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pairwise statistics are O(n^2); series longer than this are thinned to
 * evenly spaced samples first (the dumper keeps at most a few hundred). */
#define TREND_MAX_POINTS 256

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Theil-Sen slope of samples [from, n).  Returns 0 for fewer than 2 points. */
static double theil_sen(const double *t, const double *y, size_t from, size_t n)
{
    size_t m = n - from, k = 0;
    if (n < from + 2)
        return 0.0;
    double *slopes = malloc(m * (m - 1) / 2 * sizeof(*slopes));
    if (slopes == NULL)
        return (y[n - 1] - y[from]) / (t[n - 1] - t[from] > 0 ? t[n - 1] - t[from] : 1.0);
    for (size_t i = from; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (t[j] > t[i])
                slopes[k++] = (y[j] - y[i]) / (t[j] - t[i]);
    double s = 0.0;
    if (k > 0) {
        qsort(slopes, k, sizeof(*slopes), cmp_double);
        s = k % 2 ? slopes[k / 2] : (slopes[k / 2 - 1] + slopes[k / 2]) / 2.0;
    }
    free(slopes);
    return s;
}

/* Mann-Kendall S statistic: concordant minus discordant pairs. */
static double kendall_s(const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            s += (y[j] > y[i]) - (y[j] < y[i]);
    return s;
}

/* One-sided confidence that the trend has the sign of 's' (normal
 * approximation with continuity correction; ties ignored). */
static double mk_confidence(double s, size_t n)
{
    double var = (double)n * (n - 1) * (2.0 * n + 5) / 18.0;
    if (var <= 0)
        return 0.0;
    double z = (fabs(s) - 1.0) / sqrt(var);
    if (z < 0)
        z = 0;
    return 0.5 * erfc(-z / sqrt(2.0));
}

int lk_trend_fit(const double *t_in, const double *y_in, size_t n_in,
                 double noise_bytes, lk_trend_t *out)
{
    double t[TREND_MAX_POINTS], y[TREND_MAX_POINTS];
    size_t n;

    if (t_in == NULL || y_in == NULL || out == NULL)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->kind = LK_TREND_INSUFFICIENT;
    if (n_in == 0)
        return 0;
    for (size_t i = 1; i < n_in; i++)
        if (t_in[i] < t_in[i - 1])
            return -EINVAL;

    /* Thin to at most TREND_MAX_POINTS, always keeping both ends. */
    if (n_in <= TREND_MAX_POINTS) {
        n = n_in;
        memcpy(t, t_in, n * sizeof(*t));
        memcpy(y, y_in, n * sizeof(*y));
    } else {
        n = TREND_MAX_POINTS;
        for (size_t i = 0; i < n; i++) {
            size_t src = i * (n_in - 1) / (n - 1);
            t[i] = t_in[src];
            y[i] = y_in[src];
        }
    }

    out->first_bytes = y[0];
    out->last_bytes = y[n - 1];
    out->min_bytes = out->max_bytes = y[0];
    for (size_t i = 1; i < n; i++) {
        if (y[i] < out->min_bytes) out->min_bytes = y[i];
        if (y[i] > out->max_bytes) out->max_bytes = y[i];
    }
    out->duration_s = t[n - 1] - t[0];
    out->slope_bytes_per_s = theil_sen(t, y, 0, n);
    if (n < LK_TREND_MIN_SAMPLES || out->duration_s <= 0)
        return 0;

    double noise = noise_bytes > 0 ? noise_bytes : fmax(4096.0, out->max_bytes * 0.01);
    double range = out->max_bytes - out->min_bytes;
    double s = kendall_s(y, n);
    out->tau = s / ((double)n * (n - 1) / 2.0);

    /* The recent window: the last third of the time span, and at least the
     * last third of the samples (three at least).  By time too, because a
     * signal snapshot and a timeline sample taken a moment apart are two
     * samples of one instant: counted alone they can make a steady rise look
     * flat at its end. */
    size_t recent = n / 3 < 3 ? 3 : n / 3;
    if (recent > n)
        recent = n;
    size_t from = n - recent;
    double since = t[n - 1] - (t[n - 1] - t[0]) / 3.0;
    while (from > 0 && t[from - 1] >= since)
        from--;
    out->recent_slope_bytes_per_s = theil_sen(t, y, from, n);
    double recent_change = out->recent_slope_bytes_per_s * (t[n - 1] - t[from]);
    double net = out->last_bytes - out->first_bytes;

    if (range <= noise) {
        out->kind = LK_TREND_STABLE;
        out->confidence = 1.0 - range / (2.0 * noise);
        return 0;
    }
    if (out->tau > 0.5 && net > noise && recent_change > noise / 2) {
        out->kind = LK_TREND_GROWING;
        out->confidence = mk_confidence(s, n);
        return 0;
    }
    if (net > noise && fabs(recent_change) <= fmax(noise / 2, 0.05 * range)
        && out->last_bytes >= out->first_bytes + 0.8 * (out->max_bytes - out->first_bytes)) {
        /* Rose, then held: how clearly it rose before, times how flat the end is. */
        double rise_conf = mk_confidence(kendall_s(y, from + 1), from + 1);
        out->kind = LK_TREND_PLATEAU;
        out->confidence = rise_conf * (1.0 - fabs(recent_change) / range);
        return 0;
    }
    if (out->tau < -0.5 && -net > noise) {
        out->kind = LK_TREND_SHRINKING;
        out->confidence = mk_confidence(s, n);
        return 0;
    }
    /* Moves, but with no consistent direction. */
    out->kind = LK_TREND_STABLE;
    out->confidence = 1.0 - fabs(out->tau);
    return 0;
}

const char *lk_trend_name(lk_trend_kind_t kind)
{
    switch (kind) {
    case LK_TREND_STABLE:    return "stable";
    case LK_TREND_GROWING:   return "growing";
    case LK_TREND_PLATEAU:   return "plateau";
    case LK_TREND_SHRINKING: return "shrinking";
    case LK_TREND_INSUFFICIENT: break;
    }
    return "insufficient";
}

double lk_trend_time_to_limit(double current, double slope, double limit)
{
    if (slope <= 0 || current >= limit)
        return -1.0;
    return (limit - current) / slope;
}

size_t lk_sparkline(const double *v, size_t n, size_t width, char *buf, size_t len)
{
    static const char *const bars[8] = {
        "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"
    };
    size_t cells = n < width ? n : width, used = 0, out = 0;
    double lo, hi;

    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (v == NULL || n == 0 || width == 0)
        return 0;
    lo = hi = v[0];
    for (size_t i = 1; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    for (size_t c = 0; c < cells; c++) {
        /* Each cell shows the maximum of the samples it covers. */
        size_t a = c * n / cells, b = (c + 1) * n / cells;
        double m = v[a];
        for (size_t i = a; i < b; i++)
            if (v[i] > m) m = v[i];
        int level = hi > lo ? (int)((m - lo) / (hi - lo) * 7.0 + 0.5) : 0;
        if (used + 4 > len)
            break;
        memcpy(buf + used, bars[level], 3);
        used += 3;
        buf[used] = '\0';
        out++;
    }
    return out;
}

char *lk_human_bytes(double bytes, char *buf, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    size_t u = 0;
    double v = fabs(bytes);
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    if (bytes < 0)
        v = -v;
    if (u == 0)
        snprintf(buf, len, "%.0f B", v);
    else
        snprintf(buf, len, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

char *lk_human_duration(double s, char *buf, size_t len)
{
    if (s < 0)
        snprintf(buf, len, "never");
    else if (s < 90)
        snprintf(buf, len, "about %.0f s", s);
    else if (s < 90 * 60)
        snprintf(buf, len, "about %.0f min", s / 60);
    else if (s < 48 * 3600)
        snprintf(buf, len, "about %.0f h", s / 3600);
    else
        snprintf(buf, len, "about %.0f days", s / 86400);
    return buf;
}
