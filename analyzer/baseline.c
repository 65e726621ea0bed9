/* baseline.c - leak sites keyed by symbolized frames, for the --baseline
 * ratchet and `leak-analyze diff`.  Keys use function and file basename,
 * never addresses or lines, so a rebuilt or slightly edited program keeps
 * its keys.  A baseline is a leak-analyze JSON report, or dumps. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "model.h"

/* "function (file:line)" of the top frame, for people. */
static char *describe(const lk_frame_t *f, size_t n)
{
    char *s = NULL;
    int rc;

    if (n == 0)
        rc = asprintf(&s, "(no frames)");
    else if (f[0].file != NULL)
        rc = asprintf(&s, "%s (%s:%d)", f[0].function != NULL ? f[0].function : "??",
                      lk_basename(f[0].file), f[0].line);
    else if (f[0].function != NULL)
        rc = asprintf(&s, "%s (%s)", f[0].function,
                      f[0].module != NULL ? lk_basename(f[0].module) : "??");
    else
        rc = asprintf(&s, "%s+0x%" PRIx64, f[0].module != NULL ? lk_basename(f[0].module) : "??",
                      f[0].offset);
    return rc < 0 ? NULL : s;
}

/* Append a site (taking ownership of key/where); base_finish() merges
 * equal keys. */
/* A report from elsewhere may hold raw control characters: escape them as
 * the symbolizer escapes names, so keys compare and 'diff' prints safely.
 * Takes 's' (malloc'd); NULL when out of memory. */
static char *shown(char *s)
{
    if (s == NULL || lk_is_printable(s))
        return s;
    char *e = lk_escape_dup(s);
    free(s);
    return e;
}

static int base_add(lk_base_t *b, char *key, char *where, uint64_t bytes, uint64_t blocks)
{
    lk_base_site_t *nv = realloc(b->v, (b->n + 1) * sizeof(*nv));
    if (nv == NULL) {
        free(key);
        free(where);
        return -ENOMEM;
    }
    b->v = nv;
    nv[b->n++] = (lk_base_site_t){ key, where, bytes, blocks };
    return 0;
}

static int cmp_site(const void *a, const void *b)
{
    return strcmp(((const lk_base_site_t *)a)->key, ((const lk_base_site_t *)b)->key);
}

/* Sort by key and sum the sites that share one, so lookups can bsearch. */
static void base_finish(lk_base_t *b)
{
    size_t i, o = 0;

    if (b->n == 0)
        return;
    qsort(b->v, b->n, sizeof(*b->v), cmp_site);
    for (i = 1; i < b->n; i++) {
        if (strcmp(b->v[i].key, b->v[o].key) == 0) {
            /* saturating: keys sum many sites */
            b->v[o].bytes = lk_sat_add(b->v[o].bytes, b->v[i].bytes);
            b->v[o].blocks = lk_sat_add(b->v[o].blocks, b->v[i].blocks);
            free(b->v[i].key);
            free(b->v[i].where);
        } else {
            b->v[++o] = b->v[i];
        }
    }
    b->n = o + 1;
}

int lk_base_from_report(lk_base_t *b, const lk_report_t *r)
{
    for (size_t i = 0; i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (l->suppressed_by != NULL || l->kind == LK_KIND_REACHABLE)
            continue;
        char *key = lk_strdup(l->key), *where = describe(l->frames, l->nframes);
        if (key == NULL || where == NULL) {
            free(key);
            free(where);
            return -ENOMEM;
        }
        int rc = base_add(b, key, where, l->bytes, l->blocks);
        if (rc < 0)
            return rc;
    }
    base_finish(b);
    return 0;
}

