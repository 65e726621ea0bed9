/* check_scan.c - unit tests of the reachability scan (preload/scan.c).
 * The classifier runs on fake memory: a flat buffer mapped at FAKE_BASE,
 * blocks and roots given by hand, and a reader that refuses everything
 * outside the buffer.  The last cases run the real entry point in this
 * process, with test doubles for the preload's block table. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "scan.h"
#include "scan_internal.h"
#include "testhelper.h"

/* ### fake memory */

#define FAKE_BASE ((uintptr_t)0x100000)
#define FAKE_SIZE (4u << 20)
static uint8_t *fake;           /* FAKE_SIZE bytes standing for [FAKE_BASE, +FAKE_SIZE) */
static uintptr_t fake_hole_lo, fake_hole_hi;  /* an unreadable range inside */
static unsigned fake_reads;     /* batches served */
static size_t snapshot_max;     /* 0: block-by-block reads; else copy up front */

static void fake_read(lk_scan_io_t *io, size_t n, void *arg)
{
    (void)arg;
    fake_reads++;
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = io[i].addr;
        size_t got = 0;
        while (got < io[i].len) {
            uintptr_t p = a + got;
            if (p < FAKE_BASE || p >= FAKE_BASE + FAKE_SIZE) break;
            if (p >= fake_hole_lo && p < fake_hole_hi) break;
            ((uint8_t *)io[i].dst)[got] = fake[p - FAKE_BASE];
            got++;
        }
        io[i].got = got;
    }
}

static void put(uintptr_t addr, uintptr_t value)
{
    ck_assert(addr >= FAKE_BASE && addr + sizeof value <= FAKE_BASE + FAKE_SIZE);
    memcpy(fake + (addr - FAKE_BASE), &value, sizeof value);
}

static void setup(void)
{
    fake = calloc(1, FAKE_SIZE);
    ck_assert_ptr_nonnull(fake);
    fake_hole_lo = fake_hole_hi = 0;
    fake_reads = 0;
}

static void setup_snapshot(void)
{
    setup();
    snapshot_max = (size_t)1 << 30;
}

static void setup_blockwise(void)
{
    setup();
    snapshot_max = 0;
}

static void teardown(void)
{
    free(fake);
    fake = NULL;
}

/* Heap blocks live from HEAP, roots ("globals") from GLOB. */
#define HEAP (FAKE_BASE + 0x10000)
#define GLOB (FAKE_BASE + 0x1000)

static lk_scan_block_t blk(uintptr_t ptr, uint64_t size, uint32_t stack)
{
    lk_scan_block_t b;
    memset(&b, 0, sizeof b);
    b.ptr = ptr;
    b.size = size;
    b.stack_id = stack;
    return b;
}

static lk_scan_root_t global_root(uintptr_t lo, uintptr_t hi)
{
    return (lk_scan_root_t){lo, hi, LK_ROOT_GLOBAL, 0, "/fake/app", FAKE_BASE, 0};
}

/* Return the classified block at 'ptr' (blocks are sorted by classify). */
static const lk_scan_block_t *at(const lk_scan_block_t *b, size_t n, uintptr_t ptr)
{
    for (size_t i = 0; i < n; i++)
        if (b[i].ptr == ptr) return &b[i];
    ck_abort_msg("no block at 0x%lx", (unsigned long)ptr);
    return NULL;
}

static const char *kind_name(int k)
{
    static const char *const names[] = LK_REACH_KIND_NAMES;
    return names[k];
}

#define assert_kind(b, n, ptr, k)                                                       \
    do {                                                                                \
        const lk_scan_block_t *x_ = at((b), (n), (ptr));                                \
        ck_assert_msg(x_->kind == (k), "block 0x%lx: %s, expected %s",                  \
                      (unsigned long)(ptr), kind_name(x_->kind), kind_name(k));         \
    } while (0)

static void classify(lk_scan_block_t *b, size_t n, const lk_scan_root_t *r, size_t nr,
                     lk_scan_result_t *res)
{
    lk_scan_opts_t o = {fake_read, NULL, NULL, snapshot_max};
    ck_assert_int_eq(lk_scan_classify(b, n, r, nr, &o, res), 0);
    uint64_t bytes = 0, kb = 0, kblocks = 0;
    for (size_t i = 0; i < n; i++) bytes += b[i].size;
    for (int k = 0; k < 4; k++) {
        kb += res->kind_bytes[k];
        kblocks += res->kind_blocks[k];
    }
    ck_assert_uint_eq(kb, bytes);     /* per-kind bytes sum to live bytes */
    ck_assert_uint_eq(kblocks, n);
}

/* ### classification */

