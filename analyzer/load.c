/* load.c - read libleak dumps (docs/FORMAT.md) into the lk_input_t model.
 * Every value is type- and range-checked; any problem becomes one message
 * "file: json.path: problem" and -EINVAL, never a crash or an abort: this
 * file is the fuzz target's entry (tests/fuzz/fuzz_load.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonget.h"
#include "model.h"

/* Refuse dump files above this size: no real dump is 1 GiB of JSON. */
#define MAX_DUMP_FILE_BYTES (UINT64_C(1) << 30)

typedef lk_jctx_t ctx_t;

/* Like get_u64, but null means "no limit" (has = false). */
static int get_limit(ctx_t *c, json_t *obj, const char *prefix, const char *key,
                     bool *has, uint64_t *out)
{
    char p[160];
    json_t *v = json_object_get(obj, key);

    *has = false;
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    *has = true;
    return lk_jcheck_u64(c, lk_jpath(p, sizeof(p), prefix, key), v, INT64_MAX, out);
}

/* Read a string 'key' into a heap copy (NULL when absent or null). */
static int get_str(ctx_t *c, json_t *obj, const char *prefix, const char *key,
                   bool required, char **out)
{
    json_t *v;
    int rc = lk_jget(c, obj, prefix, key, JSON_STRING, required, !required, &v);

    *out = NULL;
    if (rc < 0 || v == NULL)
        return rc;
    if ((*out = strdup(json_string_value(v))) == NULL)
        return -ENOMEM;
    return 0;
}

/* get_str() for text that is only shown, never opened: escaped here, once. */
static int get_text(ctx_t *c, json_t *obj, const char *prefix, const char *key, char **out)
{
    int rc = get_str(c, obj, prefix, key, false, out);
    if (rc == 0 && !lk_is_printable(*out)) {
        char *e = lk_escape_dup(*out);
        free(*out);
        if ((*out = e) == NULL)
            return -ENOMEM;
    }
    return rc;
}

/* d->name: the basename of process.cmdline[0] (the program as invoked:
 * Debian's redis-server is a symlink whose exe is redis-check-rdb), else of
 * d->exe; escaped as get_text() does. */
static int get_name(ctx_t *c, json_t *proc, lk_dump_t *d)
{
    json_t *cl, *v;
    int rc = lk_jget(c, proc, LK_KEY_PROCESS, LK_KEY_CMDLINE, JSON_ARRAY, false, true, &cl);
    const char *s = NULL;

    if (rc < 0)
        return rc;
    if (cl != NULL && (v = json_array_get(cl, 0)) != NULL && json_is_string(v))
        s = json_string_value(v);
    if (s != NULL && *lk_basename(s) != '\0')
        s = lk_basename(s);
    else if (d->exe != NULL)
        s = lk_basename(d->exe);
    else
        return 0;
    d->name = lk_is_printable(s) ? strdup(s) : lk_escape_dup(s);
    return d->name == NULL ? -ENOMEM : 0;
}

/* Parse a well-formed "0x..." address without building a JSON path (a
 * dump has millions of frames); false sends the caller to lk_jparse_addr()
 * for the error message. */
static bool fast_addr(json_t *v, uint64_t *out)
{
    const char *s = json_string_value(v);
    if (s == NULL || s[0] != '0' || s[1] != 'x' || s[2] == '\0')
        return false;
    uint64_t a = 0;
    size_t i;
    for (i = 2; s[i] != '\0'; i++) {
        char ch = s[i];
        unsigned d;
        if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
        else return false;
        if (i >= 18)
            return false;
        a = (a << 4) | d;
    }
    *out = a;
    return true;
}

static const char *const family_names[] = LK_FAMILY_NAMES;
static const char *const trigger_names[] = LK_TRIGGER_NAMES;
static const char *const failure_names[] = LK_FAILURE_NAMES;
#define NNAMES(t) (sizeof(t) / sizeof(t[0]))

static int parse_family(ctx_t *c, json_t *obj, const char *prefix, const char *key,
                        lk_family_t *out)
{
    int v;
    int rc = lk_jget_name(c, obj, prefix, key, true, family_names, NNAMES(family_names), 0, &v);
    *out = (lk_family_t)v;
    return rc;
}

/* ### sections */

typedef struct id_idx {
    uint64_t id;
    size_t idx;
} id_idx_t;

