/* scan_struct.c - what the dump says of classified blocks: lost blocks
 * grouped into structures (by head, then by shape) and reachable ones by the
 * root that holds them, over a small aggregation map. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "domtree.h"
#include "internal.h"
#include "scan_internal.h"

/* ### aggregation: a small open-addressing map from a two-word key to an
 * index into a caller's array */

static uint64_t mix64(uint64_t a, uint64_t b)
{
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

/* A table reserves no more rows than this: past it, rows are fewer than
 * the blocks they count (a site holds many), and the table doubles. */
#define AGG_RESERVE_MAX 4096u

/* Rehash into 'cap' slots (a power of two). */
static int agg_rehash(lk_scan_agg_table_t *t, size_t cap)
{
    lk_scan_agg_map_t *m = &t->map;
    uint32_t *vals = lk_real_calloc(cap, sizeof *vals);
    if (!vals) return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->vals[i]) continue;
        const lk_scan_agg_row_t *r = &t->rows[m->vals[i] - 1];
        size_t j = mix64(r->k0, r->k1) & (cap - 1);
        while (vals[j]) j = (j + 1) & (cap - 1);
        vals[j] = m->vals[i];
    }
    lk_real_free(m->vals);
    m->vals = vals;
    m->cap = cap;
    return 0;
}

/* Room for 'cap' rows. */
static int agg_rows(lk_scan_agg_table_t *t, size_t cap)
{
    lk_scan_agg_row_t *rows = lk_real_realloc(t->rows, cap * sizeof *rows);
    if (!rows) return -1;
    t->rows = rows;
    t->cap = cap;
    return 0;
}

int lk_scan_agg_reserve(lk_scan_agg_table_t *t, size_t rows)
{
    if (rows > AGG_RESERVE_MAX) rows = AGG_RESERVE_MAX;
    if (rows > t->cap && agg_rows(t, rows) < 0) return -1;
    size_t cap = 256;
    while (cap < 2 * rows) cap *= 2;
    return cap > t->map.cap && agg_rehash(t, cap) < 0 ? -1 : 0;
}

/* Return the row index stored for (k0, k1), or store 'next' and return it.
 * Returns -1 when memory ran out. */
static long agg_get(lk_scan_agg_table_t *t, uint64_t k0, uint64_t k1, size_t next)
{
    lk_scan_agg_map_t *m = &t->map;
    if ((m->len + 1) * 2 > m->cap && agg_rehash(t, m->cap ? m->cap * 2 : 256) < 0) return -1;
    size_t j = mix64(k0, k1) & (m->cap - 1);
    while (m->vals[j]) {
        const lk_scan_agg_row_t *r = &t->rows[m->vals[j] - 1];
        if (r->k0 == k0 && r->k1 == k1) return (long)m->vals[j] - 1;
        j = (j + 1) & (m->cap - 1);
    }
    m->vals[j] = (uint32_t)next + 1;
    m->len++;
    return (long)next;
}

