// A binary min-heap of armed timers, ordered by (due, sequence) so equal
// deadlines fire in the order they were added. Each timer records its index
// so cancelling is O(log n) without a search.
#pragma once

#include <vector>

#include "cosync/loop.hpp"

namespace cosync::loop_detail {

class TimerHeap {
 public:
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  Timer* top() const noexcept { return heap_.front(); }

  void push(Timer& timer) {
    timer.sequence = next_sequence_++;
    timer.heap_index = heap_.size();
    heap_.push_back(&timer);
    sift_up(timer.heap_index);
  }

  void remove(Timer& timer) noexcept {
    const std::size_t index = timer.heap_index;
    Timer* last = heap_.back();
    heap_.pop_back();
    timer.heap_index = Timer::not_armed;
    if (last == &timer) {
      return;
    }
    place(index, last);
    sift_down(sift_up(index));
  }

 private:
  static bool earlier(const Timer* a, const Timer* b) noexcept {
    return a->due < b->due || (a->due == b->due && a->sequence < b->sequence);
  }

  void place(std::size_t index, Timer* timer) noexcept {
    heap_[index] = timer;
    timer->heap_index = index;
  }

  std::size_t sift_up(std::size_t index) noexcept {
    Timer* moving = heap_[index];
    while (index > 0) {
      const std::size_t parent = (index - 1) / 2;
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
    Timer* moving = heap_[index];
    const std::size_t count = heap_.size();
    for (;;) {
      std::size_t child = 2 * index + 1;
      if (child >= count) {
        break;
      }
      if (child + 1 < count && earlier(heap_[child + 1], heap_[child])) {
        ++child;
      }
      if (!earlier(heap_[child], moving)) {
        break;
      }
      place(index, heap_[child]);
      index = child;
    }
    place(index, moving);
  }

  std::vector<Timer*> heap_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace cosync::loop_detail
