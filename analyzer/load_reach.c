/* load_reach.c - the loader's part for a dump's "reachability" object
 * (docs/FORMAT.md "Reachability"): parse and validate it into lk_reach_t
 * with the loader's one-line error contract.  Never crashes on any input:
 * the loader runs it on fuzzed dumps. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonget.h"
#include "model.h"

static const char *const root_names[] = LK_REACH_ROOT_NAMES;

typedef struct ctx {
    lk_jctx_t j;            /* errors read "file: reachability.path: problem" */
    const lk_dump_t *d;
    uint64_t *ids;          /* d->stacks ids, sorted, with their indexes */
    size_t *idx;
} ctx_t;

/* Thin adapters onto jsonget.c: the reachability object has no nullable
 * keys, and every count is bounded by LK_MAX_COUNT. */
#define fail(c, ...) lk_jfail(&(c)->j, __VA_ARGS__)
#define type_name lk_jtype_name

static int get(ctx_t *c, json_t *obj, const char *at, const char *key, json_type type,
               bool required, json_t **out)
{
    return lk_jget(&c->j, obj, at, key, type, required, false, out);
}

/* A count in [0, LK_MAX_COUNT]; absent leaves 0 unless required. */
static int get_count(ctx_t *c, json_t *obj, const char *at, const char *key, bool required,
                     uint64_t *out)
{
    return lk_jget_u64(&c->j, obj, at, key, required, LK_MAX_COUNT, 0, out);
}

static int get_bool(ctx_t *c, json_t *obj, const char *at, const char *key, bool required,
                    bool def, bool *out)
{
    return lk_jget_bool(&c->j, obj, at, key, required, def, out);
}

static int get_name(ctx_t *c, json_t *obj, const char *at, const char *key,
                    const char *const *names, size_t n, int *out)
{
    return lk_jget_name(&c->j, obj, at, key, true, names, n, 0, out);
}

static const char *const family_names[] = LK_FAMILY_NAMES;
static const char *const reach_kind_names[] = LK_REACH_KIND_NAMES;
#define NNAMES(t) (sizeof(t) / sizeof(t[0]))

static int get_family(ctx_t *c, json_t *obj, const char *at, const char *key,
                      lk_family_t *out)
{
    int v = 0;
    int rc = get_name(c, obj, at, key, family_names, NNAMES(family_names), &v);
    *out = (lk_family_t)v;
    return rc;
}

/* The dump's kinds (dump.h order) -> the report's lk_kind_t. */
static lk_kind_t kind_of(int reach_kind)
{
    return (lk_kind_t)(LK_KIND_DEFINITE + reach_kind);
}

static int get_kind(ctx_t *c, json_t *obj, const char *at, lk_kind_t *out)
{
    int v = 0;
    int rc = get_name(c, obj, at, LK_KEY_REACH_KIND, reach_kind_names,
                      NNAMES(reach_kind_names), &v);
    *out = kind_of(v);
    return rc;
}

/* Resolve stack id 'key' of 'obj' to its index in d->stacks. */
static int get_stack(ctx_t *c, json_t *obj, const char *at, const char *key, uint64_t *id,
                     size_t *idx)
{
    char p[160];
    json_t *v;
    int rc = get(c, obj, at, key, JSON_INTEGER, true, &v);
    if (rc < 0)
        return rc;
    snprintf(p, sizeof(p), "%s.%s", at, key);
    json_int_t i = json_integer_value(v);
    if (i < 0)
        return fail(c, p, "negative value %" JSON_INTEGER_FORMAT, i);
    size_t lo = 0, hi = c->d->nstacks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->ids[mid] < (uint64_t)i)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == c->d->nstacks || c->ids[lo] != (uint64_t)i)
        return fail(c, p, "no stack with id %" JSON_INTEGER_FORMAT, i);
    *id = (uint64_t)i;
    *idx = c->idx[lo];
    return 0;
}

/* Parse a "0x..." address string. */
static int get_addr(ctx_t *c, json_t *obj, const char *at, const char *key, bool required,
                    uint64_t *out)
{
    char p[160];
    json_t *v;
    int rc = get(c, obj, at, key, JSON_STRING, required, &v);

    *out = 0;
    if (rc < 0 || v == NULL)
        return rc;
    return lk_jparse_addr(&c->j, lk_jpath(p, sizeof(p), at, key), v, out);
}

