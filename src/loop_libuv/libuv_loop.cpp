// The libuv adapter: cosync's loop hooks on libuv handles.
#include <fcntl.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "cosync/loop_libuv.hpp"
#include "loop_host/caller_search.hpp"
#include "loop_host/host_loop.hpp"
#include "support/errors.hpp"
#include "support/timeout.hpp"

namespace cosync::loop_libuv {
namespace {

// libuv's errors are negative errno values.
[[noreturn]] void throw_uv(int error, const char* what) {
  support::throw_errno(-error, std::string(what) + ": " + uv_strerror(error));
}

// libuv handles are plain C structs that must stay valid until their close
// callback: they live in malloc'ed memory that the close callback frees
// (a handle is the first member of whatever holds it).
template <class Holder>
Holder* new_handle() {
  auto* holder = static_cast<Holder*>(std::calloc(1, sizeof(Holder)));
  if (holder == nullptr) throw std::bad_alloc();
  return holder;
}

template <class Handle>
void close_and_free(Handle* handle) {
  uv_close(reinterpret_cast<uv_handle_t*>(handle), [](uv_handle_t* closed) { std::free(closed); });
}

// True when uv_run is one of the callers: a libuv callback is running on
// this stack (libuv has no query for it).
bool uv_run_is_running() {
  static const loop_host::CodeRange uv_run_code =
      loop_host::find_function("libuv.so.1", "uv_run", reinterpret_cast<void*>(&uv_run));
  return loop_host::on_call_stack(uv_run_code);
}

// libuv's timeouts count from its cached loop time, which lags the clock by
// however long the current iteration has run: the lag is added so the
// timer does not fire early, and the delay is rounded up and capped (the
// heap re-arms a far timer when the cap expires).
std::uint64_t uv_timeout_for(uv_loop_t* uv, Deadline due) {
  const auto ms = static_cast<std::uint64_t>(
      support::poll_timeout<std::chrono::milliseconds>(due - Clock::now()));
  const std::uint64_t lag = uv_hrtime() / 1000000 - uv_now(uv);
  return ms + lag;
}

class LibuvLoop;

// One fd's poll handle; `poll.data` points back here.
struct PollWatch {
  uv_poll_t poll;
  LibuvLoop* loop;
  int fd;
  int events;  // the UV_ events the poll was last started with (calloc'd: 0)
};

class LibuvLoop final : public loop_host::HostLoop {
 public:
  explicit LibuvLoop(uv_loop_t* uv);
  LibuvLoop(const LibuvLoop&) = delete;
  LibuvLoop& operator=(const LibuvLoop&) = delete;
  ~LibuvLoop() override;

 private:
  void host_schedule_immediate(bool on) noexcept override;
  void host_arm_timer(Deadline due) noexcept override;
  void host_disarm_timer() noexcept override;
  void host_wake() noexcept override { uv_async_send(wake_); }
  void* host_add_fd(int fd) override;
  void host_watch_fd(void* watch, unsigned events) override;
  void host_remove_fd(void* watch) noexcept override;
  void host_add_signal(int signo) override;
  void host_signal_waited(int signo, bool waited) noexcept override;
  bool host_in_callback() const noexcept override { return uv_run_is_running(); }
  void host_run_once() override;

  static void on_idle(uv_idle_t* idle);
  static void on_prepare(uv_prepare_t* prepare);
  static void on_timer(uv_timer_t* timer);
  static void on_wake(uv_async_t* async);
  static void on_poll(uv_poll_t* poll, int status, int events);
  static void on_signal(uv_signal_t* signal, int signo);

