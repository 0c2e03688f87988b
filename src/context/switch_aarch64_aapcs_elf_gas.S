/*
 * Context switch for aarch64, AAPCS64, ELF, GNU as.
 *
 * A suspended context is its stack pointer; the frame it points at holds
 * d8-d15, x19-x30, the resume pc and FPCR, laid out in
 * include/cosync/impl/context_frame_aarch64_aapcs.h (a fresh context:
 * x19 = the entry function, x29 = x30 = 0, the end of the frame chain).
 *
 * Saved: the callee-saved registers of AAPCS64 6.1.1 (x19-x29, sp, the link
 * register), the low 64 bits of v8-v15 (6.1.2) and FPCR, whose rounding and
 * flush-to-zero modes are per context as MXCSR is on x86_64. Not saved: the
 * signal mask, FPSR (cumulative status flags), TPIDR_EL0 (coroutines never
 * change threads).
 *
 * Stack alignment: sp is a multiple of 16 at all times (AAPCS64 6.4.5.1);
 * the frame size is a multiple of 16, so every context keeps that alignment.
 */
#if !defined(__aarch64__) || !defined(__ELF__)
#error "switch_aarch64_aapcs_elf_gas.S selected for a target that is not aarch64 ELF"
#endif

#include "cosync/impl/context_frame_aarch64_aapcs.h"

#define D8      COSYNC_AARCH64_FRAME_D8
#define D10     COSYNC_AARCH64_FRAME_D10
#define D12     COSYNC_AARCH64_FRAME_D12
#define D14     COSYNC_AARCH64_FRAME_D14
#define X19     COSYNC_AARCH64_FRAME_X19
#define X21     COSYNC_AARCH64_FRAME_X21
#define X23     COSYNC_AARCH64_FRAME_X23
#define X25     COSYNC_AARCH64_FRAME_X25
#define X27     COSYNC_AARCH64_FRAME_X27
#define X29     COSYNC_AARCH64_FRAME_X29
#define PC      COSYNC_AARCH64_FRAME_PC
#define FRAME   COSYNC_AARCH64_FRAME_SIZE

#if defined(__ARM_FEATURE_BTI_DEFAULT)
#define LANDING_PAD hint #34            /* bti c */
#else
#define LANDING_PAD
#endif

        .text

/* Resumes the context whose saved frame sp points at and pops the frame:
   callee-saved registers, FPCR, and the resume address into x5. Writing
   FPCR can stall, so it is written only when it differs from the current
   value, which the caller puts in x9 (it rarely differs). */
        .macro restore_saved_frame
        ldp     d8,  d9,  [sp, #D8]
        ldp     d10, d11, [sp, #D10]
        ldp     d12, d13, [sp, #D12]
        ldp     d14, d15, [sp, #D14]
        ldp     x19, x20, [sp, #X19]
        ldp     x21, x22, [sp, #X21]
        ldp     x23, x24, [sp, #X23]
        ldp     x25, x26, [sp, #X25]
        ldp     x27, x28, [sp, #X27]
        ldp     x29, x30, [sp, #X29]
        ldp     x5, x10,  [sp, #PC]
        cmp     x9, x10
        b.eq    1f
        msr     fpcr, x10
1:      add     sp, sp, #FRAME
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data) */
        .globl  cosync_context_jump     /* exported: coroutine.hpp inlines calls */
        .type   cosync_context_jump, %function
        .p2align 4
cosync_context_jump:
        .cfi_startproc
        LANDING_PAD
        sub     sp, sp, #FRAME
        .cfi_adjust_cfa_offset FRAME
        stp     d8,  d9,  [sp, #D8]
        stp     d10, d11, [sp, #D10]
        stp     d12, d13, [sp, #D12]
        stp     d14, d15, [sp, #D14]
        stp     x19, x20, [sp, #X19]
        stp     x21, x22, [sp, #X21]
        stp     x23, x24, [sp, #X23]
        stp     x25, x26, [sp, #X25]
        stp     x27, x28, [sp, #X27]
        stp     x29, x30, [sp, #X29]
        mrs     x9, fpcr
        stp     x30, x9,  [sp, #PC]

        mov     x4, sp                  /* token of the context that leaves */
        mov     sp, x0                  /* the switch itself */

        restore_saved_frame
        .cfi_adjust_cfa_offset -FRAME

        /* transfer_t {from, data} in x0:x1, which is also how a fresh
           context's entry function receives it. x1 already holds data. */
        mov     x0, x4
        ret     x5
        .cfi_endproc
        .size   cosync_context_jump, .-cosync_context_jump

/* context_t cosync_context_make(void *stack_top, size_t size, EntryFn entry) */
        .globl  cosync_context_make
        .hidden cosync_context_make
        .type   cosync_context_make, %function
        .p2align 4
cosync_context_make:
        .cfi_startproc
        LANDING_PAD
        and     x0, x0, #~0xf
        sub     x0, x0, #FRAME
        str     x2,       [x0, #X19]
        stp     xzr, xzr, [x0, #X29]
        adr     x3, cosync_context_trampoline
        mrs     x4, fpcr
        stp     x3, x4,   [x0, #PC]
        ret
        .cfi_endproc
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: x0/x1 hold the transfer, x19 the entry.
   The link register is undefined here so unwinders stop at this frame.

   The entry function returns {context to resume, data} in x0:x1: the
   context that started here has finished and is left for good, so nothing
   is saved, and leaving from this frame (every call of the finished context
   returned) keeps the return-address predictor in step. */
        .type   cosync_context_trampoline, %function
        .p2align 4
cosync_context_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        blr     x19
        mrs     x9, fpcr
        mov     sp, x0                  /* the switch itself */
        restore_saved_frame
        mov     x0, xzr                 /* transfer.from: nothing to resume */
        ret     x5                      /* transfer.data is already in x1 */
        .cfi_endproc
        .size   cosync_context_trampoline, .-cosync_context_trampoline

        .section .note.GNU-stack, "", %progbits

#if defined(__ARM_FEATURE_BTI_DEFAULT)
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size: "GNU\0" */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4
        .long   1                       /* BTI */
        .p2align 3
#endif
