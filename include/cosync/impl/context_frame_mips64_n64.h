/* The frame a suspended mips64 n64 context keeps at its stack pointer: its
 * one description. The assembly switch
 * (src/context/switch_mips64_n64_elf_gas.S) writes and reads it through
 * these offsets, and the gdb commands (tools/gdb/cosync.py) parse them from
 * this file, so the two cannot disagree. Plain defines: assembly includes
 * it too.
 *
 * A context's token T is its stack pointer while suspended; the frame spans
 * [T, T + COSYNC_MIPS64_FRAME_SIZE), and the context's own stack pointer is
 * T + COSYNC_MIPS64_FRAME_SIZE once resumed. Each offset below names the
 * first of a run of 8-byte slots. */
#ifndef COSYNC_IMPL_CONTEXT_FRAME_MIPS64_N64_H
#define COSYNC_IMPL_CONTEXT_FRAME_MIPS64_N64_H

/* $f24-$f31 */
#define COSYNC_MIPS64_FRAME_F24 0x00
/* $16-$23 (s0-s7; a fresh context: s0 = the entry function) */
#define COSYNC_MIPS64_FRAME_S0 0x40
/* $28, gp */
#define COSYNC_MIPS64_FRAME_GP 0x80
/* $30, s8 or the frame pointer (a fresh context: 0) */
#define COSYNC_MIPS64_FRAME_FP 0x88
/* pc: where the context continues (its $31, ra) */
#define COSYNC_MIPS64_FRAME_PC 0x90
/* FCSR */
#define COSYNC_MIPS64_FRAME_FCSR 0x98
/* From the token to the context's stack pointer */
#define COSYNC_MIPS64_FRAME_SIZE 0xa0

#if defined(__cplusplus)
#include <cstddef>
#include <cstdint>

namespace cosync::context {

// The frame as C++ sees it, for code that reads a suspended context.
struct FrameMips64N64 {
  std::uint64_t f24_to_f31[8];  // callee-saved floating-point registers
  std::uint64_t s0_to_s7[8];    // callee-saved general registers
  std::uint64_t gp;             // global pointer
  std::uint64_t fp;             // frame pointer
  std::uint64_t pc;             // where the context continues
  std::uint64_t fcsr;           // floating-point control and status
};

static_assert(offsetof(FrameMips64N64, f24_to_f31) == COSYNC_MIPS64_FRAME_F24);
static_assert(offsetof(FrameMips64N64, s0_to_s7) == COSYNC_MIPS64_FRAME_S0);
static_assert(offsetof(FrameMips64N64, gp) == COSYNC_MIPS64_FRAME_GP);
static_assert(offsetof(FrameMips64N64, fp) == COSYNC_MIPS64_FRAME_FP);
static_assert(offsetof(FrameMips64N64, pc) == COSYNC_MIPS64_FRAME_PC);
static_assert(offsetof(FrameMips64N64, fcsr) == COSYNC_MIPS64_FRAME_FCSR);
static_assert(sizeof(FrameMips64N64) == COSYNC_MIPS64_FRAME_SIZE);
static_assert(COSYNC_MIPS64_FRAME_SIZE % 16 == 0, "sp stays 16-byte aligned");

}  // namespace cosync::context
#endif

#endif
