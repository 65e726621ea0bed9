/* json.c - libleak's own JSON values (see json.h), and lk_jw.
 * The preload builds small trees (a dump without its big arrays) and writes
 * them as jansson's JSON_COMPACT text, byte for byte, with the few calls
 * json.h maps json_* onto.  Built in, not a jansson: the program's jansson
 * allocator (json_set_alloc_funcs is process-wide) must never see libleak's
 * values, and a private copy by dlmopen costs every process a second libc.
 * Unit tests use the shared
 * jansson instead (their trees are read with its full API), and compare the
 * two writers' text. */
#define LK_JSON_NO_RENAME
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

lk_json_api_t lk_json;
unsigned long lk_mj_nodes;

/* ### the built-in values: jansson's json_t header (type, refcount), then
 * the value.  The singletons have refcount -1, as in jansson. */
typedef struct mj_pair {
    union {
        char in[24];            /* a key shorter than 24 bytes, in place */
        char *out;              /* a longer one */
    } k;
    uint32_t klen;
    bool plain;                 /* printable ASCII: written as it is */
    json_t *v;
} mj_pair_t;

static inline const char *mj_key(const mj_pair_t *p)
{
    return p->klen < sizeof p->k.in ? p->k.in : p->k.out;
}
typedef struct mj_obj {
    json_t h;
    size_t n, cap;
    mj_pair_t *p;               /* in insertion order, as jansson writes them */
} mj_obj_t;
typedef struct mj_arr {
    json_t h;
    size_t n, cap;
    json_t **v;
} mj_arr_t;
typedef struct mj_str {
    json_t h;
    size_t len;
    bool plain;                 /* printable ASCII: written as it is */
    char s[];
} mj_str_t;
typedef struct mj_int {
    json_t h;
    json_int_t v;
} mj_int_t;

static json_t mj_true_v = { JSON_TRUE, (size_t)-1 };
static json_t mj_false_v = { JSON_FALSE, (size_t)-1 };
static json_t mj_null_v = { JSON_NULL, (size_t)-1 };

/* libleak's own memory, like every allocation inside libleak. */
static void *mj_alloc(size_t n)
{
    return lk_real_malloc(n);
}

/* Is 's' (n bytes) valid UTF-8 as jansson checks it: no overlong forms, no
 * surrogates, nothing above U+10FFFF? */
static bool mj_utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len;
        uint32_t v;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            v = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            v = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            v = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            v = (v << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff ||
            (v >= 0xd800 && v <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Does jansson write byte 'c' of a string as is (no escape)? */
static inline bool mj_plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* The escape jansson writes for byte 'c' into 'esc'; returns its length. */
static size_t mj_escape(unsigned char c, char esc[8])
{
    static const char hexd[] = "0123456789ABCDEF";
    const char *t = NULL;
    switch (c) {
    case '\\': t = "\\\\"; break;
    case '"': t = "\\\""; break;
    case '\b': t = "\\b"; break;
    case '\f': t = "\\f"; break;
    case '\n': t = "\\n"; break;
    case '\r': t = "\\r"; break;
    case '\t': t = "\\t"; break;
    default:
        memcpy(esc, "\\u00", 4);
        esc[4] = hexd[c >> 4];
        esc[5] = hexd[c & 15];
        return 6;
    }
    esc[0] = t[0];
    esc[1] = t[1];
    return 2;
}

/* How many bytes from 's' (n bytes) jansson writes as they are; with
 * 'ascii', bytes >= 0x80 end the run too.  Eight bytes a step: the bytes
 * below 0x20, '"' and '\\' show as high bits (Mycroft's zero-byte test),
 * the lowest of them exactly (a borrow only runs upwards from a true one);
 * the last few bytes one by one. */
static size_t mj_plain_run(const char *s, size_t n, bool ascii)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        uint64_t bad = (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) |
                        (ascii ? x : 0)) & highs;
        if (bad) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return i + (size_t)__builtin_ctzll(bad) / 8;
#else
            break;
#endif
        }
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!mj_plain(c) || (ascii && c >= 0x80))
            break;
    }
    return i;
}

