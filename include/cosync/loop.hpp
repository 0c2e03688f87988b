// cosync loop (layer 4, below request): the event-loop interface the
// layers above need, and nothing more. The built-in implementation is an epoll loop (one per
// thread, created on first use); adapters for loops an application already
// owns (tevent, libuv, libevent) implement the same interface.
//
// Callbacks are intrusive: the caller owns a small node (Timer, Immediate,
// IoWait, SignalWait) that stays valid while it is armed, so arming and
// firing never allocate. Every callback runs on the loop's thread, from the
// stack that drives the loop (the main context).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "cosync/coroutine.hpp"
#include "cosync/export.hpp"
#include "cosync/impl/loop.hpp"

namespace cosync {

// Clock is the monotonic clock every cosync deadline is measured on.
using Clock = std::chrono::steady_clock;
// Absolute time on the monotonic clock; every wait in cosync takes one.
using Deadline = Clock::time_point;
// no_deadline is a deadline that never passes: wait as long as it takes.
inline constexpr Deadline no_deadline = Deadline::max();

// Converts a timeout into a deadline, saturating instead of overflowing.
COSYNC_API Deadline deadline_after(Clock::duration timeout) noexcept;

// A callback for the next loop iteration. Immediates run in the order they
// were posted; one posted while immediates run waits for the next iteration.
// The built-in loop bounds a burst: of the immediates left from earlier
// iterations it runs at most 1024 per iteration, and those its fd, timer and
// signal callbacks and cross-thread posts queue in an iteration run ahead of
// them, so that a burst of coroutine starts delays no timer or fd wake-up.
struct Immediate {
  void (*fn)(Immediate* self) = nullptr;  // the callback, given this node
  void* data = nullptr;                   // the owner's, for the callback
  // A coroutine's step: the loop switches into `resume` (unless it has
  // finished) and then calls fn. Null for a plain callback.
  Coroutine* resume = nullptr;
  Immediate* prev = nullptr;  // the loop's queue links; not the owner's
  Immediate* next = nullptr;  // the loop's queue links; not the owner's
  bool queued = false;        // true from post_immediate until it runs or is cancelled
};

// A one-shot timer on the monotonic clock. Timers with equal deadlines fire
// in the order they were added.
struct Timer {
  void (*fn)(Timer* self) = nullptr;  // the callback, given this node
  void* data = nullptr;               // the owner's, for the callback
  Deadline due{};                     // when it fires; set before add_timer
  impl::TimerSlot slot;               // the loop's; not the owner's
  // True from add_timer until it fires or is cancelled.
  bool armed() const noexcept { return slot.heap_index != impl::TimerSlot::not_armed; }
};

// IoEvent names the directions of fd readiness; combine them with |.
enum IoEvent : unsigned {
  io_readable = 1U,  // data (or end of stream, or an error) can be read
  io_writable = 2U   // a write would not block (or an error is pending)
};

// One waiter for readiness of an fd. `fn` runs once, when the fd is ready
// for `events`, or with `error` set (ECANCELED when the fd was forgotten or
// closed through the loop, or the error the loop got from the kernel).
struct IoWait {
  void (*fn)(IoWait* self) = nullptr;  // the callback, given this node
  void* data = nullptr;                // the owner's, for the callback
  // A coroutine's step (see Immediate::resume) that the loop may queue or
  // run in place of calling fn; fn must then do the same as queueing it.
  Immediate* step = nullptr;
  int fd = -1;          // the fd to watch
  unsigned events = 0;  // io_readable, io_writable, or both
  int error = 0;        // 0, or the errno the wait ended with (set before fn runs)
  bool armed = false;   // true from wait_io until fn runs or cancel_io
};

// A waiter for a POSIX signal, delivered through the loop (signalfd on
// Linux). The loop blocks the signal in its thread while anyone waits.
struct SignalWait {
  void (*fn)(SignalWait* self) = nullptr;  // the callback, given this node
  void* data = nullptr;                    // the owner's, for the callback
  int signo = 0;                           // the signal to wait for
  SignalWait* next = nullptr;              // the loop's list link; not the owner's
  bool armed = false;                      // true from watch_signal until fn runs or cancel
};

static_assert(impl::Readiness::kUnknown == (io_readable | io_writable));

// Counters a loop keeps, for tests and diagnostics.
struct LoopStats {
  std::size_t iterations = 0;      // run_once calls that ran
  std::size_t polls = 0;           // calls into the kernel's wait
  std::size_t timers_fired = 0;    // timer callbacks run
  std::size_t immediates_run = 0;  // immediates run (coroutine steps included)
  std::size_t posts_run = 0;       // cross-thread callbacks run
  // The built-in loop's kernel interface: "epoll" or "io_uring" (null on a
  // host adapter).
  const char* backend = nullptr;
  // Why this built-in loop is the epoll one although COSYNC_LOOP=io_uring
  // asked for io_uring: what the kernel refused (null otherwise).
  const char* fallback = nullptr;
};

// An event loop: the built-in epoll loop, or an adapter over a loop the
// application owns (make_tevent_loop, make_libuv_loop, make_libevent_loop).
// Every call but post() is made on the loop's own thread.
class COSYNC_API Loop {
 public:
  // A loop with no callbacks armed; backends derive from it.
  Loop() = default;
  // Not copyable: nodes and other threads hold its address.
  Loop(const Loop&) = delete;
  // Not assignable, as it is not copyable.
  Loop& operator=(const Loop&) = delete;
  // Closes the post gate. Every backend first cancels the coroutines
  // spawned on the loop and lets them unwind (the teardown hook), disarms
  // the nodes still armed, and releases what it registered.
  virtual ~Loop();

