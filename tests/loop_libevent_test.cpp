// cosync inside an application's own libevent loop: raw libevent callbacks
// and coroutines on one event_base, driven by the application's
// event_base_loop. The scenarios every adapter shares are in
// host_loop_suite.hpp; this file has libevent's side of them.
#include <event2/event_struct.h>
#include <gtest/gtest.h>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "host_loop_suite.hpp"

namespace cosync {
namespace {

namespace scenario = test::host_loop;

class LibeventHost : public ::testing::Test {
 public:
  static constexpr const char* kName = "libevent";

  event_base* base() { return harness_.libevent(); }
  test::BackendHarness& harness() { return harness_; }

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

  void TearDown() override {
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
  test::BackendHarness harness_{test::Backend::libevent};
};

TEST_F(LibeventHost, RawCallbackCompletesARequestACoroutineWaitsFor) {
  scenario::raw_callback_completes_a_request_a_coroutine_waits_for(*this);
}

TEST_F(LibeventHost, CoroutineCompletesWorkARawCallbackWaitsFor) {
  scenario::coroutine_completes_work_a_raw_callback_waits_for(*this);
}

TEST_F(LibeventHost, SyncWaitInsideARawCallbackIsAClearError) {
  scenario::sync_wait_inside_a_raw_callback_is_a_clear_error(*this);
}

TEST_F(LibeventHost, TeardownUnwindsSuspendedCoroutinesAndLeavesLibevent) {
  scenario::teardown_unwinds_suspended_coroutines_and_leaves_the_host(*this);
}

TEST_F(LibeventHost, PostStormFromEightThreadsReachesACoroutine) {
  scenario::post_storm_from_eight_threads_reaches_a_coroutine(*this);
}

}  // namespace
}  // namespace cosync
