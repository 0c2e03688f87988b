/* The frame a suspended ppc64le (ELFv2 ABI) context keeps at its stack
 * pointer: its one description. The assembly switch
 * (src/context/switch_ppc64le_elfv2_elf_gas.S) writes and reads it through
 * these offsets, and the gdb commands (tools/gdb/cosync.py) parse them from
 * this file, so the two cannot disagree. Plain defines: assembly includes
 * it too.
 *
 * A context's token T is its stack pointer (r1) while suspended; the frame
 * spans [T, T + COSYNC_PPC64LE_FRAME_SIZE), starts with the back chain as
 * every ELFv2 frame does, and the context's own stack pointer is
 * T + COSYNC_PPC64LE_FRAME_SIZE once resumed. Each offset below names the
 * first of a run of 8-byte slots (16-byte ones for the vector registers). */
#ifndef COSYNC_IMPL_CONTEXT_FRAME_PPC64LE_ELFV2_H
#define COSYNC_IMPL_CONTEXT_FRAME_PPC64LE_ELFV2_H

/* back chain: the context's stack pointer */
#define COSYNC_PPC64LE_FRAME_BACK_CHAIN 0x000
/* CR (its fields cr2-cr4 are restored) */
#define COSYNC_PPC64LE_FRAME_CR 0x008
/* pc: where the context continues (its lr) */
#define COSYNC_PPC64LE_FRAME_PC 0x010
/* r2, the TOC pointer */
#define COSYNC_PPC64LE_FRAME_TOC 0x018
/* FPSCR */
#define COSYNC_PPC64LE_FRAME_FPSCR 0x020
/* r14-r31 (a fresh context: r14 = the entry function, r31 = 0) */
#define COSYNC_PPC64LE_FRAME_R14 0x030
/* r31, which GCC uses as the frame pointer */
#define COSYNC_PPC64LE_FRAME_R31 0x0b8
/* f14-f31 */
#define COSYNC_PPC64LE_FRAME_F14 0x0c0
/* v20-v31, 16 bytes each */
#define COSYNC_PPC64LE_FRAME_V20 0x150
/* From the token to the context's stack pointer */
#define COSYNC_PPC64LE_FRAME_SIZE 0x210

#if defined(__cplusplus)
#include <cstddef>
#include <cstdint>

namespace cosync::context {

// The frame as C++ sees it, for code that reads a suspended context.
struct FramePpc64leElfv2 {
  std::uint64_t back_chain;      // the context's stack pointer
  std::uint64_t cr;              // condition register
  std::uint64_t pc;              // where the context continues
  std::uint64_t toc;             // r2
  std::uint64_t fpscr;           // floating-point status and control
  std::uint64_t unused;          // aligns what follows
  std::uint64_t r14_to_r31[18];  // callee-saved general registers
  std::uint64_t f14_to_f31[18];  // callee-saved floating-point registers
  std::uint64_t v20_to_v31[24];  // callee-saved vector registers
};

static_assert(offsetof(FramePpc64leElfv2, cr) == COSYNC_PPC64LE_FRAME_CR);
static_assert(offsetof(FramePpc64leElfv2, pc) == COSYNC_PPC64LE_FRAME_PC);
static_assert(offsetof(FramePpc64leElfv2, toc) == COSYNC_PPC64LE_FRAME_TOC);
static_assert(offsetof(FramePpc64leElfv2, fpscr) == COSYNC_PPC64LE_FRAME_FPSCR);
static_assert(offsetof(FramePpc64leElfv2, r14_to_r31) == COSYNC_PPC64LE_FRAME_R14);
static_assert(offsetof(FramePpc64leElfv2, r14_to_r31) + 17 * 8 == COSYNC_PPC64LE_FRAME_R31);
static_assert(offsetof(FramePpc64leElfv2, f14_to_f31) == COSYNC_PPC64LE_FRAME_F14);
static_assert(offsetof(FramePpc64leElfv2, v20_to_v31) == COSYNC_PPC64LE_FRAME_V20);
static_assert(sizeof(FramePpc64leElfv2) == COSYNC_PPC64LE_FRAME_SIZE);
static_assert(COSYNC_PPC64LE_FRAME_V20 % 16 == 0, "lvx and stvx need 16-byte slots");
static_assert(COSYNC_PPC64LE_FRAME_SIZE % 16 == 0, "r1 stays 16-byte aligned");

}  // namespace cosync::context
#endif

#endif