  // add_timer arms `timer` to call timer.fn at timer.due.
  virtual void add_timer(Timer& timer) = 0;
  // cancel_timer disarms `timer`; nothing happens when it is not armed.
  virtual void cancel_timer(Timer& timer) noexcept = 0;

  // Runs `immediate` on the next iteration. A loop must honour
  // Immediate::resume (switch into that coroutine first, then call fn):
  // a spawned coroutine's step relies on it.
  virtual void post_immediate(Immediate& immediate) noexcept = 0;
  // cancel_immediate takes a queued immediate off the queue; nothing
  // happens when it is not queued.
  virtual void cancel_immediate(Immediate& immediate) noexcept = 0;

  // Runs `fn` on the loop's thread. The only call that is safe from any
  // thread; it wakes the loop if it sleeps.
  virtual void post(std::function<void()> fn) = 0;

  // Arms a one-shot readiness wait. One reader and one writer may wait on
  // an fd at a time; a second one is refused with std::system_error(EBUSY).
  virtual void wait_io(IoWait& wait) = 0;
  // cancel_io disarms `wait` without calling it; nothing happens when it is
  // not armed.
  virtual void cancel_io(IoWait& wait) noexcept = 0;
  // The readiness the loop last saw for `fd` and has not been told is
  // gone: an operation that finds `event` set may skip the wait, and must
  // call io_not_ready when the kernel answers EAGAIN or a short transfer
  // shows the fd drained. On the built-in loop a direction it saw hung up
  // or in error stays ready (no further edge will come): io_not_ready
  // leaves it set. io_ready answers true for an fd the loop keeps no
  // record of, so an operation on an fd never waited on is tried first.
  bool io_ready(int fd, IoEvent event) const noexcept {
    const auto index = static_cast<unsigned>(fd);  // a negative fd is out of range
    return index >= readiness_.count ||
           (readiness_.at(index) & event & impl::Readiness::kUnknown) != 0;
  }
  // io_not_ready records that `event` is gone for `fd` (the kernel answered
  // EAGAIN, or a transfer came up short), so io_ready answers false until
  // the loop sees the fd ready again.
  void io_not_ready(int fd, IoEvent event) noexcept {
    const auto index = static_cast<unsigned>(fd);
    if (index < readiness_.count) [[likely]] {
      std::uint8_t& bits = readiness_.at(index);
      if (impl::Readiness::known(bits)) [[likely]] {
        impl::Readiness::clear(bits, event);
        return;
      }
    }
    note_not_ready(fd, event);
  }
  // Call before closing an fd the loop has seen: its waiters end with
  // ECANCELED and the loop drops its registration.
  virtual void forget_fd(int fd) noexcept = 0;

  // watch_signal arms a one-shot wait for wait.signo; the loop blocks the
  // signal in its thread while anyone waits (signalfd on the built-in loop,
  // the host's signal events on an adapter).
  virtual void watch_signal(SignalWait& wait) = 0;
  // cancel_signal disarms `wait`; nothing happens when it is not armed.
  virtual void cancel_signal(SignalWait& wait) noexcept = 0;

  // Runs one iteration: expired timers, ready fds, signals, posted and
  // immediate callbacks. Sleeps until something happens or `until`, and
  // not at all when immediates are queued. Refuses (UsageError) to run
  // from inside one of its own callbacks.
  virtual void run_once(Deadline until = no_deadline) = 0;

  // Runs until stop() is called (from a callback or, via post, another
  // thread).
  void run();
  // Makes run() return after the current iteration.
  void stop() noexcept { stopped_ = true; }

  // Runs until `done()` holds, or the deadline passes; returns done().
  template <class Predicate>
  bool run_until(Predicate&& done, Deadline until = no_deadline) {
    while (!done()) {
      if (until != no_deadline && Clock::now() >= until) {
        return false;
      }
      run_once(until);
    }
    return true;
  }