START_TEST(test_scan_definite)
{
    lk_scan_block_t b[] = {blk(HEAP, 64, 1), blk(HEAP + 0x100, 32, 2)};
    put(GLOB, HEAP + 0x100);            /* the second one is held */
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 64)};
    lk_scan_result_t res;
    classify(b, 2, r, 1, &res);
    assert_kind(b, 2, HEAP, LK_REACH_DEFINITE);
    assert_kind(b, 2, HEAP + 0x100, LK_REACH_REACHABLE);
    ck_assert_uint_eq(res.kind_bytes[LK_REACH_DEFINITE], 64);
    ck_assert_uint_eq(res.structures, 1);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_indirect_tree)
{
    /* root -> a, b; a -> c: the root is definite, the other three indirect,
     * all in one structure headed by the root. */
    uintptr_t root = HEAP + 0x400, a = HEAP + 0x100, bb = HEAP + 0x200, cc = HEAP;
    lk_scan_block_t b[] = {blk(root, 32, 1), blk(a, 32, 2), blk(bb, 32, 2), blk(cc, 48, 3)};
    put(root, a);
    put(root + 8, bb);
    put(a + 16, cc);
    lk_scan_result_t res;
    classify(b, 4, NULL, 0, &res);
    assert_kind(b, 4, root, LK_REACH_DEFINITE);
    assert_kind(b, 4, a, LK_REACH_INDIRECT);
    assert_kind(b, 4, bb, LK_REACH_INDIRECT);
    assert_kind(b, 4, cc, LK_REACH_INDIRECT);
    ck_assert_uint_eq(res.kind_blocks[LK_REACH_INDIRECT], 3);
    ck_assert_uint_eq(res.kind_bytes[LK_REACH_INDIRECT], 112);
    ck_assert_uint_eq(res.structures, 1);
    const lk_scan_block_t *head = at(b, 4, root);
    for (int i = 0; i < 4; i++) ck_assert_ptr_eq(&b[b[i].aux], head);
    ck_assert_uint_eq(head->flags, 0);  /* a tree: no cycle */

    json_t *j = lk_scan_build_json(b, 4, NULL, 0, &res, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *st = json_object_get(j, LK_KEY_REACH_STRUCTURES);
    ck_assert_uint_eq(json_array_size(st), 1);
    json_t *s0 = json_array_get(st, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, LK_KEY_REACH_BLOCKS)), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, LK_KEY_REACH_BYTES)), 144);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, LK_KEY_REACH_HEAD_STACK)), 1);
    ck_assert(json_is_false(json_object_get(s0, LK_KEY_REACH_CYCLE)));
    ck_assert_uint_eq(json_array_size(json_object_get(s0, LK_KEY_REACH_MEMBERS)), 3);
    json_decref(j);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_two_cycle)
{
    uintptr_t x = HEAP, y = HEAP + 0x80;
    lk_scan_block_t b[] = {blk(y, 64, 7), blk(x, 64, 7)};
    put(x, y);
    put(y + 8, x);
    lk_scan_result_t res;
    classify(b, 2, NULL, 0, &res);
    /* valgrind's order: the lower block heads the clique. */
    assert_kind(b, 2, x, LK_REACH_DEFINITE);
    assert_kind(b, 2, y, LK_REACH_INDIRECT);
    const lk_scan_block_t *h = at(b, 2, x);
    ck_assert(h->flags & LK_SCAN_F_CYCLE);
    ck_assert(h->flags & LK_SCAN_F_HEAD_CYC);

    json_t *j = lk_scan_build_json(b, 2, NULL, 0, &res, NULL);
    json_t *s0 = json_array_get(json_object_get(j, LK_KEY_REACH_STRUCTURES), 0);
    ck_assert(json_is_true(json_object_get(s0, LK_KEY_REACH_CYCLE)));
    ck_assert(json_is_true(json_object_get(s0, LK_KEY_REACH_HEAD_IN_CYCLE)));
    ck_assert_int_eq(json_integer_value(json_object_get(s0, LK_KEY_REACH_BYTES)), 128);
    json_t *m = json_object_get(s0, LK_KEY_REACH_MEMBERS);
    ck_assert_uint_eq(json_array_size(m), 1);  /* both from stack 7 */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(m, 0), LK_KEY_REACH_BLOCKS)), 2);
    json_decref(j);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_self_loop_and_tail_cycle)
{
    /* s -> s (one-block cycle); h -> p -> q -> p: the cycle is below the head. */
    uintptr_t s = HEAP, h = HEAP + 0x100, p = HEAP + 0x200, q = HEAP + 0x300;
    lk_scan_block_t b[] = {blk(s, 16, 1), blk(h, 16, 2), blk(p, 16, 3), blk(q, 16, 3)};
    put(s, s);
    put(h, p);
    put(p, q);
    put(q, p);
    lk_scan_result_t res;
    classify(b, 4, NULL, 0, &res);
    assert_kind(b, 4, s, LK_REACH_DEFINITE);
    assert_kind(b, 4, h, LK_REACH_DEFINITE);
    assert_kind(b, 4, p, LK_REACH_INDIRECT);
    assert_kind(b, 4, q, LK_REACH_INDIRECT);
    ck_assert_uint_eq(at(b, 4, s)->flags, LK_SCAN_F_CYCLE | LK_SCAN_F_HEAD_CYC);
    ck_assert_uint_eq(at(b, 4, h)->flags, LK_SCAN_F_CYCLE);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_earlier_leader_absorbed)
{
    /* a (low) is visited first and heads a clique of one; b (high) points at
     * a, so a becomes indirect in b's structure, as in valgrind. */
    uintptr_t a = HEAP, c = HEAP + 0x40, bb = HEAP + 0x100;
    lk_scan_block_t b[] = {blk(a, 32, 1), blk(c, 32, 1), blk(bb, 32, 2)};
    put(a, c);
    put(bb + 8, a);
    lk_scan_result_t res;
    classify(b, 3, NULL, 0, &res);
    assert_kind(b, 3, bb, LK_REACH_DEFINITE);
    assert_kind(b, 3, a, LK_REACH_INDIRECT);
    assert_kind(b, 3, c, LK_REACH_INDIRECT);
    ck_assert_uint_eq(res.structures, 1);
    for (int i = 0; i < 3; i++) ck_assert_uint_eq(b[i].aux, (uint32_t)(at(b, 3, bb) - b));
    ck_assert_uint_eq(at(b, 3, bb)->flags, 0);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_interior_possible)
{
    /* global -> interior of x; x -> y (start pointer): both possible, as
     * valgrind propagates "possibly lost" through start pointers. */
    uintptr_t x = HEAP, y = HEAP + 0x100;
    lk_scan_block_t b[] = {blk(x, 100, 1), blk(y, 16, 2)};
    put(GLOB + 8, x + 40);
    put(x, y);
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 16)};
    lk_scan_result_t res;
    classify(b, 2, r, 1, &res);
    assert_kind(b, 2, x, LK_REACH_POSSIBLE);
    assert_kind(b, 2, y, LK_REACH_POSSIBLE);
    ck_assert_uint_eq(res.kind_bytes[LK_REACH_POSSIBLE], 116);
    ck_assert_uint_eq(res.structures, 0);
    lk_scan_result_free(&res);

    /* One past the end is not inside: definite. */
    teardown();
    setup();
    lk_scan_block_t b2[] = {blk(x, 100, 1)};
    put(GLOB, x + 100);
    classify(b2, 1, r, 1, &res);
    assert_kind(b2, 1, x, LK_REACH_DEFINITE);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_possible_upgraded)
{
    /* The first root reaches x only through its interior, the second at its
     * start: x and what it holds end up reachable, held by the second root. */
    uintptr_t x = HEAP, y = HEAP + 0x100;
    lk_scan_block_t b[] = {blk(x, 64, 1), blk(y, 16, 2)};
    put(GLOB, x + 8);
    put(GLOB + 0x100, x);
    put(x + 24, y);
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 8), global_root(GLOB + 0x100, GLOB + 0x108)};
    lk_scan_result_t res;
    classify(b, 2, r, 2, &res);
    assert_kind(b, 2, x, LK_REACH_REACHABLE);
    assert_kind(b, 2, y, LK_REACH_REACHABLE);
    const lk_scan_block_t *yb = at(b, 2, y);
    ck_assert_uint_lt(yb->aux, res.nholders);
    ck_assert_uint_eq(res.holders[yb->aux].addr, GLOB + 0x100);
    ck_assert_uint_eq(res.holders[yb->aux].root, 1);
    lk_scan_result_free(&res);
}
END_TEST

/* The edges share the snapshot's budget: past it they are counted, the
 * kinds stay right, and the retained sizes are marked incomplete. */
