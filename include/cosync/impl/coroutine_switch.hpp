// The coroutine layer's inline switch: the per-thread state and the hot
// half of resume and yield, plus the control block templates create()
// builds. Included by cosync/coroutine.hpp after class Coroutine. Internal
// to cosync; not part of the API.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cosync/config.hpp"
#include "cosync/export.hpp"
#include "cosync/impl/context_jump.hpp"
#include "cosync/impl/intrusive_list.hpp"
#include "cosync/impl/probes.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cosync {

namespace impl {

// What one thread knows about its coroutines. Created on the thread's first
// use of cosync; `current` and `main` are valid from then on.
struct ThreadState {
  Coroutine* current = nullptr;
  Coroutine* main = nullptr;
  const EhGlobals* eh = nullptr;  // this thread's, cached once
  // A coroutine that left its stack for good (exit_to), freed by the
  // context it landed in, once off that stack.
  Coroutine* exited = nullptr;
  // The live coroutines, oldest first (their records' prev/next).
  impl::IntrusiveList<CoroutineRecord> registry;
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
// What a context finds on return from a switch when slow_path_ says so:
// a coroutine to free (kReapExited), a ForcedUnwind to throw.
COSYNC_API void after_return_slow(Coroutine& self);
[[noreturn]] COSYNC_API void refuse_suspension(const Coroutine& self, const Coroutine& target);
[[noreturn]] COSYNC_API void suspend_outside_coroutine(const char* call);
// "coroutine #<id> "<name>"", as every diagnostic names a coroutine.
COSYNC_API std::string label(const Coroutine& coroutine);

// What an empty Task names instead of null (no_task: never given a
// coroutine, or moved from; joined_task: joined), so that Task::resume()
// tests nothing: main contexts of no thread, which no coroutine names as
// its resumer, so that a resume of one takes resume_slow, which throws the
// empty task's UsageError.
// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor): never destroyed
class COSYNC_API NoTask final : public Coroutine {
 public:
  // A stand-in, named "main", of no thread.
  NoTask() noexcept;

 private:
  void run_body() override;
  void drop_callable() noexcept override;
  void destroy() noexcept override;
};
// An empty task's stand-in (see NoTask).
COSYNC_API extern NoTask no_task;
// A joined task's stand-in (see NoTask).
COSYNC_API extern NoTask joined_task;
// True for the stand-ins of an empty or joined task.
inline bool is_no_task(const Coroutine& coroutine) noexcept {
  return &coroutine == &no_task || &coroutine == &joined_task;
}

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

  // Switches from `from` to `to`. Back in `from`, it does what waits for it
  // first (after_return). With the inline x86_64 switch that costs nothing
  // on the way back: whoever gives a suspended context a duty also sends its
  // resume through the switch's detour (Runtime::add_duty), which calls
  // after_return_slow; the resume site itself tests nothing.
  [[gnu::always_inline]] static void jump(ThreadState& ts, Coroutine& from, Coroutine& to) {
    ts.current = &to;
#if COSYNC_INLINE_JUMP_X86_64_SYSV
    // Every context saves its own token (Runtime::jump and finish too), so
    // the resumed one writes nothing back.
    context::jump_saving_with_detour<kContextOffset>(to.context_, &from,
                                                     [&from] { after_return_slow(from); });
#else
    const context::transfer_t back = context::jump(to.context_, &from);
    static_cast<Coroutine*>(back.data)->context_ = back.from;
    after_return(from);
#endif
  }

  // What a context that arrived through a switch without a detour checks.
  [[gnu::always_inline]] static void after_return(Coroutine& self) {
    if ((self.slow_path_ & Coroutine::kDuties) != 0) [[unlikely]] {
      after_return_slow(self);
    }
  }

  // The fast path is a coroutine's last resumer resuming it again. That one
  // comparison (with resume_key_) also proves `to` resumable: it is on this
  // thread (resumers are), not running (nobody is its own resumer) and not
  // finished (a finished coroutine has no resumer); the main context has
  // none either, and a thread without state has a placeholder current
  // nobody names. And it proves that the leaving context has no canary
  // stack to check: such a context is nobody's resume key.
  [[gnu::always_inline]] static void resume(Coroutine& to) {
    ThreadState* ts = t_switch_state;
    if (to.resume_key_ != ts->current || switch_hooks) [[unlikely]] {
      resume_slow(to);
      return;
    }
    Coroutine& from = *ts->current;
    from.eh_ = *ts->eh;
    COSYNC_PROBE(resume, to.id_, &to, from.id_);
    jump(*ts, from, to);
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
    COSYNC_PROBE(yield, self.id_, &self, target.id_);
    jump(*ts, self, target);
  }

