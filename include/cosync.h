/*
 * cosync's C API (C11): stackful coroutines on an event loop, from C.
 *
 * Conventions (after libuv and libdill):
 *   - every name starts with cosync_ (COSYNC_ for macros);
 *   - handles are opaque pointers;
 *   - calls that can fail return 0 (or a count/index) and a negative errno
 *     value on failure; errno itself is not used;
 *   - a NULL handle, function or out-pointer where one is required is
 *     -EINVAL; a call that returns nothing ignores a NULL handle, and the
 *     getters answer NULL, "" or 0 for one. An out-pointer is set to NULL
 *     whenever its call fails;
 *   - -EPERM: the call would run the loop where it may not run: on a
 *     coroutine's stack (cosync_loop_run*), or on the main context inside
 *     one of the loop's callbacks (those, and every wait there);
 *   - waits take absolute deadlines (cosync_deadline: nanoseconds on
 *     CLOCK_MONOTONIC; cosync_deadline_after makes one from a timeout);
 *   - no C++ type or exception crosses this header. An exception that
 *     escapes a coroutine body (C++ code called from C) becomes -EIO for
 *     whoever joins or gets it, and is reported once on stderr.
 *
 * Two ways to run a function `void *fn(void *arg)` as a coroutine:
 *   - cosync_spawn: on this thread's loop (R6, R7); it starts on the loop's
 *     next iteration, and cosync_request_get waits for its result;
 *   - cosync_create + cosync_resume/cosync_join: a coroutine the caller may
 *     switch into by hand; cosync_join then hands it to the loop exactly as
 *     cosync_spawn would, and waits for it as cosync_request_get waits.
 * A coroutine must not be freed while suspended in C code that holds
 * resources: freeing it unwinds its stack (C frames run no cleanup).
 * Everything runs on the calling thread; coroutines never change threads.
 */
#ifndef COSYNC_H
#define COSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "cosync/completion.h"
#include "cosync/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A coroutine, or a thread's main context; not owned by the holder. */
typedef struct cosync_coroutine cosync_coroutine;
/* An owned plain coroutine (cosync_create): resume it, join it, free it. */
typedef struct cosync_task cosync_task;
/* An owned request for the result of a spawned coroutine (cosync_spawn). */
typedef struct cosync_request cosync_request;
/* A thread's event loop. */
typedef struct cosync_loop cosync_loop;

/* The body of a coroutine: its return value is the coroutine's result. */
typedef void *(*cosync_fn)(void *arg);

/* cosync_options: how to create a coroutine. Zero-initialise it (or use
   COSYNC_OPTIONS_INIT) and set what you need. */
typedef struct cosync_options {
  size_t stack_size; /* usable bytes; 0: the default (256 KiB, lazily committed) */
  const char *name;  /* copied (31 bytes kept); NULL: none */
  void *user_data;   /* what cosync_user_data returns */
} cosync_options;
/* COSYNC_OPTIONS_INIT: options with every default (all fields zero). */
#define COSYNC_OPTIONS_INIT \
  { 0, 0, 0 }

/* Readiness events for cosync_wait_fd and cosync_call_when_ready (either
   or both; a wait for neither is -EINVAL). */

#define COSYNC_READABLE 1u /* wait until the fd is readable */
#define COSYNC_WRITABLE 2u /* wait until the fd is writable */

/* cosync_version returns the version of the library the program runs with,
   "MAJOR.MINOR.PATCH"; COSYNC_VERSION_STRING is the headers' version. */
const char *cosync_version(void);

/* ---- time ---- */

/* cosync_now returns the current time on CLOCK_MONOTONIC, in ns. */
cosync_deadline cosync_now(void);
/* cosync_deadline_after returns now + timeout_ns, saturating at
   COSYNC_NO_DEADLINE; a negative timeout gives a deadline already past. */
cosync_deadline cosync_deadline_after(int64_t timeout_ns);

/* ---- plain coroutines ---- */

/* cosync_create makes a coroutine that runs fn(arg) when first resumed.
   `options` may be NULL. Returns 0, -EINVAL (task or fn NULL, bad stack
   size) or -ENOMEM. */
int cosync_create(cosync_task **task, const cosync_options *options, cosync_fn fn, void *arg);
/* cosync_resume switches into the task's coroutine until it yields or
   finishes. 0, or -EINVAL (task NULL, running, finished, or owned by
   another thread). */
int cosync_resume(cosync_task *task);
/* cosync_task_done returns 1 once the coroutine has finished, else 0;
   -EINVAL for NULL. */
int cosync_task_done(const cosync_task *task);
/* cosync_join hands the coroutine to this thread's loop (as cosync_spawn
   does) and waits until it finishes, as cosync_request_get waits: on the
   main context it runs the loop, in a coroutine it suspends the caller. It
   stores the result in *result (may be NULL) and frees the task. Returns 0,
   -EIO (an exception escaped), -ECANCELED (the coroutine was cancelled, or
   the joining coroutine was), or -EINVAL: task NULL, joined from inside itself (the
   task is not freed), or the wait could not go on (from a loop callback,
   or on the main context with nothing left on the loop that could end
   it). A join that ends without the coroutine finishing cancels and
   unwinds it first, and frees the task. */
