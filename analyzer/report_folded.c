/* report_folded.c - collapsed stacks for flamegraph.pl and speedscope:
 * one line per distinct stack, "main;caller;callee bytes", outermost first.
 * Frames are function names (with --folded-lines also "[file:line]"), so
 * sites that differ only in lines merge into one line with the summed bytes.
 * Honors --top and --min-bytes like the text report. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct folded_line {
    char *stack;
    size_t first;          /* order of first appearance (largest first) */
    uint64_t bytes;
} folded_line_t;

/* Append one frame name; ';' and ' ' would break the format. */
static void put_name(FILE *out, const lk_frame_t *f, const lk_options_t *opt)
{
    char buf[512];
    const char *s = f->function;

    if (s == NULL) {
        snprintf(buf, sizeof(buf), "%s+0x%" PRIx64,
                 f->module != NULL ? lk_basename(f->module) : "??", f->offset);
        s = buf;
    } else if (!opt->full_names && lk_short_name(buf, sizeof(buf), s) < sizeof(buf)) {
        s = buf;
    }
    for (; *s != '\0' && *s != '@'; s++)
        fputc(*s == ';' || *s == ' ' ? '_' : *s, out);
    if (opt->folded_lines && f->file != NULL) {
        fputc('[', out);
        for (s = lk_basename(f->file); *s != '\0'; s++)
            fputc(*s == ';' || *s == ' ' ? '_' : *s, out);
        fprintf(out, ":%d]", f->line);
    }
}

static int by_stack(const void *a, const void *b)
{
    const folded_line_t *x = a, *y = b;
    int c = strcmp(x->stack, y->stack);
    return c != 0 ? c : (x->first > y->first) - (x->first < y->first);
}

static int by_first(const void *a, const void *b)
{
    const folded_line_t *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

int lk_report_folded(FILE *out, const lk_report_t *r, const lk_options_t *opt)
{
    folded_line_t *v = calloc(r->nleaks > 0 ? r->nleaks : 1, sizeof(*v));
    size_t n = 0, rank = 0;
    int rc = 0;

    if (v == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (l->suppressed_by != NULL || (opt->show_kinds & (1u << l->kind)) == 0
            || !lk_report_is_shown(l, rank++, opt))
            continue;
        size_t len = 0;
        FILE *m = open_memstream(&v[n].stack, &len);
        if (m == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t k = l->nframes; k-- > 0;) {
            put_name(m, &l->frames[k], opt);
            if (k > 0)
                fputc(';', m);
        }
        if (fclose(m) != 0 || v[n].stack == NULL) {
            free(v[n].stack);
            rc = -ENOMEM;
            goto out;
        }
        v[n].first = n;
        v[n].bytes = l->bytes;
        n++;
    }
    /* merge identical stacks into the first of them, then restore the order */
    qsort(v, n, sizeof(*v), by_stack);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(v[w - 1].stack, v[i].stack) == 0) {
            v[w - 1].bytes = lk_sat_add(v[w - 1].bytes, v[i].bytes);
            free(v[i].stack);
            continue;
        }
        v[w++] = v[i];
    }
    n = w;
    qsort(v, n, sizeof(*v), by_first);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s %" PRIu64 "\n", v[i].stack, v[i].bytes);
    if (fflush(out) != 0 || ferror(out))
        rc = -EIO;
out:
    for (size_t i = 0; i < n; i++)
        free(v[i].stack);
    free(v);
    return rc;
}
