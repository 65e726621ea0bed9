/* report_html.c - one self-contained HTML page: the JSON report's data,
 * compacted (frames interned once), the growth chart's SVG and the source
 * lines of the leak sites, inside the page, script and style of
 * analyzer/html/ (embedded at build time as lk_html_*).  Nothing is fetched
 * when the page opens; analyzer/html/report.js draws it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "model.h"
#include "report_formats.h"

/* The page's assets: NUL-terminated copies of analyzer/html/ (build/gen). */
extern const char lk_html_template[], lk_html_js[], lk_html_css[];

/* Sites per process the flamegraph takes (by live bytes): keeps a huge
 * final dump to a page that opens. */
#define HTML_MAX_SITES   20000
/* A site the flamegraph takes holds at least 1/HTML_SITE_SHARE of its
 * process's bytes in one view (narrower frames are not drawn); the rest
 * become one "smaller sites" frame. */
#define HTML_SITE_SHARE  2000
/* Reachable or suppressed leak rows, and held-by rows, per process (the
 * largest): a real program has thousands, and the totals stay exact.  With
 * many processes (a shell script, a build) each gets a share of
 * HTML_QUIET_BUDGET rows, but at least HTML_MIN_QUIET. */
#define HTML_MAX_QUIET    300
#define HTML_MIN_QUIET    25
#define HTML_QUIET_BUDGET 2000
/* Leak sites whose allocating line is read from disk, and its context. */
#define HTML_MAX_SOURCES 200
#define HTML_CONTEXT     3
#define HTML_MAX_SOURCE_BYTES (8u << 20)

/* Interned strings, frames and stacks (frame lists): arrays, each looked
 * up by a key in its index object. */
typedef struct intern {
    json_t *strings, *frames, *stacks, *str_idx, *frame_idx, *stack_idx;
} intern_t;

/* A JSON string of the escaped 's' (dump text is untrusted and may not be
 * UTF-8); NULL is JSON null. */
static json_t *safe_str(const char *s)
{
    if (s == NULL)
        return json_null();
    char *e = lk_escape_dup(s);
    json_t *j = e != NULL ? json_string(e) : NULL;
    free(e);
    return j != NULL ? j : json_string("?");
}

/* The index of 's' in the string table (-1 for NULL). */
static json_int_t intern_str(intern_t *in, const char *s)
{
    if (s == NULL)
        return -1;
    char *e = lk_escape_dup(s);
    if (e == NULL)
        return -1;
    json_t *hit = json_object_get(in->str_idx, e);
    json_int_t idx;
    if (hit != NULL) {
        idx = json_integer_value(hit);
    } else {
        idx = (json_int_t)json_array_size(in->strings);
        json_array_append_new(in->strings, json_string(e));
        json_object_set_new(in->str_idx, e, json_integer(idx));
    }
    free(e);
    return idx;
}

/* The index of frame 'f' in the frame table: [function, file, line, inlined,
 * module], the strings as indices, and the offset in the module when there
 * is no source file. */
static json_int_t intern_frame(intern_t *in, const lk_frame_t *f)
{
    json_int_t fn = intern_str(in, f->function), file = intern_str(in, f->file);
    json_int_t mod = intern_str(in, f->module);
    char key[96];
    snprintf(key, sizeof(key), "%lld/%lld/%d/%d/%lld/%llx", (long long)fn, (long long)file,
             f->line, f->inlined, (long long)mod,
             (unsigned long long)(file < 0 ? f->offset : 0));
    json_t *hit = json_object_get(in->frame_idx, key);
    if (hit != NULL)
        return json_integer_value(hit);
    json_int_t idx = (json_int_t)json_array_size(in->frames);
    json_t *e = json_pack("[I,I,i,i,I]", fn, file, f->line, (int)f->inlined, mod);
    if (e != NULL && file < 0 && f->offset != 0)   /* shown as module+0xoffset */
        json_array_append_new(e, json_integer((json_int_t)f->offset));
    json_array_append_new(in->frames, e);
    json_object_set_new(in->frame_idx, key, json_integer(idx));
    return idx;
}

/* The index of frame list 'f' in the stack table: leaks and sites share
 * their stacks, and the page's size is mostly stacks. */