int cosync_join(cosync_task *task, void **result);
/* cosync_task_free frees a task without joining it; a suspended coroutine
   is unwound first. NULL does nothing. */
void cosync_task_free(cosync_task *task);
/* cosync_task_coroutine returns the task's coroutine (NULL for NULL). */
cosync_coroutine *cosync_task_coroutine(const cosync_task *task);

/* ---- the running coroutine ---- */

/* cosync_current returns the running coroutine, or the main context. */
cosync_coroutine *cosync_current(void);
/* cosync_main returns this thread's main context (R2). */
cosync_coroutine *cosync_main(void);
/* cosync_in_coroutine returns 1 inside a coroutine, 0 on the main context. */
int cosync_in_coroutine(void);
/* cosync_yield switches back to whoever resumed the running coroutine (a
   spawned coroutine continues on the loop's next iteration). 0, -EPERM on
   the main context, or -ECANCELED once (without switching, or after the
   switch) when the spawned coroutine's request was cancelled. */
int cosync_yield(void);
/* cosync_yield_to_main switches to the main context from any depth.
   0, -EPERM on the main context, or -ECANCELED as cosync_yield. */
int cosync_yield_to_main(void);

/* cosync_user_data returns the coroutine's user data (NULL for NULL). */
void *cosync_user_data(const cosync_coroutine *coroutine);
/* cosync_set_user_data replaces it. */
void cosync_set_user_data(cosync_coroutine *coroutine, void *data);
/* cosync_name returns the coroutine's name ("" when none or for NULL;
   "main"). */
const char *cosync_name(const cosync_coroutine *coroutine);
/* cosync_set_name copies `name` (31 bytes kept; NULL: none). */
void cosync_set_name(cosync_coroutine *coroutine, const char *name);
/* cosync_id returns the coroutine's id, unique in the process and never 0
   (0 for NULL). */
uint64_t cosync_id(const cosync_coroutine *coroutine);

/* ---- coroutines on the loop ---- */

/* cosync_spawn launches fn(arg) as a coroutine on this thread's loop and
   returns at once (it starts on the loop's next iteration; of a burst, the
   built-in loop starts at most 1024 per iteration, after the coroutines its
   timers and fds woke). `options` may be NULL. Returns 0, -EINVAL (request or fn NULL, bad stack
   size) or -ENOMEM. */
int cosync_spawn(cosync_request **request, const cosync_options *options, cosync_fn fn, void *arg);
/* cosync_request_done returns 1 once the coroutine has finished, else 0;
   -EINVAL for NULL. */
int cosync_request_done(const cosync_request *request);
/* cosync_request_wait waits until the coroutine has finished (R4: in a
   coroutine it suspends; on the main context it runs the loop). Returns 0,
   -ETIMEDOUT, -ECANCELED when the waiting coroutine is cancelled, -EPERM
   (see the conventions) while not done, or -EINVAL: request NULL, or on
   the main context without deadline when nothing on the built-in loop
   (no timer, fd or signal wait, post, completer or pool job) could ever
   end the wait. */
int cosync_request_wait(cosync_request *request, cosync_deadline deadline);
/* cosync_request_get waits, stores the result in *result (may be NULL) and
   frees the request. Returns 0, -EIO (an exception escaped the body),
   -ECANCELED (the request ended cancelled, or the waiting coroutine was
   cancelled), -EINVAL (request NULL), or -ETIMEDOUT, -EPERM or the
   -EINVAL of a wait nothing could end (as cosync_request_wait; the
   request is kept: wait again or free it). */
int cosync_request_get(cosync_request *request, void **result, cosync_deadline deadline);
/* cosync_request_cancel asks the coroutine to stop: its current or next
   wait returns -ECANCELED, and the request ends cancelled (get returns
   -ECANCELED) whatever the body returns afterwards. Cancelling a request
   that has ended, or NULL, does nothing. A body that returns an
   allocated pointer after its wait returned -ECANCELED must free it
   itself: the request's result is dropped. */
void cosync_request_cancel(cosync_request *request);
/* cosync_request_free drops the request; a coroutine still running goes on
   to its end on the loop. NULL does nothing. */
void cosync_request_free(cosync_request *request);
/* cosync_wait_all waits until every request is done (none: at once). 0,
   -ETIMEDOUT, -ECANCELED (the waiting coroutine was cancelled), -EPERM,
   or -EINVAL (requests NULL, or one of them NULL). */
int cosync_wait_all(cosync_request *const *requests, size_t count, cosync_deadline deadline);
/* cosync_wait_any waits until one request is done; returns its index,
   -ETIMEDOUT, -ECANCELED, -EPERM, or -EINVAL (count 0, requests NULL, or
   one of them NULL). */
