/* symbolize.c - raw return addresses -> function, file:line, with inlined
 * frames expanded (elfutils libdw, offline: the traced process is gone).
 * One Dwfl per module file, opened on first use and verified by build-id;
 * every looked-up pc is cached, so a 100k-frame report costs one libdw
 * lookup per distinct pc.  A missing or rebuilt binary degrades to
 * module+offset with one warning per module, never to an error. */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <uthash.h>

#include "model.h"

/* An interned string: frames point into these, so equal names share memory
 * and stay valid until lk_symbolizer_free(). */
typedef struct istr {
    UT_hash_handle hh;
    char s[];
} istr_t;

/* The symbolized frames of one pc of one module, innermost first. */
typedef struct pc_entry {
    uint64_t pc;
    lk_frame_t *frames;
    size_t n;
    UT_hash_handle hh;
} pc_entry_t;

typedef enum mod_state {
    MOD_UNOPENED = 0,
    MOD_OK,
    MOD_FALLBACK    /* missing, unreadable or build-id mismatch: module+offset */
} mod_state_t;

/* A data symbol or a variable's declaration (held-by roots). */
typedef struct data_sym {
    uint64_t value, size;
    const char *name;       /* interned */
} data_sym_t;

typedef struct var_decl {
    uint64_t addr;
    const char *file;       /* interned */
    int line;
} var_decl_t;

/* A function's address range in a CU, for pc -> function lookups. */
typedef struct fn_range {
    uint64_t lo, hi;        /* [lo, hi) */
    Dwarf_Die die;          /* the DW_TAG_subprogram */
} fn_range_t;

/* The functions of one compile unit, sorted by lo; built on the CU's first
 * lookup, so later pcs in it need no walk from the CU root (dwarf_getscopes
 * walks the whole CU every time: ~190 us per pc in libc). */
typedef struct cu_cache {
    const void *key;        /* the CU DIE's address in the debug data */
    fn_range_t *v;
    size_t n;
    UT_hash_handle hh;
} cu_cache_t;

/* One module file, keyed by "path\nbuild-id". */
typedef struct mod_cache {
    char *key;
    const char *path;       /* interned; as in the dump (shown to the user) */
    char *file;             /* the bytes to open when 'path' is \xNN-escaped, or NULL */
    char *dump_dir;         /* a relative 'path': the directory of the first dump
                             * that named it, where it is looked for first */
    char *build_id;         /* expected, or NULL */
    mod_state_t state;
    Dwfl *dwfl;
    Dwfl_Module *mod;
    pc_entry_t *pcs;
    cu_cache_t *cus;
    bool data_loaded;       /* 'syms' and 'vars' built (lk_symbolize_data) */
    data_sym_t *syms; size_t nsyms;     /* STT_OBJECT by value */
    var_decl_t *vars; size_t nvars;     /* DW_TAG_variable by address */
    UT_hash_handle hh;
} mod_cache_t;

/* A dump's modules sorted by base, for address -> module lookups. */
typedef struct mod_ref {
    uint64_t lo, hi;        /* [lo, hi) */
    uint64_t base;
    uint64_t until;         /* stacks_before_unload; UINT64_MAX while mapped */
    uint64_t max_hi;        /* the largest hi of this ref and those before it */
    mod_cache_t *mc;
} mod_ref_t;

/* Overlapping modules looked at per address at most: a real process has a
 * few (base-0 modules); a crafted dump with thousands must not make every
 * lookup scan them all. */
#define MAX_OVERLAP_SCAN 64

struct lk_symbolizer {
    FILE *warn;
    istr_t *strings;
    mod_cache_t *mods;
    const lk_dump_t *last_dump;     /* the dump 'refs' was built for */
    mod_ref_t *refs;
    size_t nrefs;
    size_t lookups;
};

static char *debuginfo_path;

static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

lk_symbolizer_t *lk_symbolizer_new(FILE *warn)
{
    lk_symbolizer_t *s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->warn = warn != NULL ? warn : stderr;
    return s;
}

