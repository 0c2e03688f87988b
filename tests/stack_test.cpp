// The stack layer: sizes, pooling, lazy commit, giving pages back, guards
// and the VMA budget.
#include "cosync/stack.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace cosync {
namespace {

const std::size_t kPage = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));

// Restores the process-wide stack settings a test changed.
class StackTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = stack_config(); }
  void TearDown() override {
    configure_stacks(saved_);
    trim_stack_pool();
  }

 private:
  StackConfig saved_;
};

// Touches a stack's top page, as a coroutine's first frame does.
void touch_top(const Stack& stack) { static_cast<volatile char*>(stack.top())[-64] = 1; }

// Fills every slot with a fresh stack, touched as a coroutine would.
void allocate_and_touch(std::vector<Stack>& stacks) {
  for (Stack& stack : stacks) {
    stack = allocate_stack();
    touch_top(stack);
  }
}

void release_all(std::vector<Stack>& stacks) {
  for (Stack& stack : stacks) {
    release_stack(stack);
  }
}

// Whether the kernel will let us touch `address`: mincore reports residency
// of mapped pages and fails with ENOMEM for unmapped ones.
bool page_resident(const void* address) {
  unsigned char resident = 0;
  auto* page = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(address) & ~(kPage - 1));
  return mincore(page, kPage, &resident) == 0 && (resident & 1U) != 0;
}

TEST_F(StackTest, DefaultSizeIs256KiB) {
  Stack stack = allocate_stack();
  EXPECT_EQ(stack.size, default_stack_size);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(stack.top()) % 16, 0U);
  release_stack(stack);
  EXPECT_EQ(stack.base, nullptr);
}

TEST_F(StackTest, SizesAreRoundedUpToPages) {
  Stack stack = allocate_stack(min_stack_size + 1);
  EXPECT_EQ(stack.size, min_stack_size + kPage);
  release_stack(stack);
}

TEST_F(StackTest, TooSmallSizeIsAClearError) {
  try {
    (void)allocate_stack(1024);
    FAIL() << "a 1024-byte stack was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("1024 bytes is below the minimum"), std::string::npos)
        << error.what();
  }
}

TEST_F(StackTest, AbsurdSizeIsAClearError) {
  EXPECT_THROW((void)allocate_stack(max_stack_size + 1), std::invalid_argument);
  EXPECT_THROW((void)allocate_stack(~std::size_t{0}), std::invalid_argument);
}

TEST_F(StackTest, PoolReusesStacksWithoutNewMappings) {
  trim_stack_pool();
  Stack first = allocate_stack();
  void* base = first.base;
  release_stack(first);
  const StackStats before = stack_stats();
  Stack second = allocate_stack();
  const StackStats after = stack_stats();
  EXPECT_EQ(second.base, base);
  EXPECT_EQ(after.mapped, before.mapped);
  EXPECT_EQ(after.reused, before.reused + 1);
  release_stack(second);
}

// The pool finds the bucket of the size used last without a search: sizes
// taken in turn must each still get their own pooled stack back, with the
// live and pooled counts right on both the fast and the slow path.
TEST_F(StackTest, SizesTakenInTurnEachReuseTheirOwnPooledStack) {
  trim_stack_pool();
  const std::size_t small = min_stack_size;
  Stack a = allocate_stack();
  Stack b = allocate_stack(small);
  void* base_a = a.base;
  void* base_b = b.base;
  release_stack(a);
  release_stack(b);
  EXPECT_EQ(stack_stats().pooled, 2U);
  for (int round = 0; round < 3; ++round) {
    const StackStats before = stack_stats();
    Stack again_b = allocate_stack(small);
    Stack again_a = allocate_stack();
    EXPECT_EQ(again_a.base, base_a);
    EXPECT_EQ(again_a.size, default_stack_size);
    EXPECT_EQ(again_b.base, base_b);
    EXPECT_EQ(again_b.size, small);
    const StackStats during = stack_stats();
    EXPECT_EQ(during.mapped, before.mapped);
    EXPECT_EQ(during.reused, before.reused + 2);
    EXPECT_EQ(during.pooled, 0U);
    EXPECT_EQ(during.live_guard_region + during.live_guard_page + during.live_canary,
              before.live_guard_region + before.live_guard_page + before.live_canary + 2);
    release_stack(again_a);
    release_stack(again_b);
    EXPECT_EQ(stack_stats().pooled, 2U);
  }
}

