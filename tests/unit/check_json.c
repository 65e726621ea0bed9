/* check_json.c - libleak's built-in JSON values (preload/json.c) write what
 * jansson writes: the same calls made on both, then the JSON_COMPACT texts
 * compared byte for byte, escapes, non-ASCII text, refused strings and keys,
 * replaced keys and removed elements included. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testhelper.h"

typedef struct text {
    size_t len;
    char buf[4096];
} text_t;

static int put(const char *s, size_t n, void *arg)
{
    text_t *t = arg;
    if (t->len + n >= sizeof t->buf)
        return -1;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return 0;
}

/* One set of calls, made through 'api' (jansson's or the built-in). */
typedef struct api {
    json_t *(*object)(void);
    json_t *(*array)(void);
    json_t *(*string)(const char *);
    json_t *(*integer)(json_int_t);
    json_t *(*null)(void);
    json_t *(*true_)(void);
    json_t *(*false_)(void);
    int (*set)(json_t *, const char *, json_t *);
    int (*append)(json_t *, json_t *);
    size_t (*size)(const json_t *);
    int (*remove)(json_t *, size_t);
    int (*dump)(const json_t *, json_dump_callback_t, void *, size_t);
    void (*del)(json_t *);
} api_t;

static const char *const strings[] = {
    "", "plain", "q\"uote", "back\\slash", "/slash", "\b\f\n\r\t", "\x01\x1f\x7f",
    "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "bad\xff", "\xc0\xaf", "\xed\xa0\x80",
    "\xf4\x90\x80\x80", "\xe2\x82", "a\xc3",
};

static int build(const api_t *a, json_t **out, int *refused)
{
    json_t *root = a->object();
    json_t *arr = a->array();
    *refused = 0;
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        json_t *s = a->string(strings[i]);
        *refused += s == NULL;
        if (s)
            a->append(arr, s);
        /* a key that is not UTF-8 is refused, and the value freed */
        *refused += a->set(root, strings[i], a->integer((json_int_t)i - 8)) != 0;
    }
    a->append(arr, a->integer(INT64_MIN));
    a->append(arr, a->integer(INT64_MAX));
    a->append(arr, a->null());
    a->append(arr, a->true_());
    a->append(arr, a->false_());
    a->append(arr, a->object());
    a->append(arr, a->array());
    a->remove(arr, 1);
    a->remove(arr, a->size(arr) - 3);
    *refused += a->append(arr, NULL) != 0;
    *refused += a->remove(arr, 1000) != 0;
    a->set(root, "arr", arr);
    a->set(root, "plain", a->string("replaced, in place"));
    /* keys of 23 and 24 bytes: kept in place, and not */
    a->set(root, "a key of 23 bytes, in p", a->integer(23));
    a->set(root, "a key of 24 bytes, not i", a->integer(24));
    a->set(root, "a key of 24 bytes, not i", a->string("replaced too"));
    a->set(root, "a key of 23 bytes, in p", a->integer(-23));
    json_t *big = a->array();
    for (int i = 0; i < 300; i++)
        a->append(big, a->integer(i * 7919));
    a->set(root, "big", big);
    *out = root;
    return 0;
}

static void compare(size_t flags, int any)
{
    api_t jn = { json_object, json_array, json_string, json_integer, json_null, json_true,
                 json_false, json_object_set_new, json_array_append_new, json_array_size,
                 json_array_remove, json_dump_callback, json_delete };
    api_t mj = { lk_mj_object, lk_mj_array, lk_mj_string, lk_mj_integer, lk_mj_null,
                 lk_mj_true, lk_mj_false, lk_mj_object_set_new, lk_mj_array_append_new,
                 lk_mj_array_size, lk_mj_array_remove, lk_mj_dump_callback, lk_mj_delete };
    json_t *a, *b;
    int ra, rb;
    build(&jn, &a, &ra);
    build(&mj, &b, &rb);
    ck_assert_int_eq(ra, rb);
    ck_assert_int_gt(ra, 5);
    static text_t ta, tb;
    ta.len = tb.len = 0;
    if (any) {
        for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
            json_t *x = json_string(strings[i]), *y = lk_mj_string(strings[i]);
            ck_assert_int_eq(x == NULL, y == NULL);
            if (!x)
                continue;
            ta.len = tb.len = 0;
            ck_assert_int_eq(json_dump_callback(x, put, &ta, flags), 0);
            ck_assert_int_eq(lk_mj_dump_callback(y, put, &tb, flags), 0);
            ck_assert_str_eq(ta.buf, tb.buf);
            json_decref(x);
            lk_mj_delete(y);
        }
        /* without JSON_ENCODE_ANY a bare value is refused by both */
        json_t *x = json_integer(1), *y = lk_mj_integer(1);
        ck_assert_int_ne(json_dump_callback(x, put, &ta, JSON_COMPACT), 0);
        ck_assert_int_ne(lk_mj_dump_callback(y, put, &tb, JSON_COMPACT), 0);
        json_decref(x);
        lk_mj_delete(y);
    } else {
        ck_assert_int_eq(json_dump_callback(a, put, &ta, flags), 0);
        ck_assert_int_eq(lk_mj_dump_callback(b, put, &tb, flags), 0);
        ck_assert_uint_gt(ta.len, 1000);
        ck_assert_str_eq(ta.buf, tb.buf);
    }
    json_decref(a);
    lk_mj_delete(b);
}

START_TEST(test_json_builtin_writes_what_jansson_writes)
{
    compare(JSON_COMPACT, 0);
}
END_TEST

START_TEST(test_json_builtin_bare_values)
{
    compare(JSON_COMPACT | JSON_ENCODE_ANY, 1);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("builtin");
    tcase_add_test(tc, test_json_builtin_writes_what_jansson_writes);
    tcase_add_test(tc, test_json_builtin_bare_values);
    suite_add_tcase(s, tc);
    return s;
}

LK_TEST_MAIN(json_suite)
