/* util.c - small helpers shared by the analyzer passes: warnings, names,
 * strings and option parsing.  No analysis happens here. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "libleak/size.h"
#include "growth.h"
#include "model.h"

static const char *const family_names[] = LK_FAMILY_NAMES;
static const char *const trigger_names[] = LK_TRIGGER_NAMES;
static const char *const failure_names[] = LK_FAILURE_NAMES;
static const char *const kind_names[] = LK_KIND_NAMES;
static const char *const kind_headings[] = LK_KIND_HEADINGS;
static const char *const verdict_names[] = LK_VERDICT_NAMES;
static const char *const root_names[] = LK_REACH_ROOT_NAMES;

#define NAME_OF(table, i) \
    ((unsigned)(i) < sizeof(table) / sizeof(table[0]) ? table[(unsigned)(i)] : "?")

const char *lk_family_name(lk_family_t f) { return NAME_OF(family_names, f); }
const char *lk_trigger_name(lk_trigger_t t) { return NAME_OF(trigger_names, t); }
const char *lk_failure_name(lk_failure_kind_t k) { return NAME_OF(failure_names, k); }
const char *lk_kind_name(lk_kind_t k) { return NAME_OF(kind_names, k); }
const char *lk_kind_heading(lk_kind_t k) { return NAME_OF(kind_headings, k); }
const char *lk_verdict_name(lk_verdict_t v) { return NAME_OF(verdict_names, v); }
const char *lk_root_name(lk_root_t r) { return NAME_OF(root_names, r); }

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
    lk_print_line(stderr, "leak-analyze: warning: ", buf);
    if (r == NULL)
        return;
    char **nv = realloc(r->warnings, (r->nwarnings + 1) * sizeof(*nv));
    if (nv == NULL)
        return;
    r->warnings = nv;
    if ((nv[r->nwarnings] = lk_escape_dup(buf)) != NULL)
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
    uint64_t v;
    if (lk_size_parse(s, &v) < 0 || v > LK_MAX_COUNT)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at 's' (1..4) that a terminal shows as
 * text, or 0: invalid, overlong, a surrogate, a C1 control (U+0080..U+009F)
 * or a bidirectional/line control that can reorder or forge what is shown. */
static size_t printable_utf8(const unsigned char *s)
{
    size_t n;
    uint32_t cp;

    if (s[0] < 0x80)
        return s[0] >= 0x20 && s[0] != 0x7f;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c
        || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e)
        || (cp >= 0x2066 && cp <= 0x2069))
        return 0;
    return n;
}

bool lk_is_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    if (s == NULL)
        return true;
    while (*p != '\0') {
        if ((n = printable_utf8(p)) == 0)
            return false;
        p += n;
    }
    return true;
}

size_t lk_escape(char *out, size_t outlen, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    size_t len = 0, pos = 0, n;
    bool full = outlen == 0;

    for (; *p != '\0'; p += n) {
        char buf[4];
        const char *src = (const char *)p;
        if ((n = printable_utf8(p)) == 0) {
            buf[0] = '\\';
            buf[1] = 'x';
            buf[2] = hex[*p >> 4];
            buf[3] = hex[*p & 0xf];
            src = buf;
            n = 1;
        }
        size_t w = src == buf ? 4 : n;
        /* never cut a character or an escape in two */
        if (!full && pos + w < outlen) {
            memcpy(out + pos, src, w);
            pos += w;
        } else {
            full = true;
        }
        len += w;
    }
    if (outlen > 0)
        out[pos] = '\0';
    return len;
}

char *lk_escape_dup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t len = lk_escape(NULL, 0, s);
    char *out = malloc(len + 1);
    if (out != NULL)
        lk_escape(out, len + 1, s);
    return out;
}

void lk_print_line(FILE *out, const char *prefix, const char *msg)
{
    char buf[1024];
    lk_escape(buf, sizeof(buf), msg);
    fprintf(out, "%s%s\n", prefix, buf);
}

