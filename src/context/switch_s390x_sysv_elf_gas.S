/*
 * Context switch for s390x, the z/Architecture ELF ABI, ELF, GNU as.
 *
 * A suspended context is its stack pointer (r15); the frame it points at
 * is laid out in include/cosync/impl/context_frame_s390x_sysv.h:
 *
 *   T + 0x00  r6 r7 ... r13               8 x 8 bytes
 *   T + 0x40  pc (the context's r14)
 *   T + 0x48  f8 f9 ... f15               8 x 8 bytes
 *   T + 0x88  FPC, 4 bytes unused
 *   T + 0x90  result: where the context's transfer_t goes when resumed
 *   T + 0x98  unused
 *   T + 0xa0  the context's stack pointer once resumed
 *
 * Saved: the callee-saved registers of the ELF ABI (r6-r13, r15, f8-f15)
 * and the floating-point control register, whose rounding mode and
 * exception masks a context keeps as a thread would. Not saved: the access
 * registers a0/a1 (the thread pointer: coroutines never change threads),
 * the vector registers beyond f8-f15 (caller-saved), the signal mask.
 *
 * transfer_t (16 bytes) is neither 1, 2, 4 nor 8 bytes long, so it is
 * returned in memory through a result pointer in r2, and passed by
 * reference to a copy: cosync_context_jump receives r2 = the result
 * pointer, r3 = to, r4 = data, and keeps the result pointer in its frame;
 * whoever resumes the frame writes the transfer there. An EntryFn is called
 * with r2 = its result, r3 = the address of the transfer.
 *
 * Stack alignment: r15 is a multiple of 8 (the ABI), here of 16. Every
 * caller provides the 160-byte register save area at its r15 that a callee
 * may write: a fresh context's stack holds, from its 16-aligned top down,
 * the transfer its first resume writes (16 bytes), the entry function's
 * result (16 bytes), the trampoline's register save area with back chain 0,
 * then the frame; r7 holds the entry function.
 */
#if !defined(__s390x__) || !defined(__ELF__)
#error "switch_s390x_sysv_elf_gas.S selected for a target that is not s390x ELF"
#endif

#include "cosync/impl/context_frame_s390x_sysv.h"

#define R6      COSYNC_S390X_FRAME_R6
#define R11     COSYNC_S390X_FRAME_R11
#define PC      COSYNC_S390X_FRAME_PC
#define F8      COSYNC_S390X_FRAME_F8
#define FPC     COSYNC_S390X_FRAME_FPC
#define RESULT  COSYNC_S390X_FRAME_RESULT
#define FRAME   COSYNC_S390X_FRAME_SIZE
/* The register save area every caller provides its callee */
#define SAVE_AREA 160
/* From the trampoline's r15: the entry's result, then the first transfer */
#define ENTRY_RESULT SAVE_AREA
#define FIRST_TRANSFER (SAVE_AREA + 16)

        .text

/* Resumes the context whose frame r15 points at, pops the frame and
   returns transfer_t {r1, r4} through the result pointer the context
   saved. */
        .macro resume_saved_frame
        lmg     %r6, %r14, R6(%r15)
        .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
        ld      %f\n, F8 + 8 * (\n - 8)(%r15)
        .endr
        lfpc    FPC(%r15)
        lg      %r2, RESULT(%r15)
        aghi    %r15, FRAME
        stg     %r1, 0(%r2)
        stg     %r4, 8(%r2)
        br      %r14
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data):
   r2 = the result pointer, r3 = to, r4 = data */
        .globl  cosync_context_jump
        .type   cosync_context_jump, @function
        .p2align 4
cosync_context_jump:
        .cfi_startproc
        aghi    %r15, -FRAME
        .cfi_adjust_cfa_offset FRAME
        stmg    %r6, %r14, R6(%r15)
        .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
        std     %f\n, F8 + 8 * (\n - 8)(%r15)
        .endr
        stfpc   FPC(%r15)
        stg     %r2, RESULT(%r15)

        lgr     %r1, %r15               /* token of the context that leaves */
        lgr     %r15, %r3               /* the switch itself */
        resume_saved_frame
        .cfi_endproc
        .size   cosync_context_jump, .-cosync_context_jump

/* context_t cosync_context_make(void *stack_top, size_t size, EntryFn entry) */
        .globl  cosync_context_make
        .hidden cosync_context_make
        .type   cosync_context_make, @function
        .p2align 4
cosync_context_make:
        .cfi_startproc
        nill    %r2, 0xfff0
        aghi    %r2, -(FIRST_TRANSFER + 16 + FRAME)     /* T */
        stg     %r4, R6 + 8(%r2)        /* r7: the entry function */
        lghi    %r0, 0
        stg     %r0, R11(%r2)           /* r11: no frame */
        stg     %r0, FRAME(%r2)         /* the trampoline's back chain: the end */
        larl    %r1, cosync_context_trampoline
        stg     %r1, PC(%r2)
        stfpc   FPC(%r2)                /* a fresh context takes its creator's */
        la      %r1, FRAME + FIRST_TRANSFER(%r2)
        stg     %r1, RESULT(%r2)
        br      %r14
        .cfi_endproc
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: the first transfer is in place above
   the entry's result slot, r7 holds the entry. r14 is undefined here so
   unwinders stop at this frame.

   The entry function returns {context to resume, data}: the context that
   started here has finished and is left for good, so nothing is saved. */
        .type   cosync_context_trampoline, @function
        .p2align 4
cosync_context_trampoline:
        .cfi_startproc
        .cfi_undefined %r14
        la      %r2, ENTRY_RESULT(%r15)
        la      %r3, FIRST_TRANSFER(%r15)
        basr    %r14, %r7
        lg      %r3, ENTRY_RESULT(%r15)         /* the context to resume */
        lg      %r4, ENTRY_RESULT + 8(%r15)     /* transfer.data */
        lghi    %r1, 0                          /* transfer.from: nothing to resume */
        lgr     %r15, %r3                       /* the switch itself */
        resume_saved_frame
        .cfi_endproc
        .size   cosync_context_trampoline, .-cosync_context_trampoline

        .section .note.GNU-stack, "", %progbits
