// cosync inside an application's own libuv loop (link cosync_libuv).
//
//   uv_loop_t uv;
//   uv_loop_init(&uv);
//   std::unique_ptr<cosync::Loop> loop = cosync::make_libuv_loop(&uv);
//   cosync::set_this_loop(loop.get());
//   auto reply = cosync::spawn(handle_client, fd);  // sync-style code
//   uv_run(&uv, UV_RUN_DEFAULT);                    // the application's loop
//
// The application keeps calling uv_run; coroutines, timers, cross-thread
// posts, fd waits and signals all run from there. A wait outside any
// coroutine runs uv_run(UV_RUN_ONCE) itself, and is refused with UsageError
// inside a libuv callback (uv_run is not reentrant).
//
// The adapter's cross-thread wake-up is an active uv_async, so, like any
// uv_async, it keeps uv_run(UV_RUN_DEFAULT) running until uv_stop or until
// the adapter is destroyed: a coroutine waiting for another thread (a
// thread-pool job) must not find the loop gone.
//
// Lifetime: `uv` must outlive the returned loop. Destroying the loop
// cancels the coroutines spawned on it (their stacks unwind) and closes
// every handle it opened; as with any libuv handle, their memory is freed
// by the close callbacks, so run `uv` once more before uv_loop_close.
//
// Host details: fd waits use one uv_poll per fd (uv_poll_init makes the fd
// non-blocking; libuv allows one poll handle per fd, so do not poll an fd
// cosync waits on). Signals use uv_signal, installed on the first wait for
// a signal and kept (a signal that arrives between waits is kept for the
// next one). libuv offers no way to ask whether uv_run is running, so a wait
// outside coroutines looks for uv_run among its callers.
#pragma once

#include <memory>

#include "cosync/loop.hpp"

using uv_loop_t = struct uv_loop_s;  // as <uv.h> declares it

namespace cosync {

// Creates a cosync loop that runs inside `uv`. Throws std::system_error
// when libuv refuses a handle.
COSYNC_API std::unique_ptr<Loop> make_libuv_loop(uv_loop_t* uv);

}  // namespace cosync
