// The x86_64 System V context switch, inline. It makes and resumes the
// frames of src/context/switch_x86_64_sysv_elf_gas.S (their layout:
// context_frame_x86_64_sysv.h), so it can resume any context and any
// context can resume it.
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

#include "cosync/impl/context_frame_x86_64_sysv.h"

namespace cosync::context {

// What a context that left through cosync_context_jump_return runs when it
// is resumed, on its own stack, before it returns to its caller.
using ArrivalFn = void (*)(void* arg) noexcept;

extern "C" {
// Suspends the caller and resumes `to`, which receives `data`, after
// storing the caller's token at `save`. Tail-called by a function F as its
// last act: when some context resumes the token, arrive(arg) runs and the
// jump lands straight at F's return address, with F's caller's registers,
// instead of returning through F (a return the CPU mispredicts after a
// stack switch). Defined in src/context/switch_x86_64_sysv_elf_gas.S.
void cosync_context_jump_return(context_t to, context_t* save, void* data, ArrivalFn arrive,
                                void* arg) noexcept;
}

// Every register but rsp and rbp: the x87 stack registers, mm0-7, and with
// AVX-512 xmm16-31 and the mask registers are caller-saved too.
#if defined(__AVX512F__)
// The AVX-512 registers, where the compiler may use them.
#define COSYNC_DETAIL_AVX512_CLOBBERS                                                           \
  "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",     \
      "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k0", "k1", "k2", "k3", "k4", "k5", \
      "k6", "k7",
#else
// No AVX-512 registers to name.
#define COSYNC_DETAIL_AVX512_CLOBBERS
#endif
#if defined(__APX_F__)
// The APX registers, where the compiler may use them.
#define COSYNC_DETAIL_APX_CLOBBERS                                                           \
  "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25", "r26", "r27", "r28", \
      "r29", "r30", "r31",
#else
// No APX registers to name.
#define COSYNC_DETAIL_APX_CLOBBERS
#endif
// What the switch tells the compiler it may change.
#define COSYNC_DETAIL_SWITCH_CLOBBERS                                                            \
  "rbx", "rcx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1",     \
      "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", \
      "xmm13", "xmm14", "xmm15", COSYNC_DETAIL_AVX512_CLOBBERS COSYNC_DETAIL_APX_CLOBBERS "st",  \
      "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", "mm0", "mm1", "mm2", "mm3", \
      "mm4", "mm5", "mm6", "mm7", "cc", "memory"

// rbp is saved by hand because a compiler keeping a frame pointer refuses it
// in a clobber list. The frame goes below the red zone, and rsp moves first,
// so neither the caller's red zone nor a signal frame can overlap it.
// Spells a frame offset from the layout header as assembly text.
#define COSYNC_DETAIL_STRING(x) #x
// The operand `offset`(%base), with the offset's value spelled out.
#define COSYNC_DETAIL_AT(offset, base) COSYNC_DETAIL_STRING(offset) "(%%" base ")"
// Moves rsp below the red zone and the frame.
#define COSYNC_DETAIL_LOWER_RSP \
  "leaq -" COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_SIZE, "rsp") ", %%rsp\n\t"
// Saves the leaving context's frame at rsp; it resumes at label 1.
#define COSYNC_DETAIL_SAVE_FRAME \
  "stmxcsr " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_MXCSR, "rsp") "\n\t" \
  "fnstcw " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_X87_CW, "rsp") "\n\t" \
  "movq %%rbp, " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_RBP, "rsp") "\n\t" \
  "leaq 1f(%%rip), %%rcx\n\t"                                        \
  "movq %%rcx, " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_RIP, "rsp") "\n\t"
// Resumes the frame rdi points at, while rsp still points at the frame just
// saved: the target's frame is read before rsp moves onto its stack, where
// it lies below the red zone. MXCSR is loaded unconditionally; the x87
// control word only when it differs from the leaving context's (see
// "Control words" in the .S file for the measurements behind both).
#define COSYNC_DETAIL_RESUME_FRAME \
  "ldmxcsr " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_MXCSR, "rdi") "\n\t"      \
  "movzwl " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_X87_CW, "rdi") ", %%ecx\n\t" \
  "cmpw %%cx, " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_X87_CW, "rsp") "\n\t"  \
  "jne 3f\n"                                                                \
  "2:\n\t"                                                                  \
  "movq " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_RBP, "rdi") ", %%rbp\n\t"    \
  "movq " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_RIP, "rdi") ", %%rcx\n\t"    \
  "leaq " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_SIZE, "rdi") ", %%rsp\n\t"   \
  "notrack jmp *%%rcx\n"                                                    \
  "3:\n\t"                                                                  \
  "fldcw " COSYNC_DETAIL_AT(COSYNC_X86_64_FRAME_X87_CW, "rdi") "\n\t"       \
  "jmp 2b\n"
// The resume site, label 1, after its detour (COSYNC_X86_64_FRAME_DETOUR
// bytes): a nop for code that checks its duties after the switch anyway.
#define COSYNC_DETAIL_RESUME_SITE ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n1:"
// The resume site after a detour that jumps to the asm goto label `detour`
// (a jmp with a 32-bit displacement, spelled out so that no assembler
// shortens it).
#define COSYNC_DETAIL_RESUME_SITE_WITH_DETOUR ".byte 0xe9\n\t.long %l[detour] - 1f\n1:"