/* Return the row index stored for (k0, k1), or -1. */
static long agg_find(const lk_scan_agg_table_t *t, uint64_t k0, uint64_t k1)
{
    const lk_scan_agg_map_t *m = &t->map;
    if (!m->cap) return -1;
    size_t j = mix64(k0, k1) & (m->cap - 1);
    while (m->vals[j]) {
        const lk_scan_agg_row_t *r = &t->rows[m->vals[j] - 1];
        if (r->k0 == k0 && r->k1 == k1) return (long)m->vals[j] - 1;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

lk_scan_agg_row_t *lk_scan_agg_add(lk_scan_agg_table_t *t, uint64_t k0, uint64_t k1,
                                   uint64_t bytes, uint32_t rep)
{
    if (t->last && t->rows[t->last - 1].k0 == k0 && t->rows[t->last - 1].k1 == k1) {
        lk_scan_agg_row_t *row = &t->rows[t->last - 1];
        row->blocks++;
        row->bytes += bytes;
        return row;
    }
    long r = agg_get(t, k0, k1, t->n);
    if (r < 0) return NULL;
    if ((size_t)r == t->n) {
        if (t->n == t->cap && agg_rows(t, t->cap ? t->cap * 2 : 64) < 0) return NULL;
        t->rows[t->n++] = (lk_scan_agg_row_t){k0, k1, 0, 0, 0, rep};
    }
    lk_scan_agg_row_t *row = &t->rows[r];
    row->blocks++;
    row->bytes += bytes;
    t->last = (size_t)r + 1;
    return row;
}

void lk_scan_agg_table_free(lk_scan_agg_table_t *t)
{
    lk_real_free(t->map.vals);
    lk_real_free(t->rows);
    memset(t, 0, sizeof *t);
}

/* x goes before y: most bytes first, then most blocks, then by key. */
static inline int row_before(const lk_scan_agg_row_t *x, const lk_scan_agg_row_t *y)
{
    if (x->bytes != y->bytes) return x->bytes > y->bytes;
    if (x->blocks != y->blocks) return x->blocks > y->blocks;
    if (x->k0 != y->k0) return x->k0 < y->k0;
    return x->k1 < y->k1;
}

/* qsort order, when memory is short */
static int cmp_row_bytes(const void *a, const void *b)
{
    const lk_scan_agg_row_t *x = a, *y = b;
    return row_before(x, y) ? -1 : row_before(y, x);
}

/* Indices ix[lo..hi) put in order by insertion (short runs). */
static uint64_t sort_run(const lk_scan_agg_row_t *rows, uint32_t *ix, size_t lo, size_t hi)
{
    uint64_t cmps = 0;
    for (size_t i = lo + 1; i < hi; i++) {
        uint32_t v = ix[i];
        size_t j = i;
        while (j > lo && (cmps++, row_before(&rows[v], &rows[ix[j - 1]]))) {
            ix[j] = ix[j - 1];
            j--;
        }
        ix[j] = v;
    }
    return cmps;
}

/* Sort row indices with inline comparisons (qsort's call costs more than
 * a comparison): runs of 8 by insertion, merged bottom up; past 'top' a
 * merge only fills the first 'top' places in order (the rows after them
 * need not be).  Then the rows move once, along the permutation's cycles. */
uint64_t lk_scan_sort_rows(lk_scan_agg_row_t *rows, size_t n, size_t top)
{
    if (n < 2) return 0;
    uint32_t *ix = lk_real_malloc(2 * n * sizeof *ix);
    if (!ix) {
        qsort(rows, n, sizeof *rows, cmp_row_bytes);
        return 0;
    }
    uint32_t *a = ix, *b = ix + n;
    uint64_t cmps = 0;
    if (top > n) top = n;
    for (size_t i = 0; i < n; i++) a[i] = (uint32_t)i;
    for (size_t lo = 0; lo < n; lo += 8) cmps += sort_run(rows, a, lo, lo + 8 < n ? lo + 8 : n);
    for (size_t w = 8; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo, stop = hi - lo > top ? lo + top : hi;
            while (i < mid && j < hi && k < stop) {
                cmps++;
                b[k++] = row_before(&rows[a[j]], &rows[a[i]]) ? a[j++] : a[i++];
            }
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        uint32_t *t = a;
        a = b;
        b = t;
    }
    /* a[i]: the row that goes to place i; 'b' marks the places done */
    memset(b, 0, n * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        if (b[i]) continue;
        lk_scan_agg_row_t first = rows[i];
        size_t j = i;
        for (;;) {
            b[j] = 1;
            size_t src = a[j];
            if (src == i) break;
            rows[j] = rows[src];
            j = src;
        }
        rows[j] = first;
    }
    lk_real_free(ix);
    return cmps;
}

/* ### the section's arrays as one text */

/* Append to the text: past the estimate, grow to twice what is needed. */
static int text_put(lk_scan_text_t *t, const char *data, size_t size)
{
    if (t->oom) return -1;
    if (t->len + size + 1 > t->cap) {          /* and room for a NUL */
        size_t cap = 2 * (t->len + size + 1);
        char *p = lk_real_malloc(cap);
        if (!p) {
            t->oom = 1;
            return -1;
        }
        if (t->len) memcpy(p, t->txt, t->len);
        lk_real_free(t->txt);
        t->txt = p;
        t->cap = cap;
        t->grows++;
    }
    memcpy(t->txt + t->len, data, size);
    t->len += size;
    t->txt[t->len] = '\0';
    return 0;
}

static int text_cb(const char *data, size_t size, void *arg)
{
    return text_put(arg, data, size);
}

void lk_scan_text_init(lk_scan_text_t *t, size_t cap)
{
    memset(t, 0, offsetof(lk_scan_text_t, w));
    t->txt = lk_real_malloc(cap ? cap : 1);
    t->oom = !t->txt;
    t->cap = t->txt ? (cap ? cap : 1) : 0;
    if (t->txt) t->txt[0] = '\0';
}

lk_jw_t *lk_scan_text_open(lk_scan_text_t *t, const char *key)
{
    size_t kl = strlen(key);
    if (t->len) text_put(t, ",", 1);
    text_put(t, "\"", 1);
    text_put(t, key, kl);
    text_put(t, "\":[", 3);
    lk_jw_text(&t->w, text_cb, t);
    return &t->w;
}

int lk_scan_text_close(lk_scan_text_t *t)
{
    if (lk_jw_end(&t->w) != 0) t->oom = 1;
    text_put(t, "]", 1);
    return t->oom ? -1 : 0;
}

void lk_scan_text_free(lk_scan_text_t *t)
{
    lk_real_free(t->txt);
    memset(t, 0, offsetof(lk_scan_text_t, w));
}

static const char *const kind_names[] = LK_REACH_KIND_NAMES;
static const char *const root_names[] = LK_REACH_ROOT_NAMES;
static const char *const family_names[] = LK_FAMILY_NAMES;

const char *lk_scan_family_name(unsigned f)
{
    return f < sizeof family_names / sizeof family_names[0] ? family_names[f] : "unknown";
}

const char *lk_scan_kind_name(unsigned kind)
{
    return kind_names[kind & 3];
}

const char *lk_scan_root_name(unsigned kind)
{
    return root_names[kind & 3];
}

/* ### structures: group lost blocks by head, then group heads by shape
 * (head site, cycle flags, set of member sites) */

typedef struct member_key {
    uint32_t stack;
    uint8_t family;
} member_key_t;

static int cmp_member(const void *a, const void *b)
{
    const member_key_t *x = a, *y = b;
    if (x->stack != y->stack) return x->stack < y->stack ? -1 : 1;
    return (int)x->family - (int)y->family;
}

typedef struct sgroup {
    lk_scan_agg_table_t members;        /* (stack, family) -> blocks, bytes */
    uint64_t omitted_blocks, omitted_bytes;
    uint64_t ret_blocks, ret_bytes;     /* retained by the heads, summed */
} sgroup_t;

int lk_scan_build_structures(const lk_scan_block_t *b, size_t n, const lk_scan_result_t *res,
                             const lk_scan_json_limits_t *lim, json_t *omitted, lk_jw_t *w)
{
    int ret = res && res->retained_complete && res->nret == n;
    int failed = 0;
    lk_scan_agg_table_t groups;
    memset(&groups, 0, sizeof groups);
    sgroup_t *sg = NULL;
    size_t capsg = 0;
    uint32_t *first = lk_real_calloc(n + 1, sizeof *first);
    uint32_t *order = lk_real_malloc((n ? n : 1) * sizeof *order);
    member_key_t *mk = lk_real_malloc((n ? n : 1) * sizeof *mk);
    if (!first || !order || !mk) goto out_fail;

    /* Counting sort of lost blocks by head. */
    for (size_t i = 0; i < n; i++)
        if (b[i].kind <= LK_REACH_INDIRECT) first[b[i].aux + 1]++;
    for (size_t i = 0; i < n; i++) first[i + 1] += first[i];
    for (size_t i = 0; i < n; i++)
        if (b[i].kind <= LK_REACH_INDIRECT) order[first[b[i].aux]++] = (uint32_t)i;
    for (size_t i = n; i > 0; i--) first[i] = first[i - 1];
    first[0] = 0;

    for (size_t h = 0; h < n; h++) {
        if (b[h].kind != LK_REACH_DEFINITE) continue;
        size_t m = first[h + 1] - first[h], nu = 0;
        uint64_t bytes = 0;
        for (size_t j = 0; j < m; j++) {
            const lk_scan_block_t *x = &b[order[first[h] + j]];
            mk[j] = (member_key_t){x->stack_id, x->family};
            bytes += x->size;
        }
        if (m > 1) qsort(mk, m, sizeof *mk, cmp_member);
        uint64_t sig = 0x51ED27;
        for (size_t j = 0; j < m; j++) {
            if (nu && !cmp_member(&mk[nu - 1], &mk[j])) continue;
            mk[nu++] = mk[j];
            sig = mix64(sig, ((uint64_t)mk[j].stack << 8) | mk[j].family);
        }
        uint64_t k0 = ((uint64_t)b[h].stack_id << 16) | ((uint64_t)b[h].family << 8) | b[h].flags;
        size_t before = groups.n;
        lk_scan_agg_row_t *row = lk_scan_agg_add(&groups, k0, sig, bytes, (uint32_t)h);
        if (!row) goto out_fail;
        row->blocks += m - 1;  /* agg_add counted one */
        row->count++;
        if (groups.n > before) {
            if (groups.n > capsg) {
                size_t cap = capsg ? capsg * 2 : 64;
                sgroup_t *p = lk_real_realloc(sg, cap * sizeof *p);
                if (!p) goto out_fail;
                sg = p;
                capsg = cap;
            }
            memset(&sg[groups.n - 1], 0, sizeof sg[0]);
        }
        sgroup_t *g = &sg[row - groups.rows];
        if (ret) {
            g->ret_blocks += res->ret_blocks[h];
            g->ret_bytes += res->ret_bytes[h];
        }
        for (size_t j = 0; j < m; j++) {
            const lk_scan_block_t *x = &b[order[first[h] + j]];
            uint64_t mkey = ((uint64_t)x->stack_id << 8) | x->family;
            if (g->members.n >= lim->max_members && agg_find(&g->members, mkey, 0) < 0) {
                g->omitted_blocks++;
                g->omitted_bytes += x->size;
                continue;
            }
            if (!lk_scan_agg_add(&g->members, mkey, 0, x->size, (uint32_t)j)) goto out_fail;
        }
    }

    /* Sort a copy of the group indices by bytes; rows keep their order so
     * that sg[] stays aligned with groups.rows[]. */
    lk_scan_agg_row_t *sorted = lk_real_malloc((groups.n ? groups.n : 1) * sizeof *sorted);
    if (!sorted) goto out_fail;
    for (size_t i = 0; i < groups.n; i++) {
        sorted[i] = groups.rows[i];
        sorted[i].first = (uint32_t)i;  /* now the group index */
    }
    lk_scan_sort_rows(sorted, groups.n, lim->max_structures);
    uint64_t om_count = 0, om_blocks = 0, om_bytes = 0, om_rblocks = 0, om_rbytes = 0;
    for (size_t i = 0; i < groups.n; i++) {
        const lk_scan_agg_row_t *row = &sorted[i];
        sgroup_t *g = &sg[row->first];
        if (i >= lim->max_structures) {
            om_count += row->count;
            om_blocks += row->blocks;
            om_bytes += row->bytes;
            om_rblocks += g->ret_blocks;
            om_rbytes += g->ret_bytes;
            continue;
        }
        const lk_scan_block_t *head = &b[groups.rows[row->first].first];
        lk_jw_object(w, NULL);
        lk_jw_int(w, LK_KEY_REACH_HEAD_STACK, head->stack_id);
        lk_jw_str(w, LK_KEY_REACH_HEAD_FAMILY, lk_scan_family_name(head->family));
        lk_jw_bool(w, LK_KEY_REACH_CYCLE, head->flags & LK_SCAN_F_CYCLE);
        lk_jw_bool(w, LK_KEY_REACH_HEAD_IN_CYCLE, head->flags & LK_SCAN_F_HEAD_CYC);
        lk_jw_int(w, LK_KEY_REACH_COUNT, (json_int_t)row->count);
        lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)row->blocks);
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)row->bytes);
        if (ret) {
            lk_jw_int(w, LK_KEY_REACH_RETAINED_BLOCKS, (json_int_t)g->ret_blocks);
            lk_jw_int(w, LK_KEY_REACH_RETAINED_BYTES, (json_int_t)g->ret_bytes);
        }
        lk_scan_sort_rows(g->members.rows, g->members.n, g->members.n);
        lk_jw_array(w, LK_KEY_REACH_MEMBERS);
        for (size_t j = 0; j < g->members.n; j++) {
            const lk_scan_agg_row_t *mr = &g->members.rows[j];
            lk_jw_object(w, NULL);
            lk_jw_int(w, LK_KEY_STACK, (json_int_t)(mr->k0 >> 8));
            lk_jw_str(w, LK_KEY_FAMILY, lk_scan_family_name(mr->k0 & 0xff));
            lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)mr->blocks);
            lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)mr->bytes);
            lk_jw_close(w);
        }
        if (g->omitted_blocks) {
            lk_jw_object(w, NULL);
            lk_jw_null(w, LK_KEY_STACK);
            lk_jw_null(w, LK_KEY_FAMILY);
            lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)g->omitted_blocks);
            lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)g->omitted_bytes);
            lk_jw_close(w);
        }
        lk_jw_close(w);         /* members */
        lk_jw_close(w);
    }
    lk_real_free(sorted);
    json_object_set_new(omitted, LK_KEY_REACH_COUNT, json_integer((json_int_t)om_count));
    json_object_set_new(omitted, LK_KEY_REACH_BLOCKS, json_integer((json_int_t)om_blocks));
    json_object_set_new(omitted, LK_KEY_REACH_BYTES, json_integer((json_int_t)om_bytes));
    if (ret) {
        json_object_set_new(omitted, LK_KEY_REACH_RETAINED_BLOCKS, json_integer((json_int_t)om_rblocks));
        json_object_set_new(omitted, LK_KEY_REACH_RETAINED_BYTES, json_integer((json_int_t)om_rbytes));
    }
    goto out_free;
