/* report_formats.h - the reports in other tools' formats (report_vgxml.c,
 * report_lsan.c).  Same contract as the reports in model.h: print 'r' to
 * 'out', return 0 or -errno on a write error. */
#ifndef LK_ANALYZER_REPORT_FORMATS_H
#define LK_ANALYZER_REPORT_FORMATS_H

#include "model.h"

/* memcheck's XML (protocol 4): one <error> per shown leak site.  'in' gives
 * the run's duration.  -ENOMEM is possible too. */
int lk_report_vgxml(FILE *out, const lk_report_t *r, const lk_options_t *opt,
                    const lk_input_t *in);
/* Standalone LeakSanitizer's text: direct and indirect leaks per process. */
int lk_report_lsan(FILE *out, const lk_report_t *r, const lk_options_t *opt);

/* One self-contained HTML page (report_html.c): the report, flamegraph data
 * of every final dump's sites ('in', symbolized with 'sym'), the growth
 * chart and the leak sites' source lines.  -ENOMEM is possible too. */
int lk_report_html(FILE *out, const lk_report_t *r, const lk_options_t *opt,
                   const lk_input_t *in, lk_symbolizer_t *sym);

#endif /* LK_ANALYZER_REPORT_FORMATS_H */