/* Read the "leaks" of a leak-analyze JSON report. */
static int base_from_json(lk_base_t *b, const char *path, json_t *root, char *err,
                          size_t errlen)
{
    json_t *leaks = json_object_get(root, "leaks"), *l;
    size_t i;

    if (!json_is_array(leaks)) {
        snprintf(err, errlen, "%s: leaks: expected array", path);
        return -EINVAL;
    }
    json_array_foreach(leaks, i, l) {
        json_t *frames = json_object_get(l, "frames"), *fr;
        json_t *fam = json_object_get(l, "family"), *bytes = json_object_get(l, "bytes");
        json_t *blocks = json_object_get(l, "blocks");
        size_t k;
        if (!json_is_array(frames) || !json_is_string(fam) || !json_is_integer(bytes)
            || !json_is_integer(blocks) || json_integer_value(bytes) < 0
            || json_integer_value(blocks) < 0) {
            snprintf(err, errlen, "%s: leaks[%zu]: expected family, bytes, blocks and frames",
                     path, i);
            return -EINVAL;
        }
        if (json_is_object(json_object_get(l, "suppressed_by")))
            continue;
        /* Reachable memory is held, not leaked; other kinds key
         * apart ("#definite"), as in lk_baseline_leak_key() */
        const char *kname = json_string_value(json_object_get(l, "kind"));
        int kind = kname != NULL ? lk_kind_parse(kname) : LK_KIND_UNFREED;
        if (kind < 0) {
            snprintf(err, errlen, "%s: leaks[%zu].kind: unknown value", path, i);
            return -EINVAL;
        }
        if (kind == LK_KIND_REACHABLE)
            continue;
        int famv = -1;
        static const char *const names[] = LK_FAMILY_NAMES;
        for (int f = 0; f < (int)(sizeof(names) / sizeof(names[0])); f++)
            if (strcmp(names[f], json_string_value(fam)) == 0)
                famv = f;
        if (famv < 0) {
            snprintf(err, errlen, "%s: leaks[%zu].family: unknown value", path, i);
            return -EINVAL;
        }
        size_t n = json_array_size(frames);
        lk_frame_t *fv = calloc(n + 1, sizeof(*fv));
        if (fv == NULL)
            return -ENOMEM;
        json_array_foreach(frames, k, fr) {
            json_t *line = json_object_get(fr, "line");
            fv[k].function = json_string_value(json_object_get(fr, "function"));
            fv[k].file = json_string_value(json_object_get(fr, "file"));
            fv[k].module = json_string_value(json_object_get(fr, "module"));
            fv[k].line = json_is_integer(line) ? (int)json_integer_value(line) : 0;
        }
        char *key = shown(lk_baseline_leak_key((lk_kind_t)kind, (lk_family_t)famv, fv, n));
        char *where = shown(describe(fv, n));
        free(fv);
        if (key == NULL || where == NULL) {
            free(key);
            free(where);
            return -ENOMEM;
        }
        int rc = base_add(b, key, where, (uint64_t)json_integer_value(bytes),
                          (uint64_t)json_integer_value(blocks));
        if (rc < 0)
            return rc;
    }
    base_finish(b);
    return 0;
}

