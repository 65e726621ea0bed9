/* svg.c - render live-bytes series as one standalone SVG document.
 * People look at a curve before they read a table; this draws the total and
 * the top sites on shared axes with round ticks, the memory limit, snapshot
 * marks and failed requests.  Every name is escaped: the chart stays
 * well-formed XML whatever the dump holds, and its size stays bounded. */
#include "svg.h"
#include "trend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define SVG_W 900
#define PAD_L 92    /* room for the y tick labels and the rotated y-axis title */
#define PAD_R 20
#define PAD_T 48
#define PLOT_H 260
#define LEGEND_GAP 56          /* plot bottom to the first legend row */
#define LEGEND_ROW 18
#define LEGEND_FONT 12
/* Monospace advance is about 0.6 em; 0.62 leaves slack so that the
 * estimated boxes bound the drawn text. */
#define CHAR_W (LEGEND_FONT * 0.62)
#define SWATCH_W 30            /* swatch plus gap before the legend text */
#define LEGEND_COL 400         /* two columns fit the 800-pixel plot width */
#define LEGEND_MAX_CHARS 100   /* a full row: (800 - SWATCH_W) / CHAR_W */
#define TITLE_MAX_CHARS 90     /* bold 15 px sans-serif across the plot width */
/* Bounds on what one chart draws, so that a hostile dump cannot make it huge. */
#define MAX_HOVER_POINTS 120   /* per series */
#define MAX_MARKS 1000         /* snapshots */
#define MAX_FAILURES 256
#define MAX_FAILURE_LABELS 8

static const char *const colors[] = {
    "#1f3a93", "#d35400", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#f39c12"
};
/* Sites after the first get a dash of their own, so that lines of one
 * colour family or crossing each other still tell apart. */
static const char *const dashes[] = { "", "8 3", "2 3", "10 3 2 3", "4 4", "1 2", "12 4" };
#define NCOLORS (sizeof(colors) / sizeof(colors[0]))
#define NDASHES (sizeof(dashes) / sizeof(dashes[0]))

/* ### ticks */

/* The ticks k * step in [lo, hi], counted as integers: adding a step that
 * is below the float resolution of huge values would never move.  Writes
 * the first k and returns how many (0 when they cannot be placed). */
static long tick_range(double lo, double hi, double step, double *first)
{
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    if (!isfinite(k0) || !isfinite(k1) || k1 < k0 || k1 - k0 > 100)
        return 0;
    *first = k0;
    return (long)(k1 - k0) + 1;
}

/* A "nice" step (1, 2 or 5 times a power of ten) giving about 'ticks' ticks. */
static double nice_step(double range, int ticks)
{
    if (!(range > 0) || !isfinite(range))
        return 1.0;
    double raw = range / ticks, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
}

/* Digits after the point that 'step' needs (0.5 -> 1, 0.25 never occurs). */
static int step_decimals(double step)
{
    int d = 0;
    while (d < 6 && fabs(step * pow(10.0, d) - round(step * pow(10.0, d))) > 1e-6)
        d++;
    return d;
}

void lk_svg_yticks(double max_bytes, lk_svg_ticks_t *out)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    size_t u = 0;
    double unit = 1.0;

    if (!(max_bytes > 0) || !isfinite(max_bytes))
        max_bytes = 1.0;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && max_bytes >= unit * 1024.0) {
        unit *= 1024.0;
        u++;
    }
    double step = nice_step(max_bytes / unit, 5);
    if (u == 0 && step < 1.0)
        step = 1.0;     /* no fractions of a byte */
    double n = ceil(max_bytes / unit / step - 1e-9);
    if (n < 1)
        n = 1;
    out->unit = unit;
    out->unit_name = units[u];
    out->step = step;
    out->top = n * step;
    out->count = (size_t)n + 1;
    out->decimals = step_decimals(step);
}

const char *lk_svg_tick_label(const lk_svg_ticks_t *t, size_t k, char *buf, size_t len)
{
    if (k == 0)
        snprintf(buf, len, "0");
    else
        snprintf(buf, len, "%.*f %s", t->decimals, (double)k * t->step, t->unit_name);
    return buf;
}

/* ### legend text */

