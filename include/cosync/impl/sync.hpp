// Internals of cosync/sync.hpp: the one queued wait that every primitive
// (event, mutex, semaphore, channel, task group) is built on. Not part of
// the API.
#pragma once

#include "cosync/export.hpp"
#include "cosync/impl/request.hpp"

namespace cosync::detail {

// What a waiter does as it leaves its queue, however its wait ended.
enum class OnLeave : unsigned char {
  stay_quiet,  // nothing: the primitive wakes whom it means to
  wake_next,   // wakes the new first waiter, which may have lost a wake to this one
};

// Queues `waiter` on `queue`, waits until `ready()` holds or the deadline
// passes, and takes the waiter off the queue however the wait ends (one
// that a primitive granted something was taken off by the grant). Returns
// false at the deadline; throws Cancelled in a cancelled coroutine.
COSYNC_API bool wait_in_queue(WaiterQueue& queue, Waiter& waiter, Condition ready,
                              Deadline deadline, OnLeave on_leave = OnLeave::stay_quiet);

}  // namespace cosync::detail