static int cmp_id(const void *a, const void *b)
{
    const id_idx_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Resolve stack id 'key' at 'path' to its index in d->stacks. */
static int find_stack(ctx_t *c, const id_idx_t *ids, size_t n, json_t *obj,
                      const char *prefix, const char *key, size_t *out)
{
    char p[160];
    uint64_t id;
    int rc = lk_jget_u64(c, obj, prefix, key, true, INT64_MAX, 0, &id);
    if (rc < 0)
        return rc;
    id_idx_t k = { id, 0 };
    const id_idx_t *f = bsearch(&k, ids, n, sizeof(*ids), cmp_id);
    if (f == NULL)
        return lk_jfail(c, lk_jpath(p, sizeof(p), prefix, key), "no stack with id %" PRIu64, id);
    *out = f->idx;
    return 0;
}

static int load_modules(ctx_t *c, json_t *root, lk_dump_t *d)
{
    json_t *arr, *m;
    size_t i;
    void *vec;
    int rc = lk_jget_array(c, root, "", LK_KEY_MODULES, true, sizeof(lk_dump_module_t), &arr,
                           &vec, &d->nmodules);
    d->modules = vec;
    if (rc < 0)
        return rc;
    json_array_foreach(arr, i, m) {
        char p[64], q[160];
        lk_dump_module_t *mod = &d->modules[i];
        json_t *v;
        snprintf(p, sizeof(p), "%s[%zu]", LK_KEY_MODULES, i);
        if (!json_is_object(m))
            return lk_jfail(c, p, "expected object, got %s", lk_jtype_name(m));
        if ((rc = get_str(c, m, p, LK_KEY_PATH, true, &mod->path)) < 0)
            return rc;
        if ((rc = lk_jget(c, m, p, LK_KEY_BASE, JSON_STRING, true, false, &v)) < 0)
            return rc;
        if ((rc = lk_jparse_addr(c, lk_jpath(q, sizeof(q), p, LK_KEY_BASE), v, &mod->base)) < 0)
            return rc;
        if ((rc = lk_jget_u64(c, m, p, LK_KEY_SIZE, false, LK_MAX_COUNT, 0, &mod->size_bytes)) < 0)
            return rc;
        if ((rc = get_str(c, m, p, LK_KEY_BUILD_ID, false, &mod->build_id)) < 0)
            return rc;
        if ((rc = lk_jget_bool(c, m, p, LK_KEY_PATH_ESCAPED, false, false,
                               &mod->path_escaped)) < 0)
            return rc;
        /* an unloaded module has all three, a mapped one none */
        mod->unloaded = json_object_get(m, LK_KEY_STACKS_BEFORE_UNLOAD) != NULL;
        if ((rc = lk_jget_u64(c, m, p, LK_KEY_STACKS_BEFORE_UNLOAD, false, INT64_MAX, 0,
                              &mod->stacks_before_unload)) < 0
            || (rc = lk_jget_u64(c, m, p, LK_KEY_LOAD_UPTIME_NS, mod->unloaded, LK_MAX_COUNT, 0,
                                 &mod->load_uptime_ns)) < 0
            || (rc = lk_jget_u64(c, m, p, LK_KEY_UNLOAD_UPTIME_NS, mod->unloaded, LK_MAX_COUNT,
                                 0, &mod->unload_uptime_ns)) < 0)
            return rc;
        if (mod->build_id != NULL) {
            for (char *s = mod->build_id; *s != '\0'; s++) {
                if (*s >= 'A' && *s <= 'F')
                    *s = (char)(*s - 'A' + 'a');
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                    return lk_jfail(c, lk_jpath(q, sizeof(q), p, LK_KEY_BUILD_ID),
                                    "expected hex string");
            }
        }
    }
    return 0;
}

static int load_stacks(ctx_t *c, json_t *root, lk_dump_t *d, id_idx_t **ids_out)
{
    json_t *arr, *s;
    size_t i;
    void *vec;
    int rc = lk_jget_array(c, root, "", LK_KEY_STACKS, true, sizeof(lk_stack_t), &arr, &vec,
                           &d->nstacks);
    d->stacks = vec;
    *ids_out = NULL;
    if (rc < 0)
        return rc;
    id_idx_t *ids = calloc(d->nstacks + 1, sizeof(*ids));
    if (ids == NULL)
        return -ENOMEM;
    *ids_out = ids;
    json_array_foreach(arr, i, s) {
        char p[64], q[192];
        lk_stack_t *st = &d->stacks[i];
        json_t *frames, *f;
        size_t j;
        snprintf(p, sizeof(p), "%s[%zu]", LK_KEY_STACKS, i);
        if (!json_is_object(s))
            return lk_jfail(c, p, "expected object, got %s", lk_jtype_name(s));
        if ((rc = lk_jget_u64(c, s, p, LK_KEY_ID, true, INT64_MAX, 0, &st->id)) < 0)
            return rc;
        if ((rc = lk_jget(c, s, p, LK_KEY_FRAMES, JSON_ARRAY, true, false, &frames)) < 0)
            return rc;
        if ((rc = lk_jget_bool(c, s, p, LK_KEY_TRUNCATED, false, false, &st->truncated)) < 0)
            return rc;
        if ((rc = lk_jget_bool(c, s, p, LK_KEY_JIT_CUT, false, false, &st->jit_cut)) < 0)
            return rc;
        size_t n = json_array_size(frames);
        if (n > LK_MAX_FRAMES)
            return lk_jfail(c, lk_jpath(q, sizeof(q), p, LK_KEY_FRAMES),
                            "absurd length %zu (limit %d)", n, LK_MAX_FRAMES);
        if (n > 0 && (st->frames = calloc(n, sizeof(uint64_t))) == NULL)
            return -ENOMEM;
        st->nframes = n;
        json_array_foreach(frames, j, f) {
            if (fast_addr(f, &st->frames[j]))
                continue;
            snprintf(q, sizeof(q), "%s.%s[%zu]", p, LK_KEY_FRAMES, j);
            if ((rc = lk_jparse_addr(c, q, f, &st->frames[j])) < 0)
                return rc;
        }
        ids[i].id = st->id;
        ids[i].idx = i;
    }
    qsort(ids, d->nstacks, sizeof(*ids), cmp_id);
    for (i = 1; i < d->nstacks; i++)
        if (ids[i].id == ids[i - 1].id) {
            char p[64];
            snprintf(p, sizeof(p), "%s[%zu].%s", LK_KEY_STACKS, ids[i].idx, LK_KEY_ID);
            return lk_jfail(c, p, "duplicate stack id %" PRIu64, ids[i].id);
        }
    return 0;
}

/* The optional "crash": the signal the process died of, and its stack. */
static int load_crash(ctx_t *c, json_t *root, lk_dump_t *d, const id_idx_t *ids)
{
    json_t *o, *v;
    uint64_t u;
    int rc;
    if ((rc = lk_jget(c, root, "", LK_KEY_CRASH, JSON_OBJECT, false, true, &o)) < 0 || o == NULL)
        return rc;
    if ((rc = lk_jget_u64(c, o, LK_KEY_CRASH, LK_KEY_CRASH_SIGNAL, true, 64, 0, &u)) < 0)
        return rc;
    if (u == 0)
        return lk_jfail(c, LK_KEY_CRASH "." LK_KEY_CRASH_SIGNAL, "invalid signal 0");
    d->crash_signal = (int)u;
    if ((rc = lk_jget(c, o, LK_KEY_CRASH, LK_KEY_CRASH_CODE, JSON_INTEGER, false, false, &v)) < 0)
        return rc;
    if (v != NULL) {
        json_int_t code = json_integer_value(v);
        if (code < INT32_MIN || code > INT32_MAX)
            return lk_jfail(c, LK_KEY_CRASH "." LK_KEY_CRASH_CODE, "absurd value %lld",
                            (long long)code);
        d->crash_code = (int)code;
    }
    if ((rc = lk_jget_u64(c, o, LK_KEY_CRASH, LK_KEY_CRASH_TID, false, LK_MAX_PID, 0,
                          &d->crash_tid)) < 0
        || (rc = lk_jget(c, o, LK_KEY_CRASH, LK_KEY_CRASH_ADDRESS, JSON_STRING, false, true,
                         &v)) < 0)
        return rc;
    if (v != NULL) {
        if ((rc = lk_jparse_addr(c, LK_KEY_CRASH "." LK_KEY_CRASH_ADDRESS, v, &d->crash_addr)) < 0)
            return rc;
        d->crash_has_addr = true;
    }
    if ((rc = lk_jget(c, o, LK_KEY_CRASH, LK_KEY_CRASH_STACK, JSON_INTEGER, false, true, &v)) < 0)
        return rc;
    if (v != NULL) {
        if ((rc = find_stack(c, ids, d->nstacks, o, LK_KEY_CRASH, LK_KEY_CRASH_STACK,
                             &d->crash_stack_idx)) < 0)
            return rc;
        d->crash_has_stack = true;
    }
    return 0;
}

static int load_sites(ctx_t *c, json_t *root, lk_dump_t *d, const id_idx_t *ids)
{
    json_t *arr, *s;
    size_t i;
    void *vec;
    int rc = lk_jget_array(c, root, "", LK_KEY_SITES, true, sizeof(lk_site_t), &arr, &vec,
                           &d->nsites);
    d->sites = vec;
    if (rc < 0)
        return rc;
    json_array_foreach(arr, i, s) {
        char p[64];
        lk_site_t *st = &d->sites[i];
        snprintf(p, sizeof(p), "%s[%zu]", LK_KEY_SITES, i);
        if (!json_is_object(s))
            return lk_jfail(c, p, "expected object, got %s", lk_jtype_name(s));
        if ((rc = find_stack(c, ids, d->nstacks, s, p, LK_KEY_STACK, &st->stack_idx)) < 0)
            return rc;
        st->stack_id = d->stacks[st->stack_idx].id;
        if ((rc = parse_family(c, s, p, LK_KEY_FAMILY, &st->family)) < 0)
            return rc;
        struct { const char *key; bool req; uint64_t *out; } f[] = {
            { LK_KEY_LIVE_BLOCKS, true, &st->live_blocks },
            { LK_KEY_LIVE_BYTES, true, &st->live_bytes },
            { LK_KEY_TOTAL_BLOCKS, false, &st->total_blocks },
            { LK_KEY_TOTAL_BYTES, false, &st->total_bytes },
            { LK_KEY_FREED_BLOCKS, false, &st->freed_blocks },
            { LK_KEY_PEAK_LIVE_BYTES, false, &st->peak_live_bytes },
            { LK_KEY_MAX_REQUEST, false, &st->max_request_bytes },
        };
        for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
            if ((rc = lk_jget_u64(c, s, p, f[k].key, f[k].req, LK_MAX_COUNT, 0, f[k].out)) < 0)
                return rc;
        if (st->live_blocks == 0 && st->live_bytes > 0)
            return lk_jfail(c, p, "%" PRIu64 " live bytes in 0 live blocks", st->live_bytes);
    }
    return 0;
}

static int load_mismatches(ctx_t *c, json_t *root, lk_dump_t *d, const id_idx_t *ids)
{
    json_t *arr, *s;
    size_t i;
    void *vec;
    int rc = lk_jget_array(c, root, "", LK_KEY_MISMATCHES, false, sizeof(lk_mismatch_t), &arr, &vec,
                           &d->nmismatches);
    d->mismatches = vec;
    if (rc < 0 || arr == NULL)
        return rc;
    json_array_foreach(arr, i, s) {
        char p[64];
        lk_mismatch_t *m = &d->mismatches[i];
        snprintf(p, sizeof(p), "%s[%zu]", LK_KEY_MISMATCHES, i);
        if (!json_is_object(s))
            return lk_jfail(c, p, "expected object, got %s", lk_jtype_name(s));
        if ((rc = find_stack(c, ids, d->nstacks, s, p, LK_KEY_ALLOC_STACK, &m->alloc_stack_idx)) < 0
            || (rc = find_stack(c, ids, d->nstacks, s, p, LK_KEY_FREE_STACK,
                                &m->free_stack_idx)) < 0
            || (rc = parse_family(c, s, p, LK_KEY_ALLOC_FAMILY, &m->alloc_family)) < 0
            || (rc = parse_family(c, s, p, LK_KEY_FREE_FAMILY, &m->free_family)) < 0
            || (rc = lk_jget_u64(c, s, p, LK_KEY_COUNT, true, LK_MAX_COUNT, 0, &m->count)) < 0
            || (rc = lk_jget_u64(c, s, p, LK_KEY_BYTES, false, LK_MAX_COUNT, 0, &m->bytes)) < 0)
            return rc;
    }
    return 0;
}

static int load_failures(ctx_t *c, json_t *root, lk_dump_t *d, const id_idx_t *ids)
{
    json_t *arr, *s;
    size_t i;
    void *vec;
    int rc = lk_jget_array(c, root, "", LK_KEY_FAILURES, false, sizeof(lk_failure_t), &arr, &vec,
                           &d->nfailures);
    d->failures = vec;
    if (rc < 0 || arr == NULL)
        return rc;
    json_array_foreach(arr, i, s) {
        char p[64];
        lk_failure_t *f = &d->failures[i];
        int kind;
        snprintf(p, sizeof(p), "%s[%zu]", LK_KEY_FAILURES, i);
        if (!json_is_object(s))
            return lk_jfail(c, p, "expected object, got %s", lk_jtype_name(s));
        if ((rc = find_stack(c, ids, d->nstacks, s, p, LK_KEY_STACK, &f->stack_idx)) < 0
            || (rc = lk_jget_name(c, s, p, LK_KEY_KIND, true, failure_names, NNAMES(failure_names),
                                  0, &kind)) < 0
            || (rc = get_text(c, s, p, LK_KEY_FUNCTION, &f->function)) < 0
            || (rc = lk_jget_u64(c, s, p, LK_KEY_REQUEST_BYTES, true, INT64_MAX, 0,
                                 &f->request_bytes)) < 0
            || (rc = lk_jget_u64(c, s, p, LK_KEY_COUNT, false, LK_MAX_COUNT, 1, &f->count)) < 0
            || (rc = lk_jget_u64(c, s, p, LK_KEY_FIRST_UPTIME_NS, false, INT64_MAX, 0,
                                 &f->first_uptime_ns)) < 0
            || (rc = lk_jget_u64(c, s, p, LK_KEY_LAST_UPTIME_NS, false, INT64_MAX, 0,
                                 &f->last_uptime_ns)) < 0
            || (rc = lk_jget_u64(c, s, p, LK_KEY_LIVE_BYTES_AT, false, LK_MAX_COUNT, 0,
                                 &f->live_bytes_at_first)) < 0)
            return rc;
        f->kind = (lk_failure_kind_t)kind;
    }
    return 0;
}

/* timeline.sites: each entry a site of the dump's stacks, once, with
 * live_bytes as long as the other columns (null: not sampled then). */
static int load_timeline_sites(ctx_t *c, json_t *tl, lk_dump_t *d, const id_idx_t *ids)
{
    json_t *arr, *s;
    size_t i;
    void *vec;
    lk_timeline_t *t = &d->timeline;
    int rc = lk_jget_array(c, tl, LK_KEY_TIMELINE, LK_KEY_TL_SITES, false, sizeof(lk_tl_site_t),
                           &arr, &vec, &t->nsites);
    t->sites = vec;
    if (rc < 0 || arr == NULL)
        return rc;
    if (t->nsites > LK_TL_MAX_SITES)
        return lk_jfail(c, LK_KEY_TIMELINE "." LK_KEY_TL_SITES, "%zu entries, more than %d",
                        t->nsites, LK_TL_MAX_SITES);
    json_array_foreach(arr, i, s) {
        char p[64], q[160];
        lk_tl_site_t *st = &t->sites[i];
        json_t *lb, *v;
        size_t j;
        snprintf(p, sizeof(p), "%s.%s[%zu]", LK_KEY_TIMELINE, LK_KEY_TL_SITES, i);
        if (!json_is_object(s))
            return lk_jfail(c, p, "expected object, got %s", lk_jtype_name(s));
        if ((rc = find_stack(c, ids, d->nstacks, s, p, LK_KEY_STACK, &st->stack_idx)) < 0
            || (rc = parse_family(c, s, p, LK_KEY_FAMILY, &st->family)) < 0
            || (rc = lk_jget(c, s, p, LK_KEY_TL_LIVE_BYTES, JSON_ARRAY, true, false, &lb)) < 0)
            return rc;
        st->stack_id = d->stacks[st->stack_idx].id;
        for (size_t k = 0; k < i; k++)
            if (t->sites[k].stack_id == st->stack_id && t->sites[k].family == st->family)
                return lk_jfail(c, p, "same stack %" PRIu64 " and family as entry %zu",
                                st->stack_id, k);
        snprintf(q, sizeof(q), "%s.%s", p, LK_KEY_TL_LIVE_BYTES);
        if (json_array_size(lb) != t->n)
            return lk_jfail(c, q, "length %zu differs from the other columns (%zu)",
                            json_array_size(lb), t->n);
        if ((st->live_bytes = calloc(t->n + 1, sizeof(uint64_t))) == NULL)
            return -ENOMEM;
        json_array_foreach(lb, j, v) {
            if (json_is_null(v)) {
                st->live_bytes[j] = LK_TL_ABSENT;
                continue;
            }
            snprintf(q, sizeof(q), "%s.%s[%zu]", p, LK_KEY_TL_LIVE_BYTES, j);
            if ((rc = lk_jcheck_u64(c, q, v, LK_MAX_COUNT, &st->live_bytes[j])) < 0)
                return rc;
        }
    }
    return 0;
}

static int load_timeline(ctx_t *c, json_t *root, lk_dump_t *d, const id_idx_t *ids)
{
    json_t *tl;
    int rc = lk_jget(c, root, "", LK_KEY_TIMELINE, JSON_OBJECT, false, true, &tl);
    if (rc < 0 || tl == NULL)
        return rc;
    struct { const char *key; uint64_t **out; } cols[] = {
        { LK_KEY_TL_UPTIME_NS, &d->timeline.uptime_ns },
        { LK_KEY_TL_LIVE_BYTES, &d->timeline.live_bytes },
        { LK_KEY_TL_RSS_BYTES, &d->timeline.rss_bytes },
        { LK_KEY_TL_ALLOCS, &d->timeline.allocs },
        { LK_KEY_TL_FREES, &d->timeline.frees },
    };
    size_t n = 0;
    bool first = true;
    for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++) {
        json_t *arr, *v;
        size_t i;
        char p[96];
        snprintf(p, sizeof(p), "%s", LK_KEY_TIMELINE);
        if ((rc = lk_jget(c, tl, p, cols[k].key, JSON_ARRAY, false, false, &arr)) < 0)
            return rc;
        if (arr == NULL)
            continue;
        if (first) {
            n = json_array_size(arr);
            first = false;
        } else if (json_array_size(arr) != n) {
            snprintf(p, sizeof(p), "%s.%s", LK_KEY_TIMELINE, cols[k].key);
            return lk_jfail(c, p, "length %zu differs from the other columns (%zu)",
                            json_array_size(arr), n);
        }
        if (n == 0)
            continue;
        if ((*cols[k].out = calloc(n, sizeof(uint64_t))) == NULL)
            return -ENOMEM;
        json_array_foreach(arr, i, v) {
            snprintf(p, sizeof(p), "%s.%s[%zu]", LK_KEY_TIMELINE, cols[k].key, i);
            if ((rc = lk_jcheck_u64(c, p, v, INT64_MAX, &(*cols[k].out)[i])) < 0)
                return rc;
        }
    }
    d->timeline.n = n;
    /* Absent columns read as zeros, so every pointer is valid for n. */
    for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++)
        if (*cols[k].out == NULL && n > 0 && (*cols[k].out = calloc(n, sizeof(uint64_t))) == NULL)
            return -ENOMEM;
    return load_timeline_sites(c, tl, d, ids);
}

