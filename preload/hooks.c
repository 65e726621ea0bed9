/* hooks.c - the symbols libleak.so interposes, and the dlsym bootstrap.
 * Each hook: bootstrap check, real call, one tracker call.  Nothing here locks,
 * formats or does I/O; the slow work lives in tracker.c and dump.c.  While the
 * thread's guard is set (libleak's own work, libunwind, jansson) every hook
 * passes straight through and counts nothing. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "unwinder.h"
#include "libleak.h"

#define EXPORT __attribute__((visibility("default")))

/* ### real functions, resolved with dlsym(RTLD_NEXT) */
static struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
    void (*exit_)(int);
    void (*Exit_)(int);
    int (*sigprocmask)(int, const sigset_t *, sigset_t *);
    /* libstdc++'s operators: only for the new_handler / bad_alloc path */
    void *(*op_new[2][2])(size_t, ...);     /* [array][nothrow], unaligned */
    void *(*op_new_al[2][2])(size_t, size_t, ...);
} real;

enum { BOOT_NONE, BOOT_RUNNING, BOOT_DONE };
enum { TRACK_OFF, TRACK_STARTING, TRACK_ON, TRACK_DISABLED };
static int boot_state;              /* BOOT_*, atomic */
/* Set once tracking runs with LIBLEAK_SAMPLE_BYTES: then free() of a pointer
 * whose table shard is empty (almost every unsampled block) is the real free
 * and nothing else. */
static bool free_fast;
/* Set once tracking runs in exact mode (no sampling; never cleared: tracking
 * never stops): then free() of a tracked block takes free_exact. */
static bool exact_on;
static int track_state;             /* TRACK_*, atomic */

/* ### bootstrap arena: serves dlsym's own calloc/malloc before 'real' is set.
 * Blocks carry a 16-byte size header; frees into the arena are ignored. */
#define ARENA_BYTES (64 * 1024)
static char arena[ARENA_BYTES] __attribute__((aligned(16)));
static lk_bump_t arena_bump = { arena, ARENA_BYTES, 0 };

static inline bool in_arena(const void *p)
{
    return (const char *)p >= arena && (const char *)p < arena + ARENA_BYTES;
}

static void *arena_alloc(size_t n, size_t align)
{
    void *p = lk_bump_alloc(&arena_bump, n, align);    /* zeroed static memory: calloc for free */
    if (!p) {
        static const char msg[] = "libleak: bootstrap arena exhausted\n";
        (void)!write(2, msg, sizeof msg - 1);
        errno = ENOMEM;
    }
    return p;
}

/* ### init */
#define RESOLVE(field, name) real.field = (__typeof__(real.field))dlsym(RTLD_NEXT, name)

static void resolve_cxx(void)
{
    static const char *const names[2][2] = { { "_Znwm", "_ZnwmRKSt9nothrow_t" },
                                             { "_Znam", "_ZnamRKSt9nothrow_t" } };
    static const char *const names_al[2][2] = {
        { "_ZnwmSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t" },
        { "_ZnamSt11align_val_t", "_ZnamSt11align_val_tRKSt9nothrow_t" } };
    for (int a = 0; a < 2; a++)
        for (int t = 0; t < 2; t++) {
            RESOLVE(op_new[a][t], names[a][t]);
            RESOLVE(op_new_al[a][t], names_al[a][t]);
        }
}

/* Resolve the real functions once.  A thread that arrives while another is
 * resolving (or dlsym's own allocations) is served by the arena. */
static void hooks_boot(void)
{
    int expected = BOOT_NONE;
    if (!__atomic_compare_exchange_n(&boot_state, &expected, BOOT_RUNNING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    RESOLVE(malloc, "malloc");
    RESOLVE(free, "free");
    RESOLVE(calloc, "calloc");
    RESOLVE(realloc, "realloc");
    RESOLVE(reallocarray, "reallocarray");
    RESOLVE(posix_memalign, "posix_memalign");
    RESOLVE(aligned_alloc, "aligned_alloc");
    RESOLVE(memalign, "memalign");
    RESOLVE(valloc, "valloc");
    RESOLVE(pvalloc, "pvalloc");
    RESOLVE(malloc_usable_size, "malloc_usable_size");
    RESOLVE(exit_, "_exit");
    RESOLVE(Exit_, "_Exit");
    RESOLVE(sigprocmask, "sigprocmask");
    resolve_cxx();
    lk_real.malloc = real.malloc;
    lk_real.free = real.free;
    lk_real.calloc = real.calloc;
    lk_real.realloc = real.realloc;
    lk_real.usable = real.malloc_usable_size;
    __atomic_store_n(&boot_state, BOOT_DONE, __ATOMIC_RELEASE);
}

static inline bool booted(void)
{
    if (lk_likely(__atomic_load_n(&boot_state, __ATOMIC_ACQUIRE) == BOOT_DONE))
        return true;
    hooks_boot();
    return __atomic_load_n(&boot_state, __ATOMIC_ACQUIRE) == BOOT_DONE;
}

/* dl_iterate_phdr callback: the PT_LOAD extent of the object holding 'arg'. */
static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t *r = arg, lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (s < lo)
            lo = s;
        if (s + ph->p_memsz > hi)
            hi = s + ph->p_memsz;
    }
    if (r[0] >= lo && r[0] < hi) {
        r[1] = lo;
        r[2] = hi;
        return 1;
    }
    return 0;
}