START_TEST(test_scan_edges_within_budget)
{
    enum { N = 20 };
    lk_scan_block_t b[N];
    for (int i = 0; i < N; i++) {
        b[i] = blk(HEAP + (uintptr_t)i * 0x40, 32, 1);
        if (i + 1 < N) put(HEAP + (uintptr_t)i * 0x40, HEAP + (uintptr_t)(i + 1) * 0x40);
    }
    put(GLOB, HEAP);                    /* a chain of 20 from one global */
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 8)};
    snapshot_max = 8 * 16;              /* room for 8 edges of the 20 */
    lk_scan_result_t res;
    classify(b, N, r, 1, &res);
    for (int i = 0; i < N; i++) assert_kind(b, N, HEAP + (uintptr_t)i * 0x40, LK_REACH_REACHABLE);
    ck_assert_uint_eq(res.edges_dropped, N - 8);
    ck_assert_int_eq(res.retained_complete, 0);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_held_by_capped)
{
    /* 200 globals each hold one block: the dump keeps the 128 biggest
     * entries and sums the other 72 in held_by_omitted. */
    enum { N = 200, KEEP = 128 };
    lk_scan_block_t b[N];
    uint64_t om_bytes = 0;
    for (int i = 0; i < N; i++) {
        b[i] = blk(HEAP + (uintptr_t)i * 0x200, 16 + (uint64_t)i, (uint32_t)i + 1);
        put(GLOB + (uintptr_t)i * 8, HEAP + (uintptr_t)i * 0x200);
        if (i < N - KEEP) om_bytes += 16 + (uint64_t)i;
    }
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + N * 8)};
    lk_scan_result_t res;
    classify(b, N, r, 1, &res);
    json_t *j = lk_scan_build_json(b, N, r, 1, &res, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *hb = json_object_get(j, LK_KEY_REACH_HELD_BY);
    ck_assert_uint_eq(json_array_size(hb), KEEP);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(hb, 0), LK_KEY_REACH_BYTES)),
                     16 + N - 1);
    json_t *om = json_object_get(j, LK_KEY_REACH_HELD_BY_OMITTED);
    ck_assert_int_eq(json_integer_value(json_object_get(om, LK_KEY_REACH_COUNT)), N - KEEP);
    ck_assert_int_eq(json_integer_value(json_object_get(om, LK_KEY_REACH_BLOCKS)), N - KEEP);
    ck_assert_int_eq(json_integer_value(json_object_get(om, LK_KEY_REACH_BYTES)), (json_int_t)om_bytes);
    json_decref(j);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_global_held_by)
{
    /* g1 -> a -> b; the stack -> b as well: b is credited to g1, which
     * reached it first; c is held by the stack alone. */
    uintptr_t a = HEAP, bb = HEAP + 0x100, c = HEAP + 0x200;
    lk_scan_block_t b[] = {blk(a, 32, 1), blk(bb, 32, 2), blk(c, 32, 3)};
    put(GLOB + 0x18, a);
    put(a + 8, bb);
    uintptr_t stk = FAKE_BASE + 0x8000;
    put(stk, bb);
    put(stk + 8, c);
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 0x40),
                          {stk, stk + 64, LK_ROOT_STACK, 4242, NULL, 0, 0}};
    lk_scan_result_t res;
    classify(b, 3, r, 2, &res);
    for (int i = 0; i < 3; i++) ck_assert_uint_eq(b[i].kind, LK_REACH_REACHABLE);
    ck_assert_uint_eq(res.holders[at(b, 3, a)->aux].addr, GLOB + 0x18);
    ck_assert_uint_eq(res.holders[at(b, 3, bb)->aux].addr, GLOB + 0x18);
    ck_assert_uint_eq(res.holders[at(b, 3, c)->aux].root, 1);
    ck_assert_uint_eq(res.root_bytes[LK_ROOT_GLOBAL], 0x40);
    ck_assert_uint_eq(res.root_bytes[LK_ROOT_STACK], 64);

    json_t *j = lk_scan_build_json(b, 3, r, 2, &res, NULL);
    json_t *hb = json_object_get(j, LK_KEY_REACH_HELD_BY);
    ck_assert_uint_eq(json_array_size(hb), 3);  /* (g1, stack 1), (g1, stack 2), (tid, stack 3) */
    size_t i;
    json_t *e;
    int globals = 0, stacks = 0;
    json_array_foreach(hb, i, e) {
        const char *root = json_string_value(json_object_get(e, LK_KEY_REACH_ROOT));
        ck_assert_str_eq(json_string_value(json_object_get(e, LK_KEY_REACH_KIND)), "reachable");
        if (!strcmp(root, "global")) {
            globals++;
            ck_assert_str_eq(json_string_value(json_object_get(e, LK_KEY_REACH_MODULE)), "/fake/app");
            ck_assert_str_eq(json_string_value(json_object_get(e, LK_KEY_REACH_ADDRESS)), "0x101018");
            ck_assert_str_eq(json_string_value(json_object_get(e, LK_KEY_REACH_OFFSET)), "0x1018");
        } else {
            stacks++;
            ck_assert_str_eq(root, "stack");
            ck_assert_int_eq(json_integer_value(json_object_get(e, LK_KEY_REACH_TID)), 4242);
            ck_assert_int_eq(json_integer_value(json_object_get(e, LK_KEY_STACK)), 3);
        }
    }
    ck_assert_int_eq(globals, 2);
    ck_assert_int_eq(stacks, 1);
    json_t *k = json_object_get(j, LK_KEY_REACH_KINDS);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(k, "reachable"),
                                                        LK_KEY_REACH_BYTES)), 96);
    json_decref(j);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_allocator_header_ignored)
{
    /* A pointer at the next chunk's header (glibc's top/bin pointers) is not
     * a reference; one word before it is. */
    uintptr_t x = HEAP;
    lk_scan_block_t b[] = {blk(x, 24, 1)};
    b[0].hdr_off = 16;
    put(GLOB, x + 16);
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 8)};
    lk_scan_result_t res;
    classify(b, 1, r, 1, &res);
    assert_kind(b, 1, x, LK_REACH_DEFINITE);
    lk_scan_result_free(&res);

    lk_scan_block_t b2[] = {blk(x, 24, 1)};
    b2[0].hdr_off = 16;
    put(GLOB, x + 8);
    classify(b2, 1, r, 1, &res);
    assert_kind(b2, 1, x, LK_REACH_POSSIBLE);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_stack_inside_block)
{
    /* A thread stack whose pointer lies in a 4 KiB heap block: the root ends
     * with that block, so the block after it is no root and its pointer to
     * x is not seen. */
    uintptr_t stackblk = HEAP, after = HEAP + 0x1000, x = HEAP + 0x2000, y = HEAP + 0x2100;
    lk_scan_block_t b[] = {blk(stackblk, 0x1000, 1), blk(after, 64, 2), blk(x, 16, 3),
                           blk(y, 16, 4)};
    put(after, x);
    put(stackblk + 0x800, y);   /* on the user stack: y is held */
    put(GLOB, stackblk);        /* the program keeps its stack block */
    put(GLOB + 8, after);
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 16),
                          {stackblk + 0x700, FAKE_BASE + FAKE_SIZE, LK_ROOT_STACK, 9, NULL, 0, 0}};
    lk_scan_result_t res;
    classify(b, 4, r, 2, &res);
    assert_kind(b, 4, y, LK_REACH_REACHABLE);
    /* x is reachable through 'after' (held by the global), so its holder must
     * be that global word, not the stack root. */
    assert_kind(b, 4, x, LK_REACH_REACHABLE);
    ck_assert_uint_eq(res.holders[at(b, 4, y)->aux].root, 0);  /* via the global's stack block */
    ck_assert_uint_eq(res.root_bytes[LK_ROOT_STACK], 0x900);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_dtv_word)
{
    /* A thread descriptor's dtv field points 16 bytes into the DTV block:
     * a reference there, an interior pointer anywhere else. */
    uintptr_t dtv = HEAP, other = HEAP + 0x100;
    lk_scan_block_t b[] = {blk(dtv, 304, 1), blk(other, 304, 2)};
    uintptr_t tp = FAKE_BASE + 0x8000;
    put(tp + 8, dtv + 16);
    put(tp + 32, other + 16);
    lk_scan_root_t r[] = {{tp - 0x100, tp + 0x100, LK_ROOT_TLS, 7, NULL, 0, tp + 8}};
    lk_scan_result_t res;
    classify(b, 2, r, 1, &res);
    assert_kind(b, 2, dtv, LK_REACH_REACHABLE);
    assert_kind(b, 2, other, LK_REACH_POSSIBLE);
    lk_scan_result_free(&res);
}
END_TEST

