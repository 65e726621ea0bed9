/* pl_sigview: the program's view of its signal dispositions, as natively.
 * Usage: pl_sigview MODE
 *   query-early / query-late: installs on_usr1 for SIGUSR1 (from
 *     .preinit_array, before libleak starts, or in main) with SA_SIGINFO |
 *     SA_NODEFER | SA_RESTART and SIGUSR2 in sa_mask, then prints what
 *     sigaction(SIGUSR1, NULL, &old) returns, raises SIGUSR1 and prints what
 *     the handler saw (siginfo, which of SIGUSR1/SIGUSR2 were blocked), what
 *     signal() returns when it replaces the handler and what sigaction then
 *     returns, and the dispositions of SIGSEGV and SIGABRT.  Exits 0.
 *   resethand: installs a SA_RESETHAND handler from .preinit_array, raises
 *     SIGUSR1 (prints "handled 1" and the disposition after it), then raises
 *     again: natively that kills with SIGUSR1.
 *   snap-late: installs a handler in main, raises SIGUSR1 3 times, waiting
 *     after each (up to 20 s) for that many signal dumps when $LIBLEAK_DIR
 *     is set; prints "handled 3 dumps N".
 *   ign: SIGUSR1 set to SIG_IGN, then re-exec itself as "ign-child" (same
 *     environment), which raises SIGUSR1, prints "child survived" and the
 *     disposition, calls libleak_snapshot, then runs itself as "ign-bare"
 *     without LD_PRELOAD; that raises SIGUSR1 and prints "bare survived".
 *     The child exits with the bare run's status (or 128 + its signal).
 *   term / term-handler: leaks leak_term() 2x500 bytes, then raises SIGTERM
 *     (term-handler: after installing a handler that prints "term handled");
 *     prints "survived" if it returns.  Natively "term" dies of SIGTERM. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libleak.h>

#include "victim.h"

static volatile sig_atomic_t handled, saw_info, saw_usr1_blocked, saw_usr2_blocked;
static void *keep[2];

__attribute__((noinline)) static void *leak_term(void) { return malloc(500); }

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    saw_info = si != NULL && si->si_signo == sig;
    saw_usr1_blocked = sigismember(&cur, SIGUSR1);
    saw_usr2_blocked = sigismember(&cur, SIGUSR2);
    handled++;
}

static void on_plain(int sig)
{
    (void)sig;
    handled++;
}

static void on_term(int sig)
{
    (void)sig;
    static const char msg[] = "term handled\n";
    (void)!write(1, msg, sizeof msg - 1);
}

static const char *name_of(void (*h)(int))
{
    if (h == SIG_DFL) return "SIG_DFL";
    if (h == SIG_IGN) return "SIG_IGN";
    if (h == (void (*)(int))on_usr1) return "on_usr1";
    if (h == on_plain) return "on_plain";
    return "other";
}

static void show(const char *what, int sig)
{
    struct sigaction old;
    memset(&old, 0, sizeof old);
    sigaction(sig, NULL, &old);
    printf("%s: %s flags%s%s%s%s mask-usr2 %d\n", what, name_of(old.sa_handler),
           old.sa_flags & SA_SIGINFO ? " SIGINFO" : "", old.sa_flags & SA_NODEFER ? " NODEFER" : "",
           old.sa_flags & SA_RESTART ? " RESTART" : "",
           old.sa_flags & SA_RESETHAND ? " RESETHAND" : "", sigismember(&old.sa_mask, SIGUSR2));
}

static void install_usr1(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
}

static void install_reset(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_plain;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

static void preinit(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc > 1 && !strcmp(argv[1], "query-early")) install_usr1();
    if (argc > 1 && !strcmp(argv[1], "resethand")) install_reset();
}
typedef void (*preinit_t)(int, char **, char **);
__attribute__((used, section(".preinit_array"))) static const preinit_t preinit_fn = preinit;

static int ign_child(char *self)
{
    raise(SIGUSR1);
    printf("child survived\n");
    show("child SIGUSR1", SIGUSR1);
    printf("snapshot %d\n", LIBLEAK_SNAPSHOT("ign") == 0 || !LIBLEAK_ACTIVE());
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        unsetenv("LD_PRELOAD");
        execl(self, self, "ign-bare", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strncmp(mode, "query", 5)) {
        if (!strcmp(mode, "query-late")) install_usr1();
        show("query", SIGUSR1);
        raise(SIGUSR1);
        printf("handler: handled %d siginfo %d usr1-blocked %d usr2-blocked %d\n", (int)handled,
               (int)saw_info, (int)saw_usr1_blocked, (int)saw_usr2_blocked);
        void (*prev)(int) = signal(SIGUSR1, on_plain);
        printf("signal returned %s\n", name_of(prev));
        show("after signal", SIGUSR1);
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGUSR1, &sa, &old);
        printf("sigaction returned %s\n", name_of(old.sa_handler));
        show("SIGSEGV", SIGSEGV);
        show("SIGABRT", SIGABRT);
        printf("SIGABRT by signal: %s\n", name_of(signal(SIGABRT, SIG_DFL)));
        return 0;
    }
    if (!strcmp(mode, "resethand")) {
        raise(SIGUSR1);
        printf("handled %d\n", (int)handled);
        show("after one", SIGUSR1);
        fflush(stdout);
        raise(SIGUSR1);
        printf("survived second\n");
        return 0;
    }
    if (!strcmp(mode, "snap-late")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_plain;
        sigaction(SIGUSR1, &sa, NULL);
        int wait = getenv("LIBLEAK_DIR") != NULL;
        struct timespec ts = {0, 10 * 1000 * 1000};
        for (int i = 0; i < 3; i++) {
            raise(SIGUSR1);
            for (int j = 0; wait && count_dumps("signal") < i + 1 && j < 2000; j++)
                nanosleep(&ts, NULL);
        }
        printf("handled %d dumps %d\n", (int)handled, wait ? count_dumps("signal") : 0);
        return 0;
    }
    if (!strcmp(mode, "ign")) {
        signal(SIGUSR1, SIG_IGN);
        execl(argv[0], argv[0], "ign-child", (char *)NULL);
        return 127;
    }
    if (!strcmp(mode, "ign-child")) return ign_child(argv[0]);
    if (!strcmp(mode, "ign-bare")) {
        raise(SIGUSR1);
        printf("bare survived\n");
        return 0;
    }
    if (!strncmp(mode, "term", 4)) {
        for (int i = 0; i < 2; i++) keep[i] = leak_term();
        if (!strcmp(mode, "term-handler")) signal(SIGTERM, on_term);
        fflush(stdout);
        raise(SIGTERM);
        printf("survived\n");
        return 0;
    }
    return 2;
}