extern char **environ;

/* ### LIBLEAK_* before libc is initialised
 * A .preinit_array function runs before libc's own initialiser has set
 * environ, so getenv() sees nothing yet.  Then the options come from
 * /proc/self/environ: the LIBLEAK_* entries are copied (read(2), no
 * allocation) into a static buffer and looked up there. */
static char early_env[4096];        /* "NAME=value\0..." of LIBLEAK_* entries */
static size_t early_env_len;

static void early_env_load(void)
{
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096], entry[512];
    size_t elen = 0;
    bool overflow = false;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\0') {
                if (elen < sizeof entry - 1)
                    entry[elen++] = buf[i];
                else
                    overflow = true;
                continue;
            }
            if (!overflow && elen > 8 && memcmp(entry, "LIBLEAK_", 8) == 0 &&
                early_env_len + elen + 1 <= sizeof early_env) {
                memcpy(early_env + early_env_len, entry, elen);
                early_env_len += elen;
                early_env[early_env_len++] = '\0';
            }
            elen = 0;
            overflow = false;
        }
    }
    close(fd);
}

static const char *early_getenv(const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < early_env_len; i += strlen(early_env + i) + 1)
        if (strncmp(early_env + i, name, nl) == 0 && early_env[i + nl] == '=')
            return early_env + i + nl + 1;
    return NULL;
}

/* Warn about each LIBLEAK_* entry of the environment that names no setting. */
static void check_setting_names(void)
{
    if (environ) {
        for (char **e = environ; *e; e++)
            lk_config_check_name(*e);
        return;
    }
    for (size_t i = 0; i < early_env_len; i += strlen(early_env + i) + 1)
        lk_config_check_name(early_env + i);
}

/* The constructor's argc and argv while it runs (NULL when tracking starts
 * from a hook first, before it: then /proc/self/cmdline is read). */
static int ctor_argc;
static char **ctor_argv;

/* Start tracking: config, tables, limits, fork handlers.  Lazy: runs from the
 * first hook (a constructor of another library, or a .preinit_array function,
 * may allocate before ours runs), or from our constructor.  Guard held. */
