// The main of every GoogleTest binary of cosync. Besides running the tests
// it checks, after each test, that the test left nothing behind: no live
// coroutine on its thread, no stack in use by a coroutine in the process,
// no open file descriptor that was not open when the test started.
//
// What a process legitimately keeps across tests is part of the baseline,
// not an exception: the built-in loop (its epoll fd and eventfd), the
// stack layer's pidfd and, in the binaries that drive libuv, libuv's
// process-wide signal lock pipe are made before the first test; the
// built-in loop's signalfd, made by the first signal wait and kept for the
// loop's life, may appear once. Pooled stacks are the pool's, not a leak.
// Work a test left queued on the built-in loop (a cancelled coroutine
// unwinds on the loop's next iteration) gets that one iteration before the
// count. A test that keeps something on purpose says so with
// cosync::test::skip_leak_check(reason) (test_util.hpp); a defect of src/
// the check found stays listed in known_defects() until its fix.
#include <gtest/gtest.h>

#include <cosync/coroutine.hpp>
#include <cosync/loop.hpp>
#include <cosync/stack.hpp>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <map>
#include <sstream>
#include <string>

#include "test_util.hpp"

#if COSYNC_TEST_LIBUV
#include <uv.h>
#endif

namespace cosync {
namespace {

// What the running thread holds: the things a test must give back.
struct Holdings {
  std::size_t coroutines = 0;      // live coroutines of this thread
  std::size_t stacks = 0;          // stacks in use by coroutines, process-wide
  std::map<int, std::string> fds;  // open fds of the process, with their targets
};

Holdings holdings() {
  const StackStats stacks = stack_stats();
  return {coroutine_stats().live,
          stacks.live_guard_region + stacks.live_guard_page + stacks.live_canary,
          usage::open_fds()};
}

bool is_signalfd(const std::string& target) { return target == "anon_inode:[signalfd]"; }

bool holds_signalfd(const std::map<int, std::string>& fds) {
  for (const auto& [fd, target] : fds) {
    if (is_signalfd(target)) {
      return true;
    }
  }
  return false;
}

// The fds open now that were not before, but the built-in loop's signalfd
// when it is the first one.
std::string new_fds(const std::map<int, std::string>& before,
                    const std::map<int, std::string>& after) {
  const bool first_signalfd_allowed = !holds_signalfd(before);
  std::ostringstream list;
  for (const auto& [fd, target] : after) {
    const auto old = before.find(fd);
    if (old != before.end() && old->second == target) {
      continue;
    }
    if (first_signalfd_allowed && is_signalfd(target)) {
      continue;
    }
    list << " fd " << fd << " (" << target << ")";
  }
  return list.str();
}

// A count that changed either way is wrong: fewer than before means a
// counter that went below zero.
void compare_count(std::ostringstream& list, const char* what, std::size_t before,
                   std::size_t after) {
  if (after != before) {
    list << " " << what << " " << before << " -> " << after << ";";
  }
}

std::string leftovers(const Holdings& before, const Holdings& after) {
  std::ostringstream list;
  compare_count(list, "live coroutines", before.coroutines, after.coroutines);
  compare_count(list, "stacks in use", before.stacks, after.stacks);
  list << new_fds(before.fds, after.fds);
  return list.str();
}

// Defects of src/ the check found, each with what goes wrong: the check
// skips these tests until the fix, which deletes the entry.
const std::map<std::string, const char*>& known_defects() {
  static const std::map<std::string, const char*> defects = {};
  return defects;
}

const char* skip_reason(const testing::TestInfo& test) {
  const auto defect = known_defects().find(std::string(test.test_suite_name()) + "." + test.name());
  if (defect != known_defects().end()) {
    return defect->second;
  }
  const testing::TestResult& result = *test.result();
  for (int i = 0; i < result.test_property_count(); ++i) {
    const testing::TestProperty& property = result.GetTestProperty(i);
    if (std::string(property.key()) == test::kLeakCheckSkipped) {
      return property.value();
    }
  }
  return nullptr;
}

class LeakCheck : public testing::EmptyTestEventListener {
 public:
  explicit LeakCheck(Loop& builtin) : builtin_(&builtin) {}

  void OnTestStart(const testing::TestInfo& /*test*/) override { before_ = holdings(); }

  // Listeners hear of a test's end in the reverse order of their
  // registration, so this runs before the result printer: a failure added
  // here is the test's own.
  void OnTestEnd(const testing::TestInfo& test) override {
    if (const char* reason = skip_reason(test)) {
      std::printf("leak check skipped: %s\n", reason);
      return;
    }
    settle();
    const std::string left = leftovers(before_, holdings());
    if (!left.empty()) {
      ADD_FAILURE() << "the test left behind:" << left;
    }
  }

 private:
  // One iteration of the built-in loop that does not block, when it is
  // this thread's loop again.
  void settle() {
    if (&this_loop() != builtin_) {
      return;
    }
    try {
      builtin_->run_once(Clock::now());
    } catch (const std::exception& error) {
      ADD_FAILURE() << "the loop iteration after the test threw: " << error.what();
    }
  }

  Loop* builtin_;
  Holdings before_;
};

// What the process keeps from its first use of a library, made before the
// first test so that it is in every test's baseline.
void warm_up() {
  stack_stats();  // probes the kernel's guard batches: opens the stack layer's pidfd
#if COSYNC_TEST_LIBUV
  uv_loop_t loop;  // the first uv_loop_init makes the signal lock pipe
  uv_loop_init(&loop);
  uv_loop_close(&loop);
#endif
}

}  // namespace
}  // namespace cosync

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  cosync::warm_up();
  testing::UnitTest::GetInstance()->listeners().Append(new cosync::LeakCheck(cosync::this_loop()));
  return RUN_ALL_TESTS();
}
