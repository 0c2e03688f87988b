/* Samba-style tevent code and synchronous code, calling each other through
   cosync's tevent glue (cosync/tevent.h), on one tevent loop.

   1. delayed_echo_send/_recv is an ordinary tevent request (a timer
      completes it). delayed_echo() is its synchronous wrapper, the usual
      send + poll + recv, with cosync_tevent_req_poll in place of
      tevent_req_poll: from main() it is a blocking call, and 1,000
      coroutines calling it at once take one delay, not 1,000.
   2. Callback code (a tevent callback) calls a synchronous function that
      makes three such calls in a row, through cosync_tevent_run_send: to
      the callback it is one more tevent_req. */
#include <cosync.h>
#include <cosync/tevent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <talloc.h>
#include <tevent.h>

enum { kDelayMs = 100, kCoroutines = 1000 };

/* ---- an ordinary tevent request ---- */

struct delayed_echo_state {
  int value;
};

static void delayed_echo_fire(struct tevent_context *ev, struct tevent_timer *timer,
                              struct timeval now, void *private_data) {
  struct tevent_req *req = private_data;
  (void)ev;
  (void)timer;
  (void)now;
  tevent_req_done(req);
}

static struct tevent_req *delayed_echo_send(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
                                            int value) {
  struct delayed_echo_state *state = NULL;
  struct tevent_req *req = tevent_req_create(mem_ctx, &state, struct delayed_echo_state);
  if (req == NULL) {
    return NULL;
  }
  state->value = value;
  /* The timer is the state's child: freeing the request removes it. */
  struct tevent_timer *timer = tevent_add_timer(
      ev, state, tevent_timeval_current_ofs(0, kDelayMs * 1000), delayed_echo_fire, req);
  if (tevent_req_nomem(timer, req)) {
    return tevent_req_post(req, ev);
  }
  return req;
}

static int delayed_echo_recv(struct tevent_req *req, int *value) {
  struct delayed_echo_state *state = tevent_req_data(req, struct delayed_echo_state);
  enum tevent_req_state req_state;
  uint64_t error = 0;
  if (tevent_req_is_error(req, &req_state, &error)) {
    tevent_req_received(req);
    return req_state == TEVENT_REQ_USER_ERROR ? -(int)error : -ENOMEM;
  }
  *value = state->value;
  tevent_req_received(req);
  return 0;
}

/* ---- its synchronous wrapper: the one changed call is the poll ---- */

static int delayed_echo(struct tevent_context *ev, int value, int *echoed) {
  TALLOC_CTX *frame = talloc_new(NULL);
  struct tevent_req *req = frame != NULL ? delayed_echo_send(frame, ev, value) : NULL;
  int ret = -ENOMEM;
  if (req != NULL) {
    ret = cosync_tevent_req_poll(req, ev) ? delayed_echo_recv(req, echoed) : -errno;
  }
  talloc_free(frame);
  return ret;
}

static double ms_since(cosync_deadline start) { return (double)(cosync_now() - start) / 1e6; }

/* ---- 1. the wrapper from main, then from 1,000 coroutines at once ---- */

struct caller {
  struct tevent_context *ev;
  int index;
  int echoed;
  int *finished;
};

static void *call_wrapper(void *arg) {
  struct caller *caller = arg;
  if (delayed_echo(caller->ev, caller->index, &caller->echoed) == 0) {
    ++*caller->finished;
  }
  return NULL;
}

static int run_concurrent_callers(struct tevent_context *ev) {
  struct caller *callers = calloc(kCoroutines, sizeof *callers);
  cosync_request **requests = calloc(kCoroutines, sizeof *requests);
  int finished = 0;
  if (callers == NULL || requests == NULL) {
    return 1;
  }
  const cosync_deadline start = cosync_now();
  for (int i = 0; i < kCoroutines; ++i) {
    callers[i] = (struct caller){ev, i, -1, &finished};
    if (cosync_spawn(&requests[i], NULL, call_wrapper, &callers[i]) != 0) {
      return 1;
    }
  }
  while (finished < kCoroutines) { /* the application's own loop */
    tevent_loop_once(ev);
  }
  int mismatches = 0;
  for (int i = 0; i < kCoroutines; ++i) {
    mismatches += callers[i].echoed != i;
    cosync_request_get(requests[i], NULL, COSYNC_NO_DEADLINE);
  }
  printf(
      "%d coroutines called delayed_echo() concurrently: %.1f ms "
      "(one after another: %d ms); %d wrong echoes\n",
      kCoroutines, ms_since(start), kCoroutines * kDelayMs, mismatches);
  free(requests);
  free(callers);
  return mismatches != 0;
}

/* ---- 2. callback code calling a synchronous function ---- */

struct sum_job {
  struct tevent_context *ev;
  int sum;
  cosync_deadline start;
  int done;
};

/* Plain synchronous code: three requests in a row; returns its job, or
   NULL when one failed. */
static void *sum_three_echoes(void *arg) {
  struct sum_job *job = arg;
  for (int value = 1; value <= 3; ++value) {
    int echoed = 0;
    if (delayed_echo(job->ev, value * 10, &echoed) != 0) {
      return NULL;
    }
    job->sum += echoed;
  }
  return job;
}

/* An ordinary tevent callback. */
static void sum_done(struct tevent_req *subreq) {
  struct sum_job *job = tevent_req_callback_data_void(subreq);
  void *result = NULL;
  const int ret = cosync_tevent_run_recv(subreq, &result);
  talloc_free(subreq);
  if (ret == 0 && result != NULL) {
    printf("callback code got sum_three_echoes() = %d as a tevent_req after %.1f ms\n", job->sum,
           ms_since(job->start));
  } else {
    printf("sum_three_echoes failed: %d\n", ret);
  }
  job->done = 1;
}

static int run_callback_caller(struct tevent_context *ev) {
  struct sum_job job = {ev, 0, cosync_now(), 0};
  struct tevent_req *subreq = cosync_tevent_run_send(ev, ev, sum_three_echoes, &job);
  if (subreq == NULL) {
    return 1;
  }
  tevent_req_set_callback(subreq, sum_done, &job);
  while (!job.done) {
    tevent_loop_once(ev);
  }
  return job.sum != 60;
}

int main(void) {
  struct tevent_context *ev = tevent_context_init(NULL);
  if (ev == NULL || cosync_tevent_attach(ev) != 0) {
    return EXIT_FAILURE;
  }
  int echoed = 0;
  const cosync_deadline start = cosync_now();
  const int ret = delayed_echo(ev, 42, &echoed);
  printf("main() called delayed_echo(42) synchronously: %d (ret %d) in %.1f ms\n", echoed, ret,
         ms_since(start));
  int failed = ret != 0;
  failed |= run_concurrent_callers(ev);
  failed |= run_callback_caller(ev);
  talloc_free(ev); /* detaches cosync too */
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
