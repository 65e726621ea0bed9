/* testhelper.h - the few helpers every Check test binary shares.
 * Each tests/unit/check_X.c and tests/integration/check_X.c defines
 * 'Suite *X_suite(void)' and ends with LK_TEST_MAIN(X_suite). */
#ifndef LK_TESTHELPER_H
#define LK_TESTHELPER_H

#include <check.h>
#include <stdlib.h>

/* Run one suite; CK_RUN_SUITE, CK_RUN_CASE and CK_FORK work as Check
 * documents them.  Exit status 0 when every test passed. */
#define LK_TEST_MAIN(suite_fn)                                   \
    int main(void)                                               \
    {                                                            \
        SRunner *sr = srunner_create(suite_fn());                \
        srunner_run_all(sr, CK_NORMAL);                          \
        int failed = srunner_ntests_failed(sr);                  \
        srunner_free(sr);                                        \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;        \
    }

#endif /* LK_TESTHELPER_H */
