/* check_analyze.c - unit tests of leak-analyze's core (build/analyzer-core.a):
 * the dump loader's validation (every bad-input class gives one message
 * naming the file and JSON path), LSan pattern matching (against the first,
 * backtracking matcher as a reference, and without its blow-up), escaping of
 * untrusted text, allocator-frame trimming, built-in suppressions, baseline
 * keys and the CI gate. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "helpers_analyzer.h"
#include "testhelper.h"

static const char valid_dump[] =
    "{\"format\": \"libleak-dump\", \"version\": 1, \"tool_version\": \"0.1.0\","
    " \"process\": {\"pid\": 4242, \"ppid\": 1, \"exe\": \"/usr/bin/app\", \"start_unix_ms\": 5},"
    " \"dump\": {\"seq\": 3, \"trigger\": \"signal\", \"label\": null, \"uptime_ns\": 10},"
    " \"limits\": {\"rlimit_as_bytes\": null, \"phys_bytes\": 1000, \"effective_bytes\": 1000},"
    " \"totals\": {\"live_bytes\": 4011, \"live_blocks\": 3, \"complete\": true},"
    " \"modules\": [{\"path\": \"/usr/bin/app\", \"base\": \"0x1000\", \"size\": 4096,"
    "               \"build_id\": \"ABcd01\"}],"
    " \"stacks\": [{\"id\": 7, \"frames\": [\"0x1234\", \"0x1300\"], \"truncated\": false}],"
    " \"sites\": [{\"stack\": 7, \"family\": \"new[]\", \"live_blocks\": 3, \"live_bytes\": 4011,"
    "             \"total_blocks\": 10, \"total_bytes\": 13370, \"freed_blocks\": 7}],"
    " \"mismatches\": [{\"alloc_stack\": 7, \"free_stack\": 7, \"alloc_family\": \"new[]\","
    "                  \"free_family\": \"malloc\", \"count\": 1, \"bytes\": 8}],"
    " \"failures\": [{\"stack\": 7, \"kind\": \"mul_overflow\", \"function\": \"calloc\","
    "                \"request_bytes\": 9223372036854775807, \"count\": 2}],"
    " \"timeline\": {\"uptime_ns\": [1, 2], \"live_bytes\": [10, 20], \"rss_bytes\": [0, 0],"
    "              \"allocs\": [1, 1], \"frees\": [0, 0],"
    "              \"sites\": [{\"stack\": 7, \"family\": \"new[]\", \"live_bytes\": [null, 20]}]}}";

START_TEST(test_analyze_load_valid)
{
    lk_dump_t *d = load_ok(valid_dump);
    ck_assert_int_eq(d->pid, 4242);
    ck_assert_uint_eq(d->seq, 3);
    ck_assert_int_eq(d->trigger, LK_TRIGGER_SIGNAL);
    ck_assert(!d->limits.has_rlimit_as);
    ck_assert_uint_eq(d->limits.effective_bytes, 1000);
    ck_assert_uint_eq(d->nmodules, 1);
    ck_assert_str_eq(d->modules[0].build_id, "abcd01");
    ck_assert_uint_eq(d->modules[0].base, 0x1000);
    ck_assert_uint_eq(d->nstacks, 1);
    ck_assert_uint_eq(d->stacks[0].frames[1], 0x1300);
    ck_assert_uint_eq(d->nsites, 1);
    ck_assert_int_eq(d->sites[0].family, LK_FAMILY_NEW_ARRAY);
    ck_assert_uint_eq(d->sites[0].live_bytes, 4011);
    ck_assert_uint_eq(d->sites[0].stack_idx, 0);
    ck_assert_uint_eq(d->nmismatches, 1);
    ck_assert_uint_eq(d->nfailures, 1);
    ck_assert_uint_eq(d->failures[0].request_bytes, INT64_MAX);
    ck_assert_uint_eq(d->timeline.n, 2);
    ck_assert_uint_eq(d->timeline.live_bytes[1], 20);
    ck_assert_uint_eq(d->timeline.nsites, 1);
    ck_assert_uint_eq(d->timeline.sites[0].stack_id, 7);
    ck_assert_int_eq(d->timeline.sites[0].family, LK_FAMILY_NEW_ARRAY);
    ck_assert_uint_eq(d->timeline.sites[0].live_bytes[0], LK_TL_ABSENT);
    ck_assert_uint_eq(d->timeline.sites[0].live_bytes[1], 20);
    lk_dump_free(d);
}
END_TEST

/* One corruption of the valid dump: JSON pointer-ish edit and the message
 * the loader must give. */
