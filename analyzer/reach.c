/* reach.c - the reachability pass (issue 5): parse and validate a dump's
 * "reachability" object (docs/FORMAT.md "Reachability") with the loader's
 * one-line error contract, then turn each final dump's lost structures and
 * held-by entries into report entries: symbolized sites, global roots named
 * by their data symbol and declaration, held sites marked when they grow.
 * Leak entries per (site, kind) are made by leaks.c from lk_reach_t.sites.
 * Never crashes on any input: the loader runs the parser on fuzzed dumps. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "growth.h"
#include "jsonget.h"
#include "model.h"

static const char *const root_names[] = LK_REACH_ROOT_NAMES;

const char *lk_root_name(lk_root_t r)
{
    return (unsigned)r < sizeof(root_names) / sizeof(root_names[0]) ? root_names[r] : "?";
}

/* ### parsing */

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
        || (rc = get_sum(&c, sec, LK_KEY_REACH_HELD_BY_OMITTED, &r->held_omitted)) < 0)
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
    free(r);
}

/* ### the pass */

/* Symbolize and trim the stack at 'idx' of 'd' into 'ref'. */
static int site_ref(lk_symbolizer_t *sym, const lk_dump_t *d, bool has_stack, uint64_t id,
                    size_t idx, lk_family_t fam, uint64_t blocks, uint64_t bytes,
                    lk_site_ref_t *ref)
{
    memset(ref, 0, sizeof(*ref));
    ref->has_stack = has_stack;
    ref->stack_id = id;
    ref->family = fam;
    ref->blocks = blocks;
    ref->bytes = bytes;
    if (!has_stack)
        return 0;
    return lk_growth_frames(sym, d, &d->stacks[idx], &ref->frames, &ref->nframes);
}

static int add_structures(lk_report_t *r, const lk_dump_t *d, lk_symbolizer_t *sym)
{
    const lk_reach_t *rs = d->reach;
    if (rs->nstructs == 0)
        return 0;
    lk_structure_report_t *nv = realloc(r->structures,
                                        (r->nstructures + rs->nstructs) * sizeof(*nv));
    if (nv == NULL)
        return -ENOMEM;
    r->structures = nv;
    for (size_t i = 0; i < rs->nstructs; i++) {
        const lk_reach_struct_t *x = &rs->structs[i];
        lk_structure_report_t *o = &r->structures[r->nstructures];
        memset(o, 0, sizeof(*o));
        o->pid = d->pid;
        o->cycle = x->cycle;
        o->head_in_cycle = x->head_in_cycle;
        o->count = x->count;
        o->blocks = x->blocks;
        o->bytes = x->bytes;
        r->nstructures++;
        int rc = site_ref(sym, d, true, x->head_stack_id, x->head_stack_idx, x->head_family,
                          x->count, 0, &o->head);
        if (rc < 0)
            return rc;
        o->suppressed = lk_supp_match(&r->supps, o->head.frames, o->head.nframes) != NULL;
        if (x->nmembers > 0 && (o->members = calloc(x->nmembers, sizeof(*o->members))) == NULL)
            return -ENOMEM;
        for (size_t k = 0; k < x->nmembers; k++) {
            const lk_reach_member_t *m = &x->members[k];
            if ((rc = site_ref(sym, d, m->has_stack, m->stack_id, m->stack_idx, m->family,
                               m->blocks, m->bytes, &o->members[k])) < 0)
                return rc;
            o->nmembers++;
            if (m->has_stack && m->stack_id == x->head_stack_id && m->family == x->head_family)
                o->head.bytes = m->bytes;   /* head site's bytes (as a member) */
        }
    }
    return 0;
}

/* Do two held entries name the same root?  Globals compare by symbol when
 * both have one (two words of one array are one root), else by offset. */
static bool same_root(const lk_held_report_t *a, const lk_held_report_t *b)
{
    if (a->pid != b->pid || a->root != b->root)
        return false;
    if (a->root != LK_ROOT_GLOBAL)
        return a->tid == b->tid;
    if (strcmp(a->module, b->module) != 0)
        return false;
    if (a->symbol != NULL || b->symbol != NULL)
        return a->symbol == b->symbol;   /* interned: pointer equality */
    return a->offset == b->offset;
}

