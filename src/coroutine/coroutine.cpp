#include "cosync/coroutine.hpp"

#include <cxxabi.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "context/context.hpp"
#include "coroutine/foreign.hpp"
#include "cosync/impl/probes.hpp"
#include "stack/overflow.hpp"
#include "stack/peak.hpp"
#include "support/errors.hpp"
#include "support/sanitizer.hpp"
#include "support/scope_guard.hpp"

namespace cosync {
namespace impl {
namespace {

// Ids are handed to threads in blocks so creating a coroutine costs no
// atomic operation.
constexpr std::uint64_t kIdBlock = 1024;
std::atomic<std::uint64_t> g_next_id_block{1};

// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor): final, so never a base
class MainContext final : public Coroutine {
 public:
  explicit MainContext(std::uint64_t id) noexcept : Coroutine(MainTag{}, id) {}

 private:
  void run_body() override {}
  void drop_callable() noexcept override {}
  void destroy() noexcept override {}
};

}  // namespace

namespace {

// The current context of a thread without state (see t_switch_state). A
// main context, so a suspension takes the slow path, which finds no state
// and refuses it. Built before other static objects, whose constructors may
// already switch.
[[gnu::init_priority(101)]] MainContext g_placeholder_main{0};
constexpr ThreadState placeholder_state(Coroutine* current) noexcept {
  ThreadState state;
  state.current = current;
  return state;
}
constinit ThreadState g_placeholder_state = placeholder_state(&g_placeholder_main);

}  // namespace

// Built before other static objects, whose Tasks may already name them.
NoTask::NoTask() noexcept : Coroutine(MainTag{}, 0) {}
void NoTask::run_body() {}
void NoTask::drop_callable() noexcept {}
void NoTask::destroy() noexcept {}
[[gnu::init_priority(101)]] NoTask no_task;
[[gnu::init_priority(101)]] NoTask joined_task;

constinit thread_local ThreadState* t_state __attribute__((tls_model("initial-exec"))) = nullptr;
constinit thread_local ThreadState* t_switch_state __attribute__((tls_model("initial-exec"))) =
    &g_placeholder_state;
static_assert(switch_hooks == support::switch_hooks_needed,
              "cosync/config.hpp must match the sanitizer flags the library is built with");

namespace {

// A thread's state and its main context, allocated together.
struct ThreadStateWithMain {
  explicit ThreadStateWithMain(std::uint64_t main_id) noexcept : main(main_id) {
    state.main = &main;
    state.current = &main;
  }
  ThreadState state;
  MainContext main;
};

std::uint64_t take_id(ThreadState& ts) noexcept {
  if (ts.next_id == ts.id_limit) {
    ts.next_id = g_next_id_block.fetch_add(kIdBlock, std::memory_order_relaxed);
    ts.id_limit = ts.next_id + kIdBlock;
  }
  return ts.next_id++;
}

std::uint64_t take_first_id() noexcept {
  return g_next_id_block.fetch_add(kIdBlock, std::memory_order_relaxed);
}

}  // namespace

std::string label(const Coroutine& coroutine) {
  std::string text = "coroutine #" + std::to_string(coroutine.id());
  if (coroutine.name()[0] != '\0') {
    text += std::string(" \"") + coroutine.name() + "\"";
  }
  return text;
}

namespace {

using support::fatal;

// The coroutine whose ForcedUnwind is in flight on this thread, if any: a
// noexcept frame on its stack makes the runtime call std::terminate, and
// the terminate handler then says which coroutine and why.
thread_local const Coroutine* t_unwinding = nullptr;
std::terminate_handler g_previous_terminate = nullptr;

void terminate_during_forced_unwind() {
  if (t_unwinding != nullptr) {
    std::fprintf(stderr,
                 "cosync: %s could not be unwound: its ForcedUnwind reached a noexcept "
                 "frame (a destructor or noexcept function that suspends)\n",
                 label(*t_unwinding).c_str());
  }
  if (g_previous_terminate != nullptr) {
    g_previous_terminate();
  }
  std::abort();
}

void install_terminate_hook() {
  static const bool installed = [] {
    g_previous_terminate = std::set_terminate(&terminate_during_forced_unwind);
    return true;
  }();
  (void)installed;
}

[[noreturn]] void usage_error(const std::string& message) {
  throw UsageError("cosync: " + message);
}

}  // namespace

// The friend of Coroutine that implements switching; all of it runs on the
// thread that owns the coroutines involved.
struct Runtime {
  static ThreadState& create_thread_state();
  static void resolve_overflow(const void* fault, stack::overflow::Culprit* running,
                               stack::overflow::Culprit* owner) noexcept;

