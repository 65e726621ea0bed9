/* scan_roots.c - the roots of this process, the way LSan's platform half
 * finds them: writable segments of each module, each thread's stack from its
 * stack pointer up, its TLS and descriptor, its registers; and a reader of
 * our own memory that cannot fault. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "scan_internal.h"

/* ### reading our own memory without faulting */

int lk_scan_read_mode;          /* 0: /proc/self/mem or process_vm_readv, 1: pipe probe */
static int probe_pipe[2] = {-1, -1};

/* Copy what is readable of [addr, addr+len) into 'dst' one page at a time
 * through a pipe: write(2) fails with EFAULT on an unreadable source instead
 * of faulting.  Returns the readable prefix length. */
static size_t read_pipe(uintptr_t addr, void *dst, size_t len)
{
    if (probe_pipe[0] < 0 && pipe2(probe_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return 0;
    size_t done = 0;
    while (done < len) {
        size_t l = PAGE - ((addr + done) & (PAGE - 1));
        if (l > len - done) l = len - done;
        ssize_t w = write(probe_pipe[1], (const void *)(addr + done), l);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        size_t got = 0;
        while (got < (size_t)w) {
            ssize_t r = read(probe_pipe[0], (char *)dst + done + got, (size_t)w - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return done + got;
            got += (size_t)r;
        }
        done += got;
        if ((size_t)w < l) break;
    }
    return done;
}

/* Readable prefix of one request, page by page with process_vm_readv. */
static size_t read_vm_pages(pid_t pid, uintptr_t addr, void *dst, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t l = PAGE - ((addr + done) & (PAGE - 1));
        if (l > len - done) l = len - done;
        struct iovec li = {(char *)dst + done, l}, ri = {(void *)(addr + done), l};
        ssize_t r = process_vm_readv(pid, &li, 1, &ri, 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == ENOSYS || errno == EPERM)) {
            lk_scan_read_mode = 1;      /* seccomp or an old kernel: use the pipe */
            return done + read_pipe(addr + done, (char *)dst + done, len - done);
        }
        if (r <= 0) break;
        done += (size_t)r;
        if ((size_t)r < l) break;
    }
    return done;
}

/* Readable prefix of one request: one process_vm_readv, page by page only
 * past a short read. */
static size_t read_vm_run(pid_t pid, uintptr_t addr, void *dst, size_t len)
{
    struct iovec li = {dst, len}, ri = {(void *)addr, len};
    ssize_t r;
    do
        r = len ? process_vm_readv(pid, &li, 1, &ri, 1, 0) : 0;
    while (r < 0 && errno == EINTR);
    if (r == (ssize_t)len) return len;
    size_t got = r > 0 ? (size_t)r : 0;
    return got + read_vm_pages(pid, addr + got, (char *)dst + got, len - got);
}

/* ### reading through /proc/self/mem
 * process_vm_readv pins the pages it reads, and since Linux 5.19 pinning an
 * anonymous page shared copy-on-write with another process (a forked child
 * and its parent) makes the kernel copy it: a child's exit scan would copy
 * every inherited page it reads.  A read of /proc/self/mem takes plain page
 * references, which copy nothing.  It also reads through PROT_NONE (it
 * forces access), so it is used only inside mappings that /proc/self/maps
 * listed readable; anything else is read with process_vm_readv as before. */
#define MEM_SPAN  (256u * 1024)         /* bytes of one coalesced read */
#define MEM_GAP   (64u * 1024)          /* requests this close are read with the gap between them */
#define MEM_IOV   128u                  /* iovecs of one coalesced read */
#define MEM_JUNK  4096u                 /* where a gap's bytes go, in pieces of this size */

static uint8_t junk[MEM_JUNK];          /* shared by concurrent scans: never read */

static bool mem_open(lk_scan_roots_t *rb)
{
    if (rb->mem_state == 0) {
        rb->mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
        rb->mem_state = rb->mem_fd >= 0 ? 1 : -1;
    }
    return rb->mem_state > 0;
}

/* The end of the run of readable mappings holding 'a', or 0. */
static uintptr_t readable_end(lk_scan_roots_t *rb, uintptr_t a)
{
    if (a >= rb->mem_lo && a < rb->mem_hi) return rb->mem_hi;
    size_t lo = 0, hi = rb->nmaps;
    while (lo < hi) {           /* /proc/self/maps lists mappings in address order */
        size_t mid = lo + (hi - lo) / 2;
        if (rb->maps[mid].hi <= a) lo = mid + 1;
        else hi = mid;
    }
    if (lo == rb->nmaps || a < rb->maps[lo].lo || !rb->maps[lo].readable) return 0;
    size_t e = lo;
    while (e + 1 < rb->nmaps && rb->maps[e + 1].lo == rb->maps[e].hi && rb->maps[e + 1].readable)
        e++;
    rb->mem_lo = rb->maps[lo].lo;
    rb->mem_hi = rb->maps[e].hi;
    return rb->mem_hi;
}

/* One pread of [addr, addr+len); its byte count, or -1 (no such data: EIO). */
static ssize_t mem_pread(lk_scan_roots_t *rb, uintptr_t addr, void *dst, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(rb->mem_fd, (char *)dst + done, len - done, (off_t)(addr + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && !done) return -1;
        if (r <= 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Readable prefix of one request: /proc/self/mem inside readable mappings,
 * else (and past a hole, to count it exactly as before) process_vm_readv. */
static size_t read_run(lk_scan_roots_t *rb, pid_t pid, uintptr_t addr, void *dst, size_t len)
{
    if (!len) return 0;
    uintptr_t end = rb && lk_scan_read_mode == 0 && mem_open(rb) ? readable_end(rb, addr) : 0;
    if (end < addr + len) return read_vm_run(pid, addr, dst, len);
    ssize_t r = mem_pread(rb, addr, dst, len);
    size_t got = r > 0 ? (size_t)r : 0;
    if (got == len) return len;
    return got + read_vm_run(pid, addr + got, (char *)dst + got, len - got);
}

/* ### pages never touched
 * Reading a page of anonymous memory that was never touched makes the kernel
 * fault it in (~8 us a page on a paravirtualised VM), only to return zeros,
 * which hold no pointer: a small program's .bss and TLS are mostly such
 * pages.  /proc/self/pagemap tells which pages are present or swapped;
 * mincore would not (a swapped page is not resident but holds data). */
#define SPARSE_MIN   (4 * PAGE)         /* shorter requests (most blocks) are read as they are, batched */
#define PAGEMAP_MAX  512u               /* pagemap entries read at once */
#define PM_PRESENT   (UINT64_C(1) << 63)
#define PM_SWAPPED   (UINT64_C(1) << 62)

static const lk_scan_map_t *anon_map_of(const lk_scan_roots_t *rb, uintptr_t lo, uintptr_t hi)
{
    for (size_t i = 0; i < rb->nmaps; i++)
        if (lo >= rb->maps[i].lo && lo < rb->maps[i].hi)
            return rb->maps[i].anon && rb->maps[i].readable && hi <= rb->maps[i].hi
                       ? &rb->maps[i] : NULL;
    return NULL;
}

static bool sparse_eligible(const lk_scan_roots_t *rb, const lk_scan_io_t *io)
{
    return rb && rb->pagemap_state >= 0 && io->len >= SPARSE_MIN &&
           anon_map_of(rb, io->addr, io->addr + io->len);
}

/* Read one request whose range lies in one private anonymous mapping,
 * zero-filling pages neither present nor swapped.  Returns false (nothing
 * done) when every page is there anyway, or pagemap cannot be read. */
static bool read_sparse(lk_scan_roots_t *rb, pid_t pid, lk_scan_io_t *io)
{
    if (rb->pagemap_state == 0) {
        rb->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        rb->pagemap_state = rb->pagemap_fd >= 0 ? 1 : -1;
    }
    if (rb->pagemap_state < 0) return false;
    uint64_t ent[PAGEMAP_MAX];
    uintptr_t first = io->addr / PAGE, last = (io->addr + io->len - 1) / PAGE;
    size_t done = 0;
    bool sparse = false;
    for (uintptr_t pg = first; pg <= last;) {
        size_t k = last - pg + 1 < PAGEMAP_MAX ? last - pg + 1 : PAGEMAP_MAX;
        ssize_t r = pread(rb->pagemap_fd, ent, k * sizeof *ent, (off_t)(pg * sizeof *ent));
        if (r < (ssize_t)(k * sizeof *ent)) {
            if (r < 0 && errno == EINTR) continue;
            if (!sparse) return false;  /* nothing read yet: the caller reads it all */
            io->got = done + read_run(rb, pid, io->addr + done, (char *)io->dst + done,
                                           io->len - done);
            return true;
        }
        for (size_t j = 0; j < k; j++) {
            uintptr_t a = (pg + j) * PAGE, e = a + PAGE;
            if (a < io->addr) a = io->addr;
            if (e > io->addr + io->len) e = io->addr + io->len;
            if (ent[j] & (PM_PRESENT | PM_SWAPPED)) continue;
            if (!sparse) {
                /* the first untouched page: what precedes it is read as usual */
                sparse = true;
                size_t got = read_run(rb, pid, io->addr, io->dst, a - io->addr);
                if (got < a - io->addr) {
                    io->got = got;
                    return true;
                }
                done = a - io->addr;
            } else if (a - io->addr > done) {
                size_t want = a - io->addr - done;
                size_t got = read_run(rb, pid, io->addr + done, (char *)io->dst + done, want);
                if (got < want) {
                    io->got = done + got;
                    return true;
                }
                done += want;
            }
            memset((char *)io->dst + done, 0, e - a);
            done += e - a;
            rb->pages_skipped++;
        }
        pg += k;
    }
    if (!sparse) return false;
    if (done < io->len)
        done += read_run(rb, pid, io->addr + done, (char *)io->dst + done, io->len - done);
    io->got = done;
    return true;
}

/* The batch with process_vm_readv (or the pipe): 256 iovecs a call. */
static void read_batch_vm(lk_scan_roots_t *rb, pid_t pid, lk_scan_io_t *io, size_t n)
{
    struct iovec li[READ_IOV], ri[READ_IOV];
    size_t i = 0;
    while (i < n) {
        if (lk_scan_read_mode == 1) {
            io[i].got = read_pipe(io[i].addr, io[i].dst, io[i].len);
            i++;
            continue;
        }
        if (sparse_eligible(rb, &io[i]) && read_sparse(rb, pid, &io[i])) {
            i++;
            continue;
        }
        size_t k = n - i < READ_IOV ? n - i : READ_IOV;
        for (size_t j = 1; j < k; j++)
            if (sparse_eligible(rb, &io[i + j])) {
                k = j;          /* tried on its own next */
                break;
            }
        for (size_t j = 0; j < k; j++) {
            li[j] = (struct iovec){io[i + j].dst, io[i + j].len};
            ri[j] = (struct iovec){(void *)io[i + j].addr, io[i + j].len};
        }
        ssize_t r = process_vm_readv(pid, li, (unsigned long)k, ri, (unsigned long)k, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSYS || errno == EPERM) {
                lk_scan_read_mode = 1;  /* seccomp or an old kernel: use the pipe */
                continue;
            }
            r = 0;              /* EFAULT: the first request failed at once */
        }
        size_t left = (size_t)r;
        size_t j = 0;
        for (; j < k && left >= io[i + j].len; j++) {
            io[i + j].got = io[i + j].len;
            left -= io[i + j].len;
        }
        i += j;
        if (j < k) {
            /* Request i stopped short: find its exact readable prefix. */
            io[i].got = read_vm_pages(pid, io[i].addr, io[i].dst, io[i].len);
            i++;
        }
    }
}

/* Sort request indices by address: a shell sort, since qsort may call
 * malloc, whose hook would wait on the table locks the scan holds. */
static void sort_by_addr(const lk_scan_io_t *io, uint32_t *ix, size_t n)
{
    static const size_t gaps[] = {132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++)
        for (size_t i = gaps[g]; i < n; i++) {
            uint32_t v = ix[i];
            size_t j = i;
            for (; j >= gaps[g] && io[ix[j - gaps[g]]].addr > io[v].addr; j -= gaps[g])
                ix[j] = ix[j - gaps[g]];
            ix[j] = v;
        }
}

#define MEM_SORT     512u               /* requests sorted and coalesced at once */
#define MEM_SCATTER  8u                 /* more reads than this a batch: scattered */

/* The end (exclusive) of the group of sorted requests from ix[g] that one
 * preadv covers: each request's bytes into its buffer, the gaps between
 * them into 'junk' (overlapping requests go to separate groups).  With
 * 'iov', fills it and returns the iovec count in '*niov'. */
static size_t group_end(lk_scan_roots_t *rb, const lk_scan_io_t *io, const uint32_t *ix, size_t g,
                        size_t k, struct iovec *iov, size_t *niov)
{
    const lk_scan_io_t *f = &io[ix[g]];
    uintptr_t lo = f->addr, e = f->addr + f->len, end = readable_end(rb, lo);
    size_t h = g + 1, n = 1;
    if (iov) iov[0] = (struct iovec){f->dst, f->len};
    while (end >= e && h < k) {
        const lk_scan_io_t *q = &io[ix[h]];
        uintptr_t qe = q->addr + q->len;
        size_t pieces = (q->addr - e + MEM_JUNK - 1) / MEM_JUNK;
        if (q->addr < e || q->addr - e > MEM_GAP || qe - lo > MEM_SPAN || qe > end ||
            n + pieces + 1 > MEM_IOV)
            break;
        for (; iov && e < q->addr; e += iov[n++].iov_len)
            iov[n] = (struct iovec){junk, q->addr - e < MEM_JUNK ? q->addr - e : MEM_JUNK};
        if (iov) iov[n] = (struct iovec){q->dst, q->len};
        n += iov ? 1 : pieces + 1;
        e = qe;
        h++;
    }
    if (niov) *niov = n;
    return h;
}

/* Would the m requests at 'io' take more than MEM_SCATTER reads?  Leaves
 * their sorted indices in 'ix'. */
static bool scattered(lk_scan_roots_t *rb, const lk_scan_io_t *io, size_t m, uint32_t *ix)
{
    if (m <= MEM_SCATTER) return false;
    for (size_t j = 0; j < m; j++) ix[j] = (uint32_t)j;
    sort_by_addr(io, ix, m);
    size_t groups = 0;
    for (size_t g = 0; g < m && groups <= MEM_SCATTER; groups++)
        g = group_end(rb, io, ix, g, m, NULL, NULL);
    return groups > MEM_SCATTER;
}

void lk_scan_read_self(lk_scan_io_t *io, size_t n, void *arg)
{
    int saved = errno;
    lk_scan_roots_t *rb = arg;
    pid_t pid = rb && rb->pid ? rb->pid : getpid();
    if (!rb || lk_scan_read_mode != 0 || !mem_open(rb)) {
        read_batch_vm(rb, pid, io, n);
        errno = saved;
        return;
    }
    uint32_t ix[MEM_SORT];
    for (size_t base = 0; base < n; base += MEM_SORT) {
        size_t m = n - base < MEM_SORT ? n - base : MEM_SORT, k = 0;
        if (!lk_forked_from && scattered(rb, io + base, m, ix)) {
            /* no page here is shared with a parent: process_vm_readv reads
             * scattered requests (a big heap's blocks) with fewer calls */
            read_batch_vm(rb, pid, io + base, m);
            continue;
        }
        for (size_t j = base; j < base + m; j++)
            if (!(sparse_eligible(rb, &io[j]) && read_sparse(rb, pid, &io[j])))
                ix[k++] = (uint32_t)j;
        sort_by_addr(io, ix, k);
        /* Requests close together inside one run of readable mappings are
         * read with one preadv (a heap's small blocks: one system call each
         * would cost more than reading the gaps). */
        struct iovec iov[MEM_IOV];
        for (size_t g = 0; g < k;) {
            lk_scan_io_t *f = &io[ix[g]];
            size_t niov, h = group_end(rb, io, ix, g, k, iov, &niov);
            if (h == g + 1) {
                f->got = read_run(rb, pid, f->addr, f->dst, f->len);
                g = h;
                continue;
            }
            size_t want = io[ix[h - 1]].addr + io[ix[h - 1]].len - f->addr;
            ssize_t r;
            do
                r = preadv(rb->mem_fd, iov, (int)niov, (off_t)f->addr);
            while (r < 0 && errno == EINTR);
            for (; g < h; g++) {
                lk_scan_io_t *q = &io[ix[g]];
                /* a hole: each request alone finds its exact prefix */
                q->got = r == (ssize_t)want ? q->len : read_run(rb, pid, q->addr, q->dst, q->len);
            }
        }
    }
    errno = saved;
}

__thread lk_entry_t lk_tls_entry __attribute__((tls_model("initial-exec")));

uintptr_t lk_scan_self_stack_lo(uintptr_t here)
{
    return lk_tls_entry.sp ? lk_tls_entry.sp : here - 128;
}

/* ### the exit destructor's bound: the program's frame under libc's exit */

/* The code of libleak.so, libc and ld.so: no frame there is the program's. */
typedef struct not_program {
    uintptr_t anchor[4];        /* an address in each of those modules (0: none) */
    uintptr_t base;             /* ld.so's load address (AT_BASE) */
    uintptr_t lo[16], hi[16];
    int n;
} not_program_t;

static int not_program_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    not_program_t *np = arg;
    int hit = info->dlpi_addr != 0 && info->dlpi_addr == np->base;
    for (int i = 0; i < info->dlpi_phnum && !hit; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        for (int a = 0; ph->p_type == PT_LOAD && a < 4; a++)
            hit |= np->anchor[a] >= lo && np->anchor[a] < lo + ph->p_memsz;
    }
    for (int i = 0; hit && i < info->dlpi_phnum && np->n < 16; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        np->lo[np->n] = info->dlpi_addr + ph->p_vaddr;
        np->hi[np->n++] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
    return 0;
}

static bool not_program(uintptr_t pc, void *arg)
{
    const not_program_t *np = arg;
    for (int i = 0; i < np->n; i++)  /* pc is a return address: its call is just before */
        if (pc - 1 >= np->lo[i] && pc - 1 < np->hi[i]) return true;
    return false;
}

int lk_scan_entry_outer(uintptr_t *lo, uintptr_t regs[6])
{
    if (!lk_tls_entry.sp || !lk_tls_entry.outer) return 0;
    not_program_t np;
    memset(&np, 0, sizeof np);
    np.anchor[0] = (uintptr_t)&lk_scan_entry_outer;
    np.anchor[1] = (uintptr_t)dlsym(RTLD_DEFAULT, "__libc_start_main");
    np.anchor[2] = (uintptr_t)dlsym(RTLD_DEFAULT, "__tls_get_addr");
    np.base = (uintptr_t)getauxval(AT_BASE);
    dl_iterate_phdr(not_program_cb, &np);
    uintptr_t sp = 0;
    if (lk_stack_outer_frame(not_program, &np, lk_tls_entry.sp, &sp, regs) <= 0) return -1;
    *lo = sp;
    return 1;
}

static uintptr_t main_tp;       /* thread pointer of the thread that loaded us */
static pid_t main_tid;

static uintptr_t thread_pointer(void)
{
    uintptr_t tp = 0;
#if defined(__x86_64__)
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
#endif
    return tp;
}

/* Remember the main thread's thread pointer: its TLS and descriptor live
 * outside its stack, and no other thread can learn where. */
__attribute__((constructor)) static void scan_init(void)
{
    main_tp = thread_pointer();
    main_tid = getpid();
}

static void add_root_raw(lk_scan_roots_t *rb, uintptr_t lo, uintptr_t hi, int kind, int tid,
                         const char *module, uintptr_t base)
{
    if (hi <= lo) return;
    if (rb->n == rb->cap) {
        size_t cap = rb->cap ? rb->cap * 2 : 64;
        lk_scan_root_t *p = lk_real_realloc(rb->r, cap * sizeof *p);
        if (!p) {
            rb->oom = 1;
            return;
        }
        rb->r = p;
        rb->cap = cap;
    }
    rb->r[rb->n++] = (lk_scan_root_t){lo, hi, kind, tid, module, base, 0};
}

void lk_scan_add_root(lk_scan_roots_t *rb, uintptr_t lo, uintptr_t hi, int kind, int tid,
                      const char *module, uintptr_t base)
{
    for (size_t i = 0; i < rb->nexcl && lo < hi; i++) {
        uintptr_t xl = rb->excl[i][0], xh = rb->excl[i][1];
        if (xh <= lo || xl >= hi) continue;
        if (xl > lo) lk_scan_add_root(rb, lo, xl, kind, tid, module, base);
        lo = xh;
    }
    add_root_raw(rb, lo, hi, kind, tid, module, base);
}

static char *dup_str(const char *s)
{
    size_t l = strlen(s) + 1;
    char *d = lk_real_malloc(l);
    if (d) memcpy(d, s, l);
    return d;
}

/* One module: each writable PT_LOAD segment (.data and .bss) is a root,
 * except libleak.so's own, whose tables would otherwise hold everything. */
static int module_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    lk_scan_roots_t *rb = arg;
#ifndef LK_TESTING /* in the unit tests scan.o sits in the test program itself */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (rb->self_marker >= lo && rb->self_marker < lo + ph->p_memsz) return 0;
    }
#endif
    const char *name = info->dlpi_name;
    char exe[4096];
    if (!name || !*name) {
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (l < 0) l = 0;
        exe[l] = '\0';
        name = exe;
    }
    char *path = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || !(ph->p_flags & PF_R)) continue;
        if (!path) {
            char **s = lk_real_realloc(rb->strings, (rb->nstrings + 1) * sizeof *s);
            if (!s || !(path = dup_str(name))) {
                if (s) rb->strings = s;
                rb->oom = 1;
                return 1;
            }
            rb->strings = s;
            rb->strings[rb->nstrings++] = path;
        }
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        lk_scan_add_root(rb, lo, lo + ph->p_memsz, LK_ROOT_GLOBAL, 0, path, info->dlpi_addr);
    }
    return 0;
}

