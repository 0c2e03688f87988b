// cosync_tevent_attach / cosync_tevent_detach: the tevent adapter made and
// owned from C, for as long as the tevent context lives or until detached.
#include <cerrno>
#include <cstdio>
#include <memory>

#include "tevent_glue/glue_internal.hpp"

namespace cosync::tevent_glue {
namespace {

// The adapter cosync_tevent_attach made. It is a talloc child of the tevent
// context, so that talloc_free(ev) destroys the adapter with the context.
struct Attachment {
  tevent_context* ev;
  Loop* loop;  // owned; installed as the attaching thread's loop
};

// This thread's attachment: one tevent context per thread, as one loop.
thread_local Attachment* t_attachment = nullptr;

// Destroying the adapter cancels and unwinds the coroutines it resumes,
// removes its events from ev and reinstalls the built-in loop.
int destroy_attachment(Attachment* attachment) {
  if (t_attachment == attachment) {
    t_attachment = nullptr;
  }
  delete attachment->loop;
  return 0;
}

// talloc frees a context's children newest first. The adapter keeps a
// talloc child of ev of its own (its cross-thread wake-up relay), which it
// still uses while it is destroyed, so the attachment is allocated after
// the adapter: freeing ev then destroys the adapter before that child goes.
int attach_new(tevent_context* ev) {
  std::unique_ptr<Loop> loop;
  const int status = capi::guarded([&] {
    loop = make_tevent_loop(ev);
    return 0;
  });
  if (status != 0) {
    return status;
  }
  auto* attachment = talloc(ev, Attachment);
  if (attachment == nullptr) {
    return -ENOMEM;
  }
  *attachment = Attachment{ev, loop.release()};
  talloc_set_destructor(attachment, destroy_attachment);
  set_this_loop(attachment->loop);
  t_attachment = attachment;
  return 0;
}

}  // namespace

bool loop_runs_inside(const tevent_context* ev) noexcept {
  try {
    return tevent_context_of(this_loop()) == ev;
  } catch (...) {
    return false;  // no loop could be made for this thread
  }
}

void report_wrong_loop(const char* call) noexcept {
  std::fprintf(stderr,
               "cosync: %s: this thread's cosync loop does not run inside the tevent context "
               "given (call cosync_tevent_attach(ev) on this thread first)\n",
               call);
}

}  // namespace cosync::tevent_glue

#pragma GCC visibility push(default)
extern "C" {

int cosync_tevent_attach(struct tevent_context* ev) {
  using cosync::tevent_glue::t_attachment;
  if (t_attachment != nullptr) {
    return t_attachment->ev == ev ? 0 : -EBUSY;
  }
  if (cosync::tevent_glue::loop_runs_inside(ev)) {
    return 0;  // attached from C++ (make_tevent_loop + set_this_loop)
  }
  return cosync::tevent_glue::attach_new(ev);
}

int cosync_tevent_detach(struct tevent_context* ev) {
  using cosync::tevent_glue::t_attachment;
  if (t_attachment == nullptr || t_attachment->ev != ev) {
    return -ENOENT;
  }
  if (cosync::in_coroutine()) {
    return -EPERM;  // the adapter resumes the coroutines it cancels from here
  }
  talloc_free(t_attachment);
  return 0;
}

}  // extern "C"
#pragma GCC visibility pop