out_fail:
    failed = 1;
out_free:
    for (size_t i = 0; i < groups.n && sg; i++) lk_scan_agg_table_free(&sg[i].members);
    lk_real_free(sg);
    lk_scan_agg_table_free(&groups);
    lk_real_free(first);
    lk_real_free(order);
    lk_real_free(mk);
    return failed ? -1 : 0;
}

/* ### held-by: (root word or region, site, kind) -> blocks, bytes */

int lk_scan_build_held_by(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                          size_t nroots, const lk_scan_result_t *res,
                          const lk_scan_json_limits_t *lim, json_t *omitted, lk_jw_t *w)
{
    lk_scan_agg_table_t t;
    memset(&t, 0, sizeof t);
    uint64_t live = res->kind_blocks[LK_REACH_REACHABLE] + res->kind_blocks[LK_REACH_POSSIBLE];
    if (lk_scan_agg_reserve(&t, live < n ? (size_t)live : n) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (b[i].kind != LK_REACH_REACHABLE && b[i].kind != LK_REACH_POSSIBLE) continue;
        if (b[i].aux >= res->nholders) continue;
        const lk_scan_holder_t *h = &res->holders[b[i].aux];
        if (h->root >= nroots) continue;
        const lk_scan_root_t *r = &roots[h->root];
        /* Globals are told apart by word; other roots by kind and thread
         * (the high bit keeps the two key spaces apart). */
        uint64_t k0 = r->kind == LK_ROOT_GLOBAL
                          ? (uint64_t)h->addr
                          : (1ull << 63) | ((uint64_t)r->kind << 32) | (uint32_t)r->tid;
        uint64_t k1 = ((uint64_t)b[i].kind << 40) | ((uint64_t)b[i].family << 32) | b[i].stack_id;
        if (!lk_scan_agg_add(&t, k0, k1, b[i].size, b[i].aux)) {
            lk_scan_agg_table_free(&t);
            return -1;
        }
    }
    lk_scan_sort_rows(t.rows, t.n, lim->max_held_by);
    uint64_t om_n = 0, om_blocks = 0, om_bytes = 0;
    for (size_t i = 0; i < t.n; i++) {
        const lk_scan_agg_row_t *row = &t.rows[i];
        if (i >= lim->max_held_by) {
            om_n++;
            om_blocks += row->blocks;
            om_bytes += row->bytes;
            continue;
        }
        const lk_scan_holder_t *h = &res->holders[row->first];
        const lk_scan_root_t *r = &roots[h->root];
        lk_jw_object(w, NULL);
        lk_jw_str(w, LK_KEY_REACH_ROOT, lk_scan_root_name((unsigned)r->kind));
        if (r->kind == LK_ROOT_GLOBAL) {
            lk_jw_str(w, LK_KEY_REACH_MODULE, r->module);
            lk_jw_hex(w, LK_KEY_REACH_ADDRESS, h->addr);
            lk_jw_hex(w, LK_KEY_REACH_OFFSET, h->addr - r->base);
        } else {
            lk_jw_int(w, LK_KEY_REACH_TID, r->tid);
        }
        lk_jw_str(w, LK_KEY_REACH_KIND, lk_scan_kind_name((unsigned)(row->k1 >> 40)));
        lk_jw_int(w, LK_KEY_STACK, (json_int_t)(row->k1 & 0xffffffffu));
        lk_jw_str(w, LK_KEY_FAMILY, lk_scan_family_name((row->k1 >> 32) & 0xff));
        lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)row->blocks);
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)row->bytes);
        lk_jw_close(w);
    }
    lk_scan_agg_table_free(&t);
    json_object_set_new(omitted, LK_KEY_REACH_COUNT, json_integer((json_int_t)om_n));
    json_object_set_new(omitted, LK_KEY_REACH_BLOCKS, json_integer((json_int_t)om_blocks));
    json_object_set_new(omitted, LK_KEY_REACH_BYTES, json_integer((json_int_t)om_bytes));
    return 0;
}

