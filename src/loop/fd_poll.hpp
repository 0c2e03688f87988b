// Asking the kernel whether an fd is ready now, without waiting: what a
// level-triggered wait checks before it trusts the loop's edge-triggered
// readiness cache.
#pragma once

namespace cosync::loop {

// The IoEvent bits of `events` the kernel reports ready for `fd` right now.
// An error or hang-up counts as every requested direction (the operation
// then gets the error or the end of file itself); an fd that is not open
// reports nothing, so the wait that follows gives the error.
unsigned poll_ready_now(int fd, unsigned events) noexcept;

}  // namespace cosync::loop
