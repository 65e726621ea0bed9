/* pl_sigmask: sigprocmask behaves the same under the preload, and a signal
 * that arrives while libleak learns new stacks is delivered.  libleak.so
 * exports sigprocmask: inside libleak's own unwinds its libunwind's calls act
 * on a virtual mask (preload/stack.c); every other call is the real one.
 * 1. Semantics: SIG_BLOCK of SIGUSR2 returns an old mask without it, a query
 *    shows it blocked, SIG_UNBLOCK unblocks it, an invalid 'how' fails with
 *    EINVAL, and a successful call leaves errno alone.
 * 2. With SIGUSR2 blocked and a SIGALRM timer firing every 100 us, main
 *    allocates through 64 call paths over 32 functions never called before
 *    and a trampoline whose CFA is in r12 (libleak reads the functions'
 *    rules from their CFI, but learns the trampoline's with libunwind),
 *    checking after each allocation
 *    that the thread's mask is still the program's (SIGUSR2 blocked, SIGALRM
 *    not); then waits until the handler has run.  Keeps the 64 blocks.
 * Prints part 1's results and "ok"; exits 0 (1 on a wrong mask, 2 when no
 * SIGALRM came within 10 s).
 * Expected exit dump: 64 live blocks of 100..163 bytes through path_leaf,
 * and cost.unwinds_learning > 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define PATHS 64
#define LEVELS 5

static volatile sig_atomic_t alarms;
static void *keep[PATHS];

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

__attribute__((noinline)) static void *path_leaf(unsigned k)
{
    void *p = malloc(100 + k);
    __asm__ volatile("" ::: "memory");      /* no tail call */
    return p;
}

/* tramp(k, fn) calls fn(k) with its CFA in r12: a rule libleak does not
 * read from the CFI itself, so its return address is learned with libunwind */
void *tramp(unsigned k, void *(*fn)(unsigned));
__asm__(".text\n"
        ".globl tramp\n"
        ".type tramp, @function\n"
        "tramp:\n"
        ".cfi_startproc\n"
        "    push %r12\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset 12, -16\n"
        "    mov %rsp, %r12\n"
        ".cfi_def_cfa_register 12\n"
        "    call *%rsi\n"
        "    mov %r12, %rsp\n"
        ".cfi_def_cfa_register 7\n"
        "    pop %r12\n"
        ".cfi_def_cfa_offset 8\n"
        ".cfi_restore 12\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size tramp, .-tramp\n");

/* 32 functions; path k goes through LEVELS of them, picked by its bits */
typedef void *(*step_fn)(unsigned k, unsigned bits, int level);
static const step_fn steps[32];

#define STEP(i)                                                                     \
    __attribute__((noinline)) static void *step##i(unsigned k, unsigned bits, int level) \
    {                                                                               \
        void *p = level == 0 ? tramp(k, path_leaf) : steps[bits % 32](k, bits / 32, level - 1); \
        __asm__ volatile("" ::: "memory");                                          \
        return p;                                                                   \
    }
STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
STEP(8) STEP(9) STEP(10) STEP(11) STEP(12) STEP(13) STEP(14) STEP(15)
STEP(16) STEP(17) STEP(18) STEP(19) STEP(20) STEP(21) STEP(22) STEP(23)
STEP(24) STEP(25) STEP(26) STEP(27) STEP(28) STEP(29) STEP(30) STEP(31)

static const step_fn steps[32] = {
    step0, step1, step2, step3, step4, step5, step6, step7,
    step8, step9, step10, step11, step12, step13, step14, step15,
    step16, step17, step18, step19, step20, step21, step22, step23,
    step24, step25, step26, step27, step28, step29, step30, step31,
};

static void semantics(void)
{
    sigset_t usr2, old, cur;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    int rc = sigprocmask(SIG_BLOCK, &usr2, &old);
    printf("block: rc %d, old has SIGUSR2 %d\n", rc, sigismember(&old, SIGUSR2));
    rc = sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("query: rc %d, SIGUSR2 blocked %d\n", rc, sigismember(&cur, SIGUSR2));
    rc = sigprocmask(SIG_UNBLOCK, &usr2, NULL);
    sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("unblock: rc %d, SIGUSR2 blocked %d\n", rc, sigismember(&cur, SIGUSR2));
    errno = 0;
    rc = sigprocmask(12345, &usr2, NULL);
    printf("bad how: rc %d, EINVAL %d\n", rc, errno == EINVAL);
    errno = 4242;
    rc = sigprocmask(SIG_SETMASK, &cur, NULL);
    printf("errno kept: rc %d, %d\n", rc, errno == 4242);
}

int main(void)
{
    semantics();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, NULL);
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &it, NULL);

    for (unsigned k = 0; k < PATHS; k++) {
        /* k's bits, scrambled, pick LEVELS steps: 64 distinct paths */
        unsigned bits = k * 2654435761u;
        keep[k] = steps[k % 32](k, bits, LEVELS - 1);
        sigset_t cur;
        sigprocmask(SIG_SETMASK, NULL, &cur);
        if (sigismember(&cur, SIGUSR2) != 1 || sigismember(&cur, SIGALRM) != 0) {
            fprintf(stderr, "pl_sigmask: the mask changed after allocation %u\n", k);
            return 1;
        }
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (alarms == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10) {
            fprintf(stderr, "pl_sigmask: no SIGALRM in 10 s\n");
            return 2;
        }
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    printf("ok\n");
    return 0;
}
