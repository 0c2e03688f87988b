#include "cosync/request.hpp"

#include <string>

namespace cosync {
namespace detail {
namespace {

thread_local RequestStats t_stats;

void wake_waiter(RequestCore* /*request*/, void* data) { static_cast<Waiter*>(data)->wake(); }

// Registers one waiter as the continuation of several requests and takes
// it off again when the wait ends, however it ends.
class ContinuationSet {
 public:
  ContinuationSet(const std::vector<RequestCore*>& requests, Waiter& waiter)
      : requests_(requests), waiter_(waiter) {
    for (RequestCore* request : requests_) {
      if (!request->done()) {
        request->set_continuation(&wake_waiter, &waiter_);
      }
    }
  }
  ContinuationSet(const ContinuationSet&) = delete;
  ContinuationSet& operator=(const ContinuationSet&) = delete;
  ~ContinuationSet() {
    for (RequestCore* request : requests_) {
      request->clear_continuation(&waiter_);
    }
  }

 private:
  const std::vector<RequestCore*>& requests_;
  Waiter& waiter_;
};

}  // namespace

Waiter::Waiter() noexcept {
  resume_.fn = &Waiter::on_immediate;
  resume_.data = this;
  timer_.fn = &Waiter::on_timer;
  timer_.data = this;
}

Waiter::~Waiter() {
  if (loop_ != nullptr) {
    if (resume_.queued) loop_->cancel_immediate(resume_);
    if (timer_.armed()) loop_->cancel_timer(timer_);
  }
  if (coroutine_ != nullptr) {
    Scheduling* scheduling = scheduling_of(*coroutine_);
    if (scheduling != nullptr && scheduling->waiting == this) {
      scheduling->waiting = nullptr;
    }
  }
}

// A waiting coroutine is resumed from the loop, never on the completer's
// stack; a waiting main context re-checks after every loop iteration.
void Waiter::wake() noexcept {
  if (coroutine_ == nullptr) {
    return;
  }
  Scheduling* scheduling = scheduling_of(*coroutine_);
  loop_->post_immediate(scheduling != nullptr ? scheduling->step : resume_);
}

void Waiter::on_immediate(Immediate* immediate) noexcept {
  auto* waiter = static_cast<Waiter*>(immediate->data);
  if (waiter->coroutine_->state() == CoroutineState::suspended) {
    waiter->coroutine_->resume();
  }
}

void Waiter::on_timer(Timer* timer) noexcept {
  auto* waiter = static_cast<Waiter*>(timer->data);
  waiter->timed_out_ = true;
  waiter->wake();
}

bool Waiter::wait_on_main(Condition ready, Deadline deadline) {
  return this_loop().run_until(ready, deadline);
}

bool Waiter::wait_in_coroutine(Condition ready, Deadline deadline) {
  coroutine_ = &current();
  loop_ = &this_loop();
  Scheduling* scheduling = scheduling_of(*coroutine_);
  if (deadline != no_deadline) {
    timer_.due = deadline;
    loop_->add_timer(timer_);
  }
  for (;;) {
    if (scheduling != nullptr && scheduling->cancel_requested && !scheduling->cancel_delivered) {
      scheduling->cancel_delivered = true;
      ++t_stats.cancellations_delivered;
      throw Cancelled("cosync: " + label(current()) + " was cancelled while waiting");
    }
    if (ready()) {
      return true;
    }
    if (timed_out_ || (deadline != no_deadline && Clock::now() >= deadline)) {
      return false;
    }
    if (scheduling != nullptr) {
      scheduling->waiting = this;
    }
    yield_to_main();
    if (scheduling != nullptr) {
      scheduling->waiting = nullptr;
    }
    const bool cancelling =
        scheduling != nullptr && scheduling->cancel_requested && !scheduling->cancel_delivered;
    if (!cancelling && !timed_out_ && !ready()) {
      ++t_stats.early_resumes;
    }
  }
}

void WaiterQueue::push(Waiter& waiter) noexcept {
  waiter.prev = tail_;
  waiter.next = nullptr;
  (tail_ != nullptr ? tail_->next : head_) = &waiter;
  tail_ = &waiter;
}

void WaiterQueue::remove(Waiter& waiter) noexcept {
  (waiter.prev != nullptr ? waiter.prev->next : head_) = waiter.next;
  (waiter.next != nullptr ? waiter.next->prev : tail_) = waiter.prev;
  waiter.prev = waiter.next = nullptr;
}

Waiter* WaiterQueue::pop() noexcept {
  Waiter* first = head_;
  if (first != nullptr) {
    remove(*first);
  }
  return first;
}

void WaiterQueue::wake_all() noexcept {
  for (Waiter* waiter = head_; waiter != nullptr; waiter = waiter->next) {
    waiter->wake();
  }
}

RequestCore::~RequestCore() = default;

void RequestCore::set_continuation(Continuation fn, void* data) {
  if (continuation_ != nullptr) {
    throw UsageError(
        "cosync: a request has one continuation and it is taken (is another "
        "context already waiting on this request?)");
  }
  continuation_ = fn;
  continuation_data_ = data;
}

void RequestCore::clear_continuation(void* data) noexcept {
  if (continuation_data_ == data) {
    continuation_ = nullptr;
    continuation_data_ = nullptr;
  }
}

// The observer and the continuation may drop the last handles; the extra
// reference keeps this alive until both have run.
void RequestCore::finish(Status status) noexcept {
  status_ = status;
  add_ref();
  if (const Continuation observer = std::exchange(observer_, nullptr)) {
    observer(this, std::exchange(observer_data_, nullptr));
  }
  const Continuation fn = std::exchange(continuation_, nullptr);
  void* data = std::exchange(continuation_data_, nullptr);
  if (fn != nullptr) {
    fn(this, data);
  }
  drop_ref();
}

void RequestCore::cancel() noexcept {
  if (!done()) {
    on_cancel();
  }
}

void RequestCore::on_cancel() noexcept { finish(Status::cancelled); }

void RequestCore::fail(std::exception_ptr error) noexcept {
  if (!done()) {
    error_ = std::move(error);
    finish(Status::failed);
  }
}

void RequestCore::finish_cancelled() noexcept {
  if (!done()) {
    finish(Status::cancelled);
  }
}

void RequestCore::drop_handle() noexcept {
  if (--handles_ == 0 && !done()) {
    cancel();
  }
  drop_ref();
}

void RequestCore::drop_ref() noexcept {
  if (--refs_ == 0) {
    delete this;
  }
}

void RequestCore::throw_unless_succeeded(const char* call) const {
  switch (status_) {
    case Status::pending:
      throw UsageError(std::string("cosync: ") + call + " of a request that is still pending");
    case Status::failed:
      std::rethrow_exception(error_);
    case Status::cancelled:
      throw Cancelled("cosync: the request was cancelled");
    case Status::succeeded:
      break;
  }
  if (taken_) {
    throw UsageError(std::string("cosync: ") + call +
                     " of a request whose value was already taken");
  }
}

void RequestCore::wait(Deadline deadline) {
  if (done()) {
    return;
  }
  Waiter waiter;
  bool finished = false;
  {
    add_ref();  // a continuation may drop the producer's reference
    struct Release {
      RequestCore* request;
      void* data;
      ~Release() {
        request->clear_continuation(data);
        request->drop_ref();
      }
    } release{this, &waiter};
    set_continuation(&wake_waiter, &waiter);
    finished = waiter.wait([this] { return done(); }, deadline);
  }
  if (!finished) {
    // Structured: the waiter does not outlive the work it gave up on, so
    // the cancelled producer finishes unwinding before TimedOut is thrown.
    cancel();
    wait(no_deadline);
    throw TimedOut("cosync: wait for a request timed out; the request was cancelled");
  }
}

}  // namespace detail

RequestStats request_stats() noexcept { return detail::t_stats; }

void yield_to_loop() {
  struct Kick {
    Immediate immediate;
    detail::Waiter waiter;
    bool ran = false;
  } kick;
  kick.immediate.data = &kick;
  kick.immediate.fn = [](Immediate* immediate) {
    auto* self = static_cast<Kick*>(immediate->data);
    self->ran = true;
    self->waiter.wake();
  };
  Loop& loop = this_loop();
  loop.post_immediate(kick.immediate);
  struct Withdraw {
    Loop& loop;
    Immediate& immediate;
    ~Withdraw() {
      if (immediate.queued) loop.cancel_immediate(immediate);
    }
  } withdraw{loop, kick.immediate};
  kick.waiter.wait([&kick] { return kick.ran; }, no_deadline);
}

void sleep_until(Deadline deadline) {
  detail::Waiter waiter;
  waiter.wait([] { return false; }, deadline);
}

namespace {

std::string describe_wait(const char* kind, int number) {
  return std::string("wait for ") + kind + " " + std::to_string(number);
}

// Arms one loop node (IoWait, SignalWait), waits for its callback, and
// disarms it however the wait ends. Returns false at the deadline.
template <class Node>
bool wait_for_node(Node& node, void (Loop::*arm)(Node&), void (Loop::*disarm)(Node&) noexcept,
                   Deadline deadline) {
  struct State {
    detail::Waiter waiter;
    bool fired = false;
  } state;
  node.data = &state;
  node.fn = [](Node* fired) {
    auto* owner = static_cast<State*>(fired->data);
    owner->fired = true;
    owner->waiter.wake();
  };
  Loop& loop = this_loop();
  (loop.*arm)(node);
  struct Disarm {
    Loop& loop;
    Node& node;
    void (Loop::*disarm)(Node&) noexcept;
    ~Disarm() {
      if (node.armed) (loop.*disarm)(node);
    }
  } guard{loop, node, disarm};
  return state.waiter.wait([&state] { return state.fired; }, deadline);
}

}  // namespace

namespace detail {

int wait_io_status(int fd, unsigned events, Deadline deadline) {
  IoWait io;
  io.fd = fd;
  io.events = events;
  if (!wait_for_node(io, &Loop::wait_io, &Loop::cancel_io, deadline)) {
    return ETIMEDOUT;
  }
  return io.error;
}

}  // namespace detail

void wait_io(int fd, unsigned events, Deadline deadline) {
  const int status = detail::wait_io_status(fd, events, deadline);
  if (status == ETIMEDOUT) {
    throw TimedOut("cosync: " + describe_wait("fd", fd) + " timed out");
  }
  if (status != 0) {
    throw std::system_error(status, std::generic_category(),
                            "cosync: " + describe_wait("fd", fd) + " ended");
  }
}

void wait_signal(int signo, Deadline deadline) {
  SignalWait signal;
  signal.signo = signo;
  if (!wait_for_node(signal, &Loop::watch_signal, &Loop::cancel_signal, deadline)) {
    throw TimedOut("cosync: " + describe_wait("signal", signo) + " timed out");
  }
}

bool wait_all(const std::vector<detail::RequestCore*>& requests, Deadline deadline) {
  detail::Waiter waiter;
  const detail::ContinuationSet continuations(requests, waiter);
  return waiter.wait(
      [&requests] {
        for (const detail::RequestCore* request : requests) {
          if (!request->done()) return false;
        }
        return true;
      },
      deadline);
}

int wait_any(const std::vector<detail::RequestCore*>& requests, Deadline deadline) {
  auto first_done = [&requests] {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (requests[i]->done()) return static_cast<int>(i);
    }
    return -1;
  };
  detail::Waiter waiter;
  const detail::ContinuationSet continuations(requests, waiter);
  waiter.wait([&first_done] { return first_done() >= 0; }, deadline);
  return first_done();
}

}  // namespace cosync
