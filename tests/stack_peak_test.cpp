// Stack high-water marks: each coroutine's peak (Coroutine::stack_peak), the
// histogram stack_stats() keeps of a sample of finished ones, and the advice
// drawn from it.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <thread>

#include "cosync/coroutine.hpp"
#include "cosync/stack.hpp"

namespace cosync {
namespace {

constexpr std::size_t kKiB = 1024;

// ASan pads frames with redzones and may move them to its fake stack on
// the heap (detect_stack_use_after_return), so a frame's size on the
// coroutine's stack is not what the tests below assume. They still run the
// measurement there, and check the figures elsewhere.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kFramesMoved = true;
#else
constexpr bool kFramesMoved = false;
#endif
#define SKIP_WHERE_FRAMES_MOVED()                                                        \
  if (kFramesMoved) {                                                                    \
    GTEST_SKIP() << "ASan's frames are padded or on its fake stack: depths differ here"; \
  }

// Uses about `kib` KiB of stack, one KiB-sized frame per level, writing all
// of each, and yields at the bottom when asked.
__attribute__((noinline)) void descend(int kib, bool yield_at_bottom) {
  char frame[kKiB];
  std::memset(frame, 1, sizeof frame);
  asm volatile("" : : "r"(frame) : "memory");  // the frame is written, not optimised away
  if (kib > 1) {
    descend(kib - 1, yield_at_bottom);
  } else if (yield_at_bottom) {
    yield();
  }
  asm volatile("" ::: "memory");  // keeps the recursion a real call
}

class StackPeakTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = stack_config(); }
  // Counts one in `every` stacks this thread releases from now on.
  static void sample_every(std::size_t every) {
    StackConfig config = stack_config();
    config.peak_sample_every = every;
    configure_stacks(config);
  }
  // Every stack this thread takes from now on is filled with the pattern,
  // so its peak is exact.
  static void fill_every_stack() {
    StackConfig config = stack_config();
    config.exact_peak_every = 1;
    configure_stacks(config);
  }
  // The peak a coroutine reads of its own stack after a call `kib` KiB deep
  // has returned.
  static StackPeak own_peak_after_descending(int kib) {
    return create([kib] {
             descend(kib, false);
             return current().stack_peak();
           })
        .join();
  }
  void TearDown() override {
    configure_stacks(saved_);
    trim_stack_pool();
  }

 private:
  StackConfig saved_;
};

TEST_F(StackPeakTest, AShallowSuspensionIsSeenAsALowerBound) {
  trim_stack_pool();  // a fresh stack: nothing below the hot area
  Task<void> task = create([] { descend(4, true); });
  task.resume();
  const StackPeak peak = task.coroutine().stack_peak();
  task.resume();
  task.join();
  EXPECT_EQ(peak.method, PeakMethod::stack_pointer);
  EXPECT_LT(peak.bytes, stack_config().hot_bytes);
  SKIP_WHERE_FRAMES_MOVED();
  EXPECT_GE(peak.bytes, 4 * kKiB);
}

TEST_F(StackPeakTest, ADeepCallBetweenSuspensionsIsSeenByItsPages) {
  trim_stack_pool();
  Task<void> task = create([] {
    descend(40, false);  // returns before the coroutine suspends
    yield();
  });
  task.resume();
  const StackPeak peak = task.coroutine().stack_peak();
  task.resume();
  task.join();
  SKIP_WHERE_FRAMES_MOVED();
  EXPECT_EQ(peak.method, PeakMethod::pages);
  EXPECT_GE(peak.bytes, 40 * kKiB);
  EXPECT_LE(peak.bytes, 52 * kKiB) << "page granularity, and a few frames above the 40";
}

TEST_F(StackPeakTest, AFilledStackGivesTheExactPeak) {
  fill_every_stack();
  const StackPeak peak = own_peak_after_descending(6);
  EXPECT_EQ(peak.method, PeakMethod::pattern);
  SKIP_WHERE_FRAMES_MOVED();
  EXPECT_GE(peak.bytes, 6 * kKiB);
  EXPECT_LE(peak.bytes, 8 * kKiB) << "exact to the word: six frames and the block above them";
}

TEST_F(StackPeakTest, AFilledStackGivesTheExactPeakBelowTheHotArea) {
  fill_every_stack();
  const StackPeak peak = own_peak_after_descending(40);
  EXPECT_EQ(peak.method, PeakMethod::pattern);
  SKIP_WHERE_FRAMES_MOVED();
  EXPECT_GE(peak.bytes, 40 * kKiB);
  EXPECT_LE(peak.bytes, 44 * kKiB) << "exact to the word, not rounded to pages";
}

TEST_F(StackPeakTest, FinishedCoroutinesFillTheHistogramProcessWide) {
  fill_every_stack();
  const StackStats before = stack_stats();
  // On another thread, which exits before the figures are read: its
  // coroutines still count.
  std::thread([] {
    for (int i = 0; i < 3; ++i) {
      create([] { descend(20, false); }).join();
    }
    trim_stack_pool();
  }).join();
  const StackStats after = stack_stats();
  EXPECT_EQ(after.peaks, before.peaks + 3);
  EXPECT_EQ(after.peaks_exact, before.peaks_exact + 3);
  SKIP_WHERE_FRAMES_MOVED();
  EXPECT_EQ(after.peak_histogram[5], before.peak_histogram[5] + 3) << "(16, 32] KiB";
  EXPECT_GE(after.peak_max, 20 * kKiB);
  EXPECT_GE(recommended_stack_size(after), 64 * kKiB);
}

