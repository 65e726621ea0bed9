/* check_reach_valgrind.c - cross-check the reachability scan against
 * valgrind's leak checker: every rc_* victim runs once under the preload and
 * once under `valgrind --leak-check=full --show-leak-kinds=all`, and the
 * blocks and bytes of each kind must agree for every victim function, and
 * process-wide for definite and indirect.  (Process-wide "possible" and
 * "reachable" differ on purpose: valgrind calls a live thread's DTV possibly
 * lost, through glibc's &dtv[1]; libleak knows that pointer.)
 * Exits 77 (skip) with a reason when valgrind is not installed. */
#include "check_reach.h"

static char valgrind_path[PATH_MAX];

/* Find 'name' in $PATH; returns 1 and fills 'out' when found. */
static int which(const char *name, char *out)
{
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char buf[PATH_MAX];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
        if (n && access(buf, X_OK) == 0) {
            snprintf(out, PATH_MAX, "%s", buf);
            return 1;
        }
        path += n;
        if (*path == ':') path++;
    }
    return 0;
}

/* One valgrind loss record: its kind index, direct bytes, blocks, and the
 * functions on its allocation stack. */
typedef struct vg_record {
    int kind;
    long long bytes, blocks;
    char fns[32][64];
    int nfns;
} vg_record_t;

typedef struct vg_report {
    vg_record_t rec[256];
    int n;
} vg_report_t;

static long long vg_num(const char *s, const char **end)
{
    long long v = 0;
    while ((*s >= '0' && *s <= '9') || *s == ',') {
        if (*s != ',') v = v * 10 + (*s - '0');
        s++;
    }
    *end = s;
    return v;
}

/* Parse valgrind's stderr: "==pid== N[ (D direct, I indirect)] bytes in B
 * blocks are <kind> in loss record ...", then "at"/"by" frames. */
static void vg_parse(const char *text, vg_report_t *rep)
{
    static const char *const phrases[4] = {"are definitely lost", "are indirectly lost",
                                           "are possibly lost", "are still reachable"};
    memset(rep, 0, sizeof *rep);
    vg_record_t *cur = NULL;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        char *body = strstr(buf, "== ");
        body = body ? body + 3 : buf;
        int kind = -1;
        for (int k = 0; k < 4; k++)
            if (strstr(body, phrases[k]) && strstr(body, "in loss record")) kind = k;
        if (kind >= 0 && rep->n < 256) {
            cur = &rep->rec[rep->n++];
            cur->kind = kind;
            const char *p;
            long long total = vg_num(body, &p);
            cur->bytes = total;
            if (strncmp(p, " (", 2) == 0) cur->bytes = vg_num(p + 2, &p);  /* direct part */
            const char *in = strstr(p, "bytes in ");
            ck_assert_msg(in != NULL, "cannot parse valgrind line '%s'", body);
            cur->blocks = vg_num(in + 9, &p);
        } else if (cur && (strncmp(body, "   at 0x", 8) == 0 || strncmp(body, "   by 0x", 8) == 0)) {
            const char *fn = strstr(body, ": ");
            if (fn && cur->nfns < 32) {
                fn += 2;
                size_t l = strcspn(fn, " (");
                snprintf(cur->fns[cur->nfns++], 64, "%.*s", (int)(l < 63 ? l : 63), fn);
            }
        } else {
            cur = NULL;
        }
        if (!eol) break;
        line = eol + 1;
    }
}

/* Sum the records of kind 'kind' (-1: all) whose stack holds 'fn' (NULL: any). */
static rc_agg_t vg_sum(const vg_report_t *rep, const char *fn, int kind)
{
    rc_agg_t a = {0, 0, 0};
    for (int i = 0; i < rep->n; i++) {
        const vg_record_t *r = &rep->rec[i];
        if (kind >= 0 && r->kind != kind) continue;
        int has = fn == NULL;
        for (int j = 0; j < r->nfns && !has; j++) has = !strcmp(r->fns[j], fn);
        if (!has) continue;
        a.blocks += r->blocks;
        a.bytes += r->bytes;
        a.entries++;
    }
    return a;
}

