/* check_dump.c - the dump writer: valid JSON that jansson parses back, every
 * documented section present, the docs/FORMAT.md invariants, the file name,
 * mode and atomic rename; ENOSPC and an unwritable directory give exactly one
 * warning line and no visible file; EINTR and short writes are survived. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers_preload.h"
#include "testhelper.h"

static char dir[64];
static int log_lines;
static char logbuf[2048];

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static ssize_t capture_log(int fd, const void *buf, size_t n)
{
    (void)fd;
    size_t have = strlen(logbuf);
    if (have + n < sizeof logbuf) {
        memcpy(logbuf + have, buf, n);
        logbuf[have + n] = '\0';
    }
    for (size_t i = 0; i < n; i++)
        log_lines += ((const char *)buf)[i] == '\n';
    return (ssize_t)n;
}

static int fake_bt(void **buf, int size)
{
    static const uintptr_t pcs[] = { 0x7000, 0x7100, 0x7200 };
    int n = size < 3 ? size : 3;
    for (int i = 0; i < n; i++)
        buf[i] = (void *)pcs[i];
    return n;
}

static ssize_t (*real_write)(int, const void *, size_t);
static int (*open_real)(const char *, int, mode_t);

static void setup(void)
{
    lk_config_load(no_env);
    lk_config.scan = 0;
    lk_tracker_reset_for_tests();
    lk_dump_reset_for_tests();
    lk_timeline_reset_for_tests();
    lk_stack_backtrace = fake_bt;
    strcpy(dir, "/tmp/check_dump.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    lk_config.dir = dir;
    log_lines = 0;
    logbuf[0] = '\0';
    lk_log_write = capture_log;
    if (!real_write)
        real_write = lk_dump_writefn;
    lk_dump_writefn = real_write;
    if (!open_real)
        open_real = lk_dump_open;
    lk_dump_open = open_real;
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Names of the files in the dump directory, joined by spaces. */
static void list_dir(char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        strncat(out, e->d_name, cap - strlen(out) - 2);
        strncat(out, " ", cap - strlen(out) - 1);
    }
    if (d)
        closedir(d);
}

/* A small workload: 2 sites with live blocks, a freed site, a mismatch, a failure. */
static void workload(void)
{
    lk_frames_t a, b, c;
    fake_frames(&a, 0x401000, 5);
    fake_frames(&b, 0x402000, 3);
    fake_frames(&c, 0x403000, 4);
    for (uintptr_t i = 0; i < 3; i++)
        lk_track_alloc((void *)(0x10000 + 0x100 * i), 1337, LK_FAMILY_MALLOC, &a);
    lk_track_alloc((void *)0x20000, 40, LK_FAMILY_NEW_ARRAY, &b);
    lk_track_alloc((void *)0x20100, 40, LK_FAMILY_NEW_ARRAY, &b);
    lk_track_free((void *)0x20100, LK_FAMILY_NEW);                 /* mismatch */
    lk_track_alloc((void *)0x30000, 8, LK_FAMILY_NEW, &c);
    lk_track_free((void *)0x30000, LK_FAMILY_NEW);
    lk_track_failure(LK_FAIL_ENOMEM, "malloc", 1ull << 46, &c);
    lk_track_free((void *)0x99990, LK_FAMILY_MALLOC);              /* untracked */
}

static json_t *load(const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s at line %d", path, err.text, err.line);
    return root;
}

static json_int_t geti(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "key '%s' is not an integer", k);
    return json_integer_value(v);
}

static bool has_stack(json_t *stacks, json_int_t id)
{
    size_t i;
    json_t *s;
    json_array_foreach(stacks, i, s)
        if (geti(s, LK_KEY_ID) == id)
            return true;
    return false;
}

