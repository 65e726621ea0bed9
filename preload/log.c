/* log.c - libleak's diagnostics: one line per message on stderr.
 * Never allocates and never uses stdio: the line is formatted into a stack
 * buffer and written with write(2), so it is safe inside the hooks' slow paths
 * and after a fork. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static ssize_t log_write_default(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n);
}
ssize_t (*LK_SEAM lk_log_write)(int fd, const void *buf, size_t n) = log_write_default;

/* Format "libleak: <msg>\n" into a 512-byte stack buffer (truncated if longer)
 * and write it once, retrying on EINTR.  Preserves errno. */
static void log_line(const char *fmt, va_list ap)
{
    int saved = errno;
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
        ssize_t w = lk_log_write(2, p, n);
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
    if (lk_config.quiet)
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
