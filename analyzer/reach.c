/* reach.c - the reachability pass: turn each final dump's lost structures
 * and held-by entries (lk_reach_t, parsed by load_reach.c) into report
 * entries: symbolized sites, global roots named by their data symbol and
 * declaration, held sites marked when the growth pass found them growing.
 * Leak entries per (site, kind) are made by leaks.c from lk_reach_t.sites. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "growth.h"
#include "model.h"

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
    return lk_user_frames(sym, d, &d->stacks[idx], &ref->frames, &ref->nframes, NULL);
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
        o->image = d->image;
        o->cycle = x->cycle;
        o->head_in_cycle = x->head_in_cycle;
        o->count = x->count;
        o->blocks = x->blocks;
        o->bytes = x->bytes;
        o->has_retained = x->has_retained;
        o->retained_blocks = x->retained_blocks;
        o->retained_bytes = x->retained_bytes;
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
    if (a->pid != b->pid || a->image != b->image || a->root != b->root)
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
        lk_held_report_t h = { .pid = d->pid, .image = d->image, .root = x->root, .kind = x->kind,
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

/* Is retained entry 'e' the root of held entry 'h'?  As same_root(). */
static bool retained_is(const lk_retained_report_t *e, const lk_held_report_t *h)
{
    if (e->pid != h->pid || e->image != h->image || e->root != h->root)
        return false;
    if (e->root != LK_ROOT_GLOBAL)
        return e->tid == h->tid;
    if (e->module == NULL || h->module == NULL || strcmp(e->module, h->module) != 0)
        return false;
    if (e->symbol != NULL || h->symbol != NULL)
        return e->symbol == h->symbol;
    return e->offset == h->offset;
}

/* retained_by[] of one dump, summed per root as held-by names it (the words
 * of one symbol together), then attached to that dump's held entries. */
static int add_retained(lk_report_t *r, const lk_dump_t *d, lk_symbolizer_t *sym,
                        size_t first_held)
{
    const lk_reach_t *rs = d->reach;
    if (!rs->has_retained)
        return 0;
    size_t first = r->nretained;
    if (rs->nretained_by > 0) {
        lk_retained_report_t *nv = realloc(r->retained,
                                           (r->nretained + rs->nretained_by) * sizeof(*nv));
        if (nv == NULL)
            return -ENOMEM;
        r->retained = nv;
    }
    for (size_t i = 0; i < rs->nretained_by; i++) {
        const lk_reach_retained_t *x = &rs->retained_by[i];
        lk_retained_report_t e = { .pid = d->pid, .image = d->image, .root = x->root, .offset = x->offset,
                                   .tid = x->tid, .main_thread = x->tid == d->pid,
                                   .blocks = x->blocks, .bytes = x->bytes };
        if (x->root == LK_ROOT_GLOBAL) {
            lk_data_sym_t ds;
            if (lk_symbolize_data(sym, d, x->module, x->offset, &ds) < 0)
                return -ENOMEM;
            e.symbol = ds.name;
            e.decl_file = ds.decl_file;
            e.decl_line = ds.decl_line;
        }
        lk_held_report_t key = { .pid = d->pid, .image = d->image, .root = x->root, .module = x->module,
                                 .symbol = e.symbol, .offset = x->offset, .tid = x->tid };
        lk_retained_report_t *o = NULL;
        for (size_t k = first; k < r->nretained && o == NULL; k++)
            if (retained_is(&r->retained[k], &key))
                o = &r->retained[k];
        if (o != NULL) {
            o->blocks = lk_sat_add(o->blocks, x->blocks);
            o->bytes = lk_sat_add(o->bytes, x->bytes);
            o->at_least = o->root == LK_ROOT_GLOBAL;
            continue;
        }
        if (x->module != NULL && (e.module = lk_escape_dup(x->module)) == NULL)
            return -ENOMEM;
        r->retained[r->nretained++] = e;
    }
    for (size_t i = first_held; i < r->nheld; i++) {
        lk_held_report_t *h = &r->held[i];
        h->has_retained = true;
        for (size_t k = first; k < r->nretained; k++)
            if (retained_is(&r->retained[k], h)) {
                h->retained_blocks = r->retained[k].blocks;
                h->retained_bytes = r->retained[k].bytes;
                h->retained_at_least = r->retained[k].at_least;
            }
    }
    if (rs->ntops > 0) {
        lk_top_report_t *nv = realloc(r->tops, (r->ntops + rs->ntops) * sizeof(*nv));
        if (nv == NULL)
            return -ENOMEM;
        r->tops = nv;
    }
    for (size_t i = 0; i < rs->ntops; i++) {
        const lk_reach_top_t *x = &rs->tops[i];
        lk_top_report_t *o = &r->tops[r->ntops];
        *o = (lk_top_report_t){ .pid = d->pid, .image = d->image, .address = x->address, .kind = x->kind,
                                .bytes = x->bytes, .retained_blocks = x->retained_blocks,
                                .retained_bytes = x->retained_bytes };
        r->ntops++;
        int rc = site_ref(sym, d, true, x->stack_id, x->stack_idx, x->family, 1, x->bytes,
                          &o->site);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int cmp_retained(const void *a, const void *b)
{
    const lk_retained_report_t *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_top(const void *a, const void *b)
{
    const lk_top_report_t *x = a, *y = b;
    if (x->retained_bytes != y->retained_bytes)
        return x->retained_bytes > y->retained_bytes ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return x->address < y->address ? -1 : x->address > y->address;
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
    if (x->image != y->image)
        return x->image < y->image ? -1 : 1;
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
        lk_growth_site_t key = { .pid = h->pid, .image = h->image, .stack_id = h->site.stack_id,
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
            if (s->trend.kind == LK_TREND_GROWING && s->kept) {
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
        size_t first_held = r->nheld;
        if ((rc = add_structures(r, d, sym)) < 0 || (rc = add_held(r, d, sym)) < 0
            || (rc = add_retained(r, d, sym, first_held)) < 0)
            return rc;
    }
    if (r->nretained > 1)
        qsort(r->retained, r->nretained, sizeof(*r->retained), cmp_retained);
    if (r->ntops > 1)
        qsort(r->tops, r->ntops, sizeof(*r->tops), cmp_top);
    if (r->nstructures > 1)
        qsort(r->structures, r->nstructures, sizeof(*r->structures), cmp_structure);
    if (r->nheld > 1)
        qsort(r->held, r->nheld, sizeof(*r->held), cmp_held);
    return mark_growing(r);
}


