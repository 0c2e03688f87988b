// cosync_tevent_req_poll: tevent_req_poll that, in a coroutine, suspends
// only the coroutine while the main context keeps running the tevent loop.
#include <cerrno>

#include "cosync/request.hpp"
#include "tevent_glue/glue_internal.hpp"

namespace cosync::tevent_glue {
namespace {

// One coroutine waiting for one tevent_req, on the coroutine's stack.
// While it exists, two things point at it from the request: the request's
// callback (tevent calls it once, when the request finishes, times out or
// fails) and a sentinel, a talloc child of the request whose destructor
// tells the wait that the request was freed under it (tevent calls no
// callback then). The destructor removes both however the wait ends
// (done, cancelled, or the coroutine unwound), so tevent never calls into
// a stack that is gone.
class PollWait {
 public:
  explicit PollWait(tevent_req* req) : req_(req), sentinel_(talloc(req, PollWait*)) {
    if (sentinel_ == nullptr) {
      throw std::bad_alloc();
    }
    *sentinel_ = this;
    talloc_set_destructor(sentinel_, &PollWait::on_request_freed);
    tevent_req_set_callback(req_, &PollWait::on_request_done, this);
  }
  PollWait(const PollWait&) = delete;
  PollWait& operator=(const PollWait&) = delete;
  ~PollWait() {
    if (request_freed_) {
      return;  // the callback and the sentinel went with the request
    }
    tevent_req_set_callback(req_, nullptr, nullptr);
    talloc_set_destructor(sentinel_, nullptr);
    talloc_free(sentinel_);
  }

  // Suspends the coroutine until the request is no longer in progress or
  // was freed; throws Cancelled when the coroutine is cancelled meanwhile.
  void wait() {
    waiter_.wait([this] { return request_freed_ || !tevent_req_is_in_progress(req_); },
                 no_deadline);
  }

  bool request_freed() const noexcept { return request_freed_; }

 private:
  // Called by tevent on the main context, from its dispatch: the waiter
  // resumes the coroutine from the loop's top level, not from here.
  static void on_request_done(tevent_req* req) {
    static_cast<PollWait*>(tevent_req_callback_data_void(req))->waiter_.wake();
  }

  static int on_request_freed(PollWait** sentinel) {
    PollWait* self = *sentinel;
    self->request_freed_ = true;
    self->waiter_.wake();
    return 0;
  }

  tevent_req* req_;
  PollWait** sentinel_;
  bool request_freed_ = false;
  impl::Waiter waiter_;
};

// 0 once the request is no longer in progress, else a negative errno.
int wait_in_coroutine(tevent_req* req) {
  return capi::guarded([req] {
    PollWait poll(req);
    poll.wait();
    return poll.request_freed() ? -ECANCELED : 0;
  });
}

}  // namespace
}  // namespace cosync::tevent_glue

#pragma GCC visibility push(default)
extern "C" {

bool cosync_tevent_req_poll(struct tevent_req* req, struct tevent_context* ev) {
  if (!cosync::in_coroutine()) {
    return tevent_req_poll(req, ev);
  }
  if (!tevent_req_is_in_progress(req)) {
    return true;
  }
  if (!cosync::tevent_glue::loop_runs_inside(ev)) {
    cosync::tevent_glue::report_wrong_loop("cosync_tevent_req_poll in a coroutine");
    errno = EINVAL;
    return false;
  }
  const int status = cosync::tevent_glue::wait_in_coroutine(req);
  if (status != 0) {
    errno = -status;
    return false;
  }
  return true;
}

}  // extern "C"
#pragma GCC visibility pop