static size_t fake_usable(uintptr_t ptr)
{
    (void)ptr;
    return 24;  /* as malloc_usable_size of a 24-byte request */
}

START_TEST(test_scan_usable_on_demand)
{
    /* hdr_off unknown: asked of opts.usable for a pointer near the end. */
    uintptr_t x = HEAP;
    lk_scan_block_t b[] = {blk(x, 24, 1)};
    put(GLOB, x + 16);
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 8)};
    lk_scan_opts_t o = {fake_read, NULL, fake_usable, snapshot_max};
    lk_scan_result_t res;
    ck_assert_int_eq(lk_scan_classify(b, 1, r, 1, &o, &res), 0);
    assert_kind(b, 1, x, LK_REACH_DEFINITE);
    ck_assert_uint_eq(b[0].hdr_off, 16);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_unreadable_skipped)
{
    /* A root whose middle page cannot be read: the words after the hole
     * still count, and the hole is reported. */
    uintptr_t x = HEAP, y = HEAP + 0x100;
    lk_scan_block_t b[] = {blk(x, 16, 1), blk(y, 16, 2)};
    uintptr_t lo = FAKE_BASE + 0x4000;
    fake_hole_lo = lo + 0x1000;
    fake_hole_hi = lo + 0x2000;
    put(lo + 0x1008, x);        /* inside the hole: not seen */
    put(lo + 0x2010, y);        /* after it */
    lk_scan_root_t r[] = {global_root(lo, lo + 0x3000)};
    lk_scan_result_t res;
    classify(b, 2, r, 1, &res);
    assert_kind(b, 2, x, LK_REACH_DEFINITE);
    assert_kind(b, 2, y, LK_REACH_REACHABLE);
    ck_assert_uint_eq(res.unreadable_bytes, 0x1000);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_unreadable_batched)
{
    /* The same root read in one batch with a small one: past its hole the
     * words still count, and only the hole is reported. */
    uintptr_t x = HEAP, y = HEAP + 0x100, z = HEAP + 0x200;
    lk_scan_block_t b[] = {blk(x, 16, 1), blk(y, 16, 2), blk(z, 16, 3)};
    uintptr_t lo = FAKE_BASE + 0x4000;
    fake_hole_lo = lo + 0x1000;
    fake_hole_hi = lo + 0x2000;
    put(lo + 0x1008, x);        /* inside the hole: not seen */
    put(lo + 0x2010, y);        /* after it */
    put(lo + 0x3000, z);        /* the small root */
    lk_scan_root_t r[] = {global_root(lo, lo + 0x3000), global_root(lo + 0x3000, lo + 0x3010)};
    lk_scan_result_t res;
    classify(b, 3, r, 2, &res);
    assert_kind(b, 3, x, LK_REACH_DEFINITE);
    assert_kind(b, 3, y, LK_REACH_REACHABLE);
    assert_kind(b, 3, z, LK_REACH_REACHABLE);
    ck_assert_uint_eq(res.unreadable_bytes, 0x1000);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_big_and_many_blocks)
{
    /* A block bigger than one read batch, holding pointers to 3000 small
     * blocks at its far end: all reachable, read in few batches. */
    uintptr_t big = HEAP;
    size_t bigsz = 1u << 20, nsmall = 3000;
    lk_scan_block_t *b = calloc(nsmall + 1, sizeof *b);
    b[0] = blk(big, bigsz, 1);
    for (size_t i = 0; i < nsmall; i++) {
        uintptr_t p = HEAP + bigsz + 64 * i;
        b[i + 1] = blk(p, 48, 2);
        put(big + bigsz - 8 * (i + 1), p);
        if (i + 1 < nsmall) put(p + 8, p + 64);  /* and a chain through them */
    }
    put(GLOB, big);
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 8)};
    lk_scan_result_t res;
    classify(b, nsmall + 1, r, 1, &res);
    ck_assert_uint_eq(res.kind_blocks[LK_REACH_REACHABLE], nsmall + 1);
    ck_assert_uint_lt(fake_reads, 100);
    lk_scan_result_free(&res);
    free(b);
}
END_TEST

START_TEST(test_scan_sort_many)
{
    /* 20000 blocks in shuffled order (the radix sort path), a chain through
     * all of them in address order from one global: all reachable, sorted,
     * and each block still carries its own fields. */
    size_t n = 20000;
    lk_scan_block_t *b = calloc(n, sizeof *b);
    for (size_t i = 0; i < n; i++) {
        uintptr_t p = HEAP + 64 * i;
        b[i] = blk(p, 40 + i % 8, (uint32_t)i);
        if (i + 1 < n) put(p + 8, p + 64);
    }
    srand(7);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        lk_scan_block_t t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
    put(GLOB, HEAP);
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 8)};
    lk_scan_result_t res;
    classify(b, n, r, 1, &res);
    ck_assert_uint_eq(res.kind_blocks[LK_REACH_REACHABLE], n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(b[i].ptr, HEAP + 64 * i);
        ck_assert_uint_eq(b[i].stack_id, i);
        ck_assert_uint_eq(b[i].size, 40 + i % 8);
    }
    lk_scan_result_free(&res);
    free(b);
}
END_TEST