static bool tracking_start(void)
{
    int expected = TRACK_OFF;
    if (!booted() ||
        !__atomic_compare_exchange_n(&track_state, &expected, TRACK_STARTING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return __atomic_load_n(&track_state, __ATOMIC_ACQUIRE) == TRACK_ON;
    LK_GUARD;
    lk_log_start();
    if (environ == NULL) {
        early_env_load();
        lk_config_load(early_getenv);
    } else {
        lk_config_load(NULL);
    }
    check_setting_names();
    lk_config_resolve_dir();
    lk_config_check_dir();
    lk_config_save_cmdline(ctor_argc, ctor_argv);
    uintptr_t r[3] = { (uintptr_t)&tracking_start, 0, 0 };
    dl_iterate_phdr(find_self, r);
    lk_stack_set_self_range(r[1], r[2]);
    lk_limits_load();
    lk_json_init();             /* libleak's own JSON values (json.c) */
    lk_tracker_init();
    lk_heap_install_atfork();
    lk_trigger_start_tracking();
    __atomic_store_n(&track_state, TRACK_ON, __ATOMIC_RELEASE);
    if (lk_config.sample_bytes != 0)
        __atomic_store_n(&free_fast, true, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&exact_on, true, __ATOMIC_RELEASE);
    return true;
}

/* Should this call be recorded?  Not while the guard is set (libleak's own
 * allocations), nor before tracking started. */
static inline bool tracking(void)
{
    if (lk_unlikely(lk_tls_guard))
        return false;
    if (lk_likely(__atomic_load_n(&track_state, __ATOMIC_RELAXED) == TRACK_ON))
        return true;
    return tracking_start();
}

/* glibc calls a library's constructors with the program's argc, argv and
 * envp: the command line is copied from there when tracking starts here.
 * An .init_array entry of its own, not a constructor attribute: LTO merges
 * those into one function that passes no arguments. */
static void hooks_ctor(int argc, char **argv, char **envp)
{
    (void)envp;
    ctor_argc = argc;
    ctor_argv = argv;
    booted();
    if (tracking_start()) {
        /* every capture takes libunwind then: load it here, where ld.so
         * holds no lock of ours, not late from the dumper thread */
        if (!lk_config.fast_unwind) {
            LK_GUARD;
            lk_unwind_load();
        }
        lk_trigger_start_thread();
    }
    ctor_argv = NULL;
}
__attribute__((section(".init_array"), used)) static void (*const hooks_ctor_entry)(
    int, char **, char **) = hooks_ctor;

/* ### recording helpers (noinline: keep the hooks small).  after_alloc and
 * free_hook are flattened: everything they call from the capture, tracker and
 * table is inlined (LTO), which spares the calls and their register spills on
 * every allocation and free (the performance log in preload/README.md has the
 * cost).  noinline callees (the memo miss path, the capture of a mismatched
 * free) stay calls. */
static const char *const fam_fn[3] = { "malloc", "new", "new[]" };

/* A failed or implausible request, with its stack.  errno kept:
 * malloc_exact does not save it. */
static __attribute__((noinline)) void record_failure(int kind, const char *fn, size_t size,
                                                     lk_frames_t *f)
{
    int saved_errno = errno;
    lk_frames_materialize(f);
    lk_track_failure(kind, fn, size, f);
    errno = saved_errno;
}

/* record_alloc after the capture: 'f' holds the caller's stack.  Keeps errno,
 * as the capture does: every path that can set it (a failure record, a new
 * site, a thread's first deltas, a table resize, waking the dumper) saves it
 * out of line, so that the common path need not. */
static inline __attribute__((always_inline)) void record_captured(void *p, size_t size, int family,
                                                                  const char *fn, lk_frames_t *f)
{
    if (!p) {
        record_failure(LK_FAIL_ENOMEM, fn, size, f);
        return;
    }
    if (lk_unlikely(lk_limits.effective && size > lk_limits.effective))
        record_failure(LK_FAIL_IMPLAUSIBLE, fn, size, f);
    lk_track_alloc(p, size, family, f);
}

/* Record the outcome of an allocation call: 'p' of 'size' requested bytes, or
 * a failure when p is NULL and 'err' is ENOMEM.  Guard held by the caller. */
static inline __attribute__((always_inline)) void record_alloc(void *p, size_t size, int family,
                                                               const char *fn, int err)
{
    lk_frames_t f;
    if (!p && err != ENOMEM)
        return;                     /* EINVAL and the like: not an allocation */
    if (p)
        lk_table_prefetch((uintptr_t)p);    /* the slot's miss overlaps the capture */
    lk_stack_capture_lazy(&f);
    record_captured(p, size, family, fn, &f);
}

static __attribute__((noinline, flatten)) void after_alloc(void *p, size_t size, int family,
                                                           const char *fn, int err)
{
    record_alloc(p, size, family, fn, err);
}

static __attribute__((noinline)) void mul_overflow(const char *fn)
{
    lk_frames_t f;
    lk_stack_capture(&f);
    lk_track_failure(LK_FAIL_MUL_OVERFLOW, fn, INT64_MAX, &f);
}

/* Untrack 'p' (freed by 'family''s deallocator), preserving errno. */
static inline void before_free(void *p, int family)
{
    LK_GUARD;
    int *ep = lk_errno_ptr(), e = *ep;
    lk_track_free(p, family);
    *ep = e;
}

/* A hook body for the malloc-like functions: CALL is the real call, 'align'
 * the alignment it guarantees.  While sampling, an allocation the countdown
 * skips runs as if untracked (no guard: the real allocator never calls back
 * into the hooks) and is only recorded if it failed.  The exit dump's own
 * calls (guard set) may be served by the exit arena (tracker.c). */
#define ALLOC_HOOK(size, align, family, fn, CALL)                            \
    do {                                                                    \
        if (!tracking()) {                                                  \
            if (lk_unlikely(lk_tls_exit_arena))                             \
                return lk_exit_arena_alloc(size, align);                    \
            if (lk_unlikely(lk_tls_heap))                                   \
                return lk_heap_alloc(size, align);                          \
            return LK_REAL(CALL);                                           \
        }                                                                   \
        if (lk_sample_skip(size)) {     /* untracked: no guard, no errno */ \
            void *q_ = LK_REAL(CALL);                                       \
            if (lk_likely(q_ != NULL))                                      \
                return q_;                                                  \
            int qe_ = errno;            /* a failure is recorded anyway */  \
            {                                                               \
                LK_GUARD;                                                   \
                after_alloc(NULL, size, family, fn, qe_);                   \
            }                                                               \
            errno = qe_;                                                    \
            return NULL;                                                    \
        }                                                                   \
        LK_GUARD;                                                           \
        void *p_ = LK_REAL(CALL);                                           \
        int *ep_ = lk_errno_ptr(), e_ = *ep_;                               \
        after_alloc(p_, size, family, fn, e_);                              \
        *ep_ = e_;                                                          \
        return p_;                                                          \
    } while (0)

/* ### the C allocator */
static __attribute__((noinline)) void *malloc_hook(size_t n)
{
    if (lk_unlikely(!booted()))
        return arena_alloc(n, 16);
    ALLOC_HOOK(n, 16, LK_FAMILY_MALLOC, "malloc", real.malloc(n));
}

/* ### sigprocmask: libunwind's calls inside libleak's unwinds are virtual
 * (stack.c, lk_stack_sigmask: two system calls a step saved); every other
 * call is the real one.  Before boot resolved it, pthread_sigmask, which is
 * what glibc's sigprocmask calls. */
EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    int rc = lk_stack_sigmask(how, set, old);
    if (lk_likely(rc > 0)) {
        int (*fn)(int, const sigset_t *, sigset_t *) =
            __atomic_load_n(&real.sigprocmask, __ATOMIC_ACQUIRE);
        if (fn)
            return fn(how, set, old);
        rc = pthread_sigmask(how, set, old);
        if (rc == 0)
            return 0;
    } else if (rc == 0) {
        return 0;
    } else {
        rc = EINVAL;
    }
    errno = rc;
    return -1;
}

/* ### unshare and setns: the calls that need a single-threaded process stop
 * the dumper thread for their length (trigger.c). */
EXPORT int unshare(int flags)
{
    return lk_trigger_ns_call(SYS_unshare, flags, 0,
                              (flags & (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)) != 0);
}

EXPORT int setns(int fd, int nstype)
{
    return lk_trigger_ns_call(SYS_setns, fd, nstype,
                              nstype == 0 || (nstype & (CLONE_NEWUSER | CLONE_NEWNS)) != 0);
}

/* ### sigaction and signal: the program sees its own dispositions of the
 * signals libleak handles (signals.c); all others go straight through.
 * glibc's signal() calls its internal sigaction, never this one, hence both.
 * sigset() is not interposed: it replaces libleak's handler (which then warns). */
EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return lk_signals_sigaction(sig, act, old);
}

