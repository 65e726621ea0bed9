/* helpers_analyzer.h - what the unit suites of the analyzer core share
 * (tests/unit/helpers_analyzer.c, compiled once). */
#ifndef LK_HELPERS_ANALYZER_H
#define LK_HELPERS_ANALYZER_H

#include "model.h"

/* Load dump 'text' as the file "dump.json"; fails the test, naming the
 * loader's message, unless it loads.  The caller frees with lk_dump_free(). */
lk_dump_t *load_ok(const char *text);

#endif /* LK_HELPERS_ANALYZER_H */