START_TEST(test_scan_sort_small)
{
    /* A small process's few hundred blocks, shuffled: sorted by a radix
     * sort too, two passes over the keys here (qsort: n log n comparisons,
     * about 6500). */
    size_t n = 700;
    lk_scan_block_t *b = calloc(n, sizeof *b);
    for (size_t i = 0; i < n; i++) b[i] = blk(HEAP + 64 * i, 40, (uint32_t)i);
    srand(11);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        lk_scan_block_t t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + 8)};
    lk_scan_result_t res;
    classify(b, n, r, 1, &res);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(b[i].ptr, HEAP + 64 * i);
        ck_assert_uint_eq(b[i].stack_id, i);
    }
    ck_assert_msg(res.sort_ops <= 2 * n, "sorting %zu blocks took %lu operations", n,
                  (unsigned long)res.sort_ops);
    lk_scan_result_free(&res);
    free(b);
}
END_TEST

START_TEST(test_scan_text_as_tree)
{
    /* One scan's section as the dump writes it (arrays as text, the
     * retained ones included) and as a tree: the same arrays, and the same
     * rest.  300 globals hold a block each (more than the dump's 128
     * held-by entries, in an order the sort must fix), 40 lost pairs make
     * structures. */
    enum { G = 300, L = 40, N = G + 2 * L };
    lk_scan_block_t b[N];
    for (int i = 0; i < G; i++) {
        uintptr_t p = HEAP + (uintptr_t)i * 0x100;
        b[i] = blk(p, 16 + (uint64_t)((i * 37) % 50), (uint32_t)(i % 7));
        put(GLOB + (uintptr_t)i * 8, p);
    }
    for (int i = 0; i < L; i++) {
        uintptr_t h = HEAP + 0x40000 + (uintptr_t)i * 0x100, m = h + 0x80;
        b[G + 2 * i] = blk(h, 32 + (uint64_t)i % 3, 100 + (uint32_t)(i % 4));
        b[G + 2 * i + 1] = blk(m, 24, 200);
        put(h, m);
        if (i % 2) put(m, h);   /* a cycle */
    }
    lk_scan_root_t r[] = {global_root(GLOB, GLOB + G * 8)};
    lk_scan_result_t res;
    classify(b, N, r, 1, &res);
    ck_assert(res.retained_complete);
    json_t *tree = lk_scan_build_json(b, N, r, 1, &res, NULL);
    char *arrays = NULL;
    size_t alen = 0;
    json_t *head = lk_scan_build_section(b, N, r, 1, &res, NULL, &arrays, &alen);
    ck_assert_ptr_nonnull(tree);
    ck_assert_ptr_nonnull(head);
    ck_assert_ptr_nonnull(arrays);
    ck_assert_uint_eq(strlen(arrays), alen);
    char *wrapped = malloc(alen + 3);
    snprintf(wrapped, alen + 3, "{%s}", arrays);
    json_error_t jerr;
    json_t *parsed = json_loads(wrapped, 0, &jerr);
    ck_assert_msg(parsed != NULL, "arrays text does not parse: %s: %s", jerr.text, arrays);
    ck_assert_uint_eq(json_object_size(parsed), 5);
    ck_assert_uint_eq(json_array_size(json_object_get(parsed, LK_KEY_REACH_HELD_BY)), 128);
    ck_assert_uint_gt(json_array_size(json_object_get(parsed, LK_KEY_REACH_STRUCTURES)), 1);
    ck_assert_uint_gt(json_array_size(json_object_get(parsed, LK_KEY_REACH_TOP_RETAINED)), 1);
    /* the head and the text's keys together are the tree, value for value */
    json_object_update(head, parsed);
    char *want = json_dumps(tree, JSON_COMPACT | JSON_SORT_KEYS);
    char *got = json_dumps(head, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(got, want);
    free(want);
    free(got);
    json_decref(parsed);
    free(wrapped);
    lk_real_free(arrays);
    json_decref(head);
    json_decref(tree);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_structures_grouped)
{
    /* Three 2-cycles from the same sites and one single leak: two structure
     * groups, the cycles counted together. */
    lk_scan_block_t b[7];
    for (int i = 0; i < 3; i++) {
        uintptr_t p = HEAP + 0x100 * (uintptr_t)i, q = p + 0x80;
        b[2 * i] = blk(p, 40, 5);
        b[2 * i + 1] = blk(q, 40, 5);
        put(p, q);
        put(q, p);
    }
    b[6] = blk(HEAP + 0x1000, 10, 9);
    lk_scan_result_t res;
    classify(b, 7, NULL, 0, &res);
    ck_assert_uint_eq(res.structures, 4);
    json_t *j = lk_scan_build_json(b, 7, NULL, 0, &res, NULL);
    json_t *st = json_object_get(j, LK_KEY_REACH_STRUCTURES);
    ck_assert_uint_eq(json_array_size(st), 2);
    json_t *s0 = json_array_get(st, 0);  /* sorted by bytes */
    ck_assert_int_eq(json_integer_value(json_object_get(s0, LK_KEY_REACH_COUNT)), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, LK_KEY_REACH_BLOCKS)), 6);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, LK_KEY_REACH_BYTES)), 240);
    ck_assert(json_is_true(json_object_get(s0, LK_KEY_REACH_CYCLE)));
    json_t *s1 = json_array_get(st, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s1, LK_KEY_REACH_HEAD_STACK)), 9);
    ck_assert(json_is_false(json_object_get(s1, LK_KEY_REACH_CYCLE)));
    /* sites: (5, definite) 3 blocks, (5, indirect) 3 blocks, (9, definite) 1 */
    json_t *sites = json_object_get(j, LK_KEY_REACH_SITES);
    ck_assert_uint_eq(json_array_size(sites), 3);
    long long sum = 0;
    size_t i;
    json_t *e;
    json_array_foreach(sites, i, e) sum += json_integer_value(json_object_get(e, LK_KEY_REACH_BYTES));
    ck_assert_int_eq(sum, json_integer_value(json_object_get(j, LK_KEY_REACH_LIVE_BYTES)));
    json_decref(j);

    /* Limits: one structure group, the rest counted as omitted. */
    lk_scan_json_limits_t lim = {1, 1, 64};
    j = lk_scan_build_json(b, 7, NULL, 0, &res, &lim);
    ck_assert_uint_eq(json_array_size(json_object_get(j, LK_KEY_REACH_STRUCTURES)), 1);
    json_t *om = json_object_get(j, LK_KEY_REACH_STRUCTURES_OMITTED);
    ck_assert_int_eq(json_integer_value(json_object_get(om, LK_KEY_REACH_COUNT)), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(om, LK_KEY_REACH_BYTES)), 10);
    json_decref(j);
    lk_scan_result_free(&res);
}
END_TEST

