/* suppress.c - which leaks not to report: built-in rules for memory that
 * glibc and libstdc++ keep for every program until exit, user rules in
 * LeakSanitizer's format ("leak:PATTERN", any frame), and libleak's
 * whole-stack rules ("leak-stack:T0;T1;...", frame by frame from #0, as
 * --gen-suppressions writes them).  Matching only; counting what a rule hid
 * is leaks.c's job. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

/* ### built-in rules (documented in docs/leak-analyze.1 and analyzer/README.md) */

static bool mod_is(const lk_frame_t *f, const char *prefix)
{
    const char *m = lk_basename(f->module);
    return m != NULL && strncmp(m, prefix, strlen(prefix)) == 0;
}

static bool fn_has(const lk_frame_t *f, const char *needle)
{
    return f->function != NULL && strstr(f->function, needle) != NULL;
}

static bool any_frame(const lk_frame_t *f, size_t n, bool (*pred)(const lk_frame_t *))
{
    for (size_t i = 0; i < n; i++)
        if (pred(&f[i]))
            return true;
    return false;
}

static bool is_loader_frame(const lk_frame_t *f)
{
    return mod_is(f, "ld-linux") || mod_is(f, "ld.so") || fn_has(f, "_dl_init")
           || fn_has(f, "call_init");
}

/* libstdc++'s emergency exception pool: allocated once by a static
 * constructor of libstdc++ while the loader runs initializers. */
static bool builtin_eh_pool(const lk_frame_t *f, size_t n)
{
    if (n > 0 && fn_has(&f[0], "pool::pool"))
        return true;
    return n > 0 && mod_is(&f[0], "libstdc++") && any_frame(f, n, is_loader_frame);
}

/* Every needle below starts with '_': test that first, since these run on
 * every frame of every leak. */
static bool is_stdio_alloc(const lk_frame_t *f)
{
    if (f->function == NULL || f->function[0] != '_')
        return false;
    return fn_has(f, "_IO_file_doallocate") || fn_has(f, "_IO_wfile_doallocate")
           || fn_has(f, "_IO_doallocbuf") || fn_has(f, "_IO_wdoallocbuf");
}

/* The buffers glibc gives a FILE on first I/O (stdout, stderr, fopen). */
static bool builtin_stdio(const lk_frame_t *f, size_t n)
{
    return any_frame(f, n, is_stdio_alloc);
}

static bool is_tls_alloc(const lk_frame_t *f)
{
    if (f->function == NULL || f->function[0] != '_')
        return false;
    return fn_has(f, "_dl_allocate_tls") || fn_has(f, "__tls_get_addr")
           || fn_has(f, "_dl_update_slotinfo") || fn_has(f, "_dl_resize_dtv");
}

/* Memory the dynamic loader allocates itself (link maps, dlopen state,
 * dynamic TLS and DTVs): the caller of malloc is ld.so. */
static bool builtin_loader(const lk_frame_t *f, size_t n)
{
    if (n > 0 && (mod_is(&f[0], "ld-linux") || mod_is(&f[0], "ld.so")))
        return true;
    return any_frame(f, n, is_tls_alloc);
}

typedef struct builtin_rule {
    const char *name;
    bool (*match)(const lk_frame_t *f, size_t n);
} builtin_rule_t;

static const builtin_rule_t builtin_rules[] = {
    { "builtin:c++-emergency-pool", builtin_eh_pool },
    { "builtin:stdio-buffers", builtin_stdio },
    { "builtin:dynamic-loader-tls", builtin_loader },
};

static int add_rule(lk_supp_list_t *l, const lk_supp_t *r)
{
    lk_supp_t *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (nv == NULL)
        return -ENOMEM;
    l->v = nv;
    nv[l->n++] = *r;
    return 0;
}

int lk_supp_add_builtins(lk_supp_list_t *l)
{
    for (size_t i = 0; i < sizeof(builtin_rules) / sizeof(builtin_rules[0]); i++) {
        lk_supp_t r = { .builtin = builtin_rules[i].name, .source = "builtin" };
        if ((r.pattern = strdup(builtin_rules[i].name)) == NULL || add_rule(l, &r) < 0) {
            free(r.pattern);
            return -ENOMEM;
        }
    }
    return 0;
}

/* ### LSan-format rules */

