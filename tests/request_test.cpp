// Requests: the one completion interface, waiting with and without
// coroutines (R4), early resume (R8), launching (R6/R7), wait all / any,
// deadlines, cancellation, the synchronisation primitives and task groups,
// on every loop backend (backend_fixture.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

using namespace std::chrono_literals;

class RequestOn : public test::BackendTest {};
class TaskGroupOn : public test::BackendTest {};
class SyncOn : public test::BackendTest {};

// A timer that completes a request with a value after `delay`: a loop
// callback standing for any callback-shaped code.
Request<int> value_after(Clock::duration delay, int value) {
  struct Completion {
    Timer timer;
    Request<int> request;
    int value;
  };
  auto* completion = new Completion{Timer{}, Request<int>(), value};
  completion->timer.data = completion;
  completion->timer.due = Clock::now() + delay;
  completion->timer.fn = [](Timer* timer) {
    auto* self = static_cast<Completion*>(timer->data);
    self->request.set_value(self->value);
    delete self;
  };
  this_loop().add_timer(completion->timer);
  return completion->request;
}

// The synchronous-style function of R4: it waits, and neither knows nor
// cares whether it runs in a coroutine.
int fetch_double(int x) { return value_after(5ms, x * 2).get(); }

using test::Counted;

TEST_P(RequestOn, CompletedByACallbackFromMainAndFromACoroutine) {
  EXPECT_EQ(value_after(1ms, 5).get(), 5);
  auto inside = spawn([] { return value_after(1ms, 6).get(); });
  EXPECT_EQ(inside.get(), 6);
}

TEST_P(RequestOn, SameSynchronousFunctionFromMainAndTenThousandCoroutines) {
  EXPECT_EQ(fetch_double(21), 42);
  const std::size_t count = test::scaled(10000);
  std::vector<Request<int>> requests;
  const Deadline start = Clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    requests.push_back(spawn(fetch_double, static_cast<int>(i)));
  }
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(requests[i].get(), static_cast<int>(2 * i));
  }
  EXPECT_LT(Clock::now() - start, 30s) << "the waits overlapped";
}

TEST_P(RequestOn, SpawnReturnsAtOnceAndRunsOnTheLoop) {
  bool ran = false;
  auto request = spawn([&ran] { ran = true; });
  EXPECT_FALSE(ran) << "launch from main returns before the coroutine runs";
  request.get();
  EXPECT_TRUE(ran);
}

TEST_P(RequestOn, PlainYieldInASpawnedCoroutineLetsOthersRun) {
  std::vector<std::string> log;
  auto a = spawn([&log] {
    for (int i = 0; i < 3; ++i) {
      log.push_back("a" + std::to_string(i));
      yield();
    }
  });
  auto b = spawn([&log] {
    for (int i = 0; i < 3; ++i) {
      log.push_back("b" + std::to_string(i));
      yield_to_main();
    }
  });
  wait_all(a, b);
  const std::vector<std::string> expected = {"a0", "b0", "a1", "b1", "a2", "b2"};
  EXPECT_EQ(log, expected);
}

TEST_P(RequestOn, ExceptionReachesTheWaiter) {
  auto request = spawn([]() -> int { throw std::out_of_range("index 7"); });
  try {
    request.get();
    FAIL() << "no exception";
  } catch (const std::out_of_range& error) {
    EXPECT_STREQ(error.what(), "index 7");
  }
}

TEST_P(RequestOn, ValueIsTakenOnce) {
  Request<int> request;
  request.set_value(3);
  EXPECT_EQ(request.get(), 3);
  EXPECT_THROW(request.get(), UsageError);
}

TEST_P(RequestOn, CallbackDataRoundTripCompletesTheRequest) {
  Request<std::string> request;
  void* data = request.to_callback_data();  // what a C callback would carry
  Request<std::string>::from_callback_data(data).set_value("from C");
  EXPECT_EQ(request.get(), "from C");
}

