// libcosync-pcl: the libpcl 1.12 API (pcl.h) on cosync's coroutine layer.
//
// A libpcl coroutine is a cosync coroutine (PclCoroutine): it is in the
// thread's registry (cosync-list shows it, an overflow report names it, as
// `coroutine #<id> "pcl"`), it switches through the coroutine layer's one
// switch path, and libpcl's main coroutine is the thread's cosync main
// context. Its data is the coroutine's user_data. What libpcl adds on top
// is its own bookkeeping of who called whom (Links), kept here.
//
// libpcl's semantics, as pcl(3) documents them and the library behaves:
//   - every thread has a main coroutine, running on the thread's own stack;
//     co_current() returns it outside any coroutine;
//   - co_call(co) records the running coroutine as co's `caller` and
//     switches to co; calling oneself returns at once;
//   - co_resume() switches to the running coroutine's `restarget`: the
//     coroutine that first called it, and after each co_resume returns,
//     whoever called it back (libpcl copies caller to restarget only then);
//   - co_exit_to(co) deletes the running coroutine and calls co; co_exit()
//     exits to restarget; a coroutine whose function returns does co_exit();
//   - the coroutine an exit lands in was, for libpcl, called by its internal
//     delete helper, so a later co_resume towards that "caller" is an error.
//
// Where libpcl switches to a helper coroutine on a static stack to free the
// exiting one, cosync leaves the exiting stack for good and the context it
// lands in frees it right after the switch (coroutine::exit_to).
//
// Misuse that libpcl leaves undefined or reports with exit(1) is reported
// here on stderr ("cosync: co_call(0x...): why"), followed by abort().
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "coroutine/foreign.hpp"
#include "cosync/coroutine.hpp"
#include "cosync/pcl_ext.h"
#include "cosync/stack.hpp"
#include "support/errors.hpp"
#include "support/sanitizer.hpp"

namespace cosync::pcl {
namespace {

// libpcl rejects stacks smaller than this (after rounding the size down to
// a multiple of sizeof(long)).
constexpr int kMinStackSize = 4096;

// Set in every live PclCoroutine, cleared when it is freed: a handle to a
// deleted coroutine is reported while its memory still holds the block.
constexpr std::uint32_t kLiveMagic = 0x21'6c'63'70;  // "pcl!"

// What libpcl keeps of one coroutine beyond cosync's record.
struct Links {
  Coroutine* caller = nullptr;     // who called it last
  Coroutine* restarget = nullptr;  // where co_resume and co_exit go
};

// "cosync: <call>(<handle>): <why>", then abort.
[[noreturn]] void fatal(const char* call, const void* handle, const char* why) noexcept {
  char head[128];
  std::snprintf(head, sizeof head, "%s(%p): ", call, handle);
  support::fatal(std::string(head) + why);
}

std::uintptr_t canary_value(const std::uintptr_t* where) noexcept {
  return reinterpret_cast<std::uintptr_t>(where) ^ 0x5bd1e995'a5a5c3c3U;
}

Coroutine& exit_target(Coroutine& to, const char* call) noexcept;
class PclCoroutine;  // NOLINT(cppcoreguidelines-virtual-class-destructor): final, see below
[[gnu::always_inline]] inline Coroutine& resume_target(PclCoroutine& self,
                                                       const char* call) noexcept;
[[noreturn]] void exit_to(Coroutine& to, const char* call) noexcept;

// The control block of a co_create'd coroutine, at the top of its stack.
//
//   stack.base                                          control block    top
//   | canary (caller stacks) | stack, grows down  <- | PclCoroutine |     |
// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor): final, freed by destroy()
class PclCoroutine final : public Coroutine {
 public:
  PclCoroutine(const impl::Frame& frame, const Options& options, void (*func)(void*)) noexcept
      : Coroutine(frame, options), func_(func) {
    impl::maker_of(*this) = impl::CoroutineMaker::pcl;
  }
  PclCoroutine(const PclCoroutine&) = delete;
  PclCoroutine& operator=(const PclCoroutine&) = delete;

  // A stack the caller provides has no guard page: its lowest word holds a
  // canary, checked each time the coroutine leaves it.
  void guard_caller_stack() noexcept {
    auto* lowest = static_cast<std::uintptr_t*>(stack().base);
    *lowest = canary_value(lowest);
    valgrind_id_ = support::valgrind_register_stack(stack().base, stack().size);
  }

  bool live() const noexcept { return magic_ == kLiveMagic; }

