// cosync inside an application's own libevent loop: raw libevent callbacks
// and coroutines on one event_base, driven by the application's
// event_base_loop. The scenarios every adapter shares are in
// host_loop_suite.hpp; this file has libevent's side of them.
#include <event2/event_struct.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "host_loop_suite.hpp"

#if COSYNC_TEST_LIBEVENT_PTHREADS
#include <event2/thread.h>
#endif

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

// The base has no other event while the coroutine waits for the worker:
// the adapter's wake-up event must keep the application's dispatch going.
TEST_F(LibeventHost, DispatchKeepsRunningWhileACoroutineWaitsForAnotherThread) {
  Loop& loop = this_loop();
  Request<int> answer;
  auto job = spawn([&] {
    const int value = answer.get();
    event_base_loopbreak(base());
    return value;
  });
  std::thread worker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop.post([&] { answer.set_value(42); });
  });
  EXPECT_EQ(event_base_dispatch(base()), 0) << "dispatch ran out of events";
  worker.join();
  ASSERT_TRUE(job.done());
  EXPECT_EQ(job.get(), 42);
}

#if COSYNC_TEST_LIBEVENT_PTHREADS
// The fixture's bases have no locking; an application that enabled
// libevent's threading keeps its locked base, and the adapter works there
// too. (Each ctest case is its own process, so the global switch stays
// within this test.)
TEST(LibeventLockedBase, APostFromAnotherThreadReachesACoroutine) {
  ASSERT_EQ(evthread_use_pthreads(), 0);
  event_base* base = event_base_new();
  ASSERT_NE(base, nullptr);
  {
    const std::unique_ptr<Loop> loop = make_libevent_loop(base);
    set_this_loop(loop.get());
    Request<int> answer;
    auto job = spawn([&] {
      const int value = answer.get();
      event_base_loopbreak(base);
      return value;
    });
    std::thread worker([&] { loop->post([&] { answer.set_value(7); }); });
    EXPECT_EQ(event_base_dispatch(base), 0);
    worker.join();
    ASSERT_TRUE(job.done());
    EXPECT_EQ(job.get(), 7);
    set_this_loop(nullptr);
  }
  event_base_free(base);
}
#endif

}  // namespace
}  // namespace cosync
