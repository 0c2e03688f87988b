/* The tevent glue from C (C11, -pedantic) against the real libtevent:
   cosync_tevent_req_poll in a coroutine and outside one, errors and
   endtimes both ways, 1,000 concurrent wrappers, cosync_tevent_run_send /
   _recv, cancellation and freeing while running, and the wrong-loop error.
   Each case is a C_TEST; `tevent_glue_test <case>` runs one, as its own
   ctest. Every case frees its talloc root and checks that talloc tracks no
   more blocks than before it (ASan's leak check covers the rest). */
#include <cosync.h>
#include <cosync/tevent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <tevent.h>

#include "../c_check.h"
#include "samba_style.h"

#define US_PER_MS 1000u

void *throwing_body(void *arg); /* throwing_body.cpp */

/* ---- fixture: a talloc root, a tevent context on it, attached ---- */

struct fixture {
  TALLOC_CTX *root;
  struct tevent_context *ev;
  size_t blocks_before;
};

static struct fixture fixture_begin(int attach) {
  struct fixture f;
  f.blocks_before = talloc_total_blocks(NULL);
  f.root = talloc_new(NULL);
  f.ev = tevent_context_init(f.root);
  CHECK(f.ev != NULL);
  if (attach) {
    CHECK(cosync_tevent_attach(f.ev) == 0);
  }
  return f;
}

/* Freeing the root frees ev, which detaches cosync from it. */
static void fixture_end(struct fixture *f) {
  talloc_free(f->root);
  CHECK(talloc_total_blocks(NULL) == f->blocks_before);
}

/* The application's own loop: tevent_loop_once until the request is done. */
static void drive_until_done(struct tevent_context *ev, cosync_request *request) {
  while (!cosync_request_done(request)) {
    CHECK(tevent_loop_once(ev) == 0);
  }
}

static void *get(cosync_request *request) {
  void *result = NULL;
  CHECK(cosync_request_get(request, &result, COSYNC_NO_DEADLINE) == 0);
  return result;
}

/* What a coroutine calling the synchronous wrapper needs. */
struct echo_call {
  struct tevent_context *ev;
  TALLOC_CTX *mem_ctx;
  int value;
  uint32_t delay_us;
  uint32_t timeout_us;
  int echoed;
  int ret;
  int in_coroutine;
};

/* How many wrappers are inside delayed_echo at once, and the most so far:
   the proof that waits overlap, which no clock reading on a loaded machine
   can give. */
static int echoes_in_flight = 0;
static int most_echoes_in_flight = 0;

static void *call_delayed_echo(void *arg) {
  struct echo_call *call = arg;
  call->in_coroutine = cosync_in_coroutine();
  if (++echoes_in_flight > most_echoes_in_flight) {
    most_echoes_in_flight = echoes_in_flight;
  }
  call->ret = delayed_echo(call->mem_ctx, call->ev, call->value, call->delay_us, call->timeout_us,
                           &call->echoed);
  --echoes_in_flight;
  return call;
}

static struct echo_call echo_call_of(struct fixture *f, int value, uint32_t delay_us,
                                     uint32_t timeout_us) {
  struct echo_call call = {f->ev, f->root, value, delay_us, timeout_us, -1, 1, -1};
  return call;
}

/* Runs ev until the coroutine making `call` has started: it then waits in
   the wrapper's poll (one more iteration would sleep until the request's
   timer). */
static void drive_until_waiting(struct tevent_context *ev, const struct echo_call *call) {
  while (call->in_coroutine != 1) {
    CHECK(tevent_loop_once(ev) == 0);
  }
}

/* Runs the wrapper in a coroutine, the tevent loop driven by the test. */
static void run_in_coroutine(struct fixture *f, struct echo_call *call) {
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, call_delayed_echo, call) == 0);
  drive_until_done(f->ev, request);
  CHECK(get(request) == call);
  CHECK(call->in_coroutine == 1);
}

/* ---- direction 1: cosync_tevent_req_poll ---- */

