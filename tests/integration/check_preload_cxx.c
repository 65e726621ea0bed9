/* check_preload_cxx.c - end-to-end tests of libleak.so on C++ victims:
 * operator new/new[] in plain, nothrow and aligned forms attributed to the
 * caller with the right family, failed new in failures[], and mismatched
 * deallocations recorded with both stacks while the program behaves as it
 * does without the preload. */
#include "preload_helpers.h"

START_TEST(test_preload_cxx_new)
{
    pl_run_t bare, r;
    pl_run(&bare, "pl_cxx", NULL, NULL, 0);
    pl_assert_exit(&bare, 0);
    pl_run(&r, "pl_cxx", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, bare.out);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    pl_assert_site(d, "_ZL7new_onev", "new", 2, 2674, 2, 2674);
    pl_assert_site(d, "_ZL9new_arrayv", "new[]", 1, 4011, 1, 4011);
    pl_assert_site(d, "_ZL11nothrow_onev", "new", 1, 3001, 1, 3001);
    pl_assert_site(d, "_ZL13nothrow_arrayv", "new[]", 1, 2027, 1, 2027);
    pl_assert_site(d, "_ZL11aligned_onev", "new", 1, 1280, 1, 1280);
    pl_assert_site(d, "_ZL13aligned_arrayv", "new[]", 1, 3840, 1, 3840);
    pl_assert_site(d, "_ZL9churn_newv", "new", 0, 0, 4, 8084);
    pl_assert_site(d, "_ZL11churn_arrayv", "new[]", 0, 0, 3, 6666);
    /* the family is exact: nothing of these sites is filed under malloc */
    ck_assert_int_eq(pl_sites(d, "_ZL7new_onev", "malloc").nsites, 0);
    ck_assert_int_eq(pl_sites(d, "_ZL9new_arrayv", "malloc").nsites, 0);
    ck_assert_int_eq(json_array_size(pl_obj(d->root, LK_KEY_MISMATCHES)), 0);
    ck_assert_int_eq(pl_int(pl_totals(d), LK_KEY_MISMATCHED_FREES), 0);
    /* operator new's frames are walked out of too: no unw_backtrace fallback */
    ck_assert_int_eq(pl_int(pl_obj(d->root, LK_KEY_COST), LK_KEY_UNWINDS_FALLBACK), 0);

    int n;
    json_t *f = pl_failure(d, "_ZL10huge_arrayv", &n);
    ck_assert_msg(n >= 1, "failed new[] (std::bad_alloc) not in failures");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "new[]");
    ck_assert_int_eq(pl_int(f, LK_KEY_REQUEST_BYTES), 1LL << 62);
    pl_assert_no_site(d, "_ZL10huge_arrayv");
    f = pl_failure(d, "_ZL12huge_nothrowv", &n);
    ck_assert_msg(n >= 1, "failed nothrow new[] not in failures");
    ck_assert_int_eq(pl_int(f, LK_KEY_REQUEST_BYTES), 1LL << 62);
    pl_assert_no_site(d, "_ZL12huge_nothrowv");
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

/* Return the mismatches[] entry whose alloc stack passes through 'afn' and
 * whose free stack passes through 'ffn'; fail unless there is exactly one. */
static json_t *mismatch(pl_dump_t *d, const char *afn, const char *ffn)
{
    json_t *mm = pl_obj(d->root, LK_KEY_MISMATCHES), *e, *found = NULL;
    size_t i;
    int n = 0;
    json_array_foreach(mm, i, e) {
        if (pl_stack_has_fn(d, pl_int(e, LK_KEY_ALLOC_STACK), afn) &&
            pl_stack_has_fn(d, pl_int(e, LK_KEY_FREE_STACK), ffn)) {
            found = e;
            n++;
        }
    }
    ck_assert_msg(n == 1, "%d mismatches allocated in %s and freed in %s, expected 1", n, afn,
                  ffn);
    return found;
}

