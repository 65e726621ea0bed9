/* report_junit.c - leak-analyze's JUnit XML report (--format=junit), which
 * Jenkins, GitLab and GitHub test reporters read: one testsuite per run, one
 * testcase per process, failed when the gate trips for that process, with
 * the leak summary as the failure text. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report_ci.h"

/* Leak sites listed in one failure text; the rest are counted. */
#define MAX_LISTED 20

/* Write 's' as XML 1.0 character data or attribute value: the five markup
 * characters as entities, and what XML 1.0 cannot carry (control
 * characters but tab and newline, U+FFFE/U+FFFF, invalid UTF-8) as '?'. */
static void put_xml(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

    while (*p != '\0') {
        unsigned char c = *p;
        int len = 1;
        if (c == '&') fputs("&amp;", out);
        else if (c == '<') fputs("&lt;", out);
        else if (c == '>') fputs("&gt;", out);
        else if (c == '"') fputs("&quot;", out);
        else if (c == '\'') fputs("&apos;", out);
        else if (c == '\t' || c == '\n') putc(c, out);
        else if (c < 0x20 || c == 0x7f) putc('?', out);
        else if (c < 0x80) putc(c, out);
        else {
            len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 && c < 0xf0 ? 3
                : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            int k = 1;
            while (len > 0 && k < len && (p[k] & 0xc0) == 0x80)
                k++;
            bool nonchar = len == 3 && c == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf);
            bool c1 = len == 2 && c == 0xc2 && p[1] < 0xa0;   /* C1 controls */
            if (len == 0 || k < len) {
                putc('?', out);
                len = 1;
            } else if (nonchar || c1) {
                putc('?', out);
            } else {
                fwrite(p, 1, (size_t)len, out);
            }
        }
        p += len;
    }
}

/* What the gate counts of one process, 'pid' in program image 'image' (as
 * lk_leaks_gate does). */
typedef struct proc_gate {
    uint64_t bytes, sites, changed;     /* changed: new or grown since the baseline */
} proc_gate_t;

static proc_gate_t gate_of(const lk_report_t *r, const lk_options_t *opt, int pid,
                           unsigned image)
{
    proc_gate_t g = { 0 };

    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (l->pid != pid || l->image != image || l->suppressed_by != NULL)
            continue;
        if (opt->fail_kinds & (1u << l->kind)) {
            g.bytes = lk_sat_add(g.bytes, l->bytes);
            g.sites++;
        }
        if (l->kind != LK_KIND_REACHABLE && (l->is_new || l->has_grown))
            g.changed++;
    }
    return g;
}

/* Does the gate trip for this process?  A budget is the run's: every
 * process that leaked counted bytes fails when the run is over it, so the
 * report fails exactly when the exit status is 1. */
static bool proc_fails(const lk_report_t *r, const lk_options_t *opt, const proc_gate_t *g,
                       char *why, size_t len)
{
    if (!r->gate_failed)
        return false;
    if (r->has_baseline) {
        snprintf(why, len, "%" PRIu64 " leak site(s) new or grown since the baseline",
                 g->changed);
        return g->changed > 0;
    }
    if (opt->has_max_leak_bytes) {
        snprintf(why, len, "%" PRIu64 " byte(s) leaked here; %s", g->bytes, r->gate_reason);
        return g->bytes > 0;
    }
    snprintf(why, len, "%" PRIu64 " byte(s) leaked in %" PRIu64 " site(s)", g->bytes, g->sites);
    return g->sites > 0;
}

/* The failure text: one line per counted leak site, its top frames. */
static void put_summary(FILE *out, const lk_report_t *r, const lk_options_t *opt, int pid,
                        unsigned image)
{
    size_t listed = 0, more = 0;
    char line[1280];

    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (l->pid != pid || l->image != image || l->suppressed_by != NULL
            || !(opt->fail_kinds & (1u << l->kind)))
            continue;
        if (r->has_baseline && !l->is_new && !l->has_grown)
            continue;
        if (listed == MAX_LISTED) {
            more++;
            continue;
        }
        listed++;
        snprintf(line, sizeof(line), "%s %" PRIu64 " byte(s) in %" PRIu64 " object(s) (%s)%s\n",
                 lk_kind_lead(l->kind), l->bytes, l->blocks, lk_family_name(l->family),
                 l->is_new ? ", new" : l->has_grown ? ", grown" : "");
        put_xml(out, line);
        for (size_t f = 0; f < l->nframes && f < 8; f++) {
            const lk_frame_t *fr = &l->frames[f];
            if (fr->file != NULL)
                snprintf(line, sizeof(line), "    #%zu %s %s:%d\n", f,
                         fr->function != NULL ? fr->function : "??", fr->file, fr->line);
            else
                snprintf(line, sizeof(line), "    #%zu %s (%s)\n", f,
                         fr->function != NULL ? fr->function : "??",
                         fr->module != NULL ? fr->module : "?");
            put_xml(out, line);
        }
    }
    if (more > 0)
        fprintf(out, "... and %zu more leak site(s)\n", more);
}

/* The program as invoked (as ps names it), else its executable's name. */
static const char *proc_name(const lk_proc_summary_t *p)
{
    return p->name != NULL ? p->name : p->exe != NULL ? lk_basename(p->exe) : "?";
}

int lk_report_junit(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    size_t failures = 0;
    char why[256];

    for (size_t i = 0; i < r->nprocs; i++) {
        proc_gate_t g = gate_of(r, opt, r->procs[i].pid, r->procs[i].image);
        failures += proc_fails(r, opt, &g, why, sizeof(why));
    }
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"leak-analyze\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n"
            "  <testsuite name=\"leak-analyze\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
            "skipped=\"0\">\n", r->nprocs, failures, r->nprocs, failures);
    for (size_t i = 0; i < r->nprocs; i++) {
        const lk_proc_summary_t *p = &r->procs[i];
        const char *exe = proc_name(p);
        proc_gate_t g = gate_of(r, opt, p->pid, p->image);
        bool fails = proc_fails(r, opt, &g, why, sizeof(why));

        /* a name that stays the same run after run, so that CI keeps the
         * test's history: the program, numbered when several processes
         * ran it (in the report's order); the pid goes to system-out */
        size_t nth = 0, same = 0;
        for (size_t k = 0; k < r->nprocs; k++) {
            if (strcmp(proc_name(&r->procs[k]), exe) == 0) {
                same++;
                nth += k < i;
            }
        }
        fputs("    <testcase classname=\"libleak.", out);
        put_xml(out, exe);
        fputs("\" name=\"leaks in ", out);
        put_xml(out, exe);
        if (same > 1)
            fprintf(out, " #%zu", nth + 1);
        fputs("\">\n", out);
        if (fails) {
            fputs("      <failure type=\"leak\" message=\"", out);
            put_xml(out, why);
            fputs("\">", out);
            put_summary(out, r, opt, p->pid, p->image);
            fputs("</failure>\n", out);
        }
        uint64_t bytes, blocks;
        lk_report_counted(p->kind_bytes, p->kind_blocks, opt, &bytes, &blocks);
        fputs("      <system-out>", out);
        fprintf(out, "process %d: %" PRIu64 " byte(s) leaked in %" PRIu64 " allocation(s) at %"
                PRIu64 " site(s); %" PRIu64 " byte(s) suppressed; %zu dump(s)", p->pid, bytes,
                blocks, g.sites, p->suppressed_bytes, p->ndumps);
        if (p->crash_signal != 0)
            fprintf(out, "; died of %s", lk_signal_name(p->crash_signal));
        fputs("</system-out>\n    </testcase>\n", out);
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