  static void resume(ThreadState& ts, Coroutine& to);
  static void suspend(ThreadState& ts, Coroutine& self, bool to_main, const char* call);
  static void mark_finished(ThreadState& ts, Coroutine& coroutine) noexcept;
  static void suspend_to(ThreadState& ts, Coroutine& self, Coroutine& target);
  static void activate(Coroutine& coroutine) noexcept;
  static void check_joinable(Coroutine& coroutine);
  static void unwind(Coroutine& coroutine, bool for_destruction);
  static void release(Coroutine& coroutine) noexcept;
  static const void* deepest_seen(const Coroutine& coroutine) noexcept;
  static StackPeak stack_peak(const Coroutine& coroutine) noexcept;
  static void for_each(const ThreadState& ts, const std::function<void(const Coroutine&)>& visit);

  static void forward_switch(ThreadState& ts, Coroutine& from, Coroutine& to);
  static void jump(ThreadState& ts, Coroutine& from, Coroutine& to) noexcept;
  static void arrive(context::transfer_t transfer) noexcept;
  static context::transfer_t entry(context::transfer_t transfer) noexcept;
  static void run(ThreadState& ts, Coroutine& self) noexcept;
  static void report_swallowed_unwind(ThreadState& ts, Coroutine& self) noexcept;
  static context::transfer_t finish(ThreadState& ts, Coroutine& self) noexcept;
  [[noreturn]] static void throw_forced_unwind(Coroutine& self);
  static void after_return_slow(Coroutine& self);
  static void add_duty(Coroutine& coroutine, std::uint8_t duty) noexcept;
  static void reap_exited(Coroutine& self) noexcept;
  [[noreturn]] static void exit_to(ThreadState& ts, Coroutine& self, Coroutine& to) noexcept;
  static void check_exit_target(const ThreadState& ts, const Coroutine& to);
  static void set_resumer(Coroutine& coroutine, Coroutine& resumer) noexcept;
  static void check_resumable(const ThreadState& ts, const Coroutine& to);
  static void check_exception_state(const Coroutine& self, const Coroutine& target);
  [[noreturn]] static void refuse_suspension(const Coroutine& self, const Coroutine& target);
  static void check_canary(const Coroutine& self) noexcept;
  static void check_owner(const ThreadState* ts, const Coroutine& coroutine, const char* what);
  static void redirect_resumers(ThreadState& ts, Coroutine& gone) noexcept;
  static void link(ThreadState& ts, Coroutine& coroutine) noexcept;
  static void unlink(ThreadState& ts, Coroutine& coroutine) noexcept;
  static void await_finished(Coroutine& coroutine, std::chrono::steady_clock::time_point deadline);

  // The coroutine a registry record belongs to (records are only ever
  // Coroutines' bases; the downcast needs a friend of Coroutine).
  static Coroutine& of(CoroutineRecord& record) noexcept { return static_cast<Coroutine&>(record); }
  static const Coroutine& of(const CoroutineRecord& record) noexcept {
    return static_cast<const Coroutine&>(record);
  }
};

namespace {

// Destroys the thread's state at thread exit, unless coroutines are still
// alive: their handles may be destroyed later and would find it gone.
struct ThreadStateOwner {
  ThreadStateOwner() = default;
  ThreadStateOwner(const ThreadStateOwner&) = delete;
  ThreadStateOwner& operator=(const ThreadStateOwner&) = delete;
  ~ThreadStateOwner() {
    if (t_state == nullptr) {
      return;
    }
    if (t_state->stats.live != 0) {
      std::fprintf(stderr,
                   "cosync: thread exits with %zu live coroutines; cosync keeps this "
                   "thread's state for their handles, and stacks not destroyed leak\n",
                   t_state->stats.live);
      return;
    }
    delete allocation;
    t_state = nullptr;
    t_switch_state = &g_placeholder_state;
  }

