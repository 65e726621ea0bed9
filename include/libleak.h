/* libleak.h - optional runtime API for programs traced by libleak.so.
 *
 * Every function here is declared weak: a program that includes this header
 * and calls libleak_snapshot() links and runs normally when libleak.so is not
 * preloaded, because the call is skipped when the symbol resolves to NULL.
 * Use the LIBLEAK_* macros, which do that check for you:
 *
 *     #include <libleak.h>
 *     LIBLEAK_SNAPSHOT("after-warmup");   // a no-op without the preload
 */
#ifndef LIBLEAK_H
#define LIBLEAK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Write a snapshot dump now, labelled 'label' (may be NULL; at most 63 bytes
 * are kept).  Returns 0 when the dump was written, or a negative errno value.
 * Safe to call from any thread; not async-signal-safe.  The dump is written
 * by the caller's thread, outside the allocation tables' locks. */
int libleak_snapshot(const char *label) __attribute__((weak));

/* Returns non-zero when libleak.so is loaded and tracking this process. */
int libleak_is_active(void) __attribute__((weak));

#define LIBLEAK_SNAPSHOT(label) \
    (libleak_snapshot ? libleak_snapshot(label) : -38 /* -ENOSYS */)
#define LIBLEAK_ACTIVE() (libleak_is_active ? libleak_is_active() : 0)

#ifdef __cplusplus
}
#endif

#endif /* LIBLEAK_H */
