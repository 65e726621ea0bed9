/* check_reach_analyze.c - unit tests of the analyzer's reachability pass
 * (analyzer/reach.c): parsing and validating a dump's "reachability"
 * object (every bad-input class is one "file: reachability.path: problem"
 * line and -EINVAL), leak entries split per (site, kind) with per-kind
 * totals, the --fail-on gate, lost structures and held-by in the JSON and
 * text reports, kind-aware baseline keys, and data-symbol lookup of a
 * global root (symbol, size-aware containment, declaring file:line). */
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "helpers_analyzer.h"
#include "testhelper.h"

/* Stacks 7 (a leak site), 8 (its children) and 9 (held by a global). */
static const char base_dump[] =
    "{\"format\": \"libleak-dump\", \"version\": 1, \"tool_version\": \"0.1.0\","
    " \"process\": {\"pid\": 4242, \"ppid\": 1, \"exe\": \"/nonexistent/app\", \"start_unix_ms\": 5},"
    " \"dump\": {\"seq\": 0, \"trigger\": \"exit\", \"label\": null, \"uptime_ns\": 10},"
    " \"totals\": {\"live_bytes\": 1528, \"live_blocks\": 8, \"complete\": true},"
    " \"modules\": [{\"path\": \"/nonexistent/app\", \"base\": \"0x1000\", \"size\": 65536}],"
    " \"stacks\": [{\"id\": 7, \"frames\": [\"0x1234\"]}, {\"id\": 8, \"frames\": [\"0x1300\"]},"
    "             {\"id\": 9, \"frames\": [\"0x1400\"]}],"
    " \"sites\": [{\"stack\": 7, \"family\": \"malloc\", \"live_blocks\": 2, \"live_bytes\": 128},"
    "             {\"stack\": 8, \"family\": \"malloc\", \"live_blocks\": 3, \"live_bytes\": 300},"
    "             {\"stack\": 9, \"family\": \"malloc\", \"live_blocks\": 3, \"live_bytes\": 1100}]}";

/* The scan: stack 7 heads a 2-node cycle (64 definite + 64 indirect), stack 8
 * has 1 indirect block in a tree under 7's second structure, 2 possible; 9
 * is reachable, held by global word 0x4028 twice (two entries of one root
 * aggregate) and by the main thread's stack. */
static const char reach_obj[] =
    "{\"complete\": true, \"scan_ns\": 5, \"live_blocks\": 8, \"live_bytes\": 1528,"
    " \"threads\": 1, \"threads_sp_unknown\": 0, \"not_stopped\": 0, \"unreadable_bytes\": 0,"
    " \"root_bytes\": {\"global\": 1, \"stack\": 1, \"tls\": 1, \"registers\": 1},"
    " \"kinds\": {\"definite\": {\"blocks\": 1, \"bytes\": 64},"
    "            \"indirect\": {\"blocks\": 2, \"bytes\": 164},"
    "            \"possible\": {\"blocks\": 2, \"bytes\": 200},"
    "            \"reachable\": {\"blocks\": 3, \"bytes\": 1100}},"
    " \"sites\": [{\"stack\": 9, \"family\": \"malloc\", \"kind\": \"reachable\", \"blocks\": 3, \"bytes\": 1100},"
    "            {\"stack\": 8, \"family\": \"malloc\", \"kind\": \"possible\", \"blocks\": 2, \"bytes\": 200},"
    "            {\"stack\": 8, \"family\": \"malloc\", \"kind\": \"indirect\", \"blocks\": 1, \"bytes\": 100},"
    "            {\"stack\": 7, \"family\": \"malloc\", \"kind\": \"definite\", \"blocks\": 1, \"bytes\": 64},"
    "            {\"stack\": 7, \"family\": \"malloc\", \"kind\": \"indirect\", \"blocks\": 1, \"bytes\": 64}],"
    " \"structures\": [{\"head_stack\": 7, \"head_family\": \"malloc\", \"cycle\": true,"
    "                   \"head_in_cycle\": true, \"count\": 1, \"blocks\": 3, \"bytes\": 228,"
    "                   \"members\": [{\"stack\": 7, \"family\": \"malloc\", \"blocks\": 2, \"bytes\": 128},"
    "                                 {\"stack\": null, \"family\": null, \"blocks\": 1, \"bytes\": 100}]}],"
    " \"structures_omitted\": {\"count\": 0, \"blocks\": 0, \"bytes\": 0},"
    " \"cycles_complete\": true,"
    " \"held_by\": [{\"root\": \"global\", \"module\": \"/nonexistent/app\", \"address\": \"0x5028\","
    "               \"offset\": \"0x4028\", \"kind\": \"reachable\", \"stack\": 9, \"family\": \"malloc\","
    "               \"blocks\": 1, \"bytes\": 700},"
    "              {\"root\": \"global\", \"module\": \"/nonexistent/app\", \"address\": \"0x5028\","
    "               \"offset\": \"0x4028\", \"kind\": \"reachable\", \"stack\": 9, \"family\": \"malloc\","
    "               \"blocks\": 1, \"bytes\": 300},"
    "              {\"root\": \"stack\", \"tid\": 4242, \"kind\": \"reachable\", \"stack\": 9,"
    "               \"family\": \"malloc\", \"blocks\": 1, \"bytes\": 100},"
    "              {\"root\": \"global\", \"module\": \"/nonexistent/app\", \"address\": \"0x5100\","
    "               \"offset\": \"0x4100\", \"kind\": \"possible\", \"stack\": 8, \"family\": \"malloc\","
    "               \"blocks\": 2, \"bytes\": 200}],"
    " \"held_by_omitted\": {\"count\": 0, \"blocks\": 0, \"bytes\": 0}}";

