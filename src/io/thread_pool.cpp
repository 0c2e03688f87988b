#include <signal.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "cosync/pool.hpp"
#include "support/errors.hpp"

namespace cosync::io {
namespace {

using impl::OffloadJob;

// Runs `step` on the loop that submitted the job, if that loop still
// lives; otherwise the job is simply dropped here.
void post_to_owner(const std::shared_ptr<OffloadJob>& job, void (*step)(OffloadJob&)) noexcept {
  const std::lock_guard lock(job->gate->mutex);
  if (!job->gate->open) {
    return;
  }
  try {
    job->loop->post([job, step] { step(*job); });
  } catch (...) {
    // Out of memory for the closure: the waiter would hang, and nothing
    // can report it from a worker. Dying loudly beats a silent hang.
    support::fatal("out of memory handing a thread-pool result to its loop");
  }
}

void deliver_job(OffloadJob& job) { job.deliver(); }
void abandon_job(OffloadJob& job) { job.abandon(); }

std::size_t g_pool_size = 0;  // 0: not chosen yet
bool g_pool_started = false;
std::mutex g_pool_mutex;

std::size_t default_pool_size() {
  if (const char* text = std::getenv("COSYNC_POOL_THREADS")) {
    char* end = nullptr;
    const unsigned long value = std::strtoul(text, &end, 10);
    if (end != text && *end == '\0' && value > 0) {
      return value;
    }
  }
  return 4;
}

}  // namespace
}  // namespace cosync::io

namespace cosync {
namespace impl {

OffloadJob::~OffloadJob() = default;

void OffloadJob::attach(RequestCore* request, OffloadRequestBase* link) noexcept {
  request_ = request;
  link_ = link;
  link->job = this;
}

void OffloadJob::bind(Loop& owner) {
  loop = &owner;
  gate = owner.post_gate();
  owner.hold_open();
  holds_loop_ = true;
}

// Once the request no longer waits for the job, the job cannot wake the
// loop for anyone: the hold ends.
void OffloadJob::unlink() noexcept {
  if (holds_loop_) {
    loop->release_hold();
    holds_loop_ = false;
  }
  if (link_ != nullptr) {
    link_->job = nullptr;
  }
  request_ = nullptr;
  link_ = nullptr;
}

void OffloadJob::detach() noexcept { unlink(); }

bool OffloadJob::start() noexcept {
  Phase expected = Phase::queued;
  return phase_.compare_exchange_strong(expected, Phase::running, std::memory_order_acq_rel);
}

bool OffloadJob::withdraw() noexcept {
  Phase expected = Phase::queued;
  if (phase_.compare_exchange_strong(expected, Phase::withdrawn, std::memory_order_acq_rel)) {
    return true;
  }
  cancel_requested_ = true;
  return false;
}

// The pool took the job off its queue before any worker claimed it.
void OffloadJob::abandon() noexcept {
  RequestCore* waiting = request_;
  if (waiting == nullptr) {
    return;
  }
  unlink();
  waiting->finish_cancelled();
}

}  // namespace impl

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) {
    throw std::invalid_argument("cosync: a thread pool needs at least one thread");
  }
  // Workers inherit the mask of the thread that starts them: block every
  // signal while they start, so a process-directed signal is delivered to
  // a thread that waits for it (signalfd) rather than to a worker.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this] { work(); });
    }
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    stop_workers();
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

ThreadPool::~ThreadPool() {
  std::deque<std::shared_ptr<impl::OffloadJob>> abandoned;
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    abandoned.swap(queue_);
  }
  for (const auto& job : abandoned) {
    io::post_to_owner(job, &io::abandon_job);
  }
  stop_workers();
}

void ThreadPool::stop_workers() noexcept {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

std::size_t ThreadPool::queued() const {
  const std::lock_guard lock(mutex_);
  return queue_.size();
}

void ThreadPool::enqueue(std::shared_ptr<impl::OffloadJob> job) {
  job->bind(this_loop());
  {
    std::unique_lock lock(mutex_);
    if (stopping_) {
      lock.unlock();
      job->detach();  // not queued: the request must not point at it any more
      throw UsageError("cosync: submit to a thread pool that is shutting down");
    }
    queue_.push_back(std::move(job));
  }
  work_ready_.notify_one();
}

std::shared_ptr<impl::OffloadJob> ThreadPool::next_job() {
  std::unique_lock lock(mutex_);
  work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) {
    return nullptr;
  }
  auto job = std::move(queue_.front());
  queue_.pop_front();
  return job;
}

// A withdrawn job's request is already complete: it is dropped unrun.
void ThreadPool::work() noexcept {
  while (auto job = next_job()) {
    if (job->start()) {
      job->run();
      io::post_to_owner(job, &io::deliver_job);
    }
  }
}

ThreadPool& blocking_pool() {
  static ThreadPool* pool = [] {
    const std::lock_guard lock(io::g_pool_mutex);
    if (io::g_pool_size == 0) io::g_pool_size = io::default_pool_size();
    io::g_pool_started = true;
    static ThreadPool instance(io::g_pool_size);
    return &instance;
  }();
  return *pool;
}

void set_blocking_pool_size(std::size_t threads) {
  if (threads == 0) {
    throw std::invalid_argument("cosync: the blocking pool needs at least one thread");
  }
  const std::lock_guard lock(io::g_pool_mutex);
  if (io::g_pool_started) {
    throw UsageError("cosync: set_blocking_pool_size(" + std::to_string(threads) +
                     ") after the blocking pool started with " + std::to_string(io::g_pool_size) +
                     " threads");
  }
  io::g_pool_size = threads;
}

std::size_t blocking_pool_size() {
  const std::lock_guard lock(io::g_pool_mutex);
  return io::g_pool_size != 0 ? io::g_pool_size : io::default_pool_size();
}

}  // namespace cosync
