// cosync inside an application's own tevent loop (link cosync_tevent).
//
//   tevent_context* ev = tevent_context_init(nullptr);
//   std::unique_ptr<cosync::Loop> loop = cosync::make_tevent_loop(ev);
//   cosync::set_this_loop(loop.get());
//   auto reply = cosync::spawn(handle_client, fd);  // sync-style code
//   while (!done) tevent_loop_once(ev);             // the application's loop
//
// The application keeps calling tevent_loop_once or tevent_loop_wait;
// coroutines, timers, cross-thread posts, fd waits and signals all run from
// there. A wait outside any coroutine runs tevent_loop_once itself, and is
// refused with UsageError inside a tevent handler (tevent cannot nest).
//
// Lifetime: `ev` must outlive the returned loop. Destroying the loop
// cancels the coroutines spawned on it (their stacks unwind), removes
// every event it added to `ev` and uninstalls it if it is this thread's
// loop; `ev` stays usable.
//
// Host details: posts from other threads go through a
// tevent_threaded_context; signals through tevent_add_signal, installed on
// the first wait for a signal and kept (a signal that arrives between waits
// is kept for the next one). The adapter chains tevent's trace callback to
// know when tevent is inside a handler: an application that sets its own
// trace callback afterwards must chain to the one it replaces.
#pragma once

#include <memory>

#include "cosync/loop.hpp"

struct tevent_context;

namespace cosync {

// Creates a cosync loop that runs inside `ev`. Throws std::system_error
// when tevent cannot give it a threaded context (tevent without pthreads).
COSYNC_API std::unique_ptr<Loop> make_tevent_loop(struct tevent_context* ev);

// The tevent context `loop` runs inside, or nullptr when `loop` is not a
// tevent adapter (the C glue checks a coroutine's loop with it).
COSYNC_API struct tevent_context* tevent_context_of(const Loop& loop) noexcept;

}  // namespace cosync