static int add_held(lk_report_t *r, const lk_dump_t *d, lk_symbolizer_t *sym)
{
    const lk_reach_t *rs = d->reach;
    if (rs->nheld == 0)
        return 0;
    lk_held_report_t *nv = realloc(r->held, (r->nheld + rs->nheld) * sizeof(*nv));
    if (nv == NULL)
        return -ENOMEM;
    r->held = nv;
    size_t first = r->nheld;
    for (size_t i = 0; i < rs->nheld; i++) {
        const lk_reach_held_t *x = &rs->held[i];
        lk_held_report_t h = { .pid = d->pid, .root = x->root, .kind = x->kind,
                               .offset = x->offset, .tid = x->tid };
        h.main_thread = x->tid == d->pid;
        if (x->root == LK_ROOT_GLOBAL) {
            lk_data_sym_t ds;
            if (lk_symbolize_data(sym, d, x->module, x->offset, &ds) < 0)
                return -ENOMEM;
            h.symbol = ds.name;
            h.decl_file = ds.decl_file;
            h.decl_line = ds.decl_line;
        }
        /* Aggregate (root, site, kind): several words of one symbol. */
        lk_held_report_t *o = NULL;
        for (size_t k = first; k < r->nheld && o == NULL; k++) {
            lk_held_report_t *e = &r->held[k];
            if (e->kind == h.kind && e->site.stack_id == x->stack_id
                && e->site.family == x->family && (h.module = x->module, same_root(e, &h)))
                o = e;
        }
        h.module = NULL;
        if (o != NULL) {
            o->site.blocks = lk_sat_add(o->site.blocks, x->blocks);
            o->site.bytes = lk_sat_add(o->site.bytes, x->bytes);
            continue;
        }
        o = &r->held[r->nheld];
        *o = h;
        if (x->module != NULL && (o->module = lk_escape_dup(x->module)) == NULL)
            return -ENOMEM;
        r->nheld++;
        int rc = site_ref(sym, d, true, x->stack_id, x->stack_idx, x->family, x->blocks,
                          x->bytes, &o->site);
        if (rc < 0)
            return rc;
        o->suppressed = lk_supp_match(&r->supps, o->site.frames, o->site.nframes) != NULL;
    }
    return 0;
}

static int cmp_structure(const void *a, const void *b)
{
    const lk_structure_report_t *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return x->head.stack_id < y->head.stack_id ? -1 : x->head.stack_id > y->head.stack_id;
}

static int cmp_held(const void *a, const void *b)
{
    const lk_held_report_t *x = a, *y = b;
    if (x->site.bytes != y->site.bytes)
        return x->site.bytes > y->site.bytes ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->site.stack_id != y->site.stack_id)
        return x->site.stack_id < y->site.stack_id ? -1 : 1;
    return (int)x->root - (int)y->root;
}

static int cmp_growth_site(const void *a, const void *b)
{
    const lk_growth_site_t *x = *(const lk_growth_site_t *const *)a;
    const lk_growth_site_t *y = *(const lk_growth_site_t *const *)b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->stack_id != y->stack_id)
        return x->stack_id < y->stack_id ? -1 : 1;
    return (int)x->family - (int)y->family;
}

/* Mark held sites that the growth pass found growing steadily.  The growth
 * sites are looked up through a sorted index: many processes make both
 * lists long.  Returns 0 or -ENOMEM. */
static int mark_growing(lk_report_t *r)
{
    const lk_growth_report_t *g = r->growth;
    if (g == NULL || g->nsites == 0 || r->nheld == 0)
        return 0;
    const lk_growth_site_t **idx = malloc(g->nsites * sizeof(*idx));
    if (idx == NULL)
        return -ENOMEM;
    for (size_t k = 0; k < g->nsites; k++)
        idx[k] = &g->sites[k];
    qsort(idx, g->nsites, sizeof(*idx), cmp_growth_site);
    for (size_t i = 0; i < r->nheld; i++) {
        lk_held_report_t *h = &r->held[i];
        lk_growth_site_t key = { .pid = h->pid, .stack_id = h->site.stack_id,
                                 .family = h->site.family };
        const lk_growth_site_t *kp = &key;
        const lk_growth_site_t **hit = bsearch(&kp, idx, g->nsites, sizeof(*idx),
                                               cmp_growth_site);
        if (hit == NULL)
            continue;
        while (hit > idx && cmp_growth_site(hit - 1, &kp) == 0)
            hit--;   /* two processes can share a pid: every match counts */
        for (; hit < idx + g->nsites && cmp_growth_site(hit, &kp) == 0; hit++) {
            const lk_growth_site_t *s = *hit;
            if (s->trend.kind == LA_TREND_GROWING && s->steady) {
                h->growing = true;
                h->slope_bytes_per_s = s->trend.recent_slope_bytes_per_s > 0
                                       ? s->trend.recent_slope_bytes_per_s
                                       : s->trend.slope_bytes_per_s;
            }
        }
    }
    free(idx);
    return 0;
}

