/* trigger.c - when dumps happen: fork handling, the snapshot signal, the
 * interval, the watermark, and the timeline sampled by the dumper thread
 * (signals.c owns the signals).
 * The signal handlers and the allocation hot path only write one byte to a
 * pipe; the dumper thread (every signal blocked, guard always held) does the
 * dumping and the sampling.  Nothing here may block the traced program. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SAMPLE_NS (100 * 1000000ull)    /* timeline tick: ~100 ms */
#define TL_CAP LK_TIMELINE_CAP

/* ### timeline */
static pthread_mutex_t tl_lock = PTHREAD_MUTEX_INITIALIZER;
static lk_sample_t tl[TL_CAP];          /* guarded by tl_lock */
static size_t tl_n;                     /* guarded by tl_lock */
static uint64_t tl_prev_allocs, tl_prev_frees; /* guarded by tl_lock */
static unsigned tl_stride = 1;          /* keep one tick in 'tl_stride'; guarded by tl_lock */
static unsigned tl_tick;                /* guarded by tl_lock */

uint64_t lk_rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "size resident shared ...": the second field, in pages */
    const char *p = buf;
    while (*p && *p != ' ')
        p++;
    uint64_t pages = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (uint64_t)(*p - '0');
    long psz = sysconf(_SC_PAGESIZE);
    return pages * (uint64_t)(psz > 0 ? psz : 4096);
}

/* Halve the resolution: merge sample pairs, keeping the later time and levels
 * and summing the per-interval counts.  Caller holds tl_lock. */
static void tl_compact(void)
{
    size_t j = 0;
    for (size_t i = 0; i + 1 < tl_n; i += 2, j++) {
        lk_sample_t m = tl[i + 1];
        m.allocs += tl[i].allocs;
        m.frees += tl[i].frees;
        tl[j] = m;
    }
    if (tl_n % 2)
        tl[j++] = tl[tl_n - 1];
    tl_n = j;
    tl_stride *= 2;
}

/* The LK_TL_SITES sites of this process with the most live bytes into 's',
 * largest first (counters folded by the caller).  Only the dumper thread and
 * a dump call it: one pass over the sites, with no lock and nothing asked of
 * the hooks. */
static void tl_top_sites(lk_sample_t *s)
{
    uint32_t n = lk_site_count(), k = 0;
    for (uint32_t i = __atomic_load_n(&lk_site_base, __ATOMIC_RELAXED); i < n; i++) {
        const lk_site_t *site = lk_site_at(i);
        uint64_t b = site ? __atomic_load_n(&site->live_bytes, __ATOMIC_RELAXED) : 0;
        if (b == 0 || (k == LK_TL_SITES && b <= s->site_bytes[k - 1]))
            continue;
        uint32_t j = k < LK_TL_SITES ? k++ : k - 1;     /* the smallest gives way */
        for (; j > 0 && s->site_bytes[j - 1] < b; j--) {
            s->site[j] = s->site[j - 1];
            s->site_bytes[j] = s->site_bytes[j - 1];
        }
        s->site[j] = i;
        s->site_bytes[j] = b;
    }
    s->nsites = k;
}

static void tl_add(bool forced)
{
    lk_totals_t t;
    lk_tracker_totals(&t);
    lk_sample_t top = { 0 };
    tl_top_sites(&top);
    uint64_t rss = lk_rss_bytes();
    uint64_t now = lk_now_ns() - lk_start_ns;
    pthread_mutex_lock(&tl_lock);
    if (forced || ++tl_tick >= tl_stride || tl_n == 0) {
        tl_tick = 0;
        if (tl_n == TL_CAP)
            tl_compact();
        lk_sample_t s = { now, t.live_bytes, rss,
                          t.alloc_count - (t.alloc_count >= tl_prev_allocs ? tl_prev_allocs : 0),
                          t.free_count - (t.free_count >= tl_prev_frees ? tl_prev_frees : 0),
                          top.nsites, { 0 }, { 0 } };
        memcpy(s.site, top.site, sizeof s.site);
        memcpy(s.site_bytes, top.site_bytes, sizeof s.site_bytes);
        tl_prev_allocs = t.alloc_count;
        tl_prev_frees = t.free_count;
        tl[tl_n++] = s;
    }
    pthread_mutex_unlock(&tl_lock);
}

