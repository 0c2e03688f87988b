/* The frame a suspended i386 System V context keeps at its stack pointer:
 * its one description. The assembly switch
 * (src/context/switch_i386_sysv_elf_gas.S) writes and reads it through these
 * offsets, and the gdb commands (tools/gdb/cosync.py) parse them from this
 * file, so the two cannot disagree. Plain defines: assembly includes it too.
 *
 * A context's token T is its stack pointer while suspended; the frame spans
 * [T, T + COSYNC_I386_FRAME_SIZE): the pushes of cosync_context_jump, its
 * return address and its hidden result pointer, which its `ret $4` pops, so
 * the context's own stack pointer is T + COSYNC_I386_FRAME_SIZE once
 * resumed. */
#ifndef COSYNC_IMPL_CONTEXT_FRAME_I386_SYSV_H
#define COSYNC_IMPL_CONTEXT_FRAME_I386_SYSV_H

/* MXCSR (4 bytes) */
#define COSYNC_I386_FRAME_MXCSR 0x00
/* x87 control word (2 bytes; the next 2 are unused) */
#define COSYNC_I386_FRAME_X87_CW 0x04
/* edi */
#define COSYNC_I386_FRAME_EDI 0x08
/* esi */
#define COSYNC_I386_FRAME_ESI 0x0c
/* ebx (a fresh context: the entry function) */
#define COSYNC_I386_FRAME_EBX 0x10
/* ebp (a fresh context: 0, the end of the frame chain) */
#define COSYNC_I386_FRAME_EBP 0x14
/* eip: where the context continues (the return address of its call) */
#define COSYNC_I386_FRAME_PC 0x18
/* Where the context's transfer_t goes when it is resumed: the hidden result
   pointer of its call */
#define COSYNC_I386_FRAME_RESULT 0x1c
/* From the token to the context's stack pointer */
#define COSYNC_I386_FRAME_SIZE 0x20

#if defined(__cplusplus)
#include <cstddef>
#include <cstdint>

namespace cosync::context {

// The frame as C++ sees it, for code that reads a suspended context.
struct FrameI386Sysv {
  std::uint32_t mxcsr;        // SSE control and status
  std::uint16_t x87_control;  // x87 control word
  std::uint16_t unused;       // never written
  std::uint32_t edi;          // callee-saved
  std::uint32_t esi;          // callee-saved
  std::uint32_t ebx;          // callee-saved
  std::uint32_t ebp;          // the context's frame pointer
  std::uint32_t pc;           // where the context continues
  std::uint32_t result;       // where its transfer_t goes when resumed
};

static_assert(offsetof(FrameI386Sysv, mxcsr) == COSYNC_I386_FRAME_MXCSR);
static_assert(offsetof(FrameI386Sysv, x87_control) == COSYNC_I386_FRAME_X87_CW);
static_assert(offsetof(FrameI386Sysv, edi) == COSYNC_I386_FRAME_EDI);
static_assert(offsetof(FrameI386Sysv, esi) == COSYNC_I386_FRAME_ESI);
static_assert(offsetof(FrameI386Sysv, ebx) == COSYNC_I386_FRAME_EBX);
static_assert(offsetof(FrameI386Sysv, ebp) == COSYNC_I386_FRAME_EBP);
static_assert(offsetof(FrameI386Sysv, pc) == COSYNC_I386_FRAME_PC);
static_assert(offsetof(FrameI386Sysv, result) == COSYNC_I386_FRAME_RESULT);
static_assert(sizeof(FrameI386Sysv) == COSYNC_I386_FRAME_SIZE);

}  // namespace cosync::context
#endif

#endif