/* Serialize base_dump with 'reach' as its "reachability" (stolen). */
static char *dump_with(json_t *reach)
{
    json_error_t jerr;
    json_t *root = json_loads(base_dump, 0, &jerr);
    ck_assert_msg(root != NULL, "base dump: %s", jerr.text);
    if (reach != NULL)
        json_object_set_new(root, LK_KEY_REACH, reach);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static json_t *reach_json(void)
{
    json_error_t jerr;
    json_t *r = json_loads(reach_obj, 0, &jerr);
    ck_assert_msg(r != NULL, "reach object: %s (line %d col %d)", jerr.text, jerr.line,
                  jerr.column);
    return r;
}

START_TEST(test_reach_analyze_parse_valid)
{
    char *text = dump_with(reach_json());
    lk_dump_t *d = load_ok(text);
    const lk_reach_t *r = d->reach;

    ck_assert_ptr_nonnull(r);
    ck_assert(r->complete);
    ck_assert_uint_eq(r->live_bytes, 1528);
    ck_assert_uint_eq(r->kinds[LK_KIND_DEFINITE].bytes, 64);
    ck_assert_uint_eq(r->kinds[LK_KIND_INDIRECT].blocks, 2);
    ck_assert_uint_eq(r->kinds[LK_KIND_POSSIBLE].bytes, 200);
    ck_assert_uint_eq(r->kinds[LK_KIND_REACHABLE].bytes, 1100);
    ck_assert_uint_eq(r->nsites, 5);
    ck_assert_int_eq(r->sites[0].kind, LK_KIND_REACHABLE);
    ck_assert_uint_eq(r->sites[0].stack_id, 9);
    ck_assert_uint_eq(r->sites[0].stack_idx, 2);
    ck_assert_int_eq(r->sites[1].kind, LK_KIND_POSSIBLE);
    ck_assert_int_eq(r->sites[3].kind, LK_KIND_DEFINITE);
    ck_assert_uint_eq(r->nstructs, 1);
    ck_assert(r->structs[0].cycle && r->structs[0].head_in_cycle);
    ck_assert_uint_eq(r->structs[0].head_stack_idx, 0);
    ck_assert_uint_eq(r->structs[0].nmembers, 2);
    ck_assert(r->structs[0].members[0].has_stack);
    ck_assert(!r->structs[0].members[1].has_stack);   /* the summed rest */
    ck_assert_uint_eq(r->nheld, 4);
    ck_assert_int_eq(r->held[0].root, LK_ROOT_GLOBAL);
    ck_assert_str_eq(r->held[0].module, "/nonexistent/app");
    ck_assert_uint_eq(r->held[0].offset, 0x4028);
    ck_assert_uint_eq(r->held[0].address, 0x5028);
    ck_assert_int_eq(r->held[2].root, LK_ROOT_STACK);
    ck_assert_int_eq(r->held[2].tid, 4242);
    ck_assert_int_eq(r->held[3].kind, LK_KIND_POSSIBLE);
    lk_dump_free(d);
    free(text);

    /* no "reachability" (or null): no scan */
    text = dump_with(NULL);
    d = load_ok(text);
    ck_assert_ptr_null(d->reach);
    lk_dump_free(d);
    free(text);
    text = dump_with(json_null());
    d = load_ok(text);
    ck_assert_ptr_null(d->reach);
    lk_dump_free(d);
    free(text);
}
END_TEST

/* One corruption: 'path' is a dotted path into the reachability object
 * ("sites.0.stack"; "" = the object itself), 'value' JSON text or NULL to
 * delete, 'expect' a substring of the one-line message. */
typedef struct bad_case {
    const char *path;
    const char *value;
    const char *expect;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    { "", "[]", "dump.json: reachability: expected object, got array" },
    { "complete", NULL, "dump.json: reachability.complete: missing" },
    { "complete", "1", "reachability.complete: expected boolean, got integer" },
    { "live_bytes", "\"12\"", "reachability.live_bytes: expected integer, got string" },
    { "live_bytes", "9223372036854775807", "reachability.live_bytes: absurd value" },
    { "kinds", NULL, "reachability.kinds: missing" },
    { "kinds.possible", NULL, "reachability.kinds.possible: missing" },
    { "kinds.definite.bytes", "-1", "reachability.kinds.definite.bytes: negative value -1" },
    { "sites", "{}", "reachability.sites: expected array, got object" },
    { "sites", NULL, "reachability.sites: missing" },
    { "sites.0", "7", "reachability.sites[0]: expected object, got integer" },
    { "sites.0.stack", "99", "reachability.sites[0].stack: no stack with id 99" },
    { "sites.1.stack", NULL, "reachability.sites[1].stack: missing" },
    { "sites.0.kind", "\"lost\"", "reachability.sites[0].kind: unknown value \"lost\"" },
    { "sites.0.kind", "\"unfreed\"", "reachability.sites[0].kind: unknown value \"unfreed\"" },
    { "sites.0.family", "\"mmap\"", "reachability.sites[0].family: unknown value \"mmap\"" },
    { "sites.2.blocks", "-3", "reachability.sites[2].blocks: negative value -3" },
    { "sites.2.bytes", "\"100\"", "reachability.sites[2].bytes: expected integer, got string" },
    { "structures", NULL, "reachability.structures: missing" },
    { "structures.0.head_stack", "12", "reachability.structures[0].head_stack: no stack with id 12" },
    { "structures.0.cycle", "\"yes\"", "reachability.structures[0].cycle: expected boolean, got string" },
    { "structures.0.members", NULL, "reachability.structures[0].members: missing" },
    { "structures.0.members.0.stack", "42", "reachability.structures[0].members[0].stack: no stack with id 42" },
    { "structures.0.members.0.bytes", "1.5", "reachability.structures[0].members[0].bytes: expected integer, got number" },
    { "structures_omitted.bytes", "\"x\"", "reachability.structures_omitted.bytes: expected integer, got string" },
    { "held_by", NULL, "reachability.held_by: missing" },
    { "held_by.0.root", "\"heap\"", "reachability.held_by[0].root: unknown value \"heap\"" },
    { "held_by.0.kind", "\"definite\"", "reachability.held_by[0].kind: expected reachable or possible, got definite" },
    { "held_by.0.module", NULL, "reachability.held_by[0].module: missing" },
    { "held_by.0.offset", "\"4028\"", "reachability.held_by[0].offset: expected hex string like" },
    { "held_by.0.offset", "16424", "reachability.held_by[0].offset: expected string, got integer" },
    { "held_by.0.offset", "\"0x12345678901234567\"", "reachability.held_by[0].offset: address" },
    { "held_by.1.stack", "1000", "reachability.held_by[1].stack: no stack with id 1000" },
    { "held_by.2.tid", "\"main\"", "reachability.held_by[2].tid: expected integer, got string" },
    { "held_by.2.tid", "9999999999", "reachability.held_by[2].tid: absurd thread id" },
};

/* Apply 'bc' to a fresh reachability object. */
static json_t *corrupt(const bad_case_t *bc)
{
    json_t *r = reach_json();
    if (bc->path[0] == '\0') {
        json_decref(r);
        return json_loads(bc->value, JSON_DECODE_ANY, NULL);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s", bc->path);
    json_t *cur = r;
    char *save = NULL, *tok = strtok_r(path, ".", &save);
    while (tok != NULL) {
        char *next = strtok_r(NULL, ".", &save);
        bool is_index = tok[0] >= '0' && tok[0] <= '9';
        if (next == NULL) {
            json_t *v = bc->value != NULL ? json_loads(bc->value, JSON_DECODE_ANY, NULL) : NULL;
            ck_assert_msg(bc->value == NULL || v != NULL, "bad test value %s", bc->value);
            if (is_index)
                json_array_set_new(cur, (size_t)atoi(tok), v);
            else if (v != NULL)
                json_object_set_new(cur, tok, v);
            else
                ck_assert_int_eq(json_object_del(cur, tok), 0);
        } else {
            cur = is_index ? json_array_get(cur, (size_t)atoi(tok)) : json_object_get(cur, tok);
            ck_assert_msg(cur != NULL, "bad test path %s", bc->path);
        }
        tok = next;
    }
    return r;
}

START_TEST(test_reach_analyze_bad_input)
{
    const bad_case_t *bc = &bad_cases[_i];
    char *text = dump_with(corrupt(bc));
    char err[512] = "";
    lk_dump_t *d = NULL;
    int rc = lk_load_buffer("dump.json", text, strlen(text), &d, err, sizeof(err));

    ck_assert_msg(rc == -EINVAL, "%s: rc %d, want -EINVAL (err '%s')", bc->path, rc, err);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err, bc->expect) != NULL, "%s: got '%s', want '%s'", bc->path, err,
                  bc->expect);
    ck_assert_msg(strncmp(err, "dump.json: reachability", 23) == 0, "no file/path: '%s'", err);
    ck_assert_msg(strchr(err, '\n') == NULL, "not one line: '%s'", err);
    free(text);
}
END_TEST