int lk_reach_collect(lk_report_t *r, const lk_input_t *in, lk_symbolizer_t *sym)
{
    int rc;

    for (size_t p = 0; p < in->nprocs; p++) {
        const lk_process_t *proc = &in->procs[p];
        const lk_dump_t *d = proc->dumps[proc->ndumps - 1];
        if (d->reach == NULL)
            continue;
        if (!d->reach->complete)
            lk_report_warn(r, "%s: the reachability scan of process %d is incomplete "
                           "(unreadable memory, a thread stack not found, or the cycle "
                           "search cut short); some kinds may be off", d->file, d->pid);
        if ((rc = add_structures(r, d, sym)) < 0 || (rc = add_held(r, d, sym)) < 0)
            return rc;
    }
    if (r->nstructures > 1)
        qsort(r->structures, r->nstructures, sizeof(*r->structures), cmp_structure);
    if (r->nheld > 1)
        qsort(r->held, r->nheld, sizeof(*r->held), cmp_held);
    return mark_growing(r);
}

void lk_reach_report_free(lk_report_t *r)
{
    for (size_t i = 0; i < r->nstructures; i++) {
        lk_structure_report_t *s = &r->structures[i];
        free(s->head.frames);
        for (size_t k = 0; k < s->nmembers; k++)
            free(s->members[k].frames);
        free(s->members);
    }
    free(r->structures);
    r->structures = NULL;
    r->nstructures = 0;
    for (size_t i = 0; i < r->nheld; i++) {
        free(r->held[i].module);
        free(r->held[i].site.frames);
    }
    free(r->held);
    r->held = NULL;
    r->nheld = 0;
}

/* ### text */

/* "1 block" / "3 blocks" */
static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* Print 'bytes' as "777 bytes", or "1.5 MiB" from 10 KiB up. */
static void put_bytes(FILE *out, double bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    if (fabs(bytes) < 10240) {
        fprintf(out, "%.0f %s", bytes, fabs(bytes) == 1 ? "byte" : "bytes");
        return;
    }
    int u = -1;
    while (fabs(bytes) >= 1024 && u < 3) {
        bytes /= 1024;
        u++;
    }
    fprintf(out, "%.1f %s", bytes, units[u]);
}

/* "function at file.c:12" for the site's user frame. */
static void put_site(FILE *out, const lk_site_ref_t *s)
{
    if (!s->has_stack) {
        fprintf(out, "other sites");
        return;
    }
    const lk_frame_t *f = s->nframes > 0 ? &s->frames[0] : NULL;
    if (f == NULL) {
        fprintf(out, "stack %" PRIu64, s->stack_id);
        return;
    }
    fprintf(out, "%.*s", f->function != NULL ? (int)strcspn(f->function, "@") : 2,
            f->function != NULL ? f->function : "??");
    if (f->file != NULL)
        fprintf(out, " at %s:%d", lk_basename(f->file), f->line);
    else if (f->module != NULL)
        fprintf(out, " in %s+0x%" PRIx64, lk_basename(f->module), f->offset);
}

/* "function (file.c:12)" as in the brief's held-by sentence. */
static void put_site_paren(FILE *out, const lk_site_ref_t *s)
{
    const lk_frame_t *f = s->nframes > 0 ? &s->frames[0] : NULL;
    if (f == NULL) {
        fprintf(out, "stack %" PRIu64, s->stack_id);
        return;
    }
    fprintf(out, "%.*s", f->function != NULL ? (int)strcspn(f->function, "@") : 2,
            f->function != NULL ? f->function : "??");
    if (f->file != NULL)
        fprintf(out, " (%s:%d)", lk_basename(f->file), f->line);
    else if (f->module != NULL)
        fprintf(out, " (%s+0x%" PRIx64 ")", lk_basename(f->module), f->offset);
}

