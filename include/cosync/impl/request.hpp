// Internals of cosync/request.hpp, inline where the hot path needs them:
// the waiter every blocking call suspends through, the untyped request core
// with its reference counts, and the state of a spawned coroutine. Not part
// of the API: nothing here is stable, and user code never names it.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "cosync/coroutine.hpp"
#include "cosync/export.hpp"
#include "cosync/impl/intrusive_list.hpp"
#include "cosync/loop.hpp"

namespace cosync {

template <class T>
class Request;

namespace impl {

class RequestCore;

// Throws the UsageError for `call` on a moved-from Request.
[[noreturn]] COSYNC_API void throw_moved_from_request(const char* call);

// A non-owning reference to a condition (any callable returning bool): what
// a wait re-checks after each wake, without std::function's overhead.
class Condition {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, Condition>) Condition(const F& callable)
  noexcept  // NOLINT(google-explicit-constructor): waits take a lambda as it is
      : object_(&callable), check_([](const void* object) {
          return static_cast<bool>((*static_cast<const F*>(object))());
        }) {}
  bool operator()() const { return check_(object_); }

 private:
  const void* object_;
  bool (*check_)(const void*);
};

// The request layer's view of one coroutine: how to resume it (for a
// spawned coroutine, a step that also finishes its request) and whether it
// was asked to cancel. `loop` and `request` name the loop that resumes a
// spawned coroutine and the request it produces, so a loop that goes away
// can cancel the coroutines it would have resumed. `waiting` tells a
// suspension inside a wait (a wake posts `step`) from a plain yield (the
// step posts itself again).
struct Scheduling {
  Immediate step;
  bool cancel_requested = false;
  bool cancel_delivered = false;
  bool waiting = false;
  Loop* loop = nullptr;
  RequestCore* request = nullptr;
};

// One wait of one context (a coroutine or the main context), on its stack.
// Whatever the context waits for calls wake() when it may be done; the
// waiting side re-checks its condition, so a spurious wake is harmless.
class COSYNC_API Waiter {
 public:
  Waiter() noexcept;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  ~Waiter();

  // The coroutine is resumed by an immediate, from the loop's top level:
  // resuming it from deep inside the callback that woke it costs more than
  // the immediate, because every return after a stack switch is
  // mispredicted.
  void wake() noexcept;

  // Suspends until `ready()` holds or the deadline passes; returns false on
  // timeout. In a coroutine, throws Cancelled when the coroutine is
  // cancelled. Outside coroutines, runs the thread's loop meanwhile.
  bool wait(Condition ready, Deadline deadline) {
    return in_coroutine() ? wait_in_coroutine(ready, deadline) : wait_on_main(ready, deadline);
  }

  // Intrusive links for primitives that queue waiters (mutex, channel...).
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  bool granted = false;  // handed a resource by the primitive

 private:
  bool wait_in_coroutine(Condition ready, Deadline deadline);
  static bool wait_on_main(Condition ready, Deadline deadline);
  static void on_immediate(Immediate* immediate) noexcept;
  static void on_timer(Timer* timer) noexcept;

  Coroutine* coroutine_ = nullptr;
  Loop* loop_ = nullptr;
  Immediate resume_;
  Timer timer_;
  bool timed_out_ = false;
};

// A FIFO of waiters, for the synchronisation primitives.
class WaiterQueue : public impl::IntrusiveList<Waiter> {
 public:
  // Wakes every queued waiter; each re-checks its own condition.
  void wake_all() noexcept {
    for_each([](Waiter& waiter) { waiter.wake(); });
  }
  // Wakes the first queued waiter, if any.
  void wake_front() noexcept {
    if (Waiter* first = front()) first->wake();
  }
  // Hands a resource to the first waiter (Waiter::granted), taking it off
  // the queue; false when nobody waits.
  bool grant_front() noexcept {
    Waiter* first = pop_front();
    if (first == nullptr) return false;
    first->granted = true;
    first->wake();
    return true;
  }
};

// The untyped part of every request.
class COSYNC_API RequestCore {
 public:
  enum class Status : std::uint8_t { pending, succeeded, failed, cancelled };
  // What a waiter or a C callback registers: called with its own data.
  using Continuation = void (*)(void* data);
  // The owner of a group of requests is told which one completed.
  using Observer = void (*)(RequestCore* request, void* data);

