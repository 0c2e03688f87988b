/* The C API from C (C11, -pedantic): every call in cosync.h and the
   completion header, with a hand-written request type completed by a timer
   callback, by another coroutine and by an fd callback. Each case is a
   C_TEST; `capi_test <case>` runs one, as its own ctest. */
#include <cosync.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../c_check.h"

/* ---- plain coroutines ---- */

static void *count_yields(void *arg) {
  int *counter = arg;
  for (int i = 0; i < 3; ++i) {
    ++*counter;
    CHECK(cosync_yield() == 0);
  }
  return counter;
}

C_TEST(create_resume_join) {
  int counter = 0;
  cosync_task *task = NULL;
  CHECK(cosync_create(&task, NULL, count_yields, &counter) == 0);
  CHECK(cosync_task_done(task) == 0);
  CHECK(cosync_resume(task) == 0);
  CHECK(counter == 1);
  void *result = NULL;
  CHECK(cosync_join(task, &result) == 0);
  CHECK(result == &counter);
  CHECK(counter == 3);
}

static void *describe_self(void *arg) {
  cosync_coroutine *self = cosync_current();
  CHECK(cosync_in_coroutine() == 1);
  CHECK(self != cosync_main());
  CHECK(strcmp(cosync_name(self), "worker") == 0);
  CHECK(cosync_user_data(self) == arg);
  cosync_set_user_data(self, NULL);
  cosync_set_name(self, "renamed");
  CHECK(cosync_yield_to_main() == 0);
  return NULL;
}

C_TEST(names_user_data_options) {
  int marker = 0;
  cosync_options options = COSYNC_OPTIONS_INIT;
  options.stack_size = 64 * 1024;
  options.name = "worker";
  options.user_data = &marker;
  cosync_task *task = NULL;
  CHECK(cosync_create(&task, &options, describe_self, &marker) == 0);
  cosync_coroutine *coroutine = cosync_task_coroutine(task);
  CHECK(cosync_id(coroutine) != cosync_id(cosync_main()));
  CHECK(cosync_resume(task) == 0);
  CHECK(strcmp(cosync_name(coroutine), "renamed") == 0);
  CHECK(cosync_user_data(coroutine) == NULL);
  CHECK(cosync_join(task, NULL) == 0);
  CHECK(cosync_current() == cosync_main());
  CHECK(strcmp(cosync_name(cosync_main()), "main") == 0);
  CHECK(cosync_in_coroutine() == 0);
}

C_TEST(errors) {
  cosync_options options = COSYNC_OPTIONS_INIT;
  options.stack_size = 1; /* below cosync's minimum */
  cosync_task *task = NULL;
  CHECK(cosync_create(&task, &options, count_yields, NULL) == -EINVAL);
  CHECK(cosync_yield() == -EPERM);
  CHECK(cosync_yield_to_main() == -EPERM);
  int counter = 0;
  CHECK(cosync_create(&task, NULL, count_yields, &counter) == 0);
  CHECK(cosync_resume(task) == 0);
  cosync_task_free(task); /* suspended: unwound and freed */
  CHECK(cosync_wait_fd(-1, COSYNC_READABLE, cosync_deadline_after(MS)) < 0);
}

/* ---- time, sleeping, the loop ---- */

static void *sleeper(void *arg) {
  int64_t *woke_at = arg;
  CHECK(cosync_sleep_until(cosync_deadline_after(5 * MS)) == 0);
  *woke_at = cosync_now();
  return arg;
}

C_TEST(spawn_sleep_get) {
  int64_t woke_at = 0;
  const int64_t start = cosync_now();
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, sleeper, &woke_at) == 0);
  CHECK(cosync_request_done(request) == 0);
  void *result = NULL;
  CHECK(cosync_request_get(request, &result, COSYNC_NO_DEADLINE) == 0);
  CHECK(result == &woke_at);
  CHECK(woke_at - start >= 5 * MS);
  CHECK(cosync_deadline_after(-1) < cosync_now());
  CHECK(cosync_deadline_after(INT64_MAX) == COSYNC_NO_DEADLINE);
}

static void *forever(void *arg) {
  (void)arg;
  return (void *)(intptr_t)cosync_sleep_until(COSYNC_NO_DEADLINE);
}

C_TEST(timeout_and_cancel) {
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, forever, NULL) == 0);
  CHECK(cosync_request_wait(request, cosync_deadline_after(2 * MS)) == -ETIMEDOUT);
  CHECK(cosync_request_get(request, NULL, cosync_deadline_after(MS)) == -ETIMEDOUT);
  cosync_request_cancel(request);
  void *result = NULL;
  int status = cosync_request_get(request, &result, COSYNC_NO_DEADLINE);
  /* The body saw -ECANCELED from its sleep and returned it as its value,
     but a cancelled request ends cancelled whatever its body returns. */
  CHECK(status == -ECANCELED && result == NULL);
}

