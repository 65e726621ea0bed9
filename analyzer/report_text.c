/* report_text.c - the report people read, in LeakSanitizer's words:
 * "Direct leak of N byte(s) in M object(s) allocated from:", frames as
 * "#i 0xADDR in function file:line", valgrind's mismatch heading, the
 * suppressions used, and one SUMMARY line.  Prints only; decides nothing. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
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
    fprintf(out, "%s%s %" PRIu64 " byte(s) in %" PRIu64 " object(s) allocated from:%s\n",
            col(opt, soft ? C_SOFT : C_HEAD), lk_kind_lead(l->kind), l->bytes, l->blocks,
            col(opt, C_OFF));
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
        char rule[1024];
        fprintf(out, "%7" PRIu64 " %10" PRIu64 " %s\n", s->hits, s->bytes,
                lk_supp_text(s, rule, sizeof(rule)));
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

/* "== process 7 (/usr/bin/sort), ..." or, when the program was invoked by
 * another name (a symlink), "== process 7 (redis-server, exe
 * /usr/bin/redis-check-rdb), ...": the name ps shows, and the file whose
 * symbols the stacks are. */
static void print_process_head(FILE *out, const lk_proc_summary_t *ps)
{
    const char *exe = ps->exe != NULL ? ps->exe : "?";
    fprintf(out, "== process %d (", ps->pid);
    if (ps->name != NULL && strcmp(ps->name, lk_basename(exe)) != 0)
        fprintf(out, "%s, exe ", ps->name);
    fprintf(out, "%s), %zu dump(s), final dump %" PRIu64 " (%s) ==\n\n", exe, ps->ndumps,
            ps->final_seq, ps->final_trigger);
}