TEST_P(RequestOn, ContinuationIsCalledOnceWithItsData) {
  Request<int> request;
  int calls = 0;
  request.on_complete([](void* data) { ++*static_cast<int*>(data); }, &calls);
  EXPECT_THROW(request.on_complete([](void*) {}, nullptr), UsageError);
  request.set_value(1);
  request.set_value(2);  // ignored: the request is done
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(request.get(), 1);
}

TEST_P(RequestOn, RangeWaitsTakeAnyRangeOfRequests) {
  std::vector<Request<int>> requests(3);
  requests[2].set_value(7);
  EXPECT_EQ(wait_any(requests), 2);
  EXPECT_FALSE(wait_all(requests, deadline_after(1ms)));
  requests[0].set_value(1);
  requests[1].cancel();
  EXPECT_TRUE(wait_all(requests));
  const std::vector<Request<int>> none;
  EXPECT_TRUE(wait_all(none));
  EXPECT_EQ(wait_any(none, deadline_after(1ms)), -1);
}

TEST_P(RequestOn, EarlyResumeGoesBackToWaiting) {
  Request<int> pending;
  int result = 0;
  auto task = create([&] { result = pending.get(); });
  task.resume();  // now waiting on `pending`
  const std::size_t before = request_stats().early_resumes;
  task.resume();  // by hand, too early
  EXPECT_EQ(task->state(), CoroutineState::suspended);
  EXPECT_EQ(request_stats().early_resumes, before + 1);
  EXPECT_EQ(result, 0);
  pending.set_value(9);
  this_loop().run_until([&] { return task.done(); }, deadline_after(5s));
  EXPECT_EQ(result, 9);
  task.join();
}

TEST_P(RequestOn, SecondWaiterOnOneRequestIsAClearError) {
  Request<int> pending;
  auto first = spawn([&pending] { return pending.get(); });
  this_loop().run_once(Clock::now());
  auto second = spawn([&pending] { return pending.get(); });
  EXPECT_THROW(second.get(), UsageError);
  pending.set_value(1);
  EXPECT_EQ(first.get(), 1);
}

void nested_wait(int& live, int depth) {
  Counted here(live);
  if (depth == 0) {
    auto child = spawn([&live] {
      Counted in_child(live);
      sleep_for(1h);
    });
    child.get();
    return;
  }
  nested_wait(live, depth - 1);
}

TEST_P(RequestOn, CancellationAtDepthRunsCleanupAndCancelsSubRequests) {
  int live = 0;
  auto request = spawn([&live] { nested_wait(live, 10); });
  this_loop().run_until([&] { return live == 12; }, deadline_after(5s));
  ASSERT_EQ(live, 12);
  request.cancel();
  this_loop().run_until([&] { return request.done() && live == 0; }, deadline_after(5s));
  EXPECT_TRUE(request.cancelled());
  EXPECT_EQ(live, 0);
  EXPECT_THROW(request.get(), Cancelled);
}

TEST_P(RequestOn, CancellingACompletedRequestIsANoOp) {
  auto request = spawn([] { return 4; });
  EXPECT_EQ(request.get(), 4);
  request.cancel();
  EXPECT_TRUE(request.succeeded());
}

TEST_P(RequestOn, CancelledBeforeItStartsNeverRuns) {
  bool ran = false;
  auto request = spawn([&ran] { ran = true; });
  request.cancel();
  EXPECT_THROW(request.get(), Cancelled);
  EXPECT_FALSE(ran);
}

TEST_P(RequestOn, DroppingTheLastHandleCancels) {
  int live = 0;
  {
    auto request = spawn([&live] {
      Counted here(live);
      sleep_for(1h);
    });
    this_loop().run_until([&] { return live == 1; }, deadline_after(5s));
  }
  this_loop().run_until([&] { return live == 0; }, deadline_after(5s));
  EXPECT_EQ(live, 0);
}