int lk_base_load(lk_base_t *b, const char *path, lk_symbolizer_t *sym,
                 const lk_options_t *opt, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = NULL;
    struct stat sb;
    int rc;
    /* O_NONBLOCK and a file-type check first: a FIFO must not hang us. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return rc;
    }
    if (fstat(fd, &sb) < 0 || (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))) {
        close(fd);
        snprintf(err, errlen, "%s: not a regular file or a directory", path);
        return -EINVAL;
    }
    if (S_ISREG(sb.st_mode))
        root = json_loadfd(fd, 0, &jerr);
    close(fd);

    if (root != NULL) {
        json_t *fmt = json_object_get(root, "format");
        if (json_is_string(fmt) && strcmp(json_string_value(fmt), LK_REPORT_FORMAT) == 0) {
            json_t *ver = json_object_get(root, "version");
            if (!json_is_integer(ver) || json_integer_value(ver) > LK_REPORT_VERSION) {
                snprintf(err, errlen, "%s: report version %lld is newer than this "
                         "leak-analyze supports (version %d)", path,
                         json_is_integer(ver) ? (long long)json_integer_value(ver) : -1LL,
                         LK_REPORT_VERSION);
                rc = -EINVAL;
            } else {
                rc = base_from_json(b, path, root, err, errlen);
            }
            json_decref(root);
            return rc;
        }
        json_decref(root);
    }
    /* Not a report: read it as dumps and analyse them now. */
    lk_input_t in = { 0 };
    lk_report_t r = { 0 };
    if ((rc = lk_load_path(&in, path, err, errlen)) < 0
        || (rc = lk_input_group(&in, err, errlen)) < 0)
        goto out;
    if (opt->builtin_suppressions && (rc = lk_supp_add_builtins(&r.supps)) < 0)
        goto out;
    if ((rc = lk_leaks_collect(&r, &in, sym, opt)) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    rc = lk_base_from_report(b, &r);
out:
    lk_report_free(&r);
    lk_input_free(&in);
    return rc;
}

static const lk_base_site_t *base_find(const lk_base_t *b, const char *key)
{
    lk_base_site_t k = { .key = (char *)key };
    return b->n > 0 ? bsearch(&k, b->v, b->n, sizeof(*b->v), cmp_site) : NULL;
}

/* Find 'key' in an OLD baseline; a key with a kind ("...#definite") also
 * matches the site's kind-less key, so a baseline from dumps without a
 * reachability scan still knows the sites of a run with one. */
static const lk_base_site_t *old_find(const lk_base_t *old, const char *key)
{
    const lk_base_site_t *o = base_find(old, key);
    const char *hash = strrchr(key, '#');
    if (o != NULL || hash == NULL || lk_kind_parse(hash + 1) < 0)
        return o;
    char *plain = strndup(key, (size_t)(hash - key));
    if (plain != NULL)
        o = base_find(old, plain);
    free(plain);
    return o;
}

void lk_base_apply(lk_report_t *r, const lk_base_t *old)
{
    lk_base_t cur = { 0 };

    r->has_baseline = true;
    r->new_sites = r->grown_sites = 0;
    /* Compare sums per key: a site split over several processes or stacks
     * counts once. */
    if (lk_base_from_report(&cur, r) < 0) {
        lk_base_free(&cur);
        return;
    }
    for (size_t i = 0; i < r->nleaks; i++) {
        lk_leak_t *l = &r->leaks[i];
        if (l->suppressed_by != NULL || l->kind == LK_KIND_REACHABLE)
            continue;
        const lk_base_site_t *o = old_find(old, l->key), *c = base_find(&cur, l->key);
        if (o == NULL) {
            l->is_new = true;
        } else if (c != NULL && c->bytes > o->bytes) {
            l->has_grown = true;
            l->baseline_bytes = o->bytes;
        }
    }
    for (size_t i = 0; i < cur.n; i++) {
        const lk_base_site_t *o = old_find(old, cur.v[i].key);
        if (o == NULL)
            r->new_sites++;
        else if (cur.v[i].bytes > o->bytes)
            r->grown_sites++;
    }
    lk_base_free(&cur);
}

void lk_base_diff(FILE *out, const lk_base_t *old, const lk_base_t *cur)
{
    uint64_t n_new = 0, n_gone = 0, n_grown = 0, n_shrunk = 0;

    for (size_t i = 0; i < cur->n; i++) {
        const lk_base_site_t *c = &cur->v[i], *o = base_find(old, c->key);
        if (o == NULL) {
            fprintf(out, "new:    +%" PRIu64 " byte(s) in %" PRIu64 " object(s) at %s\n",
                    c->bytes, c->blocks, c->where);
            n_new++;
        } else if (c->bytes > o->bytes) {
            fprintf(out, "grown:  +%" PRIu64 " byte(s) (%" PRIu64 " -> %" PRIu64 ") at %s\n",
                    c->bytes - o->bytes, o->bytes, c->bytes, c->where);
            n_grown++;
        } else if (c->bytes < o->bytes) {
            fprintf(out, "shrunk: -%" PRIu64 " byte(s) (%" PRIu64 " -> %" PRIu64 ") at %s\n",
                    o->bytes - c->bytes, o->bytes, c->bytes, c->where);
            n_shrunk++;
        }
    }
    for (size_t i = 0; i < old->n; i++)
        if (base_find(cur, old->v[i].key) == NULL) {
            fprintf(out, "gone:   -%" PRIu64 " byte(s) in %" PRIu64 " object(s) at %s\n",
                    old->v[i].bytes, old->v[i].blocks, old->v[i].where);
            n_gone++;
        }
    fprintf(out, "SUMMARY: %" PRIu64 " new, %" PRIu64 " gone, %" PRIu64 " grown, %" PRIu64
            " shrunk leak site(s)\n", n_new, n_gone, n_grown, n_shrunk);
}

void lk_base_free(lk_base_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].key);
        free(b->v[i].where);
    }
    free(b->v);
    b->v = NULL;
    b->n = 0;
}