/* ### the pass on a loaded dump */

typedef struct fixture {
    lk_input_t in;
    lk_report_t r;
    lk_symbolizer_t *sym;
    lk_options_t opt;
    FILE *devnull;
} fixture_t;

static void run_pass(fixture_t *f, json_t *reach)
{
    char err[512] = "";
    char *text = dump_with(reach);
    lk_dump_t *d = load_ok(text);
    free(text);
    memset(f, 0, sizeof(*f));
    f->in.dumps = malloc(sizeof(*f->in.dumps));
    ck_assert_ptr_nonnull(f->in.dumps);
    f->in.dumps[0] = d;
    f->in.ndumps = 1;
    ck_assert_int_eq(lk_input_group(&f->in, err, sizeof(err)), 0);
    f->devnull = fopen("/dev/null", "w");
    f->sym = lk_symbolizer_new(f->devnull);
    f->opt.builtin_suppressions = false;
    f->opt.fail_kinds = (1u << LK_KIND_UNFREED) | (1u << LK_KIND_DEFINITE)
                        | (1u << LK_KIND_INDIRECT);
    f->opt.show_kinds = (1u << LK_KIND_UNFREED) | (1u << LK_KIND_DEFINITE)
                        | (1u << LK_KIND_INDIRECT) | (1u << LK_KIND_POSSIBLE);
    ck_assert_int_eq(lk_leaks_collect(&f->r, &f->in, f->sym, &f->opt), 0);
    ck_assert_int_eq(lk_reach_collect(&f->r, &f->in, f->sym), 0);
}

