// cosync inside an application's own libuv loop: raw libuv callbacks and
// coroutines on one uv_loop_t, driven by the application's uv_run. The
// scenarios every adapter shares are in host_loop_suite.hpp; this file has
// libuv's side of them.
#include <gtest/gtest.h>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "host_loop_suite.hpp"

namespace cosync {
namespace {

namespace scenario = test::host_loop;

class LibuvHost : public ::testing::Test {
 public:
  static constexpr const char* kName = "libuv";

  uv_loop_t* uv() { return harness_.uv(); }
  test::BackendHarness& harness() { return harness_; }

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

  void TearDown() override {
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
  test::BackendHarness harness_{test::Backend::libuv};
};

TEST_F(LibuvHost, RawCallbackCompletesARequestACoroutineWaitsFor) {
  scenario::raw_callback_completes_a_request_a_coroutine_waits_for(*this);
}

TEST_F(LibuvHost, CoroutineCompletesWorkARawCallbackWaitsFor) {
  scenario::coroutine_completes_work_a_raw_callback_waits_for(*this);
}

TEST_F(LibuvHost, SyncWaitInsideARawCallbackIsAClearError) {
  scenario::sync_wait_inside_a_raw_callback_is_a_clear_error(*this);
}

TEST_F(LibuvHost, TeardownUnwindsSuspendedCoroutinesAndLeavesLibuv) {
  scenario::teardown_unwinds_suspended_coroutines_and_leaves_the_host(*this);
}

TEST_F(LibuvHost, PostStormFromEightThreadsReachesACoroutine) {
  scenario::post_storm_from_eight_threads_reaches_a_coroutine(*this);
}

}  // namespace
}  // namespace cosync
