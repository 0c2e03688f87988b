#include "cosync/loop.hpp"

#include <memory>
#include <string>

#include "cosync/coroutine.hpp"
#include "loop/epoll_loop_linux.hpp"

namespace cosync {
namespace {

// Owns the built-in loop; detail::t_loop only points at the loop in use.
thread_local std::unique_ptr<Loop> t_builtin_loop;

Loop& builtin_loop() {
  if (!t_builtin_loop) {
    t_builtin_loop = std::make_unique<EpollLoop>();
  }
  return *t_builtin_loop;
}

}  // namespace

namespace detail {

constinit thread_local Loop* t_loop __attribute__((tls_model("initial-exec"))) = nullptr;

Loop& install_builtin_loop() {
  t_loop = &builtin_loop();
  return *t_loop;
}

}  // namespace detail

Loop::~Loop() { close_post_gate(); }

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

void set_this_loop(Loop* loop) noexcept { detail::t_loop = loop; }

}  // namespace cosync
