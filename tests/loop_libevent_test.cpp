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

// The libevent host, as a fixture.
class LibeventHost : public ::testing::Test, public test::host_loop::LibeventHost {};

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
