// The loop kinds as an application drives them, and the scenarios they all
// share: raw callbacks of the application's own (host timers and fd
// watchers, or the built-in loop's own nodes) and coroutines on one loop.
// loop_test.cpp runs every scenario over every kind as one typed suite
// (HostLoopSuite); the per-adapter test files use the hosts for what only
// one host has.
//
// A host provides (public):
//
//   static constexpr const char* kName;            // "tevent", "epoll"
//   static constexpr const char* kNestedRunError;  // in a nested wait's UsageError
//   static constexpr bool kEndsWithItsThread;      // the built-in loop's teardown
//   BackendHarness& harness();
//   void run_once();  // one iteration of the application's own loop
//   // A raw timer, due in a millisecond (one at a time).
//   void add_raw_timer(void (*callback)(void* data), void* data);
//   // A raw read watcher on `fd` (one at a time), and its removal.
//   void watch_readable(int fd, void (*callback)(void* data), void* data);
//   void stop_watching();
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "test_util.hpp"

#if COSYNC_TEST_LIBEVENT
#include <event2/event_struct.h>
#endif

namespace cosync::test::host_loop {

using test::Counted;

// The built-in loop, driven as an application that owns no other loop
// drives it: its raw callbacks are the loop's own Timer and IoWait.
class BuiltinHost {
 public:
  static constexpr const char* kName = "epoll";
  // What the UsageError of a wait inside a raw callback says.
  static constexpr const char* kNestedRunError = "inside one of the loop's own callbacks";
  // The built-in loop is torn down at its thread's exit.
  static constexpr bool kEndsWithItsThread = true;

  BuiltinHost() = default;
  BuiltinHost(const BuiltinHost&) = delete;
  BuiltinHost& operator=(const BuiltinHost&) = delete;
  ~BuiltinHost() {
    this_loop().cancel_timer(raw_timer_);
    stop_watching();
  }

  BackendHarness& harness() { return harness_; }

  // One iteration of the application's own loop.
  void run_once() { this_loop().run_once(); }

  // A raw one-shot timer of the loop's own, due in a millisecond.
  void add_raw_timer(void (*callback)(void* data), void* data) {
    timer_callback_ = {callback, data};
    raw_timer_.fn = [](Timer* timer) { static_cast<RawCallback*>(timer->data)->call(); };
    raw_timer_.data = &timer_callback_;
    raw_timer_.due = Clock::now() + std::chrono::milliseconds(1);
    this_loop().add_timer(raw_timer_);
  }

  // A raw readiness wait of the loop's own, called once `fd` is readable.
  void watch_readable(int fd, void (*callback)(void* data), void* data) {
    reader_callback_ = {callback, data};
    raw_reader_.fn = [](IoWait* wait) { static_cast<RawCallback*>(wait->data)->call(); };
    raw_reader_.data = &reader_callback_;
    raw_reader_.fd = fd;
    raw_reader_.events = io_readable;
    this_loop().wait_io(raw_reader_);
  }

  void stop_watching() { this_loop().cancel_io(raw_reader_); }

 private:
  struct RawCallback {
    void (*callback)(void* data);
    void* data;
    void call() const { callback(data); }
  };

  RawCallback timer_callback_{};
  Timer raw_timer_;
  RawCallback reader_callback_{};
  IoWait raw_reader_;
  BackendHarness harness_{Backend::epoll};
};

#if COSYNC_TEST_TEVENT
class TeventHost {
 public:
  static constexpr const char* kName = "tevent";
  // What the UsageError of a wait inside a raw callback says.
  static constexpr const char* kNestedRunError = "host loop (tevent)";
  // The loop goes with the adapter, not with the thread.
  static constexpr bool kEndsWithItsThread = false;

  tevent_context* ev() { return harness_.tevent(); }
  BackendHarness& harness() { return harness_; }

  // One iteration of the application's own loop.
  void run_once() { EXPECT_EQ(tevent_loop_once(ev()), 0); }

