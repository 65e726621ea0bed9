/* report_reach.c - prints what the reachability pass found: per process
 * the lost structures and held-by lines, valgrind's LEAK SUMMARY block, and
 * the JSON "structures" and "held_by" members.  Prints only. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model.h"

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
    if (s->has_retained) {
        fprintf(out, "; freeing the %s gives back ", s->count > 1 ? "heads" : "head");
        put_bytes(out, (double)s->retained_bytes);
        fprintf(out, " in %" PRIu64 " %s", s->retained_blocks,
                plural(s->retained_blocks, "block", "blocks"));
    }
    fputc('\n', out);
}

/* A root as the held-by lines name it; 'parent' is the pid a forked child
 * was forked from (0 for none), whose heap blocks it inherited. */
static void put_root(FILE *out, lk_root_t root, const char *symbol, const char *decl_file,
                     int decl_line, const char *module, uint64_t offset, int64_t tid,
                     bool main_thread, uint64_t parent)
{
    switch (root) {
    case LK_ROOT_GLOBAL:
        /* the preload's name for a block allocated before the fork: the
         * child scans it as a root, but it is heap, not global data */
        if (module != NULL && strcmp(module, LK_INHERITED_MODULE) == 0) {
            fprintf(out, "a block inherited at fork");
            if (parent != 0)
                fprintf(out, " from process %" PRIu64, parent);
        } else if (symbol != NULL) {
            fprintf(out, "global `%s`", symbol);
            if (decl_file != NULL)
                fprintf(out, " (%s:%d)", lk_basename(decl_file), decl_line);
            else
                fprintf(out, " (%s)", lk_basename(module));
        } else {
            fprintf(out, "global data at %s+0x%" PRIx64, lk_basename(module), offset);
        }
        break;
    case LK_ROOT_STACK:
        fprintf(out, "the stack of thread %" PRId64 "%s", tid, main_thread ? " (main thread)" : "");
        break;
    case LK_ROOT_TLS:
        if (tid == 0)
            fprintf(out, "the thread-local storage of an exited thread (glibc's cache)");
        else
            fprintf(out, "the thread-local storage of thread %" PRId64 "%s", tid,
                    main_thread ? " (main thread)" : "");
        break;
    default:
        fprintf(out, "the registers of thread %" PRId64 "%s", tid,
                main_thread ? " (main thread)" : "");
        break;
    }
}

/* "global `cache` (cache.c:17) retains 120.0 MiB in 1200000 blocks" */
static void print_retained(FILE *out, const lk_retained_report_t *e, uint64_t parent)
{
    fprintf(out, "  ");
    put_root(out, e->root, e->symbol, e->decl_file, e->decl_line, e->module, e->offset,
             e->tid, e->main_thread, parent);
    fprintf(out, " retains %s", e->at_least ? "at least " : "");
    put_bytes(out, (double)e->bytes);
    fprintf(out, " in %" PRIu64 " %s\n", e->blocks, plural(e->blocks, "block", "blocks"));
}

/* "4.5 KiB in 4 blocks retained by a 24-byte block allocated at f (a.c:3)" */
static void print_top(FILE *out, const lk_top_report_t *t)
{
    fprintf(out, "  ");
    put_bytes(out, (double)t->retained_bytes);
    fprintf(out, " in %" PRIu64 " %s retained by a %" PRIu64 "-byte block allocated at ",
            t->retained_blocks, plural(t->retained_blocks, "block", "blocks"), t->bytes);
    put_site_paren(out, &t->site);
    fputc('\n', out);
}

static void print_held(FILE *out, const lk_held_report_t *h, uint64_t parent)
{
    fprintf(out, "  ");
    put_bytes(out, (double)h->site.bytes);
    fprintf(out, " in %" PRIu64 " %s %s by ", h->site.blocks,
            plural(h->site.blocks, "block", "blocks"),
            h->kind == LK_KIND_POSSIBLE ? "possibly held (interior pointer)" : "held");
    put_root(out, h->root, h->symbol, h->decl_file, h->decl_line, h->module, h->offset, h->tid,
             h->main_thread, parent);
    fprintf(out, ", allocated at ");
    put_site_paren(out, &h->site);
    if (h->growing) {
        fprintf(out, ", growing at ");
        put_bytes(out, h->slope_bytes_per_s);
        fprintf(out, "/s");
    }
    fputc('\n', out);
}

/* One more row of a titled section, or false once 'top' rows (0: no cap) are
 * shown; the title goes before the first row. */
static bool section_row(FILE *out, size_t *shown, size_t top, const char *title)
{
    if (top != 0 && *shown >= top)
        return false;
    if ((*shown)++ == 0)
        fprintf(out, "%s\n", title);
    return true;
}