TEST_F(StackTest, PoolKeepsAtMostItsLimit) {
  StackConfig config = stack_config();
  config.pool_limit = 2;
  configure_stacks(config);
  trim_stack_pool();
  std::vector<Stack> stacks;
  for (int i = 0; i < 5; ++i) {
    stacks.push_back(allocate_stack());
  }
  release_all(stacks);
  EXPECT_EQ(stack_stats().pooled, 2U);
}

TEST_F(StackTest, StacksCommitMemoryOnlyWhenTouched) {
  Stack stack = allocate_stack(1024 * 1024);
  auto* low = static_cast<char*>(stack.base);
  EXPECT_FALSE(page_resident(low + stack.size / 2));
  low[stack.size / 2] = 1;
  EXPECT_TRUE(page_resident(low + stack.size / 2));
  release_stack(stack);
}

TEST_F(StackTest, DeepPagesAreGivenBackWhenPooled) {
  trim_stack_pool();
  Stack stack = allocate_stack();
  auto* top = static_cast<char*>(stack.top());
  std::memset(top - 128 * 1024, 0x7f, 128 * 1024);  // a deep call's frames
  const char* deep = top - 100 * 1024;
  ASSERT_TRUE(page_resident(deep));
  const std::size_t trimmed = stack_stats().trimmed;
  release_stack(stack);
  EXPECT_EQ(stack_stats().trimmed, trimmed + 1);
  EXPECT_FALSE(page_resident(deep));
  Stack again = allocate_stack();
  EXPECT_EQ(again.base, static_cast<void*>(top - default_stack_size));
  EXPECT_EQ(static_cast<char*>(again.top())[-100 * 1024], 0) << "decommitted pages read zero";
  release_stack(again);
}

TEST_F(StackTest, ShallowUseKeepsThePoolCheap) {
  trim_stack_pool();
  Stack stack = allocate_stack();
  std::memset(static_cast<char*>(stack.top()) - 2048, 1, 2048);
  const std::size_t trimmed = stack_stats().trimmed;
  release_stack(stack);
  EXPECT_EQ(stack_stats().trimmed, trimmed) << "no madvise for a shallow stack";
}

TEST_F(StackTest, GuardedStackHasAnInaccessibleGuardBelowIt) {
  StackConfig config = stack_config();
  config.guard_policy = GuardPolicy::guard_page;
  configure_stacks(config);
  trim_stack_pool();
  Stack stack = allocate_stack();
  ASSERT_EQ(stack.guard, StackGuard::guard_page);
  EXPECT_EQ(stack.guard_size(), default_stack_size) << "by default as large as the stack";
  EXPECT_TRUE(stack.guard_contains(static_cast<char*>(stack.base) - 1));
  EXPECT_FALSE(stack.guard_contains(stack.base));
  // write() from an inaccessible page fails with EFAULT instead of faulting.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_EQ(write(fds[1], static_cast<char*>(stack.base) - 1, 1), -1);
  EXPECT_EQ(errno, EFAULT);
  close(fds[0]);
  close(fds[1]);
  release_stack(stack);
}

TEST_F(StackTest, AutomaticPolicyUsesGuardRegionsWhereTheKernelHasThem) {
  trim_stack_pool();
  Stack stack = allocate_stack();
  const StackStats stats = stack_stats();
  EXPECT_EQ(stack.guard,
            stats.guard_regions_supported ? StackGuard::guard_region : StackGuard::guard_page);
  release_stack(stack);
}

