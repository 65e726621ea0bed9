// pl_newhandler: operator new keeps the standard's retry loop under the
// preload: on failure it calls the installed new_handler and retries; when
// the handler uninstalls itself, new throws std::bad_alloc.
// huge_new() asks for new char[2^62]; the handler counts its calls and
// uninstalls itself on the third.  nothrow_huge() does the same with
// new (std::nothrow), which must return nullptr after the same 3 calls.
// custom_throw() installs a handler that throws its own exception type out of
// operator new, through libleak's hook.  Afterwards after_throw() leaks
// malloc(1337) and new char[2021]: tracking must go on (an exception must
// not leave libleak's reentrancy guard set).
// Prints "handler 3 bad_alloc", "handler 3 nullptr" and "custom 1",
// identical with and without the preload, and exits 0.  Expected dump:
// failures[] entries through huge_new (function new[]) and nothrow_huge, no
// site through them; after_throw: malloc site live 1/1337, new[] site live
// 1/2021.
#include <cstdio>
#include <cstdlib>
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

struct custom_error {};
static void throwing_handler() { throw custom_error(); }

__attribute__((noinline)) static int custom_throw()
{
    std::set_new_handler(throwing_handler);
    int caught = 0;
    try {
        char *p = new char[(std::size_t)1 << 62];
        p[0] = 0;
    } catch (const custom_error &) {
        caught = 1;
    }
    std::set_new_handler(nullptr);
    return caught;
}

static void *keep[2];

__attribute__((noinline)) static void after_throw()
{
    keep[0] = std::malloc(1337);
    keep[1] = new char[2021];
}

int main()
{
    const char *a = huge_new();
    std::printf("handler %d %s\n", calls, a);
    const char *b = nothrow_huge();
    std::printf("handler %d %s\n", calls, b);
    std::printf("custom %d\n", custom_throw());
    after_throw();
    return 0;
}
