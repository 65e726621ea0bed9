/* report_folded.c - collapsed stacks for flamegraph.pl and speedscope:
 * one line per leak site, "main;caller;callee bytes", outermost first.
 * Honors --top and --min-bytes like the text report. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "model.h"

/* Print one frame name; ';' and ' ' would break the format. */
static void put_name(FILE *out, const lk_frame_t *f)
{
    char buf[64];
    const char *s = f->function;

    if (s == NULL) {
        snprintf(buf, sizeof(buf), "%s+0x%" PRIx64,
                 f->module != NULL ? lk_basename(f->module) : "??", f->offset);
        s = buf;
    }
    for (; *s != '\0' && *s != '@'; s++)
        fputc(*s == ';' || *s == ' ' ? '_' : *s, out);
}

int lk_report_folded(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    size_t rank = 0;

    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (l->suppressed_by != NULL || (opt->show_kinds & (1u << l->kind)) == 0
            || !lk_report_is_shown(l, rank++, opt))
            continue;
        for (size_t k = l->nframes; k-- > 0;) {
            put_name(out, &l->frames[k]);
            if (k > 0)
                fputc(';', out);
        }
        fprintf(out, " %" PRIu64 "\n", l->bytes);
    }
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
