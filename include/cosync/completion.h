/*
 * cosync's C completion header (R5): a small struct that a C code base puts
 * at the top of its own request structs, so that any coroutine, or the main
 * context, can wait for such a request with one call, and the code that
 * finishes it completes it with one call.
 *
 *   struct my_read_req {
 *     struct cosync_completion completion;   // first member
 *     int fd; char *buffer; size_t length;   // the request's own state
 *   };
 *
 *   waiter:    int result = cosync_completion_wait(&req->completion, deadline);
 *   completer: cosync_complete(&req->completion, bytes_read_or_negative_errno);
 *
 * Rules: the struct belongs to its owner, which keeps it alive until it is
 * complete and nobody waits on it. Everything happens on the thread of the
 * loop that runs the waiter. A waiting coroutine is resumed from the loop on
 * its next iteration, never on the completer's stack, so completing from a
 * timer, an fd callback or another coroutine returns at once.
 */
#ifndef COSYNC_COMPLETION_H
#define COSYNC_COMPLETION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Absolute time in nanoseconds on CLOCK_MONOTONIC; every wait takes one. */
typedef int64_t cosync_deadline;
/* A deadline that never passes. */
#define COSYNC_NO_DEADLINE INT64_MAX

/* The values of cosync_completion.state. */
enum cosync_completion_state {
  COSYNC_COMPLETION_PENDING = 0, /* not complete yet */
  COSYNC_COMPLETION_DONE = 1     /* cosync_complete was called; result is set */
};

/* struct cosync_completion: state, result code and one continuation (a
   function and its private data), called once by cosync_complete. While a
   wait is in progress the continuation slot is the waiter's. */
struct cosync_completion {
  int state;  /* enum cosync_completion_state */
  int result; /* what cosync_complete was given (0 or a negative errno, by convention) */
  /* called once by cosync_complete; NULL: none */
  void (*continuation)(struct cosync_completion *completion, void *data);
  void *data; /* the continuation's */
};

/* COSYNC_COMPLETION_INIT initialises a pending completion without a
   continuation. */
#define COSYNC_COMPLETION_INIT \
  { COSYNC_COMPLETION_PENDING, 0, 0, 0 }

/* cosync_completion_init makes `completion` pending, without a continuation.
   NULL does nothing. */
void cosync_completion_init(struct cosync_completion *completion);

/* cosync_complete records `result`, marks the completion done and calls its
   continuation, once. Completing a completion twice is refused (-EALREADY),
   and NULL (-EINVAL); returns 0 otherwise. */
int cosync_complete(struct cosync_completion *completion, int result);

/* cosync_completion_wait suspends the calling coroutine (or runs the loop,
   on the main context) until the completion is done, and returns its
   result. Returns -ETIMEDOUT at the deadline (the completion stays pending),
   -ECANCELED if the waiting coroutine's request was cancelled, -EBUSY if
   the completion already has a continuation (one waiter at a time),
   -EINVAL for NULL, and -EPERM on the main context inside one of the
   loop's callbacks (the wait would run the loop nested). A completion that
   is already done returns its result at once, anywhere. */
int cosync_completion_wait(struct cosync_completion *completion, cosync_deadline deadline);

#ifdef __cplusplus
}
#endif

#endif