  Links links;

 private:
  ~PclCoroutine() {
    // A deleted handle is then refused by its maker byte, before anything
    // reads the block as a PclCoroutine (the pool may reuse the vtable
    // pointer's word, so the dead block is no object of any type).
    impl::maker_of(*this) = impl::CoroutineMaker::cosync;
    magic_ = 0;
    if (valgrind_id_ != 0) {
      // The memory is the caller's again: frames that never returned (an
      // exit from deep inside) may have left ASan poison on it.
      support::valgrind_deregister_stack(valgrind_id_);
      support::asan_unpoison(stack().base, stack().size);
    }
  }

  // Never returns: a function that returns does co_exit().
  void run_body() override {
    links.restarget = links.caller;
    func_(user_data());
    const char* call = "co_exit (function return)";
    exit_to(exit_target(resume_target(*this, call), call), call);
  }
  void drop_callable() noexcept override {}
  void destroy() noexcept override { this->~PclCoroutine(); }
  void check_program_stack() const noexcept override;

  void (*func_)(void*);
  std::uint32_t magic_ = kLiveMagic;
  unsigned valgrind_id_ = 0;
};

// An overflow is reported, not carried on with: libpcl's wording, then the
// coroutine's cosync name.
void PclCoroutine::check_program_stack() const noexcept {
  const auto* lowest = static_cast<const std::uintptr_t*>(stack().base);
  if (*lowest == canary_value(lowest)) [[likely]] {
    return;
  }
  char head[160];
  std::snprintf(head, sizeof head, "coroutine %p overflowed its %zu-byte stack [%p, %p) (cosync ",
                static_cast<const void*>(this), stack().size, stack().base, stack().top());
  support::fatal(std::string(head) + impl::label(*this) +
                 "): the canary at its lowest address is overwritten; give it a bigger stack");
}

// libpcl's links of the main coroutine, which is cosync's main context.
constinit thread_local Links t_main_links __attribute__((tls_model("initial-exec")));

// What libpcl's delete helper was to a coroutine reached by an exit: a
// caller that is gone. Never a live coroutine, so resuming it is refused.
constinit char g_exited_caller_tag = 0;
Coroutine* exited_caller() noexcept {
  return reinterpret_cast<Coroutine*>(&g_exited_caller_tag);  // a tag, never dereferenced
}

// The thread's cosync state, created on its first pcl call (libpcl's calls
// other than co_thread_init and co_create cannot fail).
[[gnu::noinline]] void create_thread_or_die() noexcept {
  try {
    main_context();
  } catch (const std::bad_alloc&) {
    fatal("co_thread_init", nullptr, "out of memory for the thread's main coroutine");
  }
}

[[gnu::always_inline]] inline void ensure_thread() noexcept {
  if (impl::t_state == nullptr) [[unlikely]] {
    create_thread_or_die();
  }
}

Links& links_of(Coroutine& coroutine) noexcept {
  return coroutine.is_main() ? t_main_links : static_cast<PclCoroutine&>(coroutine).links;
}

// A cosync coroutine made otherwise (cosync::create) has no libpcl links.
// The maker byte is in the base record, so it is safe to read through any
// handle whose memory is still mapped; ~PclCoroutine clears it, so a
// deleted coroutine's handle is refused here.
[[gnu::always_inline]] inline bool made_by_co_create(Coroutine& coroutine) noexcept {
  return impl::maker_of(coroutine) == impl::CoroutineMaker::pcl;
}

[[gnu::always_inline]] inline Coroutine& live(coroutine_t handle, const char* call) noexcept {
  auto* coroutine = static_cast<Coroutine*>(handle);
  if (coroutine == nullptr) [[unlikely]] {
    fatal(call, handle, "null coroutine");
  }
  if (coroutine == impl::t_state->main) {
    return *coroutine;
  }
  if (!made_by_co_create(*coroutine) || !static_cast<PclCoroutine*>(coroutine)->live())
      [[unlikely]] {
    fatal(call, handle, "not a live coroutine (deleted, exited, or not made by co_create)");
  }
  return *coroutine;
}

// What the context leaving through co_call does once resumed, before
// co_call returns: the coroutine layer's after-switch duties.
void arrived_in_call(void* self) noexcept {
  impl::Switch::after_return(*static_cast<Coroutine*>(self));
}

// The same for co_resume, which libpcl ends by making whoever called this
// coroutine back its new restarget.
void arrived_in_resume(void* self) noexcept {
  auto& coroutine = static_cast<PclCoroutine&>(*static_cast<Coroutine*>(self));
  impl::Switch::after_return(coroutine);
  coroutine.links.restarget = coroutine.links.caller;
}

// call() from `from`, the running context, where the switch cannot be the
// tail call: a call of oneself, the slow switch, another back end.
[[gnu::noinline]] void call_returning(Coroutine& from, Coroutine& to, const char* name,
                                      void (*arrived)(void*) noexcept) noexcept {
  if (&to != &from) {  // pcl(3): "Calling oneself returns immediately."
    try {
      coroutine::transfer_to(to);
    } catch (const UsageError& error) {
      fatal(name, &to, error.what());  // another thread's coroutine
    }
  }
  arrived(&from);
}

// The switch of co_call and co_resume, inlined into the exported function
// whole: a switch returns into the other context's frames, and every return
// there is one the CPU's return predictor gets wrong. With the x86_64
// switch there is none: the jump is the exported function's tail call, and
// the context it suspends resumes straight in that function's caller
// (Switch::jump_returning), after running `arrived`. Every other case is a
// tail call too, so that the exported function saves no register.
[[gnu::always_inline]] inline void call(Coroutine& to, const char* name,
                                        void (*arrived)(void*) noexcept) noexcept {
  impl::ThreadState& ts = *impl::t_state;
  Coroutine& from = *ts.current;
  links_of(to).caller = &from;
#if COSYNC_INLINE_JUMP_X86_64_SYSV
  if (&to != &from && impl::Switch::prepare_transfer(ts, from, to)) [[likely]] {
    impl::Switch::jump_returning(ts, from, to, arrived);
    return;
  }
#endif
  call_returning(from, to, name, arrived);
}

// The running coroutine, for co_resume: the main coroutine has no
// restarget (libpcl sets one only when a co_resume returns).
[[gnu::always_inline]] inline PclCoroutine& resuming_coroutine(const char* call) noexcept {
  Coroutine& self = *impl::t_state->current;
  if (self.is_main()) [[unlikely]] {
    fatal(call, &self, "the main coroutine has no coroutine to resume");
  }
  if (!made_by_co_create(self)) [[unlikely]] {
    fatal(call, &self, "the running coroutine was not made by co_create; it has no restarget");
  }
  return static_cast<PclCoroutine&>(self);
}

// The restarget of `self`, for co_resume, co_exit and a function return.
inline Coroutine& resume_target(PclCoroutine& self, const char* call) noexcept {
  Coroutine* target = self.links.restarget;
  if (target == exited_caller()) [[unlikely]] {
    fatal(call, &self,
          "the coroutine that last called this one has exited (co_exit, co_exit_to or its "
          "function returned); there is nothing to resume");
  }
  return live(target, call);
}

Coroutine& exit_target(Coroutine& to, const char* call) noexcept {
  const Coroutine& self = current();
  if (self.is_main()) [[unlikely]] {
    fatal(call, &self, "the main coroutine cannot exit; return from main() or end the thread");
  }
  if (&to == &self) [[unlikely]] {
    fatal(call, &self, "a coroutine cannot exit to itself");
  }
  return to;
}

// The running coroutine leaves for good; `to` frees it on arrival.
void exit_to(Coroutine& to, const char* call) noexcept {
  links_of(to).caller = exited_caller();
  try {
    coroutine::exit_to(to);
  } catch (const UsageError& error) {
    fatal(call, &to, error.what());  // another thread's coroutine
  }
}

coroutine_t create(void (*func)(void*), void* data, void* stack, int size) {
  if (size < kMinStackSize) {
    errno = EINVAL;
    return nullptr;
  }
  const auto bytes = static_cast<std::size_t>(size) & ~(sizeof(long) - 1);
  ensure_thread();
  Options options;
  options.name = "pcl";
  options.user_data = data;
  impl::Frame frame;
  if (stack == nullptr) {
    options.stack_size = bytes < min_stack_size ? min_stack_size : bytes;
    frame = impl::prepare_frame(options, sizeof(PclCoroutine), alignof(PclCoroutine));
  } else {
    // 16-aligned, as the lowest word's canary and the ABI want.
    const auto low = (reinterpret_cast<std::uintptr_t>(stack) + 15) & ~std::uintptr_t{15};
    const std::size_t skipped = low - reinterpret_cast<std::uintptr_t>(stack);
    frame = coroutine::frame_on(static_cast<char*>(stack) + skipped, bytes - skipped,
                                sizeof(PclCoroutine), alignof(PclCoroutine));
  }
  auto* coroutine = new (frame.body) PclCoroutine(frame, options, func);
  if (stack != nullptr) {
    coroutine->guard_caller_stack();
  }
  impl::activate(*coroutine);
  return static_cast<Coroutine*>(coroutine);
}

}  // namespace
}  // namespace cosync::pcl