/* 'arg': the victim's one argument, or NULL. */
static void cross_check(const char *victim, const char *arg, const char *const *fns)
{
    static const char *const kinds[] = LK_REACH_KIND_NAMES;
    const char *vargs[] = {arg, NULL};
    pl_run_t r;
    pl_run(&r, victim, arg ? vargs : NULL, NULL, 1);
    pl_assert_exit(&r, 0);
    pl_dump_t *d = pl_exit_dump(&r);
    json_t *sec = rc_section(d);

    pl_run_t v;
    char exe[PATH_MAX];
    pl_victim_path(exe, victim);
    const char *args[] = {"--leak-check=full", "--show-leak-kinds=all", "--num-callers=40",
                          "--errors-for-leak-kinds=none", exe, arg, NULL};
    pl_run_exe(&v, valgrind_path, args, NULL, 0);
    pl_assert_exit(&v, 0);
    ck_assert_msg(strstr(v.err, "LEAK SUMMARY") || strstr(v.err, "All heap blocks were freed"),
                  "%s: no leak summary from valgrind:\n%s", victim, v.err);
    vg_report_t *rep = malloc(sizeof *rep);
    vg_parse(v.err, rep);

    for (int k = 0; k < 4; k++) {
        for (int i = 0; fns[i]; i++) {
            rc_agg_t ours = rc_kind(d, sec, fns[i], kinds[k]);
            rc_agg_t theirs = vg_sum(rep, fns[i], k);
            ck_assert_msg(ours.blocks == theirs.blocks && ours.bytes == theirs.bytes,
                          "%s: %s through %s(): libleak %lld blocks/%lld bytes, valgrind "
                          "%lld/%lld\nvalgrind said:\n%s",
                          victim, kinds[k], fns[i], ours.blocks, ours.bytes, theirs.blocks,
                          theirs.bytes, v.err);
        }
        if (k <= LK_REACH_INDIRECT) {
            rc_agg_t theirs = vg_sum(rep, NULL, k);
            long long ob = rc_kind_total(sec, kinds[k], LK_KEY_REACH_BLOCKS);
            long long oy = rc_kind_total(sec, kinds[k], LK_KEY_REACH_BYTES);
            ck_assert_msg(ob == theirs.blocks && oy == theirs.bytes,
                          "%s: all %s: libleak %lld blocks/%lld bytes, valgrind %lld/%lld\n%s",
                          victim, kinds[k], ob, oy, theirs.blocks, theirs.bytes, v.err);
        }
    }
    free(rep);
    pl_run_free(&v);
    pl_run_free(&r);
}

#define CROSS_ARG(name, victim, arg, ...)                             \
    START_TEST(name)                                                  \
    {                                                                 \
        static const char *const fns_[] = {__VA_ARGS__, NULL};        \
        cross_check(victim, arg, fns_);                               \
    }                                                                 \
    END_TEST
#define CROSS(name, victim, ...) CROSS_ARG(name, victim, NULL, __VA_ARGS__)

CROSS(test_reach_vg_definite, "rc_definite", "leak_simple", "freed_here")
CROSS(test_reach_vg_tree, "rc_tree", "alloc_root", "alloc_child")
CROSS(test_reach_vg_cycle, "rc_cycle", "make_node", "make_cycle")
CROSS(test_reach_vg_global, "rc_global", "hold_me", "hold_child")
CROSS(test_reach_vg_interior, "rc_interior", "alloc_interior")
CROSS(test_reach_vg_thread_stack, "rc_thread_stack", "on_worker_stack")
CROSS(test_reach_vg_thread_leak, "rc_thread_leak", "leak_in_thread")
CROSS(test_reach_vg_cxx, "rc_cxx", "lose_node", "make_values", "keep_vector")
/* The dumping thread's own stack: stale words under the program's frames
 * (after a return from main, exit() and _exit), and main's live frame at
 * exit(). */
CROSS(test_reach_vg_spill_return, "spill_roots", "leak_spilled")
CROSS_ARG(test_reach_vg_spill_exit, "spill_roots", "exit", "leak_spilled")
CROSS_ARG(test_reach_vg_spill_exit_, "spill_roots", "_exit", "leak_spilled")
CROSS(test_reach_vg_exit_roots, "exit_roots", "hold_on_stack", "hold_in_register")

static Suite *reach_valgrind_suite(void)
{
    Suite *s = suite_create("reach_valgrind");
    TCase *tc = tcase_create("valgrind");
    tcase_set_timeout(tc, PL_TIMEOUT);
    tcase_add_test(tc, test_reach_vg_definite);
    tcase_add_test(tc, test_reach_vg_tree);
    tcase_add_test(tc, test_reach_vg_cycle);
    tcase_add_test(tc, test_reach_vg_global);
    tcase_add_test(tc, test_reach_vg_interior);
    tcase_add_test(tc, test_reach_vg_thread_stack);
    tcase_add_test(tc, test_reach_vg_thread_leak);
    tcase_add_test(tc, test_reach_vg_cxx);
    tcase_add_test(tc, test_reach_vg_spill_return);
    tcase_add_test(tc, test_reach_vg_spill_exit);
    tcase_add_test(tc, test_reach_vg_spill_exit_);
    tcase_add_test(tc, test_reach_vg_exit_roots);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!which("valgrind", valgrind_path)) {
        printf("SKIP: valgrind is not installed (apt-get install valgrind, or make deps)\n");
        return 77;
    }
    SRunner *sr = srunner_create(reach_valgrind_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