/* Return the interned copy of 'str' (NULL for NULL or on ENOMEM). */
static const char *intern(lk_symbolizer_t *s, const char *str)
{
    istr_t *e;

    if (str == NULL)
        return NULL;
    /* Names from DWARF and paths from dumps are untrusted: frames carry
     * them escaped, so every report and rule shows the same safe text. */
    char *esc = NULL;
    if (!lk_is_printable(str) && (str = esc = lk_escape_dup(str)) == NULL)
        return NULL;
    HASH_FIND_STR(s->strings, str, e);
    if (e != NULL) {
        free(esc);
        return e->s;
    }
    size_t len = strlen(str);
    if ((e = malloc(sizeof(*e) + len + 1)) == NULL) {
        free(esc);
        return NULL;
    }
    memcpy(e->s, str, len + 1);
    free(esc);
    HASH_ADD_KEYPTR(hh, s->strings, e->s, len, e);
    return e->s;
}

/* ### demangling */

/* libstdc++'s __cxa_demangle, looked up at run time: the analyzer is C, and
 * this avoids a build dependency (analyzer/README.md explains the choice). */
typedef char *(*cxa_demangle_fn)(const char *, char *, size_t *, int *);

static cxa_demangle_fn find_demangler(void)
{
    static int tried;
    static cxa_demangle_fn fn;

    if (!tried) {
        tried = 1;
        fn = (cxa_demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
        if (fn == NULL) {
            void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
            if (h != NULL)
                fn = (cxa_demangle_fn)dlsym(h, "__cxa_demangle");
        }
    }
    return fn;
}

char *lk_demangle(const char *name)
{
    if (name == NULL || strncmp(name, "_Z", 2) != 0)
        return NULL;
    cxa_demangle_fn fn = find_demangler();
    if (fn == NULL)
        return NULL;
    int status = -1;
    char *out = fn(name, NULL, NULL, &status);
    if (status != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Intern the demangled form of 'name' (or 'name' itself), without a symbol
 * version ("@@GLIBC_2.2.5") or glibc's internal-alias prefix ("__GI_"). */
static const char *intern_function(lk_symbolizer_t *s, const char *name)
{
    char buf[512];
    size_t n = strcspn(name, "@");

    if (strncmp(name, "__GI_", 5) == 0 && n > 5) {
        name += 5;
        n -= 5;
    }
    if (name[n] == '@' && n > 0 && n < sizeof(buf)) {
        memcpy(buf, name, n);
        buf[n] = '\0';
        name = buf;
    }
    char *dm = lk_demangle(name);
    const char *r = intern(s, dm != NULL ? dm : name);
    free(dm);
    return r;
}

/* ### modules */

static void warn_module(lk_symbolizer_t *s, mod_cache_t *mc, const char *why)
{
    fprintf(s->warn, "leak-analyze: warning: %s: %s; showing module+offset for its frames\n",
            mc->path, why);
}

/* The first of 'dir'/'rel' and 'rel' (from the current directory) that is
 * a regular file, malloc'd; NULL when neither is. */
static char *find_relative(const char *rel, const char *dir)
{
    struct stat sb;
    char *p = NULL;
    if (dir != NULL && asprintf(&p, "%s/%s", dir, rel) >= 0) {
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            return p;
        free(p);
    }
    if (stat(rel, &sb) == 0 && S_ISREG(sb.st_mode))
        return strdup(rel);
    return NULL;
}

/* Open 'mc' with libdw and check its build-id; on any problem switch it to
 * module+offset with one warning. */
static void open_module(lk_symbolizer_t *s, mod_cache_t *mc)
{
    mc->state = MOD_FALLBACK;
    if (mc->path == NULL || strchr(mc->path, '/') == NULL) {
        /* e.g. "linux-vdso.so.1": no file to read, nothing to warn about */
        return;
    }
    const char *file = mc->file != NULL ? mc->file : mc->path;
    char *found = NULL;
    if (file[0] != '/') {
        /* dlopen("./libplug.so") is recorded as given, relative to the
         * process's working directory, which the dump does not record:
         * the dump's own directory (LIBLEAK_DIR defaults to it), then ours. */
        found = find_relative(file, mc->dump_dir);
        if (found == NULL) {
            char why[PATH_MAX + 160];
            char *dir = mc->dump_dir != NULL ? lk_escape_dup(mc->dump_dir) : NULL;
            snprintf(why, sizeof(why), "a relative path, as the process opened it, found "
                     "neither in the dump's directory (%.*s) nor in the current directory",
                     PATH_MAX, dir != NULL ? dir : ".");
            free(dir);
            warn_module(s, mc, why);
            return;
        }
        file = found;
    }
    if ((mc->dwfl = dwfl_begin(&offline_callbacks)) == NULL) {
        warn_module(s, mc, dwfl_errmsg(-1));
        free(found);
        return;
    }
    /* Report at load bias 0: a lookup pc is then the address minus the
     * dump's base, i.e. an address in the file's own layout. */
    /* O_NONBLOCK and a regular-file check before libdw sees it: a dump may
     * name a FIFO or a device, whose open or read would never end. */
    struct stat sb;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        char why[320];
        snprintf(why, sizeof(why), "cannot read the binary (%s)",
                 fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        warn_module(s, mc, why);
        free(found);
        return;
    }
    mc->mod = dwfl_report_elf(mc->dwfl, mc->path, file, fd, 0, false);
    free(found);
    dwfl_report_end(mc->dwfl, NULL, NULL);
    if (mc->mod == NULL)
        close(fd);   /* on success libdwfl owns it */
    if (mc->mod == NULL) {
        char why[320];
        snprintf(why, sizeof(why), "cannot read the binary (%s)", dwfl_errmsg(-1));
        warn_module(s, mc, why);
        return;
    }
    if (mc->build_id != NULL) {
        const unsigned char *bits;
        GElf_Addr vaddr;
        int len = dwfl_module_build_id(mc->mod, &bits, &vaddr);
        char hex[2 * 64 + 1] = "";
        for (int i = 0; i < len && i < 64; i++)
            snprintf(hex + 2 * i, 3, "%02x", bits[i]);
        if (len <= 0 || strcmp(hex, mc->build_id) != 0) {
            char why[320];
            snprintf(why, sizeof(why), "build-id %s differs from the dump's %s (rebuilt?)",
                     len > 0 ? hex : "(none)", mc->build_id);
            warn_module(s, mc, why);
            return;
        }
    }
    mc->state = MOD_OK;
}

/* The raw bytes of a path the preload wrote as \xNN for bytes >= 0x80 (not
 * UTF-8); other characters stand for themselves.  NULL when out of memory. */
static char *unescape_path(const char *p)
{
    char *out = malloc(strlen(p) + 1), *o = out;
    if (out == NULL)
        return NULL;
    while (*p != '\0') {
        unsigned v;
        if (p[0] == '\\' && p[1] == 'x' && isxdigit((unsigned char)p[2]) &&
            isxdigit((unsigned char)p[3]) && sscanf(p + 2, "%2x", &v) == 1 && v >= 0x80) {
            *o++ = (char)v;
            p += 4;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static mod_cache_t *get_module(lk_symbolizer_t *s, const lk_dump_t *d,
                               const lk_dump_module_t *dm)
{
    char *key, *dir = NULL;
    mod_cache_t *mc;

    /* a relative path names different files from different dump directories */
    if (dm->path[0] != '/' && strchr(dm->path, '/') != NULL) {
        const char *slash = d->file != NULL ? strrchr(d->file, '/') : NULL;
        dir = slash == NULL ? strdup(".") : strndup(d->file, (size_t)(slash - d->file));
        if (dir == NULL)
            return NULL;
    }
    if (asprintf(&key, "%s\n%s\n%s", dm->path, dm->build_id != NULL ? dm->build_id : "",
                 dir != NULL ? dir : "") < 0) {
        free(dir);
        return NULL;
    }
    HASH_FIND_STR(s->mods, key, mc);
    if (mc != NULL) {
        free(key);
        free(dir);
        return mc;
    }
    if ((mc = calloc(1, sizeof(*mc))) == NULL) {
        free(key);
        free(dir);
        return NULL;
    }
    mc->key = key;
    mc->dump_dir = dir;
    mc->path = intern(s, dm->path);     /* escaped for display by intern() */
    mc->file = dm->path_escaped ? unescape_path(dm->path)
             : mc->path != NULL && strcmp(mc->path, dm->path) != 0 ? strdup(dm->path) : NULL;
    mc->build_id = lk_strdup(dm->build_id);
    HASH_ADD_KEYPTR(hh, s->mods, mc->key, strlen(mc->key), mc);
    return mc;
}

static int cmp_ref(const void *a, const void *b)
{
    const mod_ref_t *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Build the sorted module table of 'd' (cached for consecutive calls). */
static int prepare_dump(lk_symbolizer_t *s, const lk_dump_t *d)
{
    if (s->last_dump == d)
        return 0;
    free(s->refs);
    s->refs = NULL;
    s->nrefs = 0;
    s->last_dump = NULL;
    if (d->nmodules > 0 && (s->refs = calloc(d->nmodules, sizeof(*s->refs))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < d->nmodules; i++) {
        mod_ref_t *r = &s->refs[s->nrefs];
        if ((r->mc = get_module(s, d, &d->modules[i])) == NULL)
            return -ENOMEM;
        r->base = d->modules[i].base;
        r->until = d->modules[i].unloaded ? d->modules[i].stacks_before_unload : UINT64_MAX;
        r->lo = d->modules[i].base;
        r->hi = d->modules[i].size_bytes > 0 ? r->lo + d->modules[i].size_bytes : UINT64_MAX;
        if (r->hi < r->lo)
            r->hi = UINT64_MAX;
        s->nrefs++;
    }
    if (s->nrefs > 1)
        qsort(s->refs, s->nrefs, sizeof(*s->refs), cmp_ref);
    /* Modules without a size end where the next one starts. */
    for (size_t i = 0; i + 1 < s->nrefs; i++)
        if (s->refs[i].hi == UINT64_MAX)
            s->refs[i].hi = s->refs[i + 1].lo;
    for (size_t i = 0; i < s->nrefs; i++)
        s->refs[i].max_hi = i > 0 && s->refs[i - 1].max_hi > s->refs[i].hi
                                ? s->refs[i - 1].max_hi : s->refs[i].hi;
    s->last_dump = d;
    return 0;
}

/* The module of 'addr' for stack 'stack_id' in the prepared dump, or NULL.
 * Modules unloaded before the dump may share addresses with each other and
 * with later ones.  Stack ids count up in time, and a stack cannot point
 * into a module unloaded before it was interned (until <= id): of the
 * others that hold 'addr', the one unloaded first was the one mapped then
 * (any later one came after it).  A pc with no stack (UINT64_MAX) gets the
 * module mapped at the dump, else the one unloaded last. */
static const mod_ref_t *find_ref(const lk_symbolizer_t *s, uint64_t addr, uint64_t stack_id)
{
    size_t lo = 0, hi = s->nrefs;
    const mod_ref_t *best = NULL, *pick = NULL, *last = NULL;

    while (lo < hi) {   /* last ref with ref.lo <= addr */
        size_t mid = lo + (hi - lo) / 2;
        if (s->refs[mid].lo <= addr) {
            best = &s->refs[mid];
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    /* Ranges can overlap (a module with base 0, the non-PIE main program;
     * unloaded modules), so scan back while one before may still hold it,
     * at most MAX_OVERLAP_SCAN refs: a hostile dump may stack thousands. */
    if (best == NULL)
        return NULL;
    for (size_t i = (size_t)(best - s->refs) + 1, k = 0; i-- > 0 && k < MAX_OVERLAP_SCAN; k++) {
        const mod_ref_t *r = &s->refs[i];
        if (r->max_hi <= addr)
            break;
        if (addr < r->lo || addr >= r->hi)
            continue;
        if (r->until > stack_id && (pick == NULL || r->until < pick->until))
            pick = r;
        if (last == NULL || r->until > last->until)
            last = r;
    }
    return pick != NULL ? pick : last;
}

/* ### libdw lookups */

static const char *die_function_name(lk_symbolizer_t *s, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = NULL;

    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != NULL
        || dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != NULL)
        name = dwarf_formstring(&attr);
    if (name == NULL && dwarf_attr_integrate(die, DW_AT_name, &attr) != NULL)
        name = dwarf_formstring(&attr);
    return name != NULL ? intern_function(s, name) : NULL;
}

/* Append a frame to the growing vector. */
static int push(lk_frame_t **v, size_t *n, size_t *cap, const lk_frame_t *f)
{
    if (*n == *cap) {
        size_t nc = *cap != 0 ? *cap * 2 : 4;
        lk_frame_t *nv = realloc(*v, nc * sizeof(*nv));
        if (nv == NULL)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *f;
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const fn_range_t *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Add the subprograms below 'die' (through namespaces and classes) to 'cc'. */
static int collect_functions(cu_cache_t *cc, size_t *cap, Dwarf_Die *die, int depth)
{
    Dwarf_Die child;

    if (depth > 32 || dwarf_child(die, &child) != 0)
        return 0;
    do {
        int tag = dwarf_tag(&child);
        if (tag == DW_TAG_subprogram) {
            Dwarf_Addr base, lo, hi;
            ptrdiff_t off = 0;
            while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
                if (hi <= lo)
                    continue;
                if (cc->n == *cap) {
                    size_t nc = *cap != 0 ? *cap * 2 : 64;
                    fn_range_t *nv = realloc(cc->v, nc * sizeof(*nv));
                    if (nv == NULL)
                        return -ENOMEM;
                    cc->v = nv;
                    *cap = nc;
                }
                cc->v[cc->n++] = (fn_range_t){ lo, hi, child };
            }
        } else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type
                   || tag == DW_TAG_structure_type || tag == DW_TAG_union_type
                   || tag == DW_TAG_module) {
            if (collect_functions(cc, cap, &child, depth + 1) < 0)
                return -ENOMEM;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return 0;
}

static cu_cache_t *get_cu(mod_cache_t *mc, Dwarf_Die *cudie)
{
    const void *key = cudie->addr;
    cu_cache_t *cc;
    size_t cap = 0;

    HASH_FIND_PTR(mc->cus, &key, cc);
    if (cc != NULL)
        return cc;
    if ((cc = calloc(1, sizeof(*cc))) == NULL)
        return NULL;
    cc->key = key;
    if (collect_functions(cc, &cap, cudie, 0) < 0) {
        free(cc->v);
        free(cc);
        return NULL;
    }
    if (cc->n > 1)
        qsort(cc->v, cc->n, sizeof(*cc->v), cmp_range);
    HASH_ADD_PTR(mc->cus, key, cc);
    return cc;
}

static bool is_scope_tag(int tag)
{
    return tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block
           || tag == DW_TAG_subprogram || tag == DW_TAG_try_block || tag == DW_TAG_catch_block;
}

/* The scopes holding 'addr', innermost first, ending with its subprogram
 * (the shape of dwarf_getscopes() up to the subprogram), found through the
 * CU's function table.  Returns the count (scopes malloc'd), or -1 when the
 * table does not know 'addr' and the caller should use dwarf_getscopes(). */
static int fast_scopes(mod_cache_t *mc, Dwarf_Die *cudie, Dwarf_Addr addr, Dwarf_Die **out)
{
    cu_cache_t *cc = get_cu(mc, cudie);
    const fn_range_t *fn = NULL;

    *out = NULL;
    if (cc == NULL || cc->n == 0)
        return -1;
    size_t lo = 0, hi = cc->n;
    while (lo < hi) {           /* first range with lo > addr */
        size_t mid = lo + (hi - lo) / 2;
        if (cc->v[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k-- > 0 && lo - k <= 8;)
        if (addr >= cc->v[k].lo && addr < cc->v[k].hi) {
            fn = &cc->v[k];
            break;
        }
    if (fn == NULL)
        return -1;

    Dwarf_Die *chain = NULL, cur = fn->die;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap != 0 ? cap * 2 : 8;
            Dwarf_Die *nv = realloc(chain, nc * sizeof(*nv));
            if (nv == NULL) {
                free(chain);
                return -1;
            }
            chain = nv;
            cap = nc;
        }
        chain[n++] = cur;
        if (n > 256)
            break;
        Dwarf_Die child;
        bool found = false;
        if (dwarf_child(&cur, &child) == 0) {
            do {
                if (is_scope_tag(dwarf_tag(&child)) && dwarf_haspc(&child, addr) == 1) {
                    cur = child;
                    found = true;
                    break;
                }
            } while (dwarf_siblingof(&child, &child) == 0);
        }
        if (!found)
            break;
    }
    for (size_t i = 0; i < n / 2; i++) {    /* innermost first */
        Dwarf_Die t = chain[i];
        chain[i] = chain[n - 1 - i];
        chain[n - 1 - i] = t;
    }
    *out = chain;
    return (int)n;
}

/* Symbolize 'pc' (file-relative, already minus 1) of 'mc' into a new
 * cache entry. */
static pc_entry_t *lookup_pc(lk_symbolizer_t *s, mod_cache_t *mc, uint64_t pc)
{
    pc_entry_t *e = calloc(1, sizeof(*e));
    lk_frame_t *v = NULL;
    size_t n = 0, cap = 0;
    lk_frame_t cur = { .offset = pc, .module = mc->path };

    if (e == NULL)
        return NULL;
    e->pc = pc;
    s->lookups++;
    if (mc->state == MOD_OK) {
        Dwarf_Addr addr = pc;   /* bias 0: module addresses are file addresses */
        Dwfl_Line *line = dwfl_module_getsrc(mc->mod, addr);
        if (line != NULL) {
            int lineno = 0;
            const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
            cur.file = intern(s, file);
            cur.line = lineno;
        }
        Dwarf_Addr bias = 0;
        Dwarf_Die *cudie = dwfl_module_addrdie(mc->mod, addr, &bias);
        Dwarf_Die *scopes = NULL;
        int nscopes = cudie != NULL ? fast_scopes(mc, cudie, addr - bias, &scopes) : 0;
        if (nscopes < 0)
            nscopes = dwarf_getscopes(cudie, addr - bias, &scopes);
        Dwarf_Files *files = NULL;
        size_t nfiles = 0;
        if (cudie != NULL && dwarf_getsrcfiles(cudie, &files, &nfiles) != 0)
            files = NULL;
        for (int i = 0; i < nscopes; i++) {
            Dwarf_Die *sc = &scopes[i];
            int tag = dwarf_tag(sc);
            if (tag == DW_TAG_subprogram)
                break;
            if (tag != DW_TAG_inlined_subroutine)
                continue;
            /* The inlined body is a frame of its own; the call site's
             * position becomes the file:line of the frame outside it. */
            cur.function = die_function_name(s, sc);
            cur.inlined = true;
            if (push(&v, &n, &cap, &cur) < 0)
                goto out_nomem;
            Dwarf_Attribute attr;
            Dwarf_Word w;
            cur.file = NULL;
            cur.line = 0;
            if (files != NULL && dwarf_formudata(dwarf_attr(sc, DW_AT_call_file, &attr), &w) == 0
                && w < nfiles)
                cur.file = intern(s, dwarf_filesrc(files, w, NULL, NULL));
            if (dwarf_formudata(dwarf_attr(sc, DW_AT_call_line, &attr), &w) == 0)
                cur.line = (int)w;
        }
        cur.inlined = false;
        cur.function = NULL;
        /* The subprogram's DWARF name first: dwfl_module_addrinfo() scans
         * the whole symbol table per call, so it is only the fallback for
         * code without debug info. */
        for (int i = 0; i < nscopes && cur.function == NULL; i++)
            if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram)
                cur.function = die_function_name(s, &scopes[i]);
        if (cur.function == NULL) {
            GElf_Sym sym;
            GElf_Off off;
            const char *symname = dwfl_module_addrinfo(mc->mod, addr, &off, &sym, NULL, NULL,
                                                       NULL);
            cur.function = symname != NULL ? intern_function(s, symname) : NULL;
        }
        free(scopes);
    }
    if (push(&v, &n, &cap, &cur) < 0)
        goto out_nomem;
    e->frames = v;
    e->n = n;
    HASH_ADD(hh, mc->pcs, pc, sizeof(e->pc), e);
    return e;

out_nomem:
    free(v);
    free(e);
    return NULL;
}

int lk_symbolize_stack(lk_symbolizer_t *s, const lk_dump_t *d, const lk_stack_t *st,
                       lk_frame_t **out, size_t *nout)
{
    lk_frame_t *v = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    *nout = 0;
    if (prepare_dump(s, d) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < st->nframes; i++) {
        uint64_t addr = st->frames[i];
        /* A return address points after the call; addr - 1 is inside it. */
        uint64_t pc = addr > 0 ? addr - 1 : 0;
        const mod_ref_t *r = find_ref(s, pc, st->id);
        if (r == NULL) {
            lk_frame_t f = { .address = addr, .offset = pc };
            /* where the capture stopped: generated code outside every module */
            if (st->jit_cut && i + 1 == st->nframes)
                f.function = "<JIT code>";
            if (push(&v, &n, &cap, &f) < 0)
                goto out_nomem;
            continue;
        }
        mod_cache_t *mc = r->mc;
        if (mc->state == MOD_UNOPENED)
            open_module(s, mc);
        uint64_t rel = pc - r->base;
        pc_entry_t *e;
        HASH_FIND(hh, mc->pcs, &rel, sizeof(rel), e);
        if (e == NULL && (e = lookup_pc(s, mc, rel)) == NULL)
            goto out_nomem;
        for (size_t k = 0; k < e->n; k++) {
            lk_frame_t f = e->frames[k];
            f.address = addr;
            if (push(&v, &n, &cap, &f) < 0)
                goto out_nomem;
        }
    }
    *out = v;
    *nout = n;
    return 0;

out_nomem:
    free(v);
    return -ENOMEM;
}

/* ### data symbols (held-by roots) */

static int cmp_data_sym(const void *a, const void *b)
{
    const data_sym_t *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return x->size < y->size ? -1 : x->size > y->size;
}

static int cmp_var(const void *a, const void *b)
{
    const var_decl_t *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The static address of variable 'die' (DW_OP_addr or DW_OP_addrx as its
 * whole location), or false. */
static bool var_address(Dwarf_Die *die, uint64_t *out)
{
    Dwarf_Attribute attr;
    Dwarf_Op *expr;
    size_t len;

    if (dwarf_attr(die, DW_AT_location, &attr) == NULL
        || dwarf_getlocation(&attr, &expr, &len) != 0 || len != 1)
        return false;
    if (expr[0].atom == DW_OP_addr) {
        *out = expr[0].number;
        return true;
    }
    if (expr[0].atom == DW_OP_addrx || expr[0].atom == DW_OP_GNU_addr_index) {
        Dwarf_Attribute res;
        Dwarf_Addr a;
        if (dwarf_getlocation_attr(&attr, expr, &res) == 0 && dwarf_formaddr(&res, &a) == 0) {
            *out = a;
            return true;
        }
    }
    return false;
}

/* The file declaring 'die' of compile unit 'cu'.  elfutils 0.188's
 * dwarf_decl_file() returns NULL for DWARF 5 file index 0 (the CU's primary
 * file, which clang uses), so look the index up in the CU's file table. */
static const char *decl_file(Dwarf_Die *die, Dwarf_Die *cu)
{
    const char *file = dwarf_decl_file(die);
    Dwarf_Attribute attr;
    Dwarf_Word idx;
    Dwarf_Files *files;
    size_t nfiles;

    if (file != NULL)
        return file;
    if (dwarf_formudata(dwarf_attr_integrate(die, DW_AT_decl_file, &attr), &idx) != 0
        || dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || idx >= nfiles)
        return NULL;
    return dwarf_filesrc(files, idx, NULL, NULL);
}

/* Collect variables with a static address under 'die' (namespaces,
 * functions and blocks included: function-local statics are roots too). */
static int walk_vars(lk_symbolizer_t *s, mod_cache_t *mc, Dwarf_Die *cu, Dwarf_Die *parent,
                     size_t *cap, int depth)
{
    Dwarf_Die child;

    if (depth > 32 || dwarf_child(parent, &child) != 0)
        return 0;
    do {
        int tag = dwarf_tag(&child);
        uint64_t addr;
        int line = 0;
        if (tag == DW_TAG_variable && var_address(&child, &addr)) {
            const char *file = decl_file(&child, cu);
            if (file != NULL && dwarf_decl_line(&child, &line) == 0) {
                if (mc->nvars == *cap) {
                    size_t nc = *cap != 0 ? *cap * 2 : 64;
                    var_decl_t *nv = realloc(mc->vars, nc * sizeof(*nv));
                    if (nv == NULL)
                        return -ENOMEM;
                    mc->vars = nv;
                    *cap = nc;
                }
                mc->vars[mc->nvars++] = (var_decl_t){ addr, intern(s, file), line };
            }
        } else if (tag == DW_TAG_namespace || tag == DW_TAG_subprogram
                   || tag == DW_TAG_lexical_block) {
            int rc = walk_vars(s, mc, cu, &child, cap, depth + 1);
            if (rc < 0)
                return rc;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return 0;
}

/* Build the module's data symbol table and variable declarations once. */
static int load_data(lk_symbolizer_t *s, mod_cache_t *mc)
{
    size_t cap = 0;

    mc->data_loaded = true;
    if (mc->state != MOD_OK)
        return 0;
    int n = dwfl_module_getsymtab(mc->mod);
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *name = dwfl_module_getsym_info(mc->mod, i, &sym, &addr, NULL, NULL, NULL);
        /* STT_TLS values are offsets in the TLS block, not file addresses
         * of .data/.bss, so only objects can hold a global root's word. */
        if (name == NULL || name[0] == '\0' || GELF_ST_TYPE(sym.st_info) != STT_OBJECT
            || sym.st_shndx == SHN_UNDEF)
            continue;
        if (mc->nsyms == cap) {
            size_t nc = cap != 0 ? cap * 2 : 64;
            data_sym_t *nv = realloc(mc->syms, nc * sizeof(*nv));
            if (nv == NULL)
                return -ENOMEM;
            mc->syms = nv;
            cap = nc;
        }
        const char *iname = intern_function(s, name);
        if (iname == NULL)
            return -ENOMEM;
        mc->syms[mc->nsyms++] = (data_sym_t){ sym.st_value, sym.st_size, iname };
    }
    if (mc->nsyms > 1)
        qsort(mc->syms, mc->nsyms, sizeof(*mc->syms), cmp_data_sym);
    cap = 0;
    Dwarf_Die *cu = NULL;
    Dwarf_Addr bias;
    while ((cu = dwfl_module_nextcu(mc->mod, cu, &bias)) != NULL)
        if (walk_vars(s, mc, cu, cu, &cap, 0) < 0)
            return -ENOMEM;
    if (mc->nvars > 1)
        qsort(mc->vars, mc->nvars, sizeof(*mc->vars), cmp_var);
    return 0;
}

int lk_symbolize_data(lk_symbolizer_t *s, const lk_dump_t *d, const char *path,
                      uint64_t offset, lk_data_sym_t *out)
{
    memset(out, 0, sizeof(*out));
    if (path == NULL || prepare_dump(s, d) < 0)
        return path == NULL ? 0 : -ENOMEM;
    /* modules are keyed by their shown (escaped) path */
    char *esc = lk_is_printable(path) ? NULL : lk_escape_dup(path);
    const char *want = esc != NULL ? esc : path;
    mod_cache_t *mc = NULL;
    for (size_t i = 0; i < s->nrefs && mc == NULL; i++)
        if (strcmp(s->refs[i].mc->path, want) == 0)
            mc = s->refs[i].mc;
    free(esc);
    if (mc == NULL)
        return 0;   /* not among the dump's modules: module+offset only */
    if (mc->state == MOD_UNOPENED)
        open_module(s, mc);
    if (!mc->data_loaded && load_data(s, mc) < 0)
        return -ENOMEM;
    /* The symbol with the largest value <= offset that contains it; a
     * zero-size symbol only at its own address. */
    const data_sym_t *best = NULL;
    size_t lo = 0, hi = mc->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mc->syms[mid].value <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i-- > 0 && best == NULL;) {
        const data_sym_t *e = &mc->syms[i];
        if (offset < e->value + (e->size != 0 ? e->size : 1))
            best = e;
        else if (offset - e->value > (UINT64_C(1) << 24))
            break;  /* nothing this far below spans that far */
    }
    if (best == NULL)
        return 0;
    out->name = best->name;
    out->sym_offset = offset - best->value;
    var_decl_t key = { .addr = best->value };
    const var_decl_t *v = mc->nvars == 0 ? NULL : bsearch(&key, mc->vars, mc->nvars, sizeof(*mc->vars), cmp_var);
    if (v != NULL) {
        out->decl_file = v->file;
        out->decl_line = v->line;
    }
    return 0;
}

size_t lk_symbolizer_lookups(const lk_symbolizer_t *s)
{
    return s->lookups;
}

void lk_symbolizer_free(lk_symbolizer_t *s)
{
    mod_cache_t *mc, *mtmp;
    pc_entry_t *e, *etmp;
    istr_t *is, *itmp;

    if (s == NULL)
        return;
    HASH_ITER(hh, s->mods, mc, mtmp) {
        HASH_ITER(hh, mc->pcs, e, etmp) {
            HASH_DEL(mc->pcs, e);
            free(e->frames);
            free(e);
        }
        cu_cache_t *cc, *ctmp;
        HASH_ITER(hh, mc->cus, cc, ctmp) {
            HASH_DEL(mc->cus, cc);
            free(cc->v);
            free(cc);
        }
        HASH_DEL(s->mods, mc);
        if (mc->dwfl != NULL)
            dwfl_end(mc->dwfl);
        free(mc->key);
        free(mc->file);
        free(mc->dump_dir);
        free(mc->build_id);
        free(mc->syms);
        free(mc->vars);
        free(mc);
    }
    HASH_ITER(hh, s->strings, is, itmp) {
        HASH_DEL(s->strings, is);
        free(is);
    }
    free(s->refs);
    free(s);
}
