// The leak check of test_main.cpp on itself: the disabled tests leave a
// coroutine, its stack and a pipe behind, and the ctests
// LeakCheck.ReportsWhatATestLeftBehind and LeakCheck.SkippedTestIsNotChecked
// (tests/CMakeLists.txt) run them and expect the report, or its absence.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "cosync/coroutine.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

// A suspended coroutine and a pipe, kept past the test's end on purpose.
void leave_a_coroutine_and_a_pipe_behind() {
  static std::unique_ptr<Task<void>> kept;
  kept = std::make_unique<Task<void>>(create([] { yield(); }));
  kept->resume();
  static int fds[2];
  ASSERT_EQ(pipe(fds), 0);
}

TEST(DISABLED_LeakCheck, LeavesACoroutineAStackAndAPipeBehind) {
  leave_a_coroutine_and_a_pipe_behind();
}

TEST(DISABLED_LeakCheck, SkipsATestThatSaysWhy) {
  test::skip_leak_check("this test keeps its coroutine and pipe on purpose");
  leave_a_coroutine_and_a_pipe_behind();
}

TEST(LeakCheck, TestThatGivesEverythingBackPasses) {
  auto task = create([] { yield(); });
  task.resume();
  task.resume();
  task.join();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace cosync
