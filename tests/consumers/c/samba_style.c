/* A Samba-style C program of an installed cosync, built through
   pkg-config (cosync-tevent-glue): an ordinary tevent request, its
   synchronous wrapper with cosync_tevent_req_poll in place of
   tevent_req_poll, called from main and from 100 coroutines at once. */
#include <cosync.h>
#include <cosync/tevent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <talloc.h>
#include <tevent.h>

enum { kCoroutines = 100, kDelayUs = 1000 };

struct echo_state {
  int value;
};

static void echo_fire(struct tevent_context *ev, struct tevent_timer *timer, struct timeval now,
                      void *private_data) {
  (void)ev;
  (void)timer;
  (void)now;
  tevent_req_done(private_data);
}

static struct tevent_req *echo_send(TALLOC_CTX *mem_ctx, struct tevent_context *ev, int value) {
  struct echo_state *state = NULL;
  struct tevent_req *req = tevent_req_create(mem_ctx, &state, struct echo_state);
  if (req == NULL) {
    return NULL;
  }
  state->value = value;
  struct tevent_timer *timer =
      tevent_add_timer(ev, state, tevent_timeval_current_ofs(0, kDelayUs), echo_fire, req);
  if (tevent_req_nomem(timer, req)) {
    return tevent_req_post(req, ev);
  }
  return req;
}

static int echo_recv(struct tevent_req *req, int *value) {
  struct echo_state *state = tevent_req_data(req, struct echo_state);
  if (tevent_req_is_in_progress(req)) {
    return -EINVAL;
  }
  *value = state->value;
  tevent_req_received(req);
  return 0;
}

/* The synchronous wrapper: send, poll, recv. */
static int echo_sync(struct tevent_context *ev, int value, int *echoed) {
  TALLOC_CTX *frame = talloc_new(NULL);
  struct tevent_req *req = frame != NULL ? echo_send(frame, ev, value) : NULL;
  int ret = -ENOMEM;
  if (req != NULL) {
    ret = cosync_tevent_req_poll(req, ev) ? echo_recv(req, echoed) : -errno;
  }
  talloc_free(frame);
  return ret;
}

struct caller {
  struct tevent_context *ev;
  int value;
  int echoed;
};

static void *call_echo_sync(void *arg) {
  struct caller *caller = arg;
  return echo_sync(caller->ev, caller->value, &caller->echoed) == 0 ? caller : NULL;
}

int main(void) {
  if (strcmp(cosync_version(), COSYNC_VERSION_STRING) != 0) {
    printf("library %s, headers %s\n", cosync_version(), COSYNC_VERSION_STRING);
    return 1;
  }
  struct tevent_context *ev = tevent_context_init(NULL);
  if (ev == NULL || cosync_tevent_attach(ev) != 0) {
    return 1;
  }
  int echoed = 0;
  int failed = echo_sync(ev, 7, &echoed) != 0 || echoed != 7;

  struct caller callers[kCoroutines];
  cosync_request *requests[kCoroutines];
  for (int i = 0; i < kCoroutines; ++i) {
    callers[i] = (struct caller){ev, i, -1};
    if (cosync_spawn(&requests[i], NULL, call_echo_sync, &callers[i]) != 0) {
      return 1;
    }
  }
  for (int i = 0; i < kCoroutines; ++i) {
    while (!cosync_request_done(requests[i])) {
      tevent_loop_once(ev);
    }
    void *result = NULL; /* cosync_request_get frees the request */
    failed |= cosync_request_get(requests[i], &result, COSYNC_NO_DEADLINE) != 0 ||
              result != &callers[i] || callers[i].echoed != i;
  }
  talloc_free(ev);
  printf("samba-style C consumer (cosync %s): %s\n", cosync_version(), failed ? "FAILED" : "ok");
  return failed;
}