START_TEST(test_scan_empty)
{
    lk_scan_result_t res;
    lk_scan_opts_t o = {fake_read, NULL, NULL, 0};
    ck_assert_int_eq(lk_scan_classify(NULL, 0, NULL, 0, &o, &res), 0);
    json_t *j = lk_scan_build_json(NULL, 0, NULL, 0, &res, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, LK_KEY_REACH_LIVE_BLOCKS)), 0);
    json_decref(j);
    lk_scan_result_free(&res);
}
END_TEST

/* ### the self reader */

START_TEST(test_scan_read_self)
{
    lk_scan_read_mode = _i & 1;  /* 0: /proc/self/mem or process_vm_readv, 1: the pipe probe */
    long pg = sysconf(_SC_PAGESIZE);
    uint8_t *m = mmap(NULL, (size_t)pg * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(m != MAP_FAILED);
    memset(m, 0xab, (size_t)pg * 3);
    ck_assert_int_eq(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
    uint8_t buf[3][8192];
    lk_scan_io_t io[3] = {
        {(uintptr_t)m, buf[0], 64, 0},                      /* readable */
        {(uintptr_t)m + (uintptr_t)pg - 16, buf[1], 64, 0}, /* runs into the hole */
        {(uintptr_t)m + 2 * (uintptr_t)pg, buf[2], 32, 0},  /* after it */
    };
    /* 2: with the scan's maps, through /proc/self/mem, which would read
     * the PROT_NONE page (it forces access) unless the maps keep it out */
    lk_scan_roots_t rb;
    memset(&rb, 0, sizeof rb);
    if (_i == 2) ck_assert_int_eq(lk_scan_roots_modules(&rb), 0);
    lk_scan_read_self(io, 3, _i == 2 ? &rb : NULL);
    if (_i == 2) {
        ck_assert_int_eq(rb.mem_state, 1);
        lk_scan_roots_free(&rb);
    }
    ck_assert_uint_eq(io[0].got, 64);
    ck_assert_uint_eq(io[1].got, 16);
    ck_assert_uint_eq(io[2].got, 32);
    ck_assert_uint_eq(buf[2][31], 0xab);
    munmap(m, (size_t)pg * 3);
}
END_TEST

/* ### the entry point in this process, with a fake block table */

/* Pointers kept scrambled, as the real table keeps them in memory the scan
 * skips: a plain copy in .bss would hold every block. */
#define TB_MASK ((uintptr_t)0xa5a5a5a5a5a5ull)
static uintptr_t tb_ptr[8];
static size_t tb_size[8];
static int tb_n;
static int tb_locked;
static void tb_lock_all(void) { tb_locked++; }
static void tb_unlock_all(void) { tb_locked--; }
static void tb_foreach(void (*cb)(uintptr_t, size_t, uint32_t, int, void *), void *arg)
{
    ck_assert_int_eq(tb_locked, 1);
    for (int i = 0; i < tb_n; i++) cb(tb_ptr[i] ^ TB_MASK, tb_size[i], (uint32_t)i, 0, arg);
}
static size_t tb_memory_ranges(uintptr_t (*ranges)[2], size_t max)
{
    (void)ranges;
    (void)max;
    return 0;
}
static size_t tb_count(void) { return (size_t)tb_n; }
static const lk_scan_table_t tb_table = {tb_lock_all, tb_unlock_all, tb_foreach, tb_memory_ranges,
                                         tb_count};

void *volatile g_scan_held;     /* a global root */
static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static int parked, release_worker;

static uintptr_t worker_block;  /* scrambled with TB_MASK */

static void *worker(void *arg)
{
    (void)arg;
    void *volatile mine = malloc(200);  /* lives on this thread's stack only */
    pthread_mutex_lock(&park_mu);
    worker_block = (uintptr_t)mine ^ TB_MASK;
    parked = 1;
    pthread_cond_broadcast(&park_cv);
    while (!release_worker) pthread_cond_wait(&park_cv, &park_mu);
    pthread_mutex_unlock(&park_mu);
    free(mine);
    return NULL;
}

/* Allocate and drop, from a frame that is gone before the scan. */
static __attribute__((noinline)) void *make_lost(size_t n)
{
    void *p = malloc(n);
    memset(p, 1, n);
    return (void *)((uintptr_t)p ^ 0x5a5a5a5a);  /* hidden from the scan */
}

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[16384];
    memset((char *)pad, 0, sizeof pad);
}

static json_t *kinds_entry(json_t *sec, uint32_t stack, const char **kind)
{
    json_t *sites = json_object_get(sec, LK_KEY_REACH_SITES), *e;
    size_t i;
    json_array_foreach(sites, i, e)
        if (json_integer_value(json_object_get(e, LK_KEY_STACK)) == stack) {
            *kind = json_string_value(json_object_get(e, LK_KEY_REACH_KIND));
            return e;
        }
    ck_abort_msg("no reachability site for stack %u", stack);
    return NULL;
}

START_TEST(test_scan_dump_section_in_process)
{
    /* block 0: held by g_scan_held; 1: on a parked thread's stack;
     * 2: lost (its only pointer is scrambled); 3: held by a pthread key
     * (thread descriptor of this thread). */
    g_scan_held = malloc(100);
    uintptr_t lost = (uintptr_t)make_lost(300) ^ 0x5a5a5a5a;
    void *for_key = malloc(400);
    pthread_key_t key;
    ck_assert_int_eq(pthread_key_create(&key, NULL), 0);
    pthread_setspecific(key, for_key);
    tb_ptr[0] = (uintptr_t)g_scan_held ^ TB_MASK;
    tb_size[0] = 100;
    tb_ptr[2] = lost ^ TB_MASK;
    tb_size[2] = 300;
    tb_ptr[3] = (uintptr_t)for_key ^ TB_MASK;
    tb_size[3] = 400;
    tb_n = 4;
    lk_scan_table = &tb_table;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, worker, NULL), 0);
    pthread_mutex_lock(&park_mu);
    while (!parked) pthread_cond_wait(&park_cv, &park_mu);
    pthread_mutex_unlock(&park_mu);
    tb_ptr[1] = worker_block;
    tb_size[1] = 200;
    for_key = NULL;
    lost = 0;
    scrub_stack();

    json_t *sec = lk_scan_dump_section();
    ck_assert_ptr_nonnull(sec);
    ck_assert_int_eq(tb_locked, 0);
    char *txt = json_dumps(sec, JSON_COMPACT);
    const char *k;
    kinds_entry(sec, 0, &k);
    ck_assert_msg(!strcmp(k, "reachable"), "global-held block is %s: %s", k, txt);
    kinds_entry(sec, 1, &k);
    ck_assert_msg(!strcmp(k, "reachable"), "thread-stack block is %s: %s", k, txt);
    kinds_entry(sec, 2, &k);
    ck_assert_msg(!strcmp(k, "definite"), "lost block is %s: %s", k, txt);
    kinds_entry(sec, 3, &k);
    ck_assert_msg(!strcmp(k, "reachable"), "pthread-key block is %s: %s", k, txt);
    ck_assert_int_ge(json_integer_value(json_object_get(sec, LK_KEY_REACH_THREADS)), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(sec, LK_KEY_REACH_THREADS_SP_UNKNOWN)), 0);

    /* Held-by: block 0 by the word g_scan_held, block 1 by the worker's stack,
     * block 3 by this thread's TLS. */
    json_t *hb = json_object_get(sec, LK_KEY_REACH_HELD_BY), *e;
    size_t i;
    int seen = 0;
    char want[32];
    snprintf(want, sizeof want, "0x%lx", (unsigned long)(uintptr_t)&g_scan_held);
    json_array_foreach(hb, i, e) {
        json_int_t st = json_integer_value(json_object_get(e, LK_KEY_STACK));
        const char *root = json_string_value(json_object_get(e, LK_KEY_REACH_ROOT));
        if (st == 0) {
            ck_assert_str_eq(root, "global");
            ck_assert_str_eq(json_string_value(json_object_get(e, LK_KEY_REACH_ADDRESS)), want);
            seen |= 1;
        } else if (st == 1) {
            ck_assert_str_eq(root, "stack");
            ck_assert_int_ne(json_integer_value(json_object_get(e, LK_KEY_REACH_TID)), getpid());
            seen |= 2;
        } else if (st == 3) {
            ck_assert_msg(!strcmp(root, "tls"), "pthread key block held by %s: %s", root, txt);
            seen |= 4;
        }
    }
    ck_assert_msg(seen == 7, "held_by incomplete (%d): %s", seen, txt);

    /* The dump's form of the same scan: the section without its arrays, and
     * them as text, each entry serialised as it was built. */
    char *arrays = NULL;
    size_t alen = 0;
    json_t *head = lk_scan_dump_section_ex(&arrays, &alen);
    ck_assert_ptr_nonnull(head);
    ck_assert_ptr_nonnull(arrays);
    ck_assert_uint_eq(strlen(arrays), alen);
    char *wrapped = malloc(alen + 3);
    ck_assert_ptr_nonnull(wrapped);
    snprintf(wrapped, alen + 3, "{%s}", arrays);
    json_error_t jerr;
    json_t *parsed = json_loads(wrapped, 0, &jerr);
    ck_assert_msg(parsed != NULL, "arrays text does not parse: %s: %s", jerr.text, arrays);
    static const char *const keys[5] = {LK_KEY_REACH_SITES, LK_KEY_REACH_STRUCTURES,
                                        LK_KEY_REACH_HELD_BY, LK_KEY_REACH_RETAINED_BY,
                                        LK_KEY_REACH_TOP_RETAINED};
    /* the retained arrays are text too, when retained sizes are complete */
    int nkeys = json_is_true(json_object_get(sec, LK_KEY_REACH_RETAINED_COMPLETE)) ? 5 : 3;
    ck_assert(json_is_true(json_object_get(head, LK_KEY_REACH_RETAINED_COMPLETE)));
    for (int a = 0; a < nkeys; a++) {
        ck_assert_ptr_null(json_object_get(head, keys[a]));
        /* the two scans' retained arrays may differ (test_scan_text_as_tree
         * compares them for one scan) */
        ck_assert_msg(a >= 3 ? json_is_array(json_object_get(parsed, keys[a]))
                             : json_equal(json_object_get(parsed, keys[a]), json_object_get(sec, keys[a])),
                      "%s differs: %s vs %s", keys[a], arrays, txt);
    }
    ck_assert_uint_eq(json_object_size(parsed), (size_t)nkeys);
    ck_assert(json_equal(json_object_get(head, LK_KEY_REACH_KINDS),
                         json_object_get(sec, LK_KEY_REACH_KINDS)));
    json_decref(parsed);
    free(wrapped);
    free(arrays);
    free(txt);
    json_decref(head);
    json_decref(sec);

    pthread_mutex_lock(&park_mu);
    release_worker = 1;
    pthread_cond_broadcast(&park_cv);
    pthread_mutex_unlock(&park_mu);
    pthread_join(th, NULL);
    /* Undo the deliberate leak, so LeakSanitizer (SANITIZER=address) agrees. */
    free((void *)(tb_ptr[2] ^ TB_MASK));
    free(pthread_getspecific(key));
    pthread_key_delete(key);
    free(g_scan_held);
}
END_TEST

