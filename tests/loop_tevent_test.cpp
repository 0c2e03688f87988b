// cosync inside an application's own tevent loop: raw tevent handlers and
// coroutines on one tevent_context, driven by the application's
// tevent_loop_once. The scenarios every adapter shares are in
// host_loop_suite.hpp; this file has tevent's side of them.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <thread>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "host_loop_suite.hpp"
#include "loop_host/caller_search.hpp"

namespace cosync {
namespace {

namespace scenario = test::host_loop;

class TeventHost : public ::testing::Test {
 public:
  static constexpr const char* kName = "tevent";

  tevent_context* ev() { return harness_.tevent(); }
  test::BackendHarness& harness() { return harness_; }

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
  test::BackendHarness harness_{test::Backend::tevent};
};

TEST_F(TeventHost, RawHandlerCompletesARequestACoroutineWaitsFor) {
  scenario::raw_callback_completes_a_request_a_coroutine_waits_for(*this);
}

TEST_F(TeventHost, CoroutineCompletesWorkARawHandlerWaitsFor) {
  scenario::coroutine_completes_work_a_raw_callback_waits_for(*this);
}

TEST_F(TeventHost, SyncWaitInsideARawHandlerIsAClearError) {
  scenario::sync_wait_inside_a_raw_callback_is_a_clear_error(*this);
}

// The application owns tevent's trace callback (Samba's smbd installs one
// for its profiling): the adapter neither takes it nor depends on it, and
// still refuses a nested run when the application set its own after the
// adapter came.
TEST_F(TeventHost, TheApplicationsTraceCallbackIsLeftToIt) {
  int traced = 0;
  tevent_set_trace_callback(
      ev(), [](tevent_trace_point, void* count) { ++*static_cast<int*>(count); }, &traced);
  scenario::sync_wait_inside_a_raw_callback_is_a_clear_error(*this);
  tevent_trace_callback_t callback = nullptr;
  void* data = nullptr;
  tevent_get_trace_callback(ev(), &callback, &data);
  EXPECT_EQ(data, &traced);
  EXPECT_GT(traced, 0);
  tevent_set_trace_callback(ev(), nullptr, nullptr);
}

// Samba's synchronous wrappers run tevent through tevent_req_poll: a wait
// outside coroutines inside a raw handler is refused there too.
TEST_F(TeventHost, SyncWaitInsideARawHandlerUnderTeventReqPollIsAClearError) {
  struct Probe {
    tevent_req* req;
    std::string message;
  };
  void* state = nullptr;
  Probe probe{tevent_req_create(ev(), &state, char), {}};
  ASSERT_NE(probe.req, nullptr);
  add_raw_timer(
      [](void* data) {
        auto* self = static_cast<Probe*>(data);
        try {
          Request<int> never;
          never.get();
        } catch (const UsageError& error) {
          self->message = error.what();
        }
        tevent_req_done(self->req);
      },
      &probe);
  EXPECT_TRUE(tevent_req_poll(probe.req, ev()));
  EXPECT_NE(probe.message.find("host loop (tevent)"), std::string::npos) << probe.message;
  talloc_free(probe.req);
}

// The nesting check walks the stack once for several of tevent's functions:
// any of them among the callers counts, and one that was not found (an
// empty range) matches nothing.
TEST_F(TeventHost, TheStackWalkFindsAnyOfSeveralFunctions) {
  struct Probe {
    std::array<cosync::host_loop::CodeRange, 2> code;
    bool ran = false;
    bool found = false;
  };
  Probe probe{{cosync::host_loop::CodeRange{},
               cosync::host_loop::find_function("libtevent.so.0", "_tevent_loop_once", nullptr)}};
  ASSERT_FALSE(probe.code[1].empty());
  EXPECT_FALSE(cosync::host_loop::on_call_stack(probe.code)) << "outside tevent's dispatch";
  add_raw_timer(
      [](void* data) {
        auto* self = static_cast<Probe*>(data);
        self->found = cosync::host_loop::on_call_stack(self->code);
        self->ran = true;
      },
      &probe);
  ASSERT_TRUE(scenario::run_host_until(*this, [&] { return probe.ran; }));
  EXPECT_TRUE(probe.found);
  const std::array<cosync::host_loop::CodeRange, 2> none_found{};
  EXPECT_FALSE(cosync::host_loop::on_call_stack(none_found));
}

TEST_F(TeventHost, TeardownUnwindsSuspendedCoroutinesAndLeavesTevent) {
  scenario::teardown_unwinds_suspended_coroutines_and_leaves_the_host(*this);
}

// The wake-up of a post is still scheduled from its thread when the adapter
// and then the context go away (tevent aborts when such an immediate is
// freed). The storm below ends like this whenever a poster schedules its
// wake-up after its post already ran in an earlier batch.
TEST_F(TeventHost, ContextFreedWithAWakeUpStillScheduled) {
  Loop& loop = this_loop();
  bool ran = false;
  std::thread([&] { loop.post([&] { ran = true; }); }).join();
  harness().destroy_adapter();
  EXPECT_FALSE(ran) << "a post left when the adapter goes away is dropped";
}

TEST_F(TeventHost, PostStormFromEightThreadsReachesACoroutine) {
  scenario::post_storm_from_eight_threads_reaches_a_coroutine(*this);
}

}  // namespace
}  // namespace cosync
