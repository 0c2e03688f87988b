// Destroying and cancelling suspended coroutines: their stacks unwind, every
// destructor runs exactly once, and swallowing the unwind is caught.
#include <gtest/gtest.h>
#include <pthread.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cosync/coroutine.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

using Tracked = test::Counted;

void hold_and_suspend(int depth, int& live) {
  Tracked here(live);
  if (depth == 1) {
    yield_to_main();
    ADD_FAILURE() << "resumed after destruction";
    return;
  }
  hold_and_suspend(depth - 1, live);
}

class ForcedUnwindObjects : public ::testing::TestWithParam<int> {};

TEST_P(ForcedUnwindObjects, DestroyingASuspendedCoroutineRunsEveryDestructorOnce) {
  const int objects = GetParam();
  int live = 0;
  {
    auto task = create([objects, &live] { hold_and_suspend(objects, live); });
    task.resume();
    EXPECT_EQ(live, objects);
  }
  EXPECT_EQ(live, 0);
}

TEST_P(ForcedUnwindObjects, CancelUnwindsAndJoinReportsCancelled) {
  const int objects = GetParam();
  int live = 0;
  auto task = create(Options{.name = "cancel-me"}, [objects, &live] {
    hold_and_suspend(objects, live);
    return 1;
  });
  task.resume();
  task.cancel();
  EXPECT_EQ(live, 0);
  EXPECT_TRUE(task.done());
  try {
    task.join();
    FAIL() << "join of a cancelled coroutine returned";
  } catch (const Cancelled& error) {
    EXPECT_NE(std::string(error.what()).find("cancel-me"), std::string::npos) << error.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Objects, ForcedUnwindObjects, ::testing::Values(1, 2, 10, 50, 100));

// A movable counted object, to be stored as a coroutine's argument.
struct Counted {
  explicit Counted(int& live) : live_(&live) { ++*live_; }
  Counted(Counted&& other) noexcept : live_(std::exchange(other.live_, nullptr)) {}
  Counted& operator=(Counted&&) = delete;
  ~Counted() {
    if (live_ != nullptr) --*live_;
  }

 private:
  int* live_;
};

TEST(ForcedUnwindCases, NeverStartedCoroutineNeverRuns) {
  bool ran = false;
  int live = 0;
  {
    auto task = create([&ran](const Counted&) { ran = true; }, Counted(live));
    EXPECT_EQ(live, 1);
  }
  EXPECT_FALSE(ran);
  EXPECT_EQ(live, 0) << "the stored arguments were destroyed";
}

TEST(ForcedUnwindCases, CancelOfAFinishedCoroutineIsANoOp) {
  auto task = create([] { return 9; });
  task.resume();
  task.cancel();
  EXPECT_EQ(task.join(), 9);
}

TEST(ForcedUnwindCases, UnwindingCascadesIntoOwnedCoroutines) {
  int live = 0;
  {
    auto outer = create([&live] {
      Tracked mine(live);
      auto inner = create([&live] {
        Tracked theirs(live);
        yield_to_main();
      });
      inner.resume();
      yield_to_main();
    });
    outer.resume();
    EXPECT_EQ(live, 2);
  }
  EXPECT_EQ(live, 0);
}

TEST(ForcedUnwindCases, CoroutineWaitingInResumeIsUnwoundToo) {
  int live = 0;
  Task<void> inner = create([] { yield_to_main(); });
  {
    auto outer = create([&] {
      Tracked mine(live);
      inner.resume();  // inner skips back to main: outer waits in resume()
    });
    outer.resume();
    EXPECT_EQ(live, 1);
  }
  EXPECT_EQ(live, 0);
  inner.join();
}

TEST(ForcedUnwindCases, CatchAllThatRethrowsIsFine) {
  int live = 0;
  bool saw_it = false;
  {
    auto task = create([&] {
      Tracked mine(live);
      try {
        yield_to_main();
      } catch (...) {
        saw_it = true;
        throw;
      }
    });
    task.resume();
  }
  EXPECT_TRUE(saw_it);
  EXPECT_EQ(live, 0);
}

TEST(ForcedUnwindCases, StdExceptionHandlersDoNotCatchIt) {
  bool caught_as_std = false;
  {
    auto task = create([&] {
      try {
        yield_to_main();
      } catch (const std::exception&) {
        caught_as_std = true;
      }
    });
    task.resume();
  }
  EXPECT_FALSE(caught_as_std);
}

TEST(ForcedUnwindCases, SwallowedUnwindThatFinishesIsReported) {
  const std::size_t before = coroutine_stats().swallowed_unwinds;
  ::testing::internal::CaptureStderr();
  {
    auto task = create(Options{.name = "swallower"}, [] {
      try {
        yield_to_main();
      } catch (...) {  // swallows ForcedUnwind, then returns normally
      }
    });
    task.resume();
  }
  const std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(coroutine_stats().swallowed_unwinds, before + 1);
  EXPECT_NE(output.find("\"swallower\" swallowed cosync::ForcedUnwind"), std::string::npos)
      << output;
}

TEST(ForcedUnwindDeathTest, SwallowedUnwindThatSuspendsAgainAborts) {
  EXPECT_DEATH(
      {
        auto task = create(Options{.name = "stubborn"}, [] {
          for (;;) {
            try {
              yield_to_main();
            } catch (...) {  // swallows ForcedUnwind and loops to suspend again
            }
          }
        });
        task.resume();
      },
      "\"stubborn\" swallowed cosync::ForcedUnwind .* tried to suspend");
}

TEST(ForcedUnwindDeathTest, SuspendingDuringUnwindingAborts) {
  struct WaitsInDestructor {
    ~WaitsInDestructor() { yield_to_main(); }
  };
  EXPECT_DEATH(
      {
        auto task = create(Options{.name = "waiter"}, [] {
          WaitsInDestructor guard;
          throw std::runtime_error("unwinding");
        });
        task.resume();
      },
      "\"waiter\" tried to suspend while an exception is unwinding its stack");
}

TEST(ForcedUnwindDeathTest, DestructionCycleIsNamed) {
  EXPECT_DEATH(
      {
        Task<void>* parent = new Task<void>();
        *parent = create(Options{.name = "parent"}, [parent] {
          auto child = create(Options{.name = "child"}, [parent] { delete parent; });
          child.resume();
        });
        parent->resume();
      },
      "destruction cycle");
}

TEST(ForcedUnwindDeathTest, WaitingInACallableDestructorIsNamed) {
  struct WaitsOnDestruction {
    ~WaitsOnDestruction() { yield_to_main(); }
  };
  EXPECT_DEATH(
      {
        auto task =
            create(Options{.name = "holder"}, [guard = std::make_shared<WaitsOnDestruction>()] {});
        task.join();
      },
      "\"holder\" tried to suspend after its body ended");
}

TEST(ForcedUnwindDeathTest, PthreadExitInACoroutineIsNamed) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's pthread_exit interceptor ends the process before the unwinder "
                  "reaches cosync's handler";
#endif
  EXPECT_DEATH(
      {
        auto task = create(Options{.name = "quitter"}, [] { pthread_exit(nullptr); });
        task.join();
      },
      "pthread_exit or thread cancellation inside coroutine #[0-9]+ \"quitter\"");
}

TEST(ForcedUnwindDeathTest, DestroyingOnAnotherThreadAborts) {
  EXPECT_DEATH(
      {
        auto* task = new Task<void>(create([] { yield(); }));
        task->resume();
        std::thread([task] { delete task; }).join();
      },
      "on a thread that does not own it");
}

}  // namespace
}  // namespace cosync
