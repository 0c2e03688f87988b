// The core's side of libcosync-hook (cosync/impl/capi_hook_bridge.hpp):
// what the hook library needs from the program's own copy of cosync, and
// the self-check cosync.h reports (cosync_hook_active, cosync_hook_status).
#include <atomic>

#include "cosync/impl/capi_hook_bridge.hpp"
#include "cosync/pool.hpp"
#include "cosync/request.hpp"
#include "support/scope_guard.hpp"

namespace cosync::capi {
namespace {

using impl::HookWait;
using impl::HookWaitEnd;

// Set once by the hook library's constructor, possibly before this
// library's own constructors ran: constant-initialised atomics only.
enum HookState : int { hook_absent = 0, hook_not_in_effect = 1, hook_in_effect = 2 };
constinit std::atomic<int> g_state{hook_absent};
constinit std::atomic<void (*)(cosync_hook_stats*) noexcept> g_read_stats{nullptr};

Loop* cooperative_loop() noexcept {
  Loop* loop = impl::t_loop;
  return loop != nullptr && in_coroutine() ? loop : nullptr;
}

Loop* thread_loop() noexcept { return impl::t_loop; }

// A cancelled coroutine hears about it at its next wait outside the hooks:
// a C library that got ECANCELED from read() unwinds by its own error path,
// and the cancellation stays pending for the caller.
void keep_cancel_pending() noexcept {
  if (impl::Scheduling* scheduling = impl::scheduling_of(current())) {
    scheduling->cancel_delivered = false;
  }
}

HookWaitEnd suspend(HookWait& wait, Deadline deadline) {
  impl::Waiter waiter;
  wait.waiter = &waiter;
  const support::ScopeExit clear([&wait]() noexcept { wait.waiter = nullptr; });
  try {
    return waiter.wait([&wait] { return wait.fired; }, deadline) ? impl::hook_wait_fired
                                                                 : impl::hook_wait_timed_out;
  } catch (const Cancelled&) {
    keep_cancel_pending();
    return impl::hook_wait_cancelled;
  }
}

void wake(HookWait& wait) noexcept {
  if (wait.waiter != nullptr) {
    static_cast<impl::Waiter*>(wait.waiter)->wake();
  }
}

// A function already running on a worker cannot be stopped, and it uses
// the caller's stack: a cancelled caller still waits for it to return.
bool run_blocking(void (*fn)(void* arg), void* arg) {
  Request<void> request = blocking_pool().submit([fn, arg] { fn(arg); });
  try {
    request.get();
    return true;
  } catch (const Cancelled&) {
    request.cancel();
    request.wait();
    keep_cancel_pending();
    return false;
  }
}

void loaded(bool in_effect, void (*read_stats)(cosync_hook_stats* out) noexcept) noexcept {
  g_read_stats.store(read_stats, std::memory_order_release);
  g_state.store(in_effect ? hook_in_effect : hook_not_in_effect, std::memory_order_release);
}

constinit const impl::HookBridge g_bridge{impl::kHookBridgeVersion,
                                          sizeof(impl::HookBridge),
                                          &cooperative_loop,
                                          &thread_loop,
                                          &suspend,
                                          &wake,
                                          &run_blocking,
                                          &loaded};

}  // namespace
}  // namespace cosync::capi

extern "C" {

const cosync::impl::HookBridge* cosync_hook_bridge(void) noexcept {
  return &cosync::capi::g_bridge;
}

COSYNC_API int cosync_hook_active(void) {
  return cosync::capi::g_state.load(std::memory_order_acquire) == cosync::capi::hook_in_effect ? 1
                                                                                               : 0;
}

COSYNC_API const char* cosync_hook_status(void) {
  switch (cosync::capi::g_state.load(std::memory_order_acquire)) {
    case cosync::capi::hook_in_effect:
      return "cosync-hook: active: libc's blocking calls in coroutines suspend only the coroutine";
    case cosync::capi::hook_not_in_effect:
      return "cosync-hook: loaded but NOT in effect: another definition of libc's calls comes "
             "first in the symbol lookup (link libcosync-hook before the others, or use "
             "LD_PRELOAD); blocking calls block the thread";
    default:
      return "cosync-hook: NOT loaded (not linked, dropped at link time, or a static binary): "
             "blocking calls block the thread";
  }
}

COSYNC_API void cosync_hook_get_stats(cosync_hook_stats* out) {
  if (out == nullptr) {
    return;
  }
  *out = cosync_hook_stats{};
  if (auto* read_stats = cosync::capi::g_read_stats.load(std::memory_order_acquire)) {
    read_stats(out);
  }
}

}  // extern "C"
