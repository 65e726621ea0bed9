/* frames.c - a stack as the passes show it: symbolized, allocator frames
 * trimmed from the top so frames[0] is the user's call, frames below main()
 * cut; and the key that names such a site across rebuilds (--baseline,
 * diff).  Every pass that shows a stack uses these, so they agree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Functions that only allocate on behalf of their caller.  A leading frame
 * matching one is trimmed; "*" at the end means a prefix. */
static const char *const allocator_functions[] = {
    "malloc", "calloc", "realloc", "reallocarray", "free", "cfree",
    "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
    "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_free",
    "__libc_memalign", "__posix_memalign",
    "strdup", "strndup", "__strdup", "__strndup", "wcsdup",
    "operator new*", "operator delete*",
    "__gnu_cxx::new_allocator<*", "__gnu_cxx::__new_allocator<*",
    "std::__new_allocator<*", "std::allocator<*", "std::allocator_traits<*",
    "lk_*", "libleak_*",
};

/* Compare 'fn' to 'name' ignoring a symbol version suffix ("@@GLIBC_2.2.5"). */
static bool name_is(const char *fn, const char *name)
{
    size_t n = strlen(name);
    /* glibc's debug info names internal aliases "__GI___strdup" */
    if (strncmp(fn, "__GI_", 5) == 0)
        fn += 5;
    if (n > 0 && name[n - 1] == '*')
        return strncmp(fn, name, n - 1) == 0;
    return strncmp(fn, name, n) == 0 && (fn[n] == '\0' || fn[n] == '@');
}

static bool is_allocator_frame(const lk_frame_t *f)
{
    const char *mod = lk_basename(f->module);
    if (mod != NULL && strncmp(mod, "libleak", 7) == 0)
        return true;
    /* Standard-library template code compiled into the program (a vector
     * growing its buffer): the user's call is the frame below it. */
    if (f->file != NULL && strstr(f->file, "/include/c++/") != NULL)
        return true;
    /* ... and the same code instantiated inside libstdc++ itself
     * (std::string's buffer is made in libstdc++.so). */
    if (mod != NULL && strncmp(mod, "libstdc++", 9) == 0 && f->function != NULL
        && (strncmp(f->function, "std::", 5) == 0 || strncmp(f->function, "__gnu_cxx::", 11) == 0))
        return true;
    if (f->function == NULL)
        return false;
    for (size_t i = 0; i < sizeof(allocator_functions) / sizeof(allocator_functions[0]); i++)
        if (name_is(f->function, allocator_functions[i]))
            return true;
    return false;
}

size_t lk_leaks_trim(const lk_frame_t *f, size_t n)
{
    size_t k = 0;
    while (k + 1 < n && is_allocator_frame(&f[k]))
        k++;
    return k;
}

/* Symbolize 'st', trim it, and drop what lies below main(); the result is a
 * new array in *out (caller frees). */
int lk_user_frames(lk_symbolizer_t *sym, const lk_dump_t *d, const lk_stack_t *st,
                   lk_frame_t **out, size_t *nout, size_t *trimmed)
{
    lk_frame_t *f;
    size_t n;
    int rc = lk_symbolize_stack(sym, d, st, &f, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {       /* a dump may record an empty stack */
        *out = f;
        *nout = 0;
        if (trimmed != NULL)
            *trimmed = 0;
        return 0;
    }
    size_t skip = lk_leaks_trim(f, n);
    size_t end = n;
    for (size_t i = skip; i < n; i++)
        if (f[i].function != NULL && !f[i].inlined && name_is(f[i].function, "main")) {
            end = i + 1;
            break;
        }
    if (end > skip && skip > 0)   /* f is NULL for an empty stack */
        memmove(f, f + skip, (end - skip) * sizeof(*f));
    *out = f;
    *nout = end - skip;
    if (trimmed != NULL)
        *trimmed = skip;
    return 0;
}

/* A growing string for keys, because an fprintf per frame weighed on a whole
 * run (preload/README.md, "leak-analyze reports"). */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool failed;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap != 0 ? b->cap : 128;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (ns == NULL) {
            b->failed = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

char *lk_baseline_key(lk_family_t fam, const lk_frame_t *f, size_t n)
{
    sbuf_t b = { 0 };

    sb_str(&b, lk_family_name(fam));
    for (size_t i = 0; i < n; i++) {
        sb_put(&b, i == 0 ? "|" : ";", 1);
        if (f[i].function != NULL) {
            /* no symbol version ("@@GLIBC_2.34"): libc updates keep keys */
            sb_put(&b, f[i].function, strcspn(f[i].function, "@"));
        } else {
            sb_put(&b, "?", 1);
            if (f[i].module != NULL)
                sb_str(&b, lk_basename(f[i].module));
        }
        if (f[i].file != NULL) {
            sb_put(&b, "@", 1);
            sb_str(&b, lk_basename(f[i].file));
        }
    }
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

char *lk_baseline_leak_key(lk_kind_t kind, lk_family_t fam, const lk_frame_t *f, size_t n)
{
    char *key = lk_baseline_key(fam, f, n);
    if (key == NULL || kind == LK_KIND_UNFREED)
        return key;
    char *k2 = NULL;
    if (asprintf(&k2, "%s#%s", key, lk_kind_name(kind)) < 0)
        k2 = NULL;
    free(key);
    return k2;
}