json_t *lk_mj_object(void)
{
    mj_obj_t *o = mj_alloc(sizeof *o);
    if (!o)
        return NULL;
    __atomic_add_fetch(&lk_mj_nodes, 1, __ATOMIC_RELAXED);
    *o = (mj_obj_t){ { JSON_OBJECT, 1 }, 0, 0, NULL };
    return &o->h;
}

json_t *lk_mj_array(void)
{
    mj_arr_t *a = mj_alloc(sizeof *a);
    if (!a)
        return NULL;
    __atomic_add_fetch(&lk_mj_nodes, 1, __ATOMIC_RELAXED);
    *a = (mj_arr_t){ { JSON_ARRAY, 1 }, 0, 0, NULL };
    return &a->h;
}

json_t *lk_mj_string(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    bool plain = mj_plain_run(s, n, true) == n;
    if (!plain && !mj_utf8_ok((const unsigned char *)s, n))
        return NULL;
    mj_str_t *j = mj_alloc(sizeof *j + n + 1);
    if (!j)
        return NULL;
    __atomic_add_fetch(&lk_mj_nodes, 1, __ATOMIC_RELAXED);
    j->h = (json_t){ JSON_STRING, 1 };
    j->len = n;
    j->plain = plain;
    memcpy(j->s, s, n + 1);
    return &j->h;
}

json_t *lk_mj_integer(json_int_t v)
{
    mj_int_t *j = mj_alloc(sizeof *j);
    if (!j)
        return NULL;
    __atomic_add_fetch(&lk_mj_nodes, 1, __ATOMIC_RELAXED);
    j->h = (json_t){ JSON_INTEGER, 1 };
    j->v = v;
    return &j->h;
}

json_t *lk_mj_null(void) { return &mj_null_v; }
json_t *lk_mj_true(void) { return &mj_true_v; }
json_t *lk_mj_false(void) { return &mj_false_v; }

static void mj_decref(json_t *j);

void lk_mj_delete(json_t *j)
{
    if (!j)
        return;
    if (j->type == JSON_OBJECT) {
        mj_obj_t *o = (mj_obj_t *)j;
        for (size_t i = 0; i < o->n; i++) {
            if (o->p[i].klen >= sizeof o->p[i].k.in)
                lk_real_free(o->p[i].k.out);
            mj_decref(o->p[i].v);
        }
        lk_real_free(o->p);
    } else if (j->type == JSON_ARRAY) {
        mj_arr_t *a = (mj_arr_t *)j;
        for (size_t i = 0; i < a->n; i++)
            mj_decref(a->v[i]);
        lk_real_free(a->v);
    } else if (j->refcount == (size_t)-1) {
        return;
    }
    lk_real_free(j);
}

static void mj_decref(json_t *j)
{
    if (j && j->refcount != (size_t)-1 && __atomic_sub_fetch(&j->refcount, 1, __ATOMIC_ACQ_REL) == 0)
        lk_mj_delete(j);
}

/* Grow '*v' (elements of 'size' bytes) to hold one more than 'n'. */
static bool mj_grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? 2 * *cap : 8;
    void *q = lk_real_realloc(*v, c * size);
    if (!q)
        return false;
    *v = q;
    *cap = c;
    return true;
}

/* As json_object_set_new: 'v' is stolen (freed on failure); an existing key
 * keeps its place and gets the new value. */
