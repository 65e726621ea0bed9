/* signals.c - the program's signal dispositions as it sees them natively,
 * and libleak's two uses of signals: the snapshot signal and the crash dump.
 * libleak owns the kernel disposition of the snapshot signal, of the
 * fault signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) and of the
 * signals programs are ended with (SIGTERM, SIGINT, SIGHUP, SIGQUIT,
 * SIGPIPE, SIGXCPU, SIGXFSZ); the program's
 * sigaction/signal calls on them (hooks.c interposes them) only change the
 * program's view, which the kernel then carries out through libleak's
 * handlers: its handler runs with its own flags and mask, SIG_IGN is a real
 * SIG_IGN (inherited across exec), and SIG_DFL is libleak's handler, which
 * snapshots, writes the crash dump or the exit dump, and then dies as
 * SIG_DFL would.
 * Handlers only wake the dumper thread; the dying ones wait for it, bounded. */
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "unwinder.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000  /* the kernel's; glibc sets it and reports it */
#endif

#define CRASH_WAIT_MS 1000      /* a crashed thread waits this long for its dump */
#define TERM_WAIT_MS  1000      /* a terminating snapshot signal waits this long */
#define KILL_WAIT_MS  5000      /* a killed process waits this long for its exit dump (it scans) */

static const int fault_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
/* Signals that end a program by default and that it is commonly ended with:
 * killed by one, it still writes its exit dump, as valgrind reports at a
 * fatal signal.  SIGALRM, SIGPROF and SIGVTALRM are left alone: programs and
 * profilers use them at high rates, and each delivery would pass through
 * on_program. */
static const int kill_sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGXCPU, SIGXFSZ };

/* ### state: guarded by view_lock, taken with every signal blocked */
static struct sigaction view[NSIG]; /* the program's disposition of an owned signal */
static unsigned char owned[NSIG];   /* libleak keeps the kernel disposition; atomic */
static unsigned char touched[NSIG]; /* the program chose a disposition itself */
static int snap_sig;                /* the snapshot signal, 0 = none */
static bool check_warned;
static int view_lock;               /* spin lock: held for a few instructions */
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
static sighandler_t (*real_signal)(int, sighandler_t);
static sighandler_t (*real_sysv_signal)(int, sighandler_t);

/* The dumper thread lives in trigger.c, above this file: it installs these
 * before lk_signals_start (both async-signal-safe). */
void (*lk_signals_wake)(char why);
bool (*lk_signals_dumper_alive)(void);

static void wake(char why)
{
    void (*fn)(char) = __atomic_load_n(&lk_signals_wake, __ATOMIC_ACQUIRE);
    if (fn)
        fn(why);
}

static bool dumper_alive(void)
{
    bool (*fn)(void) = __atomic_load_n(&lk_signals_dumper_alive, __ATOMIC_ACQUIRE);
    return fn && fn();
}

static int sa_real(int sig, const struct sigaction *act, struct sigaction *old)
{
    int (*fn)(int, const struct sigaction *, struct sigaction *) =
        __atomic_load_n(&real_sigaction, __ATOMIC_ACQUIRE);
    if (!fn) {
        fn = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT,
                                                                               "sigaction");
        if (!fn) {
            errno = ENOSYS;
            return -1;
        }
        __atomic_store_n(&real_sigaction, fn, __ATOMIC_RELEASE);
    }
    return fn(sig, act, old);
}

static bool is_fault(int sig)
{
    for (size_t i = 0; i < sizeof fault_sigs / sizeof *fault_sigs; i++)
        if (fault_sigs[i] == sig)
            return true;
    return false;
}

static bool is_owned(int sig)
{
    return sig > 0 && sig < NSIG && __atomic_load_n(&owned[sig], __ATOMIC_ACQUIRE);
}

/* Block every signal in this thread (real call: never the virtual mask of
 * stack.c) and take view_lock; a handler on this thread cannot then spin on
 * a lock that its own thread holds. */