TEST_P(RequestOn, TimeoutCancelsTheAwaitedRequest) {
  int live = 0;
  auto slow = spawn([&live] {
    Counted here(live);
    sleep_for(1h);
  });
  EXPECT_THROW(slow.get(20ms), TimedOut);
  EXPECT_TRUE(slow.cancelled());
  EXPECT_EQ(live, 0) << "the producer finished unwinding before TimedOut";
  auto inside = spawn([] {
    auto slower = spawn([] { sleep_for(1h); });
    try {
      slower.get(10ms);
    } catch (const TimedOut&) {
      return slower.cancelled();
    }
    return false;
  });
  EXPECT_TRUE(inside.get());
}

TEST_P(RequestOn, DeadlineInThePastTimesOutAtOnce) {
  Request<int> never;
  EXPECT_THROW(never.get(Clock::now() - 1s), TimedOut);
  EXPECT_TRUE(never.cancelled());
}

TEST_P(RequestOn, SleepsWakeInDeadlineOrder) {
  std::vector<int> order;
  std::vector<Request<void>> sleepers;
  for (int delay : {30, 10, 20, 0}) {
    sleepers.push_back(spawn([&order, delay] {
      sleep_for(std::chrono::milliseconds(delay));
      order.push_back(delay);
    }));
  }
  for (auto& sleeper : sleepers) sleeper.get();
  EXPECT_EQ(order, (std::vector<int>{0, 10, 20, 30}));
}

TEST_P(RequestOn, WaitAllAndWaitAny) {
  auto slow = value_after(30ms, 1);
  auto fast = value_after(1ms, 2);
  EXPECT_EQ(wait_any(slow, fast), 1);
  EXPECT_TRUE(wait_all(slow, fast));
  EXPECT_EQ(slow.get() + fast.get(), 3);
  auto inside = spawn([] {
    auto a = value_after(5ms, 1);
    auto b = spawn([] { return 2; });
    const int first = wait_any(a, b);
    wait_all(a, b);
    return first;
  });
  EXPECT_EQ(inside.get(), 1);
  Request<int> never;
  const std::vector<Request<int>> nevers{never};
  EXPECT_FALSE(wait_all(nevers, deadline_after(5ms)));
  EXPECT_EQ(wait_any(nevers, deadline_after(5ms)), -1);
}

TEST_P(TaskGroupOn, JoinsAllChildren) {
  int finished = 0;
  TaskGroup group;
  for (int i = 0; i < 10; ++i) {
    group.spawn([&finished, i] {
      sleep_for(std::chrono::milliseconds(i));
      ++finished;
    });
  }
  group.join();
  EXPECT_EQ(finished, 10);
}

TEST_P(TaskGroupOn, FirstFailureCancelsTheRestAndIsRethrown) {
  int live = 0;
  auto parent = spawn([&live] {
    TaskGroup group;
    for (int i = 0; i < 5; ++i) {
      group.spawn([&live] {
        Counted here(live);
        sleep_for(1h);
      });
    }
    group.spawn([] {
      sleep_for(5ms);
      throw std::runtime_error("child failed");
    });
    group.join();
  });
  try {
    parent.get(deadline_after(5s));
    FAIL() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "child failed");
  }
  EXPECT_EQ(live, 0);
}

TEST_P(SyncOn, EventWakesAllWaiters) {
  Event event;
  int woken = 0;
  std::vector<Request<void>> waiters;
  for (int i = 0; i < 3; ++i)
    waiters.push_back(spawn([&] {
      event.wait();
      ++woken;
    }));
  this_loop().run_once(Clock::now());
  EXPECT_EQ(woken, 0);
  event.set();
  for (auto& waiter : waiters) waiter.get();
  EXPECT_EQ(woken, 3);
  event.wait();  // from main, already set
  event.reset();
  EXPECT_THROW(event.wait(deadline_after(5ms)), TimedOut);
}

TEST_P(SyncOn, MutexIsHandedOverInArrivalOrder) {
  Mutex mutex;
  std::vector<int> order;
  mutex.lock();  // from main
  std::vector<Request<void>> lockers;
  for (int i = 0; i < 3; ++i) {
    lockers.push_back(spawn([&, i] {
      mutex.lock();
      order.push_back(i);
      sleep_for(1ms);
      mutex.unlock();
    }));
  }
  this_loop().run_once(Clock::now());
  mutex.unlock();
  for (auto& locker : lockers) locker.get();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(mutex.locked());
  EXPECT_THROW(mutex.unlock(), UsageError);
}