typedef struct bad_case {
    const char *what;
    const char *text;       /* a whole replacement text, or NULL */
    const char *obj;        /* edit: top-level key of an object to change ... */
    const char *key;        /* ... its member (or NULL: replace the top-level value) */
    const char *value;      /* JSON text of the new value, or NULL to delete */
    const char *expect;     /* substring of the error message */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    { "empty", "", NULL, NULL, NULL, "dump.json: empty file" },
    { "not json", "hello", NULL, NULL, NULL, "dump.json: not valid JSON" },
    { "truncated", "{\"format\": \"libleak-dump\", \"version\": 1, \"stacks\": [", NULL, NULL,
      NULL, "dump.json: not valid JSON" },
    { "array", "[1, 2]", NULL, NULL, NULL, "expected a JSON object at top level" },
    { "wrong format", NULL, "format", NULL, "\"heaptrack\"", "dump.json: format: not a libleak dump" },
    { "missing format", NULL, "format", NULL, NULL, "dump.json: format: missing" },
    { "newline in a quoted value", NULL, "format", NULL, "\"li\\nb\"",
      "format: not a libleak dump (format \"li?b\"" },
    { "newer version", NULL, "version", NULL, "2",
      "dump format version 2 is newer than this leak-analyze supports (version 1)" },
    { "version string", NULL, "version", NULL, "\"1\"", "version: expected integer, got string" },
    { "missing pid", NULL, "process", "pid", NULL, "dump.json: process.pid: missing" },
    { "pid string", NULL, "process", "pid", "\"42\"", "process.pid: expected integer, got string" },
    { "negative pid", NULL, "process", "pid", "-1", "process.pid: negative value -1" },
    { "absurd pid", NULL, "process", "pid", "99999999999", "process.pid: absurd value" },
    { "stacks object", NULL, "stacks", NULL, "{}", "dump.json: stacks: expected array, got object" },
    { "frames not array", NULL, "stacks", NULL, "[{\"id\": 7, \"frames\": 5}]",
      "dump.json: stacks[0].frames: expected array, got integer" },
    { "bad hex", NULL, "stacks", NULL, "[{\"id\": 7, \"frames\": [\"0x12zz\"]}]",
      "stacks[0].frames[0]: bad hex digit" },
    { "frame number", NULL, "stacks", NULL, "[{\"id\": 7, \"frames\": [4660]}]",
      "stacks[0].frames[0]: expected hex string, got integer" },
    { "wide address", NULL, "stacks", NULL, "[{\"id\": 7, \"frames\": [\"0x11112222333344445\"]}]",
      "wider than 64 bits" },
    { "duplicate stack id", NULL, "stacks", NULL,
      "[{\"id\": 7, \"frames\": []}, {\"id\": 7, \"frames\": []}]", "duplicate stack id 7" },
    { "unknown stack", NULL, "sites", NULL,
      "[{\"stack\": 8, \"family\": \"malloc\", \"live_blocks\": 1, \"live_bytes\": 1}]",
      "dump.json: sites[0].stack: no stack with id 8" },
    { "missing live_bytes", NULL, "sites", NULL,
      "[{\"stack\": 7, \"family\": \"malloc\", \"live_blocks\": 1}]",
      "sites[0].live_bytes: missing" },
    { "negative bytes", NULL, "sites", NULL,
      "[{\"stack\": 7, \"family\": \"malloc\", \"live_blocks\": 1, \"live_bytes\": -5}]",
      "sites[0].live_bytes: negative value -5" },
    { "absurd bytes", NULL, "sites", NULL,
      "[{\"stack\": 7, \"family\": \"malloc\", \"live_blocks\": 1,"
      " \"live_bytes\": 9223372036854775807}]", "sites[0].live_bytes: absurd value" },
    { "real number", NULL, "sites", NULL,
      "[{\"stack\": 7, \"family\": \"malloc\", \"live_blocks\": 1.5, \"live_bytes\": 1}]",
      "sites[0].live_blocks: expected integer, got number" },
    { "bytes without blocks", NULL, "sites", NULL,
      "[{\"stack\": 7, \"family\": \"malloc\", \"live_blocks\": 0, \"live_bytes\": 9}]",
      "9 live bytes in 0 live blocks" },
    { "unknown family", NULL, "sites", NULL,
      "[{\"stack\": 7, \"family\": \"mmap\", \"live_blocks\": 1, \"live_bytes\": 1}]",
      "sites[0].family: unknown value \"mmap\"" },
    { "site not object", NULL, "sites", NULL, "[3]", "sites[0]: expected object, got integer" },
    { "jit_cut not boolean", NULL, "stacks", NULL,
      "[{\"id\": 7, \"frames\": [], \"jit_cut\": \"yes\"}]",
      "stacks[0].jit_cut: expected boolean, got string" },
    { "module base missing", NULL, "modules", NULL, "[{\"path\": \"/a\"}]",
      "modules[0].base: missing" },
    { "module build-id", NULL, "modules", NULL,
      "[{\"path\": \"/a\", \"base\": \"0x0\", \"build_id\": \"xyz\"}]",
      "modules[0].build_id: expected hex string" },
    { "module path_escaped", NULL, "modules", NULL,
      "[{\"path\": \"/a\", \"base\": \"0x0\", \"path_escaped\": 1}]",
      "modules[0].path_escaped: expected boolean, got integer" },
    { "timeline lengths", NULL, "timeline", "live_bytes", "[1]",
      "timeline.live_bytes: length 1 differs" },
    { "timeline sites object", NULL, "timeline", "sites", "{}",
      "dump.json: timeline.sites: expected array, got object" },
    { "timeline site not object", NULL, "timeline", "sites", "[3]",
      "timeline.sites[0]: expected object, got integer" },
    { "timeline site stack", NULL, "timeline", "sites",
      "[{\"stack\": 8, \"family\": \"malloc\", \"live_bytes\": [1, 2]}]",
      "timeline.sites[0].stack: no stack with id 8" },
    { "timeline site family", NULL, "timeline", "sites",
      "[{\"stack\": 7, \"family\": \"mmap\", \"live_bytes\": [1, 2]}]",
      "timeline.sites[0].family: unknown value \"mmap\"" },
    { "timeline site no bytes", NULL, "timeline", "sites",
      "[{\"stack\": 7, \"family\": \"malloc\"}]", "timeline.sites[0].live_bytes: missing" },
    { "timeline site length", NULL, "timeline", "sites", "[{\"stack\": 7, \"family\": \"malloc\", \"live_bytes\": [1]}]",
      "timeline.sites[0].live_bytes: length 1 differs from the other columns (2)" },
    { "timeline site negative", NULL, "timeline", "sites", "[{\"stack\": 7, \"family\": \"malloc\", \"live_bytes\": [1, -3]}]",
      "timeline.sites[0].live_bytes[1]: negative value -3" },
    { "timeline site string", NULL, "timeline", "sites", "[{\"stack\": 7, \"family\": \"malloc\", \"live_bytes\": [\"1\", 2]}]",
      "timeline.sites[0].live_bytes[0]: expected integer, got string" },
    { "timeline site absurd", NULL, "timeline", "sites", "[{\"stack\": 7, \"family\": \"malloc\", \"live_bytes\": [1, 9223372036854775807]}]",
      "timeline.sites[0].live_bytes[1]: absurd value" },
    { "timeline site twice", NULL, "timeline", "sites", "[{\"stack\": 7, \"family\": \"malloc\", \"live_bytes\": [1, 2]}, {\"stack\": 7, \"family\": \"malloc\", \"live_bytes\": [null, 2]}]",
      "timeline.sites[1]: same stack 7 and family as entry 0" },
    { "mismatch stack", NULL, "mismatches", NULL,
      "[{\"alloc_stack\": 7, \"free_stack\": 99, \"alloc_family\": \"new\","
      " \"free_family\": \"malloc\", \"count\": 1}]", "mismatches[0].free_stack: no stack with id 99" },
    { "failure kind", NULL, "failures", NULL,
      "[{\"stack\": 7, \"kind\": \"oops\", \"request_bytes\": 1}]",
      "failures[0].kind: unknown value \"oops\"" },
    { "complete not bool", NULL, "totals", "complete", "1",
      "totals.complete: expected boolean, got integer" },
    { "trigger unknown", NULL, "dump", "trigger", "\"cron\"", "dump.trigger: unknown value" },
};