static json_t *frame_list(intern_t *in, const lk_frame_t *f, size_t n)
{
    json_t *a = json_array();
    char *key = NULL;
    size_t len = 0;
    FILE *k = open_memstream(&key, &len);
    if (a == NULL || k == NULL) {
        if (k != NULL)
            fclose(k);
        json_decref(a);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_int_t fi = intern_frame(in, &f[i]);
        json_array_append_new(a, json_integer(fi));
        fprintf(k, "%lld,", (long long)fi);
    }
    fclose(k);
    json_t *hit = key != NULL ? json_object_get(in->stack_idx, key) : NULL;
    json_int_t idx;
    if (hit != NULL) {
        idx = json_integer_value(hit);
        json_decref(a);
    } else {
        idx = (json_int_t)json_array_size(in->stacks);
        json_array_append_new(in->stacks, a);
        if (key != NULL)
            json_object_set_new(in->stack_idx, key, json_integer(idx));
    }
    free(key);
    return json_integer(idx);
}

/* Count one more row of process 'pid' in program image 'image' in 'counts'
 * ({"pid/image": rows}); true while it has fewer than 'cap' rows counted. */
static bool under_cap(json_t *counts, int pid, unsigned image, json_int_t cap)
{
    char key[32];
    snprintf(key, sizeof(key), "%d/%u", pid, image);
    json_int_t n = json_integer_value(json_object_get(counts, key));
    json_object_set_new(counts, key, json_integer(n + 1));
    return n < cap;
}

/* Add 'blocks' and 'bytes' to the omitted count 'name' in 'omitted'. */
static void omit(json_t *omitted, const char *name, json_int_t blocks, json_int_t bytes)
{
    json_t *o = json_object_get(omitted, name);
    if (o == NULL) {
        o = json_pack("{s:I,s:I,s:I}", "rows", (json_int_t)0, "blocks", (json_int_t)0,
                      "bytes", (json_int_t)0);
        if (o == NULL || json_object_set_new(omitted, name, o) < 0)
            return;
    }
    json_object_set_new(o, "rows", json_integer(json_integer_value(json_object_get(o, "rows")) + 1));
    json_object_set_new(o, "blocks",
                        json_integer(json_integer_value(json_object_get(o, "blocks")) + blocks));
    json_object_set_new(o, "bytes",
                        json_integer(json_integer_value(json_object_get(o, "bytes")) + bytes));
}

/* "leaks": [pid, kind, family, bytes, blocks, suppressed-by or null, stack,
 * image];
 * every lost site, and the largest 'cap' reachable or suppressed ones of
 * each process (the rest are counted into 'omitted'). */
static json_t *leaks_json(intern_t *in, const lk_report_t *r, json_t *omitted, json_int_t cap)
{
    json_t *a = json_array(), *counts = json_object();
    char rule[1024];
    for (size_t i = 0; a != NULL && counts != NULL && i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if ((l->kind == LK_KIND_REACHABLE || l->suppressed_by != NULL)
            && !under_cap(counts, l->pid, l->image, cap)) {
            omit(omitted, "leaks", (json_int_t)l->blocks, (json_int_t)l->bytes);
            continue;
        }
        json_array_append_new(a, json_pack("[i,s,s,I,I,o,o,i]", l->pid, lk_kind_name(l->kind),
                                           lk_family_name(l->family), (json_int_t)l->bytes,
                                           (json_int_t)l->blocks,
                                           l->suppressed_by != NULL
                                               ? safe_str(lk_supp_text(l->suppressed_by, rule,
                                                                       sizeof(rule)))
                                               : json_null(),
                                           frame_list(in, l->frames, l->nframes),
                                           (int)l->image));
    }
    json_decref(counts);
    return a;
}

static int by_live_desc(const void *a, const void *b)
{
    const lk_site_t *x = *(const lk_site_t *const *)a, *y = *(const lk_site_t *const *)b;
    return x->live_bytes < y->live_bytes ? 1 : x->live_bytes > y->live_bytes ? -1 : 0;
}

/* "sites": each final dump's sites, [pid, live bytes, live blocks, allocated
 * bytes, allocations, peak live bytes, stack, image] (frames trimmed as the
 * leaks').
 * A site too narrow to draw in every view joins its process's "smaller
 * sites" entry, whose stack is one frame of that name. */