START_TEST(test_dump_valid_json_and_invariants)
{
    workload();
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_EXIT, NULL), 0);
    json_t *root = load(lk_dump_last_path());
    ck_assert_str_eq(json_string_value(json_object_get(root, LK_KEY_FORMAT)), LIBLEAK_DUMP_FORMAT);
    ck_assert_int_eq(geti(root, LK_KEY_VERSION), LIBLEAK_DUMP_VERSION);
    const char *sections[] = { LK_KEY_PROCESS, LK_KEY_DUMP, LK_KEY_CONFIG, LK_KEY_LIMITS,
                               LK_KEY_TOTALS, LK_KEY_COST, LK_KEY_MODULES, LK_KEY_STACKS,
                               LK_KEY_SITES, LK_KEY_MISMATCHES, LK_KEY_FAILURES, LK_KEY_TIMELINE };
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        ck_assert_msg(json_object_get(root, sections[i]) != NULL, "missing %s", sections[i]);

    json_t *proc = json_object_get(root, LK_KEY_PROCESS);
    ck_assert_int_eq(geti(proc, LK_KEY_PID), getpid());
    ck_assert(json_array_size(json_object_get(proc, LK_KEY_CMDLINE)) >= 1);
    json_t *d = json_object_get(root, LK_KEY_DUMP);
    ck_assert_int_eq(geti(d, LK_KEY_SEQ), 0);
    ck_assert_str_eq(json_string_value(json_object_get(d, LK_KEY_TRIGGER)), "exit");
    ck_assert(json_is_null(json_object_get(d, LK_KEY_LABEL)));

    json_t *t = json_object_get(root, LK_KEY_TOTALS);
    ck_assert_int_eq(geti(t, LK_KEY_LIVE_BYTES), 3 * 1337 + 40);
    ck_assert_int_eq(geti(t, LK_KEY_LIVE_BLOCKS), 4);
    ck_assert_int_eq(geti(t, LK_KEY_ALLOC_COUNT), 6);
    ck_assert_int_eq(geti(t, LK_KEY_FREE_COUNT), 2);
    ck_assert_int_eq(geti(t, LK_KEY_FAILED_COUNT), 1);
    ck_assert_int_eq(geti(t, LK_KEY_UNTRACKED_FREES), 1);
    ck_assert_int_eq(geti(t, LK_KEY_MISMATCHED_FREES), 1);
    ck_assert_int_eq(geti(t, LK_KEY_DROPPED_EVENTS), 0);
    ck_assert(json_is_true(json_object_get(t, LK_KEY_COMPLETE)));

    /* invariants: sums of sites, per-site totals, stack references, hex addresses */
    json_t *stacks = json_object_get(root, LK_KEY_STACKS), *sites = json_object_get(root, LK_KEY_SITES);
    json_int_t live = 0, blocks = 0;
    size_t i;
    json_t *s;
    ck_assert_uint_eq(json_array_size(sites), 3);
    json_array_foreach(sites, i, s) {
        live += geti(s, LK_KEY_LIVE_BYTES);
        blocks += geti(s, LK_KEY_LIVE_BLOCKS);
        ck_assert_int_eq(geti(s, LK_KEY_TOTAL_BLOCKS),
                         geti(s, LK_KEY_LIVE_BLOCKS) + geti(s, LK_KEY_FREED_BLOCKS));
        ck_assert(has_stack(stacks, geti(s, LK_KEY_STACK)));
        ck_assert(json_is_string(json_object_get(s, LK_KEY_FAMILY)));
    }
    ck_assert_int_eq(live, geti(t, LK_KEY_LIVE_BYTES));
    ck_assert_int_eq(blocks, geti(t, LK_KEY_LIVE_BLOCKS));
    json_array_foreach(stacks, i, s) {
        json_t *fr = json_object_get(s, LK_KEY_FRAMES);
        ck_assert(json_array_size(fr) > 0);
        const char *pc = json_string_value(json_array_get(fr, 0));
        ck_assert_ptr_nonnull(pc);
        ck_assert_int_eq(strncmp(pc, "0x", 2), 0);
        ck_assert(json_is_boolean(json_object_get(s, LK_KEY_TRUNCATED)));
    }
    json_t *mm = json_object_get(root, LK_KEY_MISMATCHES);
    ck_assert_uint_eq(json_array_size(mm), 1);
    json_t *m0 = json_array_get(mm, 0);
    ck_assert_str_eq(json_string_value(json_object_get(m0, LK_KEY_ALLOC_FAMILY)), "new[]");
    ck_assert_str_eq(json_string_value(json_object_get(m0, LK_KEY_FREE_FAMILY)), "new");
    ck_assert(has_stack(stacks, geti(m0, LK_KEY_ALLOC_STACK)));
    ck_assert(has_stack(stacks, geti(m0, LK_KEY_FREE_STACK)));
    json_t *fl = json_object_get(root, LK_KEY_FAILURES);
    ck_assert_uint_eq(json_array_size(fl), 1);
    json_t *f0 = json_array_get(fl, 0);
    ck_assert_str_eq(json_string_value(json_object_get(f0, LK_KEY_KIND)), "enomem");
    ck_assert_int_eq(geti(f0, LK_KEY_REQUEST_BYTES), 1ll << 46);
    ck_assert(has_stack(stacks, geti(f0, LK_KEY_STACK)));

    /* modules: this test binary, with its base as a hex string */
    json_t *mods = json_object_get(root, LK_KEY_MODULES);
    ck_assert(json_array_size(mods) >= 2);
    json_t *m = json_array_get(mods, 0);
    ck_assert_int_eq(strncmp(json_string_value(json_object_get(m, LK_KEY_BASE)), "0x", 2), 0);
    ck_assert(geti(m, LK_KEY_SIZE) > 0);
    ck_assert(json_is_string(json_object_get(m, LK_KEY_BUILD_ID)));
    /* timeline: parallel arrays of one length, with at least this dump's sample */
    json_t *tl = json_object_get(root, LK_KEY_TIMELINE);
    size_t n = json_array_size(json_object_get(tl, LK_KEY_TL_UPTIME_NS));
    ck_assert_uint_ge(n, 1);
    ck_assert_uint_eq(json_array_size(json_object_get(tl, LK_KEY_TL_LIVE_BYTES)), n);
    ck_assert_uint_eq(json_array_size(json_object_get(tl, LK_KEY_TL_RSS_BYTES)), n);
    ck_assert_uint_eq(json_array_size(json_object_get(tl, LK_KEY_TL_ALLOCS)), n);
    ck_assert_uint_eq(json_array_size(json_object_get(tl, LK_KEY_TL_FREES)), n);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(tl, LK_KEY_TL_LIVE_BYTES), n - 1)),
                     3 * 1337 + 40);
    json_t *lim = json_object_get(root, LK_KEY_LIMITS);
    ck_assert(geti(lim, LK_KEY_EFFECTIVE) > 0 || lk_limits.effective == 0);
    json_decref(root);
}
END_TEST

START_TEST(test_dump_file_name_mode_and_seq)
{
    char want[256], names[1024];
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_SIGNAL, NULL), 0);
    snprintf(want, sizeof want, "%s/libleak.%d.0.signal.json", dir, (int)getpid());
    ck_assert_str_eq(lk_dump_last_path(), want);
    struct stat st;
    ck_assert_int_eq(stat(want, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_API, "after-warmup"), 0);
    snprintf(want, sizeof want, "%s/libleak.%d.1.api.json", dir, (int)getpid());
    ck_assert_str_eq(lk_dump_last_path(), want);
    json_t *root = load(want);
    json_t *d = json_object_get(root, LK_KEY_DUMP);
    ck_assert_str_eq(json_string_value(json_object_get(d, LK_KEY_LABEL)), "after-warmup");
    ck_assert_int_eq(geti(d, LK_KEY_SEQ), 1);
    json_decref(root);
    list_dir(names, sizeof names);
    ck_assert_ptr_null(strstr(names, ".tmp"));
}
END_TEST