static int load_header(ctx_t *c, json_t *root, lk_dump_t *d)
{
    json_t *v, *proc, *dump, *o;
    uint64_t u;
    int rc, trig;

    if ((rc = lk_jget(c, root, "", LK_KEY_FORMAT, JSON_STRING, true, false, &v)) < 0)
        return rc;
    if (strcmp(json_string_value(v), LIBLEAK_DUMP_FORMAT) != 0)
        return lk_jfail(c, LK_KEY_FORMAT, "not a libleak dump (format \"%.40s\", expected \"%s\")",
                        json_string_value(v), LIBLEAK_DUMP_FORMAT);
    if ((rc = lk_jget_u64(c, root, "", LK_KEY_VERSION, true, INT32_MAX, 0, &u)) < 0)
        return rc;
    if (u > LIBLEAK_DUMP_VERSION)
        return lk_jfail(c, NULL, "dump format version %" PRIu64 " is newer than this leak-analyze "
                        "supports (version %d); upgrade leak-analyze", u, LIBLEAK_DUMP_VERSION);
    if (u < 1)
        return lk_jfail(c, LK_KEY_VERSION, "invalid version 0");
    d->version = (int)u;

    if ((rc = lk_jget(c, root, "", LK_KEY_PROCESS, JSON_OBJECT, true, false, &proc)) < 0)
        return rc;
    if ((rc = lk_jget_u64(c, proc, LK_KEY_PROCESS, LK_KEY_PID, true, LK_MAX_PID, 0, &u)) < 0)
        return rc;
    if (u == 0)
        return lk_jfail(c, LK_KEY_PROCESS "." LK_KEY_PID, "invalid pid 0");
    d->pid = (int)u;
    if ((rc = lk_jget_u64(c, proc, LK_KEY_PROCESS, LK_KEY_PPID, false, LK_MAX_PID, 0, &u)) < 0)
        return rc;
    d->ppid = (int)u;
    if ((rc = get_text(c, proc, LK_KEY_PROCESS, LK_KEY_EXE, &d->exe)) < 0
        || (rc = lk_jget_u64(c, proc, LK_KEY_PROCESS, LK_KEY_START_UNIX_MS, false, INT64_MAX, 0,
                             &d->start_unix_ms)) < 0)
        return rc;
    if ((rc = get_name(c, proc, d)) < 0)
        return rc;

    if ((rc = lk_jget(c, root, "", LK_KEY_DUMP, JSON_OBJECT, false, false, &dump)) < 0)
        return rc;
    if (dump != NULL) {
        if ((rc = lk_jget_u64(c, dump, LK_KEY_DUMP, LK_KEY_SEQ, false, INT64_MAX, 0, &d->seq)) < 0
            || (rc = lk_jget_name(c, dump, LK_KEY_DUMP, LK_KEY_TRIGGER, false, trigger_names,
                                  NNAMES(trigger_names), LK_TRIGGER_EXIT, &trig)) < 0
            || (rc = get_text(c, dump, LK_KEY_DUMP, LK_KEY_LABEL, &d->label)) < 0
            || (rc = lk_jget_u64(c, dump, LK_KEY_DUMP, LK_KEY_UNIX_MS, false, INT64_MAX, 0,
                                 &d->unix_ms)) < 0
            || (rc = lk_jget_u64(c, dump, LK_KEY_DUMP, LK_KEY_UPTIME_NS, false, INT64_MAX, 0,
                                 &d->uptime_ns)) < 0
            || (rc = lk_jget_u64(c, dump, LK_KEY_DUMP, LK_KEY_RSS_BYTES, false, LK_MAX_COUNT, 0,
                                 &d->rss_bytes)) < 0
            || (rc = lk_jget_u64(c, dump, LK_KEY_DUMP, LK_KEY_IMAGE_ID, false, INT64_MAX,
                                 UINT64_MAX, &d->image_id)) < 0
            || (rc = lk_jget_u64(c, dump, LK_KEY_DUMP, LK_KEY_FORK_UPTIME_NS, false, INT64_MAX,
                                 UINT64_MAX, &d->fork_uptime_ns)) < 0)
            return rc;
        d->trigger = (lk_trigger_t)trig;
        /* absent: the default, which no valid value (at most INT64_MAX) is */
        d->has_image_id = d->image_id != UINT64_MAX;
        d->has_fork_uptime = d->fork_uptime_ns != UINT64_MAX;
    }

    if ((rc = lk_jget(c, root, "", LK_KEY_CONFIG, JSON_OBJECT, false, false, &o)) < 0)
        return rc;
    if (o != NULL
        && ((rc = lk_jget_u64(c, o, LK_KEY_CONFIG, LK_KEY_MAX_DEPTH, false, LK_MAX_FRAMES, 0,
                              &d->max_depth)) < 0
            || (rc = lk_jget_u64(c, o, LK_KEY_CONFIG, LK_KEY_SAMPLE_BYTES, false,
                                 LIBLEAK_SAMPLE_BYTES_MAX, 0, &d->sample_bytes)) < 0))
        return rc;

    if ((rc = lk_jget(c, root, "", LK_KEY_LIMITS, JSON_OBJECT, false, false, &o)) < 0)
        return rc;
    if (o != NULL) {
        lk_limits_t *l = &d->limits;
        bool has;
        if ((rc = get_limit(c, o, LK_KEY_LIMITS, LK_KEY_RLIMIT_AS, &l->has_rlimit_as,
                            &l->rlimit_as_bytes)) < 0
            || (rc = get_limit(c, o, LK_KEY_LIMITS, LK_KEY_RLIMIT_DATA, &l->has_rlimit_data,
                               &l->rlimit_data_bytes)) < 0
            || (rc = get_limit(c, o, LK_KEY_LIMITS, LK_KEY_CGROUP_MAX, &l->has_cgroup_max,
                               &l->cgroup_max_bytes)) < 0
            || (rc = get_limit(c, o, LK_KEY_LIMITS, LK_KEY_PHYS, &has, &l->phys_bytes)) < 0
            || (rc = get_limit(c, o, LK_KEY_LIMITS, LK_KEY_EFFECTIVE, &has,
                               &l->effective_bytes)) < 0)
            return rc;
        uint64_t cgv;
        if ((rc = get_limit(c, o, LK_KEY_LIMITS, LK_KEY_CGROUP_VERSION, &has, &cgv)) < 0)
            return rc;
        if (has && cgv != 1 && cgv != 2) {
            char q[160];
            return lk_jfail(c, lk_jpath(q, sizeof(q), LK_KEY_LIMITS, LK_KEY_CGROUP_VERSION),
                            "expected 1, 2 or null, got %" PRIu64, cgv);
        }
        l->cgroup_version = (int)cgv;
    }

    if ((rc = lk_jget(c, root, "", LK_KEY_TOTALS, JSON_OBJECT, false, false, &o)) < 0)
        return rc;
    d->totals.complete = true;
    if (o != NULL) {
        lk_totals_t *t = &d->totals;
        struct { const char *key; uint64_t *out; } f[] = {
            { LK_KEY_LIVE_BYTES, &t->live_bytes }, { LK_KEY_LIVE_BLOCKS, &t->live_blocks },
            { LK_KEY_PEAK_LIVE_BYTES, &t->peak_live_bytes },
            { LK_KEY_ALLOC_COUNT, &t->alloc_count }, { LK_KEY_ALLOC_BYTES, &t->alloc_bytes },
            { LK_KEY_FREE_COUNT, &t->free_count }, { LK_KEY_FAILED_COUNT, &t->failed_count },
            { LK_KEY_UNTRACKED_FREES, &t->untracked_frees },
            { LK_KEY_MISMATCHED_FREES, &t->mismatched_frees },
            { LK_KEY_DROPPED_EVENTS, &t->dropped_events },
            { LK_KEY_INHERITED_BLOCKS, &t->inherited_blocks },
            { LK_KEY_INHERITED_BYTES, &t->inherited_bytes },
        };
        for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
            if ((rc = lk_jget_u64(c, o, LK_KEY_TOTALS, f[k].key, false, LK_MAX_COUNT, 0,
                                  f[k].out)) < 0)
                return rc;
        if ((rc = lk_jget_bool(c, o, LK_KEY_TOTALS, LK_KEY_COMPLETE, false, true,
                               &t->complete)) < 0)
            return rc;
        if ((rc = lk_jget_u64(c, o, LK_KEY_TOTALS, LK_KEY_INHERITED_FROM, false, INT32_MAX, 0,
                              &t->inherited_from_pid)) < 0)
            return rc;
    }
    /* cost: only the unwind fallbacks matter here (a warning when many) */
    if ((rc = lk_jget(c, root, "", LK_KEY_COST, JSON_OBJECT, false, false, &o)) < 0)
        return rc;
    if (o != NULL && (rc = lk_jget_u64(c, o, LK_KEY_COST, LK_KEY_UNWINDS_FALLBACK, false,
                                       LK_MAX_COUNT, 0, &d->totals.unwinds_fallback)) < 0)
        return rc;
    return 0;
}