/* ### retained sizes: the largest roots and dominator-tree tops */

typedef struct top_ent {
    uint64_t bytes, blocks;
    uint32_t idx;
} top_ent_t;

/* x ranks below y: fewer bytes, then fewer blocks, then a later index. */
static int top_less(const top_ent_t *x, const top_ent_t *y)
{
    if (x->bytes != y->bytes) return x->bytes < y->bytes;
    if (x->blocks != y->blocks) return x->blocks < y->blocks;
    return x->idx > y->idx;
}

static int cmp_top_desc(const void *a, const void *b)
{
    const top_ent_t *x = a, *y = b;
    return top_less(y, x) ? -1 : top_less(x, y);
}

/* Keep the 'k' largest entries offered, in a min-heap of 'h' (room for k):
 * O(log k) per offer, since there can be millions of candidates. */
static void top_offer(top_ent_t *h, size_t *len, size_t k, top_ent_t e)
{
    size_t i;
    if (*len < k) {
        i = (*len)++;
        while (i > 0 && top_less(&e, &h[(i - 1) / 2])) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = e;
        return;
    }
    if (k == 0 || !top_less(&h[0], &e)) return;
    i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const top_ent_t *least = &e;
        if (l < *len && top_less(&h[l], least)) m = l, least = &h[l];
        if (l + 1 < *len && top_less(&h[l + 1], least)) m = l + 1;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = e;
}

