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
  const std::vector<detail::RequestCore*> unfinished(children_.begin(), children_.end());
  children_.clear();
  for (detail::RequestCore* child : unfinished) {
    child->set_observer(nullptr, nullptr);
    child->cancel();  // even if the caller still holds a handle of its own
    child->drop_handle();
  }
}

void TaskGroup::track(detail::RequestCore& child) {
  if (child.done()) {
    if (child.status() == detail::RequestCore::Status::failed && !first_error_) {
      first_error_ = child.error();
    }
    return;
  }
  children_.insert(&child);
  child.add_handle();
  child.set_observer(&TaskGroup::on_child_done, this);
}

void TaskGroup::on_child_done(detail::RequestCore* child, void* data) noexcept {
  auto* group = static_cast<TaskGroup*>(data);
  group->children_.erase(child);
  if (child->status() == detail::RequestCore::Status::failed && !group->first_error_) {
    group->first_error_ = child->error();
    if (group->on_failure_ == OnFailure::cancel_siblings) {
      group->cancel();
    }
  }
  group->joiners_.wake_all();
  child->drop_handle();  // the completer holds its own reference meanwhile
}

// Cancelling a child may complete it at once, which erases it from
// children_: iterate over a copy.
void TaskGroup::cancel() noexcept {
  const std::vector<detail::RequestCore*> snapshot(children_.begin(), children_.end());
  for (detail::RequestCore* child : snapshot) {
    if (children_.count(child) != 0) child->cancel();
  }
}

// Each call waits with a fresh waiter: a waiter that timed out stays
// timed out.
bool TaskGroup::wait_for_children(Deadline deadline) {
  detail::Waiter waiter;
  joiners_.push(waiter);
  struct Leave {
    detail::WaiterQueue& queue;
    detail::Waiter& waiter;
    ~Leave() { queue.remove(waiter); }
  } leave{joiners_, waiter};
  return waiter.wait([this] { return children_.empty(); }, deadline);
}

void TaskGroup::join(Deadline deadline) {
  if (!wait_for_children(deadline)) {
    cancel();
    wait_for_children(no_deadline);
    throw TimedOut("cosync: task group join timed out; its children were cancelled");
  }
  if (first_error_) {
    std::rethrow_exception(std::exchange(first_error_, nullptr));
  }
}

}  // namespace cosync