// The mutex is handed to the first waiter, which is cancelled before it
// runs: it hands the mutex on to the next waiter as it unwinds.
TEST_P(SyncOn, AGrantToACancelledWaiterIsHandedOn) {
  Mutex mutex;
  mutex.lock();  // from main
  auto first = spawn([&mutex] {
    mutex.lock();
    mutex.unlock();
  });
  auto second = spawn([&mutex] {
    mutex.lock();
    mutex.unlock();
    return 2;
  });
  this_loop().run_once(Clock::now());  // both are queued
  mutex.unlock();                      // granted to `first`...
  first.cancel();                      // ...which unwinds instead of taking it
  EXPECT_EQ(second.get(), 2);
  EXPECT_TRUE(first.cancelled());
  EXPECT_FALSE(mutex.locked());
}

// As above, for a semaphore's unit.
TEST_P(SyncOn, AUnitGrantedToACancelledAcquirerIsHandedOn) {
  Semaphore units(0);
  auto first = spawn([&units] { units.acquire(); });
  auto second = spawn([&units] { units.acquire(); });
  this_loop().run_once(Clock::now());
  units.release();
  first.cancel();
  second.get();
  EXPECT_TRUE(first.cancelled());
  EXPECT_EQ(units.available(), 0U);
}

TEST_P(SyncOn, MutexLockTimesOut) {
  Mutex mutex;
  mutex.lock();
  auto waiter = spawn([&mutex] { mutex.lock(deadline_after(5ms)); });
  EXPECT_THROW(waiter.get(), TimedOut);
  mutex.unlock();
  EXPECT_TRUE(mutex.try_lock());
}

TEST_P(SyncOn, SemaphoreLimitsConcurrency) {
  Semaphore slots(2);
  int inside = 0, peak = 0;
  std::vector<Request<void>> workers;
  for (int i = 0; i < 6; ++i) {
    workers.push_back(spawn([&] {
      slots.acquire();
      peak = std::max(peak, ++inside);
      sleep_for(2ms);
      --inside;
      slots.release();
    }));
  }
  for (auto& worker : workers) worker.get();
  EXPECT_EQ(peak, 2);
  EXPECT_EQ(slots.available(), 2U);
}

TEST_P(SyncOn, BoundedChannelBetweenCoroutinesAndMain) {
  Channel<int> channel(2);
  auto producer = spawn([&channel] {
    for (int i = 0; i < 100; ++i) channel.send(i);
    channel.close();
  });
  int sum = 0;
  while (auto value = channel.receive(deadline_after(5s))) {  // from main
    sum += *value;
  }
  producer.get();
  EXPECT_EQ(sum, 4950);
  EXPECT_THROW(channel.send(1), ChannelClosed);
  EXPECT_THROW(Channel<int>(0), std::invalid_argument);
}

TEST_P(SyncOn, ChannelReceiveTimesOut) {
  Channel<int> channel(1);
  EXPECT_THROW(channel.receive(deadline_after(5ms)), TimedOut);
}

TEST_P(RequestOn, WaitingInsideALoopCallbackIsAClearError) {
  std::string message;
  Immediate immediate;
  immediate.data = &message;
  immediate.fn = [](Immediate* self) {
    try {
      Request<int> never;
      never.get();
    } catch (const UsageError& error) {
      *static_cast<std::string*>(self->data) = error.what();
    }
  };
  this_loop().post_immediate(immediate);
  this_loop().run_once();
  EXPECT_NE(message.find("loop's own callbacks"), std::string::npos) << message;
}

// --- One model of a coroutine and its result --------------------

TEST_P(RequestOn, JoinFromMainRunsTheLoopInsteadOfSpinning) {
  const std::size_t before = request_stats().early_resumes;
  auto task = create([] {
    sleep_for(50ms);
    return 7;
  });
  EXPECT_EQ(task.join(), 7);
  EXPECT_LE(request_stats().early_resumes - before, 2U) << "join spun on the coroutine";
}