  uv_loop_t* uv_;
  uv_idle_t* idle_ = nullptr;  // active while immediates are queued
  uv_timer_t* timer_ = nullptr;
  uv_async_t* wake_ = nullptr;
  uv_prepare_t* prepare_ = nullptr;  // active during our own host_run_once
  std::size_t dispatches_at_run_ = 0;
  std::vector<uv_signal_t*> signals_;  // by signal number
};

LibuvLoop::LibuvLoop(uv_loop_t* uv)
    : HostLoop("libuv"),
      uv_(uv),
      idle_(new_handle<uv_idle_t>()),
      timer_(new_handle<uv_timer_t>()),
      wake_(new_handle<uv_async_t>()),
      prepare_(new_handle<uv_prepare_t>()),
      signals_(NSIG, nullptr) {
  uv_idle_init(uv_, idle_);
  uv_timer_init(uv_, timer_);
  uv_prepare_init(uv_, prepare_);
  if (const int error = uv_async_init(uv_, wake_, &LibuvLoop::on_wake); error != 0) {
    close_and_free(idle_);
    close_and_free(timer_);
    close_and_free(prepare_);
    std::free(wake_);
    throw_uv(error, "uv_async_init failed");
  }
  idle_->data = timer_->data = wake_->data = prepare_->data = this;
}

LibuvLoop::~LibuvLoop() {
  shut_down();
  close_and_free(idle_);
  close_and_free(timer_);
  close_and_free(wake_);
  close_and_free(prepare_);
  for (uv_signal_t* signal : signals_) {
    if (signal != nullptr) close_and_free(signal);
  }
}

void LibuvLoop::host_schedule_immediate(bool on) noexcept {
  if (on) {
    uv_idle_start(idle_, &LibuvLoop::on_idle);
  } else {
    uv_idle_stop(idle_);
  }
}

void LibuvLoop::host_arm_timer(Deadline due) noexcept {
  uv_timer_start(timer_, &LibuvLoop::on_timer, uv_timeout_for(uv_, due), 0);
}

void LibuvLoop::host_disarm_timer() noexcept { uv_timer_stop(timer_); }

void* LibuvLoop::host_add_fd(int fd) {
  auto* watch = new_handle<PollWatch>();
  if (const int error = uv_poll_init(uv_, &watch->poll, fd); error != 0) {
    std::free(watch);
    throw_uv(error, ("cannot wait on fd " + std::to_string(fd)).c_str());
  }
  watch->poll.data = watch;
  watch->loop = this;
  watch->fd = fd;
  return watch;
}

void LibuvLoop::host_watch_fd(void* watch, unsigned events) {
  uv_poll_t* poll = &static_cast<PollWatch*>(watch)->poll;
  if (events == 0) {
    uv_poll_stop(poll);
    return;
  }
  int uv_events = 0;
  if ((events & io_readable) != 0) uv_events |= UV_READABLE;
  if ((events & io_writable) != 0) uv_events |= UV_WRITABLE;
  if (const int error = uv_poll_start(poll, uv_events, &LibuvLoop::on_poll); error != 0) {
    throw_uv(error, "uv_poll_start failed");
  }
  static_cast<PollWatch*>(watch)->events = uv_events;
}

// uv_close stops the poll at once (libuv removes the fd from epoll there),
// so the caller may close the fd right after.
void LibuvLoop::host_remove_fd(void* watch) noexcept {
  close_and_free(&static_cast<PollWatch*>(watch)->poll);
}

void LibuvLoop::host_add_signal(int signo) {
  auto* signal = new_handle<uv_signal_t>();
  uv_signal_init(uv_, signal);
  signal->data = this;
  if (const int error = uv_signal_start(signal, &LibuvLoop::on_signal, signo); error != 0) {
    close_and_free(signal);
    throw_uv(error, "uv_signal_start failed");
  }
  signals_[static_cast<std::size_t>(signo)] = signal;
}

// A signal watch nobody waits on does not keep uv_run going.
void LibuvLoop::host_signal_waited(int signo, bool waited) noexcept {
  auto* handle = reinterpret_cast<uv_handle_t*>(signals_[static_cast<std::size_t>(signo)]);
  if (handle == nullptr) return;
  if (waited) {
    uv_ref(handle);
  } else {
    uv_unref(handle);
  }
}

// UV_RUN_ONCE runs the timers already due before it polls, and then polls
// without a timeout if nothing else is armed: a run whose deadline timer
// (or any timer) was due on entry would block for ever. So a run with
// something due does not wait at all, and otherwise the prepare handle
// (called just before the poll) stops the iteration, which makes the poll
// not wait, when our callbacks already ran in it.
void LibuvLoop::host_run_once() {
  uv_update_time(uv_);
  if (uv_backend_timeout(uv_) == 0) {
    uv_run(uv_, UV_RUN_NOWAIT);
    return;
  }
  dispatches_at_run_ = dispatches();
  uv_prepare_start(prepare_, &LibuvLoop::on_prepare);
  uv_run(uv_, UV_RUN_ONCE);
  uv_prepare_stop(prepare_);
}

void LibuvLoop::on_prepare(uv_prepare_t* prepare) {
  auto* self = static_cast<LibuvLoop*>(prepare->data);
  if (self->dispatches() != self->dispatches_at_run_) {
    uv_stop(self->uv_);
  }
}

void LibuvLoop::on_idle(uv_idle_t* idle) {
  static_cast<LibuvLoop*>(idle->data)->on_host_immediate(false);
}

void LibuvLoop::on_timer(uv_timer_t* timer) {
  static_cast<LibuvLoop*>(timer->data)->on_host_timer();
}

void LibuvLoop::on_wake(uv_async_t* async) { static_cast<LibuvLoop*>(async->data)->on_host_wake(); }

// libuv reports an error pending on a socket (POLLERR: a refused connect,
// a reset peer) as UV_EBADF and stops the handle. While the fd is open that
// is no bad descriptor: it is reported ready both ways, so the operation
// gets the real error from the kernel, and the poll restarts with the
// events the waits asked for.
void LibuvLoop::on_poll(uv_poll_t* poll, int status, int events) {
  auto* watch = static_cast<PollWatch*>(poll->data);
  if (status == UV_EBADF && fcntl(watch->fd, F_GETFD) >= 0) {
    uv_poll_start(poll, watch->events, &LibuvLoop::on_poll);
    watch->loop->on_host_fd(watch->fd, io_readable | io_writable, 0);
    return;
  }
  unsigned ready = 0;
  if ((events & UV_READABLE) != 0) ready |= io_readable;
  if ((events & UV_WRITABLE) != 0) ready |= io_writable;
  watch->loop->on_host_fd(watch->fd, ready, status < 0 ? -status : 0);
}

void LibuvLoop::on_signal(uv_signal_t* signal, int signo) {
  static_cast<LibuvLoop*>(signal->data)->on_host_signal(signo);
}

}  // namespace
}  // namespace cosync::loop_libuv

namespace cosync {

std::unique_ptr<Loop> make_libuv_loop(uv_loop_t* uv) {
  return std::make_unique<loop_libuv::LibuvLoop>(uv);
}

}  // namespace cosync