int lk_load_buffer(const char *name, const char *buf, size_t len, lk_dump_t **out,
                   char *err, size_t errlen)
{
    ctx_t c = { .name = name, .err = err, .errlen = errlen };
    json_error_t jerr;
    id_idx_t *ids = NULL;
    int rc;

    *out = NULL;
    if (len == 0)
        return lk_jfail(&c, NULL, "empty file");
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return lk_jfail(&c, NULL, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                        jerr.column);
    lk_dump_t *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        rc = -ENOMEM;
        goto out_root;
    }
    if (!json_is_object(root)) {
        rc = lk_jfail(&c, NULL, "expected a JSON object at top level, got %s", lk_jtype_name(root));
        goto out_dump;
    }
    if ((rc = load_header(&c, root, d)) < 0 || (rc = load_modules(&c, root, d)) < 0
        || (rc = load_stacks(&c, root, d, &ids)) < 0 || (rc = load_sites(&c, root, d, ids)) < 0
        || (rc = load_mismatches(&c, root, d, ids)) < 0
        || (rc = load_failures(&c, root, d, ids)) < 0 || (rc = load_timeline(&c, root, d, ids)) < 0
        || (rc = load_crash(&c, root, d, ids)) < 0)
        goto out_dump;
    json_t *reach = json_object_get(root, LK_KEY_REACH);
    if (reach != NULL && !json_is_null(reach))
        d->reach_json = json_incref(reach);
    if ((rc = lk_reach_parse(name, d, err, errlen)) < 0)
        goto out_dump;
    if ((d->file = strdup(name)) == NULL) {
        rc = -ENOMEM;
        goto out_dump;
    }
    free(ids);
    json_decref(root);
    *out = d;
    return 0;

