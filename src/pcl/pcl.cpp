// libcosync-pcl: the libpcl 1.12 API (pcl.h) on cosync's context switch
// (layer 1) and stacks (layer 2).
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
// exiting one, cosync leaves the exiting stack for good and the coroutine
// it lands in frees it right after the switch (arrive()).
//
// Misuse that libpcl leaves undefined or reports with exit(1) is reported
// here on stderr, naming the call, followed by abort().
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <stdexcept>

#include "context/context.hpp"
#include "cosync/pcl_ext.h"
#include "cosync/stack.hpp"
#include "support/sanitizer.hpp"

namespace cosync::pcl {
namespace {

// libpcl rejects stacks smaller than this (after rounding the size down to
// a multiple of sizeof(long)).
constexpr int kMinStackSize = 4096;

// Set in every live control block, cleared when it is freed: a handle to a
// deleted coroutine is reported while its memory still holds the block.
constexpr std::uint32_t kLiveMagic = 0x21'6c'63'70;  // "pcl!"

// The control block of one coroutine, at the top of its stack (or of the
// main coroutine, inside the thread's state).
//
//   stack.base                                       control block    top
//   | canary (caller stacks) | stack, grows down  <- | Coroutine |     |
struct Coroutine {
  context::context_t context = nullptr;  // valid while suspended
  Coroutine* caller = nullptr;           // who called it last
  Coroutine* restarget = nullptr;        // where co_resume and co_exit go
  void (*func)(void*) = nullptr;
  void* data = nullptr;
  Stack stack{};                           // empty for the main coroutine
  const std::uintptr_t* canary = nullptr;  // on a caller-provided stack
  std::uint32_t magic = kLiveMagic;
  bool owns_stack = false;   // allocated by co_create, freed with the block
  bool check_stack = false;  // overflow is only seen by a canary
  bool exiting = false;      // left for good; the next context frees it
  unsigned valgrind_id = 0;  // caller stacks; cosync stacks register their own
  void* asan_fake_stack = nullptr;
  const void* asan_bottom = nullptr;
  std::size_t asan_size = 0;
};

// What libpcl's delete helper was to a coroutine reached by an exit: a
// caller that is gone. Its magic is not live, so resuming it is refused.
constinit Coroutine g_exited_caller{.magic = 0};

struct Thread {
  Coroutine main;
  Coroutine* current = &main;
  std::size_t live = 0;  // coroutines created on this thread, not yet freed
};

// Initial-exec TLS: one instruction to read on every call. Coroutines never
// change threads, so caching its address across a switch is right.
constinit thread_local Thread* t_thread __attribute__((tls_model("initial-exec"))) = nullptr;

[[noreturn]] void fatal(const char* call, const void* handle, const char* why) noexcept {
  std::fprintf(stderr, "cosync-pcl: %s(%p): %s\n", call, handle, why);
  std::fflush(stderr);
  std::abort();
}

// Frees the thread's state when it has no live coroutines left: at
// co_thread_cleanup, or at thread exit (coroutines still alive then leak
// with their stacks, as they do with libpcl).
void free_thread_if_idle() noexcept {
  Thread* thread = t_thread;
  if (thread != nullptr && thread->live == 0 && thread->current == &thread->main) {
    delete thread;
    t_thread = nullptr;
  }
}

struct ThreadOwner {
  ThreadOwner() = default;
  ThreadOwner(const ThreadOwner&) = delete;
  ThreadOwner& operator=(const ThreadOwner&) = delete;
  ~ThreadOwner() { free_thread_if_idle(); }
  bool armed = false;
};
thread_local ThreadOwner t_owner;

Thread& create_thread() {
  auto* thread = new Thread;
  t_owner.armed = true;  // first touch registers the thread-exit destructor
  t_thread = thread;
  return *thread;
}

// A thread's first pcl call that cannot report an error creates its state
// here (libpcl's calls other than co_thread_init and co_create cannot fail).
[[gnu::noinline]] Thread& create_thread_or_die() noexcept {
  try {
    return create_thread();
  } catch (const std::bad_alloc&) {
    fatal("co_thread_init", nullptr, "out of memory for the thread's main coroutine");
  }
}

[[gnu::always_inline]] inline Thread& this_thread() noexcept {
  Thread* thread = t_thread;
  if (thread != nullptr) [[likely]] {
    return *thread;
  }
  return create_thread_or_die();
}

[[gnu::always_inline]] inline Coroutine& live(coroutine_t handle, const char* call) noexcept {
  auto* coroutine = static_cast<Coroutine*>(handle);
  if (coroutine == nullptr) [[unlikely]] {
    fatal(call, handle, "null coroutine");
  }
  if (coroutine->magic != kLiveMagic) [[unlikely]] {
    fatal(call, handle, "not a live coroutine (deleted, exited, or not made by co_create)");
  }
  return *coroutine;
}

std::uintptr_t canary_value(const std::uintptr_t* where) noexcept {
  return reinterpret_cast<std::uintptr_t>(where) ^ 0x5bd1e995'a5a5c3c3U;
}

// A stack that has no guard page below it is checked each time its
// coroutine leaves it: an overflow is then reported, not carried on with.
[[gnu::noinline, gnu::cold]] void verify_stack(const Coroutine& coroutine) noexcept {
  const bool intact = coroutine.canary != nullptr
                          ? *coroutine.canary == canary_value(coroutine.canary)
                          : stack_canary_intact(coroutine.stack);
  if (!intact) {
    std::fprintf(stderr,
                 "cosync-pcl: coroutine %p overflowed its %zu-byte stack [%p, %p): the canary "
                 "at its lowest address is overwritten; give it a bigger stack\n",
                 static_cast<const void*>(&coroutine), coroutine.stack.size, coroutine.stack.base,
                 coroutine.stack.top());
    std::fflush(stderr);
    std::abort();
  }
}

// Frees a coroutine that has left its stack for good. Runs on another
// stack, so the stack (which holds the control block) may go.
[[gnu::noinline]] void free_coroutine(Thread& thread, Coroutine& coroutine) noexcept {
  --thread.live;
  coroutine.magic = 0;
  if (coroutine.owns_stack) {
    Stack stack = coroutine.stack;  // the block lives on it: copy first
    release_stack(stack);
    return;
  }
  // The memory is the caller's again: frames that never returned (an exit
  // from deep inside) may have left ASan poison on it.
  support::valgrind_deregister_stack(coroutine.valgrind_id);
  support::asan_unpoison(coroutine.stack.base, coroutine.stack.size);
}

// First thing after every switch, on the stack switched to: the context
// that left either saved itself (keep its token) or left for good.
//
// The switch path (co_call, co_resume) is inlined into the exported
// function whole: a switch returns into the other context's frames, and
// every return there is one the CPU's return predictor gets wrong, so the
// fewer frames between the API entry and the jump, the faster.
[[gnu::always_inline]] inline void arrive(context::transfer_t transfer) noexcept {
  auto& previous = *static_cast<Coroutine*>(transfer.data);
  Thread& thread = *t_thread;
  const Coroutine& self = *thread.current;
  if (previous.exiting) [[unlikely]] {
    support::asan_finish_switch(self.asan_fake_stack, nullptr, nullptr);
    free_coroutine(thread, previous);
    return;
  }
  previous.context = transfer.from;
  support::asan_finish_switch(self.asan_fake_stack, &previous.asan_bottom, &previous.asan_size);
}

[[gnu::always_inline]] inline void switch_to(Thread& thread, Coroutine& from,
                                             Coroutine& to) noexcept {
  if (from.check_stack) [[unlikely]] {
    verify_stack(from);
  }
  thread.current = &to;
  support::asan_start_switch(&from.asan_fake_stack, to.asan_bottom, to.asan_size);
  arrive(context::cosync_context_jump(to.context, &from));
}

[[gnu::always_inline]] inline void call(Thread& thread, Coroutine& to) noexcept {
  Coroutine& from = *thread.current;
  to.caller = &from;
  if (&to == &from) {
    return;  // pcl(3): "Calling oneself returns immediately."
  }
  switch_to(thread, from, to);
}

// The restarget of `self`, for co_resume, co_exit and a function return.
[[gnu::always_inline]] inline Coroutine& resume_target(const Coroutine& self,
                                                       const char* call) noexcept {
  Coroutine* target = self.restarget;
  if (target == nullptr) [[unlikely]] {
    fatal(call, &self, "the main coroutine has no coroutine to resume");
  }
  if (target == &g_exited_caller) [[unlikely]] {
    fatal(call, &self,
          "the coroutine that last called this one has exited (co_exit, co_exit_to or its "
          "function returned); there is nothing to resume");
  }
  return live(target, call);
}

// Everything of an exit but the switch: after it, `self` is never resumed,
// and the context it lands in frees it.
void leave_for_good(Thread& thread, Coroutine& self, Coroutine& to) noexcept {
  if (self.check_stack) [[unlikely]] {
    verify_stack(self);
  }
  self.exiting = true;
  to.caller = &g_exited_caller;
  thread.current = &to;
}

// Tells ASan that the running context leaves for the last time (no
// fake-stack slot), so ASan frees its fake stack. From then on nothing may
// live in that fake stack: the functions that call this one are not
// instrumented, so their locals stay on the real stack.
void announce_last_switch(const Coroutine& to) noexcept {
  support::asan_start_switch(nullptr, to.asan_bottom, to.asan_size);
}

Coroutine& exit_target(const Thread& thread, Coroutine& to, const char* call) noexcept {
  const Coroutine& self = *thread.current;
  if (&self == &thread.main) [[unlikely]] {
    fatal(call, &self, "the main coroutine cannot exit; return from main() or end the thread");
  }
  if (&to == &self) [[unlikely]] {
    fatal(call, &self, "a coroutine cannot exit to itself");
  }
  return to;
}

[[noreturn]] __attribute__((no_sanitize("address"))) void exit_to(Thread& thread,
                                                                  Coroutine& to) noexcept {
  Coroutine& self = *thread.current;
  leave_for_good(thread, self, to);
  announce_last_switch(to);
  context::cosync_context_jump(to.context, &self);
  __builtin_unreachable();
}

// Where every coroutine starts. Returning hands the context layer the
// context to resume; the finished stack is never switched to again.
__attribute__((no_sanitize("address"))) context::transfer_t entry(
    context::transfer_t transfer) noexcept {
  arrive(transfer);
  Thread& thread = *t_thread;
  Coroutine& self = *thread.current;
  self.restarget = self.caller;
  self.func(self.data);
  Coroutine& to = exit_target(thread, resume_target(self, "co_exit (function return)"),
                              "co_exit (function return)");
  leave_for_good(thread, self, to);
  announce_last_switch(to);
  return {to.context, &self};
}

// Places the control block at the top of [base, top) and builds the
// context below it.
Coroutine* place(void* base, void* top, void (*func)(void*), void* data) noexcept {
  const auto block_address =
      (reinterpret_cast<std::uintptr_t>(top) - sizeof(Coroutine)) & ~std::uintptr_t{63};
  auto* block = reinterpret_cast<void*>(block_address);  // NOLINT(performance-no-int-to-ptr)
  auto* coroutine = new (block) Coroutine;
  coroutine->func = func;
  coroutine->data = data;
  const auto usable =
      static_cast<std::size_t>(static_cast<char*>(block) - static_cast<char*>(base));
  coroutine->context = context::cosync_context_make(block, usable, &entry);
  return coroutine;
}

Coroutine* on_allocated_stack(std::size_t size, void (*func)(void*), void* data) {
  Stack stack = allocate_stack(size < min_stack_size ? min_stack_size : size);
  Coroutine* coroutine = place(stack.base, stack.top(), func, data);
  coroutine->stack = stack;
  coroutine->owns_stack = true;
  coroutine->check_stack = stack.guard == StackGuard::canary;
  return coroutine;
}

// A caller-provided stack has no guard page: its lowest word holds a canary.
Coroutine* on_caller_stack(void* memory, std::size_t size, void (*func)(void*), void* data) {
  const auto low = (reinterpret_cast<std::uintptr_t>(memory) + 15) & ~std::uintptr_t{15};
  auto* base = reinterpret_cast<std::uintptr_t*>(low);  // NOLINT(performance-no-int-to-ptr)
  void* top = static_cast<char*>(memory) + size;
  Coroutine* coroutine = place(base + 2, top, func, data);
  *base = canary_value(base);
  coroutine->canary = base;
  coroutine->check_stack = true;
  coroutine->stack.base = base;
  coroutine->stack.size =
      static_cast<std::size_t>(static_cast<char*>(top) - reinterpret_cast<char*>(base));
  coroutine->valgrind_id = support::valgrind_register_stack(base, coroutine->stack.size);
  return coroutine;
}

void set_asan_bounds(Coroutine& coroutine) noexcept {
  coroutine.asan_bottom = coroutine.stack.base;
  coroutine.asan_size = coroutine.stack.size;
}

coroutine_t create(void (*func)(void*), void* data, void* stack, int size) {
  if (size < kMinStackSize) {
    errno = EINVAL;
    return nullptr;
  }
  const auto bytes = static_cast<std::size_t>(size) & ~(sizeof(long) - 1);
  Thread& thread = this_thread();
  Coroutine* coroutine = stack == nullptr ? on_allocated_stack(bytes, func, data)
                                          : on_caller_stack(stack, bytes, func, data);
  set_asan_bounds(*coroutine);
  ++thread.live;
  return coroutine;
}

}  // namespace
}  // namespace cosync::pcl

