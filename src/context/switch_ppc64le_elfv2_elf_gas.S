/*
 * Context switch for ppc64le, the 64-bit ELFv2 ABI, ELF, GNU as.
 *
 * A suspended context is its stack pointer (r1); the frame it points at is
 * laid out in include/cosync/impl/context_frame_ppc64le_elfv2.h:
 *
 *   T + 0x000  back chain (the context's r1)
 *   T + 0x008  CR
 *   T + 0x010  pc (the context's lr)
 *   T + 0x018  r2, the TOC pointer
 *   T + 0x020  FPSCR
 *   T + 0x030  r14 r15 ... r31             18 x 8 bytes
 *   T + 0x0c0  f14 f15 ... f31             18 x 8 bytes
 *   T + 0x150  v20 v21 ... v31             12 x 16 bytes
 *   T + 0x210  the context's stack pointer once resumed
 *
 * Saved: the nonvolatile registers of ELFv2 2.2.1.1 (r1, r14-r31, f14-f31,
 * v20-v31, the CR fields cr2-cr4), r2 (a context may have left from code of
 * another module, whose TOC its caller expects back), and FPSCR, whose
 * rounding and exception-enable bits a context keeps as a thread would. Not
 * saved: r13 (the thread pointer: coroutines never change threads), VRSAVE
 * (unused on Linux), VSCR, the volatile registers, the signal mask.
 *
 * transfer_t (16 bytes) is passed and returned in r3:r4 (ELFv2 2.2.3).
 *
 * Stack alignment: r1 is a multiple of 16 at all times, and the frame size
 * is too. A fresh context starts on a minimal ELFv2 frame of its own (back
 * chain 0, the end of the chain, room for the lr and TOC saves of the entry
 * function and a parameter save area), with r14 = the entry function, which
 * it calls with r12 = its address, as a global entry point requires. The
 * code needs no TOC, so it has one entry point.
 */
#if !defined(__powerpc64__) || !defined(_CALL_ELF) || _CALL_ELF != 2 || !defined(__ELF__)
#error "switch_ppc64le_elfv2_elf_gas.S selected for a target that is not ppc64 ELFv2"
#endif

#include "cosync/impl/context_frame_ppc64le_elfv2.h"

#define CR      COSYNC_PPC64LE_FRAME_CR
#define PC      COSYNC_PPC64LE_FRAME_PC
#define TOC     COSYNC_PPC64LE_FRAME_TOC
#define FPSCR   COSYNC_PPC64LE_FRAME_FPSCR
#define R14     COSYNC_PPC64LE_FRAME_R14
#define R31     COSYNC_PPC64LE_FRAME_R31
#define F14     COSYNC_PPC64LE_FRAME_F14
#define V20     COSYNC_PPC64LE_FRAME_V20
#define FRAME   COSYNC_PPC64LE_FRAME_SIZE
/* The trampoline's own frame: header (32) and parameter save area (64),
   rounded to 16. */
#define TRAMPOLINE_FRAME 112

        .abiversion 2
        .machine power8
        .text

/* Resumes the context whose frame r1 points at and pops the frame; the
   resume address ends up in lr. Uses r0, r6 and f0. */
        .macro restore_saved_frame
        .irp    n, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        li      6, V20 + 16 * (\n - 20)
        lvx     \n, 1, 6
        .endr
        .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        ld      \n, R14 + 8 * (\n - 14)(1)
        lfd     \n, F14 + 8 * (\n - 14)(1)
        .endr
        lfd     0, FPSCR(1)
        mtfsf   0xff, 0
        ld      0, CR(1)
        mtcrf   0x38, 0                 /* cr2, cr3, cr4 */
        ld      2, TOC(1)
        ld      0, PC(1)
        mtlr    0
        addi    1, 1, FRAME
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data) */
        .globl  cosync_context_jump
        .type   cosync_context_jump, @function
        .p2align 4
cosync_context_jump:
        .cfi_startproc
        stdu    1, -FRAME(1)
        .cfi_adjust_cfa_offset FRAME
        mflr    0
        std     0, PC(1)
        mfcr    0
        std     0, CR(1)
        std     2, TOC(1)
        mffs    0
        stfd    0, FPSCR(1)
        .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        std     \n, R14 + 8 * (\n - 14)(1)
        stfd    \n, F14 + 8 * (\n - 14)(1)
        .endr
        .irp    n, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        li      6, V20 + 16 * (\n - 20)
        stvx    \n, 1, 6
        .endr

        mr      5, 1                    /* token of the context that leaves */
        mr      1, 3                    /* the switch itself */

        restore_saved_frame
        .cfi_adjust_cfa_offset -FRAME

        /* transfer_t {from, data} in r3:r4, which is also how a fresh
           context's entry function receives it. r4 already holds data. */
        mr      3, 5
        blr
        .cfi_endproc
        .size   cosync_context_jump, .-cosync_context_jump

/* context_t cosync_context_make(void *stack_top, size_t size, EntryFn entry) */
        .globl  cosync_context_make
        .hidden cosync_context_make
        .type   cosync_context_make, @function
        .p2align 4
cosync_context_make:
        .cfi_startproc
        clrrdi  3, 3, 4
        addi    6, 3, -TRAMPOLINE_FRAME /* S: the trampoline's frame */
        li      0, 0
        std     0, 0(6)                 /* its back chain: the end */
        addi    3, 6, -FRAME            /* T */
        std     6, 0(3)                 /* T's back chain */
        std     5, R14(3)               /* r14: the entry function */
        std     0, R31(3)               /* r31: no frame */
        mflr    0
        bcl     20, 31, 1f              /* lr = 1f, without a return-stack push */
1:      mflr    7
        mtlr    0
        addi    7, 7, cosync_context_trampoline - 1b
        std     7, PC(3)
        std     2, TOC(3)
        mfcr    0
        std     0, CR(3)
        mffs    0                       /* a fresh context takes its creator's */
        stfd    0, FPSCR(3)
        blr
        .cfi_endproc
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: r3/r4 hold the transfer, r14 the entry,
   r1 its own minimal frame. lr is undefined here so unwinders stop at this
   frame.

   The entry function returns {context to resume, data} in r3:r4: the
   context that started here has finished and is left for good, so nothing
   is saved. */
        .type   cosync_context_trampoline, @function
        .p2align 4
cosync_context_trampoline:
        .cfi_startproc
        .cfi_undefined lr
        mr      12, 14
        mtctr   12
        bctrl
        mr      1, 3                    /* the switch itself */
        restore_saved_frame
        li      3, 0                    /* transfer.from: nothing to resume */
        blr                             /* transfer.data is already in r4 */
        .cfi_endproc
        .size   cosync_context_trampoline, .-cosync_context_trampoline

        .section .note.GNU-stack, "", %progbits
