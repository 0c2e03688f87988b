// cosync_tevent_run_send / cosync_tevent_run_recv: a synchronous C function
// run as a coroutine behind a real tevent_req.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "cosync/coroutine.hpp"
#include "cosync/request.hpp"
#include "tevent_glue/glue_internal.hpp"

namespace cosync::tevent_glue {
namespace {

class RunCoroutine;

// The tevent_req's state (talloc memory, freed by tevent_req_received).
struct RunState {
  RunCoroutine* coroutine;  // owned; null once received
  void* result;             // fn's return value, once the request is done
  tevent_context* ev;
};

// tevent_req_data's expansion is a bare cast: it needs parentheses before
// a member access.
RunState* state_of(tevent_req* req) { return tevent_req_data(req, RunState); }

// The coroutine behind one request. The loop resumes it through its own
// scheduling record, as it resumes spawned coroutines (a wait's wake-up and
// a plain cosync_yield both come back to `step`), and it is owned by the
// request rather than by a cosync request, so that the request's cleanup
// function can unwind it at once.
class RunCoroutine {
 public:
  RunCoroutine(tevent_req* req, Loop& loop, cosync_fn fn, void* arg)
      : req_(req),
        loop_(loop),
        task_(create(Options{0, "cosync_tevent_run", nullptr}, [fn, arg] { return fn(arg); })) {
    impl::scheduling_of(task_.coroutine()) = &scheduling_;
    scheduling_.step.fn = &RunCoroutine::on_step;
    scheduling_.step.data = this;
    scheduling_.loop = &loop_;
    loop_.post_immediate(scheduling_.step);
  }
  RunCoroutine(const RunCoroutine&) = delete;
  RunCoroutine& operator=(const RunCoroutine&) = delete;
  ~RunCoroutine() {
    stop();
    if (scheduling_.step.queued) {
      loop_.cancel_immediate(scheduling_.step);
    }
  }

  // True while fn's own stack is the one running.
  bool running() const noexcept {
    return task_ && task_.coroutine().state() == CoroutineState::running;
  }

  // Unwinds fn's stack now if it still runs (its destructors run, its C
  // frames are dropped); the request then never completes from here.
  void stop() noexcept {
    if (running()) {
      std::fprintf(stderr,
                   "cosync: a cosync_tevent_run_send request was freed or ended from inside "
                   "its own function; a coroutine cannot unwind itself\n");
      std::abort();
    }
    task_ = Task<void*>();
  }

 private:
  static void on_step(Immediate* step) noexcept { static_cast<RunCoroutine*>(step->data)->step(); }

  void step() noexcept {
    if (!task_) {
      return;  // completed or stopped: a stale wake-up
    }
    task_.resume();
    if (task_.done()) {
      complete();
    } else if (!scheduling_.waiting) {
      loop_.post_immediate(scheduling_.step);  // a plain yield: run again next iteration
    }
  }

  // Runs from the loop's dispatch on the main context, so the caller's
  // callback never runs on fn's stack. The callback may free the request,
  // and this object with it: nothing here touches `this` afterwards.
  void complete() noexcept {
    void* value = nullptr;
    const int status = capi::guarded([&] {
      value = task_.join();
      return 0;
    });
    tevent_req* req = req_;
    state_of(req)->result = value;
    if (status == 0) {
      tevent_req_done(req);
    } else {
      tevent_req_error(req, static_cast<uint64_t>(-status));
    }
  }

  tevent_req* req_;
  Loop& loop_;
  impl::Scheduling scheduling_;
  Task<void*> task_;
};

// tevent calls it when the request ends (done, error, timed out, out of
// memory: fn must stop if it still runs) and when it is received or freed
// (the coroutine goes), before talloc frees the request's children: fn may
// still use them while it unwinds.
void on_cleanup(tevent_req* req, tevent_req_state req_state) {
  RunState* state = state_of(req);
  if (state->coroutine == nullptr) {
    return;
  }
  if (req_state == TEVENT_REQ_RECEIVED) {
    delete std::exchange(state->coroutine, nullptr);
  } else {
    state->coroutine->stop();
  }
}

// tevent_req_cancel: fn is unwound and the request fails with ECANCELED.
// tevent wants the caller of tevent_req_cancel to see the outcome later,
// from the loop: the callback is deferred to ev's next iteration.
bool on_cancel(tevent_req* req) {
  RunState* state = state_of(req);
  if (state->coroutine == nullptr || state->coroutine->running()) {
    return false;  // received already, or cancelled from inside fn
  }
  state->coroutine->stop();
  tevent_req_defer_callback(req, state->ev);
  tevent_req_error(req, ECANCELED);
  return true;
}

// A failure before fn starts, reported through the request as tevent's
// _send functions do.
tevent_req* fail_posted(tevent_req* req, tevent_context* ev, int error) {
  tevent_req_error(req, static_cast<uint64_t>(error));
  return tevent_req_post(req, ev);
}

int recv_error(tevent_req* req) {
  tevent_req_state state = TEVENT_REQ_IN_PROGRESS;
  uint64_t error = 0;
  if (!tevent_req_is_error(req, &state, &error)) {
    return 0;
  }
  switch (state) {
    case TEVENT_REQ_USER_ERROR:
      return -static_cast<int>(error);
    case TEVENT_REQ_TIMED_OUT:
      return -ETIMEDOUT;
    case TEVENT_REQ_NO_MEMORY:
      return -ENOMEM;
    default:
      return -EINPROGRESS;  // not finished yet
  }
}

}  // namespace
}  // namespace cosync::tevent_glue

#pragma GCC visibility push(default)
extern "C" {

struct tevent_req* cosync_tevent_run_send(TALLOC_CTX* mem_ctx, struct tevent_context* ev,
                                          cosync_fn fn, void* arg) {
  using namespace cosync::tevent_glue;
  RunState* state = nullptr;
  tevent_req* req = tevent_req_create(mem_ctx, &state, RunState);
  if (req == nullptr) {
    return nullptr;
  }
  *state = RunState{nullptr, nullptr, ev};
  if (!loop_runs_inside(ev)) {
    report_wrong_loop("cosync_tevent_run_send");
    return fail_posted(req, ev, EINVAL);
  }
  const int status = cosync::capi::guarded([&] {
    state->coroutine = new RunCoroutine(req, cosync::this_loop(), fn, arg);
    return 0;
  });
  if (status != 0) {
    return fail_posted(req, ev, -status);
  }
  tevent_req_set_cleanup_fn(req, &on_cleanup);
  tevent_req_set_cancel_fn(req, &on_cancel);
  return req;
}

int cosync_tevent_run_recv(struct tevent_req* req, void** result) {
  const int status = cosync::tevent_glue::recv_error(req);
  if (status == -EINPROGRESS) {
    return status;  // still running: not received
  }
  if (result != nullptr) {
    *result = status == 0 ? cosync::tevent_glue::state_of(req)->result : nullptr;
  }
  tevent_req_received(req);
  return status;
}

}  // extern "C"
#pragma GCC visibility pop
