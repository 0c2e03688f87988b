// cosync.h: the C API over the coroutine, request and loop layers.
//
// Every entry point translates C++ outcomes into negative errno values in
// one place (`guarded`). The one exception that must cross it is
// cosync::ForcedUnwind, which unwinds a coroutine that is being destroyed:
// it passes through the C frames above (they have unwind tables on every
// platform cosync supports, and run no cleanups).
#include <cerrno>
#include <cstdio>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "capi/capi_internal.hpp"
#include "cosync.h"
#include "cosync/coroutine.hpp"
#include "cosync/loop.hpp"
#include "cosync/request.hpp"

struct cosync_task {
  cosync::Task<void*> task;
};

struct cosync_request {
  cosync::Request<void*> request;
};

namespace cosync::capi {
namespace {

// The body of a coroutine launched from C.
struct CBody {
  cosync_fn fn;
  void* arg;
  void* operator()() const { return fn(arg); }
};

Options to_options(const cosync_options* options) {
  if (options == nullptr) {
    return Options{};
  }
  return Options{options->stack_size, options->name != nullptr ? options->name : "",
                 options->user_data};
}

Coroutine& to_cpp(cosync_coroutine* coroutine) noexcept {
  return *reinterpret_cast<Coroutine*>(coroutine);
}
const Coroutine& to_cpp(const cosync_coroutine* coroutine) noexcept {
  return *reinterpret_cast<const Coroutine*>(coroutine);
}
cosync_coroutine* to_c(Coroutine& coroutine) noexcept {
  return reinterpret_cast<cosync_coroutine*>(&coroutine);
}
Loop& to_cpp(cosync_loop* loop) noexcept { return *reinterpret_cast<Loop*>(loop); }

// Runs `fn` on the loop at a deadline, once, and frees itself first.
struct TimerCall {
  Timer timer;
  void (*fn)(void*) = nullptr;
  void* data = nullptr;

  static void fire(Timer* timer) noexcept {
    auto* call = static_cast<TimerCall*>(timer->data);
    const auto fn = call->fn;
    void* data = call->data;
    delete call;
    fn(data);
  }
};

// Runs `fn` once, when an fd is ready (or its wait failed), and frees itself.
struct IoCall {
  IoWait wait;
  void (*fn)(void*, int) = nullptr;
  void* data = nullptr;

  static void fire(IoWait* wait) noexcept {
    auto* call = static_cast<IoCall*>(wait->data);
    const auto fn = call->fn;
    void* data = call->data;
    const int status = wait->error != 0 ? -wait->error : 0;
    delete call;
    fn(data, status);
  }
};

// The events cosync_wait_fd and cosync_call_when_ready accept: at least one
// direction, nothing else (a wait for no event could never end).
bool valid_events(unsigned events) noexcept {
  return events != 0 && (events & ~(COSYNC_READABLE | COSYNC_WRITABLE)) == 0;
}

// Running the loop is the main context's, outside the loop's callbacks.
bool loop_cannot_run_here(Loop& loop) noexcept { return in_coroutine() || loop.in_callback(); }

// A cancel requested while the coroutine was suspended by a plain yield
// reaches it as at a wait: a wait whose condition already holds throws
// Cancelled when a cancel is pending, and returns at once otherwise.
void deliver_pending_cancel() {
  impl::Waiter waiter;
  waiter.wait([] { return true; }, no_deadline);
}

// Out-pointers hold NULL whenever a call fails, so a caller that ignores the
// status never reads a stale value.
template <class T>
void clear_out(T** out) noexcept {
  if (out != nullptr) {
    *out = nullptr;
  }
}

int take_result(cosync_request* request, void** result) {
  void* value = nullptr;
  const int status = guarded([&] {
    value = request->request.get();
    return 0;
  });
  delete request;
  if (result != nullptr) {
    *result = status == 0 ? value : nullptr;
  }
  return status;
}

// Null when the array or one of its requests is NULL.
std::optional<std::vector<impl::RequestCore*>> cores_of(cosync_request* const* requests,
                                                        std::size_t count) {
  if (requests == nullptr && count != 0) {
    return std::nullopt;
  }
  std::vector<impl::RequestCore*> cores;
  cores.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (requests[i] == nullptr) {
      return std::nullopt;
    }
    cores.push_back(&impl::RequestAccess::core(requests[i]->request));
  }
  return cores;
}

}  // namespace

// An exception from C++ code inside a coroutine body is the joiner's error:
// reported here once, when it reaches C.
void report_escaped(const char* what) noexcept {
  std::fprintf(stderr, "cosync: an exception escaped a coroutine launched from C: %s\n", what);
}

Deadline to_deadline(cosync_deadline deadline) noexcept {
  return Deadline(std::chrono::nanoseconds(deadline));
}

// Refused up front with the errno cosync.h promises, instead of the loop's
// generic misuse.
bool wait_would_nest() { return !in_coroutine() && this_loop().in_callback(); }

}  // namespace cosync::capi

using cosync::capi::guarded;

