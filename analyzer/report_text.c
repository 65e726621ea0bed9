/* report_text.c - the report people read, in LeakSanitizer's words:
 * "Direct leak of N byte(s) in M object(s) allocated from:", frames as
 * "#i 0xADDR in function file:line", valgrind's mismatch heading, the
 * suppressions used, and one SUMMARY line.  Prints only; decides nothing. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "model.h"

/* ANSI colors (only with opt->color): leak headings, names, positions. */
#define C_HEAD "\033[1;31m"
#define C_SOFT "\033[1;33m"
#define C_NAME "\033[1m"
#define C_POS "\033[36m"
#define C_OFF "\033[0m"

static const char *col(const lk_options_t *opt, const char *code)
{
    return opt->color ? code : "";
}

/* A function name as the reports show it: long template arguments
 * collapsed unless --full-names. */
static void put_function(FILE *out, const char *name, const lk_options_t *opt)
{
    char buf[512];

    if (name == NULL)
        name = "??";
    if (!opt->full_names && lk_short_name(buf, sizeof(buf), name) < sizeof(buf))
        name = buf;
    fputs(name, out);
}

/* Print frames as LSan does; inlined frames repeat the address. */
static void print_frames(FILE *out, const lk_frame_t *f, size_t n, const lk_options_t *opt)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "    #%zu 0x%" PRIx64 " in %s", i, f[i].address, col(opt, C_NAME));
        put_function(out, f[i].function, opt);
        fputs(col(opt, C_OFF), out);
        if (f[i].file != NULL)
            fprintf(out, " %s%s:%d%s", col(opt, C_POS), f[i].file, f[i].line, col(opt, C_OFF));
        else if (f[i].module != NULL)
            fprintf(out, " (%s+0x%" PRIx64 ")", f[i].module, f[i].offset);
        fputc('\n', out);
    }
    fputc('\n', out);
}

/* valgrind names the deallocator the program called. */
static const char *dealloc_name(lk_family_t f)
{
    switch (f) {
    case LK_FAMILY_NEW: return "delete";
    case LK_FAMILY_NEW_ARRAY: return "delete[]";
    default: return "free()";
    }
}

static const char *alloc_name(lk_family_t f)
{
    switch (f) {
    case LK_FAMILY_NEW: return "new";
    case LK_FAMILY_NEW_ARRAY: return "new[]";
    default: return "malloc()";
    }
}

static void print_mismatches(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    for (size_t i = 0; i < r->nmismatches; i++) {
        const lk_mismatch_report_t *m = &r->mismatches[i];
        fprintf(out, "%sMismatched free() / delete / delete [] (%" PRIu64 " time(s), %" PRIu64
                " byte(s)): allocated by %s, freed by %s%s\n", col(opt, C_SOFT), m->count,
                m->bytes, alloc_name(m->alloc_family), dealloc_name(m->free_family),
                col(opt, C_OFF));
        fprintf(out, "  freed at:\n");
        print_frames(out, m->free_frames, m->nfree, opt);
        fprintf(out, "  allocated at:\n");
        print_frames(out, m->alloc_frames, m->nalloc, opt);
    }
}

static void print_leak(FILE *out, const lk_leak_t *l, const lk_options_t *opt)
{
    if (l->is_new)
        fprintf(out, "New since the baseline:\n");
    else if (l->has_grown)
        fprintf(out, "Grown since the baseline (was %" PRIu64 " byte(s)):\n", l->baseline_bytes);
    /* valgrind: "... are still reachable"; LSan has no such kind */
    bool soft = l->kind == LK_KIND_POSSIBLE || l->kind == LK_KIND_REACHABLE;
    fprintf(out, "%s%s%s %" PRIu64 " byte(s) in %" PRIu64 " object(s) allocated from:%s\n",
            col(opt, soft ? C_SOFT : C_HEAD), lk_kind_heading(l->kind),
            l->kind == LK_KIND_REACHABLE ? ":" : " of", l->bytes, l->blocks, col(opt, C_OFF));
    print_frames(out, l->frames, l->nframes, opt);
}

static void print_supps(FILE *out, const lk_report_t *r)
{
    bool any = false;
    for (size_t i = 0; i < r->supps.n; i++)
        any |= r->supps.v[i].hits > 0;
    if (!any)
        return;
    fprintf(out, "-----------------------------------------------------\n");
    fprintf(out, "Suppressions used:\n");
    fprintf(out, "  count      bytes template\n");
    for (size_t i = 0; i < r->supps.n; i++) {
        const lk_supp_t *s = &r->supps.v[i];
        if (s->hits == 0)
            continue;
        fprintf(out, "%7" PRIu64 " %10" PRIu64 " %s%s\n", s->hits, s->bytes,
                s->builtin != NULL ? "" : "leak:", s->pattern);
    }
    fprintf(out, "-----------------------------------------------------\n\n");
}