void lk_report_reach_text(FILE *out, const lk_report_t *r, const lk_options_t *opt, int pid,
                          unsigned image)
{
    unsigned lost = (1u << LK_KIND_DEFINITE) | (1u << LK_KIND_INDIRECT);
    size_t shown = 0;
    uint64_t parent = 0;

    for (size_t i = 0; i < r->nprocs; i++)
        if (r->procs[i].pid == pid && r->procs[i].image == image)
            parent = r->procs[i].inherited_from_pid;

    if ((opt->show_kinds & lost) != 0) {
        for (size_t i = 0; i < r->nstructures; i++) {
            const lk_structure_report_t *s = &r->structures[i];
            /* a lone block is just its "Direct leak" entry; the JSON has it */
            if (s->pid != pid || s->image != image || s->suppressed || s->bytes < opt->min_bytes
                || s->blocks <= s->count)
                continue;
            if (!section_row(out, &shown, opt->top,
                             "Lost structures (freeing the head frees the rest):"))
                break;
            print_structure(out, s);
        }
        if (shown > 0)
            fputc('\n', out);
    }
    shown = 0;
    for (size_t i = 0; i < r->nheld; i++) {
        const lk_held_report_t *h = &r->held[i];
        if (h->pid != pid || h->image != image || h->suppressed || h->site.bytes < opt->min_bytes)
            continue;
        /* reachable memory shows with --show=reachable; a growing held
         * site always shows: it is the likely logical leak */
        if ((opt->show_kinds & (1u << h->kind)) == 0 && !h->growing)
            continue;
        if (!section_row(out, &shown, opt->top,
                         "Held by (the root that keeps live memory reachable):"))
            break;
        print_held(out, h, parent);
    }
    if (shown > 0)
        fputc('\n', out);
    /* retained sizes go with held memory: shown when reachable memory is */
    unsigned live = (1u << LK_KIND_REACHABLE) | (1u << LK_KIND_POSSIBLE);
    if ((opt->show_kinds & live) == 0)
        return;
    shown = 0;
    for (size_t i = 0; i < r->nretained; i++) {
        const lk_retained_report_t *e = &r->retained[i];
        if (e->pid != pid || e->image != image || e->bytes < opt->min_bytes)
            continue;
        if (!section_row(out, &shown, opt->top,
                         "Retained by root (what clearing it would give back):"))
            break;
        print_retained(out, e, parent);
    }
    if (shown > 0)
        fputc('\n', out);
    shown = 0;
    for (size_t i = 0; i < r->ntops; i++) {
        const lk_top_report_t *t = &r->tops[i];
        if (t->pid != pid || t->image != image || t->retained_bytes < opt->min_bytes)
            continue;
        if (!section_row(out, &shown, opt->top,
                         "Largest retained blocks (what freeing each would give back):"))
            break;
        print_top(out, t);
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
        json_object_set_new(o, "image", json_integer(s->image));
        if (s->suppressed)
            json_object_set_new(o, "suppressed", json_true());
        if (s->has_retained) {
            json_object_set_new(o, "retained_blocks", json_integer((json_int_t)s->retained_blocks));
            json_object_set_new(o, "retained_bytes", json_integer((json_int_t)s->retained_bytes));
        }
    }
    return a;
}

/* Where a root is: a global's module, offset, symbol and declaration, or a
 * thread's id (held-by and retained-by entries name roots the same way). */
static void root_where_json(json_t *o, lk_root_t root, const char *module, uint64_t offset,
                            const char *symbol, const char *decl_file, int decl_line,
                            int64_t tid, bool main_thread)
{
    char hex[24];

    if (root == LK_ROOT_GLOBAL) {
        snprintf(hex, sizeof(hex), "0x%" PRIx64, offset);
        json_object_set_new(o, "module", json_string(module));
        json_object_set_new(o, "offset", json_string(hex));
        json_object_set_new(o, "symbol", symbol != NULL ? json_string(symbol) : json_null());
        json_object_set_new(o, "decl_file", decl_file != NULL ? json_string(decl_file)
                                                              : json_null());
        json_object_set_new(o, "decl_line", json_integer(decl_line));
    } else {
        json_object_set_new(o, "tid", tid >= 0 ? json_integer((json_int_t)tid) : json_null());
        json_object_set_new(o, "main_thread", json_boolean(main_thread));
    }
}

static json_t *held_json(const lk_report_t *r)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < r->nheld; i++) {
        const lk_held_report_t *h = &r->held[i];
        json_t *o = json_pack("{s:i, s:s, s:s}", "pid", h->pid, "root", lk_root_name(h->root),
                              "kind", lk_kind_name(h->kind));
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        json_object_set_new(o, "image", json_integer(h->image));
        root_where_json(o, h->root, h->module, h->offset, h->symbol, h->decl_file, h->decl_line,
                        h->tid, h->main_thread);
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
        if (h->has_retained) {
            json_object_set_new(o, "retained_blocks", json_integer((json_int_t)h->retained_blocks));
            json_object_set_new(o, "retained_bytes", json_integer((json_int_t)h->retained_bytes));
            json_object_set_new(o, "retained_at_least", json_boolean(h->retained_at_least));
        }
    }
    return a;
}

static json_t *retained_json(const lk_report_t *r)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < r->nretained; i++) {
        const lk_retained_report_t *e = &r->retained[i];
        json_t *o = json_pack("{s:i, s:s, s:I, s:I, s:b}", "pid", e->pid,
                              "root", lk_root_name(e->root), "blocks", (json_int_t)e->blocks,
                              "bytes", (json_int_t)e->bytes, "at_least", e->at_least);
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        json_object_set_new(o, "image", json_integer(e->image));
        root_where_json(o, e->root, e->module, e->offset, e->symbol, e->decl_file, e->decl_line,
                        e->tid, e->main_thread);
    }
    return a;
}

static json_t *tops_json(const lk_report_t *r)
{
    json_t *a = json_array();
    char hex[24];

    for (size_t i = 0; a != NULL && i < r->ntops; i++) {
        const lk_top_report_t *t = &r->tops[i];
        snprintf(hex, sizeof(hex), "0x%" PRIx64, t->address);
        json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:I, s:I, s:o}", "pid", t->pid,
                              "address", hex, "kind", lk_kind_name(t->kind),
                              "bytes", (json_int_t)t->bytes,
                              "retained_blocks", (json_int_t)t->retained_blocks,
                              "retained_bytes", (json_int_t)t->retained_bytes,
                              "site", site_json(&t->site, false));
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        json_object_set_new(o, "image", json_integer(t->image));
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
        || json_object_set_new(root, "held_by", held_json(r)) < 0
        || json_object_set_new(root, "retained_by", retained_json(r)) < 0
        || json_object_set_new(root, "top_retained", tops_json(r)) < 0)
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
