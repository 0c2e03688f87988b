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

// The frame a suspended context left reads back through the layout header
// that the switch is assembled from and the gdb commands parse: its stack
// pointer lies in its stack and its resume address in the switch (x86_64)
// or in the function that called it (aarch64, where it is the link
// register).
TEST(Context, SuspendedFrameMatchesTheLayoutHeader) {
  if (!assembly_backend()) {
    GTEST_SKIP() << "the ucontext back end keeps a ucontext_t, not this frame";
  }
  RawStack stack;
  context_t coroutine = cosync_context_make(stack.top(), kStackSize, &suspend_once_entry);
  coroutine = cosync_context_jump(coroutine, nullptr).from;
  const auto token = reinterpret_cast<std::uintptr_t>(coroutine);
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
  const auto* frame = static_cast<const FrameAarch64Aapcs*>(coroutine);
  const auto code = reinterpret_cast<std::uintptr_t>(&suspend_once_entry);
  EXPECT_GT(frame->pc, code);
  EXPECT_LT(frame->pc, code + 128);
  const std::uintptr_t stack_pointer = token + COSYNC_AARCH64_FRAME_SIZE;
#else
  const std::uintptr_t stack_pointer = top - 1;
#endif
  EXPECT_LT(stack_pointer, top);
  EXPECT_GT(stack_pointer, top - kStackSize);
  cosync_context_jump(coroutine, nullptr);
}

}  // namespace
}  // namespace cosync::context