/* {count, blocks, bytes} at 'key' (optional object). */
static int get_sum(ctx_t *c, json_t *obj, const char *key, lk_reach_sum_t *out)
{
    json_t *o;
    int rc = get(c, obj, "", key, JSON_OBJECT, false, &o);

    memset(out, 0, sizeof(*out));
    if (rc < 0 || o == NULL)
        return rc;
    if ((rc = get_count(c, o, key, LK_KEY_REACH_COUNT, false, &out->count)) < 0
        || (rc = get_count(c, o, key, LK_KEY_REACH_BLOCKS, false, &out->blocks)) < 0)
        return rc;
    return get_count(c, o, key, LK_KEY_REACH_BYTES, false, &out->bytes);
}

/* Fetch required array 'key' and allocate 'elem' bytes per entry. */
/* Fetch required array 'key' of at most 'max' entries (dump.h limits: the
 * passes over them need not be n log n) and allocate 'elem' bytes each. */
static int get_array(ctx_t *c, json_t *obj, const char *at, const char *key, size_t max,
                     size_t elem, json_t **arr, void **vec, size_t *n)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_array(v) && json_array_size(v) > max) {
        char p[128];
        return fail(c, lk_jpath(p, sizeof(p), at, key), "%zu entries (a dump holds at most %zu)",
                    json_array_size(v), max);
    }
    return lk_jget_array(&c->j, obj, at, key, true, elem, arr, vec, n);
}

static int expect_object(ctx_t *c, const char *at, json_t *v)
{
    return json_is_object(v) ? 0 : fail(c, at, "expected object, got %s", type_name(v));
}

static int parse_kinds(ctx_t *c, json_t *sec, lk_reach_t *r)
{
    json_t *o;
    int rc = get(c, sec, "", LK_KEY_REACH_KINDS, JSON_OBJECT, true, &o);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < NNAMES(reach_kind_names); k++) {
        char at[64];
        json_t *ko;
        snprintf(at, sizeof(at), "%s", LK_KEY_REACH_KINDS);
        if ((rc = get(c, o, at, reach_kind_names[k], JSON_OBJECT, true, &ko)) < 0)
            return rc;
        snprintf(at, sizeof(at), "%s.%s", LK_KEY_REACH_KINDS, reach_kind_names[k]);
        lk_reach_sum_t *s = &r->kinds[kind_of((int)k)];
        if ((rc = get_count(c, ko, at, LK_KEY_REACH_BLOCKS, true, &s->blocks)) < 0
            || (rc = get_count(c, ko, at, LK_KEY_REACH_BYTES, true, &s->bytes)) < 0)
            return rc;
    }
    return 0;
}

static int parse_sites(ctx_t *c, json_t *sec, lk_reach_t *r)
{
    json_t *arr, *s;
    size_t i;
    int rc = get_array(c, sec, "", LK_KEY_REACH_SITES, SIZE_MAX, sizeof(*r->sites), &arr,
                       (void **)&r->sites, &r->nsites);
    if (rc < 0)
        return rc;
    json_array_foreach(arr, i, s) {
        char at[64];
        lk_reach_site_t *x = &r->sites[i];
        snprintf(at, sizeof(at), "%s[%zu]", LK_KEY_REACH_SITES, i);
        if ((rc = expect_object(c, at, s)) < 0
            || (rc = get_stack(c, s, at, LK_KEY_STACK, &x->stack_id, &x->stack_idx)) < 0
            || (rc = get_family(c, s, at, LK_KEY_FAMILY, &x->family)) < 0
            || (rc = get_kind(c, s, at, &x->kind)) < 0
            || (rc = get_count(c, s, at, LK_KEY_REACH_BLOCKS, true, &x->blocks)) < 0
            || (rc = get_count(c, s, at, LK_KEY_REACH_BYTES, true, &x->bytes)) < 0)
            return rc;
    }
    return 0;
}

