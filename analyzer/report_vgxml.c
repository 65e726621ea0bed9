/* report_vgxml.c - --format=valgrind-xml: memcheck's XML output, protocol 4,
 * with one <error> per shown leak site (kinds Leak_DefinitelyLost,
 * Leak_IndirectlyLost, Leak_PossiblyLost, Leak_StillReachable), so that the
 * Jenkins Valgrind plugin, IDEs and scripts that read memcheck's XML read
 * ours unchanged.  The structure mirrors `valgrind --xml=yes` 3.19.  Prints
 * only; every string from a dump is escaped for XML. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "report_formats.h"

/* One element on its own line: INDENT<tag>escaped text</tag>. */
static void xml_elem(FILE *out, const char *indent, const char *tag, const char *text)
{
    fprintf(out, "%s<%s>", indent, tag);
    lk_fput_xml(out, text);
    fprintf(out, "</%s>\n", tag);
}

static const char *vg_kind(lk_kind_t k)
{
    switch (k) {
    case LK_KIND_INDIRECT:  return "Leak_IndirectlyLost";
    case LK_KIND_POSSIBLE:  return "Leak_PossiblyLost";
    case LK_KIND_REACHABLE: return "Leak_StillReachable";
    /* valgrind has no kind for unknown reachability: unfreed keeps
     * DefinitelyLost, which parsers know, and vg_words() says unfreed */
    default:                return "Leak_DefinitelyLost";
    }
}

static const char *vg_words(lk_kind_t k)
{
    switch (k) {
    case LK_KIND_INDIRECT:  return "are indirectly lost";
    case LK_KIND_POSSIBLE:  return "are possibly lost";
    case LK_KIND_REACHABLE: return "are still reachable";
    case LK_KIND_UNFREED:   return "are unfreed (not scanned for reachability)";
    default:                return "are definitely lost";
    }
}

/* valgrind's numbers in <text> have thousands separators ("3,000"). */
static const char *commas(char *buf, size_t len, uint64_t v)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    size_t o = 0;

    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static void put_frame(FILE *out, const lk_frame_t *f)
{
    fprintf(out, "    <frame>\n      <ip>0x%" PRIX64 "</ip>\n", f->address);
    if (f->module != NULL)
        xml_elem(out, "      ", "obj", f->module);
    if (f->function != NULL)
        xml_elem(out, "      ", "fn", f->function);
    if (f->file != NULL) {
        /* memcheck splits the path into <dir> and <file>; the dump's path is
         * as the compiler recorded it, so <dir> may be relative */
        const char *slash = strrchr(f->file, '/');
        if (slash != NULL && slash > f->file) {
            fprintf(out, "      <dir>");
            char *dir = strndup(f->file, (size_t)(slash - f->file));
            lk_fput_xml(out, dir != NULL ? dir : "?");
            free(dir);
            fprintf(out, "</dir>\n");
        }
        xml_elem(out, "      ", "file", slash != NULL ? slash + 1 : f->file);
        if (f->line > 0)
            fprintf(out, "      <line>%d</line>\n", f->line);
    }
    fprintf(out, "    </frame>\n");
}

/* What lost structures add to the record of their head's site: memcheck
 * counts them in it ("160 (64 direct, 96 indirect) bytes").  Sorted by
 * head, so each leak finds its own in O(log n) even in a hostile dump. */
typedef struct vg_extra {
    int pid;
    uint64_t stack_id;
    lk_family_t family;
    uint64_t bytes;
} vg_extra_t;

static int extra_cmp(const void *a, const void *b)
{
    const vg_extra_t *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->stack_id != y->stack_id)
        return x->stack_id < y->stack_id ? -1 : 1;
    return (x->family > y->family) - (x->family < y->family);
}

/* One entry per head site, its structures' bytes beyond the head summed;
 * *n is their count.  NULL with *n 0 when there is nothing (or no memory). */
static vg_extra_t *extras_new(const lk_report_t *r, size_t *n)
{
    vg_extra_t *v = r->nstructures > 0 ? calloc(r->nstructures, sizeof(*v)) : NULL;
    size_t k = 0;

    *n = 0;
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < r->nstructures; i++) {
        const lk_structure_report_t *s = &r->structures[i];
        /* head.bytes is 0 when the head is not among the listed members */
        if (!s->head.has_stack || s->head.bytes == 0 || s->bytes <= s->head.bytes)
            continue;
        v[k++] = (vg_extra_t){ s->pid, s->head.stack_id, s->head.family,
                               s->bytes - s->head.bytes };
    }
    qsort(v, k, sizeof(*v), extra_cmp);
    size_t o = 0;
    for (size_t i = 0; i < k; i++) {
        if (o > 0 && extra_cmp(&v[o - 1], &v[i]) == 0)
            v[o - 1].bytes = lk_sat_add(v[o - 1].bytes, v[i].bytes);
        else
            v[o++] = v[i];
    }
    *n = o;
    return v;
}

