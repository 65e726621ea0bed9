/* unwinder.h - libunwind, loaded only when a stack needs it (dlopen), and the
 * two walks that never load it: the exit scan's outer frame and the crash
 * stack, both through libgcc's unwinder.  preload/README.md "libunwind,
 * loaded late" has the reasons. */
#ifndef LK_UNWINDER_H
#define LK_UNWINDER_H

#define UNW_LOCAL_ONLY          /* the _UL functions: this process only */
#include <libunwind.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

/* libunwind's functions that libleak calls, resolved with dlsym. */
typedef struct lk_unw {
    int (*getcontext)(unw_context_t *);
    int (*init_local)(unw_cursor_t *, unw_context_t *);
    int (*step)(unw_cursor_t *);
    int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
    int (*get_save_loc)(unw_cursor_t *, int, unw_save_loc_t *);
    int (*is_signal_frame)(unw_cursor_t *);
    int (*get_proc_info)(unw_cursor_t *, unw_proc_info_t *);
    int (*backtrace)(void **, int);
} lk_unw_t;

/* The functions once loaded, else NULL (never blocks, never loads): safe
 * anywhere, a signal handler included. */
static inline const lk_unw_t *lk_unw(void)
{
    extern const lk_unw_t *lk_unw_loaded;
    return __atomic_load_n(&lk_unw_loaded, __ATOMIC_ACQUIRE);
}

/* The functions, or NULL after asking for them: the first ask wakes the
 * dumper thread (lk_unwind_wake), which loads libunwind.  For a hook, which
 * must not dlopen (lk_unwind_gcc_backtrace walks meanwhile). */
const lk_unw_t *lk_unw_or_ask(void);

/* Load libunwind now (dlopen, dlsym), once per process; false if it cannot
 * be.  Only where no lock of libleak is held and ld.so is not below: the
 * constructor, the dumper thread. */
bool lk_unwind_load(void);

/* Was libunwind asked for and not yet loaded?  (The dumper thread's poll.) */
bool lk_unwind_wanted(void);

/* Installed by trigger.c: wakes the dumper thread (async-signal-safe). */
extern void (*lk_unwind_wake)(void);

/* unw_backtrace's stand-in until libunwind is loaded: libgcc's unwinder,
 * innermost first (its own _Unwind_Backtrace frame included). */
int lk_unwind_gcc_backtrace(void **buf, int size);

/* Captures lk_unwind_gcc_backtrace walked (the dump's cost.unwinds_libgcc). */
uint64_t lk_unwind_gcc_count(void);

/* Walk out from the caller with libgcc's unwinder to the first frame whose
 * stack pointer is above 'above' and whose return address 'skip' does not
 * refuse; its stack pointer and callee-saved registers (rbx, rbp, r12-r15).
 * 1 found, 0 the stack ended first, -1 the walk failed or was too long. */
int lk_unwind_outer_frame(bool (*skip)(uintptr_t pc, void *arg), void *arg, uintptr_t above,
                          uintptr_t *sp, uintptr_t regs[6]);

/* The stack of the frame a signal interrupted (context 'uc'), with libgcc's
 * unwinder: its pc first, then return addresses; frames 'skip' refuses are
 * left out.  Returns the depth (at most 'max'); *truncated if deeper. */
uint32_t lk_unwind_signal_stack(const ucontext_t *uc, bool (*skip)(uintptr_t pc), uintptr_t *pc,
                                uint32_t max, bool *truncated);

#endif