// The C entry points: libpcl's names and signatures, exported from the
// shared library by exports.map. None lets a C++ exception out.

extern "C" __attribute__((visibility("default"))) int co_thread_init(void) {
  try {
    cosync::main_context();
    return 0;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

// cosync frees a thread's state at thread exit (kept, with a message on
// stderr, while coroutines of the thread are alive), so there is nothing
// to free earlier.
extern "C" __attribute__((visibility("default"))) void co_thread_cleanup(void) {}

extern "C" __attribute__((visibility("default"))) coroutine_t co_create(void (*func)(void*),
                                                                        void* data, void* stack,
                                                                        int size) {
  try {
    return cosync::pcl::create(func, data, stack, size);
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
  } catch (const std::invalid_argument&) {
    errno = EINVAL;  // beyond cosync's largest stack (1 GiB)
  } catch (const std::exception&) {
    errno = ENOMEM;  // the kernel refused the mapping
  }
  return nullptr;
}

extern "C" __attribute__((visibility("default"))) void co_delete(coroutine_t coro) {
  cosync::pcl::ensure_thread();
  cosync::Coroutine& coroutine = cosync::pcl::live(coro, "co_delete");
  if (&coroutine == &cosync::current()) {
    cosync::pcl::fatal("co_delete", coro,
                       "a coroutine cannot delete itself; end it with co_exit() or by returning");
  }
  if (coroutine.is_main()) {
    cosync::pcl::fatal("co_delete", coro, "the main coroutine cannot be deleted");
  }
  // Not unwound: its frames are C frames, which libpcl drops as they are.
  cosync::impl::release(coroutine);
}

extern "C" __attribute__((visibility("default"))) void co_call(coroutine_t coro) {
  cosync::pcl::ensure_thread();
  cosync::pcl::call(cosync::pcl::live(coro, "co_call"), "co_call", &cosync::pcl::arrived_in_call);
}

extern "C" __attribute__((visibility("default"))) void co_resume(void) {
  cosync::pcl::ensure_thread();
  cosync::pcl::PclCoroutine& self = cosync::pcl::resuming_coroutine("co_resume");
  cosync::pcl::call(cosync::pcl::resume_target(self, "co_resume"), "co_resume",
                    &cosync::pcl::arrived_in_resume);
}

extern "C" __attribute__((visibility("default"))) void co_exit_to(coroutine_t coro) {
  cosync::pcl::ensure_thread();
  cosync::Coroutine& to = cosync::pcl::live(coro, "co_exit_to");
  cosync::pcl::exit_to(cosync::pcl::exit_target(to, "co_exit_to"), "co_exit_to");
}

extern "C" __attribute__((visibility("default"))) void co_exit(void) {
  cosync::pcl::ensure_thread();
  cosync::Coroutine& self = cosync::current();
  if (self.is_main()) {
    cosync::pcl::fatal("co_exit", &self,
                       "the main coroutine cannot exit; return from main() or end the thread");
  }
  cosync::pcl::PclCoroutine& exiting = cosync::pcl::resuming_coroutine("co_exit");
  cosync::pcl::exit_to(
      cosync::pcl::exit_target(cosync::pcl::resume_target(exiting, "co_exit"), "co_exit"),
      "co_exit");
}

extern "C" __attribute__((visibility("default"))) coroutine_t co_current(void) {
  cosync::pcl::ensure_thread();
  return &cosync::current();
}

extern "C" __attribute__((visibility("default"))) coroutine_t co_main(void) {
  cosync::pcl::ensure_thread();
  return &cosync::main_context();
}

extern "C" __attribute__((visibility("default"))) void* co_get_data(coroutine_t coro) {
  cosync::pcl::ensure_thread();
  return cosync::pcl::live(coro, "co_get_data").user_data();
}

extern "C" __attribute__((visibility("default"))) void* co_set_data(coroutine_t coro, void* data) {
  cosync::pcl::ensure_thread();
  cosync::Coroutine& coroutine = cosync::pcl::live(coro, "co_set_data");
  void* previous = coroutine.user_data();
  coroutine.set_user_data(data);
  return previous;
}
