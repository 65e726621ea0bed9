/* scan_out.c - the dump's "reachability" section (see FORMAT.md): totals
 * by kind, the per-site rows, and the structures and held-by arrays, as a
 * tree or, for the dump, as text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "scan_internal.h"

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

/* Bytes the text of the arrays will take, from the entries' usual sizes
 * (a site row about 75 bytes, a held-by entry 170, a retained one 140,
 * a structure 250): one allocation in the common case. */
static size_t text_estimate(size_t n, size_t site_rows, const lk_scan_result_t *res,
                            const lk_scan_json_limits_t *lim)
{
    size_t held = n < lim->max_held_by ? n : lim->max_held_by;
    size_t st = res->structures < lim->max_structures ? (size_t)res->structures : lim->max_structures;
    size_t est = 256 + 80 * site_rows + 176 * held + 256 * st;
    if (res->retained_complete && res->nret == n) {
        size_t by = 0;
        for (size_t r = 0; r < res->ndroots && by < LIBLEAK_REACH_MAX_RETAINED_BY; r++)
            by += res->root_ret_blocks[r] != 0;
        est += 144 * by + 160 * (n < LIBLEAK_REACH_MAX_TOP_RETAINED ? n : LIBLEAK_REACH_MAX_TOP_RETAINED);
    }
    return est;
}

json_t *lk_scan_build_section(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                              size_t nroots, const lk_scan_result_t *res,
                              const lk_scan_json_limits_t *lim, char **arrays, size_t *arrays_len)
{
    static const lk_scan_json_limits_t defaults = {LK_SCAN_DUMP_HELD_BY,
                                                   LIBLEAK_REACH_MAX_STRUCTURES,
                                                   LIBLEAK_REACH_MAX_MEMBERS};
    static const char *const keys[3] = {LK_KEY_REACH_SITES, LK_KEY_REACH_STRUCTURES,
                                        LK_KEY_REACH_HELD_BY};
    if (!lim) lim = &defaults;
    int text = arrays != NULL;
    json_t *o = json_object();
    json_t *kinds = json_object(), *rb = json_object();
    json_t *s_om = json_object(), *h_om = json_object();
    json_t *tree[3] = {NULL, NULL, NULL};     /* the tree's arrays */
    lk_scan_text_t tx;                          /* the dump's text of them */
    lk_jw_t tw, *w = &tw;
    memset(&tx, 0, offsetof(lk_scan_text_t, w));
    lk_scan_agg_table_t t;
    memset(&t, 0, sizeof t);
    if (!o || !kinds || !rb || !s_om || !h_om) goto out_fail;
    for (int i = 0; i < 3 && !text; i++)
        if (!(tree[i] = json_array())) goto out_fail;

    uint64_t live_bytes = 0;
    if (lk_scan_agg_reserve(&t, n) != 0) goto out_fail;
    for (size_t i = 0; i < n; i++) {
        live_bytes += b[i].size;
        uint64_t k0 = ((uint64_t)b[i].kind << 40) | ((uint64_t)b[i].family << 32) | b[i].stack_id;
        if (!lk_scan_agg_add(&t, k0, 0, b[i].size, (uint32_t)i)) goto out_fail;
    }
    lk_scan_sort_rows(t.rows, t.n, t.n);
    if (text) {
        lk_scan_text_init(&tx, text_estimate(n, t.n, res, lim));
        w = lk_scan_text_open(&tx, keys[0]);
    } else {
        lk_jw_tree(w, tree[0]);
    }
    for (size_t i = 0; i < t.n; i++) {
        lk_jw_object(w, NULL);
        lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)t.rows[i].blocks);
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)t.rows[i].bytes);
        lk_jw_int(w, LK_KEY_STACK, (json_int_t)(t.rows[i].k0 & 0xffffffffu));
        lk_jw_str(w, LK_KEY_FAMILY, lk_scan_family_name((t.rows[i].k0 >> 32) & 0xff));
        lk_jw_str(w, LK_KEY_REACH_KIND, lk_scan_kind_name((unsigned)(t.rows[i].k0 >> 40)));
        lk_jw_close(w);
    }
    lk_scan_agg_table_free(&t);
    for (int k = 0; k < 4; k++) {
        json_object_set_new(kinds, lk_scan_kind_name((unsigned)k), blocks_bytes(res->kind_blocks[k], res->kind_bytes[k]));
        json_object_set_new(rb, lk_scan_root_name((unsigned)k), json_integer((json_int_t)res->root_bytes[k]));
    }
    for (int a = 0; a < 3; a++) {
        if (a > 0 && text) w = lk_scan_text_open(&tx, keys[a]);
        else if (a > 0) lk_jw_tree(w, tree[a]);
        if (a == 1 && lk_scan_build_structures(b, n, res, lim, s_om, w) != 0) goto out_fail;
        if (a == 2 && lk_scan_build_held_by(b, n, roots, nroots, res, lim, h_om, w) != 0) goto out_fail;
        if (text ? lk_scan_text_close(&tx) != 0 : lk_jw_end(w) != 0) goto out_fail;
    }

    json_object_set_new(o, LK_KEY_REACH_LIVE_BLOCKS, json_integer((json_int_t)n));
    json_object_set_new(o, LK_KEY_REACH_LIVE_BYTES, json_integer((json_int_t)live_bytes));
    json_object_set_new(o, LK_KEY_REACH_ROOT_BYTES, rb);
    json_object_set_new(o, LK_KEY_REACH_UNREADABLE_BYTES, json_integer((json_int_t)res->unreadable_bytes));
    json_object_set_new(o, LK_KEY_REACH_KINDS, kinds);
    json_object_set_new(o, LK_KEY_REACH_STRUCTURES_OMITTED, s_om);
    json_object_set_new(o, LK_KEY_REACH_CYCLES_COMPLETE, json_boolean(res->cycles_complete));
    json_object_set_new(o, LK_KEY_REACH_HELD_BY_OMITTED, h_om);
    kinds = rb = s_om = h_om = NULL;
    if (lk_scan_build_retained(b, n, roots, nroots, res, o, text ? &tx : NULL) != 0) goto out_fail;
    if (!text) {
        for (int i = 0; i < 3; i++) {
            json_object_set_new(o, keys[i], tree[i]);
            tree[i] = NULL;
        }
    } else {
        if (tx.oom) goto out_fail;
        *arrays = tx.txt;       /* NUL-terminated */
        *arrays_len = tx.len;
    }
    return o;
out_fail:
    lk_scan_agg_table_free(&t);
    json_decref(o);
    json_decref(kinds);
    json_decref(rb);
    json_decref(s_om);
    json_decref(h_om);
    for (int i = 0; i < 3; i++) json_decref(tree[i]);
    lk_scan_text_free(&tx);
    return NULL;
}

json_t *lk_scan_build_json(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                           size_t nroots, const lk_scan_result_t *res,
                           const lk_scan_json_limits_t *lim)
{
    return lk_scan_build_section(b, n, roots, nroots, res, lim, NULL, NULL);
}
