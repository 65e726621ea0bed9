/* svg.c - render live-bytes series as one standalone SVG document.
 * People look at a curve before they read a table; this draws the total and
 * the top sites on shared axes, with the memory limit when it is in view. */
#include "svg.h"
#include "trend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "model.h"

#define SVG_W 900
#define SVG_H 420
#define PAD_L 80
#define PAD_R 20
#define PAD_T 40
#define PAD_B 130   /* room for the x-axis label and the legend */

static const char *const colors[] = {
    "#1f3a93", "#d35400", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#f39c12"
};

/* The ticks k * step in [lo, hi], counted as integers: adding a step that
 * is below the float resolution of huge values would never move.  Writes
 * the first k and returns how many (0 when they cannot be placed). */
static long tick_range(double lo, double hi, double step, double *first)
{
    double k0 = ceil(lo / step), k1 = floor(hi / step + 1e-9);
    if (!isfinite(k0) || !isfinite(k1) || k1 < k0 || k1 - k0 > 100)
        return 0;
    *first = k0;
    return (long)(k1 - k0) + 1;
}

/* A "nice" step (1, 2 or 5 times a power of ten) giving about 'ticks' ticks. */
static double nice_step(double range, int ticks)
{
    if (range <= 0)
        return 1.0;
    double raw = range / ticks, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
}

int la_svg_chart(FILE *out, const char *title, const la_svg_series_t *series,
                 size_t nseries, double limit_bytes)
{
    double t0 = INFINITY, t1 = -INFINITY, ymax = 0;
    const double pw = SVG_W - PAD_L - PAD_R, ph = SVG_H - PAD_T - PAD_B;
    char buf[64];

    for (size_t s = 0; s < nseries; s++)
        for (size_t i = 0; i < series[s].n; i++) {
            t0 = fmin(t0, series[s].t_s[i]);
            t1 = fmax(t1, series[s].t_s[i]);
            ymax = fmax(ymax, series[s].bytes[i]);
        }
    if (!isfinite(t0)) {
        t0 = 0;
        t1 = 1;
    }
    if (t1 <= t0)
        t1 = t0 + 1;
    int show_limit = limit_bytes > 0 && limit_bytes <= 4 * fmax(ymax, 1);
    if (show_limit)
        ymax = fmax(ymax, limit_bytes);
    if (ymax <= 0)
        ymax = 1;
    double ystep = nice_step(ymax, 5);
    ymax = ceil(ymax / ystep) * ystep;
    double xstep = nice_step(t1 - t0, 8);

#define X(t) (PAD_L + ((t) - t0) / (t1 - t0) * pw)
#define Y(b) (PAD_T + ph - (b) / ymax * ph)

    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">", PAD_L);
    lk_fput_xml(out, title ? title : "live bytes over time");
    fprintf(out, "</text>\n");

    /* Grid and axis labels. */
    double k0;
    long nt = tick_range(0, ymax, ystep, &k0);
    for (long k = 0; k < nt; k++) {
        double v = (k0 + (double)k) * ystep;
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                PAD_L, SVG_W - PAD_R, Y(v), Y(v));
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                PAD_L - 6, Y(v) + 4, lk_human_bytes(v, buf, sizeof(buf)));
    }
    nt = tick_range(t0, t1, xstep, &k0);
    for (long k = 0; k < nt; k++)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                X((k0 + (double)k) * xstep), (double)(PAD_T + ph + 16), (k0 + (double)k) * xstep);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">seconds since start</text>\n",
            PAD_L + pw / 2, (double)(PAD_T + ph + 34));
    fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            PAD_L, SVG_W - PAD_R, Y(0), Y(0));
    fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            PAD_L, PAD_L, PAD_T, Y(0));

    if (show_limit) {
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" "
                "stroke-dasharray=\"6 4\"/>\n", PAD_L, SVG_W - PAD_R, Y(limit_bytes), Y(limit_bytes));
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#c0392b\">limit %s</text>\n",
                SVG_W - PAD_R, Y(limit_bytes) - 4, lk_human_bytes(limit_bytes, buf, sizeof(buf)));
    }

    for (size_t s = 0; s < nseries; s++) {
        const char *color = colors[s % (sizeof(colors) / sizeof(colors[0]))];
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"",
                color, s == 0 ? "2.5" : "1.5");
        for (size_t i = 0; i < series[s].n; i++)
            fprintf(out, "%s%.1f,%.1f", i ? " " : "", X(series[s].t_s[i]), Y(series[s].bytes[i]));
        fprintf(out, "\"/>\n");
        /* Legend: two columns below the plot. */
        double lx = PAD_L + (s % 2) * (pw / 2), ly = PAD_T + ph + 56 + (double)(s / 2) * 18;
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>\n",
                lx, ly - 6, color);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", lx + 20, ly);
        lk_fput_xml(out, series[s].label);
        fprintf(out, "</text>\n");
    }
    fprintf(out, "</svg>\n");
#undef X
#undef Y
    return ferror(out) ? -EIO : 0;
}