  RequestCore() = default;
  RequestCore(const RequestCore&) = delete;
  RequestCore& operator=(const RequestCore&) = delete;
  virtual ~RequestCore();

  Status status() const noexcept { return status_; }
  bool done() const noexcept { return status_ != Status::pending; }
  const std::exception_ptr& error() const noexcept { return error_; }

  // The one continuation, called once when the request completes (on the
  // completer's stack). A second one is refused with UsageError.
  void set_continuation(Continuation fn, void* data);
  // Removes the continuation if it is still the one registered with `data`.
  void clear_continuation(void* data) noexcept;

  // A second, internal slot for the owner of a group of requests (a
  // TaskGroup): told when the request completes, before the continuation,
  // which stays free for whoever waits on the request itself.
  void set_observer(Observer fn, void* data) noexcept {
    observer_ = fn;
    observer_data_ = data;
  }

  void cancel() noexcept;
  void fail(std::exception_ptr error) noexcept;
  void finish_cancelled() noexcept;

  void add_handle() noexcept { ++handles_, ++refs_; }
  void drop_handle() noexcept;
  void add_ref() noexcept { ++refs_; }
  void drop_ref() noexcept;

  // Rethrows the error, or throws Cancelled, for a request that did not
  // succeed; UsageError while pending or after the value was taken.
  void throw_unless_succeeded(const char* call) const;
  void mark_taken() noexcept { taken_ = true; }

  // Waits (see Waiter::wait) until done; on timeout cancels the request,
  // waits for it to end and throws TimedOut.
  void wait(Deadline deadline);
  // Waits until done; false at the deadline, leaving the request running.
  bool wait_done(Deadline deadline);

 protected:
  void finish(Status status) noexcept;
  // How the producer stops working on a cancelled request; the default
  // completes it as cancelled at once.
  virtual void on_cancel() noexcept;

  std::exception_ptr error_;

