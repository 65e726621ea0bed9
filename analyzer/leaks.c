/* leaks.c - the leak pass: every process's final dump -> lk_report_t.
 * Symbolizes each live site, trims allocator frames so frames[0] is the
 * user's call, cuts frames below main(), applies suppressions, sorts by
 * bytes, and decides the CI gate.  Mismatched deallocations ride along. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Add without wrapping: each count is at most 2^62 (load.c), but a sum over
 * many sites and processes is not.  Saturates at INT64_MAX (JSON's range). */
static void sat_add(uint64_t *sum, uint64_t v)
{
    *sum = lk_sat_add(*sum, v);
}

/* A sampled estimate as a count, capped like every count of a dump (a tiny
 * sampling probability can scale it past what llround() can hold). */
static uint64_t estimate(double v)
{
    return v < (double)LK_MAX_COUNT ? (uint64_t)llround(v) : LK_MAX_COUNT;
}

/* Report order of a kind: direct leaks first, then indirect, possible and
 * still reachable, as LSan and valgrind print them. */
static int kind_rank(lk_kind_t k)
{
    return k == LK_KIND_UNFREED ? LK_KIND_DEFINITE : (int)k;
}

/* Leaks by kind rank, then largest first; ties broken by key, pid, stack
 * so the order is stable across runs. */
static int cmp_leak(const void *a, const void *b)
{
    const lk_leak_t *x = a, *y = b;
    if (kind_rank(x->kind) != kind_rank(y->kind))
        return kind_rank(x->kind) < kind_rank(y->kind) ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->blocks != y->blocks)
        return x->blocks > y->blocks ? -1 : 1;
    int c = strcmp(x->key != NULL ? x->key : "", y->key != NULL ? y->key : "");
    if (c != 0)
        return c;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

static int collect_mismatches(lk_report_t *r, const lk_dump_t *d, lk_symbolizer_t *sym)
{
    if (d->nmismatches == 0)
        return 0;
    lk_mismatch_report_t *nv = realloc(r->mismatches,
                                       (r->nmismatches + d->nmismatches) * sizeof(*nv));
    if (nv == NULL)
        return -ENOMEM;
    r->mismatches = nv;
    for (size_t i = 0; i < d->nmismatches; i++) {
        const lk_mismatch_t *m = &d->mismatches[i];
        lk_mismatch_report_t *mr = &r->mismatches[r->nmismatches];
        memset(mr, 0, sizeof(*mr));
        mr->pid = d->pid;
        mr->alloc_family = m->alloc_family;
        mr->free_family = m->free_family;
        mr->count = m->count;
        mr->bytes = m->bytes;
        int rc = lk_user_frames(sym, d, &d->stacks[m->alloc_stack_idx], &mr->alloc_frames,
                             &mr->nalloc, NULL);
        if (rc == 0)
            rc = lk_user_frames(sym, d, &d->stacks[m->free_stack_idx], &mr->free_frames,
                             &mr->nfree, NULL);
        if (rc < 0) {
            free(mr->alloc_frames);
            return rc;
        }
        r->nmismatches++;
    }
    return 0;
}