using cosync::pcl::Coroutine;
using cosync::pcl::Thread;

// The C entry points: libpcl's names and signatures, exported from the
// shared library by exports.map. None lets a C++ exception out.

extern "C" __attribute__((visibility("default"))) int co_thread_init(void) {
  if (cosync::pcl::t_thread != nullptr) {
    return 0;
  }
  try {
    cosync::pcl::create_thread();
    return 0;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

extern "C" __attribute__((visibility("default"))) void co_thread_cleanup(void) {
  cosync::pcl::free_thread_if_idle();
}

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
  Thread& thread = cosync::pcl::this_thread();
  Coroutine& coroutine = cosync::pcl::live(coro, "co_delete");
  if (&coroutine == thread.current) {
    cosync::pcl::fatal("co_delete", coro,
                       "a coroutine cannot delete itself; end it with co_exit() or by returning");
  }
  if (&coroutine == &thread.main) {
    cosync::pcl::fatal("co_delete", coro, "the main coroutine cannot be deleted");
  }
  cosync::pcl::free_coroutine(thread, coroutine);
}

extern "C" __attribute__((visibility("default"))) void co_call(coroutine_t coro) {
  Thread& thread = cosync::pcl::this_thread();
  cosync::pcl::call(thread, cosync::pcl::live(coro, "co_call"));
}

extern "C" __attribute__((visibility("default"))) void co_resume(void) {
  Thread& thread = cosync::pcl::this_thread();
  Coroutine& self = *thread.current;
  cosync::pcl::call(thread, cosync::pcl::resume_target(self, "co_resume"));
  self.restarget = self.caller;
}

extern "C" __attribute__((visibility("default"))) void co_exit_to(coroutine_t coro) {
  Thread& thread = cosync::pcl::this_thread();
  Coroutine& to = cosync::pcl::live(coro, "co_exit_to");
  cosync::pcl::exit_to(thread, cosync::pcl::exit_target(thread, to, "co_exit_to"));
}

extern "C" __attribute__((visibility("default"))) void co_exit(void) {
  Thread& thread = cosync::pcl::this_thread();
  Coroutine& self = *thread.current;
  if (&self == &thread.main) {
    cosync::pcl::fatal("co_exit", &self,
                       "the main coroutine cannot exit; return from main() or end the thread");
  }
  cosync::pcl::exit_to(thread, cosync::pcl::exit_target(
                                   thread, cosync::pcl::resume_target(self, "co_exit"), "co_exit"));
}

extern "C" __attribute__((visibility("default"))) coroutine_t co_current(void) {
  return cosync::pcl::this_thread().current;
}

extern "C" __attribute__((visibility("default"))) coroutine_t co_main(void) {
  return &cosync::pcl::this_thread().main;
}

extern "C" __attribute__((visibility("default"))) void* co_get_data(coroutine_t coro) {
  return cosync::pcl::live(coro, "co_get_data").data;
}

extern "C" __attribute__((visibility("default"))) void* co_set_data(coroutine_t coro, void* data) {
  Coroutine& coroutine = cosync::pcl::live(coro, "co_set_data");
  void* previous = coroutine.data;
  coroutine.data = data;
  return previous;
}
