// cosync synchronisation (layer 5, with the requests) between coroutines
// on one loop: event, mutex, semaphore, bounded channel, and a task group
// for structured concurrency.
//
// Every wait takes a deadline and throws TimedOut when it passes; in a
// cancelled coroutine it throws Cancelled. Each one also works outside any
// coroutine, where it runs the thread's loop while it waits (R4). They are
// not thread-safe: all users share the loop's thread.
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>

#include "cosync/impl/sync.hpp"
#include "cosync/request.hpp"

namespace cosync {

// A manual-reset event: wait() returns once set() was called, until reset().
class COSYNC_API Event {
 public:
  // Sets the event and wakes every waiter.
  void set() noexcept;
  // Clears the event: later waits block until the next set().
  void reset() noexcept { set_ = false; }
  // True between set() and reset().
  bool is_set() const noexcept { return set_; }
  // Returns at once when set, else waits for set(). Throws TimedOut or Cancelled.
  void wait(Deadline deadline = no_deadline);

 private:
  bool set_ = false;
  impl::WaiterQueue waiters_;
};

// A mutex handed to waiters in arrival order.
class COSYNC_API Mutex {
 public:
  // An unlocked mutex.
  Mutex() = default;
  // Neither copied nor moved: queued waiters point into it.
  Mutex(const Mutex&) = delete;
  // Neither copied nor moved: queued waiters point into it.
  Mutex& operator=(const Mutex&) = delete;
  // Destroys the mutex; nobody may hold it or wait for it then.
  ~Mutex() = default;

  // Waits for the mutex and takes it. Throws TimedOut or Cancelled (not holding it).
  void lock(Deadline deadline = no_deadline);
  // Takes the mutex if it is free and nobody is queued for it; false otherwise.
  bool try_lock() noexcept;
  // Throws UsageError when the mutex is not locked.
  void unlock();
  // True while someone holds the mutex.
  bool locked() const noexcept { return locked_; }

 private:
  void pass_on() noexcept;

  bool locked_ = false;
  impl::WaiterQueue waiters_;
};

// A counting semaphore; acquirers are served in arrival order.
class COSYNC_API Semaphore {
 public:
  // A semaphore holding `initial` units.
  explicit Semaphore(std::size_t initial) noexcept : count_(initial) {}
  // Waits for a unit and takes it. Throws TimedOut or Cancelled (taking none).
  void acquire(Deadline deadline = no_deadline);
  // Takes a unit if one is free and nobody is queued for one; false otherwise.
  bool try_acquire() noexcept;
  // Returns a unit: to the first waiter if there is one, else to the count.
  void release() noexcept;
  // Units free now.
  std::size_t available() const noexcept { return count_; }

 private:
  std::size_t count_;
  impl::WaiterQueue waiters_;
};

// Thrown by Channel::send on a closed channel.
class COSYNC_API ChannelClosed : public std::runtime_error {
 public:
  // An error whose what() is `what`.
  using std::runtime_error::runtime_error;
};

// A bounded FIFO channel.
template <class T>
class Channel {
 public:
  // A channel buffering up to `capacity` values. Throws std::invalid_argument for 0.
  explicit Channel(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0) {
      throw std::invalid_argument("cosync: a channel needs a capacity of at least 1");
    }
  }

  // Waits while the channel is full. Throws ChannelClosed once closed,
  // TimedOut at the deadline, Cancelled in a cancelled coroutine.
  void send(T value, Deadline deadline = no_deadline) {
    wait_for(
        senders_, [this] { return closed_ || buffer_.size() < capacity_; }, deadline, "send");
    if (closed_) {
      throw ChannelClosed("cosync: send on a closed channel");
    }
    buffer_.push_back(std::move(value));
    receivers_.wake_front();
  }

