// The context layer on its own: switching, data passing, register
// preservation, stack alignment. Runs against whichever back end the build
// selected (assembly or ucontext).
#include "context/context.hpp"

#include <gtest/gtest.h>

#include <cfenv>
#if defined(__x86_64__)
#include <valgrind/valgrind.h>
#include <xmmintrin.h>

#include "cosync/impl/context_frame_x86_64_sysv.h"
#elif defined(__aarch64__)
#include "cosync/impl/context_frame_aarch64_aapcs.h"
#elif defined(__riscv)
#include "cosync/impl/context_frame_riscv64_lp64d.h"
#elif defined(__arm__)
#include "cosync/impl/context_frame_arm_aapcs_vfp.h"
#elif defined(__i386__)
#include "cosync/impl/context_frame_i386_sysv.h"
#elif defined(__powerpc64__)
#include "cosync/impl/context_frame_ppc64le_elfv2.h"
#elif defined(__s390x__)
#include "cosync/impl/context_frame_s390x_sysv.h"
#elif defined(__mips__)
#include "cosync/impl/context_frame_mips64_n64.h"
#endif
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "test_util.hpp"

namespace cosync::context {
namespace {

constexpr std::size_t kStackSize = 128 * 1024;

// A plain malloc'd stack: this layer knows nothing of guards or pools.
class RawStack {
 public:
  RawStack() : memory_(kStackSize) {}
  void* top() { return memory_.data() + memory_.size(); }