START_TEST(test_dump_label_cut_to_63_bytes)
{
    char label[200];
    memset(label, 'x', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_API, label), 0);
    json_t *root = load(lk_dump_last_path());
    const char *l = json_string_value(json_object_get(json_object_get(root, LK_KEY_DUMP), LK_KEY_LABEL));
    ck_assert_uint_eq(strlen(l), 63);
    json_decref(root);
}
END_TEST

static ssize_t enospc_write(int fd, const void *buf, size_t n)
{
    (void)fd;
    (void)buf;
    (void)n;
    errno = ENOSPC;
    return -1;
}

START_TEST(test_dump_enospc_one_warning_no_file)
{
    char names[1024];
    workload();
    lk_dump_writefn = enospc_write;
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_EXIT, NULL), -ENOSPC);
    ck_assert_int_eq(log_lines, 1);
    ck_assert_ptr_nonnull(strstr(logbuf, "No space left on device"));
    list_dir(names, sizeof names);
    ck_assert_str_eq(names, "");                 /* neither the .tmp nor the dump */
    /* the first I/O error stops further dumps, silently */
    lk_dump_writefn = real_write;
    ck_assert_int_lt(lk_dump_write(LK_TRIGGER_SIGNAL, NULL), 0);
    ck_assert_int_eq(log_lines, 1);
    list_dir(names, sizeof names);
    ck_assert_str_eq(names, "");
}
END_TEST

START_TEST(test_dump_unwritable_dir_one_warning)
{
    lk_config.dir = "/nonexistent/libleak-dumps";
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_EXIT, NULL), -ENOENT);
    ck_assert_int_eq(log_lines, 1);
    ck_assert_ptr_nonnull(strstr(logbuf, "libleak: cannot write dump '/nonexistent/libleak-dumps/"));
    ck_assert_int_lt(lk_dump_write(LK_TRIGGER_EXIT, NULL), 0);
    ck_assert_int_eq(log_lines, 1);
}
END_TEST

/* EINTR on every other call, and at most 7 bytes per successful write. */
static ssize_t eintr_short_write(int fd, const void *buf, size_t n)
{
    static unsigned calls;
    if (calls++ % 2 == 0) {
        errno = EINTR;
        return -1;
    }
    return real_write(fd, buf, n < 7 ? n : 7);
}

START_TEST(test_dump_eintr_and_short_writes)
{
    workload();
    lk_dump_writefn = eintr_short_write;
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_EXIT, NULL), 0);
    ck_assert_int_eq(log_lines, 0);
    json_t *root = load(lk_dump_last_path());
    ck_assert_int_eq(geti(json_object_get(root, LK_KEY_TOTALS), LK_KEY_LIVE_BLOCKS), 4);
    json_decref(root);
}
END_TEST

START_TEST(test_dump_exit_once)
{
    char names[1024];
    lk_dump_exit();
    lk_dump_exit();
    list_dir(names, sizeof names);
    char want[64];
    snprintf(want, sizeof want, "libleak.%d.0.exit.json ", (int)getpid());
    ck_assert_str_eq(names, want);
}
END_TEST

START_TEST(test_dump_dropped_marks_incomplete)
{
    lk_frames_t a;
    fake_frames(&a, 0x401000, 2);
    lk_track_alloc((void *)0x1003, 10, LK_FAMILY_MALLOC, &a);   /* cannot be recorded */
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_EXIT, NULL), 0);
    json_t *root = load(lk_dump_last_path());
    json_t *t = json_object_get(root, LK_KEY_TOTALS);
    ck_assert_int_eq(geti(t, LK_KEY_DROPPED_EVENTS), 1);
    ck_assert(json_is_false(json_object_get(t, LK_KEY_COMPLETE)));
    json_decref(root);
}
END_TEST

START_TEST(test_dump_timeline_sites)
{
    /* a growing site and a steady one: each sample keeps both with their
     * live bytes, aligned with uptime_ns; a site that came later is null
     * before it */
    lk_frames_t a, b;
    fake_frames(&a, 0x401000, 2);
    fake_frames(&b, 0x402000, 2);
    lk_track_alloc((void *)0x100000, 64, LK_FAMILY_MALLOC, &b);
    lk_timeline_sample();
    uintptr_t p = 0x200000;
    for (int i = 0; i < 5; i++) {
        lk_track_alloc((void *)p, 1000, LK_FAMILY_MALLOC, &a);
        p += 1024;
        lk_timeline_sample();
    }
    json_t *root = lk_dump_build(LK_TRIGGER_SIGNAL, NULL, 0);
    json_t *tl = json_object_get(root, LK_KEY_TIMELINE);
    size_t n = json_array_size(json_object_get(tl, LK_KEY_TL_UPTIME_NS));
    ck_assert_uint_ge(n, 7);
    json_t *ts = json_object_get(tl, LK_KEY_TL_SITES);
    ck_assert_uint_eq(json_array_size(ts), 2);
    json_t *stacks = json_object_get(root, LK_KEY_STACKS);
    bool seen_grow = false;
    size_t i;
    json_t *e;
    json_array_foreach(ts, i, e) {
        ck_assert(has_stack(stacks, geti(e, LK_KEY_STACK)));
        ck_assert_str_eq(json_string_value(json_object_get(e, LK_KEY_FAMILY)), "malloc");
        json_t *lb = json_object_get(e, LK_KEY_TL_LIVE_BYTES);
        ck_assert_uint_eq(json_array_size(lb), n);
        json_int_t last = json_integer_value(json_array_get(lb, n - 1));
        if (last == 5000) {
            seen_grow = true;
            ck_assert(json_is_null(json_array_get(lb, 0)));
            ck_assert_int_eq(json_integer_value(json_array_get(lb, n - 2)), 5000);
        } else {
            ck_assert_int_eq(last, 64);
        }
    }
    ck_assert(seen_grow);
    json_decref(root);
}
END_TEST

