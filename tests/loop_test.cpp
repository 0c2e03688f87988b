// Every loop backend (the built-in epoll loop and the tevent, libuv and
// libevent adapters, see backend_fixture.hpp): immediates, timers,
// cross-thread posts, fd readiness, signals, and the rules about where the
// loop may run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "host_loop_suite.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

using namespace std::chrono_literals;

class LoopOn : public test::BackendTest {};

struct Recorder {
  std::vector<int> order;
};

struct TaggedTimer {
  Timer timer;
  int tag;
  Recorder* recorder;
};

void record_timer(Timer* timer) {
  auto* tagged = static_cast<TaggedTimer*>(timer->data);
  tagged->recorder->order.push_back(tagged->tag);
}

TEST_P(LoopOn, ImmediatesRunInOrderAndCanBeCancelled) {
  Loop& loop = this_loop();
  std::vector<int> order;
  struct Tagged {
    Immediate immediate;
    int tag;
    std::vector<int>* order;
  };
  auto run = [](Immediate* i) {
    auto* t = static_cast<Tagged*>(i->data);
    t->order->push_back(t->tag);
  };
  Tagged a{{run, nullptr}, 1, &order}, b{{run, nullptr}, 2, &order}, c{{run, nullptr}, 3, &order};
  for (Tagged* t : {&a, &b, &c}) {
    t->immediate.data = t;
    loop.post_immediate(t->immediate);
  }
  loop.cancel_immediate(b.immediate);
  loop.run_once();
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST_P(LoopOn, TimersFireInDeadlineOrderAndTiesInInsertionOrder) {
  Loop& loop = this_loop();
  Recorder recorder;
  const Deadline base = Clock::now() + 5ms;
  std::vector<TaggedTimer> timers(5);
  const Deadline dues[] = {base + 3ms, base, base + 1ms, base, base + 1ms};
  for (int i = 0; i < 5; ++i) {
    timers[static_cast<std::size_t>(i)] = TaggedTimer{Timer{}, i, &recorder};
    Timer& timer = timers[static_cast<std::size_t>(i)].timer;
    timer.fn = &record_timer;
    timer.data = &timers[static_cast<std::size_t>(i)];
    timer.due = dues[i];
    loop.add_timer(timer);
  }
  loop.run_until([&] { return recorder.order.size() == 5; }, Clock::now() + 1s);
  EXPECT_EQ(recorder.order, (std::vector<int>{1, 3, 2, 4, 0}));
  EXPECT_GE(Clock::now(), base + 3ms) << "nothing fires before its deadline";
}

// Enough timers for several levels of the heap, with ties, re-arms and
// cancels: they fire in (deadline, last arming) order, the cancelled never.
TEST_P(LoopOn, ManyTimersFireInDeadlineOrderAfterReArmsAndCancels) {
  constexpr int kCount = 3000;
  Loop& loop = this_loop();
  Recorder recorder;
  std::vector<TaggedTimer> timers(kCount);
  std::mt19937 random(15);
  std::uniform_int_distribution<int> offset_us(0, 500);  // many ties
  const Deadline base = Clock::now();
  int arming = 0;
  std::vector<int> armed_at(kCount);
  const auto arm = [&](int i) {
    TaggedTimer& tagged = timers[static_cast<std::size_t>(i)];
    tagged.timer.due = base + std::chrono::microseconds(offset_us(random));
    loop.add_timer(tagged.timer);
    armed_at[static_cast<std::size_t>(i)] = arming++;
  };
  for (int i = 0; i < kCount; ++i) {
    timers[static_cast<std::size_t>(i)] = TaggedTimer{Timer{}, i, &recorder};
    timers[static_cast<std::size_t>(i)].timer.fn = &record_timer;
    timers[static_cast<std::size_t>(i)].timer.data = &timers[static_cast<std::size_t>(i)];
    arm(i);
  }
  for (int i = 0; i < kCount; i += 7) {
    arm(i);  // re-armed while armed: a new deadline, and last among its ties
  }
  for (int i = 0; i < kCount; i += 3) {
    loop.cancel_timer(timers[static_cast<std::size_t>(i)].timer);
  }
  std::vector<std::tuple<Deadline, int, int>> order;
  for (int i = 0; i < kCount; ++i) {
    if (i % 3 != 0) {
      order.emplace_back(timers[static_cast<std::size_t>(i)].timer.due,
                         armed_at[static_cast<std::size_t>(i)], i);
    }
  }
  std::sort(order.begin(), order.end());
  std::vector<int> want;
  for (const auto& entry : order) {
    want.push_back(std::get<2>(entry));
  }
  loop.run_until([&] { return recorder.order.size() >= want.size(); }, Clock::now() + 5s);
  EXPECT_EQ(recorder.order, want);
}

TEST_P(LoopOn, ZeroPastAndFarDeadlinesBehave) {
  Loop& loop = this_loop();
  Recorder recorder;
  TaggedTimer past{Timer{}, 1, &recorder}, now{Timer{}, 2, &recorder}, far{Timer{}, 3, &recorder};
  for (TaggedTimer* t : {&past, &now, &far}) {
    t->timer.fn = &record_timer;
    t->timer.data = t;
  }
  past.timer.due = Clock::now() - 1h;
  now.timer.due = Clock::now();
  far.timer.due = deadline_after(std::chrono::hours(24 * 365 * 100));
  loop.add_timer(past.timer);
  loop.add_timer(now.timer);
  loop.add_timer(far.timer);
  loop.run_once(Clock::now() + 50ms);
  EXPECT_EQ(recorder.order, (std::vector<int>{1, 2}));
  EXPECT_TRUE(far.timer.armed());
  loop.cancel_timer(far.timer);
  EXPECT_FALSE(far.timer.armed());
  EXPECT_EQ(deadline_after(Clock::duration::max()), no_deadline) << "saturates";
}

TEST_P(LoopOn, PostsFromEightThreadsAreNeverLost) {
  Loop& loop = this_loop();
  const std::size_t per_thread = test::scaled(100000);
  constexpr int kThreads = 8;
  std::size_t received = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&loop, &received, per_thread] {
      for (std::size_t i = 0; i < per_thread; ++i) {
        loop.post([&received] { ++received; });
      }
    });
  }
  const std::size_t expected = per_thread * kThreads;
  EXPECT_TRUE(loop.run_until([&] { return received == expected; }, Clock::now() + 60s));
  for (auto& thread : threads) thread.join();
  loop.run_once(Clock::now());
  EXPECT_EQ(received, expected);
}

