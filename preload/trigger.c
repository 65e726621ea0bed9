/* trigger.c - when dumps happen: fork handling, the snapshot signal, the
 * interval, the watermark, and the dumper thread that also ticks the
 * timeline (signals.c owns the signals, timeline.c the samples).
 * The signal handlers and the allocation hot path only set a bit and wake a
 * futex; the dumper thread (every signal blocked, guard always held) does the
 * dumping and the sampling.  Nothing here may block the traced program. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "scan.h"
#include "unwinder.h"

#define SAMPLE_NS (100 * 1000000ull)    /* timeline tick: ~100 ms */

/* ### the wake-up word (set by the signal handler and the hot path)
 * A futex, not a pipe: the program's descriptor numbers stay its own (its
 * first open() gets 3, as natively), and a program that closes every
 * descriptor cannot take the wake-up away. */
static uint32_t wake_bits;          /* atomic; futex word: LK_WAKE_* bits pending */
#define WAKE_QUIT 'Q'               /* look at quit_asked */

static uint32_t wake_bit(char why)
{
    switch (why) {
    case LK_WAKE_SIGNAL: return 1;
    case LK_WAKE_WATERMARK: return 2;
    case LK_WAKE_CRASH: return 4;
    case LK_WAKE_STOP: return 16;
    case LK_WAKE_KILLED: return 32;
    case WAKE_QUIT: return 64;          /* quit_asked says what to do */
    case LK_WAKE_UNWIND: return 128;    /* lk_unwind_wanted says what to do */
    default: return 8;              /* LK_WAKE_SYNC */
    }
}

/* Async-signal-safe; errno kept (a handler's caller, and malloc_exact, do
 * not save it). */
