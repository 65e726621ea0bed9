/* json.h - libleak's own JSON values.
 * jansson's allocator (json_set_alloc_funcs) is process-wide, and a traced
 * program may use jansson itself with its own allocator.  So the preload
 * never uses the program's jansson: the json_* names used by dump.c and
 * scan.c are mapped here (lkj_* wrappers) onto json.c's built-in values,
 * which allocate through lk_real_malloc and write jansson's JSON_COMPACT
 * text; unit tests (LK_TESTING) map them onto the shared jansson.
 * Include after <jansson.h> (this header includes it first itself). */
#ifndef LK_JSON_H
#define LK_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct lk_json_api {
    json_t *(*object)(void);
    json_t *(*array)(void);
    json_t *(*string)(const char *s);
    json_t *(*integer)(json_int_t v);
    json_t *(*null)(void);
    json_t *(*true_)(void);
    json_t *(*false_)(void);
    int (*object_set_new)(json_t *o, const char *key, json_t *v);
    int (*array_append_new)(json_t *a, json_t *v);
    size_t (*array_size)(const json_t *a);
    int (*array_remove)(json_t *a, size_t i);
    int (*dump_callback)(const json_t *j, json_dump_callback_t cb, void *arg, size_t flags);
    void (*delete_)(json_t *j);
} lk_json_api_t;

extern lk_json_api_t lk_json;
/* Fill the table (the built-in values; the shared jansson under LK_TESTING).
 * Idempotent, allocates nothing.  Returns 0. */
int lk_json_init(void);

/* The built-in values, as jansson's calls of the same names behave: a
 * string or key that is not UTF-8 is refused (NULL, -1), the _new calls
 * steal the value (freed on failure), an existing key keeps its place.
 * lk_mj_dump_callback writes JSON_COMPACT text (JSON_ENCODE_ANY honoured). */
json_t *lk_mj_object(void);
json_t *lk_mj_array(void);
json_t *lk_mj_string(const char *s);
json_t *lk_mj_integer(json_int_t v);
json_t *lk_mj_null(void);
json_t *lk_mj_true(void);
json_t *lk_mj_false(void);
int lk_mj_object_set_new(json_t *o, const char *key, json_t *v);
int lk_mj_array_append_new(json_t *a, json_t *v);
size_t lk_mj_array_size(const json_t *a);
int lk_mj_array_remove(json_t *a, size_t i);
int lk_mj_dump_callback(const json_t *j, json_dump_callback_t cb, void *arg, size_t flags);
void lk_mj_delete(json_t *j);

/* Is 's' (n bytes) UTF-8 as jansson checks it? */
bool lk_json_utf8(const char *s, size_t n);
/* Built-in values made so far (tests: a dump written as text makes none). */
extern unsigned long lk_mj_nodes;

static inline const lk_json_api_t *lkj(void)
{
    if (__builtin_expect(__atomic_load_n(&lk_json.object, __ATOMIC_ACQUIRE) == NULL, 0))
        lk_json_init();
    return &lk_json;
}

static inline json_t *lkj_object(void) { return lkj()->object(); }
static inline json_t *lkj_array(void) { return lkj()->array(); }
static inline json_t *lkj_string(const char *s) { return lkj()->string(s); }
static inline json_t *lkj_integer(json_int_t v) { return lkj()->integer(v); }
static inline json_t *lkj_null(void) { return lkj()->null(); }
static inline json_t *lkj_true(void) { return lkj()->true_(); }
static inline json_t *lkj_false(void) { return lkj()->false_(); }
static inline int lkj_object_set_new(json_t *o, const char *k, json_t *v)
{
    return lkj()->object_set_new(o, k, v);
}
static inline int lkj_array_append_new(json_t *a, json_t *v) { return lkj()->array_append_new(a, v); }
static inline size_t lkj_array_size(const json_t *a) { return lkj()->array_size(a); }
static inline int lkj_array_remove(json_t *a, size_t i) { return lkj()->array_remove(a, i); }
static inline int lkj_dump_callback(const json_t *j, json_dump_callback_t cb, void *arg, size_t flags)
{
    return lkj()->dump_callback(j, cb, arg, flags);
}
/* jansson.h's json_decref is inline and would call the shared json_delete. */
static inline void lkj_decref(json_t *j)
{
    if (j && j->refcount != (size_t)-1 && __atomic_sub_fetch(&j->refcount, 1, __ATOMIC_ACQ_REL) == 0)
        lkj()->delete_(j);
}

/* ### lk_jw: the dump's big arrays, written as JSON text without a tree
 * jansson's encoder is slow per entry of the dump's big arrays, whatever the
 * tree, and those entries are only objects and arrays of integers, booleans,
 * "0x..." strings and names from fixed tables, which lk_jw writes itself
 * about ten times faster.  Strings are escaped as jansson escapes them, and
 * one that is not UTF-8 leaves its key out, as json_object_set_new does.  The same calls
 * build a tree when the writer is made with lk_jw_tree (tests, and
 * lk_dump_build): check_dump and check_scan compare the two.  The output is
 * jansson's JSON_COMPACT byte for byte. */