TEST_P(LoopOn, RunStopsWhenAskedFromAnotherThread) {
  Loop& loop = this_loop();
  std::thread stopper([&loop] { loop.post([&loop] { loop.stop(); }); });
  loop.run();
  stopper.join();
  SUCCEED() << "run() returned after stop()";
}

class PipeOn : public test::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    ASSERT_EQ(pipe2(fds_, O_NONBLOCK | O_CLOEXEC), 0);
  }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) {
        this_loop().forget_fd(fd);
        close(fd);
      }
    }
    BackendTest::TearDown();
  }
  int fds_[2] = {-1, -1};
};

TEST_P(PipeOn, ReadinessWaitFromMainAndFromACoroutine) {
  ASSERT_EQ(write(fds_[1], "x", 1), 1);
  wait_io(fds_[0], io_readable, deadline_after(1s));  // from main: runs the loop
  char byte = 0;
  ASSERT_EQ(read(fds_[0], &byte, 1), 1);
  auto reader = spawn([fd = fds_[0]] {
    wait_io(fd, io_readable, deadline_after(5s));
    char got = 0;
    return read(fd, &got, 1) == 1 ? got : '?';
  });
  this_loop().run_once(Clock::now() + 10ms);
  EXPECT_FALSE(reader.done());
  ASSERT_EQ(write(fds_[1], "y", 1), 1);
  EXPECT_EQ(reader.get(), 'y');
}

