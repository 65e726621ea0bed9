/* config.c - parse the LIBLEAK_* environment (options listed in config.def).
 * Runs once at init, possibly before libc's stdio is usable: no allocation,
 * only getenv and hand-written number parsing.  Bad values warn and keep the
 * default; nothing here can fail the traced program. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

lk_config_t lk_config = {
#define LK_OPT(name, field, kind, def, lo, hi, meaning) .field = def,
#include "config.def"
#undef LK_OPT
    .watermark_percent = 0,
};

/* Parse a decimal unsigned integer with no sign and no trailing junk. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return -ERANGE;
    }
    *end = s;
    *out = v;
    return 0;
}

int lk_config_parse_bytes(const char *s, uint64_t *out)
{
    const char *end;
    uint64_t v;
    if (parse_u64(s, &end, &v) != 0)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return -EINVAL;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0')
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = v << shift;
    return 0;
}

static int set_int(const char *s, long lo, long hi, long *out)
{
    const char *end;
    uint64_t v;
    bool neg = (*s == '-');
    if (parse_u64(neg ? s + 1 : s, &end, &v) != 0 || *end != '\0' || v > (uint64_t)LONG_MAX)
        return -EINVAL;
    long x = neg ? -(long)v : (long)v;
    if (x < lo || x > hi)
        return -ERANGE;
    *out = x;
    return 0;
}

static int set_bool(const char *s, int *out)
{
    if (strcmp(s, "1") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "true") == 0)
        *out = 1;
    else if (strcmp(s, "0") == 0 || strcmp(s, "no") == 0 || strcmp(s, "false") == 0)
        *out = 0;
    else
        return -EINVAL;
    return 0;
}

/* LIBLEAK_WATERMARK: bytes, or "N%" of limits.effective_bytes (1..100). */
static int set_watermark(const char *s, uint64_t *bytes, unsigned *percent)
{
    size_t n = strlen(s);
    if (n > 1 && s[n - 1] == '%') {
        char tmp[32];
        const char *end;
        uint64_t v;
        if (n - 1 >= sizeof tmp)
            return -EINVAL;
        memcpy(tmp, s, n - 1);
        tmp[n - 1] = '\0';
        if (parse_u64(tmp, &end, &v) != 0 || *end != '\0' || v < 1 || v > 100)
            return -EINVAL;
        *percent = (unsigned)v;
        *bytes = 0;
        return 0;
    }
    *percent = 0;
    return lk_config_parse_bytes(s, bytes);
}

/* LIBLEAK_SAMPLE_BYTES up to the limit leak-analyze accepts (dump.h). */
static int set_sample_bytes(const char *s, uint64_t *out)
{
    uint64_t v;
    if (lk_config_parse_bytes(s, &v) != 0 || v > LIBLEAK_SAMPLE_BYTES_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

static int set_opt_STR(const char *s, const char **out)
{
    if (*s == '\0')
        return -EINVAL;
    *out = s;
    return 0;
}

/* One warning line for a bad value of 'name'. */
static void warn_bad(const char *name, const char *v, const char *kind, long lo, long hi)
{
    if (strcmp(kind, "LK_INT") == 0)
        lk_log("ignoring %s='%s': expected an integer from %ld to %ld; using the default",
               name, v, lo, hi);
    else if (strcmp(kind, "LK_BOOL") == 0)
        lk_log("ignoring %s='%s': expected 0 or 1; using the default", name, v);
    else if (strcmp(kind, "LK_BYTES") == 0)
        lk_log("ignoring %s='%s': expected a byte count such as 512K, 64M or 1G%s; using the default",
               name, v, strcmp(name, "LIBLEAK_WATERMARK") == 0 ? " or a percentage such as 80%" : "");
    else
        lk_log("ignoring %s='%s': expected a non-empty value; using the default", name, v);
}

static const char *getenv_default(const char *name)
{
    return getenv(name);
}

int lk_config_load(const char *(*getenv_fn)(const char *name))
{
    int bad = 0;
    const char *v;
    if (!getenv_fn)
        getenv_fn = getenv_default;
    /* Defaults first, so a reload (tests) starts clean. */
#define LK_OPT(name, field, kind, def, lo, hi, meaning) lk_config.field = def;
#include "config.def"
#undef LK_OPT
    lk_config.watermark_percent = 0;
    /* LIBLEAK_QUIET first: it decides whether the other warnings print. */
    if ((v = getenv_fn("LIBLEAK_QUIET")) != NULL && set_bool(v, &lk_config.quiet) != 0) {
        lk_log("ignoring LIBLEAK_QUIET='%s': expected 0 or 1", v);
        bad++;
    }
#define PARSE_LK_STR(name, field, lo, hi)   set_opt_STR(v, &lk_config.field)
#define PARSE_LK_INT(name, field, lo, hi)   set_int(v, lo, hi, &lk_config.field)
#define PARSE_LK_BOOL(name, field, lo, hi)  set_bool(v, &lk_config.field)
#define PARSE_LK_BYTES(name, field, lo, hi)                                              \
    (strcmp(#name, "LIBLEAK_WATERMARK") == 0                                             \
         ? set_watermark(v, &lk_config.field, &lk_config.watermark_percent)              \
         : strcmp(#name, "LIBLEAK_SAMPLE_BYTES") == 0                                    \
         ? set_sample_bytes(v, &lk_config.field)                                         \
         : lk_config_parse_bytes(v, &lk_config.field))
#define LK_OPT(name, field, kind, def, lo, hi, meaning)                                  \
    if ((v = getenv_fn(#name)) != NULL && strcmp(#name, "LIBLEAK_QUIET") != 0) {         \
        __typeof__(lk_config.field) saved_ = lk_config.field;                            \
        if (PARSE_##kind(name, field, lo, hi) != 0) {                                    \
            lk_config.field = saved_;                                                    \
            warn_bad(#name, v, #kind, lo, hi);                                           \
            bad++;                                                                       \
        }                                                                                \
    }
#include "config.def"
#undef LK_OPT
    return bad;
}

/* LIBLEAK_DIR relative to the directory the process started in: a program
 * that chdir()s later still writes its dumps where the user asked.  getcwd
 * into a static buffer: no allocation.  Leaves the path alone on failure. */
void lk_config_resolve_dir(void)
{
    static char abs_dir[4096];
    char cwd[4096];
    const char *d = lk_config.dir;
    if (!d || d[0] == '/' || !getcwd(cwd, sizeof cwd))
        return;
    int n = strcmp(d, ".") == 0 ? snprintf(abs_dir, sizeof abs_dir, "%s", cwd)
                                : snprintf(abs_dir, sizeof abs_dir, "%s/%s", cwd, d);
    if (n > 0 && (size_t)n < sizeof abs_dir)
        lk_config.dir = abs_dir;
}