  // Whether anything could still wake the loop when it sleeps without a
  // deadline: a timer, an immediate, an fd or signal wait, a pending post,
  // or a hold (see hold_open). A wait on the main context without deadline
  // asks it before each iteration and throws UsageError on false instead
  // of sleeping for ever. The built-in loop answers; a host adapter
  // (tevent, libuv, libevent) always answers true: its host has handles
  // cosync cannot see.
  virtual bool can_wake() const noexcept { return true; }
  // Loop thread only. Something outside the loop will still post to it (a
  // Completer, a thread-pool job): can_wake stays true until the matching
  // release_hold. Code that posts from another thread with post() and
  // wants the main context to wait for it takes a hold too.
  void hold_open() noexcept { ++holds_; }
  // Ends one hold_open.
  void release_hold() noexcept { --holds_; }

  // What the layers above do when a loop is torn down (thread exit, or the
  // loop destroyed): the request layer cancels the coroutines spawned on
  // it and lets them unwind. One hook for the process, set once; every
  // backend calls it at the start of its destructor, so the loop never
  // calls upward by name.
  using TeardownHook = void (*)(Loop& loop) noexcept;
  // Sets that hook (the request layer does, at static initialisation).
  static void set_teardown_hook(TeardownHook hook) noexcept;
  // For the teardown hook: runs the immediates queued now (and the timers
  // due and the posts pending) once, as an iteration would without
  // polling; returns false when there was nothing to run. A loop that
  // cannot do so outside its own dispatch runs nothing.
  virtual bool run_pending_for_teardown() noexcept { return false; }

  // True while one of this loop's callbacks runs.
  bool in_callback() const noexcept { return callback_depth_ != 0; }
  // The gate other threads post through while the loop lives (see impl::PostGate).
  const std::shared_ptr<impl::PostGate>& post_gate() const noexcept { return post_gate_; }
  // This loop's counters.
  const LoopStats& stats() const noexcept { return stats_; }

 protected:
  // Backends count the callbacks running (in_callback) through this.
  unsigned& callback_depth() noexcept { return callback_depth_; }
  // Throws UsageError when the loop may not run here: inside one of its
  // own callbacks, or on a coroutine's stack (the loop belongs to the main
  // context, which resumes the coroutines).
  void check_can_run(const char* call) const {
    if (callback_depth_ != 0 || in_coroutine()) [[unlikely]] {
      refuse_to_run(call);
    }
  }
  // First thing in every backend's destructor: from then on no other
  // thread reaches this loop through its post gate.
  void close_post_gate() noexcept;
  // Calls the teardown hook (see set_teardown_hook); every backend's
  // destructor calls it, through the loop core's tear_down.
  void run_teardown_hook() noexcept;
  // Open holds (hold_open), for can_wake.
  std::size_t holds() const noexcept { return holds_; }
  // io_not_ready on an fd the loop keeps no record of yet: the backend
  // makes one (so io_ready answers false until the kernel reports the fd
  // ready, and a caller that retries on io_ready never spins on EAGAIN),
  // or ignores an fd it cannot watch (the caller's wait reports that). A
  // loop that keeps no readiness cache leaves readiness_ empty and may do
  // nothing here: every fd then reads as ready, and cosync's operations
  // wait after EAGAIN.
  virtual void note_not_ready(int fd, IoEvent event) noexcept = 0;
  // refuse_to_run throws the UsageError of check_can_run, naming `call`.
  [[noreturn]] void refuse_to_run(const char* call) const;

  LoopStats stats_;       // backends count into it; stats() reads it
  bool stopped_ = false;  // set by stop(); run() clears it when it returns
  // The backend's readiness bytes; see impl::Readiness.
  impl::Readiness readiness_;

 private:
  unsigned callback_depth_ = 0;
  std::size_t holds_ = 0;
  std::shared_ptr<impl::PostGate> post_gate_ = std::make_shared<impl::PostGate>();
};

namespace impl {
// The loop this_loop() answers (initial-exec TLS: one load); null until the
// thread's first use installs the built-in loop.
COSYNC_API extern thread_local constinit Loop* t_loop __attribute__((tls_model("initial-exec")));
// Creates this thread's built-in loop and makes it t_loop.
COSYNC_API Loop& install_builtin_loop();
}  // namespace impl

// This thread's loop: the one installed with set_this_loop, else a
// built-in loop created on first use (epoll; io_uring when the environment
// says COSYNC_LOOP=io_uring and the kernel accepts it, see
// cosync/loop_io_uring.hpp) and torn down at the thread's
// exit (the teardown hook unwinds the coroutines spawned on it first);
// asking for it after that throws UsageError. The built-in loop's own fds
// (epoll or io_uring, eventfd, signalfd) are close-on-exec and numbered 512 or above
// (half the soft RLIMIT_NOFILE when that is lower), out of the program's way.
inline Loop& this_loop() {
  Loop* loop = impl::t_loop;
  return loop != nullptr ? *loop : impl::install_builtin_loop();
}
// Makes `loop` this thread's loop (adapters use this); nullptr restores the
// built-in one. The caller keeps `loop` alive while it is installed.
COSYNC_API void set_this_loop(Loop* loop) noexcept;

}  // namespace cosync