TEST_P(PipeOn, ForgettingAnFdEndsItsWaitWithAClearError) {
  auto reader = spawn([fd = fds_[0]] { wait_io(fd, io_readable); });
  this_loop().run_once(Clock::now());
  this_loop().forget_fd(fds_[0]);
  try {
    reader.get();  // no timer, which would flush a lost wake-up: that hangs
    FAIL() << "the wait did not end in an error";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), ECANCELED);
    EXPECT_NE(std::string(error.what()).find("fd " + std::to_string(fds_[0])), std::string::npos);
  }
}

// A spawned coroutine's fd wait without a deadline takes the short path
// (the loop's callback schedules the coroutine itself): it must still
// deliver a cancel at the wait and give the fd's reader slot back.
TEST_P(PipeOn, CancellingAnFdWaitWithoutDeadlineUnwindsAndFreesTheFd) {
  int unwound = 0;
  struct Counter {
    int& count;
    ~Counter() { ++count; }
  };
  auto reader = spawn([&unwound, fd = fds_[0]] {
    const Counter counter{unwound};
    wait_io(fd, io_readable);
  });
  this_loop().run_once(Clock::now());
  reader.cancel();
  EXPECT_THROW(reader.get(deadline_after(5s)), Cancelled);
  EXPECT_EQ(unwound, 1);
  ASSERT_EQ(write(fds_[1], "z", 1), 1);
  auto next = spawn([fd = fds_[0]] { wait_io(fd, io_readable); });
  EXPECT_NO_THROW(next.get(deadline_after(5s)));
}

// wait_io is level triggered on every backend, the edge-triggered epoll
// loop included: bytes left after a partial read make the next wait return
// at once, and once they are read the wait is real again.
TEST_P(PipeOn, WaitIoReturnsAtOnceWhileBytesAreLeft) {
  ASSERT_EQ(write(fds_[1], "ab", 2), 2);
  auto reader = spawn([fd = fds_[0]] {
    std::string got;
    char byte = 0;
    for (int i = 0; i < 2; ++i) {
      wait_io(fd, io_readable, deadline_after(5s));
      if (read(fd, &byte, 1) == 1) got += byte;
    }
    try {
      wait_io(fd, io_readable, deadline_after(20ms));
      got += " not drained";
    } catch (const TimedOut&) {
      got += " drained";
    }
    return got;
  });
  EXPECT_EQ(reader.get(deadline_after(10s)), "ab drained");
  ASSERT_EQ(write(fds_[1], "c", 1), 1);
  auto next = spawn([fd = fds_[0]] {
    wait_io(fd, io_readable, deadline_after(5s));
    char byte = 0;
    return read(fd, &byte, 1) == 1 ? byte : '?';
  });
  EXPECT_EQ(next.get(deadline_after(5s)), 'c');
}

// wait_io_edge trusts the caller's cache keeping: after EAGAIN and
// io_not_ready it waits for the next report, which new bytes bring.
TEST_P(PipeOn, WaitIoEdgeWaitsForTheReportAfterADrain) {
  ASSERT_EQ(fcntl(fds_[0], F_SETFL, O_NONBLOCK), 0);
  auto reader = spawn([fd = fds_[0]] {
    char byte = 0;
    EXPECT_EQ(read(fd, &byte, 1), -1);
    EXPECT_EQ(errno, EAGAIN);
    this_loop().io_not_ready(fd, io_readable);
    wait_io_edge(fd, io_readable, deadline_after(5s));
    return read(fd, &byte, 1) == 1 ? byte : '?';
  });
  this_loop().run_once(Clock::now());
  EXPECT_FALSE(reader.done());
  ASSERT_EQ(write(fds_[1], "e", 1), 1);
  EXPECT_EQ(reader.get(deadline_after(5s)), 'e');
}