TEST_P(RequestOn, JoinFromMainEndsWhenALoopTimerCompletesTheWait) {
  auto with_deadline = create([] { return value_after(20ms, 5).get(); });
  EXPECT_EQ(with_deadline.join(deadline_after(30s)), 5);
  auto without = create([] { return value_after(20ms, 6).get(); });
  EXPECT_EQ(without.join(), 6);
}

TEST_P(RequestOn, JoinInsideACoroutineSuspendsTheJoiner) {
  const std::size_t before = request_stats().early_resumes;
  auto outer = spawn([] {
    auto inner = create([] { return value_after(20ms, 8).get(); });
    auto sleeper = create([] {
      sleep_for(20ms);
      return 1;
    });
    return inner.join(30s) + sleeper.join();
  });
  EXPECT_EQ(outer.get(), 9);
  EXPECT_LE(request_stats().early_resumes - before, 2U);
}

TEST_P(RequestOn, PlainYieldInAJoinedTaskLetsTheLoopRun) {
  std::vector<std::string> log;
  auto other = spawn([&log] {
    for (int i = 0; i < 2; ++i) {
      log.push_back("spawned");
      yield();
    }
  });
  auto task = create([&log] {
    for (int i = 0; i < 2; ++i) {
      log.push_back("joined");
      yield();
    }
  });
  task.join();
  other.get();
  const std::vector<std::string> expected = {"joined", "spawned", "joined", "spawned"};
  EXPECT_EQ(log, expected);
}

TEST_P(RequestOn, JoinDrivenByHandFirstStillFinishesThroughTheLoop) {
  auto task = create([] { return value_after(10ms, 3).get(); });
  task.resume();  // now waiting, driven by hand so far
  EXPECT_EQ(task.join(), 3);
}

TEST_P(RequestOn, JoinThatTimesOutUnwindsTheCoroutine) {
  int live = 0;
  auto task = create([&live] {
    test::Counted here(live);
    sleep_for(1h);
  });
  EXPECT_THROW(task.join(20ms), TimedOut);
  EXPECT_EQ(live, 0) << "the coroutine was unwound before TimedOut";
  EXPECT_TRUE(task.done());
  EXPECT_THROW(task.join(), Cancelled);
}

TEST_P(RequestOn, CancellingTheJoinerUnwindsTheJoinedTask) {
  int live = 0;
  auto joiner = spawn([&live] {
    auto task = create([&live] {
      test::Counted here(live);
      sleep_for(1h);
    });
    task.join();
  });
  this_loop().run_until([&] { return live == 1; }, deadline_after(5s));
  ASSERT_EQ(live, 1);
  joiner.cancel();
  EXPECT_THROW(joiner.get(), Cancelled);
  EXPECT_EQ(live, 0);
}

// --- Smaller holes --------------------

