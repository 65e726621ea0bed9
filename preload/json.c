/* json.c - resolve libleak's private jansson (see json.h).
 * dlmopen(LM_ID_NEWLM) gives a copy of libjansson.so.4 (and of libc) in a
 * namespace of its own: the program's json_set_alloc_funcs cannot reach it.
 * If that fails, fall back to the shared copy and say so once. */
#define LK_JSON_NO_RENAME
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "internal.h"
#include "json.h"

lk_json_api_t lk_json;
static pthread_mutex_t json_lock = PTHREAD_MUTEX_INITIALIZER;


static int resolve(void *h, lk_json_api_t *out)
{
    lk_json_api_t api = { 0 };
    api.object = (__typeof__(api.object))dlsym(h, "json_object");
    api.array = (__typeof__(api.array))dlsym(h, "json_array");
    api.string = (__typeof__(api.string))dlsym(h, "json_string");
    api.integer = (__typeof__(api.integer))dlsym(h, "json_integer");
    api.null = (__typeof__(api.null))dlsym(h, "json_null");
    api.true_ = (__typeof__(api.true_))dlsym(h, "json_true");
    api.false_ = (__typeof__(api.false_))dlsym(h, "json_false");
    api.object_set_new = (__typeof__(api.object_set_new))dlsym(h, "json_object_set_new");
    api.array_append_new = (__typeof__(api.array_append_new))dlsym(h, "json_array_append_new");
    api.array_size = (__typeof__(api.array_size))dlsym(h, "json_array_size");
    api.array_remove = (__typeof__(api.array_remove))dlsym(h, "json_array_remove");
    api.dump_callback = (__typeof__(api.dump_callback))dlsym(h, "json_dump_callback");
    api.delete_ = (__typeof__(api.delete_))dlsym(h, "json_delete");
    if (!api.object || !api.array || !api.string || !api.integer || !api.null || !api.true_ ||
        !api.false_ || !api.object_set_new || !api.array_append_new || !api.array_size ||
        !api.array_remove || !api.dump_callback || !api.delete_)
        return -1;
    *out = api;
    return 0;
}

