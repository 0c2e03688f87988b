#include "cosync/request.hpp"

#include <algorithm>
#include <cstdio>
#include <span>
#include <string>

#include "cosync/impl/probes.hpp"
#include "loop/fd_poll.hpp"
#include "request/ring_wait.hpp"
#include "support/scope_guard.hpp"

namespace cosync::request {
namespace {

using impl::label;
using impl::RequestCore;
using impl::Scheduling;
using impl::scheduling_of;
using impl::Waiter;

constinit thread_local RequestStats t_stats __attribute__((tls_model("initial-exec")));

void wake_waiter(void* waiter) noexcept { static_cast<Waiter*>(waiter)->wake(); }

// Registers one waiter as the continuation of several requests and takes
// it off again when the wait ends, however it ends.
class ContinuationSet {
 public:
  ContinuationSet(std::span<RequestCore* const> requests, Waiter& waiter)
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
  std::span<RequestCore* const> requests_;
  Waiter& waiter_;
};

void count_early_resume() noexcept { ++t_stats.early_resumes; }

bool cancel_pending(const Scheduling* scheduling) noexcept {
  return scheduling != nullptr && scheduling->cancel_requested && !scheduling->cancel_delivered;
}

[[noreturn, gnu::noinline]] void deliver_cancel(Scheduling* scheduling) {
  scheduling->cancel_delivered = true;
  ++t_stats.cancellations_delivered;
  throw Cancelled("cosync: " + label(current()) + " was cancelled while waiting");
}

// A cancel is delivered once, at the first wait after it was requested.
inline void throw_if_cancel_pending(Scheduling* scheduling) {
  if (cancel_pending(scheduling)) [[unlikely]] {
    deliver_cancel(scheduling);
  }
}

// Suspends the current coroutine inside a wait: while `waiting` is set, a
// spawned coroutine's step does not schedule itself again, and a cancel
// schedules it. Reset also when the suspension throws (forced unwinding).
void suspend_in_wait(Scheduling* scheduling) {
  if (scheduling == nullptr) {
    yield_to_main();
    return;
  }
  scheduling->waiting = true;
  const support::ScopeExit stop_waiting([scheduling]() noexcept { scheduling->waiting = false; });
  yield_to_main();
}

[[noreturn, gnu::noinline]] void throw_nothing_can_wake() {
  throw UsageError(
      "cosync: a wait on the main context without deadline would block for ever: nothing "
      "on this thread's loop can end it (no timer, immediate, fd or signal wait, pending "
      "post, Completer or thread-pool job). Complete what it waits for first, give the "
      "wait a deadline, or have code that posts from another thread hold the loop open "
      "(Loop::hold_open)");
}

std::string describe_wait(const char* kind, int number) {
  return std::string("wait for ") + kind + " " + std::to_string(number);
}

// Arms one loop node (IoWait, SignalWait), waits for its callback, and
// disarms it however the wait ends. Returns false at the deadline.
template <class Node>
bool wait_for_node(Node& node, void (Loop::*arm)(Node&), void (Loop::*disarm)(Node&) noexcept,
                   Deadline deadline) {
  struct State {
    Waiter waiter;
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
  const support::ScopeExit disarm_on_exit([&loop, &node, disarm]() noexcept {
    if (node.armed) (loop.*disarm)(node);
  });
  return state.waiter.wait([&state] { return state.fired; }, deadline);
}

// The fd wait every blocking socket operation of a spawned coroutine makes
// when it has no deadline: the loop's callback schedules the coroutine's
// step itself, with no Waiter, timer or condition in between. Same
// semantics as wait_for_node: a pending cancel is delivered first, and a
// resume before the fd fired is an early resume.
int wait_io_scheduled(Loop& loop, Scheduling& scheduling, IoWait& io) {
  io.data = &scheduling;
  io.fn = [](IoWait* fired) {
    auto* owner = static_cast<Scheduling*>(fired->data);
    owner->loop->post_immediate(owner->step);
  };
  io.step = &scheduling.step;
  loop.wait_io(io);
  const support::ScopeExit disarm_on_exit([&loop, &io]() noexcept {
    if (io.armed) loop.cancel_io(io);
  });
  for (;;) {
    throw_if_cancel_pending(&scheduling);
    if (!io.armed) {
      return io.error;
    }
    suspend_in_wait(&scheduling);
    if (io.armed && !cancel_pending(&scheduling)) {
      count_early_resume();
    }
  }
}

// run_on_ring's counterpart of wait_io_scheduled, for a spawned coroutine
// without deadline: the completion schedules the coroutine's step itself.
// The operation is settled (RingOps::cancel) before the frame that owns it
// goes, however the wait ends.
int ring_op_scheduled(Scheduling& scheduling, loop::RingOps& ring, loop::RingOp& op) {
  op.data = &scheduling;
  op.fn = [](loop::RingOp* self) {
    auto* owner = static_cast<Scheduling*>(self->data);
    owner->loop->post_immediate(owner->step);
  };
  ring.submit(op);
  const support::ScopeExit settle([&ring, &op]() noexcept {
    if (!op.done) ring.cancel(op);
  });
  for (;;) {
    throw_if_cancel_pending(&scheduling);
    if (op.done) {
      return op.result;
    }
    suspend_in_wait(&scheduling);
    if (!op.done && !cancel_pending(&scheduling)) {
      count_early_resume();
    }
  }
}

[[gnu::noinline]] int ring_op_with_waiter(loop::RingOps& ring, loop::RingOp& op,
                                          Deadline deadline) {
  Waiter waiter;
  op.data = &waiter;
  op.fn = [](loop::RingOp* self) { static_cast<Waiter*>(self->data)->wake(); };
  ring.submit(op);
  const support::ScopeExit settle([&ring, &op]() noexcept {
    if (!op.done) ring.cancel(op);
  });
  if (!waiter.wait([&op] { return op.done; }, deadline)) {
    ring.cancel(op);
    return op.result == -ECANCELED ? -ETIMEDOUT : op.result;
  }
  return op.result;
}

// Out of line, so the common path's frame does not carry a Waiter: the
// frame stays on the suspended coroutine's stack, and a smaller one is
// fewer cold cache lines when a thousand coroutines take turns.
[[gnu::noinline]] int wait_io_with_waiter(IoWait& io, Deadline deadline) {
  if (!wait_for_node(io, &Loop::wait_io, &Loop::cancel_io, deadline)) {
    return ETIMEDOUT;
  }
  return io.error;
}

bool cached_ready(const Loop& loop, int fd, unsigned events) noexcept {
  return ((events & io_readable) != 0 && loop.io_ready(fd, io_readable)) ||
         ((events & io_writable) != 0 && loop.io_ready(fd, io_writable));
}

[[noreturn, gnu::noinline]] void throw_wait_failed(int status, int fd) {
  if (status == ETIMEDOUT) {
    throw TimedOut("cosync: " + describe_wait("fd", fd) + " timed out");
  }
  throw std::system_error(status, std::generic_category(),
                          "cosync: " + describe_wait("fd", fd) + " ended");
}

// Inline, so a wait that ended well costs one compare and no call.
inline void throw_unless_ready(int status, int fd) {
  if (status != 0) [[unlikely]] {
    throw_wait_failed(status, fd);
  }
}

// A cancelled coroutine may need a few rounds to unwind (it cancels its
// children, then waits for them); one that keeps yielding after its
// cancellation was delivered is given up on after this many.
constexpr int kMaxTeardownRounds = 10000;

// The loop's teardown hook (Loop::set_teardown_hook): a spawned coroutine
// is resumed only by the loop it was spawned on, so with that loop gone it
// would stay suspended for ever and its destructors would never run. Its
// request is cancelled and the loop's pending work run until it has
// unwound; one that does not finish (it caught its cancellation) is
// reported and cut off from the loop, so that a later cancel of its
// request (its last handle dropped) does not reach the loop.
void cancel_spawned_on(Loop& loop) noexcept {
  if (coroutine_stats().live == 0) {
    return;  // also when the thread's coroutine state is gone
  }
  std::vector<RequestCore*> spawned;
  try {
    for_each_coroutine([&loop, &spawned](const Coroutine& coroutine) {
      // for_each_coroutine hands out const references to coroutines that
      // are not const objects; cancelling needs the scheduling record.
      const Scheduling* scheduling = scheduling_of(const_cast<Coroutine&>(coroutine));
      if (scheduling != nullptr && scheduling->loop == &loop && scheduling->request != nullptr &&
          !scheduling->request->done()) {
        scheduling->request->add_ref();
        spawned.push_back(scheduling->request);
      }
    });
  } catch (...) {
    // Out of memory: those not collected stay suspended.
  }
  for (RequestCore* request : spawned) {
    request->cancel();
  }
  const auto unfinished = [&spawned] {
    return std::ranges::any_of(spawned,
                               [](const RequestCore* request) { return !request->done(); });
  };
  for (int round = 0; round < kMaxTeardownRounds && unfinished(); ++round) {
    if (!loop.run_pending_for_teardown()) {
      break;
    }
  }
  for (RequestCore* request : spawned) {
    if (!request->done()) {
      std::fprintf(stderr,
                   "cosync: a spawned coroutine did not finish when its loop was torn down "
                   "(it caught its cancellation); its stack stays suspended\n");
    }
  }
  for_each_coroutine([&loop](const Coroutine& coroutine) {
    Scheduling* scheduling = scheduling_of(const_cast<Coroutine&>(coroutine));
    if (scheduling != nullptr && scheduling->loop == &loop) {
      scheduling->loop = nullptr;
    }
  });
  for (RequestCore* request : spawned) {
    request->drop_ref();
  }
}

[[maybe_unused]] const bool g_teardown_hook_set = [] {
  Loop::set_teardown_hook(&cancel_spawned_on);
  return true;
}();

}  // namespace
}  // namespace cosync::request

namespace cosync {
namespace impl {

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

// A coroutine that a join handed to the loop after this wake was posted is
// resumed through its step, so that the join sees it finish.
void Waiter::on_immediate(Immediate* immediate) noexcept {
  const Waiter& waiter = *static_cast<Waiter*>(immediate->data);
  Coroutine& coroutine = *waiter.coroutine_;
  if (Scheduling* scheduling = scheduling_of(coroutine)) {
    waiter.loop_->post_immediate(scheduling->step);
  } else if (coroutine.state() == CoroutineState::suspended) {
    coroutine.resume();
  }
}

void Waiter::on_timer(Timer* timer) noexcept {
  auto* waiter = static_cast<Waiter*>(timer->data);
  waiter->timed_out_ = true;
  waiter->wake();
}

// Without a deadline, a loop that nothing can wake any more would sleep for
// ever: that is reported instead (Loop::can_wake). A loop running one of
// its callbacks is left to refuse the nested run itself.
bool Waiter::wait_on_main(Condition ready, Deadline deadline) {
  Loop& loop = this_loop();
  if (deadline != no_deadline) {
    return loop.run_until(ready, deadline);
  }
  while (!ready()) {
    if (!loop.in_callback() && !loop.can_wake()) {
      request::throw_nothing_can_wake();
    }
    loop.run_once(no_deadline);
  }
  return true;
}

bool Waiter::wait_in_coroutine(Condition ready, Deadline deadline) {
  coroutine_ = &current();
  loop_ = &this_loop();
  if (deadline != no_deadline) {
    timer_.due = deadline;
    loop_->add_timer(timer_);
  }
  for (;;) {
    // A join may hand a coroutine driven by hand to the loop mid-wait.
    Scheduling* scheduling = scheduling_of(*coroutine_);
    request::throw_if_cancel_pending(scheduling);
    if (ready()) {
      return true;
    }
    if (timed_out_ || (deadline != no_deadline && Clock::now() >= deadline)) {
      return false;
    }
    request::suspend_in_wait(scheduling);
    if (!request::cancel_pending(scheduling) && !timed_out_ && !ready()) {
      request::count_early_resume();
    }
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
  COSYNC_PROBE(request_complete, this, static_cast<int>(status));
  add_ref();
  if (const Observer observer = std::exchange(observer_, nullptr)) {
    observer(this, std::exchange(observer_data_, nullptr));
  }
  const Continuation fn = std::exchange(continuation_, nullptr);
  void* data = std::exchange(continuation_data_, nullptr);
  if (fn != nullptr) {
    fn(data);
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

// refs_ counts every handle too, so the reference this handle still holds
// keeps the request alive through the cancel; the analyzer cannot know
// that refs_ is at least 1 on entry.
void RequestCore::drop_handle() noexcept {
  if (--handles_ == 0 && !done()) {
    cancel();
  }
  drop_ref();  // NOLINT(clang-analyzer-cplusplus.NewDelete): this handle's reference is held
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

// The waiter's own reference keeps the request alive through the whole
// wait, the cancel after a timeout included: a continuation may drop the
// producer's reference, and the caller's handle may go with the wake. (The
// analyzer, not knowing that refs_ counts that reference, assumes the
// cancel may free the request.)
void RequestCore::wait(Deadline deadline) {
  if (done()) {
    return;
  }
  add_ref();
  const support::ScopeExit release([this]() noexcept { drop_ref(); });
  if (!wait_done(deadline)) {
    // Structured: the waiter does not outlive the work it gave up on, so
    // the cancelled producer finishes unwinding before TimedOut is thrown.
    cancel();
    // NOLINTNEXTLINE(clang-analyzer-cplusplus.NewDelete): the wait's reference is held
    wait_done(no_deadline);
    throw TimedOut("cosync: wait for a request timed out; the request was cancelled");
  }
}

bool RequestCore::wait_done(Deadline deadline) {
  Waiter waiter;
  set_continuation(&request::wake_waiter, &waiter);
  const support::ScopeExit clear([this, &waiter]() noexcept { clear_continuation(&waiter); });
  return waiter.wait([this] { return done(); }, deadline);
}

void throw_moved_from_request(const char* call) {
  throw UsageError(std::string("cosync: ") + call + " on a moved-from Request");
}

CompleterCore::CompleterCore(RequestCore& request)
    : request_(&request), loop_(&this_loop()), gate_(loop_->post_gate()) {
  request.add_ref();
  loop_->hold_open();
}

CompleterCore::CompleterCore(CompleterCore&& other) noexcept
    : request_(std::exchange(other.request_, nullptr)),
      loop_(std::exchange(other.loop_, nullptr)),
      gate_(std::move(other.gate_)) {}

CompleterCore& CompleterCore::operator=(CompleterCore&& other) noexcept {
  if (this != &other) {
    cancel_unused();
    request_ = std::exchange(other.request_, nullptr);
    loop_ = std::exchange(other.loop_, nullptr);
    gate_ = std::move(other.gate_);
  }
  return *this;
}

CompleterCore::~CompleterCore() { cancel_unused(); }

void CompleterCore::cancel_unused() noexcept {
  if (request_ == nullptr) {
    return;
  }
  try {
    deliver([](RequestCore& request) { request.cancel(); }, "cancel()");
  } catch (...) {
    // Out of memory for the closure: the request stays pending.
  }
}

// Every touch of the request's counts happens on the loop's thread (here,
// only the pointer crosses threads), so they need no atomics. The gate's
// mutex keeps the loop from going away during the post.
void CompleterCore::deliver(Completion complete, const char* call) {
  if (request_ == nullptr) {
    throw UsageError(std::string("cosync: Completer::") + call +
                     " on a completer that was already used or moved from");
  }
  RequestCore* request = std::exchange(request_, nullptr);
  Loop* loop = std::exchange(loop_, nullptr);
  const std::shared_ptr<PostGate> gate = std::move(gate_);
  const std::lock_guard lock(gate->mutex);
  if (!gate->open) {
    return;  // the loop's thread is gone, and everyone who could wait with it
  }
  loop->post([request, loop, complete = std::move(complete)] {
    try {
      complete(*request);
    } catch (...) {
      request->fail(std::current_exception());  // the value's constructor threw
    }
    loop->release_hold();
    request->drop_ref();
  });
}

int wait_io_status(int fd, unsigned events, Deadline deadline) {
  IoWait io;
  io.fd = fd;
  io.events = events;
  Loop& loop = this_loop();
  Scheduling* scheduling = in_coroutine() ? scheduling_of(current()) : nullptr;
  if (deadline == no_deadline && scheduling != nullptr && scheduling->loop == &loop) {
    return request::wait_io_scheduled(loop, *scheduling, io);
  }
  return request::wait_io_with_waiter(io, deadline);
}

}  // namespace impl

namespace request {

int run_on_ring(loop::RingOps& ring, loop::RingOp& op, Deadline deadline) {
  Loop& loop = this_loop();
  Scheduling* scheduling = in_coroutine() ? scheduling_of(current()) : nullptr;
  if (deadline == no_deadline && scheduling != nullptr && scheduling->loop == &loop) {
    return ring_op_scheduled(*scheduling, ring, op);
  }
  return ring_op_with_waiter(ring, op, deadline);
}

}  // namespace request

namespace impl {

// The loop's cache is edge-triggered: a direction stays marked ready until
// an operation reports EAGAIN. A caller of the raw wait need not follow
// that protocol (it may read part of what is there, or all of it), so the
// kernel decides: ready now returns at once, else the stale marks go and
// the wait is real.
int wait_ready_status(int fd, unsigned events, Deadline deadline) {
  Loop& loop = this_loop();
  if (request::cached_ready(loop, fd, events)) {
    if (loop::poll_ready_now(fd, events) != 0) {
      return 0;
    }
    if ((events & io_readable) != 0) loop.io_not_ready(fd, io_readable);
    if ((events & io_writable) != 0) loop.io_not_ready(fd, io_writable);
  }
  return wait_io_status(fd, events, deadline);
}

bool wait_all_of(std::span<RequestCore* const> requests, Deadline deadline) {
  Waiter waiter;
  const request::ContinuationSet continuations(requests, waiter);
  return waiter.wait(
      [requests] {
        return std::ranges::all_of(requests,
                                   [](const RequestCore* request) { return request->done(); });
      },
      deadline);
}

int wait_any_of(std::span<RequestCore* const> requests, Deadline deadline) {
  auto first_done = [requests] {
    const auto found =
        std::ranges::find_if(requests, [](const RequestCore* request) { return request->done(); });
    return found == requests.end() ? -1 : static_cast<int>(found - requests.begin());
  };
  Waiter waiter;
  const request::ContinuationSet continuations(requests, waiter);
  waiter.wait([&first_done] { return first_done() >= 0; }, deadline);
  return first_done();
}

}  // namespace impl

RequestStats request_stats() noexcept { return request::t_stats; }

void yield_to_loop() {
  struct Kick {
    Immediate immediate;
    impl::Waiter waiter;
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
  const support::ScopeExit withdraw([&loop, &kick]() noexcept {
    if (kick.immediate.queued) loop.cancel_immediate(kick.immediate);
  });
  kick.waiter.wait([&kick] { return kick.ran; }, no_deadline);
}

void sleep_until(Deadline deadline) {
  impl::Waiter waiter;
  waiter.wait([] { return false; }, deadline);
}

void wait_io(int fd, unsigned events, Deadline deadline) {
  request::throw_unless_ready(impl::wait_ready_status(fd, events, deadline), fd);
}

void wait_io_edge(int fd, unsigned events, Deadline deadline) {
  request::throw_unless_ready(impl::wait_io_status(fd, events, deadline), fd);
}

void wait_signal(int signo, Deadline deadline) {
  SignalWait signal;
  signal.signo = signo;
  if (!request::wait_for_node(signal, &Loop::watch_signal, &Loop::cancel_signal, deadline)) {
    throw TimedOut("cosync: " + request::describe_wait("signal", signo) + " timed out");
  }
}

}  // namespace cosync
