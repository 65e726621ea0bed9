/* helpers_analyzer.c - loading test dumps for the unit suites of the
 * analyzer core; helpers_analyzer.h has the contracts. */
#include <string.h>

#include "helpers_analyzer.h"
#include "testhelper.h"

lk_dump_t *load_ok(const char *text)
{
    char err[512] = "";
    lk_dump_t *d = NULL;
    int rc = lk_load_buffer("dump.json", text, strlen(text), &d, err, sizeof(err));
    ck_assert_msg(rc == 0, "unexpected error: %s", err);
    return d;
}
