/* jsonget.h - typed, range-checked reads from a jansson tree, for the dump
 * loader and the reachability parser.  Every problem becomes one line,
 * "file: [root.]json.path: problem", in the caller's buffer, and -EINVAL:
 * never a crash, whatever the input. */
#ifndef LK_JSONGET_H
#define LK_JSONGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Where errors go.  'root' (may be NULL) prefixes every path, e.g.
 * "reachability" for the paths inside that object. */
typedef struct lk_jctx {
    const char *name;       /* file name for messages */
    const char *root;
    char *err;
    size_t errlen;
} lk_jctx_t;

/* Write "name: [root.]path: message" into c->err (control characters from
 * quoted values become '?', so it stays one line).  Returns -EINVAL. */
int lk_jfail(lk_jctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "object", "array", "string", "integer", "number", "boolean" or "null". */
const char *lk_jtype_name(const json_t *j);

/* Join 'prefix' and 'key' as a JSON path into 'buf'; returns 'buf'. */
const char *lk_jpath(char *buf, size_t len, const char *prefix, const char *key);

/* Fetch 'key' of 'obj' with JSON type 'type' (JSON_TRUE accepts either
 * boolean).  Absent, or null when 'null_ok': *out = NULL and 0, unless
 * 'required'. */
int lk_jget(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
            json_type type, bool required, bool null_ok, json_t **out);

/* Check integer 'v' at 'path' lies in [0, max] and store it. */
int lk_jcheck_u64(lk_jctx_t *c, const char *path, json_t *v, uint64_t max, uint64_t *out);

/* Read a non-negative integer 'key' (<= max); absent leaves *out = def. */
int lk_jget_u64(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
                bool required, uint64_t max, uint64_t def, uint64_t *out);

/* Read boolean 'key'; absent leaves *out = def. */
int lk_jget_bool(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
                 bool required, bool def, bool *out);

/* Read string 'key' and look it up in 'names' (n entries): *out = its
 * index, or 'def' when absent. */
int lk_jget_name(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
                 bool required, const char *const *names, size_t n, int def, int *out);

/* Fetch array 'key' and calloc 'elem' bytes per entry into *vec (NULL and
 * *n = 0 for an empty or absent array).  -ENOMEM when calloc fails. */
int lk_jget_array(lk_jctx_t *c, json_t *obj, const char *prefix, const char *key,
                  bool required, size_t elem, json_t **arr, void **vec, size_t *n);

/* Parse value 'v' at 'path' as a "0x..." address of at most 64 bits. */
int lk_jparse_addr(lk_jctx_t *c, const char *path, json_t *v, uint64_t *out);

#endif /* LK_JSONGET_H */