// The C entry points are exported from libcosync.so (the library builds
// with hidden visibility; cosync.h stays free of attributes).
#pragma GCC visibility push(default)
extern "C" {

cosync_deadline cosync_now(void) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             cosync::Clock::now().time_since_epoch())
      .count();
}

cosync_deadline cosync_deadline_after(int64_t timeout_ns) {
  return cosync::deadline_after(std::chrono::nanoseconds(timeout_ns)).time_since_epoch().count();
}

int cosync_create(cosync_task** task, const cosync_options* options, cosync_fn fn, void* arg) {
  cosync::capi::clear_out(task);
  if (task == nullptr || fn == nullptr) {
    return -EINVAL;
  }
  return guarded([&] {
    *task = new cosync_task{
        cosync::create(cosync::capi::to_options(options), cosync::capi::CBody{fn, arg})};
    return 0;
  });
}

int cosync_resume(cosync_task* task) {
  if (task == nullptr) {
    return -EINVAL;
  }
  return guarded([&] {
    task->task.resume();
    return 0;
  });
}

int cosync_task_done(const cosync_task* task) {
  if (task == nullptr) {
    return -EINVAL;
  }
  return task->task.done() ? 1 : 0;
}

int cosync_join(cosync_task* task, void** result) {
  cosync::capi::clear_out(result);
  if (task == nullptr) {
    return -EINVAL;
  }
  void* value = nullptr;
  const int status = guarded([&] {
    value = task->task.join();
    return 0;
  });
  if (task->task && !task->task.done()) {
    return status;  // refused before joining: the task is still the caller's
  }
  delete task;
  if (result != nullptr) {
    *result = status == 0 ? value : nullptr;
  }
  return status;
}

void cosync_task_free(cosync_task* task) { delete task; }

cosync_coroutine* cosync_task_coroutine(const cosync_task* task) {
  if (task == nullptr) {
    return nullptr;
  }
  return cosync::capi::to_c(task->task.coroutine());
}

cosync_coroutine* cosync_current(void) { return cosync::capi::to_c(cosync::current()); }

cosync_coroutine* cosync_main(void) { return cosync::capi::to_c(cosync::main_context()); }

int cosync_in_coroutine(void) { return cosync::in_coroutine() ? 1 : 0; }

int cosync_yield(void) {
  if (!cosync::in_coroutine()) {
    return -EPERM;
  }
  return guarded([] {
    cosync::capi::deliver_pending_cancel();
    cosync::yield();
    cosync::capi::deliver_pending_cancel();
    return 0;
  });
}

int cosync_yield_to_main(void) {
  if (!cosync::in_coroutine()) {
    return -EPERM;
  }
  return guarded([] {
    cosync::capi::deliver_pending_cancel();
    cosync::yield_to_main();
    cosync::capi::deliver_pending_cancel();
    return 0;
  });
}

void* cosync_user_data(const cosync_coroutine* coroutine) {
  return coroutine != nullptr ? cosync::capi::to_cpp(coroutine).user_data() : nullptr;
}

void cosync_set_user_data(cosync_coroutine* coroutine, void* data) {
  if (coroutine != nullptr) {
    cosync::capi::to_cpp(coroutine).set_user_data(data);
  }
}

const char* cosync_name(const cosync_coroutine* coroutine) {
  return coroutine != nullptr ? cosync::capi::to_cpp(coroutine).name() : "";
}

void cosync_set_name(cosync_coroutine* coroutine, const char* name) {
  if (coroutine != nullptr) {
    cosync::capi::to_cpp(coroutine).set_name(name != nullptr ? name : "");
  }
}

uint64_t cosync_id(const cosync_coroutine* coroutine) {
  return coroutine != nullptr ? cosync::capi::to_cpp(coroutine).id() : 0;
}

int cosync_spawn(cosync_request** request, const cosync_options* options, cosync_fn fn, void* arg) {
  cosync::capi::clear_out(request);
  if (request == nullptr || fn == nullptr) {
    return -EINVAL;
  }
  return guarded([&] {
    *request = new cosync_request{
        cosync::spawn(cosync::capi::to_options(options), cosync::capi::CBody{fn, arg})};
    return 0;
  });
}

int cosync_request_done(const cosync_request* request) {
  if (request == nullptr) {
    return -EINVAL;
  }
  return request->request.done() ? 1 : 0;
}

int cosync_request_wait(cosync_request* request, cosync_deadline deadline) {
  if (request == nullptr) {
    return -EINVAL;
  }
  if (request->request.done()) {
    return 0;
  }
  if (cosync::capi::wait_would_nest()) {
    return -EPERM;
  }
  return guarded(
      [&] { return request->request.wait(cosync::capi::to_deadline(deadline)) ? 0 : -ETIMEDOUT; });
}

int cosync_request_get(cosync_request* request, void** result, cosync_deadline deadline) {
  cosync::capi::clear_out(result);
  const int status = cosync_request_wait(request, deadline);
  if (status != 0) {
    return status;  // still running: the request is kept
  }
  return cosync::capi::take_result(request, result);
}

void cosync_request_cancel(cosync_request* request) {
  if (request != nullptr) {
    request->request.cancel();
  }
}

