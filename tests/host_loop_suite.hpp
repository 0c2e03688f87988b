// Scenarios shared by the per-adapter tests (loop_tevent_test.cpp,
// loop_libuv_test.cpp, loop_libevent_test.cpp): raw host callbacks and
// coroutines on one host loop, driven by the application's own loop.
//
// Each scenario is a function template over the adapter's fixture, `Host`,
// which provides the host-specific operations (public):
//
//   static constexpr const char* kName;  // "tevent": as the adapter names itself
//   BackendHarness& harness();
//   void run_once();  // one iteration of the application's own loop
//   // A raw host timer, due in a millisecond (one at a time).
//   void add_raw_timer(void (*callback)(void* data), void* data);
//   // A raw host read watcher on `fd` (one at a time), and its removal.
//   void watch_readable(int fd, void (*callback)(void* data), void* data);
//   void stop_watching();
//
// Every adapter file calls each scenario from a TEST_F of its own:
//
//   TEST_F(TeventHost, SyncWaitInsideARawHandlerIsAClearError) {
//     test::host_loop::sync_wait_inside_a_raw_callback_is_a_clear_error(*this);
//   }
//
// What only one host has stays in its own file.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "test_util.hpp"

namespace cosync::test::host_loop {

using test::Counted;

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
// names the host loop; the loop keeps working.
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
  const std::string expected = std::string("host loop (") + Host::kName + ")";
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  EXPECT_EQ(spawn([] { return 7; }).get(), 7) << "the loop still works";
}

// Destroying the adapter unwinds the coroutines suspended on it (asleep, on
// I/O, on a request), and the host loop still runs its own callbacks.
template <class Host>
void teardown_unwinds_suspended_coroutines_and_leaves_the_host(Host& host) {
  using namespace std::chrono_literals;
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
  ASSERT_TRUE(run_host_until(host, [&] { return live == 3; }));
  host.harness().destroy_adapter();
  EXPECT_EQ(live, 0) << "every suspended stack unwound";
  EXPECT_TRUE(sleeper.cancelled() && reader.cancelled() && blocked.cancelled());
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
