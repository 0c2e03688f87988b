// cosync hook (layer 8): libcosync-hook, an opt-in shared library that
// defines libc's blocking calls (read, write, recv, send, connect, accept,
// poll, select, epoll_wait, sleep... and getaddrinfo) so that unmodified
// code, a third-party client library included, suspends only its own
// coroutine where it would block the thread. Link it (CMake target
// cosync::hook, pkg-config cosync-hook) or load it with
// LD_PRELOAD=libcosync-hook.so. Outside coroutines, on threads without a
// cosync loop and in signal handlers every call passes straight through.
//
// These functions are the core's (they answer in every program that links
// cosync, with or without the hook library), so a program can check at
// start that the hooks it relies on are in effect.
#pragma once

#include <cstdint>

#include "cosync.h"

namespace cosync::hook {

// Counts of hooked calls on the calling thread (see cosync_hook_stats).
struct Stats {
  std::uint64_t calls = 0;        // hooked calls made from a coroutine
  std::uint64_t suspensions = 0;  // times such a call suspended its coroutine
  std::uint64_t waiting = 0;      // coroutines suspended in a hooked call now
  std::uint64_t would_block = 0;  // attempts of such calls the kernel answered EAGAIN
};

// True when libcosync-hook is loaded and libc's blocking calls reach it.
inline bool active() noexcept { return cosync_hook_active() != 0; }

// A one-line description of the hook library's state, with the reason
// when it is not active.
inline const char* status() noexcept { return cosync_hook_status(); }

// The calling thread's counts (all zero without the hook library).
inline Stats stats() noexcept {
  cosync_hook_stats raw{};
  cosync_hook_get_stats(&raw);
  return {raw.calls, raw.suspensions, raw.waiting, raw.would_block};
}

}  // namespace cosync::hook