static void fixture_free(fixture_t *f)
{
    lk_report_free(&f->r);
    lk_input_free(&f->in);
    lk_symbolizer_free(f->sym);
    fclose(f->devnull);
}

static const lk_leak_t *find_leak(const lk_report_t *r, uint64_t stack, lk_kind_t kind)
{
    for (size_t i = 0; i < r->nleaks; i++)
        if (r->leaks[i].stack_id == stack && r->leaks[i].kind == kind)
            return &r->leaks[i];
    return NULL;
}

START_TEST(test_reach_analyze_leaks_per_kind)
{
    fixture_t f;
    run_pass(&f, reach_json());

    ck_assert_uint_eq(f.r.nleaks, 5);   /* one per (site, kind), not per site */
    const lk_leak_t *l = find_leak(&f.r, 7, LK_KIND_DEFINITE);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(l->bytes, 64);
    ck_assert_ptr_nonnull(find_leak(&f.r, 7, LK_KIND_INDIRECT));
    ck_assert_uint_eq(find_leak(&f.r, 8, LK_KIND_POSSIBLE)->blocks, 2);
    ck_assert_uint_eq(find_leak(&f.r, 9, LK_KIND_REACHABLE)->bytes, 1100);
    ck_assert_ptr_null(find_leak(&f.r, 9, LK_KIND_UNFREED));
    ck_assert(f.r.has_reach);
    ck_assert_uint_eq(f.r.kind_bytes[LK_KIND_DEFINITE], 64);
    ck_assert_uint_eq(f.r.kind_bytes[LK_KIND_INDIRECT], 164);
    ck_assert_uint_eq(f.r.kind_bytes[LK_KIND_POSSIBLE], 200);
    ck_assert_uint_eq(f.r.kind_bytes[LK_KIND_REACHABLE], 1100);
    ck_assert_uint_eq(f.r.kind_bytes[LK_KIND_UNFREED], 0);
    /* leaked = everything but reachable */
    ck_assert_uint_eq(f.r.leaked_bytes, 64 + 164 + 200);
    ck_assert_uint_eq(f.r.leaked_blocks, 5);
    ck_assert_uint_eq(f.r.procs[0].kind_blocks[LK_KIND_REACHABLE], 3);

    /* the gate: default kinds count definite + indirect only */
    f.opt.fail_on_leak = true;
    ck_assert_int_eq(lk_leaks_gate(&f.r, &f.opt), LK_EXIT_GATE);
    ck_assert_str_eq(f.r.gate_reason, "228 byte(s) leaked in 3 site(s)");
    f.opt.fail_kinds = 1u << LK_KIND_POSSIBLE;
    ck_assert_int_eq(lk_leaks_gate(&f.r, &f.opt), LK_EXIT_GATE);
    ck_assert_str_eq(f.r.gate_reason, "200 byte(s) leaked in 1 site(s)");
    f.opt.fail_kinds = 1u << LK_KIND_UNFREED;   /* nothing is unfreed with a scan */
    ck_assert_int_eq(lk_leaks_gate(&f.r, &f.opt), LK_EXIT_OK);
    f.opt.fail_kinds = (1u << LK_KIND_DEFINITE) | (1u << LK_KIND_INDIRECT);
    f.opt.fail_on_leak = false;
    f.opt.has_max_leak_bytes = true;
    f.opt.max_leak_bytes = 228;
    ck_assert_int_eq(lk_leaks_gate(&f.r, &f.opt), LK_EXIT_OK);
    f.opt.max_leak_bytes = 227;
    ck_assert_int_eq(lk_leaks_gate(&f.r, &f.opt), LK_EXIT_GATE);
    fixture_free(&f);

    /* without a scan: one unfreed entry per live site */
    run_pass(&f, NULL);
    ck_assert_uint_eq(f.r.nleaks, 3);
    ck_assert(!f.r.has_reach);
    for (size_t i = 0; i < f.r.nleaks; i++)
        ck_assert_int_eq(f.r.leaks[i].kind, LK_KIND_UNFREED);
    ck_assert_uint_eq(f.r.leaked_bytes, 1528);
    ck_assert_uint_eq(f.r.nstructures, 0);
    ck_assert_uint_eq(f.r.nheld, 0);
    f.opt.fail_on_leak = true;
    ck_assert_int_eq(lk_leaks_gate(&f.r, &f.opt), LK_EXIT_GATE);
    fixture_free(&f);
}
END_TEST