TEST_P(RequestOn, MovedFromRequestIsAClearError) {
  Request<int> request;
  Request<int> taken = std::move(request);
  EXPECT_FALSE(request);  // NOLINT(bugprone-use-after-move): what the test is about
  try {
    request.get();  // NOLINT(bugprone-use-after-move)
    FAIL() << "no UsageError";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("get() on a moved-from Request"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW((void)request.done(), UsageError);  // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(request.cancel(), UsageError);      // NOLINT(bugprone-use-after-move)
  taken.set_value(1);
  EXPECT_EQ(taken.get(), 1);
}

TEST_P(RequestOn, CancelledRequestEndsCancelledEvenIfTheBodyReturns) {
  auto request = spawn([] {
    bool cancelled = false;
    try {
      sleep_for(1h);
    } catch (const Cancelled&) {
      cancelled = true;
    }
    return cancelled ? 5 : 0;
  });
  this_loop().run_until([] { return false; }, deadline_after(5ms));
  request.cancel();
  EXPECT_THROW(request.get(), Cancelled);
  EXPECT_TRUE(request.cancelled());
}

TEST_P(SyncOn, TimedOutSaysOnlyWhatTimedOut) {
  Mutex mutex;
  mutex.lock();
  try {
    mutex.lock(deadline_after(5ms));
    FAIL() << "no TimedOut";
  } catch (const TimedOut& error) {
    EXPECT_STREQ(error.what(), "cosync: mutex lock timed out");
    EXPECT_EQ(error.code(), std::errc::timed_out);
  }
  mutex.unlock();
}

// --- Completing from other threads --------------------

TEST_P(RequestOn, CompletersFromManyThreads) {
  const std::size_t threads = 4;
  const std::size_t per_thread = test::scaled(500);
  std::vector<Request<int>> requests;
  std::vector<std::vector<Completer<int>>> work(threads);
  for (std::size_t t = 0; t < threads; ++t) {
    for (std::size_t i = 0; i < per_thread; ++i) {
      requests.emplace_back();
      work[t].push_back(requests.back().completer());
    }
  }
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&work, t] {
      int n = 0;
      for (Completer<int>& completer : work[t]) {
        if (++n % 10 == 0) {
          Completer<int> dropped = std::move(completer);  // destroyed unused: cancels
        } else {
          completer.set_value(n);
        }
      }
    });
  }
  // Half of the waits happen in coroutines, half on the main context.
  auto in_coroutines = spawn([&requests] {
    int cancelled = 0;
    for (std::size_t i = 0; i < requests.size(); i += 2) {
      try {
        requests[i].get();
      } catch (const Cancelled&) {
        ++cancelled;
      }
    }
    return cancelled;
  });
  int cancelled = 0;
  for (std::size_t i = 1; i < requests.size(); i += 2) {
    try {
      requests[i].get();
    } catch (const Cancelled&) {
      ++cancelled;
    }
  }
  cancelled += in_coroutines.get();
  for (std::thread& worker : workers) worker.join();
  EXPECT_EQ(static_cast<std::size_t>(cancelled), threads * (per_thread / 10));
}

TEST_P(RequestOn, CompleterIsUsedOnce) {
  Request<std::unique_ptr<int>> request;
  Completer<std::unique_ptr<int>> completer = request.completer();
  std::thread([&completer] { completer.set_value(std::make_unique<int>(4)); }).join();
  EXPECT_FALSE(completer);
  EXPECT_THROW(completer.cancel(), UsageError);
  EXPECT_EQ(*request.get(), 4);
}

TEST_P(RequestOn, CompleterOfAVoidRequest) {
  Request<void> request;
  std::thread([completer = request.completer()]() mutable { completer.set_value(); }).join();
  EXPECT_NO_THROW(request.get());
}

// --- A wait that nothing can end --------------------
// The built-in loop only: a host adapter's loop has handles cosync cannot
// see, so there the check never fires (Loop::can_wake).

TEST(BuiltinLoop, WaitThatNothingCanEndIsAClearError) {
  Request<int> never;
  try {
    never.get();
    FAIL() << "no UsageError";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("block for ever"), std::string::npos) << error.what();
  }
  int live = 0;
  auto stuck = create([&never, &live] {
    test::Counted here(live);
    return never.get();
  });
  EXPECT_THROW(stuck.join(), UsageError);
  EXPECT_EQ(live, 0) << "the joined coroutine was unwound";
  auto waits_in_coroutine = spawn([&never] { return never.get(); });
  EXPECT_THROW(waits_in_coroutine.get(), UsageError);
}

TEST(BuiltinLoop, CompletersAndPoolJobsKeepTheWaitGoing) {
  Request<int> later;
  std::thread completer_thread([completer = later.completer()]() mutable {
    std::this_thread::sleep_for(20ms);
    completer.set_value(2);
  });
  EXPECT_EQ(later.get(), 2);
  completer_thread.join();
  EXPECT_EQ(offload([] {
              std::this_thread::sleep_for(20ms);
              return 3;
            }),
            3);
  EXPECT_TRUE(this_loop().can_wake() == false) << "every hold was released";
}

// --- Teardown of a thread's loop --------------------

