// Runs a test suite once per loop backend: the built-in epoll loop, the
// io_uring loop (skipped, saying why, where the kernel, an emulator or
// valgrind cannot run it), and each foreign-loop adapter this build has (tests/CMakeLists.txt
// defines COSYNC_TEST_TEVENT, COSYNC_TEST_LIBUV, COSYNC_TEST_LIBEVENT for them).
//
//   class SocketOn : public cosync::test::BackendTest {};
//   TEST_P(SocketOn, EchoesALine) { ...this_loop() is the backend's loop... }
//   COSYNC_INSTANTIATE_BACKENDS(SocketOn);
//
// Test names read Backends/SocketOn.EchoesALine/tevent. Each test gets a
// fresh host loop (tevent_context, uv_loop_t, event_base) with its adapter
// installed as the thread's loop; teardown destroys the adapter first
// (cancelling the coroutines spawned on it), then the host loop. For libuv,
// teardown also checks that the loop closes cleanly: a handle left open
// fails the test, as libuv's own suite does.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cosync/loop.hpp"
#include "cosync/loop_io_uring.hpp"

#if COSYNC_TEST_TEVENT
extern "C" {  // neither header declares C linkage itself
#include <talloc.h>
#include <tevent.h>
}
#include "cosync/loop_tevent.hpp"
#endif
#if COSYNC_TEST_LIBUV
#include <uv.h>

#include "cosync/loop_libuv.hpp"
#endif
#if COSYNC_TEST_LIBEVENT
#include <event2/event.h>

#include "cosync/loop_libevent.hpp"
#endif

namespace cosync::test {

enum class Backend { epoll, io_uring, tevent, libuv, libevent };

inline const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::epoll:
      return "epoll";
    case Backend::io_uring:
      return "io_uring";
    case Backend::tevent:
      return "tevent";
    case Backend::libuv:
      return "libuv";
    case Backend::libevent:
      return "libevent";
  }
  return "unknown";
}

// The backends this build can run: the built-in loop and every adapter.
inline std::vector<Backend> built_backends() {
  std::vector<Backend> backends{Backend::epoll, Backend::io_uring};
#if COSYNC_TEST_TEVENT
  backends.push_back(Backend::tevent);
#endif
#if COSYNC_TEST_LIBUV
  backends.push_back(Backend::libuv);
#endif
#if COSYNC_TEST_LIBEVENT
  backends.push_back(Backend::libevent);
#endif
  return backends;
}

inline std::string backend_param_name(const ::testing::TestParamInfo<Backend>& info) {
  return backend_name(info.param);
}

// One backend's host loop and adapter, installed as this thread's loop for
// the harness's lifetime.
class BackendHarness {
 public:
  explicit BackendHarness(Backend backend) : backend_(backend) {
    create_host();
    set_this_loop(adapter_.get());  // nullptr (epoll): the built-in loop
  }
  BackendHarness(const BackendHarness&) = delete;
  BackendHarness& operator=(const BackendHarness&) = delete;
  ~BackendHarness() {
    destroy_adapter();
    destroy_host();
  }

  Backend backend() const noexcept { return backend_; }
  Loop& loop() { return this_loop(); }

  // Destroys the adapter now (it uninstalls itself); the host loop stays,
  // for tests of what teardown leaves behind.
  void destroy_adapter() {
    adapter_.reset();
    set_this_loop(nullptr);
  }

#if COSYNC_TEST_TEVENT
  tevent_context* tevent() const noexcept { return tevent_; }
#endif
#if COSYNC_TEST_LIBUV
  uv_loop_t* uv() noexcept { return &uv_; }
#endif
#if COSYNC_TEST_LIBEVENT
  event_base* libevent() const noexcept { return base_; }
#endif

 private:
  void create_host() {
    switch (backend_) {
      case Backend::epoll:
        break;
      case Backend::io_uring:
        create_io_uring_loop();
        break;
      case Backend::tevent:
#if COSYNC_TEST_TEVENT
        tevent_ = tevent_context_init(nullptr);
        ASSERT_NE(tevent_, nullptr);
        adapter_ = make_tevent_loop(tevent_);
#endif
        break;
      case Backend::libuv:
#if COSYNC_TEST_LIBUV
        ASSERT_EQ(uv_loop_init(&uv_), 0);
        adapter_ = make_libuv_loop(&uv_);
#endif
        break;
      case Backend::libevent:
#if COSYNC_TEST_LIBEVENT
        base_ = event_base_new();
        ASSERT_NE(base_, nullptr);
        adapter_ = make_libevent_loop(base_);
#endif
        break;
    }
  }

  // Skips the test where the io_uring loop cannot run, saying why: under
  // valgrind (3.19 does not model what the kernel writes through the
  // rings), on a kernel or under qemu-user (7.2 has no io_uring) that
  // refuses it, in a build without it.
  void create_io_uring_loop() {
    if (!io_uring_unavailable_reason().empty()) {
      GTEST_SKIP() << "io_uring loop unavailable here: " << io_uring_unavailable_reason();
    }
    adapter_ = make_io_uring_loop();
  }

  void destroy_host() {
#if COSYNC_TEST_TEVENT
    if (tevent_ != nullptr) talloc_free(tevent_);
#endif
#if COSYNC_TEST_LIBUV
    if (backend_ == Backend::libuv) close_uv();
#endif
#if COSYNC_TEST_LIBEVENT
    if (base_ != nullptr) event_base_free(base_);
#endif
  }

#if COSYNC_TEST_LIBUV
  // Runs the close callbacks of the adapter's handles, then requires the
  // loop to close: a handle still open is a leak.
  void close_uv() {
    uv_run(&uv_, UV_RUN_NOWAIT);
    const int closed = uv_loop_close(&uv_);
    EXPECT_EQ(closed, 0) << "libuv handles left open: " << uv_strerror(closed);
  }
#endif

  Backend backend_;
  std::unique_ptr<Loop> adapter_;
#if COSYNC_TEST_TEVENT
  tevent_context* tevent_ = nullptr;
#endif
#if COSYNC_TEST_LIBUV
  uv_loop_t uv_{};
#endif
#if COSYNC_TEST_LIBEVENT
  event_base* base_ = nullptr;
#endif
};

// A test parameterised by backend, with the harness set up around it.
class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { harness_.emplace(GetParam()); }
  void TearDown() override { harness_.reset(); }
  BackendHarness& harness() { return *harness_; }

 private:
  std::optional<BackendHarness> harness_;
};

}  // namespace cosync::test

// Registers `suite` (a BackendTest) once per built backend.
#define COSYNC_INSTANTIATE_BACKENDS(suite)                                                         \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::ValuesIn(::cosync::test::built_backends()), \
                           ::cosync::test::backend_param_name)
