// cosync coroutines (layer 3, above context and stack, below the loop):
// create, resume, yield, finish, unwind. The internals the inline switch
// needs live in cosync/impl/coroutine*.hpp.
//
// A coroutine runs a callable on its own stack. Its control block, the
// callable, the arguments and the result slot all live at the top of that
// stack: creating a coroutine allocates nothing but the stack (usually from
// the thread's pool).
//
// Every thread has a main context: the stack the thread started on, which
// runs the event loop. `current()` is the running coroutine, or the main
// context outside any coroutine. A coroutine belongs to the thread that
// created it and is only ever resumed there.
//
// Switching rules:
//   - `resume()` switches into a coroutine; it returns when control comes
//     back to the caller: the coroutine yielded or finished, or somebody
//     switched to the caller directly (a "resumed too early" caller must
//     check the state of what it waits for).
//   - `yield()` switches back to the context that last resumed the current
//     coroutine (the main context if that one has finished).
//   - `yield_to_main()` switches to the thread's main context from any depth.
//
// A Task (create) is a coroutine the caller may drive by hand: resume() runs
// it until it yields or waits. join() is how its result is taken, and it
// makes the Task behave exactly as a spawned coroutine (request.hpp's
// spawn): the coroutine is handed to the thread's loop, which resumes it
// after each wait (a plain yield() just lets the loop run, as in a spawned
// coroutine), and the joiner waits the way Request::get() waits (R4): on
// the main context join() runs the loop until the coroutine finishes (one
// that finishes without waiting never touches the loop); inside a
// coroutine it suspends the joiner. So create + join and spawn + get are
// one model: spawn is create, handed to the loop at once, with a shareable
// Request in place of the move-only Task. (The waiting is the request
// layer's, which it lends this layer through a hook: the loop sits above.)
//
// Exceptions: an exception that escapes the callable is kept and rethrown,
// once, by `Task::join()`. Suspending while an exception is in flight or
// being handled (inside a catch block, or in a destructor during unwinding)
// is refused, because the C++ runtime keeps that state per thread and
// another context would inherit it: in a catch block the suspension throws
// UsageError, during unwinding it aborts with a message.
//
// Destroying or cancelling a suspended coroutine unwinds its stack: its
// current suspension point throws ForcedUnwind, so every destructor on the
// stack runs once. Catching ForcedUnwind (or `...`) without rethrowing it is
// detected: suspending again aborts with a message naming the coroutine, and
// finishing normally is reported on stderr.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "cosync/export.hpp"
#include "cosync/impl/coroutine.hpp"
#include "cosync/stack.hpp"

namespace cosync {

// A misuse of the API: resuming a finished or running coroutine, resuming
// from another thread, joining twice, suspending inside a catch block...
// The message names the coroutine (id and name) and what was wrong.
class COSYNC_API UsageError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Thrown by Task::join() for a coroutine that was cancelled before it
// finished.
class COSYNC_API Cancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown at the suspension point of a coroutine that is being destroyed or
// cancelled, to unwind its stack. It deliberately does not derive from
// std::exception; code that catches it must rethrow it.
class COSYNC_API ForcedUnwind {
 public:
  std::uint64_t coroutine_id = 0;  // id of the coroutine being unwound
};

// Where a coroutine is in its life: created (never resumed), running,
// suspended, finished (returned, threw, or was unwound).
enum class CoroutineState : std::uint8_t { created, running, suspended, finished };

// The state's name ("created", "running", "suspended", "finished").
COSYNC_API const char* to_string(CoroutineState state) noexcept;

// How to create a coroutine.
struct Options {
  std::size_t stack_size = 0;  // usable bytes; 0 = default_stack_size
  std::string_view name = {};  // copied; at most 31 bytes are kept
  void* user_data = nullptr;   // the coroutine's initial user_data()
};

// Counters of this thread's coroutines.
struct CoroutineStats {
  std::size_t live = 0;               // created and not yet destroyed
  std::size_t created = 0;            // coroutines this thread has created
  std::size_t forced_unwinds = 0;     // suspended coroutines unwound by a cancel or destruction
  std::size_t swallowed_unwinds = 0;  // finished normally although unwound
};

// The control block of a coroutine, or of a thread's main context.
class COSYNC_API Coroutine : protected impl::CoroutineRecord {
 public:
  // A control block never moves: its coroutine's stack points into it.
  Coroutine(const Coroutine&) = delete;
  // A control block never moves: its coroutine's stack points into it.
  Coroutine& operator=(const Coroutine&) = delete;

