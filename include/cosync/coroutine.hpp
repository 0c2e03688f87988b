// cosync coroutines (layer 3): create, resume, yield, finish, unwind.
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
// Request in place of the move-only Task.
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
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cosync/config.hpp"
#include "cosync/impl/context_jump.hpp"
#include "cosync/export.hpp"
#include "cosync/stack.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

class Coroutine;

namespace detail {
struct Runtime;
struct Switch;
// The C++ runtime's per-thread exception state, as laid out by the Itanium
// C++ ABI (__cxa_eh_globals, section 2.2.2): the exceptions being handled
// (one per active catch block) and the count of exceptions in flight.
struct EhGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};
struct Scheduling;
template <class R>
class ResultSlot;
struct Frame {
  Stack stack;
  void* body = nullptr;  // where the control block goes, at the stack top
};
COSYNC_API Frame prepare_frame(const Options& options, std::size_t body_size,
                               std::size_t body_align);
COSYNC_API void abandon_frame(Frame& frame) noexcept;
COSYNC_API void activate(Coroutine& coroutine) noexcept;
inline Scheduling*& scheduling_of(Coroutine& coroutine) noexcept;
// Refuses (UsageError) a join from another thread or from inside the
// coroutine itself.
COSYNC_API void check_joinable(Coroutine& coroutine);
// Waits until `coroutine` finishes (see Task::join). Defined by the request
// layer (src/request/join.cpp), which owns waiting; nothing in the
// coroutine layer calls it.
COSYNC_API void await_finished(Coroutine& coroutine,
                               std::chrono::steady_clock::time_point deadline);
COSYNC_API void unwind_for_destruction(Coroutine& coroutine) noexcept;
COSYNC_API void unwind_for_cancel(Coroutine& coroutine);
COSYNC_API void release(Coroutine& coroutine) noexcept;
[[noreturn]] COSYNC_API void throw_join_misuse(bool joined);
}  // namespace detail

// The control block of a coroutine, or of a thread's main context.
class COSYNC_API Coroutine {
 public:
  Coroutine(const Coroutine&) = delete;
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
  explicit Coroutine(const detail::Frame& frame, const Options& options);
  struct MainTag {};
  // A thread's main context, named "main".
  explicit Coroutine(MainTag, std::uint64_t id) noexcept;
  ~Coroutine() = default;

  // Runs the callable and stores its value. Exceptions are the caller's.
  virtual void run_body() = 0;
  // Destroys the callable and its arguments, at the end of run or when a
  // coroutine is destroyed before it ever ran.
  virtual void drop_callable() noexcept = 0;
  // Destroys the whole control block (the result slot included).
  virtual void destroy() noexcept = 0;

 private:
  friend struct detail::Runtime;
  friend struct detail::Switch;
  friend void detail::activate(Coroutine& coroutine) noexcept;
  friend detail::Scheduling*& detail::scheduling_of(Coroutine& coroutine) noexcept;

  // What a switch and a wait touch comes first, in the block's first cache
  // line (the block is 64-byte aligned at its stack's top): with thousands
  // of coroutines taking turns, each resume then brings back one line of
  // it, not three.
  void* context_ = nullptr;       // token of the suspended context
  Coroutine* resumer_ = nullptr;  // yield() target
  void* thread_ = nullptr;        // owning thread's runtime state
  // The C++ runtime's exception state when this context last left by
  // resuming another one (copied whole, padding included, in one move); a
  // context that switches back must leave it so. 16-aligned (the offset it
  // has anyway), so one vector compare checks it.
  alignas(16) detail::EhGlobals eh_{};
  // Reasons a switch involving this context leaves the inline fast path.
  static constexpr std::uint8_t kCanaryStack = 1;      // check it when leaving
  static constexpr std::uint8_t kUnwindRequested = 2;  // destroyed or cancelled
  static constexpr std::uint8_t kUnwindPending = 4;    // ForcedUnwind not thrown yet
  static constexpr std::uint8_t kDestroying = 8;       // unwinding another coroutine
  static constexpr std::uint8_t kFinishing = 16;       // body done, callable being dropped
  static constexpr std::uint8_t kMainContext = 32;     // yield() here is a misuse
  std::uint8_t slow_path_ = 0;
  // created, suspended (which here means "started") or finished: a switch
  // writes no state, because the running context is its thread's current
  // one, which state() reads.
  CoroutineState state_ = CoroutineState::created;
  // How the request layer resumes and cancels this coroutine (null for a
  // coroutine it never waited in).
  detail::Scheduling* scheduling_ = nullptr;
  // How many coroutines name this one as their resumer_.
  std::size_t resumer_refs_ = 0;