 private:
  std::vector<unsigned char> memory_;
};

struct PingPong {
  context_t main = nullptr;
  int received = 0;
};

transfer_t echo_entry(transfer_t first) {
  auto* state = static_cast<PingPong*>(first.data);
  transfer_t incoming = first;
  for (;;) {
    state->received += 1;
    incoming = cosync_context_jump(incoming.from, state);
    if (incoming.data == nullptr) {
      return transfer_t{incoming.from, nullptr};
    }
  }
}

TEST(Context, BackendHasAName) { EXPECT_STRNE(backend_name(), ""); }

TEST(Context, JumpPassesDataBothWays) {
  RawStack stack;
  PingPong state;
  context_t coroutine = cosync_context_make(stack.top(), kStackSize, &echo_entry);
  for (int i = 1; i <= 5; ++i) {
    const transfer_t back = cosync_context_jump(coroutine, &state);
    coroutine = back.from;
    EXPECT_EQ(back.data, &state);
    EXPECT_EQ(state.received, i);
  }
  const transfer_t last = cosync_context_jump(coroutine, nullptr);
  EXPECT_EQ(last.data, nullptr);
  EXPECT_EQ(state.received, 5);
}

// Fills every callee-saved register class with values the coroutine side
// clobbers between switches; the optimiser keeps the 16 integer and 16
// double accumulators in registers across the (opaque) jump.
struct Pressure {
  context_t peer = nullptr;
  std::size_t rounds = 0;
};

// Overwrites every callee-saved register of the target ABI, as code on
// another stack may; the switch must restore the resumed side's values.
void clobber_callee_saved() {
#if defined(__x86_64__)
  asm volatile(
      "movq $0x1111, %%rbx\n\tmovq $0x2222, %%r12\n\tmovq $0x3333, %%r13\n\t"
      "movq $0x4444, %%r14\n\tmovq $0x5555, %%r15" ::
          : "rbx", "r12", "r13", "r14", "r15");
#elif defined(__aarch64__)
  asm volatile(
      "mov x19, #0x19\n\tmov x20, #0x20\n\tmov x21, #0x21\n\tmov x22, #0x22\n\t"
      "mov x23, #0x23\n\tmov x24, #0x24\n\tmov x25, #0x25\n\tmov x26, #0x26\n\t"
      "mov x27, #0x27\n\tmov x28, #0x28\n\tfmov d8, xzr\n\tfmov d9, xzr\n\t"
      "fmov d10, xzr\n\tfmov d11, xzr\n\tfmov d12, xzr\n\tfmov d13, xzr\n\t"
      "fmov d14, xzr\n\tfmov d15, xzr" ::
          : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "d8", "d9", "d10",
            "d11", "d12", "d13", "d14", "d15");
#elif defined(__riscv)
  // s0, the frame pointer, is left to the compiler.
  asm volatile(
      "li s1, 0x11\n\tli s2, 0x12\n\tli s3, 0x13\n\tli s4, 0x14\n\tli s5, 0x15\n\t"
      "li s6, 0x16\n\tli s7, 0x17\n\tli s8, 0x18\n\tli s9, 0x19\n\tli s10, 0x1a\n\t"
      "li s11, 0x1b\n\tfmv.d.x fs0, zero\n\tfmv.d.x fs1, zero\n\tfmv.d.x fs2, zero\n\t"
      "fmv.d.x fs3, zero\n\tfmv.d.x fs4, zero\n\tfmv.d.x fs5, zero\n\tfmv.d.x fs6, zero\n\t"
      "fmv.d.x fs7, zero\n\tfmv.d.x fs8, zero\n\tfmv.d.x fs9, zero\n\tfmv.d.x fs10, zero\n\t"
      "fmv.d.x fs11, zero" ::
          : "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "fs0", "fs1", "fs2",
            "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11");
#elif defined(__arm__)
  // r7 and r11, the Thumb and ARM frame pointers, are left to the compiler.
  asm volatile(
      "mov r4, #4\n\tmov r5, #5\n\tmov r6, #6\n\tmov r8, #8\n\tmov r9, #9\n\t"
      "mov r10, #10\n\tvmov d8, r4, r5\n\tvmov d9, r5, r6\n\tvmov d10, r6, r8\n\t"
      "vmov d11, r8, r9\n\tvmov d12, r9, r10\n\tvmov d13, r10, r4\n\tvmov d14, r4, r6\n\t"
      "vmov d15, r5, r8" ::
          : "r4", "r5", "r6", "r8", "r9", "r10", "d8", "d9", "d10", "d11", "d12", "d13", "d14",
            "d15");
#elif defined(__i386__)
  asm volatile("movl $0x1111, %%ebx\n\tmovl $0x2222, %%esi\n\tmovl $0x3333, %%edi" ::
                   : "ebx", "esi", "edi");
#elif defined(__powerpc64__)
  // r30 and r31 (frame pointer candidates) are left to the compiler.
  asm volatile(
      "li 14, 14\n\tli 15, 15\n\tli 16, 16\n\tli 17, 17\n\tli 18, 18\n\tli 19, 19\n\t"
      "li 20, 20\n\tli 21, 21\n\tli 22, 22\n\tli 23, 23\n\tli 24, 24\n\tli 25, 25\n\t"
      "li 26, 26\n\tli 27, 27\n\tli 28, 28\n\tli 29, 29\n\tfsub 14, 14, 14\n\t"
      "fsub 15, 15, 15\n\tfsub 16, 16, 16\n\tfsub 17, 17, 17\n\tfsub 18, 18, 18\n\t"
      "fsub 19, 19, 19\n\tfsub 20, 20, 20\n\tfsub 21, 21, 21\n\tfsub 22, 22, 22\n\t"
      "fsub 23, 23, 23\n\tfsub 24, 24, 24\n\tfsub 25, 25, 25\n\tfsub 26, 26, 26\n\t"
      "fsub 27, 27, 27\n\tfsub 28, 28, 28\n\tfsub 29, 29, 29\n\tfsub 30, 30, 30\n\t"
      "fsub 31, 31, 31" ::
          : "r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25",
            "r26", "r27", "r28", "r29", "fr14", "fr15", "fr16", "fr17", "fr18", "fr19", "fr20",
            "fr21", "fr22", "fr23", "fr24", "fr25", "fr26", "fr27", "fr28", "fr29", "fr30", "fr31");
#elif defined(__s390x__)
  // r11-r13 (frame pointer, GOT and literal pool candidates) are left to
  // the compiler.
  asm volatile(
      "lghi %%r6, 6\n\tlghi %%r7, 7\n\tlghi %%r8, 8\n\tlghi %%r9, 9\n\tlghi %%r10, 10\n\t"
      "lzdr %%f8\n\tlzdr %%f9\n\tlzdr %%f10\n\tlzdr %%f11\n\tlzdr %%f12\n\tlzdr %%f13\n\t"
      "lzdr %%f14\n\tlzdr %%f15" ::
          : "r6", "r7", "r8", "r9", "r10", "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15");
#elif defined(__mips__)
  asm volatile(
      "li $16, 16\n\tli $17, 17\n\tli $18, 18\n\tli $19, 19\n\tli $20, 20\n\t"
      "li $21, 21\n\tli $22, 22\n\tli $23, 23\n\tdmtc1 $0, $f24\n\tdmtc1 $0, $f25\n\t"
      "dmtc1 $0, $f26\n\tdmtc1 $0, $f27\n\tdmtc1 $0, $f28\n\tdmtc1 $0, $f29\n\t"
      "dmtc1 $0, $f30\n\tdmtc1 $0, $f31" ::
          : "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$f24", "$f25", "$f26", "$f27",
            "$f28", "$f29", "$f30", "$f31");
#endif
}

// Leaves through the inline switch (context::jump) on even rounds and
// through cosync_context_jump on odd ones, so each kind of frame is resumed
// by both kinds of switch (they are one and the same where no inline switch
// exists).
transfer_t clobbering_entry(transfer_t first) {
  auto* pressure = static_cast<Pressure*>(first.data);
  transfer_t incoming = first;
  for (std::size_t round = 0;; ++round) {
    clobber_callee_saved();
    incoming = round % 2 == 0 ? jump(incoming.from, pressure)
                              : cosync_context_jump(incoming.from, pressure);
    if (incoming.data == nullptr) {
      return transfer_t{incoming.from, nullptr};
    }
  }
}

// 16 integer and 16 double accumulators live across every switch: with the
// out-of-line jump they sit in callee-saved registers the jump must restore;
// with the inline one the compiler must keep them itself, as its clobber
// list tells it. `step` makes one round trip; it is inlined, so the
// accumulators are live across the switch itself.
template <class Step>
[[gnu::always_inline]] inline void expect_registers_survive(std::size_t rounds, Step step) {
  std::uint64_t i0 = 1, i1 = 2, i2 = 3, i3 = 4, i4 = 5, i5 = 6, i6 = 7, i7 = 8;
  std::uint64_t i8 = 9, i9 = 10, i10 = 11, i11 = 12, i12 = 13, i13 = 14, i14 = 15, i15 = 16;
  double f0 = 0.5, f1 = 1.5, f2 = 2.5, f3 = 3.5, f4 = 4.5, f5 = 5.5, f6 = 6.5, f7 = 7.5;
  double f8 = 8.5, f9 = 9.5, f10 = 10.5, f11 = 11.5, f12 = 12.5, f13 = 13.5, f14 = 14.5, f15 = 15.5;
  for (std::size_t round = 0; round < rounds; ++round) {
    step();
    i0 += 1;
    i1 += 2;
    i2 += 3;
    i3 += 4;
    i4 += 5;
    i5 += 6;
    i6 += 7;
    i7 += 8;
    i8 += 9;
    i9 += 10;
    i10 += 11;
    i11 += 12;
    i12 += 13;
    i13 += 14;
    i14 += 15;
    i15 += 16;
    f0 += 1.0;
    f1 += 2.0;
    f2 += 3.0;
    f3 += 4.0;
    f4 += 5.0;
    f5 += 6.0;
    f6 += 7.0;
    f7 += 8.0;
    f8 += 9.0;
    f9 += 10.0;
    f10 += 11.0;
    f11 += 12.0;
    f12 += 13.0;
    f13 += 14.0;
    f14 += 15.0;
    f15 += 16.0;
  }
  const auto n = static_cast<std::uint64_t>(rounds);
  const std::uint64_t ints[] = {i0, i1, i2,  i3,  i4,  i5,  i6,  i7,
                                i8, i9, i10, i11, i12, i13, i14, i15};
  const double floats[] = {f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15};
  for (std::uint64_t k = 0; k < 16; ++k) {
    EXPECT_EQ(ints[k], k + 1 + n * (k + 1)) << "integer register " << k;
    EXPECT_DOUBLE_EQ(floats[k], 0.5 + static_cast<double>(k) +
                                    static_cast<double>(n) * static_cast<double>(k + 1))
        << "floating-point register " << k;
  }
}

template <bool kInline>
void expect_registers_survive_switches() {
  RawStack stack;
  Pressure pressure;
  context_t peer = cosync_context_make(stack.top(), kStackSize, &clobbering_entry);
  expect_registers_survive(test::scaled(1000000), [&] {
    peer = kInline ? jump(peer, &pressure).from : cosync_context_jump(peer, &pressure).from;
  });
  cosync_context_jump(peer, nullptr);
}

#if COSYNC_INLINE_JUMP_X86_64_SYSV
// The tokens of two contexts that each save their own (jump_saving), as
// coroutine control blocks do.
struct SavedTokens {
  context_t main = nullptr;
  context_t peer = nullptr;
  bool finish = false;
};
constexpr unsigned long kMainSlot = offsetof(SavedTokens, main);
constexpr unsigned long kPeerSlot = offsetof(SavedTokens, peer);

transfer_t saving_entry(transfer_t first) {
  auto* tokens = static_cast<SavedTokens*>(first.data);
  while (!tokens->finish) {
    clobber_callee_saved();
    jump_saving<kPeerSlot>(tokens->main, tokens);
  }
  return transfer_t{tokens->main, nullptr};
}

TEST(Context, SelfSavingJumpPreservesIntegerAndFloatRegistersOverAMillionSwitches) {
  RawStack stack;
  SavedTokens tokens;
  tokens.peer = cosync_context_make(stack.top(), kStackSize, &saving_entry);
  jump_saving<kMainSlot>(tokens.peer, &tokens, &tokens);  // the entry reads the data
  expect_registers_survive(test::scaled(1000000),
                           [&] { jump_saving<kMainSlot>(tokens.peer, &tokens); });
  tokens.finish = true;
  jump_saving<kMainSlot>(tokens.peer, &tokens);
}

// A peer of saving_entry that leaves through cosync_context_jump_return,
// as libcosync-pcl's co_call does, counting its arrivals.
struct ReturningPeer {
  SavedTokens tokens;  // first: the peer's entry reads them as its data
  std::size_t arrivals = 0;
};

void count_arrival(void* peer) noexcept { ++static_cast<ReturningPeer*>(peer)->arrivals; }

// Switches to the peer as its last act; resumed, it continues in its caller.
[[gnu::noinline]] void switch_returning(ReturningPeer& peer) {
  cosync_context_jump_return(peer.tokens.peer, &peer.tokens.main, &peer.tokens, &count_arrival,
                             &peer);
}

TEST(Context, JumpReturnRunsTheArrivalAndResumesTheCallerWithItsRegisters) {
  RawStack stack;
  ReturningPeer peer;
  peer.tokens.peer = cosync_context_make(stack.top(), kStackSize, &saving_entry);
  switch_returning(peer);
  EXPECT_EQ(peer.arrivals, 1U);
  const std::size_t rounds = test::scaled(1000000);
  expect_registers_survive(rounds, [&] { switch_returning(peer); });
  EXPECT_EQ(peer.arrivals, rounds + 1);
  peer.tokens.finish = true;
  switch_returning(peer);  // the peer finishes and resumes the token too
  EXPECT_EQ(peer.arrivals, rounds + 2);
}

// A peer that suspends with a detour, counting how often it was resumed
// through it and how often straight at its resume site.
struct DetouredPeer {
  SavedTokens tokens;  // first: the entry reads them as its data
  int detours = 0;
  int arrivals = 0;
  bool detour_main = false;  // send main's next resume through its detour
};

transfer_t detoured_entry(transfer_t first) {
  auto* peer = static_cast<DetouredPeer*>(first.data);
  while (!peer->tokens.finish) {
    if (peer->detour_main) {
      detour(peer->tokens.main);
    }
    jump_saving_with_detour<kPeerSlot>(peer->tokens.main, &peer->tokens,
                                       [peer] { ++peer->detours; });
    ++peer->arrivals;
  }
  return transfer_t{peer->tokens.main, nullptr};
}

TEST(Context, ADetouredResumeRunsTheDetourOnceThenTheResumeSite) {
  RawStack stack;
  DetouredPeer peer;
  peer.tokens.peer = cosync_context_make(stack.top(), kStackSize, &detoured_entry);
  detour(peer.tokens.peer);  // a fresh context's detour falls into its entry
  jump_saving<kMainSlot>(peer.tokens.peer, &peer.tokens, &peer.tokens);
  EXPECT_EQ(peer.detours, 0);
  jump_saving<kMainSlot>(peer.tokens.peer, &peer.tokens);
  EXPECT_EQ(peer.detours, 0);
  EXPECT_EQ(peer.arrivals, 1);
  detour(peer.tokens.peer);
  jump_saving<kMainSlot>(peer.tokens.peer, &peer.tokens);
  EXPECT_EQ(peer.detours, 1);
  EXPECT_EQ(peer.arrivals, 2);
  jump_saving<kMainSlot>(peer.tokens.peer, &peer.tokens);  // the detour was for one resume
  EXPECT_EQ(peer.detours, 1);
  EXPECT_EQ(peer.arrivals, 3);
  peer.detour_main = true;  // main's resume site has a nop for a detour
  jump_saving<kMainSlot>(peer.tokens.peer, &peer.tokens);
  EXPECT_EQ(peer.arrivals, 4);
  peer.detour_main = false;
  peer.tokens.finish = true;
  jump_saving<kMainSlot>(peer.tokens.peer, &peer.tokens);
  EXPECT_EQ(peer.arrivals, 5);
  EXPECT_EQ(peer.detours, 1);
}
#endif

TEST(Context, PreservesIntegerAndFloatRegistersOverAMillionSwitches) {
  expect_registers_survive_switches<false>();
}

TEST(Context, InlineJumpPreservesIntegerAndFloatRegistersOverAMillionSwitches) {
  expect_registers_survive_switches<true>();
}

struct Formatting {
  char printed[64] = {};
  double scanned = 0.0;
  std::uintptr_t frame_address = 0;
};

// snprintf/sscanf of doubles spill SSE registers to aligned stack slots: a
// misaligned stack traps or corrupts them.
transfer_t formatting_entry(transfer_t first) {
  auto* result = static_cast<Formatting*>(first.data);
  alignas(16) double probe = 0.0;
  result->frame_address = reinterpret_cast<std::uintptr_t>(&probe);
  std::snprintf(result->printed, sizeof result->printed, "%.6f %g", 3.14159265358979, 2.5e-300);
  std::sscanf("6.02214076e23", "%lf", &result->scanned);
  return transfer_t{first.from, nullptr};
}

TEST(Context, FloatingPointFormattingWorksOnACoroutineStack) {
  RawStack stack;
  Formatting result;
  const context_t coroutine = cosync_context_make(stack.top(), kStackSize, &formatting_entry);
  cosync_context_jump(coroutine, &result);
  EXPECT_STREQ(result.printed, "3.141593 2.5e-300");
  EXPECT_DOUBLE_EQ(result.scanned, 6.02214076e23);
  EXPECT_EQ(result.frame_address % 16, 0U);
}

transfer_t rounding_entry(transfer_t first) {
  // Changes the rounding mode on its own stack; the switch must not carry
  // it back to the context that resumed it.
  std::fesetround(FE_UPWARD);
  const transfer_t again = cosync_context_jump(first.from, nullptr);
  *static_cast<int*>(again.data) = std::fegetround();
  return transfer_t{again.from, nullptr};
}

#if defined(__x86_64__)
transfer_t mxcsr_entry(transfer_t first) {
  // Round toward zero, in MXCSR only (glibc's fegetround reads the x87
  // control word, so check SSE state separately).
  _mm_setcsr((_mm_getcsr() & ~0x6000U) | 0x6000U);
  const transfer_t again = cosync_context_jump(first.from, nullptr);
  *static_cast<unsigned*>(again.data) = _mm_getcsr() & 0x6000U;
  return transfer_t{again.from, nullptr};
}

TEST(Context, MxcsrIsPerContext) {
  RawStack stack;
  const unsigned before = _mm_getcsr();
  context_t coroutine = cosync_context_make(stack.top(), kStackSize, &mxcsr_entry);
  coroutine = cosync_context_jump(coroutine, nullptr).from;
  EXPECT_EQ(_mm_getcsr(), before);
  unsigned inside = 0;
  cosync_context_jump(coroutine, &inside);
  EXPECT_EQ(inside, 0x6000U);
  EXPECT_EQ(_mm_getcsr(), before);
}
#endif

TEST(Context, FloatingPointControlStateIsPerContext) {
  RawStack stack;
  std::fesetround(FE_TONEAREST);
  context_t coroutine = cosync_context_make(stack.top(), kStackSize, &rounding_entry);
  coroutine = cosync_context_jump(coroutine, nullptr).from;
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
  int seen_inside = -1;
  cosync_context_jump(coroutine, &seen_inside);
  EXPECT_EQ(seen_inside, FE_UPWARD);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
}

#if defined(__x86_64__)
// The x87 control word's precision and rounding fields; glibc's fesetround
// changes rounding in both units, so the precision field is set by hand.
constexpr std::uint16_t kX87Controls = 0x0f00;
constexpr std::uint16_t kSinglePrecisionRoundUp = 0x0800;  // PC = 00, RC = 10
constexpr std::uint16_t kX87RoundingControl = 0x0c00;

// The x87 control bits a run can observe: valgrind emulates the rounding
// control but not the precision control, which always reads back as
// extended precision under it.
std::uint16_t observable_x87_controls() {
  return RUNNING_ON_VALGRIND ? kX87RoundingControl : kX87Controls;
}

std::uint16_t x87_control_word() {
  std::uint16_t word = 0;
  asm volatile("fnstcw %0" : "=m"(word));
  return word;
}

void set_x87_control_word(std::uint16_t word) { asm volatile("fldcw %0" ::"m"(word)); }

struct ControlWords {
  std::uint16_t x87 = 0;
  unsigned mxcsr = 0;
};

// Sets both control words on its own stack, leaves through the inline
// switch and reports what it finds when resumed.
transfer_t control_words_entry(transfer_t first) {
  set_x87_control_word(
      static_cast<std::uint16_t>((x87_control_word() & ~kX87Controls) | kSinglePrecisionRoundUp));
  _mm_setcsr((_mm_getcsr() & ~0x6000U) | 0x6000U);
  const transfer_t again = jump(first.from, nullptr);
  auto* seen = static_cast<ControlWords*>(again.data);
  seen->x87 = x87_control_word() & observable_x87_controls();
  seen->mxcsr = _mm_getcsr() & 0x6000U;
  return transfer_t{again.from, nullptr};
}

TEST(Context, InlineJumpKeepsX87ControlWordAndMxcsrPerContext) {
  RawStack stack;
  const std::uint16_t x87_before = x87_control_word();
  const unsigned mxcsr_before = _mm_getcsr();
  context_t coroutine = cosync_context_make(stack.top(), kStackSize, &control_words_entry);
  coroutine = jump(coroutine, nullptr).from;
  EXPECT_EQ(x87_control_word(), x87_before);
  EXPECT_EQ(_mm_getcsr(), mxcsr_before);
  ControlWords seen;
  jump(coroutine, &seen);
  EXPECT_EQ(seen.x87, kSinglePrecisionRoundUp & observable_x87_controls());
  EXPECT_EQ(seen.mxcsr, 0x6000U);
  EXPECT_EQ(x87_control_word(), x87_before);
  EXPECT_EQ(_mm_getcsr(), mxcsr_before);
}

// Which control word a context changes before it leaves through the inline
// switch; the switch compares the x87 words to skip loading an equal one,
// so each word must still come back when only it differs.
enum class OnlyChange { mxcsr, x87 };

transfer_t one_control_word_entry(transfer_t first) {
  if (*static_cast<const OnlyChange*>(first.data) == OnlyChange::mxcsr) {
    _mm_setcsr((_mm_getcsr() & ~0x6000U) | 0x6000U);
  } else {
    set_x87_control_word(static_cast<std::uint16_t>((x87_control_word() & ~kX87RoundingControl) |
                                                    kX87RoundingControl));
  }
  const transfer_t again = jump(first.from, nullptr);
  auto* seen = static_cast<ControlWords*>(again.data);
  seen->x87 = x87_control_word() & kX87RoundingControl;
  seen->mxcsr = _mm_getcsr() & 0x6000U;
  return transfer_t{again.from, nullptr};
}

void expect_only_one_word_travels(OnlyChange change) {
  RawStack stack;
  const std::uint16_t x87_before = x87_control_word();
  const unsigned mxcsr_before = _mm_getcsr();
  context_t coroutine = cosync_context_make(stack.top(), kStackSize, &one_control_word_entry);
  coroutine = jump(coroutine, &change).from;
  EXPECT_EQ(x87_control_word(), x87_before);
  EXPECT_EQ(_mm_getcsr(), mxcsr_before);
  ControlWords seen;
  jump(coroutine, &seen);
  const bool mxcsr_changed = change == OnlyChange::mxcsr;
  EXPECT_EQ(seen.mxcsr, mxcsr_changed ? 0x6000U : mxcsr_before & 0x6000U);
  EXPECT_EQ(seen.x87, mxcsr_changed ? x87_before & kX87RoundingControl : kX87RoundingControl);
  EXPECT_EQ(x87_control_word(), x87_before);
  EXPECT_EQ(_mm_getcsr(), mxcsr_before);
}

TEST(Context, InlineJumpRestoresMxcsrWhenTheX87WordsAgree) {
  expect_only_one_word_travels(OnlyChange::mxcsr);
}

TEST(Context, InlineJumpRestoresTheX87WordWhenMxcsrAgrees) {
  expect_only_one_word_travels(OnlyChange::x87);
}
#endif

// Suspends once through the out-of-line switch, then finishes.
transfer_t suspend_once_entry(transfer_t first) {
  const transfer_t again = cosync_context_jump(first.from, nullptr);
  return transfer_t{again.from, nullptr};
}

bool assembly_backend() { return std::strcmp(backend_name(), "ucontext") != 0; }

// Where the switch resumes a context on every architecture but x86_64 (whose
// frame points into the switch itself): the return address into the
// function that called it. Returns `stack_pointer`, the context's own.
[[maybe_unused]] std::uintptr_t expect_resumes_in_the_caller(std::uintptr_t pc,
                                                             std::uintptr_t stack_pointer) {
  const auto code = reinterpret_cast<std::uintptr_t>(&suspend_once_entry);
  EXPECT_GT(pc, code);
  EXPECT_LT(pc, code + 128);
  return stack_pointer;
}

// The frame a suspended context left reads back through the layout header
// that the switch is assembled from and the gdb commands parse: its stack
// pointer lies in its stack and its resume address in the switch (x86_64)
// or in the function that called it (elsewhere, where it is the return
// address the call left).
TEST(Context, SuspendedFrameMatchesTheLayoutHeader) {
  if (!assembly_backend()) {
    GTEST_SKIP() << "the ucontext back end keeps a ucontext_t, not this frame";
  }
  RawStack stack;
  context_t coroutine = cosync_context_make(stack.top(), kStackSize, &suspend_once_entry);
  coroutine = cosync_context_jump(coroutine, nullptr).from;
  [[maybe_unused]] const auto token = reinterpret_cast<std::uintptr_t>(coroutine);
  const auto top = reinterpret_cast<std::uintptr_t>(stack.top());
#if defined(__x86_64__)
  const auto* frame = static_cast<const FrameX86_64Sysv*>(coroutine);
  const auto code = reinterpret_cast<std::uintptr_t>(&cosync_context_jump);
  EXPECT_GT(frame->rip, code);
  EXPECT_LT(frame->rip, code + 128);
  EXPECT_EQ(frame->mxcsr, _mm_getcsr());  // a fresh context takes its creator's
  EXPECT_EQ(frame->x87_control, x87_control_word());
  const std::uintptr_t stack_pointer = token + COSYNC_X86_64_FRAME_SIZE;
#elif defined(__aarch64__)
  const std::uintptr_t stack_pointer = expect_resumes_in_the_caller(
      static_cast<const FrameAarch64Aapcs*>(coroutine)->pc, token + COSYNC_AARCH64_FRAME_SIZE);
#elif defined(__riscv)
  const std::uintptr_t stack_pointer = expect_resumes_in_the_caller(
      static_cast<const FrameRiscv64Lp64d*>(coroutine)->pc, token + COSYNC_RISCV64_FRAME_SIZE);
#elif defined(__arm__)
  const std::uintptr_t stack_pointer = expect_resumes_in_the_caller(
      static_cast<const FrameArmAapcsVfp*>(coroutine)->pc, token + COSYNC_ARM_FRAME_SIZE);
#elif defined(__i386__)
  const std::uintptr_t stack_pointer = expect_resumes_in_the_caller(
      static_cast<const FrameI386Sysv*>(coroutine)->pc, token + COSYNC_I386_FRAME_SIZE);
#elif defined(__powerpc64__)
  const std::uintptr_t stack_pointer = expect_resumes_in_the_caller(
      static_cast<const FramePpc64leElfv2*>(coroutine)->pc, token + COSYNC_PPC64LE_FRAME_SIZE);
#elif defined(__s390x__)
  const std::uintptr_t stack_pointer = expect_resumes_in_the_caller(
      static_cast<const FrameS390xSysv*>(coroutine)->pc, token + COSYNC_S390X_FRAME_SIZE);
#elif defined(__mips__)
  const std::uintptr_t stack_pointer = expect_resumes_in_the_caller(
      static_cast<const FrameMips64N64*>(coroutine)->pc, token + COSYNC_MIPS64_FRAME_SIZE);
#else
  const std::uintptr_t stack_pointer = top - 1;
#endif
  EXPECT_LT(stack_pointer, top);
  EXPECT_GT(stack_pointer, top - kStackSize);
  cosync_context_jump(coroutine, nullptr);
}

}  // namespace
}  // namespace cosync::context