START_TEST(test_analyze_load_bad_input)
{
    const bad_case_t *c = &bad_cases[_i];
    char *text;

    if (c->text != NULL) {
        text = strdup(c->text);
    } else {
        json_error_t jerr;
        json_t *root = json_loads(valid_dump, 0, &jerr);
        ck_assert_ptr_nonnull(root);
        json_t *target = root;
        const char *key = c->obj;
        if (c->key != NULL) {
            target = json_object_get(root, c->obj);
            key = c->key;
        }
        if (c->value == NULL) {
            json_object_del(target, key);
        } else {
            json_t *v = json_loads(c->value, JSON_DECODE_ANY, &jerr);
            ck_assert_msg(v != NULL, "%s: bad test value", c->what);
            json_object_set_new(target, key, v);
        }
        text = json_dumps(root, 0);
        json_decref(root);
    }
    char err[512] = "";
    lk_dump_t *d = (lk_dump_t *)1;
    int rc = lk_load_buffer("dump.json", text, strlen(text), &d, err, sizeof(err));
    free(text);
    ck_assert_msg(rc == -EINVAL, "%s: rc %d", c->what, rc);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err, c->expect) != NULL, "%s: got '%s', expected '%s'", c->what, err,
                  c->expect);
    ck_assert_msg(strchr(err, '\n') == NULL, "%s: message is not one line", c->what);
    ck_assert_msg(strncmp(err, "dump.json: ", 11) == 0, "%s: no file name in '%s'", c->what, err);
}
END_TEST

START_TEST(test_analyze_load_unreadable_path)
{
    lk_input_t in = { 0 };
    char err[512] = "";
    int rc = lk_load_path(&in, "/nonexistent/dump.json", err, sizeof(err));
    ck_assert_int_eq(rc, -ENOENT);
    ck_assert_str_eq(err, "cannot open '/nonexistent/dump.json': No such file or directory");
    lk_input_free(&in);
}
END_TEST

/* Loads an edited copy of valid_dump into in, as if read from a file. */
static void input_add(lk_input_t *in, json_t *root)
{
    char err[256];
    char *text = json_dumps(root, 0);
    lk_dump_t *d;
    ck_assert_int_eq(lk_load_buffer("x", text, strlen(text), &d, err, sizeof(err)), 0);
    in->dumps = realloc(in->dumps, (in->ndumps + 1) * sizeof(*in->dumps));
    in->dumps[in->ndumps++] = d;
    free(text);
    json_decref(root);
}

START_TEST(test_analyze_group_by_process)
{
    lk_input_t in = { 0 };
    const char *pids[] = { "7", "5", "7" };
    const char *seqs[] = { "1", "0", "0" };
    char err[256];

    for (int i = 0; i < 3; i++) {
        json_error_t jerr;
        json_t *root = json_loads(valid_dump, 0, &jerr);
        json_object_set_new(json_object_get(root, "process"), "pid",
                            json_integer(atoi(pids[i])));
        json_object_set_new(json_object_get(root, "dump"), "seq", json_integer(atoi(seqs[i])));
        input_add(&in, root);
    }
    ck_assert_int_eq(lk_input_group(&in, err, sizeof(err)), 0);
    ck_assert_uint_eq(in.nprocs, 2);
    ck_assert_int_eq(in.procs[0].pid, 5);
    ck_assert_int_eq(in.procs[1].pid, 7);
    ck_assert_uint_eq(in.procs[1].ndumps, 2);
    /* the last dump of a process is its final state */
    ck_assert_uint_eq(in.procs[1].dumps[1]->seq, 1);
    lk_input_free(&in);
}
END_TEST

