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
// What keeps tevent_loop_wait running: it returns once `ev` has no events
// left, counting every fd (one that watches nothing too), timer, immediate
// and signal event, but not the wake-up fd of a tevent_threaded_context.
// The adapter's events keep it running:
//   - while a coroutine is ready to run (one immediate);
//   - while a cosync timer is pending, such as a sleep or a deadline (one
//     timer);
//   - for each fd cosync has waited on, until it is closed through cosync
//     or forgotten (Loop::forget_fd) (one fd event each);
//   - while a writer waits beside bytes nobody reads (one more fd event,
//     see below);
//   - from the first wait for a signal on (one signal event per signal,
//     kept until the adapter goes).
// Posts from other threads do not keep it running: they arrive through a
// tevent_threaded_context, unlike the libuv adapter's uv_async and the
// libevent adapter's wake event. So when coroutines wait only on other
// threads (thread-pool jobs: File reads and writes, resolve, requests
// completed elsewhere) and nothing above is pending, tevent_loop_wait
// returns, and their results wait for the next time the application runs
// `ev`. An application that runs tevent_loop_wait must then keep an event
// of its own on `ev` while such waits are outstanding, or run
// tevent_loop_once until its work is done.
//
// Lifetime: `ev` must outlive the returned loop. Destroying the loop
// cancels the coroutines spawned on it (their stacks unwind), removes
// every event it added to `ev` and uninstalls it if it is this thread's
// loop; `ev` stays usable.
//
// Fork: the adapter does not support being used across fork(). Its error
// watch (below) is an epoll set, which parent and child share after a
// fork: a child that uses the adapter, destroys it, or runs `ev` with it
// on it can take the parent's error reports or remove its members. A child
// leaves the inherited adapter alone and makes its own context and adapter.
//
// Host details: posts from other threads go through a
// tevent_threaded_context; signals through tevent_add_signal, installed on
// the first wait for a signal and kept (a signal that arrives between waits
// is kept for the next one). tevent 0.14 reports an error or hang-up only
// to a watch that asks for READ, so a writer alone on its socket has its
// watch ask for READ too; once READ fires for bytes nobody reads yet, the
// socket's errors are watched in an epoll set of the adapter's own, which
// `ev` watches while such a writer waits. A wait outside coroutines tells
// that it runs inside a tevent handler by finding tevent's dispatch
// functions among its callers, so tevent's trace callback is left to the
// application.
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