/* ### this thread's stack root starts at its entry into libleak */

static uintptr_t range_lo;
static uintptr_t lib_local_at;
static json_t *entry_sec;

/* Stands for libleak's exit path: an entry, then a frame of libleak's own
 * holding a block pointer (stack id 1) that no program frame holds. */
static __attribute__((noinline)) void lib_entry(int scan)
{
    LK_ENTRY;
    void *volatile lib_local = scan ? (void *)(tb_ptr[1] ^ TB_MASK) : NULL;
    lib_local_at = (uintptr_t)&lib_local;
    range_lo = lk_scan_self_stack_lo((uintptr_t)__builtin_frame_address(0));
    if (scan) entry_sec = lk_scan_dump_section();
    lib_local = NULL;
}

START_TEST(test_scan_self_range_from_entry)
{
    /* block 0: held by a local of the program's frame (reachable); block 1:
     * only by a local of libleak's frame (definite). */
    void *volatile caller_local = malloc(100);
    tb_ptr[0] = (uintptr_t)caller_local ^ TB_MASK;
    tb_size[0] = 100;
    tb_ptr[1] = (uintptr_t)malloc(300) ^ TB_MASK;
    tb_size[1] = 300;
    tb_n = 2;
    lk_scan_table = &tb_table;

    lib_entry(0);
    ck_assert_uint_gt(range_lo, lib_local_at);              /* excludes libleak's frame */
    ck_assert_uint_le(range_lo, (uintptr_t)&caller_local);  /* includes the caller's */
    ck_assert_uint_eq(lk_tls_entry.sp, 0);                  /* left at return */
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    ck_assert_uint_eq(lk_scan_self_stack_lo(here), here - 128);

    scrub_stack();
    lib_entry(1);
    ck_assert_ptr_nonnull(entry_sec);
    char *txt = json_dumps(entry_sec, JSON_COMPACT);
    const char *k;
    kinds_entry(entry_sec, 0, &k);
    ck_assert_msg(!strcmp(k, "reachable"), "caller's block is %s: %s", k, txt);
    kinds_entry(entry_sec, 1, &k);
    ck_assert_msg(!strcmp(k, "definite"), "block in libleak's frame is %s: %s", k, txt);
    free(txt);
    json_decref(entry_sec);
    free(caller_local);
    free((void *)(tb_ptr[1] ^ TB_MASK));
}
END_TEST

