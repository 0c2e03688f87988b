#include "cosync/sync.hpp"

#include <string>
#include <type_traits>
#include <vector>

#include "support/scope_guard.hpp"

namespace cosync::request {
namespace {

// Waits in `queue` until the resource is granted. A grant that arrives as
// the wait ends otherwise (a cancel) is handed on by `give_back`, which
// must not throw: it runs while the wait unwinds.
template <class GiveBack>
void wait_for_grant(impl::WaiterQueue& queue, Deadline deadline, const char* what,
                    GiveBack give_back) {
  static_assert(std::is_nothrow_invocable_v<GiveBack&>);
  impl::Waiter waiter;
  support::ScopeExit hand_back([&waiter, &give_back]() noexcept {
    if (waiter.granted) give_back();
  });
  if (!impl::wait_in_queue(
          queue, waiter, [&waiter] { return waiter.granted; }, deadline)) {
    throw TimedOut(std::string("cosync: ") + what + " timed out");
  }
  hand_back.dismiss();
}

}  // namespace
}  // namespace cosync::request

namespace cosync {

void Event::set() noexcept {
  set_ = true;
  waiters_.wake_all();
}

void Event::wait(Deadline deadline) {
  if (set_) {
    return;
  }
  impl::Waiter waiter;
  if (!impl::wait_in_queue(
          waiters_, waiter, [this] { return set_; }, deadline)) {
    throw TimedOut("cosync: event wait timed out");
  }
}

void Mutex::lock(Deadline deadline) {
  if (try_lock()) {
    return;
  }
  request::wait_for_grant(waiters_, deadline, "mutex lock", [this]() noexcept { pass_on(); });
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
  pass_on();
}

void Mutex::pass_on() noexcept {
  if (!waiters_.grant_front()) {
    locked_ = false;
  }
}

void Semaphore::acquire(Deadline deadline) {
  if (try_acquire()) {
    return;
  }
  request::wait_for_grant(waiters_, deadline, "semaphore acquire",
                          [this]() noexcept { release(); });
}

bool Semaphore::try_acquire() noexcept {
  if (count_ == 0 || !waiters_.empty()) {
    return false;
  }
  --count_;
  return true;
}

void Semaphore::release() noexcept {
  if (!waiters_.grant_front()) {
    ++count_;
  }
}

TaskGroup::~TaskGroup() {
  const std::vector<impl::RequestCore*> unfinished(children_.begin(), children_.end());
  children_.clear();
  for (impl::RequestCore* child : unfinished) {
    child->set_observer(nullptr, nullptr);
    child->cancel();  // even if the caller still holds a handle of its own
    child->drop_handle();
  }
}

void TaskGroup::track(impl::RequestCore& child) {
  if (child.done()) {
    if (child.status() == impl::RequestCore::Status::failed && !first_error_) {
      first_error_ = child.error();
    }
    return;
  }
  children_.insert(&child);
  child.add_handle();
  child.set_observer(&TaskGroup::on_child_done, this);
}

void TaskGroup::on_child_done(impl::RequestCore* child, void* data) noexcept {
  auto* group = static_cast<TaskGroup*>(data);
  group->children_.erase(child);
  if (child->status() == impl::RequestCore::Status::failed && !group->first_error_) {
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
  const std::vector<impl::RequestCore*> snapshot(children_.begin(), children_.end());
  for (impl::RequestCore* child : snapshot) {
    if (children_.count(child) != 0) child->cancel();
  }
}

// Each call waits with a fresh waiter: a waiter that timed out stays
// timed out.
bool TaskGroup::wait_for_children(Deadline deadline) {
  impl::Waiter waiter;
  return impl::wait_in_queue(
      joiners_, waiter, [this] { return children_.empty(); }, deadline);
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