TEST_F(StackTest, GuardPagesBeyondTheVmaBudgetFallBackToCanaries) {
  StackConfig config = stack_config();
  config.guard_policy = GuardPolicy::guard_page;
  config.guard_page_vma_share_percent = 0;  // no budget at all
  configure_stacks(config);
  trim_stack_pool();
  const StackStats before = stack_stats();
  EXPECT_EQ(before.guard_page_budget, 0U);
  Stack stack = allocate_stack();
  EXPECT_EQ(stack.guard, StackGuard::canary);
  EXPECT_EQ(stack_stats().canary_fallbacks, before.canary_fallbacks + 1);
  EXPECT_TRUE(stack_canary_intact(stack));
  release_stack(stack);
}

TEST_F(StackTest, BudgetIsAShareOfMaxMapCount) {
  const StackStats stats = stack_stats();
  EXPECT_EQ(stats.max_map_count, test::max_map_count());
  EXPECT_EQ(stats.guard_page_budget, stats.max_map_count * 25 / 100 / 2);
}

TEST_F(StackTest, BrokenCanaryIsDetected) {
  StackConfig config = stack_config();
  config.guard_policy = GuardPolicy::canary;
  configure_stacks(config);
  trim_stack_pool();
  Stack stack = allocate_stack();
  ASSERT_EQ(stack.guard, StackGuard::canary);
  EXPECT_TRUE(stack_canary_intact(stack));
  static_cast<unsigned char*>(stack.base)[0] ^= 0xff;
  EXPECT_FALSE(stack_canary_intact(stack));
  static_cast<unsigned char*>(stack.base)[0] ^= 0xff;
  release_stack(stack);
}

TEST_F(StackTest, GuardSizeIsConfigurable) {
  StackConfig config = stack_config();
  config.guard_bytes = 1;
  configure_stacks(config);
  trim_stack_pool();
  Stack stack = allocate_stack();
  EXPECT_EQ(stack.guard_size(), kPage) << "rounded up to a page";
  release_stack(stack);
  config.guard_bytes = max_stack_size + 1;
  EXPECT_THROW(configure_stacks(config), std::invalid_argument);
}

// The default guard: a frame that jumps it would not fit in the stack.
TEST_F(StackTest, AutomaticGuardIsAsLargeAsTheStackAndAtLeast64KiB) {
  trim_stack_pool();
  Stack small = allocate_stack(min_stack_size);
  Stack large = allocate_stack(1024 * 1024);
  if (small.guard != StackGuard::canary) {
    EXPECT_EQ(small.guard_size(), std::size_t{64 * 1024});
  }
  if (large.guard != StackGuard::canary) {
    EXPECT_EQ(large.guard_size(), std::size_t{1024 * 1024});
  }
  release_stack(small);
  release_stack(large);
}

TEST_F(StackTest, TwentyThousandStacksCostAtMostOneTenthOfASystemCallEach) {
  if (!stack_stats().guard_batches_supported) {
    GTEST_SKIP() << "no MADV_GUARD_INSTALL through process_madvise here (Linux 6.13+, and "
                    "not valgrind): guards cost one madvise or mprotect per stack";
  }
  trim_stack_pool();
  constexpr std::size_t kCount = 20000;
  const std::size_t before = stack_stats().system_calls;
  std::vector<Stack> stacks;
  stacks.reserve(kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    stacks.push_back(allocate_stack());
    touch_top(stacks.back());
  }
  const std::size_t created = stack_stats().system_calls - before;
  EXPECT_LE(created, kCount / 10) << created << " system calls to create " << kCount;
  release_all(stacks);
  trim_stack_pool();
  const std::size_t total = stack_stats().system_calls - before;
  EXPECT_LE(total, kCount / 10) << total << " system calls to create, free and trim " << kCount;
  EXPECT_EQ(stack_stats().slabs, 0U) << "trimming unmaps every slab whose stacks are all free";
}

// A server's population comes back; its stacks must still be there.
TEST_F(StackTest, ASecondWaveReusesTheFirstWavesStacksWithoutSystemCalls) {
  trim_stack_pool();
  constexpr std::size_t kWave = 5000;
  std::vector<Stack> stacks(kWave);
  for (int wave = 0; wave < 2; ++wave) {
    const StackStats before = stack_stats();
    allocate_and_touch(stacks);
    release_all(stacks);
    const StackStats after = stack_stats();
    if (wave == 1) {
      EXPECT_EQ(after.mapped, before.mapped) << "no new stack in the second wave";
      EXPECT_EQ(after.system_calls, before.system_calls);
      EXPECT_EQ(after.pooled, kWave);
    }
  }
}