static json_t *sites_json(intern_t *in, const lk_input_t *inp, lk_symbolizer_t *sym)
{
    json_t *a = json_array();
    for (size_t p = 0; a != NULL && p < inp->nprocs; p++) {
        const lk_process_t *pr = &inp->procs[p];
        if (pr->ndumps == 0)
            continue;
        const lk_dump_t *d = pr->dumps[pr->ndumps - 1];
        const lk_site_t **v = malloc((d->nsites + 1) * sizeof(*v));
        if (v == NULL)
            break;
        uint64_t tl = 0, ta = 0, tp = 0, rest[5] = { 0 }, nrest = 0;
        for (size_t i = 0; i < d->nsites; i++) {
            v[i] = &d->sites[i];
            tl += d->sites[i].live_bytes;
            ta += d->sites[i].total_bytes;
            tp += d->sites[i].peak_live_bytes;
        }
        qsort(v, d->nsites, sizeof(*v), by_live_desc);
        for (size_t i = 0; i < d->nsites; i++) {
            const lk_site_t *s = v[i];
            lk_frame_t *f = NULL;
            size_t n = 0;
            bool wide = s->live_bytes * HTML_SITE_SHARE >= tl
                || s->total_bytes * HTML_SITE_SHARE >= ta
                || s->peak_live_bytes * HTML_SITE_SHARE >= tp;
            if (!wide || i >= HTML_MAX_SITES || s->stack_idx >= d->nstacks
                || lk_symbolize_stack(sym, d, &d->stacks[s->stack_idx], &f, &n) < 0) {
                rest[0] += s->live_bytes;
                rest[1] += s->live_blocks;
                rest[2] += s->total_bytes;
                rest[3] += s->total_blocks;
                rest[4] += s->peak_live_bytes;
                nrest++;
                continue;
            }
            size_t skip = lk_leaks_trim(f, n);
            json_array_append_new(a, json_pack("[i,I,I,I,I,I,o,i]", pr->pid,
                                               (json_int_t)s->live_bytes, (json_int_t)s->live_blocks,
                                               (json_int_t)s->total_bytes, (json_int_t)s->total_blocks,
                                               (json_int_t)s->peak_live_bytes,
                                               frame_list(in, f + skip, n - skip),
                                               (int)pr->image));
            free(f);
        }
        free(v);
        if (nrest > 0) {
            char name[64];
            snprintf(name, sizeof(name), "(%llu smaller sites)", (unsigned long long)nrest);
            lk_frame_t other = { .function = name };
            json_array_append_new(a, json_pack("[i,I,I,I,I,I,o,i]", pr->pid, (json_int_t)rest[0],
                                               (json_int_t)rest[1], (json_int_t)rest[2],
                                               (json_int_t)rest[3], (json_int_t)rest[4],
                                               frame_list(in, &other, 1), (int)pr->image));
        }
    }
    return a;
}

/* The JSON report's frame object 'o' as a frame (its strings borrowed). */
static lk_frame_t json_frame(json_t *o)
{
    lk_frame_t f = { 0 };
    f.function = json_string_value(json_object_get(o, "function"));
    f.file = json_string_value(json_object_get(o, "file"));
    f.module = json_string_value(json_object_get(o, "module"));
    f.line = (int)json_integer_value(json_object_get(o, "line"));
    f.inlined = json_is_true(json_object_get(o, "inlined"));
    const char *off = json_string_value(json_object_get(o, "offset"));
    if (off != NULL)
        f.offset = strtoull(off, NULL, 16);
    return f;
}

/* Every "frames" list of objects under 'v' (held by, structures, growth,
 * failures) replaced by its index in the stack table: the same stacks
 * repeat across roots and members, and were most of a real program's page. */
static void intern_tree(intern_t *in, json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
            intern_tree(in, x);
        return;
    }
    if (!json_is_object(v))
        return;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "frames") != 0 || !json_is_array(x)) {
            intern_tree(in, x);
            continue;
        }
        size_t n = json_array_size(x);
        lk_frame_t *f = calloc(n + 1, sizeof(*f));
        if (f == NULL)
            continue;
        for (i = 0; i < n; i++)
            f[i] = json_frame(json_array_get(x, i));
        json_t *idx = frame_list(in, f, n);
        free(f);   /* the strings stay in 'x' until it is replaced */
        if (idx != NULL)
            json_object_set_new(v, k, idx);
    }
}

static int by_bytes_desc(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "bytes"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "bytes"));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The largest 'cap' "held_by" rows of each process, and every row
 * that holds a growing site (the banner names its holder); the rest are
 * counted into 'omitted'. */
