/* log.c - libleak's diagnostics: one line per message on the stderr the
 * program had at start, or in the LIBLEAK_LOG file.
 * Never allocates and never uses stdio: the line is formatted into a stack
 * buffer and written with write(2), so it is safe inside the hooks' slow paths
 * and after a fork. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The LIBLEAK_LOG descriptor is moved to this number or above, so that the
 * low numbers the program expects from its own open() calls stay free. */
#define LOG_FD_MIN 100

/* Where messages go.  Set at start (lk_log_start, lk_log_open), read by any
 * thread after.  'log_dev'/'log_ino' name the file 'log_fd' had then: a
 * program that closes the descriptor may reuse its number for a file of its
 * own, and a message is dropped rather than written into that file.  Before
 * lk_log_start (unit tests) fd 2 is written unchecked. */
static int log_fd = 2;
static bool log_checked;
static dev_t log_dev;
static ino_t log_ino;
static bool started;                /* lk_log_start ran */
static int err_fd = -1;             /* 2 when fd 2 was open at start */
static dev_t err_dev;
static ino_t err_ino;
static int file_fd = -1;            /* the LIBLEAK_LOG descriptor */
/* LIBLEAK_QUIET, set by config.c (above this file) as it loads the options. */
int lk_log_quiet;

static void use_stderr(void)
{
    log_fd = started ? err_fd : 2;
    log_dev = err_dev;
    log_ino = err_ino;
    log_checked = started;
}

void lk_log_start(void)
{
    int saved = errno;
    struct stat st;
    err_fd = fstat(2, &st) == 0 ? 2 : -1;
    err_dev = err_fd < 0 ? 0 : st.st_dev;
    err_ino = err_fd < 0 ? 0 : st.st_ino;
    started = true;
    if (file_fd < 0)
        use_stderr();
    errno = saved;
}

int lk_log_open(const char *path)
{
    int saved = errno, rc = 0;
    if (file_fd >= 0) {
        close(file_fd);
        file_fd = -1;
    }
    use_stderr();
    if (!path)
        return 0;
    /* O_APPEND: a forked child shares the descriptor, and its lines land
     * whole after the parent's; O_CLOEXEC: an exec'd program opens its own. */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, LOG_FD_MIN);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        close(fd);
        goto out;
    }
    file_fd = fd;
    log_dev = st.st_dev;
    log_ino = st.st_ino;
    log_fd = fd;
    log_checked = true;
out:
    errno = saved;
    return rc;
}

int lk_log_fd(void)
{
    return log_fd;
}

static ssize_t log_write_default(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n);
}
ssize_t (*LK_SEAM lk_log_write)(int fd, const void *buf, size_t n) = log_write_default;

/* Is 'fd' still the file it was at start?  fstat(2) is async-signal-safe. */
static bool log_target_ok(int fd)
{
    struct stat st;
    if (!log_checked)
        return true;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == log_dev && st.st_ino == log_ino;
}

/* Format "libleak: <msg>\n" into a 512-byte stack buffer (truncated if longer)
 * and write it once, retrying on EINTR; drop it when the target is gone.
 * Preserves errno. */
static void log_line(const char *fmt, va_list ap)
{
    int saved = errno;
    int fd = log_fd;
    if (!log_target_ok(fd)) {
        errno = saved;
        return;
    }
    char buf[512];
    size_t n = (size_t)snprintf(buf, sizeof buf, "libleak: ");
    int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    const char *p = buf;
    while (n > 0) {
        ssize_t w = lk_log_write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
    errno = saved;
}

void lk_log(const char *fmt, ...)
{
    if (__atomic_load_n(&lk_log_quiet, __ATOMIC_RELAXED))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(fmt, ap);
    va_end(ap);
}

void lk_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(fmt, ap);
    va_end(ap);
}