START_TEST(test_dump_timeline_bounded_and_merged)
{
    /* 3000 samples into a 1024-sample ring: pairs merge, times stay ordered,
     * and the per-interval allocation counts still add up to the total */
    lk_frames_t a;
    fake_frames(&a, 0x401000, 2);
    uintptr_t p = 0x100000;
    for (int i = 0; i < 3000; i++) {
        lk_track_alloc((void *)p, 8, LK_FAMILY_MALLOC, &a);
        p += 16;
        lk_timeline_sample();
    }
    static lk_sample_t s[4096];
    size_t n = lk_timeline_copy(s, 4096);
    ck_assert_uint_le(n, 1024);
    ck_assert_uint_ge(n, 256);
    uint64_t allocs = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ck_assert_uint_ge(s[i].uptime_ns, s[i - 1].uptime_ns);
        allocs += s[i].allocs;
    }
    ck_assert_uint_eq(allocs, 3000);
    ck_assert_uint_eq(s[n - 1].live_bytes, 3000 * 8);
}
END_TEST

/* The stacks and sites arrays are written entry by entry after the rest: a
 * dump of 3000 stacks (about 500 KB, eight flushes of the 64 KB buffer) must
 * parse, keep every entry and frame, and match the tree lk_dump_build makes. */
START_TEST(test_dump_streams_many_stacks_and_sites)
{
    enum { N = 3000 };
    lk_frames_t f;
    uint64_t live = 0;
    for (unsigned i = 0; i < N; i++) {
        fake_frames(&f, i == N - 1 ? (uintptr_t)0xfffffffffffff000u : 0x500000 + 0x1000 * (uintptr_t)i,
                    1 + i % 24);
        void *p = (void *)(0x10000000 + 0x100 * (uintptr_t)i);
        lk_track_alloc(p, 1 + i, LK_FAMILY_MALLOC, &f);
        if (i % 3 == 0)
            lk_track_free(p, LK_FAMILY_MALLOC);
        else
            live += 1 + i;
    }
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_API, NULL), 0);
    struct stat st;
    ck_assert_int_eq(stat(lk_dump_last_path(), &st), 0);
    ck_assert_int_gt(st.st_size, 8 * 65536);
    json_t *root = load(lk_dump_last_path());
    json_t *stacks = json_object_get(root, LK_KEY_STACKS), *sites = json_object_get(root, LK_KEY_SITES);
    ck_assert_uint_eq(json_array_size(stacks), lk_stack_count());
    ck_assert_uint_eq(json_array_size(stacks), N);
    size_t i;
    json_t *s;
    json_array_foreach(stacks, i, s) {
        ck_assert_int_eq(geti(s, LK_KEY_ID), (json_int_t)i);
        const lk_stack_rec_t *k = lk_stack_get((uint32_t)i);
        json_t *fr = json_object_get(s, LK_KEY_FRAMES);
        ck_assert_uint_eq(json_array_size(fr), k->depth);
        for (uint32_t j = 0; j < k->depth; j++) {
            char want[32];
            snprintf(want, sizeof want, "0x%" PRIxPTR, k->pc[j]);
            ck_assert_str_eq(json_string_value(json_array_get(fr, j)), want);
        }
    }
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_array_get(stacks, N - 1), LK_KEY_FRAMES), 0)),
                     "0xfffffffffffff000");
    ck_assert_uint_eq(json_array_size(sites), N);
    json_int_t sum = 0;
    json_array_foreach(sites, i, s)
        sum += geti(s, LK_KEY_LIVE_BYTES);
    ck_assert_int_eq(sum, (json_int_t)live);
    ck_assert_int_eq(geti(json_object_get(root, LK_KEY_TOTALS), LK_KEY_LIVE_BYTES), (json_int_t)live);
    /* the same entries as the one-tree build */
    json_t *tree = lk_dump_build(LK_TRIGGER_API, NULL, 1);
    ck_assert(json_equal(json_object_get(tree, LK_KEY_STACKS), stacks));
    ck_assert(json_equal(json_object_get(tree, LK_KEY_SITES), sites));
    json_decref(tree);
    json_decref(root);
}
END_TEST

/* lk_jw writes the dump's big arrays as text without a tree (json.h): its
 * text must be what jansson writes (JSON_COMPACT) for the tree the same calls
 * build, byte for byte, for every kind of value, strings that need escaping
 * included (those go through jansson), across flushes of its 1 KiB buffer. */
typedef struct text_buf {
    char *p;
    size_t len;
} text_buf_t;