TEST_P(PipeOn, AStrayResumeOfAnFdWaitGoesBackToWaiting) {
  impl::Scheduling* scheduling = nullptr;
  auto reader = spawn([&scheduling, fd = fds_[0]] {
    scheduling = impl::scheduling_of(current());
    wait_io(fd, io_readable);
  });
  this_loop().run_once(Clock::now());
  ASSERT_NE(scheduling, nullptr);
  const std::size_t before = request_stats().early_resumes;
  this_loop().post_immediate(scheduling->step);  // a wake-up nobody sent
  this_loop().run_once(Clock::now());
  EXPECT_FALSE(reader.done());
  EXPECT_EQ(request_stats().early_resumes, before + 1);
  ASSERT_EQ(write(fds_[1], "w", 1), 1);
  EXPECT_NO_THROW(reader.get(deadline_after(5s)));
}

TEST_P(PipeOn, SecondReaderOnOneFdIsRefused) {
  auto first = spawn([fd = fds_[0]] { wait_io(fd, io_readable); });
  this_loop().run_once(Clock::now());
  try {
    wait_io(fds_[0], io_readable, deadline_after(10ms));
    FAIL() << "a second reader was accepted";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EBUSY);
  }
  first.cancel();
  this_loop().run_until([&] { return first.done(); });
}

// The readiness cache lives in the backend's fd records, which move when
// the table grows: what io_ready answers must move with them.
TEST_P(LoopOn, TheReadinessCacheFollowsTheFdTableAsItGrows) {
  Loop& loop = this_loop();
  int low[2];
  ASSERT_EQ(pipe2(low, O_NONBLOCK | O_CLOEXEC), 0);
  EXPECT_TRUE(loop.io_ready(low[0], io_readable)) << "never waited on: try the operation";
  loop.io_not_ready(low[0], io_readable);
  EXPECT_FALSE(loop.io_ready(low[0], io_readable));
  const int high = fcntl(low[0], F_DUPFD_CLOEXEC, 700);  // far past the table's first records
  ASSERT_GE(high, 700);
  EXPECT_TRUE(loop.io_ready(high, io_readable));
  loop.io_not_ready(high, io_readable);
  EXPECT_FALSE(loop.io_ready(high, io_readable));
  EXPECT_FALSE(loop.io_ready(low[0], io_readable)) << "the low fd's record lost in the move";
  ASSERT_EQ(write(low[1], "r", 1), 1);
  wait_io_edge(low[0], io_readable, deadline_after(5s));
  EXPECT_TRUE(loop.io_ready(low[0], io_readable)) << "a report sets it again";
  loop.forget_fd(high);
  close(high);
  loop.forget_fd(low[0]);
  EXPECT_TRUE(loop.io_ready(low[0], io_readable)) << "forgotten: nothing known";
  close(low[0]);
  close(low[1]);
}

TEST_P(LoopOn, WaitingOnAClosedFdIsAClearError) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  close(fds[1]);
  EXPECT_THROW(wait_io(fds[0], io_readable, deadline_after(10ms)), std::system_error);
}

// One readiness report says "readable and writable" for fd `a`. The reader
// runs first (a host adapter runs it inside the report's dispatch), closes
// `a` and gets the same fd number for a new socket whose send buffer is
// full: the report's "writable" must not reach a wait on the new socket.
TEST_P(LoopOn, AReportForAClosedFdDoesNotReachItsReusedNumber) {
  int a[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a), 0);
  ASSERT_EQ(write(a[1], "x", 1), 1);
  int b[2] = {-1, -1};
  auto writer = spawn([fd = a[0]] {
    try {
      wait_io_edge(fd, io_writable);
    } catch (const std::system_error&) {
      // ECANCELED when the reader closed the fd first: either is fine.
    }
  });
  auto reader = spawn([&a, &b] {
    wait_io_edge(a[0], io_readable);
    const int number = a[0];
    this_loop().forget_fd(a[0]);
    close(a[0]);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b) != 0 ||
        b[0] != number) {
      return std::string("the test needs the fd number reused");
    }
    const std::string chunk(4096, 'z');
    while (write(b[0], chunk.data(), chunk.size()) > 0) {
    }
    try {
      wait_io(b[0], io_writable, deadline_after(100ms));
      return std::string("a wait on the new socket ended as writable");
    } catch (const TimedOut&) {
      return std::string("timed out");
    }
  });
  EXPECT_EQ(reader.get(deadline_after(10s)), "timed out");
  writer.get(deadline_after(10s));
  this_loop().forget_fd(b[0]);
  for (int fd : {a[1], b[0], b[1]}) {
    if (fd >= 0) close(fd);
  }
}