void lk_timeline_reset_for_tests(void)
{
    pthread_mutex_lock(&tl_lock);
    tl_n = 0;
    tl_prev_allocs = tl_prev_frees = 0;
    tl_stride = 1;
    tl_tick = 0;
    pthread_mutex_unlock(&tl_lock);
}

void lk_timeline_sample(void)
{
    tl_add(true);
}

size_t lk_timeline_copy(lk_sample_t *out, size_t max)
{
    pthread_mutex_lock(&tl_lock);
    size_t n = tl_n < max ? tl_n : max;
    memcpy(out, tl, n * sizeof *out);
    pthread_mutex_unlock(&tl_lock);
    return n;
}

/* ### the wake-up pipe (written by the signal handler and the hot path) */
static int wake_fd[2] = { -1, -1 };
static ino_t wake_ino;              /* the pipe's inode: both ends share it */
static dev_t wake_dev;

/* Is 'fd' still our pipe?  A program that closes every descriptor (a daemon)
 * may have reused the number for its own file: never write or read it then.
 * fstat is async-signal-safe. */
static bool is_our_pipe(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_ino == wake_ino &&
           st.st_dev == wake_dev;
}

/* errno kept, fstat's included (a handler's caller, and malloc_exact, do not
 * save it). */
void lk_trigger_wake(char why)
{
    int e = errno;
    int fd = __atomic_load_n(&wake_fd[1], __ATOMIC_RELAXED);
    if (is_our_pipe(fd))
        (void)!write(fd, &why, 1);  /* non-blocking: a full pipe already means "wake" */
    errno = e;
}

/* ### watermark */
static uint64_t wm_step;            /* bytes per step, 0 = off */

uint64_t lk_trigger_watermark_step(void)
{
    return wm_step;
}

/* Hot path (guard held): live bytes reached lk_watermark_next.  Move the mark
 * to the next multiple of the step above 'live' and wake the dumper once. */