static uint64_t indirect_of(const vg_extra_t *v, size_t n, const lk_leak_t *l)
{
    vg_extra_t key = { l->pid, l->stack_id, l->family, 0 };

    if (l->kind != LK_KIND_DEFINITE || n == 0)
        return 0;
    const vg_extra_t *hit = bsearch(&key, v, n, sizeof(*v), extra_cmp);
    return hit != NULL ? hit->bytes : 0;
}

typedef struct vg_rec {
    const lk_leak_t *leak;
    uint64_t indirect, total;
    size_t order;
} vg_rec_t;

/* memcheck numbers loss records from the smallest to the largest. */
static int rec_cmp(const void *a, const void *b)
{
    const vg_rec_t *x = a, *y = b;
    if (x->total != y->total)
        return x->total < y->total ? -1 : 1;
    if (x->leak->blocks != y->leak->blocks)
        return x->leak->blocks < y->leak->blocks ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void put_record(FILE *out, const vg_rec_t *rec, size_t unique, size_t idx, size_t n)
{
    const lk_leak_t *l = rec->leak;
    char b1[32], b2[32], b3[32], b4[32];

    fprintf(out, "<error>\n  <unique>0x%zx</unique>\n  <tid>1</tid>\n  <kind>%s</kind>\n"
            "  <xwhat>\n    <text>", unique, vg_kind(l->kind));
    if (rec->indirect > 0)
        fprintf(out, "%s (%s direct, %s indirect) bytes", commas(b1, sizeof(b1), rec->total),
                commas(b2, sizeof(b2), l->bytes), commas(b3, sizeof(b3), rec->indirect));
    else
        fprintf(out, "%s bytes", commas(b1, sizeof(b1), l->bytes));
    fprintf(out, " in %s blocks %s in loss record %zu of %zu</text>\n",
            commas(b4, sizeof(b4), l->blocks), vg_words(l->kind), idx + 1, n);
    fprintf(out, "    <leakedbytes>%" PRIu64 "</leakedbytes>\n"
            "    <leakedblocks>%" PRIu64 "</leakedblocks>\n  </xwhat>\n  <stack>\n",
            rec->total, l->blocks);
    for (size_t i = 0; i < l->nframes; i++)
        put_frame(out, &l->frames[i]);
    fprintf(out, "  </stack>\n</error>\n\n");
}

/* A wrong deallocator, as memcheck reports it while the program runs: the
 * freeing stack, then the allocating one.  The dump has no block address,
 * so <auxwhat> names the size only; memcheck's repeats of one error are
 * the <errorcounts> count. */
static void put_mismatch(FILE *out, const lk_mismatch_report_t *m, size_t unique)
{
    char b1[32], b2[32];

    fprintf(out, "<error>\n  <unique>0x%zx</unique>\n  <tid>1</tid>\n"
            "  <kind>MismatchedFree</kind>\n"
            "  <what>Mismatched free() / delete / delete []</what>\n  <stack>\n", unique);
    for (size_t i = 0; i < m->nfree; i++)
        put_frame(out, &m->free_frames[i]);
    if (m->count == 1)
        fprintf(out, "  </stack>\n  <auxwhat>A block of size %s alloc'd</auxwhat>\n  <stack>\n",
                commas(b1, sizeof(b1), m->bytes));
    else
        fprintf(out, "  </stack>\n  <auxwhat>%s blocks of %s bytes in all alloc'd</auxwhat>\n"
                "  <stack>\n", commas(b1, sizeof(b1), m->count), commas(b2, sizeof(b2), m->bytes));
    for (size_t i = 0; i < m->nalloc; i++)
        put_frame(out, &m->alloc_frames[i]);
    fprintf(out, "  </stack>\n</error>\n\n");
}

/* memcheck's clock: "DD:HH:MM:SS.mmm " since the start. */
static void put_status(FILE *out, const char *state, uint64_t ns)
{
    uint64_t ms = ns / 1000000, s = ms / 1000;
    fprintf(out, "<status>\n  <state>%s</state>\n  <time>%02" PRIu64 ":%02" PRIu64 ":%02"
            PRIu64 ":%02" PRIu64 ".%03" PRIu64 " </time>\n</status>\n\n", state,
            s / 86400, s / 3600 % 24, s / 60 % 60, s % 60, ms % 1000);
}

int lk_report_vgxml(FILE *out, const lk_report_t *r, const lk_options_t *opt,
                    const lk_input_t *in)
{
    const lk_proc_summary_t *ps = r->nprocs > 0 ? &r->procs[0] : NULL;
    uint64_t uptime = 0;
    vg_rec_t *recs = r->nleaks > 0 ? calloc(r->nleaks, sizeof(*recs)) : NULL;
    size_t n = 0, rank = 0;

    size_t nextra;
    vg_extra_t *extra = extras_new(r, &nextra);

    if ((r->nleaks > 0 && recs == NULL) || (r->nstructures > 0 && extra == NULL)) {
        free(recs);
        free(extra);
        return -ENOMEM;
    }
    for (size_t i = 0; i < in->nprocs; i++) {
        const lk_process_t *p = &in->procs[i];
        if (p->ndumps > 0 && p->dumps[p->ndumps - 1]->uptime_ns > uptime)
            uptime = p->dumps[p->ndumps - 1]->uptime_ns;
    }
    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (l->suppressed_by != NULL || (opt->show_kinds & (1u << l->kind)) == 0
            || !lk_report_is_shown(l, rank++, opt))
            continue;
        recs[n].leak = l;
        recs[n].indirect = indirect_of(extra, nextra, l);
        recs[n].total = lk_sat_add(l->bytes, recs[n].indirect);
        recs[n].order = n;
        n++;
    }
    free(extra);
    if (n > 1)
        qsort(recs, n, sizeof(*recs), rec_cmp);

    fprintf(out, "<?xml version=\"1.0\"?>\n\n<valgrindoutput>\n\n"
            "<protocolversion>4</protocolversion>\n<protocoltool>memcheck</protocoltool>\n\n"
            "<preamble>\n");
    fprintf(out, "  <line>leak-analyze %s: libleak dumps in memcheck's XML</line>\n",
            LIBLEAK_TOOL_VERSION);
    fprintf(out, "  <line>Command: ");
    lk_fput_xml(out, ps != NULL && ps->exe != NULL ? ps->exe : "?");
    fprintf(out, "</line>\n");
    if (r->nprocs > 1) {   /* memcheck writes one file per process; we merge them */
        fprintf(out, "  <line>Processes:");
        for (size_t i = 0; i < r->nprocs; i++)
            fprintf(out, " %d", r->procs[i].pid);
        fprintf(out, "</line>\n");
    }
    fprintf(out, "</preamble>\n\n<pid>%d</pid>\n<ppid>%d</ppid>\n<tool>memcheck</tool>\n\n"
            "<args>\n  <vargv>\n    <exe>leak-analyze</exe>\n  </vargv>\n  <argv>\n",
            ps != NULL ? ps->pid : 0, ps != NULL ? ps->ppid : 0);
    xml_elem(out, "    ", "exe", ps != NULL && ps->exe != NULL ? ps->exe : "?");
    fprintf(out, "  </argv>\n</args>\n\n");
    put_status(out, "RUNNING", 0);
    for (size_t i = 0; i < r->nmismatches; i++)
        put_mismatch(out, &r->mismatches[i], i);
    put_status(out, "FINISHED", uptime);
    for (size_t i = 0; i < n; i++)
        put_record(out, &recs[i], r->nmismatches + i, i, n);
    free(recs);
    /* memcheck counts only non-leak errors here, the latest first */
    fprintf(out, "<errorcounts>\n");
    for (size_t i = r->nmismatches; i-- > 0;)
        fprintf(out, "  <pair>\n    <count>%" PRIu64 "</count>\n    <unique>0x%zx</unique>\n"
                "  </pair>\n", r->mismatches[i].count, i);
    fprintf(out, "</errorcounts>\n\n<suppcounts>\n");
    for (size_t i = 0; i < r->supps.n; i++) {
        const lk_supp_t *s = &r->supps.v[i];
        if (s->hits == 0)
            continue;
        char rule[1024];
        fprintf(out, "  <pair>\n    <count>%" PRIu64 "</count>\n", s->hits);
        xml_elem(out, "    ", "name", lk_supp_text(s, rule, sizeof(rule)));
        fprintf(out, "  </pair>\n");
    }
    fprintf(out, "</suppcounts>\n\n</valgrindoutput>\n\n");
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