  ThreadStateWithMain* allocation = nullptr;
};

thread_local ThreadStateOwner t_owner;

}  // namespace

ThreadState& Runtime::create_thread_state() {
  static const bool resolver_set = [] {
    stack::overflow::set_resolver(&Runtime::resolve_overflow);
    return true;
  }();
  (void)resolver_set;
  auto* fresh = new ThreadStateWithMain(take_first_id());
  t_owner.allocation = fresh;  // also registers the thread-exit destructor
  ThreadState& ts = fresh->state;
  fresh->main.thread_ = &ts;
  ts.eh = reinterpret_cast<const EhGlobals*>(abi::__cxa_get_globals());
  ts.next_id = fresh->main.id() + 1;
  ts.id_limit = fresh->main.id() + kIdBlock;
  Coroutine& main = fresh->main;
  main.tsan_fiber_ = support::tsan_current_fiber();
  t_state = &ts;
  t_switch_state = &ts;
  return ts;
}

// The running coroutine, and the coroutine whose memory holds the fault: a
// frame larger than the guard lands in another coroutine's guard or stack.
void Runtime::resolve_overflow(const void* fault, stack::overflow::Culprit* running,
                               stack::overflow::Culprit* owner) noexcept {
  const ThreadState* ts = t_state;
  if (ts == nullptr) {
    return;
  }
  const auto describe = [](const Coroutine& c, stack::overflow::Culprit* out) {
    out->id = c.id_;
    out->name = c.name_;
    out->stack = &c.stack_;
  };
  if (ts->current != ts->main) {
    describe(*ts->current, running);
  }
  for (const CoroutineRecord* r = ts->registry.front(); r != nullptr; r = r->next) {
    const Coroutine& c = of(*r);
    if (c.stack_.guard_contains(fault) || c.stack_.contains(fault)) {
      describe(c, owner);
      return;
    }
  }
}

// `transfer` is what the context that left passed. With the inline x86_64
// switch every context saves its own token before it leaves (Switch::jump,
// jump and finish), and the data is &previous only when it came through
// jump or finish, which the sanitizer builds always take.
void Runtime::arrive(context::transfer_t transfer) noexcept {
#if !COSYNC_INLINE_JUMP_X86_64_SYSV
  // Null when the context that left finished.
  static_cast<Coroutine*>(transfer.data)->context_ = transfer.from;
#endif
  if constexpr (!support::asan_enabled) {
    return;
  }
  auto* previous = static_cast<Coroutine*>(transfer.data);
  const Coroutine& self = *t_state->current;
  support::asan_finish_switch(self.asan_fake_stack_, &previous->asan_bottom_,
                              &previous->asan_size_);
}

// The out-of-line twin of Switch::jump, with the ASan annotations.
void Runtime::jump(ThreadState& ts, Coroutine& from, Coroutine& to) noexcept {
  ts.current = &to;
  support::asan_start_switch(&from.asan_fake_stack_, to.asan_bottom_, to.asan_size_);
  support::tsan_switch_to_fiber(to.tsan_fiber_);
#if COSYNC_INLINE_JUMP_X86_64_SYSV
  arrive(context::transfer_t{
      nullptr, context::jump_saving<Switch::kContextOffset>(to.context_, &from, &from)});
#else
  arrive(context::cosync_context_jump(to.context_, &from));
#endif
}

// Not instrumented for TSan: it switches TSan to the next context's fiber
// last, and a function exit recorded after that would pop the next
// context's call stack.
COSYNC_NO_SANITIZE_THREAD context::transfer_t Runtime::entry(
    context::transfer_t transfer) noexcept {
  arrive(transfer);
  ThreadState& ts = *t_state;
  Coroutine& self = *ts.current;
  self.state_ = CoroutineState::suspended;  // started; state() says running
  // The one after-switch duty a first run can have: a coroutine is unwound
  // only once started (unwind() finishes a created one in place), so no
  // ForcedUnwind can be pending yet.
  if ((self.slow_path_ & Coroutine::kReapExited) != 0) [[unlikely]] {
    reap_exited(self);
  }
  run(ts, self);
  const context::transfer_t last = finish(ts, self);
  support::tsan_switch_to_fiber(ts.current->tsan_fiber_);
  return last;
}

void Runtime::run(ThreadState& ts, Coroutine& self) noexcept {
  try {
    self.run_body();
  } catch (const ForcedUnwind&) {
    self.cancelled_ = true;
  } catch (const abi::__forced_unwind&) {
    fatal("pthread_exit or thread cancellation inside " + label(self) +
          ": a thread cannot end from a coroutine's stack");
  } catch (...) {
    self.error_ = std::current_exception();
  }
  t_unwinding = nullptr;
  self.slow_path_ |= Coroutine::kFinishing;
  self.drop_callable();
  if ((self.slow_path_ & Coroutine::kUnwindRequested) != 0 && !self.cancelled_) {
    report_swallowed_unwind(ts, self);
  }
}

// The coroutine caught ForcedUnwind without rethrowing it and still
// finished: it was unwound all the same, so it counts as cancelled and
// whatever it returned or threw instead is dropped.
void Runtime::report_swallowed_unwind(ThreadState& ts, Coroutine& self) noexcept {
  ++ts.stats.swallowed_unwinds;
  const char* outcome = self.error_ ? "threw another exception instead; it is discarded"
                                    : "finished normally; its result is discarded";
  std::fprintf(stderr,
               "cosync: %s swallowed cosync::ForcedUnwind (a catch block that did not "
               "rethrow it) and %s\n",
               label(self).c_str(), outcome);
  self.error_ = nullptr;
  self.cancelled_ = true;
}

// Everything of the final switch but the jump, which the context layer's
// trampoline makes once this coroutine's frames have all returned.
context::transfer_t Runtime::finish(ThreadState& ts, Coroutine& self) noexcept {
  check_canary(self);
  Coroutine& to = Switch::yield_target(ts, self);
  COSYNC_PROBE(finish, self.id_, &self, self.name_, self.cancelled_, to.id_);
  mark_finished(ts, self);
  self.context_ = nullptr;  // never resumed again
  ts.current = &to;
  // A context that leaves for the last time passes no fake-stack slot, so
  // ASan frees its fake stack.
  support::asan_start_switch(nullptr, to.asan_bottom_, to.asan_size_);
  return context::transfer_t{to.context_, &self};
}

// A finished coroutine names no resumer and no running coroutine names it:
// the inline resume and yield rely on both.
void Runtime::mark_finished(ThreadState& ts, Coroutine& coroutine) noexcept {
  coroutine.state_ = CoroutineState::finished;
  if (coroutine.resumer_ != nullptr) {
    --coroutine.resumer_->resumer_refs_;
    coroutine.resumer_ = nullptr;
    coroutine.resume_key_ = nullptr;
  }
  if (coroutine.resumer_refs_ != 0) {
    redirect_resumers(ts, coroutine);
  }
}

void Runtime::set_resumer(Coroutine& coroutine, Coroutine& resumer) noexcept {
  if (coroutine.resumer_ == &resumer) {
    return;
  }
  if (coroutine.resumer_ != nullptr) {
    --coroutine.resumer_->resumer_refs_;
  }
  ++resumer.resumer_refs_;
  coroutine.resumer_ = &resumer;
  const bool canary = (resumer.slow_path_ & Coroutine::kCanaryStack) != 0;
  coroutine.resume_key_ = canary ? nullptr : &resumer;
}

void Runtime::throw_forced_unwind(Coroutine& self) {
  self.slow_path_ &= static_cast<std::uint8_t>(~Coroutine::kUnwindPending);
  install_terminate_hook();
  t_unwinding = &self;
  throw ForcedUnwind{self.id_};
}

// Gives a suspended context a duty to do when it arrives, and with the
// inline x86_64 switch sends its resume through its detour, which does them
// all (after_return_slow): once, while it has none pending.
void Runtime::add_duty(Coroutine& coroutine, std::uint8_t duty) noexcept {
  const bool had_duties = (coroutine.slow_path_ & Coroutine::kDuties) != 0;
  coroutine.slow_path_ |= duty;
#if COSYNC_INLINE_JUMP_X86_64_SYSV
  if (!had_duties) {
    context::detour(coroutine.context_);
  }
#else
  (void)had_duties;
#endif
}

void Runtime::after_return_slow(Coroutine& self) {
  if ((self.slow_path_ & Coroutine::kReapExited) != 0) {
    reap_exited(self);
  }
  if ((self.slow_path_ & Coroutine::kUnwindPending) != 0) {
    throw_forced_unwind(self);
  }
}

// Frees the coroutine that exited to `self` (kReapExited), now that it is
// off that coroutine's stack.
void Runtime::reap_exited(Coroutine& self) noexcept {
  self.slow_path_ &= static_cast<std::uint8_t>(~Coroutine::kReapExited);
  ThreadState& ts = *t_state;
  release(*std::exchange(ts.exited, nullptr));
}

void Runtime::check_exit_target(const ThreadState& ts, const Coroutine& to) {
  if (ts.current->is_main()) {
    suspend_outside_coroutine("exit_to()");
  }
  if (&to == ts.current) {
    usage_error("exit of " + label(to) + " to itself");
  }
  if (!to.is_main()) {
    check_resumable(ts, to);
  } else if (&to != ts.main) {
    usage_error("exit to the main context of another thread");
  }
}

// The running coroutine leaves its stack for good, its frames not unwound,
// and `to` frees it on arrival (kReapExited). Not instrumented: after the
// last-switch announcement ASan has freed this context's fake stack, and
// TSan already follows `to`'s fiber.
COSYNC_NO_SANITIZE_THREAD __attribute__((no_sanitize("address"))) void Runtime::exit_to(
    ThreadState& ts, Coroutine& self, Coroutine& to) noexcept {
  check_canary(self);
  COSYNC_PROBE(finish, self.id_, &self, self.name_, self.cancelled_, to.id_);
  mark_finished(ts, self);
  self.context_ = nullptr;
  ts.exited = &self;
  add_duty(to, Coroutine::kReapExited);
  ts.current = &to;
  support::asan_start_switch(nullptr, to.asan_bottom_, to.asan_size_);
  support::tsan_switch_to_fiber(to.tsan_fiber_);
  context::cosync_context_jump(to.context_, &self);
  __builtin_unreachable();
}

void Runtime::check_owner(const ThreadState* ts, const Coroutine& coroutine, const char* what) {
  if (coroutine.thread_ != ts) {
    usage_error(std::string(what) + " " + label(coroutine) +
                " from a thread that does not own it; coroutines stay on the thread "
                "that created them");
  }
}

void Runtime::check_resumable(const ThreadState& ts, const Coroutine& to) {
  check_owner(&ts, to, "resume of");
  if (to.state() == CoroutineState::running) {
    usage_error("resume of " + label(to) + ": it is already running");
  }
  if (to.state_ == CoroutineState::finished) {
    usage_error("resume of " + label(to) + ": it has finished");
  }
}

void Runtime::check_exception_state(const Coroutine& self, const Coroutine& target) {
  const EhGlobals& eh = *t_state->eh;
  if (eh.caught_exceptions != target.eh_.caught_exceptions ||
      eh.uncaught_exceptions != target.eh_.uncaught_exceptions) [[unlikely]] {
    refuse_suspension(self, target);
  }
}

void Runtime::refuse_suspension(const Coroutine& self, const Coroutine& target) {
  if (t_state->eh->uncaught_exceptions != target.eh_.uncaught_exceptions) {
    fatal(label(self) +
          " tried to suspend while an exception is unwinding its stack (a "
          "destructor that waits?); suspending there would hand the unwinding "
          "to another context");
  }
  usage_error(label(self) +
              " cannot suspend inside a catch block (its own, or one of the context "
              "that resumed it): the C++ runtime keeps the exception being handled "
              "per thread; leave the catch block first");
}

void Runtime::check_canary(const Coroutine& self) noexcept {
  if (self.stack_.guard != StackGuard::canary) {
    return;
  }
  if (!self.owns_stack_) {
    self.check_program_stack();
    return;
  }
  if (!stack_canary_intact(self.stack_)) [[unlikely]] {
    stack::overflow::Culprit culprit;
    culprit.id = self.id_;
    culprit.name = self.name_;
    culprit.stack = &self.stack_;
    stack::overflow::report_broken_canary(culprit);
  }
}

void Runtime::forward_switch(ThreadState& ts, Coroutine& from, Coroutine& to) {
  from.eh_ = *ts.eh;
  set_resumer(to, from);
  check_canary(from);
  COSYNC_PROBE(resume, to.id_, &to, from.id_);
  jump(ts, from, to);
  Switch::after_return(from);
}

void Runtime::resume(ThreadState& ts, Coroutine& to) {
  Coroutine& from = *ts.current;
  if (to.is_main()) {
    if (&to != ts.main) {
      usage_error("resume of the main context of another thread");
    }
    if (&from == &to) {
      usage_error("resume of the main context from the main context");
    }
    suspend_to(ts, from, to);
    return;
  }
  check_resumable(ts, to);
  forward_switch(ts, from, to);
}

void Runtime::suspend(ThreadState& ts, Coroutine& self, bool to_main, const char* call) {
  if (self.is_main()) {
    suspend_outside_coroutine(call);
  }
  suspend_to(ts, self, to_main ? *ts.main : Switch::yield_target(ts, self));
}

void Runtime::suspend_to(ThreadState& ts, Coroutine& self, Coroutine& target) {
  if ((self.slow_path_ & Coroutine::kFinishing) != 0) [[unlikely]] {
    fatal(label(self) +
          " tried to suspend after its body ended, in the destructor of its callable "
          "or of its arguments; such destructors must not wait");
  }
  if ((self.slow_path_ & Coroutine::kUnwindRequested) != 0) [[unlikely]] {
    fatal(label(self) +
          " swallowed cosync::ForcedUnwind (a catch block that did not rethrow "
          "it) and then tried to suspend; it must rethrow so its stack unwinds");
  }
  check_exception_state(self, target);
  check_canary(self);
  COSYNC_PROBE(yield, self.id_, &self, target.id_);
  jump(ts, self, target);
  Switch::after_return(self);
}

void Runtime::link(ThreadState& ts, Coroutine& coroutine) noexcept {
  ts.registry.push_back(coroutine);
  ++ts.stats.live;
  ++ts.stats.created;
}

void Runtime::unlink(ThreadState& ts, Coroutine& coroutine) noexcept {
  ts.registry.remove(coroutine);
  --ts.stats.live;
}

void Runtime::activate(Coroutine& coroutine) noexcept {
  ThreadState& ts = *t_state;  // prepare_frame created it
  coroutine.thread_ = &ts;
  coroutine.id_ = take_id(ts);
  // Until now context_ holds the stack top below the control block.
  char* top = static_cast<char*>(coroutine.context_);
  const auto usable = static_cast<std::size_t>(top - static_cast<char*>(coroutine.stack_.base));
  // The first frame is written below where the stack pointer will be; what
  // the coroutine pushes later, memcheck follows by itself. The stack
  // layer's probe word further down keeps its state.
  constexpr std::size_t kFirstFrameBytes = 1024;
  support::valgrind_make_usable(top - kFirstFrameBytes, kFirstFrameBytes);
  coroutine.context_ = context::cosync_context_make(top, usable, &Runtime::entry);
  coroutine.asan_bottom_ = coroutine.stack_.base;
  coroutine.asan_size_ = coroutine.stack_.size;
  coroutine.tsan_fiber_ = support::tsan_create_fiber();
  set_resumer(coroutine, *ts.main);
  link(ts, coroutine);
  COSYNC_PROBE(create, coroutine.id_, &coroutine, coroutine.name_, coroutine.stack_.size);
}

void Runtime::check_joinable(Coroutine& coroutine) {
  const ThreadState& ts = this_thread();
  check_owner(&ts, coroutine, "join of");
  if (&coroutine == ts.current) {
    usage_error("join of " + label(coroutine) + " from inside itself");
  }
}

void Runtime::unwind(Coroutine& coroutine, bool for_destruction) {
  ThreadState* ts = t_state;
  if (coroutine.thread_ != ts) {
    if (for_destruction) {
      fatal("destruction of " + label(coroutine) +
            " on a thread that does not own it; coroutines stay on the thread "
            "that created them");
    }
    check_owner(ts, coroutine, "cancel of");
  }
  switch (coroutine.state()) {
    case CoroutineState::finished:
      return;
    case CoroutineState::created:
      COSYNC_PROBE(cancel, coroutine.id_, &coroutine, coroutine.name_, ts->current->id_);
      coroutine.drop_callable();
      mark_finished(*ts, coroutine);
      coroutine.cancelled_ = true;
      return;
    case CoroutineState::running:
      if (for_destruction) {
        fatal("destruction of " + label(coroutine) + " from inside itself");
      }
      usage_error("cancel of " + label(coroutine) + " from inside itself; throw or return instead");
    case CoroutineState::suspended:
      break;
  }
  if ((coroutine.slow_path_ & Coroutine::kDestroying) != 0) {
    fatal("destruction cycle: " + label(coroutine) + " is destroying " + label(*ts->current) +
          " (or a coroutine that owns it), which owns " + label(coroutine));
  }
  COSYNC_PROBE(cancel, coroutine.id_, &coroutine, coroutine.name_, ts->current->id_);
  coroutine.slow_path_ |= Coroutine::kUnwindRequested;
  add_duty(coroutine, Coroutine::kUnwindPending);
  ++ts->stats.forced_unwinds;
  Coroutine& destroyer = *ts->current;
  destroyer.slow_path_ |= Coroutine::kDestroying;
  const support::ScopeExit clear_destroying{[&destroyer]() noexcept {
    destroyer.slow_path_ &= static_cast<std::uint8_t>(~Coroutine::kDestroying);
  }};
  while (coroutine.state_ != CoroutineState::finished) {
    forward_switch(*ts, destroyer, coroutine);
  }
}

namespace {
constinit JoinHook g_join_hook = nullptr;
}  // namespace

// On the main context a coroutine not started yet takes its first step in
// place, as the loop would take it: one that finishes without waiting
// costs no loop iteration (create + join is the lifecycle benchmark). The
// rest is the request layer's: it hands the coroutine to the loop and waits.
void Runtime::await_finished(Coroutine& coroutine, std::chrono::steady_clock::time_point deadline) {
  check_joinable(coroutine);
  if (!in_coroutine() && coroutine.state() == CoroutineState::created) {
    coroutine.resume();
    if (coroutine.state_ == CoroutineState::finished) {
      return;
    }
  }
  if (g_join_hook == nullptr) {
    usage_error("join of " + label(coroutine) +
                ", which suspended: waiting for it needs cosync's request layer "
                "(src/request), which this program does not contain");
  }
  g_join_hook(coroutine, deadline);
}

void Runtime::for_each(const ThreadState& ts, const std::function<void(const Coroutine&)>& visit) {
  ts.registry.for_each([&visit](const CoroutineRecord& record) { visit(of(record)); });
}

void Runtime::redirect_resumers(ThreadState& ts, Coroutine& gone) noexcept {
  ts.registry.for_each([&ts, &gone](CoroutineRecord& record) {
    Coroutine& c = of(record);
    if (c.resumer_ == &gone) {
      c.resumer_ = ts.main;
      c.resume_key_ = ts.main;
      ++ts.main->resumer_refs_;
    }
  });
  gone.resumer_refs_ = 0;
}

void Runtime::release(Coroutine& coroutine) noexcept {
  ThreadState* ts = t_state;
  if (coroutine.thread_ != ts) {
    fatal("destruction of " + label(coroutine) +
          " on a thread that does not own it; coroutines stay on the thread "
          "that created them");
  }
  if (coroutine.resumer_refs_ != 0) {
    redirect_resumers(*ts, coroutine);
  }
  if (coroutine.resumer_ != nullptr) {
    --coroutine.resumer_->resumer_refs_;
  }
  unlink(*ts, coroutine);
  support::tsan_destroy_fiber(coroutine.tsan_fiber_);
  Stack stack = coroutine.stack_;
  const bool owns_stack = coroutine.owns_stack_;
  coroutine.destroy();
  if (owns_stack) {
    release_stack(stack);
  }
}

// Where the coroutine's stack is in use down to now: the stack pointer it
// is suspended at, or for the running one the caller's own frame; null once
// it finished.
const void* Runtime::deepest_seen(const Coroutine& coroutine) noexcept {
  if (coroutine.state() == CoroutineState::running) {
    return __builtin_frame_address(0);
  }
  return coroutine.context_;
}

// A program's stack holds anything below its coroutine's frames, so only
// its stack pointer tells.
StackPeak Runtime::stack_peak(const Coroutine& coroutine) noexcept {
  if (coroutine.is_main()) {
    return StackPeak{};
  }
  const void* deepest = deepest_seen(coroutine);
  if (!coroutine.owns_stack_) {
    return StackPeak{stack::depth_of(coroutine.stack_, deepest), PeakMethod::stack_pointer};
  }
  return measure_stack_peak(coroutine.stack_, deepest);
}

Frame prepare_frame(const Options& options, std::size_t body_size, std::size_t body_align) {
  this_thread();
  Frame frame{allocate_stack(options.stack_size), nullptr};
  const auto top = reinterpret_cast<std::uintptr_t>(frame.stack.top());
  const std::size_t align = body_align < 64 ? 64 : body_align;
  const std::uintptr_t body = (top - body_size) & ~(std::uintptr_t{align} - 1);
  const auto base = reinterpret_cast<std::uintptr_t>(frame.stack.base);
  if (body < base + min_stack_size / 2) {
    const std::size_t size = frame.stack.size;
    release_stack(frame.stack);
    throw std::invalid_argument("cosync: the callable and its arguments (" +
                                std::to_string(body_size) + " bytes) leave too little of a " +
                                std::to_string(size) +
                                "-byte stack; pass them by pointer or use a larger stack");
  }
  frame.body = static_cast<char*>(frame.stack.base) + (body - base);
  return frame;
}

ThreadState& create_thread_state() { return Runtime::create_thread_state(); }
void resume_slow(Coroutine& to) {
  if (is_no_task(to)) {
    throw_join_misuse(&to == &joined_task);
  }
  Runtime::resume(this_thread(), to);
}
void suspend_slow(Coroutine& self, bool to_main, const char* call) {
  ThreadState* ts = t_state;
  if (ts == nullptr) {
    suspend_outside_coroutine(call);  // `self` is the placeholder
  }
  Runtime::suspend(*ts, self, to_main, call);
}
void set_resumer(Coroutine& coroutine, Coroutine& resumer) noexcept {
  Runtime::set_resumer(coroutine, resumer);
}
void check_canary_slow(const Coroutine& coroutine) noexcept { Runtime::check_canary(coroutine); }
void after_return_slow(Coroutine& self) { Runtime::after_return_slow(self); }
void refuse_suspension(const Coroutine& self, const Coroutine& target) {
  Runtime::refuse_suspension(self, target);
}
void suspend_outside_coroutine(const char* call) {
  usage_error(std::string(call) + " called on the main context, outside any coroutine");
}

void abandon_frame(Frame& frame) noexcept {
  if (frame.owns_stack) {
    release_stack(frame.stack);
  }
}
void activate(Coroutine& coroutine) noexcept { Runtime::activate(coroutine); }
void check_joinable(Coroutine& coroutine) { Runtime::check_joinable(coroutine); }
void await_finished(Coroutine& coroutine, std::chrono::steady_clock::time_point deadline) {
  Runtime::await_finished(coroutine, deadline);
}
void set_join_hook(JoinHook hook) noexcept { g_join_hook = hook; }
// Destruction throws nothing: its misuses are fatal, and the destroyer
// refuses unwind requests while it waits for the unwinding (kDestroying), so
// no ForcedUnwind is pending for it when the switch back returns. The catch
// states that invariant where clang-tidy and the reader can see it.
void unwind_for_destruction(Coroutine& coroutine) noexcept {
  try {
    Runtime::unwind(coroutine, true);
  } catch (...) {
    fatal("destruction of " + label(coroutine) +
          " was interrupted by an exception; a coroutine that destroys another cannot "
          "be unwound meanwhile");
  }
}
void unwind_for_cancel(Coroutine& coroutine) { Runtime::unwind(coroutine, false); }
void release(Coroutine& coroutine) noexcept { Runtime::release(coroutine); }

void throw_join_misuse(bool joined) {
  if (joined) {
    usage_error("join of a task that was already joined (its result was taken once)");
  }
  usage_error("use of an empty task (default-constructed or moved from)");
}

}  // namespace impl

namespace coroutine {
namespace {
// The least a program-provided stack must leave below the control block.
constexpr std::size_t kFrameRoom = 1024;
}  // namespace

void exit_to(Coroutine& to) {
  impl::ThreadState& ts = impl::this_thread();
  impl::Runtime::check_exit_target(ts, to);
  impl::Runtime::exit_to(ts, *ts.current, to);
}

impl::Frame frame_on(void* memory, std::size_t size, std::size_t body_size,
                     std::size_t body_align) {
  impl::this_thread();
  const auto base = reinterpret_cast<std::uintptr_t>(memory);
  const auto top = base + size;
  const std::size_t align = body_align < 64 ? 64 : body_align;
  const std::uintptr_t body = (top - body_size) & ~(std::uintptr_t{align} - 1);
  if (body < base + kFrameRoom) {
    throw std::invalid_argument("cosync: a " + std::to_string(size) +
                                "-byte stack cannot hold a coroutine");
  }
  impl::Frame frame;
  frame.stack.base = memory;
  frame.stack.size = size;
  // No guard below the program's memory: the control block checks it
  // (check_program_stack) each time the coroutine leaves it.
  frame.stack.guard = StackGuard::canary;
  frame.body = static_cast<char*>(memory) + (body - base);
  frame.owns_stack = false;
  return frame;
}

}  // namespace coroutine

Coroutine::Coroutine(const impl::Frame& frame, const Options& options)
    : CoroutineRecord(frame.body, frame.stack.guard == StackGuard::canary ? kCanaryStack : 0,
                      CoroutineState::created, frame.owns_stack, frame.stack, 0,
                      options.user_data) {
  if (!options.name.empty()) {
    set_name(options.name);
  }
}

// The thread's own stack: the kernel guards it, so no canary is checked.
Coroutine::Coroutine(MainTag /*tag*/, std::uint64_t id) noexcept
    : CoroutineRecord(nullptr, kMainContext, CoroutineState::suspended, false,
                      Stack{.guard = StackGuard::guard_page}, id, nullptr) {
  set_name("main");
}

StackPeak Coroutine::stack_peak() const noexcept { return impl::Runtime::stack_peak(*this); }

void Coroutine::set_name(std::string_view name) noexcept {
  const std::size_t length = name.size() < sizeof name_ - 1 ? name.size() : sizeof name_ - 1;
  std::memcpy(name_, name.data(), length);
  name_[length] = '\0';
}

const char* to_string(CoroutineState state) noexcept {
  switch (state) {
    case CoroutineState::created:
      return "created";
    case CoroutineState::running:
      return "running";
    case CoroutineState::suspended:
      return "suspended";
    case CoroutineState::finished:
      return "finished";
  }
  return "unknown";
}

void for_each_coroutine(const std::function<void(const Coroutine&)>& visit) {
  impl::Runtime::for_each(impl::this_thread(), visit);
}

CoroutineStats coroutine_stats() noexcept {
  const impl::ThreadState* ts = impl::t_state;
  return ts != nullptr ? ts->stats : CoroutineStats{};
}

}  // namespace cosync
