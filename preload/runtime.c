/* runtime.c - what every layer of libleak stands on: the real allocator
 * functions (and the exit arena and the dumper's heap behind them), the
 * per-thread guard, the clock, the pid, the memory limits and the RSS.
 * Calls nothing above it; allocates only through the real functions. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ### real allocator */
lk_real_fns_t lk_real;

/* Before hooks.c has installed the real functions (and always in the unit-test
 * core, which has no hooks): libc's own, never libleak's hooks. */
#ifdef LK_TESTING
#define LIBC_MALLOC malloc
#define LIBC_FREE free
#define LIBC_CALLOC calloc
#define LIBC_REALLOC realloc
#else
void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
#define LIBC_MALLOC __libc_malloc
#define LIBC_FREE __libc_free
#define LIBC_CALLOC __libc_calloc
#define LIBC_REALLOC __libc_realloc
#endif

/* The usable size of 'p', a block of the real allocator, which reads it from
 * the chunk header without locking. */
size_t lk_real_usable(void *p)
{
    if (lk_real.usable)
        return lk_real.usable(p);
#ifdef LK_TESTING
    return malloc_usable_size(p);
#else
    return 0;                   /* no real block exists before hooks.c installed lk_real */
#endif
}

static void real_free_raw(void *p)
{
    if (lk_real.free)
        lk_real.free(p);
    else
        LIBC_FREE(p);
}

/* ### exit arena
 * In sampling mode the hooks call the real malloc and free unmarked (no
 * LK_REAL: that keeps them tail calls), so a signal handler that calls _exit
 * may have interrupted the real allocator holding its arena lock, and an exit
 * dump that allocates would wait for that lock forever.  So the thread that
 * writes such a dump takes all of its memory, ours and libc's (qsort), from a
 * private bump region instead, and frees nothing: the process is ending.  One
 * thread only (the first to enter); a signal handler nested in it may
 * allocate too, hence the atomic bump.  Blocks carry a 16-byte size header. */
__thread int lk_tls_exit_arena __attribute__((tls_model("initial-exec")));
int lk_exit_arena_on;               /* atomic: a thread has entered */
static lk_bump_t xa;                /* base published with release */

/* Bytes made resident at once past the arena's end: one madvise instead
 * of a fault a page (a fault costs 10 us or more on a paravirtualised VM).
 * The step doubles from XA_POPULATE_MIN, about what the smallest dump takes
 * (/bin/true's: 40-64 KiB), with what the dump has taken, up to XA_POPULATE
 * (bash's takes ~330 KiB): a first step of 256 KiB had the kernel zero 48
 * pages that /bin/true's dump never used. */
#define XA_POPULATE ((size_t)256 << 10)
#define XA_POPULATE_MIN ((size_t)64 << 10)
static size_t xa_populated;         /* atomic: offset up to which pages are populated */
/* Not lk_mmap: heap.c's count of resident pages would probe the whole
 * reservation with mincore (64 calls for 1 GiB); lk_exit_arena_cost counts it. */
static void *xa_map(size_t sz);
/* An arena taken by choice, not need (no sampling): once it is full, the
 * real allocator serves the rest, rather than losing the dump. */
static bool xa_fallback;

bool lk_exit_arena_enter(bool must)
{
    if (__atomic_exchange_n(&lk_exit_arena_on, 1, __ATOMIC_ACQ_REL) != 0)
        return false;
    /* Address space only (MAP_NORESERVE): what the dump touches is what it
     * costs.  Smaller tries for a process near its RLIMIT_AS. */
    /* by choice: 16 MiB of address space, which a small program's dump
     * does not fill (bash's takes about 1 MiB); a bigger one goes on in
     * the real allocator */
    for (size_t sz = (size_t)1 << (must ? 30 : 24); sz >= ((size_t)4 << 20); sz >>= 2) {
        void *p = xa_map(sz);
        if (p != MAP_FAILED) {
#ifdef MADV_POPULATE_WRITE
            /* before the first block's header is written: a fault less */
            if (madvise(p, XA_POPULATE_MIN, MADV_POPULATE_WRITE) == 0)
                __atomic_store_n(&xa_populated, XA_POPULATE_MIN, __ATOMIC_RELAXED);
#endif
            xa.size = sz;
            __atomic_store_n(&xa.base, (char *)p, __ATOMIC_RELEASE);
            xa_fallback = !must;
            lk_tls_exit_arena = 1;
            return true;
        }
    }
    if (must) {
        lk_log("no address space left for the exit dump: none is written");
        return false;               /* lk_exit_arena_on stays set: nobody else tries */
    }
    __atomic_store_n(&lk_exit_arena_on, 0, __ATOMIC_RELEASE);
    return false;
}

