// pl_newhandler: operator new keeps the standard's retry loop under the
// preload: on failure it calls the installed new_handler and retries; when
// the handler uninstalls itself, new throws std::bad_alloc.
// huge_new() asks for new char[2^62]; the handler counts its calls and
// uninstalls itself on the third.  nothrow_huge() does the same with
// new (std::nothrow), which must return nullptr after the same 3 calls.
// Prints "handler 3 bad_alloc" and "handler 3 nullptr", identical with and
// without the preload, and exits 0.  Expected dump: failures[] entries
// through huge_new (function new[]) and nothrow_huge, no site through them.
#include <cstdio>
#include <new>

static int calls;

static void handler()
{
    if (++calls == 3) std::set_new_handler(nullptr);
}

__attribute__((noinline)) static const char *huge_new()
{
    calls = 0;
    std::set_new_handler(handler);
    try {
        char *p = new char[(std::size_t)1 << 62];
        p[0] = 0;
        return "allocated";
    } catch (const std::bad_alloc &) {
        return "bad_alloc";
    }
}

__attribute__((noinline)) static const char *nothrow_huge()
{
    calls = 0;
    std::set_new_handler(handler);
    char *p = new (std::nothrow) char[(std::size_t)1 << 62];
    return p ? "allocated" : "nullptr";
}

int main()
{
    const char *a = huge_new();
    std::printf("handler %d %s\n", calls, a);
    const char *b = nothrow_huge();
    std::printf("handler %d %s\n", calls, b);
    return 0;
}
