/* scan_out.c - the dump's "reachability" section (see FORMAT.md): totals
 * by kind, the per-site rows, and the structures and held-by arrays, as a
 * tree or, for the dump, as text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "scan_internal.h"

/* Where a section array's entries go: a json array (the tree: tests and
 * lk_dump_build), or the array's text (the dump), written by lk_jw (json.h)
 * without a tree, since a tree of every entry costs several times its text.
 * Entries go through 'w' in both cases. */
typedef struct entry_sink {
    json_t *arr;                /* tree; NULL: text */
    char *txt;                  /* text: "[e,e" so far (malloc'd) */
    size_t len, cap;
    int oom;
    lk_jw_t w;                  /* writes the entries */
} entry_sink_t;

/* Append to the text, doubling its room as needed. */
static int sink_text_cb(const char *data, size_t size, void *arg)
{
    entry_sink_t *s = arg;
    if (s->len + size + 2 > s->cap) {           /* and room for "]" and a NUL */
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + size + 2) cap *= 2;
        char *t = lk_real_malloc(cap);
        if (!t) return -1;
        if (s->len) memcpy(t, s->txt, s->len);
        lk_real_free(s->txt);
        s->txt = t;
        s->cap = cap;
    }
    memcpy(s->txt + s->len, data, size);
    s->len += size;
    return 0;
}

static void sink_init(entry_sink_t *s, int text)
{
    memset(s, 0, offsetof(entry_sink_t, w));
    if (!text) {
        s->arr = json_array();
        s->oom = !s->arr;
        lk_jw_tree(&s->w, s->arr);
    } else {
        s->oom = sink_text_cb("[", 1, s) != 0;
        lk_jw_text(&s->w, sink_text_cb, s);
    }
}

/* The entries are all written: flush them.  0, or -1 (out of memory). */
static int sink_done(entry_sink_t *s)
{
    if (lk_jw_end(&s->w) != 0)
        s->oom = 1;
    return s->oom ? -1 : 0;
}

static void sink_free(entry_sink_t *s)
{
    json_decref(s->arr);
    lk_real_free(s->txt);
    memset(s, 0, offsetof(entry_sink_t, w));
}

static json_t *blocks_bytes(uint64_t blocks, uint64_t bytes)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, LK_KEY_REACH_BLOCKS, json_integer((json_int_t)blocks));
    json_object_set_new(o, LK_KEY_REACH_BYTES, json_integer((json_int_t)bytes));
    return o;
}

/* The dump keeps the biggest held-by entries only: a program that leaks
 * nothing held 72 KB of them (393 entries) in every process's exit dump, and
 * the rest are summed in held_by_omitted. */
#define LK_SCAN_DUMP_HELD_BY 128
_Static_assert(LK_SCAN_DUMP_HELD_BY <= LIBLEAK_REACH_MAX_HELD_BY, "the analyzer's limit");

