/* cfi.h - a return address's frame rule, read from its module's DWARF CFI
 * (.eh_frame through .eh_frame_hdr), in the frame-rule cache's terms.
 * A leaf: no allocation, no lock, no system call (a few parsed CIEs are kept
 * per thread); every read is checked against the bounds of the module's
 * segment that holds the tables. */
#ifndef LK_CFI_H
#define LK_CFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What lk_cfi_rule found.  LK_CFI_OK: 'rule' is set; anything else says why
 * there is no rule the fast walk can apply (libunwind decides then). */
enum {
    LK_CFI_OK,
    LK_CFI_NO_MODULE,   /* no loaded object, no .eh_frame_hdr, or no ELF header at its start */
    LK_CFI_NO_FDE,      /* no FDE covers the address */
    LK_CFI_BAD,         /* malformed, out of bounds, or an encoding not handled */
    LK_CFI_SIGNAL,      /* a signal frame ('S') */
    LK_CFI_EXPR,        /* a DWARF expression (CFA or a register) */
    LK_CFI_CFA,         /* CFA neither rsp + delta nor rbp + 16 */
    LK_CFI_RBP,         /* rbp in a register, undefined, or saved out of this frame's reach */
    LK_CFI_RA,          /* return address not at CFA - 8, or an explicit rule for rsp */
    LK_CFI_STATE,       /* remember_state deeper than we keep */
    LK_CFI_NREASONS
};

#define LK_CFI_SP   1u          /* CFA = sp + delta */
#define LK_CFI_BP   2u          /* CFA = rbp + 16 */
#define LK_CFI_END  4u          /* return address undefined: the outermost frame */

typedef struct lk_cfi_rule {
    uint32_t kind;              /* LK_CFI_SP, LK_CFI_BP or LK_CFI_END */
    uint32_t delta;             /* LK_CFI_SP: bytes from sp to the CFA (8 .. 1 MiB) */
    uint32_t rbp_save;          /* the caller's rbp is at CFA - rbp_save (8 .. 0xffff);
                                 * 0: rbp is unchanged by this frame */
} lk_cfi_rule_t;

/* One module's unwind tables: .eh_frame_hdr at 'hdr' (its bytes end at
 * 'hdr_end'); every table byte read lies in [lo, hi). */
typedef struct lk_cfi_module {
    const uint8_t *hdr, *hdr_end;
    const uint8_t *lo, *hi;
} lk_cfi_module_t;

/* The loaded module holding code address 'pc' (_dl_find_object: lock-free,
 * no system call).  LK_CFI_OK or LK_CFI_NO_MODULE. */
int lk_cfi_module(uintptr_t pc, lk_cfi_module_t *m);

/* The rule of the frame whose return address is 'ra' (the row covering
 * ra - 1, the call), in module 'm'.  Returns LK_CFI_OK or a reason. */
int lk_cfi_rule_in(const lk_cfi_module_t *m, uintptr_t ra, lk_cfi_rule_t *rule);

/* lk_cfi_module(ra - 1) then lk_cfi_rule_in.  Safe in a malloc hook. */
int lk_cfi_rule(uintptr_t ra, lk_cfi_rule_t *rule);

/* Does an FDE of a loaded module surely cover code address 'pc'? */
bool lk_cfi_fde_covers(uintptr_t pc);

/* The work done so far, over all threads: FDEs looked up (lk_cfi_rule_in),
 * CIEs parsed (the others were kept from an earlier lookup), and CFI
 * instructions decoded. */
void lk_cfi_counts(uint64_t *fde_lookups, uint64_t *cie_parses, uint64_t *ops);

/* The reason's name, for tests and messages. */
const char *lk_cfi_reason(int rc);

#endif
