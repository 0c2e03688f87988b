/* A Samba-style asynchronous request for the tevent glue's tests:
   delayed_echo_send/_recv hands back its value from a tevent timer (or
   fails with tevent_req_error when the value is a negative errno), and
   delayed_echo is its synchronous wrapper, send + poll + recv, with the
   one call cosync_tevent_req_poll in place of tevent_req_poll. */
#ifndef COSYNC_TESTS_SAMBA_STYLE_H
#define COSYNC_TESTS_SAMBA_STYLE_H

#include <cosync/tevent.h>
#include <errno.h>
#include <stdint.h>
#include <talloc.h>
#include <tevent.h>

struct delayed_echo_state {
  int value;
};

/* tevent takes a delay as seconds and microseconds below one second. */
static inline struct timeval delay_from_now(uint32_t delay_us) {
  return tevent_timeval_current_ofs(delay_us / 1000000u, delay_us % 1000000u);
}

static inline void delayed_echo_fire(struct tevent_context *ev, struct tevent_timer *timer,
                                     struct timeval now, void *private_data) {
  struct tevent_req *req = private_data;
  struct delayed_echo_state *state = tevent_req_data(req, struct delayed_echo_state);
  (void)ev;
  (void)timer;
  (void)now;
  if (state->value < 0) {
    tevent_req_error(req, (uint64_t)-state->value);
    return;
  }
  tevent_req_done(req);
}

/* A zero delay completes inside _send, posted as tevent's rules want. */
static inline struct tevent_req *delayed_echo_send(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
                                                   int value, uint32_t delay_us) {
  struct delayed_echo_state *state = NULL;
  struct tevent_req *req = tevent_req_create(mem_ctx, &state, struct delayed_echo_state);
  if (req == NULL) {
    return NULL;
  }
  state->value = value;
  if (delay_us == 0) {
    tevent_req_done(req);
    return tevent_req_post(req, ev);
  }
  /* The timer belongs to the state: freeing the request removes it. */
  struct tevent_timer *timer =
      tevent_add_timer(ev, state, delay_from_now(delay_us), delayed_echo_fire, req);
  if (tevent_req_nomem(timer, req)) {
    return tevent_req_post(req, ev);
  }
  return req;
}

/* 0 and the value, or a negative errno (-ETIMEDOUT after the endtime). */
static inline int delayed_echo_recv(struct tevent_req *req, int *value) {
  struct delayed_echo_state *state = tevent_req_data(req, struct delayed_echo_state);
  enum tevent_req_state req_state;
  uint64_t error = 0;
  int ret = 0;
  if (tevent_req_is_error(req, &req_state, &error)) {
    ret = req_state == TEVENT_REQ_USER_ERROR  ? -(int)error
          : req_state == TEVENT_REQ_TIMED_OUT ? -ETIMEDOUT
                                              : -ENOMEM;
  } else {
    *value = state->value;
  }
  tevent_req_received(req);
  return ret;
}

/* The synchronous wrapper. `timeout_us` (0: none) becomes the request's
   endtime. Its allocations hang off mem_ctx: if the coroutine running it
   is unwound, the caller's context still frees them. */
static inline int delayed_echo(TALLOC_CTX *mem_ctx, struct tevent_context *ev, int value,
                               uint32_t delay_us, uint32_t timeout_us, int *echoed) {
  TALLOC_CTX *frame = talloc_new(mem_ctx);
  int ret = -ENOMEM;
  struct tevent_req *req = frame != NULL ? delayed_echo_send(frame, ev, value, delay_us) : NULL;
  if (req == NULL) {
    goto done;
  }
  if (timeout_us != 0 && !tevent_req_set_endtime(req, ev, delay_from_now(timeout_us))) {
    goto done;
  }
  if (!cosync_tevent_req_poll(req, ev)) {
    ret = -errno;
    goto done;
  }
  ret = delayed_echo_recv(req, echoed);
done:
  talloc_free(frame);
  return ret;
}

#endif