  // A raw tevent timer, due in a millisecond.
  void add_raw_timer(void (*callback)(void* data), void* data) {
    raw_timer_ = {callback, data};
    ASSERT_NE(tevent_add_timer(
                  ev(), ev(), tevent_timeval_current_ofs(0, 1000),
                  [](tevent_context*, tevent_timer*, timeval, void* self) {
                    auto* raw = static_cast<RawCallback*>(self);
                    raw->callback(raw->data);
                  },
                  &raw_timer_),
              nullptr);
  }

  // A raw tevent fd handler, called while `fd` is readable.
  void watch_readable(int fd, void (*callback)(void* data), void* data) {
    raw_reader_ = {callback, data};
    raw_fd_ = tevent_add_fd(
        ev(), ev(), fd, TEVENT_FD_READ,
        [](tevent_context*, tevent_fd*, uint16_t, void* self) {
          auto* raw = static_cast<RawCallback*>(self);
          raw->callback(raw->data);
        },
        &raw_reader_);
    ASSERT_NE(raw_fd_, nullptr);
  }

  void stop_watching() {
    talloc_free(raw_fd_);
    raw_fd_ = nullptr;
  }

 private:
  struct RawCallback {
    void (*callback)(void* data);
    void* data;
  };

  RawCallback raw_timer_{};
  RawCallback raw_reader_{};
  tevent_fd* raw_fd_ = nullptr;
  // Last: destroyed first, while what the raw handlers point to still stands.
  BackendHarness harness_{Backend::tevent};
};
#endif

#if COSYNC_TEST_LIBUV
class LibuvHost {
 public:
  static constexpr const char* kName = "libuv";
  // What the UsageError of a wait inside a raw callback says.
  static constexpr const char* kNestedRunError = "host loop (libuv)";
  // The loop goes with the adapter, not with the thread.
  static constexpr bool kEndsWithItsThread = false;

  uv_loop_t* uv() { return harness_.uv(); }
  BackendHarness& harness() { return harness_; }

  // One iteration of the application's own loop.
  void run_once() { uv_run(uv(), UV_RUN_ONCE); }

  // A raw one-shot libuv timer, due in a millisecond; closed at teardown.
  // After `callback` it stops uv_run: UV_RUN_ONCE runs due timers before
  // it polls, so a timer already due when the run starts would otherwise
  // be followed by a poll with no timeout (the adapter's uv_async keeps
  // the loop alive) and run_host_until would never see the result.
  void add_raw_timer(void (*callback)(void* data), void* data) {
    uv_timer_init(uv(), &raw_timer_.timer);
    raw_timer_.timer.data = &raw_timer_;
    raw_timer_.callback = callback;
    raw_timer_.data = data;
    uv_timer_start(
        &raw_timer_.timer,
        [](uv_timer_t* timer) {
          auto* raw = static_cast<RawTimer*>(timer->data);
          raw->callback(raw->data);
          uv_stop(timer->loop);
        },
        1, 0);
  }

  // A raw libuv poll handle, called while `fd` is readable.
  void watch_readable(int fd, void (*callback)(void* data), void* data) {
    ASSERT_EQ(uv_poll_init(uv(), &raw_reader_.poll, fd), 0);
    raw_reader_.poll.data = &raw_reader_;
    raw_reader_.callback = callback;
    raw_reader_.data = data;
    uv_poll_start(&raw_reader_.poll, UV_READABLE, [](uv_poll_t* poll, int status, int) {
      EXPECT_EQ(status, 0);
      auto* raw = static_cast<RawReader*>(poll->data);
      raw->callback(raw->data);
    });
  }

  void stop_watching() {
    uv_close(reinterpret_cast<uv_handle_t*>(&raw_reader_.poll), nullptr);
    uv_run(uv(), UV_RUN_NOWAIT);
  }

