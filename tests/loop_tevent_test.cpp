// cosync inside an application's own tevent loop: raw tevent handlers and
// coroutines on one tevent_context, driven by the application's
// tevent_loop_once. The scenarios every loop kind shares are loop_test's
// HostLoopSuite (host_loop_suite.hpp); this file has what only tevent has.
//
// TEVENT_DEPRECATED declares tevent_loop_until, which a test below runs; it
// must come before backend_fixture.hpp includes tevent.h.
#define TEVENT_DEPRECATED
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "host_loop_suite.hpp"
#include "loop_host/caller_search.hpp"

namespace cosync {
namespace {

// The tevent host, as a fixture.
class TeventHost : public ::testing::Test, public test::host_loop::TeventHost {};

namespace scenario = test::host_loop;

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

// A raw handler that tries a wait outside coroutines from inside a
// dispatch the application started itself, and what it was told.
struct NestedWait {
  std::string message;  // the UsageError's; empty when none was thrown
  bool done = false;
  tevent_req* req = nullptr;  // completed when the attempt is over, if set

  static void attempt(void* data) {
    auto* self = static_cast<NestedWait*>(data);
    try {
      Request<int> never;
      never.get();
    } catch (const UsageError& error) {
      self->message = error.what();
    }
    self->done = true;
    if (self->req != nullptr) tevent_req_done(self->req);
  }

  static bool finished(void* data) { return static_cast<NestedWait*>(data)->done; }
};

// Samba's synchronous wrappers run tevent through tevent_req_poll, which the
// nesting check does not search for: it calls _tevent_loop_once, which the
// check does. This guards that: a libtevent whose tevent_req_poll stopped
// calling it (inlined it, say) would abort here.
TEST_F(TeventHost, SyncWaitInsideARawHandlerUnderTeventReqPollIsAClearError) {
  void* state = nullptr;
  NestedWait wait{{}, false, tevent_req_create(ev(), &state, char)};
  ASSERT_NE(wait.req, nullptr);
  add_raw_timer(&NestedWait::attempt, &wait);
  EXPECT_TRUE(tevent_req_poll(wait.req, ev()));
  EXPECT_NE(wait.message.find("host loop (tevent)"), std::string::npos) << wait.message;
  talloc_free(wait.req);
}

// tevent_loop_until runs the backend's loop_once itself, not through
// _tevent_loop_once, under a nesting check of its own that aborts as well:
// the check must find _tevent_loop_until itself among the callers.
TEST_F(TeventHost, SyncWaitInsideARawHandlerUnderTeventLoopUntilIsAClearError) {
  NestedWait wait;
  add_raw_timer(&NestedWait::attempt, &wait);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // what is tested
  EXPECT_EQ(tevent_loop_until(ev(), &NestedWait::finished, &wait), 0);
#pragma GCC diagnostic pop
  EXPECT_NE(wait.message.find("host loop (tevent)"), std::string::npos) << wait.message;
}

// The nesting check walks the stack once for several of tevent's functions:
// any of them among the callers counts, and one that was not found (an
// empty range) matches nothing.
TEST_F(TeventHost, TheStackWalkFindsAnyOfSeveralFunctions) {
  struct Probe {
    std::array<cosync::loop_host::CodeRange, 2> code;
    bool ran = false;
    bool found = false;
  };
  Probe probe{{cosync::loop_host::CodeRange{},
               cosync::loop_host::find_function("libtevent.so.0", "_tevent_loop_once", nullptr)}};
  ASSERT_FALSE(probe.code[1].empty());
  EXPECT_FALSE(cosync::loop_host::on_call_stack(probe.code)) << "outside tevent's dispatch";
  add_raw_timer(
      [](void* data) {
        auto* self = static_cast<Probe*>(data);
        self->found = cosync::loop_host::on_call_stack(self->code);
        self->ran = true;
      },
      &probe);
  ASSERT_TRUE(scenario::run_host_until(*this, [&] { return probe.ran; }));
  EXPECT_TRUE(probe.found);
  const std::array<cosync::loop_host::CodeRange, 2> not_found{};
  EXPECT_TRUE(cosync::loop_host::none_found(not_found));
  EXPECT_FALSE(cosync::loop_host::none_found(probe.code));
  EXPECT_FALSE(cosync::loop_host::on_call_stack(not_found));
}

// Counts the fd events on a context, through tevent's fd trace callback
// (installed for the counter's lifetime, so the events made before it, such
// as the threaded context's wake-up fd, are not counted).
class FdEventCount {
 public:
  explicit FdEventCount(tevent_context* ev) : ev_(ev) {
    tevent_set_trace_fd_callback(ev_, &FdEventCount::trace, this);
  }
  FdEventCount(const FdEventCount&) = delete;
  FdEventCount& operator=(const FdEventCount&) = delete;
  ~FdEventCount() { tevent_set_trace_fd_callback(ev_, nullptr, nullptr); }

  // Attached and not yet detached.
  int live() const noexcept { return live_; }
  // The most that were live at once.
  int peak() const noexcept { return peak_; }

 private:
  static void trace(tevent_fd*, tevent_event_trace_point point, void* data) {
    auto* self = static_cast<FdEventCount*>(data);
    if (point == TEVENT_EVENT_TRACE_ATTACH) {
      self->peak_ = std::max(self->peak_, ++self->live_);
    } else if (point == TEVENT_EVENT_TRACE_DETACH) {
      --self->live_;
    }
  }

  tevent_context* ev_;
  int live_ = 0;
  int peak_ = 0;
};

// tevent_loop_wait runs for as long as the context has events, and counts
// every fd event (one watching nothing too). The error watch a writer
// beside unread bytes needs (see the socket tests' reset cases) must go
// when that writer is done, or the application's tevent_loop_wait would
// never return.
TEST_F(TeventHost, AWriterBesideUnreadBytesLeavesNoFdEventBehind) {
  const FdEventCount fd_events(ev());
  {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    Socket writer_end(fds[0]);
    Socket reader_end(fds[1]);
    writer_end.set_send_buffer(4096);
    reader_end.write_all("unread");
    const std::vector<char> big(256 << 10, 'w');
    auto writer = spawn([&] { writer_end.write_all(big.data(), big.size()); });
    auto drainer = spawn([&] {
      sleep_for(std::chrono::milliseconds(50));  // the writer blocks meanwhile
      std::vector<char> sink(big.size());
      reader_end.read_exactly(sink.data(), sink.size());
    });
    ASSERT_TRUE(scenario::run_host_until(*this, [&] { return writer.done() && drainer.done(); }));
    writer.get();
    drainer.get();
  }  // both sockets close, and the adapter forgets them
  EXPECT_GE(fd_events.peak(), 3) << "each socket's fd event, and the error watch's";
  ASSERT_EQ(fd_events.live(), 0) << "tevent_loop_wait would not return";
  EXPECT_EQ(tevent_loop_wait(ev()), 0);
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

}  // namespace
}  // namespace cosync
