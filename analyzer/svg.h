/* svg.h - a self-contained SVG line chart of live bytes over time.
 * No scripts, no external fonts or styles: the file opens in any browser. */
#ifndef LA_SVG_H
#define LA_SVG_H

#include <stddef.h>
#include <stdio.h>

typedef struct la_svg_series {
    const char *label;     /* legend text; XML-escaped on output */
    const double *t_s;     /* sample times, seconds, ascending */
    const double *bytes;   /* live bytes at each time */
    size_t n;
} la_svg_series_t;

/* Write a chart of 'nseries' series to 'out'.  The first series is drawn
 * thickest (meant for the process total).  'limit_bytes' > 0 draws the
 * memory limit as a dashed line when it is within 4x of the data's peak.
 * Returns 0, or -EIO when writing failed. */
int la_svg_chart(FILE *out, const char *title, const la_svg_series_t *series,
                 size_t nseries, double limit_bytes);

#endif /* LA_SVG_H */