#define LK_JW_DEPTH 6
typedef struct lk_jw {
    json_dump_callback_t cb;    /* text: where it goes; NULL: a tree */
    void *arg;
    int depth;                  /* open containers, the root included */
    bool comma[LK_JW_DEPTH];    /* text: a value was written at this depth */
    char close[LK_JW_DEPTH];    /* text: '}' or ']' */
    json_t *node[LK_JW_DEPTH];  /* tree: the open containers (borrowed) */
    int err;                    /* a callback failed, or out of memory */
    size_t len;
    char buf[1024];
} lk_jw_t;

/* A writer of values at the top level of a JSON array whose '[' the caller
 * wrote ('cb' gets the text), or into the json array 'arr' (borrowed). */
void lk_jw_text(lk_jw_t *w, json_dump_callback_t cb, void *arg);
void lk_jw_tree(lk_jw_t *w, json_t *arr);
/* Values: 'key' names them inside an object, and is NULL inside an array.
 * Each is an inline call of its _k function with the key's length, which
 * the compiler counts for a literal key (no strlen a value). */
void lk_jw_object_k(lk_jw_t *w, const char *key, size_t klen);
void lk_jw_array_k(lk_jw_t *w, const char *key, size_t klen);
void lk_jw_int_k(lk_jw_t *w, const char *key, size_t klen, json_int_t v);
void lk_jw_hex_k(lk_jw_t *w, const char *key, size_t klen, uint64_t v);
void lk_jw_bool_k(lk_jw_t *w, const char *key, size_t klen, bool v);
void lk_jw_null_k(lk_jw_t *w, const char *key, size_t klen);
void lk_jw_str_k(lk_jw_t *w, const char *key, size_t klen, const char *s);
void lk_jw_close(lk_jw_t *w);                       /* closes the innermost */

static inline size_t lk_jw_klen(const char *key)
{
    return key ? __builtin_strlen(key) : 0;
}
/* opens an object */
static inline void lk_jw_object(lk_jw_t *w, const char *key) { lk_jw_object_k(w, key, lk_jw_klen(key)); }
/* opens an array */
static inline void lk_jw_array(lk_jw_t *w, const char *key) { lk_jw_array_k(w, key, lk_jw_klen(key)); }
static inline void lk_jw_int(lk_jw_t *w, const char *key, json_int_t v)
{
    lk_jw_int_k(w, key, lk_jw_klen(key), v);
}
/* "0x1f" */
static inline void lk_jw_hex(lk_jw_t *w, const char *key, uint64_t v)
{
    lk_jw_hex_k(w, key, lk_jw_klen(key), v);
}
static inline void lk_jw_bool(lk_jw_t *w, const char *key, bool v)
{
    lk_jw_bool_k(w, key, lk_jw_klen(key), v);
}
static inline void lk_jw_null(lk_jw_t *w, const char *key) { lk_jw_null_k(w, key, lk_jw_klen(key)); }
/* NULL: null */
static inline void lk_jw_str(lk_jw_t *w, const char *key, const char *s)
{
    lk_jw_str_k(w, key, lk_jw_klen(key), s);
}
/* Flush the text; returns 0, or -1 if anything failed. */
int lk_jw_end(lk_jw_t *w);

/* Text mode only, for the entries of the dump's big arrays: one value
 * written by hand, with no call a piece.  lk_jw_raw writes the comma of a
 * value at the current depth and returns room for 'n' bytes (n at most
 * LK_JW_RAW_MAX), or NULL in tree mode (make the calls above then);
 * lk_jw_raw_more keeps what was written up to 'end' and returns room for 'n'
 * more; lk_jw_raw_end keeps it.  The lk_jw_put_* write into that room and
 * return the end of what they wrote: the same text as lk_jw_int, lk_jw_hex. */
#define LK_JW_RAW_MAX 512
char *lk_jw_raw(lk_jw_t *w, size_t n);
char *lk_jw_raw_flush(lk_jw_t *w, char *end);
static inline char *lk_jw_raw_more(lk_jw_t *w, char *end, size_t n)
{
    return __builtin_expect(n <= (size_t)(w->buf + sizeof w->buf - end), 1) ? end
                                                                            : lk_jw_raw_flush(w, end);
}
static inline void lk_jw_raw_end(lk_jw_t *w, char *end) { w->len = (size_t)(end - w->buf); }
char *lk_jw_put_int(char *d, json_int_t v);
char *lk_jw_put_hex(char *d, uint64_t v);
/* A string literal, its length known to the compiler. */
#define LK_JW_PUT_LIT(d, lit) (memcpy((d), (lit), sizeof(lit) - 1), (d) + sizeof(lit) - 1)

#ifndef LK_JSON_NO_RENAME
#undef json_boolean
#define json_boolean(val) ((val) ? lkj_true() : lkj_false())
#define json_object lkj_object
#define json_array lkj_array
#define json_string lkj_string
#define json_integer lkj_integer
#define json_null lkj_null
#define json_true lkj_true
#define json_false lkj_false
#define json_object_set_new lkj_object_set_new
#define json_array_append_new lkj_array_append_new
#define json_array_size lkj_array_size
#define json_array_remove lkj_array_remove
#define json_dump_callback lkj_dump_callback
#define json_decref lkj_decref
#define json_object_set(o, k, v) lkj_object_set_new((o), (k), json_incref(v))
#endif

#endif /* LK_JSON_H */
