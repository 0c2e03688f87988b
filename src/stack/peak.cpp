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

bool filled(const Stack& stack) noexcept {
  const Word* marker = fill_marker(stack);
  support::valgrind_make_defined(marker, 2 * sizeof(Word));
  return marker[0] == kPeakPattern && marker[1] == kPeakPattern;
}

std::size_t depth_of(const Stack& stack, const void* address) noexcept {
  if (address == nullptr || !stack.contains(address)) {
    return 0;
  }
  return static_cast<std::size_t>(static_cast<const char*>(stack.top()) -
                                  static_cast<const char*>(address));
}

// The deepest word that no longer holds the pattern. The two marker words
// hold it (checked by the caller), so the scan starts above them.
StackPeak scan_pattern(const Stack& stack, bool finished) noexcept {
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

void maybe_fill_for_peak(const Stack& stack) noexcept {
  const std::size_t every = g_exact_peak_every.load(std::memory_order_relaxed);
  if (every == 0 || ++t_since_fill < every) {
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

// Reads a finished or suspended coroutine's stack below its stack pointer,
// which ASan may have poisoned.
__attribute__((no_sanitize("address"))) StackPeak measure_peak(const Stack& stack,
                                                               const void* deepest_seen,
                                                               bool finished) noexcept {
  const StackPeak seen{depth_of(stack, deepest_seen), PeakMethod::suspensions};
  const std::size_t hot = g_hot_bytes.load(std::memory_order_relaxed);
  if (stack.size <= hot + kPeakFillOffset) {
    return filled(stack) ? scan_pattern(stack, finished) : seen;
  }
  const char* hot_bottom = static_cast<const char*>(stack.top()) - hot;
  const Word* probe = reinterpret_cast<const Word*>(hot_bottom) - 1;
  support::valgrind_make_defined(probe, sizeof(Word));
  if (*probe == 0) {
    return seen;  // never wrote below the hot area (see has_deep_pages)
  }
  // The fill marker lies in the base page, which only a canary keeps in
  // memory: reading it elsewhere would map that page, so it is read when
  // the page is in memory anyway.
  const char* lowest = lowest_resident_page(stack, hot_bottom);
  const bool base_in_memory = stack.guard == StackGuard::canary || lowest == stack.base;
  if (base_in_memory && filled(stack)) {
    return scan_pattern(stack, finished);
  }
  const std::size_t pages = depth_of(stack, lowest);
  return StackPeak{pages > seen.bytes ? pages : seen.bytes, PeakMethod::pages};
}

}  // namespace cosync::stack
