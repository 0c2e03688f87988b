// Measuring how deep a coroutine's stack use went (cosync/stack.hpp's
// PeakMethod): the pattern fill for exact figures, and the measurement at
// finish that picks the best method the stack allows.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cosync/stack.hpp"
#include "stack/slab.hpp"
#include "support/sanitizer.hpp"

namespace cosync::stack {

// StackConfig::exact_peak_every, read on every allocation.
inline std::atomic<std::size_t> g_exact_peak_every{0};

// Released stacks counted in the histogram: one in this many per thread
// (StackConfig::peak_sample_every; every one while exact peaks are on; 0:
// none).
inline std::atomic<std::size_t> g_peak_sample_every{StackConfig{}.peak_sample_every};

// Where a thread's count of releases to the next sampled one starts: the
// sample rate, or with a rate of 0 (none sampled) a count after which the
// rate is read again, so a later configure_stacks() reaches every thread.
inline std::size_t peak_countdown_start() noexcept {
  constexpr std::size_t kUnsampledRecheck = 4096;
  const std::size_t every = g_peak_sample_every.load(std::memory_order_relaxed);
  return every == 0 ? kUnsampledRecheck : every;
}

// The word a filled stack holds where nothing wrote since (the low half of
// the 64-bit pattern on 32-bit targets).
inline constexpr std::uintptr_t kPeakPattern = static_cast<std::uintptr_t>(0xc05cfa11c05cfa11ULL);
// The fill starts this far above the base: a canary stack keeps its canary
// at the base, and the first two filled words mark the stack as filled.
inline constexpr std::size_t kPeakFillOffset = 64;

// The readers of a finished or suspended coroutine's stack below its stack
// pointer, which ASan may have poisoned, are not instrumented.
#define COSYNC_READS_DEAD_FRAMES __attribute__((no_sanitize("address")))

// Fills one in g_exact_peak_every stacks handed out by this thread with the
// pattern.
void fill_for_peak_sometimes(const Stack& stack) noexcept;

// Fills one in g_exact_peak_every stacks with the pattern (none when 0):
// a compare with memory when it is 0.
inline void maybe_fill_for_peak(const Stack& stack) noexcept {
  if (g_exact_peak_every.load(std::memory_order_relaxed) != 0) [[unlikely]] {
    fill_for_peak_sometimes(stack);
  }
}

// Bytes from the top of `stack` down to `address`; 0 when it is not in it.
inline std::size_t depth_of(const Stack& stack, const void* address) noexcept {
  const auto* byte = static_cast<const char*>(address);
  const auto* top = static_cast<const char*>(stack.top());
  if (byte < static_cast<const char*>(stack.base) || byte >= top) {
    return 0;
  }
  return static_cast<std::size_t>(top - byte);
}

// The out-of-line halves of measure_peak: a stack no larger than the hot
// area, and one whose coroutine wrote below it.
StackPeak measure_small(const Stack& stack, StackPeak seen, bool finished) noexcept;
StackPeak measure_deep(const Stack& stack, StackPeak seen, bool finished) noexcept;

// The peak use of `stack` (see measure_stack_peak). `finished`: its
// coroutine is done, so a filled stack's marker is cleared for the next.
// Inline up to the probe of the word under the hot area, which most
// coroutines never wrote (see ThreadStacks::has_deep_pages).
COSYNC_READS_DEAD_FRAMES inline StackPeak measure_peak(const Stack& stack, const void* deepest_seen,
                                                       bool finished) noexcept {
  const StackPeak seen{depth_of(stack, deepest_seen), PeakMethod::stack_pointer};
  const std::size_t hot = g_hot_bytes.load(std::memory_order_relaxed);
  if (stack.size <= hot + kPeakFillOffset) [[unlikely]] {
    return measure_small(stack, seen, finished);
  }
  const auto* probe =
      reinterpret_cast<const std::uintptr_t*>(static_cast<const char*>(stack.top()) - hot) - 1;
  support::valgrind_make_defined(probe, sizeof *probe);  // below a suspended coroutine's sp
  if (*probe == 0) [[likely]] {
    return seen;
  }
  return measure_deep(stack, seen, finished);
}

}  // namespace cosync::stack