static void write_root(lk_jw_t *w, const lk_scan_root_t *r, uintptr_t addr)
{
    lk_jw_str(w, LK_KEY_REACH_ROOT, lk_scan_root_name((unsigned)r->kind));
    if (r->kind == LK_ROOT_GLOBAL) {
        lk_jw_str(w, LK_KEY_REACH_MODULE, r->module);
        lk_jw_hex(w, LK_KEY_REACH_ADDRESS, addr);
        lk_jw_hex(w, LK_KEY_REACH_OFFSET, addr - r->base);
    } else {
        lk_jw_int(w, LK_KEY_REACH_TID, r->tid);
    }
}

static json_t *blocks_bytes_obj(uint64_t blocks, uint64_t bytes)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, LK_KEY_REACH_BLOCKS, json_integer((json_int_t)blocks));
    json_object_set_new(o, LK_KEY_REACH_BYTES, json_integer((json_int_t)bytes));
    return o;
}

int lk_scan_build_retained(const lk_scan_block_t *b, size_t n, const lk_scan_root_t *roots,
                           size_t nroots, const lk_scan_result_t *res, json_t *o,
                           lk_scan_text_t *text)
{
    json_object_set_new(o, LK_KEY_REACH_RETAINED_COMPLETE, json_boolean(res->retained_complete));
    json_object_set_new(o, LK_KEY_REACH_RETAINED_DROPPED, json_integer((json_int_t)res->edges_dropped));
    if (!res->retained_complete || res->nret != n) return 0;
    const size_t kr = LIBLEAK_REACH_MAX_RETAINED_BY, kt = LIBLEAK_REACH_MAX_TOP_RETAINED;
    /* no more room than there are candidates: at exit each page is a fresh one */
    size_t cr = res->ndroots < kr ? res->ndroots : kr, ct = n < kt ? n : kt;
    top_ent_t *hr = lk_real_malloc((cr ? cr : 1) * sizeof *hr);
    top_ent_t *ht = lk_real_malloc((ct ? ct : 1) * sizeof *ht);
    size_t nr = 0, nt = 0, mark = text ? text->len : 0;
    json_t *by = text ? NULL : json_array(), *top = text ? NULL : json_array();
    if (!hr || !ht || (!text && (!by || !top))) goto out_fail;
    uint64_t om_n = 0, om_blocks = 0, om_bytes = 0;
    for (size_t r = 0; r < res->ndroots; r++) {
        if (!res->root_ret_blocks[r] || res->droots[r].root >= nroots) continue;
        om_n++;
        om_blocks += res->root_ret_blocks[r];
        om_bytes += res->root_ret_bytes[r];
        top_offer(hr, &nr, cr, (top_ent_t){res->root_ret_bytes[r], res->root_ret_blocks[r], (uint32_t)r});
    }
    if (nr > 1) qsort(hr, nr, sizeof *hr, cmp_top_desc);
    lk_jw_t tw, *w = &tw;
    if (text) w = lk_scan_text_open(text, LK_KEY_REACH_RETAINED_BY);
    else lk_jw_tree(w, by);
    for (size_t i = 0; i < nr; i++) {
        const lk_scan_holder_t *d = &res->droots[hr[i].idx];
        om_n--;
        om_blocks -= hr[i].blocks;
        om_bytes -= hr[i].bytes;
        lk_jw_object(w, NULL);
        write_root(w, &roots[d->root], d->addr);
        lk_jw_int(w, LK_KEY_REACH_BLOCKS, (json_int_t)hr[i].blocks);
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)hr[i].bytes);
        lk_jw_close(w);
    }
    if (text ? lk_scan_text_close(text) != 0 : lk_jw_end(w) != 0) goto out_fail;
    /* the tops of the live part of the tree: blocks no other block dominates */
    for (size_t i = 0; i < n; i++) {
        if (b[i].kind != LK_REACH_REACHABLE && b[i].kind != LK_REACH_POSSIBLE) continue;
        if (res->idom[i] < n || res->idom[i] == LK_DOMTREE_NONE || !res->ret_blocks[i]) continue;
        top_offer(ht, &nt, ct, (top_ent_t){res->ret_bytes[i], res->ret_blocks[i], (uint32_t)i});
    }
    if (nt > 1) qsort(ht, nt, sizeof *ht, cmp_top_desc);
    if (text) w = lk_scan_text_open(text, LK_KEY_REACH_TOP_RETAINED);
    else lk_jw_tree(w, top);
    for (size_t i = 0; i < nt; i++) {
        const lk_scan_block_t *x = &b[ht[i].idx];
        uint32_t id = res->idom[ht[i].idx];
        long pos = -1;
        for (size_t j = 0; id != LK_DOMTREE_SUPER && j < nr; j++)
            if (hr[j].idx == id - n) pos = (long)j;
        lk_jw_object(w, NULL);
        lk_jw_hex(w, LK_KEY_REACH_ADDRESS, x->ptr);
        lk_jw_int(w, LK_KEY_STACK, x->stack_id);
        lk_jw_str(w, LK_KEY_FAMILY, lk_scan_family_name(x->family));
        lk_jw_str(w, LK_KEY_REACH_KIND, lk_scan_kind_name(x->kind));
        lk_jw_int(w, LK_KEY_REACH_BYTES, (json_int_t)x->size);
        lk_jw_int(w, LK_KEY_REACH_RETAINED_BLOCKS, (json_int_t)ht[i].blocks);
        lk_jw_int(w, LK_KEY_REACH_RETAINED_BYTES, (json_int_t)ht[i].bytes);
        if (pos < 0) lk_jw_null(w, LK_KEY_REACH_BY);
        else lk_jw_int(w, LK_KEY_REACH_BY, pos);
        lk_jw_close(w);
    }
    if (text ? lk_scan_text_close(text) != 0 : lk_jw_end(w) != 0) goto out_fail;
    json_t *om = json_object();
    if (!om) goto out_fail;
    json_object_set_new(om, LK_KEY_REACH_COUNT, json_integer((json_int_t)om_n));
    json_object_set_new(om, LK_KEY_REACH_BLOCKS, json_integer((json_int_t)om_blocks));
    json_object_set_new(om, LK_KEY_REACH_BYTES, json_integer((json_int_t)om_bytes));
    json_object_set_new(o, LK_KEY_REACH_RETAINED_NS, json_integer((json_int_t)res->retained_ns));
    json_object_set_new(o, LK_KEY_REACH_RETAINED_SHARED,
                        blocks_bytes_obj(res->shared_blocks, res->shared_bytes));
    if (by) json_object_set_new(o, LK_KEY_REACH_RETAINED_BY, by);
    json_object_set_new(o, LK_KEY_REACH_RETAINED_BY_OMITTED, om);
    if (top) json_object_set_new(o, LK_KEY_REACH_TOP_RETAINED, top);
    json_object_set_new(o, LK_KEY_REACH_LOST_SHARED,
                        blocks_bytes_obj(res->lost_shared_blocks, res->lost_shared_bytes));
    lk_real_free(hr);
    lk_real_free(ht);
    return 0;
out_fail:
    /* out of memory here costs the retained keys only, not the section */
    json_object_set_new(o, LK_KEY_REACH_RETAINED_COMPLETE, json_false());
    if (text) {
        text->len = mark;
        text->oom = 0;
        if (text->txt) text->txt[mark] = '\0';
    }
    json_decref(by);
    json_decref(top);
    lk_real_free(hr);
    lk_real_free(ht);
    return 0;
}
