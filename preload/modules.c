/* modules.c - the modules array of a dump: every mapped object with its
 * GNU build-id, and the ones dlclose'd since, with when they went.
 * hooks.c's dlclose brackets the real one with lk_modules_before_unload and
 * lk_modules_after_unload; nothing here does I/O. */
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "dump_json.h"

/* ### modules: dl_iterate_phdr with the GNU build-id note of each object */
/* The GNU build-id of 'info' as lowercase hex into 'out' (129 bytes); ""
 * when it has none. */
static void build_id_hex(const struct dl_phdr_info *info, char *out)
{
    out[0] = '\0';
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            const char *name = p + sizeof *nh;
            const unsigned char *desc =
                (const unsigned char *)name + ((nh->n_namesz + 3) & ~3u);
            if ((const char *)desc + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(name, "GNU", 4) == 0 && nh->n_descsz <= 64) {
                for (unsigned j = 0; j < nh->n_descsz; j++) {
                    out[2 * j] = "0123456789abcdef"[desc[j] >> 4];
                    out[2 * j + 1] = "0123456789abcdef"[desc[j] & 15];
                }
                out[2 * nh->n_descsz] = '\0';
                return;
            }
            p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
}

static void build_id_of(lk_jw_t *w, const char *key, const struct dl_phdr_info *info)
{
    char hexbuf[129];
    build_id_hex(info, hexbuf);
    if (hexbuf[0])
        lk_jw_str(w, key, hexbuf);
    else
        lk_jw_null(w, key);
}

/* Extent of the PT_LOAD segments of 'info' from its base; 0 if none. */
static uintptr_t load_extent(const struct dl_phdr_info *info)
{
    uintptr_t hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && ph->p_vaddr + ph->p_memsz > hi)
            hi = ph->p_vaddr + ph->p_memsz;
    }
    return hi;
}

/* ### unloaded modules
 * A library dlclose'd before a dump is gone from dl_iterate_phdr, but the
 * stacks captured while it was mapped still point into it.  hooks.c's
 * dlclose calls lk_modules_before_unload and lk_modules_after_unload around
 * the real one; every module that disappeared meanwhile is recorded here,
 * with the number of stacks interned before it went: stack ids are handed
 * out in time order, so a stack below that number may have frames in it and
 * one at or above cannot (the analyzer's way to pick, among modules that
 * were mapped at the same address one after the other, the right one). */
typedef struct mod_rec {
    char *path;                 /* lk_real_malloc'd */
    uintptr_t base, size;
    char build_id[129];         /* hex, or "" */
    uint64_t load_ns;           /* first seen mapped (lk_now_ns) */
    uint64_t unload_ns;         /* dlclose'd (lk_now_ns); 0 while mapped */
    uint32_t stacks_before;     /* lk_stack_count() before that dlclose */
    unsigned seen;              /* the last scan that found it mapped */
} mod_rec_t;

#define MOD_RECS_MAX 4096       /* records kept; further unloads are counted */
static pthread_mutex_t mod_lock = PTHREAD_MUTEX_INITIALIZER;
static mod_rec_t *mod_recs;     /* guarded by mod_lock, as are the three below */
static size_t mod_nrecs, mod_cap;
static unsigned mod_scan;
static uint64_t mod_dropped;    /* modules not recorded: table full or out of memory */
static uint64_t mod_pending_ns; /* the dlclose in progress: its time and stack count */
static uint32_t mod_pending_stacks;

static const char *module_name(const struct dl_phdr_info *info, char *exe, size_t cap)
{
    if (info->dlpi_name && *info->dlpi_name)
        return info->dlpi_name;
    exe_path(exe, cap);
    return exe;
}

/* dl_iterate_phdr callback: mark (or add) every module mapped now. */
static int mod_scan_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    uintptr_t hi = load_extent(info);
    if (hi == 0)
        return 0;
    char exe[4096];
    const char *name = module_name(info, exe, sizeof exe);
    for (size_t i = 0; i < mod_nrecs; i++) {
        mod_rec_t *r = &mod_recs[i];
        if (r->unload_ns == 0 && r->base == info->dlpi_addr && r->size == hi &&
            strcmp(r->path, name) == 0) {
            r->seen = mod_scan;
            return 0;
        }
    }
    if (mod_nrecs == mod_cap) {
        size_t cap = mod_cap ? 2 * mod_cap : 64;
        mod_rec_t *v = cap <= MOD_RECS_MAX ? lk_real_realloc(mod_recs, cap * sizeof *v) : NULL;
        if (!v) {
            mod_dropped++;
            return 0;
        }
        mod_recs = v;
        mod_cap = cap;
    }
    size_t n = strlen(name) + 1;
    char *path = lk_real_malloc(n);
    if (!path) {
        mod_dropped++;
        return 0;
    }
    memcpy(path, name, n);
    mod_rec_t *r = &mod_recs[mod_nrecs++];
    *r = (mod_rec_t){ .path = path, .base = info->dlpi_addr, .size = hi,
                      .load_ns = lk_now_ns(), .seen = mod_scan };
    build_id_hex(info, r->build_id);
    return 0;
}