C_TEST(poll_outside_coroutine) {
  for (int attach = 0; attach <= 1; ++attach) {
    struct fixture f = fixture_begin(attach);
    int echoed = -1;
    CHECK(delayed_echo(f.root, f.ev, 42, 2 * US_PER_MS, 0, &echoed) == 0);
    CHECK(echoed == 42);
    fixture_end(&f);
  }
}

C_TEST(poll_in_coroutine) {
  struct fixture f = fixture_begin(1);
  struct echo_call call = echo_call_of(&f, 7, 5 * US_PER_MS, 0);
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, call_delayed_echo, &call) == 0);
  /* The coroutine is suspended in the wrapper while tevent runs here. */
  int iterations = 0;
  while (!cosync_request_done(request)) {
    CHECK(tevent_loop_once(f.ev) == 0);
    ++iterations;
  }
  CHECK(iterations >= 2);
  CHECK(get(request) == &call);
  CHECK(call.in_coroutine == 1);
  CHECK(call.ret == 0 && call.echoed == 7);
  fixture_end(&f);
}

C_TEST(error_both_ways) {
  struct fixture f = fixture_begin(1);
  int echoed = -1;
  CHECK(delayed_echo(f.root, f.ev, -EPERM, 2 * US_PER_MS, 0, &echoed) == -EPERM);
  struct echo_call call = echo_call_of(&f, -ENOSPC, 2 * US_PER_MS, 0);
  run_in_coroutine(&f, &call);
  CHECK(call.ret == -ENOSPC);
  fixture_end(&f);
}

C_TEST(endtime_both_ways) {
  struct fixture f = fixture_begin(1);
  int echoed = -1;
  /* -ETIMEDOUT, not the echo: the 10 ms endtime ended the 2 s request. */
  CHECK(delayed_echo(f.root, f.ev, 1, 2000 * US_PER_MS, 10 * US_PER_MS, &echoed) == -ETIMEDOUT);
  CHECK(echoed == -1);
  struct echo_call call = echo_call_of(&f, 1, 2000 * US_PER_MS, 10 * US_PER_MS);
  run_in_coroutine(&f, &call);
  CHECK(call.ret == -ETIMEDOUT);
  CHECK(call.echoed == -1);
  fixture_end(&f);
}

/* A tevent immediate scheduled before the poll: it runs only if the poll
   let the loop run. */
static void set_flag(struct tevent_context *ev, struct tevent_immediate *im, void *data) {
  (void)ev;
  (void)im;
  *(int *)data = 1;
}

struct done_call {
  struct tevent_context *ev;
  TALLOC_CTX *mem_ctx;
  int loop_ran;
  int polled;
  int echoed;
};

static void *poll_done_request(void *arg) {
  struct done_call *call = arg;
  struct tevent_req *req = delayed_echo_send(call->mem_ctx, call->ev, 5, 0);
  struct tevent_immediate *im = tevent_create_immediate(call->mem_ctx);
  tevent_schedule_immediate(im, call->ev, set_flag, &call->loop_ran);
  call->polled = cosync_tevent_req_poll(req, call->ev);
  CHECK(call->loop_ran == 0); /* returned at once */
  CHECK(delayed_echo_recv(req, &call->echoed) == 0);
  talloc_free(req);
  talloc_free(im);
  return NULL;
}

C_TEST(already_done) {
  struct fixture f = fixture_begin(1);
  struct done_call call = {f.ev, f.root, 0, 0, -1};
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, poll_done_request, &call) == 0);
  drive_until_done(f.ev, request);
  get(request);
  CHECK(call.polled == 1 && call.echoed == 5);
  fixture_end(&f);
}

enum { kConcurrent = 1000 };

