/*
 * Context switch for x86_64, System V psABI, ELF, GNU as.
 *
 * A suspended context is the address T of a small frame it left below its
 * stack pointer, past the 128-byte red zone; the layout (MXCSR, x87 control
 * word, rbp, rip; the stack pointer at T + COSYNC_X86_64_FRAME_SIZE) is
 * include/cosync/impl/context_frame_x86_64_sysv.h.
 *
 * Resuming a context (the `resume_frame` macro, and the same instructions
 * inlined by include/cosync/impl/context_jump_x86_64_sysv.hpp) restores the
 * control words, reloads rbp, sets rsp = T + COSYNC_X86_64_FRAME_SIZE and
 * jumps to rip with rax = the token of the context that left and rdx = the
 * data pointer. Everything else the context needs is restored by the code
 * at rip: cosync_context_jump pops rbx and r12-r15, which it pushed; the
 * inline switch tells the compiler that it clobbers every register but
 * rsp and rbp, so the compiler keeps only what is live across it, in its
 * own frame. Both kinds of frame are therefore resumed the same way.
 *
 * Saved across a switch: the callee-saved registers of psABI 3.2.1 (rbx,
 * rbp, r12-r15, rsp) and the control bits of MXCSR and the x87 control
 * word, which the psABI also makes callee-saved. Not saved: the signal
 * mask (switching is a user space affair), the x87 status and SSE/AVX data
 * registers (caller-saved), the FS base (TLS belongs to the thread, and
 * coroutines never change threads).
 *
 * Control words. Both are read on every switch (stmxcsr, fnstcw): the
 * leaving context may have changed them, and nothing cheaper can tell.
 * On restore, MXCSR is loaded unconditionally and the x87 control word
 * only when it differs from the leaving context's. Measured on an AMD
 * EPYC (Zen 5), per round trip: stmxcsr costs about 6 ns of a 9 ns trip
 * (it waits for the SSE pipeline), fnstcw about 3 ns; loading an unchanged
 * MXCSR costs nothing measurable, fldcw about 0.5 ns; and comparing the
 * saved MXCSR before loading it costs 4 ns more than the load, because
 * the compare reads back what stmxcsr just stored, which the store buffer
 * does not forward.
 *
 * The leaving frame is written after rsp has been lowered past it, and the
 * target's frame is read before rsp moves onto the target's stack (where
 * the frame lies below the red zone), so a signal delivered in the middle
 * of a switch overwrites neither.
 *
 * Stack alignment (psABI 3.2.2): rsp + 8 is a multiple of 16 at every
 * function entry. cosync_context_make aligns the frame so that the trampoline
 * starts with rsp % 16 == 0 and enters the entry function through `call`.
 *
 * CET: every function starts with endbr64; the resuming jump is a `notrack`
 * indirect jmp, because it lands on resume sites rather than on branch
 * targets. The property note claims IBT only: cosync does not switch shadow
 * stacks, so it must not claim SHSTK, and the linker then leaves shadow
 * stacks off for the whole program.
 */
#if !defined(__x86_64__) || !defined(__ELF__)
#error "switch_x86_64_sysv_elf_gas.S selected for a target that is not x86_64 ELF"
#endif

#include "cosync/impl/context_frame_x86_64_sysv.h"

#define MXCSR   COSYNC_X86_64_FRAME_MXCSR
#define X87_CW  COSYNC_X86_64_FRAME_X87_CW
#define RBP     COSYNC_X86_64_FRAME_RBP
#define RIP     COSYNC_X86_64_FRAME_RIP
#define FRAME   COSYNC_X86_64_FRAME_SIZE

        .text

/* Saves the leaving context's frame at rsp, to resume at \resume_site. */
        .macro save_frame resume_site
        stmxcsr MXCSR(%rsp)
        fnstcw  X87_CW(%rsp)
        movq    %rbp, RBP(%rsp)
        leaq    \resume_site(%rip), %rcx
        movq    %rcx, RIP(%rsp)
        .endm

/* Resumes the frame \frame points at; rax and rdx hold the transfer. The
   x87 control word is compared with the one at X87_CW(%rsp), the leaving
   context's. The target is a resume site or the trampoline, not a branch
   target: notrack keeps IBT from demanding an endbr64 there. */
        .macro resume_frame frame
        ldmxcsr MXCSR(\frame)
        movzwl  X87_CW(\frame), %ecx
        cmpw    %cx, X87_CW(%rsp)
        je      2f
        fldcw   X87_CW(\frame)
2:      movq    RBP(\frame), %rbp
        movq    RIP(\frame), %rcx
        leaq    FRAME(\frame), %rsp
        notrack jmp *%rcx
        .endm

