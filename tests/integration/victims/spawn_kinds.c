/* spawn_kinds: the ways a program starts another process.
 * Usage: spawn_kinds            the parent, below
 *        spawn_kinds child SIZE leak one block of SIZE bytes, exit 0
 * The parent runs itself three ways, one after another:
 *   vfork + execv            "child 1301"
 *   posix_spawn              "child 1303"
 *   double-fork daemon       fork; the child calls setsid, forks the daemon
 *                            and leaves through exit(0); the daemon leaks
 *                            1307 bytes, writes "daemon done" into a pipe and
 *                            exits 0.  The parent reads the pipe to its end
 *                            (the daemon's exit), waiting at most 60 s.
 * Expected dumps (exit): one per process, 5 in all (parent, vfork child,
 * spawned child, the daemon's parent, the daemon).
 *   leak_child()  live 1/1301, 1/1303 and 1/1307 in the three that call it,
 *                 0/0 in the parent and the daemon's parent
 * Prints one line per kind and exits 0 (1 when a child fails). */
#include <errno.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void *kept;

__attribute__((noinline)) static void *leak_child(size_t n) { return malloc(n); }

static int wait_ok(pid_t pid, const char *what)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            perror("waitpid");
            return 1;
        }
    printf("%s child: exit %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0) {
        kept = leak_child((size_t)atol(argv[2]));
        return kept ? 0 : 1;
    }
    static char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("readlink");
        return 1;
    }
    self[n] = '\0';
    int bad = 0;

    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) {
        execl(self, self, "child", "1301", (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        perror("vfork");
        return 1;
    }
    bad |= wait_ok(pid, "vfork");

    char *args[] = {self, "child", "1303", NULL};
    int rc = posix_spawn(&pid, self, NULL, NULL, args, environ);
    if (rc != 0) {
        fprintf(stderr, "posix_spawn: %s\n", strerror(rc));
        return 1;
    }
    bad |= wait_ok(pid, "posix_spawn");

    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 1;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        setsid();
        pid_t d = fork();
        if (d == 0) {
            kept = leak_child(1307);
            const char msg[] = "daemon done\n";
            ssize_t w = write(fds[1], msg, sizeof msg - 1);
            exit(kept && w == (ssize_t)sizeof msg - 1 ? 0 : 1);
        }
        exit(d > 0 ? 0 : 1);
    }
    close(fds[1]);
    bad |= wait_ok(pid, "daemon's parent");
    char buf[64];
    size_t got = 0;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    for (int waited = 0; waited < 600; waited++) {
        int r = poll(&p, 1, 100);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        ssize_t k = read(fds[0], buf + got, sizeof buf - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    buf[got] = '\0';
    printf("daemon: %s", got ? buf : "no message\n");
    return bad || strcmp(buf, "daemon done\n") != 0;
}