static int collect(const char *d, size_t n, void *arg)
{
    text_buf_t *b = arg;
    char *q = realloc(b->p, b->len + n + 1);
    if (!q)
        return -1;
    memcpy(q + b->len, d, n);
    b->p = q;
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int refuse(const char *d, size_t n, void *arg)
{
    (void)d, (void)n, (void)arg;
    return -1;
}

static void jw_sample(lk_jw_t *w)
{
    static char longs[3000];
    memset(longs, 'x', sizeof longs - 1);
    lk_jw_object(w, NULL);
    lk_jw_int(w, "zero", 0);
    lk_jw_int(w, "neg", -42);
    lk_jw_int(w, "min", INT64_MIN);
    lk_jw_int(w, "max", INT64_MAX);
    lk_jw_int(w, "d1", 7);
    lk_jw_int(w, "d2", 99);
    lk_jw_int(w, "d3", 100);
    lk_jw_int(w, "d5", 12345);
    lk_jw_int(w, "dn", -1000001);
    lk_jw_hex(w, "h0", 0);
    lk_jw_hex(w, "hmax", UINT64_MAX);
    lk_jw_hex(w, "h", 0x7f00deadbeefu);
    lk_jw_bool(w, "t", true);
    lk_jw_bool(w, "f", false);
    lk_jw_null(w, "n");
    lk_jw_str(w, "plain", "/usr/lib/x86_64-linux-gnu/libc.so.6 ~!{}[]:,");
    lk_jw_str(w, "nul", NULL);
    lk_jw_str(w, "quote", "say \"hi\"");
    lk_jw_str(w, "backslash", "C:\\dir/x");
    lk_jw_str(w, "ctl", "tab\there\nnl\x01\x1f\x7f");
    lk_jw_str(w, "utf8", "caf\xc3\xa9 \xe2\x82\xac");
    lk_jw_str(w, "bad", "\xff\xfe not UTF-8");  /* left out, as in a tree */
    lk_jw_array(w, "arr");
    for (unsigned i = 0; i < 300; i++)
        lk_jw_hex(w, NULL, 0x400000 + 0x1000 * (uint64_t)i + i);
    lk_jw_object(w, NULL);
    lk_jw_array(w, "empty");
    lk_jw_close(w);
    lk_jw_close(w);
    lk_jw_close(w);
    lk_jw_str(w, "long", longs);
    lk_jw_close(w);
    lk_jw_int(w, NULL, 7);
    lk_jw_object(w, NULL);
    lk_jw_close(w);
}

START_TEST(test_jw_text_is_janssons_compact_dump)
{
    text_buf_t b = { NULL, 0 };
    ck_assert_int_eq(collect("[", 1, &b), 0);
    lk_jw_t w;
    lk_jw_text(&w, collect, &b);
    jw_sample(&w);
    ck_assert_int_eq(lk_jw_end(&w), 0);
    ck_assert_int_eq(collect("]", 1, &b), 0);

    json_t *tree = json_array();
    lk_jw_tree(&w, tree);
    jw_sample(&w);
    ck_assert_int_eq(lk_jw_end(&w), 0);
    ck_assert_uint_eq(json_array_size(tree), 3);
    ck_assert_ptr_null(json_object_get(json_array_get(tree, 0), "bad"));
    ck_assert_ptr_nonnull(json_object_get(json_array_get(tree, 0), "utf8"));
    char *want = json_dumps(tree, JSON_COMPACT);
    ck_assert_ptr_nonnull(want);
    ck_assert_uint_gt(strlen(want), 3 * sizeof w.buf);
    size_t at = 0;
    while (b.p[at] && b.p[at] == want[at])
        at++;
    ck_assert_msg(b.p[at] == want[at], "lk_jw's text differs from jansson's at byte %zu: %.40s | %.40s",
                  at, b.p + at, want + at);

    /* a callback that fails: lk_jw_end says so */
    lk_jw_text(&w, refuse, NULL);
    jw_sample(&w);
    ck_assert_int_eq(lk_jw_end(&w), -1);
    free(want);
    free(b.p);
    json_decref(tree);
}
END_TEST

/* The whole dump written as text must be, byte for byte, jansson's compact
 * text of the tree the same calls build, with strings that need escaping
 * (a label with quotes and control characters), a label that is not UTF-8,
 * integers at the edges (a count above INT64_MAX, negative settings) and
 * both the timeline's and the groups' sections filled. */
static void dump_text_equals_tree(const char *label)
{
    char path[128];
    snprintf(path, sizeof path, "%s/text.json", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    json_t *tree = lk_dump_text_and_tree(LK_TRIGGER_API, label, 7, fd);
    close(fd);
    ck_assert_ptr_nonnull(tree);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    ck_assert_uint_gt(n, 2);
    ck_assert_int_eq(text[n - 1], '\n');
    text[n - 1] = '\0';
    char *want = json_dumps(tree, JSON_COMPACT);
    ck_assert_ptr_nonnull(want);
    size_t at = 0;
    while (text[at] && text[at] == want[at])
        at++;
    ck_assert_msg(text[at] == want[at], "the dump's text differs from its tree's at byte %zu: %.60s | %.60s",
                  at, text + at, want + at);
    free(want);
    json_decref(tree);
}

START_TEST(test_dump_text_is_the_trees_compact_text)
{
    workload();
    lk_frames_t a;
    fake_frames(&a, 0x7ffff7a00000u, 9);
    lk_track_failure(LK_FAIL_ENOMEM, "malloc", UINT64_MAX, &a);
    for (int i = 0; i < 5; i++)
        lk_timeline_sample();
    int interval = lk_config.interval_ms;
    uint64_t watermark = lk_watermark_step;
    lk_config.interval_ms = -12345;
    lk_watermark_step = UINT64_MAX;
    dump_text_equals_tree("say \"hi\" \\ tab\there nl\n \x01\x1f\x7f caf\xc3\xa9");
    dump_text_equals_tree("not UTF-8 \xff\xfe end");
    dump_text_equals_tree(NULL);
    lk_config.interval_ms = interval;
    lk_watermark_step = watermark;
}
END_TEST

/* The exit dump is written as text: the built-in JSON values (json.c) make
 * no node for it, where building the dump as a tree made one a value. */
START_TEST(test_dump_exit_builds_no_tree)
{
    workload();
    lk_json_api_t shared = lk_json;
    lk_json_api_t builtin = { lk_mj_object, lk_mj_array, lk_mj_string, lk_mj_integer, lk_mj_null,
                              lk_mj_true, lk_mj_false, lk_mj_object_set_new, lk_mj_array_append_new,
                              lk_mj_array_size, lk_mj_array_remove, lk_mj_dump_callback, lk_mj_delete };
    lk_json = builtin;
    /* the counter counts: one object and one integer */
    unsigned long before = lk_mj_nodes;
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(1));
    json_decref(o);
    ck_assert_uint_eq(lk_mj_nodes - before, 2);
    before = lk_mj_nodes;
    int rc = lk_dump_write(LK_TRIGGER_EXIT, NULL);
    unsigned long nodes = lk_mj_nodes - before;
    lk_json = shared;
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(nodes, 0);
    json_t *root = load(lk_dump_last_path());
    ck_assert_int_eq(geti(json_object_get(root, LK_KEY_TOTALS), LK_KEY_LIVE_BLOCKS), 4);
    ck_assert_uint_eq(json_array_size(json_object_get(root, LK_KEY_MISMATCHES)), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(root, LK_KEY_FAILURES)), 1);
    json_decref(root);
}
END_TEST

