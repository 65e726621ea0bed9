/* pl_unwind_late: an allocation through a frame whose rule the CFI reader
 * declines (decline_call: CFA = rbx + 16, which only libunwind evaluates),
 * before and after libleak has loaded libunwind for it.
 *   late_alloc(111) through decline_call, once: libunwind was not loaded
 *       (under the preload, unless LIBLEAK_FAST_UNWIND=0)
 *   waits (bounded: 5 s) until libunwind is mapped, reading /proc/self/maps
 *   late_alloc(222) through decline_call, once: a full stack
 * Prints "ok"; on stderr "libunwind at start: yes|no" and "libunwind after:
 * yes|no" (natively both no). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *decline_call(void *(*fn)(size_t), size_t n);
__asm__(".text\n"
        ".globl decline_call\n"
        ".type decline_call, @function\n"
        "decline_call:\n"
        ".cfi_startproc\n"
        "    push %rbx\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbx, -16\n"
        "    mov %rsp, %rbx\n"
        ".cfi_def_cfa_register %rbx\n"
        "    mov %rdi, %rax\n"
        "    mov %rsi, %rdi\n"
        "    call *%rax\n"
        "    mov %rbx, %rsp\n"
        ".cfi_def_cfa_register %rsp\n"
        "    pop %rbx\n"
        ".cfi_def_cfa_offset 8\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size decline_call, .-decline_call\n");

static void *keep[2];

__attribute__((noinline)) static void *late_alloc(size_t n)
{
    void *p = malloc(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

static char maps[1 << 17];

static int libunwind_mapped(void)
{
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0)
        return 0;
    size_t len = 0;
    ssize_t r;
    while (len < sizeof maps - 1 && (r = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    maps[len] = '\0';
    return strstr(maps, "/libunwind.so") != NULL;
}

int main(void)
{
    fprintf(stderr, "libunwind at start: %s\n", libunwind_mapped() ? "yes" : "no");
    keep[0] = decline_call(late_alloc, 111);
    int loaded = 0;
    for (int i = 0; i < 500 && !(loaded = libunwind_mapped()); i++) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "libunwind after: %s\n", loaded ? "yes" : "no");
    keep[1] = decline_call(late_alloc, 222);
    printf("ok\n");
    return keep[0] && keep[1] ? 0 : 1;
}