int lk_leaks_collect(lk_report_t *r, const lk_input_t *in, lk_symbolizer_t *sym,
                     const lk_options_t *opt)
{
    int rc;

    (void)opt;  /* suppression rules are already in r->supps (main.c) */
    if ((r->procs = calloc(in->nprocs + 1, sizeof(*r->procs))) == NULL)
        return -ENOMEM;
    for (size_t p = 0; p < in->nprocs; p++) {
        const lk_process_t *proc = &in->procs[p];
        const lk_dump_t *d = proc->dumps[proc->ndumps - 1];
        lk_proc_summary_t *ps = &r->procs[r->nprocs++];
        ps->pid = proc->pid;
        ps->image = proc->image;
        ps->ppid = proc->ppid;
        ps->exe = d->exe;
        ps->name = d->name;
        ps->ndumps = proc->ndumps;
        ps->final_seq = d->seq;
        ps->inherited_from_pid = d->totals.inherited_from_pid;
        ps->inherited_blocks = d->totals.inherited_blocks;
        ps->inherited_bytes = d->totals.inherited_bytes;
        ps->final_trigger = lk_trigger_name(d->trigger);
        ps->complete = d->totals.complete;
        ps->crash_signal = d->crash_signal;
        ps->crash_code = d->crash_code;
        ps->crash_tid = d->crash_tid;
        ps->crash_addr = d->crash_addr;
        ps->crash_has_addr = d->crash_has_addr;
        if (d->crash_signal != 0 && d->crash_has_stack
            && (rc = lk_symbolize_stack(sym, d, &d->stacks[d->crash_stack_idx],
                                        &ps->crash_frames, &ps->ncrash_frames)) < 0)
            return rc;
        r->estimated |= d->sample_bytes != 0;
        if (!d->totals.complete)
            lk_report_warn(r, "%s: process %d dropped %" PRIu64 " event(s); its figures are "
                           "lower bounds", d->file, d->pid, d->totals.dropped_events);
        /* Stacks stay right, but a run where many captures took libunwind's
         * unw_backtrace was slower than it needed to be: say why. */
        if (d->totals.unwinds_fallback >= 1000 &&
            d->totals.unwinds_fallback >= d->totals.alloc_count / 20)
            lk_report_warn(r, "%s: process %d: %" PRIu64 " of %" PRIu64 " stack captures fell "
                           "back to libunwind's unw_backtrace (signal-handler frames, "
                           "LIBLEAK_FAST_UNWIND=0 or a full rule table): the run was slower "
                           "than the fast walk", d->file, d->pid, d->totals.unwinds_fallback,
                           d->totals.alloc_count);
        if (d->trigger != LK_TRIGGER_EXIT && d->trigger != LK_TRIGGER_CRASH)
            lk_report_warn(r, "%s: the last dump of process %d was written on '%s', not at "
                           "exit; live memory is not necessarily leaked", d->file, d->pid,
                           lk_trigger_name(d->trigger));

        /* With a reachability scan a leak entry is a (site, kind) part of
         * the scan's sites[]; without one, a live site of kind unfreed. */
        const lk_reach_t *rs = d->reach;
        size_t n = rs != NULL ? rs->nsites : d->nsites;
        ps->has_reach = rs != NULL;
        ps->reach_complete = rs != NULL && rs->complete;
        r->has_reach |= rs != NULL;
        if (n > 0) {
            lk_leak_t *nv = realloc(r->leaks, (r->nleaks + n) * sizeof(*nv));
            if (nv == NULL)
                return -ENOMEM;
            r->leaks = nv;
        }
        for (size_t i = 0; i < n; i++) {
            lk_leak_t *l = &r->leaks[r->nleaks];
            size_t stack_idx;
            memset(l, 0, sizeof(*l));
            if (rs != NULL) {
                const lk_reach_site_t *s = &rs->sites[i];
                l->kind = s->kind;
                l->family = s->family;
                l->bytes = s->bytes;
                l->blocks = s->blocks;
                l->stack_id = s->stack_id;
                stack_idx = s->stack_idx;
                if (d->sample_bytes != 0 && l->blocks != 0) {
                    /* The scan saw only sampled blocks: scale them as the
                     * preload scales its sites, p(mean size) = 1 - e^(-s/N). */
                    double pr = -expm1(-((double)l->bytes / (double)l->blocks)
                                       / (double)d->sample_bytes);
                    if (pr > 0) {
                        l->bytes = estimate((double)l->bytes / pr);
                        l->blocks = estimate((double)l->blocks / pr);
                    }
                }
            } else {
                const lk_site_t *s = &d->sites[i];
                l->kind = LK_KIND_UNFREED;
                l->family = s->family;
                l->bytes = s->live_bytes;
                l->blocks = s->live_blocks;
                l->stack_id = s->stack_id;
                stack_idx = s->stack_idx;
            }
            if (l->blocks == 0)
                continue;
            l->pid = d->pid;
            l->image = proc->image;
            if ((rc = lk_user_frames(sym, d, &d->stacks[stack_idx], &l->frames, &l->nframes,
                                  &l->trimmed)) < 0)
                return rc;
            r->nleaks++;
            if ((l->key = lk_baseline_leak_key(l->kind, l->family, l->frames,
                                               l->nframes)) == NULL)
                return -ENOMEM;
            l->suppressed_by = lk_supp_match(&r->supps, l->frames, l->nframes);
            if (l->suppressed_by != NULL) {
                l->suppressed_by->hits++;
                sat_add(&l->suppressed_by->bytes, l->bytes);
                sat_add(&l->suppressed_by->blocks, l->blocks);
                sat_add(&ps->suppressed_bytes, l->bytes);
                sat_add(&ps->suppressed_blocks, l->blocks);
                sat_add(&r->suppressed_bytes, l->bytes);
                sat_add(&r->suppressed_blocks, l->blocks);
                r->suppressed_sites++;
            } else {
                sat_add(&ps->kind_bytes[l->kind], l->bytes);
                sat_add(&ps->kind_blocks[l->kind], l->blocks);
                sat_add(&r->kind_bytes[l->kind], l->bytes);
                sat_add(&r->kind_blocks[l->kind], l->blocks);
                if (l->kind == LK_KIND_REACHABLE)   /* held, not leaked */
                    continue;
                sat_add(&ps->leaked_bytes, l->bytes);
                sat_add(&ps->leaked_blocks, l->blocks);
                ps->leak_sites++;
                sat_add(&r->leaked_bytes, l->bytes);
                sat_add(&r->leaked_blocks, l->blocks);
                r->leak_sites++;
            }
        }
        if ((rc = collect_mismatches(r, d, sym)) < 0)
            return rc;
    }
    if (r->nleaks > 1)
        qsort(r->leaks, r->nleaks, sizeof(*r->leaks), cmp_leak);
    return 0;
}