C_TEST(thousand_concurrent) {
  struct fixture f = fixture_begin(1);
  struct echo_call *calls = talloc_array(f.root, struct echo_call, kConcurrent);
  cosync_request **requests = talloc_array(f.root, cosync_request *, kConcurrent);
  const uint32_t delay_us = 50 * US_PER_MS;
  most_echoes_in_flight = 0;
  for (int i = 0; i < kConcurrent; ++i) {
    calls[i] = echo_call_of(&f, i, delay_us, 0);
    CHECK(cosync_spawn(&requests[i], NULL, call_delayed_echo, &calls[i]) == 0);
  }
  for (int i = 0; i < kConcurrent; ++i) {
    drive_until_done(f.ev, requests[i]);
    get(requests[i]);
    CHECK(calls[i].ret == 0 && calls[i].echoed == i);
  }
  /* Every wrapper was waiting at the same time: one delay, not 1,000. */
  CHECK(most_echoes_in_flight == kConcurrent);
  CHECK(echoes_in_flight == 0);
  fixture_end(&f);
}

/* The cosync request of a coroutine polling is cancelled: the poll fails
   with ECANCELED, the wrapper returns and frees its request. */
C_TEST(cancel_while_polling) {
  struct fixture f = fixture_begin(1);
  struct echo_call call = echo_call_of(&f, 3, 2000 * US_PER_MS, 0);
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, call_delayed_echo, &call) == 0);
  drive_until_waiting(f.ev, &call);
  cosync_request_cancel(request);
  drive_until_done(f.ev, request);
  cosync_request_free(request);
  CHECK(call.ret == -ECANCELED);
  fixture_end(&f);
}

struct freed_call {
  struct tevent_context *ev;
  struct tevent_req *req;
  int polled;
  int error;
};

static void *poll_until_freed(void *arg) {
  struct freed_call *call = arg;
  call->polled = cosync_tevent_req_poll(call->req, call->ev);
  call->error = errno;
  return NULL;
}

static void free_request(struct tevent_context *ev, struct tevent_timer *timer, struct timeval now,
                         void *data) {
  (void)ev;
  (void)timer;
  (void)now;
  talloc_free(data);
}

/* The request is freed under a coroutine polling it. */
C_TEST(request_freed_while_polling) {
  struct fixture f = fixture_begin(1);
  TALLOC_CTX *owner = talloc_new(f.root);
  struct freed_call call = {f.ev, delayed_echo_send(owner, f.ev, 1, 2000 * US_PER_MS), 1, 0};
  tevent_add_timer(f.ev, f.root, delay_from_now(2 * US_PER_MS), free_request, owner);
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, poll_until_freed, &call) == 0);
  drive_until_done(f.ev, request);
  get(request);
  CHECK(call.polled == 0 && call.error == ECANCELED);
  fixture_end(&f);
}

/* A coroutine on a thread whose loop is not ev cannot wait for ev. */
C_TEST(wrong_loop) {
  struct fixture f = fixture_begin(0);
  TALLOC_CTX *owner = talloc_new(f.root);
  struct freed_call call = {f.ev, delayed_echo_send(owner, f.ev, 1, 2000 * US_PER_MS), 1, 0};
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, poll_until_freed, &call) == 0);
  get(request); /* on the built-in loop */
  CHECK(call.polled == 0 && call.error == EINVAL);

  struct tevent_context *other = tevent_context_init(f.root);
  CHECK(cosync_tevent_attach(other) == 0);
  call.polled = 1;
  CHECK(cosync_spawn(&request, NULL, poll_until_freed, &call) == 0);
  get(request); /* on other's loop */
  CHECK(call.polled == 0 && call.error == EINVAL);

  struct tevent_req *run = cosync_tevent_run_send(f.root, f.ev, call_delayed_echo, NULL);
  CHECK(tevent_req_poll(run, f.ev));
  CHECK(cosync_tevent_run_recv(run, NULL) == -EINVAL);
  fixture_end(&f);
}

