// A 4-ary min-heap of armed timers, ordered by (due, sequence) so equal
// deadlines fire in the order they were added. Each timer records its index
// so cancelling is O(log n) without a search.
//
// Each entry keeps a copy of its timer's deadline: the timers live in their
// owners' frames (one per coroutine stack), so comparing through the
// pointers would cost a cache miss per comparison once many are armed; only
// equal deadlines read the timers' sequences. Four children per node halve
// the depth, and with it the moves that write a timer's heap_index.
#pragma once

#include <vector>

#include "cosync/loop.hpp"

namespace cosync::loop {

class TimerHeap {
 public:
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  Timer* top() const noexcept { return heap_.front().timer; }
  // The first deadline, read without touching its timer.
  Deadline top_due() const noexcept { return heap_.front().due; }

  void push(Timer& timer) {
    timer.slot.sequence = next_sequence_++;
    timer.slot.heap_index = heap_.size();
    heap_.push_back(Entry{timer.due, &timer});
    sift_up(timer.slot.heap_index);
  }

  void remove(Timer& timer) noexcept {
    const std::size_t index = timer.slot.heap_index;
    const Entry last = heap_.back();
    heap_.pop_back();
    timer.slot.heap_index = impl::TimerSlot::not_armed;
    if (last.timer == &timer) {
      return;
    }
    place(index, last);
    sift_down(sift_up(index));
  }

 private:
  struct Entry {
    Deadline due;
    Timer* timer;
  };
  static constexpr std::size_t kArity = 4;

  static bool earlier(const Entry& a, const Entry& b) noexcept {
    return a.due < b.due || (a.due == b.due && a.timer->slot.sequence < b.timer->slot.sequence);
  }

  void place(std::size_t index, const Entry& entry) noexcept {
    heap_[index] = entry;
    entry.timer->slot.heap_index = index;
  }

  std::size_t sift_up(std::size_t index) noexcept {
    const Entry moving = heap_[index];
    while (index > 0) {
      const std::size_t parent = (index - 1) / kArity;
      if (!earlier(moving, heap_[parent])) {
        break;
      }
      place(index, heap_[parent]);
      index = parent;
    }
    place(index, moving);
    return index;
  }

  void sift_down(std::size_t index) noexcept {
    const Entry moving = heap_[index];
    const std::size_t count = heap_.size();
    for (;;) {
      const std::size_t first = kArity * index + 1;
      if (first >= count) {
        break;
      }
      const std::size_t end = first + kArity < count ? first + kArity : count;
      std::size_t child = first;
      for (std::size_t other = first + 1; other < end; ++other) {
        if (earlier(heap_[other], heap_[child])) {
          child = other;
        }
      }
      if (!earlier(heap_[child], moving)) {
        break;
      }
      place(index, heap_[child]);
      index = child;
    }
    place(index, moving);
  }

  std::vector<Entry> heap_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace cosync::loop