/* One pid, three program images (exec keeps the pid): a new start time or
 * a new executable starts a new process, numbered in start order; an
 * executable replaced on disk while it runs (" (deleted)") is the same. */
START_TEST(test_analyze_group_by_image)
{
    static const struct { const char *exe; int start_ms, seq; } dumps[] = {
        { "/bin/second", 2000, 2 }, { "/bin/first", 1000, 0 }, { "/bin/first", 1000, 1 },
        { "/bin/third", 2000, 3 }, { "/bin/second (deleted)", 2000, 1 },
    };
    lk_input_t in = { 0 };
    char err[256];
    for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
        json_error_t jerr;
        json_t *root = json_loads(valid_dump, 0, &jerr);
        json_t *proc = json_object_get(root, "process");
        json_object_set_new(proc, "exe", json_string(dumps[i].exe));
        json_object_set_new(proc, "start_unix_ms", json_integer(dumps[i].start_ms));
        json_object_set_new(json_object_get(root, "dump"), "seq", json_integer(dumps[i].seq));
        input_add(&in, root);
    }
    ck_assert_int_eq(lk_input_group(&in, err, sizeof(err)), 0);
    ck_assert_uint_eq(in.nprocs, 3);
    static const char *const exe[] = { "/bin/first", "/bin/second", "/bin/third" };
    static const size_t ndumps[] = { 2, 2, 1 };
    for (unsigned k = 0; k < 3; k++) {
        ck_assert_uint_eq(in.procs[k].image, k);
        ck_assert_uint_eq(in.procs[k].ndumps, ndumps[k]);
        for (size_t i = 0; i < in.procs[k].ndumps; i++) {
            ck_assert(strncmp(in.procs[k].dumps[i]->exe, exe[k], strlen(exe[k])) == 0);
            ck_assert_uint_eq(in.procs[k].dumps[i]->image, k);
        }
    }
    lk_input_free(&in);
}
END_TEST

/* With dump.image_id, the id alone tells a pid's program images apart: an
 * image that execs itself (same exe) in the millisecond it started is two
 * processes, in id order; without it, one (the fallback cannot tell). */
START_TEST(test_analyze_group_by_image_id)
{
    static const struct { int image_id, seq; } dumps[] = {
        { 900, 1 }, { 500, 0 }, { 900, 0 }, { 500, 1 }, { 500, 2 },
    };
    for (int with_id = 0; with_id < 2; with_id++) {
        lk_input_t in = { 0 };
        char err[256];
        for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
            json_error_t jerr;
            json_t *root = json_loads(valid_dump, 0, &jerr);
            json_t *dump = json_object_get(root, "dump");
            json_object_set_new(dump, "seq", json_integer(dumps[i].seq));
            if (with_id)
                json_object_set_new(dump, "image_id", json_integer(dumps[i].image_id));
            input_add(&in, root);
        }
        ck_assert_int_eq(lk_input_group(&in, err, sizeof(err)), 0);
        if (!with_id) {
            ck_assert_uint_eq(in.nprocs, 1);
        } else {
            ck_assert_uint_eq(in.nprocs, 2);
            ck_assert_uint_eq(in.procs[0].ndumps, 3);
            ck_assert_uint_eq(in.procs[1].ndumps, 2);
            for (unsigned k = 0; k < 2; k++) {
                ck_assert_uint_eq(in.procs[k].image, k);
                for (size_t i = 0; i < in.procs[k].ndumps; i++) {
                    ck_assert_uint_eq(in.procs[k].dumps[i]->image_id, k == 0 ? 500 : 900);
                    ck_assert_uint_eq(in.procs[k].dumps[i]->seq, i);
                }
            }
        }
        lk_input_free(&in);
    }
}
END_TEST

START_TEST(test_analyze_template_match)
{
    ck_assert(lk_supp_template_match("leak_here", "leak_here"));
    ck_assert(lk_supp_template_match("leak", "do_leak_here"));      /* substring */
    ck_assert(!lk_supp_template_match("^leak", "do_leak_here"));
    ck_assert(lk_supp_template_match("^do_*_here$", "do_leak_here"));
    ck_assert(!lk_supp_template_match("here$", "here_and_th"));
    ck_assert(lk_supp_template_match("libfoo.so", "/usr/lib/libfoo.so.1"));
    ck_assert(lk_supp_template_match("*", "anything"));
    ck_assert(!lk_supp_template_match("x", NULL));
    ck_assert(lk_supp_template_match("a*b*c", "xxaQbQcxx"));
    ck_assert(!lk_supp_template_match("^a*b*c$", "xxaQbQcxx"));
}
END_TEST

