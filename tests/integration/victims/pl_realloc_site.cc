// pl_realloc_site: realloc at one call site, over and over, as a string
// builder does; the block is resized in place or moved, and the old block's
// release and the new block are counted together.  errno is set to a marker
// before every successful call and must be unchanged after it.
// Expected exit dump (no argument):
//   rg_step()  two blocks in turn: realloc(NULL, 16), then 1000 x
//              realloc(p, 16 + 24 i) each: live 2/48032, total 2002/24056032,
//              peak 48032 (each old block is released before its new one)
//   sh_alloc() malloc(8000), shrunk away:       live 0, total 1/8000
//   sh_step()  400 x realloc(p, 8000 - 16 i):   live 1/1600, total 400/1916800,
//              peak 7984
//   alt_a() / alt_b()  one block realloc'd by the two in turn, 64 + 8 i bytes:
//              alt_a live 1/1664, total 101/87264; alt_b live 0, total 100/86400
//   ra_step()  reallocarray(NULL, 10, 12), then 50 x reallocarray(p, 10 + i, 12):
//              live 1/720, total 51/21420
//   mm_new()   new char[1234], realloc'd by mm_realloc() to 3000: a mismatch
//              (alloc new[], free malloc, count 1, 1234 bytes); mm_new live 0,
//              total 1/1234; mm_realloc live 1/3000 (malloc)
//   z_alloc()  malloc(500), then realloc(p, 0): live 0, total 1/500, freed 1;
//              no site, no failure at z_zero()
//   f_alloc()  malloc(300); f_step() realloc(p, 2^62) fails (ENOMEM) and the
//              block stays: live 1/300; one failure at f_step, no site
//   fr_step()  realloc(p, 900) of a block of glibc's own __libc_malloc (which
//              libleak never saw): an untracked free, then live 1/900
//   mt_step()  4 threads, each realloc(NULL, 32) then 500 x realloc(q, 32 + 16 i):
//              live 4/32128, total 2004/8080128
// Prints "ok" and exits 0; on stderr "inplace N moved M": how rg_step's
// reallocs went.  Exits 1 when errno changed or contents were lost.
// With the argument "xthread" (run it with LIBLEAK_DEPTH=2, so that both
// threads' calls through xt_pass() make one site): a thread makes 100 blocks
// xt_step(NULL, 100); once it has ended, main reallocs each to 200, then to
// 300, at the same site, and frees 50 of them:
//   xt_step live 50/15000, total 300/60000, peak 30000
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>

extern "C" void *__libc_malloc(size_t size);

#define MARK 4711
#define NGROW 1000
#define NSHRINK 400
#define NALT 200
#define NRA 50
#define NTHREADS 4
#define NMT 500
#define NXT 100

static int bad;

static void check_errno(const char *what)
{
    if (errno != MARK) {
        fprintf(stderr, "errno changed by %s: %d\n", what, errno);
        bad = 1;
    }
}

__attribute__((noinline)) static void *rg_step(void *p, size_t n) { return realloc(p, n); }
__attribute__((noinline)) static void *sh_alloc() { return malloc(8000); }
__attribute__((noinline)) static void *sh_step(void *p, size_t n) { return realloc(p, n); }
__attribute__((noinline)) static void *alt_a(void *p, size_t n) { return realloc(p, n); }
__attribute__((noinline)) static void *alt_b(void *p, size_t n) { return realloc(p, n); }
__attribute__((noinline)) static void *ra_step(void *p, size_t c, size_t n)
{
    return reallocarray(p, c, n);
}
__attribute__((noinline)) static char *mm_new() { return new char[1234]; }
__attribute__((noinline)) static void *mm_realloc(void *p) { return realloc(p, 3000); }
__attribute__((noinline)) static void *z_alloc() { return malloc(500); }
__attribute__((noinline)) static void *z_zero(void *p) { return realloc(p, 0); }
__attribute__((noinline)) static void *f_alloc() { return malloc(300); }
__attribute__((noinline)) static void *f_step(void *p) { return realloc(p, (size_t)1 << 62); }
__attribute__((noinline)) static void *fr_step(void *p) { return realloc(p, 900); }
__attribute__((noinline)) static void *mt_step(void *p, size_t n) { return realloc(p, n); }
__attribute__((noinline)) static void *xt_step(void *p, size_t n) { return realloc(p, n); }

static void *kept[16 + NTHREADS];
static int nkept;

// Two string builders in turn, through one call of rg_step: each grows,
// keeping its first and last bytes, and gets in the other's way now and then.
static volatile int nbuilders = 2;

