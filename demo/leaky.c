/* leaky - the `make demo` program: leaks at known lines, frees the rest.
 *   make_name():    strdup'd names of 3 users, never freed (3 x 15 bytes)
 *   cache_put():    one 4096-byte cache block, never freed
 *   handle_request(): 100 request buffers, all freed: not a leak */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct user {
    char *name;
    int id;
};

static char *make_name(int id)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "user-%09d", id);
    return strdup(buf);                 /* leaks: callers drop the name */
}

static void *cache_put(size_t size)
{
    void *block = malloc(size);         /* leaks: the cache is never emptied */
    memset(block, 0, size);
    return block;
}

static void handle_request(int i)
{
    char *buf = malloc(256);            /* freed below: not reported */
    snprintf(buf, 256, "request %d", i);
    free(buf);
}

int main(void)
{
    struct user users[3];
    for (int i = 0; i < 3; i++) {
        users[i].id = i;
        users[i].name = make_name(i);
    }
    (void)cache_put(4096);
    for (int i = 0; i < 100; i++)
        handle_request(i);
    printf("leaky: served 100 requests for %d users\n", users[2].id + 1);
    return 0;
}