TEST_F(StackTest, ThePoolShrinksOnceThePopulationStaysLow) {
  trim_stack_pool();
  constexpr std::size_t kWave = 20000;
  std::vector<Stack> stacks(kWave);
  allocate_and_touch(stacks);
  release_all(stacks);
  const StackStats high = stack_stats();
  EXPECT_EQ(high.pooled, kWave);
  // A population of one, for many epochs.
  for (std::size_t i = 0; i < 10 * kWave; ++i) {
    Stack one = allocate_stack();
    touch_top(one);
    release_stack(one);
  }
  const StackStats low = stack_stats();
  EXPECT_LT(low.pooled, kWave / 16);
  EXPECT_LT(low.slabs, high.slabs) << "whole slabs of free stacks are unmapped";
  EXPECT_EQ(low.mapped, high.mapped) << "the one live stack came from the pool";
}

// Slabs are the process's: a stack that outlives the thread that carved it
// is freed on another, and its slab goes once all its stacks are free.
TEST_F(StackTest, AStackFreedOnAnotherThreadReturnsToItsSlab) {
  trim_stack_pool();
  const std::size_t slabs = stack_stats().slabs;
  Stack stack;
  std::thread([&stack] {
    stack = allocate_stack();
    touch_top(stack);
  }).join();
  EXPECT_EQ(stack_stats().slabs, slabs + 1) << "the thread's slab outlives it: a stack is in use";
  release_stack(stack);
  trim_stack_pool();
  EXPECT_EQ(stack_stats().slabs, slabs);
}

std::size_t live_stacks() {
  const StackStats stats = stack_stats();
  return stats.live_guard_region + stats.live_guard_page + stats.live_canary;
}

// A stack counts as live from its allocation to its release, whichever
// threads do them: no thread's count goes below zero when another releases
// its stack.
TEST_F(StackTest, LiveStacksAreCountedProcessWideAcrossThreads) {
  const std::size_t before = live_stacks();
  Stack theirs;
  std::size_t on_allocating_thread = 0;
  std::thread([&] {
    theirs = allocate_stack();
    on_allocating_thread = live_stacks();
  }).join();
  EXPECT_EQ(on_allocating_thread, before + 1);
  EXPECT_EQ(live_stacks(), before + 1) << "live until released, though its thread is gone";
  release_stack(theirs);
  EXPECT_EQ(live_stacks(), before);

  Stack mine = allocate_stack();
  std::size_t on_releasing_thread = 0;
  std::thread([&] {
    release_stack(mine);
    on_releasing_thread = live_stacks();
  }).join();
  EXPECT_EQ(on_releasing_thread, before);
  EXPECT_EQ(live_stacks(), before);
}

TEST_F(StackTest, StacksFreedBeyondThePoolLimitAreGivenBack) {
  StackConfig config = stack_config();
  config.pool_limit = 2;
  configure_stacks(config);
  trim_stack_pool();
  std::vector<Stack> stacks(3);
  allocate_and_touch(stacks);
  const char* third_top = static_cast<const char*>(stacks[2].top()) - 64;
  ASSERT_TRUE(page_resident(third_top));
  release_all(stacks);
  EXPECT_EQ(stack_stats().pooled, 2U);
  EXPECT_FALSE(page_resident(third_top)) << "decommitted, or unmapped with its slab";
  for (Stack& stack : stacks) {
    stack = allocate_stack();  // two from the pool, then the decommitted one
  }
  EXPECT_EQ(static_cast<const char*>(stacks[2].top())[-64], 0) << "given back: reads zero";
  release_all(stacks);
}

TEST_F(StackTest, ShareAbove100PercentIsRejected) {
  StackConfig config = stack_config();
  config.guard_page_vma_share_percent = 101;
  EXPECT_THROW(configure_stacks(config), std::invalid_argument);
}

}  // namespace
}  // namespace cosync
