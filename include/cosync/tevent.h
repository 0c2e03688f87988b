/*
 * cosync's tevent glue (C11; link cosync_tevent_glue): Samba-style tevent
 * code and synchronous code calling each other, on one tevent loop.
 *
 * Setup, once per thread, on the tevent context the application drives:
 *
 *   struct tevent_context *ev = tevent_context_init(mem_ctx);
 *   cosync_tevent_attach(ev);          // cosync now runs inside ev
 *   ...                                // tevent_loop_once / tevent_loop_wait
 *   cosync_tevent_detach(ev);          // optional: freeing ev detaches too
 *
 * Direction 1, synchronous wrappers become coroutine-friendly (R4). A
 * wrapper written as
 *
 *   req = foo_send(frame, ev, ...);
 *   if (!cosync_tevent_req_poll(req, ev)) { ... errno ... }   // was tevent_req_poll
 *   ret = foo_recv(req, ...);
 *
 * behaves exactly as before when called outside any coroutine, and inside
 * a coroutine suspends only that coroutine while ev keeps running: a
 * thousand coroutines can sit in such wrappers at once.
 *
 * Direction 2, synchronous code becomes a tevent request (R6):
 * cosync_tevent_run_send runs `void *fn(void *arg)` as a coroutine and
 * returns a real tevent_req; cosync_tevent_run_recv collects its result.
 * Callback code sets a callback on it like on any other request.
 *
 * Everything happens on the thread that attached ev.
 */
#ifndef COSYNC_TEVENT_H
#define COSYNC_TEVENT_H

#include <stdbool.h>
#include <talloc.h> /* TALLOC_CTX; declares its own C linkage */

#include "cosync.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tevent_context;
struct tevent_req;

/* ---- attaching ---- */

/* cosync_tevent_attach makes a cosync loop inside `ev` (the tevent adapter)
   and installs it as this thread's loop: coroutines spawned on this thread
   from now on are resumed by ev's own dispatch. The attachment is a talloc
   child of ev: freeing ev detaches it (its coroutines are cancelled first).
   Returns 0 (also when this thread is already attached to ev), -EBUSY when
   this thread is attached to another tevent context, -ENOMEM, or the error
   tevent gave (a tevent without threads support). */
int cosync_tevent_attach(struct tevent_context *ev);

/* cosync_tevent_detach removes what cosync_tevent_attach added: the
   coroutines spawned on this thread's loop are cancelled and unwound, the
   events cosync added to ev go, and the thread is back on cosync's built-in
   loop. Requests of cosync_tevent_run_send still running never finish
   after this; freeing them unwinds their coroutines. Call it from the main
   context. Returns 0, -ENOENT when this thread is not attached to ev, or
   -EPERM from inside a coroutine. */
int cosync_tevent_detach(struct tevent_context *ev);

/* ---- direction 1: waiting for a tevent_req ---- */

/* cosync_tevent_req_poll is a drop-in for tevent_req_poll(req, ev).
   Outside any coroutine it is tevent_req_poll. In a coroutine:
     - a request no longer in progress returns true at once;
     - otherwise it becomes the request's callback (tevent_req_set_callback,
       replacing any other; cleared again before it returns), suspends the
       coroutine and lets the main context go on running ev; the request's
       completion, tevent_req_error and tevent_req_set_endtime's timeout
       all wake it, and the caller's _recv sees them as after
       tevent_req_poll;
     - returns false with errno set when it cannot wait: EINVAL when this
       thread's loop is not ev (cosync_tevent_attach(ev) was not called on
       this thread; reported on stderr), ECANCELED when the coroutine was
       cancelled while it waited, or when `req` was freed meanwhile (do not
       touch it then).
   A coroutine that is destroyed while waiting here unwinds through the
   caller's C frames (they run no cleanup); the request's callback is
   cleared first, so tevent never calls into the dead stack. */
bool cosync_tevent_req_poll(struct tevent_req *req, struct tevent_context *ev);

/* ---- direction 2: a synchronous function as a tevent_req ---- */

/* cosync_tevent_run_send starts fn(arg) as a coroutine on ev (which must
   be this thread's attached context) and returns a tevent_req allocated on
   mem_ctx, as any _send function does. fn starts on ev's next iteration
   and may wait in any cosync call or in cosync_tevent_req_poll; its
   return value is the request's result. The request completes from ev's
   dispatch, never on fn's stack. Returns NULL only when out of memory;
   other failures (ev is not this thread's attached context) are reported
   through the request (tevent_req_post), as tevent's rules want.

   Freeing the request while fn runs cancels it: fn's stack is unwound
   at once (a tevent_req cleanup function does it, before talloc frees the
   request's children), so nothing of fn runs after talloc_free returns.
   fn's own C frames run no cleanup when unwound: what fn holds across a
   wait should hang off a talloc context that is freed with the request or
   by its owner. A request must not be freed from inside its own fn.

   tevent_req_cancel works too: fn is unwound the same way and the request
   fails with ECANCELED, its callback deferred to ev's next iteration. */
struct tevent_req *cosync_tevent_run_send(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
                                          cosync_fn fn, void *arg);

/* cosync_tevent_run_recv stores fn's return value in *result (may be NULL)
   and returns 0, or returns a negative errno: -EIO when a C++ exception
   escaped fn (reported on stderr), -ETIMEDOUT when tevent_req_set_endtime's
   deadline passed first (fn is then unwound), -ECANCELED after
   tevent_req_cancel, -ENOMEM, or -EINVAL (see cosync_tevent_run_send).
   The request is received (tevent_req_received) either way; free it
   afterwards as usual. -EINPROGRESS: fn still runs (nothing received). */
int cosync_tevent_run_recv(struct tevent_req *req, void **result);

#ifdef __cplusplus
}
#endif

#endif