/* A process that died of a signal: which, where, and the faulting stack. */
static void print_crash(FILE *out, const lk_proc_summary_t *ps, const lk_options_t *opt)
{
    if (ps->crash_signal == 0)
        return;
    fprintf(out, "%sCRASH: process %d died of %s (signal %d, code %d)", col(opt, C_HEAD), ps->pid,
            lk_signal_name(ps->crash_signal), ps->crash_signal, ps->crash_code);
    if (ps->crash_has_addr)
        fprintf(out, " at address 0x%" PRIx64, ps->crash_addr);
    fprintf(out, "; its leaks are the memory live at the crash.%s\n", col(opt, C_OFF));
    fprintf(out, "  thread %" PRIu64 " crashed at:\n", ps->crash_tid);
    print_frames(out, ps->crash_frames, ps->ncrash_frames, opt);
}

int lk_report_text(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    bool multi = r->nprocs > 1;

    for (size_t p = 0; p < r->nprocs; p++) {
        const lk_proc_summary_t *ps = &r->procs[p];
        size_t rank = 0;
        if (multi)
            fprintf(out, "== process %d (%s), %zu dump(s), final dump %" PRIu64 " (%s) ==\n\n",
                    ps->pid, ps->exe != NULL ? ps->exe : "?", ps->ndumps, ps->final_seq,
                    ps->final_trigger);
        print_crash(out, ps, opt);
        for (size_t i = 0; i < r->nleaks; i++) {
            const lk_leak_t *l = &r->leaks[i];
            /* --top ranks only the kinds --show lets through */
            if (l->pid != ps->pid || l->image != ps->image || l->suppressed_by != NULL
                || (opt->show_kinds & (1u << l->kind)) == 0)
                continue;
            if (lk_report_is_shown(l, rank, opt))
                print_leak(out, l, opt);
            rank++;
        }
        if ((opt->show_kinds & LK_SHOW_INHERITED) != 0 && ps->inherited_from_pid != 0)
            fprintf(out, "Inherited: process %d holds %" PRIu64 " byte(s) in %" PRIu64
                    " block(s) allocated before it was forked from process %" PRIu64
                    " (not its leaks; the parent's dumps have their stacks).\n\n",
                    ps->pid, ps->inherited_bytes, ps->inherited_blocks,
                    ps->inherited_from_pid);
        lk_report_reach_text(out, r, opt, ps->pid, ps->image);
        lk_report_growth_text(out, r, ps->pid, ps->image);
        if (multi)
            fprintf(out, "SUMMARY: process %d: %" PRIu64 " byte(s) leaked in %" PRIu64
                    " allocation(s).\n\n", ps->pid, ps->leaked_bytes, ps->leaked_blocks);
    }
    print_mismatches(out, r, opt);
    print_supps(out, r);
    lk_report_reach_summary(out, r);   /* per-kind totals */
    if (r->has_baseline)
        fprintf(out, "Baseline: %" PRIu64 " new and %" PRIu64 " grown leak site(s).\n",
                r->new_sites, r->grown_sites);
    if (r->estimated)
        fprintf(out, "Note: sampled run (LIBLEAK_SAMPLE_BYTES): byte and block figures are "
                "estimates.\n");
    /* the readable total; the SUMMARY line below stays LSan's, for grep */
    char human[96], blocks[32];
    fprintf(out, "Leaked: %s in %s %s.\n", lk_fmt_bytes(human, sizeof(human), r->leaked_bytes),
            lk_fmt_count(blocks, sizeof(blocks), r->leaked_blocks),
            r->leaked_blocks == 1 ? "allocation" : "allocations");
    fprintf(out, "%sSUMMARY: libleak: %" PRIu64 " byte(s) leaked in %" PRIu64 " allocation(s)",
            col(opt, C_NAME), r->leaked_bytes, r->leaked_blocks);
    if (multi)
        fprintf(out, " in %zu processes", r->nprocs);
    fprintf(out, ".%s\n", col(opt, C_OFF));
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}

/* Can "leak:^NAME$" match exactly this name?  A '*' would be a wildcard;
 * names are escaped already, so a control character means a bug upstream. */
static bool rule_safe(const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (name[i] == '*' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return n > 0;
}

int lk_report_suppressions(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    size_t rank = 0;

    fprintf(out, "# leak-analyze --gen-suppressions: one rule per reported leak site.\n"
                 "# Use with: leak-analyze --suppressions FILE (or LSAN_OPTIONS=suppressions=FILE)\n");
    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (l->suppressed_by != NULL || (opt->show_kinds & (1u << l->kind)) == 0)
            continue;
        if (!lk_report_is_shown(l, rank++, opt) || l->nframes == 0)
            continue;
        const lk_frame_t *f = &l->frames[0];
        fprintf(out, "# %" PRIu64 " byte(s) in %" PRIu64 " object(s)", l->bytes, l->blocks);
        if (f->file != NULL)
            fprintf(out, " at %s:%d", f->file, f->line);
        fputc('\n', out);
        const char *name = f->function != NULL ? f->function : f->module;
        int n = f->function != NULL ? (int)strcspn(name, "@") : name != NULL ? (int)strlen(name) : 0;
        if (name == NULL)
            fprintf(out, "# (no symbol or module for this frame; no rule possible)\n");
        else if (!rule_safe(name, (size_t)n))
            fprintf(out, "# (the name holds '*' or a control character, which a rule cannot "
                    "match exactly; no rule)\n");
        else   /* the whole name or path: a substring would hide too much */
            fprintf(out, "leak:^%.*s$\n", n, name);
    }
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
