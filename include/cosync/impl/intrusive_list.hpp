// A doubly linked list threaded through its elements' own `prev`/`next`
// members: the waiter queues, the immediate queue and the coroutine registry
// all need O(1) removal of an element that knows it is queued, with no
// allocation on the hot path. Internal to cosync; not part of the API.
#pragma once

namespace cosync::impl {

// T has public `T* prev` and `T* next` members, null while T is unlisted.
// The list does not own its elements; an element is in at most one list
// through one pair of members.
template <class T>
class IntrusiveList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  T* front() const noexcept { return head_; }
  T* back() const noexcept { return tail_; }

  void push_back(T& node) noexcept {
    node.prev = tail_;
    node.next = nullptr;
    (tail_ != nullptr ? tail_->next : head_) = &node;
    tail_ = &node;
  }

  void push_front(T& node) noexcept {
    node.prev = nullptr;
    node.next = head_;
    (head_ != nullptr ? head_->prev : tail_) = &node;
    head_ = &node;
  }

  // `node` must be in this list.
  void remove(T& node) noexcept {
    (node.prev != nullptr ? node.prev->next : head_) = node.next;
    (node.next != nullptr ? node.next->prev : tail_) = node.prev;
    node.prev = node.next = nullptr;
  }

  T* pop_front() noexcept {
    T* first = head_;
    if (first != nullptr) remove(*first);
    return first;
  }

  // Makes `first` (in this list) the head; what stood before it moves, in
  // order, behind the old tail.
  void rotate_to_front(T& first) noexcept {
    if (head_ == &first) return;
    T* old_head = head_;
    T* old_last = first.prev;
    old_last->next = nullptr;
    first.prev = nullptr;
    tail_->next = old_head;
    old_head->prev = tail_;
    head_ = &first;
    tail_ = old_last;
  }

  // Calls fn(T&) for each element, front to back. fn may remove the element
  // it is given, but no other.
  template <class F>
  void for_each(F&& fn) const {
    for (T* node = head_; node != nullptr;) {
      T* next = node->next;
      fn(*node);
      node = next;
    }
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

}  // namespace cosync::impl