/* Do 'a' and 'b' share an address? */
static bool mod_overlap(const mod_rec_t *a, const mod_rec_t *b)
{
    return a->base < b->base + b->size && b->base < a->base + a->size;
}

/* Record 'r' (mapped until now) as unloaded.  When the module unloaded last
 * from any address 'r' covers is the same file at the same place, that
 * record is moved on instead (a dlopen/dlclose loop of one library keeps one
 * record, and the stack counts still order every module ever there); returns
 * true then, and 'r' goes. */
static bool mod_retire(mod_rec_t *r)
{
    r->unload_ns = mod_pending_ns;
    r->stacks_before = mod_pending_stacks;
    mod_rec_t *last = NULL;
    for (size_t i = 0; i < mod_nrecs; i++) {
        mod_rec_t *o = &mod_recs[i];
        if (o != r && o->unload_ns != 0 && mod_overlap(o, r) &&
            (!last || o->stacks_before > last->stacks_before))
            last = o;
    }
    if (!last || last->base != r->base || last->size != r->size ||
        strcmp(last->path, r->path) != 0 || strcmp(last->build_id, r->build_id) != 0)
        return false;
    last->unload_ns = r->unload_ns;
    last->stacks_before = r->stacks_before;
    return true;
}

void lk_modules_before_unload(void)
{
    LK_GUARD;
    pthread_mutex_lock(&mod_lock);
    mod_scan++;
    dl_iterate_phdr(mod_scan_cb, NULL);
    mod_pending_ns = lk_now_ns();
    mod_pending_stacks = lk_stack_count();
    pthread_mutex_unlock(&mod_lock);
}

void lk_modules_after_unload(void)
{
    LK_GUARD;
    pthread_mutex_lock(&mod_lock);
    unsigned before = mod_scan++;
    dl_iterate_phdr(mod_scan_cb, NULL);
    size_t keep = 0;
    for (size_t i = 0; i < mod_nrecs; i++) {
        mod_rec_t *r = &mod_recs[i];
        /* mapped at the scan before the real dlclose, gone now */
        if (r->unload_ns == 0 && r->seen == before && mod_retire(r)) {
            lk_real_free(r->path);
            continue;
        }
        mod_recs[keep++] = *r;
    }
    mod_nrecs = keep;
    pthread_mutex_unlock(&mod_lock);
}

/* The unloaded modules as entries of the modules array (dump_lock held). */
static void unloaded_modules(lk_jw_t *w)
{
    pthread_mutex_lock(&mod_lock);
    for (size_t i = 0; i < mod_nrecs; i++) {
        const mod_rec_t *r = &mod_recs[i];
        if (r->unload_ns == 0)
            continue;
        lk_jw_object(w, NULL);
        bool escaped = false;
        jw_str_esc(w, LK_KEY_PATH, r->path, &escaped);
        if (escaped)
            lk_jw_bool(w, LK_KEY_PATH_ESCAPED, true);
        lk_jw_hex(w, LK_KEY_BASE, r->base);
        jw_u64(w, LK_KEY_SIZE, r->size);
        if (r->build_id[0])
            lk_jw_str(w, LK_KEY_BUILD_ID, r->build_id);
        else
            lk_jw_null(w, LK_KEY_BUILD_ID);
        jw_u64(w, LK_KEY_LOAD_UPTIME_NS, r->load_ns > lk_start_ns ? r->load_ns - lk_start_ns : 0);
        jw_u64(w, LK_KEY_UNLOAD_UPTIME_NS,
               r->unload_ns > lk_start_ns ? r->unload_ns - lk_start_ns : 0);
        jw_u64(w, LK_KEY_STACKS_BEFORE_UNLOAD, r->stacks_before);
        lk_jw_close(w);
    }
    pthread_mutex_unlock(&mod_lock);
}

/* Module records that could not be kept (dump_lock held). */
uint64_t lk_modules_dropped(void)
{
    pthread_mutex_lock(&mod_lock);
    uint64_t n = mod_dropped;
    pthread_mutex_unlock(&mod_lock);
    return n;
}

static int module_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    lk_jw_t *w = arg;
    uintptr_t hi = load_extent(info);
    if (hi == 0)
        return 0;
    char exe[4096];
    const char *name = module_name(info, exe, sizeof exe);
    bool escaped = false;
    lk_jw_object(w, NULL);
    jw_str_esc(w, LK_KEY_PATH, name, &escaped);
    if (escaped)
        lk_jw_bool(w, LK_KEY_PATH_ESCAPED, true);
    lk_jw_hex(w, LK_KEY_BASE, info->dlpi_addr);
    jw_u64(w, LK_KEY_SIZE, hi);
    build_id_of(w, LK_KEY_BUILD_ID, info);
    lk_jw_close(w);
    return 0;
}

void lk_modules_append(lk_jw_t *w)
{
    dl_iterate_phdr(module_cb, w);
    unloaded_modules(w);
}

void lk_modules_lock(void)
{
    pthread_mutex_lock(&mod_lock);
}

void lk_modules_unlock(void)
{
    pthread_mutex_unlock(&mod_lock);
}
