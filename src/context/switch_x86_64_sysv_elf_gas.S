/*
 * Context switch for x86_64, System V psABI, ELF, GNU as.
 *
 * A suspended context is its stack pointer; the frame it points at holds:
 *
 *   offset  content
 *   0x00    MXCSR (4 bytes) | x87 control word (2 bytes) | padding (2)
 *   0x08    r12
 *   0x10    r13
 *   0x18    r14
 *   0x20    r15
 *   0x28    rbx     (a fresh context: the entry function)
 *   0x30    rbp     (a fresh context: 0, the end of the frame chain)
 *   0x38    rip     (where the context continues)
 *   0x40    -- caller's frame --
 *
 * Saved: the callee-saved registers of psABI 3.2.1 (rbx, rbp, r12-r15, rsp)
 * and the control bits of MXCSR and the x87 control word, which the psABI
 * also makes callee-saved. Not saved: the signal mask (switching is a user
 * space affair), the x87 status and SSE/AVX data registers (caller-saved),
 * the FS base (TLS belongs to the thread, and coroutines never change
 * threads).
 *
 * Stack alignment (psABI 3.2.2): rsp + 8 is a multiple of 16 at every
 * function entry. cosync_context_make aligns the frame so that the trampoline
 * starts with rsp % 16 == 0 and enters the entry function through `call`.
 *
 * CET: every function starts with endbr64; the resuming jump is a `notrack`
 * indirect jmp, because it lands on return sites rather than on branch
 * targets. The property note claims IBT only: cosync does not switch shadow
 * stacks, so it must not claim SHSTK, and the linker then leaves shadow
 * stacks off for the whole program.
 */
#if !defined(__x86_64__) || !defined(__ELF__)
#error "switch_x86_64_sysv_elf_gas.S selected for a target that is not x86_64 ELF"
#endif

        .text

/* Reloads the callee-saved registers from the saved frame %rsp points at. */
        .macro restore_callee_saved
        movq    0x08(%rsp), %r12
        movq    0x10(%rsp), %r13
        movq    0x18(%rsp), %r14
        movq    0x20(%rsp), %r15
        movq    0x28(%rsp), %rbx
        movq    0x30(%rsp), %rbp
        .endm

/* transfer_t cosync_context_jump(context_t to, void *data) */
        .globl  cosync_context_jump     /* exported: coroutine.hpp inlines calls */
        .type   cosync_context_jump, @function
        .p2align 4
cosync_context_jump:
        .cfi_startproc
        endbr64
        leaq    -0x38(%rsp), %rsp
        .cfi_adjust_cfa_offset 0x38
        stmxcsr (%rsp)
        fnstcw  0x4(%rsp)
        movq    %r12, 0x08(%rsp)
        movq    %r13, 0x10(%rsp)
        movq    %r14, 0x18(%rsp)
        movq    %r15, 0x20(%rsp)
        movq    %rbx, 0x28(%rsp)
        movq    %rbp, 0x30(%rsp)

        movq    %rsp, %rax              /* token of the context that leaves */
        movq    %rdi, %rsp              /* the switch itself */

        /* Loading MXCSR or the x87 control word stalls the pipeline, so
           they are loaded only when the context we resume saved values that
           differ from the ones just saved by the context that left (they
           rarely do). */
        movl    (%rax), %ecx
        cmpl    (%rsp), %ecx
        je      1f
        ldmxcsr (%rsp)
1:      movzwl  0x4(%rax), %ecx
        cmpw    0x4(%rsp), %cx
        je      2f
        fldcw   0x4(%rsp)
2:      restore_callee_saved
        movq    0x38(%rsp), %r8
        leaq    0x40(%rsp), %rsp
        .cfi_adjust_cfa_offset -0x40

        /* Return transfer_t {from, data} in rax:rdx. A fresh context takes
           it as its first two arguments instead: rdi = from, rsi = data. */
        movq    %rsi, %rdx
        movq    %rax, %rdi
        /* The target is a return site (after a call of this function) or
           the trampoline, not a branch target: notrack keeps IBT from
           demanding an endbr64 there. */
        notrack jmp *%r8
        .cfi_endproc
        .size   cosync_context_jump, .-cosync_context_jump

/* context_t cosync_context_make(void *stack_top, size_t size, entry_fn entry) */
        .globl  cosync_context_make
        .hidden cosync_context_make
        .type   cosync_context_make, @function
        .p2align 4
cosync_context_make:
        .cfi_startproc
        endbr64
        movq    %rdi, %rax
        andq    $-16, %rax
        leaq    -0x40(%rax), %rax
        stmxcsr (%rax)
        fnstcw  0x4(%rax)
        movq    %rdx, 0x28(%rax)
        movq    $0, 0x30(%rax)
        leaq    cosync_context_trampoline(%rip), %rcx
        movq    %rcx, 0x38(%rax)
        ret
        .cfi_endproc
        .size   cosync_context_make, .-cosync_context_make

/* First code a fresh context runs: rdi/rsi hold the transfer, rbx the entry.
   rip is undefined here so debuggers and unwinders stop at this frame.

   The entry function returns {context to resume, data}: the context that
   started here has finished and is left for good, so nothing is saved.
   Leaving from this frame, with every call of the finished context
   returned, lets the final `ret` be predicted: the return-stack buffer's
   top is the call that switched into this context, which is exactly where
   the resumed context continues. */
        .type   cosync_context_trampoline, @function
        .p2align 4
cosync_context_trampoline:
        .cfi_startproc
        .cfi_undefined rip
        endbr64
        call    *%rbx
        /* Current control words into scratch on the finished stack (the
           resumed context's red zone may be its guard). */
        stmxcsr -0x8(%rsp)
        fnstcw  -0x4(%rsp)
        movl    -0x8(%rsp), %ecx
        movzwl  -0x4(%rsp), %esi
        movq    %rax, %rsp              /* the switch itself */
        cmpl    (%rsp), %ecx
        je      1f
        ldmxcsr (%rsp)
1:      cmpw    0x4(%rsp), %si
        je      2f
        fldcw   0x4(%rsp)
2:      restore_callee_saved
        leaq    0x38(%rsp), %rsp
        xorl    %eax, %eax              /* transfer.from: nothing to resume */
        ret                             /* transfer.data is already in rdx */
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