static void *returns_arg(void *arg) {
  const int64_t units = (int64_t)(intptr_t)arg;
  CHECK(cosync_sleep_until(cosync_deadline_after(units * units * 40 * MS)) == 0);
  return arg;
}

C_TEST(wait_all_any) {
  cosync_request *requests[3];
  /* Sleeps of 360, 160 and 40 ms: far enough apart that the last one is
     the first done even on a loaded machine. */
  for (int i = 0; i < 3; ++i) {
    CHECK(cosync_spawn(&requests[i], NULL, returns_arg, (void *)(intptr_t)(3 - i)) == 0);
  }
  CHECK(cosync_wait_any(requests, 3, COSYNC_NO_DEADLINE) == 2);
  CHECK(cosync_wait_all(requests, 3, COSYNC_NO_DEADLINE) == 0);
  for (int i = 0; i < 3; ++i) {
    void *result = NULL;
    CHECK(cosync_request_get(requests[i], &result, COSYNC_NO_DEADLINE) == 0);
    CHECK((intptr_t)result == 3 - i);
  }
  cosync_request *slow = NULL;
  CHECK(cosync_spawn(&slow, NULL, forever, NULL) == 0);
  CHECK(cosync_wait_any(&slow, 1, cosync_deadline_after(MS)) == -ETIMEDOUT);
  CHECK(cosync_wait_all(&slow, 1, cosync_deadline_after(MS)) == -ETIMEDOUT);
  cosync_request_cancel(slow);
  CHECK(cosync_request_wait(slow, COSYNC_NO_DEADLINE) == 0);
  cosync_request_free(slow);
}

static void stop_loop(void *data) { cosync_loop_stop(data); }

static int flag_set(void *data) { return *(int *)data; }

static void set_flag(void *data) { *(int *)data = 1; }

C_TEST(loop_driving) {
  cosync_loop *loop = cosync_this_loop();
  CHECK(cosync_call_at(loop, cosync_deadline_after(MS), stop_loop, loop) == 0);
  CHECK(cosync_loop_run(loop) == 0);
  int flag = 0;
  CHECK(cosync_call_at(loop, cosync_deadline_after(MS), set_flag, &flag) == 0);
  CHECK(cosync_loop_run_until(loop, flag_set, &flag, COSYNC_NO_DEADLINE) == 0);
  int never = 0;
  CHECK(cosync_loop_run_until(loop, flag_set, &never, cosync_deadline_after(MS)) == -ETIMEDOUT);
  CHECK(cosync_loop_run_once(loop, cosync_deadline_after(MS)) == 0);
}

/* ---- fds ---- */

static void *reads_pipe(void *arg) {
  int fd = *(int *)arg;
  CHECK(cosync_wait_fd(fd, COSYNC_READABLE, cosync_deadline_after(MS)) == -ETIMEDOUT);
  CHECK(cosync_wait_fd(fd, COSYNC_READABLE, COSYNC_NO_DEADLINE) == 0);
  char byte = 0;
  CHECK(read(fd, &byte, 1) == 1);
  return (void *)(intptr_t)byte;
}

static void write_byte(void *data) {
  int fd = *(int *)data;
  CHECK(write(fd, "x", 1) == 1);
}

C_TEST(wait_fd) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, reads_pipe, &fds[0]) == 0);
  CHECK(cosync_call_at(cosync_this_loop(), cosync_deadline_after(5 * MS), write_byte, &fds[1]) ==
        0);
  void *result = NULL;
  CHECK(cosync_request_get(request, &result, COSYNC_NO_DEADLINE) == 0);
  CHECK((intptr_t)result == 'x');
  cosync_loop_forget_fd(cosync_this_loop(), fds[0]);
  close(fds[0]);
  close(fds[1]);
}

/* ---- the completion header, with a hand-written request type ---- */

/* A request as a C code base would write it: the completion first, then
   its own state. */
struct add_request {
  struct cosync_completion completion;
  int a;
  int b;
  int sum;
  int fd;
};

static void add_on_timer(void *data) {
  struct add_request *req = data;
  req->sum = req->a + req->b;
  CHECK(cosync_complete(&req->completion, 0) == 0);
}

