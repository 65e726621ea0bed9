/* leaky - the `make demo` program: leaks at known lines, frees the rest.
 *   make_name():      3 user names strdup'd and dropped: definite leaks (3 x 15 bytes)
 *   cache_put():      one 4096-byte block kept in the global g_cache: still reachable
 *   make_list():      a 3-node list whose head pointer is dropped: 1 definite + 2 indirect
 *   handle_request(): 100 request buffers, all freed: not reported
 * The users array lives on the heap and is freed, so no stale copy of a name
 * pointer is left on the stack for the reachability scan to find. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct user {
    char *name;
    int id;
};

struct node {
    struct node *next;
    char payload[48];
};

static void *g_cache;                   /* holds one block until exit */

static char *make_name(int id)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "user-%09d", id);
    return strdup(buf);                 /* leaks: callers drop the name */
}

static void cache_put(size_t size)
{
    g_cache = malloc(size);             /* reachable: the cache is never emptied */
    memset(g_cache, 0, size);
}

static struct node *make_list(int n)
{
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *nd = calloc(1, sizeof(*nd));   /* lost with the head */
        nd->next = head;
        head = nd;
    }
    return head;
}

static void handle_request(int i)
{
    char *buf = malloc(256);            /* freed below: not reported */
    snprintf(buf, 256, "request %d", i);
    free(buf);
}

int main(void)
{
    struct user *users = calloc(3, sizeof(*users));
    for (int i = 0; i < 3; i++) {
        users[i].id = i;
        users[i].name = make_name(i);
    }
    cache_put(4096);
    (void)make_list(3);
    for (int i = 0; i < 100; i++)
        handle_request(i);
    printf("leaky: served 100 requests for %d users\n", users[2].id + 1);
    free(users);                        /* the names it pointed to are now lost */
    return 0;
}