/* Do two sites have the same user frame (function, file, line)? */
static bool same_top(const lk_site_ref_t *a, const lk_site_ref_t *b)
{
    if (!a->has_stack || !b->has_stack || a->nframes == 0 || b->nframes == 0)
        return a == b;
    const lk_frame_t *x = &a->frames[0], *y = &b->frames[0];
    /* symbolizer strings are interned: equal names are the same pointer */
    return x->function == y->function && x->file == y->file && x->line == y->line
           && (x->function != NULL || x->offset == y->offset);
}

static void print_structure(FILE *out, const lk_structure_report_t *s)
{
    const char *what = s->cycle && s->head_in_cycle ? "cycle" : "structure";
    if (s->count > 1)
        fprintf(out, "  %" PRIu64 " lost %ss (%" PRIu64 " blocks, %" PRIu64 " bytes in all)%s",
                s->count, what, s->blocks, s->bytes, s->cycle && s->head_in_cycle ? "" : ", each");
    else if (s->cycle && s->head_in_cycle)
        fprintf(out, "  lost cycle of %" PRIu64 " %s (%" PRIu64 " bytes)", s->blocks,
                plural(s->blocks, "block", "blocks"), s->bytes);
    else
        fprintf(out, "  lost structure of 1+%" PRIu64 " blocks (%" PRIu64 " bytes)",
                s->blocks - 1, s->bytes);
    if (s->cycle && s->head_in_cycle) {
        /* every member site, the head's first, joined by arrows */
        fprintf(out, ": ");
        put_site(out, &s->head);
        uint64_t per = s->count != 0 ? s->count : 1;
        for (size_t k = 0; k < s->nmembers; k++) {
            const lk_site_ref_t *m = &s->members[k];
            uint64_t blocks = m->blocks;
            if (m->has_stack && m->stack_id == s->head.stack_id && m->family == s->head.family)
                blocks -= blocks >= s->count ? s->count : blocks;   /* the heads */
            if (blocks == 0)
                continue;
            fprintf(out, " \u2194 ");
            if (blocks / per > 1)
                fprintf(out, "%" PRIu64 "\u00d7 ", blocks / per);
            put_site(out, m);
        }
    } else {
        fprintf(out, " headed by ");
        put_site(out, &s->head);
        size_t shown = 0, more = 0;
        uint64_t more_blocks = 0;
        for (size_t k = 0; k < s->nmembers; k++) {
            const lk_site_ref_t *m = &s->members[k];
            /* members whose user frame is the same line read as one */
            bool seen = false;
            for (size_t j = 0; j < k && !seen; j++)
                seen = same_top(&s->members[j], m);
            if (seen)
                continue;
            uint64_t blocks = 0;
            for (size_t j = k; j < s->nmembers; j++) {
                const lk_site_ref_t *o = &s->members[j];
                if (!same_top(o, m))
                    continue;
                blocks = lk_sat_add(blocks, o->blocks);
                if (o->has_stack && o->stack_id == s->head.stack_id
                    && o->family == s->head.family)
                    blocks -= o->blocks >= s->count ? s->count : o->blocks;
            }
            if (blocks == 0)
                continue;
            if (shown == 3) {   /* the line stays readable; the JSON has them all */
                more++;
                more_blocks = lk_sat_add(more_blocks, blocks);
                continue;
            }
            fprintf(out, "%s%" PRIu64 " from ", shown == 0 ? ", holding " : ", ", blocks);
            put_site(out, m);
            shown++;
        }
        if (more > 0)
            fprintf(out, ", and %" PRIu64 " from %zu more %s", more_blocks, more,
                    plural(more, "site", "sites"));
        if (s->cycle)
            fprintf(out, ", with a cycle inside");
    }
    fputc('\n', out);
}

static void print_held(FILE *out, const lk_held_report_t *h)
{
    fprintf(out, "  ");
    put_bytes(out, (double)h->site.bytes);
    fprintf(out, " in %" PRIu64 " %s %s by ", h->site.blocks,
            plural(h->site.blocks, "block", "blocks"),
            h->kind == LK_KIND_POSSIBLE ? "possibly held (interior pointer)" : "held");
    switch (h->root) {
    case LK_ROOT_GLOBAL:
        if (h->symbol != NULL) {
            fprintf(out, "global `%s`", h->symbol);
            if (h->decl_file != NULL)
                fprintf(out, " (%s:%d)", lk_basename(h->decl_file), h->decl_line);
            else
                fprintf(out, " (%s)", lk_basename(h->module));
        } else {
            fprintf(out, "global data at %s+0x%" PRIx64, lk_basename(h->module), h->offset);
        }
        break;
    case LK_ROOT_STACK:
        fprintf(out, "the stack of thread %" PRId64 "%s", h->tid,
                h->main_thread ? " (main thread)" : "");
        break;
    case LK_ROOT_TLS:
        if (h->tid == 0)
            fprintf(out, "the thread-local storage of an exited thread (glibc's cache)");
        else
            fprintf(out, "the thread-local storage of thread %" PRId64 "%s", h->tid,
                    h->main_thread ? " (main thread)" : "");
        break;
    default:
        fprintf(out, "the registers of thread %" PRId64 "%s", h->tid,
                h->main_thread ? " (main thread)" : "");
        break;
    }
    fprintf(out, ", allocated at ");
    put_site_paren(out, &h->site);
    if (h->growing) {
        fprintf(out, ", growing at ");
        put_bytes(out, h->slope_bytes_per_s);
        fprintf(out, "/s");
    }
    fputc('\n', out);
}

