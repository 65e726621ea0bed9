/* check_reach.c - end-to-end tests of the reachability scan: each rc_*
 * victim runs under the preload, and the "reachability" section of its exit
 * dump must classify its blocks as the victim's header comment says, hold
 * the documented invariants, and name the right holders. */
#include "check_reach.h"

/* Run 'victim' under the preload and return its exit dump's section; the
 * run is left in 'r' for the caller to free. */
static json_t *run_reach(pl_run_t *r, const char *victim, pl_dump_t **dp)
{
    pl_run(r, victim, NULL, NULL, 1);
    pl_assert_exit(r, 0);
    pl_check_all(r);
    pl_dump_t *d = pl_exit_dump(r);
    json_t *sec = rc_section(d);
    rc_check_invariants(d, sec);
    *dp = d;
    return sec;
}

START_TEST(test_reach_definite_and_freed)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_definite", &d);
    rc_assert_kind(d, sec, "leak_simple", "definite", 1, 1000);
    rc_assert_kind(d, sec, "leak_simple", "indirect", 0, 0);
    rc_assert_kind(d, sec, "leak_simple", "reachable", 0, 0);
    rc_assert_total(sec, "definite", 1, 1000);
    rc_assert_total(sec, "indirect", 0, 0);
    rc_assert_total(sec, "possible", 0, 0);
    /* Freed before exit: in no kind at all. */
    rc_agg_t f = rc_kind(d, sec, "freed_here", NULL);
    ck_assert_msg(f.blocks == 0, "freed blocks reported: %lld", f.blocks);
    /* One lost structure of one block, headed by leak_simple's block. */
    json_t *s = rc_structure(d, sec, "leak_simple");
    ck_assert_int_eq(pl_int(s, LK_KEY_REACH_BLOCKS), 1);
    ck_assert(!pl_bool(s, LK_KEY_REACH_CYCLE));
    ck_assert(pl_bool(sec, LK_KEY_REACH_COMPLETE) || pl_int(sec, LK_KEY_REACH_THREADS_SP_UNKNOWN) > 0);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_tree_lost_through_root)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_tree", &d);
    rc_assert_kind(d, sec, "alloc_root", "definite", 1, 64);
    rc_assert_kind(d, sec, "alloc_child", "indirect", 6, 288);
    rc_assert_kind(d, sec, "alloc_child", "definite", 0, 0);
    rc_assert_total(sec, "definite", 1, 64);
    rc_assert_total(sec, "indirect", 6, 288);
    rc_assert_total(sec, "possible", 0, 0);
    json_t *s = rc_structure(d, sec, "alloc_root");
    ck_assert_int_eq(pl_int(s, LK_KEY_REACH_COUNT), 1);
    ck_assert_int_eq(pl_int(s, LK_KEY_REACH_BLOCKS), 7);
    ck_assert_int_eq(pl_int(s, LK_KEY_REACH_BYTES), 352);
    ck_assert(!pl_bool(s, LK_KEY_REACH_CYCLE));
    ck_assert(!pl_bool(s, LK_KEY_REACH_HEAD_IN_CYCLE));
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_two_node_cycle)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_cycle", &d);
    rc_assert_kind(d, sec, "make_node", "definite", 1, 64);
    rc_assert_kind(d, sec, "make_node", "indirect", 1, 64);
    rc_assert_total(sec, "definite", 1, 64);
    rc_assert_total(sec, "indirect", 1, 64);
    rc_assert_total(sec, "possible", 0, 0);
    json_t *s = rc_structure(d, sec, "make_node");
    ck_assert_int_eq(pl_int(s, LK_KEY_REACH_BLOCKS), 2);
    ck_assert_int_eq(pl_int(s, LK_KEY_REACH_BYTES), 128);
    ck_assert(pl_bool(s, LK_KEY_REACH_CYCLE));
    ck_assert(pl_bool(s, LK_KEY_REACH_HEAD_IN_CYCLE));
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_held_by_global)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_global", &d);
    rc_assert_kind(d, sec, "hold_me", "reachable", 2, 876);  /* hold_child runs inside hold_me */
    rc_assert_kind(d, sec, "hold_child", "reachable", 1, 99);
    rc_assert_kind(d, sec, "hold_me", "definite", 0, 0);
    rc_assert_total(sec, "definite", 0, 0);
    rc_assert_total(sec, "possible", 0, 0);
    /* Both are held by the word g_holder of the program, per nm. */
    uint64_t sym = rc_nm(r.exe, "g_holder");
    const char *exe = pl_str(pl_obj(d->root, LK_KEY_PROCESS), LK_KEY_EXE);
    uint64_t base = pl_exe_base(d);
    json_t *h = rc_held_by(d, sec, "hold_child", "reachable");
    ck_assert_str_eq(pl_str(h, LK_KEY_REACH_ROOT), "global");
    ck_assert_str_eq(pl_str(h, LK_KEY_REACH_MODULE), exe);
    ck_assert_uint_eq(pl_hex(pl_obj(h, LK_KEY_REACH_OFFSET)), sym);
    ck_assert_uint_eq(pl_hex(pl_obj(h, LK_KEY_REACH_ADDRESS)), base + sym);
    ck_assert_int_eq(pl_int(h, LK_KEY_REACH_BLOCKS), 1);
    ck_assert_int_eq(pl_int(h, LK_KEY_REACH_BYTES), 99);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_interior_possible)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_interior", &d);
    rc_assert_kind(d, sec, "alloc_interior", "possible", 1, 200);
    rc_assert_kind(d, sec, "alloc_interior", "definite", 0, 0);
    rc_assert_kind(d, sec, "alloc_interior", "reachable", 0, 0);
    rc_assert_total(sec, "possible", 1, 200);
    rc_assert_total(sec, "definite", 0, 0);
    json_t *h = rc_held_by(d, sec, "alloc_interior", "possible");
    ck_assert_str_eq(pl_str(h, LK_KEY_REACH_ROOT), "global");
    ck_assert_uint_eq(pl_hex(pl_obj(h, LK_KEY_REACH_OFFSET)), rc_nm(r.exe, "g_middle"));
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_parked_thread_stack)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_thread_stack", &d);
    rc_assert_kind(d, sec, "on_worker_stack", "reachable", 1, 333);
    /* The worker's DTV hangs off its descriptor: reachable, not possible. */
    rc_assert_total(sec, "definite", 0, 0);
    rc_assert_total(sec, "possible", 0, 0);
    json_t *h = rc_held_by(d, sec, "on_worker_stack", "reachable");
    ck_assert_str_eq(pl_str(h, LK_KEY_REACH_ROOT), "stack");
    long long tid = pl_int(h, LK_KEY_REACH_TID);
    ck_assert_msg(tid > 0 && tid != (long long)r.pid, "held by tid %lld (pid %d)", tid, (int)r.pid);
    ck_assert_int_ge(pl_int(sec, LK_KEY_REACH_THREADS), 2);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_busy_thread_stack)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_busy_thread", &d);
    rc_assert_kind(d, sec, "on_busy_stack", "reachable", 1, 444);
    json_t *h = rc_held_by(d, sec, "on_busy_stack", "reachable");
    ck_assert_str_eq(pl_str(h, LK_KEY_REACH_ROOT), "stack");
    long long tid = pl_int(h, LK_KEY_REACH_TID);
    ck_assert_msg(tid > 0 && tid != (long long)r.pid, "held by tid %lld (pid %d)", tid, (int)r.pid);
    ck_assert_int_ge(pl_int(sec, LK_KEY_REACH_THREADS_SP_UNKNOWN), 1);
    ck_assert(!pl_bool(sec, LK_KEY_REACH_COMPLETE));
    rc_assert_total(sec, "definite", 0, 0);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_leak_in_thread)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_thread_leak", &d);
    rc_assert_kind(d, sec, "leak_in_thread", "definite", 4, 492);
    /* The ended thread's DTV stays with its cached stack: not a leak. */
    rc_assert_total(sec, "definite", 4, 492);
    rc_assert_total(sec, "possible", 0, 0);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_cxx_families)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_cxx", &d);
    rc_assert_kind(d, sec, "lose_node", "definite", 1, 24);
    rc_assert_kind(d, sec, "make_values", "indirect", 1, 40);
    rc_assert_kind(d, sec, "keep_vector", "reachable", 2, 424);
    /* The families survive into the section. */
    json_t *sites = pl_obj(sec, LK_KEY_REACH_SITES), *s;
    size_t i;
    int seen = 0;
    json_array_foreach(sites, i, s) {
        const char *kind = pl_str(s, LK_KEY_REACH_KIND), *fam = pl_str(s, LK_KEY_FAMILY);
        long long st = pl_int(s, LK_KEY_STACK);
        if (!strcmp(kind, "definite") && pl_stack_has_fn(d, st, "lose_node")) {
            ck_assert_str_eq(fam, "new");
            seen |= 1;
        }
        if (!strcmp(kind, "indirect") && pl_stack_has_fn(d, st, "make_values")) {
            ck_assert_str_eq(fam, "new[]");
            seen |= 2;
        }
    }
    ck_assert_int_eq(seen, 3);
    json_t *st = rc_structure(d, sec, "lose_node");
    ck_assert_str_eq(pl_str(st, LK_KEY_REACH_HEAD_FAMILY), "new");
    ck_assert_int_eq(pl_int(st, LK_KEY_REACH_BYTES), 64);
    /* Both blocks (the vector and its array) are credited to g_vec. */
    uint64_t g = rc_nm(r.exe, "g_vec");
    long long held = 0;
    json_t *h;
    json_array_foreach(pl_obj(sec, LK_KEY_REACH_HELD_BY), i, h) {
        if (!pl_stack_has_fn(d, pl_int(h, LK_KEY_STACK), "keep_vector")) continue;
        ck_assert_str_eq(pl_str(h, LK_KEY_REACH_ROOT), "global");
        ck_assert_uint_eq(pl_hex(pl_obj(h, LK_KEY_REACH_OFFSET)), g);
        ck_assert_str_eq(pl_str(h, LK_KEY_FAMILY), "new");
        held += pl_int(h, LK_KEY_REACH_BYTES);
    }
    ck_assert_int_eq(held, 424);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_nothing_live)
{
    /* Every block freed: the section keeps its shape, all zero, and says
     * that no root was read (none needed: nothing to classify). */
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "rc_clean", &d);
    ck_assert_int_eq(pl_int(sec, LK_KEY_REACH_LIVE_BLOCKS), 0);
    ck_assert_int_eq(pl_int(sec, LK_KEY_REACH_LIVE_BYTES), 0);
    ck_assert(pl_bool(sec, LK_KEY_REACH_COMPLETE));
    json_t *rs = json_object_get(sec, LK_KEY_REACH_ROOTS_SCANNED);
    ck_assert_msg(json_is_false(rs), "roots_scanned is not false");
    json_t *rb = pl_obj(sec, LK_KEY_REACH_ROOT_BYTES);
    ck_assert_int_eq(pl_int(rb, "global") + pl_int(rb, "stack") + pl_int(rb, "tls") +
                         pl_int(rb, "registers"), 0);
    ck_assert_int_eq(json_array_size(pl_obj(sec, LK_KEY_REACH_SITES)), 0);
    ck_assert_int_eq(json_array_size(pl_obj(sec, LK_KEY_REACH_HELD_BY)), 0);
    ck_assert_int_gt(pl_int(pl_totals(d), LK_KEY_ALLOC_COUNT), 64);  /* it did allocate */
    pl_run_free(&r);
    /* and a scan with a live block reads its roots, and says nothing */
    sec = run_reach(&r, "rc_definite", &d);
    ck_assert_ptr_null(json_object_get(sec, LK_KEY_REACH_ROOTS_SCANNED));
    ck_assert_int_gt(pl_int(pl_obj(sec, LK_KEY_REACH_ROOT_BYTES), "global"), 0);
    ck_assert_int_gt(pl_int(sec, LK_KEY_REACH_THREADS), 0);
    pl_run_free(&r);
}
END_TEST

