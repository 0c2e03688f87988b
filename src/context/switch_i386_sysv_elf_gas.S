/*
 * Context switch for i386 (i686 and later with SSE), System V psABI, ELF,
 * GNU as.
 *
 * A suspended context is its stack pointer; the frame it points at is laid
 * out in include/cosync/impl/context_frame_i386_sysv.h:
 *
 *   T + 0x00  MXCSR
 *   T + 0x04  x87 control word, 2 bytes unused
 *   T + 0x08  edi
 *   T + 0x0c  esi
 *   T + 0x10  ebx
 *   T + 0x14  ebp
 *   T + 0x18  eip: the return address of the context's call
 *   T + 0x1c  the hidden result pointer of that call
 *   T + 0x20  the context's stack pointer once resumed
 *
 * Saved: the callee-saved registers of the i386 psABI (ebx, esi, edi, ebp,
 * esp) and the control bits of the x87 control word and MXCSR, which it
 * also makes callee-saved. MXCSR needs SSE: every x86 processor since the
 * Pentium III and Athlon XP. Not saved: the x87 status word and data
 * registers, the SSE data registers (caller-saved), the gs base (the
 * thread's TLS, and coroutines never change threads), the signal mask.
 *
 * transfer_t (8 bytes) is returned in memory: the caller pushes a hidden
 * result pointer after the arguments, and the callee pops it (`ret $4`)
 * and returns it in eax. cosync_context_jump therefore finds, above its
 * return address, the result pointer, `to` and `data`; the first two stay
 * in the frame, and whoever resumes the frame writes the transfer there.
 *
 * Stack alignment: esp + 4 is a multiple of 16 at every function entry
 * (the psABI as GCC has kept it since 2009): the trampoline calls the
 * entry function with esp % 16 == 0. A fresh context's stack holds, from
 * its 16-aligned call site up: the entry's hidden result pointer, the
 * transfer its first resume writes (the entry's argument, in place), and
 * the entry's result.
 */
#if !defined(__i386__) || !defined(__ELF__)
#error "switch_i386_sysv_elf_gas.S selected for a target that is not i386 ELF"
#endif

#include "cosync/impl/context_frame_i386_sysv.h"

#define MXCSR   COSYNC_I386_FRAME_MXCSR
#define X87_CW  COSYNC_I386_FRAME_X87_CW
#define EBX     COSYNC_I386_FRAME_EBX
#define EBP     COSYNC_I386_FRAME_EBP
#define PC      COSYNC_I386_FRAME_PC
#define RESULT  COSYNC_I386_FRAME_RESULT
#define FRAME   COSYNC_I386_FRAME_SIZE

        .text

/* Resumes the context whose frame esp points at: returns transfer_t
   {ecx, edx} through the result pointer the context saved. */
        .macro resume_saved_frame
        ldmxcsr MXCSR(%esp)
        fldcw   X87_CW(%esp)
        addl    $8, %esp
        popl    %edi
        popl    %esi
        popl    %ebx
        popl    %ebp
        movl    4(%esp), %eax
        movl    %ecx, (%eax)
        movl    %edx, 4(%eax)
        ret     $4
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data) */
        .globl  cosync_context_jump
        .type   cosync_context_jump, @function
        .p2align 4
cosync_context_jump:
        .cfi_startproc
        pushl   %ebp
        .cfi_adjust_cfa_offset 4
        pushl   %ebx
        .cfi_adjust_cfa_offset 4
        pushl   %esi
        .cfi_adjust_cfa_offset 4
        pushl   %edi
        .cfi_adjust_cfa_offset 4
        subl    $8, %esp
        .cfi_adjust_cfa_offset 8
        stmxcsr MXCSR(%esp)
        fnstcw  X87_CW(%esp)
        movl    %esp, %ecx              /* token of the context that leaves */
        movl    FRAME + 4(%esp), %edx   /* data */
        movl    FRAME(%esp), %esp       /* to: the switch itself */
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
        movl    4(%esp), %eax
        subl    $24, %eax
        andl    $-16, %eax              /* S: the trampoline's call site */
        leal    16(%eax), %ecx
        movl    %ecx, (%eax)            /* the entry's result pointer */
        leal    4(%eax), %ecx           /* the entry's argument */
        movl    12(%esp), %edx
        subl    $FRAME, %eax            /* T */
        movl    %ecx, RESULT(%eax)
        movl    %edx, EBX(%eax)         /* ebx: the entry function */
        movl    $0, EBP(%eax)           /* ebp: the end of the frame chain */
        stmxcsr MXCSR(%eax)             /* a fresh context takes its creator's */
        fnstcw  X87_CW(%eax)
        call    1f
1:      popl    %ecx
        leal    cosync_context_trampoline - 1b(%ecx), %ecx
        movl    %ecx, PC(%eax)
        ret
        .cfi_endproc
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: esp is S, its first transfer already
   sits in place as the entry's argument, ebx holds the entry. eip is
   undefined here so unwinders stop at this frame.

   The entry function returns {context to resume, data} through its result
   pointer, which it also returns in eax: the context that started here has
   finished and is left for good, so nothing is saved. */
        .type   cosync_context_trampoline, @function
        .p2align 4
cosync_context_trampoline:
        .cfi_startproc
        .cfi_undefined eip
        call    *%ebx
        movl    4(%eax), %edx           /* transfer.data */
        xorl    %ecx, %ecx              /* transfer.from: nothing to resume */
        movl    (%eax), %esp            /* the switch itself */
        resume_saved_frame
        .cfi_endproc
        .size   cosync_context_trampoline, .-cosync_context_trampoline

        .section .note.GNU-stack, "", %progbits