START_TEST(test_reach_analyze_structures_and_held)
{
    fixture_t f;
    run_pass(&f, reach_json());

    ck_assert_uint_eq(f.r.nstructures, 1);
    const lk_structure_report_t *s = &f.r.structures[0];
    ck_assert(s->cycle && s->head_in_cycle);
    ck_assert_uint_eq(s->blocks, 3);
    ck_assert_uint_eq(s->bytes, 228);
    ck_assert_uint_eq(s->head.stack_id, 7);
    ck_assert_uint_eq(s->nmembers, 2);
    ck_assert(!s->members[1].has_stack);
    /* the two entries of global word 0x4028 for stack 9 are one root */
    ck_assert_uint_eq(f.r.nheld, 3);
    const lk_held_report_t *h = &f.r.held[0];
    ck_assert_int_eq(h->root, LK_ROOT_GLOBAL);
    ck_assert_uint_eq(h->site.bytes, 1000);
    ck_assert_uint_eq(h->site.blocks, 2);
    ck_assert_uint_eq(h->offset, 0x4028);
    ck_assert_ptr_null(h->symbol);   /* the module is gone: module+offset */
    ck_assert_int_eq(f.r.held[1].kind, LK_KIND_POSSIBLE);
    ck_assert_int_eq(f.r.held[2].root, LK_ROOT_STACK);
    ck_assert(f.r.held[2].main_thread);

    /* JSON: kinds, structures, held_by, per-kind summary */
    FILE *tmp = tmpfile();
    ck_assert_int_eq(lk_report_json(tmp, &f.r, &f.opt), 0);
    rewind(tmp);
    json_error_t jerr;
    json_t *rep = json_loadf(tmp, 0, &jerr);
    fclose(tmp);
    ck_assert_msg(rep != NULL, "report JSON: %s", jerr.text);
    json_t *leaks = json_object_get(rep, "leaks"), *l;
    size_t i;
    int seen[LK_KIND_COUNT] = { 0 };
    json_array_foreach(leaks, i, l) {
        int k = lk_kind_parse(json_string_value(json_object_get(l, "kind")));
        ck_assert_int_ge(k, LK_KIND_DEFINITE);
        seen[k]++;
    }
    ck_assert_int_eq(seen[LK_KIND_DEFINITE], 1);
    ck_assert_int_eq(seen[LK_KIND_INDIRECT], 2);
    ck_assert_int_eq(seen[LK_KIND_POSSIBLE], 1);
    ck_assert_int_eq(seen[LK_KIND_REACHABLE], 1);   /* JSON lists all four */
    json_t *st = json_array_get(json_object_get(rep, "structures"), 0);
    ck_assert(json_is_true(json_object_get(st, "cycle")));
    ck_assert_int_eq(json_integer_value(json_object_get(st, "bytes")), 228);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "head"), "stack")), 7);
    ck_assert(json_is_null(json_object_get(json_array_get(json_object_get(st, "members"), 1),
                                           "stack")));
    json_t *hb = json_array_get(json_object_get(rep, "held_by"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(hb, "root")), "global");
    ck_assert_str_eq(json_string_value(json_object_get(hb, "offset")), "0x4028");
    ck_assert(json_is_null(json_object_get(hb, "symbol")));
    ck_assert_int_eq(json_integer_value(json_object_get(hb, "bytes")), 1000);
    json_t *hs = json_array_get(json_object_get(rep, "held_by"), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(hs, "tid")), 4242);
    ck_assert(json_is_true(json_object_get(hs, "main_thread")));
    json_t *kinds = json_object_get(json_object_get(rep, "summary"), "kinds");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(kinds, "indirect"),
                                                        "bytes")), 164);
    json_decref(rep);

    /* text: LSan headings, the lost cycle, the LEAK SUMMARY; reachable and
     * its holders only with --show=reachable */
    char *buf = NULL;
    size_t len = 0;
    tmp = open_memstream(&buf, &len);
    ck_assert_int_eq(lk_report_text(tmp, &f.r, &f.opt), 0);
    fclose(tmp);
    ck_assert_msg(strstr(buf, "Direct leak of 64 byte(s) in 1 object(s) allocated from:"), "%s", buf);
    ck_assert_msg(strstr(buf, "Indirect leak of 100 byte(s) in 1 object(s)"), "%s", buf);
    ck_assert_msg(strstr(buf, "Possible leak of 200 byte(s) in 2 object(s)"), "%s", buf);
    ck_assert_msg(!strstr(buf, "Still reachable"), "%s", buf);
    ck_assert_msg(strstr(buf, "lost cycle of 3 blocks (228 bytes): "), "%s", buf);
    ck_assert_msg(strstr(buf, "200 bytes in 2 blocks possibly held (interior pointer) by "
                              "global data at app+0x4100"), "%s", buf);
    ck_assert_msg(!strstr(buf, "1000 bytes in 2 blocks held by"), "%s", buf);
    ck_assert_msg(strstr(buf, "   definitely lost: 64 byte(s) in 1 block(s)\n"
                              "   indirectly lost: 164 byte(s) in 2 block(s)\n"
                              "     possibly lost: 200 byte(s) in 2 block(s)\n"
                              "   still reachable: 1100 byte(s) in 3 block(s)\n"
                              "        suppressed: 0 byte(s) in 0 block(s)\n"), "%s", buf);
    /* SUMMARY counts what the gate counts: definite and indirect, not possible */
    ck_assert_msg(strstr(buf, "SUMMARY: libleak: 228 byte(s) leaked in 3 allocation(s)."), "%s", buf);
    free(buf);
    f.opt.show_kinds |= 1u << LK_KIND_REACHABLE;
    tmp = open_memstream(&buf, &len);
    ck_assert_int_eq(lk_report_text(tmp, &f.r, &f.opt), 0);
    fclose(tmp);
    ck_assert_msg(strstr(buf, "Still reachable: 1100 byte(s) in 3 object(s) allocated from:"), "%s", buf);
    ck_assert_msg(strstr(buf, "1000 bytes in 2 blocks held by global data at app+0x4028"), "%s", buf);
    ck_assert_msg(strstr(buf, "100 bytes in 1 block held by the stack of thread 4242 (main thread)"),
                  "%s", buf);
    free(buf);
    /* --show=reachable only: no direct leaks, no lost structures */
    f.opt.show_kinds = 1u << LK_KIND_REACHABLE;
    tmp = open_memstream(&buf, &len);
    ck_assert_int_eq(lk_report_text(tmp, &f.r, &f.opt), 0);
    fclose(tmp);
    ck_assert_msg(!strstr(buf, "Direct leak") && !strstr(buf, "lost cycle"), "%s", buf);
    free(buf);
    fixture_free(&f);
}
END_TEST