  // A switch from the running context to any other of its thread, as
  // libpcl's co_call and co_resume make. Inline when `to` is the running
  // context's resumer (a yield) or names it as its own (a resume again);
  // resume_slow otherwise, which is resume() (a switch to the main context
  // included).
  [[gnu::always_inline]] static void transfer(Coroutine& to) {
    ThreadState* ts = t_switch_state;
    Coroutine& self = *ts->current;
    if (!prepare_transfer(*ts, self, to)) {
      resume_slow(to);
      return;
    }
    jump(*ts, self, to);
  }

  // transfer()'s checks before its inline jump from `self` to `to`: false
  // when the switch must take resume_slow instead.
  [[gnu::always_inline]] static bool prepare_transfer(ThreadState& ts, Coroutine& self,
                                                      Coroutine& to) {
    if (switch_hooks) {
      return false;
    }
    if (&to == self.resumer_ && self.slow_path_ == 0) {
      if (!same_exception_state(*ts.eh, to.eh_)) [[unlikely]] {
        refuse_suspension(self, to);
      }
      COSYNC_PROBE(yield, self.id_, &self, to.id_);
    } else if (to.resumer_ == &self) {
      if ((self.slow_path_ & Coroutine::kCanaryStack) != 0) [[unlikely]] {
        check_canary_slow(self);
      }
      self.eh_ = *ts.eh;
      COSYNC_PROBE(resume, to.id_, &to, self.id_);
    } else {
      return false;
    }
    return true;
  }

#if COSYNC_INLINE_JUMP_X86_64_SYSV
  // The jump of transfer() once prepare_transfer() said yes, for a function
  // that tail-calls it (libcosync-pcl's co_call and co_resume): resumed,
  // `self` runs arrive(self), which must do after_return(self), and
  // continues in that function's caller (cosync_context_jump_return).
  [[gnu::always_inline]] static void jump_returning(ThreadState& ts, Coroutine& self, Coroutine& to,
                                                    context::ArrivalFn arrive) {
    ts.current = &to;
    context::cosync_context_jump_return(to.context_, &self.context_, &self, arrive, &self);
  }
#endif

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

}  // namespace impl

inline CoroutineState Coroutine::state() const noexcept {
  if (state_ == CoroutineState::suspended &&
      static_cast<const impl::ThreadState*>(thread_)->current == this) {
    return CoroutineState::running;
  }
  return state_;
}

// The entry points of the switch are always inlined as well: GCC sizes an
// asm statement by its lines, and a trace probe's (its note section) would
// otherwise make each of them a call, whose return mispredicts.
[[gnu::always_inline]] inline void Coroutine::resume() { impl::Switch::resume(*this); }

inline impl::Scheduling*& impl::scheduling_of(Coroutine& coroutine) noexcept {
  return coroutine.scheduling_;
}

inline impl::CoroutineMaker& impl::maker_of(Coroutine& coroutine) noexcept {
  return coroutine.maker_;
}

inline Coroutine& current() { return *impl::this_thread().current; }

inline Coroutine& main_context() { return *impl::this_thread().main; }

inline bool in_coroutine() noexcept {
  const impl::ThreadState* ts = impl::t_state;
  return ts != nullptr && ts->current != ts->main;
}

[[gnu::always_inline]] inline void yield() { impl::Switch::suspend("yield()", false); }

[[gnu::always_inline]] inline void yield_to_main() {
  impl::Switch::suspend("yield_to_main()", true);
}

namespace impl {

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
  // Destroyed as part of the control block (destroy()), never on its own.
  ~ResultSlot() = default;

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

// The result of a finished coroutine (its value, or its exception
// rethrown), its control block and stack freed either way.
template <class R>
R take_and_release(ResultSlot<R>& slot) {
  const auto take = [&slot]() -> R {
    try {
      return slot.take();
    } catch (...) {
      release(slot);
      throw;
    }
  };
  if constexpr (std::is_void_v<R>) {
    take();
    release(slot);
  } else {
    R value = take();  // out of the slot before the slot goes
    release(slot);
    return value;
  }
}

template <class R, class Fn, class... Args>
// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor): final, so never a base
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

}  // namespace impl

}  // namespace cosync
