/* report_lsan.c - --format=lsan: the text standalone LeakSanitizer prints at
 * exit, per process, so that scripts that grep LSan logs work unchanged:
 * the "====" rule, "==PID==ERROR: LeakSanitizer: detected memory leaks",
 * one "Direct leak of ..." / "Indirect leak of ..." record per site with
 * "    #N 0xADDR in FN FILE:LINE" frames, and "SUMMARY: LeakSanitizer: N
 * byte(s) leaked in M allocation(s).".  LSan treats interior pointers as
 * references and has no "still reachable" report, so possible and reachable
 * entries are left out, as LSan leaves them out.  Prints only. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "model.h"
#include "report_formats.h"

/* Dump text is untrusted: control characters and invalid UTF-8 as \xNN. */
static void put_text(FILE *out, const char *s)
{
    char *esc = lk_is_printable(s) ? NULL : lk_escape_dup(s);

    fputs(esc != NULL ? esc : lk_is_printable(s) ? s : "?", out);
    free(esc);
}

/* LSan's "    #%n %p %F %L": "in FN" only when known, then file:line or
 * (module+0xoffset). */
static void put_frames(FILE *out, const lk_frame_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "    #%zu 0x%" PRIx64 " ", i, f[i].address);
        if (f[i].function != NULL) {
            fputs("in ", out);
            put_text(out, f[i].function);
        }
        fputc(' ', out);
        if (f[i].file != NULL) {
            put_text(out, f[i].file);
            if (f[i].line > 0)
                fprintf(out, ":%d", f[i].line);
        } else if (f[i].module != NULL) {
            fputc('(', out);
            put_text(out, f[i].module);
            fprintf(out, "+0x%" PRIx64 ")", f[i].offset);
        } else {
            fputs("(<unknown module>)", out);
        }
        fputc('\n', out);
    }
    fputc('\n', out);
}

/* Does LSan report this kind, and under which heading? */
static const char *lsan_heading(lk_kind_t k)
{
    switch (k) {
    case LK_KIND_UNFREED:
    case LK_KIND_DEFINITE: return "Direct leak";
    case LK_KIND_INDIRECT: return "Indirect leak";
    default:               return NULL;
    }
}

int lk_report_lsan(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    for (size_t p = 0; p < r->nprocs; p++) {
        const lk_proc_summary_t *ps = &r->procs[p];
        uint64_t bytes = 0, blocks = 0;
        size_t rank = 0;
        bool any = false;

        for (size_t i = 0; i < r->nleaks; i++) {
            const lk_leak_t *l = &r->leaks[i];
            const char *heading = lsan_heading(l->kind);
            if (l->pid != ps->pid || l->image != ps->image || l->suppressed_by != NULL
                || heading == NULL
                || (opt->show_kinds & (1u << l->kind)) == 0)
                continue;
            if (!any)
                fprintf(out, "=================================================================\n"
                        "==%d==ERROR: LeakSanitizer: detected memory leaks\n\n", ps->pid);
            if (!any && !ps->has_reach)   /* LSan's records have no word for it */
                fprintf(out, "==%d==WARNING: libleak: the final dump has no reachability "
                        "scan: each \"Direct leak\" below is unfreed memory (live at the "
                        "dump), not proven lost\n\n", ps->pid);
            any = true;
            /* like LSan's max_leaks: --top and --min-bytes hide records, not bytes */
            bytes = lk_sat_add(bytes, l->bytes);
            blocks = lk_sat_add(blocks, l->blocks);
            if (!lk_report_is_shown(l, rank++, opt))
                continue;
            fprintf(out, "%s of %" PRIu64 " byte(s) in %" PRIu64 " object(s) allocated from:\n",
                    heading, l->bytes, l->blocks);
            put_frames(out, l->frames, l->nframes);
        }
        if (any)   /* LSan prints nothing at all for a process without leaks */
            fprintf(out, "SUMMARY: LeakSanitizer: %" PRIu64 " byte(s) leaked in %" PRIu64
                    " allocation(s).\n", bytes, blocks);
    }
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