  // Waits while the channel is empty; nullopt once closed and drained.
  // Throws TimedOut at the deadline, Cancelled in a cancelled coroutine.
  std::optional<T> receive(Deadline deadline = no_deadline) {
    wait_for(
        receivers_, [this] { return closed_ || !buffer_.empty(); }, deadline, "receive");
    if (buffer_.empty()) {
      return std::nullopt;
    }
    T value = std::move(buffer_.front());
    buffer_.pop_front();
    senders_.wake_front();
    return value;
  }

  // Wakes every waiter: receivers drain what is left, senders throw.
  void close() noexcept {
    closed_ = true;
    senders_.wake_all();
    receivers_.wake_all();
  }
  // True once close() was called.
  bool closed() const noexcept { return closed_; }
  // Values buffered and not yet received.
  std::size_t size() const noexcept { return buffer_.size(); }

 private:
  // The waiter stays queued until its condition holds, so a wake that finds
  // the condition false again loses nothing; a waiter that leaves passes
  // its wake on.
  template <class Ready>
  void wait_for(impl::WaiterQueue& queue, Ready ready, Deadline deadline, const char* call) {
    if (ready()) {
      return;
    }
    impl::Waiter waiter;
    if (!impl::wait_in_queue(queue, waiter, ready, deadline, impl::OnLeave::wake_next)) {
      throw TimedOut(std::string("cosync: channel ") + call + " timed out");
    }
  }

  std::size_t capacity_;
  std::deque<T> buffer_;
  bool closed_ = false;
  impl::WaiterQueue senders_;
  impl::WaiterQueue receivers_;
};

// Structured concurrency: children spawned through the group are waited
// for by join(). By default the first child that fails cancels the others,
// and join() rethrows its error once they have all finished; a group of
// independent children (a server's connections) keeps going instead, and
// join() still rethrows the first error. Finished children leave the group
// at once, so a long-lived group holds only the live ones. Destroying a
// group that was not joined cancels the unfinished children (without
// waiting: a destructor may run during unwinding, where suspending is
// refused). A group that outlives its loop (a static one) is safe: the
// loop's teardown at thread exit cancels and unwinds its children first.
class COSYNC_API TaskGroup {
 public:
  // What a child's failure does: cancel the other children, or nothing.
  enum class OnFailure { cancel_siblings, keep_going };

  // An empty group with the given failure policy.
  explicit TaskGroup(OnFailure on_failure = OnFailure::cancel_siblings) noexcept
      : on_failure_(on_failure) {}
  // Neither copied nor moved: its children point back at it.
  TaskGroup(const TaskGroup&) = delete;
  // Neither copied nor moved: its children point back at it.
  TaskGroup& operator=(const TaskGroup&) = delete;
  // Cancels the unfinished children without waiting for them.
  ~TaskGroup();

  // Launches a child (see cosync::spawn); the returned request can be
  // waited on as any other.
  template <class F, class... Args>
  auto spawn(F&& fn, Args&&... args) {
    return adopt(cosync::spawn(std::forward<F>(fn), std::forward<Args>(args)...));
  }
  // spawn() with Options (a stack size, a name).
  template <class F, class... Args>
  auto spawn(const Options& options, F&& fn, Args&&... args) {
    return adopt(cosync::spawn(options, std::forward<F>(fn), std::forward<Args>(args)...));
  }

  // Waits until every child has finished; on timeout cancels them, waits
  // for them to unwind and throws TimedOut.
  void join(Deadline deadline = no_deadline);
  // Cancels every unfinished child; they unwind when next resumed.
  void cancel() noexcept;
  // Children not finished yet.
  std::size_t size() const noexcept { return children_.size(); }

 private:
  template <class T>
  Request<T> adopt(Request<T> request) {
    track(impl::RequestAccess::core(request));
    return request;
  }
  void track(impl::RequestCore& child);
  bool wait_for_children(Deadline deadline);
  static void on_child_done(impl::RequestCore* child, void* data) noexcept;

  OnFailure on_failure_;
  std::unordered_set<impl::RequestCore*> children_;  // one handle each
  std::exception_ptr first_error_;
  impl::WaiterQueue joiners_;
};

}  // namespace cosync
