/* unwinder.c - libunwind loaded late, and libgcc's unwinder for the walks
 * that must not wait for it.  Most programs never need libunwind: the fast
 * walk reads every frame rule from the CFI (cfi.c), and loading libunwind and
 * liblzma at start cost each process about 0.7 ms and 10 page faults.  So a
 * hook that needs it (a pc whose rule the CFI declines) asks and walks with
 * libgcc's unwinder meanwhile; the dumper thread, which holds no lock and is
 * never inside ld.so, loads it; later captures learn with it.
 * preload/README.md "libunwind, loaded late" has the reasoning. */
#include <dlfcn.h>
#include <string.h>
#include <unwind.h>

#include "internal.h"
#include "unwinder.h"

#define LK_STR2(x) #x
#define LK_STR(x) LK_STR2(x)

/* The library's soname (libunwind 1.x). */
#define LIBUNWIND_SONAME "libunwind.so.8"

const lk_unw_t *lk_unw_loaded;          /* atomic: NULL until every pointer is set */
static lk_unw_t unw_fns;                /* written once, before lk_unw_loaded */
static int unw_state;                   /* atomic: 0 never asked, 1 asked, 2 loaded, 3 failed,
                                         * 4 loading */
static uint64_t gcc_walks;              /* atomic: lk_unwind_gcc_backtrace's */
void (*lk_unwind_wake)(void);           /* atomic */