static int parse_members(ctx_t *c, json_t *st, const char *sat, lk_reach_struct_t *x)
{
    json_t *arr, *m;
    size_t i;
    int rc = get_array(c, st, sat, LK_KEY_REACH_MEMBERS, LIBLEAK_REACH_MAX_MEMBERS + 1,
                       sizeof(*x->members), &arr,
                       (void **)&x->members, &x->nmembers);
    if (rc < 0)
        return rc;
    json_array_foreach(arr, i, m) {
        char at[96];
        lk_reach_member_t *y = &x->members[i];
        snprintf(at, sizeof(at), "%s.%s[%zu]", sat, LK_KEY_REACH_MEMBERS, i);
        if ((rc = expect_object(c, at, m)) < 0)
            return rc;
        /* The summed rest beyond 64 members has a null stack and family. */
        json_t *sv = json_object_get(m, LK_KEY_STACK);
        y->has_stack = sv != NULL && !json_is_null(sv);
        if (y->has_stack
            && ((rc = get_stack(c, m, at, LK_KEY_STACK, &y->stack_id, &y->stack_idx)) < 0
                || (rc = get_family(c, m, at, LK_KEY_FAMILY, &y->family)) < 0))
            return rc;
        if ((rc = get_count(c, m, at, LK_KEY_REACH_BLOCKS, true, &y->blocks)) < 0
            || (rc = get_count(c, m, at, LK_KEY_REACH_BYTES, true, &y->bytes)) < 0)
            return rc;
    }
    return 0;
}

static int parse_structures(ctx_t *c, json_t *sec, lk_reach_t *r)
{
    json_t *arr, *s;
    size_t i;
    int rc = get_array(c, sec, "", LK_KEY_REACH_STRUCTURES, LIBLEAK_REACH_MAX_STRUCTURES,
                       sizeof(*r->structs), &arr,
                       (void **)&r->structs, &r->nstructs);
    if (rc < 0)
        return rc;
    json_array_foreach(arr, i, s) {
        char at[64];
        lk_reach_struct_t *x = &r->structs[i];
        snprintf(at, sizeof(at), "%s[%zu]", LK_KEY_REACH_STRUCTURES, i);
        if ((rc = expect_object(c, at, s)) < 0
            || (rc = get_stack(c, s, at, LK_KEY_REACH_HEAD_STACK, &x->head_stack_id,
                               &x->head_stack_idx)) < 0
            || (rc = get_family(c, s, at, LK_KEY_REACH_HEAD_FAMILY, &x->head_family)) < 0
            || (rc = get_bool(c, s, at, LK_KEY_REACH_CYCLE, true, false, &x->cycle)) < 0
            || (rc = get_bool(c, s, at, LK_KEY_REACH_HEAD_IN_CYCLE, false, false,
                              &x->head_in_cycle)) < 0
            || (rc = get_count(c, s, at, LK_KEY_REACH_COUNT, true, &x->count)) < 0
            || (rc = get_count(c, s, at, LK_KEY_REACH_BLOCKS, true, &x->blocks)) < 0
            || (rc = get_count(c, s, at, LK_KEY_REACH_BYTES, true, &x->bytes)) < 0
            || (rc = parse_members(c, s, at, x)) < 0)
            return rc;
        json_t *v;
        if ((rc = get(c, s, at, LK_KEY_REACH_RETAINED_BYTES, JSON_INTEGER, false, &v)) < 0)
            return rc;
        if (v != NULL
            && ((rc = get_count(c, s, at, LK_KEY_REACH_RETAINED_BLOCKS, true,
                                &x->retained_blocks)) < 0
                || (rc = get_count(c, s, at, LK_KEY_REACH_RETAINED_BYTES, true,
                                   &x->retained_bytes)) < 0))
            return rc;
        x->has_retained = v != NULL;
    }
    return 0;
}