/* Tree mode when one of jansson's allocations fails, each in turn: the writer
 * fails (or, for a string, leaves its key out, as json_object_set_new does),
 * and never adds to a container that jansson freed when adding it failed (a
 * use-after-free once).  That use happens inside jansson, which is not
 * instrumented: valgrind sees it (test_jw_valgrind.sh), ASan does not, and
 * nothing crashes here. */
static int alloc_n, alloc_fail;

static void *failing_malloc(size_t n)
{
    return alloc_n++ == alloc_fail ? NULL : malloc(n);
}

START_TEST(test_jw_tree_out_of_memory)
{
    int failed = 0, k;
    for (k = 0; k < 2000; k++) {
        json_t *tree = json_array();
        alloc_n = 0;
        alloc_fail = k;
        json_set_alloc_funcs(failing_malloc, free);
        lk_jw_t w;
        lk_jw_tree(&w, tree);
        jw_sample(&w);
        int rc = lk_jw_end(&w);
        json_set_alloc_funcs(malloc, free);
        json_decref(tree);
        failed += rc != 0;
        if (alloc_n <= k)
            break;                          /* every allocation has failed once */
    }
    ck_assert_int_lt(k, 2000);
    ck_assert_int_gt(failed, k / 2);
}
END_TEST

/* Free the process-wide tables (stack keys, uthash tables, groups), so that
 * LeakSanitizer sees no leak: they live in memory it does not scan (mmap). */
static void teardown_core(void)
{
    lk_tracker_reset_for_tests();
}

/* What a planted name looked like, to check that it is left as it was. */
typedef struct planted {
    char path[512];
    char target[512];           /* symlinks: where it points; else "" */
    mode_t type;                /* S_IFLNK, S_IFIFO or S_IFREG */
} planted_t;

#define FINAL_FMT "%s/libleak.%d.%u.%s.json"
#define TMP_FMT   "%s/.libleak.%d.%u.%s.json.tmp"
enum { FINAL, TMP };

/* The final or temporary name of dump 'seq' of this process into 'buf'. */
static void dump_name(char *buf, size_t cap, int which, unsigned seq, const char *trigger)
{
    if (which == TMP)
        snprintf(buf, cap, TMP_FMT, dir, (int)getpid(), seq, trigger);
    else
        snprintf(buf, cap, FINAL_FMT, dir, (int)getpid(), seq, trigger);
}

static void plant(planted_t *p, mode_t type, const char *target, int which, unsigned seq,
                  const char *trigger)
{
    dump_name(p->path, sizeof p->path, which, seq, trigger);
    snprintf(p->target, sizeof p->target, "%s", target ? target : "");
    p->type = type;
    if (type == S_IFLNK)
        ck_assert_int_eq(symlink(target, p->path), 0);
    else if (type == S_IFIFO)
        ck_assert_int_eq(mkfifo(p->path, 0600), 0);
    else
        ck_assert_int_eq(close(open(p->path, O_WRONLY | O_CREAT | O_EXCL, 0600)), 0);
}

static void assert_untouched(const planted_t *p)
{
    struct stat st;
    ck_assert_msg(lstat(p->path, &st) == 0, "%s: gone", p->path);
    ck_assert_msg((st.st_mode & S_IFMT) == p->type, "%s: type changed", p->path);
    if (p->type == S_IFLNK) {
        char t[512];
        ssize_t n = readlink(p->path, t, sizeof t - 1);
        ck_assert_int_gt(n, 0);
        t[n] = '\0';
        ck_assert_str_eq(t, p->target);
    } else {
        ck_assert_int_eq(st.st_size, 0);
    }
}

/* Every dump is a regular file that parses, holding its own seq. */
static int count_dumps(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    char p[512];
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "libleak.", 8) != 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        ck_assert_int_eq(lstat(p, &st), 0);
        if (!S_ISREG(st.st_mode) || st.st_size == 0)
            continue;           /* a planted name */
        json_decref(load(p));
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* Names planted at the next dumps' temporary and final names (a dangling
 * symlink, a symlink to a file outside, a FIFO, a file) are never followed,
 * replaced or opened, and every dump is still written, with one warning. */
