// Many coroutines at once: the VMA budget, lazy commit, and a million
// coroutines on a stock kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "cosync/coroutine.hpp"
#include "cosync/request.hpp"
#include "cosync/stack.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

class Stress : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = stack_config(); }
  void TearDown() override {
    configure_stacks(saved_);
    trim_stack_pool();
  }

  // Creates `count` coroutines and leaves each suspended after it wrote a
  // small local buffer, as an idle connection would.
  static std::vector<Task<void>> suspended(std::size_t count) {
    std::vector<Task<void>> tasks;
    tasks.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      tasks.push_back(create([] {
        volatile char buffer[256];
        for (std::size_t b = 0; b < sizeof buffer; ++b) {
          buffer[b] = 1;
        }
        yield();
      }));
      tasks.back().resume();
    }
    return tasks;
  }

 private:
  StackConfig saved_;
};

// Holds `count` suspended coroutines at once, then ends them all; returns
// the number of mappings afterwards.
std::size_t suspend_many_and_end(std::size_t count) {
  const std::size_t limit = test::max_map_count() / 2;
  {
    std::vector<Task<void>> tasks;
    for (std::size_t i = 0; i < count; ++i) {
      tasks.push_back(create([] { yield(); }));
      tasks.back().resume();
    }
    EXPECT_LT(test::mapping_count(), limit) << count << " suspended coroutines";
  }
  trim_stack_pool();
  return test::mapping_count();
}

// The first round settles the allocator's own mappings (the vector, and
// ASan's regions in sanitizer builds); a second round must end where the
// first one did.
void expect_vma_budget_respected(GuardPolicy policy) {
  StackConfig config = stack_config();
  config.guard_policy = policy;
  configure_stacks(config);
  trim_stack_pool();
  const std::size_t count = test::scaled(200000);
  const std::size_t baseline = suspend_many_and_end(count);
  EXPECT_LE(suspend_many_and_end(count), baseline + 2);
}

// ASan gives every coroutine a fake stack of its own (megabytes of address
// space, partly touched), so memory figures say nothing about cosync there.
bool memory_is_instrumented() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#else
  return false;
#endif
}

TEST_F(Stress, TwoHundredThousandSuspendedCoroutinesStayInsideTheVmaBudget) {
  expect_vma_budget_respected(GuardPolicy::automatic);
}

TEST_F(Stress, GuardPagePolicyFallsBackToCanariesInsideTheVmaBudget) {
  expect_vma_budget_respected(GuardPolicy::guard_page);
  EXPECT_GT(stack_stats().canary_fallbacks, 0U);
}

TEST_F(Stress, TenThousandCoroutinesTouchingOnePageStayUnder100MiB) {
  if (memory_is_instrumented()) {
    GTEST_SKIP() << "RSS is dominated by ASan's per-coroutine fake stacks";
  }
  trim_stack_pool();
  const std::size_t before = test::resident_bytes();
  auto tasks = suspended(10000);
  const std::size_t grown = test::resident_bytes() - before;
  EXPECT_LT(grown, std::size_t{100} << 20U) << "RSS grew by " << grown << " bytes";
}

// Stacks come from slabs, their guards installed in batches.
TEST_F(Stress, TwentyThousandCoroutinesCostAtMostOneTenthOfAStackSystemCallEach) {
  if (!stack_stats().guard_batches_supported) {
    GTEST_SKIP() << "no MADV_GUARD_INSTALL through process_madvise here (Linux 6.13+, and "
                    "not valgrind): guards cost one madvise or mprotect per stack";
  }
  trim_stack_pool();
  const std::size_t count = 20000;
  const std::size_t before = stack_stats().system_calls;
  {
    auto tasks = suspended(count);
    const std::size_t created = stack_stats().system_calls - before;
    EXPECT_LE(created, count / 10) << created << " system calls for " << count << " coroutines";
  }
  trim_stack_pool();
  const std::size_t total = stack_stats().system_calls - before;
  EXPECT_LE(total, count / 10) << total << " system calls to create, end and trim " << count;
}

TEST_F(Stress, AMillionCoroutinesWithTheDefaultConfiguration) {
  if (memory_is_instrumented()) {
    GTEST_SKIP() << "ASan's per-coroutine fake stacks do not fit a million times";
  }
  const std::size_t count = test::scaled(1000000);
  std::size_t finished = 0;
  {
    std::vector<Task<void>> tasks;
    tasks.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      tasks.push_back(create([&finished] {
        yield();
        ++finished;
      }));
      tasks.back().resume();
    }
    EXPECT_EQ(coroutine_stats().live, count);
    for (auto& task : tasks) {
      task.join();
    }
  }
  EXPECT_EQ(finished, count);
  EXPECT_EQ(coroutine_stats().live, 0U);
}

// A server: 100,000 coroutines each sleeping a random 0-50 ms, in
// two waves (the second finds the first one's stacks in the pool). Returns
// the lateness of each, sorted.
std::vector<Clock::duration> sleep_a_wave(std::size_t count) {
  std::mt19937 random(15);
  std::uniform_int_distribution<int> delay_ms(0, 50);
  std::vector<Clock::duration> lateness;
  lateness.reserve(count);
  std::vector<Request<void>> sleepers;
  sleepers.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::chrono::milliseconds delay(delay_ms(random));
    sleepers.push_back(spawn([delay, &lateness] {
      const Deadline deadline = deadline_after(delay);
      sleep_for(delay);
      lateness.push_back(Clock::now() - deadline);
    }));
  }
  this_loop().run_until([&] { return lateness.size() == count; });
  std::sort(lateness.begin(), lateness.end());
  return lateness;
}

// Opt-in (--gtest_also_run_disabled_tests): it prints how late they woke,
// a figure that depends on the machine, so only the wake-ups are asserted.
TEST_F(Stress, DISABLED_HundredThousandSleepersReportTheirLateness) {
  const std::size_t count = test::scaled(100000);
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  for (int wave = 1; wave <= 2; ++wave) {
    const std::size_t calls_before = stack_stats().system_calls;
    const std::vector<Clock::duration> lateness = sleep_a_wave(count);
    ASSERT_EQ(lateness.size(), count);
    EXPECT_GE(lateness.front(), Clock::duration::zero()) << "none woke before its deadline";
    std::printf(
        "wave %d of %zu sleepers: lateness max %.1f ms, p99 %.1f ms, p50 %.1f ms; "
        "%zu stack calls\n",
        wave, count, ms(lateness.back()), ms(lateness[count * 99 / 100]), ms(lateness[count / 2]),
        stack_stats().system_calls - calls_before);
  }
}

}  // namespace
}  // namespace cosync