TEST_P(LoopOn, SignalsAreDeliveredThroughTheLoop) {
  auto waiter = spawn([] {
    wait_signal(SIGUSR1, deadline_after(5s));
    return true;
  });
  this_loop().run_once(Clock::now());
  pthread_kill(pthread_self(), SIGUSR1);
  EXPECT_TRUE(waiter.get());
}

void ignore_signal(int) {}

TEST_P(LoopOn, InterruptedSleepStillWakesOnTime) {
  struct sigaction action {};
  action.sa_handler = &ignore_signal;  // no SA_RESTART: epoll_wait gets EINTR
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  sigaction(SIGUSR2, &action, &previous);
  const pthread_t loop_thread = pthread_self();
  std::atomic<bool> done{false};
  std::thread pester([&] {
    while (!done) {
      pthread_kill(loop_thread, SIGUSR2);
      std::this_thread::sleep_for(1ms);
    }
  });
  const Deadline due = Clock::now() + 50ms;
  sleep_until(due);
  const Deadline woke = Clock::now();
  done = true;
  pester.join();
  sigaction(SIGUSR2, &previous, nullptr);
  EXPECT_GE(woke, due);
  EXPECT_LT(woke, due + 1s);
}

TEST_P(LoopOn, RunningTheLoopInsideItsOwnCallbackIsRefused) {
  Loop& loop = this_loop();
  std::string message;
  Immediate nested;
  nested.data = &message;
  nested.fn = [](Immediate* self) {
    try {
      this_loop().run_once();
    } catch (const UsageError& error) {
      *static_cast<std::string*>(self->data) = error.what();
    }
  };
  loop.post_immediate(nested);
  loop.run_once();
  EXPECT_NE(message.find("own callbacks"), std::string::npos) << message;
}

TEST_P(LoopOn, RunningTheLoopOnACoroutineStackIsRefused) {
  auto task = create([] { this_loop().run_once(); });
  EXPECT_THROW(task.join(), UsageError);
}

// ---- the built-in loop only ----

// The lowest fd number free right now (dup takes the lowest).
int lowest_free_fd() {
  const int fd = dup(STDERR_FILENO);
  close(fd);
  return fd;
}

TEST(BuiltinLoop, ItsOwnFdsLeaveTheLowNumbersToTheProgram) {
  int before = -1;
  int after = -1;
  std::thread([&] {
    before = lowest_free_fd();
    (void)this_loop();  // a fresh thread: its first use creates the loop
    after = lowest_free_fd();
  }).join();
  EXPECT_EQ(after, before) << "the loop took fd " << before;
}

TEST(BuiltinLoop, AWaitOnAJustClosedNumberDoesNotReachTheLoopsEventfd) {
  std::string outcome;
  std::thread([&] {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return;
    close(fds[0]);
    close(fds[1]);
    (void)this_loop();
    try {
      wait_io(fds[0], io_readable, deadline_after(10ms));
      outcome = "ready";
    } catch (const TimedOut&) {
      outcome = "timed out";
    } catch (const std::system_error& error) {
      outcome = error.code() == std::errc::bad_file_descriptor ? "EBADF" : error.what();
    }
  }).join();
  EXPECT_EQ(outcome, "EBADF");
}