void lk_trigger_wake(char why)
{
    int e = errno;
    __atomic_fetch_or(&wake_bits, wake_bit(why), __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &wake_bits, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = e;
}

/* The dumper: wait until a bit is set or 'timeout_ms' passed; the bits taken. */
static uint32_t wake_wait(int timeout_ms)
{
    uint32_t bits = __atomic_exchange_n(&wake_bits, 0, __ATOMIC_SEQ_CST);
    if (bits || timeout_ms == 0)
        return bits;
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };
    /* returns at once if a bit was set since the exchange (the word is no longer 0) */
    syscall(SYS_futex, &wake_bits, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    return __atomic_exchange_n(&wake_bits, 0, __ATOMIC_SEQ_CST);
}

/* ### watermark: its step and mark live in tracker.c, which the hot path reads */
uint64_t lk_trigger_watermark_step(void)
{
    return __atomic_load_n(&lk_watermark_step, __ATOMIC_RELAXED);
}

/* Hot path (guard held): live bytes reached lk_watermark_next.  Move the mark
 * to the next multiple of the step above 'live' and wake the dumper once. */
static void watermark_hit(uint64_t live)
{
    uint64_t cur = __atomic_load_n(&lk_watermark_next, __ATOMIC_RELAXED);
    uint64_t step = __atomic_load_n(&lk_watermark_step, __ATOMIC_RELAXED);
    if (step == 0 || live < cur)
        return;
    uint64_t next = (live / step + 1) * step;
    if (__atomic_compare_exchange_n(&lk_watermark_next, &cur, next, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        lk_trigger_wake(LK_WAKE_WATERMARK);
}

static void watermark_setup(void)
{
    uint64_t step = lk_config.watermark_bytes;
    if (lk_config.watermark_percent && lk_limits.effective)
        step = lk_limits.effective / 100 * lk_config.watermark_percent;
    __atomic_store_n(&lk_watermark_step, step, __ATOMIC_RELAXED);
    __atomic_store_n(&lk_watermark_hook, watermark_hit, __ATOMIC_RELEASE);
    __atomic_store_n(&lk_watermark_next, step ? step : UINT64_MAX, __ATOMIC_RELAXED);
}

/* ### the dumper thread */
static bool quit_asked;             /* atomic: leave, the exit dump is about to be written */
static pthread_t dumper;
static bool dumper_running;         /* atomic: handlers read it */

#define DUMPER_STACK_BYTES (256 * 1024)

/* Publish whether the dumper runs, and its stack and guard page (glibc maps
 * them) for the dump's cost section. */
static void set_running(bool on)
{
    __atomic_store_n(&lk_dump_thread_bytes, on ? DUMPER_STACK_BYTES + 4096 : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&dumper_running, on, __ATOMIC_RELEASE);
}

bool lk_trigger_dumper_alive(void)
{
    return __atomic_load_n(&dumper_running, __ATOMIC_ACQUIRE);
}

/* The number of threads of this process, and the main thread's state ('Z'
 * once main() called pthread_exit; it is still counted): fields 20 and 3 of
 * /proc/self/stat.  -1 when it cannot be read. */
static long thread_count(char *state)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');     /* comm may hold spaces and parentheses */
    if (!p || p[1] != ' ')
        return -1;
    *state = p[2];
    for (int field = 2; field < 20 && *p; p++)
        if (*p == ' ')
            field++;
    long threads = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        threads = threads * 10 + (*p - '0');
    return threads;
}

/* Is the dumper the only live thread left? */
static bool only_dumper_left(void)
{
    char state;
    long threads = thread_count(&state);
    return threads == 1 || (threads == 2 && state == 'Z');
}

static void *dumper_main(void *arg)
{
    LK_ENTRY;                       /* none of this thread's frames is the program's */
    (void)arg;
    lk_tls_guard = 1;               /* nothing this thread does is the program's */
    lk_tls_heap = 1;                /* and its memory comes from no glibc arena (heap.c) */
    /* the first tick a period from now: the start took a sample, and a
     * short-lived process (a shell's child) would pay three /proc reads
     * on this thread for a copy of it */
    uint64_t next_sample = lk_now_ns() + SAMPLE_NS;
    uint64_t interval_ns = (uint64_t)lk_config.interval_ms * 1000000u;
    uint64_t next_interval = interval_ns ? lk_now_ns() + interval_ns : UINT64_MAX;
    for (;;) {
        if (lk_unwind_wanted())
            lk_unwind_load();       /* a hook asked (LK_WAKE_UNWIND): never in a hook */
        uint64_t now = lk_now_ns();
        if (now >= next_sample) {
            lk_timeline_tick();
            lk_signals_check();
            next_sample = now + SAMPLE_NS;
            /* main() may end with pthread_exit(): once every program thread
             * is gone, leave too, so that the process exits (the last
             * thread's exit runs exit(0), our destructor and its dump)
             * instead of living on as this thread with all signals blocked */
            if (only_dumper_left()) {
                set_running(false);
                lk_tls_guard = 0;   /* what runs now (exit handlers) is the program's */
                lk_tls_heap = 0;
                return NULL;
            }
        }
        if (now >= next_interval) {
            lk_dump_write(LK_TRIGGER_INTERVAL, NULL);
            next_interval = lk_now_ns() + interval_ns;
        }
        uint64_t until = next_sample < next_interval ? next_sample : next_interval;
        now = lk_now_ns();
        int timeout = until > now ? (int)((until - now) / 1000000u) + 1 : 0;
        uint32_t bits = wake_wait(timeout);
        if (!bits)
            continue;
        if (bits & 16) {            /* dumper_stop(): its caller joins this thread */
            __atomic_fetch_or(&wake_bits, bits & ~16u, __ATOMIC_SEQ_CST);
            return NULL;
        }
        bool sig = bits & 1, wm = bits & 2, crash = bits & 4, sync = bits & 8, killed = bits & 32;
        if (killed) {
            /* a signal ends the process: its handler waits (bounded) for the exit dump */
            __atomic_fetch_or(&wake_bits, bits & ~32u, __ATOMIC_SEQ_CST);
            unsigned gen = lk_signals_requested();
            lk_dump_exit();
            lk_signals_done(gen);
            continue;
        }
        bool quit = __atomic_load_n(&quit_asked, __ATOMIC_ACQUIRE);
        if (crash || sync) {
            /* a dying handler waits (bounded) for these: first, and then told */
            unsigned gen = lk_signals_requested();
            lk_dump_write(crash ? LK_TRIGGER_CRASH : LK_TRIGGER_SIGNAL, NULL);
            lk_signals_done(gen);
            continue;
        }
        if (sig) {
            lk_signals_check();
            lk_dump_write(LK_TRIGGER_SIGNAL, NULL);
        }
        if (wm)
            lk_dump_write(LK_TRIGGER_WATERMARK, NULL);
        if (quit) {
            /* the exit dump is next: it scans one thread fewer, and the
             * kernel reaps a one-thread process faster.  Its stack stays
             * mapped (glibc's stack cache), so the cost section still counts it. */
            __atomic_store_n(&dumper_running, false, __ATOMIC_RELEASE);
            return NULL;
        }
    }
    return NULL;
}

/* Start the dumper thread with every signal blocked, so the program's signals
 * are never delivered to it.  Guard held by the caller. */
static void dumper_start(void)
{
    if (dumper_running)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* joinable: lk_trigger_stop and dumper_stop wait for it */
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_JOINABLE);
    pthread_attr_setstacksize(&attr, DUMPER_STACK_BYTES);
    if (pthread_create(&dumper, &attr, dumper_main, NULL) == 0)
        set_running(true);
    else
        lk_log("cannot start the dumper thread; snapshots and the timeline are off");
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Before the exit dump: ask the dumper thread to leave and wait until it is
 * gone (bounded, 1 s: it may be writing a dump, which the exit dump would
 * wait for anyway; then it stays).  A request that comes later is served by
 * the exit dump.  Not from the dumper itself (main() ended with
 * pthread_exit and it was the last thread). */
void lk_trigger_stop(void)
{
    if (!lk_trigger_dumper_alive() || pthread_equal(pthread_self(), dumper))
        return;
    if (__atomic_exchange_n(&quit_asked, true, __ATOMIC_ACQ_REL))
        return;                     /* another exiting thread joins it: a thread is joined once */
    lk_trigger_wake(WAKE_QUIT);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    int e = errno;
    (void)pthread_timedjoin_np(dumper, NULL, &until);
    errno = e;
}

/* ### fork: no lock may be inherited held; the child gets its own pid, dump
 * numbering and dumper thread, and keeps the inherited live blocks. */
static void fork_prepare(void)
{
    lk_dump_lock();
    lk_timeline_lock();
    lk_tracker_lock_all();
    lk_signals_fork_prepare();      /* last: it blocks every signal until fork returns */
    __atomic_add_fetch(&lk_scan_forks, 1, __ATOMIC_RELAXED);  /* its pages are shared now */
}

static void fork_parent(void)
{
    lk_signals_fork_done();
    lk_tracker_unlock_all();
    lk_timeline_unlock();
    lk_dump_unlock();
}

static void fork_child(void)
{
    LK_GUARD;
    __atomic_store_n(&lk_scan_forks, 0, __ATOMIC_RELAXED);    /* no child of its own yet */
    lk_signals_fork_done();
    lk_tracker_reset_after_fork();
    lk_timeline_unlock();
    lk_dump_reset_after_fork();
    lk_trigger_after_fork_child();
}

void lk_trigger_after_fork_child(void)
{
    /* The parent's thread is not ours, nor are its pending requests. */
    __atomic_store_n(&wake_bits, 0, __ATOMIC_SEQ_CST);
    set_running(false);
    __atomic_store_n(&quit_asked, false, __ATOMIC_RELAXED);
    dumper_start();
}

static void wake_for_unwinder(void)
{
    lk_trigger_wake(LK_WAKE_UNWIND);
}

static bool started;

/* ### namespaces: unshare(CLONE_NEWUSER) and setns() into a user or mount
 * namespace fail with EINVAL in a process with two threads, so the dumper
 * thread stops for the call and starts again after it: the program sees the
 * result it would see natively.  Snapshot requests made meanwhile are kept. */

/* Stop the dumper and wait until the kernel has let go of it (the join
 * returns before the thread is unhashed, when the kernel still counts it).
 * True if it was running. */
static bool dumper_stop(void)
{
    if (!__atomic_load_n(&dumper_running, __ATOMIC_ACQUIRE))
        return false;
    pthread_t t = dumper;
    lk_trigger_wake(LK_WAKE_STOP);
    pthread_join(t, NULL);
    set_running(false);
    char state;
    for (int i = 0; i < 200 && thread_count(&state) > 1; i++) {  /* bounded: 200 ms */
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return true;
}

int lk_trigger_ns_call(long nr, long a, long b, bool single)
{
    bool stopped = false;
    if (single && started) {
        LK_GUARD;
        stopped = dumper_stop();
    }
    long rc = syscall(nr, a, b);
    if (stopped) {
        int e = errno;
        lk_trigger_start_thread();
        errno = e;
    }
    return (int)rc;
}


void lk_trigger_start_tracking(void)
{
    if (started)
        return;
    started = true;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    lk_dump_lock();
    lk_dump_reserve();
    lk_dump_unlock();
    watermark_setup();
    lk_timeline_sample();
    __atomic_store_n(&lk_signals_wake, lk_trigger_wake, __ATOMIC_RELEASE);
    __atomic_store_n(&lk_unwind_wake, wake_for_unwinder, __ATOMIC_RELEASE);
    __atomic_store_n(&lk_signals_dumper_alive, lk_trigger_dumper_alive, __ATOMIC_RELEASE);
    lk_signals_start();
}

void lk_trigger_start_thread(void)
{
    LK_GUARD;
    dumper_start();
}