TEST(BuiltinLoop, ThreadExitUnwindsTheCoroutinesSpawnedOnItsLoop) {
  std::atomic<int> unwound{0};
  struct CountsUnwinding {
    std::atomic<int>* unwound;
    ~CountsUnwinding() { ++*unwound; }
  };
  std::thread([&unwound] {
    std::vector<Request<void>> handles;
    for (int i = 0; i < 10; ++i) {
      handles.push_back(spawn([&unwound] {
        const CountsUnwinding guard{&unwound};
        sleep_for(1h);
      }));
    }
    this_loop().run_once(deadline_after(1ms));  // all of them started and wait
    // The handles go at the end of this scope, before the thread's loop:
    // the coroutines are cancelled then and unwound at the loop's teardown.
  }).join();
  EXPECT_EQ(unwound.load(), 10);
  EXPECT_EQ(coroutine_stats().live, 0U);
}

// A process that keeps suspended spawned coroutines in static objects and
// exits normally: the thread's loop unwinds them at exit, and the handles
// destroyed after it find their requests finished.
[[noreturn]] void exit_with_static_handles() {
  static std::vector<Request<void>> handles;
  static TaskGroup group;
  static int unwound = 0;
  struct ReportsUnwinding {
    ~ReportsUnwinding() {
      if (++unwound == 201) std::fprintf(stderr, "all 201 unwound\n");
    }
  };
  for (int i = 0; i < 100; ++i) {
    handles.push_back(spawn([] {
      const ReportsUnwinding guard;
      sleep_for(1h);
    }));
    group.spawn([] {
      const ReportsUnwinding guard;
      sleep_for(1h);
    });
  }
  Request<void> local = spawn([] {
    const ReportsUnwinding guard;
    sleep_for(1h);
  });
  this_loop().run_once(deadline_after(1ms));
  local = Request<void>();  // dropped: cancelled, and unwound at exit
  std::exit(0);
}

TEST(BuiltinLoopDeathTest, ExitWithSuspendedCoroutinesInStaticsIsClean) {
  EXPECT_EXIT(exit_with_static_handles(), testing::ExitedWithCode(0), "all 201 unwound");
}

// Destroying a loop unwinds the coroutines spawned on it, on every backend
// (the built-in loop at thread exit: BuiltinLoop.ThreadExit...). The
// cancellation stays requested, so one that catches Cancelled and waits
// again is cancelled again and unwinds too; the handles stay safe to use
// and to drop after the loop is gone.
TEST_P(RequestOn, DestroyingTheLoopUnwindsItsSpawnedCoroutines) {
  if (GetParam() == test::Backend::epoll) {
    GTEST_SKIP() << "the built-in loop is destroyed at thread exit: "
                    "BuiltinLoop.ThreadExitUnwindsTheCoroutinesSpawnedOnItsLoop";
  }
  int unwound = 0;
  struct CountsUnwinding {
    int& count;
    ~CountsUnwinding() { ++count; }
  };
  Request<void> obedient = spawn([&unwound] {
    const CountsUnwinding counts{unwound};
    sleep_for(1h);
  });
  Request<void> stubborn = spawn([&unwound] {
    const CountsUnwinding counts{unwound};
    try {
      sleep_for(1h);
    } catch (const Cancelled&) {
      sleep_for(1h);  // waits again: cancelled again
    }
  });
  sleep_for(2ms);  // both start and suspend
  ASSERT_FALSE(obedient.done());
  ASSERT_FALSE(stubborn.done());
  harness().destroy_adapter();
  EXPECT_EQ(unwound, 2);
  EXPECT_TRUE(obedient.cancelled());
  EXPECT_TRUE(stubborn.cancelled());
  EXPECT_THROW(stubborn.get(), Cancelled);
  obedient = Request<void>();
  stubborn = Request<void>();
}

COSYNC_INSTANTIATE_BACKENDS(RequestOn);
COSYNC_INSTANTIATE_BACKENDS(TaskGroupOn);
COSYNC_INSTANTIATE_BACKENDS(SyncOn);

}  // namespace
}  // namespace cosync
