/* The frame a suspended aarch64 AAPCS64 context keeps at its stack
 * pointer: its one description. The assembly switch
 * (src/context/switch_aarch64_aapcs_elf_gas.S) writes and reads it through
 * these offsets, and the gdb commands (tools/gdb/cosync.py) parse them from
 * this file, so the two cannot disagree. Plain defines: assembly includes
 * it too.
 *
 * A context's token T is its stack pointer while suspended; the frame spans
 * [T, T + COSYNC_AARCH64_FRAME_SIZE), and the context's own stack pointer is
 * T + COSYNC_AARCH64_FRAME_SIZE once resumed. Registers are stored in pairs,
 * so each offset below names the first of a pair. */
#ifndef COSYNC_IMPL_CONTEXT_FRAME_AARCH64_AAPCS_H
#define COSYNC_IMPL_CONTEXT_FRAME_AARCH64_AAPCS_H

/* d8, d9 (the low 64 bits of v8, v9) */
#define COSYNC_AARCH64_FRAME_D8 0x00
/* d10, d11 */
#define COSYNC_AARCH64_FRAME_D10 0x10
/* d12, d13 */
#define COSYNC_AARCH64_FRAME_D12 0x20
/* d14, d15 */
#define COSYNC_AARCH64_FRAME_D14 0x30
/* x19, x20 (a fresh context: x19 = the entry function) */
#define COSYNC_AARCH64_FRAME_X19 0x40
/* x21, x22 */
#define COSYNC_AARCH64_FRAME_X21 0x50
/* x23, x24 */
#define COSYNC_AARCH64_FRAME_X23 0x60
/* x25, x26 */
#define COSYNC_AARCH64_FRAME_X25 0x70
/* x27, x28 */
#define COSYNC_AARCH64_FRAME_X27 0x80
/* x29 (the frame pointer), x30 (a fresh context: 0, 0) */
#define COSYNC_AARCH64_FRAME_X29 0x90
/* pc (where the context continues), then FPCR */
#define COSYNC_AARCH64_FRAME_PC 0xa0
/* From the token to the context's stack pointer */
#define COSYNC_AARCH64_FRAME_SIZE 0xb0

#if defined(__cplusplus)
#include <cstddef>
#include <cstdint>

namespace cosync::context {

// The frame as C++ sees it, for code that reads a suspended context.
struct FrameAarch64Aapcs {
  std::uint64_t d8_to_d15[8];    // low halves of v8-v15
  std::uint64_t x19_to_x28[10];  // callee-saved general registers
  std::uint64_t x29;             // the context's frame pointer
  std::uint64_t x30;             // its link register
  std::uint64_t pc;              // where the context continues
  std::uint64_t fpcr;            // floating-point control register
};

static_assert(offsetof(FrameAarch64Aapcs, d8_to_d15) == COSYNC_AARCH64_FRAME_D8);
static_assert(offsetof(FrameAarch64Aapcs, d8_to_d15) + 16 == COSYNC_AARCH64_FRAME_D10);
static_assert(offsetof(FrameAarch64Aapcs, d8_to_d15) + 32 == COSYNC_AARCH64_FRAME_D12);
static_assert(offsetof(FrameAarch64Aapcs, d8_to_d15) + 48 == COSYNC_AARCH64_FRAME_D14);
static_assert(offsetof(FrameAarch64Aapcs, x19_to_x28) == COSYNC_AARCH64_FRAME_X19);
static_assert(offsetof(FrameAarch64Aapcs, x19_to_x28) + 16 == COSYNC_AARCH64_FRAME_X21);
static_assert(offsetof(FrameAarch64Aapcs, x19_to_x28) + 32 == COSYNC_AARCH64_FRAME_X23);
static_assert(offsetof(FrameAarch64Aapcs, x19_to_x28) + 48 == COSYNC_AARCH64_FRAME_X25);
static_assert(offsetof(FrameAarch64Aapcs, x19_to_x28) + 64 == COSYNC_AARCH64_FRAME_X27);
static_assert(offsetof(FrameAarch64Aapcs, x29) == COSYNC_AARCH64_FRAME_X29);
static_assert(offsetof(FrameAarch64Aapcs, pc) == COSYNC_AARCH64_FRAME_PC);
static_assert(sizeof(FrameAarch64Aapcs) == COSYNC_AARCH64_FRAME_SIZE);
static_assert(COSYNC_AARCH64_FRAME_SIZE % 16 == 0, "sp stays 16-byte aligned");

}  // namespace cosync::context
#endif

#endif