int lk_json_init(void)
{
    int rc = 0;
    pthread_mutex_lock(&json_lock);
    if (lk_json.object)
        goto out_unlock;
    lk_json_api_t api;
#ifdef LK_TESTING
    /* unit tests parse dumps with the shared jansson: keep one copy there */
    void *h = NULL;
    if (resolve(RTLD_DEFAULT, &api) == 0) {
        api.is_private = 0;
        goto out_publish;
    }
#else
    void *h = dlmopen(LM_ID_NEWLM, "libjansson.so.4", RTLD_NOW | RTLD_LOCAL);
#endif
    if (h && resolve(h, &api) == 0) {
        api.is_private = 1;
    } else {
        /* the shared copy: the program's jansson allocator, if it set one,
         * will see libleak's dumps */
        lk_log("cannot load a private jansson (%s); dumps use the program's",
               h ? "missing symbols" : "dlmopen failed");
        if (resolve(RTLD_DEFAULT, &api) != 0) {
            api.object = json_object;
            api.array = json_array;
            api.string = json_string;
            api.integer = json_integer;
            api.null = json_null;
            api.true_ = json_true;
            api.false_ = json_false;
            api.object_set_new = json_object_set_new;
            api.array_append_new = json_array_append_new;
            api.array_size = json_array_size;
            api.array_remove = json_array_remove;
            api.dump_callback = json_dump_callback;
            api.delete_ = json_delete;
        }
        api.is_private = 0;
    }
#ifdef LK_TESTING
out_publish:
#endif
    __atomic_store_n(&lk_json.is_private, api.is_private, __ATOMIC_RELAXED);
    lk_json.array = api.array;
    lk_json.string = api.string;
    lk_json.integer = api.integer;
    lk_json.null = api.null;
    lk_json.true_ = api.true_;
    lk_json.false_ = api.false_;
    lk_json.object_set_new = api.object_set_new;
    lk_json.array_append_new = api.array_append_new;
    lk_json.array_size = api.array_size;
    lk_json.array_remove = api.array_remove;
    lk_json.dump_callback = api.dump_callback;
    lk_json.delete_ = api.delete_;
    __atomic_store_n(&lk_json.object, api.object, __ATOMIC_RELEASE);  /* published last */
out_unlock:
    pthread_mutex_unlock(&json_lock);
    return rc;
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

static void jw_put(lk_jw_t *w, const char *s, size_t n)
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

/* Text: the comma and the key before a value at the current depth. */
static void jw_prefix(lk_jw_t *w, const char *key)
{
    if (w->comma[w->depth - 1])
        jw_put(w, ",", 1);
    w->comma[w->depth - 1] = true;
    if (key) {
        jw_put(w, "\"", 1);
        jw_put(w, key, strlen(key));
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

static void jw_open(lk_jw_t *w, const char *key, bool object)
{
    if (w->depth == LK_JW_DEPTH) {
        w->err = 1;
        return;
    }
    if (w->cb) {
        jw_prefix(w, key);
        jw_put(w, object ? "{" : "[", 1);
        w->close[w->depth] = object ? '}' : ']';
        w->comma[w->depth] = false;
    } else {
        json_t *c = object ? lkj_object() : lkj_array();
        w->node[w->depth] = jw_add(w, key, c) ? c : NULL;   /* borrowed from its parent */
    }
    w->depth++;
}

void lk_jw_object(lk_jw_t *w, const char *key)
{
    jw_open(w, key, true);
}

void lk_jw_array(lk_jw_t *w, const char *key)
{
    jw_open(w, key, false);
}

void lk_jw_close(lk_jw_t *w)
{
    if (w->depth <= 1)
        return;
    w->depth--;
    if (w->cb)
        jw_put(w, &w->close[w->depth], 1);
}

void lk_jw_int(lk_jw_t *w, const char *key, json_int_t v)
{
    if (!w->cb) {
        jw_add(w, key, lkj_integer(v));
        return;
    }
    char t[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        t[sizeof t - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[sizeof t - 1 - n++] = '-';
    jw_prefix(w, key);
    jw_put(w, t + sizeof t - n, n);
}

void lk_jw_hex(lk_jw_t *w, const char *key, uint64_t v)
{
    char t[20];
    size_t n = 0;
    do {
        t[sizeof t - 1 - n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    t[sizeof t - 1 - n++] = 'x';
    t[sizeof t - 1 - n++] = '0';
    if (!w->cb) {
        char s[sizeof t + 1];
        memcpy(s, t + sizeof t - n, n);
        s[n] = '\0';
        jw_add(w, key, lkj_string(s));
        return;
    }
    jw_prefix(w, key);
    jw_put(w, "\"", 1);
    jw_put(w, t + sizeof t - n, n);
    jw_put(w, "\"", 1);
}

void lk_jw_bool(lk_jw_t *w, const char *key, bool v)
{
    if (!w->cb) {
        jw_add(w, key, v ? lkj_true() : lkj_false());
        return;
    }
    jw_prefix(w, key);
    jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void lk_jw_null(lk_jw_t *w, const char *key)
{
    if (!w->cb) {
        jw_add(w, key, lkj_null());
        return;
    }
    jw_prefix(w, key);
    jw_put(w, "null", 4);
}

void lk_jw_str(lk_jw_t *w, const char *key, const char *s)
{
    if (!s) {
        lk_jw_null(w, key);
        return;
    }
    size_t n = 0;
    bool plain = true;          /* what jansson writes as is: no escapes */
    for (const unsigned char *c = (const unsigned char *)s; *c; c++, n++)
        plain = plain && *c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\';
    if (w->cb && plain) {
        jw_prefix(w, key);
        jw_put(w, "\"", 1);
        jw_put(w, s, n);
        jw_put(w, "\"", 1);
        return;
    }
    json_t *j = lkj_string(s);
    if (!j)
        return;                 /* not UTF-8: the key is left out, as in a tree */
    if (!w->cb) {
        jw_add(w, key, j);
        return;
    }
    jw_prefix(w, key);
    jw_flush(w);
    if (!w->err && lkj_dump_callback(j, w->cb, w->arg, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        w->err = 1;
    lkj_decref(j);
}

int lk_jw_end(lk_jw_t *w)
{
    if (w->cb)
        jw_flush(w);
    return w->err ? -1 : 0;
}