static void assert_mismatch(pl_dump_t *d, const char *afn, const char *ffn, const char *afam,
                            const char *ffam, long long count, long long bytes)
{
    json_t *e = mismatch(d, afn, ffn);
    ck_assert_str_eq(pl_str(e, LK_KEY_ALLOC_FAMILY), afam);
    ck_assert_str_eq(pl_str(e, LK_KEY_FREE_FAMILY), ffam);
    ck_assert_int_eq(pl_int(e, LK_KEY_COUNT), count);
    ck_assert_int_eq(pl_int(e, LK_KEY_BYTES), bytes);
}

START_TEST(test_preload_cxx_mismatch)
{
    pl_run_t bare, r;
    pl_run(&bare, "pl_mismatch", NULL, NULL, 0);
    pl_assert_exit(&bare, 0);
    pl_run(&r, "pl_mismatch", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, bare.out);
    ck_assert_str_eq(r.err, bare.err);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    assert_mismatch(d, "_ZL9arr_allocv", "_ZL13scalar_deletePc", "new[]", "new", 1, 1234);
    assert_mismatch(d, "_ZL9mal_allocv", "_ZL13delete_mallocPv", "malloc", "new", 1, 1555);
    assert_mismatch(d, "_ZL9obj_allocv", "_ZL8free_newP7Obj1666", "new", "malloc", 2, 3332);
    assert_mismatch(d, "_ZL10obj_alloc2v", "_ZL16array_delete_newP7Obj1777", "new", "new[]", 1,
                    1777);
    ck_assert_int_eq(json_array_size(pl_obj(d->root, LK_KEY_MISMATCHES)), 4);
    ck_assert_int_eq(pl_int(pl_totals(d), LK_KEY_MISMATCHED_FREES), 5);
    /* the blocks are gone all the same */
    pl_assert_site(d, "_ZL9arr_allocv", "new[]", 0, 0, 1, 1234);
    pl_assert_site(d, "_ZL9mal_allocv", "malloc", 0, 0, 1, 1555);
    pl_assert_site(d, "_ZL9obj_allocv", "new", 0, 0, 2, 3332);
    pl_assert_site(d, "_ZL10obj_alloc2v", "new", 0, 0, 1, 1777);
    pl_assert_site(d, "_ZL10good_allocv", "new", 0, 0, 1, 1888);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_preload_cxx_new_handler)
{
    pl_run_t bare, r;
    pl_run(&bare, "pl_newhandler", NULL, NULL, 0);
    pl_assert_exit(&bare, 0);
    ck_assert_str_eq(bare.out, "handler 3 bad_alloc\nhandler 3 nullptr\ncustom 1\n");
    pl_run(&r, "pl_newhandler", NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, bare.out);
    pl_check_all(&r);
    pl_dump_t *d = pl_exit_dump(&r);
    int n;
    json_t *f = pl_failure(d, "_ZL8huge_newv", &n);
    ck_assert_msg(n >= 1, "failed new[] not in failures");
    ck_assert_str_eq(pl_str(f, LK_KEY_FUNCTION), "new[]");
    ck_assert_str_eq(pl_str(f, LK_KEY_KIND), "enomem");
    pl_failure(d, "_ZL12nothrow_hugev", &n);
    ck_assert_msg(n >= 1, "failed nothrow new[] not in failures");
    pl_assert_no_site(d, "_ZL8huge_newv");
    pl_assert_no_site(d, "_ZL12nothrow_hugev");
    /* tracking goes on after exceptions left operator new */
    pl_assert_site(d, "_ZL11after_throwv", "malloc", 1, 1337, 1, 1337);
    pl_assert_site(d, "_ZL11after_throwv", "new[]", 1, 2021, 1, 2021);
    pl_run_free(&bare);
    pl_run_free(&r);
}
END_TEST

static Suite *preload_cxx_suite(void)
{
    Suite *s = suite_create("preload_cxx");
    TCase *tc = pl_tcase("cxx");
    tcase_add_test(tc, test_preload_cxx_new);
    tcase_add_test(tc, test_preload_cxx_mismatch);
    tcase_add_test(tc, test_preload_cxx_new_handler);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(preload_cxx_suite)
