/* jsonget.c - typed, range-checked reads from jansson trees (jsonget.h).
 * Shared by load.c and reach.c so that both report bad input the same way. */
#include "jsonget.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lk_jfail(lk_jctx_t *c, const char *path, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    bool has_root = c->root != NULL && c->root[0] != '\0';
    bool has_path = path != NULL && path[0] != '\0';

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->err == NULL || c->errlen == 0)
        return -EINVAL;
    if (has_root || has_path)
        snprintf(c->err, c->errlen, "%s: %s%s%s: %s", c->name, has_root ? c->root : "",
                 has_root && has_path ? "." : "", has_path ? path : "", msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
    /* Quoted values come from the file: keep the message one line. */
    for (char *s = c->err; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
    return -EINVAL;
}

const char *lk_jtype_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE: case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

const char *lk_jpath(char *buf, size_t len, const char *prefix, const char *key)
{
    if (prefix == NULL || prefix[0] == '\0')
        snprintf(buf, len, "%s", key);
    else
        snprintf(buf, len, "%s.%s", prefix, key);
    return buf;
}

int lk_jget(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
            json_type type, bool required, bool null_ok, json_t **out)
{
    char p[160];
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v == NULL || (null_ok && json_is_null(v))) {
        if (required && v == NULL)
            return lk_jfail(c, lk_jpath(p, sizeof(p), prefix, key), "missing");
        return 0;
    }
    if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v))) {
        const char *want = type == JSON_OBJECT ? "object" : type == JSON_ARRAY ? "array"
                         : type == JSON_STRING ? "string" : type == JSON_INTEGER ? "integer"
                         : "boolean";
        return lk_jfail(c, lk_jpath(p, sizeof(p), prefix, key), "expected %s, got %s", want,
                        lk_jtype_name(v));
    }
    *out = v;
    return 0;
}

int lk_jcheck_u64(lk_jctx_t *c, const char *path, json_t *v, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(v))
        return lk_jfail(c, path, "expected integer, got %s", lk_jtype_name(v));
    json_int_t i = json_integer_value(v);
    if (i < 0)
        return lk_jfail(c, path, "negative value %" JSON_INTEGER_FORMAT, i);
    if ((uint64_t)i > max)
        return lk_jfail(c, path, "absurd value %" JSON_INTEGER_FORMAT " (limit %" PRIu64 ")",
                        i, max);
    *out = (uint64_t)i;
    return 0;
}

int lk_jget_u64(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
                bool required, uint64_t max, uint64_t def, uint64_t *out)
{
    char p[160];
    json_t *v;
    int rc = lk_jget(c, obj, prefix, key, JSON_INTEGER, required, false, &v);

    *out = def;
    if (rc < 0 || v == NULL)
        return rc;
    json_int_t i = json_integer_value(v);
    if (i >= 0 && (uint64_t)i <= max) {     /* fast path: no path string */
        *out = (uint64_t)i;
        return 0;
    }
    return lk_jcheck_u64(c, lk_jpath(p, sizeof(p), prefix, key), v, max, out);
}

int lk_jget_bool(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
                 bool required, bool def, bool *out)
{
    json_t *v;
    int rc = lk_jget(c, obj, prefix, key, JSON_TRUE, required, false, &v);

    *out = v != NULL ? json_is_true(v) : def;
    return rc;
}

int lk_jget_name(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
                 bool required, const char *const *names, size_t n, int def, int *out)
{
    char p[160];
    json_t *v;
    int rc = lk_jget(c, obj, prefix, key, JSON_STRING, required, false, &v);

    *out = def;
    if (rc < 0 || v == NULL)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(json_string_value(v), names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    return lk_jfail(c, lk_jpath(p, sizeof(p), prefix, key), "unknown value \"%.40s\"",
                    json_string_value(v));
}

int lk_jget_array(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
                  bool required, size_t elem, json_t **arr, void **vec, size_t *n)
{
    int rc = lk_jget(c, obj, prefix, key, JSON_ARRAY, required, false, arr);

    *vec = NULL;
    *n = 0;
    if (rc < 0 || *arr == NULL)
        return rc;
    size_t len = json_array_size(*arr);
    if (len == 0)
        return 0;
    if ((*vec = calloc(len, elem)) == NULL)
        return -ENOMEM;
    *n = len;
    return 0;
}

int lk_jparse_addr(lk_jctx_t *c, const char *path, json_t *v, uint64_t *out)
{
    if (!json_is_string(v))
        return lk_jfail(c, path, "expected hex string, got %s", lk_jtype_name(v));
    const char *s = json_string_value(v);
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || s[2] == '\0')
        return lk_jfail(c, path, "expected hex string like \"0x1234\", got \"%.40s\"", s);
    uint64_t a = 0;
    for (size_t i = 2; s[i] != '\0'; i++) {
        char ch = s[i];
        unsigned d;
        if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') d = (unsigned)(ch - 'A' + 10);
        else return lk_jfail(c, path, "bad hex digit in \"%.40s\"", s);
        if (i >= 18)
            return lk_jfail(c, path, "address \"%.40s\" wider than 64 bits", s);
        a = (a << 4) | d;
    }
    *out = a;
    return 0;
}
