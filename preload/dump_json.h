/* dump_json.h - the small JSON values every part of a dump writes (dump.c,
 * dump_sections.c, modules.c): hex addresses, strings that may not be UTF-8,
 * unsigned counts.  Header-only, so the files that share them stay apart. */
#ifndef LK_DUMP_JSON_H
#define LK_DUMP_JSON_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static inline json_t *hex(uintptr_t v)
{
    /* by hand: snprintf was a third of a dump's time */
    char t[2 * sizeof v], b[2 + sizeof t + 1];
    size_t n = 0;
    do {
        t[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    b[0] = '0';
    b[1] = 'x';
    for (size_t i = 0; i < n; i++)
        b[2 + i] = t[n - 1 - i];
    b[2 + n] = '\0';
    return json_string(b);
}

/* A JSON string for bytes that may not be UTF-8 (paths, argv): as is when
 * valid, else every byte >= 0x80 written as the four characters \xNN (and
 * '*escaped' set, when given). */
static inline json_t *jstr_esc(const char *s, bool *escaped)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    if (escaped)
        *escaped = true;
    size_t n = strlen(s);
    char *b = lk_real_malloc(4 * n + 1);
    if (!b)
        return json_string("?");
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
    j = json_string(b);
    lk_real_free(b);
    return j ? j : json_string("?");
}

static inline json_t *jstr(const char *s)
{
    return jstr_esc(s, NULL);
}

static inline json_t *u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static inline json_t *u64_or_null(uint64_t v)
{
    return v ? u64(v) : json_null();
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