/* The matcher as first written (backtracking): the reference semantics. */
static bool ref_here(const char *p, const char *s)
{
    for (;;) {
        if (*p == '\0')
            return true;
        if (*p == '$' && p[1] == '\0')
            return *s == '\0';
        if (*p == '*') {
            while (*p == '*')
                p++;
            for (;; s++) {
                if (ref_here(p, s))
                    return true;
                if (*s == '\0')
                    return false;
            }
        }
        if (*s == '\0' || *p != *s)
            return false;
        p++;
        s++;
    }
}

static bool ref_match(const char *p, const char *s)
{
    if (p[0] == '^')
        return ref_here(p + 1, s);
    for (;; s++) {
        if (ref_here(p, s))
            return true;
        if (*s == '\0')
            return false;
    }
}

/* Every pattern of up to 4 characters over "ab*^$" against every name of up
 * to 4 characters over "ab$^": the linear matcher agrees with the reference. */
START_TEST(test_analyze_template_match_reference)
{
    static const char pa[] = "ab*^$", na[] = "ab$^";
    char p[8], s[8];
    size_t checked = 0;

    for (unsigned pl = 0; pl <= 4; pl++) {
        unsigned pn = 1;
        for (unsigned i = 0; i < pl; i++)
            pn *= 5;
        for (unsigned pi = 0; pi < pn; pi++) {
            for (unsigned i = 0, v = pi; i < pl; i++, v /= 5)
                p[i] = pa[v % 5];
            p[pl] = '\0';
            for (unsigned sl = 0; sl <= 4; sl++) {
                unsigned sn = 1;
                for (unsigned i = 0; i < sl; i++)
                    sn *= 4;
                for (unsigned si = 0; si < sn; si++) {
                    for (unsigned i = 0, v = si; i < sl; i++, v /= 4)
                        s[i] = na[v % 4];
                    s[sl] = '\0';
                    ck_assert_msg(lk_supp_template_match(p, s) == ref_match(p, s),
                                  "pattern '%s' name '%s'", p, s);
                    checked++;
                }
            }
        }
    }
    ck_assert_uint_gt(checked, 200000);
}
END_TEST

/* Many stars against a long name that almost matches: the backtracking
 * matcher took over 30 s; a linear one ends at once (Check's timeout). */
