// How a hooked call waits: in a coroutine, by suspending it on its thread's
// loop until the fds it waits for may be ready (any number of waiters per
// fd, any number of fds per wait); outside coroutines, on an fd the hooks
// made non-blocking behind the user's back, by blocking in the real poll,
// as the call would have blocked.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cosync/impl/capi_hook_bridge.hpp"

namespace cosync::hook {

// The core's bridge, or null when the process has no (matching) cosync.
const impl::HookBridge* bridge() noexcept;
// Looks for the core's bridge; false when there is none (or of another
// build, which is reported on stderr).
bool find_bridge() noexcept;

// The loop a hooked call may suspend on: the calling thread's, when it
// runs a coroutine there, outside any signal handler, and not in a child
// that inherited the loop through fork. Null: pass straight through.
Loop* cooperative_loop() noexcept;

// Signal handlers installed through the hooks count their depth here.
void enter_signal_handler() noexcept;
void leave_signal_handler() noexcept;
// In a child after fork: the loops inherited from the parent (they share
// its epoll instance) are never waited on nor told of closes again.
void disown_inherited_loops() noexcept;

// The calling thread's counters (cosync_hook_get_stats).
void read_stats(cosync_hook_stats* out) noexcept;
// Counts an attempt of such a call that the kernel answered EAGAIN.
void count_would_block() noexcept;

// One fd a wait is for: `events` are IoEvent bits; `generation` is the
// fd's generation when the call began (fd_record).
struct FdInterest {
  int fd = -1;
  unsigned events = 0;
  std::uint32_t generation = 0;
};

// Suspends the calling coroutine until one of `fds` may be ready, the
// deadline passes, or one of them is closed. 0: may be ready (try again);
// ETIMEDOUT; ECANCELED: the coroutine was cancelled; EBADF: an fd was
// closed (or its number reused) meanwhile.
int wait_fds(Loop& loop, const FdInterest* fds, std::size_t count, Deadline deadline);
// Suspends the calling coroutine until the deadline: 0, or ECANCELED.
int sleep_until(Deadline deadline);
// Blocks the thread in the real poll until `fd` is ready for `events`: 0,
// ETIMEDOUT, or the errno of poll.
int wait_blocking(int fd, unsigned events, Deadline deadline) noexcept;

// Before `fd` is closed: the coroutines of this thread that wait on it
// wake (and end with EBADF), and the thread's loop forgets it.
void before_close(int fd) noexcept;

}  // namespace cosync::hook
