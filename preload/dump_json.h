/* dump_json.h - the small JSON values every part of a dump writes through
 * lk_jw (dump.c, dump_sections.c, modules.c): strings that may not be UTF-8,
 * unsigned counts.  Header-only, so the files that share them stay apart. */
#ifndef LK_DUMP_JSON_H
#define LK_DUMP_JSON_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* A string for bytes that may not be UTF-8 (paths, argv): as is when
 * valid, else every byte >= 0x80 written as the four characters \xNN (and
 * '*escaped' set, when given). */
static inline void jw_str_esc(lk_jw_t *w, const char *key, const char *s, bool *escaped)
{
    size_t n = strlen(s);
    if (lk_json_utf8(s, n)) {
        lk_jw_str(w, key, s);
        return;
    }
    if (escaped)
        *escaped = true;
    char *b = lk_real_malloc(4 * n + 1);
    if (!b) {
        lk_jw_str(w, key, "?");
        return;
    }
    char *o = b;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c < 0x80) {
            *o++ = (char)*c;
        } else {
            snprintf(o, 5, "\\x%02x", *c);
            o += 4;
        }
    }
    *o = '\0';
    lk_jw_str(w, key, b);
    lk_real_free(b);
}

/* A count: JSON integers are signed, so above INT64_MAX it is INT64_MAX. */
static inline void jw_u64(lk_jw_t *w, const char *key, uint64_t v)
{
    lk_jw_int(w, key, v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static inline void jw_u64_or_null(lk_jw_t *w, const char *key, uint64_t v)
{
    if (v)
        jw_u64(w, key, v);
    else
        lk_jw_null(w, key);
}

static inline const char *family_name(int f)
{
    static const char *const family_names[] = LK_FAMILY_NAMES;
    return f >= 0 && f < 3 ? family_names[f] : "malloc";
}

/* The executable's path into 'buf' (empty if unknown); returns its length. */
static inline ssize_t exe_path(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/thread-self/exe", buf, cap - 1);
    if (n <= 0)
        n = readlink("/proc/self/exe", buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? n : 0;
}

#endif /* LK_DUMP_JSON_H */