START_TEST(test_analyze_template_match_no_backtracking)
{
    char name[4001];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ck_assert(!lk_supp_template_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
    ck_assert(!lk_supp_template_match("^*a*a*a*a*a*a*a*a*a*a*a*a*b$", name));
    ck_assert(lk_supp_template_match("*a*a*a*a*a*a*a*a*a*a*a*a*", name));
    name[3000] = 'b';
    ck_assert(lk_supp_template_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
}
END_TEST

/* Control characters, C1 and bidi controls and invalid UTF-8 become \xNN;
 * valid UTF-8 and backslashes stay; truncation never splits a character. */
START_TEST(test_analyze_escape)
{
    char buf[64];
    ck_assert(lk_is_printable("plain /usr/lib/x.so caf\xc3\xa9 \\x41"));
    ck_assert(!lk_is_printable("a\nb"));
    ck_assert_uint_eq(lk_escape(buf, sizeof(buf), "a\x1b]0;t\x07\n"), 17);
    ck_assert_str_eq(buf, "a\\x1b]0;t\\x07\\x0a");
    lk_escape(buf, sizeof(buf), "caf\xe9 \xff\x7f \xc2\x9b \xe2\x80\xae \xc3\xa9");
    ck_assert_str_eq(buf, "caf\\xe9 \\xff\\x7f \\xc2\\x9b \\xe2\\x80\\xae \xc3\xa9");
    lk_escape(buf, sizeof(buf), "\xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80");   /* overlong, surrogate, > U+10FFFF */
    ck_assert_ptr_null(strchr(buf, '\x80'));
    ck_assert_uint_eq(lk_escape(buf, 6, "ab\x01zz"), 8);
    ck_assert_str_eq(buf, "ab");              /* "\x01" did not fit whole */
    ck_assert_uint_eq(lk_escape(buf, 4, "ab\xc3\xa9"), 4);
    ck_assert_str_eq(buf, "ab");              /* nor did the two bytes of e-acute */
    char *d = lk_escape_dup("x\ty");
    ck_assert_str_eq(d, "x\\x09y");
    free(d);
    ck_assert_ptr_null(lk_escape_dup(NULL));
    ck_assert_uint_eq(lk_sat_add(UINT64_C(1) << 62, UINT64_C(1) << 62), (uint64_t)INT64_MAX);
    ck_assert_uint_eq(lk_sat_add(UINT64_MAX, 2), (uint64_t)INT64_MAX);
    ck_assert_uint_eq(lk_sat_add(3, 4), 7);
}
END_TEST

static lk_frame_t fr(const char *fn, const char *file, int line, const char *mod)
{
    lk_frame_t f = { .function = fn, .file = file, .line = line, .module = mod };
    return f;
}

START_TEST(test_analyze_trim_allocator_frames)
{
    lk_frame_t f[] = {
        fr("operator new(unsigned long)", NULL, 0, "/usr/lib/libstdc++.so.6"),
        fr("__gnu_cxx::new_allocator<int>::allocate(unsigned long, void const*)",
           "/usr/include/c++/12/ext/new_allocator.h", 137, "/app"),
        fr("make_vec", "app.cc", 12, "/app"),
        fr("main", "app.cc", 30, "/app"),
    };
    ck_assert_uint_eq(lk_leaks_trim(f, 4), 2);
    lk_frame_t g[] = { fr("strdup", NULL, 0, "/lib/libc.so.6"), fr("make_name", "a.c", 3, "/a") };
    ck_assert_uint_eq(lk_leaks_trim(g, 2), 1);
    lk_frame_t h[] = { fr("malloc@@GLIBC_2.2.5", NULL, 0, "/lib/libc.so.6"),
                       fr("mallocate_things", "a.c", 3, "/a") };
    ck_assert_uint_eq(lk_leaks_trim(h, 2), 1);       /* version suffix, no prefix match */
    lk_frame_t k[] = { fr(NULL, NULL, 0, "/build/libleak.so"), fr("user", "u.c", 1, "/u") };
    ck_assert_uint_eq(lk_leaks_trim(k, 2), 1);
    lk_frame_t only[] = { fr("malloc", NULL, 0, "/lib/libc.so.6") };
    ck_assert_uint_eq(lk_leaks_trim(only, 1), 0);    /* never trims every frame */
}
END_TEST

START_TEST(test_analyze_builtin_suppressions)
{
    lk_supp_list_t l = { 0 };
    ck_assert_int_eq(lk_supp_add_builtins(&l), 0);
    lk_frame_t stdio[] = { fr("_IO_file_doallocate", NULL, 0, "/lib/libc.so.6"),
                           fr("_IO_doallocbuf", NULL, 0, "/lib/libc.so.6"),
                           fr("puts", NULL, 0, "/lib/libc.so.6"), fr("main", "m.c", 3, "/m") };
    lk_supp_t *s = lk_supp_match(&l, stdio, 4);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->pattern, "builtin:stdio-buffers");
    lk_frame_t loader[] = { fr("_dl_new_object", NULL, 0, "/lib64/ld-linux-x86-64.so.2"),
                            fr("dlopen", NULL, 0, "/lib/libc.so.6"), fr("main", "m.c", 3, "/m") };
    ck_assert_str_eq(lk_supp_match(&l, loader, 3)->pattern, "builtin:dynamic-loader-tls");
    lk_frame_t pool[] = { fr(NULL, NULL, 0, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
                          fr("call_init", NULL, 0, "/lib64/ld-linux-x86-64.so.2"),
                          fr("_dl_init", NULL, 0, "/lib64/ld-linux-x86-64.so.2") };
    ck_assert_str_eq(lk_supp_match(&l, pool, 3)->pattern, "builtin:c++-emergency-pool");
    lk_frame_t user[] = { fr("leak_here", "a.c", 5, "/a"), fr("main", "a.c", 9, "/a") };
    ck_assert_ptr_null(lk_supp_match(&l, user, 2));
    /* a libstdc++ allocation outside the loader is the user's (e.g. a string) */
    lk_frame_t str[] = { fr(NULL, NULL, 0, "/usr/lib/libstdc++.so.6"), fr("main", "a.c", 9, "/a") };
    ck_assert_ptr_null(lk_supp_match(&l, str, 2));
    lk_supp_list_free(&l);
}
END_TEST

START_TEST(test_analyze_user_suppressions)
{
    char path[] = "/tmp/check_analyze_supp.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char text[] = "# comment\n\nleak:^leak_here$\n  leak:libfoo.so  \n";
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    lk_supp_list_t l = { 0 };
    char err[256] = "";
    ck_assert_int_eq(lk_supp_load(&l, path, err, sizeof(err)), 0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_int_eq(l.v[1].line, 4);
    lk_frame_t a[] = { fr("leak_here", "a.c", 5, "/a"), fr("main", "a.c", 9, "/a") };
    ck_assert_ptr_eq(lk_supp_match(&l, a, 2), &l.v[0]);
    lk_frame_t b[] = { fr("foo_init", NULL, 0, "/usr/lib/libfoo.so.2") };
    ck_assert_ptr_eq(lk_supp_match(&l, b, 1), &l.v[1]);
    lk_frame_t c[] = { fr("leak_here_too", "a.c", 5, "/a") };
    ck_assert_ptr_null(lk_supp_match(&l, c, 1));
    lk_supp_list_free(&l);

    /* leak-stack: frame #i against pattern i, from frame #0 */
    fd = open(path, O_WRONLY | O_TRUNC);
    const char st[] = "leak-stack:^leak_here$;^main$\nleak-stack:^main$\n";
    ck_assert_int_eq(write(fd, st, sizeof(st) - 1), (ssize_t)sizeof(st) - 1);
    close(fd);
    ck_assert_int_eq(lk_supp_load(&l, path, err, sizeof(err)), 0);
    ck_assert_uint_eq(l.v[0].nframes, 2);
    ck_assert_ptr_eq(lk_supp_match(&l, a, 2), &l.v[0]);
    lk_frame_t d[] = { fr("other", "a.c", 5, "/a"), fr("leak_here", "a.c", 5, "/a"),
                       fr("main", "a.c", 9, "/a") };
    ck_assert_ptr_null(lk_supp_match(&l, d, 3));         /* main is no frame #0 there */
    ck_assert_ptr_eq(lk_supp_match(&l, &d[2], 1), &l.v[1]);
    ck_assert_ptr_null(lk_supp_match(&l, a, 1));         /* fewer frames than patterns */
    lk_supp_list_free(&l);
    const char *bad[] = { "leak-stack:\n", "leak-stack:a;;b\n", "leak-stack:a;\n",
                          "leak-stack:;a\n",
                          "leak-stack:1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17\n" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fd = open(path, O_WRONLY | O_TRUNC);
        ck_assert_int_eq(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
        close(fd);
        ck_assert_int_eq(lk_supp_load(&l, path, err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, ":1: ") != NULL, "%s", err);
        lk_supp_list_free(&l);
    }

    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "race:foo\n", 9), 9);
    close(fd);
    ck_assert_int_eq(lk_supp_load(&l, path, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, ":1: expected 'leak:PATTERN'") != NULL, "%s", err);
    lk_supp_list_free(&l);
    unlink(path);
}
END_TEST

START_TEST(test_analyze_baseline_key_ignores_lines)
{
    lk_frame_t a[] = { fr("leak_here", "/src/a.c", 5, "/a"), fr("main", "/src/a.c", 9, "/a") };
    lk_frame_t b[] = { fr("leak_here", "/other/a.c", 8, "/b"), fr("main", "/other/a.c", 12, "/b") };
    lk_frame_t c[] = { fr("leak_there", "/src/a.c", 5, "/a"), fr("main", "/src/a.c", 9, "/a") };
    lk_frame_t d[] = { fr("__libc_start_main@@GLIBC_2.34", NULL, 0, "/lib/libc.so.6") };
    lk_frame_t e[] = { fr("__libc_start_main", NULL, 0, "/lib/libc.so.6") };
    char *ka = lk_baseline_key(LK_FAMILY_MALLOC, a, 2), *kb = lk_baseline_key(LK_FAMILY_MALLOC, b, 2);
    char *kc = lk_baseline_key(LK_FAMILY_MALLOC, c, 2), *kn = lk_baseline_key(LK_FAMILY_NEW, a, 2);
    char *kd = lk_baseline_key(LK_FAMILY_MALLOC, d, 1), *ke = lk_baseline_key(LK_FAMILY_MALLOC, e, 1);
    ck_assert_str_eq(ka, kb);
    ck_assert_str_ne(ka, kc);
    ck_assert_str_ne(ka, kn);
    ck_assert_str_eq(kd, ke);
    ck_assert_str_eq(ka, "malloc|leak_here@a.c;main@a.c");
    free(ka); free(kb); free(kc); free(kn); free(kd); free(ke);
}
END_TEST

/* A report with two leaks of 100 and 10 bytes, the second suppressed. */
static void make_report(lk_report_t *r, lk_supp_t *supp)
{
    memset(r, 0, sizeof(*r));
    r->leaks = calloc(2, sizeof(*r->leaks));
    r->nleaks = 2;
    r->leaks[0].bytes = 100;
    r->leaks[0].blocks = 1;
    r->leaks[0].key = strdup("malloc|a@a.c");
    r->leaks[1].bytes = 10;
    r->leaks[1].blocks = 1;
    r->leaks[1].key = strdup("malloc|b@b.c");
    r->leaks[1].suppressed_by = supp;
    r->leaked_bytes = 100;
}

START_TEST(test_analyze_gate_exit_codes)
{
    lk_supp_t supp = { 0 };
    lk_report_t r;
    lk_options_t opt = { .fail_kinds = 1u << LK_KIND_UNFREED, .show_kinds = ~0u };

    make_report(&r, &supp);
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_OK);          /* no gate asked */
    opt.fail_on_leak = true;
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_GATE);
    ck_assert(r.gate_failed);
    ck_assert_msg(strstr(r.gate_reason, "100 byte(s)") != NULL, "%s", r.gate_reason);
    opt.has_max_leak_bytes = true;
    opt.max_leak_bytes = 100;                                        /* within budget */
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_OK);
    opt.max_leak_bytes = 99;
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_GATE);
    opt.has_max_leak_bytes = false;
    opt.fail_kinds = 1u << LK_KIND_DEFINITE;                         /* unfreed not counted */
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_OK);
    opt.fail_kinds = 1u << LK_KIND_UNFREED;
    r.leaks[0].suppressed_by = &supp;                                /* all suppressed */
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_OK);
    r.leaks[0].suppressed_by = NULL;

    /* baseline: same sites pass, a bigger one or a new one fails */
    lk_base_t old = { 0 };
    ck_assert_int_eq(lk_base_from_report(&old, &r), 0);
    ck_assert_uint_eq(old.n, 1);
    lk_base_apply(&r, &old);
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_OK);
    r.leaks[0].bytes = 101;
    lk_base_apply(&r, &old);
    ck_assert_uint_eq(r.grown_sites, 1);
    ck_assert(r.leaks[0].has_grown);
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_GATE);
    r.leaks[0].bytes = 50;
    r.leaks[1].suppressed_by = NULL;                                 /* b is new */
    lk_base_apply(&r, &old);
    ck_assert_uint_eq(r.new_sites, 1);
    ck_assert(r.leaks[1].is_new);
    ck_assert_int_eq(lk_leaks_gate(&r, &opt), LK_EXIT_GATE);
    lk_base_free(&old);
    lk_report_free(&r);
}
END_TEST

