// cosync requests (layer 5, above the loop): one completion interface, and waiting that
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

#include <array>
#include <cstddef>
#include <exception>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "cosync/coroutine.hpp"
#include "cosync/export.hpp"
#include "cosync/impl/request.hpp"
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

// Completes a request from another thread (defined below).
template <class T>
class Completer;

// A handle to a request. Copies share the request; destroying the last
// handle of a pending request cancels it. Copying and destroying handles
// is for the loop's thread only: another thread completes a request
// through a Completer (completer()). Every use of a moved-from handle
// throws UsageError naming the call.
template <class T>
class Request {  // NOLINT(cppcoreguidelines-special-member-functions): operator= by value moves too
 public:
  // A fresh pending request, to be completed by callback-shaped code.
  Request() : state_(new impl::RequestState<T>()) { state_->add_handle(); }
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
  // Drops this handle; the last one of a pending request cancels it.
  ~Request() {
    if (state_ != nullptr) state_->drop_handle();
  }

  // False for a moved-from handle, the only kind whose other calls throw.
  explicit operator bool() const noexcept { return state_ != nullptr; }

  // True once the request ended (value, error or cancelled).
  bool done() const { return state("done()").done(); }
  // True once it ended with a value.
  bool succeeded() const {
    return state("succeeded()").status() == impl::RequestCore::Status::succeeded;
  }
  // True once it ended cancelled.
  bool cancelled() const {
    return state("cancelled()").status() == impl::RequestCore::Status::cancelled;
  }

  // Waits for the result (R4) and returns it, or rethrows the error, or
  // throws Cancelled. The value can be taken once. From the main context,
  // a wait without deadline that nothing on the loop could ever end throws
  // UsageError instead of blocking for ever (see Loop::can_wake).
  T get(Deadline deadline = no_deadline) {
    impl::RequestState<T>& request = state("get()");
    request.wait(deadline);
    return request.take();
  }
  // get() with a timeout instead of a deadline.
  T get(Clock::duration timeout) { return get(deadline_after(timeout)); }
  // Waits without taking the result; returns false on timeout (and then
  // leaves the request running).
  bool wait(Deadline deadline = no_deadline) const { return state("wait()").wait_done(deadline); }

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

  // The continuation: fn(data) is called once, on the loop's thread, when
  // the request completes. A second one (or a wait on this request while
  // one is registered) throws UsageError.
  void on_complete(void (*fn)(void* data), void* data) {
    state("on_complete()").set_continuation(fn, data);
  }

  // For C callbacks on the loop's thread: a pointer that keeps the request
  // alive until from_callback_data takes it back (exactly once).
  void* to_callback_data() const {
    impl::RequestState<T>& request = state("to_callback_data()");
    request.add_ref();
    return &request;
  }
  // Takes back a pointer from to_callback_data.
  static Request from_callback_data(void* data) noexcept {
    auto* state = static_cast<impl::RequestState<T>*>(data);
    Request request(state);
    state->drop_ref();
    return request;
  }

  // The one thread-safe way to complete this request from another thread
  // (see Completer). Call it on the loop's thread.
  Completer<T> completer() const;

 private:
  friend struct impl::RequestAccess;
  explicit Request(impl::RequestState<T>* adopted) noexcept : state_(adopted) {
    state_->add_handle();
  }
  impl::RequestState<T>& state(const char* call) const {
    if (state_ == nullptr) [[unlikely]] {
      impl::throw_moved_from_request(call);
    }
    return *state_;
  }
  impl::RequestState<T>* state_;
};

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
class Completer : private impl::CompleterCore {
 public:
  // An empty completer; only assignable.
  Completer() noexcept = default;
  // Completer is move-only: moving leaves the source empty; assigning over
  // an unused completer cancels its request first.
  Completer(Completer&& other) noexcept = default;
  // Move-only: one completer completes the request.
  Completer(const Completer&) = delete;
  // Move-only: one completer completes the request.
  Completer& operator=(const Completer&) = delete;
  // Cancels this one's request if unused, then takes over `other`'s.
  Completer& operator=(Completer&& other) noexcept = default;
  // Cancels the request if the completer was not used.
  ~Completer() = default;