  ~LibuvHost() {
    auto* timer = reinterpret_cast<uv_handle_t*>(&raw_timer_.timer);
    if (uv_is_active(timer) || raw_timer_.timer.loop != nullptr) {
      uv_close(timer, nullptr);
    }
    auto* reader = reinterpret_cast<uv_handle_t*>(&raw_reader_.poll);
    if (reader->loop != nullptr && !uv_is_closing(reader)) {
      uv_close(reader, nullptr);  // a scenario that stopped early
    }
  }

 private:
  struct RawTimer {
    uv_timer_t timer;
    void (*callback)(void* data);
    void* data;
  };
  struct RawReader {
    uv_poll_t poll;
    void (*callback)(void* data);
    void* data;
  };

  RawTimer raw_timer_{};
  RawReader raw_reader_{};
  // Last: destroyed first (closing the loop), while the handles still stand.
  BackendHarness harness_{Backend::libuv};
};
#endif

#if COSYNC_TEST_LIBEVENT
class LibeventHost {
 public:
  static constexpr const char* kName = "libevent";
  // What the UsageError of a wait inside a raw callback says.
  static constexpr const char* kNestedRunError = "host loop (libevent)";
  // The loop goes with the adapter, not with the thread.
  static constexpr bool kEndsWithItsThread = false;

  event_base* base() { return harness_.libevent(); }
  BackendHarness& harness() { return harness_; }

  // One iteration of the application's own loop.
  void run_once() { EXPECT_GE(event_base_loop(base(), EVLOOP_ONCE), 0); }

  // A raw one-shot libevent timer, due in a millisecond.
  void add_raw_timer(void (*callback)(void* data), void* data) {
    raw_timer_ = {callback, data};
    evtimer_assign(&raw_timer_event_, base(), &RawCallback::call, &raw_timer_);
    const timeval soon{0, 1000};
    evtimer_add(&raw_timer_event_, &soon);
  }

  // A raw persistent libevent read event, called while `fd` is readable.
  void watch_readable(int fd, void (*callback)(void* data), void* data) {
    raw_reader_ = {callback, data};
    raw_fd_ = event_new(base(), fd, EV_READ | EV_PERSIST, &RawCallback::call, &raw_reader_);
    ASSERT_NE(raw_fd_, nullptr);
    event_add(raw_fd_, nullptr);
  }

  void stop_watching() {
    event_free(raw_fd_);
    raw_fd_ = nullptr;
  }

  ~LibeventHost() {
    if (raw_timer_event_.ev_base != nullptr) event_del(&raw_timer_event_);
    if (raw_fd_ != nullptr) stop_watching();  // a scenario that stopped early
  }

 private:
  struct RawCallback {
    void (*callback)(void* data);
    void* data;

    static void call(evutil_socket_t, short, void* self) {
      auto* raw = static_cast<RawCallback*>(self);
      raw->callback(raw->data);
    }
  };

  RawCallback raw_timer_{};
  event raw_timer_event_{};
  RawCallback raw_reader_{};
  event* raw_fd_ = nullptr;
  // Last: destroyed first, while what the raw events point to still stands.
  BackendHarness harness_{Backend::libevent};
};
#endif

// The application's own loop, until `done` holds (false after 30 s).
template <class Host, class Predicate>
bool run_host_until(Host& host, Predicate done) {
  const Deadline give_up = Clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (Clock::now() > give_up) return false;
    host.run_once();
  }
  return true;
}

// A raw host timer completes a request a coroutine waits for.
template <class Host>
void raw_callback_completes_a_request_a_coroutine_waits_for(Host& host) {
  Request<int> request;
  auto doubled = spawn([request]() mutable { return 2 * request.get(); });
  ASSERT_NO_FATAL_FAILURE(
      host.add_raw_timer([](void* data) { Request<int>::from_callback_data(data).set_value(21); },
                         request.to_callback_data()));
  ASSERT_TRUE(run_host_until(host, [&] { return doubled.done(); }));
  EXPECT_EQ(doubled.get(), 42);
}