void cosync_request_free(cosync_request* request) { delete request; }

int cosync_wait_all(cosync_request* const* requests, size_t count, cosync_deadline deadline) {
  return guarded([&] {
    const auto cores = cosync::capi::cores_of(requests, count);
    if (!cores) {
      return -EINVAL;
    }
    if (cosync::capi::wait_would_nest()) {
      return -EPERM;
    }
    return cosync::impl::wait_all_of(*cores, cosync::capi::to_deadline(deadline)) ? 0 : -ETIMEDOUT;
  });
}

int cosync_wait_any(cosync_request* const* requests, size_t count, cosync_deadline deadline) {
  return guarded([&] {
    const auto cores = cosync::capi::cores_of(requests, count);
    if (!cores || cores->empty()) {
      return -EINVAL;  // none of no requests can ever be done
    }
    if (cosync::capi::wait_would_nest()) {
      return -EPERM;
    }
    const int index = cosync::impl::wait_any_of(*cores, cosync::capi::to_deadline(deadline));
    return index < 0 ? -ETIMEDOUT : index;
  });
}

int cosync_sleep_until(cosync_deadline deadline) {
  return guarded([&] {
    if (cosync::capi::wait_would_nest()) {
      return -EPERM;
    }
    cosync::sleep_until(cosync::capi::to_deadline(deadline));
    return 0;
  });
}

int cosync_wait_fd(int fd, unsigned events, cosync_deadline deadline) {
  if (!cosync::capi::valid_events(events)) {
    return -EINVAL;
  }
  return guarded([&] {
    if (cosync::capi::wait_would_nest()) {
      return -EPERM;
    }
    return -cosync::impl::wait_ready_status(fd, events, cosync::capi::to_deadline(deadline));
  });
}

cosync_loop* cosync_this_loop(void) {
  cosync_loop* loop = nullptr;
  guarded([&] {
    loop = reinterpret_cast<cosync_loop*>(&cosync::this_loop());
    return 0;
  });
  return loop;
}

int cosync_loop_run_once(cosync_loop* loop, cosync_deadline until) {
  if (loop == nullptr) {
    return -EINVAL;
  }
  if (cosync::capi::loop_cannot_run_here(cosync::capi::to_cpp(loop))) {
    return -EPERM;
  }
  return guarded([&] {
    cosync::capi::to_cpp(loop).run_once(cosync::capi::to_deadline(until));
    return 0;
  });
}

int cosync_loop_run(cosync_loop* loop) {
  if (loop == nullptr) {
    return -EINVAL;
  }
  if (cosync::capi::loop_cannot_run_here(cosync::capi::to_cpp(loop))) {
    return -EPERM;
  }
  return guarded([&] {
    cosync::capi::to_cpp(loop).run();
    return 0;
  });
}

int cosync_loop_run_until(cosync_loop* loop, int (*done)(void*), void* data,
                          cosync_deadline until) {
  if (loop == nullptr || done == nullptr) {
    return -EINVAL;
  }
  if (cosync::capi::loop_cannot_run_here(cosync::capi::to_cpp(loop))) {
    return -EPERM;
  }
  return guarded([&] {
    const bool finished = cosync::capi::to_cpp(loop).run_until([&] { return done(data) != 0; },
                                                               cosync::capi::to_deadline(until));
    return finished ? 0 : -ETIMEDOUT;
  });
}

void cosync_loop_stop(cosync_loop* loop) {
  if (loop != nullptr) {
    cosync::capi::to_cpp(loop).stop();
  }
}

void cosync_loop_forget_fd(cosync_loop* loop, int fd) {
  if (loop != nullptr) {
    cosync::capi::to_cpp(loop).forget_fd(fd);
  }
}

int cosync_call_at(cosync_loop* loop, cosync_deadline when, void (*fn)(void*), void* data) {
  if (loop == nullptr || fn == nullptr) {
    return -EINVAL;
  }
  return guarded([&] {
    auto* call = new cosync::capi::TimerCall{{}, fn, data};
    call->timer.fn = &cosync::capi::TimerCall::fire;
    call->timer.data = call;
    call->timer.due = cosync::capi::to_deadline(when);
    try {
      cosync::capi::to_cpp(loop).add_timer(call->timer);
    } catch (...) {
      delete call;
      throw;
    }
    return 0;
  });
}

int cosync_call_when_ready(cosync_loop* loop, int fd, unsigned events, void (*fn)(void*, int),
                           void* data) {
  if (loop == nullptr || fn == nullptr || !cosync::capi::valid_events(events)) {
    return -EINVAL;
  }
  return guarded([&] {
    auto* call = new cosync::capi::IoCall{{}, fn, data};
    call->wait.fn = &cosync::capi::IoCall::fire;
    call->wait.data = call;
    call->wait.fd = fd;
    call->wait.events = events;
    try {
      cosync::capi::to_cpp(loop).wait_io(call->wait);
    } catch (...) {
      delete call;
      throw;
    }
    return 0;
  });
}

}  // extern "C"
#pragma GCC visibility pop