START_TEST(test_reach_off)
{
    /* LIBLEAK_SCAN=0: the exit dump has no reachability section. */
    pl_run_t r;
    const char *env[] = {"LIBLEAK_SCAN=0", NULL};
    pl_run(&r, "rc_definite", NULL, env, 1);
    pl_assert_exit(&r, 0);
    pl_dump_t *d = pl_exit_dump(&r);
    ck_assert_ptr_null(json_object_get(d->root, LK_KEY_REACH));
    pl_run_free(&r);
}
END_TEST

/* The exit dump runs in libleak's frames, below the program's: stale copies
 * of a lost block's pointer left there are not roots (valgrind says 56 bytes
 * definite), whichever way the program ends: after _exit every frame below
 * main's is libleak's; after exit() or a return from main libc's and ld.so's
 * exit frames lie there too, and the scan starts at the program's frame. */
static void check_spilled(const char *how)
{
    const char *args[] = {how, NULL};
    pl_run_t r;
    pl_run(&r, "spill_roots", how ? args : NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *sec = rc_section(d);
    ck_assert_msg(rc_kind_total(sec, "definite", LK_KEY_REACH_BYTES) == 56 &&
                      rc_kind_total(sec, "reachable", LK_KEY_REACH_BYTES) == 0,
                  "spill_roots %s: %lld bytes definite, %lld reachable; expected 56 and 0",
                  how ? how : "(return)", rc_kind_total(sec, "definite", LK_KEY_REACH_BYTES),
                  rc_kind_total(sec, "reachable", LK_KEY_REACH_BYTES));
    rc_assert_kind(d, sec, "leak_spilled", "definite", 4, 56);
    pl_run_free(&r);
}

START_TEST(test_reach_spilled_frames)
{
    check_spilled("_exit");
}
END_TEST

START_TEST(test_reach_spilled_frames_exit)
{
    check_spilled("exit");
}
END_TEST

START_TEST(test_reach_spilled_frames_return)
{
    check_spilled(NULL);
}
END_TEST

/* exit_roots: main calls exit() holding two blocks, one in a local of its
 * frame and one in a callee-saved register; main's frame is live, so both
 * are reachable (valgrind: still reachable, 2 blocks, 64 bytes). */
START_TEST(test_reach_exit_keeps_main_frame)
{
    pl_run_t r;
    pl_dump_t *d;
    json_t *sec = run_reach(&r, "exit_roots", &d);
    rc_assert_kind(d, sec, "hold_on_stack", "reachable", 1, 24);
    rc_assert_kind(d, sec, "hold_in_register", "reachable", 1, 40);
    rc_assert_total(sec, "definite", 0, 0);
    rc_assert_total(sec, "reachable", 2, 64);
    pl_run_free(&r);
}
END_TEST

static Suite *reach_suite(void)
{
    Suite *s = suite_create("reach");
    TCase *tc = tcase_create("victims");
    tcase_set_timeout(tc, PL_TIMEOUT);
    tcase_add_test(tc, test_reach_definite_and_freed);
    tcase_add_test(tc, test_reach_tree_lost_through_root);
    tcase_add_test(tc, test_reach_two_node_cycle);
    tcase_add_test(tc, test_reach_held_by_global);
    tcase_add_test(tc, test_reach_interior_possible);
    tcase_add_test(tc, test_reach_parked_thread_stack);
    tcase_add_test(tc, test_reach_busy_thread_stack);
    tcase_add_test(tc, test_reach_leak_in_thread);
    tcase_add_test(tc, test_reach_cxx_families);
    tcase_add_test(tc, test_reach_nothing_live);
    tcase_add_test(tc, test_reach_off);
    tcase_add_test(tc, test_reach_spilled_frames);
    tcase_add_test(tc, test_reach_spilled_frames_exit);
    tcase_add_test(tc, test_reach_spilled_frames_return);
    tcase_add_test(tc, test_reach_exit_keeps_main_frame);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(reach_suite)
