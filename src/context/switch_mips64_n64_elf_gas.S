/*
 * Context switch for mips64 (either byte order), the n64 ABI, ELF, GNU as.
 *
 * A suspended context is its stack pointer; the frame it points at is laid
 * out in include/cosync/impl/context_frame_mips64_n64.h:
 *
 *   T + 0x00  $f24 $f25 ... $f31          8 x 8 bytes
 *   T + 0x40  $16 $17 ... $23 (s0-s7)     8 x 8 bytes
 *   T + 0x80  $28 (gp)
 *   T + 0x88  $30 (s8/fp)
 *   T + 0x90  pc (the context's $31)
 *   T + 0x98  FCSR
 *   T + 0xa0  the context's stack pointer once resumed
 *
 * Saved: the callee-saved registers of n64 ($16-$23, $28, $29, $30 and
 * $f24-$f31; gp is callee-saved in n64, unlike o32) and FCSR, whose
 * rounding mode, flush-to-zero and exception enables a context keeps as a
 * thread would. Not saved: the thread pointer (UserLocal: coroutines never
 * change threads), the caller-saved registers, the signal mask.
 *
 * transfer_t (16 bytes of integers) is passed in $4:$5 and returned in
 * $2:$3.
 *
 * Stack alignment: $sp is a multiple of 16 at all times (n64), and the
 * frame size is too; n64 callers reserve no argument area. A fresh context
 * calls its entry function with $25 (t9) = the entry's address, as
 * position-independent code computes its own gp from it; its frame holds
 * s0 = the entry, fp = 0 (the end of the frame chain).
 *
 * Every branch delay slot is filled by hand (noreorder).
 */
#if !defined(__mips64) || !defined(_MIPS_SIM) || _MIPS_SIM != _ABI64 || !defined(__ELF__)
#error "switch_mips64_n64_elf_gas.S selected for a target that is not mips64 n64 ELF"
#endif

#include "cosync/impl/context_frame_mips64_n64.h"

#define F24     COSYNC_MIPS64_FRAME_F24
#define S0      COSYNC_MIPS64_FRAME_S0
#define GP      COSYNC_MIPS64_FRAME_GP
#define FP      COSYNC_MIPS64_FRAME_FP
#define PC      COSYNC_MIPS64_FRAME_PC
#define FCSR    COSYNC_MIPS64_FRAME_FCSR
#define FRAME   COSYNC_MIPS64_FRAME_SIZE

        .abicalls
        .set    noreorder
        .set    nomacro
        .text

/* Resumes the context whose frame $sp points at and pops the frame, but
   for the final `daddiu` the caller puts in the delay slot of its return
   (`jr $31`). Uses $8. */
        .macro restore_saved_frame
        .irp    n, 24, 25, 26, 27, 28, 29, 30, 31
        ldc1    $f\n, F24 + 8 * (\n - 24)($sp)
        .endr
        .irp    n, 16, 17, 18, 19, 20, 21, 22, 23
        ld      $\n, S0 + 8 * (\n - 16)($sp)
        .endr
        ld      $28, GP($sp)
        ld      $30, FP($sp)
        ld      $31, PC($sp)
        ld      $8, FCSR($sp)
        ctc1    $8, $31
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data) */
        .globl  cosync_context_jump
        .type   cosync_context_jump, @function
        .p2align 3
        .ent    cosync_context_jump
cosync_context_jump:
        .cfi_startproc
        daddiu  $sp, $sp, -FRAME
        .cfi_adjust_cfa_offset FRAME
        .irp    n, 24, 25, 26, 27, 28, 29, 30, 31
        sdc1    $f\n, F24 + 8 * (\n - 24)($sp)
        .endr
        .irp    n, 16, 17, 18, 19, 20, 21, 22, 23
        sd      $\n, S0 + 8 * (\n - 16)($sp)
        .endr
        sd      $28, GP($sp)
        sd      $30, FP($sp)
        sd      $31, PC($sp)
        cfc1    $8, $31
        sd      $8, FCSR($sp)

        move    $2, $sp                 /* token of the context that leaves */
        move    $sp, $4                 /* the switch itself */
        restore_saved_frame
        /* transfer_t {from, data} in $2:$3; a fresh context's trampoline
           passes it on in $4:$5. */
        move    $3, $5
        jr      $31
        daddiu  $sp, $sp, FRAME         /* delay slot */
        .cfi_endproc
        .end    cosync_context_jump
        .size   cosync_context_jump, .-cosync_context_jump

/* context_t cosync_context_make(void *stack_top, size_t size, EntryFn entry) */
        .globl  cosync_context_make
        .hidden cosync_context_make
        .type   cosync_context_make, @function
        .p2align 3
        .ent    cosync_context_make
cosync_context_make:
        .cfi_startproc
        daddiu  $8, $0, -16
        and     $2, $4, $8
        daddiu  $2, $2, -FRAME          /* T */
        sd      $6, S0($2)              /* s0: the entry function */
        sd      $0, FP($2)              /* fp: the end of the frame chain */
        cfc1    $8, $31                 /* a fresh context takes its creator's */
        sd      $8, FCSR($2)
        move    $9, $31
        bal     1f                      /* $31 = 1f: position-independent */
        nop
1:      daddiu  $10, $31, cosync_context_trampoline - 1b
        sd      $10, PC($2)
        jr      $9
        move    $31, $9                 /* delay slot */
        .cfi_endproc
        .end    cosync_context_make
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: $2/$3 hold the transfer, s0 the entry.
   $31 is undefined here so unwinders stop at this frame.

   The entry function returns {context to resume, data} in $2:$3: the
   context that started here has finished and is left for good, so nothing
   is saved. */
        .type   cosync_context_trampoline, @function
        .p2align 3
        .ent    cosync_context_trampoline
cosync_context_trampoline:
        .cfi_startproc
        .cfi_undefined $31
        move    $4, $2
        move    $5, $3
        move    $25, $16
        jalr    $25
        nop
        move    $sp, $2                 /* the switch itself */
        restore_saved_frame
        move    $2, $0                  /* transfer.from: nothing to resume */
        jr      $31                     /* transfer.data is already in $3 */
        daddiu  $sp, $sp, FRAME         /* delay slot */
        .cfi_endproc
        .end    cosync_context_trampoline
        .size   cosync_context_trampoline, .-cosync_context_trampoline

        .section .note.GNU-stack, "", %progbits
