// cosync inside an application's own tevent loop: raw tevent handlers and
// coroutines on one tevent_context, driven by the application's
// tevent_loop_once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

using namespace std::chrono_literals;

struct Counted {
  explicit Counted(int& live) : live_(&live) { ++*live_; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --*live_; }

 private:
  int* live_;
};

class TeventHost : public ::testing::Test {
 protected:
  tevent_context* ev() { return harness_.tevent(); }

  // The application's own loop, until `done` holds (false after 30 s).
  template <class Predicate>
  bool run_host_until(Predicate done) {
    const Deadline give_up = Clock::now() + 30s;
    while (!done()) {
      if (Clock::now() > give_up) return false;
      EXPECT_EQ(tevent_loop_once(ev()), 0);
    }
    return true;
  }

  // A raw tevent timer, due in a millisecond.
  void add_raw_timer(tevent_timer_handler_t handler, void* data) {
    ASSERT_NE(tevent_add_timer(ev(), ev(), tevent_timeval_current_ofs(0, 1000), handler, data),
              nullptr);
  }

  test::BackendHarness harness_{test::Backend::tevent};
};

TEST_F(TeventHost, RawHandlerCompletesARequestACoroutineWaitsFor) {
  Request<int> request;
  auto doubled = spawn([request]() mutable { return 2 * request.get(); });
  add_raw_timer(
      [](tevent_context*, tevent_timer*, timeval, void* data) {
        Request<int>::from_callback_data(data).set_value(21);
      },
      request.to_callback_data());
  ASSERT_TRUE(run_host_until([&] { return doubled.done(); }));
  EXPECT_EQ(doubled.get(), 42);
}

TEST_F(TeventHost, CoroutineCompletesWorkARawHandlerWaitsFor) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  struct Received {
    int fd;
    char byte = 0;
  } received{fds[0]};
  tevent_fd* raw = tevent_add_fd(
      ev(), ev(), fds[0], TEVENT_FD_READ,
      [](tevent_context*, tevent_fd*, uint16_t, void* data) {
        auto* out = static_cast<Received*>(data);
        EXPECT_EQ(read(out->fd, &out->byte, 1), 1);
      },
      &received);
  ASSERT_NE(raw, nullptr);
  auto writer = spawn([fd = fds[1]] {
    sleep_for(1ms);
    return write(fd, "c", 1);
  });
  ASSERT_TRUE(run_host_until([&] { return received.byte == 'c'; }));
  EXPECT_EQ(writer.get(), 1);
  talloc_free(raw);
  close(fds[0]);
  close(fds[1]);
}

TEST_F(TeventHost, SyncWaitInsideARawHandlerIsAClearError) {
  std::string message;
  add_raw_timer(
      [](tevent_context*, tevent_timer*, timeval, void* data) {
        try {
          Request<int> never;
          never.get();
        } catch (const UsageError& error) {
          *static_cast<std::string*>(data) = error.what();
        }
      },
      &message);
  ASSERT_TRUE(run_host_until([&] { return !message.empty(); }));
  EXPECT_NE(message.find("host loop (tevent)"), std::string::npos) << message;
  EXPECT_EQ(spawn([] { return 7; }).get(), 7) << "the loop still works";
}

TEST_F(TeventHost, TeardownUnwindsSuspendedCoroutinesAndLeavesTevent) {
  int live = 0;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  Request<int> never;
  auto sleeper = spawn([&live] {
    Counted here(live);
    sleep_for(1h);
  });
  auto reader = spawn([&live, fd = fds[0]] {
    Counted here(live);
    wait_io(fd, io_readable);
  });
  auto blocked = spawn([&live, never]() mutable {
    Counted here(live);
    return never.get();
  });
  ASSERT_TRUE(run_host_until([&] { return live == 3; }));
  harness_.destroy_adapter();
  EXPECT_EQ(live, 0) << "every suspended stack unwound";
  EXPECT_TRUE(sleeper.cancelled() && reader.cancelled() && blocked.cancelled());
  bool fired = false;
  add_raw_timer([](tevent_context*, tevent_timer*, timeval,
                   void* data) { *static_cast<bool*>(data) = true; },
                &fired);
  EXPECT_TRUE(run_host_until([&] { return fired; })) << "tevent still runs its own events";
  close(fds[0]);
  close(fds[1]);
}

// The wake-up of a post is still scheduled from its thread when the adapter
// and then the context go away (tevent aborts when such an immediate is
// freed). The storm below ends like this whenever a poster schedules its
// wake-up after its post already ran in an earlier batch.
TEST_F(TeventHost, ContextFreedWithAWakeUpStillScheduled) {
  Loop& loop = this_loop();
  bool ran = false;
  std::thread([&] { loop.post([&] { ran = true; }); }).join();
  harness_.destroy_adapter();
  EXPECT_FALSE(ran) << "a post left when the adapter goes away is dropped";
}

TEST_F(TeventHost, PostStormFromEightThreadsReachesACoroutine) {
  Loop& loop = this_loop();
  const std::size_t per_thread = test::scaled(20000);
  constexpr int kThreads = 8;
  const std::size_t expected = per_thread * kThreads;
  std::size_t received = 0;
  Event all_in;
  auto counter = spawn([&] {
    all_in.wait();
    return received;
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = 0; i < per_thread; ++i) {
        loop.post([&] {
          if (++received == expected) all_in.set();
        });
      }
    });
  }
  EXPECT_TRUE(run_host_until([&] { return counter.done(); }));
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.get(), expected);
}

}  // namespace
}  // namespace cosync
