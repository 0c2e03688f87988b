// Many coroutines at once: the VMA budget, lazy commit, and a million
// coroutines on a stock kernel.
#include <gtest/gtest.h>

#include <vector>

#include "cosync/coroutine.hpp"
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

void expect_vma_budget_respected(GuardPolicy policy) {
  StackConfig config = stack_config();
  config.guard_policy = policy;
  configure_stacks(config);
  trim_stack_pool();
  const std::size_t baseline = test::mapping_count();
  const std::size_t limit = test::max_map_count() / 2;
  {
    std::vector<Task<void>> tasks;
    const std::size_t count = test::scaled(200000);
    for (std::size_t i = 0; i < count; ++i) {
      tasks.push_back(create([] { yield(); }));
      tasks.back().resume();
    }
    EXPECT_LT(test::mapping_count(), limit) << count << " suspended coroutines";
  }
  trim_stack_pool();
  EXPECT_LE(test::mapping_count(), baseline + 2);
}

TEST_F(Stress, TwoHundredThousandSuspendedCoroutinesStayInsideTheVmaBudget) {
  expect_vma_budget_respected(GuardPolicy::automatic);
}

TEST_F(Stress, GuardPagePolicyFallsBackToCanariesInsideTheVmaBudget) {
  expect_vma_budget_respected(GuardPolicy::guard_page);
  EXPECT_GT(stack_stats().canary_fallbacks, 0U);
}

TEST_F(Stress, TenThousandCoroutinesTouchingOnePageStayUnder100MiB) {
  trim_stack_pool();
  const std::size_t before = test::rss_bytes();
  auto tasks = suspended(10000);
  const std::size_t grown = test::rss_bytes() - before;
  EXPECT_LT(grown, std::size_t{100} << 20U) << "RSS grew by " << grown << " bytes";
}

TEST_F(Stress, AMillionCoroutinesWithTheDefaultConfiguration) {
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

}  // namespace
}  // namespace cosync