void lk_fput_xml(FILE *out, const char *s)
{
    char *esc = NULL;

    if (s == NULL)
        return;
    if (!lk_is_printable(s))
        s = (esc = lk_escape_dup(s)) != NULL ? esc : "?";
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<':  fputs("&lt;", out); break;
        case '>':  fputs("&gt;", out); break;
        case '&':  fputs("&amp;", out); break;
        case '"':  fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:   fputc(*s, out);
        }
    }
    free(esc);
}

uint64_t lk_sat_add(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s < a || s > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : s;
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

/* "213 bytes" below 1 KiB; above, "3.9 KiB (4,011 bytes)": three
 * significant digits in the largest binary unit, then the exact count. */
const char *lk_fmt_bytes(char *buf, size_t len, uint64_t v)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    char exact[32];

    lk_fmt_count(exact, sizeof(exact), v);
    if (v < 1024) {
        snprintf(buf, len, "%s %s", exact, v == 1 ? "byte" : "bytes");
        return buf;
    }
    double x = (double)v / 1024.0;
    size_t u = 0;
    while (x >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
        x /= 1024.0;
        u++;
    }
    snprintf(buf, len, x < 9.95 ? "%.1f %s (%s bytes)" : "%.0f %s (%s bytes)", x, units[u],
             exact);
    return buf;
}

/* Decimal with thousands separators, whatever the locale. */
const char *lk_fmt_count(char *buf, size_t len, uint64_t v)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    size_t o = 0;

    for (int i = 0; i < n && o + 1 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0 && o + 2 < len)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    if (len > 0)
        buf[o < len ? o : len - 1] = '\0';
    return buf;
}

/* Is the '<' at s[i] part of "operator<", "operator<<", "operator<=" ...? */
static bool is_operator_lt(const char *s, size_t i)
{
    size_t j = i;
    while (j > 0 && s[j - 1] == '<')
        j--;
    return j >= 8 && strncmp(s + j - 8, "operator", 8) == 0;
}

/* Collapse template argument lists heaptrack-style: a <...> group whose
 * contents are longer than LK_SHORT_ARGS characters or nest another group
 * becomes "<...>", so "std::vector<std::pair<int, int>, std::allocator<...> >
 * ::push_back" reads "std::vector<...>::push_back".  A name whose brackets do
 * not balance is copied unchanged. */
size_t lk_short_name(char *out, size_t outlen, const char *s)
{
    size_t n = strlen(s), o = 0;
    int depth = 0;

    /* check the balance first: "operator<" and odd names stay as they are */
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<' && !is_operator_lt(s, i))
            depth++;
        else if (s[i] == '>' && !(i > 0 && s[i - 1] == '-') && !is_operator_lt(s, i)) {
            if (--depth < 0)
                break;
        }
    }
    if (depth != 0) {
        snprintf(out, outlen, "%s", s);
        return n;
    }
    for (size_t i = 0; i < n;) {
        if (s[i] == '<' && !is_operator_lt(s, i)) {
            /* find the matching '>' and whether the group nests */
            size_t j = i + 1;
            int d = 1;
            bool nested = false;
            for (; j < n && d > 0; j++) {
                if (s[j] == '<' && !is_operator_lt(s, j)) {
                    d++;
                    nested = true;
                } else if (s[j] == '>' && s[j - 1] != '-' && !is_operator_lt(s, j)) {
                    d--;
                }
            }
            /* j is one past the matching '>' */
            if (nested || j - i - 2 > LK_SHORT_ARGS) {
                for (const char *p = "<...>"; *p != '\0'; p++, o++)
                    if (o + 1 < outlen)
                        out[o] = *p;
                i = j;
                continue;
            }
        }
        if (o + 1 < outlen)
            out[o] = s[i];
        o++;
        i++;
    }
    if (outlen > 0)
        out[o < outlen ? o : outlen - 1] = '\0';
    return o;
}