static void *waits_for_timer_request(void *arg) {
  struct add_request *req = arg;
  CHECK(cosync_call_at(cosync_this_loop(), cosync_deadline_after(MS), add_on_timer, req) == 0);
  CHECK(cosync_completion_wait(&req->completion, COSYNC_NO_DEADLINE) == 0);
  return (void *)(intptr_t)req->sum;
}

C_TEST(completion_by_timer) {
  struct add_request req = {COSYNC_COMPLETION_INIT, 2, 3, 0, -1};
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, waits_for_timer_request, &req) == 0);
  void *result = NULL;
  CHECK(cosync_request_get(request, &result, COSYNC_NO_DEADLINE) == 0);
  CHECK((intptr_t)result == 5);
  CHECK(req.completion.state == COSYNC_COMPLETION_DONE);
  CHECK(cosync_complete(&req.completion, 0) == -EALREADY);
  CHECK(cosync_completion_wait(&req.completion, COSYNC_NO_DEADLINE) == 0);
}

static int completer_returned;

static void *completes_other(void *arg) {
  struct add_request *req = arg;
  req->sum = req->a * req->b;
  CHECK(cosync_complete(&req->completion, -EPIPE) == 0);
  /* The waiter is resumed by the loop later, not inside cosync_complete. */
  completer_returned = 1;
  return NULL;
}

static void *waits_for_coroutine_request(void *arg) {
  struct add_request *req = arg;
  cosync_request *completer = NULL;
  CHECK(cosync_spawn(&completer, NULL, completes_other, req) == 0);
  CHECK(cosync_completion_wait(&req->completion, COSYNC_NO_DEADLINE) == -EPIPE);
  CHECK(completer_returned == 1);
  CHECK(cosync_request_get(completer, NULL, COSYNC_NO_DEADLINE) == 0);
  return NULL;
}

C_TEST(completion_by_coroutine) {
  struct add_request req;
  cosync_completion_init(&req.completion);
  req.a = 6;
  req.b = 7;
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, waits_for_coroutine_request, &req) == 0);
  CHECK(cosync_request_get(request, NULL, COSYNC_NO_DEADLINE) == 0);
  CHECK(req.sum == 42);
}

static void complete_on_readable(void *data, int status) {
  struct add_request *req = data;
  char byte = 0;
  CHECK(status == 0);
  CHECK(read(req->fd, &byte, 1) == 1);
  req->sum = byte;
  cosync_complete(&req->completion, 0);
}

static int log_continuation_calls;

static void log_continuation(struct cosync_completion *completion, void *data) {
  (void)completion;
  (void)data;
  ++log_continuation_calls;
}

C_TEST(completion_by_fd_callback_on_main) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  struct add_request req = {COSYNC_COMPLETION_INIT, 0, 0, 0, fds[0]};
  cosync_loop *loop = cosync_this_loop();
  CHECK(cosync_call_when_ready(loop, fds[0], COSYNC_READABLE, complete_on_readable, &req) == 0);
  CHECK(cosync_call_at(loop, cosync_deadline_after(2 * MS), write_byte, &fds[1]) == 0);
  /* On the main context the wait runs the loop. */
  CHECK(cosync_completion_wait(&req.completion, cosync_deadline_after(MS / 2)) == -ETIMEDOUT);
  CHECK(cosync_completion_wait(&req.completion, COSYNC_NO_DEADLINE) == 0);
  CHECK(req.sum == 'x');
  /* A continuation of the owner's own, and one waiter at a time. */
  struct cosync_completion own = COSYNC_COMPLETION_INIT;
  own.continuation = log_continuation;
  CHECK(cosync_completion_wait(&own, cosync_deadline_after(MS)) == -EBUSY);
  CHECK(cosync_complete(&own, 7) == 0);
  CHECK(log_continuation_calls == 1 && own.result == 7);
  cosync_loop_forget_fd(loop, fds[0]);
  close(fds[0]);
  close(fds[1]);
}

/* ---- misuse: each refused with the errno cosync.h promises ---- */

static void *returns_null(void *arg) {
  (void)arg;
  return NULL;
}