out_dump:
    if (rc == -ENOMEM)
        lk_jfail(&c, NULL, "out of memory");
    free(ids);
    lk_dump_free(d);
out_root:
    json_decref(root);
    return rc;
}

/* ### files and directories */

static int add_dump(lk_input_t *in, lk_dump_t *d)
{
    lk_dump_t **nv = realloc(in->dumps, (in->ndumps + 1) * sizeof(*nv));
    if (nv == NULL)
        return -ENOMEM;
    in->dumps = nv;
    nv[in->ndumps++] = d;
    return 0;
}

static int load_file(lk_input_t *in, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    /* O_NONBLOCK: a FIFO given by mistake must not hang us before the
     * regular-file check below. */
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return rc;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        rc = -EINVAL;
        goto out_close;
    }
    if ((uint64_t)sb.st_size > MAX_DUMP_FILE_BYTES) {
        snprintf(err, errlen, "%s: absurd size %lld bytes for a dump", path,
                 (long long)sb.st_size);
        rc = -EINVAL;
        goto out_close;
    }
    size_t len = (size_t)sb.st_size, got = 0;
    char *buf = malloc(len + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -ENOMEM;
        goto out_close;
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
            goto out_free;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    lk_dump_t *d;
    if ((rc = lk_load_buffer(path, buf, got, &d, err, errlen)) < 0)
        goto out_free;
    if ((rc = add_dump(in, d)) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        lk_dump_free(d);
    }
out_free:
    free(buf);
out_close:
    close(fd);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

int lk_load_path(lk_input_t *in, const char *path, char *err, size_t errlen)
{
    struct stat sb;

    if (stat(path, &sb) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
        return -e;
    }
    if (!S_ISDIR(sb.st_mode))
        return load_file(in, path, err, errlen);

    DIR *dir = opendir(path);
    if (dir == NULL) {
        int e = errno;
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
        return -e;
    }
    char **names = NULL;
    size_t n = 0, i;
    int rc = 0;
    struct dirent *de;
    size_t not_regular = 0;
    while ((de = readdir(dir)) != NULL) {
        const char *nm = de->d_name;
        bool dumpish = strncmp(nm + (nm[0] == '.'), LIBLEAK_DUMP_PREFIX ".",
                               strlen(LIBLEAK_DUMP_PREFIX) + 1) == 0;
        struct stat lsb;
        /* Only the regular files: the directory may be shared, and a
         * symlink or FIFO planted under a dump's name is not a dump (a FIFO
         * would wait for a writer). */
        if (dumpish && (fstatat(dirfd(dir), nm, &lsb, AT_SYMLINK_NOFOLLOW) != 0
                        || !S_ISREG(lsb.st_mode))) {
            not_regular++;
            continue;
        }
        if (nm[0] == '.' && strncmp(nm + 1, LIBLEAK_DUMP_PREFIX ".", strlen(LIBLEAK_DUMP_PREFIX) + 1) == 0
            && has_suffix(nm, ".tmp")) {
            char msg[768];
            snprintf(msg, sizeof(msg), "%s/%s: unfinished dump (the process died while "
                     "writing it); ignored", path, nm);
            lk_print_line(stderr, "leak-analyze: warning: ", msg);
            continue;
        }
        if (strncmp(nm, LIBLEAK_DUMP_PREFIX ".", strlen(LIBLEAK_DUMP_PREFIX) + 1) != 0
            || !has_suffix(nm, LIBLEAK_DUMP_SUFFIX))
            continue;
        char **nv = realloc(names, (n + 1) * sizeof(*nv));
        if (nv == NULL || asprintf(&nv[n], "%s/%s", path, nm) < 0) {
            names = nv != NULL ? nv : names;
            rc = -ENOMEM;
            snprintf(err, errlen, "%s: out of memory", path);
            break;
        }
        names = nv;
        n++;
    }
    closedir(dir);
    if (not_regular > 0)
        fprintf(stderr, "leak-analyze: warning: %s: %zu entries named like dumps are not "
                "regular files (symlinks, FIFOs); ignored\n", path, not_regular);
    if (rc == 0 && n == 0) {
        snprintf(err, errlen, "%s: no libleak dumps (%s.*%s) in this directory", path,
                 LIBLEAK_DUMP_PREFIX, LIBLEAK_DUMP_SUFFIX);
        rc = -ENOENT;
    }
    if (rc == 0)
        qsort(names, n, sizeof(*names), cmp_str);
    for (i = 0; i < n; i++) {
        if (rc == 0)
            rc = load_file(in, names[i], err, errlen);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int cmp_dump(const void *a, const void *b)
{
    const lk_dump_t *x = *(lk_dump_t *const *)a, *y = *(lk_dump_t *const *)b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->has_image_id && y->has_image_id) {
        if (x->image_id != y->image_id)
            return x->image_id < y->image_id ? -1 : 1;
    } else if (x->start_unix_ms != y->start_unix_ms) {
        return x->start_unix_ms < y->start_unix_ms ? -1 : 1;
    }
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->file, y->file);
}

/* Do 'a' and 'b' name the same executable (both unknown counts as same)?
 * The dump reads /proc/self/exe each time, which gains " (deleted)" once
 * the file is replaced on disk (an upgrade while the program runs). */
static bool same_exe(const lk_dump_t *a, const lk_dump_t *b)
{
    static const char deleted[] = " (deleted)";
    if (a->exe == NULL || b->exe == NULL)
        return a->exe == b->exe;
    size_t la = strlen(a->exe), lb = strlen(b->exe), ld = sizeof(deleted) - 1;
    if (la >= ld && strcmp(a->exe + la - ld, deleted) == 0)
        la -= ld;
    if (lb >= ld && strcmp(b->exe + lb - ld, deleted) == 0)
        lb -= ld;
    return la == lb && memcmp(a->exe, b->exe, la) == 0;
}

/* Are 'a' and 'b' (of one pid) dumps of the same program image? */
static bool same_image(const lk_dump_t *a, const lk_dump_t *b)
{
    if (a->has_image_id && b->has_image_id)
        return a->image_id == b->image_id;
    return a->start_unix_ms == b->start_unix_ms && same_exe(a, b);
}

int lk_input_group(lk_input_t *in, char *err, size_t errlen)
{
    size_t i, j;

    if (in->ndumps == 0) {
        snprintf(err, errlen, "no dumps to analyze");
        return -EINVAL;
    }
    qsort(in->dumps, in->ndumps, sizeof(*in->dumps), cmp_dump);
    free(in->procs);
    in->procs = NULL;
    in->nprocs = 0;
    /* One process is one program image: an exec keeps the pid but starts
     * libleak again (a new image id, start time and usually executable).
     * A dump without an image id (older ones) is told by the other two: a
     * change of either one starts a new process. */
    for (i = 0; i < in->ndumps; i = j) {
        for (j = i + 1; j < in->ndumps; j++)
            if (in->dumps[j]->pid != in->dumps[i]->pid
                || !same_image(in->dumps[j], in->dumps[i]))
                break;
        lk_process_t *nv = realloc(in->procs, (in->nprocs + 1) * sizeof(*nv));
        if (nv == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        in->procs = nv;
        lk_process_t *p = &nv[in->nprocs++];
        p->pid = in->dumps[i]->pid;
        p->image = in->nprocs > 1 && nv[in->nprocs - 2].pid == p->pid
                       ? nv[in->nprocs - 2].image + 1 : 0;
        p->ppid = in->dumps[i]->ppid;
        p->start_unix_ms = in->dumps[i]->start_unix_ms;
        p->dumps = &in->dumps[i];
        p->ndumps = j - i;
        for (size_t k = i; k < j; k++)
            in->dumps[k]->image = p->image;
        for (size_t k = i + 1; k < j; k++)
            if (in->dumps[k]->seq == in->dumps[k - 1]->seq) {
                char msg[768];
                snprintf(msg, sizeof(msg), "%s and %s: both are dump %" PRIu64 " of process "
                         "%d; using the latter as the later one", in->dumps[k - 1]->file,
                         in->dumps[k]->file, in->dumps[k]->seq, in->dumps[k]->pid);
                lk_print_line(stderr, "leak-analyze: warning: ", msg);
            }
    }
    return 0;
}

void lk_dump_free(lk_dump_t *d)
{
    size_t i;

    if (d == NULL)
        return;
    free(d->file);
    free(d->exe);
    free(d->name);
    free(d->label);
    for (i = 0; i < d->nmodules; i++) {
        free(d->modules[i].path);
        free(d->modules[i].build_id);
    }
    free(d->modules);
    for (i = 0; i < d->nstacks; i++)
        free(d->stacks[i].frames);
    free(d->stacks);
    free(d->sites);
    free(d->mismatches);
    for (i = 0; i < d->nfailures; i++)
        free(d->failures[i].function);
    free(d->failures);
    free(d->timeline.uptime_ns);
    free(d->timeline.live_bytes);
    free(d->timeline.rss_bytes);
    free(d->timeline.allocs);
    free(d->timeline.frees);
    for (size_t k = 0; d->timeline.sites != NULL && k < d->timeline.nsites; k++)
        free(d->timeline.sites[k].live_bytes);
    free(d->timeline.sites);
    if (d->reach_json != NULL)
        json_decref((json_t *)d->reach_json);
    lk_reach_free(d->reach);
    free(d);
}

void lk_input_free(lk_input_t *in)
{
    for (size_t i = 0; i < in->ndumps; i++)
        lk_dump_free(in->dumps[i]);
    free(in->dumps);
    free(in->procs);
    in->dumps = NULL;
    in->procs = NULL;
    in->ndumps = in->nprocs = 0;
}
