// How a context waits for an operation it hands to a loop that runs
// operations itself (the io_uring loop; see loop/ring_ops.hpp).
#pragma once

#include "cosync/loop.hpp"
#include "loop/ring_ops.hpp"

namespace cosync::request {

// Submits `op` and suspends until its completion (outside coroutines, runs
// the loop meanwhile). A timeout, a cancellation or an unwinding coroutine
// cancels it first and takes its final completion (RingOps::cancel), so the
// kernel never writes into a buffer that is gone. Returns the completion's
// result (a count, an fd, or -errno), or -ETIMEDOUT; throws Cancelled.
int run_on_ring(loop::RingOps& ring, loop::RingOp& op, Deadline deadline);

}  // namespace cosync::request
