// cosync requests (layer 4): one completion interface, and waiting that
// works the same with and without coroutines.
//
// A Request<T> is a completion slot that ends in exactly one of a value, an
// error (an exception) or "cancelled", plus one continuation (a callback
// and its private data, as tevent_req's async.fn/private_data). Anything
// callback-shaped can complete it on the loop's thread: a loop callback, a
// C callback holding a void pointer (to_callback_data / from_callback_data).
// Another thread completes it through a Completer (Request::completer()),
// the one thread-safe way in: Request handles are copied and dropped on
// the loop's thread only.
//
// Waiting (R4): Request::get() inside a coroutine suspends that coroutine
// (it switches to the main context, which runs the loop) until the request
// completes; outside any coroutine it runs the thread's loop until then. So
// a function written in plain synchronous style works unchanged from main()
// and from inside thousands of coroutines. On the built-in loop, a wait on
// the main context without deadline that nothing could ever end (no timer,
// immediate, fd or signal wait, pending post, Completer or thread-pool job:
// Loop::can_wake) throws UsageError instead of blocking for ever.
//
// Coroutines and their results: spawn(fn) is create(fn) (coroutine.hpp)
// handed to the loop at once (it starts on the next iteration, or a later
// one in a burst: see Immediate in loop.hpp), its result in a shareable
// Request; a Task's join() hands its coroutine to the loop the same way and
// waits as get() does. In both, a plain yield() lets the loop run and
// continues on its next iteration.
//
// A coroutine woken before what it waits for is done (resumed by hand, or
// by a stale wake-up) notices, counts it in request_stats().early_resumes,
// and waits again (R8).
//
// Cancellation: cancelling a request produced by a coroutine (spawn) makes
// that coroutine's current or next wait throw cosync::Cancelled, so its RAII
// cleanup runs and the requests it owns are cancelled in turn; the request
// ends cancelled even if the body then returns a value or throws something
// else. Destroying the last Request handle of a pending request cancels it
// too (tevent's rule). Cancelling a completed request does nothing. A wait
// that reaches its deadline cancels what it waited for and throws
// cosync::TimedOut.
//
// Teardown: a spawned coroutine is resumed only by the loop it was spawned
// on. When that loop is torn down (the built-in loop at its thread's exit,
// normal return from main or exit() included; an adapter when it is
// destroyed) it cancels the coroutines spawned on it and runs them until
// they have unwound, so their destructors run, before the thread's other
// thread_local and static objects go. A handle dropped or cancelled later
// finds its request already ended, and nothing touches the gone loop. So a
// local handle dropped at the end of main unwinds its coroutine at exit
// too: the promise that a cancelled coroutine's destructors run holds
// whenever the process ends through exit; _exit, quick_exit and abort
// skip it. A coroutine that catches its cancellation and keeps waiting is
// reported on stderr and left suspended.
#pragma once

#include <cerrno>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "cosync/coroutine.hpp"
#include "cosync/export.hpp"
#include "cosync/loop.hpp"

namespace cosync {

// Thrown by a wait that reached its deadline. code() is errc::timed_out;
// what() is cosync's message alone, without the strerror text that
// std::system_error appends.
class COSYNC_API TimedOut : public std::system_error {
 public:
  // A timeout error with message `what`.
  explicit TimedOut(const std::string& what)
      : std::system_error(std::make_error_code(std::errc::timed_out), what), message_(what) {}
  // The message the wait was given, e.g. "cosync: mutex lock timed out".
  const char* what() const noexcept override { return message_.what(); }

