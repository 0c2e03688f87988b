// The x86_64 System V context switch, inline. It makes and resumes the
// frames of src/context/switch_x86_64_sysv_elf_gas.S (read the layout
// there), so it can resume any context and any context can resume it.
//
// Unlike the out-of-line cosync_context_jump, it saves no general-purpose
// register but rbp: its clobber list tells the compiler that every other
// register may change, so the compiler keeps what is live across the switch
// in its own frame and saves the callee-saved registers it uses once, in
// its prologue, instead of six on every switch.
#pragma once

#if !defined(__x86_64__)
#error "context_jump_x86_64_sysv.hpp included for a target that is not x86_64"
#endif

namespace cosync::context {

// Suspends the caller and resumes `to`, which receives `data`; returns the
// token and pointer of whichever context resumes the caller.
[[gnu::always_inline]] inline transfer_t jump(context_t to, void* data) noexcept {
  context_t from;
  // rbp is saved by hand because a compiler keeping a frame pointer refuses
  // it in a clobber list. The frame goes below the red zone, and rsp moves
  // first, so neither the caller's red zone nor a signal frame can overlap
  // it. The control words are saved and loaded unconditionally (see the
  // .S file for why). The x87 stack registers, mm0-7, and with AVX-512
  // xmm16-31 and the mask registers are caller-saved too, so they are
  // clobbers as well.
  asm volatile(
      "leaq -0xa0(%%rsp), %%rsp\n\t"
      "stmxcsr (%%rsp)\n\t"
      "fnstcw 0x4(%%rsp)\n\t"
      "movq %%rbp, 0x8(%%rsp)\n\t"
      "leaq 1f(%%rip), %%rcx\n\t"
      "movq %%rcx, 0x10(%%rsp)\n\t"
      "movq %%rsp, %%rax\n\t"
      "movq %%rdi, %%rsp\n\t"
      "ldmxcsr (%%rsp)\n\t"
      "fldcw 0x4(%%rsp)\n\t"
      "movq 0x8(%%rsp), %%rbp\n\t"
      "movq 0x10(%%rsp), %%rcx\n\t"
      "leaq 0xa0(%%rsp), %%rsp\n\t"
      "notrack jmp *%%rcx\n"
      "1:"
      : "=a"(from), "+d"(data), "+D"(to)
      :
      : "rbx", "rcx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",  //
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",             //
        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",       //
#if defined(__AVX512F__)
        "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",  //
        "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",  //
        "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7",                          //
#endif
#if defined(__APX_F__)
        "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23",  //
        "r24", "r25", "r26", "r27", "r28", "r29", "r30", "r31",  //
#endif
        "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",  //
        "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7",               //
        "cc", "memory");
  return transfer_t{from, data};
}

}  // namespace cosync::context
