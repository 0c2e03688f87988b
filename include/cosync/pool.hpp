// cosync blocking-call pool (layer 6, with the I/O; R5 for code that cannot
// be changed): a thread pool that runs a function on a worker thread while
// the calling coroutine waits for its result through an ordinary Request. The worker hands the
// result back through the loop's thread-safe post, so the request completes
// (and its waiter resumes) on the loop's thread, as every request does.
//
//   std::string text = cosync::offload([&] { return slow_library_call(); });
//
// Cancelling the request (or its wait reaching its deadline) withdraws a
// function still queued: it never runs. One that already runs cannot be
// interrupted, so the request ends (as cancelled) only when it returns:
// the waiter never outlives work that may still use what it captured by
// reference. A deadline is therefore exact for queued calls and late by
// the rest of the call for running ones.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "cosync/export.hpp"
#include "cosync/impl/io_pool.hpp"
#include "cosync/request.hpp"

namespace cosync {

// A pool of worker threads for blocking calls; blocking_pool() is the
// process's own, used by offload(), File and resolve().
class COSYNC_API ThreadPool {
 public:
  // Starts `threads` workers (at least one); they block every signal, so
  // signals reach the loop threads that wait for them.
  explicit ThreadPool(std::size_t threads);
  // Neither copied nor moved: its workers point at it.
  ThreadPool(const ThreadPool&) = delete;
  // Neither copied nor moved: its workers point at it.
  ThreadPool& operator=(const ThreadPool&) = delete;
  // Stops accepting work, ends the requests of calls still queued (their
  // waiters get Cancelled), and joins the workers after their current call.
  ~ThreadPool();

  // Queues fn() and returns the request for its result at once; call from
  // a thread that runs a cosync loop (the request completes there).
  template <class F>
  Request<std::invoke_result_t<std::decay_t<F>&>> submit(F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    auto* state = new impl::OffloadState<R>();
    Request<R> request = impl::RequestAccess::adopt(state);
    enqueue(std::make_shared<impl::OffloadCall<std::decay_t<F>, R>>(std::forward<F>(fn), state));
    return request;
  }

  // threads is the number of workers.
  std::size_t threads() const noexcept { return workers_.size(); }
  // Calls queued and not yet started.
  std::size_t queued() const;

 private:
  void enqueue(std::shared_ptr<impl::OffloadJob> job);
  void stop_workers() noexcept;
  void work() noexcept;
  std::shared_ptr<impl::OffloadJob> next_job();

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<std::shared_ptr<impl::OffloadJob>> queue_;  // guarded by mutex_
  bool stopping_ = false;                                // guarded by mutex_
  std::vector<std::thread> workers_;
};

// The process's pool for blocking calls, created on first use with
// blocking_pool_size() workers and joined at exit.
COSYNC_API ThreadPool& blocking_pool();
// Its size: set_blocking_pool_size before first use, else the environment
// variable COSYNC_POOL_THREADS, else 4 (libuv's default). Setting it after
// the pool started throws UsageError; 0 is refused with invalid_argument.
COSYNC_API void set_blocking_pool_size(std::size_t threads);
// blocking_pool_size is the size blocking_pool() has, or will have when it
// starts.
COSYNC_API std::size_t blocking_pool_size();

// Runs fn() on the blocking pool and waits for its result (a coroutine
// suspends; outside coroutines the loop runs meanwhile). Exceptions thrown
// by fn are rethrown here; at the deadline the call is abandoned and
// TimedOut thrown.
template <class F>
auto offload(F&& fn, Deadline deadline = no_deadline) {
  return blocking_pool().submit(std::forward<F>(fn)).get(deadline);
}

}  // namespace cosync