C_TEST(null_arguments) {
  cosync_task *task = NULL;
  cosync_request *request = NULL;
  CHECK(cosync_create(&task, NULL, NULL, NULL) == -EINVAL);
  CHECK(task == NULL);
  CHECK(cosync_create(NULL, NULL, returns_null, NULL) == -EINVAL);
  CHECK(cosync_spawn(&request, NULL, NULL, NULL) == -EINVAL);
  CHECK(request == NULL);
  CHECK(cosync_spawn(NULL, NULL, returns_null, NULL) == -EINVAL);
  CHECK(cosync_resume(NULL) == -EINVAL);
  CHECK(cosync_task_done(NULL) == -EINVAL);
  CHECK(cosync_join(NULL, NULL) == -EINVAL);
  cosync_task_free(NULL);
  CHECK(cosync_task_coroutine(NULL) == NULL);
  CHECK(cosync_user_data(NULL) == NULL);
  cosync_set_user_data(NULL, &task);
  CHECK(strcmp(cosync_name(NULL), "") == 0);
  cosync_set_name(NULL, "nobody");
  CHECK(cosync_id(NULL) == 0);
  CHECK(cosync_request_done(NULL) == -EINVAL);
  CHECK(cosync_request_wait(NULL, COSYNC_NO_DEADLINE) == -EINVAL);
  void *result = &task;
  CHECK(cosync_request_get(NULL, &result, COSYNC_NO_DEADLINE) == -EINVAL);
  CHECK(result == NULL);
  cosync_request_cancel(NULL);
  cosync_request_free(NULL);
  CHECK(cosync_wait_all(NULL, 1, COSYNC_NO_DEADLINE) == -EINVAL);
  CHECK(cosync_wait_any(NULL, 1, COSYNC_NO_DEADLINE) == -EINVAL);
  cosync_request *holes[2] = {NULL, NULL};
  CHECK(cosync_spawn(&holes[0], NULL, returns_null, NULL) == 0);
  CHECK(cosync_wait_all(holes, 2, COSYNC_NO_DEADLINE) == -EINVAL);
  CHECK(cosync_wait_any(holes, 2, COSYNC_NO_DEADLINE) == -EINVAL);
  CHECK(cosync_wait_any(holes, 0, COSYNC_NO_DEADLINE) == -EINVAL);
  CHECK(cosync_wait_all(holes, 0, COSYNC_NO_DEADLINE) == 0);
  CHECK(cosync_request_get(holes[0], NULL, COSYNC_NO_DEADLINE) == 0);
  CHECK(cosync_loop_run_once(NULL, cosync_deadline_after(MS)) == -EINVAL);
  CHECK(cosync_loop_run(NULL) == -EINVAL);
  CHECK(cosync_loop_run_until(NULL, flag_set, &task, COSYNC_NO_DEADLINE) == -EINVAL);
  cosync_loop *loop = cosync_this_loop();
  CHECK(loop != NULL);
  CHECK(cosync_loop_run_until(loop, NULL, NULL, COSYNC_NO_DEADLINE) == -EINVAL);
  cosync_loop_stop(NULL);
  cosync_loop_forget_fd(NULL, 0);
  CHECK(cosync_call_at(NULL, 0, set_flag, &task) == -EINVAL);
  CHECK(cosync_call_at(loop, 0, NULL, NULL) == -EINVAL);
  CHECK(cosync_call_when_ready(NULL, 0, COSYNC_READABLE, complete_on_readable, NULL) == -EINVAL);
  CHECK(cosync_call_when_ready(loop, 0, COSYNC_READABLE, NULL, NULL) == -EINVAL);
  cosync_completion_init(NULL);
  CHECK(cosync_complete(NULL, 0) == -EINVAL);
  CHECK(cosync_completion_wait(NULL, COSYNC_NO_DEADLINE) == -EINVAL);
}

C_TEST(wait_fd_without_events) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  /* No event to wait for can never end: refused at once, not at the
     deadline (and not never, without one). */
  CHECK(cosync_wait_fd(fds[0], 0, cosync_deadline_after(50 * MS)) == -EINVAL);
  CHECK(cosync_wait_fd(fds[0], 0, COSYNC_NO_DEADLINE) == -EINVAL);
  CHECK(cosync_wait_fd(fds[0], 4, COSYNC_NO_DEADLINE) == -EINVAL);
  CHECK(cosync_call_when_ready(cosync_this_loop(), fds[0], 0, complete_on_readable, NULL) ==
        -EINVAL);
  CHECK(cosync_wait_fd(-1, COSYNC_READABLE, COSYNC_NO_DEADLINE) == -EBADF);
  close(fds[0]);
  close(fds[1]);
}

static int loop_calls_status = 1;

static void *runs_loop_from_coroutine(void *arg) {
  cosync_loop *loop = arg;
  CHECK(cosync_loop_run_once(loop, cosync_deadline_after(MS)) == -EPERM);
  CHECK(cosync_loop_run(loop) == -EPERM);
  CHECK(cosync_loop_run_until(loop, flag_set, &loop_calls_status, cosync_deadline_after(MS)) ==
        -EPERM);
  return NULL;
}

