#include "stack/peak.hpp"

#include <cstring>

#include "stack/os.hpp"
#include "stack/slab.hpp"
#include "support/sanitizer.hpp"

namespace cosync::stack {
namespace {

// Stacks this thread handed out since it last filled one.
thread_local std::size_t t_since_fill __attribute__((tls_model("initial-exec"))) = 0;

using Word = std::uintptr_t;

const Word* fill_marker(const Stack& stack) noexcept {
  return reinterpret_cast<const Word*>(static_cast<const char*>(stack.base) + kPeakFillOffset);
}

COSYNC_READS_DEAD_FRAMES bool filled(const Stack& stack) noexcept {
  const Word* marker = fill_marker(stack);
  support::valgrind_make_defined(marker, 2 * sizeof(Word));
  return marker[0] == kPeakPattern && marker[1] == kPeakPattern;
}

// The deepest word that no longer holds the pattern. The two marker words
// hold it (checked by the caller), so the scan starts above them.
COSYNC_READS_DEAD_FRAMES StackPeak scan_pattern(const Stack& stack, bool finished) noexcept {
  auto* marker =
      const_cast<Word*>(fill_marker(stack));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  const Word* word = marker + 2;
  const auto* end = static_cast<const Word*>(stack.top());
  support::valgrind_make_defined(word, static_cast<std::size_t>(end - word) * sizeof(Word));
  while (word < end && *word == kPeakPattern) {
    ++word;
  }
  if (finished) {
    marker[0] = 0;  // the next coroutine on this stack is measured afresh
  }
  return StackPeak{depth_of(stack, word), PeakMethod::pattern};
}

// The lowest page below the hot area that is in memory: below it, a pooled
// stack was decommitted when its last coroutine went that deep, and a fresh
// one was never touched. Null when none is.
const char* lowest_resident_page(const Stack& stack, const char* hot_bottom) noexcept {
  const char* low = static_cast<const char*>(stack.base);
  if (stack.guard == StackGuard::canary) {
    low += os::page_size();  // the canary's page stays in memory
  }
  if (low >= hot_bottom) {
    return nullptr;
  }
  return static_cast<const char*>(
      os::lowest_resident(low, static_cast<std::size_t>(hot_bottom - low)));
}

}  // namespace

void fill_for_peak_sometimes(const Stack& stack, std::size_t every) noexcept {
  if (++t_since_fill < every) {
    return;
  }
  t_since_fill = 0;
  auto* word =
      const_cast<Word*>(fill_marker(stack));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  auto* end = static_cast<Word*>(stack.top());
  support::valgrind_make_defined(word, static_cast<std::size_t>(end - word) * sizeof(Word));
  while (word < end) {
    *word++ = kPeakPattern;
  }
}

StackPeak measure_small(const Stack& stack, StackPeak seen, bool finished) noexcept {
  return filled(stack) ? scan_pattern(stack, finished) : seen;
}

// The fill marker lies in the base page, which only a canary keeps in
// memory: reading it elsewhere would map that page, so it is read when the
// page is in memory anyway.
StackPeak measure_deep(const Stack& stack, StackPeak seen, bool finished) noexcept {
  const char* hot_bottom =
      static_cast<const char*>(stack.top()) - g_hot_bytes.load(std::memory_order_relaxed);
  const char* lowest = lowest_resident_page(stack, hot_bottom);
  const bool base_in_memory = stack.guard == StackGuard::canary || lowest == stack.base;
  if (base_in_memory && filled(stack)) {
    return scan_pattern(stack, finished);
  }
  const std::size_t pages = depth_of(stack, lowest);
  return StackPeak{pages > seen.bytes ? pages : seen.bytes, PeakMethod::pages};
}

}  // namespace cosync::stack
