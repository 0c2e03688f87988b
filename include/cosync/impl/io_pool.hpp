// Internals of cosync/pool.hpp: the job a ThreadPool queues, and the
// request state that waits for it. Not part of the API.
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "cosync/export.hpp"
#include "cosync/impl/request.hpp"
#include "cosync/loop.hpp"

namespace cosync::impl {

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
// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor): final, so never a base
class OffloadState final : public RequestState<R>, public OffloadRequestBase {
 public:
  OffloadState() = default;
  OffloadState(const OffloadState&) = delete;
  OffloadState& operator=(const OffloadState&) = delete;
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

}  // namespace cosync::impl