void lk_report_reach_text(FILE *out, const lk_report_t *r, const lk_options_t *opt, int pid)
{
    unsigned lost = (1u << LK_KIND_DEFINITE) | (1u << LK_KIND_INDIRECT);
    size_t shown = 0;

    if ((opt->show_kinds & lost) != 0) {
        for (size_t i = 0; i < r->nstructures; i++) {
            const lk_structure_report_t *s = &r->structures[i];
            /* a lone block is just its "Direct leak" entry; the JSON has it */
            if (s->pid != pid || s->suppressed || s->bytes < opt->min_bytes
                || s->blocks <= s->count)
                continue;
            if (opt->top != 0 && shown >= opt->top)
                break;
            if (shown++ == 0)
                fprintf(out, "Lost structures (freeing the head frees the rest):\n");
            print_structure(out, s);
        }
        if (shown > 0)
            fputc('\n', out);
    }
    shown = 0;
    for (size_t i = 0; i < r->nheld; i++) {
        const lk_held_report_t *h = &r->held[i];
        if (h->pid != pid || h->suppressed || h->site.bytes < opt->min_bytes)
            continue;
        /* reachable memory shows with --show=reachable; a growing held
         * site always shows: it is the likely logical leak */
        if ((opt->show_kinds & (1u << h->kind)) == 0 && !h->growing)
            continue;
        if (opt->top != 0 && shown >= opt->top)
            break;
        if (shown++ == 0)
            fprintf(out, "Held by (the root that keeps live memory reachable):\n");
        print_held(out, h);
    }
    if (shown > 0)
        fputc('\n', out);
}

void lk_report_reach_summary(FILE *out, const lk_report_t *r)
{
    static const struct { lk_kind_t kind; const char *label; } rows[] = {
        { LK_KIND_DEFINITE, "definitely lost" }, { LK_KIND_INDIRECT, "indirectly lost" },
        { LK_KIND_POSSIBLE, "  possibly lost" }, { LK_KIND_REACHABLE, "still reachable" },
    };
    if (!r->has_reach)
        return;
    fprintf(out, "LEAK SUMMARY:\n");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        fprintf(out, "   %s: %" PRIu64 " byte(s) in %" PRIu64 " block(s)\n", rows[i].label,
                r->kind_bytes[rows[i].kind], r->kind_blocks[rows[i].kind]);
    if (r->kind_blocks[LK_KIND_UNFREED] > 0)
        fprintf(out, "   unfreed, no scan: %" PRIu64 " byte(s) in %" PRIu64 " block(s)\n",
                r->kind_bytes[LK_KIND_UNFREED], r->kind_blocks[LK_KIND_UNFREED]);
    fprintf(out, "        suppressed: %" PRIu64 " byte(s) in %" PRIu64 " block(s)\n",
            r->suppressed_bytes, r->suppressed_blocks);
}

/* ### JSON */


static json_t *site_json(const lk_site_ref_t *s, bool with_counts)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "stack", s->has_stack ? json_integer((json_int_t)s->stack_id)
                                                 : json_null());
    json_object_set_new(o, "family", s->has_stack ? json_string(lk_family_name(s->family))
                                                  : json_null());
    if (with_counts) {
        json_object_set_new(o, "blocks", json_integer((json_int_t)s->blocks));
        json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes));
    }
    if (json_object_set_new(o, "frames", lk_json_frames(s->frames, s->nframes)) < 0) {
        json_decref(o);   /* out of memory: no entry without its frames */
        return NULL;
    }
    return o;
}

