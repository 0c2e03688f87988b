// libcosync-pcl's coroutines are cosync coroutines: they are in the thread's
// registry (what cosync-list and the overflow report read), co_current() is
// cosync's current(), their data is the coroutine's user_data, and an
// overflow in one names it.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "cosync/coroutine.hpp"
#include "cosync/pcl_ext.h"

namespace {

constexpr int kStack = 64 * 1024;

std::vector<std::uint64_t> registered_pcl_ids() {
  std::vector<std::uint64_t> ids;
  cosync::for_each_coroutine([&ids](const cosync::Coroutine& coroutine) {
    if (std::string_view(coroutine.name()) == "pcl") {
      ids.push_back(coroutine.id());
    }
  });
  return ids;
}

void park(void*) {
  for (;;) {
    co_resume();
  }
}

TEST(PclOnTheRuntime, ACoroutineIsInTheRegistryUntilItIsDeleted) {
  const std::size_t before = cosync::coroutine_stats().live;
  coroutine_t co = co_create(park, nullptr, nullptr, kStack);
  ASSERT_NE(co, nullptr);
  const auto& coroutine = *static_cast<cosync::Coroutine*>(co);
  EXPECT_EQ(registered_pcl_ids(), std::vector<std::uint64_t>{coroutine.id()});
  EXPECT_EQ(cosync::coroutine_stats().live, before + 1);
  co_call(co);
  EXPECT_EQ(coroutine.state(), cosync::CoroutineState::suspended);
  co_delete(co);
  EXPECT_TRUE(registered_pcl_ids().empty());
  EXPECT_EQ(cosync::coroutine_stats().live, before);
}

TEST(PclOnTheRuntime, OneOnTheCallersStackIsRegisteredToo) {
  std::vector<char> memory(kStack);
  coroutine_t co = co_create(park, nullptr, memory.data(), kStack);
  ASSERT_NE(co, nullptr);
  EXPECT_EQ(registered_pcl_ids().size(), 1U);
  co_call(co);
  co_delete(co);
  EXPECT_TRUE(registered_pcl_ids().empty());
}

void report_current(void* data) {
  auto* seen = static_cast<std::vector<const void*>*>(data);
  seen->push_back(&cosync::current());
  seen->push_back(co_current());
  seen->push_back(cosync::current().user_data());
}

TEST(PclOnTheRuntime, CurrentAndDataAreCosyncs) {
  std::vector<const void*> seen;
  coroutine_t co = co_create(report_current, &seen, nullptr, kStack);
  ASSERT_NE(co, nullptr);
  EXPECT_EQ(co_main(), &cosync::main_context());
  EXPECT_EQ(co_current(), &cosync::main_context());
  co_call(co);  // the function returns: the coroutine exits and is freed
  ASSERT_EQ(seen.size(), 3U);
  EXPECT_EQ(seen[0], co);
  EXPECT_EQ(seen[1], co);
  EXPECT_EQ(seen[2], &seen);
  EXPECT_TRUE(registered_pcl_ids().empty());
}

TEST(PclOnTheRuntimeDeathTest, ACoroutineNotMadeByCoCreateHasNoRestarget) {
  EXPECT_DEATH(cosync::create([] { co_resume(); }).join(),
               "co_resume\\(0x[0-9a-f]+\\): the running coroutine was not made by co_create");
}

// A frame twice the stack: stack-clash probes walk it page by page into the
// guard below.
void overflow(void*) {
  volatile char frame[2 * kStack];
  frame[0] = 1;
  frame[sizeof frame - 1] = 2;
}

TEST(PclOnTheRuntimeDeathTest, AnOverflowNamesTheCoroutine) {
  EXPECT_EXIT(co_call(co_create(overflow, nullptr, nullptr, kStack)),
              ::testing::KilledBySignal(SIGSEGV),
              "cosync: stack overflow in coroutine #[0-9]+ \"pcl\": stack");
}

// Writes a frame larger than its stack, below it into `memory` (as
// pcl_misuse's overflow case), then leaves the stack: the canary is checked.
void overflow_the_callers_stack(void*) {
  char frame[kStack + kStack / 2];
  std::memset(frame, 1, sizeof frame);
  asm volatile("" : : "r"(frame) : "memory");
  co_resume();
}

TEST(PclOnTheRuntimeDeathTest, AnOverflowOfTheCallersStackNamesTheCoroutine) {
  static char memory[4 * kStack];
  EXPECT_DEATH(co_call(co_create(overflow_the_callers_stack, nullptr, memory + 2 * kStack, kStack)),
               "coroutine 0x[0-9a-f]+ overflowed its [0-9]+-byte stack .*\\(cosync coroutine "
               "#[0-9]+ \"pcl\"\\)");
}

}  // namespace
