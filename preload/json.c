/* json.c - resolve libleak's private jansson (see json.h).
 * dlmopen(LM_ID_NEWLM) gives a copy of libjansson.so.4 (and of libc) in a
 * namespace of its own: the program's json_set_alloc_funcs cannot reach it.
 * If that fails, fall back to the shared copy and say so once. */
#define LK_JSON_NO_RENAME
#include <dlfcn.h>
#include <pthread.h>

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
