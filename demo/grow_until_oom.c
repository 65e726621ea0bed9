/* grow_until_oom - the leak half of the growth demo: a server that keeps
 * every request's 4 MiB buffer in a history list nobody reads (the leak),
 * next to a bounded 8-entry cache (a plateau), under an address-space limit
 * it sets itself (RLIMIT_AS = its current size + 128 MiB, or argv[1] MiB).
 * When malloc() finally returns NULL it frees its rainy-day reserve, says so
 * and exits 1.  Run it with snapshots on, e.g.
 *   LIBLEAK_INTERVAL_MS=100 tools/libleak -- build/demo/grow_until_oom
 * and leak-analyze calls it "leak-driven exhaustion", naming keep_history(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#define REQUEST_BYTES (4 * 1024 * 1024)
#define CACHE_SLOTS 8
#define CACHE_BYTES (32 * 1024)

struct entry {
    struct entry *next;
    char data[];
};

static struct entry *history;           /* grows forever: the leak */
static void *cache[CACHE_SLOTS];        /* bounded: old entries are replaced */
static void *reserve;                   /* freed when memory runs out */

/* Current virtual size of this process in bytes, from /proc/self/status. */
static unsigned long vm_size(void)
{
    char line[256];
    unsigned long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmSize: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

/* Keep the request's buffer "for later": nobody ever reads or frees it. */
static int keep_history(int id)
{
    struct entry *e = malloc(sizeof(*e) + REQUEST_BYTES);   /* the leak */
    if (e == NULL)
        return -1;
    memset(e->data, id & 0xff, REQUEST_BYTES);
    e->next = history;
    history = e;
    return 0;
}

/* An 8-slot cache: each request replaces the oldest slot. */
static void cache_put(int id)
{
    int slot = id % CACHE_SLOTS;
    free(cache[slot]);
    cache[slot] = malloc(CACHE_BYTES);                       /* bounded */
    if (cache[slot] != NULL)
        memset(cache[slot], id & 0xff, CACHE_BYTES);
}

int main(int argc, char **argv)
{
    unsigned long extra = (argc > 1 ? strtoul(argv[1], NULL, 10) : 128) << 20;
    struct timespec tick = { 0, 100 * 1000 * 1000 };
    struct rlimit rl;

    /* Set the limit, then start again under it, so that everything in the
     * process (libleak included, which reads the limits when it starts)
     * sees it from the beginning.  One malloc arena: a thread's arena
     * reserves 64 MiB of address space, which would make the room left
     * depend on when another thread first allocates. */
    if (getenv("GROW_UNTIL_OOM_LIMITED") == NULL) {
        if (getrlimit(RLIMIT_AS, &rl) != 0) {
            perror("grow_until_oom: getrlimit");
            return 2;
        }
        rl.rlim_cur = vm_size() + extra;
        if (setrlimit(RLIMIT_AS, &rl) != 0) {
            perror("grow_until_oom: setrlimit");
            return 2;
        }
        setenv("GROW_UNTIL_OOM_LIMITED", "1", 1);
        setenv("MALLOC_ARENA_MAX", "1", 1);
        execv("/proc/self/exe", argv);
        perror("grow_until_oom: cannot re-execute itself");
        return 2;
    }
    if (getrlimit(RLIMIT_AS, &rl) == 0)
        printf("grow_until_oom: address space limited to %lu MiB\n",
               (unsigned long)(rl.rlim_cur >> 20));
    reserve = malloc(4 << 20);
    for (int id = 0;; id++) {
        cache_put(id);
        if (keep_history(id) < 0) {
            free(reserve);
            printf("grow_until_oom: out of memory at request %d after keeping %d MiB "
                   "of history; giving up\n", id, id * (REQUEST_BYTES >> 20));
            return 1;
        }
        nanosleep(&tick, NULL);
    }
}