START_TEST(test_reach_analyze_baseline_key_has_kind)
{
    lk_frame_t a[1] = { { .function = "leak_here", .file = "/src/x.c", .line = 3 } };
    char *plain = lk_baseline_key(LK_FAMILY_MALLOC, a, 1);
    char *unf = lk_baseline_leak_key(LK_KIND_UNFREED, LK_FAMILY_MALLOC, a, 1);
    char *def = lk_baseline_leak_key(LK_KIND_DEFINITE, LK_FAMILY_MALLOC, a, 1);
    char *ind = lk_baseline_leak_key(LK_KIND_INDIRECT, LK_FAMILY_MALLOC, a, 1);

    ck_assert_str_eq(unf, plain);   /* dumps without a scan keep their keys */
    ck_assert_str_ne(def, ind);
    ck_assert_ptr_nonnull(strstr(def, "#definite"));
    ck_assert_ptr_nonnull(strstr(ind, "#indirect"));
    free(plain);
    free(unf);
    free(def);
    free(ind);

    /* a report's baseline ignores reachable entries */
    fixture_t f;
    run_pass(&f, reach_json());
    lk_base_t b = { 0 };
    ck_assert_int_eq(lk_base_from_report(&b, &f.r), 0);
    uint64_t bytes = 0;
    for (size_t i = 0; i < b.n; i++)
        bytes += b.v[i].bytes;
    ck_assert_uint_eq(bytes, 428);
    lk_base_apply(&f.r, &b);
    ck_assert_uint_eq(f.r.new_sites, 0);
    ck_assert_uint_eq(f.r.grown_sites, 0);
    lk_base_free(&b);
    fixture_free(&f);
}
END_TEST