json_t *lk_scan_build_section(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                              size_t nroots, const lk_scan_result_t *res,
                              const lk_scan_json_limits_t *lim, char **arrays, size_t *arrays_len)
{
    static const lk_scan_json_limits_t defaults = {LK_SCAN_DUMP_HELD_BY,
                                                   LIBLEAK_REACH_MAX_STRUCTURES,
                                                   LIBLEAK_REACH_MAX_MEMBERS};
    static const char *const sink_keys[3] = {LK_KEY_REACH_SITES, LK_KEY_REACH_STRUCTURES,
                                             LK_KEY_REACH_HELD_BY};
    if (!lim) lim = &defaults;
    int text = arrays != NULL;
    json_t *o = json_object();
    json_t *kinds = json_object(), *rb = json_object();
    json_t *s_om = json_object(), *h_om = json_object();
    entry_sink_t sk[3];         /* sites, structures, held_by */
    for (int i = 0; i < 3; i++) sink_init(&sk[i], text);
    lk_scan_agg_table_t t;
    memset(&t, 0, sizeof t);
    if (!o || !kinds || !rb || !s_om || !h_om || sk[0].oom || sk[1].oom || sk[2].oom) goto out_fail;

    uint64_t live_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        live_bytes += b[i].size;
        uint64_t k0 = ((uint64_t)b[i].kind << 40) | ((uint64_t)b[i].family << 32) | b[i].stack_id;
        if (!lk_scan_agg_add(&t, k0, 0, b[i].size, (uint32_t)i)) goto out_fail;
    }
    if (t.n > 1) qsort(t.rows, t.n, sizeof *t.rows, lk_scan_cmp_row_bytes);
    for (size_t i = 0; i < t.n; i++) {
        lk_jw_t *w = &sk[0].w;
        lk_jw_object(w, NULL);
        lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)t.rows[i].blocks);
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)t.rows[i].bytes);
        lk_jw_int(w, LK_KEY_STACK, (json_int_t)(t.rows[i].k0 & 0xffffffffu));
        lk_jw_str(w, LK_KEY_FAMILY, lk_scan_family_name((t.rows[i].k0 >> 32) & 0xff));
        lk_jw_str(w, LK_KEY_REACH_KIND, lk_scan_kind_name((unsigned)(t.rows[i].k0 >> 40)));
        lk_jw_close(w);
    }
    for (int k = 0; k < 4; k++) {
        json_object_set_new(kinds, lk_scan_kind_name((unsigned)k), blocks_bytes(res->kind_blocks[k], res->kind_bytes[k]));
        json_object_set_new(rb, lk_scan_root_name((unsigned)k), json_integer((json_int_t)res->root_bytes[k]));
    }
    if (sink_done(&sk[0]) != 0 || lk_scan_build_structures(b, n, res, lim, s_om, &sk[1].w) != 0 ||
        sink_done(&sk[1]) != 0 ||
        lk_scan_build_held_by(b, n, roots, nroots, res, lim, h_om, &sk[2].w) != 0 ||
        sink_done(&sk[2]) != 0)
        goto out_fail;

    json_object_set_new(o, LK_KEY_REACH_LIVE_BLOCKS, json_integer((json_int_t)n));
    json_object_set_new(o, LK_KEY_REACH_LIVE_BYTES, json_integer((json_int_t)live_bytes));
    json_object_set_new(o, LK_KEY_REACH_ROOT_BYTES, rb);
    json_object_set_new(o, LK_KEY_REACH_UNREADABLE_BYTES, json_integer((json_int_t)res->unreadable_bytes));
    json_object_set_new(o, LK_KEY_REACH_KINDS, kinds);
    json_object_set_new(o, LK_KEY_REACH_STRUCTURES_OMITTED, s_om);
    json_object_set_new(o, LK_KEY_REACH_CYCLES_COMPLETE, json_boolean(res->cycles_complete));
    json_object_set_new(o, LK_KEY_REACH_HELD_BY_OMITTED, h_om);
    kinds = rb = s_om = h_om = NULL;
    if (lk_scan_build_retained(b, n, roots, nroots, res, o) != 0) goto out_fail;
    if (!text) {
        for (int i = 0; i < 3; i++) {
            json_object_set(o, sink_keys[i], sk[i].arr);
            sink_free(&sk[i]);
        }
    } else {
        /* one text: each array closed, keys in front, commas between */
        entry_sink_t all;
        sink_init(&all, 1);
        all.len = 0;            /* no "[" of its own */
        for (int i = 0; i < 3 && !all.oom; i++) {
            char key[32];
            int kl = snprintf(key, sizeof key, "%s\"%s\":", i ? "," : "", sink_keys[i]);
            if (sink_text_cb(key, (size_t)kl, &all) != 0 || sink_text_cb(sk[i].txt, sk[i].len, &all) != 0 ||
                sink_text_cb("]", 1, &all) != 0)
                all.oom = 1;
        }
        for (int i = 0; i < 3; i++) sink_free(&sk[i]);
        if (all.oom) {
            sink_free(&all);
            goto out_fail;
        }
        all.txt[all.len] = '\0';
        *arrays = all.txt;
        *arrays_len = all.len;
    }
    lk_scan_agg_table_free(&t);
    return o;
out_fail:
    lk_scan_agg_table_free(&t);
    json_decref(o);
    json_decref(kinds);
    json_decref(rb);
    json_decref(s_om);
    json_decref(h_om);
    for (int i = 0; i < 3; i++) sink_free(&sk[i]);
    return NULL;
}

json_t *lk_scan_build_json(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                           size_t nroots, const lk_scan_result_t *res,
                           const lk_scan_json_limits_t *lim)
{
    return lk_scan_build_section(b, n, roots, nroots, res, lim, NULL, NULL);
}