static int parse_held(ctx_t *c, json_t *sec, lk_reach_t *r)
{
    json_t *arr, *h;
    size_t i;
    int rc = get_array(c, sec, "", LK_KEY_REACH_HELD_BY, LIBLEAK_REACH_MAX_HELD_BY,
                       sizeof(*r->held), &arr,
                       (void **)&r->held, &r->nheld);
    if (rc < 0)
        return rc;
    json_array_foreach(arr, i, h) {
        char at[64];
        int root = 0;
        json_t *v;
        lk_reach_held_t *x = &r->held[i];
        x->tid = -1;
        snprintf(at, sizeof(at), "%s[%zu]", LK_KEY_REACH_HELD_BY, i);
        if ((rc = expect_object(c, at, h)) < 0
            || (rc = get_name(c, h, at, LK_KEY_REACH_ROOT, root_names, NNAMES(root_names),
                              &root)) < 0
            || (rc = get_kind(c, h, at, &x->kind)) < 0
            || (rc = get_stack(c, h, at, LK_KEY_STACK, &x->stack_id, &x->stack_idx)) < 0
            || (rc = get_family(c, h, at, LK_KEY_FAMILY, &x->family)) < 0
            || (rc = get_count(c, h, at, LK_KEY_REACH_BLOCKS, true, &x->blocks)) < 0
            || (rc = get_count(c, h, at, LK_KEY_REACH_BYTES, true, &x->bytes)) < 0)
            return rc;
        x->root = (lk_root_t)root;
        if (x->kind != LK_KIND_REACHABLE && x->kind != LK_KIND_POSSIBLE) {
            char p[96];
            snprintf(p, sizeof(p), "%s.%s", at, LK_KEY_REACH_KIND);
            return fail(c, p, "expected reachable or possible, got %s", lk_kind_name(x->kind));
        }
        if (x->root == LK_ROOT_GLOBAL) {
            if ((rc = get(c, h, at, LK_KEY_REACH_MODULE, JSON_STRING, true, &v)) < 0
                || (rc = get_addr(c, h, at, LK_KEY_REACH_OFFSET, true, &x->offset)) < 0
                || (rc = get_addr(c, h, at, LK_KEY_REACH_ADDRESS, false, &x->address)) < 0)
                return rc;
            if ((x->module = strdup(json_string_value(v))) == NULL)
                return -ENOMEM;
        } else {
            uint64_t tid;
            if ((rc = get(c, h, at, LK_KEY_REACH_TID, JSON_INTEGER, false, &v)) < 0
                || (v != NULL
                    && (rc = get_count(c, h, at, LK_KEY_REACH_TID, true, &tid)) < 0))
                return rc;
            if (v != NULL) {
                if (tid > LK_MAX_PID) {
                    char p[96];
                    snprintf(p, sizeof(p), "%s.%s", at, LK_KEY_REACH_TID);
                    return fail(c, p, "absurd thread id %" PRIu64, tid);
                }
                x->tid = (int64_t)tid;
            }
        }
    }
    return 0;
}

/* The root of a retained_by[] entry: named as held_by[] names it. */
static int parse_root(ctx_t *c, json_t *h, const char *at, lk_root_t *root, char **module,
                      uint64_t *address, uint64_t *offset, int64_t *tid)
{
    int rc, k = 0;
    json_t *v;
    *tid = -1;
    if ((rc = get_name(c, h, at, LK_KEY_REACH_ROOT, root_names, NNAMES(root_names), &k)) < 0)
        return rc;
    *root = (lk_root_t)k;
    if (*root == LK_ROOT_GLOBAL) {
        if ((rc = get(c, h, at, LK_KEY_REACH_MODULE, JSON_STRING, true, &v)) < 0
            || (rc = get_addr(c, h, at, LK_KEY_REACH_OFFSET, true, offset)) < 0
            || (rc = get_addr(c, h, at, LK_KEY_REACH_ADDRESS, false, address)) < 0)
            return rc;
        return (*module = strdup(json_string_value(v))) == NULL ? -ENOMEM : 0;
    }
    uint64_t t;
    if ((rc = get(c, h, at, LK_KEY_REACH_TID, JSON_INTEGER, false, &v)) < 0
        || (v != NULL && (rc = get_count(c, h, at, LK_KEY_REACH_TID, true, &t)) < 0))
        return rc;
    if (v != NULL) {
        if (t > LK_MAX_PID) {
            char p[96];
            snprintf(p, sizeof(p), "%s.%s", at, LK_KEY_REACH_TID);
            return fail(c, p, "absurd thread id %" PRIu64, t);
        }
        *tid = (int64_t)t;
    }
    return 0;
}

/* {blocks, bytes} at 'key', required when 'required'. */
static int get_pair(ctx_t *c, json_t *obj, const char *key, lk_reach_sum_t *out)
{
    json_t *o;
    int rc = get(c, obj, "", key, JSON_OBJECT, true, &o);
    if (rc < 0)
        return rc;
    if ((rc = get_count(c, o, key, LK_KEY_REACH_BLOCKS, true, &out->blocks)) < 0
        || (rc = get_count(c, o, key, LK_KEY_REACH_BYTES, true, &out->bytes)) < 0)
        return rc;
    return 0;
}