C_TEST(attach_detach) {
  struct fixture f = fixture_begin(1);
  struct tevent_context *other = tevent_context_init(f.root);
  CHECK(cosync_tevent_attach(f.ev) == 0);
  CHECK(cosync_tevent_attach(other) == -EBUSY);
  CHECK(cosync_tevent_detach(other) == -ENOENT);
  CHECK(cosync_tevent_detach(f.ev) == 0);
  CHECK(cosync_tevent_detach(f.ev) == -ENOENT);
  CHECK(cosync_tevent_attach(other) == 0);
  /* Freeing the attached context with a coroutine suspended in it: the
     coroutine is cancelled and its wrapper returns. */
  struct fixture g = {f.root, other, 0};
  struct echo_call call = echo_call_of(&g, 1, 2000 * US_PER_MS, 0);
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, call_delayed_echo, &call) == 0);
  drive_until_waiting(other, &call);
  talloc_free(other);
  CHECK(cosync_request_done(request) == 1);
  cosync_request_free(request);
  CHECK(call.ret == -ECANCELED);
  CHECK(cosync_tevent_attach(f.ev) == 0);
  fixture_end(&f);
}

/* ---- direction 2: cosync_tevent_run_send / _recv ---- */

struct run_done {
  int calls;
  int ret;
  void *result;
};

/* Callback-style code: the usual tevent callback, receiving the result. */
static void on_run_done(struct tevent_req *req) {
  struct run_done *done = tevent_req_callback_data_void(req);
  ++done->calls;
  done->ret = cosync_tevent_run_recv(req, &done->result);
  talloc_free(req);
}

static void drive_until_called(struct tevent_context *ev, const struct run_done *done) {
  while (done->calls == 0) {
    CHECK(tevent_loop_once(ev) == 0);
  }
}

C_TEST(run_success) {
  struct fixture f = fixture_begin(1);
  struct echo_call call = echo_call_of(&f, 11, 2 * US_PER_MS, 0);
  struct run_done done = {0, 1, NULL};
  struct tevent_req *req = cosync_tevent_run_send(f.root, f.ev, call_delayed_echo, &call);
  CHECK(req != NULL);
  tevent_req_set_callback(req, on_run_done, &done);
  drive_until_called(f.ev, &done);
  CHECK(done.calls == 1 && done.ret == 0 && done.result == &call);
  CHECK(call.in_coroutine == 1 && call.ret == 0 && call.echoed == 11);
  fixture_end(&f);
}

C_TEST(run_error) {
  struct fixture f = fixture_begin(1);
  struct run_done done = {0, 1, NULL};
  struct tevent_req *req = cosync_tevent_run_send(f.root, f.ev, throwing_body, NULL);
  tevent_req_set_callback(req, on_run_done, &done);
  drive_until_called(f.ev, &done);
  CHECK(done.ret == -EIO && done.result == NULL);

  /* tevent_req_set_endtime on the run request: fn is unwound. */
  struct echo_call call = echo_call_of(&f, 1, 2000 * US_PER_MS, 0);
  done.calls = 0;
  req = cosync_tevent_run_send(f.root, f.ev, call_delayed_echo, &call);
  CHECK(tevent_req_set_endtime(req, f.ev, delay_from_now(5 * US_PER_MS)));
  tevent_req_set_callback(req, on_run_done, &done);
  drive_until_called(f.ev, &done);
  CHECK(done.ret == -ETIMEDOUT);
  CHECK(call.ret == 1); /* the wrapper never returned */
  fixture_end(&f);
}

/* A body that polls a request of its owner's, and shows it to the test. */
struct inner_call {
  struct tevent_context *ev;
  TALLOC_CTX *owner;
  struct tevent_req *inner;
  int polled;
};

static void *poll_owned_request(void *arg) {
  struct inner_call *call = arg;
  call->inner = delayed_echo_send(call->owner, call->ev, 1, 20 * US_PER_MS);
  call->polled = cosync_tevent_req_poll(call->inner, call->ev);
  return NULL;
}

static void drive_until_polling(struct tevent_context *ev, const struct inner_call *call) {
  while (call->inner == NULL) {
    CHECK(tevent_loop_once(ev) == 0);
  }
}

/* talloc_free of the request while fn waits: fn's stack is unwound at
   once, the inner request's callback is cleared (its timer firing later
   must not reach the dead stack), and its memory goes with the owner. */
