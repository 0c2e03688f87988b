// cosync blocking-call pool (R5 for code that cannot be changed): a thread
// pool that runs a function on a worker thread while the calling coroutine
// waits for its result through an ordinary Request. The worker hands the
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

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "cosync/export.hpp"
#include "cosync/request.hpp"

namespace cosync {
namespace detail {

class OffloadJob;

// The request side of an offloaded call; it lives on the loop's thread.
class COSYNC_API OffloadRequestBase {
 public:
  OffloadJob* job = nullptr;  // cleared when the request stops waiting for it
};

// One call handed to the pool. The worker runs it; everything that touches
// the request happens on the owning loop's thread, reached through post.
class COSYNC_API OffloadJob {
 public:
  OffloadJob(const OffloadJob&) = delete;
  OffloadJob& operator=(const OffloadJob&) = delete;
  virtual ~OffloadJob();

  // Worker thread: claims a queued job; false when it was withdrawn.
  bool start() noexcept;
  // Worker thread: runs the function, keeps its result or exception.
  virtual void run() noexcept = 0;
  // Loop thread, after run(): completes the request, unless it was
  // cancelled meanwhile.
  virtual void deliver() noexcept = 0;
  // Loop thread: the pool shut down before running the function.
  void abandon() noexcept;

  // Loop thread, on cancellation: withdraws a job not started yet (true),
  // or asks a running one to complete its request as cancelled (false).
  bool withdraw() noexcept;

  // Loop thread: the request was destroyed; the job must not reach it.
  void detach() noexcept;

  // Loop thread, in submit: the loop that gets the result; it is held open
  // (Loop::hold_open) while the request waits for the job.
  void bind(Loop& owner);

  Loop* loop = nullptr;
  std::shared_ptr<PostGate> gate;

 protected:
  OffloadJob() = default;
  void attach(RequestCore* request, OffloadRequestBase* link) noexcept;
  RequestCore* request() const noexcept { return request_; }
  void unlink() noexcept;
  bool cancel_requested() const noexcept { return cancel_requested_; }

 private:
  enum class Phase : unsigned char { queued, running, withdrawn };
  std::atomic<Phase> phase_{Phase::queued};
  bool cancel_requested_ = false;  // loop thread only
  bool holds_loop_ = false;        // loop thread only
  RequestCore* request_ = nullptr;
  OffloadRequestBase* link_ = nullptr;
};

template <class R>
class OffloadState final : public RequestState<R>, public OffloadRequestBase {
 public:
  ~OffloadState() override {
    if (job != nullptr) job->detach();  // completed by hand (set_value) first
  }

 private:
  void on_cancel() noexcept override {
    if (job == nullptr) {
      this->finish_cancelled();
    } else if (job->withdraw()) {
      job->detach();
      this->finish_cancelled();
    }
  }
};

template <class F, class R>
class OffloadCall final : public OffloadJob {
 public:
  template <class G>
  OffloadCall(G&& fn, OffloadState<R>* state) : fn_(std::forward<G>(fn)) {
    attach(state, state);
  }

  // The callable and its captures are destroyed here, on the worker that
  // ran it, never later on whichever thread drops the job last.
  void run() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        (*fn_)();
      } else {
        value_.emplace((*fn_)());
      }
    } catch (...) {
      error_ = std::current_exception();
    }
    fn_.reset();
  }

  void deliver() noexcept override {
    auto* state = static_cast<OffloadState<R>*>(request());
    if (state == nullptr) return;
    unlink();
    if (cancel_requested()) {
      state->finish_cancelled();  // the result is dropped with the job
    } else if (error_) {
      state->fail(std::move(error_));
    } else if constexpr (std::is_void_v<R>) {
      state->succeed();
    } else {
      deliver_value(*state);
    }
  }

 private:
  void deliver_value(OffloadState<R>& state) noexcept {
    try {
      state.succeed(std::move(*value_));
    } catch (...) {
      state.fail(std::current_exception());
    }
  }

  using Stored = std::conditional_t<std::is_void_v<R>, char, R>;
  std::optional<std::decay_t<F>> fn_;
  std::optional<Stored> value_;
  std::exception_ptr error_;
};

}  // namespace detail

// A pool of worker threads for blocking calls; blocking_pool() is the
// process's own, used by offload(), File and resolve().
class COSYNC_API ThreadPool {
 public:
  // Starts `threads` workers (at least one); they block every signal, so
  // signals reach the loop threads that wait for them.
  explicit ThreadPool(std::size_t threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  // Stops accepting work, ends the requests of calls still queued (their
  // waiters get Cancelled), and joins the workers after their current call.
  ~ThreadPool();

  // Queues fn() and returns the request for its result at once; call from
  // a thread that runs a cosync loop (the request completes there).
  template <class F>
  Request<std::invoke_result_t<std::decay_t<F>&>> submit(F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    auto* state = new detail::OffloadState<R>();
    Request<R> request(state);
    enqueue(std::make_shared<detail::OffloadCall<std::decay_t<F>, R>>(std::forward<F>(fn), state));
    return request;
  }

  // threads is the number of workers.
  std::size_t threads() const noexcept { return workers_.size(); }
  // Calls queued and not yet started.
  std::size_t queued() const;

 private:
  void enqueue(std::shared_ptr<detail::OffloadJob> job);
  void stop_workers() noexcept;
  void work() noexcept;
  std::shared_ptr<detail::OffloadJob> next_job();

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<std::shared_ptr<detail::OffloadJob>> queue_;  // guarded by mutex_
  bool stopping_ = false;                                  // guarded by mutex_
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
