/* pl_cancel_snap: a thread cancelled (deferred) while it writes snapshots
 * with libleak_snapshot, whose file writes are cancellation points.  Then
 * main takes one more snapshot and exits (the exit dump): neither may wait
 * for a lock the cancelled thread left held.  Prints "ok"; natively the
 * snapshots are no-ops. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "libleak.h"

static volatile int started;

static void *snapper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        started = 1;
        LIBLEAK_SNAPSHOT("loop");
        pthread_testcancel();
    }
    return NULL;
}

int main(void)
{
    for (int round = 0; round < 5; round++) {
        pthread_t t;
        started = 0;
        if (pthread_create(&t, NULL, snapper, NULL) != 0)
            return 1;
        while (!started) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        pthread_cancel(t);
        void *r;
        pthread_join(t, &r);
        if (r != PTHREAD_CANCELED)
            return 2;
    }
    LIBLEAK_SNAPSHOT("after");
    printf("ok\n");
    return 0;
}
