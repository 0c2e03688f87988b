/* The frame a suspended s390x (z/Architecture ELF ABI) context keeps at its
 * stack pointer: its one description. The assembly switch
 * (src/context/switch_s390x_sysv_elf_gas.S) writes and reads it through
 * these offsets, and the gdb commands (tools/gdb/cosync.py) parse them from
 * this file, so the two cannot disagree. Plain defines: assembly includes
 * it too.
 *
 * A context's token T is its stack pointer (r15) while suspended; the frame
 * spans [T, T + COSYNC_S390X_FRAME_SIZE), and the context's own stack
 * pointer is T + COSYNC_S390X_FRAME_SIZE once resumed. Each offset below
 * names the first of a run of 8-byte slots. */
#ifndef COSYNC_IMPL_CONTEXT_FRAME_S390X_SYSV_H
#define COSYNC_IMPL_CONTEXT_FRAME_S390X_SYSV_H

/* r6-r13 (r11 is the frame pointer when there is one; a fresh context:
   r7 = the entry function, r11 = 0) */
#define COSYNC_S390X_FRAME_R6 0x00
/* r11 */
#define COSYNC_S390X_FRAME_R11 0x28
/* pc: where the context continues (its r14, the return address) */
#define COSYNC_S390X_FRAME_PC 0x40
/* f8-f15 */
#define COSYNC_S390X_FRAME_F8 0x48
/* the floating-point control register (4 bytes; the next 4 are unused) */
#define COSYNC_S390X_FRAME_FPC 0x88
/* Where the context's transfer_t goes when it is resumed: the result
   pointer its call of cosync_context_jump received in r2 */
#define COSYNC_S390X_FRAME_RESULT 0x90
/* From the token to the context's stack pointer */
#define COSYNC_S390X_FRAME_SIZE 0xa0

#if defined(__cplusplus)
#include <cstddef>
#include <cstdint>

namespace cosync::context {

// The frame as C++ sees it, for code that reads a suspended context.
struct FrameS390xSysv {
  std::uint64_t r6_to_r13[8];  // callee-saved general registers
  std::uint64_t pc;            // where the context continues
  std::uint64_t f8_to_f15[8];  // callee-saved floating-point registers
  std::uint32_t fpc;           // floating-point control
  std::uint32_t unused;        // never written
  std::uint64_t result;        // where its transfer_t goes when resumed
  std::uint64_t padding;       // keeps the size a multiple of 16
};

static_assert(offsetof(FrameS390xSysv, r6_to_r13) == COSYNC_S390X_FRAME_R6);
static_assert(offsetof(FrameS390xSysv, r6_to_r13) + 5 * 8 == COSYNC_S390X_FRAME_R11);
static_assert(offsetof(FrameS390xSysv, pc) == COSYNC_S390X_FRAME_PC);
static_assert(offsetof(FrameS390xSysv, f8_to_f15) == COSYNC_S390X_FRAME_F8);
static_assert(offsetof(FrameS390xSysv, fpc) == COSYNC_S390X_FRAME_FPC);
static_assert(offsetof(FrameS390xSysv, result) == COSYNC_S390X_FRAME_RESULT);
static_assert(sizeof(FrameS390xSysv) == COSYNC_S390X_FRAME_SIZE);
static_assert(COSYNC_S390X_FRAME_SIZE % 8 == 0, "r15 stays 8-byte aligned");

}  // namespace cosync::context
#endif

#endif