static void runs_loop_from_callback(void *data) {
  cosync_loop *loop = data;
  loop_calls_status = cosync_loop_run_once(loop, cosync_deadline_after(MS));
  /* A wait on the main context runs the loop, so it cannot nest either. */
  CHECK(cosync_sleep_until(cosync_deadline_after(MS)) == -EPERM);
  struct cosync_completion pending = COSYNC_COMPLETION_INIT;
  CHECK(cosync_completion_wait(&pending, cosync_deadline_after(MS)) == -EPERM);
}

C_TEST(loop_run_refused) {
  cosync_loop *loop = cosync_this_loop();
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, runs_loop_from_coroutine, loop) == 0);
  CHECK(cosync_request_get(request, NULL, COSYNC_NO_DEADLINE) == 0);
  int flag = 0;
  CHECK(cosync_call_at(loop, 0, runs_loop_from_callback, loop) == 0);
  CHECK(cosync_call_at(loop, 0, set_flag, &flag) == 0);
  CHECK(cosync_loop_run_until(loop, flag_set, &flag, COSYNC_NO_DEADLINE) == 0);
  CHECK(loop_calls_status == -EPERM);
}

/* Yields until cosync_yield refuses, and returns why (0: it never did). */
static void *yields_until_refused(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000000; ++i) {
    const int status = cosync_yield();
    if (status != 0) {
      return (void *)(intptr_t)status;
    }
  }
  return NULL;
}

static int wait_status = 0;

/* Records what its wait returned, then returns a value of its own. */
static void *records_wait_status(void *arg) {
  *(int *)arg = cosync_sleep_until(COSYNC_NO_DEADLINE);
  return arg;
}

C_TEST(cancel_outcomes) {
  /* Cancelled before it ran: the body never runs and the request ends
     cancelled. */
  int ran = 0;
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, count_yields, &ran) == 0);
  cosync_request_cancel(request);
  void *result = &ran;
  CHECK(cosync_request_get(request, &result, COSYNC_NO_DEADLINE) == -ECANCELED);
  CHECK(result == NULL && ran == 0);
  /* Cancelled while it waits: its wait returns -ECANCELED once, and the
     request ends cancelled whatever the body then returns. */
  CHECK(cosync_spawn(&request, NULL, records_wait_status, &wait_status) == 0);
  CHECK(cosync_request_wait(request, cosync_deadline_after(MS)) == -ETIMEDOUT);
  cosync_request_cancel(request);
  result = &ran;
  CHECK(cosync_request_get(request, &result, COSYNC_NO_DEADLINE) == -ECANCELED);
  CHECK(result == NULL && wait_status == -ECANCELED);
  /* A coroutine that only yields sees the cancellation there. */
  CHECK(cosync_spawn(&request, NULL, yields_until_refused, NULL) == 0);
  CHECK(cosync_request_wait(request, cosync_deadline_after(MS)) == -ETIMEDOUT);
  cosync_request_cancel(request);
  CHECK(cosync_request_get(request, &result, COSYNC_NO_DEADLINE) == -ECANCELED);
}

/* A created task that waits on the loop: cosync_join runs the loop (from
   main) or suspends the joiner (from a coroutine) until it finishes. */
static void *sleeps_then_returns(void *arg) {
  CHECK(cosync_sleep_until(cosync_deadline_after(20 * MS)) == 0);
  return arg;
}

static void *joins_a_sleeper(void *arg) {
  cosync_task *task = NULL;
  CHECK(cosync_create(&task, NULL, sleeps_then_returns, arg) == 0);
  void *result = NULL;
  CHECK(cosync_join(task, &result) == 0);
  return result;
}

C_TEST(join_runs_the_loop) {
  int marker = 0;
  cosync_task *task = NULL;
  CHECK(cosync_create(&task, NULL, sleeps_then_returns, &marker) == 0);
  void *result = NULL;
  CHECK(cosync_join(task, &result) == 0 && result == &marker);
  cosync_request *request = NULL;
  CHECK(cosync_spawn(&request, NULL, joins_a_sleeper, &marker) == 0);
  result = NULL;
  CHECK(cosync_request_get(request, &result, cosync_deadline_after(30000 * MS)) == 0);
  CHECK(result == &marker);
  /* Nothing on the loop could ever end this join: an error, not a hang;
     the coroutine is unwound and the task freed. */
  CHECK(cosync_create(&task, NULL, forever, NULL) == 0);
  CHECK(cosync_join(task, &result) == -EINVAL);
}

int main(int argc, char **argv) { return c_check_main(argc, argv); }