int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
sighandler_t bsd_signal(int sig, sighandler_t h);

EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return lk_signals_sigaction(sig, act, old);
}

EXPORT sighandler_t signal(int sig, sighandler_t h)
{
    return lk_signals_signal(sig, h, false);
}

EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
    return lk_signals_signal(sig, h, false);
}

EXPORT sighandler_t ssignal(int sig, sighandler_t h)
{
    return lk_signals_signal(sig, h, false);
}

EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
    return lk_signals_signal(sig, h, true);
}

EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
    return lk_signals_signal(sig, h, true);
}

/* malloc() in exact mode, (checked here) the guard clear: malloc_hook's work without
 * what those facts make moot, and after_alloc's in the same frame (one
 * libleak frame for user_start to skip, one prologue).  The stack is captured
 * before the real call, not after: a memo miss's chain of dependent loads
 * (the caller hint) then overlaps the real malloc, which does not wait for
 * it.  No errno save: the capture and record_captured keep it (their rare
 * paths save it; pl_errno checks a first allocation, which takes them).  No
 * table prefetch: it helped neither churn nor live. */
static __attribute__((noinline, flatten)) void *malloc_exact(size_t n)
{
    if (lk_unlikely(lk_tls_guard))
        return malloc_hook(n);      /* libleak's own allocation */
    lk_frames_t f;
    lk_tls_guard = 1;
    lk_stack_capture_lazy(&f);          /* keeps errno */
    void *p = real.malloc(n);   /* unmarked (LK_REAL): the guard says as much */
    if (lk_likely(p != NULL) || errno == ENOMEM)
        record_captured(p, n, LK_FAMILY_MALLOC, "malloc", &f);     /* keeps errno */
    lk_tls_guard = 0;
    return p;
}

EXPORT void *malloc(size_t n)
{
    /* Sampling fast path: the countdown is non-zero only once tracking runs
     * with LIBLEAK_SAMPLE_BYTES (so the real functions are resolved); an
     * allocation it skips is one TLS update and a tail call of the real
     * malloc.  Unmarked (no LK_REAL), which spares a frame: 1.16x -> 1.05x
     * on churn; the exit arena keeps an exit dump from needing the lock the
     * real call may hold.  Exact mode (the default) is tested first: the
     * countdown stays 0 there. */
    if (lk_likely(__atomic_load_n(&exact_on, __ATOMIC_RELAXED)))
        return malloc_exact(n);     /* which checks the guard */
    uint64_t left = lk_tls_sample_left;
    if (lk_likely(n < left) && lk_likely(!lk_tls_guard)) {
        lk_tls_sample_left = left - n;
        return real.malloc(n);
    }
    return malloc_hook(n);
}

static __attribute__((noinline, flatten)) void free_hook(void *p)
{
    if (!p || lk_unlikely(in_arena(p)))
        return;
    if (lk_exit_arena_keeps(p))
        return;
    if (lk_unlikely(!booted()))
        return;                     /* cannot happen after boot: leak it */
    if (lk_heap_owns(p)) {          /* never tracked: the dumper thread's (heap.c) */
        lk_heap_free(p);
        return;
    }
    if (tracking() && lk_table_may_hold((uintptr_t)p)) {
        /* The real free's first miss is the block's header: start it now, so
         * that it overlaps our table lookup's (a hint: never faults). */
        __builtin_prefetch((const char *)p - 16, 0, 3);
        before_free(p, LK_FAMILY_MALLOC);
    }
    LK_REAL_VOID(real.free(p));
}

/* free() in exact mode, 'p' not NULL and not the bootstrap arena's, and
 * (checked here) the guard clear: free_hook's work without what those facts make moot (errno too:
 * lk_track_free_fast keeps it), in a frame of its own, since free_hook's is
 * kilobytes for its rare paths. */
static __attribute__((noinline, flatten)) void free_exact(void *p)
{
    if (p == NULL)
        __builtin_unreachable();    /* free() checked */
    if (lk_unlikely(lk_tls_guard)) {
        free_hook(p);               /* libleak's own free */
        return;
    }
    __builtin_prefetch((const char *)p - 16, 0, 3);    /* as in free_hook */
    lk_tls_guard = 1;
    if (lk_unlikely(!lk_track_free_fast(p, LK_FAMILY_MALLOC))) {
        lk_tls_guard = 0;
        free_hook(p);               /* untracked, or no deltas: the general path */
        return;
    }
    real.free(p);   /* guard still set: it marks the real call, as LK_REAL would */
    lk_tls_guard = 0;
}

