// Internals of cosync/sync.hpp: the one queued wait that every primitive
// (event, mutex, semaphore, channel, task group) is built on. Not part of
// the API.
#pragma once

#include "cosync/impl/request.hpp"

namespace cosync::impl {

// What a waiter does as it leaves its queue, however its wait ended.
enum class OnLeave : unsigned char {
  stay_quiet,  // nothing: the primitive wakes whom it means to
  wake_next,   // wakes the new first waiter, which may have lost a wake to this one
};

// Takes a waiter off its queue as its wait ends, however it ends (one that
// a primitive granted something was taken off by the grant). Inline, with
// the queued wait below, so a channel's wait costs no call beyond the
// waiter's own; the destructor cannot throw.
class LeaveQueue {
 public:
  LeaveQueue(WaiterQueue& queue, Waiter& waiter, OnLeave on_leave) noexcept
      : queue_(queue), waiter_(waiter), on_leave_(on_leave) {}
  LeaveQueue(const LeaveQueue&) = delete;
  LeaveQueue& operator=(const LeaveQueue&) = delete;
  ~LeaveQueue() noexcept {
    if (!waiter_.granted) {
      queue_.remove(waiter_);
    }
    if (on_leave_ == OnLeave::wake_next) {
      queue_.wake_front();
    }
  }

 private:
  WaiterQueue& queue_;
  Waiter& waiter_;
  OnLeave on_leave_;
};

// Queues `waiter` on `queue`, waits until `ready()` holds or the deadline
// passes, and takes the waiter off the queue however the wait ends.
// Returns false at the deadline; throws Cancelled in a cancelled coroutine.
inline bool wait_in_queue(WaiterQueue& queue, Waiter& waiter, Condition ready, Deadline deadline,
                          OnLeave on_leave = OnLeave::stay_quiet) {
  queue.push_back(waiter);
  const LeaveQueue leave(queue, waiter, on_leave);
  return waiter.wait(ready, deadline);
}

}  // namespace cosync::impl