static void cap_held(json_t *root, json_t *omitted, json_int_t cap)
{
    json_t *held = json_object_get(root, "held_by"), *counts = json_object(), *grow = json_object();
    size_t n = json_array_size(held), i;
    json_t **v = malloc((n + 1) * sizeof(*v)), *g, *out = json_array();
    char key[72];
    if (v == NULL || counts == NULL || grow == NULL || out == NULL)
        goto done;
    json_array_foreach(json_object_get(root, "growth"), i, g) {
        snprintf(key, sizeof(key), "%lld/%lld/%lld",
                 (long long)json_integer_value(json_object_get(g, "pid")),
                 (long long)json_integer_value(json_object_get(g, "image")),
                 (long long)json_integer_value(json_object_get(g, "stack")));
        json_object_set_new(grow, key, json_true());
    }
    for (i = 0; i < n; i++)
        v[i] = json_array_get(held, i);
    qsort(v, n, sizeof(*v), by_bytes_desc);
    for (i = 0; i < n; i++) {
        int pid = (int)json_integer_value(json_object_get(v[i], "pid"));
        unsigned image = (unsigned)json_integer_value(json_object_get(v[i], "image"));
        snprintf(key, sizeof(key), "%d/%u/%lld", pid, image,
                 (long long)json_integer_value(json_object_get(v[i], "stack")));
        if (under_cap(counts, pid, image, cap) || json_object_get(grow, key) != NULL)
            json_array_append(out, v[i]);
        else
            omit(omitted, "held_by", json_integer_value(json_object_get(v[i], "blocks")),
                 json_integer_value(json_object_get(v[i], "bytes")));
    }
    if (json_array_size(out) < n)
        json_object_set(root, "held_by", out);
done:
    free(v);
    json_decref(out);
    json_decref(counts);
    json_decref(grow);
}

/* "inherited": {"pid/image": [parent pid, blocks, bytes]} for each forked
 * child whose final dump still holds blocks from before the fork. */
static json_t *inherited_json(const lk_input_t *inp)
{
    json_t *o = json_object();
    char key[32];
    for (size_t p = 0; o != NULL && p < inp->nprocs; p++) {
        const lk_process_t *pr = &inp->procs[p];
        if (pr->ndumps == 0)
            continue;
        const lk_dump_t *d = pr->dumps[pr->ndumps - 1];
        if (d->totals.inherited_from_pid == 0)
            continue;
        snprintf(key, sizeof(key), "%d/%u", pr->pid, pr->image);
        json_object_set_new(o, key, json_pack("[I,I,I]", (json_int_t)d->totals.inherited_from_pid,
                                              (json_int_t)d->totals.inherited_blocks,
                                              (json_int_t)d->totals.inherited_bytes));
    }
    return o;
}

/* Lines [line - HTML_CONTEXT, line + HTML_CONTEXT] of 'file', or NULL when
 * it is not a readable regular file of sane size. */
static json_t *source_lines(const char *file, int line, int *first)
{
    struct stat st;
    if (file == NULL || line <= 0 || stat(file, &st) < 0 || !S_ISREG(st.st_mode)
        || (size_t)st.st_size > HTML_MAX_SOURCE_BYTES)
        return NULL;
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return NULL;
    json_t *a = json_array();
    char *buf = NULL;
    size_t cap = 0;
    int no = 0;
    *first = line - HTML_CONTEXT < 1 ? 1 : line - HTML_CONTEXT;
    while (a != NULL && no < line + HTML_CONTEXT && getline(&buf, &cap, f) >= 0) {
        if (++no < *first)
            continue;
        buf[strcspn(buf, "\n")] = '\0';
        if (strlen(buf) > 300)
            buf[300] = '\0';
        json_array_append_new(a, safe_str(buf));
    }
    free(buf);
    fclose(f);
    if (a != NULL && no < line) {   /* the file changed since the build */
        json_decref(a);
        return NULL;
    }
    return a;
}

/* "sources": {"file:line": [first line number, [lines]]} for the top frame
 * of the largest leak sites. */
static json_t *sources_json(const lk_report_t *r)
{
    json_t *o = json_object();
    char key[4096];
    for (size_t i = 0; o != NULL && i < r->nleaks && json_object_size(o) < HTML_MAX_SOURCES; i++) {
        const lk_leak_t *l = &r->leaks[i];
        for (size_t k = 0; k < l->nframes && k < 4; k++) {
            const lk_frame_t *f = &l->frames[k];
            if (f->file == NULL || f->line <= 0)
                continue;
            char *e = lk_escape_dup(f->file);
            snprintf(key, sizeof(key), "%s:%d", e != NULL ? e : "?", f->line);
            free(e);
            if (json_object_get(o, key) == NULL) {
                int first = 0;
                json_t *lines = source_lines(f->file, f->line, &first);
                if (lines != NULL)
                    json_object_set_new(o, key, json_pack("[i,o]", first, lines));
            }
            break;
        }
    }
    return o;
}