  // Unique in the process; never reused.
  std::uint64_t id() const noexcept { return id_; }
  // The name given at creation; empty when none was given.
  const char* name() const noexcept { return name_; }
  // Renames the coroutine (copied; at most 31 bytes are kept).
  void set_name(std::string_view name) noexcept;
  // Where the coroutine is in its life (see CoroutineState).
  inline CoroutineState state() const noexcept;
  // True for a thread's main context, false for a coroutine.
  bool is_main() const noexcept { return stack_.base == nullptr; }
  // The pointer set by Options::user_data or set_user_data (null by default).
  void* user_data() const noexcept { return user_data_; }
  // Stores a pointer for the program; cosync never reads it.
  void set_user_data(void* data) noexcept { user_data_ = data; }
  // The coroutine's stack (empty for a main context).
  const Stack& stack() const noexcept { return stack_; }
  // How deep the coroutine has used its stack so far, measured now (see
  // PeakMethod), until it is released; zero for a main context. On a stack
  // the program provided, only its stack pointer is seen. When it is
  // released, its peak may go into stack_stats()'s sampled histogram.
  StackPeak stack_peak() const noexcept;

  // Starts loading what a resume reads first, the registers saved at the
  // top of the suspended stack and the frames they return to, for a caller
  // that resumes this coroutine soon (a loop working through a batch).
  void prefetch_resume() const noexcept {
    const char* top = static_cast<const char*>(context_);
    for (int line = 0; line < 4; ++line) {
      __builtin_prefetch(top + 64 * line);
    }
  }

  // Switches into this coroutine. Throws UsageError when it is running,
  // finished, or owned by another thread. Called on the main context from a
  // coroutine, it is yield_to_main().
  inline void resume();

 protected:
  // A coroutine on `frame`'s stack, named and tagged from `options` (used by create()).
  explicit Coroutine(const impl::Frame& frame, const Options& options);
  // Tags the main context's constructor.
  struct MainTag {};
  // A thread's main context, named "main".
  explicit Coroutine(MainTag, std::uint64_t id) noexcept;
  // Control blocks are destroyed through destroy(), never by a handle.
  ~Coroutine() = default;

 private:
  friend struct impl::Runtime;
  friend struct impl::Switch;
  friend void impl::activate(Coroutine& coroutine) noexcept;
  friend impl::Scheduling*& impl::scheduling_of(Coroutine& coroutine) noexcept;
  friend impl::CoroutineMaker& impl::maker_of(Coroutine& coroutine) noexcept;
};

// The coroutine running on this thread, or the thread's main context.
inline Coroutine& current();
// This thread's main context: the stack that runs the event loop.
inline Coroutine& main_context();
// True inside a coroutine, false on the main context.
inline bool in_coroutine() noexcept;
// Switches back to the context that last resumed the current coroutine.
inline void yield();
// Switches to this thread's main context, from any call depth.
inline void yield_to_main();
// Calls `visit` for every live coroutine of this thread, oldest first.
COSYNC_API void for_each_coroutine(const std::function<void(const Coroutine&)>& visit);
// This thread's coroutine counters (all zero before its first coroutine).
COSYNC_API CoroutineStats coroutine_stats() noexcept;

}  // namespace cosync

#include "cosync/impl/coroutine_switch.hpp"  // IWYU pragma: export