/* Read a whole /proc file into a NUL-terminated malloc'd buffer, 'cap' bytes at first. */
static char *slurp(const char *path, size_t *len, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t n = 0;
    char *buf = lk_real_malloc(cap);
    while (buf) {
        if (cap - n < 2) {
            char *p = lk_real_realloc(buf, cap * 2);
            if (!p) {
                lk_real_free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* One line of /proc/self/maps: "lo-hi perms offset dev inode   name".
 * Returns false on a line it does not understand. */
static bool parse_hex(const char **p, unsigned long *v)
{
    const char *s = *p;
    unsigned long x = 0;
    int n = 0;
    for (;; s++, n++) {
        unsigned d = *s >= '0' && *s <= '9' ? (unsigned)(*s - '0')
                   : *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10) : 16;
        if (d == 16) break;
        x = x << 4 | d;
    }
    *p = s;
    *v = x;
    return n > 0;
}

static const char *skip_field(const char *s)
{
    while (*s && *s != ' ') s++;
    while (*s == ' ') s++;
    return s;
}

/* Parse /proc/self/maps.  Special mappings ([vvar], [vsyscall]) and device
 * files are marked unreadable: reading them can have side effects. */
static lk_scan_map_t *read_maps(size_t *count)
{
    char *text = slurp("/proc/self/maps", NULL, 16384);
    if (!text) return NULL;
    size_t cap = 64, n = 0;
    lk_scan_map_t *m = lk_real_malloc(cap * sizeof *m);
    for (char *line = text; m && *line;) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        unsigned long lo, hi, inode = 0;
        const char *p = line, *perms;
        if (parse_hex(&p, &lo) && *p++ == '-' && parse_hex(&p, &hi) && *p == ' ' &&
            strlen(perms = p + 1) >= 4) {
            p = skip_field(skip_field(skip_field(perms)));     /* perms, offset, dev */
            while (*p >= '0' && *p <= '9') inode = inode * 10 + (unsigned long)(*p++ - '0');
            while (*p == ' ') p++;
            const char *name = p;
            int ok = perms[0] == 'r' && strcmp(name, "[vvar]") != 0 &&
                     strcmp(name, "[vsyscall]") != 0 && strncmp(name, "/dev/", 5) != 0;
            if (n == cap) {
                lk_scan_map_t *q = lk_real_realloc(m, cap * 2 * sizeof *m);
                if (!q) {
                    lk_real_free(m);
                    m = NULL;
                    break;
                }
                m = q;
                cap *= 2;
            }
            int guarded = n > 0 && m[n - 1].hi == lo && m[n - 1].prot_none;
            m[n] = (lk_scan_map_t){lo, hi, ok, ok && guarded && perms[1] == 'w' && !*name, 0, 0, 0, 0};
            m[n].prot_none = !strncmp(perms, "---", 3);
            m[n].main_stack = ok && !strcmp(name, "[stack]");
            /* no file behind it: its untouched pages are zero-fill-on-demand */
            m[n].anon = ok && perms[3] == 'p' && inode == 0 &&
                        (!*name || !strcmp(name, "[heap]") || !strcmp(name, "[stack]") ||
                         !strncmp(name, "[anon:", 6));
            n++;
        }
        if (!eol) break;
        line = eol + 1;
    }
    lk_real_free(text);
    *count = n;
    return m;
}

static lk_scan_map_t *map_of(lk_scan_map_t *m, size_t n, uintptr_t a)
{
    for (size_t i = 0; i < n; i++)
        if (a >= m[i].lo && a < m[i].hi) return m[i].readable ? &m[i] : NULL;
    return NULL;
}

/* Static TLS size and thread descriptor size from glibc's private exports
 * (what libthread_db and LSan use); 0 when unavailable.  Calls dlsym, so
 * it must run before the table locks are taken. */
static void tls_sizes(size_t *static_size, size_t *tcb)
{
    *static_size = 0;
    *tcb = 0;
    void (*get)(size_t *, size_t *);
    *(void **)&get = dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
    const unsigned *sz = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
    if (get) {
        size_t align = 0;
        get(static_size, &align);
    }
    if (sz) *tcb = *sz;
}

/* Find a glibc thread descriptor at the top of stack mapping 'm': its first
 * word (tcb) and third (self) both hold its own address.  Returns it or 0. */
static uintptr_t find_tcb(lk_scan_roots_t *rb, const lk_scan_map_t *m, size_t tcb)
{
    /* A heap copy, never a static one: the copy of another thread's stack
     * must not become part of a root. */
    const size_t span = 16384;
    uintptr_t *buf = lk_real_malloc(span), found = 0;
    if (!buf) return 0;
    uintptr_t lo = m->hi - m->lo > span ? m->hi - span : m->lo;
    lk_scan_io_t io = {lo, buf, m->hi - lo, 0};
    lk_scan_read_self(&io, 1, rb);
    size_t words = io.got / WORD;
    size_t top = tcb && m->hi - tcb > lo ? (m->hi - tcb - lo) / WORD : words;
    size_t w = top < words ? top + 1 : words;
    while (w > 0 && ((lo + (w - 1) * WORD) & 63)) w--;
    for (; w > 0; w = w > 64 / WORD ? w - 64 / WORD : 0) {   /* w - 1: each 64-byte aligned word, downwards */
        uintptr_t a = lo + (w - 1) * WORD;
        if (w + 1 < words && buf[w - 1] == a && buf[w + 1] == a) {
            found = a;
            break;
        }
    }
    memset(buf, 0, span);
    lk_real_free(buf);
    return found;
}

/* Parse the stack pointer and syscall arguments from
 * /proc/self/task/<tid>/syscall ("nr a1..a6 sp pc", "-1 sp pc" when blocked
 * outside a syscall, "running" when on a CPU or runnable).  Returns 0, or
 * -EAGAIN for a running thread. */
static int thread_sp(int tid, uintptr_t *sp, uintptr_t args[6])
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    char *t = slurp(path, NULL, 256);     /* one line: at exit a page would be a fresh one */
    if (!t) return -EAGAIN;
    unsigned long v[9];
    long nr;
    int k = sscanf(t, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    lk_real_free(t);
    if (k == 9) {
        for (int i = 0; i < 6; i++) args[i] = v[i];
        *sp = v[6];
        return 0;
    }
    if (k == 3 && nr == -1) {
        *sp = v[0];
        return 0;
    }
    return -EAGAIN;
}

/* Does the thread descriptor at 'tp' name thread 'tid'?  glibc keeps the
 * tid as an int inside struct pthread; its offset varies by version, so
 * search the descriptor ('tcb' bytes) for it. */
static int tcb_has_tid(lk_scan_roots_t *rb, uintptr_t tp, size_t tcb, int tid)
{
    size_t len = tcb ? tcb : 2304;
    int32_t *buf = lk_real_malloc(len);
    if (!buf) return 0;
    lk_scan_io_t io = {tp, buf, len, 0};
    lk_scan_read_self(&io, 1, rb);
    int found = 0;
    for (size_t i = 3 * WORD / sizeof *buf; i < io.got / sizeof *buf && !found; i++)
        found = buf[i] == tid;
    lk_real_free(buf);
    return found;
}

/* Add a TLS root [lo, hi) for the descriptor at 'tp'. */
static void add_tls_root(lk_scan_roots_t *rb, uintptr_t lo, uintptr_t hi, int tid, uintptr_t tp)
{
    size_t first = rb->n;
    lk_scan_add_root(rb, lo, hi, LK_ROOT_TLS, tid, NULL, 0);
#if defined(__x86_64__)
    /* tcbhead_t is { tcb, dtv, self, ... } */
    for (size_t i = first; i < rb->n; i++) rb->r[i].dtv_word = tp + WORD;
#else
    (void)first;
    (void)tp;
#endif
}

/* Exited threads whose stacks glibc keeps in its stack cache still own a
 * descriptor and a DTV; without this their DTVs would read as leaks.  Their
 * TLS becomes a root with tid 0. */
static void add_cached_descriptors(lk_scan_roots_t *rb, lk_scan_map_t *maps, size_t nmaps,
                                   size_t static_size, size_t tcb)
{
    for (size_t i = 0; i < nmaps; i++) {
        if (!maps[i].stack_like || maps[i].used) continue;
        uintptr_t tp = find_tcb(rb, &maps[i], tcb);
        if (!tp) continue;
        size_t below = static_size > tcb ? static_size - tcb : 4096;
        uintptr_t lo = tp - below > maps[i].lo ? tp - below : maps[i].lo;
        uintptr_t hi = tp + (tcb ? tcb : 2304);
        if (hi > maps[i].hi) hi = maps[i].hi;
        add_tls_root(rb, lo, hi, 0, tp);
    }
}

/* Add the roots of thread 'tid': TLS and descriptor (when found), the stack
 * from 'sp' (minus 'red' bytes of red zone) to the top of its mapping. */
static void add_thread(lk_scan_roots_t *rb, lk_scan_map_t *maps, size_t nmaps, int tid,
                       uintptr_t sp, size_t red, uintptr_t tp, size_t static_size, size_t tcb)
{
    lk_scan_map_t *sm = map_of(maps, nmaps, sp);
    uintptr_t tls_lo = 0, tls_hi = 0;
    if (!tp && sm) tp = find_tcb(rb, sm, tcb);
    if (tp) {
        /* x86-64 (TLS variant II): static TLS sits below the descriptor. */
        size_t below = static_size > tcb ? static_size - tcb : 4096;
        tls_lo = tp - below;
        tls_hi = tp + (tcb ? tcb : 2304);
        const lk_scan_map_t *tm = map_of(maps, nmaps, tp);
        if (tm) {
            if (tls_lo < tm->lo) tls_lo = tm->lo;
            if (tls_hi > tm->hi) tls_hi = tm->hi;
            add_tls_root(rb, tls_lo, tls_hi, tid, tp);
        }
    }
    if (!sm) {
        rb->sp_unknown++;
        return;
    }
    sm->used = 1;
    uintptr_t lo = sp - red > sm->lo ? sp - red : sm->lo, hi = sm->hi;
    if (tls_lo > lo && tls_lo < hi) hi = tls_lo;
    lk_scan_add_root(rb, lo, hi, LK_ROOT_STACK, tid, NULL, 0);
    rb->threads++;
}

int lk_scan_roots_modules(lk_scan_roots_t *rb)
{
    rb->pid = getpid();
    tls_sizes(&rb->static_size, &rb->tcb);
    rb->maps = read_maps(&rb->nmaps);
    if (!rb->maps) return -ENOMEM;
    dl_iterate_phdr(module_cb, rb);
    return rb->oom ? -ENOMEM : 0;
}

/* The threads of this process, from /proc/self/task. */
static void list_threads(lk_scan_roots_t *rb)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int tid = atoi(e->d_name);
        if (tid <= 0) continue;
        if (rb->ntids == rb->captids) {
            size_t cap = rb->captids ? rb->captids * 2 : 16;
            int *p = lk_real_realloc(rb->tids, cap * sizeof *p);
            if (!p) break;
            rb->tids = p;
            rb->captids = cap;
        }
        rb->tids[rb->ntids++] = tid;
    }
    closedir(d);
}

