// Measuring how deep a coroutine's stack use went (cosync/stack.hpp's
// PeakMethod): the pattern fill for exact figures, and the measurement at
// finish that picks the best method the stack allows.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cosync/stack.hpp"

namespace cosync::stack {

// StackConfig::exact_peak_every, read on every allocation.
inline std::atomic<std::size_t> g_exact_peak_every{0};

// The word a filled stack holds where nothing wrote since.
inline constexpr std::uintptr_t kPeakPattern = 0xc05cfa11c05cfa11U;
// The fill starts this far above the base: a canary stack keeps its canary
// at the base, and the first two filled words mark the stack as filled.
inline constexpr std::size_t kPeakFillOffset = 64;

// Fills one in g_exact_peak_every stacks handed out by this thread with the
// pattern.
void maybe_fill_for_peak(const Stack& stack) noexcept;

// The peak use of `stack` (see measure_stack_peak). `finished`: its
// coroutine is done, so a filled stack's marker is cleared for the next.
StackPeak measure_peak(const Stack& stack, const void* deepest_seen, bool finished) noexcept;

}  // namespace cosync::stack