namespace cosync {

// Owning handle of a coroutine whose callable returns R. Move-only.
// Destroying it destroys the coroutine: a suspended one is unwound first.
template <class R>
class Task {
 public:
  // An empty task.
  Task() noexcept = default;
  // Adopts a coroutine made by create().
  explicit Task(impl::ResultSlot<R>* slot) noexcept : slot_(slot) {}
  // Takes over `other`'s coroutine; `other` becomes empty.
  Task(Task&& other) noexcept : slot_(std::exchange(other.slot_, &impl::no_task)) {}
  // Destroys this task's coroutine (unwinding a suspended one), then takes over `other`'s.
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      slot_ = std::exchange(other.slot_, &impl::no_task);
    }
    return *this;
  }
  // Move-only: one handle owns the coroutine.
  Task(const Task&) = delete;
  // Move-only: one handle owns the coroutine.
  Task& operator=(const Task&) = delete;
  // Destroys the coroutine, unwinding it first if it is suspended.
  ~Task() { reset(); }

  // False for an empty task (default-constructed, moved from, or joined).
  explicit operator bool() const noexcept { return !impl::is_no_task(*slot_); }
  // The coroutine's control block. Throws UsageError on an empty task.
  Coroutine& coroutine() const {
    if (impl::is_no_task(*slot_)) {
      impl::throw_join_misuse(slot_ == &impl::joined_task);
    }
    return *slot_;
  }
  // Access to the coroutine's members. Throws UsageError on an empty task.
  Coroutine* operator->() const { return &coroutine(); }

  // Switches into the coroutine (Coroutine::resume). Throws UsageError on an
  // empty task: its stand-in's resume does (impl::no_task).
  [[gnu::always_inline]] void resume() { slot_->resume(); }
  // True once the coroutine finished (or the task was joined).
  bool done() const noexcept {
    return impl::is_no_task(*slot_) || slot_->state() == CoroutineState::finished;
  }

  // Waits until the coroutine finishes (see the model at the top: the loop
  // resumes it, the joiner runs the loop or suspends), then returns its
  // value or rethrows its exception (Cancelled if it was cancelled) and
  // frees the stack. A join that ends first (TimedOut at `deadline`,
  // Cancelled in a cancelled joining coroutine, UsageError from a loop
  // callback that would have to run the loop) cancels and unwinds the
  // coroutine before it throws. A second join throws UsageError.
  R join(std::chrono::steady_clock::time_point deadline =
             std::chrono::steady_clock::time_point::max()) {
    Coroutine& coroutine = this->coroutine();
    if (coroutine.state() != CoroutineState::finished) {
      impl::await_finished(coroutine, deadline);
    }
    return impl::take_and_release(
        static_cast<impl::ResultSlot<R>&>(*std::exchange(slot_, &impl::joined_task)));
  }
  // join with a timeout instead of a deadline (saturating: a huge timeout
  // is no deadline).
  R join(std::chrono::steady_clock::duration timeout) {
    using TimePoint = std::chrono::steady_clock::time_point;
    const TimePoint now = std::chrono::steady_clock::now();
    return join(timeout >= TimePoint::max() - now ? TimePoint::max() : now + timeout);
  }

  // Unwinds a suspended coroutine now (its destructors run); a coroutine
  // that never ran never will. join() then throws Cancelled.
  void cancel() { impl::unwind_for_cancel(coroutine()); }

 private:
  void reset() noexcept {
    if (!impl::is_no_task(*slot_)) {
      impl::unwind_for_destruction(*slot_);
      impl::release(*std::exchange(slot_, &impl::no_task));
    }
  }

  // Never null: an empty task names impl::no_task, a joined one
  // impl::joined_task, so that resume() has nothing to test.
  Coroutine* slot_ = &impl::no_task;
};

// The value type of a coroutine running `F(Args...)` (what join() returns).
template <class F, class... Args>
using task_result_t =
    std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;

// Creates a coroutine that will run `fn(args...)` when first resumed. The
// callable and the arguments are moved onto the coroutine's own stack.
template <class F, class... Args>
Task<task_result_t<F, Args...>> create(const Options& options, F&& fn, Args&&... args) {
  using R = task_result_t<F, Args...>;
  using B = impl::Body<R, std::decay_t<F>, std::decay_t<Args>...>;
  impl::Frame frame = impl::prepare_frame(options, sizeof(B), alignof(B));
  try {
    auto* body =
        new (frame.body) B(frame, options, std::forward<F>(fn), std::forward<Args>(args)...);
    impl::activate(*body);
    return Task<R>(body);
  } catch (...) {
    impl::abandon_frame(frame);
    throw;
  }
}

// create() with default Options.
template <class F, class... Args>
requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> Task<task_result_t<F, Args...>>
create(F&& fn, Args&&... args) {
  return create(Options{}, std::forward<F>(fn), std::forward<Args>(args)...);
}

}  // namespace cosync
