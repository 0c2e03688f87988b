/*
 * Context switch for riscv64, LP64D (the Linux psABI), ELF, GNU as.
 *
 * A suspended context is its stack pointer; the frame it points at holds
 * fs0-fs11, s0-s11, the resume pc and fcsr, laid out in
 * include/cosync/impl/context_frame_riscv64_lp64d.h:
 *
 *   T + 0x00  fs0 fs1 fs2 ... fs11       12 x 8 bytes
 *   T + 0x60  s0  s1  s2  ... s11        12 x 8 bytes
 *   T + 0xc0  pc (the context's ra)
 *   T + 0xc8  fcsr
 *   T + 0xd0  the context's stack pointer once resumed
 *
 * Saved: the callee-saved registers of the RISC-V calling convention
 * (s0-s11, sp, and with the D extension fs0-fs11, all 64 bits) and fcsr,
 * which the psABI gives thread storage duration (C11 <fenv.h>): a context
 * keeps its own rounding mode and exception flags as a thread would. Not
 * saved: tp and gp (the thread's, and coroutines never change threads),
 * the caller-saved registers, the signal mask.
 *
 * Stack alignment: sp is a multiple of 16 at every call (psABI); the frame
 * size is a multiple of 16, so every context keeps that alignment. A fresh
 * context starts with s0 = 0 (the end of the frame chain) and s1 = the
 * entry function, and resumes into the trampoline.
 *
 * transfer_t is two pointers: passed in a0:a1 and returned in a0:a1.
 */
#if !defined(__riscv) || __riscv_xlen != 64 || !defined(__riscv_float_abi_double) || \
    !defined(__ELF__)
#error "switch_riscv64_lp64d_elf_gas.S selected for a target that is not riscv64 LP64D ELF"
#endif

#include "cosync/impl/context_frame_riscv64_lp64d.h"

#define FS0     COSYNC_RISCV64_FRAME_FS0
#define S0      COSYNC_RISCV64_FRAME_S0
#define PC      COSYNC_RISCV64_FRAME_PC
#define FCSR    COSYNC_RISCV64_FRAME_FCSR
#define FRAME   COSYNC_RISCV64_FRAME_SIZE

        .text

/* Resumes the context whose frame sp points at and pops the frame; the
   resume address ends up in ra. */
        .macro restore_saved_frame
        .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
        fld     fs\n, FS0 + 8 * \n(sp)
        ld      s\n, S0 + 8 * \n(sp)
        .endr
        ld      ra, PC(sp)
        ld      t0, FCSR(sp)
        fscsr   t0
        addi    sp, sp, FRAME
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data) */
        .globl  cosync_context_jump
        .type   cosync_context_jump, @function
        .p2align 2
cosync_context_jump:
        .cfi_startproc
        addi    sp, sp, -FRAME
        .cfi_adjust_cfa_offset FRAME
        .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
        fsd     fs\n, FS0 + 8 * \n(sp)
        sd      s\n, S0 + 8 * \n(sp)
        .endr
        sd      ra, PC(sp)
        frcsr   t0
        sd      t0, FCSR(sp)

        mv      t1, sp                  /* token of the context that leaves */
        mv      sp, a0                  /* the switch itself */

        restore_saved_frame
        .cfi_adjust_cfa_offset -FRAME

        /* transfer_t {from, data} in a0:a1, which is also how a fresh
           context's entry function receives it. a1 already holds data. */
        mv      a0, t1
        ret
        .cfi_endproc
        .size   cosync_context_jump, .-cosync_context_jump

/* context_t cosync_context_make(void *stack_top, size_t size, EntryFn entry) */
        .globl  cosync_context_make
        .hidden cosync_context_make
        .type   cosync_context_make, @function
        .p2align 2
cosync_context_make:
        .cfi_startproc
        andi    a0, a0, -16
        addi    a0, a0, -FRAME
        sd      zero, S0(a0)            /* s0: the end of the frame chain */
        sd      a2, S0 + 8(a0)          /* s1: the entry function */
        lla     t0, cosync_context_trampoline
        sd      t0, PC(a0)
        frcsr   t1                      /* a fresh context takes its creator's */
        sd      t1, FCSR(a0)
        ret
        .cfi_endproc
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: a0/a1 hold the transfer, s1 the entry.
   ra is undefined here so unwinders stop at this frame.

   The entry function returns {context to resume, data} in a0:a1: the
   context that started here has finished and is left for good, so nothing
   is saved. */
        .type   cosync_context_trampoline, @function
        .p2align 2
cosync_context_trampoline:
        .cfi_startproc
        .cfi_undefined ra
        jalr    s1
        mv      sp, a0                  /* the switch itself */
        restore_saved_frame
        mv      a0, zero                /* transfer.from: nothing to resume */
        ret                             /* transfer.data is already in a1 */
        .cfi_endproc
        .size   cosync_context_trampoline, .-cosync_context_trampoline

        .section .note.GNU-stack, "", %progbits