 private:
  Status status_ = Status::pending;
  bool taken_ = false;
  Continuation continuation_ = nullptr;
  void* continuation_data_ = nullptr;
  Observer observer_ = nullptr;
  void* observer_data_ = nullptr;
  unsigned handles_ = 0;
  unsigned refs_ = 0;
};

template <class T>
class RequestState : public RequestCore {
 public:
  template <class... A>
  void succeed(A&&... value) noexcept(std::is_nothrow_constructible_v<T, A...>) {
    if (done()) return;
    value_.emplace(std::forward<A>(value)...);
    finish(Status::succeeded);
  }
  T take() {
    throw_unless_succeeded("get()");
    mark_taken();
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class RequestState<void> : public RequestCore {
 public:
  void succeed() noexcept {
    if (!done()) finish(Status::succeeded);
  }
  void take() {
    throw_unless_succeeded("get()");
    mark_taken();
  }
};

// What the public templates (spawn, wait_all, TaskGroup, ThreadPool) and the
// C API need from a Request that its users do not: its untyped core, and a
// handle adopting a freshly made state.
struct RequestAccess {
  template <class T>
  static RequestCore& core(const Request<T>& request) {
    return request.state("the request");
  }
  template <class T>
  static Request<T> adopt(RequestState<T>* state) noexcept {
    return Request<T>(state);
  }
};

template <class T>
inline constexpr bool is_request = false;
template <class T>
inline constexpr bool is_request<Request<T>> = true;

// The untyped waits behind wait_all / wait_any.
COSYNC_API bool wait_all_of(std::span<RequestCore* const> requests, Deadline deadline);
COSYNC_API int wait_any_of(std::span<RequestCore* const> requests, Deadline deadline);

// The untyped half of Completer: the request it keeps alive, the loop that
// completes it, and that loop's post gate.
class COSYNC_API CompleterCore {
 public:
  // An empty completer.
  CompleterCore() noexcept = default;
  // Takes over `other`'s request; `other` is left empty.
  CompleterCore(CompleterCore&& other) noexcept;
  // Cancels this one's request if unused, then takes over `other`'s.
  CompleterCore& operator=(CompleterCore&& other) noexcept;
  CompleterCore(const CompleterCore&) = delete;
  CompleterCore& operator=(const CompleterCore&) = delete;
  // Cancels the request if the completer was not used.
  ~CompleterCore();

  // True until the completer was used (or moved from).
  explicit operator bool() const noexcept { return request_ != nullptr; }

 protected:
  using Completion = std::function<void(RequestCore& request)>;
  // On the loop's thread: keeps `request` and the loop's can_wake alive.
  explicit CompleterCore(RequestCore& request);
  // Any thread: has the loop's thread run `complete` on the request, then
  // let both go. Throws UsageError on a second use.
  void deliver(Completion complete, const char* call);

 private:
  void cancel_unused() noexcept;

  RequestCore* request_ = nullptr;
  Loop* loop_ = nullptr;
  std::shared_ptr<PostGate> gate_;
};

// A request whose result a coroutine produces. It owns the coroutine; the
// loop starts it on the next iteration and resumes it after each wait.
template <class R>
class SpawnState final : public RequestState<R> {
 public:
  template <class F, class... A>
  SpawnState(Loop& loop, const Options& options, F&& fn, A&&... args)
      : task_(create(options, std::forward<F>(fn), std::forward<A>(args)...)) {
    scheduling_of(task_.coroutine()) = &scheduling_;
    scheduling_.step.fn = &SpawnState::after_step;
    scheduling_.step.data = this;
    scheduling_.step.resume = &task_.coroutine();
    scheduling_.loop = &loop;
    scheduling_.request = this;
    this->add_ref();  // held while the coroutine lives
    loop.post_immediate(scheduling_.step);
  }

 private:
  // The loop has just resumed the coroutine (see Immediate::resume). One
  // that suspended outside any wait (plain yield()) only let the loop run:
  // it is scheduled again for the next iteration.
  static void after_step(Immediate* step) noexcept {
    static_cast<SpawnState*>(step->data)->after_resume();
  }

  void after_resume() noexcept {
    if (task_.done()) {
      complete_from_task();
    } else if (!scheduling_.waiting && scheduling_.loop != nullptr) {
      scheduling_.loop->post_immediate(scheduling_.step);
    }
  }

  // Out of line: once per coroutine, and inlined it would make every step
  // save and restore the registers its exception handling needs. A request
  // that was cancelled ends cancelled, whatever the body returned or threw
  // after the cancel (the promise of Request::cancel and cosync.h).
  [[gnu::noinline]] void complete_from_task() noexcept {
    scheduling_.step.resume = nullptr;  // join() frees the control block
    try {
      if constexpr (std::is_void_v<R>) {
        task_.join();
        if (!scheduling_.cancel_requested) this->succeed();
      } else {
        R value = task_.join();
        if (!scheduling_.cancel_requested) this->succeed(std::move(value));
      }
    } catch (const Cancelled&) {
    } catch (...) {
      if (!scheduling_.cancel_requested) this->fail(std::current_exception());
    }
    this->finish_cancelled();  // a no-op unless cancelled or unfinished
    this->drop_ref();          // may delete this
  }

  // With its loop gone (Scheduling::loop cleared by the loop's teardown)
  // nothing can resume the coroutine any more: a cancel only marks it.
  void on_cancel() noexcept override {
    scheduling_.cancel_requested = true;
    Loop* loop = scheduling_.loop;
    if (loop == nullptr) {
      return;
    }
    if (task_.coroutine().state() == CoroutineState::created) {
      task_.cancel();  // never started: it never runs
      loop->post_immediate(scheduling_.step);
    } else if (scheduling_.waiting) {
      loop->post_immediate(scheduling_.step);
    }
  }

  Scheduling scheduling_;
  Task<R> task_;
};

// wait_io for callers that want no exceptions for I/O outcomes: returns 0
// when the fd is ready, ETIMEDOUT at the deadline, else the error the wait
// ended with (ECANCELED: forgotten or closed). Throws only Cancelled.
COSYNC_API int wait_io_status(int fd, unsigned events, Deadline deadline);
// Level-triggered wait_io_status: when the loop's cache says the fd may be
// ready, the kernel is asked first. wait_io_status itself trusts the
// caller to have found the fd drained (EAGAIN) before waiting, as the
// socket operations do.
COSYNC_API int wait_ready_status(int fd, unsigned events, Deadline deadline);

}  // namespace impl
}  // namespace cosync