 private:
  std::runtime_error message_;  // copied without allocating, as exceptions must be
};

// Counters of this thread's waits.
struct RequestStats {
  std::size_t early_resumes = 0;            // waits resumed before their condition held
  std::size_t cancellations_delivered = 0;  // cancels thrown as Cancelled at a wait
};

// This thread's counters.
COSYNC_API RequestStats request_stats() noexcept;

template <class T>
class Completer;

namespace detail {

class Waiter;
class RequestCore;

// Throws the UsageError for `call` on a moved-from Request.
[[noreturn]] COSYNC_API void throw_moved_from_request(const char* call);

// A non-owning reference to a condition (any callable returning bool): what
// a wait re-checks after each wake, without std::function's overhead.
class Condition {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, Condition>) Condition(const F& callable)
  noexcept  // NOLINT(google-explicit-constructor)
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
class COSYNC_API WaiterQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  Waiter* front() const noexcept { return head_; }
  void push(Waiter& waiter) noexcept;
  void remove(Waiter& waiter) noexcept;
  Waiter* pop() noexcept;
  void wake_all() noexcept;

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

// The untyped part of every request.
class COSYNC_API RequestCore {
 public:
  enum class Status : std::uint8_t { pending, succeeded, failed, cancelled };
  using Continuation = void (*)(RequestCore* request, void* data);

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
  void set_observer(Continuation fn, void* data) noexcept {
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

  // Waits (see Waiter::wait) until done; on timeout cancels the request and
  // throws TimedOut.
  void wait(Deadline deadline);

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
  Continuation observer_ = nullptr;
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

}  // namespace detail

// A handle to a request. Copies share the request; destroying the last
// handle of a pending request cancels it. Copying and destroying handles
// is for the loop's thread only: another thread completes a request
// through a Completer (completer()). Every use of a moved-from handle
// throws UsageError naming the call.
template <class T>
class Request {
 public:
  // A fresh pending request, to be completed by callback-shaped code.
  Request() : state_(new detail::RequestState<T>()) { state_->add_handle(); }
  // A handle to `adopted` (used by spawn() and the I/O layer).
  explicit Request(detail::RequestState<T>* adopted) noexcept : state_(adopted) {
    state_->add_handle();
  }
  // Another handle to `other`'s request (loop thread only).
  Request(const Request& other) noexcept : state_(other.state_) {
    if (state_ != nullptr) state_->add_handle();
  }
  // Takes over `other`'s handle; `other` is left moved-from.
  Request(Request&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  // Makes this a handle to `other`'s request, dropping the old one (which
  // cancels it if it was its last handle and still pending).
  Request& operator=(Request other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~Request() {
    if (state_ != nullptr) state_->drop_handle();
  }

  // False for a moved-from handle, the only kind whose other calls throw.
  explicit operator bool() const noexcept { return state_ != nullptr; }

  // True once the request ended (value, error or cancelled).
  bool done() const { return state("done()").done(); }
  // True once it ended with a value.
  bool succeeded() const {
    return state("succeeded()").status() == detail::RequestCore::Status::succeeded;
  }
  // True once it ended cancelled.
  bool cancelled() const {
    return state("cancelled()").status() == detail::RequestCore::Status::cancelled;
  }

  // Waits for the result (R4) and returns it, or rethrows the error, or
  // throws Cancelled. The value can be taken once. From the main context,
  // a wait without deadline that nothing on the loop could ever end throws
  // UsageError instead of blocking for ever (see Loop::can_wake).
  T get(Deadline deadline = no_deadline) {
    detail::RequestState<T>& request = state("get()");
    request.wait(deadline);
    return request.take();
  }
  // get() with a timeout instead of a deadline.
  T get(Clock::duration timeout) { return get(deadline_after(timeout)); }
  // Waits without taking the result; returns false on timeout (and then
  // leaves the request running).
  bool wait(Deadline deadline = no_deadline) const {
    detail::RequestState<T>& request = state("wait()");
    detail::Waiter waiter;
    request.set_continuation(&wake_waiter, &waiter);
    struct Clear {
      detail::RequestCore& request;
      void* data;
      ~Clear() { request.clear_continuation(data); }
    } clear{request, &waiter};
    return waiter.wait([&request] { return request.done(); }, deadline);
  }

  // Completes the request with a value (ignored once it is done).
  template <class... A>
  void set_value(A&&... value) {
    state("set_value()").succeed(std::forward<A>(value)...);
  }
  // Completes the request with an error (ignored once it is done).
  void set_error(std::exception_ptr error) { state("set_error()").fail(std::move(error)); }
  // Cancels the request: it ends cancelled (a spawned coroutine is asked
  // to stop, and its request ends cancelled whatever the body returns).
  void cancel() { state("cancel()").cancel(); }

  // The continuation: called once with the request's private data when it
  // completes.
  void on_complete(detail::RequestCore::Continuation fn, void* data) {
    state("on_complete()").set_continuation(fn, data);
  }

  // For C callbacks on the loop's thread: a pointer that keeps the request
  // alive until from_callback_data takes it back (exactly once).
  void* to_callback_data() const {
    detail::RequestState<T>& request = state("to_callback_data()");
    request.add_ref();
    return &request;
  }
  // Takes back a pointer from to_callback_data.
  static Request from_callback_data(void* data) noexcept {
    auto* state = static_cast<detail::RequestState<T>*>(data);
    Request request(state);
    state->drop_ref();
    return request;
  }

  // The one thread-safe way to complete this request from another thread
  // (see Completer). Call it on the loop's thread.
  Completer<T> completer() const;

  // The untyped request, for wait_all / wait_any.
  detail::RequestCore& core() const { return state("core()"); }

 private:
  detail::RequestState<T>& state(const char* call) const {
    if (state_ == nullptr) [[unlikely]] {
      detail::throw_moved_from_request(call);
    }
    return *state_;
  }
  static void wake_waiter(detail::RequestCore*, void* data) noexcept {
    static_cast<detail::Waiter*>(data)->wake();
  }

  detail::RequestState<T>* state_;
};

namespace detail {

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

}  // namespace detail

// The one thread-safe way to complete a request from another thread.
// Made on the loop's thread by Request::completer(), then moved to any
// thread, where exactly one of set_value, set_error or cancel is called
// (a second call throws UsageError). The request is completed on the
// loop's thread (through Loop::post), in the order completers were used;
// until then the completer keeps the request alive, and the loop counts
// it as something that may still wake it (Loop::can_wake). Destroying an
// unused completer cancels the request, so a waiter never hangs on a
// completer that was dropped. If the loop is gone by then (its thread
// exited), nothing happens. Request handles themselves are not
// thread-safe: only the completer crosses threads.
template <class T>
class Completer : public detail::CompleterCore {
 public:
  // An empty completer; only assignable.
  Completer() noexcept = default;

  // Completes the request with a value made from `value`.
  template <class... A>
  void set_value(A&&... value) {
    if constexpr (std::is_void_v<T>) {
      static_assert(sizeof...(A) == 0, "Completer<void>::set_value takes no value");
      deliver(
          [](detail::RequestCore& request) {
            static_cast<detail::RequestState<void>&>(request).succeed();
          },
          "set_value()");
    } else {
      auto box = std::make_shared<T>(std::forward<A>(value)...);
      deliver(
          [box](detail::RequestCore& request) {
            static_cast<detail::RequestState<T>&>(request).succeed(std::move(*box));
          },
          "set_value()");
    }
  }
  // Completes the request with an error.
  void set_error(std::exception_ptr error) {
    deliver([error](detail::RequestCore& request) { request.fail(error); }, "set_error()");
  }
  // Cancels the request.
  void cancel() {
    deliver([](detail::RequestCore& request) { request.cancel(); }, "cancel()");
  }

 private:
  friend class Request<T>;
  explicit Completer(detail::RequestCore& request) : CompleterCore(request) {}
};

template <class T>
Completer<T> Request<T>::completer() const {
  return Completer<T>(state("completer()"));
}

namespace detail {

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

}  // namespace detail

// Launches fn(args...) as a coroutine on this thread's loop and returns the
// request for its result at once (R6, R7): it starts on the loop's next
// iteration. Waiting on the request from a coroutine suspends that
// coroutine until this one finishes. A plain yield() in the coroutine lets
// the loop and the other coroutines run, and it continues on the next
// iteration.
template <class F, class... Args>
Request<task_result_t<F, Args...>> spawn(const Options& options, F&& fn, Args&&... args) {
  using R = task_result_t<F, Args...>;
  auto* state = new detail::SpawnState<R>(this_loop(), options, std::forward<F>(fn),
                                          std::forward<Args>(args)...);
  return Request<R>(state);
}

// spawn() with default Options.
template <class F, class... Args>
requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
    Request<task_result_t<F, Args...>> spawn(F&& fn, Args&&... args) {
  return spawn(Options{}, std::forward<F>(fn), std::forward<Args>(args)...);
}

// Lets the loop and the other coroutines run, then continues: in a
// coroutine it suspends until the loop's next iterations resume it; on the
// main context it runs the loop without sleeping. Throws Cancelled in a
// cancelled coroutine. Code that may find its work always ready (a fast
// stream) calls it now and then so it does not starve the rest.
COSYNC_API void yield_to_loop();

// Suspends the calling coroutine (or runs the loop, outside coroutines)
// until the deadline. Throws Cancelled if the coroutine is cancelled.
COSYNC_API void sleep_until(Deadline deadline);
// sleep_until(now + duration).
inline void sleep_for(Clock::duration duration) { sleep_until(deadline_after(duration)); }

// Waits until `fd` is ready for `events` (io_readable, io_writable, or
// both) on this thread's loop; returns at once when it already is (level
// triggered, on every backend). Throws std::system_error naming the fd when
// the wait ends in error (ECANCELED: the fd was forgotten or closed through
// the loop; EBADF: the fd was closed behind the built-in loop's back, see
// Loop::forget_fd), TimedOut at the deadline, Cancelled in a cancelled
// coroutine; the built-in loop refuses `events` without io_readable or
// io_writable with std::invalid_argument.
COSYNC_API void wait_io(int fd, unsigned events, Deadline deadline = no_deadline);
// wait_io for code that keeps the loop's readiness cache itself
// (Loop::io_ready / io_not_ready, as cosync's sockets do): waits for the
// next readiness report without asking the kernel first. Call it only
// after an operation answered EAGAIN (or came up short) and io_not_ready
// was called, or when io_ready answers false; otherwise it may wait for a
// report that already came.
COSYNC_API void wait_io_edge(int fd, unsigned events, Deadline deadline = no_deadline);

namespace detail {
// wait_io for callers that want no exceptions for I/O outcomes: returns 0
// when the fd is ready, ETIMEDOUT at the deadline, else the error the wait
// ended with (ECANCELED: forgotten or closed). Throws only Cancelled.
COSYNC_API int wait_io_status(int fd, unsigned events, Deadline deadline);
// Level-triggered wait_io_status: when the loop's cache says the fd may be
// ready, the kernel is asked first. wait_io_status itself trusts the
// caller to have found the fd drained (EAGAIN) before waiting, as the
// socket operations do.
COSYNC_API int wait_ready_status(int fd, unsigned events, Deadline deadline);
}  // namespace detail

// Waits for the POSIX signal `signo`, delivered through the loop; the loop
// keeps it blocked in this thread from the first wait on.
COSYNC_API void wait_signal(int signo, Deadline deadline = no_deadline);

// Waits until every request is done (whatever their outcome); returns false
// if the deadline passed first.
COSYNC_API bool wait_all(const std::vector<detail::RequestCore*>& requests,
                         Deadline deadline = no_deadline);
// Waits until one request is done; returns its index, or -1 if the deadline
// passed first.
COSYNC_API int wait_any(const std::vector<detail::RequestCore*>& requests,
                        Deadline deadline = no_deadline);

// wait_all over the given requests, without a deadline.
template <class... T>
bool wait_all(Request<T>&... requests) {
  return wait_all({&requests.core()...});
}
// wait_any over the given requests, without a deadline: the index of one that is done.
template <class... T>
int wait_any(Request<T>&... requests) {
  return wait_any({&requests.core()...});
}

}  // namespace cosync
