/*
 * Context switch for 32-bit ARM, AAPCS with the VFP variant (hard float,
 * arm-linux-gnueabihf), ELF, GNU as. ARM state; callers in Thumb state
 * reach it through interworking branches.
 *
 * A suspended context is its stack pointer; the frame it points at is laid
 * out in include/cosync/impl/context_frame_arm_aapcs_vfp.h:
 *
 *   T + 0x00  d8 d9 ... d15               8 x 8 bytes
 *   T + 0x40  r4 r5 ... r11               8 x 4 bytes
 *   T + 0x60  pc (the context's lr)
 *   T + 0x64  FPSCR
 *   T + 0x68  result: where the context's transfer_t goes when resumed
 *   T + 0x6c  unused
 *   T + 0x70  the context's stack pointer once resumed
 *
 * Saved: the callee-saved registers of AAPCS 5.1.1 (r4-r11, sp) and
 * 5.1.2.1 (s16-s31, i.e. d8-d15), and FPSCR, whose rounding mode,
 * flush-to-zero and default-NaN bits AAPCS 5.1.2.2 lets only functions
 * that document it change: they are per context, as a thread's. Not saved:
 * TPIDRURO (the thread's, and coroutines never change threads), d16-d31
 * (caller-saved), the signal mask.
 *
 * transfer_t (8 bytes) is a composite larger than a word: returned in
 * memory (AAPCS 5.4), so cosync_context_jump receives the result pointer in
 * r0, `to` in r1 and `data` in r2; it keeps the result pointer in its
 * frame, and whoever resumes the frame writes the transfer there. An
 * EntryFn is called the same way: r0 = its result, r1:r2 = the transfer.
 *
 * Stack alignment: sp is a multiple of 8 at every public interface
 * (AAPCS 5.2.1.2); the frame size is a multiple of 8. A fresh context's
 * stack holds, from its 8-aligned top down: the transfer its first resume
 * writes (8 bytes), the entry function's result (8 bytes), then the frame.
 */
#if !defined(__arm__) || !defined(__ARM_PCS_VFP) || !defined(__ELF__)
#error "switch_arm_aapcs_vfp_elf_gas.S selected for a target that is not ARM AAPCS-VFP ELF"
#endif

#include "cosync/impl/context_frame_arm_aapcs_vfp.h"

#define D8      COSYNC_ARM_FRAME_D8
#define R4      COSYNC_ARM_FRAME_R4
#define R11     COSYNC_ARM_FRAME_R11
#define PC      COSYNC_ARM_FRAME_PC
#define FPSCR   COSYNC_ARM_FRAME_FPSCR
#define RESULT  COSYNC_ARM_FRAME_RESULT
#define FRAME   COSYNC_ARM_FRAME_SIZE

        .syntax unified
        .arm
        .fpu    vfp
        .text

/* Resumes the context whose frame sp points at, pops the frame and returns
   transfer_t {r3, r2} through the result pointer the context saved. */
        .macro resume_saved_frame
        vldmia  sp, {d8-d15}
        add     ip, sp, #R4
        ldmia   ip, {r4-r11, lr}
        ldr     ip, [sp, #FPSCR]
        vmsr    fpscr, ip
        ldr     r0, [sp, #RESULT]
        add     sp, sp, #FRAME
        str     r3, [r0]
        str     r2, [r0, #4]
        bx      lr
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data):
   r0 = the result pointer, r1 = to, r2 = data */
        .globl  cosync_context_jump
        .type   cosync_context_jump, %function
        .p2align 2
cosync_context_jump:
        .cfi_startproc
        sub     sp, sp, #FRAME
        .cfi_adjust_cfa_offset FRAME
        vstmia  sp, {d8-d15}
        add     ip, sp, #R4
        stmia   ip, {r4-r11, lr}
        vmrs    ip, fpscr
        str     ip, [sp, #FPSCR]
        str     r0, [sp, #RESULT]

        mov     r3, sp                  /* token of the context that leaves */
        mov     sp, r1                  /* the switch itself */
        resume_saved_frame
        .cfi_endproc
        .size   cosync_context_jump, .-cosync_context_jump

/* context_t cosync_context_make(void *stack_top, size_t size, EntryFn entry) */
        .globl  cosync_context_make
        .hidden cosync_context_make
        .type   cosync_context_make, %function
        .p2align 2
cosync_context_make:
        .cfi_startproc
        bic     r0, r0, #7
        sub     r0, r0, #(16 + FRAME)
        str     r2, [r0, #R4]           /* r4: the entry function */
        mov     r3, #0
        str     r3, [r0, #R4 + 12]      /* r7, r11: the end of the frame chain */
        str     r3, [r0, #R11]
        adr     r3, cosync_context_trampoline
        str     r3, [r0, #PC]
        vmrs    r3, fpscr               /* a fresh context takes its creator's */
        str     r3, [r0, #FPSCR]
        add     r3, r0, #(FRAME + 8)    /* the first transfer, at the top */
        str     r3, [r0, #RESULT]
        bx      lr
        .cfi_endproc
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: sp points at the entry function's result
   slot, the first transfer lies above it, r4 holds the entry. lr is
   undefined here so unwinders stop at this frame.

   The entry function returns {context to resume, data}: the context that
   started here has finished and is left for good, so nothing is saved. */
        .type   cosync_context_trampoline, %function
        .p2align 2
cosync_context_trampoline:
        .fnstart
        .cantunwind
        .cfi_startproc
        .cfi_undefined lr
        ldr     r1, [sp, #8]
        ldr     r2, [sp, #12]
        mov     r0, sp
        blx     r4
        ldr     r1, [sp]                /* the context to resume */
        ldr     r2, [sp, #4]            /* transfer.data */
        mov     r3, #0                  /* transfer.from: nothing to resume */
        mov     sp, r1                  /* the switch itself */
        resume_saved_frame
        .cfi_endproc
        .fnend
        .size   cosync_context_trampoline, .-cosync_context_trampoline

        .section .note.GNU-stack, "", %progbits