void lk_trigger_watermark_hit(uint64_t live)
{
    uint64_t cur = __atomic_load_n(&lk_watermark_next, __ATOMIC_RELAXED);
    if (wm_step == 0 || live < cur)
        return;
    uint64_t next = (live / wm_step + 1) * wm_step;
    if (__atomic_compare_exchange_n(&lk_watermark_next, &cur, next, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        lk_trigger_wake(LK_WAKE_WATERMARK);
}

static void watermark_setup(void)
{
    wm_step = lk_config.watermark_bytes;
    if (lk_config.watermark_percent && lk_limits.effective)
        wm_step = lk_limits.effective / 100 * lk_config.watermark_percent;
    __atomic_store_n(&lk_watermark_next, wm_step ? wm_step : UINT64_MAX, __ATOMIC_RELAXED);
}

/* ### the dumper thread */
static pthread_t dumper;
static bool dumper_running;         /* atomic: handlers read it */

bool lk_trigger_dumper_alive(void)
{
    return __atomic_load_n(&dumper_running, __ATOMIC_ACQUIRE);
}

static int pipe_open(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return -errno;
    struct stat st;
    if (fstat(fds[0], &st) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -EIO;
    }
    wake_ino = st.st_ino;
    wake_dev = st.st_dev;
    __atomic_store_n(&wake_fd[0], fds[0], __ATOMIC_RELAXED);
    __atomic_store_n(&wake_fd[1], fds[1], __ATOMIC_RELEASE);
    return 0;
}

/* Is the dumper the only live thread left?  /proc/self/stat: field 3 is the
 * main thread's state ('Z' once main() called pthread_exit; it is still
 * counted) and field 20 the number of threads. */
static bool only_dumper_left(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');     /* comm may hold spaces and parentheses */
    if (!p || p[1] != ' ')
        return false;
    char state = p[2];
    for (int field = 2; field < 20 && *p; p++)
        if (*p == ' ')
            field++;
    long threads = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        threads = threads * 10 + (*p - '0');
    return threads == 1 || (threads == 2 && state == 'Z');
}

static void *dumper_main(void *arg)
{
    LK_ENTRY;                       /* none of this thread's frames is the program's */
    (void)arg;
    lk_tls_guard = 1;               /* nothing this thread does is the program's */
    lk_tls_heap = 1;                /* and its memory comes from no glibc arena (heap.c) */
    uint64_t next_sample = lk_now_ns();
    uint64_t interval_ns = (uint64_t)lk_config.interval_ms * 1000000u;
    uint64_t next_interval = interval_ns ? lk_now_ns() + interval_ns : UINT64_MAX;
    for (;;) {
        uint64_t now = lk_now_ns();
        if (now >= next_sample) {
            tl_add(false);
            lk_signals_check();
            next_sample = now + SAMPLE_NS;
            /* main() may end with pthread_exit(): once every program thread
             * is gone, leave too, so that the process exits (the last
             * thread's exit runs exit(0), our destructor and its dump)
             * instead of living on as this thread with all signals blocked */
            if (only_dumper_left()) {
                __atomic_store_n(&dumper_running, false, __ATOMIC_RELEASE);
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
        if (!is_our_pipe(wake_fd[0])) {
            /* the program closed (and maybe reused) our descriptors: make a
             * new pipe, never touching the old numbers again */
            __atomic_store_n(&wake_fd[1], -1, __ATOMIC_RELEASE);
            wake_fd[0] = -1;
            if (pipe_open() != 0) {
                struct timespec ts = { 0, 100 * 1000000 };
                nanosleep(&ts, NULL);
                continue;
            }
        }
        struct pollfd pfd = { .fd = wake_fd[0], .events = POLLIN, .revents = 0 };
        int rc = poll(&pfd, 1, timeout);
        if (rc <= 0 || !(pfd.revents & POLLIN))
            continue;
        char buf[64];
        ssize_t n = read(wake_fd[0], buf, sizeof buf);
        bool sig = false, wm = false, crash = false, sync = false;
        for (ssize_t i = 0; i < n; i++) {
            sig |= buf[i] == LK_WAKE_SIGNAL;
            wm |= buf[i] == LK_WAKE_WATERMARK;
            crash |= buf[i] == LK_WAKE_CRASH;
            sync |= buf[i] == LK_WAKE_SYNC;
        }
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
    }
    return NULL;
}

#define DUMPER_STACK_BYTES (256 * 1024)

/* The dumper thread's stack and guard page (glibc maps them): 0 if none. */
size_t lk_trigger_thread_bytes(void)
{
    return dumper_running ? DUMPER_STACK_BYTES + 4096 : 0;
}

/* Start the dumper thread with every signal blocked, so the program's signals
 * are never delivered to it.  Guard held by the caller. */
static void dumper_start(void)
{
    if (dumper_running || (wake_fd[0] < 0 && pipe_open() != 0))
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, DUMPER_STACK_BYTES);
    if (pthread_create(&dumper, &attr, dumper_main, NULL) == 0)
        __atomic_store_n(&dumper_running, true, __ATOMIC_RELEASE);
    else
        lk_log("cannot start the dumper thread; snapshots and the timeline are off");
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ### fork: no lock may be inherited held; the child gets its own pid, dump
 * numbering, pipe and dumper thread, and keeps the inherited live blocks. */
static void fork_prepare(void)
{
    lk_dump_lock();
    pthread_mutex_lock(&tl_lock);
    lk_tracker_lock_all();
    lk_signals_fork_prepare();      /* last: it blocks every signal until fork returns */
}

static void fork_parent(void)
{
    lk_signals_fork_done();
    lk_tracker_unlock_all();
    pthread_mutex_unlock(&tl_lock);
    lk_dump_unlock();
}

static void fork_child(void)
{
    LK_GUARD;
    lk_signals_fork_done();
    lk_tracker_reset_after_fork();
    pthread_mutex_unlock(&tl_lock);
    lk_dump_reset_after_fork();
    lk_trigger_after_fork_child();
}

void lk_trigger_after_fork_child(void)
{
    /* The parent's pipe and thread are not ours: the signal handler must wake
     * this process's own dumper. */
    int r = wake_fd[0], w = wake_fd[1];
    __atomic_store_n(&wake_fd[1], -1, __ATOMIC_RELEASE);
    wake_fd[0] = -1;
    if (is_our_pipe(r))
        close(r);
    if (is_our_pipe(w))
        close(w);
    __atomic_store_n(&dumper_running, false, __ATOMIC_RELEASE);
    dumper_start();
}

static bool started;

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
    tl_add(true);
    if (pipe_open() != 0)
        lk_log("cannot create the wake-up pipe: %s; snapshots are off", strerror(errno));
    lk_signals_start();
}

void lk_trigger_start_thread(void)
{
    LK_GUARD;
    dumper_start();
}