// A burst of immediates (100,000 coroutine starts) must not keep
// a timer that expires meanwhile waiting until the whole burst has run.
TEST(BuiltinLoop, AnExpiredTimerRunsBeforeABurstOfImmediatesEnds) {
  constexpr int kBurst = 20000;
  struct Burst {
    std::vector<Immediate> immediates = std::vector<Immediate>(kBurst);
    Timer timer;
    int ran = 0;
    bool in_order = true;
    int ran_when_timer_fired = -1;
  } burst;
  burst.timer.data = &burst;
  burst.timer.fn = [](Timer* timer) {
    auto* self = static_cast<Burst*>(timer->data);
    self->ran_when_timer_fired = self->ran;
  };
  Loop& loop = this_loop();
  for (Immediate& immediate : burst.immediates) {
    immediate.data = &burst;
    immediate.fn = [](Immediate* self) {
      auto* owner = static_cast<Burst*>(self->data);
      owner->in_order = owner->in_order && self == &owner->immediates[owner->ran];
      if (owner->ran++ == 0) {
        owner->timer.due = Deadline{};  // long past: expired before the burst goes on
        this_loop().add_timer(owner->timer);
      }
    };
    loop.post_immediate(immediate);
  }
  loop.run_until([&] { return burst.ran == kBurst && burst.ran_when_timer_fired >= 0; });
  EXPECT_GT(burst.ran_when_timer_fired, 0);
  EXPECT_LT(burst.ran_when_timer_fired, kBurst) << "the timer waited for the whole burst";
  EXPECT_TRUE(burst.in_order) << "the burst's immediates ran out of posting order";
}

// What a timer posts runs ahead of the immediates queued before the
// iteration; a timer that cancels all of those leaves only its own.
TEST(BuiltinLoop, ATimersImmediateRunsAheadOfTheBacklogAndCancelsStayCancelled) {
  for (const bool cancel_backlog : {false, true}) {
    SCOPED_TRACE(cancel_backlog ? "backlog cancelled" : "backlog kept");
    struct Scene {
      std::vector<Immediate> backlog = std::vector<Immediate>(10);
      Immediate posted;
      Timer timer;
      bool cancel_backlog = false;
      std::vector<int> order;  // -1: the timer's immediate
    } scene;
    scene.cancel_backlog = cancel_backlog;
    Loop& loop = this_loop();
    for (std::size_t i = 0; i < scene.backlog.size(); ++i) {
      scene.backlog[i].data = &scene;
      scene.backlog[i].fn = [](Immediate* self) {
        auto* owner = static_cast<Scene*>(self->data);
        owner->order.push_back(static_cast<int>(self - owner->backlog.data()));
      };
      loop.post_immediate(scene.backlog[i]);
    }
    scene.posted.data = &scene;
    scene.posted.fn = [](Immediate* self) { static_cast<Scene*>(self->data)->order.push_back(-1); };
    scene.timer.data = &scene;
    scene.timer.fn = [](Timer* timer) {
      auto* owner = static_cast<Scene*>(timer->data);
      if (owner->cancel_backlog) {
        for (Immediate& immediate : owner->backlog) this_loop().cancel_immediate(immediate);
      }
      this_loop().post_immediate(owner->posted);
    };
    scene.timer.due = Deadline{};
    loop.add_timer(scene.timer);
    loop.run_once();
    const std::vector<int> want =
        cancel_backlog ? std::vector<int>{-1} : std::vector<int>{-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    EXPECT_EQ(scene.order, want);
    loop.run_once(Clock::now());
    EXPECT_EQ(scene.order, want) << "a cancelled immediate ran later";
  }
}

// The coroutine an fd wakes resumes ahead of coroutine starts queued before
// its fd became readable.
TEST(BuiltinLoop, ACoroutineAnFdWakesOvertakesABurstOfStarts) {
  // Four times the loop's per-iteration budget of left-over immediates
  // (1024), and below TSan's limit of 8,128 live fibers (one per coroutine).
  constexpr int kBurst = 4096;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  int started = 0;
  int started_when_woken = -1;
  Request<void> reader = spawn([&] {
    wait_io(fds[0], io_readable);
    started_when_woken = started;
  });
  Loop& loop = this_loop();
  loop.run_once();  // the reader starts and waits
  ASSERT_EQ(started_when_woken, -1);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  std::vector<Request<void>> burst;
  burst.reserve(kBurst);
  for (int i = 0; i < kBurst; ++i) {
    burst.push_back(spawn([&started] { ++started; }));
  }
  loop.run_until([&] { return started == kBurst && started_when_woken >= 0; });
  EXPECT_LT(started_when_woken, kBurst) << "the woken reader waited for every start";
  loop.forget_fd(fds[0]);
  close(fds[0]);
  close(fds[1]);
}

TEST(BuiltinLoop, AWaitForNoEventIsRefused) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  EXPECT_THROW(wait_io(fds[0], 0, deadline_after(50ms)), std::invalid_argument);
  close(fds[0]);
  close(fds[1]);
}

