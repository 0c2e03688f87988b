// The libevent adapter: cosync's loop hooks on libevent events.
#include <event2/event.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "cosync/loop_libevent.hpp"
#include "loop/wake_fd.hpp"
#include "loop_host/host_loop.hpp"
#include "support/errors.hpp"
#include "support/timeout.hpp"

namespace cosync::loop_libevent {
namespace {

// The hooks cannot report failure to their caller (they run inside
// libevent's dispatch); libevent only fails these calls when out of memory.
void check(int result, const char* what) {
  if (result != 0) {
    support::fatal(std::string(what) + " failed on the libevent loop");
  }
}

// event_add fails without setting errno itself: a refused fd leaves
// epoll_ctl's, running out of memory may leave none (throw_event_error
// then reports EINVAL rather than a stale value).
bool add_event(event* added) {
  errno = 0;
  return event_add(added, nullptr) == 0;
}

[[noreturn]] void throw_event_error(const std::string& what) {
  support::throw_errno(errno != 0 ? errno : EINVAL, what);
}

// A relative timeout, rounded up so the timer never fires early, and capped
// (the heap re-arms a far timer when the cap expires). libevent counts it
// from its cached time, which may lag: the heap re-arms a timer that fires
// before its deadline.
timeval timeout_until(Deadline due) {
  const auto micros = support::poll_timeout<std::chrono::microseconds>(due - Clock::now());
  return timeval{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
}

// One fd's events, one per direction, so changing what is watched is one
// event_add or event_del.
struct FdEvents {
  event* read = nullptr;
  event* write = nullptr;
  unsigned watching = 0;
};

class LibeventLoop final : public loop_host::HostLoop {
 public:
  explicit LibeventLoop(event_base* base);
  LibeventLoop(const LibeventLoop&) = delete;
  LibeventLoop& operator=(const LibeventLoop&) = delete;
  ~LibeventLoop() override;

 private:
  void host_schedule_immediate(bool on) noexcept override;
  void host_arm_timer(Deadline due) noexcept override;
  void host_disarm_timer() noexcept override;
  void host_wake() noexcept override { wake_fd_.send(); }
  void* host_add_fd(int fd) override;
  void host_watch_fd(void* watch, unsigned events) override;
  void host_remove_fd(void* watch) noexcept override;
  void host_add_signal(int signo) override;
  bool host_in_callback() const noexcept override;
  void host_run_once() override;

  event* new_event(evutil_socket_t fd, short what, event_callback_fn fn);

  static void on_immediate(evutil_socket_t, short, void* data);
  static void on_timer(evutil_socket_t, short, void* data);
  static void on_wake(evutil_socket_t, short, void* data);
  static void on_fd(evutil_socket_t fd, short what, void* data);
  static void on_signal(evutil_socket_t signo, short, void* data);

  event_base* base_;
  loop::WakeFd wake_fd_;
  event* immediate_ = nullptr;
  event* timer_ = nullptr;
  event* wake_ = nullptr;        // reads wake_fd_
  std::vector<event*> signals_;  // by signal number
  // True while the immediate's own callback runs; see host_schedule_immediate.
  bool in_immediate_ = false;
};

// Other threads wake the loop through an eventfd the base watches, not
// event_active: event_active from another thread is only safe on a base
// created after evthread_use_pthreads(), which cosync cannot check, and
// which the application would have to change its start-up for (most
// libevent programs never enable threading; multi-threaded ones such as
// memcached wake their bases through a pipe they watch, as this does). The
// wake event is persistent, so, like libuv's uv_async, it keeps
// event_base_dispatch running while the adapter exists: a coroutine waiting
// for another thread must not find the loop gone.
LibeventLoop::LibeventLoop(event_base* base) : HostLoop("libevent"), base_(base), signals_(NSIG) {
  try {
    immediate_ = new_event(-1, 0, &LibeventLoop::on_immediate);
    timer_ = new_event(-1, 0, &LibeventLoop::on_timer);
    wake_ = new_event(wake_fd_.fd(), EV_READ | EV_PERSIST, &LibeventLoop::on_wake);
    if (!add_event(wake_)) throw_event_error("cannot watch the wake-up eventfd");
  } catch (...) {
    for (event* created : {immediate_, timer_, wake_}) {
      if (created != nullptr) event_free(created);
    }
    throw;
  }
}

LibeventLoop::~LibeventLoop() {
  shut_down();
  for (event* own : {immediate_, timer_, wake_}) {
    event_free(own);
  }
  for (event* signal : signals_) {
    if (signal != nullptr) event_free(signal);
  }
}

event* LibeventLoop::new_event(evutil_socket_t fd, short what, event_callback_fn fn) {
  event* created = event_new(base_, fd, what, fn, this);
  if (created == nullptr) throw_event_error("event_new failed");
  return created;
}

// An immediate posted from another callback runs later in the same pass
// over libevent's active events (event_active). One posted while the
// immediates run must wait for the next iteration, after a poll, so a
// coroutine that keeps yielding cannot starve the fds: it becomes a timer
// due now, which libevent only runs after polling.
void LibeventLoop::host_schedule_immediate(bool on) noexcept {
  if (!on) {
    check(event_del(immediate_), "event_del");
  } else if (in_immediate_) {
    const timeval now{0, 0};
    check(event_add(immediate_, &now), "event_add");
  } else {
    event_active(immediate_, EV_TIMEOUT, 0);
  }
}

void LibeventLoop::host_arm_timer(Deadline due) noexcept {
  const timeval timeout = timeout_until(due);
  check(event_add(timer_, &timeout), "event_add");
}

void LibeventLoop::host_disarm_timer() noexcept { check(event_del(timer_), "event_del"); }

void* LibeventLoop::host_add_fd(int fd) {
  auto* events = new FdEvents;
  try {
    events->read = new_event(fd, EV_READ | EV_PERSIST, &LibeventLoop::on_fd);
    events->write = new_event(fd, EV_WRITE | EV_PERSIST, &LibeventLoop::on_fd);
  } catch (...) {
    host_remove_fd(events);
    throw;
  }
  return events;
}

void LibeventLoop::host_watch_fd(void* watch, unsigned events) {
  auto* fd_events = static_cast<FdEvents*>(watch);
  const unsigned added = events & ~fd_events->watching;
  const unsigned removed = fd_events->watching & ~events;
  if ((added & io_readable) != 0 && !add_event(fd_events->read)) {
    throw_event_error("cannot watch fd " + std::to_string(event_get_fd(fd_events->read)));
  }
  if ((added & io_writable) != 0 && !add_event(fd_events->write)) {
    throw_event_error("cannot watch fd " + std::to_string(event_get_fd(fd_events->write)));
  }
  if ((removed & io_readable) != 0) event_del(fd_events->read);
  if ((removed & io_writable) != 0) event_del(fd_events->write);
  fd_events->watching = events;
}

void LibeventLoop::host_remove_fd(void* watch) noexcept {
  auto* fd_events = static_cast<FdEvents*>(watch);
  for (event* direction : {fd_events->read, fd_events->write}) {
    if (direction != nullptr) event_free(direction);
  }
  delete fd_events;
}

void LibeventLoop::host_add_signal(int signo) {
  event* signal = new_event(signo, EV_SIGNAL | EV_PERSIST, &LibeventLoop::on_signal);
  if (!add_event(signal)) {
    event_free(signal);
    throw_event_error("cannot watch signal " + std::to_string(signo));
  }
  signals_[static_cast<std::size_t>(signo)] = signal;
}

// libevent 2.1's event_base_get_running_event dereferences a null pointer
// when called from the loop's thread outside a callback, so it cannot tell
// whether a callback runs. event_base_loop tells instead: it refuses a
// reentrant run at once, returning -1 without running anything (and logs a
// warning through libevent's log callback).
bool LibeventLoop::host_in_callback() const noexcept { return false; }

void LibeventLoop::host_run_once() {
  if (event_base_loop(base_, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY) < 0) {
    refuse_nested_run();
  }
}

void LibeventLoop::on_immediate(evutil_socket_t, short, void* data) {
  auto* self = static_cast<LibeventLoop*>(data);
  self->in_immediate_ = true;
  self->on_host_immediate(true);
  self->in_immediate_ = false;
}

void LibeventLoop::on_timer(evutil_socket_t, short, void* data) {
  static_cast<LibeventLoop*>(data)->on_host_timer();
}

// Drained before the posts run, never after: a send made once run_posts
// has cleared the wake flag must stay readable, or its post would wait for
// some other event.
void LibeventLoop::on_wake(evutil_socket_t, short, void* data) {
  auto* self = static_cast<LibeventLoop*>(data);
  self->wake_fd_.drain();
  self->on_host_wake();
}

void LibeventLoop::on_fd(evutil_socket_t fd, short what, void* data) {
  unsigned ready = 0;
  if ((what & EV_READ) != 0) ready |= io_readable;
  if ((what & EV_WRITE) != 0) ready |= io_writable;
  static_cast<LibeventLoop*>(data)->on_host_fd(fd, ready, 0);
}

void LibeventLoop::on_signal(evutil_socket_t signo, short, void* data) {
  static_cast<LibeventLoop*>(data)->on_host_signal(signo);
}

}  // namespace
}  // namespace cosync::loop_libevent

namespace cosync {

std::unique_ptr<Loop> make_libevent_loop(event_base* base) {
  return std::make_unique<loop_libevent::LibeventLoop>(base);
}

}  // namespace cosync
