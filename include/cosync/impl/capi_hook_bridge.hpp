// The bridge between libcosync-hook (layer 8, a separate shared library)
// and the cosync core the program carries (statically in a C++ program, or
// libcosync.so). The hook library finds it at run time with
// dlsym(RTLD_DEFAULT, "cosync_hook_bridge") and reaches the core only
// through it, so that it uses the program's own copy of cosync (its
// thread-local loop and current coroutine) and never one of its own.
// Internal to cosync: the layout changes with the version (kVersion).
#pragma once

#include <cstdint>

#include "cosync.h"
#include "cosync/loop.hpp"

namespace cosync::impl {

// One suspension of a coroutine inside a hooked call: the hook sets `fired`
// (from a loop callback) and calls HookBridge::wake.
struct HookWait {
  void* waiter = nullptr;  // the core's, while the coroutine is suspended
  bool fired = false;      // set by whoever wakes the wait
};

// How a HookBridge::suspend ended.
enum HookWaitEnd : int {
  hook_wait_fired = 0,      // HookWait::fired was set
  hook_wait_timed_out = 1,  // the deadline passed first
  hook_wait_cancelled = 2,  // the coroutine was cancelled (left pending for its next wait)
};

// The calls the core offers to the hook library; every one may be called
// from any thread, a signal handler excepted.
struct HookBridge {
  // The core's cosync version and this struct's size: the hook library
  // refuses a bridge from another build.
  std::uint32_t version;
  std::uint32_t size;
  // The loop of the calling thread when the caller runs in a coroutine on
  // a thread with a cosync loop; null otherwise (the main context, a loop
  // callback, a thread without a loop).
  Loop* (*cooperative_loop)() noexcept;
  // This thread's loop if it has one (never creates one); null otherwise.
  Loop* (*thread_loop)() noexcept;
  // Suspends the calling coroutine until `wait.fired` or the deadline.
  HookWaitEnd (*suspend)(HookWait& wait, Deadline deadline);
  // Resumes the coroutine suspended on `wait` (loop thread only).
  void (*wake)(HookWait& wait) noexcept;
  // Runs fn(arg) on the blocking pool while the calling coroutine waits;
  // false when the coroutine was cancelled before fn started (fn never runs).
  bool (*run_blocking)(void (*fn)(void* arg), void* arg);
  // The hook library reports that it is loaded, whether its symbols are
  // the ones the program's calls reach, and how to read its counters.
  void (*loaded)(bool in_effect, void (*read_stats)(cosync_hook_stats* out) noexcept) noexcept;
};

// The version a bridge of this build carries: cosync's version, so that a
// hook library and a core of different builds refuse each other.
inline constexpr std::uint32_t kHookBridgeVersion =
    (COSYNC_VERSION_MAJOR << 16U) | (COSYNC_VERSION_MINOR << 8U) | COSYNC_VERSION_PATCH;

}  // namespace cosync::impl

extern "C" {
// The core's bridge (see HookBridge); exported by every program that links
// cosync, so that a preloaded hook library finds it.
COSYNC_API const cosync::impl::HookBridge* cosync_hook_bridge(void) noexcept;
}
