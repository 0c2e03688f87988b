/*
 * Context switch for x86_64, System V psABI, ELF, GNU as.
 *
 * A suspended context is the address T of a three-word frame it left
 * below its stack pointer, past the 128-byte red zone:
 *
 *   offset  content
 *   0x00    MXCSR (4 bytes) | x87 control word (2 bytes) | unused (2)
 *   0x08    rbp
 *   0x10    rip (where the context continues)
 *   ...
 *   0xa0    the context's stack pointer
 *
 * Resuming a context (the `resume_frame` macro, and the same instructions
 * inlined by include/cosync/detail/context_jump_x86_64_sysv.hpp) loads the
 * control words, reloads rbp, sets rsp = T + 0xa0 and jumps
 * to rip with rax = the token of the context that left and rdx = the data
 * pointer. Everything else the context needs is restored by the code at
 * rip: cosync_context_jump pops rbx and r12-r15, which it pushed; the
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
 * The frame is written after rsp has been lowered past it, so a signal
 * delivered in the middle of a switch cannot overwrite it.
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

        .text

/* Resumes the frame rsp points at; rax and rdx hold the transfer.
   The control words are loaded unconditionally, as Boost.Context does:
   comparing them first costs more instructions than the loads cost time
   on current CPUs, and a compare that reads back the two words just
   stored as one would stall on store forwarding. */
        .macro resume_frame
        ldmxcsr (%rsp)
        fldcw   0x4(%rsp)
        movq    0x08(%rsp), %rbp
        movq    0x10(%rsp), %rcx
        leaq    0xa0(%rsp), %rsp
        /* The target is a resume site or the trampoline, not a branch
           target: notrack keeps IBT from demanding an endbr64 there. */
        notrack jmp *%rcx
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
        leaq    -0xa0(%rsp), %rsp
        stmxcsr (%rsp)
        fnstcw  0x4(%rsp)
        movq    %rbp, 0x08(%rsp)
        leaq    1f(%rip), %rcx
        movq    %rcx, 0x10(%rsp)
        movq    %rsp, %rax              /* token of the context that leaves */
        movq    %rdi, %rsp              /* the switch itself */
        movq    %rsi, %rdx
        resume_frame
1:      .cfi_restore_state
        /* Resumed: rsp is back where the frame left it, rbp is restored,
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

/* context_t cosync_context_make(void *stack_top, size_t size, entry_fn entry)
   The trampoline's stack pointer S is 16-aligned and holds the entry
   function; the frame sits 0xa0 below it, like any other. */
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
        leaq    -0xa0(%rax), %rax       /* T */
        stmxcsr (%rax)
        fnstcw  0x4(%rax)
        movq    $0, 0x08(%rax)          /* rbp: the end of the frame chain */
        leaq    cosync_context_trampoline(%rip), %rcx
        movq    %rcx, 0x10(%rax)
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
        endbr64
        movq    %rax, %rdi
        movq    %rdx, %rsi
        call    *(%rsp)
        movq    %rax, %rsp              /* the switch itself */
        xorl    %eax, %eax              /* transfer.from: nothing to resume */
        resume_frame                    /* transfer.data is already in rdx */
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