EXPORT void free(void *p)
{
    if (lk_likely(__atomic_load_n(&exact_on, __ATOMIC_RELAXED))) {
        if (lk_likely((uintptr_t)p - (uintptr_t)arena >= ARENA_BYTES) && lk_likely(p != NULL))
            free_exact(p);          /* which checks the guard */
        else
            free_hook(p);
        return;
    }
    /* Both tests in one branch, not taken on the fast path: as two, the
     * arena test's taken jump held ~70% of free's samples (sampling churn). */
    if (lk_likely(__atomic_load_n(&free_fast, __ATOMIC_RELAXED))) {
        bool outside = (uintptr_t)p - (uintptr_t)arena >= ARENA_BYTES;
        bool empty = !__atomic_load_n(&lk_table_occupied[lk_table_ptr_hash((uintptr_t)p) >>
                                                         (64 - LK_TABLE_SHARDS_LOG2)],
                                      __ATOMIC_RELAXED);
        /* the guard: libleak's own frees may be of lk_heap blocks */
        if (lk_likely(outside & empty & !lk_tls_guard)) {
            real.free(p);           /* free(NULL) included; unmarked as in malloc */
            return;
        }
    }
    free_hook(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (lk_unlikely(!booted()))
        return __builtin_mul_overflow(n, size, &total) ? NULL : arena_alloc(total, 16);
    if (lk_unlikely(__builtin_mul_overflow(n, size, &total)) && tracking()) {
        LK_GUARD;
        mul_overflow("calloc");
        errno = ENOMEM;
        return NULL;
    }
    if (lk_unlikely(lk_tls_heap) && lk_tls_guard && !lk_tls_exit_arena)
        return lk_heap_calloc(n, size);     /* the dumper's: zeroed, unlike heap malloc */
    ALLOC_HOOK(total, 16, LK_FAMILY_MALLOC, "calloc", real.calloc(n, size));
}

/* realloc and reallocarray: the old record is taken out before the real call
 * (another thread may be handed the old address as soon as it returns) and
 * put back if the call fails.  realloc(p, 0) frees p and returns NULL.
 * Flattened like after_alloc, for the same reason. */
static __attribute__((noinline, flatten)) void *track_realloc(void *p, size_t n, size_t count,
                                                              const char *fn, bool is_array)
{
    lk_block_t old;
    bool had = p && lk_track_detach(p, &old);
    void *q = is_array ? LK_REAL(real.reallocarray(p, count, n)) : LK_REAL(real.realloc(p, n));
    int e = errno;
    size_t size = is_array ? count * n : n;
    if (q || (p && size == 0)) {
        if (had)
            lk_track_release(&old, LK_FAMILY_MALLOC);
        else if (p)
            lk_track_untracked_free();
        if (q && !lk_sample_skip(size))
            after_alloc(q, size, LK_FAMILY_MALLOC, fn, e);
    } else {
        if (had)
            lk_track_reattach(p, &old);
        after_alloc(NULL, size, LK_FAMILY_MALLOC, fn, e);
    }
    errno = e;
    return q;
}

/* realloc's failure on the exact path: the old block stays tracked, and a
 * NULL with ENOMEM is recorded.  Out of line, errno kept. */
static __attribute__((noinline)) void realloc_failed(void *p, const lk_block_t *old, size_t size,
                                                     const char *fn, lk_frames_t *f)
{
    int e = errno;
    if (old)
        lk_track_reattach(p, old);
    if (e == ENOMEM)
        record_failure(LK_FAIL_ENOMEM, fn, size, f);
    errno = e;
}

/* realloc and reallocarray in exact mode, (checked here) the guard clear,
 * 'n' not 0 and 'p' not the bootstrap arena's: malloc_exact's shape.  The
 * stack is captured before the real call (a memo miss's loads overlap it);
 * the old record is taken out before it too (the old address may be handed
 * to another thread as soon as the call returns).  The new block and the old
 * one's release are then counted under one shard lock (lk_track_realloc).
 * No errno save: every call here keeps it. */
static inline __attribute__((always_inline)) void *realloc_exact_body(void *p, size_t n,
                                                                      size_t count,
                                                                      const char *fn,
                                                                      bool is_array)
{
    lk_frames_t f;
    lk_block_t old;
    lk_tls_guard = 1;
    lk_stack_capture_lazy(&f);          /* keeps errno */
    bool had = p != NULL && lk_track_detach(p, &old);
    /* unmarked (LK_REAL): the guard says as much */
    void *q = is_array ? real.reallocarray(p, count, n) : real.realloc(p, n);
    size_t size = is_array ? count * n : n;
    if (lk_likely(q != NULL)) {
        if (lk_unlikely(p != NULL && !had))
            lk_track_untracked_free();
        if (lk_unlikely(lk_limits.effective && size > lk_limits.effective))
            record_failure(LK_FAIL_IMPLAUSIBLE, fn, size, &f);
        lk_track_realloc(q, size, had ? &old : NULL, &f);      /* keeps errno */
    } else {
        realloc_failed(p, had ? &old : NULL, size, fn, &f);
    }
    lk_tls_guard = 0;
    return q;
}

static __attribute__((noinline)) void *realloc_hook(void *p, size_t n);

static __attribute__((noinline, flatten)) void *realloc_exact(void *p, size_t n)
{
    if (lk_unlikely(lk_tls_guard))
        return realloc_hook(p, n);  /* libleak's own */
    return realloc_exact_body(p, n, 1, "realloc", false);
}

static __attribute__((noinline, flatten)) void *reallocarray_exact(void *p, size_t count, size_t n)
{
    return realloc_exact_body(p, n, count, "reallocarray", true);
}

EXPORT void *realloc(void *p, size_t n)
{
    if (lk_likely(__atomic_load_n(&exact_on, __ATOMIC_RELAXED)) && lk_likely(n != 0) &&
        lk_likely(!in_arena(p)))
        return realloc_exact(p, n);     /* which checks the guard */
    return realloc_hook(p, n);
}

static __attribute__((noinline)) void *realloc_hook(void *p, size_t n)
{
    if (lk_unlikely(!booted() || in_arena(p))) {
        void *q = malloc(n);        /* out of the arena: copy, never free */
        if (q && p)
            memcpy(q, p, lk_bump_size(p) < n ? lk_bump_size(p) : n);
        return q;
    }
    if (!tracking()) {
        if (lk_unlikely(lk_tls_exit_arena))
            return lk_exit_arena_realloc(p, n);
        if (lk_unlikely(lk_tls_heap) || (p && lk_heap_owns(p)))
            return lk_real_realloc(p, n);
        return LK_REAL(real.realloc(p, n));
    }
    LK_GUARD;
    return track_realloc(p, n, 1, "realloc", false);
}

EXPORT void *reallocarray(void *p, size_t count, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(count, n, &total)) {
        if (booted() && !in_arena(p) && tracking()) {
            LK_GUARD;
            mul_overflow("reallocarray");
        }
        errno = ENOMEM;
        return NULL;
    }
    if (lk_unlikely(!booted() || in_arena(p) || !real.reallocarray || lk_tls_exit_arena ||
                    lk_tls_heap))
        return realloc(p, total);
    if (!tracking())
        return LK_REAL(real.reallocarray(p, count, n));
    if (lk_likely(__atomic_load_n(&exact_on, __ATOMIC_RELAXED)) && total != 0)
        return reallocarray_exact(p, count, n);     /* tracking(): the guard is clear */
    LK_GUARD;
    return track_realloc(p, n, count, "reallocarray", true);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (lk_unlikely(!booted())) {
        *out = arena_alloc(n, align);
        return *out ? 0 : ENOMEM;
    }
    if (!tracking()) {
        if (lk_unlikely(lk_tls_exit_arena)) {
            *out = lk_exit_arena_alloc(n, align);
            return *out ? 0 : ENOMEM;
        }
        if (lk_unlikely(lk_tls_heap)) {
            *out = lk_heap_alloc(n, align);
            return *out ? 0 : ENOMEM;
        }
        return LK_REAL(real.posix_memalign(out, align, n));
    }
    bool skip = lk_sample_skip(n);
    LK_GUARD;
    int e = errno;
    int rc = LK_REAL(real.posix_memalign(out, align, n));
    if (!skip || rc != 0)
        after_alloc(rc == 0 ? *out : NULL, n, LK_FAMILY_MALLOC, "posix_memalign", rc);
    errno = e;
    return rc;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
    if (lk_unlikely(!booted()))
        return arena_alloc(n, align);
    ALLOC_HOOK(n, align, LK_FAMILY_MALLOC, "aligned_alloc", real.aligned_alloc(align, n));
}