static void view_enter(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
    while (__atomic_exchange_n(&view_lock, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
}

static void view_leave(const sigset_t *old)
{
    __atomic_store_n(&view_lock, 0, __ATOMIC_RELEASE);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void on_default(int sig, siginfo_t *si, void *uc);
static void on_program(int sig, siginfo_t *si, void *uc);

/* What the kernel gets for the program's disposition 'v'. */
static void kernel_action(const struct sigaction *v, struct sigaction *k)
{
    if (v->sa_handler == SIG_IGN) {
        *k = *v;
        return;
    }
    memset(k, 0, sizeof *k);
    if (v->sa_handler == SIG_DFL) {
        k->sa_sigaction = on_default;
        /* SA_ONSTACK: a stack overflow still reaches the crash dump when the
         * program has an alternate stack */
        k->sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        sigfillset(&k->sa_mask);
        return;
    }
    *k = *v;                    /* the program's flags and mask, as asked */
    k->sa_sigaction = on_program;
    k->sa_flags |= SA_SIGINFO;
}

/* Install 'v' as the program's disposition of owned 'sig'.  Caller holds
 * view_lock.  Returns 0 or -1 with errno (nothing changed). */
static int view_set(int sig, const struct sigaction *v)
{
    struct sigaction k, got;
    kernel_action(v, &k);
    if (sa_real(sig, &k, NULL) != 0)
        return -1;
    view[sig] = *v;
    /* what a native query returns: glibc's restorer and its flag */
    if (sa_real(sig, NULL, &got) == 0) {
        view[sig].sa_flags |= got.sa_flags & SA_RESTORER;
        view[sig].sa_restorer = got.sa_restorer;
    }
    return 0;
}

/* ### the program's calls (hooks.c's sigaction, signal, sysv_signal) */
int lk_signals_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!is_owned(sig))
        return sa_real(sig, act, old);
    sigset_t mask;
    int rc = 0, err = 0;
    view_enter(&mask);
    struct sigaction prev = view[sig];
    if (act) {
        rc = view_set(sig, act);
        err = errno;
        if (rc == 0)
            touched[sig] = 1;
    }
    view_leave(&mask);
    if (rc != 0) {
        errno = err;
        return -1;
    }
    if (old)
        *old = prev;
    return 0;
}

/* signal() and sysv_signal() as glibc makes them (BSD: restart, the signal
 * blocked in its handler; System V: one-shot, not blocked). */
sighandler_t lk_signals_signal(int sig, sighandler_t h, bool sysv)
{
    if (!is_owned(sig)) {
        sighandler_t (**slot)(int, sighandler_t) = sysv ? &real_sysv_signal : &real_signal;
        sighandler_t (*fn)(int, sighandler_t) = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (!fn) {
            fn = (sighandler_t (*)(int, sighandler_t))dlsym(RTLD_NEXT,
                                                             sysv ? "sysv_signal" : "signal");
            if (!fn) {
                errno = ENOSYS;
                return SIG_ERR;
            }
            __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
        }
        return fn(sig, h);
    }
    if (h == SIG_ERR) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    if (sysv) {
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    } else {
        sigaddset(&sa.sa_mask, sig);
        sa.sa_flags = SA_RESTART;
    }
    if (lk_signals_sigaction(sig, &sa, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* ### waiting for the dumper (handlers that are about to die) */
static unsigned req_gen, done_gen;  /* atomic; futex word: done_gen */

/* Ask the dumper for 'why' (LK_WAKE_*); returns the ticket to wait for. */
static unsigned request(char why)
{
    unsigned t = __atomic_add_fetch(&req_gen, 1, __ATOMIC_SEQ_CST);
    wake(why);
    return t;
}

unsigned lk_signals_requested(void)
{
    return __atomic_load_n(&req_gen, __ATOMIC_SEQ_CST);
}

void lk_signals_done(unsigned gen)
{
    unsigned cur = __atomic_load_n(&done_gen, __ATOMIC_RELAXED);
    while ((int)(gen - cur) > 0 &&
           !__atomic_compare_exchange_n(&done_gen, &cur, gen, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED))
        ;
    syscall(SYS_futex, &done_gen, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* Wait until the dumper served 'ticket', at most 'ms' milliseconds.  Only
 * async-signal-safe calls. */
static bool wait_served(unsigned ticket, int ms)
{
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += ms / 1000;
    end.tv_nsec += (long)(ms % 1000) * 1000000;
    if (end.tv_nsec >= 1000000000) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000;
    }
    for (;;) {
        unsigned d = __atomic_load_n(&done_gen, __ATOMIC_SEQ_CST);
        if ((int)(d - ticket) >= 0)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        struct timespec rel = { end.tv_sec - now.tv_sec, end.tv_nsec - now.tv_nsec };
        if (rel.tv_nsec < 0) {
            rel.tv_sec--;
            rel.tv_nsec += 1000000000;
        }
        if (rel.tv_sec < 0)
            return false;
        syscall(SYS_futex, &done_gen, FUTEX_WAIT_PRIVATE, d, &rel, NULL, 0);
    }
}

/* May a dying handler ask the dumper for a dump?  Not in a vfork child (or a
 * raw clone: the pid is not the tracked one), nor without a dumper. */
static bool can_dump(void)
{
    return lk_pid == getpid() && dumper_alive();
}

/* Die of 'sig' as its SIG_DFL would: a fault the kernel raised faults again
 * when the instruction is retried (same siginfo in the core); a sent signal
 * is sent again, delivered once this handler returns and unblocks it. */
static void die_as_default(int sig, const siginfo_t *si)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sa_real(sig, &dfl, NULL);
    if (si == NULL || si->si_code <= 0 || sig == SIGABRT || !is_fault(sig))
        syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

/* ### the crash dump */
static lk_crash_t crash;            /* filled once, by the first crashing thread */
static int crash_claimed;           /* atomic */
static int crash_ready;             /* atomic: 'crash' is filled */

/* The faulting thread's stack from the signal's context, without libleak's
 * own frames (a hook around the real call that crashed).  libgcc's unwinder
 * (unwinder.c), loaded in every process and lock-free, not libunwind, which
 * may not be loaded and must not be loaded here. */
static void crash_capture(const ucontext_t *uc)
{
    uint32_t max = (uint32_t)lk_config.max_depth;
    if (max == 0 || max > LK_MAX_DEPTH)
        max = LK_MAX_DEPTH;
    LK_GUARD;
    bool truncated = false;
    crash.depth = lk_unwind_signal_stack(uc, lk_stack_is_self, crash.pc, max, &truncated);
    crash.truncated = truncated;
    uintptr_t pc0 = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (crash.depth == 0 && pc0 != 0 && !lk_stack_is_self(pc0))
        crash.pc[crash.depth++] = pc0;
}

static void on_crash(int sig, siginfo_t *si, void *uc)
{
    if (can_dump()) {
        if (__atomic_exchange_n(&crash_claimed, 1, __ATOMIC_ACQ_REL) == 0) {
            crash.sig = sig;
            crash.code = si ? si->si_code : 0;
            crash.has_addr = si && si->si_code > 0 && sig != SIGABRT;  /* a fault's */
            crash.addr = crash.has_addr ? (uintptr_t)si->si_addr : 0;
            crash.tid = (int)syscall(SYS_gettid);
            crash_capture(uc);
            __atomic_store_n(&crash_ready, 1, __ATOMIC_RELEASE);
        }
        wait_served(request(LK_WAKE_CRASH), CRASH_WAIT_MS);
    }
    die_as_default(sig, si);
}

const lk_crash_t *lk_signals_crash(void)
{
    return __atomic_load_n(&crash_ready, __ATOMIC_ACQUIRE) ? &crash : NULL;
}

/* ### handlers */
static void view_get(int sig, struct sigaction *out)
{
    while (__atomic_exchange_n(&view_lock, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
    *out = view[sig];
    __atomic_store_n(&view_lock, 0, __ATOMIC_RELEASE);
}

/* Does SIG_DFL of 'sig' end the process (terminate or core)? */
static bool default_kills(int sig)
{
    switch (sig) {
    case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
        return false;
    default:
        return true;
    }
}

/* The program's disposition is SIG_DFL.  The snapshot signal writes a
 * snapshot; while the program never chose a disposition of SIGUSR1 or
 * SIGUSR2 itself, that is all (libleak's use of them), otherwise the process
 * then dies as it would have.  A fault signal writes the crash dump and dies. */
static void on_default(int sig, siginfo_t *si, void *uc)
{
    int e = errno;
    struct sigaction v;
    view_get(sig, &v);
    if (v.sa_handler != SIG_DFL) {  /* the program changed it just now */
        if (v.sa_handler != SIG_IGN)
            on_program(sig, si, uc);
        errno = e;
        return;
    }
    if (sig == snap_sig) {
        bool claimed = !__atomic_load_n(&touched[sig], __ATOMIC_RELAXED) &&
                       (sig == SIGUSR1 || sig == SIGUSR2);
        if (claimed || !default_kills(sig)) {
            wake(LK_WAKE_SIGNAL);
        } else {
            if (can_dump())
                wait_served(request(LK_WAKE_SYNC), TERM_WAIT_MS);
            die_as_default(sig, si);
        }
    } else if (is_fault(sig)) {
        on_crash(sig, si, uc);
    } else {
        if (default_kills(sig) && can_dump())
            wait_served(request(LK_WAKE_KILLED), KILL_WAIT_MS);
        die_as_default(sig, si);
    }
    errno = e;
}

/* The program has a handler: snapshot (for the snapshot signal), then run it
 * as the program asked.  SA_RESETHAND: the kernel reset the disposition to
 * SIG_DFL, so the view does too, and libleak's SIG_DFL handler comes back. */
static void on_program(int sig, siginfo_t *si, void *uc)
{
    int e = errno;
    struct sigaction v;
    sigset_t mask;
    view_get(sig, &v);
    if (v.sa_handler == SIG_DFL || v.sa_handler == SIG_IGN) {   /* changed just now */
        if (v.sa_handler == SIG_DFL)
            on_default(sig, si, uc);
        errno = e;
        return;
    }
    if (v.sa_flags & SA_RESETHAND) {
        view_enter(&mask);
        struct sigaction dfl = view[sig];
        dfl.sa_handler = SIG_DFL;
        view_set(sig, &dfl);
        view_leave(&mask);
    }
    if (sig == snap_sig)
        wake(LK_WAKE_SIGNAL);
    errno = e;
    if (v.sa_flags & SA_SIGINFO)
        v.sa_sigaction(sig, si, uc);
    else
        v.sa_handler(sig);
}

/* ### fork: view_lock is never inherited held (a child's sigaction would spin) */
static sigset_t fork_mask;          /* the forking thread's mask, while it holds view_lock */

void lk_signals_fork_prepare(void)
{
    view_enter(&fork_mask);
}

void lk_signals_fork_done(void)
{
    view_leave(&fork_mask);
}

/* ### start */
static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGKILL: return "SIGKILL";
    case SIGSTOP: return "SIGSTOP";
    case SIGTRAP: return "SIGTRAP";
    default: return "?";
    }
}

/* Take over the kernel disposition of 'sig', keeping what it was as the
 * program's view (set before libleak started, or inherited: SIG_IGN).  One
 * system call in the usual case: libleak's SIG_DFL handler goes in while the
 * old action comes out, and only another old action is installed again; a
 * handler that runs in between waits for view_lock and then acts on the
 * view.  'restorer' holds glibc's restorer once one call has reported it (a
 * native query shows it on every action set through glibc).  Caller holds
 * view_lock with every signal blocked. */
static bool take_over(int sig, struct sigaction *restorer)
{
    static const struct sigaction dfl = { .sa_handler = SIG_DFL };
    struct sigaction k, cur;
    if (is_owned(sig))
        return true;            /* its kernel disposition is already ours, not the program's */
    kernel_action(&dfl, &k);
    if (sa_real(sig, &k, &cur) != 0)
        return false;
    if (cur.sa_handler != SIG_DFL) {
        kernel_action(&cur, &k);
        if (sa_real(sig, &k, NULL) != 0) {
            int e = errno;
            sa_real(sig, &cur, NULL);   /* nothing changed, as before the call */
            errno = e;
            return false;
        }
    }
    if (!(restorer->sa_flags & SA_RESTORER) && sa_real(sig, NULL, restorer) != 0)
        restorer->sa_flags = 0;
    view[sig] = cur;
    view[sig].sa_flags |= restorer->sa_flags & SA_RESTORER;
    view[sig].sa_restorer = restorer->sa_restorer;
    touched[sig] = cur.sa_handler != SIG_DFL;
    __atomic_store_n(&owned[sig], 1, __ATOMIC_RELEASE);
    return true;
}

/* One blocking of every signal and one view_lock for all of them: each
 * signal's own took four more system calls (28 for the five fault signals
 * and SIGUSR1; 9 then, 16 with the seven signals programs are ended with). */
void lk_signals_start(void)
{
    if (!__atomic_load_n(&real_sigaction, __ATOMIC_ACQUIRE))
        sa_real(0, NULL, NULL);     /* resolve it now, not first in a handler */
    int sig = (int)lk_config.signal;
    if (sig != 0 && (is_fault(sig) || sig == SIGKILL || sig == SIGSTOP || sig == SIGTRAP)) {
        lk_log("LIBLEAK_SIGNAL=%d (%s) cannot request snapshots; using SIGUSR1", sig,
               sig_name(sig));
        sig = SIGUSR1;
        lk_config.signal = sig;     /* the dump's config says what is in use */
    }
    struct sigaction restorer;
    sigset_t mask;
    memset(&restorer, 0, sizeof restorer);
    view_enter(&mask);
    for (size_t i = 0; i < sizeof fault_sigs / sizeof *fault_sigs; i++)
        take_over(fault_sigs[i], &restorer);
    for (size_t i = 0; i < sizeof kill_sigs / sizeof *kill_sigs; i++)
        take_over(kill_sigs[i], &restorer);
    bool ok = sig == 0 || take_over(sig, &restorer);
    int err = errno;
    bool ignored = sig != 0 && ok && view[sig].sa_handler == SIG_IGN;
    view_leave(&mask);
    if (sig == 0)
        return;
    if (!ok) {
        lk_log("cannot install the snapshot handler for signal %d: %s", sig, strerror(err));
        return;
    }
    snap_sig = sig;
    if (ignored)
        lk_log("signal %d is ignored (SIG_IGN); snapshots by signal are off while it is", sig);
}

int lk_signals_snapshot_signal(void)
{
    return snap_sig;
}

/* Warn once if the kernel disposition of the snapshot signal is no longer
 * libleak's (changed behind sigaction, e.g. by a raw system call). */
void lk_signals_check(void)
{
    int sig = snap_sig;
    struct sigaction cur, v;
    if (!sig || check_warned || sa_real(sig, NULL, &cur) != 0)
        return;
    view_get(sig, &v);
    bool ours = (cur.sa_flags & SA_SIGINFO) &&
                (cur.sa_sigaction == on_default || cur.sa_sigaction == on_program);
    if (!ours && !(cur.sa_handler == SIG_IGN && v.sa_handler == SIG_IGN)) {
        check_warned = true;
        lk_log("the program replaced libleak's handler for signal %d; snapshots on it stop", sig);
    }
}