 protected:
  std::exception_ptr error_;  // what the body threw, rethrown by join()
  bool cancelled_ = false;    // unwound by a cancel: join() throws Cancelled

 private:
  Coroutine* registry_prev_ = nullptr;
  Coroutine* registry_next_ = nullptr;
  Stack stack_;
  std::uint64_t id_ = 0;
  void* user_data_ = nullptr;
  // ASan bookkeeping for the switch (unused without ASan).
  void* asan_fake_stack_ = nullptr;
  const void* asan_bottom_ = nullptr;
  std::size_t asan_size_ = 0;
  void* tsan_fiber_ = nullptr;  // TSan's state for this context (unused without TSan)
  char name_[32] = {};
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

namespace detail {

// What one thread knows about its coroutines. Created on the thread's first
// use of cosync; `current` and `main` are valid from then on.
struct ThreadState {
  Coroutine* current = nullptr;
  Coroutine* main = nullptr;
  const EhGlobals* eh = nullptr;       // this thread's, cached once
  Coroutine* registry_head = nullptr;  // oldest live coroutine
  Coroutine* registry_tail = nullptr;
  CoroutineStats stats;
  std::uint64_t next_id = 0;
  std::uint64_t id_limit = 0;
};

// Initial-exec TLS: one instruction to read. Coroutines never change
// threads, so a compiler that caches its address across a switch is right.
COSYNC_API extern thread_local constinit ThreadState* t_state
    __attribute__((tls_model("initial-exec")));
// The inline switch's view of t_state, never null so that the switch tests
// no pointer: until the thread's state exists it points at a placeholder
// whose current context is a main context that no coroutine names as its
// resumer, so every switch takes the out-of-line path.
COSYNC_API extern thread_local constinit ThreadState* t_switch_state
    __attribute__((tls_model("initial-exec")));

// True when the library was built with ASan or TSan: every switch then
// takes the out-of-line path, which tells the sanitizer about it.
inline constexpr bool switch_hooks = COSYNC_SWITCH_HOOKS != 0;

COSYNC_API ThreadState& create_thread_state();
COSYNC_API void resume_slow(Coroutine& to);
// `self` is the running context; `call` names the misuse when it is main.
COSYNC_API void suspend_slow(Coroutine& self, bool to_main, const char* call);
COSYNC_API void set_resumer(Coroutine& coroutine, Coroutine& resumer) noexcept;
COSYNC_API void check_canary_slow(const Coroutine& coroutine) noexcept;
[[noreturn]] COSYNC_API void throw_forced_unwind(Coroutine& self);
[[noreturn]] COSYNC_API void refuse_suspension(const Coroutine& self, const Coroutine& target);
[[noreturn]] COSYNC_API void suspend_outside_coroutine(const char* call);
// "coroutine #<id> "<name>"", as every diagnostic names a coroutine.
COSYNC_API std::string label(const Coroutine& coroutine);

inline ThreadState& this_thread() {
  ThreadState* ts = t_state;
  if (ts != nullptr) [[likely]] {
    return *ts;
  }
  return create_thread_state();
}

// The hot half of switching, inline so that a resume/yield pair compiles to
// a few checks around the context jump with no extra call and return (a
// return after a stack switch is a guaranteed branch misprediction). Every
// unusual case leaves for the out-of-line path in coroutine.cpp. The switch
// functions are always inlined: a compiler that makes one a call (clang
// does, for suspend) pays that return's misprediction on every switch.
struct Switch {
#if COSYNC_INLINE_JUMP_X86_64_SYSV
  // Where a control block keeps its token, for the switch that saves it.
  // Coroutine has no virtual base, so the offset is fixed (g++ and clang
  // only warn that the standard does not promise it).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
  static constexpr unsigned long kContextOffset = offsetof(Coroutine, context_);
#pragma GCC diagnostic pop
#endif

  [[gnu::always_inline]] static void jump(ThreadState& ts, Coroutine& from,
                                          Coroutine& to) noexcept {
    ts.current = &to;
#if COSYNC_INLINE_JUMP_X86_64_SYSV
    // Every context saves its own token (Runtime::jump and finish too), so
    // the resumed one writes nothing back.
    context::jump_saving<kContextOffset>(to.context_, &from);
#else
    const context::transfer_t back = context::jump(to.context_, &from);
    static_cast<Coroutine*>(back.data)->context_ = back.from;
#endif
  }

