// cosync/completion.h: a C struct any callback-shaped code completes and
// any coroutine (or the main context) waits on (R5).
#include "cosync/completion.h"

#include <cerrno>

#include "capi/capi_internal.hpp"

namespace cosync::capi {
namespace {

// The continuation a wait installs: wakes the waiter, which the loop
// resumes on its next iteration (never on the completer's stack).
void wake_waiter(cosync_completion* /*completion*/, void* data) {
  static_cast<impl::Waiter*>(data)->wake();
}

// Gives the continuation slot back when the wait ends, however it ends.
class WaitSlot {
 public:
  WaitSlot(cosync_completion& completion, impl::Waiter& waiter) noexcept
      : completion_(completion), waiter_(waiter) {
    completion_.continuation = &wake_waiter;
    completion_.data = &waiter_;
  }
  WaitSlot(const WaitSlot&) = delete;
  WaitSlot& operator=(const WaitSlot&) = delete;
  ~WaitSlot() {
    if (completion_.continuation == &wake_waiter && completion_.data == &waiter_) {
      completion_.continuation = nullptr;
      completion_.data = nullptr;
    }
  }

 private:
  cosync_completion& completion_;
  impl::Waiter& waiter_;
};

bool is_done(const cosync_completion& completion) noexcept {
  return completion.state == COSYNC_COMPLETION_DONE;
}

}  // namespace
}  // namespace cosync::capi

// The C entry points are exported from libcosync.so (the library builds
// with hidden visibility; cosync.h stays free of attributes).
#pragma GCC visibility push(default)
extern "C" {

void cosync_completion_init(cosync_completion* completion) {
  if (completion == nullptr) {
    return;
  }
  *completion = cosync_completion{COSYNC_COMPLETION_PENDING, 0, nullptr, nullptr};
}

int cosync_complete(cosync_completion* completion, int result) {
  if (completion == nullptr) {
    return -EINVAL;
  }
  if (cosync::capi::is_done(*completion)) {
    return -EALREADY;
  }
  completion->result = result;
  completion->state = COSYNC_COMPLETION_DONE;
  if (completion->continuation != nullptr) {
    completion->continuation(completion, completion->data);
  }
  return 0;
}

int cosync_completion_wait(cosync_completion* completion, cosync_deadline deadline) {
  if (completion == nullptr) {
    return -EINVAL;
  }
  if (cosync::capi::is_done(*completion)) {
    return completion->result;
  }
  if (completion->continuation != nullptr) {
    return -EBUSY;
  }
  return cosync::capi::guarded([&] {
    if (cosync::capi::wait_would_nest()) {
      return -EPERM;
    }
    cosync::impl::Waiter waiter;
    const cosync::capi::WaitSlot slot(*completion, waiter);
    const bool done = waiter.wait([completion] { return cosync::capi::is_done(*completion); },
                                  cosync::capi::to_deadline(deadline));
    return done ? completion->result : -ETIMEDOUT;
  });
}

}  // extern "C"
#pragma GCC visibility pop