// A coroutine writes the byte a raw host read watcher waits for.
template <class Host>
void coroutine_completes_work_a_raw_callback_waits_for(Host& host) {
  using namespace std::chrono_literals;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  struct Received {
    int fd;
    char byte = 0;
  } received{fds[0]};
  ASSERT_NO_FATAL_FAILURE(host.watch_readable(
      fds[0],
      [](void* data) {
        auto* out = static_cast<Received*>(data);
        EXPECT_EQ(read(out->fd, &out->byte, 1), 1);
      },
      &received));
  auto writer = spawn([fd = fds[1]] {
    sleep_for(1ms);
    return write(fd, "c", 1);
  });
  ASSERT_TRUE(run_host_until(host, [&] { return received.byte == 'c'; }));
  EXPECT_EQ(writer.get(), 1);
  host.stop_watching();
  close(fds[0]);
  close(fds[1]);
}

// A synchronous wait inside a raw host callback fails with a UsageError that
// names the host loop (the built-in loop: that it runs a callback); the
// loop keeps working.
template <class Host>
void sync_wait_inside_a_raw_callback_is_a_clear_error(Host& host) {
  std::string message;
  ASSERT_NO_FATAL_FAILURE(host.add_raw_timer(
      [](void* data) {
        try {
          Request<int> never;
          never.get();
        } catch (const UsageError& error) {
          *static_cast<std::string*>(data) = error.what();
        }
      },
      &message));
  ASSERT_TRUE(run_host_until(host, [&] { return !message.empty(); }));
  EXPECT_NE(message.find(Host::kNestedRunError), std::string::npos) << message;
  EXPECT_EQ(spawn([] { return 7; }).get(), 7) << "the loop still works";
}

// Coroutines suspended on the current loop: asleep, on I/O (`fd`), on a
// request that never completes. Each counts itself live while its stack
// stands.
struct Suspended {
  std::optional<Request<void>> sleeper, reader;
  std::optional<Request<int>> blocked;

  bool all_cancelled() const {
    return sleeper->cancelled() && reader->cancelled() && blocked->cancelled();
  }
};

template <class Host>
void suspend_three(Host& host, Suspended& out, int& live, int fd, Request<int> never) {
  using namespace std::chrono_literals;
  out.sleeper.emplace(spawn([&live] {
    Counted here(live);
    sleep_for(1h);
  }));
  out.reader.emplace(spawn([&live, fd] {
    Counted here(live);
    wait_io(fd, io_readable);
  }));
  out.blocked.emplace(spawn([&live, never]() mutable {
    Counted here(live);
    return never.get();
  }));
  ASSERT_TRUE(run_host_until(host, [&] { return live == 3; }));
}

// Destroying the loop (an adapter, or the built-in loop at its thread's
// exit) unwinds the coroutines suspended on it (asleep, on I/O, on a
// request), and the host loop still runs its own callbacks.
template <class Host>
void teardown_unwinds_suspended_coroutines_and_leaves_the_host(Host& host) {
  int live = 0;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  Request<int> never;
  Suspended suspended;
  if constexpr (Host::kEndsWithItsThread) {
    std::thread([&] {
      Host own;
      suspend_three(own, suspended, live, fds[0], never);
    }).join();
  } else {
    ASSERT_NO_FATAL_FAILURE(suspend_three(host, suspended, live, fds[0], never));
    host.harness().destroy_adapter();
  }
  EXPECT_EQ(live, 0) << "every suspended stack unwound";
  EXPECT_TRUE(suspended.all_cancelled());
  bool fired = false;
  ASSERT_NO_FATAL_FAILURE(
      host.add_raw_timer([](void* data) { *static_cast<bool*>(data) = true; }, &fired));
  EXPECT_TRUE(run_host_until(host, [&] { return fired; }))
      << Host::kName << " still runs its own events";
  close(fds[0]);
  close(fds[1]);
}

// Eight threads post to the loop; a coroutine sees every post.
template <class Host>
void post_storm_from_eight_threads_reaches_a_coroutine(Host& host) {
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
  EXPECT_TRUE(run_host_until(host, [&] { return counter.done(); }));
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.get(), expected);
}

}  // namespace cosync::test::host_loop