int lk_supp_load(lk_supp_list_t *l, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    /* O_NONBLOCK: a FIFO must not hang us before the regular-file check. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;

    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return rc;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (f = fdopen(fd, "r")) == NULL) {
        snprintf(err, errlen, "%s: not a regular file; expected LSan-format suppressions", path);
        close(fd);
        return -EINVAL;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *s = line, *e = line + len;
        if (strlen(line) != (size_t)len) {
            snprintf(err, errlen, "%s:%d: a NUL byte; not a suppressions file", path, lineno);
            rc = -EINVAL;
            break;
        }
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        bool stack = strncmp(s, "leak-stack:", 11) == 0;
        if (!stack && strncmp(s, "leak:", 5) != 0) {
            /* Name the position, never the content: this may be any file. */
            size_t t = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
            if (t > 0 && t <= 16 && s[t] == ':')
                snprintf(err, errlen, "%s:%d: expected 'leak:PATTERN' or "
                         "'leak-stack:PATTERN;PATTERN...', got a '%.*s:' rule",
                         path, lineno, (int)t, s);
            else
                snprintf(err, errlen, "%s:%d: expected 'leak:PATTERN' or a '#' comment "
                         "(not a suppressions file?)", path, lineno);
            rc = -EINVAL;
            break;
        }
        s += stack ? 11 : 5;
        if (*s == '\0') {
            snprintf(err, errlen, "%s:%d: empty pattern after '%s:'", path, lineno,
                     stack ? "leak-stack" : "leak");
            rc = -EINVAL;
            break;
        }
        /* Frames carry escaped names (lk_escape), so a pattern is escaped the
         * same way: it still matches, and every report shows it safely. */
        lk_supp_t r = { .source = path, .line = lineno };
        if ((r.pattern = lk_escape_dup(s)) == NULL
            || (stack && (r.frames = strdup(r.pattern)) == NULL)) {
            free(r.pattern);
            snprintf(err, errlen, "%s: out of memory", path);
            rc = -ENOMEM;
            break;
        }
        if (stack) {
            /* one NUL-ended template per frame; none may be empty */
            size_t plen = strlen(r.frames);
            bool empty = r.frames[0] == ';' || r.frames[plen - 1] == ';';
            for (char *c = r.frames; *c != '\0'; c++)
                if (*c == ';') {
                    empty |= c[1] == ';';
                    *c = '\0';
                    r.nframes++;
                }
            r.nframes++;
            if (empty || r.nframes > LK_SUPP_STACK_MAX) {
                if (empty)
                    snprintf(err, errlen, "%s:%d: an empty frame pattern in 'leak-stack:'",
                             path, lineno);
                else
                    snprintf(err, errlen, "%s:%d: more than %d frame patterns in "
                             "'leak-stack:'", path, lineno, LK_SUPP_STACK_MAX);
                free(r.pattern);
                free(r.frames);
                rc = -EINVAL;
                break;
            }
        }
        if (add_rule(l, &r) < 0) {
            free(r.pattern);
            free(r.frames);
            snprintf(err, errlen, "%s: out of memory", path);
            rc = -ENOMEM;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "cannot read suppressions '%s': %s", path, strerror(errno));
    }
    free(line);
    fclose(f);
    return rc;
}

/* Does 'p' (n bytes, no '*') occur in 's' at 's' itself? */
static bool seg_at(const char *s, const char *p, size_t n)
{
    return strncmp(s, p, n) == 0;
}

/* Find the n-byte segment 'p' in 's' (leftmost), or NULL. */
static const char *seg_find(const char *s, const char *p, size_t n)
{
    if (n == 0)
        return s;
    return memmem(s, strlen(s), p, n);
}

/* LSan templates: '*' is any run of characters, '^' at the start and '$' at
 * the end anchor, and an unanchored side matches anywhere.  Greedy
 * segment search: each '*'-free segment is matched at its leftmost place
 * after the previous one, which is always a match if any exists, so the
 * cost is linear in the name per segment (no backtracking). */
bool lk_supp_template_match(const char *pattern, const char *s)
{
    if (pattern == NULL || s == NULL)
        return false;
    bool anchor_start = pattern[0] == '^';
    const char *p = pattern + anchor_start;
    size_t plen = strlen(p);
    bool anchor_end = plen > 0 && p[plen - 1] == '$';
    if (anchor_end)
        plen--;
    const char *pend = p + plen;
    /* first segment: at the start when anchored */
    size_t n = strcspn(p, "*");
    if (n > plen)
        n = plen;
    bool star_after = p + n < pend;
    if (anchor_start) {
        if (!seg_at(s, p, n))
            return false;
        if (!star_after)
            return !anchor_end || s[n] == '\0';
        s += n;
        p += n;
    }
    /* middle segments: leftmost occurrence, in order */
    while (p < pend) {
        while (p < pend && *p == '*')
            p++;
        n = strcspn(p, "*");
        if (p + n > pend)
            n = (size_t)(pend - p);
        if (p + n == pend && anchor_end) {
            /* last segment, anchored at the end: the suffix of what is left */
            size_t sl = strlen(s);
            return sl >= n && memcmp(s + sl - n, p, n) == 0;
        }
        const char *hit = seg_find(s, p, n);
        if (hit == NULL)
            return false;
        s = hit + n;
        p += n;
    }
    /* the pattern ended with '*' or is unanchored at the end; an anchored
     * end after a trailing '*' matches whatever is left */
    return true;
}

static bool frame_match(const char *pattern, const lk_frame_t *f)
{
    return lk_supp_template_match(pattern, f->function)
           || lk_supp_template_match(pattern, f->file)
           || lk_supp_template_match(pattern, f->module);
}

/* A leak-stack: rule: frame #i matches template i, for every template. */
static bool stack_match(const lk_supp_t *r, const lk_frame_t *f, size_t n)
{
    const char *t = r->frames;
    if (r->nframes > n)
        return false;
    for (size_t k = 0; k < r->nframes; k++, t += strlen(t) + 1)
        if (!frame_match(t, &f[k]))
            return false;
    return true;
}

const char *lk_supp_text(const lk_supp_t *s, char *buf, size_t len)
{
    if (s->builtin != NULL)
        return s->builtin;
    snprintf(buf, len, "%s:%s", s->frames != NULL ? "leak-stack" : "leak", s->pattern);
    return buf;
}

lk_supp_t *lk_supp_match(lk_supp_list_t *l, const lk_frame_t *f, size_t n)
{
    for (size_t i = 0; i < l->n; i++) {
        lk_supp_t *r = &l->v[i];
        if (r->builtin != NULL) {
            for (size_t k = 0; k < sizeof(builtin_rules) / sizeof(builtin_rules[0]); k++)
                if (strcmp(builtin_rules[k].name, r->builtin) == 0
                    && builtin_rules[k].match(f, n))
                    return r;
            continue;
        }
        if (r->frames != NULL) {
            if (stack_match(r, f, n))
                return r;
            continue;
        }
        for (size_t k = 0; k < n; k++)
            if (frame_match(r->pattern, &f[k]))
                return r;
    }
    return NULL;
}

void lk_supp_list_free(lk_supp_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].pattern);
        free(l->v[i].frames);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
