// cosync inside an application's own libuv loop: raw libuv callbacks and
// coroutines on one uv_loop_t, driven by the application's uv_run.
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

class LibuvHost : public ::testing::Test {
 protected:
  uv_loop_t* uv() { return harness_.uv(); }

  // The application's own loop, until `done` holds (false after 30 s).
  template <class Predicate>
  bool run_host_until(Predicate done) {
    const Deadline give_up = Clock::now() + 30s;
    while (!done()) {
      if (Clock::now() > give_up) return false;
      uv_run(uv(), UV_RUN_ONCE);
    }
    return true;
  }

  // A raw one-shot libuv timer, due in a millisecond; closed at teardown.
  // After `callback` it stops uv_run: UV_RUN_ONCE runs due timers before
  // it polls, so a timer already due when the run starts would otherwise
  // be followed by a poll with no timeout (the adapter's uv_async keeps
  // the loop alive) and run_host_until would never see the result.
  void start_raw_timer(uv_timer_cb callback, void* data) {
    uv_timer_init(uv(), &raw_timer_.timer);
    raw_timer_.timer.data = data;
    raw_timer_.callback = callback;
    uv_timer_start(
        &raw_timer_.timer,
        [](uv_timer_t* timer) {
          reinterpret_cast<RawTimer*>(timer)->callback(timer);
          uv_stop(timer->loop);
        },
        1, 0);
  }

  void TearDown() override {
    auto* handle = reinterpret_cast<uv_handle_t*>(&raw_timer_.timer);
    if (uv_is_active(handle) || raw_timer_.timer.loop != nullptr) {
      uv_close(handle, nullptr);
    }
  }

  struct RawTimer {
    uv_timer_t timer;  // first: the callback finds the rest from it
    uv_timer_cb callback;
  };

  test::BackendHarness harness_{test::Backend::libuv};
  RawTimer raw_timer_{};
};

TEST_F(LibuvHost, RawCallbackCompletesARequestACoroutineWaitsFor) {
  Request<int> request;
  auto doubled = spawn([request]() mutable { return 2 * request.get(); });
  start_raw_timer(
      [](uv_timer_t* timer) { Request<int>::from_callback_data(timer->data).set_value(21); },
      request.to_callback_data());
  ASSERT_TRUE(run_host_until([&] { return doubled.done(); }));
  EXPECT_EQ(doubled.get(), 42);
}

TEST_F(LibuvHost, CoroutineCompletesWorkARawCallbackWaitsFor) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  struct Received {
    int fd;
    char byte = 0;
  } received{fds[0]};
  uv_poll_t raw;
  ASSERT_EQ(uv_poll_init(uv(), &raw, fds[0]), 0);
  raw.data = &received;
  uv_poll_start(&raw, UV_READABLE, [](uv_poll_t* poll, int status, int) {
    auto* out = static_cast<Received*>(poll->data);
    EXPECT_EQ(status, 0);
    EXPECT_EQ(read(out->fd, &out->byte, 1), 1);
  });
  auto writer = spawn([fd = fds[1]] {
    sleep_for(1ms);
    return write(fd, "c", 1);
  });
  ASSERT_TRUE(run_host_until([&] { return received.byte == 'c'; }));
  EXPECT_EQ(writer.get(), 1);
  uv_close(reinterpret_cast<uv_handle_t*>(&raw), nullptr);
  uv_run(uv(), UV_RUN_NOWAIT);
  close(fds[0]);
  close(fds[1]);
}

TEST_F(LibuvHost, SyncWaitInsideARawCallbackIsAClearError) {
  std::string message;
  start_raw_timer(
      [](uv_timer_t* timer) {
        try {
          Request<int> never;
          never.get();
        } catch (const UsageError& error) {
          *static_cast<std::string*>(timer->data) = error.what();
        }
      },
      &message);
  ASSERT_TRUE(run_host_until([&] { return !message.empty(); }));
  EXPECT_NE(message.find("host loop (libuv)"), std::string::npos) << message;
  EXPECT_EQ(spawn([] { return 7; }).get(), 7) << "the loop still works";
}

TEST_F(LibuvHost, TeardownUnwindsSuspendedCoroutinesAndLeavesLibuv) {
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
  start_raw_timer([](uv_timer_t* timer) { *static_cast<bool*>(timer->data) = true; }, &fired);
  EXPECT_TRUE(run_host_until([&] { return fired; })) << "libuv still runs its own handles";
  close(fds[0]);
  close(fds[1]);
}

TEST_F(LibuvHost, PostStormFromEightThreadsReachesACoroutine) {
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