/* A thread on a CPU has no readable stack pointer; one spinning on a table
 * lock keeps running.  Retry a few times, briefly. */
static void add_stopped_threads(lk_scan_roots_t *rb)
{
    for (int round = 0; round < 8; round++) {
        int pending = 0;
        for (size_t i = 0; i < rb->ntids; i++) {
            if (rb->sps[i] != 1) continue;
            uintptr_t sp = 0;
            int tid = rb->tids[i];
            if (thread_sp(tid, &sp, &rb->args[i * 6]) < 0) {
                pending++;
                continue;
            }
            rb->sps[i] = sp;
            add_thread(rb, rb->maps, rb->nmaps, tid, sp, 128, tid == main_tid ? main_tp : 0,
                       rb->static_size, rb->tcb);
            lk_scan_add_root(rb, (uintptr_t)&rb->args[i * 6], (uintptr_t)&rb->args[i * 6 + 6],
                             LK_ROOT_REGISTERS, tid, NULL, 0);
        }
        if (!pending) break;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
}

/* Still running: scan its whole stack mapping instead (conservative), found
 * by the tid in its descriptor ([stack] for the main thread). */
static void add_running_threads(lk_scan_roots_t *rb)
{
    lk_scan_map_t *maps = rb->maps;
    for (size_t i = 0; i < rb->ntids; i++) {
        if (rb->sps[i] != 1) continue;
        rb->sp_unknown++;
        int tid = rb->tids[i];
        for (size_t m = 0; m < rb->nmaps; m++) {
            uintptr_t tp = 0;
            if (maps[m].used) continue;
            if (tid == main_tid ? !maps[m].main_stack
                                : !maps[m].stack_like || !(tp = find_tcb(rb, &maps[m], rb->tcb)) ||
                                      !tcb_has_tid(rb, tp, rb->tcb, tid))
                continue;
            add_thread(rb, maps, rb->nmaps, tid, maps[m].lo, 0, tid == main_tid ? main_tp : tp,
                       rb->static_size, rb->tcb);
            break;
        }
    }
}

int lk_scan_roots_threads(lk_scan_roots_t *rb, uintptr_t self_lo, const void *self_regs,
                          size_t self_regs_len)
{
    int self_tid = (int)syscall(SYS_gettid);
    list_threads(rb);
    rb->args = lk_real_calloc(rb->ntids ? rb->ntids * 6 : 1, sizeof *rb->args);
    rb->sps = lk_real_calloc(rb->ntids ? rb->ntids : 1, sizeof *rb->sps);
    if (!rb->args || !rb->sps) return -ENOMEM;
    for (size_t i = 0; i < rb->ntids; i++) {
        int tid = rb->tids[i];
        if (tid != self_tid) {
            rb->sps[i] = 1;  /* pending */
            continue;
        }
        add_thread(rb, rb->maps, rb->nmaps, tid, self_lo, 0, thread_pointer(), rb->static_size,
                   rb->tcb);
        lk_scan_add_root(rb, (uintptr_t)self_regs, (uintptr_t)self_regs + self_regs_len,
                         LK_ROOT_REGISTERS, tid, NULL, 0);
    }
    add_stopped_threads(rb);
    add_running_threads(rb);
    add_cached_descriptors(rb, rb->maps, rb->nmaps, rb->static_size, rb->tcb);
    return rb->oom ? -ENOMEM : 0;
}

void lk_scan_roots_free(lk_scan_roots_t *rb)
{
    if (rb->pagemap_state > 0) close(rb->pagemap_fd);
    if (rb->mem_state > 0) close(rb->mem_fd);
    for (size_t i = 0; i < rb->nstrings; i++) lk_real_free(rb->strings[i]);
    lk_real_free(rb->strings);
    lk_real_free(rb->r);
    lk_real_free(rb->maps);
    lk_real_free(rb->args);
    lk_real_free(rb->sps);
    lk_real_free(rb->tids);
    memset(rb, 0, sizeof *rb);
}