EXPORT void *memalign(size_t align, size_t n)
{
    if (lk_unlikely(!booted()))
        return arena_alloc(n, align);
    ALLOC_HOOK(n, align, LK_FAMILY_MALLOC, "memalign", real.memalign(align, n));
}

EXPORT void *valloc(size_t n)
{
    if (lk_unlikely(!booted()))
        return arena_alloc(n, 4096);
    ALLOC_HOOK(n, 4096, LK_FAMILY_MALLOC, "valloc", real.valloc(n));
}

EXPORT void *pvalloc(size_t n)
{
    if (lk_unlikely(!booted()))
        return arena_alloc(n, 4096);
    ALLOC_HOOK(n, 4096, LK_FAMILY_MALLOC, "pvalloc", real.pvalloc(n));
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (p && (in_arena(p) || lk_exit_arena_owns(p)))
        return lk_bump_size(p);
    if (p && lk_heap_owns(p))
        return lk_heap_size(p);
    if (lk_unlikely(!booted()))
        return 0;
    return real.malloc_usable_size(p);
}

/* ### C++ operators, defined in C by their mangled names.
 * new: allocate with the real malloc (or aligned_alloc) and record family new or
 * new[].  Only when that fails, call libstdc++'s own operator, which runs the
 * new_handler loop and throws std::bad_alloc (nothrow forms return NULL); the
 * exception unwinds through this frame (built with -fexceptions) and the guard's
 * cleanup restores the guard. */