C_TEST(run_freed_while_running) {
  struct fixture f = fixture_begin(1);
  struct inner_call call = {f.ev, talloc_new(f.root), NULL, -1};
  struct tevent_req *req = cosync_tevent_run_send(f.root, f.ev, poll_owned_request, &call);
  drive_until_polling(f.ev, &call);
  CHECK(tevent_req_callback_data_void(call.inner) != NULL);
  talloc_free(req);
  CHECK(tevent_req_callback_data_void(call.inner) == NULL);
  CHECK(tevent_req_poll(call.inner, f.ev)); /* its timer fires, nobody is called */
  CHECK(call.polled == -1);                 /* the poll never returned */
  talloc_free(call.owner);
  fixture_end(&f);
}

/* tevent_req_cancel: fn is unwound, the callback comes from the loop. */
C_TEST(run_cancel) {
  struct fixture f = fixture_begin(1);
  struct inner_call call = {f.ev, talloc_new(f.root), NULL, -1};
  struct run_done done = {0, 1, NULL};
  struct tevent_req *req = cosync_tevent_run_send(f.root, f.ev, poll_owned_request, &call);
  tevent_req_set_callback(req, on_run_done, &done);
  drive_until_polling(f.ev, &call);
  CHECK(tevent_req_cancel(req));
  CHECK(done.calls == 0); /* deferred */
  CHECK(tevent_req_callback_data_void(call.inner) == NULL);
  drive_until_called(f.ev, &done);
  CHECK(done.ret == -ECANCELED);
  CHECK(call.polled == -1); /* the poll never returned */
  talloc_free(call.owner);
  fixture_end(&f);
}

/* Callback code composing a request from a synchronous function: the
   Samba pattern of a subreq whose _done callback finishes the caller. */
struct compute_state {
  struct echo_call call;
  int value;
};

static void compute_done(struct tevent_req *subreq) {
  struct tevent_req *req = tevent_req_callback_data(subreq, struct tevent_req);
  struct compute_state *state = tevent_req_data(req, struct compute_state);
  void *result = NULL;
  const int ret = cosync_tevent_run_recv(subreq, &result);
  talloc_free(subreq);
  if (ret != 0) {
    tevent_req_error(req, (uint64_t)-ret);
    return;
  }
  state->value = ((struct echo_call *)result)->echoed * 2;
  tevent_req_done(req);
}

static struct tevent_req *compute_send(TALLOC_CTX *mem_ctx, struct tevent_context *ev, int value) {
  struct compute_state *state = NULL;
  struct tevent_req *req = tevent_req_create(mem_ctx, &state, struct compute_state);
  if (req == NULL) {
    return NULL;
  }
  state->call = (struct echo_call){ev, state, value, 2 * US_PER_MS, 0, -1, 1, -1};
  struct tevent_req *subreq = cosync_tevent_run_send(state, ev, call_delayed_echo, &state->call);
  if (tevent_req_nomem(subreq, req)) {
    return tevent_req_post(req, ev);
  }
  tevent_req_set_callback(subreq, compute_done, req);
  return req;
}

C_TEST(callback_waits_on_run) {
  struct fixture f = fixture_begin(1);
  struct tevent_req *req = compute_send(f.root, f.ev, 21);
  CHECK(tevent_req_poll(req, f.ev)); /* plain tevent */
  CHECK(tevent_req_is_error(req, &(enum tevent_req_state){0}, &(uint64_t){0}) == 0);
  const struct compute_state *state = tevent_req_data(req, struct compute_state);
  CHECK(state->value == 42);
  talloc_free(req);
  fixture_end(&f);
}

/* tevent registers its backends in talloc's null context on the first
   tevent_context_init, once per process: not a leak of any case. */
static void register_tevent_backends(void) {
  TALLOC_CTX *scratch = talloc_new(NULL);
  CHECK(tevent_context_init(scratch) != NULL);
  talloc_free(scratch);
}

int main(int argc, char **argv) {
  talloc_enable_null_tracking();
  register_tevent_backends();
  return c_check_main(argc, argv);
}
