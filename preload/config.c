/* config.c - parse the LIBLEAK_* environment (options listed in config.def).
 * Runs once at init, possibly before libc's stdio is usable: no allocation,
 * only getenv, hand-written number parsing and a few system calls (the
 * LIBLEAK_DIR check, /proc/self/cmdline).  Values are copied into static
 * buffers.  Bad values warn and keep the default; nothing here can fail the
 * traced program. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "libleak/size.h"

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
    return lk_size_parse(s, out);
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

/* Each LK_STR option's own copy of its value: a program may overwrite its
 * environment (setproctitle), and a pointer into it would then read the title. */
#define LK_STRBUF_LK_STR(field)   static char strbuf_##field[PATH_MAX];
#define LK_STRBUF_LK_INT(field)
#define LK_STRBUF_LK_BOOL(field)
#define LK_STRBUF_LK_BYTES(field)
#define LK_OPT(name, field, kind, def, lo, hi, meaning) LK_STRBUF_##kind(field)
#include "config.def"
#undef LK_OPT

/* LIBLEAK_SAMPLE_BYTES up to the limit leak-analyze accepts (dump.h). */
static int set_sample_bytes(const char *s, uint64_t *out)
{
    uint64_t v;
    if (lk_config_parse_bytes(s, &v) != 0 || v > LIBLEAK_SAMPLE_BYTES_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

static int set_opt_STR(const char *s, char *buf, size_t cap, const char **out)
{
    size_t n = strlen(s);
    if (n == 0 || n >= cap)
        return -EINVAL;
    memcpy(buf, s, n + 1);
    *out = buf;
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
        lk_log("ignoring %s='%s': expected a non-empty value shorter than %d bytes; using the default",
               name, v, PATH_MAX);
}

static const char *getenv_default(const char *name)
{
    return getenv(name);
}

/* Options parsed before the others: LIBLEAK_QUIET decides whether their
 * warnings print, LIBLEAK_LOG where they go. */
static bool parsed_first(const char *name)
{
    return strcmp(name, "LIBLEAK_QUIET") == 0 || strcmp(name, "LIBLEAK_LOG") == 0;
}

/* LIBLEAK_LOG: open the message file now, or go back to stderr without it.
 * Returns the number of bad values (0 or 1). */
static int load_log(const char *(*getenv_fn)(const char *name))
{
    const char *v = getenv_fn("LIBLEAK_LOG");
    int bad = 0;
    if (v && set_opt_STR(v, strbuf_log_path, sizeof strbuf_log_path, &lk_config.log_path) != 0) {
        warn_bad("LIBLEAK_LOG", v, "LK_STR", 0, 0);
        bad = 1;
    }
    int rc = lk_log_open(lk_config.log_path);
    if (rc != 0) {
        lk_log("ignoring LIBLEAK_LOG='%s': %s; messages go to stderr", lk_config.log_path, strerror(-rc));
        lk_config.log_path = NULL;
        bad = 1;
    }
    return bad;
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
    lk_log_quiet = lk_config.quiet;
    /* LIBLEAK_QUIET first: it decides whether the other warnings print. */
    if ((v = getenv_fn("LIBLEAK_QUIET")) != NULL && set_bool(v, &lk_config.quiet) != 0) {
        lk_log("ignoring LIBLEAK_QUIET='%s': expected 0 or 1", v);
        bad++;
    }
    lk_log_quiet = lk_config.quiet;
    bad += load_log(getenv_fn);
#define PARSE_LK_STR(name, field, lo, hi)                                                \
    set_opt_STR(v, strbuf_##field, sizeof strbuf_##field, &lk_config.field)
#define PARSE_LK_INT(name, field, lo, hi)   set_int(v, lo, hi, &lk_config.field)
#define PARSE_LK_BOOL(name, field, lo, hi)  set_bool(v, &lk_config.field)
#define PARSE_LK_BYTES(name, field, lo, hi)                                              \
    (strcmp(#name, "LIBLEAK_WATERMARK") == 0                                             \
         ? set_watermark(v, &lk_config.field, &lk_config.watermark_percent)              \
         : strcmp(#name, "LIBLEAK_SAMPLE_BYTES") == 0                                    \
         ? set_sample_bytes(v, &lk_config.field)                                         \
         : lk_config_parse_bytes(v, &lk_config.field))
#define LK_OPT(name, field, kind, def, lo, hi, meaning)                                  \
    if ((v = getenv_fn(#name)) != NULL && !parsed_first(#name)) {                        \
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

/* ### checks at start */

int lk_config_dir_errno;

/* Warn once, at start, when dumps cannot be written into LIBLEAK_DIR (with
 * the effective ids, as open(2) will use); creates nothing.  The errno is kept
 * in lk_config_dir_errno so that the same failure at dump time stays quiet. */
void lk_config_check_dir(void)
{
    int saved = errno;
    const char *d = lk_config.dir ? lk_config.dir : ".";
    struct stat st;
    char dot[4096];
    int e = 0;
    /* "<dir>/." asks all in one call: ENOENT, ENOTDIR (not a directory) or EACCES */
    if ((size_t)snprintf(dot, sizeof dot, "%s/.", d) < sizeof dot) {
        if (faccessat(AT_FDCWD, dot, W_OK | X_OK, AT_EACCESS) != 0)
            e = errno;
    } else if (stat(d, &st) != 0) {
        e = errno;
    } else if (!S_ISDIR(st.st_mode)) {
        e = ENOTDIR;
    } else if (faccessat(AT_FDCWD, d, W_OK | X_OK, AT_EACCESS) != 0) {
        e = errno;
    }
    lk_config_dir_errno = e;
    if (e)
        lk_log_error("cannot write dumps into LIBLEAK_DIR '%s': %s; none will be written", d,
                     strerror(e));
    errno = saved;
}

/* ASCII lower case: names are compared without the locale. */
static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Edit distance (Levenshtein, ignoring case) between the first 'na' bytes of
 * 'a' and 'b'; at most 64 bytes of each count.  Two rows on the stack. */
static unsigned name_distance(const char *a, size_t na, const char *b)
{
    unsigned row[65];
    size_t nb = strlen(b);
    if (na > 64)
        na = 64;
    if (nb > 64)
        nb = 64;
    for (size_t j = 0; j <= nb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= na; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= nb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (lower(a[i - 1]) != lower(b[j - 1]));
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* Is one of the first 'na' bytes of 'a' and 'b' a prefix of the other
 * (ignoring case)?  A name cut short (LIBLEAK_SAMPLE) is then closest. */
static bool is_prefix(const char *a, size_t na, const char *b)
{
    size_t i = 0;
    while (i < na && b[i] && lower(a[i]) == lower(b[i]))
        i++;
    return i == na || b[i] == '\0';
}

static const char *const opt_names[] = {
#define LK_OPT(name, field, kind, def, lo, hi, meaning) #name,
#include "config.def"
#undef LK_OPT
};

int lk_config_check_name(const char *entry)
{
    static const char prefix[] = "libleak_";
    for (size_t i = 0; i < sizeof prefix - 1; i++)
        if (lower(entry[i]) != prefix[i])
            return 0;
    size_t n = strcspn(entry, "=");
    const char *best = opt_names[0];
    unsigned best_d = UINT_MAX;
    for (size_t k = 0; k < sizeof opt_names / sizeof *opt_names; k++) {
        if (strlen(opt_names[k]) == n && memcmp(entry, opt_names[k], n) == 0)
            return 0;
        unsigned d = is_prefix(entry, n, opt_names[k]) ? 1 : name_distance(entry, n, opt_names[k]);
        if (d < best_d) {
            best_d = d;
            best = opt_names[k];
        }
    }
    /* not settings: the wrapper's library path and the test harness's own */
    if ((n == 10 && memcmp(entry, "LIBLEAK_SO", 10) == 0) || strncmp(entry, "LIBLEAK_TEST_", 13) == 0)
        return 0;
    char shown[72];             /* the name, cut and with control bytes as '?' */
    size_t m = n < 64 ? n : 64;
    for (size_t i = 0; i < m; i++)
        shown[i] = (unsigned char)entry[i] < 0x20 || entry[i] == 0x7f ? '?' : entry[i];
    memcpy(shown + m, n > m ? "..." : "", n > m ? 4 : 1);
    lk_log("ignoring unknown setting %s (the closest is %s)", shown, best);
    return 1;
}

/* ### the command line as started */
static char start_cmdline[4096];    /* NUL-separated, as /proc/self/cmdline */
static size_t start_cmdline_len;

/* Copy the command line now: a program may later write its title over argv
 * (setproctitle), and its dumps should still say how it was started.  The
 * constructor's argv holds the very bytes /proc/self/cmdline shows (the
 * strings of the argument area), without its open, reads and close. */
void lk_config_save_cmdline(int argc, char *const *argv)
{
    int saved = errno;
    start_cmdline_len = 0;
    if (argv && argc > 0) {
        size_t cap = sizeof start_cmdline - 1;
        for (int i = 0; i < argc && argv[i] && start_cmdline_len < cap; i++) {
            size_t n = strlen(argv[i]) + 1;
            if (n > cap - start_cmdline_len)
                n = cap - start_cmdline_len;
            memcpy(start_cmdline + start_cmdline_len, argv[i], n);
            start_cmdline_len += n;
        }
        start_cmdline[start_cmdline_len] = '\0';
        return;
    }
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        size_t cap = sizeof start_cmdline - 1;
        while (start_cmdline_len < cap) {
            ssize_t n = read(fd, start_cmdline + start_cmdline_len, cap - start_cmdline_len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            start_cmdline_len += (size_t)n;
        }
        close(fd);
    }
    start_cmdline[start_cmdline_len] = '\0';
    errno = saved;
}

const char *lk_config_cmdline(size_t *len)
{
    *len = start_cmdline_len;
    return start_cmdline;
}