/* Code points in UTF-8 's' (valid: it went through lk_escape). */
static size_t cp_len(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Byte offset of code point 'k' in 's' (its length when shorter). */
static size_t cp_off(const char *s, size_t k)
{
    size_t i = 0;
    for (; s[i] != '\0'; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80 && k-- == 0)
            break;
    return i;
}

/* Printable display form of 's': escaped, long template arguments
 * collapsed.  Malloc'd; NULL on ENOMEM. */
static char *display_dup(const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s) + 8;
    char *shortened = malloc(n);
    if (shortened == NULL)
        return NULL;
    lk_short_name(shortened, n, s);
    char *esc = lk_escape_dup(shortened);
    free(shortened);
    return esc;
}

/* Write into 'out' ('len' bytes) the legend text: 'name' cut in the middle
 * with an ellipsis so that it plus 'suffix' fits 'max' code points. */
static void fit_label(char *out, size_t len, const char *name, const char *suffix, size_t max)
{
    size_t ns = cp_len(suffix), nn = cp_len(name);
    size_t room = max > ns + 8 ? max - ns : 8;
    if (nn <= room) {
        snprintf(out, len, "%s%s", name, suffix);
        return;
    }
    /* keep the start (namespace, class) and the end (the method) */
    size_t head = (room - 1) * 3 / 5, tail = room - 1 - head;
    snprintf(out, len, "%.*s\u2026%s%s", (int)cp_off(name, head), name,
             name + cp_off(name, nn - tail), suffix);
}

typedef struct entry {
    char text[512];        /* display text, printable, not yet XML-escaped */
    double x, y;           /* swatch start, text baseline */
} entry_t;

/* Make every entry's text distinct: the k-th entry that reads like an
 * earlier one gets " #k"; a label that itself ends in " #k" may still
 * clash, and then its place in the legend decides. */
static void disambiguate(entry_t *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        size_t same = 1;
        for (size_t j = 0; j < i; j++)
            same += strcmp(e[i].text, e[j].text) == 0;
        for (int tries = 0; same > 1 && tries < 2; tries++) {
            char tmp[sizeof(e[i].text)];
            snprintf(tmp, sizeof(tmp), "%s", e[i].text);
            /* cut the text so the suffix keeps the entry within its width */
            fit_label(e[i].text, sizeof(e[i].text), tmp, "", LEGEND_MAX_CHARS - 6);
            size_t l = strlen(e[i].text);
            snprintf(e[i].text + l, sizeof(e[i].text) - l, " #%zu", tries == 0 ? same : i + 1);
            same = 1;
            for (size_t j = 0; j < i; j++)
                same += strcmp(e[i].text, e[j].text) == 0;
        }
    }
}

/* Place entries in two columns; one wider than a column takes a whole
 * row.  Returns the number of rows. */
static size_t layout(entry_t *e, size_t n, double top)
{
    size_t row = 0, col = 0;
    for (size_t i = 0; i < n; i++) {
        double w = SWATCH_W + (double)cp_len(e[i].text) * CHAR_W;
        bool wide = w > LEGEND_COL - 16;
        if (col > 0 && (wide || col >= 2)) {
            row++;
            col = 0;
        }
        e[i].x = PAD_L + (double)col * LEGEND_COL;
        e[i].y = top + (double)row * LEGEND_ROW;
        col = wide ? 2 : col + 1;
    }
    return n > 0 ? row + 1 : 0;
}

/* ### the chart */

static void put_dash(FILE *out, size_t s)
{
    if (s > 0 && dashes[(s - 1) % NDASHES][0] != '\0')
        fprintf(out, " stroke-dasharray=\"%s\"", dashes[(s - 1) % NDASHES]);
}

static void put_stroke(FILE *out, size_t s)
{
    fprintf(out, "stroke=\"%s\" stroke-width=\"%s\"%s", colors[s % NCOLORS],
            s == 0 ? "5" : "2", s == 0 ? " stroke-opacity=\"0.45\"" : "");
    put_dash(out, s);
}