  [[gnu::always_inline]] static void after_return(Coroutine& self) {
    if ((self.slow_path_ & Coroutine::kUnwindPending) != 0) [[unlikely]] {
      throw_forced_unwind(self);
    }
  }

  // The fast path is a coroutine's last resumer resuming it again. That one
  // comparison also proves `to` resumable: it is on this thread (resumers
  // are), not running (nobody is its own resumer) and not finished (a
  // finished coroutine has no resumer); the main context has none either,
  // and a thread without state has a placeholder current nobody names.
  [[gnu::always_inline]] static void resume(Coroutine& to) {
    ThreadState* ts = t_switch_state;
    if (to.resumer_ != ts->current || switch_hooks) [[unlikely]] {
      resume_slow(to);
      return;
    }
    Coroutine& from = *ts->current;
    if ((from.slow_path_ & Coroutine::kCanaryStack) != 0) [[unlikely]] {
      check_canary_slow(from);
    }
    from.eh_ = *ts->eh;
    jump(*ts, from, to);
    after_return(from);
  }

  // yield() (`to_main` false) and yield_to_main(). A running coroutine's
  // resumer is never null or finished (finish redirects to main whoever
  // names the finishing coroutine), so it is the target as it stands.
  [[gnu::always_inline]] static void suspend(const char* call, bool to_main) {
    ThreadState* ts = t_switch_state;
    Coroutine& self = *ts->current;
    if (self.slow_path_ != 0 || switch_hooks) [[unlikely]] {
      suspend_slow(self, to_main, call);
      return;
    }
    Coroutine& target = to_main ? *ts->main : *self.resumer_;
    if (!same_exception_state(*ts->eh, target.eh_)) [[unlikely]] {
      refuse_suspension(self, target);
    }
    jump(*ts, self, target);
    after_return(self);
  }

  // Compares the runtime's state with a control block's copy whole, padding
  // included: the copy is taken whole, and the runtime never writes its
  // padding, so the bytes match exactly when both fields do.
  [[gnu::always_inline]] static bool same_exception_state(const EhGlobals& now,
                                                          const EhGlobals& saved) noexcept {
#if defined(__SSE2__)
    static_assert(sizeof(EhGlobals) == 16);
    const __m128i live = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&now));
    const __m128i copy = _mm_load_si128(reinterpret_cast<const __m128i*>(&saved));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(live, copy)) == 0xffff;
#else
    return now.caught_exceptions == saved.caught_exceptions &&
           now.uncaught_exceptions == saved.uncaught_exceptions;
#endif
  }

  static Coroutine& yield_target(const ThreadState& ts, const Coroutine& self) noexcept {
    Coroutine* target = self.resumer_;
    if (target == nullptr || target->state_ == CoroutineState::finished) [[unlikely]] {
      return *ts.main;
    }
    return *target;
  }
};

}  // namespace detail

inline CoroutineState Coroutine::state() const noexcept {
  if (state_ == CoroutineState::suspended &&
      static_cast<const detail::ThreadState*>(thread_)->current == this) {
    return CoroutineState::running;
  }
  return state_;
}

inline void Coroutine::resume() { detail::Switch::resume(*this); }

inline detail::Scheduling*& detail::scheduling_of(Coroutine& coroutine) noexcept {
  return coroutine.scheduling_;
}

inline Coroutine& current() { return *detail::this_thread().current; }

inline Coroutine& main_context() { return *detail::this_thread().main; }

inline bool in_coroutine() noexcept {
  const detail::ThreadState* ts = detail::t_state;
  return ts != nullptr && ts->current != ts->main;
}

inline void yield() { detail::Switch::suspend("yield()", false); }

inline void yield_to_main() { detail::Switch::suspend("yield_to_main()", true); }

namespace detail {

template <class R>
class ResultSlot : public Coroutine {
 public:
  using Coroutine::Coroutine;

  R take() {
    if (error_) {
      std::rethrow_exception(std::exchange(error_, nullptr));
    }
    throw_if_cancelled();
    if constexpr (!std::is_void_v<R>) {
      return std::move(*value_);
    }
  }