int cosync_wait_any(cosync_request *const *requests, size_t count, cosync_deadline deadline);

/* ---- waiting ---- */

/* cosync_sleep_until suspends the running coroutine (or runs the loop) until
   the deadline. 0, -ECANCELED, or -EPERM. */
int cosync_sleep_until(cosync_deadline deadline);
/* cosync_wait_fd waits until fd is ready for `events` (COSYNC_READABLE,
   COSYNC_WRITABLE, or both). 0, -ETIMEDOUT, -ECANCELED (the waiter was
   cancelled, or the fd forgotten), -EINVAL (no event, or an unknown bit),
   -EPERM, -EBUSY (another coroutine waits on fd that way), -EBADF, or
   another error the kernel gave for the fd (see cosync_loop_forget_fd for
   an fd closed underneath a wait). */
int cosync_wait_fd(int fd, unsigned events, cosync_deadline deadline);

/* ---- the loop ---- */

/* cosync_this_loop returns this thread's loop (created on first use), or
   NULL when it cannot be created (out of fds or memory). The built-in
   loop's own fds are close-on-exec and numbered 512 or above (half the
   soft RLIMIT_NOFILE when that is lower). */
cosync_loop *cosync_this_loop(void);
/* cosync_loop_run_once runs one iteration, sleeping at most until `until`.
   0, -EINVAL (loop NULL), -EPERM from a coroutine or from inside one of
   the loop's callbacks, or an error of the loop's kernel wait. */
int cosync_loop_run_once(cosync_loop *loop, cosync_deadline until);
/* cosync_loop_run runs the loop until cosync_loop_stop: 0, or the errors
   of cosync_loop_run_once. */
int cosync_loop_run(cosync_loop *loop);
/* cosync_loop_run_until runs the loop until done(data) returns non-zero
   (0) or the deadline passes (-ETIMEDOUT); -EINVAL (loop or done NULL) or
   the errors of cosync_loop_run_once. */
int cosync_loop_run_until(cosync_loop *loop, int (*done)(void *data), void *data,
                          cosync_deadline until);
/* cosync_loop_stop makes cosync_loop_run return after this iteration.
   NULL does nothing. */
void cosync_loop_stop(cosync_loop *loop);
/* cosync_loop_forget_fd must be called before closing an fd the loop has
   waited on: its waiters end with -ECANCELED and the loop drops the fd, so
   a new fd with the same number starts afresh. NULL does nothing. The
   built-in loop checks, once, the fd of a wait still pending after about
   100 ms of idle loop (or 1024 busy iterations): closed, the wait ends
   with -EBADF; closed and its number reused, the loop watches the new fd
   from then on and says so on stderr, naming the fd. The host-loop
   adapters do not check. */
void cosync_loop_forget_fd(cosync_loop *loop, int fd);
/* cosync_call_at runs fn(data) once from the loop at `when` (a timer
   callback). 0, -EINVAL (loop or fn NULL) or -ENOMEM. */
int cosync_call_at(cosync_loop *loop, cosync_deadline when, void (*fn)(void *data), void *data);
/* cosync_call_when_ready runs fn(data, status) once from the loop when fd is
   ready for `events` (status 0), or with a negative errno when the wait
   fails. 0, -EINVAL (loop or fn NULL, events as cosync_wait_fd), -EBUSY
   (someone already waits for that), -ENOMEM, or the kernel's error for an
   fd the loop cannot watch (-EBADF; -EPERM for a regular file). */
int cosync_call_when_ready(cosync_loop *loop, int fd, unsigned events,
                           void (*fn)(void *data, int status), void *data);

/* libcosync-hook, the opt-in interposition of libc's blocking calls (linked
   into the program or loaded with LD_PRELOAD; see cosync/hook.hpp). These
   answer in every program that links cosync, with or without it. */
/* cosync_hook_active is 1 when libcosync-hook is loaded and the program's
   calls to libc's blocking functions reach it; 0 otherwise (not loaded,
   dropped at link time, a static binary, or another definition first). */
int cosync_hook_active(void);
/* cosync_hook_status is a one-line description of the hook library's state
   in this process, the reason included when it is not active. */
const char *cosync_hook_status(void);
/* The calling thread's counts of hooked calls (all zero without the hook
   library). */
typedef struct cosync_hook_stats {
  uint64_t calls;       /* hooked calls made from a coroutine on this thread */
  uint64_t suspensions; /* times such a call suspended its coroutine */
  uint64_t waiting;     /* this thread's coroutines suspended in a hooked call now */
  uint64_t would_block; /* attempts of such calls that the kernel answered EAGAIN */
} cosync_hook_stats;
/* cosync_hook_get_stats fills *out with the calling thread's counts. NULL
   does nothing. */
void cosync_hook_get_stats(cosync_hook_stats *out);

#ifdef __cplusplus
}
#endif

#endif
