/* progress.c - one progress line on stderr while a long analysis runs:
 * shown only when stderr is a terminal and the run has taken more than a
 * second, rewritten in place, and cleared at the end so that the report and
 * any warning read as without it.  A helper thread draws it, because the
 * slow passes (symbolizing) are single calls that cannot report. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static bool running, stop, shown;
static const char *phase = "loading dumps";
static struct timespec start;

static double elapsed(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
}

static void *draw(void *arg)
{
    double delay = *(double *)arg;
    struct timespec until;

    pthread_mutex_lock(&lock);
    while (!stop) {
        double t = elapsed();
        if (t >= delay) {
            /* stderr's own lock keeps the line whole next to a warning */
            fprintf(stderr, "\rleak-analyze: %s... (%.0f s)\033[K", phase, t);
            fflush(stderr);
            shown = true;
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wake, &lock, &until);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void lk_progress_start(void)
{
    static double delay = 1.0;
    const char *e = getenv("LEAK_ANALYZE_PROGRESS_MS");   /* tests only: not an interface */

    if (!isatty(STDERR_FILENO))
        return;
    if (e != NULL && *e != '\0')
        delay = atof(e) / 1000.0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    running = pthread_create(&thread, NULL, draw, &delay) == 0;
}

void lk_progress_phase(const char *what)
{
    pthread_mutex_lock(&lock);
    phase = what;
    pthread_mutex_unlock(&lock);
}

void lk_progress_end(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    stop = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = false;
    if (shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