/* The retained-size keys (FORMAT.md "Retained sizes"): all of them when
 * retained_complete is true, none otherwise. */
static int parse_retained(ctx_t *c, json_t *sec, lk_reach_t *r)
{
    json_t *arr, *e;
    size_t i;
    bool complete = false;
    int rc;
    if ((rc = get_bool(c, sec, "", LK_KEY_REACH_RETAINED_COMPLETE, false, false, &complete)) < 0
        || (rc = get_count(c, sec, "", LK_KEY_REACH_RETAINED_DROPPED, false,
                           &r->retained_edges_dropped)) < 0)
        return rc;
    if (!complete)
        return 0;
    if ((rc = get_count(c, sec, "", LK_KEY_REACH_RETAINED_NS, true, &r->retained_ns)) < 0
        || (rc = get_pair(c, sec, LK_KEY_REACH_RETAINED_SHARED, &r->retained_shared)) < 0
        || (rc = get_pair(c, sec, LK_KEY_REACH_LOST_SHARED, &r->lost_shared)) < 0
        || (rc = get_sum(c, sec, LK_KEY_REACH_RETAINED_BY_OMITTED, &r->retained_by_omitted)) < 0)
        return rc;
    rc = get_array(c, sec, "", LK_KEY_REACH_RETAINED_BY, LIBLEAK_REACH_MAX_RETAINED_BY,
                   sizeof(*r->retained_by), &arr, (void **)&r->retained_by, &r->nretained_by);
    if (rc < 0)
        return rc;
    json_array_foreach(arr, i, e) {
        char at[64];
        lk_reach_retained_t *x = &r->retained_by[i];
        x->tid = -1;
        snprintf(at, sizeof(at), "%s[%zu]", LK_KEY_REACH_RETAINED_BY, i);
        if ((rc = expect_object(c, at, e)) < 0
            || (rc = parse_root(c, e, at, &x->root, &x->module, &x->address, &x->offset,
                                &x->tid)) < 0
            || (rc = get_count(c, e, at, LK_KEY_REACH_BLOCKS, true, &x->blocks)) < 0
            || (rc = get_count(c, e, at, LK_KEY_REACH_BYTES, true, &x->bytes)) < 0)
            return rc;
    }
    rc = get_array(c, sec, "", LK_KEY_REACH_TOP_RETAINED, LIBLEAK_REACH_MAX_TOP_RETAINED,
                   sizeof(*r->tops), &arr, (void **)&r->tops, &r->ntops);
    if (rc < 0)
        return rc;
    json_array_foreach(arr, i, e) {
        char at[64], p[96];
        json_t *v;
        lk_reach_top_t *x = &r->tops[i];
        snprintf(at, sizeof(at), "%s[%zu]", LK_KEY_REACH_TOP_RETAINED, i);
        if ((rc = expect_object(c, at, e)) < 0
            || (rc = get_addr(c, e, at, LK_KEY_REACH_ADDRESS, true, &x->address)) < 0
            || (rc = get_stack(c, e, at, LK_KEY_STACK, &x->stack_id, &x->stack_idx)) < 0
            || (rc = get_family(c, e, at, LK_KEY_FAMILY, &x->family)) < 0
            || (rc = get_kind(c, e, at, &x->kind)) < 0
            || (rc = get_count(c, e, at, LK_KEY_REACH_BYTES, true, &x->bytes)) < 0
            || (rc = get_count(c, e, at, LK_KEY_REACH_RETAINED_BLOCKS, true,
                               &x->retained_blocks)) < 0
            || (rc = get_count(c, e, at, LK_KEY_REACH_RETAINED_BYTES, true,
                               &x->retained_bytes)) < 0
            || (rc = lk_jget(&c->j, e, at, LK_KEY_REACH_BY, JSON_INTEGER, true, true, &v)) < 0)
            return rc;
        if (x->kind != LK_KIND_REACHABLE && x->kind != LK_KIND_POSSIBLE) {
            snprintf(p, sizeof(p), "%s.%s", at, LK_KEY_REACH_KIND);
            return fail(c, p, "expected reachable or possible, got %s", lk_kind_name(x->kind));
        }
        x->by = -1;
        if (v != NULL) {
            json_int_t by = json_integer_value(v);
            snprintf(p, sizeof(p), "%s.%s", at, LK_KEY_REACH_BY);
            if (by < 0 || (uint64_t)by >= r->nretained_by)
                return fail(c, p, "index %" JSON_INTEGER_FORMAT " outside retained_by's %zu",
                            by, r->nretained_by);
            x->by = by;
        }
    }
    r->has_retained = true;
    return 0;
}

