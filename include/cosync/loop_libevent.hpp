// cosync inside an application's own libevent loop (link cosync_libevent).
//
//   event_base* base = event_base_new();
//   std::unique_ptr<cosync::Loop> loop = cosync::make_libevent_loop(base);
//   cosync::set_this_loop(loop.get());
//   auto reply = cosync::spawn(handle_client, fd);  // sync-style code
//   event_base_dispatch(base);                      // the application's loop
//
// The application keeps calling event_base_dispatch or event_base_loop;
// coroutines, timers, cross-thread posts, fd waits and signals all run from
// there. A wait outside any coroutine runs event_base_loop(EVLOOP_ONCE)
// itself, and is refused with UsageError inside a libevent callback
// (libevent refuses the reentrant event_base_loop and logs a warning).
//
// Threads: post() may be called from any thread, on any base, with or
// without evthread_use_pthreads(): it wakes the base through an eventfd the
// adapter watches with a persistent read event (event_active from another
// thread would need a base with locking, which the application would have
// to set up and cosync could not check). Like libuv's uv_async, that event
// keeps event_base_dispatch running until event_base_loopbreak or
// loopexit, or until the adapter is destroyed: a coroutine waiting for
// another thread (a thread-pool job) must not find the loop gone. As with
// any cosync loop, post() must not race with destroying the loop (the
// blocking pool's workers reach it through its post gate, which is safe).
//
// Lifetime: `base` must outlive the returned loop. Destroying the loop
// cancels the coroutines spawned on it (their stacks unwind) and frees
// every event it added to `base`, which stays usable.
//
// Host details: signals use evsignal events, added on the first wait for a
// signal and kept (a signal that arrives between waits is kept for the next
// one).
#pragma once

#include <memory>

#include "cosync/loop.hpp"

struct event_base;

namespace cosync {

// Creates a cosync loop that runs inside `base`. Throws std::system_error
// when libevent refuses an event or the kernel an eventfd.
COSYNC_API std::unique_ptr<Loop> make_libevent_loop(struct event_base* base);

}  // namespace cosync
