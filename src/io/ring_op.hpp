// How the io layer's sockets and files wait for an operation on a loop
// that runs operations itself (the io_uring loop; see loop/ring_ops.hpp).
#pragma once

#include "loop/ring_ops.hpp"
#include "request/ring_wait.hpp"

namespace cosync::io {

// The thread's loop's operation interface, or null when it waits for
// readiness (every loop but the io_uring one), or no loop exists yet.
inline loop::RingOps* ring_of_this_loop() noexcept { return loop::t_ring; }

// See request/ring_wait.hpp.
using request::run_on_ring;

}  // namespace cosync::io