/* Sort helper for the stack-id index. */
typedef struct id_pair {
    uint64_t id;
    size_t idx;
} id_pair_t;

static int cmp_pair(const void *a, const void *b)
{
    const id_pair_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int lk_reach_parse(const char *name, lk_dump_t *d, char *err, size_t errlen)
{
    ctx_t c = { .j = { .name = name, .root = LK_KEY_REACH, .err = err, .errlen = errlen },
                .d = d };
    json_t *sec = d->reach_json;
    lk_reach_t *r;
    id_pair_t *pairs = NULL;
    int rc = -ENOMEM;

    if (sec == NULL)
        return 0;
    if (!json_is_object(sec))
        return fail(&c, "", "expected object, got %s", type_name(sec));
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return -ENOMEM;
    if (d->nstacks > 0) {
        pairs = malloc(d->nstacks * sizeof(*pairs));
        c.ids = malloc(d->nstacks * sizeof(*c.ids));
        c.idx = malloc(d->nstacks * sizeof(*c.idx));
        if (pairs == NULL || c.ids == NULL || c.idx == NULL)
            goto out;
        for (size_t i = 0; i < d->nstacks; i++)
            pairs[i] = (id_pair_t){ d->stacks[i].id, i };
        qsort(pairs, d->nstacks, sizeof(*pairs), cmp_pair);
        for (size_t i = 0; i < d->nstacks; i++) {
            c.ids[i] = pairs[i].id;
            c.idx[i] = pairs[i].idx;
        }
    }
    if ((rc = get_bool(&c, sec, "", LK_KEY_REACH_COMPLETE, true, false, &r->complete)) < 0
        || (rc = get_bool(&c, sec, "", LK_KEY_REACH_CYCLES_COMPLETE, false, true,
                          &r->cycles_complete)) < 0
        || (rc = get_count(&c, sec, "", LK_KEY_REACH_LIVE_BLOCKS, true, &r->live_blocks)) < 0
        || (rc = get_count(&c, sec, "", LK_KEY_REACH_LIVE_BYTES, true, &r->live_bytes)) < 0
        || (rc = get_count(&c, sec, "", LK_KEY_REACH_THREADS, false, &r->threads)) < 0
        || (rc = get_count(&c, sec, "", LK_KEY_REACH_THREADS_SP_UNKNOWN, false,
                           &r->threads_sp_unknown)) < 0
        || (rc = get_count(&c, sec, "", LK_KEY_REACH_NOT_STOPPED, false, &r->not_stopped)) < 0
        || (rc = get_count(&c, sec, "", LK_KEY_REACH_UNREADABLE_BYTES, false,
                           &r->unreadable_bytes)) < 0
        || (rc = parse_kinds(&c, sec, r)) < 0 || (rc = parse_sites(&c, sec, r)) < 0
        || (rc = parse_structures(&c, sec, r)) < 0
        || (rc = get_sum(&c, sec, LK_KEY_REACH_STRUCTURES_OMITTED, &r->structs_omitted)) < 0
        || (rc = parse_held(&c, sec, r)) < 0
        || (rc = get_sum(&c, sec, LK_KEY_REACH_HELD_BY_OMITTED, &r->held_omitted)) < 0
        || (rc = parse_retained(&c, sec, r)) < 0)
        goto out;
    d->reach = r;
    r = NULL;
    rc = 0;
out:
    lk_reach_free(r);
    free(pairs);
    free(c.ids);
    free(c.idx);
    return rc;
}

void lk_reach_free(lk_reach_t *r)
{
    if (r == NULL)
        return;
    free(r->sites);
    for (size_t i = 0; i < r->nstructs; i++)
        free(r->structs[i].members);
    free(r->structs);
    for (size_t i = 0; i < r->nheld; i++)
        free(r->held[i].module);
    free(r->held);
    for (size_t i = 0; i < r->nretained_by; i++)
        free(r->retained_by[i].module);
    free(r->retained_by);
    free(r->tops);
    free(r);
}