/* Does leak 'l' count for the gate? */
static bool gate_counts(const lk_leak_t *l, const lk_options_t *opt)
{
    return l->suppressed_by == NULL && (opt->fail_kinds & (1u << l->kind)) != 0;
}

int lk_leaks_gate(lk_report_t *r, const lk_options_t *opt)
{
    uint64_t bytes = 0, sites = 0;

    r->gate_failed = false;
    r->gate_reason[0] = '\0';
    for (size_t i = 0; i < r->nleaks; i++)
        if (gate_counts(&r->leaks[i], opt)) {
            sat_add(&bytes, r->leaks[i].bytes);
            sites++;
        }
    if (r->has_baseline && (r->new_sites > 0 || r->grown_sites > 0)) {
        r->gate_failed = true;
        snprintf(r->gate_reason, sizeof(r->gate_reason),
                 "%" PRIu64 " leak site(s) new and %" PRIu64 " grown since the baseline",
                 r->new_sites, r->grown_sites);
    } else if (opt->has_max_leak_bytes && bytes > opt->max_leak_bytes) {
        r->gate_failed = true;
        snprintf(r->gate_reason, sizeof(r->gate_reason),
                 "%" PRIu64 " byte(s) leaked, more than the budget of %" PRIu64, bytes,
                 opt->max_leak_bytes);
    } else if (opt->fail_on_leak && !opt->has_max_leak_bytes && !r->has_baseline && sites > 0) {
        r->gate_failed = true;
        snprintf(r->gate_reason, sizeof(r->gate_reason),
                 "%" PRIu64 " byte(s) leaked in %" PRIu64 " site(s)", bytes, sites);
    }
    return r->gate_failed ? LK_EXIT_GATE : LK_EXIT_OK;
}

/* The reachability pass's entries (reach.c fills them). */
static void reach_entries_free(lk_report_t *r)
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
    for (size_t i = 0; i < r->nretained; i++)
        free(r->retained[i].module);
    free(r->retained);
    r->retained = NULL;
    r->nretained = 0;
    for (size_t i = 0; i < r->ntops; i++)
        free(r->tops[i].site.frames);
    free(r->tops);
    r->tops = NULL;
    r->ntops = 0;
}

void lk_report_free(lk_report_t *r)
{
    size_t i;

    for (i = 0; i < r->nleaks; i++) {
        free(r->leaks[i].frames);
        free(r->leaks[i].key);
    }
    free(r->leaks);
    for (i = 0; i < r->nmismatches; i++) {
        free(r->mismatches[i].alloc_frames);
        free(r->mismatches[i].free_frames);
    }
    free(r->mismatches);
    for (i = 0; i < r->nprocs; i++)
        free(r->procs[i].crash_frames);
    free(r->procs);
    reach_entries_free(r);
    lk_supp_list_free(&r->supps);
    for (i = 0; i < r->nwarnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof(*r));
}
