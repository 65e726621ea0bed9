/* spawn - the start-up workload: run a command N times, one after another.
 * Usage: spawn N [VAR=value ...] command [args...]
 * Each child gets the VAR=value settings (so that a preload applies to the
 * command only, never to this driver, and without an env(1) exec in
 * between) and execs the command; the driver waits for it.  Exits with the
 * first non-zero child status (127 if the command could not be run).
 * "spawn 0" alone is the tiny program the start-up rows also time: 16
 * mallocs, 8 frees, exit.
 * Expectation: nothing leaks in the driver; the tiny program leaks 8 blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile g_keep[16];

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0;
    if (argc <= 2) {
        for (int i = 0; i < 16; i++)
            g_keep[i] = malloc(64 + 16 * (size_t)i);
        for (int i = 0; i < 16; i += 2)
            free(g_keep[i]);
        return 0;
    }
    int first_cmd = 2;
    while (first_cmd < argc && strchr(argv[first_cmd], '=') && argv[first_cmd][0] != '/')
        first_cmd++;
    if (first_cmd == argc) {
        fprintf(stderr, "usage: spawn N [VAR=value ...] command [args...]\n");
        return 2;
    }
    int rc = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("spawn: fork");
            return 1;
        }
        if (pid == 0) {
            for (int k = 2; k < first_cmd; k++)
                putenv(argv[k]);
            execvp(argv[first_cmd], argv + first_cmd);
            _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) < 0) {
            perror("spawn: waitpid");
            return 1;
        }
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (code && !rc)
            rc = code;
    }
    return rc;
}