typedef struct { char dummy; } nothrow_t;

static void *cxx_fallback(size_t n, size_t align, int array, int nothrow)
{
    if (!real.op_new[array][nothrow])
        resolve_cxx();              /* libstdc++ may have been dlopen'ed later */
    if (align) {
        if (real.op_new_al[array][nothrow])
            return nothrow ? real.op_new_al[array][nothrow](n, align, (void *)0)
                           : real.op_new_al[array][nothrow](n, align);
    } else if (real.op_new[array][nothrow]) {
        return nothrow ? real.op_new[array][nothrow](n, (void *)0) : real.op_new[array][nothrow](n);
    }
    return NULL;                    /* no libstdc++: nothing can throw for us */
}

static void *new_impl(size_t n, size_t align, int family, int nothrow)
{
    int array = family == LK_FAMILY_NEW_ARRAY;
    if (lk_unlikely(!booted()))
        return arena_alloc(n ? n : 1, align);
    bool rec = tracking();
    bool skip = rec && lk_sample_skip(n);
    LK_GUARD;
    size_t sz = n ? n : 1;
    if (align && sz % align)
        sz += align - sz % align;
    void *p = align ? LK_REAL(real.aligned_alloc(align, sz)) : LK_REAL(real.malloc(sz));
    int e = errno;
    if (rec && !p)
        after_alloc(NULL, n, family, fam_fn[family], ENOMEM);
    if (!p)
        p = cxx_fallback(n, align, array, nothrow);     /* may throw */
    if (rec && p && !skip)
        after_alloc(p, n, family, fam_fn[family], e);
    errno = e;
    return p;
}

static void delete_impl(void *p, int family)
{
    if (!p || lk_unlikely(in_arena(p)) || lk_exit_arena_keeps(p) || lk_unlikely(!booted()))
        return;
    if (lk_heap_owns(p)) {
        lk_heap_free(p);
        return;
    }
    if (tracking() && lk_table_may_hold((uintptr_t)p))
        before_free(p, family);
    LK_REAL_VOID(real.free(p));
}

#define NEW_ARGS_AL size_t n, size_t al
/* Prototypes (C linkage, mangled names): operator new / new[] */
EXPORT void *_Znwm(size_t n);
EXPORT void *_Znam(size_t n);
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const nothrow_t *t);
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const nothrow_t *t);
EXPORT void *_ZnwmSt11align_val_t(NEW_ARGS_AL);
EXPORT void *_ZnamSt11align_val_t(NEW_ARGS_AL);
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(NEW_ARGS_AL, const nothrow_t *t);
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(NEW_ARGS_AL, const nothrow_t *t);
/* operator delete / delete[]: plain, nothrow, sized, aligned */
EXPORT void _ZdlPv(void *p);
EXPORT void _ZdaPv(void *p);
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const nothrow_t *t);
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const nothrow_t *t);
EXPORT void _ZdlPvm(void *p, size_t n);
EXPORT void _ZdaPvm(void *p, size_t n);
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al);
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al);
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const nothrow_t *t);
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const nothrow_t *t);
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al);
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al);

EXPORT void *_Znwm(size_t n) { return new_impl(n, 0, LK_FAMILY_NEW, 0); }
EXPORT void *_Znam(size_t n) { return new_impl(n, 0, LK_FAMILY_NEW_ARRAY, 0); }
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const nothrow_t *t)
{ (void)t; return new_impl(n, 0, LK_FAMILY_NEW, 1); }
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const nothrow_t *t)
{ (void)t; return new_impl(n, 0, LK_FAMILY_NEW_ARRAY, 1); }
EXPORT void *_ZnwmSt11align_val_t(NEW_ARGS_AL) { return new_impl(n, al, LK_FAMILY_NEW, 0); }
EXPORT void *_ZnamSt11align_val_t(NEW_ARGS_AL) { return new_impl(n, al, LK_FAMILY_NEW_ARRAY, 0); }
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(NEW_ARGS_AL, const nothrow_t *t)
{ (void)t; return new_impl(n, al, LK_FAMILY_NEW, 1); }
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(NEW_ARGS_AL, const nothrow_t *t)
{ (void)t; return new_impl(n, al, LK_FAMILY_NEW_ARRAY, 1); }

EXPORT void _ZdlPv(void *p) { delete_impl(p, LK_FAMILY_NEW); }
EXPORT void _ZdaPv(void *p) { delete_impl(p, LK_FAMILY_NEW_ARRAY); }
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const nothrow_t *t) { (void)t; delete_impl(p, LK_FAMILY_NEW); }
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const nothrow_t *t) { (void)t; delete_impl(p, LK_FAMILY_NEW_ARRAY); }
EXPORT void _ZdlPvm(void *p, size_t n) { (void)n; delete_impl(p, LK_FAMILY_NEW); }
EXPORT void _ZdaPvm(void *p, size_t n) { (void)n; delete_impl(p, LK_FAMILY_NEW_ARRAY); }
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) { (void)al; delete_impl(p, LK_FAMILY_NEW); }
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) { (void)al; delete_impl(p, LK_FAMILY_NEW_ARRAY); }
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const nothrow_t *t)
{ (void)al; (void)t; delete_impl(p, LK_FAMILY_NEW); }
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const nothrow_t *t)
{ (void)al; (void)t; delete_impl(p, LK_FAMILY_NEW_ARRAY); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al)
{ (void)n; (void)al; delete_impl(p, LK_FAMILY_NEW); }
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al)
{ (void)n; (void)al; delete_impl(p, LK_FAMILY_NEW_ARRAY); }