/* ### an exit through libc: the bound is the first program frame above */

static uintptr_t outer_sp, outer_regs[6], outer_probe_at, outer_target_at;
static int outer_rc;

/* Stands for ld.so's and libc's exit frames: refuse none, so the first
 * frame above the probe's ('above') is the one found. */
static bool outer_skip_none(uintptr_t pc, void *arg)
{
    (void)pc;
    (void)arg;
    return false;
}

static __attribute__((noinline)) void outer_probe(void)
{
    outer_probe_at = (uintptr_t)__builtin_frame_address(0);
    outer_rc = lk_stack_outer_frame(outer_skip_none, NULL, outer_probe_at, &outer_sp, outer_regs);
    __asm__ volatile("" : : : "memory");
}

#define OUTER_MARK ((uintptr_t)0x5eed1234abcdUL)

/* The program's frame: a mark in a callee-saved register across the call. */
static __attribute__((noinline)) void outer_target(void)
{
    outer_target_at = (uintptr_t)__builtin_frame_address(0);
#if defined(__x86_64__)
    register uintptr_t mark __asm__("rbx") = OUTER_MARK;
    __asm__ volatile("" : "+r"(mark));
    outer_probe();
    __asm__ volatile("" : : "r"(mark));
#else
    outer_probe();
#endif
}

START_TEST(test_scan_outer_frame)
{
    outer_target();
    ck_assert_int_eq(outer_rc, 1);
    ck_assert_uint_gt(outer_sp, outer_probe_at);    /* above the probe's frame */
    ck_assert_uint_le(outer_sp, outer_target_at);   /* the target's own */
#if defined(__x86_64__)
    ck_assert_uint_eq(outer_regs[0], OUTER_MARK);   /* rbx as the target sees it */
    ck_assert_uint_eq(outer_regs[1], outer_target_at);  /* its frame pointer */
#endif
}
END_TEST

static int entry_outer_rc;
static uintptr_t entry_outer_lo, entry_outer_sp;

static __attribute__((noinline)) void outer_entry(int outer)
{
    LK_ENTRY;
    lk_tls_entry.outer = outer;
    entry_outer_sp = lk_tls_entry.sp;
    uintptr_t regs[6];
    entry_outer_lo = 42;
    entry_outer_rc = lk_scan_entry_outer(&entry_outer_lo, regs);
}

START_TEST(test_scan_entry_outer_bound)
{
    /* No entry, or one without libc's exit under it: nothing moves. */
    uintptr_t lo = 42, regs[6];
    ck_assert_int_eq(lk_scan_entry_outer(&lo, regs), 0);
    outer_entry(0);
    ck_assert_int_eq(entry_outer_rc, 0);
    ck_assert_uint_eq(entry_outer_lo, 42);
    /* Here this test program stands for libleak.so, so the frame found (if
     * any: libcheck's, when it is shared) lies above the entry; without one
     * the walk fails and the bound stays. */
    outer_entry(1);
    ck_assert_msg((entry_outer_rc == 1 && entry_outer_lo > entry_outer_sp) ||
                      (entry_outer_rc == -1 && entry_outer_lo == 42),
                  "rc %d lo %#lx entry %#lx", entry_outer_rc, (unsigned long)entry_outer_lo,
                  (unsigned long)entry_outer_sp);
    ck_assert_uint_eq(lk_tls_entry.sp, 0);
    ck_assert_int_eq(lk_tls_entry.outer, 0);
}
END_TEST

static Suite *scan_suite(void)
{
    Suite *s = suite_create("scan");
    /* Every classification case runs twice: blocks read one batch at a time,
     * and all blocks copied up front (the preload's default). */
    for (int snap = 0; snap < 2; snap++) {
    TCase *tc = tcase_create(snap ? "classify_snapshot" : "classify");
    tcase_add_checked_fixture(tc, snap ? setup_snapshot : setup_blockwise, teardown);
    tcase_add_test(tc, test_scan_definite);
    tcase_add_test(tc, test_scan_indirect_tree);
    tcase_add_test(tc, test_scan_two_cycle);
    tcase_add_test(tc, test_scan_self_loop_and_tail_cycle);
    tcase_add_test(tc, test_scan_earlier_leader_absorbed);
    tcase_add_test(tc, test_scan_interior_possible);
    tcase_add_test(tc, test_scan_possible_upgraded);
    tcase_add_test(tc, test_scan_global_held_by);
    tcase_add_test(tc, test_scan_held_by_capped);
    tcase_add_test(tc, test_scan_edges_within_budget);
    tcase_add_test(tc, test_scan_allocator_header_ignored);
    tcase_add_test(tc, test_scan_dtv_word);
    tcase_add_test(tc, test_scan_stack_inside_block);
    tcase_add_test(tc, test_scan_unreadable_skipped);
    tcase_add_test(tc, test_scan_unreadable_batched);
    tcase_add_test(tc, test_scan_big_and_many_blocks);
    tcase_add_test(tc, test_scan_sort_many);
    tcase_add_test(tc, test_scan_sort_small);
    tcase_add_test(tc, test_scan_text_as_tree);
    tcase_add_test(tc, test_scan_structures_grouped);
    tcase_add_test(tc, test_scan_empty);
    tcase_add_test(tc, test_scan_usable_on_demand);
    suite_add_tcase(s, tc);
    }
    TCase *tp = tcase_create("process");
    tcase_set_timeout(tp, 30);
    tcase_add_loop_test(tp, test_scan_read_self, 0, 3);
    tcase_add_test(tp, test_scan_dump_section_in_process);
    tcase_add_test(tp, test_scan_self_range_from_entry);
    tcase_add_test(tp, test_scan_outer_frame);
    tcase_add_test(tp, test_scan_entry_outer_bound);
    suite_add_tcase(s, tp);
    return s;
}

LK_TEST_MAIN(scan_suite)