static json_t *structures_json(const lk_report_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->nstructures; i++) {
        const lk_structure_report_t *s = &r->structures[i];
        json_t *m = json_array();
        for (size_t k = 0; m != NULL && k < s->nmembers; k++)
            if (json_array_append_new(m, site_json(&s->members[k], true)) < 0) {
                json_decref(m);
                m = NULL;
            }
        json_t *o = json_pack("{s:i, s:b, s:b, s:I, s:I, s:I, s:o, s:o}", "pid", s->pid,
                              "cycle", s->cycle, "head_in_cycle", s->head_in_cycle,
                              "count", (json_int_t)s->count, "blocks", (json_int_t)s->blocks,
                              "bytes", (json_int_t)s->bytes,
                              "head", site_json(&s->head, false), "members", m);
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        if (s->suppressed)
            json_object_set_new(o, "suppressed", json_true());
    }
    return a;
}

static json_t *held_json(const lk_report_t *r)
{
    json_t *a = json_array();
    char hex[24];

    for (size_t i = 0; a != NULL && i < r->nheld; i++) {
        const lk_held_report_t *h = &r->held[i];
        json_t *o = json_pack("{s:i, s:s, s:s}", "pid", h->pid, "root", lk_root_name(h->root),
                              "kind", lk_kind_name(h->kind));
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        if (h->root == LK_ROOT_GLOBAL) {
            snprintf(hex, sizeof(hex), "0x%" PRIx64, h->offset);
            json_object_set_new(o, "module", json_string(h->module));
            json_object_set_new(o, "offset", json_string(hex));
            json_object_set_new(o, "symbol", h->symbol != NULL ? json_string(h->symbol)
                                                               : json_null());
            json_object_set_new(o, "decl_file", h->decl_file != NULL
                                ? json_string(h->decl_file) : json_null());
            json_object_set_new(o, "decl_line", json_integer(h->decl_line));
        } else {
            json_object_set_new(o, "tid", h->tid >= 0 ? json_integer(h->tid) : json_null());
            json_object_set_new(o, "main_thread", json_boolean(h->main_thread));
        }
        json_object_set_new(o, "stack", json_integer((json_int_t)h->site.stack_id));
        json_object_set_new(o, "family", json_string(lk_family_name(h->site.family)));
        json_object_set_new(o, "blocks", json_integer((json_int_t)h->site.blocks));
        json_object_set_new(o, "bytes", json_integer((json_int_t)h->site.bytes));
        if (json_object_set_new(o, "frames", lk_json_frames(h->site.frames,
                                                            h->site.nframes)) < 0) {
            json_decref(a);   /* out of memory: no entry without its frames */
            return NULL;
        }
        json_object_set_new(o, "growing", json_boolean(h->growing));
        if (h->growing)
            json_object_set_new(o, "slope_bytes_per_s", json_real(h->slope_bytes_per_s));
        if (h->suppressed)
            json_object_set_new(o, "suppressed", json_true());
    }
    return a;
}

/* {"definite": {"bytes", "blocks"}, ...} of one set of totals. */
static json_t *kinds_json(const uint64_t *bytes, const uint64_t *blocks)
{
    json_t *o = json_object();
    for (int k = 0; o != NULL && k < LK_KIND_COUNT; k++)
        json_object_set_new(o, lk_kind_name((lk_kind_t)k),
                            json_pack("{s:I, s:I}", "bytes", (json_int_t)bytes[k],
                                      "blocks", (json_int_t)blocks[k]));
    return o;
}

int lk_report_reach_json(json_t *root, const lk_report_t *r)
{
    json_t *summary = json_object_get(root, "summary");
    json_t *procs = json_object_get(root, "processes");

    if (json_object_set_new(root, "structures", structures_json(r)) < 0
        || json_object_set_new(root, "held_by", held_json(r)) < 0)
        return -ENOMEM;
    if (summary != NULL
        && json_object_set_new(summary, "kinds", kinds_json(r->kind_bytes, r->kind_blocks)) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < r->nprocs && i < json_array_size(procs); i++) {
        const lk_proc_summary_t *p = &r->procs[i];
        json_t *po = json_array_get(procs, i);
        json_object_set_new(po, "reachability", json_boolean(p->has_reach));
        if (p->has_reach)
            json_object_set_new(po, "reachability_complete", json_boolean(p->reach_complete));
        json_object_set_new(po, "kinds", kinds_json(p->kind_bytes, p->kind_blocks));
    }
    return 0;
}