TEST_F(StackPeakTest, AdviceIsTheNextPowerOfTwoAtLeastTwiceThePeak) {
  StackStats stats;
  EXPECT_EQ(recommended_stack_size(stats), 0U);
  EXPECT_EQ(stack_advice(stats), "no coroutine in the peak sample yet: no stack size to advise");
  stats.peaks = 10000;
  stats.peak_max = 23 * kKiB;
  stats.peak_bound = 23 * kKiB;
  EXPECT_EQ(recommended_stack_size(stats), 64 * kKiB);
  EXPECT_EQ(stack_advice(stats),
            "peak 23 KiB across 10000 sampled coroutines: a 64 KiB stack would do "
            "(the default is 256 KiB)");
  stats.peak_max = 2 * kKiB;
  stats.peak_bound = 4 * kKiB;
  EXPECT_EQ(recommended_stack_size(stats), min_stack_size) << "never below the minimum";
  EXPECT_EQ(stack_advice(stats),
            "peak under 4 KiB (2 KiB measured) across 10000 sampled coroutines: "
            "a 16 KiB stack would do (the default is 256 KiB)");
  stats.peaks = 1;
  stats.peak_max = 0;
  stats.peak_bound = 16 * kKiB;
  EXPECT_EQ(stack_advice(stats),
            "peak under 16 KiB across 1 sampled coroutine: a 32 KiB stack would do "
            "(the default is 256 KiB)");
}

TEST_F(StackPeakTest, AShallowFinishIsBoundedByTheHotArea) {
  sample_every(1);
  const StackStats before = stack_stats();
  Task<void> task = create([] {
    yield();
    descend(2, false);
  });
  task.resume();
  task.resume();
  task.join();
  const StackStats after = stack_stats();
  EXPECT_EQ(after.peaks, before.peaks + 1);
  EXPECT_EQ(after.peaks_within_hot, before.peaks_within_hot + 1);
  EXPECT_EQ(after.peak_histogram[4], before.peak_histogram[4] + 1)
      << "counted at the hot area's 16 KiB, in (8, 16] KiB";
  EXPECT_GE(after.peak_bound, stack_config().hot_bytes)
      << "a peak seen only by its stack pointer is sized for the hot area it stayed in";
}

TEST_F(StackPeakTest, ADeepFinishIsCountedByItsPages) {
  sample_every(1);
  trim_stack_pool();  // a fresh stack: no page below the hot area from earlier coroutines
  const StackStats before = stack_stats();
  create([] { descend(40, false); }).join();
  const StackStats after = stack_stats();
  EXPECT_EQ(after.peaks, before.peaks + 1);
  SKIP_WHERE_FRAMES_MOVED();  // on ASan's fake stack the frames never reach the deep pages
  EXPECT_EQ(after.peaks_within_hot, before.peaks_within_hot) << "measured by its pages";
  EXPECT_EQ(after.peak_histogram[6], before.peak_histogram[6] + 1) << "(32, 64] KiB";
  EXPECT_GE(after.peak_max, 40 * kKiB);
}

TEST_F(StackPeakTest, TheHistogramCountsOneInPeakSampleEveryReleases) {
  sample_every(4);  // restarts this thread's count: the 4th and 8th are counted
  const StackStats before = stack_stats();
  for (int i = 0; i < 9; ++i) {
    create([] {}).join();
  }
  const StackStats middle = stack_stats();
  EXPECT_EQ(middle.peaks, before.peaks + 2);
  sample_every(0);
  for (int i = 0; i < 9; ++i) {
    create([] {}).join();
  }
  EXPECT_EQ(stack_stats().peaks, middle.peaks) << "0 counts none";
}

TEST_F(StackPeakTest, AStackTheProgramReleasesIsSampledToo) {
  sample_every(1);
  const StackStats before = stack_stats();
  Stack stack = allocate_stack(0);
  release_stack(stack);
  const StackStats after = stack_stats();
  EXPECT_EQ(after.peaks, before.peaks + 1);
  EXPECT_EQ(after.peaks_within_hot, before.peaks_within_hot + 1) << "nothing ran on it";
}

TEST_F(StackPeakTest, ExactPeaksCountEveryReleaseWhateverTheSampleRate) {
  StackConfig config = stack_config();
  config.exact_peak_every = 2;
  config.peak_sample_every = 1000;
  configure_stacks(config);
  const StackStats before = stack_stats();
  for (int i = 0; i < 4; ++i) {
    create([] {}).join();
  }
  const StackStats after = stack_stats();
  EXPECT_EQ(after.peaks, before.peaks + 4);
  EXPECT_EQ(after.peaks_exact, before.peaks_exact + 2) << "one in two stacks filled";
}

TEST_F(StackPeakTest, TheMainContextHasNoPeak) { EXPECT_EQ(main_context().stack_peak().bytes, 0U); }

}  // namespace
}  // namespace cosync