// Suspends the caller and resumes `to`, which receives `data`; returns the
// token and pointer of whichever context resumes the caller.
[[gnu::always_inline]] inline transfer_t jump(context_t to, void* data) noexcept {
  context_t from;
  asm volatile(COSYNC_DETAIL_LOWER_RSP COSYNC_DETAIL_SAVE_FRAME
               "movq %%rsp, %%rax\n\t" COSYNC_DETAIL_RESUME_FRAME COSYNC_DETAIL_RESUME_SITE
               : "=a"(from), "+d"(data), "+D"(to)
               :
               : COSYNC_DETAIL_SWITCH_CLOBBERS);
  return transfer_t{from, data};
}

// Suspends the caller, storing its token at `owner` + SaveOffset before it
// leaves, and resumes `to`, which receives `data` and no token (rax is
// undefined). For a protocol in which every context saves its own token:
// the resumed one writes nothing back, two instructions fewer per switch
// than jump(). An offset rather than a second pointer, so the compiler keeps
// one register live across the switch, not two; rax and rdx are outputs
// rather than clobbers so that `owner` may share one (with a frame pointer
// every other register is taken). Returns the data of whichever context
// resumes the caller. The token is stored first: measured on an AMD EPYC,
// a store just before the switch costs about a cycle per round trip more.
template <unsigned long SaveOffset>
[[gnu::always_inline]] inline void* jump_saving(context_t to, void* owner, void* data) noexcept {
  void* undefined;
  asm volatile(
      COSYNC_DETAIL_LOWER_RSP
      "movq %%rsp, %c[offset](%[owner])\n\t" COSYNC_DETAIL_SAVE_FRAME COSYNC_DETAIL_RESUME_FRAME
          COSYNC_DETAIL_RESUME_SITE
      : "=a"(undefined), "+d"(data), "+D"(to)
      : [owner] "r"(owner), [offset] "i"(SaveOffset)
      : COSYNC_DETAIL_SWITCH_CLOBBERS);
  return data;
}

// jump_saving for a resumed context that reads no data (rdx is undefined).
template <unsigned long SaveOffset>
[[gnu::always_inline]] inline void jump_saving(context_t to, void* owner) noexcept {
  void* undefined;
  void* undefined_too;
  asm volatile(
      COSYNC_DETAIL_LOWER_RSP
      "movq %%rsp, %c[offset](%[owner])\n\t" COSYNC_DETAIL_SAVE_FRAME COSYNC_DETAIL_RESUME_FRAME
          COSYNC_DETAIL_RESUME_SITE
      : "=a"(undefined), "=d"(undefined_too), "+D"(to)
      : [owner] "r"(owner), [offset] "i"(SaveOffset)
      : COSYNC_DETAIL_SWITCH_CLOBBERS);
}

// jump_saving (no data) whose resume site tests nothing: when the caller's
// context is resumed through its detour (see detour()), it runs `duties()`
// first, which may throw: that call is an ordinary call of the function
// that contains the switch, with its own unwind entry, which the switch
// itself (an asm statement) cannot have.
template <unsigned long SaveOffset, class Duties>
[[gnu::always_inline]] inline void jump_saving_with_detour(context_t to, void* owner,
                                                           Duties&& duties) {
  void* undefined;
  void* undefined_too;
  // Volatile although asm goto is: g++ 12 deletes an asm goto whose
  // outputs are unused otherwise.
  asm volatile goto(
      COSYNC_DETAIL_LOWER_RSP
      "movq %%rsp, %c[offset](%[owner])\n\t" COSYNC_DETAIL_SAVE_FRAME COSYNC_DETAIL_RESUME_FRAME
          COSYNC_DETAIL_RESUME_SITE_WITH_DETOUR
      : "=a"(undefined), "=d"(undefined_too), "+D"(to)
      : [owner] "r"(owner), [offset] "i"(SaveOffset)
      : COSYNC_DETAIL_SWITCH_CLOBBERS
      : detour);
  return;
detour:
  duties();
}

// Makes the suspended context `token` run its detour when resumed, before
// its resume site (COSYNC_X86_64_FRAME_DETOUR). Once per resume: the
// context's duties must be marked where its detour reads them.
inline void detour(context_t token) noexcept {
  static_cast<FrameX86_64Sysv*>(token)->rip -= COSYNC_X86_64_FRAME_DETOUR;
}

#undef COSYNC_DETAIL_STRING
#undef COSYNC_DETAIL_AT
#undef COSYNC_DETAIL_LOWER_RSP
#undef COSYNC_DETAIL_SAVE_FRAME
#undef COSYNC_DETAIL_RESUME_FRAME
#undef COSYNC_DETAIL_RESUME_SITE
#undef COSYNC_DETAIL_RESUME_SITE_WITH_DETOUR
#undef COSYNC_DETAIL_SWITCH_CLOBBERS
#undef COSYNC_DETAIL_APX_CLOBBERS
#undef COSYNC_DETAIL_AVX512_CLOBBERS

}  // namespace cosync::context