/* The JSON report as a tree (report_json.c's), without its long "leaks". */
static json_t *report_tree(const lk_report_t *r, const lk_options_t *opt)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m == NULL)
        return NULL;
    int rc = lk_report_json(m, r, opt);
    if (fclose(m) != 0 || rc < 0) {
        free(text);
        return NULL;
    }
    json_t *root = json_loadb(text, len, 0, NULL);
    free(text);
    if (root != NULL)
        json_object_del(root, "leaks");
    return root;
}

/* The growth chart as SVG markup (svg.c), without the XML declaration. */
static char *chart_svg(const lk_report_t *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m == NULL)
        return NULL;
    int rc = lk_report_svg(m, r);
    if (fclose(m) != 0 || rc < 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Write JSON text so that no "</script" or "<!--" can appear inside a
 * script element: '<' only occurs inside strings, as \u003c there.
 * JSON_ENSURE_ASCII already wrote U+2028/2029 as escapes. */
static void put_script_json(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '<')
            fputs("\\u003c", out);
        else
            putc(*s, out);
    }
}

int lk_report_html(FILE *out, const lk_report_t *r, const lk_options_t *opt,
                   const lk_input_t *in, lk_symbolizer_t *sym)
{
    intern_t it = { json_array(), json_array(), json_array(), json_object(), json_object(),
                    json_object() };
    json_t *root = report_tree(r, opt);
    char *svg = chart_svg(r), *data = NULL;
    int rc = -ENOMEM;

    if (root == NULL || svg == NULL || it.strings == NULL || it.frames == NULL
        || it.stacks == NULL || it.str_idx == NULL || it.frame_idx == NULL || it.stack_idx == NULL)
        goto out;
    json_t *omitted = json_object();
    json_int_t cap = in->nprocs > 0 ? HTML_QUIET_BUDGET / (json_int_t)in->nprocs : HTML_MAX_QUIET;
    cap = cap > HTML_MAX_QUIET ? HTML_MAX_QUIET : cap < HTML_MIN_QUIET ? HTML_MIN_QUIET : cap;
    json_object_set_new(root, "leaks", leaks_json(&it, r, omitted, cap));
    json_object_set_new(root, "sites", sites_json(&it, in, sym));
    cap_held(root, omitted, cap);
    intern_tree(&it, json_object_get(root, "held_by"));
    intern_tree(&it, json_object_get(root, "structures"));
    intern_tree(&it, json_object_get(root, "growth"));
    intern_tree(&it, json_object_get(root, "failures"));
    json_object_set_new(root, "omitted", omitted);
    json_object_set_new(root, "inherited", inherited_json(in));
    json_object_set_new(root, "sources", sources_json(r));
    json_object_set(root, "strings", it.strings);
    json_object_set(root, "frames", it.frames);
    json_object_set(root, "stacks", it.stacks);
    data = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (data == NULL)
        goto out;

    /* The template's @@NAME@@ markers take the parts; the rest is copied. */
    const char *svg_body = strstr(svg, "<svg");
    for (const char *p = lk_html_template; *p != '\0';) {
        const char *m = strstr(p, "@@");
        if (m == NULL) {
            fputs(p, out);
            break;
        }
        fwrite(p, 1, (size_t)(m - p), out);
        if (strncmp(m, "@@CSS@@", 7) == 0)
            fputs(lk_html_css, out);
        else if (strncmp(m, "@@JS@@", 6) == 0)
            fputs(lk_html_js, out);
        else if (strncmp(m, "@@DATA@@", 8) == 0)
            put_script_json(out, data);
        else if (strncmp(m, "@@SVG@@", 7) == 0)
            fputs(svg_body != NULL ? svg_body : "", out);
        else {
            fputs("@@", out);
            p = m + 2;
            continue;
        }
        p = strchr(m + 2, '@') + 2;
    }
    rc = fflush(out) != 0 || ferror(out) ? -EIO : 0;
out:
    free(data);
    free(svg);
    json_decref(root);
    json_decref(it.strings);
    json_decref(it.frames);
    json_decref(it.str_idx);
    json_decref(it.frame_idx);
    json_decref(it.stacks);
    json_decref(it.stack_idx);
    return rc;
}
