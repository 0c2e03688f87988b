// Task groups as long-lived owners of many children: finished children
// leave at once, children stay individually waitable, failures either
// cancel the siblings or not, and a join that times out cancels and waits.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "cosync/cosync.hpp"

namespace cosync {
namespace {

using namespace std::chrono_literals;

TEST(TaskGroup, FinishedChildrenLeaveTheGroup) {
  TaskGroup group;
  for (int i = 0; i < 100; ++i) group.spawn([] {});
  auto sleeper = group.spawn([] { sleep_for(50ms); });
  EXPECT_EQ(group.size(), 101U);
  this_loop().run_until([&group] { return group.size() == 1; }, deadline_after(5s));
  EXPECT_EQ(group.size(), 1U) << "only the sleeper is left";
  group.join();
  EXPECT_EQ(group.size(), 0U);
}

TEST(TaskGroup, AChildCanBeWaitedOnByItself) {
  TaskGroup group;
  auto answer = group.spawn([] {
    sleep_for(1ms);
    return 42;
  });
  EXPECT_EQ(answer.get(), 42);
  group.join();
}

TEST(TaskGroup, KeepGoingLetsTheOtherChildrenFinish) {
  TaskGroup group(TaskGroup::OnFailure::keep_going);
  int finished = 0;
  group.spawn([] { throw std::runtime_error("one connection failed"); });
  for (int i = 0; i < 5; ++i) {
    group.spawn([&finished] {
      sleep_for(5ms);
      ++finished;
    });
  }
  try {
    group.join();
    FAIL() << "the failure was lost";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "one connection failed");
  }
  EXPECT_EQ(finished, 5);
}

TEST(TaskGroup, CancelSiblingsIsTheDefault) {
  TaskGroup group;
  int cancelled = 0;
  for (int i = 0; i < 5; ++i) {
    group.spawn([&cancelled] {
      try {
        sleep_for(1h);
      } catch (const Cancelled&) {
        ++cancelled;
        throw;
      }
    });
  }
  group.spawn([] {
    sleep_for(1ms);
    throw std::logic_error("bad input");
  });
  EXPECT_THROW(group.join(deadline_after(10s)), std::logic_error);
  EXPECT_EQ(cancelled, 5);
}

TEST(TaskGroup, AJoinThatTimesOutCancelsAndWaitsForTheChildren) {
  TaskGroup group;
  int unwound = 0;
  for (int i = 0; i < 3; ++i) {
    group.spawn([&unwound] {
      struct Count {
        int& unwound;
        ~Count() { ++unwound; }
      } count{unwound};
      sleep_for(1h);
    });
  }
  EXPECT_THROW(group.join(deadline_after(10ms)), TimedOut);
  EXPECT_EQ(unwound, 3) << "the children unwound before join returned";
  EXPECT_EQ(group.size(), 0U);
}

TEST(TaskGroup, AJoinThatTimesOutInACoroutineWaitsForTheChildren) {
  int finished = 0;
  auto parent = spawn([&finished] {
    TaskGroup group;
    for (int i = 0; i < 3; ++i) {
      group.spawn([&finished] {
        bool cancelled = false;
        try {
          sleep_for(1h);
        } catch (const Cancelled&) {
          cancelled = true;
        }
        if (cancelled) sleep_for(5ms);  // cleanup that waits: join must wait for it
        ++finished;
      });
    }
    EXPECT_THROW(group.join(deadline_after(10ms)), TimedOut);
    return finished;
  });
  EXPECT_EQ(parent.get(), 3) << "the children finished before join returned";
}

TEST(TaskGroup, DestroyingAGroupCancelsItsChildren) {
  int unwound = 0;
  {
    TaskGroup group;
    group.spawn([&unwound] {
      struct Count {
        int& unwound;
        ~Count() { ++unwound; }
      } count{unwound};
      sleep_for(1h);
    });
    this_loop().run_once(deadline_after(1ms));  // the child starts and waits
  }
  this_loop().run_until([&unwound] { return unwound == 1; }, deadline_after(5s));
  EXPECT_EQ(unwound, 1);
}

TEST(TaskGroup, JoinFromACoroutine) {
  auto parent = spawn([] {
    TaskGroup group;
    int sum = 0;
    for (int i = 1; i <= 10; ++i) {
      group.spawn([&sum, i] {
        sleep_for(std::chrono::milliseconds(i % 3));
        sum += i;
      });
    }
    group.join();
    return sum;
  });
  EXPECT_EQ(parent.get(), 55);
}

}  // namespace
}  // namespace cosync