int lk_mj_object_set_new(json_t *o, const char *key, json_t *v)
{
    if (!v)
        return -1;
    if (!o || o->type != JSON_OBJECT || !key)
        goto out_free;
    size_t kl = strlen(key);
    bool plain = mj_plain_run(key, kl, true) == kl;
    if (kl > UINT32_MAX || (!plain && !mj_utf8_ok((const unsigned char *)key, kl)))
        goto out_free;
    mj_obj_t *ob = (mj_obj_t *)o;
    for (size_t i = 0; i < ob->n; i++)
        if (ob->p[i].klen == kl && memcmp(mj_key(&ob->p[i]), key, kl) == 0) {
            mj_decref(ob->p[i].v);
            ob->p[i].v = v;
            return 0;
        }
    if (!mj_grow((void **)&ob->p, &ob->cap, ob->n, sizeof *ob->p))
        goto out_free;
    mj_pair_t *pr = &ob->p[ob->n];
    if (kl < sizeof pr->k.in) {
        memcpy(pr->k.in, key, kl + 1);
    } else {
        pr->k.out = mj_alloc(kl + 1);
        if (!pr->k.out)
            goto out_free;
        memcpy(pr->k.out, key, kl + 1);
    }
    pr->klen = (uint32_t)kl;
    pr->plain = plain;
    pr->v = v;
    ob->n++;
    return 0;
out_free:
    mj_decref(v);
    return -1;
}

int lk_mj_array_append_new(json_t *a, json_t *v)
{
    if (!v)
        return -1;
    mj_arr_t *ar = (mj_arr_t *)a;
    if (!a || a->type != JSON_ARRAY || !mj_grow((void **)&ar->v, &ar->cap, ar->n, sizeof *ar->v)) {
        mj_decref(v);
        return -1;
    }
    ar->v[ar->n++] = v;
    return 0;
}

size_t lk_mj_array_size(const json_t *a)
{
    return a && a->type == JSON_ARRAY ? ((const mj_arr_t *)a)->n : 0;
}

int lk_mj_array_remove(json_t *a, size_t i)
{
    mj_arr_t *ar = (mj_arr_t *)a;
    if (!a || a->type != JSON_ARRAY || i >= ar->n)
        return -1;
    mj_decref(ar->v[i]);
    memmove(&ar->v[i], &ar->v[i + 1], (ar->n - i - 1) * sizeof *ar->v);
    ar->n--;
    return 0;
}

bool lk_json_utf8(const char *s, size_t n)
{
    return mj_utf8_ok((const unsigned char *)s, n);
}

/* ### writing, as jansson's dump with JSON_COMPACT
 * Through a buffer: the callback once a kilobyte, not once a token. */
typedef struct mj_out {
    json_dump_callback_t cb;
    void *arg;
    int err;
    size_t len;
    char buf[1024];
} mj_out_t;

static void mj_flush(mj_out_t *o)
{
    if (o->len && !o->err && o->cb(o->buf, o->len, o->arg) != 0)
        o->err = 1;
    o->len = 0;
}

