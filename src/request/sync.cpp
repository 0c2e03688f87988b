#include "cosync/sync.hpp"

namespace cosync {
namespace {

// Queues `waiter` on `queue` until it is granted the resource, handing a
// grant that arrives too late (timeout, cancellation) back through
// `give_back`.
template <class GiveBack>
void wait_for_grant(detail::WaiterQueue& queue, Deadline deadline, const char* what,
                    GiveBack give_back) {
  detail::Waiter waiter;
  queue.push(waiter);
  bool acquired = false;
  struct Leave {
    detail::WaiterQueue& queue;
    detail::Waiter& waiter;
    const bool& acquired;
    GiveBack& give_back;
    ~Leave() {
      if (!waiter.granted) {
        queue.remove(waiter);
      } else if (!acquired) {
        give_back();
      }
    }
  } leave{queue, waiter, acquired, give_back};
  if (!waiter.wait([&waiter] { return waiter.granted; }, deadline)) {
    throw TimedOut(std::string("cosync: ") + what + " timed out");
  }
  acquired = true;
}

}  // namespace

void Event::set() noexcept {
  set_ = true;
  waiters_.wake_all();
}

void Event::wait(Deadline deadline) {
  if (set_) {
    return;
  }
  detail::Waiter waiter;
  waiters_.push(waiter);
  struct Leave {
    detail::WaiterQueue& queue;
    detail::Waiter& waiter;
    ~Leave() { queue.remove(waiter); }
  } leave{waiters_, waiter};
  if (!waiter.wait([this] { return set_; }, deadline)) {
    throw TimedOut("cosync: event wait timed out");
  }
}

Mutex::~Mutex() = default;

void Mutex::lock(Deadline deadline) {
  if (try_lock()) {
    return;
  }
  wait_for_grant(waiters_, deadline, "mutex lock", [this] { unlock(); });
}

bool Mutex::try_lock() noexcept {
  if (locked_ || !waiters_.empty()) {
    return false;
  }
  locked_ = true;
  return true;
}

// The mutex goes straight to the first waiter, which keeps arrival order
// and stops a running coroutine from taking it back before the waiter runs.
void Mutex::unlock() {
  if (!locked_) {
    throw UsageError("cosync: unlock of a mutex that is not locked");
  }
  if (detail::Waiter* next = waiters_.pop()) {
    next->granted = true;
    next->wake();
    return;
  }
  locked_ = false;
}

void Semaphore::acquire(Deadline deadline) {
  if (try_acquire()) {
    return;
  }
  wait_for_grant(waiters_, deadline, "semaphore acquire", [this] { release(); });
}

bool Semaphore::try_acquire() noexcept {
  if (count_ == 0 || !waiters_.empty()) {
    return false;
  }
  --count_;
  return true;
}

void Semaphore::release() noexcept {
  if (detail::Waiter* next = waiters_.pop()) {
    next->granted = true;
    next->wake();
    return;
  }
  ++count_;
}

TaskGroup::~TaskGroup() {
  cancel();
  for (detail::RequestCore* child : children_) {
    child->drop_handle();
  }
}

void TaskGroup::cancel() noexcept {
  for (detail::RequestCore* child : children_) {
    child->cancel();
  }
}

void TaskGroup::join(Deadline deadline) {
  std::exception_ptr first_error;
  std::vector<detail::RequestCore*> pending = children_;
  while (!pending.empty()) {
    const int index = wait_any(pending, deadline);
    if (index < 0) {
      cancel();
      throw TimedOut("cosync: task group join timed out; its children were cancelled");
    }
    detail::RequestCore* child = pending[static_cast<std::size_t>(index)];
    pending.erase(pending.begin() + index);
    if (child->status() == detail::RequestCore::Status::failed && !first_error) {
      first_error = child->error();
      cancel();
    }
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
}

}  // namespace cosync
