// The queue of immediates every backend keeps, and how one is run.
#pragma once

#include "cosync/coroutine.hpp"
#include "cosync/impl/intrusive_list.hpp"
#include "cosync/loop.hpp"

namespace cosync::loop {

// Immediates waiting for the next iteration, in posting order. Keeps each
// one's `queued` flag, which the layers above read.
class ImmediateQueue {
 public:
  bool empty() const noexcept { return list_.empty(); }
  Immediate* front() const noexcept { return list_.front(); }

  void push(Immediate& immediate) noexcept {
    list_.push_back(immediate);
    immediate.queued = true;
  }

  void remove(Immediate& immediate) noexcept {
    list_.remove(immediate);
    immediate.queued = false;
  }

  Immediate* pop() noexcept {
    Immediate* first = list_.pop_front();
    if (first != nullptr) {
      first->queued = false;
    }
    return first;
  }

  // [before][separator][after] becomes [after][separator][before]: what
  // `after` holds overtakes what was queued before the separator.
  void move_behind_to_front(Immediate& separator) noexcept {
    Immediate* after_first = separator.next;
    if (after_first == nullptr) {
      list_.rotate_to_front(separator);
      return;
    }
    // [before][after][separator], then `after` to the front.
    list_.remove(separator);
    list_.push_back(separator);
    list_.rotate_to_front(*after_first);
  }

 private:
  impl::IntrusiveList<Immediate> list_;
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

}  // namespace cosync::loop