/* The preload's parser (preload/internal.h, which cannot be included next to
 * model.h: both sides define lk_site_t). */
int lk_config_parse_bytes(const char *s, uint64_t *out);

/* One size grammar on both sides: what LIBLEAK_WATERMARK takes,
 * --max-leak-bytes takes, with the same value. */
START_TEST(test_analyze_sizes_match_preload)
{
    static const struct { const char *s; int rc; uint64_t v; } cases[] = {
        { "0", 0, 0 },           { "42", 0, 42 },            { "2k", 0, 2048 },
        { "2K", 0, 2048 },       { "3MiB", 0, 3u << 20 },    { "1G", 0, 1u << 30 },
        { "1T", 0, UINT64_C(1) << 40 },                      { "1t", 0, UINT64_C(1) << 40 },
        { "4kb", 0, 4096 },      { "5KiB", 0, 5120 },        { "10B", 0, 10 },
        { "1.5G", -EINVAL, 0 },  { "", -EINVAL, 0 },         { " 1", -EINVAL, 0 },
        { "1 ", -EINVAL, 0 },    { "1 k", -EINVAL, 0 },      { "-1", -EINVAL, 0 },
        { "+1", -EINVAL, 0 },    { "abc", -EINVAL, 0 },      { "12x", -EINVAL, 0 },
        { "1TT", -EINVAL, 0 },   { "1P", -EINVAL, 0 },       { "1iB", -EINVAL, 0 },
        { "k", -EINVAL, 0 },     { "0x10", -EINVAL, 0 },
        { "99999999999999999999", -EINVAL, 0 },
        { "17179869184G", -EINVAL, 0 },                      { "16777216T", -EINVAL, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t a = 7, p = 7;
        int ra = lk_parse_size(cases[i].s, &a), rp = lk_config_parse_bytes(cases[i].s, &p);
        ck_assert_msg(ra == cases[i].rc, "analyzer '%s': %d", cases[i].s, ra);
        ck_assert_msg(rp == cases[i].rc, "preload '%s': %d", cases[i].s, rp);
        if (cases[i].rc == 0) {
            ck_assert_uint_eq(a, cases[i].v);
            ck_assert_uint_eq(p, cases[i].v);
        } else {
            ck_assert_uint_eq(a, 7);    /* a rejected value leaves the output alone */
            ck_assert_uint_eq(p, 7);
        }
    }
    /* the analyzer's counts stop at LK_MAX_COUNT, which no process reaches */
    uint64_t v;
    ck_assert_int_eq(lk_parse_size("4194304T", &v), 0);
    ck_assert_uint_eq(v, LK_MAX_COUNT);
    ck_assert_int_eq(lk_parse_size("4194305T", &v), -EINVAL);
}
END_TEST

START_TEST(test_analyze_parse_helpers)
{
    uint64_t v;
    ck_assert_int_eq(lk_parse_size("42", &v), 0);
    ck_assert_uint_eq(v, 42);
    ck_assert_int_eq(lk_parse_size("4k", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(lk_parse_size("2M", &v), 0);
    ck_assert_uint_eq(v, 2u << 20);
    ck_assert_int_eq(lk_parse_size("-1", &v), -EINVAL);
    ck_assert_int_eq(lk_parse_size("abc", &v), -EINVAL);
    ck_assert_int_eq(lk_parse_size("12x", &v), -EINVAL);
    ck_assert_int_eq(lk_parse_size("99999999999999999999", &v), -EINVAL);
    ck_assert_int_eq(lk_kind_parse("definite"), LK_KIND_DEFINITE);
    ck_assert_int_eq(lk_kind_parse("unfreed"), LK_KIND_UNFREED);
    ck_assert_int_eq(lk_kind_parse("lost"), -1);
    ck_assert_str_eq(lk_kind_heading(LK_KIND_INDIRECT), "Indirect leak");
}
END_TEST

START_TEST(test_analyze_demangle)
{
    char *s = lk_demangle("_ZN3Foo3barEi");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "Foo::bar(int)");
    free(s);
    ck_assert_ptr_null(lk_demangle("leak_here"));
    ck_assert_ptr_null(lk_demangle("_Znotvalid!"));
}
END_TEST

static Suite *analyze_suite(void)
{
    Suite *s = suite_create("analyze");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_analyze_load_valid);
    tcase_add_loop_test(tc, test_analyze_load_bad_input, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, test_analyze_load_unreadable_path);
    tcase_add_test(tc, test_analyze_group_by_process);
    tcase_add_test(tc, test_analyze_group_by_image);
    tcase_add_test(tc, test_analyze_group_by_image_id);
    tcase_add_test(tc, test_analyze_template_match);
    tcase_add_test(tc, test_analyze_template_match_no_backtracking);
    tcase_add_test(tc, test_analyze_escape);
    tcase_add_test(tc, test_analyze_trim_allocator_frames);
    tcase_add_test(tc, test_analyze_builtin_suppressions);
    tcase_add_test(tc, test_analyze_user_suppressions);
    tcase_add_test(tc, test_analyze_baseline_key_ignores_lines);
    tcase_add_test(tc, test_analyze_gate_exit_codes);
    tcase_add_test(tc, test_analyze_parse_helpers);
    tcase_add_test(tc, test_analyze_sizes_match_preload);
    tcase_add_test(tc, test_analyze_demangle);
    suite_add_tcase(s, tc);
    /* 266k matches: seconds under ASan on a loaded machine, so its own timeout. */
    TCase *tc_ref = tcase_create("reference");
    tcase_set_timeout(tc_ref, 120);
    tcase_add_test(tc_ref, test_analyze_template_match_reference);
    suite_add_tcase(s, tc_ref);
    return s;
}

LK_TEST_MAIN(analyze_suite)