int lk_report_text(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    bool multi = r->nprocs > 1;

    for (size_t p = 0; p < r->nprocs; p++) {
        const lk_proc_summary_t *ps = &r->procs[p];
        size_t rank = 0;
        if (multi)
            print_process_head(out, ps);
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
        if (multi) {
            uint64_t bytes, blocks;
            lk_report_counted(ps->kind_bytes, ps->kind_blocks, opt, &bytes, &blocks);
            fprintf(out, "SUMMARY: process %d: %" PRIu64 " byte(s) leaked in %" PRIu64
                    " allocation(s).\n\n", ps->pid, bytes, blocks);
        }
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
    /* the readable total; the SUMMARY line below stays LSan's, for grep;
     * both count the kinds the gate counts */
    char human[96], nblocks[32];
    uint64_t bytes, blocks;
    lk_report_counted(r->kind_bytes, r->kind_blocks, opt, &bytes, &blocks);
    fprintf(out, "Leaked: %s in %s %s.\n", lk_fmt_bytes(human, sizeof(human), bytes),
            lk_fmt_count(nblocks, sizeof(nblocks), blocks),
            blocks == 1 ? "allocation" : "allocations");
    fprintf(out, "%sSUMMARY: libleak: %" PRIu64 " byte(s) leaked in %" PRIu64 " allocation(s)",
            col(opt, C_NAME), bytes, blocks);
    if (multi)
        fprintf(out, " in %zu processes", r->nprocs);
    fprintf(out, ".%s\n", col(opt, C_OFF));
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}

/* Can "^NAME$" match exactly this name in a leak-stack: rule?  '*' would be
 * a wildcard and ';' ends a frame; names are escaped already, so a control
 * character means a bug upstream. */
static bool rule_safe(const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (name[i] == '*' || name[i] == ';' || (unsigned char)name[i] < 0x20
            || name[i] == 0x7f)
            return false;
    return n > 0;
}

/* One generated rule and the leaks it stands for. */
typedef struct gen_rule {
    char *text;             /* NULL: no frame could be named */
    size_t first;           /* index of its first leak in r->leaks */
    uint64_t bytes, blocks, sites;
} gen_rule_t;

/* The leak-stack: rule of one leak: frame #i as its exact function name
 * (else its module), '*' for a frame that has neither or cannot be named;
 * NULL when no frame is named (such a rule would hide any stack). */
static char *stack_rule(const lk_leak_t *l)
{
    char *buf = NULL;
    size_t len = 0;
    bool named = false;
    FILE *m = open_memstream(&buf, &len);

    if (m == NULL)
        return NULL;
    fputs("leak-stack:", m);
    for (size_t i = 0; i < l->nframes && i < LK_SUPP_STACK_MAX; i++) {
        const lk_frame_t *f = &l->frames[i];
        const char *name = f->function != NULL ? f->function : f->module;
        size_t n = name == NULL ? 0 : f->function != NULL ? strcspn(name, "@") : strlen(name);
        if (i > 0)
            fputc(';', m);
        if (name != NULL && rule_safe(name, n)) {
            fprintf(m, "^%.*s$", (int)n, name);
            named = true;
        } else {
            fputc('*', m);
        }
    }
    if (fclose(m) != 0 || !named) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int cmp_rule_text(const void *a, const void *b)
{
    const gen_rule_t *x = a, *y = b;
    int c = strcmp(x->text != NULL ? x->text : "", y->text != NULL ? y->text : "");
    if (c != 0)
        return c;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int cmp_rule_first(const void *a, const void *b)
{
    const gen_rule_t *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

int lk_report_suppressions(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    gen_rule_t *v = calloc(r->nleaks + 1, sizeof(*v));
    size_t nv = 0, rank = 0, kept = 0;
    int rc = 0;

    if (v == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (l->suppressed_by != NULL || (opt->show_kinds & (1u << l->kind)) == 0)
            continue;
        if (!lk_report_is_shown(l, rank++, opt) || l->nframes == 0)
            continue;
        v[nv] = (gen_rule_t){ .text = stack_rule(l), .first = i, .bytes = l->bytes,
                              .blocks = l->blocks, .sites = 1 };
        nv++;
    }
    /* one line per distinct rule (kinds of one stack, lines of one
     * function), credited with all its sites, in report order */
    qsort(v, nv, sizeof(*v), cmp_rule_text);
    for (size_t i = 0; i < nv; i++) {
        if (kept > 0 && v[i].text != NULL && v[kept - 1].text != NULL
            && strcmp(v[i].text, v[kept - 1].text) == 0) {
            gen_rule_t *k = &v[kept - 1];
            k->bytes = lk_sat_add(k->bytes, v[i].bytes);
            k->blocks = lk_sat_add(k->blocks, v[i].blocks);
            k->sites++;
            free(v[i].text);
            continue;
        }
        v[kept++] = v[i];
    }
    qsort(v, kept, sizeof(*v), cmp_rule_first);

    fprintf(out, "# leak-analyze --gen-suppressions: one rule per reported leak stack, frame #0\n"
                 "# first (leak-stack: is libleak's; LeakSanitizer reads only leak: rules).\n"
                 "# Use with: leak-analyze --suppressions FILE\n");
    for (size_t i = 0; i < kept; i++) {
        const lk_frame_t *f = &r->leaks[v[i].first].frames[0];
        fprintf(out, "# %" PRIu64 " byte(s) in %" PRIu64 " object(s)", v[i].bytes, v[i].blocks);
        if (v[i].sites > 1)
            fprintf(out, " in %" PRIu64 " sites", v[i].sites);
        if (f->file != NULL)
            fprintf(out, " at %s:%d", f->file, f->line);
        fputc('\n', out);
        if (v[i].text == NULL)
            fprintf(out, "# (no frame has a name a rule can match exactly; no rule)\n");
        else
            fprintf(out, "%s\n", v[i].text);
        free(v[i].text);
    }
    free(v);
    if (fflush(out) != 0 || ferror(out))
        rc = -EIO;
    return rc;
}
