/* The frame a suspended x86_64 System V context leaves below its stack
 * pointer: its one description. The assembly switch
 * (src/context/switch_x86_64_sysv_elf_gas.S) and the inline one
 * (context_jump_x86_64_sysv.hpp) write and read it through these offsets,
 * and the gdb commands (tools/gdb/cosync.py) parse them from this file, so
 * the three cannot disagree. Plain defines: assembly includes it too.
 *
 * A context's token T is the frame's address; the context's stack pointer
 * is T + COSYNC_X86_64_FRAME_SIZE. The frame lies below the 128-byte red
 * zone of that stack pointer, so the suspended code's red zone is kept. */
#ifndef COSYNC_IMPL_CONTEXT_FRAME_X86_64_SYSV_H
#define COSYNC_IMPL_CONTEXT_FRAME_X86_64_SYSV_H

/* MXCSR (4 bytes) */
#define COSYNC_X86_64_FRAME_MXCSR 0x00
/* x87 control word (2 bytes; the next 2 are unused) */
#define COSYNC_X86_64_FRAME_X87_CW 0x04
/* rbp */
#define COSYNC_X86_64_FRAME_RBP 0x08
/* rip: where the context continues */
#define COSYNC_X86_64_FRAME_RIP 0x10
/* From the token to the context's stack pointer */
#define COSYNC_X86_64_FRAME_SIZE 0xa0
/* From a resume site (a frame's rip) back to its detour: every resume site
 * is preceded by 5 bytes of code, a jump to where the suspended code handles
 * a duty waiting for it (an unwind, a coroutine to free) or a nop that falls
 * into the site for code that checks its duties anyway. A frame's rip moved
 * back by this much makes its context run the detour when resumed, so the
 * resume site itself tests nothing. */
#define COSYNC_X86_64_FRAME_DETOUR 5

#if defined(__cplusplus)
#include <cstddef>
#include <cstdint>

namespace cosync::context {

// The frame as C++ sees it, for code that reads a suspended context.
struct FrameX86_64Sysv {
  std::uint32_t mxcsr;        // control and status bits
  std::uint16_t x87_control;  // x87 control word
  std::uint16_t unused;       // never written
  std::uint64_t rbp;          // the context's frame pointer
  std::uint64_t rip;          // where the context continues
};

static_assert(offsetof(FrameX86_64Sysv, mxcsr) == COSYNC_X86_64_FRAME_MXCSR);
static_assert(offsetof(FrameX86_64Sysv, x87_control) == COSYNC_X86_64_FRAME_X87_CW);
static_assert(offsetof(FrameX86_64Sysv, rbp) == COSYNC_X86_64_FRAME_RBP);
static_assert(offsetof(FrameX86_64Sysv, rip) == COSYNC_X86_64_FRAME_RIP);
static_assert(COSYNC_X86_64_FRAME_SIZE >= sizeof(FrameX86_64Sysv) + 128,
              "the frame must lie below the red zone");
static_assert(COSYNC_X86_64_FRAME_SIZE % 16 == 0, "the stack pointer keeps its alignment");

}  // namespace cosync::context
#endif

#endif
