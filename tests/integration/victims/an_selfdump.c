/* an_selfdump - writes its own libleak dump (docs/FORMAT.md), without the
 * preload, so the analyzer's symbolization is tested against a real binary.
 * Expectation (lines marked in comments, found by the tests with grep -n):
 *   site A: 3 blocks, 4011 bytes, malloc, top frame leak_here() at SITE_A;
 *   site B: 1 block, 64 bytes, new[], inlined helper at SITE_B_INNER,
 *           called from outer() at SITE_B_CALL;
 *   site C: 0 live blocks (all freed): never reported;
 *   mismatch: new[] block freed by free(), alloc at SITE_M_ALLOC, free at SITE_M_FREE.
 * Built with -DLK_EXTRA_LEAK, site D (extra_leak(), 128 bytes) is added
 * (the baseline ratchet must fail); the ratchet test also builds a copy
 * shifted by a few lines (which must pass).
 * Usage: an_selfdump OUT.json [version]   (version defaults to 1) */
#define _GNU_SOURCE
#include <elf.h>
#include <execinfo.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STACKS 8
#define MAX_DEPTH 32

typedef struct cap {
    void *pc[MAX_DEPTH];
    int n;
} cap_t;

static cap_t stacks[MAX_STACKS];
static int nstacks;

/* Record the caller's stack, minus this function's own frame. */
static __attribute__((noinline)) int capture(void)
{
    void *pc[MAX_DEPTH + 1];
    int n = backtrace(pc, MAX_DEPTH + 1);
    cap_t *c = &stacks[nstacks];
    c->n = n - 1;
    memcpy(c->pc, pc + 1, (size_t)c->n * sizeof(void *));
    return nstacks++;
}

static __attribute__((noinline)) int leak_here(void)
{
    return capture(); /* SITE_A */
}

static inline __attribute__((always_inline)) int inlined_helper(void)
{
    return capture(); /* SITE_B_INNER */
}

static __attribute__((noinline)) int outer(void)
{
    int id = inlined_helper(); /* SITE_B_CALL */
    return id;
}

static __attribute__((noinline)) int freed_site(void)
{
    return capture(); /* SITE_C */
}

static __attribute__((noinline)) int mismatch_alloc(void)
{
    return capture(); /* SITE_M_ALLOC */
}

static __attribute__((noinline)) int mismatch_free(void)
{
    return capture(); /* SITE_M_FREE */
}

#ifdef LK_EXTRA_LEAK
static __attribute__((noinline)) int extra_leak(void)
{
    return capture(); /* SITE_D */
}
#endif

static FILE *out;
static int first_module = 1;

static int module_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    char exe[4096];
    const char *path = info->dlpi_name;
    unsigned long hi = 0;
    char build_id[129] = "";

    (void)size;
    (void)arg;
    if (path == NULL || path[0] == '\0') {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        path = exe;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && ph->p_vaddr + ph->p_memsz > hi)
            hi = ph->p_vaddr + ph->p_memsz;
        if (ph->p_type == PT_NOTE) {
            const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
            const char *end = p + ph->p_memsz;
            while (p + sizeof(ElfW(Nhdr)) <= end) {
                const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
                const unsigned char *desc = (const unsigned char *)(p + sizeof(*nh)
                                                                   + ((nh->n_namesz + 3) & ~3u));
                if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4
                    && memcmp(p + sizeof(*nh), "GNU", 4) == 0)
                    for (unsigned k = 0; k < nh->n_descsz && k < 64; k++)
                        sprintf(build_id + 2 * k, "%02x", desc[k]);
                p += sizeof(*nh) + ((nh->n_namesz + 3) & ~3u) + ((nh->n_descsz + 3) & ~3u);
            }
        }
    }
    fprintf(out, "%s\n    {\"path\": \"%s\", \"base\": \"0x%lx\", \"size\": %lu, \"build_id\": ",
            first_module ? "" : ",", path, (unsigned long)info->dlpi_addr, hi);
    if (build_id[0] != '\0')
        fprintf(out, "\"%s\"}", build_id);
    else
        fprintf(out, "null}");
    first_module = 0;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: an_selfdump OUT.json [version]\n");
        return 2;
    }
    int a = leak_here();
    int b = outer();
    int c = freed_site();
    int ma = mismatch_alloc();
    int mf = mismatch_free();
#ifdef LK_EXTRA_LEAK
    int xd = extra_leak();
#endif

    if ((out = fopen(argv[1], "w")) == NULL) {
        perror(argv[1]);
        return 1;
    }
    fprintf(out, "{\"format\": \"libleak-dump\", \"version\": %s, \"tool_version\": \"0.1.0\",\n",
            argc > 2 ? argv[2] : "1");
    fprintf(out, " \"process\": {\"pid\": %d, \"ppid\": %d, \"exe\": \"/proc/self/exe\", "
            "\"cmdline\": [\"an_selfdump\"], \"start_unix_ms\": 1000},\n", getpid(), getppid());
    fprintf(out, " \"dump\": {\"seq\": 0, \"trigger\": \"exit\", \"label\": null, "
            "\"unix_ms\": 2000, \"uptime_ns\": 1000000, \"rss_bytes\": 4096},\n");
    fprintf(out, " \"totals\": {\"live_bytes\": 4075, \"live_blocks\": 4, \"complete\": true},\n");
    fprintf(out, " \"modules\": [");
    dl_iterate_phdr(module_cb, NULL);
    fprintf(out, "],\n \"stacks\": [");
    for (int i = 0; i < nstacks; i++) {
        fprintf(out, "%s\n    {\"id\": %d, \"frames\": [", i ? "," : "", i + 1);
        for (int k = 0; k < stacks[i].n; k++)
            fprintf(out, "%s\"%p\"", k ? ", " : "", stacks[i].pc[k]);
        fprintf(out, "], \"truncated\": false}");
    }
    fprintf(out, "],\n \"sites\": [\n");
    fprintf(out, "    {\"stack\": %d, \"family\": \"malloc\", \"live_blocks\": 3, \"live_bytes\": 4011, "
            "\"total_blocks\": 3, \"total_bytes\": 4011, \"freed_blocks\": 0},\n", a + 1);
    fprintf(out, "    {\"stack\": %d, \"family\": \"new[]\", \"live_blocks\": 1, \"live_bytes\": 64, "
            "\"total_blocks\": 1, \"total_bytes\": 64, \"freed_blocks\": 0},\n", b + 1);
    fprintf(out, "    {\"stack\": %d, \"family\": \"malloc\", \"live_blocks\": 0, \"live_bytes\": 0, "
            "\"total_blocks\": 5, \"total_bytes\": 500, \"freed_blocks\": 5}", c + 1);
#ifdef LK_EXTRA_LEAK
    fprintf(out, ",\n    {\"stack\": %d, \"family\": \"malloc\", \"live_blocks\": 1, \"live_bytes\": 128}",
            xd + 1);
#endif
    fprintf(out, "],\n");
    fprintf(out, " \"mismatches\": [{\"alloc_stack\": %d, \"free_stack\": %d, \"alloc_family\": "
            "\"new[]\", \"free_family\": \"malloc\", \"count\": 1, \"bytes\": 40}]\n}\n",
            ma + 1, mf + 1);
    fclose(out);
    return 0;
}
