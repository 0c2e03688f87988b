// cosync inside an application's own libevent loop: raw libevent callbacks
// and coroutines on one event_base, driven by the application's
// event_base_loop.
#include <event2/event_struct.h>
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

class LibeventHost : public ::testing::Test {
 protected:
  event_base* base() { return harness_.libevent(); }

  // The application's own loop, until `done` holds (false after 30 s).
  template <class Predicate>
  bool run_host_until(Predicate done) {
    const Deadline give_up = Clock::now() + 30s;
    while (!done()) {
      if (Clock::now() > give_up) return false;
      EXPECT_GE(event_base_loop(base(), EVLOOP_ONCE), 0);
    }
    return true;
  }

  // A raw one-shot libevent timer, due in a millisecond.
  void add_raw_timer(event_callback_fn callback, void* data) {
    evtimer_assign(&raw_timer_, base(), callback, data);
    const timeval soon{0, 1000};
    evtimer_add(&raw_timer_, &soon);
  }

  void TearDown() override {
    if (raw_timer_.ev_base != nullptr) event_del(&raw_timer_);
  }

  test::BackendHarness harness_{test::Backend::libevent};
  event raw_timer_{};
};

TEST_F(LibeventHost, RawCallbackCompletesARequestACoroutineWaitsFor) {
  Request<int> request;
  auto doubled = spawn([request]() mutable { return 2 * request.get(); });
  add_raw_timer(
      [](evutil_socket_t, short, void* data) {
        Request<int>::from_callback_data(data).set_value(21);
      },
      request.to_callback_data());
  ASSERT_TRUE(run_host_until([&] { return doubled.done(); }));
  EXPECT_EQ(doubled.get(), 42);
}

TEST_F(LibeventHost, CoroutineCompletesWorkARawCallbackWaitsFor) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  char received = 0;
  event* raw = event_new(
      base(), fds[0], EV_READ | EV_PERSIST,
      [](evutil_socket_t fd, short, void* data) {
        EXPECT_EQ(read(fd, static_cast<char*>(data), 1), 1);
      },
      &received);
  ASSERT_NE(raw, nullptr);
  event_add(raw, nullptr);
  auto writer = spawn([fd = fds[1]] {
    sleep_for(1ms);
    return write(fd, "c", 1);
  });
  ASSERT_TRUE(run_host_until([&] { return received == 'c'; }));
  EXPECT_EQ(writer.get(), 1);
  event_free(raw);
  close(fds[0]);
  close(fds[1]);
}

TEST_F(LibeventHost, SyncWaitInsideARawCallbackIsAClearError) {
  std::string message;
  add_raw_timer(
      [](evutil_socket_t, short, void* data) {
        try {
          Request<int> never;
          never.get();
        } catch (const UsageError& error) {
          *static_cast<std::string*>(data) = error.what();
        }
      },
      &message);
  ASSERT_TRUE(run_host_until([&] { return !message.empty(); }));
  EXPECT_NE(message.find("host loop (libevent)"), std::string::npos) << message;
  EXPECT_EQ(spawn([] { return 7; }).get(), 7) << "the loop still works";
}

TEST_F(LibeventHost, TeardownUnwindsSuspendedCoroutinesAndLeavesLibevent) {
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
  add_raw_timer([](evutil_socket_t, short, void* data) { *static_cast<bool*>(data) = true; },
                &fired);
  EXPECT_TRUE(run_host_until([&] { return fired; })) << "libevent still runs its own events";
  close(fds[0]);
  close(fds[1]);
}

TEST_F(LibeventHost, PostStormFromEightThreadsReachesACoroutine) {
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