/* One hover target: an invisible circle with the value and time. */
static void put_point(FILE *out, const lk_svg_series_t *se, size_t i, const char *text,
                      double x, double y)
{
    char buf[64];
    fprintf(out, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>", x, y);
    lk_fput_xml(out, text);
    fprintf(out, ": %s at %.2f s</title></circle>\n",
            lk_human_bytes(se->bytes[i], buf, sizeof(buf)), se->t_s[i]);
}

/* Time axis unit: seconds, minutes or hours, by the span shown. */
static double time_unit(double t1, const char **name)
{
    if (t1 >= 2 * 3600.0) {
        *name = "h";
        return 3600.0;
    }
    if (t1 >= 600.0) {
        *name = "min";
        return 60.0;
    }
    *name = "s";
    return 1.0;
}

int lk_svg_chart(FILE *out, const char *title, const lk_svg_series_t *series,
                 size_t nseries, double limit_bytes)
{
    lk_svg_opts_t o = { .limit_bytes = limit_bytes };
    return lk_svg_chart_opts(out, title, series, nseries, &o);
}

int lk_svg_chart_opts(FILE *out, const char *title, const lk_svg_series_t *series,
                      size_t nseries, const lk_svg_opts_t *opts)
{
    static const lk_svg_opts_t none = { 0 };
    const lk_svg_opts_t *o = opts != NULL ? opts : &none;
    double t0 = INFINITY, t1 = -INFINITY, ymax = 0;
    const double pw = SVG_W - PAD_L - PAD_R, ph = PLOT_H;
    size_t nfail = o->nfailures < MAX_FAILURES ? o->nfailures : MAX_FAILURES;
    size_t nsnap = o->nsnapshots, snap_every = 1;
    char buf[64];

    if (nsnap > MAX_MARKS)
        snap_every = (nsnap + MAX_MARKS - 1) / MAX_MARKS;
    for (size_t s = 0; s < nseries; s++)
        for (size_t i = 0; i < series[s].n; i++) {
            t0 = fmin(t0, series[s].t_s[i]);
            t1 = fmax(t1, series[s].t_s[i]);
            ymax = fmax(ymax, series[s].bytes[i]);
        }
    for (size_t i = 0; i < nfail; i++) {
        t0 = fmin(t0, o->failures[i].t_s);
        t1 = fmax(t1, o->failures[i].t_s);
        ymax = fmax(ymax, o->failures[i].bytes);
    }
    for (size_t i = 0; i < nsnap; i += snap_every) {
        t0 = fmin(t0, o->snapshots[i].t_s);
        t1 = fmax(t1, o->snapshots[i].t_s);
    }
    if (!isfinite(t0) || !isfinite(t1)) {
        t0 = 0;
        t1 = 1;
    }
    if (t1 <= t0)
        t1 = t0 + 1;
    double limit = o->limit_bytes;
    bool show_limit = limit > 0 && limit <= 4 * fmax(ymax, 1);
    if (show_limit)
        ymax = fmax(ymax, limit);
    lk_svg_ticks_t yt;
    lk_svg_yticks(ymax, &yt);
    ymax = yt.top * yt.unit;
    const char *tname;
    double tu = time_unit(t1, &tname), xstep = nice_step((t1 - t0) / tu, 8);

    /* Legend: the series, then keys for the marks. */
    size_t nent = nseries + (nsnap > 0) + (nfail > 0);
    entry_t *ent = calloc(nent + 1, sizeof(*ent));
    if (ent == NULL)
        return -ENOMEM;
    for (size_t s = 0; s < nseries; s++) {
        char *name = display_dup(series[s].label), *where = NULL;
        if (series[s].where != NULL)
            where = lk_escape_dup(series[s].where);
        char suffix[160] = "";
        if (where != NULL)
            snprintf(suffix, sizeof(suffix), " (%.140s)", where);
        fit_label(ent[s].text, sizeof(ent[s].text), name != NULL ? name : "?", suffix,
                  LEGEND_MAX_CHARS);
        free(name);
        free(where);
    }
    size_t key_snap = nseries, key_fail = nseries + (nsnap > 0);
    if (nsnap > 0)
        snprintf(ent[key_snap].text, sizeof(ent[key_snap].text), "snapshot (dump)");
    if (nfail > 0)
        snprintf(ent[key_fail].text, sizeof(ent[key_fail].text), "failed allocation");
    disambiguate(ent, nent);
    double legend_top = PAD_T + ph + LEGEND_GAP;
    size_t rows = layout(ent, nent, legend_top);
    int svg_h = (int)(legend_top + (double)rows * LEGEND_ROW + 4);

#define X(t) (PAD_L + ((t) - t0) / (t1 - t0) * pw)
#define Y(b) (PAD_T + ph - (b) / ymax * ph)

    if (!o->embed)
        fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lk-growth-chart\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"", SVG_W, svg_h, SVG_W, svg_h);
    if (o->pid > 0)
        fprintf(out, " data-pid=\"%d\"", o->pid);
    fprintf(out, " font-family=\"sans-serif\" font-size=\"12\">\n");
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text class=\"chart-title\" x=\"%d\" y=\"24\" font-size=\"15\" "
            "font-weight=\"bold\">", PAD_L);
    char *tdisp = lk_escape_dup(title ? title : "Live memory over time");
    if (tdisp != NULL) {
        char cut[512];
        fit_label(cut, sizeof(cut), tdisp, "", TITLE_MAX_CHARS);
        lk_fput_xml(out, cut);
        free(tdisp);
    }
    fprintf(out, "</text>\n");

    /* Grid, ticks and axis titles. */
    for (size_t k = 0; k < yt.count; k++) {
        double v = (double)k * yt.step * yt.unit;
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>\n",
                PAD_L, SVG_W - PAD_R, Y(v), Y(v));
        fprintf(out, "<text class=\"y-tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                PAD_L - 6, Y(v) + 4, lk_svg_tick_label(&yt, k, buf, sizeof(buf)));
    }
    double k0;
    long nt = tick_range(t0 / tu, t1 / tu, xstep, &k0);
    int xdec = step_decimals(xstep);
    for (long k = 0; k < nt; k++) {
        double v = (k0 + (double)k) * xstep;
        fprintf(out, "<text class=\"x-tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                "%.*f</text>\n", X(v * tu), PAD_T + ph + 21, xdec, v);
    }
    fprintf(out, "<text class=\"axis-title-x\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
            "time since start (%s)</text>\n", PAD_L + pw / 2, PAD_T + ph + 39, tname);
    fprintf(out, "<text class=\"axis-title-y\" transform=\"translate(18 %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">live memory</text>\n", PAD_T + ph / 2);
    fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            PAD_L, SVG_W - PAD_R, Y(0), Y(0));
    fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            PAD_L, PAD_L, PAD_T, Y(0));

    /* The limit: on the chart when near the data, else named in a note. */
    if (limit > 0) {
        lk_human_bytes(limit, buf, sizeof(buf));
        if (show_limit) {
            fprintf(out, "<line class=\"limit\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#c0392b\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
                    PAD_L, SVG_W - PAD_R, Y(limit), Y(limit));
            fprintf(out, "<text class=\"limit-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" "
                    "fill=\"#c0392b\">", SVG_W - PAD_R - 4, Y(limit) - 5);
        } else {
            fprintf(out, "<text class=\"limit-note\" x=\"%d\" y=\"%d\" text-anchor=\"end\" "
                    "font-size=\"11\" fill=\"#c0392b\">", SVG_W - PAD_R, PAD_T - 8);
        }
        lk_fput_xml(out, o->limit_label != NULL ? o->limit_label : "limit");
        fprintf(out, " %s%s</text>\n", buf, show_limit ? "" : ", above the chart");
    }

    /* Snapshot marks: a short tick under the time axis per dump, clear of
     * lines that run along zero. */
    for (size_t i = 0; i < nsnap; i += snap_every) {
        const lk_svg_mark_t *m = &o->snapshots[i];
        fprintf(out, "<line class=\"snapshot\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#777\" stroke-width=\"1.5\"><title>", X(m->t_s), X(m->t_s),
                Y(0) + 1, Y(0) + 7);
        lk_fput_xml(out, m->detail != NULL ? m->detail : m->label);
        fprintf(out, "</title></line>\n");
    }

    /* The total first and wide, the sites on top of it. */
    for (size_t s = 0; s < nseries; s++) {
        fprintf(out, "<polyline class=\"%s\" fill=\"none\" ",
                s == 0 ? "series series-total" : "series series-site");
        put_stroke(out, s);
        fprintf(out, " stroke-linejoin=\"round\" points=\"");
        for (size_t i = 0; i < series[s].n; i++)
            fprintf(out, "%s%.1f,%.1f", i ? " " : "", X(series[s].t_s[i]), Y(series[s].bytes[i]));
        fprintf(out, "\"><title>");
        lk_fput_xml(out, ent[s].text);
        fprintf(out, "</title></polyline>\n");
    }

    /* Hover targets: invisible circles with the value and time. */
    for (size_t s = 0; s < nseries; s++) {
        size_t n = series[s].n, every = n > MAX_HOVER_POINTS
                                        ? (n + MAX_HOVER_POINTS - 1) / MAX_HOVER_POINTS : 1;
        fprintf(out, "<g fill=\"%s\" fill-opacity=\"0\">\n", colors[s % NCOLORS]);
        for (size_t i = 0; i < n; i += every)
            put_point(out, &series[s], i, ent[s].text, X(series[s].t_s[i]),
                      Y(series[s].bytes[i]));
        if (n > 0 && (n - 1) % every != 0)
            put_point(out, &series[s], n - 1, ent[s].text, X(series[s].t_s[n - 1]),
                      Y(series[s].bytes[n - 1]));
        fprintf(out, "</g>\n");
    }

    /* Failure markers: a red cross where live memory stood, labelled with
     * the request; labels that would collide are left to the hover text. */
    double placed[MAX_FAILURE_LABELS][4];
    size_t nplaced = 0;
    for (size_t i = 0; i < nfail; i++) {
        const lk_svg_mark_t *m = &o->failures[i];
        double x = X(m->t_s), y = Y(m->bytes);
        fprintf(out, "<g class=\"failure\"><title>");
        lk_fput_xml(out, m->detail != NULL ? m->detail : m->label);
        fprintf(out, "</title><path d=\"M%.1f %.1fl10 10m0 -10l-10 10\" stroke=\"white\" "
                "stroke-width=\"5\"/><path d=\"M%.1f %.1fl10 10m0 -10l-10 10\" "
                "stroke=\"#c0392b\" stroke-width=\"2.5\"/>", x - 5, y - 5, x - 5, y - 5);
        char *lab = m->label != NULL ? lk_escape_dup(m->label) : NULL;
        if (lab != NULL && nplaced < MAX_FAILURE_LABELS) {
            char text[96];
            fit_label(text, sizeof(text), lab, "", 28);
            double w = (double)cp_len(text) * CHAR_W;
            /* right of the cross, or left of it near the right edge */
            double lx = x + 9 + w <= SVG_W - PAD_R ? x + 9 : x - 9 - w, ly = y - 8;
            if (ly < PAD_T + 12)
                ly = y + 20;
            bool clash = false;
            for (size_t j = 0; j < nplaced; j++)
                if (lx < placed[j][1] && placed[j][0] < lx + w && ly - 12 < placed[j][3]
                    && placed[j][2] < ly + 3)
                    clash = true;
            if (!clash) {
                placed[nplaced][0] = lx;
                placed[nplaced][1] = lx + w;
                placed[nplaced][2] = ly - 12;
                placed[nplaced][3] = ly + 3;
                nplaced++;
                fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-family=\"monospace\" "
                        "fill=\"#c0392b\" stroke=\"white\" stroke-width=\"3\" "
                        "paint-order=\"stroke\">", lx, ly);
                lk_fput_xml(out, text);
                fprintf(out, "</text>");
            }
        }
        free(lab);
        fprintf(out, "</g>\n");
    }

    /* Legend rows under the plot; the full name hovers on each entry. */
    for (size_t e = 0; e < nent; e++) {
        double lx = ent[e].x, ly = ent[e].y;
        fprintf(out, "<g class=\"legend-entry\" data-x=\"%.1f\"><title>", lx);
        if (e < nseries) {
            lk_fput_xml(out, series[e].label);
            if (series[e].where != NULL) {
                fprintf(out, " (");
                lk_fput_xml(out, series[e].where);
                fprintf(out, ")");
            }
        } else if (e == key_snap && nsnap > 0) {
            fprintf(out, "a dump was written: the grey ticks under the time axis");
        } else {
            fprintf(out, "malloc, calloc, realloc or new returned no memory or refused the "
                    "request: the red crosses");
        }
        fprintf(out, "</title>");
        if (e < nseries) {
            fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" ",
                    lx, lx + 24, ly - 4, ly - 4);
            put_stroke(out, e);
            fprintf(out, "/>");
        } else if (e == key_snap && nsnap > 0) {
            fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#777\" "
                    "stroke-width=\"1.5\"/>", lx + 12, lx + 12, ly + 1, ly - 9);
        } else {
            fprintf(out, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"#c0392b\" "
                    "stroke-width=\"2.5\"/>", lx + 8, ly - 8);
        }
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-family=\"monospace\" font-size=\"%d\">",
                lx + SWATCH_W, ly, LEGEND_FONT);
        lk_fput_xml(out, ent[e].text);
        fprintf(out, "</text></g>\n");
    }
    fprintf(out, "</svg>\n");
#undef X
#undef Y
    free(ent);
    return ferror(out) ? -EIO : 0;
}
