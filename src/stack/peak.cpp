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

Word* fill_marker(const Stack& stack) noexcept {
  return reinterpret_cast<Word*>(static_cast<char*>(stack.base) + kPeakFillOffset);
}

COSYNC_READS_DEAD_FRAMES bool filled(const Stack& stack) noexcept {
  const Word* marker = fill_marker(stack);
  support::valgrind_make_defined(marker, 2 * sizeof(Word));
  return marker[0] == kPeakPattern && marker[1] == kPeakPattern;
}

// Where the pattern starts: the hot area of a large stack, which is
// committed anyway; below it a large stack is decommitted at the fill, so
// it reads zero where nothing wrote, and only the pages a coroutine
// touches cost memory. A stack with less than two pages below its hot
// area is filled whole.
char* pattern_bottom(const Stack& stack) noexcept {
  const std::size_t hot = g_hot_bytes.load(std::memory_order_relaxed);
  if (stack.size < hot + 2 * os::page_size()) {
    return reinterpret_cast<char*>(fill_marker(stack) + 2);
  }
  return static_cast<char*>(stack.top()) - hot;
}

void fill_words(Word* word, const Word* end) noexcept {
  support::valgrind_make_defined(word, static_cast<std::size_t>(end - word) * sizeof(Word));
  while (word < end) {
    *word++ = kPeakPattern;
  }
}

// The first word of [word, end) that is neither zero nor the pattern,
// reading only pages in memory (one mincore call per stretch searched);
// null when none is.
COSYNC_READS_DEAD_FRAMES const Word* first_written_in_zeroed(const Word* word,
                                                             const Word* end) noexcept {
  const std::size_t page = os::page_size();
  while (word < end) {
    const char* start =
        reinterpret_cast<const char*>(word) - (reinterpret_cast<std::uintptr_t>(word) & (page - 1));
    const auto* resident = static_cast<const char*>(os::lowest_resident(
        start, static_cast<std::size_t>(reinterpret_cast<const char*>(end) - start)));
    if (resident == nullptr) {
      return nullptr;
    }
    const auto* from = reinterpret_cast<const Word*>(resident);
    word = from > word ? from : word;
    const auto* page_end = reinterpret_cast<const Word*>(resident + page);
    const Word* stop = page_end < end ? page_end : end;
    support::valgrind_make_defined(word, static_cast<std::size_t>(stop - word) * sizeof(Word));
    for (; word < stop; ++word) {
      if (*word != 0 && *word != kPeakPattern) {
        return word;
      }
    }
  }
  return nullptr;
}

// The deepest word written since the fill: below the pattern, a word
// neither zero nor the pattern (the probe word holds it); in the pattern,
// any other word.
COSYNC_READS_DEAD_FRAMES StackPeak scan_filled(const Stack& stack, bool finished) noexcept {
  Word* marker = fill_marker(stack);
  const auto* bottom = reinterpret_cast<const Word*>(pattern_bottom(stack));
  const Word* word = first_written_in_zeroed(marker + 2, bottom);
  if (word == nullptr) {
    const auto* end = static_cast<const Word*>(stack.top());
    word = bottom;
    support::valgrind_make_defined(word, static_cast<std::size_t>(end - word) * sizeof(Word));
    while (word < end && *word == kPeakPattern) {
      ++word;
    }
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

// The probe word under the hot area gets the pattern too, so the release
// path sees the stack as deep and measures it (and gives its pages back).
void fill_for_peak_sometimes(const Stack& stack) noexcept {
  if (++t_since_fill < g_exact_peak_every.load(std::memory_order_relaxed)) {
    return;
  }
  t_since_fill = 0;
  Word* marker = fill_marker(stack);
  marker[0] = kPeakPattern;
  marker[1] = kPeakPattern;
  auto* bottom = reinterpret_cast<Word*>(pattern_bottom(stack));
  if (bottom != marker + 2) {
    char* zeroed = static_cast<char*>(stack.base) + os::page_size();
    os::decommit(zeroed, static_cast<std::size_t>(reinterpret_cast<char*>(bottom) - zeroed));
    bottom[-1] = kPeakPattern;
  }
  fill_words(bottom, static_cast<Word*>(stack.top()));
}

StackPeak measure_small(const Stack& stack, StackPeak seen, bool finished) noexcept {
  return filled(stack) ? scan_filled(stack, finished) : seen;
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
    return scan_filled(stack, finished);
  }
  const std::size_t pages = depth_of(stack, lowest);
  return StackPeak{pages > seen.bytes ? pages : seen.bytes, PeakMethod::pages};
}

}  // namespace cosync::stack
