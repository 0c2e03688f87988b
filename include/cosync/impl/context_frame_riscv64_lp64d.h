/* The frame a suspended riscv64 LP64D context keeps at its stack pointer:
 * its one description. The assembly switch
 * (src/context/switch_riscv64_lp64d_elf_gas.S) writes and reads it through
 * these offsets, and the gdb commands (tools/gdb/cosync.py) parse them from
 * this file, so the two cannot disagree. Plain defines: assembly includes
 * it too.
 *
 * A context's token T is its stack pointer while suspended; the frame spans
 * [T, T + COSYNC_RISCV64_FRAME_SIZE), and the context's own stack pointer is
 * T + COSYNC_RISCV64_FRAME_SIZE once resumed. Each offset below names the
 * first of a run of 8-byte slots. */
#ifndef COSYNC_IMPL_CONTEXT_FRAME_RISCV64_LP64D_H
#define COSYNC_IMPL_CONTEXT_FRAME_RISCV64_LP64D_H

/* fs0-fs11 (f8, f9, f18-f27) */
#define COSYNC_RISCV64_FRAME_FS0 0x00
/* s0-s11 (x8, x9, x18-x27; s0 is the frame pointer; a fresh context:
   s0 = 0, the end of the frame chain, s1 = the entry function) */
#define COSYNC_RISCV64_FRAME_S0 0x60
/* pc: where the context continues (its ra) */
#define COSYNC_RISCV64_FRAME_PC 0xc0
/* fcsr: rounding mode and accrued exception flags */
#define COSYNC_RISCV64_FRAME_FCSR 0xc8
/* From the token to the context's stack pointer */
#define COSYNC_RISCV64_FRAME_SIZE 0xd0

#if defined(__cplusplus)
#include <cstddef>
#include <cstdint>

namespace cosync::context {

// The frame as C++ sees it, for code that reads a suspended context.
struct FrameRiscv64Lp64d {
  std::uint64_t fs[12];  // fs0-fs11
  std::uint64_t s[12];   // s0-s11
  std::uint64_t pc;      // where the context continues
  std::uint64_t fcsr;    // floating-point control and status
};

static_assert(offsetof(FrameRiscv64Lp64d, fs) == COSYNC_RISCV64_FRAME_FS0);
static_assert(offsetof(FrameRiscv64Lp64d, s) == COSYNC_RISCV64_FRAME_S0);
static_assert(offsetof(FrameRiscv64Lp64d, pc) == COSYNC_RISCV64_FRAME_PC);
static_assert(offsetof(FrameRiscv64Lp64d, fcsr) == COSYNC_RISCV64_FRAME_FCSR);
static_assert(sizeof(FrameRiscv64Lp64d) == COSYNC_RISCV64_FRAME_SIZE);
static_assert(COSYNC_RISCV64_FRAME_SIZE % 16 == 0, "sp stays 16-byte aligned");

}  // namespace cosync::context
#endif

#endif