/* ### process end: _exit and _Exit skip atexit and destructors, so dump here.
 * A vfork child shares its parent's memory: it must not touch the tables. */
bool lk_is_vfork_child(void)
{
    return lk_pid != 0 && getpid() != lk_pid;
}

/* May this thread write the exit dump?  Not from a vfork child, and not
 * while it is inside one of our hooks (the guard is set) or the real
 * allocator (LK_REAL; malloc_exact and free_exact keep the guard set around
 * their real call instead): then a signal handler interrupted that call and called
 * _exit or exit, and the call may hold a table shard lock or the allocator's
 * own lock, which the dump would wait for forever.  While sampling, the exit
 * dump takes no memory from the real allocator (see exit_dump), so only the
 * guard stops it. */
static bool exit_dump_allowed(void)
{
    if (__atomic_load_n(&track_state, __ATOMIC_ACQUIRE) != TRACK_ON || lk_is_vfork_child())
        return false;
    if (lk_tls_guard || (lk_tls_in_real && lk_config.sample_bytes == 0)) {
        lk_log("exiting from inside an allocation call (a signal handler?): no exit dump");
        return false;
    }
    return true;
}

/* Write the exit dump if allowed.  While sampling, the fast paths call the
 * real allocator unmarked, so this thread may still be inside it (a signal
 * handler interrupted it and called _exit): the dump then takes all of its
 * memory from the exit arena (tracker.c), and blocks from there must reach
 * free_hook, not the fast free. */
static void exit_dump(void)
{
    if (!exit_dump_allowed())
        return;
    lk_trigger_stop();
    bool sampling = lk_config.sample_bytes != 0, xarena;
    if (sampling) {
        __atomic_store_n(&free_fast, false, __ATOMIC_SEQ_CST);
        if (!lk_exit_arena_enter(true))
            return;                 /* another thread writes it, or no room */
        xarena = true;
    } else {
        /* the arena too (never glibc's heap, which frees would consolidate), if there is room */
        xarena = lk_exit_arena_enter(false);
    }
    /* a dump's file calls are cancellation points: a cancel acted on there
     * would unwind out of it with its lock held (the cleanups restore only
     * the guard and the entry frame) */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    lk_dump_exit();
    pthread_setcancelstate(cancel_state, NULL);
    if (xarena)
        lk_tls_exit_arena = 0;      /* what runs next (destructors) is the program's */
}

static __attribute__((noreturn)) void exit_now(void (*fn)(int), int status)
{
    exit_dump();
    if (fn)
        fn(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

EXPORT void _exit(int status)
{
    LK_ENTRY;
    exit_now(booted() ? real.exit_ : NULL, status);
}

EXPORT void _Exit(int status)
{
    LK_ENTRY;
    exit_now(booted() ? real.Exit_ : NULL, status);
}

__attribute__((destructor)) static void hooks_dtor(void)
{
    LK_ENTRY;
    lk_tls_entry.outer = 1;     /* ld.so's fini and libc's exit lie between here and the program */
    exit_dump();
}

/* ### public API (include/libleak.h declares both weak, for the caller's sake) */
EXPORT int libleak_snapshot(const char *label)
{
    LK_ENTRY;
    if (!libleak_is_active())
        return -ENOSYS;
    int cancel_state;               /* as exit_dump: no unwinding out with the lock held */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    int rc = lk_dump_write(LK_TRIGGER_API, label);
    pthread_setcancelstate(cancel_state, NULL);
    return rc;
}

EXPORT int libleak_is_active(void)
{
    return __atomic_load_n(&track_state, __ATOMIC_ACQUIRE) == TRACK_ON;
}

/* ### dlclose: the module map of a library about to go (dump.c keeps it, so
 * that its frames still symbolize after it is unloaded).  Not dlopen: it
 * finds $ORIGIN and RUNPATH from its caller's address, which would be ours. */
EXPORT int dlclose(void *handle)
{
    static int (*real_dlclose)(void *);    /* atomic: every thread stores the same */
    int (*fn)(void *) = __atomic_load_n(&real_dlclose, __ATOMIC_RELAXED);
    if (!fn) {
        fn = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
        if (!fn)
            return -1;
        __atomic_store_n(&real_dlclose, fn, __ATOMIC_RELAXED);
    }
    bool on = libleak_is_active() && !lk_is_vfork_child();
    int *e = lk_errno_ptr(), saved = *e;
    if (on)
        lk_modules_before_unload();
    *e = saved;
    int rc = fn(handle);
    saved = *e;
    if (on)
        lk_modules_after_unload();
    *e = saved;
    return rc;
}