 protected:
  void throw_if_cancelled() const;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value_{};
};

template <class R>
void ResultSlot<R>::throw_if_cancelled() const {
  if (cancelled_) {
    throw Cancelled(std::string("cosync: coroutine #") + std::to_string(id()) + " \"" + name() +
                    "\" was cancelled before it finished");
  }
}

template <class R, class Fn, class... Args>
class Body final : public ResultSlot<R> {
 public:
  template <class F, class... A>
  Body(const Frame& frame, const Options& options, F&& fn, A&&... args)
      : ResultSlot<R>(frame, options) {
    callable_.emplace(std::forward<F>(fn), std::forward<A>(args)...);
  }

 private:
  using Callable = std::tuple<Fn, Args...>;

  void run_body() override {
    Callable& call = *callable_;
    if constexpr (std::is_void_v<R>) {
      std::apply(invoke_moved, std::move(call));
      this->value_ = true;
    } else {
      this->value_.emplace(std::apply(invoke_moved, std::move(call)));
    }
  }
  void drop_callable() noexcept override { callable_.reset(); }
  void destroy() noexcept override { this->~Body(); }

  static constexpr auto invoke_moved = [](Fn&& fn, Args&&... args) -> decltype(auto) {
    return std::invoke(std::move(fn), std::move(args)...);
  };

  std::optional<Callable> callable_;
};

}  // namespace detail

// Owning handle of a coroutine whose callable returns R. Move-only.
// Destroying it destroys the coroutine: a suspended one is unwound first.
template <class R>
class Task {
 public:
  Task() noexcept = default;
  // Adopts a coroutine made by create().
  explicit Task(detail::ResultSlot<R>* slot) noexcept : slot_(slot) {}
  // Takes over `other`'s coroutine; `other` becomes empty.
  Task(Task&& other) noexcept
      : slot_(std::exchange(other.slot_, nullptr)), joined_(std::exchange(other.joined_, false)) {}
  // Destroys this task's coroutine (unwinding a suspended one), then takes over `other`'s.
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      slot_ = std::exchange(other.slot_, nullptr);
      joined_ = std::exchange(other.joined_, false);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  // False for an empty task (default-constructed, moved from, or joined).
  explicit operator bool() const noexcept { return slot_ != nullptr; }
  // The coroutine's control block. Throws UsageError on an empty task.
  Coroutine& coroutine() const {
    if (slot_ == nullptr) {
      detail::throw_join_misuse(joined_);
    }
    return *slot_;
  }
  // Access to the coroutine's members. Throws UsageError on an empty task.
  Coroutine* operator->() const { return &coroutine(); }

  // Switches into the coroutine (Coroutine::resume). Throws UsageError on an empty task.
  void resume() { coroutine().resume(); }
  // True once the coroutine finished (or the task was joined).
  bool done() const noexcept {
    return slot_ == nullptr || slot_->state() == CoroutineState::finished;
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
      detail::await_finished(coroutine, deadline);
    }
    detail::ResultSlot<R>* slot = std::exchange(slot_, nullptr);
    joined_ = true;
    const struct Release {
      detail::ResultSlot<R>* slot;
      ~Release() { detail::release(*slot); }
    } release{slot};
    return slot->take();
  }
  // join with a timeout instead of a deadline (saturating: a huge timeout
  // is no deadline).
  R join(std::chrono::steady_clock::duration timeout) {
    using time_point = std::chrono::steady_clock::time_point;
    const time_point now = std::chrono::steady_clock::now();
    return join(timeout >= time_point::max() - now ? time_point::max() : now + timeout);
  }

  // Unwinds a suspended coroutine now (its destructors run); a coroutine
  // that never ran never will. join() then throws Cancelled.
  void cancel() { detail::unwind_for_cancel(coroutine()); }

 private:
  void reset() noexcept {
    if (slot_ != nullptr) {
      detail::unwind_for_destruction(*slot_);
      detail::release(*std::exchange(slot_, nullptr));
    }
  }

  detail::ResultSlot<R>* slot_ = nullptr;
  bool joined_ = false;
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
  using B = detail::Body<R, std::decay_t<F>, std::decay_t<Args>...>;
  detail::Frame frame = detail::prepare_frame(options, sizeof(B), alignof(B));
  try {
    auto* body =
        new (frame.body) B(frame, options, std::forward<F>(fn), std::forward<Args>(args)...);
    detail::activate(*body);
    return Task<R>(body);
  } catch (...) {
    detail::abandon_frame(frame);
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