  // True until the completer was used (or moved from).
  using impl::CompleterCore::operator bool;

  // Completes the request with a value made from `value`.
  template <class... A>
  void set_value(A&&... value) {
    if constexpr (std::is_void_v<T>) {
      static_assert(sizeof...(A) == 0, "Completer<void>::set_value takes no value");
      deliver(
          [](impl::RequestCore& request) {
            static_cast<impl::RequestState<void>&>(request).succeed();
          },
          "set_value()");
    } else {
      auto box = std::make_shared<T>(std::forward<A>(value)...);
      deliver(
          [box](impl::RequestCore& request) {
            static_cast<impl::RequestState<T>&>(request).succeed(std::move(*box));
          },
          "set_value()");
    }
  }
  // Completes the request with an error.
  void set_error(std::exception_ptr error) {
    deliver([error = std::move(error)](impl::RequestCore& request) { request.fail(error); },
            "set_error()");
  }
  // Cancels the request.
  void cancel() {
    deliver([](impl::RequestCore& request) { request.cancel(); }, "cancel()");
  }

 private:
  friend class Request<T>;
  explicit Completer(impl::RequestCore& request) : CompleterCore(request) {}
};

template <class T>
Completer<T> Request<T>::completer() const {
  return Completer<T>(state("completer()"));
}

// Launches fn(args...) as a coroutine on this thread's loop and returns the
// request for its result at once (R6, R7): it starts on the loop's next
// iteration. Waiting on the request from a coroutine suspends that
// coroutine until this one finishes. A plain yield() in the coroutine lets
// the loop and the other coroutines run, and it continues on the next
// iteration.
template <class F, class... Args>
Request<task_result_t<F, Args...>> spawn(const Options& options, F&& fn, Args&&... args) {
  using R = task_result_t<F, Args...>;
  auto* state = new impl::SpawnState<R>(this_loop(), options, std::forward<F>(fn),
                                        std::forward<Args>(args)...);
  return impl::RequestAccess::adopt(state);
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

// Waits for the POSIX signal `signo`, delivered through the loop; the loop
// keeps it blocked in this thread from the first wait on.
COSYNC_API void wait_signal(int signo, Deadline deadline = no_deadline);

// A range of Request handles (of one value type), for the range forms of
// wait_all and wait_any.
template <class R>
concept RequestRange = std::ranges::forward_range<R> &&
    impl::is_request<std::remove_cvref_t<std::ranges::range_value_t<R>>>;

// Waits until every request in `requests` is done (whatever their outcome);
// returns false if the deadline passed first.
template <RequestRange R>
bool wait_all(const R& requests, Deadline deadline = no_deadline) {
  std::vector<impl::RequestCore*> cores;
  for (const auto& request : requests) cores.push_back(&impl::RequestAccess::core(request));
  return impl::wait_all_of(cores, deadline);
}
// Waits until one request in `requests` is done; returns its index, or -1
// if the deadline passed first.
template <RequestRange R>
int wait_any(const R& requests, Deadline deadline = no_deadline) {
  std::vector<impl::RequestCore*> cores;
  for (const auto& request : requests) cores.push_back(&impl::RequestAccess::core(request));
  return impl::wait_any_of(cores, deadline);
}

// wait_all over the given requests, without a deadline.
template <class... T>
bool wait_all(const Request<T>&... requests) {
  const std::array<impl::RequestCore*, sizeof...(T)> cores{&impl::RequestAccess::core(requests)...};
  return impl::wait_all_of(cores, no_deadline);
}
// wait_any over the given requests, without a deadline: the index of one that is done.
template <class... T>
int wait_any(const Request<T>&... requests) {
  const std::array<impl::RequestCore*, sizeof...(T)> cores{&impl::RequestAccess::core(requests)...};
  return impl::wait_any_of(cores, no_deadline);
}

}  // namespace cosync