START_TEST(test_dump_planted_names_skipped)
{
    char outside[512];
    snprintf(outside, sizeof outside, "%s.outside", dir);
    ck_assert_int_eq(close(open(outside, O_WRONLY | O_CREAT | O_TRUNC, 0600)), 0);
    planted_t p[8];
    plant(&p[0], S_IFLNK, "/nonexistent/libleak-planted", TMP, 0, "signal");
    plant(&p[1], S_IFLNK, "/nonexistent/libleak-planted", FINAL, 1, "signal");
    plant(&p[2], S_IFLNK, outside, TMP, 2, "api");
    plant(&p[3], S_IFLNK, outside, FINAL, 3, "api");
    plant(&p[4], S_IFIFO, NULL, TMP, 4, "exit");
    plant(&p[5], S_IFIFO, NULL, FINAL, 5, "signal");
    plant(&p[6], S_IFREG, NULL, TMP, 6, "api");
    plant(&p[7], S_IFREG, NULL, FINAL, 7, "exit");
    workload();
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_SIGNAL, NULL), 0);
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_API, "x"), 0);
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_SIGNAL, NULL), 0);
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_EXIT, NULL), 0);
    for (int i = 0; i < 8; i++)
        assert_untouched(&p[i]);
    struct stat st;
    ck_assert_int_eq(stat(outside, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    unlink(outside);
    ck_assert_int_eq(count_dumps(), 4);
    ck_assert_msg(log_lines == 1, "%d warnings: %s", log_lines, logbuf);
    ck_assert_ptr_nonnull(strstr(logbuf, "taken"));
}
END_TEST

/* Names taken between the check and their use (a race) are never followed
 * or replaced either: another name is picked. */
static int racing_open(const char *path, int flags, mode_t mode)
{
    static int calls;
    char final[512];
    if (calls++ == 0) {
        dump_name(final, sizeof final, FINAL, 0, "api");
        if (symlink("/nonexistent/libleak-race", final) != 0 && errno != EEXIST)
            return -1;
        if (symlink("/nonexistent/libleak-race", path) != 0 && errno != EEXIST)
            return -1;
    }
    return open(path, flags, mode);
}

START_TEST(test_dump_planted_names_race)
{
    workload();
    lk_dump_open = racing_open;
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_API, NULL), 0);
    lk_dump_open = open_real;
    planted_t p[2] = { { "", "/nonexistent/libleak-race", S_IFLNK },
                       { "", "/nonexistent/libleak-race", S_IFLNK } };
    dump_name(p[0].path, sizeof p[0].path, FINAL, 0, "api");
    dump_name(p[1].path, sizeof p[1].path, TMP, 0, "api");
    assert_untouched(&p[0]);
    assert_untouched(&p[1]);
    const char *last = lk_dump_last_path();
    ck_assert_str_ne(last, p[0].path);
    struct stat st;
    ck_assert_int_eq(lstat(last, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    json_t *root = load(last);
    ck_assert_int_eq(geti(json_object_get(root, LK_KEY_TOTALS), LK_KEY_LIVE_BLOCKS), 4);
    json_decref(root);
    ck_assert_int_eq(count_dumps(), 1);
    ck_assert_msg(log_lines == 1, "%d warnings: %s", log_lines, logbuf);
    /* the next dump takes the next number as usual */
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_SIGNAL, NULL), 0);
    ck_assert_int_eq(count_dumps(), 2);
    ck_assert_int_eq(log_lines, 1);
}
END_TEST

