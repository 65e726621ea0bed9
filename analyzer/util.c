/* util.c - small helpers shared by the analyzer passes: warnings, names,
 * strings and option parsing.  No analysis happens here. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static const char *const family_names[] = LK_FAMILY_NAMES;
static const char *const trigger_names[] = LK_TRIGGER_NAMES;
static const char *const failure_names[] = LK_FAILURE_NAMES;
static const char *const kind_names[] = LK_KIND_NAMES;
static const char *const kind_headings[] = LK_KIND_HEADINGS;

#define NAME_OF(table, i) \
    ((unsigned)(i) < sizeof(table) / sizeof(table[0]) ? table[(unsigned)(i)] : "?")

const char *lk_family_name(lk_family_t f) { return NAME_OF(family_names, f); }
const char *lk_trigger_name(lk_trigger_t t) { return NAME_OF(trigger_names, t); }
const char *lk_failure_name(lk_failure_kind_t k) { return NAME_OF(failure_names, k); }
const char *lk_kind_name(lk_kind_t k) { return NAME_OF(kind_names, k); }
const char *lk_kind_heading(lk_kind_t k) { return NAME_OF(kind_headings, k); }

int lk_kind_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(name, kind_names[i]) == 0)
            return (int)i;
    return -1;
}

void lk_report_warn(lk_report_t *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "leak-analyze: warning: %s\n", buf);
    if (r == NULL)
        return;
    char **nv = realloc(r->warnings, (r->nwarnings + 1) * sizeof(*nv));
    if (nv == NULL)
        return;
    r->warnings = nv;
    if ((nv[r->nwarnings] = lk_strdup(buf)) != NULL)
        r->nwarnings++;
}

const char *lk_basename(const char *path)
{
    if (path == NULL)
        return NULL;
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

char *lk_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

int lk_parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return -EINVAL;
    }
    if (*end != '\0' || v > (LK_MAX_COUNT >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

const char *lk_signal_name(int sig)
{
    static const struct { int sig; const char *name; } names[] = {
        { SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" }, { SIGILL, "SIGILL" },
        { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" }, { SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" },
        { SIGKILL, "SIGKILL" }, { SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" },
        { SIGUSR2, "SIGUSR2" }, { SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" },
        { SIGTERM, "SIGTERM" }, { SIGSYS, "SIGSYS" }, { SIGXCPU, "SIGXCPU" },
        { SIGXFSZ, "SIGXFSZ" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].sig == sig)
            return names[i].name;
    return "signal";
}
