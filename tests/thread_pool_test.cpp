// The blocking-call pool: results and exceptions delivered through ordinary
// requests, from main and from coroutines; cancellation, timeouts, shutdown
// with work pending, and many concurrent offloads.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cosync/cosync.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

using namespace std::chrono_literals;

TEST(ThreadPool, OffloadFromMainRunsOnAWorkerAndReturnsTheValue) {
  const auto caller = std::this_thread::get_id();
  const auto worker = offload([] { return std::this_thread::get_id(); });
  EXPECT_NE(worker, caller);
}

TEST(ThreadPool, OffloadFromCoroutinesSuspendsOnlyTheCaller) {
  std::vector<Request<int>> results;
  for (int i = 0; i < 100; ++i) {
    results.push_back(spawn([i] { return offload([i] { return i * i; }); }));
  }
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(results[static_cast<std::size_t>(i)].get(), i * i);
  }
}

TEST(ThreadPool, AnExceptionOnAWorkerReachesTheWaitingCoroutine) {
  auto request =
      spawn([] { return offload([]() -> int { throw std::runtime_error("disk on fire"); }); });
  try {
    request.get();
    FAIL() << "the worker's exception was lost";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "disk on fire");
  }
}

TEST(ThreadPool, AnExceptionOnAWorkerReachesMain) {
  EXPECT_THROW(offload([] { throw std::out_of_range("index"); }), std::out_of_range);
}

TEST(ThreadPool, TenThousandConcurrentOffloads) {
  const std::size_t count = test::scaled(10000);
  std::atomic<std::size_t> ran{0};
  std::vector<Request<std::size_t>> results;
  results.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    results.push_back(spawn(Options{.stack_size = 32 * 1024}, [i, &ran] {
      return offload([i, &ran] {
        ran.fetch_add(1, std::memory_order_relaxed);
        return i + 1;
      });
    }));
  }
  std::size_t sum = 0;
  for (auto& result : results) sum += result.get();
  EXPECT_EQ(sum, count * (count + 1) / 2);
  EXPECT_EQ(ran.load(), count);
}

TEST(ThreadPool, ShutdownWithWorkPendingCancelsTheQueuedCalls) {
  auto pool = std::make_unique<ThreadPool>(1);
  std::promise<void> release;
  std::atomic<bool> blocker_started{false};
  auto blocker = pool->submit([&release, &blocker_started, gate = release.get_future().share()] {
    blocker_started = true;
    gate.wait();
    return 7;
  });
  std::atomic<int> queued_ran{0};
  std::vector<Request<int>> queued;
  for (int i = 0; i < 100; ++i) {
    queued.push_back(pool->submit([&queued_ran] { return ++queued_ran; }));
  }
  while (!blocker_started) std::this_thread::yield();
  // The destructor joins the worker, which is stuck in the blocker: run it
  // on another thread and let this one keep the loop going.
  std::thread destroyer([&pool] { pool.reset(); });
  this_loop().run_until([&] {
    for (auto& request : queued) {
      if (!request.done()) return false;
    }
    return true;
  });
  release.set_value();
  EXPECT_EQ(blocker.get(), 7);
  destroyer.join();
  EXPECT_EQ(queued_ran.load(), 0);
  for (auto& request : queued) {
    EXPECT_TRUE(request.cancelled());
  }
}

TEST(ThreadPool, ACancelledQueuedCallNeverRuns) {
  ThreadPool pool(1);
  std::promise<void> release;
  auto blocker = pool.submit([gate = release.get_future().share()] { gate.wait(); });
  std::atomic<bool> ran{false};
  auto queued = pool.submit([&ran] { ran = true; });
  queued.cancel();
  EXPECT_TRUE(queued.cancelled()) << "a queued call is withdrawn at once";
  release.set_value();
  blocker.get();
  auto after = pool.submit([] { return 1; });
  EXPECT_EQ(after.get(), 1);  // the worker has passed the withdrawn call by now
  EXPECT_FALSE(ran.load());
}

TEST(ThreadPool, ATimedOutCallThatRunsIsWaitedForBeforeTimedOut) {
  ThreadPool pool(1);
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  auto call = pool.submit([&started, &finished] {  // by reference: must not outlive the wait
    started = true;
    std::this_thread::sleep_for(50ms);
    finished = true;
    return 1;
  });
  while (!started) std::this_thread::yield();  // running, not queued, at the deadline
  EXPECT_THROW(call.get(deadline_after(1ms)), TimedOut);
  EXPECT_TRUE(finished.load()) << "TimedOut came while the call still ran";
}

TEST(ThreadPool, ACancelledCallStillRunningDropsItsResult) {
  ThreadPool pool(1);
  std::promise<void> release;
  std::atomic<int> results_destroyed{0};
  struct Result {
    std::atomic<int>* destroyed;
    ~Result() { ++*destroyed; }
  };
  std::atomic<bool> started{false};
  auto request = pool.submit([&results_destroyed, &started, gate = release.get_future().share()] {
    started = true;
    gate.wait();
    return std::make_shared<Result>(Result{&results_destroyed});
  });
  while (!started) std::this_thread::yield();
  request.cancel();
  EXPECT_FALSE(request.done()) << "a running call ends its request only when it returns";
  release.set_value();
  request.wait();
  EXPECT_TRUE(request.cancelled());
  // The result came back through the loop and is dropped there.
  this_loop().run_until([&] { return results_destroyed.load() > 0; }, deadline_after(10s));
  EXPECT_GE(results_destroyed.load(), 1);
}

TEST(ThreadPool, CapturesAreDestroyedOnTheWorker) {
  struct Probe {
    std::thread::id* destroyed_on;
    ~Probe() {
      if (destroyed_on != nullptr) *destroyed_on = std::this_thread::get_id();
    }
    Probe(std::thread::id* where) : destroyed_on(where) {}
    Probe(Probe&& other) noexcept : destroyed_on(std::exchange(other.destroyed_on, nullptr)) {}
  };
  std::thread::id destroyed_on;
  std::thread::id ran_on;
  offload([probe = Probe(&destroyed_on), &ran_on] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(destroyed_on, ran_on);
  EXPECT_NE(destroyed_on, std::this_thread::get_id());
}

TEST(ThreadPool, WorkersBlockSignals) {
  const bool blocked = offload([] {
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    return sigismember(&mask, SIGINT) == 1 && sigismember(&mask, SIGTERM) == 1;
  });
  EXPECT_TRUE(blocked);
  sigset_t mine;
  pthread_sigmask(SIG_SETMASK, nullptr, &mine);
  EXPECT_EQ(sigismember(&mine, SIGINT), 0) << "the caller's mask must be left alone";
}

// The process-wide pool starts once per process: checked in a forked
// child, which starts its own (this process has no pool threads yet).
TEST(ThreadPoolDeathTest, SizeIsChosenBeforeFirstUseOnly) {
  EXPECT_EXIT(
      {
        bool ok = true;
        try {
          set_blocking_pool_size(0);
          ok = false;
        } catch (const std::invalid_argument&) {
        }
        set_blocking_pool_size(3);
        ok = ok && blocking_pool_size() == 3 && blocking_pool().threads() == 3;
        try {
          set_blocking_pool_size(5);
          ok = false;
        } catch (const UsageError& error) {
          ok = ok && std::string(error.what()).find("after the blocking pool started") !=
                         std::string::npos;
        }
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(ThreadPool, AZeroThreadPoolIsRefused) { EXPECT_THROW(ThreadPool(0), std::invalid_argument); }

}  // namespace
}  // namespace cosync