/* ### data symbols: this test binary's own globals */

void *g_reach_probe_holder;                 /* REACH_PROBE_HOLDER */
void *g_reach_probe_array[8];               /* REACH_PROBE_ARRAY */

static int first_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(uintptr_t *)data = info->dlpi_addr;
    return 1;   /* the main program comes first */
}

/* Line of 'marker' in this source file, from __FILE__. */
static int line_of(const char *marker)
{
    FILE *f = fopen(__FILE__, "r");
    char line[512];
    int n = 0;
    ck_assert_msg(f != NULL, "cannot open %s", __FILE__);
    while (fgets(line, sizeof(line), f) != NULL) {
        n++;
        if (strstr(line, marker) != NULL && strstr(line, "line_of") == NULL
            && strstr(line, "/* REACH") != NULL) {
            fclose(f);
            return n;
        }
    }
    fclose(f);
    return 0;
}

START_TEST(test_reach_analyze_data_symbols)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    uintptr_t base = 0;
    dl_iterate_phdr(first_module, &base);

    char *text = NULL;
    ck_assert_int_ge(asprintf(&text,
        "{\"format\": \"libleak-dump\", \"version\": 1,"
        " \"process\": {\"pid\": 1, \"exe\": \"%s\"}, \"dump\": {\"seq\": 0, \"trigger\": \"exit\"},"
        " \"totals\": {\"live_bytes\": 0, \"live_blocks\": 0, \"complete\": true},"
        " \"modules\": [{\"path\": \"%s\", \"base\": \"0x%lx\", \"size\": 0}],"
        " \"stacks\": [], \"sites\": []}", exe, exe, (unsigned long)base), 0);
    lk_dump_t *d = load_ok(text);
    free(text);
    FILE *devnull = fopen("/dev/null", "w");
    lk_symbolizer_t *sym = lk_symbolizer_new(devnull);
    lk_data_sym_t ds;

    uint64_t off = (uintptr_t)&g_reach_probe_holder - base;
    ck_assert_int_eq(lk_symbolize_data(sym, d, exe, off, &ds), 0);
    ck_assert_ptr_nonnull(ds.name);
    ck_assert_str_eq(ds.name, "g_reach_probe_holder");
    ck_assert_uint_eq(ds.sym_offset, 0);
    ck_assert_ptr_nonnull(ds.decl_file);
    ck_assert_msg(strstr(ds.decl_file, "check_reach_analyze.c") != NULL, "%s", ds.decl_file);
    ck_assert_int_eq(ds.decl_line, line_of("REACH_PROBE_HOLDER"));

    /* a word inside an array: the symbol containing it (size-aware) */
    off = (uintptr_t)&g_reach_probe_array[5] - base;
    ck_assert_int_eq(lk_symbolize_data(sym, d, exe, off, &ds), 0);
    ck_assert_str_eq(ds.name, "g_reach_probe_array");
    ck_assert_uint_eq(ds.sym_offset, 5 * sizeof(void *));
    ck_assert_int_eq(ds.decl_line, line_of("REACH_PROBE_ARRAY"));

    /* a module the dump does not list: no name, no error */
    ck_assert_int_eq(lk_symbolize_data(sym, d, "/nonexistent/lib.so", off, &ds), 0);
    ck_assert_ptr_null(ds.name);
    /* an offset past every object */
    ck_assert_int_eq(lk_symbolize_data(sym, d, exe, UINT64_C(1) << 40, &ds), 0);
    ck_assert_ptr_null(ds.name);

    lk_symbolizer_free(sym);
    fclose(devnull);
    lk_dump_free(d);
}
END_TEST

static Suite *reach_analyze_suite(void)
{
    Suite *s = suite_create("reach_analyze");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_reach_analyze_parse_valid);
    tcase_add_loop_test(tc, test_reach_analyze_bad_input, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, test_reach_analyze_leaks_per_kind);
    tcase_add_test(tc, test_reach_analyze_structures_and_held);
    tcase_add_test(tc, test_reach_analyze_baseline_key_has_kind);
    tcase_add_test(tc, test_reach_analyze_data_symbols);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(reach_analyze_suite)
