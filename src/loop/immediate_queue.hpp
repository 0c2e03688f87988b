// The queue of immediates both loop kinds keep, and how one is run.
#pragma once

#include "cosync/coroutine.hpp"
#include "cosync/loop.hpp"

namespace cosync::loop_detail {

// Immediates waiting for the next iteration, in posting order.
class ImmediateQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  Immediate* front() const noexcept { return head_; }

  void push(Immediate& immediate) noexcept {
    immediate.prev = tail_;
    immediate.next = nullptr;
    (tail_ != nullptr ? tail_->next : head_) = &immediate;
    tail_ = &immediate;
    immediate.queued = true;
  }

  void remove(Immediate& immediate) noexcept {
    (immediate.prev != nullptr ? immediate.prev->next : head_) = immediate.next;
    (immediate.next != nullptr ? immediate.next->prev : tail_) = immediate.prev;
    immediate.prev = immediate.next = nullptr;
    immediate.queued = false;
  }

  Immediate* pop() noexcept {
    Immediate* first = head_;
    if (first != nullptr) {
      remove(*first);
    }
    return first;
  }

 private:
  Immediate* head_ = nullptr;
  Immediate* tail_ = nullptr;
};

// Runs one immediate. A coroutine step switches into its coroutine here,
// in the loop's own frame, and calls `fn` after it: a frame that is live
// across a switch returns mispredicted once the switch comes back (the
// return-stack buffer then holds the coroutine's calls), so the switch is
// kept out of a callback's frame of its own.
inline void run_immediate(Immediate& immediate) noexcept {
  Coroutine* coroutine = immediate.resume;
  if (coroutine != nullptr && coroutine->state() != CoroutineState::finished) {
    coroutine->resume();
  }
  immediate.fn(&immediate);
}

}  // namespace cosync::loop_detail
