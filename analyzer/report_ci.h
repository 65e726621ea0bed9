/* report_ci.h - the reports CI systems read: SARIF 2.1.0 (code scanning
 * shows each leak site on its line) and JUnit XML (one test case per
 * process, failed when the gate trips for it). */
#ifndef LK_ANALYZER_REPORT_CI_H
#define LK_ANALYZER_REPORT_CI_H

#include "model.h"

/* SARIF 2.1.0: one result per leak site of a kind the text shows or the gate
 * counts, suppressed sites included with an external suppression.
 * 'source_root' is an absolute directory: files under it are written
 * relative to it (uriBaseId SRCROOT), and the first frame under it is the
 * result's location.  Returns 0, -ENOMEM or -EIO. */
int lk_report_sarif(FILE *out, const lk_report_t *r, const lk_options_t *opt,
                    const char *source_root);

/* JUnit XML: one testsuite, one testcase per process; a case fails when the
 * gate (r's verdict, 'opt''s options) trips for that process.  Returns 0 or
 * -EIO. */
int lk_report_junit(FILE *out, const lk_report_t *r, const lk_options_t *opt);

#endif /* LK_ANALYZER_REPORT_CI_H */
