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

  // [before][separator][after] becomes [after][separator][before]: what
  // `after` holds overtakes what was queued before the separator.
  void move_behind_to_front(Immediate& separator) noexcept {
    Immediate* before_first = head_ != &separator ? head_ : nullptr;
    Immediate* before_last = separator.prev;
    Immediate* after_first = separator.next;
    Immediate* after_last = tail_ != &separator ? tail_ : nullptr;
    remove(separator);
    if (before_first == nullptr) {
      push(separator);
      return;
    }
    if (after_first == nullptr) {
      push_front(separator);
      return;
    }
    head_ = after_first;
    after_first->prev = nullptr;
    link(*after_last, separator);
    link(separator, *before_first);
    before_last->next = nullptr;
    tail_ = before_last;
    separator.queued = true;
  }

  Immediate* pop() noexcept {
    Immediate* first = head_;
    if (first != nullptr) {
      remove(*first);
    }
    return first;
  }

 private:
  static void link(Immediate& first, Immediate& second) noexcept {
    first.next = &second;
    second.prev = &first;
  }

  void push_front(Immediate& immediate) noexcept {
    immediate.prev = nullptr;
    immediate.next = head_;
    (head_ != nullptr ? head_->prev : tail_) = &immediate;
    head_ = &immediate;
    immediate.queued = true;
  }

  Immediate* head_ = nullptr;
  Immediate* tail_ = nullptr;
};

// Takes a marker the loop queued off the queue when its scope ends, also
// when a callback throws.
class MarkerScope {
 public:
  MarkerScope(ImmediateQueue& queue, Immediate& marker) noexcept : queue_(queue), marker_(marker) {}
  MarkerScope(const MarkerScope&) = delete;
  MarkerScope& operator=(const MarkerScope&) = delete;
  ~MarkerScope() {
    if (marker_.queued) queue_.remove(marker_);
  }

 private:
  ImmediateQueue& queue_;
  Immediate& marker_;
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
