/* The frame a suspended 32-bit ARM context (AAPCS with the VFP variant,
 * arm-linux-gnueabihf) keeps at its stack pointer: its one description. The
 * assembly switch (src/context/switch_arm_aapcs_vfp_elf_gas.S) writes and
 * reads it through these offsets, and the gdb commands (tools/gdb/cosync.py)
 * parse them from this file, so the two cannot disagree. Plain defines:
 * assembly includes it too.
 *
 * A context's token T is its stack pointer while suspended; the frame spans
 * [T, T + COSYNC_ARM_FRAME_SIZE), and the context's own stack pointer is
 * T + COSYNC_ARM_FRAME_SIZE once resumed. */
#ifndef COSYNC_IMPL_CONTEXT_FRAME_ARM_AAPCS_VFP_H
#define COSYNC_IMPL_CONTEXT_FRAME_ARM_AAPCS_VFP_H

/* d8-d15, 8 bytes each */
#define COSYNC_ARM_FRAME_D8 0x00
/* r4-r11, 4 bytes each (r7 and r11 are the Thumb and ARM frame pointers; a
   fresh context: r4 = the entry function, r7 = r11 = 0) */
#define COSYNC_ARM_FRAME_R4 0x40
/* r11, the frame pointer of ARM-state code */
#define COSYNC_ARM_FRAME_R11 0x5c
/* pc: where the context continues (its lr) */
#define COSYNC_ARM_FRAME_PC 0x60
/* FPSCR */
#define COSYNC_ARM_FRAME_FPSCR 0x64
/* Where the context's transfer_t goes when it is resumed: the result
   pointer its call of cosync_context_jump received in r0 */
#define COSYNC_ARM_FRAME_RESULT 0x68
/* From the token to the context's stack pointer */
#define COSYNC_ARM_FRAME_SIZE 0x70

#if defined(__cplusplus)
#include <cstddef>
#include <cstdint>

namespace cosync::context {

// The frame as C++ sees it, for code that reads a suspended context.
struct FrameArmAapcsVfp {
  std::uint64_t d8_to_d15[8];  // callee-saved VFP registers
  std::uint32_t r4_to_r11[8];  // callee-saved core registers
  std::uint32_t pc;            // where the context continues
  std::uint32_t fpscr;         // VFP status and control
  std::uint32_t result;        // where its transfer_t goes when resumed
  std::uint32_t unused;        // keeps the size a multiple of 8
};

static_assert(offsetof(FrameArmAapcsVfp, d8_to_d15) == COSYNC_ARM_FRAME_D8);
static_assert(offsetof(FrameArmAapcsVfp, r4_to_r11) == COSYNC_ARM_FRAME_R4);
static_assert(offsetof(FrameArmAapcsVfp, r4_to_r11) + 28 == COSYNC_ARM_FRAME_R11);
static_assert(offsetof(FrameArmAapcsVfp, pc) == COSYNC_ARM_FRAME_PC);
static_assert(offsetof(FrameArmAapcsVfp, fpscr) == COSYNC_ARM_FRAME_FPSCR);
static_assert(offsetof(FrameArmAapcsVfp, result) == COSYNC_ARM_FRAME_RESULT);
static_assert(sizeof(FrameArmAapcsVfp) == COSYNC_ARM_FRAME_SIZE);
static_assert(COSYNC_ARM_FRAME_SIZE % 8 == 0, "sp stays 8-byte aligned");

}  // namespace cosync::context
#endif

#endif