/* ### cgroup limits, read from a fake tree under 'dir' */
static void put_file(const char *rel, const char *text)
{
    char p[1024], cmd[1200];
    snprintf(p, sizeof p, "%s%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    ck_assert_int_eq(system(cmd), 0);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void teardown_tree(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/proc '%s'/sys", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A v1 hierarchy (memory with another controller, mounted where it is on
 * Debian 10), 200 MB on the process's cgroup and 300 MB on its parent. */
static void tree_v1(void)
{
    put_file("/proc/self/cgroup", "12:pids:/user.slice\n"
                                  "4:cpu,cpuacct:/\n"
                                  "9:memory,hugetlb:/app/job\n"
                                  "1:name=systemd:/user.slice/app\n"
                                  "0::/user.slice/app\n");
    put_file("/proc/self/mountinfo",
             "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
             "25 22 0:22 / /sys/fs/cgroup ro shared:4 - tmpfs tmpfs ro,mode=755\n"
             "26 25 0:23 / /sys/fs/cgroup/unified rw shared:5 - cgroup2 cgroup2 rw\n"
             "31 25 0:28 / /sys/fs/cgroup/memory,hugetlb rw shared:10 - cgroup cgroup rw,memory,hugetlb\n"
             "32 25 0:29 / /sys/fs/cgroup/pids rw shared:11 - cgroup cgroup rw,pids\n");
    put_file("/sys/fs/cgroup/memory,hugetlb/memory.limit_in_bytes", "9223372036854771712\n");
    put_file("/sys/fs/cgroup/memory,hugetlb/app/memory.limit_in_bytes", "314572800\n");
    put_file("/sys/fs/cgroup/memory,hugetlb/app/job/memory.limit_in_bytes", "209715200\n");
    put_file("/sys/fs/cgroup/unified/user.slice/app/memory.max", "104857600\n");
}

START_TEST(test_dump_cgroup_v1_limit)
{
    tree_v1();
    lk_cgroup_root = dir;
    uint64_t bytes;
    int version;
    char file[512];
    ck_assert_int_eq(lk_limits_cgroup(&bytes, &version, file, sizeof file), 0);
    ck_assert_uint_eq(bytes, 200u << 20);
    ck_assert_int_eq(version, 1);
    ck_assert_str_eq(file, "/sys/fs/cgroup/memory,hugetlb/app/job/memory.limit_in_bytes");
    /* the parent's limit binds when it is the smaller */
    put_file("/sys/fs/cgroup/memory,hugetlb/app/memory.limit_in_bytes", "157286400\n");
    ck_assert_int_eq(lk_limits_cgroup(&bytes, &version, file, sizeof file), 0);
    ck_assert_uint_eq(bytes, 150u << 20);
    ck_assert_str_eq(file, "/sys/fs/cgroup/memory,hugetlb/app/memory.limit_in_bytes");
    /* unlimited everywhere: no limit, no version */
    put_file("/sys/fs/cgroup/memory,hugetlb/app/memory.limit_in_bytes", "9223372036854771712\n");
    put_file("/sys/fs/cgroup/memory,hugetlb/app/job/memory.limit_in_bytes", "9223372036854771712\n");
    ck_assert_int_eq(lk_limits_cgroup(&bytes, &version, file, sizeof file), 0);
    ck_assert_uint_eq(bytes, 0);
    ck_assert_int_eq(version, 0);
    lk_cgroup_root = "";
    teardown_tree();
}
END_TEST

/* v2 mounted at a non-default place, seen from a cgroup namespace whose
 * root is /ns (mountinfo's root field); "max" is no limit. */
START_TEST(test_dump_cgroup_v2_limit)
{
    put_file("/proc/self/cgroup", "0::/ns/svc\n");
    put_file("/proc/self/mountinfo",
             "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
             "30 22 0:26 /ns /mnt/cg\\040two rw,nosuid shared:7 - cgroup2 cgroup2 rw,nsdelegate\n");
    put_file("/mnt/cg two/memory.max", "max\n");
    put_file("/mnt/cg two/svc/memory.max", "268435456\n");
    lk_cgroup_root = dir;
    uint64_t bytes;
    int version;
    char file[512];
    ck_assert_int_eq(lk_limits_cgroup(&bytes, &version, file, sizeof file), 0);
    ck_assert_uint_eq(bytes, 256u << 20);
    ck_assert_int_eq(version, 2);
    ck_assert_str_eq(file, "/mnt/cg two/svc/memory.max");
    lk_cgroup_root = "";
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/mnt", dir);
    ck_assert_int_eq(system(cmd), 0);
    teardown_tree();
}
END_TEST

/* The dump says which limit applied, the effective limit is the cgroup's,
 * and LIBLEAK_WATERMARK=10% is 10% of it. */
static const char *env_wm10(const char *name)
{
    return strcmp(name, "LIBLEAK_WATERMARK") == 0 ? "10%" : NULL;
}

START_TEST(test_dump_cgroup_v1_in_dump_and_watermark)
{
    tree_v1();
    lk_cgroup_root = dir;
    lk_config_load(env_wm10);
    lk_config.dir = dir;
    lk_config.scan = 0;
    lk_limits_load();
    lk_trigger_start_tracking();
    ck_assert_uint_eq(lk_limits.cgroup_max, 200u << 20);
    if (lk_limits.phys > (200u << 20) && (lk_limits.rlimit_as == 0 || lk_limits.rlimit_as > (200u << 20)))
        ck_assert_uint_eq(lk_limits.effective, 200u << 20);
    ck_assert_uint_eq(lk_trigger_watermark_step(), lk_limits.effective / 100 * 10);
    ck_assert_int_eq(lk_dump_write(LK_TRIGGER_API, NULL), 0);
    json_t *root = load(lk_dump_last_path());
    json_t *lim = json_object_get(root, LK_KEY_LIMITS);
    ck_assert_int_eq(geti(lim, LK_KEY_CGROUP_MAX), 200 << 20);
    ck_assert_int_eq(geti(lim, LK_KEY_CGROUP_VERSION), 1);
    ck_assert_str_eq(json_string_value(json_object_get(lim, LK_KEY_CGROUP_FILE)),
                     "/sys/fs/cgroup/memory,hugetlb/app/job/memory.limit_in_bytes");
    ck_assert_int_eq(geti(json_object_get(root, LK_KEY_CONFIG), LK_KEY_WATERMARK_BYTES),
                     (json_int_t)lk_trigger_watermark_step());
    json_decref(root);
    lk_cgroup_root = "";
    teardown_tree();
}
END_TEST

static Suite *dump_suite(void)
{
    Suite *s = suite_create("dump");
    TCase *tc = tcase_create("writer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_checked_fixture(tc, NULL, teardown_core);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dump_valid_json_and_invariants);
    tcase_add_test(tc, test_dump_file_name_mode_and_seq);
    tcase_add_test(tc, test_dump_label_cut_to_63_bytes);
    tcase_add_test(tc, test_dump_enospc_one_warning_no_file);
    tcase_add_test(tc, test_dump_unwritable_dir_one_warning);
    tcase_add_test(tc, test_dump_eintr_and_short_writes);
    tcase_add_test(tc, test_dump_exit_once);
    tcase_add_test(tc, test_dump_dropped_marks_incomplete);
    tcase_add_test(tc, test_dump_timeline_bounded_and_merged);
    tcase_add_test(tc, test_dump_timeline_sites);
    tcase_add_test(tc, test_dump_streams_many_stacks_and_sites);
    tcase_add_test(tc, test_dump_text_is_the_trees_compact_text);
    tcase_add_test(tc, test_dump_exit_builds_no_tree);
    tcase_add_test(tc, test_dump_planted_names_skipped);
    tcase_add_test(tc, test_dump_planted_names_race);
    tcase_add_test(tc, test_dump_cgroup_v1_limit);
    tcase_add_test(tc, test_dump_cgroup_v2_limit);
    tcase_add_test(tc, test_dump_cgroup_v1_in_dump_and_watermark);
    suite_add_tcase(s, tc);
    /* lk_jw alone: tests/integration/test_jw_valgrind.sh runs this case
     * under valgrind, which sees reads of freed memory inside jansson */
    TCase *jw = tcase_create("jw");
    tcase_set_timeout(jw, 60);
    tcase_add_test(jw, test_jw_text_is_janssons_compact_dump);
    tcase_add_test(jw, test_jw_tree_out_of_memory);
    suite_add_tcase(s, jw);
    return s;
}

LK_TEST_MAIN(dump_suite)