static void __attribute__((noinline)) mj_put_slow(mj_out_t *o, const char *s, size_t n)
{
    while (n > 0) {
        if (o->len == sizeof o->buf)
            mj_flush(o);
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

static inline void mj_put(mj_out_t *o, const char *s, size_t n)
{
    if (__builtin_expect(n <= sizeof o->buf - o->len, 1)) {
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        return;
    }
    mj_put_slow(o, s, n);
}

/* A string's text: 'plain' (known printable ASCII) as it is, else runs of
 * plain bytes copied at once, not byte by byte. */
static void mj_put_str(mj_out_t *o, const char *s, size_t n, bool plain)
{
    if (plain && n + 2 <= sizeof o->buf - o->len) {
        char *d = o->buf + o->len;
        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        o->len += n + 2;
        return;
    }
    mj_put(o, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t run = i + mj_plain_run(s + i, n - i, false);
        if (run > i)
            mj_put(o, s + i, run - i);
        if (run == n)
            break;
        char esc[8];
        mj_put(o, esc, mj_escape((unsigned char)s[run], esc));
        i = run + 1;
    }
    mj_put(o, "\"", 1);
}

/* The decimal digits of 'u' (at most 20) written backwards from 'end'. */
static inline __attribute__((always_inline)) void jw_digits(char *end, uint64_t u)
{
    /* two digits a division: most of the dump's text is integers */
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        end -= 2;
        memcpy(end, pairs + d, 2);
    }
    if (u >= 10) {
        end -= 2;
        memcpy(end, pairs + u * 2, 2);
    } else {
        *--end = (char)('0' + u);
    }
}

static inline size_t jw_ndigits(uint64_t u)
{
    size_t n = 1;
    for (; u >= 10000; u /= 10000)
        n += 4;
    return n + (u >= 10) + (u >= 100) + (u >= 1000);
}

static int mj_dump(const json_t *j, mj_out_t *out, int depth)
{
    if (!j || depth > 2048)
        return -1;
    switch (j->type) {
    case JSON_NULL:
        mj_put(out, "null", 4);
        return 0;
    case JSON_TRUE:
        mj_put(out, "true", 4);
        return 0;
    case JSON_FALSE:
        mj_put(out, "false", 5);
        return 0;
    case JSON_INTEGER: {
        char t[24];
        json_int_t v = ((const mj_int_t *)j)->v;
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        size_t n = jw_ndigits(u) + (v < 0);
        t[0] = '-';
        jw_digits(t + n, u);
        mj_put(out, t, n);
        return 0;
    }
    case JSON_STRING:
        mj_put_str(out, ((const mj_str_t *)j)->s, ((const mj_str_t *)j)->len,
                   ((const mj_str_t *)j)->plain);
        return 0;
    case JSON_ARRAY: {
        const mj_arr_t *a = (const mj_arr_t *)j;
        mj_put(out, "[", 1);
        for (size_t i = 0; i < a->n; i++) {
            if (i)
                mj_put(out, ",", 1);
            if (mj_dump(a->v[i], out, depth + 1) != 0)
                return -1;
        }
        mj_put(out, "]", 1);
        return 0;
    }
    case JSON_OBJECT: {
        const mj_obj_t *o = (const mj_obj_t *)j;
        mj_put(out, "{", 1);
        for (size_t i = 0; i < o->n; i++) {
            if (i)
                mj_put(out, ",", 1);
            mj_put_str(out, mj_key(&o->p[i]), o->p[i].klen, o->p[i].plain);
            mj_put(out, ":", 1);
            if (mj_dump(o->p[i].v, out, depth + 1) != 0)
                return -1;
        }
        mj_put(out, "}", 1);
        return 0;
    }
    default:
        return -1;
    }
}

/* As json_dump_callback: without JSON_ENCODE_ANY only an object or an
 * array; the flags other than that are taken to be JSON_COMPACT.  On failure
 * the callback may have had part of the text, as with jansson. */
int lk_mj_dump_callback(const json_t *j, json_dump_callback_t cb, void *arg, size_t flags)
{
    if (!j || (!(flags & JSON_ENCODE_ANY) && j->type != JSON_OBJECT && j->type != JSON_ARRAY))
        return -1;
    mj_out_t out;
    out.cb = cb;
    out.arg = arg;
    out.err = 0;
    out.len = 0;
    int rc = mj_dump(j, &out, 0);
    if (rc == 0)
        mj_flush(&out);
    return rc == 0 && !out.err ? 0 : -1;
}

static void resolve_builtin(lk_json_api_t *api)
{
    api->object = lk_mj_object;
    api->array = lk_mj_array;
    api->string = lk_mj_string;
    api->integer = lk_mj_integer;
    api->null = lk_mj_null;
    api->true_ = lk_mj_true;
    api->false_ = lk_mj_false;
    api->object_set_new = lk_mj_object_set_new;
    api->array_append_new = lk_mj_array_append_new;
    api->array_size = lk_mj_array_size;
    api->array_remove = lk_mj_array_remove;
    api->dump_callback = lk_mj_dump_callback;
    api->delete_ = lk_mj_delete;
}

#ifdef LK_TESTING
/* unit tests read dumps with the shared jansson's full API: build with it */
static int resolve_shared(lk_json_api_t *api)
{
    void *h = RTLD_DEFAULT;
    api->object = (__typeof__(api->object))dlsym(h, "json_object");
    api->array = (__typeof__(api->array))dlsym(h, "json_array");
    api->string = (__typeof__(api->string))dlsym(h, "json_string");
    api->integer = (__typeof__(api->integer))dlsym(h, "json_integer");
    api->null = (__typeof__(api->null))dlsym(h, "json_null");
    api->true_ = (__typeof__(api->true_))dlsym(h, "json_true");
    api->false_ = (__typeof__(api->false_))dlsym(h, "json_false");
    api->object_set_new = (__typeof__(api->object_set_new))dlsym(h, "json_object_set_new");
    api->array_append_new = (__typeof__(api->array_append_new))dlsym(h, "json_array_append_new");
    api->array_size = (__typeof__(api->array_size))dlsym(h, "json_array_size");
    api->array_remove = (__typeof__(api->array_remove))dlsym(h, "json_array_remove");
    api->dump_callback = (__typeof__(api->dump_callback))dlsym(h, "json_dump_callback");
    api->delete_ = (__typeof__(api->delete_))dlsym(h, "json_delete");
    return api->object && api->array && api->string && api->integer && api->null &&
                   api->true_ && api->false_ && api->object_set_new && api->array_append_new &&
                   api->array_size && api->array_remove && api->dump_callback && api->delete_
               ? 0 : -1;
}
#endif

int lk_json_init(void)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (!lk_json.object) {
        lk_json_api_t api = { 0 };
#ifdef LK_TESTING
        if (resolve_shared(&api) != 0)
#endif
            resolve_builtin(&api);
        json_t *(*object)(void) = api.object;
        api.object = NULL;
        lk_json = api;
        __atomic_store_n(&lk_json.object, object, __ATOMIC_RELEASE);  /* published last */
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

/* ### lk_jw (json.h) */
void lk_jw_text(lk_jw_t *w, json_dump_callback_t cb, void *arg)
{
    memset(w, 0, offsetof(lk_jw_t, buf));
    w->cb = cb;
    w->arg = arg;
    w->depth = 1;
}

void lk_jw_tree(lk_jw_t *w, json_t *arr)
{
    memset(w, 0, offsetof(lk_jw_t, buf));
    w->node[0] = arr;
    w->err = arr == NULL;
    w->depth = 1;
}

static void jw_flush(lk_jw_t *w)
{
    if (w->len && !w->err && w->cb(w->buf, w->len, w->arg) != 0)
        w->err = 1;
    w->len = 0;
}

/* The slow path of jw_put: the buffer fills up on the way. */
static void __attribute__((noinline)) jw_put_slow(lk_jw_t *w, const char *s, size_t n)
{
    while (n > 0) {
        if (w->len == sizeof w->buf)
            jw_flush(w);
        size_t k = sizeof w->buf - w->len < n ? sizeof w->buf - w->len : n;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

/* Inline, so that a piece of constant length is copied without a call:
 * the dump's arrays are written a few bytes at a time. */
static inline __attribute__((always_inline)) void jw_put(lk_jw_t *w, const char *s, size_t n)
{
    if (__builtin_expect(n <= sizeof w->buf - w->len, 1)) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        return;
    }
    jw_put_slow(w, s, n);
}

static inline __attribute__((always_inline)) void jw_putc(lk_jw_t *w, char c)
{
    if (__builtin_expect(w->len == sizeof w->buf, 0))
        jw_flush(w);
    w->buf[w->len++] = c;
}

/* Copy 'n' bytes (a key: mostly 2 to 17) without a call to memcpy:
 * two overlapping loads and stores of 8 or 4 bytes. */
static inline __attribute__((always_inline)) void jw_copy_key(char *d, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, s + n - 8, 8);
        memcpy(d, &x, 8);
        memcpy(d + n - 8, &y, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        memcpy(d, &x, 4);
        memcpy(d + n - 4, &y, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
}

/* Text: the comma and the key ('kl' bytes) before a value at the current depth. */
static inline __attribute__((always_inline)) void jw_prefix(lk_jw_t *w, const char *key, size_t kl)
{
    bool *comma = &w->comma[w->depth - 1];
    if (__builtin_expect(kl + 4 <= sizeof w->buf - w->len, 1)) {
        char *d = w->buf + w->len;
        size_t c = *comma;
        *comma = true;
        d[0] = ',';             /* overwritten when there is no comma */
        d += c;
        if (key) {
            d[0] = '"';
            jw_copy_key(d + 1, key, kl);
            d[kl + 1] = '"';
            d[kl + 2] = ':';
            c += kl + 3;
        }
        w->len += c;
        return;
    }
    if (*comma)
        jw_putc(w, ',');
    *comma = true;
    if (key) {
        jw_putc(w, '"');
        jw_put(w, key, kl);
        jw_put(w, "\":", 2);
    }
}

/* Tree: add 'v' (owned) to the innermost container.  False when it could
 * not be (v is freed then, and the writer fails). */
static bool jw_add(lk_jw_t *w, const char *key, json_t *v)
{
    json_t *parent = w->node[w->depth - 1];
    if (!v || !parent) {
        lkj_decref(v);
        w->err = 1;
        return false;
    }
    /* the _new calls free v when they fail */
    if ((key ? lkj_object_set_new(parent, key, v) : lkj_array_append_new(parent, v)) != 0) {
        w->err = 1;
        return false;
    }
    return true;
}

static void jw_open(lk_jw_t *w, const char *key, size_t kl, bool object)
{
    if (w->depth == LK_JW_DEPTH) {
        w->err = 1;
        return;
    }
    if (w->cb) {
        jw_prefix(w, key, kl);
        jw_putc(w, object ? '{' : '[');
        w->close[w->depth] = object ? '}' : ']';
        w->comma[w->depth] = false;
    } else {
        json_t *c = object ? lkj_object() : lkj_array();
        w->node[w->depth] = jw_add(w, key, c) ? c : NULL;   /* borrowed from its parent */
    }
    w->depth++;
}

void lk_jw_object_k(lk_jw_t *w, const char *key, size_t kl)
{
    jw_open(w, key, kl, true);
}

void lk_jw_array_k(lk_jw_t *w, const char *key, size_t kl)
{
    jw_open(w, key, kl, false);
}

void lk_jw_close(lk_jw_t *w)
{
    if (w->depth <= 1)
        return;
    w->depth--;
    if (w->cb)
        jw_putc(w, w->close[w->depth]);
}

/* Text: 'n' bytes of room at the buffer's end (n <= its size). */
static inline __attribute__((always_inline)) char *jw_room(lk_jw_t *w, size_t n)
{
    if (__builtin_expect(n > sizeof w->buf - w->len, 0))
        jw_flush(w);
    return w->buf + w->len;
}

/* Tree mode's values, out of the text path's way. */
static void __attribute__((noinline)) jw_int_tree(lk_jw_t *w, const char *key, json_int_t v)
{
    jw_add(w, key, lkj_integer(v));
}

void lk_jw_int_k(lk_jw_t *w, const char *key, size_t kl, json_int_t v)
{
    if (__builtin_expect(!w->cb, 0)) {
        jw_int_tree(w, key, v);
        return;
    }
    jw_prefix(w, key, kl);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = jw_ndigits(u) + (v < 0);
    char *d = jw_room(w, n);
    d[0] = '-';                 /* overwritten by a digit when v >= 0 */
    jw_digits(d + n, u);
    w->len += n;
}

/* The number of hex digits of 'v' (at least one). */
static inline size_t jw_hexlen(uint64_t v)
{
    return ((size_t)(64 - __builtin_clzll(v | 1)) + 3) / 4;
}

/* The 'n' hex digits of 'v' written backwards from 'end', a byte (two
 * digits) at a time. */
static inline __attribute__((always_inline)) void jw_hexdigits(char *end, uint64_t v, size_t n)
{
    static const char hex2[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    for (; n >= 2; n -= 2, v >>= 8) {
        end -= 2;
        memcpy(end, hex2 + 2 * (v & 0xff), 2);
    }
    if (n)
        end[-1] = "0123456789abcdef"[v & 15];
}

static void __attribute__((noinline)) jw_hex_tree(lk_jw_t *w, const char *key, uint64_t v)
{
    size_t n = jw_hexlen(v);
    char s[2 + 16 + 1] = "0x";
    jw_hexdigits(s + 2 + n, v, n);
    s[2 + n] = '\0';
    jw_add(w, key, lkj_string(s));
}

void lk_jw_hex_k(lk_jw_t *w, const char *key, size_t kl, uint64_t v)
{
    if (__builtin_expect(!w->cb, 0)) {
        jw_hex_tree(w, key, v);
        return;
    }
    jw_prefix(w, key, kl);
    size_t n = jw_hexlen(v);
    char *d = jw_room(w, n + 4);
    memcpy(d, "\"0x", 3);
    jw_hexdigits(d + 3 + n, v, n);
    d[3 + n] = '"';
    w->len += n + 4;
}

void lk_jw_bool_k(lk_jw_t *w, const char *key, size_t kl, bool v)
{
    if (!w->cb) {
        jw_add(w, key, v ? lkj_true() : lkj_false());
        return;
    }
    jw_prefix(w, key, kl);
    jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void lk_jw_null_k(lk_jw_t *w, const char *key, size_t kl)
{
    if (!w->cb) {
        jw_add(w, key, lkj_null());
        return;
    }
    jw_prefix(w, key, kl);
    jw_put(w, "null", 4);
}

/* Text: the escaped bytes of a string, as jansson writes them. */
static void jw_put_esc(lk_jw_t *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t run = i + mj_plain_run(s + i, n - i, false);
        if (run > i)
            jw_put(w, s + i, run - i);
        if (run == n)
            break;
        char esc[8];
        jw_put(w, esc, mj_escape((unsigned char)s[run], esc));
        i = run + 1;
    }
}

void lk_jw_str_k(lk_jw_t *w, const char *key, size_t kl, const char *s)
{
    if (!s) {
        lk_jw_null_k(w, key, kl);
        return;
    }
    if (!w->cb) {
        json_t *j = lkj_string(s);
        if (j)                  /* not UTF-8: the key is left out, as json_object_set_new does */
            jw_add(w, key, j);
        return;
    }
    size_t n = strlen(s);
    if (mj_plain_run(s, n, true) != n) {
        if (!mj_utf8_ok((const unsigned char *)s, n))
            return;             /* as in a tree */
        jw_prefix(w, key, kl);
        jw_putc(w, '"');
        jw_put_esc(w, s, n);
        jw_putc(w, '"');
        return;
    }
    jw_prefix(w, key, kl);      /* printable ASCII, as is */
    char *d = n + 2 <= sizeof w->buf ? jw_room(w, n + 2) : NULL;
    if (d) {
        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        w->len += n + 2;
        return;
    }
    jw_putc(w, '"');
    jw_put(w, s, n);
    jw_putc(w, '"');
}

char *lk_jw_raw(lk_jw_t *w, size_t n)
{
    if (!w->cb)
        return NULL;
    jw_prefix(w, NULL, 0);
    return jw_room(w, n);
}

char *lk_jw_raw_flush(lk_jw_t *w, char *end)
{
    lk_jw_raw_end(w, end);
    jw_flush(w);
    return w->buf;
}

char *lk_jw_put_int(char *d, json_int_t v)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = jw_ndigits(u) + (v < 0);
    d[0] = '-';                 /* overwritten by a digit when v >= 0 */
    jw_digits(d + n, u);
    return d + n;
}

char *lk_jw_put_hex(char *d, uint64_t v)
{
    size_t n = jw_hexlen(v);
    memcpy(d, "\"0x", 3);
    jw_hexdigits(d + 3 + n, v, n);
    d[3 + n] = '"';
    return d + n + 4;
}

int lk_jw_end(lk_jw_t *w)
{
    if (w->cb)
        jw_flush(w);
    return w->err ? -1 : 0;
}