/* The detour before a resume site (COSYNC_X86_64_FRAME_DETOUR bytes): the
   callers of these functions check a resumed context's duties themselves,
   so a redirected resume falls through into the site. */
        .macro detour_nop
        .byte   0x0f, 0x1f, 0x44, 0x00, 0x00    /* nopl 0(%rax,%rax,1) */
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data) */
        .globl  cosync_context_jump     /* exported: pcl and the ASan path call it */
        .type   cosync_context_jump, @function
        .p2align 4
cosync_context_jump:
        .cfi_startproc
        endbr64
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r15, 0
        .cfi_remember_state
        leaq    -FRAME(%rsp), %rsp
        save_frame 1f
        movq    %rsp, %rax              /* token of the context that leaves */
        movq    %rsi, %rdx
        resume_frame %rdi               /* the switch itself */
        .cfi_restore_state
        detour_nop
1:      /* Resumed: rsp is back where the frame left it, rbp is restored,
           rax:rdx hold the transfer_t to return. */
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        ret
        .cfi_endproc
        .size   cosync_context_jump, .-cosync_context_jump

/* void cosync_context_jump_return(context_t to, context_t *save, void *data,
                                   void (*arrive)(void *), void *arg)
   Meant to be tail-called, as the last act of a function F that switches:
   (%rsp) is then the return address of F's caller and the callee-saved
   registers hold that caller's values. It saves them, stores its token at
   *save and resumes `to` (rax: the token, rdx: data). When resumed, it
   calls arrive(arg) on its own stack and jumps straight to the return
   address: no `ret` that the CPU's return stack, left with the other
   context's calls, would mispredict. Stack: the six registers, arrive,
   arg, 8 bytes of padding (rsp stays 16-aligned for the call), then the
   frame. */
        .globl  cosync_context_jump_return
        .hidden cosync_context_jump_return
        .type   cosync_context_jump_return, @function
        .p2align 4
cosync_context_jump_return:
        .cfi_startproc
        endbr64
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r15, 0
        pushq   %rcx                    /* arrive */
        .cfi_adjust_cfa_offset 8
        pushq   %r8                     /* arg */
        .cfi_adjust_cfa_offset 8
        leaq    -8(%rsp), %rsp          /* padding */
        .cfi_adjust_cfa_offset 8
        .cfi_remember_state
        leaq    -FRAME(%rsp), %rsp
        movq    %rsp, (%rsi)            /* the token, for whoever resumes us */
        save_frame 1f
        movq    %rsp, %rax
        resume_frame %rdi               /* the switch itself; rdx is data */
        .cfi_restore_state
        detour_nop
1:
        movq    8(%rsp), %rdi
        call    *16(%rsp)
        leaq    24(%rsp), %rsp
        .cfi_adjust_cfa_offset -24
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        popq    %rcx
        .cfi_adjust_cfa_offset -8
        .cfi_register rip, rcx
        notrack jmp *%rcx               /* a return address, not a branch target */
        .cfi_endproc
        .size   cosync_context_jump_return, .-cosync_context_jump_return

/* context_t cosync_context_make(void *stack_top, size_t size, EntryFn entry)
   The trampoline's stack pointer S is 16-aligned and holds the entry
   function; the frame sits FRAME below it, like any other. */
        .globl  cosync_context_make
        .hidden cosync_context_make
        .type   cosync_context_make, @function
        .p2align 4
cosync_context_make:
        .cfi_startproc
        endbr64
        movq    %rdi, %rax
        andq    $-16, %rax
        leaq    -0x10(%rax), %rax
        movq    %rdx, (%rax)            /* S: the entry function */
        leaq    -FRAME(%rax), %rax      /* T */
        stmxcsr MXCSR(%rax)
        fnstcw  X87_CW(%rax)
        movq    $0, RBP(%rax)           /* rbp: the end of the frame chain */
        leaq    .Ltrampoline_start(%rip), %rcx
        movq    %rcx, RIP(%rax)
        ret
        .cfi_endproc
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: rax/rdx hold the transfer, (%rsp) the
   entry. rip is undefined here so debuggers and unwinders stop at this
   frame.

   The entry function returns {context to resume, data}: the context that
   started here has finished and is left for good, so nothing is saved. */
        .type   cosync_context_trampoline, @function
        .p2align 4
cosync_context_trampoline:
        .cfi_startproc
        .cfi_undefined rip
        detour_nop                      /* the entry checks its duties */
.Ltrampoline_start:
        endbr64
        movq    %rax, %rdi
        movq    %rdx, %rsi
        call    *(%rsp)
        movq    %rax, %rdi
        fnstcw  X87_CW(%rsp)            /* this context's, for resume_frame */
        xorl    %eax, %eax              /* transfer.from: nothing to resume */
        resume_frame %rdi               /* transfer.data is already in rdx */
        .cfi_endproc
        .size   cosync_context_trampoline, .-cosync_context_trampoline

        .section .note.GNU-stack, "", %progbits

        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size: "GNU\0" */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4
        .long   1                       /* IBT; not SHSTK (see above) */
        .p2align 3