void lk_exit_arena_cost(uint64_t *mapped, uint64_t *resident)
{
    const char *b = __atomic_load_n(&xa.base, __ATOMIC_ACQUIRE);
    size_t used = __atomic_load_n(&xa.used, __ATOMIC_RELAXED);
    size_t pop = __atomic_load_n(&xa_populated, __ATOMIC_RELAXED);
    used = used < xa.size ? (used + 4095) & ~(size_t)4095 : xa.size;
    *mapped = b ? xa.size : 0;
    *resident = b ? (pop > used ? pop : used) : 0;
}

bool lk_exit_arena_owns(const void *p)
{
    const char *b = __atomic_load_n(&xa.base, __ATOMIC_ACQUIRE);
    return b && (const char *)p >= b && (const char *)p < b + xa.size;
}

void *lk_exit_arena_alloc(size_t n, size_t align)
{
    void *q = lk_bump_alloc(&xa, n, align);    /* fresh pages, never reused: calloc for free */
    if (!q) {
        errno = ENOMEM;
        return q;
    }
#ifdef MADV_POPULATE_WRITE
    /* and room for the next block's header and alignment, written before
     * its own call gets here */
    size_t end = (size_t)((char *)q - xa.base) + n + 128;
    size_t done = __atomic_load_n(&xa_populated, __ATOMIC_RELAXED);
    if (end > done) {
        size_t step = XA_POPULATE_MIN;     /* a power of two: 'to' is rounded with it */
        while (step < XA_POPULATE && (step < done || step < end - done))
            step *= 2;
        size_t to = (end + step - 1) & ~(step - 1);
        if (to > xa.size)
            to = xa.size;
        /* a nested (signal handler's) allocation may populate the same
         * pages again: harmless; before Linux 5.14 EINVAL, and pages fault in */
        if (__atomic_compare_exchange_n(&xa_populated, &done, to, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            madvise(xa.base + done, to - done, MADV_POPULATE_WRITE);
    }
#endif
    return q;
}

void *lk_exit_arena_realloc(void *p, size_t n)
{
    void *q = lk_exit_arena_alloc(n, 16);
    if (q && p) {
        /* a block from before the dump */
        size_t old = lk_exit_arena_owns(p) ? lk_bump_size(p) : lk_real_usable(p);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}

void *lk_real_malloc(size_t n)
{
    if (lk_unlikely(lk_tls_exit_arena)) {
        void *q = lk_exit_arena_alloc(n, 16);
        if (q || !xa_fallback)
            return q;
    }
    if (lk_unlikely(lk_tls_heap))
        return lk_heap_alloc(n, 16);
    return lk_real.malloc ? lk_real.malloc(n) : LIBC_MALLOC(n);
}
void lk_real_free(void *p)
{
    if (lk_exit_arena_keeps(p))
        return;
    if (p && lk_heap_owns(p)) {
        lk_heap_free(p);
        return;
    }
    real_free_raw(p);
}
void *lk_real_calloc(size_t n, size_t size)
{
    if (lk_unlikely(lk_tls_exit_arena)) {
        size_t total;
        if (__builtin_mul_overflow(n, size, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        void *q = lk_exit_arena_alloc(total, 16);
        if (q || !xa_fallback)
            return q;
        return lk_real.calloc ? lk_real.calloc(n, size) : LIBC_CALLOC(n, size);
    }
    if (lk_unlikely(lk_tls_heap))
        return lk_heap_calloc(n, size);
    return lk_real.calloc ? lk_real.calloc(n, size) : LIBC_CALLOC(n, size);
}
void *lk_real_realloc(void *p, size_t n)
{
    if (lk_unlikely(lk_tls_exit_arena)) {
        void *q = lk_exit_arena_realloc(p, n);
        if (q || !xa_fallback)
            return q;
        /* the arena is full: a block of the real allocator, 'p' left as it is */
        q = lk_real.malloc ? lk_real.malloc(n) : LIBC_MALLOC(n);
        if (q && p) {
            size_t old = lk_exit_arena_owns(p) ? lk_bump_size(p) : lk_real_usable(p);
            memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    if (lk_unlikely(lk_tls_heap) || (p && lk_heap_owns(p))) {
        if (!p || lk_heap_owns(p))
            return lk_heap_realloc(p, n);
        /* the dumper thread growing a block of the real allocator: move it */
        void *q = lk_heap_alloc(n, 16);
        if (q) {
            size_t old = lk_real_usable(p);
            memcpy(q, p, old < n ? old : n);
            real_free_raw(p);
        }
        return q;
    }
    return lk_real.realloc ? lk_real.realloc(p, n) : LIBC_REALLOC(p, n);
}

/* ### guard, time, process */
__thread int lk_tls_guard __attribute__((tls_model("initial-exec")));
__thread int *lk_tls_errno __attribute__((tls_model("initial-exec")));
__thread int lk_tls_in_real __attribute__((tls_model("initial-exec")));
uint64_t lk_start_ns;
uint64_t lk_start_unix_ms;
pid_t lk_pid;

uint64_t lk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lk_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

lk_limits_t lk_limits;

/* ### small file helpers (read(2), no stdio: may run in a fresh fork child) */

/* Read up to 'cap'-1 bytes of 'path' into 'buf', NUL-terminated.  Returns the
 * length or -errno. */
ssize_t lk_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* One read(2) of a one-line file (a cgroup's value: the kernel hands it over
 * whole): lk_read_file's second read, for its end, is a system call more. */
static ssize_t read_value(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = read(fd, buf, cap - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

/* ### limits */
/* Where /proc and the cgroup file systems are: "" (tests: a fake tree). */
const char *LK_SEAM lk_cgroup_root = "";

/* Call 'cb' on each line of 'path' (without its newline; lines longer than
 * 1023 bytes are cut) until it returns non-zero.  read(2) through a small
 * buffer: mountinfo can be large and this may run on a small thread stack.
 * Returns what 'cb' returned, 0 at the end, or -errno. */
static int for_each_line(const char *path, int (*cb)(char *line, void *arg), void *arg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[2048], line[1024];
    size_t ll = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r && rc == 0; i++) {
            if (buf[i] != '\n') {
                if (ll + 1 < sizeof line)
                    line[ll++] = buf[i];
                continue;
            }
            line[ll] = '\0';
            ll = 0;
            rc = cb(line, arg);
        }
        if (rc != 0)
            break;
    }
    if (rc == 0 && ll > 0) {
        line[ll] = '\0';
        rc = cb(line, arg);
    }
    close(fd);
    return rc;
}

/* The process's cgroup paths, from /proc/self/cgroup: the v1 hierarchy that
 * has the memory controller ("N:cpu,memory:/path") and the v2 one ("0::/path"). */
typedef struct cg_paths {
    char v1[512], v2[512];
    bool has_v1, has_v2;
} cg_paths_t;

static int cgroup_line(char *line, void *arg)
{
    cg_paths_t *p = arg;
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return 0;
    *c2 = '\0';
    const char *ctl = c1 + 1, *path = c2 + 1;
    if (strncmp(line, "0:", 2) == 0 && *ctl == '\0') {
        p->has_v2 = snprintf(p->v2, sizeof p->v2, "%s", path) < (int)sizeof p->v2;
        return 0;
    }
    for (const char *t = ctl; *t;) {
        size_t n = strcspn(t, ",");
        if (n == 6 && strncmp(t, "memory", 6) == 0)
            p->has_v1 = snprintf(p->v1, sizeof p->v1, "%s", path) < (int)sizeof p->v1;
        t += n + (t[n] == ',');
    }
    return 0;
}

/* One mountinfo query: the mount point and root of the cgroup2 file system
 * ('v1' false) or of the v1 one with the memory controller. */
typedef struct cg_mount {
    bool v1, found;
    char point[512], root[512];
} cg_mount_t;

/* Copy mountinfo field 'src' (octal escapes such as \040 decoded) to 'dst'. */
static void unescape(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    while (*src && n + 1 < cap) {
        if (src[0] == '\\' && src[1] >= '0' && src[1] <= '3' && src[2] >= '0' && src[2] <= '7' &&
            src[3] >= '0' && src[3] <= '7') {
            dst[n++] = (char)((src[1] - '0') * 64 + (src[2] - '0') * 8 + (src[3] - '0'));
            src += 4;
        } else {
            dst[n++] = *src++;
        }
    }
    dst[n] = '\0';
}

/* "36 25 0:31 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw" (proc(5)) */
static int mountinfo_line(char *line, void *arg)
{
    cg_mount_t *m = arg;
    char *f[6], *save = NULL, *sep = NULL;
    int n = 0;
    for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n < 6)
            f[n] = t;
        n++;
        if (strcmp(t, "-") == 0 && n > 5) {
            sep = t;
            break;
        }
    }
    if (!sep)
        return 0;
    char *fstype = strtok_r(NULL, " ", &save);
    char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
    char *opts = source ? strtok_r(NULL, " ", &save) : NULL;
    if (!opts)
        return 0;
    if (m->v1) {
        if (strcmp(fstype, "cgroup") != 0)
            return 0;
        bool mem = false;
        for (const char *t = opts; *t;) {
            size_t k = strcspn(t, ",");
            mem |= k == 6 && strncmp(t, "memory", 6) == 0;
            t += k + (t[k] == ',');
        }
        if (!mem)
            return 0;
    } else if (strcmp(fstype, "cgroup2") != 0) {
        return 0;
    }
    unescape(m->root, sizeof m->root, f[3]);
    unescape(m->point, sizeof m->point, f[4]);
    m->found = true;
    return 1;
}

/* The smallest limit in 'file' of the cgroup at 'rel' below the mount
 * 'm' and of its ancestors up to the mount (a parent's limit binds its
 * children too); 0 when none.  '*where' gets the file that set it. */
static uint64_t cgroup_walk(const cg_mount_t *m, const char *path, const char *file,
                            char *where, size_t wcap)
{
    const char *root = lk_cgroup_root;
    /* a path below the mount's root (a cgroup namespace shows "/") */
    const char *rel = path;
    size_t rl = strlen(m->root);
    if (strcmp(m->root, "/") != 0 && strncmp(path, m->root, rl) == 0 &&
        (path[rl] == '/' || path[rl] == '\0'))
        rel = path + rl;
    char dir[1200], f[1300], val[64];
    if (snprintf(dir, sizeof dir, "%s%s%s", root, m->point, strcmp(rel, "/") == 0 ? "" : rel)
        >= (int)sizeof dir)
        return 0;
    size_t floor = strlen(root) + strlen(m->point);
    uint64_t best = 0;
    for (;;) {
        snprintf(f, sizeof f, "%s/%s", dir, file);
        if (read_value(f, val, sizeof val) > 0) {
            char *nl = strchr(val, '\n');
            if (nl)
                *nl = '\0';
            uint64_t v;
            /* v2 says "max"; v1 says a page-rounded LONG_MAX when unlimited */
            if (strcmp(val, "max") != 0 && lk_config_parse_bytes(val, &v) == 0 && v > 0 &&
                v < (UINT64_C(1) << 62) && (best == 0 || v < best)) {
                best = v;
                snprintf(where, wcap, "%s", f + strlen(root));
            }
        }
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < floor)
            break;
        *slash = '\0';
    }
    return best;
}

/* The usual mount without reading mountinfo (which costs the kernel ~140 us
 * to write out, more than the rest of this): the controller's file system at
 * its conventional place (statfs), mounted at its root, which the
 * process's own cgroup directory existing there shows.  Else false, and
 * mountinfo decides (a mount of a subtree, a fake tree of the tests). */
static bool cgroup_usual_mount(cg_mount_t *m, const char *path)
{
    const char *point = m->v1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup";
    char dir[1200];
    struct statfs fs;
    struct stat st;
    if (lk_cgroup_root[0] != '\0' || statfs(point, &fs) != 0 ||
        fs.f_type != (m->v1 ? CGROUP_SUPER_MAGIC : CGROUP2_SUPER_MAGIC) ||
        snprintf(dir, sizeof dir, "%s%s", point, path) >= (int)sizeof dir ||
        stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    snprintf(m->point, sizeof m->point, "%s", point);
    snprintf(m->root, sizeof m->root, "/");
    m->found = true;
    return true;
}

int lk_limits_cgroup(uint64_t *bytes, int *version, char *file, size_t cap)
{
    char path[1200];
    cg_paths_t p = { .has_v1 = false };
    *bytes = 0;
    *version = 0;
    file[0] = '\0';
    snprintf(path, sizeof path, "%s/proc/self/cgroup", lk_cgroup_root);
    int rc = for_each_line(path, cgroup_line, &p);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof path, "%s/proc/self/mountinfo", lk_cgroup_root);
    /* v1 first: on a hybrid system the memory controller is v1's */
    if (p.has_v1) {
        cg_mount_t m = { .v1 = true };
        if (!cgroup_usual_mount(&m, p.v1) && (for_each_line(path, mountinfo_line, &m) <= 0 || !m.found))
            m = (cg_mount_t){ true, true, "/sys/fs/cgroup/memory", "/" };
        *bytes = cgroup_walk(&m, p.v1, "memory.limit_in_bytes", file, cap);
        if (*bytes)
            *version = 1;
        return 0;
    }
    if (p.has_v2) {
        cg_mount_t m = { .v1 = false };
        if (!cgroup_usual_mount(&m, p.v2) && (for_each_line(path, mountinfo_line, &m) <= 0 || !m.found))
            m = (cg_mount_t){ false, true, "/sys/fs/cgroup", "/" };
        *bytes = cgroup_walk(&m, p.v2, "memory.max", file, cap);
        if (*bytes)
            *version = 2;
    }
    return 0;
}

void lk_limits_load(void)
{
    struct rlimit rl;
    static lk_limits_t l;       /* big (a path): not on a small thread stack */
    memset(&l, 0, sizeof l);
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        l.rlimit_as = rl.rlim_cur;
    if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        l.rlimit_data = rl.rlim_cur;
    /* The cgroup's limit, read once (at start) and not at every dump: ten
     * files opened, by every process and forked child, for a value that a
     * program does not change the way it calls setrlimit(). */
    static lk_limits_t cg;      /* its cgroup fields */
    static const char *cg_root; /* the root they were read under (tests move it) */
    static bool cg_read;
    if (!cg_read || cg_root != lk_cgroup_root) {
        lk_limits_cgroup(&cg.cgroup_max, &cg.cgroup_version, cg.cgroup_file, sizeof cg.cgroup_file);
        cg_root = lk_cgroup_root;
        cg_read = true;
    }
    l.cgroup_max = cg.cgroup_max;
    l.cgroup_version = cg.cgroup_version;
    memcpy(l.cgroup_file, cg.cgroup_file, sizeof l.cgroup_file);
    static uint64_t phys;       /* RAM: read once (sysinfo(2)), as the cgroup's */
    if (phys == 0) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        if (pages > 0 && psz > 0)
            phys = (uint64_t)pages * (uint64_t)psz;
    }
    l.phys = phys;
    uint64_t e = l.phys;
    const uint64_t cand[3] = { l.rlimit_as, l.rlimit_data, l.cgroup_max };
    for (int i = 0; i < 3; i++)
        if (cand[i] && (e == 0 || cand[i] < e))
            e = cand[i];
    l.effective = e;
    lk_limits = l;
}

/* ### RSS */
static uint64_t rss_last, rss_last_ns;  /* atomic: the last value read, and when */

uint64_t lk_rss_bytes_recent(uint64_t max_age_ns)
{
    uint64_t at = __atomic_load_n(&rss_last_ns, __ATOMIC_ACQUIRE);
    if (at != 0 && lk_now_ns() - at <= max_age_ns)
        return __atomic_load_n(&rss_last, __ATOMIC_RELAXED);
    return lk_rss_bytes();
}

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
    uint64_t rss = pages * (uint64_t)(psz > 0 ? psz : 4096);
    __atomic_store_n(&rss_last, rss, __ATOMIC_RELAXED);
    __atomic_store_n(&rss_last_ns, lk_now_ns(), __ATOMIC_RELEASE);
    return rss;
}

/* Last in the file: internal.h maps mmap to heap.c's counting lk_mmap. */
#undef mmap
static void *xa_map(size_t sz)
{
    return mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
}