// A pipe whose read end the loop has registered (a wait on it timed out).
void pipe_the_loop_watched(int fds[2]) {
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  EXPECT_THROW(wait_io(fds[0], io_readable, deadline_after(1ms)), TimedOut);
}

TEST(BuiltinLoop, AWaitOnAReusedNumberClosedWithoutForgetFdWakesAndSaysWhy) {
  testing::internal::CaptureStderr();  // first: it opens fds of its own
  int old_fds[2];
  pipe_the_loop_watched(old_fds);
  close(old_fds[0]);  // no forget_fd: the loop's registration is stale
  close(old_fds[1]);
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(fds[0], old_fds[0]) << "the test needs the number reused";
  auto writer = spawn([fd = fds[1]] {
    sleep_for(20ms);
    return write(fd, "x", 1);
  });
  std::string outcome = "ready";
  try {
    wait_io(fds[0], io_readable, deadline_after(20s));
  } catch (const std::exception& error) {
    outcome = error.what();
  }
  const std::string report = testing::internal::GetCapturedStderr();
  EXPECT_EQ(outcome, "ready");
  EXPECT_EQ(writer.get(), 1);
  EXPECT_NE(report.find("fd " + std::to_string(fds[0]) + " was closed without forget_fd"),
            std::string::npos)
      << report;
  this_loop().forget_fd(fds[0]);
  close(fds[0]);
  close(fds[1]);
}

TEST(BuiltinLoop, AWaitOnANumberClosedWithoutForgetFdEndsWithEbadf) {
  int fds[2];
  pipe_the_loop_watched(fds);
  close(fds[0]);  // no forget_fd, and nothing takes the number
  close(fds[1]);
  std::error_code ended;
  try {
    wait_io(fds[0], io_readable, deadline_after(20s));
  } catch (const std::system_error& error) {
    ended = error.code();
  }
  EXPECT_EQ(ended, std::errc::bad_file_descriptor) << ended.message();
  this_loop().forget_fd(fds[0]);
}

// Many threads post to one loop while coroutines on it wait for what the
// posts complete: a race between the posters and the loop is what the
// TSan build (COSYNC_TSAN, .ci/run) reports.
TEST(BuiltinLoop, PostsFromManyThreadsWakeWaitingCoroutines) {
  Loop& loop = this_loop();
  constexpr int kThreads = 8;
  const int per_thread = static_cast<int>(test::scaled(2000));
  std::vector<Event> events(kThreads);
  std::vector<int> counts(kThreads, 0);  // written only on the loop's thread
  std::vector<Request<int>> waiters;
  for (int t = 0; t < kThreads; ++t) {
    waiters.push_back(spawn([&, t] {
      events[static_cast<std::size_t>(t)].wait(deadline_after(60s));
      return counts[static_cast<std::size_t>(t)];
    }));
  }
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      const auto index = static_cast<std::size_t>(t);
      for (int i = 0; i < per_thread; ++i) {
        loop.post([&counts, &events, index, i, per_thread] {
          ++counts[index];
          if (i == per_thread - 1) events[index].set();
        });
      }
    });
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(waiters[static_cast<std::size_t>(t)].get(deadline_after(60s)), per_thread);
  }
  for (auto& poster : posters) poster.join();
}

