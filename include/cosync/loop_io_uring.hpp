// cosync's second built-in loop: io_uring instead of epoll (Linux 6.1 or
// later, through liburing). It is the same Loop as the epoll one, with the
// same semantics for every wait, on a different kernel interface: fd waits
// are POLL_ADD operations, the sleep is the timeout of the one
// io_uring_enter of each loop pass (which also submits everything the pass
// queued), cross-thread posts and signals arrive as multishot polls on the
// loop's eventfd and signalfd.
//
//   std::unique_ptr<cosync::Loop> loop = cosync::make_io_uring_loop();
//   cosync::set_this_loop(loop.get());
//
// Or, for every thread's built-in loop: COSYNC_LOOP=io_uring in the
// environment (read once, at the first loop a process creates;
// COSYNC_LOOP=epoll or unset: the epoll loop). When the kernel refuses what
// the io_uring loop needs, the built-in loop is the epoll one, its
// LoopStats::fallback says why, and one line on stderr says so too.
//
// The ring is set up with SINGLE_ISSUER | DEFER_TASKRUN: only the thread
// that created the loop may run it (as with every cosync loop). Fork: the
// ring belongs to the process that created the loop. A child process that
// inherits it must not run it: run_once there throws UsageError, and the
// child's fd bookkeeping and the loop's destruction leave the parent's ring
// untouched. A child makes its own loop.
#pragma once

#include <memory>
#include <string>

#include "cosync/export.hpp"
#include "cosync/loop.hpp"

namespace cosync {

// Creates an io_uring loop for the calling thread (install it with
// set_this_loop). Throws std::system_error naming what the kernel refused
// (the ring's setup flags, an operation, a registration) when this kernel
// cannot run it; io_uring_unavailable_reason() tells beforehand.
COSYNC_API std::unique_ptr<Loop> make_io_uring_loop();

// Empty when this process can run io_uring loops; otherwise why not, as
// make_io_uring_loop's error would say: what the kernel refused (the setup
// flags, an operation, a feature), or that the process runs under valgrind
// (which does not model the rings), or that the build left the loop out
// (COSYNC_WITH_IO_URING=OFF). Probed once per process, on the first call
// here or to a loop maker.
COSYNC_API const std::string& io_uring_unavailable_reason();

}  // namespace cosync
