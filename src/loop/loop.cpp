#include "cosync/loop.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cosync/coroutine.hpp"
#include "cosync/loop_io_uring.hpp"
#include "loop/epoll_loop_linux.hpp"
#include "loop/io_uring_factory.hpp"
#include "loop/ring_ops.hpp"

namespace cosync {
namespace {

constinit Loop::TeardownHook g_teardown_hook = nullptr;

// Owns the built-in loop; impl::t_loop only points at the loop in use.
// At thread exit it tears the loop down (its destructor runs the teardown
// hook, which needs the thread's coroutine state: builtin_loop creates
// that state first, so it is destroyed after the loop) and stops this_loop
// from answering a loop that is gone.
struct BuiltinLoopOwner {
  BuiltinLoopOwner() = default;
  BuiltinLoopOwner(const BuiltinLoopOwner&) = delete;
  BuiltinLoopOwner& operator=(const BuiltinLoopOwner&) = delete;
  // The loop stays this_loop() while its teardown unwinds coroutines.
  ~BuiltinLoopOwner() {
    if (!loop) {
      return;
    }
    delete loop.get();
    if (impl::t_loop == loop.get()) {
      impl::t_loop = nullptr;
      loop::t_ring = nullptr;
    }
    (void)loop.release();
    torn_down = true;
  }
  std::unique_ptr<Loop> loop;
  bool torn_down = false;
};
thread_local BuiltinLoopOwner t_builtin_loop;

// What COSYNC_LOOP asks for, read once: io_uring or epoll (the default).
bool io_uring_wanted() {
  static const bool wanted = [] {
    const char* text = std::getenv("COSYNC_LOOP");
    if (text == nullptr || std::strcmp(text, "epoll") == 0 || *text == '\0') {
      return false;
    }
    if (std::strcmp(text, "io_uring") == 0) {
      return true;
    }
    std::fprintf(stderr, "cosync: COSYNC_LOOP=%s is neither io_uring nor epoll; using epoll\n",
                 text);
    return false;
  }();
  return wanted;
}

// The thread's built-in loop: io_uring when COSYNC_LOOP asks for it and the
// kernel accepts it (said once per process on stderr when it does not).
std::unique_ptr<Loop> make_builtin_loop() {
  if (io_uring_wanted()) {
    const std::string& problem = loop::io_uring_refusal();
    if (problem.empty()) {
      return loop::new_io_uring_loop();
    }
    static const bool said = [&problem] {
      std::fprintf(stderr, "cosync: COSYNC_LOOP=io_uring: using epoll instead: %s\n",
                   problem.c_str());
      return true;
    }();
    (void)said;
    return std::make_unique<loop::EpollLoop>(problem.c_str());
  }
  return std::make_unique<loop::EpollLoop>();
}

Loop& builtin_loop() {
  impl::this_thread();  // before the owner's first use: see BuiltinLoopOwner
  if (t_builtin_loop.torn_down) {
    throw UsageError(
        "cosync: this thread's loop was torn down at thread exit; nothing can wait on it "
        "any more");
  }
  if (!t_builtin_loop.loop) {
    t_builtin_loop.loop = make_builtin_loop();
  }
  return *t_builtin_loop.loop;
}

}  // namespace

namespace loop {
constinit thread_local RingOps* t_ring __attribute__((tls_model("initial-exec"))) = nullptr;

RingOps* ring_ops_of(Loop& loop) noexcept { return dynamic_cast<RingOps*>(&loop); }
}  // namespace loop

namespace impl {

constinit thread_local Loop* t_loop __attribute__((tls_model("initial-exec"))) = nullptr;

Loop& install_builtin_loop() {
  t_loop = &builtin_loop();
  loop::t_ring = loop::ring_ops_of(*t_loop);
  return *t_loop;
}

}  // namespace impl

Loop::~Loop() { close_post_gate(); }

void Loop::set_teardown_hook(TeardownHook hook) noexcept { g_teardown_hook = hook; }

void Loop::run_teardown_hook() noexcept {
  if (g_teardown_hook != nullptr) {
    g_teardown_hook(*this);
  }
}

void Loop::close_post_gate() noexcept {
  const std::lock_guard lock(post_gate_->mutex);
  post_gate_->open = false;
}

Deadline deadline_after(Clock::duration timeout) noexcept {
  const Deadline now = Clock::now();
  if (timeout >= no_deadline - now) {
    return no_deadline;
  }
  return now + timeout;
}

void Loop::run() {
  stopped_ = false;
  while (!stopped_) {
    run_once();
  }
  stopped_ = false;
}

void Loop::refuse_to_run(const char* call) const {
  if (in_callback()) {
    throw UsageError(std::string("cosync: ") + call +
                     " from inside one of the loop's own callbacks; the loop cannot "
                     "run nested. Wait from a coroutine instead");
  }
  throw UsageError(std::string("cosync: ") + call + " on the stack of " +
                   "a coroutine; only the main context runs the loop");
}

void set_this_loop(Loop* loop) noexcept {
  impl::t_loop = loop;
  loop::t_ring = loop != nullptr ? loop::ring_ops_of(*loop) : nullptr;
}

std::unique_ptr<Loop> make_io_uring_loop() { return loop::new_io_uring_loop(); }

const std::string& io_uring_unavailable_reason() { return loop::io_uring_refusal(); }

}  // namespace cosync