bool lk_unwind_load(void)
{
    /* state 4 (loading) is the lock: a mutex held across dlopen would be
     * inherited held by a child forked meanwhile */
    int st = __atomic_load_n(&unw_state, __ATOMIC_ACQUIRE);
    do {
        if (st == 2)
            return true;
        if (st >= 3)
            return false;
    } while (!__atomic_compare_exchange_n(&unw_state, &st, 4, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    void *h = dlopen(LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    bool ok = h != NULL;
    if (ok) {
        struct { void **slot; const char *name; } sym[] = {
            { (void **)&unw_fns.getcontext, LK_STR(unw_tdep_getcontext) },
            { (void **)&unw_fns.init_local, LK_STR(unw_init_local) },
            { (void **)&unw_fns.step, LK_STR(unw_step) },
            { (void **)&unw_fns.get_reg, LK_STR(unw_get_reg) },
            { (void **)&unw_fns.get_save_loc, LK_STR(unw_get_save_loc) },
            { (void **)&unw_fns.is_signal_frame, LK_STR(unw_is_signal_frame) },
            { (void **)&unw_fns.get_proc_info, LK_STR(unw_get_proc_info) },
            { (void **)&unw_fns.backtrace, "unw_backtrace" },
        };
        for (size_t i = 0; i < sizeof sym / sizeof sym[0] && ok; i++) {
            *sym[i].slot = dlsym(h, sym[i].name);
            if (!*sym[i].slot) {
                lk_log("%s has no %s; stacks that need it are cut", LIBUNWIND_SONAME, sym[i].name);
                ok = false;
            }
        }
    } else {
        const char *e = dlerror();
        lk_log("cannot load %s (%s); stacks that need it are cut", LIBUNWIND_SONAME,
               e ? e : "unknown error");
    }
    if (ok)
        __atomic_store_n(&lk_unw_loaded, &unw_fns, __ATOMIC_RELEASE);
    __atomic_store_n(&unw_state, ok ? 2 : 3, __ATOMIC_RELEASE);
    return ok;
}

const lk_unw_t *lk_unw_or_ask(void)
{
    const lk_unw_t *u = lk_unw();
    if (lk_likely(u != NULL))
        return u;
    int never = 0;
    if (__atomic_compare_exchange_n(&unw_state, &never, 1, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED)) {
        void (*wake)(void) = __atomic_load_n(&lk_unwind_wake, __ATOMIC_ACQUIRE);
        if (wake)
            wake();
    }
    return NULL;
}

bool lk_unwind_wanted(void)
{
    return __atomic_load_n(&unw_state, __ATOMIC_ACQUIRE) == 1;
}

uint64_t lk_unwind_gcc_count(void)
{
    return __atomic_load_n(&gcc_walks, __ATOMIC_RELAXED);
}

/* ### unw_backtrace's stand-in.  libgcc finds each FDE with _dl_find_object
 * (lock-free) and allocates nothing; it parses the CIE and FDE of every frame
 * every time (no cache: libunwind's learning makes the next ones fast). */
typedef struct gcc_bt {
    void **buf;
    int size, n;
} gcc_bt_t;

static _Unwind_Reason_Code gcc_bt_step(struct _Unwind_Context *ctx, void *a)
{
    gcc_bt_t *b = a;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(ctx);
    if (ip == 0 || b->n >= b->size)
        return _URC_END_OF_STACK;
    b->buf[b->n++] = (void *)ip;
    return _URC_NO_REASON;
}

int lk_unwind_gcc_backtrace(void **buf, int size)
{
    __atomic_fetch_add(&gcc_walks, 1, __ATOMIC_RELAXED);
    gcc_bt_t b = {buf, size, 0};
    _Unwind_Backtrace(gcc_bt_step, &b);
    return b.n;
}

#if defined(LK_TESTING)
/* The unit tests link the core without a dumper thread, and compare the fast
 * walk with libunwind's from their first capture. */
__attribute__((constructor)) static void unwinder_test_load(void)
{
    lk_unwind_load();
}
#endif

/* ### the exit scan's outer frame, with libgcc's unwinder */
#define OUTER_MAX 64            /* frames between an exit dump and the program's */

typedef struct outer_walk {
    bool (*skip)(uintptr_t pc, void *arg);
    void *arg;
    uintptr_t above, sp;
    uintptr_t regs[6];
    int n, rc;
} outer_walk_t;

static _Unwind_Reason_Code outer_step(struct _Unwind_Context *ctx, void *a)
{
    outer_walk_t *w = a;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(ctx);
    /* libgcc's "CFA" of a frame's context is its callee's CFA: the frame's
     * own sp at its call */
    uintptr_t sp = (uintptr_t)_Unwind_GetCFA(ctx);
    if (w->n++ == 0)
        return _URC_NO_REASON;              /* _Unwind_Backtrace's own */
    if (w->n > OUTER_MAX) {
        w->rc = -1;
        return _URC_END_OF_STACK;
    }
    if (ip == 0) {
        w->rc = 0;
        return _URC_END_OF_STACK;
    }
    if (sp <= w->above || w->skip(ip, w->arg))
        return _URC_NO_REASON;
    /* DWARF numbers of rbx, rbp, r12-r15 */
    static const int dw[6] = {3, 6, 12, 13, 14, 15};
    for (int k = 0; k < 6; k++)
        w->regs[k] = (uintptr_t)_Unwind_GetGR(ctx, dw[k]);
    w->sp = sp;
    w->rc = 1;
    return _URC_END_OF_STACK;
}

__attribute__((noinline)) int lk_unwind_outer_frame(bool (*skip)(uintptr_t pc, void *arg),
                                                    void *arg, uintptr_t above, uintptr_t *sp,
                                                    uintptr_t regs[6])
{
    outer_walk_t w;
    memset(&w, 0, sizeof w);
    w.skip = skip;
    w.arg = arg;
    w.above = above;
    w.rc = -2;
    _Unwind_Reason_Code r = _Unwind_Backtrace(outer_step, &w);
    if (w.rc == -2)
        return r == _URC_END_OF_STACK ? 0 : -1;
    if (w.rc == 1) {
        *sp = w.sp;
        memcpy(regs, w.regs, sizeof w.regs);
    }
    return w.rc;
}

/* ### the crash stack, with libgcc's unwinder (no lock: its FDE search is
 * _dl_find_object) */
#define SIGNAL_SKIP_MAX 32      /* frames between the handler and the signal frame */

typedef struct sig_walk {
    uintptr_t pc0, *pc;
    bool (*skip)(uintptr_t pc);
    uint32_t max, depth, seen;
    bool started, truncated;
} sig_walk_t;

static _Unwind_Reason_Code sig_step(struct _Unwind_Context *ctx, void *a)
{
    sig_walk_t *w = a;
    int before = 0;
    uintptr_t ip = (uintptr_t)_Unwind_GetIPInfo(ctx, &before);
    if (!w->started) {
        /* the frame the signal interrupted: its exact pc, marked so */
        if (!(before && ip == w->pc0))
            return ++w->seen > SIGNAL_SKIP_MAX ? _URC_END_OF_STACK : _URC_NO_REASON;
        w->started = true;
    }
    if (ip == 0)
        return _URC_END_OF_STACK;
    if (w->skip(ip))
        return _URC_NO_REASON;
    if (w->depth == w->max) {
        w->truncated = true;
        return _URC_END_OF_STACK;
    }
    w->pc[w->depth++] = ip;
    return _URC_NO_REASON;
}

uint32_t lk_unwind_signal_stack(const ucontext_t *uc, bool (*skip)(uintptr_t pc), uintptr_t *pc,
                                uint32_t max, bool *truncated)
{
    sig_walk_t w;
    memset(&w, 0, sizeof w);
    w.pc0 = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    w.pc = pc;
    w.skip = skip;
    w.max = max;
    if (w.pc0 != 0)
        _Unwind_Backtrace(sig_step, &w);
    *truncated = w.truncated;
    return w.depth;
}