COSYNC_INSTANTIATE_BACKENDS(LoopOn);
COSYNC_INSTANTIATE_BACKENDS(PipeOn);

// The built-in loop says whether anything could still wake it: what a
// main-context wait without deadline asks before it sleeps (Loop::can_wake).
TEST(BuiltinLoop, CanWakeOnlyWhileSomethingCouldWakeIt) {
  std::thread([] {  // a fresh thread: a fresh loop
    Loop& loop = this_loop();
    EXPECT_FALSE(loop.can_wake());
    Timer timer;
    timer.fn = [](Timer*) {};
    timer.due = deadline_after(1h);
    loop.add_timer(timer);
    EXPECT_TRUE(loop.can_wake());
    loop.cancel_timer(timer);
    Immediate immediate;
    immediate.fn = [](Immediate*) {};
    loop.post_immediate(immediate);
    EXPECT_TRUE(loop.can_wake());
    loop.cancel_immediate(immediate);
    loop.hold_open();
    EXPECT_TRUE(loop.can_wake());
    loop.release_hold();
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    IoWait io;
    io.fn = [](IoWait*) {};
    io.fd = fds[0];
    io.events = io_readable;
    loop.wait_io(io);
    EXPECT_TRUE(loop.can_wake());
    loop.cancel_io(io);
    EXPECT_FALSE(loop.can_wake());
    loop.wait_io(io);
    loop.forget_fd(fds[0]);  // ends the wait (ECANCELED)
    EXPECT_FALSE(loop.can_wake());
    close(fds[0]);
    close(fds[1]);
  })
      .join();
}

// --- HostLoopSuite: every loop kind, as an application drives it. --------

template <class Host>
class HostLoopSuite : public ::testing::Test {
 protected:
  Host host_;
};

#if COSYNC_TEST_TEVENT
#define COSYNC_TEST_TEVENT_HOST , test::host_loop::TeventHost
#else
#define COSYNC_TEST_TEVENT_HOST
#endif
#if COSYNC_TEST_LIBUV
#define COSYNC_TEST_LIBUV_HOST , test::host_loop::LibuvHost
#else
#define COSYNC_TEST_LIBUV_HOST
#endif
#if COSYNC_TEST_LIBEVENT
#define COSYNC_TEST_LIBEVENT_HOST , test::host_loop::LibeventHost
#else
#define COSYNC_TEST_LIBEVENT_HOST
#endif
using Hosts = ::testing::Types<test::host_loop::BuiltinHost COSYNC_TEST_TEVENT_HOST
                                   COSYNC_TEST_LIBUV_HOST COSYNC_TEST_LIBEVENT_HOST>;

// Names each instance after its host: HostLoopSuite/tevent.
struct HostName {
  template <class Host>
  static std::string GetName(int /*index*/) {
    return Host::kName;
  }
};
TYPED_TEST_SUITE(HostLoopSuite, Hosts, HostName);

namespace scenario = test::host_loop;

TYPED_TEST(HostLoopSuite, RawCallbackCompletesARequestACoroutineWaitsFor) {
  scenario::raw_callback_completes_a_request_a_coroutine_waits_for(this->host_);
}

TYPED_TEST(HostLoopSuite, CoroutineCompletesWorkARawCallbackWaitsFor) {
  scenario::coroutine_completes_work_a_raw_callback_waits_for(this->host_);
}

TYPED_TEST(HostLoopSuite, SyncWaitInsideARawCallbackIsAClearError) {
  scenario::sync_wait_inside_a_raw_callback_is_a_clear_error(this->host_);
}

TYPED_TEST(HostLoopSuite, DestroyingTheLoopUnwindsSuspendedCoroutinesAndLeavesTheHost) {
  scenario::teardown_unwinds_suspended_coroutines_and_leaves_the_host(this->host_);
}

TYPED_TEST(HostLoopSuite, PostStormFromEightThreadsReachesACoroutine) {
  scenario::post_storm_from_eight_threads_reaches_a_coroutine(this->host_);
}

}  // namespace
}  // namespace cosync