static void grow(void)
{
    int inplace = 0, moved = 0, nb = nbuilders;
    char *b[2] = { NULL, NULL };
    for (int i = 0; i <= NGROW; i++) {
        size_t n = 16 + 24 * (size_t)i;
        for (int j = 0; j < nb; j++) {
            if (i > 0)
                b[j][n - 24 - 1] = (char)i;
            errno = MARK;
            char *q = (char *)rg_step(b[j], n);
            check_errno(i == 0 ? "realloc(NULL, n)" : "realloc grow");
            if (!q) exit(1);
            if (i == 0) {
                q[0] = (char)('g' + j);
            } else {
                if (q[0] != (char)('g' + j) || q[n - 24 - 1] != (char)i) {
                    fprintf(stderr, "realloc lost the contents\n");
                    exit(1);
                }
                (q == b[j] ? inplace : moved)++;
            }
            b[j] = q;
        }
    }
    kept[nkept++] = b[0];
    kept[nkept++] = b[1];
    fprintf(stderr, "inplace %d moved %d\n", inplace, moved);
}

static void shrink(void)
{
    char *s = (char *)sh_alloc();
    memset(s, 's', 8000);
    for (int i = 1; i <= NSHRINK; i++) {
        errno = MARK;
        s = (char *)sh_step(s, 8000 - 16 * (size_t)i);
        check_errno("realloc shrink");
        if (!s || s[0] != 's') exit(1);
    }
    kept[nkept++] = s;
}

static void alternate(void)
{
    errno = MARK;
    void *a = NULL;
    for (int i = 0; i <= NALT; i++) {
        size_t n = 64 + 8 * (size_t)i;
        a = (i & 1) ? alt_b(a, n) : alt_a(a, n);
        if (!a) exit(1);
    }
    check_errno("realloc at two sites");
    kept[nkept++] = a;
}

static void array(void)
{
    errno = MARK;
    void *r = NULL;
    for (int i = 0; i <= NRA; i++) {
        r = ra_step(r, 10 + (size_t)i, 12);
        if (!r) exit(1);
    }
    check_errno("reallocarray");
    kept[nkept++] = r;
}

static void edges(void)
{
    char *arr = mm_new();
    arr[0] = 'm';
    errno = MARK;
    char *m = (char *)mm_realloc(arr);   // a new[] block: a mismatch
    check_errno("realloc of a new[] block");
    if (!m || m[0] != 'm') exit(1);
    kept[nkept++] = m;

    void *z = z_alloc();
    if (z_zero(z) != NULL) exit(1);      // glibc frees and returns NULL

    char *f = (char *)f_alloc();
    f[0] = 'f';
    errno = 0;
    if (f_step(f) != NULL || errno != ENOMEM || f[0] != 'f') {
        fprintf(stderr, "failed realloc: errno %d\n", errno);
        exit(1);
    }
    kept[nkept++] = f;

    char *x = (char *)__libc_malloc(700);
    if (!x) exit(1);
    x[0] = 'x';
    errno = MARK;
    x = (char *)fr_step(x);
    check_errno("realloc of a block libleak never saw");
    if (!x || x[0] != 'x') exit(1);
    kept[nkept++] = x;
}

static void *mt_worker(void *arg)
{
    errno = MARK;
    void *q = NULL;
    for (int i = 0; i <= NMT; i++) {
        q = mt_step(q, 32 + 16 * (size_t)i);
        if (!q) abort();
    }
    check_errno("realloc in a thread");
    *(void **)arg = q;
    return NULL;
}

static void threads(void)
{
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, mt_worker, &kept[nkept + t]) != 0) exit(2);
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    nkept += NTHREADS;
}

static void *xt_blocks[NXT];

__attribute__((noinline)) static void xt_pass(size_t n)
{
    for (int i = 0; i < NXT; i++) {
        xt_blocks[i] = xt_step(xt_blocks[i], n);
        if (!xt_blocks[i]) abort();
    }
}

static void *xt_worker(void *)
{
    xt_pass(100);
    return NULL;
}

static int xthread(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, xt_worker, NULL) != 0) return 2;
    pthread_join(th, NULL);
    errno = MARK;
    xt_pass(200);
    xt_pass(300);
    check_errno("realloc of another thread's block");
    for (int i = 0; i < NXT; i += 2) free(xt_blocks[i]);
    printf(bad ? "bad\n" : "ok\n");
    return bad;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "xthread") == 0)
        return xthread();
    grow();
    shrink();
    alternate();
    array();
    edges();
    threads();
    printf(bad ? "bad\n" : "ok\n");
    return bad;
}
